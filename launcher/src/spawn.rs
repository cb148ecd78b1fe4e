//! Starting the command, waiting for it and for every descendant that is part of its
//! work.
//!
//! benchmem is a subreaper: orphans of the command come to it, so it can wait for them
//! and learn how each ended. A descendant that left the session (`setsid`, as daemons do)
//! is not part of the command's work: it is not waited for, and keeps running untouched.

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::Command;
use std::sync::Once;
use std::time::{Duration, Instant};

use crate::forward_signals::Forwarding;
use crate::inherit::Inherited;
use crate::{Exit, RunError};

/// How the command and its descendants ended.
pub struct Ended {
    /// The command's own exit.
    pub exit: Exit,
    /// The command's pid.
    pub pid: u32,
    /// Wait status of every descendant benchmem reaped itself (orphans), by pid.
    pub reaped: HashMap<u32, i32>,
    /// Descendants still running when benchmem stopped waiting.
    pub running: Vec<Straggler>,
    /// Signals sent to benchmem while the command ran, which it passed on.
    pub forwarded: Vec<i32>,
}

/// A descendant still running when benchmem returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Straggler {
    /// Its pid.
    pub pid: u32,
    /// It left the command's session (a daemon): never waited for.
    pub detached: bool,
}

/// What the command's standard descriptors are, when not benchmem's own.
#[derive(Debug, Default)]
pub struct Stdio {
    /// Its standard input (`--input`).
    pub stdin: Option<std::fs::File>,
    /// Its standard output goes to /dev/null (warmup runs).
    pub discard_stdout: bool,
}

/// Runs `command` with `env` added, waits for it, then for its descendants still in its
/// session, for up to `linger`.
pub fn run(
    command: &[OsString],
    env: &[(&str, OsString)],
    linger: Duration,
    stdio: Stdio,
) -> Result<Ended, RunError> {
    become_subreaper();
    let shown = || command[0].to_string_lossy().into_owned();
    let mut inherited = Inherited::get();
    let mut cmd = Command::new(&command[0]);
    cmd.args(&command[1..]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Some(f) = stdio.stdin {
        cmd.stdin(f);
        inherited = inherited.giving(0);
    }
    if stdio.discard_stdout {
        cmd.stdout(std::process::Stdio::null());
        inherited = inherited.giving(1);
    }
    // SAFETY: `apply` makes raw system calls only, which is what may run between fork
    // and exec. A pre-exec step also makes the standard library fork and `execvp`
    // (never posix_spawn), so a script without `#!` runs under /bin/sh as a shell runs it.
    unsafe { cmd.pre_exec(move || inherited.apply()) };
    let forwarding = Forwarding::install(&inherited);
    let mut child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => RunError::NotFound(shown()),
        _ => RunError::Spawn(shown(), e),
    })?;
    let pid = child.id();
    forwarding.started(pid);
    let status = loop {
        match child.wait() {
            Ok(s) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(RunError::Spawn(shown(), e)),
        }
    };
    forwarding.ended();
    let exit = match (status.code(), status.signal()) {
        (Some(c), _) => Exit::Code(c),
        (None, Some(s)) => Exit::Signal(s),
        (None, None) => Exit::Code(1),
    };
    // After a signal to benchmem the user wants out: report at once.
    let forwarded = forwarding.received();
    let linger = if forwarded.is_empty() {
        linger
    } else {
        Duration::ZERO
    };
    let (reaped, running) = reap_descendants(linger);
    Ok(Ended {
        exit,
        pid,
        reaped,
        running,
        forwarded,
    })
}

/// Orphans of the command are re-parented to us, so we can wait for all of them.
fn become_subreaper() {
    static ONCE: Once = Once::new();
    // SAFETY: prctl with integer arguments.
    ONCE.call_once(|| unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    });
}

/// Reaps descendants until none in our session is left or `linger` passes. Returns the
/// wait status of each one reaped and the ones still running.
fn reap_descendants(linger: Duration) -> (HashMap<u32, i32>, Vec<Straggler>) {
    let deadline = Instant::now() + linger;
    // SAFETY: getsid(0) asks for our own session.
    let session = unsafe { libc::getsid(0) };
    let mut reaped = HashMap::new();
    loop {
        let mut status = 0;
        // SAFETY: waitpid with a valid out-pointer.
        let r = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if r > 0 {
            reaped.insert(r as u32, status);
            continue;
        }
        if r < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return (reaped, Vec::new()); // ECHILD: nobody left
        }
        let running: Vec<Straggler> = children()
            .into_iter()
            .filter_map(|pid| {
                // SAFETY: getsid takes a plain pid.
                let sid = unsafe { libc::getsid(pid as libc::pid_t) };
                // -1: gone since the list was read (reaped by its own waiter).
                (sid != -1).then_some(Straggler {
                    pid,
                    detached: sid != session,
                })
            })
            .collect();
        if running.iter().all(|s| s.detached) || Instant::now() >= deadline {
            return (reaped, running);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Our children now (orphans re-parented to us), from every thread's list.
fn children() -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for t in tasks.flatten() {
        if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
            out.extend(s.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}
