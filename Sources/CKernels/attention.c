// Attention of one head: for one query (decoding), scores against every cached key,
// softmax, and the values weighted by it; for a prompt's queries, eight at a time over
// tiles of keys with an online softmax, each key widened once for the eight. AVX2 and
// NEON variants, each against the portable one in the kernel tests.
// Gemma 2 caps the scores softly first: cap · tanh(score / cap), when cap > 0. The cached
// keys and values are f32, f16 or Q8_0 (tl_weight_type), widened as they are read.
#include "internal.h"

// Keys per tile of the prompt kernels' online softmax.
#define KEY_TILE 64
// Keys per tile of the decoding kernels: the tile's keys (then values) widened to f32, 32 KB
// at dh = 256, stay in the L1 cache.
#define GROUP_TILE 32
// Queries per block of the AVX-512 prompt kernel (two registers of lanes), and its keys per tile.
#define BLOCK_QUERIES 32
#define BLOCK_KEYS 32

// The prompt kernels' arguments after the query count, by their names in every caller.
#define QUERY_ARGUMENTS q, qstride, keys, values, type, stride, start, end, dh, scale, cap, out, ostride, stats

// call(N) with N the query count, 2 … 8, as a constant: each kernel copy unrolls its loops.
#define FOR_QUERY_COUNT(nq, call) \
    switch (nq) { \
    case 2: call(2); break; \
    case 3: call(3); break; \
    case 4: call(4); break; \
    case 5: call(5); break; \
    case 6: call(6); break; \
    case 7: call(7); break; \
    default: call(8); break; \
    }

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
                            size_t dh, float scale, float cap, float *scores, float *out, float *stats) {
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
    put_stats(stats, top, sum);
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
                                       size_t count, size_t dh, float scale, float cap, float *scores, float *out, float *stats) {
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
    put_stats(stats, top, sum);

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

// Up to eight queries of one head at once (a prompt's consecutive tokens, or the query
// heads that share a key/value head), lane i for query i: each cached key and value is
// read and widened once for all of them, and the softmax runs online over tiles of keys
// (a running maximum and sum per query, the partial results rescaled when the maximum
// grows), so no score matrix is kept. NQ is a constant in each copy (see the switch
// below), so the per-query loops unroll and the sums stay in registers: the values are
// summed a chunk of eight at a time over the whole tile, not key by key through memory.
TL_TARGET_AVX2 static inline __attribute__((always_inline)) void
attend_queries_avx2_n(const size_t NQ, const float *q, size_t qstride, const void *keys, const void *values, tl_weight_type type,
                      size_t stride, const size_t *start, const size_t *end, size_t dh, float scale, float cap, float *out, size_t ostride,
                      float *stats) {
    float acc[8][256] __attribute__((aligned(32)));
    int32_t first[8], last[8];
    size_t lo = SIZE_MAX, hi = 0;
    for (size_t i = 0; i < 8; i++) {
        first[i] = i < NQ ? (int32_t)start[i] : 0;
        last[i] = i < NQ ? (int32_t)end[i] : 0;  // an unused lane sees no key
        if (i < NQ) {
            lo = start[i] < lo ? start[i] : lo;
            hi = end[i] > hi ? end[i] : hi;
            for (size_t c = 0; c < dh; c++) acc[i][c] = 0;
        }
    }
    const __m256i vfirst = _mm256_loadu_si256((const __m256i *)(const void *)first), vlast = _mm256_loadu_si256((const __m256i *)(const void *)last);
    const __m256 vscale = _mm256_set1_ps(scale), minus_inf = _mm256_set1_ps(-INFINITY);
    __m256 running_max = minus_inf, running_sum = _mm256_setzero_ps();
    for (size_t t0 = lo; t0 < hi; t0 += KEY_TILE) {
        const size_t n = hi - t0 < KEY_TILE ? hi - t0 : KEY_TILE;
        __m256 s[KEY_TILE], valid[KEY_TILE];
        __m256 tile_max = minus_inf;
        for (size_t j = 0; j < n; j++) {
            const size_t k = (t0 + j) * stride;
            __m256 a[8];
            const __m256 k0 = tl_weights8(keys, type, k);
            for (size_t i = 0; i < 8; i++) a[i] = i < NQ ? _mm256_mul_ps(_mm256_loadu_ps(q + i * qstride), k0) : _mm256_setzero_ps();
            for (size_t c = 8; c < dh; c += 8) {
                const __m256 kc = tl_weights8(keys, type, k + c);
                for (size_t i = 0; i < NQ; i++) a[i] = _mm256_fmadd_ps(_mm256_loadu_ps(q + i * qstride + c), kc, a[i]);
            }
            __m256 score = _mm256_mul_ps(sum_each_avx2(a), vscale);
            if (cap > 0) {
                float lanes[8];
                _mm256_storeu_ps(lanes, score);
                for (int i = 0; i < 8; i++) lanes[i] = cap * tanhf(lanes[i] / cap);
                score = _mm256_loadu_ps(lanes);
            }
            const __m256i position = _mm256_set1_epi32((int32_t)(t0 + j));
            valid[j] = _mm256_castsi256_ps(_mm256_andnot_si256(_mm256_cmpgt_epi32(vfirst, position), _mm256_cmpgt_epi32(vlast, position)));
            s[j] = _mm256_blendv_ps(minus_inf, score, valid[j]);
            tile_max = _mm256_max_ps(tile_max, s[j]);
        }
        const __m256 new_max = _mm256_max_ps(running_max, tile_max);
        // A lane that has seen no key yet keeps a maximum of 0, so that nothing is −∞ − −∞.
        const __m256 safe_max = _mm256_blendv_ps(new_max, _mm256_setzero_ps(), _mm256_cmp_ps(new_max, minus_inf, _CMP_EQ_OQ));
        const __m256 rescale = exp_nonpositive_avx2(_mm256_sub_ps(running_max, safe_max));
        running_sum = _mm256_mul_ps(running_sum, rescale);
        float factor[8], w[KEY_TILE][8] __attribute__((aligned(32)));
        _mm256_storeu_ps(factor, rescale);
        for (size_t j = 0; j < n; j++) {
            const __m256 e = _mm256_and_ps(exp_nonpositive_avx2(_mm256_sub_ps(s[j], safe_max)), valid[j]);
            running_sum = _mm256_add_ps(running_sum, e);
            _mm256_store_ps(w[j], e);
        }
        for (size_t c = 0; c < dh; c += 8) {
            __m256 a[8];
            for (size_t i = 0; i < NQ; i++) a[i] = _mm256_mul_ps(_mm256_load_ps(acc[i] + c), _mm256_set1_ps(factor[i]));
            for (size_t j = 0; j < n; j++) {
                const __m256 vc = tl_weights8(values, type, (t0 + j) * stride + c);
                for (size_t i = 0; i < NQ; i++) a[i] = _mm256_fmadd_ps(_mm256_broadcast_ss(&w[j][i]), vc, a[i]);
            }
            for (size_t i = 0; i < NQ; i++) _mm256_store_ps(acc[i] + c, a[i]);
        }
        running_max = new_max;
    }
    float sums[8], maxima[8];
    _mm256_storeu_ps(sums, running_sum);
    _mm256_storeu_ps(maxima, running_max);
    for (size_t i = 0; i < NQ; i++) {
        put_stats(stats ? stats + 2 * i : NULL, maxima[i], sums[i]);
        const __m256 inverse = _mm256_set1_ps(sums[i] > 0 ? 1.0f / sums[i] : 0.0f);
        for (size_t c = 0; c < dh; c += 8) _mm256_storeu_ps(out + i * ostride + c, _mm256_mul_ps(_mm256_load_ps(acc[i] + c), inverse));
    }
}

// The copies for each query count, under AVX2's target (which an always-inline function
// can only be inlined into).
TL_TARGET_AVX2 static void attend_queries_avx2(const float *q, size_t qstride, size_t nq, const void *keys, const void *values,
                                               tl_weight_type type, size_t stride, const size_t *start, const size_t *end, size_t dh,
                                               float scale, float cap, float *out, size_t ostride, float *stats) {
#define ATTEND_N(N) attend_queries_avx2_n(N, QUERY_ARGUMENTS)
    FOR_QUERY_COUNT(nq, ATTEND_N);
#undef ATTEND_N
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
// share a key/value head). attend_queries_avx2 keeps a query per lane, so with two to four
// queries most lanes idle and each chunk's sums wait on the one before. Here each tile of
// keys and values is widened once into f32 rows; then, per query, eight keys' scores come
// out of eight independent sums in one register (the exponentials eight wide), and each
// query's weighted values are summed over the tile in eight registers.
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
// for eight keys at a time, each key's value broadcast against NV registers of queries, so
// no sum runs across lanes. (n a multiple of 8; rows past the tile's keys are zeros.)
TL_TARGET_AVX512 static inline __attribute__((always_inline)) void
block_scores_avx512(const size_t NV, const float *qt, const float *rows, size_t n, size_t dh, float *p) {
    for (size_t j = 0; j < n; j += 8) {
        __m512 a[2][8];
        for (size_t v = 0; v < NV; v++)
            for (size_t r = 0; r < 8; r++) a[v][r] = _mm512_setzero_ps();
        for (size_t c = 0; c < dh; c++) {
            __m512 qv[2];
            for (size_t v = 0; v < NV; v++) qv[v] = _mm512_load_ps(qt + c * BLOCK_QUERIES + 16 * v);
            for (size_t r = 0; r < 8; r++) {
                const __m512 k = _mm512_set1_ps(rows[(j + r) * dh + c]);
                for (size_t v = 0; v < NV; v++) a[v][r] = _mm512_fmadd_ps(qv[v], k, a[v][r]);
            }
        }
        for (size_t r = 0; r < 8; r++)
            for (size_t v = 0; v < NV; v++) _mm512_store_ps(p + (j + r) * BLOCK_QUERIES + 16 * v, a[v][r]);
    }
}

// acc[i][c0 ..< c0 + 16K] = acc · factor[i] + Σ_j p[j][i] · rows[j][c0 …] for four queries
// i0 … i0 + 3, their sums in 4K registers over the whole tile.
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
            const __m512 w = _mm512_set1_ps(p[j * BLOCK_QUERIES + i0 + i]);
            for (size_t k = 0; k < K; k++) a[i][k] = _mm512_fmadd_ps(w, v[k], a[i][k]);
        }
    }
    for (size_t i = 0; i < 4; i++)
        for (size_t k = 0; k < K; k++) _mm512_store_ps(acc + (i0 + i) * dh + c0 + 16 * k, a[i][k]);
}

// A prompt's queries, up to 32 of one head, each over its own positions, as two matrix
// products per tile of keys (flash attention's plan): the queries transposed once, a lane
// per query; each tile's keys widened to f32 rows and multiplied against them
// (block_scores_avx512); the online softmax a lane per query, sixteen wide; then the tile's
// values widened into the same rows and weighted four queries by up to 64 columns at a time.
// attend_queries_avx2 sums each key's products across lanes, a shuffle ladder per key that
// cost as much as the products; here the inner loops hold only products and their loads.
TL_TARGET_AVX512 static void attend_block_avx512(const float *q, size_t qstride, size_t nq, const void *keys, const void *values,
                                                 tl_weight_type type, size_t stride, const size_t *start, const size_t *end, size_t dh,
                                                 float scale, float cap, float *out, size_t ostride, float *stats) {
    float qt[256 * BLOCK_QUERIES] __attribute__((aligned(64)));
    float rows[BLOCK_KEYS * 256] __attribute__((aligned(64)));
    float p[BLOCK_KEYS * BLOCK_QUERIES] __attribute__((aligned(64)));
    float acc[BLOCK_QUERIES * 256] __attribute__((aligned(64)));
    float factor[BLOCK_QUERIES] __attribute__((aligned(64)));
    int32_t first[BLOCK_QUERIES], last[BLOCK_QUERIES];
    const size_t NV = nq > 16 ? 2 : 1, used = (nq + 3) / 4 * 4;
    size_t lo = SIZE_MAX, hi = 0;
    for (size_t i = 0; i < BLOCK_QUERIES; i++) {
        first[i] = i < nq ? (int32_t)start[i] : 0;
        last[i] = i < nq ? (int32_t)end[i] : 0;  // an unused lane sees no key
        if (i < nq) {
            lo = start[i] < lo ? start[i] : lo;
            hi = end[i] > hi ? end[i] : hi;
        }
        for (size_t c = 0; c < dh; c++) qt[c * BLOCK_QUERIES + i] = i < nq ? q[i * qstride + c] : 0;
    }
    for (size_t i = 0; i < used * dh; i++) acc[i] = 0;
    // Scores are scaled after the products, as the other kernels scale them (the capped
    // ones before their cap): a query's scores then round alike whichever kernel runs it.
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
        if (cap > 0)
            for (size_t j = 0; j < n; j++)
                for (size_t i = 0; i < nq; i++) p[j * BLOCK_QUERIES + i] = cap * tanhf(p[j * BLOCK_QUERIES + i] * scale / cap);
        for (size_t v = 0; v < NV; v++) {
            __m512 tile_max = minus_inf;
            for (size_t j = 0; j < n; j++) {
                const __m512i position = _mm512_set1_epi32((int32_t)(t0 + j));
                const __mmask16 valid = _mm512_cmple_epi32_mask(vfirst[v], position) & _mm512_cmpgt_epi32_mask(vlast[v], position);
                const __m512 s = _mm512_mask_blend_ps(valid, minus_inf, _mm512_mul_ps(_mm512_load_ps(p + j * BLOCK_QUERIES + 16 * v), vscale));
                _mm512_store_ps(p + j * BLOCK_QUERIES + 16 * v, s);
                tile_max = _mm512_max_ps(tile_max, s);
            }
            const __m512 new_max = _mm512_max_ps(running_max[v], tile_max);
            // A lane that has seen no key yet keeps a maximum of 0, so that nothing is −∞ − −∞.
            const __m512 safe_max = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(new_max, minus_inf, _CMP_EQ_OQ), new_max, _mm512_setzero_ps());
            const __m512 rescale = exp_nonpositive_avx512(_mm512_sub_ps(running_max[v], safe_max));
            __m512 sum = _mm512_mul_ps(running_sum[v], rescale);
            for (size_t j = 0; j < n; j++) {
                const __m512 s = _mm512_load_ps(p + j * BLOCK_QUERIES + 16 * v);
                const __mmask16 valid = _mm512_cmp_ps_mask(s, minus_inf, _CMP_NEQ_OQ);
                const __m512 e = _mm512_maskz_mov_ps(valid, exp_nonpositive_avx512(_mm512_sub_ps(s, safe_max)));
                _mm512_store_ps(p + j * BLOCK_QUERIES + 16 * v, e);
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
    float sums[BLOCK_QUERIES], maxima[BLOCK_QUERIES];
    for (size_t v = 0; v < 2; v++) {
        _mm512_storeu_ps(sums + 16 * v, running_sum[v]);
        _mm512_storeu_ps(maxima + 16 * v, running_max[v]);
    }
    for (size_t i = 0; i < nq; i++) {
        put_stats(stats ? stats + 2 * i : NULL, maxima[i], sums[i]);
        const __m512 inverse = _mm512_set1_ps(sums[i] > 0 ? 1.0f / sums[i] : 0.0f);
        for (size_t c = 0; c < dh; c += 16) _mm512_storeu_ps(out + i * ostride + c, _mm512_mul_ps(_mm512_load_ps(acc + i * dh + c), inverse));
    }
}
#endif

#if TL_ARM64
// attend_avx2's plan four lanes wide: the scores first, the exponentials four at a time,
// then Σ e_p·v_p divided by Σ e_p once.
static void attend_neon(const float *q, const void *keys, const void *values, tl_weight_type type, size_t stride, size_t count,
                        size_t dh, float scale, float cap, float *scores, float *out, float *stats) {
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
    put_stats(stats, top, sum);
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

// attend_queries_avx2's online softmax over tiles of keys for up to eight queries, each key
// and value widened once for all of them; the per-query bookkeeping is scalar. NQ is a
// constant in each copy, so the sums of a chunk of four values stay in registers over a tile.
static inline __attribute__((always_inline)) void
attend_queries_neon_n(const size_t NQ, const float *q, size_t qstride, const void *keys, const void *values, tl_weight_type type,
                      size_t stride, const size_t *start, const size_t *end, size_t dh, float scale, float cap, float *out, size_t ostride,
                      float *stats) {
    float acc[8][256] __attribute__((aligned(16)));
    float running_max[8], running_sum[8];
    size_t lo = SIZE_MAX, hi = 0;
    for (size_t i = 0; i < NQ; i++) {
        lo = start[i] < lo ? start[i] : lo;
        hi = end[i] > hi ? end[i] : hi;
        running_max[i] = -INFINITY;
        running_sum[i] = 0;
        for (size_t c = 0; c < dh; c++) acc[i][c] = 0;
    }
    for (size_t t0 = lo; t0 < hi; t0 += KEY_TILE) {
        const size_t n = hi - t0 < KEY_TILE ? hi - t0 : KEY_TILE;
        float s[KEY_TILE][8];
        float tile_max[8];
        for (size_t i = 0; i < NQ; i++) tile_max[i] = -INFINITY;
        for (size_t j = 0; j < n; j++) {
            const size_t k = (t0 + j) * stride, position = t0 + j;
            float32x4_t a[8];
            const float32x4_t k0 = tl_weights4(keys, type, k);
            for (size_t i = 0; i < NQ; i++) a[i] = vmulq_f32(vld1q_f32(q + i * qstride), k0);
            for (size_t c = 4; c < dh; c += 4) {
                const float32x4_t kc = tl_weights4(keys, type, k + c);
                for (size_t i = 0; i < NQ; i++) a[i] = vfmaq_f32(a[i], vld1q_f32(q + i * qstride + c), kc);
            }
            for (size_t i = 0; i < NQ; i++) {
                float score = vaddvq_f32(a[i]) * scale;
                if (cap > 0) score = cap * tanhf(score / cap);
                s[j][i] = position >= start[i] && position < end[i] ? score : -INFINITY;
                tile_max[i] = s[j][i] > tile_max[i] ? s[j][i] : tile_max[i];
            }
        }
        float safe_max[8], factor[8], w[KEY_TILE][8];
        for (size_t i = 0; i < NQ; i++) {
            const float new_max = running_max[i] > tile_max[i] ? running_max[i] : tile_max[i];
            // A query that has seen no key yet keeps a maximum of 0, so that nothing is −∞ − −∞.
            safe_max[i] = new_max == -INFINITY ? 0 : new_max;
            factor[i] = expf(running_max[i] - safe_max[i]);
            running_sum[i] *= factor[i];
            running_max[i] = new_max;
        }
        for (size_t j = 0; j < n; j++) {
            for (size_t i = 0; i < NQ; i++) {
                w[j][i] = s[j][i] == -INFINITY ? 0 : expf(s[j][i] - safe_max[i]);
                running_sum[i] += w[j][i];
            }
        }
        for (size_t c = 0; c < dh; c += 4) {
            float32x4_t a[8];
            for (size_t i = 0; i < NQ; i++) a[i] = vmulq_n_f32(vld1q_f32(acc[i] + c), factor[i]);
            for (size_t j = 0; j < n; j++) {
                const float32x4_t vc = tl_weights4(values, type, (t0 + j) * stride + c);
                for (size_t i = 0; i < NQ; i++) a[i] = vfmaq_n_f32(a[i], vc, w[j][i]);
            }
            for (size_t i = 0; i < NQ; i++) vst1q_f32(acc[i] + c, a[i]);
        }
    }
    for (size_t i = 0; i < NQ; i++) {
        put_stats(stats ? stats + 2 * i : NULL, running_max[i], running_sum[i]);
        const float inverse = running_sum[i] > 0 ? 1.0f / running_sum[i] : 0.0f;
        for (size_t c = 0; c < dh; c += 4) vst1q_f32(out + i * ostride + c, vmulq_n_f32(vld1q_f32(acc[i] + c), inverse));
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
#endif

// One query, any variant; stats (may be NULL) as put_stats writes them.
static void attend_one(const float *q, const void *keys, const void *values, tl_weight_type type, size_t stride, size_t count, size_t dh,
                       float scale, float cap, float *scores, float *out, float *stats) {
    if (count == 0) {
        for (size_t i = 0; i < dh; i++) out[i] = 0;
        put_stats(stats, -INFINITY, 0);
        return;
    }
#if TL_X86
    if (TL_USES_AVX2() && dh >= 8 && dh % 8 == 0) {
        attend_avx2(q, keys, values, type, stride, count, dh, scale, cap, scores, out, stats);
        return;
    }
#elif TL_ARM64
    if (TL_USES_NEON() && dh >= 4 && dh % 4 == 0) {
        attend_neon(q, keys, values, type, stride, count, dh, scale, cap, scores, out, stats);
        return;
    }
#endif
    attend_portable(q, keys, values, type, stride, count, dh, scale, cap, scores, out, stats);
}

// Queries at once, any variant; stats (may be NULL) two floats a query.
static void attend_queries(const float *q, size_t qstride, size_t nq, const void *keys, const void *values, tl_weight_type type,
                           size_t stride, const size_t *start, const size_t *end, size_t dh, float scale, float cap, float *out,
                           size_t ostride, float *stats) {
#if TL_X86
    const int blocks = TL_USES_AVX512() && dh >= 16 && dh % 16 == 0 && dh <= 256;
#else
    const int blocks = 0;
#endif
    // The block kernel takes up to 32 queries, the others up to eight.
    const size_t most = blocks ? BLOCK_QUERIES : 8;
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
#if TL_X86
    if (blocks && nq >= 2 && !shared) {
        attend_block_avx512(q, qstride, nq, keys, values, type, stride, start, end, dh, scale, cap, out, ostride, stats);
        return;
    }
#endif
#if TL_X86
    if (TL_USES_AVX2() && dh >= 8 && dh % 8 == 0 && dh <= 256 && nq >= 1 && nq <= 8 && shared && end[0] > start[0]) {
        attend_group_avx2(q, qstride, nq, keys, values, type, stride, start[0], end[0], dh, scale, cap, out, ostride, stats);
        return;
    }
    if (TL_USES_AVX2() && dh >= 8 && dh % 8 == 0 && dh <= 256 && nq >= 2 && nq <= 8) {
        attend_queries_avx2(q, qstride, nq, keys, values, type, stride, start, end, dh, scale, cap, out, ostride, stats);
        return;
    }
#elif TL_ARM64
    if (TL_USES_NEON() && dh >= 4 && dh % 4 == 0 && dh <= 256 && nq >= 1 && nq <= 8 && shared && end[0] > start[0]) {
        attend_group_neon(q, qstride, nq, keys, values, type, stride, start[0], end[0], dh, scale, cap, out, ostride, stats);
        return;
    }
    if (TL_USES_NEON() && dh >= 4 && dh % 4 == 0 && dh <= 256 && nq >= 2 && nq <= 8) {
#define ATTEND_N(N) attend_queries_neon_n(N, QUERY_ARGUMENTS)
        FOR_QUERY_COUNT(nq, ATTEND_N);
#undef ATTEND_N
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
    attend_one(q, keys, values, type, stride, count, dh, scale, cap, scores, out, NULL);
}
