// Helpers the AVX2 files share (x86_avx2.c, x86_avx2_ops.c, x86_avx2_kquants.c): every function carries the
// target attribute, so including this needs no compiler flags.
#ifndef KILN_X86_AVX2_SHARED_H
#define KILN_X86_AVX2_SHARED_H
#include "kiln_internal.h"
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma,f16c")))

// The sum of v's 8 lanes.
AVX2 static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// e^x for each lane (Cephes expf: 2^n · p(r), |r| ≤ ln2/2, about 1 ulp), shared by the
// activations, softmax and the attention tiles. Inputs are clamped to [−87.3, 88.4]: below, the
// result is 2^−126 instead of a subnormal or 0; above, 2.4e38 instead of infinity. Softmax, SiLU
// and GELU only ever divide by or add to these, where that is harmless (the attention tiles zero
// masked scores themselves).
AVX2 static inline __m256 exp8(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.336f)), _mm256_set1_ps(88.376f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i scale = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(scale));
}

AVX2 static inline __m256i nibbles(const uint8_t *qs) {
    const __m128i v = _mm_loadu_si128((const __m128i *)qs);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(v, 4), v), _mm256_set1_epi8(0x0F));
}

// The f16 field at `offset` of the 8 blocks p[0..7], as 8 floats (the interleaved header's order).
AVX2 static inline __m256 gather_halves(const uint8_t *const *p, size_t offset) {
    const __m128i h = _mm_setr_epi16((short)kiln_load_u16(p[0] + offset), (short)kiln_load_u16(p[1] + offset),
                                     (short)kiln_load_u16(p[2] + offset), (short)kiln_load_u16(p[3] + offset),
                                     (short)kiln_load_u16(p[4] + offset), (short)kiln_load_u16(p[5] + offset),
                                     (short)kiln_load_u16(p[6] + offset), (short)kiln_load_u16(p[7] + offset));
    return _mm256_cvtph_ps(h);
}

// Lane r of the result = the sum of v[r]'s 8 lanes (exact: integers).
AVX2 static inline __m256i reduce8(const __m256i *v) {
    // hadd works within 128-bit halves: ab holds rows 0–3's sums of lanes 0–3 in its low half and
    // of lanes 4–7 in its high half; cd the same for rows 4–7.
    const __m256i ab = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
    const __m256i cd = _mm256_hadd_epi32(_mm256_hadd_epi32(v[4], v[5]), _mm256_hadd_epi32(v[6], v[7]));
    return _mm256_add_epi32(_mm256_permute2x128_si256(ab, cd, 0x20), _mm256_permute2x128_si256(ab, cd, 0x31));
}

// Stores the first `valid` of 8 results.
AVX2 static inline void store_group(float *y, __m256 v, int valid) {
    if (valid == KILN_GROUP_ROWS) {
        _mm256_storeu_ps(y, v);
    } else {
        float t[KILN_GROUP_ROWS];
        _mm256_storeu_ps(t, v);
        memcpy(y, t, (size_t)valid * sizeof(float));
    }
}

// A tile of the interleaved layouts: one group of 8 rows against NX (1 or 4) activation rows
// xrow[0..NX-1]; acc[i] gets activation row i's 8 dot products. `next` is the next group, to
// prefetch, or NULL.
typedef void (*group_tile_fn)(const uint8_t *group, const uint8_t *next, int64_t nb, const kiln_matmul_args *a,
                              const int64_t *xrow, int NX, int32_t type, __m256 *acc);

// Runs `tile` over the groups of rows r0..<r1, one group at a time with the next one prefetched:
// decode, or batches 4 activation rows at a time while the group's bytes (≤ 8 × 11008 × 34 / 32
// ≈ 94 KB) stay in L1/L2. Tiers pass their (always-inlined) tile, so each gets its own copy.
AVX2 static KILN_ALWAYS_INLINE void drive_groups(group_tile_fn tile, const kiln_matmul_args *a, int64_t r0, int64_t r1,
                                                 int32_t type) {
    const int64_t nb = a->cols / KILN_BLOCK;
    const size_t group_bytes = KILN_GROUP_ROWS * (size_t)kiln_block_bytes(type);
    for (int64_t g = r0 / KILN_GROUP_ROWS; g * KILN_GROUP_ROWS < r1; g++) {
        const uint8_t *group = (const uint8_t *)a->w + (size_t)(g * nb) * group_bytes;
        const int64_t row = g * KILN_GROUP_ROWS;
        const int valid = (int)(a->rows - row < KILN_GROUP_ROWS ? a->rows - row : KILN_GROUP_ROWS);
        if (a->batch == 1) {
            const int64_t xrow[1] = {0};
            __m256 acc[1];
            tile(group, (g + 2) * KILN_GROUP_ROWS <= r1 ? group + (size_t)nb * group_bytes : NULL, nb, a, xrow, 1, type, acc);
            store_group(a->y + row, acc[0], valid);
            continue;
        }
        // The first tile over a group reads it from memory: it sweeps the next group in as decode
        // does (the others find this one in L1).
        const uint8_t *next = (g + 2) * KILN_GROUP_ROWS <= r1 ? group + (size_t)nb * group_bytes : NULL;
        for (int64_t b = 0; b < a->batch; b += 4) {
            int64_t xrow[4];
            for (int i = 0; i < 4; i++) xrow[i] = b + i < a->batch ? b + i : a->batch - 1;
            __m256 acc[4];
            tile(group, b == 0 ? next : NULL, nb, a, xrow, 4, type, acc);
            for (int i = 0; i < 4 && b + i < a->batch; i++) store_group(a->y + (b + i) * a->rows + row, acc[i], valid);
        }
    }
}

// q5's fifth bits for nibble chunk t of an interleaved group: lane r of `qh` is row r's 32-bit qh;
// byte j of lane r gets 0x10 if bit 4t + j (*low) or bit 16 + 4t + j (*high) is set.
AVX2 static inline void group_high_bits(__m256i qh, int t, __m256i *low, __m256i *high) {
    const __m256i shifted = _mm256_srli_epi32(qh, 4 * t);
    const __m256i bit = _mm256_set1_epi32(0x08040201), ten = _mm256_set1_epi8(0x10);
    const __m256i lo_bytes = _mm256_shuffle_epi8(shifted, _mm256_setr_epi8(0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12,
                                                                           0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12));
    const __m256i hi_bytes = _mm256_shuffle_epi8(shifted, _mm256_setr_epi8(2, 2, 2, 2, 6, 6, 6, 6, 10, 10, 10, 10, 14, 14, 14, 14,
                                                                           2, 2, 2, 2, 6, 6, 6, 6, 10, 10, 10, 10, 14, 14, 14, 14));
    *low = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(lo_bytes, bit), bit), ten);
    *high = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hi_bytes, bit), bit), ten);
}

AVX2 static inline __m256i broadcast4(const int8_t *p) { return _mm256_set1_epi32(kiln_load_i32(p)); }

// scale(e) = M[e mod 8] · 2^(⌊e/8⌋ − 28) for 8 kq4 exponents at once, exact: M[e mod 8]·2^−28 from
// a permute (which reads an index's low 3 bits, so bits above the exponent byte may be anything),
// then ⌊e/8⌋ added into the float's exponent field.
AVX2 static inline __m256 kq4_scales(__m256i e) {
    const __m256i m = _mm256_castps_si256(_mm256_permutevar8x32_ps(_mm256_loadu_ps(kiln_kq4_mantissa_scaled), e));
    return _mm256_castsi256_ps(_mm256_add_epi32(m, _mm256_slli_epi32(_mm256_and_si256(e, _mm256_set1_epi32(0xF8)), 20)));
}

// The two kq4 scales of each of a group's 8 rows: row r's exponents are bytes 2r (values 0–15)
// and 2r + 1 (values 16–31) of the group block's header, widened as one word per lane.
AVX2 static inline void kq4_group_scales(const uint8_t *block, __m256 *low, __m256 *high) {
    const __m256i e = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)block));
    *low = kq4_scales(e);
    *high = kq4_scales(_mm256_srli_epi32(e, 8));
}

// The f32 step of one interleaved group block, after the tile has formed its exact integer dots
// (dot; kq4's second-half dots in high_dot, q4_0/q5_0 codes still unsigned): scales, offsets and
// minimums into acc (macc: the minimums, or kq4's second halves). One copy for the AVX2 and VNNI
// tiles, which is what keeps their products the same bits.
AVX2 static KILN_ALWAYS_INLINE void group_block_sums(const uint8_t *block, int64_t blk, int NX, int32_t type, __m256i *dot,
                                                    const __m256i *high_dot, const float **xd, const int32_t **xs,
                                                    __m256 *acc, __m256 *macc) {
    if (type == KILN_WEIGHT_KQ4X8) {
        __m256 s_low, s_high;
        kq4_group_scales(block, &s_low, &s_high);
        for (int i = 0; i < NX; i++) {
            const __m256 x_scale = _mm256_set1_ps(xd[i][blk]);
            acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot[i]), _mm256_mul_ps(s_low, x_scale), acc[i]);
            macc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(high_dot[i]), _mm256_mul_ps(s_high, x_scale), macc[i]);
        }
        return;
    }
    const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)block));
    for (int i = 0; i < NX; i++) {
        if (type == KILN_WEIGHT_Q4_0X8) dot[i] = _mm256_sub_epi32(dot[i], _mm256_set1_epi32(8 * xs[i][blk]));
        if (type == KILN_WEIGHT_Q5_0X8) dot[i] = _mm256_sub_epi32(dot[i], _mm256_set1_epi32(16 * xs[i][blk]));
        acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot[i]), _mm256_mul_ps(d, _mm256_set1_ps(xd[i][blk])), acc[i]);
    }
    if (type == KILN_WEIGHT_Q4_1X8 || type == KILN_WEIGHT_Q5_1X8) {
        const __m256 m = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(block + 16)));
        for (int i = 0; i < NX; i++) macc[i] = _mm256_fmadd_ps(m, _mm256_set1_ps(xd[i][blk] * (float)xs[i][blk]), macc[i]);
    }
}

#endif
