//! `benchmem show RUN.json`: the run table of a saved run.

use crate::args::ShowArgs;
use crate::blob::read_run;
use crate::console::{self, Painter};
use crate::error::Result;
use crate::table::run_table;
use crate::EXIT_OK;

/// Print the table of `args.file` on stdout.
pub(crate) fn show(args: ShowArgs) -> Result {
    let run = read_run(&args.file)?;
    if run.records.is_empty() {
        return Err(format!("{}: no benchmarks in this run", args.file.display()).into());
    }
    let report = run_table(&run, &args.table.metrics(), &args.table.stats())?;
    let out = report.render(
        args.format,
        Painter::for_stdout_in(args.format),
        console::report_width(args.format),
    );
    console::stdout(&out.body);
    // CSV stays pure data; what the caption and notes say still reaches the user.
    console::stderr(&out.aside);
    Ok(EXIT_OK)
}
