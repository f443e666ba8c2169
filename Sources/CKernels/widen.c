// f16 → f32 for whole arrays (a checkpoint's or a GGUF's f16 tensors on their way to a
// quantizer): F16C on x86, NEON's conversion on ARM, exact in every variant (f16 ⊂ f32).
// And back, f32 → f16 rounded to nearest, ties to even (the f16 KV cache's rows).
#include "internal.h"

// f32 → f16, to nearest, ties to even, as F16C and NEON convert (a NaN stays a quiet NaN).
static inline uint16_t f16_from_f32(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    const uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    const uint32_t magnitude = x & 0x7fffffffu;
    if (magnitude > 0x7f800000u) return (uint16_t)(sign | 0x7e00 | ((magnitude >> 13) & 0x3ff));
    if (magnitude >= 0x477ff000u) return sign | 0x7c00;  // 65,520 and above round to infinity
    if (magnitude < 0x38800000u) {                       // below 2^-14: a subnormal f16, or zero
        float v;
        memcpy(&v, &magnitude, 4);
        return (uint16_t)(sign | (uint16_t)rintf(v * 16777216.0f));  // exact product; rintf ties to even
    }
    const uint32_t rebiased = magnitude - 0x38000000u;  // exponent bias 127 → 15
    return (uint16_t)(sign | ((rebiased + 0xfffu + ((rebiased >> 13) & 1)) >> 13));
}

static void narrow_portable(const float *x, size_t n, uint16_t *out) {
    for (size_t i = 0; i < n; i++) out[i] = f16_from_f32(x[i]);
}

static void widen_portable(const uint16_t *h, size_t n, float *out) {
    for (size_t i = 0; i < n; i++) {
        uint16_t v;
        memcpy(&v, h + i, 2);
        out[i] = tl_f16_to_f32(v);
    }
}

#if TL_X86
TL_TARGET_AVX2 static void widen_avx2(const uint16_t *h, size_t n, float *out) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))));
    widen_portable(h + i, n - i, out + i);
}
#endif

#if TL_ARM64
static void widen_neon(const uint16_t *h, size_t n, float *out) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(out + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h + i))));
    widen_portable(h + i, n - i, out + i);
}
#endif

#if TL_X86
TL_TARGET_AVX2 static void narrow_avx2(const float *x, size_t n, uint16_t *out) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(out + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    narrow_portable(x + i, n - i, out + i);
}
#endif

#if TL_ARM64
static void narrow_neon(const float *x, size_t n, uint16_t *out) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) vst1_u16(out + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(x + i))));
    narrow_portable(x + i, n - i, out + i);
}
#endif

void tl_narrow_f16(const float *x, size_t n, uint16_t *out) {
#if TL_X86
    if (TL_USES_AVX2()) { narrow_avx2(x, n, out); return; }
#elif TL_ARM64
    narrow_neon(x, n, out);
    return;
#endif
    narrow_portable(x, n, out);
}

void tl_widen_f16(const uint16_t *h, size_t n, float *out) {
#if TL_X86
    if (TL_USES_AVX2()) { widen_avx2(h, n, out); return; }
#elif TL_ARM64
    widen_neon(h, n, out);
    return;
#endif
    widen_portable(h, n, out);
}
