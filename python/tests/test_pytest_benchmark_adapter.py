"""What benchmem relies on in pytest-benchmark beyond its public API
(``pytest_benchmem._pytest_benchmark_adapter``), checked against the installed version.

When one of these fails after a pytest-benchmark upgrade, the adapter module is what has
to change; the test names the assumption that broke.
"""

from __future__ import annotations

import json
from typing import Dict

from conftest import Suite, clean_env

PROBE_FIXTURE = """
    from pytest_benchmark.fixture import BenchmarkFixture
    from pytest_benchmem import _pytest_benchmark_adapter as pb

    def test_fixture_is_a_benchmark_fixture_until_used(benchmark):
        assert pb.BenchmarkFixture is BenchmarkFixture
        assert type(benchmark) is BenchmarkFixture and pb.is_fixture(benchmark)
        assert hasattr(benchmark, "_mode") and not pb.fixture_used(benchmark)
        benchmark(lambda: None)
        assert pb.fixture_used(benchmark)

    def test_pedantic_marks_the_fixture_used(benchmark):
        benchmark.pedantic(lambda: None, rounds=1)
        assert pb.fixture_used(benchmark)

    def test_class_swap_keeps_a_working_fixture(benchmark):
        calls = []

        class Sub(BenchmarkFixture):
            def __call__(self, fn, *args, **kwargs):
                calls.append(1)
                return super().__call__(fn, *args, **kwargs)

        pb.install_class(benchmark, Sub)
        assert type(benchmark) is Sub and pb.is_fixture(benchmark)
        assert benchmark(lambda: 42) == 42 and calls == [1]
        pb.install_class(benchmark, BenchmarkFixture)  # only a plain fixture is swapped
        assert type(benchmark) is Sub

    def test_failed_is_left_out_of_the_results(benchmark):
        benchmark(lambda: None)
        pb.mark_failed(benchmark)
"""


def test_fixture_internals(suite: Suite) -> None:
    suite.write("test_probe.py", PROBE_FIXTURE)
    run = suite.pytest("-q", "--benchmark-json=run.json")
    assert run.rc == 0, run.out + run.err
    names = {b["name"] for b in run.json["benchmarks"]}
    assert "test_failed_is_left_out_of_the_results" not in names, names
    assert "test_pedantic_marks_the_fixture_used" in names, names


PROBE_CONFTEST = """
    import json
    import pytest
    from pytest_benchmem import _pytest_benchmark_adapter as pb

    @pytest.hookimpl(tryfirst=True)
    def pytest_terminal_summary(terminalreporter, config):
        assert pb.session(config) is not None
        assert callable(pb.session(config).display)

        def display(tr, results, original):
            rows = [
                {
                    "name": flat["name"],
                    "compared": bool(flat.get("path")),
                    "extra_info": results.saved(flat).get("extra_info"),
                }
                for group in results.groups
                for flat in group
            ]
            with open("seen.json", "w") as fh:
                json.dump(rows, fh)
            return original(tr)

        pb.wrap_display(config, display)
"""

PROBE_SUITE = """
    import os

    def test_b(benchmark):
        peak = int(os.environ["PEAK"])
        benchmark.extra_info["benchmem"] = {"peak_bytes": [peak], "allocations": [1], "total_bytes": [peak]}
        benchmark(lambda: None)
"""


def test_session_display_groups_and_saved_runs(suite: Suite) -> None:
    suite.write("conftest.py", PROBE_CONFTEST)
    suite.write("test_probe.py", PROBE_SUITE)
    storage = f"--benchmark-storage=file://{suite.path / 'saved'}"
    first = suite.pytest("-q", storage, "--benchmark-save=base", env=_env(PEAK="111"))
    assert first.rc == 0, first.out + first.err
    assert json.loads((suite.path / "seen.json").read_text()) == [
        {"name": "test_b", "compared": False, "extra_info": {"benchmem": {"peak_bytes": [111], "allocations": [1], "total_bytes": [111]}}}
    ]
    # Compared with the saved run: its row reads the saved run's own extra_info.
    second = suite.pytest("-q", storage, "--benchmark-compare=0001", env=_env(PEAK="222"))
    assert second.rc == 0, second.out + second.err
    seen = json.loads((suite.path / "seen.json").read_text())
    assert sorted(seen, key=lambda r: r["compared"]) == [
        {"name": "test_b", "compared": False, "extra_info": {"benchmem": {"peak_bytes": [222], "allocations": [1], "total_bytes": [222]}}},
        {"name": "test_b", "compared": True, "extra_info": {"benchmem": {"peak_bytes": [111], "allocations": [1], "total_bytes": [111]}}},
    ], seen


def test_memory_columns_for_saved_runs_shown_for_comparison(suite: Suite) -> None:
    suite.write("test_probe.py", PROBE_SUITE)
    storage = f"--benchmark-storage=file://{suite.path / 'saved'}"
    first = suite.pytest("-q", storage, "--benchmark-save=base", env=_env(PEAK="2048"))
    assert first.rc == 0, first.out + first.err
    second = suite.pytest("-q", storage, "--benchmark-compare=0001", env=_env(PEAK="4096"))
    assert second.rc == 0, second.out + second.err
    rows = {line.split()[1]: line for line in second.out.splitlines() if line.startswith("test_b (")}
    assert set(rows) == {"(NOW)", "(0001_base)"}, second.out
    assert rows["(NOW)"].partition("\u2502")[2].split()[0] == "4.00"
    assert rows["(0001_base)"].partition("\u2502")[2].split()[0] == "2.00"


def _env(**extra: str) -> Dict[str, str]:
    return clean_env(**extra)
