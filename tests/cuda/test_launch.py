"""Pure-Python launch metadata, and every GPU forward driven through a fake device.

The fake device (cuda_fakedev.py) records launches; each recorded kernel must exist in
the PTX built from kernels.cu with exactly the argument sizes the Python side
passed, and each forward's output shape/dtype must equal the CPU forward's.
"""
import ctypes
import itertools

import numpy as np
import pytest

from tapegrad.cuda import launch

# ------------------------------------------------------------------ structs


def test_struct_layouts_match_kernels_cu():
    assert ctypes.sizeof(launch.Meta) == 4 + 4 + 8 + 8 * 8 + 4 * 8 * 8
    assert launch.Meta.n.offset == 8 and launch.Meta.shape.offset == 16
    assert ctypes.sizeof(launch.ConvMeta) == 14 * 8
    assert ctypes.sizeof(launch.Ptrs) == 64


def test_scalar_args_follow_storage_dtype():
    assert isinstance(launch.scalar_arg(1.5, np.float16), ctypes.c_float)
    assert isinstance(launch.scalar_arg(1.5, np.float64), ctypes.c_double)
    assert launch.scalar_arg(2**40 + 1, np.int64).value == 2**40 + 1
    assert launch.scalar_arg(7, np.bool_).value == 1
    with pytest.raises(TypeError, match="not supported on the GPU"):
        launch.scalar_arg(1, np.uint16)


# ------------------------------------------------------------------ strides / broadcasting
def test_contiguous_strides_zero_on_unit_axes():
    assert launch.contiguous_strides((2, 3, 4)) == (12, 4, 1)
    assert launch.contiguous_strides((2, 1, 4)) == (4, 0, 1)
    assert launch.contiguous_strides(()) == ()


@pytest.mark.parametrize("a,b", [((3, 1), (1, 4)), ((2, 3, 4), (4,)), ((), (5,)),
                                 ((1,), (0,)), ((2, 1, 3), (2, 5, 1))])
def test_broadcast_shapes_match_numpy(a, b):
    assert launch.broadcast_shapes(a, b) == np.broadcast_shapes(a, b)


def test_broadcast_shapes_error_names_op():
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        launch.broadcast_shapes((2, 3), (4,), what="add")


def _gather_with_meta(arrays, out_shape):
    """Emulate the strided kernels in NumPy: read each operand through a Meta."""
    strides = [launch.broadcast_strides(a.shape, launch.contiguous_strides(a.shape), out_shape)
               for a in arrays]
    m = launch.make_meta(out_shape, strides)
    shape = [m.shape[d] for d in range(m.ndim)]
    out = []
    for k, a in enumerate(arrays):
        flat = a.reshape(-1)
        vals = []
        for idx in itertools.product(*[range(n) for n in shape]):
            vals.append(flat[sum(i * m.st[k][d] for d, i in enumerate(idx))])
        out.append(np.array(vals).reshape(out_shape))
    return m, out


@pytest.mark.parametrize("shapes", [[(2, 3, 4), (3, 1)], [(4, 1, 3), (1, 5, 1)],
                                    [(2, 3), (2, 3)], [(), (2, 2)], [(1, 1, 6), (2, 1, 1)]])
def test_meta_reads_broadcast_operands_like_numpy(shapes):
    arrays = [np.arange(int(np.prod(s)), dtype=np.int64).reshape(s) for s in shapes]
    out_shape = np.broadcast_shapes(*shapes)
    m, got = _gather_with_meta(arrays, out_shape)
    assert m.n == int(np.prod(out_shape))
    for a, g in zip(arrays, got):
        np.testing.assert_array_equal(g, np.broadcast_to(a, out_shape))


def test_collapse_merges_contiguous_dims_only():
    shape, st = launch.collapse((2, 3, 4), [(12, 4, 1), (12, 4, 1)])
    assert shape == (24,) and st == [(1,), (1,)]
    # a broadcast operand breaks the run where its stride becomes 0
    shape, st = launch.collapse((2, 3, 4), [(12, 4, 1), (0, 1, 0)])
    assert shape == (2, 3, 4)
    # transposed reads stay separate dims
    shape, st = launch.collapse((3, 2), [(1, 3), (2, 1)])
    assert shape == (3, 2) and st == [(1, 3), (2, 1)]
    assert launch.collapse((1, 1), [(0, 0)]) == ((1,), [(0,)])


def test_make_meta_rejects_too_many_dims():
    shape = (2,) * 9
    perm = [tuple(2 ** d for d in range(9))]  # a full transpose: no two axes merge
    with pytest.raises(ValueError, match="at most 8 non-mergeable"):
        launch.make_meta(shape, perm + [launch.contiguous_strides(shape)], "transpose")


def test_elementwise_grid_covers_and_caps():
    assert launch.elementwise_grid(0)[0][0] == 0
    assert launch.elementwise_grid(1, 10) == ((1, 1, 1), (256, 1, 1))
    assert launch.elementwise_grid(256 * 7, 10)[0][0] == 7
    assert launch.elementwise_grid(10**9, 10)[0][0] == 320  # grid-stride loop does the rest


@pytest.mark.parametrize("outer,R,inner", [(1, 1, 1), (1, 10**6, 1), (64, 784, 1),
                                           (1, 60000, 10), (100, 3, 7), (5, 0, 3),
                                           (70000, 2, 1)])
def test_reduce_config_invariants(outer, R, inner):
    grid, block, chunk = launch.reduce_config(outer, R, inner, sm_count=80)
    bx, by, _ = block
    assert bx * by <= 256 and by & (by - 1) == 0  # shared-memory tree needs a power of 2
    assert grid[0] * bx >= inner
    assert grid[1] <= 65535 and grid[2] <= 65535
    assert grid[2] * chunk >= max(R, 1) and (grid[2] - 1) * chunk < max(R, 1)
    if R >= 10**6:
        assert grid[2] > 1  # a long single reduction is split across blocks


def test_rows_config_power_of_two_blocks():
    for D in (1, 10, 33, 5000):
        (g, _, _), (b, _, _) = launch.rows_config(7, D)
        assert b & (b - 1) == 0 and 32 <= b <= 256 and g == 7


@pytest.mark.parametrize("size,k,s,d,pad,expected", [
    (7, 3, 2, 1, "SAME", (4, 1)), (6, 2, 2, 1, "SAME", (3, 0)), (7, 3, 1, 2, "VALID", (3, 0)),
    (5, 3, 1, 1, (1, 1), (5, 1)), (28, 5, 1, 1, "SAME", (28, 2))])
def test_conv_out_size_tensorflow_rules(size, k, s, d, pad, expected):
    assert launch.conv_out_size(size, k, s, d, pad) == expected


def test_conv_out_size_errors():
    with pytest.raises(ValueError, match="padding must be"):
        launch.conv_out_size(5, 3, 1, 1, "FULL")
    with pytest.raises(ValueError, match="larger than the input"):
        launch.conv_out_size(2, 3, 1, 1, "VALID")


# ------------------------------------------------------------------ indexing metadata
@pytest.mark.parametrize("key", [(slice(None, None, -1), 1, slice(1, None, 2)), (Ellipsis, 0),
                                 (None, slice(1, 2)), (1, 2, 3), (slice(5, 1, -2),)])
def test_basic_view_matches_numpy(key):
    from tapegrad.cuda.shape import basic_view
    x = np.arange(24).reshape(2, 3, 4)
    offset, st, shape = basic_view(x.shape, key)
    expect = x[key]
    got = np.lib.stride_tricks.as_strided(x.reshape(-1)[offset:], shape=shape,
                                          strides=[s * x.itemsize for s in st])
    np.testing.assert_array_equal(got, expect)


def test_basic_view_out_of_range_is_numpy_index_error():
    from tapegrad.cuda.shape import basic_view
    with pytest.raises(IndexError):
        basic_view((2, 3), (5,))


@pytest.mark.parametrize("key", [(np.array([1, 0, 1]), slice(None), np.array([3, 0, 2])),
                                 (np.array([[0], [1]]), np.array([1, 2])),
                                 (np.array([True, False]),), (slice(None), 2, np.array([0, 3])),
                                 (np.array(1), 2, 3)])
def test_flat_offsets_match_numpy(key):
    from tapegrad.cuda.shape import flat_offsets
    x = np.arange(24).reshape(2, 3, 4)
    np.testing.assert_array_equal(flat_offsets(x.shape, key), x[key])


# ------------------------------------------------------------------ fake-device sweep
@pytest.fixture(scope="module")
def ptx_entries():
    from cuda_ptxinfo import entries, kernel_ptx
    ptx = kernel_ptx()
    if ptx is None:
        pytest.skip("neither nvcc nor NVRTC is installed")
    return entries(ptx)


def _run_case(dev, impl, args, params):
    from tapegrad.cuda.array import CudaArray
    gargs = [CudaArray.from_numpy(a) for a in args]
    gparams = dict(params)
    if not args:
        gparams["_device"] = "/gpu:0"
    return impl(*gargs, **gparams)


def test_every_registered_primitive_has_a_case_and_a_gpu_forward():
    from cuda_cases import COMPLEX_ONLY, NOT_DISPATCHED, cases

    import tapegrad.ops  # noqa: F401  (registers the primitives)
    from tapegrad import _core
    from tapegrad.cuda.ops import IMPLS
    names = set(_core.registry())
    assert names - set(IMPLS) == set()
    assert names - set(cases()) - NOT_DISPATCHED - COMPLEX_ONLY == set()


def test_fake_device_sweep_matches_cpu_shapes_and_ptx(monkeypatch, ptx_entries):
    import cuda_fakedev as fakedev
    from cuda_cases import cases

    import tapegrad.ops  # noqa: F401
    from tapegrad import _core
    from tapegrad.cuda.ops import IMPLS
    dev = fakedev.install(monkeypatch)
    reg = _core.registry()
    checked = 0
    from tapegrad.cuda.host import HOST_OPS
    for name, items in sorted(cases().items()):
        if name in HOST_OPS:
            continue  # computed on the host: no kernel launch to check (fake memory reads 0)
        for args, params in items:
            dev.launches.clear()
            cpu = np.asarray(reg[name].cpu(*args, **params))
            gpu = _run_case(dev, IMPLS[name], args, params)
            assert gpu.shape == cpu.shape, f"{name}{params}: {gpu.shape} vs {cpu.shape}"
            assert gpu.dtype == cpu.dtype, f"{name}{params}: {gpu.dtype} vs {cpu.dtype}"
            for kname, _grid, _block, sizes in dev.launches:
                assert kname in ptx_entries, f"{name}: kernel {kname} is not in kernels.cu"
                assert sizes == ptx_entries[kname], (
                    f"{name}: {kname} launched with argument sizes {sizes}, "
                    f"PTX declares {ptx_entries[kname]}")
            checked += 1
    assert checked > 100


def test_matmul_uses_cublas_with_swapped_operands(monkeypatch):
    import cuda_fakedev as fakedev

    from tapegrad.cuda import linalg
    from tapegrad.cuda.array import CudaArray
    dev = fakedev.install(monkeypatch)
    a = CudaArray.from_numpy(np.zeros((2, 3, 4), np.float32))
    b = CudaArray.from_numpy(np.zeros((5, 4), np.float32))
    out = linalg.matmul(a, b, False, True)
    assert out.shape == (2, 3, 5)
    name, args = dev.blas_calls[-1]
    assert name == "cublasSgemmStridedBatched"
    # C^T = op(B)^T op(A)^T: (m, n, k) = (N, M, K); B transposed; A not; b broadcast (stride 0)
    assert args[1:6] == (1, 0, 5, 3, 4)
    assert args[7] == b.ptr and args[8] == 4 and args[9].value == 0
    assert args[10] == a.ptr and args[11] == 4 and args[12].value == 12
    assert args[15] == 5 and args[16].value == 15 and args[17].value == 2
    dev.blas_calls.clear()
    linalg.matmul(a.reshape((6, 4)), b, False, True)
    assert dev.blas_calls[-1][0] == "cublasSgemm_v2"


def test_kernel_names_cover_every_dtype(ptx_entries):
    for s in ("f16", "f32", "f64", "i32", "i64", "b8"):
        for k in ("unary", "binary", "compare", "where", "tile", "fill", "reduce", "arg"):
            assert f"{k}_{s}" in ptx_entries
        for t in ("f16", "f32", "f64", "i32", "i64", "b8"):
            assert f"cast_{s}_{t}" in ptx_entries
    for s in ("f32", "f64"):
        assert f"gather_grad_{s}_i64" in ptx_entries and f"adam_{s}" in ptx_entries


def _check_launches(dev, ptx_entries):
    assert dev.launches
    for kname, _grid, _block, sizes in dev.launches:
        assert sizes == ptx_entries[kname], (kname, sizes, ptx_entries[kname])


def test_optimizer_and_helper_launches_match_ptx(monkeypatch, ptx_entries):
    import cuda_fakedev as fakedev

    from tapegrad.cuda import elementwise, optim, reduce
    from tapegrad.cuda.array import CudaArray
    dev = fakedev.install(monkeypatch)
    w, g, m, v = (CudaArray.from_numpy(np.zeros(10, np.float32)) for _ in range(4))
    optim.sgd_update(w, g, 0.1)
    optim.momentum_update(w, m, g, 0.1, 0.9, nesterov=True)
    optim.adam_update(w, m, v, g, 1e-3, 0.9, 0.999, 1e-7, step=1)
    names = [launch_[0] for launch_ in dev.launches]
    assert names == ["sgd_f32", "momentum_f32", "adam_f32"]
    with pytest.raises(ValueError, match="mismatch"):
        optim.sgd_update(w, CudaArray.from_numpy(np.zeros(3, np.float32)), 0.1)
    with pytest.raises(ValueError, match="step must be >= 1"):
        optim.adam_update(w, m, v, g, 1e-3, 0.9, 0.999, 1e-7, step=0)
    elementwise.clip(w, CudaArray.from_scalar(-1.0, np.float32),
                     CudaArray.from_scalar(1.0, np.float32))
    xs = [CudaArray.from_numpy(np.zeros((3, 2), np.float64)) for _ in range(11)]
    elementwise.add_n(xs)
    assert sum(1 for n in dev.launches if n[0] == "add_n_f64") == 2  # 8 + 3 inputs
    dev.launches.clear()
    big = CudaArray.empty((1 << 22,), np.float32)
    out = reduce.reduce("sum", big, (0,), False, scale=0.5)
    assert out.shape == () and [n[0] for n in dev.launches] == ["reduce_f32", "reduce_f32"]
    # the mean's scale is applied once, in the final pass only
    first, second = dev.launches
    assert first[1][2] > 1 and second[1][2] == 1
    _check_launches(dev, ptx_entries)


def test_gpu_ops_reject_bad_dtypes_and_devices(monkeypatch):
    import cuda_fakedev as fakedev

    from tapegrad.cuda import elementwise, reduce, shape
    from tapegrad.cuda.array import CudaArray
    fakedev.install(monkeypatch)
    f = CudaArray.from_numpy(np.zeros(3, np.float32))
    i = CudaArray.from_numpy(np.zeros(3, np.int32))
    with pytest.raises(TypeError, match="sqrt: expected a floating-point input"):
        elementwise.unary("sqrt", i)
    with pytest.raises(TypeError, match="add: dtypes differ: float32 vs int32"):
        elementwise.binary("add", f, i)
    with pytest.raises(TypeError, match="where: condition must be bool"):
        elementwise.where(f, f, f)
    with pytest.raises(ValueError, match="reduce_max: cannot reduce an empty"):
        reduce.reduce("max", CudaArray.empty((0, 2), np.float32), (0,), False)
    with pytest.raises(TypeError, match="gather: indices must be integers"):
        shape.gather(f, f, 0)
    with pytest.raises(TypeError, match="not supported on the GPU"):
        CudaArray.from_numpy(np.zeros(2, np.uint16))
    other = CudaArray(f._block, f.shape, f.dtype, 1)
    with pytest.raises(ValueError, match="different devices"):
        elementwise.binary("add", f, other)
    other._block = None


def test_cuda_array_reshape_and_scalars(monkeypatch):
    import cuda_fakedev as fakedev

    from tapegrad.cuda.array import CudaArray
    fakedev.install(monkeypatch)
    a = CudaArray.empty((2, 6), np.float64)
    b = a.reshape(3, -1)
    assert b.shape == (3, 4) and b.ptr == a.ptr and b.nbytes == 96 and b.device == "/gpu:0"
    with pytest.raises(ValueError, match="cannot reshape"):
        a.reshape((5, -1))
    s1 = CudaArray.from_scalar(2.5, np.float32)
    assert CudaArray.from_scalar(2.5, np.float32) is s1
    assert CudaArray.from_scalar(2.5, np.float64) is not s1
    assert CudaArray.from_scalar(-0.0, np.float32) is not CudaArray.from_scalar(0.0, np.float32)
    assert s1.shape == () and s1.size == 1
    assert CudaArray.empty((0, 3), np.float32).ptr == 0


def test_check_numerics_device_check_launches_real_kernels(monkeypatch, ptx_entries):
    # the GPU finiteness check (debugging.numerics.device_all_finite): an is_finite
    # predicate and an all-reduce, launched with the PTX's argument sizes, one byte back
    import cuda_fakedev as fakedev

    from tapegrad.cuda.array import CudaArray
    from tapegrad.debugging.numerics import device_all_finite
    dev = fakedev.install(monkeypatch)
    for dtype in (np.float32, np.float64):
        dev.launches.clear()
        device_all_finite(CudaArray.from_numpy(np.zeros((3, 5), dtype)))
        names = [k for k, _g, _b, _s in dev.launches]
        assert any(k.startswith("pred_") for k in names), names
        assert len(names) >= 2, names
        for kname, _grid, _block, sizes in dev.launches:
            assert sizes == ptx_entries[kname], (kname, sizes, ptx_entries[kname])
    dev.launches.clear()
    assert device_all_finite(CudaArray.from_numpy(np.zeros(4, np.int32)))   # ints: finite
    assert device_all_finite(CudaArray.from_numpy(np.zeros((0, 3), np.float32)))
    assert dev.launches == []
