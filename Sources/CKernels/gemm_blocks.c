// Matrix × several tokens for weights in ggml's block types (a prompt over a GGUF's
// matrices, read as stored).
//
// AVX-512 VNNI: 32 rows at a time are unpacked (blocks.c) into unsigned bytes u with, per
// 16 values, a scale a and a minimum c (w = a·(u − z) − c, z the type's zero point), and
// laid out as gemm.c lays out int8 rows: one 512-bit register holds four consecutive bytes
// of 16 rows, so one VPDPBUSD advances 16 rows × 4 columns for a token. A block of 32 then
// adds, per row and token, xs·(a·(Σu·x − z·Σx) − c·Σx), with Σx the activation block's sum;
// the zero point is taken off in integers, exactly, before the sum meets a float. Q6_K's
// scales change every 16 values, so its blocks keep two sums, one per half, and need Σx
// per 16, counted here once per call.
//
// AVX2: 16 rows at a time are unpacked the same way into gemm_tile.h's AVX2 tile (VPMADDUBSW
// with int16 sums; bytes above 127 stored signed). Where the activations have one scale per
// 256 values (tl_quantize_activations_256, which the products over 256-value types are
// given), those types' rows also get their scales as integers, and a super-block adds up in
// int32 before it meets a float. NEON: the same rows into gemm_tile.h's NEON tiles, with
// SDOT laid out for SDOT by element, without it as they lie (bytes above 127 made signed).
//
// Elsewhere (portable), and on AVX2 for fewer than TILE_TOKENS_AVX2 tokens, each row meets
// each token through the decoding kernel (blocks.c), a band of rows at a time so that the
// band stays in cache while the tokens pass.
#include "gemm_tile.h"
#include <stdlib.h>

static void gemm_by_dots(tl_block_type type, const void *w, size_t n, size_t r0, size_t r1, const int8_t *x, const float *xscales,
                         const int32_t *xsums, size_t T, float *y, size_t ystride) {
    const size_t row_bytes = tl_block_row_bytes(type, n), blocks = n / 32;
    const size_t band = row_bytes * 16 <= 65536 ? 16 : 4;
    for (size_t rb = r0; rb < r1; rb += band) {
        const size_t re = rb + band < r1 ? rb + band : r1;
        for (size_t t = 0; t < T; t++)
            tl_dot_blocks_rows(type, w, n, rb, re, x + t * n, xscales + t * blocks, xsums + t * blocks, y + t * ystride);
    }
}

#if TL_X86 || TL_ARM64
/// Rows [r, r + count) (the last one repeated past r1) unpacked into `rows` (count × n
/// bytes), with their factors [b][kind][row]: a per half in A_LOW/A_HIGH, e = a·z + c in
/// C_LOW/C_HIGH, z the zero point (0 where the bytes are to be stored signed, `flip`). The
/// AVX2 and NEON tiles', each with its `unpack` of the type. With `scales16` (256-value
/// types), also each a as an integer s = a / D, D the super-block's f16 d (`units`,
/// [sb][row]): a is D times a small integer in every type, exactly in f32, so the division
/// is exact; s sits in both halves of a 32-bit lane, [b][part][row], parts the halves where
/// the scales are per 16.
static void unpack_rows(const tl_block_layout *layout, tl_block_unpack unpack, const uint8_t *w, size_t row_bytes, size_t n, size_t r,
                        size_t r1, size_t count, int flip, uint8_t *rows, float *factors, int32_t *scales16, float *units) {
    const size_t per = layout->values, parts = layout->halves ? 2 : 1;
    const float zero = flip ? 0.0f : (float)layout->zero;
    float a[16], c[16];
    for (size_t i = 0; i < count; i++) {
        const uint8_t *src = w + (r + i < r1 ? r + i : r1 - 1) * row_bytes;
        for (size_t s = 0; s < n / per; s++) {
            unpack(src + s * layout->bytes, rows + i * n + s * per, a, c);
            for (size_t j = 0; j < per / 32; j++) {
                float *f = factors + (s * (per / 32) + j) * KINDS * count + i;
                f[A_LOW * count] = a[2 * j];
                f[A_HIGH * count] = a[2 * j + 1];
                f[C_LOW * count] = a[2 * j] * zero + c[2 * j];
                f[C_HIGH * count] = a[2 * j + 1] * zero + c[2 * j + 1];
            }
            if (!scales16) continue;
            uint16_t bits;
            memcpy(&bits, src + s * layout->bytes + layout->d_at, 2);
            const float d = tl_f16_to_f32(bits);
            units[s * count + i] = d;
            for (size_t j = 0; j < per / 32; j++)
                for (size_t h = 0; h < parts; h++) {
                    const float q = d != 0.0f ? a[2 * j + h] / d : 0.0f;  // an integer; 0 for a scale not finite
                    const uint16_t v = (uint16_t)(int16_t)(fabsf(q) < 32768.0f ? (int32_t)q : 0);
                    scales16[((s * (per / 32) + j) * parts + h) * count + i] = (int32_t)((uint32_t)v | (uint32_t)v << 16);
                }
        }
    }
}
#endif

#if TL_X86

/// Rows [r, r + 32) (the last one repeated past r1) unpacked, row by row, into `rows`
/// (32 × n bytes), then laid out as bytes [b][k4][panel][row][4] (16 × 16 register
/// transposes of 4-byte groups, as gemm.c packs int8 rows), with the factors
/// [b][kind][panel][row].
TL_TARGET_AVX512 static void pack_block_rows(tl_block_type type, const uint8_t *w, size_t row_bytes, size_t n, size_t r, size_t r1,
                                             uint8_t *rows, uint8_t *packed, float *factors) {
    const tl_block_layout *layout = tl_block_layout_of(type);
    const tl_block_unpack unpack = tl_block_unpack_avx512(type);
    const size_t per = layout->values, bytes = layout->bytes, blocks = n / 32;
    float a[16], c[16];
    for (size_t i = 0; i < ROWS; i++) {
        const size_t row = r + i < r1 ? r + i : r1 - 1, p = i / PANEL, lane = i % PANEL;
        const uint8_t *src = w + row * row_bytes;
        for (size_t s = 0; s < n / per; s++) {
            unpack(src + s * bytes, rows + i * n + s * per, a, c);
            for (size_t j = 0; j < per / 32; j++) {
                float *f = factors + ((s * (per / 32) + j) * KINDS * PANELS + p) * PANEL + lane;
                f[A_LOW * PANELS * PANEL] = a[2 * j];
                f[A_HIGH * PANELS * PANEL] = a[2 * j + 1];
                f[C_LOW * PANELS * PANEL] = c[2 * j];
                f[C_HIGH * PANELS * PANEL] = c[2 * j + 1];
            }
        }
    }
    for (size_t p = 0; p < PANELS; p++) {
        const uint8_t *panel = rows + p * PANEL * n;
        size_t b = 0;
        for (; b + 2 <= blocks; b += 2) {  // two blocks: 16 rows × 16 four-byte groups
            __m512 v[16];
            for (int i = 0; i < PANEL; i++) v[i] = _mm512_loadu_ps((const void *)(panel + (size_t)i * n + 32 * b));
            tl_transpose16(v);
            for (int j = 0; j < 16; j++) _mm512_store_ps((void *)(packed + ((b * 8 + (size_t)j) * PANELS + p) * 64), v[j]);
        }
        for (; b < blocks; b++) {  // an odd last block
            for (size_t k4 = 0; k4 < 8; k4++)
                for (int i = 0; i < PANEL; i++) memcpy(packed + ((b * 8 + k4) * PANELS + p) * 64 + 4 * i, panel + (size_t)i * n + 32 * b + 4 * k4, 4);
        }
    }
}

TL_TARGET_AVX512 static int gemm_vnni(tl_block_type type, const void *w, size_t n, size_t r0, size_t r1, const int8_t *x,
                                      const float *xscales, const int32_t *xsums, size_t T, float *y, size_t ystride) {
    const size_t blocks = n / 32, row_bytes = tl_block_row_bytes(type, n);
    const tl_block_layout *layout = tl_block_layout_of(type);
    const int halves = layout->halves, mins = layout->minimums;
    const int32_t zero = layout->zero;
    uint8_t *packed = aligned_alloc(64, blocks * 8 * PANELS * 64), *rows = malloc(ROWS * n);
    float *factors = aligned_alloc(64, blocks * KINDS * PANELS * PANEL * sizeof(float));
    int32_t *xsum16 = halves ? malloc(T * 2 * blocks * sizeof(int32_t)) : NULL;
    if (!packed || !rows || !factors || (halves && !xsum16)) {
        free(packed);
        free(rows);
        free(factors);
        free(xsum16);
        return 0;
    }
    if (halves) tl_sums_of_16_avx512(x, T * n, xsum16);
    for (size_t r = r0; r < r1; r += ROWS) {
        pack_block_rows(type, (const uint8_t *)w, row_bytes, n, r, r1, rows, packed, factors);
        __mmask16 mask0, mask1;
        tl_panel_masks(r1 - r, &mask0, &mask1);
        // The kinds of block as constants, so that each gets a tile of its own.
        if (halves && mins) panel_tokens(packed, factors, n, x, xscales, xsums, xsum16, zero, T, 4, 1, 1, y + r, ystride, mask0, mask1);
        else if (halves) panel_tokens(packed, factors, n, x, xscales, xsums, xsum16, zero, T, 4, 1, 0, y + r, ystride, mask0, mask1);
        else if (mins) panel_tokens(packed, factors, n, x, xscales, xsums, NULL, zero, T, 6, 0, 1, y + r, ystride, mask0, mask1);
        else panel_tokens(packed, factors, n, x, xscales, xsums, NULL, zero, T, 6, 0, 0, y + r, ystride, mask0, mask1);
    }
    free(packed);
    free(rows);
    free(factors);
    free(xsum16);
    return 1;
}
#undef TILE

// ---- AVX2: gemm_tile.h's tile over rows unpacked to bytes ----------------------------

/// Rows [r, r + ROWS_AVX2) (the last one repeated past r1) unpacked into `rows` and laid out
/// as bytes [b][k4][group][row][4] (made signed where `flip`), with their factors (and
/// integer scales).
TL_TARGET_AVX2 static void pack_rows_avx2(tl_block_type type, const uint8_t *w, size_t row_bytes, size_t n, size_t r, size_t r1,
                                          int flip, uint8_t *rows, tl_avx2_work *k) {
    unpack_rows(tl_block_layout_of(type), tl_block_unpack_avx2(type), w, row_bytes, n, r, r1, ROWS_AVX2, flip, rows, k->factors, k->scales16,
                k->units);
    const uint8_t *unpacked[ROWS_AVX2];
    for (size_t i = 0; i < ROWS_AVX2; i++) unpacked[i] = rows + i * n;
    tl_lay_rows_avx2(unpacked, n, flip ? 0x80 : 0, k->packed);
}

TL_TARGET_AVX2 static int gemm_avx2(tl_block_type type, const void *w, size_t n, size_t r0, size_t r1, const int8_t *x,
                                    const float *xscales, const int32_t *xsums, size_t T, const void *arranged, float *y, size_t ystride) {
    const size_t blocks = n / 32, row_bytes = tl_block_row_bytes(type, n);
    const tl_block_layout *layout = tl_block_layout_of(type);
    const int halves = layout->halves, flip = layout->top > 127;
    // int16 steps before a widening: the most that cannot overflow, a power of 2, within a half.
    int steps = 1;
    while (!flip && steps < (halves ? 4 : 8) && 2 * steps * 2 * 128 * layout->top <= 32767) steps *= 2;
    tl_avx2_work k;
    uint8_t *rows = malloc(ROWS_AVX2 * n);
    const int ok = rows && tl_avx2_work_begin(&k, x, xscales, xsums, n, T, halves, layout->values == 256, arranged);
    if (ok) {
        for (size_t r = r0; r < r1; r += ROWS_AVX2) {
            pack_rows_avx2(type, (const uint8_t *)w, row_bytes, n, r, r1, flip, rows, &k);
            const size_t valid = r1 - r < ROWS_AVX2 ? r1 - r : ROWS_AVX2;
#define KIND(HALVES, SIGNED, STEPS) \
    tl_tokens_avx2(k.packed, k.factors, k.scales16, k.units, blocks, k.xa, k.act, T, HALVES, !(SIGNED), SIGNED, STEPS, y + r, ystride, valid)
            // Each kind of block a constant, so that each gets a tile of its own.
            if (flip) KIND(0, 1, 1);
            else if (halves) { if (steps >= 4) KIND(1, 0, 4); else if (steps >= 2) KIND(1, 0, 2); else KIND(1, 0, 1); }
            else { if (steps >= 8) KIND(0, 0, 8); else if (steps >= 4) KIND(0, 0, 4); else KIND(0, 0, 1); }
#undef KIND
        }
        tl_avx2_work_end(&k);
    }
    free(rows);
    return ok;
}

#endif

#if TL_ARM64
// ---- NEON: gemm_tile.h's tiles over the unpacked rows -----------------------------------

/// What both NEON tiles take per call: per block (or half, where the scales are per 16) of
/// each token, xs·Σx; and room for ROWS_NEON rows' bytes, their factors and (SDOT) layout.
typedef struct {
    uint8_t *rows;
    int8_t *packed;
    float *factors, *g;
} neon_work;

static void neon_work_end(neon_work *k) {
    free(k->rows);
    free(k->packed);
    free(k->factors);
    free(k->g);
}

static int neon_work_begin(neon_work *k, const tl_block_layout *layout, const int8_t *x, const float *xscales, const int32_t *xsums,
                           size_t n, size_t T, int laid) {
    const size_t blocks = n / 32, parts = layout->halves ? 2 : 1;
    k->rows = malloc(ROWS_NEON * n);
    k->packed = laid ? malloc(blocks * 8 * ROWS_NEON * 4) : NULL;
    k->factors = malloc(blocks * KINDS * ROWS_NEON * sizeof(float));
    k->g = malloc(T * blocks * parts * sizeof(float));
    if (!k->rows || (laid && !k->packed) || !k->factors || !k->g) {
        neon_work_end(k);
        return 0;
    }
    for (size_t t = 0; t < T; t++)
        for (size_t b = 0; b < blocks; b++)
            for (size_t h = 0; h < parts; h++) {
                int32_t sum = 0;
                if (layout->halves) for (size_t i = 0; i < 16; i++) sum += x[t * n + 32 * b + 16 * h + i];
                else sum = xsums[t * blocks + b];
                k->g[(t * blocks + b) * parts + h] = xscales[t * blocks + b] * (float)sum;
            }
    return 1;
}

/// With SDOT: 8 rows at a time laid out for the SDOT tile.
TL_TARGET_DOTPROD static int gemm_neon(tl_block_type type, const void *w, size_t n, size_t r0, size_t r1, const int8_t *x,
                                       const float *xscales, const int32_t *xsums, size_t T, float *y, size_t ystride) {
    const size_t blocks = n / 32, row_bytes = tl_block_row_bytes(type, n);
    const tl_block_layout *layout = tl_block_layout_of(type);
    const int halves = layout->halves, flip = layout->top > 127;
    const size_t parts = halves ? 2 : 1;
    neon_work k;
    if (!neon_work_begin(&k, layout, x, xscales, xsums, n, T, 1)) return 0;
    for (size_t r = r0; r < r1; r += ROWS_NEON) {
        unpack_rows(layout, layout->unpack, (const uint8_t *)w, row_bytes, n, r, r1, ROWS_NEON, flip, k.rows, k.factors, NULL, NULL);
        lay_rows_neon(k.rows, n, flip, k.packed);
        const size_t valid = r1 - r < ROWS_NEON ? r1 - r : ROWS_NEON;
        for (size_t t = 0; t < T; t += TOKENS_NEON) {
#define SDOT(N, HALVES) \
    tile_neon(k.packed, k.factors, n, x + t * n, xscales + t * blocks, k.g + t * blocks * parts, N, HALVES, !flip, y + t * ystride + r, ystride, valid)
#define TILE(N) do { if (halves) SDOT(N, 1); else SDOT(N, 0); } while (0)
            TL_TOKENS_UP_TO(TOKENS_NEON, TILE, T - t);
#undef TILE
#undef SDOT
        }
    }
    neon_work_end(&k);
    return 1;
}

/// Without SDOT: the rows as they lie, 4 at a time through the plain tile.
static int gemm_neon_plain(tl_block_type type, const void *w, size_t n, size_t r0, size_t r1, const int8_t *x, const float *xscales,
                           const int32_t *xsums, size_t T, float *y, size_t ystride) {
    const size_t blocks = n / 32, row_bytes = tl_block_row_bytes(type, n);
    const tl_block_layout *layout = tl_block_layout_of(type);
    const int halves = layout->halves, flip = layout->top > 127, four = layout->top < 64;
    const size_t parts = halves ? 2 : 1;
    neon_work k;
    if (!neon_work_begin(&k, layout, x, xscales, xsums, n, T, 0)) return 0;
    const uint8x16_t sign = vdupq_n_u8(0x80);
    for (size_t r = r0; r < r1; r += ROWS_NEON) {
        unpack_rows(layout, layout->unpack, (const uint8_t *)w, row_bytes, n, r, r1, ROWS_NEON, flip, k.rows, k.factors, NULL, NULL);
        if (flip) for (size_t i = 0; i < ROWS_NEON * n; i += 16) vst1q_u8(k.rows + i, veorq_u8(vld1q_u8(k.rows + i), sign));
        for (size_t p = 0; p < PANELS_NEON && r + LANES_NEON * p < r1; p++) {
            const int8_t *rows = (const int8_t *)k.rows + LANES_NEON * p * n;
            const size_t valid = r1 - r - LANES_NEON * p;
            for (size_t t = 0; t < T; t += TOKENS_NEON) {
#define PLAIN(N, HALVES, FOUR)                                                                                               \
    tile_neon_plain(rows, k.factors + LANES_NEON * p, n, x + t * n, xscales + t * blocks, k.g + t * blocks * parts, N, HALVES, \
                    !flip, FOUR, y + t * ystride + r + LANES_NEON * p, ystride, valid)
#define TILE(N)                                                  \
    do {                                                         \
        if (halves) PLAIN(N, 1, 0);                              \
        else if (four) PLAIN(N, 0, 1);                           \
        else PLAIN(N, 0, 0);                                     \
    } while (0)
                TL_TOKENS_UP_TO(TOKENS_NEON, TILE, T - t);
#undef TILE
#undef PLAIN
            }
        }
    }
    neon_work_end(&k);
    return 1;
}
#endif

size_t tl_arranged_tokens_bytes(size_t n, size_t T) {
#if TL_X86
    if (!TL_USES_AVX512() && TL_USES_AVX2() && n % 32 == 0 && T >= TILE_TOKENS_AVX2) return tl_arranged_bytes(n, T);
#endif
    (void)n, (void)T;
    return 0;
}

void tl_arrange_tokens(const int8_t *x, const float *xscales, const int32_t *xsums, size_t n, size_t T, void *buffer) {
#if TL_X86
    if (tl_arranged_tokens_bytes(n, T)) tl_arrange_tokens_avx2(x, xscales, xsums, n, T, buffer);
#else
    (void)x, (void)xscales, (void)xsums, (void)n, (void)T, (void)buffer;
#endif
}

void tl_gemm_blocks(tl_block_type type, const void *w, size_t n, size_t r0, size_t r1, const int8_t *x, const float *xscales,
                    const int32_t *xsums, size_t T, const void *arranged, float *y, size_t ystride) {
    (void)arranged;  // read by the AVX2 kernels only
    if (r0 >= r1 || T == 0) return;
#if TL_X86
    if (TL_USES_AVX512() && gemm_vnni(type, w, n, r0, r1, x, xscales, xsums, T, y, ystride)) return;
    if (TL_USES_AVX2() && T >= TILE_TOKENS_AVX2 && gemm_avx2(type, w, n, r0, r1, x, xscales, xsums, T, arranged, y, ystride)) return;
#elif TL_ARM64
    if (TL_USES_DOTPROD() && gemm_neon(type, w, n, r0, r1, x, xscales, xsums, T, y, ystride)) return;
    if (TL_USES_NEON() && !TL_USES_DOTPROD() && gemm_neon_plain(type, w, n, r0, r1, x, xscales, xsums, T, y, ystride)) return;
#endif
    gemm_by_dots(type, w, n, r0, r1, x, xscales, xsums, T, y, ystride);
}
