//! Robustness: the command dies inside an open region (SIGKILL, a real
//! SIGSEGV, abort()). The program's output and status are as without benchmem (exit
//! 128+signal), and what was measured up to the death is reported, marked incomplete.

use benchmem_tests::{compile, measure_env, same_as_native};

fn dies(how: &str, signal: i32) {
    let prog = compile("robust_crash.c", &[]);
    // Natively killed by `signal` too: same_as_native compares the statuses.
    let (out, blob, _d) = same_as_native(&prog, &[how]);
    assert_eq!(out.code(), 128 + signal, "{out:?}");
    // The region: 4096 + 1000 (freed) on the main thread, 3000 kept by the worker, plus
    // whatever pthread_create allocated (glibc's thread bookkeeping): exact lower bounds.
    let s = blob.series("doomed");
    assert_eq!(s.allocs.len(), 1, "{s:?}");
    assert!(s.total[0] >= 4096 + 1000 + 3000, "{s:?}");
    assert!(s.retained[0] >= 4096 + 3000, "{s:?}");
    assert!(s.peak[0] >= 4096 + 3000 && s.peak[0] <= s.total[0], "{s:?}");
    let why = blob.incomplete("doomed").join(" | ");
    assert!(
        why.contains("killed by SIG")
            && why.contains(&format!("(signal {signal})"))
            && why.contains("never closed"),
        "{why}"
    );
    // The process row too.
    let rows = blob.process_rows();
    assert_eq!(rows, ["robust_crash"], "{rows:?}");
    let why = blob.incomplete("robust_crash").join(" | ");
    assert!(why.contains(&format!("signal {signal}")), "{why}");
}

#[test]
fn sigkill_inside_a_region() {
    dies("kill", 9);
}

#[test]
fn sigsegv_inside_a_region() {
    dies("segv", 11);
}

#[test]
fn abort_inside_a_region() {
    dies("abort", 6);
}

#[test]
fn a_failing_repeat_stops_the_run_and_the_blob_counts_what_ran() {
    let prog = compile("robust_crash.c", &[]);
    let (out, blob, _d) = measure_env(&["--repeats", "3"], &[], &prog, &["kill"]);
    assert_eq!(out.code(), 128 + 9);
    assert_eq!(
        blob.json["benchmem"]["repeats"], 1,
        "{}",
        blob.json["benchmem"]
    );
    assert_eq!(blob.series("doomed").allocs.len(), 1);
    let rounds = &blob.bench("doomed")["options"]["min_rounds"];
    assert_eq!(rounds, 1, "{rounds}");
}
