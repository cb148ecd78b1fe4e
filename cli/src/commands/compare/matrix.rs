//! Runs loaded side by side: labels, the union of benchmark ids, lookups, ordering and
//! grouping. Benchmarks are matched across runs on their id (pytest-benchmark `fullname`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::args::{GroupKey, SortBy};
use crate::blob::{Record, Run, read_run};
use crate::error::Result;
use crate::metrics::Metric;
use crate::stats::Stat;
use crate::table::row_names;

/// One run and its label.
#[derive(Debug)]
pub struct Side {
    /// Column/row label (`-l` or the file stem).
    pub label: String,
    /// The run.
    pub run: Run,
    index: HashMap<String, usize>,
}

impl Side {
    /// The benchmark with this id, if the run has it.
    pub fn get(&self, id: &str) -> Option<&Record> {
        self.index.get(id).map(|&i| &self.run.records[i])
    }
}

/// All runs being compared.
#[derive(Debug)]
pub struct Matrix {
    /// Runs in the order given: first = base, last = head.
    pub sides: Vec<Side>,
    /// Every benchmark id of any run, in order of first appearance.
    pub ids: Vec<String>,
    /// Display name of every id: short where unique among all ids, else the full id.
    names: HashMap<String, String>,
}

/// Load every file; labels from `labels` or the file stems (made unique).
pub(crate) fn load(files: &[PathBuf], labels: &[String]) -> Result<Matrix> {
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
    let mut sides = Vec::with_capacity(files.len());
    let mut ids: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (path, label) in files.iter().zip(labels) {
        // Helper processes (what a shim ran before the program) are not compared.
        let (run, _) = read_run(path)?.split_helpers();
        if run.records.is_empty() {
            return Err(format!("{}: no benchmarks in this run", path.display()).into());
        }
        let index: HashMap<String, usize> = run
            .records
            .iter()
            .enumerate()
            .map(|(i, r)| (r.fullname.clone(), i))
            .collect();
        for r in &run.records {
            if seen.insert(r.fullname.clone()) {
                ids.push(r.fullname.clone());
            }
        }
        sides.push(Side { label, run, index });
    }
    let mut m = Matrix {
        sides,
        ids,
        names: HashMap::new(),
    };
    let first: Vec<&Record> = m.ids.iter().filter_map(|id| m.describe(id)).collect();
    let names = first
        .iter()
        .map(|r| r.fullname.clone())
        .zip(row_names(first.iter().copied()))
        .collect();
    m.names = names;
    Ok(m)
}

fn default_labels(files: &[PathBuf]) -> Vec<String> {
    let stem = |p: &Path| {
        p.file_stem().map_or_else(
            || p.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        )
    };
    let with_parent = |p: &Path| match p.parent().and_then(|d| d.file_name()) {
        Some(d) => format!("{}/{}", d.to_string_lossy(), stem(p)),
        None => stem(p),
    };
    let stems: Vec<String> = files.iter().map(|p| stem(p)).collect();
    let mut out: Vec<String> = files
        .iter()
        .zip(&stems)
        .map(|(p, s)| {
            let clash = files.iter().zip(&stems).any(|(q, t)| t == s && q != p);
            if clash { with_parent(p) } else { s.clone() }
        })
        .collect();
    // The same file given twice still gets two distinct labels.
    for i in 0..out.len() {
        let n = out[..i].iter().filter(|o| **o == out[i]).count();
        if n > 0 {
            out[i] = format!("{} ({})", out[i], n + 1);
        }
    }
    out
}

/// The value compare shows and sorts by: `stat` over the clean samples, or over every
/// sample when none is known to be clean (the row is marked incomplete either way).
pub fn shown_value(r: &Record, metric: Metric, stat: Stat) -> Option<f64> {
    r.clean_value(metric, stat)
        .or_else(|| r.value(metric, stat))
}

impl Matrix {
    /// The first record for `id` in run order (its name, group and params describe it).
    pub fn describe(&self, id: &str) -> Option<&Record> {
        self.sides.iter().find_map(|s| s.get(id))
    }

    /// Ids present in every run.
    pub fn common(&self) -> Vec<&str> {
        self.ids
            .iter()
            .filter(|id| self.sides.iter().all(|s| s.get(id).is_some()))
            .map(String::as_str)
            .collect()
    }

    /// The metrics among `wanted` that at least one benchmark of one run measured.
    pub fn present(&self, wanted: &[Metric]) -> Vec<Metric> {
        wanted
            .iter()
            .copied()
            .filter(|&m| self.sides.iter().any(|s| s.run.has(m)))
            .collect()
    }

    /// Display name of `id`: short where unique among all ids, else the full id.
    pub fn name<'a>(&'a self, id: &'a str) -> &'a str {
        self.names.get(id).map_or(id, String::as_str)
    }

    /// Ids ordered by `sort`, keyed on `metric`/`stat` for `value` and `change`.
    pub fn sorted_ids(&self, sort: SortBy, metric: Metric, stat: Stat) -> Vec<String> {
        let last = |id: &str| {
            self.sides
                .iter()
                .rev()
                .find_map(|s| s.get(id).and_then(|r| shown_value(r, metric, stat)))
        };
        let first = |id: &str| {
            self.sides
                .iter()
                .find_map(|s| s.get(id).and_then(|r| shown_value(r, metric, stat)))
        };
        let mut ids = self.ids.clone();
        match sort {
            SortBy::Name => ids.sort_by(|a, b| natural(a, b)),
            SortBy::Value => {
                ids.sort_by(|a, b| desc(last(a), last(b)).then_with(|| natural(a, b)));
            }
            SortBy::Change => {
                let change = |id: &str| match (first(id), last(id)) {
                    (Some(f), Some(l)) if f > 0.0 => Some(l / f),
                    (Some(_), Some(l)) if l > 0.0 => Some(f64::INFINITY),
                    (Some(_), Some(_)) => Some(1.0),
                    _ => None,
                };
                ids.sort_by(|a, b| desc(change(a), change(b)).then_with(|| natural(a, b)));
            }
        }
        ids
    }

    /// Sections of `ids` (kept in the given order) by the `--group-by` keys, each titled.
    pub fn sections(&self, ids: &[String], keys: &[GroupKey]) -> Vec<(String, Vec<String>)> {
        let mut order: Vec<String> = Vec::new();
        let mut by: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for id in ids {
            let title = self
                .describe(id)
                .map_or_else(String::new, |r| title(r, keys));
            if !by.contains_key(&title) {
                order.push(title.clone());
            }
            by.entry(title).or_default().push(id.clone());
        }
        order
            .into_iter()
            .map(|t| {
                let members = by.remove(&t).unwrap_or_default();
                (t, members)
            })
            .collect()
    }
}

fn title(r: &Record, keys: &[GroupKey]) -> String {
    let parts: Vec<String> = keys
        .iter()
        .map(|k| match k {
            GroupKey::Fullname => r.fullname.clone(),
            GroupKey::Name => format!("name '{}'", r.name),
            GroupKey::Group => match &r.group {
                Some(g) => format!("group '{g}'"),
                None => "no group".to_string(),
            },
            GroupKey::Param(p) => match r.params.get(p) {
                Some(v) => format!("{p}={v}"),
                None => format!("no param '{p}'"),
            },
        })
        .collect();
    parts.join(", ")
}

/// Natural order: digit runs compare as numbers, so `test[10]` sorts before `test[1000]`.
pub fn natural(a: &str, b: &str) -> std::cmp::Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for (x, y) in ca.iter().zip(&cb) {
        let ord = match (x, y) {
            ((true, dx), (true, dy)) => {
                let (tx, ty) = (dx.trim_start_matches('0'), dy.trim_start_matches('0'));
                tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty))
            }
            ((_, sx), (_, sy)) => sx.cmp(sy),
        };
        if ord != std::cmp::Ordering::Equal {
            return ord;
        }
    }
    ca.len().cmp(&cb.len()).then_with(|| a.cmp(b))
}

/// Descending order with missing values last.
fn desc(a: Option<f64>, b: Option<f64>) -> std::cmp::Ordering {
    match (a, b) {
        (Some(x), Some(y)) => y.total_cmp(&x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        let mut v = vec!["t[1000]", "t[10]", "t[2]", "s", "t[10]x", "é"];
        v.sort_by(|a, b| natural(a, b));
        assert_eq!(v, vec!["s", "t[2]", "t[10]", "t[10]x", "t[1000]", "é"]);
    }

    #[test]
    fn labels_are_stems_made_unique() {
        let files: Vec<PathBuf> = [
            "a/run.json",
            "b/run.json",
            "c/head.json",
            "head.json",
            "head.json",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(
            default_labels(&files),
            vec!["a/run", "b/run", "c/head", "head", "head (2)"]
        );
    }
}
