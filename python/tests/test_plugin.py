"""The pytest plugin, end to end: real pytest + pytest-benchmark in a subprocess."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from conftest import FAST, Suite, clean_env

BENCHES = """
    import pytest

    def churn():
        for _ in range(20):
            sum([i * i for i in range(20_000)])

    def empty():
        pass

    def test_churn(benchmark):
        benchmark(churn)

    def test_empty(benchmark):
        benchmark(empty)

    def test_bytearray(benchmark):
        benchmark(bytearray, 10_000_000)

    @pytest.mark.parametrize("n", [1000, 100_000])
    def test_ints(benchmark, n):
        benchmark(lambda: list(range(n)))

    def test_not_a_benchmark():
        pass
"""

BLOB_KEYS = {"peak_bytes", "total_bytes", "allocations", "retained_bytes"}


def test_flag_restarts_and_adds_memory_to_table_and_json(suite: Suite) -> None:
    suite.write("test_b.py", BENCHES)
    run = suite.pytest("-v", "--benchmark-only", "--benchmark-memory", "--benchmark-json=run.json")
    assert run.rc == 0, run.out + run.err
    # One line says pytest was restarted under the preload (-v), and only once.
    restarts = run.lines("benchmem: --benchmark-memory: restarting pytest under the preload")
    assert len(restarts) == 1
    assert len(run.lines("test session starts")) == 1

    # JSON: pytest-benchmark's layout, timing in stats, memory in extra_info.benchmem.
    doc = run.json
    assert {"machine_info", "commit_info", "benchmarks", "datetime", "version"} <= set(doc)
    assert len(doc["benchmarks"]) == 5
    for b in doc["benchmarks"]:
        assert b["stats"]["min"] > 0
        assert set(b["extra_info"]["benchmem"]) == BLOB_KEYS
        # Adaptive passes: deterministic code settles after 3 (no new minimum twice).
        assert all(len(v) == 3 for v in b["extra_info"]["benchmem"].values())
    assert run.blob("test_empty") == {"peak_bytes": [0] * 3, "total_bytes": [0] * 3, "allocations": [0] * 3, "retained_bytes": [0] * 3}
    assert run.blob("test_bytearray") == {
        "peak_bytes": [10_000_001] * 3,
        "total_bytes": [10_000_001] * 3,
        "allocations": [1] * 3,
        "retained_bytes": [10_000_001] * 3,
    }
    assert run.blob("test_ints[1000]")["total_bytes"] == [8000] * 3  # list(range(1000)): one 8000-byte array
    churn = run.blob("test_churn")
    assert churn["allocations"][0] > 20 and churn["retained_bytes"] == [0] * 3

    # The table: pytest-benchmark's own, the peak right of │ (spread over the passes),
    # the caption under it naming the columns left out.
    header = run.lines("Name (time in")
    assert len(header) == 1
    left, _, right = header[0].partition("\u2502")
    assert "Min" in left and "Rounds" in left
    # The unit is chosen from the smallest positive value: any binary unit.
    words = right.split()
    units = {"(B)", "(KiB)", "(MiB)", "(GiB)", "(TiB)"}
    assert [words[0], *words[2:]] == ["peak\u00b7min", "peak\u00b7mean", "peak\u00b7max"] and words[1] in units, words
    rows = {line.split()[0]: line for line in run.out.splitlines() if "\u2502" in line and line.startswith("test_")}
    assert set(rows) == {"test_churn", "test_empty", "test_bytearray", "test_ints[1000]", "test_ints[100000]"}
    assert rows["test_empty"].partition("\u2502")[2].split() in (["0"] * 3, ["0.00"] * 3)
    caption = run.lines(
        "memory (right of \u2502): a separate, untimed pass, not the timed rounds  \u2022  "
        "also available via --benchmark-memory-columns: allocated, allocations, retained"
    )
    assert len(caption) == 1
    # Title and separators span the memory columns too.
    width = len(header[0])
    title = [line for line in run.out.splitlines() if " benchmark: 5 tests " in line]
    assert len(title) == 1 and len(title[0]) == width


def test_without_flag_nothing_changes(suite: Suite) -> None:
    suite.write(
        "test_b.py",
        """
        import os, json
        def test_plain(benchmark):
            benchmark(lambda: None)
            with open("env.json", "w") as fh:
                json.dump({"ld": os.environ.get("LD_PRELOAD"), "mark": os.environ.get("BENCHMEM_PYTEST_RESTARTED")}, fh)
        """,
    )
    run = suite.pytest("-v", "--benchmark-json=run.json")
    assert run.rc == 0, run.out + run.err
    assert "restarting" not in run.out
    assert "\u2502" not in run.out and "memory (right of" not in run.out
    assert "benchmem" not in run.bench("test_plain")["extra_info"]
    assert (suite.path / "env.json").read_text() == '{"ld": null, "mark": null}'


ENV_PROBE = """
    import json, os
    def test_probe(benchmark):
        benchmark(lambda: None)
        with open("/proc/self/personality") as fh:
            personality = int(fh.read(), 16)
        with open("env.json", "w") as fh:
            json.dump({"ld": os.environ.get("LD_PRELOAD"), "fixed": bool(personality & 0x0040000)}, fh)
"""


@pytest.mark.parametrize("keep", [False, True])
def test_restart_preloads_ours_first_with_fixed_addresses(suite: Suite, preload: Path, keep: bool) -> None:
    import json

    suite.write("test_b.py", ENV_PROBE)
    args = ["--benchmark-memory", *(["--benchmark-memory-keep-aslr"] if keep else [])]
    run = suite.pytest(*args, env=clean_env(LD_PRELOAD="libm.so.6"))
    assert run.rc == 0, run.out + run.err
    env = json.loads((suite.path / "env.json").read_text())
    # Ours first: a preloaded allocator must not take malloc away from the hooks.
    assert env["ld"].split(":")[0].endswith("libbenchmem_preload.so"), env
    assert env["ld"].split(":")[1:] == ["libm.so.6"], env
    # Fixed addresses unless asked to keep randomization (or the kernel refused).
    if not keep and not env["fixed"]:
        pytest.skip("personality(ADDR_NO_RANDOMIZE) refused on this machine")
    assert env["fixed"] is not keep, env


def test_repeats_spread_into_stat_columns(suite: Suite) -> None:
    suite.write("test_b.py", BENCHES)
    run = suite.pytest(
        "--benchmark-only",
        "--benchmark-memory",
        "--benchmark-memory-repeats=3",
        "--benchmark-memory-columns=peak,allocated,allocations",
        "--benchmark-json=run.json",
        "-k",
        "churn or empty or bytearray",
    )
    assert run.rc == 0, run.out + run.err
    for name in ("test_churn", "test_empty", "test_bytearray"):
        blob = run.blob(name)
        assert all(len(v) == 3 for v in blob.values())
        assert len(set(blob["allocations"])) == 1, blob  # zero spread for deterministic code
        assert len(set(blob["total_bytes"])) == 1, blob
    header = run.lines("Name (time in")[0].partition("\u2502")[2]
    labels = [w for w in header.split() if not w.startswith("(")]
    assert labels == [
        "peak\u00b7min", "peak\u00b7mean", "peak\u00b7max",
        "allocated\u00b7min", "allocated\u00b7mean", "allocated\u00b7max",
        "allocations\u00b7min", "allocations\u00b7mean", "allocations\u00b7max",
    ]

    run = suite.pytest(
        "--benchmark-only",
        "--benchmark-memory",
        "--benchmark-memory-repeats=2",
        "--benchmark-memory-columns=allocs,peak",
        "--benchmark-memory-stats=min,stddev",
        "-k",
        "empty",
    )
    assert run.rc == 0, run.out + run.err
    header = run.lines("Name (time in")[0].partition("\u2502")[2]
    assert [w for w in header.split() if not w.startswith("(")] == ["allocations\u00b7min", "allocations\u00b7stddev", "peak\u00b7min", "peak\u00b7stddev"]
    row = [line for line in run.out.splitlines() if line.startswith("test_empty")][0]
    assert row.partition("\u2502")[2].split() == ["0", "0", "0", "0"]  # all zero: bytes in B
    assert "peak\u00b7min (B)" in header
    assert "also available via --benchmark-memory-columns: allocated, retained, rss" in run.out

    # One pass: one column per metric, headed as pytest-benchmem heads them.
    run = suite.pytest(
        "--benchmark-only",
        "--benchmark-memory",
        "--benchmark-memory-repeats=1",
        "--benchmark-memory-columns=peak,allocated,allocations",
        "-k",
        "bytearray",
    )
    assert run.rc == 0, run.out + run.err
    header = run.lines("Name (time in")[0].partition("\u2502")[2]
    assert header.split() == ["peak", "(MiB)", "allocated", "(MiB)", "allocations"]


@pytest.mark.parametrize(
    "option",
    [
        "--benchmark-memory-columns=peak,bogus",
        "--benchmark-memory-stats=p99",
        "--benchmark-memory-repeats=0",
        "--benchmark-memory-max-time=-1",
        "--benchmark-memory-table=wide",
        "--benchmark-memory-compare-fail=peak",
        "--benchmark-memory-compare-fail=time:5%",
        "--benchmark-memory-compare-fail=allocations:5MiB",
        "--benchmark-memory-compare-fail=peak:5%+3%",
    ],
)
def test_bad_options_are_usage_errors(suite: Suite, option: str) -> None:
    suite.write("test_b.py", BENCHES)
    run = suite.pytest("--benchmark-memory", option)
    assert run.rc == 4, run.out + run.err
    assert "benchmark-memory" in run.err


def test_marker_settings_and_ceilings(suite: Suite) -> None:
    suite.write(
        "test_b.py",
        """
        import pytest

        @pytest.mark.benchmem(repeats=4, warmup=0)
        def test_four(benchmark):
            benchmark(bytearray, 1000)

        @pytest.mark.benchmem(max_peak="1MiB")
        def test_too_big(benchmark):
            benchmark(bytearray, 10_000_000)

        @pytest.mark.benchmem(max_allocations=0, max_allocated="1KiB")
        def test_too_many(benchmark):
            benchmark(lambda: [bytearray(600) for _ in range(3)])

        @pytest.mark.benchmem(max_peak="100MiB", max_allocations=5)
        def test_fits(benchmark):
            benchmark(bytearray, 10_000_000)

        @pytest.mark.benchmem(max_peak="lots")
        def test_bad_marker(benchmark):
            benchmark(lambda: None)
        """,
    )
    run = suite.pytest("--benchmark-memory", "--benchmark-json=run.json", "-rfE")
    assert run.rc == 1, run.out + run.err
    assert len(run.blob("test_four")["peak_bytes"]) == 4
    assert run.blob("test_fits")["allocations"] == [1] * 3
    failed = run.lines("FAILED")
    assert len(failed) == 2, run.out
    assert {line.split()[1] for line in failed} == {"test_b.py::test_too_big", "test_b.py::test_too_many"}
    # One line per failing test, naming metric, value and ceiling (worst pass).
    assert run.lines("test_b.py::test_too_big: peak 9.54 MiB (worst of 3 passes) exceeds max_peak 1.00 MiB") != []
    assert run.lines(
        "test_b.py::test_too_many: allocated 1.76 KiB (worst of 3 passes) exceeds max_allocated 1.00 KiB; "
        "allocations 3 (worst of 3 passes) exceeds max_allocations 0"
    ) != []
    assert run.lines("test_b.py::test_bad_marker: benchmem mark: max_peak: not a size: 'lots'") != []
    # The breaching benchmarks still carry their memory in the JSON.
    assert run.blob("test_too_big")["peak_bytes"] == [10_000_001] * 3


def test_benchmark_memory_fixture_call_and_pedantic(suite: Suite) -> None:
    suite.write(
        "test_b.py",
        """
        import json

        def test_call(benchmark_memory):
            out = benchmark_memory(bytearray, 10_000_000)
            assert len(out) == 10_000_000
            assert benchmark_memory.peak_bytes == 10_000_001
            assert benchmark_memory.result.allocations == 1
            assert benchmark_memory.result.series("allocations") == [1, 1]
            assert benchmark_memory.extra_info["benchmem"]["total_bytes"] == [10_000_001, 10_000_001]
            assert benchmark_memory.stats is not None  # pytest-benchmark timed it too

        calls = []

        def make():
            calls.append(1)
            return (bytearray(5_000_000),), {}

        def test_pedantic(benchmark_memory):
            n = benchmark_memory.pedantic(lambda data: data.count(0) and None, setup=make, rounds=2)
            r = benchmark_memory.result
            # setup's allocation is untracked; the target allocates nothing.
            assert r.series("allocations") == [0, 0] and r.series("total_bytes") == [0, 0]
            # warmup 1 + 2 measured passes, then pytest-benchmark's 2 rounds
            assert len(calls) == 1 + 2 + 2, calls

        def test_plain_benchmark_untouched(benchmark):
            benchmark(lambda: None)
        """,
    )
    run = suite.pytest("-v", "--benchmark-memory-repeats=2", "--benchmark-json=run.json")
    assert run.rc == 0, run.out + run.err
    # Only the fixture asked for memory: the restart happens after collection.
    assert len(run.lines("benchmem: benchmark_memory: restarting pytest under the preload")) == 1
    assert run.blob("test_call")["peak_bytes"] == [10_000_001, 10_000_001]
    assert "benchmem" not in run.bench("test_plain_benchmark_untouched")["extra_info"]
    row = [line for line in run.out.splitlines() if line.startswith("test_plain_benchmark_untouched")][0]
    assert row.partition("\u2502")[2].split() == ["\u2014"] * 3


@pytest.mark.parametrize(
    "args, measured",
    [(["--benchmark-disable", "--benchmark-enable"], True), (["--benchmark-skip"], False)],
    ids=["enable-overrides-disable", "skip"],
)
def test_benchmark_enable_and_skip_are_honoured(suite: Suite, args: list[str], measured: bool) -> None:
    suite.write(
        "test_b.py",
        """
        def test_call(benchmark_memory):
            benchmark_memory(bytearray, 10_000_000)
        """,
    )
    run = suite.pytest("-v", "--benchmark-memory", "--benchmark-json=run.json", *args)
    assert run.rc == 0, run.out + run.err
    assert ("restarting" in run.out) is measured, run.out
    if measured:
        assert run.blob("test_call")["total_bytes"] == [10_000_001] * 3
    else:
        assert "1 skipped" in run.out


def test_seed_churn_is_exact_and_repeatable(suite: Suite) -> None:
    suite.write(
        "test_b.py",
        """
        def churn():
            for _ in range(200):
                sum([i * i for i in range(20_000)])

        def test_churn(benchmark):
            benchmark(churn)
        """,
    )
    run = suite.pytest("--benchmark-only", "--benchmark-memory", "--benchmark-memory-repeats=3", "--benchmark-json=run.json")
    assert run.rc == 0, run.out + run.err
    blob = run.blob("test_churn")
    assert len(set(blob["allocations"])) == 1 and len(set(blob["total_bytes"])) == 1, blob
    assert blob["retained_bytes"] == [0, 0, 0]
    # The list's pointer array alone is 20_000 * 8 bytes at its largest; every round
    # reallocates its way up to it, and 200 rounds do it 200 times.
    assert 160_000 <= min(blob["peak_bytes"]) < 4 * 1024**2
    assert blob["total_bytes"][0] >= 200 * 160_000


def test_json_is_read_by_pytest_benchmark_compare(suite: Suite) -> None:
    suite.write("test_b.py", BENCHES)
    run = suite.pytest("--benchmark-only", "--benchmark-memory", "--benchmark-json=run.json", "-k", "empty")
    assert run.rc == 0, run.out + run.err
    tool = Path(sys.executable).with_name("pytest-benchmark")
    cmp = suite.run([str(tool), "compare", "run.json"], env=clean_env())
    assert cmp.rc == 0, cmp.out + cmp.err
    assert "test_empty" in cmp.out


def test_console_script_execs_the_binary(suite: Suite) -> None:
    env = clean_env(BENCHMEM_BIN="/bin/echo")
    run = suite.run([sys.executable, "-c", "from pytest_benchmem._cli import main; main(['compare', 'a.json'])"], env=env)
    assert run.rc == 0 and run.out.strip() == "compare a.json"
    missing = suite.run(
        [sys.executable, "-c", "import sys; from pytest_benchmem._cli import main; sys.exit(main(['x']))"],
        env=clean_env(BENCHMEM_BIN=os.path.join(str(suite.path), "nope")),
    )
    assert missing.rc == 2 and "benchmem binary" in missing.err


def test_json_is_read_by_benchmem_compare(suite: Suite) -> None:
    from pytest_benchmem.locate import find_binary

    binary = find_binary()
    assert binary is not None and binary.is_file(), "the benchmem binary is not installed with the package"
    suite.write("test_b.py", BENCHES)
    run = suite.pytest("--benchmark-only", "--benchmark-memory", "--benchmark-json=run.json", "-k", "bytearray or empty")
    assert run.rc == 0, run.out + run.err
    shutil.copyfile(suite.path / "run.json", suite.path / "head.json")  # one file twice is refused
    cmp = suite.run([sys.executable, "-m", "pytest_benchmem._cli", "compare", "run.json", "head.json"])
    assert cmp.rc == 0, cmp.out + cmp.err
    assert "test_bytearray" in cmp.out and "test_empty" in cmp.out
