//! `benchmem run -- CMD ARGS...`: measure a command (or several, separated by `:::`),
//! print the table on stderr (the command's own stdout stays untouched for pipes), save
//! the run, exit with the command's status.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use benchmem_launcher::{RunOptions, RunResult, SeriesKind};

use crate::args::RunArgs;
use crate::blob::{
    Document, Measured, Run, check_destination_for, commit_info, document_of_runs, overall_status,
    write_document, write_file,
};
use crate::console::{self, Painter, Stream};
use crate::error::{Error, Result};
use crate::escape::push_line;
use crate::metrics::Metric;
use crate::progress::Progress;
use crate::reasons;
use crate::report::wrap::push_prose;
use crate::report::{Format, Report};
use crate::stats::Stat;
use crate::table::{by_command, fold_helpers, run_table};
use crate::units::{Quantity, human};

/// Measure `args.command`.
pub(crate) fn run(args: RunArgs) -> Result {
    let commands = args.commands()?;
    let labels = labels(&commands, &args.name)?;
    let outputs = [
        ("--json", &args.json),
        ("--export-markdown", &args.export_markdown),
        ("--export-csv", &args.export_csv),
    ];
    let mut taken: Vec<(&str, PathBuf)> = Vec::new();
    for (flag, path) in outputs {
        let Some(path) = path else { continue };
        // Checked before the run: a measurement that cannot be saved is wasted time.
        let dest = check_destination_for(path, flag)?;
        if let Some((other, _)) = taken.iter().find(|(_, f)| *f == dest.file) {
            return Err(format!(
                "{}: given to both {other} and {flag}: give each output its own file",
                path.display()
            )
            .into());
        }
        taken.push((flag, dest.file));
    }
    let several = commands.len() > 1;
    let opts: Vec<RunOptions> = commands
        .iter()
        .enumerate()
        .map(|(i, command)| {
            let mut o = RunOptions::new(command.clone());
            o.repeats = args.repeats as usize;
            o.keep_aslr = args.keep_aslr;
            o.warmup = args.warmup as usize;
            o.ignore_failure = args.ignore_failure;
            o.prepare = args.prepare.clone();
            o.cleanup = args.cleanup.clone();
            o.input = args.input.clone();
            o.name = args.name.get(i).cloned();
            o.stacks = args.stacks;
            o
        })
        .collect();
    // Every command must be runnable before the first starts: a typo in the second must
    // not cost the first's measurement.
    for o in &opts {
        if let Err(e) = benchmem_launcher::check(o) {
            if !several {
                return Err(e.into());
            }
            // GNU parallel's `:::` and the like: say where the line was split.
            return Err(Error::Lines(vec![
                e.to_string(),
                format!(
                    "the command line was split at `{}` into {} commands; to pass `{}` to \
                     the program, choose another --separator",
                    args.separator,
                    opts.len(),
                    args.separator
                ),
            ]));
        }
    }
    let mut progress = Progress::new(
        opts.len(),
        args.warmup as usize,
        args.repeats as usize,
        args.quiet,
    );
    let mut results = Vec::new();
    let mut cut_short = false;
    for (o, label) in opts.iter().zip(&labels) {
        let shown = if several { label.as_str() } else { "" };
        let result = benchmem_launcher::run_observed(o, &mut |step| progress.step(shown, step));
        let result = match result {
            Ok(r) => r,
            Err(e) if results.is_empty() => return Err(e.into()),
            Err(e) => {
                // What the earlier commands measured is still reported and saved.
                progress.finish();
                push_error(&e.to_string());
                cut_short = true;
                break;
            }
        };
        let stopped = result.stopped.is_some();
        results.push(result);
        if stopped {
            break; // a failure stops the whole invocation, as hyperfine does
        }
    }
    progress.finish();
    // git is asked for the commit only when a blob is saved, and only once the command
    // and its descendants are gone: benchmem reaps every orphan of the command, and would
    // otherwise take git's exit statuses from its own thread.
    let commit = match &args.json {
        Some(_) => commit_info(&std::env::current_dir().unwrap_or_else(|_| ".".into())),
        None => Default::default(),
    };
    let measured: Vec<Measured> = results
        .iter()
        .zip(&labels)
        .map(|(result, label)| Measured {
            label: several.then_some(label.as_str()),
            result,
        })
        .collect();
    let doc = document_of_runs(&measured, commit);
    let view = TableView {
        metrics: args.table.metrics(),
        spread: args.table.stats(),
        all_processes: args.table.all_processes,
    };
    let model = model(&measured, &doc, &view);
    let sidecar = crate::stacks::build(&measured, &doc);
    if args.quiet {
        // Why the run stopped early still explains benchmem's exit status.
        let mut out = String::new();
        let width = console::width(Stream::Stderr);
        for r in &measured {
            for line in ending(r) {
                push_prose(&mut out, &line, width);
            }
        }
        console::stderr(&out);
    } else {
        let painter = Painter::for_stderr().with_style(args.table.style);
        let width = Some(console::width(Stream::Stderr));
        console::stderr(&render(&model, Format::Table, painter, width));
        if let Some(side) = &sidecar {
            let shown = args.json.is_none().then_some(&doc);
            console::stderr(&crate::stacks::summary(side, shown, width));
        }
    }
    if let Some(path) = &args.json {
        // The measurement is lost for CI if the file is missing: fail loudly.
        write_document(&doc, path).map_err(Error::Save)?;
        if let Some(side) = &sidecar {
            crate::stacks::write(side, path).map_err(Error::Save)?;
        }
    }
    for (flag, path, format) in [
        ("--export-markdown", &args.export_markdown, Format::Md),
        ("--export-csv", &args.export_csv, Format::Csv),
    ] {
        if let Some(path) = path {
            // A file has no width: Markdown and CSV are laid out by what reads them.
            let text = render(&model, format, Painter::plain(), None);
            write_file(text.as_bytes(), path, flag).map_err(Error::Save)?;
        }
    }
    match overall_status(&results) {
        // A command that could not start after earlier ones ran: bad input all the same.
        0 if cut_short => Ok(crate::EXIT_BAD_INPUT),
        status => Ok(status),
    }
}

/// A launcher error after an earlier command was measured: said, then the rest reported.
fn push_error(message: &str) {
    let mut out = String::new();
    push_line(&mut out, &format!("benchmem: {message}"));
    console::stderr(&out);
}

/// The name of each command: `--name`, else the program's name; the whole command line
/// where two programs share a name, and a ` #k` where two command lines are the same.
fn labels(commands: &[Vec<OsString>], names: &[String]) -> Result<Vec<String>> {
    if !names.is_empty() {
        for (i, n) in names.iter().enumerate() {
            if names[..i].contains(n) {
                return Err(format!(
                    "--name {n:?} given to two commands: give each command its own name"
                )
                .into());
            }
        }
        return Ok(names.to_vec());
    }
    let base = |c: &Vec<OsString>| {
        Path::new(&c[0]).file_name().map_or_else(
            || c[0].to_string_lossy().into_owned(),
            |n| n.to_string_lossy().into_owned(),
        )
    };
    let line = |c: &Vec<OsString>| {
        c.iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let bases: Vec<String> = commands.iter().map(base).collect();
    let mut out: Vec<String> = commands
        .iter()
        .zip(&bases)
        .map(|(c, b)| {
            if bases.iter().filter(|x| *x == b).count() > 1 {
                line(c)
            } else {
                b.clone()
            }
        })
        .collect();
    for i in 0..out.len() {
        let n = out[..i].iter().filter(|o| **o == out[i]).count();
        if n > 0 {
            out[i] = format!("{} #{}", out[i], n + 1);
        }
    }
    Ok(out)
}

/// The report of a finished run, or why there is no table, built from the saved document
/// so `run` and a later `show` print the same table.
enum Model {
    Table(Report),
    Lines(Vec<String>),
}

fn model(runs: &[Measured], doc: &Document, view: &TableView) -> Model {
    let run = Run::of_document(doc, Path::new("run"));
    let mut tail: Vec<String> = runs.iter().flat_map(ending).collect();
    if runs.len() > 1 {
        tail.extend(summary(runs));
    }
    if run.records.is_empty() {
        let mut lines =
            vec!["benchmem: nothing was measured (no process reported a region)".to_string()];
        lines.extend(run.notes.iter().map(|n| format!("note: {n}")));
        lines.extend(tail);
        return Model::Lines(lines);
    }
    match table_of(run, view) {
        Ok(mut report) => {
            report.notes.extend(tail);
            Model::Table(report)
        }
        Err(e) => {
            let mut lines = vec![format!("benchmem: {e}")];
            lines.extend(tail);
            Model::Lines(lines)
        }
    }
}

/// The table of a run as `run` and `show` print it: helpers folded unless all processes
/// are asked for, one section per command when several were measured.
pub(crate) fn table_of(run: Run, view: &TableView) -> std::result::Result<Report, String> {
    let commands = run.commands;
    let (run, helpers) = if view.all_processes {
        (run, Vec::new())
    } else {
        run.split_helpers()
    };
    let report = run_table(&run, &view.metrics, &view.spread)?;
    let report = if commands > 1 {
        by_command(report, &run)
    } else {
        report
    };
    Ok(fold_helpers(report, &helpers))
}

/// The columns and rows asked for, for [`table_of`].
pub(crate) struct TableView {
    /// Metrics shown.
    pub metrics: Vec<Metric>,
    /// Stats each metric spreads into.
    pub spread: Vec<Stat>,
    /// Helper processes as rows of their own.
    pub all_processes: bool,
}

/// `model` in `format`, its lines within `width` when given.
fn render(model: &Model, format: Format, painter: Painter, width: Option<usize>) -> String {
    match model {
        Model::Table(r) => r.render(format, painter, width).body,
        Model::Lines(lines) => {
            let mut out = String::new();
            for l in lines {
                match width {
                    Some(w) => push_prose(&mut out, l, w),
                    None => push_line(&mut out, l),
                }
            }
            out
        }
    }
}

/// How one command's run ended, when that was not cleanly: why it stopped early, or how
/// its last repeat ended.
fn ending(m: &Measured) -> Vec<String> {
    let r = m.result;
    let who = m.label.map_or_else(
        || {
            r.command
                .first()
                .map_or("command".to_string(), |c| c.clone())
        },
        str::to_string,
    );
    let prefix = match m.label {
        Some(l) => format!("{l}: "),
        None => String::new(),
    };
    if let Some(text) = reasons::stopped(r) {
        return vec![format!("note: {prefix}{text}")];
    }
    if !r.failed.is_empty() && r.stopped.is_none() {
        return Vec::new(); // ignored on request; the notes list them
    }
    let status = r.exit.status();
    if status == 0 {
        return Vec::new();
    }
    let how = match r.exit {
        benchmem_launcher::Exit::Code(c) => format!("note: {who} exited with status {c}"),
        benchmem_launcher::Exit::Signal(sig) => {
            format!("note: {who} was killed by signal {sig} (exit status {status})")
        }
    };
    vec![how]
}

/// How the commands compare: the peak of each one's own process (its root row, min over
/// repeats) as a multiple of the first command's.
fn summary(runs: &[Measured]) -> Vec<String> {
    let peak = |r: &RunResult| -> Option<u64> {
        let main = r.main.as_ref()?;
        r.series
            .iter()
            .find(|s| s.kind == SeriesKind::Root && &s.name == main)?
            .samples
            .iter()
            .map(|s| s.stats.peak_bytes)
            .min()
    };
    let label = |m: &Measured| m.label.unwrap_or("command").to_string();
    let Some(first) = runs.first() else {
        return Vec::new();
    };
    let mut out =
        vec!["summary: peak of each command's own process (min over repeats)".to_string()];
    let bytes = |b: u64| human(Quantity::Bytes, b as f64);
    let Some(base) = peak(first.result) else {
        out.push(format!(
            "  {}: no process row to compare with",
            label(first)
        ));
        return out;
    };
    out.push(format!("  {}: {}", label(first), bytes(base)));
    for m in &runs[1..] {
        out.push(match peak(m.result) {
            None => format!("  {}: no process row to compare", label(m)),
            Some(p) if base == 0 => format!(
                "  {}: {} ({} peaks at 0 B)",
                label(m),
                bytes(p),
                label(first)
            ),
            Some(p) => format!(
                "  {} uses {:.2}× the peak of {} ({} vs {})",
                label(m),
                p as f64 / base as f64,
                label(first),
                bytes(p),
                bytes(base)
            ),
        });
    }
    out
}

/// The terminal report of a finished single-command run (what `run` prints on stderr),
/// as [`crate::run_report`] gives it, every line within `width`.
pub(crate) fn report(
    result: &RunResult,
    doc: &Document,
    metrics: &[Metric],
    spread: &[Stat],
    painter: Painter,
    width: usize,
) -> String {
    let measured = [Measured {
        label: None,
        result,
    }];
    let view = TableView {
        metrics: metrics.to_vec(),
        spread: spread.to_vec(),
        all_processes: false,
    };
    render(
        &model(&measured, doc, &view),
        Format::Table,
        painter,
        Some(width),
    )
}
