//! Call-site attribution end to end: real programs run under `benchmem run --stacks`, their
//! sites read back with `benchmem where --format folded` and compared with what each
//! program knows by construction; every region's per-site figures add up to its four
//! figures; the folded output is the same on every run; flame graphs work in a browser.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use benchmem_tests::{Blob, bm, browser, build_dir, compile, measure};

const METRICS: [&str; 4] = ["peak", "allocated", "allocations", "retained"];

/// `where --format folded` of `region` (all regions when None) for `metric`.
fn folded(run: &Path, region: Option<&str>, metric: &str) -> Vec<(String, u64)> {
    let mut args = vec![
        "where",
        run.to_str().unwrap(),
        "--format",
        "folded",
        "--metric",
        metric,
    ];
    if let Some(r) = region {
        args.extend(["--region", r]);
    }
    let out = bm(&args);
    assert_eq!(out.code(), 0, "{out:?}");
    out.stdout
        .lines()
        .map(|l| {
            let (stack, v) = l.rsplit_once(' ').unwrap_or_else(|| panic!("{l:?}"));
            (stack.to_string(), v.parse().unwrap())
        })
        .collect()
}

/// The function of a frame: its text before ` (file:line)`.
fn function(frame: &str) -> &str {
    frame.split(" (").next().unwrap()
}

/// Figures summed by the innermost frame whose function is `site`.
fn by_site(lines: &[(String, u64)]) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (stack, v) in lines {
        let leaf = stack.rsplit(';').next().unwrap();
        *out.entry(function(leaf).to_string()).or_default() += v;
    }
    out
}

/// Every benchmark's per-site figures add up to its headline figures.
fn sums_hold(run: &Path, blob: &Blob) {
    for name in blob.names() {
        let s = blob.series(&name);
        let want = [s.peak[0], s.total[0], s.allocs[0], s.retained[0]];
        for (m, want) in METRICS.iter().zip(want) {
            let got: u64 = folded(run, Some(&name), m).iter().map(|x| x.1).sum();
            assert_eq!(got, want, "{name}: {m} by site");
        }
    }
}

fn run_stacks(program: &Path) -> (Blob, tempfile::TempDir, PathBuf) {
    let (out, blob, dir) = measure(&["--stacks"], program, &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        !out.stderr.contains("note: stacks:"),
        "the stack data is not whole: {}",
        out.stderr
    );
    let run = dir.path().join("run.json");
    assert!(dir.path().join("run.stacks.json").is_file());
    (blob, dir, run)
}

#[test]
fn sites_of_a_c_program_are_exact() {
    let program = compile("stacks_sites.c", &["-O2"]);
    let (blob, _dir, run) = run_stacks(&program);
    let site = |metric: &str| by_site(&folded(&run, Some("work"), metric));
    let get = |m: &BTreeMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);

    let allocated = site("allocated");
    let allocations = site("allocations");
    let peak = site("peak");
    let retained = site("retained");
    // Churn: ten blocks of 100 bytes, each freed at once; the 4096-byte block from
    // before the region is freed inside it and counts nowhere.
    assert_eq!(get(&allocated, "leaf_a"), 1000);
    assert_eq!(get(&allocations, "leaf_a"), 10);
    assert_eq!(get(&peak, "leaf_a"), 0);
    assert_eq!(get(&retained, "leaf_a"), 0);
    // Held to the end, so live at the peak too.
    for (f, n) in [
        ("leaf_b", 1000),
        ("map_site", 65536),
        ("t_one", 2000),
        ("t_two", 3000),
    ] {
        assert_eq!(get(&allocated, f), n, "{f}");
        assert_eq!(get(&allocations, f), 1, "{f}");
        assert_eq!(get(&peak, f), n, "{f}");
        assert_eq!(get(&retained, f), n, "{f}");
    }
    // The realloc chain: four allocations, only the last block held.
    assert_eq!(get(&allocated, "grow"), 16 + 32 + 64 + 128);
    assert_eq!(get(&allocations, "grow"), 4);
    assert_eq!(get(&peak, "grow"), 128);
    assert_eq!(get(&retained, "grow"), 128);
    // The spike makes the peak and is gone at the end.
    assert_eq!(get(&peak, "spike"), 100000);
    assert_eq!(get(&retained, "spike"), 0);
    // Three nested calls, three distinct stacks of one frame's function.
    let nested: Vec<_> = folded(&run, Some("work"), "allocated")
        .into_iter()
        .filter(|(s, _)| function(s.rsplit(';').next().unwrap()) == "nested")
        .collect();
    assert_eq!(nested.len(), 3, "{nested:?}");
    assert!(nested.iter().all(|(_, v)| *v == 50));
    let depths: Vec<usize> = nested
        .iter()
        .map(|(s, _)| s.split(';').filter(|f| function(f) == "nested").count())
        .collect();
    assert_eq!(depths, vec![1, 2, 3]);
    // Frames carry their source line where debug info says it.
    let any = folded(&run, Some("work"), "allocated");
    assert!(
        any.iter()
            .any(|(s, _)| s.contains("main (") && s.contains("stacks_sites.c:")),
        "{any:?}"
    );
    // The forked child is a process row of its own, with its one site.
    let child = blob
        .names()
        .into_iter()
        .find(|n| n.ends_with("#2"))
        .expect("the child's row");
    assert_eq!(
        by_site(&folded(&run, Some(&child), "allocated")).get("child_site"),
        Some(&777)
    );
    sums_hold(&run, &blob);

    // The table's view of the same sites.
    let out = bm(&[
        "where",
        run.to_str().unwrap(),
        "--region",
        "work",
        "--top",
        "3",
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    let spike = lines.iter().position(|l| l.contains("spike (")).unwrap();
    let map = lines.iter().position(|l| l.contains("map_site (")).unwrap();
    assert!(spike < map, "sites by size: {}", out.stdout);
    assert!(out.stdout.contains("58.2%"), "{}", out.stdout); // 100000 / 171952
    assert!(out.stdout.contains("more sites hold"), "{}", out.stdout);
}

#[test]
fn the_same_program_folds_the_same_every_time() {
    let program = compile("stacks_sites.c", &["-O2"]);
    let (_, _d1, first) = run_stacks(&program);
    let (_, _d2, second) = run_stacks(&program);
    for m in METRICS {
        assert_eq!(folded(&first, None, m), folded(&second, None, m), "{m}");
    }
}

#[test]
fn inlined_calls_are_frames_of_their_own() {
    let program = compile("stacks_inline.cpp", &["-O2"]);
    let (blob, _dir, run) = run_stacks(&program);
    let lines = folded(&run, None, "allocated");
    let (stack, v) = lines
        .iter()
        .find(|(s, _)| s.contains("make_block ("))
        .unwrap_or_else(|| panic!("no inlined frame: {lines:?}"));
    assert_eq!(*v, 4000);
    let frames: Vec<&str> = stack.split(';').collect();
    let inl = frames
        .iter()
        .position(|f| f.starts_with("make_block ("))
        .unwrap();
    assert!(
        frames[inl - 1].starts_with("outer_fn() ("),
        "make_block sits inside outer_fn: {stack}"
    );
    assert!(frames[inl + 1].starts_with("operator new"), "{stack}");
    // `where` shows the site where the program asked, not operator new.
    let out = bm(&["where", run.to_str().unwrap(), "--metric", "allocated"]);
    assert!(
        out.stdout
            .contains("make_block (programs/stacks_inline.cpp:8)"),
        "{}",
        out.stdout
    );
    sums_hold(&run, &blob);
}

#[test]
fn a_rust_program_names_its_functions() {
    let exe = build_dir().join("stacks_rust");
    let src = benchmem_tests::root().join("tests/programs/stacks_rust.rs");
    let status = Command::new("rustc")
        .args(["-g", "-C", "opt-level=2", "-o"])
        .arg(&exe)
        .arg(&src)
        .status()
        .expect("run rustc");
    assert!(status.success());
    let (blob, _dir, run) = run_stacks(&exe);
    let lines = folded(&run, None, "allocated");
    let site: u64 = lines
        .iter()
        .filter(|(s, _)| s.contains("stacks_rust::rust_site ("))
        .map(|x| x.1)
        .sum();
    assert_eq!(site, 12345, "{lines:?}");
    sums_hold(&run, &blob);
}

#[test]
fn a_stripped_program_gives_module_offsets_and_its_figures() {
    let program = compile("stacks_sites.c", &["-O2", "-s"]);
    let (blob, _dir, run) = run_stacks(&program);
    let name = program.file_name().unwrap().to_str().unwrap().to_string();
    let lines = folded(&run, Some("work"), "allocated");
    assert!(
        lines.iter().all(|(s, _)| !s.contains("leaf_a")),
        "names from a stripped file: {lines:?}"
    );
    let values: Vec<u64> = lines
        .iter()
        .filter(|(s, _)| {
            s.rsplit(';')
                .next()
                .unwrap()
                .starts_with(&format!("{name}+0x"))
        })
        .map(|x| x.1)
        .collect();
    for n in [1000, 240, 65536, 100000] {
        assert!(
            values.contains(&n),
            "{n} at a module+offset site: {lines:?}"
        );
    }
    sums_hold(&run, &blob);
}

#[test]
fn flame_graphs_hover_and_zoom_in_a_browser() {
    let program = compile("stacks_sites.c", &["-O2"]);
    let (_, dir, run) = run_stacks(&program);
    let svg = dir.path().join("work.svg");
    let out = bm(&[
        "flamegraph",
        run.to_str().unwrap(),
        "--region",
        "work",
        "-o",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    let work = tempfile::tempdir().unwrap();
    let seen = browser::check_flamegraph(&svg, "spike (", work.path());
    assert!(
        seen.details.contains("spike (") && seen.details.contains("100,000 bytes"),
        "{}",
        seen.details
    );
    assert!(seen.hidden > 0, "the zoom hid no frame");

    // The HTML form carries the same picture and opens offline.
    let html = dir.path().join("work.html");
    let out = bm(&[
        "flamegraph",
        run.to_str().unwrap(),
        "-o",
        html.to_str().unwrap(),
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    let seen = browser::check_flamegraph(&html, "spike (", work.path());
    assert!(seen.details.contains("spike ("), "{}", seen.details);
    assert!(seen.hidden > 0, "the zoom hid no frame in the page");

    // Differential: the same run against itself has nothing grown or shrunk, and draws.
    let diff = dir.path().join("diff.svg");
    let out = bm(&[
        "flamegraph",
        run.to_str().unwrap(),
        run.to_str().unwrap(),
        "--region",
        "work",
        "-o",
        diff.to_str().unwrap(),
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    let seen = browser::check_flamegraph(&diff, "map_site (", work.path());
    assert!(seen.details.contains("map_site ("), "{}", seen.details);
}

#[test]
fn a_killed_process_marks_its_stack_data_incomplete_and_run_shows_the_sites() {
    let program = compile("stacks_killed.c", &["-O2"]);
    // Without --json: the top sites under the table, and the note.
    let out = bm(&["run", "--stacks", "--", program.to_str().unwrap()]);
    assert_eq!(out.code(), 137, "{out:?}");
    assert!(
        out.stderr
            .contains("note: stacks: stack data incomplete: process")
            && out.stderr.contains("ended without closing its stream"),
        "{}",
        out.stderr
    );
    let site = out
        .stderr
        .lines()
        .find(|l| l.contains("main (programs/stacks_killed.c:"))
        .unwrap_or_else(|| panic!("no site under the table: {}", out.stderr));
    assert!(
        site.contains("100.0%") && site.contains("4.00 KiB"),
        "{site}"
    );
}

#[test]
fn every_repeat_has_its_split() {
    let program = compile("stacks_sites.c", &["-O2"]);
    let (out, blob, dir) = measure(&["--stacks", "-n", "2"], &program, &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(blob.series("work").peak.len(), 2);
    let run = dir.path().join("run.json");
    let sample = |n: &str| {
        bm(&[
            "where",
            run.to_str().unwrap(),
            "--region",
            "work",
            "--format",
            "folded",
            "--sample",
            n,
        ])
        .stdout
    };
    let (first, second) = (sample("0"), sample("1"));
    assert!(first.contains("spike ("), "{first}");
    assert_eq!(first, second);
    let out = bm(&["where", run.to_str().unwrap(), "--region", "work"]);
    assert!(
        out.stdout.contains("headline sample 0 of 2"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_program_rebuilt_during_the_run_gives_module_offsets_not_wrong_names() {
    let first = compile("stacks_sites.c", &["-O2"]);
    let other = compile("stacks_sites.c", &["-O1"]);
    let dir = tempfile::tempdir().unwrap();
    let prog = dir.path().join("prog");
    std::fs::copy(&first, &prog).unwrap();
    // The program runs, then another build takes its place before benchmem names frames.
    let script = format!(
        "{p} && cp {o} {p}.new && mv {p}.new {p}",
        p = prog.display(),
        o = other.display()
    );
    let json = dir.path().join("run.json");
    let out = bm(&[
        "run",
        "--stacks",
        "--json",
        json.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr.contains("rebuilt since it ran"),
        "the run says why frames are addresses: {}",
        out.stderr
    );
    let lines = folded(&json, Some("work"), "allocated");
    assert!(
        lines.iter().all(|(s, _)| !s.contains("leaf_")),
        "names from another build: {lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|(s, v)| *v == 100000 && s.rsplit(';').next().unwrap().starts_with("prog+0x")),
        "{lines:?}"
    );
}
