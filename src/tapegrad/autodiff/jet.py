"""Taylor-mode differentiation: tg.jet, tg.derivatives, tg.taylor_coefficients.

``jet(fun, primals, series)`` (JAX's signature and convention): with
``series[i] = (x1, ..., xK)`` the derivatives of the i-th input along a path,
x(t) = x0 + x1 t + x2 t^2/2! + ..., it returns ``fun(x0)`` and the derivatives
(y1, ..., yK) of y(t) = fun(x(t)) at t = 0, in one forward pass: O(K^2) per
elementwise op instead of the 2^K of K nested tapes.

How: ``fun`` is traced by ``tg.function`` at the primals (once per signature, cached
per function), and the graph is interpreted with each primitive's "taylor" rule, which
lives beside the primitive's forward (ops/*.py) and maps the operands' truncated
series to the output's (ops/_series.py has the arithmetic).  A primitive without a
rule raises naming it.  Series are NumPy arrays in the primals' dtype; under a
recording tape each output is recorded with a Taylor-mode VJP (below), so a jet is
differentiable once with respect to its primals and series terms.
"""

import math

import numpy as np

from tapegrad import _core
from tapegrad.autodiff import nest
from tapegrad.ops._registry import NotSupported

__all__ = ["jet", "derivatives", "taylor_coefficients"]



def _c(a):
    # C-contiguous, keeping 0-d results 0-d (np.ascontiguousarray would make them 1-d)
    return np.require(a, requirements="C")


class JetError(TypeError):
    """A function cannot be pushed through Taylor mode (the message says which op)."""


def _traced(fun, args):
    from tapegrad.graph.function import traced_graph

    return traced_graph(fun, args, "jet")


def _tensor(x):
    if isinstance(x, _core.BaseVariable):
        x = x.read_value()
    if not isinstance(x, _core.Tensor):
        x = _core.convert(x, None, "jet")
    return x


def jet(fun, primals, series):
    """(fun(*primals), derivatives of fun along the series), JAX's tg.jet.

    ``primals``: a tuple of tensors; ``series``: a tuple with, per primal, a sequence
    of K tensors of its shape (the 1st..K-th derivative of the input path; ignored for
    integer and bool primals, which stay fixed).  Returns
    ``(primal_out, series_out)`` with ``series_out`` a list of K tensors (a list per
    output for a function returning several).
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(series, (tuple, list)):
        raise TypeError("jet: primals and series must be tuples (one entry per argument)")
    if len(primals) != len(series):
        raise ValueError("jet: %d primals but %d series" % (len(primals), len(series)))
    xs = [_tensor(p) for p in primals]
    orders = {len(s) for s in series}
    if len(orders) != 1:
        raise ValueError("jet: every series must have the same length, got %s"
                         % sorted(len(s) for s in series))
    K = orders.pop()
    inputs = []
    for x, s in zip(xs, series):
        arr = np.asarray(x.numpy())
        S = np.zeros((K + 1,) + arr.shape, dtype=arr.dtype)
        S[0] = arr
        if arr.dtype.kind != "f":
            # integer and bool inputs (indices, masks) do not move along the path
            inputs.append(S)
            continue
        for k, term in enumerate(s, start=1):
            t = np.asarray(_tensor(term).numpy(), dtype=arr.dtype)
            if t.shape != arr.shape:
                raise ValueError("jet: series term %d has shape %s, its primal %s"
                                 % (k, t.shape, arr.shape))
            S[k] = t / math.factorial(k)     # derivative -> normalized coefficient
        inputs.append(S)
    graph = _traced(fun, xs)
    env = run(graph, inputs, K)
    outs = []
    for ref in graph.flat_outputs():
        S = env[ref.id]
        outs.append((_core.wrap(_c(S[0])),
                     [_core.wrap(_c(S[k] * math.factorial(k)))
                      for k in range(1, K + 1)]))
    from tapegrad.autodiff.tape_jacobians import _recording

    if _recording():
        outs = _recorded(fun, xs, series, K, outs)
    primal_out = nest.pack_sequence_as(graph.outputs, [o[0] for o in outs])
    if len(outs) == 1 and not isinstance(graph.outputs, (list, tuple)):
        return primal_out, outs[0][1]
    return primal_out, [o[1] for o in outs]


# -- differentiating a jet -----------------------------------------------------------------
#
# With x(t) = sum_j x_j t^j / j! and y(t) = f(x(t)), the k-th output y_k = y^(k)(0) depends
# linearly on a perturbation u of x_j through  d^k/dt^k [J(x(t)) u t^j/j!] at 0
# = C(k, j) * d^(k-j)/dt^(k-j) [J(x(t)) u] at 0  (Leibniz), so its VJP with cotangent g is
#     dL/dx_j = C(k, j) * d^(k-j)/dt^(k-j) [J(x(t))^T g] at t = 0      (j <= k; 0 for j > k)
# -- the derivatives of the VJP function h(x, g) = J(x)^T g along the same path: one jet of
# h to order k.  The backward is NumPy-valued (a jet), so it is not differentiable again:
# a tape recording the backward pass is an error, not a silent zero.

_VJP_FNS = {}


def _vjp_fn(fun, o, n):
    """h(x_1..x_n, g) = (J_1^T g, ..., J_n^T g) of ``fun``'s flat output ``o`` (cached, so
    its trace is reused)."""
    key = (id(fun), o, n)
    hit = _VJP_FNS.get(key)
    if hit is not None and hit[0] is fun:
        return hit[1]
    from tapegrad.autodiff.tape import GradientTape

    def h(*args):
        xs, g = list(args[:n]), args[n]
        with GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(xs)
            y = nest.flatten(fun(*xs))[o]
        return tuple(tape.gradient(y, xs, output_gradients=g, unconnected_gradients="zero"))

    if len(_VJP_FNS) >= 64:
        _VJP_FNS.pop(next(iter(_VJP_FNS)))
    _VJP_FNS[key] = (fun, h)
    return h


def _recorded(fun, xs, series, K, outs):
    """The jet's outputs recorded on the active tapes (one custom-gradient record per
    output tensor; inputs: the floating primals and their series terms)."""
    from tapegrad.autodiff.custom import custom_gradient

    fl = [i for i, x in enumerate(xs) if x.dtype.kind == "f"]
    terms = {i: [_tensor(t) for t in series[i]] for i in fl}
    ins = [xs[i] for i in fl] + [t for i in fl for t in terms[i]]

    def backward(o, k, g):
        from tapegrad.autodiff.tape_jacobians import _recording
        from tapegrad.ops.elementwise import multiply, zeros_like

        if _recording():
            raise TypeError("jet: the gradient of a jet's output is computed in Taylor mode "
                            "and is not differentiable again (a tape is recording the "
                            "backward pass); nest tapes inside the function instead")
        h = _vjp_fn(fun, o, len(xs))
        args = tuple(xs) + (g,)
        if k == 0:
            d = [[v] for v in h(*args)]                   # d[p][m]: m-th derivative
        else:
            ser = tuple(tuple(terms[p][:k]) if p in terms else
                        tuple(zeros_like(xs[p]) for _ in range(k)) for p in range(len(xs)))
            h0, hs = jet(h, args, ser + (tuple(zeros_like(g) for _ in range(k)),))
            d = [[h0[p]] + list(hs[p]) for p in range(len(xs))]
        grads = [d[p][k] for p in fl]
        for p in fl:
            for j in range(1, K + 1):
                grads.append(None if j > k else
                             multiply(d[p][k - j], float(math.comb(k, j))) if k > j else
                             d[p][0])
        return grads

    def record(value, o, k):
        if value.dtype.kind != "f":
            return value

        @custom_gradient
        def jet_output(*_):
            return value, lambda g: backward(o, k, g)

        return jet_output(*ins)

    return [(record(y0, o, 0), [record(y, o, k) for k, y in enumerate(ys, start=1)])
            for o, (y0, ys) in enumerate(outs)]


def run(graph, inputs, K):
    """Series of every value of ``graph`` given its inputs' series."""
    from tapegrad.graph.ir import Ref  # here: import tapegrad does not load graph/
    env = {}
    for vid, S in zip(graph.inputs, inputs):
        env[vid] = S
    for vid, t in graph.constants.items():
        env[vid] = _constant(np.asarray(t.numpy()), K)
    for node in graph.nodes:
        if node.op == "read_variable":
            env[node.outputs[0]] = _constant(np.asarray(node.variable.numpy()), K)
            continue
        if node.prim is None or node.op.startswith("random_"):
            raise JetError("jet: %s cannot be pushed through Taylor mode (a stateful or "
                           "random op in the function)" % node.op)
        refs = [type(a) is Ref for a in node.args]
        if not node.prim.differentiable:
            # integer/bool results and stop_gradient: constant along the path
            primal = node.prim.cpu(*[env[a.id][0] if r else a
                                     for a, r in zip(node.args, refs)], **node.params)
            env[node.outputs[0]] = _constant(np.asarray(primal), K)
            continue
        rule = node.prim.rule("taylor")
        if rule is None or isinstance(rule, NotSupported):
            why = rule.reason if isinstance(rule, NotSupported) else "no Taylor rule yet"
            raise JetError("jet: primitive %r has no Taylor-mode rule (%s)"
                           % (node.op, why))
        out_dtype = graph.values[node.outputs[0]].dtype
        series = []
        for a, r in zip(node.args, refs):
            if r:
                series.append(env[a.id])
            elif np.ndim(a) == 0 and not isinstance(a, np.ndarray):
                series.append(_constant(np.asarray(a, dtype=out_dtype), K))   # weak
            else:
                series.append(_constant(np.asarray(a), K))
        S = np.asarray(rule(*series, **node.params))
        env[node.outputs[0]] = S if S.dtype == out_dtype else S.astype(out_dtype)
    return env


def _constant(value, K):
    out = np.zeros((K + 1,) + value.shape, dtype=value.dtype)
    out[0] = value
    return out


def taylor_coefficients(fun, x, order, direction=None):
    """[f(x), f'(x)/1!, ..., f^(order)(x)/order!] along ``direction`` (1 for a scalar
    x), from one jet."""
    x = _tensor(x)
    if direction is None:
        if x.shape != ():
            raise ValueError("taylor_coefficients: x has shape %s; give the direction "
                             "of the derivatives" % (tuple(x.shape),))
        direction = np.ones((), dtype=x.dtype)
    if _recording_now():
        y0, ys = _along_recorded(fun, x, direction, int(order))
        from tapegrad.ops.elementwise import multiply

        return [y0] + [multiply(y, 1.0 / math.factorial(k)) for k, y in enumerate(ys, 1)]
    graph, S = _along(fun, x, direction, int(order))
    out = S[graph.flat_outputs()[0].id]
    return [_core.wrap(_c(out[k])) for k in range(out.shape[0])]


def derivatives(fun, x, order, direction=None):
    """[f'(x), ..., f^(order)(x)] (directional along ``direction`` for a tensor x)."""
    if int(order) < 1:
        raise ValueError("derivatives: order must be >= 1, got %r" % (order,))
    x = _tensor(x)
    if direction is None:
        if x.shape != ():
            raise ValueError("derivatives: x has shape %s; give the direction of the "
                             "derivatives" % (tuple(x.shape),))
        direction = np.ones((), dtype=x.dtype)
    if _recording_now():
        return _along_recorded(fun, x, direction, int(order))[1]
    graph, S = _along(fun, x, direction, int(order))
    out = S[graph.flat_outputs()[0].id]
    return [_core.wrap(_c(out[k] * math.factorial(k)))
            for k in range(1, out.shape[0])]


def _recording_now():
    from tapegrad.autodiff.tape_jacobians import _recording

    return _recording()


def _along_recorded(fun, x, direction, K):
    """derivatives / taylor_coefficients under a tape: through jet, whose outputs are
    recorded (differentiable in x and in the direction)."""
    from tapegrad.ops.elementwise import zeros_like

    v = _tensor(direction)
    if tuple(v.shape) != tuple(x.shape):
        raise ValueError("derivatives: direction has shape %s, x %s"
                         % (tuple(v.shape), tuple(x.shape)))
    zero = zeros_like(x)
    y0, ys = jet(fun, (x,), ((v,) + (zero,) * (K - 1),) if K >= 1 else ((),))
    if isinstance(ys, list) and ys and isinstance(ys[0], list):
        raise ValueError("derivatives: the function must return one tensor")
    return y0, ys


def _along(fun, x, direction, K):
    """Series of every value of fun's graph along x + t * direction."""
    arr = np.asarray(x.numpy())
    v = np.asarray(_tensor(direction).numpy(), dtype=arr.dtype)
    if v.shape != arr.shape:
        raise ValueError("derivatives: direction has shape %s, x %s" % (v.shape, arr.shape))
    S = np.zeros((K + 1,) + arr.shape, dtype=arr.dtype)
    S[0] = arr
    if K >= 1:
        S[1] = v
    graph = _traced(fun, [x])
    if len(graph.flat_outputs()) != 1:
        raise ValueError("derivatives: the function must return one tensor")
    return graph, run(graph, [S], K)
