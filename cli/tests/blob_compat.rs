//! A run as `benchmem run` saves it: built from a hand-made RunResult, written by blob.rs,
//! then read back by pytest-benchmark's own `compare` and by `benchmem show`.

mod common;

use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};

use benchmem_cli::{run_document, run_report};
use benchmem_launcher::{
    Exit, Incomplete, Note, Problem, RunResult, Sample, Series, SeriesKind, SilentEnd, Stats,
};
use common::{benchmem_in, python};
use serde_json::{Value, json};

fn sample(
    peak: u64,
    total: u64,
    allocs: u64,
    ms: u64,
    repeat: usize,
    incomplete: Option<Incomplete>,
) -> Sample {
    Sample {
        stats: Stats {
            peak_bytes: peak,
            total_bytes: total,
            allocations: allocs,
            retained_bytes: 0,
        },
        duration_ns: Some(ms * 1_000_000),
        repeat,
        pid: 4242 + repeat as u32,
        incomplete,
    }
}

fn result(exit: Exit) -> RunResult {
    RunResult {
        command: vec!["./prog".into(), "--fast".into()],
        repeats: 2,
        series: vec![
            Series {
                name: "prog".into(),
                kind: SeriesKind::Root,
                samples: vec![
                    sample(1221536, 308357376, 9001, 1500, 0, None),
                    sample(1221536, 308357376, 9001, 1250, 1, None),
                ]
                .into(),
            },
            Series {
                name: "load".into(),
                kind: SeriesKind::Region,
                samples: vec![
                    sample(1048576, 2097152, 2, 500, 0, None),
                    sample(
                        1048576,
                        2097152,
                        2,
                        750,
                        1,
                        Some(Incomplete::NeverClosed(Some(SilentEnd::Killed {
                            signal: 9,
                        }))),
                    ),
                ]
                .into(),
            },
        ],
        exit,
        started: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        notes: vec![],
        asked: 2,
        failed: vec![],
        stopped: None,
        main: Some("prog".into()),
        timeline: vec![],
        stacks: None,
    }
}

/// What `run` prints, and `show` of the saved run, where nothing says how wide the
/// terminal is: 80 columns. Both metrics are the same in every repeat: one column each.
const TABLE: [&str; 12] = [
    "╭────────┬────────────┬─────────────────┬────────╮",
    "│ name   │ peak (MiB) │ allocated (MiB) │ allocs │",
    "├────────┼────────────┼─────────────────┼────────┤",
    "│ prog   │       1.16 │             294 │  9,001 │",
    "│ load * │       1.00 │            2.00 │      2 │",
    "╰────────┴────────────┴─────────────────┴────────╯",
    "memory: exact bytes requested from malloc/mmap inside each region (peak =",
    "  high-water of live bytes, allocated = sum of requests, allocs = allocation",
    "  calls); 2 repeats; headline: min; no spread in peak, allocated and allocs:",
    "  every repeat measured the same, one column each",
    "* load: incomplete: repeat 2, pid 4243: region never closed: killed by SIGKILL",
    "  (signal 9): measured up to then",
];

#[test]
fn document_shape() {
    let dir = tempfile::tempdir().unwrap();
    let v: Value = run_document(&result(Exit::Code(0)), dir.path());
    assert_eq!(v["datetime"], "2023-11-14T22:13:20.000000+00:00");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["commit_info"]["id"], "unversioned");
    assert_eq!(v["machine_info"]["system"], "Linux");
    let load = &v["benchmarks"][1];
    assert_eq!(load["name"], "load");
    // Ids carry neither the program's path nor its arguments: two builds compare.
    assert_eq!(load["fullname"], "load");
    assert_eq!(v["benchmarks"][0]["fullname"], "prog");
    assert_eq!(v["benchmem"]["command"], json!(["./prog", "--fast"]));
    assert_eq!(
        v["benchmem"]["commands"],
        json!([{"command": ["./prog", "--fast"], "repeats": 2, "repeats_asked": 2,
                "exit_status": 0, "process_row": "prog", "failed_repeats": []}])
    );
    assert_eq!(load["group"], Value::Null);
    assert_eq!(load["params"], Value::Null);
    assert_eq!(
        load["extra_info"]["benchmem"],
        json!({"peak_bytes": [1048576, 1048576], "total_bytes": [2097152, 2097152],
               "allocations": [2, 2], "retained_bytes": [0, 0]})
    );
    assert_eq!(
        load["extra_info"]["benchmem_incomplete"],
        json!([
            "repeat 2, pid 4243: region never closed: killed by SIGKILL (signal 9): measured up to then"
        ])
    );
    // A stable code beside each text, in the same order.
    assert_eq!(
        load["extra_info"]["benchmem_incomplete_codes"],
        json!(["never_closed"])
    );
    let st = &load["stats"];
    assert_eq!(
        (st["min"].as_f64(), st["max"].as_f64(), st["mean"].as_f64()),
        (Some(0.5), Some(0.75), Some(0.625))
    );
    assert_eq!(
        (st["rounds"].as_u64(), st["iterations"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(st["data"], json!([0.5, 0.75]));
    assert_eq!(st["ops"].as_f64(), Some(1.6));
    assert_eq!(st["outliers"], "0;0");
    for key in ["benchmem_incomplete", "benchmem_incomplete_codes"] {
        assert!(v["benchmarks"][0]["extra_info"].get(key).is_none());
    }
    assert_eq!(v["benchmem"]["notes"], json!([]));
    assert_eq!(v["benchmem"]["note_codes"], json!([]));
}

#[test]
fn pytest_benchmark_compare_reads_our_file_and_show_prints_the_run_table() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("run.json");
    let res = result(Exit::Code(0));
    let doc = run_document(&res, dir.path());
    std::fs::write(&file, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();

    let out = Command::new(python())
        .args([
            "-m",
            "pytest_benchmark",
            "compare",
            "--columns=min,max,mean,rounds",
            "--group-by=name",
        ])
        .arg(&file)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(dir.path())
        .output()
        .expect("pytest-benchmark compare runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "pytest-benchmark compare failed:\n{stdout}\n{stderr}"
    );
    // One table per region name, each with our row and its wall times in seconds.
    assert!(stdout.contains("benchmark 'load': 1 tests"), "{stdout}");
    assert!(stdout.contains("benchmark 'prog': 1 tests"), "{stdout}");
    let load_row = stdout
        .lines()
        .find(|l| l.starts_with("load "))
        .unwrap_or_else(|| panic!("no row for load in:\n{stdout}"));
    let cells: Vec<&str> = load_row.split_whitespace().collect();
    let load_rows = stdout.lines().filter(|l| l.starts_with("load ")).count();
    assert_eq!(load_rows, 1, "one row for region load:\n{stdout}");
    assert!(
        stdout.contains("Min") && stdout.contains("Rounds"),
        "{stdout}"
    );
    assert_eq!(
        cells.last().copied(),
        Some("2"),
        "rounds of load: {load_row}"
    );

    let shown = benchmem_in(dir.path(), &["show", "run.json"], &[]);
    assert_eq!(shown.status, 0, "{}", shown.stderr);
    assert_eq!(shown.lines(), TABLE.to_vec());
}

/// `benchmem run`'s terminal report of `res`, with the default columns and spread.
fn report_of(res: &RunResult) -> String {
    let dir = tempfile::tempdir().unwrap();
    run_report(res, dir.path())
}

#[test]
fn run_report_matches_show_and_tells_how_the_command_ended() {
    let text = report_of(&result(Exit::Code(0)));
    assert_eq!(text.lines().collect::<Vec<_>>(), TABLE.to_vec());

    let text = report_of(&result(Exit::Signal(9)));
    assert_eq!(
        text.lines().last(),
        Some("note: ./prog was killed by signal 9 (exit status 137)")
    );

    let mut empty = result(Exit::Code(3));
    empty.series.clear();
    empty.notes.push(Note::Process {
        pid: 4242,
        problem: Problem::SamplesLost { count: 2 },
    });
    let dir = tempfile::tempdir().unwrap();
    let v = run_document(&empty, dir.path());
    assert_eq!(
        (&v["benchmem"]["notes"], &v["benchmem"]["note_codes"]),
        (
            &json!(["pid 4242: 2 region sample(s) lost: benchmem did not drain them in time"]),
            &json!(["samples_lost"])
        )
    );
    let text = report_of(&empty);
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        vec![
            "benchmem: nothing was measured (no process reported a region)",
            "note: pid 4242: 2 region sample(s) lost: benchmem did not drain them in time",
            "note: ./prog exited with status 3",
        ]
    );
}
