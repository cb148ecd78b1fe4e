/* Marks two regions in a C program (the region API of include/benchmem.h). Build and run:
 *
 *     gcc -O2 -I include examples/churn.c -o churn
 *     benchmem run -- ./churn
 *
 * Without benchmem it runs unchanged: the header's wrappers find no preload and do nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "benchmem.h"

/* Builds a list of n strings, then frees it: peak = n * (16 + 32), all of it churn. */
static void build_list(int n) {
    char **items = malloc(n * sizeof *items);
    for (int i = 0; i < n; i++) {
        items[i] = malloc(32);
        snprintf(items[i], 32, "item %d", i);
    }
    for (int i = 0; i < n; i++) free(items[i]);
    free(items);
}

int main(void) {
    benchmem_stats s;
    int id = benchmem_region_begin("build_list");
    build_list(100000);
    benchmem_region_end(id, &s);

    id = benchmem_region_begin("grow_buffer");
    char *buf = NULL;
    for (size_t n = 1; n <= 1 << 20; n *= 2) buf = realloc(buf, n); /* 21 reallocs */
    memset(buf, 1, 1 << 20);
    free(buf);
    benchmem_region_end(id, &s);

    printf("grow_buffer: peak %llu bytes in %llu allocations\n",
           (unsigned long long)s.peak_bytes, (unsigned long long)s.allocations);
    return 0;
}
