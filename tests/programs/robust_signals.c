/* Waits for a signal after writing "ready" to the file argv[1].
 * mode "handle": SIGTERM, SIGINT, SIGHUP and SIGQUIT are caught; the program then ends a
 *   region it kept open and exits with 100 + the signal's number.
 * mode "default": default dispositions: the signal kills it inside an open region. */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

static volatile sig_atomic_t got;

static void on_signal(int sig) { got = sig; }

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    int handle = !strcmp(argv[2], "handle");
    if (handle) {
        int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};
        for (int i = 0; i < 4; i++) signal(sigs[i], on_signal);
    }
    int id = benchmem_region_begin("waiting");
    sink = malloc(1000);
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    write(fd, "ready", 5);
    close(fd);
    while (!got) pause();
    benchmem_region_end(id, NULL);
    return 100 + got;
}
