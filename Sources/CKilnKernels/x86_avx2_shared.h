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

#endif
