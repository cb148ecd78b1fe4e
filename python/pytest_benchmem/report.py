"""Memory columns in pytest-benchmark's results table (the terminal summary).

pytest-benchmark prints its table itself; the plugin has it print through a proxy of the
terminal reporter (:class:`pytest_benchmem.table.TableDecorator`) that appends the memory
columns to each row, when at least one row has memory.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

import pytest

from . import _pytest_benchmark_adapter as pb
from . import options
from .measure import MemoryResult
from .readers import benchmem_blob
from .table import MemoryTable, TableDecorator

__all__ = ["install", "lookup"]


def lookup(results: pb.Results) -> Callable[[Mapping[str, Any]], Optional[MemoryResult]]:
    """The memory of a table row, or None: this run's, or the saved run's for a row shown
    for comparison (``--benchmark-compare``)."""

    def memory(flat: Mapping[str, Any]) -> Optional[MemoryResult]:
        blob = benchmem_blob(results.saved(flat))
        if not isinstance(blob, Mapping):
            return None
        result = MemoryResult.from_blob(blob)
        return result if result.repeats else None

    return memory


def install(config: pytest.Config) -> None:
    """Have pytest-benchmark's table printed with the memory columns the options ask for."""
    columns = options.columns(config)
    stats = options.stats(config)

    def display(tr: Any, results: pb.Results, original: pb.Display) -> Any:
        memory = lookup(results)
        found = [memory(b) for benches in results.groups for b in benches]
        if not any(r is not None for r in found):
            return original(tr)
        spread = any(r is not None and r.repeats > 1 for r in found)
        table = MemoryTable(columns, stats, spread)
        return original(TableDecorator(tr, results.groups, memory, table))

    pb.wrap_display(config, display)
