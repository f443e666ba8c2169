// The hot loops of TensorLedger, in C so that each can have per-CPU variants
// (AVX-512 VNNI, AVX2, portable) chosen once at start-up. A default Swift release
// build targets baseline x86-64, where int8 SIMD runs scalar; these do not.
// Every kernel has a plain Swift twin in the library that the tests compare against.
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// --- CPU dispatch -------------------------------------------------------------

typedef enum {
    TL_ISA_PORTABLE = 0,
    TL_ISA_AVX2 = 1,          // x86-64: AVX2 + FMA + F16C
    TL_ISA_AVX512VNNI = 2,    // x86-64: AVX-512 F/BW/VL + VNNI
    TL_ISA_NEON = 3,          // aarch64: NEON (every aarch64 CPU)
    TL_ISA_NEON_DOTPROD = 4   // aarch64: NEON + SDOT (FEAT_DotProd: Apple M, Graviton 2 and later)
} tl_isa;

/// The best variant this CPU supports.
tl_isa tl_detect_isa(void);
/// The variant the calling thread uses (the detected one unless forced on this thread).
tl_isa tl_active_isa(void);
/// Whether this CPU can run a variant (the portable one always).
int tl_isa_supported(tl_isa isa);
/// Forces a variant this CPU supports on the calling thread only (a model's workers take
/// its choice, tests compare variants), or the portable one when it does not; returns the
/// one set.
tl_isa tl_force_isa(tl_isa isa);
const char *tl_isa_name(tl_isa isa);
/// A pause for spin-wait loops (PAUSE on x86, YIELD on ARM).
void tl_cpu_relax(void);

// --- Quantization ---------------------------------------------------------------

typedef struct {
    double sum_sq_err;   // Σ (x − dequantized)²
    double sum_sq;       // Σ x²
    float max_abs_err;   // max |x − dequantized|
} tl_quant_stats;

/// q8 blocks: n must be a multiple of 32. For each block of 32 values: d = max|x| / 127,
/// the f16 scale is d rounded up to the next f16 (so |x| / scale ≤ 127), and
/// q = round(x / scale), halves away from zero. Returns the index of the first
/// non-finite input, or -1 when all went well; a block whose scale overflows f16
/// returns its first index too.
long tl_quantize_q8_blocks(const float *x, size_t n, int8_t *q, uint16_t *scales_f16, tl_quant_stats *stats);

/// q8 blocks of the transpose of a (rows, cols) f32 matrix, for its columns c0 ≤ c < c1:
/// column c becomes the row q[c·rows ...] with scales[c·rows/32 ...], exactly as
/// transposing and calling tl_quantize_q8_blocks would make it (rows a multiple of 32).
/// Returns -1, or the index in src (r·cols + c) of a value that failed.
long tl_quantize_q8_columns(const float *src, size_t rows, size_t cols, size_t c0, size_t c1, int8_t *q, uint16_t *scales,
                            tl_quant_stats *stats);

/// llama.cpp's Q8_0 blocks of n values (a multiple of 32) into out (n/32 × 34 bytes: the f16
/// scale, then 32 int8): d = max|x| / 127, q = roundf(x · (1/d)), d stored as the nearest
/// f16, as ggml writes it; stats (may be NULL) against q · the stored scale. Returns the
/// index of the first non-finite value, or the first index of a block whose scale f16
/// cannot hold, or -1.
long tl_quantize_q8_0_ggml(const float *x, size_t n, uint8_t *out, tl_quant_stats *stats);

/// Q8_0 blocks of the transpose of a (rows, cols) f32 matrix, for its columns c0 ≤ c < c1:
/// column c becomes the row of rows/32 blocks at out + c·(rows/32)·34, exactly as transposing
/// and calling tl_quantize_q8_0_ggml would make it (rows a multiple of 32). Returns -1, or
/// the index in src (r·cols + c) of a value that failed.
long tl_quantize_q8_0_ggml_columns(const float *src, size_t rows, size_t cols, size_t c0, size_t c1, uint8_t *out, tl_quant_stats *stats);

/// q8-row: one f32 scale d = max|x| / 127 for all n values; q = round(x / d).
long tl_quantize_q8_row(const float *x, size_t n, int8_t *q, float *scale, tl_quant_stats *stats);

/// dst[c·rows + r] = src[r·cols + c] for every row r and the columns c0 ≤ c < c1: a
/// (rows, cols) matrix transposed, a band of output rows at a time.
void tl_transpose_f32(const float *src, size_t rows, size_t cols, size_t c0, size_t c1, float *dst);

// --- Checksums ------------------------------------------------------------------

/// XXH64 of n bytes.
uint64_t tl_xxh64(const void *data, size_t n, uint64_t seed);

// --- Dot products (the runner's matrix-vector products) ----------------------------

/// Σ a[i]·b[i] over n floats.
float tl_dot_f32(const float *a, const float *b, size_t n);

/// Σ a[i]·b[i] for f16 weights a against f32 activations b.
float tl_dot_f16_f32(const uint16_t *a, const float *b, size_t n);

/// Σ a[i]·b[i] for bf16 weights a against f32 activations b.
float tl_dot_bf16_f32(const uint16_t *a, const float *b, size_t n);

/// q8 row · q8 activations: Σ over blocks of 32 of wscale[k]·xscale[k]·Σ w·x (int32 inside
/// a block). n is a multiple of 32; wscales are f16, xscales f32.
float tl_dot_q8_q8(const int8_t *w, const uint16_t *wscales, const int8_t *x, const float *xscales, size_t n);

/// out[r] = tl_dot_q8_q8(row r of a q8 matrix with n columns, x) for r0 ≤ r < r1.
void tl_dot_q8_rows(const int8_t *w, const uint16_t *wscales, size_t n, size_t r0, size_t r1, const int8_t *x, const float *xscales,
                    float *out);

/// q8-row row · q8 activations: wscale · Σ over blocks of xscale[k]·Σ w·x.
float tl_dot_q8row_q8(const int8_t *w, float wscale, const int8_t *x, const float *xscales, size_t n);

/// How stored values are kept: f32, f16 or bf16, or (the KV cache's q8 only: the attention
/// kernels) ggml's Q8_0 blocks, value i in block i / 32 of 34 bytes (an f16 scale, then 32 int8).
typedef enum { TL_WEIGHTS_F32 = 0, TL_WEIGHTS_F16 = 1, TL_WEIGHTS_BF16 = 2, TL_WEIGHTS_Q8_0 = 3 } tl_weight_type;

/// Y[t·ystride + r] = W[r] · X[t] for rows r0 ≤ r < r1 and tokens t < T (prompt
/// processing) with f32, f16 or bf16 weights W (rows of n) and f32 activations X (T rows of n).
void tl_gemm_float(const void *w, tl_weight_type type, size_t n, size_t r0, size_t r1, const float *x, size_t T,
                   float *y, size_t ystride);

/// One attention head for one query: scores s_p = scale·(q · k_p) for the `count` keys
/// k_p = keys + p·stride, softmax over them, out = Σ softmax_p · v_p with v_p = values +
/// p·stride; vectors of dh values, the cached keys and values f32, f16 or Q8_0 (`type`;
/// Q8_0 needs dh and stride multiples of 32, so that no block straddles two positions). With
/// cap > 0 the scores are first capped softly, cap · tanh(s_p / cap) (Gemma 2). `scores`
/// is scratch for count floats.
void tl_attend(const float *q, const void *keys, const void *values, tl_weight_type type, size_t stride, size_t count, size_t dh,
               float scale, float cap, float *scores, float *out);

/// tl_attend for nq queries of one head at once (a prompt's tokens): query i, at q +
/// i·qstride, attends to cache positions start[i] ..< end[i] (keys and values at p·stride,
/// as tl_attend's), its result to out + i·ostride. The softmax runs online over tiles of
/// keys, so no scratch is needed and calls for the same head may run at once. Queries that
/// see different positions go as blocks, two matrix products per tile of keys: 32 at a time
/// with AVX-512 (dh a multiple of 16), 16 with AVX2 or NEON (dh a multiple of 8 or 4; at
/// most 256 for all); up to eight that see the same ones (decoding's query heads sharing a
/// key/value head) each tile widened once for all; otherwise one query at a time.
void tl_attend_queries(const float *q, size_t qstride, size_t nq, const void *keys, const void *values, tl_weight_type type,
                       size_t stride, const size_t *start, const size_t *end, size_t dh, float scale, float cap, float *out,
                       size_t ostride);

/// tl_attend_queries over part of each query's positions, for threads that share one head's
/// positions: out as tl_attend_queries writes it, and per query i stats[2i] its largest
/// score and stats[2i + 1] Σ e^(score − largest) (−∞ and 0 for a query that saw no key), so
/// that parts merge as Σ_p w_p·out_p / Σ_p w_p with w_p = sum_p · e^(max_p − max over parts).
void tl_attend_queries_partial(const float *q, size_t qstride, size_t nq, const void *keys, const void *values, tl_weight_type type,
                               size_t stride, const size_t *start, const size_t *end, size_t dh, float scale, float cap, float *out,
                               size_t ostride, float *stats);

/// GPT-2's GELU, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), in place.
void tl_gelu(float *x, size_t n);

/// SwiGLU's product, y[i] = silu(gate[i]) · y[i] with silu(g) = g / (1 + e^−g), in place.
void tl_silu_mul(float *y, const float *gate, size_t n);

/// Quantizes activations into blocks of 32 (d = max|x|/127 in f32, round half away).
/// `sums` (may be NULL) receives Σq of each block, which tl_gemm_q8 needs.
void tl_quantize_activations(const float *x, size_t n, int8_t *q, float *scales, int32_t *sums);

/// The same with one scale per 256 values (n a multiple of 256), written for each of their
/// blocks of 32: what the products over weights in super-blocks of 256 (Q2_K … Q6_K,
/// IQ4_XS) take, as llama.cpp's Q8_K. Their kernels add a super-block's blocks in integers
/// where its scales are equal.
void tl_quantize_activations_256(const float *x, size_t n, int8_t *q, float *scales, int32_t *sums);

/// The prompt kernels' activations arranged once for every call over them (a product's rows
/// go to the kernels a chunk at a time, each call arranging them again if not): the bytes
/// tl_arrange_tokens needs for T tokens of n, or 0 where the active kernels read none (every
/// variant but AVX2's). Pass the arranged buffer as `arranged` to tl_gemm_q8 and
/// tl_gemm_blocks with the same x, n and T (or NULL: arranged per call).
size_t tl_arranged_tokens_bytes(size_t n, size_t T);

/// Arranges X (T rows of n, with their scales and block sums) into `buffer`, that many
/// bytes, 64-byte aligned.
void tl_arrange_tokens(const int8_t *x, const float *xscales, const int32_t *xsums, size_t n, size_t T, void *buffer);

/// Y[t·ystride + r] = W[r] · X[t] for rows r0 ≤ r < r1 and tokens t < T (prompt
/// processing). W is int8, rows of n (a multiple of 32), with either f16 scales per block of
/// 32 (block_scales) or one f32 scale per row (row_scales; block_scales NULL). X holds T
/// rows of n from tl_quantize_activations, with their scales and block sums.
void tl_gemm_q8(const int8_t *w, const uint16_t *block_scales, const float *row_scales, size_t n, size_t r0, size_t r1,
                const int8_t *x, const float *xscales, const int32_t *xsums, size_t T, const void *arranged, float *y, size_t ystride);

// --- ggml's block types, used as stored (GGUF weights) ---------------------------------

/// The block types with kernels. Their layouts are ggml's (blocks.c lists them).
typedef enum {
    TL_BLOCKS_Q8_0 = 0,
    TL_BLOCKS_Q4_0 = 1,
    TL_BLOCKS_Q4_K = 2,
    TL_BLOCKS_Q5_K = 3,
    TL_BLOCKS_Q6_K = 4,
    TL_BLOCKS_Q4_1 = 5,
    TL_BLOCKS_Q5_0 = 6,
    TL_BLOCKS_Q5_1 = 7,
    TL_BLOCKS_Q2_K = 8,
    TL_BLOCKS_Q3_K = 9,
    TL_BLOCKS_IQ4_NL = 10,
    TL_BLOCKS_IQ4_XS = 11,
    TL_BLOCK_TYPE_COUNT = 12
} tl_block_type;

/// Bytes of a row of n values (a multiple of the type's block: 32, or 256 for the K types).
size_t tl_block_row_bytes(tl_block_type type, size_t n);

/// out[r] = row r · x for r0 ≤ r < r1, the rows of n values stored back to back in `type`'s
/// blocks, x quantized by tl_quantize_activations (its scales and block sums).
void tl_dot_blocks_rows(tl_block_type type, const void *w, size_t n, size_t r0, size_t r1, const int8_t *x, const float *xscales,
                        const int32_t *xsums, float *out);

/// Y[t·ystride + r] = W[r] · X[t] for rows r0 ≤ r < r1 and tokens t < T, W as for
/// tl_dot_blocks_rows and X T rows of n from tl_quantize_activations.
void tl_gemm_blocks(tl_block_type type, const void *w, size_t n, size_t r0, size_t r1, const int8_t *x, const float *xscales,
                    const int32_t *xsums, size_t T, const void *arranged, float *y, size_t ystride);

/// Quantizes n values (whole blocks of `type`) into its blocks by ggml's reference
/// quantizer, the bytes llama-quantize writes without an importance matrix (Q4_0 … Q6_K;
/// not the IQ4 types). Returns -1, or the index of a value that is not finite or of the
/// first value of a block whose scale overflows f16 (nothing after it is written).
long tl_quantize_blocks(tl_block_type type, const float *x, size_t n, void *out);

/// out[i] = h[i] for n f16 values (h need not be aligned); exact.
void tl_widen_f16(const uint16_t *h, size_t n, float *out);

/// out[i] = x[i] as f16, rounded to nearest, ties to even (beyond 65,504 infinity; a NaN a
/// quiet NaN) for n values.
void tl_narrow_f16(const float *x, size_t n, uint16_t *out);

// --- Comparing (diff) ---------------------------------------------------------------

/// out = {Σa², Σb², Σa·b, Σ(b−a)², max |b−a|} over n floats (f32 within blocks of 1,024, f64 across).
void tl_compare_f32(const float *a, const float *b, size_t n, double out[5]);

// --- I/O ---------------------------------------------------------------------------

/// Starts writeback of a file range without waiting (Linux sync_file_range); 0 elsewhere.
int tl_start_writeback(int fd, long long offset, long long length);

/// pipe(2) with both ends closed on exec (atomically on Linux, pipe2): a program spawned
/// on another thread does not inherit them. 0, or -1 with errno set.
int tl_pipe_cloexec(int fds[2]);

/// Opens a new file with no name in `directory` (Linux O_TMPFILE), or returns -1.
/// If the process dies before it is linked, the file vanishes with it.
int tl_open_unnamed(const char *directory);

/// Gives an unnamed file (from tl_open_unnamed) the name `path`, which must not exist.
int tl_link_unnamed(int fd, const char *path);

/// The cores this process may run on: its CPU affinity on Linux (taskset, containers), the
/// performance cores on Apple Silicon, the online processors elsewhere.
int tl_available_cores(void);

// --- Benchmarks ---------------------------------------------------------------------

/// Reads n bytes (a multiple of 256) as fast as the CPU can and returns their 64-bit sum:
/// the memory read bandwidth probe of the benchmark.
uint64_t tl_read_sum(const void *data, size_t n);

#ifdef __cplusplus
}
#endif
