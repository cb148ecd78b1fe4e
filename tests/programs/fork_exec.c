/* A parent that forks a child and execs a copy of itself: every process measured. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--exec") == 0) {
        work("exec_work", 3000);
        return 0;
    }
    work("parent_work", 1000);
    pid_t c = fork();
    if (c == 0) {
        work("child_work", 2000);
        exit(0);
    }
    waitpid(c, NULL, 0);
    pid_t e = fork();
    if (e == 0) {
        execl(argv[0], argv[0], "--exec", (char *)NULL);
        _exit(127);
    }
    int st;
    waitpid(e, &st, 0);
    printf("exec child status %d\n", WEXITSTATUS(st));
    return 0;
}
