// The tile loop of kiln_flash_attention, written once and instantiated by each tier: a tier file
// defines FLASH_TARGET (its target attribute, or nothing), FLASH_TILE (the function's name) and
// four static inline FLASH_TARGET helpers, then includes this file:
//   flash_scores(Q, rows, d, Kt, B, S)   S[r][c] = Q[r]·k_c for the first B (1–4) KILN_KV_BLOCK
//                                        blocks of the 64 keys (Kt: those blocks, each [d][16]);
//   flash_softmax(S, rows, m, l, O, d)   the online-softmax step: S becomes P = e^(S − m_new)
//                                        (exactly 0 where S = −∞), l and O are rescaled;
//   flash_pv(P, rows, V, keys, d, O)     O[r] += Σ_c<keys P[r][c] · V[c];
//   flash_halves(src, dst, n)            f16 → f32 for the f16 cache.
// Keeping the loop (positions, masks, block skipping, conversion) in one place means every tier
// is held to the same algorithm; only the arithmetic differs, and the tests hold each tier to the
// scalar twin.
#include <math.h>

#ifndef FLASH_HALVES_ROWS
// A tier may define FLASH_HALVES_ROWS (a row count) with flash_scores_halves(Q, rows, d, Kt16, B, S, prefetch)
// and flash_pv_halves(P, rows, V16, keys, d, O, prefetch), flash_scores' and flash_pv's twins that read
// an f16 cache's blocks in place: tiles of at most that many rows use them instead of
// converting each block with flash_halves first. Each calls kiln_prefetch_step(prefetch) in every
// iteration of its loops over the dimensions (scores) or the keys (P·V), and the tier defines
// FLASH_SCORES_STEPS(d, blocks) and FLASH_PV_STEPS(keys, d), how many iterations those are, so
// the tile spreads a run's lines over all of them.
#define FLASH_HALVES_ROWS 0
#endif

#ifdef FLASH_PV_COLUMNS
// A tier may define pv_rows_of(P, R, V, half, keys, d, j0, O, prefetch) instead of flash_pv (and
// flash_pv_halves) — R (1–4) rows' outputs for columns j0 … j0 + FLASH_PV_COLUMNS − 1, from f32
// values (prefetch NULL) or (half) an f16 cache's, R and half constants in each call so the
// accumulators stay in registers — and FLASH_PV_COLUMNS; flash_pv is then this walk over 4-row blocks.
FLASH_TARGET static inline __attribute__((always_inline)) void flash_pv_walk(const float *P, int64_t rows, const void *V, int half,
                                                                             int64_t keys, int64_t d, float *O,
                                                                             kiln_prefetch_run *prefetch) {
    for (int64_t r = 0; r < rows; r += 4) {
        for (int64_t j0 = 0; j0 < d; j0 += FLASH_PV_COLUMNS) {
            const float *p = P + r * KILN_FLASH_KEYS;
            switch (rows - r) {
            case 1: pv_rows_of(p, 1, V, half, keys, d, j0, O + r * d, prefetch); break;
            case 2: pv_rows_of(p, 2, V, half, keys, d, j0, O + r * d, prefetch); break;
            case 3: pv_rows_of(p, 3, V, half, keys, d, j0, O + r * d, prefetch); break;
            default: pv_rows_of(p, 4, V, half, keys, d, j0, O + r * d, prefetch); break;
            }
        }
    }
}

FLASH_TARGET static inline void flash_pv(const float *P, int64_t rows, const float *V, int64_t keys, int64_t d, float *O) {
    flash_pv_walk(P, rows, V, 0, keys, d, O, NULL);
}

#if FLASH_HALVES_ROWS
FLASH_TARGET static inline void flash_pv_halves(const float *P, int64_t rows, const uint16_t *V, int64_t keys, int64_t d, float *O,
                                                kiln_prefetch_run *prefetch) {
    flash_pv_walk(P, rows, V, 1, keys, d, O, prefetch);
}
#endif
#endif

FLASH_TARGET void FLASH_TILE(const kiln_flash_tile *t) {
    const int64_t d = t->head_dim, group = t->group, n = t->s1 - t->s0;
    float *Q = t->scratch, *O = Q + KILN_FLASH_ROWS * d, *S = O + KILN_FLASH_ROWS * d;
    float *m = S + KILN_FLASH_ROWS * KILN_FLASH_KEYS, *l = m + KILN_FLASH_ROWS;
    float *K = l + KILN_FLASH_ROWS, *V = K + KILN_FLASH_KEYS * d;
    int64_t qpos[KILN_FLASH_ROWS];
    // A decode tile reads an f16 cache where it lies, and a task's blocks come from memory or L3
    // with the pool's other work between (SmolLM2, 8 sequences at 512 positions: 235–241 µs a
    // layer, 13.5 GB/s). So the tile asks for them ahead: the first block's keys now, each
    // block's values while it scores the block, the next block's keys while it weighs the
    // values: 156–158 µs (docs/PERFORMANCE.md, "Decode attention's cache reads"). Not for the
    // f32 cache, whose reads in place measured 15–40% slower with the prefetches when cached.
    const int in_place = t->kv_type == KILN_KV_F16 && n <= FLASH_HALVES_ROWS;
#if FLASH_HALVES_ROWS
    const int64_t half_bytes = (int64_t)sizeof(uint16_t);
    if (in_place) {
        const int64_t keys = t->k1 - t->k0 < KILN_FLASH_KEYS ? t->k1 - t->k0 : KILN_FLASH_KEYS;
        kiln_prefetch_run first = kiln_prefetch_spread((const uint16_t *)t->keys + t->k0 * d, kiln_kv_padded_slots(keys) * d * half_bytes, 1);
        kiln_prefetch_step(&first);
    }
#endif
    for (int64_t r = 0; r < n; r++) {
        const int64_t s = t->s0 + r, row = s / group, head = s % group;
        const float *src = t->q + row * t->q_stride + head * d;
        qpos[r] = t->base + row;
        // The scale is applied to the queries once rather than to every score.
        for (int64_t i = 0; i < d; i++) Q[r * d + i] = src[i] * t->scale;
        for (int64_t i = 0; i < d; i++) O[r * d + i] = 0;
        m[r] = -INFINITY;
        l[r] = 0;
    }
    // Stacked rows are in row order, so the tile's positions are its first and last row's.
    const int64_t qlo = qpos[0], qhi = qpos[n - 1], window = t->window;
    // The ring's newest slot: slots up to it hold last − newest + slot, the ones after it the
    // lap before (a cache that has not wrapped has only the first run).
    const int64_t newest = t->last % t->capacity;
    for (int64_t c0 = t->k0; c0 < t->k1; c0 += KILN_FLASH_KEYS) {
        const int64_t keys = t->k1 - c0 < KILN_FLASH_KEYS ? t->k1 - c0 : KILN_FLASH_KEYS;
        int64_t kpos[KILN_FLASH_KEYS], kmin = INT64_MAX, kmax = INT64_MIN;
        for (int64_t c = 0; c < keys; c++) {
            const int64_t slot = c0 + c;
            kpos[c] = t->last - newest + slot - (slot > newest ? t->capacity : 0);
            kmin = kpos[c] < kmin ? kpos[c] : kmin;
            kmax = kpos[c] > kmax ? kpos[c] : kmax;
        }
        // Causal: every key after the tile's last row; window: every key before its first row's.
        if (kmin > qhi || (window > 0 && kmax <= qlo - window)) continue;
        const int full = keys == KILN_FLASH_KEYS && kmax <= qlo && (window <= 0 || kmin > qhi - window);
        // f32 blocks are read in place, f16 ones converted once per tile. Only the 16-slot blocks
        // that hold keys are scored (the cache pads slots to whole blocks, so they are there to
        // read): a decode row's last block is partly filled, and copying it and scoring all 64
        // slots cost SmolLM2 2% of a batch-8 step at contexts of 32–96. The lanes left unscored
        // are past `keys`, and the mask below sets them to −∞.
        const int64_t blocks = (keys + KILN_KV_BLOCK - 1) / KILN_KV_BLOCK, stored = blocks * KILN_KV_BLOCK * d;
        const float *kt = K, *vv = V;
#if FLASH_HALVES_ROWS
        if (in_place) {
            kiln_prefetch_run values =
                kiln_prefetch_spread((const uint16_t *)t->values + c0 * d, keys * d * half_bytes, FLASH_SCORES_STEPS(d, blocks));
            flash_scores_halves(Q, n, d, (const uint16_t *)t->keys + c0 * d, blocks, S, &values);
        }
#endif
        if (!in_place) {
            if (t->kv_type == KILN_KV_F16) {
                flash_halves((const uint16_t *)t->keys + c0 * d, K, stored);
                flash_halves((const uint16_t *)t->values + c0 * d, V, keys * d);
            } else {
                kt = (const float *)t->keys + c0 * d;
                vv = (const float *)t->values + c0 * d;
            }
            flash_scores(Q, n, d, kt, blocks, S);
        }
        if (!full) {
            for (int64_t r = 0; r < n; r++) {
                for (int64_t c = 0; c < KILN_FLASH_KEYS; c++) {
                    const int visible = c < keys && kpos[c] <= qpos[r] && (window <= 0 || kpos[c] > qpos[r] - window);
                    if (!visible) S[r * KILN_FLASH_KEYS + c] = -INFINITY;
                }
            }
        }
        flash_softmax(S, n, m, l, O, d);
#if FLASH_HALVES_ROWS
        if (in_place) {
            const int64_t left = t->k1 - (c0 + KILN_FLASH_KEYS), later = left <= 0 ? 0 : left < KILN_FLASH_KEYS ? left : KILN_FLASH_KEYS;
            kiln_prefetch_run next_keys = kiln_prefetch_spread((const uint16_t *)t->keys + (c0 + KILN_FLASH_KEYS) * d,
                                                               kiln_kv_padded_slots(later) * d * half_bytes, FLASH_PV_STEPS(keys, d));
            flash_pv_halves(S, n, (const uint16_t *)t->values + c0 * d, keys, d, O, &next_keys);
        }
#endif
        if (!in_place) flash_pv(S, n, vv, keys, d, O);
    }
    if (t->partial) { // one split of the keys: kiln_flash_attention merges the splits
        for (int64_t r = 0; r < n; r++) {
            float *part = t->partial + r * (d + 2);
            part[0] = m[r];
            part[1] = l[r];
            for (int64_t i = 0; i < d; i++) part[2 + i] = O[r * d + i];
        }
        return;
    }
    for (int64_t r = 0; r < n; r++) {
        const int64_t s = t->s0 + r, row = s / group, head = s % group;
        float *dst = t->out + row * t->q_stride + head * d;
        // Every row sees at least its own position; a row with nothing visible gets zeros.
        const float inverse = l[r] > 0 ? 1.0f / l[r] : 0.0f;
        for (int64_t i = 0; i < d; i++) dst[i] = O[r * d + i] * inverse;
    }
}
