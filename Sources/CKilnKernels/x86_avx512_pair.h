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
// --hot`, one core, 1536 × 576): kq4x8 30 → 36 GB/s, q5_0x8 27.5 → 38.5 GB/s.
// Defines PAIR(rows_q8_0x8) … PAIR(rows_q5_1x8); expects PAIR_TARGET, PAIR_PREFIX, PAIR_VBMI.
#define PAIR_CAT2(a, b) a##b
#define PAIR_CAT(a, b) PAIR_CAT2(a, b)
#define PAIR(name) PAIR_CAT(PAIR_PREFIX, name)

// Two groups (rows 0–7 in lanes 0–7 from `ga`, 8–15 from `gb`) against NX activation rows; acc[i]
// gets activation row i's 16 dot products. gb may alias ga (its results are then dropped).
PAIR_TARGET static KILN_ALWAYS_INLINE void PAIR(tile)(const uint8_t *ga, const uint8_t *gb, int prefetch, int64_t nb,
                                                const kiln_matmul_args *a, const int64_t *xrow, int NX, int32_t type, __m512 *acc) {
    const size_t group_bytes = KILN_GROUP_ROWS * (size_t)kiln_block_bytes(type);
    const int q5 = type == KILN_WEIGHT_Q5_0X8 || type == KILN_WEIGHT_Q5_1X8;
    const int minimum = type == KILN_WEIGHT_Q4_1X8 || type == KILN_WEIGHT_Q5_1X8;
    const int kq4 = type == KILN_WEIGHT_KQ4X8;
    const int header = minimum ? 32 : 16;
    const int offset_start = a->xblock_bias != NULL; // set only for the q8_0/q4_0/q5_0 pairs (matmul.c)
    const __m512i low = _mm512_set1_epi8(0x0F), bias = _mm512_set1_epi8((char)0x80);
    const __m512i biased = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)kiln_kq4_grid_biased));
    const __m512 mantissas = _mm512_broadcast_f32x8(_mm256_loadu_ps(kiln_kq4_mantissa_scaled));
    const int8_t *xq[8];
    const float *xd[8];
    const int32_t *xs[8];
    __m512 macc[8]; // the minimums (_1 types), or kq4's second-half sums
    for (int i = 0; i < NX; i++) {
        xq[i] = a->xq + xrow[i] * a->cols;
        xd[i] = a->xd + xrow[i] * nb;
        xs[i] = a->xsum + xrow[i] * nb;
        acc[i] = macc[i] = _mm512_setzero_ps();
    }
    for (int64_t blk = 0; blk < nb; blk++) {
        const uint8_t *ba = ga + blk * group_bytes, *bb = gb + blk * group_bytes;
        const size_t quants = (size_t)header + (q5 ? 32 : 0);
        if (prefetch) // decode: the two groups after these, at the pace these are read
            for (size_t l = 0; l < group_bytes; l += 64) {
                _mm_prefetch((const char *)ba + 2 * (size_t)nb * group_bytes + l, _MM_HINT_T0);
                _mm_prefetch((const char *)bb + 2 * (size_t)nb * group_bytes + l, _MM_HINT_T0);
            }
        __m512i dot[8], high_dot[8];
        for (int i = 0; i < NX; i++) dot[i] = high_dot[i] = _mm512_setzero_si512();
        // The codes' offset comes off where the dots start (the driver's −offset·Σx, a broadcast
        // load) rather than after them. One core, hot 1536 × 576, batch 64, same
        // sitting: q8_0 51 → 54%, q4_0 53 → 56%, q5_0 45 → 47% of the int8 ceiling; decode unchanged.
        if (offset_start)
            for (int i = 0; i < NX; i++) dot[i] = _mm512_set1_epi32(a->xblock_bias[xrow[i] * nb + blk]);
        if (type == KILN_WEIGHT_Q8_0X8) {
            // q + 128 is unsigned: Σ(q + 128)·x = Σq·x + 128·Σx, and the 128·Σx comes off below.
            for (int t = 0; t < 8; t++) {
                const __m512i u = _mm512_xor_si512(pair256(ba + quants + 32 * t, bb + quants + 32 * t), bias);
                for (int i = 0; i < NX; i++) dot[i] = _mm512_dpbusd_epi32(dot[i], u, broadcast4z(xq[i] + blk * KILN_BLOCK + 4 * t));
            }
        } else if (kq4) {
            // Levels + 128 (unsigned): the dots start at −128·Σx of their half (the driver's half
            // sums), so they end exact with no subtraction.
            for (int i = 0; i < NX; i++) {
                const int32_t *bias = a->xhalf_bias + xrow[i] * 2 * nb + 2 * blk;
                dot[i] = _mm512_set1_epi32(bias[0]);
                high_dot[i] = _mm512_set1_epi32(bias[1]);
            }
            for (int t = 0; t < 4; t++) {
                const __m512i q = pair256(ba + quants + 32 * t, bb + quants + 32 * t);
#if PAIR_VBMI
                // vpermb reads an index's low 6 bits and `biased` holds the 16 levels four times
                // over, so the nibbles need no mask (the high ones only a shift).
                const __m512i ul = _mm512_permutexvar_epi8(q, biased);
                const __m512i uh = _mm512_permutexvar_epi8(_mm512_srli_epi16(q, 4), biased);
#else
                const __m512i ul = _mm512_shuffle_epi8(biased, _mm512_and_si512(q, low));
                const __m512i uh = _mm512_shuffle_epi8(biased, _mm512_and_si512(_mm512_srli_epi16(q, 4), low));
#endif
                for (int i = 0; i < NX; i++) {
                    const int8_t *x = xq[i] + blk * KILN_BLOCK + 4 * t;
                    dot[i] = _mm512_dpbusd_epi32(dot[i], ul, broadcast4z(x));
                    high_dot[i] = _mm512_dpbusd_epi32(high_dot[i], uh, broadcast4z(x + 16));
                }
            }
        } else {
#if PAIR_VBMI
            // Both groups' qh (row r's 32 bits at bytes 4r) side by side: qword k holds rows 2k and
            // 2k + 1 of its group, the rows whose codes sit in bytes 8k … 8k + 7 of a chunk, so
            // vpmultishiftqb can bring each code's fifth bit to bit 4 of its byte. (A byte mask from
            // vpshufbitqmb and a masked move measured slower: 30 GB/s.)
            const __m512i qh = q5 ? pair256(ba + header, bb + header) : _mm512_setzero_si512();
#else
            const __m256i qh_a = q5 ? _mm256_loadu_si256((const __m256i *)(ba + header)) : _mm256_setzero_si256();
            const __m256i qh_b = q5 ? _mm256_loadu_si256((const __m256i *)(bb + header)) : _mm256_setzero_si256();
#endif
            for (int t = 0; t < 4; t++) {
                const __m512i q = pair256(ba + quants + 32 * t, bb + quants + 32 * t);
                __m512i lo, hi;
#if PAIR_VBMI
                if (q5) {
                    // code = (nibble & 15) | fifth bit · 16, one vpternlogd per 64 codes.
                    const __m512i index = _mm512_add_epi8(_mm512_loadu_si512(q5_bit_index), _mm512_set1_epi8((char)(4 * t)));
                    const __m512i sixteen = _mm512_set1_epi8(16);
                    const __m512i fifth_lo = _mm512_and_si512(_mm512_multishift_epi64_epi8(index, qh), sixteen);
                    const __m512i fifth_hi = _mm512_and_si512(_mm512_multishift_epi64_epi8(_mm512_add_epi8(index, sixteen), qh), sixteen);
                    lo = _mm512_ternarylogic_epi32(q, low, fifth_lo, 0xEA);                         // (A & B) | C
                    hi = _mm512_ternarylogic_epi32(_mm512_srli_epi16(q, 4), low, fifth_hi, 0xEA);
                } else {
                    lo = _mm512_and_si512(q, low);
                    hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), low);
                }
#else
                lo = _mm512_and_si512(q, low);
                hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), low);
                if (q5) {
                    __m512i lo5, hi5;
                    pair_high_bits(qh_a, qh_b, t, &lo5, &hi5);
                    lo = _mm512_or_si512(lo, lo5);
                    hi = _mm512_or_si512(hi, hi5);
                }
#endif
                // Low and high nibbles in two chains (added after): 4 dependent vpdpbusd per block
                // instead of 8.
                // (One chain at NX 8, where the registers are all taken.)
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
        if (kq4) {
            __m512 s_low, s_high;
            pair_kq4_scales(ba, bb, mantissas, &s_low, &s_high);
            for (int i = 0; i < NX; i++) {
                const __m512 x_scale = _mm512_set1_ps(xd[i][blk]);
                acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[i]), _mm512_mul_ps(s_low, x_scale), acc[i]);
                macc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(high_dot[i]), _mm512_mul_ps(s_high, x_scale), macc[i]);
            }
            continue;
        }
        const __m512 d = pair_halves(ba, bb, 0);
        for (int i = 0; i < NX; i++) {
            const int offset = type == KILN_WEIGHT_Q8_0X8 ? 128 : type == KILN_WEIGHT_Q4_0X8 ? 8 : type == KILN_WEIGHT_Q5_0X8 ? 16 : 0;
            if (offset && !offset_start) dot[i] = _mm512_sub_epi32(dot[i], _mm512_set1_epi32(offset * xs[i][blk]));
            acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[i]), _mm512_mul_ps(d, _mm512_set1_ps(xd[i][blk])), acc[i]);
        }
        if (minimum) {
            const __m512 m = pair_halves(ba, bb, 16);
            for (int i = 0; i < NX; i++) macc[i] = _mm512_fmadd_ps(m, _mm512_set1_ps(xd[i][blk] * (float)xs[i][blk]), macc[i]);
        }
    }
    if (minimum || kq4)
        for (int i = 0; i < NX; i++) acc[i] = _mm512_add_ps(acc[i], macc[i]);
}

PAIR_TARGET static KILN_ALWAYS_INLINE void PAIR(rows)(const kiln_matmul_args *a, int64_t r0, int64_t r1, int32_t type) {
    const int64_t nb = a->cols / KILN_BLOCK;
    const size_t group_bytes = KILN_GROUP_ROWS * (size_t)kiln_block_bytes(type);
    const int64_t groups_end = (r1 + KILN_GROUP_ROWS - 1) / KILN_GROUP_ROWS;
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
        // q8_0/q4_0/q5_0 take 8 activation rows per weight decode (8 accumulators and 8 dots fit the
        // registers; hot 1536 × 576 batch 64, 2 threads: q4_0 529 → 565, q5_0 427 → 486 GOP/s); the
        // _1 types and kq4, which carry a second sum per row, take 4.
        const int NX = type == KILN_WEIGHT_Q8_0X8 || type == KILN_WEIGHT_Q4_0X8 || type == KILN_WEIGHT_Q5_0X8 ? 8 : 4;
        for (int64_t b = 0; b < a->batch; b += NX) {
            int64_t xrow[8];
            for (int i = 0; i < NX; i++) xrow[i] = b + i < a->batch ? b + i : a->batch - 1;
            __m512 acc[8];
            if (NX == 8) PAIR(tile)(ga, gb, 0, nb, a, xrow, 8, type, acc);
            else PAIR(tile)(ga, gb, 0, nb, a, xrow, 4, type, acc);
            for (int i = 0; i < NX && b + i < a->batch; i++) store_pair(a->y + (b + i) * a->rows + row, acc[i], valid);
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
