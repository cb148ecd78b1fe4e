/* Outlives its launcher: marks a region, says it is ready (its pid in DIR/ready), waits
 * for DIR/go (the test kills benchmem first), then keeps marking regions, allocating and
 * writing to its own file and to stdout, and exits 7. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common.h"

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    char path[4096];
    printf("start\n");
    fflush(stdout);
    work("early", 100);
    snprintf(path, sizeof path, "%s/ready.tmp", argv[1]);
    FILE *f = fopen(path, "w");
    fprintf(f, "%d\n%s\n", (int)getpid(), getenv("BENCHMEM_DIR") ? getenv("BENCHMEM_DIR") : "");
    fclose(f);
    char ready[4096];
    snprintf(ready, sizeof ready, "%s/ready", argv[1]);
    rename(path, ready);
    snprintf(path, sizeof path, "%s/go", argv[1]);
    for (int i = 0; access(path, F_OK) != 0; i++) {
        if (i > 30000) return 99; /* 30 s: the test is gone */
        usleep(1000);
    }
    snprintf(path, sizeof path, "%s/out.txt", argv[1]);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    for (int i = 0; i < 300; i++) {
        work("late", 1000 + i);
        char line[64];
        int n = snprintf(line, sizeof line, "line %d\n", i);
        if (write(fd, line, n) != n) return 98;
        printf("stdout %d\n", i);
    }
    close(fd);
    printf("done\n");
    return 7;
}
