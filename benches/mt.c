/* mt: the churn workload on 2 threads with cross-thread frees. N allocations in total
 * (default 6 M, N/2 per thread), sizes 16..4096 from a per-thread seeded xorshift. Each
 * thread mallocs into its own 4096-slot ring (lock-free, single producer single consumer)
 * and frees what the other thread allocated from the other ring: every free is
 * cross-thread. A consumer pops (in batches of 1024) only when its ring is full, or once the
 * producer has finished, so both threads run concurrently with a 4096-deep window.
 *
 * Known answer of region "work" (threads are created before it begins and joined after it
 * ends; a barrier marks both ends):
 *   allocations = N, total_bytes = sum of all sizes, retained_bytes = 0, exactly;
 *   peak_bytes in [lower, upper], proven as follows. Let A's live items be those A
 *   allocated and B has not freed yet. B frees in A's allocation order and advances the
 *   ring tail only after the free, and A allocates at most one item ahead of pushing it, so
 *   A's live items are always a run of at most 4096 + 1 consecutive allocations of A's
 *   sequence: upper = maxwindow_A(4097) + maxwindow_B(4097).
 *   B's tail only ever stands at multiples of 1024 when a batch starts, and for every such
 *   k with k + 4096 <= N/2 a batch starts at tail k with the ring full (observed full, or
 *   the producer is done and at least 4096 items remain), so A's items k .. k+4095 are all
 *   live at that moment: lower = max over those k of window_A(k, 4096), and the same for
 *   B; lower = the larger of the two.
 * The bounds are recomputed after the region ends by replaying the two seeded streams. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "common.h"

#define CAP 4096
#define BATCH 1024
#define SEED_A 0x243F6A8885A308D3ULL
#define SEED_B 0x13198A2E03707344ULL

typedef struct {
    _Alignas(64) _Atomic uint64_t head; /* pushed so far (written by the producer) */
    _Alignas(64) _Atomic uint64_t tail; /* freed so far (written by the consumer) */
    _Alignas(64) _Atomic int producer_done;
    _Alignas(64) char *buf[CAP];
} ring;

static ring rings[2]; /* rings[t]: thread t produces into it, thread 1-t consumes */
static pthread_barrier_t start_barrier, done_barrier;
static uint64_t per_thread;

static inline void relax(unsigned *spins) {
    if (++*spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    } else {
        *spins = 0;
        sched_yield();
    }
}

static void *worker(void *arg) {
    int t = (int)(intptr_t)arg;
    ring *out = &rings[t], *in = &rings[1 - t];
    bench_rng rng = {t == 0 ? SEED_A : SEED_B};
    /* warm this thread's malloc arena before the region opens */
    free(malloc(64));
    pthread_barrier_wait(&start_barrier);

    uint64_t made = 0, freed = 0, head = 0;
    unsigned spins = 0;
    while (made < per_thread || freed < per_thread) {
        int progress = 0;
        /* produce while there is room */
        if (made < per_thread) {
            uint64_t room = CAP - (head - atomic_load_explicit(&out->tail, memory_order_acquire));
            for (; room > 0 && made < per_thread; room--) {
                size_t sz = bench_size(&rng, 16, 4096);
                char *p = malloc(sz);
                if (!p) { perror("malloc"); exit(1); }
                p[0] = (char)made;
                p[sz - 1] = (char)made;
                out->buf[head % CAP] = p;
                head++;
                made++;
                atomic_store_explicit(&out->head, head, memory_order_release);
                progress = 1;
            }
            if (made == per_thread)
                atomic_store_explicit(&out->producer_done, 1, memory_order_release);
        }
        /* consume a batch when the peer's ring is full, or drain once the peer is done */
        if (freed < per_thread) {
            int done = atomic_load_explicit(&in->producer_done, memory_order_acquire);
            uint64_t h = atomic_load_explicit(&in->head, memory_order_acquire);
            uint64_t avail = h - freed;
            if (avail == CAP || (done && avail > 0)) {
                uint64_t take = avail < BATCH ? avail : BATCH;
                for (uint64_t i = 0; i < take; i++) {
                    free(in->buf[freed % CAP]);
                    freed++;
                    atomic_store_explicit(&in->tail, freed, memory_order_release);
                }
                progress = 1;
            }
        }
        if (progress) spins = 0; else relax(&spins);
    }
    pthread_barrier_wait(&done_barrier);
    return NULL;
}

/* Over one thread's size stream of length m: the max sum of any `w` consecutive sizes,
 * and the max sum of the `w` sizes starting at multiples of `step` (k + w <= m). */
static void windows(uint64_t seed, uint64_t m, uint64_t w, uint64_t step, uint64_t *max_any,
                    uint64_t *max_step, uint64_t *total) {
    bench_rng lead = {seed}, lag = {seed};
    uint64_t sum = 0, best = 0, best_step = 0, tot = 0;
    for (uint64_t i = 0; i < m; i++) {
        uint64_t s = bench_size(&lead, 16, 4096);
        sum += s;
        tot += s;
        if (i >= w) sum -= bench_size(&lag, 16, 4096);
        /* sum now covers items [i+1-w, i] (or [0, i] while i < w) */
        if (sum > best) best = sum;
        if (i + 1 >= w && (i + 1 - w) % step == 0 && sum > best_step) best_step = sum;
    }
    *max_any = best;
    if (max_step) *max_step = best_step;
    if (total) *total = tot;
}

int main(int argc, char **argv) {
    const char *expect_path;
    uint64_t n = bench_args(argc, argv, 6000000, &expect_path);
    per_thread = n / 2;
    n = per_thread * 2;
    pthread_barrier_init(&start_barrier, NULL, 3);
    pthread_barrier_init(&done_barrier, NULL, 3);
    pthread_t th[2];
    for (int t = 0; t < 2; t++) pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t);

    int id = benchmem_region_begin("work");
    pthread_barrier_wait(&start_barrier);
    pthread_barrier_wait(&done_barrier);
    benchmem_stats s;
    int rc = benchmem_region_end(id, &s);

    for (int t = 0; t < 2; t++) pthread_join(th[t], NULL);

    if (expect_path) {
        uint64_t upA, upB, loA = 0, loB = 0, totA, totB;
        windows(SEED_A, per_thread, CAP + 1, 1, &upA, NULL, &totA);
        windows(SEED_B, per_thread, CAP + 1, 1, &upB, NULL, &totB);
        if (per_thread >= CAP) {
            uint64_t dummy;
            windows(SEED_A, per_thread, CAP, BATCH, &dummy, &loA, NULL);
            windows(SEED_B, per_thread, CAP, BATCH, &dummy, &loB, NULL);
        }
        bench_expect e = {loA > loB ? loA : loB, upA + upB, totA + totB, n, 0};
        bench_write_expect(expect_path, "mt", n, &e, rc, &s);
    }
    return 0;
}
