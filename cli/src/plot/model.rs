//! What every view draws from: the runs' benchmarks as points (series, id, dims, value),
//! filtered by `--where` and regrouped by `--pivot`, the way pytest-benchmem's long frame
//! is. Dims are a benchmark's parametrize values, its scalar `extra_info` (benchmem's own
//! keys left out) and `node.group`/`node.module`/`node.func`/`node.class` from its id.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::blob::{Record, Run, parse_run, read_json};
use crate::error::Result;
use crate::metrics::Metric;
use crate::stats::Stat;

/// Prefix of the dims taken from the benchmark's id and group: usable by name, never
/// picked on their own.
pub const NODE_PREFIX: &str = "node.";

/// One value of a dim.
#[derive(Clone, Debug, PartialEq)]
pub enum DimValue {
    /// A JSON number.
    Num(f64),
    /// Anything else scalar, as text.
    Text(String),
}

impl DimValue {
    /// As pytest-benchmem shows it: whole numbers without a fraction.
    pub fn text(&self) -> String {
        match self {
            DimValue::Num(n) => number(*n),
            DimValue::Text(t) => t.clone(),
        }
    }

    /// The number, for a numeric dim.
    pub fn num(&self) -> Option<f64> {
        match self {
            DimValue::Num(n) => Some(*n),
            DimValue::Text(_) => None,
        }
    }

    /// Whether `--where KEY=want` selects this value: the same text, or the same number.
    fn matches(&self, want: &str) -> bool {
        self.text() == want
            || match (self, want.trim().parse::<f64>()) {
                (DimValue::Num(n), Ok(w)) => *n == w,
                (DimValue::Text(t), Ok(w)) => t.trim().parse::<f64>() == Ok(w),
                _ => false,
            }
    }
}

/// A number as written in data attributes and labels: integers without `.0`, others in
/// the shortest form that reads back to the same value.
pub fn number(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 9.007_199_254_740_992e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// One benchmark of one series (a run, or a pivot value).
#[derive(Clone, Debug)]
pub struct Point {
    /// Index into [`Data::series`].
    pub series: usize,
    /// What points of different series pair on: the benchmark id (fullname), with the
    /// pivot's token taken out under `--pivot`.
    pub id: String,
    /// The benchmark's own full id, for hover text.
    pub fullname: String,
    /// Its short name.
    pub name: String,
    /// Analysis dims.
    pub dims: BTreeMap<String, DimValue>,
    /// The metric reduced by the stat.
    pub value: f64,
    /// Smallest and largest repeat (memory metrics; `None` for time).
    pub spread: Option<(f64, f64)>,
    /// How many repeats the value summarises.
    pub samples: usize,
}

/// The points of all runs for one metric and stat.
#[derive(Debug)]
pub struct Data {
    /// Series labels in order: run labels, or the pivot's values.
    pub series: Vec<String>,
    /// Every point, series by series in file order.
    pub points: Vec<Point>,
    /// Every dim name seen, in order of first appearance.
    pub dims: Vec<String>,
    /// The metric plotted.
    pub metric: Metric,
    /// The stat over repeats.
    pub stat: Stat,
    /// What `--pivot` regrouped by, if it did.
    pub pivot: Option<String>,
}

/// A run as read: the checked benchmarks and the raw document (params keep their JSON
/// types there; the timeline lives there).
pub struct LoadedRun {
    /// Its label.
    pub label: String,
    /// The checked run.
    pub run: Run,
    /// The whole document.
    pub doc: Value,
}

/// Read every file; labels from `-l` or the file stems (parent directory added where stems
/// clash).
pub fn load(files: &[PathBuf], labels: &[String]) -> Result<Vec<LoadedRun>> {
    if !labels.is_empty() && labels.len() != files.len() {
        return Err(format!(
            "--label given {} time(s) for {} file(s): give one label per file, in order",
            labels.len(),
            files.len()
        )
        .into());
    }
    let labels = if labels.is_empty() {
        default_labels(files)
    } else {
        labels.to_vec()
    };
    let mut out = Vec::with_capacity(files.len());
    for (path, label) in files.iter().zip(labels) {
        let doc = read_json(path)?;
        let run = parse_run(&doc, path)?;
        if run.records.is_empty() {
            return Err(format!("{}: no benchmarks in this run", path.display()).into());
        }
        out.push(LoadedRun { label, run, doc });
    }
    Ok(out)
}

/// Run labels when none is given: the ones `compare` gives (one rule, tests/golden/labels.json).
use crate::commands::compare::{default_labels, strip_token};

/// The metric plotted when `--columns` is not given: peak when any run measured memory,
/// else time.
pub fn default_metric(runs: &[LoadedRun]) -> Metric {
    if runs.iter().any(|r| r.run.has(Metric::Peak)) {
        Metric::Peak
    } else {
        Metric::Time
    }
}

/// The points of `metric` reduced by `stat`, filtered by `filters`, regrouped by `pivot`.
pub fn points(
    runs: &[LoadedRun],
    metric: Metric,
    stat: Stat,
    filters: &[(String, String)],
    pivot: Option<&str>,
) -> Result<Data> {
    if !runs.iter().any(|r| r.run.has(metric)) {
        let files: Vec<String> = runs
            .iter()
            .map(|r| r.run.path.display().to_string())
            .collect();
        return Err(format!(
            "{}: no benchmark measured {metric}; choose another --columns (memory comes from \
             `benchmem run` or the pytest plugin's extra_info.benchmem)",
            files.join(", ")
        )
        .into());
    }
    let mut data = Data {
        series: runs.iter().map(|r| r.label.clone()).collect(),
        points: Vec::new(),
        dims: Vec::new(),
        metric,
        stat,
        pivot: None,
    };
    for (i, r) in runs.iter().enumerate() {
        let raw = r.doc.get("benchmarks").and_then(Value::as_array);
        for (j, rec) in r.run.records.iter().enumerate() {
            let Some(value) = rec.value(metric, stat) else {
                continue;
            };
            let dims = dims(rec, raw.and_then(|b| b.get(j)));
            for k in dims.keys() {
                if !data.dims.contains(k) {
                    data.dims.push(k.clone());
                }
            }
            data.points.push(Point {
                series: i,
                id: rec.fullname.clone(),
                fullname: rec.fullname.clone(),
                name: rec.name.clone(),
                dims,
                value,
                spread: spread(rec, metric),
                samples: rec.samples(metric),
            });
        }
    }
    for (key, want) in filters {
        if !data.dims.contains(key) {
            return Err(format!(
                "--where {key}={want}: '{key}' is not a parameter of these benchmarks; choose from {}",
                list(&data.dims)
            )
            .into());
        }
        data.points
            .retain(|p| p.dims.get(key).is_some_and(|v| v.matches(want)));
    }
    if data.points.is_empty() && !filters.is_empty() {
        let f: Vec<String> = filters.iter().map(|(k, v)| format!("{k}={v}")).collect();
        return Err(format!("--where {}: no benchmark matches", f.join(" --where ")).into());
    }
    if let Some(p) = pivot {
        pivot_by(&mut data, runs.len(), p)?;
    }
    Ok(data)
}

fn list(dims: &[String]) -> String {
    if dims.is_empty() {
        "none (these benchmarks have no parameters)".to_string()
    } else {
        dims.join(", ")
    }
}

fn spread(rec: &Record, metric: Metric) -> Option<(f64, f64)> {
    let lo = rec.value(metric, Stat::Min)?;
    let hi = rec.value(metric, Stat::Max)?;
    (metric != Metric::Time).then_some((lo, hi))
}

/// The dims of one benchmark: node dims, then params and scalar extra_info (which win).
fn dims(rec: &Record, raw: Option<&Value>) -> BTreeMap<String, DimValue> {
    let mut out = BTreeMap::new();
    if let Some(g) = &rec.group {
        out.insert(format!("{NODE_PREFIX}group"), DimValue::Text(g.clone()));
    }
    if let Some((module, rest)) = rec.fullname.split_once("::") {
        if !module.is_empty() {
            out.insert(
                format!("{NODE_PREFIX}module"),
                DimValue::Text(module.to_string()),
            );
        }
        let segments: Vec<&str> = rest.split("::").collect();
        let last = segments.last().copied().unwrap_or("");
        let func = last.split('[').next().unwrap_or("");
        if !func.is_empty() {
            out.insert(
                format!("{NODE_PREFIX}func"),
                DimValue::Text(func.to_string()),
            );
        }
        if segments.len() > 1 {
            out.insert(
                format!("{NODE_PREFIX}class"),
                DimValue::Text(segments[segments.len() - 2].to_string()),
            );
        }
    }
    let raw = raw.and_then(Value::as_object);
    let params = raw.and_then(|b| b.get("params")).and_then(Value::as_object);
    let extra = raw
        .and_then(|b| b.get("extra_info"))
        .and_then(Value::as_object);
    for source in [params, extra].into_iter().flatten() {
        for (k, v) in source {
            if k.starts_with("benchmem") {
                continue;
            }
            let d = match v {
                Value::Number(n) => n.as_f64().map(DimValue::Num),
                // pytest-benchmark's stand-in for a value it could not serialize: the same
                // text for distinct objects, so no axis.
                Value::String(s) if s.starts_with("UNSERIALIZABLE[") => None,
                Value::String(s) => Some(DimValue::Text(s.clone())),
                Value::Bool(b) => Some(DimValue::Text(b.to_string())),
                _ => None,
            };
            if let Some(d) = d {
                out.insert(k.clone(), d);
            }
        }
    }
    out
}

/// `--pivot`: one run's values of a dim become the series; the dim leaves each point's
/// identity (its dims and its id's `[...]` part) so points differing only in it pair up.
fn pivot_by(data: &mut Data, runs: usize, pivot: &str) -> Result<()> {
    if runs > 1 {
        return Err(format!(
            "--pivot {pivot} compares the values of a parameter within one run; got {runs} runs: \
             give one run, or drop --pivot to compare the runs"
        )
        .into());
    }
    let key = pivot.strip_prefix("param:").unwrap_or(pivot);
    if !data.dims.iter().any(|d| d == key) {
        return Err(format!(
            "--pivot {pivot}: '{key}' is not a parameter of these benchmarks; choose from {}",
            list(&data.dims)
        )
        .into());
    }
    let mut series: Vec<String> = Vec::new();
    let mut kept = Vec::with_capacity(data.points.len());
    for mut p in std::mem::take(&mut data.points) {
        let Some(v) = p.dims.remove(key) else {
            continue;
        };
        let label = v.text();
        let idx = series.iter().position(|s| *s == label).unwrap_or_else(|| {
            series.push(label.clone());
            series.len() - 1
        });
        p.series = idx;
        p.id = strip_token(&p.id, &label);
        kept.push(p);
    }
    data.series = series;
    data.points = kept;
    data.dims.retain(|d| d != key);
    data.pivot = Some(key.to_string());
    Ok(())
}

impl Data {
    /// Short names where they are unique among all pairing ids, else the ids: what rows
    /// and hover texts call each benchmark.
    pub fn display_names(&self) -> BTreeMap<String, String> {
        let mut by_name: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for p in &self.points {
            let short = short_name(p);
            let ids = by_name.entry(short).or_default();
            if !ids.contains(&p.id.as_str()) {
                ids.push(&p.id);
            }
        }
        self.points
            .iter()
            .map(|p| {
                let short = short_name(p);
                let shown = if by_name[short].len() == 1 {
                    short.to_string()
                } else {
                    p.id.clone()
                };
                (p.id.clone(), shown)
            })
            .collect()
    }

    /// Pairing ids in order of first appearance.
    pub fn ids(&self) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        self.points
            .iter()
            .filter(|p| seen.insert(p.id.as_str()))
            .map(|p| p.id.clone())
            .collect()
    }

    /// The point of `series` for pairing id `id`.
    pub fn get(&self, series: usize, id: &str) -> Option<&Point> {
        self.points
            .iter()
            .find(|p| p.series == series && p.id == id)
    }

    /// Whether `dim` holds a number in every point that has it (and some point has it).
    pub fn numeric(&self, dim: &str) -> bool {
        let mut any = false;
        for p in &self.points {
            match p.dims.get(dim) {
                Some(DimValue::Num(_)) => any = true,
                Some(DimValue::Text(_)) => return false,
                None => {}
            }
        }
        any
    }

    /// A dim named on the command line must exist: one line naming the option otherwise.
    pub fn require_dim(&self, option: &str, dim: &str) -> Result<()> {
        if self.dims.iter().any(|d| d == dim) {
            Ok(())
        } else {
            Err(format!(
                "{option} {dim}: not a parameter of these benchmarks; choose from {}",
                list(&self.dims)
            )
            .into())
        }
    }
}

/// The pairing id's own short form: the name, with the pivot's token gone when the id lost it.
fn short_name(p: &Point) -> &str {
    if p.id == p.fullname {
        &p.name
    } else {
        p.id.rsplit("::").next().unwrap_or(&p.id)
    }
}

/// The order `compare` lists benchmarks in (digit runs as numbers).
pub(crate) use crate::commands::compare::natural;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_back() {
        assert_eq!(number(1048576.0), "1048576");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(1.0 / 3.0).parse::<f64>().unwrap(), 1.0 / 3.0);
    }

    #[test]
    fn pivot_token_leaves_the_id() {
        assert_eq!(strip_token("m.py::t[legacy-100]", "legacy"), "m.py::t[100]");
        assert_eq!(strip_token("m.py::t[legacy]", "legacy"), "m.py::t");
        assert_eq!(strip_token("m.py::t", "legacy"), "m.py::t");
    }

    #[test]
    fn where_matches_text_or_number() {
        assert!(DimValue::Num(1000.0).matches("1000"));
        assert!(DimValue::Num(1000.0).matches("1e3"));
        assert!(DimValue::Text("a".into()).matches("a"));
        assert!(!DimValue::Text("a".into()).matches("b"));
    }
}
