// The portable tier's other hot loops: norms, softmax, RoPE, activations, attention, 16-bit float
// conversion, and the bandwidth probe. Plain C with libm; the AVX2 and NEON tiers reuse pieces.
#include "kiln_internal.h"
#include <math.h>

void kiln_rms_norm_generic(const float *x, const float *weight, int64_t n, float eps, float *out) {
    float acc[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) acc[l] += x[i + l] * x[i + l];
    for (; i < n; i++) acc[0] += x[i] * x[i];
    const float sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    const float scale = 1.0f / sqrtf(sum / (float)n + eps);
    for (i = 0; i < n; i++) out[i] = x[i] * scale * weight[i];
}

void kiln_layer_norm_generic(const float *x, const float *weight, const float *bias, int64_t n, float eps, float *out) {
    float sum = 0;
    for (int64_t i = 0; i < n; i++) sum += x[i];
    const float mean = sum / (float)n;
    float squares = 0;
    for (int64_t i = 0; i < n; i++) squares += (x[i] - mean) * (x[i] - mean);
    const float scale = 1.0f / sqrtf(squares / (float)n + eps);
    for (int64_t i = 0; i < n; i++) out[i] = (x[i] - mean) * scale * weight[i] + (bias ? bias[i] : 0.0f);
}

void kiln_softmax_generic(float *x, int64_t n) {
    if (n <= 0) return;
    float max = x[0];
    for (int64_t i = 1; i < n; i++) max = x[i] > max ? x[i] : max;
    float sum = 0;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    const float inverse = 1.0f / sum;
    for (int64_t i = 0; i < n; i++) x[i] *= inverse;
}

void kiln_rope_generic(float *x, int64_t heads, int64_t head_dim, int64_t rotary_dims, const float *cs, int32_t mode) {
    const int64_t pairs = rotary_dims / 2;
    for (int64_t h = 0; h < heads; h++) {
        float *v = x + h * head_dim;
        for (int64_t i = 0; i < pairs; i++) {
            const int64_t a = mode == KILN_ROPE_NEOX ? i : 2 * i;
            const int64_t b = mode == KILN_ROPE_NEOX ? i + pairs : 2 * i + 1;
            const float c = cs[i], s = cs[pairs + i];
            const float x0 = v[a], x1 = v[b];
            v[a] = x0 * c - x1 * s;
            v[b] = x0 * s + x1 * c;
        }
    }
}

// GELU, tanh approximation: 0.5·x·(1 + tanh(u)) with u = √(2/π)(x + 0.044715x³), computed as the
// equal x / (1 + e^(−2u)), which does not cancel for large negative x.
void kiln_gelu_generic(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const float v = x[i];
        const float u = 0.7978845608028654f * (v + 0.044715f * v * v * v);
        x[i] = v / (1.0f + expf(-2.0f * u));
    }
}

void kiln_silu_generic(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + expf(-x[i]));
}

void kiln_swiglu_generic(float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

void kiln_f16_to_f32_generic(const uint16_t *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = kiln_half_to_float(src[i]);
}

void kiln_f32_to_f16_generic(const float *src, uint16_t *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = kiln_float_to_half(src[i]);
}

void kiln_bf16_to_f32_generic(const uint16_t *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = kiln_bf16_to_float(src[i]);
}

void kiln_f32_to_bf16_generic(const float *src, uint16_t *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = kiln_float_to_bf16(src[i]);
}

float kiln_stream_sum_generic(const float *p, int64_t n) {
    float acc[16] = {0};
    for (int64_t i = 0; i < n; i += 16)
        for (int l = 0; l < 16; l++) acc[l] += p[i + l];
    float total = 0;
    for (int l = 0; l < 16; l++) total += acc[l];
    return total;
}
