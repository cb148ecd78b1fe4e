/* Starts a daemon the classic way (fork, setsid, fork) and exits at once. The daemon
 * writes its pid to argv[1]/pid, allocates, sleeps argv[2] milliseconds, then writes
 * argv[1]/done. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static void put(const char *dir, const char *name, long value) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f) { fprintf(f, "%ld\n", value); fclose(f); }
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    if (fork() == 0) {
        setsid();
        if (fork() == 0) {
            /* Daemons let go of the terminal and of any pipe they were started with. */
            int null = open("/dev/null", O_RDWR);
            dup2(null, 0), dup2(null, 1), dup2(null, 2);
            sink = malloc(4096);
            put(argv[1], "pid", (long)getpid());
            long ms = atol(argv[2]);
            struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
            nanosleep(&t, NULL);
            put(argv[1], "done", 1);
            return 0;
        }
        _exit(0);
    }
    printf("started a daemon\n");
    return 0;
}
