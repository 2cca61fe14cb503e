// The portable tier's kernels for ggml's K-quant super-blocks (256 values; docs/FORMAT.md §7.2),
// row-major as GGUF stores them: plain C, one row and one 32-value activation block at a time. The
// integer dot of each group (16 or 32 values) is exact; scales are applied in f32 per group.
#include "kiln_internal.h"

static inline float half_at(const uint8_t *p) { return kiln_half_to_float(kiln_load_u16(p)); }

// ggml's get_scale_min_k4: the 6-bit scale and minimum of sub-block j (0…7), from 12 bytes.
static inline void scale_min(const uint8_t *s, int j, int *scale, int *min) {
    if (j < 4) {
        *scale = s[j] & 63;
        *min = s[j + 4] & 63;
    } else {
        *scale = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
        *min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

// q4_K / q5_K: value = d·sc_j·q − dmin·m_j over sub-blocks of 32.
static KILN_ALWAYS_INLINE void k45_rows(const kiln_matmul_args *a, int64_t r0, int64_t r1, int q5) {
    const size_t bytes = q5 ? 176 : 144, quants = q5 ? 48 : 16;
    const int64_t superblocks = a->cols / 256, nb = a->cols / KILN_BLOCK;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)a->w + (size_t)(r * superblocks) * bytes;
        for (int64_t b = 0; b < a->batch; b++) {
            float acc = 0, minimum = 0;
            for (int64_t s = 0; s < superblocks; s++) {
                const uint8_t *block = row + s * bytes;
                const float d = half_at(block), dmin = half_at(block + 2);
                for (int j = 0; j < 8; j++) {
                    const int64_t at = b * nb + s * 8 + j;
                    const int8_t *x = a->xq + at * KILN_BLOCK;
                    const uint8_t *qs = block + quants + 32 * (j / 2);
                    int32_t dot = 0;
                    for (int l = 0; l < 32; l++) {
                        int q = (j & 1) ? qs[l] >> 4 : qs[l] & 15;
                        if (q5) q |= ((block[16 + l] >> j) & 1) << 4;
                        dot += q * x[l];
                    }
                    int scale, min;
                    scale_min(block + 4, j, &scale, &min);
                    acc += (float)dot * (d * (float)scale * a->xd[at]);
                    minimum += dmin * (float)min * (a->xd[at] * (float)a->xsum[at]);
                }
            }
            a->y[b * a->rows + r] = acc - minimum;
        }
    }
}

// q6_K: 6-bit codes − 32 in groups of 16 with signed int8 scales, one f16 d.
void kiln_rows_generic_q6_k(const kiln_matmul_args *a, int64_t r0, int64_t r1) {
    const int64_t superblocks = a->cols / 256, nb = a->cols / KILN_BLOCK;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)a->w + (size_t)(r * superblocks) * 210;
        for (int64_t b = 0; b < a->batch; b++) {
            float acc = 0;
            for (int64_t s = 0; s < superblocks; s++) {
                const uint8_t *block = row + s * 210;
                const float d = half_at(block + 208);
                for (int n = 0; n < 2; n++) {
                    for (int k = 0; k < 4; k++) {
                        const int64_t at = b * nb + s * 8 + 4 * n + k;
                        const int8_t *x = a->xq + at * KILN_BLOCK;
                        const int8_t *scales = (const int8_t *)(block + 192 + 8 * n + 2 * k);
                        int32_t total = 0;
                        for (int half = 0; half < 2; half++) {
                            int32_t dot = 0;
                            for (int l = 16 * half; l < 16 * half + 16; l++) {
                                const int low = (block[64 * n + 32 * (k % 2) + l] >> (4 * (k / 2))) & 15;
                                const int high = (block[128 + 32 * n + l] >> (2 * k)) & 3;
                                dot += ((low | high << 4) - 32) * x[l];
                            }
                            total += scales[half] * dot;
                        }
                        acc += (float)total * (d * a->xd[at]);
                    }
                }
            }
            a->y[b * a->rows + r] = acc;
        }
    }
}

void kiln_rows_generic_q4_k(const kiln_matmul_args *a, int64_t r0, int64_t r1) { k45_rows(a, r0, r1, 0); }
void kiln_rows_generic_q5_k(const kiln_matmul_args *a, int64_t r0, int64_t r1) { k45_rows(a, r0, r1, 1); }
