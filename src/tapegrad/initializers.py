"""Variable initializers (Keras' ``tf.keras.initializers``).

An initializer is a callable ``init(shape, dtype=tg.float32)`` returning a Tensor.  The
random ones draw through ``tg.random`` so ``tg.random.set_seed`` makes them
reproducible and a ``tg.device`` scope places the values.  ``get(identifier)`` turns a
name (``"glorot_uniform"``), a config dict, an initializer or a plain callable into one.
"""

import math

import numpy as np

import tapegrad as tg

__all__ = [
    "Initializer",
    "Zeros",
    "Ones",
    "Constant",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "GlorotUniform",
    "GlorotNormal",
    "HeNormal",
    "HeUniform",
    "LecunNormal",
    "LecunUniform",
    "Orthogonal",
    "get",
    "serialize",
]

# stddev of a unit normal truncated to [-2, 2]: dividing by it makes the truncated
# draw's variance the requested one (as Keras' VarianceScaling does).
_TRUNCATED_STDDEV = 0.87962566103423978


def _check_shape(shape, where):
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        dims = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise TypeError(f"{where}: shape must be a sequence of ints, got {shape!r}") from None
    if any(d < 0 for d in dims):
        raise ValueError(f"{where}: shape dimensions must be >= 0, got {dims}")
    return dims


def _float_dtype(dtype, where):
    dtype = np.dtype(tg.float32 if dtype is None else dtype)
    if dtype.kind != "f":
        raise TypeError(f"{where}: random initializers need a floating dtype, got {dtype}")
    return dtype


def _compute_fans(shape):
    """``(fan_in, fan_out)`` of a kernel: HWIO conv kernels count the receptive field."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * receptive_field, shape[-1] * receptive_field


class Initializer:
    """Base class: subclasses implement ``__call__(shape, dtype=None)``."""

    def __call__(self, shape, dtype=None):
        raise TypeError(f"{type(self).__name__} does not implement __call__")

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    def __call__(self, shape, dtype=None):
        shape = _check_shape(shape, "Zeros")
        return tg.zeros(shape, dtype=np.dtype(tg.float32 if dtype is None else dtype))


class Ones(Initializer):
    def __call__(self, shape, dtype=None):
        shape = _check_shape(shape, "Ones")
        return tg.ones(shape, dtype=np.dtype(tg.float32 if dtype is None else dtype))


class Constant(Initializer):
    """Fills with ``value``: a scalar, or an array broadcastable to the shape."""

    def __init__(self, value=0):
        self.value = value

    def __call__(self, shape, dtype=None):
        shape = _check_shape(shape, "Constant")
        dtype = np.dtype(tg.float32 if dtype is None else dtype)
        value = np.asarray(self.value, dtype=dtype)
        try:
            filled = np.broadcast_to(value, shape)
        except ValueError:
            raise ValueError(
                f"Constant: value of shape {value.shape} cannot fill shape {shape}"
            ) from None
        return tg.constant(np.ascontiguousarray(filled), dtype=dtype)

    def get_config(self):
        value = self.value
        return {"value": value.tolist() if isinstance(value, np.ndarray) else value}


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        if stddev < 0:
            raise ValueError(f"RandomNormal: stddev must be >= 0, got {stddev}")
        self.mean, self.stddev, self.seed = float(mean), float(stddev), seed

    def __call__(self, shape, dtype=None):
        shape = _check_shape(shape, "RandomNormal")
        dtype = _float_dtype(dtype, "RandomNormal")
        return tg.random.normal(shape, mean=self.mean, stddev=self.stddev, dtype=dtype,
                                seed=self.seed)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        if maxval < minval:
            raise ValueError(f"RandomUniform: maxval {maxval} is below minval {minval}")
        self.minval, self.maxval, self.seed = float(minval), float(maxval), seed

    def __call__(self, shape, dtype=None):
        shape = _check_shape(shape, "RandomUniform")
        dtype = _float_dtype(dtype, "RandomUniform")
        return tg.random.uniform(shape, minval=self.minval, maxval=self.maxval, dtype=dtype,
                                 seed=self.seed)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class TruncatedNormal(Initializer):
    """Normal values redrawn beyond two standard deviations from the mean."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        if stddev < 0:
            raise ValueError(f"TruncatedNormal: stddev must be >= 0, got {stddev}")
        self.mean, self.stddev, self.seed = float(mean), float(stddev), seed

    def __call__(self, shape, dtype=None):
        shape = _check_shape(shape, "TruncatedNormal")
        dtype = _float_dtype(dtype, "TruncatedNormal")
        return tg.random.truncated_normal(shape, mean=self.mean, stddev=self.stddev,
                                          dtype=dtype, seed=self.seed)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class VarianceScaling(Initializer):
    """Draws with variance ``scale / n``, ``n`` the fan-in, fan-out or their mean."""

    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "normal", "uniform")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        if scale <= 0:
            raise ValueError(f"VarianceScaling: scale must be > 0, got {scale}")
        if mode not in self._MODES:
            raise ValueError(f"VarianceScaling: mode must be one of {self._MODES}, got {mode!r}")
        if distribution not in self._DISTRIBUTIONS:
            raise ValueError(
                f"VarianceScaling: distribution must be one of {self._DISTRIBUTIONS}, "
                f"got {distribution!r}"
            )
        self.scale, self.mode, self.distribution, self.seed = (
            float(scale), mode, distribution, seed)

    def __call__(self, shape, dtype=None):
        name = type(self).__name__
        shape = _check_shape(shape, name)
        dtype = _float_dtype(dtype, name)
        fan_in, fan_out = _compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[
            self.mode]
        scale = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * scale)
            return tg.random.uniform(shape, minval=-limit, maxval=limit, dtype=dtype,
                                     seed=self.seed)
        if self.distribution == "truncated_normal":
            return tg.random.truncated_normal(shape, mean=0.0,
                                              stddev=math.sqrt(scale) / _TRUNCATED_STDDEV,
                                              dtype=dtype, seed=self.seed)
        return tg.random.normal(shape, mean=0.0, stddev=math.sqrt(scale), dtype=dtype,
                                seed=self.seed)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed}


class _FixedVarianceScaling(VarianceScaling):
    _ARGS = (1.0, "fan_in", "truncated_normal")

    def __init__(self, seed=None):
        super().__init__(*self._ARGS, seed=seed)

    def get_config(self):
        return {"seed": self.seed}


class GlorotUniform(_FixedVarianceScaling):
    """Uniform on ``[-l, l]``, ``l = sqrt(6 / (fan_in + fan_out))``: the default for kernels."""

    _ARGS = (1.0, "fan_avg", "uniform")


class GlorotNormal(_FixedVarianceScaling):
    _ARGS = (1.0, "fan_avg", "truncated_normal")


class HeNormal(_FixedVarianceScaling):
    """Truncated normal with stddev ``sqrt(2 / fan_in)`` (for ReLU networks)."""

    _ARGS = (2.0, "fan_in", "truncated_normal")


class HeUniform(_FixedVarianceScaling):
    _ARGS = (2.0, "fan_in", "uniform")


class LecunNormal(_FixedVarianceScaling):
    _ARGS = (1.0, "fan_in", "truncated_normal")


class LecunUniform(_FixedVarianceScaling):
    _ARGS = (1.0, "fan_in", "uniform")


# Keras' default recurrent_initializer (issue 21)
class Orthogonal(Initializer):
    """A random orthogonal matrix (Keras' default ``recurrent_initializer``), times ``gain``."""

    def __init__(self, gain=1.0, seed=None):
        self.gain = float(gain)
        self.seed = seed

    def __call__(self, shape, dtype=None):
        shape = tuple(int(d) for d in shape)
        if len(shape) < 2:
            raise ValueError(f"Orthogonal: needs a shape of rank >= 2, got {shape}")
        rows = int(np.prod(shape[:-1]))
        cols = shape[-1]
        rng = (np.random.default_rng(self.seed) if self.seed is not None
               else tg.random.numpy_rng())
        a = rng.normal(size=(max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))  # a uniform distribution over orthogonal matrices
        if rows < cols:
            q = q.T
        return (self.gain * q[:rows, :cols]).reshape(shape).astype(dtype or np.float32)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


_BY_NAME = {
    "zeros": Zeros,
    "ones": Ones,
    "constant": Constant,
    "random_normal": RandomNormal,
    "random_uniform": RandomUniform,
    "truncated_normal": TruncatedNormal,
    "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_normal": HeNormal,
    "he_uniform": HeUniform,
    "lecun_normal": LecunNormal,
    "lecun_uniform": LecunUniform,
    "orthogonal": Orthogonal,
}
_NAME_OF = {cls: name for name, cls in _BY_NAME.items()}

# Lower-case aliases, so ``tg.initializers.glorot_uniform()`` reads like Keras 1/TF 1.
zeros = Zeros
ones = Ones
constant = Constant
random_normal = RandomNormal
random_uniform = RandomUniform
truncated_normal = TruncatedNormal
variance_scaling = VarianceScaling
glorot_uniform = GlorotUniform
glorot_normal = GlorotNormal
he_normal = HeNormal
he_uniform = HeUniform
lecun_normal = LecunNormal
lecun_uniform = LecunUniform
orthogonal = Orthogonal


def get(identifier):
    """An initializer from a name, a ``{"class_name", "config"}`` dict, or a callable."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(
                f"initializers.get: unknown initializer {identifier!r}; known: {sorted(_BY_NAME)}"
            )
        return cls()
    if isinstance(identifier, dict):
        name = identifier.get("class_name")
        cls = _BY_NAME.get(str(name).lower()) or next(
            (c for c in _BY_NAME.values() if c.__name__ == name), None)
        if cls is None:
            raise ValueError(f"initializers.get: unknown initializer class {name!r}")
        return cls.from_config(identifier.get("config", {}))
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if callable(identifier):
        return identifier
    raise TypeError(
        f"initializers.get: expected a name, a config dict or a callable, got {identifier!r}"
    )


def serialize(initializer):
    """``{"class_name", "config"}`` of a built-in initializer (for ``get_config``)."""
    if isinstance(initializer, Initializer):
        return {"class_name": _NAME_OF.get(type(initializer), type(initializer).__name__),
                "config": initializer.get_config()}
    return initializer
