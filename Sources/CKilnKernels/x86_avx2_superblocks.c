// The AVX2 tier's kernels for ggml's K-quant super-blocks (256 values; docs/FORMAT.md §7.2):
// q4_K, q5_K and q6_K, row-major as GGUF stores them.
//
// Eight rows at a time, as the row-major q4_0 kernels: per 32-value sub-block, each row's integer
// dot with the int8 activations (maddubs/madd) is exact and reduced across lanes by a tree of
// hadds, so the 8 rows' dots land in one vector and meet their scales and the activation scale in
// one f32 step. The sub-blocks of 32 (q4_K/q5_K) and the groups of 16 (q6_K) each fall inside one
// activation block of 32.
#if defined(__x86_64__)
#include "x86_avx2_shared.h"

// ggml's get_scale_min_k4: the 6-bit scale and minimum of each of the 8 sub-blocks, from 12 bytes.
static inline void scale_min_k4(const uint8_t *s, uint8_t *scale, uint8_t *min) {
    for (int j = 0; j < 4; j++) {
        scale[j] = s[j] & 63;
        min[j] = s[j + 4] & 63;
    }
    for (int j = 4; j < 8; j++) {
        scale[j] = (uint8_t)((s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4));
        min[j] = (uint8_t)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
}

// 8 bytes → 8 floats.
AVX2 static inline __m256 bytes_to_floats(const uint8_t *p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}

// q4_K (144 bytes: f16 d, f16 dmin, scales[12], qs[128]) and q5_K (176 bytes: the same, then
// qh[32] before qs). Sub-block j takes the low (j even) or high (j odd) nibbles of
// qs[32·(j/2) …], plus 16 where bit j of qh[l] is set (q5_K); value = d·sc_j·q − dmin·m_j.
AVX2 static KILN_ALWAYS_INLINE void k45_tile(const uint8_t *const *rows, const uint8_t *next, int64_t superblocks,
                                             const kiln_matmul_args *a, const int64_t *xrow, int NX, int32_t type,
                                             __m256 *acc) {
    const int q5 = type == KILN_WEIGHT_Q5_K;
    const size_t bytes = q5 ? 176 : 144, quants = q5 ? 48 : 16;
    const int64_t nb = a->cols / KILN_BLOCK;
    const __m256i ones = _mm256_set1_epi16(1), low4 = _mm256_set1_epi8(0x0F), bit = _mm256_set1_epi8(0x01);
    __m256 macc[4];
    for (int i = 0; i < NX; i++) acc[i] = macc[i] = _mm256_setzero_ps();
    for (int64_t s = 0; s < superblocks; s++) {
        const uint8_t *p[8];
        for (int r = 0; r < 8; r++) p[r] = rows[r] + s * bytes;
        // The next 8 rows are contiguous: sweep them into cache at the pace these are read (eight
        // short row streams end before the hardware prefetchers pick them up).
        if (next)
            for (size_t l = 0; l < 8 * bytes; l += 64) _mm_prefetch((const char *)next + s * 8 * bytes + l, _MM_HINT_T0);
        uint8_t scale[8][8], min[8][8]; // [row][sub-block]
        for (int r = 0; r < 8; r++) scale_min_k4(p[r] + 4, scale[r], min[r]);
        const __m256 d = gather_halves(p, 0), dmin = gather_halves(p, 2);
        for (int j = 0; j < 8; j++) {
            uint8_t sj[8], mj[8];
            for (int r = 0; r < 8; r++) {
                sj[r] = scale[r][j];
                mj[r] = min[r][j];
            }
            const __m256 row_scale = _mm256_mul_ps(d, bytes_to_floats(sj)), row_min = _mm256_mul_ps(dmin, bytes_to_floats(mj));
            __m256i w[8];
            for (int r = 0; r < 8; r++) {
                const __m256i q = _mm256_loadu_si256((const __m256i *)(p[r] + quants + 32 * (j / 2)));
                w[r] = _mm256_and_si256(j & 1 ? _mm256_srli_epi16(q, 4) : q, low4);
                if (q5) {
                    const __m256i h = _mm256_loadu_si256((const __m256i *)(p[r] + 16));
                    w[r] = _mm256_or_si256(w[r], _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, j), bit), 4));
                }
            }
            for (int i = 0; i < NX; i++) {
                const int64_t at = xrow[i] * nb + s * 8 + j;
                const __m256i x = _mm256_loadu_si256((const __m256i *)(a->xq + at * KILN_BLOCK));
                __m256i dots[8];
                for (int r = 0; r < 8; r++) dots[r] = _mm256_madd_epi16(_mm256_maddubs_epi16(w[r], x), ones);
                const __m256 xd = _mm256_set1_ps(a->xd[at]);
                acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(reduce8(dots)), _mm256_mul_ps(row_scale, xd), acc[i]);
                macc[i] = _mm256_fmadd_ps(row_min, _mm256_set1_ps(a->xd[at] * (float)a->xsum[at]), macc[i]);
            }
        }
    }
    for (int i = 0; i < NX; i++) acc[i] = _mm256_sub_ps(acc[i], macc[i]);
}

// q6_K (210 bytes: ql[128], qh[64], int8 scales[16], f16 d). In half n, sub-block k (values
// 128n + 32k + l) takes nibble k/2 of ql[64n + 32(k%2) + l] and bits 2k…2k+1 of qh[32n + l], minus
// 32; values l < 16 have scale scales[8n + 2k], the rest scales[8n + 2k + 1]. The signed codes go
// through the abs/sign trick, and madd against the two scales (one per 128-bit half, which holds
// one group of 16) applies them in the integers.
AVX2 static KILN_ALWAYS_INLINE void k6_tile(const uint8_t *const *rows, const uint8_t *next, int64_t superblocks,
                                            const kiln_matmul_args *a, const int64_t *xrow, int NX, __m256 *acc) {
    const int64_t nb = a->cols / KILN_BLOCK;
    const __m256i low4 = _mm256_set1_epi8(0x0F), low2 = _mm256_set1_epi8(0x03), offset = _mm256_set1_epi8(32);
    for (int i = 0; i < NX; i++) acc[i] = _mm256_setzero_ps();
    for (int64_t s = 0; s < superblocks; s++) {
        const uint8_t *p[8];
        for (int r = 0; r < 8; r++) p[r] = rows[r] + s * 210;
        if (next)
            for (size_t l = 0; l < 8 * 210; l += 64) _mm_prefetch((const char *)next + s * 8 * 210 + l, _MM_HINT_T0);
        const __m256 d = gather_halves(p, 208);
        for (int n = 0; n < 2; n++) {
            for (int k = 0; k < 4; k++) {
                __m256i w[8], scales[8];
                for (int r = 0; r < 8; r++) {
                    const __m256i ql = _mm256_loadu_si256((const __m256i *)(p[r] + 64 * n + 32 * (k % 2)));
                    const __m256i qh = _mm256_loadu_si256((const __m256i *)(p[r] + 128 + 32 * n));
                    const __m256i lo = _mm256_and_si256(k < 2 ? ql : _mm256_srli_epi16(ql, 4), low4);
                    const __m256i hi = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), low2), 4);
                    w[r] = _mm256_sub_epi8(_mm256_or_si256(lo, hi), offset);
                    const int8_t *sc = (const int8_t *)(p[r] + 192 + 8 * n + 2 * k);
                    scales[r] = _mm256_setr_m128i(_mm_set1_epi16(sc[0]), _mm_set1_epi16(sc[1]));
                }
                for (int i = 0; i < NX; i++) {
                    const int64_t at = xrow[i] * nb + s * 8 + 4 * n + k;
                    const __m256i x = _mm256_loadu_si256((const __m256i *)(a->xq + at * KILN_BLOCK));
                    __m256i dots[8];
                    for (int r = 0; r < 8; r++)
                        dots[r] = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(w[r]), _mm256_sign_epi8(x, w[r])), scales[r]);
                    acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(reduce8(dots)), _mm256_mul_ps(d, _mm256_set1_ps(a->xd[at])), acc[i]);
                }
            }
        }
    }
}

AVX2 static KILN_ALWAYS_INLINE void superblock_rows(const kiln_matmul_args *a, int64_t r0, int64_t r1, int32_t type) {
    const size_t bytes = type == KILN_WEIGHT_Q4_K ? 144 : type == KILN_WEIGHT_Q5_K ? 176 : 210;
    const int64_t superblocks = a->cols / 256;
    const size_t row_bytes = (size_t)superblocks * bytes;
    for (int64_t row = r0; row < r1; row += KILN_GROUP_ROWS) {
        const int valid = (int)(r1 - row < KILN_GROUP_ROWS ? r1 - row : KILN_GROUP_ROWS);
        const uint8_t *rows[8];
        // Missing rows of a last partial group alias the last real one; their results are dropped.
        for (int r = 0; r < 8; r++) rows[r] = (const uint8_t *)a->w + (size_t)(row + (r < valid ? r : valid - 1)) * row_bytes;
        const uint8_t *next = row + 2 * KILN_GROUP_ROWS <= r1 ? rows[0] + 8 * row_bytes : NULL;
        for (int64_t b = 0; b < a->batch; b += 4) {
            const int nx = a->batch == 1 ? 1 : 4;
            int64_t xrow[4];
            for (int i = 0; i < 4; i++) xrow[i] = b + i < a->batch ? b + i : a->batch - 1;
            __m256 acc[4];
            if (type == KILN_WEIGHT_Q6_K) {
                if (nx == 1) k6_tile(rows, next, superblocks, a, xrow, 1, acc);
                else k6_tile(rows, NULL, superblocks, a, xrow, 4, acc);
            } else {
                if (nx == 1) k45_tile(rows, next, superblocks, a, xrow, 1, type, acc);
                else k45_tile(rows, NULL, superblocks, a, xrow, 4, type, acc);
            }
            for (int i = 0; i < nx && b + i < a->batch; i++) store_group(a->y + (b + i) * a->rows + row, acc[i], valid);
        }
    }
}

AVX2 void kiln_rows_avx2_q4_k(const kiln_matmul_args *a, int64_t r0, int64_t r1) { superblock_rows(a, r0, r1, KILN_WEIGHT_Q4_K); }
AVX2 void kiln_rows_avx2_q5_k(const kiln_matmul_args *a, int64_t r0, int64_t r1) { superblock_rows(a, r0, r1, KILN_WEIGHT_Q5_K); }
AVX2 void kiln_rows_avx2_q6_k(const kiln_matmul_args *a, int64_t r0, int64_t r1) { superblock_rows(a, r0, r1, KILN_WEIGHT_Q6_K); }
#endif
