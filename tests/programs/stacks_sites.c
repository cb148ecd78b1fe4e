/* Call sites with figures known by construction, for `run --stacks`: region `work` has
 *   leaf_a    10 allocations of 100 bytes, each freed at once (churn, nothing held)
 *   leaf_b    1000 bytes held to the end
 *   grow      a realloc chain 16 → 32 → 64 → 128 (4 allocations, 240 bytes, 128 held)
 *   map_site  an anonymous mapping of 65536 bytes, held
 *   t_one     2000 bytes held, allocated on a thread of its own
 *   t_two     3000 bytes held, on another thread
 *   spike     100000 bytes freed at once: the region's peak is reached there, with every
 *             held block above live
 *   nested    depth 3, 50 bytes at each level, freed at once
 * and a 4096-byte block allocated before the region, freed inside it (lowers nothing).
 * A forked child allocates 777 bytes in child_site and exits. */
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#define NOINLINE __attribute__((noinline))

static void *volatile held[16];

NOINLINE void *leaf_a(size_t n) {
    void *p = malloc(n);
    sink = p;
    return p;
}

NOINLINE void *leaf_b(size_t n) {
    void *p = malloc(n);
    sink = p;
    return p;
}

NOINLINE void *grow(void *p, size_t n) {
    p = realloc(p, n);
    sink = p;
    return p;
}

NOINLINE void *map_site(size_t n) {
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    sink = p;
    return p;
}

NOINLINE void spike(size_t n) {
    void *p = malloc(n);
    sink = p;
    free(p);
}

NOINLINE void nested(int depth) {
    void *p = malloc(50);
    sink = p;
    if (depth > 1)
        nested(depth - 1);
    free(p);
}

NOINLINE void *t_one(void *arg) {
    held[4] = malloc(2000);
    return arg;
}

NOINLINE void *t_two(void *arg) {
    held[5] = malloc(3000);
    return arg;
}

NOINLINE void child_site(void) {
    void *p = malloc(777);
    sink = p;
}

int main(void) {
    void *old = leaf_a(4096);
    int id = benchmem_region_begin("work");
    free(old);
    for (int i = 0; i < 10; i++)
        free(leaf_a(100));
    held[0] = leaf_b(1000);
    void *r = NULL;
    for (size_t n = 16; n <= 128; n *= 2)
        r = grow(r, n);
    held[1] = r;
    held[2] = map_site(65536);
    pthread_t a, b;
    pthread_create(&a, NULL, t_one, NULL);
    pthread_join(a, NULL);
    pthread_create(&b, NULL, t_two, NULL);
    pthread_join(b, NULL);
    nested(3);
    spike(100000);
    benchmem_region_end(id, NULL);
    pid_t c = fork();
    if (c == 0) {
        child_site();
        _exit(0);
    }
    waitpid(c, NULL, 0);
    free(held[0]);
    free(held[1]);
    munmap(held[2], 65536);
    free(held[4]);
    free(held[5]);
    return 0;
}
