//! How a child ended, as its parent saw it.
//!
//! A process killed by a signal (SIGTERM from `Pool.terminate()`, SIGPIPE in a pipeline)
//! cannot tell its state file anything. Its parent learns the wait status when it reaps
//! it, and when the parent runs under the preload too, its `wait` family call writes that
//! status into the child's newest state file (`Header::reaped`), so the launcher can say
//! "killed by SIGPIPE" instead of guessing. The launcher reaps orphans itself and knows
//! their status without this.
//!
//! The hooks call the real functions first (they stay cancellation points and keep every
//! semantic) and then do a few file operations on a state file of this run, only when a
//! child was actually reaped: one `open`/`pwrite`/`close` per process ended, beside the
//! fork and exit it pairs with.

use core::ffi::{c_int, c_void};

use crate::{real, statefile, sys};

/// What a hook returns when libc lacks the function (never on glibc): -1 with ENOSYS.
fn unavailable<T: From<i8>>() -> T {
    sys::set_errno(libc::ENOSYS);
    T::from(-1)
}

/// Writes `status` into the newest state file of `pid` in this run, if there is one.
fn record(pid: libc::pid_t, status: c_int) {
    if pid > 0 {
        statefile::set_reaped(pid as u32, status);
    }
}

/// Records the outcome of a call that returned `pid` with `status` (null: not asked).
///
/// # Safety
/// `status` is null or points to the status the real call just wrote.
unsafe fn after(pid: libc::pid_t, status: *const c_int) {
    if pid > 0 && !status.is_null() {
        // SAFETY: caller's contract.
        let s = unsafe { *status };
        // Stopped or continued children are not ended.
        if libc::WIFEXITED(s) || libc::WIFSIGNALED(s) {
            record(pid, s);
            crate::exec::reclaim(pid);
        }
    }
}

/// `wait4`, recording the status of a child it reaps.
///
/// # Safety
/// As `wait4(2)`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub unsafe extern "C" fn wait4(
    pid: libc::pid_t,
    status: *mut c_int,
    options: c_int,
    rusage: *mut c_void,
) -> libc::pid_t {
    let Some(real) = real::resolve().and_then(|r| r.wait4) else {
        return unavailable();
    };
    // A caller that passes no status still reaps: ask for it ourselves.
    let mut own = 0;
    let out = if status.is_null() { &mut own } else { status };
    // SAFETY: forwarding the caller's arguments (out is valid).
    let r = unsafe { real(pid, out, options, rusage) };
    // SAFETY: out holds what the real call wrote when r > 0.
    unsafe { after(r, out) };
    r
}

/// `waitpid`, recording the status of a child it reaps.
///
/// # Safety
/// As `waitpid(2)`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub unsafe extern "C" fn waitpid(
    pid: libc::pid_t,
    status: *mut c_int,
    options: c_int,
) -> libc::pid_t {
    let Some(real) = real::resolve().and_then(|r| r.waitpid) else {
        return unavailable();
    };
    let mut own = 0;
    let out = if status.is_null() { &mut own } else { status };
    // SAFETY: forwarding the caller's arguments (out is valid).
    let r = unsafe { real(pid, out, options) };
    // SAFETY: as in `wait4`.
    unsafe { after(r, out) };
    r
}

/// `wait`, recording the status of the child it reaps.
///
/// # Safety
/// As `wait(2)`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub unsafe extern "C" fn wait(status: *mut c_int) -> libc::pid_t {
    let Some(real) = real::resolve().and_then(|r| r.wait) else {
        return unavailable();
    };
    let mut own = 0;
    let out = if status.is_null() { &mut own } else { status };
    // SAFETY: forwarding the caller's argument (out is valid).
    let r = unsafe { real(out) };
    // SAFETY: as in `wait4`.
    unsafe { after(r, out) };
    r
}

/// `wait3`, recording the status of a child it reaps.
///
/// # Safety
/// As `wait3(2)`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub unsafe extern "C" fn wait3(
    status: *mut c_int,
    options: c_int,
    rusage: *mut c_void,
) -> libc::pid_t {
    let Some(real) = real::resolve().and_then(|r| r.wait3) else {
        return unavailable();
    };
    let mut own = 0;
    let out = if status.is_null() { &mut own } else { status };
    // SAFETY: forwarding the caller's arguments (out is valid).
    let r = unsafe { real(out, options, rusage) };
    // SAFETY: as in `wait4`.
    unsafe { after(r, out) };
    r
}

/// `waitid`, recording the outcome of a child it reaps (or peeks at with `WNOWAIT`).
///
/// # Safety
/// As `waitid(2)`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub unsafe extern "C" fn waitid(
    idtype: libc::idtype_t,
    id: libc::id_t,
    info: *mut libc::siginfo_t,
    options: c_int,
) -> c_int {
    let Some(real) = real::resolve().and_then(|r| r.waitid) else {
        return unavailable();
    };
    // SAFETY: forwarding the caller's arguments.
    let r = unsafe { real(idtype, id, info, options) };
    if r == 0 && !info.is_null() {
        // SAFETY: the real call filled *info; si_pid/si_status are valid for SIGCHLD.
        let (code, pid, st) = unsafe { ((*info).si_code, (*info).si_pid(), (*info).si_status()) };
        // Rebuild the wait status the other calls would have given.
        let status = match code {
            libc::CLD_EXITED => Some((st & 0xff) << 8),
            libc::CLD_KILLED => Some(st & 0x7f),
            libc::CLD_DUMPED => Some((st & 0x7f) | 0x80),
            _ => None,
        };
        if let Some(s) = status {
            record(pid, s);
            crate::exec::reclaim(pid);
        }
    }
    r
}
