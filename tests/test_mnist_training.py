"""Training on real MNIST digits through examples/mnist.py.

The digits come from ``../shared/data/mnist/`` (the MNIST test set: the first 8,000
images train, the last 2,000 evaluate); without that folder these tests skip.  The
default suite runs short real-data runs; the full accuracy targets are ``slow``.
"""

import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "mnist"))
HAVE_DATA = os.path.exists(os.path.join(DATA_DIR, "t10k-images-idx3-ubyte.gz"))

needs_data = pytest.mark.skipif(not HAVE_DATA, reason=f"no MNIST IDX files in {DATA_DIR}")


def _load_example():
    spec = importlib.util.spec_from_file_location(
        "tapegrad_example_mnist", os.path.join(ROOT, "examples", "mnist.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(*args):
    return _load_example().main(["--data-dir", DATA_DIR, "--no-progress", *args])


@needs_data
def test_mlp_learns_real_digits_quickly():
    history = _run("--model", "mlp", "--epochs", "2")
    accuracies = [h["eval_accuracy"] for h in history]
    # Chance is 10%; two epochs on 8,000 digits already give about 90%.
    assert accuracies[-1] >= 0.85, accuracies
    assert history[-1]["train_loss"] < history[0]["train_loss"]


@needs_data
def test_cnn_learns_real_digits_quickly():
    history = _run("--model", "cnn", "--epochs", "1", "--train-size", "1500",
                   "--eval-size", "500")
    assert history[0]["eval_accuracy"] >= 0.75, history


@needs_data
def test_example_checkpoint_and_summaries(tmp_path):
    ckpt = tmp_path / "ckpt"
    logs = tmp_path / "logs"
    first = _run("--model", "mlp", "--epochs", "1", "--train-size", "640", "--eval-size",
                 "200", "--checkpoint-dir", str(ckpt), "--logdir", str(logs))
    assert any(name.startswith("ckpt-1") for name in os.listdir(ckpt))
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(logs))
    # A second run resumes from the checkpoint: its first epoch starts from trained weights.
    second = _run("--model", "mlp", "--epochs", "1", "--train-size", "640", "--eval-size",
                  "200", "--checkpoint-dir", str(ckpt))
    assert second[0]["train_loss"] < first[0]["train_loss"]


@pytest.mark.slow
@needs_data
def test_cnn_reaches_98_percent_in_three_epochs():
    history = _run("--model", "cnn", "--epochs", "3")
    assert max(h["eval_accuracy"] for h in history) >= 0.98, history


@pytest.mark.slow
@needs_data
def test_mlp_reaches_93_percent_in_five_epochs():
    history = _run("--model", "mlp", "--epochs", "5")
    assert max(h["eval_accuracy"] for h in history) >= 0.93, history
