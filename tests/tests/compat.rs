//! A blob written by `benchmem run --json` is a pytest-benchmark document: its own
//! `pytest-benchmark compare` reads it (pytest-benchmark installed by scripts/test).

use std::process::Command;
use std::time::Duration;

use benchmem_tests::{compile, measure, python, run_limited};

#[test]
fn pytest_benchmark_compare_reads_benchmem_run_json() {
    let prog = compile("alloc_api.c", &[]);
    let (out, blob, dir) = measure(&["--repeats", "2"], &prog, &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    let path = dir.path().join("run.json");
    // Its structure is pytest-benchmark's.
    for key in [
        "machine_info",
        "commit_info",
        "benchmarks",
        "datetime",
        "version",
    ] {
        assert!(blob.json.get(key).is_some(), "missing {key}");
    }
    let stats = &blob.bench("malloc")["stats"];
    assert_eq!(stats["rounds"], 2, "{stats}");
    assert!(stats["min"].as_f64().unwrap() > 0.0, "{stats}");

    let py = python();
    let compare = run_limited(
        Command::new(&py)
            .args(["-c", "import sys; from pytest_benchmark.cli import main; sys.argv[0] = 'pytest-benchmark'; main()"])
            .arg("compare")
            .arg(&path),
        Duration::from_secs(60),
    );
    assert_eq!(
        compare.code(),
        0,
        "pytest-benchmark compare failed with {}: {compare:?}",
        py.display()
    );
    // Its table lists our regions by name.
    for region in ["realloc_grow", "posix_memalign", "mmap"] {
        assert!(
            compare.stdout.contains(region),
            "{region} missing from:\n{}",
            compare.stdout
        );
    }
}
