"""Layering of the engine's Python modules: no import cycles in ops/ and autodiff/, and
one definition of each shared helper (docs/architecture.md §1)."""

import ast
import inspect
import os

import tapegrad
from tapegrad import _tape
from tapegrad.ops import _registry

ROOT = os.path.dirname(tapegrad.__file__)


def _modules(*packages):
    out = {}
    for pkg in packages:
        for f in sorted(os.listdir(os.path.join(ROOT, pkg))):
            if f.endswith(".py") and f != "__init__.py":
                out["tapegrad.%s.%s" % (pkg, f[:-3])] = os.path.join(ROOT, pkg, f)
    return out


def _imports(path, module):
    """Every tapegrad module ``path`` imports, at module level or inside a function."""
    package = module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            found.add(base)
            found.update(base + "." + a.name for a in node.names)
    return found


def _graph(*packages):
    mods = _modules(*packages)
    return {m: {i for i in _imports(p, m) if i in mods and i != m} for m, p in mods.items()}


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_ops_and_autodiff_have_no_import_cycles_even_lazy_ones():
    graph = _graph("ops", "autodiff")
    assert not _cycles(graph), _cycles(graph)


def test_the_two_known_cycles_stay_broken():
    graph = _graph("ops", "autodiff")
    assert "tapegrad.ops.reductions" not in graph["tapegrad.ops.shape"]
    assert "tapegrad.autodiff.jacobians" not in graph["tapegrad.autodiff.tape"]
    # the lower modules of each pair are the ones the upper ones build on
    assert "tapegrad.ops.shape" in graph["tapegrad.ops.reductions"]
    assert "tapegrad.autodiff.tape" in graph["tapegrad.autodiff.jacobians"]


def test_one_shape_formatter_one_axis_normaliser_one_zeros_helper():
    from tapegrad.autodiff import forward, jacobians, tape_jacobians
    from tapegrad.ops import _jvp, elementwise, linalg, nn, shape

    for mod in (forward, jacobians, tape_jacobians, _jvp, elementwise, linalg, nn, shape):
        src = inspect.getsource(mod)
        assert '", ".join(str(d)' not in src, mod.__name__          # a shape formatter
        assert ".to(like.device)" not in src, mod.__name__          # a zeros/device helper
    assert shape._fmt is _registry.format_shape and nn._fmt is _registry.format_shape
    assert forward._shape is _registry.format_shape
    assert not hasattr(nn, "_axis")
    assert _registry.format_shape((3,)) == "(3,)" and _registry.format_shape(()) == "()"
    assert _registry.format_shape([2, 3]) == "(2, 3)"


def test_one_unconnected_gradients_parser():
    from tapegrad.autodiff import _args, forward, tape, tape_jacobians

    assert tape.zero_mode is _args.zero_mode is forward.zero_mode is tape_jacobians.zero_mode
    assert not hasattr(tape, "_zero_mode")


def test_vjps_are_called_in_one_place():
    """The backward pass and forward mode's transposition share _tape.call_vjp."""
    from tapegrad.autodiff import forward
    from tapegrad.ops import _jvp

    assert ".vjp(" not in inspect.getsource(forward)
    assert ".vjp(" not in inspect.getsource(_jvp)
    assert "call_vjp" in inspect.getsource(_jvp)
    assert callable(_tape.call_vjp)
