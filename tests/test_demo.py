"""``python -m tapegrad.demo`` with a tiny budget (--quick)."""

import os
import re
import struct
import subprocess
import sys

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import demo


def _write_idx(path, array):
    # IDX: two zero bytes, type code 0x08 (uint8), number of dims, big-endian sizes.
    with open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 0x08, array.ndim))
        f.write(struct.pack(">" + "I" * array.ndim, *array.shape))
        f.write(np.ascontiguousarray(array, dtype=np.uint8).tobytes())


@pytest.fixture(scope="module")
def slice_arrays():
    return tg.datasets.mnist.load_slice()


def test_quick_run_in_process(capsys, slice_arrays):
    results = demo.main(["--quick", "--model", "mlp", "--epochs", "3", "--no-progress"])
    out = capsys.readouterr().out

    np.testing.assert_array_equal(results["hello"], [[4.0]])
    assert "hello, [[4.]]" in out
    assert results["fizzbuzz"] == 15
    assert "FizzBuzz 1 2 Fizz 4 Buzz Fizz 7 8 Fizz Buzz 11 Fizz 13 14" in out

    grads = results["gradients"]
    assert grads["square"] == (6.0, 2.0, None)
    assert grads["tanh4"] == pytest.approx(grads["tanh4_exact"], rel=1e-9)

    custom = results["custom_gradients"]
    assert custom["naive"][0] == 0.5 and np.isnan(custom["naive"][1])
    assert custom["custom"] == (0.5, 1.0)
    np.testing.assert_allclose(custom["clipped"], [0.5 ** 0.5] * 2, rtol=1e-6)

    regression = results["linear_regression"]
    assert regression["final_loss"] < 1.2
    assert abs(regression["W"] - 3) < 0.2 and abs(regression["B"] - 2) < 0.25

    mnist = results["mnist"]
    assert [h["epoch"] for h in mnist["history"]] == [1, 2, 3]
    losses = [h["loss"] for h in mnist["history"]]
    assert losses[0] > losses[1] > losses[2]
    # Three epochs on 512 real digits: far above chance (0.1).
    assert mnist["test_accuracy"] > 0.6
    assert re.search(r"test accuracy: 0\.\d{4}", out)
    assert "512 training, 256 test images" in out


def test_tanh_fourth_derivative_closed_form():
    # A 7-point central stencil for the 4th derivative, error O(h^4), in float64.
    x, h = 0.5, 1e-2
    c = np.array([-1 / 6, 2, -13 / 2, 28 / 3, -13 / 2, 2, -1 / 6])
    stencil = np.sum(c * np.tanh(x + h * np.arange(-3, 4))) / h ** 4
    assert demo.tanh_fourth_derivative_exact(x) == pytest.approx(stencil, rel=1e-5)


def test_module_entry_point_with_progress_bar():
    proc = subprocess.run([sys.executable, "-m", "tapegrad.demo", "--quick"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "== MNIST CNN on real digits ==" in proc.stdout
    assert re.search(r"epoch 1: loss \d+\.\d+, train accuracy 0\.\d+, test accuracy 0\.\d+",
                     proc.stdout)
    assert "epoch 1/1" in proc.stderr  # the tqdm bar
    assert re.search(r"done in \d+\.\d s", proc.stdout)


def test_data_dir_with_all_four_files(tmp_path, capsys, slice_arrays):
    (x_train, y_train), (x_test, y_test) = slice_arrays
    for name, array in (("train-images-idx3-ubyte", x_train[:300]),
                        ("train-labels-idx1-ubyte", y_train[:300]),
                        ("t10k-images-idx3-ubyte", x_test[:100]),
                        ("t10k-labels-idx1-ubyte", y_test[:100])):
        _write_idx(tmp_path / name, array)
    train, test, source = demo.load_mnist(str(tmp_path), 1000, 1000)
    assert source == str(tmp_path)
    assert train[0].shape == (300, 28, 28, 1) and test[0].shape == (100, 28, 28, 1)
    np.testing.assert_array_equal(train[1], y_train[:300])
    np.testing.assert_allclose(train[0][..., 0], x_train[:300] / 255.0, rtol=1e-6)


def test_data_dir_with_test_files_only(tmp_path, capsys, slice_arrays):
    _, (x_test, y_test) = slice_arrays
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", x_test[:500])
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", y_test[:500])
    results = demo.main(["--data-dir", str(tmp_path), "--model", "mlp", "--epochs", "1",
                         "--no-progress"])
    out = capsys.readouterr().out
    # 4/5 of the 500 digits train, the rest test; the defaults cap nothing here.
    assert "t10k files only: 400 train, 100 test" in results["mnist"]["source"]
    assert "400 training, 100 test images" in out


def test_bad_data_dir_and_arguments(tmp_path):
    with pytest.raises(SystemExit, match="--data-dir .* holds neither .* t10k"):
        demo.main(["--data-dir", str(tmp_path), "--no-progress"])
    for argv in (["--epochs", "-1"], ["--train-size", "0"], ["--learning-rate", "0"],
                 ["--model", "rnn"]):
        with pytest.raises(SystemExit) as info:
            demo.parse_args(argv)
        assert info.value.code == 2


def test_parse_args_defaults():
    args = demo.parse_args([])
    assert (args.model, args.epochs, args.train_size, args.data_dir) == (
        "cnn", 3, demo.DEFAULT_TRAIN_SIZE, None)
    quick = demo.parse_args(["--quick"])
    assert (quick.epochs, quick.train_size, quick.test_size) == (
        1, demo.QUICK_TRAIN_SIZE, demo.QUICK_TEST_SIZE)
    assert os.path.basename(demo.__file__) == "demo.py"


def _readme_python_blocks():
    readme = os.path.join(os.path.dirname(__file__), "..", "README.md")
    with open(readme, encoding="utf-8") as f:
        return re.findall(r"```python\n(.*?)```", f.read(), re.S)


def test_readme_python_examples_run(tmp_path, monkeypatch, capsys):
    import tempfile

    from tapegrad.summary import policy
    from tapegrad.train import global_step

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(policy._state, "writer", None)
    blocks = _readme_python_blocks()
    assert len(blocks) >= 6
    try:
        for i, block in enumerate(blocks):
            exec(compile(block, "README.md python block %d" % i, "exec"), {})
    finally:
        global_step._reset_for_tests()
    out = capsys.readouterr().out
    assert "tg.Tensor([[2.]], shape=(1, 1), dtype=float32)" in out
    assert "hello, [[4.]]" in out
