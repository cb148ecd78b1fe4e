/* live: N small allocations (default 10 M, sizes 16..32) all live at once, then all freed.
 * It measures benchmem's own bookkeeping per live allocation (peak RSS under benchmem minus
 * native, per allocation) and is exact by construction: allocations = N,
 * peak_bytes = total_bytes = sum of sizes, retained_bytes = 0. The pointer array is
 * allocated before the region begins. */
#include "common.h"

int main(int argc, char **argv) {
    const char *expect_path;
    uint64_t n = bench_args(argc, argv, 10000000, &expect_path);
    char **ptrs = malloc((n ? n : 1) * sizeof *ptrs);
    if (!ptrs) { perror("malloc"); return 1; }
    /* Fault the array in before the region. Not with 0: gcc -O2 turns malloc + memset(0)
     * into calloc, whose fresh zero pages are never touched. */
    memset(ptrs, 0xFF, (n ? n : 1) * sizeof *ptrs);
    bench_rng rng = {0xD1B54A32D192ED03ULL};
    uint64_t total = 0;

    int id = benchmem_region_begin("work");
    for (uint64_t i = 0; i < n; i++) {
        size_t sz = bench_size(&rng, 16, 32);
        char *p = malloc(sz);
        if (!p) { perror("malloc"); return 1; }
        p[0] = (char)i;
        ptrs[i] = p;
        total += sz;
    }
    for (uint64_t i = 0; i < n; i++) free(ptrs[i]);
    benchmem_stats s;
    int rc = benchmem_region_end(id, &s);

    if (expect_path) {
        bench_expect e = {total, total, total, n, 0};
        bench_write_expect(expect_path, "live", n, &e, rc, &s);
    }
    free(ptrs);
    return 0;
}
