"""py_churn: pure-Python allocation churn, 200 x sum([i*i for i in range(20_000)]).

Region "work" (through pytest_benchmem.region when that module is importable; otherwise the
workload runs unmarked) covers the loop. Repeat count via argv[1] (default 200)."""
import sys

from bench_common import region


def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    total = 0
    with region("work"):
        for _ in range(reps):
            total += sum([i * i for i in range(20_000)])
    if total == 42:
        print(total)


main()
