/* A library the stacks test program loads with dlopen after it started: its allocations'
 * frames are in an object the preload did not list at start. */
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) void *lib_alloc(size_t n) {
    char *p = malloc(n);
    memset(p, 2, n);
    __asm__ volatile("" ::: "memory");
    return p;
}
