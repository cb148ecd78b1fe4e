"""The plugin's command-line options (``--benchmark-memory*``) and how they are read."""

from __future__ import annotations

import argparse
from typing import Callable, List

import pytest

from .measure import STATS, Metric, metric_by_name

__all__ = [
    "DEFAULT_COLUMNS",
    "DEFAULT_REPEATS",
    "DEFAULT_STATS",
    "DEFAULT_WARMUP",
    "add_options",
    "benchmarks_enabled",
    "collect_only",
    "columns",
    "int_at_least",
    "keep_aslr",
    "memory_flag",
    "parse_columns",
    "parse_stats",
    "repeats_option",
    "stats",
    "warmup_option",
]

DEFAULT_COLUMNS = ("peak", "allocated", "allocations")
DEFAULT_STATS = ("min", "mean", "max")
DEFAULT_REPEATS = 1
DEFAULT_WARMUP = 1


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
            metric = metric_by_name(name)
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
        help=f"Measured memory passes per benchmark (default {DEFAULT_REPEATS}); the marker's repeats= wins.",
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
        help="Memory columns shown, in order: peak, allocated, allocations (or allocs), retained. "
        "Default: peak,allocated,allocs.",
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
        "--benchmark-memory-stats",
        metavar="LIST",
        type=parse_stats,
        default=None,
        help="With more than one pass, each shown metric spreads into these columns: "
        "min, max, mean, median, stddev. Default: min,mean,max.",
    )


def benchmarks_enabled(config: pytest.Config) -> bool:
    """True when pytest-benchmark runs its benchmarks, by its documented options: not
    ``--benchmark-skip``, and not ``--benchmark-disable`` unless ``--benchmark-enable``.
    False without pytest-benchmark (``-p no:benchmark``)."""
    try:
        skip = config.getoption("benchmark_skip")
    except ValueError:  # no such option: pytest-benchmark is not loaded
        return False
    disabled = config.getoption("benchmark_disable") and not config.getoption("benchmark_enable")
    return not skip and not disabled


def memory_flag(config: pytest.Config) -> bool:
    """``--benchmark-memory``: a memory pass for every plain ``benchmark()`` call."""
    return bool(config.getoption("benchmark_memory", False))


def collect_only(config: pytest.Config) -> bool:
    return bool(config.getoption("collectonly", False))


def keep_aslr(config: pytest.Config) -> bool:
    return bool(config.getoption("benchmark_memory_keep_aslr"))


def repeats_option(config: pytest.Config) -> int:
    """``--benchmark-memory-repeats``, or the default (a marker's ``repeats=`` wins over both)."""
    value: int = config.getoption("benchmark_memory_repeats") or DEFAULT_REPEATS
    return value


def warmup_option(config: pytest.Config) -> int:
    """``--benchmark-memory-warmup``, or the default (a marker's ``warmup=`` wins over both)."""
    value = config.getoption("benchmark_memory_warmup")
    return DEFAULT_WARMUP if value is None else int(value)


def columns(config: pytest.Config) -> List[Metric]:
    """The memory columns of the table, in order."""
    return [metric_by_name(n) for n in (config.getoption("benchmark_memory_columns") or DEFAULT_COLUMNS)]


def stats(config: pytest.Config) -> List[str]:
    """The statistics a metric spreads into when there is more than one pass."""
    value: List[str] = config.getoption("benchmark_memory_stats") or list(DEFAULT_STATS)
    return value
