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
from typing import Iterator, Optional

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
