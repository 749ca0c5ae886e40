/* The per-row arithmetic of the fused recurrences (_kernels_rnn.pxi): one batch row of
 * one time step, float and double.
 *
 * Why C: these loops read and write up to eight rows at once.  Written in Cython, GCC
 * could not prove the rows disjoint and would need more runtime alias checks than it
 * emits, so the loops stayed scalar (callgrind: ~10M instructions per LSTM(128) training
 * step at batch 64, more than the tanh of every gate).  Here the rows are `restrict`
 * (the caller's buffers never overlap) and each loop vectorises.  Every element is
 * computed by the same code whatever the thread split (rows are never divided), so the
 * results do not depend on the thread count.
 *
 * Gate layouts (H units each): LSTM a = [i, f, g, o], GRU a = [z, r, candidate].
 * tanh itself is NumPy's SIMD loop, called by the .pxi between these passes; the
 * logistic gates are 0.5 tanh(x / 2) + 0.5.
 */
#ifndef TG_RNN_ROWS_H
#define TG_RNN_ROWS_H

#include <stddef.h>

#define TG_R __restrict

#define TG_RNN_ROWS(T, S)                                                              \
/* LSTM, before the tanh: halve the three logistic gates' inputs */                    \
static inline void tg_lstm_pre_##S(T* TG_R a, ptrdiff_t H) {                           \
    ptrdiff_t k;                                                                       \
    for (k = 0; k < 2 * H; k++) a[k] = a[k] * (T)0.5;                                  \
    for (k = 3 * H; k < 4 * H; k++) a[k] = a[k] * (T)0.5;                              \
}                                                                                      \
/* LSTM, after it: the logistic gates, then c = f c_prev + i g */                      \
static inline void tg_lstm_cell_##S(T* TG_R a, const T* TG_R cp, T* TG_R cn,           \
                                    ptrdiff_t H) {                                     \
    ptrdiff_t k;                                                                       \
    for (k = 0; k < 2 * H; k++) a[k] = a[k] * (T)0.5 + (T)0.5;                         \
    for (k = 3 * H; k < 4 * H; k++) a[k] = a[k] * (T)0.5 + (T)0.5;                     \
    for (k = 0; k < H; k++) cn[k] = a[H + k] * cp[k] + a[k] * a[2 * H + k];            \
}                                                                                      \
/* h = o tanh(c) */                                                                    \
static inline void tg_lstm_out_##S(const T* TG_R a, const T* TG_R tc, T* TG_R hn,      \
                                   ptrdiff_t H) {                                      \
    ptrdiff_t k;                                                                       \
    for (k = 0; k < H; k++) hn[k] = a[3 * H + k] * tc[k];                              \
}                                                                                      \
/* GRU: z and r inputs (halved for the logistic); brec may be NULL (reset before) */    \
static inline void tg_gru_zr_##S(T* TG_R a, const T* TG_R x, const T* TG_R rec,        \
                                 const T* TG_R brec, ptrdiff_t H) {                    \
    ptrdiff_t k;                                                                       \
    if (brec)                                                                          \
        for (k = 0; k < 2 * H; k++) a[k] = (x[k] + (rec[k] + brec[k])) * (T)0.5;       \
    else                                                                               \
        for (k = 0; k < 2 * H; k++) a[k] = (x[k] + rec[k]) * (T)0.5;                   \
}                                                                                      \
static inline void tg_logistic_##S(T* TG_R a, ptrdiff_t n) {                           \
    ptrdiff_t k;                                                                       \
    for (k = 0; k < n; k++) a[k] = a[k] * (T)0.5 + (T)0.5;                             \
}                                                                                      \
/* GRU (reset after): keep = h U_h + b_h, candidate input x_h + r keep */              \
static inline void tg_gru_cand_##S(T* TG_R a, const T* TG_R x, const T* TG_R rec,      \
                                   const T* TG_R brec, T* TG_R keep, ptrdiff_t H) {    \
    ptrdiff_t k;                                                                       \
    for (k = 0; k < H; k++) {                                                          \
        keep[k] = rec[2 * H + k] + brec[2 * H + k];                                    \
        a[2 * H + k] = x[2 * H + k] + a[H + k] * keep[k];                              \
    }                                                                                  \
}                                                                                      \
/* GRU (reset before): keep = r h */                                                   \
static inline void tg_gru_rh_##S(const T* TG_R a, const T* TG_R hp, T* TG_R keep,      \
                                 ptrdiff_t H) {                                        \
    ptrdiff_t k;                                                                       \
    for (k = 0; k < H; k++) keep[k] = a[H + k] * hp[k];                                \
}                                                                                      \
/* GRU (reset before): the candidate input x_h + (r h) U_h */                          \
static inline void tg_gru_cand_before_##S(T* TG_R a, const T* TG_R x,                  \
                                          const T* TG_R rec, ptrdiff_t H) {            \
    ptrdiff_t k;                                                                       \
    for (k = 0; k < H; k++) a[2 * H + k] = x[2 * H + k] + rec[2 * H + k];              \
}                                                                                      \
/* GRU: h = z h_prev + (1 - z) candidate */                                            \
static inline void tg_gru_out_##S(const T* TG_R a, const T* TG_R hp, T* TG_R hn,       \
                                  ptrdiff_t H) {                                       \
    ptrdiff_t k;                                                                       \
    for (k = 0; k < H; k++) {                                                          \
        T z = a[k];                                                                    \
        hn[k] = z * hp[k] + ((T)1 - z) * a[2 * H + k];                                 \
    }                                                                                  \
}                                                                                      \
/* backward, SimpleRNN: dz = (d + dh_next) (1 - h^2) */                                \
static inline void tg_simple_bwd_##S(const T* TG_R d, const T* TG_R dhn,               \
                                     const T* TG_R hn, T* TG_R dz, ptrdiff_t H) {      \
    ptrdiff_t k;                                                                       \
    for (k = 0; k < H; k++) dz[k] = (d[k] + dhn[k]) * ((T)1 - hn[k] * hn[k]);          \
}                                                                                      \
/* backward, LSTM: the four pre-activation gradients; dc_next = dc f, in place */      \
static inline void tg_lstm_bwd_##S(const T* TG_R a, const T* TG_R d,                   \
                                   const T* TG_R dhn, const T* TG_R cp,                \
                                   const T* TG_R tc, T* TG_R dcn, T* TG_R dz,          \
                                   ptrdiff_t H) {                                      \
    ptrdiff_t k;                                                                       \
    for (k = 0; k < H; k++) {                                                          \
        T i = a[k], f = a[H + k], g = a[2 * H + k], o = a[3 * H + k], t = tc[k];       \
        T dh = d[k] + dhn[k];                                                          \
        T dc = dh * o * ((T)1 - t * t) + dcn[k];                                       \
        dz[k] = dc * g * (i * ((T)1 - i));                                             \
        dz[H + k] = dc * cp[k] * (f * ((T)1 - f));                                     \
        dz[2 * H + k] = dc * i * ((T)1 - g * g);                                       \
        dz[3 * H + k] = dh * t * (o * ((T)1 - o));                                     \
        dcn[k] = dc * f;                                                               \
    }                                                                                  \
}                                                                                      \
/* backward, GRU (reset after): dz for the inputs, drec for h U + b_rec; the direct   \
   path dh z goes to dh_next (the product through U is added onto it) */               \
static inline void tg_gru_bwd_##S(const T* TG_R a, const T* TG_R d, T* TG_R dhn,       \
                                  const T* TG_R hp, const T* TG_R keep, T* TG_R dz,    \
                                  T* TG_R drec, ptrdiff_t H) {                         \
    ptrdiff_t k;                                                                       \
    for (k = 0; k < H; k++) {                                                          \
        T z = a[k], r = a[H + k], hh = a[2 * H + k];                                   \
        T dh = d[k] + dhn[k];                                                          \
        T dzp = dh * (hp[k] - hh) * (z * ((T)1 - z));                                  \
        T dhhp = dh * ((T)1 - z) * ((T)1 - hh * hh);                                   \
        T drp = dhhp * keep[k] * (r * ((T)1 - r));                                     \
        dz[k] = dzp;                                                                   \
        dz[H + k] = drp;                                                               \
        dz[2 * H + k] = dhhp;                                                          \
        drec[k] = dzp;                                                                 \
        drec[H + k] = drp;                                                             \
        drec[2 * H + k] = dhhp * r;                                                    \
        dhn[k] = dh * z;                                                               \
    }                                                                                  \
}                                                                                      \
/* backward, GRU (reset before), first pass: dz_z, dz_h; dh_next = dh z */             \
static inline void tg_gru_before_bwd0_##S(const T* TG_R a, const T* TG_R d,            \
                                          T* TG_R dhn, const T* TG_R hp, T* TG_R dz,   \
                                          ptrdiff_t H) {                               \
    ptrdiff_t k;                                                                       \
    for (k = 0; k < H; k++) {                                                          \
        T z = a[k], hh = a[2 * H + k];                                                 \
        T dh = d[k] + dhn[k];                                                          \
        dz[k] = dh * (hp[k] - hh) * (z * ((T)1 - z));                                  \
        dz[2 * H + k] = dh * ((T)1 - z) * ((T)1 - hh * hh);                            \
        dhn[k] = dh * z;                                                               \
    }                                                                                  \
}                                                                                      \
/* second pass, from drh = d(r h) = dz_h U_h^T: dz_r, and dh_next += drh r */          \
static inline void tg_gru_before_bwd1_##S(const T* TG_R a, const T* TG_R drh,          \
                                          const T* TG_R hp, T* TG_R dhn, T* TG_R dz,   \
                                          ptrdiff_t H) {                               \
    ptrdiff_t k;                                                                       \
    for (k = 0; k < H; k++) {                                                          \
        T r = a[H + k];                                                                \
        dz[H + k] = drh[k] * hp[k] * (r * ((T)1 - r));                                 \
        dhn[k] = dhn[k] + drh[k] * r;                                                  \
    }                                                                                  \
}

TG_RNN_ROWS(float, f)
TG_RNN_ROWS(double, d)

#undef TG_RNN_ROWS

#endif
