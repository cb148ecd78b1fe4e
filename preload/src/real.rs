//! The functions we interpose, as the next library in the search order provides them.
//!
//! Resolved with `dlsym(RTLD_NEXT, ..)` by whichever hook or constructor runs first
//! (libc's own constructors allocate before ours runs). `dlsym` may itself allocate;
//! those nested calls see the guard raised and are served from a static bootstrap arena
//! that `free`/`realloc` recognise. Using `RTLD_NEXT` keeps the program's allocator
//! (a preloaded or linked jemalloc stays in charge).

use core::cell::UnsafeCell;
use core::ffi::{CStr, c_char, c_int, c_void};
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

/// Declares the functions we call through: one entry per function gives its C type (in
/// [`sig`], named as the function), its field in [`Real`] and its `dlsym` lookup by its
/// C name. `required` ones must exist (else nothing is tracked); `optional` ones may be
/// missing from an old or other libc.
macro_rules! real_functions {
    ($(
        $(#[$doc:meta])*
        $kind:ident $name:ident: fn($($arg:ty),*) $(-> $ret:ty)?;
    )*) => {
        /// The C type of each function we call through, named as the function.
        #[allow(non_camel_case_types)]
        pub mod sig {
            use super::*;
            $(
                #[doc = concat!("`", stringify!($name), "`.")]
                pub type $name = unsafe extern "C" fn($($arg),*) $(-> $ret)?;
            )*
        }

        /// The resolved functions.
        #[allow(non_snake_case)] // the C names (`_Exit`)
        pub struct Real {
            $(
                #[doc = concat!("`", stringify!($name), "`.")]
                $(#[$doc])*
                pub $name: real_functions!(@field $kind $name),
            )*
            /// `malloc_usable_size` when heap blocks carry a [`crate::trailer`] record: the
            /// allocator is glibc's. glibc rounds chunks to 16 bytes, so the record grows a
            /// block by at most one step; allocators with coarse size classes (jemalloc's
            /// 4096 → 5120) would pay far more, and keep sizes in the pointer table. A field
            /// of its own so the hot path decides with one load.
            pub trailer_usable: Option<sig::malloc_usable_size>,
            /// glibc's `__libc_single_threaded`: nonzero until the first thread is created
            /// (glibc clears it in `pthread_create` before the new thread exists).
            single_threaded_flag: *const u8,
        }

        /// Looks every listed function up; None when a required one is missing.
        ///
        /// # Safety
        /// dlsym may allocate: call with the guard raised.
        #[allow(non_snake_case)] // locals named as the functions (`_Exit`)
        unsafe fn lookup() -> Option<Real> {
            $(
                let $name = real_functions!(@lookup $kind $name);
            )*
            let mut real = Real {
                $($name,)*
                trailer_usable: None,
                single_threaded_flag: core::ptr::null(),
            };
            // SAFETY: the caller raised the guard.
            real.trailer_usable = unsafe { glibc_usable(real.malloc, real.malloc_usable_size) };
            // SAFETY: as above.
            real.single_threaded_flag = unsafe { sym(c"__libc_single_threaded") } as *const u8;
            Some(real)
        }
    };
    (@field required $name:ident) => { sig::$name };
    (@field optional $name:ident) => { Option<sig::$name> };
    (@lookup required $name:ident) => {{
        // SAFETY: the caller raised the guard.
        let p = unsafe { sym(c_name!($name)) };
        if p == 0 {
            return None;
        }
        // SAFETY: the function of that C name has that C type.
        unsafe { core::mem::transmute::<usize, sig::$name>(p) }
    }};
    (@lookup optional $name:ident) => {{
        // SAFETY: the caller raised the guard.
        let p = unsafe { sym(c_name!($name)) };
        // SAFETY: the function of that C name has that C type.
        (p != 0).then(|| unsafe { core::mem::transmute::<usize, sig::$name>(p) })
    }};
}

/// The C name of an identifier, NUL-terminated.
macro_rules! c_name {
    ($name:ident) => {
        match CStr::from_bytes_with_nul(concat!(stringify!($name), "\0").as_bytes()) {
            Ok(c) => c,
            Err(_) => unreachable!(),
        }
    };
}

real_functions! {
    required malloc: fn(usize) -> *mut c_void;
    required free: fn(*mut c_void);
    required calloc: fn(usize, usize) -> *mut c_void;
    required realloc: fn(*mut c_void, usize) -> *mut c_void;
    optional posix_memalign: fn(*mut *mut c_void, usize, usize) -> c_int;
    optional aligned_alloc: fn(usize, usize) -> *mut c_void;
    optional memalign: fn(usize, usize) -> *mut c_void;
    optional valloc: fn(usize) -> *mut c_void;
    optional pvalloc: fn(usize) -> *mut c_void;
    /// The allocator's, whichever it is.
    optional malloc_usable_size: fn(*mut c_void) -> usize;
    required mmap: fn(*mut c_void, usize, c_int, c_int, c_int, i64) -> *mut c_void;
    required mmap64: fn(*mut c_void, usize, c_int, c_int, c_int, i64) -> *mut c_void;
    required munmap: fn(*mut c_void, usize) -> c_int;
    /// Variadic in C: the fifth argument is read only with `MREMAP_FIXED`.
    optional mremap: fn(*mut c_void, usize, usize, c_int, *mut c_void) -> *mut c_void;
    optional mprotect: fn(*mut c_void, usize, c_int) -> c_int;
    optional _exit: fn(c_int) -> !;
    optional _Exit: fn(c_int) -> !;
    optional execve: fn(*const c_char, *const *const c_char, *const *const c_char) -> c_int;
    optional execv: fn(*const c_char, *const *const c_char) -> c_int;
    optional execvp: fn(*const c_char, *const *const c_char) -> c_int;
    optional execvpe: fn(*const c_char, *const *const c_char, *const *const c_char) -> c_int;
    optional fexecve: fn(c_int, *const *const c_char, *const *const c_char) -> c_int;
    optional wait4: fn(libc::pid_t, *mut c_int, c_int, *mut c_void) -> libc::pid_t;
    optional waitpid: fn(libc::pid_t, *mut c_int, c_int) -> libc::pid_t;
    optional wait: fn(*mut c_int) -> libc::pid_t;
    optional wait3: fn(*mut c_int, c_int, *mut c_void) -> libc::pid_t;
    optional waitid: fn(libc::idtype_t, libc::id_t, *mut libc::siginfo_t, c_int) -> c_int;
}

// SAFETY: function pointers, and a pointer to a libc global that lives as long as the
// process and is only read.
unsafe impl Sync for Real {}
// SAFETY: as for Sync.
unsafe impl Send for Real {}

struct Slot(UnsafeCell<MaybeUninit<Real>>);
// SAFETY: written once by the resolving thread before STATE becomes READY (Release),
// read only after observing READY (Acquire).
unsafe impl Sync for Slot {}

static REAL: Slot = Slot(UnsafeCell::new(MaybeUninit::uninit()));
static STATE: AtomicU8 = AtomicU8::new(UNRESOLVED);
const UNRESOLVED: u8 = 0;
const RESOLVING: u8 = 1;
const READY: u8 = 2;
const FAILED: u8 = 3;

/// The real functions, if already resolved.
#[inline(always)]
pub fn get() -> Option<&'static Real> {
    if STATE.load(Ordering::Acquire) == READY {
        // SAFETY: READY is published after the slot is written (see `Slot`).
        Some(unsafe { (*REAL.0.get()).assume_init_ref() })
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
    if crate::tls::current().guard() != 0 && STATE.load(Ordering::Acquire) == RESOLVING {
        return None; // nested inside our own dlsym
    }
    match STATE.compare_exchange(UNRESOLVED, RESOLVING, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => {
            let _g = crate::tls::Guard::enter();
            // SAFETY: the guard is raised (lookup's dlsym may allocate); only this thread
            // writes the slot, and before publishing READY.
            let outcome = match unsafe { lookup() } {
                Some(r) => {
                    // SAFETY: as above.
                    unsafe { (*REAL.0.get()).write(r) };
                    READY
                }
                None => FAILED,
            };
            STATE.store(outcome, Ordering::Release);
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

/// `dlsym(RTLD_NEXT, name)` as an address (0 when missing).
///
/// # Safety
/// dlsym may allocate: call with the guard raised.
unsafe fn sym(name: &CStr) -> usize {
    // SAFETY: a NUL-terminated name.
    unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) as usize }
}

/// Whether the code at `a` and at `b` lies in the same loaded object (both non-null).
///
/// # Safety
/// dladdr may allocate: call with the guard raised.
pub unsafe fn same_object(a: *const c_void, b: *const c_void) -> bool {
    // SAFETY: all-zero is a valid Dl_info, which dladdr fills; the caller raised the guard.
    unsafe {
        let mut x: libc::Dl_info = core::mem::zeroed();
        let mut y: libc::Dl_info = core::mem::zeroed();
        !a.is_null()
            && !b.is_null()
            && libc::dladdr(a, &mut x) != 0
            && libc::dladdr(b, &mut y) != 0
            && !x.dli_fbase.is_null()
            && x.dli_fbase == y.dli_fbase
    }
}

/// The file name of the loaded object holding `addr`, as the loader has it (empty for
/// the executable); None when `addr` is null or in no loaded object.
///
/// # Safety
/// dladdr may allocate: call with the guard raised.
pub unsafe fn object_file(addr: *const c_void) -> Option<&'static [u8]> {
    // SAFETY: all-zero is a valid Dl_info; dladdr fills it with pointers into the
    // loader's own data, valid while that object stays loaded (ours, or libraries the
    // program does not unload while it runs).
    unsafe {
        let mut info: libc::Dl_info = core::mem::zeroed();
        if addr.is_null() || libc::dladdr(addr, &mut info) == 0 || info.dli_fname.is_null() {
            return None;
        }
        Some(CStr::from_ptr(info.dli_fname).to_bytes())
    }
}

/// `usable` when `malloc` is glibc's: defined by the object that defines glibc's version
/// function (not a jemalloc, tcmalloc or glibc's debug malloc preloaded or linked in
/// front of it).
///
/// # Safety
/// As [`same_object`].
unsafe fn glibc_usable(
    malloc: sig::malloc,
    usable: Option<sig::malloc_usable_size>,
) -> Option<sig::malloc_usable_size> {
    // SAFETY: a NUL-terminated name; the caller raised the guard.
    let glibc_version =
        unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"gnu_get_libc_version".as_ptr()) };
    // SAFETY: the caller raised the guard.
    usable.filter(|_| unsafe { same_object(malloc as *const c_void, glibc_version) })
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
