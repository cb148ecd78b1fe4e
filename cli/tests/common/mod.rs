//! Shared helpers for the end-to-end tests: the built binary, and saved runs made by the
//! real pytest-benchmark (in the venv named by BENCHMEM_TEST_PYTHON).
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::{Value, json};

// The Python interpreter that has pytest and pytest-benchmark: the same rule as the
// end-to-end harness (BENCHMEM_TEST_PYTHON, else the repository's .venv, else python3).
#[path = "../../../tests/src/python.rs"]
mod python_rule;
pub use python_rule::python;

/// Result of one benchmem invocation.
pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
    pub fn err_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }
}

fn finish(out: Output) -> Run {
    Run {
        status: out.status.code().expect("benchmem was killed by a signal"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

/// Run the built `benchmem` with a clean colour environment, in `dir`.
pub fn benchmem_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_benchmem"));
    c.args(args).current_dir(dir);
    // Tests see the same output wherever they run: no colour, no terminal width, no CI.
    for k in [
        "NO_COLOR",
        "CLICOLOR",
        "CLICOLOR_FORCE",
        "RUST_BACKTRACE",
        "COLUMNS",
        "GITHUB_ACTIONS",
    ] {
        c.env_remove(k);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    let run = finish(c.output().expect("benchmem runs"));
    assert!(
        !run.stderr.contains("panicked"),
        "benchmem panicked: {}",
        run.stderr
    );
    run
}

/// `benchmem` in the shared fixture directory, 200 columns wide: the tests of what a
/// table says see it whole (those of how it fits a width set `COLUMNS` themselves).
pub fn benchmem(args: &[&str]) -> Run {
    benchmem_in(fixtures().dir.path(), args, &[("COLUMNS", "200")])
}

/// Memory blob with the same value on every repeat.
fn same(peak: u64, total: u64, allocs: u64, n: usize) -> Value {
    json!({"peak_bytes": vec![peak; n], "total_bytes": vec![total; n],
           "allocations": vec![allocs; n], "retained_bytes": vec![0; n]})
}

/// Saved runs of tests/fixtures/lists_suite.py (list of tuples vs list of dicts), made by
/// the real pytest-benchmark once per test binary:
/// - base.json, head.json: 4 benchmarks with memory, 3 repeats each (head: tuples[1000]
///   peak ×25.6; dicts[1000] peak +8% with every repeat above base's, allocations +1)
/// - noisy.json: like head but tuples[1000] as in base and dicts[1000]'s peak min +3%
///   with repeats overlapping base's (a plain 2% gate fails, a strict one passes)
/// - changed.json: tuples[10] removed, sets[10] added
/// - timeonly.json: plain pytest-benchmark, no memory
/// - other.json: only sets[10] (nothing in common with base)
pub struct Fixtures {
    pub dir: tempfile::TempDir,
}

pub fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(make_fixtures)
}

fn make_fixtures() -> Fixtures {
    let dir = tempfile::tempdir().expect("temp dir");
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lists_suite.py");
    std::fs::copy(&suite, dir.path().join("test_lists.py")).expect("copy suite");
    let base_mem = json!({
        "test_tuples[10]": same(1416, 1416, 11, 3),
        "test_tuples[1000]": same(85094, 120000, 1001, 3),
        "test_dicts[10]": same(2400, 2400, 11, 3),
        "test_dicts[1000]": {"peak_bytes": [100000, 104000, 102000],
            "total_bytes": [300000, 300000, 300000], "allocations": [2001, 2001, 2001],
            "retained_bytes": [0, 0, 0]},
        "test_sets[10]": same(3000, 3000, 21, 3),
    });
    let mut head_mem = base_mem.clone();
    head_mem["test_tuples[1000]"] = same(2181038, 2300000, 1001, 3);
    head_mem["test_dicts[1000]"] = json!({"peak_bytes": [108000, 112000, 110000],
        "total_bytes": [300000, 300000, 300000], "allocations": [2002, 2002, 2002],
        "retained_bytes": [0, 0, 0]});
    let mut noisy_mem = head_mem.clone();
    noisy_mem["test_tuples[1000]"] = base_mem["test_tuples[1000]"].clone();
    noisy_mem["test_dicts[1000]"]["peak_bytes"] = json!([103000, 110000, 106000]);
    let runs = [
        (
            "base",
            json!({"skip": ["test_sets[10]"], "memory": base_mem}),
        ),
        (
            "head",
            json!({"skip": ["test_sets[10]"], "memory": head_mem}),
        ),
        (
            "noisy",
            json!({"skip": ["test_sets[10]"], "memory": noisy_mem}),
        ),
        (
            "changed",
            json!({"skip": ["test_tuples[10]"], "memory": head_mem}),
        ),
        ("timeonly", json!({"skip": ["test_sets[10]"], "memory": {}})),
        (
            "other",
            json!({"skip": ["test_tuples[10]", "test_tuples[1000]", "test_dicts[10]",
                            "test_dicts[1000]"], "memory": base_mem}),
        ),
    ];
    for (name, fixture) in runs {
        let fx = dir.path().join(format!("{name}_fixture.json"));
        std::fs::write(&fx, fixture.to_string()).expect("write fixture");
        pytest_benchmark(dir.path(), &fx, &format!("{name}.json"));
    }
    Fixtures { dir }
}

/// Run the suite under pytest-benchmark, saving `out` in `dir`.
pub fn pytest_benchmark(dir: &Path, fixture: &Path, out: &str) {
    let o = Command::new(python())
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "test_lists.py",
            &format!("--benchmark-json={out}"),
            "--benchmark-min-rounds=3",
            "--benchmark-max-time=0.00001",
            "--benchmark-min-time=0.000001",
            "--benchmark-warmup=off",
        ])
        .env("BENCHMEM_FIXTURE", fixture)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(dir)
        .output()
        .expect("pytest runs");
    assert!(
        o.status.success(),
        "pytest-benchmark failed making {out}:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Path of a fixture file as a string.
pub fn path(name: &str) -> String {
    fixtures().dir.path().join(name).display().to_string()
}
