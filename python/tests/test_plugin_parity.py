"""The plugin side by side with pytest-benchmem 0.5.5: each suite below was run under
pytest-benchmem too, and what it measured and printed is recorded here as the expected
values (``REFERENCE_*``). Where benchmem differs on purpose, the test says so."""

from __future__ import annotations

import sys
from typing import Dict, List

from conftest import FAST, Run, Suite, clean_env

DIVIDER = "\u2502"
DASH = "\u2014"
DELTA = "\u0394 peak"

SIZES = """
    import pytest

    def alloc():
        return bytearray(10**6)

    def test_bytes(benchmark):
        benchmark(bytearray, 10**6)

    def test_empty(benchmark):
        benchmark(lambda: None)

    @pytest.mark.benchmem(calls=3)
    def test_calls(benchmark):
        benchmark(bytearray, 10**6)

    @pytest.mark.benchmem(isolate=True)
    def test_iso(benchmark):
        benchmark(alloc)

    @pytest.mark.benchmem(bogus=1, other=2, profile_native=True)
    def test_unknown(benchmark):
        benchmark(bytearray, 10**6)
"""

#: What pytest-benchmem 0.5.5 saved for SIZES (its blobs have these three series; an
#: isolated one also rss_bytes). Three passes each: adaptive sampling of deterministic code.
REFERENCE_BLOBS: Dict[str, Dict[str, List[int]]] = {
    "test_bytes": {"peak_bytes": [1000001] * 3, "allocations": [1] * 3, "total_bytes": [1000001] * 3},
    "test_empty": {"peak_bytes": [0] * 3, "allocations": [0] * 3, "total_bytes": [0] * 3},
    "test_calls": {"peak_bytes": [1000001] * 3, "allocations": [3] * 3, "total_bytes": [3000003] * 3},
    "test_iso": {"peak_bytes": [1000001] * 3, "allocations": [1] * 3, "total_bytes": [1000001] * 3},
    "test_unknown": {"peak_bytes": [1000001] * 3, "allocations": [1] * 3, "total_bytes": [1000001] * 3},
}
#: Its header right of the divider, and its cells for test_empty (no rss measured there).
REFERENCE_HEADER = ["peak\u00b7min", "(KiB)", "peak\u00b7mean", "peak\u00b7max", "rss\u00b7min", "(MiB)", "rss\u00b7mean", "rss\u00b7max"]
REFERENCE_EMPTY_ROW = ["0.00", "0.00", "0.00", DASH, DASH, DASH]
#: Its caption; benchmem also measures retained, which is hidden by default too.
REFERENCE_CAPTION = (
    "memory (right of \u2502): a separate, untimed pass, not the timed rounds  \u2022  "
    "also available via --benchmark-memory-columns: allocated, allocations"
)


def memory_cells(run: Run, name: str) -> List[str]:
    rows = [line for line in run.out.splitlines() if line.startswith(name + " ") and DIVIDER in line]
    assert len(rows) == 1, run.out
    return rows[0].partition(DIVIDER)[2].split()


def test_default_passes_table_and_marker_keywords(suite: Suite) -> None:
    suite.write("test_a.py", SIZES)
    run = suite.pytest("--benchmark-only", "--benchmark-memory", "--benchmark-json=run.json")
    assert run.rc == 0, run.out + run.err
    for name, expected in REFERENCE_BLOBS.items():
        blob = run.blob(name)
        assert {k: blob[k] for k in expected} == expected, name
        # benchmem also counts the bytes each pass left allocated.
        assert len(blob["retained_bytes"]) == 3
        # isolate=True: each pass in a fresh process, which reports its resident high-water.
        assert ("rss_bytes" in blob) is (name == "test_iso"), name
    rss = run.blob("test_iso")["rss_bytes"]
    assert len(rss) == 3 and all(1_000_000 < v < 1024**3 for v in rss)

    header = run.lines("Name (time in")[0].partition(DIVIDER)[2].split()
    assert header == REFERENCE_HEADER
    assert memory_cells(run, "test_empty") == REFERENCE_EMPTY_ROW
    iso = memory_cells(run, "test_iso")
    assert iso[:3] == ["976.56"] * 3 and DASH not in iso[3:]
    assert run.lines(REFERENCE_CAPTION + ", retained") != [], run.out

    # Unknown keywords are ignored (as pytest-benchmem ignores them), with one warning.
    warning = "benchmem mark: unknown keywords 'bogus', 'other' ignored"
    assert sum(warning in line for line in run.out.splitlines()) == 1, run.out


SHRINKING = """
    import itertools
    import pytest

    counter = itertools.count()

    def shrinking():
        return bytearray(100_000 - 1000 * next(counter))

    def test_shrinking(benchmark):
        benchmark(shrinking)

    @pytest.mark.benchmem(repeats=4)
    def test_four(benchmark):
        benchmark(bytearray, 1000)
"""

#: pytest-benchmem's peaks for SHRINKING: a new minimum every pass runs to the cap of 10;
#: --benchmark-memory-max-time=0 stops at the minimum of 2; the marker's repeats wins.
REFERENCE_SHRINKING = {
    "": {"test_shrinking": [99001, 98001, 97001, 96001, 95001, 94001, 93001, 92001, 91001, 90001], "test_four": [1001] * 4},
    "--benchmark-memory-max-time=0": {"test_shrinking": [99001, 98001], "test_four": [1001] * 4},
    "--benchmark-memory-repeats=2": {"test_shrinking": [99001, 98001], "test_four": [1001] * 4},
}


def test_adaptive_passes_max_time_and_repeats(suite: Suite) -> None:
    suite.write("test_s.py", SHRINKING)
    for option, expected in REFERENCE_SHRINKING.items():
        run = suite.pytest("--benchmark-memory", "--benchmark-json=run.json", *([option] if option else []))
        assert run.rc == 0, run.out + run.err
        assert {name: run.blob(name)["peak_bytes"] for name in expected} == expected, option


GROWING = """
    import os

    def test_grow(benchmark):
        benchmark(bytearray, int(os.environ.get("N", "1000000")))

    def test_same(benchmark):
        benchmark(bytearray, 1000)

    def test_timeonly(benchmark):
        benchmark(lambda: None)
"""


def test_inline_compare_and_gate(suite: Suite) -> None:
    suite.write("test_c.py", GROWING)
    storage = f"--benchmark-storage=file://{suite.path / 'saved'}"

    # No saved run yet: it says so and passes (pytest-benchmem: rc 0, one line).
    first = suite.pytest("--benchmark-memory", storage, "--benchmark-memory-compare-fail=peak:10%")
    assert first.rc == 0, first.out + first.err
    assert len(first.lines("benchmem: no saved run with memory to compare against in")) == 1

    saved = suite.pytest("--benchmark-memory", storage, "--benchmark-save=base")
    assert saved.rc == 0, saved.out + saved.err

    # Grown by half: pytest-benchmem prints base and Δ peak columns (+50.0%, 0.0%, and —
    # where the base is 0) and fails the session with status 1 on the peak:10% gate;
    # allocations:0 does not fire (1 -> 1). benchmem: one line per regression, no traceback.
    env = clean_env(N="1500000")
    run = suite.pytest(
        "--benchmark-memory", storage, "--benchmark-memory-compare",
        "--benchmark-memory-compare-fail=peak:10%", "--benchmark-memory-compare-fail=allocations:0",
        env=env,
    )
    assert run.rc == 1, run.out + run.err
    header = run.lines("Name (time in")[0].partition(DIVIDER)[2]
    assert header.split()[-3:] == ["(B)", DELTA.split()[0], "peak"] and "base (B)" in header
    assert memory_cells(run, "test_grow")[-2:] == ["1,000,001", "+50.0%"]
    assert memory_cells(run, "test_same")[-2:] == ["1,001", "0.0%"]
    assert memory_cells(run, "test_timeonly")[-2:] == ["0", DASH]
    assert len(run.lines(f"{DELTA} vs ")) == 1 and run.lines(f"{DELTA} vs ")[0].endswith("_base.json")
    regressions = run.lines("benchmem: memory regression:")
    assert regressions == [
        "benchmem: memory regression: test_c.py::test_grow: peak 977 KiB \u2192 1.43 MiB (+50.0%), over peak:10%"
    ]
    assert "Traceback" not in run.out + run.err and "3 passed" in run.out

    # A percent with an absolute floor: +50% but only 488 KiB more, under 1 MiB: passes.
    run = suite.pytest("--benchmark-memory", storage, "--benchmark-memory-compare-fail=peak:20%+1MiB", env=env)
    assert run.rc == 0 and not run.lines("memory regression"), run.out + run.err
    # An absolute growth: 500,000 bytes > 400 KiB.
    run = suite.pytest("--benchmark-memory", storage, "--benchmark-memory-compare-fail=peak:400KiB", env=env)
    assert run.rc == 1 and len(run.lines("benchmem: memory regression: test_c.py::test_grow: peak")) == 1, run.out
    # rss was not measured (no isolated pass): a gate on it could never fire, so it fails.
    run = suite.pytest("--benchmark-memory", storage, "--benchmark-memory-compare-fail=rss:10%", env=env)
    assert run.rc == 1 and len(run.lines("no benchmark has rss in both runs")) == 1, run.out
    assert "Traceback" not in run.out + run.err
    # REF picks the saved run as --benchmark-compare does; one that matches nothing: no baseline.
    run = suite.pytest("--benchmark-memory", storage, "--benchmark-memory-compare=0001", "--benchmark-memory-compare-fail=peak:10%", env=env)
    assert run.rc == 1, run.out
    run = suite.pytest("--benchmark-memory", storage, "--benchmark-memory-compare=0042", "--benchmark-memory-compare-fail=peak:10%", env=env)
    assert run.rc == 0 and run.lines("benchmem: no saved run with memory to compare against"), run.out
    # Nothing measured in this run: said, and passes.
    run = suite.pytest(storage, "--benchmark-memory-compare", env=env)
    assert run.rc == 0 and run.lines("benchmem: no memory was measured in this run"), run.out


def test_split_table(suite: Suite) -> None:
    suite.write("test_c.py", GROWING)
    run = suite.pytest("--benchmark-memory", "--benchmark-memory-table=split")
    assert run.rc == 0, run.out + run.err
    # pytest-benchmark's table is left as it is...
    assert DIVIDER not in run.out
    header = run.lines("Name (time in")
    assert len(header) == 1 and header[0].split()[-1] == "Iterations"
    # ...and a Memory table follows, heaviest first.
    lines = run.out.splitlines()
    start = [i for i, line in enumerate(lines) if " Memory: 3 benchmarks " in line]
    assert len(start) == 1, run.out
    table = lines[start[0] : start[0] + 8]
    assert table[1].split() == ["Name", "peak\u00b7min", "(B)", "peak\u00b7mean", "peak\u00b7max"]
    assert [row.split()[0] for row in table[3:6]] == ["test_grow", "test_same", "test_timeonly"]
    assert table[3].split()[1:] == ["1,000,001"] * 3
    assert table[7].startswith("memory: a separate, untimed pass, not the timed rounds")


CEILINGS = """
    import pytest

    @pytest.mark.benchmem(max_peak="100KiB")
    def test_ceiling(benchmark):
        benchmark(bytearray, 10**6)

    def test_ok(benchmark_memory):
        benchmark_memory(bytearray, 10**6)
        assert benchmark_memory.result.peak_bytes == 1_000_001
        assert benchmark_memory.result.repeats == 3
"""


def test_benchmark_disable_still_measures_and_applies_ceilings(suite: Suite) -> None:
    # pytest-benchmem: 1 failed (the ceiling), 1 passed, exit status 1.
    suite.write("test_d.py", CEILINGS)
    run = suite.pytest("--benchmark-disable", "--benchmark-memory", "-rf")
    assert run.rc == 1, run.out + run.err
    assert "1 failed, 1 passed" in run.out
    assert run.lines("test_d.py::test_ceiling: peak 977 KiB (worst of 3 passes) exceeds max_peak 100 KiB") != []
    assert "Traceback" not in run.out


MAIN_SUITE = """
    import threading
    import pytest

    def test_bytes(benchmark):
        benchmark(bytearray, 10**6)

    def test_lambda(benchmark):
        n = 10**6
        benchmark(lambda: bytearray(n))

    @pytest.mark.parametrize("n", [1000, 10**6])
    def test_param(benchmark, n):
        benchmark(bytearray, n)

    def test_fixture(benchmark_memory):
        benchmark_memory.pedantic(lambda data: bytearray(len(data)), setup=lambda: ((b"x" * 10**6,), {}), rounds=2)
        assert benchmark_memory.peak_bytes == 1_000_001

    @pytest.mark.benchmem(max_peak="1KiB")
    def test_ceiling(benchmark):
        benchmark(bytearray, 10**6)

    def test_unpicklable(benchmark):
        lock = threading.Lock()
        benchmark(lambda: lock)
"""


def test_pytest_main_inside_another_program_measures(suite: Suite) -> None:
    # pytest-benchmem measures in-process, so pytest.main() just works there; benchmem
    # measures each memory pass in a fresh process started under the preload.
    suite.write("test_m.py", MAIN_SUITE)
    suite.write(
        "runner.py",
        f"""
        import sys, pytest
        sys.exit(pytest.main({FAST!r} + ["-v", "-rf", "--benchmark-memory", "--benchmark-json=run.json", "test_m.py"]))
        """,
    )
    run = suite.run([sys.executable, "runner.py"])
    assert run.rc == 1, run.out + run.err
    assert "restarting" not in run.out
    assert len(run.lines("pytest runs inside another program (pytest.main()); each memory pass runs in a fresh process")) == 1
    for name in ("test_bytes", "test_lambda", "test_param[1000000]", "test_fixture"):
        blob = run.blob(name)
        assert blob["peak_bytes"] == [1_000_001] * 3 and blob["allocations"] == [1] * 3, (name, blob)
    assert run.blob("test_param[1000]")["peak_bytes"] == [1001] * 3
    failed = {line.split()[1] for line in run.out.splitlines() if line.startswith("FAILED ")}
    assert failed == {"test_m.py::test_ceiling", "test_m.py::test_unpicklable"}, run.out
    assert run.lines("test_m.py::test_ceiling: peak 977 KiB (worst of 3 passes) exceeds max_peak 1.00 KiB") != []
    assert len(run.lines("cannot be pickled (TypeError: cannot pickle '_thread.lock' object)")) >= 1


ISOLATE_ERRORS = """
    import threading
    import pytest

    @pytest.mark.benchmem(isolate=True)
    def test_lambda(benchmark):
        benchmark(lambda: bytearray(10**6))

    @pytest.mark.benchmem(isolate=True)
    def test_lock(benchmark):
        lock = threading.Lock()
        benchmark(lambda: lock)

    @pytest.mark.benchmem(isolate="yes")
    def test_bad_isolate(benchmark):
        benchmark(lambda: None)

    @pytest.mark.benchmem(calls=0)
    def test_bad_calls(benchmark):
        benchmark(lambda: None)
"""


def test_isolate_pickling_and_bad_keywords(suite: Suite) -> None:
    # pytest-benchmem fails both isolated tests with a RuntimeError traceback (it pickles
    # with pickle, which refuses lambdas). benchmem pickles with cloudpickle: the lambda
    # is measured; a target that cannot be pickled fails the test in one line.
    suite.write("test_i.py", ISOLATE_ERRORS)
    run = suite.pytest("--benchmark-memory", "--benchmark-json=run.json", "-rfE")
    assert run.rc == 1, run.out + run.err
    assert run.blob("test_lambda")["peak_bytes"] == [1_000_001] * 3 and "rss_bytes" in run.blob("test_lambda")
    failed = {line.split()[1]: line for line in run.out.splitlines() if line.startswith("FAILED ")}
    assert set(failed) == {"test_i.py::test_lock"}, run.out
    # Bad marker values are errors at setup, in one line each.
    errors = {line.split()[1] for line in run.out.splitlines() if line.startswith("ERROR ")}
    assert errors == {"test_i.py::test_bad_isolate", "test_i.py::test_bad_calls"}, run.out
    assert len([ln for ln in run.out.splitlines() if ln.startswith("benchmem: test_i.py::test_lock: the benchmarked callable")]) == 1
    assert len(run.lines("cannot be pickled (TypeError: cannot pickle '_thread.lock' object)")) == 1
    assert run.lines("test_i.py::test_bad_isolate: benchmem mark: isolate must be True or False, got 'yes'") != []
    assert run.lines("test_i.py::test_bad_calls: benchmem mark: calls must be an integer >= 1, got 0") != []
    assert "Traceback" not in run.out


def test_result_api_in_the_fixture(suite: Suite) -> None:
    # pytest-benchmem 0.5.5 printed, for benchmark_memory(bytearray, 10**6):
    # 1000001 1000001 1 1000001 None 3 Measurement(peak_bytes=1000001, allocations=1,
    # total_bytes=1000001, rss_bytes=None) [1000001, 1000001, 1000001]
    suite.write(
        "test_r.py",
        """
        from pytest_benchmem import Measurement, MemoryResult

        def test_one(benchmark_memory):
            benchmark_memory(bytearray, 10**6)
            r = benchmark_memory.result
            assert isinstance(r, MemoryResult)
            assert (r.peak_bytes, r.peak_bytes_max, r.allocations, r.total_bytes, r.rss_bytes, r.repeats) == (
                1000001, 1000001, 1, 1000001, None, 3)
            assert r.representative == Measurement(1000001, 1, 1000001, retained_bytes=1000001)
            assert r.series("peak_bytes") == [1000001] * 3
            assert MemoryResult.from_blob(r.as_dict()) == r
            assert benchmark_memory.extra_info["benchmem"] == r.as_dict()
        """,
    )
    run = suite.pytest("-q")
    assert run.rc == 0, run.out + run.err


def test_storage_dir_is_pytest_benchmarks_own(suite: Suite) -> None:
    # Without --benchmark-storage, the baseline comes from .benchmarks/, as --benchmark-compare's.
    suite.write("test_c.py", GROWING)
    assert suite.pytest("--benchmark-memory", "--benchmark-autosave").rc == 0
    assert list((suite.path / ".benchmarks").rglob("0001_*.json"))
    run = suite.pytest("--benchmark-memory", "--benchmark-memory-compare")
    assert run.rc == 0, run.out + run.err
    assert memory_cells(run, "test_same")[-1] == "0.0%"


def test_pytest_main_with_a_test_module_not_importable_by_name(suite: Suite) -> None:
    # --import-mode=importlib and the rootdir off sys.path: the fresh process could not
    # import the test module, so its functions travel by value.
    suite.write(
        "deep/test_m.py",
        """
        def helper():
            return bytearray(10**6)

        def test_helper(benchmark):
            benchmark(helper)
        """,
    )
    suite.write(
        "runner.py",
        f"""
        import os, sys, pytest
        here = os.path.dirname(os.path.abspath(__file__))
        sys.path[:] = [p for p in sys.path if p not in ("", here)]
        os.chdir("/")
        sys.exit(pytest.main({FAST!r} + [
            "--rootdir=" + here, "--import-mode=importlib", "--benchmark-memory",
            "--benchmark-json=" + os.path.join(here, "run.json"), os.path.join(here, "deep", "test_m.py"),
        ]))
        """,
    )
    run = suite.run([sys.executable, "runner.py"])
    assert run.rc == 0, run.out + run.err
    assert run.blob("test_helper")["peak_bytes"] == [1_000_001] * 3
