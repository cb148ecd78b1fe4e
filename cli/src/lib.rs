//! benchmem's command line: `run` a command under the preload, `show` a saved run,
//! `compare` runs side by side and gate CI on memory.
//!
//! Exit statuses everywhere: 0 fine, 1 a gate failed, 2 bad usage or bad input (one line
//! on stderr naming the file or argument and the problem, never a panic).
#![warn(missing_docs)]

pub mod blob;
pub mod cli;
pub mod commands;
pub mod escape;
pub mod gate;
pub mod grid;
pub mod metrics;
pub mod output;
pub mod reasons;
pub mod stats;
pub mod table;
pub mod units;

/// Everything is fine (for `run`: the command's own status is passed through instead).
pub const EXIT_OK: i32 = 0;
/// A `--fail-on` or `--max` gate failed.
pub const EXIT_GATE: i32 = 1;
/// Bad usage or bad input.
pub const EXIT_BAD_INPUT: i32 = 2;

/// Parse `args` (including the program name) and run the command; returns the exit status.
pub fn main_with_args<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::Parser;
    let parsed = match cli::Cli::try_parse_from(args) {
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
        Err(message) => {
            // Messages echo paths and benchmark ids from the files.
            eprintln!("benchmem: {}", escape::text(&message));
            EXIT_BAD_INPUT
        }
    }
}
