// The AVX-512 VNNI tile of the prompt kernels (gemm.c's int8 rows, gemm_blocks.c's block
// types): 32 packed rows × up to 6 tokens, the packed layout both files make, and the row
// masks of a last, partial panel. Included by those two files only.
#pragma once
#include "internal.h"

#if TL_X86

enum { PANEL = 16, PANELS = 2, ROWS = PANEL * PANELS };
// Per block of 32 and panel, 16 rows' scales (one per half) and minimum: [b][kind][panel][row].
enum { A_LOW = 0, A_HIGH = 1, C_LOW = 2, C_HIGH = 3, KINDS = 4 };

/// Which of a panel pair's 32 rows are real: the first and second 16, for r1 − r of them.
static inline void tl_panel_masks(size_t valid, __mmask16 *mask0, __mmask16 *mask1) {
    *mask0 = valid >= 16 ? 0xffff : (__mmask16)((1u << valid) - 1);
    *mask1 = valid >= 32 ? 0xffff : valid <= 16 ? 0 : (__mmask16)((1u << (valid - 16)) - 1);
}

/// 32 packed rows × N tokens. HALVES: the halves of a block have their own scales (and
/// minimums), and xsum16 holds Σx per 16 values. MINS: the blocks have minimums.
TL_TARGET_AVX512 TL_INLINE void block_tile(const uint8_t *packed, const float *factors, size_t n, const int8_t *x, const float *xs,
                                           const int32_t *xsum, const int32_t *xsum16, int32_t zero, int N, int HALVES, int MINS,
                                           float *y, size_t ystride, __mmask16 mask0, __mmask16 mask1) {
    const size_t blocks = n / 32;
    __m512 acc[PANELS][6];
    for (int p = 0; p < PANELS; p++)
        for (int t = 0; t < N; t++) acc[p][t] = _mm512_setzero_ps();
    for (size_t b = 0; b < blocks; b++) {
        __m512i lo[PANELS][6], hi[PANELS][6];
        for (int t = 0; t < N; t++) {
            const __m512i low = _mm512_set1_epi32(-zero * (HALVES ? xsum16[(size_t)t * 2 * blocks + 2 * b] : xsum[(size_t)t * blocks + b]));
            const __m512i high = _mm512_set1_epi32(HALVES ? -zero * xsum16[(size_t)t * 2 * blocks + 2 * b + 1] : 0);
            for (int p = 0; p < PANELS; p++) (lo[p][t] = low, hi[p][t] = high);
        }
        const uint8_t *pb = packed + b * 8 * PANELS * 64;
        for (int k4 = 0; k4 < 8; k4++) {
            __m512i wv[PANELS];
            for (int p = 0; p < PANELS; p++) wv[p] = _mm512_load_si512(pb + ((size_t)k4 * PANELS + (size_t)p) * 64);
            for (int t = 0; t < N; t++) {
                int32_t four;
                memcpy(&four, x + (size_t)t * n + 32 * b + 4 * (size_t)k4, 4);
                const __m512i xv = _mm512_set1_epi32(four);
                for (int p = 0; p < PANELS; p++) {
                    if (HALVES && k4 >= 4) hi[p][t] = _mm512_dpbusd_epi32(hi[p][t], wv[p], xv);
                    else lo[p][t] = _mm512_dpbusd_epi32(lo[p][t], wv[p], xv);
                }
            }
        }
        const float *f = factors + b * KINDS * PANELS * PANEL;
        for (int t = 0; t < N; t++) {
            const float s = xs[(size_t)t * blocks + b];
            const __m512 xsv = _mm512_set1_ps(s);
            for (int p = 0; p < PANELS; p++) {
                const float *fp = f + (size_t)p * PANEL;
                const __m512 aLow = _mm512_mul_ps(_mm512_load_ps(fp + A_LOW * PANELS * PANEL), xsv);
                acc[p][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(lo[p][t]), aLow, acc[p][t]);
                if (HALVES) {
                    const __m512 aHigh = _mm512_mul_ps(_mm512_load_ps(fp + A_HIGH * PANELS * PANEL), xsv);
                    acc[p][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(hi[p][t]), aHigh, acc[p][t]);
                }
                if (MINS && HALVES) {  // Q2_K: a minimum per 16
                    const int32_t *sums = xsum16 + (size_t)t * 2 * blocks + 2 * b;
                    acc[p][t] = _mm512_fnmadd_ps(_mm512_load_ps(fp + C_LOW * PANELS * PANEL), _mm512_set1_ps(s * (float)sums[0]), acc[p][t]);
                    acc[p][t] = _mm512_fnmadd_ps(_mm512_load_ps(fp + C_HIGH * PANELS * PANEL), _mm512_set1_ps(s * (float)sums[1]), acc[p][t]);
                } else if (MINS) {
                    const __m512 cx = _mm512_set1_ps(s * (float)xsum[(size_t)t * blocks + b]);
                    acc[p][t] = _mm512_fnmadd_ps(_mm512_load_ps(fp + C_LOW * PANELS * PANEL), cx, acc[p][t]);
                }
            }
        }
    }
    for (int t = 0; t < N; t++) {
        _mm512_mask_storeu_ps(y + (size_t)t * ystride, mask0, acc[0][t]);
        _mm512_mask_storeu_ps(y + (size_t)t * ystride + PANEL, mask1, acc[1][t]);
    }
}

/// A panel pair against all T tokens: tiles of W tokens (4 where the halves' scales take
/// more registers, else 6), then the rest as one tile of its own size. W, HALVES and MINS
/// are constants at each call, so each tile's accumulators stay in registers.
TL_TARGET_AVX512 TL_INLINE void panel_tokens(const uint8_t *packed, const float *factors, size_t n, const int8_t *x, const float *xs,
                                             const int32_t *xsum, const int32_t *xsum16, int32_t zero, size_t T, int W, int HALVES,
                                             int MINS, float *y, size_t ystride, __mmask16 mask0, __mmask16 mask1) {
    const size_t blocks = n / 32;
    size_t t = 0;
#define TOKENS(N)                                                                                                          \
    block_tile(packed, factors, n, x + t * n, xs + t * blocks, xsum + t * blocks, xsum16 ? xsum16 + t * 2 * blocks : NULL, \
               zero, N, HALVES, MINS, y + t * ystride, ystride, mask0, mask1)
    for (; t + (size_t)W <= T; t += (size_t)W) {
        if (W == 6) TOKENS(6); else TOKENS(4);
    }
    switch (T - t) {
    case 5: if (W > 5) TOKENS(5); break;
    case 4: if (W > 4) TOKENS(4); break;
    case 3: TOKENS(3); break;
    case 2: TOKENS(2); break;
    case 1: TOKENS(1); break;
    default: break;
    }
#undef TOKENS
}

#endif
