"""Mark a region of Python code and read its exact memory counters (what a region
measures: docs/architecture.md, "Regions").

    from pytest_benchmem import region

    with region("load") as r:
        data = load()
    print(r.stats.peak_bytes if r.stats else "not under the preload")

The counting is done by the benchmem preload (``libbenchmem_preload.so``), loaded with
``LD_PRELOAD`` (``benchmem run -- python3 ...``, or the pytest plugin, which restarts
pytest under it). Without the preload every function here is a no-op: ``region`` still
runs the block, ``r.stats`` stays ``None`` and ``is_active()`` is ``False``.

The symbols are looked up once, with ``ctypes.CDLL(None)`` (``dlsym(RTLD_DEFAULT)``).

Zero allocations of our own inside the region
---------------------------------------------
The preload counts every allocation the process makes while a region is open, including
the interpreter's. Everything the wrapper needs is therefore prepared before
``benchmem_region_begin`` runs: the function pointers, the encoded name, the output struct
and a ready-made ``byref`` to it. The C calls are made so that ctypes converts their
arguments without allocating: ``end`` is called with a plain ``int`` and the prepared
``byref`` object, both of which ctypes passes straight through (declared ``argtypes``
would make ctypes build a temporary argument object per call, inside the region), and
the begin/end results are small ints, which CPython caches. An empty region reports 0
allocations.
"""

from __future__ import annotations

import ctypes
import functools
import operator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Callable, Dict, Optional, Tuple, Type

__all__ = [
    "CStats",
    "PreloadApi",
    "RegionError",
    "RegionStats",
    "is_active",
    "measure_call",
    "preload_api",
    "region",
    "trampoline",
]


class CStats(ctypes.Structure):
    """``benchmem_stats`` from include/benchmem.h: what ``benchmem_region_end`` fills in."""

    _fields_ = [
        ("peak_bytes", ctypes.c_uint64),
        ("total_bytes", ctypes.c_uint64),
        ("allocations", ctypes.c_uint64),
        ("retained_bytes", ctypes.c_uint64),
    ]


@dataclass(frozen=True)
class RegionStats:
    """The four counters of one region sample (bytes, except ``allocations``)."""

    peak_bytes: int
    total_bytes: int
    allocations: int
    retained_bytes: int

    def as_dict(self) -> Dict[str, int]:
        return {
            "peak_bytes": self.peak_bytes,
            "total_bytes": self.total_bytes,
            "allocations": self.allocations,
            "retained_bytes": self.retained_bytes,
        }

    @classmethod
    def from_c(cls, raw: CStats) -> "RegionStats":
        """The stats a ``benchmem_region_end`` call wrote into ``raw``."""
        return cls(
            int(raw.peak_bytes),
            int(raw.total_bytes),
            int(raw.allocations),
            int(raw.retained_bytes),
        )


class PreloadApi:
    """The preload's three entry points, resolved together, before any region opens."""

    __slots__ = ("begin", "end", "active", "end_address")

    def __init__(self, lib: ctypes.CDLL) -> None:
        begin = lib.benchmem_region_begin
        # The name is converted before begin runs (outside the region): argtypes are safe.
        begin.argtypes = [ctypes.c_char_p]
        begin.restype = ctypes.c_int
        end = lib.benchmem_region_end
        # No argtypes on purpose: an int and a byref() object are passed through by
        # ctypes without building a temporary, and this conversion happens inside the
        # region (see the module docstring).
        end.restype = ctypes.c_int
        active = lib.benchmem_is_active
        active.argtypes = []
        active.restype = ctypes.c_int
        self.begin: Callable[[bytes], int] = begin
        self.end: Callable[[int, Any], int] = end
        self.active: Callable[[], int] = active
        address = ctypes.cast(end, ctypes.c_void_p).value
        if not address:
            raise AttributeError("benchmem_region_end")
        self.end_address: int = address


_UNRESOLVED: Any = object()
_api: Any = _UNRESOLVED
# `int benchmem_region_end(int, benchmem_stats *)`, called without argtypes (cdecl: the
# extra arguments a `with` statement passes to __exit__ are ignored by the callee).
_END_PROTO = ctypes.CFUNCTYPE(ctypes.c_int)


def preload_api() -> Optional[PreloadApi]:
    """The preload's region API, or ``None`` when the symbols are absent (no preload)."""
    global _api
    if _api is _UNRESOLVED:
        try:
            lib = ctypes.CDLL(None)
            _api = PreloadApi(lib)
        except (AttributeError, OSError):
            _api = None
    api: Optional[PreloadApi] = _api
    return api


def is_active() -> bool:
    """True when this process runs under the benchmem preload."""
    api = preload_api()
    return api is not None and api.active() == 1


class RegionError(RuntimeError):
    """The preload refused to open or close a region (e.g. too many open at once)."""


def _no_exit(exc_type: Any, exc: Any, tb: Any) -> None:
    return None


class _Converter:
    """An ``argtypes`` entry whose ``from_param`` is a C-level callable (no frame, no
    allocation)."""

    __slots__ = ("from_param",)

    def __init__(self, from_param: Callable[[Any], Any]) -> None:
        self.from_param = from_param


# region_end's arguments as the `with` statement passes them, via the prepared partial:
# (region, byref(stats), exc_type, exc, tb). The region becomes its id (a small int, which
# ctypes passes as is), the byref passes through, the exception triple becomes NULLs that
# the two-argument C function never reads (cdecl).
_END_ARGTYPES = (
    _Converter(operator.attrgetter("_rid")),
    ctypes.c_void_p,
    _Converter({}.get),
    _Converter({}.get),
    _Converter({}.get),
)
_FIVE_NONES = [None] * 5


class _ExitSlot:
    """``region.__exit__``: hands the ``with`` statement a prepared C-level callable.

    A ``with`` statement looks ``__exit__`` up *before* it calls ``__enter__``, so this
    getter runs outside the region. What it returns, ``partial(end, region, out)`` over
    a ctypes function pointer, runs at the end of the block without pushing a Python
    frame: a Python ``__exit__`` would, and CPython maps a 16 KiB interpreter-stack chunk
    when that frame lands on a chunk boundary, which would be counted in the region.
    ``type(r).__exit__(r, *exc)`` (contextlib.ExitStack) works too.
    """

    def __get__(self, obj: Optional["region"], objtype: Any = None) -> Any:
        if obj is None:
            return self
        return obj._exit

    def __call__(self, obj: "region", exc_type: Any, exc: Any, tb: Any) -> None:
        obj._exit(exc_type, exc, tb)


class region:
    """Context manager measuring the block it wraps: ``with region("name") as r: ...``.

    After the block ``r.stats`` is a :class:`RegionStats`, or ``None`` without the
    preload. Regions are process-wide (every thread's allocations count) and may nest.
    The same object may be entered again after it has exited (a new sample each time).
    When the preload cannot open or close the region, the block still runs, ``r.stats``
    stays ``None`` and ``r.error`` says why.
    """

    __slots__ = ("name", "stats", "error", "_api", "_cname", "_raw", "_rid", "_exit", "__weakref__")

    def __init__(self, name: str) -> None:
        self.name = name
        self.stats: Optional[RegionStats] = None
        self.error: Optional[str] = None
        self._api = preload_api()
        self._cname = name.encode("utf-8", "surrogateescape")
        self._raw = CStats()
        self._rid = -1
        self._exit: Callable[[Any, Any, Any], Any] = _no_exit
        if self._api is not None:
            end = _END_PROTO(self._api.end_address)
            end.argtypes = _END_ARGTYPES  # type: ignore[assignment]  # from_param objects, allowed by ctypes
            end.restype = self._ended  # called with end's result once the region is closed
            self._exit = functools.partial(end, self, ctypes.byref(self._raw))

    __exit__ = _ExitSlot()

    def __enter__(self) -> "region":
        self.stats = None
        self.error = None
        api = self._api
        if api is not None:
            # Leave a 5-tuple on CPython's free list: the argument tuple of the exit
            # call is taken from it, so it cannot make pymalloc map an arena in the region.
            warm = tuple(_FIVE_NONES)
            del warm
            rid = api.begin(self._cname)
            # Nothing but the user's block may run between begin and end.
            self._rid = rid
            if rid < 0:
                self.error = f"benchmem_region_begin failed ({rid})"
        return self

    def _ended(self, rc: int) -> None:
        if self._rid < 0:
            return  # begin failed (error already set) or no region open: no sample
        self._rid = -1
        if rc == 0:
            self.stats = RegionStats.from_c(self._raw)
        else:
            self.error = f"benchmem_region_end failed ({rc})"

    def __repr__(self) -> str:
        return f"region({self.name!r}, stats={self.stats!r})"


# CPython 3.11+ keeps Python frames on a per-thread stack of chunks (16 KiB, or larger
# when one frame needs it) and maps a chunk whenever a frame does not fit in the current
# one. Were the measured function's frame to land on a chunk boundary, that mapping would
# be counted in its region (and a function doing nothing would show one 16 KiB
# allocation at some stack depths). So the measured call is made from a trampoline whose
# own frame is bigger than a standard chunk: pushing it always maps a fresh chunk, sized
# to leave room for at least 1000 more slots, before the region opens, and the measured
# frame then always fits.
_TRAMPOLINE_SLOTS = 2100


def _make_trampoline() -> Callable[..., Tuple[int, int, Any]]:
    filler = " = ".join(f"_s{i}" for i in range(_TRAMPOLINE_SLOTS))
    src = (
        "def _trampoline(begin, end, cname, out, fn):\n"
        "    if False:\n"
        f"        {filler} = None\n"
        "    rid = begin(cname)\n"
        "    if rid < 0:\n"
        "        return rid, -1, None\n"
        "    try:\n"
        "        result = fn()\n"
        "    finally:\n"
        "        rc = end(rid, out)\n"
        "    return rid, rc, result\n"
    )
    namespace: Dict[str, Any] = {}
    exec(compile(src, "<benchmem trampoline>", "exec"), namespace)
    fn: Callable[..., Tuple[int, int, Any]] = namespace["_trampoline"]
    return fn


#: ``trampoline(begin, end, cname, out, fn) -> (rid, rc, fn's result)``: opens region
#: ``cname`` with ``begin``, calls ``fn()``, closes it with ``end(rid, out)`` (also when
#: ``fn`` raises) and returns begin's id (negative: not opened, ``fn`` not called), end's
#: code and ``fn``'s result. Its frame reserves the interpreter stack ``fn`` needs (see
#: above). Used by :func:`measure_call` and the memory pass (``measure.run_memory_pass``).
trampoline: Callable[..., Tuple[int, int, Any]] = _make_trampoline()


def measure_call(name: str, fn: Callable[[], Any]) -> Tuple[Optional[RegionStats], Any]:
    """Call ``fn()`` inside region ``name``; return (stats or None, fn's result).

    Only ``fn`` itself is measured: every object the call needs is made before the
    region opens, and the call is made from a frame that guarantees ``fn``'s frame room
    on the interpreter stack (see ``_TRAMPOLINE_SLOTS``), as the pytest plugin's memory
    pass (``run_memory_pass``) does. Raises :class:`RegionError` when the preload is loaded but refuses the region.
    Without the preload, just calls ``fn``.
    """
    api = preload_api()
    if api is None:
        return None, fn()
    raw = CStats()
    rid, rc, result = trampoline(
        api.begin, api.end, name.encode("utf-8", "surrogateescape"), ctypes.byref(raw), fn
    )
    if rid < 0:
        raise RegionError(f"benchmem_region_begin({name!r}) failed ({rid})")
    if rc != 0:
        raise RegionError(f"benchmem_region_end({name!r}) failed ({rc})")
    return RegionStats.from_c(raw), result
