// The AVX2 tier's kernels for ggml's K-quant super-blocks (256 values; docs/FORMAT.md §7.2):
// q2_K … q6_K, row-major as GGUF stores them. Decode tiles here; prompt batches through the
// panel of x86_kquant_panel.h (at the end).
//
// One weight row at a time, read front to back, against 1 activation row (decode) or a tile of 4
// (prompt batches: a super-block's scales and codes are unpacked once for all 4). Each sub-block
// of 32 values meets one activation block: one `maddubs` of its unsigned codes (q4_K 0…15, q5_K
// 0…31, q6_K 0…63) against the signed activations, with no saturation (2·63·127 < 32767). The
// results of 4 blocks are folded by 16-bit hadds and one `madd` into one int32 vector with each
// block in two lanes, so 4 blocks take one conversion and one FMA, whose factor vector comes from
// 8 contiguous activation scales at once:
// - q4_K / q5_K: factor d·sc·xd per block; the minimums, dmin·m·xd·Σx with Σx the driver's block
//   sums, come off as one vector FMA per super-block.
// - q6_K: the −32 of the codes comes off in int16 as maddubs(32, x), and the block's two groups of
//   16 (its 128-bit halves) land in separate lanes, so their signed scales join the f32 factors
//   d·sc·xd, never the integers.
// Every integer partial is exact; f32 rounding is one product per 4 blocks and the accumulation.
#if defined(__x86_64__)
#include "x86_kquant_unpack.h"

// Decode reads each thread's rows as one stream, and the hardware prefetchers alone fed a core
// only about half the read bandwidth it has (7.5 of 14 GB/s on one thread), so each super-block
// also prefetches the bytes this far ahead (best of 0.5–8 KB measured: 12 GB/s). Prefetches past
// the end of the matrix do not fault.
#define KQ_AHEAD 4096

// Folds the maddubs results of 4 blocks (16 int16 pair sums each): lane l and lane l + 4 of the
// result hold block l's dot over its low and high 128 bits, so with each block's factor in both
// its lanes one FMA scales 4 blocks. Two 16-bit hadd levels before the one widening madd: a lane
// then sums 8 products, at most 8·31·127 (q5_K) or 8·32·127 (q6_K's codes − 32), inside int16.
AVX2 static inline __m256i fold4(const __m256i *p) {
    const __m256i h = _mm256_hadd_epi16(_mm256_hadd_epi16(p[0], p[1]), _mm256_hadd_epi16(p[2], p[3]));
    return _mm256_madd_epi16(h, _mm256_set1_epi16(1));
}

// f in both 128-bit halves: its low half (blocks 0–3), or its high half (blocks 4–7).
AVX2 static inline __m256 low_twice(__m256 f) { return _mm256_permute2f128_ps(f, f, 0x00); }
AVX2 static inline __m256 high_twice(__m256 f) { return _mm256_permute2f128_ps(f, f, 0x11); }

// One weight row (its first super-block at `row`) against NX activation rows; out[i] = the dot.
// Missing activation rows of a batch tail are aliased to a real one by the caller. The 8
// sub-blocks' codes are unpacked once per super-block for all NX rows.
AVX2 static KILN_ALWAYS_INLINE void q45_tile(const uint8_t *row, int64_t superblocks, const kiln_matmul_args *a,
                                             const int64_t *xrow, int NX, int q5, float *out) {
    const size_t bytes = q5 ? 176 : 144;
    const int64_t nb = a->cols / KILN_BLOCK;
    __m256 acc[4][2]; // blocks 0–3 and 4–7 (with the minimums): two FMA chains per activation row
    for (int i = 0; i < NX; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int64_t s = 0; s < superblocks; s++) {
        const uint8_t *block = row + s * bytes;
        if (NX == 1)
            for (size_t l = 0; l < bytes; l += 64) _mm_prefetch((const char *)block + KQ_AHEAD + l, _MM_HINT_T0);
        __m256i w[8];
        __m256 dsc, dmn;
        unpack_q45(block, q5, w, &dsc, &dmn);
        for (int i = 0; i < NX; i++) {
            const int64_t at = xrow[i] * nb + s * 8;
            const int8_t *x = a->xq + at * KILN_BLOCK;
            __m256i v[8];
            for (int t = 0; t < 8; t++)
                v[t] = _mm256_maddubs_epi16(w[t], _mm256_loadu_si256((const __m256i *)(x + 32 * t)));
            const __m256 xd = _mm256_loadu_ps(a->xd + at), factor = _mm256_mul_ps(dsc, xd);
            const __m256 xsum = _mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(a->xsum + at)));
            acc[i][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(fold4(v)), low_twice(factor), acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(fold4(v + 4)), high_twice(factor), acc[i][1]);
            acc[i][1] = _mm256_fnmadd_ps(dmn, _mm256_mul_ps(xd, xsum), acc[i][1]);
        }
    }
    for (int i = 0; i < NX; i++) out[i] = hsum(_mm256_add_ps(acc[i][0], acc[i][1]));
}

// q6_K (210 bytes: ql[128], qh[64], i8 scales[16], d). Block t = 4n + k of the super-block (values
// 128n + 32k + l) takes nibble k/2 of ql[64n + 32(k % 2) + l] and bits 2k…2k+1 of qh[32n + l];
// its groups of 16 are 2t (l < 16) and 2t + 1, the low and high 128-bit halves of its maddubs.
// After fold4 the lanes are therefore groups (0, 2, 4, 6 | 1, 3, 5, 7) for blocks 0–3 and
// (8, 10, 12, 14 | 9, 11, 13, 15) for blocks 4–7, and the group scales join the float factors in
// that order.
AVX2 static KILN_ALWAYS_INLINE void q6_tile(const uint8_t *row, int64_t superblocks, const kiln_matmul_args *a,
                                            const int64_t *xrow, int NX, float *out) {
    const int64_t nb = a->cols / KILN_BLOCK;
    const __m256i offset = _mm256_set1_epi8(32);
    const __m128i lane_order = _mm_setr_epi8(0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15);
    __m256 acc[4][2];
    for (int i = 0; i < NX; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int64_t s = 0; s < superblocks; s++) {
        const uint8_t *block = row + s * 210;
        if (NX == 1)
            for (size_t l = 0; l < 210; l += 64) _mm_prefetch((const char *)block + KQ_AHEAD + l, _MM_HINT_T0);
        const __m256 d = _mm256_broadcastss_ps(_mm_cvtph_ps(_mm_cvtsi32_si128(kiln_load_u16(block + 208))));
        const __m128i sc = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(block + 192)), lane_order);
        const __m256 scale_lo = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(sc)));
        const __m256 scale_hi = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(sc, sc))));
        __m256i w[8];
        unpack_q6_codes(block, w);
        for (int i = 0; i < NX; i++) {
            const int64_t at = xrow[i] * nb + s * 8;
            const int8_t *x = a->xq + at * KILN_BLOCK;
            __m256i v[8];
            for (int t = 0; t < 8; t++) {
                const __m256i xt = _mm256_loadu_si256((const __m256i *)(x + 32 * t));
                v[t] = _mm256_sub_epi16(_mm256_maddubs_epi16(w[t], xt), _mm256_maddubs_epi16(offset, xt));
            }
            const __m256 xd = _mm256_loadu_ps(a->xd + at);
            acc[i][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(fold4(v)), _mm256_mul_ps(scale_lo, low_twice(xd)), acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(fold4(v + 4)), _mm256_mul_ps(scale_hi, high_twice(xd)), acc[i][1]);
        }
    }
    for (int i = 0; i < NX; i++) out[i] = hsum(_mm256_add_ps(acc[i][0], acc[i][1]));
}

// q2_K and q3_K (groups of 16, like q6_K): after fold4 the lanes are the blocks' halves in
// the order (0, 2, 4, 6 | 1, 3, 5, 7) of the 16 groups, so the per-group scales (and q2_K's
// minimums, applied through the driver's half-block activation sums) are put in that order.
// q3_K's codes 0…7 carry an offset of 4, taken off in int16 as maddubs(4, x).
AVX2 static KILN_ALWAYS_INLINE void q23_tile(const uint8_t *row, int64_t superblocks, const kiln_matmul_args *a,
                                             const int64_t *xrow, int NX, int q3, float *out) {
    const size_t bytes = q3 ? 110 : 84;
    const int64_t nb = a->cols / KILN_BLOCK;
    const __m256i four = _mm256_set1_epi8(4), order = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    __m256 acc[4][2];
    for (int i = 0; i < NX; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int64_t s = 0; s < superblocks; s++) {
        const uint8_t *block = row + s * bytes;
        if (NX == 1)
            for (size_t l = 0; l < bytes; l += 64) _mm_prefetch((const char *)block + KQ_AHEAD + l, _MM_HINT_T0);
        __m256i w[8];
        __m256 sc[2], mn[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
        if (q3) unpack_q3(block, w, sc);
        else unpack_q2(block, w, sc, mn);
        const __m256 s_lo = _mm256_permute2f128_ps(sc[0], sc[1], 0x20), s_hi = _mm256_permute2f128_ps(sc[0], sc[1], 0x31);
        const __m256 m_lo = _mm256_permute2f128_ps(mn[0], mn[1], 0x20), m_hi = _mm256_permute2f128_ps(mn[0], mn[1], 0x31);
        for (int i = 0; i < NX; i++) {
            const int64_t at = xrow[i] * nb + s * 8;
            const int8_t *x = a->xq + at * KILN_BLOCK;
            __m256i v[8];
            for (int t = 0; t < 8; t++) {
                const __m256i xt = _mm256_loadu_si256((const __m256i *)(x + 32 * t));
                v[t] = _mm256_maddubs_epi16(w[t], xt);
                if (q3) v[t] = _mm256_sub_epi16(v[t], _mm256_maddubs_epi16(four, xt));
            }
            const __m256 xd = _mm256_loadu_ps(a->xd + at), xd_lo = low_twice(xd), xd_hi = high_twice(xd);
            acc[i][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(fold4(v)), _mm256_mul_ps(s_lo, xd_lo), acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(fold4(v + 4)), _mm256_mul_ps(s_hi, xd_hi), acc[i][1]);
            if (!q3) {
                const int32_t *half = a->xhalf + xrow[i] * 2 * nb + 16 * s;
                const __m256 h_lo = _mm256_cvtepi32_ps(_mm256_permutevar8x32_epi32(_mm256_loadu_si256((const __m256i *)half), order));
                const __m256 h_hi = _mm256_cvtepi32_ps(_mm256_permutevar8x32_epi32(_mm256_loadu_si256((const __m256i *)(half + 8)), order));
                acc[i][0] = _mm256_fnmadd_ps(m_lo, _mm256_mul_ps(xd_lo, h_lo), acc[i][0]);
                acc[i][1] = _mm256_fnmadd_ps(m_hi, _mm256_mul_ps(xd_hi, h_hi), acc[i][1]);
            }
        }
    }
    for (int i = 0; i < NX; i++) out[i] = hsum(_mm256_add_ps(acc[i][0], acc[i][1]));
}

AVX2 static KILN_ALWAYS_INLINE void k_tile(const uint8_t *row, int64_t superblocks, const kiln_matmul_args *a, const int64_t *xrow,
                                           int NX, int32_t type, float *out) {
    switch (type) {
    case KILN_WEIGHT_Q2_K: q23_tile(row, superblocks, a, xrow, NX, 0, out); break;
    case KILN_WEIGHT_Q3_K: q23_tile(row, superblocks, a, xrow, NX, 1, out); break;
    case KILN_WEIGHT_Q6_K: q6_tile(row, superblocks, a, xrow, NX, out); break;
    default: q45_tile(row, superblocks, a, xrow, NX, type == KILN_WEIGHT_Q5_K, out); break;
    }
}

AVX2 static KILN_ALWAYS_INLINE void k_rows(const kiln_matmul_args *a, int64_t r0, int64_t r1, int32_t type) {
    const size_t bytes = (size_t)kiln_block_bytes(type);
    const int64_t superblocks = a->cols / 256;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)a->w + (size_t)(r * superblocks) * bytes;
        if (a->batch == 1) {
            const int64_t xrow[1] = {0};
            k_tile(row, superblocks, a, xrow, 1, type, a->y + r);
            continue;
        }
        // The row (≤ 210 × 11008 / 256 ≈ 9 KB for the usual shapes) stays in L1 across the batch.
        for (int64_t b = 0; b < a->batch; b += 4) {
            int64_t xrow[4];
            for (int i = 0; i < 4; i++) xrow[i] = b + i < a->batch ? b + i : a->batch - 1;
            float out[4];
            k_tile(row, superblocks, a, xrow, 4, type, out);
            for (int i = 0; i < 4 && b + i < a->batch; i++) a->y[(b + i) * a->rows + r] = out[i];
        }
    }
}

// Decode tiles (and short batches); prompt batches of 4 or more go through the panel below.
AVX2 static void k_rows_any(const kiln_matmul_args *a, int64_t r0, int64_t r1, int32_t type);
AVX2 void kiln_rows_avx2_q4_k(const kiln_matmul_args *a, int64_t r0, int64_t r1) { k_rows_any(a, r0, r1, KILN_WEIGHT_Q4_K); }
AVX2 void kiln_rows_avx2_q5_k(const kiln_matmul_args *a, int64_t r0, int64_t r1) { k_rows_any(a, r0, r1, KILN_WEIGHT_Q5_K); }
AVX2 void kiln_rows_avx2_q6_k(const kiln_matmul_args *a, int64_t r0, int64_t r1) { k_rows_any(a, r0, r1, KILN_WEIGHT_Q6_K); }

// ---- prompt batches (4 or more rows): the decoded panel -------------------------------------------------

// vpdpbusd's sum without VNNI: every panel code is ≤ 63, so maddubs (2 · 63 · 127) cannot saturate.
AVX2 static inline __m256i dpbusd_avx2(__m256i acc, __m256i u, __m256i s) {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
}
#define KPANEL_TARGET AVX2
#define KPANEL_DPBUSD dpbusd_avx2
#define KPANEL_PREFIX avx2_
#include "x86_kquant_panel.h"

AVX2 static void k_rows_any(const kiln_matmul_args *a, int64_t r0, int64_t r1, int32_t type) {
    if (a->batch < 4) k_rows(a, r0, r1, type);
    else avx2_panel_rows(a, r0, r1, type);
}

AVX2 void kiln_rows_avx2_q2_k(const kiln_matmul_args *a, int64_t r0, int64_t r1) { k_rows_any(a, r0, r1, KILN_WEIGHT_Q2_K); }
AVX2 void kiln_rows_avx2_q3_k(const kiln_matmul_args *a, int64_t r0, int64_t r1) { k_rows_any(a, r0, r1, KILN_WEIGHT_Q3_K); }
#endif
