"""Public ops are real functions: signatures, docstrings, TF's ``name=``, and no
keyword a primitive did not declare reaches its forward (docs/architecture.md §3.2)."""

import importlib
import inspect
import pydoc

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _core

OP_MODULES = ["creation", "elementwise", "linalg", "nn", "random", "reductions", "shape"]

# every public name of tg / tg.nn that is itself a primitive
PUBLIC_PRIMITIVES = sorted(
    {("tg", n) for n in dir(tg) if isinstance(getattr(tg, n), _core.Primitive)} |
    {("tg.nn", n) for n in tg.nn.__all__ if isinstance(getattr(tg.nn, n), _core.Primitive)})


def _obj(where, name):
    return getattr(tg if where == "tg" else tg.nn, name)


def _args_for(prim):
    """Valid positional inputs for a public primitive, by its declared dtypes."""
    n = len(prim.argnames)
    if prim.dtypes == _core.KIND_BOOL:
        return [tg.constant([True, False])] * n
    return [tg.constant([0.5, 2.0])] * n


def test_there_are_public_primitives():
    assert len(PUBLIC_PRIMITIVES) >= 48
    assert ("tg", "add") in PUBLIC_PRIMITIVES and ("tg.nn", "relu") in PUBLIC_PRIMITIVES


@pytest.mark.parametrize("where,name", PUBLIC_PRIMITIVES)
def test_public_primitive_has_a_signature_a_docstring_and_takes_name(where, name):
    prim = _obj(where, name)
    sig = inspect.signature(prim)
    params = list(sig.parameters.values())
    assert [p.name for p in params[:len(prim.argnames)]] == list(prim.argnames)
    assert prim.argnames, name
    assert sig.parameters["name"].default is None
    assert inspect.getdoc(prim) and "Primitive(" not in inspect.getdoc(prim), name
    assert prim.__name__ == prim.name
    args = _args_for(prim)
    plain = prim(*args)
    named = prim(*args, name="scope/%s" % name)
    np.testing.assert_array_equal(np.asarray(named), np.asarray(plain))
    # the inputs may also be passed by keyword, in any order
    by_kw = prim(**dict(reversed(list(zip(prim.argnames, args)))))
    np.testing.assert_array_equal(np.asarray(by_kw), np.asarray(plain))


def test_help_documents_the_op_not_the_primitive_class():
    text = pydoc.render_doc(tg.add, renderer=pydoc.plaintext)
    assert "add(x, y, *, name=None)" in text
    assert "x + y elementwise" in text
    assert "Primitive(str name" not in text
    text = pydoc.render_doc(tg.nn.relu, renderer=pydoc.plaintext)
    assert "relu(features, *, name=None)" in text


def test_name_is_accepted_by_the_ops_that_used_to_raise():
    x = tg.constant([0.0, 1.0])
    np.testing.assert_allclose(tg.exp(x, name="e").numpy(), np.exp([0.0, 1.0]), rtol=1e-6)
    assert float(tg.add(1.0, 2.0, name="a")) == 3.0
    assert tg.nn.relu(tg.constant([-1.0, 2.0]), name="r").numpy().tolist() == [0.0, 2.0]


def test_out_is_rejected_and_never_reaches_numpy():
    buf = np.zeros(2, np.float32)
    x = tg.constant([1.0, 2.0])
    with pytest.raises(TypeError, match=r"add\(\) got an unexpected keyword argument 'out'"):
        tg.add(x, x, out=buf)
    with pytest.raises(TypeError, match="unexpected keyword argument 'where'"):
        tg.exp(x, where=np.array([True, False]))
    with pytest.raises(TypeError, match=r"add\(\) takes 2 positional arguments"):
        tg.add(x, x, buf)
    assert not buf.any()


def test_keyword_binding_errors_are_pythons():
    x = tg.constant([1.0, 2.0])
    assert tg.subtract(y=x, x=tg.constant([5.0, 5.0])).numpy().tolist() == [4.0, 3.0]
    with pytest.raises(TypeError, match="multiple values for argument 'x'"):
        tg.add(x, x=x)
    with pytest.raises(TypeError, match="missing required argument 'x'"):
        tg.add(y=x)
    with pytest.raises(TypeError, match=r"exp\(\) takes 1 positional argument \(x\) but 2"):
        tg.exp(x, x)


def test_internal_primitives_reject_undeclared_keywords():
    from tapegrad.ops import shape as S

    x = tg.constant([[1.0, 2.0]])
    assert S._reshape(x, shape=(2,), name="r").shape == (2,)
    with pytest.raises(TypeError, match=r"reshape\(\) got an unexpected keyword argument "
                                        r"'order'"):
        S._reshape(x, shape=(2,), order="F")


def test_a_primitive_on_a_class_is_not_bound():
    class Holder:
        op = tg.add

    assert Holder.op is tg.add and Holder().op is tg.add
    assert float(Holder().op(1.0, 2.0)) == 3.0


def test_operators_still_work_and_are_recorded():
    x = tg.constant([1.0, 2.0])
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tg.reduce_sum(-x * x + x / 2.0 - 1.0)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [-1.5, -3.5])


@pytest.mark.parametrize("module", OP_MODULES)
def test_every_public_function_in_ops_has_a_docstring(module):
    mod = importlib.import_module("tapegrad.ops." + module)
    missing = []
    for n in dir(mod):
        obj = getattr(mod, n)
        if n.startswith("_") or getattr(obj, "__module__", None) != mod.__name__:
            continue
        if not (inspect.isfunction(obj) or isinstance(obj, _core.Primitive)):
            continue
        if not inspect.getdoc(obj):
            missing.append(n)
    assert not missing, "tapegrad.ops.%s: public functions without a docstring: %s" % (
        module, missing)
