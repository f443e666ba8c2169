// Float rows → ggml's block types (Q4_0, Q4_1, Q5_0, Q5_1, Q2_K … Q6_K, IQ4_NL), by the reference
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
// The eight-lane vectors below never cross a call (everything is inlined into the
// per-ISA entry points), so their calling convention does not matter.
#pragma clang diagnostic ignored "-Wpsabi"
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

// --- The searches, eight groups at a time -------------------------------------------
//
// Each search runs on eight groups at once, one group per lane: lane g does, operation
// for operation and in the same order, what ggml's scalar search does on group g, and no
// sum crosses lanes, so the results are ggml's bit for bit. Values come transposed: x[i]
// holds value i of each of the eight groups.

typedef float f8 __attribute__((vector_size(32)));
typedef int32_t i8v __attribute__((vector_size(32)));

TL_INLINE f8 splat(float v) { return (f8){v, v, v, v, v, v, v, v}; }
TL_INLINE i8v isplat(int v) { return (i8v){v, v, v, v, v, v, v, v}; }
TL_INLINE f8 sel(i8v m, f8 a, f8 b) { return (f8)(((i8v)a & m) | ((i8v)b & ~m)); }
TL_INLINE i8v isel(i8v m, i8v a, i8v b) { return (a & m) | (b & ~m); }
TL_INLINE f8 vabs(f8 v) { return (f8)((i8v)v & isplat(0x7fffffff)); }
TL_INLINE f8 tofloat(i8v v) { return __builtin_convertvector(v, f8); }
// nearest, lane by lane.
TL_INLINE i8v vnearest(f8 v) { return ((i8v)(v + splat(12582912.0f)) & isplat(0x007fffff)) - isplat(0x00400000); }
TL_INLINE i8v vclamp(i8v v, int lo, int hi) {
    v = isel(v < isplat(lo), isplat(lo), v);
    return isel(v > isplat(hi), isplat(hi), v);
}
TL_INLINE int any(i8v m) {
    int r = 0;
    for (int g = 0; g < 8; g++) r |= m[g];
    return r;
}

// The value of largest magnitude, its sign kept; 0 for a group that is all but zero.
TL_INLINE f8 signed_max8(int n, const f8 *x) {
    f8 max = splat(0), amax = splat(0);
    for (int i = 0; i < n; i++) {
        const f8 ax = vabs(x[i]);
        const i8v larger = ax > amax;
        amax = sel(larger, ax, amax);
        max = sel(larger, x[i], max);
    }
    return sel(amax < splat(TINY_GROUP), splat(0), max);
}

// Levels round(iscale·x) in −nmax … nmax−1 into L, and the sums Σw·x·l and Σw·l²
// weighted by w = x².
TL_INLINE void signed_levels8(int n, int nmax, f8 iscale, const f8 *x, i8v *L, f8 *sumlx, f8 *suml2) {
    f8 slx = splat(0), sl2 = splat(0);
    for (int i = 0; i < n; i++) {
        L[i] = vclamp(vnearest(iscale * x[i]), -nmax, nmax - 1);
        const f8 l = tofloat(L[i]), w = x[i] * x[i];
        slx += w * x[i] * l;
        sl2 += w * l * l;
    }
    *sumlx = slx;
    *suml2 = sl2;
}

// Symmetric levels −nmax … nmax−1 weighted by x² (Q6_K's search): the scale from −nmax/max,
// then 18 nearby scales, keeping the one with the best weighted fit. L receives level +
// nmax (0 for an all-zero group, whose scale is 0).
TL_INLINE f8 best_scale_signed8(int n, int nmax, const f8 *x, i8v *L) {
    const f8 max = signed_max8(n, x);
    const i8v zero = max == splat(0);
    f8 sumlx, suml2;
    signed_levels8(n, nmax, splat((float)-nmax) / max, x, L, &sumlx, &suml2);
    f8 scale = sel(suml2 != splat(0), sumlx / suml2, splat(0));
    f8 best = scale * sumlx;
    i8v trial[32];
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        signed_levels8(n, nmax, splat(-(nmax + 0.1f * is)) / max, x, trial, &sumlx, &suml2);
        const i8v better = (suml2 > splat(0)) & (sumlx * sumlx > best * suml2);
        for (int i = 0; i < n; i++) L[i] = isel(better, trial[i], L[i]);
        scale = sel(better, sumlx / suml2, scale);
        best = sel(better, scale * sumlx, best);
    }
    for (int i = 0; i < n; i++) L[i] = isel(zero, isplat(0), L[i] + isplat(nmax));
    return sel(zero, splat(0), scale);
}

// Levels 0 … nmax with a scale and a minimum (the K types with minimums): starting from
// (max − min)/nmax, nstep + 1 trial scales each fitted by weighted least squares for scale
// and minimum, keeping the smallest weighted error (|e| with mad, else e²). Returns the
// scale; *neg_min receives −minimum (≥ 0).
TL_INLINE f8 best_scale_and_min8(int n, int nmax, const f8 *x, const f8 *w, i8v *L, f8 *neg_min, float rmin, float rdelta,
                                 int nstep, int mad) {
    f8 min = x[0], max = x[0], sum_w = w[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        min = sel(x[i] < min, x[i], min);
        max = sel(x[i] > max, x[i], max);
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    min = sel(min > splat(0), splat(0), min);
    const i8v flat = max == min;
    f8 iscale = splat((float)nmax) / (max - min), scale = splat(1) / iscale, best = splat(0);
    for (int i = 0; i < n; i++) {
        L[i] = vclamp(vnearest(iscale * (x[i] - min)), 0, nmax);
        f8 diff = scale * tofloat(L[i]) + min - x[i];
        diff = mad ? vabs(diff) : diff * diff;
        best += w[i] * diff;
    }
    i8v trial[32];
    for (int is = 0; is <= nstep; is++) {
        // (max − min) with the minimum of the best fit so far, as ggml's loop has it.
        iscale = splat(rmin + rdelta * is + nmax) / (max - min);
        f8 sum_l = splat(0), sum_l2 = splat(0), sum_xl = splat(0);
        for (int i = 0; i < n; i++) {
            trial[i] = vclamp(vnearest(iscale * (x[i] - min)), 0, nmax);
            const f8 l = tofloat(trial[i]);
            sum_l += w[i] * l;
            sum_l2 += w[i] * l * l;
            sum_xl += w[i] * l * x[i];
        }
        const f8 D = sum_w * sum_l2 - sum_l * sum_l;
        f8 this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
        f8 this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
        const i8v positive = this_min > splat(0);
        this_scale = sel(positive, sum_xl / sum_l2, this_scale);
        this_min = sel(positive, splat(0), this_min);
        f8 error = splat(0);
        for (int i = 0; i < n; i++) {
            f8 diff = this_scale * tofloat(trial[i]) + this_min - x[i];
            diff = mad ? vabs(diff) : diff * diff;
            error += w[i] * diff;
        }
        const i8v better = (D > splat(0)) & (error < best) & ~flat;
        for (int i = 0; i < n; i++) L[i] = isel(better, trial[i], L[i]);
        best = sel(better, error, best);
        scale = sel(better, this_scale, scale);
        min = sel(better, this_min, min);
    }
    for (int i = 0; i < n; i++) L[i] = isel(flat, isplat(0), L[i]);
    *neg_min = -min;
    return sel(flat, splat(0), scale);
}

// Q3_K's search: symmetric levels −nmax … nmax−1 weighted by x², then up to five passes
// moving single values to the level that improves the fit (a group whose pass changed
// nothing would change nothing again, so lanes need not stop alone). L receives level +
// nmax (0 for an all-zero group, whose scale is 0).
TL_INLINE f8 q3_scale8(int n, int nmax, const f8 *x, i8v *L) {
    const f8 max = signed_max8(n, x);
    const i8v zero = max == splat(0);
    f8 sumlx, suml2;
    signed_levels8(n, nmax, splat((float)-nmax) / max, x, L, &sumlx, &suml2);
    for (int pass = 0; pass < 5; pass++) {
        i8v changed = isplat(0);
        for (int i = 0; i < n; i++) {
            const f8 w = x[i] * x[i], l = tofloat(L[i]);
            f8 slx = sumlx - w * x[i] * l;
            f8 sl2 = suml2 - w * l * l;
            const i8v new_l = vclamp(vnearest(x[i] * sl2 / slx), -nmax, nmax - 1);
            const f8 nl = tofloat(new_l);
            const i8v moves = (slx > splat(0)) & (new_l != L[i]) & ~zero;
            slx += w * x[i] * nl;
            sl2 += w * nl * nl;
            const i8v better = moves & (sl2 > splat(0)) & (slx * slx * suml2 > sumlx * sumlx * sl2);
            L[i] = isel(better, new_l, L[i]);
            sumlx = sel(better, slx, sumlx);
            suml2 = sel(better, sl2, suml2);
            changed |= better;
        }
        if (!any(changed)) break;
    }
    for (int i = 0; i < n; i++) L[i] = isel(zero, isplat(0), L[i] + isplat(nmax));
    return sel(zero, splat(0), sumlx / suml2);
}

// Eight groups of n values, group g at x + stride·g, transposed into lanes.
TL_INLINE void to_lanes(const float *x, int n, int stride, f8 *out) {
    for (int i = 0; i < n; i++) {
        for (int g = 0; g < 8; g++) out[i][g] = x[stride * g + i];
    }
}

// Levels from lanes back to each group's place.
TL_INLINE void from_lanes(const i8v *L, int n, int stride, uint8_t *out) {
    for (int i = 0; i < n; i++) {
        for (int g = 0; g < 8; g++) out[stride * g + i] = (uint8_t)L[i][g];
    }
}

// --- 32-value blocks -----------------------------------------------------------------

// Q4_0 / Q5_0: d = (the value of largest magnitude) / −2^(bits−1), stored first; returns
// 1/d (0 for a block of zeros). Levels are offset by 2^(bits−1).
TL_INLINE float signed_header(const float *x, float half_range, uint8_t *y) {
    float amax = 0, max = 0;
    for (int j = 0; j < 32; j++) {
        if (amax < fabsf(x[j])) { amax = fabsf(x[j]); max = x[j]; }
    }
    const float d = max / -half_range;
    put_f16(y, d);
    return d ? 1.0f / d : 0.0f;
}

TL_INLINE void q4_0_block(const float *x, uint8_t *y) {
    const float id = signed_header(x, 8, y);
    for (int j = 0; j < 16; j++) {
        int lo = (int8_t)(x[j] * id + 8.5f), hi = (int8_t)(x[16 + j] * id + 8.5f);
        lo = lo < 15 ? lo : 15;
        hi = hi < 15 ? hi : 15;
        y[2 + j] = (uint8_t)(lo | (hi << 4));
    }
}

TL_INLINE void q5_0_block(const float *x, uint8_t *y) {
    const float id = signed_header(x, 16, y);
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

// Q4_1 / Q5_1: d = (max − min) / (2^bits − 1) and the minimum, stored first; returns 1/d
// (0 for a flat block) and the minimum. Levels round half up.
TL_INLINE float range_header(const float *x, float levels, uint8_t *y, float *minimum) {
    float min = x[0], max = x[0];
    for (int j = 1; j < 32; j++) {
        if (x[j] < min) min = x[j];
        if (x[j] > max) max = x[j];
    }
    const float d = (max - min) / levels;
    put_f16(y, d);
    put_f16(y + 2, min);
    *minimum = min;
    return d ? 1.0f / d : 0.0f;
}

TL_INLINE void q4_1_block(const float *x, uint8_t *y) {
    float min;
    const float id = range_header(x, 15, y, &min);
    for (int j = 0; j < 16; j++) {
        int lo = (int8_t)((x[j] - min) * id + 0.5f), hi = (int8_t)((x[16 + j] - min) * id + 0.5f);
        lo = lo < 15 ? lo : 15;
        hi = hi < 15 ? hi : 15;
        y[4 + j] = (uint8_t)(lo | (hi << 4));
    }
}

TL_INLINE void q5_1_block(const float *x, uint8_t *y) {
    float min;
    const float id = range_header(x, 31, y, &min);
    uint32_t high = 0;
    for (int j = 0; j < 16; j++) {
        const uint8_t lo = (uint8_t)((x[j] - min) * id + 0.5f), hi = (uint8_t)((x[16 + j] - min) * id + 0.5f);
        y[8 + j] = (uint8_t)((lo & 15) | ((hi & 15) << 4));
        high |= (uint32_t)((lo & 16) >> 4) << j;
        high |= (uint32_t)((hi & 16) >> 4) << (j + 16);
    }
    memcpy(y + 4, &high, 4);
}

TL_INLINE void q8_0_block(const float *x, uint8_t *y) {
    float amax = 0;
    for (int j = 0; j < 32; j++) amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
    const float d = amax / 127, id = d ? 1.0f / d : 0.0f;
    put_f16(y, d);
    for (int j = 0; j < 32; j++) y[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
}

// IQ4_NL: the nearest of the sixteen table values (ties to the upper), by bisection.
TL_INLINE int iq4_index(float x) {
    const int8_t *v = tl_iq4_values;
    if (x <= v[0]) return 0;
    if (x >= v[15]) return 15;
    int lo = 0, hi = 15;
    while (hi - lo > 1) {
        const int mid = (lo + hi) / 2;
        if (x < v[mid]) hi = mid; else lo = mid;
    }
    return x - v[hi - 1] < v[hi] - x ? hi - 1 : hi;
}

// IQ4_NL (ggml's search for a block of 32 without an importance matrix, weights x²): the
// scale from the value of largest magnitude over −127, then fifteen nearby scales, keeping
// the best weighted fit; the values are then indexed against that scale.
TL_INLINE void iq4_nl_block(const float *x, uint8_t *y) {
    const int8_t *values = tl_iq4_values;
    uint8_t L[32];
    float amax = 0, max = 0;
    for (int j = 0; j < 32; j++) {
        if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); max = x[j]; }
    }
    float d = 0;
    if (amax >= TINY_GROUP) {
        d = -max / values[0];
        float id = 1 / d, sumqx = 0, sumq2 = 0;
        for (int j = 0; j < 32; j++) {
            const float q = values[iq4_index(id * x[j])], w = x[j] * x[j];
            sumqx += w * q * x[j];
            sumq2 += w * q * q;
        }
        d = sumqx / sumq2;
        float best = d * sumqx;
        for (int t = -7; t <= 7; t++) {
            id = (t + values[0]) / max;
            sumqx = sumq2 = 0;
            for (int j = 0; j < 32; j++) {
                const float q = values[iq4_index(id * x[j])], w = x[j] * x[j];
                sumqx += w * q * x[j];
                sumq2 += w * q * q;
            }
            if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                d = sumqx / sumq2;
                best = d * sumqx;
            }
        }
    }
    put_f16(y, d);
    const float id = d ? 1 / d : 0;
    for (int j = 0; j < 32; j++) L[j] = (uint8_t)iq4_index(id * x[j]);
    for (int j = 0; j < 16; j++) y[2 + j] = (uint8_t)(L[j] | (L[16 + j] << 4));
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
TL_INLINE void k_scale_min_block(const float *x, int nmax, float rmin, int nstep, uint8_t *dm, uint8_t *scales, uint8_t *L) {
    f8 xs[32], ws[32], neg_mins;
    i8v levels[32];
    to_lanes(x, 32, 32, xs);
    for (int j = 0; j < 8; j++) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) sum_x2 += x[32 * j + l] * x[32 * j + l];
        const float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) ws[l][j] = av_x + fabsf(x[32 * j + l]);
    }
    const f8 scale8 = best_scale_and_min8(32, nmax, xs, ws, levels, &neg_mins, rmin, 0.1f, nstep, 0);
    from_lanes(levels, 32, 32, L);
    float mins[8], sc[8];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; j++) {
        sc[j] = scale8[j];
        mins[j] = neg_mins[j];
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

TL_INLINE void q4_K_block(const float *x, uint8_t *y) {
    uint8_t L[256];
    k_scale_min_block(x, 15, -1.0f, 20, y, y + 4, L);
    uint8_t *q = y + 16;
    for (int j = 0; j < 256; j += 64, q += 32) {
        for (int l = 0; l < 32; l++) q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
    }
}

TL_INLINE void q5_K_block(const float *x, uint8_t *y) {
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

// A super-block's sixteen groups of 16 through a signed search, eight at a time: Q6_K's
// (nmax 32) or, with q3, Q3_K's (nmax 4). Fills L and each group's scale; returns the
// scale of largest magnitude, and that magnitude in *amax.
TL_INLINE float signed_groups16(const float *x, int nmax, int q3, int8_t *L, float *sc, float *amax) {
    for (int h = 0; h < 2; h++) {
        f8 xs[16];
        i8v levels[16];
        to_lanes(x + 128 * h, 16, 16, xs);
        const f8 scale8 = q3 ? q3_scale8(16, nmax, xs, levels) : best_scale_signed8(16, nmax, xs, levels);
        from_lanes(levels, 16, 16, (uint8_t *)L + 128 * h);
        for (int g = 0; g < 8; g++) sc[8 * h + g] = scale8[g];
    }
    float max_scale = 0, max_abs = 0;
    for (int j = 0; j < 16; j++) {
        if (fabsf(sc[j]) > max_abs) { max_abs = fabsf(sc[j]); max_scale = sc[j]; }
    }
    *amax = max_abs;
    return max_scale;
}

// Q6_K: sixteen groups of 16, each scale from best_scale_signed, quantized to int8 against
// the block's largest; layout ql[128], qh[64], scales[16], d.
TL_INLINE void q6_K_block(const float *x, uint8_t *y) {
    int8_t L[256];
    float sc[16], max_abs_scale;
    const float max_scale = signed_groups16(x, 32, 0, L, sc, &max_abs_scale);
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
TL_INLINE void q2_K_block(const float *x, uint8_t *y) {
    uint8_t L[256];
    float mins[16], sc[16];
    for (int h = 0; h < 2; h++) {
        f8 xs[16], ws[16], neg_mins;
        i8v levels[16];
        to_lanes(x + 128 * h, 16, 16, xs);
        for (int l = 0; l < 16; l++) ws[l] = vabs(xs[l]);
        const f8 scale8 = best_scale_and_min8(16, 3, xs, ws, levels, &neg_mins, -0.5f, 0.1f, 15, 1);
        from_lanes(levels, 16, 16, L + 128 * h);
        for (int g = 0; g < 8; g++) {
            sc[8 * h + g] = scale8[g];
            mins[8 * h + g] = neg_mins[g];
        }
    }
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 16; j++) {
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
TL_INLINE void q3_K_block(const float *x, uint8_t *y) {
    int8_t L[256];
    float sc[16], amax;
    const float max_scale = signed_groups16(x, 4, 1, L, sc, &amax);
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

TL_INLINE void quantize_block(tl_block_type type, const float *x, uint8_t *y) {
    switch (type) {
    case TL_BLOCKS_Q8_0: q8_0_block(x, y); break;
    case TL_BLOCKS_Q4_0: q4_0_block(x, y); break;
    case TL_BLOCKS_Q4_1: q4_1_block(x, y); break;
    case TL_BLOCKS_Q5_0: q5_0_block(x, y); break;
    case TL_BLOCKS_Q5_1: q5_1_block(x, y); break;
    case TL_BLOCKS_Q2_K: q2_K_block(x, y); break;
    case TL_BLOCKS_Q3_K: q3_K_block(x, y); break;
    case TL_BLOCKS_Q4_K: q4_K_block(x, y); break;
    case TL_BLOCKS_Q5_K: q5_K_block(x, y); break;
    case TL_BLOCKS_Q6_K: q6_K_block(x, y); break;
    case TL_BLOCKS_IQ4_NL: iq4_nl_block(x, y); break;
    default: break;  // IQ4_XS is read, not written (tl_quantize_blocks refuses it)
    }
}

TL_INLINE long quantize_body(tl_block_type type, const float *x, size_t n, uint8_t *y) {
    const tl_block_layout *layout = tl_block_layout_of(type);
    const size_t values = layout->values, bytes = layout->bytes;
    for (size_t b = 0; b < n / values; b++) {
        const float *xb = x + values * b;
        // ggml would write garbage from a NaN or infinity, or from values whose scale
        // overflows f16; both are refused (the caller tells them apart by the value).
        for (size_t i = 0; i < values; i++) {
            if (!isfinite(xb[i])) return (long)(values * b + i);
        }
        quantize_block(type, xb, y + bytes * b);
        if (!scales_finite(type, y + bytes * b)) return (long)(values * b);
    }
    return -1;
}

static long quantize_portable(tl_block_type type, const float *x, size_t n, uint8_t *y) { return quantize_body(type, x, n, y); }
#if TL_X86
// The same operations in AVX2's eight lanes (no fused multiply-adds: see the pragma above).
TL_TARGET_AVX2 static long quantize_avx2(tl_block_type type, const float *x, size_t n, uint8_t *y) { return quantize_body(type, x, n, y); }
#endif

long tl_quantize_blocks(tl_block_type type, const float *x, size_t n, void *out) {
    if (type == TL_BLOCKS_IQ4_XS) return 0;
#if TL_X86
    if (TL_USES_AVX2()) return quantize_avx2(type, x, n, out);
#endif
    return quantize_portable(type, x, n, out);
}
