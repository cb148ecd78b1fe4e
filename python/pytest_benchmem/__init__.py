"""benchmem for Python: exact memory of marked regions and of pytest-benchmark tests.

- ``region("name")``: measure a block (``with region("load") as r: ...; r.stats``);
  a no-op without the benchmem preload; ``is_active()`` tells.
- the pytest plugin (``pytest_benchmem.plugin``, registered as ``benchmem``): the
  ``benchmark_memory`` fixture and ``--benchmark-memory`` for pytest-benchmark suites.
- readers of saved runs: ``load_long_df``, ``memory_from_pytest_benchmark``,
  ``run_labels``, ``human_bytes``, ``parse_size``.

The pytest plugin itself is imported by pytest, not here, so importing this package in a
program (for ``region``) does not import pytest.
"""

from __future__ import annotations

from .measure import METRICS, MemoryResult, compute_stat, metric_by_name, run_memory_pass
from .readers import load_long_df, load_run, memory_from_pytest_benchmark, run_labels
from .region import RegionError, RegionStats, is_active, measure_call, region
from .units import human_bytes, parse_size

__version__ = "0.1.0"

__all__ = [
    "METRICS",
    "MemoryResult",
    "RegionError",
    "RegionStats",
    "compute_stat",
    "human_bytes",
    "is_active",
    "load_long_df",
    "load_run",
    "measure_call",
    "memory_from_pytest_benchmark",
    "metric_by_name",
    "parse_size",
    "region",
    "run_labels",
    "run_memory_pass",
]
