/*
 * CKilnSupport — small portable C helpers for Kiln.
 *
 *   - XXH64 (non-cryptographic 64-bit hash), per the xxHash specification.
 *     Kept here rather than taken from a package: no XXH64 is among the Swift
 *     packages Kiln may depend on, and this one runs at memory speed already
 *     (6-14 GB/s per core, `kiln-run bench --hashes`), above what a disk delivers.
 *
 *   - Starting a file's writeback early (sync_file_range, which Swift cannot
 *     reach on Linux without _GNU_SOURCE).
 *
 * SHA-256 is not here: it comes from swift-crypto (see KilnCore/Hashing).
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

#include "kiln_compare.h"
#include "kiln_mapping_guard.h"

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

/* ------------------------------------------------------------ writeback -- */

/* Asks the kernel to start writing `length` bytes at `offset` of the file to
 * disk and returns without waiting (Linux: sync_file_range with
 * SYNC_FILE_RANGE_WRITE; elsewhere nothing). Errors are left to fsync. */
void kiln_start_writeback(int fd, int64_t offset, int64_t length);

#ifdef __cplusplus
}
#endif

#endif /* CKILNSUPPORT_H */
