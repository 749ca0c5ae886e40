"""Element structures of a Dataset: nesting, conversion to NumPy and back to Tensors.

Inside a pipeline every element is a *flat tuple* of NumPy arrays plus one structure
template shared by the whole dataset. Tuples (and namedtuples) and dicts are structure;
everything else (arrays, Tensors, lists, scalars) is a leaf, as in tf.data, where a list
becomes one tensor. Dict keys are flattened in sorted order so two dicts with the same keys
always flatten alike whatever order they were built in.

Every array that travels through a pipeline is either private to it (a read-only copy of
user data, or a read-only view owned by an immutable Tensor) or freshly built by the
pipeline itself, and no stage writes into an array once it has passed it on; that is
what lets the iterator hand arrays to Tensors (``_core.wrap``) without copying.
"""

import numpy as np

LEAF = None  # the placeholder for one component inside a structure template


class _Unset:
    """The template of a stage whose output structure is learnt from its first element
    (a map's function result)."""

    def __repr__(self):
        return "<structure not known before the first element>"


UNSET = _Unset()


def template_known(template):
    if template is UNSET:
        return False
    if isinstance(template, dict):
        return all(template_known(v) for v in template.values())
    if isinstance(template, tuple):
        return all(template_known(v) for v in template)
    return True

_INT32 = np.iinfo(np.int32)


class TensorSpec:
    """Shape and dtype of one component of a dataset's elements.

    ``shape`` is a tuple whose entries may be ``None`` (unknown size); a ``shape`` of
    ``None`` means even the rank is unknown.
    """

    __slots__ = ("shape", "dtype", "name")

    def __init__(self, shape, dtype, name=None):
        self.shape = None if shape is None else tuple(None if d is None else int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.name = name

    def is_compatible_with(self, array):
        """Whether ``array`` (anything with ``shape`` and ``dtype``) fits this spec."""
        if np.dtype(array.dtype) != self.dtype:
            return False
        return shape_compatible(self.shape, tuple(array.shape))

    def __eq__(self, other):
        return (isinstance(other, TensorSpec) and self.shape == other.shape
                and self.dtype == other.dtype and self.name == other.name)

    def __hash__(self):
        return hash((self.shape, self.dtype, self.name))

    def __repr__(self):
        name = "" if self.name is None else f", name={self.name!r}"
        return f"TensorSpec(shape={self.shape}, dtype={self.dtype.name}{name})"


def shape_compatible(expected, actual):
    """``expected`` may hold ``None`` entries (or be ``None``) that match anything."""
    if expected is None:
        return True
    if len(expected) != len(actual):
        return False
    return all(e is None or e == a for e, a in zip(expected, actual))


def _is_namedtuple(value):
    return isinstance(value, tuple) and hasattr(type(value), "_fields")


def is_structure(value):
    return isinstance(value, (tuple, dict))


def template_of(value):
    """The structure template of ``value``: its nesting with every leaf replaced by LEAF."""
    if isinstance(value, dict):
        return {k: template_of(value[k]) for k in sorted(value)}
    if _is_namedtuple(value):
        return type(value)(*(template_of(v) for v in value))
    if isinstance(value, tuple):
        return tuple(template_of(v) for v in value)
    return LEAF


def flatten(value):
    """The leaves of ``value`` in canonical order (dicts by sorted key)."""
    out = []
    _flatten_into(value, out)
    return out


def _flatten_into(value, out):
    if isinstance(value, dict):
        for k in sorted(value):
            _flatten_into(value[k], out)
    elif isinstance(value, tuple):
        for v in value:
            _flatten_into(v, out)
    else:
        out.append(value)


def flatten_as(template, value, where, leaf_any=False):
    """Flatten ``value`` checking that it has exactly the structure ``template``.

    With ``leaf_any`` whatever sits at a leaf position is one leaf even when it is a
    tuple (a shape, for instance)."""
    if template is LEAF and (leaf_any or not is_structure(value)):
        return [value]
    if (type(template) is tuple and type(value) is tuple and len(value) == len(template)
            and _flat(template) and (leaf_any or not any(map(is_structure, value)))):
        return list(value)
    out = []
    _flatten_checked(template, value, out, where, "", leaf_any)
    return out


def _flatten_checked(template, value, out, where, path, leaf_any):
    if isinstance(template, dict):
        if not isinstance(value, dict) or sorted(value) != list(template):
            raise TypeError(f"{where}: expected a dict with keys {list(template)} at "
                            f"'{path or 'element'}', got {_describe(value)}")
        for k in template:
            _flatten_checked(template[k], value[k], out, where, f"{path}[{k!r}]", leaf_any)
    elif isinstance(template, tuple):
        if not isinstance(value, tuple) or isinstance(value, dict) or len(value) != len(template):
            raise TypeError(f"{where}: expected a tuple of {len(template)} at "
                            f"'{path or 'element'}', got {_describe(value)}")
        for i, (t, v) in enumerate(zip(template, value)):
            _flatten_checked(t, v, out, where, f"{path}[{i}]", leaf_any)
    else:
        if is_structure(value) and not leaf_any:
            raise TypeError(f"{where}: expected a single component at '{path or 'element'}', "
                            f"got {_describe(value)}")
        out.append(value)


def _describe(value):
    if isinstance(value, dict):
        return f"a dict with keys {sorted(value)}"
    if isinstance(value, tuple):
        return f"a tuple of {len(value)}"
    return f"a {type(value).__name__}"


def _flat(template):
    return all(t is LEAF for t in template)


def pack(template, leaves):
    """Inverse of flatten: rebuild ``template``'s nesting from a flat sequence of leaves."""
    if template is LEAF:
        return leaves[0]
    if type(template) is tuple and _flat(template):
        return tuple(leaves)
    it = iter(leaves)
    return _pack(template, it)


def _pack(template, it):
    if template is LEAF:
        return next(it)
    if isinstance(template, dict):
        return {k: _pack(v, it) for k, v in template.items()}
    if _is_namedtuple(template):
        return type(template)(*(_pack(v, it) for v in template))
    return tuple(_pack(v, it) for v in template)


def leaf_paths(template):
    """A readable name per leaf ('[0]', "['image']", 'element'), in flatten order."""
    out = []
    _paths(template, "", out)
    return out


def _paths(template, path, out):
    if template is LEAF:
        out.append(path or "element")
    elif isinstance(template, dict):
        for k, v in template.items():
            _paths(v, f"{path}[{k!r}]", out)
    else:
        for i, v in enumerate(template):
            _paths(v, f"{path}[{i}]", out)


# ----------------------------------------------------------------------------- leaves -> NumPy

_SUPPORTED_KINDS = "biuf"


def _python_default_dtype(array):
    """Python numbers follow the guide's defaults: floats are float32, ints int32."""
    if array.dtype == np.float64:
        return array.astype(np.float32)
    if array.dtype == np.int64:
        if array.size == 0 or (array.min() >= _INT32.min and array.max() <= _INT32.max):
            return array.astype(np.int32)
    return array


def _deeply_readonly(array):
    """True when no writable ndarray reaches this memory (a Tensor's view, a frozen copy)."""
    a = array
    while isinstance(a, np.ndarray):
        if a.flags.writeable:
            return False
        a = a.base
    return True


def to_array(value, where, dtype=None, copy=True):
    """Convert one leaf to an ndarray the pipeline may keep.

    Tensors give their read-only storage without a copy (they are immutable). NumPy
    arrays are copied (even read-only ones: their owner can make them writable again),
    so that the user mutating them later cannot change what the dataset yields, and
    freezing our arrays never makes the user's array read-only. ``copy=False`` is for
    arrays the caller just built and hands over.
    """
    owned = False          # True once `array` is memory nobody else can write
    from_python = False
    if isinstance(value, _tensor_type()):
        array = value.numpy()
        owned = _deeply_readonly(array)
    elif isinstance(value, np.ndarray):
        array = value
        owned = not copy
    elif getattr(value, "numpy", None) is not None:
        # Variables and other holders of mutable state: snapshot their current value.
        array = np.array(value.numpy())
        owned = True
    elif isinstance(value, np.generic):
        array = np.asarray(value)
        owned = True
    else:
        if value is None:
            raise TypeError(f"{where}: None is not a valid component value")
        try:
            array = np.asarray(value)
        except ValueError as e:
            raise ValueError(f"{where}: cannot convert {type(value).__name__} to an array "
                             f"(ragged nested lists?): {e}") from None
        from_python = owned = True
    if array.dtype.kind not in _SUPPORTED_KINDS:
        raise TypeError(f"{where}: unsupported dtype {array.dtype} (from "
                        f"{type(value).__name__}); expected bool, integer or float data")
    if dtype is not None and array.dtype != np.dtype(dtype):
        array = array.astype(dtype)
        owned = True
    elif dtype is None and from_python:
        array = _python_default_dtype(array)
    if not owned:
        array = np.array(array, copy=True)
    return freeze(array)


_TENSOR = None


def _tensor_type():
    global _TENSOR
    if _TENSOR is None:
        from tapegrad import _core
        _TENSOR = _core.Tensor
    return _TENSOR


def freeze(array):
    """Mark an array the pipeline built itself as read-only before it is shared."""
    if array.flags.writeable:
        array.flags.writeable = False
    return array


# ----------------------------------------------------------------------------- NumPy -> Tensors

_wrap = None


def to_tensor(array):
    """Wrap an array of the pipeline into a Tensor without copying (see module docstring)."""
    global _wrap
    if _wrap is None:
        from tapegrad import _core
        _wrap = _core.wrap
    return _wrap(array)


def tensors_of(arrays):
    return [to_tensor(a) for a in arrays]
