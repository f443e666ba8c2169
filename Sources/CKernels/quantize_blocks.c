// Float rows → ggml's block types (Q4_0, Q4_1, Q5_0, Q5_1, Q2_K … Q6_K), by the reference
// algorithms of ggml's quantizer (what llama-quantize runs without an importance matrix),
// so a file we write has the bytes llama.cpp's would. The searches for a block's scale
// (best_scale_signed, best_scale_and_min, q3_scale) are ggml's; every product and sum is
// in the order ggml computes it, in f32, with no fused multiply-adds: a different rounding
// would pick another scale now and then, and the bytes would differ.
//
// Scalar on purpose: these run once per conversion, where the sums' order matters more
// than their speed, and the tensors are split across threads by the caller.
#include "internal.h"

#pragma STDC FP_CONTRACT OFF
#if defined(__clang__)
#pragma clang fp contract(off)
#endif

// Below this a group is all zeros (ggml's GROUP_MAX_EPS).
#define TINY_GROUP 1e-15f

// round(x), halves to even, as ggml's nearest_int computes it: through the mantissa of
// x + 1.5·2^23 (|x| < 2^22).
static inline int nearest(float x) {
    float v = x + 12582912.0f;
    int32_t i;
    memcpy(&i, &v, 4);
    return (i & 0x007fffff) - 0x00400000;
}

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

// An f16 as ggml stores it: round to nearest even.
static inline uint16_t f16_bits(float f) {
    _Float16 h = (_Float16)f;
    uint16_t b;
    memcpy(&b, &h, 2);
    return b;
}

static inline void put_f16(uint8_t *p, float f) {
    uint16_t b = f16_bits(f);
    memcpy(p, &b, 2);
}

static inline float get_f16(const uint8_t *p) {
    uint16_t b;
    memcpy(&b, p, 2);
    return tl_f16_to_f32(b);
}

// The value of largest magnitude, its sign kept; 0 for a group that is all but zero.
static float signed_max(int n, const float *x) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        float ax = fabsf(x[i]);
        if (ax > amax) { amax = ax; max = x[i]; }
    }
    return amax < TINY_GROUP ? 0.0f : max;
}

// Levels round(iscale·x) in −nmax … nmax−1, stored in L (when given) plus `offset`, and
// the sums Σw·x·l and Σw·l² weighted by w = x².
static void signed_levels(int n, int nmax, float iscale, const float *x, int8_t *L, int offset, float *sumlx, float *suml2) {
    float slx = 0, sl2 = 0;
    for (int i = 0; i < n; i++) {
        int l = clampi(nearest(iscale * x[i]), -nmax, nmax - 1);
        if (L) L[i] = (int8_t)(l + offset);
        float w = x[i] * x[i];
        slx += w * x[i] * l;
        sl2 += w * l * l;
    }
    *sumlx = slx;
    *suml2 = sl2;
}

// Symmetric levels −nmax … nmax−1 for n values, weighted by x² (Q6_K's search): the scale
// from −nmax/max, then 18 nearby scales, keeping the one with the best weighted fit.
// L receives level + nmax.
static float best_scale_signed(int n, int nmax, const float *x, int8_t *L) {
    const float max = signed_max(n, x);
    if (max == 0) {
        for (int i = 0; i < n; i++) L[i] = 0;
        return 0.0f;
    }
    float sumlx, suml2;
    signed_levels(n, nmax, -nmax / max, x, L, nmax, &sumlx, &suml2);
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        const float iscale = -(nmax + 0.1f * is) / max;
        signed_levels(n, nmax, iscale, x, NULL, 0, &sumlx, &suml2);
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            signed_levels(n, nmax, iscale, x, L, nmax, &sumlx, &suml2);
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

// Levels 0 … nmax with a scale and a minimum (the K types with minimums): starting from
// (max − min)/nmax, nstep + 1 trial scales each fitted by weighted least squares for scale
// and minimum, keeping the smallest weighted error (|e| with mad, else e²). Returns the
// scale; *neg_min receives −minimum (≥ 0).
static float best_scale_and_min(int n, int nmax, const float *x, const float *weights, uint8_t *L, float *neg_min,
                                uint8_t *Laux, float rmin, float rdelta, int nstep, int mad) {
    float min = x[0], max = x[0];
    float sum_w = weights[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        float w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        for (int i = 0; i < n; i++) L[i] = 0;
        *neg_min = -min;
        return 0.0f;
    }
    float iscale = nmax / (max - min), scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; i++) {
        int l = nearest(iscale * (x[i] - min));
        L[i] = (uint8_t)clampi(l, 0, nmax);
        float diff = scale * L[i] + min - x[i];
        diff = mad ? fabsf(diff) : diff * diff;
        best_error += weights[i] * diff;
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi(nearest(iscale * (x[i] - min)), 0, nmax);
            Laux[i] = (uint8_t)l;
            float w = weights[i];
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float error = 0;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * Laux[i] + this_min - x[i];
                diff = mad ? fabsf(diff) : diff * diff;
                error += weights[i] * diff;
            }
            if (error < best_error) {
                for (int i = 0; i < n; i++) L[i] = Laux[i];
                best_error = error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *neg_min = -min;
    return scale;
}

// Q3_K's search: symmetric levels −nmax … nmax−1 weighted by x², then up to five passes
// moving single values to the level that improves the fit. L receives level + nmax.
static float q3_scale(int n, int nmax, const float *x, int8_t *L) {
    const float max = signed_max(n, x);
    if (max == 0) {
        for (int i = 0; i < n; i++) L[i] = 0;
        return 0.0f;
    }
    float sumlx, suml2;
    signed_levels(n, nmax, -nmax / max, x, L, 0, &sumlx, &suml2);
    for (int pass = 0; pass < 5; pass++) {
        int changed = 0;
        for (int i = 0; i < n; i++) {
            float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * L[i];
            if (slx > 0) {
                float sl2 = suml2 - w * L[i] * L[i];
                int new_l = clampi(nearest(x[i] * sl2 / slx), -nmax, nmax - 1);
                if (new_l != L[i]) {
                    slx += w * x[i] * new_l;
                    sl2 += w * new_l * new_l;
                    if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (int8_t)new_l;
                        sumlx = slx;
                        suml2 = sl2;
                        changed++;
                    }
                }
            }
        }
        if (!changed) break;
    }
    for (int i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
    return sumlx / suml2;
}

// --- 32-value blocks -----------------------------------------------------------------

// Q4_0 / Q5_0: d = (the value of largest magnitude) / −2^(bits−1); levels offset by 2^(bits−1).
static void q4_0_block(const float *x, uint8_t *y) {
    float amax = 0, max = 0;
    for (int j = 0; j < 32; j++) {
        if (amax < fabsf(x[j])) { amax = fabsf(x[j]); max = x[j]; }
    }
    const float d = max / -8, id = d ? 1.0f / d : 0.0f;
    put_f16(y, d);
    for (int j = 0; j < 16; j++) {
        int lo = (int8_t)(x[j] * id + 8.5f), hi = (int8_t)(x[16 + j] * id + 8.5f);
        lo = lo < 15 ? lo : 15;
        hi = hi < 15 ? hi : 15;
        y[2 + j] = (uint8_t)(lo | (hi << 4));
    }
}

static void q5_0_block(const float *x, uint8_t *y) {
    float amax = 0, max = 0;
    for (int j = 0; j < 32; j++) {
        if (amax < fabsf(x[j])) { amax = fabsf(x[j]); max = x[j]; }
    }
    const float d = max / -16, id = d ? 1.0f / d : 0.0f;
    put_f16(y, d);
    uint32_t high = 0;
    for (int j = 0; j < 16; j++) {
        int lo = (int8_t)(x[j] * id + 16.5f), hi = (int8_t)(x[16 + j] * id + 16.5f);
        lo = lo < 31 ? lo : 31;
        hi = hi < 31 ? hi : 31;
        y[6 + j] = (uint8_t)((lo & 15) | ((hi & 15) << 4));
        high |= (uint32_t)((lo & 16) >> 4) << j;
        high |= (uint32_t)((hi & 16) >> 4) << (j + 16);
    }
    memcpy(y + 2, &high, 4);
}

// Q4_1 / Q5_1: d = (max − min) / (2^bits − 1) and the minimum; levels round half up.
static void q4_1_block(const float *x, uint8_t *y) {
    float min = x[0], max = x[0];
    for (int j = 1; j < 32; j++) {
        if (x[j] < min) min = x[j];
        if (x[j] > max) max = x[j];
    }
    const float d = (max - min) / 15, id = d ? 1.0f / d : 0.0f;
    put_f16(y, d);
    put_f16(y + 2, min);
    for (int j = 0; j < 16; j++) {
        int lo = (int8_t)((x[j] - min) * id + 0.5f), hi = (int8_t)((x[16 + j] - min) * id + 0.5f);
        lo = lo < 15 ? lo : 15;
        hi = hi < 15 ? hi : 15;
        y[4 + j] = (uint8_t)(lo | (hi << 4));
    }
}

static void q5_1_block(const float *x, uint8_t *y) {
    float min = x[0], max = x[0];
    for (int j = 1; j < 32; j++) {
        if (x[j] < min) min = x[j];
        if (x[j] > max) max = x[j];
    }
    const float d = (max - min) / 31, id = d ? 1.0f / d : 0.0f;
    put_f16(y, d);
    put_f16(y + 2, min);
    uint32_t high = 0;
    for (int j = 0; j < 16; j++) {
        const uint8_t lo = (uint8_t)((x[j] - min) * id + 0.5f), hi = (uint8_t)((x[16 + j] - min) * id + 0.5f);
        y[8 + j] = (uint8_t)((lo & 15) | ((hi & 15) << 4));
        high |= (uint32_t)((lo & 16) >> 4) << j;
        high |= (uint32_t)((hi & 16) >> 4) << (j + 16);
    }
    memcpy(y + 4, &high, 4);
}

static void q8_0_block(const float *x, uint8_t *y) {
    float amax = 0;
    for (int j = 0; j < 32; j++) amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
    const float d = amax / 127, id = d ? 1.0f / d : 0.0f;
    put_f16(y, d);
    for (int j = 0; j < 32; j++) y[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
}

// --- 256-value super-blocks ----------------------------------------------------------

// Q4_K and Q5_K's twelve bytes: eight 6-bit scales and eight 6-bit minimums.
static void pack_scales_mins(const int *ls, const int *lm, uint8_t *s) {
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            s[j] = (uint8_t)ls[j];
            s[j + 4] = (uint8_t)lm[j];
        } else {
            s[j + 4] = (uint8_t)((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
            s[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
            s[j] |= (uint8_t)((lm[j] >> 4) << 6);
        }
    }
}

static void scale_min_at(int j, const uint8_t *s, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

// Q4_K (nmax 15) and Q5_K (31): eight groups of 32, each a scale and minimum found by
// best_scale_and_min weighted by rms + |x|, then both quantized to 6 bits against the
// block's largest, and the values requantized to the stored scales. L receives levels.
static void k_scale_min_block(const float *x, int nmax, float rmin, int nstep, uint8_t *dm, uint8_t *scales, uint8_t *L) {
    float mins[8], sc[8], weights[32];
    uint8_t Laux[32];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; j++) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) sum_x2 += x[32 * j + l] * x[32 * j + l];
        const float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) weights[l] = av_x + fabsf(x[32 * j + l]);
        sc[j] = best_scale_and_min(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, 0.1f, nstep, 0);
        if (sc[j] > max_scale) max_scale = sc[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
    const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
    int ls[8], lm[8];
    for (int j = 0; j < 8; j++) {
        ls[j] = nearest(inv_scale * sc[j]);
        lm[j] = nearest(inv_min * mins[j]);
        ls[j] = ls[j] < 63 ? ls[j] : 63;
        lm[j] = lm[j] < 63 ? lm[j] : 63;
    }
    memset(scales, 0, 12);
    pack_scales_mins(ls, lm, scales);
    put_f16(dm, max_scale / 63.0f);
    put_f16(dm + 2, max_min / 63.0f);
    const float d_all = get_f16(dm), dmin_all = get_f16(dm + 2);
    for (int j = 0; j < 8; j++) {
        int s, m;
        scale_min_at(j, scales, &s, &m);
        const float d = d_all * s;
        if (!d) continue;
        const float dmn = dmin_all * m;
        for (int ii = 0; ii < 32; ii++) L[32 * j + ii] = (uint8_t)clampi(nearest((x[32 * j + ii] + dmn) / d), 0, nmax);
    }
}

static void q4_K_block(const float *x, uint8_t *y) {
    uint8_t L[256];
    k_scale_min_block(x, 15, -1.0f, 20, y, y + 4, L);
    uint8_t *q = y + 16;
    for (int j = 0; j < 256; j += 64, q += 32) {
        for (int l = 0; l < 32; l++) q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
    }
}

static void q5_K_block(const float *x, uint8_t *y) {
    uint8_t L[256];
    k_scale_min_block(x, 31, -0.5f, 15, y, y + 4, L);
    uint8_t *qh = y + 16, *ql = y + 48;
    memset(qh, 0, 32);
    uint8_t m1 = 1, m2 = 2;
    for (int n = 0; n < 256; n += 64, ql += 32) {
        for (int j = 0; j < 32; j++) {
            int l1 = L[n + j], l2 = L[n + j + 32];
            if (l1 > 15) { l1 -= 16; qh[j] |= m1; }
            if (l2 > 15) { l2 -= 16; qh[j] |= m2; }
            ql[j] = (uint8_t)(l1 | (l2 << 4));
        }
        m1 <<= 2;
        m2 <<= 2;
    }
}

// Q6_K: sixteen groups of 16, each scale from best_scale_signed, quantized to int8 against
// the block's largest; layout ql[128], qh[64], scales[16], d.
static void q6_K_block(const float *x, uint8_t *y) {
    int8_t L[256];
    float sc[16];
    float max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < 16; ib++) {
        sc[ib] = best_scale_signed(16, 32, x + 16 * ib, L + 16 * ib);
        if (fabsf(sc[ib]) > max_abs_scale) { max_abs_scale = fabsf(sc[ib]); max_scale = sc[ib]; }
    }
    uint8_t *ql = y, *qh = y + 128;
    int8_t *scales = (int8_t *)(y + 192);
    if (max_abs_scale < TINY_GROUP) {
        memset(y, 0, 210);
        return;
    }
    const float iscale = -128.0f / max_scale;
    put_f16(y + 208, 1 / iscale);
    for (int ib = 0; ib < 16; ib++) {
        int s = nearest(iscale * sc[ib]);
        scales[ib] = (int8_t)(s < 127 ? s : 127);
    }
    const float d_all = get_f16(y + 208);
    for (int j = 0; j < 16; j++) {
        const float d = d_all * scales[j];
        if (!d) continue;
        for (int ii = 0; ii < 16; ii++) L[16 * j + ii] = (int8_t)(clampi(nearest(x[16 * j + ii] / d), -32, 31) + 32);
    }
    for (int j = 0; j < 256; j += 128, ql += 64, qh += 32) {
        for (int l = 0; l < 32; l++) {
            const uint8_t q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF, q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
            ql[l] = (uint8_t)(q1 | (q3 << 4));
            ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
            qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
        }
    }
}

// Four 2-bit levels of 32 consecutive groups in a byte (Q2_K and Q3_K's low bits).
static void pack_2bit(const uint8_t *L, uint8_t *qs) {
    for (int j = 0; j < 256; j += 128) {
        for (int l = 0; l < 32; l++) {
            qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
        }
    }
}

// Q2_K: sixteen groups of 16, scale and minimum by best_scale_and_min weighted by |x| with
// absolute error, each quantized to 4 bits; layout scales[16], qs[64], d, dmin.
static void q2_K_block(const float *x, uint8_t *y) {
    uint8_t L[256], Laux[16];
    float weights[16], mins[16], sc[16];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 16; j++) {
        for (int l = 0; l < 16; l++) weights[l] = fabsf(x[16 * j + l]);
        sc[j] = best_scale_and_min(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f, 15, 1);
        if (sc[j] > max_scale) max_scale = sc[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    uint8_t *scales = y, *qs = y + 16;
    if (max_scale > 0) {
        const float iscale = 15.0f / max_scale;
        for (int j = 0; j < 16; j++) scales[j] = (uint8_t)nearest(iscale * sc[j]);
        put_f16(y + 80, max_scale / 15.0f);
    } else {
        memset(scales, 0, 16);
        put_f16(y + 80, 0.0f);
    }
    if (max_min > 0) {
        const float iscale = 15.0f / max_min;
        for (int j = 0; j < 16; j++) scales[j] |= (uint8_t)(nearest(iscale * mins[j]) << 4);
        put_f16(y + 82, max_min / 15.0f);
    } else {
        put_f16(y + 82, 0.0f);
    }
    const float d_all = get_f16(y + 80), dmin_all = get_f16(y + 82);
    for (int j = 0; j < 16; j++) {
        const float d = d_all * (scales[j] & 0xF);
        if (!d) continue;
        const float dm = dmin_all * (scales[j] >> 4);
        for (int ii = 0; ii < 16; ii++) L[16 * j + ii] = (uint8_t)clampi(nearest((x[16 * j + ii] + dm) / d), 0, 3);
    }
    pack_2bit(L, qs);
}

// Q3_K: sixteen groups of 16 by q3_scale, scales to 6 bits against the block's largest;
// layout hmask[32], qs[64], scales[12], d.
static void q3_K_block(const float *x, uint8_t *y) {
    int8_t L[256];
    float sc[16];
    float max_scale = 0, amax = 0;
    for (int j = 0; j < 16; j++) {
        sc[j] = q3_scale(16, 4, x + 16 * j, L + 16 * j);
        if (fabsf(sc[j]) > amax) { amax = fabsf(sc[j]); max_scale = sc[j]; }
    }
    uint8_t *hmask = y, *qs = y + 32, *scales = y + 96;
    memset(scales, 0, 12);
    if (max_scale) {
        const float iscale = -32.0f / max_scale;
        for (int j = 0; j < 16; j++) {
            int l = clampi(nearest(iscale * sc[j]), -32, 31) + 32;
            if (j < 8) scales[j] = (uint8_t)(l & 0xF);
            else scales[j - 8] |= (uint8_t)((l & 0xF) << 4);
            l >>= 4;
            scales[j % 4 + 8] |= (uint8_t)(l << (2 * (j / 4)));
        }
        put_f16(y + 108, 1 / iscale);
    } else {
        put_f16(y + 108, 0.0f);
    }
    const float d_all = get_f16(y + 108);
    for (int j = 0; j < 16; j++) {
        int s = j < 8 ? scales[j] & 0xF : scales[j - 8] >> 4;
        s = (s | (((scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
        const float d = d_all * s;
        if (!d) continue;
        for (int ii = 0; ii < 16; ii++) L[16 * j + ii] = (int8_t)(clampi(nearest(x[16 * j + ii] / d), -4, 3) + 4);
    }
    memset(hmask, 0, 32);
    int m = 0;
    uint8_t hm = 1;
    for (int j = 0; j < 256; j++) {
        if (L[j] > 3) {
            hmask[m] |= hm;
            L[j] -= 4;
        }
        if (++m == 32) { m = 0; hm <<= 1; }
    }
    pack_2bit((const uint8_t *)L, qs);
}

typedef void (*block_quantizer)(const float *x, uint8_t *y);

// Whether a block's f16 scales (and minimums) are finite: where each type keeps them.
static int scales_finite(tl_block_type type, const uint8_t *y) {
    int at[2] = {0, -1};
    switch (type) {
    case TL_BLOCKS_Q4_1: case TL_BLOCKS_Q5_1: case TL_BLOCKS_Q4_K: case TL_BLOCKS_Q5_K: at[1] = 2; break;
    case TL_BLOCKS_Q2_K: at[0] = 80; at[1] = 82; break;
    case TL_BLOCKS_Q3_K: at[0] = 108; break;
    case TL_BLOCKS_Q6_K: at[0] = 208; break;
    default: break;
    }
    for (int i = 0; i < 2; i++) {
        if (at[i] >= 0 && !isfinite(get_f16(y + at[i]))) return 0;
    }
    return 1;
}

long tl_quantize_blocks(tl_block_type type, const float *x, size_t n, void *out) {
    block_quantizer q;
    switch (type) {
    case TL_BLOCKS_Q8_0: q = q8_0_block; break;
    case TL_BLOCKS_Q4_0: q = q4_0_block; break;
    case TL_BLOCKS_Q4_1: q = q4_1_block; break;
    case TL_BLOCKS_Q5_0: q = q5_0_block; break;
    case TL_BLOCKS_Q5_1: q = q5_1_block; break;
    case TL_BLOCKS_Q2_K: q = q2_K_block; break;
    case TL_BLOCKS_Q3_K: q = q3_K_block; break;
    case TL_BLOCKS_Q4_K: q = q4_K_block; break;
    case TL_BLOCKS_Q5_K: q = q5_K_block; break;
    case TL_BLOCKS_Q6_K: q = q6_K_block; break;
    default: return 0;  // IQ4 types are read, not written
    }
    const tl_block_layout *layout = tl_block_layout_of(type);
    const size_t values = layout->values, bytes = layout->bytes;
    uint8_t *y = out;
    for (size_t b = 0; b < n / values; b++) {
        const float *xb = x + values * b;
        // ggml would write garbage from a NaN or infinity, or from values whose scale
        // overflows f16; both are refused (the caller tells them apart by the value).
        for (size_t i = 0; i < values; i++) {
            if (!isfinite(xb[i])) return (long)(values * b + i);
        }
        q(xb, y + bytes * b);
        if (!scales_finite(type, y + bytes * b)) return (long)(values * b);
    }
    return -1;
}
