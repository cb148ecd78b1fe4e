//! benchmem's command line: `run` a command under the preload, `show` a saved run,
//! `compare` runs side by side and gate CI on memory.
//!
//! Exit statuses everywhere: 0 fine, 1 a gate failed, 2 bad usage or bad input (one line
//! on stderr naming the file or argument and the problem, never a panic).
#![warn(missing_docs)]

mod args;
mod blob;
mod commands;
mod console;
mod error;
mod escape;
mod gate;
mod metrics;
mod plot;
mod progress;
mod reasons;
mod report;
mod significance;
mod stacks;
mod stats;
mod table;
mod units;

use std::path::Path;

use benchmem_launcher::RunResult;

/// Everything is fine (for `run`: the command's own status is passed through instead).
const EXIT_OK: i32 = 0;
/// A `--fail-on` or `--max` gate failed.
const EXIT_GATE: i32 = 1;
/// Bad usage or bad input.
const EXIT_BAD_INPUT: i32 = 2;

/// The document `benchmem run --json` saves for `result` (pytest-benchmark JSON), with
/// `commit_info` from the git repository at `cwd`.
pub fn run_document(result: &RunResult, cwd: &Path) -> serde_json::Value {
    let doc = blob::document_from_run(result, cwd);
    serde_json::to_value(doc).expect("a document of strings and numbers serializes")
}

/// Saves `result` at `path` as `benchmem run --json path` does: the run, and with stack
/// data its sidecar beside it (`RUN.stacks.json`).
pub fn save_run(result: &RunResult, cwd: &Path, path: &Path) -> Result<(), String> {
    let doc = blob::document_from_run(result, cwd);
    blob::write_document(&doc, path)?;
    let measured = [blob::Measured {
        label: None,
        result,
    }];
    if let Some(side) = stacks::build(&measured, &doc) {
        stacks::write(&side, path)?;
    }
    Ok(())
}

/// The report `benchmem run` prints on stderr for `result` with the default columns,
/// without colour, where stderr is no terminal and `COLUMNS` is unset (80 columns): the
/// same table a later `show` of the saved run prints there.
pub fn run_report(result: &RunResult, cwd: &Path) -> String {
    let columns = args::TableArgs::default();
    commands::run::report(
        result,
        &blob::document_from_run(result, cwd),
        &columns.metrics(),
        &columns.stats(),
        console::Painter::plain(),
        console::DEFAULT_WIDTH,
    )
}

/// Parse `args` (including the program name) and run the command; returns the exit status.
pub fn main_with_args<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::Parser;
    let parsed = match args::Cli::try_parse_from(args) {
        Ok(p) => p,
        Err(e) => {
            // clap prints help and version to stdout with status 0, usage errors to stderr
            // with status 2, which is the contract's "bad usage" already.
            let _ = e.print();
            return e.exit_code();
        }
    };
    match commands::dispatch(parsed) {
        Ok(status) => status,
        Err(e) => {
            // Messages echo paths and benchmark ids from the files: escaped line by line.
            let lines = match &e {
                error::Error::Lines(lines) => lines.clone(),
                other => vec![other.to_string()],
            };
            for (i, line) in lines.iter().enumerate() {
                let indent = if i == 0 { "benchmem: " } else { "  " };
                eprintln!("{indent}{}", escape::text(line));
            }
            e.exit_status()
        }
    }
}
