/* churn: N malloc/free pairs (default 6 M), sizes 16..4096 from a seeded xorshift, through a
 * 4096-slot sliding window, one thread. Region "work" covers the whole loop and the final
 * drain, so its known answer is: allocations = N, total_bytes = sum of sizes,
 * retained_bytes = 0, peak_bytes = the highest sum of live sizes (tracked alongside in a
 * static array, never on the heap). */
#include "common.h"

#define WINDOW 4096

static char *slot_ptr[WINDOW];
static size_t slot_size[WINDOW];

int main(int argc, char **argv) {
    const char *expect_path;
    uint64_t n = bench_args(argc, argv, 6000000, &expect_path);
    const int track = expect_path != NULL;
    bench_rng rng = {0x9E3779B97F4A7C15ULL};
    uint64_t live = 0, peak = 0, total = 0;

    int id = benchmem_region_begin("work");
    for (uint64_t i = 0; i < n; i++) {
        unsigned k = (unsigned)(i % WINDOW);
        if (slot_ptr[k]) {
            free(slot_ptr[k]);
            if (track) live -= slot_size[k];
        }
        size_t sz = bench_size(&rng, 16, 4096);
        char *p = malloc(sz);
        if (!p) { perror("malloc"); return 1; }
        p[0] = (char)i;          /* touch it: the program really uses its memory */
        p[sz - 1] = (char)i;
        slot_ptr[k] = p;
        if (track) {
            slot_size[k] = sz;
            total += sz;
            live += sz;
            if (live > peak) peak = live;
        }
    }
    for (unsigned k = 0; k < WINDOW; k++) {
        free(slot_ptr[k]);       /* free(NULL) for unused slots: not an allocation */
        slot_ptr[k] = NULL;
    }
    benchmem_stats s;
    int rc = benchmem_region_end(id, &s);

    if (track) {
        bench_expect e = {peak, peak, total, n, 0};
        bench_write_expect(expect_path, "churn", n, &e, rc, &s);
    }
    return 0;
}
