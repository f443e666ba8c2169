// Transposing f32 matrices: GPT-2 stores its Conv1D weights as (in, out), and every
// other format here wants rows of outputs. A tenth of conversion time when done one
// element at a time; 16 × 16 tiles in registers make it a copy.
#include "internal.h"

// Source rows [r0, r1) of columns [c0, c1), in tiles of 32 × 32 so both sides stay in cache.
static void transpose_portable(const float *src, size_t rows, size_t cols, size_t r0, size_t r1, size_t c0, size_t c1, float *dst) {
    enum { TILE = 32 };
    for (size_t cb = c0; cb < c1; cb += TILE) {
        const size_t ce = cb + TILE < c1 ? cb + TILE : c1;
        for (size_t rb = r0; rb < r1; rb += TILE) {
            const size_t re = rb + TILE < r1 ? rb + TILE : r1;
            for (size_t c = cb; c < ce; c++)
                for (size_t r = rb; r < re; r++) dst[c * rows + r] = src[r * cols + c];
        }
    }
}

// Sixteen source rows at a time, read front to back across the band (sixteen sequential
// streams the prefetcher follows); each tile lands as sixteen full cache lines.
#if TL_X86
TL_TARGET_AVX512 static void transpose_avx512(const float *src, size_t rows, size_t cols, size_t c0, size_t c1, float *dst) {
    const size_t cend = c0 + (c1 - c0) / 16 * 16;
    size_t r = 0;
    for (; r + 16 <= rows; r += 16) {
        for (size_t c = c0; c < cend; c += 16) {
            __m512 v[16];
            for (int i = 0; i < 16; i++) v[i] = _mm512_loadu_ps(src + (r + (size_t)i) * cols + c);
            tl_transpose16(v);
            for (int i = 0; i < 16; i++) _mm512_storeu_ps(dst + (c + (size_t)i) * rows + r, v[i]);
        }
    }
    transpose_portable(src, rows, cols, r, rows, c0, cend, dst);
    transpose_portable(src, rows, cols, 0, rows, cend, c1, dst);
}

#endif

void tl_transpose_f32(const float *src, size_t rows, size_t cols, size_t c0, size_t c1, float *dst) {
#if TL_X86
    if (TL_USES_AVX512()) {
        transpose_avx512(src, rows, cols, c0, c1, dst);
        return;
    }
#endif
    transpose_portable(src, rows, cols, 0, rows, c0, c1, dst);
}
