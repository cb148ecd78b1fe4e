// containers: C++ standard containers under churn (default scale n = 200000):
//   std::vector<int> growth by push_back (doubling reallocations), many vectors of several
//   lengths; std::map<int,int> random inserts then erases; std::unordered_map<int,int>
//   random inserts then erases (node allocations and bucket-array rehashes); a
//   std::vector<std::string> of heap-sized strings.
// Every container uses Counting<T>, a std::allocator that forwards to ::operator new /
// ::operator delete (which libstdc++ serves with malloc(n) / free) and tracks requested
// bytes in plain globals, so region "work" has a known answer by construction:
// allocations, total_bytes, peak_bytes from the counters, retained_bytes = 0 (every
// container dies inside the region). Strings use the same allocator, so their heap
// buffers are counted too; short strings (SSO) never allocate.
#include <cstdint>
#include <map>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include "common.h"

static uint64_t g_live, g_peak, g_total, g_count;

template <class T>
struct Counting {
    using value_type = T;
    Counting() noexcept = default;
    template <class U>
    Counting(const Counting<U> &) noexcept {}
    T *allocate(std::size_t n) {
        std::size_t bytes = n * sizeof(T);
        T *p = static_cast<T *>(::operator new(bytes));
        g_count++;
        g_total += bytes;
        g_live += bytes;
        if (g_live > g_peak) g_peak = g_live;
        return p;
    }
    void deallocate(T *p, std::size_t n) noexcept {
        g_live -= n * sizeof(T);
        ::operator delete(p);
    }
    template <class U>
    bool operator==(const Counting<U> &) const noexcept { return true; }
    template <class U>
    bool operator!=(const Counting<U> &) const noexcept { return false; }
};

using Str = std::basic_string<char, std::char_traits<char>, Counting<char>>;

static uint64_t work(uint64_t n, bench_rng &rng) {
    uint64_t checksum = 0;
    // 1. vector growth: many vectors, lengths up to n, each grown from empty
    for (int rep = 0; rep < 20; rep++) {
        std::vector<int, Counting<int>> v;
        uint64_t len = 1000 + bench_next(&rng) % n;
        for (uint64_t i = 0; i < len; i++) v.push_back((int)i);
        checksum += v[len / 2];
    }
    // 2. std::map: insert n random keys (duplicates allocate and free a node), erase half
    {
        std::map<int, int, std::less<int>, Counting<std::pair<const int, int>>> m;
        for (uint64_t i = 0; i < n; i++) m.emplace((int)(bench_next(&rng) % (4 * n)), (int)i);
        for (uint64_t i = 0; i < n; i++) m.erase((int)(bench_next(&rng) % (4 * n)));
        for (uint64_t i = 0; i < n / 2; i++) m[(int)(bench_next(&rng) % (4 * n))] += 1;
        checksum += m.size();
    }
    // 3. std::unordered_map: the same pattern, with rehash growth
    {
        std::unordered_map<int, int, std::hash<int>, std::equal_to<int>,
                           Counting<std::pair<const int, int>>>
            m;
        for (uint64_t i = 0; i < 2 * n; i++) m.emplace((int)(bench_next(&rng) % (4 * n)), (int)i);
        for (uint64_t i = 0; i < 2 * n; i++) m.erase((int)(bench_next(&rng) % (4 * n)));
        for (uint64_t i = 0; i < n; i++) m[(int)(bench_next(&rng) % (4 * n))] += 1;
        checksum += m.size();
    }
    // 4. vector of strings: heap strings 16..200 chars, vector growth moves them
    {
        std::vector<Str, Counting<Str>> v;
        for (uint64_t i = 0; i < n / 2; i++) {
            std::size_t len = bench_size(&rng, 16, 200);
            v.emplace_back(len, (char)('a' + i % 26));
        }
        for (auto &s : v) checksum += (unsigned char)s[0];
    }
    return checksum;
}

int main(int argc, char **argv) {
    const char *expect_path;
    uint64_t n = bench_args(argc, argv, 200000, &expect_path);
    if (n < 1) n = 1;
    bench_rng rng = {0xA4093822299F31D0ULL};

    int id = benchmem_region_begin("work");
    uint64_t checksum = work(n, rng);
    benchmem_stats s;
    int rc = benchmem_region_end(id, &s);

    if (expect_path) {
        bench_expect e = {g_peak, g_peak, g_total, g_count, g_live};
        bench_write_expect(expect_path, "containers", n, &e, rc, &s);
    }
    return checksum == 42 ? 3 : 0;  // keep the work observable
}
