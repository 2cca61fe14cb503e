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

// Greedy decoding's pick, every step over the whole vocabulary (49 152 logits for SmolLM2: a
// scalar compare-and-branch loop took ~35 µs, eight of them a twentieth of a batched step). The
// same answer as the plain scan `if (x[i] > x[best]) best = i`: the first index of the largest
// value, NaNs never chosen (unless x[0] is one, which nothing then beats). Blocks of 64 are
// checked for anything above the best so far with 16 independent maxima (elementwise, so the
// compiler vectorises them without reordering a reduction); only such a block is scanned in order.
int64_t kiln_argmax(const float *x, int64_t n) {
    if (n <= 0 || x[0] != x[0]) return 0;
    float best = x[0];
    int64_t at = 0, i = 0;
    for (; i + 64 <= n; i += 64) {
        float lanes[16];
        for (int l = 0; l < 16; l++) lanes[l] = best;
        for (int j = 0; j < 64; j += 16)
            for (int l = 0; l < 16; l++) lanes[l] = x[i + j + l] > lanes[l] ? x[i + j + l] : lanes[l];
        int above = 0;
        for (int l = 0; l < 16; l++) above |= lanes[l] > best;
        if (!above) continue;
        for (int64_t j = i; j < i + 64; j++)
            if (x[j] > best) best = x[j], at = j;
    }
    for (; i < n; i++)
        if (x[i] > best) best = x[i], at = i;
    return at;
}
