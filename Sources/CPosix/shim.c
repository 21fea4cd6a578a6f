#define _GNU_SOURCE
#include "CPosix.h"
#include <fcntl.h>
#include <sys/stat.h>

int shipper_birth_time(const char *path, int64_t *nanoseconds) {
#if defined(__linux__) && defined(STATX_BTIME)
    struct statx sx;
    if (statx(AT_FDCWD, path, 0, STATX_BTIME, &sx) != 0 || !(sx.stx_mask & STATX_BTIME)) return -1;
    *nanoseconds = (int64_t)sx.stx_btime.tv_sec * 1000000000 + (int64_t)sx.stx_btime.tv_nsec;
    return 0;
#else
    (void)path;
    (void)nanoseconds;
    return -1;
#endif
}
