#ifndef SHIPPER_CPOSIX_H
#define SHIPPER_CPOSIX_H
#include <stdint.h>

/// The birth time of the file at `path` (symbolic links followed), in nanoseconds since the
/// epoch: statx(2)'s `stx_btime`. Returns 0 and sets `*nanoseconds` when the file system reports
/// it (ext4, xfs, btrfs, tmpfs since Linux 5.12, overlayfs on those), -1 when it does not or the
/// file cannot be examined.
int shipper_birth_time(const char *path, int64_t *nanoseconds);
#endif
