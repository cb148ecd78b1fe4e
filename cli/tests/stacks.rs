//! `where` and `flamegraph` on stack data made from hand-built record streams (replayed by
//! the launcher's own replay, saved as `run --stacks --json` saves): tables, shares,
//! changes between runs, folded stacks, flame graph files, a directory of saved runs, and
//! one line with exit status 2 for every bad input.

mod common;

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use benchmem_cli::save_run;
use benchmem_launcher::stacks::{Replay, attach};
use benchmem_launcher::{Exit, RunResult, Sample, Series, SeriesKind};
use benchmem_wire::stacks::{Record, Words, py_frame};
use common::benchmem_in;

/// Stack `id` of Python frames (code, line), innermost first, as record bytes.
fn frames(fr: &[(u32, u32)]) -> Vec<u8> {
    fr.iter()
        .flat_map(|&(c, l)| py_frame(c, l).to_le_bytes())
        .collect()
}

/// A program whose region `load` calls `parse` (allocating `parse_bytes`, then freeing
/// it) and keeps two buffers of its own; the root also allocates 100 bytes in `main`.
fn result(parse_bytes: u64, started: u64) -> RunResult {
    let s1 = frames(&[(3, 20), (2, 10), (1, 5)]);
    let s2 = frames(&[(2, 12), (1, 5)]);
    let s3 = frames(&[(1, 7)]);
    let recs = [
        Record::Process {
            base_epoch: 1,
            pid: 4242,
        },
        Record::PyCode {
            id: 1,
            first_line: 1,
            name: b"main",
            file: b"bench.py",
        },
        Record::PyCode {
            id: 2,
            first_line: 9,
            name: b"load",
            file: b"bench.py",
        },
        Record::PyCode {
            id: 3,
            first_line: 19,
            name: b"parse",
            file: b"bench.py",
        },
        Record::Stack {
            id: 1,
            frames: Words::from_bytes(&s1),
        },
        Record::Stack {
            id: 2,
            frames: Words::from_bytes(&s2),
        },
        Record::Stack {
            id: 3,
            frames: Words::from_bytes(&s3),
        },
        Record::Alloc {
            stack: 3,
            size: 100,
        },
        Record::RegionBegin {
            id: 1,
            epoch: 2,
            name: b"load",
        },
        Record::Alloc {
            stack: 1,
            size: parse_bytes,
        },
        Record::Alloc {
            stack: 2,
            size: 500,
        },
        Record::Free {
            stack: 1,
            size: parse_bytes,
            epoch: 2,
        },
        Record::Alloc {
            stack: 2,
            size: 300,
        },
        Record::RegionEnd { id: 1 },
    ];
    let mut r = Replay::new(0, 4242, 0, "bench".into());
    for rec in &recs {
        r.apply(rec);
    }
    let img = r.finish(None);
    let sample = |stats| Sample {
        stats,
        duration_ns: Some(1_000_000),
        repeat: 0,
        pid: 4242,
        incomplete: None,
    };
    let root = img.samples.iter().find(|s| s.root).unwrap().totals;
    let load = img
        .samples
        .iter()
        .find(|s| s.name == "load")
        .unwrap()
        .totals;
    let series = vec![
        Series {
            name: "bench".into(),
            kind: SeriesKind::Root,
            samples: vec![sample(root)].into(),
        },
        Series {
            name: "load".into(),
            kind: SeriesKind::Region,
            samples: vec![sample(load)].into(),
        },
    ];
    let stacks = attach(vec![img], &series);
    assert!(stacks.notes.is_empty(), "{:?}", stacks.notes);
    RunResult {
        command: vec!["python3".into(), "bench.py".into()],
        repeats: 1,
        series,
        exit: Exit::Code(0),
        started: UNIX_EPOCH + std::time::Duration::from_secs(started),
        notes: vec![],
        asked: 1,
        failed: vec![],
        stopped: None,
        main: Some("bench".into()),
        timeline: vec![],
        stacks: Some(stacks),
    }
}

fn saved(dir: &Path, name: &str, parse_bytes: u64) -> PathBuf {
    let path = dir.join(name);
    save_run(&result(parse_bytes, 1_700_000_000), dir, &path).unwrap();
    path
}

fn bm(dir: &Path, args: &[&str]) -> common::Run {
    benchmem_in(dir, args, &[("COLUMNS", "200")])
}

#[test]
fn folded_stacks_outermost_first_with_their_values() {
    let dir = tempfile::tempdir().unwrap();
    saved(dir.path(), "run.json", 1000);
    assert!(dir.path().join("run.stacks.json").is_file());
    let out = bm(
        dir.path(),
        &[
            "where", "run.json", "--region", "load", "--format", "folded",
        ],
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "main (bench.py:5);load (bench.py:10);parse (bench.py:20) 1000\n\
         main (bench.py:5);load (bench.py:12) 500\n"
    );
    let out = bm(
        dir.path(),
        &[
            "where",
            "run.json",
            "--region",
            "load",
            "--format",
            "folded",
            "--metric",
            "allocated",
        ],
    );
    assert_eq!(
        out.stdout,
        "main (bench.py:5);load (bench.py:10);parse (bench.py:20) 1000\n\
         main (bench.py:5);load (bench.py:12) 800\n"
    );
    // Without --region, a run with one region besides its process's root: that region.
    let out = bm(dir.path(), &["where", "run.json", "--format", "folded"]);
    assert_eq!(
        out.stdout,
        "main (bench.py:5);load (bench.py:10);parse (bench.py:20) 1000\n\
         main (bench.py:5);load (bench.py:12) 500\n"
    );
    // With more than one region: every one, each stack under its region's name. (The
    // root made a region of the program's: the run is otherwise the same.)
    let path = dir.path().join("run.json");
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text.matches("\"benchmem_kind\": \"process\"").count(),
        1,
        "{text}"
    );
    std::fs::write(
        &path,
        text.replace(
            "\"benchmem_kind\": \"process\"",
            "\"benchmem_kind\": \"region\"",
        ),
    )
    .unwrap();
    let out = bm(dir.path(), &["where", "run.json", "--format", "folded"]);
    assert_eq!(
        out.stdout,
        "bench;main (bench.py:5);load (bench.py:10);parse (bench.py:20) 1000\n\
         bench;main (bench.py:5);load (bench.py:12) 500\n\
         bench;main (bench.py:7) 100\n\
         load;main (bench.py:5);load (bench.py:10);parse (bench.py:20) 1000\n\
         load;main (bench.py:5);load (bench.py:12) 500\n"
    );
}

#[test]
fn sites_with_their_share_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    saved(dir.path(), "run.json", 1000);
    let out = bm(dir.path(), &["where", "run.json", "--region", "load"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let lines = out.lines();
    let parse = lines
        .iter()
        .find(|l| l.contains("parse (bench.py:20)"))
        .unwrap();
    assert!(
        parse.contains("1,000 B") && parse.contains("66.7%"),
        "{parse}"
    );
    assert!(
        parse.contains("load (bench.py:10) ← main (bench.py:5)"),
        "{parse}"
    );
    let load = lines
        .iter()
        .find(|l| l.contains("load (bench.py:12)"))
        .unwrap();
    assert!(load.contains("33.3%"), "{load}");
    assert!(out.stdout.contains("load: peak 1.46 KiB"), "{}", out.stdout);

    let out = bm(
        dir.path(),
        &[
            "where",
            "run.json",
            "--region",
            "load",
            "--format",
            "csv",
            "--metric",
            "allocations",
        ],
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(
        out.lines(),
        vec![
            "site,allocations,share,called from",
            "load (bench.py:12),2,66.7%,main (bench.py:5)",
            "parse (bench.py:20),1,33.3%,load (bench.py:10) ← main (bench.py:5)",
        ]
    );
    let out = bm(
        dir.path(),
        &[
            "where", "run.json", "--region", "load", "--format", "md", "--top", "1",
        ],
    );
    assert!(
        out.stdout.contains("| parse (bench.py:20) |"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("bench.py:12"), "{}", out.stdout);
    assert!(
        out.stdout.contains("1 more sites hold 500 B (33.3%)"),
        "{}",
        out.stdout
    );
}

#[test]
fn two_runs_show_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    saved(dir.path(), "base.json", 1000);
    saved(dir.path(), "head.json", 3000);
    let out = bm(
        dir.path(),
        &[
            "where",
            "base.json",
            "head.json",
            "--region",
            "load",
            "--format",
            "csv",
        ],
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(
        out.lines(),
        vec![
            "site,called from,base,head,change",
            "parse (bench.py:20),load (bench.py:10) ← main (bench.py:5),1000,3000,200",
        ]
    );
    let out = bm(
        dir.path(),
        &["where", "base.json", "base.json", "--region", "load"],
    );
    assert!(
        out.stdout.contains("no site's peak changed"),
        "{}",
        out.stdout
    );
}

#[test]
fn flame_graph_files_are_whole_and_self_contained() {
    let dir = tempfile::tempdir().unwrap();
    saved(dir.path(), "base.json", 1000);
    saved(dir.path(), "head.json", 3000);
    let out = bm(dir.path(), &["flamegraph", "base.json", "--region", "load"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let svg = std::fs::read_to_string(dir.path().join("base.flamegraph.svg")).unwrap();
    assert!(svg.starts_with("<?xml"));
    assert!(svg.contains("parse (bench.py:20)"));
    assert!(svg.contains("<script"), "interactive");
    assert!(
        !svg.contains("src=\"http") && !svg.contains("href=\"http"),
        "no remote resource"
    );
    let out = bm(
        dir.path(),
        &["flamegraph", "base.json", "head.json", "-o", "diff.html"],
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    let html = std::fs::read_to_string(dir.path().join("diff.html")).unwrap();
    assert!(
        html.starts_with("<!DOCTYPE html>") && html.contains("<svg "),
        "the SVG inline"
    );
    assert!(!html.contains("<?xml"), "no XML prolog inside HTML");
    // Grown red, shrunk blue: the site that tripled is drawn in a red, and in a blue when
    // the runs are swapped.
    let fill_of = |svg: &str| -> String {
        let at = svg
            .find("<title>parse (bench.py:20)")
            .expect("the site's frame");
        let rest = &svg[at..];
        let f = rest.find("fill=\"").expect("a fill") + 6;
        rest[f..f + rest[f..].find('"').unwrap()].to_string()
    };
    let out = bm(
        dir.path(),
        &["flamegraph", "base.json", "head.json", "-o", "grown.svg"],
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    let grown = fill_of(&std::fs::read_to_string(dir.path().join("grown.svg")).unwrap());
    assert!(grown.starts_with("rgb(255,"), "{grown}");
    let out = bm(
        dir.path(),
        &["flamegraph", "head.json", "base.json", "-o", "shrunk.svg"],
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    let shrunk = fill_of(&std::fs::read_to_string(dir.path().join("shrunk.svg")).unwrap());
    assert!(shrunk.ends_with(",255)"), "{shrunk}");
    // Nothing half-written is left beside them.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
}

#[test]
fn a_directory_of_runs_gives_one_profile() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("profiles");
    std::fs::create_dir(&runs).unwrap();
    saved(&runs, "test_small.json", 1000);
    saved(&runs, "test_big.json", 5000);
    // Two runs, one region each: a name or --worst must pick one.
    let out = bm(dir.path(), &["flamegraph", "profiles"]);
    assert_eq!(out.status, 2);
    assert!(out.stderr.contains("profiles match"), "{}", out.stderr);
    let out = bm(
        dir.path(),
        &[
            "flamegraph",
            "profiles",
            "--worst",
            "peak",
            "-o",
            "worst.svg",
        ],
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    let svg = std::fs::read_to_string(dir.path().join("worst.svg")).unwrap();
    assert!(svg.contains("5,000 bytes"), "the big run's parse");
    let out = bm(dir.path(), &["flamegraph", "profiles", "nothing-like-it"]);
    assert_eq!(out.status, 2);
    assert!(out.stderr.contains("no profile matches"), "{}", out.stderr);
}

#[test]
fn bad_input_is_one_line_and_status_2() {
    let dir = tempfile::tempdir().unwrap();
    saved(dir.path(), "run.json", 1000);
    // A run saved without --stacks.
    std::fs::copy(dir.path().join("run.json"), dir.path().join("plain.json")).unwrap();
    let out = bm(dir.path(), &["where", "plain.json"]);
    assert_eq!(out.status, 2);
    assert_eq!(
        out.err_lines(),
        vec![
            "benchmem: plain.json has no stack data: record it with `benchmem run --stacks --json plain.json -- ...`"
        ]
    );
    let out = bm(dir.path(), &["flamegraph", "plain.json"]);
    assert_eq!(out.status, 2);
    assert_eq!(out.err_lines().len(), 1, "{}", out.stderr);
    // A corrupt sidecar.
    std::fs::write(
        dir.path().join("plain.stacks.json"),
        "{\"benchmem_stacks\": 1, ",
    )
    .unwrap();
    let out = bm(dir.path(), &["where", "plain.json"]);
    assert_eq!(out.status, 2);
    assert_eq!(out.err_lines().len(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("plain.stacks.json"), "{}", out.stderr);
    // A sidecar left by another run.
    let other = result(1000, 1_800_000_000);
    save_run(&other, dir.path(), &dir.path().join("other.json")).unwrap();
    std::fs::copy(
        dir.path().join("other.stacks.json"),
        dir.path().join("plain.stacks.json"),
    )
    .unwrap();
    let out = bm(dir.path(), &["where", "plain.json"]);
    assert_eq!(out.status, 2);
    assert!(
        out.stderr.contains("belongs to another run"),
        "{}",
        out.stderr
    );
    // Unknown region, bad sample, time.
    for (args, says) in [
        (
            &["where", "run.json", "--region", "nope"][..],
            "no benchmark named",
        ),
        (
            &["where", "run.json", "--region", "load", "--sample", "3"][..],
            "has 1 samples",
        ),
        (
            &["where", "run.json", "--metric", "time"][..],
            "--metric time: stacks split the heap's figures",
        ),
        (
            &["where", "run.json", "run.json", "--format", "folded"][..],
            "one run",
        ),
    ] {
        let out = bm(dir.path(), args);
        assert_eq!(out.status, 2, "{args:?}");
        assert_eq!(out.err_lines().len(), 1, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
    // An output that cannot be written leaves nothing behind.
    let out = bm(
        dir.path(),
        &["flamegraph", "run.json", "-o", "no/such/dir/x.svg"],
    );
    assert_eq!(out.status, 2, "{}", out.stderr);
}
