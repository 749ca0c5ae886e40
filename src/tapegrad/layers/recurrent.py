"""Recurrent layers: SimpleRNN, LSTM and GRU (and their cells), with Keras' weight layout.

Weights are Keras': ``kernel`` ``(input_dim, k * units)``, ``recurrent_kernel``
``(units, k * units)``, ``bias``; gate order LSTM ``i, f, c, o`` (as torch.nn.LSTM's
``i, f, g, o``), GRU ``z, r, h`` with ``reset_after=True`` (TF2's default: bias
``(2, 3 * units)``, input and recurrent halves, as torch.nn.GRU computes it), so
weights load from Keras and convert from PyTorch by transposing and reordering.

The standard cells (LSTM and GRU with sigmoid gates and tanh, GRU in both forms,
SimpleRNN with tanh; float32/float64, no mask) run fused (``_rnn_fused.py``): the input
projection of all steps is one matmul, the recurrence and its backward pass through
time are one C loop each (``_kernels_rnn.pxi``: a GEMM and one pass over the batch rows
per step), and a recording outer tape (second order, forward mode) gets the gradient
recomputed with differentiable ops.  Every other case loops in tapegrad ops, so
gradients of every order follow from the tape: each step costs two matmuls
(``x_t @ kernel`` and ``h @ recurrent_kernel``) and one activation per kind over
adjacent gates.  ``x_t`` is read from a time-major copy of the input, so reading it costs
nothing on the tape when the input needs no gradient.

Masking: ``Embedding(mask_zero=True)`` (or ``Masking``) attaches a ``(batch, time)``
boolean mask to its output; a recurrent layer then keeps the previous state (and, with
``return_sequences``, repeats the previous output) at masked steps, as Keras does.
"""

import weakref

import numpy as np

import tapegrad as tg
from tapegrad import initializers
from tapegrad.layers import activations
from tapegrad.layers.base import Layer

__all__ = ["SimpleRNNCell", "LSTMCell", "GRUCell", "RNN", "SimpleRNN", "LSTM",
           "GRU", "get_mask", "set_mask"]


def _initializer(value):
    return initializers.get(value)


# ---------------------------------------------------------------------- masks

# Tensors take no attributes, so masks live beside them: id(tensor) -> (weak reference,
# mask); the weak reference's callback drops the entry when the tensor dies, and the
# identity check on lookup guards against a reused id.
_masks = {}


def get_mask(tensor):
    """The ``(batch, time)`` boolean mask a masking layer attached to ``tensor``, or None."""
    entry = _masks.get(id(tensor))
    if entry is None or entry[0]() is not tensor:
        return None
    return entry[1]


def set_mask(tensor, mask):
    """Attach ``mask`` (a boolean NumPy array) to ``tensor``; returns the tensor."""
    key = id(tensor)
    if mask is None:
        _masks.pop(key, None)
        return tensor
    try:
        ref = weakref.ref(tensor, lambda _, key=key: _masks.pop(key, None))
    except TypeError:
        return tensor
    _masks[key] = (ref, np.asarray(mask, dtype=bool))
    return tensor


# ---------------------------------------------------------------------- cells


def _units(value, where):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{where}: units must be a positive int, got {value!r}")
    return int(value)


class _Cell(Layer):
    """Shared parts: ``build`` from the input's last dimension, ``call(x_t, states)``."""

    _gates = 1

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.units = _units(units, type(self).__name__)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _initializer(kernel_initializer)
        self.recurrent_initializer = _initializer(recurrent_initializer)
        self.bias_initializer = _initializer(bias_initializer)

    @property
    def state_size(self):
        return [self.units]

    def _bias_shape(self):
        return (self._gates * self.units,)

    def _bias_initial(self, shape, dtype=None):
        return self.bias_initializer(shape, dtype=dtype)

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim is None:
            raise ValueError(f"{type(self).__name__} {self.name!r}: the input's last dimension "
                             f"must be known, got {input_shape}")
        width = self._gates * self.units
        self.kernel = self.add_weight("kernel", (dim, width),
                                      initializer=self.kernel_initializer)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (self.units, width),
                                                initializer=self.recurrent_initializer)
        self.bias = (self.add_weight("bias", self._bias_shape(), initializer=self._bias_initial)
                     if self.use_bias else None)
        self.built = True

    def get_initial_state(self, batch_size, dtype):
        return [tg.zeros((batch_size, size), dtype=dtype) for size in self.state_size]

    def call(self, inputs, states):
        """One step: ``(output, new_states)`` for ``inputs`` ``(batch, input_dim)``."""
        projected = tg.matmul(inputs, self.kernel)
        if self.bias is not None and self._input_bias() is not None:
            projected = projected + self._input_bias()
        return self.step(projected, list(states))

    def _input_bias(self):
        return self.bias

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, activation=activations.serialize(self.activation),
                      use_bias=self.use_bias,
                      kernel_initializer=initializers.serialize(self.kernel_initializer),
                      recurrent_initializer=initializers.serialize(self.recurrent_initializer),
                      bias_initializer=initializers.serialize(self.bias_initializer))
        return config


class SimpleRNNCell(_Cell):
    """``h = activation(x @ kernel + h @ recurrent_kernel + bias)``."""

    _gates = 1

    def step(self, projected, states):
        h = self.activation(projected + tg.matmul(states[0], self.recurrent_kernel))
        return h, [h]


class LSTMCell(_Cell):
    """Long short-term memory; gates ``i, f, c, o`` side by side in every weight.

    ``i, f, o = sigmoid(...)``, ``c = f * c + i * activation(...)``,
    ``h = o * activation(c)``.  ``unit_forget_bias=True`` starts the forget gate's bias
    at 1 (Keras' default).
    """

    _gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 unit_forget_bias=True, **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)

    @property
    def state_size(self):
        return [self.units, self.units]

    def _bias_initial(self, shape, dtype=None):
        value = self.bias_initializer(shape, dtype=dtype)
        if self.unit_forget_bias:
            # tensor ops, not NumPy: built on a tg.function's first call, the layer's
            # initial values are traced tensors (whose .numpy() would raise)
            value = tg.convert_to_tensor(value, dtype=dtype)
            u = self.units
            value = tg.concat([value[:u], tg.ones((u,), dtype=value.dtype), value[2 * u:]], 0)
        return value

    def step(self, projected, states):
        h, c = states
        u = self.units
        z = projected + tg.matmul(h, self.recurrent_kernel)
        # one activation call per kind over adjacent gates: [i, f] and [o]
        if_gates = self.recurrent_activation(z[:, :2 * u])
        i = if_gates[:, :u]
        f = if_gates[:, u:]
        g = self.activation(z[:, 2 * u:3 * u])
        o = self.recurrent_activation(z[:, 3 * u:])
        c = f * c + i * g
        h = o * self.activation(c)
        return h, [h, c]

    def get_config(self):
        config = super().get_config()
        config.update(recurrent_activation=activations.serialize(self.recurrent_activation),
                      unit_forget_bias=self.unit_forget_bias)
        return config


class GRUCell(_Cell):
    """Gated recurrent unit; gates ``z, r, h`` side by side in every weight.

    ``reset_after=True`` (TF2's and cuDNN's form, torch.nn.GRU's too): the reset gate
    multiplies ``h @ recurrent_kernel_h + recurrent_bias_h``, and ``bias`` has shape
    ``(2, 3 * units)`` (input bias, recurrent bias).  ``reset_after=False`` (TF1's
    form): it multiplies ``h`` before the matmul, and ``bias`` is ``(3 * units,)``.
    ``h_new = z * h + (1 - z) * candidate``.
    """

    _gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 reset_after=True, **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _input_bias(self):
        return self.bias[0] if self.reset_after else self.bias

    def step(self, projected, states):
        h = states[0]
        u = self.units
        if self.reset_after:
            rec = tg.matmul(h, self.recurrent_kernel)
            if self.bias is not None:
                rec = rec + self.bias[1]
            zr = self.recurrent_activation(projected[:, :2 * u] + rec[:, :2 * u])
            z = zr[:, :u]
            r = zr[:, u:]
            candidate = self.activation(projected[:, 2 * u:] + r * rec[:, 2 * u:])
        else:
            zr = self.recurrent_activation(
                projected[:, :2 * u] + tg.matmul(h, self.recurrent_kernel[:, :2 * u]))
            z = zr[:, :u]
            r = zr[:, u:]
            candidate = self.activation(
                projected[:, 2 * u:] + tg.matmul(r * h, self.recurrent_kernel[:, 2 * u:]))
        h = z * h + (1.0 - z) * candidate
        return h, [h]

    def get_config(self):
        config = super().get_config()
        config.update(recurrent_activation=activations.serialize(self.recurrent_activation),
                      reset_after=self.reset_after)
        return config


# ---------------------------------------------------------------------- the loop


class RNN(Layer):
    """Runs a cell over the time axis of ``(batch, time, features)`` inputs.

    ``return_sequences``: every step's output ``(batch, time, units)`` instead of the
    last one.  ``return_state``: also return the final states (LSTM: ``h, c``).
    ``go_backwards``: read the sequence in reverse (the returned sequence is in that
    reversed order, as in Keras).  ``stateful=True`` is not supported.
    Call with ``initial_state=[...]`` to start from given states and ``mask=`` (a
    ``(batch, time)`` boolean array) to skip padded steps.
    """

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, time_major=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(cell, _Cell):
            raise TypeError(f"RNN: cell must be a SimpleRNNCell, LSTMCell or GRUCell, got "
                            f"{type(cell).__name__}")
        if stateful:
            raise ValueError(f"{type(self).__name__}: stateful=True is not supported; keep "
                             "the states with return_state=True and pass initial_state=")
        if time_major:
            raise ValueError(f"{type(self).__name__}: time_major=True is not supported")
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = False

    @property
    def units(self):
        return self.cell.units

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"{type(self).__name__} {self.name!r}: expected inputs of shape "
                             f"(batch, time, features), got {input_shape}")
        self.cell._build_for_shape((input_shape[0], input_shape[2]))
        self.built = True

    def call(self, inputs, mask=None, initial_state=None, training=None):
        shape = tuple(inputs.shape)
        if len(shape) != 3:
            raise ValueError(f"{type(self).__name__} {self.name!r}: expected inputs of shape "
                             f"(batch, time, features), got {shape}")
        batch, steps, _ = shape
        if mask is None:
            mask = get_mask(inputs)
        cell = self.cell
        kernel = getattr(cell, "kernel", None)
        if kernel is not None and shape[-1] != kernel.shape[0]:
            # a built layer called on another feature size would fail deep in a matmul
            raise ValueError(f"{type(self).__name__} {self.name!r}: expected inputs with "
                             f"{kernel.shape[0]} features (the size it was built for), got "
                             f"shape {shape}")
        if initial_state is None:
            states = cell.get_initial_state(batch, inputs.dtype)
        else:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) \
                else [initial_state]
            if len(states) != len(cell.state_size):
                raise ValueError(f"{type(self).__name__}: initial_state needs "
                                 f"{len(cell.state_size)} tensors, got {len(states)}")
            states = [tg.convert_to_tensor(s) if not isinstance(s, (tg.Tensor, tg.Variable))
                      else s for s in states]
            for s, size in zip(states, cell.state_size):
                if tuple(s.shape) != (batch, size):
                    raise ValueError(f"{type(self).__name__}: an initial state must have "
                                     f"shape {(batch, size)}, got {tuple(s.shape)}")
        if steps == 0:
            raise ValueError(f"{type(self).__name__}: the input has no time steps")
        # the fused kernels need a non-empty batch (they rejected batch 0 with an error
        # about their own buffers); the per-step loop handles it like any batch
        kind = self._fused_kind(inputs.dtype) if mask is None and batch > 0 else None
        if kind is not None:
            # default states are zeros: the fused kernels skip their products
            return self._call_fused(kind, inputs, None if initial_state is None else states)
        # Time-major once, so that step t is a contiguous slice.
        time_major = tg.transpose(inputs, (1, 0, 2))
        if mask is not None:
            mask_arr = np.asarray(mask.numpy() if hasattr(mask, "numpy") else mask, dtype=bool)
            if mask_arr.shape != (batch, steps):
                raise ValueError(f"{type(self).__name__}: mask must have shape "
                                 f"{(batch, steps)}, got {mask_arr.shape}")
            masks = tg.convert_to_tensor(mask_arr.T[:, :, None].astype(inputs.dtype))
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        outputs = []
        output = None
        # the cell is built; its call() directly saves Layer.__call__'s checks per step
        step = cell.call
        for t in order:
            output_t, new_states = step(time_major[t], states)
            if mask is not None:
                m = masks[t]
                keep = 1.0 - m
                new_states = [m * new + keep * old for new, old in zip(new_states, states)]
                previous = output if output is not None else tg.zeros_like(output_t)
                output_t = m * output_t + keep * previous
            states = new_states
            output = output_t
            if self.return_sequences:
                outputs.append(output_t)
        if self.return_sequences:
            result = tg.stack(outputs, axis=1)
            if mask is not None:
                set_mask(result, mask)
        else:
            result = output
        if self.return_state:
            return [result] + list(states)
        return result

    def _fused_kind(self, dtype):
        """Which fused recurrence (layers/_rnn_fused.py) runs this layer, or None: the
        standard cells (tanh, sigmoid gates; SimpleRNN with tanh) in float32/float64."""
        from tapegrad.layers import _rnn_fused

        cell = self.cell
        if cell.activation is not tg.tanh or not _rnn_fused.available(dtype):
            return None
        if type(cell) is SimpleRNNCell:
            return _rnn_fused.SIMPLE
        if getattr(cell, "recurrent_activation", None) is not tg.nn.sigmoid:
            return None
        if type(cell) is LSTMCell:
            return _rnn_fused.LSTM
        if type(cell) is GRUCell:
            return _rnn_fused.GRU if cell.reset_after else _rnn_fused.GRU_BEFORE
        return None

    def _call_fused(self, kind, inputs, states):
        """The standard cells through the fused recurrences (layers/_rnn_fused.py): one
        input projection matmul for all steps, then the loop (which adds the input bias)
        and its backward pass through time in C.  ``states`` None: zeros."""
        from tapegrad.layers import _rnn_fused

        cell = self.cell
        batch, steps, features = inputs.shape
        if self.go_backwards:
            inputs = inputs[:, ::-1]
        time_major = tg.reshape(tg.transpose(inputs, (1, 0, 2)), (steps * batch, features))
        width = cell._gates * cell.units
        projected = tg.reshape(tg.matmul(time_major, cell.kernel), (steps, batch, width))
        read = lambda v: v.read_value() if isinstance(v, tg.Variable) else v  # noqa: E731
        recurrent = read(cell.recurrent_kernel)
        bias = read(cell._input_bias()) if cell.bias is not None else None
        h0 = None if states is None else states[0]
        if kind == _rnn_fused.LSTM:
            c0 = None if states is None else states[1]
            packed = _rnn_fused.lstm_sequence(projected, recurrent, bias, h0, c0)
            h, c = packed[steps - 1], packed[steps]
            sequence = packed[:steps]
            final = [h, c]
        else:
            if kind == _rnn_fused.GRU:
                brec = cell.bias[1] if cell.bias is not None else None
                sequence = _rnn_fused.gru_sequence(projected, recurrent, bias, brec, h0)
            elif kind == _rnn_fused.GRU_BEFORE:
                sequence = _rnn_fused.gru_before_sequence(projected, recurrent, bias, h0)
            else:
                sequence = _rnn_fused.simple_sequence(projected, recurrent, bias, h0)
            h = sequence[steps - 1]
            final = [h]
        result = tg.transpose(sequence, (1, 0, 2)) if self.return_sequences else h
        if self.return_state:
            return [result] + final
        return result

    def __call__(self, inputs, *args, **kwargs):
        # The mask travels on the input tensor; read it before conversion drops it.
        mask = get_mask(inputs)
        if mask is not None and "mask" not in kwargs:
            kwargs["mask"] = mask
        return super().__call__(inputs, *args, **kwargs)

    def compute_output_shape(self, input_shape):
        batch, steps = input_shape[0], input_shape[1]
        out = (batch, steps, self.units) if self.return_sequences else (batch, self.units)
        if self.return_state:
            return [out] + [(batch, size) for size in self.cell.state_size]
        return out

    def get_config(self):
        config = super().get_config()
        config.update(return_sequences=self.return_sequences, return_state=self.return_state,
                      go_backwards=self.go_backwards)
        cell = self.cell.get_config()
        for key in ("name", "trainable", "dtype", "batch_input_shape"):
            cell.pop(key, None)
        if type(self) is RNN:
            config["cell"] = {"class_name": type(self.cell).__name__, "config": cell}
        else:
            # SimpleRNN / LSTM / GRU: the cell's arguments are the layer's (Keras' form)
            config.update(cell)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if cls is RNN:
            entry = config.pop("cell")
            cell_cls = {c.__name__: c for c in (SimpleRNNCell, LSTMCell, GRUCell)}.get(
                entry["class_name"])
            if cell_cls is None:
                raise ValueError(f"RNN.from_config: unknown cell class "
                                 f"{entry['class_name']!r}")
            config["cell"] = cell_cls(**entry["config"])
        return cls(**config)


def _split_kwargs(kwargs):
    """Layer arguments for the RNN wrapper; everything else configures the cell."""
    layer_keys = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll",
                  "time_major", "name", "trainable", "dtype", "input_shape",
                  "batch_input_shape", "batch_size")
    layer = {k: kwargs.pop(k) for k in layer_keys if k in kwargs}
    return layer, kwargs


class SimpleRNN(RNN):
    """A fully connected recurrent layer: ``SimpleRNN(units, activation="tanh")``."""

    def __init__(self, units, **kwargs):
        layer, cell_kwargs = _split_kwargs(kwargs)
        cell = SimpleRNNCell(units, dtype=layer.get("dtype"), **cell_kwargs)
        super().__init__(cell, **layer)

    @property
    def kernel(self):
        return self.cell.kernel


class LSTM(RNN):
    """``LSTM(units, return_sequences=False, return_state=False, go_backwards=False)``.

    Keras' arguments and weights (``cell.kernel``, ``cell.recurrent_kernel``,
    ``cell.bias``; gates i, f, c, o).
    """

    def __init__(self, units, **kwargs):
        layer, cell_kwargs = _split_kwargs(kwargs)
        cell = LSTMCell(units, dtype=layer.get("dtype"), **cell_kwargs)
        super().__init__(cell, **layer)


class GRU(RNN):
    """``GRU(units, reset_after=True, ...)``: Keras' arguments and weights (gates z, r, h)."""

    def __init__(self, units, **kwargs):
        layer, cell_kwargs = _split_kwargs(kwargs)
        cell = GRUCell(units, dtype=layer.get("dtype"), **cell_kwargs)
        super().__init__(cell, **layer)
