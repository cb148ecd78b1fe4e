/* A position-dependent program that takes malloc's address: the linker gives it a
 * canonical PLT entry (an undefined `malloc` symbol with an address of its own), which the
 * loader's lookup of `malloc` finds first although the calls reach the preload. Built with
 * -no-pie, as Debian builds /usr/bin/python3. Region "known": one malloc(1000), freed. */
#include <stdio.h>

#include "common.h"

void *(*volatile allocate)(size_t);

int main(void) {
    /* Taken in code (an absolute address in position-dependent code), not in data. */
    allocate = malloc;
    int id = benchmem_region_begin("known");
    void *p = allocate(1000);
    sink = p;
    free(p);
    benchmem_region_end(id, NULL);
    printf("done\n");
    return 0;
}
