// The K-quants' group fits, one group per vector lane: q4_K and q5_K's (Q4_KQuantizer.fitGroups,
// ggml's make_qkx2_quants) for 32-value groups, q6_K's (Q6_KQuantizer.fitGroups, make_qx_quants)
// for 16-value ones. Each lane runs its Swift twin's scalar operations in their order (for
// q4_K/q5_K: the weights (rms + |x|)·importance, the range, the round-to-nearest start, then every
// trial's sums from element 0, its least-squares scale and minimum and its error), so the bits
// are the twin's on every tier (ScaleSearchTests). The trials of one group depend on each other
// (q4_K's better trial's minimum is the next ones' origin), so the speed comes from the lanes.
#include "quant_lanes.h"

// ggml's nearest_int, as KQuantMath.nearestInt: 1.5·2²³ added leaves the rounded integer in the
// low mantissa bits (halves to even).
ALWAYS_INLINE lane_i lane_nearest_int(lane_f v) {
    const lane_f t = v + 12582912.0f;
    return ((lane_i)t & 0x007FFFFF) - 0x00400000;
}

// The level max(lowest, min(highest, nearest(v))) as a float.
ALWAYS_INLINE lane_f lane_clamped_level(lane_f v, int32_t lowest, int32_t highest) {
    const lane_i n = __builtin_elementwise_min(lane_nearest_int(v), (lane_i){} + highest);
    return __builtin_convertvector(__builtin_elementwise_max(n, (lane_i){} + lowest), lane_f);
}

// The error of one value in a trial: squared, or (q2_K's `absolute`) its magnitude.
ALWAYS_INLINE lane_f lane_penalty(lane_f e, int absolute) { return absolute ? __builtin_elementwise_abs(e) : e * e; }

ALWAYS_INLINE lane_f lane_affine_error(int n, int absolute, const lane_f *x, const lane_f *w, lane_f d, lane_f m, const lane_f *q) {
    lane_f error = lane_splat(0);
    for (int i = 0; i < n; i++) error = error + w[i] * lane_penalty(d * q[i] + m - x[i], absolute);
    return error;
}

// LANES groups of n (xb, ib: group-major, ib NULL for uniform importance) into scales, minima
// (the twin's −minimum) and levels (n per group). n = 32, squared errors: q4_K/q5_K, weights
// (rms + |x|)·importance; n = 16, `absolute` errors: q2_K, weights |x|·importance. n and
// `absolute` are constants after inlining.
ALWAYS_INLINE void kquant_fit_lanes(int n, int absolute, const float *xb, const float *ib, int32_t nmax, float rmin, float rdelta,
                                    int32_t steps, float *scales, float *minima, uint8_t *levels) {
    lane_f x[32], w[32], L[32], T[32];
    lane_load_blocks(xb, n, x);
    if (ib) lane_load_blocks(ib, n, w);
    if (absolute) {
        for (int i = 0; i < n; i++) w[i] = __builtin_elementwise_abs(x[i]) * (ib ? w[i] : lane_splat(1));
    } else {
        lane_f sum_x2 = lane_splat(0);
        for (int i = 0; i < n; i++) sum_x2 = sum_x2 + x[i] * x[i];
        const lane_f mean = sum_x2 / (float)n;
        lane_f rms;
        for (int l = 0; l < LANES; l++) rms[l] = sqrtf(mean[l]);
        for (int i = 0; i < n; i++) w[i] = (rms + __builtin_elementwise_abs(x[i])) * (ib ? w[i] : lane_splat(1));
    }

    lane_f lo = x[0], hi = x[0], sum_w = w[0], sum_x = w[0] * x[0];
    for (int i = 1; i < n; i++) {
        lo = lane_select(x[i] < lo, x[i], lo);
        hi = lane_select(x[i] > hi, x[i], hi);
        sum_w = sum_w + w[i];
        sum_x = sum_x + w[i] * x[i];
    }
    lo = lane_select(lo > 0, lane_splat(0), lo);
    const lane_i flat = hi == lo;
    lane_f iscale = lane_splat((float)nmax) / (hi - lo);
    lane_f scale = 1.0f / iscale, minimum = lo;
    for (int i = 0; i < n; i++) L[i] = lane_clamped_level(iscale * (x[i] - lo), 0, nmax);
    lane_f best = lane_affine_error(n, absolute, x, w, scale, lo, L);
    for (int step = 0; step <= steps; step++) {
        iscale = lane_splat(rmin + rdelta * (float)step + (float)nmax) / (hi - minimum);
        lane_f sum_l = lane_splat(0), sum_l2 = lane_splat(0), sum_xl = lane_splat(0);
        for (int i = 0; i < n; i++) {
            T[i] = lane_clamped_level(iscale * (x[i] - minimum), 0, nmax);
            const lane_f wl = w[i] * T[i];
            sum_l = sum_l + wl;
            sum_l2 = sum_l2 + wl * T[i];
            sum_xl = sum_xl + wl * x[i];
        }
        const lane_f det = sum_w * sum_l2 - sum_l * sum_l;
        lane_f trial_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
        lane_f trial_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
        const lane_i positive = trial_min > 0;
        trial_min = lane_select(positive, lane_splat(0), trial_min);
        trial_scale = lane_select(positive, sum_xl / sum_l2, trial_scale);
        const lane_f error = lane_affine_error(n, absolute, x, w, trial_scale, trial_min, T);
        const lane_i better = (det > 0) & (error < best);
        for (int i = 0; i < n; i++) L[i] = lane_select(better, T[i], L[i]);
        best = lane_select(better, error, best);
        scale = lane_select(better, trial_scale, scale);
        minimum = lane_select(better, trial_min, minimum);
    }
    for (int i = 0; i < n; i++) L[i] = lane_select(flat, lane_splat(0), L[i]);
    scale = lane_select(flat, lane_splat(0), scale);
    minimum = lane_select(flat, lo, minimum);
    lane_store_levels(L, n, levels);
    for (int l = 0; l < LANES; l++) {
        scales[l] = scale[l];
        minima[l] = -minimum[l];
    }
}

// Q6_K's fit (KQuantMath.symmetric, ggml's make_qx_quants with rmse_type 1) for LANES groups of
// 16: levels −nmax…nmax−1 (stored + nmax) and the scale maximising Σwxl²/Σwl² over the extreme's
// scale and 18 trials around it; weights x² or importance·x·x. Groups whose largest magnitude is
// below 1e-15 get scale 0 and levels 0.
ALWAYS_INLINE void kquant_symmetric_lanes(const float *xb, const float *ib, int32_t nmax, float *scales, uint8_t *levels) {
    lane_f x[16], w[16], L[16];
    lane_load_blocks(xb, 16, x);
    if (ib) {
        lane_load_blocks(ib, 16, w);
        for (int i = 0; i < 16; i++) w[i] = w[i] * x[i] * x[i];
    } else {
        for (int i = 0; i < 16; i++) w[i] = x[i] * x[i];
    }
    lane_f maximum = lane_splat(0), amax = lane_splat(0);
    for (int i = 0; i < 16; i++) {
        const lane_f a = __builtin_elementwise_abs(x[i]);
        const lane_i larger = a > amax;
        amax = lane_select(larger, a, amax);
        maximum = lane_select(larger, x[i], maximum);
    }
    const lane_i empty = ~(amax >= 1e-15f);
    lane_f iscale = lane_splat((float)-nmax) / maximum;
    lane_f sum_lx = lane_splat(0), sum_l2 = lane_splat(0);
    for (int i = 0; i < 16; i++) {
        L[i] = lane_clamped_level(iscale * x[i], -nmax, nmax - 1);
        sum_lx = sum_lx + w[i] * x[i] * L[i];
        sum_l2 = sum_l2 + w[i] * L[i] * L[i];
    }
    lane_f scale = lane_select(sum_l2 != 0, sum_lx / sum_l2, lane_splat(0));
    lane_f best = scale * sum_lx;
    for (int step = -9; step <= 9; step++) {
        if (step == 0) continue;
        iscale = lane_splat(-((float)nmax + 0.1f * (float)step)) / maximum;
        lane_f T[16];
        sum_lx = lane_splat(0), sum_l2 = lane_splat(0);
        for (int i = 0; i < 16; i++) {
            T[i] = lane_clamped_level(iscale * x[i], -nmax, nmax - 1);
            sum_lx = sum_lx + w[i] * x[i] * T[i];
            sum_l2 = sum_l2 + w[i] * T[i] * T[i];
        }
        const lane_i better = (sum_l2 > 0) & (sum_lx * sum_lx > best * sum_l2);
        for (int i = 0; i < 16; i++) L[i] = lane_select(better, T[i], L[i]);
        scale = lane_select(better, sum_lx / sum_l2, scale);
        best = lane_select(better, scale * sum_lx, best);
    }
    for (int i = 0; i < 16; i++) L[i] = lane_select(empty, lane_splat(0), L[i] + (float)nmax);
    scale = lane_select(empty, lane_splat(0), scale);
    lane_store_levels(L, 16, levels);
    for (int l = 0; l < LANES; l++) scales[l] = scale[l];
}

// Which fit a group gets: the group size and the search are fixed by the type.
typedef enum {
    KQUANT_AFFINE32,   // q4_K/q5_K: make_qkx2_quants over 32 values, squared errors
    KQUANT_AFFINE16,   // q2_K: make_qkx2_quants over 16 values, absolute errors
    KQUANT_SYMMETRIC16 // q6_K: make_qx_quants over 16 values, no minimum
} kquant_kind;

// What a fit takes beside the values: the level count, and the affine fits' trial ranges.
typedef struct {
    int32_t nmax;
    float rmin, rdelta;
    int32_t steps;
} kquant_fit;

// `groups` groups of n values, LANES at a time; a last partial batch repeats its last group in
// the spare lanes. `minima` is NULL for the symmetric fit.
ALWAYS_INLINE void kquant_groups_of(kquant_kind kind, int n, const float *x, const float *importance, int64_t groups,
                                    const kquant_fit *fit, float *scales, float *minima, uint8_t *levels) {
    float px[LANES * 32], pw[LANES * 32], ps[LANES], pm[LANES];
    uint8_t pl[LANES * 32];
    for (int64_t g = 0; g < groups; g += LANES) {
        const int whole = g + LANES <= groups;
        const float *xb = x + g * n, *ib = importance ? importance + g * n : NULL;
        if (!whole) {
            for (int l = 0; l < LANES; l++) {
                const int64_t source = g + l < groups ? g + l : groups - 1;
                memcpy(px + l * n, x + source * n, (size_t)n * sizeof(float));
                if (importance) memcpy(pw + l * n, importance + source * n, (size_t)n * sizeof(float));
            }
            xb = px, ib = importance ? pw : NULL;
        }
        float *s = whole ? scales + g : ps, *m = whole && minima ? minima + g : pm;
        uint8_t *lv = whole ? levels + g * n : pl;
        if (kind == KQUANT_SYMMETRIC16) kquant_symmetric_lanes(xb, ib, fit->nmax, s, lv);
        else kquant_fit_lanes(n, kind == KQUANT_AFFINE16, xb, ib, fit->nmax, fit->rmin, fit->rdelta, fit->steps, s, m, lv);
        if (!whole) {
            for (int64_t k = 0; k < groups - g; k++) {
                scales[g + k] = ps[k];
                if (minima) minima[g + k] = pm[k];
                memcpy(levels + (g + k) * n, pl + k * n, (size_t)n);
            }
        }
    }
}

// The kind (and with it the group size) as a constant, so each fit is compiled for its own.
ALWAYS_INLINE void kquant_groups(kquant_kind kind, const float *x, const float *importance, int64_t groups, const kquant_fit *fit,
                                 float *scales, float *minima, uint8_t *levels) {
    switch (kind) {
    case KQUANT_AFFINE32: kquant_groups_of(KQUANT_AFFINE32, 32, x, importance, groups, fit, scales, minima, levels); return;
    case KQUANT_AFFINE16: kquant_groups_of(KQUANT_AFFINE16, 16, x, importance, groups, fit, scales, minima, levels); return;
    case KQUANT_SYMMETRIC16: kquant_groups_of(KQUANT_SYMMETRIC16, 16, x, importance, groups, fit, scales, minima, levels); return;
    }
}

static void groups_generic(kquant_kind kind, const float *x, const float *importance, int64_t groups, const kquant_fit *fit,
                           float *scales, float *minima, uint8_t *levels) {
    kquant_groups(kind, x, importance, groups, fit, scales, minima, levels);
}
#if defined(__x86_64__)
AVX2_TARGET static void groups_avx2(kquant_kind kind, const float *x, const float *importance, int64_t groups, const kquant_fit *fit,
                                    float *scales, float *minima, uint8_t *levels) {
    kquant_groups(kind, x, importance, groups, fit, scales, minima, levels);
}
AVX512_TARGET static void groups_avx512(kquant_kind kind, const float *x, const float *importance, int64_t groups,
                                        const kquant_fit *fit, float *scales, float *minima, uint8_t *levels) {
    kquant_groups(kind, x, importance, groups, fit, scales, minima, levels);
}
#endif

static void fit_groups(int32_t tier, kquant_kind kind, const float *x, const float *importance, int64_t groups, const kquant_fit *fit,
                       float *scales, float *minima, uint8_t *levels) {
    switch (variant_for(tier)) {
#if defined(__x86_64__)
    case SEARCH_AVX512: groups_avx512(kind, x, importance, groups, fit, scales, minima, levels); return;
    case SEARCH_AVX2: groups_avx2(kind, x, importance, groups, fit, scales, minima, levels); return;
#endif
    default: groups_generic(kind, x, importance, groups, fit, scales, minima, levels); return;
    }
}

void kiln_quant_kquant_fit32(int32_t tier, const float *x, const float *importance, int64_t groups, int32_t nmax, float rmin,
                             float rdelta, int32_t steps, float *scales, float *minima, uint8_t *levels) {
    const kquant_fit fit = {nmax, rmin, rdelta, steps};
    fit_groups(tier, KQUANT_AFFINE32, x, importance, groups, &fit, scales, minima, levels);
}

void kiln_quant_kquant_fit16_absolute(int32_t tier, const float *x, const float *importance, int64_t groups, int32_t nmax,
                                      float rmin, float rdelta, int32_t steps, float *scales, float *minima, uint8_t *levels) {
    const kquant_fit fit = {nmax, rmin, rdelta, steps};
    fit_groups(tier, KQUANT_AFFINE16, x, importance, groups, &fit, scales, minima, levels);
}

void kiln_quant_kquant_symmetric16(int32_t tier, const float *x, const float *importance, int64_t groups, int32_t nmax,
                                   float *scales, uint8_t *levels) {
    const kquant_fit fit = {nmax, 0, 0, 0};
    fit_groups(tier, KQUANT_SYMMETRIC16, x, importance, groups, &fit, scales, NULL, levels);
}

// A K-quant group's levels re-rounded to its stored scale: clamp(nearest((x + offset) / scale),
// lowest, highest) + bias, element by element (so any vector width gives the scalar bits; compiled
// per tier, where the vectoriser takes 8 or 16 at a time: the portable build's 4-wide divides
// were a seventh of a q4_K quantisation).
ALWAYS_INLINE void round_levels(const float *x, int64_t n, float offset, float scale, int32_t lowest, int32_t highest,
                                int32_t bias, uint8_t *levels) {
    for (int64_t i = 0; i < n; i++) {
        const float t = (x[i] + offset) / scale + 12582912.0f;
        int32_t bits;
        memcpy(&bits, &t, sizeof bits);
        int32_t q = (bits & 0x007FFFFF) - 0x00400000;
        q = q < highest ? q : highest;
        q = q > lowest ? q : lowest;
        levels[i] = (uint8_t)(q + bias);
    }
}

static void round_levels_generic(const float *x, int64_t n, float offset, float scale, int32_t lowest, int32_t highest,
                                 int32_t bias, uint8_t *levels) {
    round_levels(x, n, offset, scale, lowest, highest, bias, levels);
}
#if defined(__x86_64__)
AVX2_TARGET static void round_levels_avx2(const float *x, int64_t n, float offset, float scale, int32_t lowest, int32_t highest,
                                          int32_t bias, uint8_t *levels) {
    round_levels(x, n, offset, scale, lowest, highest, bias, levels);
}
AVX512_TARGET static void round_levels_avx512(const float *x, int64_t n, float offset, float scale, int32_t lowest,
                                              int32_t highest, int32_t bias, uint8_t *levels) {
    round_levels(x, n, offset, scale, lowest, highest, bias, levels);
}
#endif

void kiln_quant_round_levels(int32_t tier, const float *x, int64_t n, float offset, float scale, int32_t lowest, int32_t highest,
                             int32_t bias, uint8_t *levels) {
    switch (variant_for(tier)) {
#if defined(__x86_64__)
    case SEARCH_AVX512: round_levels_avx512(x, n, offset, scale, lowest, highest, bias, levels); return;
    case SEARCH_AVX2: round_levels_avx2(x, n, offset, scale, lowest, highest, bias, levels); return;
#endif
    default: round_levels_generic(x, n, offset, scale, lowest, highest, bias, levels); return;
    }
}
