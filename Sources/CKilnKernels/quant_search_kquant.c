// q4_K and q5_K's group fits (Q4_KQuantizer.fitGroups, ggml's make_qkx2_quants), one 32-value
// group per vector lane: each lane runs the Swift twin's scalar operations in its order — the
// weights (rms + |x|)·importance, the range, the round-to-nearest start, then every trial's
// sums from element 0, its least-squares scale and minimum and its error — so the bits are the
// twin's on every tier (ScaleSearchTests). The trials of one group depend on each other (a better
// trial's minimum is the next ones' origin), so the speed comes from the lanes, not the trials.
#include "quant_lanes.h"

// ggml's nearest_int, as KQuantMath.nearestInt: 1.5·2²³ added leaves the rounded integer in the
// low mantissa bits (halves to even).
ALWAYS_INLINE lane_i lane_nearest_int(lane_f v) {
    const lane_f t = v + 12582912.0f;
    return ((lane_i)t & 0x007FFFFF) - 0x00400000;
}

// The level max(0, min(top, nearest(v))) as a float.
ALWAYS_INLINE lane_f lane_kquant_level(lane_f v, int32_t top) {
    lane_i n = lane_nearest_int(v);
    n = (n & (n < top)) | (top & ~(n < top));
    n = n & (n > 0);
    return __builtin_convertvector(n, lane_f);
}

ALWAYS_INLINE lane_f lane_abs(lane_f v) { return (lane_f)((lane_i)v & 0x7FFFFFFF); }

ALWAYS_INLINE lane_f lane_squared_error(const lane_f *x, const lane_f *w, lane_f d, lane_f m, const lane_f *q) {
    lane_f error = lane_splat(0);
    for (int i = 0; i < 32; i++) {
        const lane_f e = d * q[i] + m - x[i];
        error = error + w[i] * (e * e);
    }
    return error;
}

// LANES groups of 32 (xb, ib: group-major, ib NULL for uniform importance) into scales, minima
// (the twin's −minimum) and levels (32 per group).
ALWAYS_INLINE void kquant_fit_lanes(const float *xb, const float *ib, int32_t nmax, float rmin, float rdelta, int32_t steps,
                                    float *scales, float *minima, uint8_t *levels) {
    lane_f x[32], w[32], L[32], T[32];
    lane_load_blocks(xb, 32, x);
    if (ib) lane_load_blocks(ib, 32, w);
    lane_f sum_x2 = lane_splat(0);
    for (int i = 0; i < 32; i++) sum_x2 = sum_x2 + x[i] * x[i];
    const lane_f mean = sum_x2 / 32.0f;
    lane_f rms;
    for (int l = 0; l < LANES; l++) rms[l] = sqrtf(mean[l]);
    for (int i = 0; i < 32; i++) w[i] = (rms + lane_abs(x[i])) * (ib ? w[i] : lane_splat(1));

    lane_f lo = x[0], hi = x[0], sum_w = w[0], sum_x = w[0] * x[0];
    for (int i = 1; i < 32; i++) {
        lo = lane_select(x[i] < lo, x[i], lo);
        hi = lane_select(x[i] > hi, x[i], hi);
        sum_w = sum_w + w[i];
        sum_x = sum_x + w[i] * x[i];
    }
    lo = lane_select(lo > 0, lane_splat(0), lo);
    const lane_i flat = hi == lo;
    lane_f iscale = lane_splat((float)nmax) / (hi - lo);
    lane_f scale = 1.0f / iscale, minimum = lo;
    for (int i = 0; i < 32; i++) L[i] = lane_kquant_level(iscale * (x[i] - lo), nmax);
    lane_f best = lane_squared_error(x, w, scale, lo, L);
    for (int step = 0; step <= steps; step++) {
        iscale = lane_splat(rmin + rdelta * (float)step + (float)nmax) / (hi - minimum);
        lane_f sum_l = lane_splat(0), sum_l2 = lane_splat(0), sum_xl = lane_splat(0);
        for (int i = 0; i < 32; i++) {
            T[i] = lane_kquant_level(iscale * (x[i] - minimum), nmax);
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
        const lane_f error = lane_squared_error(x, w, trial_scale, trial_min, T);
        const lane_i better = (det > 0) & (error < best);
        for (int i = 0; i < 32; i++) L[i] = lane_select(better, T[i], L[i]);
        best = lane_select(better, error, best);
        scale = lane_select(better, trial_scale, scale);
        minimum = lane_select(better, trial_min, minimum);
    }
    for (int i = 0; i < 32; i++) L[i] = lane_select(flat, lane_splat(0), L[i]);
    scale = lane_select(flat, lane_splat(0), scale);
    minimum = lane_select(flat, lo, minimum);
    lane_store_levels(L, 32, levels);
    for (int l = 0; l < LANES; l++) {
        scales[l] = scale[l];
        minima[l] = -minimum[l];
    }
}

// `groups` groups, LANES at a time; a last partial batch repeats its last group in the spare lanes.
ALWAYS_INLINE void kquant_fit_groups(const float *x, const float *importance, int64_t groups, int32_t nmax, float rmin,
                                     float rdelta, int32_t steps, float *scales, float *minima, uint8_t *levels) {
    int64_t g = 0;
    for (; g + LANES <= groups; g += LANES)
        kquant_fit_lanes(x + g * 32, importance ? importance + g * 32 : NULL, nmax, rmin, rdelta, steps, scales + g, minima + g,
                         levels + g * 32);
    if (g == groups) return;
    float px[LANES * 32], pw[LANES * 32], ps[LANES], pm[LANES];
    uint8_t pl[LANES * 32];
    for (int l = 0; l < LANES; l++) {
        const int64_t source = g + l < groups ? g + l : groups - 1;
        memcpy(px + l * 32, x + source * 32, 32 * sizeof(float));
        if (importance) memcpy(pw + l * 32, importance + source * 32, 32 * sizeof(float));
    }
    kquant_fit_lanes(px, importance ? pw : NULL, nmax, rmin, rdelta, steps, ps, pm, pl);
    for (int64_t k = 0; k < groups - g; k++) {
        scales[g + k] = ps[k];
        minima[g + k] = pm[k];
        memcpy(levels + (g + k) * 32, pl + k * 32, 32);
    }
}

static void fit_generic(const float *x, const float *importance, int64_t groups, int32_t nmax, float rmin, float rdelta,
                        int32_t steps, float *scales, float *minima, uint8_t *levels) {
    kquant_fit_groups(x, importance, groups, nmax, rmin, rdelta, steps, scales, minima, levels);
}
#if defined(__x86_64__)
AVX2_TARGET static void fit_avx2(const float *x, const float *importance, int64_t groups, int32_t nmax, float rmin,
                                 float rdelta, int32_t steps, float *scales, float *minima, uint8_t *levels) {
    kquant_fit_groups(x, importance, groups, nmax, rmin, rdelta, steps, scales, minima, levels);
}
AVX512_TARGET static void fit_avx512(const float *x, const float *importance, int64_t groups, int32_t nmax, float rmin,
                                     float rdelta, int32_t steps, float *scales, float *minima, uint8_t *levels) {
    kquant_fit_groups(x, importance, groups, nmax, rmin, rdelta, steps, scales, minima, levels);
}
#endif

void kiln_quant_kquant_fit32(int32_t tier, const float *x, const float *importance, int64_t groups, int32_t nmax, float rmin,
                             float rdelta, int32_t steps, float *scales, float *minima, uint8_t *levels) {
    switch (variant_for(tier)) {
#if defined(__x86_64__)
    case SEARCH_AVX512: fit_avx512(x, importance, groups, nmax, rmin, rdelta, steps, scales, minima, levels); return;
    case SEARCH_AVX2: fit_avx2(x, importance, groups, nmax, rmin, rdelta, steps, scales, minima, levels); return;
#endif
    default: fit_generic(x, importance, groups, nmax, rmin, rdelta, steps, scales, minima, levels); return;
    }
}
