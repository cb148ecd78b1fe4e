//! `benchmem run`'s result as a pytest-benchmark document: one benchmark per series.

use std::collections::HashSet;
use std::path::Path;

use benchmem_launcher::{RunResult, SeriesKind, Stats};
use serde_json::{json, Map, Value};

use super::document::{Benchmark, Document, PytestStats};
use super::env_info::{commit_info, iso_utc, machine_info, object};
use super::read::{
    INCOMPLETE_CODES_KEY, INCOMPLETE_KEY, INCOMPLETE_ROUNDS_KEY, INCOMPLETE_SAMPLES_KEY,
    MEMORY_KEY, NOTE_CODES_KEY,
};
use crate::metrics::{Metric, MEMORY};
use crate::reasons;

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
            let memory: Map<String, Value> = MEMORY
                .iter()
                .filter_map(|&m| {
                    let values: Option<Vec<u64>> = series
                        .samples
                        .iter()
                        .map(|s| counter(m, &s.stats))
                        .collect();
                    Some((m.blob_key()?.to_string(), values?.into()))
                })
                .collect();
            let mut extra = Map::new();
            extra.insert(MEMORY_KEY.into(), memory.into());
            extra.insert(
                "benchmem_kind".into(),
                match series.kind {
                    SeriesKind::Root => "process",
                    SeriesKind::Region => "region",
                }
                .into(),
            );
            let (texts, codes): (Vec<Value>, Vec<Value>) = series
                .samples
                .iter()
                .filter_map(|s| {
                    let why = s.incomplete.as_ref()?;
                    let text = format!(
                        "repeat {}, pid {}: {}",
                        s.repeat + 1,
                        s.pid,
                        reasons::incomplete(why)
                    );
                    Some((text.into(), why.code().into()))
                })
                .unzip();
            if !texts.is_empty() {
                extra.insert(INCOMPLETE_KEY.into(), Value::Array(texts));
                extra.insert(INCOMPLETE_CODES_KEY.into(), Value::Array(codes));
                // Which entries are short, so readers leave them out of comparisons. The
                // memory arrays hold every sample; `stats.data` only the timed ones.
                let samples: Vec<usize> = series
                    .samples
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.incomplete.is_some())
                    .map(|(i, _)| i)
                    .collect();
                let rounds: Vec<usize> = series
                    .samples
                    .iter()
                    .filter(|s| s.duration_ns.is_some())
                    .enumerate()
                    .filter(|(_, s)| s.incomplete.is_some())
                    .map(|(i, _)| i)
                    .collect();
                extra.insert(INCOMPLETE_SAMPLES_KEY.into(), samples.into());
                extra.insert(INCOMPLETE_ROUNDS_KEY.into(), rounds.into());
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
    let notes: Vec<String> = result.notes.iter().map(reasons::note).collect();
    let codes: Vec<&str> = result.notes.iter().map(|n| n.code()).collect();
    run_info.insert("notes".into(), notes.into());
    run_info.insert(NOTE_CODES_KEY.into(), codes.into());
    Document {
        machine_info: machine_info(),
        commit_info: commit,
        benchmarks,
        datetime: iso_utc(result.started),
        version: env!("CARGO_PKG_VERSION").to_string(),
        benchmem: Some(run_info),
    }
}

/// The counter of one sample that `metric` names (`None` for time, which is no counter).
fn counter(metric: Metric, s: &Stats) -> Option<u64> {
    match metric {
        Metric::Time => None,
        Metric::Peak => Some(s.peak_bytes),
        Metric::Allocated => Some(s.total_bytes),
        Metric::Allocations => Some(s.allocations),
        Metric::Retained => Some(s.retained_bytes),
    }
}

fn options(repeats: usize) -> Map<String, Value> {
    object(json!({
        "disable_gc": false,
        "timer": "benchmem region wall time",
        "min_rounds": repeats,
        "max_time": 0,
        "min_time": 0,
        "warmup": false,
    }))
}
