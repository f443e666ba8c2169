// Matrix × several tokens (prompt processing): where a prompt spends its time.
//
// int8: the VNNI variant (its tile is gemm_tile.h's, shared with the block types) packs 16 weight rows at a time so that one 512-bit register holds
// four consecutive bytes of each of the 16 rows; a token's four matching bytes are
// broadcast, and one VPDPBUSD advances 16 rows × 4 columns. Lanes are rows, so a block of 32 ends in
// 16 finished int32 dot products: no horizontal sums, no permutes. VPDPBUSD wants one
// unsigned operand, so packed weights are stored as w + 128 and the sum is corrected by
// −128 · Σx over the block, which the activation quantizer has already computed.
//
// int8 on AVX2: gemm_tile.h's AVX2 tile, 16 rows × 4 tokens, the bytes multiplied signed.
//
// int8 on NEON: gemm_tile.h's tiles, as the block types use them: with SDOT, 8 rows laid
// out in panels of 4 × 4 tokens; without, 4 rows as they lie × 4 tokens.
//
// f32, f16, bf16: the AVX-512 variant packs 32 rows as f32 with the same lanes-are-rows
// layout (16 × 16 register transposes); each column step is one load of 16 weights per
// panel and, per token, one broadcast and an FMA per panel. AVX2 and NEON do the same with
// 16 rows × 6 tokens (8 × 8 transposes) and 8 rows × 4 tokens (4 × 4 transposes, FMLA by
// element). Rows in f16 or bf16 are converted once, not once per token.
#include "gemm_tile.h"
#include <stdlib.h>

// ---- the definition (and the variant for CPUs without a tile below) ------------------

static void gemm_by_dots(const int8_t *w, const uint16_t *block_scales, const float *row_scales, size_t n,
                         size_t r0, size_t r1, const int8_t *x, const float *xscales, size_t T, float *y, size_t ystride) {
    for (size_t r = r0; r < r1; r++) {
        for (size_t t = 0; t < T; t++) {
            const int8_t *xt = x + t * n;
            const float *st = xscales + t * (n / 32);
            y[t * ystride + r] = block_scales ? tl_dot_q8_q8(w + r * n, block_scales + r * (n / 32), xt, st, n)
                                              : tl_dot_q8row_q8(w + r * n, row_scales[r], xt, st, n);
        }
    }
}

// ---- AVX-512 VNNI ---------------------------------------------------------------------
#if TL_X86

enum { TILE_TOKENS = 6 };

// Packs rows [r, r + 32) (the last ones repeated past r1) for every block b:
// bytes [b][k4][panel][row][4] (+128: gemm_tile.h's layout, with a zero point of 128) and
// the scales in f32 as the tile's factors [b][A_LOW][panel][row].
TL_TARGET_AVX512 static void pack_rows(const int8_t *w, const uint16_t *block_scales, const float *row_scales,
                                       size_t n, size_t r, size_t r1, uint8_t *packed, float *factors) {
    const size_t blocks = n / 32;
    size_t rows[PANELS][PANEL];
    for (int p = 0; p < PANELS; p++) {
        for (int i = 0; i < PANEL; i++) {
            size_t row = r + (size_t)(p * PANEL + i);
            rows[p][i] = row < r1 ? row : r1 - 1;
        }
    }
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    for (int p = 0; p < PANELS; p++) {
        size_t b = 0;
        // Two blocks at a time: 16 rows × 16 four-byte groups, transposed in registers.
        for (; b + 2 <= blocks; b += 2) {
            __m512 v[16];
            for (int i = 0; i < PANEL; i++) v[i] = _mm512_loadu_ps((const void *)(w + rows[p][i] * n + 32 * b));
            tl_transpose16(v);
            for (int j = 0; j < 16; j++)
                _mm512_store_si512(packed + ((b * 8 + (size_t)j) * PANELS + (size_t)p) * 64, _mm512_xor_si512(_mm512_castps_si512(v[j]), flip));
        }
        for (; b < blocks; b++) {  // an odd last block
            for (int k4 = 0; k4 < 8; k4++) {
                uint8_t *dst = packed + ((b * 8 + (size_t)k4) * PANELS + (size_t)p) * 64;
                for (int i = 0; i < PANEL; i++)
                    for (int byte = 0; byte < 4; byte++)
                        dst[4 * i + byte] = (uint8_t)w[rows[p][i] * n + 32 * b + 4 * (size_t)k4 + (size_t)byte] ^ 0x80u;
            }
        }
        for (b = 0; b < blocks; b++) {
            for (int i = 0; i < PANEL; i++) {
                size_t row = rows[p][i];
                factors[((b * KINDS + A_LOW) * PANELS + (size_t)p) * PANEL + (size_t)i] =
                    block_scales ? tl_f16_to_f32(block_scales[row * blocks + b]) : row_scales[row];
            }
        }
    }
}

TL_TARGET_AVX512 static void gemm_vnni(const int8_t *w, const uint16_t *block_scales, const float *row_scales, size_t n,
                                       size_t r0, size_t r1, const int8_t *x, const float *xscales, const int32_t *xsums,
                                       size_t T, float *y, size_t ystride) {
    const size_t blocks = n / 32;
    uint8_t *packed = aligned_alloc(64, blocks * 8 * PANELS * 64);
    float *factors = aligned_alloc(64, blocks * KINDS * PANELS * PANEL * sizeof(float));
    if (!packed || !factors) {  // no memory for 32 rows: the row-at-a-time kernels need none
        free(packed);
        free(factors);
        gemm_by_dots(w, block_scales, row_scales, n, r0, r1, x, xscales, T, y, ystride);
        return;
    }
    for (size_t r = r0; r < r1; r += PANELS * PANEL) {
        pack_rows(w, block_scales, row_scales, n, r, r1, packed, factors);
        __mmask16 mask0, mask1;
        tl_panel_masks(r1 - r, &mask0, &mask1);
        // The tile of int8 rows: a zero point of 128, one scale per block, no minimums.
        panel_tokens(packed, factors, n, x, xscales, xsums, NULL, 128, T, TILE_TOKENS, 0, 0, y + r, ystride, mask0, mask1);
    }
    free(packed);
    free(factors);
}

// ---- AVX2: gemm_tile.h's AVX2 tile, the bytes signed ----------------------------------

TL_TARGET_AVX2 static int gemm_avx2(const int8_t *w, const uint16_t *block_scales, const float *row_scales, size_t n,
                                    size_t r0, size_t r1, const int8_t *x, const float *xscales, const int32_t *xsums,
                                    size_t T, const void *arranged, float *y, size_t ystride) {
    const size_t blocks = n / 32;
    tl_avx2_work k;
    if (!tl_avx2_work_begin(&k, x, xscales, xsums, n, T, 0, 0, arranged)) return 0;
    for (size_t r = r0; r < r1; r += ROWS_AVX2) {
        const uint8_t *rows[ROWS_AVX2];
        for (size_t i = 0; i < ROWS_AVX2; i++) {
            const size_t row = r + i < r1 ? r + i : r1 - 1;
            rows[i] = (const uint8_t *)(w + row * n);
            for (size_t b = 0; b < blocks; b++)
                k.factors[(b * KINDS + A_LOW) * ROWS_AVX2 + i] = block_scales ? tl_f16_to_f32(block_scales[row * blocks + b]) : row_scales[row];
        }
        tl_lay_rows_avx2(rows, n, 0, k.packed);
        const size_t valid = r1 - r < ROWS_AVX2 ? r1 - r : ROWS_AVX2;
        tl_tokens_avx2(k.packed, k.factors, NULL, NULL, blocks, k.xa, k.act, T, 0, 0, 1, 1, y + r, ystride, valid);
    }
    tl_avx2_work_end(&k);
    return 1;
}

#endif

// ---- NEON ------------------------------------------------------------------------------
#if TL_ARM64
/// Rows [r, r + count) as a tile reads them, n apart: in place, or where they pass r1 copied
/// into `spare` with the last row repeated; each block's scale (or the row's) into the
/// tile's factors, [b][A_LOW][row].
static const int8_t *neon_rows(const int8_t *w, const uint16_t *block_scales, const float *row_scales, size_t n, size_t r, size_t r1,
                               size_t count, int8_t *spare, float *factors) {
    const size_t blocks = n / 32, valid = r1 - r < count ? r1 - r : count;
    for (size_t i = 0; i < count; i++) {
        const size_t row = r + (i < valid ? i : valid - 1);
        if (valid < count) memcpy(spare + i * n, w + row * n, n);
        for (size_t b = 0; b < blocks; b++)
            factors[(b * KINDS + A_LOW) * ROWS_NEON + i] = block_scales ? tl_half_at(block_scales + row * blocks + b) : row_scales[row];
    }
    return valid < count ? spare : w + r * n;
}

/// With SDOT: 8 rows at a time laid out for gemm_tile.h's SDOT tile.
TL_TARGET_DOTPROD static int gemm_neon_sdot(const int8_t *w, const uint16_t *block_scales, const float *row_scales, size_t n, size_t r0,
                                            size_t r1, const int8_t *x, const float *xscales, size_t T, float *y, size_t ystride) {
    const size_t blocks = n / 32;
    float *factors = malloc(blocks * KINDS * ROWS_NEON * sizeof(float));
    int8_t *spare = malloc(ROWS_NEON * n), *packed = malloc(blocks * 8 * ROWS_NEON * 4);
    const int ok = factors && spare && packed;
    for (size_t r = r0; ok && r < r1; r += ROWS_NEON) {
        const size_t valid = r1 - r < ROWS_NEON ? r1 - r : ROWS_NEON;
        lay_rows_neon((const uint8_t *)neon_rows(w, block_scales, row_scales, n, r, r1, ROWS_NEON, spare, factors), n, 0, packed);
        for (size_t t = 0; t < T; t += TOKENS_NEON) {
#define TILE(N) tile_neon(packed, factors, n, x + t * n, xscales + t * blocks, NULL, N, 0, 0, y + t * ystride + r, ystride, valid)
            TL_TOKENS_UP_TO(TOKENS_NEON, TILE, T - t);
#undef TILE
        }
    }
    free(factors);
    free(spare);
    free(packed);
    return ok;
}

/// Without SDOT: 4 rows at a time as they lie, through gemm_tile.h's plain tile.
static int gemm_neon_plain(const int8_t *w, const uint16_t *block_scales, const float *row_scales, size_t n, size_t r0, size_t r1,
                           const int8_t *x, const float *xscales, size_t T, float *y, size_t ystride) {
    const size_t blocks = n / 32;
    float *factors = malloc(blocks * KINDS * ROWS_NEON * sizeof(float));
    int8_t *spare = malloc(LANES_NEON * n);
    const int ok = factors && spare;
    for (size_t r = r0; ok && r < r1; r += LANES_NEON) {
        const size_t valid = r1 - r < LANES_NEON ? r1 - r : LANES_NEON;
        const int8_t *rows = neon_rows(w, block_scales, row_scales, n, r, r1, LANES_NEON, spare, factors);
        for (size_t t = 0; t < T; t += TOKENS_NEON) {
#define TILE(N) tile_neon_plain(rows, factors, n, x + t * n, xscales + t * blocks, NULL, N, 0, 0, 0, y + t * ystride + r, ystride, valid)
            TL_TOKENS_UP_TO(TOKENS_NEON, TILE, T - t);
#undef TILE
        }
    }
    free(factors);
    free(spare);
    return ok;
}
#endif

void tl_gemm_q8(const int8_t *w, const uint16_t *block_scales, const float *row_scales, size_t n, size_t r0, size_t r1,
                const int8_t *x, const float *xscales, const int32_t *xsums, size_t T, const void *arranged, float *y, size_t ystride) {
    (void)arranged;  // read by the AVX2 kernels only
    if (r0 >= r1 || T == 0) return;
#if TL_X86
    if (TL_USES_AVX512()) {
        gemm_vnni(w, block_scales, row_scales, n, r0, r1, x, xscales, xsums, T, y, ystride);
        return;
    }
    if (TL_USES_AVX2() && gemm_avx2(w, block_scales, row_scales, n, r0, r1, x, xscales, xsums, T, arranged, y, ystride)) return;
#elif TL_ARM64
    if (TL_USES_DOTPROD() && gemm_neon_sdot(w, block_scales, row_scales, n, r0, r1, x, xscales, T, y, ystride)) return;
    if (TL_USES_NEON() && !TL_USES_DOTPROD() && gemm_neon_plain(w, block_scales, row_scales, n, r0, r1, x, xscales, T, y, ystride)) return;
#endif
    (void)xsums;
    gemm_by_dots(w, block_scales, row_scales, n, r0, r1, x, xscales, T, y, ystride);
}

// ---- f32, f16 and bf16 weights ---------------------------------------------------------

static float dot_float(const void *w, tl_weight_type type, size_t r, size_t n, const float *x) {
    switch (type) {
    case TL_WEIGHTS_F16: return tl_dot_f16_f32((const uint16_t *)w + r * n, x, n);
    case TL_WEIGHTS_BF16: return tl_dot_bf16_f32((const uint16_t *)w + r * n, x, n);
    default: return tl_dot_f32((const float *)w + r * n, x, n);
    }
}

// A few rows at a time past every token, so those rows stay in L1 while the tokens go by.
static void gemm_float_by_dots(const void *w, tl_weight_type type, size_t n, size_t r0, size_t r1,
                               const float *x, size_t T, float *y, size_t ystride) {
    for (size_t rb = r0; rb < r1; rb += 16) {
        const size_t re = rb + 16 < r1 ? rb + 16 : r1;
        for (size_t t = 0; t < T; t++)
            for (size_t r = rb; r < re; r++) y[t * ystride + r] = dot_float(w, type, r, n, x + t * n);
    }
}

#if TL_X86
// Rows [r, r + 32) (the last repeated past r1) as packed[k][panel][16] f32.
TL_TARGET_AVX512 static void pack_float_rows(const void *w, tl_weight_type type, size_t n, size_t r, size_t r1, float *packed) {
    for (int p = 0; p < PANELS; p++) {
        size_t rows[PANEL];
        for (int i = 0; i < PANEL; i++) {
            size_t row = r + (size_t)(p * PANEL + i);
            rows[i] = row < r1 ? row : r1 - 1;
        }
        size_t k = 0;
        for (; k + 16 <= n; k += 16) {
            __m512 v[16];
            for (int i = 0; i < PANEL; i++) v[i] = tl_weights16(w, type, rows[i] * n + k);
            tl_transpose16(v);
            for (int j = 0; j < 16; j++) _mm512_store_ps(packed + ((k + (size_t)j) * PANELS + (size_t)p) * PANEL, v[j]);
        }
        for (; k < n; k++)
            for (int i = 0; i < PANEL; i++) packed[(k * PANELS + (size_t)p) * PANEL + (size_t)i] = tl_weight_at(w, type, rows[i] * n + k);
    }
}

TL_TARGET_AVX512 TL_INLINE void float_tile(const float *packed, size_t n, const float *x, int N, float *y, size_t ystride,
                                           __mmask16 mask0, __mmask16 mask1) {
    __m512 acc[PANELS][TILE_TOKENS];
    for (int p = 0; p < PANELS; p++)
        for (int t = 0; t < N; t++) acc[p][t] = _mm512_setzero_ps();
    for (size_t k = 0; k < n; k++) {
        const __m512 w0 = _mm512_load_ps(packed + k * PANELS * PANEL), w1 = _mm512_load_ps(packed + k * PANELS * PANEL + PANEL);
        for (int t = 0; t < N; t++) {
            const __m512 xv = _mm512_set1_ps(x[(size_t)t * n + k]);
            acc[0][t] = _mm512_fmadd_ps(w0, xv, acc[0][t]);
            acc[1][t] = _mm512_fmadd_ps(w1, xv, acc[1][t]);
        }
    }
    for (int t = 0; t < N; t++) {
        _mm512_mask_storeu_ps(y + (size_t)t * ystride, mask0, acc[0][t]);
        _mm512_mask_storeu_ps(y + (size_t)t * ystride + PANEL, mask1, acc[1][t]);
    }
}

TL_TARGET_AVX512 static int gemm_float_avx512(const void *w, tl_weight_type type, size_t n, size_t r0, size_t r1,
                                              const float *x, size_t T, float *y, size_t ystride) {
    float *packed = aligned_alloc(64, n * PANELS * PANEL * sizeof(float));
    if (!packed) return 0;
    for (size_t r = r0; r < r1; r += PANELS * PANEL) {
        pack_float_rows(w, type, n, r, r1, packed);
        const size_t valid = r1 - r;
        __mmask16 mask0, mask1;
        tl_panel_masks(valid, &mask0, &mask1);
        for (size_t t = 0; t < T; t += TILE_TOKENS) {
#define TILE(N) float_tile(packed, n, x + t * n, N, y + t * ystride + r, ystride, mask0, mask1)
            TL_TOKENS_UP_TO(TILE_TOKENS, TILE, T - t);
#undef TILE
        }
    }
    free(packed);
    return 1;
}

// AVX2: 16 rows (two groups of 8) packed as f32, [k][16], by 8 × 8 transposes; per column
// step two loads of weights and, per token, one broadcast and two FMAs, 6 tokens at a time
// (12 accumulators, the weights and a broadcast fill the 16 registers). A row's weights are
// converted from f16 or bf16 once, not once per token.

// Rows [r, r + 16) (the last repeated past r1) as packed[k][16] f32.
TL_TARGET_AVX2 static void pack_float_rows_avx2(const void *w, tl_weight_type type, size_t n, size_t r, size_t r1, float *packed) {
    size_t rows[ROWS_AVX2];
    for (size_t i = 0; i < ROWS_AVX2; i++) rows[i] = r + i < r1 ? r + i : r1 - 1;
    size_t k = 0;
    for (; k + 8 <= n; k += 8)
        for (size_t g = 0; g < GROUPS_AVX2; g++) {
            __m256 v[8];
            for (size_t i = 0; i < GROUP_AVX2; i++) v[i] = tl_weights8(w, type, rows[GROUP_AVX2 * g + i] * n + k);
            transpose8(v);
            for (size_t j = 0; j < 8; j++) _mm256_store_ps(packed + (k + j) * ROWS_AVX2 + GROUP_AVX2 * g, v[j]);
        }
    for (; k < n; k++)
        for (size_t i = 0; i < ROWS_AVX2; i++) packed[k * ROWS_AVX2 + i] = tl_weight_at(w, type, rows[i] * n + k);
}

TL_TARGET_AVX2 TL_INLINE void float_tile_avx2(const float *packed, size_t n, const float *x, int N, float *y, size_t ystride, size_t valid) {
    __m256 acc[GROUPS_AVX2][TILE_TOKENS];
    for (int g = 0; g < GROUPS_AVX2; g++)
        for (int t = 0; t < N; t++) acc[g][t] = _mm256_setzero_ps();
    for (size_t k = 0; k < n; k++) {
        const __m256 w0 = _mm256_load_ps(packed + k * ROWS_AVX2), w1 = _mm256_load_ps(packed + k * ROWS_AVX2 + GROUP_AVX2);
        for (int t = 0; t < N; t++) {
            const __m256 xv = _mm256_broadcast_ss(x + (size_t)t * n + k);
            acc[0][t] = _mm256_fmadd_ps(w0, xv, acc[0][t]);
            acc[1][t] = _mm256_fmadd_ps(w1, xv, acc[1][t]);
        }
    }
    tile_store_avx2(&acc[0][0], TILE_TOKENS, N, y, ystride, valid);
}

TL_TARGET_AVX2 static int gemm_float_avx2(const void *w, tl_weight_type type, size_t n, size_t r0, size_t r1, const float *x, size_t T,
                                          float *y, size_t ystride) {
    float *packed = aligned_alloc(32, (n * ROWS_AVX2 * sizeof(float) + 31) / 32 * 32);
    if (!packed) return 0;
    for (size_t r = r0; r < r1; r += ROWS_AVX2) {
        pack_float_rows_avx2(w, type, n, r, r1, packed);
        const size_t valid = r1 - r < ROWS_AVX2 ? r1 - r : ROWS_AVX2;
        for (size_t t = 0; t < T; t += TILE_TOKENS) {
#define TILE(N) float_tile_avx2(packed, n, x + t * n, N, y + t * ystride + r, ystride, valid)
            TL_TOKENS_UP_TO(TILE_TOKENS, TILE, T - t);
#undef TILE
        }
    }
    free(packed);
    return 1;
}

#endif

#if TL_ARM64
// NEON: 8 rows (two groups of 4) packed as f32, [k][8], by 4 × 4 transposes; per 4 columns,
// 8 loads of weights and, per token, one load of its 4 activations and 8 FMLAs by element.

/// Weights i ..< i + 4 of w as f32.
static inline float32x4_t weights4_neon(const void *w, tl_weight_type type, size_t i) {
    switch (type) {
    case TL_WEIGHTS_F32: return vld1q_f32((const float *)w + i);
    case TL_WEIGHTS_F16: return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)w + i)));
    case TL_WEIGHTS_BF16: return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16((const uint16_t *)w + i), 16));
    default: {
        const float v[4] = {tl_weight_at(w, type, i), tl_weight_at(w, type, i + 1), tl_weight_at(w, type, i + 2), tl_weight_at(w, type, i + 3)};
        return vld1q_f32(v);
    }
    }
}

// Rows [r, r + 8) (the last repeated past r1) as packed[k][8] f32.
static void pack_float_rows_neon(const void *w, tl_weight_type type, size_t n, size_t r, size_t r1, float *packed) {
    size_t rows[ROWS_NEON];
    for (size_t i = 0; i < ROWS_NEON; i++) rows[i] = r + i < r1 ? r + i : r1 - 1;
    size_t k = 0;
    for (; k + 4 <= n; k += 4)
        for (size_t g = 0; g < PANELS_NEON; g++) {
            uint32x4_t v[LANES_NEON];
            for (size_t i = 0; i < LANES_NEON; i++) v[i] = vreinterpretq_u32_f32(weights4_neon(w, type, rows[LANES_NEON * g + i] * n + k));
            tl_transpose4_neon(v);
            for (size_t j = 0; j < 4; j++) vst1q_f32(packed + (k + j) * ROWS_NEON + LANES_NEON * g, vreinterpretq_f32_u32(v[j]));
        }
    for (; k < n; k++)
        for (size_t i = 0; i < ROWS_NEON; i++) packed[k * ROWS_NEON + i] = tl_weight_at(w, type, rows[i] * n + k);
}

TL_INLINE void float_tile_neon(const float *packed, size_t n, const float *x, int N, float *y, size_t ystride, size_t valid) {
    float32x4_t acc[PANELS_NEON][TOKENS_NEON];
    for (int g = 0; g < PANELS_NEON; g++)
        for (int t = 0; t < N; t++) acc[g][t] = vdupq_n_f32(0);
    size_t k = 0;
    for (; k + 4 <= n; k += 4) {
        float32x4_t xv[TOKENS_NEON];
        for (int t = 0; t < N; t++) xv[t] = vld1q_f32(x + (size_t)t * n + k);
#define COLUMN(J)                                                                                                       \
    {                                                                                                                   \
        const float32x4_t w0 = vld1q_f32(packed + (k + (J)) * ROWS_NEON), w1 = vld1q_f32(packed + (k + (J)) * ROWS_NEON + LANES_NEON); \
        for (int t = 0; t < N; t++) {                                                                                   \
            acc[0][t] = vfmaq_laneq_f32(acc[0][t], w0, xv[t], J);                                                       \
            acc[1][t] = vfmaq_laneq_f32(acc[1][t], w1, xv[t], J);                                                       \
        }                                                                                                               \
    }
        COLUMN(0) COLUMN(1) COLUMN(2) COLUMN(3)
#undef COLUMN
    }
    for (; k < n; k++) {
        const float32x4_t w0 = vld1q_f32(packed + k * ROWS_NEON), w1 = vld1q_f32(packed + k * ROWS_NEON + LANES_NEON);
        for (int t = 0; t < N; t++) {
            acc[0][t] = vfmaq_n_f32(acc[0][t], w0, x[(size_t)t * n + k]);
            acc[1][t] = vfmaq_n_f32(acc[1][t], w1, x[(size_t)t * n + k]);
        }
    }
    for (int g = 0; g < PANELS_NEON; g++)
        for (int t = 0; t < N; t++) {
            if (valid > LANES_NEON * (size_t)g)
                tl_store_rows_neon(acc[g][t], y + (size_t)t * ystride + LANES_NEON * (size_t)g, valid - LANES_NEON * (size_t)g);
        }
}

static int gemm_float_neon(const void *w, tl_weight_type type, size_t n, size_t r0, size_t r1, const float *x, size_t T, float *y,
                           size_t ystride) {
    float *packed = malloc(n * ROWS_NEON * sizeof(float));
    if (!packed) return 0;
    for (size_t r = r0; r < r1; r += ROWS_NEON) {
        pack_float_rows_neon(w, type, n, r, r1, packed);
        const size_t valid = r1 - r < ROWS_NEON ? r1 - r : ROWS_NEON;
        for (size_t t = 0; t < T; t += TOKENS_NEON) {
#define TILE(N) float_tile_neon(packed, n, x + t * n, N, y + t * ystride + r, ystride, valid)
            TL_TOKENS_UP_TO(TOKENS_NEON, TILE, T - t);
#undef TILE
        }
    }
    free(packed);
    return 1;
}
#endif

void tl_gemm_float(const void *w, tl_weight_type type, size_t n, size_t r0, size_t r1, const float *x, size_t T,
                   float *y, size_t ystride) {
    if (r0 >= r1 || T == 0) return;
#if TL_X86
    if (TL_USES_AVX512() && gemm_float_avx512(w, type, n, r0, r1, x, T, y, ystride)) return;
    if (TL_USES_AVX2() && gemm_float_avx2(w, type, n, r0, r1, x, T, y, ystride)) return;
#elif TL_ARM64
    if (TL_USES_NEON() && gemm_float_neon(w, type, n, r0, r1, x, T, y, ystride)) return;
#endif
    gemm_float_by_dots(w, type, n, r0, r1, x, T, y, ystride);
}
