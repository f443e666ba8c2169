// What the aarch64 kernels execute, for benchmarks/arm-instructions.sh (under qemu-aarch64,
// which counts): ARM's kernels cannot be timed on an x86 machine; their instructions can be
// counted. `arm-instructions TYPE REPS` runs one row of 2,048 values against activations
// with one scale per super-block (as the runner gives the 256-value types) REPS times;
// `arm-instructions TYPE REPS TOKENS` runs the prompt kernel (tl_gemm_blocks, or for q8
// tl_gemm_q8) over 16 such rows and TOKENS tokens REPS times.
#include "CKernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 2048, ROWS = 16, MOST_TOKENS = 64 };

int main(int argc, char **argv) {
    static const struct { tl_block_type type; const char *name; } types[] = {
        {TL_BLOCKS_Q8_0, "Q8_0"}, {TL_BLOCKS_Q4_0, "Q4_0"}, {TL_BLOCKS_Q2_K, "Q2_K"}, {TL_BLOCKS_Q3_K, "Q3_K"}, {TL_BLOCKS_Q4_K, "Q4_K"},
        {TL_BLOCKS_Q5_K, "Q5_K"}, {TL_BLOCKS_Q6_K, "Q6_K"}, {TL_BLOCKS_IQ4_NL, "IQ4_NL"}, {TL_BLOCKS_IQ4_XS, "IQ4_XS"}};
    // "q8" is the .tlm's q8 (int8 values, an f16 scale per 32).
    const int q8 = argc >= 3 && strcmp(argv[1], "q8") == 0;
    size_t t = 0;
    while ((argc == 3 || argc == 4) && !q8 && t < sizeof types / sizeof *types && strcmp(argv[1], types[t].name) != 0) t++;
    const long reps = argc >= 3 ? atol(argv[2]) : 0, tokens = argc == 4 ? atol(argv[3]) : 1;
    if ((!q8 && t == sizeof types / sizeof *types) || reps < 1 || tokens < 1 || tokens > MOST_TOKENS) {
        fprintf(stderr, "usage: arm-instructions TYPE REPS [TOKENS ≤ %d] (TYPE a block type, or q8)\n", MOST_TOKENS);
        return 2;
    }
    static float xf[MOST_TOKENS * N], out[MOST_TOKENS * ROWS];
    static int8_t x[MOST_TOKENS * N];
    static float xs[MOST_TOKENS * N / 32];
    static int32_t sums[MOST_TOKENS * N / 32];
    static uint8_t w[ROWS * 2 * N];  // every type's row is under 2 bytes a value
    // xorshift, cheap to single-step: random activations, and random blocks (the kernels'
    // work does not depend on the values; the f16 scales are converted the same way
    // whatever they hold).
    uint64_t state = 88172645463325252u;
    for (size_t i = 0; i < (size_t)tokens * N; i++) {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        xf[i] = (float)(state % 1000) / 1000.0f - 0.5f;
    }
    tl_quantize_activations_256(xf, (size_t)tokens * N, x, xs, sums);
    for (size_t i = 0; i < sizeof w; i += 8) {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        memcpy(w + i, &state, 8);
    }
    float total = 0;
    for (long r = 0; r < reps; r++) {
        if (q8 && argc == 4) tl_gemm_q8((const int8_t *)w, (const uint16_t *)(const void *)(w + ROWS * N), NULL, N, 0, ROWS, x, xs, sums, (size_t)tokens, NULL, out, ROWS);
        else if (q8) tl_dot_q8_rows((const int8_t *)w, (const uint16_t *)(const void *)(w + N), N, 0, 1, x, xs, out);
        else if (argc == 4) tl_gemm_blocks(types[t].type, w, N, 0, ROWS, x, xs, sums, (size_t)tokens, NULL, out, ROWS);
        else tl_dot_blocks_rows(types[t].type, w, N, 0, 1, x, xs, sums, out);
        total += out[0];
    }
    printf("%s %g\n", q8 ? "q8" : types[t].name, total);
    return 0;
}
