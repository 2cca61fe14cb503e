// Holds every SIMD tier of CKilnKernels to the portable C on random inputs, in plain C, so the
// NEON tier can be checked under qemu-user on an x86 machine (the Swift tests need the real
// CPU). Run through check.sh; exits non-zero on any mismatch.
//
// Quantised weights are made row-major here and interleaved by this file's own reading of
// docs/FORMAT.md §7.4, independently of the Swift code.
#include "CKilnKernels.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t state = 1;
static uint32_t next32(void) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(state >> 33);
}
static float uniform(float lo, float hi) { return lo + (hi - lo) * (float)(next32() & 0xFFFFFF) / 16777216.0f; }

static uint16_t to_half(float f) { // values here are below 65504; tiny ones flush to zero, the rest truncate
    uint32_t x;
    memcpy(&x, &f, 4);
    if (((x >> 23) & 0xFF) < 113) return (uint16_t)((x >> 16) & 0x8000);
    return (uint16_t)(((x >> 16) & 0x8000) | ((((x >> 23) & 0xFF) - 112) << 10) | ((x >> 13) & 0x3FF));
}
static float from_half(uint16_t h) {
    uint32_t x = ((uint32_t)(h & 0x8000) << 16) | ((((h >> 10) & 0x1F) + 112) << 23) | ((uint32_t)(h & 0x3FF) << 13);
    if ((h & 0x7FFF) == 0) x = (uint32_t)(h & 0x8000) << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}

static int failures = 0;
static void fail(const char *what, const char *tier, int i, double got, double want) {
    if (failures++ < 20) printf("FAIL %s [%s] at %d: %.9g vs %.9g\n", what, tier, i, got, want);
}

// Block sizes of the row-major base types; interleaved groups are 8 of them.
static int block_bytes(int type) {
    switch (type) {
    case KILN_WEIGHT_Q8_0: case KILN_WEIGHT_Q8_0X8: return 34;
    case KILN_WEIGHT_Q4_0: case KILN_WEIGHT_Q4_0X8: return 18;
    default: return 20;
    }
}

// §7.4: header fields 8 at a time, then 4-byte chunks chunk-major, row-minor; padding rows zero.
static uint8_t *interleave(const uint8_t *src, int rows, int cols, int base_bytes, int header) {
    const int nb = cols / 32, groups = (rows + 7) / 8;
    uint8_t *out = calloc((size_t)groups * 8 * nb * base_bytes, 1);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < nb; c++) {
            const uint8_t *b = src + ((size_t)r * nb + c) * base_bytes;
            uint8_t *g = out + ((size_t)(r / 8) * nb + c) * 8 * base_bytes;
            for (int f = 0; f < header / 2; f++) memcpy(g + 16 * f + 2 * (r % 8), b + 2 * f, 2);
            for (int t = 0; t < (base_bytes - header) / 4; t++) memcpy(g + 8 * header + (t * 8 + r % 8) * 4, b + header + 4 * t, 4);
        }
    return out;
}

static void check_matmul(const kiln_ops *tier, const kiln_ops *portable, const char *name, int type, int rows, int cols, int batch) {
    size_t bytes;
    uint8_t *w;
    float *magnitude_w = malloc(sizeof(float) * rows * cols); // |w| (+2|m| for q4_1) for the tolerance
    if (type <= KILN_WEIGHT_BF16) {
        bytes = (size_t)rows * cols * (type == KILN_WEIGHT_F32 ? 4 : 2);
        w = malloc(bytes);
        for (int i = 0; i < rows * cols; i++) {
            const float v = uniform(-1, 1);
            magnitude_w[i] = fabsf(v);
            if (type == KILN_WEIGHT_F32) memcpy(w + 4 * i, &v, 4);
            else {
                uint32_t x;
                memcpy(&x, &v, 4);
                uint16_t h = type == KILN_WEIGHT_F16 ? to_half(v) : (uint16_t)(x >> 16);
                memcpy(w + 2 * i, &h, 2);
            }
        }
    } else {
        const int bb = block_bytes(type), nb = cols / 32;
        const int q41 = type == KILN_WEIGHT_Q4_1 || type == KILN_WEIGHT_Q4_1X8, q8 = bb == 34;
        uint8_t *rm = malloc((size_t)rows * nb * bb);
        for (int i = 0; i < rows * nb; i++) {
            uint8_t *b = rm + (size_t)i * bb;
            for (int j = 0; j < bb; j++) b[j] = (uint8_t)next32();
            const float d = uniform(0.001f, 0.05f) * (next32() & 1 ? 1 : -1), m = -8 * fabsf(d) * uniform(0.5f, 1.5f);
            const uint16_t dh = to_half(d), mh = to_half(m);
            memcpy(b, &dh, 2);
            if (q41) memcpy(b + 2, &mh, 2);
            for (int j = 0; j < 32; j++) {
                const int q = q8 ? (int8_t)b[2 + j] : (j < 16 ? b[(q41 ? 4 : 2) + j] & 15 : b[(q41 ? 4 : 2) + j - 16] >> 4);
                magnitude_w[i * 32 + j] = fabsf(from_half(dh)) * (float)abs(q8 || q41 ? q : q - 8) + (q41 ? 2 * fabsf(from_half(mh)) : 0);
            }
        }
        if (type >= KILN_WEIGHT_Q8_0X8) {
            w = interleave(rm, rows, cols, bb, q41 ? 4 : 2);
            free(rm);
        } else {
            w = rm;
        }
    }
    float *x = malloc(sizeof(float) * batch * cols), *y = malloc(sizeof(float) * batch * rows), *want = malloc(sizeof(float) * batch * rows);
    for (int i = 0; i < batch * cols; i++) x[i] = uniform(-2, 2) * (i % 97 == 0 ? 20 : 1);
    kiln_matmul(portable, type, w, rows, cols, x, batch, want);
    kiln_matmul(tier, type, w, rows, cols, x, batch, y);
    for (int b = 0; b < batch; b++)
        for (int r = 0; r < rows; r++) {
            double magnitude = 0;
            for (int k = 0; k < cols; k++) magnitude += (double)magnitude_w[r * cols + k] * fabs(x[b * cols + k]);
            const int i = b * rows + r;
            if (!(fabs((double)y[i] - want[i]) <= 2e-5 * magnitude)) fail(name, "matmul", i, y[i], want[i]);
        }
    free(w); free(x); free(y); free(want); free(magnitude_w);
}

// A row-major matrix and its interleaved form give bit-identical products on a tier that promises
// it (x86_avx2.c's row-major kernels compute each row exactly as the interleaved ones do).
static void check_layouts_agree(const kiln_ops *tier, const char *name, int type, int rows, int cols, int batch) {
    const int bb = block_bytes(type), nb = cols / 32, q41 = type == KILN_WEIGHT_Q4_1;
    uint8_t *rm = malloc((size_t)rows * nb * bb);
    for (int i = 0; i < rows * nb; i++) {
        uint8_t *b = rm + (size_t)i * bb;
        for (int j = 0; j < bb; j++) b[j] = (uint8_t)next32();
        const uint16_t dh = to_half(uniform(0.001f, 0.05f)), mh = to_half(-0.2f * uniform(0.5f, 1.5f));
        memcpy(b, &dh, 2);
        if (q41) memcpy(b + 2, &mh, 2);
    }
    uint8_t *grouped = interleave(rm, rows, cols, bb, q41 ? 4 : 2);
    float *x = malloc(sizeof(float) * batch * cols), *a = malloc(sizeof(float) * batch * rows), *b = malloc(sizeof(float) * batch * rows);
    for (int i = 0; i < batch * cols; i++) x[i] = uniform(-2, 2) * (i % 97 == 0 ? 20 : 1);
    kiln_matmul(tier, type, rm, rows, cols, x, batch, a);
    kiln_matmul(tier, type + (KILN_WEIGHT_Q8_0X8 - KILN_WEIGHT_Q8_0), grouped, rows, cols, x, batch, b);
    for (int i = 0; i < batch * rows; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0) fail(name, "row-major vs interleaved", i, a[i], b[i]);
    free(rm); free(grouped); free(x); free(a); free(b);
}

// The interleaved layouts of the second wave (kq4x8, q5_0x8, q5_1x8): random row-major blocks, this
// file's own interleaving, and each value's magnitude decoded here from docs/FORMAT.md §7.1/§7.3;
// the tier's product of the interleaved matrix against the portable product of the row-major one.
static const int8_t kq4_grid[16] = {-127, -102, -82, -64, -48, -34, -20, -6, 6, 20, 34, 48, 64, 82, 102, 127};
static float kq4_scale(uint8_t e) { return ldexpf(exp2f((float)(e % 8) / 8), e / 8 - 28); }

static void check_second_wave(const kiln_ops *tier, const kiln_ops *portable, int row_major, int interleaved, int rows, int cols,
                              int batch) {
    const int kq4 = row_major == KILN_WEIGHT_KQ4, minimum = row_major == KILN_WEIGHT_Q5_1;
    const int bb = kiln_weight_type(row_major)->block_bytes, nb = cols / 32, header = minimum ? 4 : 2;
    uint8_t *rm = malloc((size_t)rows * nb * bb);
    float *magnitude_w = malloc(sizeof(float) * rows * cols);
    for (int i = 0; i < rows * nb; i++) {
        uint8_t *b = rm + (size_t)i * bb;
        for (int j = 0; j < bb; j++) b[j] = (uint8_t)next32();
        if (kq4) {
            b[0] = (uint8_t)(8 * 20 + next32() % 48);
            b[1] = (uint8_t)(8 * 20 + next32() % 48);
            for (int j = 0; j < 32; j++) {
                const int level = j < 16 ? b[2 + j] & 15 : b[2 + j - 16] >> 4;
                magnitude_w[i * 32 + j] = fabsf((float)kq4_grid[level]) * kq4_scale(b[j < 16 ? 0 : 1]);
            }
            continue;
        }
        const uint16_t dh = to_half(uniform(0.001f, 0.05f) * (next32() & 1 ? 1 : -1)), mh = to_half(-0.3f * uniform(0.5f, 1.5f));
        memcpy(b, &dh, 2);
        if (minimum) memcpy(b + 2, &mh, 2);
        uint32_t qh;
        memcpy(&qh, b + header, 4);
        for (int j = 0; j < 32; j++) {
            const uint8_t *qs = b + header + 4;
            const int code = (j < 16 ? qs[j] & 15 : qs[j - 16] >> 4) | (int)((qh >> j) & 1) << 4;
            magnitude_w[i * 32 + j] = fabsf(from_half(dh)) * (float)abs(minimum ? code : code - 16) + (minimum ? fabsf(from_half(mh)) : 0);
        }
    }
    uint8_t *grouped = interleave(rm, rows, cols, bb, header);
    float *x = malloc(sizeof(float) * batch * cols), *y = malloc(sizeof(float) * batch * rows), *want = malloc(sizeof(float) * batch * rows);
    for (int i = 0; i < batch * cols; i++) x[i] = uniform(-2, 2) * (i % 97 == 0 ? 20 : 1);
    kiln_matmul(portable, row_major, rm, rows, cols, x, batch, want);
    kiln_matmul(tier, interleaved, grouped, rows, cols, x, batch, y);
    for (int b = 0; b < batch; b++)
        for (int r = 0; r < rows; r++) {
            double magnitude = 0;
            for (int k = 0; k < cols; k++) magnitude += (double)magnitude_w[r * cols + k] * fabs(x[b * cols + k]);
            const int i = b * rows + r;
            if (!(fabs((double)y[i] - want[i]) <= 2e-5 * magnitude)) fail(kiln_weight_type(interleaved)->name, "matmul", i, y[i], want[i]);
        }
    free(rm); free(grouped); free(x); free(y); free(want); free(magnitude_w);
}

static void close_enough(const char *what, const float *got, const float *want, int n, double rtol, double atol) {
    for (int i = 0; i < n; i++)
        if (!(fabs((double)got[i] - want[i]) <= atol + rtol * fabs(want[i]))) fail(what, "op", i, got[i], want[i]);
}

static void check_ops(const kiln_ops *tier, const kiln_ops *portable) {
    static const int lengths[] = {1, 3, 4, 7, 9, 16, 33, 100, 1001};
    for (size_t li = 0; li < sizeof lengths / sizeof *lengths; li++) {
        const int n = lengths[li];
        float x[1001], w[1001], bias[1001], a[1001], b[1001], up[1001];
        for (int i = 0; i < n; i++) { x[i] = uniform(-8, 8); w[i] = uniform(0.5f, 1.5f); bias[i] = uniform(-1, 1); up[i] = uniform(-2, 2); }
        if (n > 4) { x[0] = -100; x[1] = 100; x[2] = 0; }
        kiln_rms_norm(tier, x, w, n, 1e-5f, a); kiln_rms_norm(portable, x, w, n, 1e-5f, b); close_enough("rms_norm", a, b, n, 1e-5, 1e-6);
        kiln_layer_norm(tier, x, w, bias, n, 1e-5f, a); kiln_layer_norm(portable, x, w, bias, n, 1e-5f, b); close_enough("layer_norm", a, b, n, 1e-5, 1e-6);
        memcpy(a, x, sizeof(float) * n); memcpy(b, x, sizeof(float) * n);
        kiln_softmax(tier, a, n); kiln_softmax(portable, b, n); close_enough("softmax", a, b, n, 1e-5, 1e-30);
        memcpy(a, x, sizeof(float) * n); memcpy(b, x, sizeof(float) * n);
        kiln_gelu(tier, a, n); kiln_gelu(portable, b, n); close_enough("gelu", a, b, n, 1e-5, 1e-6);
        memcpy(a, x, sizeof(float) * n); memcpy(b, x, sizeof(float) * n);
        kiln_silu(tier, a, n); kiln_silu(portable, b, n); close_enough("silu", a, b, n, 1e-5, 1e-6);
        memcpy(a, x, sizeof(float) * n); memcpy(b, x, sizeof(float) * n);
        kiln_swiglu(tier, a, up, n); kiln_swiglu(portable, b, up, n); close_enough("swiglu", a, b, n, 1e-5, 1e-6);
    }
    for (int mode = 0; mode < 2; mode++) {
        static const int shapes[][3] = {{1, 2, 2}, {3, 8, 8}, {2, 64, 64}, {5, 80, 32}, {2, 18, 14}};
        for (int s = 0; s < 5; s++) {
            float a[400], b[400];
            const int heads = shapes[s][0], dim = shapes[s][1], rot = shapes[s][2];
            for (int i = 0; i < heads * dim; i++) a[i] = b[i] = uniform(-2, 2);
            kiln_rope(tier, a, heads, dim, rot, 4097, 10000, 0.5f, mode);
            kiln_rope(portable, b, heads, dim, rot, 4097, 10000, 0.5f, mode);
            close_enough(mode ? "rope neox" : "rope normal", a, b, heads * dim, 0, 4e-6);
        }
    }
    for (int kv = 0; kv < 2; kv++) {
        // Blocked causal attention: one sequence of `rows` query rows after `base` cached
        // positions, two query heads on one KV head, keys in the blocked transposed layout.
        static const int shapes[][3] = {{1, 0, 64}, {1, 37, 64}, {5, 40, 80}, {33, 0, 40}}; // rows, base, head_dim
        for (int s = 0; s < 4; s++) {
            const int rows = shapes[s][0], base = shapes[s][1], dim = shapes[s][2], positions = base + rows;
            const int64_t padded = kiln_kv_padded_slots(positions);
            static float q[4096], keys[4096], values[4096], a[4096], b[4096];
            static uint16_t k16[4096], v16[4096];
            for (int i = 0; i < rows * 2 * dim; i++) q[i] = uniform(-1, 1);
            for (int p = 0; p < positions; p++)
                for (int i = 0; i < dim; i++) {
                    const int64_t at = p / KILN_KV_BLOCK * KILN_KV_BLOCK * dim + (int64_t)i * KILN_KV_BLOCK + p % KILN_KV_BLOCK;
                    keys[at] = uniform(-1, 1);
                    values[p * dim + i] = uniform(-1, 1);
                    k16[at] = to_half(keys[at]);
                    v16[p * dim + i] = to_half(values[p * dim + i]);
                }
            kiln_attention_job job = {.q = q, .out = a, .q_stride = 2 * dim, .keys = kv ? (const void *)k16 : keys,
                                      .values = kv ? (const void *)v16 : values, .head_stride = padded * dim,
                                      .slots = positions, .capacity = padded, .last = positions - 1, .rows = rows,
                                      .base = base, .window = 0};
            kiln_flash_attention(tier, &job, 1, 2, 1, dim, kv ? KILN_KV_F16 : KILN_KV_F32, 0.5f);
            job.out = b;
            kiln_flash_attention(portable, &job, 1, 2, 1, dim, kv ? KILN_KV_F16 : KILN_KV_F32, 0.5f);
            close_enough(kv ? "attention f16" : "attention f32", a, b, rows * 2 * dim, 0, 1e-5);
        }
    }
    uint16_t h[1003], h2[1003], h3[1003];
    float f[1003], g[1003];
    for (int i = 0; i < 1003; i++) {
        h[i] = (uint16_t)next32();
        const uint32_t bits = next32();
        memcpy(&f[i], &bits, 4);
    }
    for (int fmt = 0; fmt < 2; fmt++) {
        float wide1[1003], wide2[1003];
        if (fmt) { kiln_bf16_to_f32(tier, h, wide1, 1003); kiln_bf16_to_f32(portable, h, wide2, 1003); }
        else { kiln_f16_to_f32(tier, h, wide1, 1003); kiln_f16_to_f32(portable, h, wide2, 1003); }
        for (int i = 0; i < 1003; i++) {
            uint32_t p, q;
            memcpy(&p, &wide1[i], 4); memcpy(&q, &wide2[i], 4);
            if ((isnan(wide2[i]) ? (p | 0x400000) != (q | 0x400000) : p != q)) fail(fmt ? "bf16->f32" : "f16->f32", "op", i, p, q);
        }
        if (fmt) { kiln_f32_to_bf16(tier, f, h2, 1003); kiln_f32_to_bf16(portable, f, h3, 1003); }
        else { kiln_f32_to_f16(tier, f, h2, 1003); kiln_f32_to_f16(portable, f, h3, 1003); }
        for (int i = 0; i < 1003; i++) if (h2[i] != h3[i]) fail(fmt ? "f32->bf16" : "f32->f16", "op", i, h2[i], h3[i]);
    }
    (void)g;
}

static void check_quantize(const kiln_ops *tier, const kiln_ops *portable) {
    float x[32 * 20];
    for (int i = 0; i < 32 * 20; i++) x[i] = uniform(-3, 3) * (i % 53 == 0 ? 30 : 1);
    for (int i = 64; i < 96; i++) x[i] = 0;
    int8_t q1[640], q2[640];
    float d1[20], d2[20];
    int32_t s1[20], s2[20];
    kiln_quantize_activations(tier, x, 640, q1, d1, s1);
    kiln_quantize_activations(portable, x, 640, q2, d2, s2);
    if (memcmp(q1, q2, sizeof q1) || memcmp(d1, d2, sizeof d1) || memcmp(s1, s2, sizeof s1)) fail("quantize", "bits", 0, 0, 0);
}

// The K-quants (row-major super-blocks of 256): random codes and scale bytes, small finite f16
// d/dmin. The NEON tier forms the same exact integer sums and runs the portable f32 steps, so it
// must give the same bits; the x86 tiers sum their f32 terms in another order (within 1e-5 of
// the batch's largest output).
static void check_kquant(const kiln_ops *tier, const kiln_ops *portable, int type, int rows, int cols, int batch, int exact) {
    const int bb = kiln_weight_type(type)->block_bytes, sb = cols / 256;
    // Where each type keeps d and dmin (docs/FORMAT.md §7.2); −1: none.
    const int d_at = type == KILN_WEIGHT_Q6_K ? 208 : type == KILN_WEIGHT_Q2_K ? 80 : type == KILN_WEIGHT_Q3_K ? 108 : 0;
    const int dmin_at = type == KILN_WEIGHT_Q2_K ? 82 : (type == KILN_WEIGHT_Q4_K || type == KILN_WEIGHT_Q5_K) ? 2 : -1;
    uint8_t *w = malloc((size_t)rows * sb * bb);
    for (int i = 0; i < rows * sb; i++) {
        uint8_t *b = w + (size_t)i * bb;
        for (int j = 0; j < bb; j++) b[j] = (uint8_t)next32();
        const uint16_t d = to_half(uniform(0.0005f, 0.01f)), dmin = to_half(uniform(0.0005f, 0.01f));
        memcpy(b + d_at, &d, 2);
        if (dmin_at >= 0) memcpy(b + dmin_at, &dmin, 2);
    }
    float *x = malloc(sizeof(float) * batch * cols), *y = malloc(sizeof(float) * batch * rows), *want = malloc(sizeof(float) * batch * rows);
    for (int i = 0; i < batch * cols; i++) x[i] = uniform(-2, 2);
    kiln_matmul(portable, type, w, rows, cols, x, batch, want);
    kiln_matmul(tier, type, w, rows, cols, x, batch, y);
    double largest = 0;
    for (int i = 0; i < batch * rows; i++) largest = fmax(largest, fabs(want[i]));
    for (int i = 0; i < batch * rows; i++)
        if (exact ? memcmp(&y[i], &want[i], 4) != 0 : !(fabs((double)y[i] - want[i]) <= 1e-5 * largest))
            fail(kiln_weight_type(type)->name, "matmul", i, y[i], want[i]);
    free(w); free(x); free(y); free(want);
}

int main(void) {
    const kiln_ops *portable = kiln_ops_for_tier(KILN_TIER_PORTABLE);
    const uint32_t features = kiln_cpu_features();
    printf("cpu features: avx2=%d neon=%d dotprod=%d; pool threads %d\n", !!(features & KILN_CPU_AVX2),
           !!(features & KILN_CPU_NEON), !!(features & KILN_CPU_DOTPROD), kiln_pool_threads());
    static const char *names[] = {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q8_0x8", "q4_0x8", "q4_1x8"};
    static const int shapes[][3] = {{1, 32, 1}, {3, 96, 2}, {13, 160, 3}, {16, 256, 5}, {67, 544, 4}, {9, 32, 9}, {264, 1536, 2}};
    int tiers = 0;
    for (int t = KILN_TIER_AVX2; t <= KILN_TIER_AVX512_VBMI; t++) {
        const kiln_ops *tier = kiln_ops_for_tier(t);
        if (!tier) continue;
        tiers++;
        static const char *tier_names[] = {"", "portable", "avx2", "neon", "avxvnni", "avx512", "avx512vbmi"};
        printf("checking tier %s against portable\n", tier_names[t]);
        static const int second_wave[][2] = {{KILN_WEIGHT_KQ4, KILN_WEIGHT_KQ4X8}, {KILN_WEIGHT_Q5_0, KILN_WEIGHT_Q5_0X8},
                                             {KILN_WEIGHT_Q5_1, KILN_WEIGHT_Q5_1X8}};
        for (int w = 0; w < 3; w++)
            for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
                check_second_wave(tier, portable, second_wave[w][0], second_wave[w][1], shapes[s][0], shapes[s][1], shapes[s][2]);
        check_quantize(tier, portable);
        static const int kshapes[][3] = {{1, 256, 1}, {9, 512, 3}, {16, 256, 5}, {67, 768, 2}, {24, 256, 9}};
        for (int type = KILN_WEIGHT_Q2_K; type <= KILN_WEIGHT_Q6_K; type++)
            for (size_t s = 0; s < sizeof kshapes / sizeof *kshapes; s++)
                check_kquant(tier, portable, type, kshapes[s][0], kshapes[s][1], kshapes[s][2], t == KILN_TIER_NEON);
        // The first wave's types; the block types added later are held to the Swift reference by
        // the Swift tests (MatmulTests), on every tier the machine has.
        for (int type = 0; type <= KILN_WEIGHT_Q4_1X8; type++)
            for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
                const int cols = type <= KILN_WEIGHT_BF16 && s % 2 ? shapes[s][1] + 3 : shapes[s][1]; // odd float rows
                check_matmul(tier, portable, names[type], type, shapes[s][0], cols, shapes[s][2]);
            }
        check_ops(tier, portable);
#if defined(__x86_64__)
        for (int type = KILN_WEIGHT_Q8_0; type <= KILN_WEIGHT_Q4_1; type++)
            for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
                check_layouts_agree(tier, names[type], type, shapes[s][0], shapes[s][1], shapes[s][2]);
#endif
    }
    for (int type = KILN_WEIGHT_Q8_0; type <= KILN_WEIGHT_Q4_1; type++)
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
            check_layouts_agree(portable, names[type], type, shapes[s][0], shapes[s][1], shapes[s][2]);
    printf("%d SIMD tier(s) checked: %s\n", tiers, failures ? "FAILED" : "all match");
    return failures ? 1 : (tiers ? 0 : 2);
}
