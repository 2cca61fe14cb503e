// The NEON tier's matrix kernels (arm64). Float kernels use plain Advanced SIMD, present on
// every arm64 CPU; the quantised kernels need SDOT (FEAT_DotProd, `target("dotprod")`), and on a
// CPU without it the tier uses the portable C for them (`kiln_ops_neon`).
//
// The interleaved layouts (docs/FORMAT.md §7.4) fit SDOT exactly: a 16-byte load holds 4 quant
// bytes of each of 4 rows, and `vdotq_laneq_s32` against one 4-byte lane of the activations
// leaves each row's partial dot in its own lane, as `maddubs` does on AVX2.
#if defined(__aarch64__)
#include "kiln_internal.h"
#include <arm_neon.h>

#define DOTPROD __attribute__((target("dotprod")))

static inline float32x4_t half4(const void *p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)p))); }

static inline float32x4_t bf16x4(const void *p) {
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16((const uint16_t *)p), 16));
}

// ---- activation quantisation ----------------------------------------------------------------------

static void quantize(const float *x, int64_t cols, int8_t *q, float *d, int32_t *sum) {
    for (int64_t b = 0; b < cols / KILN_BLOCK; b++) {
        const float *xb = x + b * KILN_BLOCK;
        float32x4_t v[8];
        float32x4_t m = vdupq_n_f32(0);
        for (int j = 0; j < 8; j++) {
            v[j] = vld1q_f32(xb + 4 * j);
            m = vmaxq_f32(m, vabsq_f32(v[j]));
        }
        const float amax = vmaxvq_f32(m);
        const float inverse = amax > 0 ? 127.0f / amax : 0.0f;
        int32x4_t s = vdupq_n_s32(0);
        int16x8_t h[4];
        for (int j = 0; j < 4; j++) {
            // vcvtnq rounds to nearest even, as nearbyintf does.
            const int32x4_t i0 = vcvtnq_s32_f32(vmulq_n_f32(v[2 * j], inverse));
            const int32x4_t i1 = vcvtnq_s32_f32(vmulq_n_f32(v[2 * j + 1], inverse));
            s = vaddq_s32(s, vaddq_s32(i0, i1));
            h[j] = vcombine_s16(vqmovn_s32(i0), vqmovn_s32(i1));
        }
        vst1q_s8(q + b * KILN_BLOCK, vcombine_s8(vqmovn_s16(h[0]), vqmovn_s16(h[1])));
        vst1q_s8(q + b * KILN_BLOCK + 16, vcombine_s8(vqmovn_s16(h[2]), vqmovn_s16(h[3])));
        d[b] = amax / 127.0f;
        sum[b] = vaddvq_s32(s);
    }
}

// ---- float weights -----------------------------------------------------------------------------------

static KILN_ALWAYS_INLINE float32x4_t load4(const void *w, int64_t k, int32_t type) {
    if (type == KILN_WEIGHT_F16) return half4((const uint16_t *)w + k);
    if (type == KILN_WEIGHT_BF16) return bf16x4((const uint16_t *)w + k);
    return vld1q_f32((const float *)w + k);
}

static KILN_ALWAYS_INLINE float load1(const void *w, int64_t k, int32_t type) {
    if (type == KILN_WEIGHT_F16) return kiln_half_to_float(((const uint16_t *)w)[k]);
    if (type == KILN_WEIGHT_BF16) return kiln_bf16_to_float(((const uint16_t *)w)[k]);
    return ((const float *)w)[k];
}

// Four rows against one or two activation rows.
static KILN_ALWAYS_INLINE void float_tile(const uint8_t *w, size_t row_bytes, int64_t cols, const float *x0,
                                          const float *x1, int nx, int32_t type, float *out0, float *out1) {
    float32x4_t a[4][2], b[4][2];
    for (int r = 0; r < 4; r++)
        for (int u = 0; u < 2; u++) a[r][u] = b[r][u] = vdupq_n_f32(0);
    int64_t k = 0;
    for (; k + 8 <= cols; k += 8) {
        for (int u = 0; u < 2; u++) {
            const float32x4_t x = vld1q_f32(x0 + k + 4 * u);
            const float32x4_t y = nx == 2 ? vld1q_f32(x1 + k + 4 * u) : x;
            for (int r = 0; r < 4; r++) {
                const float32x4_t v = load4(w + r * row_bytes, k + 4 * u, type);
                a[r][u] = vfmaq_f32(a[r][u], v, x);
                if (nx == 2) b[r][u] = vfmaq_f32(b[r][u], v, y);
            }
        }
    }
    for (int r = 0; r < 4; r++) {
        float s = vaddvq_f32(vaddq_f32(a[r][0], a[r][1])), t = vaddvq_f32(vaddq_f32(b[r][0], b[r][1]));
        for (int64_t j = k; j < cols; j++) {
            const float v = load1(w + r * row_bytes, j, type);
            s += v * x0[j];
            if (nx == 2) t += v * x1[j];
        }
        out0[r] = s;
        if (nx == 2) out1[r] = t;
    }
}

static KILN_ALWAYS_INLINE float float_dot(const uint8_t *w, int64_t cols, const float *x, int32_t type) {
    float32x4_t a = vdupq_n_f32(0), b = a;
    int64_t k = 0;
    for (; k + 8 <= cols; k += 8) {
        a = vfmaq_f32(a, load4(w, k, type), vld1q_f32(x + k));
        b = vfmaq_f32(b, load4(w, k + 4, type), vld1q_f32(x + k + 4));
    }
    float s = vaddvq_f32(vaddq_f32(a, b));
    for (; k < cols; k++) s += load1(w, k, type) * x[k];
    return s;
}

static KILN_ALWAYS_INLINE void float_rows(const kiln_matmul_args *a, int64_t r0, int64_t r1, int32_t type) {
    const size_t row_bytes = (size_t)a->row_stride * (type == KILN_WEIGHT_F32 ? 4 : 2);
    const uint8_t *w = a->w;
    int64_t r = r0;
    for (; r + 4 <= r1; r += 4) {
        int64_t b = 0;
        for (; b + 2 <= a->batch; b += 2) {
            float o0[4], o1[4];
            float_tile(w + r * row_bytes, row_bytes, a->cols, a->x + b * a->cols, a->x + (b + 1) * a->cols, 2, type, o0, o1);
            memcpy(a->y + b * a->rows + r, o0, sizeof o0);
            memcpy(a->y + (b + 1) * a->rows + r, o1, sizeof o1);
        }
        if (b < a->batch) {
            float o0[4];
            float_tile(w + r * row_bytes, row_bytes, a->cols, a->x + b * a->cols, NULL, 1, type, o0, NULL);
            memcpy(a->y + b * a->rows + r, o0, sizeof o0);
        }
    }
    for (; r < r1; r++)
        for (int64_t b = 0; b < a->batch; b++) a->y[b * a->rows + r] = float_dot(w + r * row_bytes, a->cols, a->x + b * a->cols, type);
}

static void rows_f32(const kiln_matmul_args *a, int64_t r0, int64_t r1) { float_rows(a, r0, r1, KILN_WEIGHT_F32); }
static void rows_f16(const kiln_matmul_args *a, int64_t r0, int64_t r1) { float_rows(a, r0, r1, KILN_WEIGHT_F16); }
static void rows_bf16(const kiln_matmul_args *a, int64_t r0, int64_t r1) { float_rows(a, r0, r1, KILN_WEIGHT_BF16); }

// ---- quantised weights, row-major blocks (GGUF layouts) ------------------------------------------------

DOTPROD static KILN_ALWAYS_INLINE void quant_rows(const kiln_matmul_args *a, int64_t r0, int64_t r1, int32_t type) {
    const int64_t nb = a->cols / KILN_BLOCK;
    const size_t block_bytes = (size_t)kiln_block_bytes(type);
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)a->w + (size_t)(r * nb) * block_bytes;
        for (int64_t b = 0; b < a->batch; b++) {
            const int8_t *xq = a->xq + b * a->cols;
            const float *xd = a->xd + b * nb;
            const int32_t *xs = a->xsum + b * nb;
            float32x4_t acc = vdupq_n_f32(0);
            float scalar_terms = 0;
            for (int64_t i = 0; i < nb; i++) {
                const uint8_t *block = row + i * block_bytes;
                const int8x16_t x0 = vld1q_s8(xq + i * KILN_BLOCK), x1 = vld1q_s8(xq + i * KILN_BLOCK + 16);
                const float scale = kiln_half_to_float(kiln_load_u16(block)) * xd[i];
                int32x4_t dot = vdupq_n_s32(0);
                if (type == KILN_WEIGHT_Q8_0) {
                    dot = vdotq_s32(dot, vld1q_s8((const int8_t *)block + 2), x0);
                    dot = vdotq_s32(dot, vld1q_s8((const int8_t *)block + 18), x1);
                } else {
                    const uint8x16_t v = vld1q_u8(block + (type == KILN_WEIGHT_Q4_0 ? 2 : 4));
                    dot = vdotq_s32(dot, vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0x0F))), x0);
                    dot = vdotq_s32(dot, vreinterpretq_s8_u8(vshrq_n_u8(v, 4)), x1);
                    if (type == KILN_WEIGHT_Q4_0) scalar_terms -= scale * (float)(8 * xs[i]);
                    else scalar_terms += kiln_half_to_float(kiln_load_u16(block + 2)) * (xd[i] * (float)xs[i]);
                }
                acc = vfmaq_n_f32(acc, vcvtq_f32_s32(dot), scale);
            }
            a->y[b * a->rows + r] = vaddvq_f32(acc) + scalar_terms;
        }
    }
}

DOTPROD static void rows_q8_0(const kiln_matmul_args *a, int64_t r0, int64_t r1) { quant_rows(a, r0, r1, KILN_WEIGHT_Q8_0); }
DOTPROD static void rows_q4_0(const kiln_matmul_args *a, int64_t r0, int64_t r1) { quant_rows(a, r0, r1, KILN_WEIGHT_Q4_0); }
DOTPROD static void rows_q4_1(const kiln_matmul_args *a, int64_t r0, int64_t r1) { quant_rows(a, r0, r1, KILN_WEIGHT_Q4_1); }

// ---- quantised weights, interleaved groups of 8 rows ---------------------------------------------------

// SDOT of chunk t (rows 0–3 in `lo`, rows 4–7 in `hi`) against activation bytes 4t…4t+3, which are
// lane t%4 of x[t/4]. The lane must be a constant, hence the switch the compiler unrolls away.
#define DOT_LANE(acc, w, x, lane) vdotq_laneq_s32(acc, w, x, lane)
DOTPROD static KILN_ALWAYS_INLINE int32x4_t dot_lane(int32x4_t acc, int8x16_t w, int8x16_t x, int lane) {
    switch (lane) {
    case 0: return DOT_LANE(acc, w, x, 0);
    case 1: return DOT_LANE(acc, w, x, 1);
    case 2: return DOT_LANE(acc, w, x, 2);
    default: return DOT_LANE(acc, w, x, 3);
    }
}

DOTPROD static KILN_ALWAYS_INLINE void group_tile(const uint8_t *group, int64_t nb, const kiln_matmul_args *a,
                                                  const int64_t *xrow, int NX, int32_t type, float32x4_t acc[][2]) {
    const size_t group_bytes = KILN_GROUP_ROWS * (size_t)kiln_block_bytes(type);
    const int q5 = type == KILN_WEIGHT_Q5_0X8 || type == KILN_WEIGHT_Q5_1X8;
    const int minimum = type == KILN_WEIGHT_Q4_1X8 || type == KILN_WEIGHT_Q5_1X8;
    const int kq4 = type == KILN_WEIGHT_KQ4X8;
    const int header = minimum ? 32 : 16;
    const int8x16_t grid = vld1q_s8(kiln_kq4_grid);
    // q5's fifth bits: byte j of lane r tests bit j of that lane's byte 0 (low nibbles) or 2 (high).
    const uint8x16_t spread_low = {0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12};
    const uint8x16_t spread_high = {2, 2, 2, 2, 6, 6, 6, 6, 10, 10, 10, 10, 14, 14, 14, 14};
    const uint8x16_t bit = {1, 2, 4, 8, 1, 2, 4, 8, 1, 2, 4, 8, 1, 2, 4, 8};
    const int8_t *xq[4];
    const float *xd[4];
    const int32_t *xs[4];
    for (int i = 0; i < NX; i++) {
        xq[i] = a->xq + xrow[i] * a->cols;
        xd[i] = a->xd + xrow[i] * nb;
        xs[i] = a->xsum + xrow[i] * nb;
        acc[i][0] = acc[i][1] = vdupq_n_f32(0);
    }
    for (int64_t blk = 0; blk < nb; blk++) {
        const uint8_t *block = group + blk * group_bytes;
        const uint8_t *quants = block + header + (q5 ? 32 : 0);
        int32x4_t dot[4][2], high_dot[4][2];
        int8x16_t x[4][2];
        for (int i = 0; i < NX; i++) {
            dot[i][0] = dot[i][1] = high_dot[i][0] = high_dot[i][1] = vdupq_n_s32(0);
            x[i][0] = vld1q_s8(xq[i] + blk * KILN_BLOCK);
            x[i][1] = vld1q_s8(xq[i] + blk * KILN_BLOCK + 16);
        }
        if (type == KILN_WEIGHT_Q8_0X8) {
            for (int t = 0; t < 8; t++)
                for (int h = 0; h < 2; h++) {
                    const int8x16_t w = vld1q_s8((const int8_t *)quants + 32 * t + 16 * h);
                    for (int i = 0; i < NX; i++) dot[i][h] = dot_lane(dot[i][h], w, x[i][t / 4], t % 4);
                }
        } else {
            for (int t = 0; t < 4; t++)
                for (int h = 0; h < 2; h++) {
                    const uint8x16_t v = vld1q_u8(quants + 32 * t + 16 * h);
                    int8x16_t lo = vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0x0F)));
                    int8x16_t hi = vreinterpretq_s8_u8(vshrq_n_u8(v, 4));
                    if (kq4) { // nibbles → signed grid levels: SDOT takes them as they are
                        lo = vqtbl1q_s8(grid, vreinterpretq_u8_s8(lo));
                        hi = vqtbl1q_s8(grid, vreinterpretq_u8_s8(hi));
                    }
                    if (q5) { // rows 4h…4h+3's qh, shifted so bit 4t + j is bit j of byte 0
                        const uint8x16_t qh = vreinterpretq_u8_u32(vshlq_u32(vld1q_u32((const uint32_t *)(block + header + 16 * h)),
                                                                             vdupq_n_s32(-4 * t)));
                        const uint8x16_t ten = vdupq_n_u8(0x10);
                        lo = vorrq_s8(lo, vreinterpretq_s8_u8(vandq_u8(vtstq_u8(vqtbl1q_u8(qh, spread_low), bit), ten)));
                        hi = vorrq_s8(hi, vreinterpretq_s8_u8(vandq_u8(vtstq_u8(vqtbl1q_u8(qh, spread_high), bit), ten)));
                    }
                    for (int i = 0; i < NX; i++) {
                        dot[i][h] = dot_lane(dot[i][h], lo, x[i][0], t);
                        if (kq4) high_dot[i][h] = dot_lane(high_dot[i][h], hi, x[i][1], t);
                        else dot[i][h] = dot_lane(dot[i][h], hi, x[i][1], t);
                    }
                }
        }
        if (kq4) {
            float s_low[8], s_high[8];
            for (int r = 0; r < 8; r++) {
                s_low[r] = kiln_kq4_scale(block[2 * r]);
                s_high[r] = kiln_kq4_scale(block[2 * r + 1]);
            }
            for (int i = 0; i < NX; i++)
                for (int h = 0; h < 2; h++) {
                    acc[i][h] = vfmaq_f32(acc[i][h], vcvtq_f32_s32(dot[i][h]), vmulq_n_f32(vld1q_f32(s_low + 4 * h), xd[i][blk]));
                    acc[i][h] = vfmaq_f32(acc[i][h], vcvtq_f32_s32(high_dot[i][h]), vmulq_n_f32(vld1q_f32(s_high + 4 * h), xd[i][blk]));
                }
            continue;
        }
        const float32x4_t d[2] = {half4(block), half4(block + 8)};
        for (int i = 0; i < NX; i++)
            for (int h = 0; h < 2; h++) {
                int32x4_t v = dot[i][h];
                if (type == KILN_WEIGHT_Q4_0X8) v = vsubq_s32(v, vdupq_n_s32(8 * xs[i][blk]));
                if (type == KILN_WEIGHT_Q5_0X8) v = vsubq_s32(v, vdupq_n_s32(16 * xs[i][blk]));
                acc[i][h] = vfmaq_f32(acc[i][h], vcvtq_f32_s32(v), vmulq_n_f32(d[h], xd[i][blk]));
                if (minimum) acc[i][h] = vfmaq_n_f32(acc[i][h], half4(block + 16 + 8 * h), xd[i][blk] * (float)xs[i][blk]);
            }
    }
}

static KILN_ALWAYS_INLINE void store_group(float *y, const float32x4_t v[2], int valid) {
    float t[KILN_GROUP_ROWS];
    vst1q_f32(t, v[0]);
    vst1q_f32(t + 4, v[1]);
    memcpy(y, t, (size_t)valid * sizeof(float));
}

DOTPROD static KILN_ALWAYS_INLINE void group_rows(const kiln_matmul_args *a, int64_t r0, int64_t r1, int32_t type) {
    const int64_t nb = a->cols / KILN_BLOCK;
    const size_t group_bytes = KILN_GROUP_ROWS * (size_t)kiln_block_bytes(type);
    for (int64_t g = r0 / KILN_GROUP_ROWS; g * KILN_GROUP_ROWS < r1; g++) {
        const uint8_t *group = (const uint8_t *)a->w + (size_t)(g * nb) * group_bytes;
        const int64_t row = g * KILN_GROUP_ROWS;
        const int valid = (int)(a->rows - row < KILN_GROUP_ROWS ? a->rows - row : KILN_GROUP_ROWS);
        if (a->batch == 1) {
            const int64_t xrow[1] = {0};
            float32x4_t acc[1][2];
            group_tile(group, nb, a, xrow, 1, type, acc);
            store_group(a->y + row, acc[0], valid);
            continue;
        }
        for (int64_t b = 0; b < a->batch; b += 4) {
            int64_t xrow[4];
            for (int i = 0; i < 4; i++) xrow[i] = b + i < a->batch ? b + i : a->batch - 1;
            float32x4_t acc[4][2];
            group_tile(group, nb, a, xrow, 4, type, acc);
            for (int i = 0; i < 4 && b + i < a->batch; i++) store_group(a->y + (b + i) * a->rows + row, acc[i], valid);
        }
    }
}

DOTPROD static void rows_q8_0x8(const kiln_matmul_args *a, int64_t r0, int64_t r1) { group_rows(a, r0, r1, KILN_WEIGHT_Q8_0X8); }
DOTPROD static void rows_q4_0x8(const kiln_matmul_args *a, int64_t r0, int64_t r1) { group_rows(a, r0, r1, KILN_WEIGHT_Q4_0X8); }
DOTPROD static void rows_q4_1x8(const kiln_matmul_args *a, int64_t r0, int64_t r1) { group_rows(a, r0, r1, KILN_WEIGHT_Q4_1X8); }
DOTPROD static void rows_kq4x8(const kiln_matmul_args *a, int64_t r0, int64_t r1) { group_rows(a, r0, r1, KILN_WEIGHT_KQ4X8); }
DOTPROD static void rows_q5_0x8(const kiln_matmul_args *a, int64_t r0, int64_t r1) { group_rows(a, r0, r1, KILN_WEIGHT_Q5_0X8); }
DOTPROD static void rows_q5_1x8(const kiln_matmul_args *a, int64_t r0, int64_t r1) { group_rows(a, r0, r1, KILN_WEIGHT_Q5_1X8); }

// ---- the tables ------------------------------------------------------------------------------------------

void kiln_rms_norm_neon(const float *x, const float *weight, int64_t n, float eps, float *out);
void kiln_layer_norm_neon(const float *x, const float *weight, const float *bias, int64_t n, float eps, float *out);
void kiln_softmax_neon(float *x, int64_t n);
void kiln_rope_neon(float *x, int64_t heads, int64_t head_dim, int64_t rotary_dims, const float *cs, int32_t mode);
void kiln_gelu_neon(float *x, int64_t n);
void kiln_silu_neon(float *x, int64_t n);
void kiln_swiglu_neon(float *gate, const float *up, int64_t n);
void kiln_f16_to_f32_neon(const uint16_t *src, float *dst, int64_t n);
void kiln_f32_to_f16_neon(const float *src, uint16_t *dst, int64_t n);
void kiln_bf16_to_f32_neon(const uint16_t *src, float *dst, int64_t n);
void kiln_f32_to_bf16_neon(const float *src, uint16_t *dst, int64_t n);
float kiln_stream_sum_neon(const float *p, int64_t n);

#define KILN_NEON_COMMON                                 \
    .quantize = quantize,                                \
    .rms_norm = kiln_rms_norm_neon,                      \
    .layer_norm = kiln_layer_norm_neon,                  \
    .softmax = kiln_softmax_neon,                        \
    .rope = kiln_rope_neon,                              \
    .gelu = kiln_gelu_neon,                              \
    .silu = kiln_silu_neon,                              \
    .swiglu = kiln_swiglu_neon,                          \
    .flash_tile = kiln_flash_tile_generic,               \
    .f16_to_f32 = kiln_f16_to_f32_neon,                  \
    .f32_to_f16 = kiln_f32_to_f16_neon,                  \
    .bf16_to_f32 = kiln_bf16_to_f32_neon,                \
    .f32_to_bf16 = kiln_f32_to_bf16_neon,                \
    .stream_sum = kiln_stream_sum_neon

const kiln_ops kiln_ops_neon_dotprod = {
    .name = "neon",
    .rows = {
        [KILN_WEIGHT_F32] = rows_f32,
        [KILN_WEIGHT_F16] = rows_f16,
        [KILN_WEIGHT_BF16] = rows_bf16,
        [KILN_WEIGHT_Q8_0] = rows_q8_0,
        [KILN_WEIGHT_Q4_0] = rows_q4_0,
        [KILN_WEIGHT_Q4_1] = rows_q4_1,
        [KILN_WEIGHT_Q8_0X8] = rows_q8_0x8,
        [KILN_WEIGHT_Q4_0X8] = rows_q4_0x8,
        [KILN_WEIGHT_Q4_1X8] = rows_q4_1x8,
        // The row-major q5/kq4: the portable C (GGUF q5 blocks are repacked into q5_*x8 at load).
        [KILN_WEIGHT_Q5_0] = kiln_rows_generic_q5_0,
        [KILN_WEIGHT_Q5_1] = kiln_rows_generic_q5_1,
        [KILN_WEIGHT_KQ4] = kiln_rows_generic_kq4,
        [KILN_WEIGHT_Q2_K] = kiln_rows_neon_q2_k,
        [KILN_WEIGHT_Q3_K] = kiln_rows_neon_q3_k,
        [KILN_WEIGHT_Q4_K] = kiln_rows_neon_q4_k,
        [KILN_WEIGHT_Q5_K] = kiln_rows_neon_q5_k,
        [KILN_WEIGHT_Q6_K] = kiln_rows_neon_q6_k,
        [KILN_WEIGHT_KQ4X8] = rows_kq4x8,
        [KILN_WEIGHT_Q5_0X8] = rows_q5_0x8,
        [KILN_WEIGHT_Q5_1X8] = rows_q5_1x8,
    },
    KILN_NEON_COMMON,
};

// Without SDOT the quantised products use the portable C.
const kiln_ops kiln_ops_neon = {
    .name = "neon",
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
        KILN_GENERIC_SECOND_WAVE_ROWS, // no NEON kernels yet: the portable C
        KILN_GENERIC_SECOND_WAVE_X8,
    },
    KILN_NEON_COMMON,
};
#endif
