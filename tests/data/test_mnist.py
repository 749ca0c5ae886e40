"""tg.datasets.mnist: loading IDX directories, the download/verify/rename path (over
file:// URLs, never the network), the shipped slice, and the real test set when the
shared copy is present."""

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from tapegrad.data import TensorSpec
from tapegrad.data.datasets import mnist
from tapegrad.data.datasets.idx import encode_idx

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mnist"
needs_shared = pytest.mark.skipif(not (SHARED / "t10k-images-idx3-ubyte.gz").is_file(),
                                  reason=f"no shared MNIST copy at {SHARED}")


def tiny_mnist(directory, n_train=4, n_test=3, gz=True, seed=0):
    """Write four small IDX files with MNIST's layout; returns the arrays."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train).astype(np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test).astype(np.uint8),
    }
    os.makedirs(directory, exist_ok=True)
    for key, array in arrays.items():
        name = mnist.FILES[key][0]
        data = encode_idx(array)
        if gz:
            (Path(directory) / (name + ".gz")).write_bytes(gzip.compress(data, mtime=0))
        else:
            (Path(directory) / name).write_bytes(data)
    return arrays


def md5(path):
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


@pytest.mark.parametrize("gz", [True, False])
def test_load_data_from_a_directory(tmp_path, gz):
    arrays = tiny_mnist(tmp_path, gz=gz)
    (x_train, y_train), (x_test, y_test) = mnist.load_data(path=str(tmp_path))
    np.testing.assert_array_equal(x_train, arrays["train_images"])
    np.testing.assert_array_equal(y_train, arrays["train_labels"])
    np.testing.assert_array_equal(x_test, arrays["test_images"])
    np.testing.assert_array_equal(y_test, arrays["test_labels"])
    assert x_train.dtype == np.uint8 and y_test.dtype == np.uint8


def test_missing_file_names_what_and_where(tmp_path):
    tiny_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match=f"train-labels-idx1-ubyte.gz.*{tmp_path}"):
        mnist.load_data(path=str(tmp_path))
    # The test split alone still loads.
    x, y = mnist.load_split("test", path=str(tmp_path))
    assert x.shape == (3, 28, 28)


def test_inconsistent_files_are_reported(tmp_path):
    tiny_mnist(tmp_path, gz=False)
    labels = tmp_path / "t10k-labels-idx1-ubyte"
    labels.write_bytes(encode_idx(np.zeros(5, np.uint8)))
    with pytest.raises(ValueError, match="3 images but .* 5 labels"):
        mnist.load_split("test", path=str(tmp_path))
    labels.write_bytes(encode_idx(np.array([1, 2, 12], np.uint8)))
    with pytest.raises(ValueError, match="label 12"):
        mnist.load_split("test", path=str(tmp_path))
    images = tmp_path / "t10k-images-idx3-ubyte"
    images.write_bytes(encode_idx(np.zeros((3, 27, 28), np.uint8)))
    with pytest.raises(ValueError, match=r"\(3, 27, 28\)"):
        mnist.load_split("test", path=str(tmp_path))
    images.write_bytes(encode_idx(np.zeros((3, 28, 28), np.uint8))[:-10])
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte: truncated"):
        mnist.load_split("test", path=str(tmp_path))
    with pytest.raises(ValueError, match="split"):
        mnist.load_split("validation", path=str(tmp_path))


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A file:// mirror of tiny files, with FILES' md5s pointing at them."""
    served = tmp_path / "mirror"
    arrays = tiny_mnist(served)
    files = {key: (name, md5(served / (name + ".gz"))) for key, (name, _) in mnist.FILES.items()}
    monkeypatch.setattr(mnist, "FILES", files)
    missing = (tmp_path / "nowhere").as_uri() + "/"
    monkeypatch.setattr(mnist, "MIRRORS", [missing, served.as_uri() + "/"])
    return served, arrays


def test_download_verifies_and_renames_into_the_cache(tmp_path, mirror):
    served, arrays = mirror
    cache = tmp_path / "cache"
    (x_train, y_train), (x_test, _) = mnist.load_data(cache_dir=str(cache))
    np.testing.assert_array_equal(x_train, arrays["train_images"])
    np.testing.assert_array_equal(x_test, arrays["test_images"])
    names = sorted(os.listdir(cache))
    assert names == sorted(name + ".gz" for name, _ in mnist.FILES.values())  # no .part left
    for name, digest in mnist.FILES.values():
        assert md5(cache / (name + ".gz")) == digest
    # Once cached, nothing is fetched again.
    (served / "train-images-idx3-ubyte.gz").unlink()
    assert mnist.load_data(cache_dir=str(cache))[0][1].tolist() == y_train.tolist()


def test_damaged_cache_file_is_downloaded_again(tmp_path, mirror):
    cache = tmp_path / "cache"
    mnist.download(cache_dir=str(cache))
    target = cache / "t10k-labels-idx1-ubyte.gz"
    target.write_bytes(b"garbage")
    x, y = mnist.load_split("test", cache_dir=str(cache))
    assert md5(target) == mnist.FILES["test_labels"][1]
    assert y.shape == (3,)


def test_checksum_mismatch_leaves_nothing_behind(tmp_path, mirror, monkeypatch):
    files = dict(mnist.FILES)
    files["test_images"] = (files["test_images"][0], "0" * 32)
    monkeypatch.setattr(mnist, "FILES", files)
    cache = tmp_path / "cache"
    with pytest.raises(OSError, match="checksum mismatch.*expected md5 0{32}") as info:
        mnist.load_split("test", cache_dir=str(cache))
    assert "nowhere" in str(info.value)  # every mirror's failure is listed
    assert not any(n.startswith("t10k-images") or n.endswith(".part")
                   for n in os.listdir(cache))


def test_download_uses_the_opener_with_a_timeout(tmp_path, monkeypatch, mirror):
    served, _ = mirror
    calls = []
    real = mnist.urllib.request.urlopen

    def spy(request, timeout):
        calls.append((request.full_url, timeout))
        return real(request, timeout=timeout)

    monkeypatch.setattr(mnist.urllib.request, "urlopen", spy)
    mnist.download(["test_labels"], cache_dir=str(tmp_path / "c"), timeout=5.0)
    assert calls[-1] == (served.as_uri() + "/t10k-labels-idx1-ubyte.gz", 5.0)


def test_load_data_or_slice_reports_its_source(tmp_path, mirror):
    tiny_mnist(tmp_path / "local")
    result = mnist.load_data_or_slice(path=str(tmp_path / "local"),
                                      cache_dir=str(tmp_path / "empty"))
    assert result.source == f"path:{tmp_path / 'local'}"
    (x_train, _), _ = result
    assert x_train.shape == (4, 28, 28)
    fallback = mnist.load_data_or_slice(cache_dir=str(tmp_path / "empty"))
    assert fallback.source == "slice"
    assert fallback[0][0].shape == (5000, 28, 28)
    mnist.download(cache_dir=str(tmp_path / "cache"))
    cached = mnist.load_data_or_slice(path=str(tmp_path / "missing"),
                                      cache_dir=str(tmp_path / "cache"))
    assert cached.source == f"cache:{tmp_path / 'cache'}"
    fetched = mnist.load_data_or_slice(cache_dir=str(tmp_path / "new"), download_missing=True)
    assert fetched.source == f"cache:{tmp_path / 'new'}"


def test_shipped_slice_is_sane():
    assert os.path.getsize(mnist.SLICE_FILE) < 3 * 2**20
    (x_train, y_train), (x_test, y_test) = mnist.load_slice()
    assert x_train.shape == (5000, 28, 28) and x_test.shape == (1000, 28, 28)
    assert x_train.dtype == y_train.dtype == np.uint8
    for labels in (y_train, y_test):
        counts = np.bincount(labels, minlength=10)
        assert len(counts) == 10 and counts.min() > 0.05 * len(labels)
    # Real digits: mostly black background, strokes near 255, the centre used.
    assert 0.7 < np.mean(x_train == 0) < 0.9
    assert x_train.max() == 255 and x_train[:, 10:18, 10:18].mean() > 60
    # Train and test parts are different images.
    assert not np.array_equal(x_train[-1], x_test[0])


def test_dataset_from_the_slice():
    ds = mnist.dataset("train", source="slice")
    assert ds.element_spec == (TensorSpec((28, 28, 1), np.float32), TensorSpec((), np.int32))
    assert len(ds) == 5000
    images, labels = next(ds.batch(64).as_numpy_iterator())
    (x_train, y_train), _ = mnist.load_slice()
    np.testing.assert_allclose(images[..., 0], x_train[:64] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(labels, y_train[:64])
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert len(mnist.dataset("test", source="slice")) == 1000
    with pytest.raises(ValueError, match="source"):
        mnist.dataset("test", source="web")


def test_dataset_from_files(tmp_path):
    arrays = tiny_mnist(tmp_path)
    out = list(mnist.dataset("test", path=str(tmp_path)).as_numpy_iterator())
    assert len(out) == 3
    np.testing.assert_allclose(out[1][0][..., 0], arrays["test_images"][1] / 255.0, rtol=1e-6)
    assert out[1][1] == arrays["test_labels"][1]


def test_make_slice_round_trip(tmp_path):
    tiny_mnist(tmp_path / "src", n_test=7)
    out = mnist.make_slice(str(tmp_path / "src"), str(tmp_path / "s.npz"), n_train=4, n_test=2)
    (a, b), (c, d) = mnist.load_slice(out)
    _, (x_test, y_test) = mnist.load_data(str(tmp_path / "src"))
    np.testing.assert_array_equal(a, x_test[:4])
    np.testing.assert_array_equal(d, y_test[5:])
    with pytest.raises(ValueError, match="test set has 7"):
        mnist.make_slice(str(tmp_path / "src"), str(tmp_path / "t.npz"), 5, 5)


@needs_shared
def test_shared_test_set_matches_published_checksums_and_loads():
    for key in ("test_images", "test_labels", "train_labels"):
        name, digest = mnist.FILES[key]
        assert md5(SHARED / (name + ".gz")) == digest
    x, y = mnist.load_split("test", path=str(SHARED))
    assert x.shape == (10000, 28, 28) and y.shape == (10000,)
    assert y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]  # the well-known first labels
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@needs_shared
def test_shipped_slice_is_cut_from_the_real_test_set():
    x, y = mnist.load_split("test", path=str(SHARED))
    (x_train, y_train), (x_test, y_test) = mnist.load_slice()
    np.testing.assert_array_equal(x_train, x[:5000])
    np.testing.assert_array_equal(y_train, y[:5000])
    np.testing.assert_array_equal(x_test, x[-1000:])
    np.testing.assert_array_equal(y_test, y[-1000:])


@needs_shared
def test_shared_test_set_as_a_dataset():
    ds = mnist.dataset("test", path=str(SHARED)).batch(1000, drop_remainder=True)
    assert len(ds) == 10
    images, labels = next(ds.as_numpy_iterator())
    assert images.shape == (1000, 28, 28, 1) and labels.dtype == np.int32
    assert labels[:3].tolist() == [7, 2, 1]
