#ifndef SHIPPER_CZLIB_H
#define SHIPPER_CZLIB_H
#include <zlib.h>

static inline int shipper_deflateInit2(z_streamp strm, int level, int windowBits) {
    return deflateInit2(strm, level, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY);
}

static inline int shipper_inflateInit2(z_streamp strm, int windowBits) {
    return inflateInit2(strm, windowBits);
}
#endif
