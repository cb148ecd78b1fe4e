/* Allocation calls that fail, inside region "fail": each prints what it returned and the
 * errno it left, which must be exactly libc's. Region "fail" must count nothing. Then
 * errno must survive successful calls and the region API untouched. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include "benchmem.h"

#define SHOW(what, failed) \
    printf("%-28s %s errno %d\n", what, (failed) ? "failed" : "SUCCEEDED", errno)

int main(void) {
    void *p, *q = malloc(10);
    printf("start\n");
    fflush(stdout);
    int id = benchmem_region_begin("fail");
    errno = 0; p = malloc(SIZE_MAX); SHOW("malloc(SIZE_MAX)", p == NULL);
    errno = 0; p = malloc(SIZE_MAX / 2); SHOW("malloc(SIZE_MAX/2)", p == NULL);
    errno = 0; p = calloc(SIZE_MAX / 2, 4); SHOW("calloc overflow", p == NULL);
    errno = 0; p = calloc(1, SIZE_MAX); SHOW("calloc(1, SIZE_MAX)", p == NULL);
    errno = 0; p = realloc(q, SIZE_MAX); SHOW("realloc(q, SIZE_MAX)", p == NULL);
    errno = 0; p = realloc(NULL, SIZE_MAX); SHOW("realloc(NULL, SIZE_MAX)", p == NULL);
    errno = 0; p = reallocarray(q, SIZE_MAX, 2); SHOW("reallocarray overflow", p == NULL);
    errno = 0; p = reallocarray(NULL, SIZE_MAX / 2, 4); SHOW("reallocarray(NULL) ovf", p == NULL);
    errno = 0; { int rc = posix_memalign(&p, 3, 64); SHOW("posix_memalign(3)", rc != 0); printf("  rc %d\n", rc); }
    errno = 0; { int rc = posix_memalign(&p, 64, SIZE_MAX); SHOW("posix_memalign(SIZE_MAX)", rc != 0); printf("  rc %d\n", rc); }
    errno = 0; p = aligned_alloc(64, SIZE_MAX); SHOW("aligned_alloc(SIZE_MAX)", p == NULL);
    errno = 0; p = memalign(4096, SIZE_MAX - 100); SHOW("memalign(SIZE_MAX)", p == NULL);
    errno = 0; p = valloc(SIZE_MAX); SHOW("valloc(SIZE_MAX)", p == NULL);
    errno = 0; p = pvalloc(SIZE_MAX); SHOW("pvalloc(SIZE_MAX)", p == NULL);
    errno = 0; p = mmap(NULL, 0, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    SHOW("mmap(len 0)", p == MAP_FAILED);
    errno = 0; p = mmap(NULL, (size_t)1 << 62, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    SHOW("mmap(2^62)", p == MAP_FAILED);
    errno = 0; p = mmap((void *)12345, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    SHOW("mmap(MAP_FIXED unaligned)", p == MAP_FAILED);
    errno = 0; p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 987, 0); SHOW("mmap(bad fd)", p == MAP_FAILED);
    errno = 0; p = mmap64(NULL, 0, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    SHOW("mmap64(len 0)", p == MAP_FAILED);
    errno = 0; { int rc = munmap((void *)12345, 4096); SHOW("munmap(unaligned)", rc != 0); }
    errno = 0; p = mremap((void *)4096, 4096, 8192, 0); SHOW("mremap(unmapped)", p == MAP_FAILED);
    benchmem_stats s;
    benchmem_region_end(id, &s);
    free(q);
    /* errno is the program's: successful calls and the region API leave it alone. */
    errno = 4242; p = malloc(100); free(p); printf("errno after malloc/free %d\n", errno);
    errno = 4343; id = benchmem_region_begin("ok"); p = calloc(3, 7); p = realloc(p, 300);
    free(p); benchmem_region_end(id, NULL); printf("errno after region %d\n", errno);
    errno = 4444;
    p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(p, 8192); printf("errno after mmap/munmap %d\n", errno);
    return 0;
}
