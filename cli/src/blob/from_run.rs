//! `benchmem run`'s result as a pytest-benchmark document: one benchmark per series.

use std::collections::HashSet;
use std::path::Path;

use benchmem_launcher::{RunResult, Series, SeriesKind, Stats};
use serde_json::{Map, Value, json};

use super::document::{Benchmark, Document, PytestStats};
use super::env_info::{commit_info, iso_utc, machine_info, object};
use super::read::{
    HELPER_KIND, INCOMPLETE_CODES_KEY, INCOMPLETE_KEY, INCOMPLETE_ROUNDS_KEY,
    INCOMPLETE_SAMPLES_KEY, KIND_KEY, MEMORY_KEY, NOTE_CODES_KEY, PROCESS_KIND, STOPPED_KEY,
};
use crate::metrics::{MEMORY, Metric};
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
    document_of_runs(
        &[Measured {
            label: None,
            result,
        }],
        commit,
    )
}

/// One command's run, and its label when several commands were measured together.
pub struct Measured<'a> {
    /// The command's name, the prefix of its ids (None: the only command).
    pub label: Option<&'a str>,
    /// What it measured.
    pub result: &'a RunResult,
}

/// The document for one or several commands' runs, in the order measured.
///
/// Ids never depend on where the program lives or what arguments it got, so the runs of
/// two builds compare: a benchmark is its region's name (a process row: the program's
/// name, or `--name`); with several commands, `<command name>::<region>`, and the command's
/// name is also the benchmark's pytest-benchmark `group`. The command lines are kept in
/// the run description (`benchmem.command`, `benchmem.commands`).
pub fn document_of_runs(runs: &[Measured], commit: Map<String, Value>) -> Document {
    let mut used = HashSet::new();
    let mut benchmarks = Vec::new();
    for m in runs {
        for series in &m.result.series {
            let id = match m.label {
                Some(l) => format!("{l}::{}", series.name),
                None => series.name.clone(),
            };
            let mut fullname = id.clone();
            let mut n = 2;
            while !used.insert(fullname.clone()) {
                fullname = format!("{id} #{n}");
                n += 1;
            }
            benchmarks.push(benchmark(series, fullname, m));
        }
    }
    let first = runs.first().map(|m| m.result);
    let mut run_info = Map::new();
    run_info.insert("version".into(), env!("CARGO_PKG_VERSION").into());
    let status = overall_status(runs.iter().map(|m| m.result));
    if let (Some(r), true) = (first, runs.len() == 1) {
        run_info.insert("command".into(), r.command.clone().into());
        run_info.insert("repeats".into(), r.repeats.into());
    } else {
        let most = runs.iter().map(|m| m.result.repeats).max().unwrap_or(0);
        run_info.insert("repeats".into(), most.into());
    }
    run_info.insert("exit_status".into(), status.into());
    run_info.insert(
        "commands".into(),
        runs.iter().map(command_info).collect::<Vec<Value>>().into(),
    );
    let prefix = |m: &Measured, text: String| match m.label {
        Some(l) => format!("{l}: {text}"),
        None => text,
    };
    let mut notes = Vec::new();
    let mut codes = Vec::new();
    let mut stops = Vec::new();
    for m in runs {
        for n in &m.result.notes {
            notes.push(prefix(m, reasons::note(n)));
            codes.push(n.code());
        }
        if let Some(text) = reasons::stopped(m.result) {
            stops.push(prefix(m, text));
        }
        if let Some(text) = reasons::failed_repeats(m.result) {
            notes.push(prefix(m, text));
            codes.push("failed_repeats");
        }
    }
    run_info.insert("notes".into(), notes.into());
    run_info.insert(NOTE_CODES_KEY.into(), codes.into());
    if !stops.is_empty() {
        run_info.insert(STOPPED_KEY.into(), stops.into());
    }
    let timelines: Vec<_> = runs
        .iter()
        .flat_map(|m| m.result.timeline.iter().cloned())
        .collect();
    if !timelines.is_empty() {
        let interval = benchmem_launcher::TIMELINE_INTERVAL.as_millis() as u64;
        let timeline = super::timeline::to_json(&timelines, interval);
        run_info.insert(super::timeline::TIMELINE_KEY.into(), timeline);
    }
    Document {
        machine_info: machine_info(),
        commit_info: commit,
        benchmarks,
        datetime: iso_utc(first.map_or_else(std::time::SystemTime::now, |r| r.started)),
        version: env!("CARGO_PKG_VERSION").to_string(),
        benchmem: Some(run_info),
    }
}

/// The status benchmem exits with after `runs`: the first that is not 0.
pub fn overall_status<'a>(runs: impl IntoIterator<Item = &'a RunResult>) -> i32 {
    runs.into_iter()
        .map(run_status)
        .find(|&s| s != 0)
        .unwrap_or(0)
}

/// The status one command's run ends with: its command's (a hook's when that failed it),
/// or 0 when failures were ignored and every repeat ran.
pub fn run_status(r: &RunResult) -> i32 {
    match &r.stopped {
        None if !r.failed.is_empty() => 0,
        _ => r.exit.status(),
    }
}

/// `benchmem.commands[i]`: what one command was and how its run went.
fn command_info(m: &Measured) -> Value {
    let r = m.result;
    let mut c = Map::new();
    if let Some(l) = m.label {
        c.insert("name".into(), l.into());
    }
    c.insert("command".into(), r.command.clone().into());
    c.insert("repeats".into(), r.repeats.into());
    c.insert("repeats_asked".into(), r.asked.into());
    c.insert("exit_status".into(), run_status(r).into());
    if let Some(main) = &r.main {
        c.insert("process_row".into(), main.clone().into());
    }
    // 1-based, as the table and notes count repeats.
    let failed: Vec<Value> = r
        .failed
        .iter()
        .map(|(k, exit)| json!({"repeat": k + 1, "exit_status": exit.status()}))
        .collect();
    c.insert("failed_repeats".into(), failed.into());
    if let Some(stop) = &r.stopped {
        c.insert("stopped".into(), reasons::stop_code(stop).into());
    }
    Value::Object(c)
}

/// One series as a pytest-benchmark benchmark.
fn benchmark(series: &Series, fullname: String, m: &Measured) -> Benchmark {
    let memory: Map<String, Value> = MEMORY
        .iter()
        .filter_map(|&metric| {
            let values: Option<Vec<u64>> = series
                .samples
                .iter()
                .map(|s| counter(metric, &s.stats))
                .collect();
            Some((metric.blob_key()?.to_string(), values?.into()))
        })
        .collect();
    let mut extra = Map::new();
    extra.insert(MEMORY_KEY.into(), memory.into());
    extra.insert(KIND_KEY.into(), kind_name(series.kind).into());
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
        // Which entries are short, so readers leave them out of comparisons. The memory
        // arrays hold every sample; `stats.data` only the timed ones.
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
        group: m.label.map(str::to_string),
        name: series.name.clone(),
        fullname,
        params: None,
        param: None,
        extra_info: extra,
        options: options(m.result.repeats),
        stats: PytestStats::from_data(&times),
    }
}

/// `extra_info.benchmem_kind`.
fn kind_name(kind: SeriesKind) -> &'static str {
    match kind {
        SeriesKind::Root => PROCESS_KIND,
        SeriesKind::Region => "region",
        SeriesKind::Helper => HELPER_KIND,
    }
}

/// The counter of one sample that `metric` names (`None` for time, which is no counter).
fn counter(metric: Metric, s: &Stats) -> Option<u64> {
    match metric {
        // Resident size is the pytest plugin's (isolated passes), not a region counter.
        Metric::Time | Metric::Rss => None,
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
