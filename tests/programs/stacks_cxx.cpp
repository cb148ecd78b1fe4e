// C++ allocations with a known call stack: main -> make -> operator new -> malloc.
#include <cstdio>
#include <vector>

#include "common.h"

__attribute__((noinline)) std::vector<int> *make(int n) {
    auto *v = new std::vector<int>(n, 7);
    __asm__ volatile("" ::: "memory");
    return v;
}

int main() {
    int id = benchmem_region_begin("cxx");
    std::vector<int> *keep = make(1000);  // 24-byte vector, 4000 bytes of ints
    delete make(10);                       // 24 + 40, freed
    benchmem_stats s;
    benchmem_region_end(id, &s);
    std::printf("cxx %llu %llu %llu %llu\n", (unsigned long long)s.peak_bytes,
                (unsigned long long)s.total_bytes, (unsigned long long)s.allocations,
                (unsigned long long)s.retained_bytes);
    delete keep;
    return 0;
}
