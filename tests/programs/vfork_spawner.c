/* Like robust_spawner.c, with vfork: the child execs the command given (argv[1..]) in its
 * parent's memory, as dash and Python's subprocess do; prints its status.
 * `vfork_spawner -n N cmd...` runs it N times and then prints by how many kB the
 * parent's address space grew meanwhile (what exec hooks may leave in a vfork parent). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static long vm_size_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmSize:", 7) == 0) kb = atol(line + 7);
    if (f) fclose(f);
    return kb;
}

int main(int argc, char **argv) {
    int times = 1, first = 1;
    if (argc > 3 && strcmp(argv[1], "-n") == 0) {
        times = atoi(argv[2]);
        first = 3;
    }
    if (argc <= first) return 2;
    void *p = malloc(100); /* the parent allocates: its row is not empty */
    long before = vm_size_kb();
    int st = 0;
    for (int i = 0; i < times; i++) {
        pid_t c = vfork();
        if (c == 0) {
            execv(argv[first], argv + first);
            _exit(127);
        }
        waitpid(c, &st, 0);
    }
    long grew = vm_size_kb() - before;
    free(p);
    printf("child status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    if (times > 1) printf("grew %ld kB\n", grew);
    return 0;
}
