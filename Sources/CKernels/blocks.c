// Weights in ggml's block types (a GGUF's Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K … Q6_K,
// IQ4_NL and IQ4_XS) used as they lie in the file, against activations quantized in blocks
// of 32 (int8, an f32 scale and the block's Σq each): a row is read at its stored 2.6–8.5
// bits per weight, which is what decoding, bound by memory bandwidth, pays for.
//
// Every type's row reduces to integer sums over one activation block. With weights
// w = a·q − b per block of 32 (q unsigned: Q4_1, Q5_1, Q4_K, Q5_K) the block contributes
// xs·(a·Σq·x − b·Σx), and Σx is the block sum the quantizer kept. Q6_K's scales change
// every 16 values, so its kernels multiply pairs of 16 by their own scale in integers.
// Zero points (Q4_0's 8, Q5_0's 16, Q6_K's 32, Q3_K's 4) are taken off in integers,
// exactly, except in the kernels that take all of a product's rows at once (AVX-512's,
// and AVX2's for the blocks of 32, Q2_K, Q3_K and Q6_K): they arrange what depends only on
// the activations (their order, their per-block or per-16 factors) a single time, keep the
// values unsigned and take z·Σx off in floats, once per block or run of 16, which spares
// the per-row loop the work (a rounding of 2⁻²⁴ of z·Σx).
//
// The products over the 256-value types (Q2_K … Q6_K, IQ4_XS) are given activations with
// one scale per 256 values (tl_quantize_activations_256, written per block of 32 all the
// same): AVX2's and NEON's kernels of those types then multiply each block's (or run's)
// sums by its integer scale and add the super-block up in int32, converting once per
// super-block. They check that the eight scales are one, and otherwise take the per-block
// path.
//
// Each type has a portable definition and AVX2, AVX-512 VNNI (512-bit, with 256-bit ones
// for a row's last blocks), NEON and NEON+SDOT variants; one table per variant, picked by
// the thread's variant on each call, and beside them x86's rows tables and ARM's tables of
// the super-block kernels.
// A prompt's products are gemm_blocks.c's.
#include "internal.h"

/// One row of n values in a block type · activations quantized in blocks of 32.
typedef float (*tl_block_dot)(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum);

// ---- Layouts ------------------------------------------------------------------------
//   Q8_0  34 bytes / 32:  f16 d, 32 int8:                      w = d·q
//   Q4_0  18 bytes / 32:  f16 d, 16 bytes of nibbles:           w = d·(q − 8); low nibbles 0–15
//   Q4_1  20 bytes / 32:  f16 d, f16 m, 16 bytes of nibbles:    w = d·q + m
//   Q5_0  22 bytes / 32:  f16 d, 32 fifth bits (bit i for value i), nibbles: w = d·(q − 16)
//   Q5_1  24 bytes / 32:  f16 d, f16 m, 32 fifth bits, nibbles: w = d·q + m
//   Q4_K 144 bytes / 256: f16 d, f16 dmin, 12 bytes of 6-bit scales and mins, 128 of nibbles:
//                         w = d·sc_j·q − dmin·m_j per block j of 32; bytes 32c..32c+31
//                         hold block 2c in their low nibbles and block 2c+1 in the high
//   Q5_K 176 bytes / 256: as Q4_K with 32 bytes of fifth bits (bit 2c and 2c+1 of byte l
//                         for element l of blocks 2c and 2c+1) before the nibbles
//   Q6_K 210 bytes / 256: 128 bytes of low nibbles, 64 of high bit pairs, 16 int8 scales
//                         (one per 16), f16 d: w = d·sc·(q − 32)
//   Q2_K  84 bytes / 256: 16 bytes of 4-bit scale (low) and minimum (high), one pair per 16;
//                         64 bytes of 2-bit values (value i: byte 32·(i/128) + i%32, bits
//                         2·((i%128)/32)); f16 d, f16 dmin: w = d·sc·q − dmin·m
//   Q3_K 110 bytes / 256: 32 bytes of high bits (value i: bit i/32 of byte i%32), 64 of
//                         2-bit values as Q2_K's, 12 bytes of 6-bit scales − 32, f16 d:
//                         w = d·sc·(q + 4·high − 4)
//   IQ4_NL 18 bytes / 32: f16 d, 16 bytes of nibbles (as Q4_0's) indexing 16 fixed values
//   IQ4_XS 136 bytes / 256: f16 d, 16 high scale bits, 4 bytes of low scale nibbles (a 6-bit
//                         scale − 32 per 32), 128 bytes of nibbles as IQ4_NL's
//
// The portable variant runs Q2_K, Q3_K, IQ4_NL and IQ4_XS through their unpacking (below),
// which the compiler vectorizes.

/// The f16 at p: by FCVT on ARM (tl_half_at); elsewhere bit by bit (the x86 kernels convert
/// by F16C where it counts).
TL_INLINE float f16_at(const uint8_t *p) {
#if TL_ARM64
    return tl_half_at(p);
#else
    uint16_t h;
    memcpy(&h, p, 2);
    return tl_f16_to_f32(h);
#endif
}

/// The 6-bit scales and minimums of a Q4_K or Q5_K super-block's eight blocks.
TL_INLINE void k4_scales(const uint8_t *s, uint8_t sc[8], uint8_t m[8]) {
    for (int j = 0; j < 4; j++) {
        sc[j] = s[j] & 63;
        m[j] = s[j + 4] & 63;
        sc[j + 4] = (uint8_t)((s[j + 8] & 0x0F) | ((s[j] >> 6) << 4));
        m[j + 4] = (uint8_t)((s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4));
    }
}

/// The same scales and minimums as 8 bytes each (byte j for block j), from 32-bit words.
__attribute__((unused)) TL_INLINE void k4_scale_words(const uint8_t *s, uint64_t *sc, uint64_t *m) {
    uint32_t w[3];
    memcpy(w, s, 12);
    *sc = (w[0] & 0x3f3f3f3fu) | (uint64_t)((w[2] & 0x0f0f0f0fu) | ((w[0] >> 6) & 0x03030303u) << 4) << 32;
    *m = (w[1] & 0x3f3f3f3fu) | (uint64_t)(((w[2] >> 4) & 0x0f0f0f0fu) | ((w[1] >> 6) & 0x03030303u) << 4) << 32;
}

/// Σ over a super-block's 8 blocks of dmin·m_j·xs_j·Σx_j: the minimums' share of a Q4_K/Q5_K dot.
TL_INLINE float k4_mins(float dmin, const uint8_t m[8], const float *xs, const int32_t *xsum) {
    float s = 0;
    for (int j = 0; j < 8; j++) s += (float)m[j] * xs[j] * (float)xsum[j];
    return dmin * s;
}

// ---- Portable: the definitions ---------------------------------------------------------

static float dot_q8_0_portable(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum) {
    (void)xsum;
    float s = 0;
    for (size_t b = 0; b < n / 32; b++, w += 34, x += 32) {
        int32_t isum = 0;
        for (int i = 0; i < 32; i++) isum += (int8_t)w[2 + i] * x[i];
        s += f16_at(w) * xs[b] * (float)isum;
    }
    return s;
}

static float dot_q4_0_portable(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum) {
    float s = 0;
    for (size_t b = 0; b < n / 32; b++, w += 18, x += 32) {
        int32_t isum = 0;
        for (int i = 0; i < 16; i++) isum += (w[2 + i] & 0x0F) * x[i] + (w[2 + i] >> 4) * x[i + 16];
        s += f16_at(w) * xs[b] * (float)(isum - 8 * xsum[b]);
    }
    return s;
}

/// Σq·x over a block of 32 stored as nibbles (low 0–15, high 16–31), with the fifth bits of
/// qh when `five`.
TL_INLINE int32_t nibble_dot(const uint8_t *qs, uint32_t qh, int five, const int8_t *x) {
    int32_t s = 0;
    for (int i = 0; i < 16; i++) {
        int lo = qs[i] & 0x0F, hi = qs[i] >> 4;
        if (five) {
            lo |= (int)((qh >> i) & 1) << 4;
            hi |= (int)((qh >> (i + 16)) & 1) << 4;
        }
        s += lo * x[i] + hi * x[i + 16];
    }
    return s;
}

TL_INLINE uint32_t bits_at(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static float dot_q4_1_portable(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum) {
    float s = 0;
    for (size_t b = 0; b < n / 32; b++, w += 20, x += 32) s += xs[b] * (f16_at(w) * (float)nibble_dot(w + 4, 0, 0, x) + f16_at(w + 2) * (float)xsum[b]);
    return s;
}

static float dot_q5_0_portable(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum) {
    float s = 0;
    for (size_t b = 0; b < n / 32; b++, w += 22, x += 32) s += f16_at(w) * xs[b] * (float)(nibble_dot(w + 6, bits_at(w + 2), 1, x) - 16 * xsum[b]);
    return s;
}

static float dot_q5_1_portable(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum) {
    float s = 0;
    for (size_t b = 0; b < n / 32; b++, w += 24, x += 32) s += xs[b] * (f16_at(w) * (float)nibble_dot(w + 8, bits_at(w + 4), 1, x) + f16_at(w + 2) * (float)xsum[b]);
    return s;
}

static float dot_q45k_portable(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum, int five) {
    const size_t bytes = five ? 176 : 144;
    float s = 0;
    for (size_t sb = 0; sb < n / 256; sb++, w += bytes, x += 256, xs += 8, xsum += 8) {
        uint8_t sc[8], m[8];
        k4_scales(w + 4, sc, m);
        const uint8_t *qh = w + 16, *ql = w + (five ? 48 : 16);
        const float d = f16_at(w);
        for (int c = 0; c < 4; c++) {
            int32_t lo = 0, hi = 0;
            for (int l = 0; l < 32; l++) {
                int a = ql[32 * c + l] & 0x0F, b = ql[32 * c + l] >> 4;
                if (five) {
                    a |= ((qh[l] >> (2 * c)) & 1) << 4;
                    b |= ((qh[l] >> (2 * c + 1)) & 1) << 4;
                }
                lo += a * x[64 * c + l];
                hi += b * x[64 * c + 32 + l];
            }
            s += d * (float)sc[2 * c] * xs[2 * c] * (float)lo + d * (float)sc[2 * c + 1] * xs[2 * c + 1] * (float)hi;
        }
        s -= k4_mins(f16_at(w + 2), m, xs, xsum);
    }
    return s;
}

static float dot_q4_k_portable(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum) {
    return dot_q45k_portable(w, n, x, xs, xsum, 0);
}

static float dot_q5_k_portable(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum) {
    return dot_q45k_portable(w, n, x, xs, xsum, 1);
}

static float dot_q6_k_portable(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum) {
    (void)xsum;
    float s = 0;
    for (size_t sb = 0; sb < n / 256; sb++, w += 210) {
        const float d = f16_at(w + 208);
        for (int h = 0; h < 2; h++, x += 128, xs += 4) {
            const uint8_t *ql = w + 64 * h, *qh = w + 128 + 32 * h;
            const int8_t *sc = (const int8_t *)(w + 192 + 8 * h);
            for (int g = 0; g < 4; g++) {  // the blocks of 32 at 32g within this half
                int32_t part[2] = {0, 0};
                for (int l = 0; l < 32; l++) {
                    const uint8_t low = g & 1 ? ql[l + 32] : ql[l];
                    const int q = ((g < 2 ? low & 0x0F : low >> 4) | (((qh[l] >> (2 * g)) & 3) << 4)) - 32;
                    part[l / 16] += q * x[32 * g + l];
                }
                s += d * xs[g] * (float)(sc[2 * g] * part[0] + sc[2 * g + 1] * part[1]);
            }
        }
    }
    return s;
}

// ---- Unpacking, for the prompt kernels (gemm_blocks.c) -----------------------------------

// One stored block as unsigned bytes u and, per 16 values, a and c with w = a·(u − z) − c,
// z the type's zero point (the layouts' table below).
static void unpack_q8_0(const uint8_t *restrict p, uint8_t *restrict u, float *restrict a, float *restrict c) {
    const float d = f16_at(p);
    for (int i = 0; i < 32; i++) u[i] = p[2 + i] ^ 0x80u;  // q + 128
    a[0] = a[1] = d;
    c[0] = c[1] = 0;
}

static void unpack_q4_0(const uint8_t *restrict p, uint8_t *restrict u, float *restrict a, float *restrict c) {
    const float d = f16_at(p);
    for (int i = 0; i < 16; i++) { u[i] = p[2 + i] & 0x0F; u[i + 16] = p[2 + i] >> 4; }
    a[0] = a[1] = d;
    c[0] = c[1] = 0;
}

/// A block of 32 nibbles (and fifth bits) as bytes in value order.
TL_INLINE void unpack_nibbles(const uint8_t *qs, uint32_t qh, int five, uint8_t *u) {
    for (int i = 0; i < 16; i++) {
        u[i] = (uint8_t)((qs[i] & 0x0F) | (five ? ((qh >> i) & 1) << 4 : 0));
        u[i + 16] = (uint8_t)((qs[i] >> 4) | (five ? ((qh >> (i + 16)) & 1) << 4 : 0));
    }
}

static void unpack_q4_1(const uint8_t *restrict p, uint8_t *restrict u, float *restrict a, float *restrict c) {
    unpack_nibbles(p + 4, 0, 0, u);
    a[0] = a[1] = f16_at(p);
    c[0] = c[1] = -f16_at(p + 2);
}

static void unpack_q5_0(const uint8_t *restrict p, uint8_t *restrict u, float *restrict a, float *restrict c) {
    unpack_nibbles(p + 6, bits_at(p + 2), 1, u);
    a[0] = a[1] = f16_at(p);
    c[0] = c[1] = 0;
}

static void unpack_q5_1(const uint8_t *restrict p, uint8_t *restrict u, float *restrict a, float *restrict c) {
    unpack_nibbles(p + 8, bits_at(p + 4), 1, u);
    a[0] = a[1] = f16_at(p);
    c[0] = c[1] = -f16_at(p + 2);
}

/// A Q4_K or Q5_K super-block's factors as `unpack` gives them: d·sc_j and dmin·m_j on
/// both halves of block j.
TL_INLINE void k4_factors(const uint8_t *p, float *a, float *c) {
    uint8_t sc[8], m[8];
    k4_scales(p + 4, sc, m);
    const float d = f16_at(p), dmin = f16_at(p + 2);
    for (int j = 0; j < 8; j++) {
        a[2 * j] = a[2 * j + 1] = d * sc[j];
        c[2 * j] = c[2 * j + 1] = dmin * m[j];
    }
}

static void unpack_q45_k(const uint8_t *restrict p, uint8_t *restrict u, float *restrict a, float *restrict c, int five) {
    const uint8_t *qh = p + 16, *ql = p + (five ? 48 : 16);
    for (int k = 0; k < 4; k++) {  // simple loops, which compilers vectorize
        uint8_t *lo = u + 64 * k, *hi = lo + 32;
        for (int l = 0; l < 32; l++) { lo[l] = ql[32 * k + l] & 0x0F; hi[l] = ql[32 * k + l] >> 4; }
        if (five) {
            for (int l = 0; l < 32; l++) {
                lo[l] |= (uint8_t)(((qh[l] >> (2 * k)) & 1) << 4);
                hi[l] |= (uint8_t)(((qh[l] >> (2 * k + 1)) & 1) << 4);
            }
        }
    }
    k4_factors(p, a, c);
}

static void unpack_q4_k(const uint8_t *restrict p, uint8_t *restrict u, float *restrict a, float *restrict c) { unpack_q45_k(p, u, a, c, 0); }
static void unpack_q5_k(const uint8_t *restrict p, uint8_t *restrict u, float *restrict a, float *restrict c) { unpack_q45_k(p, u, a, c, 1); }

static void unpack_q6_k(const uint8_t *restrict p, uint8_t *restrict u, float *restrict a, float *restrict c) {
    const float d = f16_at(p + 208);
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = p + 64 * h, *qh = p + 128 + 32 * h;
        for (int l = 0; l < 32; l++) {
            u[128 * h + l] = (uint8_t)((ql[l] & 0x0F) | ((qh[l] & 3) << 4));
            u[128 * h + 32 + l] = (uint8_t)((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4));
            u[128 * h + 64 + l] = (uint8_t)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
            u[128 * h + 96 + l] = (uint8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
        }
    }
    for (int g = 0; g < 16; g++) {
        a[g] = d * (float)(int8_t)p[192 + g];
        c[g] = 0;
    }
}

/// Q3_K's scale of group g (of 16 values): 4 low bits in the nibbles of bytes 96–103, 2
/// high bits in bytes 104–107, minus 32.
TL_INLINE int q3k_scale(const uint8_t *p, int g) {
    return (((p[96 + g % 8] >> (4 * (g / 8))) & 0x0F) | (((p[104 + g % 4] >> (2 * (g / 4))) & 3) << 4)) - 32;
}

/// IQ4_XS's scale of block j (of 32 values): 4 low bits in the nibbles of bytes 4–7, 2 high
/// bits in the 16-bit word at byte 2, minus 32.
TL_INLINE int iq4xs_scale(const uint8_t *p, int j) {
    const int high = p[2] | p[3] << 8;
    return (((p[4 + j / 2] >> (4 * (j % 2))) & 0x0F) | (((high >> (2 * j)) & 3) << 4)) - 32;
}

static void unpack_q2_k(const uint8_t *restrict p, uint8_t *restrict u, float *restrict a, float *restrict c) {
    const float d = f16_at(p + 80), dmin = f16_at(p + 82);
    for (int h = 0; h < 2; h++)
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++) u[128 * h + 32 * j + l] = (p[16 + 32 * h + l] >> (2 * j)) & 3;
    for (int g = 0; g < 16; g++) {
        a[g] = d * (float)(p[g] & 0x0F);
        c[g] = dmin * (float)(p[g] >> 4);
    }
}

static void unpack_q3_k(const uint8_t *restrict p, uint8_t *restrict u, float *restrict a, float *restrict c) {
    const float d = f16_at(p + 108);
    for (int h = 0; h < 2; h++)
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++) {
                const int i = 128 * h + 32 * j + l;
                u[i] = (uint8_t)(((p[32 + 32 * h + l] >> (2 * j)) & 3) | (((p[l] >> (i / 32)) & 1) << 2));
            }
    for (int g = 0; g < 16; g++) {
        a[g] = d * (float)q3k_scale(p, g);
        c[g] = 0;
    }
}

const int8_t tl_iq4_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

#if TL_X86
/// The same with PSHUFB (every AVX2 CPU has it): the table lookup the compiler cannot make
/// of the loop below at the baseline it compiles for.
__attribute__((target("ssse3"))) static void iq4_nibbles_ssse3(const uint8_t *qs, uint8_t *u) {
    const __m128i table = _mm_add_epi8(_mm_loadu_si128((const __m128i *)(const void *)tl_iq4_values), _mm_set1_epi8((char)128));
    const __m128i raw = _mm_loadu_si128((const __m128i *)(const void *)qs), low = _mm_set1_epi8(0x0F);
    _mm_storeu_si128((__m128i *)(void *)u, _mm_shuffle_epi8(table, _mm_and_si128(raw, low)));
    _mm_storeu_si128((__m128i *)(void *)(u + 16), _mm_shuffle_epi8(table, _mm_and_si128(_mm_srli_epi16(raw, 4), low)));
}
#endif

/// 16 bytes of IQ4 nibbles as 32 table values + 128.
TL_INLINE void unpack_iq4_nibbles(const uint8_t *qs, uint8_t *u) {
#if TL_X86
    if (TL_USES_AVX2()) {
        iq4_nibbles_ssse3(qs, u);
        return;
    }
#elif TL_ARM64
    if (TL_USES_NEON()) {  // by TBL; the portable variant keeps the loop, the tests' reference
        const uint8x16_t table = vaddq_u8(vreinterpretq_u8_s8(vld1q_s8(tl_iq4_values)), vdupq_n_u8(128)), raw = vld1q_u8(qs);
        vst1q_u8(u, vqtbl1q_u8(table, vandq_u8(raw, vdupq_n_u8(0x0F))));
        vst1q_u8(u + 16, vqtbl1q_u8(table, vshrq_n_u8(raw, 4)));
        return;
    }
#endif
    for (int i = 0; i < 16; i++) {
        u[i] = (uint8_t)(tl_iq4_values[qs[i] & 0x0F] + 128);
        u[i + 16] = (uint8_t)(tl_iq4_values[qs[i] >> 4] + 128);
    }
}

static void unpack_iq4_nl(const uint8_t *restrict p, uint8_t *restrict u, float *restrict a, float *restrict c) {
    unpack_iq4_nibbles(p + 2, u);
    a[0] = a[1] = f16_at(p);
    c[0] = c[1] = 0;
}

static void unpack_iq4_xs(const uint8_t *restrict p, uint8_t *restrict u, float *restrict a, float *restrict c) {
    const float d = f16_at(p);
    for (int j = 0; j < 8; j++) {
        unpack_iq4_nibbles(p + 8 + 16 * j, u + 32 * j);
        a[2 * j] = a[2 * j + 1] = d * (float)iq4xs_scale(p, j);
        c[2 * j] = c[2 * j + 1] = 0;
    }
}

// ---- The layouts' table: one row per type ---------------------------------------------------

static const tl_block_layout layouts[TL_BLOCK_TYPE_COUNT] = {
    //                  values bytes d at  zero  top  minimums  scales per 16  unpack
    [TL_BLOCKS_Q8_0] = {32,    34,   0,    128,  255, 0,        0,             unpack_q8_0},
    [TL_BLOCKS_Q4_0] = {32,    18,   0,    8,    15,  0,        0,             unpack_q4_0},
    [TL_BLOCKS_Q4_1] = {32,    20,   0,    0,    15,  1,        0,             unpack_q4_1},
    [TL_BLOCKS_Q5_0] = {32,    22,   0,    16,   31,  0,        0,             unpack_q5_0},
    [TL_BLOCKS_Q5_1] = {32,    24,   0,    0,    31,  1,        0,             unpack_q5_1},
    [TL_BLOCKS_Q4_K] = {256,   144,  0,    0,    15,  1,        0,             unpack_q4_k},
    [TL_BLOCKS_Q5_K] = {256,   176,  0,    0,    31,  1,        0,             unpack_q5_k},
    [TL_BLOCKS_Q6_K] = {256,   210,  208,  32,   63,  0,        1,             unpack_q6_k},
    [TL_BLOCKS_Q2_K] = {256,   84,   80,   0,    3,   1,        1,             unpack_q2_k},
    [TL_BLOCKS_Q3_K] = {256,   110,  108,  4,    7,   0,        1,             unpack_q3_k},
    [TL_BLOCKS_IQ4_NL] = {32,  18,   0,    128,  241, 0,        0,             unpack_iq4_nl},
    [TL_BLOCKS_IQ4_XS] = {256, 136,  0,    128,  241, 0,        0,             unpack_iq4_xs},
};

/// Any type through its unpacking: per 16 values, xs·(a·(Σu·x − zero·Σx) − c·Σx).
TL_INLINE float dot_unpacked(tl_block_type type, const uint8_t *w, size_t n, const int8_t *x, const float *xs) {
    const tl_block_layout *layout = &layouts[type];
    uint8_t u[256];
    float a[16], c[16], s = 0;
    for (size_t b = 0; b < n / layout->values; b++, w += layout->bytes) {
        layout->unpack(w, u, a, c);
        for (size_t g = 0; g < layout->values / 16; g++, x += 16) {
            int32_t dot = 0, sum = 0;
            for (int i = 0; i < 16; i++) { dot += u[16 * g + (size_t)i] * x[i]; sum += x[i]; }
            s += xs[g / 2] * (a[g] * (float)(dot - layout->zero * sum) - c[g] * (float)sum);
        }
        xs += layout->values / 32;
    }
    return s;
}

#define UNPACKED_DOT(name, TYPE)                                                                                       \
    static float name(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum) {             \
        (void)xsum;                                                                                                    \
        return dot_unpacked(TYPE, w, n, x, xs);                                                                        \
    }
UNPACKED_DOT(dot_q2_k_unpacked, TL_BLOCKS_Q2_K)
UNPACKED_DOT(dot_q3_k_unpacked, TL_BLOCKS_Q3_K)
UNPACKED_DOT(dot_iq4_nl_unpacked, TL_BLOCKS_IQ4_NL)
UNPACKED_DOT(dot_iq4_xs_unpacked, TL_BLOCKS_IQ4_XS)

const tl_block_layout *tl_block_layout_of(tl_block_type type) { return &layouts[type]; }

size_t tl_block_row_bytes(tl_block_type type, size_t n) { return n / layouts[type].values * layouts[type].bytes; }

// Q4_K and Q5_K share a variant's kernel, told apart by `five`.
#define K45_KERNELS(V, TARGET)                                                                                             \
    TARGET static float dot_q4_k_##V(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum) {   \
        return dot_q45k_##V(w, n, x, xs, xsum, 0);                                                                         \
    }                                                                                                                      \
    TARGET static float dot_q5_k_##V(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum) {   \
        return dot_q45k_##V(w, n, x, xs, xsum, 1);                                                                         \
    }

// Q2_K and Q3_K share a variant's kernel, told apart by `three`.
#define K23_KERNELS(V, TARGET)                                                                                             \
    TARGET static float dot_q2_k_##V(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum) {   \
        (void)xsum;                                                                                                        \
        return dot_k23_##V(w, n, x, xs, 0);                                                                                \
    }                                                                                                                      \
    TARGET static float dot_q3_k_##V(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum) {   \
        (void)xsum;                                                                                                        \
        return dot_k23_##V(w, n, x, xs, 1);                                                                                \
    }

/// Asks for the row about 16 KiB on into L2: kernels without their own prefetch keep the
/// memory busy this way while they compute.
TL_INLINE void prefetch_row_ahead(const uint8_t *w, size_t r, size_t r1, size_t row_bytes) {
    const size_t ahead = (16384 + row_bytes - 1) / row_bytes;
    if (r + ahead >= r1) return;
    const char *next = (const char *)w + (r + ahead) * row_bytes;
    for (size_t line = 0; line < row_bytes; line += 64) __builtin_prefetch(next + line, 0, 2);
}

// ---- x86-64 ---------------------------------------------------------------------------
#if TL_X86

// Every kernel that arranges a product's activations (AVX-512's and AVX2's) does it
// SEGMENT values at a time, on the stack; a longer row adds up its segments' sums.
enum { SEGMENT = 16384 };

/// Σx of a run of 16 activations (|Σ| ≤ 16·128, so it fits an int16).
static inline int32_t sum_of_16(const int8_t *x) {
    int32_t s = 0;
    for (int i = 0; i < 16; i++) s += x[i];
    return s;
}

/// xs·Σx per run of 16 activations: what Q2_K's minimums and Q3_K's −4 multiply.
static void k23_sums(const int8_t *x, const float *xs, size_t groups, float *s16) {
    for (size_t g = 0; g < groups; g++) s16[g] = xs[g / 2] * (float)sum_of_16(x + 16 * g);
}

/// 32·Σx per run of 16 activations, as floats: Q6_K's −32 for `groups` runs.
static void q6_k_offsets(const int8_t *x, size_t groups, float *off16) {
    for (size_t g = 0; g < groups; g++) off16[g] = 32.0f * (float)sum_of_16(x + 16 * g);
}

/// Σx per run of 16 activations as int16: for the per-16 types' cores with one activation
/// scale per super-block.
static void sums16_of(const int8_t *x, size_t groups, int16_t *sums16) {
    for (size_t g = 0; g < groups; g++) sums16[g] = (int16_t)sum_of_16(x + 16 * g);
}

/// A block's 16 bytes of nibbles as 32 bytes in value order (low nibbles, then high).
TL_TARGET_AVX2 static inline __m256i nibbles_avx2(const uint8_t *qs) {
    const __m128i raw = _mm_loadu_si128((const __m128i *)(const void *)qs);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), _mm256_set1_epi8(0x0F));
}

/// Bytes 0x10 where a bit is set, else 0: byte i of each 8 takes bit i mod 8 of the byte
/// `spread` picked for it from `words` (all ones after OR-ing every other bit in).
TL_TARGET_AVX2 static inline __m256i bits_as_bytes(__m256i words, __m256i spread) {
    const __m256i set = _mm256_cmpeq_epi8(_mm256_or_si256(_mm256_shuffle_epi8(words, spread), _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe)),
                                          _mm256_set1_epi64x(-1));
    return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

/// A block's 32 fifth bits (bit i for value i) as bytes 0x10 or 0, in value order.
TL_TARGET_AVX2 static inline __m256i fifth_bits_avx2(const uint8_t *p) {
    return bits_as_bytes(_mm256_set1_epi32((int)bits_at(p)), _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
}

// The int32 sums of 4 adjacent products of unsigned u and signed s bytes (AVX2: VPMADDUBSW,
// whose int16 pairs cannot saturate for u < 64, then VPMADDWD; VNNI: one VPDPBUSD).
TL_TARGET_AVX2 static inline __m256i dot4_avx2(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// Where a super-block's eight activation scales are one (tl_quantize_activations_256), the
// 256-value types' kernels widen each block's (or run's) int16 pair sums against its
// integer scale instead of ones and add the super-block up in int32: one conversion and one
// FMA per super-block instead of per 32 values.

/// 64 values of a Q4_K or Q5_K super-block as bytes: the 32 bytes of nibbles at q (blocks 2c
/// and 2c + 1), with Q5_K's fifth bits from qh.
TL_TARGET_AVX2 static inline void k45_values_avx2(const uint8_t *q, __m256i qh, int c, int five, __m256i *lo, __m256i *hi) {
    const __m256i low = _mm256_set1_epi8(0x0F), bit = _mm256_set1_epi8(0x10), v = _mm256_loadu_si256((const __m256i *)(const void *)q);
    *lo = _mm256_and_si256(v, low);
    *hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
    if (five) {
        *lo = _mm256_or_si256(*lo, _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(qh, 2 * c), 4), bit));
        *hi = _mm256_or_si256(*hi, _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(qh, 2 * c + 1), 4), bit));
    }
}

/// 32 values (run j of half h) of a Q2_K or Q3_K super-block as bytes: 2 bits from q, Q3_K's
/// third from its high mask hm.
TL_TARGET_AVX2 static inline __m256i k23_values_avx2(__m256i q, __m256i hm, int h, int j, int three) {
    const __m256i u = _mm256_and_si256(j ? _mm256_srli_epi16(q, 2 * j) : q, _mm256_set1_epi8(3));
    if (!three) return u;
    // Bit 4h + j of each byte of hm to bit 2, by one shift either way (h, j are constants).
    const int by = 4 * h + j - 2;
    const __m256i high = by > 0 ? _mm256_srli_epi16(hm, by) : by < 0 ? _mm256_slli_epi16(hm, -by) : hm;
    return _mm256_or_si256(u, _mm256_and_si256(high, _mm256_set1_epi8(4)));
}

/// Signed bytes q times x in int16 pair sums, as VPMADDUBSW takes them: |q| against x with
/// q's sign (IQ4's values).
TL_TARGET_AVX2 static inline __m256i signed_pairs_avx2(__m256i q, __m256i x) {
    return _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(x, q));
}
TL_TARGET_AVX512 static inline __m256i dot4_vnni(__m256i u, __m256i s) { return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s); }

#define LOAD(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
// The row kernels' prefetches, as the q8 kernels' (dot.c): 16 KiB ahead into L2, 1 KiB into
// L1, a few lines at a time as the loop goes. Prefetching a whole row ahead at each row's
// start (prefetch_row_ahead) stalled the AVX2 loops on the burst: 10–18% of decoding.
#define PREFETCH(p, bytes)                                                                                             \
    for (size_t line = 0; line < (size_t)(bytes); line += 64) {                                                        \
        _mm_prefetch((const char *)(p) + 16384 + line, _MM_HINT_T1);                                                   \
        _mm_prefetch((const char *)(p) + 1024 + line, _MM_HINT_T0);                                                    \
    }

// The row loop of the kernels with one factor per block of 32. Four accumulators, so that
// a block's FMA does not wait for the previous block's (its latency is 4 cycles, a block
// takes about 2; with one accumulator the chain bounded Q4_0 at half its pace); the row's
// last n/32 mod 4 blocks go to the first. STEP(w, x, xs, xsum, acc) adds one block.
#define ROW_OF_BLOCKS(BYTES, STEP)                                                                                         \
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};                 \
    const size_t blocks = n / 32;                                                                                          \
    size_t b = 0;                                                                                                          \
    for (; b + 4 <= blocks; b += 4)                                                                                        \
        for (int k = 0; k < 4; k++) acc[k] = STEP(w + (b + k) * (BYTES), x + 32 * (b + k), xs[b + k], xsum[b + k], acc[k]); \
    for (; b < blocks; b++) acc[0] = STEP(w + b * (BYTES), x + 32 * b, xs[b], xsum[b], acc[0]);                           \
    return hsum256(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));

/// The four accumulators of a K-quant kernel, summed.
#define SUM4(a) _mm256_add_ps(_mm256_add_ps((a)[0], (a)[1]), _mm256_add_ps((a)[2], (a)[3]))

// Each x86 kernel is written once, for the dot4 of its variant.
#define DEFINE_X86_KERNELS(V, TARGET, DOT4)                                                                                    \
    /* Σq·x per 4 values of one block of signed values q: q's sign moved onto x, an unsigned × signed product */            \
    TARGET static inline __m256i signed_sums_##V(__m256i q, const int8_t *x) {                                                \
        return DOT4(_mm256_sign_epi8(q, q), _mm256_sign_epi8(LOAD(x), q));                                                     \
    }                                                                                                                          \
    /* acc + f·Σq·x for one block of signed values q */                                                                       \
    TARGET static inline __m256 signed_step_##V(__m256i q, const int8_t *x, float f, __m256 acc) {                            \
        return _mm256_fmadd_ps(_mm256_cvtepi32_ps(signed_sums_##V(q, x)), _mm256_set1_ps(f), acc);                             \
    }                                                                                                                          \
    TARGET static inline __m256 step_q8_0_##V(const uint8_t *w, const int8_t *x, float xs, int32_t xsum, __m256 acc) {        \
        (void)xsum;                                                                                                            \
        return signed_step_##V(LOAD(w + 2), x, tl_half_at(w) * xs, acc);                                                       \
    }                                                                                                                          \
    TARGET static inline __m256 step_q4_0_##V(const uint8_t *w, const int8_t *x, float xs, int32_t xsum, __m256 acc) {        \
        (void)xsum;                                                                                                            \
        return signed_step_##V(_mm256_sub_epi8(nibbles_avx2(w + 2), _mm256_set1_epi8(8)), x, tl_half_at(w) * xs, acc);         \
    }                                                                                                                          \
    TARGET static inline __m256 step_q5_0_##V(const uint8_t *w, const int8_t *x, float xs, int32_t xsum, __m256 acc) {        \
        (void)xsum;                                                                                                            \
        const __m256i q = _mm256_sub_epi8(_mm256_or_si256(nibbles_avx2(w + 6), fifth_bits_avx2(w + 2)), _mm256_set1_epi8(16)); \
        return signed_step_##V(q, x, tl_half_at(w) * xs, acc);                                                                 \
    }                                                                                                                          \
    TARGET static inline __m256 step_iq4_nl_##V(const uint8_t *w, const int8_t *x, float xs, int32_t xsum, __m256 acc) {      \
        (void)xsum;                                                                                                            \
        const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)tl_iq4_values));       \
        return signed_step_##V(_mm256_shuffle_epi8(table, nibbles_avx2(w + 2)), x, tl_half_at(w) * xs, acc);                   \
    }                                                                                                                          \
    /* Q4_1 and Q5_1: d·Σq·x, and the minimum's m·Σx in the first lane (five: the fifth bits at w + 4) */                      \
    TARGET static inline __m256 step_q451_##V(const uint8_t *w, const int8_t *x, float xs, int32_t xsum, __m256 acc, int five) { \
        __m256i q = nibbles_avx2(w + (five ? 8 : 4));                                                                          \
        if (five) q = _mm256_or_si256(q, fifth_bits_avx2(w + 4));                                                              \
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(DOT4(q, LOAD(x))), _mm256_set1_ps(tl_half_at(w) * xs), acc);                  \
        return _mm256_add_ps(acc, _mm256_zextps128_ps256(_mm_set_ss(tl_half_at(w + 2) * xs * (float)xsum)));                   \
    }                                                                                                                          \
    TARGET static inline __m256 step_q4_1_##V(const uint8_t *w, const int8_t *x, float xs, int32_t xsum, __m256 acc) {        \
        return step_q451_##V(w, x, xs, xsum, acc, 0);                                                                          \
    }                                                                                                                          \
    TARGET static inline __m256 step_q5_1_##V(const uint8_t *w, const int8_t *x, float xs, int32_t xsum, __m256 acc) {        \
        return step_q451_##V(w, x, xs, xsum, acc, 1);                                                                          \
    }                                                                                                                          \
    TARGET static float dot_q8_0_##V(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum) {       \
        ROW_OF_BLOCKS(34, step_q8_0_##V)                                                                                       \
    }                                                                                                                          \
    TARGET static float dot_q4_0_##V(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum) {       \
        ROW_OF_BLOCKS(18, step_q4_0_##V)                                                                                       \
    }                                                                                                                          \
    TARGET static float dot_q4_1_##V(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum) {       \
        ROW_OF_BLOCKS(20, step_q4_1_##V)                                                                                       \
    }                                                                                                                          \
    TARGET static float dot_q5_0_##V(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum) {       \
        ROW_OF_BLOCKS(22, step_q5_0_##V)                                                                                       \
    }                                                                                                                          \
    TARGET static float dot_q5_1_##V(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum) {       \
        ROW_OF_BLOCKS(24, step_q5_1_##V)                                                                                       \
    }                                                                                                                          \
    TARGET static float dot_iq4_nl_##V(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum) {     \
        ROW_OF_BLOCKS(18, step_iq4_nl_##V)                                                                                     \
    }                                                                                                                          \
    /* Q2_K and Q3_K, a block of 32 at a time: 2-bit values (bits 2j of byte 32h + l), Q3_K's third bit (bit 4h + j */  \
    /* of byte l of the mask), unsigned; factors d·sc·xs per 16 in f[2] (groups 0–7, 8–15). Q3_K's −4 and Q2_K's      */  \
    /* minimums come off as c·s16 per 16, one FMA per half, against s16 = xs·Σx per 16 (k23_sums, once per product). */  \
    TARGET static inline __attribute__((always_inline)) float k23_core_##V(const uint8_t *w, size_t superblocks, const int8_t *x, \
                                                                           const float *xs, const float *s16, int three) {        \
        const size_t bytes = three ? 110 : 84;                                                                                 \
        const __m256i pairs = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);                                                       \
        __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()}, offsets = acc[0]; \
        for (size_t sb = 0; sb < superblocks; sb++, w += bytes, x += 256, xs += 8, s16 += 16) {                               \
            __m256 f[2];                                                                                                       \
            const __m256 d = _mm256_set1_ps(tl_half_at(w + (three ? 108 : 80)));                                               \
            for (int h = 0; h < 2; h++) {                                                                                      \
                __m256i sc;                                                                                                    \
                __m256 c;                                                                                                      \
                if (three) { /* 4 low bits in nibble h of bytes 96–103, 2 high bits in bytes 104–107, minus 32 */            \
                    const __m256i low = _mm256_and_si256(_mm256_srli_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(w + 96))), 4 * h), _mm256_set1_epi32(15)); \
                    int32_t hb;                                                                                                \
                    memcpy(&hb, w + 104, 4);                                                                                   \
                    const __m256i high = _mm256_and_si256(_mm256_srlv_epi32(_mm256_cvtepu8_epi32(_mm_set1_epi32(hb)),            \
                                                                            _mm256_setr_epi32(4 * h, 4 * h, 4 * h, 4 * h, 4 * h + 2, 4 * h + 2, 4 * h + 2, 4 * h + 2)), \
                                                          _mm256_set1_epi32(3));                                               \
                    sc = _mm256_sub_epi32(_mm256_or_si256(low, _mm256_slli_epi32(high, 4)), _mm256_set1_epi32(32));           \
                    c = _mm256_mul_ps(_mm256_cvtepi32_ps(sc), _mm256_mul_ps(d, _mm256_set1_ps(4.0f)));                         \
                } else { /* scale in the low nibble of bytes 0–15, minimum in the high */                                     \
                    const __m256i both = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(w + 8 * h)));    \
                    sc = _mm256_and_si256(both, _mm256_set1_epi32(15));                                                        \
                    c = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(both, 4)), _mm256_set1_ps(tl_half_at(w + 82)));     \
                }                                                                                                              \
                const __m256 x16 = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_loadu_ps(xs + 4 * h)), pairs);          \
                f[h] = _mm256_mul_ps(_mm256_cvtepi32_ps(sc), _mm256_mul_ps(x16, d));                                           \
                offsets = _mm256_fmadd_ps(c, _mm256_loadu_ps(s16 + 8 * h), offsets);                                           \
            }                                                                                                                  \
            const uint8_t *qs = w + (three ? 32 : 16);                                                                         \
            const __m256i hm = LOAD(w);                                                                                        \
            for (int h = 0; h < 2; h++) {                                                                                      \
                const __m256i q = LOAD(qs + 32 * h);                                                                           \
                for (int j = 0; j < 4; j++) {                                                                                  \
                    const __m256i u = k23_values_avx2(q, hm, h, j, three);                                                     \
                    const __m256i pick = _mm256_setr_epi32(2 * j, 2 * j, 2 * j, 2 * j, 2 * j + 1, 2 * j + 1, 2 * j + 1, 2 * j + 1); \
                    acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(DOT4(u, LOAD(x + 128 * h + 32 * j))), _mm256_permutevar8x32_ps(f[h], pick), acc[j]); \
                }                                                                                                              \
            }                                                                                                                  \
        }                                                                                                                      \
        return hsum256(_mm256_sub_ps(SUM4(acc), offsets));                                                                     \
    }                                                                                                                          \
    /* IQ4_XS: the nibbles looked up in the table (VPSHUFB), signed values */\
    TARGET static float dot_iq4_xs_##V(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum) {     \
        (void)xsum;                                                                                                            \
        const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)tl_iq4_values));       \
        __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};                 \
        for (size_t sb = 0; sb < n / 256; sb++, w += 136, x += 256, xs += 8) {                                                 \
            int32_t ls[8];                                                                                                     \
            for (int j = 0; j < 8; j++) ls[j] = iq4xs_scale(w, j);                                                             \
            const __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(LOAD(ls)), _mm256_mul_ps(_mm256_loadu_ps(xs), _mm256_set1_ps(tl_half_at(w)))); \
            for (int j = 0; j < 8; j += 2) {                                                                                   \
                const __m256i q0 = _mm256_shuffle_epi8(table, nibbles_avx2(w + 8 + 16 * j)), x0 = LOAD(x + 32 * j);            \
                const __m256i q1 = _mm256_shuffle_epi8(table, nibbles_avx2(w + 24 + 16 * j)), x1 = LOAD(x + 32 * j + 32);      \
                acc[j % 4] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(DOT4(_mm256_sign_epi8(q0, q0), _mm256_sign_epi8(x0, q0))),     \
                                       _mm256_permutevar8x32_ps(f, _mm256_set1_epi32(j)), acc[j % 4]);                               \
                acc[j % 4 + 1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(DOT4(_mm256_sign_epi8(q1, q1), _mm256_sign_epi8(x1, q1))), \
                                       _mm256_permutevar8x32_ps(f, _mm256_set1_epi32(j + 1)), acc[j % 4 + 1]);                           \
            }                                                                                                                  \
        }                                                                                                                      \
        return hsum256(SUM4(acc));                                                                                             \
    }                                                                                                                          \
    TARGET static inline __attribute__((always_inline)) float dot_q45k_##V(const uint8_t *w, size_t n, const int8_t *x,        \
                                            const float *xs, const int32_t *xsum, int five) {                                  \
        const size_t bytes = five ? 176 : 144;                                                                                 \
        __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()}, mins = acc[0]; \
        for (size_t sb = 0; sb < n / 256; sb++, w += bytes, x += 256, xs += 8, xsum += 8) {                                    \
            _mm_prefetch((const char *)w + 1024, _MM_HINT_T0);                                                                 \
            /* The 8 blocks' factors d·sc_j·xs_j in one vector; each block takes its lane. */                                  \
            uint64_t scb, mb;                                                                                                  \
            k4_scale_words(w + 4, &scb, &mb);                                                                                  \
            const __m256 xsv = _mm256_loadu_ps(xs);                                                                            \
            const __m256 mv = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)mb))), xsv); \
            mins = _mm256_fmadd_ps(mv, _mm256_mul_ps(_mm256_cvtepi32_ps(LOAD(xsum)), _mm256_set1_ps(tl_half_at(w + 2))), mins);   \
            const uint8_t *ql = w + (five ? 48 : 16);                                                                          \
            const __m256i qh = five ? LOAD(w + 16) : _mm256_setzero_si256();                                                   \
            const __m256 scale = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)scb))),   \
                                               _mm256_mul_ps(xsv, _mm256_set1_ps(tl_half_at(w))));                                \
            for (int c = 0; c < 4; c++) {                                                                                      \
                __m256i lo, hi;                                                                                                \
                k45_values_avx2(ql + 32 * c, qh, c, five, &lo, &hi);                                                           \
                acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(DOT4(lo, LOAD(x + 64 * c))),                                       \
                                      _mm256_permutevar8x32_ps(scale, _mm256_set1_epi32(2 * c)), acc[c]);                         \
                acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(DOT4(hi, LOAD(x + 64 * c + 32))),                                  \
                                      _mm256_permutevar8x32_ps(scale, _mm256_set1_epi32(2 * c + 1)), acc[c]);                     \
            }                                                                                                                  \
        }                                                                                                                      \
        return hsum256(_mm256_sub_ps(SUM4(acc), mins));                                                                        \
    }                                                                                                                          \
    K45_KERNELS(V, TARGET)                                                                                                     \
    /* Q6_K with its values unsigned: the −32 comes off as f·(32·Σx) per run of 16, one FMA per half, from off16 */        \
    /* (q6_k_offsets, made once per product) */                                                                                \
    TARGET static float q6_k_core_##V(const uint8_t *w, size_t superblocks, const int8_t *x, const float *xs, const float *off16) { \
        const __m256i low = _mm256_set1_epi8(0x0F), two = _mm256_set1_epi8(3);                                                \
        const __m256i pairs = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);                                                       \
        __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};                 \
        for (size_t sb = 0; sb < superblocks; sb++, w += 210) {                                                                \
            _mm_prefetch((const char *)w + 1024, _MM_HINT_T0);                                                                 \
            const __m256 d = _mm256_set1_ps(tl_half_at(w + 208));                                                                  \
            for (int h = 0; h < 2; h++, x += 128, xs += 4, off16 += 8) {                                                       \
                const __m256i a = LOAD(w + 64 * h), b = LOAD(w + 64 * h + 32), qh = LOAD(w + 128 + 32 * h);                    \
                /* Lane k: d·sc_k·xs_(k/2), the factor of the k-th run of 16 in this half. */                                  \
                int64_t sc8;                                                                                                   \
                memcpy(&sc8, w + 192 + 8 * h, 8);                                                                              \
                const __m256 xs2 = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_loadu_ps(xs)), pairs);                \
                const __m256i sc32 = _mm256_cvtepi8_epi32(_mm_cvtsi64_si128(sc8));                                           \
                const __m256 f = _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(sc32), d), xs2);                               \
                const __m256i q[4] = {                                                                                         \
                    _mm256_or_si256(_mm256_and_si256(a, low), _mm256_slli_epi16(_mm256_and_si256(qh, two), 4)),               \
                    _mm256_or_si256(_mm256_and_si256(b, low), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), two), 4)), \
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(a, 4), low),                                           \
                                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), two), 4)),                    \
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b, 4), low),                                           \
                                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), two), 4)),                    \
                };                                                                                                             \
                for (int g = 0; g < 4; g++) {                                                                                  \
                    /* Σq·x per 4 values: lanes 0–3 are the first 16, 4–7 the next */                                         \
                    const __m256i pick = _mm256_setr_epi32(2 * g, 2 * g, 2 * g, 2 * g, 2 * g + 1, 2 * g + 1, 2 * g + 1, 2 * g + 1); \
                    acc[g] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(DOT4(q[g], LOAD(x + 32 * g))), _mm256_permutevar8x32_ps(f, pick), acc[g]); \
                }                                                                                                              \
                acc[h] = _mm256_fnmadd_ps(f, _mm256_loadu_ps(off16), acc[h]);                                                   \
            }                                                                                                                  \
        }                                                                                                                      \
        return hsum256(SUM4(acc));                                                                                             \
    }

// (Some of each set are only the last blocks of a row, or the activations with a scale per 32, for the rows functions.)
DEFINE_X86_KERNELS(avx2, TL_TARGET_AVX2 __attribute__((unused)), dot4_avx2)
DEFINE_X86_KERNELS(vnni, TL_TARGET_AVX512 __attribute__((unused)), dot4_vnni)

// AVX2, the blocks of 32 (Q4_0, Q4_1, Q5_0, Q5_1) two to a register: a block's 16 bytes of
// nibbles fill a 128-bit lane, so a pair's low nibbles (values 0–15 of each) and high
// nibbles (16–31) are one AND and one shift away. The activations are arranged to match
// once per product, per pair: the first 16 values of both blocks, then their last 16. The
// values stay unsigned (at most 31, so the two VPMADDUBSW of a pair add up in int16): a
// zero point z comes off as z·d·xs·Σx, a minimum m adds m·xs·Σx, one FMA per 8 blocks.
// IQ4_NL's nibbles are looked up in its table and keep their sign.

/// Eight blocks of 32's factors d·xs (an f16 d at the start of each of `bytes`), adding
/// each block's zero-point share d·xs·Σx (`zero`, to be scaled by −z) or its minimum's
/// m·xs·Σx (`minimum`, an f16 m at byte 2) to `offsets` (NULL with neither): for the
/// arranged kernels and Q8_0's.
TL_TARGET_AVX2 TL_INLINE __m256 octet_factors(const uint8_t *w, size_t bytes, const float *xs, const int32_t *xsum, int zero,
                                             int minimum, __m256 *offsets) {
    uint16_t d[8], m[8];
    for (int k = 0; k < 8; k++) {
        memcpy(&d[k], w + bytes * (size_t)k, 2);
        if (minimum) memcpy(&m[k], w + bytes * (size_t)k + 2, 2);
    }
    const __m256 xsv = _mm256_loadu_ps(xs), sums = _mm256_cvtepi32_ps(LOAD(xsum));
    const __m256 f = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)d)), xsv);
    if (minimum) *offsets = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)m)), xsv), sums, *offsets);
    else if (zero) *offsets = _mm256_fmadd_ps(f, sums, *offsets);
    return f;
}

TL_TARGET_AVX2 static void arrange_pairs_avx2(const int8_t *x, size_t pairs, int8_t *xa) {
    for (size_t p = 0; p < pairs; p++, x += 64, xa += 64) {
        const __m256i a = LOAD(x), b = LOAD(x + 32);
        _mm256_storeu_si256((__m256i *)(void *)xa, _mm256_permute2x128_si256(a, b, 0x20));
        _mm256_storeu_si256((__m256i *)(void *)(xa + 32), _mm256_permute2x128_si256(a, b, 0x31));
    }
}

/// A pair of blocks at b against their 64 arranged activations: Σq·x per 4 values, lanes
/// 0–3 the first block's, 4–7 the second's. `bytes` per block, nibbles at `nib`, fifth bits
/// at `fifth` (or none, 0); `iq4`: the nibbles index IQ4's table, signed values multiplied
/// as |q| · (x with q's sign), each half widened on its own.
TL_TARGET_AVX2 TL_INLINE __m256i pair_sums_avx2(const uint8_t *b, const int8_t *xa, size_t bytes, size_t nib, size_t fifth, int iq4) {
    const __m256i low = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    const __m256i v = _mm256_loadu2_m128i((const __m128i *)(const void *)(b + bytes + nib), (const __m128i *)(const void *)(b + nib));
    __m256i lo = _mm256_and_si256(v, low), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
    if (fifth) {  // bit i of a block's word for its value i: each lane starts with its block's word
        const __m256i words = _mm256_loadu2_m128i((const __m128i *)(const void *)(b + bytes + fifth), (const __m128i *)(const void *)(b + fifth));
        lo = _mm256_or_si256(lo, bits_as_bytes(words, _mm256_setr_epi64x(0, 0x0101010101010101, 0, 0x0101010101010101)));
        hi = _mm256_or_si256(hi, bits_as_bytes(words, _mm256_setr_epi64x(0x0202020202020202, 0x0303030303030303,
                                                                                0x0202020202020202, 0x0303030303030303)));
    }
    const __m256i xl = LOAD(xa), xh = LOAD(xa + 32);
    if (iq4) {  // |q|·|x| reaches 127², so the halves cannot share an int16
        const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)tl_iq4_values));
        lo = _mm256_shuffle_epi8(table, lo);
        hi = _mm256_shuffle_epi8(table, hi);
        return _mm256_add_epi32(_mm256_madd_epi16(signed_pairs_avx2(lo, xl), ones), _mm256_madd_epi16(signed_pairs_avx2(hi, xh), ones));
    }
    return _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(lo, xl), _mm256_maddubs_epi16(hi, xh)), ones);
}

/// acc + the pair at b's sums, each block's scaled by its factor: lanes `lane` and
/// `lane` + 1 of f.
TL_TARGET_AVX2 TL_INLINE __m256 add_pair_avx2(__m256 acc, __m256 f, int lane, const uint8_t *b, const int8_t *xa, size_t bytes, size_t nib,
                                             size_t fifth, int iq4) {
    const __m256i pick = _mm256_add_epi32(_mm256_set1_epi32(lane), _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1));
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(pair_sums_avx2(b, xa, bytes, nib, fifth, iq4)), _mm256_permutevar8x32_ps(f, pick), acc);
}

/// A row's octets of blocks against arranged activations, then `rest` (0–3) pairs more,
/// whose factors come from the eight blocks that end with them (the caller makes sure
/// there are eight), the earlier blocks' offsets masked off: a row's last blocks then read
/// nothing past the row, and the row ends in one horizontal sum. The layout's constants as
/// pair_sums_avx2 takes them; a zero point `zero`, or a minimum at byte 2 (`minimum`). All
/// constants at each call.
TL_TARGET_AVX2 TL_INLINE float pairs_arranged_avx2(const uint8_t *w, size_t octets, size_t rest, const int8_t *xa, const float *xs,
                                                  const int32_t *xsum, size_t bytes, size_t nib, size_t fifth, int zero, int minimum, int iq4) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()}, offsets = acc[0];
    for (size_t o = 0; o < octets; o++, w += 8 * bytes, xa += 256, xs += 8, xsum += 8) {
        PREFETCH(w, 8 * bytes)
        const __m256 f = octet_factors(w, bytes, xs, xsum, zero, minimum, &offsets);
#pragma GCC unroll 4  // so that acc[k] stays in registers
        for (int k = 0; k < 4; k++)
            acc[k] = add_pair_avx2(acc[k], f, 2 * k, w + 2 * bytes * (size_t)k, xa + 64 * k, bytes, nib, fifth, iq4);
    }
    if (rest) {
        const int back = 8 - 2 * (int)rest;  // the rest's first block is lane `back`
        __m256 own = _mm256_setzero_ps();
        const __m256 f = octet_factors(w - bytes * (size_t)back, bytes, xs - back, xsum - back, zero, minimum, &own);
        const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        offsets = _mm256_add_ps(offsets, _mm256_and_ps(own, _mm256_castsi256_ps(_mm256_cmpgt_epi32(lanes, _mm256_set1_epi32(back - 1)))));
#pragma GCC unroll 3
        for (int k = 0; k < 3; k++) {
            if ((size_t)k == rest) break;
            acc[k] = add_pair_avx2(acc[k], f, back + 2 * k, w + 2 * bytes * (size_t)k, xa + 64 * k, bytes, nib, fifth, iq4);
        }
    }
    const float shift = minimum ? 1.0f : (float)-zero;
    return hsum256(_mm256_fmadd_ps(offsets, _mm256_set1_ps(shift), SUM4(acc)));
}

/// Rows of blocks of 32: their pairs through pairs_arranged_avx2 (rows of at least eight
/// blocks), an odd last block, or a shorter row, through `tail`, the type's kernel above.
TL_TARGET_AVX2 TL_INLINE void rows_pairs_avx2(const uint8_t *w, size_t n, size_t r0, size_t r1, const int8_t *x, const float *xs,
                                             const int32_t *xsum, float *out, size_t bytes, size_t nib, size_t fifth, int zero,
                                             int minimum, int iq4, tl_block_dot tail) {
    int8_t xa[SEGMENT];
    const size_t blocks = n / 32, row_bytes = blocks * bytes, whole = blocks < 8 ? 0 : blocks / 2 * 2;
    for (size_t b0 = 0; b0 < whole; b0 += SEGMENT / 32) {
        const size_t span = whole - b0 < SEGMENT / 32 ? whole - b0 : SEGMENT / 32;
        arrange_pairs_avx2(x + 32 * b0, span / 2, xa);
        for (size_t r = r0; r < r1; r++) {
            const float part = pairs_arranged_avx2(w + r * row_bytes + b0 * bytes, span / 8, span % 8 / 2, xa, xs + b0, xsum + b0, bytes, nib,
                                                   fifth, zero, minimum, iq4);
            out[r] = b0 ? out[r] + part : part;
        }
    }
    if (whole < blocks)
        for (size_t r = r0; r < r1; r++) {
            const float rest = tail(w + r * row_bytes + whole * bytes, n - 32 * whole, x + 32 * whole, xs + whole, xsum + whole);
            out[r] = whole ? out[r] + rest : rest;
        }
}

#define PAIRS_ROWS(T, BYTES, NIB, FIFTH, ZERO, MINIMUM, IQ4)                                                               \
    TL_TARGET_AVX2 static void rows_##T##_avx2(const uint8_t *w, size_t n, size_t r0, size_t r1, const int8_t *x,          \
                                               const float *xs, const int32_t *xsum, float *out) {                         \
        rows_pairs_avx2(w, n, r0, r1, x, xs, xsum, out, BYTES, NIB, FIFTH, ZERO, MINIMUM, IQ4, dot_##T##_avx2);            \
    }
PAIRS_ROWS(q4_0, 18, 2, 0, 8, 0, 0)
PAIRS_ROWS(q4_1, 20, 4, 0, 0, 1, 0)
PAIRS_ROWS(q5_0, 22, 6, 2, 16, 0, 0)
PAIRS_ROWS(q5_1, 24, 8, 4, 0, 1, 0)
PAIRS_ROWS(iq4_nl, 18, 2, 0, 0, 0, 1)

// AVX-512 for the types most files hold (Q8_0, the blocks of 32 that llama.cpp's mixes use
// where rows are not a multiple of 256, and the K types): two blocks of 32 per
// 512-bit VPDPBUSD, each block's factor placed on its lanes by one permute.

/// Lanes 0–7 a, 8–15 b.
TL_TARGET_AVX512 static inline __m512i lanes_of(int a, int b) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi32(a)), _mm256_set1_epi32(b), 1);
}

TL_TARGET_AVX512 static float dot_q8_0_avx512(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum) {
    const size_t blocks = n / 32;
    __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
    size_t b = 0;
    for (; b + 8 <= blocks; b += 8, w += 8 * 34, x += 256) {
        PREFETCH(w, 8 * 34)
        uint16_t d[8];
        for (int k = 0; k < 8; k++) memcpy(&d[k], w + 34 * k, 2);
        const __m512 f = _mm512_castps256_ps512(_mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)d)), _mm256_loadu_ps(xs + b)));
        for (int k = 0; k < 8; k += 2) {
            const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(LOAD(w + 34 * k + 2)), LOAD(w + 34 * k + 36), 1);
            const __m512i xv = _mm512_loadu_si512((const void *)(x + 32 * k));
            const __m512i sx = _mm512_mask_sub_epi8(xv, _mm512_movepi8_mask(q), _mm512_setzero_si512(), xv);
            const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(q), sx);
            acc[k / 2 % 2] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_permutexvar_ps(lanes_of(k, k + 1), f), acc[k / 2 % 2]);
        }
    }
    float tail = blocks > b ? dot_q8_0_vnni(w, n - 32 * b, x, xs + b, xsum) : 0;
    return _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1])) + tail;
}

/// The 16 values IQ4_NL's and IQ4_XS's nibbles index, in each 128-bit lane (for VPSHUFB).
TL_TARGET_AVX512 static inline __m512i iq4_table(void) {
    return _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(const void *)tl_iq4_values));
}

/// IQ4_XS's eight scales (6 bits − 32) as floats, from the 16-bit word of high bits at
/// byte 2 and the nibbles of bytes 4–7, one 16-bit lane per block.
TL_TARGET_AVX512 static inline __m256 iq4xs_scales(const uint8_t *w) {
    const __m128i v = _mm_loadl_epi64((const __m128i *)(const void *)w);
    const __m128i lows = _mm_shuffle_epi8(v, _mm_setr_epi8(4, -1, 4, -1, 5, -1, 5, -1, 6, -1, 6, -1, 7, -1, 7, -1));
    const __m128i highs = _mm_shuffle_epi8(v, _mm_setr_epi8(2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3));
    const __m128i lo = _mm_and_si128(_mm_srlv_epi16(lows, _mm_setr_epi16(0, 4, 0, 4, 0, 4, 0, 4)), _mm_set1_epi16(0x0F));
    const __m128i hi = _mm_and_si128(_mm_srlv_epi16(highs, _mm_setr_epi16(0, 2, 4, 6, 8, 10, 12, 14)), _mm_set1_epi16(3));
    const __m128i scales = _mm_sub_epi16(_mm_or_si128(lo, _mm_slli_epi16(hi, 4)), _mm_set1_epi16(32));
    return _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(scales));
}

// The blocks of 32 (Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL) four to a 512-bit register: a
// block's 16 bytes of nibbles fill a 128-bit lane, so its low nibbles (values 0–15) and
// high nibbles (16–31) are one AND and one shift away, with no shuffle. The activations
// are arranged to match once per product, eight blocks at a time: the first 16 values of
// four blocks, then their last 16. The values stay unsigned: a zero point z (IQ4_NL's
// table lifted by 128) comes off as z·Σx per block, and Q4_1's and Q5_1's minimum m adds
// m·Σx, each as one FMA per eight blocks.

TL_TARGET_AVX512 static void arrange_small(const int8_t *x, size_t octets, int8_t *xa) {
    for (size_t o = 0; o < octets; o++, x += 256, xa += 256) {
        for (int g = 0; g < 2; g++) {
            const __m512i a = _mm512_loadu_si512((const void *)(x + 128 * g)), b = _mm512_loadu_si512((const void *)(x + 128 * g + 64));
            // a holds blocks 0 and 1 (four 16-byte quarters), b blocks 2 and 3.
            const __m512i firsts = _mm512_permutex2var_epi64(a, _mm512_setr_epi64(0, 1, 4, 5, 8, 9, 12, 13), b);
            const __m512i seconds = _mm512_permutex2var_epi64(a, _mm512_setr_epi64(2, 3, 6, 7, 10, 11, 14, 15), b);
            _mm512_storeu_si512((void *)(xa + 128 * g), firsts);
            _mm512_storeu_si512((void *)(xa + 128 * g + 64), seconds);
        }
    }
}

/// A row of whole octets of blocks against arranged activations: `bytes` per block, f16 d
/// at 0, nibbles at `nib`, fifth bits at `fifth` (or none, 0), zero point `zero`, IQ4's
/// table (`lookup`), a minimum at byte 2 (`minimum`). All constants at each call.
TL_TARGET_AVX512 TL_INLINE float small_arranged(const uint8_t *w, size_t octets, const int8_t *xa, const float *xs, const int32_t *xsum,
                                               size_t bytes, size_t nib, size_t fifth, int zero, int lookup, int minimum) {
    const __m512i low = _mm512_set1_epi8(0x0F), bit4 = _mm512_set1_epi8(0x10);
    const __m512i quads = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    const __m512i quads2 = _mm512_add_epi32(quads, _mm512_set1_epi32(4));
    const __m512i table = _mm512_add_epi8(iq4_table(), _mm512_set1_epi8(-128));  // lifted to 0–255 (as unsigned bytes)
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0;
    __m256 offsets = _mm256_setzero_ps();
    for (size_t o = 0; o < octets; o++, w += 8 * bytes, xa += 256, xs += 8, xsum += 8) {
        PREFETCH(w, 8 * bytes)
        const __m256 f = octet_factors(w, bytes, xs, xsum, zero || lookup, minimum, &offsets);
        const __m512 fz = _mm512_castps256_ps512(f);
        for (int g = 0; g < 2; g++) {
            const uint8_t *b = w + 4 * bytes * (size_t)g;
            __m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(const void *)(b + nib)));
            v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(const void *)(b + bytes + nib)), 1);
            v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(const void *)(b + 2 * bytes + nib)), 2);
            v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(const void *)(b + 3 * bytes + nib)), 3);
            __m512i lo = _mm512_and_si512(v, low), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
            if (fifth) {  // bit i of a block's word for its value i: 16 bits a lane for the lows, 16 for the highs
                uint64_t lows = 0, highs = 0;
                for (int k = 0; k < 4; k++) {
                    const uint64_t bits = bits_at(b + bytes * (size_t)k + fifth);
                    lows |= (bits & 0xFFFF) << (16 * k);
                    highs |= (bits >> 16) << (16 * k);
                }
                lo = _mm512_mask_add_epi8(lo, lows, lo, bit4);
                hi = _mm512_mask_add_epi8(hi, highs, hi, bit4);
            }
            if (lookup) {
                lo = _mm512_shuffle_epi8(table, lo);
                hi = _mm512_shuffle_epi8(table, hi);
            }
            const __m512i p = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, _mm512_loadu_si512((const void *)(xa + 128 * g))), hi,
                                                  _mm512_loadu_si512((const void *)(xa + 128 * g + 64)));
            if (g == 0) acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_permutexvar_ps(quads, fz), acc0);
            else acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_permutexvar_ps(quads2, fz), acc1);
        }
    }
    const float shift = minimum ? 1.0f : lookup ? -128.0f : (float)-zero;
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) + shift * hsum256(offsets);
}

/// Rows of blocks of 32: whole octets through small_arranged, the last blocks of each row
/// (fewer than eight) through `tail`, the type's 256-bit or generic kernel.
TL_TARGET_AVX512 TL_INLINE void rows_small_avx512(const uint8_t *w, size_t n, size_t r0, size_t r1, const int8_t *x, const float *xs,
                                                 const int32_t *xsum, float *out, size_t bytes, size_t nib, size_t fifth, int zero,
                                                 int lookup, int minimum, tl_block_dot tail) {
    int8_t xa[SEGMENT];
    const size_t blocks = n / 32, row_bytes = blocks * bytes, whole = blocks / 8 * 8;
    for (size_t b0 = 0; b0 < whole; b0 += SEGMENT / 32) {
        const size_t octets = (whole - b0 < SEGMENT / 32 ? whole - b0 : SEGMENT / 32) / 8;
        arrange_small(x + 32 * b0, octets, xa);
        for (size_t r = r0; r < r1; r++) {
            const float part = small_arranged(w + r * row_bytes + b0 * bytes, octets, xa, xs + b0, xsum + b0, bytes, nib, fifth, zero, lookup, minimum);
            out[r] = b0 ? out[r] + part : part;
        }
    }
    if (whole < blocks)
        for (size_t r = r0; r < r1; r++) {
            const float rest = tail(w + r * row_bytes + whole * bytes, n - 32 * whole, x + 32 * whole, xs + whole, xsum + whole);
            out[r] = whole ? out[r] + rest : rest;
        }
}

/// IQ4_XS against activations arranged as for the blocks of 32: a super-block's eight
/// blocks of 16 nibble bytes lie four to a register as they are stored; the table lifted
/// by 128, taken off as 128·d·sc·xs·Σx per block.
TL_TARGET_AVX512 static void rows_iq4_xs_avx512(const uint8_t *w, size_t n, size_t r0, size_t r1, const int8_t *x, const float *xs,
                                                const int32_t *xsum, float *out) {
    int8_t xa[SEGMENT];
    const __m512i low = _mm512_set1_epi8(0x0F), table = _mm512_add_epi8(iq4_table(), _mm512_set1_epi8(-128));
    const __m512i quads = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    const __m512i quads2 = _mm512_add_epi32(quads, _mm512_set1_epi32(4));
    const size_t row_bytes = n / 256 * 136;
    for (size_t v = 0; v < n; v += SEGMENT) {
        const size_t superblocks = (n - v < SEGMENT ? n - v : SEGMENT) / 256;
        arrange_small(x + v, superblocks, xa);
        for (size_t r = r0; r < r1; r++) {
            const uint8_t *b = w + r * row_bytes + v / 256 * 136;
            const int8_t *a = xa;
            const float *s = xs + v / 32;
            const int32_t *sums = xsum + v / 32;
            __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0;
            __m256 offsets = _mm256_setzero_ps();
            for (size_t sb = 0; sb < superblocks; sb++, b += 136, a += 256, s += 8, sums += 8) {
                PREFETCH(b, 136)
                const __m256 f = _mm256_mul_ps(_mm256_mul_ps(iq4xs_scales(b), _mm256_set1_ps(tl_half_at(b))), _mm256_loadu_ps(s));
                offsets = _mm256_fmadd_ps(f, _mm256_cvtepi32_ps(LOAD(sums)), offsets);
                const __m512 fz = _mm512_castps256_ps512(f);
                for (int g = 0; g < 2; g++) {
                    const __m512i q = _mm512_loadu_si512((const void *)(b + 8 + 64 * g));
                    const __m512i lo = _mm512_shuffle_epi8(table, _mm512_and_si512(q, low));
                    const __m512i hi = _mm512_shuffle_epi8(table, _mm512_and_si512(_mm512_srli_epi16(q, 4), low));
                    const __m512i p = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, _mm512_loadu_si512((const void *)(a + 128 * g))), hi,
                                                          _mm512_loadu_si512((const void *)(a + 128 * g + 64)));
                    if (g == 0) acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_permutexvar_ps(quads, fz), acc0);
                    else acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_permutexvar_ps(quads2, fz), acc1);
                }
            }
            const float part = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) - 128.0f * hsum256(offsets);
            out[r] = v ? out[r] + part : part;
        }
    }
}

#define SMALL_KERNELS(T, BYTES, NIB, FIFTH, ZERO, LOOKUP, MINIMUM, TAIL)                                                        \
    TL_TARGET_AVX512 static void rows_##T##_avx512(const uint8_t *w, size_t n, size_t r0, size_t r1, const int8_t *x,           \
                                                   const float *xs, const int32_t *xsum, float *out) {                          \
        rows_small_avx512(w, n, r0, r1, x, xs, xsum, out, BYTES, NIB, FIFTH, ZERO, LOOKUP, MINIMUM, TAIL);                     \
    }
SMALL_KERNELS(q4_0, 18, 2, 0, 8, 0, 0, dot_q4_0_vnni)
SMALL_KERNELS(q4_1, 20, 4, 0, 0, 0, 1, dot_q4_1_vnni)
SMALL_KERNELS(q5_0, 22, 6, 2, 16, 0, 0, dot_q5_0_vnni)
SMALL_KERNELS(q5_1, 24, 8, 4, 0, 0, 1, dot_q5_1_vnni)
SMALL_KERNELS(iq4_nl, 18, 2, 0, 0, 1, 0, dot_iq4_nl_unpacked)
#undef SMALL_KERNELS

/// Lanes 0–7 a, 8–15 b.
TL_TARGET_AVX512 static inline __m512 halves(__m256 a, __m256 b) {
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(a)), _mm256_castps_pd(b), 1));
}

/// A Q4_K/Q5_K super-block's 6-bit scales (bytes 0–7) and minimums (bytes 8–15) from its
/// twelve bytes at `s` (16 are read: the nibbles follow), by two byte shuffles instead of
/// scalar shifts: per block j < 4 the low six bits of byte j (scales) and j + 4
/// (minimums); per block j ≥ 4 a nibble of byte j + 4 below the top two bits of byte j − 4
/// (scales) or j (minimums).
TL_TARGET_AVX512 static inline __m128i k4_scales_sse(const uint8_t *s) {
    const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
    const __m128i low = _mm_shuffle_epi8(v, _mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11));
    const __m128i top = _mm_shuffle_epi8(v, _mm_setr_epi8(-1, -1, -1, -1, 0, 1, 2, 3, -1, -1, -1, -1, 4, 5, 6, 7));
    // Lanes 0–3 and 8–11 keep six bits, 4–7 the low nibble, 12–15 the high nibble.
    const __m128i six_or_nibble = _mm_and_si128(low, _mm_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
    const __m128i lows = _mm_blend_epi32(six_or_nibble, _mm_and_si128(_mm_srli_epi16(low, 4), _mm_set1_epi8(0x0F)), 8);
    // (b >> 6) << 4 of each byte is (b >> 2) & 0x30; the bits a 16-bit shift brings in from the next byte are masked off.
    return _mm_or_si128(lows, _mm_and_si128(_mm_srli_epi16(top, 2), _mm_set1_epi8(0x30)));
}

// Q4_K's AVX-512 kernel is bound by port 5 (shuffles and permutes), so what can be done once
// per product rather than once per row is: the activations come arranged as each super-block's
// nibbles lie (blocks 0 and 2, 1 and 3, 4 and 6, 5 and 7, 64 bytes each) with, per
// super-block, [xs_j | xs_j·Σx_j] as 16 floats.

TL_TARGET_AVX512 static void arrange_q4_k(const int8_t *x, const float *xs, const int32_t *xsum, size_t superblocks, int8_t *xa, float *act) {
    for (size_t sb = 0; sb < superblocks; sb++, x += 256, xs += 8, xsum += 8, xa += 256, act += 16) {
        const __m512i x0 = _mm512_loadu_si512((const void *)x), x1 = _mm512_loadu_si512((const void *)(x + 64));
        const __m512i x2 = _mm512_loadu_si512((const void *)(x + 128)), x3 = _mm512_loadu_si512((const void *)(x + 192));
        _mm512_storeu_si512((void *)xa, _mm512_shuffle_i64x2(x0, x1, 0x44));
        _mm512_storeu_si512((void *)(xa + 64), _mm512_shuffle_i64x2(x0, x1, 0xEE));
        _mm512_storeu_si512((void *)(xa + 128), _mm512_shuffle_i64x2(x2, x3, 0x44));
        _mm512_storeu_si512((void *)(xa + 192), _mm512_shuffle_i64x2(x2, x3, 0xEE));
        const __m256 xsv = _mm256_loadu_ps(xs);
        _mm512_storeu_ps(act, halves(xsv, _mm256_mul_ps(xsv, _mm256_cvtepi32_ps(LOAD(xsum)))));
    }
}

/// One row's super-blocks against arranged activations: Q4_K, or Q5_K (`five`, a constant
/// at each call), whose fifth bits (bit j of byte l for value l of block j) are shifted to
/// bit 4 of each byte, from the bits moved up by 4 for blocks 0–3 and as they lie for 4–7.
TL_TARGET_AVX512 TL_INLINE float q45_k_arranged(const uint8_t *w, size_t superblocks, const int8_t *xa, const float *act, int five) {
    const size_t bytes = five ? 176 : 144, nibbles = five ? 48 : 16;
    const __m512i low = _mm512_set1_epi8(0x0F), bit4 = _mm512_set1_epi8(0x10);
    const __m512i i02 = lanes_of(0, 2), i13 = lanes_of(1, 3), i46 = lanes_of(4, 6), i57 = lanes_of(5, 7), dmins = lanes_of(0, 1);
    const __m512i by02 = lanes_of(0, 0x00020002), by13 = lanes_of(0x00010001, 0x00030003);  // per 16-bit lane
    // Four accumulators, so that the FMAs of a super-block do not wait on each other.
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0, mins = acc0;
    for (size_t sb = 0; sb < superblocks; sb++, w += bytes, xa += 256, act += 16) {
        PREFETCH(w, bytes)
        // Lanes 0–7: d·sc_j·xs_j, the factor of block j's products; lanes 8–15: dmin·m_j·xs_j·Σx_j, its minimum's share.
        int32_t dm;
        memcpy(&dm, w, 4);
        const __m512 d = _mm512_permutexvar_ps(dmins, _mm512_castps128_ps512(_mm_cvtph_ps(_mm_cvtsi32_si128(dm))));
        const __m512 f = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(k4_scales_sse(w + 4))), d), _mm512_loadu_ps(act));
        mins = _mm512_add_ps(mins, f);
        // Bytes 0–63 hold blocks 0 and 2 (low nibbles) and 1 and 3 (high); bytes 64–127 blocks 4–7.
        const __m512i q0 = _mm512_loadu_si512((const void *)(w + nibbles)), q1 = _mm512_loadu_si512((const void *)(w + nibbles + 64));
        __m512i u02 = _mm512_and_si512(q0, low), u13 = _mm512_and_si512(_mm512_srli_epi16(q0, 4), low);
        __m512i u46 = _mm512_and_si512(q1, low), u57 = _mm512_and_si512(_mm512_srli_epi16(q1, 4), low);
        if (five) {
            const __m512i h = _mm512_broadcast_i64x4(LOAD(w + 16)), h4 = _mm512_slli_epi16(h, 4);
            u02 = _mm512_or_si512(u02, _mm512_and_si512(_mm512_srlv_epi16(h4, by02), bit4));
            u13 = _mm512_or_si512(u13, _mm512_and_si512(_mm512_srlv_epi16(h4, by13), bit4));
            u46 = _mm512_or_si512(u46, _mm512_and_si512(_mm512_srlv_epi16(h, by02), bit4));
            u57 = _mm512_or_si512(u57, _mm512_and_si512(_mm512_srlv_epi16(h, by13), bit4));
        }
        const __m512i p02 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u02, _mm512_loadu_si512((const void *)xa));
        const __m512i p13 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u13, _mm512_loadu_si512((const void *)(xa + 64)));
        const __m512i p46 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u46, _mm512_loadu_si512((const void *)(xa + 128)));
        const __m512i p57 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u57, _mm512_loadu_si512((const void *)(xa + 192)));
        acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p02), _mm512_permutexvar_ps(i02, f), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p13), _mm512_permutexvar_ps(i13, f), acc1);
        acc2 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p46), _mm512_permutexvar_ps(i46, f), acc2);
        acc3 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p57), _mm512_permutexvar_ps(i57, f), acc3);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3))) -
           hsum256(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(mins), 1)));
}

TL_TARGET_AVX512 TL_INLINE void rows_q45_k_avx512(const uint8_t *w, size_t n, size_t r0, size_t r1, const int8_t *x, const float *xs,
                                                 const int32_t *xsum, float *out, int five) {
    int8_t xa[SEGMENT];
    float act[SEGMENT / 256 * 16];
    const size_t bytes = five ? 176 : 144, row_bytes = n / 256 * bytes;
    for (size_t v = 0; v < n; v += SEGMENT) {
        const size_t superblocks = (n - v < SEGMENT ? n - v : SEGMENT) / 256;
        arrange_q4_k(x + v, xs + v / 32, xsum + v / 32, superblocks, xa, act);
        for (size_t r = r0; r < r1; r++) {
            const float part = q45_k_arranged(w + r * row_bytes + v / 256 * bytes, superblocks, xa, act, five);
            out[r] = v ? out[r] + part : part;
        }
    }
}

TL_TARGET_AVX512 static void rows_q4_k_avx512(const uint8_t *w, size_t n, size_t r0, size_t r1, const int8_t *x, const float *xs,
                                              const int32_t *xsum, float *out) {
    rows_q45_k_avx512(w, n, r0, r1, x, xs, xsum, out, 0);
}
TL_TARGET_AVX512 static void rows_q5_k_avx512(const uint8_t *w, size_t n, size_t r0, size_t r1, const int8_t *x, const float *xs,
                                              const int32_t *xsum, float *out) {
    rows_q45_k_avx512(w, n, r0, r1, x, xs, xsum, out, 1);
}

/// Q4_K's and Q5_K's unpacking for the prompt kernels (the portable one's bytes and
/// factors): each 32 bytes of nibbles are two blocks, low nibbles first, with Q5_K's fifth
/// bits (bit j of byte l for block j) moved to bit 4; a and c come from the scales' vector,
/// each block's factor on its two halves.
/// A Q4_K or Q5_K super-block's 256 values as bytes (`unpack`'s u), 64 at a time.
TL_TARGET_AVX2 TL_INLINE void unpack_q45_k_bytes(const uint8_t *p, uint8_t *u, int five) {
    const __m256i low = _mm256_set1_epi8(0x0F), bit4 = _mm256_set1_epi8(0x10);
    const __m256i h = LOAD(p + 16), h4 = _mm256_slli_epi16(h, 4);
    for (int k = 0; k < 4; k++) {
        const __m256i q = LOAD(p + (five ? 48 : 16) + 32 * k);
        __m256i lo = _mm256_and_si256(q, low), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low);
        if (five) {  // bit j = 2k (and 2k + 1) of each byte to bit 4: from h4 for j < 4, from h for j ≥ 4
            const __m256i from = k < 2 ? h4 : h;
            const int shift = k < 2 ? 2 * k : 2 * k - 4;
            lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_srl_epi16(from, _mm_cvtsi32_si128(shift)), bit4));
            hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_srl_epi16(from, _mm_cvtsi32_si128(shift + 1)), bit4));
        }
        _mm256_storeu_si256((__m256i *)(void *)(u + 64 * k), lo);
        _mm256_storeu_si256((__m256i *)(void *)(u + 64 * k + 32), hi);
    }
}

TL_TARGET_AVX512 TL_INLINE void unpack_q45_k_avx512(const uint8_t *restrict p, uint8_t *restrict u, float *restrict a, float *restrict c, int five) {
    unpack_q45_k_bytes(p, u, five);
    int32_t dm;
    memcpy(&dm, p, 4);
    const __m512 d = _mm512_permutexvar_ps(lanes_of(0, 1), _mm512_castps128_ps512(_mm_cvtph_ps(_mm_cvtsi32_si128(dm))));
    const __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(k4_scales_sse(p + 4))), d);  // d·sc_j, then dmin·m_j
    const __m512i pairs = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    _mm512_storeu_ps(a, _mm512_permutexvar_ps(pairs, f));
    _mm512_storeu_ps(c, _mm512_permutexvar_ps(_mm512_add_epi32(pairs, _mm512_set1_epi32(8)), f));
}
TL_TARGET_AVX512 static void unpack_q4_k_avx512(const uint8_t *restrict p, uint8_t *restrict u, float *restrict a, float *restrict c) { unpack_q45_k_avx512(p, u, a, c, 0); }
TL_TARGET_AVX512 static void unpack_q5_k_avx512(const uint8_t *restrict p, uint8_t *restrict u, float *restrict a, float *restrict c) { unpack_q45_k_avx512(p, u, a, c, 1); }

tl_block_unpack tl_block_unpack_avx512(tl_block_type type) {
    return type == TL_BLOCKS_Q4_K ? unpack_q4_k_avx512 : type == TL_BLOCKS_Q5_K ? unpack_q5_k_avx512 : layouts[type].unpack;
}

/// AVX2's: the bytes as AVX-512's, the factors from the portable scales.
TL_TARGET_AVX2 TL_INLINE void unpack_q45_k_avx2(const uint8_t *restrict p, uint8_t *restrict u, float *restrict a, float *restrict c, int five) {
    unpack_q45_k_bytes(p, u, five);
    k4_factors(p, a, c);
}
TL_TARGET_AVX2 static void unpack_q4_k_avx2(const uint8_t *restrict p, uint8_t *restrict u, float *restrict a, float *restrict c) { unpack_q45_k_avx2(p, u, a, c, 0); }
TL_TARGET_AVX2 static void unpack_q5_k_avx2(const uint8_t *restrict p, uint8_t *restrict u, float *restrict a, float *restrict c) { unpack_q45_k_avx2(p, u, a, c, 1); }

tl_block_unpack tl_block_unpack_avx2(tl_block_type type) {
    return type == TL_BLOCKS_Q4_K ? unpack_q4_k_avx2 : type == TL_BLOCKS_Q5_K ? unpack_q5_k_avx2 : layouts[type].unpack;
}

/// out[i] = Σ x[16i .. 16i + 15] for count values (a multiple of 64): per 64 bytes, sums of
/// 4 by one VPDPBUSD against ones, then of 16 by two shifted adds.
TL_TARGET_AVX512 void tl_sums_of_16_avx512(const int8_t *x, size_t count, int32_t *out) {
    const __m512i ones = _mm512_set1_epi8(1), firsts = _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    for (size_t i = 0; i + 64 <= count; i += 64, out += 4) {
        const __m512i fours = _mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, _mm512_loadu_si512((const void *)(x + i)));
        const __m512i eights = _mm512_add_epi32(fours, _mm512_srli_epi64(fours, 32));
        const __m512i sixteens = _mm512_add_epi32(eights, _mm512_bsrli_epi128(eights, 8));
        _mm_storeu_si128((__m128i *)(void *)out, _mm512_castsi512_si128(_mm512_permutexvar_epi32(firsts, sixteens)));
    }
}

// Q6_K, Q2_K and Q3_K scale each group of 16 values on its own. What depends only on the
// activations is arranged once per product, per group: its activation scale xs, Σx and
// xs·Σx. The values stay unsigned, so Q6_K's −32 and Q3_K's −4 come off as z·d·sc·xs·Σx
// and Q2_K's minimums as dmin·m·xs·Σx, each one FMA per super-block (or half of one).
typedef struct {
    float xs[SEGMENT / 16], sums[SEGMENT / 16], scaled[SEGMENT / 16];
} per_16;

TL_TARGET_AVX512 static void arrange_per_16(const int8_t *x, const float *xs, size_t groups, per_16 *a) {
    int32_t sums[SEGMENT / 16];
    tl_sums_of_16_avx512(x, 16 * groups, sums);
    for (size_t g = 0; g < groups; g++) {
        a->xs[g] = xs[g / 2];
        a->sums[g] = (float)sums[g];
        a->scaled[g] = a->xs[g] * a->sums[g];
    }
}

/// One row's super-blocks against arranged activations.
TL_TARGET_AVX512 static float q6_k_arranged(const uint8_t *w, size_t superblocks, const int8_t *x, const float *xs16, const float *sums16) {
    const __m512i low = _mm512_set1_epi8(0x0F), two = _mm512_set1_epi8(3);
    // Groups 0 and 1 take the high bits at shifts 0 and 2 of the same bytes, groups 2 and 3 at 4 and 6.
    const __m512i shift01 = lanes_of(0, 0x00020002), shift23 = lanes_of(0x00040004, 0x00060006);  // per 16-bit lane
    const __m512i i0123 = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    const __m512i i4567 = _mm512_add_epi32(i0123, _mm512_set1_epi32(4));
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0;
    __m256 off = _mm256_setzero_ps();
    for (size_t sb = 0; sb < superblocks; sb++, w += 210) {
        PREFETCH(w, 210)
        const __m256 d = _mm256_set1_ps(tl_half_at(w + 208));
        for (int h = 0; h < 2; h++, x += 128, xs16 += 8, sums16 += 8) {
            const __m512i l = _mm512_loadu_si512((const void *)(w + 64 * h));  // groups 0 and 1's low nibbles, 2 and 3's high
            const __m512i qh = _mm512_broadcast_i64x4(LOAD(w + 128 + 32 * h));
            // (qh >> s) & 3 for 16-bit lanes is the same per byte: the bits shifted in from the next byte are masked off.
            const __m512i q01 = _mm512_or_si512(_mm512_and_si512(l, low), _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, shift01), two), 4));
            const __m512i q23 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), low),
                                                _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, shift23), two), 4));
            int64_t sc8;
            memcpy(&sc8, w + 192 + 8 * h, 8);
            const __m256 f8 = _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_cvtsi64_si128(sc8))), d), _mm256_loadu_ps(xs16));
            off = _mm256_fmadd_ps(f8, _mm256_loadu_ps(sums16), off);
            const __m512 f = _mm512_castps256_ps512(f8);
            const __m512i p01 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q01, _mm512_loadu_si512((const void *)x));
            const __m512i p23 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q23, _mm512_loadu_si512((const void *)(x + 64)));
            acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p01), _mm512_permutexvar_ps(i0123, f), acc0);
            acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p23), _mm512_permutexvar_ps(i4567, f), acc1);
        }
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) - 32.0f * hsum256(off);
}

// Q2_K and Q3_K: 2-bit values (value 128h + 32j + l in bits 2j of byte 32h + l of qs),
// Q3_K's third bit (bit 4h + j of byte l of its high mask), against the per-16 arrangement.
/// Q3_K's 16 scales − 32, from words: group g's low nibble is nibble g / 8 of byte
/// 96 + g % 8, its high two bits bits 2·(g / 4) of byte 104 + g % 4.
TL_TARGET_AVX512 static inline __m512i q3k_scales(const uint8_t *w) {
    uint64_t low;
    uint32_t high;
    memcpy(&low, w + 96, 8);
    memcpy(&high, w + 104, 4);
    const uint64_t m2 = 0x03030303u, m4 = 0x0F0F0F0F0F0F0F0Full;
    const uint64_t first = (low & m4) | (((high & m2) | ((high >> 2) & m2) << 32) << 4);
    const uint64_t second = ((low >> 4) & m4) | ((((high >> 4) & m2) | ((uint64_t)((high >> 6) & m2)) << 32) << 4);
    return _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_set_epi64x((long long)second, (long long)first)), _mm512_set1_epi32(32));
}

TL_TARGET_AVX512 TL_INLINE float k23_arranged(const uint8_t *w, size_t superblocks, const int8_t *x, const float *xs16, const float *sums16,
                                             const float *scaled16, int three) {
    const size_t bytes = three ? 110 : 84;
    const __m512i two_bits = _mm512_set1_epi8(3), one = _mm512_set1_epi8(1);
    const __m512i i0 = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()}, offsets = _mm512_setzero_ps();
    for (size_t sb = 0; sb < superblocks; sb++, w += bytes, x += 256, xs16 += 16, sums16 += 16, scaled16 += 16) {
        PREFETCH(w, bytes)
        // d·sc·xs per group of 16, in a 16-float vector.
        __m512 f;
        if (three) {
            f = _mm512_mul_ps(_mm512_cvtepi32_ps(q3k_scales(w)), _mm512_mul_ps(_mm512_loadu_ps(xs16), _mm512_set1_ps(tl_half_at(w + 108))));
            offsets = _mm512_fmadd_ps(f, _mm512_loadu_ps(sums16), offsets);
        } else {
            const __m128i sc = _mm_loadu_si128((const __m128i *)(const void *)w);
            f = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_and_si128(sc, _mm_set1_epi8(0x0F)))),
                              _mm512_mul_ps(_mm512_loadu_ps(xs16), _mm512_set1_ps(tl_half_at(w + 80))));
            const __m512 m = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(sc, 4), _mm_set1_epi8(0x0F)))),
                                           _mm512_set1_ps(tl_half_at(w + 82)));
            offsets = _mm512_fmadd_ps(m, _mm512_loadu_ps(scaled16), offsets);
        }
        const uint8_t *qs = w + (three ? 32 : 16);
        for (int h = 0; h < 2; h++) {  // each half of 128 values makes two vectors of 64: groups 8h..8h+3 and 8h+4..8h+7
            const __m512i q = _mm512_broadcast_i64x4(LOAD(qs + 32 * h));
            for (int k = 0; k < 2; k++) {  // groups of 32 j = 2k and 2k + 1
                // Per 16-bit lane shift counts: 2j for the first 32 bytes, 2j + 2 for the next.
                __m512i u = _mm512_and_si512(_mm512_srlv_epi16(q, lanes_of(0x00010001 * (4 * k), 0x00010001 * (4 * k + 2))), two_bits);
                if (three) {
                    const __m512i hm = _mm512_broadcast_i64x4(LOAD(w));
                    const __m512i hshift = lanes_of(0x00010001 * (4 * h + 2 * k), 0x00010001 * (4 * h + 2 * k + 1));
                    u = _mm512_or_si512(u, _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(hm, hshift), one), 2));
                }
                const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, _mm512_loadu_si512((const void *)(x + 128 * h + 64 * k)));
                acc[k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_permutexvar_ps(_mm512_add_epi32(i0, _mm512_set1_epi32(8 * h + 4 * k)), f), acc[k]);
            }
        }
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1])) - (three ? 4.0f : 1.0f) * _mm512_reduce_add_ps(offsets);
}

/// Rows of Q6_K, Q2_K or Q3_K (`type`, a constant at each call) against the per-16 arrangement.
TL_TARGET_AVX512 TL_INLINE void rows_per_16_avx512(const uint8_t *w, size_t n, size_t r0, size_t r1, const int8_t *x, const float *xs,
                                                  float *out, tl_block_type type) {
    per_16 a;
    const size_t bytes = tl_block_row_bytes(type, 256), row_bytes = n / 256 * bytes;
    for (size_t v = 0; v < n; v += SEGMENT) {
        const size_t values = n - v < SEGMENT ? n - v : SEGMENT;
        arrange_per_16(x + v, xs + v / 32, values / 16, &a);
        for (size_t r = r0; r < r1; r++) {
            const uint8_t *row = w + r * row_bytes + v / 256 * bytes;
            const float part = type == TL_BLOCKS_Q6_K ? q6_k_arranged(row, values / 256, x + v, a.xs, a.sums)
                                                      : k23_arranged(row, values / 256, x + v, a.xs, a.sums, a.scaled, type == TL_BLOCKS_Q3_K);
            out[r] = v ? out[r] + part : part;
        }
    }
}

/// A variant's rows functions of Q6_K, Q2_K and Q3_K (the rows table's signature) over its
/// rows_per_16_V.
#define PER_16_ROWS(V, TARGET)                                                                                             \
    TARGET static void rows_q6_k_##V(const uint8_t *w, size_t n, size_t r0, size_t r1, const int8_t *x, const float *xs,  \
                                     const int32_t *xsum, float *out) {                                                    \
        (void)xsum;                                                                                                        \
        rows_per_16_##V(w, n, r0, r1, x, xs, out, TL_BLOCKS_Q6_K);                                                         \
    }                                                                                                                      \
    TARGET static void rows_q2_k_##V(const uint8_t *w, size_t n, size_t r0, size_t r1, const int8_t *x, const float *xs,  \
                                     const int32_t *xsum, float *out) {                                                    \
        (void)xsum;                                                                                                        \
        rows_per_16_##V(w, n, r0, r1, x, xs, out, TL_BLOCKS_Q2_K);                                                         \
    }                                                                                                                      \
    TARGET static void rows_q3_k_##V(const uint8_t *w, size_t n, size_t r0, size_t r1, const int8_t *x, const float *xs,  \
                                     const int32_t *xsum, float *out) {                                                    \
        (void)xsum;                                                                                                        \
        rows_per_16_##V(w, n, r0, r1, x, xs, out, TL_BLOCKS_Q3_K);                                                         \
    }
PER_16_ROWS(avx512, TL_TARGET_AVX512)

// AVX2's row kernels for decoding: the 256-value types (Q2_K … Q6_K, IQ4_XS) against
// activations with one scale per super-block (what the runner gives them), the scales
// picked by VPSHUFB and the offsets and minimums in int32; and Q8_0. All prefetch as the
// loop goes. The kernels above (a factor per 32 values in floats, a row prefetched at a
// time) computed at about the memory's pace on one core, so on two they kept Q4_K_M
// decoding at q8's speed.

/// Q4_K or Q5_K rows: each block's int16 pair sums widened against its 6-bit scale, picked
/// from the super-block's eight by one VPSHUFB; the minimums Σm·Σx in int32.
TL_TARGET_AVX2 static inline float k45_core_avx2(const uint8_t *w, size_t superblocks, const int8_t *x, const float *xs,
                                                 const int32_t *xsum, int five) {
    const size_t bytes = five ? 176 : 144;
    __m256 whole = _mm256_setzero_ps(), mins = whole;
    for (size_t sb = 0; sb < superblocks; sb++, w += bytes, x += 256, xs += 8, xsum += 8) {
        PREFETCH(w, bytes)
        uint64_t scb, mb;
        k4_scale_words(w + 4, &scb, &mb);
        const __m256i sc8 = _mm256_set1_epi64x((long long)scb);
        const uint8_t *ql = w + (five ? 48 : 16);
        const __m256i qh = five ? LOAD(w + 16) : _mm256_setzero_si256();
        __m256i sums[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
        for (int c = 0; c < 4; c++) {
            __m256i lo, hi;
            k45_values_avx2(ql + 32 * c, qh, c, five, &lo, &hi);
            // Scale byte j of the eight, zero-extended into every int16 lane.
            const __m256i s_lo = _mm256_shuffle_epi8(sc8, _mm256_set1_epi16((short)(0x8000 | (2 * c))));
            const __m256i s_hi = _mm256_shuffle_epi8(sc8, _mm256_set1_epi16((short)(0x8000 | (2 * c + 1))));
            sums[0] = _mm256_add_epi32(sums[0], _mm256_madd_epi16(_mm256_maddubs_epi16(lo, LOAD(x + 64 * c)), s_lo));
            sums[1] = _mm256_add_epi32(sums[1], _mm256_madd_epi16(_mm256_maddubs_epi16(hi, LOAD(x + 64 * c + 32)), s_hi));
        }
        // [d·xs, dmin·xs] from the two halves at w.
        uint32_t halves;
        memcpy(&halves, w, 4);
        const __m128 f = _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128((int)halves)), _mm_set1_ps(xs[0]));
        const __m256i msum = _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)mb)), LOAD(xsum));
        whole = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(sums[0], sums[1])), _mm256_broadcastss_ps(f), whole);
        mins = _mm256_fmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_broadcastss_ps(_mm_movehdup_ps(f)), mins);
    }
    return hsum256(_mm256_sub_ps(whole, mins));
}

/// The eight int16 scales of half h of a super-block's sixteen (one per run of 16), in both lanes.
TL_TARGET_AVX2 static inline __m256i half_scales_avx2(__m256i sc16, int h) {
    return h ? _mm256_permute4x64_epi64(sc16, 0xEE) : _mm256_permute4x64_epi64(sc16, 0x44);
}

/// Of eight int16 scales held in both lanes, scale 2g in every int16 of the low lane and
/// 2g + 1 in the high, for VPMADDWD: values 32g … 32g + 31 of a half (from
/// half_scales_avx2), whose runs 2g and 2g + 1 lie in the two lanes, or IQ4_XS's pair g.
TL_TARGET_AVX2 static inline __m256i run_scales_avx2(__m256i half, int g) {
    const short lo = (short)(0x0100 * (4 * g + 1) + 4 * g), hi = (short)(0x0100 * (4 * g + 3) + 4 * g + 2);
    return _mm256_shuffle_epi8(half, _mm256_setr_epi16(lo, lo, lo, lo, lo, lo, lo, lo, hi, hi, hi, hi, hi, hi, hi, hi));
}

/// Q6_K rows against activations with one scale per super-block: its values unsigned, each
/// run of 16's int16 pair sums widened against the run's scale (VPSHUFB from the half's
/// eight, as int16), and the −32 as 32·Σ s·Σx per super-block in int32 against the int16 sums
/// per run of 16 (sums16_of, once per segment of the product).
TL_TARGET_AVX2 static inline float q6_k_core_256_avx2(const uint8_t *w, size_t superblocks, const int8_t *x, const float *xs,
                                                      const int16_t *sums16) {
    const __m256i low = _mm256_set1_epi8(0x0F), two = _mm256_set1_epi8(3);
    __m256 whole = _mm256_setzero_ps();
    for (size_t sb = 0; sb < superblocks; sb++, w += 210, x += 256, xs += 8, sums16 += 16) {
        PREFETCH(w, 210)
        const __m256i sc = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(w + 192)));
        __m256i sum = _mm256_slli_epi32(_mm256_madd_epi16(sc, LOAD(sums16)), 5);
        sum = _mm256_sub_epi32(_mm256_setzero_si256(), sum);
        for (int h = 0; h < 2; h++) {
            const __m256i a = LOAD(w + 64 * h), b = LOAD(w + 64 * h + 32), qh = LOAD(w + 128 + 32 * h);
            const __m256i sch = half_scales_avx2(sc, h);
            const __m256i q[4] = {
                _mm256_or_si256(_mm256_and_si256(a, low), _mm256_slli_epi16(_mm256_and_si256(qh, two), 4)),
                _mm256_or_si256(_mm256_and_si256(b, low), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), two), 4)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(a, 4), low), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), two), 4)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b, 4), low), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), two), 4)),
            };
            for (int g = 0; g < 4; g++)
                sum = _mm256_add_epi32(sum, _mm256_madd_epi16(_mm256_maddubs_epi16(q[g], LOAD(x + 128 * h + 32 * g)), run_scales_avx2(sch, g)));
        }
        whole = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_set1_ps(tl_half_at(w + 208) * xs[0]), whole);
    }
    return hsum256(whole);
}

/// Q2_K or Q3_K rows against activations with one scale per super-block: the unsigned
/// values' int16 pair sums widened against their run's scale and added up in int32; Q3_K's −4
/// (4·Σ sc·Σx) and Q2_K's minimums (Σ m·Σx) in int32 against the int16 sums per run of 16.
TL_TARGET_AVX2 static inline float k23_core_256_avx2(const uint8_t *w, size_t superblocks, const int8_t *x, const float *xs,
                                                     const int16_t *sums16, int three) {
    const size_t bytes = three ? 110 : 84;
    __m256 whole = _mm256_setzero_ps(), mins = whole;
    for (size_t sb = 0; sb < superblocks; sb++, w += bytes, x += 256, xs += 8, sums16 += 16) {
        PREFETCH(w, bytes)
        __m256i sc, sum;
        if (three) {
            // Scale j: the low nibble of byte 96 + j (j < 8) or the high of byte 88 + j, under
            // bits 2(j/4) of byte 104 + j mod 4, minus 32. One 32-bit shift per four scales.
            const __m128i lows = _mm_loadl_epi64((const __m128i *)(const void *)(w + 96)), m4 = _mm_set1_epi8(0x0F);
            const __m128i low = _mm_unpacklo_epi64(_mm_and_si128(lows, m4), _mm_and_si128(_mm_srli_epi16(lows, 4), m4));
            int32_t hb;
            memcpy(&hb, w + 104, 4);
            const __m128i high = _mm_and_si128(_mm_srlv_epi32(_mm_set1_epi32(hb), _mm_setr_epi32(0, 2, 4, 6)), _mm_set1_epi8(3));
            sc = _mm256_cvtepi8_epi16(_mm_sub_epi8(_mm_or_si128(low, _mm_slli_epi16(high, 4)), _mm_set1_epi8(32)));
            sum = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(_mm256_madd_epi16(sc, LOAD(sums16)), 2));
        } else {
            // Scale j in the low nibble of byte j, minimum j in the high.
            const __m256i both = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(const void *)w));
            sc = _mm256_and_si256(both, _mm256_set1_epi16(15));
            const __m256i msum = _mm256_madd_epi16(_mm256_srli_epi16(both, 4), LOAD(sums16));
            mins = _mm256_fmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_set1_ps(tl_half_at(w + 82) * xs[0]), mins);
            sum = _mm256_setzero_si256();
        }
        const uint8_t *qs = w + (three ? 32 : 16);
        const __m256i hm = LOAD(w);
        for (int h = 0; h < 2; h++) {
            const __m256i q = LOAD(qs + 32 * h), sch = half_scales_avx2(sc, h);
            for (int j = 0; j < 4; j++) {
                const __m256i u = k23_values_avx2(q, hm, h, j, three);
                sum = _mm256_add_epi32(sum, _mm256_madd_epi16(_mm256_maddubs_epi16(u, LOAD(x + 128 * h + 32 * j)), run_scales_avx2(sch, j)));
            }
        }
        whole = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_set1_ps(tl_half_at(w + (three ? 108 : 80)) * xs[0]), whole);
    }
    return hsum256(_mm256_sub_ps(whole, mins));
}

TL_TARGET_AVX2 TL_INLINE void rows_k45_avx2(const uint8_t *w, size_t n, size_t r0, size_t r1, const int8_t *x, const float *xs,
                                           const int32_t *xsum, float *out, int five) {
    const size_t row_bytes = n / 256 * (five ? 176 : 144);
    const int per256 = tl_scales_per_256(xs, n);
    for (size_t r = r0; r < r1; r++) {
        const uint8_t *row = w + r * row_bytes;
        out[r] = per256 ? k45_core_avx2(row, n / 256, x, xs, xsum, five) : dot_q45k_avx2(row, n, x, xs, xsum, five);
    }
}
TL_TARGET_AVX2 static void rows_q4_k_avx2(const uint8_t *w, size_t n, size_t r0, size_t r1, const int8_t *x, const float *xs,
                                          const int32_t *xsum, float *out) {
    rows_k45_avx2(w, n, r0, r1, x, xs, xsum, out, 0);
}
TL_TARGET_AVX2 static void rows_q5_k_avx2(const uint8_t *w, size_t n, size_t r0, size_t r1, const int8_t *x, const float *xs,
                                          const int32_t *xsum, float *out) {
    rows_k45_avx2(w, n, r0, r1, x, xs, xsum, out, 1);
}

/// Q8_0 rows, eight blocks at a time, each group prefetching as it goes. The eight blocks'
/// factors d·xs are made in one vector and picked per block (VPERMPS): converting and
/// broadcasting each block's d on its own cost more than its product, and held Q8_0 below
/// the memory's pace (in cache 1.1–1.6× slower, from memory 8–10%).
TL_TARGET_AVX2 static void rows_q8_0_avx2(const uint8_t *w, size_t n, size_t r0, size_t r1, const int8_t *x, const float *xs,
                                          const int32_t *xsum, float *out) {
    const size_t blocks = n / 32, row_bytes = blocks * 34;
    for (size_t r = r0; r < r1; r++) {
        const uint8_t *row = w + r * row_bytes;
        __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
        size_t b = 0;
        for (; b + 8 <= blocks; b += 8) {
            PREFETCH(row + 34 * b, 8 * 34)
            const __m256 f = octet_factors(row + 34 * b, 34, xs + b, xsum + b, 0, 0, NULL);
            for (int k = 0; k < 8; k++) {
                const __m256i p = signed_sums_avx2(LOAD(row + 34 * (b + k) + 2), x + 32 * (b + k));
                acc[k % 4] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_permutevar8x32_ps(f, _mm256_set1_epi32(k)), acc[k % 4]);
            }
        }
        for (; b < blocks; b++) acc[0] = step_q8_0_avx2(row + 34 * b, x + 32 * b, xs[b], xsum[b], acc[0]);
        out[r] = hsum256(SUM4(acc));
    }
}

/// IQ4_XS's eight scales (6 bits − 32) as int16, in both 128-bit lanes: the low 4 bits from
/// the nibbles of bytes 4–7, the high 2 from the word at byte 2 (bits 2j, 2j + 1 moved to
/// the top of lane j by a multiply, then down).
TL_TARGET_AVX2 static inline __m256i iq4xs_scales16_avx2(const uint8_t *w) {
    int32_t lw;
    uint16_t hw;
    memcpy(&lw, w + 4, 4);
    memcpy(&hw, w + 2, 2);
    const __m128i l = _mm_cvtsi32_si128(lw), m4 = _mm_set1_epi8(0x0F);
    const __m128i low = _mm_cvtepu8_epi16(_mm_unpacklo_epi8(_mm_and_si128(l, m4), _mm_and_si128(_mm_srli_epi16(l, 4), m4)));
    const __m128i high = _mm_srli_epi16(
        _mm_mullo_epi16(_mm_set1_epi16((short)hw), _mm_setr_epi16(1 << 14, 1 << 12, 1 << 10, 1 << 8, 1 << 6, 1 << 4, 1 << 2, 1)), 14);
    return _mm256_broadcastsi128_si256(_mm_sub_epi16(_mm_or_si128(low, _mm_slli_epi16(high, 4)), _mm_set1_epi16(32)));
}

/// IQ4_XS rows against activations with one scale per super-block, arranged as for the
/// blocks of 32 (arrange_pairs_avx2): two blocks' 32 bytes of nibbles in one load, looked up
/// in the table (VPSHUFB); the values are signed, so multiplied as |q| · (x with q's sign),
/// each block's int16 pair sums widened against its scale (run_scales_avx2 picks block 2p's
/// for the low lane, 2p + 1's for the high), a super-block added up in int32.
TL_TARGET_AVX2 static inline float iq4_xs_core_avx2(const uint8_t *w, size_t superblocks, const int8_t *xa, const float *xs) {
    const __m256i low = _mm256_set1_epi8(0x0F);
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)tl_iq4_values));
    __m256 whole = _mm256_setzero_ps();
    for (size_t sb = 0; sb < superblocks; sb++, w += 136, xa += 256, xs += 8) {
        PREFETCH(w, 136)
        const __m256i sc = iq4xs_scales16_avx2(w);
        __m256i sum = _mm256_setzero_si256();
        for (int p = 0; p < 4; p++) {
            const __m256i v = LOAD(w + 8 + 32 * p), s = run_scales_avx2(sc, p);
            const __m256i lo = _mm256_shuffle_epi8(table, _mm256_and_si256(v, low));
            const __m256i hi = _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(v, 4), low));
            const __m256i xl = LOAD(xa + 64 * p), xh = LOAD(xa + 64 * p + 32);
            sum = _mm256_add_epi32(sum, _mm256_madd_epi16(signed_pairs_avx2(lo, xl), s));
            sum = _mm256_add_epi32(sum, _mm256_madd_epi16(signed_pairs_avx2(hi, xh), s));
        }
        whole = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_set1_ps(tl_half_at(w) * xs[0]), whole);
    }
    return hsum256(whole);
}

TL_TARGET_AVX2 static void rows_iq4_xs_avx2(const uint8_t *w, size_t n, size_t r0, size_t r1, const int8_t *x, const float *xs,
                                           const int32_t *xsum, float *out) {
    const size_t row_bytes = n / 256 * 136;
    if (!tl_scales_per_256(xs, n)) {
        for (size_t r = r0; r < r1; r++) out[r] = dot_iq4_xs_avx2(w + r * row_bytes, n, x, xs, xsum);
        return;
    }
    int8_t xa[SEGMENT];
    for (size_t v = 0; v < n; v += SEGMENT) {
        const size_t values = n - v < SEGMENT ? n - v : SEGMENT;
        arrange_pairs_avx2(x + v, values / 64, xa);
        for (size_t r = r0; r < r1; r++) {
            const float part = iq4_xs_core_avx2(w + r * row_bytes + v / 256 * 136, values / 256, xa, xs + v / 32);
            out[r] = v ? out[r] + part : part;
        }
    }
}

#undef PREFETCH
#undef LOAD

#endif

// ---- aarch64 ----------------------------------------------------------------------------
#if TL_ARM64

// The int32 sums of 16 products of two signed byte vectors, a weights and b activations
// (|b| ≤ 127, as the quantizer makes them), in 4 lanes whose total is the dot product: SDOT
// (4 adjacent products to a lane), or without it widening multiplies, two products to an
// int16 lane (at most 2·128·127, no overflow), and one pairwise widening.
TL_TARGET_DOTPROD static inline int32x4_t dot4_sdot(int8x16_t a, int8x16_t b) { return vdotq_s32(vdupq_n_s32(0), a, b); }
static inline int32x4_t dot4_neon(int8x16_t a, int8x16_t b) { return vpaddlq_s16(vmlal_high_s8(vmull_s8(vget_low_s8(a), vget_low_s8(b)), a, b)); }

// The same for 32 products, a0·b0 then a1·b1, where the weights are small, |a| < 64 (every
// type but Q8_0 and IQ4): SDOT accumulates the second onto the first; without it, four
// products of at most 64·128 go to an int16 lane before the one widening (5 instructions
// where two dot4_neon and an add take 7).
TL_TARGET_DOTPROD static inline int32x4_t dot32_sdot(int8x16_t a0, int8x16_t b0, int8x16_t a1, int8x16_t b1) {
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), a0, b0), a1, b1);
}
static inline int32x4_t dot32_neon(int8x16_t a0, int8x16_t b0, int8x16_t a1, int8x16_t b1) {
    const int16x8_t p = vmlal_s8(vmlal_high_s8(vmull_s8(vget_low_s8(a0), vget_low_s8(b0)), a0, b0), vget_low_s8(a1), vget_low_s8(b1));
    return vpaddlq_s16(vmlal_high_s8(p, a1, b1));
}

/// 32 fifth bits (bit i for value i) as bytes 0x10 or 0, values 0–15 and 16–31.
static inline void fifth_bits_neon(const uint8_t *p, uint8x16_t *lo, uint8x16_t *hi) {
    const uint8x8_t word = vcreate_u8(bits_at(p));
    const uint8x16_t table = vcombine_u8(word, word), bit = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const uint8x16_t first = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1}, second = vaddq_u8(first, vdupq_n_u8(2));
    *lo = vandq_u8(vtstq_u8(vqtbl1q_u8(table, first), bit), vdupq_n_u8(0x10));
    *hi = vandq_u8(vtstq_u8(vqtbl1q_u8(table, second), bit), vdupq_n_u8(0x10));
}

// As on x86: four accumulators, so that a block's FMA does not wait for the previous one's.
#define ROW_OF_BLOCKS_NEON(BYTES, STEP)                                                                                    \
    float32x4_t acc[4] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)};                                \
    const size_t blocks = n / 32;                                                                                          \
    size_t b = 0;                                                                                                          \
    for (; b + 4 <= blocks; b += 4)                                                                                        \
        for (int k = 0; k < 4; k++) acc[k] = STEP(w + (b + k) * (BYTES), x + 32 * (b + k), xs[b + k], xsum[b + k], acc[k]); \
    for (; b < blocks; b++) acc[0] = STEP(w + b * (BYTES), x + 32 * b, xs[b], xsum[b], acc[0]);                           \
    return vaddvq_f32(SUM4_NEON(acc));
#define SUM4_NEON(a) vaddq_f32(vaddq_f32((a)[0], (a)[1]), vaddq_f32((a)[2], (a)[3]))
// Four int32 vectors' totals, vector k's in lane k (pairwise adds).
#define TOTALS4_NEON(v) vpaddq_s32(vpaddq_s32((v)[0], (v)[1]), vpaddq_s32((v)[2], (v)[3]))
#define SIGNED32(u) vreinterpretq_s32_u32(u)

#define DEFINE_ARM_KERNELS(V, TARGET, DOT4, DOT32)                                                                                    \
    TARGET static inline float32x4_t step_q8_0_##V(const uint8_t *w, const int8_t *x, float xs, int32_t xsum, float32x4_t acc) { \
        (void)xsum;                                                                                                            \
        const int8_t *q = (const int8_t *)(w + 2);                                                                             \
        const int32x4_t p = vaddq_s32(DOT4(vld1q_s8(q), vld1q_s8(x)), DOT4(vld1q_s8(q + 16), vld1q_s8(x + 16)));             \
        return vfmaq_n_f32(acc, vcvtq_f32_s32(p), f16_at(w) * xs);                                                             \
    }                                                                                                                          \
    TARGET static inline float32x4_t step_q4_0_##V(const uint8_t *w, const int8_t *x, float xs, int32_t xsum, float32x4_t acc) { \
        (void)xsum;                                                                                                            \
        const uint8x16_t raw = vld1q_u8(w + 2);                                                                                \
        const int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(raw, vdupq_n_u8(0x0F))), vdupq_n_s8(8));                   \
        const int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(raw, 4)), vdupq_n_s8(8));                                \
        const int32x4_t p = DOT32(lo, vld1q_s8(x), hi, vld1q_s8(x + 16));                                     \
        return vfmaq_n_f32(acc, vcvtq_f32_s32(p), f16_at(w) * xs);                                                             \
    }                                                                                                                          \
    /* Q4_1, Q5_0, Q5_1: the nibbles (and fifth bits) of a block of 32, the zero point taken off; a minimum's m·xs·Σx */     \
    /* in the first lane */                                                                                                   \
    TARGET static inline float32x4_t step_q5x_##V(const uint8_t *w, const int8_t *x, float xs, int32_t xsum, float32x4_t acc,   \
                                                 size_t nibbles, int five, int zero, int minimum) {                           \
        const uint8x16_t raw = vld1q_u8(w + nibbles);                                                                          \
        uint8x16_t lo = vandq_u8(raw, vdupq_n_u8(0x0F)), hi = vshrq_n_u8(raw, 4);                                              \
        if (five) {                                                                                                            \
            uint8x16_t flo, fhi;                                                                                               \
            fifth_bits_neon(w + nibbles - 4, &flo, &fhi);                                                                      \
            lo = vorrq_u8(lo, flo);                                                                                            \
            hi = vorrq_u8(hi, fhi);                                                                                            \
        }                                                                                                                      \
        const int8x16_t z = vdupq_n_s8((int8_t)zero);                                                                          \
        const int32x4_t p = DOT32(vsubq_s8(vreinterpretq_s8_u8(lo), z), vld1q_s8(x), vsubq_s8(vreinterpretq_s8_u8(hi), z), vld1q_s8(x + 16)); \
        acc = vfmaq_n_f32(acc, vcvtq_f32_s32(p), f16_at(w) * xs);                                                              \
        return minimum ? vaddq_f32(acc, vsetq_lane_f32(f16_at(w + 2) * xs * (float)xsum, vdupq_n_f32(0), 0)) : acc;           \
    }                                                                                                                          \
    TARGET static inline float32x4_t step_q4_1_##V(const uint8_t *w, const int8_t *x, float xs, int32_t xsum, float32x4_t acc) { \
        return step_q5x_##V(w, x, xs, xsum, acc, 4, 0, 0, 1);                                                                  \
    }                                                                                                                          \
    TARGET static inline float32x4_t step_q5_0_##V(const uint8_t *w, const int8_t *x, float xs, int32_t xsum, float32x4_t acc) { \
        return step_q5x_##V(w, x, xs, xsum, acc, 6, 1, 16, 0);                                                                 \
    }                                                                                                                          \
    TARGET static inline float32x4_t step_q5_1_##V(const uint8_t *w, const int8_t *x, float xs, int32_t xsum, float32x4_t acc) { \
        return step_q5x_##V(w, x, xs, xsum, acc, 8, 1, 0, 1);                                                                  \
    }                                                                                                                          \
    TARGET static float dot_q8_0_##V(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum) {       \
        ROW_OF_BLOCKS_NEON(34, step_q8_0_##V)                                                                                  \
    }                                                                                                                          \
    TARGET static float dot_q4_0_##V(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum) {       \
        ROW_OF_BLOCKS_NEON(18, step_q4_0_##V)                                                                                  \
    }                                                                                                                          \
    TARGET static float dot_q4_1_##V(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum) {       \
        ROW_OF_BLOCKS_NEON(20, step_q4_1_##V)                                                                                  \
    }                                                                                                                          \
    TARGET static float dot_q5_0_##V(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum) {       \
        ROW_OF_BLOCKS_NEON(22, step_q5_0_##V)                                                                                  \
    }                                                                                                                          \
    TARGET static float dot_q5_1_##V(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum) {       \
        ROW_OF_BLOCKS_NEON(24, step_q5_1_##V)                                                                                  \
    }                                                                                                                          \
    /* Q2_K and Q3_K, 16 values at a time (one scale each): group i's 2-bit values (bits 2j of byte 32h + l), Q3_K's */    \
    /* third bit (bit 4h + j of byte l of the mask) and its −4 */                                                              \
    TARGET static inline __attribute__((always_inline)) int8x16_t k23_values_##V(const uint8_t *w, int i, int three) {        \
        const int h = i / 8, j = i % 8 / 2, half = i % 2;                                                                      \
        const uint8_t *qs = w + (three ? 32 : 16);                                                                             \
        const uint8x16_t u = vandq_u8(vshlq_u8(vld1q_u8(qs + 32 * h + 16 * half), vdupq_n_s8((int8_t)(-2 * j))), vdupq_n_u8(3)); \
        if (!three) return vreinterpretq_s8_u8(u);                                                                             \
        const uint8x16_t bit = vandq_u8(vshlq_u8(vld1q_u8(w + 16 * half), vdupq_n_s8((int8_t)(-(4 * h + j)))), vdupq_n_u8(1)); \
        return vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(u, vshlq_n_u8(bit, 2))), vdupq_n_s8(4));                                 \
    }                                                                                                                          \
    TARGET static inline float dot_k23_##V(const uint8_t *w, size_t n, const int8_t *x, const float *xs, int three) {         \
        const size_t bytes = three ? 110 : 84;                                                                                 \
        float32x4_t acc[4] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)}, mins = vdupq_n_f32(0);          \
        for (size_t sb = 0; sb < n / 256; sb++, w += bytes, x += 256, xs += 8) {                                               \
            const float d = f16_at(w + (three ? 108 : 80)), dmin = three ? 0 : f16_at(w + 82);                                 \
            for (int i = 0; i < 16; i++) { /* group i: values 16i..16i+15 */                                                   \
                const int8x16_t xv = vld1q_s8(x + 16 * i);                                                                     \
                const int sc = three ? q3k_scale(w, i) : w[i] & 0x0F;                                                          \
                acc[i % 4] = vfmaq_n_f32(acc[i % 4], vcvtq_f32_s32(DOT4(k23_values_##V(w, i, three), xv)), d * (float)sc * xs[i / 2]); \
                if (!three) mins = vfmaq_n_f32(mins, vcvtq_f32_s32(DOT4(vdupq_n_s8(1), xv)), dmin * (float)(w[i] >> 4) * xs[i / 2]); \
            }                                                                                                                  \
        }                                                                                                                      \
        return vaddvq_f32(vsubq_f32(SUM4_NEON(acc), mins));                                                                    \
    }                                                                                                                          \
    K23_KERNELS(V, TARGET)                                                                                                     \
    /* IQ4_NL and IQ4_XS: the nibbles looked up in the table (TBL), signed values */                                      \
    TARGET static inline int32x4_t iq4_dot_##V(const uint8_t *qs, const int8_t *x) {                                           \
        const int8x16_t table = vld1q_s8(tl_iq4_values);                                                                          \
        const uint8x16_t raw = vld1q_u8(qs);                                                                                   \
        return vaddq_s32(DOT4(vqtbl1q_s8(table, vandq_u8(raw, vdupq_n_u8(0x0F))), vld1q_s8(x)),                                \
                         DOT4(vqtbl1q_s8(table, vshrq_n_u8(raw, 4)), vld1q_s8(x + 16)));                                       \
    }                                                                                                                          \
    TARGET static float dot_iq4_nl_##V(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum) {     \
        (void)xsum;                                                                                                            \
        float32x4_t acc[2] = {vdupq_n_f32(0), vdupq_n_f32(0)};                                                                \
        for (size_t b = 0; b < n / 32; b++, w += 18, x += 32)                                                                  \
            acc[b % 2] = vfmaq_n_f32(acc[b % 2], vcvtq_f32_s32(iq4_dot_##V(w + 2, x)), f16_at(w) * xs[b]);                     \
        return vaddvq_f32(vaddq_f32(acc[0], acc[1]));                                                                          \
    }                                                                                                                          \
    TARGET static float dot_iq4_xs_##V(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum) {     \
        (void)xsum;                                                                                                            \
        float32x4_t acc[4] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)};                                \
        for (size_t sb = 0; sb < n / 256; sb++, w += 136, x += 256, xs += 8) {                                                 \
            const float d = f16_at(w);                                                                                         \
            for (int j = 0; j < 8; j++) {                                                                                      \
                acc[j % 4] = vfmaq_n_f32(acc[j % 4], vcvtq_f32_s32(iq4_dot_##V(w + 8 + 16 * j, x + 32 * j)), d * (float)iq4xs_scale(w, j) * xs[j]); \
            }                                                                                                                  \
        }                                                                                                                      \
        return vaddvq_f32(SUM4_NEON(acc));                                                                                     \
    }                                                                                                                          \
    /* Chunk c of a Q4_K or Q5_K super-block (blocks 2c and 2c + 1, Q5_K's fifth bits from qh0, qh1) against xc: */         \
    /* each block's int32 lanes */                                                                                             \
    TARGET static inline __attribute__((always_inline)) void q45k_chunk_##V(const uint8_t *ql, uint8x16_t qh0, uint8x16_t qh1, int c, \
                                                                          int five, const int8_t *xc, int32x4_t *plo, int32x4_t *phi) { \
        const uint8x16_t low = vdupq_n_u8(0x0F), bit = vdupq_n_u8(0x10);                                                       \
        const uint8x16_t q0 = vld1q_u8(ql + 32 * c), q1 = vld1q_u8(ql + 32 * c + 16);                                          \
        uint8x16_t lo0 = vandq_u8(q0, low), lo1 = vandq_u8(q1, low), hi0 = vshrq_n_u8(q0, 4), hi1 = vshrq_n_u8(q1, 4);          \
        if (five) {                                                                                                            \
            const int8x16_t sl = vdupq_n_s8((int8_t)(4 - 2 * c)), sh = vdupq_n_s8((int8_t)(3 - 2 * c));                       \
            lo0 = vorrq_u8(lo0, vandq_u8(vshlq_u8(qh0, sl), bit));                                                             \
            lo1 = vorrq_u8(lo1, vandq_u8(vshlq_u8(qh1, sl), bit));                                                             \
            hi0 = vorrq_u8(hi0, vandq_u8(vshlq_u8(qh0, sh), bit));                                                             \
            hi1 = vorrq_u8(hi1, vandq_u8(vshlq_u8(qh1, sh), bit));                                                             \
        }                                                                                                                      \
        *plo = DOT32(vreinterpretq_s8_u8(lo0), vld1q_s8(xc), vreinterpretq_s8_u8(lo1), vld1q_s8(xc + 16));                      \
        *phi = DOT32(vreinterpretq_s8_u8(hi0), vld1q_s8(xc + 32), vreinterpretq_s8_u8(hi1), vld1q_s8(xc + 48));                 \
    }                                                                                                                          \
    TARGET static inline __attribute__((always_inline)) float dot_q45k_##V(const uint8_t *w, size_t n, const int8_t *x,        \
                                            const float *xs, const int32_t *xsum, int five) {                                  \
        const size_t bytes = five ? 176 : 144;                                                                                 \
        float32x4_t acc[4] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)};                                \
        float mins = 0;                                                                                                        \
        for (size_t sb = 0; sb < n / 256; sb++, w += bytes, x += 256, xs += 8, xsum += 8) {                                    \
            uint8_t sc[8], m[8];                                                                                               \
            k4_scales(w + 4, sc, m);                                                                                           \
            const float d = f16_at(w);                                                                                         \
            const uint8x16_t qh0 = vld1q_u8(w + 16), qh1 = vld1q_u8(w + 32);                                                  \
            for (int c = 0; c < 4; c++) {                                                                                      \
                int32x4_t plo, phi;                                                                                            \
                q45k_chunk_##V(w + (five ? 48 : 16), qh0, qh1, c, five, x + 64 * c, &plo, &phi);                               \
                acc[c] = vfmaq_n_f32(acc[c], vcvtq_f32_s32(plo), d * sc[2 * c] * xs[2 * c]);                                    \
                acc[c] = vfmaq_n_f32(acc[c], vcvtq_f32_s32(phi), d * sc[2 * c + 1] * xs[2 * c + 1]);                            \
            }                                                                                                                  \
            mins += k4_mins(f16_at(w + 2), m, xs, xsum);                                                                       \
        }                                                                                                                      \
        return vaddvq_f32(SUM4_NEON(acc)) - mins;                                                                              \
    }                                                                                                                          \
    K45_KERNELS(V, TARGET)                                                                                                     \
    /* Run k (of 16 values) of group g of half h of a Q6_K super-block, −32 taken off, against x at the half's start: */ \
    /* the low four bits from ql's nibbles, bits 2g and 2g + 1 of qh as bits 4 and 5 (g a constant) */                        \
    TARGET static inline __attribute__((always_inline)) int32x4_t q6k_run_##V(const uint8_t *w, int h, int g, int k, const int8_t *x) { \
        const uint8x16_t q = vld1q_u8(w + 64 * h + (g & 1 ? 32 : 0) + 16 * k), qh = vld1q_u8(w + 128 + 32 * h + 16 * k);      \
        const uint8x16_t high = g & 1 ? vshrq_n_u8(qh, 2) : qh;                                                                 \
        const uint8x16_t u = g < 2 ? vandq_u8(vsliq_n_u8(q, high, 4), vdupq_n_u8(0x3F))                                        \
                                   : vorrq_u8(vshrq_n_u8(q, 4), vandq_u8(high, vdupq_n_u8(0x30)));                              \
        return DOT4(vsubq_s8(vreinterpretq_s8_u8(u), vdupq_n_s8(32)), vld1q_s8(x + 32 * g + 16 * k));                          \
    }                                                                                                                          \
    TARGET static float dot_q6_k_##V(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum) {       \
        (void)xsum;                                                                                                            \
        float32x4_t acc[4] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)};                                \
        for (size_t sb = 0; sb < n / 256; sb++, w += 210) {                                                                    \
            const float d = f16_at(w + 208);                                                                                   \
            for (int h = 0; h < 2; h++, x += 128, xs += 4) {                                                                   \
                const int8_t *sc = (const int8_t *)(w + 192 + 8 * h);                                                          \
                for (int g = 0; g < 4; g++) { /* the two runs of 16, each with its own scale */                                \
                    const int32x4_t part = vaddq_s32(vmulq_n_s32(q6k_run_##V(w, h, g, 0, x), sc[2 * g]),                       \
                                                     vmulq_n_s32(q6k_run_##V(w, h, g, 1, x), sc[2 * g + 1]));                  \
                    acc[g] = vfmaq_n_f32(acc[g], vcvtq_f32_s32(part), d * xs[g]);                                              \
                }                                                                                                              \
            }                                                                                                                  \
        }                                                                                                                      \
        return vaddvq_f32(SUM4_NEON(acc));                                                                                     \
    }                                                                                                                          \
    /* The 256-value types where every super-block's eight activation scales are one (tl_quantize_activations_256, */      \
    /* what the runner gives them; tl_scales_per_256): each block (or run of 16) meets its integer scale by an int32 */     \
    /* multiply-accumulate and the super-block meets floats once, one conversion and one FMA per 256 values instead of */ \
    /* per 32 (or 16), and no float factor made per block. */                                                                 \
    TARGET static inline __attribute__((always_inline)) float dot_q45k_256_##V(const uint8_t *w, size_t n, const int8_t *x,    \
                                                                              const float *xs, const int32_t *xsum, int five) { \
        const size_t bytes = five ? 176 : 144;                                                                                 \
        float32x4_t whole = vdupq_n_f32(0), mins = vdupq_n_f32(0);                                                             \
        for (size_t sb = 0; sb < n / 256; sb++, w += bytes, x += 256, xs += 8, xsum += 8) {                                    \
            uint64_t scb, mb;                                                                                                  \
            k4_scale_words(w + 4, &scb, &mb);                                                                                  \
            const uint16x8_t sc16 = vmovl_u8(vcreate_u8(scb)), m16 = vmovl_u8(vcreate_u8(mb));                                 \
            const uint8x16_t qh0 = vld1q_u8(w + 16), qh1 = vld1q_u8(w + 32);                                                  \
            int32x4_t block[8];                                                                                                \
            for (int c = 0; c < 4; c++) q45k_chunk_##V(w + (five ? 48 : 16), qh0, qh1, c, five, x + 64 * c, &block[2 * c], &block[2 * c + 1]); \
            const int32x4_t sum = vmlaq_s32(vmulq_s32(TOTALS4_NEON(block), SIGNED32(vmovl_u16(vget_low_u16(sc16)))),          \
                                            TOTALS4_NEON(block + 4), SIGNED32(vmovl_high_u16(sc16)));                          \
            /* Σ m_j·Σx_j, the minimums' share, in int32 too */                                                                \
            const int32x4_t msum = vmlaq_s32(vmulq_s32(SIGNED32(vmovl_u16(vget_low_u16(m16))), vld1q_s32(xsum)),               \
                                             SIGNED32(vmovl_high_u16(m16)), vld1q_s32(xsum + 4));                              \
            whole = vfmaq_n_f32(whole, vcvtq_f32_s32(sum), f16_at(w) * xs[0]);                                                 \
            mins = vfmaq_n_f32(mins, vcvtq_f32_s32(msum), f16_at(w + 2) * xs[0]);                                              \
        }                                                                                                                      \
        return vaddvq_f32(vsubq_f32(whole, mins));                                                                             \
    }                                                                                                                          \
    K45_KERNELS(256_##V, TARGET)                                                                                               \
    TARGET static float dot_q6_k_256_##V(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum) {   \
        (void)xsum;                                                                                                            \
        float32x4_t whole = vdupq_n_f32(0);                                                                                    \
        for (size_t sb = 0; sb < n / 256; sb++, w += 210, x += 256, xs += 8) {                                                 \
            const int8x16_t sc8 = vld1q_s8((const int8_t *)(w + 192));                                                         \
            const int16x8_t low = vmovl_s8(vget_low_s8(sc8)), high = vmovl_high_s8(sc8);                                      \
            const int32x4_t sc[4] = {vmovl_s16(vget_low_s16(low)), vmovl_high_s16(low), vmovl_s16(vget_low_s16(high)), vmovl_high_s16(high)}; \
            int32x4_t sums[2] = {vdupq_n_s32(0), vdupq_n_s32(0)};                                                              \
            for (int h = 0; h < 2; h++)                                                                                        \
                for (int p = 0; p < 2; p++) { /* groups 2p and 2p + 1: four runs, scales 8h + 4p … 8h + 4p + 3 */              \
                    const int32x4_t run[4] = {q6k_run_##V(w, h, 2 * p, 0, x + 128 * h), q6k_run_##V(w, h, 2 * p, 1, x + 128 * h), \
                                              q6k_run_##V(w, h, 2 * p + 1, 0, x + 128 * h), q6k_run_##V(w, h, 2 * p + 1, 1, x + 128 * h)}; \
                    sums[h] = vmlaq_s32(sums[h], TOTALS4_NEON(run), sc[2 * h + p]);                                            \
                }                                                                                                              \
            whole = vfmaq_n_f32(whole, vcvtq_f32_s32(vaddq_s32(sums[0], sums[1])), f16_at(w + 208) * xs[0]);                   \
        }                                                                                                                      \
        return vaddvq_f32(whole);                                                                                              \
    }                                                                                                                          \
    /* A Q3_K super-block's sixteen scales (q3k_scale) as signed bytes: four low bits from the nibbles of bytes 96–103, */ \
    /* two high bits from bytes 104–107 */                                                                                     \
    TARGET static inline int8x16_t q3k_scales_##V(const uint8_t *w) {                                                          \
        const uint8x8_t nibbles = vld1_u8(w + 96);                                                                             \
        const uint8x16_t low = vcombine_u8(vand_u8(nibbles, vdup_n_u8(0x0F)), vshr_n_u8(nibbles, 4));                          \
        uint32_t four;                                                                                                         \
        memcpy(&four, w + 104, 4);                                                                                             \
        const uint8x16_t pick = {0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3};                                              \
        const int8x16_t down = {0, 0, 0, 0, -2, -2, -2, -2, -4, -4, -4, -4, -6, -6, -6, -6};                                  \
        const uint8x16_t two = vandq_u8(vshlq_u8(vqtbl1q_u8(vreinterpretq_u8_u32(vdupq_n_u32(four)), pick), down), vdupq_n_u8(3)); \
        return vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(low, vshlq_n_u8(two, 4))), vdupq_n_s8(32));                               \
    }                                                                                                                          \
    /* Sixteen int8 factors as four int32 vectors, factor k of vector k / 4 in lane k % 4 */                                  \
    TARGET static inline void widen16_##V(int8x16_t f, int32x4_t out[4]) {                                                    \
        const int16x8_t low = vmovl_s8(vget_low_s8(f)), high = vmovl_high_s8(f);                                              \
        out[0] = vmovl_s16(vget_low_s16(low)), out[1] = vmovl_high_s16(low);                                                   \
        out[2] = vmovl_s16(vget_low_s16(high)), out[3] = vmovl_high_s16(high);                                                 \
    }                                                                                                                          \
    TARGET static inline __attribute__((always_inline)) float dot_k23_256_##V(const uint8_t *w, size_t n, const int8_t *x,     \
                                                                             const float *xs, int three) {                    \
        const size_t bytes = three ? 110 : 84;                                                                                 \
        float32x4_t whole = vdupq_n_f32(0), mins = vdupq_n_f32(0);                                                             \
        for (size_t sb = 0; sb < n / 256; sb++, w += bytes, x += 256, xs += 8) {                                               \
            int32x4_t sc[4], m[4], sum = vdupq_n_s32(0), msum = vdupq_n_s32(0);                                                \
            widen16_##V(three ? q3k_scales_##V(w) : vreinterpretq_s8_u8(vandq_u8(vld1q_u8(w), vdupq_n_u8(0x0F))), sc);         \
            if (!three) widen16_##V(vreinterpretq_s8_u8(vshrq_n_u8(vld1q_u8(w), 4)), m);                                       \
            for (int q = 0; q < 4; q++) { /* groups 4q … 4q + 3 */                                                             \
                int32x4_t run[4], ones[4];                                                                                     \
                for (int i = 0; i < 4; i++) {                                                                                  \
                    const int8x16_t xv = vld1q_s8(x + 16 * (4 * q + i));                                                       \
                    run[i] = DOT4(k23_values_##V(w, 4 * q + i, three), xv);                                                    \
                    if (!three) ones[i] = DOT4(vdupq_n_s8(1), xv);                                                             \
                }                                                                                                              \
                sum = vmlaq_s32(sum, TOTALS4_NEON(run), sc[q]);                                                                \
                if (!three) msum = vmlaq_s32(msum, TOTALS4_NEON(ones), m[q]);                                                  \
            }                                                                                                                  \
            whole = vfmaq_n_f32(whole, vcvtq_f32_s32(sum), f16_at(w + (three ? 108 : 80)) * xs[0]);                            \
            if (!three) mins = vfmaq_n_f32(mins, vcvtq_f32_s32(msum), f16_at(w + 82) * xs[0]);                                 \
        }                                                                                                                      \
        return vaddvq_f32(vsubq_f32(whole, mins));                                                                             \
    }                                                                                                                          \
    K23_KERNELS(256_##V, TARGET)                                                                                               \
    TARGET static float dot_iq4_xs_256_##V(const uint8_t *w, size_t n, const int8_t *x, const float *xs, const int32_t *xsum) { \
        (void)xsum;                                                                                                            \
        const int16x8_t down = {0, -2, -4, -6, -8, -10, -12, -14}; /* block j's two high bits: bits 2j, 2j + 1 of the word */ \
        float32x4_t whole = vdupq_n_f32(0);                                                                                    \
        for (size_t sb = 0; sb < n / 256; sb++, w += 136, x += 256, xs += 8) {                                                 \
            uint32_t nibbles;                                                                                                  \
            uint16_t word;                                                                                                     \
            memcpy(&nibbles, w + 4, 4);                                                                                        \
            memcpy(&word, w + 2, 2);                                                                                           \
            const uint8x8_t four = vcreate_u8(nibbles), low = vzip1_u8(vand_u8(four, vdup_n_u8(0x0F)), vshr_n_u8(four, 4));     \
            const uint8x8_t two = vmovn_u16(vandq_u16(vshlq_u16(vdupq_n_u16(word), down), vdupq_n_u16(3)));                     \
            const int16x8_t sc = vsubq_s16(vreinterpretq_s16_u16(vmovl_u8(vorr_u8(low, vshl_n_u8(two, 4)))), vdupq_n_s16(32));  \
            int32x4_t block[8];                                                                                                \
            for (int j = 0; j < 8; j++) block[j] = iq4_dot_##V(w + 8 + 16 * j, x + 32 * j);                                   \
            const int32x4_t sum = vmlaq_s32(vmulq_s32(TOTALS4_NEON(block), vmovl_s16(vget_low_s16(sc))), TOTALS4_NEON(block + 4), \
                                            vmovl_high_s16(sc));                                                               \
            whole = vfmaq_n_f32(whole, vcvtq_f32_s32(sum), f16_at(w) * xs[0]);                                                 \
        }                                                                                                                      \
        return vaddvq_f32(whole);                                                                                              \
    }

DEFINE_ARM_KERNELS(neon, , dot4_neon, dot32_neon)
DEFINE_ARM_KERNELS(sdot, TL_TARGET_DOTPROD, dot4_sdot, dot32_sdot)

#endif

// ---- The tables ---------------------------------------------------------------------------

#define DOT_TABLE(V)                                                                                                   \
    {[TL_BLOCKS_Q8_0] = dot_q8_0_##V, [TL_BLOCKS_Q4_0] = dot_q4_0_##V, [TL_BLOCKS_Q4_1] = dot_q4_1_##V,              \
     [TL_BLOCKS_Q5_0] = dot_q5_0_##V, [TL_BLOCKS_Q5_1] = dot_q5_1_##V, [TL_BLOCKS_Q4_K] = dot_q4_k_##V,              \
     [TL_BLOCKS_Q5_K] = dot_q5_k_##V, [TL_BLOCKS_Q6_K] = dot_q6_k_##V, [TL_BLOCKS_Q2_K] = dot_q2_k_##V,               \
     [TL_BLOCKS_Q3_K] = dot_q3_k_##V, [TL_BLOCKS_IQ4_NL] = dot_iq4_nl_##V, [TL_BLOCKS_IQ4_XS] = dot_iq4_xs_##V}
// The portable table's Q2_K, Q3_K and IQ4 go through the unpacking.
#define dot_q2_k_portable dot_q2_k_unpacked
#define dot_q3_k_portable dot_q3_k_unpacked
#define dot_iq4_nl_portable dot_iq4_nl_unpacked
#define dot_iq4_xs_portable dot_iq4_xs_unpacked
static const tl_block_dot portable_table[TL_BLOCK_TYPE_COUNT] = DOT_TABLE(portable);
#if TL_X86
/// AVX2's rows of the types whose scales change every 16 values (Q6_K, Q2_K, Q3_K; `type` a
/// constant at each call): what their offsets multiply per run of 16 (32·Σx, or xs·Σx) made
/// once per segment, for all the rows.
TL_TARGET_AVX2 TL_INLINE void rows_per_16_avx2(const uint8_t *w, size_t n, size_t r0, size_t r1, const int8_t *x, const float *xs,
                                              float *out, tl_block_type type) {
    const size_t bytes = layouts[type].bytes, row_bytes = n / 256 * bytes;
    float per16[SEGMENT / 16];
    if (tl_scales_per_256(xs, n)) {
        int16_t sums16[SEGMENT / 16];
        for (size_t v = 0; v < n; v += SEGMENT) {
            const size_t values = n - v < SEGMENT ? n - v : SEGMENT;
            sums16_of(x + v, values / 16, sums16);
            for (size_t r = r0; r < r1; r++) {
                const uint8_t *row = w + r * row_bytes + v / 256 * bytes;
                const float part = type == TL_BLOCKS_Q6_K ? q6_k_core_256_avx2(row, values / 256, x + v, xs + v / 32, sums16)
                                                          : k23_core_256_avx2(row, values / 256, x + v, xs + v / 32, sums16, type == TL_BLOCKS_Q3_K);
                out[r] = v ? out[r] + part : part;
            }
        }
        return;
    }
    for (size_t v = 0; v < n; v += SEGMENT) {
        const size_t values = n - v < SEGMENT ? n - v : SEGMENT;
        if (type == TL_BLOCKS_Q6_K) q6_k_offsets(x + v, values / 16, per16);
        else k23_sums(x + v, xs + v / 32, values / 16, per16);
        for (size_t r = r0; r < r1; r++) {
            prefetch_row_ahead(w, r, r1, row_bytes);
            const uint8_t *row = w + r * row_bytes + v / 256 * bytes;
            const float part = type == TL_BLOCKS_Q6_K ? q6_k_core_avx2(row, values / 256, x + v, xs + v / 32, per16)
                                                      : k23_core_avx2(row, values / 256, x + v, xs + v / 32, per16, type == TL_BLOCKS_Q3_K);
            out[r] = v ? out[r] + part : part;
        }
    }
}
PER_16_ROWS(avx2, TL_TARGET_AVX2)
#undef PER_16_ROWS

// AVX-512: Q8_0's row kernel; every other type's kernel takes a product's rows together
// (vnni_rows), arranging its activations once.
static const tl_block_dot vnni_table[TL_BLOCK_TYPE_COUNT] = {[TL_BLOCKS_Q8_0] = dot_q8_0_avx512};
/// The kernels that arrange a product's activations once for all its rows.
typedef void (*tl_block_rows)(const uint8_t *w, size_t n, size_t r0, size_t r1, const int8_t *x, const float *xs, const int32_t *xsum,
                              float *out);
static const tl_block_rows vnni_rows[TL_BLOCK_TYPE_COUNT] = {
    [TL_BLOCKS_Q4_0] = rows_q4_0_avx512, [TL_BLOCKS_Q4_1] = rows_q4_1_avx512, [TL_BLOCKS_Q5_0] = rows_q5_0_avx512,
    [TL_BLOCKS_Q5_1] = rows_q5_1_avx512, [TL_BLOCKS_IQ4_NL] = rows_iq4_nl_avx512, [TL_BLOCKS_Q4_K] = rows_q4_k_avx512,
    [TL_BLOCKS_Q5_K] = rows_q5_k_avx512, [TL_BLOCKS_Q6_K] = rows_q6_k_avx512, [TL_BLOCKS_IQ4_XS] = rows_iq4_xs_avx512,
    [TL_BLOCKS_Q2_K] = rows_q2_k_avx512, [TL_BLOCKS_Q3_K] = rows_q3_k_avx512};
static const tl_block_rows avx2_rows[TL_BLOCK_TYPE_COUNT] = {
    [TL_BLOCKS_Q4_0] = rows_q4_0_avx2, [TL_BLOCKS_Q4_1] = rows_q4_1_avx2, [TL_BLOCKS_Q5_0] = rows_q5_0_avx2,
    [TL_BLOCKS_Q5_1] = rows_q5_1_avx2, [TL_BLOCKS_Q6_K] = rows_q6_k_avx2, [TL_BLOCKS_Q2_K] = rows_q2_k_avx2,
    [TL_BLOCKS_Q3_K] = rows_q3_k_avx2, [TL_BLOCKS_Q4_K] = rows_q4_k_avx2, [TL_BLOCKS_Q5_K] = rows_q5_k_avx2, [TL_BLOCKS_Q8_0] = rows_q8_0_avx2,
    [TL_BLOCKS_IQ4_XS] = rows_iq4_xs_avx2, [TL_BLOCKS_IQ4_NL] = rows_iq4_nl_avx2};
#endif
#if TL_ARM64
static const tl_block_dot neon_table[TL_BLOCK_TYPE_COUNT] = DOT_TABLE(neon);
static const tl_block_dot sdot_table[TL_BLOCK_TYPE_COUNT] = DOT_TABLE(sdot);
// The 256-value types' kernels for activations with one scale per super-block.
#define DOT_TABLE_256(V)                                                                                               \
    {[TL_BLOCKS_Q4_K] = dot_q4_k_256_##V, [TL_BLOCKS_Q5_K] = dot_q5_k_256_##V, [TL_BLOCKS_Q6_K] = dot_q6_k_256_##V,  \
     [TL_BLOCKS_Q2_K] = dot_q2_k_256_##V, [TL_BLOCKS_Q3_K] = dot_q3_k_256_##V, [TL_BLOCKS_IQ4_XS] = dot_iq4_xs_256_##V}
static const tl_block_dot neon_table_256[TL_BLOCK_TYPE_COUNT] = DOT_TABLE_256(neon);
static const tl_block_dot sdot_table_256[TL_BLOCK_TYPE_COUNT] = DOT_TABLE_256(sdot);

#endif

static const tl_block_dot *table_for(tl_isa isa) {
    switch (isa) {
#if TL_X86
    // AVX2 takes every type through its rows function (avx2_rows); a type without one
    // would take the portable kernel.
    case TL_ISA_AVX512VNNI: return vnni_table;
#endif
#if TL_ARM64
    case TL_ISA_NEON: return neon_table;
    case TL_ISA_NEON_DOTPROD: return sdot_table;
#endif
    default: return portable_table;
    }
}

void tl_dot_blocks_rows(tl_block_type type, const void *w, size_t n, size_t r0, size_t r1, const int8_t *x, const float *xscales,
                        const int32_t *xsums, float *out) {
    const tl_isa isa = tl_active_isa();
#if TL_X86
    // The kernels that arrange the activations once for all their rows.
    const tl_block_rows rows = isa == TL_ISA_AVX512VNNI ? vnni_rows[type] : isa == TL_ISA_AVX2 ? avx2_rows[type] : NULL;
    if (rows) {
        rows(w, n, r0, r1, x, xscales, xsums, out);
        return;
    }
#endif
    tl_block_dot dot = table_for(isa)[type];
#if TL_ARM64
    const tl_block_dot *per256 = isa == TL_ISA_NEON_DOTPROD ? sdot_table_256 : isa == TL_ISA_NEON ? neon_table_256 : NULL;
    if (per256 && per256[type] && tl_scales_per_256(xscales, n)) dot = per256[type];
#endif
    const size_t row_bytes = tl_block_row_bytes(type, n);
    // AVX-512's Q8_0 kernel prefetches for itself.
    const int prefetch = isa != TL_ISA_AVX512VNNI;
    for (size_t r = r0; r < r1; r++) {
        if (prefetch) prefetch_row_ahead(w, r, r1, row_bytes);
        out[r] = dot((const uint8_t *)w + r * row_bytes, n, x, xscales, xsums);
    }
}
