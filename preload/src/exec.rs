//! Exec calls: which program an image is about to become.
//!
//! An exec'd image that the preload can enter finds its predecessor's state file and
//! marks it exec'd (see [`crate::process`]). One it cannot enter (statically linked,
//! setuid, 32-bit, or started with an environment without `LD_PRELOAD`) never does, and
//! its predecessor would end "without a word". So just before the real exec we write the
//! program and what the environment passed to it carries into the state header; a failed
//! exec clears it again. The launcher classifies the program after the run.
//!
//! Hooked: `execve`, `execv`, `execvp`, `execvpe`, `fexecve`. Not hooked: the variadic
//! `execl`, `execlp`, `execle` (stable Rust cannot define a C-variadic function, and glibc
//! turns them into its internal `__execve`, past any interposer); `execveat`; and the exec
//! inside `posix_spawn` (glibc's child calls its internal `__execve` in the parent's
//! memory). Nothing here allocates: the environment is scanned by hand, paths are built
//! in stack buffers.

use core::ffi::{c_char, c_int, CStr};
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use benchmem_wire::state::{
    set_field, ProcessState, EXEC_HAS_DIR, EXEC_HAS_PRELOAD, EXEC_PATH_CUT, PATH_CAP,
};

use crate::real::{self, Real};
use crate::{account, process, sys, tls};

extern "C" {
    static environ: *const *const c_char;
}

/// Our own file name as the loader has it (from `dladdr`), for matching `LD_PRELOAD`.
static mut OWN: [u8; PATH_CAP] = [0; PATH_CAP];
static OWN_LEN: AtomicUsize = AtomicUsize::new(0);
/// The file name the launcher preloads, used when `dladdr` gave nothing.
const OWN_NAME: &[u8] = b"libbenchmem_preload.so";

/// Finds our own path once, from the constructor (single-threaded).
pub fn init() {
    let _g = tls::Guard::enter();
    // SAFETY: dladdr on the address of one of our functions fills `info` with pointers
    // into the loader's own data, valid while we are loaded; it does not allocate in
    // glibc (and any allocation would pass through, the guard being raised). OWN is
    // written only here, before any exec hook can read it.
    unsafe {
        let mut info: libc::Dl_info = core::mem::zeroed();
        if libc::dladdr(init as *const core::ffi::c_void, &mut info) == 0
            || info.dli_fname.is_null()
        {
            return;
        }
        let name = CStr::from_ptr(info.dli_fname).to_bytes();
        if name.len() <= PATH_CAP {
            (&mut *core::ptr::addr_of_mut!(OWN))[..name.len()].copy_from_slice(name);
            OWN_LEN.store(name.len(), Relaxed);
        }
    }
}

fn own() -> &'static [u8] {
    let n = OWN_LEN.load(Relaxed);
    if n == 0 {
        return OWN_NAME;
    }
    // SAFETY: written once in `init`, before OWN_LEN says it is there.
    unsafe { &(&*core::ptr::addr_of!(OWN))[..n] }
}

fn base_name(p: &[u8]) -> &[u8] {
    p.rsplit(|&b| b == b'/').next().unwrap_or(p)
}

/// Whether an `LD_PRELOAD` value names this library (its path, or a file of its name:
/// the loader may have been given either).
fn names_us(list: &[u8]) -> bool {
    let me = own();
    list.split(|&b| b == b':' || b == b' ')
        .any(|e| !e.is_empty() && (e == me || base_name(e) == base_name(me)))
}

/// `EXEC_HAS_*` bits for the environment `envp` passed to exec. The loader takes the
/// last `LD_PRELOAD`; the preload's getenv the first `BENCHMEM_DIR`.
///
/// # Safety
/// `envp` is null or a NULL-terminated array of NUL-terminated strings.
unsafe fn carried(envp: *const *const c_char) -> u32 {
    if envp.is_null() {
        return 0;
    }
    let (mut preload, mut dir) = (None, None);
    let mut i = 0;
    loop {
        let e = *envp.add(i);
        if e.is_null() {
            break;
        }
        let s = CStr::from_ptr(e).to_bytes();
        if let Some(v) = s.strip_prefix(b"LD_PRELOAD=") {
            preload = Some(v);
        } else if let Some(v) = s.strip_prefix(b"BENCHMEM_DIR=") {
            dir = dir.or(Some(v));
        }
        i += 1;
    }
    let mut bits = 0;
    if preload.is_some_and(names_us) {
        bits |= EXEC_HAS_PRELOAD;
    }
    if dir.is_some_and(|d| !d.is_empty() && d == process::run_dir()) {
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
    /// The contents NUL-terminated (`push` always leaves room).
    fn c_str(&mut self) -> *const c_char {
        self.b[self.n] = 0;
        self.b.as_ptr() as *const c_char
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

/// What an exec call was given.
#[derive(Clone, Copy)]
pub enum Target {
    /// A path (`execve`, `execv`).
    Path(*const c_char),
    /// A file searched in `PATH` when it has no slash (`execvp`, `execvpe`).
    Search(*const c_char),
    /// An open file (`fexecve`).
    Fd(c_int),
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
    // SAFETY: getenv reads the environment without allocating.
    let path = unsafe {
        let p = libc::getenv(c"PATH".as_ptr());
        if p.is_null() {
            &b"/bin:/usr/bin"[..]
        } else {
            CStr::from_ptr(p).to_bytes()
        }
    };
    for dir in path.split(|&b| b == b':') {
        let mut cand = Buf::new();
        let dir = if dir.is_empty() { &b"."[..] } else { dir };
        if !(cand.push(dir) && cand.push(b"/") && cand.push(file)) {
            continue;
        }
        // SAFETY: a NUL-terminated path in our buffer.
        if unsafe { libc::access(cand.c_str(), libc::X_OK) } == 0 {
            return absolute(cand.bytes(), out);
        }
    }
    absolute(file, out)
}

impl Target {
    /// The program, as absolute as can be found, into `out`.
    ///
    /// # Safety
    /// Pointers are NUL-terminated strings (or null), as exec requires.
    unsafe fn resolve(self, out: &mut Buf) {
        match self {
            Target::Path(p) | Target::Search(p) if p.is_null() => out.n = 0,
            Target::Path(p) => absolute(CStr::from_ptr(p).to_bytes(), out),
            Target::Search(p) => {
                let f = CStr::from_ptr(p).to_bytes();
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
                let n = libc::readlink(
                    link.c_str(),
                    out.b.as_mut_ptr() as *mut c_char,
                    out.b.len() - 1,
                );
                out.n = n.max(0) as usize;
            }
        }
    }
}

/// Records an exec about to happen in this image's state; returns the state to clear
/// should the exec fail. Nothing is recorded in a vfork child (or a raw clone sharing our
/// memory): the state there is its parent's.
///
/// # Safety
/// As [`Target::resolve`]; `envp` as in [`carried`].
unsafe fn begin(target: Target, envp: *const *const c_char) -> Option<&'static ProcessState> {
    sys::keep_errno(|| {
        let st = account::state();
        if st.is_null() {
            return None;
        }
        let st = &*st;
        let h = &st.header;
        if libc::syscall(libc::SYS_getpid) as u32 != h.pid.load(Relaxed) {
            return None;
        }
        let _g = tls::Guard::enter();
        let mut path = Buf::new();
        target.resolve(&mut path);
        h.exec_flags.store(carried(envp), Relaxed);
        if !set_field(&h.exec_len, &h.exec_path, path.bytes()) {
            h.exec_flags.fetch_or(EXEC_PATH_CUT, Relaxed);
        }
        Some(st)
    })
}

/// The exec returned: it failed, and this image goes on.
fn failed(st: Option<&ProcessState>) {
    if let Some(st) = st {
        st.header.exec_len.store(0, Relaxed);
    }
}

fn real() -> Option<&'static Real> {
    real::resolve()
}

fn enosys() -> c_int {
    // SAFETY: this thread's errno.
    unsafe { *libc::__errno_location() = libc::ENOSYS };
    -1
}

/// # Safety
/// C `execve`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn execve(
    path: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> c_int {
    let st = begin(Target::Path(path), envp);
    let r = match real().and_then(|r| r.execve) {
        Some(f) => f(path, argv, envp),
        None => libc::syscall(libc::SYS_execve, path, argv, envp) as c_int,
    };
    failed(st);
    r
}

/// # Safety
/// C `execv`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn execv(path: *const c_char, argv: *const *const c_char) -> c_int {
    let st = begin(Target::Path(path), environ);
    let r = match real().and_then(|r| r.execv) {
        Some(f) => f(path, argv),
        None => libc::syscall(libc::SYS_execve, path, argv, environ) as c_int,
    };
    failed(st);
    r
}

/// # Safety
/// C `execvp`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn execvp(file: *const c_char, argv: *const *const c_char) -> c_int {
    let st = begin(Target::Search(file), environ);
    let r = match real().and_then(|r| r.execvp) {
        Some(f) => f(file, argv),
        None => enosys(),
    };
    failed(st);
    r
}

/// # Safety
/// C `execvpe`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn execvpe(
    file: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> c_int {
    let st = begin(Target::Search(file), envp);
    let r = match real().and_then(|r| r.execvpe) {
        Some(f) => f(file, argv, envp),
        None => enosys(),
    };
    failed(st);
    r
}

/// # Safety
/// C `fexecve`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn fexecve(
    fd: c_int,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> c_int {
    let st = begin(Target::Fd(fd), envp);
    let r = match real().and_then(|r| r.fexecve) {
        Some(f) => f(fd, argv, envp),
        None => enosys(),
    };
    failed(st);
    r
}
