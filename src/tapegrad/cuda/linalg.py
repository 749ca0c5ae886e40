"""GPU matmul (cuBLAS for float32/float64, a tiled kernel for the rest) and einsum.

cuBLAS is column-major; a row-major C = op(A) @ op(B) is computed as the
column-major C^T = op(B)^T @ op(A)^T, i.e. by swapping the operands and passing
each one's row length as its leading dimension — no copies, transposes are flags.
Batch axes that broadcast become a zero batch stride; only a broadcast that
cannot be expressed by one stride (e.g. (2,1) against (1,3)) is materialised.
"""
import math
from ctypes import byref, c_double, c_float, c_int, c_int64, c_longlong

from . import launch
from .array import CudaArray
from .bindings import CUBLAS_OP_N, CUBLAS_OP_T, check
from .elementwise import broadcast_to, full, ptr, same_device, transpose
from .reduce import reduce

_INT_MAX = 2**31 - 1


def _batch_stride(x, batch, what):
    """(array, stride) giving x's matrices over the flattened ``batch`` shape."""
    xb = x.shape[:-2]
    mat = x.shape[-2] * x.shape[-1]
    if math.prod(xb) == 1:
        return x, 0
    if tuple((1,) * (len(batch) - len(xb)) + xb) == tuple(batch):
        return x, mat
    return broadcast_to(x, tuple(batch) + x.shape[-2:]), mat


def matmul(a, b, transpose_a=False, transpose_b=False):
    what = "matmul"
    dev = same_device(what, a, b)
    if a.dtype != b.dtype:
        raise TypeError(f"matmul: dtypes differ: {a.dtype} @ {b.dtype}")
    if a.ndim < 2 or b.ndim < 2:
        raise ValueError(f"matmul: operands must have rank >= 2 here, got {a.shape} @ {b.shape}")
    M, Ka = (a.shape[-1], a.shape[-2]) if transpose_a else (a.shape[-2], a.shape[-1])
    Kb, N = (b.shape[-1], b.shape[-2]) if transpose_b else (b.shape[-2], b.shape[-1])
    if Ka != Kb:
        raise ValueError(f"matmul: inner dimensions differ: {a.shape}{'.T' if transpose_a else ''}"
                         f" @ {b.shape}{'.T' if transpose_b else ''}")
    K = Ka
    batch = launch.broadcast_shapes(a.shape[:-2], b.shape[:-2], what="matmul batch")
    nb = math.prod(batch)
    out = CudaArray.empty(tuple(batch) + (M, N), a.dtype, a.device_index)
    if out.size == 0:
        return out
    if K == 0:
        return full(out.shape, 0, a.dtype, a.device_index)
    if max(M, N, K) > _INT_MAX:
        raise ValueError(f"matmul: dimensions above 2**31-1 are not supported on the GPU "
                         f"({a.shape} @ {b.shape})")
    a, sa = _batch_stride(a, batch, what)
    b, sb = _batch_stride(b, batch, what)
    s = launch.suffix(a.dtype, what)
    if s in ("f32", "f64"):
        _gemm(dev, s, a, sa, transpose_a, b, sb, transpose_b, out, nb, M, N, K)
    else:
        if s == "b8":
            raise TypeError("matmul: bool operands are not supported")
        sam, sak = (1, M) if transpose_a else (K, 1)
        sbk, sbn = (1, K) if transpose_b else (N, 1)
        grid, block = launch.matmul_grid(nb, M, N)
        dev.launch(f"matmul_{s}", grid, block,
                   [c_int64(nb), c_int64(M), c_int64(N), c_int64(K), ptr(a), c_int64(sa),
                    c_int64(sam), c_int64(sak), ptr(b), c_int64(sb), c_int64(sbk),
                    c_int64(sbn), ptr(out)])
    return out


def _gemm(dev, s, a, sa, ta, b, sb, tb, out, nb, M, N, K):
    lib, handle = dev.cublas()
    scalar = c_float if s == "f32" else c_double
    alpha, beta = scalar(1.0), scalar(0.0)
    op_a = CUBLAS_OP_T if ta else CUBLAS_OP_N
    op_b = CUBLAS_OP_T if tb else CUBLAS_OP_N
    lda = M if ta else K
    ldb = K if tb else N
    if nb == 1:
        fn = lib.cublasSgemm_v2 if s == "f32" else lib.cublasDgemm_v2
        check(fn(handle, op_b, op_a, N, M, K, byref(alpha), b.ptr, ldb, a.ptr, lda,
                 byref(beta), out.ptr, N), "cublas", "cublasgemm")
        return
    fn = lib.cublasSgemmStridedBatched if s == "f32" else lib.cublasDgemmStridedBatched
    check(fn(handle, op_b, op_a, N, M, K, byref(alpha), b.ptr, ldb, c_longlong(sb), a.ptr, lda,
             c_longlong(sa), byref(beta), out.ptr, N, c_longlong(M * N), c_int(nb)),
          "cublas", "cublasgemmStridedBatched")


def gemm_ptr(dev, s, a, ta, b, tb, c, M, N, K, accumulate=False):
    """Row-major C[M, N] (+)= op(A) @ op(B) on raw device addresses (float32/float64).

    A is stored [M, K] (or [K, M] when ``ta``), B [K, N] (or [N, K] when ``tb``), C [M, N],
    all contiguous; conv2d uses it to write each batch chunk into its output slice.
    """
    if s not in ("f32", "f64"):
        raise TypeError(f"gemm: cuBLAS path needs float32/float64, got {s}")
    if max(M, N, K) > _INT_MAX:
        raise ValueError(f"gemm: dimensions above 2**31-1 are not supported ({M}, {N}, {K})")
    lib, handle = dev.cublas()
    scalar = c_float if s == "f32" else c_double
    alpha, beta = scalar(1.0), scalar(1.0 if accumulate else 0.0)
    fn = lib.cublasSgemm_v2 if s == "f32" else lib.cublasDgemm_v2
    check(fn(handle, CUBLAS_OP_T if tb else CUBLAS_OP_N, CUBLAS_OP_T if ta else CUBLAS_OP_N,
             N, M, K, byref(alpha), b, K if tb else N, a, M if ta else K, byref(beta), c, N),
          "cublas", "cublasgemm")


# ---------------------------------------------------------------- einsum
def _diagonal(x, subs):
    """Collapse repeated letters of one operand to their diagonal (a strided copy)."""
    letters, shape, strides = [], [], []
    st = launch.contiguous_strides(x.shape)
    for c, n, s in zip(subs, x.shape, st):
        if c in letters:
            j = letters.index(c)
            if shape[j] != n:
                raise ValueError(f"einsum: letter {c!r} has sizes {shape[j]} and {n}")
            strides[j] += s
        else:
            letters.append(c)
            shape.append(n)
            strides.append(s)
    from .elementwise import strided_copy
    out = CudaArray.empty(tuple(shape), x.dtype, x.device_index)
    strided_copy(x, 0, tuple(strides), out, 0, launch.contiguous_strides(tuple(shape)),
                 tuple(shape))
    return out, "".join(letters)


def _permute(x, subs, order):
    if subs == order:
        return x
    return transpose(x, [subs.index(c) for c in order])


def _contract(a, sa, b, sb, keep):
    """Contract two operands; ``keep`` are letters needed later (output or other operands)."""
    sizes = dict(zip(sa, a.shape))
    sizes.update(zip(sb, b.shape))
    batch = [c for c in sa if c in sb and c in keep]
    inner = [c for c in sa if c in sb and c not in keep]
    left = [c for c in sa if c not in sb]
    right = [c for c in sb if c not in sa]
    A = _permute(a, sa, "".join(batch + left + inner))
    B = _permute(b, sb, "".join(batch + inner + right))
    nb = math.prod(sizes[c] for c in batch)
    L = math.prod(sizes[c] for c in left)
    C = math.prod(sizes[c] for c in inner)
    R = math.prod(sizes[c] for c in right)
    res = matmul(A.reshape((nb, L, C)), B.reshape((nb, C, R)))
    subs = "".join(batch + left + right)
    return res.reshape(tuple(sizes[c] for c in subs)), subs


def einsum(xs, equation):
    from tapegrad.ops.linalg import _parse_einsum

    ins, out = _parse_einsum(equation, len(xs))
    ops = []
    for x, s in zip(xs, ins):
        if len(s) != x.ndim:
            raise ValueError(f"einsum: subscripts {s!r} do not match operand shape {x.shape}")
        if len(set(s)) != len(s):
            x, s = _diagonal(x, s)
        ops.append((x, s))
    same_device("einsum", *[x for x, _ in ops])
    # sum out letters that occur in exactly one operand and not in the output
    for i, (x, s) in enumerate(ops):
        others = out + "".join(t for j, (_, t) in enumerate(ops) if j != i)
        drop = [k for k, c in enumerate(s) if c not in others]
        if drop:
            x = reduce("sum", x, tuple(drop), False, "einsum")
            s = "".join(c for k, c in enumerate(s) if k not in drop)
            ops[i] = (x, s)
    x, s = ops[0]
    for i in range(1, len(ops)):
        b, sb = ops[i]
        keep = out + "".join(t for _, t in ops[i + 1:])
        x, s = _contract(x, s, b, sb, keep)
    extra = [k for k, c in enumerate(s) if c not in out]
    if extra:
        x = reduce("sum", x, tuple(extra), False, "einsum")
        s = "".join(c for c in s if c in out)
    return _permute(x, s, out) if s else x
