// The AVX-VNNI tier (x86-64: the AVX2 tier plus `vpdpbusd`, Intel Alder Lake / Sapphire Rapids
// and later, AMD Zen 5): its own kernels for the interleaved layouts, every other entry the AVX2
// tier's. `vpdpbusd` multiplies unsigned by signed bytes and adds each group of four products
// into an int32 lane in one instruction, where AVX2 needs `maddubs` + `madd` + `add`; with 5-bit
// and signed codes it also needs no widening steps, since nothing passes through int16.
//
// The integer dots are exact, as on AVX2, and every f32 step is the AVX2 tile's, so this tier's
// products are bit-identical to the AVX2 tier's (tested), and so to the row-major kernels'.
#if defined(__x86_64__)
#include "x86_avx2_shared.h"
#include <pthread.h>

#define VNNI __attribute__((target("avx2,fma,f16c,avxvnni")))

VNNI static inline __m256i dot4(__m256i acc, __m256i u, __m256i s) { return _mm256_dpbusd_avx_epi32(acc, u, s); }

// Same contract as the AVX2 group_tile (x86_avx2.c).
VNNI static KILN_ALWAYS_INLINE void vnni_group_tile(const uint8_t *group, const uint8_t *next, int64_t nb, const kiln_matmul_args *a,
                                                    const int64_t *xrow, int NX, int32_t type, __m256 *acc) {
    const size_t group_bytes = KILN_GROUP_ROWS * (size_t)kiln_block_bytes(type);
    const int q5 = type == KILN_WEIGHT_Q5_0X8 || type == KILN_WEIGHT_Q5_1X8;
    const int minimum = type == KILN_WEIGHT_Q4_1X8 || type == KILN_WEIGHT_Q5_1X8;
    const int kq4 = type == KILN_WEIGHT_KQ4X8;
    const int header = minimum ? 32 : 16;
    const __m256i low = _mm256_set1_epi8(0x0F);
    const __m256i biased = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)kiln_kq4_grid_biased));
    const int8_t *xq[4];
    const float *xd[4];
    const int32_t *xs[4];
    __m256 macc[4]; // the minimums (_1 types), or kq4's second-half sums
    for (int i = 0; i < NX; i++) {
        xq[i] = a->xq + xrow[i] * a->cols;
        xd[i] = a->xd + xrow[i] * nb;
        xs[i] = a->xsum + xrow[i] * nb;
        acc[i] = macc[i] = _mm256_setzero_ps();
    }
    for (int64_t blk = 0; blk < nb; blk++) {
        const uint8_t *block = group + blk * group_bytes;
        const uint8_t *quants = block + header + (q5 ? 32 : 0);
        if (next)
            for (size_t l = 0; l < group_bytes; l += 64) _mm_prefetch((const char *)next + blk * group_bytes + l, _MM_HINT_T0);
        __m256i dot[4], high_dot[4];
        for (int i = 0; i < NX; i++) dot[i] = high_dot[i] = _mm256_setzero_si256();
        if (type == KILN_WEIGHT_Q8_0X8) {
            // Signed × signed as |q| × (x with q's sign).
            for (int t = 0; t < 8; t++) {
                const __m256i q = _mm256_loadu_si256((const __m256i *)(quants + 32 * t));
                const __m256i magnitude = _mm256_abs_epi8(q);
                for (int i = 0; i < NX; i++)
                    dot[i] = dot4(dot[i], magnitude, _mm256_sign_epi8(broadcast4(xq[i] + blk * KILN_BLOCK + 4 * t), q));
            }
        } else if (kq4) {
            // Levels + 128 are unsigned: Σ(level + 128)·x = Σ level·x + 128·Σx over each half, so
            // the dots start at the driver's −128·Σx (xhalf_bias) and end exact.
            for (int i = 0; i < NX; i++) {
                const int32_t *bias = a->xhalf_bias + xrow[i] * 2 * nb + 2 * blk;
                dot[i] = _mm256_set1_epi32(bias[0]);
                high_dot[i] = _mm256_set1_epi32(bias[1]);
            }
            for (int t = 0; t < 4; t++) {
                const __m256i q = _mm256_loadu_si256((const __m256i *)(quants + 32 * t));
                const __m256i ul = _mm256_shuffle_epi8(biased, _mm256_and_si256(q, low));
                const __m256i uh = _mm256_shuffle_epi8(biased, _mm256_and_si256(_mm256_srli_epi16(q, 4), low));
                for (int i = 0; i < NX; i++) {
                    const int8_t *x = xq[i] + blk * KILN_BLOCK + 4 * t;
                    dot[i] = dot4(dot[i], ul, broadcast4(x));
                    high_dot[i] = dot4(high_dot[i], uh, broadcast4(x + 16));
                }
            }
        } else {
            const __m256i qh = q5 ? _mm256_loadu_si256((const __m256i *)(block + header)) : _mm256_setzero_si256();
            for (int t = 0; t < 4; t++) {
                const __m256i q = _mm256_loadu_si256((const __m256i *)(quants + 32 * t));
                __m256i lo = _mm256_and_si256(q, low), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low);
                if (q5) {
                    __m256i lo5, hi5;
                    group_high_bits(qh, t, &lo5, &hi5);
                    lo = _mm256_or_si256(lo, lo5);
                    hi = _mm256_or_si256(hi, hi5);
                }
                for (int i = 0; i < NX; i++) {
                    const int8_t *x = xq[i] + blk * KILN_BLOCK + 4 * t;
                    dot[i] = dot4(dot4(dot[i], lo, broadcast4(x)), hi, broadcast4(x + 16));
                }
            }
        }
        group_block_sums(block, blk, NX, type, dot, high_dot, xd, xs, acc, macc);
    }
    if (minimum || kq4)
        for (int i = 0; i < NX; i++) acc[i] = _mm256_add_ps(acc[i], macc[i]);
}

VNNI static void rows_q8_0x8(const kiln_matmul_args *a, int64_t r0, int64_t r1) { drive_groups(vnni_group_tile, a, r0, r1, KILN_WEIGHT_Q8_0X8); }
VNNI static void rows_q4_0x8(const kiln_matmul_args *a, int64_t r0, int64_t r1) { drive_groups(vnni_group_tile, a, r0, r1, KILN_WEIGHT_Q4_0X8); }
VNNI static void rows_q4_1x8(const kiln_matmul_args *a, int64_t r0, int64_t r1) { drive_groups(vnni_group_tile, a, r0, r1, KILN_WEIGHT_Q4_1X8); }
VNNI static void rows_kq4x8(const kiln_matmul_args *a, int64_t r0, int64_t r1) { drive_groups(vnni_group_tile, a, r0, r1, KILN_WEIGHT_KQ4X8); }
VNNI static void rows_q5_0x8(const kiln_matmul_args *a, int64_t r0, int64_t r1) { drive_groups(vnni_group_tile, a, r0, r1, KILN_WEIGHT_Q5_0X8); }
VNNI static void rows_q5_1x8(const kiln_matmul_args *a, int64_t r0, int64_t r1) { drive_groups(vnni_group_tile, a, r0, r1, KILN_WEIGHT_Q5_1X8); }

// ---- K-quant prompt batches (x86_kquant_panel.h) ---------------------------------------------------

#define KPANEL_TARGET VNNI
#define KPANEL_DPBUSD _mm256_dpbusd_avx_epi32
#define KPANEL_PREFIX vnni_
#include "x86_kquant_panel.h"

VNNI static void rows_q2_k(const kiln_matmul_args *a, int64_t r0, int64_t r1) {
    if (a->batch < 4) kiln_rows_avx2_q2_k(a, r0, r1);
    else vnni_panel_rows(a, r0, r1, KILN_WEIGHT_Q2_K);
}
VNNI static void rows_q3_k(const kiln_matmul_args *a, int64_t r0, int64_t r1) {
    if (a->batch < 4) kiln_rows_avx2_q3_k(a, r0, r1);
    else vnni_panel_rows(a, r0, r1, KILN_WEIGHT_Q3_K);
}

VNNI static void rows_q4_k(const kiln_matmul_args *a, int64_t r0, int64_t r1) {
    if (a->batch < 4) kiln_rows_avx2_q4_k(a, r0, r1);
    else vnni_panel_rows(a, r0, r1, KILN_WEIGHT_Q4_K);
}
VNNI static void rows_q5_k(const kiln_matmul_args *a, int64_t r0, int64_t r1) {
    if (a->batch < 4) kiln_rows_avx2_q5_k(a, r0, r1);
    else vnni_panel_rows(a, r0, r1, KILN_WEIGHT_Q5_K);
}
VNNI static void rows_q6_k(const kiln_matmul_args *a, int64_t r0, int64_t r1) {
    if (a->batch < 4) kiln_rows_avx2_q6_k(a, r0, r1);
    else vnni_panel_rows(a, r0, r1, KILN_WEIGHT_Q6_K);
}

VNNI static int64_t peak(int32_t kind, int64_t iterations) {
    if (kind != KILN_PEAK_INT8_DOT) return kiln_ops_avx2.peak(kind, iterations);
    __m256i a[12], u = _mm256_set1_epi8(3), s = _mm256_set1_epi8(-2); // more chains than latency × ports
    for (int i = 0; i < 12; i++) a[i] = _mm256_set1_epi32(i);
    for (int64_t k = 0; k < iterations; k++)
        for (int i = 0; i < 12; i++) a[i] = _mm256_dpbusd_avx_epi32(a[i], u, s);
    for (int i = 0; i < 12; i++) KILN_OPAQUE(a[i]);
    return iterations * 12 * 64;
}

// ---- the table: the AVX2 tier's, with the entries above ------------------------------------------

static kiln_ops table;
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void make_table(void) {
    table = kiln_ops_avx2;
    table.name = "avxvnni";
    table.peak = peak;
    table.rows[KILN_WEIGHT_Q8_0X8] = rows_q8_0x8;
    table.rows[KILN_WEIGHT_Q4_0X8] = rows_q4_0x8;
    table.rows[KILN_WEIGHT_Q4_1X8] = rows_q4_1x8;
    table.rows[KILN_WEIGHT_KQ4X8] = rows_kq4x8;
    table.rows[KILN_WEIGHT_Q5_0X8] = rows_q5_0x8;
    table.rows[KILN_WEIGHT_Q5_1X8] = rows_q5_1x8;
    table.rows[KILN_WEIGHT_Q2_K] = rows_q2_k;
    table.rows[KILN_WEIGHT_Q3_K] = rows_q3_k;
    table.rows[KILN_WEIGHT_Q4_K] = rows_q4_k;
    table.rows[KILN_WEIGHT_Q5_K] = rows_q5_k;
    table.rows[KILN_WEIGHT_Q6_K] = rows_q6_k;
}

const kiln_ops *kiln_ops_avx_vnni(void) {
    pthread_once(&table_once, make_table);
    return &table;
}
#endif
