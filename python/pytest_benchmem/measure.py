"""The memory pass: untracked warmup, then N measured calls, each inside one region."""

from __future__ import annotations

import ctypes
import functools
import gc
import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from .region import CStats, RegionError, RegionStats, preload_api, trampoline

__all__ = [
    "METRICS",
    "STATS",
    "METRIC_NAMES",
    "Metric",
    "MemoryResult",
    "canonical_metric",
    "metric_by_name",
    "compute_stat",
    "run_memory_pass",
]


@dataclass(frozen=True)
class Metric:
    """A memory metric: its CLI name, its blob key, its column label, bytes or count."""

    name: str
    key: str
    label: str
    is_bytes: bool


#: The metrics, in blob order (as README.md's "What it measures" lists them).
METRICS: Tuple[Metric, ...] = (
    Metric("peak", "peak_bytes", "peak", True),
    Metric("allocated", "total_bytes", "allocated", True),
    Metric("allocations", "allocations", "allocs", False),
    Metric("retained", "retained_bytes", "retained", True),
)
#: Every name a user may give a metric by, and the metric it means. ``time`` is
#: pytest-benchmark's, not a memory metric. The ``benchmem`` command accepts the same
#: (tests/golden/metrics.json holds the cases both sides are tested against).
METRIC_NAMES: Dict[str, str] = {
    "time": "time",
    "peak": "peak",
    "allocated": "allocated",
    "allocations": "allocations",
    "allocs": "allocations",
    "retained": "retained",
}
#: Spread statistics a table or reader may show.
STATS: Tuple[str, ...] = ("min", "max", "mean", "median", "stddev")


def canonical_metric(name: str) -> str:
    """The metric a user's name means: ``time``, ``peak``, ``allocated``, ``allocations``
    (alias ``allocs``) or ``retained``, exactly so (surrounding spaces aside)."""
    canonical = METRIC_NAMES.get(name.strip())
    if canonical is None:
        raise ValueError(
            f"unknown metric {name!r} (choose from time, peak, allocated, allocations (or allocs), retained)"
        )
    return canonical


def metric_by_name(name: str) -> Metric:
    """The memory metric named ``peak``, ``allocated``, ``allocations`` (alias ``allocs``)
    or ``retained`` (see :func:`canonical_metric`)."""
    canonical = METRIC_NAMES.get(name.strip())
    found = [m for m in METRICS if m.name == canonical]
    if not found:
        choices = ", ".join(m.name for m in METRICS)
        raise ValueError(f"unknown memory metric {name!r} (choose from {choices}; 'allocs' = allocations)")
    return found[0]


def compute_stat(values: Sequence[float], stat: str) -> float:
    """min, max, mean, median or stddev (sample standard deviation, 0 for one value,
    as pytest-benchmark computes it) of a series."""
    if not values:
        return math.nan
    if stat == "min":
        return min(values)
    if stat == "max":
        return max(values)
    if stat == "mean":
        return statistics.fmean(values)
    if stat == "median":
        return statistics.median(values)
    if stat == "stddev":
        return statistics.stdev(values) if len(values) > 1 else 0.0
    raise ValueError(f"unknown statistic {stat!r} (choose from {', '.join(STATS)})")


@dataclass
class MemoryResult:
    """Every measured pass of one benchmark: one entry per pass, raw bytes / counts."""

    peak_bytes: List[int] = field(default_factory=list)
    total_bytes: List[int] = field(default_factory=list)
    allocations: List[int] = field(default_factory=list)
    retained_bytes: List[int] = field(default_factory=list)
    warmup: int = 0

    @classmethod
    def from_samples(cls, samples: Sequence[RegionStats], warmup: int = 0) -> "MemoryResult":
        return cls(
            [s.peak_bytes for s in samples],
            [s.total_bytes for s in samples],
            [s.allocations for s in samples],
            [s.retained_bytes for s in samples],
            warmup,
        )

    @classmethod
    def from_blob(cls, blob: Mapping[str, Any]) -> "MemoryResult":
        """From an ``extra_info.benchmem`` blob (one integer per pass for each of the four
        keys, see docs/architecture.md, "The saved run"); missing series stay empty."""

        def ints(key: str) -> List[int]:
            value = blob.get(key, [])
            if isinstance(value, (int, float)):
                value = [value]
            return [int(v) for v in value]

        return cls(ints("peak_bytes"), ints("total_bytes"), ints("allocations"), ints("retained_bytes"))

    def blob(self) -> Dict[str, List[int]]:
        """The ``extra_info.benchmem`` value: ``{"peak_bytes": [...], "total_bytes": [...],
        "allocations": [...], "retained_bytes": [...]}``, one entry per pass."""
        return {
            "peak_bytes": list(self.peak_bytes),
            "total_bytes": list(self.total_bytes),
            "allocations": list(self.allocations),
            "retained_bytes": list(self.retained_bytes),
        }

    @property
    def repeats(self) -> int:
        return len(self.peak_bytes)

    def series(self, metric: str) -> List[int]:
        values: List[int] = getattr(self, metric_by_name(metric).key)
        return values

    def stat(self, metric: str, stat: str = "min") -> float:
        return compute_stat(self.series(metric), stat)

    @property
    def peak(self) -> Optional[int]:
        """Headline peak: the minimum over passes (the cold floor)."""
        return min(self.peak_bytes) if self.peak_bytes else None


Setup = Callable[[], Any]


def _arguments(
    args: Sequence[Any], kwargs: Optional[Mapping[str, Any]], setup: Optional[Setup]
) -> Tuple[Tuple[Any, ...], Dict[str, Any]]:
    """pytest-benchmark's pedantic rule: setup may return (args, kwargs) for the call."""
    has_args = bool(args or kwargs)
    a, k = tuple(args), dict(kwargs or {})
    if setup is not None:
        maybe = setup()
        if maybe:
            if has_args:
                raise TypeError("Can't use `args` or `kwargs` if `setup` returns the arguments.")
            a, k = tuple(maybe[0]), dict(maybe[1])
    return a, k


def _bind(target: Callable[..., Any], a: Tuple[Any, ...], k: Dict[str, Any]) -> Callable[[], Any]:
    if not a and not k:
        return target
    return functools.partial(target, *a, **k)


def run_memory_pass(
    name: str,
    target: Callable[..., Any],
    args: Sequence[Any] = (),
    kwargs: Optional[Mapping[str, Any]] = None,
    *,
    setup: Optional[Setup] = None,
    teardown: Optional[Callable[..., Any]] = None,
    repeats: int = 1,
    warmup: int = 1,
) -> Tuple[MemoryResult, Any]:
    """Measure ``target``: ``warmup`` untracked calls, then ``repeats`` measured calls,
    each inside its own region named ``name``. ``setup`` runs untracked before every
    call (warmup or measured), ``teardown(*args, **kwargs)`` after it. A full garbage
    collection precedes every measured call so each starts from the same heap.

    Returns the result and the last measured call's return value. Raises RuntimeError
    without the preload (callers check :func:`pytest_benchmem.region.is_active`).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    api = preload_api()
    if api is None:
        raise RuntimeError("benchmem: the memory pass needs the preload (see is_active())")
    for _ in range(warmup):
        a, k = _arguments(args, kwargs, setup)
        target(*a, **k)
        if teardown is not None:
            teardown(*a, **k)
    # Everything the passes need is made up front: an object allocated between two passes
    # can land in (and keep alive) a pymalloc arena the previous pass's result used,
    # which would make the next pass's count differ when the result is retained.
    cname = name.encode("utf-8", "surrogateescape")
    raws = (CStats * repeats)()
    outs = [ctypes.byref(raws[i]) for i in range(repeats)]
    codes = [0] * repeats
    # Without setup the arguments never change: bind them once, for every pass.
    a, k = _arguments(args, kwargs, None) if setup is None else ((), {})
    fixed = _bind(target, a, k) if setup is None else None
    begin, end = api.begin, api.end
    value: Any = None
    for i in range(repeats):
        value = None  # free the previous pass's result before measuring again
        call = fixed
        if call is None:
            a, k = _arguments(args, kwargs, setup)
            call = _bind(target, a, k)
        gc.collect()
        rid, rc, value = trampoline(begin, end, cname, outs[i], call)
        codes[i] = rid if rid < 0 else rc
        if teardown is not None:
            teardown(*a, **k)
    gc.collect()
    bad = [c for c in codes if c != 0]
    if bad:
        raise RegionError(f"benchmem: the preload refused region {name!r} ({bad[0]})")
    samples = [RegionStats.from_c(raws[i]) for i in range(repeats)]
    return MemoryResult.from_samples(samples, warmup), value
