/* benchmem region API (what a region measures: docs/architecture.md, "Regions").
 *
 * Include this header and mark regions:
 *
 *     int id = benchmem_region_begin("parse");
 *     ... work ...
 *     benchmem_stats s;
 *     benchmem_region_end(id, &s);     // s.peak_bytes, s.total_bytes, ...
 *
 * The functions below are static inline wrappers that look the preload's symbols up at
 * run time (dlsym RTLD_DEFAULT), so the program builds without benchmem and runs
 * unchanged without it: begin returns -1, end returns -1 and zeroes the stats,
 * is_active returns 0. Define BENCHMEM_NO_WRAPPERS to get plain declarations instead
 * (then link against, or preload, libbenchmem_preload.so).
 */
#ifndef BENCHMEM_H
#define BENCHMEM_H

#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Counters of one region sample, all in bytes except allocations (a count). */
typedef struct benchmem_stats {
    uint64_t peak_bytes;     /* high-water of live bytes allocated inside the region */
    uint64_t total_bytes;    /* sum of requested sizes of every allocation in the region */
    uint64_t allocations;    /* successful allocation calls in the region */
    uint64_t retained_bytes; /* bytes allocated in the region still live at its end */
} benchmem_stats;

#ifdef BENCHMEM_NO_WRAPPERS

int benchmem_region_begin(const char *name);
int benchmem_region_end(int id, benchmem_stats *out);
int benchmem_is_active(void);

#else

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <dlfcn.h>

typedef int (*benchmem_begin_fn)(const char *);
typedef int (*benchmem_end_fn)(int, benchmem_stats *);
typedef int (*benchmem_active_fn)(void);

/* The preload's entry points, looked up together on first use so that the look-up
 * (dlsym may allocate) happens before any region opens, never inside one. */
static struct {
    int resolved;
    benchmem_begin_fn begin;
    benchmem_end_fn end;
    benchmem_active_fn active;
} benchmem__api;

static inline void benchmem__resolve(void) {
    if (benchmem__api.resolved) return;
    benchmem__api.begin = (benchmem_begin_fn)dlsym(RTLD_DEFAULT, "benchmem_region_begin");
    benchmem__api.end = (benchmem_end_fn)dlsym(RTLD_DEFAULT, "benchmem_region_end");
    benchmem__api.active = (benchmem_active_fn)dlsym(RTLD_DEFAULT, "benchmem_is_active");
    benchmem__api.resolved = 1;
}

/* Opens a region named `name`; returns its id (>= 0), or < 0 when not profiled or on error. */
static inline int benchmem_region_begin(const char *name) {
    benchmem__resolve();
    return benchmem__api.begin ? benchmem__api.begin(name) : -1;
}

/* Closes region `id`, filling `out` (may be NULL); returns 0 on success. */
static inline int benchmem_region_end(int id, benchmem_stats *out) {
    benchmem__resolve();
    if (benchmem__api.end) return benchmem__api.end(id, out);
    if (out) memset(out, 0, sizeof *out);
    return -1;
}

/* 1 when running under the benchmem preload, else 0. */
static inline int benchmem_is_active(void) {
    benchmem__resolve();
    return benchmem__api.active ? benchmem__api.active() : 0;
}

#endif /* BENCHMEM_NO_WRAPPERS */

#ifdef __cplusplus
}
#endif

#endif /* BENCHMEM_H */
