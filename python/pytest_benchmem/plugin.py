"""pytest plugin: an exact, untimed memory pass next to pytest-benchmark's timings.

Registered as the ``benchmem`` pytest11 entry point. What it adds:

- the ``benchmark_memory`` fixture (call form and ``.pedantic``): memory pass, then
  pytest-benchmark's timing (:mod:`.fixture`);
- ``--benchmark-memory``: the same memory pass for every plain ``benchmark()`` call;
- ``--benchmark-memory-repeats/-warmup/-max-time/-columns/-stats/-table`` and
  ``--benchmark-memory-compare[-fail]`` (:mod:`.options`) and the ``benchmem`` marker
  (:mod:`.markers`);
- ``--benchmark-memory-profile=DIR``: a profile of each benchmark's memory pass, with the
  stack of every allocation, for ``benchmem where`` and ``benchmem flamegraph``
  (:mod:`.profiles`);
- memory columns to the right of ``│`` in pytest-benchmark's own table, or a table of
  their own (:mod:`.report`, :mod:`.table`), the blob in ``extra_info["benchmem"]`` of
  its JSON, and the comparison with a saved run and its gate (:mod:`.compare`);
- the restart (:mod:`.restart`): the counting happens in the benchmem preload, which
  must be loaded when the interpreter starts. When memory is requested and it is not,
  the plugin re-executes the same pytest command under ``LD_PRELOAD`` once, or, inside
  another program (``pytest.main()``), measures in fresh processes (:mod:`.worker`).

What it uses of pytest-benchmark beyond its public API is in
:mod:`._pytest_benchmark_adapter`. This module holds only the hooks and the fixture.
"""

from __future__ import annotations

from typing import Any, Generator, Optional

import pytest

from . import markers, options, profiles, report, restart
from .fixture import BenchmarkMemory, attach
from .locate import find_preload
from .region import is_active


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", markers.MARKER_HELP)
    profiles.configure(config)
    restart.state(config)
    config.pluginmanager.register(Gate(), "benchmem-gate")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Early restart (nothing printed yet) when --benchmark-memory asks for memory."""
    config = session.config
    report.remember_session(session)
    if options.memory_flag(config) and options.memory_enabled(config) and not options.collect_only(config):
        restart.ensure_preload(config, "--benchmark-memory")


def _needs_memory(config: pytest.Config, item: pytest.Item) -> bool:
    names = getattr(item, "fixturenames", ())
    return "benchmark_memory" in names or (options.memory_flag(config) and "benchmark" in names)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Late restart, when only collection shows that memory is needed (the fixture)."""
    config = session.config
    if options.collect_only(config) or not options.memory_enabled(config):
        return
    if any(_needs_memory(config, item) for item in session.items):
        restart.ensure_preload(config, "benchmark_memory")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config) -> None:
    """Read the saved run to compare memory with, before this run is saved. (After any
    early restart; a late one reads it again in the restarted pytest.)"""
    if not options.collect_only(config):
        report.load_baseline(config)


def pytest_report_header(config: pytest.Config) -> Optional[str]:
    if config.option.verbose > 0 and is_active():
        return f"benchmem: preload active ({find_preload() or 'LD_PRELOAD'})"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    markers.check(item)


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef: Any, request: pytest.FixtureRequest) -> Generator[None, Any, None]:
    outcome = yield
    if fixturedef.argname != "benchmark":
        return
    try:
        bench = outcome.get_result()
    except BaseException:
        return
    attach(bench, request.node, options.memory_flag(request.config))


@pytest.fixture
def benchmark_memory(benchmark: Any) -> BenchmarkMemory:
    """Memory (exact, untimed pass) and then time a callable; see :class:`BenchmarkMemory`."""
    return BenchmarkMemory(benchmark)


@pytest.hookimpl(tryfirst=True)
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Before pytest-benchmark prints its table: hand it a terminal proxy that appends the
    memory columns (or prints the memory table after it)."""
    report.install(config)


class Gate:
    """The memory gate, once pytest-benchmark's table is printed (registered by
    :func:`pytest_configure`: a module holds one implementation per hook)."""

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any, config: pytest.Config) -> None:
        regressed = report.gate(config, terminalreporter)
        # As pytest-benchmem: with a gate, the regressing benchmarks' profiles; else all.
        profiles.save(config, terminalreporter.write_line, regressed)


def pytest_unconfigure(config: pytest.Config) -> None:
    profiles.unconfigure(config)
