// The portable tier's kernels for ggml's K-quant super-blocks (256 values; docs/FORMAT.md §7.2):
// q2_K, q3_K, q4_K, q5_K and q6_K, row-major as GGUF stores them. Plain C; the shared body (unpack,
// f32 steps, the row driver) is kquant_rows.h.
#include "kiln_internal.h"

#define KQ_TARGET

static inline int32_t kq_sum32(const uint8_t *c, const int8_t *x) {
    int32_t dot = 0;
    for (int l = 0; l < 32; l++) dot += c[l] * x[l];
    return dot;
}

// A block's two groups of 16 (values 0–15 and 16–31): Σ code·x of each, and Σx of the first (the
// second's is the block sum minus it).
static inline void kq_group_sums(const uint8_t *c, const int8_t *xt, int32_t *even, int32_t *odd, int32_t *first) {
    int32_t e = 0, o = 0, f = 0;
    for (int l = 0; l < 16; l++) {
        e += c[l] * xt[l];
        o += c[16 + l] * xt[16 + l];
        f += xt[l];
    }
    *even = e;
    *odd = o;
    *first = f;
}

#include "kquant_rows.h"

void kiln_rows_generic_q2_k(const kiln_matmul_args *a, int64_t r0, int64_t r1) { k_rows(a, r0, r1, KILN_WEIGHT_Q2_K); }
void kiln_rows_generic_q3_k(const kiln_matmul_args *a, int64_t r0, int64_t r1) { k_rows(a, r0, r1, KILN_WEIGHT_Q3_K); }
void kiln_rows_generic_q4_k(const kiln_matmul_args *a, int64_t r0, int64_t r1) { k_rows(a, r0, r1, KILN_WEIGHT_Q4_K); }
void kiln_rows_generic_q5_k(const kiln_matmul_args *a, int64_t r0, int64_t r1) { k_rows(a, r0, r1, KILN_WEIGHT_Q5_K); }
void kiln_rows_generic_q6_k(const kiln_matmul_args *a, int64_t r0, int64_t r1) { k_rows(a, r0, r1, KILN_WEIGHT_Q6_K); }
