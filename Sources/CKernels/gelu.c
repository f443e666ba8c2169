// GPT-2's GELU (the tanh form) over a vector: a tenth of prompt processing when done one
// tanhf call at a time. tanh(u) = sign(u)·(1 − e)/(1 + e) with e = exp(−2|u|).
#include "internal.h"

#define GELU_K 0.7978845608f  // sqrt(2/pi)
#define GELU_C 0.044715f

static void gelu_portable(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(GELU_K * (v + GELU_C * v * v * v)));
    }
}

#if TL_X86
TL_TARGET_AVX2 static void gelu_avx2(float *x, size_t n) {
    const __m256 signmask = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f), half = _mm256_set1_ps(0.5f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 u = _mm256_mul_ps(_mm256_set1_ps(GELU_K), _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(GELU_C), v), _mm256_mul_ps(v, v), v));
        __m256 sign = _mm256_and_ps(u, signmask);
        __m256 e = exp_nonpositive_avx2(_mm256_mul_ps(_mm256_set1_ps(-2.0f), _mm256_andnot_ps(signmask, u)));
        __m256 t = _mm256_or_ps(_mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e)), sign);
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, t)));
    }
    gelu_portable(x + i, n - i);
}

#endif

void tl_gelu(float *x, size_t n) {
#if TL_X86
    if (TL_USES_AVX2()) {
        gelu_avx2(x, n);
        return;
    }
#endif
    gelu_portable(x, n);
}
