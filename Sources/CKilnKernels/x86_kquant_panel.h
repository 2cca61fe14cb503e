// Prompt batches of every K-quant (q2_K … q6_K) through a decoded panel, on every x86 tier. The row-major
// super-blocks are the wrong shape for a batch: their per-row tiles (x86_avx2_kquants.c) spend
// more on horizontal adds than on products. So for a batch of 4 or more, each group of 8 rows is
// decoded once per chunk of PANEL_SUPERBLOCKS super-blocks into a panel laid out like the
// interleaved types (docs/FORMAT.md §7.4): per 32-value block, 8 chunks of 4 codes of each row,
// then each row's scales, so that one broadcast activation chunk meets 8 rows per instruction;
// the panel (22 KB) stays in L1 while every activation row passes over it.
//
// Per row and block: value = s_h · (code − offset) − m_h, with h the block's half (q2_K, q3_K and
// q6_K have a scale per 16 values; q4_K/q5_K one per 32, stored in both halves). The offset (32
// for q6_K, 4 for q3_K) comes off with the driver's half-block activation sums, as do q2_K's
// per-16 minimums; q4_K/q5_K's per-32 minimums go through the block sums, as for q4_1. Integer
// dots are exact; the f32 sums run in a different order than the decode tiles', so batch and
// decode agree within rounding (tested against the reference).
//
// Included by x86_avx2_kquants.c, x86_avx_vnni.c and x86_avx512.c with KPANEL_TARGET (the tier's
// target attribute), KPANEL_DPBUSD (`vpdpbusd`, VEX or EVEX, or AVX2's maddubs + madd: every
// code is ≤ 63, so maddubs cannot saturate) and KPANEL_PREFIX defined.
#include "x86_kquant_unpack.h"

#define KPANEL_CAT2(a, b) a##b
#define KPANEL_CAT(a, b) KPANEL_CAT2(a, b)
#define KPANEL(name) KPANEL_CAT(KPANEL_PREFIX, name)

#ifndef PANEL_SUPERBLOCKS
#define PANEL_SUPERBLOCKS 8 // 2048 values: 16 KB of codes + 6 KB of scales
#define PANEL_BLOCKS (PANEL_SUPERBLOCKS * 8)

typedef struct {
    uint8_t codes[PANEL_BLOCKS][8][32]; // [block][chunk][row · 4 + byte]
    float scale[PANEL_BLOCKS][2][8];    // [block][half][row]
    float minimum[PANEL_BLOCKS][2][8];  // [block][half][row]: −m (q4_K/q5_K: half 0 only)
} kquant_panel;


// The 8 × 8 transpose of 32-bit lanes: out[k] lane r = in[r] lane k.
AVX2 static inline void transpose8(const __m256i *in, __m256i *out) {
    __m256i t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_epi32(in[2 * i], in[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_epi32(in[2 * i], in[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        u[4 * i] = _mm256_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (int k = 0; k < 4; k++) {
        out[k] = _mm256_permute2x128_si256(u[k], u[k + 4], 0x20);
        out[k + 4] = _mm256_permute2x128_si256(u[k], u[k + 4], 0x31);
    }
}

// Decodes super-blocks sb0 … sb0 + count − 1 of 8 rows into a panel whose lines hold `pitch` rows
// (8: kquant_panel; 16: the AVX-512 pair panel, whose two 8-row groups each fill half of every
// line): block k's chunk c is the 32 bytes at codes + (8k + c)·4·pitch, its half h's scales and
// minimums the 8 floats at scale/minimum + (2k + h)·pitch. Codes are shifted left by `shift` bits
// (each code < 2^(8 − shift), so no bit leaves its byte) and the scales divided by 2^shift, which
// is exact: the AVX-512 pair tile scales q6_K/q3_K codes so that their offset comes off through
// the driver's −128·Σx half sums (args.xhalf_bias).
AVX2 static void kquant_panel_decode_to(const uint8_t *const *rows, int32_t type, int64_t sb0, int64_t count, uint8_t *codes,
                                        float *scales, float *minimums, int pitch, int shift) {
    const size_t bytes = (size_t)kiln_block_bytes(type);
    for (int64_t s = 0; s < count; s++) {
        __m256i w[8][8]; // [row][block]
        __m256i scale_lo[8], scale_hi[8], minimum[8], minimum_hi[8]; // [row] over the 8 blocks, as float bits
        for (int r = 0; r < 8; r++) {
            const uint8_t *block = rows[r] + (size_t)(sb0 + s) * bytes;
            minimum_hi[r] = _mm256_setzero_si256();
            if (type == KILN_WEIGHT_Q2_K) {
                __m256 sc[2], mn[2];
                unpack_q2(block, w[r], sc, mn);
                scale_lo[r] = _mm256_castps_si256(sc[0]);
                scale_hi[r] = _mm256_castps_si256(sc[1]);
                minimum[r] = _mm256_castps_si256(_mm256_sub_ps(_mm256_setzero_ps(), mn[0]));
                minimum_hi[r] = _mm256_castps_si256(_mm256_sub_ps(_mm256_setzero_ps(), mn[1]));
            } else if (type == KILN_WEIGHT_Q3_K) {
                __m256 sc[2];
                unpack_q3(block, w[r], sc);
                scale_lo[r] = _mm256_castps_si256(sc[0]);
                scale_hi[r] = _mm256_castps_si256(sc[1]);
                minimum[r] = _mm256_setzero_si256();
            } else if (type == KILN_WEIGHT_Q6_K) {
                unpack_q6_codes(block, w[r]);
                const __m256 d = _mm256_set1_ps(kiln_half_to_float(kiln_load_u16(block + 208)));
                const __m128i sc = _mm_loadu_si128((const __m128i *)(block + 192)); // i8 scales[16]: block t has 2t, 2t + 1
                const __m128i even = _mm_shuffle_epi8(sc, _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1, -1, -1, -1, -1));
                const __m128i odd = _mm_shuffle_epi8(sc, _mm_setr_epi8(1, 3, 5, 7, 9, 11, 13, 15, -1, -1, -1, -1, -1, -1, -1, -1));
                scale_lo[r] = _mm256_castps_si256(_mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(even))));
                scale_hi[r] = _mm256_castps_si256(_mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(odd))));
                minimum[r] = _mm256_setzero_si256();
            } else {
                __m256 dsc, dmn;
                unpack_q45(block, type == KILN_WEIGHT_Q5_K, w[r], &dsc, &dmn);
                scale_lo[r] = scale_hi[r] = _mm256_castps_si256(dsc);
                minimum[r] = _mm256_castps_si256(_mm256_sub_ps(_mm256_setzero_ps(), dmn));
            }
        }
        for (int t = 0; t < 8; t++) {
            __m256i column[8], chunks[8];
            for (int r = 0; r < 8; r++) column[r] = w[r][t];
            transpose8(column, chunks);
            for (int c = 0; c < 8; c++)
                _mm256_store_si256((__m256i *)(codes + ((s * 8 + t) * 8 + c) * 4 * pitch), _mm256_slli_epi32(chunks[c], shift));
        }
        __m256i lo[8], hi[8], mn[8], mh[8];
        transpose8(scale_lo, lo);
        transpose8(scale_hi, hi);
        transpose8(minimum, mn);
        transpose8(minimum_hi, mh);
        const __m256 unshift = _mm256_set1_ps(1.0f / (float)(1 << shift));
        for (int t = 0; t < 8; t++) {
            float *scale = scales + (s * 8 + t) * 2 * pitch, *minimum_at = minimums + (s * 8 + t) * 2 * pitch;
            _mm256_store_ps(scale, _mm256_mul_ps(_mm256_castsi256_ps(lo[t]), unshift));
            _mm256_store_ps(scale + pitch, _mm256_mul_ps(_mm256_castsi256_ps(hi[t]), unshift));
            _mm256_store_si256((__m256i *)minimum_at, mn[t]);
            _mm256_store_si256((__m256i *)(minimum_at + pitch), mh[t]);
        }
    }
}

// Into an 8-row panel, codes as stored.
AVX2 static void kquant_panel_decode(const uint8_t *const *rows, int32_t type, int64_t sb0, int64_t count, kquant_panel *p) {
    kquant_panel_decode_to(rows, type, sb0, count, &p->codes[0][0][0], &p->scale[0][0][0], &p->minimum[0][0][0], 8, 0);
}
#endif

// The panel's `blocks` blocks (starting at activation block b0) against activation rows
// xrow[0..NX-1]; acc[i] += activation row i's 8 partial dots.
KPANEL_TARGET static KILN_ALWAYS_INLINE void KPANEL(panel_tile)(const kquant_panel *p, int64_t blocks, int64_t b0,
                                                              const kiln_matmul_args *a, const int64_t *xrow, int NX,
                                                              int32_t type, __m256 *acc) {
    const int64_t nb = a->cols / KILN_BLOCK;
    const int per16 = type == KILN_WEIGHT_Q2_K || type == KILN_WEIGHT_Q3_K || type == KILN_WEIGHT_Q6_K;
    const int offset = type == KILN_WEIGHT_Q6_K ? 32 : type == KILN_WEIGHT_Q3_K ? 4 : 0;
    __m256 macc[4];
    for (int i = 0; i < NX; i++) macc[i] = _mm256_setzero_ps();
    for (int64_t blk = 0; blk < blocks; blk++) {
        const int64_t ab = b0 + blk; // the activation block
        __m256i lo[4], hi[4];
        for (int i = 0; i < NX; i++) lo[i] = hi[i] = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            const __m256i wl = _mm256_load_si256((const __m256i *)p->codes[blk][c]);
            const __m256i wh = _mm256_load_si256((const __m256i *)p->codes[blk][c + 4]);
            for (int i = 0; i < NX; i++) {
                const int8_t *x = a->xq + xrow[i] * a->cols + ab * KILN_BLOCK + 4 * c;
                lo[i] = KPANEL_DPBUSD(lo[i], wl, broadcast4(x));
                hi[i] = KPANEL_DPBUSD(hi[i], wh, broadcast4(x + 16));
            }
        }
        const __m256 s_lo = _mm256_load_ps(p->scale[blk][0]);
        if (per16) {
            const __m256 s_hi = _mm256_load_ps(p->scale[blk][1]);
            for (int i = 0; i < NX; i++) {
                const int32_t *half = a->xhalf + xrow[i] * 2 * nb + 2 * ab;
                const float x_scale = a->xd[xrow[i] * nb + ab];
                const __m256 xd = _mm256_set1_ps(x_scale);
                __m256i dl = lo[i], dh = hi[i];
                if (offset) {
                    dl = _mm256_sub_epi32(dl, _mm256_set1_epi32(offset * half[0]));
                    dh = _mm256_sub_epi32(dh, _mm256_set1_epi32(offset * half[1]));
                }
                acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dl), _mm256_mul_ps(s_lo, xd), acc[i]);
                macc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dh), _mm256_mul_ps(s_hi, xd), macc[i]);
                if (type == KILN_WEIGHT_Q2_K) {
                    acc[i] = _mm256_fmadd_ps(_mm256_load_ps(p->minimum[blk][0]), _mm256_set1_ps(x_scale * (float)half[0]), acc[i]);
                    macc[i] = _mm256_fmadd_ps(_mm256_load_ps(p->minimum[blk][1]), _mm256_set1_ps(x_scale * (float)half[1]), macc[i]);
                }
            }
        } else {
            const __m256 m = _mm256_load_ps(p->minimum[blk][0]);
            for (int i = 0; i < NX; i++) {
                const float xd = a->xd[xrow[i] * nb + ab];
                acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(lo[i], hi[i])), _mm256_mul_ps(s_lo, _mm256_set1_ps(xd)), acc[i]);
                // d_x·Σx from the driver (args.xmin): a broadcast load instead of a conversion, a multiply and a broadcast.
                macc[i] = _mm256_fmadd_ps(m, _mm256_set1_ps(a->xmin ? a->xmin[xrow[i] * nb + ab] : xd * (float)a->xsum[xrow[i] * nb + ab]), macc[i]);
            }
        }
    }
    for (int i = 0; i < NX; i++) acc[i] = _mm256_add_ps(acc[i], macc[i]);
}

// Rows r0 … r1 − 1 (r0 a multiple of 8) of a K-quant matrix; a batch of 1 runs its own tile.
KPANEL_TARGET static KILN_ALWAYS_INLINE void KPANEL(panel_rows)(const kiln_matmul_args *a, int64_t r0, int64_t r1, int32_t type) {
    static _Thread_local kquant_panel panel __attribute__((aligned(64)));
    const size_t bytes = (size_t)kiln_block_bytes(type);
    const int64_t superblocks = a->cols / 256;
    for (int64_t row = r0; row < r1; row += KILN_GROUP_ROWS) {
        const int valid = (int)(r1 - row < KILN_GROUP_ROWS ? r1 - row : KILN_GROUP_ROWS);
        const uint8_t *rows[8];
        // Missing rows of a last partial group alias the last real one; their results are dropped.
        for (int r = 0; r < 8; r++) rows[r] = (const uint8_t *)a->w + (size_t)((row + (r < valid ? r : valid - 1)) * superblocks) * bytes;
        for (int64_t s0 = 0; s0 < superblocks; s0 += PANEL_SUPERBLOCKS) {
            const int64_t count = superblocks - s0 < PANEL_SUPERBLOCKS ? superblocks - s0 : PANEL_SUPERBLOCKS;
            kquant_panel_decode(rows, type, s0, count, &panel);
            for (int64_t b = 0; b < a->batch; b += 4) {
                int64_t xrow[4];
                for (int i = 0; i < 4; i++) xrow[i] = b + i < a->batch ? b + i : a->batch - 1;
                __m256 acc[4];
                for (int i = 0; i < 4; i++) acc[i] = _mm256_setzero_ps();
                if (a->batch == 1) KPANEL(panel_tile)(&panel, count * 8, s0 * 8, a, xrow, 1, type, acc);
                else KPANEL(panel_tile)(&panel, count * 8, s0 * 8, a, xrow, 4, type, acc);
                for (int i = 0; i < 4 && b + i < a->batch; i++) {
                    float *y = a->y + (b + i) * a->rows + row;
                    if (s0 == 0) {
                        store_group(y, acc[i], valid);
                    } else {
                        float t[8];
                        _mm256_storeu_ps(t, acc[i]);
                        for (int r = 0; r < valid; r++) y[r] += t[r];
                    }
                }
            }
        }
    }
}
