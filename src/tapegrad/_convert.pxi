# Included by _core.pyx: converting Python values and arrays to tensors; weak typing.

# ---------------------------------------------------------------------------
# conversion

cdef object _default_array_dtype(object arr):
    # Python floats/ints become float32/int32 as in TensorFlow; NumPy arrays keep theirs.
    cdef str k = arr.dtype.kind
    if k == "f" and arr.dtype != _float32:
        return arr.astype(_float32)
    if k == "i" and arr.dtype != _int32:
        if arr.size and (arr.max() > 2147483647 or arr.min() < -2147483648):
            return arr.astype(_int64)
        return arr.astype(_int32)
    return arr


cdef inline object _native(object arr):
    # Tensors hold native byte order: the Cython kernels read buffers through plain
    # pointers, and a big-endian array read that way is garbage (1.0 reads as 4.6e-41)
    if cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>arr):
        return arr
    return arr.astype(arr.dtype.newbyteorder("="))


cdef object _check_array_dtype(object arr, str what):
    cdef str k = arr.dtype.kind
    if k not in "fiub":
        raise TypeError("%s: cannot convert a value of dtype %s to a tensor (supported: "
                        "float16/32/64, int8..int64, uint8, bool)" % (what, arr.dtype))
    return arr


cpdef Tensor convert(object value, object dtype=None, str what="convert_to_tensor"):
    """Convert a Tensor, Variable, ndarray, Python number or nested list to a Tensor."""
    cdef Tensor t
    if type(value) is Tensor:
        t = <Tensor>value
        if dtype is not None and t._data.dtype != dtype:
            raise TypeError("%s: tensor has dtype %s but %s was requested (use tg.cast)"
                            % (what, t._data.dtype.name, np.dtype(dtype).name))
        return t
    if isinstance(value, BaseVariable):
        return convert((<BaseVariable>value).read(), dtype, what)
    if value is None:
        raise TypeError("%s: cannot convert None to a tensor" % what)
    try:
        if isinstance(value, ndarray):
            arr = _np_array(value, dtype=dtype, copy=True)
        elif isinstance(value, (np.generic,)):
            arr = _np_array(value, dtype=dtype)
        elif dtype is not None:
            arr = _np_array(value)
            if arr.dtype == object or arr.dtype.kind not in "fiub":
                raise TypeError("%s: cannot convert %s to a tensor" % (what, type(value).__name__))
            if arr.dtype.kind == "f" and np.dtype(dtype).kind in "iub" and (
                    np.dtype(dtype).kind == "b" or not np.all(np.trunc(arr) == arr)):
                raise TypeError("%s: cannot convert float value %r to %s without loss"
                                % (what, value, np.dtype(dtype).name))
            arr = arr.astype(dtype)
        else:
            if isinstance(value, (list, tuple)) and _contains_tensor(value):
                value = _unwrap_nested(value)
            arr = _default_array_dtype(_np_array(value))
    except (ValueError, OverflowError) as e:
        raise ValueError("%s: cannot convert %s to a tensor: %s"
                         % (what, type(value).__name__, e)) from None
    if arr.dtype == object:
        raise TypeError("%s: cannot convert %s to a tensor (ragged or non-numeric value)"
                        % (what, type(value).__name__))
    _check_array_dtype(arr, what)
    arr = _native(arr)
    t = _new_tensor(_freeze(arr))
    if _default_device is not None and _default_device != _cpu_device:
        return _to_device_hook(t, _default_device)
    return t


cdef bint _contains_tensor(object seq):
    for v in seq:
        if isinstance(v, (Tensor, BaseVariable)):
            return True
        if isinstance(v, (list, tuple)) and _contains_tensor(v):
            return True
    return False


cdef inline bint _is_weak(object x):
    # Python scalars adopt the dtype of the tensors they meet (weak typing).
    cdef object tp = type(x)
    return tp is float or tp is int or tp is bool


cdef object _weak_to_array(object x, object dtype, str name):
    cdef object tp = type(x)
    cdef str k = dtype.kind
    if tp is float and k != "f":
        if k == "b" or float(x) != int(x):
            raise TypeError("%s: cannot combine Python float %r with a %s tensor (use tg.cast)"
                            % (name, x, dtype.name))
    if tp is int and k == "b" and x not in (0, 1):
        raise TypeError("%s: cannot combine Python int %r with a bool tensor" % (name, x))
    if tp is int and k in "iu":
        info = np.iinfo(dtype)
        if x < info.min or x > info.max:
            raise ValueError("%s: Python int %r does not fit in %s" % (name, x, dtype.name))
    return _np_array(x, dtype=dtype)
