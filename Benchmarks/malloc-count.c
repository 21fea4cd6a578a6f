// Counts heap allocations of a whole process (LD_PRELOAD) and prints the count at exit:
//   LD_PRELOAD=./libmalloccount.so shipper bench --lines 100000
// Used by Benchmarks/bench.sh to report allocations per line (difference of two runs / lines).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_ulong allocations;
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);

// dlsym may call calloc before real_calloc is known: serve it from a static area.
static char bootstrap[4096];
static size_t bootstrap_used;

static void init(void) {
    real_malloc = dlsym(RTLD_NEXT, "malloc");
    real_calloc = dlsym(RTLD_NEXT, "calloc");
    real_realloc = dlsym(RTLD_NEXT, "realloc");
    real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
    real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
}

void *malloc(size_t n) {
    if (!real_malloc) init();
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return real_malloc(n);
}

void *calloc(size_t a, size_t b) {
    if (!real_calloc) {
        size_t n = a * b;
        if (bootstrap_used + n <= sizeof bootstrap) {
            void *p = bootstrap + bootstrap_used;
            bootstrap_used += (n + 15) & ~(size_t)15;
            return p;
        }
        init();
    }
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return real_calloc(a, b);
}

void *realloc(void *p, size_t n) {
    if (!real_realloc) init();
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return real_realloc(p, n);
}

int posix_memalign(void **p, size_t align, size_t n) {
    if (!real_posix_memalign) init();
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return real_posix_memalign(p, align, n);
}

void *aligned_alloc(size_t align, size_t n) {
    if (!real_aligned_alloc) init();
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return real_aligned_alloc(align, n);
}

void free(void *p) {
    static void (*real_free)(void *);
    if ((char *)p >= bootstrap && (char *)p < bootstrap + sizeof bootstrap) return;
    if (!real_free) real_free = dlsym(RTLD_NEXT, "free");
    real_free(p);
}

__attribute__((destructor)) static void report(void) {
    char line[64];
    int n = snprintf(line, sizeof line, "allocations: %lu\n", (unsigned long)atomic_load(&allocations));
    if (n > 0) (void)!write(2, line, (size_t)n);
}

// Read by `shipper bench` (through dlsym) to count the allocations of the measured loop alone.
unsigned long shipper_allocation_count(void) { return atomic_load(&allocations); }
