"""The guide's MNIST CNN trained with Keras' ``compile``/``fit`` instead of a hand-written loop.

    python examples/mnist_fit.py --data-dir /work/shared/data/mnist
    python examples/mnist_fit.py --data-dir DIR --epochs 3 --workdir /tmp/mnist_fit
    python examples/mnist_fit.py --data-dir DIR --compare-loop   # fit's overhead per epoch

Same model, data split and recipe as ``examples/mnist.py`` (Adam 1e-3, batch 64, 3
epochs; a directory with only the t10k files gives its first 8,000 images to train and
its last 2,000 to test).  ``fit`` holds out ``--validation-split`` of the training
images, shows a progress bar, keeps the best weights (ModelCheckpoint), stops early
when the validation loss stalls (EarlyStopping) and writes TensorBoard logs.
``--compare-loop`` times one epoch of ``fit`` against one epoch of the hand-written
loop of ``examples/mnist.py`` on the same batches, alternating, and prints both.
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np

import tapegrad as tg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mnist import create_model, load_arrays  # noqa: E402


def build(learning_rate):
    model = create_model("cnn")
    model.compile(optimizer=tg.optimizers.Adam(learning_rate),
                  loss=tg.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def compare_loop(x, y, batch_size, learning_rate, rounds):
    """Seconds per epoch of fit and of the hand-written loop (same batches, alternated)."""
    def hand_loop(model):
        optimizer = model.optimizer
        loss_fn = model.compiled_loss
        for start in range(0, len(x), batch_size):
            images = tg.convert_to_tensor(x[start:start + batch_size])
            labels = tg.convert_to_tensor(y[start:start + batch_size])
            with tg.GradientTape() as tape:
                logits = model(images, training=True)
                loss_value, _ = loss_fn(labels, logits, None)
            variables = model.trainable_variables
            grads = tape.gradient(loss_value, variables)
            optimizer.apply_gradients(zip(grads, variables))

    model = build(learning_rate)
    times = {"fit": [], "loop": []}
    for _ in range(rounds):
        start = time.perf_counter()
        hand_loop(model)
        times["loop"].append(time.perf_counter() - start)
        start = time.perf_counter()
        model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
        times["fit"].append(time.perf_counter() - start)
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="directory of MNIST IDX files")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--validation-split", type=float, default=0.1)
    parser.add_argument("--patience", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-size", type=int, default=None)
    parser.add_argument("--eval-size", type=int, default=None)
    parser.add_argument("--workdir", default=None,
                        help="checkpoints and TensorBoard logs go here (default: a temp dir)")
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    parser.add_argument("--compare-loop", action="store_true",
                        help="time fit against the hand-written loop instead of training")
    parser.add_argument("--rounds", type=int, default=3, help="epochs per side for "
                        "--compare-loop")
    args = parser.parse_args(argv)

    tg.random.set_seed(args.seed)
    (x_train, y_train), (x_test, y_test), source = load_arrays(args.data_dir, args.train_size,
                                                           args.eval_size)
    print(f"data: {source}: {len(x_train)} train, {len(x_test)} test images")

    if args.compare_loop:
        times = compare_loop(x_train, y_train, args.batch_size, args.learning_rate, args.rounds)
        fit_t, loop_t = np.array(times["fit"]), np.array(times["loop"])
        print(f"hand-written loop: {loop_t.mean():.3f} s/epoch (min {loop_t.min():.3f}, "
              f"max {loop_t.max():.3f})")
        print(f"fit:               {fit_t.mean():.3f} s/epoch (min {fit_t.min():.3f}, "
              f"max {fit_t.max():.3f})")
        print(f"fit overhead (min vs min): {100 * (fit_t.min() / loop_t.min() - 1):+.1f}%")
        return times

    workdir = args.workdir or tempfile.mkdtemp(prefix="mnist_fit_")
    model = build(args.learning_rate)
    callbacks = [
        tg.callbacks.ModelCheckpoint(os.path.join(workdir, "best"), monitor="val_loss",
                                     save_best_only=True, save_weights_only=True),
        tg.callbacks.EarlyStopping(monitor="val_loss", patience=args.patience,
                                   restore_best_weights=True),
        tg.callbacks.TensorBoard(os.path.join(workdir, "logs")),
    ]
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        validation_split=args.validation_split, callbacks=callbacks,
                        verbose=args.verbose)
    elapsed = time.perf_counter() - start
    test_loss, test_acc = model.evaluate(x_test, y_test, batch_size=500, verbose=0)
    print(f"trained {len(history.epoch)} epochs in {elapsed:.1f} s; "
          f"test loss {test_loss:.4f}, test accuracy {test_acc:.4f}")
    print(f"checkpoints and TensorBoard logs in {workdir}")
    return {"history": history.history, "test_loss": test_loss, "test_accuracy": test_acc}


if __name__ == "__main__":
    main()
