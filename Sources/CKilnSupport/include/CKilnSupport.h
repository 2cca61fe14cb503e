/*
 * CKilnSupport — small portable C helpers for Kiln.
 *
 *   - XXH64 (non-cryptographic 64-bit hash), per the xxHash specification.
 *   - SHA-256, per FIPS 180-4.
 *
 * Plain C11; depends only on <stdint.h> and <stddef.h>. Inputs may have any
 * alignment, and results are identical on little- and big-endian hosts.
 * State objects are plain values: they can be copied, live on the stack and
 * need no cleanup. They are not safe for concurrent use from several threads.
 */
#ifndef CKILNSUPPORT_H
#define CKILNSUPPORT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- XXH64 -- */

/*
 * Streaming XXH64 state. The layout of `opaque` is PRIVATE to the
 * implementation and may change; only use the functions below on it.
 */
typedef struct {
    uint64_t opaque[11];
} kiln_xxh64_state;

/* Start a new hash with the given seed. May be called again to reuse `s`. */
void kiln_xxh64_reset(kiln_xxh64_state *s, uint64_t seed);

/* Feed `len` bytes. `data` may be NULL when `len` is 0. Chunking does not
 * affect the result: any split of the input gives the one-shot digest. */
void kiln_xxh64_update(kiln_xxh64_state *s, const void *data, size_t len);

/* Digest of everything fed so far. Does not modify `s`; more data may be
 * fed afterwards. */
uint64_t kiln_xxh64_digest(const kiln_xxh64_state *s);

/* One-shot XXH64 of `len` bytes at `data` (NULL allowed when `len` is 0). */
uint64_t kiln_xxh64(const void *data, size_t len, uint64_t seed);

/* -------------------------------------------------------------- SHA-256 -- */

#define KILN_SHA256_DIGEST_LENGTH 32
#define KILN_SHA256_BLOCK_LENGTH 64

/*
 * Streaming SHA-256 state. The fields are PRIVATE to the implementation and
 * may change; only use the functions below on it.
 */
typedef struct {
    uint32_t h_[8];        /* chaining value */
    uint64_t total_;       /* total bytes fed */
    uint8_t  buf_[64];     /* partial block */
    uint32_t buflen_;      /* bytes used in buf_ (0..63) */
} kiln_sha256_state;

/* Start a new hash. May be called again to reuse `s`. */
void kiln_sha256_init(kiln_sha256_state *s);

/* Feed `len` bytes. `data` may be NULL when `len` is 0. */
void kiln_sha256_update(kiln_sha256_state *s, const void *data, size_t len);

/* Write the 32-byte digest to `out`. Afterwards `s` is consumed: call
 * kiln_sha256_init before using it again. */
void kiln_sha256_final(kiln_sha256_state *s, uint8_t out[32]);

#ifdef __cplusplus
}
#endif

#endif /* CKILNSUPPORT_H */
