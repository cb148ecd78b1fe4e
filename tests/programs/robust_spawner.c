/* Forks, and execs the command given (argv[1..]) in the child; prints its status. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    void *p = malloc(100); /* the parent allocates: its row is not empty */
    pid_t c = fork();
    if (c == 0) {
        void *q = malloc(200); /* so does the child before exec */
        (void)q;
        execv(argv[1], argv + 1);
        _exit(127);
    }
    int st;
    waitpid(c, &st, 0);
    free(p);
    printf("child status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    return 0;
}
