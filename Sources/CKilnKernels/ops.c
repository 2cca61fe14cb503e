// Entry points for the non-matrix kernels: each forwards to the tier's table. RoPE's angles are
// computed here once per call, in double precision (position × scale × base^(−2i/d) loses
// float precision at long positions), and shared by every head.
#include "kiln_internal.h"
#include <math.h>
#include <stdlib.h>

void kiln_rms_norm(const kiln_ops *ops, const float *x, const float *weight, int64_t n, float eps, float *out) {
    ops->rms_norm(x, weight, n, eps, out);
}

void kiln_layer_norm(const kiln_ops *ops, const float *x, const float *weight, const float *bias, int64_t n, float eps,
                     float *out) {
    ops->layer_norm(x, weight, bias, n, eps, out);
}

void kiln_softmax(const kiln_ops *ops, float *x, int64_t n) { ops->softmax(x, n); }

void kiln_rope_angles(int64_t rotary_dims, int64_t position, float base, float freq_scale, float *cs) {
    const int64_t pairs = rotary_dims / 2;
    for (int64_t i = 0; i < pairs; i++) {
        const double theta = (double)position * (double)freq_scale * pow((double)base, -2.0 * (double)i / (double)rotary_dims);
        cs[i] = (float)cos(theta);
        cs[pairs + i] = (float)sin(theta);
    }
}

void kiln_rope_table(const kiln_ops *ops, float *x, int64_t heads, int64_t head_dim, int64_t rotary_dims, const float *cs,
                     int32_t mode) {
    if (rotary_dims >= 2) ops->rope(x, heads, head_dim, rotary_dims, cs, mode);
}

void kiln_rope(const kiln_ops *ops, float *x, int64_t heads, int64_t head_dim, int64_t rotary_dims, int64_t position,
               float base, float freq_scale, int32_t mode) {
    const int64_t pairs = rotary_dims / 2;
    if (pairs <= 0) return;
    float stack[512];
    float *cs = pairs <= 256 ? stack : malloc((size_t)pairs * 2 * sizeof(float));
    if (!cs) abort();
    kiln_rope_angles(rotary_dims, position, base, freq_scale, cs);
    ops->rope(x, heads, head_dim, rotary_dims, cs, mode);
    if (cs != stack) free(cs);
}

void kiln_gelu(const kiln_ops *ops, float *x, int64_t n) { ops->gelu(x, n); }
void kiln_silu(const kiln_ops *ops, float *x, int64_t n) { ops->silu(x, n); }
void kiln_swiglu(const kiln_ops *ops, float *gate, const float *up, int64_t n) { ops->swiglu(gate, up, n); }

void kiln_f16_to_f32(const kiln_ops *ops, const uint16_t *src, float *dst, int64_t n) { ops->f16_to_f32(src, dst, n); }
void kiln_f32_to_f16(const kiln_ops *ops, const float *src, uint16_t *dst, int64_t n) { ops->f32_to_f16(src, dst, n); }
void kiln_bf16_to_f32(const kiln_ops *ops, const uint16_t *src, float *dst, int64_t n) { ops->bf16_to_f32(src, dst, n); }
void kiln_f32_to_bf16(const kiln_ops *ops, const float *src, uint16_t *dst, int64_t n) { ops->f32_to_bf16(src, dst, n); }
