//! The subcommands. Each returns the process exit status, or a one-line message for bad
//! usage or bad input (printed as `benchmem: <message>`, status 2).

pub mod compare;
pub mod run;
pub mod show;

use crate::cli::{Cli, Command};

/// Run the parsed command line.
pub fn dispatch(cli: Cli) -> Result<i32, String> {
    match cli.command {
        Command::Run(a) => run::run(a),
        Command::Show(a) => show::show(a),
        Command::Compare(a) => compare::compare(a),
    }
}
