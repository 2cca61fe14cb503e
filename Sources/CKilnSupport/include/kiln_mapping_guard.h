/*
 * Mapped-file fault guard: turns SIGBUS while reading a memory-mapped input (the file was
 * truncated or changed under Kiln, or its disk failed) into a clear error message and exit
 * status 2, instead of a crash. Mappings register their range and path; the handler looks the
 * faulting address up and prints, with async-signal-safe calls only:
 *
 *   <program>: error: <path>: byte <offset>: the file shrank or could not be read while mapped (SIGBUS)
 *
 * A fault outside every registered mapping is re-raised with the default action, so real bugs
 * still crash loudly. Linux and macOS.
 */
#ifndef KILN_MAPPING_GUARD_H
#define KILN_MAPPING_GUARD_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Installs the handler (idempotent). `program` prefixes the message ("kiln", "kiln-run");
 * it is copied. Returns 0, or -1 with errno set if sigaction failed. */
int kiln_mapping_guard_install(const char *program);

/* Records a mapping; `path` is copied (truncated to 1 KiB). Returns a slot number for
 * `kiln_mapping_guard_remove`, or -1 when the table is full (the mapping is then simply not
 * guarded). Safe to call from several threads. */
int kiln_mapping_guard_add(const void *base, size_t length, const char *path);

void kiln_mapping_guard_remove(int slot);

/* Finds the guarded mapping holding `address`: copies its path into `path` (NUL-terminated,
 * cut to `capacity`), stores the address's byte offset in it, and returns 1; returns 0 when
 * no guarded mapping holds it. For errors that are not signals: write(2) from a mapping whose
 * file shrank fails with EFAULT instead of faulting, and the writer names the source with this. */
int kiln_mapping_guard_lookup(const void *address, char *path, size_t capacity, size_t *offset);

#ifdef __cplusplus
}
#endif

#endif
