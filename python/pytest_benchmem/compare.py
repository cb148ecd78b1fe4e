"""The inline memory comparison: ``--benchmark-memory-compare[=REF]`` (this run's memory
against a run saved in pytest-benchmark's storage) and its gate,
``--benchmark-memory-compare-fail=FIELD:THRESHOLD``.

A threshold is ``FIELD:PCT%`` (growth over the saved value, in percent),
``FIELD:ABS`` (growth in bytes, with a unit, or a count for ``allocations``), or
``FIELD:PCT%+ABS`` (growth past both). Fields: ``peak``, ``allocated``, ``allocations``
(``allocs``), ``retained``, ``rss``. Each compares the headline of the two runs (the
minimum peak and that pass's other numbers; the minimum rss), benchmark by benchmark
(same node id); only growth counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional

from .results import RSS, MemoryMetric, MemoryResult, metric_by_name
from .units import format_count, human_bytes, parse_count, parse_size

__all__ = ["Regression", "Threshold", "growth", "parse_threshold", "regressions", "signed_pct"]


@dataclass(frozen=True)
class Threshold:
    """How much ``metric`` may grow: ``limit`` percent (``is_pct``) or ``limit`` bytes or
    allocations; with ``min_abs``, a percent rule fires only past that much growth too."""

    metric: MemoryMetric
    limit: float
    is_pct: bool
    min_abs: Optional[float] = None
    text: str = ""

    def exceeded(self, base: float, head: float) -> bool:
        grew = head - base
        if grew <= 0:
            return False
        over = (base > 0 and grew / base * 100 > self.limit) if self.is_pct else grew > self.limit
        return over and (self.min_abs is None or grew > self.min_abs)


def _percent(raw: str, text: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"bad threshold {text!r}: {raw!r}% is not a percentage >= 0")
    return value


def _absolute(metric: MemoryMetric, raw: str, text: str) -> float:
    try:
        return float(parse_size(raw) if metric.is_bytes else parse_count(raw))
    except ValueError as e:
        raise ValueError(f"bad threshold {text!r}: {e}") from None


def parse_threshold(text: str) -> Threshold:
    """``peak:10%``, ``peak:5MiB``, ``allocations:100``, ``peak:20%+8MiB`` ->
    :class:`Threshold`; ValueError, in one line, for anything else."""
    field, sep, raw = text.partition(":")
    raw = raw.strip()
    if not sep or not raw:
        raise ValueError(f"bad threshold {text!r}: expected FIELD:THRESHOLD, e.g. peak:10%")
    try:
        metric = metric_by_name(field.strip().lower(), rss=True)
    except ValueError:
        raise ValueError(
            f"bad threshold {text!r}: unknown field {field.strip()!r} (choose from peak, allocated, "
            "allocations, retained, rss; timing is pytest-benchmark's --benchmark-compare-fail)"
        ) from None
    pct, plus, absolute = (p.strip() for p in raw.partition("+"))
    if plus:
        if not pct.endswith("%") or not absolute or absolute.endswith("%"):
            raise ValueError(f"bad threshold {text!r}: a combined threshold is PCT%+ABS, e.g. peak:20%+8MiB")
        return Threshold(metric, _percent(pct[:-1], text), True, _absolute(metric, absolute, text), text)
    if raw.endswith("%"):
        return Threshold(metric, _percent(raw[:-1], text), True, None, text)
    return Threshold(metric, _absolute(metric, raw, text), False, None, text)


def signed_pct(pct: float) -> str:
    """``+22.0%``, ``-50.0%``, and ``0.0%`` (no sign) for what rounds to zero."""
    return "0.0%" if round(pct, 1) == 0 else f"{pct:+.1f}%"


def growth(base: float, head: float) -> str:
    """The change from ``base`` to ``head`` in percent, ``—`` without a positive base."""
    if base <= 0:
        return "\u2014"
    return signed_pct((head - base) / base * 100)


@dataclass(frozen=True)
class Regression:
    """One benchmark whose headline grew past a threshold."""

    id: str
    threshold: Threshold
    base: float
    head: float

    def line(self) -> str:
        """``benchmem: memory regression: m.py::t: peak 977 KiB -> 1.43 MiB (+50.0%), over peak:10%``"""
        show = human_bytes if self.threshold.metric.is_bytes else format_count
        pct = "" if self.base <= 0 else f" ({growth(self.base, self.head)})"
        return (
            f"benchmem: memory regression: {self.id}: {self.threshold.metric.name} "
            f"{show(self.base)} \u2192 {show(self.head)}{pct}, over {self.threshold.text}"
        )


def _headlines(results: Mapping[str, MemoryResult], metric: MemoryMetric) -> Dict[str, float]:
    out: Dict[str, float] = {}
    for test_id, result in results.items():
        value: Optional[int] = getattr(result, metric.key)
        if value is not None:
            out[test_id] = float(value)
    return out


def regressions(
    base: Mapping[str, MemoryResult], head: Mapping[str, MemoryResult], thresholds: List[Threshold]
) -> List[Regression]:
    """The benchmarks of both runs whose headline grew past a threshold, threshold by
    threshold. An ``rss`` threshold with no benchmark measured for rss in both runs
    raises ValueError (a gate that can never fire)."""
    found: List[Regression] = []
    for th in thresholds:
        b, h = _headlines(base, th.metric), _headlines(head, th.metric)
        common = sorted(b.keys() & h.keys())
        if th.metric == RSS and not common:
            raise ValueError(
                f"benchmem: --benchmark-memory-compare-fail={th.text}: no benchmark has rss in both runs "
                "(rss is measured only by isolated passes: @pytest.mark.benchmem(isolate=True))"
            )
        found.extend(Regression(i, th, b[i], h[i]) for i in common if th.exceeded(b[i], h[i]))
    return found
