//! Which Python interpreter the end-to-end tests run: one rule, shared by this harness
//! (`benchmem_tests::python`) and the cli's tests (`cli/tests/common/mod.rs` includes this
//! file), so both find the same interpreter.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A Python interpreter binary (not a shell shim): `BENCHMEM_TEST_PYTHON`, else the
/// repository's `.venv` (scripts/test makes it, with pytest and pytest-benchmark), else
/// `python3` on PATH resolved to its real executable. Fails, saying so, when there is none.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("BENCHMEM_TEST_PYTHON") {
        let p = PathBuf::from(p);
        assert!(
            p.exists(),
            "BENCHMEM_TEST_PYTHON={} does not exist: point it at a Python with pytest and \
             pytest-benchmark, or unset it to use the repository's .venv (scripts/test makes it)",
            p.display()
        );
        return p;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root");
    let venv = root.join(".venv/bin/python");
    if venv.exists() {
        return venv;
    }
    match Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
    {
        Ok(out) if out.status.success() => {
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
        }
        _ => panic!(
            "no Python for the tests: set BENCHMEM_TEST_PYTHON, run scripts/test (it makes \
             .venv with pytest and pytest-benchmark), or put python3 on PATH"
        ),
    }
}
