"""Each graph pass on hand-built graphs: what it removes, what it must keep, exact values."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _core, _graph
from tapegrad.graph import passes
from tapegrad.graph.ir import Graph, Node, Ref

REG = _core.registry()


class Builder:
    """A tiny assembler for graphs: inputs, constants, primitive nodes."""

    def __init__(self):
        self.g = Graph("hand")
        self.n = 0

    def _value(self, shape, dtype, kind):
        vid = self.n
        self.n += 1
        self.g.new_value(vid, shape, dtype, None, kind)
        return Ref(vid)

    def input(self, shape, dtype=np.float32):
        r = self._value(shape, dtype, "input")
        self.g.inputs.append(r.id)
        return r

    def const(self, value, dtype=np.float32):
        t = tg.constant(np.asarray(value, dtype=dtype))
        r = self._value(t.shape, t.dtype, "constant")
        self.g.constants[r.id] = t
        return r

    def op(self, name, *args, oshape, odtype=np.float32, **params):
        r = self._value(oshape, odtype, "node")
        self.g.nodes.append(Node(name, REG[name], args, params, [r.id]))
        return r

    def effect(self, kind, var, arg):
        self.g.nodes.append(Node(kind, None, (arg,), {}, [], variable=var))

    def read(self, var):
        r = self._value(var.shape, var.dtype, "node")
        self.g.nodes.append(Node("read_variable", None, (), {}, [r.id], variable=var))
        return r

    def done(self, outputs):
        self.g.outputs = outputs
        return self.g


def run(graph, *inputs):
    plan = _graph.Plan(graph, passes.plan_buffers(graph))
    return plan.run([tg.constant(np.asarray(x)) for x in inputs])


def ops(graph):
    return [n.op for n in graph.nodes]


def test_dce_removes_unused_pure_nodes_and_keeps_effects():
    b = Builder()
    v = tg.Variable(0.0)
    x = b.input(())
    e = b.op("exp", x, oshape=())
    b.op("log", e, oshape=())                    # dead
    b.read(v)                                   # dead read
    b.op("random_normal", oshape=(2,), **{"shape": (2,), "mean": 0.0, "stddev": 1.0,
                                         "dtype": np.dtype(np.float32), "key": 1}) \
        if False else None
    b.effect("assign_add", v, x)                # an effect: stays
    g = b.done(e)
    out = passes.dce(g)
    assert ops(out) == ["exp", "assign_add"]
    assert set(out.values) == {x.id, e.id}
    (y,) = run(out, np.float32(1.0))
    assert y.numpy() == np.exp(np.float32(1.0)) and v.numpy() == 1.0


def test_cse_merges_equal_nodes_only():
    b = Builder()
    x = b.input((3,))
    a1 = b.op("multiply", x, 2.0, oshape=(3,))
    a2 = b.op("multiply", x, 2.0, oshape=(3,))    # same: merged
    a3 = b.op("multiply", x, -0.0, oshape=(3,))   # 0.0 vs -0.0: never merged
    a4 = b.op("multiply", x, 0.0, oshape=(3,))
    s1 = b.op("reduce_sum", a1, oshape=(), axes=(0,), keepdims=False)
    s2 = b.op("reduce_sum", a2, oshape=(), axes=(0,), keepdims=False)   # merged after a2
    s3 = b.op("reduce_sum", a1, oshape=(1,), axes=(0,), keepdims=True)  # other params
    g = b.done([s1, s2, s3, a3, a4])
    out = passes.cse(g)
    assert ops(out).count("multiply") == 3 and ops(out).count("reduce_sum") == 2
    r = run(out, np.float32([1, -2, 3]))
    ref = run(g, np.float32([1, -2, 3]))
    for p, q in zip(r, ref):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), strict=True)
    assert np.signbit(r[3].numpy()).tolist() == [True, False, True]


def test_cse_never_merges_random_ops_or_reads_across_assignments():
    b = Builder()
    v = tg.Variable(1.0)
    r1 = b.read(v)
    r2 = b.read(v)                          # merged with r1
    b.effect("assign_add", v, r1)
    r3 = b.read(v)                          # after an assignment: kept
    params = {"shape": (2,), "mean": 0.0, "stddev": 1.0, "dtype": np.dtype(np.float32),
              "key": 5}
    n1 = b.op("random_normal", oshape=(2,), **params)
    n2 = b.op("random_normal", oshape=(2,), **params)
    g = b.done([r1, r2, r3, n1, n2])
    out = passes.cse(g)
    assert ops(out) == ["read_variable", "assign_add", "read_variable", "random_normal",
                        "random_normal"]
    res = run(out)
    assert [float(t.numpy()) for t in res[:3]] == [1.0, 1.0, 2.0]


def test_constant_folding_uses_the_same_kernel_and_skips_random():
    b = Builder()
    x = b.input((2,))
    c1 = b.const([1.5, 2.5])
    c2 = b.const(3.0)
    k = b.op("multiply", c1, c2, oshape=(2,))          # folds
    k2 = b.op("exp", k, oshape=(2,))                   # folds (cascade)
    y = b.op("add", x, k2, oshape=(2,))                # has an input: stays
    rnd = b.op("random_uniform", oshape=(2,), **{"shape": (2,), "minval": 0.0, "maxval": 1.0,
                                                "dtype": np.dtype(np.float32), "key": 3})
    g = b.done([y, rnd])
    out = passes.fold_constants(g)
    assert ops(out) == ["add", "random_uniform"]
    assert out.values[k2.id].kind == "constant"
    np.testing.assert_array_equal(out.constants[k2.id].numpy(),
                                  np.exp(np.float32([1.5, 2.5]) * np.float32(3)), strict=True)
    np.testing.assert_array_equal(run(out, np.float32([1, 1]))[0].numpy(),
                                  run(g, np.float32([1, 1]))[0].numpy(), strict=True)


@pytest.mark.parametrize("op,lit,side,removed", [
    ("multiply", 1.0, "right", True), ("multiply", 1, "left", True),
    ("divide", 1.0, "right", True), ("divide", 1.0, "left", False),
    ("add", -0.0, "right", True), ("add", -0.0, "left", True),
    ("add", 0.0, "right", False),        # -0.0 + 0.0 = +0.0: not an identity
    ("subtract", 0.0, "right", True), ("subtract", -0.0, "right", False),
    ("subtract", 0.0, "left", False), ("multiply", 2.0, "right", False),
])
def test_identities_are_exact(op, lit, side, removed):
    b = Builder()
    x = b.input((4,))
    args = (x, lit) if side == "right" else (lit, x)
    y = b.op(op, *args, oshape=(4,))
    g = b.done(y)
    out = passes.simplify(g)
    assert (ops(out) == []) == removed
    vals = np.float32([-0.0, 0.0, np.nan, -3.5])
    np.testing.assert_array_equal(run(out, vals)[0].numpy(), run(g, vals)[0].numpy(),
                                  strict=True)
    if removed:
        assert np.signbit(run(out, vals)[0].numpy()[0])


def test_identity_needs_same_shape_and_dtype():
    b = Builder()
    x = b.input((3,))
    ones = b.const(np.ones((2, 3)))
    y = b.op("multiply", x, ones, oshape=(2, 3))        # broadcasts: not an identity
    z = b.op("add", b.input((3,), np.int32), 0, oshape=(3,), odtype=np.int32)  # int x+0: yes
    g = b.done([y, z])
    assert ops(passes.simplify(g)) == ["multiply"]


def test_plan_buffers_frees_each_value_after_its_last_use():
    b = Builder()
    x = b.input((2,))
    a = b.op("exp", x, oshape=(2,))
    c = b.op("log", a, oshape=(2,))
    d = b.op("add", a, c, oshape=(2,))
    e = b.op("tanh", d, oshape=(2,))
    g = b.done(e)
    free = passes.plan_buffers(g)
    assert free == {2: [a.id, c.id], 3: [d.id]}
    assert run(g, np.float32([1, 2]))[0].shape == (2,)


def test_optimize_logs_counts_and_rejects_unknown_passes():
    b = Builder()
    x = b.input(())
    y = b.op("multiply", x, 1.0, oshape=())
    b.op("exp", y, oshape=())
    g = b.done(y)
    out = passes.optimize(g)
    assert out.pass_log == [("simplify", 2, 1), ("constant_folding", 1, 1), ("cse", 1, 1),
                            ("dce", 1, 0)]
    assert g.nodes and len(g.nodes) == 2     # passes never modify their input graph
    with pytest.raises(ValueError, match="unknown graph pass"):
        passes.optimize(g, ["fuse"])
    text = str(out)
    assert "graph hand(%0: float32[])" in text and "return %0" in text


def _chain():
    b = Builder()
    x = b.input((64,))
    s = b.op("sin", x, oshape=(64,))
    t = b.op("tanh", s, oshape=(64,))          # in place into sin's buffer
    e = b.op("exp", x, oshape=(64,))           # quiet ufunc: never reuses
    c = b.op("cos", t, oshape=(64,))           # t is returned: no donor left
    n = b.op("negative", e, oshape=(64,))      # e dies here: in place
    y = b.op("add", c, n, oshape=(64,))
    a = b.op("abs", y, oshape=(64,))
    return b.done([a, t]), (s, t, e, c, n, y, a)


def test_plan_reuse_writes_unary_ufuncs_into_dead_buffers():
    g, (s, t, e, c, n, y, a) = _chain()
    reuse, free = passes.plan_reuse(g)
    # t is a graph output: never a donor, so cos cannot overwrite it
    assert reuse == {1: s.id, 4: e.id, 6: y.id}
    assert all(v not in reuse.values() for vs in free.values() for v in vs)
    plan = _graph.Plan(g, free, reuse)
    plain = _graph.Plan(g, passes.plan_buffers(g))
    x = tg.constant(np.linspace(-3, 3, 64).astype(np.float32))
    for _ in range(3):
        got, want = plan.run([x]), plain.run([x])
        for p, q in zip(got, want):
            np.testing.assert_array_equal(p.numpy(), q.numpy(), strict=True)
    assert plan.reused == 9 and plain.reused == 0
    np.testing.assert_array_equal(x.numpy(), np.linspace(-3, 3, 64).astype(np.float32))


def test_plan_reuse_leaves_a_buffer_someone_else_holds():
    kept = []
    b = Builder()
    x = b.input((8,))
    s = b.op("sin", x, oshape=(8,))
    b.g.nodes.append(Node("host_call", None, (((s,), {}),), {"fn": kept.append}, []))
    t = b.op("tanh", s, oshape=(8,))
    g = b.done(t)
    reuse, free = passes.plan_reuse(g)
    assert reuse == {2: s.id}
    plan = _graph.Plan(g, free, reuse)
    xv = np.linspace(-1, 1, 8).astype(np.float32)
    (out,) = plan.run([tg.constant(xv)])
    assert plan.reused == 0                       # the host call kept sin's tensor
    np.testing.assert_array_equal(kept[0].numpy(), np.sin(xv), strict=True)
    np.testing.assert_array_equal(out.numpy(), np.tanh(np.sin(xv)), strict=True)
