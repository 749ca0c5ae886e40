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


class ConversionOverflowError(OverflowError, ValueError):
    """A value that does not fit the requested dtype (an OverflowError, as in NumPy 2,
    and a ValueError, as in TensorFlow)."""


cdef str _value_str(object value):
    cdef str r = repr(value.tolist() if isinstance(value, (ndarray, np.generic)) else value)
    return r if len(r) <= 60 else r[:57] + "..."


cdef int _check_huge_int(object arr, object value, str dtype_name, str what) except -1:
    # NumPy keeps Python ints beyond 64 bits as objects: name them as out of range
    if arr.dtype == object and arr.size and all([type(v) is int for v in arr.flat]):
        raise ConversionOverflowError("%s: value %s is out of range for %s"
                          % (what, _value_str(value), dtype_name))
    return 0


cdef object _checked_cast(object arr, object dt, object value, str what):
    # `arr` as dtype `dt`, refusing what would not survive the cast: integers outside
    # the target's range (300 as uint8 would wrap to 44), non-integral floats as
    # integers, anything but 0/1 as bool.  Float to float rounds (IEEE, as NumPy/TF).
    cdef str kf = arr.dtype.kind, kt = dt.kind
    if arr.dtype == dt:
        return arr
    if kf not in "fiubc":
        # object/str arrays: astype would raise NumPy's bare "float() argument must be..."
        _check_array_dtype(arr, what)
    if kf == "c" and kt != "c":
        # NumPy drops the imaginary part with only a ComplexWarning: 1+2j as float32 would
        # be a silent 1.0.  A complex value with zero imaginary parts converts.
        if arr.size and np.any(arr.imag != 0):
            raise TypeError("%s: cannot convert complex value %s to %s without losing its "
                            "imaginary part (use tg.math.real or tg.abs)"
                            % (what, _value_str(value), dt.name))
        arr = arr.real
        kf = arr.dtype.kind
    if kt in "iu" and kf in "iuf" and arr.size:
        if kf == "f" and not np.all(np.trunc(arr) == arr):
            raise TypeError("%s: cannot convert float value %s to %s without loss"
                            % (what, _value_str(value), dt.name))
        info = np.iinfo(dt)
        lo, hi = arr.min(), arr.max()
        if lo < info.min or hi > info.max:
            raise ConversionOverflowError("%s: value %s is out of range for %s [%d, %d]" % (
                what, _value_str(value), dt.name, info.min, info.max))
    elif kt == "b" and kf in "iuf" and arr.size and not np.all((arr == 0) | (arr == 1)):
        raise ConversionOverflowError("%s: value %s cannot be converted to bool (only 0 and 1)"
                          % (what, _value_str(value)))
    return arr.astype(dt)


cdef object _check_array_dtype(object arr, str what):
    cdef str k = arr.dtype.kind
    if k not in "fiubc":
        raise TypeError("%s: cannot convert a value of dtype %s to a tensor (supported: "
                        "float16/32/64, complex64/128, int8..int64, uint8, bool)"
                        % (what, arr.dtype))
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
            if dtype is None:
                arr = _np_array(value, copy=True)
            else:
                arr = _checked_cast(_np_array(value, copy=True), np.dtype(dtype), value, what)
        elif isinstance(value, (np.generic,)):
            arr = _np_array(value)
            if dtype is not None:
                arr = _checked_cast(arr, np.dtype(dtype), value, what)
        elif dtype is not None:
            if isinstance(value, (list, tuple)) and _contains_tensor(value):
                value = _unwrap_nested(value)
            arr = _np_array(value)
            _check_huge_int(arr, value, np.dtype(dtype).name, what)
            if arr.dtype == object or arr.dtype.kind not in "fiubc":
                raise TypeError("%s: cannot convert %s to a tensor" % (what, type(value).__name__))
            arr = _checked_cast(arr, np.dtype(dtype), value, what)
        else:
            if isinstance(value, (list, tuple)) and _contains_tensor(value):
                value = _unwrap_nested(value)
            arr = _default_array_dtype(_np_array(value))
    except ConversionOverflowError:
        raise
    except (ValueError, OverflowError) as e:
        raise ValueError("%s: cannot convert %s to a tensor: %s"
                         % (what, type(value).__name__, e)) from None
    _check_huge_int(arr, value, "int64", what)
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
    return tp is float or tp is int or tp is bool or tp is complex


cdef inline bint _is_numpy(object x):
    return type(x) is ndarray or isinstance(x, (ndarray, np.generic))


cdef object _numpy_operand(object x, object dtype, str name):
    # A NumPy array or scalar meeting tensors of `dtype` in an op (TF eager's rule for
    # NumPy operands): converted when no value changes kind or range (int/float -> float,
    # int -> int where the values fit, bool -> bool); anything else raises.
    cdef object arr = convert(x, None, name)._data
    cdef str kf = arr.dtype.kind, kt = dtype.kind
    if arr.dtype == dtype:
        return arr
    if (kt == "f" and kf in "iuf") or (kt in "iu" and kf in "iu"):
        return _checked_cast(arr, dtype, x, name)
    raise TypeError("%s: cannot convert a NumPy %s operand to the tensors' dtype %s (NumPy "
                    "operands convert int/float to float and int to int); use tg.cast"
                    % (name, arr.dtype.name, dtype.name))


cdef object _weak_to_array(object x, object dtype, str name):
    cdef object tp = type(x)
    cdef str k = dtype.kind
    if tp is complex and k != "c":
        raise TypeError("%s: cannot combine Python complex %r with a %s tensor (use tg.cast "
                        "or tg.complex)" % (name, x, dtype.name))
    if tp is float and k != "f" and k != "c":
        if k == "b" or not np.isfinite(x) or float(x) != int(x):
            raise TypeError("%s: cannot combine Python float %r with a %s tensor (use tg.cast)"
                            % (name, x, dtype.name))
    if tp is int and k == "b" and x not in (0, 1):
        raise TypeError("%s: cannot combine Python int %r with a bool tensor" % (name, x))
    if k in "iu" and (tp is int or tp is float):
        info = np.iinfo(dtype)
        if x < info.min or x > info.max:
            raise ConversionOverflowError("%s: Python %s %r is out of range for %s [%d, %d]"
                              % (name, tp.__name__, x, dtype.name, info.min, info.max))
    return _np_array(x, dtype=dtype)
