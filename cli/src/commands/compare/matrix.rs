//! Runs loaded side by side: labels, the union of benchmark ids, lookups, ordering and
//! grouping. Benchmarks are matched across runs on their id (pytest-benchmark `fullname`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::args::{GroupKey, SortBy};
use crate::blob::{Record, Run, read_run};
use crate::error::{Error, Result};
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
    /// Runs in the order given: first = base, last = head. With `--pivot`, the values of
    /// the pivot's dimension in one run, in order of first appearance.
    pub sides: Vec<Side>,
    /// The dimension `--pivot` folded the run by.
    pub pivot: Option<String>,
    /// What the pivot left out or could not pair, one line each.
    pub notes: Vec<String>,
    /// Every benchmark id of any run, in order of first appearance.
    pub ids: Vec<String>,
    /// Display name of every id: short where unique among all ids, else the full id.
    names: HashMap<String, String>,
}

/// Load every file; labels from `labels` or the file stems (made unique). With `pivot`,
/// the one file is folded along that dimension instead.
pub(crate) fn load(files: &[PathBuf], labels: &[String], pivot: Option<&str>) -> Result<Matrix> {
    same_file_twice(files)?;
    if let Some(p) = pivot {
        return pivoted(files, labels, p);
    }
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
    Ok(Matrix::new(sides, ids, None, Vec::new()))
}

/// The same file named twice (under one path or two) is refused: it would be compared
/// with itself, and its two labels would say two runs.
fn same_file_twice(files: &[PathBuf]) -> Result<()> {
    let mut seen: Vec<(PathBuf, &PathBuf)> = Vec::new();
    for f in files {
        // A file that cannot be resolved is reported by its reader, with its reason.
        let Ok(real) = std::fs::canonicalize(f) else {
            continue;
        };
        if let Some((_, first)) = seen.iter().find(|(r, _)| *r == real) {
            let how = if *first == f {
                "twice".to_string()
            } else {
                format!("twice (as {} and {})", first.display(), f.display())
            };
            return Err(format!(
                "{} is given {how}: compare distinct runs (copy the file to compare it with itself)",
                f.display()
            )
            .into());
        }
        seen.push((real, f));
    }
    Ok(())
}

/// `--pivot DIM`: one run folded along a parameter (`param:NAME`) or an `extra_info` value
/// (`NAME`, a parameter of that name first): each value is a side, and the value's token
/// leaves every id (`test_b[legacy-100]` is `test_b[100]` of side `legacy`), so benchmarks
/// that differ only in it are compared.
fn pivoted(files: &[PathBuf], labels: &[String], pivot: &str) -> Result<Matrix> {
    let [path] = files else {
        return Err(format!(
            "--pivot {pivot} folds one run along a dimension; got {} runs: give one run, or drop --pivot to compare the runs",
            files.len()
        )
        .into());
    };
    if !labels.is_empty() {
        return Err(format!(
            "--label names runs, and with --pivot {pivot} the series are the values of the dimension: drop --label"
        )
        .into());
    }
    let (param_only, key) = match pivot.strip_prefix("param:") {
        Some(k) => (true, k),
        None => (false, pivot),
    };
    if key.is_empty() {
        return Err(Error::Input(
            "--pivot names no dimension: write param:NAME or an extra_info NAME".into(),
        ));
    }
    let (run, _) = read_run(path)?.split_helpers();
    if run.records.is_empty() {
        return Err(format!("{}: no benchmarks in this run", path.display()).into());
    }
    let value_of = |r: &Record| -> Option<String> {
        r.params.get(key).cloned().or_else(|| {
            (!param_only)
                .then(|| r.extra.get(key).map(label_text))
                .flatten()
        })
    };
    if run.records.iter().all(|r| value_of(r).is_none()) {
        let mut dims: Vec<String> = run
            .records
            .iter()
            .flat_map(|r| {
                let extra = r.extra.keys().filter(|_| !param_only);
                r.params
                    .keys()
                    .map(|k| format!("param:{k}"))
                    .chain(extra.cloned())
            })
            .collect();
        dims.sort();
        dims.dedup();
        let choose = if dims.is_empty() {
            "it has no parameters".to_string()
        } else {
            format!("choose from {}", dims.join(", "))
        };
        return Err(format!(
            "--pivot {pivot}: no benchmark of {} has '{key}'; {choose}",
            path.display()
        )
        .into());
    }
    let mut series: Vec<(String, Vec<Record>)> = Vec::new();
    let mut left_out: Vec<String> = Vec::new();
    for r in &run.records {
        let Some(value) = value_of(r) else {
            left_out.push(r.name.clone());
            continue;
        };
        let mut folded = r.clone();
        folded.params.remove(key);
        if !param_only || !r.params.contains_key(key) {
            folded.extra.remove(key);
        }
        folded.fullname = strip_token(&r.fullname, &value);
        folded.name = strip_token(&r.name, &value);
        let at = match series.iter().position(|(v, _)| *v == value) {
            Some(i) => i,
            None => {
                series.push((value.clone(), Vec::new()));
                series.len() - 1
            }
        };
        if let Some(other) = series[at].1.iter().find(|o| o.fullname == folded.fullname) {
            return Err(format!(
                "--pivot {pivot}: {} and {} both become {} for {key}={value}: the values of '{key}' do not tell them apart",
                other_original(&run, other, key, &value),
                r.fullname,
                folded.fullname
            )
            .into());
        }
        series[at].1.push(folded);
    }
    let mut ids: Vec<String> = Vec::new();
    let mut sides = Vec::with_capacity(series.len());
    for (value, records) in series {
        for r in &records {
            if !ids.contains(&r.fullname) {
                ids.push(r.fullname.clone());
            }
        }
        let index = records
            .iter()
            .enumerate()
            .map(|(i, r)| (r.fullname.clone(), i))
            .collect();
        let run = Run {
            records,
            ..run.clone()
        };
        sides.push(Side {
            label: value,
            run,
            index,
        });
    }
    let mut notes = Vec::new();
    if !left_out.is_empty() {
        notes.push(format!("not pivoted (no {key}): {}", left_out.join(", ")));
    }
    let paired = ids
        .iter()
        .any(|id| sides.iter().filter(|s| s.get(id).is_some()).count() > 1);
    if sides.len() > 1 && !paired {
        notes.push(format!(
            "--pivot {pivot}: no benchmark has two values of '{key}' under one id, so nothing is compared (an id of pytest.param(id=...) that differs from the value does not fold)"
        ));
    }
    Ok(Matrix::new(sides, ids, Some(key.to_string()), notes))
}

/// The id, before folding, of the record `folded` came from: for a message.
fn other_original(run: &Run, folded: &Record, key: &str, value: &str) -> String {
    run.records
        .iter()
        .find(|r| {
            strip_token(&r.fullname, value) == folded.fullname
                && (r.params.get(key).map(String::as_str) == Some(value)
                    || r.extra.get(key).map(label_text).as_deref() == Some(value))
        })
        .map_or_else(|| folded.fullname.clone(), |r| r.fullname.clone())
}

/// An `extra_info` value as a series label or a group title: strings as they are, numbers
/// as JSON writes them.
pub fn label_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `test_b[legacy-100]` without the token `legacy` is `test_b[100]`; an id whose `[...]`
/// does not hold the token (an `extra_info` dimension) is left as it is.
pub fn strip_token(id: &str, token: &str) -> String {
    let Some((head, rest)) = id.split_once('[') else {
        return id.to_string();
    };
    let payload = rest.strip_suffix(']').unwrap_or(rest);
    let mut tokens: Vec<&str> = payload.split('-').collect();
    if let Some(i) = tokens.iter().position(|t| *t == token) {
        tokens.remove(i);
    }
    if tokens.is_empty() {
        head.to_string()
    } else {
        format!("{head}[{}]", tokens.join("-"))
    }
}

impl Matrix {
    fn new(
        sides: Vec<Side>,
        ids: Vec<String>,
        pivot: Option<String>,
        notes: Vec<String>,
    ) -> Matrix {
        let mut m = Matrix {
            sides,
            pivot,
            notes,
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
        m
    }
}

/// The label of each file: its stem; where files with one stem differ, as many of their
/// parent directories as tell them apart (`a/x/run` and `b/x/run`, not `x/run` twice);
/// ` (N)` for the N-th time one label comes back (the same path given twice).
pub(crate) fn default_labels(files: &[PathBuf]) -> Vec<String> {
    // The stem, then the parent directories from the nearest out.
    let parts = |p: &Path| -> Vec<String> {
        let stem = p.file_stem().map_or_else(
            || p.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        let dirs = p
            .parent()
            .into_iter()
            .flat_map(Path::components)
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .filter(|c| c != "/");
        let mut v: Vec<String> = dirs.collect();
        v.push(stem);
        v.reverse();
        v
    };
    let all: Vec<Vec<String>> = files.iter().map(|p| parts(p)).collect();
    let label = |v: &[String], depth: usize| -> String {
        let mut taken: Vec<&str> = v.iter().take(depth + 1).map(String::as_str).collect();
        taken.reverse();
        taken.join("/")
    };
    let mut out: Vec<String> = Vec::with_capacity(files.len());
    for (i, mine) in all.iter().enumerate() {
        // The files whose stem is this one's and whose path is another.
        let rivals: Vec<&Vec<String>> = all
            .iter()
            .enumerate()
            .filter(|&(j, o)| j != i && o[0] == mine[0] && o != mine)
            .map(|(_, o)| o)
            .collect();
        let depth = (0..mine.len())
            .find(|&d| rivals.iter().all(|o| label(o, d) != label(mine, d)))
            .unwrap_or(mine.len() - 1);
        out.push(label(mine, depth));
    }
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

    /// What a side is called in a table's header: `run`, or the dimension pivoted by.
    pub fn series_header(&self) -> &str {
        self.pivot.as_deref().unwrap_or("run")
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

/// The parts of a pytest node id `module.py::Class::func[params]`: module, innermost
/// class, function (each `None` when the id does not say, as for benchmem's own regions).
fn node_parts(fullname: &str) -> (Option<&str>, Option<&str>, Option<&str>) {
    let Some((module, rest)) = fullname.split_once("::") else {
        return (None, None, None);
    };
    let segments: Vec<&str> = rest.split("::").collect();
    let last = segments.last().copied().unwrap_or_default();
    let func = last.split_once('[').map_or(last, |(f, _)| f);
    let class = (segments.len() > 1).then(|| segments[segments.len() - 2]);
    (
        Some(module).filter(|m| !m.is_empty()),
        class,
        Some(func).filter(|f| !f.is_empty()),
    )
}

fn title(r: &Record, keys: &[GroupKey]) -> String {
    let (module, class, func) = node_parts(&r.fullname);
    let named = |what: &str, v: Option<&str>| match v {
        Some(v) => format!("{what} '{v}'"),
        None => format!("no {what}"),
    };
    let parts: Vec<String> = keys
        .iter()
        .map(|k| match k {
            GroupKey::Fullname => r.fullname.clone(),
            GroupKey::Name => format!("name '{}'", r.name),
            GroupKey::Group => match &r.group {
                Some(g) => format!("group '{g}'"),
                None => "no group".to_string(),
            },
            GroupKey::Func => named("func", func),
            GroupKey::Module => named("module", module),
            GroupKey::Class => named("class", class),
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
        // Three files of one name, two of them in directories of one name.
        let files: Vec<PathBuf> = ["p/x/run.json", "q/x/run.json", "run.json", "./y/run.json"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(
            default_labels(&files),
            vec!["p/x/run", "q/x/run", "run", "y/run"]
        );
        let files: Vec<PathBuf> = ["a/run.json", "b/a/run.json", "/abs/run.json"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(default_labels(&files), vec!["a/run", "b/a/run", "abs/run"]);
    }

    #[test]
    fn node_ids_split_into_module_class_func() {
        assert_eq!(
            node_parts("t.py::TestRows::test_rows[1-x]"),
            (Some("t.py"), Some("TestRows"), Some("test_rows"))
        );
        assert_eq!(
            node_parts("t.py::test_b[legacy-100]"),
            (Some("t.py"), None, Some("test_b"))
        );
        assert_eq!(node_parts("load"), (None, None, None));
    }

    #[test]
    fn pivot_tokens_leave_the_id() {
        assert_eq!(
            strip_token("m.py::test_b[legacy-100]", "legacy"),
            "m.py::test_b[100]"
        );
        assert_eq!(
            strip_token("m.py::test_b[legacy]", "legacy"),
            "m.py::test_b"
        );
        assert_eq!(
            strip_token("m.py::test_b[100-100]", "100"),
            "m.py::test_b[100]"
        );
        assert_eq!(strip_token("m.py::test_rows", "7"), "m.py::test_rows");
    }
}
