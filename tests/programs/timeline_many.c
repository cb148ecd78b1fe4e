/* 3,000 short regions, the i-th with one allocation of 1000 + i bytes: more spans than a
 * saved timeline keeps (500 per process, the highest peaks). */
#include <stdlib.h>

#include "common.h"

int main(void) {
    for (int i = 0; i < 3000; i++) {
        int id = benchmem_region_begin(i % 2 ? "odd" : "even");
        void *p = malloc(1000 + (size_t)i);
        sink = p;
        free(p);
        benchmem_region_end(id, NULL);
    }
    return 0;
}
