"""py_numpy: import numpy, then a few 2000x2000 float64 arrays (32 MB each) and elementwise
arithmetic (each result is a fresh large allocation: mmap'd by the allocator). Region
"work" covers the import and the arithmetic. Repeat count via argv[1] (default 4)."""
import sys

from bench_common import region


def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    with region("work"):
        import numpy as np

        acc = 0.0
        for r in range(reps):
            a = np.arange(4_000_000, dtype=np.float64).reshape(2000, 2000)
            b = np.ones((2000, 2000)) * (r + 1)
            c = a * b + a
            d = np.sqrt(c) - b / 3.0
            e = d.T @ np.ones(2000)
            acc += float(d.sum()) + float(e[0])
            del a, b, c, d, e
    if acc == 42.0:
        print(acc)


main()
