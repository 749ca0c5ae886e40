"""Seeded random tensors.

``set_seed`` resets one process-wide generator.  Each random op draws a fresh 64-bit
key from it (or derives one from an op-level ``seed``) and the backend expands that
key counter-style (NumPy's Philox on CPU, the CUDA kernels' Philox on GPU), so a run
is reproducible under a seed and ops never share state between devices.
"""

import numpy as np

from tapegrad import _core
from tapegrad.ops._registry import (
    NotSupported,
    as_dtype,
    norm_shape,
    not_differentiable,
    tensor,
)
from tapegrad.ops._registry import int_arg as _int_arg
from tapegrad.ops._registry import onnx_rules as _onnx_rules
from tapegrad.ops.indexing import gather

_state = {"seed": None, "rng": np.random.default_rng(), "op_counts": {}}


def set_seed(seed):
    """Make every later random op (and layer initializer) reproducible."""
    _state["op_counts"] = {}
    if seed is None:
        _state["seed"] = None
        _state["rng"] = np.random.default_rng()
        return
    seed = _seed_int(seed, "set_seed")
    _state["seed"] = seed
    _state["rng"] = np.random.default_rng(seed)


def _seed_int(seed, op, allow_negative=False):
    # an int seed; NumPy's own errors ("invalid literal for int()", "expected non-negative
    # integer") would not say which call got the bad seed
    return _int_arg(seed, "seed", op, minimum=None if allow_negative else 0)


def get_seed():
    """The global seed set by ``set_seed`` (None when unset)."""
    return _state["seed"]


def numpy_rng():
    """The process-wide NumPy Generator that obeys ``set_seed`` (host-side randomness)."""
    return _state["rng"]


def _key(seed, op="random"):
    if seed is None:
        return int(_state["rng"].integers(0, 2 ** 63))
    # An op-level seed is combined with the global one and a per-seed call counter, as in
    # TensorFlow 2: repeated calls differ, and set_seed restarts the sequence.
    seed = _seed_int(seed, op, allow_negative=True)   # masked to 63 bits below
    base = 0 if _state["seed"] is None else _state["seed"]
    count = _state["op_counts"].get(seed, 0)
    _state["op_counts"][seed] = count + 1
    entropy = [int(base) & (2 ** 63 - 1), int(seed) & (2 ** 63 - 1), count]
    return int(np.random.SeedSequence(entropy).generate_state(2, np.uint64)[0] >> np.uint64(1))


def _gen(key):
    return np.random.Generator(np.random.Philox(key))


@not_differentiable("random_normal")
def _normal(shape, mean, stddev, dtype, key):
    """Normal samples."""
    return (_gen(key).standard_normal(shape) * stddev + mean).astype(dtype)


@not_differentiable("random_uniform")
def _uniform(shape, minval, maxval, dtype, key):
    """Uniform samples in [minval, maxval)."""
    g = _gen(key)
    if np.dtype(dtype).kind in "iu":
        return g.integers(minval, maxval, size=shape, dtype=dtype)
    return (g.random(shape) * (maxval - minval) + minval).astype(dtype)


@not_differentiable("random_truncated_normal")
def _truncated_normal(shape, mean, stddev, dtype, key):
    """Normal samples redrawn until within two standard deviations."""
    g = _gen(key)
    out = g.standard_normal(shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = g.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2
    return (out * stddev + mean).astype(dtype)


def _check_float(dtype, op):
    dt = as_dtype(dtype, op)
    if dt.kind != "f":
        raise TypeError("%s: dtype must be floating, got %s" % (op, dt))
    return dt


def normal(shape, mean=0.0, stddev=1.0, dtype=np.float32, seed=None, name=None):
    """Samples of N(mean, stddev**2) of ``shape``."""
    return _normal(shape=norm_shape(shape, "random.normal"), mean=float(mean),
                   stddev=float(stddev), dtype=_check_float(dtype, "random.normal"),
                   key=_key(seed, "random.normal"))


def uniform(shape, minval=0, maxval=None, dtype=np.float32, seed=None, name=None):
    """Samples uniform in [minval, maxval) of ``shape`` (maxval defaults to 1 for floats)."""
    dt = as_dtype(dtype, "random.uniform")
    if dt.kind in "iu":
        if maxval is None:
            raise ValueError("random.uniform: integer dtypes need an explicit maxval")
        if int(maxval) <= int(minval):
            raise ValueError("random.uniform: need minval < maxval, got %r, %r"
                             % (minval, maxval))
        lo, hi = int(minval), int(maxval)
    elif dt.kind == "f":
        lo, hi = float(minval), 1.0 if maxval is None else float(maxval)
    else:
        raise TypeError("random.uniform: unsupported dtype %s" % dt)
    return _uniform(shape=norm_shape(shape, "random.uniform"), minval=lo, maxval=hi, dtype=dt,
                    key=_key(seed, "random.uniform"))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=np.float32, seed=None, name=None):
    """Normal samples redrawn until within two standard deviations of the mean."""
    return _truncated_normal(shape=norm_shape(shape, "random.truncated_normal"),
                             mean=float(mean), stddev=float(stddev),
                             dtype=_check_float(dtype, "random.truncated_normal"),
                             key=_key(seed, "random.truncated_normal"))


def shuffle(value, seed=None, name=None):
    """``value`` with its first axis randomly permuted."""
    if _core._get_tracer() is not None:
        # inside tg.function: a host step, so every call draws a new permutation
        from tapegrad.graph.trace import host_call

        return host_call(_shuffle)(value, seed, name)
    return _shuffle(value, seed, name)


def _shuffle(value, seed=None, name=None):
    x = tensor(value, op="random.shuffle")
    perm = _gen(_key(seed, "random.shuffle")).permutation(x.shape[0]) if x.ndim else None
    if perm is None:
        return x
    return gather(x, _core.wrap(perm.astype(np.int64)))


# ONNX: a random draw has no deterministic inference meaning (dropout is the identity
# at training=False, so exported models never reach these)
_RANDOM = NotSupported("random sampling: export the inference forward (training=False)")
_onnx_rules({"random_normal": _RANDOM, "random_uniform": _RANDOM,
             "random_truncated_normal": _RANDOM})
# vmap: one key per example would need counter-based keys; draw outside and map instead
for _name in ("random_normal", "random_uniform", "random_truncated_normal"):
    _core.registered()[_name].defrule("batch", NotSupported(
        "random sampling inside vmap: draw the samples outside and map over them"))
