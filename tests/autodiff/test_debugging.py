"""tg.debugging: tape.explain, tape.stats / max_bytes, the array-conversion warning,
check_numerics (forward, VJP, optimizer update, custom_gradient)."""

import inspect
import warnings

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.debugging import CheckNumericsError, GradientCutWarning, TapeMemoryError


def _line():
    """The line number of the caller (the test's own source line)."""
    return inspect.currentframe().f_back.f_lineno


def _site(line):
    return "%s:%d" % (__file__, line)


# ----------------------------------------------------------------------------- explain

def test_explain_connected_lists_each_op_with_its_line():
    x = tg.constant([1.0, 2.0])
    with tg.GradientTape(debug=True) as tape:
        tape.watch(x)
        y = tg.tanh(x * 3.0); l1 = _line()  # noqa: E702
        z = tg.reduce_sum(y); l2 = _line()  # noqa: E702
    e = tape.explain(z, x)
    assert e.connected and e.reason == "connected"
    assert e.chain == [("multiply", _site(l1)), ("tanh", _site(l1)),
                       ("reduce_sum", _site(l2))]
    assert "connected through 3 recorded ops" in str(e)
    assert tape.gradient(z, x) is not None


def test_explain_without_debug_says_how_to_turn_sites_on():
    v = tg.Variable([1.0, 2.0])
    with tg.GradientTape() as tape:
        z = tg.reduce_sum(v * v)
    e = tape.explain(z, v)
    assert e.connected and e.chain == [("multiply", None), ("reduce_sum", None)]
    assert "GradientTape(debug=True)" in str(e)


@pytest.mark.parametrize("how", ["stop_gradient", "argmax", "greater", "cast"])
def test_explain_names_the_op_that_cut_the_path_and_its_line(how):
    x = tg.constant([1.0, 3.0, 2.0])
    with tg.GradientTape(debug=True) as tape:
        tape.watch(x)
        if how == "stop_gradient":
            c = tg.stop_gradient(x); line = _line()  # noqa: E702
        elif how == "argmax":
            c = tg.argmax(x); line = _line()  # noqa: E702
        elif how == "greater":
            c = tg.greater(x, 1.5); line = _line()  # noqa: E702
        else:
            c = tg.cast(x, tg.int32); line = _line()  # noqa: E702
        out = tg.reduce_sum(tg.cast(c, tg.float32) * 2.0)
    e = tape.explain(out, x)
    assert not e.connected and e.reason == "cut"
    assert e.site == _site(line)
    assert how in str(e)
    assert tape.gradient(out, x) is None


@pytest.mark.parametrize("how", ["asarray", "numpy", "np_function"])
def test_explain_finds_where_the_value_left_through_numpy(how):
    x = tg.constant([1.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GradientCutWarning)
        with tg.GradientTape(debug=True) as tape:
            tape.watch(x)
            y = x * 2.0
            if how == "asarray":
                a = np.asarray(y); line = _line()  # noqa: E702
            elif how == "numpy":
                a = y.numpy(); line = _line()  # noqa: E702
            else:
                a = np.sin(y); line = _line()  # noqa: E702
            out = tg.reduce_sum(tg.constant(a) * 3.0)
    e = tape.explain(out, x)
    assert e.reason == "numpy_escape" and e.site == _site(line)
    assert tape.gradient(out, x) is None


def test_explain_target_outside_the_block():
    x = tg.constant([1.0])
    with tg.GradientTape(debug=True, persistent=True) as tape:
        tape.watch(x)
        inside = x * 2.0
    outside = inside * 3.0
    assert tape.explain(outside, x).reason == "outside_tape"
    assert tape.explain(inside, x).connected


def test_explain_other_reasons():
    x = tg.constant([1.0])
    with tg.GradientTape() as tape:
        y = x * 2.0
    assert tape.explain(y, x).reason == "not_watched"
    assert "tape.watch" in str(tape.explain(y, x))
    assert tape.explain(y, tg.constant([1])).reason == "integer_dtype"
    frozen = tg.Variable([1.0], trainable=False)
    with tg.GradientTape() as tape:
        y = frozen * 2.0
    e = tape.explain(y, frozen)
    assert e.reason == "not_read" and "not trainable" in str(e)
    v = tg.Variable([1.0])
    with tg.GradientTape(watch_accessed_variables=False) as tape:
        y = v * 2.0
    assert "watch_accessed_variables=False" in str(tape.explain(y, v))
    with tg.GradientTape() as tape:
        y = v * 2.0
    tape.gradient(y, v)
    assert tape.explain(y, v).reason == "tape_used"
    with tg.GradientTape() as tape:
        tape.watch(x)
        x * 2.0
        b = tg.constant([5.0]) * 1.0
    assert tape.explain(b, x).reason == "not_recorded"


def test_enable_tracebacks_makes_every_new_tape_record_sites():
    tg.debugging.enable_tracebacks()
    try:
        x = tg.constant([1.0])
        with tg.GradientTape() as tape:
            tape.watch(x)
            y = x * 2.0; line = _line()  # noqa: E702
        assert tape.explain(y, x).chain == [("multiply", _site(line))]
    finally:
        tg.debugging.disable_tracebacks()
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = x * 2.0
    assert tape.explain(y, x).chain == [("multiply", None)]


# ----------------------------------------------------------------------------- warning

def test_array_conversion_of_a_watched_tensor_warns_once_per_site():
    x = tg.constant([1.0, 2.0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with tg.GradientTape() as tape:
            tape.watch(x)
            for _ in range(3):
                np.asarray(x); line = _line()  # noqa: E702
            np.square(x); line2 = _line()  # noqa: E702
            x.numpy()                    # explicit reads do not warn
            np.asarray(tg.constant([3.0]))   # not watched: no warning
        np.asarray(x)                    # no tape recording: no warning
    cut = [w for w in caught if issubclass(w.category, GradientCutWarning)]
    assert [(w.filename, w.lineno) for w in cut] == [(__file__, line), (__file__, line2)]
    assert "gradient path is cut" in str(cut[0].message)


# ----------------------------------------------------------------------------- stats

def test_stats_counts_each_saved_array_once():
    x = tg.constant(np.ones(1000))                   # 8,000 bytes
    with tg.GradientTape(debug=True) as tape:
        tape.watch(x)
        y = x * x              # multiply saves its inputs: x once
        z = y * x              # saves y (new) and x (already held)
        s = tg.reduce_sum(z)
    st = tape.stats()
    assert st.ops == 3
    assert st.bytes == 2 * 8000 and st.tensors == 2
    assert st.by_primitive["multiply"] == (2, 16000)
    assert sum(n for n, _ in st.by_site.values()) == 3
    tape.gradient(s, x)
    after = tape.stats()
    assert after.ops == 0 and after.bytes == 0 and after.peak_bytes == 16000
    assert "16.0 KiB" not in str(after) and "peak 15.6 KiB" in str(after)


def test_stats_without_debug_has_no_peak():
    x = tg.constant(np.ones(10, np.float32))
    with tg.GradientTape() as tape:
        tape.watch(x)
        tg.reduce_sum(x * x)
    st = tape.stats()
    assert st.bytes == 40 and st.peak_bytes is None and st.by_site == {}


def test_max_bytes_raises_naming_the_holders_and_keeps_the_tape_usable():
    x = tg.constant(np.ones(1000))
    with tg.GradientTape(max_bytes=20000) as tape:
        tape.watch(x)
        y = x * x                                   # 8,000
        z = y * x                                   # 16,000
        s = tg.reduce_sum(z)
        with pytest.raises(TapeMemoryError, match="max_bytes=19.5 KiB.*multiply"):
            tg.tanh(z) * y                          # tanh saves z: 24,000 > 20,000
    g = tape.gradient(s, x)
    np.testing.assert_allclose(g.numpy(), 3.0 * np.ones(1000))
    with pytest.raises(ValueError, match="max_bytes"):
        tg.GradientTape(max_bytes=-1)


def test_persistent_tape_held_across_many_calls_warns_once():
    tg.debugging.set_persistent_tape_warning(calls=[3], bytes=1000)
    try:
        x = tg.constant(np.ones(1000))
        with tg.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = tg.reduce_sum(x * x)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(5):
                tape.gradient(y, x)
        leaks = [w for w in caught if issubclass(w.category, ResourceWarning)]
        assert len(leaks) == 1 and "3 gradient() calls" in str(leaks[0].message)
    finally:
        tg.debugging.set_persistent_tape_warning()


# ----------------------------------------------------------------------------- numerics

def test_check_numerics_forward_op():
    with tg.debugging.enable_check_numerics():
        with pytest.raises(CheckNumericsError) as info:
            line = _line() + 1
            tg.log(tg.constant([-1.0, 1.0]))
        msg = str(info.value)
        assert "log produced NaN in the forward pass" in msg
        assert _site(line) in msg and "all inputs were finite" in msg
        with pytest.raises(CheckNumericsError, match="input 0 held Inf already"):
            tg.constant([np.inf]) * 0.0
    assert np.isnan(tg.log(tg.constant(-1.0)).numpy())     # off again after the scope


def test_check_numerics_names_the_vjp():
    x = tg.constant([0.0, 1.0])
    with tg.GradientTape(debug=True) as tape:
        tape.watch(x)
        y = tg.reduce_sum(tg.sqrt(x)); line = _line()  # noqa: E702
    with tg.debugging.enable_check_numerics():
        with pytest.raises(CheckNumericsError) as info:
            tape.gradient(y, x)
    msg = str(info.value)
    assert "in the backward pass, inside the gradient (VJP) of sqrt" in msg
    assert "forward op at %s" % _site(line) in msg


def test_check_numerics_optimizer_update():
    v = tg.Variable([1.0])
    opt = tg.optimizers.SGD(1e38)
    with tg.debugging.enable_check_numerics():
        with pytest.raises(CheckNumericsError, match="SGD.apply_gradients made Inf"):
            opt.apply_gradients([(tg.constant([1e38]), v)])


def test_check_numerics_inside_custom_gradient():
    @tg.custom_gradient
    def bad(x):
        def grad(dy):
            return dy / tg.zeros_like(dy)
        return x * 1.0, grad

    x = tg.constant([1.0])
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tg.reduce_sum(bad(x))
    tg.debugging.enable_check_numerics()
    try:
        with pytest.raises(CheckNumericsError, match="VJP\\) of custom_gradient bad"):
            tape.gradient(y, x)
    finally:
        tg.debugging.disable_check_numerics()
    assert not tg.debugging.check_numerics_enabled()


def test_check_numerics_function_and_assert_all_finite():
    x = tg.constant([1.0, 2.0])
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tg.reduce_sum(tg.debugging.check_numerics(x * x, "fine"))
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [2.0, 4.0])
    with pytest.raises(CheckNumericsError, match="bad values : Tensor had NaN"):
        tg.debugging.check_numerics(tg.constant([np.nan]), "bad values")
    with pytest.raises(tg.errors.InvalidArgumentError, match="Inf"):
        tg.debugging.assert_all_finite(tg.constant([np.inf, 1.0]), "x")


# Products test their own output inside the GEMM (or bound it from the operands when
# those are smaller); these cases make sure neither route misses an Inf/NaN.

def _product_cases():
    rng = np.random.default_rng(5)
    for dtype, huge in ((np.float32, 1e20), (np.float64, 1e160)):
        for m, k, n in ((300, 400, 300), (8, 400, 5000), (784, 32, 128), (3, 2, 2)):
            a = rng.standard_normal((m, k)).astype(dtype)
            b = rng.standard_normal((k, n)).astype(dtype)
            yield dtype, huge, a, b


@pytest.mark.parametrize("where", ["first", "last"])
@pytest.mark.parametrize("transposed", [False, True])
def test_check_numerics_products_find_overflow(where, transposed):
    for dtype, huge, a, b in _product_cases():
        # one row of a and one column of b huge: exactly one element of a @ b overflows,
        # at the first or the last position (the first or the last part of the split)
        i, j = (0, 0) if where == "first" else (a.shape[0] - 1, b.shape[1] - 1)
        a2, b2 = a.copy(), b.copy()
        a2[i, :] = huge
        b2[:, j] = huge
        expect = a2 @ b2
        assert not np.isfinite(expect).all()
        if transposed:
            args = (tg.constant(np.ascontiguousarray(a2.T)),
                    tg.constant(np.ascontiguousarray(b2.T)))
            flags = dict(transpose_a=True, transpose_b=True)
        else:
            args, flags = (tg.constant(a2), tg.constant(b2)), {}
        with tg.debugging.enable_check_numerics():
            with pytest.raises(CheckNumericsError, match="matmul produced Inf"):
                tg.matmul(*args, **flags)
            # the same operands without the huge entries pass, and give NumPy's product
            fine = tg.matmul(tg.constant(a), tg.constant(b))
        np.testing.assert_allclose(fine.numpy(), a @ b, rtol=1e-4 if dtype == np.float32
                                   else 1e-12, atol=1e-4 if dtype == np.float32 else 1e-12)


def test_check_numerics_products_nan_operand_and_weight_gradient():
    x = tg.constant(np.ones((32, 784), np.float32))
    w = tg.Variable(np.full((784, 128), 1e-3, np.float32))
    with tg.debugging.enable_check_numerics():
        bad = np.ones((32, 784), np.float32)
        bad[3, 5] = np.nan
        with pytest.raises(CheckNumericsError, match="input 0 held NaN already"):
            tg.matmul(tg.constant(bad), w)
        # the weight gradient x^T g is the larger array: its operands are read instead;
        # a cotangent of 2e37 gives dW = 32 * 2e37 > float32's max, in the matmul VJP
        with tg.GradientTape(persistent=True) as tape:
            y = tg.matmul(x, w)
        with pytest.raises(CheckNumericsError, match="VJP\\) of matmul"):
            tape.gradient(y, w, output_gradients=tg.constant(np.full((32, 128), 2e37,
                                                                       np.float32)))
        # 1e37: the operand bound (3.2e38) is too loose to vouch, the scan of dW finds
        # it finite (3.2e38 < 3.4e38); 1e30: the bound vouches
        for big in (1e37, 1e30):
            g = tape.gradient(y, w, output_gradients=tg.constant(np.full((32, 128), big,
                                                                       np.float32)))
            np.testing.assert_allclose(g.numpy(), np.full((784, 128), 32 * big),
                                       rtol=1e-5)


def test_check_numerics_product_output_is_read_only():
    from tapegrad import _kernels

    a = np.ones((300, 400))
    with tg.debugging.enable_check_numerics():
        out = _kernels.gemm(a, a.T.copy(), True)
        if out is None:
            pytest.skip("no bound BLAS: products go through np.matmul")
        assert not out.flags.writeable
        with pytest.raises(ValueError):
            out[0, 0] = np.nan
        assert _kernels.all_finite(out)
        nan = np.full((3, 3), np.nan)
        assert not _kernels.all_finite(nan)
    out = _kernels.gemm(a, a.T.copy(), True)
    assert out.flags.writeable      # off: the kernel's plain product
