// What the weight quantisers' C searches share (quant_search.c, quant_search_kq4.c): exact
// float arithmetic only (no contraction into FMA, so every tier and the Swift twins give the same
// bits), 16-lane vectors for searching one block per lane, and the choice of compilation per tier.
#ifndef KILN_QUANT_LANES_H
#define KILN_QUANT_LANES_H

#include "kiln_internal.h"

#include <math.h>

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
