/* 4 threads allocate concurrently inside one region opened by the main thread.
 * Threads are created before the region (thread creation allocates TLS) and synchronise
 * on barriers, so the answer is exact: every block is live at the second barrier. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include "benchmem.h"

#define THREADS 4
#define BLOCKS 1000
#define SIZE 48

static pthread_barrier_t start, full, done;
static void *blocks[THREADS][BLOCKS];

static void *worker(void *arg) {
    long t = (long)arg;
    pthread_barrier_wait(&start);
    for (int i = 0; i < BLOCKS; i++) blocks[t][i] = malloc(SIZE + t);
    pthread_barrier_wait(&full);
    /* free the next thread's blocks: cross-thread frees */
    long other = (t + 1) % THREADS;
    pthread_barrier_wait(&done);
    for (int i = 0; i < BLOCKS; i++) free(blocks[other][i]);
    pthread_barrier_wait(&start);
    return NULL;
}

int main(void) {
    pthread_t th[THREADS];
    pthread_barrier_init(&start, NULL, THREADS + 1);
    pthread_barrier_init(&full, NULL, THREADS + 1);
    pthread_barrier_init(&done, NULL, THREADS + 1);
    for (long t = 0; t < THREADS; t++) pthread_create(&th[t], NULL, worker, (void *)t);
    int id = benchmem_region_begin("work");
    pthread_barrier_wait(&start);
    pthread_barrier_wait(&full);
    pthread_barrier_wait(&done);
    pthread_barrier_wait(&start);
    benchmem_stats s;
    benchmem_region_end(id, &s);
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
    printf("threads allocations=%llu\n", (unsigned long long)s.allocations);
    return 0;
}
