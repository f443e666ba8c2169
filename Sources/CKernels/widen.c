// f16 → f32 for whole arrays (a checkpoint's or a GGUF's f16 tensors on their way to a
// quantizer): F16C on x86, NEON's conversion on ARM, exact in every variant (f16 ⊂ f32).
#include "internal.h"

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

void tl_widen_f16(const uint16_t *h, size_t n, float *out) {
#if TL_X86
    if (TL_USES_AVX2()) { widen_avx2(h, n, out); return; }
#elif TL_ARM64
    widen_neon(h, n, out);
    return;
#endif
    widen_portable(h, n, out);
}
