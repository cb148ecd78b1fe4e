//! The launcher: runs a command under the benchmem preload and turns what its processes
//! report into per-region series.
//!
//! Flow: [`run()`] makes a private run directory (one state file per process image),
//! starts the command with `LD_PRELOAD`; a reader thread drains the region samples from
//! each state file's sample ring into the series while the command runs, and once more
//! after it ended; once every process is gone, the state files give each process's root
//! region and any region left open (see `benchmem_wire::state`).
#![warn(missing_docs)]

mod aggregate;
mod aslr;
mod blind;
mod collect;
mod elf;
mod embedded;
mod forward_signals;
mod incomplete;
mod inherit;
mod options;
mod preflight;
mod preload_entry;
mod reader;
mod result;
mod run;
mod rundir;
mod spawn;
pub mod stacks;
mod timeline;

pub use embedded::embed_preload;
pub use incomplete::{
    Incomplete, LostVariable, Note, Problem, SilentEnd, Unfollowable, UnfollowedExec, Unmeasured,
};
pub use inherit::capture as capture_inherited;
pub use options::{OtherAbi, RunError, RunOptions};
pub use preflight::Sanitizer;
pub use result::{
    Column, Counter, Exit, Hook, Iter as SamplesIter, ProcessTimeline, Progress, RegionSpan, Round,
    RunResult, Sample, Samples, Series, SeriesKind, Stats, Stop,
};
pub use run::{check, find_preload, run, run_observed};
pub use timeline::INTERVAL as TIMELINE_INTERVAL;

/// Distinct region names one process image can give its samples (the samples of names
/// beyond are lost, and the run says so).
pub const MAX_REGION_NAMES: usize = benchmem_wire::samples::MAX_NAMES;
