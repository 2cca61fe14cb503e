// The NEON tier's K-quant kernels (q2_K … q6_K, row-major; docs/FORMAT.md §7.2): the portable
// kernels' body (kquant_rows.h: unpack once per super-block, f32 steps per block) with the integer
// sums formed by SDOT, 16 codes × 16 activations per instruction. Every code is 0…63, so it is
// also a valid signed byte. The sums are exact, so the products are the portable tier's bits.
#if defined(__aarch64__)
#include "kiln_internal.h"
#include <arm_neon.h>

#define KQ_TARGET __attribute__((target("dotprod")))

KQ_TARGET static inline int32_t kq_sum32(const uint8_t *c, const int8_t *x) {
    int32x4_t s = vdotq_s32(vdupq_n_s32(0), vreinterpretq_s8_u8(vld1q_u8(c)), vld1q_s8(x));
    s = vdotq_s32(s, vreinterpretq_s8_u8(vld1q_u8(c + 16)), vld1q_s8(x + 16));
    return vaddvq_s32(s);
}

KQ_TARGET static inline void kq_group_sums(const uint8_t *c, const int8_t *x, int32_t *even, int32_t *odd, int32_t *first) {
    const int8x16_t x0 = vld1q_s8(x), x1 = vld1q_s8(x + 16);
    *even = vaddvq_s32(vdotq_s32(vdupq_n_s32(0), vreinterpretq_s8_u8(vld1q_u8(c)), x0));
    *odd = vaddvq_s32(vdotq_s32(vdupq_n_s32(0), vreinterpretq_s8_u8(vld1q_u8(c + 16)), x1));
    *first = vaddlvq_s8(x0);
}

#include "kquant_rows.h"

KQ_TARGET void kiln_rows_neon_q2_k(const kiln_matmul_args *a, int64_t r0, int64_t r1) { k_rows(a, r0, r1, KILN_WEIGHT_Q2_K); }
KQ_TARGET void kiln_rows_neon_q3_k(const kiln_matmul_args *a, int64_t r0, int64_t r1) { k_rows(a, r0, r1, KILN_WEIGHT_Q3_K); }
KQ_TARGET void kiln_rows_neon_q4_k(const kiln_matmul_args *a, int64_t r0, int64_t r1) { k_rows(a, r0, r1, KILN_WEIGHT_Q4_K); }
KQ_TARGET void kiln_rows_neon_q5_k(const kiln_matmul_args *a, int64_t r0, int64_t r1) { k_rows(a, r0, r1, KILN_WEIGHT_Q5_K); }
KQ_TARGET void kiln_rows_neon_q6_k(const kiln_matmul_args *a, int64_t r0, int64_t r1) { k_rows(a, r0, r1, KILN_WEIGHT_Q6_K); }
#endif
