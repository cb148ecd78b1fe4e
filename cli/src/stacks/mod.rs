//! The stack data of a run saved with `run --stacks --json RUN.json`: a sidecar file
//! beside the run (`RUN.stacks.json`), so the run itself stays a small pytest-benchmark
//! document. The sidecar keeps frames already symbolized (the binaries may be gone when it
//! is read) and, for every benchmark of the run and every sample of its series, each
//! stack's share of the sample's four figures.
//!
//! Layout (version 1):
//!
//! ```json
//! {"benchmem_stacks": 1, "datetime": "<the run's datetime>",
//!  "frames": ["main (src/prog.c:40)", "make_buffer (src/prog.c:12)", ...],
//!  "stacks": [[0, 1], ...],
//!  "benchmarks": [{"fullname": "load", "samples": [
//!     {"repeat": 0, "pid": 4242,
//!      "totals": [peak, allocated, allocations, retained],
//!      "sites": [[stack, peak, allocated, allocations, retained], ...]}, null, ...]}],
//!  "notes": ["..."]}
//! ```
//!
//! A stack lists frame indices outermost first; `samples` runs parallel to the
//! benchmark's `extra_info.benchmem` series (null: no stack data for that sample).

pub(crate) mod symbolize;
pub(crate) mod view;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::blob::{Document, Measured};
use crate::metrics::Metric;

/// `benchmem_stacks`: the sidecar's format version.
pub(crate) const FORMAT: u32 = 1;

/// A run's stack data, as saved.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct Sidecar {
    /// [`FORMAT`].
    pub benchmem_stacks: u32,
    /// The run's `datetime`: a sidecar left from another run is refused.
    pub datetime: String,
    /// Frame texts: `function (file:line)`, `function`, or `module+0xoffset`.
    pub frames: Vec<String>,
    /// Frame indices, outermost first.
    pub stacks: Vec<Vec<u32>>,
    /// Per benchmark of the run.
    pub benchmarks: Vec<BenchStacks>,
    /// Why the stack data is not whole, one line each.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// One benchmark's stack data.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct BenchStacks {
    /// The benchmark's id in the run.
    pub fullname: String,
    /// Parallel to the benchmark's memory series.
    pub samples: Vec<Option<SampleStacks>>,
}

/// One sample split by stack.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct SampleStacks {
    /// Which repeat.
    pub repeat: usize,
    /// Which process.
    pub pid: u32,
    /// peak, allocated, allocations, retained of the sample as the stacks add up.
    pub totals: [u64; 4],
    /// [stack, peak, allocated, allocations, retained], by stack.
    pub sites: Vec<[u64; 5]>,
}

/// Index of `m` in a site's or totals' figures (after the stack index for a site).
pub(crate) fn figure(m: Metric) -> Option<usize> {
    match m {
        Metric::Peak => Some(0),
        Metric::Allocated => Some(1),
        Metric::Allocations => Some(2),
        Metric::Retained => Some(3),
        Metric::Time | Metric::Rss => None,
    }
}

/// Where the stack data of the run saved at `json` lives: `RUN.json` → `RUN.stacks.json`
/// (a name without `.json` gets `.stacks.json` appended).
pub(crate) fn sidecar_path(json: &Path) -> PathBuf {
    let name = json.file_name().map(|n| n.to_string_lossy().into_owned());
    let name = name.unwrap_or_default();
    let stem = name.strip_suffix(".json").unwrap_or(&name);
    json.with_file_name(format!("{stem}.stacks.json"))
}

/// The sidecar of `runs`, whose document is `doc`; None when no run recorded stacks.
/// Returns the symbolizer's notes with it.
pub(crate) fn build(runs: &[Measured], doc: &Document) -> Option<Sidecar> {
    if runs.iter().all(|m| m.result.stacks.is_none()) {
        return None;
    }
    let mut sym = symbolize::Symbolizer::default();
    let mut out = Sidecar {
        benchmem_stacks: FORMAT,
        datetime: doc.datetime.clone(),
        ..Sidecar::default()
    };
    let mut frame_ix: HashMap<String, u32> = HashMap::new();
    let mut stack_ix: HashMap<Vec<u32>, u32> = HashMap::new();
    // (run, image, stack id) → stack index.
    let mut raw: HashMap<(usize, usize, u32), u32> = HashMap::new();
    let mut bench = doc.benchmarks.iter();
    for (r, m) in runs.iter().enumerate() {
        let stacks = m.result.stacks.as_ref();
        if let Some(s) = stacks {
            let prefix = m.label.map(|l| format!("{l}: ")).unwrap_or_default();
            out.notes
                .extend(s.notes.iter().map(|n| format!("{prefix}{n}")));
        }
        for (i, series) in m.result.series.iter().enumerate() {
            let Some(b) = bench.next() else { break };
            let samples = (0..series.samples.len())
                .map(|j| {
                    let (img, sample) = stacks?.split(i, j)?;
                    let im = stacks?.by_sample[i][j]?.0;
                    let mut sites: HashMap<u32, [u64; 4]> = HashMap::new();
                    for (id, f) in &sample.sites {
                        let ix = *raw.entry((r, im, *id)).or_insert_with(|| {
                            let mut frames: Vec<u32> = sym
                                .stack(img, *id)
                                .into_iter()
                                .map(|t| {
                                    let n = frame_ix.len() as u32;
                                    *frame_ix.entry(t.clone()).or_insert_with(|| {
                                        out.frames.push(t);
                                        n
                                    })
                                })
                                .collect();
                            frames.reverse();
                            let n = stack_ix.len() as u32;
                            *stack_ix.entry(frames.clone()).or_insert_with(|| {
                                out.stacks.push(frames);
                                n
                            })
                        });
                        // Two recorded stacks may read the same once symbolized: one site.
                        let e = sites.entry(ix).or_default();
                        for (x, v) in
                            e.iter_mut()
                                .zip([f.peak, f.allocated, f.allocations, f.retained])
                        {
                            *x = x.saturating_add(v);
                        }
                    }
                    let mut sites: Vec<[u64; 5]> = sites
                        .into_iter()
                        .map(|(k, v)| [k as u64, v[0], v[1], v[2], v[3]])
                        .collect();
                    sites.sort_unstable();
                    let t = sample.totals;
                    Some(SampleStacks {
                        repeat: img.repeat,
                        pid: img.pid,
                        totals: [t.peak_bytes, t.total_bytes, t.allocations, t.retained_bytes],
                        sites,
                    })
                })
                .collect();
            out.benchmarks.push(BenchStacks {
                fullname: b.fullname.clone(),
                samples,
            });
        }
    }
    out.notes.extend(sym.notes());
    Some(out)
}

/// Sites shown under `run --stacks`'s table per region.
const SUMMARY_SITES: usize = 3;

/// What `run --stacks` prints under its table: the stack data's notes and, when the run
/// is not saved (`doc` given), the top sites at each region's peak.
pub(crate) fn summary(side: &Sidecar, doc: Option<&Document>, width: Option<usize>) -> String {
    use crate::escape::push_line;
    use crate::report::wrap::push_prose;
    let mut out = String::new();
    let say = |out: &mut String, line: &str| match width {
        Some(w) => push_prose(out, line, w),
        None => push_line(out, line),
    };
    for n in &side.notes {
        say(&mut out, &format!("note: stacks: {n}"));
    }
    let Some(doc) = doc else { return out };
    let Ok(run) = serde_json::to_value(doc)
        .map_err(|e| e.to_string())
        .and_then(|v| crate::blob::parse_run(&v, Path::new("run")).map_err(|e| e.to_string()))
    else {
        return out;
    };
    let loaded = view::Loaded {
        path: PathBuf::from("run"),
        run,
        side: side.clone(),
    };
    let Ok(records) = view::select(&loaded, None) else {
        return out;
    };
    say(
        &mut out,
        &format!(
            "where the memory goes, at each region's peak (top {SUMMARY_SITES} sites; `run --stacks --json RUN.json` keeps them for `benchmem where` and `benchmem flamegraph`):"
        ),
    );
    for r in records {
        let Ok(p) = view::profile(&loaded, r, Metric::Peak, None) else {
            continue;
        };
        let total = crate::units::human(crate::units::Quantity::Bytes, p.total as f64);
        push_line(&mut out, &format!("  {} (peak {total}):", p.fullname));
        for &(st, v) in p.sites.iter().take(SUMMARY_SITES) {
            let frames = p.frames(st);
            let (site, callers) = view::site_and_callers(&frames);
            let from = callers
                .first()
                .map(|c| format!(" ← {c}"))
                .unwrap_or_default();
            let pct = if p.total == 0 {
                0.0
            } else {
                v as f64 * 100.0 / p.total as f64
            };
            push_line(
                &mut out,
                &format!(
                    "    {pct:5.1}%  {:>10}  {site}{from}",
                    crate::units::human(crate::units::Quantity::Bytes, v as f64)
                ),
            );
        }
    }
    out
}

/// Why a run's stack data cannot be read: one line, naming the file and what to do.
pub(crate) fn no_stack_data(run: &Path, why: Option<String>) -> String {
    let shown = run.display();
    match why {
        None => format!(
            "{shown} has no stack data: record it with `benchmem run --stacks --json {shown} -- ...`"
        ),
        Some(w) => format!(
            "{shown}: its stack data {w}: record it again with `benchmem run --stacks --json {shown} -- ...`"
        ),
    }
}

/// Reads the sidecar of the run saved at `run` (whose `datetime` is `datetime`), or the
/// one line that says why it cannot.
pub(crate) fn read(run: &Path, datetime: Option<&str>) -> Result<Sidecar, String> {
    let path = sidecar_path(run);
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(no_stack_data(run, None));
        }
        Err(e) => {
            return Err(no_stack_data(
                run,
                Some(format!("({}) cannot be read: {e}", path.display())),
            ));
        }
    };
    let bad = |what: String| no_stack_data(run, Some(format!("({}) {what}", path.display())));
    let side: Sidecar = serde_json::from_slice(&text)
        .map_err(|e| bad(format!("is not a stack file benchmem can read ({e})")))?;
    if side.benchmem_stacks != FORMAT {
        return Err(bad(format!(
            "has format {}, this benchmem reads {FORMAT}",
            side.benchmem_stacks
        )));
    }
    if let Some(d) = datetime
        && d != side.datetime
    {
        return Err(bad(format!(
            "belongs to another run (made {}, the run {d})",
            side.datetime
        )));
    }
    let frames = side.frames.len() as u64;
    let stacks = side.stacks.len() as u64;
    let broken = side.stacks.iter().flatten().any(|&f| f as u64 >= frames)
        || side
            .benchmarks
            .iter()
            .flat_map(|b| b.samples.iter().flatten())
            .flat_map(|s| s.sites.iter())
            .any(|s| s[0] >= stacks);
    if broken {
        return Err(bad("refers to frames or stacks it does not hold".into()));
    }
    Ok(side)
}

/// Writes `side` beside the run saved at `json`, atomically.
pub(crate) fn write(side: &Sidecar, json: &Path) -> Result<(), String> {
    let path = sidecar_path(json);
    let mut text = serde_json::to_vec(side)
        .map_err(|e| format!("{}: cannot encode the stack data: {e}", path.display()))?;
    text.push(b'\n');
    crate::blob::write_file(&text, &path, "--json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sidecar_sits_beside_the_run() {
        assert_eq!(
            sidecar_path(Path::new("out/run.json")),
            PathBuf::from("out/run.stacks.json")
        );
        assert_eq!(
            sidecar_path(Path::new("base")),
            PathBuf::from("base.stacks.json")
        );
    }
}
