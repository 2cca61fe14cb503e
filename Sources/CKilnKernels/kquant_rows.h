// The K-quant row kernels' shared body (docs/FORMAT.md §7.2): each super-block unpacked once into
// unsigned codes and integer scales, met by up to KILN_K_BATCH activation rows, the f32 steps per
// block. Included by generic_kquants.c (plain C sums) and arm_neon_kquants.c (SDOT sums): the
// includer defines KQ_TARGET (a target attribute or nothing) and, before including,
//   kq_sum32(codes, x)                        Σ code·x over 32 values
//   kq_group_sums(codes, x, &even, &odd, &first)  Σ code·x over values 0–15 and 16–31, Σx over 0–15
// Integer sums are exact whichever way they are formed, and the f32 steps here are the same
// code, so every includer's products are the same bits (tested: Tools/kernel-check).
//
// - q4_K / q5_K: value = d·sc·q − dmin·m per sub-block of 32, so the block contributes
//   xd·(d·sc·Σq·x − dmin·m·Σx), with Σx the driver's block sum.
// - q6_K: value = d·sc·(q − 32) per group of 16; the codes stay unsigned (0…63) and the 32 comes
//   off through each group's activation sum, in the integers, before the group's scale. q3_K is
//   the same with codes 0…7, an offset of 4 and 6-bit scales stored + 32.
// - q2_K: value = d·sc·q − dmin·m per group of 16 (codes 0…3, 4-bit sc and m).

#define KILN_K_BATCH 64 // activation rows that share one unpacked super-block

// One super-block, unpacked. q4_K/q5_K: sub-block t (values 32t…32t+31) has scale sc[t] and
// minimum mn[t]; q6_K: group g (values 16g…16g+15) has signed scale sc[g].
typedef struct {
    uint8_t code[256];
    int32_t sc[16], mn[16];
    float d, dmin;
} superblock;

static inline float half_at(const uint8_t *p) { return kiln_half_to_float(kiln_load_u16(p)); }

// q4_K/q5_K's 12 scale bytes (ggml's get_scale_min_k4): sub-blocks 0–3 keep 6-bit fields in
// bytes 0–3 (scales) and 4–7 (minimums); sub-blocks 4–7 have their low 4 bits in the nibbles of
// bytes 8–11 and their top 2 bits in the spare top bits of bytes 0–7.
KQ_TARGET static inline void unpack_scales(const uint8_t *s, superblock *u) {
    for (int t = 0; t < 4; t++) {
        u->sc[t] = s[t] & 63;
        u->mn[t] = s[t + 4] & 63;
        u->sc[t + 4] = (s[t + 8] & 15) | (s[t] >> 6) << 4;
        u->mn[t + 4] = (s[t + 8] >> 4) | (s[t + 4] >> 6) << 4;
    }
}

// q4_K (144 bytes: d, dmin, scales[12], qs[128]) and q5_K (176 bytes: d, dmin, scales[12],
// qh[32], qs[128]). Value 64c + l takes the low nibble of qs[32c + l] and value 64c + 32 + l its
// high nibble; q5_K adds 16 when bit t (the value's sub-block) of qh[l] is set.
KQ_TARGET static inline void unpack_q45(const uint8_t *block, int q5, superblock *u) {
    const uint8_t *qs = block + (q5 ? 48 : 16), *qh = block + 16;
    unpack_scales(block + 4, u);
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            u->code[64 * c + l] = qs[32 * c + l] & 15;
            u->code[64 * c + 32 + l] = qs[32 * c + l] >> 4;
        }
    if (q5)
        for (int t = 0; t < 8; t++)
            for (int l = 0; l < 32; l++) u->code[32 * t + l] |= ((qh[l] >> t) & 1) << 4;
    u->d = half_at(block);
    u->dmin = half_at(block + 2);
}

// q6_K (210 bytes: ql[128], qh[64], scales[16], d). Value 128n + 32k + l takes nibble k/2 of
// ql[64n + 32(k % 2) + l] as its low 4 bits and bits 2k…2k+1 of qh[32n + l] as bits 4–5.
KQ_TARGET static inline void unpack_q6(const uint8_t *block, superblock *u) {
    const uint8_t *ql = block, *qh = block + 128;
    for (int n = 0; n < 2; n++)
        for (int k = 0; k < 4; k++)
            for (int l = 0; l < 32; l++) {
                const int low = (ql[64 * n + 32 * (k % 2) + l] >> (4 * (k / 2))) & 15;
                const int high = (qh[32 * n + l] >> (2 * k)) & 3;
                u->code[128 * n + 32 * k + l] = (uint8_t)(low | high << 4);
            }
    for (int g = 0; g < 16; g++) u->sc[g] = (int8_t)block[192 + g];
    u->d = half_at(block + 208);
    u->dmin = 0;
}

// q2_K (84 bytes: scales[16], qs[64], d, dmin). Value 128n + 32j + l is bits 2j…2j+1 of
// qs[32n + l]; group g = 8n + 2j + l/16 has scale scales[g] & 15 and minimum scales[g] >> 4.
KQ_TARGET static inline void unpack_q2(const uint8_t *block, superblock *u) {
    for (int n = 0; n < 2; n++)
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++) u->code[128 * n + 32 * j + l] = (block[16 + 32 * n + l] >> (2 * j)) & 3;
    for (int g = 0; g < 16; g++) {
        u->sc[g] = block[g] & 15;
        u->mn[g] = block[g] >> 4;
    }
    u->d = half_at(block + 80);
    u->dmin = half_at(block + 82);
}

// q3_K (110 bytes: hmask[32], qs[64], scales[12], d). Value 128n + 32j + l has bits 2j…2j+1 of
// qs[32n + l] and, as bit 2, bit 4n + j of hmask[l] (code 0…7, value offset 4); group g's 6-bit
// scale (stored + 32) has its low 4 bits in nibble g/8 of scales[g % 8] and its high 2 in bits
// 2(g/4)… of scales[8 + g % 4].
KQ_TARGET static inline void unpack_q3(const uint8_t *block, superblock *u) {
    for (int n = 0; n < 2; n++)
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++)
                u->code[128 * n + 32 * j + l] =
                    (uint8_t)(((block[32 + 32 * n + l] >> (2 * j)) & 3) | ((block[l] >> (4 * n + j)) & 1) << 2);
    const uint8_t *s = block + 96;
    for (int g = 0; g < 16; g++) u->sc[g] = (((s[g % 8] >> (4 * (g / 8))) & 15) | ((s[8 + g % 4] >> (2 * (g / 4))) & 3) << 4) - 32;
    u->d = half_at(block + 108);
    u->dmin = 0;
}

// Σ over one super-block of value · xd · x for one activation row (x, xd, xs at the super-block).
KQ_TARGET static inline float dot_q45(const superblock *u, const int8_t *x, const float *xd, const int32_t *xs) {
    float acc = 0;
    for (int t = 0; t < 8; t++) {
        const int32_t dot = kq_sum32(u->code + 32 * t, x + 32 * t);
        acc += xd[t] * ((u->d * (float)u->sc[t]) * (float)dot - (u->dmin * (float)u->mn[t]) * (float)xs[t]);
    }
    return acc;
}

// Groups of 16 with signed scales and codes offset by `offset` (q6_K 32, q3_K 4): each group's
// integer sum exact, its offset taken off through the group's activation sum before its scale.
KQ_TARGET static inline float dot_offset16(const superblock *u, const int8_t *x, const float *xd, const int32_t *xs, int offset) {
    float acc = 0;
    for (int t = 0; t < 8; t++) {
        int32_t even, odd, first;
        kq_group_sums(u->code + 32 * t, x + 32 * t, &even, &odd, &first);
        // |dot| ≤ 2 · 128 · 16 · 32 · 127: far inside int32.
        const int32_t dot = u->sc[2 * t] * (even - offset * first) + u->sc[2 * t + 1] * (odd - offset * (xs[t] - first));
        acc += xd[t] * (float)dot;
    }
    return u->d * acc;
}

// q2_K: groups of 16 with a scale and a minimum each.
KQ_TARGET static inline float dot_q2(const superblock *u, const int8_t *x, const float *xd, const int32_t *xs) {
    float acc = 0;
    for (int t = 0; t < 8; t++) {
        int32_t even, odd, first;
        kq_group_sums(u->code + 32 * t, x + 32 * t, &even, &odd, &first);
        const int32_t scaled = u->sc[2 * t] * even + u->sc[2 * t + 1] * odd;
        const int32_t minimum = u->mn[2 * t] * first + u->mn[2 * t + 1] * (xs[t] - first);
        acc += xd[t] * (u->d * (float)scaled - u->dmin * (float)minimum);
    }
    return acc;
}

KQ_TARGET static KILN_ALWAYS_INLINE void k_rows(const kiln_matmul_args *a, int64_t r0, int64_t r1, int32_t type) {
    const size_t bytes = (size_t)kiln_block_bytes(type);
    const int64_t superblocks = a->cols / 256, nb = a->cols / KILN_BLOCK;
    superblock u;
    float acc[KILN_K_BATCH];
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)a->w + (size_t)(r * superblocks) * bytes;
        for (int64_t b0 = 0; b0 < a->batch; b0 += KILN_K_BATCH) {
            const int64_t count = a->batch - b0 < KILN_K_BATCH ? a->batch - b0 : KILN_K_BATCH;
            for (int64_t i = 0; i < count; i++) acc[i] = 0;
            for (int64_t s = 0; s < superblocks; s++) {
                if (type == KILN_WEIGHT_Q6_K) unpack_q6(row + s * bytes, &u);
                else if (type == KILN_WEIGHT_Q2_K) unpack_q2(row + s * bytes, &u);
                else if (type == KILN_WEIGHT_Q3_K) unpack_q3(row + s * bytes, &u);
                else unpack_q45(row + s * bytes, type == KILN_WEIGHT_Q5_K, &u);
                for (int64_t i = 0; i < count; i++) {
                    const int64_t at = (b0 + i) * nb + s * 8;
                    const int8_t *x = a->xq + at * KILN_BLOCK;
                    if (type == KILN_WEIGHT_Q6_K) acc[i] += dot_offset16(&u, x, a->xd + at, a->xsum + at, 32);
                    else if (type == KILN_WEIGHT_Q3_K) acc[i] += dot_offset16(&u, x, a->xd + at, a->xsum + at, 4);
                    else if (type == KILN_WEIGHT_Q2_K) acc[i] += dot_q2(&u, x, a->xd + at, a->xsum + at);
                    else acc[i] += dot_q45(&u, x, a->xd + at, a->xsum + at);
                }
            }
            for (int64_t i = 0; i < count; i++) a->y[(b0 + i) * a->rows + r] = acc[i];
        }
    }
}

