"""DLPack both ways, zero-copy on CPU, with NumPy and PyTorch."""

import numpy as np
import pytest

import tapegrad as tg


def test_numpy_from_tapegrad_is_zero_copy_and_read_only():
    t = tg.constant(np.arange(4.0))
    assert t.__dlpack_device__() == (1, 0)
    a = np.from_dlpack(t)
    assert a.ctypes.data == t.numpy().ctypes.data
    assert not a.flags.writeable  # DLPack 1.0 carries tapegrad's read-only flag
    np.testing.assert_array_equal(a, [0, 1, 2, 3])


def test_tapegrad_from_numpy_shares_memory_and_sees_writes():
    a = np.arange(5.0)
    t = tg.from_dlpack(a)
    a[1] = 42.0  # the producer may still write: the tensor shows it (documented)
    assert float(t[1]) == 42.0
    assert a.flags.writeable  # tapegrad marked only its own view read-only
    c = tg.from_dlpack(a, copy=True)
    a[2] = -1.0
    assert float(c[2]) == 2.0


def test_legacy_consumer_gets_a_copy():
    t = tg.constant([1.0, 2.0])
    capsule = t.__dlpack__()  # no max_version: a pre-1.0 consumer
    assert capsule is not None
    with pytest.raises(BufferError, match="copy=False"):
        t.__dlpack__(copy=False)


def test_torch_round_trip_zero_copy():
    torch = pytest.importorskip("torch")
    src = torch.arange(6, dtype=torch.float64).reshape(2, 3)
    t = tg.from_dlpack(src)
    assert t.shape == (2, 3) and t.dtype == np.float64
    src[0, 0] = 100.0  # a write through torch is visible in the tapegrad tensor
    assert float(t[0, 0]) == 100.0
    g = tg.grad(lambda x: tg.reduce_sum(x * x))(t)
    np.testing.assert_array_equal(g.numpy(), 2 * src.numpy())

    u = tg.constant(np.arange(3.0))
    view = torch.from_dlpack(u)
    assert view.data_ptr() == u.numpy().ctypes.data
    # torch ignores DLPack's read-only flag: writing through its view changes the
    # tapegrad tensor in place (documented as undefined behaviour for tapes)
    view[0] = 7.0
    assert float(u[0]) == 7.0
    safe = torch.from_dlpack(tg.constant([1.0]).__dlpack__(max_version=(1, 0), copy=True))
    assert safe.tolist() == [1.0]


def test_from_dlpack_rejects_non_dlpack_objects():
    with pytest.raises(TypeError, match="from_dlpack"):
        tg.from_dlpack([1, 2, 3])
