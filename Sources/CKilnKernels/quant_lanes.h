// What the weight quantisers' C searches share (quant_search.c, quant_search_kq4.c): exact
// float arithmetic only (no contraction into FMA, so every tier and the Swift twins give the same
// bits), 16-lane vectors for searching one block per lane, and the choice of compilation per tier.
#ifndef KILN_QUANT_LANES_H
#define KILN_QUANT_LANES_H

#include "kiln_internal.h"

#include <math.h>
#include <string.h>

#pragma STDC FP_CONTRACT OFF
#if defined(__clang__)
// The 16-lane vectors pass only between always-inline functions, so no call ABI is involved.
#pragma clang diagnostic ignored "-Wpsabi"
#endif
#if defined(__clang__)
#pragma clang fp contract(off)
#endif

#define ALWAYS_INLINE static inline __attribute__((always_inline))

// ---- one block per vector lane ---------------------------------------------------------------

#define LANES 16
typedef float lane_f __attribute__((vector_size(LANES * 4)));
typedef int32_t lane_i __attribute__((vector_size(LANES * 4)));

ALWAYS_INLINE lane_f lane_select(lane_i mask, lane_f yes, lane_f no) {
    return (lane_f)(((lane_i)yes & mask) | ((lane_i)no & ~mask));
}

ALWAYS_INLINE lane_f lane_splat(float v) {
    lane_f r;
    for (int l = 0; l < LANES; l++) r[l] = v;
    return r;
}

// `rounded_to_half` in every lane without leaving the vector: |v| + c − c with c = 2^(E + 13),
// E = max(exponent of |v|, −14), rounds |v| at f16's spacing for its binade (2^(E − 10)), to
// nearest even, exactly as the f16 store does; at or beyond 65536 (65520 rounds up to it) the
// store gives infinity; the sign goes back on last; NaN stays NaN.
ALWAYS_INLINE lane_f lane_rounded_to_half(lane_f v) {
    const lane_i bits = (lane_i)v;
    const lane_i sign = bits & (int32_t)0x80000000u;
    const lane_f magnitude = (lane_f)(bits & 0x7FFFFFFF);
    lane_i exponent = (bits >> 23) & 0xFF;
    exponent = (exponent & (exponent > 113)) | (113 & ~(exponent > 113));
    const lane_f c = (lane_f)((exponent + 13) << 23);
    lane_f r = (magnitude + c) - c;
    const lane_i overflow = (r >= 65536.0f) & (magnitude == magnitude);
    r = lane_select(overflow, lane_splat(__builtin_inff()), r);
    r = lane_select(magnitude == magnitude, r, magnitude);
    return (lane_f)((lane_i)r | sign);
}

// ---- moving blocks in and out of lanes ------------------------------------------------------
//
// A search holds element i of LANES blocks in one vector; the blocks arrive block-major. Loading
// element by element took a masked broadcast per value — a fifth of q4_0's search — where a 16 × 16
// transpose is 64 two-vector shuffles.

typedef uint8_t lane_u8 __attribute__((vector_size(LANES)));

// One transpose stage on a row pair (i, i + s): row i's upper s-wide blocks swap with row i + s's
// lower ones. Stages 8, 4, 2 and 1 over every pair with bit s of i clear transpose a 16 × 16 matrix.
ALWAYS_INLINE void lane_swap8(lane_f *a, lane_f *b) {
    const lane_f x = *a, y = *b;
    *a = __builtin_shufflevector(x, y, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
    *b = __builtin_shufflevector(x, y, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
}
ALWAYS_INLINE void lane_swap4(lane_f *a, lane_f *b) {
    const lane_f x = *a, y = *b;
    *a = __builtin_shufflevector(x, y, 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27);
    *b = __builtin_shufflevector(x, y, 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
}
ALWAYS_INLINE void lane_swap2(lane_f *a, lane_f *b) {
    const lane_f x = *a, y = *b;
    *a = __builtin_shufflevector(x, y, 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29);
    *b = __builtin_shufflevector(x, y, 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31);
}
ALWAYS_INLINE void lane_swap1(lane_f *a, lane_f *b) {
    const lane_f x = *a, y = *b;
    *a = __builtin_shufflevector(x, y, 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30);
    *b = __builtin_shufflevector(x, y, 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31);
}

ALWAYS_INLINE void lane_transpose16(lane_f *r) {
    for (int i = 0; i < 16; i++)
        if (!(i & 8)) lane_swap8(&r[i], &r[i + 8]);
    for (int i = 0; i < 16; i++)
        if (!(i & 4)) lane_swap4(&r[i], &r[i + 4]);
    for (int i = 0; i < 16; i++)
        if (!(i & 2)) lane_swap2(&r[i], &r[i + 2]);
    for (int i = 0; i < 16; i += 2) lane_swap1(&r[i], &r[i + 1]);
}

// v[i] (i < n, n a multiple of 16) gets element i of the LANES blocks of n floats at `blocks`.
ALWAYS_INLINE void lane_load_blocks(const float *blocks, int n, lane_f *v) {
    for (int part = 0; part < n; part += 16) {
        lane_f r[16];
        for (int l = 0; l < LANES; l++) memcpy(&r[l], blocks + (size_t)l * n + part, sizeof r[l]);
        lane_transpose16(r);
        for (int i = 0; i < 16; i++) v[part + i] = r[i];
    }
}

// The same for LANES blocks of n bytes (levels), as floats.
ALWAYS_INLINE void lane_load_levels(const uint8_t *blocks, int n, lane_f *v) {
    for (int part = 0; part < n; part += 16) {
        lane_f r[16];
        for (int l = 0; l < LANES; l++) {
            lane_u8 bytes;
            memcpy(&bytes, blocks + (size_t)l * n + part, sizeof bytes);
            r[l] = __builtin_convertvector(bytes, lane_f);
        }
        lane_transpose16(r);
        for (int i = 0; i < 16; i++) v[part + i] = r[i];
    }
}

// Back: element i of block l (a level, 0…255 as a float) to byte l·n + i.
ALWAYS_INLINE void lane_store_levels(const lane_f *v, int n, uint8_t *blocks) {
    for (int part = 0; part < n; part += 16) {
        lane_f r[16];
        for (int i = 0; i < 16; i++) r[i] = v[part + i];
        lane_transpose16(r);
        for (int l = 0; l < LANES; l++) {
            const lane_u8 bytes = __builtin_convertvector(r[l], lane_u8);
            memcpy(blocks + (size_t)l * n + part, &bytes, sizeof bytes);
        }
    }
}

#if defined(__x86_64__)
#define AVX2_TARGET __attribute__((target("avx2,fma,f16c")))
#define AVX512_TARGET __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,f16c")))
#endif

typedef enum { SEARCH_GENERIC, SEARCH_AVX2, SEARCH_AVX512 } search_variant;

// The widest compilation the tier's CPU features allow; tiers the CPU lacks get the portable one.
static inline search_variant variant_for(int32_t tier) {
#if defined(__x86_64__)
    if (kiln_ops_for_tier(tier) == NULL) return SEARCH_GENERIC;
    switch (tier) {
    case KILN_TIER_AVX512:
    case KILN_TIER_AVX512_VBMI: return SEARCH_AVX512;
    case KILN_TIER_AVX2:
    case KILN_TIER_AVX_VNNI: return SEARCH_AVX2;
    default: return SEARCH_GENERIC;
    }
#else
    (void)tier;
    return SEARCH_GENERIC;
#endif
}

#endif
