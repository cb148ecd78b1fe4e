//! Exec calls: which program an image is about to become.
//!
//! An exec'd image that the preload can enter finds its predecessor's state file and
//! marks it exec'd (see [`crate::process`]). One it cannot enter (statically linked,
//! setuid, 32-bit, or started with an environment without `LD_PRELOAD`) never does, and
//! its predecessor would end "without a word". So just before the real exec we write the
//! program and what the environment passed to it carries into the state header; a failed
//! exec clears it again. The launcher classifies the program after the run.
//!
//! A vfork child (Debian's `/bin/sh`, Python's `subprocess`) shares its parent's memory,
//! state included, until the exec: it writes the record into a state file of its own pid
//! instead, made without mapping it, so it gets a row as a fork child would; a failed
//! exec removes that file.
//!
//! A sanitizer build (see [`crate::sanitizer`]) must not get the preload at all: it is
//! exec'd with an environment that no longer names us, and the record says so on purpose
//! (`EXEC_SANITIZER`), so the launcher does not take it for a scrubbed environment.
//!
//! Hooked: `execve`, `execv`, `execvp`, `execvpe`, `fexecve`. Not hooked: the variadic
//! `execl`, `execlp`, `execle` (stable Rust cannot define a C-variadic function, and glibc
//! turns them into its internal `__execve`, past any interposer); `execveat`; and the exec
//! inside `posix_spawn` (glibc's child calls its internal `__execve` in the parent's
//! memory). Nothing here allocates: the environment is scanned by hand, paths and the
//! environment given to a sanitizer build are built in stack buffers (a mapping of our
//! own when they are too small).

use core::ffi::{CStr, c_char, c_int};
use core::marker::PhantomData;
use core::mem::size_of;
use core::sync::atomic::{
    AtomicU32, AtomicUsize,
    Ordering::{Acquire, Relaxed, Release},
};

use benchmem_wire::names::{ENV_DIR, LD_PRELOAD, base_name, preload_entries};
use benchmem_wire::state::{
    EXEC_HAS_DIR, EXEC_HAS_PRELOAD, EXEC_PATH_CUT, EXEC_SANITIZER, PATH_CAP, ProcessState,
    set_field,
};

use crate::once::OnceBytes;
use crate::real::{self, Real};
use crate::{hot, sanitizer, statefile, sys, tls};

unsafe extern "C" {
    static environ: *const *const c_char;
}

/// Our own file name as the loader has it (from `dladdr`), for matching `LD_PRELOAD`.
static OWN: OnceBytes<PATH_CAP> = OnceBytes::new();
/// The file name the launcher preloads, used when `dladdr` gave nothing.
const OWN_NAME: &[u8] = b"libbenchmem_preload.so";

/// Finds our own path once, from the constructor (single-threaded).
pub fn init() {
    let _g = tls::Guard::enter();
    // SAFETY: the guard is raised; `init` is one of our functions.
    let name = unsafe { real::object_file(init as *const core::ffi::c_void) };
    if let Some(name) = name.filter(|n| n.len() <= PATH_CAP) {
        OWN.set(name);
    }
}

fn own() -> &'static [u8] {
    Some(OWN.get())
        .filter(|o| !o.is_empty())
        .unwrap_or(OWN_NAME)
}

/// Whether an `LD_PRELOAD` entry is this library (its path, or a file of its name: the
/// loader may have been given either, and the launcher's `$PLATFORM` entry is the latter).
fn is_us(entry: &[u8]) -> bool {
    let me = own();
    !entry.is_empty() && (entry == me || base_name(entry) == base_name(me))
}

/// Whether an `LD_PRELOAD` value names this library.
fn names_us(list: &[u8]) -> bool {
    preload_entries(list).any(is_us)
}

/// The value of an environment entry `NAME=value` when it is variable `name`.
fn env_value<'a>(entry: &'a [u8], name: &str) -> Option<&'a [u8]> {
    entry.strip_prefix(name.as_bytes())?.strip_prefix(b"=")
}

/// An environment as exec is given it: null, or a NULL-terminated array of
/// NUL-terminated strings.
#[derive(Clone, Copy)]
struct Envp<'a>(*const *const c_char, PhantomData<&'a CStr>);

impl<'a> Envp<'a> {
    /// # Safety
    /// `p` is null or a NULL-terminated array of NUL-terminated strings, which stay as
    /// they are for `'a` (the exec call they were given to).
    unsafe fn new(p: *const *const c_char) -> Envp<'a> {
        Envp(p, PhantomData)
    }

    fn as_ptr(self) -> *const *const c_char {
        self.0
    }

    /// The entries, in order.
    fn entries(self) -> impl Iterator<Item = &'a CStr> {
        let mut i = 0;
        core::iter::from_fn(move || {
            if self.0.is_null() {
                return None;
            }
            // SAFETY: `i` is at most the index of the terminating NULL (`new`'s contract):
            // every entry before it was a non-null string.
            let e = unsafe { *self.0.add(i) };
            if e.is_null() {
                return None;
            }
            i += 1;
            // SAFETY: a NUL-terminated string of the array, alive for 'a.
            Some(unsafe { CStr::from_ptr(e) })
        })
    }
}

/// `EXEC_HAS_*` bits for the environment `envp` passed to exec. The loader takes the
/// last `LD_PRELOAD`; the preload's getenv the first `BENCHMEM_DIR`.
fn carried(envp: Envp) -> u32 {
    let (mut preload, mut dir) = (None, None);
    for s in envp.entries().map(CStr::to_bytes) {
        if let Some(v) = env_value(s, LD_PRELOAD) {
            preload = Some(v);
        } else if let Some(v) = env_value(s, ENV_DIR) {
            dir = dir.or(Some(v));
        }
    }
    let mut bits = 0;
    if preload.is_some_and(names_us) {
        bits |= EXEC_HAS_PRELOAD;
    }
    if dir.is_some_and(|d| !d.is_empty() && d == statefile::run_dir()) {
        bits |= EXEC_HAS_DIR;
    }
    bits
}

/// A byte buffer on the stack (paths are built here, never on the heap).
struct Buf {
    b: [u8; 4096],
    n: usize,
}

impl Buf {
    fn new() -> Buf {
        Buf { b: [0; 4096], n: 0 }
    }
    /// Appends `s`, keeping room for a NUL; false when it does not fit.
    fn push(&mut self, s: &[u8]) -> bool {
        if self.n + s.len() >= self.b.len() {
            return false;
        }
        self.b[self.n..self.n + s.len()].copy_from_slice(s);
        self.n += s.len();
        true
    }
    fn bytes(&self) -> &[u8] {
        &self.b[..self.n]
    }
    /// The contents NUL-terminated (`push` always leaves room), up to a NUL inside them.
    fn c_str(&mut self) -> &CStr {
        self.b[self.n] = 0;
        CStr::from_bytes_until_nul(&self.b[..=self.n]).unwrap_or_default()
    }
    /// The current directory, followed by `/`.
    fn cwd(&mut self) -> bool {
        // SAFETY: getcwd writes at most the given length into our buffer (a caller-given
        // buffer: no allocation).
        let ok = unsafe {
            !libc::getcwd(self.b.as_mut_ptr() as *mut c_char, self.b.len() - 1).is_null()
        };
        if !ok {
            return false;
        }
        self.n = self.b.iter().position(|&c| c == 0).unwrap_or(0);
        self.n > 0 && (self.b[self.n - 1] == b'/' || self.push(b"/"))
    }
}

/// What an exec call was given (None: a null pointer).
#[derive(Clone, Copy)]
enum Target<'a> {
    /// A path (`execve`, `execv`).
    Path(Option<&'a CStr>),
    /// A file searched in `PATH` when it has no slash (`execvp`, `execvpe`).
    Search(Option<&'a CStr>),
    /// An open file (`fexecve`).
    Fd(c_int),
}

/// `p` as a C string.
///
/// # Safety
/// `p` is null or a NUL-terminated string that stays as it is for `'a`.
unsafe fn c_str<'a>(p: *const c_char) -> Option<&'a CStr> {
    // SAFETY: the caller's contract.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) })
}

/// `p` made absolute against the current directory when it is relative.
fn absolute(mut p: &[u8], out: &mut Buf) {
    while let Some(rest) = p.strip_prefix(b"./") {
        p = rest;
    }
    out.n = 0;
    if p.first() == Some(&b'/') || p.is_empty() || !out.cwd() || !out.push(p) {
        out.n = 0;
        out.push(&p[..p.len().min(out.b.len() - 1)]);
    }
}

/// Where `file` is in `PATH`, as execvp looks (glibc's default path when unset), made
/// absolute; `file` itself when no directory has it.
fn search(file: &[u8], out: &mut Buf) {
    let path = sys::getenv(c"PATH").unwrap_or(b"/bin:/usr/bin");
    for dir in path.split(|&b| b == b':') {
        let mut cand = Buf::new();
        let dir = if dir.is_empty() { &b"."[..] } else { dir };
        if !(cand.push(dir) && cand.push(b"/") && cand.push(file)) {
            continue;
        }
        // SAFETY: a NUL-terminated path.
        if unsafe { libc::access(cand.c_str().as_ptr(), libc::X_OK) } == 0 {
            return absolute(cand.bytes(), out);
        }
    }
    absolute(file, out)
}

impl Target<'_> {
    /// The program, as absolute as can be found, into `out`.
    fn resolve(self, out: &mut Buf) {
        match self {
            Target::Path(None) | Target::Search(None) => out.n = 0,
            Target::Path(Some(p)) => absolute(p.to_bytes(), out),
            Target::Search(Some(p)) => {
                let f = p.to_bytes();
                if f.contains(&b'/') || f.is_empty() {
                    absolute(f, out)
                } else {
                    search(f, out)
                }
            }
            Target::Fd(fd) => {
                let mut link = Buf::new();
                let mut num = [0u8; 20];
                let k = benchmem_wire::names::write_decimal(fd.max(0) as u64, &mut num);
                link.push(b"/proc/self/fd/");
                link.push(&num[..k]);
                // SAFETY: readlink writes at most the given length into our buffer.
                let n = unsafe {
                    libc::readlink(
                        link.c_str().as_ptr(),
                        out.b.as_mut_ptr() as *mut c_char,
                        out.b.len() - 1,
                    )
                };
                out.n = n.max(0) as usize;
            }
        }
    }
}

/// What an exec hook did before the real call: the record to clear should the exec fail,
/// and whether the program gets an environment without the preload.
struct Pending {
    record: Record,
    /// The program is a sanitizer build: exec it without the preload.
    scrub: bool,
}

/// Where the exec was recorded.
// Boxing the path is not an option here (no heap); it is on the hook's stack either way.
#[allow(clippy::large_enum_variant)]
enum Record {
    None,
    /// In this image's state.
    Shared(&'static ProcessState),
    /// In a state file of a vfork child's own, whose path this is.
    Own(statefile::Path),
}

/// Records an exec about to happen, and finds whether the program must run without the
/// preload. A vfork child (or a raw clone sharing our memory) must not write the state it
/// shares with its parent: it records into a state file of its own pid, made for the
/// purpose (see [`statefile::create_for_vfork_child`]).
fn begin(target: Target, envp: Envp) -> Pending {
    sys::keep_errno(|| {
        let none = Pending {
            record: Record::None,
            scrub: false,
        };
        let st = hot::current();
        let bits = carried(envp);
        let preloaded = bits & EXEC_HAS_PRELOAD != 0;
        if st.is_none() && !preloaded {
            return none;
        }
        // Raised here, dropped before the real exec: in a vfork child this is the parent's
        // thread's guard, which must be as it was when the parent resumes.
        let _g = tls::Guard::enter();
        let mut path = Buf::new();
        target.resolve(&mut path);
        // Only when the environment would load us into it: a scrubbed one already runs
        // the program as the user would.
        let scrub = preloaded
            && match target {
                Target::Fd(fd) => sanitizer::fd_needs_runtime_first(fd),
                _ => path.n > 0 && sanitizer::needs_runtime_first(path.c_str()),
            };
        let flags = bits | if scrub { EXEC_SANITIZER } else { 0 };
        let Some(st) = st else {
            return Pending { scrub, ..none };
        };
        let h = &st.header;
        let record = if sys::getpid_raw() == h.pid.load(Relaxed) {
            h.exec_flags.store(flags, Relaxed);
            if !set_field(&h.exec_len, &h.exec_path, path.bytes()) {
                h.exec_flags.fetch_or(EXEC_PATH_CUT, Relaxed);
            }
            crate::stackring::close();
            Record::Shared(st)
        } else {
            match statefile::create_for_vfork_child(h, path.bytes(), flags) {
                Some(own) => Record::Own(own),
                None => Record::None,
            }
        };
        Pending { record, scrub }
    })
}

/// The exec returned: it failed, and this image goes on.
fn failed(p: Pending) {
    match p.record {
        Record::None => {}
        Record::Shared(st) => {
            st.header.exec_len.store(0, Relaxed);
            crate::stackring::reopen();
        }
        // Never mapped, and nobody else writes it while this child lives.
        Record::Own(path) => path.remove(),
    }
}

/// Pointers kept on the stack for a scrubbed environment; a larger one is built in a
/// mapping.
const STACK_VARS: usize = 256;
/// Bytes of rewritten `LD_PRELOAD` values kept on the stack.
const STACK_TEXT: usize = 1024;

/// Calls `f` with `envp` rid of the preload: each `LD_PRELOAD` that names us keeps the
/// user's other entries (and is dropped when we were its only one), and `BENCHMEM_DIR` is
/// dropped too, so the program sees the environment it would have had without benchmem
/// (as a sanitizer build given to `run` does). Built in stack buffers, or in one mapping
/// when they are too small (unmapped when `f` returns; see [`Leftover`] for a vfork
/// child's); when no mapping can be made, `f` gets `envp` as it is.
#[inline(never)]
fn scrubbed(envp: Envp, f: impl FnOnce(*const *const c_char) -> c_int) -> c_int {
    if envp.as_ptr().is_null() {
        return f(envp.as_ptr());
    }
    let (mut vars, mut text) = (0usize, 0usize);
    for e in envp.entries().map(CStr::to_bytes_with_nul) {
        if env_value(e, LD_PRELOAD).is_some() {
            text += e.len();
        }
        vars += 1;
    }
    let mut stack_ptrs = [core::ptr::null::<c_char>(); STACK_VARS];
    let mut stack_text = [0u8; STACK_TEXT];
    let mut mapped = None;
    let (ptrs, buf): (&mut [*const c_char], &mut [u8]) = if vars < STACK_VARS && text <= STACK_TEXT
    {
        (&mut stack_ptrs[..], &mut stack_text[..])
    } else {
        let ptr_bytes = (vars + 1) * size_of::<*const c_char>();
        let len = sys::page_round(ptr_bytes + text);
        let m = sys::map(len);
        if m.is_null() {
            return f(envp.as_ptr());
        }
        mapped = Some(Leftover::hold(m, len));
        // SAFETY: a fresh mapping of `len` bytes, page-aligned, ours alone until `f`
        // returns: the pointer array at its start, the text after it, neither
        // overlapping the other.
        unsafe {
            (
                core::slice::from_raw_parts_mut(m as *mut *const c_char, vars + 1),
                core::slice::from_raw_parts_mut(m.add(ptr_bytes), len - ptr_bytes),
            )
        }
    };
    let (mut k, mut t) = (0, 0);
    for entry in envp.entries().take(vars) {
        let (e, bytes) = (entry.as_ptr(), entry.to_bytes());
        if env_value(bytes, ENV_DIR).is_some() {
            continue;
        }
        if let Some(list) = env_value(bytes, LD_PRELOAD) {
            if !names_us(list) {
                ptrs[k] = e;
                k += 1;
                continue;
            }
            let start = t;
            let mut put = |s: &[u8]| {
                buf[t..t + s.len()].copy_from_slice(s);
                t += s.len();
            };
            put(LD_PRELOAD.as_bytes());
            put(b"=");
            let mut kept = 0;
            for lib in preload_entries(list).filter(|l| !is_us(l)) {
                if kept > 0 {
                    put(b":");
                }
                put(lib);
                kept += 1;
            }
            put(b"\0");
            if kept == 0 {
                t = start;
                continue;
            }
            ptrs[k] = buf[start..].as_ptr().cast();
            k += 1;
            continue;
        }
        ptrs[k] = e;
        k += 1;
    }
    ptrs[k] = core::ptr::null();
    let r = f(ptrs.as_ptr());
    if let Some(m) = mapped {
        m.release();
    }
    r
}

/// A mapping [`scrubbed`] made, registered by the pid that made it. In a vfork child it
/// is the parent's memory, which a successful exec leaves behind: the parent unmaps it
/// when its wait hook reaps that child ([`reclaim`]). A child that outlives its parent's
/// interest (never reaped, or no free slot) leaves a page or two behind, uncounted.
struct Leftover {
    slot: Option<usize>,
    addr: *mut u8,
    len: usize,
}

/// A registered mapping: the pid that made it (0: free, `u32::MAX`: being filled).
struct Slot {
    pid: AtomicU32,
    addr: AtomicUsize,
    len: AtomicUsize,
}

static LEFTOVERS: [Slot; 8] = [const {
    Slot {
        pid: AtomicU32::new(0),
        addr: AtomicUsize::new(0),
        len: AtomicUsize::new(0),
    }
}; 8];

impl Leftover {
    fn hold(addr: *mut u8, len: usize) -> Leftover {
        let pid = sys::getpid_raw();
        let slot = LEFTOVERS.iter().position(|s| {
            s.pid
                .compare_exchange(0, u32::MAX, Acquire, Relaxed)
                .is_ok()
        });
        if let Some(i) = slot {
            let s = &LEFTOVERS[i];
            s.addr.store(addr as usize, Relaxed);
            s.len.store(len, Relaxed);
            s.pid.store(pid, Release);
        }
        Leftover { slot, addr, len }
    }

    /// The exec failed: the mapping is unused again.
    fn release(self) {
        // SAFETY: our mapping, which nothing refers to once the exec call returned.
        unsafe { sys::unmap(self.addr, self.len) };
        if let Some(i) = self.slot {
            LEFTOVERS[i].pid.store(0, Release);
        }
    }
}

/// Unmaps what a vfork child `pid` left in our memory for its exec's environment. Called
/// once the child is reaped: it has exec'd or died, so nothing uses that memory any more.
pub fn reclaim(pid: libc::pid_t) {
    if pid <= 0 {
        return;
    }
    for s in &LEFTOVERS {
        if s.pid.load(Acquire) != pid as u32 {
            continue;
        }
        let (addr, len) = (s.addr.load(Relaxed), s.len.load(Relaxed));
        // SAFETY: a mapping a child of ours made with sys::map; the child has exec'd or
        // ended (it was just reaped), and no other process has its pid while it is
        // not yet reaped, so nothing uses it.
        unsafe { sys::unmap(addr as *mut u8, len) };
        s.pid.store(0, Release);
    }
}

/// In a fork child: the registered mappings are copies nobody in this process uses (the
/// vfork children they belong to are its parent's), and a pid they name may be reused by
/// a child of this process: unmapped and forgotten here.
pub fn forget_leftovers() {
    for s in &LEFTOVERS {
        if s.pid.load(Acquire) == 0 {
            continue;
        }
        let (addr, len) = (s.addr.load(Relaxed), s.len.load(Relaxed));
        if addr != 0 {
            // SAFETY: this process's copy of a mapping made with sys::map, which only the
            // parent's vfork child used; nothing here refers to it.
            unsafe { sys::unmap(addr as *mut u8, len) };
        }
        s.addr.store(0, Relaxed);
        s.pid.store(0, Release);
    }
}

fn real() -> Option<&'static Real> {
    real::resolve()
}

fn enosys() -> c_int {
    sys::set_errno(libc::ENOSYS);
    -1
}

/// `execve` with `envp`, through the real one (or the system call before it is known).
///
/// # Safety
/// C `execve`.
unsafe fn real_execve(
    path: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> c_int {
    // SAFETY: the caller's contract is execve's.
    unsafe {
        match real().and_then(|r| r.execve) {
            Some(f) => f(path, argv, envp),
            None => libc::syscall(libc::SYS_execve, path, argv, envp) as c_int,
        }
    }
}

/// # Safety
/// C `execve`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub unsafe extern "C" fn execve(
    path: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> c_int {
    // SAFETY: exec's contract: a path and an environment of C strings, unchanged during
    // the call.
    let (target, env) = unsafe { (Target::Path(c_str(path)), Envp::new(envp)) };
    let p = begin(target, env);
    // SAFETY: the program's arguments, or the scrubbed copy of its environment.
    let r = unsafe {
        if p.scrub {
            scrubbed(env, |e| real_execve(path, argv, e))
        } else {
            real_execve(path, argv, envp)
        }
    };
    failed(p);
    r
}

/// # Safety
/// C `execv`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub unsafe extern "C" fn execv(path: *const c_char, argv: *const *const c_char) -> c_int {
    // SAFETY: as in `execve`; `environ` is the process's environment.
    let (target, env) = unsafe { (Target::Path(c_str(path)), Envp::new(environ)) };
    let p = begin(target, env);
    // execv is execve with `environ`: a scrubbed copy takes its place.
    // SAFETY: as in `execve`.
    let r = unsafe {
        if p.scrub {
            scrubbed(env, |e| real_execve(path, argv, e))
        } else {
            match real().and_then(|r| r.execv) {
                Some(f) => f(path, argv),
                None => real_execve(path, argv, env.as_ptr()),
            }
        }
    };
    failed(p);
    r
}

/// `execvpe` through the real one.
///
/// # Safety
/// C `execvpe`.
unsafe fn real_execvpe(
    file: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> c_int {
    match real().and_then(|r| r.execvpe) {
        // SAFETY: the caller's contract is execvpe's.
        Some(f) => unsafe { f(file, argv, envp) },
        None => enosys(),
    }
}

/// # Safety
/// C `execvp`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub unsafe extern "C" fn execvp(file: *const c_char, argv: *const *const c_char) -> c_int {
    // SAFETY: as in `execv`.
    let (target, env) = unsafe { (Target::Search(c_str(file)), Envp::new(environ)) };
    let p = begin(target, env);
    // execvp is execvpe with `environ`: a scrubbed copy takes its place.
    // SAFETY: as in `execve`.
    let r = unsafe {
        if p.scrub {
            scrubbed(env, |e| real_execvpe(file, argv, e))
        } else {
            match real().and_then(|r| r.execvp) {
                Some(f) => f(file, argv),
                None => enosys(),
            }
        }
    };
    failed(p);
    r
}

/// # Safety
/// C `execvpe`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub unsafe extern "C" fn execvpe(
    file: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> c_int {
    // SAFETY: as in `execve`.
    let (target, env) = unsafe { (Target::Search(c_str(file)), Envp::new(envp)) };
    let p = begin(target, env);
    // SAFETY: as in `execve`.
    let r = unsafe {
        if p.scrub {
            scrubbed(env, |e| real_execvpe(file, argv, e))
        } else {
            real_execvpe(file, argv, envp)
        }
    };
    failed(p);
    r
}

/// # Safety
/// C `fexecve`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub unsafe extern "C" fn fexecve(
    fd: c_int,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> c_int {
    // SAFETY: as in `execve`.
    let env = unsafe { Envp::new(envp) };
    let p = begin(Target::Fd(fd), env);
    let call = |e: *const *const c_char| match real().and_then(|r| r.fexecve) {
        // SAFETY: the program's arguments, or the scrubbed copy of its environment.
        Some(f) => unsafe { f(fd, argv, e) },
        None => enosys(),
    };
    let r = if p.scrub {
        scrubbed(env, call)
    } else {
        call(envp)
    };
    failed(p);
    r
}
