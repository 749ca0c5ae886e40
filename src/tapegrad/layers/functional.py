"""The functional API: ``Input``, layers called on symbolic tensors, ``Model(inputs, outputs)``.

    inputs = tg.layers.Input(shape=(784,))
    hidden = tg.layers.Dense(64, activation="relu")(inputs)
    outputs = tg.layers.Dense(10)(hidden)
    model = tg.Model(inputs, outputs)

Calling a layer on :class:`KerasTensor`\\ s builds it (from their shapes), infers the
output shapes by running it once on zeros (unknown dimensions count as 1) and records a
node (layer, inputs, extra arguments).  ``Model(inputs, outputs)`` orders the nodes
between them and replays them on real tensors; a layer called several times (a shared
layer) has one set of variables and appears once in ``model.layers``.
"""

import numpy as np

import tapegrad as tg
from tapegrad.layers.base import KerasTensor, Layer, _normalize_shape

__all__ = ["Input", "InputLayer", "Functional", "call_symbolic"]


class _Node:
    """One recorded layer call: ``outputs = layer(inputs, *args, **kwargs)``."""

    __slots__ = ("layer", "inputs", "args", "kwargs", "outputs")

    def __init__(self, layer, inputs, args, kwargs):
        self.layer = layer
        self.inputs = inputs
        self.args = args
        self.kwargs = kwargs
        self.outputs = None

    def parents(self):
        return [t for t in _flatten((self.inputs, self.args, self.kwargs))
                if type(t) is KerasTensor]


def _flatten(value):
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in _flatten(v)]
    if isinstance(value, dict):
        return [a for k in value for a in _flatten(value[k])]
    return [value]


def _map(value, fn):
    if isinstance(value, (list, tuple)):
        return type(value)(_map(v, fn) for v in value)
    if isinstance(value, dict):
        return {k: _map(v, fn) for k, v in value.items()}
    return fn(value)


def _placeholder(symbolic):
    concrete = tuple(1 if d is None else d for d in symbolic.shape)
    return tg.zeros(concrete, dtype=symbolic.dtype)


def call_symbolic(layer, inputs, args, kwargs):
    """``layer(inputs)`` on symbolic tensors: build, infer shapes, record a node."""
    node = _Node(layer, inputs, args, dict(kwargs))
    concrete = lambda v: _placeholder(v) if type(v) is KerasTensor else v  # noqa: E731
    try:
        if not layer.built:
            # build from the symbolic shapes, so unknown dimensions are seen as unknown
            layer._build_for_shape(_map(inputs, lambda v: v.shape if type(v) is KerasTensor
                                        else tuple(np.shape(v))))
        sample = layer(_map(inputs, concrete), *_map(args, concrete), training=False,
                       **_map(kwargs, concrete))
    except (ValueError, TypeError) as exc:
        shapes = [t.shape for t in _flatten(inputs) if type(t) is KerasTensor]
        raise type(exc)(f"{layer.name}: calling it on symbolic inputs of shapes {shapes} "
                        f"failed: {exc}") from exc
    unknown_batch = any(t.shape and t.shape[0] is None for t in _flatten(inputs)
                        if type(t) is KerasTensor)
    counter = iter(range(1 << 30))

    def symbolic(value):
        if not isinstance(value, (tg.Tensor, tg.Variable)):
            raise TypeError(f"{layer.name}: a layer used in a functional model must return "
                            f"tensors, got {type(value).__name__}")
        shape = tuple(value.shape)
        if unknown_batch and shape:
            shape = (None,) + shape[1:]
        return KerasTensor(shape, value.dtype, name=layer.name, node=node,
                           index=next(counter))

    outputs = _map(sample if not isinstance(sample, tuple) else list(sample), symbolic)
    node.outputs = outputs
    first = _flatten(outputs)[0]
    if first.shape:
        layer.__dict__["_build_output_shape"] = first.shape
    return outputs


class InputLayer(Layer):
    """The layer behind ``Input``: passes its input through."""

    def __init__(self, input_shape=None, batch_size=None, dtype=None, name=None, **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        shape = _normalize_shape(() if input_shape is None else input_shape, "Input")
        self.__dict__["_build_output_shape"] = (batch_size,) + shape
        self.__dict__["_built"] = True

    def call(self, inputs):
        return inputs


def Input(shape=None, batch_size=None, name=None, dtype=None, batch_shape=None):
    """A symbolic input of ``shape`` (per example; the batch size stays unknown unless
    ``batch_size`` or ``batch_shape`` gives it).  ``dtype`` defaults to float32."""
    if batch_shape is not None:
        full = _normalize_shape(batch_shape, "Input")
        batch_size, shape = full[0], full[1:]
    elif shape is None:
        raise ValueError("Input: shape (or batch_shape) must be given")
    shape = _normalize_shape(shape, "Input")
    layer = InputLayer(input_shape=shape, batch_size=batch_size,
                       dtype=tg.float32 if dtype is None else dtype, name=name)
    node = _Node(layer, None, (), {})
    out = KerasTensor((batch_size,) + shape, layer.dtype, name=layer.name, node=node)
    node.outputs = out
    return out


def _topological_nodes(outputs, inputs):
    """The nodes from ``inputs`` to ``outputs``, each after the nodes it reads."""
    input_ids = {id(t) for t in inputs}
    order, state = [], {}
    stack = [(t.node, False) for t in reversed(outputs)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            if state.get(id(node)) != "done":
                state[id(node)] = "done"
                order.append(node)
            continue
        if state.get(id(node)) is not None:
            continue
        state[id(node)] = "open"
        stack.append((node, True))
        for parent in node.parents():
            if id(parent) in input_ids:
                continue
            if parent.node.inputs is None:   # an Input that is not a model input
                raise ValueError(
                    f"Model: the graph is disconnected: {parent!r} is needed to compute the "
                    "outputs but is not among the model's inputs")
            if state.get(id(parent.node)) is None:
                stack.append((parent.node, False))
    return order


class Functional:
    """Mixed into ``tg.Model`` when it is built from ``inputs`` and ``outputs``."""

    _tracked_private = ("_functional_layers",)

    def _init_graph(self, inputs, outputs):
        self.__dict__["_input_structure"] = inputs
        self.__dict__["_output_structure"] = outputs
        flat_in = _flatten(inputs)
        flat_out = _flatten(outputs)
        for t in flat_in + flat_out:
            if type(t) is not KerasTensor:
                raise TypeError(f"Model: inputs and outputs must be symbolic tensors from "
                                f"tg.layers.Input and layer calls, got {type(t).__name__}")
        for t in flat_in:
            if t.node.inputs is not None:
                raise ValueError(f"Model: input {t!r} is not an Input (it comes from layer "
                                 f"{t.node.layer.name!r})")
        nodes = _topological_nodes(flat_out, flat_in)
        layers, seen = [], set()
        for t in flat_in:
            if id(t.node.layer) not in seen:
                seen.add(id(t.node.layer))
                layers.append(t.node.layer)
        for node in nodes:
            if id(node.layer) not in seen:
                seen.add(id(node.layer))
                layers.append(node.layer)
        d = self.__dict__
        d["_nodes"] = nodes
        d["_flat_inputs"] = flat_in
        d["_flat_outputs"] = flat_out
        self._functional_layers = layers
        d["_built"] = True
        d["_build_input_shape"] = flat_in[0].shape if len(flat_in) == 1 else [
            t.shape for t in flat_in]
        d["_build_output_shape"] = flat_out[0].shape if len(flat_out) == 1 else [
            t.shape for t in flat_out]
        d["output_names"] = [t.node.layer.name for t in flat_out]
        d["input_names"] = [t.node.layer.name for t in flat_in]

    @property
    def inputs(self):
        return list(self._flat_inputs)

    @property
    def outputs(self):
        return list(self._flat_outputs)

    def _feed(self, inputs):
        structure = self._input_structure
        flat_in = self._flat_inputs
        if isinstance(inputs, dict):
            if isinstance(structure, dict):
                missing = sorted(set(structure) - set(inputs))
                if missing:
                    raise ValueError(f"{self.name}: missing inputs {missing}")
                return [inputs[k] for k in structure]
            by_name = dict(zip(self.input_names, flat_in))
            missing = sorted(set(by_name) - set(inputs))
            if missing:
                raise ValueError(f"{self.name}: missing inputs {missing}")
            return [inputs[name] for name in self.input_names]
        values = _flatten(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if len(values) != len(flat_in):
            raise ValueError(f"{self.name}: expected {len(flat_in)} input(s), got "
                             f"{len(values)}")
        return values

    def call(self, inputs, training=None):
        values = {}
        for symbolic, value in zip(self._flat_inputs, self._feed(inputs)):
            if not isinstance(value, (tg.Tensor, tg.Variable)):
                arr = np.asarray(value)
                if arr.dtype.kind == "f" and symbolic.dtype.kind == "f":
                    arr = arr.astype(symbolic.dtype, copy=False)
                value = tg.convert_to_tensor(arr)
            expected = symbolic.shape
            if len(value.shape) != len(expected) or any(
                    e is not None and e != d for e, d in zip(expected, value.shape)):
                raise ValueError(f"{self.name}: input {symbolic.name!r} expects shape "
                                 f"{expected}, got {tuple(value.shape)}")
            values[id(symbolic)] = value
        lookup = lambda v: values[id(v)] if type(v) is KerasTensor else v  # noqa: E731
        for node in self._nodes:
            layer = node.layer
            result = layer(_map(node.inputs, lookup), *_map(node.args, lookup),
                           training=training, **_map(node.kwargs, lookup))
            if isinstance(result, tuple):
                result = list(result)
            for symbolic, value in zip(_flatten(node.outputs), _flatten(result)):
                values[id(symbolic)] = value
        return _map(self._output_structure, lookup)

    @property
    def layers(self):
        return list(self._functional_layers)

    def get_layer(self, name=None, index=None):
        """A layer by ``name`` or by position ``index`` in ``layers``."""
        layers = self._functional_layers
        if index is not None:
            if name is not None:
                raise ValueError("get_layer: give name or index, not both")
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"get_layer: index {index} out of range for "
                                 f"{len(layers)} layers")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"get_layer: no layer named {name!r}; layers are "
                         f"{[layer.name for layer in layers]}")

    def compute_output_shape(self, input_shape):
        return self._build_output_shape

    def _summary_rows(self):
        from tapegrad.models import _format_shape

        shapes = {}
        for t in self._flat_inputs:
            shapes.setdefault(id(t.node.layer), t.shape)
        for node in self._nodes:
            outs = _flatten(node.outputs)
            shapes.setdefault(id(node.layer), outs[0].shape if len(outs) == 1
                              else [o.shape for o in outs])
        rows = []
        for layer in self._functional_layers:
            rows.append((f"{layer.name} ({type(layer).__name__})",
                         _format_shape(shapes.get(id(layer))), f"{layer.count_params():,}"))
        return rows

    def get_config(self):
        """Keras' functional config: layers with their configs and the calls between
        them (layers/functional_config.py); ``Model.from_config`` rebuilds the model
        with fresh weights."""
        from tapegrad.layers.functional_config import functional_config

        return functional_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from tapegrad.layers.functional_config import functional_from_config

        return functional_from_config(config, custom_objects)
