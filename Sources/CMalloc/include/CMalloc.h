#ifndef SHIPPER_CMALLOC_H
#define SHIPPER_CMALLOC_H

/// Limits glibc malloc's retained memory: at most `arenas` arenas, and blocks of `mmap_threshold`
/// bytes and more mapped (and unmapped when freed). A no-op where malloc is not glibc's.
void shipper_bound_malloc(int arenas, int mmap_threshold);

/// Does nothing; referencing it links the object whose constructor bounds malloc before main.
void shipper_malloc_is_bounded(void);
#endif
