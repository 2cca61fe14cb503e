// The AVX2 + FMA + F16C tier's matrix kernels (x86-64). Every function carries the target
// attribute, so the file builds with no flags and runs only after kiln_cpu_features() said yes.
//
// The default quantised layouts are the interleaved groups of 8 rows (docs/FORMAT.md §7.4):
// one 32-byte load holds 4 quant bytes of each of 8 rows, so `maddubs` against 4 activation
// bytes broadcast to every lane leaves each row's partial dot in its own 32-bit lane — no
// horizontal sums, one f16→f32 conversion for 8 rows' scales, and the activations' int8 codes
// are reused by all 8 rows. q4 nibbles stay unsigned (0…15, so `maddubs` cannot saturate even
// after 8 partial sums in int16); the −8 offset of q4_0 and the minimum of q4_1 are applied once
// per block through the activation block sums Σq.
#if defined(__x86_64__)
#include "kiln_internal.h"
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma,f16c")))

// ---- helpers --------------------------------------------------------------------------------

AVX2 static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// The four sums of a, b, c, d in one vector.
AVX2 static inline __m128 hsum4(__m256 a, __m256 b, __m256 c, __m256 d) {
    const __m256 ab = _mm256_hadd_ps(a, b), cd = _mm256_hadd_ps(c, d);
    const __m256 abcd = _mm256_hadd_ps(ab, cd);
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

AVX2 static inline __m256i broadcast4(const int8_t *p) { return _mm256_set1_epi32(kiln_load_i32(p)); }

AVX2 static inline float half(const uint8_t *p) { return _cvtsh_ss(kiln_load_u16(p)); }

// ---- activation quantisation ------------------------------------------------------------------

AVX2 static void quantize(const float *x, int64_t cols, int8_t *q, float *d, int32_t *sum) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t b = 0; b < cols / KILN_BLOCK; b++) {
        const float *xb = x + b * KILN_BLOCK;
        __m256 v0 = _mm256_loadu_ps(xb), v1 = _mm256_loadu_ps(xb + 8), v2 = _mm256_loadu_ps(xb + 16),
               v3 = _mm256_loadu_ps(xb + 24);
        __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
                                 _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float amax = _mm_cvtss_f32(m4);
        const __m256 inverse = _mm256_set1_ps(amax > 0 ? 127.0f / amax : 0.0f);
        // cvtps rounds to nearest even (the default MXCSR mode), as nearbyintf does.
        const __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(v0, inverse)), i1 = _mm256_cvtps_epi32(_mm256_mul_ps(v1, inverse)),
                      i2 = _mm256_cvtps_epi32(_mm256_mul_ps(v2, inverse)), i3 = _mm256_cvtps_epi32(_mm256_mul_ps(v3, inverse));
        const __m256i s = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
        // packs interleave the 128-bit lanes; the permute puts the 32 bytes back in order.
        const __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
        _mm256_storeu_si256((__m256i *)(q + b * KILN_BLOCK),
                            _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
        d[b] = amax / 127.0f;
        sum[b] = _mm_cvtsi128_si32(s4);
    }
}

// ---- float weights -------------------------------------------------------------------------------

AVX2 static KILN_ALWAYS_INLINE __m256 load8(const void *w, int64_t k, int32_t type) {
    if (type == KILN_WEIGHT_F16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)w + k)));
    if (type == KILN_WEIGHT_BF16)
        return _mm256_castsi256_ps(
            _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const uint16_t *)w + k))), 16));
    return _mm256_loadu_ps((const float *)w + k);
}

AVX2 static KILN_ALWAYS_INLINE float load1(const void *w, int64_t k, int32_t type) {
    if (type == KILN_WEIGHT_F16) return _cvtsh_ss(((const uint16_t *)w)[k]);
    if (type == KILN_WEIGHT_BF16) return kiln_bf16_to_float(((const uint16_t *)w)[k]);
    return ((const float *)w)[k];
}

// Four rows against one or two activation rows: every weight load feeds `nx` FMAs. Each FMA
// chain waits 4 cycles for the previous one, so with one activation row the loop runs two
// chains per weight row (the b registers) — one chain per row caps f16 at 16 bytes a cycle.
AVX2 static KILN_ALWAYS_INLINE void float_tile(const uint8_t *w, size_t row_bytes, int64_t cols, const float *x0,
                                               const float *x1, int nx, int32_t type, float *out0, float *out1) {
    const uint8_t *w0 = w, *w1 = w + row_bytes, *w2 = w + 2 * row_bytes, *w3 = w + 3 * row_bytes;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    int64_t k = 0;
    if (nx == 1) {
        for (; k + 16 <= cols; k += 16) {
            const __m256 x = _mm256_loadu_ps(x0 + k), y = _mm256_loadu_ps(x0 + k + 8);
            a0 = _mm256_fmadd_ps(load8(w0, k, type), x, a0);
            a1 = _mm256_fmadd_ps(load8(w1, k, type), x, a1);
            a2 = _mm256_fmadd_ps(load8(w2, k, type), x, a2);
            a3 = _mm256_fmadd_ps(load8(w3, k, type), x, a3);
            b0 = _mm256_fmadd_ps(load8(w0, k + 8, type), y, b0);
            b1 = _mm256_fmadd_ps(load8(w1, k + 8, type), y, b1);
            b2 = _mm256_fmadd_ps(load8(w2, k + 8, type), y, b2);
            b3 = _mm256_fmadd_ps(load8(w3, k + 8, type), y, b3);
        }
        a0 = _mm256_add_ps(a0, b0);
        a1 = _mm256_add_ps(a1, b1);
        a2 = _mm256_add_ps(a2, b2);
        a3 = _mm256_add_ps(a3, b3);
    }
    for (; k + 8 <= cols; k += 8) {
        const __m256 v0 = load8(w0, k, type), v1 = load8(w1, k, type), v2 = load8(w2, k, type), v3 = load8(w3, k, type);
        const __m256 x = _mm256_loadu_ps(x0 + k);
        a0 = _mm256_fmadd_ps(v0, x, a0);
        a1 = _mm256_fmadd_ps(v1, x, a1);
        a2 = _mm256_fmadd_ps(v2, x, a2);
        a3 = _mm256_fmadd_ps(v3, x, a3);
        if (nx == 2) {
            const __m256 y = _mm256_loadu_ps(x1 + k);
            b0 = _mm256_fmadd_ps(v0, y, b0);
            b1 = _mm256_fmadd_ps(v1, y, b1);
            b2 = _mm256_fmadd_ps(v2, y, b2);
            b3 = _mm256_fmadd_ps(v3, y, b3);
        }
    }
    float s[4], t[4];
    _mm_storeu_ps(s, hsum4(a0, a1, a2, a3));
    if (nx == 2) _mm_storeu_ps(t, hsum4(b0, b1, b2, b3));
    for (; k < cols; k++) {
        const float v[4] = {load1(w0, k, type), load1(w1, k, type), load1(w2, k, type), load1(w3, k, type)};
        for (int r = 0; r < 4; r++) {
            s[r] += v[r] * x0[k];
            if (nx == 2) t[r] += v[r] * x1[k];
        }
    }
    for (int r = 0; r < 4; r++) {
        out0[r] = s[r];
        if (nx == 2) out1[r] = t[r];
    }
}

AVX2 static KILN_ALWAYS_INLINE float float_dot(const uint8_t *w, int64_t cols, const float *x, int32_t type) {
    __m256 a = _mm256_setzero_ps(), b = a;
    int64_t k = 0;
    for (; k + 16 <= cols; k += 16) {
        a = _mm256_fmadd_ps(load8(w, k, type), _mm256_loadu_ps(x + k), a);
        b = _mm256_fmadd_ps(load8(w, k + 8, type), _mm256_loadu_ps(x + k + 8), b);
    }
    for (; k + 8 <= cols; k += 8) a = _mm256_fmadd_ps(load8(w, k, type), _mm256_loadu_ps(x + k), a);
    float s = hsum(_mm256_add_ps(a, b));
    for (; k < cols; k++) s += load1(w, k, type) * x[k];
    return s;
}

AVX2 static KILN_ALWAYS_INLINE void float_rows(const kiln_matmul_args *a, int64_t r0, int64_t r1, int32_t type) {
    const size_t row_bytes = (size_t)a->cols * (type == KILN_WEIGHT_F32 ? 4 : 2);
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

AVX2 static void rows_f32(const kiln_matmul_args *a, int64_t r0, int64_t r1) { float_rows(a, r0, r1, KILN_WEIGHT_F32); }
AVX2 static void rows_f16(const kiln_matmul_args *a, int64_t r0, int64_t r1) { float_rows(a, r0, r1, KILN_WEIGHT_F16); }
AVX2 static void rows_bf16(const kiln_matmul_args *a, int64_t r0, int64_t r1) { float_rows(a, r0, r1, KILN_WEIGHT_BF16); }

// ---- quantised weights, row-major blocks (GGUF layouts) ------------------------------------------
// One row at a time, the classic way; the interleaved layouts below are the fast path.

AVX2 static inline __m256i nibbles(const uint8_t *qs) {
    const __m128i v = _mm_loadu_si128((const __m128i *)qs);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(v, 4), v), _mm256_set1_epi8(0x0F));
}

// One block's contribution for one activation block `at`: the 8 int32 partial dots as floats,
// to be multiplied by `*scale`; q4_1's minimum term (a scalar) is added to `*minimum`.
AVX2 static KILN_ALWAYS_INLINE __m256 quant_block(const uint8_t *block, __m256i w, __m256i magnitude, const kiln_matmul_args *a,
                                                  int64_t at, int32_t type, __m256 *scale, float *minimum) {
    const __m256i x = _mm256_loadu_si256((const __m256i *)(a->xq + at * KILN_BLOCK));
    __m256i dot = type == KILN_WEIGHT_Q8_0 ? _mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(x, w)) : _mm256_maddubs_epi16(w, x);
    dot = _mm256_madd_epi16(dot, _mm256_set1_epi16(1));
    if (type == KILN_WEIGHT_Q4_0) dot = _mm256_sub_epi32(dot, _mm256_setr_epi32(8 * a->xsum[at], 0, 0, 0, 0, 0, 0, 0));
    if (type == KILN_WEIGHT_Q4_1) *minimum += half(block + 2) * (a->xd[at] * (float)a->xsum[at]);
    *scale = _mm256_set1_ps(half(block) * a->xd[at]);
    return _mm256_cvtepi32_ps(dot);
}

// A block's weights, unpacked once: int8 codes (q8_0) with their magnitudes, or nibbles.
AVX2 static KILN_ALWAYS_INLINE __m256i quant_weights(const uint8_t *block, int32_t type, __m256i *magnitude) {
    if (type == KILN_WEIGHT_Q8_0) {
        const __m256i w = _mm256_loadu_si256((const __m256i *)(block + 2));
        *magnitude = _mm256_abs_epi8(w);
        return w;
    }
    *magnitude = nibbles(block + (type == KILN_WEIGHT_Q4_0 ? 2 : 4));
    return *magnitude;
}

// One row against one activation row. Two blocks per step into two accumulators: each FMA
// waits 4 cycles for the one before it, and a single chain would cap a q4_0 row at 18 bytes
// per 4 cycles.
AVX2 static KILN_ALWAYS_INLINE float quant_dot(const uint8_t *row, int64_t nb, const kiln_matmul_args *a, int32_t type) {
    const size_t block_bytes = type == KILN_WEIGHT_Q8_0 ? 34 : type == KILN_WEIGHT_Q4_0 ? 18 : 20;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, scale;
    float minimum = 0;
    int64_t blk = 0;
    for (; blk + 2 <= nb; blk += 2) {
        const uint8_t *b0 = row + blk * block_bytes, *b1 = b0 + block_bytes;
        __m256i m0, m1;
        const __m256i w0 = quant_weights(b0, type, &m0), w1 = quant_weights(b1, type, &m1);
        const __m256 d0 = quant_block(b0, w0, m0, a, blk, type, &scale, &minimum);
        acc0 = _mm256_fmadd_ps(d0, scale, acc0);
        const __m256 d1 = quant_block(b1, w1, m1, a, blk + 1, type, &scale, &minimum);
        acc1 = _mm256_fmadd_ps(d1, scale, acc1);
    }
    if (blk < nb) {
        const uint8_t *b0 = row + blk * block_bytes;
        __m256i m0;
        const __m256i w0 = quant_weights(b0, type, &m0);
        const __m256 d0 = quant_block(b0, w0, m0, a, blk, type, &scale, &minimum);
        acc0 = _mm256_fmadd_ps(d0, scale, acc0);
    }
    return hsum(_mm256_add_ps(acc0, acc1)) + minimum;
}

// One row against 4 activation rows (prompt batches): each block's weights are unpacked once
// for all four; the four accumulators are independent chains. out[i] gets row xrow[i]'s dot.
AVX2 static KILN_ALWAYS_INLINE void quant_tile4(const uint8_t *row, int64_t nb, const kiln_matmul_args *a, const int64_t *xrow,
                                                int32_t type, float *out) {
    const size_t block_bytes = type == KILN_WEIGHT_Q8_0 ? 34 : type == KILN_WEIGHT_Q4_0 ? 18 : 20;
    __m256 acc[4], scale;
    float minimum[4] = {0};
    for (int i = 0; i < 4; i++) acc[i] = _mm256_setzero_ps();
    for (int64_t blk = 0; blk < nb; blk++) {
        const uint8_t *block = row + blk * block_bytes;
        __m256i magnitude;
        const __m256i w = quant_weights(block, type, &magnitude);
        for (int i = 0; i < 4; i++) {
            const __m256 d = quant_block(block, w, magnitude, a, xrow[i] * nb + blk, type, &scale, &minimum[i]);
            acc[i] = _mm256_fmadd_ps(d, scale, acc[i]);
        }
    }
    for (int i = 0; i < 4; i++) out[i] = hsum(acc[i]) + minimum[i];
}

AVX2 static KILN_ALWAYS_INLINE void quant_rows(const kiln_matmul_args *a, int64_t r0, int64_t r1, int32_t type) {
    const int64_t nb = a->cols / KILN_BLOCK;
    const size_t block_bytes = type == KILN_WEIGHT_Q8_0 ? 34 : type == KILN_WEIGHT_Q4_0 ? 18 : 20;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)a->w + (size_t)(r * nb) * block_bytes;
        if (a->batch == 1) {
            a->y[r] = quant_dot(row, nb, a, type);
            continue;
        }
        for (int64_t b = 0; b < a->batch; b += 4) {
            int64_t xrow[4];
            float out[4];
            for (int i = 0; i < 4; i++) xrow[i] = b + i < a->batch ? b + i : a->batch - 1;
            quant_tile4(row, nb, a, xrow, type, out);
            for (int i = 0; i < 4 && b + i < a->batch; i++) a->y[(b + i) * a->rows + r] = out[i];
        }
    }
}

AVX2 static void rows_q8_0(const kiln_matmul_args *a, int64_t r0, int64_t r1) { quant_rows(a, r0, r1, KILN_WEIGHT_Q8_0); }
AVX2 static void rows_q4_0(const kiln_matmul_args *a, int64_t r0, int64_t r1) { quant_rows(a, r0, r1, KILN_WEIGHT_Q4_0); }
AVX2 static void rows_q4_1(const kiln_matmul_args *a, int64_t r0, int64_t r1) { quant_rows(a, r0, r1, KILN_WEIGHT_Q4_1); }

// ---- quantised weights, interleaved groups of 8 rows ----------------------------------------------

// One group (8 rows) against NX activation rows (1 for decode, 4 for prompt batches); acc[i]
// gets activation row i's 8 dot products. The caller aliases missing activation rows to a real
// one and drops their results, so a batch tail costs time, not a separate kernel.
AVX2 static KILN_ALWAYS_INLINE void group_tile(const uint8_t *group, int64_t nb, const kiln_matmul_args *a,
                                               const int64_t *xrow, int NX, int32_t type, __m256 *acc) {
    const size_t group_bytes = KILN_GROUP_ROWS * (type == KILN_WEIGHT_Q8_0X8 ? 34 : type == KILN_WEIGHT_Q4_0X8 ? 18 : 20);
    const int header = type == KILN_WEIGHT_Q4_1X8 ? 32 : 16;
    const __m256i ones = _mm256_set1_epi16(1), low = _mm256_set1_epi8(0x0F);
    const int8_t *xq[4];
    const float *xd[4];
    const int32_t *xs[4];
    for (int i = 0; i < NX; i++) {
        xq[i] = a->xq + xrow[i] * a->cols;
        xd[i] = a->xd + xrow[i] * nb;
        xs[i] = a->xsum + xrow[i] * nb;
        acc[i] = _mm256_setzero_ps();
    }
    __m256 macc[4];
    for (int i = 0; i < NX; i++) macc[i] = _mm256_setzero_ps();
    for (int64_t blk = 0; blk < nb; blk++) {
        const uint8_t *block = group + blk * group_bytes;
        const uint8_t *quants = block + header;
        __m256i dot[4];
        if (type == KILN_WEIGHT_Q8_0X8) {
            for (int i = 0; i < NX; i++) dot[i] = _mm256_setzero_si256();
            for (int t = 0; t < 8; t++) {
                const __m256i q = _mm256_loadu_si256((const __m256i *)(quants + 32 * t));
                const __m256i magnitude = _mm256_abs_epi8(q);
                for (int i = 0; i < NX; i++) {
                    const __m256i x = broadcast4(xq[i] + blk * KILN_BLOCK + 4 * t);
                    dot[i] = _mm256_add_epi32(dot[i], _mm256_madd_epi16(_mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(x, q)), ones));
                }
            }
        } else {
            __m256i s16[4];
            for (int i = 0; i < NX; i++) s16[i] = _mm256_setzero_si256();
            for (int t = 0; t < 4; t++) {
                const __m256i q = _mm256_loadu_si256((const __m256i *)(quants + 32 * t));
                const __m256i lo = _mm256_and_si256(q, low), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low);
                for (int i = 0; i < NX; i++) {
                    const int8_t *x = xq[i] + blk * KILN_BLOCK + 4 * t;
                    // |sum| ≤ 8 × 2 × 15 × 127 = 30480: int16 holds a whole block.
                    s16[i] = _mm256_add_epi16(s16[i], _mm256_add_epi16(_mm256_maddubs_epi16(lo, broadcast4(x)),
                                                                       _mm256_maddubs_epi16(hi, broadcast4(x + 16))));
                }
            }
            for (int i = 0; i < NX; i++) dot[i] = _mm256_madd_epi16(s16[i], ones);
        }
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)block));
        for (int i = 0; i < NX; i++) {
            if (type == KILN_WEIGHT_Q4_0X8) dot[i] = _mm256_sub_epi32(dot[i], _mm256_set1_epi32(8 * xs[i][blk]));
            acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot[i]), _mm256_mul_ps(d, _mm256_set1_ps(xd[i][blk])), acc[i]);
        }
        if (type == KILN_WEIGHT_Q4_1X8) {
            const __m256 m = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(block + 16)));
            for (int i = 0; i < NX; i++) macc[i] = _mm256_fmadd_ps(m, _mm256_set1_ps(xd[i][blk] * (float)xs[i][blk]), macc[i]);
        }
    }
    if (type == KILN_WEIGHT_Q4_1X8)
        for (int i = 0; i < NX; i++) acc[i] = _mm256_add_ps(acc[i], macc[i]);
}

AVX2 static KILN_ALWAYS_INLINE void store_group(float *y, __m256 v, int valid) {
    if (valid == KILN_GROUP_ROWS) {
        _mm256_storeu_ps(y, v);
    } else {
        float t[KILN_GROUP_ROWS];
        _mm256_storeu_ps(t, v);
        memcpy(y, t, (size_t)valid * sizeof(float));
    }
}

AVX2 static KILN_ALWAYS_INLINE void group_rows(const kiln_matmul_args *a, int64_t r0, int64_t r1, int32_t type) {
    const int64_t nb = a->cols / KILN_BLOCK;
    const size_t group_bytes = KILN_GROUP_ROWS * (type == KILN_WEIGHT_Q8_0X8 ? 34 : type == KILN_WEIGHT_Q4_0X8 ? 18 : 20);
    for (int64_t g = r0 / KILN_GROUP_ROWS; g * KILN_GROUP_ROWS < r1; g++) {
        const uint8_t *group = (const uint8_t *)a->w + (size_t)(g * nb) * group_bytes;
        const int64_t row = g * KILN_GROUP_ROWS;
        const int valid = (int)(a->rows - row < KILN_GROUP_ROWS ? a->rows - row : KILN_GROUP_ROWS);
        if (a->batch == 1) {
            const int64_t xrow[1] = {0};
            __m256 acc[1];
            group_tile(group, nb, a, xrow, 1, type, acc);
            store_group(a->y + row, acc[0], valid);
            continue;
        }
        // The group's bytes (≤ 8 × 11008 × 34 / 32 ≈ 94 KB) stay in L1/L2 across the batch.
        for (int64_t b = 0; b < a->batch; b += 4) {
            int64_t xrow[4];
            for (int i = 0; i < 4; i++) xrow[i] = b + i < a->batch ? b + i : a->batch - 1;
            __m256 acc[4];
            group_tile(group, nb, a, xrow, 4, type, acc);
            for (int i = 0; i < 4 && b + i < a->batch; i++) store_group(a->y + (b + i) * a->rows + row, acc[i], valid);
        }
    }
}

AVX2 static void rows_q8_0x8(const kiln_matmul_args *a, int64_t r0, int64_t r1) { group_rows(a, r0, r1, KILN_WEIGHT_Q8_0X8); }
AVX2 static void rows_q4_0x8(const kiln_matmul_args *a, int64_t r0, int64_t r1) { group_rows(a, r0, r1, KILN_WEIGHT_Q4_0X8); }
AVX2 static void rows_q4_1x8(const kiln_matmul_args *a, int64_t r0, int64_t r1) { group_rows(a, r0, r1, KILN_WEIGHT_Q4_1X8); }

// ---- the table ----------------------------------------------------------------------------------------

void kiln_rms_norm_avx2(const float *x, const float *weight, int64_t n, float eps, float *out);
void kiln_layer_norm_avx2(const float *x, const float *weight, const float *bias, int64_t n, float eps, float *out);
void kiln_softmax_avx2(float *x, int64_t n);
void kiln_rope_avx2(float *x, int64_t heads, int64_t head_dim, int64_t rotary_dims, const float *cs, int32_t mode);
void kiln_gelu_avx2(float *x, int64_t n);
void kiln_silu_avx2(float *x, int64_t n);
void kiln_swiglu_avx2(float *gate, const float *up, int64_t n);
void kiln_attention_scores_avx2(const float *q, const void *keys, int64_t stride, int32_t type, int64_t positions,
                                int64_t head_dim, float scale, float *scores);
void kiln_attention_values_avx2(const float *p, const void *values, int64_t stride, int32_t type, int64_t positions,
                                int64_t head_dim, float *out);
void kiln_f16_to_f32_avx2(const uint16_t *src, float *dst, int64_t n);
void kiln_f32_to_f16_avx2(const float *src, uint16_t *dst, int64_t n);
void kiln_bf16_to_f32_avx2(const uint16_t *src, float *dst, int64_t n);
void kiln_f32_to_bf16_avx2(const float *src, uint16_t *dst, int64_t n);
float kiln_stream_sum_avx2(const float *p, int64_t n);

const kiln_ops kiln_ops_avx2 = {
    .name = "avx2",
    .quantize = quantize,
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
    },
    .rms_norm = kiln_rms_norm_avx2,
    .layer_norm = kiln_layer_norm_avx2,
    .softmax = kiln_softmax_avx2,
    .rope = kiln_rope_avx2,
    .gelu = kiln_gelu_avx2,
    .silu = kiln_silu_avx2,
    .swiglu = kiln_swiglu_avx2,
    .attention_scores = kiln_attention_scores_avx2,
    .attention_values = kiln_attention_values_avx2,
    .f16_to_f32 = kiln_f16_to_f32_avx2,
    .f32_to_f16 = kiln_f32_to_f16_avx2,
    .bf16_to_f32 = kiln_bf16_to_f32_avx2,
    .f32_to_bf16 = kiln_f32_to_bf16_avx2,
    .stream_sum = kiln_stream_sum_avx2,
};
#endif
