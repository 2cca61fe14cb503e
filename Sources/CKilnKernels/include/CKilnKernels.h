// CKilnKernels: Kiln's hot loops in C. Each tier (portable C, AVX2+FMA+F16C, NEON) is a table
// of function pointers (`kiln_ops`); the Swift module `KilnKernels` picks one at start-up from
// `kiln_cpu_features()` and calls the entry points below with it. ISA-specific code sits in
// functions with `__attribute__((target(...)))`, so the package needs no compiler flags.
// Everything here is internal API for KilnKernels; apps use the Swift `Kernels` enum.
#ifndef CKILNKERNELS_H
#define CKILNKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---- CPU features and tiers -------------------------------------------------------------

enum {
    KILN_CPU_AVX2 = 1u << 0,    // x86-64: AVX2 + FMA + F16C, and the OS saves YMM state
    KILN_CPU_NEON = 1u << 1,    // arm64: Advanced SIMD (always present)
    KILN_CPU_DOTPROD = 1u << 2, // arm64: SDOT/UDOT (FEAT_DotProd)
    KILN_CPU_AVX_VNNI = 1u << 3, // x86-64: AVX-VNNI (VEX-encoded vpdpbusd), with AVX2
    KILN_CPU_AVX512 = 1u << 4,   // x86-64: AVX-512 F/BW/VL/DQ/VNNI, and the OS saves ZMM state
    KILN_CPU_AVX512_VBMI = 1u << 5, // x86-64: that, with AVX-512 VBMI and GFNI
};
uint32_t kiln_cpu_features(void);

enum {
    KILN_TIER_PORTABLE = 1, // the generic C, compiled with no ISA flags
    KILN_TIER_AVX2 = 2,
    KILN_TIER_NEON = 3,
    KILN_TIER_AVX_VNNI = 4, // the AVX2 tier with vpdpbusd integer dots
    KILN_TIER_AVX512 = 5,   // the AVX2 tier with 512-bit prompt-batch kernels
    KILN_TIER_AVX512_VBMI = 6, // the avx512 tier with VBMI byte permutes for kq4 and q5, GFNI for q4
};

typedef struct kiln_ops kiln_ops;
// The table of a tier, or NULL when it is not compiled for this architecture or the CPU lacks it.
const kiln_ops *kiln_ops_for_tier(int32_t tier);

// ---- matrix products ----------------------------------------------------------------------

// Weight layouts with kernels (byte layouts: docs/FORMAT.md §7). Any other element type goes
// through the Swift fallback (dequantise a row, then the f32 kernel). Every quantised type meets
// the same activations: int8 blocks of 32 with an f32 scale and the block's code sum, so the
// K-quants' 16- and 32-value groups each fall inside one activation block.
enum {
    KILN_WEIGHT_F32 = 0,
    KILN_WEIGHT_F16,
    KILN_WEIGHT_BF16,
    KILN_WEIGHT_Q8_0,
    KILN_WEIGHT_Q4_0,
    KILN_WEIGHT_Q4_1,
    KILN_WEIGHT_Q8_0X8,
    KILN_WEIGHT_Q4_0X8,
    KILN_WEIGHT_Q4_1X8,
    KILN_WEIGHT_Q5_0,
    KILN_WEIGHT_Q5_1,
    KILN_WEIGHT_KQ4,
    KILN_WEIGHT_Q2_K,
    KILN_WEIGHT_Q3_K,
    KILN_WEIGHT_Q4_K,
    KILN_WEIGHT_Q5_K,
    KILN_WEIGHT_Q6_K,
    KILN_WEIGHT_KQ4X8,
    KILN_WEIGHT_Q5_0X8,
    KILN_WEIGHT_Q5_1X8,
    KILN_WEIGHT_COUNT
};

// One weight layout's facts (CKilnKernels/types.c): `name` is the ElementType name Swift's registry
// gives the same bytes.
typedef struct {
    const char *name;
    int32_t block_values; // values per block: 1 for the float types
    int32_t block_bytes;  // bytes per block (per row's block, for the interleaved layouts)
    int32_t group_rows;   // rows stored together: 8 for the interleaved layouts, else 1
} kiln_weight_traits;

// The facts of weight type `type`, or NULL outside 0 ..< KILN_WEIGHT_COUNT.
const kiln_weight_traits *kiln_weight_type(int32_t type);

// Whether the tier has a kernel for the weight type (kiln_matmul needs one).
int32_t kiln_has_kernel(const kiln_ops *ops, int32_t weight_type);

// Y[batch][rows] = X[batch][cols] · W[rows][cols]ᵀ, all row-major. Quantised types need cols a
// multiple of 32; their activations are quantised to int8 blocks of 32 first. Runs on the pool.
void kiln_matmul(const kiln_ops *ops, int32_t weight_type, const void *w, int64_t rows, int64_t cols,
                 const float *x, int64_t batch, float *y);

// kiln_matmul for float weights (f32, f16, bf16) whose rows lie `row_stride` elements apart
// (≥ cols): a view of the first `cols` columns of a wider matrix, as the KV cache's values are.
void kiln_matmul_strided(const kiln_ops *ops, int32_t weight_type, const void *w, int64_t rows, int64_t cols,
                         int64_t row_stride, const float *x, int64_t batch, float *y);

// One of several products of the same activations (kiln_matmul_parts): Y[batch][rows] = X · Wᵀ.
typedef struct {
    int32_t type;
    const void *w;
    int64_t rows;
    float *y;
} kiln_matmul_part;

// kiln_matmul for `count` weight matrices of `cols` columns that all multiply the same X (a
// layer's q/k/v, or gate/up): the activations are prepared once and every product's rows are
// shared out in one pool job. Each part needs a kernel on the tier.
void kiln_matmul_parts(const kiln_ops *ops, int32_t count, const kiln_matmul_part *parts, int64_t cols, const float *x,
                       int64_t batch);

// Row-wise work that writes rows b0 ..< b1 of a product's input X.
typedef void (*kiln_rows_prologue)(void *context, int64_t b0, int64_t b1);

// kiln_matmul_parts after `prologue` has written X's rows (each row once, on whichever thread; a
// row is quantised right after it is written, inside the product's own pool job, so a batch's
// row-wise step and its product cost one synchronisation instead of two). NULL: none.
void kiln_matmul_parts_after(const kiln_ops *ops, int32_t count, const kiln_matmul_part *parts, int64_t cols, const float *x,
                             int64_t batch, kiln_rows_prologue prologue, void *context);

// Activation quantisation as the quantised kernels do it (exposed for the tests): per block of
// 32, d = max|x| / 127, q = round-to-nearest-even(x * (127 / max|x|)) (0 when max|x| = 0),
// sum = Σq.
void kiln_quantize_activations(const kiln_ops *ops, const float *x, int64_t cols, int8_t *q, float *d, int32_t *sum);

// ---- weight quantisation: the scale searches (quant_search.c) -----------------------------
// Same bits on every tier. `importance` (32 non-negative weights) may be NULL (uniform).

// q4_0 / q5_0 (value d·(q − offset), q in 0…2·offset−1): starting from `scale` with `levels`
// (the round-to-nearest ones), tries 26 scales around maximum/−offset and maximum/(offset−1),
// each refined by a weighted least-squares fit and scored on the f16 actually stored; returns
// the best scale and leaves its levels in `levels`.
float kiln_quant_search_symmetric32(int32_t tier, const float *x, const float *importance, int32_t offset,
                                    float maximum, float scale, uint8_t *levels);
// The same search for `count` consecutive blocks at once (x and importance 32 per block;
// importance NULL for uniform), one block per vector lane: exactly the bits of `count` calls of
// kiln_quant_search_symmetric32. Blocks whose `maxima` entry is 0 keep their start.
void kiln_quant_search_symmetric32_blocks(int32_t tier, const float *x, const float *importance, int64_t count,
                                          int32_t offset, const float *maxima, float *scales, uint8_t *levels);
// q4_0's (offset 8) or q5_0's (16) round-to-nearest start for `count` blocks of 32, one per vector
// lane (Q4_0Quantizer.start, Q5_0Quantizer.start): each block's signed value of largest magnitude
// (`maxima`), d = it / −offset (`scales`) and the levels trunc(x/d + offset + ½) clipped to
// 2·offset − 1 (`levels`, 32 per block) — the start the search above takes. −1 for another offset.
int kiln_quant_symmetric_start_blocks(int32_t tier, const float *x, int64_t count, int32_t offset, float *maxima, float *scales,
                                      uint8_t *levels);
// q4_1 / q5_1 (value d·q + m, q in 0…max_level): the range [lo, hi] shrunk from either end,
// then alternating level choice and a weighted least-squares fit of (d, m); `scale`, `minimum`
// and `levels` hold the starting point and receive the best.
void kiln_quant_search_affine32(int32_t tier, const float *x, const float *importance, int32_t max_level, float lo,
                                float hi, float *scale, float *minimum, uint8_t *levels);
// The round-to-nearest starts of q4_1 (max_level 15) and q5_1 (31) for `count` blocks of 32, one
// per vector lane, as Q4_1Quantizer / Q5_1Quantizer.start make them: each block's lo and hi
// (Swift's min and max from x[0] up), d = (hi − lo)/max_level, the levels (32 per block). The
// search below takes them as its start. Returns −1 for another max_level.
int kiln_quant_affine_start_blocks(int32_t tier, const float *x, int64_t count, int32_t max_level, float *lows,
                                   float *highs, float *scales, uint8_t *levels);
// kiln_quant_search_affine32 for `count` blocks of 32 (lows, highs, scales, minima one per block;
// levels 32 per block), one block per vector lane: exactly the bits of `count` one-block calls.
// Blocks whose range is empty (highs ≤ lows, or NaN) keep their start.
void kiln_quant_search_affine32_blocks(int32_t tier, const float *x, const float *importance, int64_t count,
                                       int32_t max_level, const float *lows, const float *highs, float *scales,
                                       float *minima, uint8_t *levels);

// q4_K/q5_K group fits (quant_search_kquant.c): `groups` groups of 32 values (x and importance
// 32 per group; importance NULL for uniform) fitted as Q4_KQuantizer's Swift twin fits them
// (ggml's make_qkx2_quants over the weights (rms + |x|)·importance, levels 0…nmax, trials
// rmin + rdelta·k for k = 0…steps): each group's scale, its minimum (as a positive offset) and
// its 32 levels, one group per vector lane, the twin's bits on every tier.
void kiln_quant_kquant_fit32(int32_t tier, const float *x, const float *importance, int64_t groups, int32_t nmax, float rmin,
                             float rdelta, int32_t steps, float *scales, float *minima, uint8_t *levels);
// q2_K's group fits: `groups` groups of 16 values fitted as Q2_KQuantizer's Swift twin fits them
// (make_qkx2_quants by weighted absolute error over the weights |x|·importance, levels 0…nmax),
// with kiln_quant_kquant_fit32's arguments and layout, the twin's bits on every tier.
void kiln_quant_kquant_fit16_absolute(int32_t tier, const float *x, const float *importance, int64_t groups, int32_t nmax,
                                      float rmin, float rdelta, int32_t steps, float *scales, float *minima, uint8_t *levels);
// q6_K's group fits (quant_search_kquant.c): `groups` groups of 16 values fitted as
// Q6_KQuantizer's Swift twin fits them (ggml's make_qx_quants, rmse_type 1: levels −nmax…nmax−1
// stored + nmax, weights x² or importance·x·x): each group's scale and 16 levels, one group per
// vector lane, the twin's bits on every tier.
void kiln_quant_kquant_symmetric16(int32_t tier, const float *x, const float *importance, int64_t groups, int32_t nmax,
                                   float *scales, uint8_t *levels);
// levels[i] = clamp(nearest_int((x[i] + offset) / scale), lowest, highest) + bias for i < n: a
// K-quant group re-rounded to the scale it stores (ggml's nearest_int, halves to even); the same
// bits on every tier.
void kiln_quant_round_levels(int32_t tier, const float *x, int64_t n, float offset, float scale, int32_t lowest, int32_t highest, int32_t bias,
                             uint8_t *levels);

// A kq4 row (quant_search_kq4.c): the bytes of KQ4Quantizer.quantizeBlock for each of its
// groups/2 blocks, into `out` (18 bytes per block), on every tier. Each 16-value group (x and
// importance 16 per group; importance NULL for uniform) tries its nearest exponent byte and the
// `width` either side, each with every value at its nearest grid level, keeping the lowest
// weighted squared error (the first trial whatever its error, later ones only when strictly
// lower), then the exponent of the nearest one's least-squares refit where that lies outside the
// window. The trials run one group per vector lane. width 0 is round-to-nearest.
// Returns −1 for an odd group count or width outside 0…7, −2 when out of memory.
int kiln_quant_kq4_row(int32_t tier, const float *x, const float *importance, int64_t groups, int32_t width,
                       uint8_t *out);

// q8_0 blocks (quant_search_q8_0.c), one per vector lane: `count` blocks of 32 values (importance
// 32 per block, NULL for uniform) written to `out` (34 bytes each) with d = max|x|/127, or with
// `search` the scale among d·{1, 1.02 … 1.12} (those that fit int8) of least weighted squared
// error on the stored f16. The bytes of Q8_0Quantizer's block quantiser on every tier.
void kiln_quant_q8_0_blocks(int32_t tier, const float *x, const float *importance, int64_t count, int32_t search,
                            uint8_t *out);

// ---- other hot loops (single-threaded; the vectors are small) -------------------------------

void kiln_rms_norm(const kiln_ops *ops, const float *x, const float *weight, int64_t n, float eps, float *out);
void kiln_layer_norm(const kiln_ops *ops, const float *x, const float *weight, const float *bias, int64_t n, float eps,
                     float *out);
void kiln_softmax(const kiln_ops *ops, float *x, int64_t n);
enum { KILN_ROPE_NORMAL = 0, KILN_ROPE_NEOX = 1 };
void kiln_rope(const kiln_ops *ops, float *x, int64_t heads, int64_t head_dim, int64_t rotary_dims, int64_t position,
               float base, float freq_scale, int32_t mode);
// kiln_rope in two steps, for callers that rotate many vectors at one position (every layer's
// queries and keys): the cosines then sines of the rotary_dims/2 angles into cs, then the rotation.
void kiln_rope_angles(int64_t rotary_dims, int64_t position, float base, float freq_scale, float *cs);
void kiln_rope_table(const kiln_ops *ops, float *x, int64_t heads, int64_t head_dim, int64_t rotary_dims, const float *cs,
                     int32_t mode);
void kiln_gelu(const kiln_ops *ops, float *x, int64_t n);
void kiln_silu(const kiln_ops *ops, float *x, int64_t n);
void kiln_swiglu(const kiln_ops *ops, float *gate, const float *up, int64_t n);
// The index of the largest of x[0 ..< n]: the first on a tie; NaNs are never picked unless x[0] is
// one (then 0). Portable C, no tier: greedy decoding's pick.
int64_t kiln_argmax(const float *x, int64_t n);

enum { KILN_KV_F32 = 0, KILN_KV_F16 = 1 };

// ---- blocked causal attention over a KV cache (flash-attention style) ----------------------
//
// The cache layout the kernel reads, per layer and KV head (elements of f32 or f16):
// - keys in blocks of KILN_KV_BLOCK slots, each block transposed: slot s, dimension i at
//   (s / KILN_KV_BLOCK) · KILN_KV_BLOCK · head_dim + i · KILN_KV_BLOCK + s % KILN_KV_BLOCK, so 16
//   consecutive keys' i-th values are one vector: Q·Kᵀ runs as broadcast-query FMAs with no
//   horizontal sums, for one query row (decode) as for many (a prompt);
// - values row-major: slot s, dimension i at s · head_dim + i (P·V broadcasts p and FMAs rows).
// A head's keys and values both take kiln_kv_padded_slots(capacity) · head_dim elements.
#define KILN_KV_BLOCK 16
static inline int64_t kiln_kv_padded_slots(int64_t capacity) {
    return (capacity + KILN_KV_BLOCK - 1) / KILN_KV_BLOCK * KILN_KV_BLOCK;
}

// One sequence's rows for kiln_flash_attention. Query head h of row t is the head_dim floats at
// q + t · q_stride + h · head_dim (out likewise); row t sits at position base + t, and its keys
// are already in the cache. Slot s of a head holds the latest position ≡ s (mod capacity) stored
// so far, latest = `last` (a ring for sliding-window layers; slot = position otherwise); slots
// 0 ..< `slots` are filled. Row t sees the positions p with p ≤ base + t and, when window > 0,
// p > base + t − window.
typedef struct {
    const float *q;
    float *out;
    int64_t q_stride;
    const void *keys;     // KV head 0's keys; head g's start g · head_stride elements on
    const void *values;   // likewise
    int64_t head_stride;
    int64_t slots, capacity, last;
    int64_t rows, base, window;
} kiln_attention_job;

// Causal attention of every job's rows, grouped-query (query head h reads KV head
// h / (heads / kv_heads)): softmax(scale · q·kᵀ) · v computed a tile of query rows against a block of
// keys at a time with an online softmax, so nothing of size rows × positions is ever stored, and
// blocks wholly outside a tile's causal (and window) range are skipped. Split over the pool by
// (job, KV head, query tile), and a job whose rows fit one tile (decode) also by runs of 256 key
// slots, merged after (so the split, and the result, depend on the context, not on the threads).
// kv_type: KILN_KV_F32 or KILN_KV_F16.
void kiln_flash_attention(const kiln_ops *ops, const kiln_attention_job *jobs, int64_t count, int64_t heads,
                          int64_t kv_heads, int64_t head_dim, int32_t kv_type, float scale);
// Bytes of scratch one pool task of kiln_flash_attention allocates (for the tests' memory bound:
// it depends on head_dim only, never on the rows or positions).
int64_t kiln_flash_attention_scratch_bytes(int64_t head_dim);

void kiln_f16_to_f32(const kiln_ops *ops, const uint16_t *src, float *dst, int64_t n);
void kiln_f32_to_f16(const kiln_ops *ops, const float *src, uint16_t *dst, int64_t n);
void kiln_bf16_to_f32(const kiln_ops *ops, const uint16_t *src, float *dst, int64_t n);
void kiln_f32_to_bf16(const kiln_ops *ops, const float *src, uint16_t *dst, int64_t n);

// The compute-ceiling probe of the kernel benchmark: `iterations` steps of independent chains of
// the tier's widest f32 FMA (KILN_PEAK_F32_FMA) or int8 dot product (KILN_PEAK_INT8_DOT: vpdpbusd,
// maddubs + madd, SDOT) on the calling thread. KILN_PEAK_INT8_DOT_F32_STEPS + k (k = 3 … 7): the
// dots with k f32 steps (a conversion, multiplies, an FMA) per 8 of them, the scale work of a
// quantised type's block (AVX-512 only). Returns the operations done (a multiply-add counts 2;
// the f32 steps count nothing), or 0 when the tier has no such probe; the caller times it.
enum { KILN_PEAK_F32_FMA = 0, KILN_PEAK_INT8_DOT = 1, KILN_PEAK_INT8_DOT_F32_STEPS = 16 };
int64_t kiln_peak_work(const kiln_ops *ops, int32_t kind, int64_t iterations);

// How many f32 steps (conversion, multiplies, FMAs) a quantised type's prompt tiles on this tier
// take per 8 int8 dots (per 32-value block of 16 weight rows and one activation row), so that
// KILN_PEAK_INT8_DOT_F32_STEPS + the result measures the type's bound; 0 where not counted.
int32_t kiln_prompt_f32_steps(const kiln_ops *ops, int32_t type);

// Reads `bytes` (a multiple of 128, 64-byte aligned) as floats and returns their sum, split
// over the pool: the streaming-read bandwidth probe of the kernel benchmark.
float kiln_stream_read(const kiln_ops *ops, const float *data, int64_t bytes);

// ---- thread pool --------------------------------------------------------------------------

// One process-wide pool of persistent threads: the caller plus threads-1 workers that spin
// briefly after a job and then sleep. Default: the number of online CPUs.
void kiln_pool_set_threads(int32_t threads);
int32_t kiln_pool_threads(void);
typedef void (*kiln_task_fn)(void *context, int64_t task);
// Runs fn(context, i) for every i < tasks across the pool and returns when all are done. If
// another thread is using the pool, runs them all on the calling thread instead.
void kiln_pool_run(kiln_task_fn fn, void *context, int64_t tasks);

#ifdef __cplusplus
}
#endif
#endif
