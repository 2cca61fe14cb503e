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

// `rounded_to_half` of quant_search.c for the lanes: the f16 an f16 store gives back.
ALWAYS_INLINE lane_f lanes_to_half_and_back(lane_f v) {
    lane_f r;
    for (int l = 0; l < LANES; l++) r[l] = kiln_half_to_float(kiln_float_to_half(v[l]));
    return r;
}

// Σ w·(x − stored·level(x·id))², summed from element 0 up (QuantMath.error).
ALWAYS_INLINE lane_f error_for(const lane_f *x, const lane_f *w, lane_f d) {
    const lane_f id = lane_select(d == 0, lane_splat(0), 1.0f / d), stored = lanes_to_half_and_back(d);
    lane_f e = lane_splat(0);
    for (int i = 0; i < 32; i++) {
        const lane_f diff = x[i] - stored * level(x[i] * id);
        e = e + (w[i] * diff) * diff;
    }
    return e;
}

ALWAYS_INLINE void q8_0_lanes(const float *xb, const float *wb, int search, uint8_t *out) {
    lane_f x[32], w[32];
    lane_load_blocks(xb, 32, x);
    if (wb) lane_load_blocks(wb, 32, w);
    else
        for (int i = 0; i < 32; i++) w[i] = lane_splat(1.0f);
    lane_f amax = lane_splat(0);
    for (int i = 0; i < 32; i++) amax = swift_max(amax, __builtin_elementwise_abs(x[i]));
    lane_f best_scale = amax / 127.0f;
    if (search) {
        lane_f best_error = error_for(x, w, best_scale);
        // QuantMath.scaleFactors above 0.9: 0.82 + i · 0.025 for i = 4 … 12.
        for (int i = 4; i <= 12; i++) {
            const lane_f candidate = amax / 127.0f * (0.82f + (float)i * 0.025f);
            // Scales whose quantised values would overflow int8 are not candidates.
            const lane_i allowed = candidate * 127.5f >= amax;
            const lane_f e = error_for(x, w, candidate);
            const lane_i better = allowed & (e < best_error);
            best_error = lane_select(better, e, best_error);
            best_scale = lane_select(better, candidate, best_scale);
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
