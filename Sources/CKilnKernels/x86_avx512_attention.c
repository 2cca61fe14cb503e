// The AVX-512 tier's attention tile: 16-wide FMAs, so a key block is one vector.
// - scores: 4 query rows × 64 keys (16 accumulators; per dimension 4 key loads and 4 broadcasts
//   feed 16 FMAs), or × the filled 16-key blocks of a partial block;
// - P·V: 4 rows × 64 value dimensions (16 accumulators), tails by masked loads (which do not
//   fault on the masked lanes).
#if defined(__x86_64__)
#include "x86_avx2_shared.h"
#include <math.h>

#define AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq")))
#define FLASH_TARGET AVX512
#define FLASH_TILE kiln_flash_tile_avx512

// exp8's polynomial, 16 lanes at a time (same clamping).
AVX512 static inline __m512 exp16(__m512 x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.336f)), _mm512_set1_ps(88.376f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    const __m512i scale = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(scale));
}

// R rows against the first B 16-key blocks (both constants after inlining).
// Sixteen lanes of a key block or value row: f32 as stored, or an f16 cache's halves converted on
// the way (`half`, a constant after inlining).
AVX512 static inline __attribute__((always_inline)) __m512 lanes16(const void *base, int64_t index, int half) {
    return half ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)base + index)))
                : _mm512_loadu_ps((const float *)base + index);
}

AVX512 static inline __attribute__((always_inline)) __m512 lanes16_masked(const void *base, int64_t index, __mmask16 mask, int half) {
    return half ? _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, (const uint16_t *)base + index))
                : _mm512_maskz_loadu_ps(mask, (const float *)base + index);
}

AVX512 static inline __attribute__((always_inline)) void scores_rows_of(const float *Q, int R, int B, int64_t d, const void *kt, int half,
                                                                        float *S, kiln_prefetch_run *prefetch) {
    __m512 acc[4][4];
    for (int r = 0; r < 4; r++)
        for (int b = 0; b < 4; b++) acc[r][b] = _mm512_setzero_ps();
    const int64_t step = KILN_KV_BLOCK * d;
    for (int64_t i = 0; i < d; i++) {
        kiln_prefetch_step(prefetch);
        __m512 kb[4];
        for (int b = 0; b < B; b++) kb[b] = lanes16(kt, i * KILN_KV_BLOCK + b * step, half);
        for (int r = 0; r < R; r++) {
            const __m512 q = _mm512_set1_ps(Q[r * d + i]);
            for (int b = 0; b < B; b++) acc[r][b] = _mm512_fmadd_ps(q, kb[b], acc[r][b]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int b = 0; b < B; b++) _mm512_storeu_ps(S + r * KILN_FLASH_KEYS + b * KILN_KV_BLOCK, acc[r][b]);
}

AVX512 static inline __attribute__((always_inline)) void scores_rows(const float *Q, int R, int B, int64_t d, const float *kt, float *S) {
    scores_rows_of(Q, R, B, d, kt, 0, S, NULL);
}

AVX512 static inline __attribute__((always_inline)) void scores_blocks(const float *Q, int64_t rows, int B, int64_t d, const float *kt,
                                                                       float *S) {
    for (int64_t r = 0; r < rows; r += 4) {
        switch (rows - r) {
        case 1: scores_rows(Q + r * d, 1, B, d, kt, S + r * KILN_FLASH_KEYS); break;
        case 2: scores_rows(Q + r * d, 2, B, d, kt, S + r * KILN_FLASH_KEYS); break;
        case 3: scores_rows(Q + r * d, 3, B, d, kt, S + r * KILN_FLASH_KEYS); break;
        default: scores_rows(Q + r * d, 4, B, d, kt, S + r * KILN_FLASH_KEYS); break;
        }
    }
}

AVX512 static inline void flash_scores(const float *Q, int64_t rows, int64_t d, const float *kt, int64_t blocks, float *S) {
    switch (blocks) {
    case 1: scores_blocks(Q, rows, 1, d, kt, S); break;
    case 2: scores_blocks(Q, rows, 2, d, kt, S); break;
    case 3: scores_blocks(Q, rows, 3, d, kt, S); break;
    default: scores_blocks(Q, rows, 4, d, kt, S); break;
    }
}

AVX512 static inline void flash_softmax(float *S, int64_t rows, float *m, float *l, float *O, int64_t d) {
    const __m512 minus_infinity = _mm512_set1_ps(-INFINITY);
    for (int64_t r = 0; r < rows; r++) {
        float *row = S + r * KILN_FLASH_KEYS;
        const __m512 s0 = _mm512_loadu_ps(row), s1 = _mm512_loadu_ps(row + 16), s2 = _mm512_loadu_ps(row + 32),
                     s3 = _mm512_loadu_ps(row + 48);
        const float maximum = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(s0, s1), _mm512_max_ps(s2, s3)));
        if (maximum == -INFINITY) { // nothing visible to this row in the block
            for (int c = 0; c < KILN_FLASH_KEYS; c += 16) _mm512_storeu_ps(row + c, _mm512_setzero_ps());
            continue;
        }
        const float next = m[r] > maximum ? m[r] : maximum, alpha = expf(m[r] - next);
        const __m512 shift = _mm512_set1_ps(next);
        const __m512 s[4] = {s0, s1, s2, s3};
        __m512 sum = _mm512_setzero_ps();
        for (int b = 0; b < 4; b++) {
            // Masked scores (−∞) give exactly 0, not exp16's clamped 2^−126.
            const __mmask16 visible = _mm512_cmp_ps_mask(s[b], minus_infinity, _CMP_NEQ_OQ);
            const __m512 e = _mm512_maskz_mov_ps(visible, exp16(_mm512_sub_ps(s[b], shift)));
            _mm512_storeu_ps(row + 16 * b, e);
            sum = _mm512_add_ps(sum, e);
        }
        l[r] = l[r] * alpha + _mm512_reduce_add_ps(sum);
        m[r] = next;
        if (alpha != 1.0f)
            for (int64_t i = 0; i < d; i++) O[r * d + i] *= alpha;
    }
}

// Lanes i < n (clamped to 0 … 16) set.
AVX512 static inline __mmask16 lanes_below(int64_t n) { return n >= 16 ? 0xFFFF : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }

AVX512 static inline __attribute__((always_inline)) void pv_rows_of(const float *P, int R, const void *V, int half, int64_t keys,
                                                                    int64_t d, int64_t j0, float *O, kiln_prefetch_run *prefetch) {
    const __mmask16 m0 = lanes_below(d - j0), m1 = lanes_below(d - j0 - 16), m2 = lanes_below(d - j0 - 32),
                    m3 = lanes_below(d - j0 - 48);
    __m512 acc[4][4];
    for (int r = 0; r < R; r++) {
        const float *o = O + r * d + j0;
        acc[r][0] = _mm512_maskz_loadu_ps(m0, o);
        acc[r][1] = _mm512_maskz_loadu_ps(m1, o + 16);
        acc[r][2] = _mm512_maskz_loadu_ps(m2, o + 32);
        acc[r][3] = _mm512_maskz_loadu_ps(m3, o + 48);
    }
    for (int64_t c = 0; c < keys; c++) {
        kiln_prefetch_step(prefetch);
        const int64_t v = c * d + j0;
        const __m512 v0 = lanes16_masked(V, v, m0, half), v1 = lanes16_masked(V, v + 16, m1, half),
                     v2 = lanes16_masked(V, v + 32, m2, half), v3 = lanes16_masked(V, v + 48, m3, half);
        for (int r = 0; r < R; r++) {
            const __m512 p = _mm512_set1_ps(P[r * KILN_FLASH_KEYS + c]);
            acc[r][0] = _mm512_fmadd_ps(p, v0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(p, v1, acc[r][1]);
            acc[r][2] = _mm512_fmadd_ps(p, v2, acc[r][2]);
            acc[r][3] = _mm512_fmadd_ps(p, v3, acc[r][3]);
        }
    }
    for (int r = 0; r < R; r++) {
        float *o = O + r * d + j0;
        _mm512_mask_storeu_ps(o, m0, acc[r][0]);
        _mm512_mask_storeu_ps(o + 16, m1, acc[r][1]);
        _mm512_mask_storeu_ps(o + 32, m2, acc[r][2]);
        _mm512_mask_storeu_ps(o + 48, m3, acc[r][3]);
    }
}

// A decode tile (at most FLASH_HALVES_ROWS rows: a KV head's group of query heads) reads an f16
// cache's blocks where they lie, converting each key and value as it is loaded: each is used by
// those few rows once, so writing the block out as f32 first (flash_halves) and reading it back
// was most of the work: one layer of SmolLM2's decode at 2,048 keys, cache-resident, took 58 µs
// with the f16 cache against 40 µs with the f32 one (twice the bytes); now 39 µs
// (`kiln-run bench --attention --hot`, 2 threads).
#define FLASH_HALVES_ROWS 4

AVX512 static inline void flash_scores_halves(const float *Q, int64_t rows, int64_t d, const uint16_t *kt, int64_t blocks, float *S,
                                              kiln_prefetch_run *prefetch) {
#define SCORES_HALVES(B)                                                    \
    switch (rows) {                                                         \
    case 1: scores_rows_of(Q, 1, B, d, kt, 1, S, prefetch); break;          \
    case 2: scores_rows_of(Q, 2, B, d, kt, 1, S, prefetch); break;          \
    case 3: scores_rows_of(Q, 3, B, d, kt, 1, S, prefetch); break;          \
    default: scores_rows_of(Q, 4, B, d, kt, 1, S, prefetch); break;         \
    }
    switch (blocks) {
    case 1: SCORES_HALVES(1); break;
    case 2: SCORES_HALVES(2); break;
    case 3: SCORES_HALVES(3); break;
    default: SCORES_HALVES(4); break;
    }
#undef SCORES_HALVES
}

AVX512 static inline void flash_halves(const uint16_t *src, float *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + i))));
    for (; i < n; i++) dst[i] = kiln_half_to_float(src[i]);
}

#define FLASH_PV_COLUMNS 64 // output columns one pv_rows_of call covers
#define FLASH_SCORES_STEPS(d, blocks) (d) // one pass over the dimensions scores every block
#define FLASH_PV_STEPS(keys, d) ((keys) * (((d) + FLASH_PV_COLUMNS - 1) / FLASH_PV_COLUMNS))
#include "attention_tile.h"
#endif
