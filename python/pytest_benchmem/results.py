"""What a memory measurement gives: the metrics and their names, one pass's numbers
(:class:`Measurement`) and every pass of one benchmark (:class:`MemoryResult`), with the
``extra_info["benchmem"]`` blob both are saved as."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any, Dict, List, Literal, Mapping, Optional, Sequence, Tuple

__all__ = [
    "ALL_METRICS",
    "METRICS",
    "METRIC_NAMES",
    "RSS",
    "STATS",
    "MemoryMetric",
    "MemoryResult",
    "Measurement",
    "Metric",
    "canonical_metric",
    "compute_stat",
    "metric_by_name",
    "metric_of_field",
]

#: A metric's name, as the readers and the options take it (``allocs`` = ``allocations``).
Metric = Literal["time", "peak", "allocated", "allocations", "allocs", "retained", "rss"]


@dataclass(frozen=True)
class MemoryMetric:
    """A memory metric: its name, its blob key, its column label, bytes or a count."""

    name: str
    key: str
    label: str
    is_bytes: bool


PEAK = MemoryMetric("peak", "peak_bytes", "peak", True)
ALLOCATED = MemoryMetric("allocated", "total_bytes", "allocated", True)
ALLOCATIONS = MemoryMetric("allocations", "allocations", "allocations", False)
RETAINED = MemoryMetric("retained", "retained_bytes", "retained", True)
#: The process's resident high-water (``VmHWM``), measured only by isolated passes (each
#: in a fresh process). Not a region counter: ``benchmem run`` never measures it, and
#: ``benchmem compare`` shows and gates it where a run has it.
RSS = MemoryMetric("rss", "rss_bytes", "rss", True)

#: The metrics a region measures, in blob order (as README.md's "What it measures" lists
#: them); their names are shared with the ``benchmem`` command.
METRICS: Tuple[MemoryMetric, ...] = (PEAK, ALLOCATED, ALLOCATIONS, RETAINED)
#: Every metric the Python side knows, in table order: the region's, then ``rss``.
ALL_METRICS: Tuple[MemoryMetric, ...] = METRICS + (RSS,)

#: Every name a user may give a metric by, and the metric it means. ``time`` is
#: pytest-benchmark's, not a memory metric. The ``benchmem`` command accepts the same
#: (tests/golden/metrics.json holds the cases both sides are tested against, ``rss``
#: included); here ``rss`` is accepted only where the caller says so (the plugin, the
#: readers), since a region alone never measures it.
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


def _choices(rss: bool) -> str:
    return "time, peak, allocated, allocations (or allocs), retained" + (", rss" if rss else "")


def canonical_metric(name: str, *, rss: bool = False) -> str:
    """The metric a user's name means: ``time``, ``peak``, ``allocated``, ``allocations``
    (alias ``allocs``) or ``retained`` (and ``rss`` with ``rss=True``), exactly so
    (surrounding spaces aside). Raises ValueError naming the choices."""
    key = name.strip() if isinstance(name, str) else name
    canonical = METRIC_NAMES.get(key) if isinstance(key, str) else None
    if canonical is None and rss and key == "rss":
        canonical = "rss"
    if canonical is None:
        raise ValueError(f"unknown metric {name!r} (choose from {_choices(rss)})")
    return canonical


def metric_by_name(name: str, *, rss: bool = False) -> MemoryMetric:
    """The memory metric named ``peak``, ``allocated``, ``allocations`` (alias ``allocs``)
    or ``retained`` (and ``rss`` with ``rss=True``; see :func:`canonical_metric`)."""
    try:
        canonical = canonical_metric(name, rss=rss)
    except ValueError:
        canonical = ""
    for m in ALL_METRICS:
        if m.name == canonical:
            return m
    choices = ", ".join(m.name for m in (ALL_METRICS if rss else METRICS))
    raise ValueError(f"unknown memory metric {name!r} (choose from {choices}; 'allocs' = allocations)")


def metric_of_field(name: str) -> MemoryMetric:
    """The memory metric of a blob key (``peak_bytes``, ``total_bytes``, ``allocations``,
    ``retained_bytes``, ``rss_bytes``) or of a metric name (``peak``, ``allocs``, ``rss``, ...)."""
    for m in ALL_METRICS:
        if name == m.key:
            return m
    try:
        return metric_by_name(name, rss=True)
    except ValueError:
        keys = ", ".join(m.key for m in ALL_METRICS)
        raise ValueError(f"unknown memory field {name!r} (choose from {keys}, or a metric name)") from None


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


@dataclass(frozen=True)
class Measurement:
    """One measured pass: the region's peak (high-water of live bytes), its allocation
    count and total bytes allocated; the bytes it left allocated (``retained_bytes``,
    None when not known: a blob written by another tool); and, for an isolated pass,
    the process's resident high-water (``rss_bytes``: ``VmHWM`` of the fresh process
    the pass ran in, so it includes the interpreter; None in-process)."""

    peak_bytes: int
    allocations: int
    total_bytes: int
    rss_bytes: Optional[int] = None
    retained_bytes: Optional[int] = None

    def value(self, metric: MemoryMetric) -> Optional[int]:
        found: Optional[int] = getattr(self, metric.key)
        return found


#: Series every blob has, and those present only when measured.
CORE_FIELDS = ("peak_bytes", "allocations", "total_bytes")
OPTIONAL_FIELDS = ("retained_bytes", "rss_bytes")


@dataclass(frozen=True)
class MemoryResult:
    """Every measured pass of one benchmark (at least one), in the order measured.

    The headline :attr:`peak_bytes` is the minimum peak over the passes (the cold
    floor); :attr:`allocations`, :attr:`total_bytes` and :attr:`retained_bytes` come from
    that same pass (:attr:`representative`), so they describe one execution;
    :attr:`peak_bytes_max` is the worst peak; :meth:`series` gives every pass.
    """

    samples: Tuple[Measurement, ...]

    def __post_init__(self) -> None:
        if not self.samples:
            raise ValueError("a MemoryResult needs at least one measured pass")
        object.__setattr__(self, "samples", tuple(self.samples))

    @property
    def repeats(self) -> int:
        """How many passes were measured."""
        return len(self.samples)

    @property
    def representative(self) -> Measurement:
        """The pass with the lowest peak (the first of them on a tie)."""
        return min(self.samples, key=lambda m: m.peak_bytes)

    @property
    def peak_bytes(self) -> int:
        """The headline peak: the minimum over the passes."""
        return self.representative.peak_bytes

    @property
    def peak_bytes_max(self) -> int:
        """The worst peak over the passes."""
        return max(m.peak_bytes for m in self.samples)

    @property
    def allocations(self) -> int:
        """Allocations of the representative (lowest-peak) pass."""
        return self.representative.allocations

    @property
    def total_bytes(self) -> int:
        """Bytes allocated by the representative (lowest-peak) pass."""
        return self.representative.total_bytes

    @property
    def retained_bytes(self) -> Optional[int]:
        """Bytes the representative pass left allocated (None when not measured)."""
        return self.representative.retained_bytes

    @property
    def rss_bytes(self) -> Optional[int]:
        """The lowest resident high-water over isolated passes, or None when the passes
        ran in-process."""
        present = [m.rss_bytes for m in self.samples if m.rss_bytes is not None]
        return min(present) if present else None

    def series(self, field: str) -> List[Any]:
        """Every pass's value of one field: a blob key (``peak_bytes``, ``allocations``,
        ``total_bytes``, ``retained_bytes``, ``rss_bytes``) or a metric name (``peak``,
        ``allocs``, ...); None where a pass did not measure it."""
        metric = metric_of_field(field)
        return [m.value(metric) for m in self.samples]

    def values(self, metric: str) -> List[int]:
        """The measured values of one field or metric (passes without it left out)."""
        return [v for v in self.series(metric) if v is not None]

    def stat(self, metric: str, stat: str = "min") -> float:
        """A statistic (:data:`STATS`) of one field or metric over the passes."""
        return compute_stat(self.values(metric), stat)

    def as_dict(self) -> Dict[str, List[int]]:
        """The ``extra_info["benchmem"]`` blob: one list per field, one entry per pass
        (``peak_bytes``, ``allocations``, ``total_bytes``, then ``retained_bytes`` and
        ``rss_bytes`` when every pass measured them)."""
        blob: Dict[str, List[int]] = {}
        for key in CORE_FIELDS + OPTIONAL_FIELDS:
            values = self.series(key)
            if all(v is not None for v in values):
                blob[key] = [int(v) for v in values]
        return blob

    @classmethod
    def from_blob(cls, blob: Mapping[str, Any]) -> "MemoryResult":
        """From an ``extra_info.benchmem`` blob: ``peak_bytes``, ``allocations`` and
        ``total_bytes`` (one whole number per pass, a single number for one pass),
        ``retained_bytes`` and ``rss_bytes`` when present. Raises ValueError, naming the
        key, for anything else."""
        if not isinstance(blob, Mapping):
            raise ValueError(f"not a benchmem blob: {blob!r}")
        columns: Dict[str, List[int]] = {}
        for key in CORE_FIELDS + OPTIONAL_FIELDS:
            if key not in blob:
                if key in CORE_FIELDS:
                    raise ValueError(f"benchmem blob has no {key!r} series")
                continue
            raw = blob[key]
            items = [raw] if isinstance(raw, (int, float)) and not isinstance(raw, bool) else raw
            if not isinstance(items, (list, tuple)):
                raise ValueError(f"benchmem blob: {key!r} is not a list of numbers")
            values: List[int] = []
            for v in items:
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or v != int(v):
                    raise ValueError(f"benchmem blob: {key!r} holds {v!r}, not a whole number >= 0")
                values.append(int(v))
            columns[key] = values
        lengths = {len(v) for v in columns.values()}
        if len(lengths) != 1:
            raise ValueError("benchmem blob: its series differ in length")
        n = lengths.pop()
        samples = tuple(
            Measurement(
                peak_bytes=columns["peak_bytes"][i],
                allocations=columns["allocations"][i],
                total_bytes=columns["total_bytes"][i],
                rss_bytes=columns["rss_bytes"][i] if "rss_bytes" in columns else None,
                retained_bytes=columns["retained_bytes"][i] if "retained_bytes" in columns else None,
            )
            for i in range(n)
        )
        return cls(samples)
