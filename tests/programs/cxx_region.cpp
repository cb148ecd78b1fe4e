// benchmem::Region (include/benchmem.hpp): explicit end(), the destructor, the macro, and
// a program that runs unchanged without the preload. Prints one line per region:
// name has_stats peak total allocations retained.
#include "benchmem.hpp"

#include <cstdio>
#include <cstdlib>
#include <vector>

static void print(const char* name, const benchmem::Region& r) {
    const benchmem::Stats& s = r.stats();
    std::printf("%s %d %llu %llu %llu %llu\n", name, r.has_stats() ? 1 : 0,
                (unsigned long long)s.peak_bytes, (unsigned long long)s.total_bytes,
                (unsigned long long)s.allocations, (unsigned long long)s.retained_bytes);
}

int main() {
    std::printf("active %d\n", benchmem::is_active() ? 1 : 0);

    benchmem::Region vec("vector");
    { std::vector<int> v(1000); }
    const bool ended = vec.end();
    const bool again = vec.end();  // a second end() changes nothing
    print("vector", vec);
    std::printf("ended %d %d open %d\n", ended ? 1 : 0, again ? 1 : 0, vec.open() ? 1 : 0);

    void* kept = nullptr;
    {
        BENCHMEM_REGION("scoped");  // closed by the destructor at the end of the scope
        void* p = std::malloc(123);
        std::free(p);
        kept = std::malloc(77);
    }
    std::free(kept);

    { benchmem::Region empty("empty"); }
    return 0;
}
