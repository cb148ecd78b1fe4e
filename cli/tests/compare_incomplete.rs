//! `benchmem compare` of runs holding incomplete samples (a repeat killed inside its
//! region): the samples are marked, left out of the values and the gates, and a gate
//! with no complete sample to compare says it cannot be evaluated (and fails with
//! `--strict`). The runs are written by benchmem's own writer from launcher results.

mod common;

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use benchmem_cli::run_document;
use benchmem_launcher::{
    Exit, Incomplete, RunResult, Sample, Series, SeriesKind, SilentEnd, Stats,
};
use common::benchmem_in;
use serde_json::{Value, json};

fn sample(allocs: u64, repeat: usize, killed: bool) -> Sample {
    Sample {
        stats: Stats {
            peak_bytes: allocs * 64,
            total_bytes: allocs * 64,
            allocations: allocs,
            retained_bytes: allocs * 64,
        },
        // A killed region has no end, so no duration.
        duration_ns: (!killed).then_some(1_000_000 + allocs * 1000),
        repeat,
        pid: 100 + repeat as u32,
        incomplete: killed.then_some(Incomplete::NeverClosed(Some(SilentEnd::Killed {
            signal: 9,
        }))),
    }
}

/// A run of region `work` with these allocation counts, the repeats in `killed` cut short.
fn run(allocs: &[u64], killed: &[usize]) -> Value {
    let result = RunResult {
        command: vec!["./prog".into()],
        repeats: allocs.len(),
        series: vec![Series {
            name: "work".into(),
            kind: SeriesKind::Region,
            samples: allocs
                .iter()
                .enumerate()
                .map(|(i, &a)| sample(a, i, killed.contains(&i)))
                .collect(),
        }],
        exit: Exit::Code(0),
        started: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        notes: vec![],
        asked: allocs.len(),
        failed: vec![],
        stopped: None,
        main: None,
        timeline: vec![],
        stacks: None,
    };
    run_document(&result, Path::new("/nonexistent"))
}

fn compare(base: &Value, head: &Value, extra: &[&str]) -> common::Run {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("base.json"), base.to_string()).unwrap();
    std::fs::write(dir.path().join("head.json"), head.to_string()).unwrap();
    let mut args = vec!["compare", "base.json", "head.json", "--columns", "allocs"];
    args.extend_from_slice(extra);
    benchmem_in(dir.path(), &args, &[("COLUMNS", "200")])
}

#[test]
fn the_writer_records_which_samples_are_incomplete() {
    let head = run(&[200, 21, 200], &[1]);
    let extra = &head["benchmarks"][0]["extra_info"];
    assert_eq!(extra["benchmem_incomplete_samples"], json!([1]));
    // The killed sample has no time: stats.data holds the other two.
    assert_eq!(extra["benchmem_incomplete_rounds"], json!([]));
    assert_eq!(head["benchmarks"][0]["stats"]["rounds"], 2);
}

#[test]
fn a_partial_sample_neither_passes_a_gate_nor_sets_the_value() {
    let base = run(&[100, 100, 100], &[]);
    let head = run(&[200, 21, 200], &[1]);
    // Over every sample the head's min is 21: the gate would pass. Over the complete ones
    // it is 200.
    let r = compare(&base, &head, &["--fail-on", "allocations:50%"]);
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert_eq!(
        r.err_lines(),
        [
            "left out: 1 incomplete sample of 3 (allocations of work in head); its gates used the other 2",
            "1 regression over threshold (head vs base):",
            "allocations  work: 100 → 200 (+100.0% > 50%)",
        ]
    );
    let out = r.lines();
    assert!(
        out.contains(&"│           │ head * │ 200 (2.00) │"),
        "{}",
        r.stdout
    );
    assert_eq!(
        &out[out.len() - 2..],
        [
            "* work (head): incomplete: repeat 2, pid 101: region never closed: killed by SIGKILL (signal 9): measured up to then",
            "*: incomplete samples are left out of the values and the gates",
        ]
    );
}

#[test]
fn no_complete_sample_cannot_be_gated_and_strict_fails() {
    let base = run(&[100, 100, 100], &[]);
    let head = run(&[21, 30, 12], &[0, 1, 2]);
    let r = compare(&base, &head, &["--fail-on", "allocations:50%"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        r.err_lines(),
        [
            "not checked: --fail-on allocations:50%: work has no complete allocations sample in the head run (all 3 incomplete)",
            "gates passed: 0 checks of head vs base (1 could not be evaluated)",
        ]
    );
    assert!(
        r.stdout.contains("* work (head): no sample known to be complete: its values are partial and it cannot be gated"),
        "{}",
        r.stdout
    );
    let r = compare(&base, &head, &["--fail-on", "allocations:50%", "--strict"]);
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert_eq!(
        r.err_lines(),
        [
            "failed: --fail-on allocations:50%: work has no complete allocations sample in the head run (all 3 incomplete)",
            "gates failed: 1 could not be evaluated and --strict requires every gate (head vs base)",
        ]
    );
    // A ceiling on the head alone: the same.
    let r = compare(&base, &head, &["--max", "allocs:10", "--strict"]);
    assert_eq!(r.status, 1, "{}", r.stderr);
}

#[test]
fn runs_saved_without_the_positions_are_read_from_the_reasons() {
    let base = run(&[100, 100, 100], &[]);
    let mut head = run(&[200, 21, 200], &[1]);
    let extra = &mut head["benchmarks"][0]["extra_info"];
    extra
        .as_object_mut()
        .unwrap()
        .remove("benchmem_incomplete_samples");
    extra
        .as_object_mut()
        .unwrap()
        .remove("benchmem_incomplete_rounds");
    // One sample per repeat: "repeat 2" is the second.
    let r = compare(&base, &head, &["--fail-on", "allocations:50%"]);
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert_eq!(
        r.err_lines()[2],
        "allocations  work: 100 → 200 (+100.0% > 50%)"
    );
    // Four samples for three repeats (a region closed twice in one): which is not known.
    head["benchmarks"][0]["extra_info"]["benchmem"]["allocations"] = json!([200, 21, 200, 200]);
    for key in ["peak_bytes", "total_bytes", "retained_bytes"] {
        head["benchmarks"][0]["extra_info"]["benchmem"][key] = json!([1, 1, 1, 1]);
    }
    let r = compare(&base, &head, &["--fail-on", "allocations:50%"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        r.err_lines()[0],
        "not checked: --fail-on allocations:50%: work has incomplete allocations samples in the head run and the file does not say which"
    );
}

#[test]
fn malformed_positions_are_one_line() {
    let mut head = run(&[200, 21, 200], &[1]);
    head["benchmarks"][0]["extra_info"]["benchmem_incomplete_samples"] = json!([3]);
    let base = run(&[100, 100, 100], &[]);
    let r = compare(&base, &head, &[]);
    assert_eq!(r.status, 2);
    assert_eq!(
        r.stderr,
        "benchmem: head.json: benchmark 'work': extra_info.benchmem_incomplete_samples[0] is 3, not the position of one of its 3 samples\n"
    );
}
