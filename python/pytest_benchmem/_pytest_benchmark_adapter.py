"""Everything benchmem relies on in pytest-benchmark beyond its public API, in one place.

pytest-benchmark's public API is its fixture (``benchmark(...)``, ``.pedantic``,
``.extra_info``, ``.fullname``), its command-line options and its ``pytest_benchmark_*``
hooks (machine and commit info, grouping, scale units, the JSON document). None of
those lets a plugin:

- run something before the timing of a plain ``benchmark(...)`` call: the plugin swaps
  the class of the fixture instance for a subclass (:func:`install_class`), so every
  other plugin still sees a ``BenchmarkFixture``;
- tell whether a fixture has already been used (it may be called once; a second call
  raises ``FixtureAlreadyUsed``): :func:`fixture_used` reads ``_mode``;
- keep a benchmark whose call failed out of the results: :func:`mark_failed` sets
  ``has_error``, as pytest-benchmark does when the timed call raises;
- add columns to its results table: :func:`wrap_display` replaces the ``display``
  method of the session object (``config._benchmarksession``), and :class:`Results`
  reads the groups, the sort key and the saved runs shown for comparison from it
  (:func:`results` reads them after the table);
- read a saved run as ``--benchmark-compare`` finds it: :func:`load_saved` asks the
  session's ``storage`` (``load()`` for the latest, ``load(REF)`` for a reference).

``tests/test_pytest_benchmark_adapter.py`` checks every one of these against the
installed pytest-benchmark, so an upgrade that changes them fails there, by name,
rather than as missing memory columns. The table's printed layout, which
:mod:`pytest_benchmem.table` reads line by line, is checked by the plugin's end-to-end
table test (``tests/test_plugin.py``).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import pytest

__all__ = [
    "BenchmarkFixture",
    "Results",
    "fixture_used",
    "install_class",
    "is_fixture",
    "load_saved",
    "mark_failed",
    "results",
    "session",
    "storage_location",
    "wrap_display",
]

BenchmarkFixture: Any
try:  # pytest-benchmark is a dependency, but keep the plugin importable without it.
    from pytest_benchmark.fixture import BenchmarkFixture
except ImportError:  # pragma: no cover
    BenchmarkFixture = None

#: Attribute set on the session once its ``display`` is wrapped (wrap once per session).
WRAPPED_ATTR = "_benchmem_display"

Flat = Mapping[str, Any]


def session(config: pytest.Config) -> Any:
    """pytest-benchmark's ``BenchmarkSession`` for this run, or None without the plugin."""
    return getattr(config, "_benchmarksession", None)


def is_fixture(obj: Any) -> bool:
    """True for a pytest-benchmark ``benchmark`` fixture (or a subclass)."""
    return BenchmarkFixture is not None and isinstance(obj, BenchmarkFixture)


def install_class(bench: Any, cls: type) -> None:
    """Make ``bench``, a plain ``BenchmarkFixture``, an instance of ``cls`` (its
    subclass); any other fixture (another plugin's subclass) is left alone."""
    if BenchmarkFixture is not None and type(bench) is BenchmarkFixture:
        bench.__class__ = cls


def fixture_used(bench: Any) -> bool:
    """True once ``benchmark(...)`` or ``benchmark.pedantic(...)`` has been called."""
    return bool(bench._mode)


def mark_failed(bench: Any) -> None:
    """Leave this benchmark out of pytest-benchmark's results (table, JSON)."""
    bench.has_error = True


@dataclass(frozen=True)
class Results:
    """What pytest-benchmark's results table shows, read when it is about to print."""

    #: One list per group: its rows (flat benchmark dicts), in the table's order.
    groups: List[List[Flat]]
    #: ``{saved run path: {fullname: saved benchmark}}`` of ``--benchmark-compare``.
    compared: Dict[str, Dict[str, Any]]

    def saved(self, flat: Flat) -> Flat:
        """The benchmark whose ``extra_info`` belongs with row ``flat``: the row itself
        for this run, the saved run's entry for a row shown for comparison."""
        if flat.get("path"):
            found: Flat = self.compared.get(str(flat["path"]), {}).get(str(flat.get("fullname")), {})
            return found
        return flat


def _results(bs: Any) -> Results:
    groups: Sequence[Any] = bs.groups or []
    by_sort = operator.itemgetter(bs.sort)
    compared = {str(path): mapping for path, mapping in (getattr(bs, "compared_mapping", None) or {}).items()}
    return Results([sorted(benchmarks, key=by_sort) for _, benchmarks in groups], compared)


def results(config: pytest.Config) -> Optional[Results]:
    """What the results table shows (once pytest-benchmark has grouped this run's
    benchmarks at session finish), or None without pytest-benchmark."""
    bs = session(config)
    if bs is None:
        return None
    return _results(bs)


def load_saved(config: pytest.Config, ref: Union[bool, str]) -> Optional[Tuple[str, Mapping[str, Any]]]:
    """The saved run ``--benchmark-compare`` would compare with, as ``(path relative to
    the storage, document)``: the latest (``ref=True``) or the latest matching ``ref``;
    None when there is none (or without pytest-benchmark). Raises what the storage raises."""
    bs = session(config)
    if bs is None:
        return None
    loaded = list(bs.storage.load()) if ref is True else list(bs.storage.load(ref))
    if not loaded:
        return None
    path, doc = loaded[-1]
    return str(path), doc


def storage_location(config: pytest.Config) -> str:
    """Where pytest-benchmark saves runs (``--benchmark-storage``)."""
    bs = session(config)
    return str(getattr(bs, "storage", "")) if bs is not None else ""


Display = Callable[[Any], Any]


def wrap_display(config: pytest.Config, wrapper: Callable[[Any, Results, Display], Any]) -> None:
    """Have pytest-benchmark's results table printed by ``wrapper(tr, results, display)``,
    where ``display(tr)`` prints it as pytest-benchmark would (``tr``: the terminal
    reporter, or a proxy of it). Once per session; nothing without pytest-benchmark."""
    bs = session(config)
    if bs is None or getattr(bs, WRAPPED_ATTR, False):
        return
    original: Display = bs.display

    def display(tr: Any) -> Any:
        return wrapper(tr, _results(bs), original)

    bs.display = display
    setattr(bs, WRAPPED_ATTR, True)
