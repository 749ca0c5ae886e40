"""Truncated Taylor series arithmetic for the primitives' "taylor" rules (tg.jet).

A series is one ndarray ``S`` of shape ``(K + 1,) + value_shape``: ``S[k]`` is the
normalized coefficient of t**k of x(t) = sum_k S[k] t**k (tg.jet converts from and to
the derivative convention at its boundary).  Every rule takes its operands' series
(and the primitive's parameters) and returns the output's series; the recurrences are
the standard ones (Griewank & Walther, "Evaluating Derivatives", ch. 13): O(K^2) per
elementwise op, vectorised over the leading series axis.
"""

import numpy as np


def order(*series):
    return series[0].shape[0] - 1


def constant(value, K, dtype=None):
    """The series of a value that does not move with t."""
    v = np.asarray(value, dtype=dtype)
    out = np.zeros((K + 1,) + v.shape, dtype=v.dtype)
    out[0] = v
    return out


def fit(s, shape):
    """A series broadcast to the value shape ``shape``."""
    if s.shape[1:] == tuple(shape):
        return s
    return np.broadcast_to(s, s.shape[:1] + tuple(shape)).copy()


def align(*series):
    """Series given the same rank (value shapes broadcast from the right, behind the
    leading series axis)."""
    nd = max(x.ndim for x in series)
    return [x.reshape(x.shape[:1] + (1,) * (nd - x.ndim) + x.shape[1:]) for x in series]


def _lead(w, like):
    # a weight vector over the series axis, broadcastable against ``like``
    return np.asarray(w).reshape((-1,) + (1,) * (like.ndim - 1))


def conv(a, b, k, weights=None, lo=0):
    """sum_{j=lo..k} w_j a[j] * b[k-j] (elementwise, broadcasting)."""
    aj = a[lo:k + 1]
    bj = b[k - lo::-1] if k - lo >= 0 else b[:0]
    if aj.ndim == 1 and bj.ndim == 1:
        # scalar values: one dot product (the common case of derivatives of f(x))
        return np.dot(aj if weights is None else aj * weights, bj)
    prod = aj * bj
    if weights is not None:
        prod = prod * _lead(weights, prod)
    return prod.sum(axis=0)


def mul(a, b):
    """Cauchy product of two elementwise series (broadcasting)."""
    a, b = align(a, b)
    K = order(a)
    shape = np.broadcast_shapes(a.shape[1:], b.shape[1:])
    out = np.empty((K + 1,) + shape, dtype=np.result_type(a, b))
    for k in range(K + 1):
        out[k] = conv(a, b, k)
    return out


def bilinear(f, a, b):
    """Series of f(a, b) for f bilinear (matmul, conv2d): Cauchy products through f."""
    K = order(a)
    terms = []
    for k in range(K + 1):
        acc = None
        for j in range(k + 1):
            t = f(a[j], b[k - j])
            acc = t if acc is None else acc + t
        terms.append(acc)
    return np.stack(terms)


def multilinear(f, xs):
    """Series of f(*xs) for f linear in each argument (einsum of any arity)."""
    K = order(xs[0])
    n = len(xs)
    terms = []
    for k in range(K + 1):
        acc = None
        for combo in _compositions(k, n):
            t = f(*[x[j] for x, j in zip(xs, combo)])
            acc = t if acc is None else acc + t
        terms.append(acc)
    return np.stack(terms)


def _compositions(k, n):
    if n == 1:
        yield (k,)
        return
    for j in range(k + 1):
        for rest in _compositions(k - j, n - 1):
            yield (j,) + rest


def linear(f, s):
    """Series of f(x) for f linear: f of every coefficient."""
    return np.stack([f(s[k]) for k in range(s.shape[0])])


def div(a, b):
    """a / b: y_k = (a_k - sum_{j=1..k} b_j y_{k-j}) / b_0."""
    a, b = align(a, b)
    K = order(a)
    shape = np.broadcast_shapes(a.shape[1:], b.shape[1:])
    y = np.empty((K + 1,) + shape, dtype=np.result_type(a, b))
    for k in range(K + 1):
        acc = a[k] - conv(b, y, k, lo=1) if k else a[0]
        y[k] = acc / b[0]
    return y


_WEIGHTS = {}


def _d(x, k):
    # weights j/k for sum_{j=1..k} (j/k) x_j z_{k-j}: the coefficients of x' z
    key = (k, x.dtype.char)
    w = _WEIGHTS.get(key)
    if w is None:
        w = _WEIGHTS[key] = np.arange(1, k + 1, dtype=x.dtype if x.dtype.kind == "f"
                                      else np.float64) / k
    return w


def exp(x):
    if x.ndim == 1:
        return _scalar_ode(x, np.exp(x[0]), lambda y, m: y[m])
    K = order(x)
    y = np.empty_like(x)
    y[0] = np.exp(x[0])
    for k in range(1, K + 1):
        y[k] = conv(x, y, k, _d(x, k), lo=1)
    return y


def _scalar_ode(x, y0, deriv_py):
    # scalar values: Python floats beat NumPy calls on 0-d arrays by ~10x
    xs = x.tolist()
    K = len(xs) - 1
    y = [float(y0)]
    g = []
    for k in range(1, K + 1):
        g.append(deriv_py(y, k - 1))
        y.append(sum(j * xs[j] * g[k - j] for j in range(1, k + 1)) / k)
    return np.array(y, dtype=x.dtype)


def ode(x, y0, deriv, deriv_py=None):
    """y with y' = g(y) x', g's series built from y's so far: ``deriv(y, m)`` returns
    coefficient m of g(y(t)) (it may read y[0..m] only); ``deriv_py`` is the same on a
    list of Python floats, for scalar values."""
    if x.ndim == 1 and deriv_py is not None:
        return _scalar_ode(x, y0, deriv_py)
    K = order(x)
    y = np.empty((K + 1,) + np.shape(y0), dtype=np.result_type(x, y0))
    y[0] = y0
    g = np.empty_like(y)
    for k in range(1, K + 1):
        g[k - 1] = deriv(y, k - 1)
        y[k] = conv(x, g, k, _d(x, k), lo=1)
    return y


def log(x, shift=0.0):
    """log(x + shift): y_k = (x_k - sum_{j=1..k-1} (j/k) y_j x_{k-j}) / (x_0 + shift)."""
    K = order(x)
    y = np.empty_like(x)
    x0 = x[0] + shift
    y[0] = np.log(x0)
    for k in range(1, K + 1):
        acc = x[k]
        if k > 1:
            w = np.arange(1, k, dtype=x.dtype) / k
            acc = acc - (y[1:k] * x[k - 1:0:-1] * _lead(w, y[1:k])).sum(axis=0)
        y[k] = acc / x0
    return y


def sqrt(x):
    K = order(x)
    y = np.empty_like(x)
    y[0] = np.sqrt(x[0])
    for k in range(1, K + 1):
        acc = x[k]
        if k > 1:
            acc = acc - (y[1:k] * y[k - 1:0:-1]).sum(axis=0)
        y[k] = acc / (2 * y[0])
    return y


def power(x, p):
    """x ** p for a constant exponent p: x y' = p y x'."""
    K = order(x)
    p = np.asarray(p, dtype=x.dtype)
    shape = np.broadcast_shapes(x.shape[1:], p.shape)
    x = fit(x, shape)
    y = np.empty_like(x)
    y[0] = np.power(x[0], p)
    with np.errstate(divide="ignore", invalid="ignore"):
        for k in range(1, K + 1):
            j = np.arange(1, k + 1, dtype=x.dtype)
            w = _lead(j, x[1:k + 1])
            acc = ((p * w - (k - j).reshape(w.shape)) * x[1:k + 1] * y[k - 1::-1]).sum(axis=0)
            y[k] = acc / (k * x[0])
    # The recurrence divides by x_0.  At x_0 == 0 with a whole p >= 0, x ** p is a
    # polynomial in x and its series exists (t ** 2 has 0, 0, 1): Cauchy products there
    at_zero = (x[0] == 0) & (p >= 0) & (p == np.floor(p))
    if at_zero.any():
        pb = np.broadcast_to(p, shape)
        for q in np.unique(pb[at_zero]):
            sel = at_zero & (pb == q)
            y[:, sel] = _whole_power(x[:, sel], int(q)) if q <= K else 0
    return y


def _whole_power(x, q):
    # x ** q for a whole q by squaring (q <= K here, the series' order)
    out = constant(np.ones(x.shape[1:], dtype=x.dtype), order(x))
    while q:
        if q & 1:
            out = mul(out, x)
        q >>= 1
        if q:
            x = mul(x, x)
    return out


def sin_cos(x):
    K = order(x)
    s = np.empty_like(x)
    c = np.empty_like(x)
    s[0] = np.sin(x[0])
    c[0] = np.cos(x[0])
    for k in range(1, K + 1):
        w = _d(x, k)
        s[k] = conv(x, c, k, w, lo=1)
        c[k] = -conv(x, s, k, w, lo=1)
    return s, c


def tanh(x):
    # y' = (1 - y^2) x'
    def g(y, m):
        return (1.0 if m == 0 else 0.0) - conv(y, y, m)

    def g_py(y, m):
        return (1.0 if m == 0 else 0.0) - sum(y[i] * y[m - i] for i in range(m + 1))

    return ode(x, np.tanh(x[0]), g, g_py)


def sigmoid(x, y0):
    # y' = (y - y^2) x'
    def g(y, m):
        return y[m] - conv(y, y, m)

    def g_py(y, m):
        return y[m] - sum(y[i] * y[m - i] for i in range(m + 1))

    return ode(x, y0, g, g_py)


def select(mask, a, b):
    """where(mask, a, b) coefficient by coefficient (mask fixed by the primal)."""
    a, b = align(a, b)
    shape = np.broadcast_shapes(np.shape(mask), a.shape[1:], b.shape[1:])
    return np.where(mask, fit(a, shape), fit(b, shape))


def integrate(x, y0, h):
    """y with y' = h x', h's series known in full (from x alone): the inverse
    functions (atan, asin, erf...), whose derivative is a function of x."""
    K = order(x)
    x, h = align(x, h)
    shape = np.broadcast_shapes(x.shape[1:], h.shape[1:])
    y = np.empty((K + 1,) + shape, dtype=np.result_type(x, h))
    y[0] = y0
    for k in range(1, K + 1):
        y[k] = conv(x, h, k, _d(x, k), lo=1)
    return y


def sinh_cosh(x):
    K = order(x)
    s = np.empty_like(x)
    c = np.empty_like(x)
    s[0] = np.sinh(x[0])
    c[0] = np.cosh(x[0])
    for k in range(1, K + 1):
        w = _d(x, k)
        s[k] = conv(x, c, k, w, lo=1)
        c[k] = conv(x, s, k, w, lo=1)
    return s, c
