"""pytest plugin: an exact, untimed memory pass next to pytest-benchmark's timings (SPEC §7).

Registered as the ``benchmem`` pytest11 entry point. What it adds:

- the ``benchmark_memory`` fixture (call form and ``.pedantic``): memory pass, then
  pytest-benchmark's timing;
- ``--benchmark-memory``: the same memory pass for every plain ``benchmark()`` call;
- ``--benchmark-memory-repeats/-warmup/-columns/-stats`` and the ``benchmem`` marker;
- memory columns to the right of ``│`` in pytest-benchmark's own table, and the blob in
  ``extra_info["benchmem"]`` of its JSON;
- the restart: the counting happens in the benchmem preload, which must be loaded when
  the interpreter starts. When memory is requested and it is not, the plugin re-executes
  the same pytest command under ``LD_PRELOAD`` once.
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Dict, Generator, List, Mapping, Optional, Sequence, Tuple

import pytest

from .locate import ENV_PRELOAD, find_preload
from .measure import METRICS, STATS, Metric, MemoryResult, metric_by_name, run_memory_pass
from .readers import benchmem_blob
from .region import is_active
from .table import MemoryTable, TableDecorator
from .units import format_count, human_bytes, parse_count, parse_size

_BenchmarkFixture: Any
try:  # pytest-benchmark is a dependency, but keep the plugin importable without it.
    import pytest_benchmark.fixture as _pb_fixture

    _BenchmarkFixture = _pb_fixture.BenchmarkFixture
except ImportError:  # pragma: no cover
    _BenchmarkFixture = None

ENV_RESTARTED = "BENCHMEM_PYTEST_RESTARTED"
MARKER = "benchmem"
MARKER_KWARGS = ("repeats", "warmup", "max_peak", "max_allocated", "max_allocations", "max_retained")
DEFAULT_COLUMNS = ("peak", "allocated", "allocations")
DEFAULT_STATS = ("min", "mean", "max")
DEFAULT_REPEATS = 1
DEFAULT_WARMUP = 1
RESULT_ATTR = "_benchmem_result"
CHECKED_ATTR = "_benchmem_checked"
ITEM_ATTR = "_benchmem_item"


# ----------------------------------------------------------------------------- options


def _int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            n = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None
        if n < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {n}")
        return n

    return parse


def _parse_columns(value: str) -> List[str]:
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise argparse.ArgumentTypeError("no column given")
    out: List[str] = []
    for name in names:
        try:
            metric = metric_by_name(name)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
        if metric.name not in out:
            out.append(metric.name)
    return out


def _parse_stats(value: str) -> List[str]:
    names = [v.strip().lower() for v in value.split(",") if v.strip()]
    if not names:
        raise argparse.ArgumentTypeError("no statistic given")
    for name in names:
        if name not in STATS:
            raise argparse.ArgumentTypeError(f"unknown statistic {name!r} (choose from {', '.join(STATS)})")
    return list(dict.fromkeys(names))


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("benchmem", "benchmem: exact memory next to pytest-benchmark")
    group.addoption(
        "--benchmark-memory",
        action="store_true",
        default=False,
        help="Also measure memory (peak, allocated bytes, allocations) of every benchmark() "
        "call, in a separate untimed pass before the timing. Restarts pytest once under "
        "the benchmem preload when needed.",
    )
    group.addoption(
        "--benchmark-memory-repeats",
        metavar="N",
        type=_int_at_least(1),
        default=None,
        help=f"Measured memory passes per benchmark (default {DEFAULT_REPEATS}); the marker's repeats= wins.",
    )
    group.addoption(
        "--benchmark-memory-warmup",
        metavar="N",
        type=_int_at_least(0),
        default=None,
        help=f"Untracked calls before the measured passes (default {DEFAULT_WARMUP}; 0 disables).",
    )
    group.addoption(
        "--benchmark-memory-columns",
        metavar="LIST",
        type=_parse_columns,
        default=None,
        help="Memory columns shown, in order: peak, allocated, allocations (or allocs), retained. "
        "Default: peak,allocated,allocs.",
    )
    group.addoption(
        "--benchmark-memory-keep-aslr",
        action="store_true",
        default=False,
        help="When pytest restarts under the preload, leave address-space randomization on. "
        "By default it is turned off, so allocators that decide by address (CPython's "
        "obmalloc arenas) give the same numbers in every run.",
    )
    group.addoption(
        "--benchmark-memory-stats",
        metavar="LIST",
        type=_parse_stats,
        default=None,
        help="With more than one pass, each shown metric spreads into these columns: "
        "min, max, mean, median, stddev. Default: min,mean,max.",
    )


# ----------------------------------------------------------------------------- state


@dataclass
class _State:
    """Per-session plugin state (``config.stash``)."""

    unavailable: Optional[str] = None
    restart_checked: bool = False
    preload: Optional[str] = None


_STATE = pytest.StashKey[_State]()


def _state(config: pytest.Config) -> _State:
    return config.stash.setdefault(_STATE, _State())


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(repeats=N, warmup=N, max_peak=SIZE, max_allocated=SIZE, max_allocations=N, "
        "max_retained=SIZE): benchmem memory-pass settings and ceilings for this test.",
    )
    _state(config)


def _benchmark_session(config: pytest.Config) -> Any:
    return getattr(config, "_benchmarksession", None)


def _benchmarks_enabled(config: pytest.Config) -> bool:
    bs = _benchmark_session(config)
    return bs is not None and not bs.disabled and not bs.skip


def _flag(config: pytest.Config) -> bool:
    return bool(config.getoption("benchmark_memory", False))


# ----------------------------------------------------------------------------- restart


def _restart_argv(config: pytest.Config) -> Optional[List[str]]:
    """The command that re-runs this pytest exactly, or None when pytest was started
    from ``pytest.main()`` inside another program (or we cannot tell)."""
    if tuple(str(a) for a in config.invocation_params.args) != tuple(sys.argv[1:]):
        return None
    argv0 = sys.argv[0] if sys.argv else ""
    is_module = os.path.normpath(argv0).endswith(os.path.join("pytest", "__main__.py"))
    base = os.path.basename(argv0)
    is_script = base in ("pytest", "py.test") and os.path.isfile(argv0)
    if not (is_module or is_script):
        return None
    orig = list(getattr(sys, "orig_argv", []) or [])
    n = len(sys.argv) - 1
    if len(orig) > n and (n == 0 or orig[-n:] == sys.argv[1:]):
        # Keep the interpreter's own options (-X, -W, -I, ...) exactly as given.
        return [sys.executable, *orig[1:]]
    if is_module:
        return [sys.executable, "-m", "pytest", *sys.argv[1:]]
    return [sys.executable, argv0, *sys.argv[1:]]


def _how_to_run(preload: Optional[str]) -> str:
    where = preload or "/path/to/libbenchmem_preload.so"
    return (
        "run the `pytest` command (or `python -m pytest`), which restarts itself under the preload, "
        f"or start the program with LD_PRELOAD={where}, or under `benchmem run -- ...`"
    )


ADDR_NO_RANDOMIZE = 0x0040000


def fix_addresses() -> bool:
    """Turns address-space randomization off for the next exec (as `benchmem run` does for
    its command: see launcher/src/aslr.rs); False when the kernel or a seccomp filter
    refuses, which only costs determinism."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        cur = libc.personality(ctypes.c_ulong(0xFFFFFFFF))
        if cur == -1:
            return False
        return bool(libc.personality(ctypes.c_ulong(cur | ADDR_NO_RANDOMIZE)) != -1)
    except (OSError, AttributeError):
        return False


def _ensure_preload(config: pytest.Config, why: str) -> None:
    """Make sure memory can be measured: restart under the preload (no return), or
    record why it cannot (the memory tests then fail with that message)."""
    st = _state(config)
    if st.restart_checked:
        return
    st.restart_checked = True
    if is_active():
        return
    found = find_preload()
    st.preload = str(found) if found is not None else None
    if found is None or not found.is_file():
        if os.environ.get(ENV_PRELOAD):
            st.unavailable = (
                f"benchmem: {ENV_PRELOAD}={os.environ[ENV_PRELOAD]} does not exist; point it at "
                "libbenchmem_preload.so or unset it to use the one installed with benchmem"
            )
        else:
            st.unavailable = (
                "benchmem: cannot find libbenchmem_preload.so (looked at $BENCHMEM_PRELOAD, the "
                "package's _bin/ and the Cargo target directories); reinstall benchmem with "
                "`pip install benchmem` on a machine with cargo, or set BENCHMEM_PRELOAD"
            )
        return
    if os.environ.get(ENV_RESTARTED) == str(os.getpid()):
        st.unavailable = (
            f"benchmem: pytest was restarted with LD_PRELOAD={found}, but the preload is not active "
            "in it (the loader ignored it, or it is not a benchmem preload for this machine)"
        )
        return
    argv = _restart_argv(config)
    if argv is None:
        st.unavailable = (
            "benchmem: memory is measured by the benchmem preload, which this process was not "
            "started with, and pytest runs inside another program (pytest.main()), so it "
            f"cannot restart itself: {_how_to_run(st.preload)}"
        )
        return
    env = dict(os.environ)
    existing = env.get("LD_PRELOAD", "").strip()
    # Ours first, as `benchmem run` does: a preloaded allocator stays the one our hooks
    # call through to, instead of taking malloc away from them.
    env["LD_PRELOAD"] = f"{found}:{existing}" if existing else str(found)
    env[ENV_RESTARTED] = str(os.getpid())
    if config.option.verbose > 0:
        sys.stdout.write(f"benchmem: {why}: restarting pytest under the preload (LD_PRELOAD={found})\n")
    capman = config.pluginmanager.getplugin("capturemanager")
    if capman is not None:
        try:
            capman.stop_global_capturing()
        except Exception:  # pragma: no cover - best effort, exec follows
            pass
    if not config.getoption("benchmark_memory_keep_aslr"):
        fix_addresses()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, env)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Early restart (nothing printed yet) when --benchmark-memory asks for memory."""
    config = session.config
    if _flag(config) and _benchmarks_enabled(config) and not _collect_only(config):
        _ensure_preload(config, "--benchmark-memory")


def _collect_only(config: pytest.Config) -> bool:
    return bool(config.getoption("collectonly", False))


def _needs_memory(config: pytest.Config, item: pytest.Item) -> bool:
    names = getattr(item, "fixturenames", ())
    return "benchmark_memory" in names or (_flag(config) and "benchmark" in names)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Late restart, when only collection shows that memory is needed (the fixture)."""
    config = session.config
    if _collect_only(config) or not _benchmarks_enabled(config):
        return
    if any(_needs_memory(config, item) for item in session.items):
        _ensure_preload(config, "benchmark_memory")


def pytest_report_header(config: pytest.Config) -> Optional[str]:
    if config.option.verbose > 0 and is_active():
        return f"benchmem: preload active ({find_preload() or 'LD_PRELOAD'})"
    return None


# ----------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class _Settings:
    repeats: int
    warmup: int
    ceilings: Tuple[Tuple[Metric, str, int], ...]  # (metric, marker kwarg, limit)


def _marker_kwargs(item: pytest.Item) -> Dict[str, Any]:
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


def _settings(item: pytest.Item) -> _Settings:
    kw = _marker_kwargs(item)
    unknown = sorted(set(kw) - set(MARKER_KWARGS))
    if unknown:
        raise ValueError(f"{MARKER} mark can't have {unknown[0]!r} keyword argument (allowed: {', '.join(MARKER_KWARGS)})")
    config = item.config
    repeats = kw.get("repeats", config.getoption("benchmark_memory_repeats") or DEFAULT_REPEATS)
    warmup_opt = config.getoption("benchmark_memory_warmup")
    warmup = kw.get("warmup", DEFAULT_WARMUP if warmup_opt is None else warmup_opt)
    ceilings: List[Tuple[Metric, str, int]] = []
    for metric in METRICS:
        key = f"max_{metric.name}"
        if key in kw and kw[key] is not None:
            try:
                limit = parse_size(kw[key]) if metric.is_bytes else parse_count(kw[key])
            except ValueError as e:
                raise ValueError(f"{MARKER} mark: {key}: {e}") from None
            ceilings.append((metric, key, limit))
    return _Settings(_int_kwarg("repeats", repeats, 1), _int_kwarg("warmup", warmup, 0), tuple(ceilings))


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker(MARKER) is not None:
        try:
            _settings(item)
        except ValueError as e:  # bad marker arguments: one clear line, before the test runs
            pytest.fail(f"{item.nodeid}: {e}", pytrace=False)


# ----------------------------------------------------------------------------- the pass


def _item_of(bench: Any) -> pytest.Item:
    item: pytest.Item = getattr(bench, ITEM_ATTR)
    return item


def _memory_pass(
    bench: Any,
    target: Callable[..., Any],
    args: Sequence[Any],
    kwargs: Optional[Mapping[str, Any]],
    setup: Optional[Callable[[], Any]],
    teardown: Optional[Callable[..., Any]],
) -> Optional[MemoryResult]:
    """Run the memory pass once per test (idempotent); None when benchmarks are disabled."""
    done: Optional[MemoryResult] = getattr(bench, RESULT_ATTR, None)
    if done is not None:
        return done
    if bench.disabled:
        return None
    item = _item_of(bench)
    config = item.config
    if not is_active():
        _ensure_preload(config, "memory requested")  # once per session; may not return
        st = _state(config)
        pytest.fail(st.unavailable or f"benchmem: the preload is not active; {_how_to_run(st.preload)}", pytrace=False)
    settings = _settings(item)
    try:
        result, _ = run_memory_pass(
            bench.fullname,
            target,
            args,
            kwargs,
            setup=setup,
            teardown=teardown,
            repeats=settings.repeats,
            warmup=settings.warmup,
        )
    except Exception:
        bench.has_error = True
        raise
    setattr(bench, RESULT_ATTR, result)
    bench.extra_info["benchmem"] = result.blob()
    return result


def _check_ceilings(bench: Any) -> None:
    """Fail the test, in one line, when the worst pass breaks a marker ceiling."""
    result: Optional[MemoryResult] = getattr(bench, RESULT_ATTR, None)
    if result is None or getattr(bench, CHECKED_ATTR, False):
        return
    setattr(bench, CHECKED_ATTR, True)
    settings = _settings(_item_of(bench))
    breaches: List[str] = []
    for metric, key, limit in settings.ceilings:
        series = result.series(metric.name)
        worst = max(series)
        if worst > limit:
            show: Callable[[int], str] = human_bytes if metric.is_bytes else format_count
            of = f" (worst of {len(series)} passes)" if len(series) > 1 else ""
            breaches.append(f"{metric.name} {show(worst)}{of} exceeds {key} {show(limit)}")
    if breaches:
        pytest.fail(f"{bench.fullname}: " + "; ".join(breaches), pytrace=False)


def _memory_then_time(
    bench: Any,
    timed: Callable[[], Any],
    target: Callable[..., Any],
    args: Sequence[Any],
    kwargs: Optional[Mapping[str, Any]],
    setup: Optional[Callable[[], Any]] = None,
    teardown: Optional[Callable[..., Any]] = None,
) -> Any:
    """The memory pass, then pytest-benchmark's timing (``timed``), then the ceilings."""
    if not bench._mode:  # already used: pytest-benchmark raises FixtureAlreadyUsed
        _memory_pass(bench, target, args, kwargs, setup, teardown)
    result = timed()
    _check_ceilings(bench)
    return result


if _BenchmarkFixture is not None:

    class MemoryBenchmarkFixture(_BenchmarkFixture):  # type: ignore[misc]
        """pytest-benchmark's fixture with a memory pass first (``--benchmark-memory``).

        Installed by swapping the class of the ``benchmark`` fixture instance, so every
        other plugin still sees a ``BenchmarkFixture``.
        """

        def __call__(self, function_to_benchmark: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            timed = functools.partial(super().__call__, function_to_benchmark, *args, **kwargs)
            return _memory_then_time(self, timed, function_to_benchmark, args, kwargs)

        def pedantic(
            self,
            target: Callable[..., Any],
            args: Sequence[Any] = (),
            kwargs: Optional[Mapping[str, Any]] = None,
            setup: Optional[Callable[[], Any]] = None,
            **more: Any,
        ) -> Any:
            timed = functools.partial(super().pedantic, target, args=args, kwargs=kwargs, setup=setup, **more)
            return _memory_then_time(self, timed, target, args, kwargs, setup, more.get("teardown"))


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef: Any, request: pytest.FixtureRequest) -> Generator[None, Any, None]:
    outcome = yield
    if fixturedef.argname != "benchmark" or _BenchmarkFixture is None:
        return
    try:
        bench = outcome.get_result()
    except BaseException:
        return
    if isinstance(bench, _BenchmarkFixture):
        setattr(bench, ITEM_ATTR, request.node)
        if _flag(request.config) and type(bench) is _BenchmarkFixture:
            bench.__class__ = MemoryBenchmarkFixture


class BenchmarkMemory:
    """The ``benchmark_memory`` fixture: a memory pass (untracked warmup, then the
    measured repeats), then pytest-benchmark's timing of the same callable.

    ``benchmark_memory(fn, *args, **kwargs)`` or ``benchmark_memory.pedantic(target,
    args=(), kwargs=None, setup=None, rounds=1, warmup_rounds=0, iterations=1)``
    return what pytest-benchmark returns. Afterwards ``.result`` is the
    :class:`MemoryResult` (every pass), ``.peak_bytes`` its headline (minimum) peak, and
    the blob is in ``.extra_info["benchmem"]``. Other attributes are the ``benchmark``
    fixture's.
    """

    def __init__(self, benchmark: Any) -> None:
        self._benchmark = benchmark

    def __call__(self, function_to_benchmark: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        bench = self._benchmark
        timed = functools.partial(bench, function_to_benchmark, *args, **kwargs)
        return _memory_then_time(bench, timed, function_to_benchmark, args, kwargs)

    def pedantic(
        self,
        target: Callable[..., Any],
        args: Sequence[Any] = (),
        kwargs: Optional[Mapping[str, Any]] = None,
        setup: Optional[Callable[[], Any]] = None,
        **more: Any,
    ) -> Any:
        bench = self._benchmark
        timed = functools.partial(bench.pedantic, target, args=args, kwargs=kwargs, setup=setup, **more)
        return _memory_then_time(bench, timed, target, args, kwargs, setup, more.get("teardown"))

    @property
    def result(self) -> Optional[MemoryResult]:
        value: Optional[MemoryResult] = getattr(self._benchmark, RESULT_ATTR, None)
        return value

    @property
    def peak_bytes(self) -> Optional[int]:
        r = self.result
        return r.peak if r is not None else None

    @property
    def extra_info(self) -> Dict[str, Any]:
        info: Dict[str, Any] = self._benchmark.extra_info
        return info

    @property
    def benchmark(self) -> Any:
        """The underlying pytest-benchmark fixture."""
        return self._benchmark

    def __getattr__(self, name: str) -> Any:
        return getattr(self._benchmark, name)


@pytest.fixture
def benchmark_memory(benchmark: Any) -> BenchmarkMemory:
    """Memory (exact, untimed pass) and then time a callable; see :class:`BenchmarkMemory`."""
    return BenchmarkMemory(benchmark)


# ----------------------------------------------------------------------------- the table


def _lookup(bs: Any) -> Callable[[Mapping[str, Any]], Optional[MemoryResult]]:
    compared: Dict[str, Dict[str, Any]] = {
        str(path): mapping for path, mapping in (getattr(bs, "compared_mapping", None) or {}).items()
    }

    def lookup(flat: Mapping[str, Any]) -> Optional[MemoryResult]:
        bench = flat
        if flat.get("path"):  # a saved run shown for comparison: its own memory, if any
            bench = compared.get(str(flat["path"]), {}).get(str(flat.get("fullname")), {})
        blob = benchmem_blob(bench)
        if not isinstance(blob, Mapping):
            return None
        result = MemoryResult.from_blob(blob)
        return result if result.repeats else None

    return lookup


@pytest.hookimpl(tryfirst=True)
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Hand pytest-benchmark's table a terminal proxy that appends the memory columns."""
    bs = _benchmark_session(config)
    if bs is None or getattr(bs, "_benchmem_display", False):
        return
    original = bs.display
    columns = [metric_by_name(n) for n in (config.getoption("benchmark_memory_columns") or DEFAULT_COLUMNS)]
    stats = config.getoption("benchmark_memory_stats") or list(DEFAULT_STATS)

    def display(tr: Any) -> Any:
        groups = bs.groups or []
        lookup = _lookup(bs)
        results = [lookup(b) for _, benches in groups for b in benches]
        if not any(r is not None for r in results):
            return original(tr)
        spread = any(r is not None and r.repeats > 1 for r in results)
        table = MemoryTable(columns, stats, spread)
        return original(TableDecorator(tr, groups, bs.sort, lookup, table))

    bs.display = display
    bs._benchmem_display = True
