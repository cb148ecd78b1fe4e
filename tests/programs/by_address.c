/* Allocates as many blocks as an address tells it: region "by_address" makes
 * 1 + (bits 12..14 of a stack address) allocations of 100 bytes. Under address-space
 * randomization that count changes from run to run; with fixed addresses it never does. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "common.h"

int main(void) {
    int local;
    unsigned k = 1 + (unsigned)(((uintptr_t)&local >> 12) & 7);
    int id = benchmem_region_begin("by_address");
    for (unsigned i = 0; i < k; i++) {
        sink = malloc(100);
        free(sink);
    }
    benchmem_region_end(id, NULL);
    printf("%u\n", k);
    return 0;
}
