"""benchmem for Python: exact memory of marked regions and of pytest-benchmark tests.

- ``region("name")``: measure a block (``with region("load") as r: ...; r.stats``);
  a no-op without the benchmem preload; ``is_active()`` tells.
- the pytest plugin (``pytest_benchmem.plugin``, registered as ``benchmem``): the
  ``benchmark_memory`` fixture and ``--benchmark-memory`` for pytest-benchmark suites.
- ``measure_memory(action)`` / ``measure_peak(action)``: measure a callable in any
  interpreter (in-process under the preload, else in a fresh process started under it).
- readers of saved runs: ``load_long_df``, ``load_samples``, ``from_pytest_benchmark``,
  ``memory_from_pytest_benchmark``, ``discover_runs``, ``run_labels``, ``human_bytes``,
  ``parse_size``.

The pytest plugin itself is imported by pytest, not here, so importing this package in a
program (for ``region``) does not import pytest.
"""

from __future__ import annotations

from importlib import metadata as _metadata

from .measure import Sampling, measure_memory, measure_peak, run_memory_pass
from .readers import (
    DimValue,
    Sample,
    discover_runs,
    from_pytest_benchmark,
    load_long_df,
    load_run,
    load_samples,
    memory_from_pytest_benchmark,
    memory_results,
    run_labels,
)
from .region import RegionError, RegionStats, is_active, measure_call, region
from .results import METRICS, Measurement, MemoryResult, Metric, compute_stat, metric_by_name
from .units import human_bytes, parse_size
from .worker import WorkerError

try:
    # One version for the whole project: the Cargo workspace's, which the build gives the
    # distribution.
    __version__ = _metadata.version("benchmem")
except _metadata.PackageNotFoundError:  # a source checkout on PYTHONPATH, not installed
    __version__ = "0+unknown"

__all__ = [
    "METRICS",
    "DimValue",
    "Measurement",
    "MemoryResult",
    "Metric",
    "RegionError",
    "RegionStats",
    "Sample",
    "Sampling",
    "WorkerError",
    "compute_stat",
    "discover_runs",
    "from_pytest_benchmark",
    "human_bytes",
    "is_active",
    "load_long_df",
    "load_run",
    "load_samples",
    "measure_call",
    "measure_memory",
    "measure_peak",
    "memory_from_pytest_benchmark",
    "memory_results",
    "metric_by_name",
    "parse_size",
    "region",
    "run_labels",
    "run_memory_pass",
]
