//! The Rust adapter (the `benchmem-region` crate, bindings/rust): its region API, its
//! criterion measurements in a real criterion 0.5 run, and its use in a real divan
//! benchmark, each built from the crate's examples and run under `benchmem run`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use benchmem_tests::{Series, measure, measure_env, native, native_env, root, run_limited};
use serde_json::Value;

/// Builds the crate's examples with cargo (same profile and target directory as this
/// test; a no-op when they are up to date) and returns the executable of `name`.
fn example(name: &str) -> PathBuf {
    static BUILT: Mutex<bool> = Mutex::new(false);
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !*built {
        let dir_name = profile_dir.file_name().unwrap().to_str().unwrap();
        let profile = if dir_name == "debug" { "dev" } else { dir_name };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(root())
            .args(["build", "--quiet", "-p", "benchmem-region", "--examples"])
            .args(["--profile", profile])
            .arg("--target-dir")
            .arg(profile_dir.parent().unwrap());
        let out = run_limited(&mut cmd, Duration::from_secs(900));
        assert!(out.status.success(), "cargo build failed: {out:?}");
        *built = true;
    }
    let p = profile_dir.join("examples").join(name);
    assert!(p.is_file(), "{} missing after cargo build", p.display());
    p
}

#[test]
fn region_api() {
    let prog = example("region_api");
    let (out, blob, _d) = measure(&[], &prog, &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    // name measured peak total allocations retained
    assert_eq!(
        out.stdout,
        "active true\n\
         vec 1 800 800 1 800\n\
         guard 1 64 64 1 0\n\
         empty 1 0 0 0 0\n\
         long 1 10 10 1 10\n\
         inner 1 16 16 1 16\n\
         outer 1 16 16 1 0\n\
         cut 1 5 5 1 0\n\
         unwound 1\n",
        "{out:?}"
    );
    // The same samples reached benchmem, under the names given.
    assert_eq!(blob.series("vec"), Series::of(1, (800, 800, 1, 800)));
    assert_eq!(blob.series("guard"), Series::of(1, (64, 64, 1, 0)));
    assert_eq!(blob.series("empty"), Series::of(1, (0, 0, 0, 0)));
    assert_eq!(
        blob.series(&"x".repeat(300)),
        Series::of(1, (10, 10, 1, 10))
    );
    assert_eq!(blob.series("inner"), Series::of(1, (16, 16, 1, 16)));
    assert_eq!(blob.series("outer"), Series::of(1, (16, 16, 1, 0)));
    assert_eq!(blob.series("cut"), Series::of(1, (5, 5, 1, 0)));
    // Closed by the guard's Drop while unwinding (the panic's own allocations inside).
    assert_eq!(blob.series("unwound").allocs.len(), 1);
    assert!(blob.incomplete("unwound").is_empty());
    assert!(blob.is_clean(), "{:?}", blob.json);

    let alone = native(&prog, &[]);
    assert_eq!(alone.code(), 0, "{alone:?}");
    assert_eq!(
        alone.stdout,
        "active false\nvec 0 0 0 0 0\nguard 0 0 0 0 0\nempty 0 0 0 0 0\nlong 0 0 0 0 0\n\
         inner 0 0 0 0 0\nouter 0 0 0 0 0\ncut 0 0 0 0 0\nunwound 1\n"
    );
}

/// Short criterion settings: 10 samples (criterion's minimum), brief warm-up.
const QUICK: [&str; 7] = [
    "--bench",
    "--warm-up-time",
    "0.05",
    "--measurement-time",
    "0.1",
    "--sample-size",
    "10",
];

fn read_json(p: &Path) -> Value {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap()
}

/// criterion's saved estimates of benchmark `id`: (mean, median, slope, std_dev).
fn estimates(home: &Path, id: &str) -> (f64, f64, f64, f64) {
    let e = read_json(&home.join(id).join("new/estimates.json"));
    let p = |k: &str| e[k]["point_estimate"].as_f64().unwrap();
    (p("mean"), p("median"), p("slope"), p("std_dev"))
}

/// Every sample criterion recorded for `id` is `per_iteration` times its iteration count.
fn assert_samples(home: &Path, id: &str, per_iteration: f64) {
    let s = read_json(&home.join(id).join("new/sample.json"));
    let iters = s["iters"].as_array().unwrap();
    let values = s["times"].as_array().unwrap();
    assert_eq!(iters.len(), 10, "{id}: {s}");
    for (n, v) in iters.iter().zip(values) {
        assert_eq!(
            v.as_f64().unwrap(),
            n.as_f64().unwrap() * per_iteration,
            "{id}: {s}"
        );
    }
}

#[test]
fn criterion_reports_memory_instead_of_time() {
    let prog = example("criterion_memory");
    let home = tempfile::tempdir().unwrap();
    let home_s = home.path().to_str().unwrap();
    let (out, blob, _d) = measure_env(&[], &[("CRITERION_HOME", home_s)], &prog, &QUICK);
    assert_eq!(out.code(), 0, "{out:?}");
    let h = home.path();
    // (benchmark, per iteration, criterion's printed interval)
    let cases = [
        // Vec::<u8>::with_capacity(1000), dropped each iteration.
        ("allocated/vec_1000", 1000.0, "[1000.0 B 1000.0 B 1000.0 B]"),
        (
            "allocations/vec_1000",
            1.0,
            "[1.0000 allocs 1.0000 allocs 1.0000 allocs]",
        ),
        ("peak/vec_1000", 1000.0, "[1000.0 B 1000.0 B 1000.0 B]"),
        // 10 bytes grown by 100: one realloc to 110 bytes.
        (
            "allocated/grow_10_to_110",
            110.0,
            "[110.00 B 110.00 B 110.00 B]",
        ),
        (
            "allocations/grow_10_to_110",
            1.0,
            "[1.0000 allocs 1.0000 allocs 1.0000 allocs]",
        ),
    ];
    for (id, per, printed) in cases {
        assert_eq!(estimates(h, id), (per, per, per, 0.0), "{id}");
        assert_samples(h, id, per);
        let line = out
            .stdout
            .lines()
            .skip_while(|l| !l.starts_with(&format!("{id} ")) && *l != id)
            .find(|l| l.contains("time:"))
            .unwrap_or_else(|| panic!("no report for {id}: {}", out.stdout));
        assert!(line.ends_with(printed), "{id}: {line:?}");
    }
    // An allocation-free routine measures exactly 0, which criterion refuses to analyse.
    for id in ["allocated/nothing", "allocations/nothing", "peak/nothing"] {
        assert!(
            out.stdout.contains(&format!(
                "At least one measurement of benchmark {id} took zero time"
            )),
            "{id}: {}",
            out.stdout
        );
        assert!(!h.join(id).join("new/estimates.json").exists(), "{id}");
    }
    // Each criterion batch was a region sample: for the peak group's regions, 1000 bytes
    // (vec_1000) or nothing, never more whatever the batch size.
    let peaks = blob.series("criterion").peak;
    assert!(peaks.iter().all(|&p| p == 0 || p == 1000), "{peaks:?}");
    assert!(peaks.contains(&1000) && peaks.contains(&0), "{peaks:?}");
    assert!(
        !out.stderr
            .contains("not running under the benchmem preload")
    );
}

/// Without the preload criterion runs, every value is 0 and the measurement says why.
#[test]
fn criterion_without_benchmem() {
    let prog = example("criterion_memory");
    let home = tempfile::tempdir().unwrap();
    let mut args = QUICK.to_vec();
    args.push("allocated/vec_1000");
    let out = native_env(
        &prog,
        &args,
        &[("CRITERION_HOME", home.path().to_str().unwrap())],
    );
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr
            .contains("benchmem-region: not running under the benchmem preload"),
        "{out:?}"
    );
    assert!(
        out.stdout
            .contains("benchmark allocated/vec_1000 took zero time"),
        "{out:?}"
    );
}

#[test]
fn divan_iterations_are_region_samples() {
    let prog = example("divan_regions");
    let (out, blob, _d) = measure(&[], &prog, &["--bench"]);
    assert_eq!(out.code(), 0, "{out:?}");
    // divan's own report is untouched: both benchmarks, 5 samples of 2 iterations.
    assert!(out.stdout.contains("vec_1000"), "{out:?}");
    // sample_count 5 x sample_size 2: ten iterations, each one exact sample.
    assert_eq!(
        blob.series("divan/vec_1000"),
        Series::of(10, (1000, 1000, 1, 0))
    );
    // Box<[u64; 64]> returned out of the region: retained.
    assert_eq!(
        blob.series("divan/boxed_512"),
        Series::of(10, (512, 512, 1, 512))
    );
}
