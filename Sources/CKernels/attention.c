// Attention of one head: for one query (decoding), scores against every cached key,
// softmax, and the values weighted by it; for a prompt's queries, a block at a time as two
// matrix products per tile of keys with an online softmax. AVX-512, AVX2 and NEON variants,
// each against the portable one in the kernel tests.
// Gemma 2 caps the scores softly first: cap · tanh(score / cap), when cap > 0. The cached
// keys and values are f32, f16 or Q8_0 (tl_weight_type), widened as they are read.
#include "internal.h"

// Keys per tile of the portable prompt path's online softmax.
#define KEY_TILE 64
// Keys per tile of the decoding kernels: the tile's keys (then values) widened to f32, 32 KB
// at dh = 256, stay in the L1 cache.
#define GROUP_TILE 32
// Queries per block of the prompt kernels (two AVX2 registers of lanes, four NEON ones; two
// AVX-512 ones), and their keys per tile.
#define BLOCK_QUERIES 16
#define BLOCK_QUERIES_AVX512 32
#define BLOCK_KEYS 32

// What merging partial results needs (tl_attend_queries_partial): the largest score and
// Σ e^(score − largest), when stats is not NULL.
static inline void put_stats(float *stats, float top, float sum) {
    if (stats) { stats[0] = top; stats[1] = sum; }
}

// The soft cap on scores[0..<count], and their new maximum.
static float soft_cap(float *scores, size_t count, float cap) {
    float top = -INFINITY;
    for (size_t p = 0; p < count; p++) {
        scores[p] = cap * tanhf(scores[p] / cap);
        top = scores[p] > top ? scores[p] : top;
    }
    return top;
}

static void attend_portable(const float *q, const void *keys, const void *values, tl_weight_type type, size_t stride, size_t count,
                            size_t dh, float scale, float cap, float *scores, float *out) {
    float top = -INFINITY;
    for (size_t p = 0; p < count; p++) {
        float s = 0;
        for (size_t i = 0; i < dh; i++) s += q[i] * tl_weight_at(keys, type, p * stride + i);
        scores[p] = s * scale;
        top = scores[p] > top ? scores[p] : top;
    }
    if (cap > 0) top = soft_cap(scores, count, cap);
    float sum = 0;
    for (size_t p = 0; p < count; p++) {
        scores[p] = expf(scores[p] - top);
        sum += scores[p];
    }
    for (size_t i = 0; i < dh; i++) out[i] = 0;
    for (size_t p = 0; p < count; p++) {
        const float w = scores[p] / sum;
        for (size_t i = 0; i < dh; i++) out[i] += w * tl_weight_at(values, type, p * stride + i);
    }
}

// One query over positions start ..< end in tiles of KEY_TILE scores with the online softmax:
// no scratch the length of the context, so a head's blocks of queries can run on several
// threads at once (tl_attend_queries' path where no kernel below applies).
static void attend_online(const float *q, const void *keys, const void *values, tl_weight_type type, size_t stride, size_t start,
                          size_t end, size_t dh, float scale, float cap, float *out, float *stats) {
    float s[KEY_TILE];
    float top = -INFINITY, sum = 0;
    for (size_t i = 0; i < dh; i++) out[i] = 0;
    for (size_t t0 = start; t0 < end; t0 += KEY_TILE) {
        const size_t n = end - t0 < KEY_TILE ? end - t0 : KEY_TILE;
        float tile_top = -INFINITY;
        for (size_t j = 0; j < n; j++) {
            float d = 0;
            for (size_t i = 0; i < dh; i++) d += q[i] * tl_weight_at(keys, type, (t0 + j) * stride + i);
            s[j] = cap > 0 ? cap * tanhf(d * scale / cap) : d * scale;
            tile_top = s[j] > tile_top ? s[j] : tile_top;
        }
        const float new_top = tile_top > top ? tile_top : top;
        const float factor = expf(top - new_top);  // 0 on the first tile
        sum *= factor;
        for (size_t i = 0; i < dh; i++) out[i] *= factor;
        for (size_t j = 0; j < n; j++) {
            const float e = expf(s[j] - new_top);
            sum += e;
            for (size_t i = 0; i < dh; i++) out[i] += e * tl_weight_at(values, type, (t0 + j) * stride + i);
        }
        top = new_top;
    }
    put_stats(stats, top, sum);
    for (size_t i = 0; i < dh; i++) out[i] = sum > 0 ? out[i] / sum : 0;
}

// The block kernels' shared steps. A block of nq queries (at most qb, the lanes it has) keeps
// each query's positions as its lane compares them (first ≤ p < last; an unused lane sees
// none) and the queries transposed, qt[c·qb + i] (zeros past nq); returns the span lo ..< hi
// of all their positions.
static size_t block_setup(size_t qb, const float *q, size_t qstride, size_t nq, const size_t *start, const size_t *end, size_t dh,
                          float *qt, int32_t *first, int32_t *last, size_t *lo) {
    size_t low = SIZE_MAX, hi = 0;
    for (size_t i = 0; i < qb; i++) {
        first[i] = i < nq ? (int32_t)start[i] : 0;
        last[i] = i < nq ? (int32_t)end[i] : 0;
        if (i < nq) {
            low = start[i] < low ? start[i] : low;
            hi = end[i] > hi ? end[i] : hi;
        }
        for (size_t c = 0; c < dh; c++) qt[c * qb + i] = i < nq ? q[i * qstride + c] : 0;
    }
    *lo = low;
    return hi;
}

// The soft cap on a tile's scores p[j·qb + i], scaled first (the kernels scale the others
// with their mask).
static void block_cap(float *p, size_t qb, size_t n, size_t nq, float scale, float cap) {
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < nq; i++) p[j * qb + i] = cap * tanhf(p[j * qb + i] * scale / cap);
}

// Each query's weighted sum (acc, rows of dh) divided by its Σ e, and its statistics.
static void block_finish(const float *acc, const float *sums, const float *maxima, size_t nq, size_t dh, float *out, size_t ostride,
                         float *stats) {
    for (size_t i = 0; i < nq; i++) {
        put_stats(stats ? stats + 2 * i : NULL, maxima[i], sums[i]);
        const float inverse = sums[i] > 0 ? 1.0f / sums[i] : 0.0f;
        for (size_t c = 0; c < dh; c++) out[i * ostride + c] = acc[i * dh + c] * inverse;
    }
}

// Asks for row p + GROUP_TILE (if below hi), the next tile's counterpart of row p: a tile's
// work is short, and with the hardware's prefetcher alone the decoding kernels waited on
// memory half their time once the cache outgrew L2.
static inline void prefetch_next_tile(const void *src, tl_weight_type type, size_t stride, size_t p, size_t hi, size_t dh) {
    if (p + GROUP_TILE >= hi) return;
    const char *row = (const char *)src + tl_stored_bytes(type, (p + GROUP_TILE) * stride);
    for (size_t b = 0; b < tl_stored_bytes(type, dh); b += 64) __builtin_prefetch(row + b);
}

#if TL_X86
// Lane j of the result is the sum of the 8 lanes of v[j].
TL_TARGET_AVX2 static inline __m256 sum_each_avx2(const __m256 v[8]) {
    __m256 a = _mm256_hadd_ps(v[0], v[1]), b = _mm256_hadd_ps(v[2], v[3]);
    __m256 c = _mm256_hadd_ps(v[4], v[5]), d = _mm256_hadd_ps(v[6], v[7]);
    __m256 ab = _mm256_hadd_ps(a, b), cd = _mm256_hadd_ps(c, d);
    // ab holds v0..v3's partial sums from the low 128 bits, then from the high ones.
    __m256 lo = _mm256_permute2f128_ps(ab, cd, 0x20), hi = _mm256_permute2f128_ps(ab, cd, 0x31);
    return _mm256_add_ps(lo, hi);
}

// Eight positions at a time: their scores come out together in one register, so the
// exponentials run eight wide too.
TL_TARGET_AVX2 static void attend_avx2(const float *q, const void *keys, const void *values, tl_weight_type type, size_t stride,
                                       size_t count, size_t dh, float scale, float cap, float *scores, float *out) {
    const __m256 vscale = _mm256_set1_ps(scale);
    __m256 top8 = _mm256_set1_ps(-INFINITY);
    size_t p = 0;
    for (; p + 8 <= count; p += 8) {
        __m256 acc[8];
        for (int j = 0; j < 8; j++) {
            const size_t k = (p + (size_t)j) * stride;
            __m256 a = _mm256_mul_ps(_mm256_loadu_ps(q), tl_weights8(keys, type, k));
            for (size_t i = 8; i < dh; i += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), tl_weights8(keys, type, k + i), a);
            acc[j] = a;
        }
        const __m256 s = _mm256_mul_ps(sum_each_avx2(acc), vscale);
        _mm256_storeu_ps(scores + p, s);
        top8 = _mm256_max_ps(top8, s);
    }
    float top_lanes[8];
    _mm256_storeu_ps(top_lanes, top8);
    float top = -INFINITY;
    for (int j = 0; j < 8; j++) top = top_lanes[j] > top ? top_lanes[j] : top;
    for (; p < count; p++) {
        __m256 a = _mm256_setzero_ps();
        for (size_t i = 0; i < dh; i += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), tl_weights8(keys, type, p * stride + i), a);
        float lanes[8];
        _mm256_storeu_ps(lanes, a);
        float s = 0;
        for (int j = 0; j < 8; j++) s += lanes[j];
        scores[p] = s * scale;
        top = scores[p] > top ? scores[p] : top;
    }
    if (cap > 0) top = soft_cap(scores, count, cap);

    const __m256 vtop = _mm256_set1_ps(top);
    __m256 sum8 = _mm256_setzero_ps();
    p = 0;
    for (; p + 8 <= count; p += 8) {
        const __m256 e = exp_nonpositive_avx2(_mm256_sub_ps(_mm256_loadu_ps(scores + p), vtop));
        _mm256_storeu_ps(scores + p, e);
        sum8 = _mm256_add_ps(sum8, e);
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, sum8);
    float sum = 0;
    for (int j = 0; j < 8; j++) sum += lanes[j];
    for (; p < count; p++) {
        scores[p] = expf(scores[p] - top);
        sum += scores[p];
    }

    // Σ e_p·v_p, divided by Σ e_p once at the end.
    const __m256 inverse = _mm256_set1_ps(1.0f / sum);
    for (size_t i = 0; i < dh; i += 8) {
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        size_t r = 0;
        for (; r + 2 <= count; r += 2) {
            a0 = _mm256_fmadd_ps(_mm256_set1_ps(scores[r]), tl_weights8(values, type, r * stride + i), a0);
            a1 = _mm256_fmadd_ps(_mm256_set1_ps(scores[r + 1]), tl_weights8(values, type, (r + 1) * stride + i), a1);
        }
        if (r < count) a0 = _mm256_fmadd_ps(_mm256_set1_ps(scores[r]), tl_weights8(values, type, r * stride + i), a0);
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_add_ps(a0, a1), inverse));
    }
}

// Rows first ..< first + n of a cache (row p at p·stride) widened to f32 into dst (rows of
// dh), the type's switch outside the loops so each loop widens one way, each row asking for
// the next tile's.
TL_TARGET_AVX2 static inline void widen_rows_avx2(const void *src, tl_weight_type type, size_t stride, size_t first, size_t n, size_t hi,
                                                  size_t dh, float *dst) {
#define WIDEN(T) \
    for (size_t j = 0; j < n; j++) { \
        prefetch_next_tile(src, type, stride, first + j, hi, dh); \
        for (size_t c = 0; c < dh; c += 8) _mm256_store_ps(dst + j * dh + c, tl_weights8(src, T, (first + j) * stride + c)); \
    }
    switch (type) {
    case TL_WEIGHTS_F16: WIDEN(TL_WEIGHTS_F16); break;
    case TL_WEIGHTS_BF16: WIDEN(TL_WEIGHTS_BF16); break;
    case TL_WEIGHTS_Q8_0:
        // A block's scale widened once for its 32 values (rows are whole blocks: see tl_attend).
        for (size_t j = 0; j < n; j++) {
            prefetch_next_tile(src, type, stride, first + j, hi, dh);
            const uint8_t *block = (const uint8_t *)src + tl_stored_bytes(TL_WEIGHTS_Q8_0, (first + j) * stride);
            for (size_t c = 0; c < dh; c += 32, block += 34) {
                uint16_t bits;
                memcpy(&bits, block, 2);
                const __m256 scale = _mm256_cvtph_ps(_mm_set1_epi16((short)bits));
                for (size_t k = 0; k < 32; k += 8) {
                    const __m128i v = _mm_loadl_epi64((const __m128i *)(const void *)(block + 2 + k));
                    _mm256_store_ps(dst + j * dh + c + k, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v)), scale));
                }
            }
        }
        break;
    default: WIDEN(TL_WEIGHTS_F32); break;
    }
#undef WIDEN
}

// acc[0 ..< 8K] = acc · factor + Σ_j w[j] · rows[j] over a block of 8K columns (rows of dh),
// the block's sums in K registers for the whole tile.
TL_TARGET_AVX2 static inline __attribute__((always_inline)) void
weighted_rows_avx2(const size_t K, float *acc, float factor, const float *w, const float *rows, size_t n, size_t dh) {
    __m256 a[8];
    for (size_t k = 0; k < K; k++) a[k] = _mm256_mul_ps(_mm256_load_ps(acc + 8 * k), _mm256_set1_ps(factor));
    for (size_t j = 0; j < n; j++) {
        const __m256 wj = _mm256_broadcast_ss(w + j);
        for (size_t k = 0; k < K; k++) a[k] = _mm256_fmadd_ps(wj, _mm256_load_ps(rows + j * dh + 8 * k), a[k]);
    }
    for (size_t k = 0; k < K; k++) _mm256_store_ps(acc + 8 * k, a[k]);
}

// Decoding: up to eight queries that see the same positions lo ..< hi (the query heads that
// share a key/value head; two to four of them, too few to fill a block kernel's lanes). Each
// tile of keys and values is widened once into f32 rows; then, per query, eight keys' scores
// come out of eight independent sums in one register (the exponentials eight wide), and
// each query's weighted values are summed over the tile in eight registers.
TL_TARGET_AVX2 static void attend_group_avx2(const float *q, size_t qstride, size_t nq, const void *keys, const void *values,
                                             tl_weight_type type, size_t stride, size_t lo, size_t hi, size_t dh, float scale, float cap,
                                             float *out, size_t ostride, float *stats) {
    float rows[GROUP_TILE * 256] __attribute__((aligned(32)));
    float acc[8][256] __attribute__((aligned(32)));
    float w[8][GROUP_TILE] __attribute__((aligned(32)));
    float running_max[8], running_sum[8], factor[8];
    for (size_t i = 0; i < nq; i++) {
        running_max[i] = -INFINITY;
        running_sum[i] = 0;
        for (size_t c = 0; c < dh; c++) acc[i][c] = 0;
    }
    const __m256 vscale = _mm256_set1_ps(scale), minus_inf = _mm256_set1_ps(-INFINITY);
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (size_t t0 = lo; t0 < hi; t0 += GROUP_TILE) {
        const size_t n = hi - t0 < GROUP_TILE ? hi - t0 : GROUP_TILE;
        widen_rows_avx2(keys, type, stride, t0, n, hi, dh, rows);
        for (size_t j = n; j < (n + 7) / 8 * 8; j++)
            for (size_t c = 0; c < dh; c++) rows[j * dh + c] = 0;
        for (size_t i = 0; i < nq; i++) {
            const float *qi = q + i * qstride;
            __m256 tile_max = minus_inf;
            for (size_t j = 0; j < n; j += 8) {
                __m256 a[8];
                const __m256 q0 = _mm256_loadu_ps(qi);
                for (size_t r = 0; r < 8; r++) a[r] = _mm256_mul_ps(q0, _mm256_load_ps(rows + (j + r) * dh));
                for (size_t c = 8; c < dh; c += 8) {
                    const __m256 qc = _mm256_loadu_ps(qi + c);
                    for (size_t r = 0; r < 8; r++) a[r] = _mm256_fmadd_ps(qc, _mm256_load_ps(rows + (j + r) * dh + c), a[r]);
                }
                __m256 s = _mm256_mul_ps(sum_each_avx2(a), vscale);
                if (cap > 0) {
                    float capped[8];
                    _mm256_storeu_ps(capped, s);
                    for (int r = 0; r < 8; r++) capped[r] = cap * tanhf(capped[r] / cap);
                    s = _mm256_loadu_ps(capped);
                }
                const __m256 valid = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - j)), lanes));
                s = _mm256_blendv_ps(minus_inf, s, valid);
                _mm256_store_ps(w[i] + j, s);
                tile_max = _mm256_max_ps(tile_max, s);
            }
            float m[8];
            _mm256_storeu_ps(m, tile_max);
            float top = running_max[i];
            for (int r = 0; r < 8; r++) top = m[r] > top ? m[r] : top;
            factor[i] = expf(running_max[i] - top);  // 0 on the first tile (running_max −∞)
            const __m256 vtop = _mm256_set1_ps(top);
            __m256 sum = _mm256_setzero_ps();
            for (size_t j = 0; j < n; j += 8) {
                const __m256 valid = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - j)), lanes));
                const __m256 e = _mm256_and_ps(exp_nonpositive_avx2(_mm256_sub_ps(_mm256_load_ps(w[i] + j), vtop)), valid);
                _mm256_store_ps(w[i] + j, e);
                sum = _mm256_add_ps(sum, e);
            }
            running_sum[i] = running_sum[i] * factor[i] + hsum256(sum);
            running_max[i] = top;
        }
        widen_rows_avx2(values, type, stride, t0, n, hi, dh, rows);
        for (size_t i = 0; i < nq; i++) {
            size_t c = 0;
            for (; c + 64 <= dh; c += 64) weighted_rows_avx2(8, acc[i] + c, factor[i], w[i], rows + c, n, dh);
            for (; c + 32 <= dh; c += 32) weighted_rows_avx2(4, acc[i] + c, factor[i], w[i], rows + c, n, dh);
            for (; c < dh; c += 8) weighted_rows_avx2(1, acc[i] + c, factor[i], w[i], rows + c, n, dh);
        }
    }
    for (size_t i = 0; i < nq; i++) {
        put_stats(stats ? stats + 2 * i : NULL, running_max[i], running_sum[i]);
        const __m256 inverse = _mm256_set1_ps(running_sum[i] > 0 ? 1.0f / running_sum[i] : 0.0f);
        for (size_t c = 0; c < dh; c += 8) _mm256_storeu_ps(out + i * ostride + c, _mm256_mul_ps(_mm256_load_ps(acc[i] + c), inverse));
    }
}

// A tile's scores as a matrix product, the queries in lanes: p[j][i] = Σ_c qt[c][i] · rows[j][c]
// for four keys at a time, each key's value broadcast against NV registers of queries, so
// no sum runs across lanes. (n a multiple of 4; rows past the tile's keys are zeros.)
TL_TARGET_AVX2 static inline __attribute__((always_inline)) void
block_scores_avx2(const size_t NV, const float *qt, const float *rows, size_t n, size_t dh, float *p) {
    for (size_t j = 0; j < n; j += 4) {
        __m256 a[2][4];
        for (size_t v = 0; v < NV; v++)
            for (size_t r = 0; r < 4; r++) a[v][r] = _mm256_setzero_ps();
        for (size_t c = 0; c < dh; c++) {
            __m256 qv[2];
            for (size_t v = 0; v < NV; v++) qv[v] = _mm256_load_ps(qt + c * BLOCK_QUERIES + 8 * v);
            for (size_t r = 0; r < 4; r++) {
                const __m256 k = _mm256_broadcast_ss(rows + (j + r) * dh + c);
                for (size_t v = 0; v < NV; v++) a[v][r] = _mm256_fmadd_ps(qv[v], k, a[v][r]);
            }
        }
        for (size_t r = 0; r < 4; r++)
            for (size_t v = 0; v < NV; v++) _mm256_store_ps(p + (j + r) * BLOCK_QUERIES + 8 * v, a[v][r]);
    }
}

// acc[i][c0 ..< c0 + 8K] = acc · factor[i] + Σ_j p[j][i] · rows[j][c0 …] for four queries
// i0 … i0 + 3, their sums in 4K registers over the whole tile.
TL_TARGET_AVX2 static inline __attribute__((always_inline)) void
block_values_avx2(const size_t K, float *acc, size_t i0, size_t c0, const float *factor, const float *p, const float *rows, size_t n,
                  size_t dh) {
    __m256 a[4][2];
    for (size_t i = 0; i < 4; i++)
        for (size_t k = 0; k < K; k++) a[i][k] = _mm256_mul_ps(_mm256_load_ps(acc + (i0 + i) * dh + c0 + 8 * k), _mm256_set1_ps(factor[i0 + i]));
    for (size_t j = 0; j < n; j++) {
        __m256 v[2];
        for (size_t k = 0; k < K; k++) v[k] = _mm256_load_ps(rows + j * dh + c0 + 8 * k);
        for (size_t i = 0; i < 4; i++) {
            const __m256 w = _mm256_broadcast_ss(p + j * BLOCK_QUERIES + i0 + i);
            for (size_t k = 0; k < K; k++) a[i][k] = _mm256_fmadd_ps(w, v[k], a[i][k]);
        }
    }
    for (size_t i = 0; i < 4; i++)
        for (size_t k = 0; k < K; k++) _mm256_store_ps(acc + (i0 + i) * dh + c0 + 8 * k, a[i][k]);
}

// A prompt's queries, up to 16 of one head, each over its own positions, as two matrix
// products per tile of keys (flash attention's plan): the queries transposed once, a lane
// per query; each tile's keys widened to f32 rows and multiplied against them
// (block_scores_avx2); the online softmax a lane per query; then the tile's values widened
// into the same rows and weighted four queries by sixteen columns at a time. The inner
// loops hold only products and their loads: no sum runs across lanes.
TL_TARGET_AVX2 static void attend_block_avx2(const float *q, size_t qstride, size_t nq, const void *keys, const void *values,
                                             tl_weight_type type, size_t stride, const size_t *start, const size_t *end, size_t dh,
                                             float scale, float cap, float *out, size_t ostride, float *stats) {
    float qt[256 * BLOCK_QUERIES] __attribute__((aligned(32)));
    float rows[BLOCK_KEYS * 256] __attribute__((aligned(32)));
    float p[BLOCK_KEYS * BLOCK_QUERIES] __attribute__((aligned(32)));
    float acc[BLOCK_QUERIES * 256] __attribute__((aligned(32)));
    float factor[BLOCK_QUERIES] __attribute__((aligned(32)));
    int32_t first[BLOCK_QUERIES], last[BLOCK_QUERIES];
    size_t lo;
    const size_t hi = block_setup(BLOCK_QUERIES, q, qstride, nq, start, end, dh, qt, first, last, &lo);
    const size_t NV = nq > 8 ? 2 : 1, used = (nq + 3) / 4 * 4;
    for (size_t i = 0; i < used * dh; i++) acc[i] = 0;
    // Scores are scaled after the products, as the decoding kernels scale them (the capped
    // ones before their cap): a query's scores then round alike whichever kernel runs it.
    const __m256 minus_inf = _mm256_set1_ps(-INFINITY), vscale = _mm256_set1_ps(cap > 0 ? 1.0f : scale);
    __m256 running_max[2] = {minus_inf, minus_inf}, running_sum[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    __m256i vfirst[2], vlast[2];
    for (size_t v = 0; v < 2; v++) {
        vfirst[v] = _mm256_loadu_si256((const __m256i *)(const void *)(first + 8 * v));
        vlast[v] = _mm256_loadu_si256((const __m256i *)(const void *)(last + 8 * v));
    }
    for (size_t t0 = lo; t0 < hi; t0 += BLOCK_KEYS) {
        const size_t n = hi - t0 < BLOCK_KEYS ? hi - t0 : BLOCK_KEYS, padded = (n + 3) / 4 * 4;
        widen_rows_avx2(keys, type, stride, t0, n, hi, dh, rows);
        for (size_t c = n * dh; c < padded * dh; c++) rows[c] = 0;
        if (NV == 2) block_scores_avx2(2, qt, rows, padded, dh, p);
        else block_scores_avx2(1, qt, rows, padded, dh, p);
        if (cap > 0) block_cap(p, BLOCK_QUERIES, n, nq, scale, cap);
        for (size_t v = 0; v < NV; v++) {
            __m256 tile_max = minus_inf;
            for (size_t j = 0; j < n; j++) {
                const __m256i position = _mm256_set1_epi32((int32_t)(t0 + j));
                const __m256 valid = _mm256_castsi256_ps(_mm256_andnot_si256(_mm256_cmpgt_epi32(vfirst[v], position), _mm256_cmpgt_epi32(vlast[v], position)));
                const __m256 s = _mm256_blendv_ps(minus_inf, _mm256_mul_ps(_mm256_load_ps(p + j * BLOCK_QUERIES + 8 * v), vscale), valid);
                _mm256_store_ps(p + j * BLOCK_QUERIES + 8 * v, s);
                tile_max = _mm256_max_ps(tile_max, s);
            }
            const __m256 new_max = _mm256_max_ps(running_max[v], tile_max);
            // A lane that has seen no key yet keeps a maximum of 0, so that nothing is −∞ − −∞.
            const __m256 safe_max = _mm256_blendv_ps(new_max, _mm256_setzero_ps(), _mm256_cmp_ps(new_max, minus_inf, _CMP_EQ_OQ));
            const __m256 rescale = exp_nonpositive_avx2(_mm256_sub_ps(running_max[v], safe_max));
            __m256 sum = _mm256_mul_ps(running_sum[v], rescale);
            for (size_t j = 0; j < n; j++) {
                const __m256 s = _mm256_load_ps(p + j * BLOCK_QUERIES + 8 * v);
                const __m256 e = _mm256_and_ps(exp_nonpositive_avx2(_mm256_sub_ps(s, safe_max)), _mm256_cmp_ps(s, minus_inf, _CMP_NEQ_OQ));
                _mm256_store_ps(p + j * BLOCK_QUERIES + 8 * v, e);
                sum = _mm256_add_ps(sum, e);
            }
            _mm256_store_ps(factor + 8 * v, rescale);
            running_sum[v] = sum;
            running_max[v] = new_max;
        }
        widen_rows_avx2(values, type, stride, t0, n, hi, dh, rows);
        for (size_t i0 = 0; i0 < used; i0 += 4) {
            size_t c = 0;
            for (; c + 16 <= dh; c += 16) block_values_avx2(2, acc, i0, c, factor, p, rows, n, dh);
            if (c < dh) block_values_avx2(1, acc, i0, c, factor, p, rows, n, dh);
        }
    }
    float sums[BLOCK_QUERIES], maxima[BLOCK_QUERIES];
    for (size_t v = 0; v < 2; v++) {
        _mm256_storeu_ps(sums + 8 * v, running_sum[v]);
        _mm256_storeu_ps(maxima + 8 * v, running_max[v]);
    }
    block_finish(acc, sums, maxima, nq, dh, out, ostride, stats);
}

// block_scores_avx2 sixteen lanes wide, eight keys at a time.
TL_TARGET_AVX512 static inline __attribute__((always_inline)) void
block_scores_avx512(const size_t NV, const float *qt, const float *rows, size_t n, size_t dh, float *p) {
    for (size_t j = 0; j < n; j += 8) {
        __m512 a[2][8];
        for (size_t v = 0; v < NV; v++)
            for (size_t r = 0; r < 8; r++) a[v][r] = _mm512_setzero_ps();
        for (size_t c = 0; c < dh; c++) {
            __m512 qv[2];
            for (size_t v = 0; v < NV; v++) qv[v] = _mm512_load_ps(qt + c * BLOCK_QUERIES_AVX512 + 16 * v);
            for (size_t r = 0; r < 8; r++) {
                const __m512 k = _mm512_set1_ps(rows[(j + r) * dh + c]);
                for (size_t v = 0; v < NV; v++) a[v][r] = _mm512_fmadd_ps(qv[v], k, a[v][r]);
            }
        }
        for (size_t r = 0; r < 8; r++)
            for (size_t v = 0; v < NV; v++) _mm512_store_ps(p + (j + r) * BLOCK_QUERIES_AVX512 + 16 * v, a[v][r]);
    }
}

// block_values_avx2 sixteen columns a register, up to 64 at a time.
TL_TARGET_AVX512 static inline __attribute__((always_inline)) void
block_values_avx512(const size_t K, float *acc, size_t i0, size_t c0, const float *factor, const float *p, const float *rows, size_t n,
                    size_t dh) {
    __m512 a[4][4];
    for (size_t i = 0; i < 4; i++)
        for (size_t k = 0; k < K; k++) a[i][k] = _mm512_mul_ps(_mm512_load_ps(acc + (i0 + i) * dh + c0 + 16 * k), _mm512_set1_ps(factor[i0 + i]));
    for (size_t j = 0; j < n; j++) {
        __m512 v[4];
        for (size_t k = 0; k < K; k++) v[k] = _mm512_load_ps(rows + j * dh + c0 + 16 * k);
        for (size_t i = 0; i < 4; i++) {
            const __m512 w = _mm512_set1_ps(p[j * BLOCK_QUERIES_AVX512 + i0 + i]);
            for (size_t k = 0; k < K; k++) a[i][k] = _mm512_fmadd_ps(w, v[k], a[i][k]);
        }
    }
    for (size_t i = 0; i < 4; i++)
        for (size_t k = 0; k < K; k++) _mm512_store_ps(acc + (i0 + i) * dh + c0 + 16 * k, a[i][k]);
}

// attend_block_avx2 with 32 queries in two registers of sixteen lanes (dh a multiple of 16).
TL_TARGET_AVX512 static void attend_block_avx512(const float *q, size_t qstride, size_t nq, const void *keys, const void *values,
                                                 tl_weight_type type, size_t stride, const size_t *start, const size_t *end, size_t dh,
                                                 float scale, float cap, float *out, size_t ostride, float *stats) {
    float qt[256 * BLOCK_QUERIES_AVX512] __attribute__((aligned(64)));
    float rows[BLOCK_KEYS * 256] __attribute__((aligned(64)));
    float p[BLOCK_KEYS * BLOCK_QUERIES_AVX512] __attribute__((aligned(64)));
    float acc[BLOCK_QUERIES_AVX512 * 256] __attribute__((aligned(64)));
    float factor[BLOCK_QUERIES_AVX512] __attribute__((aligned(64)));
    int32_t first[BLOCK_QUERIES_AVX512], last[BLOCK_QUERIES_AVX512];
    size_t lo;
    const size_t hi = block_setup(BLOCK_QUERIES_AVX512, q, qstride, nq, start, end, dh, qt, first, last, &lo);
    const size_t NV = nq > 16 ? 2 : 1, used = (nq + 3) / 4 * 4;
    for (size_t i = 0; i < used * dh; i++) acc[i] = 0;
    const __m512 minus_inf = _mm512_set1_ps(-INFINITY), vscale = _mm512_set1_ps(cap > 0 ? 1.0f : scale);
    __m512 running_max[2] = {minus_inf, minus_inf}, running_sum[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
    __m512i vfirst[2], vlast[2];
    for (size_t v = 0; v < 2; v++) {
        vfirst[v] = _mm512_loadu_si512((const void *)(first + 16 * v));
        vlast[v] = _mm512_loadu_si512((const void *)(last + 16 * v));
    }
    for (size_t t0 = lo; t0 < hi; t0 += BLOCK_KEYS) {
        const size_t n = hi - t0 < BLOCK_KEYS ? hi - t0 : BLOCK_KEYS, padded = (n + 7) / 8 * 8;
        widen_rows_avx2(keys, type, stride, t0, n, hi, dh, rows);
        for (size_t c = n * dh; c < padded * dh; c++) rows[c] = 0;
        if (NV == 2) block_scores_avx512(2, qt, rows, padded, dh, p);
        else block_scores_avx512(1, qt, rows, padded, dh, p);
        if (cap > 0) block_cap(p, BLOCK_QUERIES_AVX512, n, nq, scale, cap);
        for (size_t v = 0; v < NV; v++) {
            __m512 tile_max = minus_inf;
            for (size_t j = 0; j < n; j++) {
                const __m512i position = _mm512_set1_epi32((int32_t)(t0 + j));
                const __mmask16 valid = _mm512_cmple_epi32_mask(vfirst[v], position) & _mm512_cmpgt_epi32_mask(vlast[v], position);
                const __m512 s = _mm512_mask_blend_ps(valid, minus_inf, _mm512_mul_ps(_mm512_load_ps(p + j * BLOCK_QUERIES_AVX512 + 16 * v), vscale));
                _mm512_store_ps(p + j * BLOCK_QUERIES_AVX512 + 16 * v, s);
                tile_max = _mm512_max_ps(tile_max, s);
            }
            const __m512 new_max = _mm512_max_ps(running_max[v], tile_max);
            const __m512 safe_max = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(new_max, minus_inf, _CMP_EQ_OQ), new_max, _mm512_setzero_ps());
            const __m512 rescale = exp_nonpositive_avx512(_mm512_sub_ps(running_max[v], safe_max));
            __m512 sum = _mm512_mul_ps(running_sum[v], rescale);
            for (size_t j = 0; j < n; j++) {
                const __m512 s = _mm512_load_ps(p + j * BLOCK_QUERIES_AVX512 + 16 * v);
                const __m512 e = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(s, minus_inf, _CMP_NEQ_OQ), exp_nonpositive_avx512(_mm512_sub_ps(s, safe_max)));
                _mm512_store_ps(p + j * BLOCK_QUERIES_AVX512 + 16 * v, e);
                sum = _mm512_add_ps(sum, e);
            }
            _mm512_store_ps(factor + 16 * v, rescale);
            running_sum[v] = sum;
            running_max[v] = new_max;
        }
        widen_rows_avx2(values, type, stride, t0, n, hi, dh, rows);
        for (size_t i0 = 0; i0 < used; i0 += 4) {
            size_t c = 0;
            for (; c + 64 <= dh; c += 64) block_values_avx512(4, acc, i0, c, factor, p, rows, n, dh);
            switch ((dh - c) / 16) {
            case 3: block_values_avx512(3, acc, i0, c, factor, p, rows, n, dh); break;
            case 2: block_values_avx512(2, acc, i0, c, factor, p, rows, n, dh); break;
            case 1: block_values_avx512(1, acc, i0, c, factor, p, rows, n, dh); break;
            default: break;
            }
        }
    }
    float sums[BLOCK_QUERIES_AVX512], maxima[BLOCK_QUERIES_AVX512];
    for (size_t v = 0; v < 2; v++) {
        _mm512_storeu_ps(sums + 16 * v, running_sum[v]);
        _mm512_storeu_ps(maxima + 16 * v, running_max[v]);
    }
    block_finish(acc, sums, maxima, nq, dh, out, ostride, stats);
}
#endif

#if TL_ARM64
// attend_avx2's plan four lanes wide: the scores first, the exponentials four at a time,
// then Σ e_p·v_p divided by Σ e_p once.
static void attend_neon(const float *q, const void *keys, const void *values, tl_weight_type type, size_t stride, size_t count,
                        size_t dh, float scale, float cap, float *scores, float *out) {
    float top = -INFINITY;
    for (size_t p = 0; p < count; p++) {
        const size_t k = p * stride;
        float32x4_t a0 = vmulq_f32(vld1q_f32(q), tl_weights4(keys, type, k)), a1 = vdupq_n_f32(0);
        size_t i = 4;
        for (; i + 8 <= dh; i += 8) {
            a0 = vfmaq_f32(a0, vld1q_f32(q + i), tl_weights4(keys, type, k + i));
            a1 = vfmaq_f32(a1, vld1q_f32(q + i + 4), tl_weights4(keys, type, k + i + 4));
        }
        if (i < dh) a0 = vfmaq_f32(a0, vld1q_f32(q + i), tl_weights4(keys, type, k + i));
        scores[p] = vaddvq_f32(vaddq_f32(a0, a1)) * scale;
        top = scores[p] > top ? scores[p] : top;
    }
    if (cap > 0) top = soft_cap(scores, count, cap);
    const float32x4_t vtop = vdupq_n_f32(top);
    float32x4_t sum4 = vdupq_n_f32(0);
    size_t p = 0;
    for (; p + 4 <= count; p += 4) {
        const float32x4_t e = exp_nonpositive_neon(vsubq_f32(vld1q_f32(scores + p), vtop));
        vst1q_f32(scores + p, e);
        sum4 = vaddq_f32(sum4, e);
    }
    float sum = vaddvq_f32(sum4);
    for (; p < count; p++) {
        scores[p] = expf(scores[p] - top);
        sum += scores[p];
    }
    const float inverse = 1.0f / sum;
    for (size_t i = 0; i < dh; i += 4) {
        float32x4_t a0 = vdupq_n_f32(0), a1 = vdupq_n_f32(0);
        size_t r = 0;
        for (; r + 2 <= count; r += 2) {
            a0 = vfmaq_n_f32(a0, tl_weights4(values, type, r * stride + i), scores[r]);
            a1 = vfmaq_n_f32(a1, tl_weights4(values, type, (r + 1) * stride + i), scores[r + 1]);
        }
        if (r < count) a0 = vfmaq_n_f32(a0, tl_weights4(values, type, r * stride + i), scores[r]);
        vst1q_f32(out + i, vmulq_n_f32(vaddq_f32(a0, a1), inverse));
    }
}

// widen_rows_avx2 four values at a time.
static inline void widen_rows_neon(const void *src, tl_weight_type type, size_t stride, size_t first, size_t n, size_t hi, size_t dh,
                                   float *dst) {
#define WIDEN(T) \
    for (size_t j = 0; j < n; j++) { \
        prefetch_next_tile(src, type, stride, first + j, hi, dh); \
        for (size_t c = 0; c < dh; c += 4) vst1q_f32(dst + j * dh + c, tl_weights4(src, T, (first + j) * stride + c)); \
    }
    switch (type) {
    case TL_WEIGHTS_F16: WIDEN(TL_WEIGHTS_F16); break;
    case TL_WEIGHTS_BF16: WIDEN(TL_WEIGHTS_BF16); break;
    case TL_WEIGHTS_Q8_0:
        // A block's scale widened once for its 32 values.
        for (size_t j = 0; j < n; j++) {
            prefetch_next_tile(src, type, stride, first + j, hi, dh);
            const uint8_t *block = (const uint8_t *)src + tl_stored_bytes(TL_WEIGHTS_Q8_0, (first + j) * stride);
            for (size_t c = 0; c < dh; c += 32, block += 34) {
                uint16_t bits;
                memcpy(&bits, block, 2);
                const float scale = vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(bits))), 0);
                for (size_t k = 0; k < 32; k += 8) {
                    const int16x8_t v = vmovl_s8(vld1_s8((const int8_t *)block + 2 + k));
                    vst1q_f32(dst + j * dh + c + k, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(v))), scale));
                    vst1q_f32(dst + j * dh + c + k + 4, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_high_s16(v))), scale));
                }
            }
        }
        break;
    default: WIDEN(TL_WEIGHTS_F32); break;
    }
#undef WIDEN
}

// weighted_rows_avx2 over a block of 4K columns.
static inline __attribute__((always_inline)) void weighted_rows_neon(const size_t K, float *acc, float factor, const float *w,
                                                                     const float *rows, size_t n, size_t dh) {
    float32x4_t a[16];
    for (size_t k = 0; k < K; k++) a[k] = vmulq_n_f32(vld1q_f32(acc + 4 * k), factor);
    for (size_t j = 0; j < n; j++)
        for (size_t k = 0; k < K; k++) a[k] = vfmaq_n_f32(a[k], vld1q_f32(rows + j * dh + 4 * k), w[j]);
    for (size_t k = 0; k < K; k++) vst1q_f32(acc + 4 * k, a[k]);
}

// attend_group_avx2's plan four lanes wide: per query, eight keys' scores from eight
// independent sums, paired down into two registers.
static void attend_group_neon(const float *q, size_t qstride, size_t nq, const void *keys, const void *values, tl_weight_type type,
                              size_t stride, size_t lo, size_t hi, size_t dh, float scale, float cap, float *out, size_t ostride,
                              float *stats) {
    float rows[GROUP_TILE * 256] __attribute__((aligned(16)));
    float acc[8][256] __attribute__((aligned(16)));
    float w[8][GROUP_TILE] __attribute__((aligned(16)));
    float running_max[8], running_sum[8], factor[8];
    for (size_t i = 0; i < nq; i++) {
        running_max[i] = -INFINITY;
        running_sum[i] = 0;
        for (size_t c = 0; c < dh; c++) acc[i][c] = 0;
    }
    for (size_t t0 = lo; t0 < hi; t0 += GROUP_TILE) {
        const size_t n = hi - t0 < GROUP_TILE ? hi - t0 : GROUP_TILE;
        widen_rows_neon(keys, type, stride, t0, n, hi, dh, rows);
        for (size_t j = n; j < (n + 7) / 8 * 8; j++)
            for (size_t c = 0; c < dh; c++) rows[j * dh + c] = 0;
        for (size_t i = 0; i < nq; i++) {
            const float *qi = q + i * qstride;
            float top = running_max[i];
            for (size_t j = 0; j < n; j += 8) {
                float32x4_t a[8];
                const float32x4_t q0 = vld1q_f32(qi);
                for (size_t r = 0; r < 8; r++) a[r] = vmulq_f32(q0, vld1q_f32(rows + (j + r) * dh));
                for (size_t c = 4; c < dh; c += 4) {
                    const float32x4_t qc = vld1q_f32(qi + c);
                    for (size_t r = 0; r < 8; r++) a[r] = vfmaq_f32(a[r], qc, vld1q_f32(rows + (j + r) * dh + c));
                }
                const float32x4_t s0 = vpaddq_f32(vpaddq_f32(a[0], a[1]), vpaddq_f32(a[2], a[3]));
                const float32x4_t s1 = vpaddq_f32(vpaddq_f32(a[4], a[5]), vpaddq_f32(a[6], a[7]));
                vst1q_f32(w[i] + j, vmulq_n_f32(s0, scale));
                vst1q_f32(w[i] + j + 4, vmulq_n_f32(s1, scale));
                for (size_t r = 0; r < 8; r++) {
                    float score = w[i][j + r];
                    if (cap > 0) score = cap * tanhf(score / cap);
                    w[i][j + r] = j + r < n ? score : -INFINITY;
                    top = w[i][j + r] > top ? w[i][j + r] : top;
                }
            }
            factor[i] = expf(running_max[i] - top);  // 0 on the first tile (running_max −∞)
            const float32x4_t vtop = vdupq_n_f32(top);
            float32x4_t sum = vdupq_n_f32(0);
            for (size_t j = 0; j < n; j += 4) {
                const uint32x4_t valid = vcltq_u32(vaddq_u32(vdupq_n_u32((uint32_t)j), (uint32x4_t){0, 1, 2, 3}), vdupq_n_u32((uint32_t)n));
                const float32x4_t e = vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(exp_nonpositive_neon(vsubq_f32(vld1q_f32(w[i] + j), vtop))), valid));
                vst1q_f32(w[i] + j, e);
                sum = vaddq_f32(sum, e);
            }
            running_sum[i] = running_sum[i] * factor[i] + vaddvq_f32(sum);
            running_max[i] = top;
        }
        widen_rows_neon(values, type, stride, t0, n, hi, dh, rows);
        for (size_t i = 0; i < nq; i++) {
            size_t c = 0;
            for (; c + 64 <= dh; c += 64) weighted_rows_neon(16, acc[i] + c, factor[i], w[i], rows + c, n, dh);
            for (; c + 32 <= dh; c += 32) weighted_rows_neon(8, acc[i] + c, factor[i], w[i], rows + c, n, dh);
            for (; c < dh; c += 4) weighted_rows_neon(1, acc[i] + c, factor[i], w[i], rows + c, n, dh);
        }
    }
    for (size_t i = 0; i < nq; i++) {
        put_stats(stats ? stats + 2 * i : NULL, running_max[i], running_sum[i]);
        const float inverse = running_sum[i] > 0 ? 1.0f / running_sum[i] : 0.0f;
        for (size_t c = 0; c < dh; c += 4) vst1q_f32(out + i * ostride + c, vmulq_n_f32(vld1q_f32(acc[i] + c), inverse));
    }
}

// block_scores_avx2 four lanes wide: four keys at a time against NV registers of four
// queries, each key's four values of a step loaded once and multiplied by lane.
static inline __attribute__((always_inline)) void block_scores_neon(const size_t NV, const float *qt, const float *rows, size_t n, size_t dh,
                                                                    float *p) {
    for (size_t j = 0; j < n; j += 4) {
        float32x4_t a[4][4];
        for (size_t v = 0; v < NV; v++)
            for (size_t r = 0; r < 4; r++) a[v][r] = vdupq_n_f32(0);
        for (size_t c = 0; c < dh; c += 4) {
            float32x4_t k[4];
            for (size_t r = 0; r < 4; r++) k[r] = vld1q_f32(rows + (j + r) * dh + c);
#define STEP(L) \
            for (size_t v = 0; v < NV; v++) { \
                const float32x4_t qv = vld1q_f32(qt + (c + L) * BLOCK_QUERIES + 4 * v); \
                for (size_t r = 0; r < 4; r++) a[v][r] = vfmaq_laneq_f32(a[v][r], qv, k[r], L); \
            }
            STEP(0) STEP(1) STEP(2) STEP(3)
#undef STEP
        }
        for (size_t r = 0; r < 4; r++)
            for (size_t v = 0; v < NV; v++) vst1q_f32(p + (j + r) * BLOCK_QUERIES + 4 * v, a[v][r]);
    }
}

// block_values_avx2 four lanes wide: four queries' weights of a key in one register, by lane.
static inline __attribute__((always_inline)) void block_values_neon(const size_t K, float *acc, size_t i0, size_t c0, const float *factor,
                                                                    const float *p, const float *rows, size_t n, size_t dh) {
    float32x4_t a[4][4];
    for (size_t i = 0; i < 4; i++)
        for (size_t k = 0; k < K; k++) a[i][k] = vmulq_n_f32(vld1q_f32(acc + (i0 + i) * dh + c0 + 4 * k), factor[i0 + i]);
    for (size_t j = 0; j < n; j++) {
        const float32x4_t w = vld1q_f32(p + j * BLOCK_QUERIES + i0);
        for (size_t k = 0; k < K; k++) {
            const float32x4_t v = vld1q_f32(rows + j * dh + c0 + 4 * k);
            a[0][k] = vfmaq_laneq_f32(a[0][k], v, w, 0);
            a[1][k] = vfmaq_laneq_f32(a[1][k], v, w, 1);
            a[2][k] = vfmaq_laneq_f32(a[2][k], v, w, 2);
            a[3][k] = vfmaq_laneq_f32(a[3][k], v, w, 3);
        }
    }
    for (size_t i = 0; i < 4; i++)
        for (size_t k = 0; k < K; k++) vst1q_f32(acc + (i0 + i) * dh + c0 + 4 * k, a[i][k]);
}

// attend_block_avx2 with 16 queries in four registers of four lanes.
static void attend_block_neon(const float *q, size_t qstride, size_t nq, const void *keys, const void *values, tl_weight_type type,
                              size_t stride, const size_t *start, const size_t *end, size_t dh, float scale, float cap, float *out,
                              size_t ostride, float *stats) {
    float qt[256 * BLOCK_QUERIES] __attribute__((aligned(16)));
    float rows[BLOCK_KEYS * 256] __attribute__((aligned(16)));
    float p[BLOCK_KEYS * BLOCK_QUERIES] __attribute__((aligned(16)));
    float acc[BLOCK_QUERIES * 256] __attribute__((aligned(16)));
    float factor[BLOCK_QUERIES] __attribute__((aligned(16)));
    int32_t first[BLOCK_QUERIES], last[BLOCK_QUERIES];
    size_t lo;
    const size_t hi = block_setup(BLOCK_QUERIES, q, qstride, nq, start, end, dh, qt, first, last, &lo);
    const size_t NV = (nq + 3) / 4, used = NV * 4;
    for (size_t i = 0; i < used * dh; i++) acc[i] = 0;
    const float32x4_t minus_inf = vdupq_n_f32(-INFINITY), zero = vdupq_n_f32(0), vscale = vdupq_n_f32(cap > 0 ? 1.0f : scale);
    float32x4_t running_max[4], running_sum[4];
    int32x4_t vfirst[4], vlast[4];
    for (size_t v = 0; v < 4; v++) {
        running_max[v] = minus_inf;
        running_sum[v] = zero;
        vfirst[v] = vld1q_s32(first + 4 * v);
        vlast[v] = vld1q_s32(last + 4 * v);
    }
    for (size_t t0 = lo; t0 < hi; t0 += BLOCK_KEYS) {
        const size_t n = hi - t0 < BLOCK_KEYS ? hi - t0 : BLOCK_KEYS, padded = (n + 3) / 4 * 4;
        widen_rows_neon(keys, type, stride, t0, n, hi, dh, rows);
        for (size_t c = n * dh; c < padded * dh; c++) rows[c] = 0;
        switch (NV) {
        case 1: block_scores_neon(1, qt, rows, padded, dh, p); break;
        case 2: block_scores_neon(2, qt, rows, padded, dh, p); break;
        case 3: block_scores_neon(3, qt, rows, padded, dh, p); break;
        default: block_scores_neon(4, qt, rows, padded, dh, p); break;
        }
        if (cap > 0) block_cap(p, BLOCK_QUERIES, n, nq, scale, cap);
        for (size_t v = 0; v < NV; v++) {
            float32x4_t tile_max = minus_inf;
            for (size_t j = 0; j < n; j++) {
                const int32x4_t position = vdupq_n_s32((int32_t)(t0 + j));
                const uint32x4_t valid = vandq_u32(vcleq_s32(vfirst[v], position), vcgtq_s32(vlast[v], position));
                const float32x4_t s = vbslq_f32(valid, vmulq_f32(vld1q_f32(p + j * BLOCK_QUERIES + 4 * v), vscale), minus_inf);
                vst1q_f32(p + j * BLOCK_QUERIES + 4 * v, s);
                tile_max = vmaxq_f32(tile_max, s);
            }
            const float32x4_t new_max = vmaxq_f32(running_max[v], tile_max);
            // A lane that has seen no key yet keeps a maximum of 0, so that nothing is −∞ − −∞.
            const float32x4_t safe_max = vbslq_f32(vceqq_f32(new_max, minus_inf), zero, new_max);
            const float32x4_t rescale = exp_nonpositive_neon(vsubq_f32(running_max[v], safe_max));
            float32x4_t sum = vmulq_f32(running_sum[v], rescale);
            for (size_t j = 0; j < n; j++) {
                const float32x4_t s = vld1q_f32(p + j * BLOCK_QUERIES + 4 * v);
                const float32x4_t e = vbslq_f32(vceqq_f32(s, minus_inf), zero, exp_nonpositive_neon(vsubq_f32(s, safe_max)));
                vst1q_f32(p + j * BLOCK_QUERIES + 4 * v, e);
                sum = vaddq_f32(sum, e);
            }
            vst1q_f32(factor + 4 * v, rescale);
            running_sum[v] = sum;
            running_max[v] = new_max;
        }
        widen_rows_neon(values, type, stride, t0, n, hi, dh, rows);
        for (size_t i0 = 0; i0 < used; i0 += 4) {
            size_t c = 0;
            for (; c + 16 <= dh; c += 16) block_values_neon(4, acc, i0, c, factor, p, rows, n, dh);
            switch ((dh - c) / 4) {
            case 3: block_values_neon(3, acc, i0, c, factor, p, rows, n, dh); break;
            case 2: block_values_neon(2, acc, i0, c, factor, p, rows, n, dh); break;
            case 1: block_values_neon(1, acc, i0, c, factor, p, rows, n, dh); break;
            default: break;
            }
        }
    }
    float sums[BLOCK_QUERIES], maxima[BLOCK_QUERIES];
    for (size_t v = 0; v < 4; v++) {
        vst1q_f32(sums + 4 * v, running_sum[v]);
        vst1q_f32(maxima + 4 * v, running_max[v]);
    }
    block_finish(acc, sums, maxima, nq, dh, out, ostride, stats);
}
#endif

// Queries at once, any variant; stats (may be NULL) two floats a query.
static void attend_queries(const float *q, size_t qstride, size_t nq, const void *keys, const void *values, tl_weight_type type,
                           size_t stride, const size_t *start, const size_t *end, size_t dh, float scale, float cap, float *out,
                           size_t ostride, float *stats) {
#if TL_X86
    const int wide = TL_USES_AVX512() && dh >= 16 && dh % 16 == 0 && dh <= 256;
#else
    const int wide = 0;
#endif
    const size_t most = wide ? BLOCK_QUERIES_AVX512 : BLOCK_QUERIES;
    if (nq > most) {
        for (size_t i = 0; i < nq; i += most) {
            const size_t m = nq - i < most ? nq - i : most;
            attend_queries(q + i * qstride, qstride, m, keys, values, type, stride, start + i, end + i, dh, scale, cap, out + i * ostride,
                           ostride, stats ? stats + 2 * i : NULL);
        }
        return;
    }
    int shared = 1;  // every query sees the same positions (decoding)
    for (size_t i = 1; i < nq; i++) shared &= start[i] == start[0] && end[i] == end[0];
    const int decoding = shared && nq <= 8 && end[0] > start[0];
#if TL_X86
    if (TL_USES_AVX2() && dh >= 8 && dh % 8 == 0 && dh <= 256) {
        if (decoding) attend_group_avx2(q, qstride, nq, keys, values, type, stride, start[0], end[0], dh, scale, cap, out, ostride, stats);
        else if (wide) attend_block_avx512(q, qstride, nq, keys, values, type, stride, start, end, dh, scale, cap, out, ostride, stats);
        else attend_block_avx2(q, qstride, nq, keys, values, type, stride, start, end, dh, scale, cap, out, ostride, stats);
        return;
    }
#elif TL_ARM64
    if (TL_USES_NEON() && dh >= 4 && dh % 4 == 0 && dh <= 256) {
        if (decoding) attend_group_neon(q, qstride, nq, keys, values, type, stride, start[0], end[0], dh, scale, cap, out, ostride, stats);
        else attend_block_neon(q, qstride, nq, keys, values, type, stride, start, end, dh, scale, cap, out, ostride, stats);
        return;
    }
#endif
    for (size_t i = 0; i < nq; i++)
        attend_online(q + i * qstride, keys, values, type, stride, start[i], end[i], dh, scale, cap, out + i * ostride, stats ? stats + 2 * i : NULL);
}

void tl_attend_queries(const float *q, size_t qstride, size_t nq, const void *keys, const void *values, tl_weight_type type,
                       size_t stride, const size_t *start, const size_t *end, size_t dh, float scale, float cap, float *out,
                       size_t ostride) {
    attend_queries(q, qstride, nq, keys, values, type, stride, start, end, dh, scale, cap, out, ostride, NULL);
}

void tl_attend_queries_partial(const float *q, size_t qstride, size_t nq, const void *keys, const void *values, tl_weight_type type,
                               size_t stride, const size_t *start, const size_t *end, size_t dh, float scale, float cap, float *out,
                               size_t ostride, float *stats) {
    attend_queries(q, qstride, nq, keys, values, type, stride, start, end, dh, scale, cap, out, ostride, stats);
}

void tl_attend(const float *q, const void *keys, const void *values, tl_weight_type type, size_t stride, size_t count, size_t dh,
               float scale, float cap, float *scores, float *out) {
    if (count == 0) {
        for (size_t i = 0; i < dh; i++) out[i] = 0;
        return;
    }
#if TL_X86
    if (TL_USES_AVX2() && dh >= 8 && dh % 8 == 0) {
        attend_avx2(q, keys, values, type, stride, count, dh, scale, cap, scores, out);
        return;
    }
#elif TL_ARM64
    if (TL_USES_NEON() && dh >= 4 && dh % 4 == 0) {
        attend_neon(q, keys, values, type, stride, count, dh, scale, cap, scores, out);
        return;
    }
#endif
    attend_portable(q, keys, values, type, stride, count, dh, scale, cap, scores, out);
}
