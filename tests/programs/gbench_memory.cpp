// Google Benchmark suite measured through benchmem::BenchmarkMemoryManager. Each
// benchmark's memory run is 16 iterations (Google Benchmark runs min(16, iterations)).
#include <benchmark/benchmark.h>

#include "benchmem.hpp"

#include <cstdlib>
#include <cstring>

// Allocates and frees 1 MiB per iteration: 16 allocations of 1 MiB, peak 1 MiB.
static void BM_alloc_1mib(benchmark::State& state) {
    for (auto _ : state) {
        void* p = std::malloc(1 << 20);
        benchmark::DoNotOptimize(p);
        std::free(p);
    }
}
BENCHMEM_BENCHMARK(BM_alloc_1mib);

// Allocates nothing.
static void BM_nothing(benchmark::State& state) {
    for (auto _ : state) {
        benchmark::ClobberMemory();
    }
}
BENCHMEM_BENCHMARK(BM_nothing);

// Plain BENCHMARK, named from its body. One 100-byte block per iteration, kept until the
// next run of the body frees it: the memory run's 16 blocks are all live at Stop().
static void* kept[16];
static void BM_named_in_body(benchmark::State& state) {
    benchmem::name_benchmark("named_in_body");
    for (void*& p : kept) {
        std::free(p);
        p = nullptr;
    }
    unsigned n = 0;
    for (auto _ : state) {
        void*& slot = kept[n++ % 16];
        std::free(slot);
        slot = std::malloc(100);
        benchmark::DoNotOptimize(slot);
    }
}
BENCHMARK(BM_named_in_body);

// Plain BENCHMARK, not named: its row is "benchmark#<n>".
static void BM_unnamed(benchmark::State& state) {
    for (auto _ : state) {
        void* p = std::malloc(10);
        benchmark::DoNotOptimize(p);
        std::free(p);
    }
}
BENCHMARK(BM_unnamed);

int main(int argc, char** argv) {
    benchmem::BenchmarkMemoryManager mm;
    benchmark::RegisterMemoryManager(&mm);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::RegisterMemoryManager(nullptr);
    benchmark::Shutdown();
    return 0;
}
