//! The subcommands. Each returns the process exit status, or why it could not do its
//! work (printed as `benchmem: <message>`).

pub(crate) mod compare;
mod docs;
mod flamegraph;
pub(crate) mod run;
mod show;
pub(crate) mod sweep;
mod where_;

use crate::args::{Cli, Command};
use crate::error::Result;

/// Run the parsed command line.
pub(crate) fn dispatch(cli: Cli) -> Result {
    match cli.command {
        Command::Run(a) => run::run(a),
        Command::Show(a) => show::show(a),
        Command::Compare(a) => compare::compare(a),
        Command::Plot(a) => crate::plot::plot(a),
        Command::Sweep(a) => sweep::sweep(a),
        Command::Where(a) => where_::where_(a),
        Command::Flamegraph(a) => flamegraph::flamegraph(a),
        Command::Completions(a) => docs::completions(a),
        Command::Man(a) => docs::man(a),
        Command::PreloadPath => {
            println!("{}", benchmem_launcher::find_preload()?.display());
            Ok(crate::EXIT_OK)
        }
    }
}
