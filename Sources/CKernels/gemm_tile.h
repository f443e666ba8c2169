// The tiles of the prompt kernels (gemm.c's int8 rows, gemm_blocks.c's block types): AVX-512
// VNNI's, 32 packed rows × up to 6 tokens, with the packed layout both files make and the
// row masks of a last, partial panel; AVX2's, 16 rows (two groups of 8) × up to 4 tokens;
// and NEON's, 8 rows × up to 4 tokens with SDOT, 4 rows without. Included by those two
// files only.
#pragma once
#include "internal.h"
#include <stdlib.h>

// Per block of 32, each packed row's factors by kind: its scale per half (A_LOW, A_HIGH),
// and its minimum (AVX-512) or zero point and minimum together (AVX2, NEON) per half:
// [b][kind][row] (AVX-512: [b][kind][panel][row]).
enum { A_LOW = 0, A_HIGH = 1, C_LOW = 2, C_HIGH = 3, KINDS = 4 };

/// TILE(N) for the next N of `left` tokens, N ≤ MOST (at most 6) made a constant for it.
#define TL_TOKENS_UP_TO(MOST, TILE, left)                \
    do {                                                 \
        switch ((left) < (MOST) ? (left) : (MOST)) {     \
        case 6: if ((MOST) > 5) TILE(6); break;          \
        case 5: if ((MOST) > 4) TILE(5); break;          \
        case 4: if ((MOST) > 3) TILE(4); break;          \
        case 3: TILE(3); break;                          \
        case 2: TILE(2); break;                          \
        default: TILE(1); break;                         \
        }                                                \
    } while (0)

#if TL_X86

enum { PANEL = 16, PANELS = 2, ROWS = PANEL * PANELS };

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


// ---- AVX2 (no VPDPBUSD) ---------------------------------------------------------------
// 16 rows at a time are unpacked and laid out in two groups of 8 so that one 256-bit
// register holds four consecutive bytes of each of a group's rows; a token's four matching
// bytes are broadcast once for both groups (the broadcasts share the vector pipes with the
// multiplies: 16 rows need half of what 8 did, 5–10% faster), and one VPMADDUBSW per group
// leaves each row's two pair sums in int16. Those are added in int16 for as many steps as
// cannot overflow (a step adds at most 2·128·top), then widened by VPMADDWD, so a 4-bit
// block of 32 costs per token 8 VPMADDUBSW, 8 adds and one widening. Bytes above 127 (Q8_0
// and IQ4 unpacked, zero point 128) are stored signed instead and multiplied by the sign
// trick (|w| against x with w's sign), widened every step.
//
// What depends only on the activations is arranged once per product (tl_arrange_tokens,
// which the runner calls; per call where a caller gives none), per tile of 4 tokens: their
// bytes as the tile reads them, [b][k4][token][4], and per block (or half) xs and xs·Σx. A
// row's zero point and minimum are one factor e = a·z + c, so a block (or half) adds
// xs·a·Σu·x − e·xs·Σx, the second term one FMA (rounded in floats, 2⁻²⁴ of it).

enum { GROUP_AVX2 = 8, GROUPS_AVX2 = 2, ROWS_AVX2 = GROUP_AVX2 * GROUPS_AVX2, TOKENS_AVX2 = 4, XA_STEP = 4 * TOKENS_AVX2 };

// Block types' products over fewer tokens than this take the row·vector kernels instead, a
// band of rows read once from memory and then from cache for each token: unpacking every
// row for the tile costs more than the tile saves until about then (8,192 rows of 2,048,
// one core, Q4_K: 2 tokens 2.2 ms against the tile's 6.4, 4 tokens 4.1 against 6.9; Q6_K
// crosses at 5–6 tokens).
enum { TILE_TOKENS_AVX2 = 5 };

/// One block's (or half's) int16 steps, k4 from `first` for `count` steps, for N tokens:
/// Σu·x added to sum[group][t] in int32, each run of STEPS steps widened by VPMADDWD
/// against `widen` (ones, or the rows' integer scales). SIGNED: bytes stored signed.
TL_TARGET_AVX2 TL_INLINE void tile_steps_avx2(const uint8_t *packed, const int8_t *xa, int first, int count, int N, int SIGNED, int STEPS,
                                              const __m256i widen[GROUPS_AVX2], __m256i sum[GROUPS_AVX2][TOKENS_AVX2]) {
    __m256i part[GROUPS_AVX2][TOKENS_AVX2];
    for (int g = 0; g < GROUPS_AVX2; g++)
        for (int t = 0; t < N; t++) part[g][t] = _mm256_setzero_si256();
    // k counts from the run's start, so that the loop and its widenings unroll (which clang
    // does not do of itself for two groups: 8% slower).
#if defined(__clang__)
#pragma clang loop unroll(full)
#endif
    for (int k = 0; k < count; k++) {
        const int k4 = first + k;
        __m256i wv[GROUPS_AVX2], u[GROUPS_AVX2];
        for (int g = 0; g < GROUPS_AVX2; g++) {
            wv[g] = _mm256_load_si256((const __m256i *)(const void *)(packed + 32 * (GROUPS_AVX2 * k4 + g)));
            u[g] = SIGNED ? _mm256_sign_epi8(wv[g], wv[g]) : wv[g];
        }
        for (int t = 0; t < N; t++) {
            int32_t four;
            memcpy(&four, xa + XA_STEP * k4 + 4 * t, 4);
            const __m256i xb = _mm256_set1_epi32(four);
            for (int g = 0; g < GROUPS_AVX2; g++) {
                const __m256i xv = SIGNED ? _mm256_sign_epi8(xb, wv[g]) : xb;
                part[g][t] = _mm256_add_epi16(part[g][t], _mm256_maddubs_epi16(u[g], xv));
                if ((k + 1) % STEPS == 0) {
                    sum[g][t] = _mm256_add_epi32(sum[g][t], _mm256_madd_epi16(part[g][t], widen[g]));
                    part[g][t] = _mm256_setzero_si256();
                }
            }
        }
    }
}

/// Stores each group's accumulators for N tokens (group g's token t at acc[g·width + t]),
/// the rows past `valid` left out.
TL_TARGET_AVX2 TL_INLINE void tile_store_avx2(const __m256 *acc, int width, int N, float *y, size_t ystride, size_t valid) {
    for (int g = 0; g < GROUPS_AVX2; g++) {
        const int left = (int)valid - GROUP_AVX2 * g;
        const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        for (int t = 0; t < N; t++) _mm256_maskstore_ps(y + (size_t)t * ystride + GROUP_AVX2 * g, mask, acc[g * width + t]);
    }
}

/// ROWS_AVX2 packed rows × N tokens of one arranged tile. HALVES: scales per 16; OFFSET: e
/// counts (not for signed bytes); SIGNED: bytes stored signed; STEPS: int16 steps between
/// widenings. All constants.
TL_TARGET_AVX2 TL_INLINE void tile_avx2(const uint8_t *packed, const float *factors, size_t blocks, const int8_t *xa, const float *act,
                                        int N, int HALVES, int OFFSET, int SIGNED, int STEPS, float *y, size_t ystride, size_t valid) {
    __m256i ones[GROUPS_AVX2];
    __m256 acc[GROUPS_AVX2][TOKENS_AVX2];
    for (int g = 0; g < GROUPS_AVX2; g++) {
        ones[g] = _mm256_set1_epi16(1);
        for (int t = 0; t < N; t++) acc[g][t] = _mm256_setzero_ps();
    }
    for (size_t b = 0; b < blocks; b++, packed += 8 * 4 * ROWS_AVX2, factors += KINDS * ROWS_AVX2, xa += 8 * XA_STEP) {
        for (int h = 0; h < (HALVES ? 2 : 1); h++, act += 2 * TOKENS_AVX2) {
            __m256i sum[GROUPS_AVX2][TOKENS_AVX2];
            for (int g = 0; g < GROUPS_AVX2; g++)
                for (int t = 0; t < N; t++) sum[g][t] = _mm256_setzero_si256();
            tile_steps_avx2(packed, xa, HALVES ? 4 * h : 0, HALVES ? 4 : 8, N, SIGNED, STEPS, ones, sum);
            for (int g = 0; g < GROUPS_AVX2; g++) {
                const __m256 a = _mm256_load_ps(factors + (A_LOW + h) * ROWS_AVX2 + GROUP_AVX2 * g);
                const __m256 e = _mm256_load_ps(factors + (C_LOW + h) * ROWS_AVX2 + GROUP_AVX2 * g);
                for (int t = 0; t < N; t++) {
                    acc[g][t] = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(sum[g][t]), _mm256_broadcast_ss(act + t)), a, acc[g][t]);
                    if (OFFSET) acc[g][t] = _mm256_fnmadd_ps(e, _mm256_broadcast_ss(act + TOKENS_AVX2 + t), acc[g][t]);
                }
            }
        }
    }
    tile_store_avx2(&acc[0][0], TOKENS_AVX2, N, y, ystride, valid);
}

/// The same where every token's activations have one scale per 256 values (weights in
/// super-blocks of 256): each block's (or half's) int16 pair sums are widened by VPMADDWD
/// against the rows' integer scales s (a = D·s, `scales16`: s in both halves of each row's
/// 32-bit lane, [b][part][row]) instead of ones, so a super-block adds up in int32 and
/// meets floats once, D·xs per row and token (`units`, D per super-block [sb][row]). What
/// the per-block tile spends per block and token (a conversion, a scaling and an FMA) is
/// then spent per super-block. For signed bytes (IQ4_XS), widened every step anyway, the
/// scales come free.
TL_TARGET_AVX2 TL_INLINE void tile_avx2_256(const uint8_t *packed, const float *factors, const int32_t *scales16, const float *units,
                                            size_t blocks, const int8_t *xa, const float *act, int N, int HALVES, int OFFSET, int SIGNED,
                                            int STEPS, float *y, size_t ystride, size_t valid) {
    __m256 acc[GROUPS_AVX2][TOKENS_AVX2];
    for (int g = 0; g < GROUPS_AVX2; g++)
        for (int t = 0; t < N; t++) acc[g][t] = _mm256_setzero_ps();
    for (size_t sb = 0; sb < blocks / 8; sb++, units += ROWS_AVX2) {
        __m256i sum[GROUPS_AVX2][TOKENS_AVX2];
        for (int g = 0; g < GROUPS_AVX2; g++)
            for (int t = 0; t < N; t++) sum[g][t] = _mm256_setzero_si256();
        for (int b = 0; b < 8; b++, packed += 8 * 4 * ROWS_AVX2, xa += 8 * XA_STEP) {
            for (int h = 0; h < (HALVES ? 2 : 1); h++, scales16 += ROWS_AVX2) {
                __m256i widen[GROUPS_AVX2];
                for (int g = 0; g < GROUPS_AVX2; g++) widen[g] = _mm256_load_si256((const __m256i *)(const void *)(scales16 + GROUP_AVX2 * g));
                tile_steps_avx2(packed, xa, HALVES ? 4 * h : 0, HALVES ? 4 : 8, N, SIGNED, STEPS, widen, sum);
            }
        }
        // The super-block's scale per token is its first block's; then the offsets, e·xs·Σx
        // per block (or half), kept out of the loop above to leave it the registers.
        for (int g = 0; g < GROUPS_AVX2; g++) {
            const __m256 unit = _mm256_load_ps(units + GROUP_AVX2 * g);
            for (int t = 0; t < N; t++)
                acc[g][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[g][t]), _mm256_mul_ps(unit, _mm256_broadcast_ss(act + t)), acc[g][t]);
        }
        for (int p = 0; p < 8 * (HALVES ? 2 : 1); p++, act += 2 * TOKENS_AVX2) {
            if (!OFFSET) continue;
            for (int g = 0; g < GROUPS_AVX2; g++) {
                const __m256 e = _mm256_load_ps(factors + (size_t)(p / (HALVES ? 2 : 1) * KINDS + C_LOW + p % (HALVES ? 2 : 1)) * ROWS_AVX2 +
                                                GROUP_AVX2 * g);
                for (int t = 0; t < N; t++) acc[g][t] = _mm256_fnmadd_ps(e, _mm256_broadcast_ss(act + TOKENS_AVX2 + t), acc[g][t]);
            }
        }
        factors += 8 * KINDS * ROWS_AVX2;
    }
    tile_store_avx2(&acc[0][0], TOKENS_AVX2, N, y, ystride, valid);
}

/// ROWS_AVX2 packed rows against all T tokens, one arranged tile at a time (the last one N
/// wide); with `scales16` and `units`, activations with a scale per 256 through
/// tile_avx2_256. (Taking the columns in runs, each past every token so that the rows' run
/// stays in L1, was 10% slower for rows of 8,192.)
TL_TARGET_AVX2 TL_INLINE void tl_tokens_avx2(const uint8_t *packed, const float *factors, const int32_t *scales16, const float *units,
                                             size_t blocks, const int8_t *xa, const float *act, size_t T, int HALVES, int OFFSET,
                                             int SIGNED, int STEPS, float *y, size_t ystride, size_t valid) {
    const size_t act_per_tile = blocks * (HALVES ? 2 : 1) * 2 * TOKENS_AVX2;
    for (size_t t = 0; t < T; t += TOKENS_AVX2, xa += blocks * 8 * XA_STEP, act += act_per_tile, y += TOKENS_AVX2 * ystride) {
#define TOKENS(N)                                                                                                                        \
    do {                                                                                                                                 \
        if (scales16) tile_avx2_256(packed, factors, scales16, units, blocks, xa, act, N, HALVES, OFFSET, SIGNED, STEPS, y, ystride, valid); \
        else tile_avx2(packed, factors, blocks, xa, act, N, HALVES, OFFSET, SIGNED, STEPS, y, ystride, valid);                           \
    } while (0)
        switch (T - t < TOKENS_AVX2 ? T - t : TOKENS_AVX2) {
        case 4: TOKENS(4); break;
        case 3: TOKENS(3); break;
        case 2: TOKENS(2); break;
        default: TOKENS(1); break;
        }
#undef TOKENS
    }
}

/// An 8 × 8 transpose of 32-bit elements.
TL_TARGET_AVX2 static inline void transpose8(__m256 v[8]) {
    __m256 t[8], s[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(v[2 * i], v[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(v[2 * i], v[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        s[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        s[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        s[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        s[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        v[i] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x20);
        v[i + 4] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x31);
    }
}

/// ROWS_AVX2 rows' next n bytes (rows[i], n a multiple of 32) laid out as the AVX2 tile
/// reads them, [b][k4][group][row][4] (8 × 8 transposes of 4-byte groups), each byte XOR `flip`.
TL_TARGET_AVX2 static inline void tl_lay_rows_avx2(const uint8_t *const rows[ROWS_AVX2], size_t n, uint8_t flip, uint8_t *packed) {
    const __m256i sign = _mm256_set1_epi8((char)flip);
    for (size_t b = 0; b < n / 32; b++) {
        for (size_t g = 0; g < GROUPS_AVX2; g++) {
            __m256 v[8];
            for (size_t i = 0; i < GROUP_AVX2; i++) v[i] = _mm256_loadu_ps((const void *)(rows[GROUP_AVX2 * g + i] + 32 * b));
            transpose8(v);
            for (size_t k4 = 0; k4 < 8; k4++)
                _mm256_store_si256((__m256i *)(void *)(packed + ((b * 8 + k4) * GROUPS_AVX2 + g) * 32),
                                   _mm256_xor_si256(_mm256_castps_si256(v[k4]), sign));
        }
    }
}

/// The activations as the tiles read them (tl_arrange_tokens' buffer, CKernels.h): per tile
/// of 4 tokens (missing tokens zero), bytes [b][k4][token][4]; then per block xs and xs·Σx
/// ([b][2][token]); then per half xs and xs·Σx of the half ([b][h][2][token]).
typedef struct {
    const int8_t *x;  // which activations: a buffer is used only with these
    size_t n, T;
    int per256;       // every token's scales are one per 256 values (tl_quantize_activations_256)
} tl_arranged_header;

enum { ARRANGED_AT = 64 };

static inline size_t tl_arranged_tiles(size_t T) { return (T + TOKENS_AVX2 - 1) / TOKENS_AVX2; }
static inline size_t tl_arranged_xa_bytes(size_t n, size_t T) { return tl_arranged_tiles(T) * (n / 32) * 8 * XA_STEP; }
static inline size_t tl_arranged_act_count(size_t n, size_t T, size_t parts) { return tl_arranged_tiles(T) * (n / 32) * parts * 2 * TOKENS_AVX2; }

static inline size_t tl_arranged_bytes(size_t n, size_t T) {
    return ARRANGED_AT + tl_arranged_xa_bytes(n, T) + (tl_arranged_act_count(n, T, 1) + tl_arranged_act_count(n, T, 2)) * sizeof(float);
}

/// The arranged bytes, and the factors per block (halves 0) or per half (1).
static inline const int8_t *tl_arranged_xa(const void *buffer) { return (const int8_t *)buffer + ARRANGED_AT; }
static inline const float *tl_arranged_act(const void *buffer, int halves) {
    const tl_arranged_header *h = (const tl_arranged_header *)buffer;
    const float *act = (const float *)(const void *)(tl_arranged_xa(buffer) + tl_arranged_xa_bytes(h->n, h->T));
    return halves ? act + tl_arranged_act_count(h->n, h->T, 1) : act;
}

/// Arranges T tokens of n into `buffer` (tl_arranged_bytes(n, T), 8-byte aligned): each tile's
/// 4 tokens × 32 bytes of a block are a 4 × 8 transpose of 4-byte groups; Σx per half by
/// VPSADBW over the bytes made unsigned.
TL_TARGET_AVX2 static inline void tl_arrange_tokens_avx2(const int8_t *x, const float *xscales, const int32_t *xsums, size_t n, size_t T,
                                                         void *buffer) {
    const size_t blocks = n / 32;
    tl_arranged_header *header = (tl_arranged_header *)buffer;
    header->x = x, header->n = n, header->T = T;
    header->per256 = n % 256 == 0 && tl_scales_per_256(xscales, T * n);
    int8_t *xa = (int8_t *)buffer + ARRANGED_AT;
    float *act1 = (float *)(void *)(xa + tl_arranged_xa_bytes(n, T)), *act2 = act1 + tl_arranged_act_count(n, T, 1);
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    for (size_t t0 = 0; t0 < T; t0 += TOKENS_AVX2) {
        for (size_t b = 0; b < blocks; b++, xa += 8 * XA_STEP, act1 += 2 * TOKENS_AVX2, act2 += 4 * TOKENS_AVX2) {
            __m256i v[TOKENS_AVX2];
            for (size_t t = 0; t < TOKENS_AVX2; t++) {
                v[t] = t0 + t < T ? _mm256_loadu_si256((const __m256i *)(const void *)(x + (t0 + t) * n + 32 * b)) : _mm256_setzero_si256();
                float s = 0, sum = 0, low = 0, high = 0;
                if (t0 + t < T) {
                    // Σ(x + 128) per 8 bytes; less 8·128 per 8, each half's Σx.
                    uint64_t eights[4];
                    _mm256_storeu_si256((__m256i *)(void *)eights, _mm256_sad_epu8(_mm256_xor_si256(v[t], flip), _mm256_setzero_si256()));
                    s = xscales[(t0 + t) * blocks + b];
                    sum = (float)xsums[(t0 + t) * blocks + b];
                    low = (float)((int64_t)(eights[0] + eights[1]) - 2048);
                    high = (float)((int64_t)(eights[2] + eights[3]) - 2048);
                }
                act1[t] = s, act1[TOKENS_AVX2 + t] = s * sum;
                act2[t] = s, act2[TOKENS_AVX2 + t] = s * low;
                act2[2 * TOKENS_AVX2 + t] = s, act2[3 * TOKENS_AVX2 + t] = s * high;
            }
            // k4 0..7 of 4 tokens: unpacking by 32 then 64 bits gives k4 {0, 4}, {1, 5}, {2, 6}, {3, 7}.
            const __m256i lo01 = _mm256_unpacklo_epi32(v[0], v[1]), lo23 = _mm256_unpacklo_epi32(v[2], v[3]);
            const __m256i hi01 = _mm256_unpackhi_epi32(v[0], v[1]), hi23 = _mm256_unpackhi_epi32(v[2], v[3]);
            const __m256i k04 = _mm256_unpacklo_epi64(lo01, lo23), k15 = _mm256_unpackhi_epi64(lo01, lo23);
            const __m256i k26 = _mm256_unpacklo_epi64(hi01, hi23), k37 = _mm256_unpackhi_epi64(hi01, hi23);
            _mm256_storeu_si256((__m256i *)(void *)(xa + 0 * XA_STEP), _mm256_permute2x128_si256(k04, k15, 0x20));
            _mm256_storeu_si256((__m256i *)(void *)(xa + 2 * XA_STEP), _mm256_permute2x128_si256(k26, k37, 0x20));
            _mm256_storeu_si256((__m256i *)(void *)(xa + 4 * XA_STEP), _mm256_permute2x128_si256(k04, k15, 0x31));
            _mm256_storeu_si256((__m256i *)(void *)(xa + 6 * XA_STEP), _mm256_permute2x128_si256(k26, k37, 0x31));
        }
    }
}

/// What an AVX2 product holds besides its rows: 16 rows packed with their factors (and,
/// for activations with a scale per 256, their integer scales and units), and the
/// activations arranged (the caller's, or its own).
typedef struct {
    uint8_t *packed;
    float *factors;
    int32_t *scales16;
    float *units;
    void *own;
    const int8_t *xa;
    const float *act;
} tl_avx2_work;

static inline void tl_avx2_work_end(tl_avx2_work *k) {
    free(k->packed);
    free(k->factors);
    free(k->scales16);
    free(k->units);
    free(k->own);
}

/// The workspace for rows of n against T tokens, and the activations: `arranged` where it
/// holds these (tl_arrange_tokens), else arranged here. For weights in super-blocks of 256
/// (`weights256`) whose activations have a scale per 256, also room for the rows' integer
/// scales (k->scales16 then not NULL). 0, holding nothing, without the memory.
TL_TARGET_AVX2 static inline int tl_avx2_work_begin(tl_avx2_work *k, const int8_t *x, const float *xscales, const int32_t *xsums, size_t n,
                                                    size_t T, int halves, int weights256, const void *arranged) {
    const size_t blocks = n / 32;
    const tl_arranged_header *given = (const tl_arranged_header *)arranged;
    const int reuse = given && given->x == x && given->n == n && given->T == T;
    *k = (tl_avx2_work){0};
    k->own = reuse ? NULL : aligned_alloc(64, (tl_arranged_bytes(n, T) + 63) / 64 * 64);
    if (!reuse && !k->own) return 0;
    if (!reuse) tl_arrange_tokens_avx2(x, xscales, xsums, n, T, k->own);
    const void *tokens = reuse ? arranged : k->own;
    const int per256 = weights256 && ((const tl_arranged_header *)tokens)->per256;
    k->xa = tl_arranged_xa(tokens);
    k->act = tl_arranged_act(tokens, halves);
    k->packed = aligned_alloc(32, blocks * 8 * 4 * ROWS_AVX2);
    k->factors = aligned_alloc(32, blocks * KINDS * ROWS_AVX2 * sizeof(float));
    k->scales16 = per256 ? aligned_alloc(32, blocks * 2 * ROWS_AVX2 * sizeof(int32_t)) : NULL;
    k->units = per256 ? aligned_alloc(32, (blocks / 8 + 1) * ROWS_AVX2 * sizeof(float)) : NULL;
    if (!k->packed || !k->factors || (per256 && (!k->scales16 || !k->units))) {
        tl_avx2_work_end(k);
        return 0;
    }
    return 1;
}

#endif

#if TL_ARM64
// NEON's tiles, up to 4 tokens: SDOT's takes 8 rows laid out in two panels of 4; the plain
// one, 4 rows as they lie.
enum { LANES_NEON = 4, PANELS_NEON = 2, ROWS_NEON = LANES_NEON * PANELS_NEON, TOKENS_NEON = 4 };

/// Stores the lanes of v, rows y[0 …], that are below `valid`.
static inline void tl_store_rows_neon(float32x4_t v, float *y, size_t valid) {
    if (valid >= LANES_NEON) {
        vst1q_f32(y, v);
        return;
    }
    float lanes[LANES_NEON];
    vst1q_f32(lanes, v);
    for (size_t i = 0; i < valid; i++) y[i] = lanes[i];
}

// ---- NEON with SDOT: 8 rows × 4 tokens ---------------------------------------------------
// Rows of bytes (gemm.c's int8 rows as stored; gemm_blocks.c's block types unpacked as for
// the x86 tiles, bytes above 127 stored as u − 128), laid out [b][k4][panel][row][4]: a
// register holds 4 bytes of each of 4 rows, and SDOT by element multiplies them by one
// token's 4 bytes picked from a register of 16 (no broadcast); the sums are int32, so
// nothing is widened. A row's zero point and minimum are one factor e = a·z + c, one FMA
// per block (or half) and token, against xs·Σx made once per call.

/// A 4 × 4 transpose of 32-bit elements.
static inline void tl_transpose4_neon(uint32x4_t v[4]) {
    const uint64x2_t t0 = vreinterpretq_u64_u32(vtrn1q_u32(v[0], v[1])), t1 = vreinterpretq_u64_u32(vtrn2q_u32(v[0], v[1]));
    const uint64x2_t t2 = vreinterpretq_u64_u32(vtrn1q_u32(v[2], v[3])), t3 = vreinterpretq_u64_u32(vtrn2q_u32(v[2], v[3]));
    v[0] = vreinterpretq_u32_u64(vtrn1q_u64(t0, t2));
    v[1] = vreinterpretq_u32_u64(vtrn1q_u64(t1, t3));
    v[2] = vreinterpretq_u32_u64(vtrn2q_u64(t0, t2));
    v[3] = vreinterpretq_u32_u64(vtrn2q_u64(t1, t3));
}

/// ROWS_NEON rows of n bytes (row i at rows + i·n) laid out as the tile reads them,
/// [b][k4][panel][row][4] (4 × 4 transposes of 4-byte groups), each byte XOR 0x80 where `flip`.
static inline void lay_rows_neon(const uint8_t *rows, size_t n, int flip, int8_t *packed) {
    const uint8x16_t sign = vdupq_n_u8(flip ? 0x80 : 0);
    for (size_t b = 0; b < n / 32; b++)
        for (size_t half = 0; half < 2; half++)         // k4 0–3, then 4–7
            for (size_t p = 0; p < PANELS_NEON; p++) {  // rows 4p … 4p + 3
                uint32x4_t a[LANES_NEON];
                for (size_t i = 0; i < LANES_NEON; i++) a[i] = vreinterpretq_u32_u8(vld1q_u8(rows + (LANES_NEON * p + i) * n + 32 * b + 16 * half));
                tl_transpose4_neon(a);
                for (size_t k = 0; k < 4; k++)
                    vst1q_s8(packed + ((b * 8 + 4 * half + k) * ROWS_NEON + LANES_NEON * p) * 4,
                             vreinterpretq_s8_u8(veorq_u8(vreinterpretq_u8_u32(a[k]), sign)));
            }
}

/// 8 packed rows × N tokens (x, xs and g at the tile's first token). HALVES: scales per
/// 16; OFFSET: e counts. Constants at each call.
TL_TARGET_DOTPROD TL_INLINE void tile_neon(const int8_t *packed, const float *factors, size_t n, const int8_t *x, const float *xs,
                                           const float *g, int N, int HALVES, int OFFSET, float *y, size_t ystride, size_t valid) {
    const size_t blocks = n / 32, parts = HALVES ? 2 : 1;
    float32x4_t acc[PANELS_NEON][TOKENS_NEON];
    for (int p = 0; p < PANELS_NEON; p++)
        for (int t = 0; t < N; t++) acc[p][t] = vdupq_n_f32(0);
    for (size_t b = 0; b < blocks; b++) {
        const int8_t *pb = packed + b * 8 * ROWS_NEON * 4;
        int8x16_t xv[TOKENS_NEON][2];
        for (int t = 0; t < N; t++) {
            xv[t][0] = vld1q_s8(x + (size_t)t * n + 32 * b);
            xv[t][1] = vld1q_s8(x + (size_t)t * n + 32 * b + 16);
        }
        int32x4_t sum[PANELS_NEON][TOKENS_NEON];
        for (int q = 0; q < 2; q++) {  // the block's values 16q … 16q + 15: its half q
            if (q == 0 || HALVES)
                for (int p = 0; p < PANELS_NEON; p++)
                    for (int t = 0; t < N; t++) sum[p][t] = vdupq_n_s32(0);
            const int8_t *pq = pb + (size_t)q * 4 * ROWS_NEON * 4;
#define STEP(L)                                                                                                        \
    for (int p = 0; p < PANELS_NEON; p++) {                                                                            \
        const int8x16_t wv = vld1q_s8(pq + ((L) * PANELS_NEON + p) * 16);                                              \
        for (int t = 0; t < N; t++) sum[p][t] = vdotq_laneq_s32(sum[p][t], wv, xv[t][q], L);                          \
    }
            STEP(0) STEP(1) STEP(2) STEP(3)
#undef STEP
            if (!HALVES && q == 0) continue;
            const int h = HALVES ? q : 0;
            for (int p = 0; p < PANELS_NEON; p++) {
                const float32x4_t a = vld1q_f32(factors + (b * KINDS + A_LOW + (size_t)h) * ROWS_NEON + LANES_NEON * (size_t)p);
                const float32x4_t e = vld1q_f32(factors + (b * KINDS + C_LOW + (size_t)h) * ROWS_NEON + LANES_NEON * (size_t)p);
                for (int t = 0; t < N; t++) {
                    acc[p][t] = vfmaq_f32(acc[p][t], vmulq_n_f32(vcvtq_f32_s32(sum[p][t]), xs[(size_t)t * blocks + b]), a);
                    if (OFFSET) acc[p][t] = vfmsq_n_f32(acc[p][t], e, g[((size_t)t * blocks + b) * parts + (size_t)h]);
                }
            }
        }
    }
    for (int p = 0; p < PANELS_NEON; p++)
        for (int t = 0; t < N; t++) {
            if (valid > LANES_NEON * (size_t)p)
                tl_store_rows_neon(acc[p][t], y + (size_t)t * ystride + LANES_NEON * (size_t)p, valid - LANES_NEON * (size_t)p);
        }
}

// ---- NEON without SDOT: 4 rows × 4 tokens ------------------------------------------------
// Rows of signed bytes as they lie (gemm.c's int8 rows as stored; gemm_blocks.c's block
// types unpacked, bytes above 127 made signed), a block's 4 rows held in registers while the
// tokens pass. A row's 16 values meet a token's by SMULL and SMLAL2, two products to an
// int16 lane, and a block's lanes are widened by one pairwise add; where every byte is under
// 64 (all but int8, Q8_0 and IQ4, whose bytes reach 128) a lane takes the block's four
// products (4·63·127 < 2¹⁵), else two and a widening add. The four rows' totals by three
// pairwise adds, one lane a row, then scaled as the SDOT tile does: 5 or 6 instructions per
// 32 values of a row and a token, 3 more per block of the four rows and a token.

/// 4 rows (row 0 at `rows`, n apart) × N tokens, with their factors [b][kind][ROWS_NEON]
/// (rows 0–3 read) and g, xs·Σx per block or half (read where OFFSET). HALVES: scales per
/// 16; OFFSET: e counts; FOUR: four products to an int16 lane. Constants at each call.
TL_INLINE void tile_neon_plain(const int8_t *rows, const float *factors, size_t n, const int8_t *x, const float *xs, const float *g,
                               int N, int HALVES, int OFFSET, int FOUR, float *y, size_t ystride, size_t valid) {
    const size_t blocks = n / 32, parts = HALVES ? 2 : 1;
    float32x4_t acc[TOKENS_NEON];
    for (int t = 0; t < N; t++) acc[t] = vdupq_n_f32(0);
    for (size_t b = 0; b < blocks; b++) {
        int8x16_t wv[LANES_NEON][2];
        for (int i = 0; i < LANES_NEON; i++)
            for (int q = 0; q < 2; q++) wv[i][q] = vld1q_s8(rows + (size_t)i * n + 32 * b + 16 * (size_t)q);
        const float *f = factors + b * KINDS * ROWS_NEON;
        for (int t = 0; t < N; t++) {
            const int8x16_t x0 = vld1q_s8(x + (size_t)t * n + 32 * b), x1 = vld1q_s8(x + (size_t)t * n + 32 * b + 16);
            int32x4_t lo[LANES_NEON], hi[LANES_NEON];
            for (int i = 0; i < LANES_NEON; i++) {
                int16x8_t p = vmlal_high_s8(vmull_s8(vget_low_s8(wv[i][0]), vget_low_s8(x0)), wv[i][0], x0);
                if (HALVES) {
                    lo[i] = vpaddlq_s16(p);
                    hi[i] = vpaddlq_s16(vmlal_high_s8(vmull_s8(vget_low_s8(wv[i][1]), vget_low_s8(x1)), wv[i][1], x1));
                } else if (FOUR) {
                    lo[i] = vpaddlq_s16(vmlal_high_s8(vmlal_s8(p, vget_low_s8(wv[i][1]), vget_low_s8(x1)), wv[i][1], x1));
                } else {
                    lo[i] = vpadalq_s16(vpaddlq_s16(p), vmlal_high_s8(vmull_s8(vget_low_s8(wv[i][1]), vget_low_s8(x1)), wv[i][1], x1));
                }
            }
            for (int h = 0; h < (HALVES ? 2 : 1); h++) {
                const int32x4_t *s = h ? hi : lo;
                const int32x4_t total = vpaddq_s32(vpaddq_s32(s[0], s[1]), vpaddq_s32(s[2], s[3]));
                acc[t] = vfmaq_f32(acc[t], vmulq_n_f32(vcvtq_f32_s32(total), xs[(size_t)t * blocks + b]), vld1q_f32(f + (A_LOW + h) * ROWS_NEON));
                if (OFFSET) acc[t] = vfmsq_n_f32(acc[t], vld1q_f32(f + (C_LOW + h) * ROWS_NEON), g[((size_t)t * blocks + b) * parts + (size_t)h]);
            }
        }
    }
    for (int t = 0; t < N; t++) {
        tl_store_rows_neon(acc[t], y + (size_t)t * ystride, valid);
    }
}
#endif
