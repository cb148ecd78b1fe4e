//! `benchmem run`'s result as a pytest-benchmark document: one benchmark per series.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use benchmem_launcher::{Counter, RunResult, Series, SeriesKind};
use serde_json::{Map, Value, json};

use super::document::{Benchmark, Document, PytestStats};
use super::env_info::{commit_info, iso_utc, machine_info, object};
use super::read::{
    HELPER_KIND, INCOMPLETE_CODES_KEY, INCOMPLETE_KEY, INCOMPLETE_ROUNDS_KEY,
    INCOMPLETE_SAMPLES_KEY, KIND_KEY, NOTE_CODES_KEY, PER_OP_KEY, PROCESS_KIND, PerOp, STOPPED_KEY,
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
    let samples = &series.samples;
    let mut memory: Vec<(&'static str, benchmem_launcher::Column)> = MEMORY
        .iter()
        .filter_map(|&metric| Some((metric.blob_key()?, samples.column(counter(metric)?))))
        .collect();
    memory.sort_by_key(|(k, _)| *k);
    let mut extra = Map::new();
    extra.insert(KIND_KEY.into(), kind_name(series.kind).into());
    if let Some(per_op) = per_op(series, m.result.repeats) {
        extra.insert(PER_OP_KEY.into(), per_op.to_json());
    }
    // One reason per stretch of samples of one repeat and process that share it: a region
    // closed 200,000 times by a process that was then killed is one line, not 200,000.
    let mut texts = Vec::new();
    let mut codes = Vec::new();
    for (range, why) in samples.incomplete() {
        for (run, repeat, pid) in samples.runs() {
            let n = run
                .end
                .min(range.end)
                .saturating_sub(run.start.max(range.start));
            if n == 0 {
                continue;
            }
            let count = if n == 1 {
                String::new()
            } else {
                format!(" ({n} samples)")
            };
            let text = format!(
                "repeat {}, pid {pid}{count}: {}",
                repeat + 1,
                reasons::incomplete(why)
            );
            texts.push(Value::from(text));
            codes.push(Value::from(why.code()));
        }
    }
    if !texts.is_empty() {
        extra.insert(INCOMPLETE_KEY.into(), Value::Array(texts));
        extra.insert(INCOMPLETE_CODES_KEY.into(), Value::Array(codes));
        // Which entries are short, so readers leave them out of comparisons. The memory
        // arrays hold every sample; `stats.data` only the timed ones.
        let at: Vec<usize> = samples.incomplete().flat_map(|(r, _)| r).collect();
        let mut timed_before = 0;
        let mut next = 0;
        let mut rounds = Vec::new();
        for (i, d) in samples.durations().enumerate() {
            if next < at.len() && at[next] == i {
                next += 1;
                if d.is_some() {
                    rounds.push(timed_before);
                }
            }
            timed_before += usize::from(d.is_some());
        }
        extra.insert(INCOMPLETE_SAMPLES_KEY.into(), at.into());
        extra.insert(INCOMPLETE_ROUNDS_KEY.into(), rounds.into());
    }
    let mut times: Vec<f64> = Vec::with_capacity(samples.durations().flatten().count());
    times.extend(samples.durations().flatten().map(|ns| ns as f64 / 1e9));
    Benchmark {
        group: m.label.map(str::to_string),
        name: series.name.clone(),
        fullname,
        params: None,
        param: None,
        extra_info: extra,
        memory,
        options: options(m.result.repeats),
        stats: PytestStats::from_data(Arc::new(times)),
    }
}

/// The per-op view of a region closed more often than there were repeats (once per
/// iteration of a loop, say): its mean allocated bytes and allocations per sample, as
/// `go test -benchmem` gives B/op and allocs/op. None for every other series.
fn per_op(series: &Series, repeats: usize) -> Option<PerOp> {
    let s = &series.samples;
    let ops = s.len();
    if series.kind != SeriesKind::Region || ops <= repeats.max(1) {
        return None;
    }
    let mean = |c: Counter| s.counter(c).iter().map(|&v| v as f64).sum::<f64>() / ops as f64;
    Some(PerOp {
        ops: ops as u64,
        bytes: mean(Counter::Total),
        allocs: mean(Counter::Allocations),
    })
}

/// `extra_info.benchmem_kind`.
fn kind_name(kind: SeriesKind) -> &'static str {
    match kind {
        SeriesKind::Root => PROCESS_KIND,
        SeriesKind::Region => "region",
        SeriesKind::Helper => HELPER_KIND,
    }
}

/// The counter that `metric` names (`None` for time, which is no counter).
fn counter(metric: Metric) -> Option<Counter> {
    match metric {
        // Resident size is the pytest plugin's (isolated passes), not a region counter.
        Metric::Time | Metric::Rss => None,
        Metric::Peak => Some(Counter::Peak),
        Metric::Allocated => Some(Counter::Total),
        Metric::Allocations => Some(Counter::Allocations),
        Metric::Retained => Some(Counter::Retained),
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use benchmem_launcher::{Exit, Incomplete, Sample, Samples, SilentEnd, Stats};

    use super::*;
    use crate::blob::read::{Run, parse_run};
    use crate::blob::write::document_text;

    fn sample(v: u64, repeat: usize, pid: u32, why: Option<Incomplete>) -> Sample {
        Sample {
            stats: Stats {
                peak_bytes: v,
                total_bytes: 2 * v,
                allocations: v % 7,
                retained_bytes: v % 3,
            },
            duration_ns: (!v.is_multiple_of(5)).then_some(1000 + v),
            repeat,
            pid,
            incomplete: why,
        }
    }

    /// Two repeats: a process row, a region closed 1,000 times a repeat (some samples
    /// untimed, a stretch killed in the second repeat), a helper.
    fn result() -> RunResult {
        let killed = Incomplete::Ended(SilentEnd::Killed { signal: 9 });
        let mut many = Samples::new();
        for repeat in 0..2 {
            for i in 0..1000u64 {
                let why = (repeat == 1 && i >= 990).then(|| killed.clone());
                many.push(sample(i, repeat, 10 + repeat as u32, why));
            }
        }
        let series = |name: &str, kind, samples: Samples| Series {
            name: name.into(),
            kind,
            samples,
        };
        RunResult {
            command: vec!["./prog".into()],
            repeats: 2,
            series: vec![
                series(
                    "prog",
                    SeriesKind::Root,
                    vec![sample(5, 0, 10, None), sample(6, 1, 11, Some(killed))].into(),
                ),
                series("loop", SeriesKind::Region, many),
                series(
                    "env",
                    SeriesKind::Helper,
                    vec![sample(1, 0, 9, None)].into(),
                ),
            ],
            exit: Exit::Code(0),
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

    #[test]
    fn the_run_read_from_the_document_is_the_run_read_from_its_json() {
        let r = result();
        let doc = document_with_commit(&r, Map::new());
        let text = document_text(&doc);
        let parsed = parse_run(&serde_json::from_slice(&text).unwrap(), Path::new("run")).unwrap();
        assert_eq!(Run::of_document(&doc, Path::new("run")), parsed);
        let lp = &parsed.records[1];
        assert_eq!(lp.per_op.map(|p| p.ops), Some(2000));
        assert_eq!(
            lp.incomplete,
            ["repeat 2, pid 11 (10 samples): killed by SIGKILL (signal 9): measured up to then"]
        );
        assert!(parsed.records[0].per_op.is_none() && parsed.records[2].per_op.is_none());
    }

    #[test]
    fn series_of_plain_values_stay_on_one_line() {
        let doc = document_with_commit(&result(), Map::new());
        let text = String::from_utf8(document_text(&doc)).unwrap();
        assert!(
            text.contains("\n          \"peak_bytes\": [5, 6],\n"),
            "{}",
            &text[..3000]
        );
        assert!(text.contains("\n      \"name\": \"loop\",\n"));
        // 2,000 samples, 3 lines of a few hundred lines in all.
        assert!(text.lines().count() < 400, "{}", text.lines().count());
        let v: Value = serde_json::from_str(&text).unwrap();
        let pretty = serde_json::to_string_pretty(&v).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&pretty).unwrap(), v);
    }
}
