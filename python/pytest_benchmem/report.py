"""Memory in the terminal summary: columns in pytest-benchmark's results table (or a
table of their own), the comparison with a saved run and its gate.

pytest-benchmark prints its table itself; the plugin has it print through a proxy of the
terminal reporter (:class:`pytest_benchmem.table.TableDecorator`) that appends the memory
columns to each row, when at least one row has memory. With
``--benchmark-memory-table=split`` its table is left as it is and a Memory table follows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional

import pytest

from . import _pytest_benchmark_adapter as pb
from . import options
from .compare import regressions
from .readers import benchmem_blob
from .results import MemoryResult
from .table import MemoryTable, TableDecorator

__all__ = ["Baseline", "gate", "install", "load_baseline", "lookup", "remember_session"]


def _result(blob: Any) -> Optional[MemoryResult]:
    if not isinstance(blob, Mapping):
        return None
    try:
        return MemoryResult.from_blob(blob)
    except ValueError:
        return None


def lookup(results: pb.Results) -> Callable[[Mapping[str, Any]], Optional[MemoryResult]]:
    """The memory of a table row, or None: this run's, or the saved run's for a row shown
    for comparison (``--benchmark-compare``)."""

    def memory(flat: Mapping[str, Any]) -> Optional[MemoryResult]:
        return _result(benchmem_blob(results.saved(flat)))

    return memory


def current_memory(results: pb.Results) -> Dict[str, MemoryResult]:
    """``{fullname: MemoryResult}`` of this run's benchmarks that have memory."""
    out: Dict[str, MemoryResult] = {}
    for group in results.groups:
        for flat in group:
            if flat.get("path"):
                continue  # a saved run's row, shown for comparison
            found = _result(benchmem_blob(flat))
            if found is not None:
                out[str(flat.get("fullname"))] = found
    return out


@dataclass
class Baseline:
    """The saved run ``--benchmark-memory-compare`` compares with."""

    #: Its path in the storage, None when there is none.
    label: Optional[str] = None
    #: Its benchmarks' memory, by node id.
    results: Dict[str, MemoryResult] = field(default_factory=dict)
    #: Why it could not be read.
    error: Optional[str] = None


_BASELINE = pytest.StashKey[Baseline]()
_SESSION = pytest.StashKey[pytest.Session]()


def remember_session(session: pytest.Session) -> None:
    session.config.stash[_SESSION] = session


def load_baseline(config: pytest.Config) -> None:
    """Read the saved run to compare with, before this run is saved (once)."""
    ref = options.compare_ref(config)
    if ref is False or _BASELINE in config.stash:
        return
    base = Baseline()
    try:
        found = pb.load_saved(config, ref)
    except Exception as e:  # the storage's own errors: report, do not crash the session
        base.error = f"benchmem: cannot load the saved run to compare memory with ({type(e).__name__}: {e})"
        found = None
    if found is not None:
        label, doc = found
        base.label = label
        for bench in doc.get("benchmarks", []):
            result = _result(benchmem_blob(bench)) if isinstance(bench, Mapping) else None
            if result is not None:
                base.results[str(bench.get("fullname"))] = result
    config.stash[_BASELINE] = base


def baseline(config: pytest.Config) -> Optional[Baseline]:
    """The loaded baseline when comparing and it has memory, else None."""
    base = config.stash.get(_BASELINE, None)
    return base if base is not None and base.results else None


def install(config: pytest.Config) -> None:
    """Have pytest-benchmark's table printed with the memory columns the options ask for."""
    columns = options.columns(config)
    stats = options.stats(config)
    hidden = options.hidden_columns(config)
    layout = options.table_layout(config)
    base = baseline(config)

    def display(tr: Any, results: pb.Results, original: pb.Display) -> Any:
        memory = lookup(results)
        found = [memory(b) for benches in results.groups for b in benches]
        present = [r for r in found if r is not None]
        metrics = [m for m in columns if any(r.values(m.key) for r in present)]
        if not present or not metrics:
            return original(tr)
        spread = any(r.repeats > 1 for r in present)
        table = MemoryTable(metrics, stats, spread, hidden, base.label if base is not None else None)

        def base_of(flat: Mapping[str, Any]) -> Optional[MemoryResult]:
            if base is None or flat.get("path"):
                return None
            return base.results.get(str(flat.get("fullname")))

        if layout == "split":
            out = original(tr)
            current = current_memory(results)
            if current:
                names = [str(fullname).split("::")[-1] for fullname in current]
                mine = list(current.values())
                bases = [base.results.get(i) for i in current] if base is not None else None
                tr.write_line("")
                for line in table.split_lines(names, mine, bases):
                    tr.write_line(line)
            return out
        return original(TableDecorator(tr, results.groups, memory, table, base_of if base is not None else None))

    pb.wrap_display(config, display)


def _fail(config: pytest.Config) -> None:
    session = config.stash.get(_SESSION, None)
    if session is not None and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def gate(config: pytest.Config, tr: Any) -> Optional[List[str]]:
    """``--benchmark-memory-compare``: say when there is nothing to compare; with
    ``--benchmark-memory-compare-fail``, one line per regression and exit status 1.
    Returns the ids of the benchmarks that regressed when a gate was given (None
    without one)."""
    if options.compare_ref(config) is False:
        return None
    thresholds = options.thresholds(config)
    gated: Optional[List[str]] = [] if thresholds else None
    results = pb.results(config)
    current = current_memory(results) if results is not None else {}
    if not current:
        tr.write_line(
            "benchmem: no memory was measured in this run (use --benchmark-memory or the "
            "benchmark_memory fixture); nothing to compare"
        )
        return gated
    loaded = config.stash.get(_BASELINE, None)
    if loaded is not None and loaded.error:
        tr.write_line(loaded.error)
    base = baseline(config)
    if base is None:
        tr.write_line(
            f"benchmem: no saved run with memory to compare against in {pb.storage_location(config)} "
            "(save one with --benchmark-save or --benchmark-autosave)"
        )
        return gated
    if not thresholds:
        return None
    try:
        found = regressions(base.results, current, thresholds)
    except ValueError as e:
        tr.write_line(str(e))
        _fail(config)
        return []
    lines: List[str] = [r.line() for r in found]
    for line in lines:
        tr.write_line(line)
    if found:
        _fail(config)
    return list(dict.fromkeys(r.id for r in found))
