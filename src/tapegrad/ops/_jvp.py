"""The generic forward-mode rules a primitive can declare beside its forward.

``prim.deflinear(*argnums)`` installs a :class:`LinearJVP`: for an op linear in some
inputs (reshape, transpose, getitem, add, concat, reduce_sum, avg_pool2d, ...) the JVP
is the op itself applied to the tangents, the other inputs (indices) held fixed.
``prim.defjvp_self_adjoint()`` installs a :class:`SelfAdjointJVP`: an op with a
symmetric Jacobian (every unary elementwise op, softmax) applies its VJP to the tangent.
``prim.defjvp_by_transposition()`` installs a :class:`TransposedJVP`: the op's VJP
``u -> VJP(u)`` is linear in the cotangent ``u``, so the VJP of that map, seeded with
the input tangents, is ``J t`` (custom gradients, whose only rule is their grad_fn).

Both are ordinary JVP rules (``rule(tangents, ans, *inputs, **params)``), so forward
mode reads ``prim.jvp`` and never asks which kind it holds; the meta-tests do
(docs/architecture.md §3).  Inputs the tape did not save arrive as shape/dtype
descriptors (``_tape.Meta``), which is all a linear rule needs of a tangent-less input.
"""

from tapegrad import _core
from tapegrad.ops._registry import zeros_on_device


class LinearJVP:
    """JVP of an op linear in the inputs at ``argnums`` (None: all): the op on the
    tangents.  A tangent-less linear input contributes zeros (exactly what linearity
    says), so add/subtract/concat need no case analysis."""

    __slots__ = ("prim", "argnums")

    def __init__(self, prim, argnums=None):
        self.prim = prim
        self.argnums = None if argnums is None else tuple(argnums)

    def __call__(self, tangents, ans, *inputs, **params):
        like = next(t for t in tangents if t is not None)
        args = []
        for i, (t, x) in enumerate(zip(tangents, inputs)):
            if self.argnums is not None and i not in self.argnums:
                if isinstance(x, _core.Tensor):
                    args.append(x)
                    continue
                raise TypeError("%s: deflinear(%s) needs its fixed input %d saved "
                                "(save_inputs=True)" % (self.prim.name, self.argnums, i))
            args.append(zeros_on_device(x.shape, x.dtype, like) if t is None else t)
        return self.prim(*args, **params)

    def __repr__(self):
        return "<linear JVP of %s in inputs %s>" % (
            self.prim.name, "all" if self.argnums is None else list(self.argnums))


class SelfAdjointJVP:
    """JVP of a one-input op whose Jacobian is symmetric (an elementwise op's is
    diagonal; softmax's is ``diag(p) - p p^T``): ``J t = J^T t``, the VJP applied to
    the tangent, so each such op writes its derivative once."""

    __slots__ = ("prim",)

    def __init__(self, prim):
        self.prim = prim

    def __call__(self, tangents, ans, x, **params):
        from tapegrad import _tape

        return _tape.call_vjp(self.prim, tangents[0], ans, (x,), params, None)[0]

    def __repr__(self):
        return "<JVP of %s: its VJP (symmetric Jacobian)>" % self.prim.name


class TransposedJVP:
    """JVP by transposing the VJP: ``J t`` is the VJP of ``u -> VJP(u)`` seeded with the
    input tangents ``t`` (one backward pass of the VJP, recorded, so it differentiates
    again).  A VJP that is not linear in ``u`` (a clipping custom gradient) is
    linearised at ``u = 0``."""

    __slots__ = ("prim",)

    def __init__(self, prim):
        self.prim = prim

    def __call__(self, tangents, ans, *inputs, **params):
        from tapegrad import _tape
        from tapegrad.autodiff.tape import GradientTape

        like = next(t for t in tangents if t is not None)
        u = zeros_on_device(ans.shape, ans.dtype, like)
        tape = GradientTape(watch_accessed_variables=False)
        with tape:
            tape.watch(u)
            saved = ans if isinstance(ans, _core.Tensor) else None
            grads = _tape.call_vjp(self.prim, u, saved, inputs, params, None)
            gs, ts = [], []
            for i, (x, g, t) in enumerate(zip(inputs, grads, tangents)):
                if g is None or t is None:
                    continue
                gs.append(_tape.fit_grad(g, (tuple(x.shape), x.dtype), self.prim, i))
                ts.append(t)
        if not gs:
            return None
        return tape.gradient(gs, u, output_gradients=ts)

    def __repr__(self):
        return "<JVP of %s by transposition of its VJP>" % self.prim.name
