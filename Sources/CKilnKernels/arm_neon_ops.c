// The NEON tier's other hot loops: norms, softmax, RoPE, activations, attention over a KV cache,
// 16-bit float conversion, and the streaming-read probe. Plain Advanced SIMD (every arm64 CPU).
#if defined(__aarch64__)
#include "kiln_internal.h"
#include <arm_neon.h>
#include <math.h>

// e^x per lane: the same Cephes polynomial and clamping as the AVX2 tier (see x86_avx2_ops.c).
static inline float32x4_t exp4(float32x4_t x) {
    x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-87.336f)), vdupq_n_f32(88.376f));
    const float32x4_t n = vrndnq_f32(vmulq_n_f32(x, 1.44269504088896341f));
    float32x4_t r = vfmsq_n_f32(x, n, 0.693359375f);
    r = vfmsq_n_f32(r, n, -2.12194440e-4f);
    float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
    p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
    p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
    p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), p, vmulq_f32(r, r));
    const int32x4_t scale = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    return vmulq_f32(p, vreinterpretq_f32_s32(scale));
}

static inline float32x4_t silu4(float32x4_t x) { return vdivq_f32(x, vaddq_f32(vdupq_n_f32(1.0f), exp4(vnegq_f32(x)))); }

static inline float32x4_t gelu4(float32x4_t x) {
    const float32x4_t x3 = vmulq_f32(vmulq_f32(x, x), x);
    const float32x4_t u = vmulq_n_f32(vfmaq_n_f32(x, x3, 0.044715f), 0.7978845608028654f);
    return vdivq_f32(x, vaddq_f32(vdupq_n_f32(1.0f), exp4(vmulq_n_f32(u, -2.0f))));
}

static inline float32x4_t load_partial(const float *p, int64_t n) {
    float t[4] = {0};
    memcpy(t, p, (size_t)n * 4);
    return vld1q_f32(t);
}

static inline void store_partial(float *p, float32x4_t v, int64_t n) {
    float t[4];
    vst1q_f32(t, v);
    memcpy(p, t, (size_t)n * 4);
}

void kiln_rms_norm_neon(const float *x, const float *weight, int64_t n, float eps, float *out) {
    float32x4_t a = vdupq_n_f32(0), b = a;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const float32x4_t u = vld1q_f32(x + i), v = vld1q_f32(x + i + 4);
        a = vfmaq_f32(a, u, u);
        b = vfmaq_f32(b, v, v);
    }
    for (; i < n; i += 4) {
        const float32x4_t u = load_partial(x + i, n - i < 4 ? n - i : 4);
        a = vfmaq_f32(a, u, u);
    }
    const float scale = 1.0f / sqrtf(vaddvq_f32(vaddq_f32(a, b)) / (float)n + eps);
    for (i = 0; i + 4 <= n; i += 4) vst1q_f32(out + i, vmulq_f32(vmulq_n_f32(vld1q_f32(x + i), scale), vld1q_f32(weight + i)));
    for (; i < n; i++) out[i] = x[i] * scale * weight[i];
}

void kiln_layer_norm_neon(const float *x, const float *weight, const float *bias, int64_t n, float eps, float *out) {
    float32x4_t s = vdupq_n_f32(0);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) s = vaddq_f32(s, vld1q_f32(x + i));
    float sum = vaddvq_f32(s);
    for (; i < n; i++) sum += x[i];
    const float mean = sum / (float)n;
    float32x4_t q = vdupq_n_f32(0);
    for (i = 0; i + 4 <= n; i += 4) {
        const float32x4_t d = vsubq_f32(vld1q_f32(x + i), vdupq_n_f32(mean));
        q = vfmaq_f32(q, d, d);
    }
    float squares = vaddvq_f32(q);
    for (; i < n; i++) squares += (x[i] - mean) * (x[i] - mean);
    const float scale = 1.0f / sqrtf(squares / (float)n + eps);
    for (i = 0; i + 4 <= n; i += 4) {
        float32x4_t v = vmulq_f32(vmulq_n_f32(vsubq_f32(vld1q_f32(x + i), vdupq_n_f32(mean)), scale), vld1q_f32(weight + i));
        if (bias) v = vaddq_f32(v, vld1q_f32(bias + i));
        vst1q_f32(out + i, v);
    }
    for (; i < n; i++) out[i] = (x[i] - mean) * scale * weight[i] + (bias ? bias[i] : 0.0f);
}

void kiln_softmax_neon(float *x, int64_t n) {
    if (n <= 0) return;
    int64_t i = 0;
    float32x4_t m = vdupq_n_f32(x[0]);
    for (; i + 4 <= n; i += 4) m = vmaxq_f32(m, vld1q_f32(x + i));
    float max = vmaxvq_f32(m);
    for (; i < n; i++) max = x[i] > max ? x[i] : max;
    float32x4_t s = vdupq_n_f32(0);
    for (i = 0; i + 4 <= n; i += 4) {
        const float32x4_t e = exp4(vsubq_f32(vld1q_f32(x + i), vdupq_n_f32(max)));
        vst1q_f32(x + i, e);
        s = vaddq_f32(s, e);
    }
    float sum = vaddvq_f32(s);
    if (i < n) {
        store_partial(x + i, exp4(vsubq_f32(load_partial(x + i, n - i), vdupq_n_f32(max))), n - i);
        for (int64_t j = i; j < n; j++) sum += x[j];
    }
    const float inverse = 1.0f / sum;
    for (i = 0; i + 4 <= n; i += 4) vst1q_f32(x + i, vmulq_n_f32(vld1q_f32(x + i), inverse));
    for (; i < n; i++) x[i] *= inverse;
}

void kiln_rope_neon(float *x, int64_t heads, int64_t head_dim, int64_t rotary_dims, const float *cs, int32_t mode) {
    const int64_t pairs = rotary_dims / 2;
    const float *cosines = cs, *sines = cs + pairs;
    for (int64_t h = 0; h < heads; h++) {
        float *v = x + h * head_dim;
        int64_t i = 0;
        for (; i + 4 <= pairs; i += 4) {
            const float32x4_t c = vld1q_f32(cosines + i), s = vld1q_f32(sines + i);
            if (mode == KILN_ROPE_NEOX) {
                const float32x4_t x0 = vld1q_f32(v + i), x1 = vld1q_f32(v + pairs + i);
                vst1q_f32(v + i, vfmsq_f32(vmulq_f32(x0, c), x1, s));
                vst1q_f32(v + pairs + i, vfmaq_f32(vmulq_f32(x0, s), x1, c));
            } else {
                float32x4x2_t p = vld2q_f32(v + 2 * i); // de-interleaves the adjacent pairs
                const float32x4_t x0 = p.val[0], x1 = p.val[1];
                p.val[0] = vfmsq_f32(vmulq_f32(x0, c), x1, s);
                p.val[1] = vfmaq_f32(vmulq_f32(x0, s), x1, c);
                vst2q_f32(v + 2 * i, p);
            }
        }
        for (; i < pairs; i++) {
            const int64_t a = mode == KILN_ROPE_NEOX ? i : 2 * i, b = mode == KILN_ROPE_NEOX ? i + pairs : 2 * i + 1;
            const float x0 = v[a], x1 = v[b];
            v[a] = x0 * cosines[i] - x1 * sines[i];
            v[b] = x0 * sines[i] + x1 * cosines[i];
        }
    }
}

void kiln_gelu_neon(float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(x + i, gelu4(vld1q_f32(x + i)));
    if (i < n) store_partial(x + i, gelu4(load_partial(x + i, n - i)), n - i);
}

void kiln_silu_neon(float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(x + i, silu4(vld1q_f32(x + i)));
    if (i < n) store_partial(x + i, silu4(load_partial(x + i, n - i)), n - i);
}

void kiln_swiglu_neon(float *gate, const float *up, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(gate + i, vmulq_f32(silu4(vld1q_f32(gate + i)), vld1q_f32(up + i)));
    if (i < n) store_partial(gate + i, vmulq_f32(silu4(load_partial(gate + i, n - i)), load_partial(up + i, n - i)), n - i);
}

void kiln_f16_to_f32_neon(const uint16_t *src, float *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(dst + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(src + i))));
    for (; i < n; i++) dst[i] = kiln_half_to_float(src[i]);
}

void kiln_f32_to_f16_neon(const float *src, uint16_t *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1_u16(dst + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(src + i))));
    for (; i < n; i++) dst[i] = kiln_float_to_half(src[i]);
}

void kiln_bf16_to_f32_neon(const uint16_t *src, float *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_u32((uint32_t *)(dst + i), vshll_n_u16(vld1_u16(src + i), 16));
    for (; i < n; i++) dst[i] = kiln_bf16_to_float(src[i]);
}

void kiln_f32_to_bf16_neon(const float *src, uint16_t *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const uint32x4_t x = vld1q_u32((const uint32_t *)(src + i));
        const uint32x4_t odd = vandq_u32(vshrq_n_u32(x, 16), vdupq_n_u32(1));
        const uint32x4_t rounded = vshrq_n_u32(vaddq_u32(x, vaddq_u32(odd, vdupq_n_u32(0x7FFF))), 16);
        const uint32x4_t quiet = vorrq_u32(vshrq_n_u32(x, 16), vdupq_n_u32(0x40));
        const uint32x4_t nan = vcgtq_u32(vandq_u32(x, vdupq_n_u32(0x7FFFFFFF)), vdupq_n_u32(0x7F800000));
        vst1_u16(dst + i, vmovn_u32(vbslq_u32(nan, quiet, rounded)));
    }
    for (; i < n; i++) dst[i] = kiln_float_to_bf16(src[i]);
}

float kiln_stream_sum_neon(const float *p, int64_t n) {
    float32x4_t a[8];
    for (int j = 0; j < 8; j++) a[j] = vdupq_n_f32(0);
    for (int64_t i = 0; i < n; i += 32)
        for (int j = 0; j < 8; j++) a[j] = vaddq_f32(a[j], vld1q_f32(p + i + 4 * j));
    for (int j = 1; j < 8; j++) a[0] = vaddq_f32(a[0], a[j]);
    return vaddvq_f32(a[0]);
}
#endif
