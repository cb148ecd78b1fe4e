// An allocation made by a function inlined into its caller: with debug info the
// attribution shows both, `make_block` inside `outer_fn`. 1000 ints: 4000 bytes.
#include <cstddef>

static void *volatile sink;

static inline __attribute__((always_inline)) int *make_block(std::size_t n) {
    return new int[n];
}

__attribute__((noinline)) void outer_fn() {
    int *p = make_block(1000);
    sink = p;
}

int main() {
    outer_fn();
    delete[] static_cast<int *>(sink);
    return 0;
}
