#include "CMalloc.h"
#include <stdlib.h>  // first: defines __GLIBC__ on glibc
#if defined(__GLIBC__)
#include <malloc.h>
#endif

void shipper_bound_malloc(int arenas, int mmap_threshold) {
#if defined(__GLIBC__)
    mallopt(M_ARENA_MAX, arenas);
    mallopt(M_MMAP_THRESHOLD, mmap_threshold);
    // Setting the mmap threshold also fixes the trim threshold at 128 KiB: every free() that left
    // that much free at the heap's top gave it back, and the next allocation there (a step's read
    // buffer, a batch's arrays) faulted fresh pages in again. Free pages go back on a timer
    // instead (shipper_release_free_memory).
    mallopt(M_TRIM_THRESHOLD, 16 << 20);
#else
    (void)arenas;
    (void)mmap_threshold;
#endif
}

// Runs before main, before any thread exists: an arena limit set later does not take back the
// arenas threads already made. One arena (the threads that allocate per event are the pipeline
// worker and the output; they rarely allocate at the same moment) and blocks of 256 KiB and more
// mapped and unmapped: peak RSS then follows the configured batch sizes. Measured on
// Benchmarks/e2e.sh: 124 MiB with glibc's defaults, 63 MiB with these, at the same CPU. The
// environment variables MALLOC_ARENA_MAX and MALLOC_MMAP_THRESHOLD_ still override them.
__attribute__((constructor)) static void shipper_bound_malloc_at_start(void) {
#if defined(__GLIBC__)
    if (getenv("MALLOC_ARENA_MAX") == NULL && getenv("MALLOC_MMAP_THRESHOLD_") == NULL) shipper_bound_malloc(1, 256 << 10);
#endif
}

void shipper_malloc_is_bounded(void) {}

void shipper_release_free_memory(void) {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}
