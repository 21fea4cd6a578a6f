#ifndef SHIPPER_CMALLOC_H
#define SHIPPER_CMALLOC_H

/// Limits glibc malloc's retained memory: at most `arenas` arenas, and blocks of `mmap_threshold`
/// bytes and more mapped (and unmapped when freed). A no-op where malloc is not glibc's.
void shipper_bound_malloc(int arenas, int mmap_threshold);

/// Does nothing; referencing it links the object whose constructor bounds malloc before main.
void shipper_malloc_is_bounded(void);

/// Gives the free pages inside malloc's heap back to the system (glibc: malloc_trim(0), which also
/// releases whole free pages in the middle of the heap, not only at its top). A no-op elsewhere.
void shipper_release_free_memory(void);
#endif
