//! `benchmem plot RUNS...`: pictures of saved runs, as a self-contained HTML page or an
//! SVG file, drawn here in Rust (the Python package calls this command, it draws nothing
//! of its own).
//!
//! The views follow pytest-benchmem's `benchmem plot`: `scaling` (one run), `scatter`
//! (two), `sweep` (three or more), `compare` on request; `timeline` draws what
//! `benchmem run` recorded over time. Each view builds an SVG whose marks carry the
//! benchmark id and the exact value they stand for.

mod axis;
mod compare;
mod html;
mod model;
mod options;
mod scaling;
mod scatter;
pub(crate) mod svg;
mod sweep;
mod timeline;

use std::io::Write;
use std::path::{Path, PathBuf};

pub(crate) use options::PlotArgs;
use options::{OutFormat, View};

use crate::EXIT_OK;
use crate::error::{Error, Result};
use crate::metrics::Metric;
use crate::stats::Stat;

/// A finished picture.
pub(crate) struct Picture {
    /// The SVG document.
    pub svg: String,
    /// Its title (the HTML page's too).
    pub title: String,
    /// What it shows, for the line on stderr: `8 benchmarks`.
    pub summary: String,
}

/// Draw the runs of `args` and write the picture.
pub(crate) fn plot(args: PlotArgs) -> Result {
    let runs = model::load(&args.files, &args.label)?;
    let view = choose_view(&args, &runs);
    if args.pivot.is_some() && !matches!(view, View::Compare | View::Scatter) {
        return Err(format!(
            "--pivot sets what is compared and applies to --view compare or scatter, not {}; \
             for scaling or sweep place the parameter with --x or --facet",
            view.name()
        )
        .into());
    }
    let metric = args.columns.unwrap_or_else(|| model::default_metric(&runs));
    let (dest, format) = destination(&args, view, metric)?;
    let picture = match view {
        View::Timeline => timeline::draw(&runs, args.repeat as usize)?,
        _ => {
            let data = model::points(
                &runs,
                metric,
                args.stat,
                &args.filters,
                args.pivot.as_deref(),
            )?;
            match view {
                View::Scaling => scaling::draw(&data, &args)?,
                View::Scatter => scatter::draw(&data, &args)?,
                View::Compare => compare::draw(&data, &args)?,
                View::Sweep => sweep::draw(&data, &args)?,
                View::Timeline => unreachable!("drawn above"),
            }
        }
    };
    let bytes = match format {
        OutFormat::Svg => picture.svg.into_bytes(),
        OutFormat::Html => html::page(&picture.title, &picture.svg).into_bytes(),
    };
    let what = if view == View::Timeline {
        "timeline".to_string()
    } else {
        format!("{} ({metric}, {})", view.name(), args.stat.name())
    };
    match dest {
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)
                .and_then(|()| out.flush())
                .map_err(|e| Error::Save(format!("-o -: cannot write to stdout: {e}")))?;
            eprintln!("{what}: {} → stdout", picture.summary);
        }
        Some(path) => {
            write_atomically(&path, &bytes)?;
            eprintln!("{what}: {} → {}", picture.summary, path.display());
            if args.open {
                open(&path);
            }
        }
    }
    Ok(EXIT_OK)
}

/// pytest-benchmem's rule: one run scaling, two scatter, more sweep; `--pivot` compare. A
/// single run that has no numeric parameter to scale over but a timeline gets the timeline.
fn choose_view(args: &PlotArgs, runs: &[model::LoadedRun]) -> View {
    if let Some(v) = args.view {
        return v;
    }
    if args.pivot.is_some() {
        return View::Compare;
    }
    match runs.len() {
        1 if args.x.is_none()
            && timeline::present(&runs[0].doc)
            && !runs[0]
                .doc
                .get("benchmarks")
                .and_then(|b| b.as_array())
                .is_some_and(|b| b.iter().any(has_numeric_param)) =>
        {
            View::Timeline
        }
        1 => View::Scaling,
        2 => View::Scatter,
        _ => View::Sweep,
    }
}

fn has_numeric_param(b: &serde_json::Value) -> bool {
    b.get("params")
        .and_then(|p| p.as_object())
        .is_some_and(|p| p.values().any(|v| v.is_number()))
}

/// Where the picture goes (`None`: stdout) and in which format.
fn destination(
    args: &PlotArgs,
    view: View,
    metric: Metric,
) -> Result<(Option<PathBuf>, OutFormat)> {
    let path = match &args.output {
        Some(p) if p.as_os_str() == "-" => {
            return Ok((None, args.format.unwrap_or(OutFormat::Html)));
        }
        Some(p) => p.clone(),
        None => {
            let name = if view == View::Timeline {
                "timeline.html".to_string()
            } else {
                format!("{}-{}.html", view.name(), metric.cli_name())
            };
            Path::new(".benchmarks").join("plots").join(name)
        }
    };
    let suffix = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let by_suffix = match suffix.as_str() {
        "html" | "htm" => Some(OutFormat::Html),
        "svg" => Some(OutFormat::Svg),
        "" => None,
        "png" => {
            return Err(format!(
                "-o {}: PNG is not drawn (no rasterizer is built in); write .svg or .html",
                path.display()
            )
            .into());
        }
        other => {
            return Err(format!(
                "-o {}: unknown suffix '.{other}'; write .html (interactive) or .svg",
                path.display()
            )
            .into());
        }
    };
    let format = match (args.format, by_suffix) {
        (Some(f), Some(s)) if f != s => {
            return Err(format!(
                "--format {} does not match -o {}; drop one of them",
                if f == OutFormat::Html { "html" } else { "svg" },
                path.display()
            )
            .into());
        }
        (Some(f), _) => f,
        (None, Some(s)) => s,
        (None, None) => OutFormat::Html,
    };
    Ok((Some(path), format))
}

/// Writes `bytes` to `path` through a temporary file in the same directory, so a reader
/// never sees half a picture; makes the directory first, as pytest-benchmem does.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        Error::Save(format!(
            "-o {}: cannot {what} ({e}); choose another -o path",
            path.display()
        ))
    };
    if let Ok(m) = std::fs::metadata(path)
        && !m.is_file()
    {
        return Err(Error::Save(format!(
            "-o {}: not a regular file; choose another -o path",
            path.display()
        )));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| fail("create its directory", &e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".benchmem-plot-")
        .suffix(".tmp")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .tempfile_in(&dir)
        .map_err(|e| fail("create a file in its directory", &e))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| fail("write", &e))?;
    tmp.persist(path).map_err(|e| fail("save", &e.error))?;
    Ok(())
}

/// Hands the file to the desktop's opener; a machine without one gets a line saying so.
fn open(path: &Path) {
    let spawned = std::process::Command::new("xdg-open")
        .arg(path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(e) = spawned {
        eprintln!(
            "benchmem: --open: cannot start xdg-open ({e}); open {} yourself",
            path.display()
        );
    }
}

/// What a metric is called in titles and axis labels.
pub(crate) fn metric_label(metric: Metric) -> &'static str {
    match metric {
        Metric::Time => "time",
        Metric::Peak => "peak memory",
        Metric::Allocated => "memory allocated",
        Metric::Allocations => "allocations",
        Metric::Retained => "memory retained",
        Metric::Rss => "resident size (rss)",
    }
}

/// `peak memory (min over repeats)`.
pub(crate) fn value_label(metric: Metric, stat: Stat) -> String {
    format!("{} ({} over repeats)", metric_label(metric), stat.name())
}

/// A value in hover text: human units and, for bytes, the exact count.
pub(crate) fn exact(metric: Metric, v: f64) -> String {
    use crate::units::{Quantity, human};
    let q = metric.quantity();
    match q {
        Quantity::Bytes => format!("{} ({} B)", human(q, v), group(v)),
        Quantity::Count => group(v),
        Quantity::Seconds => human(q, v),
    }
}

fn group(v: f64) -> String {
    crate::units::count(v)
}

/// `s` with its first letter in upper case, for titles.
pub(crate) fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}
