"""An LSTM reading each MNIST digit row by row (28 steps of 28 pixels), trained with fit.

    python examples/mnist_rnn.py --data-dir /work/shared/data/mnist
    python examples/mnist_rnn.py --data-dir DIR --epochs 6 --units 128

LSTM(128) -> Dense(10) on the logits; Adam 1e-3, batch 64, sparse softmax cross entropy.
With only the t10k files the first 8,000 images train and the last 2,000 test (the split
of ``examples/mnist.py``).  Prints the test accuracy after each epoch.
"""

import argparse
import os
import sys
import time

import numpy as np

import tapegrad as tg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mnist import load_arrays  # noqa: E402


def create_model(units=128):
    return tg.Sequential([
        tg.layers.LSTM(units, input_shape=(28, 28)),
        tg.layers.Dense(10),
    ], name="mnist_lstm")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="directory of MNIST IDX files")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-size", type=int, default=None)
    parser.add_argument("--eval-size", type=int, default=None)
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2))
    args = parser.parse_args(argv)

    tg.random.set_seed(args.seed)
    (x_train, y_train), (x_test, y_test), source = load_arrays(args.data_dir, args.train_size,
                                                           args.eval_size)
    # (n, 28, 28, 1) images -> (n, 28 time steps, 28 features)
    x_train = x_train.reshape(len(x_train), 28, 28)
    x_test = x_test.reshape(len(x_test), 28, 28)
    print(f"data: {source}: {len(x_train)} train, {len(x_test)} test images")

    model = create_model(args.units)
    model.compile(optimizer=tg.optimizers.Adam(args.learning_rate),
                  loss=tg.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        validation_data=(x_test, y_test), verbose=args.verbose)
    elapsed = time.perf_counter() - start
    best = float(np.max(history.history["val_accuracy"]))
    print(f"{len(history.epoch)} epochs in {elapsed:.1f} s; test accuracy per epoch: "
          + ", ".join(f"{a:.4f}" for a in history.history["val_accuracy"])
          + f"; best {best:.4f}")
    return history.history


if __name__ == "__main__":
    main()
