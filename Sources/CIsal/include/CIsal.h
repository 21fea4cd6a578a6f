#ifndef SHIPPER_CISAL_H
#define SHIPPER_CISAL_H
#include <stddef.h>
#include <stdint.h>

/// CRC-32C (Castagnoli) continued from `crc` (0 to start) over `n` bytes, with ISA-L's
/// hardware-accelerated implementation (SSE4.2/PCLMUL/AVX-512 chosen at run time).
uint32_t shipper_crc32c_update(uint32_t crc, const void *bytes, size_t n);

/// A reusable ISA-L igzip compressor (its 80 KiB stream state and level buffer are allocated once).
typedef struct shipper_igzip shipper_igzip;

/// level: 0 to 3 (ISA-L's levels; 1 is the fast default). NULL when out of memory or the level is unknown.
shipper_igzip *shipper_igzip_create(int level);
void shipper_igzip_destroy(shipper_igzip *c);

/// Room that is always enough for the compressed output of `n` input bytes.
size_t shipper_igzip_bound(size_t n);

/// Starts a gzip member (RFC 1952), fed in pieces with shipper_igzip_feed.
void shipper_igzip_begin(shipper_igzip *c);

/// Compresses up to `n` bytes of `in` into `out` (`cap` bytes of room); `last` marks the end of the
/// input. Sets `consumed` (input bytes taken) and `done` (the member is complete: only after
/// `last`, once everything is written). Returns the bytes written, or -1 when ISA-L failed. Call
/// again with the rest (and more room) until everything is consumed, and after `last` until `done`.
long shipper_igzip_feed(shipper_igzip *c, const void *in, size_t n, void *out, size_t cap, int last, size_t *consumed, int *done);

/// Decompresses `in` (`n` bytes), which must be exactly one gzip member (RFC 1952, its CRC-32
/// checked), into `out` (`cap` bytes of room), with ISA-L's inflate. Returns the bytes written, or
/// -1 when the input is anything else (not gzip, damaged, bytes after the member, more output than
/// `cap`, out of memory): callers then decode it the general way, which says what is wrong.
long shipper_gunzip_member(const void *in, size_t n, void *out, size_t cap);
#endif
