//! A Python program's call sites end to end through the cli: `benchmem run --stacks` on
//! `python3 prog.py`, read back with `benchmem where`: the Python functions that asked,
//! with their lines, the exact bytes, and a region's sites adding up to its figures.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use benchmem_tests::{Blob, benchmem, bm, python, root, run_limited};

const PROG: &str = "\
from pytest_benchmem import region


def inner():
    return bytearray(10_000_000)  # at:inner


def outer():
    return inner()  # at:outer


with region(\"work\"):
    kept = outer()
del kept
";

/// Line of the `# at:NAME` marker in [`PROG`].
fn line_of(name: &str) -> usize {
    let tag = format!("# at:{name}");
    PROG.lines().position(|l| l.contains(&tag)).unwrap() + 1
}

/// `where r.json --region work --format folded --metric METRIC`, as (stack, value).
fn folded(dir: &Path, metric: &str) -> Vec<(String, u64)> {
    let run = dir.join("r.json");
    let out = bm(&[
        "where",
        run.to_str().unwrap(),
        "--region",
        "work",
        "--format",
        "folded",
        "--metric",
        metric,
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    out.stdout
        .lines()
        .map(|l| {
            let (stack, v) = l.rsplit_once(' ').unwrap_or_else(|| panic!("{l:?}"));
            (stack.to_string(), v.parse().unwrap())
        })
        .collect()
}

/// Whether `frame` is Python function `name` of prog.py at its `# at:NAME` line. The file
/// is the code's own `co_filename`: the script's path as the interpreter made it
/// (absolute since Python 3.9).
fn is_at(frame: &str, name: &str) -> bool {
    let line = line_of(name);
    frame == format!("{name} (prog.py:{line})")
        || (frame.starts_with(&format!("{name} (/"))
            && frame.ends_with(&format!("/prog.py:{line})")))
}

/// CPython's allocator entry points, which are never where a program asked.
fn is_cpython_allocator(frame: &str) -> bool {
    let f = frame.split(" (").next().unwrap();
    [
        "PyMem_",
        "_PyMem_",
        "PyObject_Malloc",
        "_PyObject_Malloc",
        "pymalloc_",
    ]
    .iter()
    .any(|p| f.starts_with(p))
}

#[test]
fn python_functions_and_lines_with_exact_bytes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("prog.py"), PROG).unwrap();
    let mut cmd = Command::new(benchmem());
    cmd.current_dir(dir.path())
        // This checkout's package, whatever the interpreter has installed.
        .env("PYTHONPATH", root().join("python"))
        .env("COLUMNS", "10000")
        .args(["run", "--stacks", "--json", "r.json", "--"])
        .arg(python())
        .arg("prog.py");
    let out = run_limited(&mut cmd, Duration::from_secs(60));
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(dir.path().join("r.stacks.json").is_file(), "{out:?}");
    assert!(!out.stderr.contains("note: stacks:"), "{}", out.stderr);

    let peak = folded(dir.path(), "peak");
    let (stack, v) = peak
        .iter()
        .find(|(s, _)| s.split(';').any(|f| is_at(f, "inner")))
        .unwrap_or_else(|| panic!("no inner at its line: {peak:?}"));
    assert_eq!(*v, 10_000_001, "{stack}");
    let frames: Vec<&str> = stack.split(';').collect();
    let at = frames.iter().position(|f| is_at(f, "inner")).unwrap();
    assert!(is_at(frames[at - 1], "outer"), "{stack}");
    // The folded stacks keep the frames of the interpreter below the Python line.
    assert!(at + 1 < frames.len(), "{stack}");

    // Where the memory goes, by site: the object's own code below `inner`, never
    // CPython's allocator it reached.
    let run = dir.path().join("r.json");
    let csv = bm(&[
        "where",
        run.to_str().unwrap(),
        "--region",
        "work",
        "--format",
        "csv",
    ]);
    assert_eq!(csv.code(), 0, "{csv:?}");
    let row = csv.stdout.lines().nth(1).unwrap();
    let (site, rest) = row.split_once(',').unwrap();
    assert!(rest.starts_with("10000001,100.0%,"), "{row}");
    assert!(!is_cpython_allocator(site), "{row}");
    assert!(frames[at + 1..].contains(&site), "{site} in {stack}");

    // The region's sites add up to its four figures.
    let blob = Blob::read(&run);
    let s = blob.series("work");
    assert_eq!(s.peak, vec![10_000_001]);
    for (metric, want) in [
        ("peak", s.peak[0]),
        ("allocated", s.total[0]),
        ("allocations", s.allocs[0]),
        ("retained", s.retained[0]),
    ] {
        let got: u64 = folded(dir.path(), metric).iter().map(|x| x.1).sum();
        assert_eq!(got, want, "work: {metric} by site");
    }
}
