"""Build hook: compile the Rust preload and the `benchmem` binary with cargo and ship them
inside the package (``pytest_benchmem/_bin/``), so ``pip install ./python`` is the only
step. Metadata lives in pyproject.toml.

Environment:
  BENCHMEM_CARGO          cargo executable (default: `cargo` on PATH, then ~/.cargo/bin/cargo)
  BENCHMEM_CARGO_PROFILE  cargo profile, `release` (default) or `dev`
  BENCHMEM_SKIP_CARGO=1   build the Python package only (then set BENCHMEM_PRELOAD at run time)
  CARGO_TARGET_DIR        honoured as cargo does
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

from setuptools import setup
from setuptools.command.build_py import build_py

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70
    from wheel.bdist_wheel import bdist_wheel  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
WORKSPACE = HERE.parent
PACKAGES = {"benchmem-preload": "libbenchmem_preload.so", "benchmem": "benchmem"}


def _cargo() -> str:
    explicit = os.environ.get("BENCHMEM_CARGO")
    if explicit:
        return explicit
    found = shutil.which("cargo")
    if found:
        return found
    home = Path.home() / ".cargo" / "bin" / "cargo"
    if home.is_file():
        return str(home)
    raise SystemExit(
        "benchmem: building needs Rust's cargo (https://rustup.rs), which was not found on PATH "
        "or in ~/.cargo/bin; set BENCHMEM_CARGO, or BENCHMEM_SKIP_CARGO=1 to skip the native parts"
    )


def build_native() -> Dict[str, Path]:
    """Run cargo once for both packages; return {file name: built path}."""
    if not (WORKSPACE / "Cargo.toml").is_file():
        raise SystemExit(
            f"benchmem: no Cargo workspace at {WORKSPACE}; install from the benchmem source "
            "tree (`pip install ./python`), or set BENCHMEM_SKIP_CARGO=1"
        )
    profile = os.environ.get("BENCHMEM_CARGO_PROFILE", "release")
    cmd: List[str] = [_cargo(), "build", "--profile", profile, "--message-format=json-render-diagnostics"]
    for pkg in PACKAGES:
        cmd += ["-p", pkg]
    print("benchmem: " + " ".join(cmd), file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, cwd=WORKSPACE, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"benchmem: cargo build failed (exit {proc.returncode}); see the messages above")
    built: Dict[str, Path] = {}
    for line in proc.stdout.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("reason") != "compiler-artifact":
            continue
        target = msg.get("target", {})
        kinds = target.get("kind", [])
        if "cdylib" in kinds:
            for f in msg.get("filenames", []):
                if Path(f).name == PACKAGES["benchmem-preload"]:
                    built[Path(f).name] = Path(f)
        if "bin" in kinds and target.get("name") == "benchmem" and msg.get("executable"):
            built["benchmem"] = Path(msg["executable"])
    missing = [name for name in PACKAGES.values() if name not in built]
    if missing:
        raise SystemExit(f"benchmem: cargo did not report building {', '.join(missing)}")
    return built


class BuildPyWithCargo(build_py):
    def run(self) -> None:
        super().run()
        if os.environ.get("BENCHMEM_SKIP_CARGO") == "1":
            print("benchmem: BENCHMEM_SKIP_CARGO=1, not building the preload", file=sys.stderr)
            return
        built = build_native()
        dests = [Path(self.build_lib) / "pytest_benchmem" / "_bin"]
        if getattr(self, "editable_mode", False):
            # Editable installs import the package from the source tree.
            dests.append(HERE / "pytest_benchmem" / "_bin")
        for dest in dests:
            dest.mkdir(parents=True, exist_ok=True)
            for name, path in built.items():
                tmp = dest / (name + ".tmp")
                shutil.copy2(path, tmp)
                os.chmod(tmp, 0o755)
                os.replace(tmp, dest / name)


class PlatformWheel(bdist_wheel):
    """The wheel carries native binaries: tag it for this platform, any Python 3."""

    def finalize_options(self) -> None:
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self) -> tuple:  # type: ignore[type-arg]
        _, _, plat = super().get_tag()
        return "py3", "none", plat


setup(cmdclass={"build_py": BuildPyWithCargo, "bdist_wheel": PlatformWheel})
