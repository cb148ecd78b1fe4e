//! `benchmem compare` on the options pytest-benchmem's `compare` users know: `--stat` lists,
//! `--columns extra:NAME`, `--group-by func/module/class`, `--pivot`, `--csv`, gates of two
//! parts (`peak:20%+8MiB`) and on `rss`. The runs are made by the real pytest-benchmark
//! from tests/fixtures/parity_suite.py; where benchmem copies pytest-benchmem 0.5.5, the
//! expected values are what it printed for the same files (said beside each).

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use common::{Run, benchmem_in, python};
use serde_json::{Value, json};

const MIB: u64 = 1048576;

/// Saved runs of the parity suite, made once per test binary:
/// - base.json, head.json: peak chosen around `peak:20%+8MiB` (legacy-100 40 → 48 MiB, on
///   both lines; legacy-1000 40 MiB → 48 MiB + 1 B, past both; fast-100 50 → 60 MiB, past
///   8 MiB only; fast-1000 1 → 3 MiB, past 20% only; test_rows 30 → 38 MiB, past 20% and
///   on 8 MiB), test_iso with rss (min 40 MiB → 44 MiB);
/// - norss.json: base without any rss.
struct Runs {
    dir: tempfile::TempDir,
}

fn runs() -> &'static Runs {
    static R: OnceLock<Runs> = OnceLock::new();
    R.get_or_init(make_runs)
}

fn blob(peak: u64, total: u64, allocs: u64, rss: Option<[u64; 3]>) -> Value {
    let mut b = json!({"peak_bytes": vec![peak; 3], "total_bytes": vec![total; 3],
                       "allocations": vec![allocs; 3]});
    if let Some(r) = rss {
        b["rss_bytes"] = json!(r);
    }
    b
}

fn make_runs() -> Runs {
    let dir = tempfile::tempdir().expect("temp dir");
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parity_suite.py");
    std::fs::copy(&suite, dir.path().join("test_parity.py")).expect("copy suite");
    let base = json!({
        "test_b[legacy-100]": blob(40 * MIB, 41 * MIB, 103, None),
        "test_b[legacy-1000]": blob(40 * MIB, 41 * MIB, 1020, None),
        "test_b[fast-100]": blob(50 * MIB, 50 * MIB, 1, None),
        "test_b[fast-1000]": blob(MIB, MIB, 1, None),
        "test_rows": blob(30 * MIB, 31 * MIB, 207, None),
        "test_iso": blob(MIB, MIB, 1, Some([40 * MIB, 41 * MIB, 42 * MIB])),
    });
    let head = json!({
        "test_b[legacy-100]": blob(48 * MIB, 49 * MIB, 103, None),
        "test_b[legacy-1000]": blob(48 * MIB + 1, 49 * MIB, 1020, None),
        "test_b[fast-100]": blob(60 * MIB, 60 * MIB, 1, None),
        "test_b[fast-1000]": blob(3 * MIB, 3 * MIB, 1, None),
        "test_rows": blob(38 * MIB, 39 * MIB, 207, None),
        "test_iso": blob(MIB, MIB, 1, Some([44 * MIB, 45 * MIB, 46 * MIB])),
    });
    let mut norss = base.clone();
    norss["test_iso"] = blob(MIB, MIB, 1, None);
    for (name, memory) in [("base", base), ("head", head), ("norss", norss)] {
        let fx = dir.path().join(format!("{name}_fixture.json"));
        std::fs::write(&fx, json!({ "memory": memory }).to_string()).expect("write fixture");
        let o = Command::new(python())
            .args([
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "test_parity.py",
                &format!("--benchmark-json={name}.json"),
                "--benchmark-min-rounds=5",
                "--benchmark-max-time=0.00001",
                "--benchmark-min-time=0.000001",
                "--benchmark-warmup=off",
            ])
            .env("BENCHMEM_FIXTURE", &fx)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .current_dir(dir.path())
            .output()
            .expect("pytest runs");
        assert!(
            o.status.success(),
            "pytest-benchmark failed making {name}.json:\n{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    Runs { dir }
}

/// `benchmem ARGS` in the runs' directory, 200 columns wide.
fn bm(args: &[&str]) -> Run {
    benchmem_in(runs().dir.path(), args, &[("COLUMNS", "200")])
}

/// `benchmem compare ARGS`, which must succeed with nothing on stderr; its stdout lines.
fn table(args: &[&str]) -> Vec<String> {
    let mut all = vec!["compare"];
    all.extend_from_slice(args);
    let r = bm(&all);
    assert_eq!(r.status, 0, "{args:?}: {}", r.stderr);
    assert_eq!(r.stderr, "", "{args:?}");
    r.lines().iter().map(|l| l.to_string()).collect()
}

/// `benchmem compare ARGS` refused: status 2, nothing on stdout, the one line on stderr
/// (an option's bad value: the parser's line, then its hint to try --help).
fn refused(args: &[&str]) -> String {
    let mut all = vec!["compare"];
    all.extend_from_slice(args);
    let r = bm(&all);
    assert_eq!(r.status, 2, "{args:?}: {}", r.stderr);
    assert_eq!(r.stdout, "", "{args:?}");
    let lines = r.err_lines();
    if lines[0].starts_with("error: invalid value") {
        assert_eq!(&lines[1..], ["", "For more information, try '--help'."]);
    } else {
        assert_eq!(lines.len(), 1, "{args:?}: {}", r.stderr);
    }
    lines[0].to_string()
}

#[test]
fn stat_takes_a_comma_list() {
    assert_eq!(
        table(&[
            "base.json",
            "head.json",
            "--columns",
            "peak,allocs",
            "--stat",
            "max,min",
            "--diff"
        ]),
        [
            "╭─────────────────────┬────────────┬──────────┬──────────┬─────────╮",
            "│ benchmark           │ metric     │     base │     head │       Δ │",
            "├─────────────────────┼────────────┼──────────┼──────────┼─────────┤",
            "│ test_rows           │ peak·max   │ 30.0 MiB │ 38.0 MiB │  +26.7% │",
            "│                     │ peak·min   │ 30.0 MiB │ 38.0 MiB │  +26.7% │",
            "│                     │ allocs·max │      207 │      207 │    0.0% │",
            "│                     │ allocs·min │      207 │      207 │    0.0% │",
            "│ test_b[fast-100]    │ peak·max   │ 50.0 MiB │ 60.0 MiB │  +20.0% │",
            "│                     │ peak·min   │ 50.0 MiB │ 60.0 MiB │  +20.0% │",
            "│                     │ allocs·max │        1 │        1 │    0.0% │",
            "│                     │ allocs·min │        1 │        1 │    0.0% │",
            "│ test_b[fast-1000]   │ peak·max   │ 1.00 MiB │ 3.00 MiB │ +200.0% │",
            "│                     │ peak·min   │ 1.00 MiB │ 3.00 MiB │ +200.0% │",
            "│                     │ allocs·max │        1 │        1 │    0.0% │",
            "│                     │ allocs·min │        1 │        1 │    0.0% │",
            "│ test_b[legacy-100]  │ peak·max   │ 40.0 MiB │ 48.0 MiB │  +20.0% │",
            "│                     │ peak·min   │ 40.0 MiB │ 48.0 MiB │  +20.0% │",
            "│                     │ allocs·max │      103 │      103 │    0.0% │",
            "│                     │ allocs·min │      103 │      103 │    0.0% │",
            "│ test_b[legacy-1000] │ peak·max   │ 40.0 MiB │ 48.0 MiB │  +20.0% │",
            "│                     │ peak·min   │ 40.0 MiB │ 48.0 MiB │  +20.0% │",
            "│                     │ allocs·max │    1,020 │    1,020 │    0.0% │",
            "│                     │ allocs·min │    1,020 │    1,020 │    0.0% │",
            "│ test_iso            │ peak·max   │ 1.00 MiB │ 1.00 MiB │    0.0% │",
            "│                     │ peak·min   │ 1.00 MiB │ 1.00 MiB │    0.0% │",
            "│                     │ allocs·max │        1 │        1 │    0.0% │",
            "│                     │ allocs·min │        1 │        1 │    0.0% │",
            "╰─────────────────────┴────────────┴──────────┴──────────┴─────────╯",
            "Δ: signed change from the first run (base) to each later run; values: max and min over each run's repeats",
        ]
    );
}

#[test]
fn a_bare_stat_is_every_stat_and_iqr_is_for_time() {
    // pytest-benchmem 0.5.5 refuses a bare --stat ("Option '--stat' requires an argument.")
    // and shows every stat when --stat is left out; benchmem keeps the headline min as its
    // default and takes a bare --stat as all. Time spreads into six stats, iqr among them.
    let lines = table(&["base.json", "head.json", "--columns", "time", "--stat"]);
    let header: Vec<&str> = lines[1].split('│').map(str::trim).collect();
    let names: Vec<String> = header[3..]
        .iter()
        .map(|h| h.split(" (").next().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "time·min",
            "time·max",
            "time·mean",
            "time·median",
            "time·iqr",
            "time·stddev",
            "time Δ",
            ""
        ]
    );
    let caption = lines.iter().find(|l| l.starts_with("values:")).unwrap();
    assert!(
        caption.starts_with(
            "values: min, max, mean, median, iqr (time) and stddev (sample) over each run's repeats"
        ),
        "{caption}"
    );
    // iqr is pytest-benchmark's own, as saved in stats.iqr: the CSV has it raw.
    let out = runs().dir.path().join("iqr.csv");
    let _ = table(&[
        "base.json",
        "head.json",
        "--columns",
        "time",
        "--stat",
        "iqr",
        "--csv",
        "iqr.csv",
    ]);
    let csv = std::fs::read_to_string(&out).unwrap();
    let saved: Value = serde_json::from_str(
        &std::fs::read_to_string(runs().dir.path().join("base.json")).unwrap(),
    )
    .unwrap();
    let mut rows = csv.lines();
    assert_eq!(rows.next(), Some("id,time:iqr:base,time:iqr:head"));
    let first = rows.next().unwrap();
    let iqr = saved["benchmarks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["fullname"] == "test_parity.py::TestRows::test_rows")
        .unwrap()["stats"]["iqr"]
        .as_f64()
        .unwrap();
    let cells: Vec<&str> = first.split(',').collect();
    assert_eq!(cells[0], "test_parity.py::TestRows::test_rows");
    assert_eq!(cells[1].parse::<f64>().unwrap(), iqr);
    // Memory repeats are a handful of exact values: a quartile spread over them is refused
    // (pytest-benchmem 0.5.5 says so too, with exit status 1).
    assert_eq!(
        refused(&[
            "base.json",
            "head.json",
            "--columns",
            "peak,time",
            "--stat",
            "min,iqr"
        ]),
        "benchmem: --stat iqr is a statistic of time's rounds: peak has one exact value per repeat, a handful of them, whose quartiles say nothing of noise; use min,max for the range, drop peak from --columns, or use --stat all (each metric with the stats it has)"
    );
    // A bare --stat before the files would take the first file as its value.
    let r = bm(&["compare", "--stat", "base.json", "head.json"]);
    assert_eq!(r.status, 2);
    assert_eq!(
        r.stderr.lines().next().unwrap(),
        "error: invalid value 'base.json' for '--stat [<STATS>]': 'base.json' is not a stat (min, max, mean, median, stddev, iqr (time only), all); a bare --stat means all: put it after the files, or write --stat all"
    );
}

#[test]
fn extra_columns_show_numeric_extra_info() {
    // pytest-benchmem 0.5.5 shows the same cells: 7, 300, 3,000, 0.5 and — where there is
    // no such value; plain, without a multiple.
    assert_eq!(
        table(&[
            "base.json",
            "head.json",
            "--columns",
            "peak,extra:variables,extra:ratio"
        ]),
        [
            "╭─────────────────────┬──────┬─────────────┬───────────┬───────╮",
            "│ benchmark           │ run  │  peak (MiB) │ variables │ ratio │",
            "├─────────────────────┼──────┼─────────────┼───────────┼───────┤",
            "│ test_rows           │ base │ 30.0 (1.00) │         7 │     — │",
            "│                     │ head │ 38.0 (1.27) │         7 │     — │",
            "│ test_b[fast-100]    │ base │ 50.0 (1.00) │       300 │   0.5 │",
            "│                     │ head │ 60.0 (1.20) │       300 │   0.5 │",
            "│ test_b[fast-1000]   │ base │ 1.00 (1.00) │     3,000 │   0.5 │",
            "│                     │ head │ 3.00 (3.00) │     3,000 │   0.5 │",
            "│ test_b[legacy-100]  │ base │ 40.0 (1.00) │       300 │   0.5 │",
            "│                     │ head │ 48.0 (1.20) │       300 │   0.5 │",
            "│ test_b[legacy-1000] │ base │ 40.0 (1.00) │     3,000 │   0.5 │",
            "│                     │ head │ 48.0 (1.20) │     3,000 │   0.5 │",
            "│ test_iso            │ base │ 1.00 (1.00) │         — │     — │",
            "│                     │ head │ 1.00 (1.00) │         — │     — │",
            "╰─────────────────────┴──────┴─────────────┴───────────┴───────╯",
            "values: min over each run's repeats; (N.NN): multiple of the best run; memory in binary units",
        ]
    );
    let diff = table(&[
        "base.json",
        "head.json",
        "--columns",
        "peak,extra:variables",
        "--diff",
    ]);
    assert_eq!(
        diff[3],
        "│ test_rows           │ peak            │ 30.0 MiB │ 38.0 MiB │  +26.7% │"
    );
    assert_eq!(
        diff[4],
        "│                     │ extra:variables │        7 │        7 │    0.0% │"
    );
    // A numeric parameter reads as a label too (pytest-benchmem 0.5.5: n = 1,000 for
    // test_b[fast-1000], — for test_rows).
    let lines = table(&["base.json", "head.json", "--columns", "peak,extra:n"]);
    assert_eq!(
        lines[3],
        "│ test_rows           │ base │ 30.0 (1.00) │     — │"
    );
    assert_eq!(
        lines[7],
        "│ test_b[fast-1000]   │ base │ 1.00 (1.00) │ 1,000 │"
    );
    // A label no benchmark has is dropped, as an unmeasured metric is.
    let lines = table(&["base.json", "head.json", "--columns", "peak,extra:nosuch"]);
    assert_eq!(lines[1], "│ benchmark           │ run  │  peak (MiB) │");
    assert_eq!(
        refused(&["base.json", "head.json", "--columns", "extra:benchmem"]),
        "error: invalid value 'extra:benchmem' for '--columns <LIST>': 'extra:benchmem': extra_info.benchmem is benchmem's own; extra:NAME shows a number of the benchmark's own extra_info"
    );
}

#[test]
fn group_by_func_module_and_class() {
    // pytest-benchmem 0.5.5 titles these sub-tables test_b, test_parity.py, TestRows, and
    // "nan" for the benchmarks outside a class; its multiples are the same.
    assert_eq!(
        table(&[
            "base.json",
            "head.json",
            "--columns",
            "peak",
            "--group-by",
            "class"
        ]),
        [
            "class 'TestRows': 1 benchmark",
            "╭───────────┬──────┬─────────────╮",
            "│ benchmark │ run  │  peak (MiB) │",
            "├───────────┼──────┼─────────────┤",
            "│ test_rows │ base │ 30.0 (1.00) │",
            "│           │ head │ 38.0 (1.27) │",
            "╰───────────┴──────┴─────────────╯",
            "",
            "no class: 5 benchmarks",
            "╭─────────────────────┬──────┬──────────────╮",
            "│ benchmark           │ run  │   peak (MiB) │",
            "├─────────────────────┼──────┼──────────────┤",
            "│ test_b[fast-100]    │ base │ 50.0 (50.00) │",
            "│                     │ head │ 60.0 (60.00) │",
            "│ test_b[fast-1000]   │ base │  1.00 (1.00) │",
            "│                     │ head │  3.00 (3.00) │",
            "│ test_b[legacy-100]  │ base │ 40.0 (40.00) │",
            "│                     │ head │ 48.0 (48.00) │",
            "│ test_b[legacy-1000] │ base │ 40.0 (40.00) │",
            "│                     │ head │ 48.0 (48.00) │",
            "│ test_iso            │ base │  1.00 (1.00) │",
            "│                     │ head │  1.00 (1.00) │",
            "╰─────────────────────┴──────┴──────────────╯",
            "",
            "values: min over each run's repeats; (N.NN): multiple of the best run; memory in binary units",
        ]
    );
    let titles = |key: &str| -> Vec<String> {
        table(&[
            "base.json",
            "head.json",
            "--columns",
            "allocs",
            "--group-by",
            key,
        ])
        .into_iter()
        .filter(|l| l.ends_with("benchmark") || l.ends_with("benchmarks"))
        .collect()
    };
    assert_eq!(
        titles("func"),
        [
            "func 'test_rows': 1 benchmark",
            "func 'test_b': 4 benchmarks",
            "func 'test_iso': 1 benchmark"
        ]
    );
    assert_eq!(titles("module"), ["module 'test_parity.py': 6 benchmarks"]);
    assert_eq!(
        titles("func,param:n"),
        [
            "func 'test_rows', no param 'n': 1 benchmark",
            "func 'test_b', n=100: 2 benchmarks",
            "func 'test_b', n=1000: 2 benchmarks",
            "func 'test_iso', no param 'n': 1 benchmark"
        ]
    );
}

#[test]
fn pivot_folds_one_run_along_a_parameter() {
    // pytest-benchmem 0.5.5 pairs the same rows (test_b[100]: legacy 40.00 (1.0), fast
    // 50.00 (1.25); test_b[1000]: legacy 40.00 (40.00), fast 1.00 (1.0)) and shows the
    // benchmarks without the parameter as a series "nan"; benchmem leaves them out and
    // says so.
    let want = [
        "╭──────────────┬────────┬──────────────╮",
        "│ benchmark    │ impl   │   peak (MiB) │",
        "├──────────────┼────────┼──────────────┤",
        "│ test_b[100]  │ legacy │  40.0 (1.00) │",
        "│              │ fast   │  50.0 (1.25) │",
        "│ test_b[1000] │ legacy │ 40.0 (40.00) │",
        "│              │ fast   │  1.00 (1.00) │",
        "╰──────────────┴────────┴──────────────╯",
        "values: min over each run's repeats; (N.NN): multiple of the best run; memory in binary units",
        "not pivoted (no impl): test_rows, test_iso",
    ];
    assert_eq!(
        table(&["base.json", "--columns", "peak", "--pivot", "param:impl"]),
        want
    );
    // A bare name is a parameter, else an extra_info value.
    let bare = table(&["base.json", "--columns", "peak", "--pivot", "impl"]);
    assert_eq!(bare, want);
    // The first value is the base of --diff and of the gates, the last the head.
    let r = bm(&[
        "compare",
        "base.json",
        "--columns",
        "peak",
        "--pivot",
        "impl",
        "--fail-on",
        "peak:20%",
    ]);
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert_eq!(
        r.err_lines(),
        [
            "1 regression over threshold (fast vs legacy):",
            "peak  test_b[100]: 40.0 MiB → 50.0 MiB (+25.0% > 20%)",
        ]
    );
    let r = bm(&[
        "compare",
        "base.json",
        "--columns",
        "peak",
        "--pivot",
        "impl",
        "--fail-on",
        "peak:25%",
    ]);
    assert_eq!(
        (r.status, r.stderr.as_str()),
        (0, "gates passed: 2 checks of fast vs legacy\n")
    );
    assert_eq!(
        table(&["base.json", "--columns", "peak", "--pivot", "n", "--diff"]),
        [
            "╭────────────────┬────────┬──────────┬──────────┬────────╮",
            "│ benchmark      │ metric │      100 │     1000 │      Δ │",
            "├────────────────┼────────┼──────────┼──────────┼────────┤",
            "│ test_b[fast]   │ peak   │ 50.0 MiB │ 1.00 MiB │ -98.0% │",
            "│ test_b[legacy] │ peak   │ 40.0 MiB │ 40.0 MiB │   0.0% │",
            "╰────────────────┴────────┴──────────┴──────────┴────────╯",
            "Δ: signed change from the first series (100) to each later series; values: min over each run's repeats",
            "not pivoted (no n): test_rows, test_iso",
        ]
    );
}

#[test]
fn pivot_errors_are_one_line() {
    assert_eq!(
        refused(&["base.json", "head.json", "--pivot", "impl"]),
        "benchmem: --pivot impl folds one run along a dimension; got 2 runs: give one run, or drop --pivot to compare the runs"
    );
    assert_eq!(
        refused(&["base.json", "--pivot", "param:zzz"]),
        "benchmem: --pivot param:zzz: no benchmark of base.json has 'zzz'; choose from param:impl, param:n"
    );
    assert_eq!(
        refused(&["base.json", "--pivot", "zzz"]),
        "benchmem: --pivot zzz: no benchmark of base.json has 'zzz'; choose from param:impl, param:n, ratio, variables"
    );
    assert_eq!(
        refused(&["base.json", "--pivot", "impl", "-l", "x"]),
        "benchmem: --label names runs, and with --pivot impl the series are the values of the dimension: drop --label"
    );
    // An extra_info value that is the same for every benchmark of an id pairs nothing.
    let r = bm(&[
        "compare",
        "base.json",
        "--columns",
        "peak",
        "--pivot",
        "ratio",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        r.lines().last().copied(),
        Some("not pivoted (no ratio): test_rows, test_iso")
    );
    assert_eq!(
        refused(&[
            "base.json",
            "--columns",
            "peak",
            "--pivot",
            "ratio",
            "--diff"
        ]),
        "benchmem: --diff needs two values of --pivot ratio (this run has one: 0.5); the first is the base"
    );
}

#[test]
fn csv_file_as_pytest_benchmem_writes_it() {
    // pytest-benchmem 0.5.5 wrote, for these files and options (its numbers through pandas,
    // 31457280.0; its rows in plain string order):
    //   id,peak:min:base,peak:min:head,extra:variables:base,extra:variables:head,extra:ratio:base,extra:ratio:head
    //   test_parity.py::TestRows::test_rows,31457280.0,39845888.0,7.0,7.0,,
    //   test_parity.py::test_b[fast-1000],1048576.0,3145728.0,3000.0,3000.0,0.5,0.5
    //   ...
    //   test_parity.py::test_iso,1048576.0,1048576.0,,,,
    let dir = runs().dir.path();
    let out = table(&[
        "base.json",
        "head.json",
        "--columns",
        "peak,extra:variables,extra:ratio",
        "--csv",
        "out.csv",
    ]);
    assert_eq!(
        out[1],
        "│ benchmark           │ run  │  peak (MiB) │ variables │ ratio │"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("out.csv")).unwrap(),
        "id,peak:min:base,peak:min:head,extra:variables:base,extra:variables:head,extra:ratio:base,extra:ratio:head\n\
         test_parity.py::TestRows::test_rows,31457280,39845888,7,7,,\n\
         test_parity.py::test_b[fast-100],52428800,62914560,300,300,0.5,0.5\n\
         test_parity.py::test_b[fast-1000],1048576,3145728,3000,3000,0.5,0.5\n\
         test_parity.py::test_b[legacy-100],41943040,50331648,300,300,0.5,0.5\n\
         test_parity.py::test_b[legacy-1000],41943040,50331649,3000,3000,0.5,0.5\n\
         test_parity.py::test_iso,1048576,1048576,,,,\n"
    );
    // Every stat of a metric, then the next metric; a run without rss has empty cells.
    let _ = table(&[
        "base.json",
        "--columns",
        "peak,allocs",
        "--stat",
        "min,max",
        "--pivot",
        "impl",
        "--csv",
        "pivot.csv",
    ]);
    assert_eq!(
        std::fs::read_to_string(dir.join("pivot.csv")).unwrap(),
        "id,peak:min:legacy,peak:min:fast,peak:max:legacy,peak:max:fast,allocations:min:legacy,allocations:min:fast,allocations:max:legacy,allocations:max:fast\n\
         test_parity.py::test_b[100],41943040,52428800,41943040,52428800,103,1,103,1\n\
         test_parity.py::test_b[1000],41943040,1048576,41943040,1048576,1020,1,1020,1\n"
    );
    let _ = table(&[
        "base.json",
        "head.json",
        "--columns",
        "rss",
        "--csv",
        "rss.csv",
    ]);
    assert_eq!(
        std::fs::read_to_string(dir.join("rss.csv")).unwrap(),
        "id,rss:min:base,rss:min:head\n\
         test_parity.py::TestRows::test_rows,,\n\
         test_parity.py::test_b[fast-100],,\n\
         test_parity.py::test_b[fast-1000],,\n\
         test_parity.py::test_b[legacy-100],,\n\
         test_parity.py::test_b[legacy-1000],,\n\
         test_parity.py::test_iso,41943040,46137344\n"
    );
}

#[test]
fn csv_is_never_half_written_nor_over_a_run() {
    let dir = runs().dir.path();
    let before = std::fs::read_to_string(dir.join("base.json")).unwrap();
    assert_eq!(
        refused(&["base.json", "head.json", "--csv", "base.json"]),
        "benchmem: --csv base.json: that is the run base.json being compared: give the CSV a file of its own"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("base.json")).unwrap(),
        before
    );
    let r = bm(&[
        "compare",
        "base.json",
        "head.json",
        "--csv",
        "nodir/out.csv",
    ]);
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert_eq!(r.err_lines().len(), 1, "{}", r.stderr);
    assert!(
        r.stderr.starts_with("benchmem: nodir/out.csv: "),
        "{}",
        r.stderr
    );
    // Bad input found after the check of the path: no file at all.
    assert_eq!(
        refused(&["base.json", "nosuch.json", "--csv", "never.csv"])
            .split(':')
            .nth(1),
        Some(" nosuch.json")
    );
    assert!(!dir.join("never.csv").exists());
    let leftovers: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".benchmem-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// The gate lines of `compare base.json head.json --columns peak --fail-on GATE`.
fn gate(g: &str) -> (i32, String) {
    let r = bm(&[
        "compare",
        "base.json",
        "head.json",
        "--columns",
        "peak",
        "--fail-on",
        g,
    ]);
    (r.status, r.stderr)
}

#[test]
fn a_gate_of_two_parts_fails_only_past_both() {
    // pytest-benchmem 0.5.5, same files, --fail-on peak:20%+8MiB: "1 regression(s) over
    // threshold: peak test_b[legacy-1000]: 40 MiB → 48 MiB (+20.0%)", exit 1. benchmem
    // writes the growth as exactly as it takes to read past each line.
    assert_eq!(
        gate("peak:20%+8MiB"),
        (
            1,
            "1 regression over threshold (head vs base):\n\
             peak  test_b[legacy-1000]: 40.0 MiB → 48.0 MiB (+20.000002% > 20% and +8,388,609 B > 8.00 MiB)\n"
                .to_string()
        )
    );
    // Each part alone would fail more: the percentage (all but fast-100 and legacy-100,
    // which are exactly on 20%) ...
    let (status, err) = gate("peak:20%");
    assert_eq!(status, 1);
    assert_eq!(
        err.lines().next(),
        Some("3 regressions over threshold (head vs base):")
    );
    assert!(
        err.contains("test_rows:")
            && err.contains("test_b[fast-1000]:")
            && err.contains("test_b[legacy-1000]:"),
        "{err}"
    );
    // ... and the amount (all that grew by more than 8 MiB: fast-100 and legacy-1000).
    let (status, err) = gate("peak:8MiB");
    assert_eq!(status, 1);
    assert_eq!(
        err.lines().next(),
        Some("2 regressions over threshold (head vs base):")
    );
    assert!(
        err.contains("test_b[fast-100]:") && err.contains("test_b[legacy-1000]:"),
        "{err}"
    );
    let passed = (0, "gates passed: 6 checks of head vs base\n".to_string());
    // Either side of the amount: legacy-1000 grew by 8 MiB + 1 B (and 20.000002%).
    assert_eq!(gate("peak:20%+8193KiB"), passed);
    // Either side of the percentage: fast-1000 grew by 200% (and 2 MiB).
    assert_eq!(
        gate("peak:199%+1KiB"),
        (
            1,
            "1 regression over threshold (head vs base):\n\
             peak  test_b[fast-1000]: 1.00 MiB → 3.00 MiB (+200.0% > 199% and +2.00 MiB > 1.00 KiB)\n"
                .to_string()
        )
    );
    assert_eq!(gate("peak:200%+1KiB"), passed);
    // :strict compares the whole series the same way.
    assert_eq!(gate("peak:199%+1KiB:strict").0, 1);
    assert_eq!(gate("peak:200%+1KiB:strict"), passed);
    assert_eq!(
        refused(&["base.json", "head.json", "--fail-on", "peak:20%+"]),
        "error: invalid value 'peak:20%+' for '--fail-on <METRIC:THRESHOLD[:strict]>': 'peak:20%+': a threshold of two parts is PCT%+AMOUNT, e.g. peak:20%+8MiB (growth past both fails)"
    );
}

#[test]
fn rss_is_shown_and_gated_where_measured() {
    // pytest-benchmem 0.5.5: rss:10% passes (40 → 44 MiB is +10.0%), rss:9% fails.
    let r = bm(&[
        "compare",
        "base.json",
        "head.json",
        "--columns",
        "peak",
        "--fail-on",
        "rss:10%",
    ]);
    assert_eq!(
        (r.status, r.stderr.as_str()),
        (0, "gates passed: 1 check of head vs base\n")
    );
    let r = bm(&[
        "compare",
        "base.json",
        "head.json",
        "--columns",
        "peak",
        "--fail-on",
        "rss:9%",
    ]);
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert_eq!(
        r.err_lines(),
        [
            "1 regression over threshold (head vs base):",
            "rss  test_iso: 40.0 MiB → 44.0 MiB (+10.0% > 9%)"
        ]
    );
    let r = bm(&[
        "compare",
        "base.json",
        "head.json",
        "--columns",
        "peak",
        "--max",
        "rss:43MiB",
    ]);
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert_eq!(r.err_lines()[1], "rss  test_iso: 44.0 MiB (limit 43.0 MiB)");
    // Only the benchmarks that have rss: pytest-benchmem 0.5.5 shows test_iso alone too.
    assert_eq!(
        table(&["base.json", "head.json", "--columns", "rss"]),
        [
            "╭───────────┬──────┬─────────────╮",
            "│ benchmark │ run  │   rss (MiB) │",
            "├───────────┼──────┼─────────────┤",
            "│ test_iso  │ base │ 40.0 (1.00) │",
            "│           │ head │ 44.0 (1.10) │",
            "╰───────────┴──────┴─────────────╯",
            "values: min over each run's repeats; (N.NN): multiple of the best run; memory in binary units",
        ]
    );
    // A run without rss: its absence is said, never a gate that cannot fail.
    let why = "the pytest plugin records rss for benchmarks marked @pytest.mark.benchmem(isolate=True), each pass in a process of its own";
    assert_eq!(
        refused(&["base.json", "norss.json", "--fail-on", "rss:10%"]),
        format!("benchmem: --fail-on rss:10%: norss.json has no rss measurements ({why})")
    );
    assert_eq!(
        refused(&["norss.json", "--columns", "rss"]),
        format!("benchmem: none of the runs measured rss ({why})")
    );
    let lines = table(&["norss.json", "--columns", "peak,rss"]);
    assert_eq!(
        lines.last().unwrap(),
        &format!("rss: not recorded in these runs: {why}")
    );
}

#[test]
fn labels_of_files_of_one_name() {
    // pytest-benchmem 0.5.5 labels p/x/run.json, q/x/run.json and run.json "x/run", "x/run"
    // and "/run", and merges the first two into one series.
    let dir = runs().dir.path();
    for (to, from) in [
        ("p/x/run.json", "base.json"),
        ("q/x/run.json", "head.json"),
        ("run.json", "head.json"),
    ] {
        std::fs::create_dir_all(dir.join(to).parent().unwrap()).unwrap();
        std::fs::copy(dir.join(from), dir.join(to)).unwrap();
    }
    let lines = table(&[
        "p/x/run.json",
        "q/x/run.json",
        "run.json",
        "--columns",
        "peak",
    ]);
    assert_eq!(
        &lines[3..6],
        [
            "│ test_rows           │ p/x/run │ 30.0 (1.00) │",
            "│                     │ q/x/run │ 38.0 (1.27) │",
            "│                     │ run     │ 38.0 (1.27) │",
        ]
    );
}

#[test]
fn rss_as_the_pytest_plugin_records_it() {
    // benchmem's own plugin, isolating each pass in a process of its own: the rss it saves
    // (extra_info.benchmem.rss_bytes) is what compare shows and gates.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("test_iso.py"),
        "import pytest\n\n\
         def big(n):\n    return bytearray(n)\n\n\
         @pytest.mark.benchmem(isolate=True)\n\
         def test_big(benchmark):\n    benchmark(big, 8 << 20)\n\n\
         def test_small(benchmark):\n    benchmark(big, 1 << 10)\n",
    )
    .unwrap();
    let o = Command::new(python())
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "test_iso.py",
            "--benchmark-memory",
            "--benchmark-memory-repeats=2",
            "--benchmark-json=iso.json",
            "--benchmark-max-time=0.00001",
        ])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(dir.path())
        .output()
        .expect("pytest runs");
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("iso.json")).unwrap())
            .unwrap();
    let rss: Vec<u64> = saved["benchmarks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "test_big")
        .unwrap()["extra_info"]["benchmem"]["rss_bytes"]
        .as_array()
        .expect("the plugin saves rss_bytes of an isolated benchmark")
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let min = *rss.iter().min().unwrap();
    // The process held the 8 MiB buffer: its resident high-water is past it.
    assert!(min > 8 * MIB, "{rss:?}");
    let csv = dir.path().join("iso.csv");
    let r = benchmem_in(
        dir.path(),
        &[
            "compare",
            "iso.json",
            "--columns",
            "rss",
            "--csv",
            "iso.csv",
        ],
        &[("COLUMNS", "200")],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    // Only the isolated benchmark has rss.
    assert_eq!(r.lines()[3].split('│').nth(1).unwrap().trim(), "test_big");
    assert_eq!(r.lines().len(), 6, "{}", r.stdout);
    assert_eq!(
        std::fs::read_to_string(&csv).unwrap(),
        format!("id,rss:min:iso\ntest_iso.py::test_big,{min}\ntest_iso.py::test_small,\n")
    );
    let limit = format!("rss:{}B", min - 1);
    let r = benchmem_in(
        dir.path(),
        &["compare", "iso.json", "--columns", "peak", "--max", &limit],
        &[("COLUMNS", "200")],
    );
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert_eq!(r.err_lines()[0], "1 regression over threshold (iso):");
    let limit = format!("rss:{min}B");
    let r = benchmem_in(
        dir.path(),
        &["compare", "iso.json", "--columns", "peak", "--max", &limit],
        &[("COLUMNS", "200")],
    );
    assert_eq!(
        (r.status, r.stderr.as_str()),
        (0, "gates passed: 1 check of iso\n")
    );
}
