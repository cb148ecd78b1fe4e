//! The life of a process image under the preload: start, fork, exec, exit (`_exit` and
//! `_Exit` are hooked here).
//!
//! Each image gets its own state file (see [`crate::statefile`]). A fork child starts a
//! fresh file and fresh root counters; an exec'd image finds its predecessor's file (same
//! pid, previous image number) and marks it exec'd, which covers every exec variant
//! without hooking them. Nothing is ever torn down: other threads and libc's own
//! destructors still allocate after our exit handler runs.

use core::ffi::{c_char, c_int, c_void};
use core::sync::atomic::{AtomicBool, Ordering::Relaxed};

use benchmem_wire::names::{ENV_DIR_C, ENV_DISABLE_C, ENV_REGION_C};
use benchmem_wire::state::{
    MAGIC, PROBLEM_NEW_BYPASSES_MALLOC, ProcessState, STATE_SIZE, STATUS_EXITED, STATUS_RUNNING,
};

use crate::real::{self, Real};
use crate::{bookkeeping, hot, regions, stackring, statefile, sys, tls};

static STARTED: AtomicBool = AtomicBool::new(false);
/// C++ `operator new` bypasses malloc in this process image (see [`new_bypasses_malloc`]).
static NEW_BYPASS: AtomicBool = AtomicBool::new(false);

unsafe extern "C" {
    static program_invocation_short_name: *const c_char;
    fn on_exit(f: extern "C" fn(c_int, *mut c_void), arg: *mut c_void) -> c_int;
}

/// Begins tracking this process image (from the constructor). Idempotent.
pub fn start() {
    if STARTED.swap(true, Relaxed) {
        return;
    }
    let Some(real) = real::resolve() else {
        return;
    };
    if sys::getenv(ENV_DISABLE_C) == Some(b"1") {
        return;
    }
    crate::exec::init();
    crate::blind::init();
    crate::python_frames::init();
    NEW_BYPASS.store(new_bypasses_malloc(real), Relaxed);
    if let Some(d) = sys::getenv(ENV_DIR_C) {
        statefile::set_run_dir(d);
    }
    crate::stacks::init();
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
    if statefile::reporting() {
        (mem, image) = statefile::create_mapped(pid);
    }
    // Region samples go where the launcher reads them, or nowhere.
    crate::samples::set_drained(!mem.is_null());
    if mem.is_null() {
        mem = sys::map(STATE_SIZE);
    }
    if mem.is_null() {
        return core::ptr::null_mut();
    }
    // SAFETY: fresh zeroed mapping of STATE_SIZE bytes, all-zero is a valid state.
    let st = unsafe { &*(mem as *const ProcessState) };
    let h = &st.header;
    let name = sys::getenv(ENV_REGION_C)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(program_name);
    statefile::init_header(h, pid, ppid, image, name);
    if NEW_BYPASS.load(Relaxed) {
        h.problems.fetch_or(PROBLEM_NEW_BYPASSES_MALLOC, Relaxed);
    }
    crate::blind::stamp(h);
    regions::init_state(st, name);
    if crate::stacks::on() {
        let base = st.regions[0].begin_epoch.load(Relaxed);
        stackring::create(pid, image, base);
    }
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

/// Records that the process is exiting with `code` (exit, _exit, _Exit).
pub fn mark_exit(code: c_int) {
    let Some(st) = hot::current() else {
        return;
    };
    let h = &st.header;
    // A vfork child (or posix_spawn's helper) runs in its parent's memory, state
    // included, and leaves by _exit: that is not the parent's exit.
    if sys::getpid_raw() != h.pid.load(Relaxed) {
        return;
    }
    stackring::close();
    if h.status.load(Relaxed) == STATUS_RUNNING {
        h.exit_code.store(code as u32, Relaxed);
        h.end_ns.store(sys::now_ns(), Relaxed);
        h.status.store(STATUS_EXITED, Relaxed);
    }
}

extern "C" fn at_exit(code: c_int, _arg: *mut c_void) {
    mark_exit(code);
}

/// After `fork`, in the child: the locks are released and the child starts a state of
/// its own (the parent's stays the parent's).
extern "C" fn after_fork_child() {
    crate::exec::forget_leftovers();
    crate::python_frames::fork_child();
    bookkeeping::fork_child();
    let old = hot::state();
    if old.is_null() {
        return;
    }
    // The parent's slot numbers mean nothing in the child's fresh state.
    tls::current().set_slot(0);
    // Nor do its stack ids: the child's stream starts afresh.
    stackring::forget_parent();
    crate::stacks::after_fork_child();
    // A null state (no memory for a new one) stops tracking in the child.
    hot::publish(new_state());
    // The parent's file stays the parent's: drop our view of it.
    // SAFETY: nothing in the child uses the old mapping any more.
    unsafe { sys::unmap(old as *mut u8, STATE_SIZE) };
}

// ---------------------------------------------------------------------------------------
// Exits that skip exit handlers still record how the process ended.

/// Shared body of _exit and _Exit (`pick` chooses which real one).
fn exit_now(code: c_int, pick: fn(&Real) -> Option<real::sig::_exit>) -> ! {
    mark_exit(code);
    if let Some(f) = real::get().and_then(pick) {
        // SAFETY: _exit has no preconditions.
        unsafe { f(code) }
    }
    // SAFETY: exit_group has no preconditions, and does not return.
    unsafe {
        libc::syscall(libc::SYS_exit_group, code);
        core::hint::unreachable_unchecked()
    }
}

/// # Safety
/// C `_exit`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub unsafe extern "C" fn _exit(code: c_int) -> ! {
    exit_now(code, |r| r._exit)
}

/// # Safety
/// C `_Exit`.
#[cfg_attr(not(test), unsafe(no_mangle))]
#[allow(non_snake_case)] // the C name
pub unsafe extern "C" fn _Exit(code: c_int) -> ! {
    exit_now(code, |r| r._Exit)
}
