/* regions: what a region costs, timed inside the program (benches/README.md, "regions").
 *
 *     regions [N] [--alloc BYTES]
 *
 * Opens and closes N regions named "pair" in a loop (default 100000) and prints
 * "regions: N pairs, X ns/pair" on stdout: the loop's CLOCK_MONOTONIC time divided by N,
 * so the launcher's start-up and the table are not in it. Empty pairs by default; with
 * --alloc each region mallocs and frees BYTES inside (one allocation per sample, a known
 * answer). One pair before the clock starts resolves the API (the header's dlsym) and
 * makes the name known to the preload. Exit status 1 when a benchmem_region_end failed
 * under benchmem. Without benchmem the calls return at once (-1) and the loop measures the
 * header's wrappers. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchmem.h"

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
    uint64_t n = 100000;
    size_t alloc = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--alloc") && i + 1 < argc) {
            alloc = (size_t)strtoull(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--n") && i + 1 < argc) {
            n = strtoull(argv[++i], NULL, 10);
        } else {
            n = strtoull(argv[i], NULL, 10);
        }
    }
    benchmem_stats s;
    benchmem_region_end(benchmem_region_begin("warmup"), &s);

    int failed = 0;
    uint64_t t0 = now_ns();
    if (alloc == 0) {
        for (uint64_t i = 0; i < n; i++) {
            int id = benchmem_region_begin("pair");
            failed |= benchmem_region_end(id, NULL);
        }
    } else {
        for (uint64_t i = 0; i < n; i++) {
            int id = benchmem_region_begin("pair");
            void *volatile p = malloc(alloc);
            free(p);
            failed |= benchmem_region_end(id, NULL);
        }
    }
    uint64_t t1 = now_ns();
    double per = n ? (double)(t1 - t0) / (double)n : 0.0;
    printf("regions: %llu pairs, %.1f ns/pair\n", (unsigned long long)n, per);
    return benchmem_is_active() && failed ? 1 : 0;
}
