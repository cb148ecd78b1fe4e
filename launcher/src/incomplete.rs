//! What a run could not measure, as data: why a sample is not a clean measurement
//! ([`Incomplete`]) and what the user should know about the run as a whole ([`Note`]).
//!
//! The launcher only says what happened; the words are the command line's. Every variant
//! has a stable code ([`Incomplete::code`], [`Note::code`]) for readers that must not
//! depend on the wording.

use std::time::Duration;

use crate::{OtherAbi, Sanitizer};

/// Why a sample is not a clean, closed measurement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incomplete {
    /// The process ended without a word to benchmem: its row is measured up to that end.
    Ended(SilentEnd),
    /// The region was still open when its process ended: measured up to the process's
    /// exit (`None`), or up to its silent end.
    NeverClosed(Option<SilentEnd>),
    /// The process's allocations never reached benchmem.
    Unmeasured(Unmeasured),
    /// Samples of this region from this process were lost: its sample ring stayed full
    /// (benchmem did not drain it in time). Its other samples are exact, but the series
    /// lacks these.
    SamplesLost {
        /// How many of this region's samples the process lost.
        count: u64,
    },
    /// On a process's row: it closed regions of more distinct names than its name table
    /// holds, and their samples were lost (which regions is not known).
    NamesFull,
}

/// How a process image that never said how it ended did end, as far as anyone saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SilentEnd {
    /// Killed by this signal.
    Killed {
        /// The signal number.
        signal: i32,
    },
    /// Exited with this status without a word: it exec'd a program benchmem cannot enter
    /// or one started without the preload, and left no record of which.
    ExitedUnseen {
        /// The exit status.
        status: i32,
    },
    /// It exec'd a program benchmem could not follow.
    Exec(UnfollowedExec),
    /// Still running when benchmem returned, having left the session (a daemon).
    Detached,
    /// Still running when benchmem stopped waiting, `linger` after the command ended.
    Lingering {
        /// How long benchmem waited.
        linger: Duration,
    },
    /// Still running when benchmem returned, though not its child (a daemon's descendant).
    Running,
    /// Reaped by a parent benchmem does not see, without a word: killed, crashed, or it
    /// exec'd a program benchmem cannot enter.
    Vanished,
}

/// An exec call a process image made and benchmem could not follow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnfollowedExec {
    /// The program, as the preload recorded it (decoded lossily).
    pub program: String,
    /// The preload's record of the path was cut short.
    pub cut: bool,
    /// Why the new program never reported.
    pub why: Unfollowable,
}

/// Why a program exec'd under the preload never reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unfollowable {
    /// Its environment no longer carries this variable (a scrubbed environment).
    Scrubbed(LostVariable),
    /// A sanitizer build the preload exec'd without itself in `LD_PRELOAD`, on purpose:
    /// its runtime must be loaded first.
    SanitizerUnpreloaded(Sanitizer),
    /// Statically linked: no loader, so no preload.
    Static,
    /// setuid, setgid or file capabilities: the loader ignores `LD_PRELOAD`.
    Privileged,
    /// A program of another ABI than the preload's.
    OtherAbi(OtherAbi),
    /// A sanitizer build (its runtime refuses a preload ahead of it).
    Sanitizer(Sanitizer),
    /// Gone when the run ended, so it could not be checked.
    Gone,
    /// Its path was too long to record, so it could not be checked.
    PathTooLong,
    /// Nothing wrong with it: killed before it started, or it could not load the preload.
    NeverReported,
}

/// An environment variable the preload needs in every process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LostVariable {
    /// `LD_PRELOAD`.
    Preload,
    /// `BENCHMEM_DIR`.
    Dir,
}

/// Why a process's allocations never reached benchmem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unmeasured {
    /// A tool such as valgrind replaced the allocator in the process.
    AllocatorReplaced {
        /// The object that owns `malloc` there, as the preload found it.
        owner: String,
    },
    /// A sanitizer build with its runtime linked in (gcc's `-static-libasan`, clang's
    /// default): the runtime's malloc comes before the preload's.
    SanitizerLinkedIn {
        /// Which sanitizer.
        sanitizer: Sanitizer,
    },
    /// The program links an allocator of its own, past malloc.
    OwnAllocator {
        /// The allocator, when its symbols tell (`jemalloc`).
        allocator: Option<&'static str>,
        /// Its prefixed entry point found (`je_malloc`), if any.
        symbol: Option<&'static str>,
        /// The object that owns `malloc` there, as the preload found it.
        owner: String,
    },
}

/// Something about the whole run the user should know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// Address-space randomization could not be turned off; the error as the system gave it.
    AslrKept {
        /// The system's error.
        error: String,
    },
    /// No process reported at all: the program was not interposed.
    NotInterposed,
    /// benchmem received this signal and passed it on to the command.
    SignalPassedOn {
        /// The signal number.
        signal: i32,
    },
    /// Processes that left the session and were not waited for.
    Detached {
        /// Their pids.
        pids: Vec<u32>,
    },
    /// Processes still running when benchmem stopped waiting.
    Lingering {
        /// Their pids.
        pids: Vec<u32>,
        /// How long benchmem waited after the command ended.
        linger: Duration,
    },
    /// A problem one process ran into.
    Process {
        /// Its pid.
        pid: u32,
        /// What happened.
        problem: Problem,
    },
    /// Region samples in a state file that the preload cannot have written (a record
    /// naming no region, a ring out of step), ignored.
    UnreadableSamples {
        /// How many.
        count: u64,
    },
    /// The program is a sanitizer build: run without the preload, not measured.
    SanitizerBuild {
        /// The file that is the build (the interpreter, for a script).
        program: String,
        /// Its sanitizer.
        sanitizer: Sanitizer,
    },
    /// The user's `LD_PRELOAD` loads a sanitizer runtime: run without the preload, not
    /// measured.
    SanitizerPreloaded {
        /// The runtime's sanitizer.
        sanitizer: Sanitizer,
        /// The runtime's entry in `LD_PRELOAD`.
        library: String,
    },
}

/// A problem one process ran into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// Region samples it could not hand to benchmem: its sample ring stayed full, or
    /// their names did not fit its name table ([`Problem::NamesFull`]).
    SamplesLost {
        /// How many.
        count: u64,
    },
    /// The preload's bookkeeping ran out of room: some frees could not be matched.
    BookkeepingFull,
    /// Too many regions open at once: some were not measured.
    TooManyRegions,
    /// It closed regions of more distinct names than its name table holds: the samples
    /// of the names beyond were lost.
    NamesFull,
    /// A library was loaded with `RTLD_DEEPBIND`: its malloc calls bypass benchmem.
    DeepBind,
    /// C++ `operator new`/`delete` belong to an allocator that bypasses malloc.
    NewBypassesMalloc {
        /// The object that owns them, when the preload could tell.
        owner: Option<String>,
    },
    /// Its allocations were not measured.
    Unmeasured {
        /// The process's name.
        name: String,
        /// Why.
        why: Unmeasured,
    },
    /// PROT_NONE reservations it made accessible with mprotect (a runtime managing its
    /// own heap): memory benchmem does not count.
    Unprotected {
        /// The process's name.
        name: String,
        /// How many bytes.
        bytes: u64,
    },
}

impl Incomplete {
    /// A stable, machine-readable name for the kind of incompleteness.
    pub fn code(&self) -> &'static str {
        match self {
            Incomplete::Ended(end) => end.code(),
            Incomplete::NeverClosed(_) => "never_closed",
            Incomplete::Unmeasured(u) => u.code(),
            Incomplete::SamplesLost { .. } => "samples_lost",
            Incomplete::NamesFull => "names_full",
        }
    }
}

impl SilentEnd {
    /// A stable, machine-readable name for how the process ended.
    pub fn code(&self) -> &'static str {
        match self {
            SilentEnd::Killed { .. } => "killed",
            SilentEnd::ExitedUnseen { .. } => "exited_unseen",
            SilentEnd::Exec(e) => e.why.code(),
            SilentEnd::Detached => "detached",
            SilentEnd::Lingering { .. } => "still_running",
            SilentEnd::Running => "running_at_return",
            SilentEnd::Vanished => "vanished",
        }
    }
}

impl Unfollowable {
    /// A stable, machine-readable name for why an exec could not be followed.
    pub fn code(self) -> &'static str {
        match self {
            Unfollowable::Scrubbed(_) => "exec_env_scrubbed",
            Unfollowable::SanitizerUnpreloaded(_) => "exec_sanitizer_unpreloaded",
            Unfollowable::Static => "exec_static",
            Unfollowable::Privileged => "exec_privileged",
            Unfollowable::OtherAbi(_) => "exec_other_abi",
            Unfollowable::Sanitizer(_) => "exec_sanitizer",
            Unfollowable::Gone => "exec_gone",
            Unfollowable::PathTooLong => "exec_path_too_long",
            Unfollowable::NeverReported => "exec_never_reported",
        }
    }
}

impl Unmeasured {
    /// A stable, machine-readable name for why nothing was measured.
    pub fn code(&self) -> &'static str {
        match self {
            Unmeasured::AllocatorReplaced { .. } => "unmeasured_allocator_replaced",
            Unmeasured::OwnAllocator { .. } => "unmeasured_own_allocator",
            Unmeasured::SanitizerLinkedIn { .. } => "unmeasured_sanitizer_linked_in",
        }
    }
}

impl Note {
    /// A stable, machine-readable name for the kind of note.
    pub fn code(&self) -> &'static str {
        match self {
            Note::AslrKept { .. } => "aslr_kept",
            Note::NotInterposed => "not_interposed",
            Note::SignalPassedOn { .. } => "signal_passed_on",
            Note::Detached { .. } => "detached",
            Note::Lingering { .. } => "still_running",
            Note::Process { problem, .. } => problem.code(),
            Note::UnreadableSamples { .. } => "unreadable_samples",
            Note::SanitizerBuild { .. } => "sanitizer_build",
            Note::SanitizerPreloaded { .. } => "sanitizer_preloaded",
        }
    }
}

impl Problem {
    /// A stable, machine-readable name for the problem.
    pub fn code(&self) -> &'static str {
        match self {
            Problem::SamplesLost { .. } => "samples_lost",
            Problem::BookkeepingFull => "bookkeeping_full",
            Problem::TooManyRegions => "too_many_regions",
            Problem::NamesFull => "names_full",
            Problem::DeepBind => "deepbind",
            Problem::NewBypassesMalloc { .. } => "new_bypasses_malloc",
            Problem::Unmeasured { why, .. } => why.code(),
            Problem::Unprotected { .. } => "unprotected_reservations",
        }
    }
}
