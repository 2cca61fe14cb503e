// Internal to CKilnKernels: the tier table and what the tier files share.
#ifndef KILN_INTERNAL_H
#define KILN_INTERNAL_H

#include "CKilnKernels.h"
#include <stdint.h>
#include <string.h>

#define KILN_BLOCK 32         // values per quantised block (q8_0, q4_0, q4_1 and activations)
#define KILN_XT_BLOCK 128   // activation rows per block of the transposed batch (args.xt)
#define KILN_GROUP_ROWS 8     // rows per group block of the interleaved layouts (docs/FORMAT.md §7.4)
#define KILN_ALWAYS_INLINE __attribute__((always_inline)) inline

// One matrix product, as the driver hands it to a tier's row kernel.
typedef struct {
    const void *w;
    int64_t rows, cols;
    int64_t row_stride;   // elements from one weight row to the next: cols, except for strided float views
    const float *x;       // [batch][cols]: the activations (float weight types)
    const float *xt;      // x transposed, batch padded with zeros to a multiple of 16 (float types, when
                          // the tier asks for it: ops->transposed_batch), in blocks of KILN_XT_BLOCK
                          // activation rows: rows b0 … b0 + w − 1 (w = that, or what is left) are
                          // [cols][w] at xt + b0·cols, so a block's columns are one contiguous run
    int64_t xt_stride;    // the first block's width
    const int8_t *xq;     // [batch][cols]: quantised activations (quantised weight types)
    const float *xd;      // [batch][cols/32]: their block scales
    const int32_t *xsum;  // [batch][cols/32]: Σ of each block's int8 values
    const int32_t *xhalf; // [batch][cols/16]: Σ of each half block's int8 values (kq4x8 and the K-quants with groups of 16)
    const int32_t *xhalf_bias; // [batch][cols/16]: −128 × those, where kq4x8's biased-level dots start (a
                               // broadcast from memory, where computing it would take a shuffle-port op)
    const int32_t *xblock_bias; // [batch][cols/32]: −offset × xsum for the 32-block types whose codes the
                                // AVX-512 tile reads with an offset (q8_0 + 128, q4_0 + 8, q5_0 + 16), where
                                // their dots start: a broadcast load instead of a broadcast and a subtraction
                                // per activation row and block on the vector ports; NULL for other types
    const float *xmin;    // [batch][cols/32]: d_x · Σx of each block, the factor of the _1 types' minimum term,
                          // a broadcast load where forming it takes a conversion, a multiply and a broadcast
                          // on the vector ports per activation row and block; NULL for other types
    int64_t batch;
    float *y;             // [batch][rows]
} kiln_matmul_args;

// Computes y[b][r] for every b and r0 ≤ r < r1. r0 is a multiple of 8; r1 is a multiple of 8 or
// the row count.
typedef void (*kiln_rows_fn)(const kiln_matmul_args *args, int64_t r0, int64_t r1);

// One pool task of kiln_flash_attention: stacked query rows s0 ..< s1 of one job and KV head,
// where stacked row s is query head j = s % group of the head's group at row t = s / group (so a
// tile's rows share few positions, and a decode row's whole group is one tile).
#define KILN_FLASH_ROWS 32 // stacked query rows per tile: Q, O and S of a tile stay in L1
#define KILN_FLASH_KEYS 64 // keys per block: four KILN_KV_BLOCK blocks, one 64-key score row
typedef struct {
    const float *q;       // the job's queries, moved to the group's first head
    float *out;           // likewise
    int64_t q_stride, group, head_dim;
    const void *keys, *values; // this KV head's
    int32_t kv_type;
    int64_t slots, capacity, last, base, window;
    int64_t s0, s1;
    int64_t k0, k1;       // the slots this task reads: all (0, slots), or one split of them
    float scale;
    float *scratch;       // kiln_flash_scratch_floats(head_dim) floats, 64-byte aligned
    // NULL: the rows' outputs go to `out`. Otherwise this task is one split of the keys, and row r
    // leaves its running maximum, sum and unnormalised output at partial + r·(head_dim + 2) for
    // kiln_flash_attention to merge with the other splits'.
    float *partial;
} kiln_flash_tile;

// Cache lines an attention tile pulls in while one of its loops runs over a key block: the
// block's values while it scores the block, the next block's keys while it weighs the values
// (attention_tile.h). A few lines each iteration, so the requests overlap the arithmetic rather
// than queue in front of it: a burst of a whole task's keys and values at its start measured no
// faster (docs/PERFORMANCE.md, "Decode attention's cache reads").
typedef struct {
    const char *next;
    int64_t lines, per_step;
} kiln_prefetch_run;

// The lines of `bytes` from `start`, spread over `steps` calls of kiln_prefetch_step.
static inline kiln_prefetch_run kiln_prefetch_spread(const void *start, int64_t bytes, int64_t steps) {
    const uintptr_t first = (uintptr_t)start & ~(uintptr_t)63, end = (uintptr_t)start + (uintptr_t)(bytes > 0 ? bytes : 0);
    const int64_t lines = bytes > 0 ? (int64_t)((end - first + 63) / 64) : 0;
    const kiln_prefetch_run run = {(const char *)first, lines, steps > 1 ? (lines + steps - 1) / steps : lines};
    return run;
}

// NULL: nothing to fetch (a constant after inlining, for the loops shared with f32 reads).
static KILN_ALWAYS_INLINE void kiln_prefetch_step(kiln_prefetch_run *run) {
    if (!run) return;
    for (int64_t i = 0; i < run->per_step && run->lines > 0; i++, run->lines--, run->next += 64) __builtin_prefetch(run->next, 0, 3);
}

// Q and O tiles, the score tile, m and l, and a block of converted keys and of values.
static inline int64_t kiln_flash_scratch_floats(int64_t head_dim) {
    return 2 * KILN_FLASH_ROWS * head_dim + KILN_FLASH_ROWS * KILN_FLASH_KEYS + 2 * KILN_FLASH_ROWS +
           2 * KILN_FLASH_KEYS * head_dim;
}

struct kiln_ops {
    const char *name;
    // The smallest batch for which the float kernels want the activations transposed (args.xt);
    // 0: never.
    int64_t transposed_batch;
    // With transposed_batch: dst[k·dst_stride + i] = x[i·cols + k] for i < rows and 0 for rows ≤ i < 16,
    // every k < cols (a 16-row strip of args.xt). NULL: kiln_transpose_strip_from's scalar loop.
    void (*transpose_strip)(const float *x, int64_t cols, int64_t rows, float *dst, int64_t dst_stride);
    void (*quantize)(const float *x, int64_t cols, int8_t *q, float *d, int32_t *sum);
    kiln_rows_fn rows[KILN_WEIGHT_COUNT];
    void (*rms_norm)(const float *x, const float *weight, int64_t n, float eps, float *out);
    void (*layer_norm)(const float *x, const float *weight, const float *bias, int64_t n, float eps, float *out);
    void (*softmax)(float *x, int64_t n);
    // Rotates pair i (i < rotary_dims/2) by the angle whose cosine is cs[i] and sine cs[rotary_dims/2 + i].
    void (*rope)(float *x, int64_t heads, int64_t head_dim, int64_t rotary_dims, const float *cs, int32_t mode);
    void (*gelu)(float *x, int64_t n);
    void (*silu)(float *x, int64_t n);
    void (*swiglu)(float *gate, const float *up, int64_t n);
    void (*f16_to_f32)(const uint16_t *src, float *dst, int64_t n);
    void (*f32_to_f16)(const float *src, uint16_t *dst, int64_t n);
    void (*bf16_to_f32)(const uint16_t *src, float *dst, int64_t n);
    void (*f32_to_bf16)(const float *src, uint16_t *dst, int64_t n);
    // One tile of kiln_flash_attention (attention_tile.h, instantiated per tier).
    void (*flash_tile)(const kiln_flash_tile *tile);
    float (*stream_sum)(const float *p, int64_t n); // n a multiple of 32, p 64-byte aligned
    int64_t (*peak)(int32_t kind, int64_t iterations); // kiln_peak_work; NULL: no probe
    // The f32 steps per 8 int8 dots that a type's prompt tiles take (kiln_prompt_f32_steps); 0: not counted.
    uint8_t prompt_f32_steps[KILN_WEIGHT_COUNT];
};

// Columns k0 … cols − 1 of kiln_ops.transpose_strip, a value at a time: the driver's loop for a
// tier without the function, and that function's column tail.
static inline void kiln_transpose_strip_from(const float *x, int64_t cols, int64_t rows, float *dst, int64_t dst_stride, int64_t k0) {
    for (int64_t k = k0; k < cols; k++) // 16 rows of x read side by side, 64 bytes written per k
        for (int64_t i = 0; i < 16; i++) dst[k * dst_stride + i] = i < rows ? x[i * cols + k] : 0.0f;
}

extern const kiln_ops kiln_ops_generic;
#if defined(__x86_64__)
extern const kiln_ops kiln_ops_avx2;
const kiln_ops *kiln_ops_avx_vnni(void); // the AVX2 table with the VNNI kernels, built on first use
const kiln_ops *kiln_ops_avx512(void);   // the AVX2 table with the 512-bit kernels, built on first use
const kiln_ops *kiln_ops_avx512_vbmi(void); // the avx512 table with VBMI decode of kq4 and q5
#endif
#if defined(__aarch64__)
extern const kiln_ops kiln_ops_neon;
extern const kiln_ops kiln_ops_neon_dotprod;
#endif

// Generic implementations other tiers reuse where SIMD buys nothing or for tails.
void kiln_quantize_generic(const float *x, int64_t cols, int8_t *q, float *d, int32_t *sum);
void kiln_rope_generic(float *x, int64_t heads, int64_t head_dim, int64_t rotary_dims, const float *cs, int32_t mode);
void kiln_rows_generic_q8_0(const kiln_matmul_args *a, int64_t r0, int64_t r1);
void kiln_rows_generic_q4_0(const kiln_matmul_args *a, int64_t r0, int64_t r1);
void kiln_rows_generic_q4_1(const kiln_matmul_args *a, int64_t r0, int64_t r1);
void kiln_rows_generic_q8_0x8(const kiln_matmul_args *a, int64_t r0, int64_t r1);
void kiln_rows_generic_q4_0x8(const kiln_matmul_args *a, int64_t r0, int64_t r1);
void kiln_rows_generic_q4_1x8(const kiln_matmul_args *a, int64_t r0, int64_t r1);
// The second wave's row kernels: q5/kq4 beside the first wave's (generic.c, x86_avx2.c), the
// K-quants in generic_kquants.c and x86_avx2_kquants.c. NEON has its own for the interleaved
// kq4x8/q5_0x8/q5_1x8 (SDOT); for the row-major q5/kq4 and the K-quants its tables take the
// portable entries (_ROWS), as the table without SDOT does for the interleaved ones (_X8).
void kiln_rows_generic_q5_0(const kiln_matmul_args *a, int64_t r0, int64_t r1);
void kiln_rows_generic_q5_1(const kiln_matmul_args *a, int64_t r0, int64_t r1);
void kiln_rows_generic_kq4(const kiln_matmul_args *a, int64_t r0, int64_t r1);
void kiln_rows_generic_q2_k(const kiln_matmul_args *a, int64_t r0, int64_t r1);
void kiln_rows_generic_q3_k(const kiln_matmul_args *a, int64_t r0, int64_t r1);
void kiln_rows_generic_q4_k(const kiln_matmul_args *a, int64_t r0, int64_t r1);
void kiln_rows_generic_q5_k(const kiln_matmul_args *a, int64_t r0, int64_t r1);
void kiln_rows_generic_q6_k(const kiln_matmul_args *a, int64_t r0, int64_t r1);
#if defined(__aarch64__)
// The K-quants with SDOT sums (arm_neon_kquants.c).
void kiln_rows_neon_q2_k(const kiln_matmul_args *a, int64_t r0, int64_t r1);
void kiln_rows_neon_q3_k(const kiln_matmul_args *a, int64_t r0, int64_t r1);
void kiln_rows_neon_q4_k(const kiln_matmul_args *a, int64_t r0, int64_t r1);
void kiln_rows_neon_q5_k(const kiln_matmul_args *a, int64_t r0, int64_t r1);
void kiln_rows_neon_q6_k(const kiln_matmul_args *a, int64_t r0, int64_t r1);
#endif
void kiln_rows_generic_kq4x8(const kiln_matmul_args *a, int64_t r0, int64_t r1);
void kiln_rows_generic_q5_0x8(const kiln_matmul_args *a, int64_t r0, int64_t r1);
void kiln_rows_generic_q5_1x8(const kiln_matmul_args *a, int64_t r0, int64_t r1);
#define KILN_GENERIC_SECOND_WAVE_ROWS                                                              \
    [KILN_WEIGHT_Q5_0] = kiln_rows_generic_q5_0, [KILN_WEIGHT_Q5_1] = kiln_rows_generic_q5_1,         \
    [KILN_WEIGHT_KQ4] = kiln_rows_generic_kq4, [KILN_WEIGHT_Q2_K] = kiln_rows_generic_q2_k,           \
    [KILN_WEIGHT_Q3_K] = kiln_rows_generic_q3_k, [KILN_WEIGHT_Q4_K] = kiln_rows_generic_q4_k,         \
    [KILN_WEIGHT_Q5_K] = kiln_rows_generic_q5_k, [KILN_WEIGHT_Q6_K] = kiln_rows_generic_q6_k
#define KILN_GENERIC_SECOND_WAVE_X8                                                                \
    [KILN_WEIGHT_KQ4X8] = kiln_rows_generic_kq4x8, [KILN_WEIGHT_Q5_0X8] = kiln_rows_generic_q5_0x8,   \
    [KILN_WEIGHT_Q5_1X8] = kiln_rows_generic_q5_1x8
#if defined(__x86_64__)
void kiln_rows_avx2_q2_k(const kiln_matmul_args *a, int64_t r0, int64_t r1);
void kiln_rows_avx2_q3_k(const kiln_matmul_args *a, int64_t r0, int64_t r1);
void kiln_rows_avx2_q4_k(const kiln_matmul_args *a, int64_t r0, int64_t r1);
void kiln_rows_avx2_q5_k(const kiln_matmul_args *a, int64_t r0, int64_t r1);
void kiln_rows_avx2_q6_k(const kiln_matmul_args *a, int64_t r0, int64_t r1);
#endif

// kq4's grid levels and scale mantissas (docs/FORMAT.md §7.3), for every tier.
extern const int8_t kiln_kq4_grid[16];
extern const float kiln_kq4_mantissa[8];
// kiln_kq4_mantissa · 2^−28: the SIMD tiers look a mantissa up here and add ⌊e/8⌋ straight into
// the float's exponent field, which gives kiln_kq4_scale(e) exactly with no multiply.
extern const float kiln_kq4_mantissa_scaled[8];
// kiln_kq4_grid + 128, as unsigned bytes: levels `vpdpbusd` can take (the 128·Σx comes off after).
extern const uint8_t kiln_kq4_grid_biased[16];
// The scale of a kq4 exponent byte, exact: M[e mod 8] · 2^(⌊e/8⌋ − 28).
static inline float kiln_kq4_scale(uint8_t e) {
    const uint32_t bits = (uint32_t)((e >> 3) - 28 + 127) << 23;
    float power;
    memcpy(&power, &bits, 4);
    return kiln_kq4_mantissa[e & 7] * power;
}

// The weight layouts the kernels know, one entry each: the C side's type table (Swift's is
// ElementType.registry in KilnCore; entries are matched by name, and a test holds the two tables
// to the same block shapes). Adding a layout is an entry here and one there, plus its kernels in
// the tiers' `rows` tables. Static in this header so that a kernel specialised for one type sees
// its block size as a constant.
static const kiln_weight_traits kiln_weight_types[KILN_WEIGHT_COUNT] = {
    [KILN_WEIGHT_F32] = {"f32", 1, 4, 1},
    [KILN_WEIGHT_F16] = {"f16", 1, 2, 1},
    [KILN_WEIGHT_BF16] = {"bf16", 1, 2, 1},
    [KILN_WEIGHT_Q8_0] = {"q8_0", 32, 34, 1},
    [KILN_WEIGHT_Q4_0] = {"q4_0", 32, 18, 1},
    [KILN_WEIGHT_Q4_1] = {"q4_1", 32, 20, 1},
    [KILN_WEIGHT_Q5_0] = {"q5_0", 32, 22, 1},
    [KILN_WEIGHT_Q5_1] = {"q5_1", 32, 24, 1},
    [KILN_WEIGHT_KQ4] = {"kq4", 32, 18, 1},
    [KILN_WEIGHT_Q2_K] = {"q2_k", 256, 84, 1},
    [KILN_WEIGHT_Q3_K] = {"q3_k", 256, 110, 1},
    [KILN_WEIGHT_Q4_K] = {"q4_k", 256, 144, 1},
    [KILN_WEIGHT_Q5_K] = {"q5_k", 256, 176, 1},
    [KILN_WEIGHT_Q6_K] = {"q6_k", 256, 210, 1},
    [KILN_WEIGHT_Q8_0X8] = {"q8_0x8", 32, 34, 8},
    [KILN_WEIGHT_Q4_0X8] = {"q4_0x8", 32, 18, 8},
    [KILN_WEIGHT_Q4_1X8] = {"q4_1x8", 32, 20, 8},
    [KILN_WEIGHT_KQ4X8] = {"kq4x8", 32, 18, 8},
    [KILN_WEIGHT_Q5_0X8] = {"q5_0x8", 32, 22, 8},
    [KILN_WEIGHT_Q5_1X8] = {"q5_1x8", 32, 24, 8},
};

// Bytes per block of a type (per row's block, for the interleaved layouts: a group block is 8).
static inline int kiln_block_bytes(int32_t type) { return kiln_weight_types[type].block_bytes; }

void kiln_rms_norm_generic(const float *x, const float *weight, int64_t n, float eps, float *out);
void kiln_layer_norm_generic(const float *x, const float *weight, const float *bias, int64_t n, float eps, float *out);
void kiln_softmax_generic(float *x, int64_t n);
void kiln_gelu_generic(float *x, int64_t n);
void kiln_silu_generic(float *x, int64_t n);
void kiln_swiglu_generic(float *gate, const float *up, int64_t n);
void kiln_f16_to_f32_generic(const uint16_t *src, float *dst, int64_t n);
void kiln_f32_to_f16_generic(const float *src, uint16_t *dst, int64_t n);
void kiln_bf16_to_f32_generic(const uint16_t *src, float *dst, int64_t n);
void kiln_f32_to_bf16_generic(const float *src, uint16_t *dst, int64_t n);
float kiln_stream_sum_generic(const float *p, int64_t n);
void kiln_flash_tile_generic(const kiln_flash_tile *tile);
#if defined(__x86_64__)
void kiln_flash_tile_avx2(const kiln_flash_tile *tile);
void kiln_flash_tile_avx512(const kiln_flash_tile *tile);
#endif

// A spin-wait's pause between polls.
static inline void kiln_cpu_relax(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

// Hides a value from the optimiser, so a loop-invariant probe operation is not hoisted.
#define KILN_OPAQUE(v) __asm__ volatile("" : "+x"(v))

// ---- scalar helpers -------------------------------------------------------------------------

static inline uint16_t kiln_load_u16(const void *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static inline int32_t kiln_load_i32(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

// IEEE binary16 → binary32, exact, without branches so loops over it vectorise: the magnitude
// bits shifted into place and scaled by 2^112 give every finite half exactly (subnormal halves
// become normal floats); infinities and NaNs (payload kept) are patched in. Bit-identical to
// Swift's HalfPrecision.floatFromHalf for all 65,536 inputs (checked by the tests).
static inline float kiln_half_to_float(uint16_t h) {
    const uint32_t magnitude = (uint32_t)(h & 0x7FFF) << 13;
    float f;
    memcpy(&f, &magnitude, 4);
    f *= 0x1p112f;
    uint32_t bits;
    memcpy(&bits, &f, 4);
    bits = (h & 0x7C00) == 0x7C00 ? (0x7F800000u | magnitude) : bits;
    bits |= (uint32_t)(h & 0x8000) << 16;
    memcpy(&f, &bits, 4);
    return f;
}

// binary32 → binary16, round to nearest even, overflow to infinity, NaN kept quiet.
static inline uint16_t kiln_float_to_half(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    int exponent = (int)((x >> 23) & 0xFF);
    uint32_t mantissa = x & 0x7FFFFF;
    if (exponent == 0xFF) return sign | 0x7C00 | (mantissa != 0 ? (uint16_t)(0x200 | (mantissa >> 13)) : 0);
    int e = exponent - 127 + 15;
    if (e >= 0x1F) return sign | 0x7C00;
    if (e <= 0) {
        if (e < -10) return sign;
        uint32_t full = mantissa | 0x800000;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t half = full >> shift;
        uint32_t remainder = full & ((1u << shift) - 1);
        uint32_t halfway = 1u << (shift - 1);
        if (remainder > halfway || (remainder == halfway && (half & 1))) half += 1;
        return sign | (uint16_t)half;
    }
    uint32_t half = ((uint32_t)e << 10) | (mantissa >> 13);
    uint32_t remainder = mantissa & 0x1FFF;
    if (remainder > 0x1000 || (remainder == 0x1000 && (half & 1))) half += 1;
    return sign | (uint16_t)half;
}

static inline float kiln_bf16_to_float(uint16_t b) {
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

// binary32 → bfloat16, round to nearest even; NaN stays NaN (quiet).
static inline uint16_t kiln_float_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7FFFFFFF) > 0x7F800000) return (uint16_t)((x >> 16) | 0x40);
    return (uint16_t)((x + 0x7FFF + ((x >> 16) & 1)) >> 16);
}

// Per-thread scratch that grows and is kept between calls, freed at thread exit (scratch.c): one
// buffer per slot, 64-byte aligned, at least `bytes`. Aborts if memory runs out.
enum { KILN_SCRATCH_ACTIVATIONS, KILN_SCRATCH_ATTENTION, KILN_SCRATCH_ATTENTION_SPLITS, KILN_SCRATCH_SLOTS };
void *kiln_scratch(int slot, size_t bytes);

#endif
