"""The plugin's command-line options (``--benchmark-memory*``) and how they are read."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable, List, Optional, Union

import pytest

from .compare import Threshold, parse_threshold
from .results import ALL_METRICS, STATS, MemoryMetric, metric_by_name

__all__ = [
    "TABLE_LAYOUTS",
    "DEFAULT_COLUMNS",
    "DEFAULT_REPEATS",
    "DEFAULT_STATS",
    "DEFAULT_WARMUP",
    "add_options",
    "collect_only",
    "columns",
    "compare_ref",
    "hidden_columns",
    "int_at_least",
    "keep_aslr",
    "max_time_option",
    "memory_enabled",
    "memory_flag",
    "parse_columns",
    "parse_stats",
    "profile_dir",
    "profile_native",
    "repeats_option",
    "stats",
    "table_layout",
    "thresholds",
    "warmup_option",
]

#: The table's memory columns by default: the peak, and rss where an isolated pass
#: measured it (a column nobody measured is left out).
DEFAULT_COLUMNS = ("peak", "rss")
DEFAULT_STATS = ("min", "mean", "max")
#: None: adaptive (see pytest_benchmem.measure.Sampling).
DEFAULT_REPEATS: Optional[int] = None
DEFAULT_WARMUP = 1
TABLE_LAYOUTS = ("combined", "split")


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``minimum``."""

    def parse(value: str) -> int:
        try:
            n = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None
        if n < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {n}")
        return n

    return parse


def parse_columns(value: str) -> List[str]:
    """``--benchmark-memory-columns``: metric names, comma-separated, canonical and unique."""
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise argparse.ArgumentTypeError("no column given")
    out: List[str] = []
    for name in names:
        try:
            metric = metric_by_name(name, rss=True)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
        if metric.name not in out:
            out.append(metric.name)
    return out


def parse_stats(value: str) -> List[str]:
    """``--benchmark-memory-stats``: statistics, comma-separated, unique."""
    names = [v.strip().lower() for v in value.split(",") if v.strip()]
    if not names:
        raise argparse.ArgumentTypeError("no statistic given")
    for name in names:
        if name not in STATS:
            raise argparse.ArgumentTypeError(f"unknown statistic {name!r} (choose from {', '.join(STATS)})")
    return list(dict.fromkeys(names))


def parse_seconds(value: str) -> float:
    """``--benchmark-memory-max-time``: seconds, a number >= 0."""
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not seconds >= 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, got {value!r}")
    return seconds


def parse_threshold_option(value: str) -> Threshold:
    """``--benchmark-memory-compare-fail``: FIELD:THRESHOLD."""
    try:
        return parse_threshold(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("benchmem", "benchmem: exact memory next to pytest-benchmark")
    group.addoption(
        "--benchmark-memory",
        action="store_true",
        default=False,
        help="Also measure memory (peak, allocated bytes, allocations) of every benchmark() "
        "call, in a separate untimed pass before the timing. Restarts pytest once under "
        "the benchmem preload when needed.",
    )
    group.addoption(
        "--benchmark-memory-repeats",
        metavar="N",
        type=int_at_least(1),
        default=None,
        help="Measure exactly N memory passes per benchmark (the marker's repeats= wins). Default: "
        "adaptive: at least 2, at most 10, stopping after 2 passes in a row with no new minimum peak.",
    )
    group.addoption(
        "--benchmark-memory-max-time",
        metavar="SECONDS",
        type=parse_seconds,
        default=None,
        help="Time budget of the adaptive memory passes of one benchmark (checked after the "
        "first 2). Ignored with a fixed count of repeats. Default: no bound but the pass cap.",
    )
    group.addoption(
        "--benchmark-memory-warmup",
        metavar="N",
        type=int_at_least(0),
        default=None,
        help=f"Untracked calls before the measured passes (default {DEFAULT_WARMUP}; 0 disables).",
    )
    group.addoption(
        "--benchmark-memory-columns",
        metavar="LIST",
        type=parse_columns,
        default=None,
        help="Memory columns shown, in order: peak, allocated, allocations (or allocs), retained, "
        "rss (rss only where isolated passes measured it). Default: peak (and rss when measured).",
    )
    group.addoption(
        "--benchmark-memory-table",
        choices=TABLE_LAYOUTS,
        default="combined",
        help="combined (default): memory columns to the right of pytest-benchmark's table; "
        "split: pytest-benchmark's table untouched and a separate Memory table after it.",
    )
    group.addoption(
        "--benchmark-memory-compare",
        metavar="REF",
        nargs="?",
        default=False,
        const=True,
        help="Compare this run's memory with a run saved in pytest-benchmark's storage: the latest, "
        "or the latest matching REF (e.g. 0001), as --benchmark-compare finds it. Adds base and "
        "\u0394 peak columns.",
    )
    group.addoption(
        "--benchmark-memory-compare-fail",
        metavar="FIELD:THRESHOLD",
        action="append",
        type=parse_threshold_option,
        default=None,
        help="Fail the session (exit status 1, one line per regression) when a memory headline grew "
        "past THRESHOLD since the saved run: peak:10%%, peak:5MiB, allocations:100, peak:20%%+8MiB "
        "(past both). Fields: peak, allocated, allocations, retained, rss. Repeatable; implies "
        "--benchmark-memory-compare.",
    )
    group.addoption(
        "--benchmark-memory-keep-aslr",
        action="store_true",
        default=False,
        help="When pytest restarts under the preload, leave address-space randomization on. "
        "By default it is turned off, so allocators that decide by address (CPython's "
        "obmalloc arenas) give the same numbers in every run.",
    )
    group.addoption(
        "--benchmark-memory-profile",
        metavar="DIR",
        default=None,
        help="Record the call stack of every allocation of each memory-measured benchmark's "
        "passes and save one profile per benchmark into DIR: <id>.json, a benchmem run with "
        "its stack data beside it (<id>.stacks.json), named from the benchmark's id. Read with "
        "`benchmem where DIR/<id>.json` or `benchmem flamegraph DIR --worst peak`. With "
        "--benchmark-memory-compare-fail only the regressing benchmarks' profiles are kept. "
        "The passes run in a fresh process started under `benchmem run --stacks`; the "
        "figures are the same as without it. Isolated benchmarks are not profiled.",
    )
    group.addoption(
        "--benchmark-memory-profile-native",
        action="store_true",
        default=False,
        help="Accepted for pytest-benchmem compatibility: the saved profiles always carry native "
        "(C, C++, Rust) frames next to the Python ones. Needs --benchmark-memory-profile.",
    )
    group.addoption(
        "--benchmark-memory-stats",
        metavar="LIST",
        type=parse_stats,
        default=None,
        help="With more than one pass, each shown metric spreads into these columns: "
        "min, max, mean, median, stddev. Default: min,mean,max.",
    )


def memory_enabled(config: pytest.Config) -> bool:
    """True when memory is measured: pytest-benchmark is loaded and its benchmarks run
    (not ``--benchmark-skip``). ``--benchmark-disable`` turns the timing off, not the
    memory pass or its ceilings, as in pytest-benchmem."""
    try:
        return not config.getoption("benchmark_skip")
    except ValueError:  # no such option: pytest-benchmark is not loaded
        return False


def memory_flag(config: pytest.Config) -> bool:
    """``--benchmark-memory``: a memory pass for every plain ``benchmark()`` call."""
    return bool(config.getoption("benchmark_memory", False))


def collect_only(config: pytest.Config) -> bool:
    return bool(config.getoption("collectonly", False))


def keep_aslr(config: pytest.Config) -> bool:
    return bool(config.getoption("benchmark_memory_keep_aslr"))


def profile_dir(config: pytest.Config) -> Optional[Path]:
    """``--benchmark-memory-profile``: where the profiles go (relative to where pytest was
    started), or None."""
    value: Optional[str] = config.getoption("benchmark_memory_profile", None)
    if value is None:
        return None
    return Path(config.invocation_params.dir) / value


def profile_native(config: pytest.Config) -> bool:
    """``--benchmark-memory-profile-native``."""
    return bool(config.getoption("benchmark_memory_profile_native", False))


def repeats_option(config: pytest.Config) -> Optional[int]:
    """``--benchmark-memory-repeats``, or None: adaptive (a marker's ``repeats=`` wins over both)."""
    value: Optional[int] = config.getoption("benchmark_memory_repeats") or DEFAULT_REPEATS
    return value


def max_time_option(config: pytest.Config) -> Optional[float]:
    """``--benchmark-memory-max-time``, or None."""
    value: Optional[float] = config.getoption("benchmark_memory_max_time")
    return value


def warmup_option(config: pytest.Config) -> int:
    """``--benchmark-memory-warmup``, or the default (a marker's ``warmup=`` wins over both)."""
    value = config.getoption("benchmark_memory_warmup")
    return DEFAULT_WARMUP if value is None else int(value)


def columns(config: pytest.Config) -> List[MemoryMetric]:
    """The memory columns of the table, in order (rss is shown only where measured)."""
    names = config.getoption("benchmark_memory_columns") or DEFAULT_COLUMNS
    return [metric_by_name(n, rss=True) for n in names]


def hidden_columns(config: pytest.Config) -> List[str]:
    """The metrics the table leaves out (named in its caption)."""
    shown = {m.name for m in columns(config)}
    return [m.name for m in ALL_METRICS if m.name not in shown]


def table_layout(config: pytest.Config) -> str:
    """``--benchmark-memory-table``: ``combined`` or ``split``."""
    return str(config.getoption("benchmark_memory_table"))


def thresholds(config: pytest.Config) -> List[Threshold]:
    """``--benchmark-memory-compare-fail``, every one given."""
    value: Optional[List[Threshold]] = config.getoption("benchmark_memory_compare_fail")
    return list(value or [])


def compare_ref(config: pytest.Config) -> Union[bool, str]:
    """``--benchmark-memory-compare``: False (no comparison), True (the latest saved run)
    or a REF; a gate (``--benchmark-memory-compare-fail``) alone means True."""
    value: Union[bool, str] = config.getoption("benchmark_memory_compare")
    if value is False and thresholds(config):
        return True
    return value


def stats(config: pytest.Config) -> List[str]:
    """The statistics a metric spreads into when there is more than one pass."""
    value: List[str] = config.getoption("benchmark_memory_stats") or list(DEFAULT_STATS)
    return value
