"""One input set per registered primitive: (positional ndarrays, keyword params).

Shared by the fake-device sweep (test_launch.py) and the real GPU comparison
(test_gpu_ops.py); a test fails when a registered primitive has no case here.
"""
import numpy as np

from tapegrad import _core


def _r(*shape, dtype=np.float32, seed=0, lo=-2.0, hi=2.0):
    rng = np.random.default_rng(seed + sum(shape))
    return rng.uniform(lo, hi, size=shape).astype(dtype)


def _pos(*shape, dtype=np.float32, seed=1):
    return _r(*shape, dtype=dtype, seed=seed, lo=0.2, hi=3.0)


def _i(*shape, hi=5, dtype=np.int32, seed=2):
    return np.random.default_rng(seed).integers(0, hi, size=shape).astype(dtype)


def _b(*shape, seed=3):
    return np.random.default_rng(seed).random(shape) > 0.5


X = _r(2, 3, 4)
Y = _r(3, 1, seed=5)
P = _pos(2, 3, 4)
IMG = _r(2, 7, 6, 3, seed=7)
FILT = _r(3, 2, 3, 4, seed=8)
CONV = dict(strides=(2, 1), padding="SAME", dilations=(1, 1))


def _conv_out():
    from tapegrad.ops.conv import _conv2d
    return _conv2d.cpu(IMG, FILT, **CONV)


POOL = dict(ksize=(3, 2), strides=(2, 2), pads=(1, 0), out_hw=(4, 3))


def cases():
    """{primitive name: [(args, params), ...]}."""
    key_basic = _core.normalize_key((slice(None, None, -1), 1, slice(1, None, 2)))
    key_adv = _core.normalize_key((np.array([1, 0, 1]), slice(None), np.array([3, 0, 2])))
    c = {}
    scalar = np.array(2.5, np.float32)  # a weak Python scalar reaches forwards as 0-d
    for name in ("add", "subtract", "multiply", "maximum", "minimum"):
        c[name] = [((X, Y), {}), ((_i(2, 3), _i(1, 3, seed=4) + 1), {}), ((scalar, X), {}),
                   ((scalar, scalar), {})]
    c["pow"] = [((P, Y), {}), ((_i(2, 3), _i(1, 3, seed=4)), {})]
    c["safe_mul"] = [((np.where(X > 0, X, 0).astype(np.float32), Y), {})]
    c["divide"] = [((X, Y + 3), {}), ((_i(4), _i(4, seed=9) + 1), {})]
    c["floordiv"] = [((X * 3, Y + 3), {}), ((_i(6, hi=9) - 4, _i(6, seed=4) + 1), {})]
    c["floormod"] = [((X * 3, Y + 3), {}), ((_i(6, hi=9) - 4, _i(6, seed=4) + 1), {})]
    for name in ("negative", "abs", "sign", "square", "relu"):
        c[name] = [((X,), {}), ((_i(5) - 2,), {})]
    c["relu_grad"] = [((Y, X), {}), ((_i(5), _i(5, seed=3) - 2), {})]
    for name in ("floor", "ceil", "round", "exp", "expm1", "tanh", "sigmoid", "sin", "cos"):
        c[name] = [((X * 2,), {}), ((X.astype(np.float64),), {})]
    for name in ("log", "log1p", "sqrt", "rsqrt", "reciprocal"):
        c[name] = [((P,), {}), ((P.astype(np.float64),), {})]
    for name in ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal"):
        c[name] = [((np.round(X), np.round(Y)), {}), ((_i(3, 4), _i(4, seed=7)), {})]
    for name in ("logical_and", "logical_or", "logical_xor"):
        c[name] = [((_b(3, 4), _b(4, seed=9)), {})]
    c["logical_not"] = [((_b(3, 4),), {})]
    special = np.array([0.0, np.nan, np.inf, -np.inf, 1.5], np.float32)
    for name in ("is_nan", "is_finite", "is_inf"):
        c[name] = [((special,), {})]
    c["where"] = [((_b(3, 4), X[0], Y), {})]
    c["cast"] = [((X,), {"dtype": np.dtype(np.int32)}), ((_i(4),), {"dtype": np.dtype(np.float64)}),
                 ((X,), {"dtype": np.dtype(np.bool_)}), ((X,), {"dtype": np.dtype(np.float16)})]
    c["zeros_like"] = [((X,), {})]
    c["ones_like"] = [((_i(3),), {})]
    c["identity"] = [((X,), {})]
    c["stop_gradient"] = [((X,), {})]
    c["add_n"] = [((X, X * 2, X + 1), {})]
    c["fill"] = [((), {"shape": (2, 3), "value": 1.5, "dtype": np.dtype(np.float32)})]
    c["eye"] = [((), {"num_rows": 3, "num_columns": 4, "dtype": np.dtype(np.float32)})]
    c["range"] = [((), {"start": 1, "limit": 10, "delta": 3, "dtype": np.dtype(np.int32)}),
                  ((), {"start": 0.5, "limit": 2.0, "delta": 0.25,
                        "dtype": np.dtype(np.float32)})]
    for name in ("random_normal", "random_truncated_normal"):
        c[name] = [((), {"shape": (100, 10), "mean": 1.0, "stddev": 2.0,
                         "dtype": np.dtype(np.float32), "key": 42})]
    c["random_uniform"] = [((), {"shape": (100, 10), "minval": -1.0, "maxval": 3.0,
                                 "dtype": np.dtype(np.float32), "key": 42}),
                           ((), {"shape": (1000,), "minval": 2, "maxval": 9,
                                 "dtype": np.dtype(np.int32), "key": 7})]
    for name in ("reduce_sum", "reduce_prod", "reduce_max", "reduce_min"):
        c[name] = [((X,), {"axes": (0, 2), "keepdims": False}),
                   ((X,), {"axes": (1,), "keepdims": True}),
                   ((X,), {"axes": (0, 1, 2), "keepdims": False}),
                   ((_i(3, 4) + 1,), {"axes": (0,), "keepdims": False})]
    for name in ("reduce_any", "reduce_all"):
        c[name] = [((_b(3, 4),), {"axes": (1,), "keepdims": False})]
    for name in ("argmax", "argmin"):
        c[name] = [((X,), {"axis": 1, "output_type": np.dtype(np.int64)}),
                   ((X,), {"axis": 2, "output_type": np.dtype(np.int32)})]
    for name in ("softmax", "log_softmax"):
        c[name] = [((X,), {"axis": 2}), ((X,), {"axis": 0})]
    c["softmax_grad"] = [((X, _r(2, 3, 4, seed=7)), {"axis": 2}),
                         ((X, _r(2, 3, 4, seed=7)), {"axis": 0})]
    c["sparse_softmax_xent"] = [((_r(3, 5), np.array([0, 4, 2], np.int32)), {}),
                                ((_r(2, 3, 4), np.array([[0, 3, 1], [2, 2, 0]], np.int64)), {})]
    c["sparse_softmax_xent_grad"] = [
        ((_r(3, 5), np.array([0, 4, 2], np.int32), _r(3)), {}),
        ((_r(2, 3, 4), np.array([[0, 3, 1], [2, 2, 0]], np.int64), _r(2, 3)), {})]
    c["reshape"] = [((X,), {"shape": (4, -1)})]
    c["transpose"] = [((X,), {"perm": (2, 0, 1)})]
    c["broadcast_to"] = [((Y,), {"shape": (2, 3, 4)})]
    c["concat"] = [((X, X[:, :1]), {"axis": 1})]
    c["tile"] = [((Y,), {"multiples": (2, 1, 3)})]
    c["getitem"] = [((X,), {"key": key_basic}), ((X,), {"key": key_adv})]
    c["getitem_grad"] = [((X[::-1, 1, 1::2].copy(),), {"shape": X.shape, "key": key_basic}),
                         ((_r(3, 3),), {"shape": X.shape, "key": key_adv})]
    idx = np.array([[2, 0], [1, 2]], np.int64)
    c["gather"] = [((X, idx), {"axis": 1}), ((X, np.array([1, 0], np.int32)), {"axis": 0})]
    c["gather_grad"] = [((_r(2, 2, 2, 4), idx), {"shape": X.shape, "axis": 1})]
    c["one_hot"] = [((np.array([0, 2, 5, -1], np.int32),),
                     {"depth": 4, "on_value": 2.0, "off_value": -1.0, "axis": -1,
                      "dtype": np.dtype(np.float32)}),
                    ((_i(2, 3, hi=3, dtype=np.int64),),
                     {"depth": 3, "on_value": 1, "off_value": 0, "axis": 0,
                      "dtype": np.dtype(np.int32)})]
    c["pad"] = [((X,), {"paddings": ((1, 0), (0, 2), (1, 1)), "constant_values": 0.5})]
    c["matmul"] = [((X, _r(2, 4, 5)), {"transpose_a": False, "transpose_b": False}),
                   ((_r(4, 3), _r(2, 5, 4)), {"transpose_a": True, "transpose_b": True}),
                   ((_i(2, 3), _i(3, 2)), {"transpose_a": False, "transpose_b": False})]
    c["einsum"] = [((X, _r(4, 5)), {"equation": "abc,cd->abd"}),
                   ((_r(3, 3),), {"equation": "ii->"}),
                   ((X, _r(2, 4)), {"equation": "abc,ac->b"})]
    c["conv2d"] = [((IMG, FILT), dict(CONV)),
                   ((IMG, FILT), dict(strides=(1, 1), padding="VALID", dilations=(2, 1)))]
    c["conv2d_backprop_input"] = [((_conv_out(), FILT), dict(input_shape=IMG.shape, **CONV))]
    c["conv2d_backprop_filter"] = [((IMG, _conv_out()), dict(filter_shape=FILT.shape, **CONV))]
    c["max_pool2d"] = [((IMG,), dict(POOL))]
    c["avg_pool2d"] = [((IMG,), dict(POOL))]
    c["max_pool2d_grad"] = [((IMG, _r(2, 4, 3, 3)), dict(POOL))]
    c["max_pool2d_select"] = [((IMG, _r(2, 7, 6, 3, seed=11)), dict(POOL))]
    c["avg_pool2d_grad"] = [((_r(2, 4, 3, 3),), dict(input_shape=IMG.shape, ksize=(3, 2),
                                                     strides=(2, 2), pads=(1, 0)))]
    c.update(_host_cases())
    # array ops (h18): forwards staged through the host
    for name in ("cumsum", "cumprod", "cumulative_logsumexp"):
        c[name] = [((X,), {"axis": 1, "exclusive": True, "reverse": False}),
                   ((X,), {"axis": 0, "exclusive": False, "reverse": True})]
    c["sort"] = [((X,), {"axis": 2, "descending": True})]
    c["argsort"] = [((X,), {"axis": 1, "descending": False, "out_dtype": np.dtype(np.int32)})]
    c["searchsorted"] = [((np.sort(_r(2, 5), axis=1), _r(2, 3)),
                          {"side": "left", "out_dtype": np.dtype(np.int64)})]
    c["take_along_axis"] = [((X, np.zeros((2, 1, 4), np.int64)), {"axis": 1})]
    c["take_along_axis_grad"] = [((_r(2, 1, 4), np.zeros((2, 1, 4), np.int64)),
                                  {"shape": X.shape, "axis": 1})]
    c["tensor_scatter_update"] = [((_r(4, 3), np.array([2, 0, 2]), _r(3, 3),
                                    np.array([False, True, True])), {})]
    c["unsorted_segment_prod"] = [((_r(4, 3), np.array([1, 0, 1, 1])), {"num": 3})]
    c["repeat"] = [((X,), {"repeats": 3, "axis": 1}), ((X,), {"repeats": 2, "axis": 2})]
    for name in ("sinh", "cosh", "tan", "asin", "acos", "atan", "asinh", "atanh", "trunc"):
        c[name] = [((np.tanh(X) * 0.9,), {})]
    for name in ("acosh", "log2", "log10"):
        c[name] = [((np.abs(X) + 1.5,), {})]
    for name in ("atan2", "hypot", "logaddexp"):
        c[name] = [((X, Y), {})]
    return c


def _host_cases():
    # primitives computed on the host (cuda/host.py): special functions, decompositions
    m3 = _r(2, 3, 3, seed=21) + 3 * np.eye(3, dtype=np.float32)
    spd = (m3 @ m3.transpose(0, 2, 1)).astype(np.float32)
    rhs = _r(2, 3, 2, seed=22)
    unit = _r(2, 3, 4, lo=-0.8, hi=0.8)
    c = {}
    for name in ("tan", "atan", "sinh", "cosh", "asinh", "erf", "erfc", "bessel_i0e",
                 "bessel_i1e"):
        c[name] = [((X,), {})]
    for name in ("asin", "acos", "atanh", "erfinv"):
        c[name] = [((unit,), {})]
    c["acosh"] = [((P + 1,), {})]
    c["ndtri"] = [((np.abs(unit) + 0.1,), {})]
    for name in ("lgamma", "digamma"):
        c[name] = [((P,), {})]
    c["atan2"] = [((X, P), {})]
    c["polygamma"] = [((np.ones_like(P), P), {})]
    for name in ("igamma", "igammac", "zeta"):
        c[name] = [((P + 1, P), {})]
    c["betainc"] = [((P, P + 1, np.abs(unit)), {})]
    c["matrix_inverse"] = [((m3,), {})]
    c["matrix_solve"] = [((m3, rhs), {"adjoint": False})]
    c["matrix_triangular_solve"] = [((m3, rhs), {"lower": True, "adjoint": True})]
    c["cholesky"] = [((spd,), {})]
    c["det_cofactor_deriv"] = [((m3, _r(2, 3, 3, seed=23)), {})]
    for name in ("matrix_determinant", "det_cofactor", "log_abs_det", "expm",
                 "matrix_diag_part"):
        c[name] = [((m3,), {})]
    for name in ("self_adjoint_eig", "self_adjoint_eigvals"):
        c[name] = [((spd,), {})]
    c["svd"] = [((X, ), {"full_matrices": False})]
    c["singular_values"] = [((X,), {})]
    c["qr"] = [((X,), {"full_matrices": False})]
    c["pinv"] = [((X,), {"rcond": 1e-5})]
    c["matrix_diag"] = [((X[0],), {"rows": 4, "cols": 4})]
    c["matrix_set_diag"] = [((X, X[..., 0]), {})]
    return c


# complex dtypes have no GPU storage (CudaArray supports real and bool dtypes): these run
# on the CPU only, and their GPU lookup raises a clear TypeError
COMPLEX_ONLY = {"complex", "real", "imag", "conj", "complex_abs", "angle", "fft_c2c",
                "fft_r2c", "fft_c2r"}


# Primitives whose GPU values legitimately differ from the CPU's (other random streams)
RANDOM = {"random_normal", "random_truncated_normal", "random_uniform"}
# Primitives that are never dispatched through a backend forward
NOT_DISPATCHED = {"custom_gradient", "function_call"}
