//! Signals sent to benchmem go to the command, as `time`, `strace` and hyperfine pass
//! them on: `kill -TERM <benchmem>` ends the program, and benchmem stays to report what
//! was measured and to write the run.
//!
//! A signal the terminal sent (Ctrl-C, Ctrl-\, a hangup) reached the command's whole
//! process group already, the command included: it is not sent twice. Signals benchmem
//! was started with ignored (`nohup` ignores SIGHUP) stay ignored, by benchmem and by the
//! command.

use std::sync::atomic::{AtomicI32, AtomicU64, Ordering::SeqCst};

use crate::inherit::Inherited;

/// The signals passed on.
pub const FORWARDED: [i32; 4] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT];

/// The command's pid while it runs (0: none yet; a signal then waits in `PENDING`).
static CHILD: AtomicI32 = AtomicI32::new(0);
/// Bit `sig`: received before there was a command to pass it to.
static PENDING: AtomicU64 = AtomicU64::new(0);
/// Bit `sig`: received while installed (terminal signals included).
static RECEIVED: AtomicU64 = AtomicU64::new(0);

/// `si_code` of a signal the kernel generated itself (terminal keys, hangup).
const SI_KERNEL: i32 = 0x80;

extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: this thread's errno slot; kill may change it and the interrupted code must
    // not notice.
    let errno = unsafe { *libc::__errno_location() };
    RECEIVED.fetch_or(1 << sig, SeqCst);
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let from_terminal = !info.is_null() && unsafe { (*info).si_code } == SI_KERNEL;
    if !from_terminal {
        match CHILD.load(SeqCst) {
            0 => {
                PENDING.fetch_or(1 << sig, SeqCst);
            }
            pid if pid > 0 => {
                // SAFETY: kill is async-signal-safe; pid is the command's, never 0 or -1.
                unsafe { libc::kill(pid, sig) };
            }
            _ => {} // the command is gone
        }
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// Handlers installed for the life of one run of the command; the previous dispositions
/// come back on drop.
pub struct Forwarding {
    old: Vec<(i32, libc::sigaction)>,
}

impl Forwarding {
    /// Starts catching [`FORWARDED`] (except those `inherited` ignores).
    pub fn install(inherited: &Inherited) -> Forwarding {
        CHILD.store(0, SeqCst);
        PENDING.store(0, SeqCst);
        RECEIVED.store(0, SeqCst);
        let mut old = Vec::new();
        for sig in FORWARDED {
            if inherited.ignores(sig) {
                continue;
            }
            // SAFETY: sigaction is plain data; the handler only touches atomics, errno
            // and kill, all async-signal-safe.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_signal as *const () as usize;
                sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
                libc::sigemptyset(&mut sa.sa_mask);
                let mut prev: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, &sa, &mut prev) == 0 {
                    old.push((sig, prev));
                }
            }
        }
        Forwarding { old }
    }

    /// The command is running as `pid`: pass on what arrived before it existed.
    pub fn started(&self, pid: u32) {
        CHILD.store(pid as i32, SeqCst);
        let pending = PENDING.swap(0, SeqCst);
        for sig in FORWARDED {
            if pending & (1 << sig) != 0 {
                // SAFETY: plain kill of our own child.
                unsafe { libc::kill(pid as i32, sig) };
            }
        }
    }

    /// The command has been reaped: nothing to pass signals to any more.
    pub fn ended(&self) {
        CHILD.store(-1, SeqCst);
    }

    /// The forwarded signals received so far, lowest first.
    pub fn received(&self) -> Vec<i32> {
        let got = RECEIVED.load(SeqCst);
        FORWARDED
            .into_iter()
            .filter(|s| got & (1 << s) != 0)
            .collect()
    }
}

impl Drop for Forwarding {
    fn drop(&mut self) {
        CHILD.store(0, SeqCst);
        for (sig, prev) in &self.old {
            // SAFETY: restores the disposition saved at install.
            unsafe { libc::sigaction(*sig, prev, std::ptr::null_mut()) };
        }
    }
}
