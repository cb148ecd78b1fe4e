"""Where the ``benchmem`` binary and the preload library are.

The wheel installs the ``benchmem`` binary into the environment's scripts directory
(``bin/`` of a venv, ``~/.local/bin`` for ``pip install --user``). The binary carries the
preload library inside itself and writes it out once to the user's cache
(``~/.cache/benchmem/<hash>/``) when first needed; ``benchmem preload-path`` says where.

The binary, in this order:

1. ``BENCHMEM_BIN``, when set;
2. the one installed with this package (read from the distribution's file list, so any
   install scheme works, and a ``benchmem`` of another environment is never taken);
3. in a source checkout (``PYTHONPATH=python``, an editable install), the Cargo target
   directories of the workspace: ``$CARGO_TARGET_DIR`` then ``<repo>/target``, release
   before debug.

The preload, in this order:

1. ``BENCHMEM_PRELOAD``, when set;
2. the one this process has loaded already (it runs under ``benchmem run``);
3. what the binary above answers to ``benchmem preload-path``;
4. in a source checkout, a preload in the Cargo target directories.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path
from typing import Dict, Iterator, Mapping, Optional, Tuple

PRELOAD_NAME = "libbenchmem_preload.so"
BIN_NAME = "benchmem"
DISTRIBUTION = "benchmem"
ENV_PRELOAD = "BENCHMEM_PRELOAD"
ENV_BIN = "BENCHMEM_BIN"

PACKAGE_DIR = Path(__file__).resolve().parent


def _workspace_candidates(filename: str) -> Iterator[Path]:
    repo = PACKAGE_DIR.parent.parent
    if not (repo / "Cargo.toml").is_file():
        return
    roots = []
    env_target = os.environ.get("CARGO_TARGET_DIR")
    if env_target:
        roots.append(Path(env_target))
    roots.append(repo / "target")
    for root in roots:
        for profile in ("release", "debug"):
            yield root / profile / filename


def _in_workspace(filename: str) -> Optional[Path]:
    return next((c for c in _workspace_candidates(filename) if c.is_file()), None)


@functools.lru_cache(maxsize=None)
def _installed_binary() -> Optional[Path]:
    """The binary the wheel that holds this very module installed, if any."""
    from importlib import metadata

    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None
    files = dist.files or []
    here = Path(__file__).resolve()
    # Another copy of the package may come first on sys.path (a source checkout on
    # PYTHONPATH while a wheel is installed): that binary is not ours.
    if not any(f.name == "locate.py" and Path(str(dist.locate_file(f))).resolve() == here for f in files):
        return None
    for f in files:
        if f.name == BIN_NAME and len(f.parts) >= 2 and f.parts[-2] == "bin":
            path = Path(str(dist.locate_file(f))).resolve()
            if path.is_file():
                return path
    return None


def find_binary() -> Optional[Path]:
    """The ``benchmem`` command-line binary, or None. ``BENCHMEM_BIN`` wins even when it
    names a missing file (the caller reports that)."""
    override = os.environ.get(ENV_BIN)
    if override:
        return Path(override)
    return _installed_binary() or _in_workspace(BIN_NAME)


def _loaded_preload() -> Optional[Path]:
    """The preload this process runs under, as the loader mapped it."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                path = line.rstrip("\n").split(maxsplit=5)[-1]
                if path.endswith("/" + PRELOAD_NAME):
                    return Path(path)
    except OSError:
        pass
    return None


@functools.lru_cache(maxsize=None)
def _ask_binary(binary: Path, cache_env: Tuple[Optional[str], Optional[str]]) -> Tuple[Optional[Path], str]:
    """``benchmem preload-path``: the path, or None and why not. ``cache_env`` (HOME and
    XDG_CACHE_HOME, which decide where the binary writes the preload) keys the cache."""
    # The binary must not itself run under a preload or report into a run of ours.
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "BENCHMEM_DIR", ENV_PRELOAD)}
    try:
        proc = subprocess.run(
            [str(binary), "preload-path"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError) as e:
        return None, f"cannot run {binary}: {e}"
    if proc.returncode != 0:
        return None, proc.stderr.strip() or f"{binary} preload-path exited with status {proc.returncode}"
    return Path(proc.stdout.strip()), ""


def _from_binary() -> Tuple[Optional[Path], str]:
    binary = find_binary()
    if binary is None or not binary.is_file():
        return None, ""
    found, why = _ask_binary(binary, (os.environ.get("HOME"), os.environ.get("XDG_CACHE_HOME")))
    if found is not None and not found.is_file():
        # Removed since it was asked for: ask again, the binary writes it anew.
        _ask_binary.cache_clear()
        found, why = _ask_binary(binary, (os.environ.get("HOME"), os.environ.get("XDG_CACHE_HOME")))
    return found, why


def find_preload() -> Optional[Path]:
    """The preload library to use, or None when none is known. ``BENCHMEM_PRELOAD`` wins
    even when it names a missing file (the caller reports that)."""
    override = os.environ.get(ENV_PRELOAD)
    if override:
        return Path(override)
    return _loaded_preload() or _from_binary()[0] or _in_workspace(PRELOAD_NAME)


def preloaded_environ(preload: Path, base: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """``base`` (default: this process's environment) with ``preload`` first in
    ``LD_PRELOAD``, as ``benchmem run`` does: a preloaded allocator stays the one the
    hooks call through to, instead of taking malloc away from them."""
    env = dict(os.environ if base is None else base)
    existing = env.get("LD_PRELOAD", "").strip()
    env["LD_PRELOAD"] = f"{preload}:{existing}" if existing else str(preload)
    return env


def missing_preload_message() -> Optional[str]:
    """Why no preload can be used (one line), or None when one is found."""
    found = find_preload()
    if found is not None and found.is_file():
        return None
    if os.environ.get(ENV_PRELOAD):
        return (
            f"benchmem: {ENV_PRELOAD}={os.environ[ENV_PRELOAD]} does not exist; point it at "
            "libbenchmem_preload.so or unset it to use the one installed with benchmem"
        )
    binary = find_binary()
    if binary is not None and binary.is_file():
        _, why = _from_binary()
        return f"benchmem: {binary} could not give its preload library: {why}"
    return (
        "benchmem: cannot find the benchmem binary, which carries libbenchmem_preload.so "
        f"(looked at ${ENV_BIN}, the files of the installed {DISTRIBUTION} distribution and "
        f"the Cargo target directories of a source checkout); reinstall with `pip install "
        f"{DISTRIBUTION}`, or set {ENV_PRELOAD}"
    )
