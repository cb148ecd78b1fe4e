//! The C++ adapter (include/benchmem.hpp): RAII regions, and a real Google Benchmark
//! (Debian's libbenchmark-dev, 1.7.1) whose MemoryManager is benchmem's, checked in Google
//! Benchmark's own JSON and in benchmem's blob.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use benchmem_tests::{Series, compile, measure, native, root};
use serde_json::Value;

const MIB: u64 = 1 << 20;
/// Google Benchmark runs min(16, iterations) iterations between Start() and Stop().
const MEMORY_ITERATIONS: u64 = 16;
/// What Google Benchmark 1.7.1 itself allocates between Start() and Stop(): the memory
/// run's ThreadManager, one block of 400 bytes, live until just before Stop(). Measured
/// (the empty benchmark below reports exactly this), not corrected for.
const HARNESS_BYTES: u64 = 400;
const HARNESS_ALLOCS: u64 = 1;

/// Builds `tests/programs/<name>` with g++ against the system's Google Benchmark, with
/// warnings as errors (the header must compile cleanly), once per test process.
fn compile_gbench(name: &str) -> PathBuf {
    let header = Path::new("/usr/include/benchmark/benchmark.h");
    assert!(
        header.is_file(),
        "{} missing: install Debian's libbenchmark-dev (scripts/test does)",
        header.display()
    );
    let exe = std::env::current_exe().unwrap();
    let dir = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("test-programs");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(Path::new(name).file_stem().unwrap());
    static BUILT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if built.contains(&out) {
        return out;
    }
    // Other test processes may be running the program: build aside, rename into place.
    let tmp = out.with_extension(format!("tmp{}", std::process::id()));
    let status = Command::new("g++")
        .args([
            "-std=c++17",
            "-O0",
            "-g",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pthread",
        ])
        .arg("-I")
        .arg(root().join("include"))
        .arg(root().join("tests/programs").join(name))
        .arg("-o")
        .arg(&tmp)
        .arg("-lbenchmark")
        .status()
        .expect("cannot run g++");
    assert!(status.success(), "g++ failed on {name}");
    std::fs::rename(&tmp, &out).unwrap();
    built.push(out.clone());
    out
}

/// Google Benchmark's JSON report (its standard output) by run: name -> run objects.
fn gb_runs(stdout: &str) -> Vec<Value> {
    let doc: Value = serde_json::from_str(stdout)
        .unwrap_or_else(|e| panic!("Google Benchmark's JSON does not parse ({e}): {stdout}"));
    doc["benchmarks"].as_array().unwrap().clone()
}

fn gb_run<'a>(runs: &'a [Value], name: &str) -> Vec<&'a Value> {
    let found: Vec<&Value> = runs
        .iter()
        .filter(|r| r["name"] == name && r["run_type"] == "iteration")
        .collect();
    assert!(!found.is_empty(), "no run {name} in {runs:?}");
    found
}

/// The memory figures Google Benchmark reported for one run:
/// (allocs_per_iter, max_bytes_used, total_allocated_bytes, net_heap_growth).
fn gb_memory(run: &Value) -> (f64, u64, u64, u64) {
    assert!(
        run["iterations"].as_u64().unwrap() >= MEMORY_ITERATIONS,
        "fewer timed iterations than the memory run assumes: {run}"
    );
    (
        run["allocs_per_iter"].as_f64().unwrap(),
        run["max_bytes_used"].as_u64().unwrap(),
        run["total_allocated_bytes"].as_u64().unwrap(),
        run["net_heap_growth"].as_u64().unwrap(),
    )
}

/// A benchmark's expected sample: its own (peak, total, allocations, retained) over the
/// memory run plus the harness's block, live throughout the run and freed before Stop().
fn with_harness(peak: u64, total: u64, allocs: u64, retained: u64) -> (u64, u64, u64, u64) {
    (
        peak + HARNESS_BYTES,
        total + HARNESS_BYTES,
        allocs + HARNESS_ALLOCS,
        retained,
    )
}

fn gb_view((peak, total, allocs, retained): (u64, u64, u64, u64)) -> (f64, u64, u64, u64) {
    (
        allocs as f64 / MEMORY_ITERATIONS as f64,
        peak,
        total,
        retained,
    )
}

#[test]
fn google_benchmark_reports_benchmems_figures() {
    let prog = compile_gbench("gbench_memory.cpp");
    let (out, blob, _d) = measure(
        &[],
        &prog,
        &["--benchmark_format=json", "--benchmark_min_time=0.01"],
    );
    assert_eq!(out.code(), 0, "{out:?}");
    let runs = gb_runs(&out.stdout);
    let n = MEMORY_ITERATIONS;
    // (Google Benchmark's name, benchmem's row, the benchmark's own sample)
    let cases = [
        // 1 MiB allocated and freed per iteration.
        ("BM_alloc_1mib", "BM_alloc_1mib", (MIB, n * MIB, n, 0)),
        // Nothing: the harness's block alone.
        ("BM_nothing", "BM_nothing", (0, 0, 0, 0)),
        // 100 bytes per iteration, all still live at Stop(); named from its body.
        (
            "BM_named_in_body",
            "named_in_body",
            (n * 100, n * 100, n, n * 100),
        ),
        // 10 bytes allocated and freed per iteration; never named.
        ("BM_unnamed", "benchmark#1", (10, n * 10, n, 0)),
    ];
    for (gb_name, row, (peak, total, allocs, retained)) in cases {
        let expected = with_harness(peak, total, allocs, retained);
        let run = gb_run(&runs, gb_name);
        assert_eq!(run.len(), 1, "{gb_name}");
        assert_eq!(
            gb_memory(run[0]),
            gb_view(expected),
            "{gb_name} in Google Benchmark's JSON"
        );
        assert_eq!(
            blob.series(row),
            Series::of(1, expected),
            "{row} in benchmem's blob"
        );
    }
    assert_eq!(
        gb_memory(gb_run(&runs, "BM_alloc_1mib")[0]),
        (1.0625, 1_048_976, 16_777_616, 0),
        "the documented figures"
    );
    assert_eq!(
        blob.names(),
        [
            "gbench_memory",
            "BM_alloc_1mib",
            "BM_nothing",
            "named_in_body",
            "benchmark#1"
        ],
        "one row per benchmark after the process's root row"
    );
    assert!(blob.is_clean(), "{:?}", blob.json);
}

/// Each repetition has its own memory run: one sample per repetition, the same row.
#[test]
fn repetitions_are_samples_of_one_row() {
    let prog = compile_gbench("gbench_memory.cpp");
    let (out, blob, _d) = measure(
        &[],
        &prog,
        &[
            "--benchmark_format=json",
            "--benchmark_min_time=0.01",
            "--benchmark_repetitions=3",
            "--benchmark_filter=BM_alloc_1mib|BM_unnamed",
        ],
    );
    assert_eq!(out.code(), 0, "{out:?}");
    let n = MEMORY_ITERATIONS;
    let alloc = with_harness(MIB, n * MIB, n, 0);
    assert_eq!(blob.series("BM_alloc_1mib"), Series::of(3, alloc));
    let runs = gb_runs(&out.stdout);
    let reps = gb_run(&runs, "BM_alloc_1mib");
    assert_eq!(reps.len(), 3);
    // Only the last repetition: before 1.9.2 Google Benchmark keeps its results in a
    // vector and reports the earlier ones through pointers the vector's growth left
    // dangling (its JSON shows garbage for them, with or without benchmem).
    assert_eq!(gb_memory(reps[2]), gb_view(alloc));
    // Unnamed memory runs are numbered in order: one row each.
    let unnamed = with_harness(10, n * 10, n, 0);
    for row in ["benchmark#1", "benchmark#2", "benchmark#3"] {
        assert_eq!(blob.series(row), Series::of(1, unnamed), "{row}");
    }
}

/// Without benchmem the suite runs as usual; Google Benchmark's memory fields keep their
/// defaults (0, and the byte totals "not available", so absent from its JSON).
#[test]
fn google_benchmark_without_benchmem() {
    let prog = compile_gbench("gbench_memory.cpp");
    let out = native(
        &prog,
        &[
            "--benchmark_format=json",
            "--benchmark_min_time=0.01",
            "--benchmark_filter=BM_alloc_1mib",
        ],
    );
    assert_eq!(out.code(), 0, "{out:?}");
    let runs = gb_runs(&out.stdout);
    let run = gb_run(&runs, "BM_alloc_1mib")[0];
    assert_eq!(run["allocs_per_iter"].as_f64(), Some(0.0));
    assert_eq!(run["max_bytes_used"].as_u64(), Some(0));
    assert!(run.get("total_allocated_bytes").is_none(), "{run}");
}

#[test]
fn raii_regions() {
    let prog = compile("cxx_region.cpp", &["-Wall", "-Wextra", "-Werror"]);
    let (out, blob, _d) = measure(&[], &prog, &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    // std::vector<int>(1000): one block of 4000 bytes, freed inside the region.
    assert_eq!(
        out.stdout,
        "active 1\nvector 1 4000 4000 1 0\nended 1 1 open 0\n"
    );
    assert_eq!(blob.series("vector"), Series::of(1, (4000, 4000, 1, 0)));
    // malloc(123), free, malloc(77) kept past the scope's end.
    assert_eq!(blob.series("scoped"), Series::of(1, (123, 200, 2, 77)));
    assert_eq!(blob.series("empty"), Series::of(1, (0, 0, 0, 0)));

    let alone = native(&prog, &[]);
    assert_eq!(alone.code(), 0, "{alone:?}");
    assert_eq!(
        alone.stdout,
        "active 0\nvector 0 0 0 0 0\nended 0 0 open 0\n"
    );
}
