/* Allocations with known call stacks and known region figures, for the stack stream
 * (`--stacks`). Built -O2, with and without frame pointers. Each mode prints the figures
 * of its regions as benchmem_region_end gave them: "<name> peak total allocations retained".
 *   chain:   main -> a -> b -> c -> malloc, in a region with an older block freed inside
 *   threads: four threads allocate and free inside one region
 *   fork:    a region in the parent and one in the child, which frees a parent's block
 *   mmap:    anonymous mappings: partial munmap, mremap, realloc
 *   many N:  N small allocations kept and freed (to fill a small ring)
 *   dlopen LIB: 777 bytes allocated by lib_alloc in LIB, loaded after start
 *   signals: a timer's handler allocates 333 bytes on an alternate stack while main
 *            allocates and frees in a loop
 */
#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

static void report(const char *name, int id) {
    benchmem_stats s;
    benchmem_region_end(id, &s);
    printf("%s %llu %llu %llu %llu\n", name, (unsigned long long)s.peak_bytes,
           (unsigned long long)s.total_bytes, (unsigned long long)s.allocations,
           (unsigned long long)s.retained_bytes);
    fflush(stdout);
}

/* The chain: each level does something after its call so no call becomes a jump. */
__attribute__((noinline)) void *chain_c(size_t n) {
    char *p = malloc(n);
    memset(p, 1, n);
    __asm__ volatile("" ::: "memory");
    return p;
}
__attribute__((noinline)) void *chain_b(size_t n) {
    void *p = chain_c(n);
    __asm__ volatile("" ::: "memory");
    return p;
}
__attribute__((noinline)) void *chain_a(size_t n) {
    void *p = chain_b(n);
    __asm__ volatile("" ::: "memory");
    return p;
}

static void chain(void) {
    void *old = chain_a(1000);
    int id = benchmem_region_begin("chain");
    void *x = chain_a(300);
    free(old);
    void *y = chain_a(50);
    free(x);
    void *z = realloc(y, 70); /* free 50, alloc 70 */
    report("chain", id);
    free(z);
}

static void *worker(void *arg) {
    size_t n = (size_t)arg;
    for (int i = 0; i < 2000; i++) {
        void *p = chain_a(n + (i % 7) * 16);
        sink = p;
        free(p);
    }
    return chain_a(n); /* kept: retained */
}

static void threads(void) {
    int id = benchmem_region_begin("threads");
    pthread_t t[4];
    for (long i = 0; i < 4; i++) pthread_create(&t[i], NULL, worker, (void *)(64 + 32 * i));
    void *kept[4];
    for (int i = 0; i < 4; i++) pthread_join(t[i], &kept[i]);
    report("threads", id);
    for (int i = 0; i < 4; i++) free(kept[i]);
}

static void do_fork(void) {
    void *parents = chain_a(4000);
    int id = benchmem_region_begin("parent");
    void *p = chain_a(100);
    pid_t pid = fork();
    if (pid == 0) {
        int c = benchmem_region_begin("child");
        void *q = chain_a(222);
        free(parents); /* the parent's memory: lowers nothing here */
        free(q);
        void *r = chain_a(33);
        report("child", c);
        free(r);
        free(p);
        exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    free(p);
    report("parent", id);
    free(parents);
}

static void maps(void) {
    int id = benchmem_region_begin("mmap");
    size_t page = 4096;
    char *m = mmap(NULL, 8 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(m + 2 * page, 2 * page); /* a hole: 6 pages left */
    char *n = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    n = mremap(n, 4 * page, 16 * page, MREMAP_MAYMOVE); /* 4 freed, 16 allocated */
    munmap(m, 2 * page);
    munmap(m + 4 * page, 4 * page);
    char *r = malloc(100);
    r = realloc(r, 100000);
    report("mmap", id);
    munmap(n, 16 * page);
    free(r);
}

static void many(int n) {
    int id = benchmem_region_begin("many");
    void **keep = malloc(sizeof(void *) * n);
    for (int i = 0; i < n; i++) keep[i] = chain_a(16 + i % 64);
    for (int i = 0; i < n; i++) free(keep[i]);
    free(keep);
    report("many", id);
}

static int loaded(const char *lib) {
    void *h = dlopen(lib, RTLD_NOW);
    if (!h) return 1;
    void *(*f)(size_t) = (void *(*)(size_t))dlsym(h, "lib_alloc");
    int id = benchmem_region_begin("dlopen");
    void *p = f(777);
    report("dlopen", id);
    free(p);
    return 0;
}

static volatile long signals;

__attribute__((noinline)) static void on_signal(int sig) {
    (void)sig;
    void *p = malloc(333);
    sink = p;
    free(p);
    signals++;
}

static void with_signals(void) {
    stack_t ss = {.ss_sp = malloc(1 << 16), .ss_size = 1 << 16};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_ONSTACK | SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 500}, {0, 500}};
    int id = benchmem_region_begin("signals");
    setitimer(ITIMER_REAL, &it, NULL);
    for (long i = 0; i < 400000 || signals < 20; i++) {
        void *p = chain_a(1 + i % 300);
        free(p);
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    report("signals", id);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "chain";
    if (!strcmp(mode, "chain")) chain();
    else if (!strcmp(mode, "threads")) threads();
    else if (!strcmp(mode, "fork")) do_fork();
    else if (!strcmp(mode, "mmap")) maps();
    else if (!strcmp(mode, "many")) many(argc > 2 ? atoi(argv[2]) : 100000);
    else if (!strcmp(mode, "dlopen")) return loaded(argv[2]);
    else if (!strcmp(mode, "signals")) with_signals();
    else return 2;
    return 0;
}
