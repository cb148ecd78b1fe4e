/* Closes every fd (closefrom / close_range / a loop over /proc/self/fd; `all-*` modes
 * close 0-2 too), then opens files that reuse the numbers (and puts one on every number
 * from 690 to 759, where a profiler likes to hide its own fd), allocates inside regions,
 * and writes its own data into all of them. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common.h"

static void close_by_proc(int from) {
    int fds[4096], n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 4096)
        if (e->d_name[0] != '.') fds[n++] = atoi(e->d_name);
    closedir(d);
    for (int i = 0; i < n; i++)
        if (fds[i] >= from) close(fds[i]);
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    const char *how = argv[1], *dir = argv[2];
    int all = strncmp(how, "all-", 4) == 0;
    const char *method = all ? how + 4 : how;
    int from = all ? 0 : 3;
    printf("start %s\n", how);
    fflush(stdout);
    work("before", 100);
    if (strcmp(method, "closefrom") == 0) closefrom(from);
    else if (strcmp(method, "close_range") == 0) close_range(from, ~0U, 0);
    else close_by_proc(from);
    /* Reuse the numbers: the lowest ones first, then 690..759 by dup2. */
    char path[4096];
    int fds[16];
    for (int i = 0; i < 16; i++) {
        snprintf(path, sizeof path, "%s/f%02d", dir, i);
        fds[i] = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (fds[i] < 0) return 3;
    }
    for (int n = 690; n < 760; n++) dup2(fds[n % 16], n);
    /* stdout now is a file when 0-2 were closed (fd 1 is f01). */
    for (int round = 0; round < 20; round++) {
        work("after", 2000 + round);
        work("after2", 3000);
        for (int i = 0; i < 16; i++) {
            char line[64];
            int k = snprintf(line, sizeof line, "file %d round %d\n", i, round);
            if (write(fds[i], line, k) != k) return 4;
        }
        for (int n = 690; n < 760; n += 7) {
            char line[64];
            int k = snprintf(line, sizeof line, "via %d round %d\n", n, round);
            if (write(n, line, k) != k) return 5;
        }
    }
    printf("done\n");
    fflush(stdout);
    return 0;
}
