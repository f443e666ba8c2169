// Float → int8 quantization for conversion: q8 blocks of 32, q8-row and ggml's Q8_0, of
// rows and of a transposed matrix's columns. One portable body, compiled again for AVX2 so
// the compiler vectorizes it with that instruction set; hand-written AVX2, AVX-512 and NEON
// variants of the block quantizers and of the transposing tiles.
#include "internal.h"

// Adds one call's error sums to the caller's report (which may be absent).
TL_INLINE void stats_add(tl_quant_stats *st, double sse, double ssq, float maxerr) {
    if (!st) return;
    st->sum_sq_err += sse;
    st->sum_sq += ssq;
    if (maxerr > st->max_abs_err) st->max_abs_err = maxerr;
}

TL_INLINE long q8_blocks_body(const float *x, size_t n, int8_t *q, uint16_t *scales, tl_quant_stats *st) {
    double sse = 0, ssq = 0;
    float maxerr = 0;
    for (size_t b = 0; b < n / 32; b++) {
        const float *xb = x + 32 * b;
        int8_t *qb = q + 32 * b;
        float amax = 0, bad = 0;
        for (int i = 0; i < 32; i++) {
            float a = fabsf(xb[i]);
            amax = a > amax ? a : amax;
            bad += xb[i] * 0.0f;  // NaN for any infinite or NaN input
        }
        if (bad != 0.0f || bad != bad) {
            for (int i = 0; i < 32; i++) if (!isfinite(xb[i])) return (long)(32 * b + (size_t)i);
        }
        float d = amax / 127.0f;
        uint16_t h = tl_f16_round_up(d);
        if (h >= 0x7c00u) return (long)(32 * b);
        scales[b] = h;
        float ds = tl_f16_to_f32(h);
        float bsse = 0, bssq = 0, bmax = 0;
        if (ds == 0.0f) {
            for (int i = 0; i < 32; i++) { qb[i] = 0; bssq += xb[i] * xb[i]; }
            bsse = bssq;
            for (int i = 0; i < 32; i++) { float e = fabsf(xb[i]); bmax = e > bmax ? e : bmax; }
        } else {
            for (int i = 0; i < 32; i++) {
                float t = xb[i] / ds;
                float r = tl_round_away(t);
                qb[i] = (int8_t)(int32_t)r;
                float e = xb[i] - r * ds;
                bsse += e * e;
                bssq += xb[i] * xb[i];
                float ae = fabsf(e);
                bmax = ae > bmax ? ae : bmax;
            }
        }
        sse += bsse;
        ssq += bssq;
        maxerr = bmax > maxerr ? bmax : maxerr;
    }
    stats_add(st, sse, ssq, maxerr);
    return -1;
}

static long q8_blocks_portable(const float *x, size_t n, int8_t *q, uint16_t *s, tl_quant_stats *st) { return q8_blocks_body(x, n, q, s, st); }

// The vector variants do per block what q8_blocks_body does; a block with a
// non-finite value, or whose scale is zero or overflows, goes through the body.

#if TL_X86
TL_TARGET_AVX2 static long q8_blocks_avx2(const float *x, size_t n, int8_t *q, uint16_t *scales, tl_quant_stats *st) {
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 inf = _mm256_set1_ps(INFINITY), half = _mm256_set1_ps(0.5f), nhalf = _mm256_set1_ps(-0.5f), one = _mm256_set1_ps(1.0f);
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    __m256 sse = _mm256_setzero_ps(), ssq = _mm256_setzero_ps(), emax = _mm256_setzero_ps();
    for (size_t b = 0; b < n / 32; b++) {
        const float *xb = x + 32 * b;
        __m256 v[4], a = _mm256_setzero_ps();
        int finite = 1;
        for (int k = 0; k < 4; k++) {
            v[k] = _mm256_loadu_ps(xb + 8 * k);
            __m256 av = _mm256_and_ps(v[k], absmask);
            finite &= _mm256_movemask_ps(_mm256_cmp_ps(av, inf, _CMP_LT_OQ)) == 0xff;
            a = _mm256_max_ps(a, av);
        }
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
        float d = _mm_cvtss_f32(m4) / 127.0f;
        uint16_t h = finite ? tl_f16_round_up(d) : 0x7c00u;
        if (!finite || h >= 0x7c00u || h == 0) {
            long bad = q8_blocks_body(xb, 32, q + 32 * b, scales + b, st);
            if (bad >= 0) return (long)(32 * b) + bad;
            continue;
        }
        scales[b] = h;
        const __m256 vd = _mm256_set1_ps(tl_f16_to_f32(h));
        __m256i iv[4];
        for (int k = 0; k < 4; k++) {
            __m256 t = _mm256_div_ps(v[k], vd);
            __m256 r = _mm256_round_ps(t, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            __m256 f = _mm256_sub_ps(t, r);
            r = _mm256_add_ps(r, _mm256_and_ps(_mm256_cmp_ps(f, half, _CMP_GE_OQ), one));
            r = _mm256_sub_ps(r, _mm256_and_ps(_mm256_cmp_ps(f, nhalf, _CMP_LE_OQ), one));
            iv[k] = _mm256_cvttps_epi32(r);
            __m256 e = _mm256_sub_ps(v[k], _mm256_mul_ps(r, vd));
            sse = _mm256_fmadd_ps(e, e, sse);
            ssq = _mm256_fmadd_ps(v[k], v[k], ssq);
            emax = _mm256_max_ps(emax, _mm256_and_ps(e, absmask));
        }
        __m256i p16a = _mm256_packs_epi32(iv[0], iv[1]), p16b = _mm256_packs_epi32(iv[2], iv[3]);
        __m256i p8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p16a, p16b), perm);
        _mm256_storeu_si256((__m256i *)(q + 32 * b), p8);
    }
    if (st) {
        float a[8], c[8], m[8];
        _mm256_storeu_ps(a, sse); _mm256_storeu_ps(c, ssq); _mm256_storeu_ps(m, emax);
        for (int i = 0; i < 8; i++) stats_add(st, a[i], c[i], m[i]);
    }
    return -1;
}

// The AVX-512 block quantizers' shared steps, each what the portable body does per value.
// Loads 32 values into v; returns max |x|, or -1 when any value is not finite.
TL_TARGET_AVX512 static inline float avx512_load_block(const float *xb, __m512 v[2]) {
    const __m512 inf = _mm512_set1_ps(INFINITY);
    v[0] = _mm512_loadu_ps(xb);
    v[1] = _mm512_loadu_ps(xb + 16);
    const __m512 a0 = _mm512_abs_ps(v[0]), a1 = _mm512_abs_ps(v[1]);
    if ((_mm512_cmp_ps_mask(a0, inf, _CMP_LT_OQ) & _mm512_cmp_ps_mask(a1, inf, _CMP_LT_OQ)) != 0xffff) return -1.0f;
    return _mm512_reduce_max_ps(_mm512_max_ps(a0, a1));
}

// tl_round_away on 16 lanes: truncate, then step by the fraction.
TL_TARGET_AVX512 static inline __m512 avx512_round_away(__m512 t) {
    __m512 r = _mm512_roundscale_ps(t, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m512 f = _mm512_sub_ps(t, r);
    r = _mm512_mask_add_ps(r, _mm512_cmp_ps_mask(f, _mm512_set1_ps(0.5f), _CMP_GE_OQ), r, _mm512_set1_ps(1.0f));
    return _mm512_mask_sub_ps(r, _mm512_cmp_ps_mask(f, _mm512_set1_ps(-0.5f), _CMP_LE_OQ), r, _mm512_set1_ps(1.0f));
}

// Error sums per lane: Σ e², Σ x², max |e|.
typedef struct {
    __m512 sse, ssq, emax;
} avx512_stats;

TL_TARGET_AVX512 static inline void avx512_stats_add(avx512_stats *s, __m512 x, __m512 e) {
    s->sse = _mm512_fmadd_ps(e, e, s->sse);
    s->ssq = _mm512_fmadd_ps(x, x, s->ssq);
    s->emax = _mm512_max_ps(s->emax, _mm512_abs_ps(e));
}

TL_TARGET_AVX512 static inline void avx512_stats_report(const avx512_stats *s, tl_quant_stats *st) {
    stats_add(st, _mm512_reduce_add_ps(s->sse), _mm512_reduce_add_ps(s->ssq), _mm512_reduce_max_ps(s->emax));
}

// `count` blocks of 32, block b read from x + b·xstride and written to q + b·qstride and
// scales[b·sstride]; a failure returns 32·b + its place in the block.
TL_TARGET_AVX512 static long q8_blocks_strided_avx512(const float *x, size_t xstride, size_t count, int8_t *q, size_t qstride,
                                                      uint16_t *scales, size_t sstride, tl_quant_stats *st) {
    avx512_stats sums = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (size_t b = 0; b < count; b++) {
        const float *xb = x + xstride * b;
        int8_t *qb = q + qstride * b;
        __m512 v[2];
        const float amax = avx512_load_block(xb, v);
        const uint16_t h = amax >= 0 ? tl_f16_round_up(amax / 127.0f) : 0x7c00u;
        if (h >= 0x7c00u || h == 0) {
            long bad = q8_blocks_body(xb, 32, qb, scales + sstride * b, st);
            if (bad >= 0) return (long)(32 * b) + bad;
            continue;
        }
        scales[sstride * b] = h;
        const __m512 vd = _mm512_set1_ps(tl_f16_to_f32(h));
        for (int k = 0; k < 2; k++) {
            const __m512 r = avx512_round_away(_mm512_div_ps(v[k], vd));
            _mm_storeu_si128((__m128i *)(qb + 16 * k), _mm512_cvtsepi32_epi8(_mm512_cvttps_epi32(r)));
            avx512_stats_add(&sums, v[k], _mm512_sub_ps(v[k], _mm512_mul_ps(r, vd)));
        }
    }
    avx512_stats_report(&sums, st);
    return -1;
}

TL_TARGET_AVX512 static long q8_blocks_avx512(const float *x, size_t n, int8_t *q, uint16_t *scales, tl_quant_stats *st) {
    return q8_blocks_strided_avx512(x, 32, n / 32, q, 32, scales, 1, st);
}

#endif

#if TL_ARM64
// Loads 32 values into v; returns max |x|, or -1 when any value is not finite.
TL_INLINE float neon_load_block(const float *xb, float32x4_t v[8]) {
    const float32x4_t inf = vdupq_n_f32(INFINITY);
    float32x4_t a = vdupq_n_f32(0);
    uint32x4_t finite = vdupq_n_u32(~0u);
    for (int k = 0; k < 8; k++) {
        v[k] = vld1q_f32(xb + 4 * k);
        const float32x4_t av = vabsq_f32(v[k]);
        finite = vandq_u32(finite, vcltq_f32(av, inf));
        a = vmaxq_f32(a, av);
    }
    return vminvq_u32(finite) != 0 ? vmaxvq_f32(a) : -1.0f;
}

// Error sums per lane: Σ e², Σ x², max |e|.
typedef struct {
    float32x4_t sse, ssq, emax;
} neon_stats;

TL_INLINE void neon_stats_add(neon_stats *s, float32x4_t x, float32x4_t e) {
    s->sse = vfmaq_f32(s->sse, e, e);
    s->ssq = vfmaq_f32(s->ssq, x, x);
    s->emax = vmaxq_f32(s->emax, vabsq_f32(e));
}

TL_INLINE void neon_stats_report(const neon_stats *s, tl_quant_stats *st) {
    stats_add(st, vaddvq_f32(s->sse), vaddvq_f32(s->ssq), vmaxvq_f32(s->emax));
}

// FCVTAS rounds halves away from zero as tl_round_away does, and the division is the same
// IEEE division, so the bytes and scales are the body's.
static long q8_blocks_neon(const float *x, size_t n, int8_t *q, uint16_t *scales, tl_quant_stats *st) {
    neon_stats sums = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)};
    for (size_t b = 0; b < n / 32; b++) {
        const float *xb = x + 32 * b;
        float32x4_t v[8];
        const float amax = neon_load_block(xb, v);
        const int ok = amax >= 0;
        uint16_t h = ok ? tl_f16_round_up(amax / 127.0f) : 0x7c00u;
        if (!ok || h >= 0x7c00u || h == 0) {
            long bad = q8_blocks_body(xb, 32, q + 32 * b, scales + b, st);
            if (bad >= 0) return (long)(32 * b) + bad;
            continue;
        }
        scales[b] = h;
        const float32x4_t vd = vdupq_n_f32(tl_f16_to_f32(h));
        int32x4_t r[8];
        for (int k = 0; k < 8; k++) {
            r[k] = vcvtaq_s32_f32(vdivq_f32(v[k], vd));
            neon_stats_add(&sums, v[k], vsubq_f32(v[k], vmulq_f32(vcvtq_f32_s32(r[k]), vd)));
        }
        for (int k = 0; k < 8; k += 2) vst1_s8(q + 32 * b + 4 * k, vmovn_s16(vcombine_s16(vmovn_s32(r[k]), vmovn_s32(r[k + 1]))));
    }
    neon_stats_report(&sums, st);
    return -1;
}
#endif

long tl_quantize_q8_blocks(const float *x, size_t n, int8_t *q, uint16_t *scales_f16, tl_quant_stats *stats) {
#if TL_X86
    if (TL_USES_AVX512()) return q8_blocks_avx512(x, n, q, scales_f16, stats);
    if (TL_USES_AVX2()) return q8_blocks_avx2(x, n, q, scales_f16, stats);
#elif TL_ARM64
    if (TL_USES_NEON()) return q8_blocks_neon(x, n, q, scales_f16, stats);
#endif
    return q8_blocks_portable(x, n, q, scales_f16, stats);
}

TL_INLINE long q8_row_body(const float *x, size_t n, int8_t *q, float *scale, tl_quant_stats *st) {
    float amax = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        amax = a > amax ? a : amax;
        bad += x[i] * 0.0f;
    }
    if (bad != 0.0f || bad != bad) {
        for (size_t i = 0; i < n; i++) if (!isfinite(x[i])) return (long)i;
    }
    float d = amax / 127.0f;
    *scale = d;
    double sse = 0, ssq = 0;
    float maxerr = 0;
    for (size_t i = 0; i < n; i++) {
        float r = d == 0.0f ? 0.0f : tl_round_away(x[i] / d);
        q[i] = (int8_t)(int32_t)r;
        float e = x[i] - r * d;
        sse += (double)(e * e);
        ssq += (double)(x[i] * x[i]);
        float ae = fabsf(e);
        maxerr = ae > maxerr ? ae : maxerr;
    }
    stats_add(st, sse, ssq, maxerr);
    return -1;
}

static long q8_row_portable(const float *x, size_t n, int8_t *q, float *s, tl_quant_stats *st) { return q8_row_body(x, n, q, s, st); }
#if TL_X86
TL_TARGET_AVX2 static long q8_row_avx2(const float *x, size_t n, int8_t *q, float *s, tl_quant_stats *st) { return q8_row_body(x, n, q, s, st); }
#endif

long tl_quantize_q8_row(const float *x, size_t n, int8_t *q, float *scale, tl_quant_stats *stats) {
#if TL_X86
    if (TL_USES_AVX2()) return q8_row_avx2(x, n, q, scale, stats);
#endif
    return q8_row_portable(x, n, q, scale, stats);
}

// ---- llama.cpp's Q8_0, for GGUF files ---------------------------------------------------
// Not q8's rule (see tl_quantize_q8_blocks): d = max|x| / 127 kept in f32 for the
// quantization, q = roundf(x · (1/d)), and d stored as the nearest f16 — what ggml's
// quantize_row_q8_0_ref and the gguf package write, byte for byte. The error is measured
// against what a reader gets back, q · (the stored f16 scale). A block whose scale f16
// cannot hold is refused (ggml would write infinity).

TL_INLINE long q8_0_ggml_body(const float *x, size_t n, uint8_t *out, tl_quant_stats *st) {
    double sse = 0, ssq = 0;
    float maxerr = 0;
    for (size_t b = 0; b < n / 32; b++) {
        const float *xb = x + 32 * b;
        float amax = 0, bad = 0;
        for (int i = 0; i < 32; i++) {
            const float a = fabsf(xb[i]);
            amax = a > amax ? a : amax;
            bad += xb[i] * 0.0f;  // NaN when any value is not finite, without a branch per value
        }
        if (bad != 0.0f || bad != bad) {
            for (int i = 0; i < 32; i++) if (!isfinite(xb[i])) return (long)(32 * b + (size_t)i);
        }
        const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        const _Float16 h = (_Float16)d;
        if (!isfinite((float)h)) return (long)(32 * b);
        const float ds = (float)h;
        uint8_t *o = out + 34 * b;
        memcpy(o, &h, 2);
        float bsse = 0, bssq = 0, bmax = 0;
        for (int i = 0; i < 32; i++) {
            const float r = tl_round_away(xb[i] * id), e = xb[i] - r * ds;
            o[2 + i] = (uint8_t)(int8_t)(int32_t)r;
            bsse += e * e;
            bssq += xb[i] * xb[i];
            bmax = fabsf(e) > bmax ? fabsf(e) : bmax;
        }
        sse += bsse;
        ssq += bssq;
        maxerr = bmax > maxerr ? bmax : maxerr;
    }
    stats_add(st, sse, ssq, maxerr);
    return -1;
}

static long q8_0_ggml_portable(const float *x, size_t n, uint8_t *out, tl_quant_stats *st) { return q8_0_ggml_body(x, n, out, st); }
#if TL_X86
TL_TARGET_AVX2 static long q8_0_ggml_avx2(const float *x, size_t n, uint8_t *out, tl_quant_stats *st) { return q8_0_ggml_body(x, n, out, st); }

// `count` blocks of 32, block b read from x + b·xstride and written to out + b·ostride; a
// failure returns 32·b + its place in the block. The product x · (1/d) is the body's, and
// truncating then stepping by the fraction is tl_round_away, so the bytes are the body's.
TL_TARGET_AVX512 static long q8_0_ggml_strided_avx512(const float *x, size_t xstride, size_t count, uint8_t *out, size_t ostride,
                                                      tl_quant_stats *st) {
    avx512_stats sums = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (size_t b = 0; b < count; b++) {
        const float *xb = x + xstride * b;
        uint8_t *o = out + ostride * b;
        __m512 v[2];
        const float amax = avx512_load_block(xb, v);
        if (amax < 0) return (long)(32 * b) + q8_0_ggml_body(xb, 32, o, NULL);
        const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        const _Float16 h = (_Float16)d;
        if (!isfinite((float)h)) return (long)(32 * b);
        memcpy(o, &h, 2);
        const __m512 vid = _mm512_set1_ps(id), vds = _mm512_set1_ps((float)h);
        for (int k = 0; k < 2; k++) {
            const __m512 r = avx512_round_away(_mm512_mul_ps(v[k], vid));
            _mm_storeu_si128((__m128i *)(o + 2 + 16 * k), _mm512_cvtsepi32_epi8(_mm512_cvttps_epi32(r)));
            avx512_stats_add(&sums, v[k], _mm512_sub_ps(v[k], _mm512_mul_ps(r, vds)));
        }
    }
    avx512_stats_report(&sums, st);
    return -1;
}
#elif TL_ARM64
static long q8_0_ggml_neon(const float *x, size_t n, uint8_t *out, tl_quant_stats *st) {
    neon_stats sums = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)};
    for (size_t b = 0; b < n / 32; b++) {
        const float *xb = x + 32 * b;
        uint8_t *o = out + 34 * b;
        float32x4_t v[8];
        const float amax = neon_load_block(xb, v);
        if (amax < 0) return (long)(32 * b) + q8_0_ggml_body(xb, 32, o, NULL);
        const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        const _Float16 h = (_Float16)d;
        if (!isfinite((float)h)) return (long)(32 * b);
        memcpy(o, &h, 2);
        const float32x4_t vid = vdupq_n_f32(id), vds = vdupq_n_f32((float)h);
        int32x4_t r[8];
        for (int k = 0; k < 8; k++) {
            r[k] = vcvtaq_s32_f32(vmulq_f32(v[k], vid));
            neon_stats_add(&sums, v[k], vsubq_f32(v[k], vmulq_f32(vcvtq_f32_s32(r[k]), vds)));
        }
        for (int k = 0; k < 8; k += 2) vst1_s8((int8_t *)o + 2 + 4 * k, vmovn_s16(vcombine_s16(vmovn_s32(r[k]), vmovn_s32(r[k + 1]))));
    }
    neon_stats_report(&sums, st);
    return -1;
}
#endif

long tl_quantize_q8_0_ggml(const float *x, size_t n, uint8_t *out, tl_quant_stats *stats) {
#if TL_X86
    if (TL_USES_AVX512()) return q8_0_ggml_strided_avx512(x, 32, n / 32, out, 34, stats);
    if (TL_USES_AVX2()) return q8_0_ggml_avx2(x, n, out, stats);
#elif TL_ARM64
    if (TL_USES_NEON()) return q8_0_ggml_neon(x, n, out, stats);
#endif
    return q8_0_ggml_portable(x, n, out, stats);
}

// ---- a transposed matrix ----------------------------------------------------------------
// GPT-2's Conv1D weights are stored (in, out); both output layouts want rows of outputs.
// 32 source rows × 16 columns at a time become 16 blocks of 32 in a tile that stays in
// registers or L1, and are quantized from there: no f32 copy of the transpose.

#if TL_X86
TL_TARGET_AVX512 static void columns_to_blocks_avx512(const float *src, size_t cols, size_t r, size_t c, float block[16][32]) {
    for (int half = 0; half < 2; half++) {
        __m512 v[16];
        for (int i = 0; i < 16; i++) v[i] = _mm512_loadu_ps(src + (r + 16 * (size_t)half + (size_t)i) * cols + c);
        tl_transpose16(v);
        for (int j = 0; j < 16; j++) _mm512_storeu_ps(&block[j][16 * half], v[j]);
    }
}
#elif TL_ARM64
// 4 × 4 tiles: TRN1/TRN2 on 32-bit lanes, then on 64-bit lanes.
static void columns_to_blocks_neon(const float *src, size_t cols, size_t r, size_t c, size_t width, float block[16][32]) {
    for (size_t i = 0; i < 32; i += 4) {
        const float *s = src + (r + i) * cols + c;
        for (size_t j = 0; j < width; j += 4) {
            const float32x4_t a = vld1q_f32(s + j), b = vld1q_f32(s + cols + j), e = vld1q_f32(s + 2 * cols + j), f = vld1q_f32(s + 3 * cols + j);
            const float64x2_t t0 = vreinterpretq_f64_f32(vtrn1q_f32(a, b)), t1 = vreinterpretq_f64_f32(vtrn2q_f32(a, b));
            const float64x2_t t2 = vreinterpretq_f64_f32(vtrn1q_f32(e, f)), t3 = vreinterpretq_f64_f32(vtrn2q_f32(e, f));
            vst1q_f32(&block[j][i], vreinterpretq_f32_f64(vtrn1q_f64(t0, t2)));
            vst1q_f32(&block[j + 1][i], vreinterpretq_f32_f64(vtrn1q_f64(t1, t3)));
            vst1q_f32(&block[j + 2][i], vreinterpretq_f32_f64(vtrn2q_f64(t0, t2)));
            vst1q_f32(&block[j + 3][i], vreinterpretq_f32_f64(vtrn2q_f64(t1, t3)));
        }
    }
}
#endif

// Columns [c, c + width) of source rows [r, r + 32) as `width` (≤ 16) contiguous blocks of 32.
static void columns_to_blocks(const float *src, size_t cols, size_t r, size_t c, size_t width, float block[16][32]) {
#if TL_X86
    if (TL_USES_AVX512() && width == 16) { columns_to_blocks_avx512(src, cols, r, c, block); return; }
#elif TL_ARM64
    if (TL_USES_NEON() && width % 4 == 0) { columns_to_blocks_neon(src, cols, r, c, width, block); return; }
#endif
    for (size_t i = 0; i < 32; i++)
        for (size_t j = 0; j < width; j++) block[j][i] = src[(r + i) * cols + c + j];
}

static long q8_tile(const float block[16][32], size_t width, int8_t *q, uint16_t *scales, size_t rows, tl_quant_stats *stats) {
#if TL_X86
    if (TL_USES_AVX512()) return q8_blocks_strided_avx512(&block[0][0], 32, width, q, rows, scales, rows / 32, stats);
#endif
    for (size_t j = 0; j < width; j++) {
        const long b = tl_quantize_q8_blocks(block[j], 32, q + j * rows, scales + j * (rows / 32), stats);
        if (b >= 0) return (long)(32 * j) + b;
    }
    return -1;
}

static long q8_0_ggml_tile(const float block[16][32], size_t width, uint8_t *out, size_t rowBytes, tl_quant_stats *stats) {
#if TL_X86
    if (TL_USES_AVX512()) return q8_0_ggml_strided_avx512(&block[0][0], 32, width, out, rowBytes, stats);
#endif
    for (size_t j = 0; j < width; j++) {
        const long b = tl_quantize_q8_0_ggml(block[j], 32, out + j * rowBytes, stats);
        if (b >= 0) return (long)(32 * j) + b;
    }
    return -1;
}

// Where a column quantizer writes: .tlm's int8 plane and scales, or ggml's blocks.
typedef struct {
    int8_t *q;
    uint16_t *scales;
    tl_quant_stats *stats;
    uint8_t *ggml;
} column_output;

// Tiles read front to back across the band, 32 source rows at a time (the prefetcher
// follows them); a failure is reported at its index in the source.
static long quantize_columns(const float *src, size_t rows, size_t cols, size_t c0, size_t c1, column_output out) {
    const size_t blocks = rows / 32, rowBytes = blocks * 34;
    float block[16][32];
    for (size_t rb = 0; rb < blocks; rb++) {
        for (size_t c = c0; c < c1; c += 16) {
            const size_t width = c + 16 <= c1 ? 16 : c1 - c;
            columns_to_blocks(src, cols, 32 * rb, c, width, block);
            const long bad = out.ggml ? q8_0_ggml_tile(block, width, out.ggml + c * rowBytes + 34 * rb, rowBytes, out.stats)
                                      : q8_tile(block, width, out.q + c * rows + 32 * rb, out.scales + c * blocks + rb, rows, out.stats);
            // Block j of the tile is column c + j; place p in it is row 32·rb + p.
            if (bad >= 0) return (long)((32 * rb + (size_t)bad % 32) * cols + c + (size_t)bad / 32);
        }
    }
    return -1;
}

long tl_quantize_q8_columns(const float *src, size_t rows, size_t cols, size_t c0, size_t c1, int8_t *q, uint16_t *scales,
                            tl_quant_stats *stats) {
    return quantize_columns(src, rows, cols, c0, c1, (column_output){q, scales, stats, NULL});
}

long tl_quantize_q8_0_ggml_columns(const float *src, size_t rows, size_t cols, size_t c0, size_t c1, uint8_t *out, tl_quant_stats *stats) {
    return quantize_columns(src, rows, cols, c0, c1, (column_output){NULL, NULL, stats, out});
}
