// The portable tier's matrix kernels: plain C that any compiler builds at the baseline ISA (no
// flags). Loops are shaped so the auto-vectoriser can use SSE2/NEON; the AVX2 and NEON tiers
// are held to the same Swift reference as this code.
#include "kiln_internal.h"
#include <math.h>

void kiln_quantize_generic(const float *x, int64_t cols, int8_t *q, float *d, int32_t *sum) {
    for (int64_t b = 0; b < cols / KILN_BLOCK; b++) {
        const float *xb = x + b * KILN_BLOCK;
        float amax = 0;
        for (int j = 0; j < KILN_BLOCK; j++) amax = fmaxf(amax, fabsf(xb[j]));
        const float inverse = amax > 0 ? 127.0f / amax : 0.0f;
        int32_t s = 0;
        for (int j = 0; j < KILN_BLOCK; j++) {
            const int v = (int)nearbyintf(xb[j] * inverse);
            q[b * KILN_BLOCK + j] = (int8_t)v;
            s += v;
        }
        d[b] = amax / 127.0f;
        sum[b] = s;
    }
}

// ---- float weights ---------------------------------------------------------------------------

static KILN_ALWAYS_INLINE float load_weight(const void *w, int64_t i, int32_t type) {
    switch (type) {
    case KILN_WEIGHT_F16: return kiln_half_to_float(((const uint16_t *)w)[i]);
    case KILN_WEIGHT_BF16: return kiln_bf16_to_float(((const uint16_t *)w)[i]);
    default: return ((const float *)w)[i];
    }
}

// Eight partial sums let the compiler vectorise without reassociating a single sum.
static KILN_ALWAYS_INLINE void float_rows(const kiln_matmul_args *a, int64_t r0, int64_t r1, int32_t type) {
    const size_t element = type == KILN_WEIGHT_F32 ? 4 : 2;
    float row[256];
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *w = (const uint8_t *)a->w + (size_t)(r * a->row_stride) * element;
        float total[64]; // up to 64 batch rows at once share each converted chunk
        for (int64_t b0 = 0; b0 < a->batch; b0 += 64) {
            const int64_t nb = a->batch - b0 < 64 ? a->batch - b0 : 64;
            memset(total, 0, sizeof total);
            for (int64_t k0 = 0; k0 < a->cols; k0 += 256) {
                const int64_t n = a->cols - k0 < 256 ? a->cols - k0 : 256;
                for (int64_t k = 0; k < n; k++) row[k] = load_weight(w, k0 + k, type);
                for (int64_t b = 0; b < nb; b++) {
                    const float *x = a->x + (b0 + b) * a->cols + k0;
                    float acc[8] = {0};
                    int64_t k = 0;
                    for (; k + 8 <= n; k += 8)
                        for (int l = 0; l < 8; l++) acc[l] += row[k + l] * x[k + l];
                    for (; k < n; k++) acc[0] += row[k] * x[k];
                    total[b] += ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
                }
            }
            for (int64_t b = 0; b < nb; b++) a->y[(b0 + b) * a->rows + r] = total[b];
        }
    }
}

static void rows_f32(const kiln_matmul_args *a, int64_t r0, int64_t r1) { float_rows(a, r0, r1, KILN_WEIGHT_F32); }
static void rows_f16(const kiln_matmul_args *a, int64_t r0, int64_t r1) { float_rows(a, r0, r1, KILN_WEIGHT_F16); }
static void rows_bf16(const kiln_matmul_args *a, int64_t r0, int64_t r1) { float_rows(a, r0, r1, KILN_WEIGHT_BF16); }

// ---- quantised weights, row-major blocks -------------------------------------------------------
// Integer dot per block, then scale: y = Σ_b d_w·d_x·Σ q_w q_x (q4_0 codes are nibble − 8, taken as
// Σ n·q_x − 8·Σq_x), and for q4_1 also + m·d_x·Σq_x. q5_0 / q5_1 are q4_0 / q4_1 with a fifth bit
// per value, bit j of the 32-bit `qh` for value j, and an offset of 16.

static KILN_ALWAYS_INLINE void quant_rows(const kiln_matmul_args *a, int64_t r0, int64_t r1, int32_t type) {
    const int64_t nb = a->cols / KILN_BLOCK;
    const int q5 = type == KILN_WEIGHT_Q5_0 || type == KILN_WEIGHT_Q5_1;
    const int minimum = type == KILN_WEIGHT_Q4_1 || type == KILN_WEIGHT_Q5_1;
    const size_t block_bytes = (size_t)kiln_block_bytes(type);
    // Where the nibbles start: after d (and m), and for q5 the 32-bit qh.
    const size_t quants = 2 + (minimum ? 2 : 0) + (q5 ? 4 : 0);
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)a->w + (size_t)(r * nb) * block_bytes;
        for (int64_t b = 0; b < a->batch; b++) {
            const int8_t *xq = a->xq + b * a->cols;
            const float *xd = a->xd + b * nb;
            const int32_t *xs = a->xsum + b * nb;
            float acc = 0;
            for (int64_t i = 0; i < nb; i++) {
                const uint8_t *block = row + i * block_bytes;
                const int8_t *x = xq + i * KILN_BLOCK;
                const float d = kiln_half_to_float(kiln_load_u16(block));
                int32_t dot = 0;
                if (type == KILN_WEIGHT_Q8_0) {
                    const int8_t *q = (const int8_t *)(block + 2);
                    for (int j = 0; j < 32; j++) dot += q[j] * x[j];
                    acc += d * xd[i] * (float)dot;
                } else {
                    const uint8_t *qs = block + quants;
                    const uint32_t qh = q5 ? (uint32_t)kiln_load_i32(block + quants - 4) : 0;
                    for (int j = 0; j < 16; j++) {
                        const int low = (qs[j] & 15) | (int)((qh >> j) & 1) << 4;
                        const int high = (qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
                        dot += low * x[j] + high * x[j + 16];
                    }
                    if (!minimum) {
                        acc += d * xd[i] * (float)(dot - (q5 ? 16 : 8) * xs[i]);
                    } else {
                        const float m = kiln_half_to_float(kiln_load_u16(block + 2));
                        acc += d * xd[i] * (float)dot + m * (xd[i] * (float)xs[i]);
                    }
                }
            }
            a->y[b * a->rows + r] = acc;
        }
    }
}

// kq4 (docs/FORMAT.md §7.3): int8 grid levels, a scale per 16 values; scale(e) = M[e mod 8] ·
// 2^(⌊e/8⌋ − 28), built exactly from the exponent bits as the decoder computes it.
const int8_t kiln_kq4_grid[16] = {-127, -102, -82, -64, -48, -34, -20, -6, 6, 20, 34, 48, 64, 82, 102, 127};
const uint8_t kiln_kq4_grid_biased[16] = {1, 26, 46, 64, 80, 94, 108, 122, 134, 148, 162, 176, 192, 210, 230, 255};
const float kiln_kq4_mantissa[8] = {0x1.000000p+0f, 0x1.172b84p+0f, 0x1.306fe0p+0f, 0x1.4bfdaep+0f,
                                      0x1.6a09e6p+0f, 0x1.8ace54p+0f, 0x1.ae89fap+0f, 0x1.d5818ep+0f};
const float kiln_kq4_mantissa_scaled[8] = {0x1.000000p-28f, 0x1.172b84p-28f, 0x1.306fe0p-28f, 0x1.4bfdaep-28f,
                                           0x1.6a09e6p-28f, 0x1.8ace54p-28f, 0x1.ae89fap-28f, 0x1.d5818ep-28f};

void kiln_rows_generic_kq4(const kiln_matmul_args *a, int64_t r0, int64_t r1) {
    const int64_t nb = a->cols / KILN_BLOCK;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)a->w + (size_t)(r * nb) * 18;
        for (int64_t b = 0; b < a->batch; b++) {
            const int8_t *xq = a->xq + b * a->cols;
            float acc = 0;
            for (int64_t i = 0; i < nb; i++) {
                const uint8_t *block = row + i * 18;
                const int8_t *x = xq + i * KILN_BLOCK;
                int32_t low = 0, high = 0;
                for (int j = 0; j < 16; j++) {
                    low += kiln_kq4_grid[block[2 + j] & 15] * x[j];
                    high += kiln_kq4_grid[block[2 + j] >> 4] * x[j + 16];
                }
                acc += a->xd[b * nb + i] * (kiln_kq4_scale(block[0]) * (float)low + kiln_kq4_scale(block[1]) * (float)high);
            }
            a->y[b * a->rows + r] = acc;
        }
    }
}

void kiln_rows_generic_q8_0(const kiln_matmul_args *a, int64_t r0, int64_t r1) { quant_rows(a, r0, r1, KILN_WEIGHT_Q8_0); }
void kiln_rows_generic_q4_0(const kiln_matmul_args *a, int64_t r0, int64_t r1) { quant_rows(a, r0, r1, KILN_WEIGHT_Q4_0); }
void kiln_rows_generic_q4_1(const kiln_matmul_args *a, int64_t r0, int64_t r1) { quant_rows(a, r0, r1, KILN_WEIGHT_Q4_1); }
void kiln_rows_generic_q5_0(const kiln_matmul_args *a, int64_t r0, int64_t r1) { quant_rows(a, r0, r1, KILN_WEIGHT_Q5_0); }
void kiln_rows_generic_q5_1(const kiln_matmul_args *a, int64_t r0, int64_t r1) { quant_rows(a, r0, r1, KILN_WEIGHT_Q5_1); }

// ---- quantised weights, interleaved groups of 8 rows (docs/FORMAT.md §7.4) ---------------------
// A group block: the 8 rows' header fields (d, then m for the _1 types, 2 bytes each; kq4's two
// exponent bytes), then the rest of the base block in 4-byte chunks, chunk t of row r at
// (t·8 + r)·4 — for q5 chunk 0 is the row's 32-bit qh, then four chunks of nibbles. Each row is
// summed exactly as the row-major kernels above sum it, so both layouts give the same bits.

static KILN_ALWAYS_INLINE void group_rows(const kiln_matmul_args *a, int64_t r0, int64_t r1, int32_t type) {
    const int64_t nb = a->cols / KILN_BLOCK;
    const int q5 = type == KILN_WEIGHT_Q5_0X8 || type == KILN_WEIGHT_Q5_1X8;
    const int minimum = type == KILN_WEIGHT_Q4_1X8 || type == KILN_WEIGHT_Q5_1X8;
    const int kq4 = type == KILN_WEIGHT_KQ4X8;
    const int header = minimum ? 4 : 2; // bytes per row
    const size_t group_bytes = KILN_GROUP_ROWS * (size_t)kiln_block_bytes(type);
    for (int64_t g = r0 / KILN_GROUP_ROWS; g * KILN_GROUP_ROWS < r1; g++) {
        const uint8_t *group = (const uint8_t *)a->w + (size_t)(g * nb) * group_bytes;
        const int valid = (int)(a->rows - g * KILN_GROUP_ROWS < KILN_GROUP_ROWS ? a->rows - g * KILN_GROUP_ROWS : KILN_GROUP_ROWS);
        for (int64_t b = 0; b < a->batch; b++) {
            const int8_t *xq = a->xq + b * a->cols;
            const float *xd = a->xd + b * nb;
            const int32_t *xs = a->xsum + b * nb;
            float acc[KILN_GROUP_ROWS] = {0};
            for (int64_t i = 0; i < nb; i++) {
                const uint8_t *block = group + i * group_bytes;
                const uint8_t *quants = block + header * KILN_GROUP_ROWS + (q5 ? 32 : 0);
                const int8_t *x = xq + i * KILN_BLOCK;
                int32_t dot[KILN_GROUP_ROWS] = {0}, high_dot[KILN_GROUP_ROWS] = {0};
                if (type == KILN_WEIGHT_Q8_0X8) {
                    for (int t = 0; t < 8; t++)
                        for (int r = 0; r < KILN_GROUP_ROWS; r++)
                            for (int j = 0; j < 4; j++) dot[r] += (int8_t)quants[(t * 8 + r) * 4 + j] * x[4 * t + j];
                } else {
                    for (int r = 0; r < KILN_GROUP_ROWS; r++) {
                        const uint32_t qh = q5 ? (uint32_t)kiln_load_i32(block + header * KILN_GROUP_ROWS + 4 * r) : 0;
                        for (int t = 0; t < 4; t++)
                            for (int j = 0; j < 4; j++) {
                                const uint8_t v = quants[(t * 8 + r) * 4 + j];
                                const int k = 4 * t + j;
                                if (kq4) {
                                    dot[r] += kiln_kq4_grid[v & 15] * x[k];
                                    high_dot[r] += kiln_kq4_grid[v >> 4] * x[16 + k];
                                } else {
                                    const int low = (v & 15) | (int)((qh >> k) & 1) << 4;
                                    const int high = (v >> 4) | (int)((qh >> (k + 16)) & 1) << 4;
                                    dot[r] += low * x[k] + high * x[16 + k];
                                }
                            }
                    }
                }
                for (int r = 0; r < KILN_GROUP_ROWS; r++) {
                    if (kq4) {
                        acc[r] += xd[i] * (kiln_kq4_scale(block[2 * r]) * (float)dot[r] + kiln_kq4_scale(block[2 * r + 1]) * (float)high_dot[r]);
                        continue;
                    }
                    const float d = kiln_half_to_float(kiln_load_u16(block + 2 * r));
                    if (type == KILN_WEIGHT_Q4_0X8 || type == KILN_WEIGHT_Q5_0X8) {
                        acc[r] += d * xd[i] * (float)(dot[r] - (q5 ? 16 : 8) * xs[i]);
                    } else if (type == KILN_WEIGHT_Q8_0X8) {
                        acc[r] += d * xd[i] * (float)dot[r];
                    } else {
                        const float m = kiln_half_to_float(kiln_load_u16(block + 16 + 2 * r));
                        acc[r] += d * xd[i] * (float)dot[r] + m * (xd[i] * (float)xs[i]);
                    }
                }
            }
            for (int r = 0; r < valid; r++) a->y[b * a->rows + g * KILN_GROUP_ROWS + r] = acc[r];
        }
    }
}

void kiln_rows_generic_q8_0x8(const kiln_matmul_args *a, int64_t r0, int64_t r1) { group_rows(a, r0, r1, KILN_WEIGHT_Q8_0X8); }
void kiln_rows_generic_q4_0x8(const kiln_matmul_args *a, int64_t r0, int64_t r1) { group_rows(a, r0, r1, KILN_WEIGHT_Q4_0X8); }
void kiln_rows_generic_q4_1x8(const kiln_matmul_args *a, int64_t r0, int64_t r1) { group_rows(a, r0, r1, KILN_WEIGHT_Q4_1X8); }
void kiln_rows_generic_kq4x8(const kiln_matmul_args *a, int64_t r0, int64_t r1) { group_rows(a, r0, r1, KILN_WEIGHT_KQ4X8); }
void kiln_rows_generic_q5_0x8(const kiln_matmul_args *a, int64_t r0, int64_t r1) { group_rows(a, r0, r1, KILN_WEIGHT_Q5_0X8); }
void kiln_rows_generic_q5_1x8(const kiln_matmul_args *a, int64_t r0, int64_t r1) { group_rows(a, r0, r1, KILN_WEIGHT_Q5_1X8); }

// ---- the table -----------------------------------------------------------------------------------

const kiln_ops kiln_ops_generic = {
    .name = "portable",
    .quantize = kiln_quantize_generic,
    .rows = {
        [KILN_WEIGHT_F32] = rows_f32,
        [KILN_WEIGHT_F16] = rows_f16,
        [KILN_WEIGHT_BF16] = rows_bf16,
        [KILN_WEIGHT_Q8_0] = kiln_rows_generic_q8_0,
        [KILN_WEIGHT_Q4_0] = kiln_rows_generic_q4_0,
        [KILN_WEIGHT_Q4_1] = kiln_rows_generic_q4_1,
        [KILN_WEIGHT_Q8_0X8] = kiln_rows_generic_q8_0x8,
        [KILN_WEIGHT_Q4_0X8] = kiln_rows_generic_q4_0x8,
        [KILN_WEIGHT_Q4_1X8] = kiln_rows_generic_q4_1x8,
        KILN_GENERIC_SECOND_WAVE_ROWS,
        KILN_GENERIC_SECOND_WAVE_X8,
    },
    .rms_norm = kiln_rms_norm_generic,
    .layer_norm = kiln_layer_norm_generic,
    .softmax = kiln_softmax_generic,
    .rope = kiln_rope_generic,
    .gelu = kiln_gelu_generic,
    .silu = kiln_silu_generic,
    .swiglu = kiln_swiglu_generic,
    .flash_tile = kiln_flash_tile_generic,
    .f16_to_f32 = kiln_f16_to_f32_generic,
    .f32_to_f16 = kiln_f32_to_f16_generic,
    .bf16_to_f32 = kiln_bf16_to_f32_generic,
    .f32_to_bf16 = kiln_f32_to_bf16_generic,
    .stream_sum = kiln_stream_sum_generic,
};
