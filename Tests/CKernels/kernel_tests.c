// Every kernel variant this CPU can run against the portable one, on random and edge-case
// inputs: lengths that are not multiples of a block, all-zero blocks, ±127 extremes,
// halves (rounding), non-finite values, unaligned pointers. Built natively for the x86
// variants and cross-compiled for aarch64 (run under qemu with and without SDOT) by
// scripts/test-kernels.sh, so the ARM kernels are checked on every test run.
//
// Quantizers must give the portable variant's bytes exactly (the block quantizers, ggml's
// own bytes); products may differ only in the order of float additions.
#define _DEFAULT_SOURCE  // MAP_ANONYMOUS under -std=c11
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "CKernels.h"

static int passed = 0, failed = 0;
static const char *variant = "portable";

static void check(int ok, const char *what, size_t a, size_t b) {
    if (ok) { passed++; return; }
    failed++;
    if (failed <= 20) fprintf(stderr, "FAIL %s: %s (%zu, %zu)\n", variant, what, a, b);
}

static uint64_t state = 0x9E3779B97F4A7C15ull;
static uint64_t next(void) { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return state; }
static float uniform(void) { return (float)((next() >> 40) / 16777216.0) * 2.0f - 1.0f; }
static int8_t int8(void) { return (int8_t)((int)(next() % 255) - 127); }

static uint16_t f16_bits(float f) {  // round toward zero is enough for test data
    uint32_t b; memcpy(&b, &f, 4);
    uint32_t sign = (b >> 16) & 0x8000u; int32_t e = (int32_t)((b >> 23) & 0xff) - 127;
    if (e < -14) return (uint16_t)sign;
    return (uint16_t)(sign | (uint32_t)(e + 15) << 10 | ((b >> 13) & 0x3ffu));
}

/// What a kernel under test reads, each copied to end where an inaccessible page begins.
enum { GUARD_WEIGHTS, GUARD_TOKENS, GUARD_SCALES, GUARD_SUMS, GUARDS };

/// A copy of `bytes` bytes that ends where an inaccessible page begins, so that a kernel
/// reading past the matrix or the tokens it was given faults: the aarch64 build has no
/// sanitizer to see it. Kept until the next call for the same `what`.
static const void *before_guard_page(int what, const void *data, size_t bytes) {
    static void *regions[GUARDS];
    static size_t sizes[GUARDS];
    if (regions[what]) munmap(regions[what], sizes[what]);
    const size_t page = (size_t)sysconf(_SC_PAGESIZE), span = (bytes + page - 1) / page * page;
    sizes[what] = span + page;
    regions[what] = mmap(NULL, sizes[what], PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (regions[what] == MAP_FAILED || mprotect((char *)regions[what] + span, page, PROT_NONE) != 0) {
        perror("kernel tests: a guard page");
        exit(1);
    }
    return memcpy((char *)regions[what] + span - bytes, data, bytes);
}

static int close_to(double got, double want, double scale) { return fabs(got - want) <= 1e-5 * (scale > 1 ? scale : 1); }

// The reference values come from the portable variant, computed first.
#define WITH(isa, body) do { tl_force_isa(isa); body; } while (0)

/// T tokens arranged by `isa`'s tl_arrange_tokens (NULL where it arranges none), in a buffer
/// kept until the next call.
static const void *arranged_tokens(tl_isa isa, const int8_t *x, const float *xs, const int32_t *sums, size_t n, size_t T) {
    static void *buffer;
    free(buffer);
    buffer = NULL;
    tl_force_isa(isa);
    const size_t bytes = tl_arranged_tokens_bytes(n, T);
    if (bytes == 0) return NULL;
    buffer = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (buffer) tl_arrange_tokens(x, xs, sums, n, T, buffer);
    return buffer;
}

static void test_float_dots(tl_isa isa) {
    enum { MAX = 1100 };
    static float a[MAX + 1], b[MAX + 1];
    static uint16_t h[MAX + 1], bf[MAX + 1];
    const size_t lengths[] = {1, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 100, 257, 1024, 1099};
    for (size_t k = 0; k < sizeof lengths / sizeof *lengths; k++) {
        const size_t n = lengths[k];
        double mag = 0;
        for (size_t i = 0; i <= n; i++) {
            a[i] = uniform(); b[i] = uniform(); h[i] = f16_bits(a[i]);
            uint32_t u; memcpy(&u, &a[i], 4); bf[i] = (uint16_t)(u >> 16);
            mag += fabs((double)a[i] * b[i]);
        }
        for (int off = 0; off < 2; off++) {  // off = 1: pointers not aligned to a vector
            float r32, r16, rbf, g32, g16, gbf;
            WITH(TL_ISA_PORTABLE, (r32 = tl_dot_f32(a + off, b + off, n), r16 = tl_dot_f16_f32(h + off, b + off, n), rbf = tl_dot_bf16_f32(bf + off, b + off, n)));
            WITH(isa, (g32 = tl_dot_f32(a + off, b + off, n), g16 = tl_dot_f16_f32(h + off, b + off, n), gbf = tl_dot_bf16_f32(bf + off, b + off, n)));
            check(close_to(g32, r32, mag), "f32 dot", n, (size_t)off);
            check(close_to(g16, r16, mag), "f16 dot", n, (size_t)off);
            check(close_to(gbf, rbf, mag), "bf16 dot", n, (size_t)off);
        }
    }
}

static void fill_int8(int8_t *w, size_t n, int pattern) {
    for (size_t i = 0; i < n; i++) {
        switch (pattern) {
        case 0: w[i] = int8(); break;
        case 1: w[i] = (i / 32) % 2 ? int8() : 0; break;        // every other block all zero
        case 2: w[i] = (i % 3) ? 127 : -127; break;              // extremes
        default: w[i] = (int8_t)((i % 2) ? 127 : -127); break;
        }
    }
}

static void test_int8_dots(tl_isa isa) {
    enum { MAX = 2048 };
    static int8_t wbuf[MAX + 1], xbuf[MAX + 1];
    static uint16_t ws[MAX / 32];
    static float xs[MAX / 32];
    const size_t lengths[] = {32, 64, 96, 288, 576, 1536, 2048};
    for (size_t k = 0; k < sizeof lengths / sizeof *lengths; k++) {
        const size_t n = lengths[k];
        for (int pattern = 0; pattern < 4; pattern++) {
            for (int off = 0; off < 2; off++) {
                int8_t *w = wbuf + off, *x = xbuf + off;
                fill_int8(w, n, pattern);
                fill_int8(x, n, pattern == 3 ? 2 : 0);
                double mag = 0;
                for (size_t b = 0; b < n / 32; b++) {
                    ws[b] = f16_bits(0.001f + fabsf(uniform()) * 0.01f);
                    xs[b] = 0.001f + fabsf(uniform()) * 0.05f;
                    mag += 127.0 * 127.0 * 32 * 0.011 * 0.051;
                }
                float r, rr, g, gr;
                WITH(TL_ISA_PORTABLE, (r = tl_dot_q8_q8(w, ws, x, xs, n), rr = tl_dot_q8row_q8(w, 0.02f, x, xs, n)));
                WITH(isa, (g = tl_dot_q8_q8(w, ws, x, xs, n), gr = tl_dot_q8row_q8(w, 0.02f, x, xs, n)));
                check(close_to(g, r, mag), "q8 dot", n, (size_t)pattern);
                check(close_to(gr, rr, mag), "q8-row dot", n, (size_t)pattern);
            }
        }
    }
}

// The rows kernel is the row kernel called for each row: the same bits, and nothing written
// outside the rows asked for.
static void test_q8_rows(tl_isa isa) {
    enum { ROWS = 6, N = 576 };
    static int8_t w[ROWS * N], x[N];
    static uint16_t ws[ROWS * N / 32];
    static float xs[N / 32], got[ROWS], want[ROWS];
    fill_int8(w, ROWS * N, 0);
    fill_int8(x, N, 2);
    for (size_t b = 0; b < ROWS * N / 32; b++) ws[b] = f16_bits(0.001f + fabsf(uniform()) * 0.01f);
    for (size_t b = 0; b < N / 32; b++) xs[b] = 0.001f + fabsf(uniform()) * 0.05f;
    for (size_t r = 0; r < ROWS; r++) got[r] = -1.0f;
    WITH(isa, tl_dot_q8_rows(w, ws, N, 1, ROWS - 1, x, xs, got));
    WITH(isa, for (size_t r = 0; r < ROWS; r++) want[r] = tl_dot_q8_q8(w + r * N, ws + r * (N / 32), x, xs, N));
    for (size_t r = 0; r < ROWS; r++) check(r == 0 || r == ROWS - 1 ? got[r] == -1.0f : got[r] == want[r], "q8 rows", r, 0);
}

static void test_activation_quantizer(tl_isa isa) {
    enum { N = 32 * 16 };
    static float x[N];
    static int8_t rq[N], gq[N];
    static float rs[N / 32], gs[N / 32];
    static int32_t rsum[N / 32], gsum[N / 32];
    for (int trial = 0; trial < 100; trial++) {
        const int per256 = trial % 2;  // one scale per 32 values, or per 256 (tl_quantize_activations_256)
        for (size_t i = 0; i < N; i++) x[i] = uniform() * (trial + 1);
        for (size_t i = 32; i < 64; i++) x[i] = 0;                                  // a zero block
        for (size_t i = 64; i < 96; i++) x[i] = (float)((int)i - 80) + 0.5f;        // halves: with 127 in the
        x[64] = 127.0f;                                                              // block the scale is 1
        x[96 + trial % 32] = 127.0f * (trial % 4 < 2 ? 1 : -1);                     // an extreme
        if (trial % 5 == 1) x[130] = NAN;                                            // a NaN lane
        if (trial % 5 == 2) x[170] = INFINITY;                                       // an infinite block
        if (trial % 5 == 3) for (size_t i = 256; i < N; i++) x[i] = 0;               // zeros per 256
        WITH(TL_ISA_PORTABLE, (per256 ? tl_quantize_activations_256 : tl_quantize_activations)(x, N, rq, rs, rsum));
        WITH(isa, (per256 ? tl_quantize_activations_256 : tl_quantize_activations)(x, N, gq, gs, gsum));
        check(memcmp(rq, gq, N) == 0, "activation bytes", (size_t)trial, 0);
        check(memcmp(rs, gs, sizeof rs) == 0, "activation scales", (size_t)trial, 0);
        check(memcmp(rsum, gsum, sizeof rsum) == 0, "activation block sums", (size_t)trial, 0);
        if (per256) {  // one scale for each 256 values, their largest magnitude over 127
            int same = 1;
            for (size_t g = 0; g < N / 256; g++) {
                float amax = 0;
                for (size_t i = 256 * g; i < 256 * (g + 1); i++) amax = fabsf(x[i]) > amax ? fabsf(x[i]) : amax;
                for (size_t b = 8 * g; b < 8 * g + 8; b++) same &= rs[b] == (isfinite(amax) ? amax / 127.0f : 0.0f);
            }
            check(same, "activation scales per 256", (size_t)trial, 0);
        }
    }
}

static void test_weight_quantizers(tl_isa isa) {
    enum { ROWS = 64, COLS = 48, N = ROWS * COLS };
    static float x[N];
    static int8_t rq[N], gq[N];
    static uint16_t rs[N / 32], gs[N / 32];
    for (int trial = 0; trial < 20; trial++) {
        for (size_t i = 0; i < N; i++) x[i] = uniform() * (float)(trial + 1) * 0.1f;
        for (size_t i = 0; i < 32; i++) x[i] = 0;
        for (size_t i = 64; i < 96; i++) x[i] = (float)((int)i - 80) + 0.5f;  // halves, at scale 1
        x[64] = 127.0f;
        if (trial == 3) x[77] = NAN;
        tl_quant_stats rst = {0, 0, 0}, gst = {0, 0, 0};
        long rb, gb;
        WITH(TL_ISA_PORTABLE, rb = tl_quantize_q8_blocks(x, N, rq, rs, &rst));
        WITH(isa, gb = tl_quantize_q8_blocks(x, N, gq, gs, &gst));
        check(rb == gb && (rb >= 0 || (memcmp(rq, gq, N) == 0 && memcmp(rs, gs, sizeof rs) == 0)), "q8 blocks", (size_t)trial, 0);
        // The error report convert prints: sums in another order, so close rather than equal.
        check(rb >= 0 || (fabs(rst.sum_sq_err - gst.sum_sq_err) <= 1e-4 * rst.sum_sq_err && fabs(rst.sum_sq - gst.sum_sq) <= 1e-5 * rst.sum_sq
                          && fabsf(rst.max_abs_err - gst.max_abs_err) <= 1e-5f * rst.max_abs_err), "q8 block stats", (size_t)trial, 0);
        float rrow, grow;
        WITH(TL_ISA_PORTABLE, rb = tl_quantize_q8_row(x, N, rq, &rrow, NULL));
        WITH(isa, gb = tl_quantize_q8_row(x, N, gq, &grow, NULL));
        check(rb == gb && (rb >= 0 || (memcmp(rq, gq, N) == 0 && rrow == grow)), "q8 row", (size_t)trial, 0);
        static uint8_t r0[N / 32 * 34], g0[N / 32 * 34];
        if (trial == 5) x[200] = 9e6f;  // a scale of 70,866: more than f16 holds
        rst = gst = (tl_quant_stats){0, 0, 0};
        WITH(TL_ISA_PORTABLE, rb = tl_quantize_q8_0_ggml(x, N, r0, &rst));
        WITH(isa, gb = tl_quantize_q8_0_ggml(x, N, g0, &gst));
        check(rb == gb && (rb >= 0 || memcmp(r0, g0, sizeof r0) == 0), "ggml q8_0", (size_t)trial, 0);
        check(trial != 5 || rb == 192, "ggml q8_0 scale overflow", (size_t)trial, (size_t)rb);
        check(rb >= 0 || (fabs(rst.sum_sq_err - gst.sum_sq_err) <= 1e-4 * rst.sum_sq_err && fabs(rst.sum_sq - gst.sum_sq) <= 1e-5 * rst.sum_sq
                          && fabsf(rst.max_abs_err - gst.max_abs_err) <= 1e-5f * rst.max_abs_err && rst.sum_sq_err > 0), "ggml q8_0 stats", (size_t)trial, 0);
        WITH(TL_ISA_PORTABLE, rb = tl_quantize_q8_columns(x, ROWS, COLS, 0, COLS, rq, rs, NULL));
        WITH(isa, gb = tl_quantize_q8_columns(x, ROWS, COLS, 0, COLS, gq, gs, NULL));
        check(rb == gb && (rb >= 0 || (memcmp(rq, gq, N) == 0 && memcmp(rs, gs, sizeof rs) == 0)), "q8 columns", (size_t)trial, 0);
        // Columns of GGUF's Q8_0: the same bytes as transposing, then quantizing each row; a
        // band with ragged edges (columns 5 to 42) leaves the rest of the output alone.
        static float t[N];
        static uint8_t rt[N / 32 * 34];
        for (size_t r = 0; r < ROWS; r++)
            for (size_t c = 0; c < COLS; c++) t[c * ROWS + r] = x[r * COLS + c];
        WITH(TL_ISA_PORTABLE, rb = tl_quantize_q8_0_ggml(t, N, rt, NULL));
        const size_t c0 = trial % 2 ? 5 : 0, c1 = trial % 2 ? 43 : COLS, rowBytes = ROWS / 32 * 34;
        memset(g0, 0xa5, sizeof g0);
        WITH(isa, gb = tl_quantize_q8_0_ggml_columns(x, ROWS, COLS, c0, c1, g0, NULL));
        const int bandBad = rb >= 0 && (size_t)rb / ROWS >= c0 && (size_t)rb / ROWS < c1;
        const long want = bandBad ? (long)((size_t)rb % ROWS * COLS + (size_t)rb / ROWS) : -1;
        int same = 1;
        for (size_t c = 0; c < COLS && gb < 0; c++)
            for (size_t k = 0; k < rowBytes; k++)
                same &= g0[c * rowBytes + k] == (c >= c0 && c < c1 ? rt[c * rowBytes + k] : 0xa5);
        check(gb == want && same, "ggml q8_0 columns", (size_t)trial, (size_t)gb);
    }
}

static void test_gemms(tl_isa isa) {
    enum { N = 96, ROWS = 41, T = 9 };
    static int8_t w[ROWS * N], x[T * N];
    static uint16_t ws[ROWS * N / 32];
    static float rowscale[ROWS], xf[T * N], xs[T * N / 32], wf[ROWS * N], ry[T * ROWS], gy[T * ROWS];
    static int32_t sums[T * N / 32];
    static uint16_t wh[ROWS * N], wb[ROWS * N];
    for (size_t i = 0; i < ROWS * N; i++) {
        w[i] = int8();
        wf[i] = uniform();
        wh[i] = f16_bits(wf[i]);
        uint32_t bits;
        memcpy(&bits, &wf[i], 4);
        wb[i] = (uint16_t)(bits >> 16);
    }
    for (size_t i = 0; i < ROWS * N / 32; i++) ws[i] = f16_bits(0.001f + fabsf(uniform()) * 0.01f);
    for (size_t r = 0; r < ROWS; r++) rowscale[r] = 0.001f + fabsf(uniform()) * 0.01f;
    for (size_t i = 0; i < T * N; i++) xf[i] = uniform();
    WITH(TL_ISA_PORTABLE, tl_quantize_activations(xf, T * N, x, xs, sums));
    const double mag = 127.0 * 127.0 * N * 0.011 * 0.01;
    const size_t tokens[] = {1, 3, 4, 5, 9};
    for (size_t k = 0; k < sizeof tokens / sizeof *tokens; k++) {
        const size_t t = tokens[k];
        for (int rowwise = 0; rowwise < 2; rowwise++) {
            WITH(TL_ISA_PORTABLE, tl_gemm_q8(w, rowwise ? NULL : ws, rowwise ? rowscale : NULL, N, 3, ROWS, x, xs, sums, t, NULL, ry, ROWS));
            const void *given = rowwise ? arranged_tokens(isa, x, xs, sums, N, t) : NULL;
            WITH(isa, tl_gemm_q8(before_guard_page(GUARD_WEIGHTS, w, sizeof w), rowwise ? NULL : ws, rowwise ? rowscale : NULL, N, 3, ROWS,
                                 before_guard_page(GUARD_TOKENS, x, t * N), before_guard_page(GUARD_SCALES, xs, t * N / 32 * sizeof *xs),
                                 before_guard_page(GUARD_SUMS, sums, t * N / 32 * sizeof *sums), t, given, gy, ROWS));
            int ok = 1;
            for (size_t j = 0; j < t; j++) for (size_t r = 3; r < ROWS; r++) ok &= close_to(gy[j * ROWS + r], ry[j * ROWS + r], mag);
            check(ok, rowwise ? "q8-row GEMM" : "q8 GEMM", t, ROWS);
        }
        // Rows of 96, and of 93 (a tail past the tiles' steps of 8 or 16 columns).
        static const tl_weight_type types[] = {TL_WEIGHTS_F32, TL_WEIGHTS_F16, TL_WEIGHTS_BF16};
        static const char *const type_names[] = {"f32 GEMM", "f16 GEMM", "bf16 GEMM"};
        for (int type = 0; type < 3; type++)
            for (size_t n = N; n + 3 >= N; n -= 3) {
                const void *weights = type == 0 ? (const void *)wf : type == 1 ? (const void *)wh : (const void *)wb;
                const size_t bytes = ROWS * n * (type == 0 ? 4 : 2);
                WITH(TL_ISA_PORTABLE, tl_gemm_float(weights, types[type], n, 0, ROWS, xf, t, ry, ROWS));
                WITH(isa, tl_gemm_float(before_guard_page(GUARD_WEIGHTS, weights, bytes), types[type], n, 0, ROWS,
                                        before_guard_page(GUARD_TOKENS, xf, t * n * sizeof *xf), t, gy, ROWS));
                int ok = 1;
                for (size_t j = 0; j < t * ROWS; j++) ok &= close_to(gy[j], ry[j], (double)n);
                check(ok, type_names[type], t, n);
            }
    }
}

static void test_compare(tl_isa isa) {
    enum { N = 3000 };
    static float a[N + 1], b[N + 1];
    for (size_t i = 0; i <= N; i++) { a[i] = uniform(); b[i] = i % 5 ? a[i] : a[i] + 0.01f * uniform(); }
    const size_t lengths[] = {0, 1, 15, 16, 17, 1024, 1025, 3000};
    for (size_t k = 0; k < sizeof lengths / sizeof *lengths; k++) {
        double r[5], g[5];
        WITH(TL_ISA_PORTABLE, tl_compare_f32(a + 1, b + 1, lengths[k], r));
        WITH(isa, tl_compare_f32(a + 1, b + 1, lengths[k], g));
        int ok = 1;
        for (int j = 0; j < 5; j++) ok &= close_to(g[j], r[j], fabs(r[j]));
        check(ok, "compare", lengths[k], 0);
    }
}

enum { DH = 64, COUNT = 37 };

// One query against 1, 7, … 37 cached positions of keys and values in `type`; with a soft
// cap on every other count when cap > 0.
static void check_attention(tl_isa isa, const float *q, const void *keys, const void *values, tl_weight_type type, float cap,
                            const char *label) {
    static float scores[COUNT], ro[DH], go[DH];
    for (size_t count = 1; count <= COUNT; count += 6) {
        const float c = count % 2 ? 0.0f : cap;
        WITH(TL_ISA_PORTABLE, tl_attend(q, keys, values, type, DH, count, DH, 0.125f, c, scores, ro));
        WITH(isa, tl_attend(q, keys, values, type, DH, count, DH, 0.125f, c, scores, go));
        int ok = 1;
        for (size_t i = 0; i < DH; i++) ok &= close_to(go[i], ro[i], 10);
        check(ok, label, count, DH);
    }
}

// Keys and values as a q8 cache holds them: ggml's Q8_0 blocks (an f16 scale of 2^-7 …
// 2^-4, then 32 int8), `blocks` of each.
static void make_q8_cache(uint8_t *keys, uint8_t *values, size_t blocks) {
    for (size_t b = 0; b < blocks; b++) {
        const uint16_t ks = (uint16_t)(0x2000 + (b * 37) % 0x0c00), vs = (uint16_t)(0x2400 + (b * 53) % 0x0800);
        memcpy(keys + b * 34, &ks, 2);
        memcpy(values + b * 34, &vs, 2);
        for (size_t j = 0; j < 32; j++) {
            keys[b * 34 + 2 + j] = (uint8_t)(int8_t)((int)((b * 32 + j) * 2654435761u >> 24) - 128);
            values[b * 34 + 2 + j] = (uint8_t)(int8_t)((int)((b * 32 + j) * 40503u >> 8 & 255) - 128);
        }
    }
}

// f32 → f16 (the KV cache's rows): every f16 value and the midpoints between neighbours,
// against the portable rounding.
static void test_narrowing(tl_isa isa) {
    enum { N = 3 * 0x7c00 + 4 };
    static float x[N];
    static uint16_t r[N], g[N];
    static uint16_t all[0x7c01];
    static float widened[0x7c01];
    for (uint16_t b = 0; b <= 0x7c00; b++) all[b] = b;
    tl_widen_f16(all, 0x7c01, widened);
    size_t n = 0;
    for (uint16_t b = 0; b < 0x7c00; b++) {
        const float a = widened[b], c = widened[b + 1];
        x[n++] = a;
        x[n++] = -(a + c) / 2;
        x[n++] = (a + c) / 2;
    }
    x[n++] = 65519.996f;
    x[n++] = 65520.0f;
    x[n++] = 1e30f;
    x[n++] = -INFINITY;
    WITH(TL_ISA_PORTABLE, tl_narrow_f16(x, n, r));
    WITH(isa, tl_narrow_f16(x, n, g));
    int same = 1;
    for (size_t i = 0; i < n; i++) same &= g[i] == r[i];
    check(same, "f32 to f16", n, 0);
    check(r[3 * 0x3c00] == 0x3c00 && r[3 * 0x3c00 + 2] == 0x3c00 && r[3 * 0x3c01 + 2] == 0x3c02 && r[n - 3] == 0x7c00 && r[n - 4] == 0x7bff,
          "f32 to f16, ties to even", 0, 0);
}

static void test_attention_gelu_transpose(tl_isa isa) {
    static float q[DH], keys[COUNT * DH], values[COUNT * DH];
    for (size_t i = 0; i < DH; i++) q[i] = uniform();
    for (size_t i = 0; i < COUNT * DH; i++) { keys[i] = uniform(); values[i] = uniform(); }
    check_attention(isa, q, keys, values, TL_WEIGHTS_F32, 1.5f, "attention");
    // An f16 cache: the same keys and values narrowed, widened as they are read.
    static uint16_t keys16[COUNT * DH], values16[COUNT * DH];
    // Finite f16 bit patterns of both signs below 1 (exponent field under 15).
    for (size_t i = 0; i < COUNT * DH; i++) {
        keys16[i] = (uint16_t)(((i * 2654435761u) >> 9) & 0xbbff);
        values16[i] = (uint16_t)(((i * 40503u + 7) >> 3) & 0xbbff);
    }
    check_attention(isa, q, keys16, values16, TL_WEIGHTS_F16, 0, "attention f16");
    // A q8 cache: ggml's Q8_0 blocks (an f16 scale, 32 int8), two per position of 64.
    static uint8_t keys8[COUNT * DH / 32 * 34], values8[COUNT * DH / 32 * 34];
    make_q8_cache(keys8, values8, COUNT * DH / 32);
    check_attention(isa, q, keys8, values8, TL_WEIGHTS_Q8_0, 0, "attention q8");
    {
        size_t starts[4] = {0, 9, 0, 30}, ends[4] = {COUNT, COUNT - 2, 1, COUNT};
        static float qs[4 * DH], r4[4 * DH], g4[4 * DH];
        for (size_t i = 0; i < 4 * DH; i++) qs[i] = uniform();
        WITH(TL_ISA_PORTABLE, tl_attend_queries(qs, DH, 4, keys8, values8, TL_WEIGHTS_Q8_0, DH, starts, ends, DH, 0.125f, 0, r4, DH));
        WITH(isa, tl_attend_queries(qs, DH, 4, keys8, values8, TL_WEIGHTS_Q8_0, DH, starts, ends, DH, 0.125f, 0, g4, DH));
        int ok = 1;
        for (size_t i = 0; i < 4 * DH; i++) ok &= close_to(g4[i], r4[i], 10);
        check(ok, "prompt attention q8", 4, DH);
    }
    // A prompt's queries at once (the tiled online softmax): up to 8 queries, each over its
    // own range of positions (one starting late, one seeing a single key), across tiles of
    // keys, f32 and f16, with and without the soft cap.
    enum { P = 150, NQ = 8 };
    static float pk[P * DH], pv[P * DH], pq[NQ * DH], pr[NQ * DH], pg[NQ * DH];
    static uint16_t pk16[P * DH], pv16[P * DH];
    for (size_t i = 0; i < P * DH; i++) {
        pk[i] = uniform(); pv[i] = uniform();
        pk16[i] = (uint16_t)(((i * 2654435761u) >> 9) & 0xbbff);
        pv16[i] = (uint16_t)(((i * 40503u + 7) >> 3) & 0xbbff);
    }
    for (size_t i = 0; i < NQ * DH; i++) pq[i] = uniform();
    for (size_t nq = 2; nq <= NQ; nq++) {
        for (int f16 = 0; f16 <= 1; f16++) {
            size_t starts[NQ], ends[NQ];
            for (size_t i = 0; i < nq; i++) { starts[i] = i == 1 ? 70 : 0; ends[i] = i == 2 ? 1 : P - nq + i + 1; }
            const void *k = f16 ? (const void *)pk16 : (const void *)pk, *v = f16 ? (const void *)pv16 : (const void *)pv;
            const tl_weight_type type = f16 ? TL_WEIGHTS_F16 : TL_WEIGHTS_F32;
            const float cap = nq == 5 ? 1.5f : 0.0f;
            WITH(TL_ISA_PORTABLE, tl_attend_queries(pq, DH, nq, k, v, type, DH, starts, ends, DH, 0.125f, cap, pr, DH));
            WITH(isa, tl_attend_queries(pq, DH, nq, k, v, type, DH, starts, ends, DH, 0.125f, cap, pg, DH));
            int same = 1;
            for (size_t i = 0; i < nq * DH; i++) same &= close_to(pg[i], pr[i], 10);
            check(same, f16 ? "prompt attention f16" : "prompt attention", nq, DH);
        }
    }
    // More queries than a kernel takes (eight; 32 for the AVX-512 block kernel), split and
    // each group attending causally over tiles of keys, with a sliding window and the soft
    // cap on some, the three cache types.
    {
        enum { MQ = 41 };
        static float mq[MQ * DH], mr[MQ * DH], mg[MQ * DH];
        static uint8_t mk8[P * DH / 32 * 34], mv8[P * DH / 32 * 34];
        for (size_t i = 0; i < MQ * DH; i++) mq[i] = uniform();
        make_q8_cache(mk8, mv8, P * DH / 32);
        const size_t counts[] = {9, 16, 17, 31, 32, 33, MQ};
        for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
            const size_t nq = counts[c];
            for (int t = 0; t < 3; t++) {
                size_t starts[MQ], ends[MQ];
                for (size_t i = 0; i < nq; i++) {
                    ends[i] = P - nq + i + 1;
                    starts[i] = t == 1 && ends[i] > 45 ? ends[i] - 45 : 0;  // a window of 45 on the f16 cache
                }
                const tl_weight_type type = t == 0 ? TL_WEIGHTS_F32 : t == 1 ? TL_WEIGHTS_F16 : TL_WEIGHTS_Q8_0;
                const void *k = t == 0 ? (const void *)pk : t == 1 ? (const void *)pk16 : (const void *)mk8;
                const void *v = t == 0 ? (const void *)pv : t == 1 ? (const void *)pv16 : (const void *)mv8;
                const float cap = (nq + t) % 2 == 0 ? 1.5f : 0.0f;
                WITH(TL_ISA_PORTABLE, tl_attend_queries(mq, DH, nq, k, v, type, DH, starts, ends, DH, 0.125f, cap, mr, DH));
                WITH(isa, tl_attend_queries(mq, DH, nq, k, v, type, DH, starts, ends, DH, 0.125f, cap, mg, DH));
                int same = 1;
                for (size_t i = 0; i < nq * DH; i++) same &= close_to(mg[i], mr[i], 10);
                check(same, t == 0 ? "prompt attention, many queries, f32" : t == 1 ? "prompt attention, many queries, f16 window"
                                                                                   : "prompt attention, many queries, q8", nq, DH);
            }
        }
    }
    // Widths whose last columns take a narrower register block (AVX2: 8 of 16; NEON: 4, 8
    // or 12 of 16), and one no kernel takes (12 on x86, the per-query path).
    {
        const size_t widths[] = {12, 20, 24, 40};
        static float wq[19 * 40], wr[19 * 40], wg[19 * 40];
        for (size_t i = 0; i < 19 * 40; i++) wq[i] = uniform();
        for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
            const size_t dh = widths[w], nq = 19;
            size_t starts[19], ends[19];
            for (size_t i = 0; i < nq; i++) { starts[i] = i == 3 ? 60 : 0; ends[i] = P - nq + i + 1; }
            WITH(TL_ISA_PORTABLE, tl_attend_queries(wq, dh, nq, pk, pv, TL_WEIGHTS_F32, dh, starts, ends, dh, 0.125f, 0, wr, dh));
            WITH(isa, tl_attend_queries(wq, dh, nq, pk, pv, TL_WEIGHTS_F32, dh, starts, ends, dh, 0.125f, 0, wg, dh));
            int same = 1;
            for (size_t i = 0; i < nq * dh; i++) same &= close_to(wg[i], wr[i], 10);
            check(same, "prompt attention, narrow widths", nq, dh);
        }
    }
    // A head's positions in two parts, merged from the partial results' maxima and sums,
    // give what the whole range gives (on each variant, the per-query path included).
    for (size_t nq = 1; nq <= NQ; nq += 3) {
        size_t starts[NQ], mids[NQ], ends[NQ];
        for (size_t i = 0; i < nq; i++) { starts[i] = i; mids[i] = 61 + 7 * i; ends[i] = P - i; }
        static float part1[NQ * DH], part2[NQ * DH], stats1[2 * NQ], stats2[2 * NQ];
        WITH(isa, tl_attend_queries(pq, DH, nq, pk16, pv16, TL_WEIGHTS_F16, DH, starts, ends, DH, 0.125f, 0, pr, DH));
        WITH(isa, tl_attend_queries_partial(pq, DH, nq, pk16, pv16, TL_WEIGHTS_F16, DH, starts, mids, DH, 0.125f, 0, part1, DH, stats1));
        WITH(isa, tl_attend_queries_partial(pq, DH, nq, pk16, pv16, TL_WEIGHTS_F16, DH, mids, ends, DH, 0.125f, 0, part2, DH, stats2));
        int same = 1;
        for (size_t i = 0; i < nq; i++) {
            const float top = stats1[2 * i] > stats2[2 * i] ? stats1[2 * i] : stats2[2 * i];
            const float w1 = stats1[2 * i + 1] * expf(stats1[2 * i] - top), w2 = stats2[2 * i + 1] * expf(stats2[2 * i] - top);
            for (size_t c = 0; c < DH; c++) same &= close_to((w1 * part1[i * DH + c] + w2 * part2[i * DH + c]) / (w1 + w2), pr[i * DH + c], 10);
        }
        check(same, "prompt attention in parts", nq, DH);
    }
    // Decoding: the query heads that share a key/value head see the same positions (the
    // group kernel: tiles widened to f32, eight keys' scores a register), for every query
    // count, cache type and a range within one tile, across tiles and not tile-aligned,
    // with and without the soft cap; and in two parts merged from their maxima and sums.
    {
        static uint8_t gk8[P * DH / 32 * 34], gv8[P * DH / 32 * 34];
        make_q8_cache(gk8, gv8, P * DH / 32);
        const size_t ranges[][2] = {{0, 1}, {3, 10}, {0, 32}, {5, 150}, {64, 97}};
        for (size_t nq = 1; nq <= NQ; nq++) {
            for (int t = 0; t < 3; t++) {
                for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
                    size_t starts[NQ], ends[NQ];
                    for (size_t i = 0; i < nq; i++) { starts[i] = ranges[r][0]; ends[i] = ranges[r][1]; }
                    const tl_weight_type type = t == 0 ? TL_WEIGHTS_F32 : t == 1 ? TL_WEIGHTS_F16 : TL_WEIGHTS_Q8_0;
                    const void *k = t == 0 ? (const void *)pk : t == 1 ? (const void *)pk16 : (const void *)gk8;
                    const void *v = t == 0 ? (const void *)pv : t == 1 ? (const void *)pv16 : (const void *)gv8;
                    const float cap = (nq + r) % 3 == 0 ? 1.5f : 0.0f;
                    WITH(TL_ISA_PORTABLE, tl_attend_queries(pq, DH, nq, k, v, type, DH, starts, ends, DH, 0.125f, cap, pr, DH));
                    WITH(isa, tl_attend_queries(pq, DH, nq, k, v, type, DH, starts, ends, DH, 0.125f, cap, pg, DH));
                    int same = 1;
                    for (size_t i = 0; i < nq * DH; i++) same &= close_to(pg[i], pr[i], 10);
                    check(same, t == 0 ? "decode attention f32" : t == 1 ? "decode attention f16" : "decode attention q8", nq, DH);
                }
            }
            size_t starts[NQ], mids[NQ], ends[NQ];
            for (size_t i = 0; i < nq; i++) { starts[i] = 2; mids[i] = 77; ends[i] = P; }
            static float part1[NQ * DH], part2[NQ * DH], stats1[2 * NQ], stats2[2 * NQ];
            WITH(isa, tl_attend_queries(pq, DH, nq, pk16, pv16, TL_WEIGHTS_F16, DH, starts, ends, DH, 0.125f, 0, pr, DH));
            WITH(isa, tl_attend_queries_partial(pq, DH, nq, pk16, pv16, TL_WEIGHTS_F16, DH, starts, mids, DH, 0.125f, 0, part1, DH, stats1));
            WITH(isa, tl_attend_queries_partial(pq, DH, nq, pk16, pv16, TL_WEIGHTS_F16, DH, mids, ends, DH, 0.125f, 0, part2, DH, stats2));
            int same = 1;
            for (size_t i = 0; i < nq; i++) {
                const float top = stats1[2 * i] > stats2[2 * i] ? stats1[2 * i] : stats2[2 * i];
                const float w1 = stats1[2 * i + 1] * expf(stats1[2 * i] - top), w2 = stats2[2 * i + 1] * expf(stats2[2 * i] - top);
                for (size_t c = 0; c < DH; c++) same &= close_to((w1 * part1[i * DH + c] + w2 * part2[i * DH + c]) / (w1 + w2), pr[i * DH + c], 10);
            }
            check(same, "decode attention in parts", nq, DH);
        }
        // Head widths below and between the kernels' blocks of 32 and 64 columns, so the last
        // columns of a head take the narrowest block (8 on AVX2, 4 on NEON); every group size,
        // f32 and f16.
        const size_t widths[] = {8, 24, 40};
        for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
            const size_t dh = widths[w];
            for (size_t nq = 1; nq <= NQ; nq++) {
                for (int f16 = 0; f16 <= 1; f16++) {
                    size_t starts[NQ], ends[NQ];
                    for (size_t i = 0; i < nq; i++) { starts[i] = 5; ends[i] = P; }
                    const void *k = f16 ? (const void *)pk16 : (const void *)pk, *v = f16 ? (const void *)pv16 : (const void *)pv;
                    const tl_weight_type type = f16 ? TL_WEIGHTS_F16 : TL_WEIGHTS_F32;
                    WITH(TL_ISA_PORTABLE, tl_attend_queries(pq, dh, nq, k, v, type, dh, starts, ends, dh, 0.125f, 0, pr, dh));
                    WITH(isa, tl_attend_queries(pq, dh, nq, k, v, type, dh, starts, ends, dh, 0.125f, 0, pg, dh));
                    int same = 1;
                    for (size_t i = 0; i < nq * dh; i++) same &= close_to(pg[i], pr[i], 10);
                    check(same, f16 ? "decode attention f16, narrow heads" : "decode attention, narrow heads", nq, dh);
                }
            }
        }
    }
    static float rg[101], gg[101];
    for (size_t i = 0; i < 101; i++) rg[i] = gg[i] = (float)((int)i - 50) * 0.17f;
    WITH(TL_ISA_PORTABLE, tl_gelu(rg, 101));
    WITH(isa, tl_gelu(gg, 101));
    int ok = 1;
    for (size_t i = 0; i < 101; i++) ok &= fabsf(gg[i] - rg[i]) <= 2e-6f * (fabsf(rg[i]) > 1 ? fabsf(rg[i]) : 1);
    check(ok, "GELU", 101, 0);
    static float ry[203], gy[203], gate[203];
    for (size_t i = 0; i < 203; i++) { gate[i] = (float)((int)i - 101) * 0.31f; ry[i] = gy[i] = (float)(i % 5) - 2.0f; }
    WITH(TL_ISA_PORTABLE, tl_silu_mul(ry, gate, 203));
    WITH(isa, tl_silu_mul(gy, gate, 203));
    ok = 1;
    for (size_t i = 0; i < 203; i++) ok &= fabsf(gy[i] - ry[i]) <= 2e-6f * (fabsf(ry[i]) > 1 ? fabsf(ry[i]) : 1);
    check(ok, "SiLU", 203, 0);
    enum { R = 37, C = 45 };
    static float src[R * C], rt[R * C], gt[R * C];
    for (size_t i = 0; i < R * C; i++) src[i] = uniform();
    WITH(TL_ISA_PORTABLE, tl_transpose_f32(src, R, C, 0, C, rt));
    WITH(isa, tl_transpose_f32(src, R, C, 0, C, gt));
    check(memcmp(rt, gt, sizeof rt) == 0, "transpose", R, C);
}

// ggml block rows (random bytes with finite scales of a real file's size) against the
// portable definitions, for decoding (rows · x) and prompts (rows × tokens).
// Rows longer than the 16,384 values a product arranges at a time (blocks.c), whose
// segments' partial sums must add up; for the blocks of 32, a row's last blocks short of an
// eight (16,800 values: 525 blocks) take the tail kernel.
static void test_long_rows(tl_isa isa) {
    enum { LONGEST = 17152, ROWS = 3 };
    static const struct { tl_block_type type; size_t n, bytes, d_at; int dmin; const char *name; } kinds[] = {
        {TL_BLOCKS_Q4_K, 17152, 144, 0, 1, "Q4_K rows of 17,152"}, {TL_BLOCKS_Q5_K, 17152, 176, 0, 1, "Q5_K rows of 17,152"},
        {TL_BLOCKS_Q6_K, 17152, 210, 208, 0, "Q6_K rows of 17,152"}, {TL_BLOCKS_Q4_0, 16800, 18, 0, 0, "Q4_0 rows of 16,800"},
        {TL_BLOCKS_Q4_1, 16800, 20, 0, 1, "Q4_1 rows of 16,800"},     {TL_BLOCKS_Q5_0, 16800, 22, 0, 0, "Q5_0 rows of 16,800"},
        {TL_BLOCKS_Q5_1, 16800, 24, 0, 1, "Q5_1 rows of 16,800"},     {TL_BLOCKS_IQ4_NL, 16800, 18, 0, 0, "IQ4_NL rows of 16,800"},
        {TL_BLOCKS_IQ4_XS, 17152, 136, 0, 0, "IQ4_XS rows of 17,152"}, {TL_BLOCKS_Q2_K, 17152, 84, 80, 1, "Q2_K rows of 17,152"},
        {TL_BLOCKS_Q3_K, 17152, 110, 108, 0, "Q3_K rows of 17,152"}};
    static uint8_t w[ROWS * LONGEST / 256 * 210];
    static int8_t x[LONGEST];
    static float xf[LONGEST], xs[LONGEST / 32], ry[ROWS], gy[ROWS];
    static int32_t sums[LONGEST / 32];
    for (size_t i = 0; i < LONGEST; i++) xf[i] = uniform();
    // The 256-value types with activations scaled per 256 too, as the runner gives them.
    for (int per256 = 0; per256 < 2; per256++) {
        WITH(TL_ISA_PORTABLE, (per256 ? tl_quantize_activations_256 : tl_quantize_activations)(xf, LONGEST, x, xs, sums));
        for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
            const size_t n = kinds[k].n, per = kinds[k].n % 256 ? 32 : 256;  // the 256-value types are given 17,152
            if (per256 && per == 32) continue;
            for (size_t i = 0; i < sizeof w; i++) w[i] = (uint8_t)next();
            for (size_t b = 0; b < ROWS * n / per; b++) {
                const uint16_t d = f16_bits(0.001f + fabsf(uniform()) * 0.01f), dmin = f16_bits(fabsf(uniform()) * 0.01f);
                memcpy(w + kinds[k].bytes * b + kinds[k].d_at, &d, 2);
                if (kinds[k].dmin) memcpy(w + kinds[k].bytes * b + kinds[k].d_at + 2, &dmin, 2);
            }
            WITH(TL_ISA_PORTABLE, tl_dot_blocks_rows(kinds[k].type, w, n, 0, ROWS, x, xs, sums, ry));
            WITH(isa, tl_dot_blocks_rows(kinds[k].type, w, n, 0, ROWS, x, xs, sums, gy));
            int ok = 1;
            for (size_t r = 0; r < ROWS; r++) ok &= close_to(gy[r], ry[r], 2000);
            check(ok, kinds[k].name, n, per256 ? 256 : 32);
        }
    }
}

// Short rows of blocks of 32 that are not whole eights (Qwen2.5-0.5B's rows of 896 are
// three eights and four blocks), one to seven blocks past the last eight or none at all,
// each row's weights and the tokens, scales and sums ending at a guard page.
static void test_short_block_rows(tl_isa isa) {
    enum { ROWS = 5, LONGEST = 896 };
    static const size_t widths[] = {64, 192, 256, 288, 352, 480, 896};
    static const struct { tl_block_type type; size_t bytes; int two; const char *name; } kinds[] = {
        {TL_BLOCKS_Q4_0, 18, 0, "Q4_0 short rows"}, {TL_BLOCKS_Q4_1, 20, 1, "Q4_1 short rows"}, {TL_BLOCKS_Q5_0, 22, 0, "Q5_0 short rows"},
        {TL_BLOCKS_Q5_1, 24, 1, "Q5_1 short rows"}, {TL_BLOCKS_IQ4_NL, 18, 0, "IQ4_NL short rows"}, {TL_BLOCKS_Q8_0, 34, 0, "Q8_0 short rows"}};
    static uint8_t w[ROWS * LONGEST / 32 * 34];
    static int8_t x[LONGEST];
    static float xf[LONGEST], xs[LONGEST / 32], ry[ROWS], gy[ROWS];
    static int32_t sums[LONGEST / 32];
    for (size_t i = 0; i < LONGEST; i++) xf[i] = uniform();
    WITH(TL_ISA_PORTABLE, tl_quantize_activations(xf, LONGEST, x, xs, sums));
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
        for (size_t c = 0; c < sizeof widths / sizeof *widths; c++) {
            const size_t n = widths[c], blocks = ROWS * n / 32;
            for (size_t i = 0; i < blocks * kinds[k].bytes; i++) w[i] = (uint8_t)next();
            for (size_t b = 0; b < blocks; b++) {
                const uint16_t d = f16_bits(0.001f + fabsf(uniform()) * 0.01f), m = f16_bits(uniform() * 0.01f);
                memcpy(w + kinds[k].bytes * b, &d, 2);
                if (kinds[k].two) memcpy(w + kinds[k].bytes * b + 2, &m, 2);
                if (kinds[k].type == TL_BLOCKS_Q8_0)
                    for (size_t i = 2; i < 34; i++) if (w[34 * b + i] == 0x80) w[34 * b + i] = 0x81;  // ggml's range is ±127
            }
            WITH(TL_ISA_PORTABLE, tl_dot_blocks_rows(kinds[k].type, w, n, 0, ROWS, x, xs, sums, ry));
            WITH(isa, tl_dot_blocks_rows(kinds[k].type, before_guard_page(GUARD_WEIGHTS, w, blocks * kinds[k].bytes), n, 0, ROWS,
                                         before_guard_page(GUARD_TOKENS, x, n), before_guard_page(GUARD_SCALES, xs, n / 32 * sizeof *xs),
                                         before_guard_page(GUARD_SUMS, sums, n / 32 * sizeof *sums), gy));
            int ok = 1;
            for (size_t r = 0; r < ROWS; r++) ok &= close_to(gy[r], ry[r], 100);
            check(ok, kinds[k].name, n, 32);
        }
}

static void test_blocks(tl_isa isa) {
    enum { N = 768, ROWS = 19, T = 7 };
    static uint8_t w[ROWS * 34 * (N / 32)];  // Q8_0 takes the most bytes per value
    static int8_t x[T * N];
    static float xf[T * N], xs[T * N / 32], ry[T * ROWS], gy[T * ROWS];
    static int32_t sums[T * N / 32];
    static const char *names[TL_BLOCK_TYPE_COUNT] = {"Q8_0 rows", "Q4_0 rows", "Q4_K rows", "Q5_K rows", "Q6_K rows", "Q4_1 rows",
                                                     "Q5_0 rows", "Q5_1 rows", "Q2_K rows", "Q3_K rows", "IQ4_NL rows", "IQ4_XS rows"};
    static const size_t per[TL_BLOCK_TYPE_COUNT] = {32, 32, 256, 256, 256, 32, 32, 32, 256, 256, 32, 256};
    // Where each type's f16 d (and a second f16, dmin or m, right after it) lies in a block.
    static const size_t d_at[TL_BLOCK_TYPE_COUNT] = {0, 0, 0, 0, 208, 0, 0, 0, 80, 108, 0, 0};
    static const int two[TL_BLOCK_TYPE_COUNT] = {0, 0, 1, 1, 0, 1, 0, 1, 1, 0, 0, 0};
    for (size_t i = 0; i < T * N; i++) xf[i] = uniform();
    for (size_t i = 0; i < N; i++) xf[i] = i % 2 ? 1.0f : -1.0f;  // token 0 at the ±127 extremes
    for (size_t i = N; i < 2 * N; i++) xf[i] = 1.0f;               // token 1 all 127
    // Activations with a scale per 32, then per 256, whose super-blocks' blocks the kernels
    // over 256-value types add in integers. Random bytes, then every bit set: each value the
    // type's largest, against token 1 the largest sums the int16 steps of the prompt kernels
    // can meet.
    for (int per256 = 0; per256 < 2; per256++) {
        WITH(TL_ISA_PORTABLE, (per256 ? tl_quantize_activations_256 : tl_quantize_activations)(xf, T * N, x, xs, sums));
        for (int fill = 0; fill < 2; fill++)
        for (int type = 0; type < TL_BLOCK_TYPE_COUNT; type++) {
            const size_t row = tl_block_row_bytes((tl_block_type)type, N), bytes = row / (N / per[type]);
            for (size_t i = 0; i < ROWS * row; i++) w[i] = fill ? 0xFF : (uint8_t)next();
            if (type == TL_BLOCKS_Q8_0) for (size_t i = 0; i < ROWS * row; i++) if (w[i] == 0x80) w[i] = 0x81;  // ggml's range is ±127
            for (size_t b = 0; b < ROWS * row / bytes; b++) {
                uint8_t *block = w + b * bytes;
                const uint16_t d = f16_bits(0.001f + fabsf(uniform()) * 0.01f), dmin = f16_bits(fabsf(uniform()) * 0.01f);
                memcpy(block + d_at[type], &d, 2);
                if (two[type]) memcpy(block + d_at[type] + 2, &dmin, 2);
            }
            const double mag = fill ? 1e5 : 100;  // Σ|w·x| of a row is about 20 here, up to 15,000 when filled
            int ok = 1;
            for (size_t t = 0; t < T; t += 2) {  // tokens 0 (its runs of 16 sum to 0), 2 and 4 (random)
                const size_t at = t * N;
                WITH(TL_ISA_PORTABLE, tl_dot_blocks_rows((tl_block_type)type, w, N, 2, ROWS, x + at, xs + at / 32, sums + at / 32, ry));
                WITH(isa, tl_dot_blocks_rows((tl_block_type)type, before_guard_page(GUARD_WEIGHTS, w, ROWS * row), N, 2, ROWS,
                                             before_guard_page(GUARD_TOKENS, x + at, N), before_guard_page(GUARD_SCALES, xs + at / 32, N / 32 * sizeof *xs),
                                             before_guard_page(GUARD_SUMS, sums + at / 32, N / 32 * sizeof *sums), gy));
                for (size_t r = 2; r < ROWS; r++) ok &= close_to(gy[r], ry[r], mag);
            }
            check(ok, names[type], N, per256 ? 256 : 32);
            // Tokens that take the row·vector kernels (1, 3), and the tiles' every width (4 + 1 … 3).
            static const size_t counts[] = {1, 3, 5, 6, 7};
            for (size_t c = 0; c < sizeof counts / sizeof *counts; c++) {
                const size_t t = counts[c];
                WITH(TL_ISA_PORTABLE, tl_gemm_blocks((tl_block_type)type, w, N, 1, ROWS, x, xs, sums, t, NULL, ry, ROWS));
                // Activations arranged per call, arranged once (tl_arrange_tokens), and arranged
                // for other tokens (one fewer: not to be used).
                for (int way = 0; way < 3; way++) {
                    const void *given = way == 0 ? NULL : arranged_tokens(isa, x, xs, sums, N, way == 1 ? t : t - 1);
                    for (size_t i = 0; i < T * ROWS; i++) gy[i] = 12345.0f;  // row 0, outside the range, stays
                    WITH(isa, tl_gemm_blocks((tl_block_type)type, before_guard_page(GUARD_WEIGHTS, w, ROWS * row), N, 1, ROWS,
                                             before_guard_page(GUARD_TOKENS, x, t * N), before_guard_page(GUARD_SCALES, xs, t * N / 32 * sizeof *xs),
                                             before_guard_page(GUARD_SUMS, sums, t * N / 32 * sizeof *sums), t, given, gy, ROWS));
                    ok = 1;
                    for (size_t j = 0; j < t; j++) for (size_t r = 1; r < ROWS; r++) ok &= close_to(gy[j * ROWS + r], ry[j * ROWS + r], mag);
                    for (size_t j = 0; j < T; j++) ok &= gy[j * ROWS] == 12345.0f;
                    for (size_t i = t * ROWS; i < T * ROWS; i++) ok &= gy[i] == 12345.0f;
                    check(ok, names[type], t, per256 ? 256 : 32);
                }
            }
        }
    }
}

// ggml's own bytes for the block quantizers (fixtures/gguf/quantizer-goldens.gguf, made by
// fixtures/scripts/make_quant_writer_goldens.py with ggml_quantize_chunk): a minimal GGUF
// reading, enough for that file (string keys only), then every type compared byte for byte.
static unsigned char *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *bytes = malloc(*size);
    if (fread(bytes, 1, *size, f) != *size) { free(bytes); bytes = NULL; }
    fclose(f);
    return bytes;
}

static uint64_t u64_at(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint32_t u32_at(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static void test_block_quantizers(tl_isa isa) {
    static const struct { const char *name; tl_block_type type; } types[] = {
        {"Q4_0", TL_BLOCKS_Q4_0}, {"Q4_1", TL_BLOCKS_Q4_1}, {"Q5_0", TL_BLOCKS_Q5_0}, {"Q5_1", TL_BLOCKS_Q5_1}, {"Q8_0", TL_BLOCKS_Q8_0},
        {"Q2_K", TL_BLOCKS_Q2_K}, {"Q3_K", TL_BLOCKS_Q3_K}, {"Q4_K", TL_BLOCKS_Q4_K}, {"Q5_K", TL_BLOCKS_Q5_K}, {"Q6_K", TL_BLOCKS_Q6_K},
        {"IQ4_NL", TL_BLOCKS_IQ4_NL}};
    size_t size = 0;
    unsigned char *file = read_file("fixtures/gguf/quantizer-goldens.gguf", &size);
    check(file != NULL && size > 24 && memcmp(file, "GGUF", 4) == 0, "quantizer goldens readable", size, 0);
    if (!file || size <= 24) return;
    const uint64_t tensors = u64_at(file + 8), keys = u64_at(file + 16);
    size_t at = 24;
    for (uint64_t k = 0; k < keys; k++) {  // key, type 8 (string), value
        at += 8 + u64_at(file + at);
        check(u32_at(file + at) == 8, "goldens: string keys only", k, 0);
        at += 4;
        at += 8 + u64_at(file + at);
    }
    const char *names[16];
    size_t name_lengths[16], offsets[16];
    for (uint64_t t = 0; t < tensors && t < 16; t++) {
        name_lengths[t] = (size_t)u64_at(file + at);
        names[t] = (const char *)file + at + 8;
        at += 8 + name_lengths[t];
        const uint32_t dims = u32_at(file + at);
        at += 4 + 8 * dims + 4;
        offsets[t] = (size_t)u64_at(file + at);
        at += 8;
    }
    const size_t data = (at + 31) / 32 * 32;
    enum { COUNT = 16 * 512 };
    const float *source = (const float *)(file + data + offsets[0]);  // "source" comes first
    static uint8_t out[COUNT * 2];
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        size_t t = 1;
        while (t < tensors && !(name_lengths[t] == strlen(types[i].name) && memcmp(names[t], types[i].name, name_lengths[t]) == 0)) t++;
        if (t >= tensors) { check(0, types[i].name, i, 0); continue; }
        const size_t bytes = tl_block_row_bytes(types[i].type, COUNT);
        long bad;
        WITH(isa, bad = tl_quantize_blocks(types[i].type, source, COUNT, out));
        check(bad == -1 && memcmp(out, file + data + offsets[t], bytes) == 0, types[i].name, bytes, (size_t)bad);
    }
    free(file);
}

int main(void) {
    const tl_isa all[] = {TL_ISA_PORTABLE, TL_ISA_AVX2, TL_ISA_AVX512VNNI, TL_ISA_NEON, TL_ISA_NEON_DOTPROD};
    printf("kernel tests: detected %s\n", tl_isa_name(tl_detect_isa()));
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        if (!tl_isa_supported(all[i])) continue;
        variant = tl_isa_name(all[i]);
        const int before = passed + failed;
        test_float_dots(all[i]);
        test_int8_dots(all[i]);
        test_q8_rows(all[i]);
        test_activation_quantizer(all[i]);
        test_weight_quantizers(all[i]);
        test_gemms(all[i]);
        test_blocks(all[i]);
        test_long_rows(all[i]);
        test_short_block_rows(all[i]);
        test_block_quantizers(all[i]);
        test_attention_gelu_transpose(all[i]);
        test_compare(all[i]);
        test_narrowing(all[i]);
        printf("  %s: %d checks\n", variant, passed + failed - before);
    }
    printf("kernel tests: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
