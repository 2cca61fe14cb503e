/*
 * Dev check for CKilnSupport's XXH64 (driven by check_hashes.py). SHA-256 comes
 * from swift-crypto; `kiln-run bench --hashes` times both in Kiln itself.
 *
 *   check_hashes          print one line per test length:
 *                           len xxh64(seed 0) xxh64(seed 0x9E3779B97F4A7C15)
 *                               stream_xxh64(seed 0)
 *                               stream_xxh64(seed 0x9E37...)
 *                         The input is b[i] = (uint8_t)(i * 31 + 7). The
 *                         stream_* columns feed the same input in chunks of
 *                         1, 2, 3, ..., MAX_CHUNK, 1, 2, ... bytes.
 *                         Also self-checks (exit status 1 on failure) that
 *                         misaligned input and a digest taken mid-stream do
 *                         not change results.
 *   check_hashes bench [MiB]
 *                         time one-shot xxh64 (default 256 MiB).
 *
 * Build: cc -std=c11 -O2 -I../../Sources/CKilnSupport/include \
 *           check_hashes.c ../../Sources/CKilnSupport/hash_*.c
 */
#define _POSIX_C_SOURCE 199309L

#include "CKilnSupport.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SEED2 UINT64_C(0x9E3779B97F4A7C15)
#define MAX_CHUNK 67 /* > two XXH64 stripes */

static int failures = 0;

static void fill(uint8_t *b, size_t n) {
    size_t i;
    for (i = 0; i < n; i++)
        b[i] = (uint8_t)(i * 31 + 7);
}

static void fail(const char *what, size_t len) {
    fprintf(stderr, "FAIL: %s (len %zu)\n", what, len);
    failures++;
}

static void check_length(size_t len, uint8_t *scratch) {
    uint8_t *b = calloc(len ? len : 1, 1);
    uint64_t x0, xs, sx0, sxs;
    kiln_xxh64_state st0, sts;
    size_t off, chunk;

    if (!b) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    fill(b, len);

    x0 = kiln_xxh64(b, len, 0);
    xs = kiln_xxh64(b, len, SEED2);

    /* Streaming in chunks 1, 2, 3, ..., MAX_CHUNK, 1, 2, ... */
    kiln_xxh64_reset(&st0, 0);
    kiln_xxh64_reset(&sts, SEED2);
    for (off = 0, chunk = 1; off < len; chunk = chunk % MAX_CHUNK + 1) {
        size_t n = len - off < chunk ? len - off : chunk;
        kiln_xxh64_update(&st0, b + off, n);
        kiln_xxh64_update(&sts, b + off, n);
        /* digest must not disturb the state (cheap for short inputs) */
        if (len <= 4099 &&
            kiln_xxh64_digest(&st0) != kiln_xxh64(b, off + n, 0))
            fail("xxh64 mid-stream digest", off + n);
        off += n;
    }
    sx0 = kiln_xxh64_digest(&st0);
    sxs = kiln_xxh64_digest(&sts);
    if (sx0 != x0 || sxs != xs)
        fail("xxh64 streaming != one-shot", len);

    /* Misaligned input must hash the same. */
    for (off = 1; off < 8; off++) {
        memcpy(scratch + off, b, len);
        if (kiln_xxh64(scratch + off, len, SEED2) != xs)
            fail("xxh64 misaligned", len);
    }

    printf("%zu %016" PRIx64 " %016" PRIx64 " %016" PRIx64 " %016" PRIx64 "\n",
           len, x0, xs, sx0, sxs);
    free(b);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int bench(size_t mib) {
    size_t len = mib << 20;
    uint8_t *b = malloc(len);
    volatile uint64_t sink = 0;
    double best, t;
    int i;

    if (!b) {
        fprintf(stderr, "out of memory\n");
        return 2;
    }
    fill(b, len);

    sink ^= kiln_xxh64(b, len, 0); /* warm-up */
    best = 1e30;
    for (i = 0; i < 5; i++) {
        t = now();
        sink ^= kiln_xxh64(b, len, (uint64_t)i);
        t = now() - t;
        if (t < best)
            best = t;
    }
    printf("xxh64  one-shot %zu MiB: %.2f GB/s (best of 5, %.1f ms)\n", mib,
           (double)len / best / 1e9, best * 1e3);

    (void)sink;
    free(b);
    return 0;
}

int main(int argc, char **argv) {
    static const size_t extra[] = {1023, 1024, 4099, 65536 + 17, 1u << 20};
    uint8_t *scratch;
    size_t i;

    if (argc >= 2 && strcmp(argv[1], "bench") == 0) {
        long mib = argc >= 3 ? strtol(argv[2], NULL, 10) : 256;
        return bench(mib > 0 ? (size_t)mib : 256);
    }

    scratch = malloc((1u << 20) + 8);
    if (!scratch) {
        fprintf(stderr, "out of memory\n");
        return 2;
    }
    for (i = 0; i <= 300; i++)
        check_length(i, scratch);
    for (i = 0; i < sizeof extra / sizeof extra[0]; i++)
        check_length(extra[i], scratch);
    free(scratch);

    if (failures) {
        fprintf(stderr, "%d self-check failure(s)\n", failures);
        return 1;
    }
    return 0;
}
