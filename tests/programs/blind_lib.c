/* A library that allocates (loaded by blind_spots.c, with and without RTLD_DEEPBIND). */
#include <stdlib.h>

void *volatile lib_sink;

void lib_work(void) {
    void *p = malloc(5000);
    lib_sink = p;
    free(p);
}
