/* Starting writeback early: Linux's sync_file_range is behind _GNU_SOURCE, which the
 * Swift Glibc module does not define, so Swift reaches it through here. */
#define _GNU_SOURCE
#include "CKilnSupport.h"

#ifdef __linux__
#include <fcntl.h>
#endif

void kiln_start_writeback(int fd, int64_t offset, int64_t length) {
#ifdef __linux__
    /* Advisory: any I/O error is reported again by the fsync that commits the file. */
    (void)sync_file_range(fd, (off_t)offset, (off_t)length, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd;
    (void)offset;
    (void)length;
#endif
}
