/* Dies inside an open region: `kill` (SIGKILL), `segv` (a real invalid write), `abort`.
 * A second thread is also inside the region, allocating, when the process dies. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common.h"

static pthread_barrier_t ready;

static void *worker(void *arg) {
    (void)arg;
    sink = malloc(3000); /* kept: the region must report it */
    pthread_barrier_wait(&ready);
    for (;;) pause();
    return NULL;
}

int main(int argc, char **argv) {
    const char *how = argc > 1 ? argv[1] : "kill";
    printf("start %s\n", how);
    fflush(stdout);
    pthread_t t;
    pthread_barrier_init(&ready, NULL, 2);
    int id = benchmem_region_begin("doomed");
    (void)id;
    void *kept = malloc(4096);
    void *gone = malloc(1000);
    sink = kept;
    free(gone);
    pthread_create(&t, NULL, worker, NULL); /* its stack and TLS: glibc internals, some counted */
    pthread_barrier_wait(&ready);
    printf("dying\n");
    fflush(stdout);
    if (strcmp(how, "kill") == 0) kill(getpid(), SIGKILL);
    if (strcmp(how, "segv") == 0) *(volatile int *)16 = 1;
    if (strcmp(how, "abort") == 0) abort();
    return 0;
}
