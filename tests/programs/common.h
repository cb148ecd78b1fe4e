/* Shared by the test programs (included as "common.h": found next to the including file,
 * so the harness needs no extra -I). Not a program itself. */
#ifndef TEST_PROGRAMS_COMMON_H
#define TEST_PROGRAMS_COMMON_H

#include <stdlib.h>

#include "benchmem.h"

/* A volatile pointer: every store to it is kept, and with it the allocation stored. */
static void *volatile sink;

/* Region `name` around one malloc(n) / free pair. */
static inline void work(const char *name, size_t n) {
    int id = benchmem_region_begin(name);
    void *p = malloc(n);
    sink = p;
    free(p);
    benchmem_region_end(id, NULL);
}

#endif
