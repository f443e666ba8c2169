// A system call Swift's Glibc module does not expose.
#define _GNU_SOURCE
#include <fcntl.h>
#include "CKernels.h"

int tl_start_writeback(int fd, long long offset, long long length) {
#ifdef __linux__
    return sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd; (void)offset; (void)length;
    return 0;
#endif
}
