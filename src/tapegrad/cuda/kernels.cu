// tapegrad's CUDA kernels.
//
// Built two ways from this one file (see README.md beside it): `nvcc -ptx
// -arch=compute_70` at install time, or NVRTC at first use.  It therefore
// includes no header at all (NVRTC may run without the toolkit's headers):
// half precision is converted with inline PTX and math comes from the CUDA
// builtins.
//
// Conventions shared with the Python side (launch.py):
//  * every kernel is extern "C" with a dtype suffix: f16 f32 f64 i32 i64 b8;
//  * element counts, strides and shapes are 64-bit;
//  * strided kernels take a `Meta` by value: the iteration shape and, per
//    operand, strides in elements (0 on broadcast axes, negative allowed);
//  * kernels use grid-stride loops, so any grid size is correct.

typedef long long i64;
typedef unsigned long long u64;
typedef unsigned int u32;
typedef unsigned char u8;

#define MAXD 8
#define MAXOPS 4

struct Meta {
  int ndim;
  int pad_;
  i64 n;
  i64 shape[MAXD];
  i64 st[MAXOPS][MAXD];
};

struct ConvMeta {  // NHWC image, (KH, KW) window; shared by conv and pooling
  i64 N, H, W, C, KH, KW, OH, OW, sh, sw, dh, dw, pt, pl;
};

struct Ptrs {
  u64 p[8];
};

struct half_t {
  unsigned short x;
};

// ------------------------------------------------------------------ types
__device__ __forceinline__ float h2f(half_t h) {
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h.x));
  return f;
}
__device__ __forceinline__ half_t f2h(float f) {
  half_t h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h.x) : "f"(f));
  return h;
}

template <class T> struct Acc { typedef T t; };
template <> struct Acc<half_t> { typedef float t; };

template <class T> struct IsFloat { static const bool v = false; };
template <> struct IsFloat<float> { static const bool v = true; };
template <> struct IsFloat<double> { static const bool v = true; };

template <class T> __device__ __forceinline__ typename Acc<T>::t ld(const T* p, i64 i) {
  return p[i];
}
template <> __device__ __forceinline__ float ld<half_t>(const half_t* p, i64 i) {
  return h2f(p[i]);
}

// Conversion on store: bool is "!= 0" (not truncation), half rounds to nearest.
template <class T> struct Store {
  template <class C> __device__ __forceinline__ static void put(T* p, i64 i, C v) {
    p[i] = (T)v;
  }
};
template <> struct Store<u8> {
  template <class C> __device__ __forceinline__ static void put(u8* p, i64 i, C v) {
    p[i] = (v != (C)0) ? 1 : 0;
  }
};
template <> struct Store<half_t> {
  template <class C> __device__ __forceinline__ static void put(half_t* p, i64 i, C v) {
    p[i] = f2h((float)v);
  }
};
template <class T, class C> __device__ __forceinline__ void stv(T* p, i64 i, C v) {
  Store<T>::put(p, i, v);
}

template <class C> __device__ __forceinline__ bool isnan_(C x) { return x != x; }
template <class C> __device__ __forceinline__ C lowest_();
template <> __device__ __forceinline__ float lowest_<float>() { return -__int_as_float(0x7f800000); }
template <> __device__ __forceinline__ double lowest_<double>() {
  return -__longlong_as_double(0x7ff0000000000000LL);
}
template <> __device__ __forceinline__ int lowest_<int>() { return -2147483647 - 1; }
template <> __device__ __forceinline__ i64 lowest_<i64>() { return -9223372036854775807LL - 1; }
template <> __device__ __forceinline__ u8 lowest_<u8>() { return 0; }
template <class C> __device__ __forceinline__ C highest_();
template <> __device__ __forceinline__ float highest_<float>() { return __int_as_float(0x7f800000); }
template <> __device__ __forceinline__ double highest_<double>() {
  return __longlong_as_double(0x7ff0000000000000LL);
}
template <> __device__ __forceinline__ int highest_<int>() { return 2147483647; }
template <> __device__ __forceinline__ i64 highest_<i64>() { return 9223372036854775807LL; }
template <> __device__ __forceinline__ u8 highest_<u8>() { return 1; }

// Math overloads: float and double map to the CUDA builtins; integers and bool
// go through double (only reachable for ops the Python side allows on ints).
#define MATH1(name, f32, f64)                                                     \
  __device__ __forceinline__ float name(float x) { return f32(x); }              \
  __device__ __forceinline__ double name(double x) { return f64(x); }            \
  template <class C> __device__ __forceinline__ C name(C x) { return (C)f64((double)x); }
MATH1(m_sqrt, sqrtf, sqrt)
MATH1(m_rsqrt, rsqrtf, rsqrt)
MATH1(m_exp, expf, exp)
MATH1(m_expm1, expm1f, expm1)
MATH1(m_log, logf, log)
MATH1(m_log1p, log1pf, log1p)
MATH1(m_tanh, tanhf, tanh)
MATH1(m_sin, sinf, sin)
MATH1(m_cos, cosf, cos)
MATH1(m_tan, tanf, tan)
MATH1(m_asin, asinf, asin)
MATH1(m_acos, acosf, acos)
MATH1(m_atan, atanf, atan)
MATH1(m_sinh, sinhf, sinh)
MATH1(m_cosh, coshf, cosh)
MATH1(m_asinh, asinhf, asinh)
MATH1(m_acosh, acoshf, acosh)
MATH1(m_atanh, atanhf, atanh)
MATH1(m_erf, erff, erf)
MATH1(m_floor, floorf, floor)
MATH1(m_ceil, ceilf, ceil)
MATH1(m_rint, rintf, rint)
MATH1(m_fabs, fabsf, fabs)
__device__ __forceinline__ float m_pow(float a, float b) { return powf(a, b); }
__device__ __forceinline__ double m_pow(double a, double b) { return pow(a, b); }
__device__ __forceinline__ float m_fmod(float a, float b) { return fmodf(a, b); }
__device__ __forceinline__ double m_fmod(double a, double b) { return fmod(a, b); }
__device__ __forceinline__ float m_atan2(float a, float b) { return atan2f(a, b); }
__device__ __forceinline__ double m_atan2(double a, double b) { return atan2(a, b); }

#define GRID_LOOP(i, n) \
  for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)blockDim.x * gridDim.x)

// Offsets of linear iteration index i in K operands.
template <int K> __device__ __forceinline__ void offsets(const Meta& m, i64 i, i64* o) {
  if (m.ndim == 1) {
#pragma unroll
    for (int k = 0; k < K; ++k) o[k] = i * m.st[k][0];
    return;
  }
#pragma unroll
  for (int k = 0; k < K; ++k) o[k] = 0;
  for (int d = m.ndim - 1; d >= 0; --d) {
    i64 s = m.shape[d];
    i64 q = i / s;
    i64 r = i - q * s;
#pragma unroll
    for (int k = 0; k < K; ++k) o[k] += r * m.st[k][d];
    i = q;
  }
}

// ------------------------------------------------------------------ elementwise
enum {
  U_IDENTITY, U_NEG, U_ABS, U_SIGN, U_SQUARE, U_SQRT, U_RSQRT, U_EXP, U_EXPM1, U_LOG,
  U_LOG1P, U_TANH, U_SIGMOID, U_SIN, U_COS, U_TAN, U_ASIN, U_ACOS, U_ATAN, U_SINH,
  U_COSH, U_ASINH, U_ACOSH, U_ATANH, U_ERF, U_RELU, U_RECIPROCAL, U_FLOOR, U_CEIL,
  U_ROUND, U_LOGICAL_NOT, U_SOFTPLUS
};

template <class C> __device__ __forceinline__ C unop(int op, C x) {
  switch (op) {
    case U_IDENTITY: return x;
    case U_NEG: return (C)(-x);
    case U_ABS: return x < (C)0 ? (C)(-x) : x;
    case U_SIGN: return x > (C)0 ? (C)1 : (x < (C)0 ? (C)(-1) : x);
    case U_SQUARE: return x * x;
    case U_SQRT: return m_sqrt(x);
    case U_RSQRT: return m_rsqrt(x);
    case U_EXP: return m_exp(x);
    case U_EXPM1: return m_expm1(x);
    case U_LOG: return m_log(x);
    case U_LOG1P: return m_log1p(x);
    case U_TANH: return m_tanh(x);
    case U_SIGMOID: {
      if (x >= (C)0) return (C)1 / ((C)1 + m_exp((C)(-x)));
      C e = m_exp(x);
      return e / ((C)1 + e);
    }
    case U_SIN: return m_sin(x);
    case U_COS: return m_cos(x);
    case U_TAN: return m_tan(x);
    case U_ASIN: return m_asin(x);
    case U_ACOS: return m_acos(x);
    case U_ATAN: return m_atan(x);
    case U_SINH: return m_sinh(x);
    case U_COSH: return m_cosh(x);
    case U_ASINH: return m_asinh(x);
    case U_ACOSH: return m_acosh(x);
    case U_ATANH: return m_atanh(x);
    case U_ERF: return m_erf(x);
    case U_RELU: return x > (C)0 ? x : (isnan_(x) ? x : (C)0);
    case U_RECIPROCAL: return (C)1 / x;
    case U_FLOOR: return m_floor(x);
    case U_CEIL: return m_ceil(x);
    case U_ROUND: return m_rint(x);
    case U_LOGICAL_NOT: return (C)(x == (C)0);
    case U_SOFTPLUS: {
      C ax = x < (C)0 ? (C)(-x) : x;
      return (x > (C)0 ? x : (C)0) + m_log1p(m_exp((C)(-ax)));
    }
  }
  return x;
}

enum { P_ISNAN, P_ISINF, P_ISFINITE };
template <class C> __device__ __forceinline__ bool predop(int op, C x) {
  bool nan = isnan_(x);
  bool inf = !nan && (x == highest_<C>() || x == lowest_<C>());
  if (!IsFloat<C>::v) inf = false;
  switch (op) {
    case P_ISNAN: return nan;
    case P_ISINF: return inf;
    default: return !nan && !inf;
  }
}

enum {
  B_ADD, B_SUB, B_MUL, B_DIV, B_FLOORDIV, B_MOD, B_POW, B_MAX, B_MIN, B_ATAN2,
  B_DIV_NO_NAN, B_MUL_NO_NAN, B_SQUARED_DIFF, B_LOGICAL_AND, B_LOGICAL_OR, B_LOGICAL_XOR,
  B_SAFE_DIV, B_SAFE_MUL
};

template <class C> __device__ __forceinline__ C ipow(C a, C e) {
  if (e < (C)0) return a == (C)1 ? (C)1 : (a == (C)(-1) ? ((e & 1) ? (C)(-1) : (C)1) : (C)0);
  C r = 1;
  while (e) {
    if (e & 1) r *= a;
    a *= a;
    e >>= 1;
  }
  return r;
}

template <class C> __device__ __forceinline__ C binop(int op, C a, C b) {
  switch (op) {
    case B_ADD: return a + b;
    case B_SUB: return a - b;
    case B_MUL: return a * b;
    case B_DIV:
      if (!IsFloat<C>::v && b == (C)0) return (C)0;
      return a / b;
    case B_FLOORDIV:
      if constexpr (IsFloat<C>::v) {
        return m_floor(a / b);
      } else {
        if (b == (C)0) return (C)0;
        C q = a / b;
        if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
        return q;
      }
    case B_MOD:
      if constexpr (IsFloat<C>::v) {
        C r = m_fmod(a, b);
        if (r != (C)0 && ((r < (C)0) != (b < (C)0))) r += b;
        return r;
      } else {
        if (b == (C)0) return (C)0;
        C r = a % b;
        if (r != 0 && ((r < 0) != (b < 0))) r += b;
        return r;
      }
    case B_POW:
      if constexpr (IsFloat<C>::v) return m_pow(a, b);
      else return ipow(a, b);
    case B_MAX: return (a > b || isnan_(a)) ? a : b;
    case B_MIN: return (a < b || isnan_(a)) ? a : b;
    case B_ATAN2:
      if constexpr (IsFloat<C>::v) return m_atan2(a, b);
      else return (C)m_atan2((double)a, (double)b);
    case B_DIV_NO_NAN: return b == (C)0 ? (C)0 : a / b;
    case B_MUL_NO_NAN: return b == (C)0 ? (C)0 : a * b;
    case B_SQUARED_DIFF: return (a - b) * (a - b);
    case B_LOGICAL_AND: return (C)((a != (C)0) && (b != (C)0));
    case B_LOGICAL_OR: return (C)((a != (C)0) || (b != (C)0));
    case B_LOGICAL_XOR: return (C)((a != (C)0) != (b != (C)0));
    // zero cotangent a stays exactly zero, even against inf/NaN
    case B_SAFE_DIV: return a == (C)0 ? (C)0 : a / b;
    case B_SAFE_MUL: return a == (C)0 ? (C)0 : a * b;
  }
  return a;
}

// bool (u8 0/1) gets logical semantics: + is or, * is and, max/min are or/and.
template <> __device__ __forceinline__ u8 unop<u8>(int op, u8 x) {
  switch (op) {
    case U_LOGICAL_NOT: return !x;
    case U_SIGN: case U_ABS: case U_SQUARE: case U_IDENTITY: case U_RELU: return x;
  }
  return x;
}
template <> __device__ __forceinline__ u8 binop<u8>(int op, u8 a, u8 b) {
  switch (op) {
    case B_ADD: case B_MAX: case B_LOGICAL_OR: return a | b;
    case B_MUL: case B_MIN: case B_LOGICAL_AND: return a & b;
    case B_SUB: case B_LOGICAL_XOR: case B_SQUARED_DIFF: return a ^ b;
  }
  return a;
}

enum { C_EQ, C_NE, C_LT, C_LE, C_GT, C_GE };
template <class C> __device__ __forceinline__ bool cmpop(int op, C a, C b) {
  switch (op) {
    case C_EQ: return a == b;
    case C_NE: return a != b;
    case C_LT: return a < b;
    case C_LE: return a <= b;
    case C_GT: return a > b;
    default: return a >= b;
  }
}

// st[0] = input, st[1] = output (so the same kernel copies into strided views).
template <class T> __device__ void unary_impl(int op, const Meta& m, const T* x, T* y) {
  GRID_LOOP(i, m.n) {
    i64 o[2];
    offsets<2>(m, i, o);
    stv(y, o[1], unop(op, ld(x, o[0])));
  }
}
template <class T> __device__ void pred_impl(int op, const Meta& m, const T* x, u8* y) {
  GRID_LOOP(i, m.n) {
    i64 o[2];
    offsets<2>(m, i, o);
    y[o[1]] = predop(op, ld(x, o[0])) ? 1 : 0;
  }
}
// Same-shape contiguous operands with the op fixed at compile time: no index math and
// no per-element op dispatch, so the common arithmetic runs at memory bandwidth.
template <class T, int OP> __device__ void binary_contig(i64 n, const T* a, const T* b, T* y) {
  GRID_LOOP(i, n) stv(y, i, binop(OP, ld(a, i), ld(b, i)));
}
template <class T> __device__ void binary_impl(int op, const Meta& m, const T* a, const T* b, T* y) {
  if (m.ndim == 1 && m.st[0][0] == 1 && m.st[1][0] == 1 && m.st[2][0] == 1) {
    switch (op) {
      case B_ADD: binary_contig<T, B_ADD>(m.n, a, b, y); return;
      case B_SUB: binary_contig<T, B_SUB>(m.n, a, b, y); return;
      case B_MUL: binary_contig<T, B_MUL>(m.n, a, b, y); return;
      case B_DIV: binary_contig<T, B_DIV>(m.n, a, b, y); return;
    }
  }
  GRID_LOOP(i, m.n) {
    i64 o[3];
    offsets<3>(m, i, o);
    stv(y, o[2], binop(op, ld(a, o[0]), ld(b, o[1])));
  }
}
template <class T> __device__ void compare_impl(int op, const Meta& m, const T* a, const T* b, u8* y) {
  GRID_LOOP(i, m.n) {
    i64 o[3];
    offsets<3>(m, i, o);
    y[o[2]] = cmpop(op, ld(a, o[0]), ld(b, o[1])) ? 1 : 0;
  }
}
template <class T>
__device__ void where_impl(const Meta& m, const u8* c, const T* a, const T* b, T* y) {
  GRID_LOOP(i, m.n) {
    i64 o[4];
    offsets<4>(m, i, o);
    y[o[3]] = c[o[0]] ? a[o[1]] : b[o[2]];
  }
}
template <class T>
__device__ void clip_impl(const Meta& m, const T* x, const T* lo, const T* hi, T* y) {
  GRID_LOOP(i, m.n) {
    i64 o[4];
    offsets<4>(m, i, o);
    typename Acc<T>::t v = ld(x, o[0]), l = ld(lo, o[1]), h = ld(hi, o[2]);
    v = isnan_(v) ? v : (v < l ? l : v);
    v = isnan_(v) ? v : (v > h ? h : v);
    stv(y, o[3], v);
  }
}
template <class Ti, class To> __device__ void cast_impl(const Meta& m, const Ti* x, To* y) {
  GRID_LOOP(i, m.n) {
    i64 o[2];
    offsets<2>(m, i, o);
    stv(y, o[1], ld(x, o[0]));
  }
}
// Tile: st[0] = input strides, st[1] = input shape; output contiguous.
template <class T> __device__ void tile_impl(const Meta& m, const T* x, T* y) {
  GRID_LOOP(i, m.n) {
    i64 r = i, off = 0;
    for (int d = m.ndim - 1; d >= 0; --d) {
      i64 q = r / m.shape[d];
      off += ((r - q * m.shape[d]) % m.st[1][d]) * m.st[0][d];
      r = q;
    }
    y[i] = x[off];
  }
}

// ------------------------------------------------------------------ fills
template <class T, class C> __device__ void fill_impl(i64 n, C v, T* y) {
  GRID_LOOP(i, n) stv(y, i, v);
}
template <class T, class C> __device__ void arange_impl(i64 n, C start, C delta, T* y) {
  GRID_LOOP(i, n) stv(y, i, (C)(start + (C)i * delta));
}
template <class T> __device__ void eye_impl(i64 batch, i64 rows, i64 cols, i64 k, T* y) {
  GRID_LOOP(i, batch * rows * cols) {
    i64 j = i % cols, r = (i / cols) % rows;
    stv(y, i, (j - r == k) ? 1 : 0);
  }
}
template <class T, class I, class C>
__device__ void one_hot_impl(i64 n, i64 depth, const I* idx, C on, C off, T* y) {
  GRID_LOOP(i, n * depth) {
    i64 d = i % depth;
    stv(y, i, ((i64)idx[i / depth] == d) ? on : off);
  }
}

// ------------------------------------------------------------------ gather
// params viewed as [outer, N, inner], indices flat [K] -> out [outer, K, inner].
// Out-of-range indices write zeros and raise the error flag the host checks.
template <class T, class I>
__device__ void gather_impl(i64 outer, i64 N, i64 inner, i64 K, int wrap, const I* idx,
                            const T* p, T* y, int* err) {
  GRID_LOOP(i, outer * K * inner) {
    i64 in = i % inner, k = (i / inner) % K, o = i / (inner * K);
    i64 j = (i64)idx[k];
    if (wrap && j < 0) j += N;
    if (j < 0 || j >= N) {
      stv(y, i, 0);
      *err = 1;
    } else {
      y[i] = p[(o * N + j) * inner + in];
    }
  }
}
__device__ __forceinline__ void atomic_add(float* p, float v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_add(double* p, double v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_add(int* p, int v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_add(i64* p, i64 v) {
  atomicAdd((unsigned long long*)p, (unsigned long long)v);  // two's complement wraps alike
}
// Gradient of gather: scatter-add g [outer, K, inner] into y [outer, N, inner] (zeroed).
template <class T, class I>
__device__ void gather_grad_impl(i64 outer, i64 N, i64 inner, i64 K, int wrap, const I* idx,
                                 const T* g, T* y) {
  GRID_LOOP(i, outer * K * inner) {
    i64 in = i % inner, k = (i / inner) % K, o = i / (inner * K);
    i64 j = (i64)idx[k];
    if (wrap && j < 0) j += N;
    if (j >= 0 && j < N) atomic_add(&y[(o * N + j) * inner + in], g[i]);
  }
}

// ------------------------------------------------------------------ reductions
// x viewed as [outer, R, inner]; out [outer, ceil(R/chunk), inner].  Block (bx, by):
// threadIdx.x walks inner, threadIdx.y strides over R; shared-memory tree over y.
enum { R_SUM, R_PROD, R_MAX, R_MIN };
template <class C> __device__ __forceinline__ C rinit(int op) {
  switch (op) {
    case R_SUM: return (C)0;
    case R_PROD: return (C)1;
    case R_MAX: return lowest_<C>();
    default: return highest_<C>();
  }
}
template <class C> __device__ __forceinline__ C rcombine(int op, C a, C b) {
  switch (op) {
    case R_SUM: return a + b;
    case R_PROD: return a * b;
    case R_MAX: return (a > b || isnan_(a)) ? a : b;
    default: return (a < b || isnan_(a)) ? a : b;
  }
}
template <class T>
__device__ void reduce_impl(int op, i64 outer, i64 R, i64 inner, i64 chunk, double scale,
                            const T* x, T* y) {
  typedef typename Acc<T>::t C;
  __shared__ C sh[1024];
  i64 nchunks = (R + chunk - 1) / chunk;
  i64 in = (i64)blockIdx.x * blockDim.x + threadIdx.x;
  i64 c = blockIdx.z;
  i64 r0 = c * chunk, r1 = r0 + chunk < R ? r0 + chunk : R;
  int t = threadIdx.y * blockDim.x + threadIdx.x;
  for (i64 o = blockIdx.y; o < outer; o += gridDim.y) {
    C acc = rinit<C>(op);
    if (in < inner)
      for (i64 r = r0 + threadIdx.y; r < r1; r += blockDim.y)
        acc = rcombine(op, acc, ld(x, (o * R + r) * inner + in));
    sh[t] = acc;
    __syncthreads();
    for (int s = blockDim.y / 2; s > 0; s >>= 1) {
      if (threadIdx.y < s) sh[t] = rcombine(op, sh[t], sh[t + s * blockDim.x]);
      __syncthreads();
    }
    if (threadIdx.y == 0 && in < inner) {
      C v = sh[threadIdx.x];
      if (scale != 1.0) v = (C)(v * scale);
      stv(y, (o * nchunks + c) * inner + in, v);
    }
    __syncthreads();
  }
}
// argmax/argmin along R: first occurrence wins ties; a NaN beats everything (NumPy).
template <class C> __device__ __forceinline__ bool arg_better(int is_max, C a, i64 ia, C b, i64 ib) {
  if (ib < 0) return ia >= 0;
  if (ia < 0) return false;
  bool na = isnan_(a), nb = isnan_(b);
  if (na || nb) return na && (!nb || ia < ib);
  if (a != b) return is_max ? a > b : a < b;
  return ia < ib;
}
template <class T>
__device__ void arg_impl(int is_max, i64 outer, i64 R, i64 inner, const T* x, i64* y) {
  typedef typename Acc<T>::t C;
  __shared__ C sv[1024];
  __shared__ i64 si[1024];
  i64 in = (i64)blockIdx.x * blockDim.x + threadIdx.x;
  int t = threadIdx.y * blockDim.x + threadIdx.x;
  for (i64 o = blockIdx.y; o < outer; o += gridDim.y) {
    C best = (C)0;
    i64 bi = -1;
    if (in < inner)
      for (i64 r = threadIdx.y; r < R; r += blockDim.y) {
        C v = ld(x, (o * R + r) * inner + in);
        if (arg_better(is_max, v, r, best, bi)) { best = v; bi = r; }
      }
    sv[t] = best;
    si[t] = bi;
    __syncthreads();
    for (int s = blockDim.y / 2; s > 0; s >>= 1) {
      if (threadIdx.y < s) {
        int u = t + s * blockDim.x;
        if (arg_better(is_max, sv[u], si[u], sv[t], si[t])) { sv[t] = sv[u]; si[t] = si[u]; }
      }
      __syncthreads();
    }
    if (threadIdx.y == 0 && in < inner) y[o * inner + in] = si[threadIdx.x] < 0 ? 0 : si[threadIdx.x];
    __syncthreads();
  }
}

// ------------------------------------------------------------------ softmax
// One block per row of length D; log=1 gives log-softmax.  blockDim.x is a power of 2.
template <class T> __device__ void softmax_impl(i64 rows, i64 D, int log, const T* x, T* y) {
  typedef typename Acc<T>::t C;
  __shared__ C sh[1024];
  for (i64 row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* xr = x + row * D;
    T* yr = y + row * D;
    C mx = lowest_<C>();
    for (i64 j = threadIdx.x; j < D; j += blockDim.x) mx = rcombine(R_MAX, mx, ld(xr, j));
    sh[threadIdx.x] = mx;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
      if (threadIdx.x < s) sh[threadIdx.x] = rcombine(R_MAX, sh[threadIdx.x], sh[threadIdx.x + s]);
      __syncthreads();
    }
    mx = sh[0];
    __syncthreads();
    C sum = 0;
    for (i64 j = threadIdx.x; j < D; j += blockDim.x) sum += m_exp(ld(xr, j) - mx);
    sh[threadIdx.x] = sum;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
      if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
      __syncthreads();
    }
    sum = sh[0];
    __syncthreads();
    C lse = m_log(sum);
    for (i64 j = threadIdx.x; j < D; j += blockDim.x) {
      C z = ld(xr, j) - mx;
      stv(yr, j, log ? z - lse : m_exp(z) / sum);
    }
  }
}

// ------------------------------------------------------------------ conv / pool
// cols [N*OH*OW, KH*KW*C] (row-major) from x [N, H, W, C]; zero outside the image.
template <class T> __device__ void im2col_impl(ConvMeta p, const T* x, T* cols) {
  i64 K = p.KH * p.KW * p.C;
  GRID_LOOP(i, p.N * p.OH * p.OW * K) {
    i64 c = i % p.C, kw = (i / p.C) % p.KW, kh = (i / (p.C * p.KW)) % p.KH;
    i64 row = i / K, ow = row % p.OW, oh = (row / p.OW) % p.OH, n = row / (p.OW * p.OH);
    i64 h = oh * p.sh - p.pt + kh * p.dh, w = ow * p.sw - p.pl + kw * p.dw;
    if (h >= 0 && h < p.H && w >= 0 && w < p.W)
      cols[i] = x[((n * p.H + h) * p.W + w) * p.C + c];
    else
      stv(cols, i, 0);
  }
}
// Adjoint of im2col, gather form: each input element sums the columns that read it
// (deterministic, no atomics).
template <class T> __device__ void col2im_impl(ConvMeta p, const T* cols, T* dx) {
  typedef typename Acc<T>::t C;
  i64 K = p.KH * p.KW * p.C;
  GRID_LOOP(i, p.N * p.H * p.W * p.C) {
    i64 c = i % p.C, w = (i / p.C) % p.W, h = (i / (p.C * p.W)) % p.H, n = i / (p.C * p.W * p.H);
    C acc = 0;
    for (i64 kh = 0; kh < p.KH; ++kh) {
      i64 hn = h + p.pt - kh * p.dh;
      if (hn < 0 || hn % p.sh) continue;
      i64 oh = hn / p.sh;
      if (oh >= p.OH) continue;
      for (i64 kw = 0; kw < p.KW; ++kw) {
        i64 wn = w + p.pl - kw * p.dw;
        if (wn < 0 || wn % p.sw) continue;
        i64 ow = wn / p.sw;
        if (ow >= p.OW) continue;
        acc += ld(cols, ((n * p.OH + oh) * p.OW + ow) * K + (kh * p.KW + kw) * p.C + c);
      }
    }
    stv(dx, i, acc);
  }
}
// Max/avg pooling over valid (unpadded) cells; avg divides by their count (TF).
template <class T> __device__ void pool_fwd_impl(ConvMeta p, int is_avg, const T* x, T* y) {
  typedef typename Acc<T>::t C;
  GRID_LOOP(i, p.N * p.OH * p.OW * p.C) {
    i64 c = i % p.C, ow = (i / p.C) % p.OW, oh = (i / (p.C * p.OW)) % p.OH;
    i64 n = i / (p.C * p.OW * p.OH);
    C acc = is_avg ? (C)0 : lowest_<C>();
    i64 cnt = 0;
    for (i64 kh = 0; kh < p.KH; ++kh) {
      i64 h = oh * p.sh - p.pt + kh;
      if (h < 0 || h >= p.H) continue;
      for (i64 kw = 0; kw < p.KW; ++kw) {
        i64 w = ow * p.sw - p.pl + kw;
        if (w < 0 || w >= p.W) continue;
        C v = ld(x, ((n * p.H + h) * p.W + w) * p.C + c);
        acc = is_avg ? acc + v : rcombine(R_MAX, acc, v);
        ++cnt;
      }
    }
    stv(y, i, is_avg ? (cnt ? acc / (C)cnt : (C)0) : acc);
  }
}
// Backward, gather form: each input cell collects g from every window holding it
// (max: only where it is the window's first maximum).
template <class T>
__device__ void pool_bwd_impl(ConvMeta p, int is_avg, const T* x, const T* g, T* dx) {
  typedef typename Acc<T>::t C;
  GRID_LOOP(i, p.N * p.H * p.W * p.C) {
    i64 c = i % p.C, w = (i / p.C) % p.W, h = (i / (p.C * p.W)) % p.H, n = i / (p.C * p.W * p.H);
    C acc = 0;
    i64 oh0 = h + p.pt - p.KH + 1, ow0 = w + p.pl - p.KW + 1;
    oh0 = oh0 <= 0 ? 0 : (oh0 + p.sh - 1) / p.sh;
    ow0 = ow0 <= 0 ? 0 : (ow0 + p.sw - 1) / p.sw;
    for (i64 oh = oh0; oh < p.OH && oh * p.sh - p.pt <= h; ++oh) {
      for (i64 ow = ow0; ow < p.OW && ow * p.sw - p.pl <= w; ++ow) {
        i64 h0 = oh * p.sh - p.pt, w0 = ow * p.sw - p.pl;
        C gv = ld(g, ((n * p.OH + oh) * p.OW + ow) * p.C + c);
        if (is_avg) {
          i64 hh = (h0 + p.KH < p.H ? h0 + p.KH : p.H) - (h0 > 0 ? h0 : 0);
          i64 ww = (w0 + p.KW < p.W ? w0 + p.KW : p.W) - (w0 > 0 ? w0 : 0);
          acc += gv / (C)(hh * ww);
        } else {
          C best = lowest_<C>();
          i64 bh = -1, bw = -1;
          for (i64 kh = 0; kh < p.KH; ++kh) {
            i64 hh = h0 + kh;
            if (hh < 0 || hh >= p.H) continue;
            for (i64 kw = 0; kw < p.KW; ++kw) {
              i64 ww = w0 + kw;
              if (ww < 0 || ww >= p.W) continue;
              C v = ld(x, ((n * p.H + hh) * p.W + ww) * p.C + c);
              if (bh < 0 || v > best || (isnan_(v) && !isnan_(best))) { best = v; bh = hh; bw = ww; }
            }
          }
          if (bh == h && bw == w) acc += gv;
        }
      }
    }
    stv(dx, i, acc);
  }
}

// Second-order helper of max pooling: y[n,oh,ow,c] = h at the window's first maximum of x.
template <class T>
__device__ void pool_select_impl(ConvMeta p, const T* x, const T* h, T* y) {
  typedef typename Acc<T>::t C;
  GRID_LOOP(i, p.N * p.OH * p.OW * p.C) {
    i64 c = i % p.C, ow = (i / p.C) % p.OW, oh = (i / (p.C * p.OW)) % p.OH;
    i64 n = i / (p.C * p.OW * p.OH);
    C best = lowest_<C>();
    i64 at = -1;
    for (i64 kh = 0; kh < p.KH; ++kh) {
      i64 hh = oh * p.sh - p.pt + kh;
      if (hh < 0 || hh >= p.H) continue;
      for (i64 kw = 0; kw < p.KW; ++kw) {
        i64 ww = ow * p.sw - p.pl + kw;
        if (ww < 0 || ww >= p.W) continue;
        i64 j = ((n * p.H + hh) * p.W + ww) * p.C + c;
        C v = ld(x, j);
        if (at < 0 || v > best || (isnan_(v) && !isnan_(best))) { best = v; at = j; }
      }
    }
    if (at < 0) stv(y, i, 0);
    else y[i] = h[at];
  }
}

// ------------------------------------------------------------------ matmul fallback
// For dtypes cuBLAS lacks (f16, ints).  c[b] = a[b] @ b[b], operands addressed by strides
// (stride 0 on a batch axis broadcasts); c contiguous [batch, M, N].  16x16 tiles.
template <class T>
__device__ void matmul_impl(i64 batch, i64 M, i64 N, i64 K, const T* a, i64 sab, i64 sam,
                            i64 sak, const T* b, i64 sbb, i64 sbk, i64 sbn, T* c) {
  typedef typename Acc<T>::t C;
  __shared__ C ta[16][17];
  __shared__ C tb[16][17];
  i64 bz = blockIdx.z;
  i64 row = (i64)blockIdx.y * 16 + threadIdx.y, col = (i64)blockIdx.x * 16 + threadIdx.x;
  for (; bz < batch; bz += gridDim.z) {
    C acc = 0;
    for (i64 k0 = 0; k0 < K; k0 += 16) {
      i64 ka = k0 + threadIdx.x, kb = k0 + threadIdx.y;
      ta[threadIdx.y][threadIdx.x] = (row < M && ka < K) ? ld(a, bz * sab + row * sam + ka * sak) : (C)0;
      tb[threadIdx.y][threadIdx.x] = (kb < K && col < N) ? ld(b, bz * sbb + kb * sbk + col * sbn) : (C)0;
      __syncthreads();
#pragma unroll
      for (int k = 0; k < 16; ++k) acc += ta[threadIdx.y][k] * tb[k][threadIdx.x];
      __syncthreads();
    }
    if (row < M && col < N) stv(c, (bz * M + row) * N + col, acc);
  }
}

// ------------------------------------------------------------------ random
// Philox4x32-10 (Salmon et al. 2011): counter = (element, attempt | offset), key = seed.
__device__ __forceinline__ void philox(u32 c[4], u32 k0, u32 k1) {
  for (int r = 0; r < 10; ++r) {
    u32 hi0 = __umulhi(0xD2511F53u, c[0]), lo0 = 0xD2511F53u * c[0];
    u32 hi1 = __umulhi(0xCD9E8D57u, c[2]), lo1 = 0xCD9E8D57u * c[2];
    u32 n0 = hi1 ^ c[1] ^ k0, n2 = hi0 ^ c[3] ^ k1;
    c[0] = n0; c[1] = lo1; c[2] = n2; c[3] = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
}
__device__ __forceinline__ void philox_at(u64 seed, u64 offset, i64 i, u32 attempt, u32 w[4]) {
  w[0] = (u32)i;
  w[1] = (u32)((u64)i >> 32) ^ (attempt << 16);
  w[2] = (u32)offset;
  w[3] = (u32)(offset >> 32);
  philox(w, (u32)seed, (u32)(seed >> 32));
}
__device__ __forceinline__ double u53(u32 a, u32 b) {  // uniform [0, 1)
  return (double)(((u64)a << 21) ^ (u64)(b >> 11)) * (1.0 / 9007199254740992.0);
}
enum { D_UNIFORM, D_NORMAL, D_TRUNCATED_NORMAL };
template <class T, class C>
__device__ void random_impl(int dist, i64 n, u64 seed, u64 offset, C a, C b, T* y) {
  GRID_LOOP(i, n) {
    u32 w[4];
    philox_at(seed, offset, i, 0, w);
    double v;
    if (dist == D_UNIFORM) {
      double u = IsFloat<T>::v && sizeof(T) == 8 ? u53(w[0], w[1]) : (w[0] >> 8) * (1.0 / 16777216.0);
      v = (double)a + u * ((double)b - (double)a);
      if (v >= (double)b) v = (double)a;  // rounding must not reach the open end
    } else {
      double z = 0;
      for (u32 att = 0; att < 32; ++att) {
        if (att) philox_at(seed, offset, i, att, w);
        double r = sqrt(-2.0 * log(1.0 - u53(w[0], w[1])));
        double th = 6.283185307179586 * u53(w[2], w[3]);
        z = r * cos(th);
        if (dist == D_NORMAL || fabs(z) <= 2.0) break;
        z = r * sin(th);
        if (fabs(z) <= 2.0) break;
        z = z > 0 ? 2.0 : -2.0;  // unreachable in practice (p < 1e-80)
      }
      v = (double)a + z * (double)b;
    }
    stv(y, i, (C)v);
  }
}
// Uniform integers in [lo, hi): 64 random bits modulo the range (bias < 2^-32).
template <class T> __device__ void randint_impl(i64 n, u64 seed, u64 offset, i64 lo, i64 hi, T* y) {
  u64 range = (u64)(hi - lo);
  GRID_LOOP(i, n) {
    u32 w[4];
    philox_at(seed, offset, i, 0, w);
    u64 r = ((u64)w[0] << 32) | w[1];
    y[i] = (T)(lo + (i64)(r % range));
  }
}

// ------------------------------------------------------------------ optimizers, add_n
template <class T, class C> __device__ void sgd_impl(i64 n, C lr, T* w, const T* g) {
  GRID_LOOP(i, n) stv(w, i, ld(w, i) - lr * ld(g, i));
}
// TF ApplyMomentum: a = m*a + g; w -= lr*a  (nesterov: w -= lr*(g + m*a)).
template <class T, class C>
__device__ void momentum_impl(i64 n, C lr, C mom, int nesterov, T* w, T* a, const T* g) {
  GRID_LOOP(i, n) {
    C gi = ld(g, i), ai = mom * ld(a, i) + gi;
    stv(a, i, ai);
    stv(w, i, ld(w, i) - (nesterov ? lr * (gi + mom * ai) : lr * ai));
  }
}
// TF ApplyAdam with the bias correction folded into lr_t by the caller.
template <class T, class C>
__device__ void adam_impl(i64 n, C lr_t, C b1, C b2, C eps, T* w, T* m, T* v, const T* g) {
  GRID_LOOP(i, n) {
    C gi = ld(g, i);
    C mi = b1 * ld(m, i) + ((C)1 - b1) * gi;
    C vi = b2 * ld(v, i) + ((C)1 - b2) * gi * gi;
    stv(m, i, mi);
    stv(v, i, vi);
    stv(w, i, ld(w, i) - lr_t * mi / (m_sqrt(vi) + eps));
  }
}
// y = (accumulate ? y : 0) + sum of up to 8 same-shape inputs.
template <class T> __device__ void add_n_impl(i64 n, int k, int accumulate, Ptrs p, T* y) {
  typedef typename Acc<T>::t C;
  GRID_LOOP(i, n) {
    C acc = accumulate ? ld(y, i) : (C)0;
    for (int j = 0; j < k; ++j) acc += ld((const T*)p.p[j], i);
    stv(y, i, acc);
  }
}

// ------------------------------------------------------------------ extern "C" names
#define FOR_FLOAT(M) M(f16, half_t) M(f32, float) M(f64, double)
#define FOR_INT(M) M(i32, int) M(i64, i64)
#define FOR_NUM(M) FOR_FLOAT(M) FOR_INT(M)
#define FOR_ALL(M) FOR_NUM(M) M(b8, u8)
#define KERNEL extern "C" __global__ void

#define DEF_EW(s, T)                                                                           \
  KERNEL unary_##s(int op, Meta m, const T* x, T* y) { unary_impl<T>(op, m, x, y); }           \
  KERNEL binary_##s(int op, Meta m, const T* a, const T* b, T* y) { binary_impl<T>(op, m, a, b, y); } \
  KERNEL compare_##s(int op, Meta m, const T* a, const T* b, u8* y) { compare_impl<T>(op, m, a, b, y); } \
  KERNEL where_##s(Meta m, const u8* c, const T* a, const T* b, T* y) { where_impl<T>(m, c, a, b, y); } \
  KERNEL clip_##s(Meta m, const T* x, const T* lo, const T* hi, T* y) { clip_impl<T>(m, x, lo, hi, y); } \
  KERNEL tile_##s(Meta m, const T* x, T* y) { tile_impl<T>(m, x, y); }                         \
  KERNEL fill_##s(i64 n, Acc<T>::t v, T* y) { fill_impl<T>(n, v, y); }                          \
  KERNEL arange_##s(i64 n, Acc<T>::t a, Acc<T>::t d, T* y) { arange_impl<T>(n, a, d, y); }       \
  KERNEL eye_##s(i64 b, i64 r, i64 c, i64 k, T* y) { eye_impl<T>(b, r, c, k, y); }              \
  KERNEL reduce_##s(int op, i64 o, i64 r, i64 in, i64 ch, double sc, const T* x, T* y) {        \
    reduce_impl<T>(op, o, r, in, ch, sc, x, y);                                                \
  }                                                                                            \
  KERNEL arg_##s(int mx, i64 o, i64 r, i64 in, const T* x, i64* y) { arg_impl<T>(mx, o, r, in, x, y); } \
  KERNEL gather_##s##_i32(i64 o, i64 N, i64 in, i64 K, int wr, const int* ix, const T* p, T* y, int* e) { \
    gather_impl<T, int>(o, N, in, K, wr, ix, p, y, e);                                         \
  }                                                                                            \
  KERNEL gather_##s##_i64(i64 o, i64 N, i64 in, i64 K, int wr, const i64* ix, const T* p, T* y, int* e) { \
    gather_impl<T, i64>(o, N, in, K, wr, ix, p, y, e);                                         \
  }                                                                                            \
  KERNEL one_hot_##s##_i32(i64 n, i64 d, const int* ix, Acc<T>::t on, Acc<T>::t off, T* y) {  \
    one_hot_impl<T>(n, d, ix, on, off, y);                                                     \
  }                                                                                            \
  KERNEL one_hot_##s##_i64(i64 n, i64 d, const i64* ix, Acc<T>::t on, Acc<T>::t off, T* y) {  \
    one_hot_impl<T>(n, d, ix, on, off, y);                                                     \
  }
FOR_ALL(DEF_EW)

#define DEF_NUM(s, T)                                                                          \
  KERNEL add_n_##s(i64 n, int k, int acc, Ptrs p, T* y) { add_n_impl<T>(n, k, acc, p, y); }    \
  KERNEL matmul_##s(i64 bt, i64 M, i64 N, i64 K, const T* a, i64 sab, i64 sam, i64 sak,         \
                    const T* b, i64 sbb, i64 sbk, i64 sbn, T* c) {                              \
    matmul_impl<T>(bt, M, N, K, a, sab, sam, sak, b, sbb, sbk, sbn, c);                       \
  }                                                                                            \
  KERNEL im2col_##s(ConvMeta p, const T* x, T* c) { im2col_impl<T>(p, x, c); }                 \
  KERNEL col2im_##s(ConvMeta p, const T* c, T* dx) { col2im_impl<T>(p, c, dx); }               \
  KERNEL pool_fwd_##s(ConvMeta p, int avg, const T* x, T* y) { pool_fwd_impl<T>(p, avg, x, y); } \
  KERNEL pool_bwd_##s(ConvMeta p, int avg, const T* x, const T* g, T* dx) {                   \
    pool_bwd_impl<T>(p, avg, x, g, dx);                                                        \
  }                                                                                            \
  KERNEL pool_select_##s(ConvMeta p, const T* x, const T* h, T* y) { pool_select_impl<T>(p, x, h, y); }
FOR_NUM(DEF_NUM)

#define DEF_FLOAT(s, T)                                                                        \
  KERNEL pred_##s(int op, Meta m, const T* x, u8* y) { pred_impl<T>(op, m, x, y); }            \
  KERNEL softmax_##s(i64 rows, i64 D, int lg, const T* x, T* y) { softmax_impl<T>(rows, D, lg, x, y); } \
  KERNEL random_##s(int dist, i64 n, u64 seed, u64 off, Acc<T>::t a, Acc<T>::t b, T* y) {      \
    random_impl<T>(dist, n, seed, off, a, b, y);                                               \
  }                                                                                            \
  KERNEL sgd_##s(i64 n, Acc<T>::t lr, T* w, const T* g) { sgd_impl<T>(n, lr, w, g); }          \
  KERNEL momentum_##s(i64 n, Acc<T>::t lr, Acc<T>::t mo, int nes, T* w, T* a, const T* g) {    \
    momentum_impl<T>(n, lr, mo, nes, w, a, g);                                                 \
  }                                                                                            \
  KERNEL adam_##s(i64 n, Acc<T>::t lr, Acc<T>::t b1, Acc<T>::t b2, Acc<T>::t eps, T* w, T* m,  \
                  T* v, const T* g) {                                                          \
    adam_impl<T>(n, lr, b1, b2, eps, w, m, v, g);                                              \
  }
FOR_FLOAT(DEF_FLOAT)

#define DEF_ATOMIC(s, T)                                                                       \
  KERNEL gather_grad_##s##_i32(i64 o, i64 N, i64 in, i64 K, int wr, const int* ix, const T* g, T* y) { \
    gather_grad_impl<T, int>(o, N, in, K, wr, ix, g, y);                                       \
  }                                                                                            \
  KERNEL gather_grad_##s##_i64(i64 o, i64 N, i64 in, i64 K, int wr, const i64* ix, const T* g, T* y) { \
    gather_grad_impl<T, i64>(o, N, in, K, wr, ix, g, y);                                       \
  }
DEF_ATOMIC(f32, float)
DEF_ATOMIC(f64, double)
DEF_ATOMIC(i32, int)
DEF_ATOMIC(i64, i64)

#define DEF_RANDINT(s, T)                                                                      \
  KERNEL randint_##s(i64 n, u64 seed, u64 off, i64 lo, i64 hi, T* y) {                         \
    randint_impl<T>(n, seed, off, lo, hi, y);                                                  \
  }
FOR_INT(DEF_RANDINT)

#define CAST_TO(si, Ti, so, To) \
  KERNEL cast_##si##_##so(Meta m, const Ti* x, To* y) { cast_impl<Ti, To>(m, x, y); }
#define CAST_FROM(si, Ti)                                                                      \
  CAST_TO(si, Ti, f16, half_t) CAST_TO(si, Ti, f32, float) CAST_TO(si, Ti, f64, double)       \
  CAST_TO(si, Ti, i32, int) CAST_TO(si, Ti, i64, i64) CAST_TO(si, Ti, b8, u8)
FOR_ALL(CAST_FROM)
