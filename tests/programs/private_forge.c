/* Tries to slip samples into its own measurement. Prints the mode of $BENCHMEM_DIR, marks
 * region "kept" (one malloc of 1000), then a forked child sends to the run's event socket:
 * a well-formed region sample claiming the parent's pid, one claiming pid 1, the
 * launcher's stop marker, and bytes that are no event at all; the child then execs this
 * program without the preload (`outsider`), which sends a sample under its own pid as
 * the next image of that pid (it has no state file: it is not measured). Finally the
 * parent marks region "after" (one malloc of 2000), which is only seen if the forged stop
 * marker did not end the reader. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"

/* The wire layout of an event (little-endian, 64-byte header, then the name). */
enum { HEADER = 64, KIND_REGION_END = 1, KIND_STOP = 2 };

static void put32(unsigned char *b, int at, uint32_t v) {
    for (int i = 0; i < 4; i++) b[at + i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *b, int at, uint64_t v) {
    for (int i = 0; i < 8; i++) b[at + i] = (unsigned char)(v >> (8 * i));
}

static size_t event(unsigned char *b, int kind, uint32_t pid, uint32_t image, const char *name) {
    size_t len = strlen(name);
    memset(b, 0, HEADER);
    put32(b, 0, 0x424d4556);
    b[4] = 1; /* version */
    b[6] = (unsigned char)kind;
    put32(b, 8, pid);
    put32(b, 12, image);
    put64(b, 16, 999999); /* peak */
    put64(b, 24, 999999); /* total */
    put64(b, 32, 7);      /* allocations */
    put64(b, 40, 0);      /* retained */
    put64(b, 48, 1);      /* duration */
    put32(b, 60, (uint32_t)len);
    memcpy(b + HEADER, name, len);
    return HEADER + len;
}

static void send_to_run(const void *msg, size_t len) {
    const char *dir = getenv("BENCHMEM_DIR");
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s/events.sock", dir ? dir : "");
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd < 0 || sendto(fd, msg, len, 0, (struct sockaddr *)&a, sizeof a) != (ssize_t)len) {
        perror("sendto");
        _exit(3);
    }
    close(fd);
}

static int wait_ok(pid_t pid) {
    int st;
    return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int main(int argc, char **argv) {
    unsigned char b[HEADER + 64];
    if (argc > 1 && strcmp(argv[1], "outsider") == 0) {
        send_to_run(b, event(b, KIND_REGION_END, (uint32_t)getpid(), 1, "forged"));
        return 0;
    }
    struct stat st;
    const char *dir = getenv("BENCHMEM_DIR");
    if (!dir || stat(dir, &st) != 0) {
        puts("no run directory");
        return 1;
    }
    printf("dirmode %o\n", (unsigned)(st.st_mode & 07777));
    fflush(stdout);

    work("kept", 1000);

    pid_t c = fork();
    if (c == 0) {
        uint32_t parent = (uint32_t)getppid();
        send_to_run(b, event(b, KIND_REGION_END, parent, 0, "kept"));
        send_to_run(b, event(b, KIND_REGION_END, parent, 0, "forged"));
        send_to_run(b, event(b, KIND_REGION_END, 1, 0, "forged"));
        send_to_run(b, event(b, KIND_STOP, parent, 0, ""));
        send_to_run("hello", 5);
        /* Keeps BENCHMEM_DIR (so it knows the socket) but drops the preload. */
        unsetenv("LD_PRELOAD");
        execl(argv[0], argv[0], "outsider", (char *)NULL);
        _exit(127);
    }
    if (!wait_ok(c)) {
        puts("child failed");
        return 1;
    }

    work("after", 2000);
    puts("done");
    return 0;
}
