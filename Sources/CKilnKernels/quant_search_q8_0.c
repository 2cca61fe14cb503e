// q8_0's scale search (Q8_0Quantizer in Swift), one 32-value block per vector lane, writing the
// blocks. The searched embedding and head of the `q4` presets went through the Swift one at
// 12% of the whole quantisation's time.
//
// A lane runs exactly the Swift block quantiser's operations in its order — the running maximum
// and error sums from element 0 up, Swift's min/max (a NaN compares false), rounding half away
// from zero, no fused multiply-add — so every tier writes its bytes (tested against it).

#include "quant_lanes.h"

// Swift's max(a, b) and min(a, b): b >= a ? b : a, and b < a ? b : a.
ALWAYS_INLINE lane_f swift_max(lane_f a, lane_f b) { return lane_select(b >= a, b, a); }
ALWAYS_INLINE lane_f swift_min(lane_f a, lane_f b) { return lane_select(b < a, b, a); }

// The level of x·id: round half away from zero, clipped to int8 as Swift's max(−128, min(127, q)).
ALWAYS_INLINE lane_f level(lane_f v) {
    return swift_max(lane_splat(-128), swift_min(lane_splat(127), __builtin_elementwise_round(v)));
}

// The candidates' errors, each Σ w·(x − stored·level(x·id))² summed from element 0 up
// (QuantMath.error), `CANDIDATES` at once: each sum is a chain of dependent adds, and
// interleaving independent chains keeps the vector ports busy instead of waiting on one.
// With uniform importance the multiplication by w = 1 is left out (exact, the same bits).
#define CANDIDATES 5
ALWAYS_INLINE void errors_for(const lane_f *x, const lane_f *w, int uniform, const lane_f *d, lane_f *e) {
    lane_f id[CANDIDATES], stored[CANDIDATES];
    for (int k = 0; k < CANDIDATES; k++) {
        id[k] = lane_select(d[k] == 0, lane_splat(0), 1.0f / d[k]);
        stored[k] = lane_rounded_to_half(d[k]);
        e[k] = lane_splat(0);
    }
    for (int i = 0; i < 32; i++) {
        for (int k = 0; k < CANDIDATES; k++) {
            const lane_f diff = x[i] - stored[k] * level(x[i] * id[k]);
            e[k] = e[k] + (uniform ? diff * diff : (w[i] * diff) * diff);
        }
    }
}

ALWAYS_INLINE void q8_0_lanes_body(const float *xb, const float *wb, int uniform, int search, uint8_t *out) {
    lane_f x[32], w[32];
    lane_load_blocks(xb, 32, x);
    if (!uniform) lane_load_blocks(wb, 32, w);
    lane_f amax = lane_splat(0);
    for (int i = 0; i < 32; i++) amax = swift_max(amax, __builtin_elementwise_abs(x[i]));
    lane_f best_scale = amax / 127.0f;
    if (search) {
        // The start, then QuantMath.scaleFactors above 0.9: 0.82 + i · 0.025 for i = 4 … 12.
        lane_f d[2 * CANDIDATES], e[2 * CANDIDATES];
        d[0] = best_scale;
        for (int i = 4; i <= 12; i++) d[i - 3] = amax / 127.0f * (0.82f + (float)i * 0.025f);
        errors_for(x, w, uniform, d, e);
        errors_for(x, w, uniform, d + CANDIDATES, e + CANDIDATES);
        lane_f best_error = e[0];
        for (int k = 1; k < 2 * CANDIDATES; k++) {
            // Scales whose quantised values would overflow int8 are not candidates.
            const lane_i allowed = d[k] * 127.5f >= amax;
            const lane_i better = allowed & (e[k] < best_error);
            best_error = lane_select(better, e[k], best_error);
            best_scale = lane_select(better, d[k], best_scale);
        }
    }
    const lane_f id = lane_select(best_scale == 0, lane_splat(0), 1.0f / best_scale);
    lane_f q[32];
    for (int i = 0; i < 32; i++) q[i] = level(x[i] * id);
    typedef int8_t lane_i8 __attribute__((vector_size(LANES)));
    for (int part = 0; part < 32; part += 16) {
        lane_f r[16];
        for (int i = 0; i < 16; i++) r[i] = q[part + i];
        lane_transpose16(r);
        for (int l = 0; l < LANES; l++) {
            const lane_i8 bytes = __builtin_convertvector(r[l], lane_i8);
            memcpy(out + 34 * l + 2 + part, &bytes, sizeof bytes);
        }
    }
    for (int l = 0; l < LANES; l++) {
        const uint16_t h = kiln_float_to_half(best_scale[l]);
        out[34 * l] = (uint8_t)h;
        out[34 * l + 1] = (uint8_t)(h >> 8);
    }
}

ALWAYS_INLINE void q8_0_lanes(const float *xb, const float *wb, int search, uint8_t *out) {
    if (wb) q8_0_lanes_body(xb, wb, 0, search, out);
    else q8_0_lanes_body(xb, NULL, 1, search, out);
}

ALWAYS_INLINE void q8_0_blocks(const float *x, const float *w, int64_t count, int search, uint8_t *out) {
    int64_t done = 0;
    for (; done + LANES <= count; done += LANES)
        q8_0_lanes(x + done * 32, w ? w + done * 32 : NULL, search, out + done * 34);
    if (done == count) return;
    float px[LANES * 32] = {0}, pw[LANES * 32] = {0};
    uint8_t po[LANES * 34];
    for (int64_t v = 0; v < (count - done) * 32; v++) {
        px[v] = x[done * 32 + v];
        pw[v] = w ? w[done * 32 + v] : 1.0f;
    }
    q8_0_lanes(px, w ? pw : NULL, search, po);
    for (int64_t b = 0; b < (count - done) * 34; b++) out[done * 34 + b] = po[b];
}

static void q8_0_generic(const float *x, const float *w, int64_t count, int search, uint8_t *out) {
    q8_0_blocks(x, w, count, search, out);
}

#if defined(__x86_64__)
AVX2_TARGET static void q8_0_avx2(const float *x, const float *w, int64_t count, int search, uint8_t *out) {
    q8_0_blocks(x, w, count, search, out);
}
AVX512_TARGET static void q8_0_avx512(const float *x, const float *w, int64_t count, int search, uint8_t *out) {
    q8_0_blocks(x, w, count, search, out);
}
#endif

void kiln_quant_q8_0_blocks(int32_t tier, const float *x, const float *importance, int64_t count, int32_t search,
                            uint8_t *out) {
    switch (variant_for(tier)) {
#if defined(__x86_64__)
    case SEARCH_AVX512: q8_0_avx512(x, importance, count, search != 0, out); return;
    case SEARCH_AVX2: q8_0_avx2(x, importance, count, search != 0, out); return;
#endif
    default: q8_0_generic(x, importance, count, search != 0, out);
    }
}
