//! What benchmem itself was started with, so the command starts with exactly that.
//!
//! Rust's runtime changes two things before `main`: it opens `/dev/null` on a closed fd
//! 0, 1 or 2, and it ignores SIGPIPE. A program run under benchmem must not see either:
//! `/bin/echo hi >&-` fails natively because its stdout is closed, and must fail the same
//! way under benchmem. [`capture`] runs from the binary's `.init_array`, before the
//! runtime's changes, and records the descriptors that were closed, the signals that
//! were ignored and the signal mask; [`Inherited::apply`] restores them in the child just
//! before exec.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering::Relaxed};

static CAPTURED: AtomicBool = AtomicBool::new(false);
/// Bit `fd` set: standard descriptor `fd` was closed.
static CLOSED_STD: AtomicU8 = AtomicU8::new(0);
/// Bit `sig - 1` set: signal `sig` was ignored.
static IGNORED: AtomicU64 = AtomicU64::new(0);
/// The blocked signals (kernel sigset: bit `sig - 1`).
static MASK: AtomicU64 = AtomicU64::new(0);

/// Highest signal number the kernel knows (x86_64 and aarch64: 64).
const NSIG: i32 = 64;
/// The kernel's `sigset_t` size, for the raw `rt_sig*` system calls.
const KERNEL_SIGSET: usize = 8;

/// The kernel's `struct sigaction` for `rt_sigaction` (not libc's, which is larger).
#[repr(C)]
#[derive(Default)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

/// Records the process's standard descriptors, ignored signals and signal mask as the
/// parent left them. Call it first thing, before Rust's runtime starts (from the binary's
/// `.init_array`); async-signal-safe, allocates nothing.
pub extern "C" fn capture() {
    let mut closed = 0u8;
    for fd in 0..3 {
        // SAFETY: F_GETFD only reads the descriptor's flags.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
            closed |= 1 << fd;
        }
    }
    let mut ignored = 0u64;
    for sig in 1..=NSIG {
        let mut old = KernelSigaction::default();
        // SAFETY: a query (null new action) into a kernel-layout struct of ours.
        let r = unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                std::ptr::null::<KernelSigaction>(),
                &mut old as *mut KernelSigaction,
                KERNEL_SIGSET,
            )
        };
        if r == 0 && old.handler == libc::SIG_IGN {
            ignored |= 1 << (sig - 1);
        }
    }
    let mut mask = 0u64;
    // SAFETY: a query (null new set) of this thread's mask into a u64.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_BLOCK,
            std::ptr::null::<u64>(),
            &mut mask as *mut u64,
            KERNEL_SIGSET,
        )
    };
    CLOSED_STD.store(closed, Relaxed);
    IGNORED.store(ignored, Relaxed);
    MASK.store(mask, Relaxed);
    CAPTURED.store(true, Relaxed);
}

/// The state to give the command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inherited {
    closed_std: u8,
    ignored: u64,
    mask: u64,
}

impl Inherited {
    /// What [`capture`] recorded; without it (benchmem used as a library), the current
    /// state with the two changes Rust's runtime is known to make undone as the
    /// standard library's own spawn undoes them (SIGPIPE back to default).
    pub fn get() -> Inherited {
        if !CAPTURED.load(Relaxed) {
            capture();
            IGNORED.fetch_and(!(1 << (libc::SIGPIPE - 1)), Relaxed);
        }
        Inherited {
            closed_std: CLOSED_STD.load(Relaxed),
            ignored: IGNORED.load(Relaxed),
            mask: MASK.load(Relaxed),
        }
    }

    /// The same, except that standard descriptor `fd` is given to the command (a file for
    /// its stdin, /dev/null for its stdout) and so must not be closed.
    pub fn giving(mut self, fd: i32) -> Inherited {
        self.closed_std &= !(1u8 << fd);
        self
    }

    /// Whether `sig` was ignored when benchmem started.
    pub fn ignores(&self, sig: i32) -> bool {
        (1..=NSIG).contains(&sig) && self.ignored & (1 << (sig - 1)) != 0
    }

    /// Gives the calling process exactly the inherited descriptors, dispositions and mask.
    /// Meant for the child between fork and exec: raw system calls only.
    pub fn apply(&self) -> std::io::Result<()> {
        for sig in 1..=NSIG {
            if sig == libc::SIGKILL || sig == libc::SIGSTOP {
                continue;
            }
            // Handlers do not survive exec: what remains is default or ignored.
            let act = KernelSigaction {
                handler: if self.ignores(sig) {
                    libc::SIG_IGN
                } else {
                    libc::SIG_DFL
                },
                ..KernelSigaction::default()
            };
            // SAFETY: installs a plain default/ignore disposition, kernel layout.
            unsafe {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    &act as *const KernelSigaction,
                    std::ptr::null_mut::<KernelSigaction>(),
                    KERNEL_SIGSET,
                )
            };
        }
        // SAFETY: sets this thread's mask from a u64 kernel sigset.
        let r = unsafe {
            libc::syscall(
                libc::SYS_rt_sigprocmask,
                libc::SIG_SETMASK,
                &self.mask as *const u64,
                std::ptr::null_mut::<u64>(),
                KERNEL_SIGSET,
            )
        };
        if r != 0 {
            return Err(std::io::Error::last_os_error());
        }
        for fd in 0..3 {
            if self.closed_std & (1 << fd) != 0 {
                // SAFETY: closes a descriptor the runtime opened in our stead.
                unsafe { libc::close(fd) };
            }
        }
        Ok(())
    }
}
