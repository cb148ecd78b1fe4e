/* Region "work" makes N allocations of 64 bytes (KILLED_REPEAT_N, default 100), keeping
 * them. The file killed_repeat.runs in the working directory counts the runs; the run
 * numbered KILLED_REPEAT_DOOMED (1-based; unset or 0: none) kills itself with SIGKILL
 * inside the region after N/10 allocations, so its sample of "work" is short. Run as
 * `sh -c 'killed_repeat; exit 0'` under `benchmem run -n 3`: the shell survives, the
 * repeats go on, and one of them holds a partial sample. The arguments stay the same
 * whatever the environment says, so two runs share their benchmark ids. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "common.h"

static long bump(const char *path) {
    long runs = 0;
    FILE *f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%ld", &runs) != 1) runs = 0;
        fclose(f);
    }
    runs++;
    f = fopen(path, "w");
    if (!f) return runs;
    fprintf(f, "%ld\n", runs);
    fclose(f);
    return runs;
}

int main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    long run = bump("killed_repeat.runs");
    const char *n_text = getenv("KILLED_REPEAT_N");
    const char *doomed_text = getenv("KILLED_REPEAT_DOOMED");
    long n = n_text ? atol(n_text) : 100;
    long doomed = doomed_text ? atol(doomed_text) : 0;
    void **kept = calloc((size_t)n, sizeof *kept);
    int id = benchmem_region_begin("work");
    for (long i = 0; i < n; i++) {
        kept[i] = malloc(64);
        sink = kept[i];
        if (run == doomed && i == n / 10) kill(getpid(), SIGKILL);
    }
    benchmem_region_end(id, NULL);
    printf("run %ld: %ld allocations\n", run, n);
    return 0;
}
