"""The memory pass: untracked warmup, then measured passes, each inside one region, as
many as a fixed count asks or, by default, until the minimum peak settles.

:func:`run_memory_pass` measures in this process (which must run under the preload);
:func:`measure_memory` and :func:`measure_peak` work in any interpreter: in-process
under the preload, otherwise in a fresh process started under it (:mod:`.worker`), and
with ``isolate=True`` each pass in a fresh process of its own.
"""

from __future__ import annotations

import ctypes
import functools
import gc
from dataclasses import dataclass
from time import perf_counter
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

from .region import CStats, RegionError, is_active, preload_api, trampoline
from .results import (
    ALL_METRICS,
    METRIC_NAMES,
    METRICS,
    RSS,
    STATS,
    Measurement,
    MemoryMetric,
    MemoryResult,
    Metric,
    canonical_metric,
    compute_stat,
    metric_by_name,
)

__all__ = [
    "ALL_METRICS",
    "METRICS",
    "METRIC_NAMES",
    "RSS",
    "STATS",
    "Measurement",
    "MemoryMetric",
    "MemoryResult",
    "Metric",
    "Sampling",
    "canonical_metric",
    "compute_stat",
    "measure_memory",
    "measure_peak",
    "metric_by_name",
    "run_memory_pass",
]

#: Adaptive sampling (no fixed count): at least this many passes, at most that many, and
#: stop once ``PATIENCE`` passes in a row set no new minimum peak. Deterministic code
#: therefore takes 3 passes. The same rule as pytest-benchmem's.
MIN_PASSES = 2
MAX_PASSES = 10
PATIENCE = 2


@dataclass(frozen=True)
class Sampling:
    """How many passes to measure: exactly ``repeats``, or (``repeats=None``) adaptively:
    at least ``min_passes``, at most ``max_passes``, stopping once ``patience`` passes in a
    row set no new minimum peak, or once ``max_time`` seconds have gone by (checked after
    ``min_passes``)."""

    repeats: Optional[int] = None
    min_passes: int = MIN_PASSES
    max_passes: int = MAX_PASSES
    patience: int = PATIENCE
    max_time: Optional[float] = None

    def __post_init__(self) -> None:
        _check_int("repeats", self.repeats, 1, optional=True)
        _check_int("min_passes", self.min_passes, 1)
        _check_int("max_passes", self.max_passes, 1)
        _check_int("patience", self.patience, 1)
        if self.max_time is not None:
            if isinstance(self.max_time, bool) or not isinstance(self.max_time, (int, float)) or not self.max_time >= 0:
                raise ValueError(f"max_time must be a number of seconds >= 0, got {self.max_time!r}")

    @property
    def capacity(self) -> int:
        """The most passes this sampling can take."""
        if self.repeats is not None:
            return self.repeats
        return max(self.min_passes, self.max_passes)

    def stop(self, taken: int, stale: int, elapsed: float) -> bool:
        """Whether to stop after ``taken`` passes, the last ``stale`` of which set no new
        minimum peak, ``elapsed`` seconds after the first began."""
        if self.repeats is not None:
            return taken >= self.repeats
        if taken < self.min_passes:
            return False
        if taken >= self.capacity or stale >= self.patience:
            return True
        return self.max_time is not None and elapsed >= self.max_time


def _check_int(name: str, value: Any, minimum: int, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


Setup = Callable[[], Any]


def arguments(
    args: Sequence[Any],
    kwargs: Optional[Mapping[str, Any]],
    setup: Optional[Setup],
    setup_gives_arguments: bool = True,
) -> Tuple[Tuple[Any, ...], Dict[str, Any]]:
    """Run ``setup`` (if any) and return the call's arguments: pytest-benchmark's pedantic
    rule, where setup may return ``(args, kwargs)`` for the call."""
    has_args = bool(args or kwargs)
    a, k = tuple(args), dict(kwargs or {})
    if setup is not None:
        maybe = setup()
        if maybe and setup_gives_arguments:
            if has_args:
                raise TypeError("Can't use `args` or `kwargs` if `setup` returns the arguments.")
            a, k = tuple(maybe[0]), dict(maybe[1])
    return a, k


def _bind(target: Callable[..., Any], a: Tuple[Any, ...], k: Dict[str, Any]) -> Callable[[], Any]:
    if not a and not k:
        return target
    return functools.partial(target, *a, **k)


def _repeat_calls(call: Callable[[], Any], times: Tuple[None, ...]) -> None:
    """``calls=N``: N calls in one region; each call's result is dropped before the next,
    so the peak is the high-water of the sequence and the counts are its totals."""
    for _ in times:
        call()


def run_memory_pass(
    name: str,
    target: Callable[..., Any],
    args: Sequence[Any] = (),
    kwargs: Optional[Mapping[str, Any]] = None,
    *,
    setup: Optional[Setup] = None,
    teardown: Optional[Callable[..., Any]] = None,
    repeats: Optional[int] = None,
    warmup: int = 1,
    calls: int = 1,
    max_time: Optional[float] = None,
    sampling: Optional[Sampling] = None,
    setup_gives_arguments: bool = True,
) -> Tuple[MemoryResult, Any]:
    """Measure ``target`` in this process: ``warmup`` untracked calls, then measured
    passes, each inside its own region named ``name``: exactly ``repeats``, or by default
    adaptively (:class:`Sampling`; ``max_time`` bounds it). Each pass is ``calls`` calls
    of the target. ``setup`` runs untracked before every call (warmup or measured pass),
    ``teardown(*args, **kwargs)`` after it. A full garbage collection precedes every
    measured pass so each starts from the same heap.

    Returns the result and the last measured call's return value (None with ``calls``
    above 1). Raises RuntimeError without the preload (see :func:`is_active`).
    """
    plan = sampling if sampling is not None else Sampling(repeats, max_time=max_time)
    _check_int("warmup", warmup, 0)
    _check_int("calls", calls, 1)
    api = preload_api()
    if api is None or not is_active():
        raise RuntimeError("benchmem: the memory pass needs the preload (see is_active())")
    for _ in range(warmup):
        a, k = arguments(args, kwargs, setup, setup_gives_arguments)
        target(*a, **k)
        if teardown is not None:
            teardown(*a, **k)
    # Everything the passes need is made up front: an object allocated between two passes
    # and kept can land in (and keep alive) a pymalloc arena the previous pass's result
    # used, which would make the next pass's count differ when the result is retained.
    # So the stopping rule keeps only small ints (cached by CPython) between passes.
    cap = plan.capacity
    cname = name.encode("utf-8", "surrogateescape")
    raws = (CStats * cap)()
    outs = [ctypes.byref(raws[i]) for i in range(cap)]
    codes = [0] * cap
    times = (None,) * calls if calls > 1 else ()
    a, k = arguments(args, kwargs, None) if setup is None else ((), {})
    fixed = _bind(target, a, k) if setup is None else None
    if fixed is not None and times:
        fixed = functools.partial(_repeat_calls, fixed, times)
    begin, end = api.begin, api.end
    value: Any = None
    best = 0
    stale = 0
    taken = 0
    start = perf_counter()
    for i in range(cap):
        value = None  # free the previous pass's result before measuring again
        call = fixed
        if call is None:
            a, k = arguments(args, kwargs, setup, setup_gives_arguments)
            call = _bind(target, a, k)
            if times:
                call = functools.partial(_repeat_calls, call, times)
        gc.collect()
        rid, rc, value = trampoline(begin, end, cname, outs[i], call)
        codes[i] = rid if rid < 0 else rc
        if teardown is not None:
            teardown(*a, **k)
        taken = i + 1
        if codes[i] != 0:
            break
        if i and raws[i].peak_bytes < raws[best].peak_bytes:
            best = i
            stale = 0
        elif i:
            stale += 1
        if plan.stop(taken, stale, perf_counter() - start):
            break
    gc.collect()
    bad = [c for c in codes[:taken] if c != 0]
    if bad:
        raise RegionError(f"benchmem: the preload refused region {name!r} ({bad[0]})")
    samples = tuple(
        Measurement(
            peak_bytes=int(raws[i].peak_bytes),
            allocations=int(raws[i].allocations),
            total_bytes=int(raws[i].total_bytes),
            retained_bytes=int(raws[i].retained_bytes),
        )
        for i in range(taken)
    )
    return MemoryResult(samples), value


def resident_high_water() -> Optional[int]:
    """This process's resident high-water in bytes (``VmHWM`` of /proc/self/status,
    which a fresh exec starts anew), or None where the kernel does not give it."""
    try:
        with open("/proc/self/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class _Discard:
    """``measure_memory``'s setup: called for its effect; what it returns is not the
    action's arguments (the action takes none). A class, so that it pickles."""

    def __init__(self, setup: Setup) -> None:
        self.setup = setup

    def __call__(self) -> None:
        self.setup()


def measure_memory(
    action: Callable[[], Any],
    repeats: Optional[int] = None,
    *,
    warmup: int = 1,
    isolate: bool = False,
    calls: int = 1,
    max_time: Optional[float] = None,
    min_passes: int = MIN_PASSES,
    max_passes: int = MAX_PASSES,
    patience: int = PATIENCE,
    setup: Optional[Setup] = None,
    name: str = "measure_memory",
    keep_aslr: bool = False,
) -> MemoryResult:
    """Measure ``action()`` (a zero-argument callable) in passes and return every pass.

    - ``repeats``: exactly that many passes; ``None`` (default) samples adaptively: at
      least ``min_passes``, at most ``max_passes``, stopping after ``patience`` passes in
      a row with no new minimum peak, or after ``max_time`` seconds.
    - ``warmup``: untracked calls before the first measured pass (not with ``isolate``).
    - ``calls``: calls of ``action`` in one measured pass: the peak is the high-water of
      the sequence, the counts its totals.
    - ``setup``: called untracked before every call (warmup or pass); what it returns is
      ignored.
    - ``isolate``: each pass in a fresh process started under the preload, which calls
      ``setup`` then the action (``calls`` times) once, and records the process's
      resident high-water as ``rss_bytes``.

    Under the preload the passes run in this process; otherwise in one fresh process
    started under it. Either way ``action`` (and ``setup``) must then be picklable by
    cloudpickle (lambdas and closures are; open files and locks are not): a target that
    is not raises :class:`pytest_benchmem.worker.WorkerError` saying so. ``keep_aslr``
    leaves address randomization on in the processes started (it is turned off by
    default, as ``benchmem run`` does).
    """
    plan = Sampling(repeats, min_passes, max_passes, patience, max_time)
    _check_int("warmup", warmup, 0)
    _check_int("calls", calls, 1)
    wrapped = _Discard(setup) if setup is not None else None
    if isolate:
        from .worker import isolated_passes

        return isolated_passes(name, action, (), None, setup=wrapped, calls=calls, sampling=plan, keep_aslr=keep_aslr)
    if is_active():
        result, _ = run_memory_pass(name, action, setup=wrapped, warmup=warmup, calls=calls, sampling=plan)
        return result
    from .worker import passes_in_child

    return passes_in_child(
        name, action, (), None, setup=wrapped, warmup=warmup, calls=calls, sampling=plan, keep_aslr=keep_aslr
    )


def measure_peak(action: Callable[[], Any], repeats: Optional[int] = None) -> int:
    """The headline peak (minimum over the passes, in bytes) of ``action()``; see
    :func:`measure_memory`. ``measure_peak(lambda: bytearray(10**6)) == 1_000_001``."""
    return measure_memory(action, repeats).peak_bytes

