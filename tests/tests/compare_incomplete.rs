//! `benchmem compare` on real runs of three repeats where one repeat of the head was
//! killed inside its region: the partial sample is marked and kept out of the gates.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use benchmem_tests::{Blob, Outcome, benchmem, compile, run_limited};

/// `benchmem run -n 3 --json run.json -- sh -c 'PROG; exit 0'` in `dir`, with the
/// program's allocation count and doomed run.
fn run_in(dir: &Path, prog: &Path, n: &str, doomed: &str) -> Blob {
    let script = format!("'{}'; exit 0", prog.display());
    let out = run_limited(
        Command::new(benchmem())
            .args(["run", "-n", "3", "--json", "run.json", "--", "sh", "-c"])
            .arg(&script)
            .env("KILLED_REPEAT_N", n)
            .env("KILLED_REPEAT_DOOMED", doomed)
            .current_dir(dir),
        Duration::from_secs(60),
    );
    assert_eq!(out.code(), 0, "{out:?}");
    Blob::read(&dir.join("run.json"))
}

fn compare(dir: &Path, extra: &[&str]) -> Outcome {
    run_limited(
        Command::new(benchmem())
            .args([
                "compare",
                "base/run.json",
                "head/run.json",
                "-l",
                "base",
                "-l",
                "head",
            ])
            .args(extra)
            .env_remove("GITHUB_ACTIONS")
            .env("COLUMNS", "200")
            .current_dir(dir),
        Duration::from_secs(60),
    )
}

#[test]
fn a_killed_repeat_is_marked_and_left_out_of_the_gates() {
    let prog = compile("killed_repeat.c", &[]);
    let dir = tempfile::tempdir().unwrap();
    for side in ["base", "head"] {
        std::fs::create_dir(dir.path().join(side)).unwrap();
    }
    let base = run_in(&dir.path().join("base"), &prog, "100", "0");
    // The head allocates twice as much, and its second repeat dies a tenth of the way in.
    let head = run_in(&dir.path().join("head"), &prog, "200", "2");
    assert_eq!(base.series("work").allocs, [100, 100, 100]);
    let allocs = head.series("work").allocs;
    assert_eq!((allocs[0], allocs[2]), (200, 200), "{allocs:?}");
    assert!(allocs[1] < 100, "the killed repeat is short: {allocs:?}");
    let work = &head.bench("work")["extra_info"];
    assert_eq!(work["benchmem_incomplete_samples"], serde_json::json!([1]));

    // The partial sample would have passed the gate (21 < 100 × 1.5): it is left out.
    let r = compare(
        dir.path(),
        &["--columns", "allocs", "--fail-on", "allocations:50%"],
    );
    assert_eq!(r.code(), 1, "{r:?}");
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert!(
        lines.contains(&"allocations  work: 100 → 200 (+100.0% > 50%)")
            || lines.iter().any(|l| l.contains("work: 100 → 200 (+100.0%")),
        "{}",
        r.stderr
    );
    assert!(
        lines.contains(&"left out: 1 incomplete sample of 3 (allocations of work in head); its gates used the other 2"),
        "{}",
        r.stderr
    );
    // The table marks the run and says why, as show does.
    assert!(r.stdout.contains("head *"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("* work (head): incomplete: repeat 2, pid "),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("killed by SIGKILL (signal 9)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("*: incomplete samples are left out of the values and the gates"),
        "{}",
        r.stdout
    );
}
