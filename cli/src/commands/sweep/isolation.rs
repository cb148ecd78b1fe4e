//! `--import-check MODULE`: that the suite imports the package under test from the venv.
//!
//! pytest-benchmem checks this with `python -c "import MODULE"` in the working directory
//! before pytest runs. pytest's own imports see another `sys.path`, though: it puts the
//! directory of each test module and conftest first (the first one upwards without an
//! `__init__.py`), so a dev copy of the package beside a copied conftest shadows the
//! installed one while that check passes. Here the check runs inside pytest instead, as a
//! small plugin, once collection (every test module and conftest imported) is done and
//! before the first test: it sees exactly what the suite sees, and still fails before
//! anything is measured.

use std::io;
use std::path::Path;
use std::process::Command;

/// The plugin's module, written into the venv's site-packages.
const MODULE: &str = "_benchmem_sweep_isolation";

/// The plugin. It reports a failure in the file `BENCHMEM_SWEEP_REPORT` names (so the
/// failure is told apart from the suite's own) and ends the session.
const PLUGIN: &str = r#""""benchmem sweep --import-check: where the suite's imports resolve the module."""

import importlib
import os

import pytest


def _inside(path, root):
    return path.startswith(root.rstrip(os.sep) + os.sep)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    name = os.environ["BENCHMEM_SWEEP_IMPORT_CHECK"]
    venv = os.environ["BENCHMEM_SWEEP_VENV"]
    try:
        found = getattr(importlib.import_module(name), "__file__", None) or ""
    except Exception as e:
        problem = f"cannot import {name} ({type(e).__name__}: {e})"
    else:
        if not found:
            problem = f"{name} has no file (a namespace package?), so it is not the venv's"
        elif _inside(os.path.abspath(found), os.path.abspath(venv)) or _inside(
            os.path.realpath(found), os.path.realpath(venv)
        ):
            return
        else:
            problem = f"{name} imports from {found}, not from the venv"
    with open(os.environ["BENCHMEM_SWEEP_REPORT"], "w", encoding="utf-8") as f:
        f.write(problem)
    pytest.exit("benchmem sweep --import-check: " + problem, returncode=3)
"#;

/// Write the plugin into the venv's `site_packages`.
pub(crate) fn install(site_packages: &Path) -> io::Result<()> {
    std::fs::write(site_packages.join(format!("{MODULE}.py")), PLUGIN)
}

/// Make the pytest run `cmd` check that `module` imports from `venv`, reporting to
/// `report`.
pub(crate) fn configure(cmd: &mut Command, module: &str, venv: &Path, report: &Path) {
    cmd.args(["-p", MODULE])
        .env("BENCHMEM_SWEEP_IMPORT_CHECK", module)
        .env("BENCHMEM_SWEEP_VENV", venv)
        .env("BENCHMEM_SWEEP_REPORT", report);
}

/// What the check found wrong, if it failed.
pub(crate) fn verdict(report: &Path) -> Option<String> {
    std::fs::read_to_string(report)
        .ok()
        .map(|s| s.trim().to_string())
}
