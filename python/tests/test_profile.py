"""``--benchmark-memory-profile=DIR``, end to end: real pytest + pytest-benchmark in a
subprocess, the profiles read back with the ``benchmem`` binary."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Dict, List

import pytest

from conftest import Suite, clean_env
from pytest_benchmem.locate import find_binary
from pytest_benchmem.profiles import sanitize_id

SIZES = """
    import pytest

    def make_big():
        return bytearray(10_000_000)  # at:big

    def make_small():
        return bytearray(1_000_000)  # at:small

    def test_big(benchmark):
        benchmark(make_big)

    @pytest.mark.benchmem(repeats=2, profile_native=True)
    def test_small(benchmark_memory):
        benchmark_memory(make_small)

    @pytest.mark.benchmem(isolate=True, repeats=1)
    def test_isolated(benchmark):
        benchmark(make_small)
"""

BIG = "test_sizes.py::test_big"
SMALL = "test_sizes.py::test_small"


def _binary() -> Path:
    found = find_binary()
    if found is None or not found.is_file():
        pytest.fail("the benchmem binary is not built: cargo build -p benchmem, or set BENCHMEM_BIN")
    return found


def _bm(suite: Suite, *args: str) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(
        [str(_binary()), *args], cwd=suite.path, env=clean_env(), capture_output=True, text=True, timeout=120
    )


def _line_of(source: str, marker: str) -> int:
    lines = [i for i, line in enumerate(source.splitlines(), 1) if f"# at:{marker}" in line]
    assert len(lines) == 1, marker
    return lines[0]


def _peaks(run_json: Path) -> Dict[str, List[int]]:
    doc = json.loads(run_json.read_text())
    return {b["fullname"]: b["extra_info"]["benchmem"]["peak_bytes"] for b in doc["benchmarks"]}


def test_ids_are_made_safe_for_file_names_as_pytest_benchmem_does() -> None:
    assert sanitize_id("pkg/t.py::test_x[1-a b]") == "pkg_t.py__test_x_1-a_b_"
    assert sanitize_id("t.py::TestA::test_é") == "t.py__TestA__test__"


def test_one_profile_per_benchmark_with_the_same_figures(suite: Suite) -> None:
    source = suite.write("test_sizes.py", SIZES).read_text()
    plain = suite.pytest("--benchmark-memory", "--benchmark-json=plain.json", "test_sizes.py")
    assert plain.rc == 0, plain.out + plain.err
    run = suite.pytest(
        "--benchmark-memory",
        "--benchmark-memory-profile=prof",
        "--benchmark-memory-profile-native",
        "--benchmark-json=run.json",
        "test_sizes.py",
    )
    assert run.rc == 0, run.out + run.err

    # The figures are the ones measured without profiling, to the byte.
    peaks = _peaks(suite.path / "run.json")
    assert peaks == _peaks(suite.path / "plain.json")
    assert peaks[BIG] == [10_000_001] * len(peaks[BIG])
    assert peaks[SMALL] == [1_000_001, 1_000_001]

    # One run and its stack data per profiled benchmark; the isolated one is not profiled.
    prof = suite.path / "prof"
    big, small = sanitize_id(BIG), sanitize_id(SMALL)
    assert sorted(p.name for p in prof.iterdir()) == sorted(
        [f"{big}.json", f"{big}.stacks.json", f"{small}.json", f"{small}.stacks.json"]
    )

    # Said after the session, as pytest-benchmem says it.
    assert run.lines("benchmem: saved 2 memory profile(s) to prof \u2014 render with:"), run.out
    assert run.lines(f"    benchmem where prof/{big}.json"), run.out
    assert run.lines("    or: benchmem flamegraph prof --worst peak --open"), run.out

    # Its default region is the benchmark's, and its site the benchmarked function's line.
    where = _bm(suite, "where", f"prof/{big}.json", "--format", "folded")
    assert where.returncode == 0, where.stderr
    line = f"make_big ({suite.path / 'test_sizes.py'}:{_line_of(source, 'big')});"
    hits = [x for x in where.stdout.splitlines() if line in x]
    assert len(hits) == 1, where.stdout
    assert hits[0].endswith(" 10000001"), hits[0]
    assert sum(int(x.rsplit(" ", 1)[1]) for x in where.stdout.splitlines()) == 10_000_001

    small_where = _bm(suite, "where", f"prof/{small}.json", "--format", "folded", "--metric", "allocated")
    assert small_where.returncode == 0, small_where.stderr
    assert sum(int(x.rsplit(" ", 1)[1]) for x in small_where.stdout.splitlines()) == 1_000_001
    assert f"make_small ({suite.path / 'test_sizes.py'}:{_line_of(source, 'small')});" in small_where.stdout

    # --worst peak picks the bigger benchmark's region.
    drawn = _bm(suite, "flamegraph", "prof", "--worst", "peak", "-o", "x.html")
    assert drawn.returncode == 0, drawn.stderr
    html = (suite.path / "x.html").read_text()
    assert f"benchmem: {BIG}: peak" in html
    assert "10,000,001 bytes" in html
    by_id = _bm(suite, "flamegraph", "prof", "test_small", "-o", "small.svg")
    assert by_id.returncode == 0, by_id.stderr
    assert "1,000,001 bytes" in (suite.path / "small.svg").read_text()


def test_the_gate_keeps_only_the_regressions_profiles(suite: Suite) -> None:
    suite.write("test_sizes.py", SIZES)
    saved = suite.pytest("--benchmark-memory", "--benchmark-save=base", "test_sizes.py")
    assert saved.rc == 0, saved.out + saved.err
    suite.write("test_sizes.py", SIZES.replace("bytearray(10_000_000)", "bytearray(20_000_000)"))
    run = suite.pytest(
        "--benchmark-memory",
        "--benchmark-memory-compare-fail=peak:10%",
        "--benchmark-memory-profile=prof",
        "test_sizes.py",
    )
    assert run.rc == 1, run.out + run.err
    big = sanitize_id(BIG)
    assert sorted(p.name for p in (suite.path / "prof").iterdir()) == [f"{big}.json", f"{big}.stacks.json"]
    assert run.lines("benchmem: saved 1 memory profile(s) to prof"), run.out


def test_native_without_a_directory_is_a_usage_error(suite: Suite) -> None:
    suite.write("test_sizes.py", SIZES)
    run = suite.pytest("--benchmark-memory", "--benchmark-memory-profile-native", "test_sizes.py")
    assert run.rc == pytest.ExitCode.USAGE_ERROR, run.out + run.err
    assert "--benchmark-memory-profile-native needs --benchmark-memory-profile=DIR" in run.err
