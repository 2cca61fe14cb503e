// Prompt batches of the interleaved quantised layouts on AVX-512 through decoded panels: part of
// x86_avx512_pair.h (included by it, for each of its tiers, with PAIR_TARGET, PAIR(…) and
// PAIR_VBMI as it defines them; uses its decoding helpers). Defines PAIR(panel_rows).
//
// The pair tile decodes a pair's codes again for every 8 activation rows: at batch 64 a q8_0 pair
// block costs 8 inserts and 8 sign flips per 64 `vpdpbusd`, q4_0's 4 inserts and 12 nibble steps,
// on the same two vector ports as the dots and the float epilogue. A prompt batch decodes each
// chunk of PAIR_PANEL_BLOCKS blocks of two groups once into a panel (unsigned codes in the tiles'
// chunk order, scales as floats) that stays in L1 while every activation row of the batch block
// passes over it, two panels (32 rows) at a time so that each activation broadcast feeds two
// `vpdpbusd`. Every (row, activation row) takes the pair tile's f32 steps in the same block order
// — its sums are carried from chunk to chunk through a buffer, never restarted — so the bits are
// the pair tile's, and so the AVX2 tier's and the row-major kernels' (tested).
#ifndef PAIR_PANEL_BLOCKS
#define PAIR_PANEL_BLOCKS 16 // two panels (20 KB) and 8 activation rows' 4 KB of a chunk in L1
#define PAIR_PANEL_BATCH 256 // activation rows per batch block, at most
// Their quantised activations, at most: half the L2. (The pair tile's 512 KiB, 40 rows at 11,008
// columns, held 4096 × 11008 at batch 256 to 54–55% of the int8 ceiling for q8_0 and 55–58% for
// q4_1 here, hot; 1 MiB 61–62% for both, two interleaved runs each.)
#define PAIR_PANEL_BATCH_BYTES (1024 * 1024)
// Below 24 rows the pair tile's decode per 8 activation rows costs about what the panel's stores and
// reloads do (hot, 2 threads, batch 16: q8_0 4096² 46–48% of the int8 ceiling on the pair tile,
// 44–45% on the panels; 576 × 1536 29–34% against 34–41%); from 24 the panels are ahead.
#define PAIR_PANEL_MIN_BATCH 24
typedef struct {
    uint8_t codes[PAIR_PANEL_BLOCKS][8][64]; // [block][chunk c: values 4c … 4c + 3][row · 4 + byte], unsigned
    float scale[PAIR_PANEL_BLOCKS][16];      // [block][row]: d (kq4: the first half's scale ÷ 8)
    float second[PAIR_PANEL_BLOCKS][16];     // [block][row]: the _1 types' m, kq4's second-half scale ÷ 8
} pair_panel;

// One thread's panels and sums, shared by both tiers' copies of this file (a process runs one tier).
static _Thread_local pair_panel pair_panels[2] __attribute__((aligned(64)));
static _Thread_local float pair_panel_sums[PAIR_PANEL_BATCH][2][32] __attribute__((aligned(64)));
#endif

// Blocks blk0 … blk0 + count − 1 of groups ga (rows 0–7) and gb (8–15) into p.
PAIR_TARGET static KILN_ALWAYS_INLINE void PAIR(decode_panel)(const uint8_t *ga, const uint8_t *gb, int64_t blk0, int64_t count,
                                                              int32_t type, pair_panel *p) {
    const size_t group_bytes = KILN_GROUP_ROWS * (size_t)kiln_block_bytes(type);
    const int q5 = type == KILN_WEIGHT_Q5_0X8 || type == KILN_WEIGHT_Q5_1X8;
    const int minimum = pair_has_minimum(type);
    const int header = minimum ? 32 : 16;
    const size_t quants = (size_t)header + (q5 ? 32 : 0);
    const __m512i biased = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)kiln_kq4_grid_biased));
    const __m512 mantissas = _mm512_broadcast_f32x8(_mm256_loadu_ps(kq4_mantissa_eighth));
    for (int64_t k = 0; k < count; k++) {
        const uint8_t *ba = ga + (size_t)(blk0 + k) * group_bytes, *bb = gb + (size_t)(blk0 + k) * group_bytes;
        for (size_t l = 0; l < group_bytes; l += 64) { // the next chunk, as this one is read
            _mm_prefetch((const char *)ba + PAIR_PANEL_BLOCKS * group_bytes + l, _MM_HINT_T0);
            _mm_prefetch((const char *)bb + PAIR_PANEL_BLOCKS * group_bytes + l, _MM_HINT_T0);
        }
        if (type == KILN_WEIGHT_KQ4X8) {
            for (int t = 0; t < 4; t++) {
                const __m512i q = pair256(ba + quants + 32 * t, bb + quants + 32 * t);
                _mm512_store_si512(p->codes[k][t], PAIR(kq4_levels)(q, 0, biased));
                _mm512_store_si512(p->codes[k][t + 4], PAIR(kq4_levels)(q, 1, biased));
            }
            __m512 s_low, s_high;
            PAIR(kq4_scales)(ba, bb, mantissas, &s_low, &s_high);
            _mm512_store_ps(p->scale[k], s_low);
            _mm512_store_ps(p->second[k], s_high);
            continue;
        }
        if (type == KILN_WEIGHT_Q8_0X8) {
            for (int t = 0; t < 8; t++) // q + 128, unsigned (the pass's xor)
                _mm512_store_si512(p->codes[k][t], _mm512_xor_si512(pair256(ba + quants + 32 * t, bb + quants + 32 * t),
                                                                    _mm512_set1_epi8((char)0x80)));
        } else {
            const PAIR(fifth_bits) qh = PAIR(load_fifth)(ba, bb, header, q5);
            for (int t = 0; t < 4; t++) {
                __m512i lo, hi;
                PAIR(nibble_codes)(pair256(ba + quants + 32 * t, bb + quants + 32 * t), qh, t, q5, &lo, &hi);
                _mm512_store_si512(p->codes[k][t], lo);
                _mm512_store_si512(p->codes[k][t + 4], hi);
            }
        }
        _mm512_store_ps(p->scale[k], pair_halves(ba, bb, 0));
        if (minimum) _mm512_store_ps(p->second[k], pair_halves(ba, bb, 16));
    }
}

#define UNROLL _Pragma("clang loop unroll(full)")

// NP panels (16 rows each) against activation rows xrow[0 … NX − 1] over the panels' `count`
// blocks (activation blocks blk0 …), one of the pair tile's chains: `part` 0 its main sums (kq4:
// the first halves'), 1 its second ones (the _1 types' minimums, kq4's second halves). Each
// (activation row i, panel n) sum continues from sums[i][part][16n …] unless `first`, and goes back
// there; rows i ≥ live alias a real one, and their sums are neither read nor written.
PAIR_TARGET static KILN_ALWAYS_INLINE void PAIR(panel_tile)(const pair_panel *p, int NP, int64_t count, int64_t blk0,
                                                          const kiln_matmul_args *a, const int64_t *xrow, int NX, int live,
                                                          int32_t type, int part, int first, float (*sums)[2][32]) {
    const int64_t nb = a->cols / KILN_BLOCK;
    const int kq4 = type == KILN_WEIGHT_KQ4X8;
    const int offset = pair_code_offset(type) != 0;
    const int8_t *xq[8];
    const float *xd[8], *xmin[8];
    const int32_t *bias[8];
    __m512 acc[2][8];
    UNROLL for (int i = 0; i < NX; i++) {
        xq[i] = a->xq + xrow[i] * a->cols + blk0 * KILN_BLOCK;
        xd[i] = a->xd + xrow[i] * nb + blk0;
        xmin[i] = a->xmin ? a->xmin + xrow[i] * nb + blk0 : NULL; // read only in the _1 types' part 1
        // Where the dots start: −offset·Σx of the block (the offset types), −128·Σx of the half (kq4).
        bias[i] = kq4 ? a->xhalf_bias + xrow[i] * 2 * nb + 2 * blk0 + part : offset ? a->xblock_bias + xrow[i] * nb + blk0 : NULL;
        UNROLL for (int n = 0; n < NP; n++) acc[n][i] = first || i >= live ? _mm512_setzero_ps() : _mm512_load_ps(sums[i][part] + 16 * n);
    }
    if (part == 1 && !kq4) { // m · (d_x·Σx), as the pass's second sums
        for (int64_t blk = 0; blk < count; blk++)
            UNROLL for (int n = 0; n < NP; n++) {
                const __m512 m = _mm512_load_ps(p[n].second[blk]);
                UNROLL for (int i = 0; i < NX; i++) acc[n][i] = _mm512_fmadd_ps(m, _mm512_set1_ps(xmin[i][blk]), acc[n][i]);
            }
    } else {
        const int c0 = kq4 ? 4 * part : 0, c1 = kq4 ? c0 + 4 : 8; // the chunks this part sums
        for (int64_t blk = 0; blk < count; blk++) {
            __m512i dot[2][8];
            UNROLL for (int i = 0; i < NX; i++) {
                const __m512i start = bias[i] ? _mm512_set1_epi32(bias[i][kq4 ? 2 * blk : blk]) : _mm512_setzero_si512();
                UNROLL for (int n = 0; n < NP; n++) dot[n][i] = start;
            }
            UNROLL for (int c = c0; c < c1; c++) {
                __m512i w[2];
                UNROLL for (int n = 0; n < NP; n++) w[n] = _mm512_load_si512(p[n].codes[blk][c]);
                UNROLL for (int i = 0; i < NX; i++) {
                    const __m512i x = broadcast4z(xq[i] + blk * KILN_BLOCK + 4 * c);
                    UNROLL for (int n = 0; n < NP; n++) dot[n][i] = _mm512_dpbusd_epi32(dot[n][i], w[n], x);
                }
            }
            UNROLL for (int n = 0; n < NP; n++) {
                const __m512 d = _mm512_load_ps(part ? p[n].second[blk] : p[n].scale[blk]);
                UNROLL for (int i = 0; i < NX; i++)
                    acc[n][i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[n][i]), _mm512_mul_ps(d, _mm512_set1_ps(xd[i][blk])), acc[n][i]);
            }
        }
    }
    UNROLL for (int i = 0; i < NX; i++)
        UNROLL for (int n = 0; n < NP; n++) if (i < live) _mm512_store_ps(sums[i][part] + 16 * n, acc[n][i]);
}

// One chunk's panels against activation rows b0 … b1 − 1, every chain the type has.
PAIR_TARGET static KILN_ALWAYS_INLINE void PAIR(panel_chunk)(const pair_panel *p, int NP, int64_t count, int64_t blk0,
                                                           const kiln_matmul_args *a, int64_t b0, int64_t b1, int32_t type,
                                                           float (*sums)[2][32]) {
    const int parts = pair_has_second_chain(type) ? 2 : 1;
    for (int64_t b = b0; b < b1;) {
        const int64_t left = b1 - b;
        const int NX = left >= 6 ? 8 : left >= 3 ? 4 : (int)left;
        const int live = left < NX ? (int)left : NX;
        int64_t xrow[8];
        for (int i = 0; i < NX; i++) xrow[i] = b + i < b1 ? b + i : b1 - 1;
        float(*s)[2][32] = sums + (b - b0);
        for (int part = 0; part < parts; part++) {
#define PANEL_TILE(np, nx) PAIR(panel_tile)(p, np, count, blk0, a, xrow, nx, live, type, part, blk0 == 0, s)
            if (NP == 2) {
                if (NX == 8) PANEL_TILE(2, 8);
                else if (NX == 4) PANEL_TILE(2, 4);
                else if (NX == 2) PANEL_TILE(2, 2);
                else PANEL_TILE(2, 1);
            } else {
                if (NX == 8) PANEL_TILE(1, 8);
                else if (NX == 4) PANEL_TILE(1, 4);
                else if (NX == 2) PANEL_TILE(1, 2);
                else PANEL_TILE(1, 1);
            }
#undef PANEL_TILE
        }
        b += NX;
    }
}

// Groups of rows r0 … r1 − 1 against a prompt batch: 32 rows (4 groups) at a time, then a last
// 16 or 8. The batch goes in blocks whose quantised activations stay in L2, as in PAIR(rows).
PAIR_TARGET static KILN_ALWAYS_INLINE void PAIR(panel_rows)(const kiln_matmul_args *a, int64_t r0, int64_t r1, int32_t type) {
    pair_panel *panels = pair_panels;
    float(*sums)[2][32] = pair_panel_sums;
    const int64_t nb = a->cols / KILN_BLOCK;
    const size_t group_bytes = KILN_GROUP_ROWS * (size_t)kiln_block_bytes(type);
    const int second = pair_has_second_chain(type);
    const int64_t groups_end = (r1 + KILN_GROUP_ROWS - 1) / KILN_GROUP_ROWS;
    int64_t block_rows = PAIR_PANEL_BATCH_BYTES / a->cols / 8 * 8;
    block_rows = block_rows < 8 ? 8 : block_rows > PAIR_PANEL_BATCH ? PAIR_PANEL_BATCH : block_rows;
    for (int64_t b0 = 0; b0 < a->batch; b0 += block_rows) {
        const int64_t b1 = a->batch - b0 > block_rows ? b0 + block_rows : a->batch;
        for (int64_t g = r0 / KILN_GROUP_ROWS; g < groups_end;) {
            const int64_t unit = groups_end - g >= 4 ? 4 : groups_end - g >= 2 ? 2 : 1; // groups this step
            const int NP = unit == 4 ? 2 : 1;
            const uint8_t *group[4];
            for (int k = 0; k < 4; k++) group[k] = (const uint8_t *)a->w + (size_t)((g + (k < unit ? k : 0)) * nb) * group_bytes;
            for (int64_t k0 = 0; k0 < nb; k0 += PAIR_PANEL_BLOCKS) {
                const int64_t count = nb - k0 < PAIR_PANEL_BLOCKS ? nb - k0 : PAIR_PANEL_BLOCKS;
                PAIR(decode_panel)(group[0], unit > 1 ? group[1] : group[0], k0, count, type, &panels[0]);
                if (NP == 2) {
                    PAIR(decode_panel)(group[2], group[3], k0, count, type, &panels[1]);
                    PAIR(panel_chunk)(panels, 2, count, k0, a, b0, b1, type, sums);
                } else {
                    PAIR(panel_chunk)(panels, 1, count, k0, a, b0, b1, type, sums);
                }
            }
            const int64_t row = g * KILN_GROUP_ROWS;
            for (int64_t b = b0; b < b1; b++)
                for (int n = 0; n < 2 && 16 * n < unit * KILN_GROUP_ROWS; n++) {
                    const int64_t start = row + 16 * n, end = start + (unit == 1 ? 8 : 16);
                    const int valid = (int)((a->rows < end ? a->rows : end) - start);
                    __m512 v = _mm512_load_ps(sums[b - b0][0] + 16 * n);
                    if (second) v = _mm512_add_ps(v, _mm512_load_ps(sums[b - b0][1] + 16 * n));
                    if (type == KILN_WEIGHT_KQ4X8) v = _mm512_mul_ps(v, _mm512_set1_ps(8.0f)); // scales were ÷ 8 (kq4_scales16)
                    store_pair(a->y + b * a->rows + start, v, valid);
                }
            g += unit;
        }
    }
}

#undef UNROLL
