//! `benchmem run -- CMD ARGS...`: measure a command, print its table on stderr (its own
//! stdout stays untouched for pipes), save the run, exit with the command's status.

use std::path::Path;

use benchmem_launcher::{Exit, RunOptions, RunResult};

use crate::args::RunArgs;
use crate::blob::{
    check_destination, commit_info, document_with_commit, parse_run, write_document, Document,
};
use crate::console::{self, Painter, Stream};
use crate::error::{Error, Result};
use crate::metrics::Metric;
use crate::report::wrap::push_prose;
use crate::report::Format;
use crate::stats::Stat;
use crate::table::run_table;

/// Measure `args.command`.
pub(crate) fn run(args: RunArgs) -> Result {
    if let Some(path) = &args.json {
        // Checked before the run: a measurement that cannot be saved is wasted time.
        check_destination(path)?;
    }
    let mut opts = RunOptions::new(args.command.clone());
    opts.repeats = args.repeats as usize;
    opts.keep_aslr = args.keep_aslr;
    let result = benchmem_launcher::run(&opts)?;
    // git is asked for the commit only when a blob is saved, and only once the command
    // and its descendants are gone: benchmem reaps every orphan of the command, and would
    // otherwise take git's exit statuses from its own thread.
    let commit = match &args.json {
        Some(_) => commit_info(&std::env::current_dir().unwrap_or_else(|_| ".".into())),
        None => Default::default(),
    };
    let doc = document_with_commit(&result, commit);
    console::stderr(&report(
        &result,
        &doc,
        &args.table.metrics(),
        &args.table.stats(),
        Painter::for_stderr(),
        console::width(Stream::Stderr),
    ));
    if let Some(path) = &args.json {
        // The measurement is lost for CI if the file is missing: fail loudly.
        write_document(&doc, path).map_err(Error::Save)?;
    }
    Ok(result.exit.status())
}

/// The terminal report of a finished run: table, caption, notes, and how the command
/// ended when that was not a clean exit, every line within `width`. Built from the saved
/// document so `run` and a later `show` print the same table.
pub(crate) fn report(
    result: &RunResult,
    doc: &Document,
    metrics: &[Metric],
    spread: &[Stat],
    painter: Painter,
    width: usize,
) -> String {
    let name = result.command.first().map_or("command", String::as_str);
    // Lines besides the table quote the command, notes and errors: each escaped as added.
    let mut out = String::new();
    let parsed = serde_json::to_value(doc)
        .map_err(|e| e.to_string())
        .and_then(|v| parse_run(&v, Path::new(name)).map_err(|e| e.to_string()));
    match parsed {
        Ok(run) if run.records.is_empty() => {
            out.push_str("benchmem: nothing was measured (no process reported a region)\n");
            for n in &run.notes {
                push_prose(&mut out, &format!("note: {n}"), width);
            }
        }
        Ok(run) => match run_table(&run, metrics, spread) {
            Ok(r) => out.push_str(&r.render(Format::Table, painter, Some(width)).body),
            Err(e) => push_prose(&mut out, &format!("benchmem: {e}"), width),
        },
        Err(e) => push_prose(&mut out, &format!("benchmem: {e}"), width),
    }
    match result.exit {
        Exit::Code(0) => {}
        Exit::Code(c) => push_prose(
            &mut out,
            &format!("note: {name} exited with status {c}"),
            width,
        ),
        Exit::Signal(s) => push_prose(
            &mut out,
            &format!(
                "note: {name} was killed by signal {s} (exit status {})",
                result.exit.status()
            ),
            width,
        ),
    }
    out
}
