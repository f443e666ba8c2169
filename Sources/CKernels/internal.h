// Helpers shared by the kernel files; not part of the public header.
#pragma once
#include <stdint.h>
#include <string.h>
#include <math.h>
#include "CKernels.h"

// Each architecture's variants compile only there; the portable ones compile everywhere.
#if defined(__x86_64__)
#define TL_X86 1
#include <immintrin.h>
#define TL_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#define TL_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#elif defined(__aarch64__)
#define TL_ARM64 1
#include <arm_neon.h>
// NEON is part of every aarch64 CPU; SDOT (FEAT_DotProd) is not, so its variants carry
// their own target, spelled differently by clang (which SwiftPM uses) and GCC.
#if defined(__clang__)
#define TL_TARGET_DOTPROD __attribute__((target("dotprod")))
#else
#define TL_TARGET_DOTPROD __attribute__((target("+dotprod")))
#endif
#endif
#define TL_INLINE static inline __attribute__((always_inline))

#if TL_X86
/// The sum of a vector's 8 floats.
TL_TARGET_AVX2 static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#endif

/// The active variant is one of these (tests lower it; the detected one bounds it).
#define TL_USES_AVX2() (tl_active_isa() == TL_ISA_AVX2 || tl_active_isa() == TL_ISA_AVX512VNNI)
#define TL_USES_AVX512() (tl_active_isa() == TL_ISA_AVX512VNNI)
#define TL_USES_NEON() (tl_active_isa() == TL_ISA_NEON || tl_active_isa() == TL_ISA_NEON_DOTPROD)
#define TL_USES_DOTPROD() (tl_active_isa() == TL_ISA_NEON_DOTPROD)

TL_INLINE float tl_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        float v = (float)mant * 5.9604644775390625e-8f;  // mant · 2^-24 (zero or subnormal)
        memcpy(&bits, &v, 4);
        bits |= sign;
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

#if TL_X86
/// The f16 at p, converted by F16C. The word goes through a general register (a move that
/// zeroes the vector register's rest): compilers otherwise insert it into whatever vector
/// register is at hand, often an accumulator, which chained each block's scale to the
/// previous block's sum (AVX2 Q8_0 ran at a third of its pace). The asm keeps the load from
/// being folded into that insert.
TL_TARGET_AVX2 static inline float tl_half_at(const void *p) {
    uint32_t h;
    __asm__("movzwl %1, %0" : "=r"(h) : "m"(*(const uint16_t *)p));
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128((int)h)));
}
#elif TL_ARM64
/// The f16 at p, converted by FCVT (every ARMv8 core has it; tl_f16_to_f32's branches cost
/// the kernels as much as a block's products): the same value for every finite or infinite
/// half, a NaN for a NaN (the loaders refuse non-finite scales anyway).
static inline float tl_half_at(const void *p) {
    __fp16 h;
    memcpy(&h, p, 2);
    return (float)h;
}
#endif

/// Whether each super-block of n activations (n a multiple of 256) has one scale (their
/// scales are per block of 32): the 256-value types' kernels then add a super-block up in
/// int32 (tl_quantize_activations_256 makes such activations).
static inline int tl_scales_per_256(const float *xs, size_t n) {
    for (size_t i = 0; i < n / 32; i += 8)
        for (size_t j = 1; j < 8; j++)
            if (xs[i + j] != xs[i]) return 0;
    return 1;
}

/// The smallest f16 not below d (d finite, ≥ 0); 0x7c00 (infinity) when d exceeds f16's range.
TL_INLINE uint16_t tl_f16_round_up(float d) {
    uint32_t b;
    memcpy(&b, &d, 4);
    int32_t e = (int32_t)((b >> 23) & 0xffu) - 127;
    uint16_t h;
    if (e > 15) return 0x7c00u;
    if (e >= -14) {
        h = (uint16_t)(((uint32_t)(e + 15) << 10) | ((b >> 13) & 0x3ffu));
    } else if (e < -25) {
        h = 0;
    } else {
        h = (uint16_t)(uint32_t)(d * 16777216.0f);  // truncated count of 2^-24 steps
    }
    if (tl_f16_to_f32(h) < d) h++;
    return h;
}

TL_INLINE uint16_t tl_f32_to_bf16_bits(float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    return (uint16_t)(b >> 16);
}

TL_INLINE float tl_bf16_to_f32(uint16_t h) {
    uint32_t b = (uint32_t)h << 16;
    float f;
    memcpy(&f, &b, 4);
    return f;
}

/// round(t), halves away from zero, for |t| < 2^31; exact (no t + 0.5 double rounding).
TL_INLINE float tl_round_away(float t) {
    float r = (float)(int32_t)t;
    float f = t - r;
    r += (f >= 0.5f) ? 1.0f : 0.0f;
    r -= (f <= -0.5f) ? 1.0f : 0.0f;
    return r;
}

#if TL_X86
/// e^x for x ≤ 0, 8 lanes: range reduction (x = n·ln2 + r) and a degree-6 polynomial for
/// e^r (Cephes' expf scheme), accurate to a few units in the last place; below −87 it
/// returns e^−87 (≈ 1.6e−38) rather than a subnormal.
TL_TARGET_AVX2 static inline __m256 exp_nonpositive_avx2(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));  // keeps 2^n a normal number
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/// exp_nonpositive_avx2 sixteen lanes wide, operation for operation.
TL_TARGET_AVX512 static inline __m512 exp_nonpositive_avx512(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(e));
}

// 16 rows of 16 floats in, the 16 columns out: the usual unpack / shuffle ladder.
TL_TARGET_AVX512 static inline void tl_transpose16(__m512 v[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        v[4 * i + 0] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        v[4 * i + 1] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        v[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        v[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 4; i++) {
        t[i + 0] = _mm512_shuffle_f32x4(v[i + 0], v[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(v[i + 0], v[i + 4], 0xdd);
        t[i + 8] = _mm512_shuffle_f32x4(v[i + 8], v[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(v[i + 8], v[i + 12], 0xdd);
    }
    for (int i = 0; i < 4; i++) {
        v[i + 0] = _mm512_shuffle_f32x4(t[i + 0], t[i + 8], 0x88);
        v[i + 8] = _mm512_shuffle_f32x4(t[i + 0], t[i + 8], 0xdd);
        v[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
        v[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xdd);
    }
}

#endif

// Weights stored as f32, f16 or bf16, widened to f32: shared by the dot products and the
// float GEMM. `type` is the same for a whole row, so the branch is always predicted.

/// The Q8_0 block holding value i, and its scale.
TL_INLINE const uint8_t *tl_q8_0_block(const void *w, size_t i, float *scale) {
    const uint8_t *block = (const uint8_t *)w + (i / 32) * 34;
    uint16_t bits;
    memcpy(&bits, block, 2);
    *scale = tl_f16_to_f32(bits);
    return block + 2 + i % 32;
}

/// Bytes that n values take in `type` (n a multiple of 32 for Q8_0).
TL_INLINE size_t tl_stored_bytes(tl_weight_type type, size_t n) {
    switch (type) {
    case TL_WEIGHTS_F32: return 4 * n;
    case TL_WEIGHTS_Q8_0: return n / 32 * 34;
    default: return 2 * n;
    }
}

/// Weight i of w as f32.
TL_INLINE float tl_weight_at(const void *w, tl_weight_type type, size_t i) {
    switch (type) {
    case TL_WEIGHTS_F16: return tl_f16_to_f32(((const uint16_t *)w)[i]);
    case TL_WEIGHTS_BF16: return tl_bf16_to_f32(((const uint16_t *)w)[i]);
    case TL_WEIGHTS_Q8_0: {
        float scale;
        const uint8_t *q = tl_q8_0_block(w, i, &scale);
        return (float)(int8_t)*q * scale;
    }
    default: return ((const float *)w)[i];
    }
}

#if TL_X86
/// Weights i ..< i + 8 of w as f32.
TL_TARGET_AVX2 static inline __m256 tl_weights8(const void *w, tl_weight_type type, size_t i) {
    switch (type) {
    case TL_WEIGHTS_F16: return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)w + i)));
    case TL_WEIGHTS_BF16:
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const uint16_t *)w + i))), 16));
    case TL_WEIGHTS_Q8_0: {
        // The scale widened by F16C, in every lane: tl_f16_to_f32 in software costs more
        // than the eight values.
        const uint8_t *block = (const uint8_t *)w + (i / 32) * 34;
        uint16_t bits;
        memcpy(&bits, block, 2);
        const __m256 scale = _mm256_cvtph_ps(_mm_set1_epi16((short)bits));
        const __m128i q = _mm_loadl_epi64((const __m128i *)(const void *)(block + 2 + i % 32));
        return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), scale);
    }
    default: return _mm256_loadu_ps((const float *)w + i);
    }
}

/// Weights i ..< i + 16 of w as f32.
TL_TARGET_AVX512 static inline __m512 tl_weights16(const void *w, tl_weight_type type, size_t i) {
    switch (type) {
    case TL_WEIGHTS_F16: return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)w + i)));
    case TL_WEIGHTS_BF16:
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)((const uint16_t *)w + i))), 16));
    case TL_WEIGHTS_Q8_0: {
        float scale;
        const uint8_t *q = tl_q8_0_block(w, i, &scale);
        return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)q))), _mm512_set1_ps(scale));
    }
    default: return _mm512_loadu_ps((const float *)w + i);
    }
}
#endif

#if TL_ARM64
/// Weights i ..< i + 4 of w as f32.
TL_INLINE float32x4_t tl_weights4(const void *w, tl_weight_type type, size_t i) {
    switch (type) {
    case TL_WEIGHTS_F16: return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)w + i)));
    case TL_WEIGHTS_BF16: return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16((const uint16_t *)w + i), 16));
    case TL_WEIGHTS_Q8_0: {
        const uint8_t *block = (const uint8_t *)w + (i / 32) * 34;
        uint16_t bits;
        int32_t packed;  // the four values, the upper lanes' copies unused
        memcpy(&bits, block, 2);
        memcpy(&packed, block + 2 + i % 32, 4);
        const float32x4_t scale = vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(bits)));
        const int16x8_t wide = vmovl_s8(vreinterpret_s8_s32(vdup_n_s32(packed)));
        return vmulq_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(wide))), scale);
    }
    default: return vld1q_f32((const float *)w + i);
    }
}

/// e^x for x ≤ 0, four at a time: exp_nonpositive_avx2's reduction and polynomial.
static inline float32x4_t exp_nonpositive_neon(float32x4_t x) {
    x = vmaxq_f32(x, vdupq_n_f32(-87.0f));  // keeps 2^n a normal number
    const float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504088896341f)));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
    r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
    p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
    p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
    p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), p, vmulq_f32(r, r));
    const int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    return vmulq_f32(p, vreinterpretq_f32_s32(e));
}
#endif


/// Unpacks one stored block (32 or 256 values) into unsigned bytes u and, per 16 values, a
/// and c such that each value is a·(u − zero) − c: how the prompt kernels read a row.
typedef void (*tl_block_unpack)(const uint8_t *block, uint8_t *u, float *a, float *c);

/// A block type's row in blocks.c's table.
typedef struct {
    size_t values, bytes;  // per stored block
    size_t d_at;           // where the block's f16 scale d lies, which every a is an integer times
    int32_t zero;          // the zero point taken off every unpacked byte
    int32_t top;           // the largest unpacked byte
    int minimums;          // c is not 0 (Q4_1, Q5_1, Q4_K, Q5_K, Q2_K)
    int halves;            // a (and c) change every 16 values (Q6_K, Q2_K, Q3_K)
    tl_block_unpack unpack;
} tl_block_layout;
const tl_block_layout *tl_block_layout_of(tl_block_type type);
#if TL_X86
/// The unpacking the AVX-512 prompt kernel uses: the layout's, or a vector one (Q4_K, Q5_K).
tl_block_unpack tl_block_unpack_avx512(tl_block_type type);
/// AVX2's: the layout's, or one with vector byte unpacking (Q4_K, Q5_K).
tl_block_unpack tl_block_unpack_avx2(tl_block_type type);
/// out[i] = Σ x[16i .. 16i + 15] for count values, a multiple of 64 (AVX-512 VNNI).
void tl_sums_of_16_avx512(const int8_t *x, size_t count, int32_t *out);
#endif

/// The sixteen values IQ4_NL's and IQ4_XS's nibbles index (ggml's kvalues_iq4nl).
extern const int8_t tl_iq4_values[16];
