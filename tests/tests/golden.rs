//! The run labels of tests/golden/labels.json, through the real `benchmem compare`: the
//! Python readers (python/tests/test_golden.py) label runs the same way.

use std::process::Command;
use std::time::Duration;

use benchmem_tests::{benchmem, root, run_limited};
use serde_json::Value;

/// One benchmark with memory and time: every file of a case holds the same.
const RUN: &str = r#"{"machine_info": {}, "commit_info": {}, "datetime": "x", "version": "5.3.1",
 "benchmarks": [{"group": null, "name": "t", "fullname": "t.py::t", "params": null,
 "param": null, "options": {}, "stats": {"min": 1.0, "max": 1.0, "mean": 1.0, "data": [1.0],
 "rounds": 1}, "extra_info": {"benchmem": {"peak_bytes": [1], "total_bytes": [1],
 "allocations": [1], "retained_bytes": [0]}}}]}"#;

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

#[test]
fn compare_labels_runs_as_the_golden_file_says() {
    let path = root().join("tests/golden/labels.json");
    let golden: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for case in golden["cases"].as_array().unwrap() {
        let (files, want) = (strings(&case["files"]), strings(&case["labels"]));
        let dir = tempfile::tempdir().unwrap();
        for f in &files {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, RUN).unwrap();
        }
        let mut cmd = Command::new(benchmem());
        cmd.arg("compare")
            .args(&files)
            .args(["--format", "csv"])
            .current_dir(dir.path());
        let out = run_limited(&mut cmd, Duration::from_secs(60));
        let twice = files
            .iter()
            .enumerate()
            .any(|(i, f)| files[..i].contains(f));
        if twice {
            // Labelled so by the readers; compare refuses to compare a run with itself.
            assert_eq!(out.code(), 2, "{files:?}: {out:?}");
            assert_eq!(out.stderr.lines().count(), 1, "{files:?}: {out:?}");
            continue;
        }
        assert_eq!(out.code(), 0, "{files:?}: {out:?}");
        let mut lines = out.stdout.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let run = header.iter().position(|h| *h == "run").unwrap();
        let got: Vec<String> = lines
            .map(|l| l.split(',').nth(run).unwrap().trim_matches('"').to_string())
            .collect();
        assert_eq!(got, want, "labels of {files:?}");
    }
}
