"""The memory pass inside pytest-benchmark's fixture: the ``benchmark_memory`` fixture
and, with ``--benchmark-memory``, every plain ``benchmark()`` call.

Each call first runs the memory pass (untracked warmup, then the measured passes, see
:func:`pytest_benchmem.measure.run_memory_pass`), once per test, then pytest-benchmark's
own timing of the same callable (or, with ``--benchmark-disable``, one plain call), then
checks the marker's ceilings. The result is kept on the fixture and its blob in
``extra_info["benchmem"]`` (so in pytest-benchmark's JSON).

Where the passes run: in this process when it runs under the preload (pytest restarts
itself under it); in a fresh process started under it when pytest runs inside another
program (``pytest.main()``) and so cannot restart; in a fresh process per pass with the
marker's ``isolate=True`` (:mod:`pytest_benchmem.worker`); with
``--benchmark-memory-profile``, in a fresh process started under ``benchmem run --stacks``
(:mod:`pytest_benchmem.profiles`).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import pytest

from . import _pytest_benchmark_adapter as pb
from . import markers, options, profiles, restart
from .measure import Sampling, run_memory_pass
from .region import is_active
from .results import MemoryResult
from .units import format_count, human_bytes
from .worker import WorkerError, isolated_passes, passes_in_child

__all__ = ["BenchmarkMemory", "MemoryBenchmarkFixture", "attach", "memory_then_time"]

#: Attributes benchmem keeps on pytest-benchmark's fixture instance.
RESULT_ATTR = "_benchmem_result"
CHECKED_ATTR = "_benchmem_checked"
ITEM_ATTR = "_benchmem_item"


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
    """Run the memory pass once per test (idempotent); None with ``--benchmark-skip``."""
    done: Optional[MemoryResult] = getattr(bench, RESULT_ATTR, None)
    if done is not None:
        return done
    item = _item_of(bench)
    config = item.config
    if not options.memory_enabled(config):
        return None
    settings = markers.settings(item)
    sampling = Sampling(settings.repeats, max_time=settings.max_time)
    name = bench.fullname
    # Isolated passes each run in a process of their own: they are not profiled.
    record = None if settings.isolate else profiles.record_path(config, name)
    if record is None and not settings.isolate and not is_active():
        restart.ensure_preload(config, "memory requested")  # once per session; may not return
        if not restart.state(config).child:
            pytest.fail(restart.unavailable_message(config), pytrace=False)
    keep_aslr = options.keep_aslr(config)
    problem: Optional[str] = None
    result: Optional[MemoryResult] = None
    try:
        if settings.isolate:
            result = isolated_passes(
                name, target, args, kwargs, setup=setup, teardown=teardown, calls=settings.calls,
                sampling=sampling, keep_aslr=keep_aslr,
            )
        elif record is not None:
            # The same passes, in a fresh process whose allocations' stacks are recorded.
            result = passes_in_child(
                name, target, args, kwargs, setup=setup, teardown=teardown, warmup=settings.warmup,
                calls=settings.calls, sampling=sampling, keep_aslr=keep_aslr, record=record,
            )
        elif is_active():
            result, _ = run_memory_pass(
                name, target, args, kwargs, setup=setup, teardown=teardown, warmup=settings.warmup,
                calls=settings.calls, sampling=sampling,
            )
        else:
            result = passes_in_child(
                name, target, args, kwargs, setup=setup, teardown=teardown, warmup=settings.warmup,
                calls=settings.calls, sampling=sampling, keep_aslr=keep_aslr,
            )
    except WorkerError as e:
        problem = str(e)
    except Exception:
        pb.mark_failed(bench)
        raise
    if problem is not None or result is None:
        pb.mark_failed(bench)
        pytest.fail(problem or f"benchmem: {name}: no memory measured", pytrace=False)
    setattr(bench, RESULT_ATTR, result)
    bench.extra_info["benchmem"] = result.as_dict()
    return result


def _check_ceilings(bench: Any) -> None:
    """Fail the test, in one line, when the worst pass breaks a marker ceiling."""
    result: Optional[MemoryResult] = getattr(bench, RESULT_ATTR, None)
    if result is None or getattr(bench, CHECKED_ATTR, False):
        return
    setattr(bench, CHECKED_ATTR, True)
    settings = markers.settings(_item_of(bench))
    breaches: List[str] = []
    for metric, key, limit in settings.ceilings:
        series = result.values(metric.key)
        if not series:
            continue
        worst = max(series)
        if worst > limit:
            show: Callable[[int], str] = human_bytes if metric.is_bytes else format_count
            of = f" (worst of {len(series)} passes)" if len(series) > 1 else ""
            breaches.append(f"{metric.name} {show(worst)}{of} exceeds {key} {show(limit)}")
    if breaches:
        pytest.fail(f"{bench.fullname}: " + "; ".join(breaches), pytrace=False)


def memory_then_time(
    bench: Any,
    timed: Callable[[], Any],
    target: Callable[..., Any],
    args: Sequence[Any],
    kwargs: Optional[Mapping[str, Any]],
    setup: Optional[Callable[[], Any]] = None,
    teardown: Optional[Callable[..., Any]] = None,
) -> Any:
    """The memory pass, then pytest-benchmark's timing (``timed``: with
    ``--benchmark-disable``, one plain call), then the ceilings."""
    if not pb.fixture_used(bench):  # already used: pytest-benchmark raises FixtureAlreadyUsed
        _memory_pass(bench, target, args, kwargs, setup, teardown)
    result = timed()
    _check_ceilings(bench)
    return result


if pb.BenchmarkFixture is not None:

    class MemoryBenchmarkFixture(pb.BenchmarkFixture):  # type: ignore[misc]
        """pytest-benchmark's fixture with a memory pass first (``--benchmark-memory``).

        Installed by swapping the class of the ``benchmark`` fixture instance (see
        :func:`attach`), so every other plugin still sees a ``BenchmarkFixture``.
        """

        def __call__(self, function_to_benchmark: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            timed = functools.partial(super().__call__, function_to_benchmark, *args, **kwargs)
            return memory_then_time(self, timed, function_to_benchmark, args, kwargs)

        def pedantic(
            self,
            target: Callable[..., Any],
            args: Sequence[Any] = (),
            kwargs: Optional[Mapping[str, Any]] = None,
            setup: Optional[Callable[[], Any]] = None,
            **more: Any,
        ) -> Any:
            timed = functools.partial(super().pedantic, target, args=args, kwargs=kwargs, setup=setup, **more)
            return memory_then_time(self, timed, target, args, kwargs, setup, more.get("teardown"))


def attach(bench: Any, item: pytest.Item, every_call: bool) -> None:
    """Ready a new ``benchmark`` fixture instance of ``item`` for memory passes; with
    ``every_call`` (``--benchmark-memory``) each of its calls gets one."""
    if not pb.is_fixture(bench):
        return
    setattr(bench, ITEM_ATTR, item)
    if every_call:
        pb.install_class(bench, MemoryBenchmarkFixture)


class BenchmarkMemory:
    """The ``benchmark_memory`` fixture: a memory pass (untracked warmup, then the
    measured repeats), then pytest-benchmark's timing of the same callable.

    ``benchmark_memory(fn, *args, **kwargs)`` or ``benchmark_memory.pedantic(target,
    args=(), kwargs=None, setup=None, rounds=1, warmup_rounds=0, iterations=1)``
    return what pytest-benchmark returns; ``teardown=`` is passed on too. Afterwards
    ``.result`` is the :class:`MemoryResult` (every pass), ``.peak_bytes`` its headline
    (minimum) peak, and the blob is in ``.extra_info["benchmem"]``. Other attributes are
    the ``benchmark`` fixture's.
    """

    def __init__(self, benchmark: Any) -> None:
        self._benchmark = benchmark

    def __call__(self, function_to_benchmark: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        bench = self._benchmark
        timed = functools.partial(bench, function_to_benchmark, *args, **kwargs)
        return memory_then_time(bench, timed, function_to_benchmark, args, kwargs)

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
        return memory_then_time(bench, timed, target, args, kwargs, setup, more.get("teardown"))

    @property
    def result(self) -> Optional[MemoryResult]:
        value: Optional[MemoryResult] = getattr(self._benchmark, RESULT_ATTR, None)
        return value

    @property
    def peak_bytes(self) -> Optional[int]:
        r = self.result
        return r.peak_bytes if r is not None else None

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
