//! How to run, and why a run could not happen.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// What `benchmem run` was asked to do.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Program and arguments.
    pub command: Vec<OsString>,
    /// Fresh runs of the command (≥ 1).
    pub repeats: usize,
    /// The preload library; default: what [`crate::find_preload`] finds.
    pub preload: Option<PathBuf>,
    /// How long to wait for descendants still running after the command itself exited.
    pub linger: Duration,
    /// Leave address-space layout randomization on (default: off, see `aslr.rs`).
    pub keep_aslr: bool,
    /// Unmeasured runs of the command before the first repeat (warming caches); their
    /// standard output is discarded.
    pub warmup: usize,
    /// Go on after a repeat whose command fails, instead of stopping there.
    pub ignore_failure: bool,
    /// A shell command run (`sh -c`, unmeasured) before every run of the command.
    pub prepare: Option<OsString>,
    /// A shell command run (`sh -c`, unmeasured) after every run of the command.
    pub cleanup: Option<OsString>,
    /// A file every run reads as standard input, opened afresh each time.
    pub input: Option<PathBuf>,
    /// The name of the command's own process row (its last image), instead of the
    /// program's name or `BENCHMEM_REGION`.
    pub name: Option<String>,
    /// Record the call stack of every allocation (`BENCHMEM_STACKS=1`) and attribute each
    /// region's figures to stacks ([`crate::RunResult::stacks`]).
    pub stacks: bool,
}

impl RunOptions {
    /// Options for `command` with one repeat and the default linger.
    pub fn new(command: Vec<OsString>) -> Self {
        RunOptions {
            command,
            repeats: 1,
            preload: None,
            linger: Duration::from_secs(5),
            keep_aslr: false,
            warmup: 0,
            ignore_failure: false,
            prepare: None,
            cleanup: None,
            input: None,
            name: None,
            stacks: false,
        }
    }
}

/// Why a command could not be measured. Each message is one line for the user.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// No command given.
    #[error("no command given: use `benchmem run -- PROGRAM [ARGS...]`")]
    NoCommand,
    /// The program does not exist or is not executable.
    #[error("cannot run `{0}`: no such executable file (check the name and PATH)")]
    NotFound(String),
    /// The program cannot be started, and why, in words that point at the fix.
    #[error("cannot run `{0}`: {1}")]
    CannotRun(String, String),
    /// The program is statically linked: the dynamic loader never runs, so LD_PRELOAD is ignored.
    #[error(
        "cannot measure `{0}`: it is statically linked, so LD_PRELOAD cannot interpose its allocator; link it dynamically"
    )]
    Static(String),
    /// setuid/setgid/capabilities: the loader ignores LD_PRELOAD for such programs.
    #[error(
        "cannot measure `{0}`: it is setuid/setgid or has file capabilities, so the loader ignores LD_PRELOAD; run a copy without those bits"
    )]
    Privileged(String),
    /// The program is an ELF of another class or machine than the preload.
    #[error("cannot measure `{0}`: it is a {abi} binary but the preload is built for this machine's 64-bit ABI", abi = .1.adjective())]
    WrongAbi(String, OtherAbi),
    /// The preload library could not be found.
    #[error(
        "cannot find libbenchmem_preload.so next to {0}: build it with `cargo build -p benchmem-preload` or set BENCHMEM_PRELOAD"
    )]
    NoPreload(String),
    /// The preload this program carries could not be written out for the loader.
    #[error(
        "cannot write out the preload library benchmem carries: {0}; set XDG_CACHE_HOME to a directory of yours, or BENCHMEM_PRELOAD"
    )]
    PreloadCache(std::io::Error),
    /// Starting the program failed.
    #[error("cannot start `{0}`: {1}")]
    Spawn(String, std::io::Error),
    /// The run directory or socket could not be set up.
    #[error("cannot set up the run directory: {0}")]
    Setup(std::io::Error),
    /// The `--input` file cannot be opened.
    #[error("--input {0}: {1}: give a readable file")]
    Input(String, String),
    /// A `--prepare` or `--cleanup` command could not be started at all.
    #[error("cannot start {0} `{1}` through sh -c: {2}")]
    Hook(&'static str, String, std::io::Error),
}

/// How a program's ABI differs from the preload's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OtherAbi {
    /// A 32-bit program.
    Bits32,
    /// A program for another machine.
    Architecture,
}

impl OtherAbi {
    /// `32-bit`, `foreign-architecture`: what the program is, for [`RunError::WrongAbi`].
    pub fn adjective(self) -> &'static str {
        match self {
            OtherAbi::Bits32 => "32-bit",
            OtherAbi::Architecture => "foreign-architecture",
        }
    }
}
