//! The timeline end to end: a real C program with two regions of known sizes and a child
//! process runs under `benchmem run`; the saved timeline holds each process's readings,
//! its exact peak and each region's span and exact peak; `benchmem plot --view timeline`
//! draws exactly those values, and the HTML page loads in a real browser.

use std::collections::HashMap;

use benchmem_tests::{bm, browser, compile, measure};
use serde_json::Value;

const MIB: u64 = 1 << 20;

fn elements(svg: &str, marker: &str) -> Vec<HashMap<String, String>> {
    svg.split('<')
        .filter_map(|t| t.split_once('>').map(|(tag, _)| tag))
        .filter(|tag| tag.contains(marker))
        .map(|tag| {
            let mut out = HashMap::new();
            let mut rest = tag;
            while let Some(eq) = rest.find("=\"") {
                let key = rest[..eq].rsplit(' ').next().unwrap_or("").to_string();
                let after = &rest[eq + 2..];
                let end = after.find('"').expect("closing quote");
                out.insert(key, browser::unescape(&after[..end]));
                rest = &after[end + 1..];
            }
            out
        })
        .collect()
}

fn u(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("no {key} in {v}"))
}

#[test]
fn timeline_records_and_draws_regions_of_known_sizes() {
    let prog = compile("timeline_regions.c", &[]);
    let (out, blob, dir) = measure(&[], &prog, &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    let processes = blob.json["benchmem"]["timeline"]["processes"]
        .as_array()
        .expect("a timeline")
        .clone();
    assert_eq!(processes.len(), 2, "parent and child");
    let regions = |p: &Value| -> HashMap<String, Value> {
        p["regions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["name"].as_str().unwrap().to_string(), r.clone()))
            .collect()
    };
    let (parent, child) = (&processes[0], &processes[1]);
    let pr = regions(parent);
    assert_eq!(u(&pr["one_mib"], "peak_bytes"), MIB);
    assert_eq!(u(&pr["four_mib"], "peak_bytes"), 4 * MIB);
    assert_eq!(u(&regions(child)["child_two_mib"], "peak_bytes"), 2 * MIB);
    for r in pr.values() {
        assert!(r["closed"].as_bool().unwrap());
        assert!(
            u(r, "end_us") - u(r, "begin_us") >= 39_000,
            "held 40 ms: {r}"
        );
    }
    assert!(u(&pr["one_mib"], "end_us") <= u(&pr["four_mib"], "begin_us"));
    assert!(u(child, "start_us") >= u(&pr["four_mib"], "end_us"));

    // The exact peak is the root row's; the readings never exceed it, and with 40 ms of
    // holding they see the 4 MiB.
    let root = blob.series("timeline_regions");
    assert_eq!(u(parent, "peak_bytes"), root.peak[0]);
    let t = parent["t_us"].as_array().unwrap();
    let live: Vec<u64> = parent["live_bytes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(t.len(), live.len());
    assert!(live.len() <= 2000);
    let top = *live.iter().max().unwrap();
    assert!(top >= 4 * MIB && top <= u(parent, "peak_bytes"), "{top}");
    assert!(t.windows(2).all(|w| w[0].as_u64() <= w[1].as_u64()));

    // One run without numeric parameters but with a timeline: the timeline by default.
    let run = dir.path().join("run.json").display().to_string();
    for (args, file) in [
        (vec!["plot", run.as_str()], "tl.svg"),
        (vec!["plot", run.as_str(), "--view", "timeline"], "tl.html"),
    ] {
        let path = dir.path().join(file).display().to_string();
        let mut a = args.clone();
        a.extend(["-o", path.as_str()]);
        let r = bm(&a);
        assert_eq!(r.code(), 0, "{r:?}");
        assert!(
            r.stderr.starts_with("timeline: 2 process(es)"),
            "{}",
            r.stderr
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let spans = elements(&text, "data-kind=\"region\"");
        assert_eq!(spans.len(), 3);
        for s in &spans {
            let p = processes
                .iter()
                .find(|p| p["pid"].as_u64().map(|v| v.to_string()).as_ref() == Some(&s["data-pid"]))
                .unwrap();
            let r = &regions(p)[&s["data-id"]];
            assert_eq!(s["data-value"], r["peak_bytes"].to_string());
            assert_eq!(s["data-begin-us"], r["begin_us"].to_string());
            assert_eq!(s["data-end-us"], r["end_us"].to_string());
        }
        let peaks = elements(&text, "data-kind=\"peak\"");
        assert_eq!(peaks.len(), 2);
        for (m, p) in peaks.iter().zip(&processes) {
            assert_eq!(m["data-value"], p["peak_bytes"].to_string());
        }
        let lines = elements(&text, "class=\"series live\"");
        assert_eq!(lines[0]["data-count"], t.len().to_string());
        if file.ends_with(".html") {
            let work = tempfile::tempdir().unwrap();
            browser::check_page(std::path::Path::new(&path), work.path());
        }
    }

    // A repeat the run does not hold: one line saying so.
    let r = bm(&["plot", run.as_str(), "--view", "timeline", "--repeat", "2"]);
    assert_eq!(r.code(), 2);
    assert!(r.stderr.contains("--repeat 2:"), "{}", r.stderr);
}

#[test]
fn timeline_keeps_the_highest_region_peaks_within_bounds() {
    let prog = compile("timeline_many.c", &[]);
    let (out, blob, dir) = measure(&[], &prog, &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    let p = &blob.json["benchmem"]["timeline"]["processes"][0];
    let regions = p["regions"].as_array().unwrap();
    assert_eq!(regions.len(), 500);
    assert_eq!(u(p, "regions_omitted"), 2500);
    let mut peaks: Vec<u64> = regions.iter().map(|r| u(r, "peak_bytes")).collect();
    peaks.sort_unstable();
    assert_eq!(peaks, (3500..4000).collect::<Vec<u64>>(), "the 500 highest");
    let html = dir.path().join("t.html").display().to_string();
    let run = dir.path().join("run.json").display().to_string();
    let r = bm(&["plot", &run, "-o", &html]);
    assert_eq!(r.code(), 0, "{r:?}");
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(text.contains("2500 region span(s) not drawn"));
    assert_eq!(elements(&text, "data-kind=\"region\"").len(), 500);
}
