/* One benchmark in two builds: region "build" allocates GROW KiB (default 1), so a
 * build with -DGROW=2 allocates twice as much. Arguments are ignored: they differ between
 * the two runs being compared, as a pull request's options may. */
#include <stdlib.h>

#include "benchmem.h"

#ifndef GROW
#define GROW 1
#endif

int main(void) {
    benchmem_stats s;
    int id = benchmem_region_begin("build");
    char *p = malloc(GROW * 1024);
    p[0] = 1;
    free(p);
    benchmem_region_end(id, &s);
    return 0;
}
