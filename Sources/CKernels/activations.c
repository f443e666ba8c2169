// The MLP activations over vectors: GPT-2's GELU (the tanh form) and the LLaMA family's
// SwiGLU product. Done one tanhf or expf call at a time they were a tenth (GELU) and a
// third (SiLU) of prompt processing. Both go through e^x for x ≤ 0:
// tanh(u) = sign(u)·(1 − e)/(1 + e) with e = exp(−2|u|), and the logistic function
// σ(g) = 1/(1 + t) for g ≥ 0, t/(1 + t) below, with t = exp(−|g|).
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

// ---- SwiGLU: y = silu(gate) · y, silu(g) = g·σ(g) ------------------------------------

static void silu_mul_portable(float *y, const float *gate, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const float g = gate[i];
        y[i] *= g / (1.0f + expf(-g));
    }
}

#if TL_X86
TL_TARGET_AVX2 static void silu_mul_avx2(float *y, const float *gate, size_t n) {
    const __m256 signmask = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 g = _mm256_loadu_ps(gate + i);
        const __m256 t = exp_nonpositive_avx2(_mm256_or_ps(g, signmask));  // e^(−|g|)
        const __m256 inverse = _mm256_div_ps(one, _mm256_add_ps(one, t));
        const __m256 sigma = _mm256_blendv_ps(inverse, _mm256_mul_ps(t, inverse), _mm256_cmp_ps(g, zero, _CMP_LT_OQ));
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), _mm256_mul_ps(g, sigma)));
    }
    silu_mul_portable(y + i, gate + i, n - i);
}
#endif

void tl_silu_mul(float *y, const float *gate, size_t n) {
#if TL_X86
    if (TL_USES_AVX2()) {
        silu_mul_avx2(y, gate, n);
        return;
    }
#endif
    silu_mul_portable(y, gate, n);
}
