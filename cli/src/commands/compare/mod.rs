//! `benchmem compare BASE.json HEAD.json [MORE.json...]`: runs side by side, a diff view,
//! and CI gates on growth (`--fail-on`) and ceilings (`--max`).

mod diff;
mod matrix;

pub(crate) use matrix::{default_labels, natural, strip_token};
mod side_by_side;
mod verdict;

use crate::EXIT_OK;
use crate::args::{CompareArgs, GroupKey, StatChoice};
use crate::blob::Clean;
use crate::blob::{check_destination_for, write_file};
use crate::console::{self, Painter, Stream};
use crate::error::{Error, Result};
use crate::metrics::Metric;
use crate::report::wrap::push_prose;
use crate::report::{Format, NoteLayout, Report, Section};
use crate::stats::Stat;

/// Where rss comes from, for every message about its absence.
const RSS_SOURCE: &str = "the pytest plugin records rss for benchmarks marked @pytest.mark.benchmem(isolate=True), each pass in a process of its own";

/// Compare the runs of `args`.
pub(crate) fn compare(args: CompareArgs) -> Result {
    timing_only_stats(&args)?;
    let csv_path = match &args.csv {
        Some(p) => Some(csv_destination(p, &args)?),
        None => None,
    };
    let m = matrix::load(&args.files, &args.label, args.pivot.as_deref())?;
    let files: Vec<String> = args.files.iter().map(|p| p.display().to_string()).collect();
    let (base, head) = match (m.sides.first(), m.sides.last()) {
        (Some(b), Some(h)) => (b, h),
        _ => return Err(Error::Input("no runs given".into())),
    };
    if m.sides.len() > 1 && m.common().is_empty() && m.pivot.is_none() {
        return Err(nothing_in_common(&m, &files));
    }
    let two = match &args.pivot {
        Some(p) => format!(
            "two values of --pivot {p} (this run has one: {})",
            base.label
        ),
        None => "a base and a head run (two files)".to_string(),
    };
    if m.sides.len() < 2 && args.diff {
        return Err(match &args.pivot {
            Some(_) => format!("--diff needs {two}; the first is the base"),
            None => "--diff needs two runs or more (the first is the base)".to_string(),
        }
        .into());
    }
    if m.sides.len() < 2 && !args.fail_on.is_empty() {
        return Err(format!(
            "--fail-on {} needs {two}; for one run use --max",
            args.fail_on[0].spec
        )
        .into());
    }
    for g in &args.fail_on {
        for side in [base, head] {
            if !side.run.has(g.metric) {
                return Err(unmeasured("--fail-on", &g.spec, &m, side, g.metric));
            }
        }
    }
    for c in &args.max {
        if !head.run.has(c.metric) {
            return Err(unmeasured("--max", &c.spec, &m, head, c.metric));
        }
    }
    few_rounds(&m, &args)?;
    let metrics = m.present(&args.metrics());
    let extras = present_extras(&m, &args.extras());
    if metrics.is_empty() && extras.is_empty() {
        let mut wanted: Vec<String> = args
            .metrics()
            .iter()
            .map(|m| m.cli_name().to_string())
            .collect();
        wanted.extend(args.extras().iter().map(|e| format!("extra:{e}")));
        let rss = if args.metrics() == [Metric::Rss] {
            format!(" ({RSS_SOURCE})")
        } else {
            " (memory comes from `benchmem run` or the pytest plugin's extra_info.benchmem)"
                .to_string()
        };
        return Err(format!("none of the runs measured {}{rss}", wanted.join(", ")).into());
    }
    let columns: Vec<(Metric, Stat)> = metrics
        .iter()
        .flat_map(|&mt| args.stat.stats_for(mt).into_iter().map(move |s| (mt, s)))
        .collect();
    let ids = match columns.first() {
        Some(&(mt, s)) => m.sorted_ids(args.sort, mt, s),
        None => m.sorted_ids(crate::args::SortBy::Name, Metric::Time, Stat::Min),
    };
    let show_stat = args.stat.one() != Some(Stat::Min);
    let (sections, collapsed) = if args.diff {
        let table = diff::table(&m, &ids, &columns, &extras, show_stat);
        (vec![Section { title: None, table }], Vec::new())
    } else {
        let merged = args.group_by.0 == [GroupKey::Fullname];
        side_by_side::sections(
            &m,
            &m.sections(&ids, &args.group_by.0),
            merged,
            &columns,
            &extras,
            show_stat,
            args.stat.gate_stat(),
        )
    };
    if let Some(path) = &csv_path {
        let text = crate::report::wide_csv(
            &wide_header(&m, &columns, &extras),
            &wide_rows(&m, &ids, &columns, &extras),
        );
        write_file(text.as_bytes(), path, "--csv").map_err(Error::Save)?;
    }
    let (mut caption, data_caption) = captions(&m, &args, &metrics);
    if !collapsed.is_empty() {
        caption.push_str(&format!("; {}", crate::table::no_spread(&collapsed)));
    }
    let report = Report {
        sections,
        caption,
        data_caption: Some(data_caption),
        notes: [
            m.notes.clone(),
            rss_note(&m, &args),
            time_note(&m, &args, &metrics),
            incompleteness(&m, &ids, &metrics),
            membership(&m, &ids),
        ]
        .concat(),
        layout: NoteLayout::Block,
    };
    let painter = Painter::for_stdout_in(args.format).with_style(args.style);
    let out = report.render(args.format, painter, console::report_width(args.format));
    let verdict = verdict::Verdict::check(&m, &ids, &args);
    let mut body = out.body;
    if let (Some(v), Format::Md) = (&verdict, args.format) {
        // The document is the pull-request comment: it carries the verdict too.
        body.push_str(&v.markdown());
    }
    console::stderr(&out.aside);
    console::stdout(&body);
    let Some(v) = verdict else {
        return Ok(EXIT_OK);
    };
    let mut log = String::new();
    let width = console::width(Stream::Stderr);
    for line in v.lines() {
        push_prose(&mut log, &line, width);
    }
    if std::env::var_os("GITHUB_ACTIONS").is_some_and(|v| v == "true") {
        log.push_str(&v.annotations());
    }
    console::stderr(&log);
    Ok(v.status())
}

/// Runs that share no id: what the ids were on each side, and how to line them up.
fn nothing_in_common(m: &matrix::Matrix, files: &[String]) -> Error {
    let mut lines = vec![format!(
        "no benchmark in common: {} share no benchmark id (pytest-benchmark fullname)",
        files.join(" and ")
    )];
    for (side, file) in m.sides.iter().zip(files) {
        let ids: Vec<&str> = side
            .run
            .records
            .iter()
            .map(|r| r.fullname.as_str())
            .collect();
        let more = match ids.len() {
            n if n > 4 => format!(" and {} more", n - 4),
            _ => String::new(),
        };
        lines.push(format!(
            "{file}: {}{more}",
            ids[..ids.len().min(4)].join(", ")
        ));
    }
    let by_benchmem = m.sides.iter().all(|s| s.run.commands > 0);
    lines.push(if by_benchmem {
        "benchmem run names a benchmark by its region and a process row by its program's \
         name: give both runs the same --name for the program's row, or match short names \
         with --group-by name"
            .to_string()
    } else {
        "ids are pytest node ids (module::test[param]): compare runs of the same suite, or \
         match short names with --group-by name"
            .to_string()
    });
    Error::Lines(lines)
}

/// `--stat iqr` named with a memory metric: refused, as a number there would be read as a
/// noise estimate over a handful of exact repeats.
fn timing_only_stats(args: &CompareArgs) -> Result<()> {
    let StatChoice::List(stats) = &args.stat else {
        return Ok(());
    };
    if !stats.contains(&Stat::Iqr) {
        return Ok(());
    }
    let memory: Vec<&str> = args
        .metrics()
        .into_iter()
        .filter(|&m| m != Metric::Time)
        .map(Metric::cli_name)
        .collect();
    if memory.is_empty() {
        return Ok(());
    }
    let named = memory.join(", ");
    Err(format!(
        "--stat iqr is a statistic of time's rounds: {named} has one exact value per repeat, a handful of them, whose quartiles say nothing of noise; use min,max for the range, drop {named} from --columns, or use --stat all (each metric with the stats it has)"
    )
    .into())
}

/// Where `--csv` writes: a file that can be written, and none of the runs read.
fn csv_destination(path: &std::path::Path, args: &CompareArgs) -> Result<std::path::PathBuf> {
    let dest = check_destination_for(path, "--csv")?;
    for f in &args.files {
        if std::fs::canonicalize(f).is_ok_and(|real| real == dest.file) {
            return Err(format!(
                "--csv {}: that is the run {} being compared: give the CSV a file of its own",
                path.display(),
                f.display()
            )
            .into());
        }
    }
    Ok(path.to_path_buf())
}

/// A gate on a metric a run does not measure at all: one line, saying where rss comes from.
fn unmeasured(
    option: &str,
    spec: &str,
    m: &matrix::Matrix,
    side: &matrix::Side,
    metric: Metric,
) -> Error {
    let run = match &m.pivot {
        Some(p) => format!("{} ({p}={})", side.run.path.display(), side.label),
        None => side.run.path.display().to_string(),
    };
    let why = if metric == Metric::Rss {
        format!(" ({RSS_SOURCE})")
    } else {
        String::new()
    };
    Error::Input(format!(
        "{option} {spec}: {run} has no {metric} measurements{why}"
    ))
}

/// The `extra:NAME` columns some benchmark has a number for; the others are dropped, as an
/// unmeasured metric is.
fn present_extras(m: &matrix::Matrix, wanted: &[String]) -> Vec<String> {
    wanted
        .iter()
        .filter(|name| {
            m.sides.iter().any(|s| {
                s.run
                    .records
                    .iter()
                    .any(|r| side_by_side::extra_number(r, name).is_some())
            })
        })
        .cloned()
        .collect()
}

/// `rss` asked for and measured by no run: said, rather than a column silently missing.
fn rss_note(m: &matrix::Matrix, args: &CompareArgs) -> Vec<String> {
    if args.metrics().contains(&Metric::Rss) && m.present(&[Metric::Rss]).is_empty() {
        vec![format!("rss: not recorded in these runs: {RSS_SOURCE}")]
    } else {
        Vec::new()
    }
}

/// The header of `--csv`: `id`, then a column per metric, stat and run (`peak:min:base`),
/// then per `extra:NAME` and run (`extra:variables:base`).
fn wide_header(m: &matrix::Matrix, columns: &[(Metric, Stat)], extras: &[String]) -> Vec<String> {
    let mut h = vec!["id".to_string()];
    for (mt, s) in columns {
        for side in &m.sides {
            h.push(format!("{}:{}:{}", mt.cli_name(), s.name(), side.label));
        }
    }
    for e in extras {
        for side in &m.sides {
            h.push(format!("extra:{e}:{}", side.label));
        }
    }
    h
}

/// The rows of `--csv`: each benchmark's raw values, empty where a run lacks it.
fn wide_rows(
    m: &matrix::Matrix,
    ids: &[String],
    columns: &[(Metric, Stat)],
    extras: &[String],
) -> Vec<(String, Vec<Option<f64>>)> {
    ids.iter()
        .map(|id| {
            let mut v = Vec::new();
            for &(mt, s) in columns {
                for side in &m.sides {
                    v.push(side.get(id).and_then(|r| matrix::shown_value(r, mt, s)));
                }
            }
            for e in extras {
                for side in &m.sides {
                    v.push(side.get(id).and_then(|r| side_by_side::extra_number(r, e)));
                }
            }
            (id.clone(), v)
        })
        .collect()
}

/// What the values are, in words: `min`, `min and median`, every stat for `all`.
fn stat_words(choice: &StatChoice, metrics: &[Metric]) -> String {
    match choice {
        StatChoice::All if metrics.contains(&Metric::Time) => {
            "min, max, mean, median, iqr (time) and stddev (sample)".to_string()
        }
        StatChoice::All => "min, max, mean, median and stddev (sample)".to_string(),
        StatChoice::List(l) => {
            let names: Vec<String> = l
                .iter()
                .map(|s| match s {
                    Stat::Stddev if l.len() > 1 => "stddev (sample)".to_string(),
                    other => other.name().to_string(),
                })
                .collect();
            match names.split_last() {
                Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
                _ => names.join(""),
            }
        }
    }
}

/// The caption for people, and the one for CSV (whose numbers are raw).
fn captions(m: &matrix::Matrix, args: &CompareArgs, metrics: &[Metric]) -> (String, String) {
    let which = stat_words(&args.stat, metrics);
    let data =
        format!("values: {which} over each run's repeats; raw numbers: bytes, seconds, calls");
    let one_run = m.sides.len() < 2;
    let display = if args.diff {
        let w = if m.pivot.is_some() { "series" } else { "run" };
        format!(
            "Δ: signed change from the first {w} ({}) to each later {w}; values: {which} over each run's repeats",
            m.sides.first().map_or("", |s| s.label.as_str())
        )
    } else {
        let ratio = if one_run {
            ""
        } else {
            "; (N.NN): multiple of the best run"
        };
        let binary = if metrics.iter().any(|mt| *mt != Metric::Time) {
            "; memory in binary units"
        } else {
            ""
        };
        format!("values: {which} over each run's repeats{ratio}{binary}")
    };
    (display, data)
}

/// A time gate on fewer rounds than the test needs is refused, unless asked for: its
/// verdict would be the noise's.
fn few_rounds(m: &matrix::Matrix, args: &CompareArgs) -> Result<()> {
    let (Some(base), Some(head)) = (m.sides.first(), m.sides.last()) else {
        return Ok(());
    };
    if args.allow_few_samples || m.sides.len() < 2 {
        return Ok(());
    }
    let need = crate::significance::MIN_GATE_SAMPLES;
    for g in args.fail_on.iter().filter(|g| g.metric == Metric::Time) {
        for id in m.common() {
            for side in [base, head] {
                let Some(r) = side.get(id).filter(|r| r.has(Metric::Time)) else {
                    continue;
                };
                match crate::significance::clean_rounds(r) {
                    Some(n) if n < need => {
                        return Err(format!(
                            "--fail-on {}: {} has {n} timed round{} of {} (at least {need} a run are needed to tell a change from noise); take more, or pass --allow-few-samples to gate on them anyway",
                            g.spec,
                            side.run.path.display(),
                            if n == 1 { "" } else { "s" },
                            m.name(id),
                        )
                        .into())
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(())
}

/// How to read a time change: it is tested, memory is not (its numbers are exact).
fn time_note(m: &matrix::Matrix, args: &CompareArgs, metrics: &[Metric]) -> Vec<String> {
    if m.sides.len() < 2 || !metrics.contains(&Metric::Time) {
        return Vec::new();
    }
    let lead = if args.diff {
        "a time Δ is tested".to_string()
    } else {
        format!(
            "time Δ: change of the {} from the first run, tested",
            args.stat.gate_stat().name()
        )
    };
    vec![format!(
        "{lead}: p of the Mann-Whitney U test of the runs' rounds (two-sided), n rounds when fewer than {} a run; ~: no significant change (p ≥ {}); memory is exact and needs no test",
        crate::significance::MIN_GATE_SAMPLES,
        crate::significance::ALPHA
    )]
}

/// Footnotes of the rows marked `*`: why each incomplete sample is short, and what the
/// values and gates make of it.
fn incompleteness(m: &matrix::Matrix, ids: &[String], metrics: &[Metric]) -> Vec<String> {
    let mut out = Vec::new();
    let mut left_out = false;
    for id in ids {
        for side in &m.sides {
            let Some(r) = side.get(id) else { continue };
            if r.incomplete.is_empty() {
                continue;
            }
            let name = m.name(id);
            for why in &r.incomplete {
                out.push(format!("* {name} ({}): incomplete: {why}", side.label));
            }
            let none_clean = metrics
                .iter()
                .any(|&mt| matches!(r.clean(mt), Clean::None { .. } | Clean::Unknown));
            if none_clean {
                out.push(format!(
                    "* {name} ({}): no sample known to be complete: its values are partial and it cannot be gated",
                    side.label
                ));
            } else {
                left_out = true;
            }
        }
    }
    if left_out {
        out.push("*: incomplete samples are left out of the values and the gates".to_string());
    }
    out
}

/// Lines for benchmarks that are not in every run: never skipped silently.
fn membership(m: &matrix::Matrix, ids: &[String]) -> Vec<String> {
    let (Some(base), Some(head)) = (m.sides.first(), m.sides.last()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for id in ids {
        let present: Vec<&str> = m
            .sides
            .iter()
            .filter(|s| s.get(id).is_some())
            .map(|s| s.label.as_str())
            .collect();
        if present.len() == m.sides.len() {
            continue;
        }
        let name = m.name(id);
        let line = match (base.get(id).is_some(), head.get(id).is_some()) {
            (false, true) => format!("added (not in {}): {name}", base.label),
            (true, false) => format!("removed (not in {}): {name}", head.label),
            _ => format!("partial (only in {}): {name}", present.join(", ")),
        };
        out.push(line);
    }
    out
}
