"""asv benchmarks with exact answers, for asv_bench_benchmem (see tests/tests/adapter_asv.rs)."""


def benchmem_bytearray():
    # One buffer of 10**6 bytes plus CPython's trailing NUL, freed at return.
    bytearray(10**6)


def benchmem_nothing():
    pass


class Sizes:
    benchmem_metric = "allocated"
    params = [10**4, 10**5]
    param_names = ["n"]

    def setup(self, n):
        # Outside the measurement.
        self.scratch = bytearray(3 * n)

    def benchmem_two_buffers(self, n):
        a = bytearray(n)
        b = bytearray(n)
        return len(a) + len(b)


class Counts:
    benchmem_metric = "allocations"

    def benchmem_three(self):
        a = bytearray(1000)
        b = bytearray(1000)
        c = bytearray(1000)
        return a, b, c


class Kept:
    benchmem_metric = "retained"

    def benchmem_returned(self):
        # Returned, so still live when the measurement ends.
        return bytearray(5000)


def time_ordinary():
    # asv's own benchmark types still work beside the plugin.
    sum(range(100))
