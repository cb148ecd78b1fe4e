//! `benchmem completions SHELL` and `benchmem man [COMMAND]`: generated from the same
//! clap definitions that parse the command line, so they never drift from it.

use clap::CommandFactory;

use crate::EXIT_OK;
use crate::args::{Cli, CompletionsArgs, ManArgs};
use crate::console;
use crate::error::Result;

/// Print the completion script for `args.shell` on stdout.
pub(crate) fn completions(args: CompletionsArgs) -> Result {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "benchmem", &mut out);
    console::stdout(&String::from_utf8_lossy(&out));
    Ok(EXIT_OK)
}

/// Print the manual page of benchmem, or of one subcommand, as roff on stdout.
pub(crate) fn man(args: ManArgs) -> Result {
    let mut cmd = Cli::command();
    cmd.build();
    let page = match &args.command {
        None => cmd,
        Some(name) => {
            let names: Vec<String> = cmd
                .get_subcommands()
                .map(|c| c.get_name().to_string())
                .filter(|n| n != "help")
                .collect();
            let found = cmd.find_subcommand(name).filter(|_| name != "help");
            let Some(sub) = found.cloned() else {
                return Err(format!(
                    "no command {name:?} for `benchmem man`: choose from {}",
                    names.join(", ")
                )
                .into());
            };
            // The page's title and synopsis say `benchmem-run`, as man(1) looks it up.
            let title = format!("benchmem-{}", sub.get_name());
            sub.name(title)
                .bin_name(format!("benchmem {name}"))
                .version(env!("CARGO_PKG_VERSION"))
        }
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut out)
        .map_err(|e| format!("cannot render the manual page: {e}"))?;
    console::stdout(&String::from_utf8_lossy(&out));
    Ok(EXIT_OK)
}
