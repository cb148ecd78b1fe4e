//! Exact memory of marked regions of a Rust program, measured by the benchmem preload.
//!
//! ```no_run
//! let (buf, stats) = benchmem_region::region("fill", || vec![0u8; 4096]);
//! if let Some(s) = stats {
//!     println!("peak {} B in {} allocations", s.peak_bytes, s.allocations);
//! }
//! # drop(buf);
//! ```
//!
//! Run the program under `benchmem run -- ./target/release/prog`: every region is a row of
//! benchmem's table (samples of the same name merge into one series), and the stats come
//! back to the program. Without the preload the program runs unchanged: the closure still
//! runs and the stats are `None`.
//!
//! The preload's entry points (`benchmem_region_begin`, `benchmem_region_end`,
//! `benchmem_is_active`, the C API of `include/benchmem.h`) are looked up at run time with
//! `dlsym(RTLD_DEFAULT)`, so nothing links against benchmem. Regions are process-wide:
//! every thread's allocations count, through whichever allocator ends in `malloc`/`mmap`
//! (Rust's `System` allocator does). Opening and closing a region allocates nothing, so an
//! empty region measures 0 allocations.
//!
//! With the `criterion` feature (on by default), [`criterion`](crate::criterion) has
//! measurements that make criterion report bytes or allocations instead of time.

#![warn(missing_docs)]

use core::ffi::{CStr, c_char, c_int};
use std::ffi::CString;
use std::sync::OnceLock;

#[cfg(feature = "criterion")]
pub mod criterion;

/// The counters of one region sample (`benchmem_stats` in `include/benchmem.h`).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stats {
    /// High-water of live bytes allocated inside the region.
    pub peak_bytes: u64,
    /// Sum of the requested sizes of every allocation in the region.
    pub total_bytes: u64,
    /// Successful allocation calls in the region.
    pub allocations: u64,
    /// Bytes allocated in the region still live when it ended.
    pub retained_bytes: u64,
}

type BeginFn = unsafe extern "C" fn(*const c_char) -> c_int;
type EndFn = unsafe extern "C" fn(c_int, *mut Stats) -> c_int;
type ActiveFn = unsafe extern "C" fn() -> c_int;

/// The preload's entry points, or `None` each when it is not loaded.
struct Api {
    begin: Option<BeginFn>,
    end: Option<EndFn>,
    active: Option<ActiveFn>,
}

/// Looks a symbol up in the global scope.
///
/// # Safety
/// `T` must be a function pointer type matching the symbol's real signature.
unsafe fn lookup<T: Copy>(name: &CStr) -> Option<T> {
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name has no other precondition.
    let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    if p.is_null() {
        None
    } else {
        // SAFETY: the caller guarantees T is the symbol's function pointer type, which has
        // the size of a data pointer on the platforms the preload supports (Linux).
        Some(unsafe { core::mem::transmute_copy::<*mut libc::c_void, T>(&p) })
    }
}

/// The entry points, resolved together on first use. Callers resolve before opening a
/// region, so dlsym (which may allocate) never runs inside one.
fn api() -> &'static Api {
    static API: OnceLock<Api> = OnceLock::new();
    API.get_or_init(|| {
        // SAFETY: the types are the signatures declared in include/benchmem.h.
        unsafe {
            Api {
                begin: lookup::<BeginFn>(c"benchmem_region_begin"),
                end: lookup::<EndFn>(c"benchmem_region_end"),
                active: lookup::<ActiveFn>(c"benchmem_is_active"),
            }
        }
    })
}

/// True when this process runs under the benchmem preload.
pub fn is_active() -> bool {
    match api().active {
        // SAFETY: benchmem_is_active takes nothing and only reads the preload's state.
        Some(f) => unsafe { f() == 1 },
        None => false,
    }
}

/// Names up to this many bytes are passed from the stack; longer ones from a `CString`
/// made before the region opens.
const INLINE_NAME: usize = 256;

/// An open region; [`Region::end`] closes it and returns its sample.
///
/// Dropping a region that was not ended closes it and discards the sample (so a panic
/// inside a region does not leave it open).
#[derive(Debug)]
#[must_use = "a region is closed when dropped: keep it until the measured work is done"]
pub struct Region {
    id: c_int,
    // A long name, kept until the region is closed so that freeing it happens outside.
    _name: Option<CString>,
}

impl Region {
    /// Opens a region named `name` (up to its first NUL byte). Without the preload, or
    /// when the preload refuses (255 regions already open), nothing is opened and
    /// [`Region::end`] returns `None`.
    pub fn begin(name: &str) -> Region {
        let bytes = name.as_bytes();
        let bytes = &bytes[..bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len())];
        if bytes.len() < INLINE_NAME {
            let mut buf = [0u8; INLINE_NAME];
            buf[..bytes.len()].copy_from_slice(bytes);
            let cname = CStr::from_bytes_until_nul(&buf).expect("NUL-terminated by construction");
            Region::begin_cstr(cname)
        } else {
            let owned = CString::new(bytes).expect("cut at the first NUL");
            let mut r = Region::begin_cstr(&owned);
            r._name = Some(owned);
            r
        }
    }

    /// Opens a region named `name`, allocating nothing (the preload copies the name).
    pub fn begin_cstr(name: &CStr) -> Region {
        let id = match api().begin {
            // SAFETY: `name` is NUL-terminated; the preload copies it before returning.
            Some(f) => unsafe { f(name.as_ptr()) },
            None => -1,
        };
        Region { id, _name: None }
    }

    /// True when the preload opened the region.
    pub fn is_open(&self) -> bool {
        self.id >= 0
    }

    /// Closes the region: its sample, or `None` when nothing was opened.
    pub fn end(mut self) -> Option<Stats> {
        self.close()
    }

    fn close(&mut self) -> Option<Stats> {
        if self.id < 0 {
            return None;
        }
        let id = core::mem::replace(&mut self.id, -1);
        let end = api().end?;
        let mut stats = Stats::default();
        // SAFETY: `id` came from benchmem_region_begin and is closed once; `stats` is a
        // writable benchmem_stats (same layout, repr(C)).
        let rc = unsafe { end(id, &mut stats) };
        (rc == 0).then_some(stats)
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        self.close();
    }
}

/// Runs `f` inside a region named `name`: its result, and the region's sample (`None`
/// without the preload).
///
/// The result is returned from inside the region, so memory it holds counts as
/// `retained_bytes`, and it is dropped by the caller, outside.
pub fn region<R>(name: &str, f: impl FnOnce() -> R) -> (R, Option<Stats>) {
    let r = Region::begin(name);
    let out = f();
    (out, r.end())
}

#[cfg(test)]
mod tests {
    use super::*;

    // The unit tests run without the preload (the end-to-end tests run the examples
    // under it): everything must still work, as no-ops.
    #[test]
    fn without_the_preload_everything_is_a_no_op() {
        assert!(!is_active());
        let (v, stats) = region("r", || vec![1u8; 10]);
        assert_eq!((v.len(), stats), (10, None));
        let r = Region::begin(&"long".repeat(100));
        assert!(!r.is_open());
        assert_eq!(r.end(), None);
    }

    #[test]
    fn stats_has_the_c_layout() {
        assert_eq!(core::mem::size_of::<Stats>(), 32);
        assert_eq!(core::mem::align_of::<Stats>(), 8);
    }
}
