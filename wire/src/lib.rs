//! What crosses the boundary between the preloaded library (inside the profiled process)
//! and the launcher: defined once here, used by both sides.
//!
//! - [`state::ProcessState`]: a `MAP_SHARED` file per process image holding the live
//!   counters and, in a ring ([`samples`]), the samples of the regions it closed, which
//!   the launcher drains as the program runs. It survives `SIGKILL`, `_exit` and programs
//!   that close every fd, so the launcher can always read what was measured up to the end.
//! - [`stacks`]: with `--stacks`, a ring per process image of allocation, free, region
//!   and new-stack records, from which the launcher attributes memory to call stacks.
//!
//! Beside them, what both sides must read alike: names ([`names`]) and ELF files ([`elf`]).
//!
//! This crate has no dependencies and never allocates in the functions the preload calls.
#![no_std]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod elf;
pub mod names;
pub mod samples;
pub mod stacks;
pub mod state;
pub mod stats;

pub use stats::Stats;
