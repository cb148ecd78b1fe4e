"""Memory passes in a fresh process started under the preload.

Used where the passes cannot run in this process, because it was not started under the
preload and cannot restart itself (``pytest.main()`` inside another program, a notebook,
a plain ``python3`` calling :func:`pytest_benchmem.measure_memory`), and for isolated
passes (``isolate=True``), each of which runs in a process of its own so that its
resident high-water belongs to it.

The process is this interpreter (``sys.executable``) started with ``LD_PRELOAD`` naming
the preload (ours first, as ``benchmem run`` does) and address randomization off. Over a
pipe it gets this interpreter's ``sys.path``, then the request: the target, its
arguments, setup and teardown, serialized with cloudpickle, so that lambdas and closures
travel by value and importable functions by reference. It measures exactly as an
in-process pass does (:func:`pytest_benchmem.measure.run_memory_pass`) and answers over
another pipe with the passes' numbers, or with the exception the target raised.
Its standard output and error are this process's.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.machinery
import os
import pickle
import subprocess
import sys
import traceback
import warnings
from pathlib import Path
from time import perf_counter
from types import ModuleType
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from .aslr import fixed_addresses
from .locate import ENV_BIN, PRELOAD_NAME, find_binary, find_preload, missing_preload_message, preloaded_environ
from .measure import Sampling, resident_high_water, run_memory_pass
from .region import is_active
from .results import Measurement, MemoryResult

__all__ = ["RemoteTraceback", "Request", "WorkerError", "child_main", "isolated_passes", "passes_in_child"]

#: Set in the processes started here.
ENV_WORKER = "BENCHMEM_WORKER"
#: An isolated target that pickles to more than this probably closes over state built
#: beforehand, whose unpickling (not its building) the process's RSS then holds.
HEAVY_PAYLOAD = 1024 * 1024

_PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent)
_BOOT = (
    "import sys\n"
    f"sys.path.insert(0, {_PACKAGE_PARENT!r})\n"
    "from pytest_benchmem.worker import child_main\n"
    "sys.exit(child_main(int(sys.argv[1]), int(sys.argv[2])))\n"
)


class WorkerError(RuntimeError):
    """The passes could not run in a fresh process: the target does not pickle, or the
    process could not load it, start under the preload or finish."""


class RemoteTraceback(Exception):
    """The traceback, in the fresh process, of an exception the target raised there
    (the ``__cause__`` of the exception re-raised here)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return self.text


@dataclasses.dataclass
class Request:
    """What the fresh process runs: one isolated pass, or the whole memory pass."""

    isolated: bool
    name: str
    target: Callable[..., Any]
    args: Tuple[Any, ...]
    kwargs: Optional[Mapping[str, Any]]
    setup: Optional[Callable[[], Any]]
    teardown: Optional[Callable[..., Any]]
    warmup: int
    calls: int
    sampling: Sampling
    setup_gives_arguments: bool

    def run(self) -> Any:
        if self.isolated:
            result, _ = run_memory_pass(
                self.name, self.target, self.args, self.kwargs, setup=self.setup, teardown=self.teardown,
                warmup=0, calls=self.calls, sampling=Sampling(1), setup_gives_arguments=self.setup_gives_arguments,
            )
            return dataclasses.replace(result.samples[0], rss_bytes=resident_high_water())
        result, _ = run_memory_pass(
            self.name, self.target, self.args, self.kwargs, setup=self.setup, teardown=self.teardown,
            warmup=self.warmup, calls=self.calls, sampling=self.sampling,
            setup_gives_arguments=self.setup_gives_arguments,
        )
        return result


def _unimportable_modules(objects: Sequence[Any]) -> List[ModuleType]:
    """The modules of these callables that the fresh process could not import by name
    from ``sys.path`` (a test module pytest imported with ``--import-mode=importlib``):
    their functions are sent by value instead."""
    found: List[ModuleType] = []
    for obj in objects:
        while isinstance(obj, functools.partial):
            obj = obj.func
        name = getattr(obj, "__module__", None)
        module = sys.modules.get(name) if isinstance(name, str) else None
        if module is None or name in ("__main__", "builtins") or module in found:
            continue
        top = name.split(".")[0] if isinstance(name, str) else ""
        if top in sys.builtin_module_names:
            continue
        try:
            spec = importlib.machinery.PathFinder.find_spec(top, sys.path)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            found.append(module)
    return found


def _serialize(request: Request) -> bytes:
    try:
        cloudpickle: Any = importlib.import_module("cloudpickle")  # untyped: used through Any
    except ImportError:  # pragma: no cover - a dependency of the package
        raise WorkerError("benchmem: measuring in a fresh process needs cloudpickle (`pip install cloudpickle`)") from None
    by_value = _unimportable_modules([request.target, request.setup, request.teardown])
    for module in by_value:
        cloudpickle.register_pickle_by_value(module)
    try:
        data: bytes = cloudpickle.dumps(request)
    except Exception as e:  # pickling raises whatever the object's __reduce__ raises
        raise WorkerError(
            f"benchmem: {request.name}: the benchmarked callable (with its arguments, setup and teardown) "
            f"must be sent to a fresh process started under the preload, and it cannot be pickled "
            f"({type(e).__name__}: {e}); measure something that builds its state itself "
            "(a function, a lambda or a closure over picklable values)"
        ) from None
    finally:
        for module in by_value:
            cloudpickle.unregister_pickle_by_value(module)
    return data


def _recording_command(record: Path) -> Tuple[List[str], Dict[str, str]]:
    """``benchmem run --stacks --json RECORD --quiet --`` and its environment: the run
    loads the preload itself (and records the stacks), so this process's own preload and
    run directory are not passed on."""
    binary = find_binary()
    if binary is None or not binary.is_file():
        where = f" ({binary} does not exist)" if binary is not None else ""
        raise WorkerError(
            f"benchmem: --benchmark-memory-profile records through the benchmem binary, which is not found{where}; "
            f"reinstall with `pip install benchmem`, or set {ENV_BIN}"
        )
    env = {k: v for k, v in os.environ.items() if k != "BENCHMEM_DIR"}
    kept = [p for p in env.get("LD_PRELOAD", "").split(":") if p and not p.endswith("/" + PRELOAD_NAME)]
    if kept:
        env["LD_PRELOAD"] = ":".join(kept)
    else:
        env.pop("LD_PRELOAD", None)
    return [str(binary), "run", "--stacks", "--json", str(record), "--quiet", "--"], env


def _exchange(name: str, payload: bytes, keep_aslr: bool, record: Optional[Path] = None) -> Any:
    """Start a fresh process under the preload, hand it ``payload`` (a pickled
    :class:`Request`) and return what its ``run()`` returned (or raise what it raised).
    With ``record``, the process runs under ``benchmem run --stacks``, which saves its
    run there with the stack of every allocation beside it."""
    if not sys.executable:
        raise WorkerError("benchmem: cannot start a fresh Python process: sys.executable is empty")
    if record is None:
        problem = missing_preload_message()
        preload = find_preload()
        if problem is not None or preload is None:
            raise WorkerError(problem or "benchmem: no preload")
        prefix: List[str] = []
        env = preloaded_environ(preload)
    else:
        prefix, env = _recording_command(record)
    env[ENV_WORKER] = "1"
    request_r, request_w = os.pipe()
    reply_r, reply_w = os.pipe()
    try:
        with fixed_addresses(not keep_aslr):
            # The pipes' ends are inherited through `benchmem run`, which keeps every
            # descriptor it did not open itself open for the command.
            proc = subprocess.Popen(
                [*prefix, sys.executable, "-c", _BOOT, str(request_r), str(reply_w)],
                pass_fds=(request_r, reply_w),
                env=env,
                stdin=subprocess.DEVNULL,
            )
    except OSError as e:
        for fd in (request_r, request_w, reply_r, reply_w):
            os.close(fd)
        raise WorkerError(f"benchmem: cannot start {prefix[0] if prefix else sys.executable}: {e}") from None
    os.close(request_r)
    os.close(reply_w)
    try:
        with os.fdopen(request_w, "wb") as out:
            out.write(pickle.dumps((list(sys.path), payload)))
    except BrokenPipeError:
        pass  # the process ended early: its status says why
    with os.fdopen(reply_r, "rb") as inp:
        answer = inp.read()
    status = proc.wait()
    if not answer:
        how = f"was killed by signal {-status}" if status < 0 else f"exited with status {status}"
        raise WorkerError(f"benchmem: {name}: the process measuring it {how} before answering")
    kind, *rest = pickle.loads(answer)
    if kind == "ok":
        return rest[0]
    phase, exc_blob, text, summary = rest
    if phase == "load":
        raise WorkerError(f"benchmem: {name}: the fresh process could not {summary}")
    exc: Optional[BaseException] = None
    if exc_blob is not None:
        try:
            exc = pickle.loads(exc_blob)
        except Exception:
            exc = None
    if not isinstance(exc, BaseException):
        exc = RuntimeError(summary)
    raise exc from RemoteTraceback(text)


def passes_in_child(
    name: str,
    target: Callable[..., Any],
    args: Sequence[Any] = (),
    kwargs: Optional[Mapping[str, Any]] = None,
    *,
    setup: Optional[Callable[[], Any]] = None,
    teardown: Optional[Callable[..., Any]] = None,
    warmup: int = 1,
    calls: int = 1,
    sampling: Sampling = Sampling(),
    keep_aslr: bool = False,
    setup_gives_arguments: bool = True,
    record: Optional[Path] = None,
) -> MemoryResult:
    """The memory pass (warmup, then the sampled passes) of ``target`` in one fresh
    process started under the preload; the same numbers an in-process pass gives. With
    ``record``, the process runs under ``benchmem run --stacks --json RECORD``, which
    saves a profile of it there (the passes' region is named ``name``)."""
    request = Request(False, name, target, tuple(args), kwargs, setup, teardown, warmup, calls, sampling, setup_gives_arguments)
    result = _exchange(name, _serialize(request), keep_aslr, record)
    if not isinstance(result, MemoryResult):
        raise WorkerError(f"benchmem: {name}: unexpected answer from the fresh process: {result!r}")
    return result


def isolated_passes(
    name: str,
    target: Callable[..., Any],
    args: Sequence[Any] = (),
    kwargs: Optional[Mapping[str, Any]] = None,
    *,
    setup: Optional[Callable[[], Any]] = None,
    teardown: Optional[Callable[..., Any]] = None,
    calls: int = 1,
    sampling: Sampling = Sampling(),
    keep_aslr: bool = False,
    setup_gives_arguments: bool = True,
) -> MemoryResult:
    """Each measured pass in a fresh process of its own, started under the preload: it
    runs ``setup`` (untracked), then ``calls`` calls of the target in one region, no
    warmup, and records its resident high-water (``rss_bytes``). Passes are sampled as
    in-process ones are (:class:`Sampling`)."""
    request = Request(True, name, target, tuple(args), kwargs, setup, teardown, 0, calls, Sampling(1), setup_gives_arguments)
    payload = _serialize(request)
    if len(payload) > HEAVY_PAYLOAD:
        warnings.warn(
            f"benchmem: {name}: the isolated target pickles to {len(payload) / 1024**2:.1f} MiB: it "
            "probably closes over state built beforehand, so the isolated rss measures unpickling that "
            "state, not building it; build it inside the callable",
            stacklevel=3,
        )
    samples = []
    best = stale = 0
    start = perf_counter()
    for i in range(sampling.capacity):
        m = _exchange(name, payload, keep_aslr)
        if not isinstance(m, Measurement):
            raise WorkerError(f"benchmem: {name}: unexpected answer from the fresh process: {m!r}")
        samples.append(m)
        if i and m.peak_bytes < samples[best].peak_bytes:
            best, stale = i, 0
        elif i:
            stale += 1
        if sampling.stop(i + 1, stale, perf_counter() - start):
            break
    return MemoryResult(tuple(samples))


def child_main(request_fd: int, reply_fd: int) -> int:
    """The fresh process: read the request, run it, answer."""
    with os.fdopen(request_fd, "rb") as inp:
        data = inp.read()
    phase = "load"
    reply: Tuple[Any, ...]
    try:
        path, payload = pickle.loads(data)
        sys.path[:] = path
        if not is_active():
            raise RuntimeError(
                f"start under the preload (LD_PRELOAD={os.environ.get('LD_PRELOAD', '')}): the loader ignored it"
            )
        request = pickle.loads(payload)
        phase = "run"
        reply = ("ok", request.run())
    except BaseException as e:
        text = traceback.format_exc()
        summary = f"{type(e).__name__}: {e}"
        if phase == "load" and not isinstance(e, RuntimeError):
            summary = f"load the benchmarked callable ({summary})"
        elif phase == "load":
            summary = str(e)
        try:
            blob: Optional[bytes] = pickle.dumps(e)
        except Exception:
            blob = None
        reply = ("error", phase, blob, text, summary)
    try:
        out = pickle.dumps(reply)
    except Exception as e:  # the result itself does not pickle (cannot happen for ours)
        out = pickle.dumps(("error", "run", None, traceback.format_exc(), f"{type(e).__name__}: {e}"))
    with os.fdopen(reply_fd, "wb") as fh:
        fh.write(out)
    return 0
