"""The ``benchmem`` marker: per-test memory-pass settings and ceilings.

``@pytest.mark.benchmem(repeats=N, warmup=N, isolate=True, calls=N, profile_native=True,
max_peak=SIZE, max_allocated=SIZE, max_allocations=N, max_retained=SIZE)``; the closest
marker wins per keyword (function over class over module), and a keyword wins over the
command-line option. Unknown keywords are ignored, with a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import pytest

from . import options
from .results import METRICS, MemoryMetric
from .units import parse_count, parse_size

__all__ = ["MARKER", "MARKER_KWARGS", "MARKER_HELP", "Settings", "check", "marker_kwargs", "settings"]

MARKER = "benchmem"
MARKER_KWARGS = (
    "repeats",
    "warmup",
    "isolate",
    "calls",
    "profile_native",
    "max_peak",
    "max_allocated",
    "max_allocations",
    "max_retained",
)
MARKER_HELP = (
    f"{MARKER}(repeats=N, warmup=N, isolate=True, calls=N, profile_native=True, max_peak=SIZE, "
    "max_allocated=SIZE, max_allocations=N, max_retained=SIZE): benchmem memory-pass settings "
    "and ceilings for this test. repeats: exactly N passes (default: adaptive); warmup: untracked "
    "calls first; isolate: each pass in a fresh process, recording its rss; calls: calls per "
    "pass; max_*: fail the test when the worst pass exceeds the ceiling."
)


@dataclass(frozen=True)
class Settings:
    """The memory pass of one test."""

    #: Exactly this many passes; None: adaptive.
    repeats: Optional[int]
    warmup: int
    #: Each pass in a fresh process (records rss).
    isolate: bool
    #: Calls of the target in one measured pass.
    calls: int
    #: Time budget of the adaptive passes.
    max_time: Optional[float]
    #: (metric, marker kwarg, limit) for each ceiling.
    ceilings: Tuple[Tuple[MemoryMetric, str, int], ...]
    #: Keywords the marker does not know (ignored).
    unknown: Tuple[str, ...] = ()


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


def _bool_kwarg(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{MARKER} mark: {name} must be True or False, got {value!r}")
    return value


def settings(item: pytest.Item) -> Settings:
    """The test's settings: its markers over the options over the defaults. Raises
    ValueError, in one line, on bad marker arguments."""
    kw = marker_kwargs(item)
    unknown = tuple(sorted(set(kw) - set(MARKER_KWARGS)))
    config = item.config
    repeats = kw.get("repeats", options.repeats_option(config))
    warmup = kw.get("warmup", options.warmup_option(config))
    isolate = _bool_kwarg("isolate", kw.get("isolate", False))
    _bool_kwarg("profile_native", kw.get("profile_native", False))
    calls = _int_kwarg("calls", kw.get("calls", 1), 1)
    ceilings: List[Tuple[MemoryMetric, str, int]] = []
    for metric in METRICS:
        key = f"max_{metric.name}"
        if key in kw and kw[key] is not None:
            try:
                limit = parse_size(kw[key]) if metric.is_bytes else parse_count(kw[key])
            except ValueError as e:
                raise ValueError(f"{MARKER} mark: {key}: {e}") from None
            ceilings.append((metric, key, limit))
    return Settings(
        None if repeats is None else _int_kwarg("repeats", repeats, 1),
        _int_kwarg("warmup", warmup, 0),
        isolate,
        calls,
        options.max_time_option(config),
        tuple(ceilings),
        unknown,
    )


def check(item: pytest.Item) -> None:
    """Before the test runs: fail it, in one clear line, on bad marker arguments; warn
    once about keywords the marker does not know (they are ignored)."""
    if item.get_closest_marker(MARKER) is None:
        return
    try:
        found = settings(item)
    except ValueError as e:
        pytest.fail(f"{item.nodeid}: {e}", pytrace=False)
    if found.unknown:
        names = ", ".join(repr(k) for k in found.unknown)
        item.warn(
            pytest.PytestWarning(
                f"{MARKER} mark: unknown keyword{'s' if len(found.unknown) > 1 else ''} {names} ignored "
                f"(known: {', '.join(MARKER_KWARGS)})"
            )
        )
