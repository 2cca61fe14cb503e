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
#include "x86_avx2_shared.h"

// ---- helpers --------------------------------------------------------------------------------

// The four sums of a, b, c, d in one vector.
AVX2 static inline __m128 hsum4(__m256 a, __m256 b, __m256 c, __m256 d) {
    const __m256 ab = _mm256_hadd_ps(a, b), cd = _mm256_hadd_ps(c, d);
    const __m256 abcd = _mm256_hadd_ps(ab, cd);
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

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
        // Decode streams the matrix once. With short rows (576 f16 values are 18 cache lines)
        // the hardware prefetchers see four streams that end before they are trained, so each
        // row of the next tile is requested while this one is read.
        const size_t element = type == KILN_WEIGHT_F32 ? 4 : 2, ahead = 4 * row_bytes;
        for (; k + 16 <= cols; k += 16) {
            const size_t at = (size_t)k * element + ahead;
            _mm_prefetch((const char *)w0 + at, _MM_HINT_T0);
            _mm_prefetch((const char *)w1 + at, _MM_HINT_T0);
            _mm_prefetch((const char *)w2 + at, _MM_HINT_T0);
            _mm_prefetch((const char *)w3 + at, _MM_HINT_T0);
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

// ---- float weights, prompt batches: a converted panel and a 4 × 3 register tile ------------------
// Converting f16/bf16 in the inner loop costs as much as the FMAs it feeds, and a 4 × 2 tile
// leaves the FMA ports idle half the time. So a batch of 3 or more converts 4 rows × up to
// PANEL_K columns to f32 once (16 KB: stays in L1 while every activation row passes over it),
// then runs 4 weight rows × 3 activation rows per step: 12 accumulators, 7 loads per 12 FMAs.
// K is walked in PANEL_K chunks, each adding its partial sums into y.
#define PANEL_K 1024

// `panel` rows lie `stride` floats apart: the converted panel's PANEL_K, or an f32 matrix's own rows.
AVX2 static KILN_ALWAYS_INLINE void panel_tile(const float *panel, int64_t stride, int64_t n, const float *x0, const float *x1,
                                               const float *x2, int nx, float out[3][4]) {
    __m256 acc[4][3];
    for (int r = 0; r < 4; r++) acc[r][0] = acc[r][1] = acc[r][2] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 8 <= n; k += 8) {
        const __m256 a = _mm256_loadu_ps(x0 + k);
        const __m256 b = nx > 1 ? _mm256_loadu_ps(x1 + k) : a;
        const __m256 c = nx > 2 ? _mm256_loadu_ps(x2 + k) : a;
        for (int r = 0; r < 4; r++) {
            const __m256 w = _mm256_loadu_ps(panel + r * stride + k);
            acc[r][0] = _mm256_fmadd_ps(w, a, acc[r][0]);
            if (nx > 1) acc[r][1] = _mm256_fmadd_ps(w, b, acc[r][1]);
            if (nx > 2) acc[r][2] = _mm256_fmadd_ps(w, c, acc[r][2]);
        }
    }
    const float *xs[3] = {x0, x1, x2};
    for (int i = 0; i < nx; i++) {
        float t[4];
        _mm_storeu_ps(t, hsum4(acc[0][i], acc[1][i], acc[2][i], acc[3][i]));
        for (int64_t j = k; j < n; j++)
            for (int r = 0; r < 4; r++) t[r] += panel[r * stride + j] * xs[i][j];
        for (int r = 0; r < 4; r++) out[i][r] = t[r];
    }
}

AVX2 static KILN_ALWAYS_INLINE void float_panel_rows(const kiln_matmul_args *a, int64_t r0, int64_t r1, int32_t type) {
    static _Thread_local float panel[4 * PANEL_K] __attribute__((aligned(64)));
    const size_t element = type == KILN_WEIGHT_F32 ? 4 : 2, row_bytes = (size_t)a->row_stride * element;
    for (int64_t r = r0; r + 4 <= r1; r += 4) {
        for (int64_t k0 = 0; k0 < a->cols; k0 += PANEL_K) {
            const int64_t n = a->cols - k0 < PANEL_K ? a->cols - k0 : PANEL_K;
            // f32 rows are read in place (a copy would cost as much as a small batch's products).
            const float *rows = type == KILN_WEIGHT_F32 ? (const float *)a->w + r * a->row_stride + k0 : panel;
            const int64_t stride = type == KILN_WEIGHT_F32 ? a->row_stride : PANEL_K;
            for (int i = 0; i < 4 && type != KILN_WEIGHT_F32; i++) {
                const uint8_t *w = (const uint8_t *)a->w + (size_t)(r + i) * row_bytes;
                int64_t k = 0;
                for (; k + 8 <= n; k += 8) _mm256_store_ps(panel + i * PANEL_K + k, load8(w, k0 + k, type));
                for (; k < n; k++) panel[i * PANEL_K + k] = load1(w, k0 + k, type);
            }
            for (int64_t b = 0; b < a->batch; b += 3) {
                const int nx = a->batch - b < 3 ? (int)(a->batch - b) : 3;
                const float *x = a->x + b * a->cols + k0;
                float out[3][4];
                if (nx == 3) panel_tile(rows, stride, n, x, x + a->cols, x + 2 * a->cols, 3, out); // its own copy, all in registers
                else panel_tile(rows, stride, n, x, x + a->cols, x + 2 * a->cols, nx, out);
                for (int i = 0; i < nx; i++)
                    for (int j = 0; j < 4; j++) {
                        float *y = a->y + (b + i) * a->rows + r + j;
                        *y = k0 == 0 ? out[i][j] : *y + out[i][j];
                    }
            }
        }
    }
}

AVX2 static KILN_ALWAYS_INLINE void float_rows(const kiln_matmul_args *a, int64_t r0, int64_t r1, int32_t type) {
    const size_t row_bytes = (size_t)a->row_stride * (type == KILN_WEIGHT_F32 ? 4 : 2);
    const uint8_t *w = a->w;
    int64_t r = r0;
    if (a->batch >= 3) {
        float_panel_rows(a, r0, r1, type);
        r = r0 + (r1 - r0) / 4 * 4;
    }
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
// Eight rows at a time, computed exactly as the interleaved kernels below compute them: each row's
// integer block dot is exact (here reduced across lanes by a tree of hadds, there accumulated in
// its own lane), then converted and scaled by the same f32 operations in the same order. So a GGUF
// run directly and its interleaved `.kiln` conversion give bit-identical results. That matters
// because the activations are quantised to int8 at every layer: a last-bit difference in a
// product now and then flips a code at a rounding boundary, and over 30 layers such flips move
// perplexity by ±0.3% — noise, but it made a lossless conversion look lossy.


// q5's fifth bits: bit j of the 32-bit `qh` at p becomes 0x10 in byte j (the order of nibbles()).
AVX2 static inline __m256i high_bits(const uint8_t *p) {
    const __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(kiln_load_i32(p)),
                                              _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit), _mm256_set1_epi8(0x10));
}

// Rows p[0..7] (each pointing at its first block) against NX activation rows; acc[i] gets
// activation row i's 8 dot products. Same contract as group_tile below.
AVX2 static KILN_ALWAYS_INLINE void row_group_tile(const uint8_t *const *rows, const uint8_t *next, int64_t nb,
                                                   const kiln_matmul_args *a, const int64_t *xrow, int NX, int32_t type,
                                                   __m256 *acc) {
    const size_t block_bytes = (size_t)kiln_block_bytes(type);
    const int minimum = type == KILN_WEIGHT_Q4_1 || type == KILN_WEIGHT_Q5_1;
    const __m256i ones = _mm256_set1_epi16(1);
    const int8_t *xq[4];
    const float *xd[4];
    const int32_t *xs[4];
    __m256 macc[4];
    for (int i = 0; i < NX; i++) {
        xq[i] = a->xq + xrow[i] * a->cols;
        xd[i] = a->xd + xrow[i] * nb;
        xs[i] = a->xsum + xrow[i] * nb;
        acc[i] = macc[i] = _mm256_setzero_ps();
    }
    for (int64_t blk = 0; blk < nb; blk++) {
        const uint8_t *p[8];
        for (int r = 0; r < 8; r++) p[r] = rows[r] + blk * block_bytes;
        // The next group's 8 rows are contiguous: sweep them into cache at the pace this group is
        // read, since eight short row streams end before the hardware prefetchers pick them up.
        if (next)
            for (size_t l = 0; l < 8 * block_bytes; l += 64) _mm_prefetch((const char *)next + blk * 8 * block_bytes + l, _MM_HINT_T0);
        __m256i w[8];
        for (int r = 0; r < 8; r++) {
            switch (type) {
            case KILN_WEIGHT_Q8_0: w[r] = _mm256_loadu_si256((const __m256i *)(p[r] + 2)); break;
            case KILN_WEIGHT_Q4_0: w[r] = nibbles(p[r] + 2); break;
            case KILN_WEIGHT_Q4_1: w[r] = nibbles(p[r] + 4); break;
            case KILN_WEIGHT_Q5_0: w[r] = _mm256_or_si256(nibbles(p[r] + 6), high_bits(p[r] + 2)); break;
            default: w[r] = _mm256_or_si256(nibbles(p[r] + 8), high_bits(p[r] + 4)); break; // q5_1
            }
        }
        const __m256 d = gather_halves(p, 0);
        for (int i = 0; i < NX; i++) {
            const __m256i x = _mm256_loadu_si256((const __m256i *)(xq[i] + blk * KILN_BLOCK));
            __m256i dots[8];
            for (int r = 0; r < 8; r++) {
                const __m256i products = type == KILN_WEIGHT_Q8_0
                    ? _mm256_maddubs_epi16(_mm256_abs_epi8(w[r]), _mm256_sign_epi8(x, w[r]))
                    : _mm256_maddubs_epi16(w[r], x);
                dots[r] = _mm256_madd_epi16(products, ones);
            }
            __m256i dot = reduce8(dots);
            // Codes are stored unsigned; q4_0's −8 and q5_0's −16 come off through Σx.
            if (type == KILN_WEIGHT_Q4_0) dot = _mm256_sub_epi32(dot, _mm256_set1_epi32(8 * xs[i][blk]));
            if (type == KILN_WEIGHT_Q5_0) dot = _mm256_sub_epi32(dot, _mm256_set1_epi32(16 * xs[i][blk]));
            acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(d, _mm256_set1_ps(xd[i][blk])), acc[i]);
        }
        if (minimum) {
            const __m256 m = gather_halves(p, 2);
            for (int i = 0; i < NX; i++) macc[i] = _mm256_fmadd_ps(m, _mm256_set1_ps(xd[i][blk] * (float)xs[i][blk]), macc[i]);
        }
    }
    if (minimum)
        for (int i = 0; i < NX; i++) acc[i] = _mm256_add_ps(acc[i], macc[i]);
}

// ---- kq4 (docs/FORMAT.md §7.3), row-major ---------------------------------------------------------
// The grid levels are int8, so a nibble becomes its level with one `pshufb`, and the dot is signed
// int8 × int8 as for q8_0. Each half block (16 values) has its own scale, and maddubs/madd leave
// values 0–15 in lanes 0–3 and 16–31 in lanes 4–7: the first two levels of reduce8's hadd tree give
// exactly the per-half sums, rows 0–3 in `ab` and 4–7 in `cd` ([row 0..3 half 0 | row 0..3 half 1]).

AVX2 static KILN_ALWAYS_INLINE void kq4_group_tile(const uint8_t *const *rows, const uint8_t *next, int64_t nb,
                                                   const kiln_matmul_args *a, const int64_t *xrow, int NX, __m256 *out) {
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i grid = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)kiln_kq4_grid));
    __m256 ab_acc[4], cd_acc[4];
    for (int i = 0; i < NX; i++) ab_acc[i] = cd_acc[i] = _mm256_setzero_ps();
    for (int64_t blk = 0; blk < nb; blk++) {
        const uint8_t *p[8];
        for (int r = 0; r < 8; r++) p[r] = rows[r] + blk * 18;
        if (next)
            for (size_t l = 0; l < 8 * 18; l += 64) _mm_prefetch((const char *)next + blk * 8 * 18 + l, _MM_HINT_T0);
        __m256i w[8], magnitude[8];
        for (int r = 0; r < 8; r++) {
            w[r] = _mm256_shuffle_epi8(grid, nibbles(p[r] + 2));
            magnitude[r] = _mm256_abs_epi8(w[r]);
        }
        const __m256 ab_scale = kq4_scales(_mm256_setr_epi32(p[0][0], p[1][0], p[2][0], p[3][0], p[0][1], p[1][1], p[2][1], p[3][1]));
        const __m256 cd_scale = kq4_scales(_mm256_setr_epi32(p[4][0], p[5][0], p[6][0], p[7][0], p[4][1], p[5][1], p[6][1], p[7][1]));
        for (int i = 0; i < NX; i++) {
            const __m256i x = _mm256_loadu_si256((const __m256i *)(a->xq + xrow[i] * a->cols + blk * KILN_BLOCK));
            __m256i v[8];
            for (int r = 0; r < 8; r++) v[r] = _mm256_madd_epi16(_mm256_maddubs_epi16(magnitude[r], _mm256_sign_epi8(x, w[r])), ones);
            const __m256i ab = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
            const __m256i cd = _mm256_hadd_epi32(_mm256_hadd_epi32(v[4], v[5]), _mm256_hadd_epi32(v[6], v[7]));
            const __m256 xd = _mm256_set1_ps(a->xd[xrow[i] * nb + blk]);
            ab_acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ab), _mm256_mul_ps(ab_scale, xd), ab_acc[i]);
            cd_acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(cd), _mm256_mul_ps(cd_scale, xd), cd_acc[i]);
        }
    }
    for (int i = 0; i < NX; i++)
        out[i] = _mm256_add_ps(_mm256_permute2f128_ps(ab_acc[i], cd_acc[i], 0x20), _mm256_permute2f128_ps(ab_acc[i], cd_acc[i], 0x31));
}

AVX2 static KILN_ALWAYS_INLINE void quant_rows(const kiln_matmul_args *a, int64_t r0, int64_t r1, int32_t type) {
    const int64_t nb = a->cols / KILN_BLOCK;
    const size_t row_bytes = (size_t)nb * (size_t)kiln_block_bytes(type);
    for (int64_t row = r0; row < r1; row += KILN_GROUP_ROWS) {
        const int valid = (int)(r1 - row < KILN_GROUP_ROWS ? r1 - row : KILN_GROUP_ROWS);
        const uint8_t *rows[8];
        // Missing rows of a last partial group alias the last real one; their results are dropped.
        for (int r = 0; r < 8; r++) rows[r] = (const uint8_t *)a->w + (size_t)(row + (r < valid ? r : valid - 1)) * row_bytes;
        const uint8_t *next = row + 2 * KILN_GROUP_ROWS <= r1 ? rows[0] + 8 * row_bytes : NULL;
        if (a->batch == 1) {
            const int64_t xrow[1] = {0};
            __m256 acc[1];
            if (type == KILN_WEIGHT_KQ4) kq4_group_tile(rows, next, nb, a, xrow, 1, acc);
            else row_group_tile(rows, next, nb, a, xrow, 1, type, acc);
            store_group(a->y + row, acc[0], valid);
            continue;
        }
        for (int64_t b = 0; b < a->batch; b += 4) {
            int64_t xrow[4];
            for (int i = 0; i < 4; i++) xrow[i] = b + i < a->batch ? b + i : a->batch - 1;
            __m256 acc[4];
            // The first tile reads the rows from memory, so it sweeps the next group in as decode does.
            if (type == KILN_WEIGHT_KQ4) kq4_group_tile(rows, b == 0 ? next : NULL, nb, a, xrow, 4, acc);
            else row_group_tile(rows, b == 0 ? next : NULL, nb, a, xrow, 4, type, acc);
            for (int i = 0; i < 4 && b + i < a->batch; i++) store_group(a->y + (b + i) * a->rows + row, acc[i], valid);
        }
    }
}

AVX2 static void rows_q8_0(const kiln_matmul_args *a, int64_t r0, int64_t r1) { quant_rows(a, r0, r1, KILN_WEIGHT_Q8_0); }
AVX2 static void rows_q4_0(const kiln_matmul_args *a, int64_t r0, int64_t r1) { quant_rows(a, r0, r1, KILN_WEIGHT_Q4_0); }
AVX2 static void rows_q4_1(const kiln_matmul_args *a, int64_t r0, int64_t r1) { quant_rows(a, r0, r1, KILN_WEIGHT_Q4_1); }
AVX2 static void rows_q5_0(const kiln_matmul_args *a, int64_t r0, int64_t r1) { quant_rows(a, r0, r1, KILN_WEIGHT_Q5_0); }
AVX2 static void rows_q5_1(const kiln_matmul_args *a, int64_t r0, int64_t r1) { quant_rows(a, r0, r1, KILN_WEIGHT_Q5_1); }

AVX2 static void rows_kq4(const kiln_matmul_args *a, int64_t r0, int64_t r1) { quant_rows(a, r0, r1, KILN_WEIGHT_KQ4); }

// ---- quantised weights, interleaved groups of 8 rows ----------------------------------------------

// One group (8 rows) against NX activation rows (1 for decode, 4 for prompt batches); acc[i]
// gets activation row i's 8 dot products. The caller aliases missing activation rows to a real
// one and drops their results, so a batch tail costs time, not a separate kernel. Each row's sum
// takes the same exact integer dots and the same f32 steps as the row-major kernels above, so
// the two layouts give identical bits.
AVX2 static KILN_ALWAYS_INLINE void group_tile(const uint8_t *group, const uint8_t *next, int64_t nb, const kiln_matmul_args *a,
                                               const int64_t *xrow, int NX, int32_t type, __m256 *acc) {
    const size_t group_bytes = KILN_GROUP_ROWS * (size_t)kiln_block_bytes(type);
    const int q5 = type == KILN_WEIGHT_Q5_0X8 || type == KILN_WEIGHT_Q5_1X8;
    const int minimum = type == KILN_WEIGHT_Q4_1X8 || type == KILN_WEIGHT_Q5_1X8;
    const int kq4 = type == KILN_WEIGHT_KQ4X8;
    const int header = minimum ? 32 : 16;
    const __m256i ones = _mm256_set1_epi16(1), low = _mm256_set1_epi8(0x0F);
    const __m256i grid = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)kiln_kq4_grid));
    const int8_t *xq[4];
    const float *xd[4];
    const int32_t *xs[4];
    for (int i = 0; i < NX; i++) {
        xq[i] = a->xq + xrow[i] * a->cols;
        xd[i] = a->xd + xrow[i] * nb;
        xs[i] = a->xsum + xrow[i] * nb;
        acc[i] = _mm256_setzero_ps();
    }
    __m256 macc[4]; // the minimums (_1 types), or kq4's second-half sums
    for (int i = 0; i < NX; i++) macc[i] = _mm256_setzero_ps();
    for (int64_t blk = 0; blk < nb; blk++) {
        const uint8_t *block = group + blk * group_bytes;
        const uint8_t *quants = block + header + (q5 ? 32 : 0);
        // As row_group_tile: the next group is swept into cache at the pace this one is read.
        if (next)
            for (size_t l = 0; l < group_bytes; l += 64) _mm_prefetch((const char *)next + blk * group_bytes + l, _MM_HINT_T0);
        __m256i dot[4], high_dot[4];
        for (int i = 0; i < NX; i++) dot[i] = high_dot[i] = _mm256_setzero_si256();
        if (type == KILN_WEIGHT_Q8_0X8) {
            for (int t = 0; t < 8; t++) {
                const __m256i q = _mm256_loadu_si256((const __m256i *)(quants + 32 * t));
                const __m256i magnitude = _mm256_abs_epi8(q);
                for (int i = 0; i < NX; i++) {
                    const __m256i x = broadcast4(xq[i] + blk * KILN_BLOCK + 4 * t);
                    dot[i] = _mm256_add_epi32(dot[i], _mm256_madd_epi16(_mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(x, q)), ones));
                }
            }
        } else if (kq4) {
            // Nibbles become int8 grid levels (pshufb); the halves have their own scales, so their
            // dots stay apart: low nibbles are values 0–15, high nibbles 16–31.
            for (int t = 0; t < 4; t++) {
                const __m256i q = _mm256_loadu_si256((const __m256i *)(quants + 32 * t));
                const __m256i wl = _mm256_shuffle_epi8(grid, _mm256_and_si256(q, low));
                const __m256i wh = _mm256_shuffle_epi8(grid, _mm256_and_si256(_mm256_srli_epi16(q, 4), low));
                const __m256i ml = _mm256_abs_epi8(wl), mh = _mm256_abs_epi8(wh);
                for (int i = 0; i < NX; i++) {
                    const int8_t *x = xq[i] + blk * KILN_BLOCK + 4 * t;
                    dot[i] = _mm256_add_epi32(dot[i], _mm256_madd_epi16(_mm256_maddubs_epi16(ml, _mm256_sign_epi8(broadcast4(x), wl)), ones));
                    high_dot[i] = _mm256_add_epi32(high_dot[i],
                                                   _mm256_madd_epi16(_mm256_maddubs_epi16(mh, _mm256_sign_epi8(broadcast4(x + 16), wh)), ones));
                }
            }
        } else {
            const __m256i qh = q5 ? _mm256_loadu_si256((const __m256i *)(block + header)) : _mm256_setzero_si256();
            __m256i s16[4];
            for (int i = 0; i < NX; i++) s16[i] = _mm256_setzero_si256();
            for (int t = 0; t < 4; t++) {
                const __m256i q = _mm256_loadu_si256((const __m256i *)(quants + 32 * t));
                __m256i lo = _mm256_and_si256(q, low), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low);
                if (q5) {
                    __m256i lo5, hi5;
                    group_high_bits(qh, t, &lo5, &hi5);
                    lo = _mm256_or_si256(lo, lo5);
                    hi = _mm256_or_si256(hi, hi5);
                }
                for (int i = 0; i < NX; i++) {
                    const int8_t *x = xq[i] + blk * KILN_BLOCK + 4 * t;
                    // q4: |sum| ≤ 8 × 2 × 15 × 127 = 30480, so int16 holds a whole block; q5's
                    // codes reach 31, so its int16 sums are widened every two chunks.
                    s16[i] = _mm256_add_epi16(s16[i], _mm256_add_epi16(_mm256_maddubs_epi16(lo, broadcast4(x)),
                                                                       _mm256_maddubs_epi16(hi, broadcast4(x + 16))));
                    if (q5 && (t & 1)) {
                        dot[i] = _mm256_add_epi32(dot[i], _mm256_madd_epi16(s16[i], ones));
                        s16[i] = _mm256_setzero_si256();
                    }
                }
            }
            if (!q5)
                for (int i = 0; i < NX; i++) dot[i] = _mm256_madd_epi16(s16[i], ones);
        }
        group_block_sums(block, blk, NX, type, dot, high_dot, xd, xs, acc, macc);
    }
    if (minimum || kq4)
        for (int i = 0; i < NX; i++) acc[i] = _mm256_add_ps(acc[i], macc[i]);
}

AVX2 static KILN_ALWAYS_INLINE void group_rows(const kiln_matmul_args *a, int64_t r0, int64_t r1, int32_t type) {
    drive_groups(group_tile, a, r0, r1, type);
}

AVX2 static void rows_q8_0x8(const kiln_matmul_args *a, int64_t r0, int64_t r1) { group_rows(a, r0, r1, KILN_WEIGHT_Q8_0X8); }
AVX2 static void rows_q4_0x8(const kiln_matmul_args *a, int64_t r0, int64_t r1) { group_rows(a, r0, r1, KILN_WEIGHT_Q4_0X8); }
AVX2 static void rows_q4_1x8(const kiln_matmul_args *a, int64_t r0, int64_t r1) { group_rows(a, r0, r1, KILN_WEIGHT_Q4_1X8); }
AVX2 static void rows_kq4x8(const kiln_matmul_args *a, int64_t r0, int64_t r1) { group_rows(a, r0, r1, KILN_WEIGHT_KQ4X8); }
AVX2 static void rows_q5_0x8(const kiln_matmul_args *a, int64_t r0, int64_t r1) { group_rows(a, r0, r1, KILN_WEIGHT_Q5_0X8); }
AVX2 static void rows_q5_1x8(const kiln_matmul_args *a, int64_t r0, int64_t r1) { group_rows(a, r0, r1, KILN_WEIGHT_Q5_1X8); }

// ---- compute-ceiling probe (kiln_peak_work): independent chains ----------------------------------------

// More chains than latency × ports, within the 16 ymm registers: FMA 4 cycles on 2 ports (12
// chains); maddubs + add 6 cycles (14 chains and the constant; 10 read 12% under what 14 sustain).
AVX2 static int64_t peak(int32_t kind, int64_t iterations) {
    if (kind == KILN_PEAK_F32_FMA) {
        __m256 a[12], m = _mm256_set1_ps(0.999f), c = _mm256_set1_ps(0.001f);
        for (int i = 0; i < 12; i++) a[i] = _mm256_set1_ps((float)i);
        for (int64_t k = 0; k < iterations; k++)
            for (int i = 0; i < 12; i++) a[i] = _mm256_fmadd_ps(a[i], m, c);
        for (int i = 0; i < 12; i++) KILN_OPAQUE(a[i]);
        return iterations * 12 * 16;
    }
    if (kind != KILN_PEAK_INT8_DOT) return 0;
    // maddubs with int16 sums, as the 4-bit kernels run it (their one madd per block is noise).
    // Each chain multiplies its own accumulator's bytes, so no product is shared or hoisted.
    __m256i a[14], u = _mm256_set1_epi8(3);
    for (int i = 0; i < 14; i++) a[i] = _mm256_set1_epi32(i);
    for (int64_t k = 0; k < iterations; k++)
        for (int i = 0; i < 14; i++) a[i] = _mm256_add_epi16(a[i], _mm256_maddubs_epi16(u, a[i]));
    for (int i = 0; i < 14; i++) KILN_OPAQUE(a[i]);
    return iterations * 14 * 64;
}

// ---- the table ----------------------------------------------------------------------------------------

void kiln_rms_norm_avx2(const float *x, const float *weight, int64_t n, float eps, float *out);
void kiln_layer_norm_avx2(const float *x, const float *weight, const float *bias, int64_t n, float eps, float *out);
void kiln_softmax_avx2(float *x, int64_t n);
void kiln_rope_avx2(float *x, int64_t heads, int64_t head_dim, int64_t rotary_dims, const float *cs, int32_t mode);
void kiln_gelu_avx2(float *x, int64_t n);
void kiln_silu_avx2(float *x, int64_t n);
void kiln_swiglu_avx2(float *gate, const float *up, int64_t n);
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
        [KILN_WEIGHT_Q5_0] = rows_q5_0,
        [KILN_WEIGHT_Q5_1] = rows_q5_1,
        [KILN_WEIGHT_KQ4] = rows_kq4,
        [KILN_WEIGHT_Q2_K] = kiln_rows_avx2_q2_k, // x86_avx2_kquants.c
        [KILN_WEIGHT_Q3_K] = kiln_rows_avx2_q3_k,
        [KILN_WEIGHT_Q4_K] = kiln_rows_avx2_q4_k,
        [KILN_WEIGHT_Q5_K] = kiln_rows_avx2_q5_k,
        [KILN_WEIGHT_Q6_K] = kiln_rows_avx2_q6_k,
        [KILN_WEIGHT_KQ4X8] = rows_kq4x8,
        [KILN_WEIGHT_Q5_0X8] = rows_q5_0x8,
        [KILN_WEIGHT_Q5_1X8] = rows_q5_1x8,
    },
    .rms_norm = kiln_rms_norm_avx2,
    .layer_norm = kiln_layer_norm_avx2,
    .softmax = kiln_softmax_avx2,
    .rope = kiln_rope_avx2,
    .gelu = kiln_gelu_avx2,
    .silu = kiln_silu_avx2,
    .swiglu = kiln_swiglu_avx2,
    .f16_to_f32 = kiln_f16_to_f32_avx2,
    .f32_to_f16 = kiln_f32_to_f16_avx2,
    .bf16_to_f32 = kiln_bf16_to_f32_avx2,
    .f32_to_bf16 = kiln_f32_to_bf16_avx2,
    .flash_tile = kiln_flash_tile_avx2,
    .stream_sum = kiln_stream_sum_avx2,
    .peak = peak,
};
#endif
