//! `benchmem run`'s result as a pytest-benchmark document: one benchmark per series.

use std::collections::HashSet;
use std::path::Path;

use benchmem_launcher::{RunResult, SeriesKind};
use serde_json::{json, Map, Value};

use super::document::{Benchmark, Document, PytestStats};
use super::env_info::{commit_info, iso_utc, machine_info};
use super::read::INCOMPLETE_KEY;

/// The document for `result` with `commit_info` from the git repository at `cwd`.
///
/// `stats` holds the wall time of each sample of the region (begin to end, during the
/// profiled pass, so it includes the profiler's small per-allocation cost) in seconds:
/// comparable between benchmem runs, not with an unprofiled timing.
pub fn document_from_run(result: &RunResult, cwd: &Path) -> Document {
    document_with_commit(result, commit_info(cwd))
}

/// The document for `result` with a `commit_info` gathered beforehand (so the git calls
/// can overlap the measured command, or be skipped when nothing is saved).
pub fn document_with_commit(result: &RunResult, commit: Map<String, Value>) -> Document {
    let command = result.command.join(" ");
    let mut used = HashSet::new();
    let benchmarks = result
        .series
        .iter()
        .map(|series| {
            let mut fullname = format!("{command}::{}", series.name);
            let mut n = 2;
            while !used.insert(fullname.clone()) {
                fullname = format!("{command}::{} #{n}", series.name);
                n += 1;
            }
            let pick = |f: fn(&benchmem_launcher::Stats) -> u64| -> Vec<u64> {
                series.samples.iter().map(|s| f(&s.stats)).collect()
            };
            let mut extra = Map::new();
            extra.insert(
                "benchmem".into(),
                json!({
                    "peak_bytes": pick(|s| s.peak_bytes),
                    "total_bytes": pick(|s| s.total_bytes),
                    "allocations": pick(|s| s.allocations),
                    "retained_bytes": pick(|s| s.retained_bytes),
                }),
            );
            extra.insert(
                "benchmem_kind".into(),
                match series.kind {
                    SeriesKind::Root => "process",
                    SeriesKind::Region => "region",
                }
                .into(),
            );
            let incomplete: Vec<Value> = series
                .samples
                .iter()
                .filter_map(|s| {
                    s.incomplete
                        .as_ref()
                        .map(|why| format!("repeat {}, pid {}: {why}", s.repeat + 1, s.pid).into())
                })
                .collect();
            if !incomplete.is_empty() {
                extra.insert(INCOMPLETE_KEY.into(), Value::Array(incomplete));
            }
            let times: Vec<f64> = series
                .samples
                .iter()
                .filter_map(|s| s.duration_ns.map(|ns| ns as f64 / 1e9))
                .collect();
            Benchmark {
                group: None,
                name: series.name.clone(),
                fullname,
                params: None,
                param: None,
                extra_info: extra,
                options: options(result.repeats),
                stats: PytestStats::from_data(&times),
            }
        })
        .collect();
    let mut run_info = Map::new();
    run_info.insert("version".into(), env!("CARGO_PKG_VERSION").into());
    run_info.insert("command".into(), result.command.clone().into());
    run_info.insert("repeats".into(), result.repeats.into());
    run_info.insert("exit_status".into(), result.exit.status().into());
    run_info.insert("notes".into(), result.notes.clone().into());
    Document {
        machine_info: machine_info(),
        commit_info: commit,
        benchmarks,
        datetime: iso_utc(result.started),
        version: env!("CARGO_PKG_VERSION").to_string(),
        benchmem: Some(run_info),
    }
}

fn options(repeats: usize) -> Map<String, Value> {
    let v = json!({
        "disable_gc": false,
        "timer": "benchmem region wall time",
        "min_rounds": repeats,
        "max_time": 0,
        "min_time": 0,
        "warmup": false,
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}
