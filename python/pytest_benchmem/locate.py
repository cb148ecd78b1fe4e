"""Where the preload library and the ``benchmem`` binary are.

Search order:
1. ``BENCHMEM_PRELOAD`` (the preload) / ``BENCHMEM_BIN`` (the binary), when set;
2. the copies bundled in the installed package (``pytest_benchmem/_bin/``);
3. in a source checkout (editable install, ``PYTHONPATH=python``), the Cargo target
   directories of the workspace: ``$CARGO_TARGET_DIR`` then ``<repo>/target``,
   release before debug.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Iterator, Mapping, Optional

PRELOAD_NAME = "libbenchmem_preload.so"
BIN_NAME = "benchmem"
ENV_PRELOAD = "BENCHMEM_PRELOAD"
ENV_BIN = "BENCHMEM_BIN"

PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLE_DIR = PACKAGE_DIR / "_bin"


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


def _find(env: str, filename: str) -> Optional[Path]:
    override = os.environ.get(env)
    if override:
        return Path(override)
    bundled = BUNDLE_DIR / filename
    if bundled.is_file():
        return bundled
    for cand in _workspace_candidates(filename):
        if cand.is_file():
            return cand
    return None


def find_preload() -> Optional[Path]:
    """The preload library to use, or None when none is known. ``BENCHMEM_PRELOAD`` wins
    even when it names a missing file (the caller reports that)."""
    return _find(ENV_PRELOAD, PRELOAD_NAME)


def find_binary() -> Optional[Path]:
    """The ``benchmem`` command-line binary, or None."""
    return _find(ENV_BIN, BIN_NAME)


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
    return (
        "benchmem: cannot find libbenchmem_preload.so (looked at $BENCHMEM_PRELOAD, the "
        "package's _bin/ and the Cargo target directories); reinstall benchmem with "
        "`pip install benchmem` on a machine with cargo, or set BENCHMEM_PRELOAD"
    )
