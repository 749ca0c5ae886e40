"""MNIST handwritten digits (LeCun, Cortes and Burges; CC BY-SA 3.0).

* ``load_data(path=None, cache_dir=None)`` -> ``(x_train, y_train), (x_test, y_test)``:
  uint8 images ``[N, 28, 28]`` and uint8 labels, read from the four standard IDX files
  (gzipped or not) in ``path``, or else downloaded once into ``cache_dir`` (default
  ``~/.tapegrad/datasets/mnist``), each file checked against its published MD5 and moved
  into place only once verified.
* ``load_slice()``: 5,000 + 1,000 real digits shipped with the package
  (``mnist_slice.npz``, cut from the MNIST test set), for machines without network.
* ``load_data_or_slice(path=None)``: ``path``, else a verified cache, else the slice; the
  result's ``.source`` says which was used (``"path:<dir>"``, ``"cache:<dir>"``,
  ``"slice"``). This is what the examples use: full MNIST where it exists, real digits
  anywhere.
* ``dataset(split)``: a Dataset of ``(image float32 [28, 28, 1] in [0, 1], label int32)``.
* ``make_slice(path)`` (or ``python -m tapegrad.data.datasets make-slice DIR``)
  rebuilds the shipped slice from the test-set IDX files.
"""

import hashlib
import logging
import os
import tempfile
import urllib.request

import numpy as np

from .idx import read_idx

# Published MD5 of each gzipped file, by the name the mirrors use.
FILES = {
    "train_images": ("train-images-idx3-ubyte", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    "train_labels": ("train-labels-idx1-ubyte", "d53e105ee54ea40749a09fcbcd1e9432"),
    "test_images": ("t10k-images-idx3-ubyte", "9fb629c4189551a2d022fa330f9573f3"),
    "test_labels": ("t10k-labels-idx1-ubyte", "ec29112dd5afa0611ce80d1b7f02629c"),
}
MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
]
DEFAULT_CACHE_DIR = os.path.join("~", ".tapegrad", "datasets", "mnist")
SLICE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mnist_slice.npz")
SPLITS = ("train", "test")

_log = logging.getLogger("tapegrad.datasets.mnist")
_READ_BLOCK = 1 << 16


class MnistData(tuple):
    """``((x_train, y_train), (x_test, y_test))`` plus ``.source``: where it came from."""

    def __new__(cls, train, test, source):
        self = super().__new__(cls, (train, test))
        self.source = source
        return self


def _split_keys(split):
    if split not in SPLITS:
        raise ValueError(f"mnist: split must be 'train' or 'test', got {split!r}")
    return f"{split}_images", f"{split}_labels"


def _cache_dir(cache_dir):
    return os.path.abspath(os.path.expanduser(cache_dir or DEFAULT_CACHE_DIR))


def _md5(filename):
    digest = hashlib.md5()
    with open(filename, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_file(directory, key):
    """The file for ``key`` in ``directory``: ``<name>`` or ``<name>.gz``, else
    ``FileNotFoundError`` naming both."""
    name = FILES[key][0]
    candidates = [os.path.join(directory, name + ".gz"), os.path.join(directory, name)]
    for c in candidates:
        if os.path.isfile(c):
            return c
    raise FileNotFoundError(f"mnist: missing {name}.gz (or {name}) in {directory}")


# ----------------------------------------------------------------------------- download


def _fetch(url, destination, md5, timeout):
    """Download ``url`` to a temporary file beside ``destination``, check its MD5, then
    rename it into place, so ``destination`` is either absent or complete and verified."""
    directory = os.path.dirname(destination)
    fd, partial = tempfile.mkstemp(prefix="." + os.path.basename(destination) + ".",
                                   suffix=".part", dir=directory)
    try:
        digest = hashlib.md5()
        request = urllib.request.Request(url, headers={"User-Agent": "tapegrad"})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request,
                                                                timeout=timeout) as response:
            for block in iter(lambda: response.read(_READ_BLOCK), b""):
                digest.update(block)
                out.write(block)
        if digest.hexdigest() != md5:
            raise ValueError(f"checksum mismatch for {url}: expected md5 {md5}, got "
                             f"{digest.hexdigest()}")
        os.replace(partial, destination)
    except BaseException:
        if os.path.exists(partial):
            os.unlink(partial)
        raise


def download(keys=None, cache_dir=None, mirrors=None, timeout=60.0):
    """Make sure the gzipped files for ``keys`` (default: all four) are in ``cache_dir``
    with their published MD5; download the missing or damaged ones. Returns the
    directory."""
    directory = _cache_dir(cache_dir)
    os.makedirs(directory, exist_ok=True)
    for key in keys or FILES:
        name, md5 = FILES[key]
        destination = os.path.join(directory, name + ".gz")
        if os.path.isfile(destination):
            if _md5(destination) == md5:
                continue
            _log.warning("mnist: %s fails its md5 check; downloading it again", destination)
        errors = []
        for mirror in mirrors or MIRRORS:
            url = mirror + name + ".gz"
            try:
                _log.info("mnist: downloading %s", url)
                _fetch(url, destination, md5, timeout)
                break
            except (OSError, ValueError) as e:
                errors.append(f"  {url}: {e}")
        else:
            raise OSError(f"mnist: could not download {name}.gz into {directory}:\n"
                          + "\n".join(errors)
                          + "\nPass path= a directory holding the IDX files, or use "
                            "load_slice() / load_data_or_slice().")
    return directory


def _verified_cache(keys, cache_dir):
    """The cache directory if every file for ``keys`` is there with its published MD5."""
    directory = _cache_dir(cache_dir)
    for key in keys:
        name, md5 = FILES[key]
        f = os.path.join(directory, name + ".gz")
        if not os.path.isfile(f) or _md5(f) != md5:
            return None
    return directory


# ----------------------------------------------------------------------------- loading


def _read_pair(images_file, labels_file):
    images, labels = read_idx(images_file), read_idx(labels_file)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"mnist: {images_file} holds {images.dtype} data of shape "
                         f"{images.shape}, expected uint8 images of shape [N, 28, 28]")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(f"mnist: {labels_file} holds {labels.dtype} data of shape "
                         f"{labels.shape}, expected uint8 labels of shape [N]")
    if len(images) != len(labels):
        raise ValueError(f"mnist: {images_file} has {len(images)} images but "
                         f"{labels_file} has {len(labels)} labels")
    if labels.size and labels.max() > 9:
        raise ValueError(f"mnist: {labels_file} holds label {int(labels.max())}, "
                         "expected digits 0-9")
    return images, labels


def load_split(split, path=None, cache_dir=None, mirrors=None):
    """``(images, labels)`` of one split, from ``path`` or the (downloaded) cache."""
    keys = _split_keys(split)
    directory = path if path is not None else download(keys, cache_dir, mirrors)
    return _read_pair(*(find_file(directory, k) for k in keys))


def load_data(path=None, cache_dir=None, mirrors=None):
    """``(x_train, y_train), (x_test, y_test)`` as uint8 NumPy arrays (see module doc)."""
    return (load_split("train", path, cache_dir, mirrors),
            load_split("test", path, cache_dir, mirrors))


def load_slice(filename=None):
    """The shipped real-digit slice: 5,000 training and 1,000 test images (uint8)."""
    filename = filename or SLICE_FILE
    with np.load(filename) as f:
        parts = [f[k] for k in ("x_train", "y_train", "x_test", "y_test")]
    for i in (0, 2):
        images, labels = parts[i], parts[i + 1]
        if (images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28)
                or labels.shape != (len(images),) or labels.dtype != np.uint8):
            raise ValueError(f"mnist: {filename} is not a valid MNIST slice (images "
                             f"{images.dtype} {images.shape}, labels {labels.dtype} "
                             f"{labels.shape})")
    return (parts[0], parts[1]), (parts[2], parts[3])


def load_data_or_slice(path=None, cache_dir=None, download_missing=False):
    """Full MNIST when available, else the shipped slice, with ``.source`` saying which.

    Tries ``path`` (if given), then the verified cache in ``cache_dir``, then (only with
    ``download_missing``) a download, then the slice. Why each step was skipped is logged.
    """
    if path is not None:
        try:
            train, test = load_data(path)
            return MnistData(train, test, f"path:{os.path.abspath(path)}")
        except (OSError, ValueError) as e:
            _log.warning("mnist: cannot use %s (%s); trying the cache", path, e)
    directory = _verified_cache(list(FILES), cache_dir)
    if directory is not None:
        train, test = load_data(directory)
        return MnistData(train, test, f"cache:{directory}")
    if download_missing:
        try:
            train, test = load_data(cache_dir=cache_dir)
            return MnistData(train, test, f"cache:{_cache_dir(cache_dir)}")
        except (OSError, ValueError) as e:
            _log.warning("mnist: download failed (%s)", e)
    _log.info("mnist: using the shipped slice %s", SLICE_FILE)
    train, test = load_slice()
    return MnistData(train, test, "slice")


def to_float_images(images):
    """uint8 ``[N, 28, 28]`` -> float32 ``[N, 28, 28, 1]`` in [0, 1]."""
    out = np.asarray(images, dtype=np.float32).reshape(len(images), 28, 28, 1)
    out *= np.float32(1.0 / 255.0)
    return out


def dataset(split, path=None, cache_dir=None, source="files"):
    """A Dataset of ``(image float32 [28, 28, 1] in [0, 1], label int32)``.

    ``source``: ``"files"`` (``path`` or the downloaded cache, as ``load_data``),
    ``"slice"`` (the shipped slice) or ``"auto"`` (as ``load_data_or_slice``).
    """
    from ..dataset import Dataset
    from ..sources import TensorSlices

    train_or_test = SPLITS.index(_split_keys(split)[0].split("_")[0])
    if source == "files":
        images, labels = load_split(split, path, cache_dir)
    elif source == "slice":
        images, labels = load_slice()[train_or_test]
    elif source == "auto":
        images, labels = load_data_or_slice(path, cache_dir)[train_or_test]
    else:
        raise ValueError(f"mnist.dataset: source must be 'files', 'slice' or 'auto', got "
                         f"{source!r}")
    arrays = (to_float_images(images), labels.astype(np.int32))
    return Dataset(TensorSlices(arrays, owned=True))


def make_slice(path, output=None, n_train=5000, n_test=1000):
    """Write the slice file from the test-set IDX files in ``path``: the first
    ``n_train`` test images become the slice's training part, the last ``n_test`` its
    test part (disjoint). Returns the file name."""
    images, labels = load_split("test", path)
    if n_train + n_test > len(images):
        raise ValueError(f"mnist.make_slice: {n_train} + {n_test} images requested, the "
                         f"test set has {len(images)}")
    output = output or SLICE_FILE
    np.savez_compressed(output, x_train=images[:n_train], y_train=labels[:n_train],
                        x_test=images[len(images) - n_test:],
                        y_test=labels[len(labels) - n_test:])
    return output


def main(argv=None):
    """Command line: ``python -m tapegrad.data.datasets make-slice DIR [--output F]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tapegrad.data.datasets")
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("make-slice", help="rebuild mnist_slice.npz from t10k IDX files")
    make.add_argument("path", help="directory holding t10k-images/labels IDX files")
    make.add_argument("--output", default=None)
    make.add_argument("--train", type=int, default=5000)
    make.add_argument("--test", type=int, default=1000)
    args = parser.parse_args(argv)
    out = make_slice(args.path, args.output, args.train, args.test)
    print(f"wrote {out} ({os.path.getsize(out)} bytes)")
