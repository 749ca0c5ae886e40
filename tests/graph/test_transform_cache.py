"""The trace cache of tg.vmap / tg.jet (graph/function.py traced_graph)."""

import numpy as np

import tapegrad as tg


def test_transforms_do_not_keep_their_functions_alive():
    # tg.vmap / tg.jet cache one traced Function per Python function in a weak-keyed
    # table; the cached Function must not hold the function (nor its graphs) strongly
    import gc
    import importlib
    import weakref

    gf = importlib.import_module("tapegrad.graph.function")

    def make():
        scale = tg.constant(np.arange(3.0))
        return lambda x: tg.tanh(x * scale)

    f = make()
    ref = weakref.ref(f)
    out = tg.vmap(f)(tg.constant(np.ones((2, 3))))
    np.testing.assert_allclose(out.numpy(), np.tanh(np.ones((2, 3)) * np.arange(3.0)))
    tg.jet(f, (tg.constant(np.ones(3)),), ([tg.constant(np.ones(3))],))
    assert f in gf._TRANSFORM_FUNCTIONS
    before = len(gf._TRANSFORM_FUNCTIONS)
    del f
    gc.collect()
    assert ref() is None
    assert len(gf._TRANSFORM_FUNCTIONS) == before - 1
