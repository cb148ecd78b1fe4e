//! Starting the command, waiting for it and for every descendant it leaves behind.

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::sync::Once;
use std::time::{Duration, Instant};

use crate::{Exit, RunError};

/// How the command and its descendants ended.
pub struct Ended {
    /// The command's own exit.
    pub exit: Exit,
    /// Descendants still running when we stopped waiting.
    pub stragglers: usize,
    /// The command's pid.
    pub pid: u32,
}

/// Runs `command` with `env` added, waits for it, then reaps its orphaned descendants for
/// up to `linger`.
pub fn run(
    command: &[OsString],
    env: &[(&str, OsString)],
    linger: Duration,
) -> Result<Ended, RunError> {
    become_subreaper();
    let shown = || command[0].to_string_lossy().into_owned();
    let mut cmd = Command::new(&command[0]);
    cmd.args(&command[1..]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let _quiet = IgnoreInterrupts::install();
    let mut child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => RunError::NotFound(shown()),
        _ => RunError::Spawn(shown(), e),
    })?;
    let pid = child.id();
    let status = loop {
        match child.wait() {
            Ok(s) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(RunError::Spawn(shown(), e)),
        }
    };
    let exit = match (status.code(), status.signal()) {
        (Some(c), _) => Exit::Code(c),
        (None, Some(s)) => Exit::Signal(s),
        (None, None) => Exit::Code(1),
    };
    Ok(Ended {
        exit,
        stragglers: reap_descendants(linger),
        pid,
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

/// Reaps descendants until none is left or `linger` passes; returns how many remain.
fn reap_descendants(linger: Duration) -> usize {
    let deadline = Instant::now() + linger;
    loop {
        let mut status = 0;
        // SAFETY: waitpid with a valid out-pointer.
        let r = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if r > 0 {
            continue;
        }
        if r < 0 {
            // SAFETY: errno of the failed call.
            let e = unsafe { *libc::__errno_location() };
            if e == libc::EINTR {
                continue;
            }
            return 0; // ECHILD: nobody left
        }
        if Instant::now() >= deadline {
            return count_children();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn count_children() -> usize {
    let me = std::process::id().to_string();
    let path = format!("/proc/{me}/task/{me}/children");
    std::fs::read_to_string(path).map_or(1, |s| s.split_whitespace().count())
}

/// While the command runs, Ctrl-C and Ctrl-\ are for the command (it gets them from the
/// terminal too); we stay to report. A handler (not SIG_IGN) so the child, at exec, gets
/// the default disposition back.
struct IgnoreInterrupts {
    old: [(libc::c_int, libc::sigaction); 2],
}

extern "C" fn ignore(_: libc::c_int) {}

impl IgnoreInterrupts {
    fn install() -> IgnoreInterrupts {
        let mut old: [(libc::c_int, libc::sigaction); 2] =
            // SAFETY: sigaction is plain data.
            unsafe { [(libc::SIGINT, std::mem::zeroed()), (libc::SIGQUIT, std::mem::zeroed())] };
        for (sig, prev) in old.iter_mut() {
            // SAFETY: installing a handler that does nothing.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = ignore as extern "C" fn(libc::c_int) as usize;
                sa.sa_flags = libc::SA_RESTART;
                libc::sigaction(*sig, &sa, prev);
            }
        }
        IgnoreInterrupts { old }
    }
}

impl Drop for IgnoreInterrupts {
    fn drop(&mut self) {
        for (sig, prev) in &self.old {
            // SAFETY: restoring what was there.
            unsafe { libc::sigaction(*sig, prev, std::ptr::null_mut()) };
        }
    }
}
