// The row·vector kernels' pace, one core, for each block type: from cache (a matrix of
// 512 rows, read again and again) and from memory (a matrix of ~300 MB, read once per
// pass). Decoding is bound by the second; a kernel whose first is not well above the
// second cannot keep up with the memory. Then the prompt kernel's (tl_gemm_blocks: 256
// rows × 128 tokens, the rows' packing included, the tokens arranged once beforehand as the
// runner does), in multiply-adds per second. Built and run by
// benchmarks/kernel-rates.sh [VARIANT]: a variant this machine can run (avx2, portable, …)
// instead of the detected one.
#define _GNU_SOURCE
#include "CKernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/// GB/s of weights read by tl_dot_blocks_rows over `rows` rows of n, the best of `passes`;
/// with T > 1 tokens, multiply-adds per second (10⁹) of tl_gemm_blocks instead.
static double rate(tl_block_type type, size_t n, size_t rows, int passes, size_t T, const int8_t *x, const float *xs, const int32_t *sums,
                   const void *arranged) {
    const size_t row = tl_block_row_bytes(type, n);
    uint8_t *w = aligned_alloc(64, (rows * row + 63) / 64 * 64);
    float *values = malloc(n * sizeof(float)), *out = malloc(T * rows * sizeof(float));
    if (!w || !values || !out) { fprintf(stderr, "kernel-rates: out of memory\n"); exit(1); }
    // 64 distinct rows quantized by the type's own quantizer, repeated: real blocks, cheap to
    // make (IQ4_XS, which is read but not written, is timed on zeroed blocks: the same work).
    for (size_t r = 0; r < rows; r++) {
        if (r < 64) {
            for (size_t i = 0; i < n; i++) values[i] = (float)rand() / (float)RAND_MAX - 0.5f;
            if (tl_quantize_blocks(type, values, n, w + r * row) != -1) memset(w + r * row, 0, row);
        } else {
            memcpy(w + r * row, w + (r % 64) * row, row);
        }
    }
    double best = 1e30;
    for (int p = 0; p < passes; p++) {
        const double t0 = now();
        if (T > 1) tl_gemm_blocks(type, w, n, 0, rows, x, xs, sums, T, arranged, out, rows);
        else tl_dot_blocks_rows(type, w, n, 0, rows, x, xs, sums, out);
        const double dt = now() - t0;
        if (dt < best) best = dt;
    }
    free(w);
    free(values);
    free(out);
    return (T > 1 ? (double)(rows * n * T) : (double)(rows * row)) / best / 1e9;
}

int main(int argc, char **argv) {
    static const struct { tl_block_type type; const char *name; } types[] = {
        {TL_BLOCKS_Q8_0, "Q8_0"}, {TL_BLOCKS_Q4_0, "Q4_0"}, {TL_BLOCKS_Q4_1, "Q4_1"}, {TL_BLOCKS_Q5_0, "Q5_0"},
        {TL_BLOCKS_Q5_1, "Q5_1"}, {TL_BLOCKS_Q2_K, "Q2_K"}, {TL_BLOCKS_Q3_K, "Q3_K"}, {TL_BLOCKS_Q4_K, "Q4_K"},
        {TL_BLOCKS_Q5_K, "Q5_K"}, {TL_BLOCKS_Q6_K, "Q6_K"}, {TL_BLOCKS_IQ4_NL, "IQ4_NL"}, {TL_BLOCKS_IQ4_XS, "IQ4_XS"}};
    enum { N = 2048, T = 128 };
    static int8_t x[2][T * N];
    static float xf[T * N], xs[2][T * N / 32];
    static int32_t sums[2][T * N / 32];
    for (size_t i = 0; i < T * N; i++) xf[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    if (argc > 1) {
        int isa = 0;
        while (isa <= TL_ISA_NEON_DOTPROD && strcmp(argv[1], tl_isa_name((tl_isa)isa)) != 0) isa++;
        if (isa > TL_ISA_NEON_DOTPROD || !tl_isa_supported((tl_isa)isa)) {
            fprintf(stderr, "kernel-rates: no variant '%s' on this machine\n", argv[1]);
            return 2;
        }
        tl_force_isa((tl_isa)isa);
    }
    tl_quantize_activations(xf, T * N, x[0], xs[0], sums[0]);
    tl_quantize_activations_256(xf, T * N, x[1], xs[1], sums[1]);
    // Arranged once for the prompt kernel, as the runner does for each product.
    void *arranged[2] = {NULL, NULL};
    const size_t arranged_bytes = tl_arranged_tokens_bytes(N, T);
    for (int g = 0; g < 2 && arranged_bytes; g++) {
        arranged[g] = aligned_alloc(64, (arranged_bytes + 63) / 64 * 64);
        if (!arranged[g]) { fprintf(stderr, "kernel-rates: out of memory\n"); return 1; }
        tl_arrange_tokens(x[g], xs[g], sums[g], N, T, arranged[g]);
    }
    printf("kernels: %s; rows of %d values, one core\n", tl_isa_name(tl_active_isa()), N);
    printf("%-7s %16s %17s %17s\n", "type", "from cache GB/s", "from memory GB/s", "prompt GMAC/s");
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        const size_t memory_rows = (size_t)300e6 / tl_block_row_bytes(types[t].type, N);
        // The runner gives the products over 256-value types (whose blocks 32 values do not
        // fill) activations with a scale per 256, and so does this.
        const int g = tl_block_row_bytes(types[t].type, 32) == 0;
        printf("%-7s %16.1f %17.1f %17.1f\n", types[t].name, rate(types[t].type, N, 512, 200, 1, x[g], xs[g], sums[g], NULL),
               rate(types[t].type, N, memory_rows, 3, 1, x[g], xs[g], sums[g], NULL),
               rate(types[t].type, N, 256, 20, T, x[g], xs[g], sums[g], arranged[g]));
        fflush(stdout);
    }
    return 0;
}
