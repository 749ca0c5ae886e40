"""The ``Layer`` base class: lazy building, variable ownership and attribute tracking.

A layer owns the variables it creates with :meth:`Layer.add_weight` and every Layer or
Variable assigned to one of its attributes (directly or inside lists, tuples and dicts).
``variables`` walks that structure on each access instead of caching it, so a list
mutated after assignment (``self.blocks.append(Dense(4))``) is seen without wrappers.
"""

import inspect
import re
import threading

import numpy as np

import tapegrad as tg
from tapegrad import backend as _backend
from tapegrad import initializers, tracking

__all__ = ["Layer"]

# Per-class counters behind the Keras-style unique names ``dense``, ``dense_1``, ...
_name_counts = {}
_name_lock = threading.Lock()

# The ``training`` flag of the innermost layer call that was given one explicitly, so a
# Dropout inside a model called with ``training=True`` follows it without plumbing.
_call_context = threading.local()

# Layers holding losses that ``add_loss(tensor)`` recorded during a call (Keras: those
# belong to the latest forward pass).  The outermost layer call of a thread clears those
# of its own layer tree first, so a shared layer called twice in one pass keeps both.
_call_loss_owners = []


def _to_snake_case(name):
    name = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _unique_name(base):
    with _name_lock:
        count = _name_counts.get(base, 0)
        _name_counts[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


def _reset_name_counters():
    """Forget the per-class name counters (tests use it for reproducible names)."""
    with _name_lock:
        _name_counts.clear()


def _clear_call_losses(root):
    # a new forward pass of ``root`` starts: the losses add_loss recorded in root and its
    # sublayers go (Keras' _clear_losses); other layers keep theirs
    tree, stack = set(), [root]
    while stack:
        layer = stack.pop()
        if id(layer) not in tree:
            tree.add(id(layer))
            stack.extend(layer.layers)
    keep = []
    for owner in _call_loss_owners:
        if id(owner) in tree:
            owner.__dict__["_call_losses"] = []
        else:
            keep.append(owner)
    _call_loss_owners[:] = keep


def _scalar_loss(value, where):
    t = value if isinstance(value, tg.Tensor) else tg.convert_to_tensor(
        value.read_value() if isinstance(value, tg.Variable) else value)
    shape = tuple(t.shape)
    if shape == ():
        return t
    if int(np.prod(shape)) == 1:
        return tg.reshape(t, ())
    raise ValueError(f"{where}.add_loss: a loss must be a scalar, got a tensor of shape "
                     f"{shape} (reduce it first, e.g. tg.reduce_mean)")


def _is_tracked_value(value, variable_type):
    return isinstance(value, (tracking.Trackable, variable_type, list, tuple, dict))


def _is_layer(obj):
    return isinstance(obj, Layer)


def _layer_trainable(obj, parent_flag):
    return parent_flag and obj._trainable


def _shape_of(inputs):
    """The shape tuple ``build`` receives: one tuple, or a list of them for list inputs."""
    shape = getattr(inputs, "shape", None)
    if shape is not None:
        return tuple(shape)
    if isinstance(inputs, (list, tuple)):
        return [_shape_of(item) for item in inputs]
    if isinstance(inputs, dict):
        return {key: _shape_of(item) for key, item in inputs.items()}
    return tuple(np.shape(inputs))


def _is_number_tree(value):
    """True for a number or a (possibly empty, nested) list/tuple of only numbers."""
    if isinstance(value, (list, tuple)):
        return all(_is_number_tree(item) for item in value)
    return isinstance(value, (bool, int, float, np.number, np.bool_))


def _describe_input(value):
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def _normalize_shape(shape, where):
    if shape is None:
        raise ValueError(f"{where}: shape must be given, got None")
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        dims = tuple(None if d is None else int(d) for d in shape)
    except (TypeError, ValueError):
        raise TypeError(f"{where}: shape must be a sequence of ints, got {shape!r}") from None
    if any(d is not None and d < 0 for d in dims):
        raise ValueError(f"{where}: shape dimensions must be >= 0, got {dims}")
    return dims


def _accepts_kwarg(fn, name):
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    if name in params:
        return True
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _training_param(fn):
    """How ``fn`` (a bound ``call``) takes ``training``: False (not at all), True (with a
    default, or through ``**kwargs``), or, when it is required, its position among the
    parameters after ``inputs`` plus one (a large number when keyword-only)."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    for i, p in enumerate(params):
        if p.name == "training" and p.kind is not inspect.Parameter.VAR_POSITIONAL:
            if p.default is not inspect.Parameter.empty:
                return True
            return i if p.kind is not inspect.Parameter.KEYWORD_ONLY else 1 << 30
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


class KerasTensor:
    """A symbolic tensor of the functional API: a shape (``None`` = unknown), a dtype,
    and the layer call that produced it.  ``tg.layers.Input`` makes the first ones;
    calling a layer on them records the call and returns new ones; ``tg.Model(inputs,
    outputs)`` replays the recorded calls on real tensors."""

    __slots__ = ("shape", "dtype", "name", "node", "index", "__weakref__")

    def __init__(self, shape, dtype, name=None, node=None, index=0):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.name = name
        self.node = node        # the _Node that produced it (None for an Input)
        self.index = index      # which output of that node

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape} dtype={self.dtype.name} name={self.name!r}>"

    def __array__(self, *args, **kwargs):
        raise TypeError(
            f"{self!r} is symbolic (functional API): it has no value; pass it to layers "
            "(Lambda wraps a function), then build a tg.Model(inputs, outputs) and call that"
        )

    def numpy(self):
        return self.__array__()


def _has_keras_tensor(value):
    if type(value) is KerasTensor:
        return True
    if isinstance(value, (list, tuple)):
        return any(_has_keras_tensor(v) for v in value)
    if isinstance(value, dict):
        return any(_has_keras_tensor(v) for v in value.values())
    return False


class Layer(tracking.Trackable):
    """Base class of layers and models (Keras' ``Layer``).

    Subclasses create their variables in ``build(input_shape)``, which runs once, on the
    first call, with the shape of the first input, and compute in ``call(inputs)``.
    ``call`` may accept ``training=``: it then receives the flag given to ``__call__``,
    or the one of the enclosing layer call when none was given.

    Arguments: ``trainable`` (False makes every variable non-trainable), ``name``
    (unique per process by default: ``dense``, ``dense_1``...), ``dtype`` (of the
    variables and of floating inputs, which are cast to it; default float32),
    ``input_shape`` / ``batch_input_shape`` (let a ``Sequential`` build eagerly).
    """

    def __init__(self, trainable=True, name=None, dtype=None, input_shape=None,
                 batch_input_shape=None, batch_size=None, **kwargs):
        if kwargs:
            raise TypeError(
                f"{type(self).__name__}: unexpected keyword argument(s) {sorted(kwargs)}"
            )
        if name is None:
            name = _unique_name(_to_snake_case(type(self).__name__))
        elif not isinstance(name, str) or not name:
            raise TypeError(f"{type(self).__name__}: name must be a non-empty str, got {name!r}")
        self._init_internal()
        # Internal state is written to __dict__ directly: it is neither tracked nor
        # seen by a pending checkpoint restore.
        d = self.__dict__
        d["_name"] = name
        d["_trainable"] = bool(trainable)
        # tf.keras.backend.set_floatx changes the default.
        d["_dtype"] = np.dtype(_backend._floatx_dtype() if dtype is None else dtype)
        if batch_input_shape is not None:
            d["_batch_input_shape"] = _normalize_shape(batch_input_shape, type(self).__name__)
        elif input_shape is not None:
            d["_batch_input_shape"] = (batch_size,) + _normalize_shape(
                input_shape, type(self).__name__
            )

    def _init_internal(self):
        d = self.__dict__
        if "_tracked" in d:
            return
        d["_tracked"] = {}
        d["_weights"] = []
        d["_built"] = False
        d["_batch_input_shape"] = None
        d["_build_input_shape"] = None
        d["_build_output_shape"] = None
        d["_call_takes_training"] = None

    # ------------------------------------------------------------------ attributes

    def __setattr__(self, name, value):
        d = self.__dict__
        if "_tracked" not in d:
            # A subclass assigned attributes before calling Layer.__init__.
            self._init_internal()
        object.__setattr__(self, name, value)
        # Every attribute set through here is tracked, private ones included: a sublayer
        # in ``self._inner`` is trained, so it must be checkpointed too.  (Internal
        # state is written to __dict__ directly and never passes here.)
        tracked = d["_tracked"]
        if _is_tracked_value(value, tg.Variable):
            tracked[name] = value
        else:
            tracked.pop(name, None)
        tracking.attribute_set(self, name)

    def __delattr__(self, name):
        object.__delattr__(self, name)
        self.__dict__.get("_tracked", {}).pop(name, None)

    def _tracks_attribute(self, name):
        return name in self.__dict__.get("_tracked", {})

    def _checkpoint_children(self):
        """The attributes holding layers, variables, other Trackables or containers of
        them, in assignment order (``tracking.children`` adds ``add_weight``'s)."""
        return tracking.children_of_values(self.__dict__.get("_tracked", {}).items())

    @property
    def name(self):
        return self._name

    @property
    def dtype(self):
        return self._dtype

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self.__dict__["_trainable"] = bool(value)

    @property
    def built(self):
        return self._built

    @built.setter
    def built(self, value):
        self.__dict__["_built"] = bool(value)

    @property
    def input_shape(self):
        """The shape of the input this layer was built with (batch dimension included)."""
        if self._build_input_shape is None:
            raise AttributeError(f"layer {self.name!r} has not been built yet")
        return self._build_input_shape

    @property
    def output_shape(self):
        if self._build_output_shape is None:
            raise AttributeError(f"layer {self.name!r} has not been called or built yet")
        return self._build_output_shape

    # ------------------------------------------------------------------ variables

    def add_weight(self, name=None, shape=None, dtype=None, initializer=None, trainable=True,
                   regularizer=None, constraint=None):
        """Create a variable owned by this layer, named ``"<layer name>/<name>"``.

        ``initializer`` is an initializer object, its name (``"zeros"``, ``"he_normal"``)
        or a callable ``(shape, dtype) -> value``; the default is glorot_uniform for
        floating dtypes and zeros otherwise.  ``trainable=False`` makes a state variable
        (BatchNormalization's moving statistics).  ``regularizer`` (``weights ->
        scalar``) adds a penalty to :attr:`losses`; ``constraint`` (``weights -> weights``)
        becomes the variable's ``constraint``, which optimizers apply after each update.
        """
        if name is None:
            name = f"weight_{len(self._weights)}"
        if not isinstance(name, str) or not name:
            raise TypeError(f"{self.name}.add_weight: name must be a non-empty str, got {name!r}")
        shape = _normalize_shape(() if shape is None else shape, f"{self.name}.add_weight")
        if any(d is None for d in shape):
            raise ValueError(
                f"{self.name}.add_weight({name!r}): every dimension must be known, got {shape}"
            )
        dtype = self._dtype if dtype is None else np.dtype(dtype)
        if initializer is None:
            initializer = "glorot_uniform" if dtype.kind == "f" else "zeros"
        init = initializers.get(initializer)
        value = init(shape, dtype=dtype)
        variable = tg.Variable(value, trainable=bool(trainable), name=f"{self.name}/{name}",
                               dtype=dtype)
        self._weights.append(variable)
        tracking.variable_created(self, name, variable)
        # regularizers and constraints (issue 21)
        if regularizer is not None:
            from tapegrad import regularizers

            self.__dict__.setdefault("_weight_regularizers", []).append(
                (variable, regularizers.get(regularizer)))
        if constraint is not None:
            from tapegrad import constraints

            variable.constraint = constraints.get(constraint)
        return variable

    @property
    def losses(self):
        """Penalties of this layer and its sublayers: each weight regularizer evaluated
        on the current weights (so, inside a GradientTape, they are differentiable), the
        activity penalties of each layer's latest call, the tensors ``add_loss`` recorded
        during the latest forward pass, and each loss callable ``add_loss`` was given,
        called now."""
        out, seen, stack = [], set(), [self]
        while stack:
            layer = stack.pop()
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            d = layer.__dict__
            for variable, regularizer in d.get("_weight_regularizers", ()):
                out.append(regularizer(variable))
            out.extend(d.get("_activity_losses", ()))
            out.extend(d.get("_call_losses", ()))
            for fn in d.get("_callable_losses", ()):
                out.append(_scalar_loss(fn(), self.name))
            stack.extend(reversed(layer.layers))
        return out

    def add_loss(self, losses):
        """Add a loss term (Keras' ``Layer.add_loss``): a scalar tensor computed in
        ``call`` (kept until the next forward pass), or a zero-argument callable
        returning one (evaluated each time :attr:`losses` is read, e.g. a penalty on a
        weight), or a list of these.  ``fit``/``train_on_batch``/``evaluate`` add
        ``model.losses`` to the compiled loss.  A size-1 tensor counts as a scalar;
        larger ones raise (reduce them first)."""
        items = losses if isinstance(losses, (list, tuple)) else [losses]
        for loss in items:
            if loss is None:
                continue
            if type(loss) is KerasTensor:
                raise TypeError(f"{self.name}.add_loss: symbolic tensors (from Input) are "
                                "not supported; add the loss inside a layer's call, or pass "
                                "a callable")
            if callable(loss) and not isinstance(loss, (tg.Tensor, tg.Variable)):
                self.__dict__.setdefault("_callable_losses", []).append(loss)
                continue
            value = _scalar_loss(loss, self.name)
            d = self.__dict__
            if "_call_losses" not in d or not d["_call_losses"]:
                d["_call_losses"] = []
                _call_loss_owners.append(self)
            d["_call_losses"].append(value)

    def _record_activity_loss(self, regularizer, outputs):
        """Keras' activity regularization: the penalty of the outputs over the batch size."""
        batch = outputs.shape[0] if len(outputs.shape) else 1
        self.__dict__["_activity_losses"] = [regularizer(outputs) / float(max(batch, 1))]

    # The guide's (TF 1.x) spelling.
    add_variable = add_weight

    def _variables_with_flags(self):
        # The checkpoint's own walker: what a layer trains is what its checkpoint holds.
        # Sublayers are entered (a frozen one freezes its variables); other Trackables
        # a layer may hold (an optimizer, a metric) keep their variables to themselves.
        return tracking.walk_variables(self, _is_layer, _layer_trainable)

    @property
    def variables(self):
        """Every variable of this layer and its sublayers, once each, in a stable order."""
        return [v for v, _ in self._variables_with_flags()]

    @property
    def trainable_variables(self):
        return [v for v, trainable in self._variables_with_flags() if trainable]

    @property
    def non_trainable_variables(self):
        return [v for v, trainable in self._variables_with_flags() if not trainable]

    weights = variables
    trainable_weights = trainable_variables
    non_trainable_weights = non_trainable_variables

    @property
    def layers(self):
        """The layers assigned to this layer's attributes (directly or in containers)."""
        out = []
        seen = {id(self)}
        stack = list(reversed(list(self._tracked.values())))
        while stack:
            value = stack.pop()
            if id(value) in seen:
                continue
            if isinstance(value, Layer):
                seen.add(id(value))
                out.append(value)
            elif isinstance(value, (list, tuple, dict)):
                seen.add(id(value))
                items = value.values() if isinstance(value, dict) else value
                stack.extend(reversed(list(items)))
        return out

    def count_params(self):
        """Number of scalars in this layer's variables."""
        if not self._built:
            raise ValueError(
                f"count_params: layer {self.name!r} has not been built yet; call it on an "
                "input or build it first"
            )
        return int(sum(int(np.prod(v.shape)) for v in self.variables))

    def get_weights(self):
        """The variables' values as NumPy arrays (copies), in ``variables`` order."""
        return [np.array(v.numpy()) for v in self.variables]

    def set_weights(self, weights):
        variables = self.variables
        weights = list(weights)
        if len(weights) != len(variables):
            raise ValueError(
                f"set_weights: layer {self.name!r} has {len(variables)} variables, "
                f"got {len(weights)} values"
            )
        for variable, value in zip(variables, weights):
            value = np.asarray(value)
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(
                    f"set_weights: shape {tuple(value.shape)} does not match variable "
                    f"{variable.name!r} of shape {tuple(variable.shape)}"
                )
        for variable, value in zip(variables, weights):
            variable.assign(np.asarray(value, dtype=variable.dtype))

    # ------------------------------------------------------------------ building and calling

    def build(self, input_shape):
        """Create the layer's variables; runs once, before the first ``call``."""
        self.built = True

    def call(self, inputs):
        return inputs

    # A layer whose ``call`` is user code (Model) may take any Python object; built-in
    # layers only take tensors, arrays and (nested) lists of numbers.
    _accepts_any_input = False
    # True for layers whose call takes exactly one tensor (every built-in layer): a list,
    # tuple or dict of tensors is then refused up front instead of failing inside call.
    _single_input = False

    def _convert_input(self, inputs):
        """Tensors for array-like inputs; floating inputs cast to a floating layer dtype.

        As in TF: NumPy arrays, numbers and (nested) lists of numbers become one tensor;
        lists, tuples and dicts holding tensors or arrays keep their structure with each
        item converted (multi-input layers).  Anything else (None, a string...) raises a
        TypeError naming the layer, not an AttributeError from deep inside ``call``.
        """
        cast_to = self._dtype if self._dtype.kind == "f" else None
        if isinstance(inputs, (tg.Tensor, tg.Variable)):
            if cast_to is not None and inputs.dtype.kind == "f" and inputs.dtype != cast_to:
                return tg.cast(inputs, cast_to)
            return inputs
        if isinstance(inputs, (np.ndarray, np.number, np.bool_, bool, int, float)) or (
                isinstance(inputs, (list, tuple)) and _is_number_tree(inputs)):
            try:
                arr = np.asarray(inputs)
                if arr.dtype.kind not in "biuf":
                    raise TypeError(f"dtype {arr.dtype} is not numeric")
                return tg.convert_to_tensor(arr,
                                            dtype=cast_to if arr.dtype.kind == "f" else None)
            except (TypeError, ValueError) as error:
                raise TypeError(
                    f"{self.name} ({type(self).__name__}): cannot convert the input "
                    f"{_describe_input(inputs)} to a tensor: {error}") from None
        if self._single_input and isinstance(inputs, (list, tuple, dict)):
            raise TypeError(
                f"{self.name} ({type(self).__name__}): takes one tensor, got a "
                f"{type(inputs).__name__} of {len(inputs)} item(s) that are not all numbers; "
                "stack or concatenate them first (tg.stack, tg.concat)")
        if isinstance(inputs, (list, tuple)):
            return type(inputs)(self._convert_input(item) for item in inputs)
        if isinstance(inputs, dict):
            return {key: self._convert_input(item) for key, item in inputs.items()}
        if self._accepts_any_input:
            return inputs
        raise TypeError(
            f"{self.name} ({type(self).__name__}): expected a tensor, a NumPy array, a "
            f"number or a (nested) list of numbers as input, got {_describe_input(inputs)}")

    def _build_for_shape(self, input_shape):
        """Build once; ``input_shape`` is a tuple (or a list of them for list inputs)."""
        if self._built:
            return
        self.build(input_shape)
        d = self.__dict__
        d["_built"] = True
        d["_build_input_shape"] = input_shape

    def __call__(self, inputs, *args, training=None, **kwargs):
        if type(inputs) is KerasTensor or (
                type(inputs) in (list, tuple, dict) and _has_keras_tensor(inputs)):
            from tapegrad.layers.functional import call_symbolic

            return call_symbolic(self, inputs, args, kwargs)
        inputs = self._convert_input(inputs)
        first_call = not self._built
        if first_call:
            self._build_for_shape(_shape_of(inputs))
        outer = getattr(_call_context, "training", None)
        depth = getattr(_call_context, "depth", 0)
        if depth == 0 and _call_loss_owners:
            _clear_call_losses(self)
        if training is None:
            training = outer
        takes_training = self._call_takes_training
        if takes_training is None:
            takes_training = _training_param(self.call)
            self.__dict__["_call_takes_training"] = takes_training
        if takes_training:
            if training is not None:
                kwargs["training"] = training
            elif takes_training is not True and len(args) < takes_training and \
                    "training" not in kwargs:
                # call(self, x, training) without a default: Keras passes False
                # (inference) unless the caller or an enclosing layer says otherwise.
                kwargs["training"] = False
        _call_context.training = training
        _call_context.depth = depth + 1
        try:
            outputs = self.call(inputs, *args, **kwargs)
        finally:
            _call_context.training = outer
            _call_context.depth = depth
        if first_call and self._build_output_shape is None:
            shape = getattr(outputs, "shape", None)
            if shape is not None and len(shape):
                self.__dict__["_build_output_shape"] = (None,) + tuple(shape)[1:]
        return outputs

    def compute_output_shape(self, input_shape):
        """Output shape for ``input_shape`` (``None`` = unknown batch size).

        The generic answer runs the layer once on zeros with unknown dimensions set to 1;
        built-in layers override it with the closed form.
        """
        self._build_for_shape(input_shape)
        concrete = tuple(1 if d is None else d for d in input_shape)
        zeros = tg.zeros(concrete, dtype=self._dtype)
        out = self(zeros, training=False)
        shape = tuple(out.shape)
        if input_shape and input_shape[0] is None and shape:
            shape = (None,) + shape[1:]
        return shape

    # ------------------------------------------------------------------ config

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype.name}
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = self._batch_input_shape
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} built={self._built}>"
