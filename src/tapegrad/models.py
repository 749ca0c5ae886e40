"""``Model`` (a layer made of layers) and ``Sequential`` (a linear stack of layers)."""

import numpy as np

import tapegrad as tg
from tapegrad.layers.base import Layer, _normalize_shape, _unique_name
from tapegrad.layers.functional import Functional
from tapegrad.saving import load_model, model_from_config, model_from_json, save_model
from tapegrad.training.engine import TrainingMixin

__all__ = ["Model", "Sequential", "clone_model", "load_model", "model_from_config",
           "model_from_json", "save_model"]


def _format_shape(shape):
    if shape is None:
        return "?"
    if isinstance(shape, list):
        return ", ".join(_format_shape(s) for s in shape)
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + (
        ",)" if len(shape) == 1 else ")")


class Model(TrainingMixin, Layer):
    """A layer whose sublayers and variables are its attributes (the guide's ``tf.keras.Model``).

    Subclass it, assign layers (or Variables, or lists/dicts of them) to attributes in
    ``__init__`` and compute in ``call``.  ``variables`` lists each variable once, in
    attribute order, however often ``call`` reuses a layer.  No input shape is needed:
    sublayers build on the first call.  Keras' training API (``compile``, ``fit``,
    ``evaluate``, ``predict``, ``save_weights``...) comes from
    :class:`tapegrad.training.engine.TrainingMixin`.
    """

    # ``call`` is the user's: it may take objects a built-in layer would reject.
    _accepts_any_input = True

    def __new__(cls, *args, **kwargs):
        # Model(inputs, outputs): the functional API (issue 21)
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            return object.__new__(FunctionalModel)
        return object.__new__(cls)

    def build(self, input_shape):
        """Create every variable by running ``call`` once on zeros of ``input_shape``.

        Unknown dimensions (``None``) count as 1.  Calling the model on data builds it too,
        so this is only needed to inspect variables before the first batch.
        """
        input_shape = _normalize_shape(input_shape, f"{self.name}.build")
        concrete = tuple(1 if d is None else d for d in input_shape)
        self.__dict__["_built"] = True
        self.__dict__["_build_input_shape"] = input_shape
        self(tg.zeros(concrete, dtype=self.dtype), training=False)

    def _build_for_shape(self, input_shape):
        if self._built:
            return
        if type(self).build is Model.build:
            # The forward pass that is about to run builds the sublayers; a dry run
            # on zeros first would only cost time.
            d = self.__dict__
            d["_built"] = True
            d["_build_input_shape"] = input_shape
            return
        super()._build_for_shape(input_shape)

    def call(self, inputs, training=None):
        raise TypeError(
            f"{type(self).__name__} must define call(self, inputs) to compute its outputs"
        )

    def get_config(self):
        """A subclassed model's architecture is its Python code: to use ``to_json``,
        ``save`` or ``clone_model`` it must define ``get_config`` (Keras' rule too)."""
        raise NotImplementedError(
            f"{type(self).__name__} is a subclassed model: implement get_config(self) "
            "returning its constructor's arguments (and the classmethod from_config(cls, "
            "config) if cls(**config) does not rebuild it) to serialize it with to_json/"
            "save; or save only its weights with save_weights/load_weights")

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """``Model.from_config(functional_model.get_config())`` rebuilds a functional
        model (fresh weights); a subclass's config goes to its constructor."""
        if cls is Model and isinstance(config, dict) and "input_layers" in config:
            from tapegrad.layers.functional_config import functional_from_config

            return functional_from_config(config, custom_objects)
        return cls(**config)

    def summary(self, line_length=65, print_fn=None):
        """Print a table of layers, output shapes and parameter counts, then the totals."""
        if not self.built:
            raise ValueError(
                f"summary: model {self.name!r} has not been built yet; call it on a batch, "
                "call build(input_shape), or give its first layer an input_shape"
            )
        print_fn = print if print_fn is None else print_fn
        rows = self._summary_rows()
        # Columns widen to fit long layer names and shapes rather than cutting them.
        first = max([int(line_length * 0.45)] + [len(r[0]) + 1 for r in rows])
        second = first + max([int(line_length * 0.40)] + [len(r[1]) + 1 for r in rows])
        positions = [first, second, max(second + 10, line_length)]
        line_length = positions[-1]
        header = ["Layer (type)", "Output Shape", "Param #"]

        def row(fields):
            line = ""
            for field, end in zip(fields, positions):
                line = (line + str(field))[: end - 1]
                line += " " * (end - len(line))
            print_fn(line.rstrip())

        print_fn(f'Model: "{self.name}"')
        print_fn("_" * line_length)
        row(header)
        print_fn("=" * line_length)
        for i, (name, shape, params) in enumerate(rows):
            row([name, shape, params])
            print_fn(("=" if i == len(rows) - 1 else "_") * line_length)
        pairs = self._variables_with_flags()
        trainable = sum(int(np.prod(v.shape)) for v, t in pairs if t)
        frozen = sum(int(np.prod(v.shape)) for v, t in pairs if not t)
        print_fn(f"Total params: {trainable + frozen:,}")
        print_fn(f"Trainable params: {trainable:,}")
        print_fn(f"Non-trainable params: {frozen:,}")
        print_fn("_" * line_length)

    def _summary_rows(self):
        rows = []
        for layer in self.layers:
            shape = layer._build_output_shape if layer.built else None
            params = layer.count_params() if layer.built else 0
            rows.append((f"{layer.name} ({type(layer).__name__})", _format_shape(shape),
                         f"{params:,}"))
        return rows


class FunctionalModel(Functional, Model):
    r"""``tg.Model(inputs, outputs)``: a model from a graph of layer calls on ``Input``\ s.

    ``inputs``/``outputs``: one symbolic tensor, a list, or (inputs) a dict by name.
    ``model.layers`` lists each layer once (Input layers first), ``get_layer(name)``
    finds one; compile/fit/predict take lists (or dicts by input name) for several
    inputs and return lists for several outputs.
    """

    def __init__(self, inputs=None, outputs=None, name=None, **kwargs):
        if inputs is None or outputs is None:
            raise TypeError("Model(inputs, outputs): both inputs and outputs must be given")
        if name is None:
            name = _unique_name("model")
        super().__init__(name=name, **kwargs)
        self._init_graph(inputs, outputs)


class Sequential(Model):
    """A linear stack of layers: ``Sequential([Dense(10, input_shape=(784,)), Dense(10)])``.

    If the first layer has an ``input_shape``, every layer is built at once (so
    ``summary()`` and ``variables`` work before any data); otherwise on the first call.
    """

    _tracked_private = ("_layers",)
    _accepts_any_input = False

    def __init__(self, layers=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.__dict__["_output_shapes"] = []
        self._layers = []
        for layer in layers or ():
            self.add(layer)

    @property
    def layers(self):
        """The stack, in order; a layer added twice (a shared pooling layer) appears twice."""
        return list(self._layers)

    def add(self, layer):
        """Append ``layer``; builds it at once when the stack's input shape is known."""
        if not isinstance(layer, Layer):
            raise TypeError(
                f"Sequential.add: expected a tapegrad Layer, got {type(layer).__name__}"
            )
        self._layers.append(layer)
        if self._built:
            shape = self._output_shapes[-1] if self._output_shapes else self._build_input_shape
            self._build_layer(layer, shape)
            self._sync_output_shape()
        elif len(self._layers) == 1 and layer._batch_input_shape is not None:
            self.build(layer._batch_input_shape)

    def pop(self):
        """Remove and return the last layer."""
        if not self._layers:
            raise IndexError("Sequential.pop: the model has no layers")
        if len(self._output_shapes) == len(self._layers):
            self._output_shapes.pop()
        layer = self._layers.pop()
        self._sync_output_shape()
        return layer

    def _sync_output_shape(self):
        # The model's output shape is the last layer's, kept current through add/pop
        # (an enclosing model's summary reads _build_output_shape directly).
        if self._built:
            shapes = self._output_shapes
            self.__dict__["_build_output_shape"] = (
                shapes[-1] if shapes else self._build_input_shape if not self._layers else None)

    @property
    def output_shape(self):
        """The last layer's output shape (batch dimension ``None``), current after add/pop."""
        if not self._built or len(self._output_shapes) != len(self._layers):
            raise AttributeError(f"model {self.name!r} has not been called or built yet")
        if not self._layers:
            raise AttributeError(f"model {self.name!r} has no layers, hence no output shape")
        return self._output_shapes[-1]

    def __getitem__(self, index):
        return self._layers[index]

    def __len__(self):
        return len(self._layers)

    def _build_layer(self, layer, shape):
        if not layer.built:
            layer._build_for_shape(shape)
        out = layer.compute_output_shape(shape)
        out = tuple(out) if not isinstance(out, list) else out
        layer.__dict__["_build_output_shape"] = out
        self._output_shapes.append(out)
        return out

    def build(self, input_shape=None):
        """Build every layer in turn from ``input_shape`` (the batch size may be ``None``)."""
        if input_shape is None:
            first = self._layers[0] if self._layers else None
            if first is None or first._batch_input_shape is None:
                raise ValueError(
                    f"Sequential.build: {self.name!r} needs an input_shape (or a first layer "
                    "created with input_shape=)"
                )
            input_shape = first._batch_input_shape
        input_shape = _normalize_shape(input_shape, f"{self.name}.build")
        # The batch size is not part of the model: summaries show it as None.
        shape = (None,) + input_shape[1:] if input_shape else input_shape
        d = self.__dict__
        d["_output_shapes"] = []
        for layer in self._layers:
            shape = self._build_layer(layer, shape)
        d["_built"] = True
        d["_build_input_shape"] = (None,) + input_shape[1:] if input_shape else input_shape
        d["_build_output_shape"] = shape

    def _build_for_shape(self, input_shape):
        if not self._built:
            self.build(input_shape)

    def call(self, inputs, training=None):
        outputs = inputs
        for layer in self._layers:
            outputs = layer(outputs, training=training)
        return outputs

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self._layers:
            shape = layer.compute_output_shape(shape)
        return shape

    def get_config(self):
        config = {
            "name": self.name,
            "layers": [
                {"class_name": type(layer).__name__, "config": layer.get_config()}
                for layer in self._layers
            ],
        }
        if self._built and self._build_input_shape is not None:
            # a stack built by a call (no input_shape on its first layer) is rebuilt
            # at once by from_config, so that load_model has variables to fill
            config["build_input_shape"] = list(self._build_input_shape)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuild from ``get_config()`` (fresh weights): layer classes are looked up in
        ``custom_objects``, the registered classes, then ``tg.layers``."""
        from tapegrad.layers.functional_config import layer_from_config

        built = [layer_from_config(entry["class_name"], entry["config"], custom_objects,
                                   "Sequential.from_config")
                 for entry in config.get("layers", [])]
        model = cls(built, name=config.get("name"))
        shape = config.get("build_input_shape")
        if shape is not None and not model.built:
            model.build(tuple(shape))
        return model

    def _summary_rows(self):
        rows = []
        for i, layer in enumerate(self._layers):
            shape = self._output_shapes[i] if i < len(self._output_shapes) else None
            rows.append((f"{layer.name} ({type(layer).__name__})", _format_shape(shape),
                         f"{layer.count_params():,}"))
        return rows


def clone_model(model, clone_function=None):
    """Keras' ``clone_model``: the same architecture with fresh weights, for Sequential
    and functional models (layers/functional_config.py)."""
    from tapegrad.layers.functional_config import clone_model as _clone

    return _clone(model, clone_function)
