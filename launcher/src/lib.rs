//! The launcher: runs a command under the benchmem preload and turns what its processes
//! report into per-region series.
//!
//! Flow: [`run`] makes a private run directory (event socket + one state file per
//! process image), starts the command with `LD_PRELOAD`, a reader thread receives region
//! samples and hands them over a channel to the aggregator; once every process is gone
//! the state files give each process's root region and any region left open.
#![warn(missing_docs)]

mod result;

pub use result::{Exit, RunResult, Sample, Series, SeriesKind, Stats};
mod options;

pub use options::{RunError, RunOptions};
mod run;

pub use run::run;
