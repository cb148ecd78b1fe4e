//! Time is noisy, bytes are not: `benchmem compare` tests every time change (Mann-Whitney
//! U over the runs' rounds) and shows `~` when it does not stand out of the noise; a time
//! gate fails only on a significant change and is refused on too few rounds.

mod common;

use common::benchmem_in;
use serde_json::{Value, json};

/// A benchmark with these round times (seconds) and an exact memory series.
fn bench(name: &str, times: &[f64], with_data: bool) -> Value {
    let n = times.len() as f64;
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / n;
    let var = times.iter().map(|t| (t - mean) * (t - mean)).sum::<f64>() / (n - 1.0).max(1.0);
    let mid = sorted.len() / 2;
    let median = if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    };
    let mut stats = json!({"min": sorted[0], "max": sorted[sorted.len() - 1], "mean": mean,
        "median": median, "stddev": var.sqrt(), "rounds": times.len()});
    if with_data {
        stats["data"] = json!(times);
    }
    json!({"name": name, "fullname": format!("t.py::{name}"), "stats": stats,
        "extra_info": {"benchmem": {"peak_bytes": [1000, 1000], "total_bytes": [2000, 2000],
            "allocations": [3, 3], "retained_bytes": [0, 0]}}})
}

fn runs(base: Vec<Value>, head: Vec<Value>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (file, b) in [("base.json", base), ("head.json", head)] {
        std::fs::write(dir.path().join(file), json!({"benchmarks": b}).to_string()).unwrap();
    }
    dir
}

fn compare(dir: &tempfile::TempDir, extra: &[&str]) -> common::Run {
    let mut args = vec!["compare", "base.json", "head.json"];
    args.extend_from_slice(extra);
    benchmem_in(dir.path(), &args, &[("COLUMNS", "200")])
}

const BASE: [f64; 6] = [1.0e-3, 1.1e-3, 1.2e-3, 1.3e-3, 1.4e-3, 1.5e-3];
/// Every round slower than every base round: p = 2/C(12, 6).
const SLOWER: [f64; 6] = [1.6e-3, 1.7e-3, 1.8e-3, 1.9e-3, 2.0e-3, 2.1e-3];
/// Its fastest round 15% slower than the base's, its rounds among the base's.
const NOISY: [f64; 6] = [1.15e-3, 1.2e-3, 1.25e-3, 1.3e-3, 1.35e-3, 1.45e-3];

#[test]
fn a_significant_change_shows_its_p_value_and_fails_the_gate() {
    let dir = runs(
        vec![bench("slow", &BASE, true), bench("noisy", &BASE, true)],
        vec![bench("slow", &SLOWER, true), bench("noisy", &NOISY, true)],
    );
    let r = compare(&dir, &["--columns", "time,allocs", "--fail-on", "time:10%"]);
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert_eq!(
        r.err_lines(),
        [
            "within noise, not failed: time noisy: 1.00 ms → 1.15 ms (+15.0% > 10%; p=0.788 n=6: not significant)",
            "1 regression over threshold (head vs base):",
            "time  slow: 1.00 ms → 1.60 ms (+60.0% > 10%; p=0.002 n=6)",
        ]
    );
    // Notes break over lines: read them joined.
    let table = r.stdout.replace("\n  ", " ");
    assert!(table.contains("+60.0% (p=0.002)"), "{table}");
    assert!(table.contains("~ (p=0.788)"), "{table}");
    assert!(
        table.contains("memory is exact and needs no test"),
        "{table}"
    );
    // The diff view tests time and leaves memory alone.
    let d = compare(&dir, &["--columns", "time,allocs", "--diff"]);
    assert!(d.stdout.contains("+60.0% (p=0.002)"), "{}", d.stdout);
    let allocs: Vec<&str> = d
        .lines()
        .into_iter()
        .filter(|l| l.contains("allocs"))
        .collect();
    assert!(allocs.iter().all(|l| !l.contains("p=")), "{allocs:?}");
    // CSV carries the p-value raw.
    let csv = compare(&dir, &["--columns", "time", "--diff", "--format", "csv"]);
    assert_eq!(
        csv.lines()[0],
        "id,metric,stat,base,head,head:change_pct,head:p_value"
    );
    assert!(
        csv.lines()[2].starts_with("t.py::slow,time,min,0.001,0.0016,"),
        "{}",
        csv.stdout
    );
    assert!(
        csv.lines()[2].ends_with(",0.0021645021645021645"),
        "{}",
        csv.stdout
    );
}

#[test]
fn a_time_gate_on_few_rounds_is_refused_unless_allowed() {
    let dir = runs(
        vec![bench("slow", &BASE[..3], true)],
        vec![bench("slow", &SLOWER[..3], true)],
    );
    let r = compare(&dir, &["--fail-on", "time:10%"]);
    assert_eq!(r.status, 2);
    assert_eq!(
        r.stderr,
        "benchmem: --fail-on time:10%: base.json has 3 timed rounds of slow (at least 5 a run are needed to tell a change from noise); take more, or pass --allow-few-samples to gate on them anyway\n"
    );
    assert!(r.stdout.is_empty());
    let r = compare(
        &dir,
        &[
            "--columns",
            "time",
            "--fail-on",
            "time:10%",
            "--allow-few-samples",
        ],
    );
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert_eq!(
        r.err_lines()[1],
        "time  slow: 1.00 ms → 1.60 ms (+60.0% > 10%; p=0.100 n=3: too few rounds to test)"
    );
    // Three rounds a side can never be significant: the table says so too.
    assert!(r.stdout.contains("~ (p=0.100 n=3)"), "{}", r.stdout);
    // A memory gate needs no rounds.
    let r = compare(&dir, &["--columns", "peak", "--fail-on", "peak:10%"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
}

#[test]
fn without_per_round_times_a_change_is_untested() {
    let dir = runs(
        vec![bench("slow", &BASE, false)],
        vec![bench("slow", &SLOWER, false)],
    );
    let r = compare(&dir, &["--columns", "time", "--fail-on", "time:10%"]);
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert_eq!(
        r.err_lines()[1],
        "time  slow: 1.00 ms → 1.60 ms (+60.0% > 10%; untested: a run keeps no per-round times)"
    );
    assert!(r.stdout.contains("+60.0% (untested)"), "{}", r.stdout);
}
