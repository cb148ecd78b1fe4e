//! Running a command under the preload, repeat by repeat.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use benchmem_wire::names::{ENV_DIR, ENV_PRELOAD};

use crate::aggregate::Aggregator;
use crate::incomplete::Note;
use crate::preflight::Verdict;
use crate::rundir::{Ignored, RunDir};
use crate::{
    aslr, collect, embedded, preflight, preload_entry, spawn, Exit, RunError, RunOptions, RunResult,
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
/// report. Stops early at a repeat whose command fails, so its status is what we return
/// and [`RunResult::repeats`] counts the repeats that ran, not those asked for.
pub fn run(opts: &RunOptions) -> Result<RunResult, RunError> {
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
    if let Some(why) = unmeasured {
        return run_unmeasured(opts, why);
    }
    let preload = match &opts.preload {
        Some(p) => p.clone(),
        None => find_preload()?,
    };
    let preload = std::fs::canonicalize(&preload).unwrap_or(preload);
    let preload_entry = preload_entry::preload_entry(&preload);
    let started = SystemTime::now();
    let mut agg = Aggregator::default();
    if !opts.keep_aslr {
        if let Err(e) = aslr::disable_for_children() {
            agg.note(Note::AslrKept {
                error: e.to_string(),
            });
        }
    }
    let mut exit = Exit::Code(0);
    let mut ignored = Ignored::default();
    let mut ran = 0;
    for repeat in 0..opts.repeats.max(1) {
        ran += 1;
        let dir = RunDir::create().map_err(RunError::Setup)?;
        let env = vec![
            ("LD_PRELOAD", ld_preload(&preload_entry)),
            (ENV_DIR, dir.path().as_os_str().to_owned()),
        ];
        let (tx, rx) = crossbeam_channel::unbounded();
        let reader = dir.start_reader(tx).map_err(RunError::Setup)?;
        // The aggregator takes samples as they arrive, on its own thread.
        let collector = std::thread::spawn(move || {
            let mut agg = agg;
            for ev in rx {
                agg.region_ended(repeat, ev);
            }
            agg
        });
        let ended = spawn::run(&opts.command, &env, opts.linger);
        let set_aside = reader.stop();
        ignored.foreign += set_aside.foreign;
        ignored.malformed += set_aside.malformed;
        agg = collector.join().expect("aggregator thread panicked");
        let ended = ended?;
        agg.repeat_done(repeat, collect::collect(dir.path()), &ended, opts.linger);
        exit = ended.exit;
        if exit != Exit::Code(0) || !ended.forwarded.is_empty() {
            break;
        }
    }
    if ignored.foreign > 0 {
        agg.note(Note::ForeignDatagrams {
            count: ignored.foreign,
        });
    }
    if ignored.malformed > 0 {
        agg.note(Note::MalformedDatagrams {
            count: ignored.malformed,
        });
    }
    let (series, notes) = agg.finish();
    Ok(RunResult {
        command: opts
            .command
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        repeats: ran,
        series,
        exit,
        started,
        notes,
    })
}

/// Runs the command as it is, repeat by repeat as [`run`] would, without the preload and
/// with address-space randomization left alone: a program benchmem must not enter. No
/// rows: nothing was measured, and zeros would read as a measurement; `why` says so.
fn run_unmeasured(opts: &RunOptions, why: Note) -> Result<RunResult, RunError> {
    let started = SystemTime::now();
    let mut exit = Exit::Code(0);
    let mut ran = 0;
    for _ in 0..opts.repeats.max(1) {
        ran += 1;
        exit = spawn::run(&opts.command, &[], opts.linger)?.exit;
        if exit != Exit::Code(0) {
            break;
        }
    }
    Ok(RunResult {
        command: opts
            .command
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        repeats: ran,
        series: Vec::new(),
        exit,
        started,
        notes: vec![why],
    })
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
