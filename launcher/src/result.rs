//! What a run produced: per-region series of samples, across processes and repeats.

use std::time::SystemTime;

pub use benchmem_wire::Stats;

use crate::incomplete::{Incomplete, Note};
pub use crate::timeline::{ProcessTimeline, RegionSpan};

/// Whether a series is a process's whole life or a region the program marked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SeriesKind {
    /// The root region of one process image (its whole tracked life).
    Root,
    /// A region marked through the region API.
    Region,
    /// The root region of a helper process: one that ran and ended before the command's
    /// own program started (the images a shim such as pyenv's went through, the `env`,
    /// `bash` and `readlink` it ran) and marked no region. Kept, but folded in tables.
    Helper,
}

/// One measurement of a region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    /// The four counters.
    pub stats: Stats,
    /// Wall time from region begin to end, in nanoseconds (None when unknown, e.g. killed).
    pub duration_ns: Option<u64>,
    /// Which repeat (0-based) produced it.
    pub repeat: usize,
    /// Process id that measured it.
    pub pid: u32,
    /// Why this sample is not a clean, closed measurement (None when it is).
    pub incomplete: Option<Incomplete>,
}

/// All samples of one region name (or one process's root), in the order measured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Series {
    /// Region name (lossily decoded if the program gave bytes that are not UTF-8).
    pub name: String,
    /// Root or marked region.
    pub kind: SeriesKind,
    /// Every sample, repeats and re-entries included.
    pub samples: Vec<Sample>,
}

/// How the command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Exited with this status.
    Code(i32),
    /// Killed by this signal.
    Signal(i32),
}

impl Exit {
    /// The status a shell would report: the code, or 128 + signal.
    pub fn status(self) -> i32 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal(s) => 128 + s,
        }
    }
}

/// One run of the command: an unmeasured warmup run or a measured repeat (0-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Round {
    /// The k-th warmup run.
    Warmup(usize),
    /// The k-th measured repeat.
    Repeat(usize),
}

/// A shell command run around every run of the command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    /// `--prepare`, before.
    Prepare,
    /// `--cleanup`, after.
    Cleanup,
}

/// Why a run stopped before all the repeats asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The command failed (non-zero status or killed) in this round.
    Failed {
        /// The round.
        round: Round,
        /// How the command ended.
        exit: Exit,
    },
    /// A `--prepare` or `--cleanup` command failed around this round.
    HookFailed {
        /// Which.
        hook: Hook,
        /// The round it ran around.
        round: Round,
        /// How the hook ended.
        exit: Exit,
    },
    /// benchmem received a signal during this round and passed it on.
    Interrupted {
        /// The round.
        round: Round,
    },
}

/// What a run has done so far, told to the observer of [`crate::run_observed`] as it
/// happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The round is about to start (its `--prepare` already ran).
    Started(Round),
    /// The round ended (its `--cleanup` already ran).
    Finished(Round),
}

/// Everything `benchmem run` measured.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// The command and its arguments as given.
    pub command: Vec<String>,
    /// Fresh runs of the command that actually ran: fewer than asked for when a failing
    /// repeat stopped the loop.
    pub repeats: usize,
    /// Series in order of first appearance.
    pub series: Vec<Series>,
    /// How the last repeat ended (benchmem exits with its status).
    pub exit: Exit,
    /// When the run started.
    pub started: SystemTime,
    /// Run-level problems worth telling the user (lost events, processes still running, ...).
    pub notes: Vec<Note>,
    /// Repeats asked for.
    pub asked: usize,
    /// Repeats (0-based) whose command failed and that were kept (`ignore_failure`),
    /// with how the command ended.
    pub failed: Vec<(usize, Exit)>,
    /// Why the run stopped before `asked` repeats, if it did.
    pub stopped: Option<Stop>,
    /// The name of the command's own process row (its last image), when it has one.
    pub main: Option<String>,
    /// Live bytes over time of every process of every repeat, with region spans.
    pub timeline: Vec<ProcessTimeline>,
    /// Each region's figures split by call stack, when the run recorded stacks.
    pub stacks: Option<crate::stacks::RunStacks>,
}
