//! `benchmem compare BASE.json HEAD.json [MORE.json...]`: runs side by side, a diff view,
//! and CI gates on growth (`--fail-on`) and ceilings (`--max`).

mod diff;
mod matrix;

pub(crate) use matrix::natural;
mod side_by_side;
mod verdict;

use crate::EXIT_OK;
use crate::args::{CompareArgs, GroupKey};
use crate::blob::Clean;
use crate::console::{self, Painter, Stream};
use crate::error::{Error, Result};
use crate::metrics::Metric;
use crate::report::wrap::push_prose;
use crate::report::{Format, NoteLayout, Report, Section};

/// Compare the runs of `args`.
pub(crate) fn compare(args: CompareArgs) -> Result {
    let m = matrix::load(&args.files, &args.label)?;
    let files: Vec<String> = args.files.iter().map(|p| p.display().to_string()).collect();
    let (base, head) = match (m.sides.first(), m.sides.last()) {
        (Some(b), Some(h)) => (b, h),
        _ => return Err(Error::Input("no runs given".into())),
    };
    if m.sides.len() > 1 && m.common().is_empty() {
        return Err(nothing_in_common(&m, &files));
    }
    if m.sides.len() < 2 && args.diff {
        return Err(Error::Input(
            "--diff needs two runs or more (the first is the base)".into(),
        ));
    }
    if m.sides.len() < 2 && !args.fail_on.is_empty() {
        return Err(format!(
            "--fail-on {} needs a base and a head run (two files); for one run use --max",
            args.fail_on[0].spec
        )
        .into());
    }
    for g in &args.fail_on {
        for side in [base, head] {
            if !side.run.has(g.metric) {
                return Err(format!(
                    "--fail-on {}: {} has no {} measurements",
                    g.spec,
                    side.run.path.display(),
                    g.metric
                )
                .into());
            }
        }
    }
    for c in &args.max {
        if !head.run.has(c.metric) {
            return Err(format!(
                "--max {}: {} has no {} measurements",
                c.spec,
                head.run.path.display(),
                c.metric
            )
            .into());
        }
    }
    few_rounds(&m, &args)?;
    let metrics = m.present(&args.metrics());
    if metrics.is_empty() {
        let wanted: Vec<&str> = args.metrics().iter().map(|m| m.cli_name()).collect();
        return Err(format!(
            "none of the runs measured {} (memory comes from `benchmem run` or the pytest plugin's extra_info.benchmem)",
            wanted.join(", ")
        )
        .into());
    }
    let stats = args.stat.stats();
    let ids = m.sorted_ids(args.sort, metrics[0], stats[0]);
    let (sections, collapsed) = if args.diff {
        let table = diff::table(&m, &ids, &metrics, &stats);
        (vec![Section { title: None, table }], Vec::new())
    } else {
        let merged = args.group_by.0 == [GroupKey::Fullname];
        side_by_side::sections(
            &m,
            &m.sections(&ids, &args.group_by.0),
            merged,
            &metrics,
            &stats,
            args.stat.gate_stat(),
        )
    };
    let (mut caption, data_caption) = captions(&m, &args, &metrics);
    if !collapsed.is_empty() {
        caption.push_str(&format!("; {}", crate::table::no_spread(&collapsed)));
    }
    let report = Report {
        sections,
        caption,
        data_caption: Some(data_caption),
        notes: [
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

/// The caption for people, and the one for CSV (whose numbers are raw).
fn captions(m: &matrix::Matrix, args: &CompareArgs, metrics: &[Metric]) -> (String, String) {
    let which = match args.stat.one() {
        None => "min, max, mean, median and stddev (sample)".to_string(),
        Some(s) => s.name().to_string(),
    };
    let data =
        format!("values: {which} over each run's repeats; raw numbers: bytes, seconds, calls");
    let one_run = m.sides.len() < 2;
    let display = if args.diff {
        format!(
            "Δ: signed change from the first run ({}) to each later run; values: {which} over each run's repeats",
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
