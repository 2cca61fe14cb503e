// The scale searches of Kiln's 32-value quantisers (q4_0, q5_0: value d·(q − offset); q4_1,
// q5_1: value d·q + m). Quantising a model is dominated by them: each block tries a few dozen
// candidate scales, and each trial is four passes over 32 values.
//
// One body, compiled once per tier (portable C, AVX2, AVX-512; on arm64 the portable body is
// vectorised with NEON, which is baseline there). Every tier gives the same bits as the portable
// one, which is the reference: the body uses only IEEE-exact operations (add, multiply, divide,
// round to nearest even), contraction into FMA is switched off, and every sum over a block is
// taken in one fixed order (`sum32`: 16 pairwise partial sums, then halving), so the vector code
// the compiler makes computes exactly what the scalar code does.

#include "quant_lanes.h"

// The multipliers tried around each starting scale: 0.82, 0.845, … 1.12.
#define SEARCH_FACTORS 13
ALWAYS_INLINE float search_factor(int i) { return 0.82f + (float)i * 0.025f; }

// The value an f16 store gives back.
ALWAYS_INLINE float rounded_to_half(float v) { return kiln_half_to_float(kiln_float_to_half(v)); }

// Σ v[0..32) in the one order every tier uses.
ALWAYS_INLINE float sum32(const float *v) {
    float p[16];
    for (int j = 0; j < 16; j++) p[j] = v[j] + v[j + 16];
    for (int j = 0; j < 8; j++) p[j] = p[j] + p[j + 8];
    for (int j = 0; j < 4; j++) p[j] = p[j] + p[j + 4];
    return (p[0] + p[2]) + (p[1] + p[3]);
}

// Levels for scale d, as floats: round(x / d) + offset clipped to 0…top (NaN → 0).
ALWAYS_INLINE void nearest_symmetric(const float *x, float d, float offset, float top, float *q) {
    const float id = d == 0 ? 0 : 1.0f / d;
    for (int i = 0; i < 32; i++) {
        float v = __builtin_rintf(x[i] * id) + offset;
        v = v > 0 ? v : 0;
        q[i] = v < top ? v : top;
    }
}

// Σ w (x − s·(q − offset))², s already an f16 value.
ALWAYS_INLINE float error_symmetric(const float *x, const float *w, float s, float offset, const float *q) {
    float e[32];
    for (int i = 0; i < 32; i++) {
        const float diff = x[i] - s * (q[i] - offset);
        e[i] = (w[i] * diff) * diff;
    }
    return sum32(e);
}

ALWAYS_INLINE float search_symmetric(const float *x, const float *importance, int32_t offset_levels, float maximum,
                                     float scale, uint8_t *levels) {
    float ones[32], w[32], wx[32], q[32], t[32], u[32];
    for (int i = 0; i < 32; i++) ones[i] = 1;
    const float *weights = importance ? importance : ones;
    for (int i = 0; i < 32; i++) w[i] = weights[i], wx[i] = w[i] * x[i];
    const float offset = (float)offset_levels, top = (float)(2 * offset_levels - 1);
    for (int i = 0; i < 32; i++) q[i] = (float)levels[i];

    float best_scale = scale;
    float best_error = error_symmetric(x, w, rounded_to_half(scale), offset, q);
    // Both signs: the extreme value may sit at the bottom level (full range) or the top.
    const float bases[2] = {maximum / (float)(-offset_levels), maximum / (float)(offset_levels - 1)};
    for (int b = 0; b < 2; b++) {
        for (int f = 0; f < SEARCH_FACTORS; f++) {
            nearest_symmetric(x, bases[b] * search_factor(f), offset, top, q);
            for (int i = 0; i < 32; i++) {
                const float c = q[i] - offset;
                t[i] = wx[i] * c;
                u[i] = (w[i] * c) * c;
            }
            const float numerator = sum32(t), denominator = sum32(u);
            if (!(denominator > 0)) continue;
            const float s = rounded_to_half(numerator / denominator);
            if (s == 0 || s != s) continue;
            nearest_symmetric(x, s, offset, top, q);
            const float e = error_symmetric(x, w, s, offset, q);
            if (e < best_error) {
                best_error = e;
                best_scale = s;
                for (int i = 0; i < 32; i++) levels[i] = (uint8_t)q[i];
            }
        }
    }
    return best_scale;
}

// Σ w (x − (q·d + m))², d and m already f16 values.
ALWAYS_INLINE float error_affine(const float *x, const float *w, float d, float m, const float *q) {
    float e[32];
    for (int i = 0; i < 32; i++) {
        const float diff = x[i] - (q[i] * d + m);
        e[i] = (w[i] * diff) * diff;
    }
    return sum32(e);
}

ALWAYS_INLINE void search_affine(const float *x, const float *importance, int32_t max_level, float lo, float hi,
                                 float *scale, float *minimum, uint8_t *levels) {
    float ones[32], w[32], wx[32], q[32], t[32];
    for (int i = 0; i < 32; i++) ones[i] = 1;
    const float *weights = importance ? importance : ones;
    for (int i = 0; i < 32; i++) w[i] = weights[i], wx[i] = w[i] * x[i];
    const float top = (float)max_level;
    for (int i = 0; i < 32; i++) q[i] = (float)levels[i];
    // Σw and Σwx do not depend on the levels.
    const float sw = sum32(w), sx = sum32(wx);

    float d = *scale, m = *minimum;
    float best_error = error_affine(x, w, rounded_to_half(d), rounded_to_half(m), q);
    static const float shrink[3] = {0, 0.05f, 0.1f};
    for (int a = 0; a < 3; a++) {
        for (int b = 0; b < 3; b++) {
            float cm = lo + (hi - lo) * shrink[a];
            float cd = ((hi - (hi - lo) * shrink[b]) - cm) / top;
            for (int pass = 0; pass < 2; pass++) {
                const float sd = rounded_to_half(cd), sm = rounded_to_half(cm);
                if (!(sd > 0)) break;
                const float inverse = 1.0f / sd;
                for (int i = 0; i < 32; i++) {
                    float v = __builtin_rintf((x[i] - sm) * inverse);
                    v = v > 0 ? v : 0;
                    q[i] = v < top ? v : top;
                }
                const float e = error_affine(x, w, sd, sm, q);
                if (e < best_error) {
                    best_error = e;
                    d = sd;
                    m = sm;
                    for (int i = 0; i < 32; i++) levels[i] = (uint8_t)q[i];
                }
                // Weighted least squares for x ≈ d·q + m.
                for (int i = 0; i < 32; i++) t[i] = w[i] * q[i];
                const float sq = sum32(t);
                for (int i = 0; i < 32; i++) t[i] = t[i] * q[i];
                const float sqq = sum32(t);
                for (int i = 0; i < 32; i++) t[i] = wx[i] * q[i];
                const float sqx = sum32(t);
                const float det = sw * sqq - sq * sq;
                if (!(det > 0)) break;
                const float fd = (sw * sqx - sq * sx) / det;
                const float fm = (sqq * sx - sq * sqx) / det;
                if (!(fd > 0)) break;
                cd = fd;
                cm = fm;
            }
        }
    }
    *scale = d;
    *minimum = m;
}

// ---- many blocks at once: one block per vector lane ---------------------------------------
//
// The same arithmetic as `search_symmetric`, each lane running one block's scalar operations in
// the same order (sums in `sum32`'s tree, element-wise IEEE operations, the same f16 rounding),
// so a lane gives exactly the bits the one-block search gives: no horizontal sums, and every
// instruction does 16 blocks' work.

ALWAYS_INLINE lane_f lane_sum32(const lane_f *v) {
    lane_f p[16];
    for (int j = 0; j < 16; j++) p[j] = v[j] + v[j + 16];
    for (int j = 0; j < 8; j++) p[j] = p[j] + p[j + 8];
    for (int j = 0; j < 4; j++) p[j] = p[j] + p[j + 4];
    return (p[0] + p[2]) + (p[1] + p[3]);
}

// The lanes work on centred levels c = q − offset, clipped to −offset…top − offset: the same
// values as the one-block search's q − offset (every q is a small integer, so the subtraction is
// exact; NaN goes to the bottom as there), without the offset's add and subtract per element.
// On a 2-vCPU machine the two threads share one core's vector ports, and the search is bound by
// them: every element operation saved is time.

// The last four levels of `lane_sum32`'s tree, from its first level's 16 pair sums.
ALWAYS_INLINE lane_f lane_sum16_pairs(lane_f *p) {
    for (int j = 0; j < 8; j++) p[j] = p[j] + p[j + 8];
    for (int j = 0; j < 4; j++) p[j] = p[j] + p[j + 4];
    return (p[0] + p[2]) + (p[1] + p[3]);
}

// The centred level of x·id.
ALWAYS_INLINE lane_f lane_level_centred(lane_f x, lane_f id, lane_f bottom, lane_f top) {
    lane_f v = __builtin_elementwise_roundeven(x * id);
    v = lane_select(v > bottom, v, bottom);
    return lane_select(v < top, v, top);
}

ALWAYS_INLINE lane_f lane_inverse(lane_f d) { return lane_select(d == 0, lane_splat(0), 1.0f / d); }

ALWAYS_INLINE void lane_nearest_centred(const lane_f *x, lane_f d, lane_f bottom, lane_f top, lane_f *c) {
    const lane_f id = lane_inverse(d);
    for (int i = 0; i < 32; i++) c[i] = lane_level_centred(x[i], id, bottom, top);
}

// Σ w (x − s·c)² for the levels c nearest x/s, in `lane_sum32`'s order: elements j and j + 16
// together, so the levels are never stored and the pair sums are the tree's first level. With
// uniform importance the multiplications by w are left out: by 1 they are exact, so the sums are
// the same bits.
ALWAYS_INLINE lane_f lane_error_nearest(const lane_f *x, const lane_f *w, int uniform, lane_f s, lane_f bottom,
                                        lane_f top) {
    const lane_f id = lane_inverse(s);
    lane_f p[16];
    for (int j = 0; j < 16; j++) {
        lane_f e[2];
        for (int h = 0; h < 2; h++) {
            const int i = j + 16 * h;
            const lane_f diff = x[i] - s * lane_level_centred(x[i], id, bottom, top);
            e[h] = uniform ? diff * diff : (w[i] * diff) * diff;
        }
        p[j] = e[0] + e[1];
    }
    return lane_sum16_pairs(p);
}

// The same error for given levels c (the start's, which are not the nearest).
ALWAYS_INLINE lane_f lane_error_centred(const lane_f *x, const lane_f *w, int uniform, lane_f s, const lane_f *c) {
    lane_f e[32];
    for (int i = 0; i < 32; i++) {
        const lane_f diff = x[i] - s * c[i];
        e[i] = uniform ? diff * diff : (w[i] * diff) * diff;
    }
    return lane_sum32(e);
}

// The weighted least-squares scale Σ w·x·c / Σ w·c² of the levels c nearest x/d, rounded to f16;
// `denominator` receives Σ w·c².
ALWAYS_INLINE lane_f lane_refit(const lane_f *x, const lane_f *w, const lane_f *wx, int uniform, lane_f d, lane_f bottom,
                                lane_f top, lane_f *denominator) {
    const lane_f id = lane_inverse(d);
    lane_f pt[16], pu[16];
    for (int j = 0; j < 16; j++) {
        lane_f t[2], u[2];
        for (int h = 0; h < 2; h++) {
            const int i = j + 16 * h;
            const lane_f c = lane_level_centred(x[i], id, bottom, top);
            t[h] = wx[i] * c;
            u[h] = uniform ? c * c : (w[i] * c) * c;
        }
        pt[j] = t[0] + t[1];
        pu[j] = u[0] + u[1];
    }
    const lane_f numerator = lane_sum16_pairs(pt);
    *denominator = lane_sum16_pairs(pu);
    return lane_rounded_to_half(numerator / *denominator);
}

// `LANES` blocks of 32 (x and importance block-major, importance NULL for uniform); `scales`
// holds the starting scales and receives the best, `levels` (32 per block) likewise.
//
// Every candidate's refit scale first, then every one's error, then the choice in candidate
// order: the same operations and choice as one candidate after another, but each phase's
// candidates are independent, so one candidate's long chain (sums, divide, f16 rounding,
// reciprocal) overlaps the next one's work instead of stalling it.
// A lane that finds a better scale s takes nearest(x, s) as its levels: the candidate's levels
// were exactly that, so they are computed once at the end.
ALWAYS_INLINE void search_symmetric_lanes_body(const float *x_blocks, const float *importance, int uniform,
                                               int32_t offset_levels, const float *maxima, float *scales,
                                               uint8_t *levels) {
    lane_f x[32], w[32], wx[32], c[32];
    lane_load_blocks(x_blocks, 32, x);
    if (!uniform) lane_load_blocks(importance, 32, w);
    for (int i = 0; i < 32; i++) wx[i] = uniform ? x[i] : w[i] * x[i];
    const lane_f offset = lane_splat((float)offset_levels);
    const lane_f bottom = lane_splat((float)-offset_levels), top = lane_splat((float)(offset_levels - 1));
    lane_f maximum, best_scale;
    memcpy(&maximum, maxima, sizeof maximum);
    memcpy(&best_scale, scales, sizeof best_scale);
    // Blocks whose extreme is 0 keep their start, as the one-block callers skip them.
    const lane_i searched = maximum != 0;

    lane_load_levels(levels, 32, c);
    for (int i = 0; i < 32; i++) c[i] = c[i] - offset;
    lane_f best_error = lane_error_centred(x, w, uniform, lane_rounded_to_half(best_scale), c);
    const lane_f bases[2] = {maximum / (float)(-offset_levels), maximum / (float)(offset_levels - 1)};
    enum { CANDIDATES = 2 * SEARCH_FACTORS };
    lane_f scale[CANDIDATES], error[CANDIDATES];
    lane_i valid[CANDIDATES];
    for (int n = 0; n < CANDIDATES; n++) {
        lane_f denominator;
        scale[n] = lane_refit(x, w, wx, uniform, bases[n / SEARCH_FACTORS] * search_factor(n % SEARCH_FACTORS), bottom, top,
                              &denominator);
        valid[n] = searched & (denominator > 0) & (scale[n] != 0) & (scale[n] == scale[n]);
    }
    for (int n = 0; n < CANDIDATES; n++) error[n] = lane_error_nearest(x, w, uniform, scale[n], bottom, top);
    lane_i improved = lane_splat(0) != lane_splat(0);
    for (int n = 0; n < CANDIDATES; n++) {
        const lane_i better = valid[n] & (error[n] < best_error);
        best_error = lane_select(better, error[n], best_error);
        best_scale = lane_select(better, scale[n], best_scale);
        improved |= better;
    }
    memcpy(scales, &best_scale, sizeof best_scale);
    lane_f q[32];
    lane_load_levels(levels, 32, q);
    lane_nearest_centred(x, best_scale, bottom, top, c);
    for (int i = 0; i < 32; i++) q[i] = lane_select(improved, c[i] + offset, q[i]);
    lane_store_levels(q, 32, levels);
}

ALWAYS_INLINE void search_symmetric_lanes(const float *x_blocks, const float *importance, int32_t offset_levels,
                                          const float *maxima, float *scales, uint8_t *levels) {
    if (importance) search_symmetric_lanes_body(x_blocks, importance, 0, offset_levels, maxima, scales, levels);
    else search_symmetric_lanes_body(x_blocks, NULL, 1, offset_levels, maxima, scales, levels);
}

// `error_affine` in every lane (for the start's levels, which are not the nearest).
ALWAYS_INLINE lane_f lane_error_affine(const lane_f *x, const lane_f *w, lane_f d, lane_f m, const lane_f *q) {
    lane_f e[32];
    for (int i = 0; i < 32; i++) {
        const lane_f diff = x[i] - (q[i] * d + m);
        e[i] = (w[i] * diff) * diff;
    }
    return lane_sum32(e);
}

ALWAYS_INLINE lane_f lane_affine_level(lane_f x, lane_f m, lane_f inverse, lane_f top) {
    lane_f v = __builtin_elementwise_roundeven((x - m) * inverse);
    v = lane_select(v > 0, v, lane_splat(0));
    return lane_select(v < top, v, top);
}

// One trial of (d, m) = (sd, sm): the weighted squared error of the nearest levels, and, when
// `fit` is set, the sums of their weighted least-squares fit (Σw·q, Σw·q², Σw·x·q). Elements j
// and j + 16 go together, so the levels are never stored and the pair sums are `lane_sum32`'s
// first level. With uniform importance the multiplications by w = 1 are left out (exact).
ALWAYS_INLINE lane_f lane_affine_trial(const lane_f *x, const lane_f *w, const lane_f *wx, int uniform, lane_f sd,
                                       lane_f sm, lane_f top, int fit, lane_f *sq, lane_f *sqq, lane_f *sqx) {
    const lane_f inverse = 1.0f / sd;
    lane_f pe[16], p1[16], p2[16], p3[16];
    for (int j = 0; j < 16; j++) {
        lane_f e[2], t1[2], t2[2], t3[2];
        for (int h = 0; h < 2; h++) {
            const int i = j + 16 * h;
            const lane_f q = lane_affine_level(x[i], sm, inverse, top);
            const lane_f diff = x[i] - (q * sd + sm);
            e[h] = uniform ? diff * diff : (w[i] * diff) * diff;
            t1[h] = uniform ? q : w[i] * q;
            t2[h] = t1[h] * q;
            t3[h] = wx[i] * q;
        }
        pe[j] = e[0] + e[1];
        if (fit) p1[j] = t1[0] + t1[1], p2[j] = t2[0] + t2[1], p3[j] = t3[0] + t3[1];
    }
    if (fit) *sq = lane_sum16_pairs(p1), *sqq = lane_sum16_pairs(p2), *sqx = lane_sum16_pairs(p3);
    return lane_sum16_pairs(pe);
}

// `search_affine` for LANES blocks, one per lane: each lane gives that search's bits. Its nine
// shrink pairs run as two phases — every pair's first trial with its least-squares fit, then
// every pair's second trial — and the best is chosen afterwards in the one-block search's order
// of trials; a lane that leaves a pair early there is masked off here. Blocks whose range is empty
// (hi > lo false) keep their start, as the one-block callers skip them. The best levels are
// recomputed once from the best (d, m): the winning trial's levels were exactly those.
ALWAYS_INLINE void search_affine_lanes_body(const float *x_blocks, const float *importance, int uniform,
                                            int32_t max_level, const float *lows, const float *highs, float *scales,
                                            float *minima, uint8_t *levels) {
    lane_f x[32], w[32], wx[32], q[32];
    lane_load_blocks(x_blocks, 32, x);
    if (uniform)
        for (int i = 0; i < 32; i++) w[i] = lane_splat(1.0f);
    else lane_load_blocks(importance, 32, w);
    for (int i = 0; i < 32; i++) wx[i] = uniform ? x[i] : w[i] * x[i];
    const lane_f top = lane_splat((float)max_level);
    lane_load_levels(levels, 32, q);
    const lane_f sw = lane_sum32(w), sx = lane_sum32(wx);
    lane_f lo, hi, d, m;
    memcpy(&lo, lows, sizeof lo);
    memcpy(&hi, highs, sizeof hi);
    memcpy(&d, scales, sizeof d);
    memcpy(&m, minima, sizeof m);
    const lane_i searched = hi > lo;
    lane_f best_error = lane_error_affine(x, w, lane_rounded_to_half(d), lane_rounded_to_half(m), q);

    enum { PAIRS = 9 };
    static const float shrink[3] = {0, 0.05f, 0.1f};
    lane_f sd[2][PAIRS], sm[2][PAIRS], error[2][PAIRS];
    lane_i active[2][PAIRS];
    for (int n = 0; n < PAIRS; n++) {
        const lane_f cm = lo + (hi - lo) * shrink[n / 3];
        const lane_f cd = ((hi - (hi - lo) * shrink[n % 3]) - cm) / (float)max_level;
        sd[0][n] = lane_rounded_to_half(cd), sm[0][n] = lane_rounded_to_half(cm);
        lane_i on = searched & (sd[0][n] > 0);
        lane_f sq, sqq, sqx;
        error[0][n] = lane_affine_trial(x, w, wx, uniform, sd[0][n], sm[0][n], top, 1, &sq, &sqq, &sqx);
        active[0][n] = on;
        // Weighted least squares for x ≈ d·q + m: the second trial's start.
        const lane_f det = sw * sqq - sq * sq;
        on &= det > 0;
        const lane_f fd = (sw * sqx - sq * sx) / det;
        const lane_f fm = (sqq * sx - sq * sqx) / det;
        on &= fd > 0;
        sd[1][n] = lane_rounded_to_half(fd), sm[1][n] = lane_rounded_to_half(fm);
        active[1][n] = on & (sd[1][n] > 0);
    }
    for (int n = 0; n < PAIRS; n++)
        error[1][n] = lane_affine_trial(x, w, wx, uniform, sd[1][n], sm[1][n], top, 0, NULL, NULL, NULL);
    lane_i improved = lane_splat(0) != lane_splat(0);
    for (int n = 0; n < PAIRS; n++) {
        for (int pass = 0; pass < 2; pass++) {
            const lane_i better = active[pass][n] & (error[pass][n] < best_error);
            best_error = lane_select(better, error[pass][n], best_error);
            d = lane_select(better, sd[pass][n], d);
            m = lane_select(better, sm[pass][n], m);
            improved |= better;
        }
    }
    memcpy(scales, &d, sizeof d);
    memcpy(minima, &m, sizeof m);
    const lane_f inverse = 1.0f / d;
    for (int i = 0; i < 32; i++) q[i] = lane_select(improved, lane_affine_level(x[i], m, inverse, top), q[i]);
    lane_store_levels(q, 32, levels);
}

ALWAYS_INLINE void search_affine_lanes(const float *x_blocks, const float *importance, int32_t max_level,
                                       const float *lows, const float *highs, float *scales, float *minima,
                                       uint8_t *levels) {
    if (importance) search_affine_lanes_body(x_blocks, importance, 0, max_level, lows, highs, scales, minima, levels);
    else search_affine_lanes_body(x_blocks, NULL, 1, max_level, lows, highs, scales, minima, levels);
}

ALWAYS_INLINE void search_affine_blocks(const float *x, const float *importance, int64_t count, int32_t max_level,
                                        const float *lows, const float *highs, float *scales, float *minima,
                                        uint8_t *levels) {
    int64_t done = 0;
    for (; done + LANES <= count; done += LANES)
        search_affine_lanes(x + done * 32, importance ? importance + done * 32 : NULL, max_level, lows + done,
                            highs + done, scales + done, minima + done, levels + done * 32);
    if (done == count) return;
    float px[LANES * 32] = {0}, pw[LANES * 32] = {0}, plo[LANES] = {0}, phi[LANES] = {0}, ps[LANES] = {0},
          pm[LANES] = {0};
    uint8_t pl[LANES * 32] = {0};
    const int64_t rest = count - done;
    for (int64_t k = 0; k < rest * 32; k++) {
        px[k] = x[done * 32 + k];
        pw[k] = importance ? importance[done * 32 + k] : 1.0f;
        pl[k] = levels[done * 32 + k];
    }
    for (int64_t k = 0; k < rest; k++)
        plo[k] = lows[done + k], phi[k] = highs[done + k], ps[k] = scales[done + k], pm[k] = minima[done + k];
    search_affine_lanes(px, importance ? pw : NULL, max_level, plo, phi, ps, pm, pl);
    for (int64_t k = 0; k < rest * 32; k++) levels[done * 32 + k] = pl[k];
    for (int64_t k = 0; k < rest; k++) scales[done + k] = ps[k], minima[done + k] = pm[k];
}

// The round-to-nearest starts of q4_1 (max_level 15) and q5_1 (31), as their Swift block
// quantisers make them, for LANES blocks: lo and hi by Swift's min and max from x[0] up (a NaN
// is passed over, unless it is x[0]), d = (hi − lo)/max_level, and the levels trunc((x − lo)/d + ½)
// — for q4_1 clipped to 0…15 with NaN at 15 (Swift's max(0, min(15, ·))), for q5_1 as ggml's
// int cast (QuantMath.truncatedSmallInt: NaN 0, clipped to −128…255, the low byte kept).
ALWAYS_INLINE void affine_start_lanes(const float *xb, int32_t max_level, float *lows, float *highs, float *scales,
                                      uint8_t *levels) {
    lane_f x[32], q[32];
    lane_load_blocks(xb, 32, x);
    lane_f lo = x[0], hi = x[0];
    for (int i = 1; i < 32; i++) {
        lo = lane_select(x[i] < lo, x[i], lo);
        hi = lane_select(x[i] >= hi, x[i], hi);
    }
    const lane_f d = (hi - lo) / (float)max_level, id = lane_select(d == 0, lane_splat(0), 1.0f / d);
    for (int i = 0; i < 32; i++) {
        const lane_f v = (x[i] - lo) * id + 0.5f;
        if (max_level == 15) {
            const lane_f t = __builtin_elementwise_trunc(v);
            const lane_f clipped = lane_select(t < 15, t, lane_splat(15));
            q[i] = lane_select(clipped >= 0, clipped, lane_splat(0));
        } else {
            lane_f c = lane_select(v < 255, v, lane_splat(255));
            c = lane_select(c >= -128, c, lane_splat(-128));
            const lane_i byte = __builtin_convertvector(__builtin_elementwise_trunc(c), lane_i) & 0xFF;
            q[i] = lane_select(v == v, __builtin_convertvector(byte, lane_f), lane_splat(0));
        }
    }
    memcpy(lows, &lo, sizeof lo);
    memcpy(highs, &hi, sizeof hi);
    memcpy(scales, &d, sizeof d);
    lane_store_levels(q, 32, levels);
}

ALWAYS_INLINE void affine_start_blocks(const float *x, int64_t count, int32_t max_level, float *lows, float *highs,
                                       float *scales, uint8_t *levels) {
    int64_t done = 0;
    for (; done + LANES <= count; done += LANES)
        affine_start_lanes(x + done * 32, max_level, lows + done, highs + done, scales + done, levels + done * 32);
    if (done == count) return;
    float px[LANES * 32] = {0}, plo[LANES], phi[LANES], ps[LANES];
    uint8_t pl[LANES * 32];
    for (int64_t k = 0; k < (count - done) * 32; k++) px[k] = x[done * 32 + k];
    affine_start_lanes(px, max_level, plo, phi, ps, pl);
    for (int64_t k = 0; k < count - done; k++) lows[done + k] = plo[k], highs[done + k] = phi[k], scales[done + k] = ps[k];
    for (int64_t k = 0; k < (count - done) * 32; k++) levels[done * 32 + k] = pl[k];
}

// q4_0's and q5_0's round-to-nearest starts (ggml quantize_row_q4_0_ref / q5_0_ref, as
// Q4_0Quantizer.start and Q5_0Quantizer.start in Swift) for LANES blocks: the signed value of
// largest magnitude (the first on ties), d = it / −offset (8 or 16, a constant after inlining),
// and the levels trunc(x/d + offset + ½) clipped to 2·offset − 1. The two Swift starts differ off
// the finite range, and the lanes follow each: q4_0 clips below at 0 and gives NaN 15 (Swift's
// min(15, NaN)); q5_0 gives NaN 0 and wraps a negative level to a byte (truncatingSmallInt, then
// UInt8(truncatingIfNeeded:)).
ALWAYS_INLINE void symmetric_start_lanes(const float *xb, int32_t offset, float *maxima, float *scales, uint8_t *levels) {
    lane_f x[32], q[32];
    lane_load_blocks(xb, 32, x);
    lane_f maximum = lane_splat(0);
    for (int i = 0; i < 32; i++)
        maximum = lane_select(__builtin_elementwise_abs(x[i]) > __builtin_elementwise_abs(maximum), x[i], maximum);
    const lane_f d = maximum / (float)-offset, id = lane_select(d == 0, lane_splat(0), 1.0f / d);
    const float top = (float)(2 * offset - 1);
    for (int i = 0; i < 32; i++) {
        const lane_f v = x[i] * id + ((float)offset + 0.5f);
        if (offset == 8) {
            q[i] = lane_select(v < 16, lane_select(v > 0, __builtin_elementwise_trunc(v), lane_splat(0)), lane_splat(top));
        } else {
            const lane_f clamped = lane_select(v > 255, lane_splat(255), lane_select(v < -128, lane_splat(-128), v));
            const lane_i level = __builtin_elementwise_min(__builtin_convertvector(__builtin_elementwise_trunc(clamped), lane_i),
                                                           (lane_i){} + (int32_t)top);
            q[i] = __builtin_convertvector((level & 0xFF) & (v == v), lane_f);
        }
    }
    memcpy(maxima, &maximum, sizeof maximum);
    memcpy(scales, &d, sizeof d);
    lane_store_levels(q, 32, levels);
}

ALWAYS_INLINE void symmetric_start_blocks(const float *x, int64_t count, int32_t offset, float *maxima, float *scales,
                                          uint8_t *levels) {
    int64_t done = 0;
    for (; done + LANES <= count; done += LANES)
        symmetric_start_lanes(x + done * 32, offset, maxima + done, scales + done, levels + done * 32);
    if (done == count) return;
    float px[LANES * 32] = {0}, pm[LANES], ps[LANES];
    uint8_t pl[LANES * 32];
    for (int64_t k = 0; k < (count - done) * 32; k++) px[k] = x[done * 32 + k];
    symmetric_start_lanes(px, offset, pm, ps, pl);
    for (int64_t k = 0; k < count - done; k++) maxima[done + k] = pm[k], scales[done + k] = ps[k];
    for (int64_t k = 0; k < (count - done) * 32; k++) levels[done * 32 + k] = pl[k];
}

// Offsets as constants, so each start's level rule is compiled on its own.
ALWAYS_INLINE void symmetric_start_any(const float *x, int64_t count, int32_t offset, float *maxima, float *scales,
                                       uint8_t *levels) {
    if (offset == 8) symmetric_start_blocks(x, count, 8, maxima, scales, levels);
    else symmetric_start_blocks(x, count, 16, maxima, scales, levels);
}

// Any number of blocks: whole groups of `LANES` in place, the rest padded with zero blocks.
ALWAYS_INLINE void search_symmetric_blocks(const float *x, const float *importance, int64_t count,
                                           int32_t offset, const float *maxima, float *scales, uint8_t *levels) {
    int64_t done = 0;
    for (; done + LANES <= count; done += LANES)
        search_symmetric_lanes(x + done * 32, importance ? importance + done * 32 : NULL, offset, maxima + done,
                               scales + done, levels + done * 32);
    if (done == count) return;
    float px[LANES * 32] = {0}, pw[LANES * 32] = {0}, pm[LANES] = {0}, ps[LANES] = {0};
    uint8_t pl[LANES * 32] = {0};
    const int64_t rest = count - done;
    for (int64_t k = 0; k < rest * 32; k++) {
        px[k] = x[done * 32 + k];
        pw[k] = importance ? importance[done * 32 + k] : 1.0f;
        pl[k] = levels[done * 32 + k];
    }
    for (int64_t k = 0; k < rest; k++) pm[k] = maxima[done + k], ps[k] = scales[done + k];
    search_symmetric_lanes(px, importance ? pw : NULL, offset, pm, ps, pl);
    for (int64_t k = 0; k < rest * 32; k++) levels[done * 32 + k] = pl[k];
    for (int64_t k = 0; k < rest; k++) scales[done + k] = ps[k];
}

// ---- one compilation per tier -----------------------------------------------------------

static float symmetric_generic(const float *x, const float *importance, int32_t offset, float maximum, float scale,
                               uint8_t *levels) {
    return search_symmetric(x, importance, offset, maximum, scale, levels);
}
static void symmetric_blocks_generic(const float *x, const float *importance, int64_t count, int32_t offset,
                                     const float *maxima, float *scales, uint8_t *levels) {
    search_symmetric_blocks(x, importance, count, offset, maxima, scales, levels);
}
static void symmetric_start_generic(const float *x, int64_t count, int32_t offset, float *maxima, float *scales,
                                    uint8_t *levels) {
    symmetric_start_any(x, count, offset, maxima, scales, levels);
}
static void affine_start_generic(const float *x, int64_t count, int32_t max_level, float *lows, float *highs,
                                 float *scales, uint8_t *levels) {
    affine_start_blocks(x, count, max_level, lows, highs, scales, levels);
}
static void affine_blocks_generic(const float *x, const float *importance, int64_t count, int32_t max_level,
                                  const float *lows, const float *highs, float *scales, float *minima,
                                  uint8_t *levels) {
    search_affine_blocks(x, importance, count, max_level, lows, highs, scales, minima, levels);
}
static void affine_generic(const float *x, const float *importance, int32_t max_level, float lo, float hi,
                           float *scale, float *minimum, uint8_t *levels) {
    search_affine(x, importance, max_level, lo, hi, scale, minimum, levels);
}

#if defined(__x86_64__)

AVX2_TARGET static float symmetric_avx2(const float *x, const float *importance, int32_t offset, float maximum,
                                        float scale, uint8_t *levels) {
    return search_symmetric(x, importance, offset, maximum, scale, levels);
}
AVX2_TARGET static void symmetric_blocks_avx2(const float *x, const float *importance, int64_t count, int32_t offset,
                                              const float *maxima, float *scales, uint8_t *levels) {
    search_symmetric_blocks(x, importance, count, offset, maxima, scales, levels);
}
AVX2_TARGET static void symmetric_start_avx2(const float *x, int64_t count, int32_t offset, float *maxima, float *scales,
                                             uint8_t *levels) {
    symmetric_start_any(x, count, offset, maxima, scales, levels);
}
AVX2_TARGET static void affine_start_avx2(const float *x, int64_t count, int32_t max_level, float *lows, float *highs,
                                          float *scales, uint8_t *levels) {
    affine_start_blocks(x, count, max_level, lows, highs, scales, levels);
}
AVX2_TARGET static void affine_blocks_avx2(const float *x, const float *importance, int64_t count, int32_t max_level,
                                           const float *lows, const float *highs, float *scales, float *minima,
                                           uint8_t *levels) {
    search_affine_blocks(x, importance, count, max_level, lows, highs, scales, minima, levels);
}
AVX2_TARGET static void affine_avx2(const float *x, const float *importance, int32_t max_level, float lo, float hi,
                                    float *scale, float *minimum, uint8_t *levels) {
    search_affine(x, importance, max_level, lo, hi, scale, minimum, levels);
}
AVX512_TARGET static float symmetric_avx512(const float *x, const float *importance, int32_t offset, float maximum,
                                            float scale, uint8_t *levels) {
    return search_symmetric(x, importance, offset, maximum, scale, levels);
}
AVX512_TARGET static void symmetric_blocks_avx512(const float *x, const float *importance, int64_t count,
                                                  int32_t offset, const float *maxima, float *scales, uint8_t *levels) {
    search_symmetric_blocks(x, importance, count, offset, maxima, scales, levels);
}
AVX512_TARGET static void symmetric_start_avx512(const float *x, int64_t count, int32_t offset, float *maxima, float *scales,
                                                 uint8_t *levels) {
    symmetric_start_any(x, count, offset, maxima, scales, levels);
}
AVX512_TARGET static void affine_start_avx512(const float *x, int64_t count, int32_t max_level, float *lows,
                                              float *highs, float *scales, uint8_t *levels) {
    affine_start_blocks(x, count, max_level, lows, highs, scales, levels);
}
AVX512_TARGET static void affine_blocks_avx512(const float *x, const float *importance, int64_t count,
                                               int32_t max_level, const float *lows, const float *highs, float *scales,
                                               float *minima, uint8_t *levels) {
    search_affine_blocks(x, importance, count, max_level, lows, highs, scales, minima, levels);
}
AVX512_TARGET static void affine_avx512(const float *x, const float *importance, int32_t max_level, float lo,
                                        float hi, float *scale, float *minimum, uint8_t *levels) {
    search_affine(x, importance, max_level, lo, hi, scale, minimum, levels);
}
#endif

float kiln_quant_search_symmetric32(int32_t tier, const float *x, const float *importance, int32_t offset,
                                    float maximum, float scale, uint8_t *levels) {
    switch (variant_for(tier)) {
#if defined(__x86_64__)
    case SEARCH_AVX512: return symmetric_avx512(x, importance, offset, maximum, scale, levels);
    case SEARCH_AVX2: return symmetric_avx2(x, importance, offset, maximum, scale, levels);
#endif
    default: return symmetric_generic(x, importance, offset, maximum, scale, levels);
    }
}

void kiln_quant_search_affine32(int32_t tier, const float *x, const float *importance, int32_t max_level, float lo,
                                float hi, float *scale, float *minimum, uint8_t *levels) {
    switch (variant_for(tier)) {
#if defined(__x86_64__)
    case SEARCH_AVX512: affine_avx512(x, importance, max_level, lo, hi, scale, minimum, levels); return;
    case SEARCH_AVX2: affine_avx2(x, importance, max_level, lo, hi, scale, minimum, levels); return;
#endif
    default: affine_generic(x, importance, max_level, lo, hi, scale, minimum, levels);
    }
}

void kiln_quant_search_symmetric32_blocks(int32_t tier, const float *x, const float *importance, int64_t count,
                                          int32_t offset, const float *maxima, float *scales, uint8_t *levels) {
    switch (variant_for(tier)) {
#if defined(__x86_64__)
    case SEARCH_AVX512: symmetric_blocks_avx512(x, importance, count, offset, maxima, scales, levels); return;
    case SEARCH_AVX2: symmetric_blocks_avx2(x, importance, count, offset, maxima, scales, levels); return;
#endif
    default: symmetric_blocks_generic(x, importance, count, offset, maxima, scales, levels);
    }
}

int kiln_quant_symmetric_start_blocks(int32_t tier, const float *x, int64_t count, int32_t offset, float *maxima, float *scales,
                                      uint8_t *levels) {
    if (offset != 8 && offset != 16) return -1;
    switch (variant_for(tier)) {
#if defined(__x86_64__)
    case SEARCH_AVX512: symmetric_start_avx512(x, count, offset, maxima, scales, levels); return 0;
    case SEARCH_AVX2: symmetric_start_avx2(x, count, offset, maxima, scales, levels); return 0;
#endif
    default: symmetric_start_generic(x, count, offset, maxima, scales, levels); return 0;
    }
}

void kiln_quant_search_affine32_blocks(int32_t tier, const float *x, const float *importance, int64_t count,
                                       int32_t max_level, const float *lows, const float *highs, float *scales,
                                       float *minima, uint8_t *levels) {
    switch (variant_for(tier)) {
#if defined(__x86_64__)
    case SEARCH_AVX512: affine_blocks_avx512(x, importance, count, max_level, lows, highs, scales, minima, levels); return;
    case SEARCH_AVX2: affine_blocks_avx2(x, importance, count, max_level, lows, highs, scales, minima, levels); return;
#endif
    default: affine_blocks_generic(x, importance, count, max_level, lows, highs, scales, minima, levels);
    }
}

int kiln_quant_affine_start_blocks(int32_t tier, const float *x, int64_t count, int32_t max_level, float *lows,
                                   float *highs, float *scales, uint8_t *levels) {
    if (max_level != 15 && max_level != 31) return -1;
    switch (variant_for(tier)) {
#if defined(__x86_64__)
    case SEARCH_AVX512: affine_start_avx512(x, count, max_level, lows, highs, scales, levels); return 0;
    case SEARCH_AVX2: affine_start_avx2(x, count, max_level, lows, highs, scales, levels); return 0;
#endif
    default: affine_start_generic(x, count, max_level, lows, highs, scales, levels); return 0;
    }
}
