//! Running a command under the preload, repeat by repeat.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use benchmem_wire::names::{ENV_DIR, ENV_PRELOAD, ENV_STACKS};

use crate::aggregate::Aggregator;
use crate::incomplete::Note;
use crate::preflight::Verdict;
use crate::reader::Reader;
use crate::rundir::RunDir;
use crate::spawn::Stdio;
use crate::{
    Exit, Hook, Progress, Round, RunError, RunOptions, RunResult, Stop, aslr, collect, embedded,
    preflight, preload_entry, spawn, timeline,
};

/// File name of the preload library.
pub const PRELOAD_NAME: &str = "libbenchmem_preload.so";

/// Where the preload is: `BENCHMEM_PRELOAD`, else next to the running executable (a
/// development build), else in `../lib/benchmem/` from it (an installed layout), else the
/// copy the program carries (see [`crate::embed_preload`]), written out to the per-user
/// cache.
pub fn find_preload() -> Result<PathBuf, RunError> {
    if let Some(p) = std::env::var_os(ENV_PRELOAD).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(RunError::NoPreload(p.display().to_string()))
        };
    }
    let exe = std::env::current_exe().map_err(|_| RunError::NoPreload("benchmem".into()))?;
    let dir = exe.parent().unwrap_or(Path::new("."));
    let on_disk = [
        dir.join(PRELOAD_NAME),
        dir.join("../lib/benchmem").join(PRELOAD_NAME),
    ]
    .into_iter()
    .find(|p| p.is_file());
    if let Some(found) = on_disk {
        return Ok(found);
    }
    match embedded::embedded() {
        Some(library) => embedded::write_out(library).map_err(RunError::PreloadCache),
        None => Err(RunError::NoPreload(exe.display().to_string())),
    }
}

/// Run the command `opts.repeats` times under the preload and aggregate every process's
/// report. Stops early at a round whose command fails (unless `opts.ignore_failure`), at
/// a failing `--prepare` or `--cleanup`, or when benchmem is sent a signal:
/// [`RunResult::stopped`] says which, and [`RunResult::repeats`] counts the repeats that
/// ran, not those asked for.
pub fn run(opts: &RunOptions) -> Result<RunResult, RunError> {
    run_observed(opts, &mut |_| {})
}

/// [`run`], telling `observe` as each round starts and ends (a progress display).
pub fn run_observed(
    opts: &RunOptions,
    observe: &mut dyn FnMut(Progress),
) -> Result<RunResult, RunError> {
    let program = opts.command.first().ok_or(RunError::NoCommand)?;
    let resolved = preflight::resolve(program)?;
    let unmeasured = match preflight::check(&resolved)? {
        Verdict::Unmeasured { program, sanitizer } => Some(Note::SanitizerBuild {
            program: program.display().to_string(),
            sanitizer,
        }),
        Verdict::Enter => preflight::preloaded_sanitizer()
            .map(|(sanitizer, library)| Note::SanitizerPreloaded { sanitizer, library }),
    };
    // Checked before anything runs: a typo must not cost a warmup.
    stdin(opts)?;
    let mut rounds = Rounds {
        opts,
        observe,
        agg: Aggregator::default(),
        unreadable: 0,
        ran: 0,
        exit: Exit::Code(0),
        failed: Vec::new(),
        stopped: None,
        main: None,
        timelines: Vec::new(),
        stacks: Vec::new(),
    };
    if let Some(why) = unmeasured {
        // A program benchmem must not enter runs as it is, with address-space
        // randomization left alone. No rows: nothing was measured, and zeros would read
        // as a measurement; `why` says so.
        rounds.agg.note(why);
        let started = SystemTime::now();
        rounds.all(None)?;
        return Ok(rounds.finish(started));
    }
    let preload = match &opts.preload {
        Some(p) => p.clone(),
        None => find_preload()?,
    };
    let preload = std::fs::canonicalize(&preload).unwrap_or(preload);
    let preload_entry = preload_entry::preload_entry(&preload);
    let started = SystemTime::now();
    if !opts.keep_aslr
        && let Err(e) = aslr::disable_for_children()
    {
        rounds.agg.note(Note::AslrKept {
            error: e.to_string(),
        });
    }
    rounds.all(Some(&preload_entry))?;
    if rounds.unreadable > 0 {
        rounds.agg.note(Note::UnreadableSamples {
            count: rounds.unreadable,
        });
    }
    Ok(rounds.finish(started))
}

/// Checks that `opts` can run, without running anything: the program exists and may be
/// run (measured, or as it is), the input file can be read. [`run`] checks the same; call
/// this first when several commands must all be fine before the first starts.
pub fn check(opts: &RunOptions) -> Result<(), RunError> {
    let program = opts.command.first().ok_or(RunError::NoCommand)?;
    let resolved = preflight::resolve(program)?;
    preflight::check(&resolved)?;
    stdin(opts)?;
    Ok(())
}

/// The file named by `--input`, opened afresh (each run reads it from its start).
fn stdin(opts: &RunOptions) -> Result<Option<File>, RunError> {
    let Some(path) = &opts.input else {
        return Ok(None);
    };
    let shown = || path.display().to_string();
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => {
            return Err(RunError::Input(shown(), "is a directory".into()));
        }
        Ok(_) => {}
        Err(e) => return Err(RunError::Input(shown(), io_words(&e))),
    }
    File::open(path)
        .map(Some)
        .map_err(|e| RunError::Input(shown(), io_words(&e)))
}

fn io_words(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// The rounds of one run, warmups then repeats, and what they left.
struct Rounds<'a> {
    opts: &'a RunOptions,
    observe: &'a mut dyn FnMut(Progress),
    agg: Aggregator,
    /// Sample records the reader could not read, over every repeat.
    unreadable: u64,
    ran: usize,
    exit: Exit,
    failed: Vec<(usize, Exit)>,
    stopped: Option<Stop>,
    main: Option<String>,
    timelines: Vec<crate::ProcessTimeline>,
    /// Every image's replayed stack stream (with `--stacks`).
    stacks: Vec<crate::stacks::ImageStacks>,
}

impl Rounds<'_> {
    /// Every round, until one stops the run; `preload` is `LD_PRELOAD`'s entry for the
    /// measured repeats (None: nothing is measured).
    fn all(&mut self, preload: Option<&OsStr>) -> Result<(), RunError> {
        let rounds = (0..self.opts.warmup)
            .map(Round::Warmup)
            .chain((0..self.opts.repeats.max(1)).map(Round::Repeat));
        for round in rounds {
            if !self.one(round, preload)? {
                break;
            }
        }
        Ok(())
    }

    /// One round with its hooks; false when the run must stop.
    fn one(&mut self, round: Round, preload: Option<&OsStr>) -> Result<bool, RunError> {
        if let Some(stop) = self.hook(Hook::Prepare, round)? {
            self.stopped = Some(stop);
            return Ok(false);
        }
        (self.observe)(Progress::Started(round));
        let ended = match (round, preload) {
            (Round::Warmup(_), _) => {
                let io = Stdio {
                    stdin: stdin(self.opts)?,
                    discard_stdout: true,
                };
                spawn::run(&self.opts.command, &[], self.opts.linger, io)?
            }
            (Round::Repeat(repeat), Some(entry)) => {
                self.ran += 1;
                self.measured(repeat, entry)?
            }
            (Round::Repeat(_), None) => {
                self.ran += 1;
                let io = Stdio {
                    stdin: stdin(self.opts)?,
                    discard_stdout: false,
                };
                spawn::run(&self.opts.command, &[], self.opts.linger, io)?
            }
        };
        if let Round::Repeat(_) = round {
            self.exit = ended.exit;
        }
        let cleanup = self.hook(Hook::Cleanup, round)?;
        (self.observe)(Progress::Finished(round));
        if !ended.forwarded.is_empty() {
            self.stopped = Some(Stop::Interrupted { round });
            return Ok(false);
        }
        if ended.exit != Exit::Code(0) {
            if !self.opts.ignore_failure {
                if let Round::Warmup(_) = round {
                    self.exit = ended.exit;
                }
                self.stopped = Some(Stop::Failed {
                    round,
                    exit: ended.exit,
                });
                return Ok(false);
            }
            if let Round::Repeat(r) = round {
                self.failed.push((r, ended.exit));
            }
        }
        if let Some(stop) = cleanup {
            self.stopped = Some(stop);
            return Ok(false);
        }
        Ok(true)
    }

    /// One measured repeat: a fresh run directory, the command under the preload, the
    /// samples and reports aggregated.
    fn measured(&mut self, repeat: usize, entry: &OsStr) -> Result<spawn::Ended, RunError> {
        let dir = RunDir::create().map_err(RunError::Setup)?;
        let mut env = vec![
            ("LD_PRELOAD", ld_preload(entry)),
            (ENV_DIR, dir.path().as_os_str().to_owned()),
        ];
        let drainer = self.opts.stacks.then(|| {
            env.push((ENV_STACKS, "1".into()));
            crate::stacks::Drainer::start(dir.path(), repeat)
        });
        let io = Stdio {
            stdin: stdin(self.opts)?,
            discard_stdout: false,
        };
        // The reader takes samples into the series as the processes close regions.
        let reader = Reader::start(dir.path(), repeat, std::mem::take(&mut self.agg))
            .map_err(RunError::Setup)?;
        let sampler = timeline::Sampler::start(dir.path(), repeat);
        let ended = spawn::run(&self.opts.command, &env, self.opts.linger, io);
        if let Some(d) = drainer {
            self.stacks.extend(d.finish());
        }
        let drained = reader.stop();
        self.unreadable += drained.unreadable;
        self.agg = drained.agg;
        self.timelines.extend(sampler.finish(drained.spans));
        let ended = ended?;
        let main = self.agg.repeat_done(
            repeat,
            collect::collect(dir.path()),
            &ended,
            self.opts.linger,
            self.opts.name.as_deref(),
        );
        self.main = self.main.take().or(main);
        Ok(ended)
    }

    /// Runs `--prepare` or `--cleanup` through `sh -c`, unmeasured, its output on our
    /// stderr (the command's stdout stays the command's). The stop it causes, if it fails.
    fn hook(&mut self, hook: Hook, round: Round) -> Result<Option<Stop>, RunError> {
        let (flag, line) = match hook {
            Hook::Prepare => ("--prepare", &self.opts.prepare),
            Hook::Cleanup => ("--cleanup", &self.opts.cleanup),
        };
        let Some(line) = line else {
            return Ok(None);
        };
        let status = Command::new("/bin/sh")
            .arg("-c")
            .arg(line)
            .stdin(std::process::Stdio::null())
            .stdout(std::io::stderr())
            .status()
            .map_err(|e| RunError::Hook(flag, line.to_string_lossy().into_owned(), e))?;
        let exit = match (status.code(), status.signal()) {
            (Some(0), _) => return Ok(None),
            (Some(c), _) => Exit::Code(c),
            (None, Some(s)) => Exit::Signal(s),
            (None, None) => Exit::Code(1),
        };
        Ok(Some(Stop::HookFailed { hook, round, exit }))
    }

    fn finish(mut self, started: SystemTime) -> RunResult {
        if let Some(Stop::HookFailed { exit, .. }) = self.stopped {
            // benchmem exits with the status of what failed.
            self.exit = exit;
        }
        let (series, notes) = self.agg.finish();
        let stacks = self
            .opts
            .stacks
            .then(|| crate::stacks::attach(std::mem::take(&mut self.stacks), &series));
        RunResult {
            command: self
                .opts
                .command
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            repeats: self.ran,
            series,
            exit: self.exit,
            started,
            notes,
            asked: self.opts.repeats.max(1),
            failed: self.failed,
            stopped: self.stopped,
            main: self.main,
            timeline: self.timelines,
            stacks,
        }
    }
}

/// Our library first, then whatever the user already preloads (their allocator stays
/// the one our hooks call through to).
fn ld_preload(ours: &OsStr) -> OsString {
    let mut v = ours.to_owned();
    if let Some(existing) = std::env::var_os("LD_PRELOAD").filter(|e| !e.is_empty()) {
        v.push(":");
        v.push(existing);
    }
    v
}
