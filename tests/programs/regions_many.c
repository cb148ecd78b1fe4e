/* Regions closed by the hundred thousand, each with a known size: the i-th sample of
 * region "iter" allocates (and frees) size(i) = 16 + 8 * (i % 64) bytes.
 *
 *   regions_many loop N     N regions "iter", then exit 0
 *   regions_many killed N   N regions "iter", then region "open" (one malloc of 777, never
 *                           closed) and SIGKILL to itself right away
 *   regions_many fork N     N "shared" regions of 100 bytes; a forked child closes N
 *                           "shared" of 200 and N "child" of size(i) and exits; then the
 *                           parent closes N "shared" of 100 again
 *   regions_many stall N    stops benchmem (SIGSTOP to its parent, waiting until it is
 *                           stopped), closes N regions "iter", continues benchmem, and
 *                           prints how long the loop took ("stalled for S s")
 *
 * Prints "done" at the end (not in killed mode). */
#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

static size_t size(long i) { return 16 + 8 * (size_t)(i % 64); }

static void iter(const char *name, long n, int fixed) {
    for (long i = 0; i < n; i++) work(name, fixed ? (size_t)fixed : size(i));
}

/* Whether every thread of process `pid` is stopped (state T in its stat). */
static int stopped(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d) return 0;
    int all = 1, any = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char stat[128], buf[512];
        snprintf(stat, sizeof stat, "%s/%s/stat", path, e->d_name);
        FILE *f = fopen(stat, "r");
        if (!f) continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        char *p = strrchr(buf, ')');
        any = 1;
        if (!(p && p[1] == ' ' && (p[2] == 'T' || p[2] == 't'))) all = 0;
    }
    closedir(d);
    return any && all;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    const char *mode = argv[1];
    long n = atol(argv[2]);
    if (!strcmp(mode, "loop")) {
        iter("iter", n, 0);
    } else if (!strcmp(mode, "killed")) {
        iter("iter", n, 0);
        benchmem_region_begin("open");
        sink = malloc(777);
        raise(SIGKILL);
    } else if (!strcmp(mode, "fork")) {
        iter("shared", n, 100);
        fflush(stdout);
        pid_t c = fork();
        if (c == 0) {
            iter("shared", n, 200);
            iter("child", n, 0);
            exit(0);
        }
        int st;
        if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return 1;
        iter("shared", n, 100);
    } else if (!strcmp(mode, "stall")) {
        pid_t launcher = getppid();
        if (kill(launcher, SIGSTOP) != 0) return 1;
        while (!stopped(launcher)) usleep(1000);
        double t0 = now();
        iter("iter", n, 0);
        double t1 = now();
        kill(launcher, SIGCONT);
        printf("stalled for %.1f s\n", t1 - t0);
    } else {
        return 2;
    }
    puts("done");
    return 0;
}
