// The interleaved quantised layouts (docs/FORMAT.md §7.4) on AVX-512, two groups at a time: one
// zmm holds the same 4-byte chunk of two groups (16 rows), so an activation chunk is a plain
// 4-byte broadcast and every `vpdpbusd` feeds 16 rows. Each row's integer dot is exact and its
// f32 steps are the AVX2 tile's, lane for lane, so results are bit-identical to the AVX2 tier's
// and so to the row-major kernels' (tested).
//
// Included twice by x86_avx512.c: for the avx512 tier (PAIR_VBMI 0) and for avx512vbmi (1), where
// VBMI's `vpermb` looks kq4's levels up without masking the nibbles and `vpmultishiftqb` moves
// each q5 code's fifth bit into place in one instruction per 64 codes. Those shuffle-port steps
// bound the two types' decode; measured with the weights in cache (`kiln-run bench --kernels
// --hot`, one core, 1536 × 576): kq4x8 30 → 36 GB/s, q5_0x8 27.5 → 38.5 GB/s. The same tier
// takes q4's high nibbles with GFNI's vgf2p8affineqb (one instruction for a shift and a mask):
// q4_1x8, same measure, 576 × 1536 to 1536 × 576: batch 8 +2–4%, batch 1 48 → 52–53 GB/s.
// Prompt batches of 24 rows or more read panels decoded once per chunk of blocks instead
// (x86_avx512_pair_panel.h), with the same bits.
// Defines PAIR(rows_q8_0x8) … PAIR(rows_q5_1x8); expects PAIR_TARGET, PAIR_PREFIX, PAIR_VBMI.
#define PAIR_CAT2(a, b) a##b
#define PAIR_CAT(a, b) PAIR_CAT2(a, b)
#define PAIR(name) PAIR_CAT(PAIR_PREFIX, name)

#ifndef PAIR_TYPE_TRAITS
#define PAIR_TYPE_TRAITS
// vgf2p8affineqb's matrix for x >> 4 in every byte: result bit i (i < 4) is bit i + 4 of the byte,
// row i of the matrix being byte 7 − i of this word; bits 4–7 come out 0.
#define PAIR_HIGH_NIBBLE 0x1020408000000000ll
// The offset a type's codes carry in these tiles, where their dots start at args.xblock_bias
// (−offset·Σx): q8_0 + 128 (its sign bit flipped), q4_0 8, q5_0 16; 0 for the others.
static inline int pair_code_offset(int32_t type) {
    return type == KILN_WEIGHT_Q8_0X8 ? 128 : type == KILN_WEIGHT_Q4_0X8 ? 8 : type == KILN_WEIGHT_Q5_0X8 ? 16 : 0;
}
// The _1 types, whose minimums' m·d_x·Σx the tiles read from args.xmin.
static inline int pair_has_minimum(int32_t type) { return type == KILN_WEIGHT_Q4_1X8 || type == KILN_WEIGHT_Q5_1X8; }
// The types whose tiles keep a second f32 chain: the minimums, kq4's second halves.
static inline int pair_has_second_chain(int32_t type) { return pair_has_minimum(type) || type == KILN_WEIGHT_KQ4X8; }
#endif

// Which sums a pass over the blocks forms: the main ones (every type's scaled block dots, for kq4
// the first halves'), the second ones (the _1 types' minimums, kq4's second halves), or both.
#define PAIR_MAIN 1
#define PAIR_SECOND 2

// A q5 pair block's fifth bits, loaded once per block (nothing for q4).
#if PAIR_VBMI
// Both groups' qh (row r's 32 bits at bytes 4r) side by side: qword k holds rows 2k and 2k + 1 of
// its group, the rows whose codes sit in bytes 8k … 8k + 7 of a chunk, so vpmultishiftqb can bring
// each code's fifth bit to bit 4 of its byte. (A byte mask from vpshufbitqmb and a masked move
// measured slower: 30 GB/s.)
typedef __m512i PAIR(fifth_bits);
PAIR_TARGET static KILN_ALWAYS_INLINE PAIR(fifth_bits) PAIR(load_fifth)(const uint8_t *ba, const uint8_t *bb, int header, int q5) {
    return q5 ? pair256(ba + header, bb + header) : _mm512_setzero_si512();
}
#else
typedef struct {
    __m256i a, b;
} PAIR(fifth_bits);
PAIR_TARGET static KILN_ALWAYS_INLINE PAIR(fifth_bits) PAIR(load_fifth)(const uint8_t *ba, const uint8_t *bb, int header, int q5) {
    const PAIR(fifth_bits) qh = {q5 ? _mm256_loadu_si256((const __m256i *)(ba + header)) : _mm256_setzero_si256(),
                                 q5 ? _mm256_loadu_si256((const __m256i *)(bb + header)) : _mm256_setzero_si256()};
    return qh;
}
#endif

// Chunk t (the pair's packed bytes q) of a q4/q5 pair block as unsigned codes: lo holds values
// 4t … 4t + 3 of its 16 rows, hi values 16 + 4t … 16 + 4t + 3.
PAIR_TARGET static KILN_ALWAYS_INLINE void PAIR(nibble_codes)(__m512i q, PAIR(fifth_bits) qh, int t, int q5, __m512i *lo, __m512i *hi) {
    const __m512i low = _mm512_set1_epi8(0x0F);
#if PAIR_VBMI
    if (q5) {
        // code = (nibble & 15) | fifth bit · 16, one vpternlogd per 64 codes.
        const __m512i index = _mm512_add_epi8(_mm512_loadu_si512(q5_bit_index), _mm512_set1_epi8((char)(4 * t)));
        const __m512i sixteen = _mm512_set1_epi8(16);
        const __m512i fifth_lo = _mm512_and_si512(_mm512_multishift_epi64_epi8(index, qh), sixteen);
        const __m512i fifth_hi = _mm512_and_si512(_mm512_multishift_epi64_epi8(_mm512_add_epi8(index, sixteen), qh), sixteen);
        *lo = _mm512_ternarylogic_epi32(q, low, fifth_lo, 0xEA); // (A & B) | C
        *hi = _mm512_ternarylogic_epi32(_mm512_srli_epi16(q, 4), low, fifth_hi, 0xEA);
    } else {
        *lo = _mm512_and_si512(q, low);
        // GFNI's affine step moves each byte's high nibble down with zeros above it: one
        // instruction where a shift and a mask were two, on the ports the dots use.
        *hi = _mm512_gf2p8affine_epi64_epi8(q, _mm512_set1_epi64(PAIR_HIGH_NIBBLE), 0);
    }
#else
    *lo = _mm512_and_si512(q, low);
    *hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), low);
    if (q5) {
        __m512i lo5, hi5;
        pair_high_bits(qh.a, qh.b, t, &lo5, &hi5);
        *lo = _mm512_or_si512(*lo, lo5);
        *hi = _mm512_or_si512(*hi, hi5);
    }
#endif
}

// kq4 levels + 128 (unsigned) of one half of a pair chunk's packed bytes q: the low nibbles
// (values 4t … 4t + 3) or the high ones (16 + 4t …).
PAIR_TARGET static KILN_ALWAYS_INLINE __m512i PAIR(kq4_levels)(__m512i q, int half, __m512i biased) {
#if PAIR_VBMI
    // vpermb reads an index's low 6 bits and `biased` holds the 16 levels four
    // times over, so the nibbles need no mask (the high ones only a shift).
    return _mm512_permutexvar_epi8(half ? _mm512_srli_epi16(q, 4) : q, biased);
#else
    return _mm512_shuffle_epi8(biased, _mm512_and_si512(half ? _mm512_srli_epi16(q, 4) : q, _mm512_set1_epi8(0x0F)));
#endif
}

// A kq4 pair block's 16 rows' two half scales. The compiler drops the half a caller does not use.
PAIR_TARGET static KILN_ALWAYS_INLINE void PAIR(kq4_scales)(const uint8_t *ba, const uint8_t *bb, __m512 mantissas, __m512 *s_low, __m512 *s_high) {
    // kq4's scales, both ÷ 8 (kq4_scales16; PAIR(tile) multiplies the sums back): bytes 2r
    // (values 0–15) and 2r + 1 (16–31) of each row, one word per lane.
    const __m512i e = _mm512_cvtepu16_epi32(_mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)ba)),
                                                                    _mm_loadu_si128((const __m128i *)bb), 1));
#if PAIR_VBMI
    // One vpmultishiftqb per half puts that half's exponent at bits 0–7 (the mantissa index)
    // and 20–27 (the exponent field) of its lane, where the shifts below take one or two:
    // hot 1536 × 576, one core, batch 1: 139 → 143 GOP/s. (Gathering the words with one
    // vpermt2b instead of the insert and widening measured slower: 122.)
    const __m512i e_low = _mm512_multishift_epi64_epi8(_mm512_set1_epi64((long long)KQ4_PLACE_LOW), e);
    const __m512i e_high = _mm512_multishift_epi64_epi8(_mm512_set1_epi64((long long)KQ4_PLACE_HIGH), e);
    const __m512i low_shifted = e_low, high_shifted = e_high;
#else
    const __m512i e_low = e, e_high = _mm512_srli_epi32(e, 8);
    const __m512i low_shifted = _mm512_slli_epi32(e, 20), high_shifted = _mm512_slli_epi32(e, 12);
#endif
    *s_low = kq4_scales16(e_low, low_shifted, mantissas);
    *s_high = kq4_scales16(e_high, high_shifted, mantissas);
}

// One pass over the nb blocks of two groups (rows 0–7 in lanes 0–7 from `ga`, 8–15 from `gb`)
// against NX activation rows: acc[i] gets activation row i's main sums, macc[i] its second ones
// (as `parts` asks). gb may alias ga (its results are then dropped).
PAIR_TARGET static KILN_ALWAYS_INLINE void PAIR(pass)(const uint8_t *ga, const uint8_t *gb, int prefetch, int64_t nb,
                                                const kiln_matmul_args *a, const int64_t *xrow, int NX, int32_t type, int parts,
                                                __m512 *acc, __m512 *macc) {
    const size_t group_bytes = KILN_GROUP_ROWS * (size_t)kiln_block_bytes(type);
    const int q5 = type == KILN_WEIGHT_Q5_0X8 || type == KILN_WEIGHT_Q5_1X8;
    const int minimum = pair_has_minimum(type);
    const int kq4 = type == KILN_WEIGHT_KQ4X8;
    const int main_sums = parts & PAIR_MAIN, second_sums = (parts & PAIR_SECOND) && (minimum || kq4);
    const int header = minimum ? 32 : 16;
    const int offset_start = a->xblock_bias != NULL; // set only for the q8_0/q4_0/q5_0 pairs (matmul.c)
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    const __m512i biased = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)kiln_kq4_grid_biased));
    const __m512 mantissas = _mm512_broadcast_f32x8(_mm256_loadu_ps(kq4_mantissa_eighth));
    const int8_t *xq[8];
    const float *xd[8];
    const int32_t *xs[8];
    for (int i = 0; i < NX; i++) {
        xq[i] = a->xq + xrow[i] * a->cols;
        xd[i] = a->xd + xrow[i] * nb;
        xs[i] = a->xsum + xrow[i] * nb;
        if (main_sums) acc[i] = _mm512_setzero_ps();
        if (second_sums) macc[i] = _mm512_setzero_ps();
    }
    for (int64_t blk = 0; blk < nb; blk++) {
        const uint8_t *ba = ga + blk * group_bytes, *bb = gb + blk * group_bytes;
        const size_t quants = (size_t)header + (q5 ? 32 : 0);
        if (prefetch) // the two groups after these, at the pace these are read (decode, a batch's first tile)
            for (size_t l = 0; l < group_bytes; l += 64) {
                _mm_prefetch((const char *)ba + 2 * (size_t)nb * group_bytes + l, _MM_HINT_T0);
                _mm_prefetch((const char *)bb + 2 * (size_t)nb * group_bytes + l, _MM_HINT_T0);
            }
        __m512i dot[8], high_dot[8];
        if (kq4) {
            // Levels + 128 (unsigned): the dots start at −128·Σx of their half (the driver's half
            // sums), so they end exact with no subtraction.
            for (int i = 0; i < NX; i++) {
                const int32_t *half_bias = a->xhalf_bias + xrow[i] * 2 * nb + 2 * blk;
                if (main_sums) dot[i] = _mm512_set1_epi32(half_bias[0]);
                if (second_sums) high_dot[i] = _mm512_set1_epi32(half_bias[1]);
            }
            for (int t = 0; t < 4; t++) {
                const __m512i q = pair256(ba + quants + 32 * t, bb + quants + 32 * t);
                for (int half = 0; half < 2; half++) {
                    if (!(half ? second_sums : main_sums)) continue;
                    const __m512i u = PAIR(kq4_levels)(q, half, biased);
                    for (int i = 0; i < NX; i++) {
                        const __m512i x = broadcast4z(xq[i] + blk * KILN_BLOCK + 16 * half + 4 * t);
                        if (half) high_dot[i] = _mm512_dpbusd_epi32(high_dot[i], u, x);
                        else dot[i] = _mm512_dpbusd_epi32(dot[i], u, x);
                    }
                }
            }
            __m512 s_low, s_high;
            PAIR(kq4_scales)(ba, bb, mantissas, &s_low, &s_high);
            if (main_sums) {
                for (int i = 0; i < NX; i++)
                    acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[i]), _mm512_mul_ps(s_low, _mm512_set1_ps(xd[i][blk])), acc[i]);
            }
            if (second_sums) {
                for (int i = 0; i < NX; i++)
                    macc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(high_dot[i]), _mm512_mul_ps(s_high, _mm512_set1_ps(xd[i][blk])), macc[i]);
            }
            continue;
        }
        if (main_sums) {
            for (int i = 0; i < NX; i++) dot[i] = high_dot[i] = _mm512_setzero_si512();
            // The codes' offset comes off where the dots start (the driver's −offset·Σx, a
            // broadcast load) rather than after them. One core, hot 1536 × 576, batch 64, same
            // sitting: q8_0 51 → 54%, q4_0 53 → 56%, q5_0 45 → 47% of the int8 ceiling; decode unchanged.
            if (offset_start)
                for (int i = 0; i < NX; i++) dot[i] = _mm512_set1_epi32(a->xblock_bias[xrow[i] * nb + blk]);
            if (type == KILN_WEIGHT_Q8_0X8) {
                // q + 128 is unsigned: Σ(q + 128)·x = Σq·x + 128·Σx, and the 128·Σx comes off below.
                for (int t = 0; t < 8; t++) {
                    const __m512i u = _mm512_xor_si512(pair256(ba + quants + 32 * t, bb + quants + 32 * t), bias);
                    for (int i = 0; i < NX; i++) dot[i] = _mm512_dpbusd_epi32(dot[i], u, broadcast4z(xq[i] + blk * KILN_BLOCK + 4 * t));
                }
            } else {
                const PAIR(fifth_bits) qh = PAIR(load_fifth)(ba, bb, header, q5);
                // Unrolled: q5_0x8 at batch 8 +10% on the avx512 tier, q5 +3–8% and q4 +1–2% on
                // avx512vbmi (hot, one core, 1536 × 576); q8_0's and kq4's loops gained nothing.
#pragma clang loop unroll(full)
                for (int t = 0; t < 4; t++) {
                    __m512i lo, hi;
                    PAIR(nibble_codes)(pair256(ba + quants + 32 * t, bb + quants + 32 * t), qh, t, q5, &lo, &hi);
                    // Low and high nibbles in two chains (added after): 4 dependent vpdpbusd per
                    // block instead of 8. (One chain at NX 8, where the registers are all taken.)
                    for (int i = 0; i < NX; i++) {
                        const int8_t *x = xq[i] + blk * KILN_BLOCK + 4 * t;
                        dot[i] = _mm512_dpbusd_epi32(dot[i], lo, broadcast4z(x));
                        if (NX <= 4) high_dot[i] = _mm512_dpbusd_epi32(high_dot[i], hi, broadcast4z(x + 16));
                        else dot[i] = _mm512_dpbusd_epi32(dot[i], hi, broadcast4z(x + 16));
                    }
                }
                if (NX <= 4)
                    for (int i = 0; i < NX; i++) dot[i] = _mm512_add_epi32(dot[i], high_dot[i]);
            }
            const __m512 d = pair_halves(ba, bb, 0);
            for (int i = 0; i < NX; i++) {
                const int offset = pair_code_offset(type);
                if (offset && !offset_start) dot[i] = _mm512_sub_epi32(dot[i], _mm512_set1_epi32(offset * xs[i][blk]));
                acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[i]), _mm512_mul_ps(d, _mm512_set1_ps(xd[i][blk])), acc[i]);
            }
        }
        if (second_sums) {
            // m · (d_x·Σx): the driver's product when it made one (a broadcast load; forming it here
            // costs a conversion, a multiply and a broadcast per activation row and block — at 8
            // rows a third of the tile's vector operations besides the dots). Same float either way.
            const __m512 m = pair_halves(ba, bb, 16);
            if (a->xmin)
                for (int i = 0; i < NX; i++) macc[i] = _mm512_fmadd_ps(m, _mm512_set1_ps(a->xmin[xrow[i] * nb + blk]), macc[i]);
            else
                for (int i = 0; i < NX; i++) macc[i] = _mm512_fmadd_ps(m, _mm512_set1_ps(xd[i][blk] * (float)xs[i][blk]), macc[i]);
        }
    }
}

// Two groups against NX activation rows; acc[i] gets activation row i's 16 dot products.
//
// The _1 types and kq4 carry a second sum per (row, activation row) — the minimums' m·d_x·Σx, or
// kq4's second-half dots — kept in its own f32 chain and added at the end. With 8 activation rows
// the two chains and the dots would take 24 of the 32 registers before any decoding, so there the
// second chain is a second pass over the same blocks (L1-resident by then: two groups of a
// 1536-wide row are 15 KB): every (row, activation row) still takes the same f32 steps in the same
// order, so the bits are those of the one-pass tile and of the AVX2 tier; and kq4's halves are
// decoded once each either way. The second pass costs no decode for the _1 types (their minimums
// are an FMA per block) and splits kq4's decode in two, so 8 activation rows share one decode of
// every weight instead of two 4-row tiles decoding it twice.
PAIR_TARGET static KILN_ALWAYS_INLINE void PAIR(tile)(const uint8_t *ga, const uint8_t *gb, int prefetch, int64_t nb,
                                                const kiln_matmul_args *a, const int64_t *xrow, int NX, int32_t type, __m512 *acc) {
    const int second = pair_has_second_chain(type);
    __m512 macc[8];
    if (!second) {
        PAIR(pass)(ga, gb, prefetch, nb, a, xrow, NX, type, PAIR_MAIN, acc, macc);
        return;
    }
    if (NX <= 4) {
        PAIR(pass)(ga, gb, prefetch, nb, a, xrow, NX, type, PAIR_MAIN | PAIR_SECOND, acc, macc);
    } else {
        PAIR(pass)(ga, gb, prefetch, nb, a, xrow, NX, type, PAIR_MAIN, acc, macc);
        PAIR(pass)(ga, gb, 0, nb, a, xrow, NX, type, PAIR_SECOND, acc, macc);
    }
    for (int i = 0; i < NX; i++) acc[i] = _mm512_add_ps(acc[i], macc[i]);
    if (type == KILN_WEIGHT_KQ4X8) // its scales were ÷ 8 (kq4_scales16): exact, as is this
        for (int i = 0; i < NX; i++) acc[i] = _mm512_mul_ps(acc[i], _mm512_set1_ps(8.0f));
}

#include "x86_avx512_pair_panel.h" // PAIR(panel_rows): prompt batches through decoded panels

PAIR_TARGET static KILN_ALWAYS_INLINE void PAIR(rows)(const kiln_matmul_args *a, int64_t r0, int64_t r1, int32_t type) {
    // The panel's tile starts the offset types' dots at args.xblock_bias and reads the _1 types'
    // m·d_x·Σx from args.xmin (kq4's start at args.xhalf_bias, always there); a part of a fused
    // product whose offset differs from its job's gets no xblock_bias (matmul.c) and stays here.
    if (a->batch >= PAIR_PANEL_MIN_BATCH &&
        (pair_code_offset(type) ? a->xblock_bias != NULL : pair_has_minimum(type) ? a->xmin != NULL : 1)) {
        PAIR(panel_rows)(a, r0, r1, type);
        return;
    }
    const int64_t nb = a->cols / KILN_BLOCK;
    const size_t group_bytes = KILN_GROUP_ROWS * (size_t)kiln_block_bytes(type);
    const int64_t groups_end = (r1 + KILN_GROUP_ROWS - 1) / KILN_GROUP_ROWS;
    // The batch in blocks whose quantised activations stay in L2 (PAIR_BATCH_BYTES) while every
    // pair of groups of these rows passes over them: a pair's tiles read all of the block's rows,
    // and from L3 they bounded the tile (4096 × 11008 at batch 256 ran at 33% of the int8 ceiling,
    // 4096 × 4096 at 53%). The weights are read once per block instead, at 8+ activation rows per
    // byte that is far under the memory's pace.
    int64_t block_rows = PAIR_BATCH_BYTES / a->cols / 8 * 8;
    if (block_rows < 8) block_rows = 8;
    for (int64_t b0 = 0; b0 < a->batch; b0 += block_rows) {
        const int64_t b1 = a->batch - b0 > block_rows ? b0 + block_rows : a->batch;
        for (int64_t g = r0 / KILN_GROUP_ROWS; g < groups_end; g += 2) {
            const uint8_t *ga = (const uint8_t *)a->w + (size_t)(g * nb) * group_bytes;
            const int pair = g + 1 < groups_end;
            const uint8_t *gb = pair ? ga + (size_t)nb * group_bytes : ga;
            const int64_t row = g * KILN_GROUP_ROWS;
            const int64_t end = pair ? row + 2 * KILN_GROUP_ROWS : row + KILN_GROUP_ROWS;
            const int valid = (int)((a->rows < end ? a->rows : end) - row);
            if (a->batch == 1) {
                const int64_t xrow[1] = {0};
                __m512 acc[1];
                PAIR(tile)(ga, gb, g + 4 <= groups_end, nb, a, xrow, 1, type, acc);
                store_pair(a->y + row, acc[0], valid);
                continue;
            }
            // Every type takes up to 8 activation rows per weight decode (8 accumulators and 8 dots fit
            // the registers; hot 1536 × 576 batch 64, 2 threads: q4_0 529 → 565, q5_0 427 → 486 GOP/s);
            // a tail of the batch takes the narrowest tile that holds it, since every padding row costs
            // its dots.
            for (int64_t b = b0; b < b1;) {
                const int64_t left = b1 - b;
                const int NX = left >= 6 ? 8 : left >= 3 ? 4 : (int)left;
                int64_t xrow[8];
                for (int i = 0; i < NX; i++) xrow[i] = b + i < b1 ? b + i : b1 - 1;
                __m512 acc[8];
                // The first tile over a pair reads it from memory (the others find it in L1): it sweeps
                // the next pair in as decode does. Without, a batch step's products waited on memory:
                // SmolLM2's 210 q4_1x8 products at batch 8, one core, medians 12.4 → 8.6 ms; its q8_0x8
                // head 4.0 → 1.9 ms.
                const int prefetch = b == b0 && g + 4 <= groups_end;
                if (NX == 8) PAIR(tile)(ga, gb, prefetch, nb, a, xrow, 8, type, acc);
                else if (NX == 4) PAIR(tile)(ga, gb, prefetch, nb, a, xrow, 4, type, acc);
                else if (NX == 2) PAIR(tile)(ga, gb, prefetch, nb, a, xrow, 2, type, acc);
                else PAIR(tile)(ga, gb, prefetch, nb, a, xrow, 1, type, acc);
                for (int i = 0; i < NX && b + i < b1; i++) store_pair(a->y + (b + i) * a->rows + row, acc[i], valid);
                b += NX;
            }
        }
    }
}

PAIR_TARGET static void PAIR(rows_q8_0x8)(const kiln_matmul_args *a, int64_t r0, int64_t r1) { PAIR(rows)(a, r0, r1, KILN_WEIGHT_Q8_0X8); }
PAIR_TARGET static void PAIR(rows_q4_0x8)(const kiln_matmul_args *a, int64_t r0, int64_t r1) { PAIR(rows)(a, r0, r1, KILN_WEIGHT_Q4_0X8); }
PAIR_TARGET static void PAIR(rows_q4_1x8)(const kiln_matmul_args *a, int64_t r0, int64_t r1) { PAIR(rows)(a, r0, r1, KILN_WEIGHT_Q4_1X8); }
PAIR_TARGET static void PAIR(rows_kq4x8)(const kiln_matmul_args *a, int64_t r0, int64_t r1) { PAIR(rows)(a, r0, r1, KILN_WEIGHT_KQ4X8); }
PAIR_TARGET static void PAIR(rows_q5_0x8)(const kiln_matmul_args *a, int64_t r0, int64_t r1) { PAIR(rows)(a, r0, r1, KILN_WEIGHT_Q5_0X8); }
PAIR_TARGET static void PAIR(rows_q5_1x8)(const kiln_matmul_args *a, int64_t r0, int64_t r1) { PAIR(rows)(a, r0, r1, KILN_WEIGHT_Q5_1X8); }

#undef PAIR
#undef PAIR_CAT
#undef PAIR_CAT2
