/* Tries to slip samples into its own measurement. Prints the mode of $BENCHMEM_DIR and
 * marks region "kept" (one malloc of 1000). Then:
 * - as another user (a forked child that drops to nobody; only when run as root): tries
 *   to list the run directory, to create a state file in it and to open this process's
 *   own state file for writing, and prints what each attempt got:
 *   "foreign: list EACCES, create EACCES, open EACCES" ("foreign: not root" otherwise).
 * - as the same user, outside the preload's control: puts what is no state file of this
 *   run where the launcher looks for them: a copy of this process's state file (its
 *   samples included) under another pid's name, a symbolic link under a third, a file of
 *   zeros the size of a state file under a fourth, and a file with a state file's name
 *   that is far too short.
 * Finally marks region "after" (one malloc of 2000). Exit status 0 unless something it
 * needs failed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"

static const char *dir;

static void path_of(char *out, size_t n, long pid) {
    snprintf(out, n, "%s/s-%ld-0", dir, pid);
}

static const char *err_name(int e) {
    return e == EACCES ? "EACCES" : e == EPERM ? "EPERM" : e == 0 ? "allowed" : strerror(e);
}

static void foreign(void) {
    if (getuid() != 0) {
        puts("foreign: not root");
        fflush(stdout);
        return;
    }
    char mine[600];
    path_of(mine, sizeof mine, (long)getpid());
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0) _exit(3);
        char other[600];
        path_of(other, sizeof other, 4000000L);
        int e_list = 0, e_create = 0, e_open = 0;
        int fd = open(dir, O_RDONLY | O_DIRECTORY);
        if (fd < 0) e_list = errno; else close(fd);
        fd = open(other, O_RDWR | O_CREAT | O_EXCL, 0600);
        if (fd < 0) e_create = errno; else close(fd);
        fd = open(mine, O_RDWR);
        if (fd < 0) e_open = errno; else close(fd);
        printf("foreign: list %s, create %s, open %s\n", err_name(e_list), err_name(e_create),
               err_name(e_open));
        fflush(stdout);
        _exit(0);
    }
    int st;
    if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        puts("foreign child failed");
        exit(1);
    }
}

static void junk(void) {
    char mine[600], copy[600], link[600], zeros[600], tiny[600];
    path_of(mine, sizeof mine, (long)getpid());
    path_of(copy, sizeof copy, 4000001L);
    path_of(link, sizeof link, 4000002L);
    path_of(zeros, sizeof zeros, 4000003L);
    path_of(tiny, sizeof tiny, 4000004L);
    struct stat s;
    if (stat(mine, &s) != 0) {
        puts("no state file");
        exit(1);
    }
    int in = open(mine, O_RDONLY), out = open(copy, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (in < 0 || out < 0) exit(1);
    static char buf[1 << 16];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n) exit(1);
    close(in);
    close(out);
    if (symlink(mine, link) != 0) exit(1);
    out = open(zeros, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (out < 0 || ftruncate(out, s.st_size) != 0) exit(1);
    close(out);
    out = open(tiny, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (out < 0 || write(out, "BCHMEMV1", 8) != 8) exit(1);
    close(out);
}

int main(void) {
    struct stat st;
    dir = getenv("BENCHMEM_DIR");
    if (!dir || stat(dir, &st) != 0) {
        puts("no run directory");
        return 1;
    }
    printf("dirmode %o\n", (unsigned)(st.st_mode & 07777));
    fflush(stdout);
    work("kept", 1000);
    foreign();
    junk();
    work("after", 2000);
    puts("done");
    return 0;
}
