//! The asv adapter (python/asv_bench_benchmem): a real `asv run` on a small project
//! (tests/programs/asv_project) whose `benchmem_*` benchmarks have exact answers, read
//! from asv's own results file. asv, asv_runner and the plugin are installed in the test
//! interpreter's environment by scripts/test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use benchmem_tests::{Blob, Outcome, Series, benchmem, python, root, run_limited};
use serde_json::Value;

/// A git checkout of the asv project in a temporary directory (asv reads the commit),
/// with a private HOME holding asv's machine description.
fn project() -> tempfile::TempDir {
    let check = Command::new(python())
        .args(["-c", "import asv, asv_runner, asv_bench_benchmem"])
        .output()
        .expect("cannot run the test interpreter");
    assert!(
        check.status.success(),
        "asv or asv_bench_benchmem missing from {} (scripts/test installs them): {}",
        python().display(),
        String::from_utf8_lossy(&check.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let src = root().join("tests/programs/asv_project");
    copy_tree(&src, dir.path());
    std::fs::create_dir(dir.path().join("home")).unwrap();
    for args in [
        &["init", "-q"][..],
        &["add", "-A"],
        &[
            "-c",
            "user.name=benchmem",
            "-c",
            "user.email=benchmem@localhost",
            "commit",
            "-q",
            "-m",
            "benchmarks",
        ],
    ] {
        let ok = in_project(dir.path(), Command::new("git").args(args))
            .status()
            .expect("git missing");
        assert!(ok.success(), "git {args:?} failed");
    }
    let out = run_limited(
        in_project(
            dir.path(),
            Command::new(python()).args(["-m", "asv", "machine", "--yes", "--machine", "testbox"]),
        ),
        Duration::from_secs(120),
    );
    assert!(out.status.success(), "asv machine failed: {out:?}");
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() == "__pycache__" {
                continue;
            }
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn in_project<'a>(dir: &Path, cmd: &'a mut Command) -> &'a mut Command {
    cmd.current_dir(dir)
        .env("HOME", dir.join("home"))
        .env("BENCHMEM_BIN", benchmem())
        .env_remove("LD_PRELOAD")
}

/// `asv run` on the current commit with this interpreter, no environment building.
fn asv_run_args(dir: &Path) -> Vec<String> {
    let head = Command::new("git")
        .current_dir(dir)
        .args(["rev-parse", "HEAD"])
        .output()
        .unwrap();
    let head = String::from_utf8(head.stdout).unwrap().trim().to_string();
    [
        "-m",
        "asv",
        "run",
        "--python=same",
        "--machine",
        "testbox",
        "--quick",
        "--show-stderr",
        "--set-commit-hash",
        &head,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// asv's results: benchmark name -> its list of results (one per parameter value).
fn asv_results(dir: &Path) -> (Value, Value) {
    let machine = dir.join("results/testbox");
    let file: PathBuf = std::fs::read_dir(&machine)
        .unwrap_or_else(|e| panic!("{}: {e}", machine.display()))
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap() != "machine.json")
        .expect("asv saved no results");
    // Python's json writes NaN and Infinity into timing statistics; JSON has neither.
    let text = std::fs::read_to_string(file)
        .unwrap()
        .replace("-Infinity", "null")
        .replace("Infinity", "null")
        .replace("NaN", "null");
    let results: Value = serde_json::from_str(&text).unwrap();
    let benchmarks: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("results/benchmarks.json")).unwrap(),
    )
    .unwrap();
    (results, benchmarks)
}

fn result_of(results: &Value, name: &str) -> Vec<u64> {
    let col = results["result_columns"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c == "result")
        .unwrap();
    results["results"][name][col]
        .as_array()
        .unwrap_or_else(|| panic!("no result for {name}: {results}"))
        .iter()
        .map(|v| {
            v.as_u64()
                .unwrap_or_else(|| panic!("{name}: not a count: {v}"))
        })
        .collect()
}

/// The answers by construction: (benchmark, asv type, unit, results).
fn expected() -> Vec<(&'static str, &'static str, &'static str, Vec<u64>)> {
    vec![
        // bytearray(10**6): the buffer and CPython's trailing NUL; peak (the default).
        (
            "bench.benchmem_bytearray",
            "memory",
            "bytes",
            vec![1_000_001],
        ),
        ("bench.benchmem_nothing", "memory", "bytes", vec![0]),
        // Two bytearray(n), n = 10**4 and 10**5; allocated; setup's buffer not counted.
        (
            "bench.Sizes.benchmem_two_buffers",
            "memory",
            "bytes",
            vec![2 * 10_001, 2 * 100_001],
        ),
        // Three bytearray(1000); allocations.
        (
            "bench.Counts.benchmem_three",
            "track",
            "allocations",
            vec![3],
        ),
        // bytearray(5000) returned; retained.
        (
            "bench.Kept.benchmem_returned",
            "memory",
            "bytes",
            vec![5001],
        ),
    ]
}

fn check_asv(out: &Outcome, dir: &Path) {
    assert_eq!(out.code(), 0, "{out:?}");
    let (results, benchmarks) = asv_results(dir);
    for (name, kind, unit, values) in expected() {
        assert_eq!(result_of(&results, name), values, "{name}");
        assert_eq!(benchmarks[name]["type"], kind, "{name}");
        assert_eq!(benchmarks[name]["unit"], unit, "{name}");
    }
    // asv's own benchmark types are untouched.
    assert_eq!(benchmarks["bench.time_ordinary"]["type"], "time");
}

/// Plain `asv run`: each benchmem_* benchmark is measured in a child started under
/// `benchmem run`.
#[test]
fn asv_run_measures_in_a_child_under_benchmem() {
    let dir = project();
    let mut cmd = Command::new(python());
    in_project(dir.path(), cmd.args(asv_run_args(dir.path())));
    let out = run_limited(&mut cmd, Duration::from_secs(300));
    check_asv(&out, dir.path());
}

/// `benchmem run -- asv run`: measured in asv's own benchmark processes, which are
/// already under the preload, and each benchmark is also a row of benchmem's table.
#[test]
fn asv_under_benchmem_measures_in_process() {
    let dir = project();
    let json = dir.path().join("run.json");
    let mut cmd = Command::new(benchmem());
    cmd.args(["run", "--json", json.to_str().unwrap(), "--"])
        .arg(python())
        .args(asv_run_args(dir.path()));
    in_project(dir.path(), &mut cmd);
    let out = run_limited(&mut cmd, Duration::from_secs(300));
    check_asv(&out, dir.path());
    let blob = Blob::read(&json);
    // (peak, allocated, allocations, retained) of each body.
    let rows = [
        ("bench.benchmem_bytearray", (1_000_001, 1_000_001, 1, 0)),
        ("bench.benchmem_nothing", (0, 0, 0, 0)),
        (
            "bench.Sizes.benchmem_two_buffers(10000)",
            (20_002, 20_002, 2, 0),
        ),
        (
            "bench.Sizes.benchmem_two_buffers(100000)",
            (200_002, 200_002, 2, 0),
        ),
        ("bench.Counts.benchmem_three", (3003, 3003, 3, 3003)),
        ("bench.Kept.benchmem_returned", (5001, 5001, 1, 5001)),
    ];
    for (name, sample) in rows {
        assert_eq!(blob.series(name), Series::of(1, sample), "{name}");
        assert!(blob.incomplete(name).is_empty(), "{name}");
    }
}
