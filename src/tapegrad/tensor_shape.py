"""``tg.TensorShape`` and ``tg.Dimension``: what ``tensor.shape`` returns.

A ``TensorShape`` is a tuple (so ``t.shape == (2, 3)``, unpacking, ``np.zeros(t.shape)``
and tuple arithmetic keep working) with TensorFlow's methods: ``as_list``, ``ndims``,
``rank``, ``num_elements``, ``is_fully_defined``, ``is_compatible_with``,
``merge_with``, ``concatenate``.  Indexing gives a ``Dimension``, an ``int`` with TF
1.x's ``.value`` (so both ``shape[0] + 1`` and ``shape[0].value`` work); a slice gives a
``TensorShape``.  Unknown dimensions (``None``) only occur in shapes built by the user
(``TensorShape([None, 3])``): indexing one gives ``None``, as in TF 2.
"""

__all__ = ["TensorShape", "Dimension", "as_shape", "dimension_value"]


class Dimension(int):
    """A known dimension: an ``int`` that also has TF 1.x's ``.value``."""

    __slots__ = ()

    @property
    def value(self):
        return int(self)

    def is_compatible_with(self, other):
        other = dimension_value(other)
        return other is None or other == int(self)

    def merge_with(self, other):
        if not self.is_compatible_with(other):
            raise ValueError("Dimensions %d and %s are not compatible" % (self, other))
        return self


_N_CACHED = 1025
_DIMS = tuple(Dimension(i) for i in range(_N_CACHED))
_tuple_getitem = tuple.__getitem__
_tuple_new = tuple.__new__


def dimension_value(d):
    """``d`` as an int or None (a Dimension, int, None, or an object with ``.value``)."""
    if d is None:
        return None
    if isinstance(d, int) and not isinstance(d, bool):
        return int(d)
    value = getattr(d, "value", d)
    if value is None:
        return None
    try:
        return int(value.__index__())
    except (AttributeError, TypeError):
        raise TypeError("a dimension must be an int or None, got %r" % (d,)) from None


class TensorShape(tuple):
    """The shape of a tensor: a tuple of ints (or None for unknown dimensions)."""

    __slots__ = ()

    def __new__(cls, dims=()):
        if dims is None:
            raise ValueError("TensorShape(None) (unknown rank) is not supported: eager "
                             "tensors always have a known rank")
        if isinstance(dims, int) and not isinstance(dims, bool):
            dims = (dims,)
        out = []
        for d in dims:
            v = dimension_value(d)
            if v is not None and v < 0:
                raise ValueError("TensorShape: dimensions must be >= 0 or None, got %r"
                                 % (tuple(dims),))
            out.append(v)
        return tuple.__new__(cls, out)

    def __getitem__(self, key):
        # On the path of every ``x.shape[i]`` in the library: one tuple lookup, and a
        # cached Dimension for the usual sizes (making an int subclass costs ~200 ns).
        item = _tuple_getitem(self, key)
        if item.__class__ is int:
            return _DIMS[item] if item < _N_CACHED else Dimension(item)
        if item is None:
            return None
        return _tuple_new(TensorShape, item)

    def __getnewargs__(self):
        return (tuple(self),)

    @property
    def ndims(self):
        return len(self)

    @property
    def rank(self):
        return len(self)

    @property
    def dims(self):
        return [None if d is None else Dimension(d) for d in tuple.__iter__(self)]

    def as_list(self):
        return list(tuple.__iter__(self))

    def is_fully_defined(self):
        return None not in tuple.__iter__(self)

    def num_elements(self):
        """The product of the dimensions, or None when one is unknown."""
        n = 1
        for d in tuple.__iter__(self):
            if d is None:
                return None
            n *= d
        return n

    def is_compatible_with(self, other):
        other = as_shape(other)
        return len(self) == len(other) and all(
            a is None or b is None or a == b
            for a, b in zip(tuple.__iter__(self), tuple.__iter__(other)))

    def assert_is_compatible_with(self, other):
        if not self.is_compatible_with(other):
            raise ValueError("Shapes %s and %s are incompatible" % (self, as_shape(other)))

    def merge_with(self, other):
        """The most specific shape compatible with both; ValueError when there is none."""
        other = as_shape(other)
        self.assert_is_compatible_with(other)
        return TensorShape([a if a is not None else b
                            for a, b in zip(tuple.__iter__(self), tuple.__iter__(other))])

    def concatenate(self, other):
        return TensorShape(tuple(self) + tuple(as_shape(other)))

    def assert_has_rank(self, rank):
        if len(self) != rank:
            raise ValueError("Shape %s must have rank %d" % (self, rank))

    def with_rank(self, rank):
        self.assert_has_rank(rank)
        return self

    def __add__(self, other):
        # TensorShape + TensorShape concatenates (TF); with a tuple it stays a tuple.
        if isinstance(other, TensorShape):
            return self.concatenate(other)
        return tuple.__add__(self, other)

    def __repr__(self):
        return tuple.__repr__(self)

    def __str__(self):
        return tuple.__repr__(self)


def as_shape(shape):
    """``shape`` (a TensorShape, tuple, list, int) as a TensorShape."""
    return shape if isinstance(shape, TensorShape) else TensorShape(shape)
