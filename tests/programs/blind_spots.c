/* Blind spots benchmem can see and must say (or must not): `mprotect` = 64 MiB PROT_NONE
 * reservation of which 16 MiB is made read/write and touched; `threads` = malloc/free on
 * 8 threads (glibc arenas reserve and mprotect inside malloc: nothing to say); `deep LIB`
 * and `nodeep LIB` = dlopen LIB with or without RTLD_DEEPBIND and call its lib_work()
 * inside region "lib"; `plain` = one region "work" of malloc(1000). Prints what it did. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include "common.h"

static void *churn(void *arg) {
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        void *p = malloc(16 + (i * 37) % 70000);
        sink = p;
        free(p);
    }
    return NULL;
}

int main(int argc, char **argv) {
    const char *how = argc > 1 ? argv[1] : "plain";
    if (strcmp(how, "mprotect") == 0) {
        size_t mib = 1 << 20;
        char *r = mmap(NULL, 64 * mib, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (r == MAP_FAILED) return 1;
        if (mprotect(r, 16 * mib, PROT_READ | PROT_WRITE) != 0) return 1;
        memset(r, 1, 16 * mib);
        printf("touched %d\n", r[16 * mib - 1]);
        munmap(r, 64 * mib);
    } else if (strcmp(how, "threads") == 0) {
        pthread_t t[8];
        for (int i = 0; i < 8; i++) pthread_create(&t[i], NULL, churn, NULL);
        for (int i = 0; i < 8; i++) pthread_join(t[i], NULL);
        printf("joined\n");
    } else if (strcmp(how, "deep") == 0 || strcmp(how, "nodeep") == 0) {
        int flags = RTLD_NOW | (how[0] == 'd' ? RTLD_DEEPBIND : 0);
        void *h = dlopen(argv[2], flags);
        if (!h) {
            printf("dlopen: %s\n", dlerror());
            return 1;
        }
        void (*lib_work)(void) = (void (*)(void))dlsym(h, "lib_work");
        int id = benchmem_region_begin("lib");
        lib_work();
        benchmem_region_end(id, NULL);
        printf("loaded\n");
    } else {
        work("work", 1000);
        printf("done\n");
    }
    return 0;
}
