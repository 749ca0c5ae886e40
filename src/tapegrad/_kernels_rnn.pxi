# Included by _kernels.pyx: the recurrences of the fused recurrent layers (LSTM, GRU in
# both of its forms, SimpleRNN with tanh) and their backward passes through time, each
# one nogil loop over the time steps (layers/_rnn_fused.py calls them).
#
# Why C: a step of LSTM(128) at batch 64 is one 64x128x512 product and ~12 elementwise
# passes over 64x512 floats; from Python each pass is a ufunc call of a few
# microseconds, so 28 steps forward and back spent more time dispatching than
# computing.  Here a step is one GEMM (beta = 1 adds it to the projected input already
# in place) and one pass over the batch rows (_rnn_rows.h).  The batch is split over the
# pool once per pass: each part runs the whole time loop for its rows (see
# _rnn_fwd_part).  tanh is NumPy's own SIMD loop (as in the softmax kernel), and the
# logistic is 0.5 tanh(x / 2) + 0.5, which cannot overflow.
#
# The caller allocates every buffer (C-contiguous, one float dtype; the wrappers check
# shapes and dtypes) and keeps the saved activations for the backward pass; buffers must
# not overlap (the row passes of _rnn_rows.h read them as `restrict`).  The weight
# gradients (one GEMM over all steps) and the bias sums are the caller's too.

cdef enum:
    RNN_SIMPLE = 0        # h = tanh(x + h U)
    RNN_LSTM = 1          # gates i, f, g, o
    RNN_GRU = 2           # reset_after=True: gates z, r, h; r scales (h U_h + b_h)
    RNN_GRU_BEFORE = 3    # reset_after=False: r scales h before U_h


cdef struct RnnJob:
    int kind
    bint single
    int phase             # GRU_BEFORE runs two row passes per step (0, 1)
    Loop tanh
    Py_ssize_t B, H, W    # batch, units, gate width (gates * units)
    # the step's rows (set by the driver before each pass)
    char* x               # projected input of the step (B, W)
    char* a               # the step's gates after activation (B, W)
    char* rec             # GRU: h U (B, 3H); the product's output buffer
    char* brec            # GRU: recurrent bias (3H)
    char* keep            # GRU: per-step saved (B, H): h U_h + b_h, or r * h (BEFORE)
    char* hp              # previous h (B, H)
    char* hn              # new h (B, H)
    char* cp              # LSTM: previous c
    char* cn              # LSTM: new c
    char* tc              # LSTM: tanh(new c)
    # backward
    char* d               # gradient of the step's output h (B, H)
    char* dh              # running dh_next (B, H): read, then the carried part written
    char* dc              # LSTM: running dc_next (B, H)
    char* dz              # gradient of the step's pre-activations (B, W)
    char* drec            # GRU: gradient of the step's h U + b (B, 3H)
    char* tmp             # GRU_BEFORE: d(r * h) (B, H)
    # the whole pass: sizes, flags and the buffers' starts (each part offsets its rows)
    Py_ssize_t T, s       # steps, itemsize
    bint zero             # forward: zero initial states (step 0's products skipped)
    bint want             # backward: the initial states' gradients are wanted
    char* X
    char* U
    char* HS
    char* ACTS
    char* CS
    char* KEEP
    char* BIN
    char* XB
    char* D
    char* DZ
    char* DR


cdef inline void _tanh_run(RnnJob* j, char* src, char* dst, Py_ssize_t n,
                           Py_ssize_t itemsize) noexcept nogil:
    cdef char* args[2]
    cdef cnp.npy_intp dims[1]
    cdef cnp.npy_intp steps[2]
    args[0] = src
    args[1] = dst
    dims[0] = n
    steps[0] = itemsize
    steps[1] = itemsize
    j.tanh.fn(args, dims, steps, j.tanh.data)


cdef extern from "_rnn_rows.h" nogil:
    # the per-row arithmetic (restrict rows, so GCC vectorises it): see the header
    void tg_lstm_pre_f(float* a, ptrdiff_t H)
    void tg_lstm_cell_f(float* a, const float* cp, float* cn, ptrdiff_t H)
    void tg_lstm_out_f(const float* a, const float* tc, float* hn, ptrdiff_t H)
    void tg_gru_zr_f(float* a, const float* x, const float* rec, const float* brec, ptrdiff_t H)
    void tg_logistic_f(float* a, ptrdiff_t n)
    void tg_gru_cand_f(float* a, const float* x, const float* rec, const float* brec, float* keep, ptrdiff_t H)
    void tg_gru_rh_f(const float* a, const float* hp, float* keep, ptrdiff_t H)
    void tg_gru_cand_before_f(float* a, const float* x, const float* rec, ptrdiff_t H)
    void tg_gru_out_f(const float* a, const float* hp, float* hn, ptrdiff_t H)
    void tg_simple_bwd_f(const float* d, const float* dhn, const float* hn, float* dz, ptrdiff_t H)
    void tg_lstm_bwd_f(const float* a, const float* d, const float* dhn, const float* cp, const float* tc, float* dcn, float* dz, ptrdiff_t H)
    void tg_gru_bwd_f(const float* a, const float* d, float* dhn, const float* hp, const float* keep, float* dz, float* drec, ptrdiff_t H)
    void tg_gru_before_bwd0_f(const float* a, const float* d, float* dhn, const float* hp, float* dz, ptrdiff_t H)
    void tg_gru_before_bwd1_f(const float* a, const float* drh, const float* hp, float* dhn, float* dz, ptrdiff_t H)
    void tg_lstm_pre_d(double* a, ptrdiff_t H)
    void tg_lstm_cell_d(double* a, const double* cp, double* cn, ptrdiff_t H)
    void tg_lstm_out_d(const double* a, const double* tc, double* hn, ptrdiff_t H)
    void tg_gru_zr_d(double* a, const double* x, const double* rec, const double* brec, ptrdiff_t H)
    void tg_logistic_d(double* a, ptrdiff_t n)
    void tg_gru_cand_d(double* a, const double* x, const double* rec, const double* brec, double* keep, ptrdiff_t H)
    void tg_gru_rh_d(const double* a, const double* hp, double* keep, ptrdiff_t H)
    void tg_gru_cand_before_d(double* a, const double* x, const double* rec, ptrdiff_t H)
    void tg_gru_out_d(const double* a, const double* hp, double* hn, ptrdiff_t H)
    void tg_simple_bwd_d(const double* d, const double* dhn, const double* hn, double* dz, ptrdiff_t H)
    void tg_lstm_bwd_d(const double* a, const double* d, const double* dhn, const double* cp, const double* tc, double* dcn, double* dz, ptrdiff_t H)
    void tg_gru_bwd_d(const double* a, const double* d, double* dhn, const double* hp, const double* keep, double* dz, double* drec, ptrdiff_t H)
    void tg_gru_before_bwd0_d(const double* a, const double* d, double* dhn, const double* hp, double* dz, ptrdiff_t H)
    void tg_gru_before_bwd1_d(const double* a, const double* drh, const double* hp, double* dhn, double* dz, ptrdiff_t H)


cdef void _rnn_fwd_rows_f(RnnJob* j, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t b, H = j.H, W = j.W, s = sizeof(float)
    cdef float* a
    cdef float* hp
    cdef float* hn
    for b in range(lo, hi):
        a = <float*>j.a + b * W
        hp = <float*>j.hp + b * H
        hn = <float*>j.hn + b * H
        if j.kind == RNN_SIMPLE:
            # a holds x + b + h U; the new h is its tanh
            _tanh_run(j, <char*>a, <char*>hn, H, s)
        elif j.kind == RNN_LSTM:
            # halve the three logistic gates, one tanh over the row, then 0.5 t + 0.5
            # on those (the candidate keeps its plain tanh), the cell and h
            tg_lstm_pre_f(a, H)
            _tanh_run(j, <char*>a, <char*>a, W, s)
            tg_lstm_cell_f(a, <float*>j.cp + b * H, <float*>j.cn + b * H, H)
            _tanh_run(j, <char*>(<float*>j.cn + b * H), <char*>(<float*>j.tc + b * H), H, s)
            tg_lstm_out_f(a, <float*>j.tc + b * H, hn, H)
        elif j.kind == RNN_GRU:
            tg_gru_zr_f(a, <float*>j.x + b * W, <float*>j.rec + b * W, <float*>j.brec, H)
            _tanh_run(j, <char*>a, <char*>a, 2 * H, s)
            tg_logistic_f(a, 2 * H)
            tg_gru_cand_f(a, <float*>j.x + b * W, <float*>j.rec + b * W, <float*>j.brec,
                          <float*>j.keep + b * H, H)
            _tanh_run(j, <char*>(a + 2 * H), <char*>(a + 2 * H), H, s)
            tg_gru_out_f(a, hp, hn, H)
        elif j.phase == 0:
            # GRU_BEFORE, first pass: z and r from x + h U_zr; keep r * h for U_h
            tg_gru_zr_f(a, <float*>j.x + b * W, <float*>j.rec + b * W, NULL, H)
            _tanh_run(j, <char*>a, <char*>a, 2 * H, s)
            tg_logistic_f(a, 2 * H)
            tg_gru_rh_f(a, hp, <float*>j.keep + b * H, H)
        else:
            # second pass: the candidate from x_h + (r * h) U_h, then the new h
            tg_gru_cand_before_f(a, <float*>j.x + b * W, <float*>j.rec + b * W, H)
            _tanh_run(j, <char*>(a + 2 * H), <char*>(a + 2 * H), H, s)
            tg_gru_out_f(a, hp, hn, H)


cdef void _rnn_bwd_rows_f(RnnJob* j, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    # one step of the backward pass for rows lo..hi; dh = d + dh_next throughout
    cdef Py_ssize_t b, H = j.H, W = j.W
    cdef float* a
    cdef float* d
    cdef float* dhn
    cdef float* dz
    cdef float* hp
    for b in range(lo, hi):
        a = <float*>j.a + b * W
        d = <float*>j.d + b * H
        dhn = <float*>j.dh + b * H
        dz = <float*>j.dz + b * W
        hp = <float*>j.hp + b * H
        if j.kind == RNN_SIMPLE:
            tg_simple_bwd_f(d, dhn, <float*>j.hn + b * H, dz, H)
        elif j.kind == RNN_LSTM:
            tg_lstm_bwd_f(a, d, dhn, <float*>j.cp + b * H, <float*>j.tc + b * H,
                          <float*>j.dc + b * H, dz, H)
        elif j.kind == RNN_GRU:
            tg_gru_bwd_f(a, d, dhn, hp, <float*>j.keep + b * H, dz, <float*>j.drec + b * W,
                         H)
        elif j.phase == 0:
            tg_gru_before_bwd0_f(a, d, dhn, hp, dz, H)
        else:
            # tmp holds d(r * h) = dz_h U_h^T
            tg_gru_before_bwd1_f(a, <float*>j.tmp + b * H, hp, dhn, dz, H)


cdef void _rnn_fwd_rows_d(RnnJob* j, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t b, H = j.H, W = j.W, s = sizeof(double)
    cdef double* a
    cdef double* hp
    cdef double* hn
    for b in range(lo, hi):
        a = <double*>j.a + b * W
        hp = <double*>j.hp + b * H
        hn = <double*>j.hn + b * H
        if j.kind == RNN_SIMPLE:
            # a holds x + b + h U; the new h is its tanh
            _tanh_run(j, <char*>a, <char*>hn, H, s)
        elif j.kind == RNN_LSTM:
            # halve the three logistic gates, one tanh over the row, then 0.5 t + 0.5
            # on those (the candidate keeps its plain tanh), the cell and h
            tg_lstm_pre_d(a, H)
            _tanh_run(j, <char*>a, <char*>a, W, s)
            tg_lstm_cell_d(a, <double*>j.cp + b * H, <double*>j.cn + b * H, H)
            _tanh_run(j, <char*>(<double*>j.cn + b * H), <char*>(<double*>j.tc + b * H), H, s)
            tg_lstm_out_d(a, <double*>j.tc + b * H, hn, H)
        elif j.kind == RNN_GRU:
            tg_gru_zr_d(a, <double*>j.x + b * W, <double*>j.rec + b * W, <double*>j.brec, H)
            _tanh_run(j, <char*>a, <char*>a, 2 * H, s)
            tg_logistic_d(a, 2 * H)
            tg_gru_cand_d(a, <double*>j.x + b * W, <double*>j.rec + b * W, <double*>j.brec,
                          <double*>j.keep + b * H, H)
            _tanh_run(j, <char*>(a + 2 * H), <char*>(a + 2 * H), H, s)
            tg_gru_out_d(a, hp, hn, H)
        elif j.phase == 0:
            # GRU_BEFORE, first pass: z and r from x + h U_zr; keep r * h for U_h
            tg_gru_zr_d(a, <double*>j.x + b * W, <double*>j.rec + b * W, NULL, H)
            _tanh_run(j, <char*>a, <char*>a, 2 * H, s)
            tg_logistic_d(a, 2 * H)
            tg_gru_rh_d(a, hp, <double*>j.keep + b * H, H)
        else:
            # second pass: the candidate from x_h + (r * h) U_h, then the new h
            tg_gru_cand_before_d(a, <double*>j.x + b * W, <double*>j.rec + b * W, H)
            _tanh_run(j, <char*>(a + 2 * H), <char*>(a + 2 * H), H, s)
            tg_gru_out_d(a, hp, hn, H)


cdef void _rnn_bwd_rows_d(RnnJob* j, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    # one step of the backward pass for rows lo..hi; dh = d + dh_next throughout
    cdef Py_ssize_t b, H = j.H, W = j.W
    cdef double* a
    cdef double* d
    cdef double* dhn
    cdef double* dz
    cdef double* hp
    for b in range(lo, hi):
        a = <double*>j.a + b * W
        d = <double*>j.d + b * H
        dhn = <double*>j.dh + b * H
        dz = <double*>j.dz + b * W
        hp = <double*>j.hp + b * H
        if j.kind == RNN_SIMPLE:
            tg_simple_bwd_d(d, dhn, <double*>j.hn + b * H, dz, H)
        elif j.kind == RNN_LSTM:
            tg_lstm_bwd_d(a, d, dhn, <double*>j.cp + b * H, <double*>j.tc + b * H,
                          <double*>j.dc + b * H, dz, H)
        elif j.kind == RNN_GRU:
            tg_gru_bwd_d(a, d, dhn, hp, <double*>j.keep + b * H, dz, <double*>j.drec + b * W,
                         H)
        elif j.phase == 0:
            tg_gru_before_bwd0_d(a, d, dhn, hp, dz, H)
        else:
            # tmp holds d(r * h) = dz_h U_h^T
            tg_gru_before_bwd1_d(a, <double*>j.tmp + b * H, hp, dhn, dz, H)


cdef void _load_rows(floating* dst, floating* x, floating* bias, Py_ssize_t B,
                     Py_ssize_t W) noexcept nogil:
    # dst = x + bias (per row), or a copy of x without a bias: the projected input with
    # its bias, added here rather than as a separate (T, B, W) op before the call
    cdef Py_ssize_t b, k
    cdef floating* d
    cdef floating* r
    if bias == NULL:
        memcpy(dst, x, B * W * sizeof(floating))
        return
    for b in range(B):
        d = dst + b * W
        r = x + b * W
        for k in range(W):
            d[k] = r[k] + bias[k]


cdef inline void _load(bint single, char* dst, char* x, char* bias, Py_ssize_t B,
                       Py_ssize_t W) noexcept nogil:
    if single:
        _load_rows[float](<float*>dst, <float*>x, <float*>bias, B, W)
    else:
        _load_rows[double](<double*>dst, <double*>x, <double*>bias, B, W)


cdef inline void _rnn_gemm(bint single, Py_ssize_t M, Py_ssize_t N, Py_ssize_t K, char* A,
                           Py_ssize_t lda, char* B, Py_ssize_t ldb, bint tb, double beta,
                           char* C, Py_ssize_t ldc) noexcept nogil:
    # C = A op(B) + beta C, one single-threaded BLAS call (the caller holds the pin)
    _gemm_call(single, 0, tb, M, N, K, A, lda, B, ldb, beta, C, ldc)


cdef inline void _fwd_rows(RnnJob* j, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    if j.single:
        _rnn_fwd_rows_f(j, lo, hi)
    else:
        _rnn_fwd_rows_d(j, lo, hi)


cdef inline void _bwd_rows(RnnJob* j, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    if j.single:
        _rnn_bwd_rows_f(j, lo, hi)
    else:
        _rnn_bwd_rows_d(j, lo, hi)


# The batch rows of a recurrence are independent of each other (row b of h_t needs row
# b of h_{t-1} only, and the same holds backwards), so each part of the pool runs the
# whole time loop for its own rows: one wake-up per pass instead of two or three per
# time step, and no step waits for another thread.  A part's products are ordinary
# single-threaded BLAS calls on its rows.

cdef void _rnn_fwd_part(void* ctx, int part, int parts) noexcept nogil:
    cdef RnnJob j = (<RnnJob*>ctx)[0]       # a private copy: the step pointers are ours
    cdef ptrdiff_t lo, hi
    tg_split(j.B, part, parts, 4, &lo, &hi)
    if lo >= hi:
        return
    cdef Py_ssize_t m = hi - lo, s = j.s, H = j.H, W = j.W, B = j.B, step
    cdef Py_ssize_t bh = B * H, bw = B * W, oh = lo * H * s, ow = lo * W * s
    cdef bint skip
    cdef char* U = j.U
    for step in range(j.T):
        skip = j.zero and step == 0          # zero states: every product is zero
        j.hp = j.HS + step * bh * s
        j.hn = j.HS + (step + 1) * bh * s
        if j.kind == RNN_SIMPLE:
            # h_t = tanh(x + b + h U): the product added onto x + b where h goes
            _load(j.single, j.hn + oh, j.X + step * bw * s + ow, j.BIN, m, W)
            if not skip:
                _rnn_gemm(j.single, m, H, H, j.hp + oh, H, U, H, 0, 1.0, j.hn + oh, H)
            j.a = j.hn
            _fwd_rows(&j, lo, hi)
            continue
        j.a = j.ACTS + step * bw * s
        j.keep = j.KEEP + step * bh * s
        if j.kind == RNN_LSTM:
            j.cp = j.CS + step * bh * s
            j.cn = j.CS + (step + 1) * bh * s
            j.tc = j.keep
            _load(j.single, j.a + ow, j.X + step * bw * s + ow, j.BIN, m, W)
            if not skip:
                _rnn_gemm(j.single, m, W, H, j.hp + oh, H, U, W, 0, 1.0, j.a + ow, W)
            _fwd_rows(&j, lo, hi)
            continue
        _load(j.single, j.XB + ow, j.X + step * bw * s + ow, j.BIN, m, W)
        j.x = j.XB
        if skip:
            memset(j.rec + ow, 0, m * W * s)
        if j.kind == RNN_GRU:
            if not skip:
                _rnn_gemm(j.single, m, W, H, j.hp + oh, H, U, W, 0, 0.0, j.rec + ow, W)
            _fwd_rows(&j, lo, hi)
        else:
            if not skip:
                _rnn_gemm(j.single, m, 2 * H, H, j.hp + oh, H, U, W, 0, 0.0, j.rec + ow, W)
            j.phase = 0
            _fwd_rows(&j, lo, hi)
            if not skip:
                _rnn_gemm(j.single, m, H, H, j.keep + oh, H, U + 2 * H * s, W, 0, 0.0,
                          j.rec + ow + 2 * H * s, W)
            j.phase = 1
            _fwd_rows(&j, lo, hi)


cdef void _rnn_bwd_part(void* ctx, int part, int parts) noexcept nogil:
    cdef RnnJob j = (<RnnJob*>ctx)[0]
    cdef ptrdiff_t lo, hi
    tg_split(j.B, part, parts, 4, &lo, &hi)
    if lo >= hi:
        return
    cdef Py_ssize_t m = hi - lo, s = j.s, H = j.H, W = j.W, B = j.B, step
    cdef Py_ssize_t bh = B * H, bw = B * W, oh = lo * H * s, ow = lo * W * s
    cdef bint last
    cdef char* U = j.U
    for step in range(j.T - 1, -1, -1):
        last = step == 0 and not j.want      # the initial states' gradients: unwanted
        j.d = j.D + step * bh * s
        j.hp = j.HS + step * bh * s
        j.hn = j.HS + (step + 1) * bh * s
        j.dz = j.DZ + step * bw * s
        if j.kind != RNN_SIMPLE:
            j.a = j.ACTS + step * bw * s
            j.keep = j.KEEP + step * bh * s
        if j.kind == RNN_SIMPLE:
            _bwd_rows(&j, lo, hi)
            # dh_next = dz U^T
            if not last:
                _rnn_gemm(j.single, m, H, H, j.dz + oh, H, U, H, 1, 0.0, j.dh + oh, H)
        elif j.kind == RNN_LSTM:
            j.cp = j.CS + step * bh * s
            j.tc = j.keep
            _bwd_rows(&j, lo, hi)
            if not last:
                _rnn_gemm(j.single, m, H, W, j.dz + ow, W, U, W, 1, 0.0, j.dh + oh, H)
        elif j.kind == RNN_GRU:
            j.drec = j.DR + step * bw * s
            _bwd_rows(&j, lo, hi)
            # dh_next = dh z (written by the rows) + drec U^T
            if not last:
                _rnn_gemm(j.single, m, H, W, j.drec + ow, W, U, W, 1, 1.0, j.dh + oh, H)
        else:
            j.phase = 0
            _bwd_rows(&j, lo, hi)
            # d(r * h) = dz_h U_h^T
            _rnn_gemm(j.single, m, H, H, j.dz + ow + 2 * H * s, W, U + 2 * H * s, W, 1,
                      0.0, j.tmp + oh, H)
            j.phase = 1
            _bwd_rows(&j, lo, hi)
            # dh_next += dz_zr U_zr^T
            if not last:
                _rnn_gemm(j.single, m, H, 2 * H, j.dz + ow, W, U, W, 1, 1.0, j.dh + oh, H)


cdef int _rnn_parts(RnnJob* j) noexcept nogil:
    # parts of the batch: each part's per-step product should hold ~2^17 multiply-adds
    # (below that a wake-up costs more than the split saves)
    cdef Py_ssize_t rows = (1 << 17) // (j.W * j.H) + 1
    return _parts(j.B, rows if rows > 4 else 4)


cdef int _gates(int kind) noexcept:
    return 1 if kind == RNN_SIMPLE else (4 if kind == RNN_LSTM else 3)


cdef cnp.ndarray _rnn_arr(object x, str fn, str arg, int typenum, tuple shape):
    # a C-contiguous, aligned, native array of the given dtype and shape, or an error
    # naming the kernel, the argument and what it got
    cdef cnp.ndarray X = _nd(x, fn, arg)
    if cnp.PyArray_TYPE(X) != typenum or not cnp.PyArray_IS_C_CONTIGUOUS(X) or \
            not cnp.PyArray_ISALIGNED(X) or not cnp.PyArray_ISNOTSWAPPED(X):
        raise TypeError(f"{fn}: {arg} must be a C-contiguous native array of dtype "
                        f"{'float32' if typenum == cnp.NPY_FLOAT else 'float64'}, got {(<object>X).dtype} with strides {(<object>X).strides}")
    if _shp(X) != shape:
        raise ValueError(f"{fn}: {arg} must have shape {shape}, got {_shp(X)}")
    return X


cdef int _rnn_setup(RnnJob* j, str fn, int kind, object xp, object u) except -1:
    # kind, dtype, sizes and tanh loop from the projected inputs (T, B, W) and U (H, W)
    cdef cnp.ndarray X = _nd(xp, fn, "xp"), U = _nd(u, fn, "u")
    cdef int t = cnp.PyArray_TYPE(X)
    if t != cnp.NPY_FLOAT and t != cnp.NPY_DOUBLE:
        raise TypeError(f"{fn}: float32 or float64 inputs only, got {(<object>X).dtype}")
    if cnp.PyArray_NDIM(X) != 3 or cnp.PyArray_NDIM(U) != 2:
        raise ValueError(f"{fn}: xp must be (time, batch, width) and u (units, width), got "
                         f"{_shp(X)} and {_shp(U)}")
    j.kind = kind
    j.single = t == cnp.NPY_FLOAT
    j.B = X.shape[1]
    j.H = U.shape[0]
    j.W = U.shape[1]
    if j.W != _gates(kind) * j.H or X.shape[2] != j.W or j.H == 0 or j.B == 0 \
            or X.shape[0] == 0:
        raise ValueError(f"{fn}: u must be (units, {_gates(kind)} * units) and xp "
                         f"(time, batch, that width), got u {_shp(U)} and xp "
                         f"{_shp(X)}")
    _rnn_arr(xp, fn, "xp", t, _shp(X))
    _rnn_arr(u, fn, "u", t, _shp(U))
    if not _get_loop(<cnp.ufunc>np.tanh, t, &j.tanh):
        raise TypeError(f"{fn}: NumPy's tanh has no {(<object>X).dtype} loop")
    j.phase = 0
    j.d = NULL
    return t


cdef inline char* _at(object arr, Py_ssize_t offset_items, Py_ssize_t itemsize):
    return <char*>cnp.PyArray_DATA(<cnp.ndarray>arr) + offset_items * itemsize


def rnn_ready():
    """True when the fused recurrences can run here (their products need the bound
    OpenBLAS, as gemm() does); the recurrent layers loop in tapegrad ops otherwise."""
    return _blas_ready()


def rnn_forward(int kind, object xp, object u, object bias, object brec, object hs,
                object cs, object acts, object keep, bint zero_start=False):
    """Run a recurrence forward over all steps, in place.

    ``kind``: 0 SimpleRNN (tanh), 1 LSTM, 2 GRU (reset_after), 3 GRU (reset before).
    ``xp`` (T, B, W) projected inputs, ``bias`` (W,) the input bias added to them (None
    for none); ``zero_start``: the initial states are zeros (their product is skipped;
    ``hs[0]``/``cs[0]`` must hold zeros still).  ``u`` (H, W); ``hs`` (T + 1, B, H)
    or larger, ``hs[0]`` the initial h, filled with h_0 .. h_{T-1} after it; ``acts``
    (T, B, W) the gates after activation (ignored by SimpleRNN: pass ``hs``).  LSTM:
    ``cs`` (T + 1, B, H) likewise with c, ``keep`` (T, B, H) tanh(c).  GRU: ``brec``
    the recurrent bias (3H) for reset_after (zeros for none), ``keep`` (T, B, H) the
    saved h U_h + b_h (reset_after) or r * h (before).  Unused arguments may be None.
    """
    cdef RnnJob j
    cdef str fn = "rnn_forward"
    if kind < 0 or kind > 3:
        raise ValueError(f"{fn}: kind must be 0..3, got {kind}")
    if not _blas_ready():
        raise RuntimeError(f"{fn}: no bound BLAS (see tapegrad._blas); check rnn_ready()")
    cdef int t = _rnn_setup(&j, fn, kind, xp, u)
    cdef Py_ssize_t T = (<cnp.ndarray>xp).shape[0], B = j.B, H = j.H, W = j.W
    cdef cnp.ndarray HS = _nd(hs, fn, "hs")
    if cnp.PyArray_NDIM(HS) != 3 or HS.shape[0] < T + 1:
        raise ValueError(f"{fn}: hs must be (at least {T + 1}, {B}, {H}), got "
                         f"{_shp(HS)}")
    _rnn_arr(hs, fn, "hs", t, (HS.shape[0], B, H))
    if kind != RNN_SIMPLE:
        _rnn_arr(acts, fn, "acts", t, (T, B, W))
    if kind == RNN_LSTM:
        _rnn_arr(cs, fn, "cs", t, (T + 1, B, H))
    if kind != RNN_SIMPLE:
        _rnn_arr(keep, fn, "keep", t, (T, B, H))
    if kind == RNN_GRU:
        _rnn_arr(brec, fn, "brec", t, (W,))
    if bias is not None:
        _rnn_arr(bias, fn, "bias", t, (W,))
    cdef Py_ssize_t s = cnp.PyArray_ITEMSIZE(<cnp.ndarray>xp)
    j.T = T
    j.s = s
    j.zero = zero_start
    j.X = _at(xp, 0, s)
    j.U = _at(u, 0, s)
    j.HS = _at(hs, 0, s)
    j.ACTS = _at(acts, 0, s) if kind != RNN_SIMPLE else NULL
    j.CS = _at(cs, 0, s) if kind == RNN_LSTM else NULL
    j.KEEP = _at(keep, 0, s) if kind != RNN_SIMPLE else NULL
    cdef cnp.ndarray rec = None, xb = None
    if kind == RNN_GRU or kind == RNN_GRU_BEFORE:
        # h U of the step, and the step's projected input with its bias
        rec = np.empty((B, W), dtype=xp.dtype)
        xb = np.empty((B, W), dtype=xp.dtype)
        j.rec = <char*>cnp.PyArray_DATA(rec)
    j.brec = _at(brec, 0, s) if kind == RNN_GRU else NULL
    j.BIN = _at(bias, 0, s) if bias is not None else NULL
    j.XB = <char*>cnp.PyArray_DATA(xb) if xb is not None else NULL
    _pin()
    with nogil:
        tg_pool_run(_rnn_fwd_part, &j, _rnn_parts(&j))
    _unpin()
    return None


def rnn_backward(int kind, object d, object xp_like, object u, object hs, object cs,
                 object acts, object keep, object dz, object drec, object dh, object dc,
                 bint want_initial=True):
    """The backward pass through time of rnn_forward's recurrence, in place.

    ``d`` (T, B, H): the gradient of every step's h (with the final state's gradient
    already added to the last step); ``xp_like`` any (T, B, W) array of the dtype (its
    shape gives T); ``hs``, ``cs``, ``acts``, ``keep`` as rnn_forward left them.  Out:
    ``dz`` (T, B, W) the gradient of the projected inputs; GRU (reset_after) ``drec``
    (T, B, W) the gradient of h U + b_rec; ``dh`` (B, H), zeros on entry, the gradient
    of the initial h on exit; LSTM ``dc`` (B, H), the final c's gradient on entry, the
    initial c's on exit (``want_initial=False``: nobody needs those two; the last
    step's product through U is skipped and ``dh`` is left partial).  The weight
    gradients are products over all steps of these (the caller's).
    """
    cdef RnnJob j
    cdef str fn = "rnn_backward"
    if kind < 0 or kind > 3:
        raise ValueError(f"{fn}: kind must be 0..3, got {kind}")
    if not _blas_ready():
        raise RuntimeError(f"{fn}: no bound BLAS (see tapegrad._blas); check rnn_ready()")
    cdef int t = _rnn_setup(&j, fn, kind, xp_like, u)
    cdef Py_ssize_t T = (<cnp.ndarray>xp_like).shape[0], B = j.B, H = j.H, W = j.W
    _rnn_arr(d, fn, "d", t, (T, B, H))
    cdef cnp.ndarray HS = _nd(hs, fn, "hs")
    if cnp.PyArray_NDIM(HS) != 3 or HS.shape[0] < T + 1:
        raise ValueError(f"{fn}: hs must be (at least {T + 1}, {B}, {H}), got "
                         f"{_shp(HS)}")
    _rnn_arr(hs, fn, "hs", t, (HS.shape[0], B, H))
    _rnn_arr(dz, fn, "dz", t, (T, B, W))
    _rnn_arr(dh, fn, "dh", t, (B, H))
    if kind != RNN_SIMPLE:
        _rnn_arr(acts, fn, "acts", t, (T, B, W))
        _rnn_arr(keep, fn, "keep", t, (T, B, H))
    if kind == RNN_LSTM:
        _rnn_arr(cs, fn, "cs", t, (T + 1, B, H))
        _rnn_arr(dc, fn, "dc", t, (B, H))
    if kind == RNN_GRU:
        _rnn_arr(drec, fn, "drec", t, (T, B, W))
    cdef Py_ssize_t s = cnp.PyArray_ITEMSIZE(<cnp.ndarray>xp_like)
    j.T = T
    j.s = s
    j.want = want_initial
    j.D = _at(d, 0, s)
    j.U = _at(u, 0, s)
    j.HS = _at(hs, 0, s)
    j.ACTS = _at(acts, 0, s) if kind != RNN_SIMPLE else NULL
    j.CS = _at(cs, 0, s) if kind == RNN_LSTM else NULL
    j.KEEP = _at(keep, 0, s) if kind != RNN_SIMPLE else NULL
    j.DZ = _at(dz, 0, s)
    j.DR = _at(drec, 0, s) if kind == RNN_GRU else NULL
    j.dh = _at(dh, 0, s)
    j.dc = _at(dc, 0, s) if kind == RNN_LSTM else NULL
    cdef cnp.ndarray tmp = None
    if kind == RNN_GRU_BEFORE:
        tmp = np.empty((B, H), dtype=d.dtype)
        j.tmp = <char*>cnp.PyArray_DATA(tmp)
    _pin()
    with nogil:
        tg_pool_run(_rnn_bwd_part, &j, _rnn_parts(&j))
    _unpin()
    return None
