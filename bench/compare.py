"""Side-by-side timings of tapegrad, hand-written NumPy and PyTorch on the budget workloads.

    python bench/compare.py                  # full run (a few minutes on 2 cores)
    python bench/compare.py --quick          # fewer repeats and memory steps
    python bench/compare.py --memory-steps 100000 --output bench/RESULTS.md

Each framework runs in its own fresh process (one after the other, never concurrently), on
inputs built from the same seed; the NumPy side is the floor (the same arithmetic with
hand-derived gradients).  A time is the median over repeated samples after a warm-up; a
sample times a loop of ``number`` calls with ``time.perf_counter`` (garbage collection on,
as in a user's loop).  Every worker gets the same thread count (``--threads``, default
the CPU count): OMP/OPENBLAS/MKL_NUM_THREADS for BLAS and ``torch.set_num_threads``.
Multithreaded BLAS timings are only meaningful on an otherwise idle machine (the report
warns when the load average says otherwise); ``--threads 1`` is robust to background load.
tapegrad's intra-op thread pool gets the same count through
``tg.config.threading.set_intra_op_parallelism_threads`` when this tapegrad has one (the
report says which).  The tapegrad side uses only the public API (``tg.*``), as a user
would.  PyTorch columns say n/a when torch is not importable.

Issue 25's rows: exp, tanh, add and reduce_sum on 10^7 float32 and softmax 1000x10000
forward+backward (Timer, as above); one MNIST CNN epoch (Adam, batch 64) over the first
8,000 digits of the MNIST test set (``--mnist-dir``; tapegrad's shipped slice when the
files are missing, said in the report), wall time per epoch, median of ``--epochs``; and
the peak RSS increase of building the CNN and taking 5 Adam steps (batch 64), each
framework in a fresh process of its own (``--no-peakmem`` skips it).  ``bench/spread.py N``
runs this script N times and reports min / median / max per row.
"""

import argparse
import ctypes
import datetime
import gc
import gzip
import importlib.util
import json
import os
import platform
import statistics
import struct
import subprocess
import sys
import time
import warnings

import numpy as np

SEED = 0
N_POINTS = 1000           # the guide's linear regression
LINREG_STEPS = 200
LEARNING_RATE = 0.01
CNN_BATCH = 64
MEMORY_WARMUP = 1000      # steps before the first RSS sample
BIG = 10**7               # elements of the bandwidth-bound kernel rows (exp, tanh, add, sum)
SOFTMAX_SHAPE = (1000, 10000)
EPOCH_DIGITS = 8000       # the MNIST epoch row: the first 8,000 digits of the test set
PEAKMEM_STEPS = 5         # CNN steps of the peak-memory row
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MNIST_DIR = os.path.join(ROOT, "..", "shared", "data", "mnist")

FRAMEWORKS = ("tapegrad", "numpy", "torch")


# -- measuring -----------------------------------------------------------------------------

class Timer:
    """Median time per call of ``fn`` over ``repeats`` samples, after a warm-up."""

    def __init__(self, quick):
        self.repeats = 5 if quick else 15
        self.min_sample = 0.01 if quick else 0.03
        self.warmup = 0.1 if quick else 0.3
        self.budget = 2.0 if quick else 6.0     # seconds of sampling per workload

    def __call__(self, fn):
        start = time.perf_counter()
        calls = 0
        while calls < 3 or time.perf_counter() - start < self.warmup:
            fn()
            calls += 1
        per_call = (time.perf_counter() - start) / calls
        number = max(1, int(self.min_sample / per_call))
        repeats = max(3, min(self.repeats, int(self.budget / (per_call * number))))
        samples = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            samples.append((time.perf_counter() - t0) / number)
        return {"median": statistics.median(samples), "min": min(samples),
                "repeats": repeats, "number": number}


def rss_mib():
    """Resident memory of live data: after a full collection, and after glibc has handed
    freed heap pages back (without the trim, RSS swings by ~10 MiB from step to step as
    gradient buffers come and go, which would hide or fake a slow leak)."""
    gc.collect()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _load_libc():
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018  (glibc only)
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _load_libc()


def _proc_status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError("no %s in /proc/self/status" % field)


def peak_rss_increase(run):
    """Peak RSS increase (MiB) while ``run()`` executes, over the RSS just before it.

    The baseline is taken after ``gc.collect()`` and ``malloc_trim``; then the kernel's
    high-water mark is reset (``echo 5 > /proc/self/clear_refs``, Linux >= 4.0), so the
    peak that ``VmHWM`` reports afterwards is the one reached inside ``run()``, not the
    one of the framework's import.  Without that reset, ``ru_maxrss`` minus the baseline
    (an over-estimate when the import peaked higher than the model's steps)."""
    gc.collect()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
    try:
        before = _proc_status_kib("VmRSS")
        parts = {f: _proc_status_kib(f) for f in ("RssAnon", "RssFile")}
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        method = "VmHWM after clear_refs"
    except OSError:
        before = rss_mib() * 1024
        parts = {}
        method = "ru_maxrss (high-water mark not resettable)"
    run()
    if method.startswith("VmHWM"):
        peak = _proc_status_kib("VmHWM")
        # what stays resident after the steps, by kind: anonymous memory (data) and
        # file-backed pages (library code and data first touched by the steps)
        parts = {f: (_proc_status_kib(f) - kib) / 1024 for f, kib in parts.items()}
    else:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    increase = (peak - before) / 1024
    return {"median": increase, "min": increase, "repeats": 1, "number": 1,
            "rss_before_mib": before / 1024, "peak_mib": peak / 1024, "method": method,
            "after_minus_before_mib": parts}


def time_epochs(epochs, run_epoch):
    """Wall time of whole epochs (``run_epoch(e)`` returns the epoch's mean loss)."""
    samples, losses = [], []
    for e in range(epochs):
        t0 = time.perf_counter()
        losses.append(run_epoch(e))
        samples.append(time.perf_counter() - t0)
    return {"median": statistics.median(samples), "min": min(samples), "repeats": epochs,
            "number": 1, "samples": samples, "losses": losses}


def time_import(module, quick):
    """Median wall time of ``python -c "import <module>"`` in fresh processes."""
    runs = 5 if quick else 15
    cmd = [sys.executable, "-c", "import " + module]
    subprocess.run(cmd, check=True)  # warm the OS file cache
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True)
        samples.append(time.perf_counter() - t0)
    return {"median": statistics.median(samples), "min": min(samples), "repeats": runs}


# -- shared inputs (identical across frameworks) ---------------------------------------------

def linreg_data():
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal(N_POINTS).astype(np.float32)
    noise = rng.standard_normal(N_POINTS).astype(np.float32)
    return x, x * 3 + 2 + noise


def mlp_data(batch):
    rng = np.random.default_rng(SEED)
    x = rng.random((batch, 784), dtype=np.float32)
    y = rng.integers(0, 10, batch).astype(np.int64)
    limit1, limit2 = np.sqrt(6 / (784 + 128)), np.sqrt(6 / (128 + 10))
    weights = [rng.uniform(-limit1, limit1, (784, 128)).astype(np.float32),
               np.zeros(128, np.float32),
               rng.uniform(-limit2, limit2, (128, 10)).astype(np.float32),
               np.zeros(10, np.float32)]
    return x, y, weights


def cnn_data():
    rng = np.random.default_rng(SEED)
    images = rng.random((CNN_BATCH, 28, 28, 1), dtype=np.float32)
    return images, rng.integers(0, 10, CNN_BATCH).astype(np.int64)


def matmul_data():
    rng = np.random.default_rng(SEED)
    return (rng.random((1000, 1000), dtype=np.float32),
            rng.random((1000, 1000), dtype=np.float32))


def big_vectors():
    """Two 10^7-element float32 vectors in [-1, 1) (exp, tanh, add, reduce_sum)."""
    rng = np.random.default_rng(SEED)
    return (rng.uniform(-1, 1, BIG).astype(np.float32),
            rng.uniform(-1, 1, BIG).astype(np.float32))


def softmax_data():
    """Logits x and the upstream cotangent w of the softmax row, both 1000x10000."""
    rng = np.random.default_rng(SEED)
    return (rng.standard_normal(SOFTMAX_SHAPE, dtype=np.float32),
            rng.random(SOFTMAX_SHAPE, dtype=np.float32))


def _read_idx(path):
    """An IDX file (gzipped or not) as a uint8 array."""
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = struct.unpack(">%dI" % ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def mnist_epoch_data(directory):
    """``(images, labels, source)``: the first 8,000 digits of the MNIST test set as
    float32 NHWC in [0, 1] and int64 labels; without the IDX files in ``directory``, all
    6,000 digits of the slice shipped with tapegrad (found without importing it)."""
    def find(name):
        for candidate in (name + ".gz", name):
            path = os.path.join(directory, candidate)
            if os.path.exists(path):
                return path
        raise OSError("no %s[.gz] in %s" % (name, directory))

    try:
        images = _read_idx(find("t10k-images-idx3-ubyte"))[:EPOCH_DIGITS]
        labels = _read_idx(find("t10k-labels-idx1-ubyte"))[:EPOCH_DIGITS]
        source = "%s (first %d test digits)" % (os.path.normpath(directory), len(images))
    except OSError as e:
        spec = importlib.util.find_spec("tapegrad")
        path = os.path.join(spec.submodule_search_locations[0], "data", "datasets",
                            "mnist_slice.npz")
        with np.load(path) as f:
            images = np.concatenate([f["x_train"], f["x_test"]])[:EPOCH_DIGITS]
            labels = np.concatenate([f["y_train"], f["y_test"]])[:EPOCH_DIGITS]
        source = ("FALLBACK: tapegrad's shipped slice, %d digits (%s)" % (len(images), e))
    images = images.reshape(-1, 28, 28, 1).astype(np.float32) * np.float32(1 / 255)
    return images, labels.astype(np.int64), source


def epoch_runner(step, images, labels, to_images, to_labels):
    """``run_epoch(e)`` for ``time_epochs``: one pass in batches of 64 over a fixed-seed
    permutation (the same in every framework); converting each batch counts."""
    n = len(images)

    def run_epoch(e):
        order = np.random.default_rng(SEED + e).permutation(n)
        total, steps = 0.0, 0
        for i in range(0, n, CNN_BATCH):
            idx = order[i:i + CNN_BATCH]
            total += float(step(to_images(images[idx]), to_labels(labels[idx])))
            steps += 1
        return total / steps

    return run_epoch


# -- tapegrad --------------------------------------------------------------------------------

def tapegrad_mlp_model(tg, weights):
    """The guide's MNIST MLP (784-128-10) with the fixed weights of ``mlp_data``."""
    model = tg.Sequential([tg.layers.Dense(128, activation="relu", input_shape=(784,)),
                           tg.layers.Dense(10)])
    model.build((None, 784))
    model.set_weights(weights)
    return model


def tapegrad_train_step(tg, model, optimizer, x, y):
    """One step of the MLP rows: eager here, wrapped in tg.function in compare_traced.py."""
    with tg.GradientTape() as tape:
        loss = tg.losses.sparse_softmax_cross_entropy(labels=y, logits=model(x))
    variables = model.trainable_variables
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    return loss


def tapegrad_cnn_model(tg):
    """The guide's MNIST CNN (fresh weights from tapegrad's seeded generator)."""
    layers = tg.layers
    return tg.Sequential([
        layers.Conv2D(32, 5, padding="same", activation="relu", input_shape=(28, 28, 1)),
        layers.MaxPooling2D((2, 2), (2, 2), padding="same"),
        layers.Conv2D(64, 5, padding="same", activation="relu"),
        layers.MaxPooling2D((2, 2), (2, 2), padding="same"),
        layers.Flatten(),
        layers.Dense(1024, activation="relu"),
        layers.Dropout(0.4),
        layers.Dense(10),
    ])


def tapegrad_cnn_train(tg, cnn, optimizer):
    """``step(images, labels) -> loss``: one training step of ``cnn``."""
    def step(images, labels):
        with tg.GradientTape() as tape:
            logits = cnn(images, training=True)
            loss = tg.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
        variables = cnn.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    return step


def tapegrad_cnn_step(tg):
    """The guide's MNIST CNN (fresh weights) and one Adam step on the fixed batch: the
    eager row here and the traced row in compare_traced.py time the same step."""
    train = tapegrad_cnn_train(tg, tapegrad_cnn_model(tg), tg.optimizers.Adam(1e-3))
    images, labels = cnn_data()
    ci, cl = tg.constant(images), tg.constant(labels.astype(np.int32))

    def cnn_step():
        train(ci, cl)

    return cnn_step


def set_tapegrad_threads(tg, n):
    """Give tapegrad's intra-op thread pool ``n`` threads when this tapegrad has one
    (``tg.config.threading``, TF's names); the setting in force, else None."""
    threading = getattr(getattr(tg, "config", None), "threading", None)
    if threading is None or not hasattr(threading, "set_intra_op_parallelism_threads"):
        return None
    threading.set_intra_op_parallelism_threads(n)
    return threading.get_intra_op_parallelism_threads()


def tapegrad_kernels(tg, timer, out):
    """exp, tanh, add, reduce_sum on 10^7 float32 (the thread pool's first kernels)."""
    an, bn = big_vectors()
    a, b = tg.constant(an), tg.constant(bn)
    del an, bn
    out["exp"] = timer(lambda: tg.exp(a))
    out["tanh"] = timer(lambda: tg.tanh(a))
    out["add"] = timer(lambda: tg.add(a, b))
    out["reduce_sum"] = timer(lambda: tg.reduce_sum(a))


def tapegrad_softmax(tg, timer, out):
    """Softmax over the last axis of 1000x10000 and its gradient with a cotangent."""
    xn, wn = softmax_data()
    x, w = tg.constant(xn), tg.constant(wn)
    del xn, wn

    def softmax_fb():
        with tg.GradientTape() as tape:
            tape.watch(x)
            y = tg.nn.softmax(x)
        return tape.gradient(y, x, output_gradients=w)
    out["softmax"] = timer(softmax_fb)


def tapegrad_epoch(tg, epochs, mnist_dir):
    """One epoch of the guide's CNN (Adam, batch 64) over the 8,000-digit split."""
    images, labels, source = mnist_epoch_data(mnist_dir)
    step = tapegrad_cnn_train(tg, tapegrad_cnn_model(tg), tg.optimizers.Adam(1e-3))
    to_labels = lambda y: tg.constant(y.astype(np.int32))  # noqa: E731
    step(tg.constant(images[:CNN_BATCH]), to_labels(labels[:CNN_BATCH]))  # warm-up
    result = time_epochs(epochs, epoch_runner(step, images, labels, tg.constant, to_labels))
    result.update(source=source, digits=len(images))
    return result


def tapegrad_peakmem(tg):
    """Peak RSS increase of building the CNN and ``PEAKMEM_STEPS`` Adam steps (batch 64)."""
    images, labels = cnn_data()
    ci, cl = tg.constant(images), tg.constant(labels.astype(np.int32))

    def run():
        step = tapegrad_cnn_train(tg, tapegrad_cnn_model(tg), tg.optimizers.Adam(1e-3))
        for _ in range(PEAKMEM_STEPS):
            step(ci, cl)

    return peak_rss_increase(run)


def tapegrad_workloads(args, timer):
    import tapegrad as tg

    quick, memory_steps = args.quick, args.memory_steps
    tg.random.set_seed(SEED)
    out = {"version": tg.__version__, "threads": set_tapegrad_threads(tg, args.threads)}

    # memory first, so RSS is not inflated by the buffers of the larger workloads: the MLP
    # step, batch 32, RSS sampled before and after a warm-up and ten times while training
    xn, yn, weights = mlp_data(32)
    x, y = tg.constant(xn), tg.constant(yn.astype(np.int32))
    model, sgd = tapegrad_mlp_model(tg, weights), tg.optimizers.SGD(LEARNING_RATE)
    before_warmup = rss_mib()
    for _ in range(MEMORY_WARMUP):
        tapegrad_train_step(tg, model, sgd, x, y)
    samples = [rss_mib()]
    t0 = time.perf_counter()
    chunk = max(1, memory_steps // 10)
    done = 0
    while done < memory_steps:
        for _ in range(min(chunk, memory_steps - done)):
            tapegrad_train_step(tg, model, sgd, x, y)
        done += min(chunk, memory_steps - done)
        samples.append(rss_mib())
    out["memory"] = {"steps": memory_steps, "rss_before_warmup_mib": before_warmup,
                     "rss_mib": samples,
                     "seconds": time.perf_counter() - t0}

    a, b = tg.constant(np.float32([1.5])), tg.constant(np.float32([2.5]))
    out["add1"] = timer(lambda: tg.add(a, b))

    w = tg.Variable(3.0)

    def scalar_step():
        with tg.GradientTape() as tape:
            y = w * w
        return tape.gradient(y, w)
    out["scalar_step"] = timer(scalar_step)

    xs, ys = (tg.constant(v) for v in linreg_data())

    def linreg():
        W, B = tg.Variable(5.0), tg.Variable(10.0)
        for _ in range(LINREG_STEPS):
            with tg.GradientTape() as tape:
                loss = tg.reduce_mean(tg.square(xs * W + B - ys))
            dW, dB = tape.gradient(loss, [W, B])
            W.assign_sub(dW * LEARNING_RATE)
            B.assign_sub(dB * LEARNING_RATE)
    out["linreg"] = timer(linreg)

    for batch in (32, 256):
        xn, yn, weights = mlp_data(batch)
        x, y = tg.constant(xn), tg.constant(yn.astype(np.int32))
        model, sgd = tapegrad_mlp_model(tg, weights), tg.optimizers.SGD(LEARNING_RATE)
        out["mlp%d" % batch] = timer(
            lambda m=model, o=sgd, x=x, y=y: tapegrad_train_step(tg, m, o, x, y))

    ma, mb = (tg.constant(v) for v in matmul_data())
    out["matmul"] = timer(lambda: tg.matmul(ma, mb))
    tapegrad_kernels(tg, timer, out)
    tapegrad_softmax(tg, timer, out)

    x0 = tg.constant(0.5)

    def tanh4():
        with tg.GradientTape() as t1:
            t1.watch(x0)
            with tg.GradientTape() as t2:
                t2.watch(x0)
                with tg.GradientTape() as t3:
                    t3.watch(x0)
                    with tg.GradientTape() as t4:
                        t4.watch(x0)
                        y = tg.tanh(x0)
                    d1 = t4.gradient(y, x0)
                d2 = t3.gradient(d1, x0)
            d3 = t2.gradient(d2, x0)
        return t1.gradient(d3, x0)
    out["tanh4"] = timer(tanh4)
    out["tanh4_value"] = float(tanh4())

    # Taylor mode: every derivative up to the order from one jet (tg.derivatives)
    tg.derivatives(tg.tanh, x0, 8)
    out["jet8"] = timer(lambda: tg.derivatives(tg.tanh, x0, 8))
    out["jet4"] = timer(lambda: tg.derivatives(tg.tanh, x0, 4))

    cnn_step = tapegrad_cnn_step(tg)
    out["cnn64"] = timer(cnn_step)

    # tg.debugging.enable_check_numerics(): every op's output checked (issue: <= 5% on the
    # MLP step, <= 10% on the CNN step); the unchecked steps are timed again right
    # before, so load drift does not count as overhead
    xn, yn, weights = mlp_data(32)
    x, y = tg.constant(xn), tg.constant(yn.astype(np.int32))
    model, sgd = tapegrad_mlp_model(tg, weights), tg.optimizers.SGD(LEARNING_RATE)
    out["mlp32_plain"] = timer(lambda: tapegrad_train_step(tg, model, sgd, x, y))
    out["cnn64_plain"] = timer(cnn_step)
    with tg.debugging.enable_check_numerics():
        out["mlp32_checked"] = timer(lambda: tapegrad_train_step(tg, model, sgd, x, y))
        out["cnn64_checked"] = timer(cnn_step)
    # tg.function: the same steps traced once and replayed (bench/compare_traced.py)
    from compare_traced import traced_workloads
    out.update(traced_workloads(tg, timer, sys.modules[__name__]))
    # LSTM(128) over MNIST rows, one Keras train step (issue 21)
    layers = tg.layers
    images, labels = cnn_data()
    cl = tg.constant(labels.astype(np.int32))
    lstm = tg.Sequential([layers.LSTM(128, input_shape=(28, 28)), layers.Dense(10)])
    lstm.compile(tg.optimizers.Adam(1e-3),
                 tg.losses.SparseCategoricalCrossentropy(from_logits=True))
    lstm_step = lstm.make_train_function()
    rows = tg.constant(images.reshape(CNN_BATCH, 28, 28))
    out["lstm64"] = timer(lambda: lstm_step(rows, cl, None))

    if args.epochs:
        out["mnist_epoch"] = tapegrad_epoch(tg, args.epochs, args.mnist_dir)
    out["import"] = time_import("tapegrad", quick)

    return out


# -- NumPy: the same arithmetic with hand-derived gradients ---------------------------------

def numpy_kernels(timer, out):
    a, b = big_vectors()
    out["exp"] = timer(lambda: np.exp(a))
    out["tanh"] = timer(lambda: np.tanh(a))
    out["add"] = timer(lambda: np.add(a, b))
    out["reduce_sum"] = timer(lambda: np.sum(a))


def numpy_softmax(timer, out):
    """Softmax forward and backward by hand: y = exp(x - max) / sum, dx = y (w - <w, y>)."""
    x, w = softmax_data()

    def softmax_fb():
        y = x - x.max(axis=-1, keepdims=True)
        np.exp(y, out=y)
        y /= y.sum(axis=-1, keepdims=True)
        return y * (w - np.sum(w * y, axis=-1, keepdims=True))
    out["softmax"] = timer(softmax_fb)


def numpy_workloads(quick, memory_steps, timer):
    out = {"version": np.__version__}

    a, b = np.float32([1.5]), np.float32([2.5])
    out["add1"] = timer(lambda: np.add(a, b))

    xs, ys = linreg_data()

    def linreg():
        W, B = np.float32(5.0), np.float32(10.0)
        for _ in range(LINREG_STEPS):
            err = xs * W + B - ys
            np.mean(np.square(err))  # the loss, as the tape computes it
            dW = np.mean(2 * err * xs)
            dB = np.mean(2 * err)
            W = W - dW * LEARNING_RATE
            B = B - dB * LEARNING_RATE
    out["linreg"] = timer(linreg)

    def train_step(x, y, params):
        W1, b1, W2, b2 = params
        n = len(y)
        h = x @ W1 + b1
        a1 = np.maximum(h, 0)
        z = a1 @ W2 + b2
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        p = e / e.sum(axis=1, keepdims=True)
        rows = np.arange(n)
        -np.log(p[rows, y]).mean()  # the loss value
        dz = p
        dz[rows, y] -= 1
        dz /= n
        dW2 = a1.T @ dz
        db2 = dz.sum(axis=0)
        dh = (dz @ W2.T) * (h > 0)
        dW1 = x.T @ dh
        db1 = dh.sum(axis=0)
        for p_, g in zip(params, (dW1, db1, dW2, db2)):
            p_ -= LEARNING_RATE * g

    for batch in (32, 256):
        x, y, params = mlp_data(batch)
        out["mlp%d" % batch] = timer(lambda x=x, y=y, p=params: train_step(x, y, p))

    ma, mb = matmul_data()
    out["matmul"] = timer(lambda: np.matmul(ma, mb))

    numpy_kernels(timer, out)
    numpy_softmax(timer, out)
    for key in ("linreg", "mlp32", "mlp256"):   # the references of the traced rows
        out[key + "_traced"] = out[key]

    out["import"] = time_import("numpy", quick)
    return out


# -- PyTorch ----------------------------------------------------------------------------------

def torch_cnn_model(torch):
    """The guide's MNIST CNN in PyTorch (NCHW), in training mode (dropout on)."""
    nn = torch.nn
    cnn = nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Flatten(), nn.Linear(7 * 7 * 64, 1024), nn.ReLU(), nn.Dropout(0.4),
        nn.Linear(1024, 10))
    cnn.train()
    return cnn


def torch_train_step(torch, model, optimizer, x, y):
    optimizer.zero_grad(set_to_none=True)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss


def torch_kernels(torch, timer, out):
    """The PyTorch side of ``tapegrad_kernels`` (and ``torch_softmax``: of
    ``tapegrad_softmax``)."""
    a, b = (torch.from_numpy(v) for v in big_vectors())
    out["exp"] = timer(lambda: torch.exp(a))
    out["tanh"] = timer(lambda: torch.tanh(a))
    out["add"] = timer(lambda: torch.add(a, b))
    out["reduce_sum"] = timer(lambda: torch.sum(a))


def torch_softmax(torch, timer, out):
    x, w = (torch.from_numpy(v) for v in softmax_data())
    x.requires_grad_(True)
    out["softmax"] = timer(
        lambda: torch.autograd.grad(torch.softmax(x, -1), x, grad_outputs=w))


def _nchw(images):
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2))


def torch_epoch(torch, epochs, mnist_dir):
    images, labels, source = mnist_epoch_data(mnist_dir)
    images = _nchw(images)                      # the layout once, outside the timing
    cnn = torch_cnn_model(torch)
    adam = torch.optim.Adam(cnn.parameters(), lr=1e-3)

    def step(x, y):
        return torch_train_step(torch, cnn, adam, x, y).detach()

    step(torch.from_numpy(images[:CNN_BATCH]), torch.from_numpy(labels[:CNN_BATCH]))
    result = time_epochs(epochs, epoch_runner(step, images, labels, torch.from_numpy,
                                              torch.from_numpy))
    result.update(source=source, digits=len(images))
    return result


def torch_peakmem(torch):
    images, labels = cnn_data()
    ci, cl = torch.from_numpy(_nchw(images)), torch.from_numpy(labels)

    def run():
        cnn = torch_cnn_model(torch)
        adam = torch.optim.Adam(cnn.parameters(), lr=1e-3)
        for _ in range(PEAKMEM_STEPS):
            torch_train_step(torch, cnn, adam, ci, cl)

    return peak_rss_increase(run)


def import_torch(threads):
    """``(torch, None)`` with ``threads`` intra-op threads and the benchmark seed, or
    ``(None, why not)``."""
    try:
        import torch
    except ImportError as e:
        return None, str(e)
    torch.set_num_threads(threads)
    torch.manual_seed(SEED)
    return torch, None


def torch_workloads(args, timer):
    torch, error = import_torch(args.threads)
    if torch is None:
        return {"available": False, "error": error}
    quick = args.quick
    nn = torch.nn
    out = {"version": torch.__version__, "threads": torch.get_num_threads()}

    a, b = torch.tensor([1.5]), torch.tensor([2.5])
    out["add1"] = timer(lambda: torch.add(a, b))

    w = torch.tensor(3.0, requires_grad=True)
    out["scalar_step"] = timer(lambda: torch.autograd.grad(w * w, w))

    xs, ys = (torch.from_numpy(v) for v in linreg_data())

    def linreg():
        W = torch.tensor(5.0, requires_grad=True)
        B = torch.tensor(10.0, requires_grad=True)
        for _ in range(LINREG_STEPS):
            loss = torch.mean(torch.square(xs * W + B - ys))
            dW, dB = torch.autograd.grad(loss, [W, B])
            with torch.no_grad():
                W -= dW * LEARNING_RATE
                B -= dB * LEARNING_RATE
    out["linreg"] = timer(linreg)

    def train_step(model, optimizer, x, y):
        torch_train_step(torch, model, optimizer, x, y)

    for batch in (32, 256):
        xn, yn, (W1, b1, W2, b2) = mlp_data(batch)
        model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
        with torch.no_grad():
            for param, value in zip(model.parameters(), (W1.T, b1, W2.T, b2)):
                param.copy_(torch.from_numpy(np.ascontiguousarray(value)))
        sgd = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
        x, y = torch.from_numpy(xn), torch.from_numpy(yn)
        out["mlp%d" % batch] = timer(lambda m=model, o=sgd, x=x, y=y: train_step(m, o, x, y))

    ma, mb = (torch.from_numpy(v) for v in matmul_data())
    out["matmul"] = timer(lambda: torch.mm(ma, mb))
    torch_kernels(torch, timer, out)
    torch_softmax(torch, timer, out)

    x0 = torch.tensor(0.5, requires_grad=True)

    def tanh4():
        y = torch.tanh(x0)
        for _ in range(4):
            (y,) = torch.autograd.grad(y, x0, create_graph=True)
        return y
    out["tanh4"] = timer(tanh4)
    out["tanh4_value"] = float(tanh4())

    cnn = torch_cnn_model(torch)
    images, labels = cnn_data()
    ci = torch.from_numpy(_nchw(images))
    adam = torch.optim.Adam(cnn.parameters(), lr=1e-3)
    out["cnn64"] = timer(lambda: train_step(cnn, adam, ci, torch.from_numpy(labels)))
    out["cnn64_traced"] = out["cnn64"]           # the reference of the traced row

    # PyTorch's NaN finder for the same steps: autograd.detect_anomaly
    xn, yn, (W1, b1, W2, b2) = mlp_data(32)
    mlp = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    sgd = torch.optim.SGD(mlp.parameters(), lr=LEARNING_RATE)
    x, y = torch.from_numpy(xn), torch.from_numpy(yn)
    cl = torch.from_numpy(labels)
    out["mlp32_plain"] = timer(lambda: train_step(mlp, sgd, x, y))
    out["cnn64_plain"] = timer(lambda: train_step(cnn, adam, ci, cl))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # "anomaly detection is enabled"
        with torch.autograd.detect_anomaly():
            out["mlp32_checked"] = timer(lambda: train_step(mlp, sgd, x, y))
            out["cnn64_checked"] = timer(lambda: train_step(cnn, adam, ci, cl))

    # LSTM(128) over MNIST rows (issue 21)
    class RowLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(28, 128, batch_first=True)
            self.fc = nn.Linear(128, 10)

        def forward(self, x):
            return self.fc(self.lstm(x)[0][:, -1])

    row_lstm = RowLSTM()
    lstm_adam = torch.optim.Adam(row_lstm.parameters(), lr=1e-3)
    rows = torch.from_numpy(np.ascontiguousarray(images.reshape(CNN_BATCH, 28, 28)))
    out["lstm64"] = timer(lambda: train_step(row_lstm, lstm_adam, rows,
                                             torch.from_numpy(labels)))

    if args.epochs:
        out["mnist_epoch"] = torch_epoch(torch, args.epochs, args.mnist_dir)
    out["import"] = time_import("torch", quick)
    return out


# -- the table ------------------------------------------------------------------------------

def fmt_time(seconds):
    if seconds is None:
        return "n/a"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return "%.3g %s" % (seconds / scale, unit)
    return "%.3g ns" % (seconds / 1e-9)


def _median(results, fw, key):
    entry = results.get(fw, {}).get(key)
    return entry["median"] if isinstance(entry, dict) and "median" in entry else None


def _ratio(num, den):
    return None if num is None or den is None else num / den


def _fmt_ratio(r):
    return "n/a" if r is None else "%.2f×" % r


def _status(ok):
    return "n/a" if ok is None else ("OK" if ok else "MISS")


def numpy_ratio_at_most(limit):
    """A budget on the tapegrad/NumPy ratio (None: no NumPy reference in this run)."""
    return lambda t, n, p, rn, rp: None if rn is None else rn <= limit


def torch_ratio_at_most(limit):
    """A budget on the tapegrad/PyTorch ratio (None: no PyTorch in this run)."""
    return lambda t, n, p, rn, rp: None if rp is None else rp <= limit


def time_at_most(seconds):
    """A budget on tapegrad's own time."""
    return lambda t, n, p, rn, rp: t <= seconds


# (key, label, budget text, check(tg, np, torch, r_np, r_torch) -> bool or None)
WORKLOADS = [
    ("add1", "`tg.add`, two 1-element float32 tensors, no tape", "≤ 1.0× NumPy",
     numpy_ratio_at_most(1.0)),
    ("scalar_step", "scalar tape step `y = w*w; tape.gradient(y, w)` (w a Variable)",
     "≤ 3 µs", time_at_most(3e-6)),
    ("linreg", "guide's linear regression, 200 steps, 1000 points", "≤ 1.3× NumPy",
     numpy_ratio_at_most(1.3)),
    ("mlp32", "MLP 784-128-10 SGD step, batch 32", "≤ 0.7× NumPy",
     numpy_ratio_at_most(0.7)),
    ("mlp256", "MLP 784-128-10 SGD step, batch 256", "≤ 0.9× NumPy",
     numpy_ratio_at_most(0.9)),
    ("matmul", "matmul 1000×1000 float32", "≥ 0.95× NumPy's speed (≤ 1.05× time)",
     numpy_ratio_at_most(1 / 0.95)),
    # issue 25: the kernels the intra-op thread pool parallelizes
    ("exp", "`tg.exp`, 10^7 float32, no tape", "≤ 0.6× NumPy",
     numpy_ratio_at_most(0.6)),
    ("tanh", "`tg.tanh`, 10^7 float32, no tape", "≤ 0.6× NumPy",
     numpy_ratio_at_most(0.6)),
    ("add", "`tg.add`, two 10^7 float32 tensors, no tape", "≤ 0.9× NumPy",
     numpy_ratio_at_most(0.9)),
    ("reduce_sum", "`tg.reduce_sum`, 10^7 float32 to a scalar, no tape", "≤ 0.9× NumPy",
     numpy_ratio_at_most(0.9)),
    ("softmax", "`tg.nn.softmax` 1000×10000 float32 + gradient with a cotangent",
     "≤ 0.9× PyTorch", torch_ratio_at_most(0.9)),
    ("tanh4", "4th derivative of tanh at a scalar, nested tapes", "≤ 100 µs",
     time_at_most(100e-6)),
    ("jet8", "derivatives 1..8 of tanh at a scalar, one `tg.derivatives` (Taylor mode)",
     "≤ 100 µs", time_at_most(100e-6)),
    ("jet4", "derivatives 1..4 of tanh at a scalar, Taylor mode", "≤ 30 µs",
     time_at_most(30e-6)),
    ("cnn64", "MNIST CNN training step (Adam), batch 64", "≤ 0.85× PyTorch",
     torch_ratio_at_most(0.85)),
    ("mnist_epoch", "MNIST CNN epoch (Adam, batch 64) over 8,000 real digits",
     "≤ 0.9× PyTorch", torch_ratio_at_most(0.9)),
    ("cnn64_peakmem", "peak RSS increase: build the MNIST CNN + 5 Adam steps, batch 64 "
     "(fresh process)", "≤ PyTorch's",
     lambda t, n, p, rn, rp: None if p is None else t <= p),
    # tg.function rows: traced and replayed steps against the eager NumPy/PyTorch references
    ("scalar_step_traced", "scalar `w*w` step with gradient, traced", "≤ 2 µs",
     time_at_most(2e-6)),
    ("linreg_traced", "guide's linear regression, 200 steps, traced step", "≤ 1.0× NumPy",
     numpy_ratio_at_most(1.0)),
    ("mlp32_traced", "MLP 784-128-10 SGD step, batch 32, traced", "≤ 0.6× NumPy",
     numpy_ratio_at_most(0.6)),
    ("mlp256_traced", "MLP 784-128-10 SGD step, batch 256, traced", "≤ 0.9× NumPy",
     numpy_ratio_at_most(0.9)),
    ("cnn64_traced", "MNIST CNN training step (Adam), batch 64, traced", "≤ 0.9× PyTorch",
     torch_ratio_at_most(0.9)),
    ("cnn_trace", "trace time of the CNN step (first call of a fresh tg.function)",
     "≤ 50 ms", time_at_most(50e-3)),
    ("lstm64", "LSTM(128) over 28 MNIST rows + Dense(10), Adam step, batch 64",
     "≤ 1.5× PyTorch", torch_ratio_at_most(1.5)),
    ("import", "`python -c \"import <framework>\"` (fresh process, wall)",
     "≤ NumPy + 0.05 s",
     lambda t, n, p, rn, rp: None if n is None else t <= n + 0.05),
]

UNITS = {"cnn64_peakmem": "MiB"}   # rows whose values are not seconds


def fmt_value(key, value):
    """A row's value: seconds as a time, the rows in UNITS with their unit."""
    if value is None or key not in UNITS:
        return fmt_time(value)
    return "%.1f %s" % (value, UNITS[key])


def table(results):
    lines = ["| workload | tapegrad | NumPy | PyTorch | tg/NumPy | tg/PyTorch | budget | status |",
             "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    for key, label, budget, check in WORKLOADS:
        t, n, p = (_median(results, fw, key) for fw in FRAMEWORKS)
        if t is None and n is None and p is None:
            continue
        rn, rp = _ratio(t, n), _ratio(t, p)
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            label, fmt_value(key, t), fmt_value(key, n), fmt_value(key, p),
            _fmt_ratio(rn), _fmt_ratio(rp),
            budget, _status(None if t is None else check(t, n, p, rn, rp))))
    mem = results.get("tapegrad", {}).get("memory")
    if mem:
        rss = mem["rss_mib"]
        growth = rss[-1] - rss[0]
        lines.append("| %s tape steps of the MLP (batch 32): RSS before / after %s warm-up "
                     "steps / at the end | %.1f / %.1f / %.1f MiB (%+.2f MiB after warm-up) "
                     "| n/a | n/a | | | no growth after warm-up (≤ +1 MiB) | %s |"
                     % ("{:,}".format(mem["steps"]), "{:,}".format(MEMORY_WARMUP),
                        mem["rss_before_warmup_mib"], rss[0], rss[-1], growth,
                        _status(growth <= 1.0)))
    return "\n".join(lines)


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown CPU"


def report(results, args, load_before, load_after, elapsed):
    versions = ["Python %s" % platform.python_version()]
    for fw, name in (("tapegrad", "tapegrad"), ("numpy", "NumPy"), ("torch", "PyTorch")):
        v = results.get(fw, {}).get("version")
        versions.append("%s %s" % (name, v if v else "n/a"))
    torch_threads = results.get("torch", {}).get("threads")
    tg_threads = results.get("tapegrad", {}).get("threads")
    mem = results.get("tapegrad", {}).get("memory")
    lines = [
        "Date: %s UTC" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "Machine: %s, %d logical CPUs, %s" % (cpu_model(), os.cpu_count(), platform.platform()),
        "Versions: %s" % ", ".join(versions),
        "Threads: OMP/OPENBLAS/MKL_NUM_THREADS=%d in every worker; torch.set_num_threads(%d)%s"
        % (args.threads, args.threads,
           "" if torch_threads is None else " (torch reports %d)" % torch_threads),
        "tapegrad intra-op threads: %s" % (
            "%s (tg.config.threading.set_intra_op_parallelism_threads(%d))"
            % (tg_threads, args.threads) if tg_threads is not None
            else "no thread pool in this tapegrad (no tg.config.threading)"),
        "Load average (1 min) before/after: %.2f / %.2f; run took %.0f s%s"
        % (load_before, load_after, elapsed, " (--quick)" if args.quick else ""),
        "Times are medians of repeated samples after a warm-up (time.perf_counter).",
    ]
    if args.threads > 1 and load_before > 0.5:
        lines.append("WARNING: other processes were running (load %.2f) while BLAS used %d "
                     "threads: a multithreaded GEMM then waits for a descheduled thread, and "
                     "small products take milliseconds instead of microseconds. Rerun on a "
                     "quiet machine or with --threads 1." % (load_before, args.threads))
    lines += ["", table(results)]
    if _median(results, "tapegrad", "mlp32_checked") is not None:
        lines += ["", numerics_overheads(results)]
    t4 = [results.get(fw, {}).get("tanh4_value") for fw in ("tapegrad", "torch")]
    if t4[0] is not None:
        lines += ["", "4th derivative of tanh at 0.5: tapegrad %.6f, PyTorch %s (exact %.6f)"
                  % (t4[0], "n/a" if t4[1] is None else "%.6f" % t4[1], _tanh4_exact(0.5))]
    lines += epoch_and_peakmem_notes(results)
    if mem:
        lines += ["", "RSS samples (MiB, after gc.collect() and malloc_trim) every %s steps: "
                  "%s (%.1f s)"
                  % ("{:,}".format(max(1, mem["steps"] // 10)),
                     ", ".join("%.1f" % r for r in mem["rss_mib"]), mem["seconds"])]
    return "\n".join(lines)


def epoch_and_peakmem_notes(results):
    """What the MNIST epoch and peak-memory rows ran on, and how they measured."""
    lines = []
    epochs = {fw: results.get(fw, {}).get("mnist_epoch") for fw in ("tapegrad", "torch")}
    first = next((e for e in epochs.values() if e), None)
    if first:
        lines += ["", "MNIST epoch: %d digits from %s; %d epoch(s) per framework after one "
                  "warm-up step, median shown; epoch times / mean losses: %s"
                  % (first["digits"], first["source"], first["repeats"], "; ".join(
                      "%s %s / %s" % (fw, ", ".join("%.2f s" % t for t in e["samples"]),
                                      ", ".join("%.3f" % v for v in e["losses"]))
                      for fw, e in epochs.items() if e))]
    peaks = {fw: results.get(fw, {}).get("cnn64_peakmem") for fw in ("tapegrad", "torch")}
    if any(peaks.values()):
        lines += ["", "Peak memory: each framework in a fresh process builds the CNN and "
                  "takes %d Adam steps on one batch of 64; peak RSS (%s) minus the RSS just "
                  "before building the model: %s"
                  % (PEAKMEM_STEPS, next(p for p in peaks.values() if p)["method"], "; ".join(
                      "%s %.1f MiB (RSS before %.1f MiB, peak %.1f MiB%s)"
                      % (fw, p["median"], p["rss_before_mib"], p["peak_mib"], "".join(
                          ", %s %+.1f MiB after the steps" % (k, v)
                          for k, v in p.get("after_minus_before_mib", {}).items()))
                      for fw, p in peaks.items() if p))]
    return lines


def numerics_overheads(results):
    """tg.debugging.enable_check_numerics() against torch.autograd.detect_anomaly()."""
    lines = ["| NaN/Inf checking on | tapegrad off / on | overhead | PyTorch off / "
             "detect_anomaly | overhead | budget |", "| --- | --- | ---: | --- | ---: | --- |"]
    for key, label, budget in (("mlp32", "MLP SGD step, batch 32", "≤ 5%"),
                               ("cnn64", "MNIST CNN Adam step, batch 64", "≤ 10%")):
        cells = []
        for fw in ("tapegrad", "torch"):
            off = _median(results, fw, key + "_plain")
            on = _median(results, fw, key + "_checked")
            cells.append("n/a" if off is None else "%s / %s" % (fmt_time(off), fmt_time(on)))
            cells.append("n/a" if off is None else "%+.1f%%" % (100 * (on / off - 1)))
        lines.append("| %s | %s | %s | %s | %s | %s |" % ((label,) + tuple(cells) + (budget,)))
    return "\n".join(lines)


def _tanh4_exact(x):
    t = np.tanh(x)
    return 8 * t * (1 - t * t) * (2 - 3 * t * t)


# -- driver -----------------------------------------------------------------------------------

def peakmem_worker(args):
    """The ``cnn64_peakmem`` row, alone in a fresh process (tapegrad or torch)."""
    if args.worker == "tapegrad":
        import tapegrad as tg

        tg.random.set_seed(SEED)
        set_tapegrad_threads(tg, args.threads)
        return {"cnn64_peakmem": tapegrad_peakmem(tg)}
    torch, error = import_torch(args.threads)
    if torch is None:
        return {"available": False, "error": error}
    return {"cnn64_peakmem": torch_peakmem(torch)}


PEAKMEM_FRAMEWORKS = ("tapegrad", "torch")


def run_worker(args):
    if args.task == "peakmem":
        out = peakmem_worker(args)
    elif args.worker == "tapegrad":
        out = tapegrad_workloads(args, Timer(args.quick))
    elif args.worker == "numpy":
        out = numpy_workloads(args.quick, args.memory_steps, Timer(args.quick))
    else:
        out = torch_workloads(args, Timer(args.quick))
    print(json.dumps(out))


def spawn(fw, args, task="main"):
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(args.threads)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", fw,
           "--threads", str(args.threads), "--memory-steps", str(args.memory_steps),
           "--epochs", str(args.epochs), "--mnist-dir", args.mnist_dir, "--task", task]
    if args.quick:
        cmd.append("--quick")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit("compare.py: the %s worker (%s) failed (exit %d)"
                         % (fw, task, proc.returncode))
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if result.get("available") is False:
        print("compare.py: %s not available (%s); its columns say n/a" % (fw, result["error"]),
              file=sys.stderr)
        return {}
    return result


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--scientific" in argv:  # linalg/special/FFT vs NumPy, SciPy, PyTorch (issue 17)
        import compare_scientific

        return compare_scientific.main([a for a in argv if a != "--scientific"])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer repeats and %d memory steps" % 3000)
    parser.add_argument("--memory-steps", type=int, default=None,
                        help="tape steps of the MLP for the RSS check (default 20000; "
                             "the budget names 100000)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="BLAS / torch / tapegrad intra-op threads in every worker "
                             "(default: CPU count)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="MNIST CNN epochs timed per framework (default 3, --quick 1; "
                             "0 skips the epoch row)")
    parser.add_argument("--mnist-dir", default=MNIST_DIR,
                        help="the MNIST t10k IDX files (default: ../shared/data/mnist from "
                             "the project root; tapegrad's shipped slice without them)")
    parser.add_argument("--no-peakmem", action="store_true",
                        help="skip the peak-memory row (its two extra worker processes)")
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS),
                        help="comma-separated subset of %s" % ", ".join(FRAMEWORKS))
    parser.add_argument("--json", help="also write the raw results to this file")
    parser.add_argument("--output", help="also write the Markdown report to this file")
    parser.add_argument("--worker", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    parser.add_argument("--task", choices=("main", "peakmem"), default="main",
                        help=argparse.SUPPRESS)
    parser.add_argument("--array-ops", action="store_true",
                        help="only the array-op forwards vs NumPy at 10^5 elements (h18)")
    args = parser.parse_args(argv)
    if args.array_ops:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from array_ops_compare import main as array_ops_main

        return array_ops_main(args.quick)
    if args.memory_steps is None:
        args.memory_steps = 3000 if args.quick else 20000
    if args.epochs is None:
        args.epochs = 1 if args.quick else 3
    if args.worker:
        return run_worker(args)
    chosen = [fw.strip() for fw in args.frameworks.split(",") if fw.strip()]
    unknown = sorted(set(chosen) - set(FRAMEWORKS))
    if unknown:
        parser.error("unknown frameworks %s; choose from %s" % (unknown, FRAMEWORKS))
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    results = {}
    for fw in chosen:
        print("compare.py: running %s ..." % fw, file=sys.stderr, flush=True)
        results[fw] = spawn(fw, args)
    for fw in chosen:
        if fw in PEAKMEM_FRAMEWORKS and not args.no_peakmem and results[fw]:
            print("compare.py: peak memory of %s ..." % fw, file=sys.stderr, flush=True)
            results[fw].update(spawn(fw, args, "peakmem"))
    text = report(results, args, load_before, os.getloadavg()[0], time.perf_counter() - t0)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
