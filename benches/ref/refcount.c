/* refcount: a deliberately minimal reference interposer, used by `scripts/bench --selfcheck`
 * to validate the workloads' known answers independently of benchmem (and as the floor of
 * what LD_PRELOAD interposition costs). NOT a profiler: it hooks only
 * malloc/calloc/realloc/free, keeps a 16-byte header in front of every block (so it must be
 * preloaded from the very start and must not meet memalign'd blocks) and supports one
 * open region at a time. It exports the benchmem region API so that benches/*.c report
 * through benchmem_region_end exactly as under benchmem. */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define BENCHMEM_NO_WRAPPERS
#include "benchmem.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

#define MAGIC 0x5EC0DE5EC0DE0000ULL
#define HDR 16

static _Atomic uint64_t gen;        /* generation of the open region, 0 = none */
static _Atomic uint64_t live, peak, total, count;

static void on_alloc(uint64_t *h, size_t n) {
    uint64_t g = atomic_load_explicit(&gen, memory_order_relaxed);
    h[0] = n;
    h[1] = MAGIC ^ g;
    if (!g) return;
    atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&total, n, memory_order_relaxed);
    uint64_t l = atomic_fetch_add_explicit(&live, n, memory_order_relaxed) + n;
    uint64_t p = atomic_load_explicit(&peak, memory_order_relaxed);
    while (l > p && !atomic_compare_exchange_weak_explicit(&peak, &p, l, memory_order_relaxed,
                                                           memory_order_relaxed)) {
    }
}

/* Returns the header of p, or NULL when p carries none. */
static uint64_t *hdr_of(void *p) {
    uint64_t *h = (uint64_t *)((char *)p - HDR);
    return ((h[1] ^ MAGIC) >> 16) == 0 ? h : NULL;
}

static void on_free(uint64_t *h) {
    uint64_t g = atomic_load_explicit(&gen, memory_order_relaxed);
    if (g && (h[1] ^ MAGIC) == g) atomic_fetch_sub_explicit(&live, h[0], memory_order_relaxed);
    h[1] = 0;
}

void *malloc(size_t n) {
    uint64_t *h = __libc_malloc(n + HDR);
    if (!h) return NULL;
    on_alloc(h, n);
    return (char *)h + HDR;
}

void *calloc(size_t a, size_t b) {
    size_t n;
    if (__builtin_mul_overflow(a, b, &n)) return NULL;
    uint64_t *h = __libc_calloc(1, n + HDR);
    if (!h) return NULL;
    on_alloc(h, n);
    return (char *)h + HDR;
}

void free(void *p) {
    if (!p) return;
    uint64_t *h = hdr_of(p);
    if (!h) { __libc_free(p); return; }
    on_free(h);
    __libc_free(h);
}

void *realloc(void *p, size_t n) {
    if (!p) return malloc(n);
    uint64_t *h = hdr_of(p);
    if (!h) return __libc_realloc(p, n);
    uint64_t old_n = h[0], old_tag = h[1];
    uint64_t *nh = __libc_realloc(h, n + HDR);
    if (!nh) return NULL;
    nh[0] = old_n;
    nh[1] = old_tag;
    on_free(nh);
    on_alloc(nh, n);
    return (char *)nh + HDR;
}

int benchmem_region_begin(const char *name) {
    (void)name;
    atomic_store(&live, 0);
    atomic_store(&peak, 0);
    atomic_store(&total, 0);
    atomic_store(&count, 0);
    static uint64_t next = 0;
    uint64_t g = ++next;
    atomic_store(&gen, g);
    return (int)g;
}

int benchmem_region_end(int id, benchmem_stats *out) {
    if ((uint64_t)id != atomic_load(&gen)) return -1;
    if (out) {
        out->peak_bytes = atomic_load(&peak);
        out->total_bytes = atomic_load(&total);
        out->allocations = atomic_load(&count);
        out->retained_bytes = atomic_load(&live);
    }
    atomic_store(&gen, 0);
    return 0;
}

int benchmem_is_active(void) { return 1; }
