//! `benchmem show` on pytest-benchmark files, and `run`'s command-line usage errors.

mod common;

use common::{benchmem, benchmem_in, path};

#[test]
fn spread_columns_with_repeats() {
    let r = benchmem(&["show", &path("base.json")]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        r.lines(),
        vec![
            // Only peak spreads: allocated and allocs are one column each.
            "╭───────────────────┬────────────────┬───────────┬──────────┬─────────────────┬────────╮",
            "│ name              │ peak·min (KiB) │ peak·mean │ peak·max │ allocated (KiB) │ allocs │",
            "├───────────────────┼────────────────┼───────────┼──────────┼─────────────────┼────────┤",
            "│ test_tuples[10]   │           1.38 │      1.38 │     1.38 │            1.38 │     11 │",
            "│ test_tuples[1000] │           83.1 │      83.1 │     83.1 │             117 │  1,001 │",
            "│ test_dicts[10]    │           2.34 │      2.34 │     2.34 │            2.34 │     11 │",
            "│ test_dicts[1000]  │           97.7 │      99.6 │      102 │             293 │  2,001 │",
            "╰───────────────────┴────────────────┴───────────┴──────────┴─────────────────┴────────╯",
            "memory: exact bytes requested from malloc/mmap inside each benchmark (peak = high-water of live bytes, allocated = sum of requests, allocs = allocation calls); 3 repeats; headline: min; no spread in",
            "  allocated and allocs: every repeat measured the same, one column each",
        ]
    );
}

#[test]
fn stats_choice_and_stddev_caption() {
    let r = benchmem(&[
        "show",
        &path("base.json"),
        "--columns",
        "peak",
        "--stats",
        "min,stddev",
    ]);
    assert_eq!(
        r.lines()[1],
        "│ name              │ peak·min (KiB) │ peak·stddev │"
    );
    assert_eq!(
        r.lines()[6],
        "│ test_dicts[1000]  │           97.7 │        1.95 │"
    );
    assert!(r.lines()[8].ends_with("; 3 repeats; headline: min; stddev: sample (n−1)"));
}

#[test]
fn csv_and_markdown() {
    let r = benchmem(&[
        "show",
        &path("base.json"),
        "--format",
        "csv",
        "--columns",
        "peak,allocs",
    ]);
    assert_eq!(
        r.stdout,
        "name,fullname,peak:min,peak:mean,peak:max,allocations:min,allocations:mean,allocations:max\n\
         test_tuples[10],test_lists.py::test_tuples[10],1416,1416,1416,11,11,11\n\
         test_tuples[1000],test_lists.py::test_tuples[1000],85094,85094,85094,1001,1001,1001\n\
         test_dicts[10],test_lists.py::test_dicts[10],2400,2400,2400,11,11,11\n\
         test_dicts[1000],test_lists.py::test_dicts[1000],100000,102000,104000,2001,2001,2001\n"
    );
    let r = benchmem(&[
        "show",
        &path("base.json"),
        "--format",
        "md",
        "--columns",
        "allocs",
        "--stats",
        "max",
    ]);
    assert_eq!(
        r.stdout,
        "| name | allocs·max |\n|:---|---:|\n| test\\_tuples\\[10\\] | 11 |\n| test\\_tuples\\[1000\\] | 1,001 |\n\
         | test\\_dicts\\[10\\] | 11 |\n| test\\_dicts\\[1000\\] | 2,001 |\n\n\
         memory: exact bytes requested from malloc/mmap inside each benchmark (allocs = allocation calls); 3 repeats; headline: min\n"
    );
}

#[test]
fn single_pass_stays_one_column_and_incomplete_rows_are_marked() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("one.json");
    std::fs::write(
        &p,
        r#"{"benchmarks": [
          {"name": "load", "fullname": "./prog::load", "extra_info": {"benchmem":
             {"peak_bytes": [1221536], "total_bytes": [308357376], "allocations": [9001], "retained_bytes": [0]}}},
          {"name": "parse", "fullname": "./prog::parse", "extra_info": {"benchmem":
             {"peak_bytes": [512], "total_bytes": [4096], "allocations": [3], "retained_bytes": [512]},
             "benchmem_incomplete": ["repeat 1, pid 42: killed by signal 9 before the region ended"]}}]}"#,
    )
    .unwrap();
    let r = benchmem_in(
        dir.path(),
        &[
            "show",
            "one.json",
            "--columns",
            "peak,allocated,allocs,retained",
        ],
        &[],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        r.lines(),
        vec![
            // Three figures each; a column spanning units gives each value its own, one
            // whose values share a unit names it once. 80 columns: the lines break.
            "╭─────────┬──────────┬───────────┬────────┬──────────────╮",
            "│ name    │     peak │ allocated │ allocs │ retained (B) │",
            "├─────────┼──────────┼───────────┼────────┼──────────────┤",
            "│ load    │ 1.16 MiB │   294 MiB │  9,001 │            0 │",
            "│ parse * │    512 B │  4.00 KiB │      3 │          512 │",
            "╰─────────┴──────────┴───────────┴────────┴──────────────╯",
            "memory: exact bytes requested from malloc/mmap inside each benchmark (peak =",
            "  high-water of live bytes, allocated = sum of requests, allocs = allocation",
            "  calls, retained = still live at the end); 1 repeat; headline: min",
            "* parse: incomplete: repeat 1, pid 42: killed by signal 9 before the region",
            "  ended",
        ]
    );
}

#[test]
fn time_only_file() {
    let t = path("timeonly.json");
    let r = benchmem(&["show", &t]);
    assert_eq!(r.status, 2);
    assert_eq!(
        r.stderr,
        format!(
            "benchmem: {t}: no benchmark has peak, allocated, allocations (memory comes from `benchmem run` or the pytest plugin's extra_info.benchmem)\n"
        )
    );
    let r = benchmem(&["show", &t, "--columns", "time"]);
    assert_eq!(r.status, 0);
    // The unit follows the measured times (us, or ms on a loaded machine).
    let header: Vec<&str> = r.lines()[1].split('│').map(str::trim).collect();
    assert_eq!(header[1], "name", "{header:?}");
    assert!(header[2].starts_with("time·min ("), "{header:?}");
    assert_eq!(&header[3..5], ["time·mean", "time·max"], "{header:?}");
    assert_eq!(
        r.lines().last().copied(),
        Some("time: pytest-benchmark's timed rounds; 3 repeats; headline: min")
    );
}

#[test]
fn show_bad_input() {
    let r = benchmem(&["show", "/nonexistent/run.json"]);
    assert_eq!(
        (r.status, r.stderr.as_str()),
        (2, "benchmem: /nonexistent/run.json: no such file\n")
    );
    let r = benchmem(&["show", &path("base.json"), "--stats", "p99"]);
    assert_eq!(r.status, 2);
    assert_eq!(
        r.err_lines()[0],
        "error: invalid value 'p99' for '--stats <LIST>'"
    );
    let r = benchmem(&["show", &path("base.json"), "--format", "html"]);
    assert_eq!(r.status, 2);
    assert!(r.err_lines()[0].starts_with("error: invalid value 'html' for '--format <FORMAT>'"));
}

#[test]
fn run_usage_errors_exit_2() {
    let r = benchmem(&["run"]);
    assert_eq!(r.status, 2);
    assert_eq!(
        r.err_lines()[0],
        "error: the following required arguments were not provided:"
    );
    let r = benchmem(&["run", "--repeats", "0", "--", "true"]);
    assert_eq!(r.status, 2);
    assert_eq!(
        r.err_lines()[0],
        "error: invalid value '0' for '--repeats <REPEATS>': 0 is not in 1..=100000"
    );
    let r = benchmem(&["run", "--columns", "rss", "--", "true"]);
    assert_eq!(r.status, 2);
    // An unsavable --json fails before the command runs (it would create the marker).
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let r = benchmem(&[
        "run",
        "--json",
        "/nonexistent/dir/run.json",
        "--",
        "touch",
        marker.to_str().unwrap(),
    ]);
    assert_eq!(r.status, 2);
    assert_eq!(
        r.stderr,
        "benchmem: /nonexistent/dir/run.json: no such directory /nonexistent/dir: create it or choose another --json path\n"
    );
    assert!(
        !marker.exists(),
        "the command ran although its result could not be saved"
    );
    let r = benchmem(&["frobnicate"]);
    assert_eq!(r.status, 2);
    assert_eq!(
        r.err_lines()[0],
        "error: unrecognized subcommand 'frobnicate'"
    );
}
