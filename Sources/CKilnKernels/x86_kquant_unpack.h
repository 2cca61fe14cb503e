// Unpacking ggml's K-quant super-blocks (docs/FORMAT.md §7.2) into one 32-byte vector of codes per
// 32-value sub-block, for the AVX2 K-quant tiles (x86_avx2_kquants.c) and the prompt-batch panels
// (x86_kquant_panel.h). AVX2 target: callable from every x86 tier.
#ifndef KILN_X86_KQUANT_UNPACK_H
#define KILN_X86_KQUANT_UNPACK_H
#include "x86_avx2_shared.h"

// 8 unsigned bytes (little-endian in v) as 8 floats.
AVX2 static inline __m256 bytes_to_floats(uint64_t v) {
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)v)));
}

// q4_K/q5_K's 12 scale bytes (ggml's get_scale_min_k4) as 8 scale bytes and 8 minimum bytes:
// sub-blocks 0–3 keep 6-bit fields in bytes 0–3 (scales) and 4–7 (minimums); sub-blocks 4–7 have
// their low 4 bits in the nibbles of bytes 8–11 and their top 2 bits in the top bits of bytes 0–7.
static inline void scales_k4(const uint8_t *s, uint64_t *sc, uint64_t *mn) {
    const uint32_t a0 = (uint32_t)kiln_load_i32(s), a1 = (uint32_t)kiln_load_i32(s + 4), a2 = (uint32_t)kiln_load_i32(s + 8);
    const uint32_t six = 0x3F3F3F3F, four = 0x0F0F0F0F, two = 0x03030303;
    *sc = (a0 & six) | (uint64_t)((a2 & four) | ((a0 >> 6) & two) << 4) << 32;
    *mn = (a1 & six) | (uint64_t)(((a2 >> 4) & four) | ((a1 >> 6) & two) << 4) << 32;
}

// Shifts each byte's bit `from` to bit `to` (16-bit shifts: no bit crosses a byte for |to − from|
// ≤ 4 after masking); the caller masks.
AVX2 static inline __m256i move_bits(__m256i v, int from, int to) {
    if (from < to) return _mm256_slli_epi16(v, to - from);
    if (from > to) return _mm256_srli_epi16(v, from - to);
    return v;
}

// A q4_K (144 bytes) or q5_K (176 bytes) super-block: w[t] = sub-block t's 32 unsigned codes (q4_K
// 0…15, q5_K 0…31), dsc = d·scale_t and dmn = dmin·min_t for t = 0…7 (value = dsc·code − dmn).
AVX2 static inline void unpack_q45(const uint8_t *block, int q5, __m256i *w, __m256 *dsc, __m256 *dmn) {
    const __m256i low = _mm256_set1_epi8(0x0F), bit4 = _mm256_set1_epi8(0x10);
    uint64_t sc, mn;
    scales_k4(block + 4, &sc, &mn);
    const __m128 dm = _mm_cvtph_ps(_mm_cvtsi32_si128(kiln_load_i32(block))); // d, dmin
    *dsc = _mm256_mul_ps(_mm256_broadcastss_ps(dm), bytes_to_floats(sc));
    *dmn = _mm256_mul_ps(_mm256_broadcastss_ps(_mm_movehdup_ps(dm)), bytes_to_floats(mn));
    const uint8_t *qs = block + (q5 ? 48 : 16);
    for (int c = 0; c < 4; c++) {
        const __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
        w[2 * c] = _mm256_and_si256(q, low);
        w[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(q, 4), low);
    }
    if (q5) { // bit t of qh[l] is bit 4 of sub-block t's code l
        const __m256i qh = _mm256_loadu_si256((const __m256i *)(block + 16));
        for (int t = 0; t < 8; t++) w[t] = _mm256_or_si256(w[t], _mm256_and_si256(move_bits(qh, t, 4), bit4));
    }
}

// A q6_K super-block (210 bytes: ql[128], qh[64], i8 scales[16], d): w[t] = block t's 32 codes
// 0…63 (value = d·scales[2t or 2t+1]·(code − 32) for its first or second 16). Block t = 4n + k
// (values 128n + 32k + l) takes nibble k/2 of ql[64n + 32(k % 2) + l] and bits 2k…2k+1 of qh[32n + l].
AVX2 static inline void unpack_q6_codes(const uint8_t *block, __m256i *w) {
    const __m256i low = _mm256_set1_epi8(0x0F), bits45 = _mm256_set1_epi8(0x30);
    for (int n = 0; n < 2; n++) {
        const __m256i ql0 = _mm256_loadu_si256((const __m256i *)(block + 64 * n));
        const __m256i ql1 = _mm256_loadu_si256((const __m256i *)(block + 64 * n + 32));
        const __m256i qh = _mm256_loadu_si256((const __m256i *)(block + 128 + 32 * n));
        const __m256i nibble[4] = {_mm256_and_si256(ql0, low), _mm256_and_si256(ql1, low),
                                   _mm256_and_si256(_mm256_srli_epi16(ql0, 4), low),
                                   _mm256_and_si256(_mm256_srli_epi16(ql1, 4), low)};
        for (int k = 0; k < 4; k++)
            w[4 * n + k] = _mm256_or_si256(nibble[k], _mm256_and_si256(move_bits(qh, 2 * k, 4), bits45));
    }
}

// A q2_K super-block (84 bytes: scales[16], qs[64], d, dmin): w[t] = block t's 32 codes 0…3 (block
// t = 4n + j is bits 2j…2j+1 of qs[32n + l]); its two groups of 16 are 2t and 2t + 1, with
// scale d·(scales[g] & 15) and minimum dmin·(scales[g] >> 4), returned per block t in
// scale[0|1] and minimum[0|1] (value = scale·code − minimum).
AVX2 static inline void unpack_q2(const uint8_t *block, __m256i *w, __m256 *scale, __m256 *minimum) {
    const __m256i three = _mm256_set1_epi8(3);
    for (int n = 0; n < 2; n++) {
        const __m256i q = _mm256_loadu_si256((const __m256i *)(block + 16 + 32 * n));
        for (int j = 0; j < 4; j++) w[4 * n + j] = _mm256_and_si256(_mm256_srli_epi16(q, 2 * j), three);
    }
    const __m128i s = _mm_loadu_si128((const __m128i *)block);
    const __m128i even = _mm_shuffle_epi8(s, _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1, -1, -1, -1, -1));
    const __m128i odd = _mm_shuffle_epi8(s, _mm_setr_epi8(1, 3, 5, 7, 9, 11, 13, 15, -1, -1, -1, -1, -1, -1, -1, -1));
    const __m256 d = _mm256_set1_ps(kiln_half_to_float(kiln_load_u16(block + 80)));
    const __m256 dmin = _mm256_set1_ps(kiln_half_to_float(kiln_load_u16(block + 82)));
    const __m256i low = _mm256_set1_epi32(15);
    const __m256i e = _mm256_cvtepu8_epi32(even), o = _mm256_cvtepu8_epi32(odd);
    scale[0] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_and_si256(e, low)));
    scale[1] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_and_si256(o, low)));
    minimum[0] = _mm256_mul_ps(dmin, _mm256_cvtepi32_ps(_mm256_srli_epi32(e, 4)));
    minimum[1] = _mm256_mul_ps(dmin, _mm256_cvtepi32_ps(_mm256_srli_epi32(o, 4)));
}

// A q3_K super-block (110 bytes: hmask[32], qs[64], scales[12], d): w[t] = block t's 32 codes 0…7
// (value = scale·(code − 4)); block t = 4n + j has bits 2j…2j+1 of qs[32n + l] and, as bit 2,
// bit 4n + j of hmask[l]. Group g = 2t + h's 6-bit scale, stored + 32, has its low 4 bits in
// nibble g/8 of scales[g % 8] and its high 2 in bits 2(g/4)… of scales[8 + g % 4]; scale[h] gets
// d·(that − 32) for blocks t = 0…7.
AVX2 static inline void unpack_q3(const uint8_t *block, __m256i *w, __m256 *scale) {
    const __m256i three = _mm256_set1_epi8(3), four = _mm256_set1_epi8(4);
    const __m256i hmask = _mm256_loadu_si256((const __m256i *)block);
    for (int n = 0; n < 2; n++) {
        const __m256i q = _mm256_loadu_si256((const __m256i *)(block + 32 + 32 * n));
        for (int j = 0; j < 4; j++)
            w[4 * n + j] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 2 * j), three),
                                           _mm256_and_si256(move_bits(hmask, 4 * n + j, 2), four));
    }
    // The 16 scales as bytes, four per 32-bit word (ggml's kmask shuffle): word j holds groups
    // 4j…4j+3, low nibbles from bytes 0–7 (j < 2) or their high nibbles (j ≥ 2), bits 4–5 from
    // bits 2j…2j+1 of bytes 8–11.
    const uint32_t a0 = (uint32_t)kiln_load_i32(block + 96), a1 = (uint32_t)kiln_load_i32(block + 100);
    const uint32_t a2 = (uint32_t)kiln_load_i32(block + 104), low4 = 0x0F0F0F0F, low2 = 0x03030303;
    const __m128i groups = _mm_setr_epi32((int)((a0 & low4) | (a2 & low2) << 4), (int)((a1 & low4) | ((a2 >> 2) & low2) << 4),
                                          (int)(((a0 >> 4) & low4) | ((a2 >> 4) & low2) << 4),
                                          (int)(((a1 >> 4) & low4) | ((a2 >> 6) & low2) << 4));
    const __m128i even = _mm_shuffle_epi8(groups, _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1, -1, -1, -1, -1));
    const __m128i odd = _mm_shuffle_epi8(groups, _mm_setr_epi8(1, 3, 5, 7, 9, 11, 13, 15, -1, -1, -1, -1, -1, -1, -1, -1));
    const __m256 d = _mm256_set1_ps(kiln_half_to_float(kiln_load_u16(block + 108)));
    const __m256i bias = _mm256_set1_epi32(32);
    scale[0] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(even), bias)));
    scale[1] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(odd), bias)));
}

#endif
