//! Tables that fit: every line benchmem prints fits the width of where it goes (`COLUMNS`,
//! else the terminal's, else 80), a metric with no spread is one column, names break
//! over lines instead of widening the table, wide tables stack.

mod common;

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, UNIX_EPOCH};

use benchmem_cli::run_document;
use benchmem_launcher::{Exit, RunResult, Sample, Series, SeriesKind, Stats};
use common::benchmem_in;
use serde_json::Value;

const LONG: &str =
    "tests/integration/test_parser.py::TestLargeDocuments::test_parse_nested[depth=64-width=1024]";

fn sample(peak: u64, ms: u64, repeat: usize) -> Sample {
    Sample {
        stats: Stats {
            peak_bytes: peak,
            total_bytes: 3 << 20,
            allocations: 9001,
            retained_bytes: 0,
        },
        duration_ns: Some(ms * 1_000_000),
        repeat,
        pid: 100,
        incomplete: None,
    }
}

/// Three repeats of a program (9.50 MiB, its root row) and two regions: `load`, whose
/// peak varies, and one with a long name; every other metric is the same in each repeat.
fn run() -> Value {
    let series = |name: &str, kind, peaks: [u64; 3]| Series {
        name: name.into(),
        kind,
        samples: (0..3).map(|i| sample(peaks[i], 10 + i as u64, i)).collect(),
    };
    let result = RunResult {
        command: vec!["./prog".into()],
        repeats: 3,
        series: vec![
            series("prog", SeriesKind::Root, [9962496; 3]),
            series("load", SeriesKind::Region, [8192, 8192, 12288]),
            series(LONG, SeriesKind::Region, [1048576; 3]),
        ],
        exit: Exit::Code(0),
        started: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        notes: vec![],
        asked: 3,
        failed: vec![],
        stopped: None,
        main: Some("prog".into()),
        timeline: vec![],
        stacks: None,
    };
    run_document(&result, Path::new("/nonexistent"))
}

fn files() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("run.json"), run().to_string()).unwrap();
    dir
}

/// Characters on screen (box drawing and `·` count one each).
fn columns(line: &str) -> usize {
    line.chars().count()
}

fn assert_fits(text: &str, width: usize) {
    for line in text.lines() {
        assert!(
            columns(line) <= width,
            "wider than {width}: {line:?}\n{text}"
        );
    }
}

#[test]
fn without_a_terminal_or_columns_lines_fit_80_and_flat_metrics_take_one_column() {
    let dir = files();
    let r = benchmem_in(dir.path(), &["show", "run.json"], &[]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_fits(&r.stdout, 80);
    let header = r.lines()[1];
    // peak spreads (load varies); allocated and allocs do not.
    assert!(header.contains("peak·min"), "{}", r.stdout);
    assert!(header.contains("│ allocated "), "{}", r.stdout);
    assert!(!header.contains("allocated·"), "{}", r.stdout);
    let prose: String = r.lines()[12..]
        .iter()
        .map(|l| l.trim())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        prose.contains(
            "no spread in allocated and allocs: every repeat measured the same, one column each"
        ),
        "{}",
        r.stdout
    );
    // Three figures and the unit each value reads best in: never 9,729 KiB.
    assert!(r.stdout.contains("9.50 MiB"), "{}", r.stdout);
    assert!(!r.stdout.contains("9,729"), "{}", r.stdout);
    // The long name breaks over lines; CSV and the file keep it whole.
    assert!(!r.stdout.contains(LONG), "{}", r.stdout);
    assert!(r.stdout.contains("│ tests/integration/"), "{}", r.stdout);
    let csv = benchmem_in(dir.path(), &["show", "run.json", "--format", "csv"], &[]);
    assert!(
        csv.stdout.contains(&format!("\n{LONG},{LONG},")),
        "{}",
        csv.stdout
    );
    assert_eq!(
        csv.lines()[0],
        "name,fullname,peak:min,peak:mean,peak:max,allocated:min,allocated:mean,allocated:max,allocations:min,allocations:mean,allocations:max"
    );
    assert_fits(&csv.stderr, 80);
}

#[test]
fn columns_sets_the_width_and_wide_tables_stack() {
    let dir = files();
    for width in [40usize, 60, 100, 200] {
        let w = width.to_string();
        let r = benchmem_in(
            dir.path(),
            &[
                "show",
                "run.json",
                "--columns",
                "peak,allocated,allocs,retained,time",
                "--stats",
                "min,mean,max,stddev",
            ],
            &[("COLUMNS", w.as_str())],
        );
        assert_eq!(r.status, 0, "{}", r.stderr);
        assert_fits(&r.stdout, width);
        let tables = r.stdout.matches('╭').count();
        if width <= 60 {
            // Too many numbers for one table: several, each naming its rows and units.
            assert!(tables > 1, "{}", r.stdout);
            assert_eq!(r.stdout.matches("│ name ").count(), tables, "{}", r.stdout);
            assert!(
                r.stdout.contains("time·mean (ms)") || r.stdout.contains("(ms)"),
                "{}",
                r.stdout
            );
        }
        if width == 200 {
            assert_eq!(tables, 1, "{}", r.stdout);
        }
    }
    // Below 40 columns nothing can fit: laid out for 40.
    let r = benchmem_in(dir.path(), &["show", "run.json"], &[("COLUMNS", "10")]);
    assert_fits(&r.stdout, 40);
}

#[test]
fn compare_and_its_gates_fit_too() {
    let dir = files();
    let mut head = run();
    for b in head["benchmarks"].as_array_mut().unwrap() {
        let peaks = b["extra_info"]["benchmem"]["peak_bytes"]
            .as_array_mut()
            .unwrap();
        for p in peaks.iter_mut() {
            *p = Value::from(p.as_u64().unwrap() * 2);
        }
    }
    std::fs::write(dir.path().join("head.json"), head.to_string()).unwrap();
    for extra in [&[][..], &["--diff"], &["--stat", "all"]] {
        let mut args = vec!["compare", "run.json", "head.json", "--fail-on", "peak:10%"];
        args.extend_from_slice(extra);
        let r = benchmem_in(dir.path(), &args, &[("COLUMNS", "50")]);
        assert_eq!(r.status, 1, "{}", r.stderr);
        assert_fits(&r.stdout, 50);
        assert_fits(&r.stderr, 50);
        // A broken gate line goes on indented: no line but the headline starts flush.
        let flush: Vec<&str> = r
            .err_lines()
            .into_iter()
            .filter(|l| !l.starts_with(' '))
            .collect();
        assert_eq!(flush.len(), 4, "{}", r.stderr);
    }
}

/// `benchmem show` on a pseudo-terminal `cols` wide, without `COLUMNS`: what it printed.
fn on_a_terminal(dir: &Path, cols: u16) -> String {
    let mut master: libc::c_int = -1;
    let mut slave: libc::c_int = -1;
    let size = libc::winsize {
        ws_row: 50,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty fills the two descriptors; the name buffer and termios may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened and are owned here alone.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut child = Command::new(env!("CARGO_BIN_EXE_benchmem"))
        .args(["show", "run.json"])
        .current_dir(dir)
        .env_remove("COLUMNS")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave))
        .spawn()
        .expect("benchmem starts");
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let mut f = std::fs::File::from(master);
        let mut buf = [0u8; 4096];
        // EIO once the child is gone and the last slave closed.
        while let Ok(n) = f.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        out
    });
    let status = child.wait().unwrap();
    assert!(status.success());
    let out = reader.join().unwrap();
    String::from_utf8(out).unwrap().replace("\r\n", "\n")
}

#[test]
fn a_terminal_gives_its_width() {
    let dir = files();
    let narrow = on_a_terminal(dir.path(), 56);
    assert_fits(&narrow, 56);
    assert!(narrow.lines().any(|l| columns(l) > 48), "{narrow}");
    let wide = on_a_terminal(dir.path(), 180);
    assert_fits(&wide, 180);
    // At 180 the caption is one line and the long name whole.
    assert!(wide.contains(LONG), "{wide}");
}
