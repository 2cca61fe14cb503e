// The portable tier's attention tile (also the NEON tier's): plain C whose inner loops run over
// the 16 lanes of a key block or over a row of values, so a compiler can vectorise them for
// whatever the target has.
#include "kiln_internal.h"
#include <math.h>

#define FLASH_TARGET
#define FLASH_TILE kiln_flash_tile_generic

static inline void flash_scores(const float *Q, int64_t rows, int64_t d, const float *kt, int64_t blocks, float *S) {
    for (int64_t r = 0; r < rows; r++) {
        const float *q = Q + r * d;
        for (int64_t b = 0; b < blocks; b++) {
            const float *block = kt + b * KILN_KV_BLOCK * d;
            float acc[KILN_KV_BLOCK] = {0};
            for (int64_t i = 0; i < d; i++)
                for (int lane = 0; lane < KILN_KV_BLOCK; lane++) acc[lane] += q[i] * block[i * KILN_KV_BLOCK + lane];
            for (int lane = 0; lane < KILN_KV_BLOCK; lane++) S[r * KILN_FLASH_KEYS + b * KILN_KV_BLOCK + lane] = acc[lane];
        }
    }
}

static inline void flash_softmax(float *S, int64_t rows, float *m, float *l, float *O, int64_t d) {
    for (int64_t r = 0; r < rows; r++) {
        float *row = S + r * KILN_FLASH_KEYS, maximum = -INFINITY;
        for (int c = 0; c < KILN_FLASH_KEYS; c++) maximum = row[c] > maximum ? row[c] : maximum;
        if (maximum == -INFINITY) { // nothing visible to this row in the block
            for (int c = 0; c < KILN_FLASH_KEYS; c++) row[c] = 0;
            continue;
        }
        const float next = m[r] > maximum ? m[r] : maximum, alpha = expf(m[r] - next);
        float sum = 0;
        for (int c = 0; c < KILN_FLASH_KEYS; c++) {
            row[c] = row[c] == -INFINITY ? 0.0f : expf(row[c] - next);
            sum += row[c];
        }
        l[r] = l[r] * alpha + sum;
        m[r] = next;
        if (alpha != 1.0f)
            for (int64_t i = 0; i < d; i++) O[r * d + i] *= alpha;
    }
}

static inline void flash_pv(const float *P, int64_t rows, const float *V, int64_t keys, int64_t d, float *O) {
    for (int64_t r = 0; r < rows; r++) {
        float *o = O + r * d;
        for (int64_t c = 0; c < keys; c++) {
            const float p = P[r * KILN_FLASH_KEYS + c];
            for (int64_t i = 0; i < d; i++) o[i] += p * V[c * d + i];
        }
    }
}

static inline void flash_halves(const uint16_t *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = kiln_half_to_float(src[i]);
}

#include "attention_tile.h"
