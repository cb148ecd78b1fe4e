/* Exact counts under another allocator (jemalloc preloaded or linked): region "c" uses the
 * malloc family (jemalloc maps its own arenas inside those calls: not counted again),
 * region "big" a 16 MiB block (a jemalloc huge extent), region "cxx" operator new/delete
 * (which jemalloc also provides, bypassing malloc). Prints which allocator is in charge. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"

int main(int argc, char **argv) {
    printf("jemalloc in charge: %s\n", dlsym(RTLD_DEFAULT, "mallctl") ? "yes" : "no");
    fflush(stdout);
    int id = benchmem_region_begin("c");
    void *a = malloc(1000);
    void *b = calloc(10, 10);
    a = realloc(a, 5000);
    void *c;
    if (posix_memalign(&c, 64, 256) != 0) return 1;
    void *d = aligned_alloc(4096, 8192);
    sink = a; sink = b; sink = c; sink = d;
    free(a); free(b); free(c); free(d);
    benchmem_region_end(id, NULL);

    id = benchmem_region_begin("big");
    void *big = malloc(16 << 20);
    memset(big, 1, 16 << 20);
    free(big);
    benchmem_region_end(id, NULL);

    if (argc > 1 && strcmp(argv[1], "cxx") == 0) {
        id = benchmem_region_begin("cxx");
        char *x = new char[1000];
        int *y = new int(7);
        sink = x; sink = y;
        delete[] x;
        delete y;
        benchmem_region_end(id, NULL);
    }
    printf("done\n");
    return 0;
}
