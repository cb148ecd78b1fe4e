"""The ``benchmem`` marker: per-test memory-pass settings and ceilings.

``@pytest.mark.benchmem(repeats=N, warmup=N, max_peak=SIZE, max_allocated=SIZE,
max_allocations=N, max_retained=SIZE)``; the closest marker wins per keyword (function
over class over module), and a keyword wins over the command-line option.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Tuple

import pytest

from . import options
from .measure import METRICS, Metric
from .units import parse_count, parse_size

__all__ = ["MARKER", "MARKER_KWARGS", "MARKER_HELP", "Settings", "check", "marker_kwargs", "settings"]

MARKER = "benchmem"
MARKER_KWARGS = ("repeats", "warmup", "max_peak", "max_allocated", "max_allocations", "max_retained")
MARKER_HELP = (
    f"{MARKER}(repeats=N, warmup=N, max_peak=SIZE, max_allocated=SIZE, max_allocations=N, "
    "max_retained=SIZE): benchmem memory-pass settings and ceilings for this test."
)


@dataclass(frozen=True)
class Settings:
    """The memory pass of one test: passes, warmup calls, ceilings."""

    repeats: int
    warmup: int
    ceilings: Tuple[Tuple[Metric, str, int], ...]  # (metric, marker kwarg, limit)


def marker_kwargs(item: pytest.Item) -> Dict[str, Any]:
    kwargs: Dict[str, Any] = {}
    # Closest marker wins per keyword (function over class over module).
    for mark in reversed(list(item.iter_markers(name=MARKER))):
        if mark.args:
            raise ValueError(f"{MARKER} mark takes keyword arguments only, got {mark.args!r}")
        kwargs.update(mark.kwargs)
    return kwargs


def _int_kwarg(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{MARKER} mark: {name} must be an integer >= {minimum}, got {value!r}")
    return value


def settings(item: pytest.Item) -> Settings:
    """The test's settings: its markers over the options over the defaults. Raises
    ValueError, in one line, on bad marker arguments."""
    kw = marker_kwargs(item)
    unknown = sorted(set(kw) - set(MARKER_KWARGS))
    if unknown:
        raise ValueError(f"{MARKER} mark can't have {unknown[0]!r} keyword argument (allowed: {', '.join(MARKER_KWARGS)})")
    config = item.config
    repeats = kw.get("repeats", options.repeats_option(config))
    warmup = kw.get("warmup", options.warmup_option(config))
    ceilings: List[Tuple[Metric, str, int]] = []
    for metric in METRICS:
        key = f"max_{metric.name}"
        if key in kw and kw[key] is not None:
            try:
                limit = parse_size(kw[key]) if metric.is_bytes else parse_count(kw[key])
            except ValueError as e:
                raise ValueError(f"{MARKER} mark: {key}: {e}") from None
            ceilings.append((metric, key, limit))
    return Settings(_int_kwarg("repeats", repeats, 1), _int_kwarg("warmup", warmup, 0), tuple(ceilings))


def check(item: pytest.Item) -> None:
    """Fail a test with bad marker arguments in one clear line, before it runs."""
    if item.get_closest_marker(MARKER) is not None:
        try:
            settings(item)
        except ValueError as e:
            pytest.fail(f"{item.nodeid}: {e}", pytrace=False)
