//! The functions we interpose, as the next library in the search order provides them.
//!
//! Resolved with `dlsym(RTLD_NEXT, ..)` by whichever hook or constructor runs first
//! (libc's own constructors allocate before ours runs). `dlsym` may itself allocate;
//! those nested calls see the guard raised and are served from a static bootstrap arena
//! that `free`/`realloc` recognise. Using `RTLD_NEXT` keeps the program's allocator
//! (a preloaded or linked jemalloc stays in charge).

use core::cell::UnsafeCell;
use core::ffi::{c_char, c_int, c_void};
use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

type Malloc = unsafe extern "C" fn(usize) -> *mut c_void;
type Free = unsafe extern "C" fn(*mut c_void);
type Usable = unsafe extern "C" fn(*mut c_void) -> usize;
type Calloc = unsafe extern "C" fn(usize, usize) -> *mut c_void;
type Realloc = unsafe extern "C" fn(*mut c_void, usize) -> *mut c_void;
type PosixMemalign = unsafe extern "C" fn(*mut *mut c_void, usize, usize) -> c_int;
type Memalign = unsafe extern "C" fn(usize, usize) -> *mut c_void;
pub type MmapFn = unsafe extern "C" fn(*mut c_void, usize, c_int, c_int, c_int, i64) -> *mut c_void;
type Munmap = unsafe extern "C" fn(*mut c_void, usize) -> c_int;
type Mremap = unsafe extern "C" fn(*mut c_void, usize, usize, c_int, *mut c_void) -> *mut c_void;
/// `_exit` / `_Exit`.
pub type Exit = unsafe extern "C" fn(c_int) -> !;
/// `execve` / `execvpe`: program, argv, envp.
pub type ExecEnv =
    unsafe extern "C" fn(*const c_char, *const *const c_char, *const *const c_char) -> c_int;
/// `execv` / `execvp`: program, argv.
pub type Exec = unsafe extern "C" fn(*const c_char, *const *const c_char) -> c_int;
/// `fexecve`: fd, argv, envp.
pub type Fexecve = unsafe extern "C" fn(c_int, *const *const c_char, *const *const c_char) -> c_int;
/// `mprotect`.
pub type Mprotect = unsafe extern "C" fn(*mut c_void, usize, c_int) -> c_int;

/// The resolved functions. Optional ones may be missing from an old or other libc.
pub struct Real {
    pub malloc: Malloc,
    pub free: Free,
    pub calloc: Calloc,
    pub realloc: Realloc,
    pub posix_memalign: Option<PosixMemalign>,
    pub aligned_alloc: Option<Memalign>,
    pub memalign: Option<Memalign>,
    pub valloc: Option<Malloc>,
    pub pvalloc: Option<Malloc>,
    /// The allocator's `malloc_usable_size`.
    pub usable: Option<Usable>,
    /// The same function when heap blocks carry a [`crate::trailer`] record: the allocator
    /// is glibc's. glibc rounds chunks to 16 bytes, so the record grows a block by at most
    /// one step; allocators with coarse size classes (jemalloc's 4096 → 5120) would pay
    /// far more, and keep sizes in the pointer table. A field of its own so the hot path
    /// decides with one load.
    pub trailer_usable: Option<Usable>,
    pub mmap: MmapFn,
    pub mmap64: MmapFn,
    pub munmap: Munmap,
    pub mremap: Option<Mremap>,
    pub exit: Option<Exit>,
    pub exit2: Option<Exit>,
    pub execve: Option<ExecEnv>,
    pub execv: Option<Exec>,
    pub execvp: Option<Exec>,
    pub execvpe: Option<ExecEnv>,
    pub fexecve: Option<Fexecve>,
    pub mprotect: Option<Mprotect>,
    /// glibc's `__libc_single_threaded`: nonzero until the first thread is created
    /// (glibc clears it in `pthread_create` before the new thread exists).
    single_threaded_flag: *const u8,
}

// SAFETY: the raw pointer is to a libc global that lives as long as the process.
unsafe impl Sync for Real {}
unsafe impl Send for Real {}

struct Slot(UnsafeCell<Option<Real>>);
// SAFETY: written once by the resolving thread before STATE becomes READY (Release),
// read only after observing READY (Acquire).
unsafe impl Sync for Slot {}

static REAL: Slot = Slot(UnsafeCell::new(None));
static STATE: AtomicU8 = AtomicU8::new(UNRESOLVED);
const UNRESOLVED: u8 = 0;
const RESOLVING: u8 = 1;
const READY: u8 = 2;
const FAILED: u8 = 3;

/// The real functions, if already resolved.
#[inline(always)]
pub fn get() -> Option<&'static Real> {
    if STATE.load(Ordering::Acquire) == READY {
        // SAFETY: see `Slot`.
        unsafe { (*REAL.0.get()).as_ref() }
    } else {
        None
    }
}

/// True while the process has a single thread: plain stores may replace locked
/// instructions. False when unknown (not glibc, or not resolved yet).
#[inline(always)]
pub fn single_threaded() -> bool {
    get().is_some_and(Real::single_threaded)
}

impl Real {
    /// True while the process has a single thread (false when this libc does not say).
    #[inline(always)]
    pub fn single_threaded(&self) -> bool {
        // SAFETY: a byte glibc keeps for exactly this purpose, alive as long as libc.
        !self.single_threaded_flag.is_null()
            && unsafe { core::ptr::read_volatile(self.single_threaded_flag) } != 0
    }
}

/// The real functions, resolving them now if needed. None while this very thread is
/// resolving (a nested call from dlsym) or if resolution failed.
#[inline]
pub fn resolve() -> Option<&'static Real> {
    if let Some(r) = get() {
        return Some(r);
    }
    resolve_slow()
}

#[cold]
fn resolve_slow() -> Option<&'static Real> {
    let t = crate::tls::current();
    // SAFETY: this thread's own state.
    if unsafe { (*t).guard } != 0 && STATE.load(Ordering::Acquire) == RESOLVING {
        return None; // nested inside our own dlsym
    }
    match STATE.compare_exchange(UNRESOLVED, RESOLVING, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => {
            let _g = crate::tls::Guard::enter();
            // SAFETY: only this thread writes, before publishing READY.
            let ok = unsafe {
                let r = lookup();
                let ok = r.is_some();
                *REAL.0.get() = r;
                ok
            };
            STATE.store(if ok { READY } else { FAILED }, Ordering::Release);
            get()
        }
        Err(_) => {
            // Another thread is resolving: wait for it (it does not wait for us).
            loop {
                match STATE.load(Ordering::Acquire) {
                    READY => return get(),
                    FAILED => return None,
                    _ => core::hint::spin_loop(),
                }
            }
        }
    }
}

unsafe fn sym(name: &[u8]) -> usize {
    libc::dlsym(libc::RTLD_NEXT, name.as_ptr() as *const c_char) as usize
}

macro_rules! required {
    ($name:literal, $ty:ty) => {{
        let p = sym(concat!($name, "\0").as_bytes());
        if p == 0 {
            return None;
        }
        core::mem::transmute::<usize, $ty>(p)
    }};
}
macro_rules! optional {
    ($name:literal, $ty:ty) => {{
        let p = sym(concat!($name, "\0").as_bytes());
        if p == 0 {
            None
        } else {
            Some(core::mem::transmute::<usize, $ty>(p))
        }
    }};
}

/// Whether the code at `a` and at `b` lies in the same loaded object (both non-null).
///
/// # Safety
/// dladdr may allocate: call with the guard raised.
pub unsafe fn same_object(a: *const c_void, b: *const c_void) -> bool {
    let mut x: libc::Dl_info = core::mem::zeroed();
    let mut y: libc::Dl_info = core::mem::zeroed();
    !a.is_null()
        && !b.is_null()
        && libc::dladdr(a, &mut x) != 0
        && libc::dladdr(b, &mut y) != 0
        && !x.dli_fbase.is_null()
        && x.dli_fbase == y.dli_fbase
}

unsafe fn lookup() -> Option<Real> {
    let malloc = required!("malloc", Malloc);
    let usable = optional!("malloc_usable_size", Usable);
    // glibc's malloc: defined by the object that defines glibc's version function (not a
    // jemalloc, tcmalloc or glibc's debug malloc preloaded or linked in front of it).
    let glibc_version = libc::dlsym(libc::RTLD_DEFAULT, c"gnu_get_libc_version".as_ptr());
    let trailer_usable = usable.filter(|_| same_object(malloc as *const c_void, glibc_version));
    Some(Real {
        malloc,
        free: required!("free", Free),
        calloc: required!("calloc", Calloc),
        realloc: required!("realloc", Realloc),
        posix_memalign: optional!("posix_memalign", PosixMemalign),
        aligned_alloc: optional!("aligned_alloc", Memalign),
        memalign: optional!("memalign", Memalign),
        valloc: optional!("valloc", Malloc),
        pvalloc: optional!("pvalloc", Malloc),
        usable,
        trailer_usable,
        mmap: required!("mmap", MmapFn),
        mmap64: required!("mmap64", MmapFn),
        munmap: required!("munmap", Munmap),
        mremap: optional!("mremap", Mremap),
        exit: optional!("_exit", Exit),
        exit2: optional!("_Exit", Exit),
        execve: optional!("execve", ExecEnv),
        execv: optional!("execv", Exec),
        execvp: optional!("execvp", Exec),
        execvpe: optional!("execvpe", ExecEnv),
        fexecve: optional!("fexecve", Fexecve),
        mprotect: optional!("mprotect", Mprotect),
        single_threaded_flag: sym(b"__libc_single_threaded\0") as *const u8,
    })
}

/// Memory for allocations made while the real functions are being resolved.
pub mod arena {
    use super::*;

    const SIZE: usize = 64 * 1024;
    const HEADER: usize = 16;

    #[repr(C, align(4096))]
    struct Bytes(UnsafeCell<[u8; SIZE]>);
    // SAFETY: disjoint ranges are handed out by an atomic bump pointer.
    unsafe impl Sync for Bytes {}

    static ARENA: Bytes = Bytes(UnsafeCell::new([0; SIZE]));
    static NEXT: AtomicUsize = AtomicUsize::new(0);

    fn base() -> usize {
        ARENA.0.get() as usize
    }

    /// Whether `p` was handed out by the arena.
    #[inline(always)]
    pub fn contains(p: *mut c_void) -> bool {
        let p = p as usize;
        p >= base() && p < base() + SIZE
    }

    /// Zeroed memory of `size` bytes aligned to `align` (a power of two ≥ 16), or null.
    pub fn alloc(size: usize, align: usize) -> *mut c_void {
        let align = align.max(16);
        let mut cur = NEXT.load(Ordering::Relaxed);
        loop {
            let start = (base() + cur + HEADER + align - 1) & !(align - 1);
            let end = match start.checked_add(size) {
                Some(e) if e <= base() + SIZE => e,
                _ => return core::ptr::null_mut(),
            };
            match NEXT.compare_exchange_weak(cur, end - base(), Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    // SAFETY: [start - HEADER, end) is ours now.
                    unsafe { *((start - HEADER) as *mut usize) = size };
                    return start as *mut c_void;
                }
                Err(now) => cur = now,
            }
        }
    }

    /// The size requested for an arena pointer.
    pub fn size_of(p: *mut c_void) -> usize {
        // SAFETY: every arena pointer has its size stored just before it.
        unsafe { *((p as usize - HEADER) as *const usize) }
    }
}
