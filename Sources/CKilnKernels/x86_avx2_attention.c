// The AVX2 tier's attention tile: 8-wide FMAs, a key block's 16 lanes as two vectors.
// - scores: 4 query rows × one 16-key block per pass (8 accumulators; per dimension 2 key loads
//   and 4 broadcasts feed 8 FMAs);
// - P·V: 4 rows × 16 value dimensions (8 accumulators), the dimension tail by masked loads.
#if defined(__x86_64__)
#include "x86_avx2_shared.h"
#include <math.h>

#define FLASH_TARGET AVX2
#define FLASH_TILE kiln_flash_tile_avx2

// Eight lanes of a key block: f32 as stored, or an f16 cache's halves converted on the way
// (`half`, a constant after inlining).
AVX2 static inline __attribute__((always_inline)) __m256 lanes8(const void *base, int64_t index, int half) {
    return half ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)base + index)))
                : _mm256_loadu_ps((const float *)base + index);
}

// R rows (a constant after inlining) of scores against one key block.
AVX2 static inline __attribute__((always_inline)) void scores_block_of(const float *Q, int R, int64_t d, const void *block, int half,
                                                                       float *S, kiln_prefetch_run *prefetch) {
    __m256 acc[4][2];
    for (int r = 0; r < 4; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (int64_t i = 0; i < d; i++) {
        kiln_prefetch_step(prefetch);
        const __m256 k0 = lanes8(block, i * KILN_KV_BLOCK, half), k1 = lanes8(block, i * KILN_KV_BLOCK + 8, half);
        for (int r = 0; r < R; r++) {
            const __m256 q = _mm256_broadcast_ss(Q + r * d + i);
            acc[r][0] = _mm256_fmadd_ps(q, k0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(q, k1, acc[r][1]);
        }
    }
    for (int r = 0; r < R; r++) {
        _mm256_storeu_ps(S + r * KILN_FLASH_KEYS, acc[r][0]);
        _mm256_storeu_ps(S + r * KILN_FLASH_KEYS + 8, acc[r][1]);
    }
}

AVX2 static inline __attribute__((always_inline)) void scores_block(const float *Q, int R, int64_t d, const float *block,
                                                                    float *S) {
    scores_block_of(Q, R, d, block, 0, S, NULL);
}

AVX2 static inline void flash_scores(const float *Q, int64_t rows, int64_t d, const float *kt, int64_t blocks, float *S) {
    for (int64_t r = 0; r < rows; r += 4) {
        for (int b = 0; b < blocks; b++) {
            const float *block = kt + b * KILN_KV_BLOCK * d;
            float *s = S + r * KILN_FLASH_KEYS + b * KILN_KV_BLOCK;
            switch (rows - r) {
            case 1: scores_block(Q + r * d, 1, d, block, s); break;
            case 2: scores_block(Q + r * d, 2, d, block, s); break;
            case 3: scores_block(Q + r * d, 3, d, block, s); break;
            default: scores_block(Q + r * d, 4, d, block, s); break;
            }
        }
    }
}

AVX2 static inline void flash_softmax(float *S, int64_t rows, float *m, float *l, float *O, int64_t d) {
    const __m256 minus_infinity = _mm256_set1_ps(-INFINITY);
    for (int64_t r = 0; r < rows; r++) {
        float *row = S + r * KILN_FLASH_KEYS;
        __m256 mx = _mm256_loadu_ps(row);
        for (int c = 8; c < KILN_FLASH_KEYS; c += 8) mx = _mm256_max_ps(mx, _mm256_loadu_ps(row + c));
        float lanes[8], maximum = -INFINITY;
        _mm256_storeu_ps(lanes, mx);
        for (int i = 0; i < 8; i++) maximum = lanes[i] > maximum ? lanes[i] : maximum;
        if (maximum == -INFINITY) { // nothing visible to this row in the block
            for (int c = 0; c < KILN_FLASH_KEYS; c += 8) _mm256_storeu_ps(row + c, _mm256_setzero_ps());
            continue;
        }
        const float next = m[r] > maximum ? m[r] : maximum, alpha = expf(m[r] - next);
        const __m256 shift = _mm256_set1_ps(next);
        __m256 sum = _mm256_setzero_ps();
        for (int c = 0; c < KILN_FLASH_KEYS; c += 8) {
            const __m256 s = _mm256_loadu_ps(row + c);
            // Masked scores (−∞) give exactly 0, not exp8's clamped 2^−126.
            const __m256 e = _mm256_and_ps(exp8(_mm256_sub_ps(s, shift)), _mm256_cmp_ps(s, minus_infinity, _CMP_NEQ_OQ));
            _mm256_storeu_ps(row + c, e);
            sum = _mm256_add_ps(sum, e);
        }
        l[r] = l[r] * alpha + hsum(sum);
        m[r] = next;
        if (alpha != 1.0f)
            for (int64_t i = 0; i < d; i++) O[r * d + i] *= alpha;
    }
}

// Lanes i < n (0 ≤ n ≤ 8) set: the mask of a tail's masked loads and stores.
AVX2 static inline __m256i lanes_below(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n < 0 ? 0 : n > 8 ? 8 : n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Eight lanes of value row c from column j, those at column d and beyond zero (the f16 loads
// have no masked form: a row's tail goes through a zero-padded copy).
AVX2 static inline __attribute__((always_inline)) __m256 value_lanes(const void *V, int half, int64_t c, int64_t d, int64_t j,
                                                                     __m256i mask) {
    if (!half) return _mm256_maskload_ps((const float *)V + c * d + j, mask);
    const uint16_t *v = (const uint16_t *)V + c * d + j;
    if (j + 8 <= d) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)v));
    uint16_t tail[8] = {0};
    for (int64_t i = 0; i < d - j; i++) tail[i] = v[i];
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)tail));
}

AVX2 static inline __attribute__((always_inline)) void pv_rows_of(const float *P, int R, const void *V, int half, int64_t keys, int64_t d,
                                                                  int64_t j0, float *O, kiln_prefetch_run *prefetch) {
    const __m256i m0 = lanes_below(d - j0), m1 = lanes_below(d - j0 - 8);
    __m256 acc[4][2];
    for (int r = 0; r < R; r++) {
        acc[r][0] = _mm256_maskload_ps(O + r * d + j0, m0);
        acc[r][1] = _mm256_maskload_ps(O + r * d + j0 + 8, m1);
    }
    for (int64_t c = 0; c < keys; c++) {
        kiln_prefetch_step(prefetch);
        const __m256 v0 = value_lanes(V, half, c, d, j0, m0), v1 = value_lanes(V, half, c, d, j0 + 8, m1);
        for (int r = 0; r < R; r++) {
            const __m256 p = _mm256_broadcast_ss(P + r * KILN_FLASH_KEYS + c);
            acc[r][0] = _mm256_fmadd_ps(p, v0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(p, v1, acc[r][1]);
        }
    }
    for (int r = 0; r < R; r++) {
        _mm256_maskstore_ps(O + r * d + j0, m0, acc[r][0]);
        _mm256_maskstore_ps(O + r * d + j0 + 8, m1, acc[r][1]);
    }
}

// A decode tile reads an f16 cache's blocks in place, as the AVX-512 tier's does (why there).
#define FLASH_HALVES_ROWS 4

AVX2 static inline void flash_scores_halves(const float *Q, int64_t rows, int64_t d, const uint16_t *kt, int64_t blocks, float *S,
                                            kiln_prefetch_run *prefetch) {
    for (int b = 0; b < blocks; b++) {
        const uint16_t *block = kt + b * KILN_KV_BLOCK * d;
        float *s = S + b * KILN_KV_BLOCK;
        switch (rows) {
        case 1: scores_block_of(Q, 1, d, block, 1, s, prefetch); break;
        case 2: scores_block_of(Q, 2, d, block, 1, s, prefetch); break;
        case 3: scores_block_of(Q, 3, d, block, 1, s, prefetch); break;
        default: scores_block_of(Q, 4, d, block, 1, s, prefetch); break;
        }
    }
}

AVX2 static inline void flash_halves(const uint16_t *src, float *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i < n; i++) dst[i] = kiln_half_to_float(src[i]);
}

#define FLASH_PV_COLUMNS 16 // output columns one pv_rows_of call covers
#define FLASH_SCORES_STEPS(d, blocks) ((d) * (blocks)) // a pass over the dimensions per block
#define FLASH_PV_STEPS(keys, d) ((keys) * (((d) + FLASH_PV_COLUMNS - 1) / FLASH_PV_COLUMNS))
#include "attention_tile.h"
#endif
