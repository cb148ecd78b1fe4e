/* Every counted allocation call (README.md, "What it measures"), one region each, with
 * answers known by construction.
 * Nothing is printed inside a region (stdio allocates its buffer on first use). The
 * test (tests/tests/exactness.rs) holds the expected numbers next to each scenario. */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <fcntl.h>
#include "common.h"

#define KEEP(p) (sink = (p)) /* keeps the compiler from eliding allocations */

static void region(const char *name, void (*body)(void)) {
    benchmem_stats s;
    int id = benchmem_region_begin(name);
    body();
    benchmem_region_end(id, &s);
}

static void do_malloc(void) {
    void *a = malloc(100), *b = malloc(200);
    KEEP(a); KEEP(b);
    free(a); /* b is retained (leaked on purpose) */
}
static void do_calloc(void) { void *p = calloc(10, 30); KEEP(p); free(p); }
static void do_realloc_grow(void) {
    void *p = malloc(100); KEEP(p);
    p = realloc(p, 1000); KEEP(p);
} /* retained 1000 */
static void do_realloc_shrink(void) {
    void *p = malloc(1000); KEEP(p);
    p = realloc(p, 10); KEEP(p);
    free(p);
}
static void do_realloc_null(void) { void *p = realloc(NULL, 500); KEEP(p); free(p); }
static void do_realloc_zero(void) {
    void *p = malloc(64); KEEP(p);
    p = realloc(p, 0); /* glibc frees and returns NULL */
    KEEP(p);
}
static void do_reallocarray(void) {
    void *p = reallocarray(NULL, 10, 24); KEEP(p);
    p = reallocarray(p, 20, 24); KEEP(p);
    free(p);
}
static void do_posix_memalign(void) { void *p; if (posix_memalign(&p, 64, 1000) == 0) { KEEP(p); free(p); } }
static void do_aligned_alloc(void) { void *p = aligned_alloc(64, 512); KEEP(p); free(p); }
static void do_memalign(void) { void *p = memalign(128, 300); KEEP(p); free(p); }
static void do_valloc(void) { void *p = valloc(100); KEEP(p); free(p); }
static void do_pvalloc(void) { void *p = pvalloc(100); KEEP(p); free(p); }

static void do_mmap(void) {
    long pg = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(m + pg, pg);                                   /* partial: frees one page */
    char *r = mremap(m, pg, 2 * pg, MREMAP_MAYMOVE);      /* first page grows to two */
    /* not counted: a PROT_NONE reservation and a file mapping */
    void *res = mmap(NULL, 16 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int fd = open("/proc/self/exe", O_RDONLY);
    void *file = mmap(NULL, pg, PROT_READ, MAP_PRIVATE, fd, 0);
    munmap(file, pg);
    munmap(res, 16 * pg);
    close(fd);
    KEEP(r); /* r (2 pages) and the third page stay mapped: retained */
}

static void *before;
static void do_free_before(void) {
    free(before); /* allocated before the region: does not lower it */
    void *p = malloc(100); KEEP(p);
}

static void do_failures(void) {
    void *p = malloc(SIZE_MAX); KEEP(p);
    p = calloc(SIZE_MAX / 2, 4); KEEP(p);
    p = realloc(NULL, SIZE_MAX); KEEP(p);
    void *m = mmap(NULL, (size_t)1 << 62, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    KEEP(m);
}

static void do_empty(void) {}

static void do_nested(void) {
    void *pre = malloc(1000); KEEP(pre);          /* outer: +1000 */
    benchmem_stats s;
    int inner = benchmem_region_begin("inner");
    void *a = malloc(500); KEEP(a);               /* both: +500 */
    free(pre);                                    /* old for inner; lowers outer */
    void *b = malloc(300); KEEP(b);               /* both: +300 */
    free(a);
    benchmem_region_end(inner, &s);               /* inner: peak 800, retained 300 */
    free(b);
}

/* The Redis pattern: use every byte malloc_usable_size grants, grow in place with
 * realloc, then free. Our bookkeeping must survive the program writing all of it. */
static void do_usable(void) {
    static const size_t sizes[] = {0, 1, 24, 40, 100, 1000, 200000};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        char *p = malloc(sizes[i]);
        size_t u = malloc_usable_size(p);
        if (!p || u < sizes[i]) { fprintf(stderr, "usable %zu < %zu\n", u, sizes[i]); exit(3); }
        memset(p, 0xFF, u);
        KEEP(p);
        free(p);
    }
    char *q = malloc(50);
    size_t u = malloc_usable_size(q);
    memset(q, 0, u);
    q = realloc(q, 60);
    KEEP(q);
    memset(q, 0xEE, malloc_usable_size(q));
    free(q);
    if (malloc_usable_size(NULL) != 0) exit(4);
}

static void do_repeated(void) { void *p = malloc(256); KEEP(p); free(p); }

int main(void) {
    before = malloc(5000);
    KEEP(before);
    region("malloc", do_malloc);
    region("calloc", do_calloc);
    region("realloc_grow", do_realloc_grow);
    region("realloc_shrink", do_realloc_shrink);
    region("realloc_null", do_realloc_null);
    region("realloc_zero", do_realloc_zero);
    region("reallocarray", do_reallocarray);
    region("posix_memalign", do_posix_memalign);
    region("aligned_alloc", do_aligned_alloc);
    region("memalign", do_memalign);
    region("valloc", do_valloc);
    region("pvalloc", do_pvalloc);
    region("mmap", do_mmap);
    region("free_before", do_free_before);
    region("failures", do_failures);
    region("empty", do_empty);
    region("outer", do_nested);
    region("usable", do_usable);
    for (int i = 0; i < 3; i++) region("repeated", do_repeated);
    printf("done %ld\n", sysconf(_SC_PAGESIZE));
    return 0;
}
