/* Two regions of known sizes, each held long enough to be seen over time, then a child
 * process with a region of its own: the timeline test's program.
 *   one_mib:       1 MiB held 40 ms        (peak 1048576)
 *   four_mib:      4 MiB held 40 ms        (peak 4194304), 20 ms after one_mib ends
 *   child_two_mib: in a forked child, 2 MiB held 30 ms (peak 2097152)
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static void pause_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0) {
    }
}

static void hold(const char *name, size_t n, long ms) {
    int id = benchmem_region_begin(name);
    char *p = malloc(n);
    memset(p, 1, n);
    sink = p;
    pause_ms(ms);
    free(p);
    benchmem_region_end(id, NULL);
}

int main(void) {
    pause_ms(10);
    hold("one_mib", 1 << 20, 40);
    pause_ms(20);
    hold("four_mib", 4 << 20, 40);
    pause_ms(10);
    pid_t pid = fork();
    if (pid == 0) {
        hold("child_two_mib", 2 << 20, 30);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
