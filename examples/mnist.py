"""The guide's ``mnist_eager`` example: a CNN (or an MLP) trained on MNIST with Adam.

    python examples/mnist.py               # full MNIST if cached, else the shipped slice
    python examples/mnist.py --data-dir ../shared/data/mnist --epochs 3
    python examples/mnist.py --model mlp --epochs 5 --logdir /tmp/logs --checkpoint-dir /tmp/ck

``--data-dir`` reads IDX files (gzipped or not).  A directory with all four files gives
the standard 60,000/10,000 split; one holding only the test files (``t10k-*``) is split
into its first ``--train-size`` images (default 8,000) for training and its last
``--eval-size`` (default 2,000) for evaluation.

CNN: Conv2D 5x5x32 (same, relu) -> MaxPool 2 -> Conv2D 5x5x64 (same, relu) -> MaxPool 2
-> Flatten -> Dense 1024 (relu) -> Dropout 0.4 -> Dense 10.  MLP: Dense 128 (relu) ->
Dense 10.  Adam, batch 64, sparse softmax cross entropy; per epoch it reports the
training loss/accuracy, the evaluation loss/accuracy and the time.
"""

import argparse
import os
import sys
import time

import numpy as np

import tapegrad as tg

T10K_TRAIN, T10K_EVAL = 8000, 2000


def create_model(kind):
    layers = tg.layers
    if kind == "cnn":
        return tg.Sequential([
            layers.Conv2D(32, 5, padding="same", activation="relu", input_shape=(28, 28, 1)),
            layers.MaxPooling2D((2, 2), (2, 2), padding="same"),
            layers.Conv2D(64, 5, padding="same", activation="relu"),
            layers.MaxPooling2D((2, 2), (2, 2), padding="same"),
            layers.Flatten(),
            layers.Dense(1024, activation="relu"),
            layers.Dropout(0.4),
            layers.Dense(10),
        ], name="mnist_cnn")
    if kind == "mlp":
        return tg.Sequential([
            layers.Flatten(input_shape=(28, 28, 1)),
            layers.Dense(128, activation="relu"),
            layers.Dense(10),
        ], name="mnist_mlp")
    raise ValueError(f"unknown model {kind!r}; expected 'cnn' or 'mlp'")


def load_arrays(data_dir, train_size, eval_size):
    """``(x_train, y_train), (x_eval, y_eval), description`` as float32 NHWC / int32."""
    mnist = tg.datasets.mnist
    if data_dir is not None:
        try:
            (x_train, y_train), (x_eval, y_eval) = mnist.load_data(data_dir)
            source = f"{data_dir} (train/test files)"
        except (OSError, ValueError):
            images, labels = mnist.load_split("test", data_dir)
            n_train = T10K_TRAIN if train_size is None else train_size
            n_eval = T10K_EVAL if eval_size is None else eval_size
            if n_train + n_eval > len(images):
                raise SystemExit(f"--train-size {n_train} + --eval-size {n_eval} exceed the "
                                 f"{len(images)} test images in {data_dir}") from None
            x_train, y_train = images[:n_train], labels[:n_train]
            x_eval, y_eval = images[len(images) - n_eval:], labels[len(labels) - n_eval:]
            source = (f"{data_dir} (test files only: first {n_train} train, "
                      f"last {n_eval} evaluate)")
    else:
        data = mnist.load_data_or_slice()
        (x_train, y_train), (x_eval, y_eval) = data
        source = data.source
    if train_size is not None:
        x_train, y_train = x_train[:train_size], y_train[:train_size]
    if eval_size is not None:
        x_eval, y_eval = x_eval[len(x_eval) - eval_size:], y_eval[len(y_eval) - eval_size:]
    return ((mnist.to_float_images(x_train), y_train.astype(np.int32)),
            (mnist.to_float_images(x_eval), y_eval.astype(np.int32)), source)


def loss_fn(logits, labels):
    return tg.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)


def train_one_epoch(model, optimizer, dataset, step_counter, log_interval, progress):
    """One pass over ``dataset``; returns ``(mean loss, accuracy)``."""
    avg_loss = tg.metrics.Mean("loss")
    accuracy = tg.metrics.Accuracy("accuracy")
    for images, labels in progress(dataset):
        with tg.GradientTape() as tape:
            logits = model(images, training=True)
            loss_value = loss_fn(logits, labels)
        variables = model.trainable_variables
        grads = tape.gradient(loss_value, variables)
        optimizer.apply_gradients(zip(grads, variables), global_step=step_counter)
        avg_loss(loss_value)
        accuracy(labels, tg.argmax(logits, axis=1))
        if log_interval and int(step_counter.numpy()) % log_interval == 0:
            tg.summary.scalar("loss", loss_value)
            tg.summary.scalar("accuracy", accuracy.result())
    return float(avg_loss.result()), float(accuracy.result())


def evaluate(model, dataset):
    avg_loss = tg.metrics.Mean("loss")
    accuracy = tg.metrics.Accuracy("accuracy")
    for images, labels in dataset:
        logits = model(images, training=False)
        avg_loss(loss_fn(logits, labels))
        accuracy(labels, tg.argmax(logits, axis=1))
    return float(avg_loss.result()), float(accuracy.result())


def _progress_factory(enabled, total):
    if not enabled:
        return lambda iterable: iterable
    from tqdm import tqdm

    return lambda iterable: tqdm(iterable, total=total, leave=False, unit="batch",
                                 file=sys.stderr)


class _NullContext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="directory of MNIST IDX files")
    parser.add_argument("--model", choices=("cnn", "mlp"), default="cnn")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--train-size", type=int, default=None)
    parser.add_argument("--eval-size", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--logdir", default=None, help="write TensorBoard summaries here")
    parser.add_argument("--log-interval", type=int, default=10,
                        help="steps between training summaries (with --logdir)")
    parser.add_argument("--checkpoint-dir", default=None,
                        help="save a checkpoint per epoch here (and resume from the latest)")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    args = parser.parse_args(argv)
    if args.epochs < 0 or args.batch_size <= 0:
        parser.error("--epochs must be >= 0 and --batch-size > 0")

    tg.random.set_seed(args.seed)
    (x_train, y_train), (x_eval, y_eval), source = load_arrays(
        args.data_dir, args.train_size, args.eval_size)
    print(f"data: {source}: {len(x_train)} train, {len(x_eval)} eval images")

    train_ds = (tg.data.Dataset.from_tensor_slices((x_train, y_train))
                .shuffle(len(x_train), seed=args.seed).batch(args.batch_size).prefetch(2))
    eval_ds = tg.data.Dataset.from_tensor_slices((x_eval, y_eval)).batch(500)

    model = create_model(args.model)
    optimizer = tg.optimizers.Adam(args.learning_rate)
    step_counter = tg.train.get_or_create_global_step()

    checkpoint = checkpoint_prefix = None
    if args.checkpoint_dir:
        checkpoint = tg.train.Checkpoint(model=model, optimizer=optimizer,
                                         step_counter=step_counter)
        checkpoint_prefix = os.path.join(args.checkpoint_dir, "ckpt")
        latest = tg.train.latest_checkpoint(args.checkpoint_dir)
        if latest:
            checkpoint.restore(latest)
            print(f"restored {latest} at step {int(step_counter.numpy())}")

    writer = tg.summary.create_file_writer(args.logdir) if args.logdir else None
    writer_scope = writer.as_default() if writer is not None else _NullContext()
    log_interval = args.log_interval if writer is not None else 0
    progress = _progress_factory(not args.no_progress,
                                 -(-len(x_train) // args.batch_size))

    history = []
    with writer_scope, tg.summary.always_record_summaries():
        for epoch in range(1, args.epochs + 1):
            start = time.perf_counter()
            train_loss, train_acc = train_one_epoch(model, optimizer, train_ds, step_counter,
                                                    log_interval, progress)
            train_time = time.perf_counter() - start
            eval_loss, eval_acc = evaluate(model, eval_ds)
            if writer is not None:
                tg.summary.scalar("eval/loss", eval_loss)
                tg.summary.scalar("eval/accuracy", eval_acc)
                writer.flush()
            print(f"epoch {epoch}: train loss {train_loss:.4f} acc {train_acc:.4f} | "
                  f"eval loss {eval_loss:.4f} acc {eval_acc:.4f} | "
                  f"{train_time:.2f} s ({len(x_train) / train_time:.0f} images/s)",
                  flush=True)
            history.append({"epoch": epoch, "train_loss": train_loss, "train_accuracy": train_acc,
                            "eval_loss": eval_loss, "eval_accuracy": eval_acc,
                            "train_seconds": train_time})
            if checkpoint is not None:
                print(f"saved {checkpoint.save(checkpoint_prefix)}")
    return history


if __name__ == "__main__":
    main()
