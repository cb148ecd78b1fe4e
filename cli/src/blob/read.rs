//! Reading saved runs: pytest-benchmark JSON written by benchmem, by pytest-benchmark alone
//! (time only) or by pytest-benchmem (time and `extra_info.benchmem`).
//!
//! Lenient about everything benchmem does not use (unknown keys, extra stats, other
//! `extra_info`), strict about what it does: a wrong type, a negative or fractional byte
//! count, a missing id is one error naming the file, the benchmark and the key.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use benchmem_launcher::Column;
use serde_json::{Map, Value, json};

use super::document::{Benchmark, Document};
use crate::metrics::{BLOB, Metric};
use crate::stats::Stat;

/// Files larger than this are refused before parsing: no benchmark run is that big, and
/// reading one would only exhaust memory.
pub const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;

/// Top-level key of benchmem's run description (command, repeats, notes).
pub const RUN_KEY: &str = "benchmem";

/// Key of the per-repeat memory series in each benchmark's `extra_info`.
pub const MEMORY_KEY: &str = "benchmem";

/// Key of the list of reasons why samples were not clean measurements.
pub const INCOMPLETE_KEY: &str = "benchmem_incomplete";

/// Key of the stable codes of those reasons, one per reason, in the same order (the texts
/// stay under [`INCOMPLETE_KEY`] for readers of the first format).
pub const INCOMPLETE_CODES_KEY: &str = "benchmem_incomplete_codes";

/// Key, in benchmem's run description, of the stable codes of its notes, one per note in
/// the same order.
pub const NOTE_CODES_KEY: &str = "note_codes";

/// Key of the positions (0-based) of the incomplete samples in the `extra_info.benchmem`
/// arrays.
pub const INCOMPLETE_SAMPLES_KEY: &str = "benchmem_incomplete_samples";

/// Key of the positions (0-based) of the incomplete samples in `stats.data`, which holds
/// only the samples that were timed.
pub const INCOMPLETE_ROUNDS_KEY: &str = "benchmem_incomplete_rounds";
/// Key, in benchmem's run description, of why a command's run stopped early (one line per
/// command that did).
pub const STOPPED_KEY: &str = "stopped";

/// Key of what a benchmark is in each benchmark's `extra_info`: `process`, `region` or
/// [`HELPER_KIND`].
pub const KIND_KEY: &str = "benchmem_kind";

/// [`KIND_KEY`] of a helper process (one a shim ran before the program): kept in the
/// blob, folded into one line in tables.
pub const HELPER_KIND: &str = "helper";
/// [`KIND_KEY`] of a process's root region (the whole process, from start to exit).
pub const PROCESS_KIND: &str = "process";

/// Key of a region's per-op view in its `extra_info` ([`PerOp`]): written for a region
/// closed more often than there were repeats.
pub const PER_OP_KEY: &str = "benchmem_per_op";

/// The per-op view of a region closed many times (once per iteration of a loop): how
/// many samples, and the mean allocated bytes and allocations per sample, as `go test
/// -benchmem` prints B/op and allocs/op.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PerOp {
    /// Samples (operations) over every repeat.
    pub ops: u64,
    /// Mean allocated bytes per sample.
    pub bytes: f64,
    /// Mean allocations per sample.
    pub allocs: f64,
}

impl PerOp {
    /// As the blob keeps it.
    pub fn to_json(self) -> Value {
        json!({"ops": self.ops, "bytes_per_op": self.bytes, "allocs_per_op": self.allocs})
    }

    fn from_json(v: &Value) -> Result<PerOp, String> {
        let number = |key: &str| {
            v.get(key)
                .and_then(Value::as_f64)
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| format!("extra_info.{PER_OP_KEY}.{key} is not a number ≥ 0"))
        };
        Ok(PerOp {
            ops: v
                .get("ops")
                .and_then(Value::as_u64)
                .ok_or_else(|| format!("extra_info.{PER_OP_KEY}.ops is not a whole number ≥ 0"))?,
            bytes: number("bytes_per_op")?,
            allocs: number("allocs_per_op")?,
        })
    }
}

/// A saved run that could not be used, with the file it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobError {
    /// The file as the user named it.
    pub file: String,
    /// What is wrong, in one line.
    pub problem: String,
}

impl fmt::Display for BlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.problem)
    }
}

impl std::error::Error for BlobError {}

/// One benchmark of a run, reduced to what benchmem reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Short name (`test_x[1000]`, a region name).
    pub name: String,
    /// Unique id within the run; runs are matched on it.
    pub fullname: String,
    /// pytest-benchmark group, if any.
    pub group: Option<String>,
    /// Parametrize values, as display strings.
    pub params: BTreeMap<String, String>,
    /// pytest-benchmark's timing stats (seconds), when present.
    pub time: Option<TimeStats>,
    /// Every round's time (pytest-benchmark's `stats.data`, seconds), when the file has it.
    pub time_data: Option<Arc<Vec<f64>>>,
    /// Per-repeat memory series by metric (only metrics the blob holds).
    pub memory: BTreeMap<Metric, Column>,
    /// The per-op view of a region closed many times, when the blob has it.
    pub per_op: Option<PerOp>,
    /// Why some samples are not clean measurements (`extra_info.benchmem_incomplete`).
    pub incomplete: Vec<String>,
    /// Which entries of the memory series are incomplete.
    pub incomplete_samples: Flagged,
    /// Which entries of the time series (`stats.data`) are incomplete.
    pub incomplete_rounds: Flagged,
    /// A helper process's row (`extra_info.benchmem_kind` is `helper`).
    pub helper: bool,
    /// A process's root row (`extra_info.benchmem_kind` is `process`), not a region the
    /// program named.
    pub process: bool,
    /// The other scalar `extra_info` values (strings, numbers, booleans), benchmem's own
    /// keys left out: labels such as a model's size, which `compare --columns extra:NAME`
    /// shows and `--pivot NAME` folds a run by.
    pub extra: BTreeMap<String, Value>,
}

/// Which entries of a series are incomplete samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flagged {
    /// These positions (sorted, each once); empty when every sample is clean.
    At(Vec<usize>),
    /// Some are, and the file does not say which (a run saved before benchmem recorded the
    /// positions, whose series do not hold one sample per repeat).
    Unknown,
}

/// How many samples of one metric of one benchmark are clean measurements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clean {
    /// Every sample.
    All,
    /// `complete` of `total`, at least one of each.
    Some { complete: usize, total: usize },
    /// None of the `total` samples.
    None { total: usize },
    /// Some are incomplete, and which is not known.
    Unknown,
}

/// The stats benchmem reads from pytest-benchmark's `stats` object.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeStats {
    /// Fastest round, seconds.
    pub min: f64,
    /// Slowest round.
    pub max: f64,
    /// Mean round.
    pub mean: f64,
    /// Median round.
    pub median: f64,
    /// Sample standard deviation.
    pub stddev: f64,
    /// Interquartile range of the rounds, as pytest-benchmark saves it (`stats.iqr`).
    pub iqr: Option<f64>,
    /// Number of rounds.
    pub rounds: u64,
}

impl TimeStats {
    /// The value of one stat; `None` for an interquartile range the file does not hold.
    pub fn get(&self, stat: Stat) -> Option<f64> {
        match stat {
            Stat::Min => Some(self.min),
            Stat::Max => Some(self.max),
            Stat::Mean => Some(self.mean),
            Stat::Median => Some(self.median),
            Stat::Stddev => Some(self.stddev),
            Stat::Iqr => self.iqr,
        }
    }
}

impl Record {
    /// The value of `metric` reduced by `stat`; `None` when this benchmark lacks it.
    pub fn value(&self, metric: Metric, stat: Stat) -> Option<f64> {
        match metric {
            Metric::Time => self.time.and_then(|t| t.get(stat)),
            m => stat_of_counts(stat, self.memory.get(&m)?),
        }
    }

    /// The value of `metric` reduced by `stat` over the clean samples only; `None` when
    /// the benchmark lacks the metric or has no sample known to be clean.
    pub fn clean_value(&self, metric: Metric, stat: Stat) -> Option<f64> {
        match self.clean(metric) {
            Clean::All => self.value(metric, stat),
            Clean::None { .. } | Clean::Unknown => None,
            Clean::Some { .. } => stat.of(&self.clean_series(metric)?),
        }
    }

    /// The clean samples of `metric`, in order; `None` when the benchmark lacks the
    /// metric, when which samples are clean is not known, or when time has no per-round
    /// data (pytest-benchmark's `stats.data`).
    pub fn clean_series(&self, metric: Metric) -> Option<Vec<f64>> {
        let (all, flagged): (Vec<f64>, _) = match metric {
            Metric::Time => (self.time_data.as_deref()?.clone(), &self.incomplete_rounds),
            m => (
                self.memory.get(&m)?.iter().map(|&v| v as f64).collect(),
                &self.incomplete_samples,
            ),
        };
        match flagged {
            Flagged::Unknown => None,
            Flagged::At(bad) => Some(
                all.into_iter()
                    .enumerate()
                    .filter(|(i, _)| bad.binary_search(i).is_err())
                    .map(|(_, v)| v)
                    .collect(),
            ),
        }
    }

    /// How many samples of `metric` are clean measurements.
    pub fn clean(&self, metric: Metric) -> Clean {
        let (total, flagged) = match metric {
            Metric::Time => (
                self.time_data
                    .as_ref()
                    .map_or(self.samples(metric), |d| d.len()),
                &self.incomplete_rounds,
            ),
            m => (self.samples(m), &self.incomplete_samples),
        };
        match flagged {
            Flagged::Unknown => Clean::Unknown,
            Flagged::At(bad) if bad.is_empty() => Clean::All,
            Flagged::At(bad) => {
                let bad = bad.iter().filter(|&&i| i < total).count();
                match total - bad {
                    0 => Clean::None { total },
                    n if n == total => Clean::All,
                    complete => Clean::Some { complete, total },
                }
            }
        }
    }

    /// Whether `metric` was measured for this benchmark.
    pub fn has(&self, metric: Metric) -> bool {
        match metric {
            Metric::Time => self.time.is_some(),
            m => self.memory.get(&m).is_some_and(|s| !s.is_empty()),
        }
    }

    /// How many samples the metric's series holds (time: rounds).
    pub fn samples(&self, metric: Metric) -> usize {
        match metric {
            Metric::Time => self.time.map_or(0, |t| t.rounds as usize),
            m => self.memory.get(&m).map_or(0, |c| c.len()),
        }
    }
}

/// A whole saved run.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// The file it was read from.
    pub path: PathBuf,
    /// Benchmarks in file order.
    pub records: Vec<Record>,
    /// Run-level problems benchmem recorded (lost events, processes left running, ...).
    pub notes: Vec<String>,
    /// Repeats of the command, when benchmem made the run.
    pub repeats: Option<u64>,
    /// Why commands stopped before their repeats were done, one line each.
    pub stopped: Vec<String>,
    /// How many commands benchmem measured in this run (0: not a run of benchmem's).
    pub commands: usize,
}

impl Run {
    /// The run without helper processes' rows, and those rows.
    pub fn split_helpers(mut self) -> (Run, Vec<Record>) {
        let (helpers, records) = self.records.into_iter().partition(|r| r.helper);
        self.records = records;
        (self, helpers)
    }

    /// Whether any benchmark measured `metric`.
    pub fn has(&self, metric: Metric) -> bool {
        self.records.iter().any(|r| r.has(metric))
    }
}

impl Run {
    /// The run a document of benchmem's own describes, as [`parse_run`] would read it
    /// back from its JSON, without making that JSON: the memory series and round times
    /// are shared with the document, not copied (`benchmem run` prints its table from
    /// this, so it is the table a later `show` prints).
    pub fn of_document(doc: &Document, path: &Path) -> Run {
        let info = doc.benchmem.as_ref();
        let list = |key: &str| match info.and_then(|o| o.get(key)) {
            Some(Value::Array(a)) => a.iter().map(display_value).collect(),
            _ => Vec::new(),
        };
        let commands = match info.and_then(|o| o.get("commands")) {
            Some(Value::Array(a)) => a.len(),
            _ => usize::from(info.is_some()),
        };
        Run {
            path: path.to_path_buf(),
            records: doc.benchmarks.iter().map(record_of).collect(),
            notes: list("notes"),
            repeats: info.and_then(|o| o.get("repeats")).and_then(Value::as_u64),
            stopped: list(STOPPED_KEY),
            commands,
        }
    }
}

/// One benchmark of a document of benchmem's own, as [`parse_benchmark`] reads it.
fn record_of(b: &Benchmark) -> Record {
    let extra = &b.extra_info;
    let memory: BTreeMap<Metric, Column> = BLOB
        .iter()
        .filter_map(|&m| {
            let key = m.blob_key()?;
            let (_, c) = b.memory.iter().find(|(k, _)| *k == key)?;
            Some((m, c.clone()))
        })
        .collect();
    let st = &b.stats;
    let time = Some(TimeStats {
        min: st.min,
        max: st.max,
        mean: st.mean,
        median: st.median,
        stddev: st.stddev,
        iqr: Some(st.iqr),
        rounds: st.rounds as u64,
    });
    let samples = memory.values().map(|c| c.len()).max().unwrap_or(0);
    let positions = |key: &str, len: usize| -> Vec<usize> {
        let mut at: Vec<usize> = match extra.get(key) {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| usize::try_from(v.as_u64()?).ok())
                .filter(|&i| i < len)
                .collect(),
            _ => Vec::new(),
        };
        at.sort_unstable();
        at.dedup();
        at
    };
    Record {
        name: b.name.clone(),
        fullname: b.fullname.clone(),
        group: b.group.clone(),
        params: BTreeMap::new(),
        time,
        time_data: Some(st.data.clone()),
        memory,
        per_op: extra.get(PER_OP_KEY).and_then(|v| PerOp::from_json(v).ok()),
        incomplete: match extra.get(INCOMPLETE_KEY) {
            Some(Value::Array(a)) => a.iter().map(display_value).collect(),
            _ => Vec::new(),
        },
        incomplete_samples: Flagged::At(positions(INCOMPLETE_SAMPLES_KEY, samples)),
        incomplete_rounds: Flagged::At(positions(INCOMPLETE_ROUNDS_KEY, st.data.len())),
        helper: extra.get(KIND_KEY) == Some(&Value::from(HELPER_KIND)),
        process: extra.get(KIND_KEY) == Some(&Value::from(PROCESS_KIND)),
        extra: extra
            .iter()
            .filter(|(k, v)| {
                !k.starts_with(MEMORY_KEY)
                    && matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

/// Read and check a saved run.
pub fn read_run(path: &Path) -> Result<Run, BlobError> {
    parse_run(&read_json(path)?, path)
}

/// Read a saved run's JSON document, bounded in size, without checking its benchmarks
/// (for readers of keys [`parse_run`] leaves alone: raw params, the timeline).
pub fn read_json(path: &Path) -> Result<Value, BlobError> {
    let file = path.display().to_string();
    let err = |problem: String| BlobError {
        file: file.clone(),
        problem,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(io_problem(&e)))?;
    if meta.is_dir() {
        return Err(err("is a directory, not a benchmark run".into()));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(err(format!(
            "is {} bytes, too large to be a benchmark run (limit {} MiB)",
            meta.len(),
            MAX_FILE_BYTES / (1024 * 1024)
        )));
    }
    // Bounded even when the length is unknown (a device, a pipe): never read forever.
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| {
            std::io::Read::read_to_end(&mut std::io::Read::take(f, MAX_FILE_BYTES + 1), &mut bytes)
        })
        .map_err(|e| err(io_problem(&e)))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(err(format!(
            "is more than {} MiB, too large to be a benchmark run",
            MAX_FILE_BYTES / (1024 * 1024)
        )));
    }
    serde_json::from_slice(&bytes).map_err(|e| err(format!("not a readable JSON file ({e})")))
}

fn io_problem(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => format!("cannot read: {e}"),
    }
}

/// Check a parsed JSON document; `path` names it in errors.
pub fn parse_run(value: &Value, path: &Path) -> Result<Run, BlobError> {
    let file = path.display().to_string();
    let err = |problem: String| BlobError {
        file: file.clone(),
        problem,
    };
    let benchmarks = value
        .as_object()
        .and_then(|o| o.get("benchmarks"))
        .ok_or_else(|| err("not a pytest-benchmark run (no 'benchmarks' key)".into()))?
        .as_array()
        .ok_or_else(|| err("'benchmarks' is not a list".into()))?;
    let run_info = value.get(RUN_KEY).and_then(Value::as_object);
    let notes = match run_info.and_then(|o| o.get("notes")) {
        Some(Value::Array(a)) => a.iter().map(display_value).collect(),
        _ => Vec::new(),
    };
    let repeats = run_info
        .and_then(|o| o.get("repeats"))
        .and_then(Value::as_u64);
    let mut records = Vec::with_capacity(benchmarks.len());
    let mut seen = HashSet::new();
    for (i, b) in benchmarks.iter().enumerate() {
        let rec = parse_benchmark(b, i, repeats).map_err(&err)?;
        if !seen.insert(rec.fullname.clone()) {
            return Err(err(format!(
                "benchmark '{}' appears twice; ids must be unique",
                rec.fullname
            )));
        }
        records.push(rec);
    }
    let stopped = match run_info.and_then(|o| o.get(STOPPED_KEY)) {
        Some(Value::Array(a)) => a.iter().map(display_value).collect(),
        _ => Vec::new(),
    };
    let commands = match run_info.and_then(|o| o.get("commands")) {
        Some(Value::Array(a)) => a.len(),
        _ => usize::from(run_info.is_some()),
    };
    Ok(Run {
        path: path.to_path_buf(),
        records,
        notes,
        repeats,
        stopped,
        commands,
    })
}

fn parse_benchmark(b: &Value, index: usize, repeats: Option<u64>) -> Result<Record, String> {
    let obj = b
        .as_object()
        .ok_or_else(|| format!("benchmarks[{index}] is not an object"))?;
    let text = |key: &str| -> Result<Option<String>, String> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("benchmarks[{index}].{key} is not a string")),
        }
    };
    let name = text("name")?;
    let fullname = text("fullname")?;
    let (name, fullname) = match (name, fullname) {
        (Some(n), Some(f)) => (n, f),
        (Some(n), None) => (n.clone(), n),
        (None, Some(f)) => (f.clone(), f),
        (None, None) => return Err(format!("benchmarks[{index}] has no 'fullname' or 'name'")),
    };
    let at = |what: String| format!("benchmark '{fullname}': {what}");
    let group = match obj.get("group") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    let params = match obj.get("params") {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| (k.clone(), display_value(v)))
            .collect(),
        _ => BTreeMap::new(),
    };
    let (time, time_data) = match obj.get("stats") {
        None | Some(Value::Null) => (None, None),
        Some(Value::Object(s)) => (parse_time(s).map_err(at)?, parse_rounds(s).map_err(at)?),
        Some(_) => return Err(at("'stats' is not an object".into())),
    };
    let extra = match obj.get("extra_info") {
        None | Some(Value::Null) => None,
        Some(Value::Object(e)) => Some(e),
        Some(_) => return Err(at("'extra_info' is not an object".into())),
    };
    let memory = match extra.and_then(|e| e.get(MEMORY_KEY)) {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(m)) => parse_memory(m).map_err(at)?,
        Some(_) => return Err(at("extra_info.benchmem is not an object".into())),
    };
    let incomplete = match extra.and_then(|e| e.get(INCOMPLETE_KEY)) {
        Some(Value::Array(a)) => a.iter().map(display_value).collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    };
    let positions = |key: &str, len: usize| -> Result<Option<Vec<usize>>, String> {
        match extra.and_then(|e| e.get(key)) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(a)) => {
                let mut at_ = Vec::with_capacity(a.len());
                for (i, v) in a.iter().enumerate() {
                    match v.as_u64().and_then(|n| usize::try_from(n).ok()) {
                        Some(n) if n < len => at_.push(n),
                        _ => {
                            return Err(format!(
                                "extra_info.{key}[{i}] is {}, not the position of one of its {len} samples",
                                short(v)
                            ));
                        }
                    }
                }
                at_.sort_unstable();
                at_.dedup();
                Ok(Some(at_))
            }
            Some(other) => Err(format!(
                "extra_info.{key} is {}, not a list of positions",
                kind(other)
            )),
        }
    };
    let samples = memory.values().map(|c| c.len()).max().unwrap_or(0);
    let rounds = time_data.as_ref().map_or(0, |d| d.len());
    let incomplete_samples = positions(INCOMPLETE_SAMPLES_KEY, samples).map_err(at)?;
    let incomplete_rounds = positions(INCOMPLETE_ROUNDS_KEY, rounds).map_err(at)?;
    let (incomplete_samples, incomplete_rounds) = match (incomplete_samples, incomplete_rounds) {
        (Some(s), Some(r)) => (Flagged::At(s), Flagged::At(r)),
        (Some(s), None) => (Flagged::At(s), Flagged::At(Vec::new())),
        _ if incomplete.is_empty() => (Flagged::At(Vec::new()), Flagged::At(Vec::new())),
        _ => legacy_positions(&incomplete, samples, rounds, repeats),
    };
    let helper = extra.and_then(|e| e.get(KIND_KEY)) == Some(&Value::from(HELPER_KIND));
    let per_op = match extra.and_then(|e| e.get(PER_OP_KEY)) {
        None | Some(Value::Null) => None,
        Some(v) => Some(PerOp::from_json(v).map_err(at)?),
    };
    let process = extra.and_then(|e| e.get(KIND_KEY)) == Some(&Value::from(PROCESS_KIND));
    let labels = extra
        .into_iter()
        .flatten()
        .filter(|(k, v)| {
            !k.starts_with(MEMORY_KEY)
                && matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(Record {
        name,
        fullname,
        group,
        params,
        time,
        time_data,
        memory,
        per_op,
        incomplete,
        incomplete_samples,
        incomplete_rounds,
        helper,
        process,
        extra: labels,
    })
}

/// `stat` of a series of counts, without a copy where none is needed (a region closed a
/// million times has a million of them).
fn stat_of_counts(stat: Stat, values: &[u64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    match stat {
        Stat::Min => values.iter().min().map(|&v| v as f64),
        Stat::Max => values.iter().max().map(|&v| v as f64),
        Stat::Mean => Some(crate::stats::mean_of(
            values.iter().map(|&v| v as f64),
            values.len(),
        )),
        Stat::Stddev if values.len() < 2 => Some(0.0),
        Stat::Stddev => {
            // As `stats::stddev`, over the counts as they come.
            let n = values.len();
            let m = crate::stats::mean_of(values.iter().map(|&v| v as f64), n);
            let ss: f64 = values
                .iter()
                .map(|&v| (v as f64 - m) * (v as f64 - m))
                .sum();
            Some((ss / (n - 1) as f64).sqrt())
        }
        Stat::Iqr => {
            crate::stats::Stat::Iqr.of(&values.iter().map(|&v| v as f64).collect::<Vec<_>>())
        }
        Stat::Median => {
            let mut v = values.to_vec();
            let mid = v.len() / 2;
            let (_, &mut hi, _) = v.select_nth_unstable(mid);
            if v.len() % 2 == 1 {
                return Some(hi as f64);
            }
            let lo = v[..mid].iter().copied().max().unwrap_or(hi);
            let (a, b) = (lo as f64, hi as f64);
            let m = (a + b) / 2.0;
            Some(if m.is_finite() { m } else { a / 2.0 + b / 2.0 })
        }
    }
}

/// Which samples are incomplete in a run saved before benchmem wrote their positions: its
/// reasons begin `repeat N, `, and a series with exactly one sample per repeat has the
/// N-th repeat's at position N − 1. Anything else is not known.
fn legacy_positions(
    reasons: &[String],
    samples: usize,
    rounds: usize,
    repeats: Option<u64>,
) -> (Flagged, Flagged) {
    let per_repeat = repeats.and_then(|r| usize::try_from(r).ok());
    let parsed: Option<Vec<usize>> = reasons
        .iter()
        .map(|why| {
            let n: usize = why
                .strip_prefix("repeat ")?
                .split(',')
                .next()?
                .parse()
                .ok()?;
            n.checked_sub(1)
        })
        .collect();
    match (parsed, per_repeat) {
        (Some(mut at_), Some(r)) if samples == r && at_.iter().all(|&i| i < r) => {
            at_.sort_unstable();
            at_.dedup();
            // Every sample was timed only when the two series are as long.
            let rounds = if rounds == samples {
                Flagged::At(at_.clone())
            } else {
                Flagged::Unknown
            };
            (Flagged::At(at_), rounds)
        }
        _ => (Flagged::Unknown, Flagged::Unknown),
    }
}

fn display_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Time needs the five stats benchmem can show; a stats object without them (some tools
/// write only a few) leaves time unmeasured rather than failing the file.
fn parse_time(s: &Map<String, Value>) -> Result<Option<TimeStats>, String> {
    let get = |key: &str| -> Result<Option<f64>, String> {
        match s.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => match n.as_f64() {
                Some(v) if v.is_finite() && v >= 0.0 => Ok(Some(v)),
                _ => Err(format!("stats.{key} is {n}, not a duration ≥ 0")),
            },
            Some(other) => Err(format!("stats.{key} is {}, not a number", kind(other))),
        }
    };
    let (min, max, mean, median, stddev) = (
        get("min")?,
        get("max")?,
        get("mean")?,
        get("median")?,
        get("stddev")?,
    );
    let rounds = get("rounds")?.map_or(0, |r| r as u64);
    let iqr = get("iqr")?;
    Ok(match (min, max, mean, median, stddev) {
        (Some(min), Some(max), Some(mean), Some(median), Some(stddev)) => Some(TimeStats {
            min,
            max,
            mean,
            median,
            stddev,
            iqr,
            rounds,
        }),
        _ => None,
    })
}

/// pytest-benchmark's `stats.data` (every round, seconds) when the file has it: written
/// by `--benchmark-json` and by benchmem, left out by `--benchmark-save` without
/// `--benchmark-save-data`.
fn parse_rounds(s: &Map<String, Value>) -> Result<Option<Arc<Vec<f64>>>, String> {
    let data = match s.get("data") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(format!(
                "stats.data is {}, not a list of round times",
                kind(other)
            ));
        }
    };
    data.iter()
        .enumerate()
        .map(|(i, v)| match v.as_f64() {
            Some(t) if t.is_finite() && t >= 0.0 => Ok(t),
            _ => Err(format!(
                "stats.data[{i}] is {}, not a duration ≥ 0",
                short(v)
            )),
        })
        .collect::<Result<Vec<f64>, String>>()
        .map(|d| Some(Arc::new(d)))
}

fn parse_memory(m: &Map<String, Value>) -> Result<BTreeMap<Metric, Column>, String> {
    let mut out = BTreeMap::new();
    for metric in BLOB {
        let Some(key) = metric.blob_key() else {
            continue;
        };
        let series = match m.get(key) {
            None | Some(Value::Null) => continue,
            Some(Value::Array(a)) => a,
            Some(other) => {
                return Err(format!(
                    "extra_info.benchmem.{key} is {}, not a list of per-repeat values",
                    kind(other)
                ));
            }
        };
        let mut values = Vec::with_capacity(series.len());
        for (i, v) in series.iter().enumerate() {
            let n = v.as_u64().ok_or_else(|| {
                format!(
                    "extra_info.benchmem.{key}[{i}] is {}, not a whole number ≥ 0",
                    short(v)
                )
            })?;
            values.push(n);
        }
        out.insert(metric, Column::from(values));
    }
    Ok(out)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn short(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        other => kind(other).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Run, String> {
        parse_run(&v, Path::new("r.json")).map_err(|e| e.to_string())
    }

    fn bench(extra: Value) -> Value {
        json!({"benchmarks": [{"name": "t", "fullname": "m.py::t", "extra_info": extra,
            "stats": {"min": 1.0, "max": 2.0, "mean": 1.5, "median": 1.5, "stddev": 0.5,
                      "rounds": 2}}]})
    }

    #[test]
    fn reads_memory_and_time() {
        let run = parse(bench(json!({"benchmem": {"peak_bytes": [10, 30, 20],
            "allocations": [5, 5, 5], "mode": "heap"}})))
        .unwrap();
        let r = &run.records[0];
        assert_eq!(r.value(Metric::Peak, Stat::Min), Some(10.0));
        assert_eq!(r.value(Metric::Peak, Stat::Median), Some(20.0));
        assert_eq!(r.value(Metric::Time, Stat::Mean), Some(1.5));
        assert_eq!(r.value(Metric::Allocated, Stat::Min), None);
        assert!(r.has(Metric::Allocations) && !r.has(Metric::Retained));
        assert_eq!(r.samples(Metric::Peak), 3);
    }

    #[test]
    fn time_only_file_is_fine() {
        let run = parse(bench(json!({}))).unwrap();
        assert!(crate::metrics::BLOB.iter().all(|&m| !run.has(m)));
        assert_eq!(run.records[0].samples(Metric::Time), 2);
    }

    #[test]
    fn malformed_inputs_name_the_problem() {
        let cases = [
            (
                json!([1, 2]),
                "r.json: not a pytest-benchmark run (no 'benchmarks' key)",
            ),
            (
                json!({"benchmarks": {}}),
                "r.json: 'benchmarks' is not a list",
            ),
            (
                json!({"benchmarks": [3]}),
                "r.json: benchmarks[0] is not an object",
            ),
            (
                json!({"benchmarks": [{}]}),
                "r.json: benchmarks[0] has no 'fullname' or 'name'",
            ),
            (
                json!({"benchmarks": [{"name": 5}]}),
                "r.json: benchmarks[0].name is not a string",
            ),
            (
                bench(json!({"benchmem": {"peak_bytes": [1, -5]}})),
                "r.json: benchmark 'm.py::t': extra_info.benchmem.peak_bytes[1] is -5, not a whole number ≥ 0",
            ),
            (
                bench(json!({"benchmem": {"peak_bytes": [1.5]}})),
                "r.json: benchmark 'm.py::t': extra_info.benchmem.peak_bytes[0] is 1.5, not a whole number ≥ 0",
            ),
            (
                bench(json!({"benchmem": {"peak_bytes": ["1"]}})),
                "r.json: benchmark 'm.py::t': extra_info.benchmem.peak_bytes[0] is a string, not a whole number ≥ 0",
            ),
            (
                bench(json!({"benchmem": {"total_bytes": 7}})),
                "r.json: benchmark 'm.py::t': extra_info.benchmem.total_bytes is a number, not a list of per-repeat values",
            ),
            (
                bench(json!({"benchmem": [1]})),
                "r.json: benchmark 'm.py::t': extra_info.benchmem is not an object",
            ),
            (
                json!({"benchmarks": [{"name": "a", "stats": {"min": "fast"}}]}),
                "r.json: benchmark 'a': stats.min is a string, not a number",
            ),
            (
                json!({"benchmarks": [{"name": "a", "stats": {"min": -1}}]}),
                "r.json: benchmark 'a': stats.min is -1, not a duration ≥ 0",
            ),
            (
                json!({"benchmarks": [{"name": "a"}, {"name": "a"}]}),
                "r.json: benchmark 'a' appears twice; ids must be unique",
            ),
        ];
        for (v, want) in cases {
            assert_eq!(parse(v).unwrap_err(), want);
        }
    }

    #[test]
    fn huge_integers_are_rejected_not_wrapped() {
        let text = r#"{"benchmarks":[{"name":"a","extra_info":{"benchmem":{"peak_bytes":[18446744073709551616]}}}]}"#;
        let v: Value = serde_json::from_str(text).unwrap();
        let e = parse(v).unwrap_err();
        assert!(
            e.ends_with("peak_bytes[0] is 1.8446744073709552e+19, not a whole number ≥ 0"),
            "{e}"
        );
    }

    #[test]
    fn file_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.json");
        let e = read_run(&missing).unwrap_err();
        assert_eq!(e.problem, "no such file");
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{not json").unwrap();
        let e = read_run(&bad).unwrap_err();
        assert!(
            e.problem.starts_with("not a readable JSON file ("),
            "{}",
            e.problem
        );
        assert_eq!(
            read_run(dir.path()).unwrap_err().problem,
            "is a directory, not a benchmark run"
        );
    }

    fn arb_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            prop_oneof![
                Just("name".to_string()),
                Just("fullname".to_string()),
                "\\PC{0,8}"
            ]
            .prop_map(Value::from),
        ];
        leaf.prop_recursive(5, 64, 6, |inner| {
            let key = prop_oneof![
                Just("benchmarks".to_string()),
                Just("name".to_string()),
                Just("fullname".to_string()),
                Just("stats".to_string()),
                Just("min".to_string()),
                Just("extra_info".to_string()),
                Just("benchmem".to_string()),
                Just("peak_bytes".to_string()),
                Just("params".to_string()),
                Just("benchmem_incomplete".to_string()),
                "[a-z]{1,6}",
            ];
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                proptest::collection::btree_map(key, inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        // Whatever JSON arrives, reading returns a run or an error; it never panics, and
        // what it accepts can be summarised.
        #[test]
        fn never_panics_on_arbitrary_json(v in arb_json()) {
            if let Ok(run) = parse_run(&v, Path::new("x.json")) {
                for r in &run.records {
                    for m in crate::metrics::ALL {
                        for st in crate::stats::ALL {
                            let _ = r.value(m, st);
                        }
                    }
                }
            }
            let wrapped = serde_json::json!({"benchmarks": [v]});
            let _ = parse_run(&wrapped, Path::new("x.json"));
        }

        #[test]
        fn never_panics_on_arbitrary_memory_arrays(
            vals in proptest::collection::vec(proptest::num::f64::ANY, 0..8),
            ints in proptest::collection::vec(proptest::num::i64::ANY, 0..8),
        ) {
            let floats: Vec<Value> = vals.iter().filter_map(|f| serde_json::Number::from_f64(*f)).map(Value::Number).collect();
            let v = json!({"benchmarks": [{"name": "a", "extra_info": {"benchmem": {
                "peak_bytes": floats, "allocations": ints}}}]});
            let r = parse_run(&v, Path::new("x.json"));
            if let Ok(run) = r {
                let all_ok = ints.iter().all(|i| *i >= 0);
                proptest::prop_assert!(all_ok);
                let _ = run.records[0].value(Metric::Peak, Stat::Mean);
            }
        }
    }
}
