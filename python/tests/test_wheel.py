"""The wheel, end to end, as a user gets it: ``pip wheel ./python`` (maturin, installed in
this interpreter's environment, so no index is needed), installed with no index into a
fresh venv, then used with an empty HOME and a PATH of that venv alone, so neither cargo
nor anything of the source tree can help: the region API measuring ``bytearray(10**6)``
under the installed ``benchmem``, without pytest importable, and a one-test
pytest-benchmark suite under ``--benchmark-memory``.

The wheels of the dependencies come from ``wheelhouse/`` in this interpreter's venv
(``BENCHMEM_TEST_WHEELHOUSE`` overrides), which scripts/test fills.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

import pytest

REPO = Path(__file__).resolve().parents[2]
WHEELHOUSE = Path(os.environ.get("BENCHMEM_TEST_WHEELHOUSE", str(Path(sys.prefix) / "wheelhouse")))


def workspace_version() -> str:
    """``[workspace.package] version`` of the Cargo workspace: the project's one version."""
    text = (REPO / "Cargo.toml").read_text()
    section = text.split("[workspace.package]", 1)[1].split("\n[", 1)[0]
    found = re.search(r'^version\s*=\s*"([^"]+)"', section, re.MULTILINE)
    assert found, "no version in [workspace.package] of Cargo.toml"
    return found.group(1)


def run(cmd: List[str], env: Dict[str, str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd} exited with {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


@dataclass
class Installed:
    wheel: Path
    venv: Path
    home: Path
    env: Dict[str, str]

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    if importlib.util.find_spec("maturin") is None:
        pytest.fail(f"maturin is not installed in {sys.prefix}: scripts/test installs it")
    if not list(WHEELHOUSE.glob("pytest_benchmark-*.whl")):
        pytest.fail(f"no dependency wheels in {WHEELHOUSE}: scripts/test makes them")
    tmp = tmp_path_factory.mktemp("wheel")

    # The build: this environment's maturin (its command must be on PATH) and cargo.
    build_env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("BENCHMEM_")}
    build_env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    wheels = tmp / "dist"
    run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-build-isolation", "--no-deps", str(REPO / "python"), "-w", str(wheels)],
        build_env,
        tmp,
    )
    built = list(wheels.glob("*.whl"))
    assert len(built) == 1, built

    # A fresh venv and a bare environment: no cargo, no ~/.cargo, no source tree.
    venv = tmp / "venv"
    run([sys.executable, "-m", "venv", str(venv)], build_env, tmp)
    home = tmp / "home"
    home.mkdir()
    path = str(venv / "bin")
    assert shutil.which("cargo", path=path) is None
    env = {"HOME": str(home), "PATH": path, "LANG": "C.UTF-8"}
    run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index", "--find-links", str(WHEELHOUSE), str(built[0])],
        env,
        tmp,
    )
    return Installed(built[0], venv, home, env)


def test_the_wheel_is_manylinux_and_carries_the_workspace_version(installed: Installed) -> None:
    version = workspace_version()
    assert re.fullmatch(
        rf"benchmem-{re.escape(version)}-py3-none-manylinux_2_\d+_{platform.machine()}\.whl", installed.wheel.name
    ), installed.wheel.name
    said = run([installed.bin("benchmem"), "--version"], installed.env, installed.home)
    assert said.stdout.strip() == f"benchmem {version}"
    code = "import pytest_benchmem, importlib.metadata as m; print(pytest_benchmem.__version__, m.version('benchmem'))"
    py = run([installed.bin("python"), "-c", code], installed.env, installed.home)
    assert py.stdout.split() == [version, version]


REGION = """
import sys
sys.modules["pytest"] = None  # region() must work where pytest cannot be imported
sys.modules["_pytest"] = None
from pytest_benchmem import region
with region("alloc") as r:
    data = bytearray(10**6)
print(r.stats.peak_bytes, r.stats.total_bytes, r.stats.allocations)
"""


def test_region_under_the_installed_binary_counts_exactly(installed: Installed) -> None:
    out = installed.home / "region.json"
    measured = run(
        [installed.bin("benchmem"), "run", "--json", str(out), "--", "python", "-c", REGION], installed.env, installed.home
    )
    assert measured.stdout.split() == ["1000001", "1000001", "1"], measured.stderr
    bench = next(b for b in json.loads(out.read_text())["benchmarks"] if b["name"] == "alloc")
    blob = bench["extra_info"]["benchmem"]
    assert (blob["peak_bytes"], blob["total_bytes"], blob["allocations"]) == ([1_000_001], [1_000_001], [1])

    # The binary wrote its preload out once, privately, into the user's cache, and the
    # package finds both without being told.
    cached = list((installed.home / ".cache" / "benchmem").glob("*/libbenchmem_preload.so"))
    assert len(cached) == 1, cached
    assert cached[0].stat().st_mode & 0o777 == 0o755
    assert cached[0].parent.stat().st_mode & 0o777 == 0o700
    found = run(
        [installed.bin("python"), "-c", "from pytest_benchmem.locate import *; print(find_binary()); print(find_preload())"],
        installed.env,
        installed.home,
    )
    assert found.stdout.split() == [installed.bin("benchmem"), str(cached[0])]


def test_pytest_benchmark_memory_in_the_fresh_venv(installed: Installed) -> None:
    suite = installed.home / "suite"
    suite.mkdir()
    (suite / "test_one.py").write_text(
        textwrap.dedent(
            """
            def test_bytearray(benchmark):
                benchmark(bytearray, 10**6)
            """
        )
    )
    done = run(
        [
            installed.bin("pytest"),
            "-q",
            "-p",
            "no:cacheprovider",
            "--benchmark-min-rounds=1",
            "--benchmark-max-time=0.000001",
            "--benchmark-warmup=off",
            "--benchmark-memory",
            "--benchmark-json=run.json",
        ],
        installed.env,
        suite,
    )
    assert "1 passed" in done.stdout, done.stdout
    bench = json.loads((suite / "run.json").read_text())["benchmarks"][0]
    blob = bench["extra_info"]["benchmem"]
    assert blob["peak_bytes"] and set(blob["peak_bytes"]) == {1_000_001}, blob
    assert set(blob["allocations"]) == {1}, blob
