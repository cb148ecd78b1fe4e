/* A program with an allocator of its own, linked in: a bump allocator over one mmap'd
 * 64 MiB chunk (frees are no-ops). Built plain, it defines malloc itself (as a statically
 * linked jemalloc, tcmalloc or mimalloc does); with -DPREFIXED it names it je_malloc and
 * calls that (as Rust's jemallocator does with _rjem_malloc). Region "work" allocates 1000
 * bytes through it. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include "benchmem.h"

static char *chunk;
static size_t used;

static void *bump(size_t n) {
    if (!chunk) {
        chunk = mmap(NULL, 64 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (chunk == MAP_FAILED) return NULL;
    }
    size_t at = (used + 15) & ~(size_t)15;
    if (at + n + 16 > (size_t)(64 << 20)) return NULL;
    used = at + 16 + n;
    memcpy(chunk + at, &n, sizeof n);
    return chunk + at + 16;
}

#ifdef PREFIXED
void *je_malloc(size_t n) { return bump(n); }
void je_free(void *p) { (void)p; }
#define ALLOC je_malloc
#define FREE je_free
#else
void *malloc(size_t n) { return bump(n); }
void free(void *p) { (void)p; }
void *calloc(size_t n, size_t s) { return bump(n * s); /* fresh mmap memory is zero */ }
void *realloc(void *p, size_t n) {
    void *q = bump(n);
    if (p && q) {
        size_t old;
        memcpy(&old, (char *)p - 16, sizeof old);
        memcpy(q, p, old < n ? old : n);
    }
    return q;
}
#define ALLOC malloc
#define FREE free
#endif

int main(void) {
    int id = benchmem_region_begin("work");
    void *volatile p = ALLOC(1000);
    FREE(p);
    benchmem_region_end(id, NULL);
    printf("done\n");
    return 0;
}
