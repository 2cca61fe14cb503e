// The AVX-512 tier (x86-64 with AVX-512 F/BW/VL/VNNI: Intel Ice Lake server and Sapphire
// Rapids on, AMD Zen 4 on): the AVX2 tier with 512-bit kernels where the width pays — the
// compute-bound prompt batches. Measured on a 2-core Sapphire Rapids VM: 512-bit FMA and
// `vpdpbusd` each run at twice the 256-bit rate (193 vs 93 GFLOP/s and 643 vs 377 GOP/s per core).
//
// - Interleaved quantised layouts: one zmm holds the same 4-byte chunk of two groups (16 rows),
//   so an activation chunk is a plain 4-byte broadcast and every `vpdpbusd` feeds 16 rows. Each
//   row's integer dot is exact and its f32 steps are the AVX2 tile's, lane for lane, so results
//   are bit-identical to the AVX2 tier's and so to the row-major kernels' (tested). Prompt
//   batches decode each pair once per chunk of blocks into an L1 panel, read 32 rows at a time.
// - f32/f16/bf16 prompt batches: the AVX2 tier's converted panel with a 4 × 6 tile of 16-wide FMAs.
#if defined(__x86_64__)
#include "x86_avx2_shared.h"
#include <pthread.h>

#define AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))
#define AVX512_VBMI __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512vbmi,gfni")))

// ---- interleaved quantised layouts, two groups at a time --------------------------------------------

// 32 bytes of group block A in the low half and of group block B in the high half.
AVX512 static inline __m512i pair256(const uint8_t *a, const uint8_t *b) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)a)), _mm256_loadu_si256((const __m256i *)b), 1);
}

AVX512 static inline __m512i broadcast4z(const int8_t *p) { return _mm512_set1_epi32(kiln_load_i32(p)); }

// The 16 f16 fields at `offset` of blocks A and B (8 each), as 16 floats.
AVX512 static inline __m512 pair_halves(const uint8_t *a, const uint8_t *b, size_t offset) {
    const __m256i h = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(a + offset))),
                                              _mm_loadu_si128((const __m128i *)(b + offset)), 1);
    return _mm512_cvtph_ps(h);
}

// q5's fifth bits for chunk t of blocks A and B (group_high_bits of x86_avx2_shared.h, both halves).
AVX512 static inline void pair_high_bits(__m256i qh_a, __m256i qh_b, int t, __m512i *low, __m512i *high) {
    __m256i la, ha, lb, hb;
    group_high_bits(qh_a, t, &la, &ha);
    group_high_bits(qh_b, t, &lb, &hb);
    *low = _mm512_inserti64x4(_mm512_castsi256_si512(la), lb, 1);
    *high = _mm512_inserti64x4(_mm512_castsi256_si512(ha), hb, 1);
}

// kq4's scales ÷ 8, for 16 exponent bytes at once: scale(e)/8 = M[e mod 8] · 2^(⌊e/8⌋ − 31), whose
// exponent field is 96 + ⌊e/8⌋ — and 96 has its low five bits clear, so ⌊e/8⌋ goes in with an OR
// (one vpternlogd with the mask) where the exact scale needs an AND, a shift and an add: 7 vector
// operations for a pair's 32 scales instead of 9, on the ports that bound kq4's decode. `index`
// holds e in the low bits of each lane (permutexvar reads the low 4; `mantissas` is
// kq4_mantissa_eighth twice over), `shifted` holds e at bits 20–27. A power of two scales every
// product and sum of the tile exactly while they stay normal floats (scale/8 ≥ 2^−31, so for
// activation block scales d_x ≥ 2^−95: activations above ~10^−27), so the tile multiplies its sums
// by 8 at the end and gets the AVX2 tier's bits (tested). Hot 1536 × 576, one core, batch 1:
// 134.7 → 140.6 GOP/s.
static const float kq4_mantissa_eighth[8] = {0x1.000000p-31f, 0x1.172b84p-31f, 0x1.306fe0p-31f, 0x1.4bfdaep-31f,
                                             0x1.6a09e6p-31f, 0x1.8ace54p-31f, 0x1.ae89fap-31f, 0x1.d5818ep-31f};

AVX512 static inline __m512 kq4_scales16(__m512i index, __m512i shifted, __m512 mantissas) {
    const __m512i m = _mm512_castps_si512(_mm512_permutexvar_ps(index, mantissas));
    return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(m, shifted, _mm512_set1_epi32(0x0F800000), 0xF8)); // m | (shifted & mask)
}



// For the VBMI tier's kq4 scales (x86_avx512_pair.h): vpmultishiftqb controls over the exponent
// words, one per lane (a qword holds lanes 2k and 2k + 1: e0 at bits 0 and 32, e1 at 8 and 40).
// Each lane's byte 0 gets its half's exponent e, byte 2 the 8 bits from 4 below e and byte 3 those
// from 4 above, so that e also sits at bits 20–27 as kq4_scales16's `shifted` wants (what else lands
// there is outside its mask). Byte b of a control is the window start for byte b of its qword.
#define KQ4_PLACE_LOW 0x241C2020043C0000ull  // bytes 0, 0, 60, 4, 32, 32, 28, 36
#define KQ4_PLACE_HIGH 0x2C2428280C040808ull // bytes 8, 8, 4, 12, 40, 40, 36, 44

// Stores rows [row, row + valid) of a 16-row result.
AVX512 static inline void store_pair(float *y, __m512 v, int valid) {
    if (valid == 16) {
        _mm512_storeu_ps(y, v);
    } else {
        _mm512_mask_storeu_ps(y, (__mmask16)((1u << valid) - 1), v);
    }
}

// Byte b of a chunk pair holds row (b / 4) mod 8's codes 4t + b mod 4 and 16 + 4t + b mod 4, whose
// fifth bits are bits 4t + b mod 4 (+ 16) of that row's 32 qh bits, the low or high half of its
// qword (rows 2k, 2k + 1). vpmultishiftqb takes the 8 bits from this offset + 4t (+ 16), modulo
// 64, which puts that bit at bit 4.
static const uint8_t q5_bit_index[64] = {
    60, 61, 62, 63, 28, 29, 30, 31, 60, 61, 62, 63, 28, 29, 30, 31, 60, 61, 62, 63, 28, 29, 30, 31, 60, 61, 62, 63, 28, 29, 30, 31,
    60, 61, 62, 63, 28, 29, 30, 31, 60, 61, 62, 63, 28, 29, 30, 31, 60, 61, 62, 63, 28, 29, 30, 31, 60, 61, 62, 63, 28, 29, 30, 31,
};

// Quantised activation bytes per batch block of the pair tiles (x86_avx512_pair.h): a quarter of
// a Sapphire Rapids core's 2 MiB L2, leaving room for the weights of a chunk of rows.
#define PAIR_BATCH_BYTES (512 * 1024)

#define PAIR_TARGET AVX512
#define PAIR_PREFIX pair_
#define PAIR_VBMI 0
#include "x86_avx512_pair.h"
#undef PAIR_TARGET
#undef PAIR_PREFIX
#undef PAIR_VBMI

#define PAIR_TARGET AVX512_VBMI
#define PAIR_PREFIX vbmi_pair_
#define PAIR_VBMI 1
#include "x86_avx512_pair.h"

// ---- float weights: prompt batches through a converted panel, 4 rows × 6 activation rows -------------

#define PANEL_K 1024
#define FLOAT_BATCH_ROWS KILN_XT_BLOCK // a block of the driver's transposed batch

AVX512 static KILN_ALWAYS_INLINE __m512 load16(const uint8_t *w, int64_t k, int32_t type) {
    if (type == KILN_WEIGHT_F16) return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)w + k)));
    if (type == KILN_WEIGHT_BF16)
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)((const uint16_t *)w + k))), 16));
    return _mm512_loadu_ps((const float *)w + k);
}

AVX512 static inline float load1z(const uint8_t *w, int64_t k, int32_t type) {
    if (type == KILN_WEIGHT_F16) return kiln_half_to_float(((const uint16_t *)w)[k]);
    if (type == KILN_WEIGHT_BF16) return kiln_bf16_to_float(((const uint16_t *)w)[k]);
    return ((const float *)w)[k];
}

// Rows 0–3 of the panel (rows `stride` floats apart) against activation rows x[0..nx-1] (nx ≤ 6)
// over n columns.
AVX512 static KILN_ALWAYS_INLINE void panel_tile(const float *panel, int64_t stride, int64_t n, const float *const *x, int nx,
                                                float out[6][4]) {
    __m512 acc[4][6];
    for (int r = 0; r < 4; r++)
        for (int i = 0; i < nx; i++) acc[r][i] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 16 <= n; k += 16) {
        const __m512 w0 = _mm512_loadu_ps(panel + k), w1 = _mm512_loadu_ps(panel + stride + k),
                     w2 = _mm512_loadu_ps(panel + 2 * stride + k), w3 = _mm512_loadu_ps(panel + 3 * stride + k);
        for (int i = 0; i < nx; i++) {
            const __m512 v = _mm512_loadu_ps(x[i] + k);
            acc[0][i] = _mm512_fmadd_ps(w0, v, acc[0][i]);
            acc[1][i] = _mm512_fmadd_ps(w1, v, acc[1][i]);
            acc[2][i] = _mm512_fmadd_ps(w2, v, acc[2][i]);
            acc[3][i] = _mm512_fmadd_ps(w3, v, acc[3][i]);
        }
    }
    for (int i = 0; i < nx; i++)
        for (int r = 0; r < 4; r++) {
            float t = _mm512_reduce_add_ps(acc[r][i]);
            for (int64_t j = k; j < n; j++) t += panel[r * stride + j] * x[i][j];
            out[i][r] = t;
        }
}

// With the activations transposed by the driver (args.xt: column k of the batch contiguous), a
// weight is broadcast and multiplies 16 activation rows per FMA, and there are no horizontal sums.
// 8 rows × 32 activation rows take 16 accumulators, 2 loads and 8 broadcasts per 16 FMAs (4 × 48
// where fewer than 8 rows are left). Eight rows rather than four halve the activation bytes per
// FMA: a panel pass's activations (up to 48 × 1024 floats) come from L2, and at four rows their
// stream bounded the tile (measured, f16 1536 × 576, 2 threads, weights in cache: batch 64
// 210 → 251 GFLOP/s, 128 229 → 253). 8 × 48 would take 24 accumulators and spills.
AVX512 static KILN_ALWAYS_INLINE void outer_tile(const float *panel, int64_t panel_stride, int64_t n, const float *xt, int64_t stride,
                                                 int R, int NZ, __m512 acc[8][3]) {
    for (int r = 0; r < R; r++)
        for (int z = 0; z < NZ; z++) acc[r][z] = _mm512_setzero_ps();
    for (int64_t k = 0; k < n; k++) {
        const float *column = xt + k * stride;
        __m512 x[3];
        for (int z = 0; z < NZ; z++) x[z] = _mm512_loadu_ps(column + 16 * z);
        for (int r = 0; r < R; r++) {
            const __m512 w = _mm512_set1_ps(panel[r * panel_stride + k]);
            for (int z = 0; z < NZ; z++) acc[r][z] = _mm512_fmadd_ps(w, x[z], acc[r][z]);
        }
    }
}

// acc[0..7][z] (weight rows r … r + 7 for 16 activation rows) into y, whose activation rows are
// `rows` floats apart: an 8 × 16 transpose in registers (32 shuffles), then one 8-float store per
// activation row (`valid` of them; added to y's sums of earlier panels unless `first`). Storing
// lane by lane took 128 scalar read-modify-writes per 8 × 16, ~5% of an f16 tile at 576 columns.
// Same float sums either way.
AVX512 static KILN_ALWAYS_INLINE void store_transposed(__m512 acc[8][3], int z, float *y, int64_t rows, int64_t valid, int first) {
    __m512 t[8], u[8];
    for (int j = 0; j < 8; j += 2) {
        t[j] = _mm512_unpacklo_ps(acc[j][z], acc[j + 1][z]);
        t[j + 1] = _mm512_unpackhi_ps(acc[j][z], acc[j + 1][z]);
    }
    // In each 128-bit lane q, u[m] holds rows 0–3 and u[m + 4] rows 4–7 of activation row 4q + m.
    for (int h = 0; h < 8; h += 4) {
        u[h] = _mm512_shuffle_ps(t[h], t[h + 2], 0x44);
        u[h + 1] = _mm512_shuffle_ps(t[h], t[h + 2], 0xEE);
        u[h + 2] = _mm512_shuffle_ps(t[h + 1], t[h + 3], 0x44);
        u[h + 3] = _mm512_shuffle_ps(t[h + 1], t[h + 3], 0xEE);
    }
    for (int m = 0; m < 4; m++) {
        // [u_m.q0, u_m+4.q0, u_m.q1, u_m+4.q1]: activation rows m and 4 + m; then 8 + m and 12 + m.
        const __m512 w0 = _mm512_shuffle_f32x4(u[m], u[m + 4], 0x44), w1 = _mm512_shuffle_f32x4(u[m], u[m + 4], 0xEE);
        const __m512 v[2] = {_mm512_shuffle_f32x4(w0, w0, 0xD8), _mm512_shuffle_f32x4(w1, w1, 0xD8)};
        for (int p = 0; p < 2; p++)
            for (int half = 0; half < 2; half++) {
                const int64_t l = 8 * p + 4 * half + m;
                if (l >= valid) continue;
                const __m256 out = half ? _mm512_extractf32x8_ps(v[p], 1) : _mm512_castps512_ps256(v[p]);
                float *dst = y + l * rows;
                _mm256_storeu_ps(dst, first ? out : _mm256_add_ps(_mm256_loadu_ps(dst), out));
            }
    }
}

// The transposed batch against R rows of the panel, tile by tile of 48 activation rows.
AVX512 static KILN_ALWAYS_INLINE void outer_rows(const kiln_matmul_args *a, const float *rows, int64_t stride, int64_t n, int64_t k0,
                                                 int64_t r, int R) {
    const int width = R == 8 ? 32 : 48; // 8 × 32: 16 accumulators; 8 × 48 would spill
    for (int64_t b = 0; b < a->batch; b += width) {
        const int64_t left = a->batch - b;
        const int NZ = left > 32 && R == 4 ? 3 : left > 16 ? 2 : 1;
        __m512 acc[8][3];
        const float *xt = a->xt + k0 * a->xt_stride + b;
        if (R == 8) {
            if (NZ == 2) outer_tile(rows, stride, n, xt, a->xt_stride, 8, 2, acc);
            else outer_tile(rows, stride, n, xt, a->xt_stride, 8, 1, acc);
        } else {
            if (NZ == 3) outer_tile(rows, stride, n, xt, a->xt_stride, 4, 3, acc);
            else if (NZ == 2) outer_tile(rows, stride, n, xt, a->xt_stride, 4, 2, acc);
            else outer_tile(rows, stride, n, xt, a->xt_stride, 4, 1, acc);
        }
        if (R == 8) {
            for (int z = 0; z < NZ; z++) store_transposed(acc, z, a->y + (b + 16 * z) * a->rows + r, a->rows, a->batch - b - 16 * z, k0 == 0);
            continue;
        }
        for (int z = 0; z < NZ; z++)
            for (int j = 0; j < R; j++) {
                float t[16];
                _mm512_storeu_ps(t, acc[j][z]);
                for (int l = 0; l < 16 && b + 16 * z + l < a->batch; l++) {
                    float *y = a->y + (b + 16 * z + l) * a->rows + r + j;
                    *y = k0 == 0 ? t[l] : *y + t[l];
                }
            }
    }
}

// Rows r … r + R − 1, columns k0 … k0 + n − 1, as f32 rows `*stride` floats apart: f16/bf16 rows
// decoded into `panel` (PANEL_K apart); f32 rows read in place (a copy would cost as much as a
// small batch's products).
AVX512 static KILN_ALWAYS_INLINE const float *panel_rows(const kiln_matmul_args *a, int32_t type, size_t row_bytes, float *panel,
                                                         int64_t r, int R, int64_t k0, int64_t n, int64_t *stride) {
    if (type == KILN_WEIGHT_F32) {
        *stride = a->row_stride;
        return (const float *)a->w + r * a->row_stride + k0;
    }
    for (int i = 0; i < R; i++) {
        const uint8_t *w = (const uint8_t *)a->w + (size_t)(r + i) * row_bytes;
        // The same columns of the next R rows into L2 while this panel's tiles run: converted
        // without, the next panel's first loads waited on L3 (the converting stores took 13% of
        // an f16 product's samples, hot 4096² batch 64). A prefetch past the matrix is harmless.
        for (int64_t k = 0; k < n; k += 32) _mm_prefetch((const char *)(w + (size_t)R * row_bytes) + 2 * (k0 + k), _MM_HINT_T1);
        int64_t k = 0;
        for (; k + 16 <= n; k += 16) _mm512_store_ps(panel + i * PANEL_K + k, load16(w, k0 + k, type));
        for (; k < n; k++) panel[i * PANEL_K + k] = load1z(w, k0 + k, type);
    }
    *stride = PANEL_K;
    return panel;
}

AVX512 static KILN_ALWAYS_INLINE void float_rows(const kiln_matmul_args *a, int64_t r0, int64_t r1, int32_t type,
                                                 kiln_rows_fn narrow) {
    // Decode and small batches go to the AVX2 kernel: it runs at the memory's pace there, and its
    // 4 × 3 tile reduces four rows' sums together, where this one's 16-wide sums would cost more
    // than the products on short rows (attention's 64-wide keys with a GQA group of 3 queries).
    // So does the tail of rows that is not a whole 4.
    const int64_t whole = a->batch >= 6 ? r0 + (r1 - r0) / 4 * 4 : r0;
    if (whole < r1) narrow(a, whole, r1);
    if (whole == r0) return;
    static _Thread_local float panel[8 * PANEL_K] __attribute__((aligned(64)));
    const size_t row_bytes = (size_t)a->row_stride * (type == KILN_WEIGHT_F32 ? 4 : 2);
    if (a->xt) {
        // Blocked for the caches: FLOAT_BATCH_ROWS activation rows × PANEL_K columns of the
        // transposed batch (512 KiB, contiguous: matmul.c lays it out in such blocks) stay in L2
        // while every 8 rows of this chunk pass over them.
        // Rows outermost, as before, streamed all of a row's columns × the whole batch from L3 for
        // every 8 rows once that passed L2's size: f16 products fell to 31–36% of the FMA ceiling
        // at 4096 × 11008 batch 64 and at every 7B shape from batch 256. Each output still sums its
        // panels in column order, the same floats as before.
        for (int64_t b0 = 0; b0 < a->batch; b0 += FLOAT_BATCH_ROWS) {
            kiln_matmul_args block = *a;
            block.batch = a->batch - b0 < FLOAT_BATCH_ROWS ? a->batch - b0 : FLOAT_BATCH_ROWS;
            block.xt = a->xt + b0 * a->cols;
            block.xt_stride = (block.batch + 15) / 16 * 16;
            block.y = a->y + b0 * a->rows;
            for (int64_t k0 = 0; k0 < a->cols; k0 += PANEL_K) {
                const int64_t n = a->cols - k0 < PANEL_K ? a->cols - k0 : PANEL_K;
                for (int64_t r = r0; r < whole;) {
                    const int R = r + 8 <= whole ? 8 : 4;
                    int64_t stride;
                    const float *rows = panel_rows(a, type, row_bytes, panel, r, R, k0, n, &stride);
                    if (R == 8) outer_rows(&block, rows, stride, n, k0, r, 8);
                    else outer_rows(&block, rows, stride, n, k0, r, 4);
                    r += R;
                }
            }
        }
        return;
    }
    for (int64_t r = r0; r < whole;) {
        const int R = 4; // the 4 × 6 tile below takes 4 rows
        for (int64_t k0 = 0; k0 < a->cols; k0 += PANEL_K) {
            const int64_t n = a->cols - k0 < PANEL_K ? a->cols - k0 : PANEL_K;
            int64_t stride;
            const float *rows = panel_rows(a, type, row_bytes, panel, r, R, k0, n, &stride);
            for (int64_t b = 0; b < a->batch; b += 6) {
                const int nx = a->batch - b < 6 ? (int)(a->batch - b) : 6;
                const float *x[6];
                for (int i = 0; i < 6; i++) x[i] = a->x + (b + (i < nx ? i : 0)) * a->cols + k0;
                float out[6][4];
                // A literal 6 gives the full tile its own copy, with all 24 accumulators in registers.
                if (nx == 6) panel_tile(rows, stride, n, x, 6, out);
                else panel_tile(rows, stride, n, x, nx, out);
                for (int i = 0; i < nx; i++)
                    for (int j = 0; j < 4; j++) {
                        float *y = a->y + (b + i) * a->rows + r + j;
                        *y = k0 == 0 ? out[i][j] : *y + out[i][j];
                    }
            }
        }
        r += R;
    }
}

AVX512 static void rows_f32(const kiln_matmul_args *a, int64_t r0, int64_t r1) {
    float_rows(a, r0, r1, KILN_WEIGHT_F32, kiln_ops_avx2.rows[KILN_WEIGHT_F32]);
}
AVX512 static void rows_f16(const kiln_matmul_args *a, int64_t r0, int64_t r1) {
    float_rows(a, r0, r1, KILN_WEIGHT_F16, kiln_ops_avx2.rows[KILN_WEIGHT_F16]);
}
AVX512 static void rows_bf16(const kiln_matmul_args *a, int64_t r0, int64_t r1) {
    float_rows(a, r0, r1, KILN_WEIGHT_BF16, kiln_ops_avx2.rows[KILN_WEIGHT_BF16]);
}

// ---- K-quant prompt batches (x86_kquant_panel.h, with the EVEX 256-bit vpdpbusd) --------------------

#define KPANEL_TARGET AVX512
#define KPANEL_DPBUSD _mm256_dpbusd_epi32
#define KPANEL_PREFIX z_
#include "x86_kquant_panel.h"

// Prompt batches of q2_K … q6_K, 16 rows at a time: two 8-row groups decoded side by side into one
// panel (x86_kquant_panel.h's decode with a pitch of 16), so each 64-byte line of codes is a zmm
// operand as it stands (no insert per chunk on the shuffle port) and each activation broadcast
// feeds 16 rows; 8 activation rows per pass over the panel, so each code load serves 8 vpdpbusd.
// The float work per block and activation row is what bounds the tile next to its 8 vpdpbusd:
// - q4_K/q5_K (a scale and a minimum per 32 values, both halves of a block in one int32 sum):
//   one conversion, d·sc × d_x, one FMA, and the minimum's FMA with the driver's d_x·Σx.
// - q6_K/q3_K (a scale per 16 values, codes offset by 32 or 4): the codes are stored × 4 (q6_K,
//   ≤ 252) or × 32 (q3_K, ≤ 224) with the scales divided back (exact), so each half's sum starts
//   at the driver's −128·Σx of the half (a broadcast load) and ends offset-free; then two
//   conversions, (s_lo·lo + s_hi·hi) in one multiply and one FMA, and one FMA by d_x.
// - q2_K (codes 0–3 as stored, a scale and a minimum per 16 values): as q6_K/q3_K from zero, plus
//   an FMA per half for its −dmin·m times the half's Σx (converted once per panel). It ran on
//   the 8-row ymm panel before, 4 activation rows per pass: 17–19% of the int8 ceiling.
// Integer sums are exact; the f32 sums run in their own order (against the reference within
// rounding, as every K-quant tile: MatmulTests).
#define PAIR_SUPERBLOCKS 4 // 1024 values: 16 KB of codes + 8 KB of scales, with 8 activation rows' 8 KB in L1
#define PAIR_BLOCKS (PAIR_SUPERBLOCKS * 8)
#define PAIR_X 8           // activation rows per pass

typedef struct {
    uint8_t codes[PAIR_BLOCKS][8][64]; // [block][chunk][row · 4 + byte], rows 0–15
    float scale[PAIR_BLOCKS][2][16];   // [block][half][row]
    float minimum[PAIR_BLOCKS][2][16]; // [block][half][row]: −dmin·m (q4_K/q5_K, half 0)
} kquant_pair_panel;

// Rows r and r + 8's 32-byte vectors at byte `at` of their super-blocks, as the halves of in[r].
AVX512 static inline void rows16(const uint8_t *const *block, size_t at, __m512i *in) {
    for (int r = 0; r < 8; r++)
        in[r] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(block[r] + at))),
                                   _mm256_loadu_si256((const __m256i *)(block[r + 8] + at)), 1);
}

// Two 8 × 8 transposes of 32-bit lanes side by side (the 256-bit halves): out[k] lane r of a
// half = in[r] lane k of that half. So 16 rows' vectors (rows16) become 16-row panel lines.
AVX512 static inline void transpose16(const __m512i *in, __m512i *out) {
    __m512i t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(in[2 * i], in[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(in[2 * i], in[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    const __m512i first = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13), second = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
    for (int k = 0; k < 4; k++) {
        out[k] = _mm512_permutex2var_epi64(u[k], first, u[k + 4]);
        out[k + 4] = _mm512_permutex2var_epi64(u[k], second, u[k + 4]);
    }
}

// 16 rows' 8 floats each (rows r and r + 8 in the halves of in[r]) as 8 lines of 16 rows.
AVX512 static inline void transpose16_ps(const __m256 *row, __m512 *out) {
    __m512i in[8], o[8];
    for (int r = 0; r < 8; r++) in[r] = _mm512_castps_si512(_mm512_insertf32x8(_mm512_castps256_ps512(row[r]), row[r + 8], 1));
    transpose16(in, o);
    for (int t = 0; t < 8; t++) out[t] = _mm512_castsi512_ps(o[t]);
}

// Bit `from` of each byte moved to bit `to` (16-bit shifts; the caller masks).
AVX512 static inline __m512i move_bits16(__m512i v, int from, int to) {
    if (from < to) return _mm512_slli_epi16(v, (unsigned)(to - from));
    if (from > to) return _mm512_srli_epi16(v, (unsigned)(from - to));
    return v;
}

// q4_K, q5_K and q6_K super-blocks sb0 … sb0 + count − 1 of 16 rows straight into the pair panel,
// lines as kquant_panel_decode_to(…, 16, shift) writes them, but transposing the stored bytes
// before taking them apart: one 16-row transpose of a q4_K super-block's 32 bytes of nibbles
// gives two sub-blocks' lines, where decoding each 8-row group's codes first took a transpose per
// sub-block and group, four times the shuffles (the decode was a third of the kernel at batch 64).
AVX512 static void pair_decode(const uint8_t *const *rows, int32_t type, int64_t sb0, int64_t count, kquant_pair_panel *p, int shift) {
    const size_t bytes = (size_t)kiln_block_bytes(type);
    const __m512i low = _mm512_set1_epi8(0x0F), bit4 = _mm512_set1_epi8(0x10), bits45 = _mm512_set1_epi8(0x30);
    const __m256 unshift = _mm256_set1_ps(1.0f / (float)(1 << shift));
    for (int64_t s = 0; s < count; s++) {
        const uint8_t *block[16];
        for (int r = 0; r < 16; r++) block[r] = rows[r] + (size_t)(sb0 + s) * bytes;
        const int64_t k0 = s * 8; // the panel's block of sub-block 0
        __m512i in[8], line[8];
        __m256 sc_lo[16], sc_hi[16];
        __m512 out[8];
        if (type == KILN_WEIGHT_Q6_K) {
            for (int n = 0; n < 2; n++) { // value 128n + 32k + l: nibble k/2 of ql[64n + 32(k % 2) + l], bits 2k… of qh[32n + l]
                __m512i ql[2][8], qh[8];
                rows16(block, (size_t)(64 * n), in);
                transpose16(in, ql[0]);
                rows16(block, (size_t)(64 * n + 32), in);
                transpose16(in, ql[1]);
                rows16(block, (size_t)(128 + 32 * n), in);
                transpose16(in, qh);
                for (int k = 0; k < 4; k++)
                    for (int c = 0; c < 8; c++) {
                        const __m512i nibble = _mm512_and_si512(k / 2 ? _mm512_srli_epi16(ql[k % 2][c], 4) : ql[k % 2][c], low);
                        const __m512i code = _mm512_or_si512(nibble, _mm512_and_si512(move_bits16(qh[c], 2 * k, 4), bits45));
                        _mm512_store_si512(p->codes[k0 + 4 * n + k][c], _mm512_slli_epi32(code, (unsigned)shift));
                    }
            }
            for (int r = 0; r < 16; r++) {
                const __m256 d = _mm256_mul_ps(_mm256_set1_ps(kiln_half_to_float(kiln_load_u16(block[r] + 208))), unshift);
                const __m128i sc = _mm_loadu_si128((const __m128i *)(block[r] + 192)); // i8 scales[16]: block t has 2t, 2t + 1
                const __m128i even = _mm_shuffle_epi8(sc, _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1, -1, -1, -1, -1));
                const __m128i odd = _mm_shuffle_epi8(sc, _mm_setr_epi8(1, 3, 5, 7, 9, 11, 13, 15, -1, -1, -1, -1, -1, -1, -1, -1));
                sc_lo[r] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(even)));
                sc_hi[r] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(odd)));
            }
            transpose16_ps(sc_lo, out);
            for (int t = 0; t < 8; t++) _mm512_store_ps(p->scale[k0 + t][0], out[t]);
            transpose16_ps(sc_hi, out);
            for (int t = 0; t < 8; t++) _mm512_store_ps(p->scale[k0 + t][1], out[t]);
        } else { // q4_K/q5_K: value 64j + 32h + l is nibble h of qs[32j + l] (+ 16 with bit 2j + h of qh[l])
            const int q5 = type == KILN_WEIGHT_Q5_K;
            __m512i qh[8];
            if (q5) {
                rows16(block, 16, in);
                transpose16(in, qh);
            }
            for (int j = 0; j < 4; j++) {
                rows16(block, (size_t)((q5 ? 48 : 16) + 32 * j), in);
                transpose16(in, line);
                for (int h = 0; h < 2; h++)
                    for (int c = 0; c < 8; c++) {
                        __m512i code = _mm512_and_si512(h ? _mm512_srli_epi16(line[c], 4) : line[c], low);
                        if (q5) code = _mm512_or_si512(code, _mm512_and_si512(move_bits16(qh[c], 2 * j + h, 4), bit4));
                        _mm512_store_si512(p->codes[k0 + 2 * j + h][c], code);
                    }
            }
            for (int r = 0; r < 16; r++) { // d·sc and −dmin·m of the 8 sub-blocks (x86_kquant_unpack.h's unpack_q45)
                uint64_t sc, mn;
                scales_k4(block[r] + 4, &sc, &mn);
                const __m128 dm = _mm_cvtph_ps(_mm_cvtsi32_si128(kiln_load_i32(block[r]))); // d, dmin
                sc_lo[r] = _mm256_mul_ps(_mm256_broadcastss_ps(dm), bytes_to_floats(sc));
                sc_hi[r] = _mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(_mm256_broadcastss_ps(_mm_movehdup_ps(dm)), bytes_to_floats(mn)));
            }
            transpose16_ps(sc_lo, out);
            for (int t = 0; t < 8; t++) _mm512_store_ps(p->scale[k0 + t][0], out[t]);
            transpose16_ps(sc_hi, out);
            for (int t = 0; t < 8; t++) _mm512_store_ps(p->minimum[k0 + t][0], out[t]);
        }
    }
}

// Super-blocks sb0 … sb0 + count − 1 of 16 rows into a pair panel, for any K-quant: q6_K/q3_K codes
// stored × 4 / × 32 (their scales divided back, exact) so that each half's sum can start at the
// driver's −128·Σx; q2_K/q3_K through the 8-row decode, two groups side by side, the others
// through pair_decode's 16-row transposes.
AVX512 static void decode_pair_panel(const uint8_t *const *rows, int32_t type, int64_t sb0, int64_t count, kquant_pair_panel *p) {
    const int shift = type == KILN_WEIGHT_Q6_K ? 2 : type == KILN_WEIGHT_Q3_K ? 5 : 0;
    if (type == KILN_WEIGHT_Q3_K || type == KILN_WEIGHT_Q2_K)
        for (int g = 0; g < 2; g++)
            kquant_panel_decode_to(rows + 8 * g, type, sb0, count, &p->codes[0][0][32 * g], &p->scale[0][0][8 * g],
                                   &p->minimum[0][0][8 * g], 16, shift);
    else
        pair_decode(rows, type, sb0, count, p, shift);
}

// The panel's `blocks` blocks (from activation block b0) against activation rows xrow[0 … PAIR_X − 1]:
// acc[i] = activation row i's 16 partial dots.
AVX512 static KILN_ALWAYS_INLINE void kquant_pair_tile(const kquant_pair_panel *p, int64_t blocks, int64_t b0,
                                                       const kiln_matmul_args *a, const int64_t *xrow, int32_t type, __m512 *acc) {
    const int64_t nb = a->cols / KILN_BLOCK;
    const int q2 = type == KILN_WEIGHT_Q2_K;
    const int per16 = type == KILN_WEIGHT_Q6_K || type == KILN_WEIGHT_Q3_K || q2;
    const int8_t *xq[PAIR_X];
    const float *xd[PAIR_X], *xmin[PAIR_X];
    const int32_t *bias[PAIR_X];
    // q2_K's per-16 minimums meet each half's Σx, converted here once per panel and activation row
    // (2·blocks is a multiple of 16) so that the block loop reads them as broadcast loads.
    float half_sums[PAIR_X][2 * PAIR_BLOCKS] __attribute__((aligned(64)));
    for (int i = 0; i < PAIR_X; i++) {
        xq[i] = a->xq + xrow[i] * a->cols + b0 * KILN_BLOCK;
        xd[i] = a->xd + xrow[i] * nb + b0;
        xmin[i] = per16 ? NULL : a->xmin + xrow[i] * nb + b0;
        bias[i] = per16 && !q2 ? a->xhalf_bias + xrow[i] * 2 * nb + 2 * b0 : NULL;
        acc[i] = _mm512_setzero_ps();
        if (q2)
            for (int64_t k = 0; k < 2 * blocks; k += 16)
                _mm512_store_ps(half_sums[i] + k,
                                _mm512_cvtepi32_ps(_mm512_loadu_si512(a->xhalf + xrow[i] * 2 * nb + 2 * b0 + k)));
    }
    for (int64_t blk = 0; blk < blocks; blk++) {
        const uint8_t *codes = p->codes[blk][0];
        if (per16) {
            __m512i lo[PAIR_X], hi[PAIR_X];
            for (int i = 0; i < PAIR_X; i++) {
                lo[i] = q2 ? _mm512_setzero_si512() : _mm512_set1_epi32(bias[i][2 * blk]);
                hi[i] = q2 ? _mm512_setzero_si512() : _mm512_set1_epi32(bias[i][2 * blk + 1]);
            }
            for (int c = 0; c < 4; c++) {
                const __m512i wl = _mm512_load_si512(codes + 64 * c), wh = _mm512_load_si512(codes + 64 * (c + 4));
                for (int i = 0; i < PAIR_X; i++) {
                    lo[i] = _mm512_dpbusd_epi32(lo[i], wl, broadcast4z(xq[i] + blk * KILN_BLOCK + 4 * c));
                    hi[i] = _mm512_dpbusd_epi32(hi[i], wh, broadcast4z(xq[i] + blk * KILN_BLOCK + 16 + 4 * c));
                }
            }
            const __m512 s_lo = _mm512_load_ps(p->scale[blk][0]), s_hi = _mm512_load_ps(p->scale[blk][1]);
            const __m512 m_lo = q2 ? _mm512_load_ps(p->minimum[blk][0]) : s_lo, m_hi = q2 ? _mm512_load_ps(p->minimum[blk][1]) : s_hi;
            for (int i = 0; i < PAIR_X; i++) {
                __m512 both = _mm512_fmadd_ps(_mm512_cvtepi32_ps(hi[i]), s_hi, _mm512_mul_ps(_mm512_cvtepi32_ps(lo[i]), s_lo));
                if (q2) { // − dmin·m of each half times its Σx
                    both = _mm512_fmadd_ps(m_lo, _mm512_set1_ps(half_sums[i][2 * blk]), both);
                    both = _mm512_fmadd_ps(m_hi, _mm512_set1_ps(half_sums[i][2 * blk + 1]), both);
                }
                acc[i] = _mm512_fmadd_ps(both, _mm512_set1_ps(xd[i][blk]), acc[i]);
            }
        } else {
            __m512i dot[PAIR_X];
            for (int i = 0; i < PAIR_X; i++) dot[i] = _mm512_setzero_si512();
            for (int c = 0; c < 8; c++) {
                const __m512i w = _mm512_load_si512(codes + 64 * c);
                for (int i = 0; i < PAIR_X; i++) dot[i] = _mm512_dpbusd_epi32(dot[i], w, broadcast4z(xq[i] + blk * KILN_BLOCK + 4 * c));
            }
            const __m512 s = _mm512_load_ps(p->scale[blk][0]), m = _mm512_load_ps(p->minimum[blk][0]);
            for (int i = 0; i < PAIR_X; i++) {
                acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[i]), _mm512_mul_ps(s, _mm512_set1_ps(xd[i][blk])), acc[i]);
                acc[i] = _mm512_fmadd_ps(m, _mm512_set1_ps(xmin[i][blk]), acc[i]);
            }
        }
    }
}

// Rows r0 … r1 − 1 (r0 a multiple of 8) of a K-quant matrix against a batch of ≥ 4 rows, 16 rows
// at a time (a last odd group goes through the 8-row panel). Missing activation rows of a last
// pass alias the batch's last row; their results are dropped. The batch goes in blocks of at most
// 1 MiB of quantised activations (PAIR_PANEL_BATCH_BYTES, and PAIR_BATCH rows), each passed over by
// every 16 rows of the chunk, as the interleaved types' panels do, so a block's activations stay in
// L2 (with the whole batch per 16 rows, 4096 × 11008 at batch 256 read 2.8 MB from L3 per 16 rows
// and stayed at 37% of the ceiling; with 512 KiB blocks, 40 rows there, hot at batch 64 q4_K ran
// at 51% of the int8 ceiling, q5_K 49%, q6_K 39%, and with 1 MiB 57, 53 and 43%: medians of 6
// interleaved runs); a 16-row panel is decoded again for each block, which costs little now. A
// block's 16 sums per activation row gather over the panels in a contiguous buffer (16 KB, in L1),
// written to y once: adding each panel's sums into y itself read lines a row of y apart (a
// multiple of 4 KB for every model width, so all in one L1 set), 8% of the kernel's time.
#define PAIR_BATCH 256

AVX512 static void kquant_pair_rows(const kiln_matmul_args *a, int64_t r0, int64_t r1, int32_t type) {
    static _Thread_local kquant_pair_panel panel __attribute__((aligned(64)));
    static _Thread_local float sums[PAIR_BATCH][16] __attribute__((aligned(64)));
    const size_t bytes = (size_t)kiln_block_bytes(type);
    const int64_t superblocks = a->cols / 256;
    int64_t block_rows = PAIR_PANEL_BATCH_BYTES / a->cols / PAIR_X * PAIR_X;
    block_rows = block_rows < PAIR_X ? PAIR_X : block_rows > PAIR_BATCH ? PAIR_BATCH : block_rows;
    // Whole 16-row pairs, and a last pair of 8 + fewer rows where the chunk ends the matrix.
    int64_t pairs_end = r0;
    while (pairs_end + 2 * KILN_GROUP_ROWS <= r1 || (pairs_end + KILN_GROUP_ROWS < r1 && r1 == a->rows)) pairs_end += 2 * KILN_GROUP_ROWS;
    for (int64_t bb = 0; bb < a->batch; bb += block_rows) {
        const int64_t be = a->batch - bb < block_rows ? a->batch : bb + block_rows;
        for (int64_t row = r0; row < pairs_end && row < r1; row += 2 * KILN_GROUP_ROWS) {
            const int valid = (int)(r1 - row < 16 ? r1 - row : 16);
            const uint8_t *rows[16];
            for (int r = 0; r < 16; r++) rows[r] = (const uint8_t *)a->w + (size_t)((row + (r < valid ? r : valid - 1)) * superblocks) * bytes;
            for (int64_t s0 = 0; s0 < superblocks; s0 += PAIR_SUPERBLOCKS) {
                const int64_t count = superblocks - s0 < PAIR_SUPERBLOCKS ? superblocks - s0 : PAIR_SUPERBLOCKS;
                decode_pair_panel(rows, type, s0, count, &panel);
                for (int64_t b = bb; b < be; b += PAIR_X) {
                    int64_t xrow[PAIR_X];
                    for (int i = 0; i < PAIR_X; i++) xrow[i] = b + i < a->batch ? b + i : a->batch - 1;
                    __m512 acc[PAIR_X];
                    kquant_pair_tile(&panel, count * 8, s0 * 8, a, xrow, type, acc);
                    for (int i = 0; i < PAIR_X && b + i < be; i++) {
                        float *sum = sums[b + i - bb];
                        _mm512_store_ps(sum, s0 == 0 ? acc[i] : _mm512_add_ps(_mm512_load_ps(sum), acc[i]));
                    }
                }
            }
            for (int64_t b = bb; b < be; b++) store_pair(a->y + b * a->rows + row, _mm512_load_ps(sums[b - bb]), valid);
        }
    }
    if (pairs_end < r1) z_panel_rows(a, pairs_end, r1, type);
}

// q4_K/q5_K, 32 rows at a time: two 16-row panels, each activation broadcast feeding both, so a
// block takes 32 broadcast loads and 16 code loads per 64 vpdpbusd (the 16-row tile's 64 + 8 kept
// the load ports busier than the dot ports). Same sums per row as kquant_pair_tile.
#define QUAD_X 8
#define QUAD_SUPERBLOCKS 2 // two 12 KB panels with 8 activation rows' 4 KB in L1

AVX512 static KILN_ALWAYS_INLINE void kquant_quad_tile(const kquant_pair_panel *p0, const kquant_pair_panel *p1, int64_t blocks, int64_t b0,
                                                       const kiln_matmul_args *a, const int64_t *xrow, __m512 *acc) {
    const int64_t nb = a->cols / KILN_BLOCK;
    const int8_t *xq[QUAD_X];
    const float *xd[QUAD_X], *xmin[QUAD_X];
    for (int i = 0; i < QUAD_X; i++) {
        xq[i] = a->xq + xrow[i] * a->cols + b0 * KILN_BLOCK;
        xd[i] = a->xd + xrow[i] * nb + b0;
        xmin[i] = a->xmin + xrow[i] * nb + b0;
        acc[2 * i] = acc[2 * i + 1] = _mm512_setzero_ps();
    }
    for (int64_t blk = 0; blk < blocks; blk++) {
        __m512i d0[QUAD_X], d1[QUAD_X];
        for (int i = 0; i < QUAD_X; i++) d0[i] = d1[i] = _mm512_setzero_si512();
        for (int c = 0; c < 8; c++) {
            const __m512i w0 = _mm512_load_si512(p0->codes[blk][c]), w1 = _mm512_load_si512(p1->codes[blk][c]);
            for (int i = 0; i < QUAD_X; i++) {
                const __m512i x = broadcast4z(xq[i] + blk * KILN_BLOCK + 4 * c);
                d0[i] = _mm512_dpbusd_epi32(d0[i], w0, x);
                d1[i] = _mm512_dpbusd_epi32(d1[i], w1, x);
            }
        }
        const __m512 s0 = _mm512_load_ps(p0->scale[blk][0]), m0 = _mm512_load_ps(p0->minimum[blk][0]);
        const __m512 s1 = _mm512_load_ps(p1->scale[blk][0]), m1 = _mm512_load_ps(p1->minimum[blk][0]);
        for (int i = 0; i < QUAD_X; i++) {
            const __m512 x_scale = _mm512_set1_ps(xd[i][blk]), x_min = _mm512_set1_ps(xmin[i][blk]);
            acc[2 * i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d0[i]), _mm512_mul_ps(s0, x_scale), acc[2 * i]);
            acc[2 * i] = _mm512_fmadd_ps(m0, x_min, acc[2 * i]);
            acc[2 * i + 1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d1[i]), _mm512_mul_ps(s1, x_scale), acc[2 * i + 1]);
            acc[2 * i + 1] = _mm512_fmadd_ps(m1, x_min, acc[2 * i + 1]);
        }
    }
}

// q6_K/q3_K, 32 rows at a time: as kquant_quad_tile, but each 32-value block is two halves with
// their own scales, so an activation row holds four int32 sums (two halves × two panels) and two
// f32 ones; 4 activation rows per pass fill 24 registers. Each pair of broadcasts feeds four
// `vpdpbusd`: a block takes 16 code loads and 32 broadcasts per 64 (the 16-row tile's 8 code
// loads and 64 broadcasts bound it on the load ports). Same sums per row as kquant_pair_tile.
// Fraction of the int8 ceiling, hot, 2 threads, medians of 3 interleaved runs, batch 64 / 256:
// q6_K 4096² 40 → 47 / 41 → 50%, 4096 × 11008 35 → 40 / 35 → 41%; q3_K 4096² 38 → 46 / 40 → 49%.
// q2_K (`q2`) too: its codes carry no offset, so each half's sum starts at 0, and each half's
// −dmin·m meets the half's Σx as in kquant_pair_tile (the same f32 steps per row).
#define QUAD16_X 4

AVX512 static KILN_ALWAYS_INLINE void kquant_quad16_tile(const kquant_pair_panel *p0, const kquant_pair_panel *p1, int64_t blocks, int64_t b0,
                                                         const kiln_matmul_args *a, const int64_t *xrow, int q2, __m512 *acc) {
    const int64_t nb = a->cols / KILN_BLOCK;
    const int8_t *xq[QUAD16_X];
    const float *xd[QUAD16_X];
    const int32_t *bias[QUAD16_X];
    // q2_K's half sums as floats, once per pass (2·blocks is a multiple of 16), read as broadcasts.
    float half_sums[QUAD16_X][2 * QUAD_SUPERBLOCKS * 8] __attribute__((aligned(64)));
    for (int i = 0; i < QUAD16_X; i++) {
        xq[i] = a->xq + xrow[i] * a->cols + b0 * KILN_BLOCK;
        xd[i] = a->xd + xrow[i] * nb + b0;
        bias[i] = a->xhalf_bias + xrow[i] * 2 * nb + 2 * b0;
        acc[2 * i] = acc[2 * i + 1] = _mm512_setzero_ps();
        if (q2)
            for (int64_t k = 0; k < 2 * blocks; k += 16)
                _mm512_store_ps(half_sums[i] + k, _mm512_cvtepi32_ps(_mm512_loadu_si512(a->xhalf + xrow[i] * 2 * nb + 2 * b0 + k)));
    }
    for (int64_t blk = 0; blk < blocks; blk++) {
        __m512i lo0[QUAD16_X], hi0[QUAD16_X], lo1[QUAD16_X], hi1[QUAD16_X];
        for (int i = 0; i < QUAD16_X; i++) { // each half's sum starts at its −128·Σx (codes stored offset), q2_K's at 0
            lo0[i] = lo1[i] = q2 ? _mm512_setzero_si512() : _mm512_set1_epi32(bias[i][2 * blk]);
            hi0[i] = hi1[i] = q2 ? _mm512_setzero_si512() : _mm512_set1_epi32(bias[i][2 * blk + 1]);
        }
        for (int c = 0; c < 4; c++) {
            const __m512i wl0 = _mm512_load_si512(p0->codes[blk][c]), wh0 = _mm512_load_si512(p0->codes[blk][c + 4]);
            const __m512i wl1 = _mm512_load_si512(p1->codes[blk][c]), wh1 = _mm512_load_si512(p1->codes[blk][c + 4]);
            for (int i = 0; i < QUAD16_X; i++) {
                const __m512i xl = broadcast4z(xq[i] + blk * KILN_BLOCK + 4 * c), xh = broadcast4z(xq[i] + blk * KILN_BLOCK + 16 + 4 * c);
                lo0[i] = _mm512_dpbusd_epi32(lo0[i], wl0, xl);
                lo1[i] = _mm512_dpbusd_epi32(lo1[i], wl1, xl);
                hi0[i] = _mm512_dpbusd_epi32(hi0[i], wh0, xh);
                hi1[i] = _mm512_dpbusd_epi32(hi1[i], wh1, xh);
            }
        }
        const __m512 sl0 = _mm512_load_ps(p0->scale[blk][0]), sh0 = _mm512_load_ps(p0->scale[blk][1]);
        const __m512 sl1 = _mm512_load_ps(p1->scale[blk][0]), sh1 = _mm512_load_ps(p1->scale[blk][1]);
        for (int i = 0; i < QUAD16_X; i++) {
            const __m512 x_scale = _mm512_set1_ps(xd[i][blk]);
            __m512 both0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(hi0[i]), sh0, _mm512_mul_ps(_mm512_cvtepi32_ps(lo0[i]), sl0));
            __m512 both1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(hi1[i]), sh1, _mm512_mul_ps(_mm512_cvtepi32_ps(lo1[i]), sl1));
            if (q2) { // − dmin·m of each half times its Σx
                const __m512 x_lo = _mm512_set1_ps(half_sums[i][2 * blk]), x_hi = _mm512_set1_ps(half_sums[i][2 * blk + 1]);
                both0 = _mm512_fmadd_ps(_mm512_load_ps(p0->minimum[blk][0]), x_lo, both0);
                both0 = _mm512_fmadd_ps(_mm512_load_ps(p0->minimum[blk][1]), x_hi, both0);
                both1 = _mm512_fmadd_ps(_mm512_load_ps(p1->minimum[blk][0]), x_lo, both1);
                both1 = _mm512_fmadd_ps(_mm512_load_ps(p1->minimum[blk][1]), x_hi, both1);
            }
            acc[2 * i] = _mm512_fmadd_ps(both0, x_scale, acc[2 * i]);
            acc[2 * i + 1] = _mm512_fmadd_ps(both1, x_scale, acc[2 * i + 1]);
        }
    }
}

// Rows r0 … r1 − 1 of a K-quant matrix: whole 32-row quads here (q4_K/q5_K 8 activation rows per
// pass, q6_K/q3_K/q2_K 4), the rest by kquant_pair_rows.
AVX512 static void kquant_quad_rows(const kiln_matmul_args *a, int64_t r0, int64_t r1, int32_t type) {
    static _Thread_local kquant_pair_panel panels[2] __attribute__((aligned(64)));
    static _Thread_local float sums[PAIR_BATCH][32] __attribute__((aligned(64)));
    const size_t bytes = (size_t)kiln_block_bytes(type);
    const int64_t superblocks = a->cols / 256;
    const int per16 = type == KILN_WEIGHT_Q6_K || type == KILN_WEIGHT_Q3_K || type == KILN_WEIGHT_Q2_K;
    const int64_t pass = per16 ? QUAD16_X : QUAD_X;
    int64_t block_rows = PAIR_PANEL_BATCH_BYTES / a->cols / QUAD_X * QUAD_X;
    block_rows = block_rows < QUAD_X ? QUAD_X : block_rows > PAIR_BATCH ? PAIR_BATCH : block_rows;
    const int64_t quads_end = r0 + (r1 - r0) / 32 * 32;
    for (int64_t bb = 0; bb < a->batch; bb += block_rows) {
        const int64_t be = a->batch - bb < block_rows ? a->batch : bb + block_rows;
        for (int64_t row = r0; row < quads_end; row += 32) {
            const uint8_t *rows[32];
            for (int r = 0; r < 32; r++) rows[r] = (const uint8_t *)a->w + (size_t)((row + r) * superblocks) * bytes;
            for (int64_t s0 = 0; s0 < superblocks; s0 += QUAD_SUPERBLOCKS) {
                const int64_t count = superblocks - s0 < QUAD_SUPERBLOCKS ? superblocks - s0 : QUAD_SUPERBLOCKS;
                decode_pair_panel(rows, type, s0, count, &panels[0]);
                decode_pair_panel(rows + 16, type, s0, count, &panels[1]);
                for (int64_t b = bb; b < be; b += pass) {
                    int64_t xrow[QUAD_X];
                    for (int i = 0; i < pass; i++) xrow[i] = b + i < a->batch ? b + i : a->batch - 1;
                    __m512 acc[2 * QUAD_X];
                    if (type == KILN_WEIGHT_Q2_K) kquant_quad16_tile(&panels[0], &panels[1], count * 8, s0 * 8, a, xrow, 1, acc);
                    else if (per16) kquant_quad16_tile(&panels[0], &panels[1], count * 8, s0 * 8, a, xrow, 0, acc);
                    else kquant_quad_tile(&panels[0], &panels[1], count * 8, s0 * 8, a, xrow, acc);
                    for (int i = 0; i < pass && b + i < be; i++)
                        for (int h = 0; h < 2; h++) {
                            float *sum = sums[b + i - bb] + 16 * h;
                            _mm512_store_ps(sum, s0 == 0 ? acc[2 * i + h] : _mm512_add_ps(_mm512_load_ps(sum), acc[2 * i + h]));
                        }
                }
            }
            for (int64_t b = bb; b < be; b++) {
                _mm512_storeu_ps(a->y + b * a->rows + row, _mm512_load_ps(sums[b - bb]));
                _mm512_storeu_ps(a->y + b * a->rows + row + 16, _mm512_load_ps(sums[b - bb] + 16));
            }
        }
    }
    if (quads_end < r1) kquant_pair_rows(a, quads_end, r1, type);
}

// Decode (batch < 4) on the AVX2 tiles; prompt batches two pair panels (32 rows) at a time, the
// rows left over on one.
AVX512 static void rows_q2_k(const kiln_matmul_args *a, int64_t r0, int64_t r1) {
    if (a->batch < 4) kiln_rows_avx2_q2_k(a, r0, r1);
    else kquant_quad_rows(a, r0, r1, KILN_WEIGHT_Q2_K);
}
AVX512 static void rows_q3_k(const kiln_matmul_args *a, int64_t r0, int64_t r1) {
    if (a->batch < 4) kiln_rows_avx2_q3_k(a, r0, r1);
    else kquant_quad_rows(a, r0, r1, KILN_WEIGHT_Q3_K);
}

AVX512 static void rows_q4_k(const kiln_matmul_args *a, int64_t r0, int64_t r1) {
    if (a->batch < 4) kiln_rows_avx2_q4_k(a, r0, r1);
    else kquant_quad_rows(a, r0, r1, KILN_WEIGHT_Q4_K);
}
AVX512 static void rows_q5_k(const kiln_matmul_args *a, int64_t r0, int64_t r1) {
    if (a->batch < 4) kiln_rows_avx2_q5_k(a, r0, r1);
    else kquant_quad_rows(a, r0, r1, KILN_WEIGHT_Q5_K);
}
AVX512 static void rows_q6_k(const kiln_matmul_args *a, int64_t r0, int64_t r1) {
    if (a->batch < 4) kiln_rows_avx2_q6_k(a, r0, r1);
    else kquant_quad_rows(a, r0, r1, KILN_WEIGHT_Q6_K);
}

// ---- compute-ceiling probe: the 512-bit FMA and vpdpbusd ---------------------------------------------

// Independent chains, more than latency × ports: vpdpbusd zmm takes about 5 cycles here and issues
// on two ports, so 10 chains (the probe until 2026-12-07) were latency-bound and read 5.0 G/s of
// the 5.9 G/s that 12, 16 or 20 sustain: every int8 fraction of the ceiling read 18% high. The
// fractions that comments in these kernels quote from before then are of that probe: multiply by
// 0.85 (their before/after comparisons stand).
#define PEAK_CHAINS 16

// KILN_PEAK_INT8_DOT_F32_STEPS + k: the dots with k f32 steps per 8 of them, the work a quantised
// type adds per 32-value block and activation row to its 8 vpdpbusd of 16 rows (a conversion,
// then multiplies and FMAs, on the same two ports as the dots): its bound. Only the dots count.
AVX512 static KILN_ALWAYS_INLINE int64_t peak_dots(int64_t iterations, int steps) {
    __m512i a[PEAK_CHAINS], u = _mm512_set1_epi8(3), s = _mm512_set1_epi8(-2);
    const __m512 m = _mm512_set1_ps(0.999f);
    for (int i = 0; i < PEAK_CHAINS; i++) a[i] = _mm512_set1_epi32(i);
    for (int64_t k = 0; k < iterations; k++) {
        for (int i = 0; i < PEAK_CHAINS; i++) a[i] = _mm512_dpbusd_epi32(a[i], u, s);
        for (int j = 0; j < (steps ? PEAK_CHAINS / 8 : 0); j++) { // no chain across steps: each result is only kept
            __m512 t = _mm512_cvtepi32_ps(a[8 * j]);
            for (int step = 2; step < steps; step++) t = _mm512_mul_ps(t, m);
            t = _mm512_fmadd_ps(t, m, m);
            __asm__ volatile("" : : "v"(t));
        }
    }
    for (int i = 0; i < PEAK_CHAINS; i++) KILN_OPAQUE(a[i]);
    return iterations * PEAK_CHAINS * 128;
}

AVX512 static int64_t peak(int32_t kind, int64_t iterations) {
    if (kind == KILN_PEAK_F32_FMA) {
        __m512 a[12], m = _mm512_set1_ps(0.999f), c = _mm512_set1_ps(0.001f); // FMA: 4 cycles, 2 ports
        for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps((float)i);
        for (int64_t k = 0; k < iterations; k++)
            for (int i = 0; i < 12; i++) a[i] = _mm512_fmadd_ps(a[i], m, c);
        for (int i = 0; i < 12; i++) KILN_OPAQUE(a[i]);
        return iterations * 12 * 32;
    }
    switch (kind) {
    case KILN_PEAK_INT8_DOT: return peak_dots(iterations, 0);
    case KILN_PEAK_INT8_DOT_F32_STEPS + 3: return peak_dots(iterations, 3);
    case KILN_PEAK_INT8_DOT_F32_STEPS + 4: return peak_dots(iterations, 4);
    case KILN_PEAK_INT8_DOT_F32_STEPS + 5: return peak_dots(iterations, 5);
    case KILN_PEAK_INT8_DOT_F32_STEPS + 6: return peak_dots(iterations, 6);
    case KILN_PEAK_INT8_DOT_F32_STEPS + 7: return peak_dots(iterations, 7);
    default: return 0;
    }
}

// ---- the transposed batch --------------------------------------------------------------------------

// A 16-row strip of the float tiles' transposed batch (kiln_ops.transpose_strip), 16 × 16 values at
// a time through the registers. The scalar loop took ~2.5% of an F16 prompt's samples (SmolLM2,
// 512 tokens) on the calling thread while the other core waited; shared over the pool it still
// took 5.3% over both threads, this 2.5%.
AVX512 static void transpose_strip(const float *x, int64_t cols, int64_t rows, float *dst, int64_t stride) {
    int64_t k = 0;
    for (; k + 16 <= cols; k += 16) {
        __m512 r[16], t[16];
        for (int i = 0; i < 16; i++) r[i] = i < rows ? _mm512_loadu_ps(x + i * cols + k) : _mm512_setzero_ps();
        // In each 128-bit lane L: rows 2i and 2i + 1 interleaved, columns 4L and 4L + 1 in t[2i],
        // 4L + 2 and 4L + 3 in t[2i + 1] …
        for (int i = 0; i < 8; i++) {
            t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
        }
        // … then rows 4g … 4g + 3 of column 4L + j in lane L of r[4g + j] …
        for (int g = 0; g < 4; g++) {
            const __m512d a = _mm512_castps_pd(t[4 * g]), b = _mm512_castps_pd(t[4 * g + 1]);
            const __m512d c = _mm512_castps_pd(t[4 * g + 2]), d = _mm512_castps_pd(t[4 * g + 3]);
            r[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
            r[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
            r[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
            r[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
        }
        // … and lane L of the four groups side by side: column 4L + j, rows 0 … 15.
        for (int j = 0; j < 4; j++) {
            const __m512 u0 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88), u1 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xDD);
            const __m512 u2 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88), u3 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xDD);
            _mm512_storeu_ps(dst + (k + j) * stride, _mm512_shuffle_f32x4(u0, u2, 0x88));
            _mm512_storeu_ps(dst + (k + 4 + j) * stride, _mm512_shuffle_f32x4(u1, u3, 0x88));
            _mm512_storeu_ps(dst + (k + 8 + j) * stride, _mm512_shuffle_f32x4(u0, u2, 0xDD));
            _mm512_storeu_ps(dst + (k + 12 + j) * stride, _mm512_shuffle_f32x4(u1, u3, 0xDD));
        }
    }
    kiln_transpose_strip_from(x, cols, rows, dst, stride, k);
}

// ---- the tables: the AVX2 tier's, with the entries above ------------------------------------------

static kiln_ops table, vbmi_table;
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void make_tables(void) {
    table = kiln_ops_avx2;
    table.name = "avx512";
    table.peak = peak;
    table.transposed_batch = 8;
    table.transpose_strip = transpose_strip;
    table.flash_tile = kiln_flash_tile_avx512;
    table.rows[KILN_WEIGHT_F32] = rows_f32;
    table.rows[KILN_WEIGHT_F16] = rows_f16;
    table.rows[KILN_WEIGHT_BF16] = rows_bf16;
    table.rows[KILN_WEIGHT_Q8_0X8] = pair_rows_q8_0x8;
    table.rows[KILN_WEIGHT_Q4_0X8] = pair_rows_q4_0x8;
    table.rows[KILN_WEIGHT_Q4_1X8] = pair_rows_q4_1x8;
    table.rows[KILN_WEIGHT_KQ4X8] = pair_rows_kq4x8;
    table.rows[KILN_WEIGHT_Q5_0X8] = pair_rows_q5_0x8;
    table.rows[KILN_WEIGHT_Q5_1X8] = pair_rows_q5_1x8;
    table.rows[KILN_WEIGHT_Q2_K] = rows_q2_k;
    table.rows[KILN_WEIGHT_Q3_K] = rows_q3_k;
    table.rows[KILN_WEIGHT_Q4_K] = rows_q4_k;
    table.rows[KILN_WEIGHT_Q5_K] = rows_q5_k;
    table.rows[KILN_WEIGHT_Q6_K] = rows_q6_k;
    // The prompt tiles' f32 steps per 8 dots, per (16 rows, activation row, 32-value block):
    // a conversion, the weight scale × the activation's (a multiply) and the FMA into the sum;
    // one FMA more for a stored minimum (the _1 types, q4_K/q5_K); per-16 scales a second
    // conversion and FMA (q6_K/q3_K: both halves summed before the activation's scale), or a whole
    // second chain (kq4: 6); q2_K's per-16 minimums two FMAs more (7).
    static const struct { int32_t type; uint8_t steps; } prompt_steps[] = {
        {KILN_WEIGHT_Q8_0X8, 3}, {KILN_WEIGHT_Q4_0X8, 3}, {KILN_WEIGHT_Q5_0X8, 3}, {KILN_WEIGHT_Q4_1X8, 4},
        {KILN_WEIGHT_Q5_1X8, 4}, {KILN_WEIGHT_KQ4X8, 6},  {KILN_WEIGHT_Q4_K, 4},   {KILN_WEIGHT_Q5_K, 4},
        {KILN_WEIGHT_Q6_K, 5},   {KILN_WEIGHT_Q3_K, 5},   {KILN_WEIGHT_Q2_K, 7},
    };
    for (size_t i = 0; i < sizeof prompt_steps / sizeof prompt_steps[0]; i++) table.prompt_f32_steps[prompt_steps[i].type] = prompt_steps[i].steps;

    vbmi_table = table;
    vbmi_table.name = "avx512vbmi";
    vbmi_table.rows[KILN_WEIGHT_Q8_0X8] = vbmi_pair_rows_q8_0x8;
    vbmi_table.rows[KILN_WEIGHT_Q4_0X8] = vbmi_pair_rows_q4_0x8;
    vbmi_table.rows[KILN_WEIGHT_Q4_1X8] = vbmi_pair_rows_q4_1x8;
    vbmi_table.rows[KILN_WEIGHT_KQ4X8] = vbmi_pair_rows_kq4x8;
    vbmi_table.rows[KILN_WEIGHT_Q5_0X8] = vbmi_pair_rows_q5_0x8;
    vbmi_table.rows[KILN_WEIGHT_Q5_1X8] = vbmi_pair_rows_q5_1x8;
}

const kiln_ops *kiln_ops_avx512(void) {
    pthread_once(&table_once, make_tables);
    return &table;
}

const kiln_ops *kiln_ops_avx512_vbmi(void) {
    pthread_once(&table_once, make_tables);
    return &vbmi_table;
}
#endif
