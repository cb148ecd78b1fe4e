"""Shared helpers: run real pytest + pytest-benchmark in a subprocess, in a temp dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from pytest_benchmem.locate import find_preload

# Fast timing: one round, no calibration budget to speak of. Memory is what we check.
FAST = [
    "--benchmark-min-rounds=1",
    "--benchmark-max-time=0.000001",
    "--benchmark-warmup=off",
    "-p",
    "no:cacheprovider",
]


@pytest.fixture(scope="session")
def preload() -> Path:
    path = find_preload()
    if path is None or not path.is_file():
        pytest.fail(
            "libbenchmem_preload.so not found: install the package (pip install ./python), "
            "build it (cargo build -p benchmem-preload) or set BENCHMEM_PRELOAD"
        )
    return path


def clean_env(**extra: str) -> Dict[str, str]:
    """The environment of a fresh pytest: not under the preload, no restart marker."""
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "BENCHMEM_PYTEST_RESTARTED")}
    env.update(extra)
    return env


@dataclass
class Run:
    rc: int
    out: str
    err: str
    dir: Path

    @property
    def json(self) -> Dict[str, Any]:
        data: Dict[str, Any] = json.loads((self.dir / "run.json").read_text())
        return data

    def bench(self, name: str) -> Dict[str, Any]:
        for b in self.json["benchmarks"]:
            if b["name"] == name:
                return b  # type: ignore[no-any-return]
        raise AssertionError(f"{name} not in run.json: {[b['name'] for b in self.json['benchmarks']]}")

    def blob(self, name: str) -> Dict[str, List[int]]:
        blob: Dict[str, List[int]] = self.bench(name)["extra_info"]["benchmem"]
        return blob

    def lines(self, needle: str) -> List[str]:
        return [line for line in self.out.splitlines() if needle in line]


class Suite:
    """Writes test files into a temp dir and runs pytest there in a subprocess."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, name: str, source: str) -> Path:
        p = self.path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(source))
        return p

    def pytest(self, *args: str, env: Optional[Dict[str, str]] = None, fast: bool = True, timeout: float = 600) -> Run:
        cmd = [sys.executable, "-m", "pytest", *(FAST if fast else []), *args]
        return self.run(cmd, env=env, timeout=timeout)

    def run(self, cmd: List[str], env: Optional[Dict[str, str]] = None, timeout: float = 600) -> Run:
        proc = subprocess.run(
            cmd,
            cwd=self.path,
            env=clean_env() if env is None else env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            timeout=timeout,
        )
        return Run(proc.returncode, proc.stdout, proc.stderr, self.path)


@pytest.fixture
def suite(tmp_path: Path, preload: Path) -> Suite:
    return Suite(tmp_path)
