/* Processes every way: `many` = 1,000 forks (children leave by _exit, exit or exec of
 * this program); `vfork` = vfork children that _exit or exec; `spawn` = posix_spawn of
 * this program and of /bin/true; `lockfork` = 300 forks while another thread hammers
 * malloc/free (so it often holds glibc's or benchmem's locks at the fork). Every child's
 * status is printed; regions in the children have known sizes. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"

extern char **environ;

static int status_of(pid_t pid) {
    int st;
    if (waitpid(pid, &st, 0) != pid) return -1;
    int s = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (s > 5) fprintf(stderr, "child %d: unexpected status %d\n", (int)pid, s);
    return s;
}

static atomic_int stop;

static void *hammer(void *arg) {
    (void)arg;
    void *keep[64] = {0};
    for (unsigned i = 0; !atomic_load(&stop); i++) {
        free(keep[i % 64]);
        keep[i % 64] = malloc(16 + i % 4000);
    }
    for (int i = 0; i < 64; i++) free(keep[i]);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--exec") == 0) {
        work("execd", 100);
        return 5;
    }
    const char *how = argc > 1 ? argv[1] : "many";
    printf("start %s\n", how);
    fflush(stdout);
    long sum = 0;
    if (strcmp(how, "many") == 0) {
        for (int i = 0; i < 1000; i++) {
            pid_t c = fork();
            if (c == 0) {
                if (i % 3 == 2) {
                    execl(argv[0], argv[0], "--exec", (char *)NULL);
                    _exit(127);
                }
                work("child", 100);
                if (i % 3 == 0) _exit(1);
                exit(2);
            }
            sum += status_of(c);
        }
    } else if (strcmp(how, "vfork") == 0) {
        for (int i = 0; i < 20; i++) {
            pid_t c = vfork();
            if (c == 0) {
                if (i % 2) execl(argv[0], argv[0], "--exec", (char *)NULL);
                _exit(3);
            }
            sum += status_of(c);
        }
        work("after_vfork", 700);
        printf("sum %ld\n", sum);
        fflush(stdout);
        if (argc > 2) kill(getpid(), SIGKILL); /* the parent must still be seen as killed */
    } else if (strcmp(how, "spawn") == 0) {
        for (int i = 0; i < 20; i++) {
            pid_t c;
            char *self[] = {argv[0], "--exec", NULL};
            char *tru[] = {"/bin/true", NULL};
            if (posix_spawn(&c, i % 2 ? argv[0] : "/bin/true", NULL, NULL, i % 2 ? self : tru,
                            environ) != 0)
                return 9;
            sum += status_of(c);
        }
        work("after_spawn", 800);
    } else if (strcmp(how, "lockfork") == 0) {
        pthread_t t;
        pthread_create(&t, NULL, hammer, NULL);
        for (int i = 0; i < 300; i++) {
            pid_t c = fork();
            if (c == 0) {
                work("forked", 50);
                _exit(4);
            }
            sum += status_of(c);
        }
        atomic_store(&stop, 1);
        pthread_join(t, NULL);
    }
    printf("sum %ld\n", sum);
    return 0;
}
