"""``--benchmark-memory-profile=DIR``: one saved profile per memory-measured benchmark.

Each benchmark's memory pass runs in a fresh process started under ``benchmem run
--stacks`` (:mod:`.worker`), which records the call stack of every allocation and saves
a benchmem run, ``<id>.json``, with its stack data beside it, ``<id>.stacks.json``.
``<id>`` is the benchmark's id made safe for a file name, as pytest-benchmem names its
profiles. The profiles are written to a staging directory first and copied into DIR
after the session: all of them, or with ``--benchmark-memory-compare-fail`` only those of
the benchmarks that regressed (as pytest-benchmem keeps them).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import pytest

from . import options

__all__ = ["ProfileState", "configure", "record_path", "sanitize_id", "save", "unconfigure"]

#: Suffix of the stack data ``benchmem run --stacks --json X.json`` writes beside ``X.json``.
STACKS_SUFFIX = ".stacks.json"


@dataclass
class ProfileState:
    """The session's profiles: where they go, where they are staged, which were recorded."""

    out_dir: Path
    #: DIR as given on the command line, for the lines that say where the profiles went.
    shown: str
    #: Made on first use, so that a pytest that restarts itself under the preload (an
    #: exec, which runs no cleanup) leaves none behind.
    staging: "Optional[tempfile.TemporaryDirectory[str]]" = None
    #: benchmark id → its staged run document.
    recorded: Dict[str, Path] = field(default_factory=dict)


_STATE = pytest.StashKey[Optional[ProfileState]]()


def sanitize_id(fullname: str) -> str:
    """A file-name stem for a benchmark id (``t.py::test_x[1]`` → ``t.py__test_x_1_``),
    the same as pytest-benchmem's."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", fullname)


def configure(config: pytest.Config) -> None:
    """Arm ``--benchmark-memory-profile`` for the session; a usage error for
    ``--benchmark-memory-profile-native`` without it."""
    out = options.profile_dir(config)
    if out is None:
        if options.profile_native(config):
            raise pytest.UsageError(
                "--benchmark-memory-profile-native needs --benchmark-memory-profile=DIR: "
                "there is no profile to record native frames into"
            )
        config.stash[_STATE] = None
        return
    if out.exists() and not out.is_dir():
        raise pytest.UsageError(f"--benchmark-memory-profile={out}: not a directory")
    config.stash[_STATE] = ProfileState(out, str(config.getoption("benchmark_memory_profile")))


def record_path(config: pytest.Config, fullname: str) -> Optional[Path]:
    """Where the memory pass of benchmark ``fullname`` saves its run, when profiling
    (None otherwise)."""
    st = config.stash.get(_STATE, None)
    if st is None:
        return None
    if st.staging is None:
        st.staging = tempfile.TemporaryDirectory(prefix="benchmem-profile-")
    path = Path(st.staging.name) / f"{sanitize_id(fullname)}.json"
    st.recorded[fullname] = path
    return path


def _stacks_of(run: Path) -> Path:
    return run.with_name(run.name[: -len(".json")] + STACKS_SUFFIX)


def save(config: pytest.Config, write: Callable[[str], None], ids: Optional[Sequence[str]] = None) -> None:
    """Copy the staged profiles (of ``ids``, or every one) into DIR and say how to read them."""
    st = config.stash.get(_STATE, None)
    if st is None:
        return
    saved: List[Path] = []
    for fullname in st.recorded if ids is None else ids:
        src = st.recorded.get(fullname)
        if src is None or not src.is_file() or not _stacks_of(src).is_file():
            continue
        st.out_dir.mkdir(parents=True, exist_ok=True)
        dest = st.out_dir / src.name
        # The stack data first: a run whose sidecar is missing is refused, never misread.
        shutil.copyfile(_stacks_of(src), _stacks_of(dest))
        shutil.copyfile(src, dest)
        saved.append(Path(st.shown) / src.name)
    if saved:
        write(f"benchmem: saved {len(saved)} memory profile(s) to {st.shown} \u2014 render with:")
        for dest in saved:
            write(f"    benchmem where {dest}")
        write(f"    or: benchmem flamegraph {st.shown} --worst peak --open")


def unconfigure(config: pytest.Config) -> None:
    """Drop the staging directory."""
    st = config.stash.get(_STATE, None)
    if st is not None and st.staging is not None:
        st.staging.cleanup()
        config.stash[_STATE] = None
