// benchmem for C++: RAII regions, and a Google Benchmark MemoryManager.
//
// Header-only, like benchmem.h (which it includes): nothing to link, and a program built
// with it runs unchanged without benchmem (regions are no-ops, stats stay zero).
//
//     #include "benchmem.hpp"
//
//     {
//         benchmem::Region r("parse");
//         parse(input);
//         r.end();                          // or let the destructor close it
//         r.stats().peak_bytes;             // valid when r.has_stats()
//     }
//
// Google Benchmark: include <benchmark/benchmark.h> *before* this header (or define
// BENCHMEM_GOOGLE_BENCHMARK) to get benchmem::BenchmarkMemoryManager:
//
//     static void BM_parse(benchmark::State& state) { for (auto _ : state) parse(input); }
//     BENCHMEM_BENCHMARK(BM_parse);         // BENCHMARK(BM_parse), plus its name for benchmem
//
//     int main(int argc, char** argv) {
//         benchmem::BenchmarkMemoryManager mm;
//         benchmark::RegisterMemoryManager(&mm);
//         benchmark::Initialize(&argc, argv);
//         benchmark::RunSpecifiedBenchmarks();
//         benchmark::RegisterMemoryManager(nullptr);
//     }
//
// Run it with `benchmem run -- ./bench --benchmark_format=json`: Google Benchmark's own
// JSON then carries benchmem's exact figures (allocs_per_iter, max_bytes_used,
// total_allocated_bytes, net_heap_growth), and benchmem's table has one row per
// benchmark. See BenchmarkMemoryManager for what the harness itself adds to them.
//
// C++11 or later.

#ifndef BENCHMEM_HPP
#define BENCHMEM_HPP

#include "benchmem.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace benchmem {

/// The counters of one region sample (see benchmem.h): bytes, except `allocations`.
typedef ::benchmem_stats Stats;

/// True when this process runs under the benchmem preload.
inline bool is_active() noexcept { return ::benchmem_is_active() == 1; }

/// A region open for the lifetime of the object (or until end()).
///
/// The constructor opens the region, end() or the destructor closes it. Opening and
/// closing allocate nothing, so an empty Region measures 0 allocations. Without the
/// preload nothing is opened and stats() stays zero.
class Region {
  public:
    /// Opens a region named `name` (any NUL-terminated bytes; the preload copies it).
    explicit Region(const char* name) noexcept : id_(::benchmem_region_begin(name)) {}

    /// Closes the region if end() was not called.
    ~Region() { end(); }

    Region(const Region&) = delete;
    Region& operator=(const Region&) = delete;

    /// Closes the region and keeps its sample; true when stats() holds it. Later calls
    /// change nothing and return the same answer.
    bool end() noexcept {
        if (id_ >= 0) {
            const int id = id_;
            id_ = -1;
            has_stats_ = ::benchmem_region_end(id, &stats_) == 0;
        }
        return has_stats_;
    }

    /// True while the region is open (false without the preload, or once ended).
    bool open() const noexcept { return id_ >= 0; }

    /// True once end() has filled stats() with the region's sample.
    bool has_stats() const noexcept { return has_stats_; }

    /// The sample, once ended (all zero before, or without the preload).
    const Stats& stats() const noexcept { return stats_; }

  private:
    int id_;
    bool has_stats_ = false;
    Stats stats_ = Stats();
};

}  // namespace benchmem

#define BENCHMEM_PRIVATE_CONCAT2(a, b) a##b
#define BENCHMEM_PRIVATE_CONCAT(a, b) BENCHMEM_PRIVATE_CONCAT2(a, b)

/// Measures the rest of the enclosing scope as region `name`.
#define BENCHMEM_REGION(name) \
    ::benchmem::Region BENCHMEM_PRIVATE_CONCAT(benchmem_region_, __LINE__)(name)

#if defined(BENCHMEM_GOOGLE_BENCHMARK) && !defined(BENCHMARK_BENCHMARK_H_)
#include <benchmark/benchmark.h>
#endif

#ifdef BENCHMARK_BENCHMARK_H_

#include <type_traits>
#include <utility>

namespace benchmem {
namespace detail {

// Google Benchmark never tells a MemoryManager which benchmark it measures (Start() takes
// no argument, in 1.7 as in 1.9). What it does guarantee is the order within one
// repetition of one benchmark: the timed runs of the body first, then Start(), the
// memory run (the body again, 16 iterations at most), Stop(). So the body (or the
// BENCHMEM_BENCHMARK wrapper around it) announces its name while it is being timed, and
// Start() takes the announcement for the region it opens. The slot is a fixed buffer
// behind a mutex: announcing allocates nothing, and multi-threaded benchmarks announce
// from every thread at once.
struct NameSlot {
    std::mutex lock;
    bool named = false;
    // Set between Start() and Stop(): announcements then come from the memory run itself
    // and must not run code that could allocate (State::name() returns a std::string).
    std::atomic<bool> measuring{false};
    char name[1025] = {0};
};

inline NameSlot& name_slot() {
    static NameSlot slot;
    return slot;
}

inline void announce(const char* name, std::size_t len) noexcept {
    NameSlot& s = name_slot();
    std::lock_guard<std::mutex> g(s.lock);
    if (len > sizeof s.name - 1) len = sizeof s.name - 1;
    std::memcpy(s.name, name, len);
    s.name[len] = '\0';
    s.named = true;
}

// State::name() exists from Google Benchmark 1.8.0: the instance's full name
// ("BM_x/8/threads:2"). Before, only the name given at registration is known.
template <class S>
auto announce_state(const S& state, const char*, int) -> decltype(state.name(), void()) {
    if (name_slot().measuring.load(std::memory_order_relaxed)) return;
    const auto name = state.name();
    announce(name.data(), name.size());
}

template <class S>
void announce_state(const S&, const char* fallback, long) {
    if (name_slot().measuring.load(std::memory_order_relaxed)) return;
    announce(fallback, std::strlen(fallback));
}

#if defined(__GNUC__)
#pragma GCC diagnostic push
// MemoryManager::Stop(Result*) is deprecated in 1.7 (and gone from 1.8): naming it to
// detect and override it is the point.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif

// Which Stop the installed Google Benchmark calls. Up to 1.7.1 the harness calls the
// pure virtual Stop(Result*) (1.7 adds a Stop(Result&) that forwards to it); from 1.8.0
// Stop(Result&) is the only one, pure virtual. No version macro exists in the header, so
// the answer is read off the base class: can Stop be called with a Result*?
template <class M, class = void>
struct has_pointer_stop : std::false_type {};
template <class M>
struct has_pointer_stop<
    M, decltype(void(std::declval<M&>().Stop(std::declval<typename M::Result*>())))>
    : std::true_type {};

// total_allocated_bytes and net_heap_growth exist from Google Benchmark 1.7.0.
template <class R>
auto set_totals(R& r, int64_t total, int64_t retained, int)
    -> decltype(r.total_allocated_bytes = total, r.net_heap_growth = retained, void()) {
    r.total_allocated_bytes = total;
    r.net_heap_growth = retained;
}
template <class R>
void set_totals(R&, int64_t, int64_t, long) {}

inline int64_t clamp(uint64_t v) noexcept {
    return v > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(v);
}

// The measuring part, shared by both Stop shapes. Everything here is a template over the
// MemoryManager class so that only the shape the installed version calls is compiled.
template <class M>
class ManagerCore : public M {
  public:
    typedef typename M::Result Result;

    explicit ManagerCore(const char* unnamed) noexcept {
        std::snprintf(unnamed_, sizeof unnamed_, "%s", unnamed ? unnamed : "benchmark");
    }

    void Start() override {
        NameSlot& s = name_slot();
        {
            std::lock_guard<std::mutex> g(s.lock);
            if (s.named) {
                std::memcpy(region_name_, s.name, sizeof region_name_);
                s.named = false;
            } else {
                std::snprintf(region_name_, sizeof region_name_, "%s#%lu", unnamed_,
                              static_cast<unsigned long>(++unnamed_runs_));
            }
        }
        s.measuring.store(true, std::memory_order_relaxed);
        // Opened last: nothing of ours allocates inside the region, and everything the
        // harness does from here to Stop() is counted.
        id_ = ::benchmem_region_begin(region_name_);
    }

    /// The name Start() gave the last region.
    const char* last_name() const noexcept { return region_name_; }

    /// The last memory run's sample; valid when has_stats().
    const Stats& last_stats() const noexcept { return last_; }

    /// True when the last memory run was measured (false without the preload).
    bool has_stats() const noexcept { return has_last_; }

  protected:
    void finish(Result& r) noexcept {
        // Closed first, before anything else of ours runs.
        const int id = id_;
        id_ = -1;
        has_last_ = id >= 0 && ::benchmem_region_end(id, &last_) == 0;
        name_slot().measuring.store(false, std::memory_order_relaxed);
        if (!has_last_) return;  // not profiled: leave the harness's defaults
        r.num_allocs = clamp(last_.allocations);
        r.max_bytes_used = clamp(last_.peak_bytes);
        // net_heap_growth: bytes allocated in the memory run and still live at Stop().
        // Frees of memory allocated before Start() are not subtracted (benchmem's
        // regions only account for their own allocations), so it is never negative.
        set_totals(r, clamp(last_.total_bytes), clamp(last_.retained_bytes), 0);
    }

  private:
    int id_ = -1;
    bool has_last_ = false;
    Stats last_ = Stats();
    unsigned long unnamed_runs_ = 0;
    char unnamed_[256];
    char region_name_[1025] = {0};
};

template <class M, bool PointerStop = has_pointer_stop<M>::value>
class StopShape;

// Google Benchmark up to 1.7.1: the harness calls Stop(Result*).
template <class M>
class StopShape<M, true> : public ManagerCore<M> {
  public:
    using ManagerCore<M>::ManagerCore;
    // Keeps 1.7's forwarding Stop(Result&) visible (no hidden-overload warning).
    using M::Stop;
    void Stop(typename M::Result* result) override { this->finish(*result); }
};

// Google Benchmark 1.8.0 and later: Stop(Result&).
template <class M>
class StopShape<M, false> : public ManagerCore<M> {
  public:
    using ManagerCore<M>::ManagerCore;
    void Stop(typename M::Result& result) override { this->finish(result); }
};

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

}  // namespace detail

/// A Google Benchmark MemoryManager whose figures are benchmem's, exact to the byte.
///
/// Start() opens a benchmem region and Stop() closes it, filling `num_allocs`,
/// `max_bytes_used`, `total_allocated_bytes` and `net_heap_growth` (bytes allocated in
/// the run and still live at its end) from the region's sample. Google Benchmark's JSON
/// then reports `allocs_per_iter` (num_allocs / memory iterations, at most 16) and the
/// three byte figures; benchmem's own table gets one row per benchmark.
///
/// What the harness adds: everything between Start() and Stop() is counted, and that
/// includes Google Benchmark's own bookkeeping for the memory run (in 1.7.1: one
/// 400-byte allocation, live for the whole run). So a benchmark allocating and freeing
/// 1 MiB per iteration reports 17 allocations over 16 iterations (allocs_per_iter
/// 1.0625) and max_bytes_used 1,048,976; an empty one 1 allocation of 400 bytes. The
/// figures are reported as measured, never corrected.
///
/// Naming: the region is named after the benchmark when it was announced during the
/// benchmark's timed runs, by BENCHMEM_BENCHMARK(fn) or by benchmem::name_benchmark() in
/// the body; otherwise `<unnamed>#<n>`, numbering the memory runs in order.
///
/// Without the preload, Stop() leaves the Result as Google Benchmark made it (0
/// allocations, 0 bytes; the other two "not available").
class BenchmarkMemoryManager : public detail::StopShape<::benchmark::MemoryManager> {
  public:
    /// `unnamed`: the name prefix for memory runs no benchmark announced.
    explicit BenchmarkMemoryManager(const char* unnamed = "benchmark") noexcept
        : detail::StopShape<::benchmark::MemoryManager>(unnamed) {}
};

/// Names the memory run of the running benchmark `name` in benchmem's table. Call it in
/// the benchmark body (each call is a copy into a fixed buffer; none allocates).
inline void name_benchmark(const char* name) noexcept {
    if (detail::name_slot().measuring.load(std::memory_order_relaxed)) return;
    detail::announce(name, std::strlen(name));
}

/// Names the memory run after the running benchmark instance (`state.name()`, Google
/// Benchmark 1.8.0 and later; with 1.7 use the `const char*` overload).
template <class S = ::benchmark::State>
auto name_benchmark(const S& state) -> decltype(state.name(), void()) {
    detail::announce_state(state, "", 0);
}

}  // namespace benchmem

/// BENCHMARK(fn), with the benchmark's name given to BenchmarkMemoryManager: the
/// instance name (`BM_x/8`) from Google Benchmark 1.8.0, the function's name before.
/// Chain ->Arg(...) etc. as with BENCHMARK.
#define BENCHMEM_BENCHMARK(fn)                                                    \
    BENCHMARK_PRIVATE_DECLARE(_benchmem_) =                                       \
        ::benchmark::RegisterBenchmark(#fn, [](::benchmark::State& benchmem_st) { \
            ::benchmem::detail::announce_state(benchmem_st, #fn, 0);              \
            fn(benchmem_st);                                                      \
        })

#endif  // BENCHMARK_BENCHMARK_H_

#endif  // BENCHMEM_HPP
