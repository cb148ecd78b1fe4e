//! `benchmem show RUN.json`: the run table of a saved run.

use crate::blob::read_run;
use crate::cli::ShowArgs;
use crate::grid::Format;
use crate::output::{self, Painter};
use crate::table::run_table;
use crate::EXIT_OK;

/// Print the table of `args.file` on stdout.
pub fn show(args: ShowArgs) -> Result<i32, String> {
    let run = read_run(&args.file).map_err(|e| e.to_string())?;
    if run.records.is_empty() {
        return Err(format!(
            "{}: no benchmarks in this run",
            args.file.display()
        ));
    }
    let report = run_table(
        &run,
        &args.table.columns.0,
        &args.table.stats.0,
        args.format,
    )?;
    output::stdout(&report.text(args.format, Painter::for_stdout_in(args.format)));
    if args.format == Format::Csv {
        // CSV stays pure data; what the caption and notes say still reaches the user.
        output::stderr(&report.notes_text());
    }
    Ok(EXIT_OK)
}
