//! The words for what a run could not measure: every incomplete sample and run note the
//! launcher reports as data is put into a sentence here, and only here.
//!
//! The sentences are raw text (they quote program names and paths): they are escaped
//! where they are printed, and saved as they are next to their codes in the blob.

use benchmem_launcher::{
    Exit, Hook, Incomplete, LostVariable, Note, Problem, Round, RunResult, Sanitizer, SilentEnd,
    Stop, Unfollowable, UnfollowedExec, Unmeasured,
};

/// Why a sample is not a clean measurement, as one sentence.
pub fn incomplete(why: &Incomplete) -> String {
    match why {
        Incomplete::Ended(end) => silent_end(end),
        Incomplete::NeverClosed(None) => {
            "region never closed: measured up to the process's exit".into()
        }
        Incomplete::NeverClosed(Some(end)) => format!("region never closed: {}", silent_end(end)),
        Incomplete::Unmeasured(u) => unmeasured(u),
        Incomplete::SamplesLost { count } => format!(
            "{count} sample(s) of this region lost: benchmem did not drain the process's \
             sample ring in time"
        ),
        Incomplete::NamesFull => format!(
            "it closed regions of more than {} distinct names: the samples of the names \
             beyond were lost",
            benchmem_launcher::MAX_REGION_NAMES
        ),
    }
}

/// A note about the whole run, as one sentence.
pub fn note(note: &Note) -> String {
    match note {
        Note::AslrKept { error } => format!(
            "address-space randomization stays on ({error}): allocators that decide by address \
             (CPython's obmalloc) may differ between repeats"
        ),
        Note::NotInterposed => "no process reported to benchmem: the program was not \
             interposed (is LD_PRELOAD stripped, or an interpreter statically linked?)"
            .into(),
        Note::SignalPassedOn { signal } => format!(
            "benchmem received {} and passed it on to the command",
            signal_name(*signal)
        ),
        Note::Detached { pids } => format!(
            "{} process(es) left the session (daemons) and were not waited for: pid {}; \
             their rows are measured up to benchmem's return",
            pids.len(),
            pid_list(pids)
        ),
        Note::Lingering { pids, linger } => format!(
            "{} process(es) were still running when benchmem stopped waiting, {} s after the \
             command ended: pid {}; their rows are incomplete",
            pids.len(),
            linger.as_secs_f64(),
            pid_list(pids)
        ),
        Note::Process { pid, problem: p } => format!("pid {pid}: {}", problem(p)),
        Note::UnreadableSamples { count } => format!(
            "{count} region sample(s) that benchmem's preload cannot have written were ignored"
        ),
        Note::SanitizerBuild { program, sanitizer } => {
            let (article, name) = sanitizer_words(*sanitizer);
            format!(
                "{program} is {article} {name} build: its sanitizer runtime replaces the \
                 allocator and must be loaded first, so it was run without benchmem and is not \
                 measured"
            )
        }
        Note::SanitizerPreloaded { sanitizer, library } => format!(
            "LD_PRELOAD loads the {} runtime ({library}), which replaces the allocator and must \
             be loaded first, so the command was run without benchmem and is not measured",
            sanitizer_words(*sanitizer).1
        ),
    }
}

/// Why a run stopped before the repeats asked for, as one sentence; None when it did not
/// (a failure of the last repeat cut nothing short: [`exit`] says how it ended).
pub fn stopped(r: &RunResult) -> Option<String> {
    let stop = r.stopped.as_ref()?;
    let asked = r.asked;
    let go_on = "; --ignore-failure to go on";
    Some(match *stop {
        Stop::Failed {
            round: Round::Repeat(k),
            ..
        } if k + 1 >= asked => return None,
        Stop::Failed {
            round: Round::Repeat(k),
            exit: e,
        } => format!(
            "stopped after repeat {} of {asked}: the command {}{go_on}",
            k + 1,
            exit(e)
        ),
        Stop::Failed {
            round: Round::Warmup(k),
            exit: e,
        } => format!(
            "stopped at warmup run {}, before any repeat: the command {} (warmup output is \
             discarded: run it once without --warmup to see why){go_on}",
            k + 1,
            exit(e)
        ),
        Stop::HookFailed {
            hook,
            round,
            exit: e,
        } => {
            let (flag, when) = match hook {
                Hook::Prepare => ("--prepare", "before"),
                Hook::Cleanup => ("--cleanup", "after"),
            };
            format!(
                "stopped {when} {}: the {flag} command {}",
                round_words(round, asked),
                exit(e)
            )
        }
        Stop::Interrupted { round } => format!(
            "stopped at {}: benchmem received a signal and passed it on to the command",
            round_words(round, asked)
        ),
    })
}

/// `repeat 3 of 5`, `warmup run 2`.
fn round_words(round: Round, asked: usize) -> String {
    match round {
        Round::Repeat(k) => format!("repeat {} of {asked}", k + 1),
        Round::Warmup(k) => format!("warmup run {}", k + 1),
    }
}

/// `exited with status 1`, `was killed by SIGSEGV (signal 11)`.
pub fn exit(e: Exit) -> String {
    match e {
        Exit::Code(c) => format!("exited with status {c}"),
        Exit::Signal(s) => format!("was killed by {}", signal_name(s)),
    }
}

/// The repeats that failed and were kept (`--ignore-failure`), as one sentence.
pub fn failed_repeats(r: &RunResult) -> Option<String> {
    if r.failed.is_empty() {
        return None;
    }
    let each: Vec<String> = r
        .failed
        .iter()
        .map(|(k, e)| format!("repeat {} {}", k + 1, exit(*e)))
        .collect();
    Some(format!(
        "{} of {} repeats failed and were kept (--ignore-failure): {}",
        r.failed.len(),
        r.repeats,
        each.join(", ")
    ))
}

/// A stable code for why a run stopped early.
pub fn stop_code(stop: &Stop) -> &'static str {
    match stop {
        Stop::Failed {
            round: Round::Repeat(_),
            ..
        } => "command_failed",
        Stop::Failed {
            round: Round::Warmup(_),
            ..
        } => "warmup_failed",
        Stop::HookFailed {
            hook: Hook::Prepare,
            ..
        } => "prepare_failed",
        Stop::HookFailed {
            hook: Hook::Cleanup,
            ..
        } => "cleanup_failed",
        Stop::Interrupted { .. } => "interrupted",
    }
}

fn pid_list(pids: &[u32]) -> String {
    pids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn problem(p: &Problem) -> String {
    match p {
        Problem::SamplesLost { count } => {
            format!("{count} region sample(s) lost: benchmem did not drain them in time")
        }
        Problem::BookkeepingFull => {
            "bookkeeping memory ran out: some frees could not be matched".into()
        }
        Problem::TooManyRegions => "too many regions open at once: some were not measured".into(),
        Problem::NamesFull => format!(
            "regions of more than {} distinct names: the samples of the names beyond were lost",
            benchmem_launcher::MAX_REGION_NAMES
        ),
        Problem::DeepBind => "a library was loaded with RTLD_DEEPBIND: its calls to malloc bind \
             to libc's malloc, bypass benchmem and are not counted"
            .into(),
        Problem::NewBypassesMalloc { owner } => {
            let whose = match owner {
                Some(o) => format!("{o}'s own"),
                None => "the allocator's own (jemalloc or tcmalloc built with C++ support)".into(),
            };
            format!(
                "C++ operator new/delete here are {whose}, which bypass malloc: any C++ \
                 new/delete was not counted (a pure C program is unaffected)"
            )
        }
        Problem::Unmeasured { name, why } => format!("{name}: {}", unmeasured(why)),
        Problem::Unprotected { name, bytes } => format!(
            "{name}: {:.1} MiB of PROT_NONE reservations were made accessible with mprotect \
             (a runtime managing its own heap): that memory is not counted",
            *bytes as f64 / (1u64 << 20) as f64
        ),
    }
}

fn unmeasured(u: &Unmeasured) -> String {
    match u {
        Unmeasured::AllocatorReplaced { owner } => format!(
            "not measured: {owner} replaces the allocator in this process (its malloc calls \
             never reach benchmem; only its mmap calls are counted)"
        ),
        Unmeasured::OwnAllocator {
            allocator,
            symbol,
            owner,
        } => {
            let what = match (allocator, symbol) {
                (Some(n), Some(s)) => format!("{n}, `{s}`"),
                (Some(n), None) => format!("{n}, as its own `malloc`"),
                (None, _) => format!("its own `malloc`, in {owner}"),
            };
            format!(
                "not measured: it links an allocator of its own ({what}): its allocations do \
                 not go through benchmem's malloc and are not counted; only its mmap calls are"
            )
        }
        Unmeasured::SanitizerLinkedIn { sanitizer } => {
            let (article, name) = sanitizer_words(*sanitizer);
            format!(
                "not measured: it is {article} {name} build with the runtime linked in, which \
                 replaces the allocator: its allocations do not go through benchmem's malloc \
                 and are not counted; only its mmap calls are"
            )
        }
    }
}

fn silent_end(end: &SilentEnd) -> String {
    match end {
        SilentEnd::Killed { signal } => {
            format!("killed by {}: measured up to then", signal_name(*signal))
        }
        SilentEnd::ExitedUnseen { status } => format!(
            "exited (status {status}) without a word to benchmem: it exec'd a program benchmem \
             cannot enter (statically linked, setuid, another architecture) or one started \
             without LD_PRELOAD; measured up to the exec"
        ),
        SilentEnd::Exec(exec) => unfollowed(exec),
        SilentEnd::Detached => "still running when benchmem returned (it left the session, as \
             daemons do): measured up to then"
            .into(),
        SilentEnd::Lingering { linger } => format!(
            "still running when benchmem stopped waiting, {} s after the command ended: \
             measured up to then",
            linger.as_secs_f64()
        ),
        SilentEnd::Running => "still running when benchmem returned: measured up to then".into(),
        SilentEnd::Vanished => "ended without a word to benchmem, reaped by a parent benchmem \
             does not see (killed, crashed, or it exec'd a program benchmem cannot enter): \
             measured up to then"
            .into(),
    }
}

fn unfollowed(exec: &UnfollowedExec) -> String {
    let shown = if exec.cut {
        format!("{}...", exec.program)
    } else {
        exec.program.clone()
    };
    let why = match exec.why {
        Unfollowable::SanitizerUnpreloaded(s) => {
            let (article, name) = sanitizer_words(s);
            return format!(
                "exec'd {shown}, {article} {name} build: its runtime replaces the allocator and \
                 must be loaded first, so benchmem ran it without the preload and it is not \
                 measured; measured up to the exec"
            );
        }
        Unfollowable::Scrubbed(var) => {
            let var = match var {
                LostVariable::Preload => "LD_PRELOAD",
                LostVariable::Dir => "BENCHMEM_DIR",
            };
            return format!(
                "its environment no longer carries {var} (exec'd {shown} with a scrubbed \
                 environment, e.g. env -i): benchmem cannot follow it; measured up to the exec"
            );
        }
        Unfollowable::Static => "a statically linked program benchmem cannot enter".into(),
        Unfollowable::Privileged => "a setuid/setgid program (or one with file capabilities), \
             for which the loader ignores LD_PRELOAD"
            .into(),
        Unfollowable::OtherAbi(abi) => format!(
            "a {} program the preload (built for this machine's 64-bit ABI) cannot enter",
            abi.adjective()
        ),
        Unfollowable::Sanitizer(s) => {
            let (article, name) = sanitizer_words(s);
            format!("{article} {name} build")
        }
        Unfollowable::Gone => {
            "which was gone when the run ended (so it could not be checked)".into()
        }
        Unfollowable::PathTooLong => {
            "a program benchmem could not check (its path is too long)".into()
        }
        Unfollowable::NeverReported => "which never reported to benchmem (killed before it \
             started, or it could not load the preload)"
            .into(),
    };
    format!("exec'd {shown}, {why}; measured up to the exec")
}

/// A sanitizer's name and the article before it: `("an", "AddressSanitizer")`.
fn sanitizer_words(s: Sanitizer) -> (&'static str, &'static str) {
    match s {
        Sanitizer::Address => ("an", "AddressSanitizer"),
        Sanitizer::HwAddress => ("an", "HWAddressSanitizer"),
        Sanitizer::Thread => ("a", "ThreadSanitizer"),
        Sanitizer::Memory => ("a", "MemorySanitizer"),
        Sanitizer::Leak => ("a", "LeakSanitizer"),
        Sanitizer::Unknown => ("a", "sanitizer"),
    }
}

/// `SIGTERM (signal 15)`: the name people grep for, and the number.
fn signal_name(sig: i32) -> String {
    const NAMES: [&str; 31] = [
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    match usize::try_from(sig)
        .ok()
        .and_then(|i| NAMES.get(i.wrapping_sub(1)))
    {
        Some(name) => format!("{name} (signal {sig})"),
        None => format!("signal {sig}"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn signals_by_name() {
        assert_eq!(signal_name(15), "SIGTERM (signal 15)");
        assert_eq!(signal_name(13), "SIGPIPE (signal 13)");
        assert_eq!(signal_name(1), "SIGHUP (signal 1)");
        assert_eq!(signal_name(31), "SIGSYS (signal 31)");
        assert_eq!(signal_name(34), "signal 34");
        assert_eq!(signal_name(0), "signal 0");
    }

    #[test]
    fn incomplete_samples_in_words() {
        let killed = SilentEnd::Killed { signal: 9 };
        assert_eq!(
            incomplete(&Incomplete::NeverClosed(Some(killed.clone()))),
            "region never closed: killed by SIGKILL (signal 9): measured up to then"
        );
        assert_eq!(incomplete(&Incomplete::Ended(killed)).as_str(), {
            "killed by SIGKILL (signal 9): measured up to then"
        });
        let exec = |why, cut| {
            incomplete(&Incomplete::Ended(SilentEnd::Exec(UnfollowedExec {
                program: "/opt/a is b".into(),
                cut,
                why,
            })))
        };
        assert_eq!(
            exec(Unfollowable::Sanitizer(Sanitizer::Address), false),
            "exec'd /opt/a is b, an AddressSanitizer build; measured up to the exec"
        );
        assert_eq!(
            exec(Unfollowable::Scrubbed(LostVariable::Dir), true),
            "its environment no longer carries BENCHMEM_DIR (exec'd /opt/a is b... with a \
             scrubbed environment, e.g. env -i): benchmem cannot follow it; measured up to the exec"
        );
        assert_eq!(
            incomplete(&Incomplete::Ended(SilentEnd::Lingering {
                linger: Duration::from_millis(2500)
            })),
            "still running when benchmem stopped waiting, 2.5 s after the command ended: \
             measured up to then"
        );
    }

    fn stopped_at(stop: Stop, ran: usize, asked: usize) -> Option<String> {
        stopped(&RunResult {
            command: vec!["sh".into()],
            repeats: ran,
            series: vec![],
            exit: Exit::Code(0),
            started: std::time::UNIX_EPOCH,
            notes: vec![],
            asked,
            failed: vec![],
            stopped: Some(stop),
            main: None,
            timeline: vec![],
            stacks: None,
        })
    }

    #[test]
    fn why_a_run_stopped() {
        let failed = |k, exit| Stop::Failed {
            round: Round::Repeat(k),
            exit,
        };
        assert_eq!(
            stopped_at(failed(1, Exit::Code(1)), 2, 4).unwrap(),
            "stopped after repeat 2 of 4: the command exited with status 1; --ignore-failure \
             to go on"
        );
        assert_eq!(
            stopped_at(failed(0, Exit::Signal(11)), 1, 3).unwrap(),
            "stopped after repeat 1 of 3: the command was killed by SIGSEGV (signal 11); \
             --ignore-failure to go on"
        );
        // The last repeat failing cut nothing short: how it ended is said elsewhere.
        assert_eq!(stopped_at(failed(3, Exit::Code(1)), 4, 4), None);
        let hook = |hook, round| Stop::HookFailed {
            hook,
            round,
            exit: Exit::Code(3),
        };
        assert_eq!(
            stopped_at(hook(Hook::Prepare, Round::Warmup(0)), 0, 2).unwrap(),
            "stopped before warmup run 1: the --prepare command exited with status 3"
        );
        assert_eq!(
            stopped_at(hook(Hook::Cleanup, Round::Repeat(1)), 2, 5).unwrap(),
            "stopped after repeat 2 of 5: the --cleanup command exited with status 3"
        );
        assert_eq!(
            stop_code(&hook(Hook::Cleanup, Round::Repeat(1))),
            "cleanup_failed"
        );
    }

    #[test]
    fn notes_in_words() {
        assert_eq!(
            note(&Note::Detached { pids: vec![7, 8] }),
            "2 process(es) left the session (daemons) and were not waited for: pid 7, 8; \
             their rows are measured up to benchmem's return"
        );
        assert_eq!(
            note(&Note::Process {
                pid: 3,
                problem: Problem::Unprotected {
                    name: "java".into(),
                    bytes: 16 << 20
                }
            }),
            "pid 3: java: 16.0 MiB of PROT_NONE reservations were made accessible with \
             mprotect (a runtime managing its own heap): that memory is not counted"
        );
        assert_eq!(
            note(&Note::Process {
                pid: 3,
                problem: Problem::NewBypassesMalloc { owner: None }
            }),
            "pid 3: C++ operator new/delete here are the allocator's own (jemalloc or tcmalloc \
             built with C++ support), which bypass malloc: any C++ new/delete was not counted \
             (a pure C program is unaffected)"
        );
    }
}
