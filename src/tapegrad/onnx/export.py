"""tg.onnx.export: trace with tg.function, map each node of the optimized forward graph
to ONNX operators through the primitives' "onnx" rules, write with onnx's own helpers.

Pipeline
- ``fn_or_model`` is traced by ``tg.function`` at the example arguments (a model is
  called with ``training=False``, so dropout is the identity and batch normalization
  uses its moving statistics); the optimized graph (constant folding, CSE, DCE) is read.
- With ``dynamic_batch``, the function is traced again with one more row in every
  argument: values whose first dimension changed are batch-dependent (the ONNX input
  and output get a symbolic ``batch`` dimension) and so are shape parameters that
  changed (a ``reshape`` to ``(batch, -1)`` is written with 0, "copy this dimension").
- Variables become initializers (their current values), captured constants too.
- Every node's primitive must have an "onnx" rule (ops/*.py, beside the forward): a
  missing one, a gradient-only primitive, a random op or a variable assignment raises
  ``ExportError`` naming the primitive and the node before anything is written.
- The model passes ``onnx.checker.check_model`` and is written atomically (a
  temporary file renamed over ``path``).
"""

import os
import tempfile

import numpy as np

from tapegrad import _core
from tapegrad.graph.ir import Ref
from tapegrad.ops._registry import NotSupported

DEFAULT_OPSET = 18
MIN_OPSET = 13


class ExportError(ValueError):
    """The function cannot be written as an ONNX graph (the message says which node)."""


def _import_onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError as e:
        raise ImportError("tg.onnx.export needs the onnx package: pip install "
                          "'tapegrad[onnx]' (%s)" % e) from None
    return onnx, helper, numpy_helper


def _as_function(fn_or_model):
    from tapegrad.layers.base import Layer

    if isinstance(fn_or_model, Layer):
        model = fn_or_model

        def call(*args):
            return model(*args, training=False)

        call.__name__ = getattr(model, "name", type(model).__name__)
        return call
    if not callable(fn_or_model):
        raise TypeError("tg.onnx.export: expected a function or a model, got %s"
                        % type(fn_or_model).__name__)
    wrapped = getattr(fn_or_model, "python_function", None)
    return wrapped if wrapped is not None else fn_or_model


def _as_args(example_args):
    if isinstance(example_args, (list, tuple)):
        items = list(example_args)
    else:
        items = [example_args]
    out = []
    for a in items:
        if isinstance(a, _core.BaseVariable):
            a = a.read_value()
        if not isinstance(a, _core.Tensor):
            a = _core.convert(a, None, "tg.onnx.export")
        out.append(a)
    return out


def _trace(fn, args):
    from tapegrad.graph.function import Function

    return Function(fn).get_concrete_function(*args).graph


def _grow(t):
    """``t`` with one more row (its first row repeated): a second batch size."""
    arr = np.asarray(t.numpy())
    if arr.ndim == 0:
        raise ExportError("tg.onnx.export: dynamic_batch needs every example argument to "
                          "have a batch dimension; a scalar was given (pass "
                          "dynamic_batch=False)")
    return _core.convert(np.concatenate([arr, arr[:1]]), None, "tg.onnx.export")


class _Batch:
    """Which values and parameters depend on the batch size (two traces compared)."""

    def __init__(self, g1, g2):
        self.dims = {}          # value id -> set of axes that change with the batch
        self.params = {}        # node index -> set of parameter names that change
        if [n.op for n in g1.nodes] != [n.op for n in g2.nodes]:
            raise ExportError(
                "tg.onnx.export: the traced graph changes with the batch size (different "
                "ops at batch %s and %s), so it cannot have a dynamic batch; pass "
                "dynamic_batch=False" % (_batch_of(g1), _batch_of(g2)))
        for vid, v in g1.values.items():
            w = g2.values.get(vid)
            if w is not None and len(w.shape) == len(v.shape):
                axes = {i for i, (a, b) in enumerate(zip(v.shape, w.shape)) if a != b}
                if axes:
                    self.dims[vid] = axes
        for i, (a, b) in enumerate(zip(g1.nodes, g2.nodes)):
            changed = {k for k in a.params if _differs(a.params[k], b.params.get(k))}
            if changed:
                self.params[i] = changed

    def is_batch(self, vid, axis=0):
        return axis in self.dims.get(vid, ())


def _batch_of(g):
    return g.values[g.inputs[0]].shape[0] if g.inputs else "?"


def _differs(a, b):
    try:
        return not (np.array_equal(np.asarray(a, dtype=object), np.asarray(b, dtype=object))
                    if isinstance(a, (tuple, list)) else a == b)
    except Exception:
        return a is not b


_ONNX_TYPES = {
    "float32": 1, "uint8": 2, "int8": 3, "uint16": 4, "int16": 5, "int32": 6,
    "int64": 7, "bool": 9, "float16": 10, "float64": 11, "uint32": 12, "uint64": 13,
}


def onnx_type(dtype):
    dt = np.dtype(dtype)
    code = _ONNX_TYPES.get(dt.name)
    if code is None:
        raise ExportError("tg.onnx.export: dtype %s has no ONNX type here" % dt)
    return code


class Context:
    """What a primitive's "onnx" rule sees: the node's operands as ONNX names, and
    ``op``/``const`` to emit operators and initializers."""

    def __init__(self, graph, opset, batch, helper, numpy_helper):
        self.graph = graph
        self.opset = opset
        self.batch = batch
        self.helper = helper
        self.numpy_helper = numpy_helper
        self.nodes = []
        self.initializers = []
        self.names = {}             # graph value id -> ONNX name
        self._count = 0
        self.node = None            # the graph node being converted
        self.node_index = -1

    # -- names and constants
    def fresh(self, hint="t"):
        self._count += 1
        return "%s_%d" % (hint, self._count)

    def name(self, vid):
        return self.names[vid]

    def const(self, value, dtype=None, hint="const"):
        arr = np.asarray(value, dtype=dtype)
        name = self.fresh(hint)
        self.initializers.append(self.numpy_helper.from_array(np.require(arr, requirements="C"),
                                                              name))
        return name

    def ints(self, values, hint="ints"):
        return self.const(np.asarray(list(values), dtype=np.int64), hint=hint)

    # -- the node being converted
    def value(self, ref_or_vid):
        vid = ref_or_vid.id if type(ref_or_vid) is Ref else ref_or_vid
        return self.graph.values[vid]

    def out(self):
        return self.graph.values[self.node.outputs[0]]

    def refs(self, node=None):
        node = node or self.node
        return [a for a in node.args if type(a) is Ref]

    def operands(self, node=None):
        """The node's positional operands as ONNX names; a Python scalar is a weak
        constant of the first tensor operand's dtype (as the dispatcher made it)."""
        node = node or self.node
        refs = self.refs(node)
        weak = self.value(refs[0]).dtype if refs else self.out().dtype
        names = []
        for a in node.args:
            if type(a) is Ref:
                names.append(self.names[a.id])
            elif isinstance(a, np.ndarray):
                names.append(self.const(a))
            elif isinstance(a, (bool, int, float, np.generic)):
                names.append(self.const(a, weak))
            else:
                raise ExportError("tg.onnx.export: %s got an argument %r that is not a "
                                  "tensor or a number" % (node.op, a))
        return names

    def batch_param(self, key):
        """True when the node's parameter ``key`` changed with the batch size."""
        return key in self.batch.params.get(self.node_index, ()) if self.batch else False

    def op(self, op_type, inputs, outputs=1, **attrs):
        """Emit one operator; returns its output name (or names, for outputs > 1)."""
        outs = [self.fresh(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(self.helper.make_node(op_type, list(inputs), outs,
                                                name=self.fresh("n_" + op_type), **attrs))
        return outs[0] if outputs == 1 else outs

    def nhwc_to_nchw(self, name):
        return self.op("Transpose", [name], perm=[0, 3, 1, 2])

    def nchw_to_nhwc(self, name):
        return self.op("Transpose", [name], perm=[0, 2, 3, 1])


def _rule(node):
    prim = node.prim
    if prim is None:
        return None
    return prim.rule("onnx")


def _check_exportable(graph):
    """Every node has a rule, before anything is written."""
    problems = []
    for i, node in enumerate(graph.nodes):
        where = "node %d (%s)" % (i, _fmt_node(graph, node))
        if node.op == "read_variable":
            continue
        if node.op in ("assign", "assign_add", "assign_sub"):
            problems.append("%s assigns variable %r: an exported graph is an inference "
                            "forward without state updates" % (where, node.variable.name))
            continue
        if node.op == "host_call":
            fn = node.params.get("fn")
            problems.append("%s calls Python (%s) at run time, which ONNX cannot do"
                            % (where, getattr(fn, "__qualname__", fn)))
            continue
        if node.op.startswith("random_"):
            problems.append("%s draws random numbers: export the inference forward "
                            "(layers are called with training=False; dropout is then "
                            "the identity)" % where)
            continue
        rule = _rule(node)
        if rule is None:
            problems.append("%s: primitive %r has no ONNX mapping" % (where, node.op))
        elif isinstance(rule, NotSupported):
            problems.append("%s: primitive %r cannot be exported: %s"
                            % (where, node.op, rule.reason))
    if problems:
        raise ExportError("tg.onnx.export: nothing was written; %d node%s cannot be "
                          "exported:\n  " % (len(problems), "" if len(problems) == 1
                                             else "s") + "\n  ".join(problems))


def _fmt_node(graph, node):
    outs = ", ".join("%%%d: %s" % (o, graph.values[o].type_str()) for o in node.outputs)
    ins = ", ".join("%%%d" % i for i in node.inputs)
    return "%s = %s(%s)" % (outs or "-", node.op, ins)


def _value_info(helper, name, value, batch, vid, dynamic):
    dims = list(value.shape)
    if dynamic and batch is not None:
        dims = ["batch" if batch.is_batch(vid, i) else d for i, d in enumerate(dims)]
    return helper.make_tensor_value_info(name, onnx_type(value.dtype), dims)


def export(fn_or_model, example_args, path, opset=None, input_names=None,
           output_names=None, dynamic_batch=True):
    """Trace ``fn_or_model`` at ``example_args`` and write it to ``path`` as ONNX.

    Returns the ``onnx.ModelProto`` written.  Names default to ``input_0, ...`` and
    ``output_0, ...``; with ``dynamic_batch`` the first dimension of every
    batch-dependent input and output is the symbolic ``batch``.
    """
    onnx, helper, numpy_helper = _import_onnx()
    opset = DEFAULT_OPSET if opset is None else int(opset)
    top = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= top:
        raise ValueError("tg.onnx.export: opset must be in [%d, %d], got %d"
                         % (MIN_OPSET, top, opset))
    fn = _as_function(fn_or_model)
    args = _as_args(example_args)
    graph = _trace(fn, args)
    batch = _Batch(graph, _trace(fn, [_grow(a) for a in args])) if dynamic_batch else None
    _check_exportable(graph)

    ctx = Context(graph, opset, batch, helper, numpy_helper)
    n_in = len(graph.inputs)
    if input_names is not None and len(input_names) != n_in:
        raise ValueError("tg.onnx.export: %d input_names for %d tensor inputs"
                         % (len(input_names), n_in))
    in_names = list(input_names) if input_names is not None else [
        "input_%d" % i for i in range(n_in)]
    inputs = []
    for vid, name in zip(graph.inputs, in_names):
        ctx.names[vid] = name
        inputs.append(_value_info(helper, name, graph.values[vid], batch, vid, dynamic_batch))
    used = set()
    for vid, t in sorted(graph.constants.items()):
        ctx.names[vid] = ctx.const(np.asarray(t.numpy()), hint="constant")
    for i, node in enumerate(graph.nodes):
        ctx.node, ctx.node_index = node, i
        if node.op == "read_variable":
            var = node.variable
            base = _clean(var.name) or "variable"
            name = base if base not in used else "%s_%d" % (base, i)
            used.add(name)
            ctx.initializers.append(numpy_helper.from_array(
                np.require(np.asarray(var.numpy()), requirements="C"), name))
            ctx.names[node.outputs[0]] = name
            continue
        try:
            result = _rule(node)(ctx, node)
        except ExportError:
            raise
        except (ValueError, TypeError, NotImplementedError) as e:
            raise ExportError("tg.onnx.export: node %d (%s): %s"
                              % (i, _fmt_node(graph, node), e)) from None
        results = result if isinstance(result, (list, tuple)) else [result]
        for vid, name in zip(node.outputs, results):
            ctx.names[vid] = name

    flat = graph.flat_outputs()
    refs = [x for x in flat if type(x) is Ref]
    if len(refs) != len(flat):
        raise ExportError("tg.onnx.export: the function returns Python values (%s); an "
                          "ONNX graph returns tensors only"
                          % [type(x).__name__ for x in flat if type(x) is not Ref])
    if output_names is not None and len(output_names) != len(refs):
        raise ValueError("tg.onnx.export: %d output_names for %d outputs"
                         % (len(output_names), len(refs)))
    out_names = list(output_names) if output_names is not None else [
        "output_%d" % i for i in range(len(refs))]
    outputs = []
    for ref, name in zip(refs, out_names):
        ctx.nodes.append(helper.make_node("Identity", [ctx.names[ref.id]], [name],
                                          name=ctx.fresh("n_output")))
        outputs.append(_value_info(helper, name, graph.values[ref.id], batch, ref.id,
                                   dynamic_batch))

    g = helper.make_graph(ctx.nodes, _clean(graph.name) or "tapegrad", inputs, outputs,
                          initializer=ctx.initializers)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="tapegrad")
    model.ir_version = min(model.ir_version, 10)    # what current runtimes read
    onnx.checker.check_model(model, full_check=True)
    _write_atomically(model, path)
    return model


def _clean(name):
    return "".join(c if c.isalnum() or c in "_./" else "_" for c in str(name))


def _write_atomically(model, path):
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp",
                               dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(model.SerializeToString())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
