//! Raw system calls for the preload's own needs.
//!
//! Inside this library `libc::mmap`, `libc::write` & co. would bind to our own exported
//! hooks (symbol interposition), so bookkeeping goes through `syscall(2)` directly. Every
//! helper preserves `errno`: the program must see the errno its own calls produced.

use core::ffi::c_void;

/// Runs `f` and restores the thread's `errno` afterwards.
#[inline]
pub fn keep_errno<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe {
        let e = libc::__errno_location();
        let saved = *e;
        let r = f();
        *e = saved;
        r
    }
}

/// Anonymous private read-write memory, never counted; null on failure.
pub fn map(len: usize) -> *mut u8 {
    map_rw(len, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1)
}

/// Shared read-write mapping of `fd`; null on failure.
pub fn map_shared(fd: i32, len: usize) -> *mut u8 {
    map_rw(len, libc::MAP_SHARED, fd)
}

fn map_rw(len: usize, flags: i32, fd: i32) -> *mut u8 {
    keep_errno(|| {
        // SAFETY: a plain mapping request of our own.
        let p = unsafe {
            libc::syscall(
                libc::SYS_mmap,
                0usize,
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                fd as i64,
                0usize,
            )
        };
        if p == -1 || p == 0 {
            core::ptr::null_mut()
        } else {
            p as *mut u8
        }
    })
}

/// Unmaps memory this library mapped.
///
/// # Safety
/// `p`/`len` came from [`map`] or [`map_shared`] and nothing uses that memory any more.
pub unsafe fn unmap(p: *mut u8, len: usize) {
    keep_errno(|| {
        // SAFETY: the caller's contract: the memory is ours and unused.
        unsafe { libc::syscall(libc::SYS_munmap, p, len) };
    });
}

/// Raw mmap with the program's arguments, for when the real symbol is not yet known.
///
/// # Safety
/// Same contract as mmap(2): with `MAP_FIXED`, nothing may use what was mapped at `addr`.
pub unsafe fn raw_mmap(
    addr: *mut c_void,
    len: usize,
    prot: i32,
    flags: i32,
    fd: i32,
    off: i64,
) -> *mut c_void {
    // SAFETY: the caller's contract is mmap's.
    let r = unsafe { libc::syscall(libc::SYS_mmap, addr, len, prot, flags, fd, off) };
    if r == -1 {
        libc::MAP_FAILED
    } else {
        r as *mut c_void
    }
}

/// `CLOCK_MONOTONIC` in nanoseconds (vDSO: no syscall, no allocation).
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Page size (queried once; 4096 until then).
pub fn page_size() -> usize {
    use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    let p = PAGE.load(Relaxed);
    if p != 0 {
        return p;
    }
    // SAFETY: sysconf is async-signal-safe and does not allocate.
    let q = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let q = if q > 0 { q as usize } else { 4096 };
    PAGE.store(q, Relaxed);
    q
}

/// Rounds `n` up to a whole number of pages.
pub fn page_round(n: usize) -> usize {
    let p = page_size();
    n.saturating_add(p - 1) & !(p - 1)
}

/// This thread's `errno`.
pub fn errno() -> i32 {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() }
}

/// Sets this thread's `errno`.
pub fn set_errno(e: i32) {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() = e };
}

/// The value of environment variable `name` (getenv reads the environment without
/// allocating). The bytes stay valid unless the program changes that variable, which
/// ours are not meant for.
pub fn getenv(name: &core::ffi::CStr) -> Option<&'static [u8]> {
    // SAFETY: a NUL-terminated name; getenv returns null or a NUL-terminated value.
    unsafe {
        let p = libc::getenv(name.as_ptr());
        (!p.is_null()).then(|| core::ffi::CStr::from_ptr(p).to_bytes())
    }
}

/// This process's id from the kernel: in a vfork child, glibc's cached `getpid` is the
/// parent's.
pub fn getpid_raw() -> u32 {
    // SAFETY: getpid has no preconditions and cannot fail.
    unsafe { libc::syscall(libc::SYS_getpid) as u32 }
}

/// The parent's id from the kernel (see [`getpid_raw`]).
pub fn getppid_raw() -> u32 {
    // SAFETY: getppid has no preconditions and cannot fail.
    unsafe { libc::syscall(libc::SYS_getppid) as u32 }
}
