"""Training on real MNIST digits through examples/mnist.py.

The digits come from ``../shared/data/mnist/`` (the MNIST test set: the first 8,000
images train, the last 2,000 evaluate); without that folder the ``mnist_dir`` fixture
skips.  The default suite runs short real-data runs; the full accuracy targets are
``slow``.
"""

import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load_example():
    spec = importlib.util.spec_from_file_location(
        "tapegrad_example_mnist", os.path.join(ROOT, "examples", "mnist.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(data_dir, *args):
    return _load_example().main(["--data-dir", data_dir, "--no-progress", *args])


def test_mlp_learns_real_digits_quickly(mnist_dir):
    history = _run(mnist_dir, "--model", "mlp", "--epochs", "2", "--train-size", "2000",
                   "--eval-size", "1000")
    accuracies = [h["eval_accuracy"] for h in history]
    # Chance is 10%; two epochs on 2,000 digits give about 88%.
    assert accuracies[-1] >= 0.8, accuracies
    assert history[-1]["train_loss"] < history[0]["train_loss"]


def test_cnn_learns_real_digits_quickly(mnist_dir):
    history = _run(mnist_dir, "--model", "cnn", "--epochs", "1", "--train-size", "960",
                   "--eval-size", "500")
    # Chance is 10%; 15 Adam steps of the CNN give about 70%.
    assert history[0]["eval_accuracy"] >= 0.5, history


def test_example_checkpoint_and_summaries(mnist_dir, tmp_path):
    ckpt = tmp_path / "ckpt"
    logs = tmp_path / "logs"
    small = ("--model", "mlp", "--epochs", "1", "--train-size", "640", "--eval-size", "200")
    first = _run(mnist_dir, *small, "--checkpoint-dir", str(ckpt), "--logdir", str(logs))
    assert any(name.startswith("ckpt-1") for name in os.listdir(ckpt))
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(logs))
    # A second run resumes from the checkpoint: its first epoch starts from trained weights.
    second = _run(mnist_dir, *small, "--checkpoint-dir", str(ckpt))
    assert second[0]["train_loss"] < first[0]["train_loss"]


@pytest.mark.slow
def test_cnn_reaches_98_percent_in_three_epochs(mnist_dir):
    history = _run(mnist_dir, "--model", "cnn", "--epochs", "3")
    assert max(h["eval_accuracy"] for h in history) >= 0.98, history


@pytest.mark.slow
def test_mlp_reaches_93_percent_in_five_epochs(mnist_dir):
    history = _run(mnist_dir, "--model", "mlp", "--epochs", "5")
    assert max(h["eval_accuracy"] for h in history) >= 0.93, history
