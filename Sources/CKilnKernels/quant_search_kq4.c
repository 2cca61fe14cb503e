// kq4's exponent search (KQ4Quantizer in Swift), one 16-value group per vector lane. Each group
// tries a handful of exponent bytes; each trial picks every value's nearest grid level for that
// scale and scores the weighted squared error. In Swift, one group at a time with a binary search
// per level, it ran at 19 MB/s of f16 input and was nearly all of a `kq4` quantisation.
//
// A lane runs exactly the Swift trial's operations in its order (IEEE divide, compares against the
// same midpoints, the running sums from i = 0 up, no fused multiply-add), so every tier gives the
// Swift block quantiser's bytes (tested against it).

#include "quant_lanes.h"

#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

static const float kq4_grid[16] = {-127, -102, -82, -64, -48, -34, -20, -6, 6, 20, 34, 48, 64, 82, 102, 127};

// scale(e) = M[e mod 8] · 2^(⌊e/8⌋ − 28) (docs/FORMAT.md §7.3; KQ4.scales in Swift): M's bits with
// ⌊e/8⌋ − 28 added to the exponent field, which is the exact product (the scales are normal).
ALWAYS_INLINE float kq4_scale(int32_t e) {
    static const float mantissas[8] = {0x1.000000p+0f, 0x1.172b84p+0f, 0x1.306fe0p+0f, 0x1.4bfdaep+0f,
                                       0x1.6a09e6p+0f, 0x1.8ace54p+0f, 0x1.ae89fap+0f, 0x1.d5818ep+0f};
    uint32_t bits;
    memcpy(&bits, &mantissas[e & 7], sizeof bits);
    bits += (uint32_t)(((e >> 3) - 28) * (1 << 23));
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return scale;
}

// table[idx] in every lane (idx 0…15). Plain `static inline`, not always-inline, and vectors by
// pointer: the shared body below names every variant's lookup, and a call that constant folding
// removes from a tier without the instructions must neither be inlined there first nor pass
// vectors in registers that tier lacks (unoptimised builds keep the call).
#if defined(__x86_64__)
AVX512_TARGET static inline void lookup16_avx512(const lane_f *table, const lane_i *index, lane_f *out) {
    *out = (lane_f)_mm512_permutexvar_ps((__m512i)*index, (__m512)*table);
}
AVX2_TARGET static inline void lookup16_avx2(const lane_f *table_in, const lane_i *index, lane_f *out) {
    const lane_f table = *table_in;
    const lane_i idx = *index;
    typedef float half_f __attribute__((vector_size(32)));
    typedef int32_t half_i __attribute__((vector_size(32)));
    const __m256 low = (__m256)__builtin_shufflevector(table, table, 0, 1, 2, 3, 4, 5, 6, 7);
    const __m256 high = (__m256)__builtin_shufflevector(table, table, 8, 9, 10, 11, 12, 13, 14, 15);
    half_f part[2];
    for (int h = 0; h < 2; h++) {
        const half_i i = h ? __builtin_shufflevector(idx, idx, 8, 9, 10, 11, 12, 13, 14, 15)
                           : __builtin_shufflevector(idx, idx, 0, 1, 2, 3, 4, 5, 6, 7);
        const half_f from_low = (half_f)_mm256_permutevar8x32_ps(low, (__m256i)i);
        const half_f from_high = (half_f)_mm256_permutevar8x32_ps(high, (__m256i)i);
        const half_i high_half = i > 7;
        part[h] = (half_f)(((half_i)from_high & high_half) | ((half_i)from_low & ~high_half));
    }
    *out = __builtin_shufflevector(part[0], part[1], 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}
#endif

// The level of r = x/scale in every lane: how many grid midpoints lie below r (none for NaN),
// and its grid value. The portable tier counts all 15 midpoints (compares the compiler
// vectorises anywhere); the x86 tiers binary-search them with in-register table lookups (four
// steps instead of fifteen) — the same count, since the midpoints ascend.
ALWAYS_INLINE void kq4_level(search_variant variant, lane_f r, lane_f midpoints, lane_f grid, const float *midpoint,
                             const float *step, lane_f *level, lane_f *g) {
#if defined(__x86_64__)
    if (variant != SEARCH_GENERIC) {
        lane_i c = lane_splat(0) != lane_splat(0);  // 0 in every lane
        for (int width = 8; width >= 1; width /= 2) {
            const lane_i probe = c + (width - 1);
            lane_f below;
            if (variant == SEARCH_AVX512) lookup16_avx512(&midpoints, &probe, &below);
            else lookup16_avx2(&midpoints, &probe, &below);
            c = c + ((r > below) & width);
        }
        *level = __builtin_convertvector(c, lane_f);
        if (variant == SEARCH_AVX512) lookup16_avx512(&grid, &c, g);
        else lookup16_avx2(&grid, &c, g);
        return;
    }
#endif
    (void)midpoints, (void)grid;
    lane_f count = lane_splat(0), value = lane_splat(kq4_grid[0]);
    for (int m = 0; m < 15; m++) {
        const lane_i above = r > midpoint[m];
        count = count + (lane_f)(above & (lane_i)lane_splat(1.0f));
        value = value + (lane_f)(above & (lane_i)lane_splat(step[m]));
    }
    *level = count;
    *g = value;
}

// LANES groups (x and w group-major, 16 values each; w NULL for uniform) against `k` candidate
// exponents each (`candidates`, k per group, −1 for none). best_error, best and levels hold the
// best so far (best_error NaN: none yet) and receive the new best (a trial replaces it only with
// a strictly lower error, or when there is none yet);
// fit, if not NULL, receives Σw·x·g and Σw·g² of candidate 0's levels (2 per group), whose
// quotient is their weighted least-squares scale.
ALWAYS_INLINE void kq4_lanes(search_variant variant, const float *xg, const float *wg, const int32_t *candidates,
                             int32_t k, float *best_error, int32_t *best, float *fit, uint8_t *levels) {
    lane_f x[16], w[16], best_q[16];
    lane_load_blocks(xg, 16, x);
    if (wg) lane_load_blocks(wg, 16, w);
    else
        for (int i = 0; i < 16; i++) w[i] = lane_splat(1.0f);
    lane_load_levels(levels, 16, best_q);
    lane_f best_err;
    lane_i best_e;
    memcpy(&best_err, best_error, sizeof best_err);
    memcpy(&best_e, best, sizeof best_e);
    // Midpoints between neighbouring levels (exact: halves of integers), and each level's step.
    float midpoint[15], step[15];
    for (int m = 0; m < 15; m++) midpoint[m] = (kq4_grid[m] + kq4_grid[m + 1]) / 2, step[m] = kq4_grid[m + 1] - kq4_grid[m];
    lane_f midpoints, grid;
    for (int m = 0; m < 16; m++) midpoints[m] = m < 15 ? midpoint[m] : __builtin_inff(), grid[m] = kq4_grid[m];

    for (int32_t c = 0; c < k; c++) {
        lane_f scale;
        lane_i e, valid;
        for (int l = 0; l < LANES; l++) {
            e[l] = candidates[l * k + c];
            valid[l] = e[l] >= 0 ? -1 : 0;
            scale[l] = kq4_scale(e[l] >= 0 ? e[l] : 0);
        }
        lane_f err = lane_splat(0), numerator = lane_splat(0), denominator = lane_splat(0), q[16];
        for (int i = 0; i < 16; i++) {
            lane_f g;
            kq4_level(variant, x[i] / scale, midpoints, grid, midpoint, step, &q[i], &g);
            const lane_f diff = x[i] - g * scale;
            err = err + (w[i] * diff) * diff;
            numerator = numerator + (w[i] * x[i]) * g;
            denominator = denominator + (w[i] * g) * g;
        }
        if (c == 0 && fit)
            for (int l = 0; l < LANES; l++) fit[2 * l] = numerator[l], fit[2 * l + 1] = denominator[l];
        // NaN in best_error means none yet: the first trial is kept whatever its error (an
        // overflowing one included), later ones only when strictly lower.
        const lane_i better = valid & ((err < best_err) | (best_err != best_err));
        best_err = lane_select(better, err, best_err);
        best_e = (best_e & ~better) | (e & better);
        for (int i = 0; i < 16; i++) best_q[i] = lane_select(better, q[i], best_q[i]);
    }
    memcpy(best_error, &best_err, sizeof best_err);
    memcpy(best, &best_e, sizeof best_e);
    lane_store_levels(best_q, 16, levels);
}

// Any number of groups: whole sets of LANES in place, the rest through padded copies.
ALWAYS_INLINE void kq4_groups(search_variant variant, const float *x, const float *w, int64_t count, const int32_t *candidates, int32_t k,
                              float *best_error, int32_t *best, float *fit, uint8_t *levels) {
    int64_t done = 0;
    for (; done + LANES <= count; done += LANES)
        kq4_lanes(variant, x + done * 16, w ? w + done * 16 : NULL, candidates + done * k, k, best_error + done, best + done,
                  fit ? fit + 2 * done : NULL, levels + done * 16);
    if (done == count) return;
    enum { MAX_CANDIDATES = 16 };
    float px[LANES * 16] = {0}, pw[LANES * 16] = {0}, pe[LANES] = {0}, pf[2 * LANES];
    int32_t pc[LANES * MAX_CANDIDATES], pb[LANES] = {0};
    uint8_t pl[LANES * 16] = {0};
    for (int64_t g = 0; g < LANES; g++)
        for (int32_t c = 0; c < k; c++) pc[g * k + c] = g < count - done ? candidates[(done + g) * k + c] : -1;
    for (int64_t v = 0; v < (count - done) * 16; v++) {
        px[v] = x[done * 16 + v];
        pw[v] = w ? w[done * 16 + v] : 1.0f;
        pl[v] = levels[done * 16 + v];
    }
    for (int64_t g = 0; g < count - done; g++) pe[g] = best_error[done + g], pb[g] = best[done + g];
    kq4_lanes(variant, px, w ? pw : NULL, pc, k, pe, pb, fit ? pf : NULL, pl);
    for (int64_t g = 0; g < count - done; g++) {
        best_error[done + g] = pe[g];
        best[done + g] = pb[g];
        if (fit) fit[2 * (done + g)] = pf[2 * g], fit[2 * (done + g) + 1] = pf[2 * g + 1];
    }
    for (int64_t v = 0; v < (count - done) * 16; v++) levels[done * 16 + v] = pl[v];
}

static void kq4_generic(const float *x, const float *w, int64_t count, const int32_t *candidates, int32_t k,
                        float *best_error, int32_t *best, float *fit, uint8_t *levels) {
    kq4_groups(SEARCH_GENERIC, x, w, count, candidates, k, best_error, best, fit, levels);
}

#if defined(__x86_64__)
AVX2_TARGET static void kq4_avx2(const float *x, const float *w, int64_t count, const int32_t *candidates, int32_t k,
                                 float *best_error, int32_t *best, float *fit, uint8_t *levels) {
    kq4_groups(SEARCH_AVX2, x, w, count, candidates, k, best_error, best, fit, levels);
}
AVX512_TARGET static void kq4_avx512(const float *x, const float *w, int64_t count, const int32_t *candidates,
                                     int32_t k, float *best_error, int32_t *best, float *fit, uint8_t *levels) {
    kq4_groups(SEARCH_AVX512, x, w, count, candidates, k, best_error, best, fit, levels);
}
#endif

static void kq4_groups_dispatch(search_variant variant, const float *x, const float *w, int64_t count,
                                const int32_t *candidates, int32_t k, float *best_error, int32_t *best, float *fit,
                                uint8_t *levels) {
    switch (variant) {
#if defined(__x86_64__)
    case SEARCH_AVX512: kq4_avx512(x, w, count, candidates, k, best_error, best, fit, levels); return;
    case SEARCH_AVX2: kq4_avx2(x, w, count, candidates, k, best_error, best, fit, levels); return;
#endif
    default: kq4_generic(x, w, count, candidates, k, best_error, best, fit, levels);
    }
}

// ---- a whole row ----------------------------------------------------------------------------
//
// KQ4Quantizer's row (quantizeBlock for every block) in C: each group's nearest exponent and
// window, the lane search, the refit trial for groups whose least-squares scale lies outside the
// window, and the packing. The Swift one-group search stays the reference the tests hold it to.

// KQ4.exponent(nearest:) exactly: round((log2 s + 28)·8) clamped to 0…255, as 8·(E + 28) plus how
// many of the least f32s at or above 2^((k + ½)/8) the significand reaches.
static int32_t kq4_nearest_exponent(float s) {
    if (!(s > 0) || s == __builtin_inff()) return 0;
    uint32_t bits;
    memcpy(&bits, &s, sizeof bits);
    const int32_t field = (int32_t)(bits >> 23);
    if (field == 0) return 0;  // subnormal: far below the smallest scale
    static const uint32_t thresholds[8] = {0x3F85AAC4, 0x3F91C3D4, 0x3F9EF533, 0x3FAD583F,
                                           0x3FBD08A4, 0x3FCE248D, 0x3FE0CCDF, 0x3FF5257E};
    const uint32_t significand = (bits & 0x7FFFFF) | 0x3F800000;  // m in [1, 2), as bits (order-preserving)
    int32_t e = 8 * (field - 127 + 28);
    for (int k = 0; k < 8; k++) e += significand >= thresholds[k];
    return e < 0 ? 0 : e > 255 ? 255 : e;
}

int kiln_quant_kq4_row(int32_t tier, const float *x, const float *importance, int64_t groups, int32_t width,
                       uint8_t *out) {
    if (width < 0 || width > 7 || groups < 0 || groups % 2) return -1;
    const search_variant variant = variant_for(tier);
    const int32_t k = 2 * width + 1;
    const size_t n = (size_t)groups;
    // candidates, best, nearest, outside_group, outside_exponent (int32); best_error, fit ×2
    // (float); levels (bytes)
    void *memory = malloc(n * (size_t)(k + 4) * 4 + n * 3 * 4 + n * 16);
    if (!memory) return -2;
    int32_t *candidates = memory, *best = candidates + n * (size_t)k, *nearest = best + n;
    int32_t *outside_group = nearest + n, *outside_exponent = outside_group + n;
    float *best_error = (float *)(outside_exponent + n), *fit = best_error + n;
    uint8_t *levels = (uint8_t *)(fit + 2 * n);
    memset(levels, 7, n * 16);  // the level of 0: the 7 midpoints below it
    for (size_t g = 0; g < n; g++) {
        int32_t *slots = candidates + g * (size_t)k;
        for (int32_t c = 0; c < k; c++) slots[c] = -1;
        best_error[g] = __builtin_nanf("");
        best[g] = 0;
        nearest[g] = 0;
        float amax = 0;
        for (int i = 0; i < 16; i++) {
            const float a = __builtin_fabsf(x[16 * g + i]);
            amax = a >= amax ? a : amax;  // Swift's max: a NaN is passed over
        }
        if (!(amax > 0)) continue;  // exponent 0, every level that of 0: no trials
        const int32_t e = kq4_nearest_exponent(amax / 127);
        nearest[g] = best[g] = slots[0] = e;
        // Then the window upwards, without e.
        int32_t slot = 1;
        for (int32_t c = e - width < 0 ? 0 : e - width; c <= (e + width > 255 ? 255 : e + width); c++)
            if (c != e) slots[slot++] = c;
    }
    kq4_groups_dispatch(variant, x, importance, (int64_t)n, candidates, k, best_error, best, width > 0 ? fit : NULL, levels);
    if (width > 0) {
        // The refit scale of the nearest exponent's levels may lie outside the window: those
        // groups (few) try that exponent too, gathered into one more search.
        size_t outside = 0;
        for (size_t g = 0; g < n; g++) {
            if (candidates[g * (size_t)k] < 0 || !(fit[2 * g + 1] > 0)) continue;
            const int32_t e = kq4_nearest_exponent(fit[2 * g] / fit[2 * g + 1]);
            if (e < nearest[g] - width || e > nearest[g] + width) {
                outside_group[outside] = (int32_t)g;
                outside_exponent[outside] = e;
                outside++;
            }
        }
        for (size_t start = 0; start < outside; start += LANES) {
            const size_t count = outside - start < LANES ? outside - start : LANES;
            float px[LANES * 16], pw[LANES * 16], pe[LANES];
            int32_t pc[LANES], pb[LANES];
            uint8_t pl[LANES * 16];
            for (size_t j = 0; j < count; j++) {
                const size_t g = (size_t)outside_group[start + j];
                memcpy(px + 16 * j, x + 16 * g, 16 * sizeof(float));
                if (importance) memcpy(pw + 16 * j, importance + 16 * g, 16 * sizeof(float));
                memcpy(pl + 16 * j, levels + 16 * g, 16);
                pc[j] = outside_exponent[start + j];
                pe[j] = best_error[g];
                pb[j] = best[g];
            }
            kq4_groups_dispatch(variant, px, importance ? pw : NULL, (int64_t)count, pc, 1, pe, pb, NULL, pl);
            for (size_t j = 0; j < count; j++) {
                const size_t g = (size_t)outside_group[start + j];
                best_error[g] = pe[j];
                best[g] = pb[j];
                memcpy(levels + 16 * g, pl + 16 * j, 16);
            }
        }
    }
    for (size_t b = 0; b < n / 2; b++) {
        uint8_t *block = out + 18 * b;
        const uint8_t *low = levels + 32 * b, *high = low + 16;
        block[0] = (uint8_t)best[2 * b];
        block[1] = (uint8_t)best[2 * b + 1];
        for (int j = 0; j < 16; j++) block[2 + j] = (uint8_t)(low[j] | high[j] << 4);
    }
    free(memory);
    return 0;
}
