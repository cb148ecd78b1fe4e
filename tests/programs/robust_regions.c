/* Regions used every odd way: from a signal handler's allocations, opened in one thread
 * and closed in another, nested 100 deep, odd names (empty, 10 KiB, not UTF-8), 10,000
 * distinct names, never closed, and `exit` from inside one. `deep` mode opens 300 at once
 * (more than benchmem can hold: it must say so). */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"

static volatile int handled;
static int xid;
static void *xmem;

static void handler(int sig) {
    (void)sig;
    void *p = malloc(64);
    sink = p;
    free(p);
    handled++;
}

static void *opener(void *arg) {
    (void)arg;
    xid = benchmem_region_begin("xthread");
    xmem = malloc(500);
    return NULL;
}

static void nest(int d) {
    char name[32];
    snprintf(name, sizeof name, "nest%d", d);
    int id = benchmem_region_begin(name);
    void *p = malloc(d + 1);
    sink = p;
    if (d < 99) nest(d + 1);
    free(p);
    benchmem_region_end(id, NULL);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "all";
    printf("start %s\n", mode);
    fflush(stdout);
    if (strcmp(mode, "deep") == 0) {
        int ids[300];
        for (int i = 0; i < 300; i++) {
            ids[i] = benchmem_region_begin("deep");
            sink = malloc(10);
        }
        for (int i = 299; i >= 0; i--) benchmem_region_end(ids[i], NULL);
        printf("done\n");
        return 0;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigaction(SIGUSR1, &sa, NULL);
    int id = benchmem_region_begin("signal");
    for (int i = 0; i < 10; i++) raise(SIGUSR1);
    benchmem_region_end(id, NULL);

    pthread_t t;
    pthread_create(&t, NULL, opener, NULL);
    pthread_join(t, NULL);
    void *mine = malloc(700);
    benchmem_region_end(xid, NULL); /* closed by the main thread */
    free(mine);
    free(xmem);

    nest(0);

    work("", 11);
    char big[10 * 1024 + 1];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    work(big, 12);
    big[sizeof big - 2] = 'b';
    work(big, 13);
    work("\xff\xfe", 14);
    work("\xfe\xff", 15);
    work("caf\xc3\xa9", 16);

    for (int i = 0; i < 10000; i++) {
        char name[16];
        snprintf(name, sizeof name, "r%05d", i);
        work(name, (size_t)(i % 1000) + 1);
    }

    id = benchmem_region_begin("open_at_exit");
    sink = malloc(777);
    printf("handled %d\n", handled);
    fflush(stdout);
    if (strcmp(mode, "exit") == 0) {
        id = benchmem_region_begin("exit_inside");
        sink = malloc(123);
        exit(4);
    }
    return 0;
}
