// The sums `diff` needs over two f32 vectors a and b: Σa², Σb², Σab, Σ(b−a)² and
// max |b − a|. One portable body with sixteen independent lanes (which the compiler turns
// into vectors: a float reduction is not reordered otherwise), compiled again for AVX2.
// Lane sums are f32 over blocks of 1,024 values and f64 across blocks.
#include "internal.h"

TL_INLINE void compare_body(const float *a, const float *b, size_t n, double out[5]) {
    enum { LANES = 16, BLOCK = 1024 };
    double aa = 0, bb = 0, ab = 0, dd = 0;
    float m = 0;
    for (size_t start = 0; start < n; start += BLOCK) {
        const size_t end = start + BLOCK < n ? start + BLOCK : n;
        float saa[LANES] = {0}, sbb[LANES] = {0}, sab[LANES] = {0}, sdd[LANES] = {0}, sm[LANES] = {0};
        size_t i = start;
        for (; i + LANES <= end; i += LANES) {
            for (int k = 0; k < LANES; k++) {
                const float x = a[i + k], y = b[i + k], d = y - x;
                saa[k] += x * x; sbb[k] += y * y; sab[k] += x * y; sdd[k] += d * d;
                const float ad = fabsf(d);
                sm[k] = ad > sm[k] ? ad : sm[k];
            }
        }
        for (; i < end; i++) {
            const float x = a[i], y = b[i], d = y - x;
            saa[0] += x * x; sbb[0] += y * y; sab[0] += x * y; sdd[0] += d * d;
            sm[0] = fabsf(d) > sm[0] ? fabsf(d) : sm[0];
        }
        for (int k = 0; k < LANES; k++) {
            aa += saa[k]; bb += sbb[k]; ab += sab[k]; dd += sdd[k];
            m = sm[k] > m ? sm[k] : m;
        }
    }
    out[0] = aa; out[1] = bb; out[2] = ab; out[3] = dd; out[4] = m;
}

static void compare_portable(const float *a, const float *b, size_t n, double out[5]) { compare_body(a, b, n, out); }
#if TL_X86
TL_TARGET_AVX2 static void compare_avx2(const float *a, const float *b, size_t n, double out[5]) { compare_body(a, b, n, out); }
#endif

void tl_compare_f32(const float *a, const float *b, size_t n, double out[5]) {
#if TL_X86
    if (TL_USES_AVX2()) {
        compare_avx2(a, b, n, out);
        return;
    }
#endif
    compare_portable(a, b, n, out);
}
