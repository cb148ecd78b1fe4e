//! `benchmem show RUN.json`: the run table of a saved run.

use crate::EXIT_OK;
use crate::args::ShowArgs;
use crate::blob::read_run;
use crate::commands::run::{TableView, table_of};
use crate::console::{self, Painter};
use crate::error::Result;

/// Print the table of `args.file` on stdout.
pub(crate) fn show(args: ShowArgs) -> Result {
    let run = read_run(&args.file)?;
    if run.records.is_empty() {
        return Err(format!("{}: no benchmarks in this run", args.file.display()).into());
    }
    let view = TableView {
        metrics: args.table.metrics(),
        spread: args.table.stats(),
        all_processes: args.table.all_processes,
    };
    let stopped = run.stopped.clone();
    let mut report = table_of(run, &view)?;
    report
        .notes
        .extend(stopped.iter().map(|s| format!("note: {s}")));
    let painter = Painter::for_stdout_in(args.format).with_style(args.table.style);
    let out = report.render(args.format, painter, console::report_width(args.format));
    console::stdout(&out.body);
    // CSV stays pure data; what the caption and notes say still reaches the user.
    console::stderr(&out.aside);
    Ok(EXIT_OK)
}
