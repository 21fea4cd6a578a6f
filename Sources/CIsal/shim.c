#include "CIsal.h"
#include <isa-l.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

uint32_t shipper_crc32c_update(uint32_t crc, const void *bytes, size_t n) {
    // ISA-L's crc32_iscsi neither inverts its input nor its output; the standard CRC-32C does both.
    uint32_t c = ~crc;
    const unsigned char *p = bytes;
    while (n > 0) {
        int chunk = n > (size_t)(INT_MAX / 2) ? INT_MAX / 2 : (int)n;
        c = crc32_iscsi((unsigned char *)p, chunk, c);
        p += chunk;
        n -= (size_t)chunk;
    }
    return ~c;
}

struct shipper_igzip {
    struct isal_zstream stream;
    int level;
    uint32_t level_buf_size;
    uint8_t *level_buf;
};

static uint32_t level_buffer_size(int level) {
    switch (level) {
    case 0: return 0;
    case 1: return ISAL_DEF_LVL1_DEFAULT;
    case 2: return ISAL_DEF_LVL2_DEFAULT;
    case 3: return ISAL_DEF_LVL3_DEFAULT;
    default: return UINT32_MAX;
    }
}

shipper_igzip *shipper_igzip_create(int level) {
    uint32_t size = level_buffer_size(level);
    if (size == UINT32_MAX) return NULL;
    shipper_igzip *c = calloc(1, sizeof(shipper_igzip));
    if (c == NULL) return NULL;
    c->level = level;
    c->level_buf_size = size;
    if (size > 0) {
        c->level_buf = malloc(size);
        if (c->level_buf == NULL) {
            free(c);
            return NULL;
        }
    }
    return c;
}

void shipper_igzip_destroy(shipper_igzip *c) {
    if (c == NULL) return;
    free(c->level_buf);
    free(c);
}

size_t shipper_igzip_bound(size_t n) {
    // Stored blocks cost 5 bytes per 64 KiB at worst; headers, trailer and a margin on top.
    return n + n / 64 + 1024;
}

void shipper_igzip_begin(shipper_igzip *c) {
    struct isal_zstream *s = &c->stream;
    isal_deflate_init(s);
    s->level = (uint32_t)c->level;
    s->level_buf = c->level_buf;
    s->level_buf_size = c->level_buf_size;
    s->gzip_flag = IGZIP_GZIP;
    s->end_of_stream = 0;
    s->flush = NO_FLUSH;
}

long shipper_igzip_feed(shipper_igzip *c, const void *in, size_t n, void *out, size_t cap, int last, size_t *consumed, int *done) {
    if (n > UINT32_MAX || cap > UINT32_MAX) return -1;
    struct isal_zstream *s = &c->stream;
    s->end_of_stream = last ? 1 : 0;
    s->next_in = (uint8_t *)in;
    s->avail_in = (uint32_t)n;
    s->next_out = out;
    s->avail_out = (uint32_t)cap;
    if (isal_deflate(s) != COMP_OK) return -1;
    *consumed = n - s->avail_in;
    *done = s->internal_state.state == ZSTATE_END;
    return (long)(cap - s->avail_out);
}

long shipper_gunzip_member(const void *in, size_t n, void *out, size_t cap) {
    if (n > UINT32_MAX || cap > UINT32_MAX) return -1;
    // The state holds the 32 KiB window and the decoding tables: too big for a thread's stack.
    struct inflate_state *s = malloc(sizeof(struct inflate_state));
    if (s == NULL) return -1;
    isal_inflate_init(s);
    s->crc_flag = ISAL_GZIP;
    s->next_in = (uint8_t *)in;
    s->avail_in = (uint32_t)n;
    s->next_out = out;
    s->avail_out = (uint32_t)cap;
    int status = isal_inflate(s);
    long written = (long)(cap - s->avail_out);
    int whole = status == ISAL_DECOMP_OK && s->block_state == ISAL_BLOCK_FINISH && s->avail_in == 0;
    free(s);
    return whole ? written : -1;
}
