//! The life of a process image under the preload: start, fork, exec, exit (`_exit` and
//! `_Exit` are hooked here).
//!
//! Each image gets its own state file `s-<pid>-<image>` in the run directory, mapped
//! shared and closed at once (no fd for the program to trip over). A fork child starts a
//! fresh file and fresh root counters; an exec'd image finds its predecessor's file (same
//! pid, previous image number) and marks it exec'd, which covers every exec variant
//! without hooking them. Nothing is ever torn down: other threads and libc's own
//! destructors still allocate after our exit handler runs.

use core::ffi::{c_char, c_int, c_void};
use core::sync::atomic::{AtomicBool, Ordering::Relaxed};

use benchmem_wire::names::{self, write_decimal, ENV_DIR, ENV_DISABLE, ENV_REGION, NAME_CAP};
use benchmem_wire::state::{
    set_field, Header, ProcessState, EXEC_PATH_CUT, MAGIC, PROBLEM_NEW_BYPASSES_MALLOC, STATE_SIZE,
    STATUS_EXECED, STATUS_EXITED, STATUS_RUNNING, VERSION,
};

use crate::real::{self, Real};
use crate::{bookkeeping, channel, hot, regions, sys, tls};

/// Run directory path, NUL-terminated (empty when not under the launcher).
static mut DIR: [u8; 512] = [0; 512];
static mut DIR_LEN: usize = 0;
static STARTED: AtomicBool = AtomicBool::new(false);
/// C++ `operator new` bypasses malloc in this process image (see [`new_bypasses_malloc`]).
static NEW_BYPASS: AtomicBool = AtomicBool::new(false);

extern "C" {
    static program_invocation_short_name: *const c_char;
    fn on_exit(f: extern "C" fn(c_int, *mut c_void), arg: *mut c_void) -> c_int;
}

fn env(name: &str) -> Option<&'static [u8]> {
    let mut buf = [0u8; 64];
    buf[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: getenv reads the environment without allocating; the pointer stays valid
    // unless the program changes that variable, which ours are not meant for.
    unsafe {
        let p = libc::getenv(buf.as_ptr() as *const c_char);
        if p.is_null() {
            None
        } else {
            Some(core::ffi::CStr::from_ptr(p).to_bytes())
        }
    }
}

/// The run directory (empty when not under the launcher).
pub fn run_dir() -> &'static [u8] {
    dir()
}

fn dir() -> &'static [u8] {
    // SAFETY: written once in `start`, before threads can observe tracking.
    unsafe { &(&*core::ptr::addr_of!(DIR))[..DIR_LEN] }
}

/// Begins tracking this process image (from the constructor). Idempotent.
pub fn start() {
    if STARTED.swap(true, Relaxed) {
        return;
    }
    let Some(real) = real::resolve() else {
        return;
    };
    if env(ENV_DISABLE) == Some(b"1") {
        return;
    }
    crate::exec::init();
    crate::blind::init();
    NEW_BYPASS.store(new_bypasses_malloc(real), Relaxed);
    if let Some(d) = env(ENV_DIR) {
        if !d.is_empty() && d.len() < 400 {
            // SAFETY: single-threaded constructor.
            unsafe {
                (&mut *core::ptr::addr_of_mut!(DIR))[..d.len()].copy_from_slice(d);
                DIR_LEN = d.len();
            }
            channel::setup(d);
        }
    }
    let st = new_state();
    if st.is_null() {
        return;
    }
    // SAFETY: registering handlers; our handlers never allocate.
    unsafe {
        libc::pthread_atfork(
            Some(bookkeeping::fork_prepare),
            Some(bookkeeping::fork_parent),
            Some(after_fork_child),
        );
        on_exit(at_exit, core::ptr::null_mut());
    }
    hot::publish(st);
}

/// Maps and initialises a state file for this process image (anonymous memory when not
/// under the launcher or when the file cannot be made).
fn new_state() -> *mut ProcessState {
    // SAFETY: getpid/getppid cannot fail.
    let (pid, ppid) = unsafe { (libc::getpid() as u32, libc::getppid() as u32) };
    let (mut mem, mut image) = (core::ptr::null_mut(), 0u32);
    if !dir().is_empty() {
        (mem, image) = state_file(pid);
    }
    if mem.is_null() {
        mem = sys::map(STATE_SIZE);
    }
    if mem.is_null() {
        return core::ptr::null_mut();
    }
    // SAFETY: fresh zeroed mapping of STATE_SIZE bytes, all-zero is a valid state.
    let st = unsafe { &*(mem as *const ProcessState) };
    let h = &st.header;
    h.version.store(VERSION, Relaxed);
    h.status.store(STATUS_RUNNING, Relaxed);
    h.pid.store(pid, Relaxed);
    h.ppid.store(ppid, Relaxed);
    h.image.store(image, Relaxed);
    h.start_ns.store(sys::now_ns(), Relaxed);
    let name = env(ENV_REGION)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(program_name);
    // SAFETY: not yet shared with anyone who reads it.
    let len = unsafe { names::fit_name(name, &mut *h.name.get()) };
    h.name_len.store(len as u32, Relaxed);
    if NEW_BYPASS.load(Relaxed) {
        h.problems.fetch_or(PROBLEM_NEW_BYPASSES_MALLOC, Relaxed);
    }
    crate::blind::stamp(h);
    regions::init_state(st, name);
    h.magic.store(MAGIC, core::sync::atomic::Ordering::Release);
    mem as *mut ProcessState
}

/// True when a C++ runtime is loaded and `operator new` lives in the same object as the
/// malloc we call through (jemalloc or tcmalloc built with C++ support export both, as do
/// mimalloc's override library and the sanitizer runtimes): then
/// `new`/`delete` reach that allocator directly and our malloc hooks never see them.
/// (libstdc++'s own `operator new` calls malloc through the PLT and is counted.)
fn new_bypasses_malloc(real: &Real) -> bool {
    // dlsym and dladdr may allocate: not the program's allocations.
    let _g = tls::Guard::enter();
    // SAFETY: dlsym on NUL-terminated names; same_object under the guard.
    unsafe {
        let new = libc::dlsym(libc::RTLD_DEFAULT, c"_Znwm".as_ptr());
        let cxx_runtime = libc::dlsym(libc::RTLD_DEFAULT, c"_ZSt9terminatev".as_ptr());
        let bypass = !cxx_runtime.is_null() && real::same_object(new, real.malloc as *const c_void);
        if bypass {
            crate::blind::set_new_owner(new);
        }
        bypass
    }
}

fn program_name() -> &'static [u8] {
    // SAFETY: glibc sets this before any constructor runs.
    unsafe {
        let p = program_invocation_short_name;
        if p.is_null() {
            b"process"
        } else {
            core::ffi::CStr::from_ptr(p).to_bytes()
        }
    }
}

/// `<dir>/s-<pid>-<image>` NUL-terminated into `buf`.
pub(crate) fn state_path(buf: &mut [u8; 512], pid: u32, image: u32) -> *const c_char {
    let d = dir();
    let mut n = d.len();
    buf[..n].copy_from_slice(d);
    buf[n] = b'/';
    n += 1;
    let prefix = names::STATE_PREFIX.as_bytes();
    buf[n..n + prefix.len()].copy_from_slice(prefix);
    n += prefix.len();
    n += write_decimal(pid as u64, &mut buf[n..]);
    buf[n] = b'-';
    n += 1;
    n += write_decimal(image as u64, &mut buf[n..]);
    buf[n] = 0;
    buf.as_ptr() as *const c_char
}

/// Creates this image's state file; marks earlier images of the same pid as exec'd.
fn state_file(pid: u32) -> (*mut u8, u32) {
    sys::keep_errno(|| {
        let mut buf = [0u8; 512];
        for image in 0..4096u32 {
            let path = state_path(&mut buf, pid, image);
            // SAFETY: path is NUL-terminated; open/ftruncate/close do not allocate.
            let fd = unsafe {
                libc::open(
                    path,
                    libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
                    0o600,
                )
            };
            if fd < 0 {
                // SAFETY: errno of the failed open.
                if unsafe { *libc::__errno_location() } == libc::EEXIST {
                    mark_execed(path, pid);
                    continue;
                }
                return (core::ptr::null_mut(), 0);
            }
            // SAFETY: fd is the file we just created.
            let mem = unsafe {
                let ok = libc::ftruncate(fd, STATE_SIZE as libc::off_t) == 0;
                let m = if ok {
                    sys::map_shared(fd, STATE_SIZE)
                } else {
                    core::ptr::null_mut()
                };
                libc::close(fd);
                m
            };
            return (mem, image);
        }
        (core::ptr::null_mut(), 0)
    })
}

/// The state file of a vfork child about to exec (see [`crate::exec`]): created for the
/// child's own pid so the launcher gets a row for it, as for a fork child, should the
/// program it execs never report. Never mapped: a mapping made in a vfork child would be
/// its parent's. The header is built on the stack and written with `pwrite`; the rest of
/// the file stays zero (no allocations, no regions). An exec'd image that loads the
/// preload marks it exec'd like any predecessor, and the launcher drops it then.
///
/// `parent` is the state the child shares with its parent (its name becomes the row's).
/// Returns the file's path, NUL-terminated in `out`, for the hook to unlink should the
/// exec fail; false when no file could be made.
pub(crate) fn vfork_child_state(
    parent: &Header,
    exec_path: &[u8],
    exec_flags: u32,
    out: &mut [u8; 512],
) -> bool {
    /// The header's bytes, aligned as the header.
    #[repr(C, align(64))]
    struct Raw([u8; size_of::<Header>()]);

    if dir().is_empty() {
        return false;
    }
    sys::keep_errno(|| {
        // SAFETY: raw system calls; the cached getpid would be the parent's here.
        let (pid, ppid) = unsafe {
            (
                libc::syscall(libc::SYS_getpid) as u32,
                libc::syscall(libc::SYS_getppid) as u32,
            )
        };
        for image in 0..4096u32 {
            let path = state_path(out, pid, image);
            // SAFETY: path is NUL-terminated; open does not allocate.
            let fd = unsafe {
                libc::open(
                    path,
                    libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
                    0o600,
                )
            };
            if fd < 0 {
                // SAFETY: errno of the failed open.
                if unsafe { *libc::__errno_location() } == libc::EEXIST {
                    continue; // an earlier process of this pid: not ours to mark
                }
                return false;
            }
            let mut raw = Raw([0; size_of::<Header>()]);
            {
                // SAFETY: `raw` is aligned and sized as a Header, and all-zero bytes are a
                // valid one (atomics and byte arrays); it is written through atomics and
                // the name and path fields only, and read as bytes once this ends.
                let h = unsafe { &*(raw.0.as_mut_ptr() as *const Header) };
                h.magic.store(MAGIC, Relaxed);
                h.version.store(VERSION, Relaxed);
                h.status.store(STATUS_RUNNING, Relaxed);
                h.pid.store(pid, Relaxed);
                h.ppid.store(ppid, Relaxed);
                h.image.store(image, Relaxed);
                h.start_ns.store(sys::now_ns(), Relaxed);
                let name = {
                    let len = (parent.name_len.load(Relaxed) as usize).min(NAME_CAP);
                    // SAFETY: the parent's name, written before its state was published.
                    unsafe { &(&*parent.name.get())[..len] }
                };
                // SAFETY: our own buffer, not shared with anyone yet.
                unsafe { (&mut *h.name.get())[..name.len()].copy_from_slice(name) };
                h.name_len.store(name.len() as u32, Relaxed);
                let cut = if set_field(&h.exec_len, &h.exec_path, exec_path) {
                    0
                } else {
                    EXEC_PATH_CUT
                };
                h.exec_flags.store(exec_flags | cut, Relaxed);
            }
            // SAFETY: fd is the file we just created; the buffer is ours and initialised.
            let ok = unsafe {
                let ok = libc::ftruncate(fd, STATE_SIZE as libc::off_t) == 0
                    && libc::pwrite(fd, raw.0.as_ptr().cast(), raw.0.len(), 0)
                        == raw.0.len() as isize;
                libc::close(fd);
                if !ok {
                    libc::unlink(path);
                }
                ok
            };
            return ok;
        }
        false
    })
}

/// An earlier image of this pid still marked running was replaced by exec.
fn mark_execed(path: *const c_char, pid: u32) {
    // SAFETY: maps an existing state file of this run.
    unsafe {
        let fd = libc::open(path, libc::O_RDWR | libc::O_CLOEXEC);
        if fd < 0 {
            return;
        }
        let m = sys::map_shared(fd, STATE_SIZE);
        libc::close(fd);
        if m.is_null() {
            return;
        }
        let st = &*(m as *const ProcessState);
        let h = &st.header;
        if st.is_valid() && h.pid.load(Relaxed) == pid && h.status.load(Relaxed) == STATUS_RUNNING {
            h.end_ns.store(sys::now_ns(), Relaxed);
            h.status.store(STATUS_EXECED, Relaxed);
        }
        sys::unmap(m, STATE_SIZE);
    }
}

/// Records that the process is exiting with `code` (exit, _exit, _Exit).
pub fn mark_exit(code: c_int) {
    let st = hot::state();
    if st.is_null() {
        return;
    }
    // SAFETY: the state stays mapped for the life of the process.
    let h = unsafe { &(*st).header };
    // A vfork child (or posix_spawn's helper) runs in its parent's memory, state
    // included, and leaves by _exit: that is not the parent's exit.
    // SAFETY: getpid cannot fail; a raw syscall, never a cached value.
    let me = unsafe { libc::syscall(libc::SYS_getpid) } as u32;
    if me != h.pid.load(Relaxed) {
        return;
    }
    if h.status.load(Relaxed) == STATUS_RUNNING {
        h.exit_code.store(code as u32, Relaxed);
        h.end_ns.store(sys::now_ns(), Relaxed);
        h.status.store(STATUS_EXITED, Relaxed);
    }
}

extern "C" fn at_exit(code: c_int, _arg: *mut c_void) {
    mark_exit(code);
}

/// Pid and image number of the current state (for events).
pub fn identity() -> (u32, u32) {
    let st = hot::state();
    if st.is_null() {
        return (0, 0);
    }
    // SAFETY: as in `mark_exit`.
    let h = unsafe { &(*st).header };
    (h.pid.load(Relaxed), h.image.load(Relaxed))
}

/// After `fork`, in the child: the locks are released and the child starts a state of
/// its own (the parent's stays the parent's).
extern "C" fn after_fork_child() {
    crate::exec::forget_leftovers();
    bookkeeping::fork_child();
    let old = hot::state();
    if old.is_null() {
        return;
    }
    // SAFETY: the child has one thread, this one.
    unsafe { (*tls::current()).slot = 0 };
    // A null state (no memory for a new one) stops tracking in the child.
    hot::publish(new_state());
    // The parent's file stays the parent's: drop our view of it.
    // SAFETY: nothing in the child uses the old mapping any more.
    unsafe { sys::unmap(old as *mut u8, STATE_SIZE) };
}

/// Whether samples are sent to a launcher (a run directory was given).
pub fn reporting() -> bool {
    !dir().is_empty()
}

// ---------------------------------------------------------------------------------------
// Exits that skip exit handlers still record how the process ended.

/// Shared body of _exit and _Exit (`pick` chooses which real one).
unsafe fn exit_now(code: c_int, pick: fn(&Real) -> Option<real::sig::_exit>) -> ! {
    mark_exit(code);
    if let Some(f) = real::get().and_then(pick) {
        f(code)
    }
    libc::syscall(libc::SYS_exit_group, code);
    core::hint::unreachable_unchecked()
}

/// # Safety
/// C `_exit`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn _exit(code: c_int) -> ! {
    exit_now(code, |r| r._exit)
}

/// # Safety
/// C `_Exit`.
#[cfg_attr(not(test), no_mangle)]
#[allow(non_snake_case)] // the C name
pub unsafe extern "C" fn _Exit(code: c_int) -> ! {
    exit_now(code, |r| r._Exit)
}
