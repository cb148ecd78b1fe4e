/* 64 threads allocate and free concurrently; every block is freed by another thread than
 * the one that allocated it. Rounds: all threads allocate M blocks (barrier), each thread
 * frees its neighbour's blocks (barrier). Region "mt" spans every round; meanwhile the
 * main thread opens and closes region "side" again and again. Totals are known:
 * allocations = T*R*M, bytes = R * sum of sizes, peak = one round's bytes, retained 0. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include "benchmem.h"

#define T 64
#define R 20
#define M 200

static void *boxes[T][M];
static pthread_barrier_t bar;
static atomic_int finished;

static size_t size_of(int t, int k) { return 16 + (size_t)((t * 7 + k * 13) % 500); }

static void *worker(void *arg) {
    int t = (int)(long)arg;
    pthread_barrier_wait(&bar); /* region opened */
    for (int r = 0; r < R; r++) {
        for (int k = 0; k < M; k++) boxes[t][k] = malloc(size_of(t, k));
        pthread_barrier_wait(&bar);
        int n = (t + 1) % T;
        for (int k = 0; k < M; k++) free(boxes[n][k]);
        pthread_barrier_wait(&bar);
    }
    atomic_fetch_add(&finished, 1);
    pthread_barrier_wait(&bar); /* before the region closes */
    return NULL;
}

int main(void) {
    unsigned long long bytes = 0, round = 0;
    for (int t = 0; t < T; t++)
        for (int k = 0; k < M; k++) round += size_of(t, k);
    bytes = round * R;
    printf("expect allocations %d bytes %llu peak %llu\n", T * R * M, bytes, round);
    fflush(stdout);
    pthread_t th[T];
    pthread_barrier_init(&bar, NULL, T + 1);
    for (int t = 0; t < T; t++) pthread_create(&th[t], NULL, worker, (void *)(long)t);
    int id = benchmem_region_begin("mt");
    pthread_barrier_wait(&bar);
    /* The main thread takes part in no round, but churns regions while they run. The
     * workers each wait at R*2 barriers; the main thread must wait at them too. */
    for (int r = 0; r < R; r++) {
        for (int i = 0; i < 2; i++) {
            int s = benchmem_region_begin("side");
            benchmem_region_end(s, NULL);
            pthread_barrier_wait(&bar);
        }
    }
    pthread_barrier_wait(&bar);
    benchmem_stats st;
    benchmem_region_end(id, &st);
    for (int t = 0; t < T; t++) pthread_join(th[t], NULL);
    printf("finished %d\n", atomic_load(&finished));
    return 0;
}
