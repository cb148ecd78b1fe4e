/* Shared helpers for the benchmem overhead workloads (benches/README.md).
 *
 * Everything here is allocation-free: the workloads compute their known answers in plain
 * static arrays or on the stack, so the bookkeeping never shows up in the region they
 * measure. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchmem.h"

#ifdef __cplusplus
extern "C" {
#endif

/* xorshift64*: deterministic, seeded, no state outside the struct. */
typedef struct { uint64_t s; } bench_rng;

static inline uint64_t bench_next(bench_rng *r) {
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* A size in [lo, hi], both inclusive. */
static inline size_t bench_size(bench_rng *r, size_t lo, size_t hi) {
    return lo + (size_t)(bench_next(r) % (uint64_t)(hi - lo + 1));
}

/* Known answer of one region. For the 2-thread workload the peak is only known within
 * [peak_min, peak_max]; for the others peak_min == peak_max == the exact peak. */
typedef struct {
    uint64_t peak_min, peak_max, total, allocations, retained;
} bench_expect;

/* Command line: [--n COUNT] [--expect PATH]. Returns COUNT or `dflt`. */
static inline uint64_t bench_args(int argc, char **argv, uint64_t dflt, const char **expect) {
    uint64_t n = dflt;
    *expect = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--n") && i + 1 < argc) {
            n = strtoull(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--expect") && i + 1 < argc) {
            *expect = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--n COUNT] [--expect PATH]\n", argv[0]);
            exit(2);
        }
    }
    return n;
}

/* Writes the known answer and what benchmem_region_end returned in-process (api_rc < 0:
 * not under a profiler) as one JSON object. Called after the region has ended. */
static inline void bench_write_expect(const char *path, const char *workload, uint64_t n,
                                      const bench_expect *e, int api_rc,
                                      const benchmem_stats *s) {
    FILE *f = fopen(path, "w");
    if (!f) { perror(path); exit(3); }
    fprintf(f,
            "{\"workload\": \"%s\", \"n\": %llu, \"region\": \"work\",\n"
            " \"expect\": {\"peak_bytes_min\": %llu, \"peak_bytes_max\": %llu,"
            " \"total_bytes\": %llu, \"allocations\": %llu, \"retained_bytes\": %llu},\n"
            " \"api_rc\": %d,\n"
            " \"api\": {\"peak_bytes\": %llu, \"total_bytes\": %llu, \"allocations\": %llu,"
            " \"retained_bytes\": %llu}}\n",
            workload, (unsigned long long)n, (unsigned long long)e->peak_min,
            (unsigned long long)e->peak_max, (unsigned long long)e->total,
            (unsigned long long)e->allocations, (unsigned long long)e->retained, api_rc,
            (unsigned long long)s->peak_bytes, (unsigned long long)s->total_bytes,
            (unsigned long long)s->allocations, (unsigned long long)s->retained_bytes);
    fclose(f);
}

#ifdef __cplusplus
}
#endif

#endif
