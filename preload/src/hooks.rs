//! The interposed functions.
//!
//! Each hook: if this thread is already inside a hook (guard raised) or tracking is off,
//! pass straight through; otherwise raise the guard, call the real function, and account
//! the result. The guard stays raised around the real call so allocations the allocator
//! makes for itself (an mmap inside malloc, musl's memalign calling malloc) are not
//! counted twice. A block's record (its [`trailer`], or its pointer-table entry) is taken
//! *before* the real free/realloc, so another thread cannot be handed the same address
//! while we still hold it.

use core::ffi::{c_int, c_void};
use core::sync::atomic::Ordering::Relaxed;

use benchmem_wire::stacks::NO_STACK;
use benchmem_wire::state::{PROBLEM_TABLE_FULL, ProcessState};

use crate::bookkeeping::{ANY_RESERVED, BIG, MAPPINGS, POINTERS, RESERVED, STACK_OF};
use crate::pointers::SIZE_BIG;
use crate::ranges::RangeSet;
use crate::real::{self, Real, arena};
use crate::stackring::RING;
use crate::tls;
use crate::trailer;
use crate::{hot, stacks, sys};

/// Reservations recorded at most (24 bytes each: 1.5 MiB of bookkeeping at most). Past
/// that, new ones are not recorded and their later mprotect goes unnoticed.
const MAX_RESERVED: usize = 65_536;

/// What a tracked call needs: this thread, the real functions, the state, and whether
/// the process has a single thread (read once per call: a hook cannot create threads).
struct Ctx {
    t: tls::Current,
    real: &'static Real,
    st: &'static ProcessState,
    single: bool,
}

/// A [`Ctx`]'s fields.
type Parts = (tls::Current, &'static Real, &'static ProcessState, bool);

/// What a hook does with a call.
enum Call {
    /// Count it: the guard stays raised until the context drops.
    Track(Ctx),
    /// Pass it to the real function, uncounted: this thread is already inside a hook, or
    /// nothing is tracked.
    Pass(&'static Real),
    /// The real functions are not known yet (a call from inside `dlsym` while they are
    /// being resolved): serve it from the bootstrap arena or the raw system call.
    Bootstrap,
}

/// How this call is to be served; with the guard raised when it is to be counted.
#[inline(always)]
fn enter() -> Call {
    let t = tls::current();
    if t.guard() != 0 {
        return match real::get() {
            Some(r) => Call::Pass(r),
            None => Call::Bootstrap,
        };
    }
    let Some(real) = real::resolve() else {
        return Call::Bootstrap;
    };
    let Some(st) = hot::current() else {
        return Call::Pass(real);
    };
    t.set_guard(1);
    Call::Track(Ctx {
        t,
        real,
        st,
        single: real.single_threaded(),
    })
}

impl Ctx {
    /// What to ask the real allocator for when the program asks for `size` bytes: room
    /// for a trailer too, when blocks can carry one.
    #[inline(always)]
    fn padded<const S: bool>(&self, size: usize) -> usize {
        let pad = if S {
            trailer::STACKED
        } else {
            trailer::TRAILER
        };
        match self.real.trailer_usable {
            Some(_) => size.checked_add(pad).unwrap_or(size),
            None => size,
        }
    }

    /// The context as plain values, for a call that takes it over: passed in registers,
    /// where a `Ctx` (which has a destructor) would be copied to memory first, on every
    /// call, by the hook that may pass it.
    #[inline(always)]
    fn into_parts(self) -> Parts {
        let c = core::mem::ManuallyDrop::new(self);
        (c.t, c.real, c.st, c.single)
    }

    #[inline(always)]
    fn from_parts((t, real, st, single): Parts) -> Ctx {
        Ctx {
            t,
            real,
            st,
            single,
        }
    }

    /// Accounts an allocation of `size` bytes by stack `stack`, with its record in stacks
    /// mode (`S`); returns its epoch. In stacks mode the ring lock is held across the
    /// counter update and the record, so records are in the counters' order.
    #[inline(always)]
    fn alloc<const S: bool>(&self, size: u64, stack: u32) -> u32 {
        if !S {
            return hot::alloc(self.st, self.t, size, self.single);
        }
        // SAFETY: `single` was read for this call, which creates no thread.
        let mut ring = unsafe { RING.lock_unless_single(self.single) };
        let e = hot::alloc(self.st, self.t, size, self.single);
        ring.alloc(stack, size);
        e
    }

    /// Accounts the free of `size` bytes allocated at `epoch` by stack `stack` (see
    /// [`alloc`](Self::alloc)).
    #[inline(always)]
    fn free<const S: bool>(&self, size: u64, epoch: u32, stack: u32) {
        if !S {
            return hot::free(self.st, size, epoch, self.single);
        }
        // SAFETY: as in `alloc`.
        let mut ring = unsafe { RING.lock_unless_single(self.single) };
        hot::free(self.st, size, epoch, self.single);
        ring.free(stack, size, epoch);
    }
}

impl Drop for Ctx {
    #[inline(always)]
    fn drop(&mut self) {
        self.t.set_guard(0);
    }
}

/// Where a tracked block's size, epoch and stack id are kept (the stack id is 0 but in
/// stacks mode).
#[derive(Clone, Copy)]
enum Held {
    /// In the block's trailer: (size, epoch, stack).
    Trailer(u64, u32, u32),
    /// In the pointer table: (size or [`SIZE_BIG`], epoch, stack).
    Pointer(u32, u32, u32),
}

/// Accounts the allocation of `size` bytes at `p` and records its size and epoch (and in
/// stacks mode, `S`, the stack that allocated it).
///
/// # Safety
/// `p` is a live block the real allocator just returned for this request.
#[inline(always)]
unsafe fn track<const S: bool>(c: &Ctx, p: *mut c_void, size: usize) {
    if S {
        // SAFETY: the caller's contract.
        return unsafe { track_stacked(c, p, size, stacks::capture(c.t)) };
    }
    let epoch = hot::alloc(c.st, c.t, size as u64, c.single);
    if let Some(usable) = c.real.trailer_usable {
        // SAFETY: p is a live block of glibc's allocator (the caller's contract), whose
        // usable size `usable` tells, and the record is written only where it fits.
        unsafe {
            let u = usable(p);
            if trailer::fits(size, u) {
                return trailer::write(p, u, size as u64, epoch);
            }
        }
    }
    track_in_pointer_table::<false>(c, p, size as u64, epoch, NO_STACK);
}

/// [`track`] in stacks mode, with the stack captured before the counter update.
///
/// # Safety
/// As for [`track`].
#[inline(never)]
unsafe fn track_stacked(c: &Ctx, p: *mut c_void, size: usize, stack: u32) {
    let epoch = c.alloc::<true>(size as u64, stack);
    if let Some(usable) = c.real.trailer_usable {
        // SAFETY: as in `track`.
        unsafe {
            let u = usable(p);
            if trailer::fits_stacked(size, u) {
                return trailer::write_stacked(p, u, size as u64, epoch, stack);
            }
        }
    }
    track_in_pointer_table::<true>(c, p, size as u64, epoch, stack);
}

/// Records a block without room for a trailer in the pointer table.
#[cold]
#[inline(never)]
fn track_in_pointer_table<const S: bool>(
    c: &Ctx,
    p: *mut c_void,
    size: u64,
    epoch: u32,
    stack: u32,
) {
    let small = if size >= SIZE_BIG as u64 {
        SIZE_BIG
    } else {
        size as u32
    };
    // SAFETY: `single` was read for this call, which creates no thread.
    let old = match unsafe { POINTERS.insert(p as u64, small, epoch, c.single) } {
        Ok(old) => old,
        Err(_) => {
            bookkeeping_full(c);
            return;
        }
    };
    // The stack id only beside a recorded block, so that none outlives its block.
    let old_stack = S
        .then(|| {
            // SAFETY: as above.
            unsafe { STACK_OF.insert(p as u64, stack, 0, c.single) }
                .ok()
                .flatten()
        })
        .flatten()
        .map_or(NO_STACK, |(s, _)| s);
    if let Some((s, e)) = old {
        release::<S>(c, p, Held::Pointer(s, e, old_stack));
    }
    if small == SIZE_BIG {
        track_big(c, p, size, epoch, stack);
    }
}

/// Records the size of an allocation of 4 GiB or more in the big list.
#[cold]
#[inline(never)]
fn track_big(c: &Ctx, p: *mut c_void, size: u64, epoch: u32, stack: u32) {
    if BIG
        .lock()
        .insert(p as usize, size as usize, epoch, stack)
        .is_err()
    {
        bookkeeping_full(c);
    }
}

#[cold]
#[inline(never)]
fn bookkeeping_full(c: &Ctx) {
    c.st.header.problems.fetch_or(PROBLEM_TABLE_FULL, Relaxed);
}

/// Takes `p`'s record (trailer or pointer-table entry), if it is a tracked block.
///
/// # Safety
/// `p` is a live block of the real allocator (the program frees or moves it).
#[inline(always)]
unsafe fn untrack<const S: bool>(c: &Ctx, p: *mut c_void) -> Option<Held> {
    if let Some(usable) = c.real.trailer_usable {
        // SAFETY: p is a live block of glibc's allocator (the caller's contract), whose
        // usable size `usable` tells.
        unsafe {
            if S {
                if let Some((s, e, k)) = trailer::take_stacked(p, usable(p)) {
                    return Some(Held::Trailer(s, e, k));
                }
            } else if let Some((s, e)) = trailer::take(p, usable(p)) {
                return Some(Held::Trailer(s, e, NO_STACK));
            }
        }
    }
    // SAFETY: `single` was read for this call, which creates no thread.
    let (s, e) = unsafe { POINTERS.remove(p as u64, c.single) }?;
    // SAFETY: as above.
    let k = S
        .then(|| unsafe { STACK_OF.remove(p as u64, c.single) })
        .flatten()
        .map_or(NO_STACK, |(k, _)| k);
    Some(Held::Pointer(s, e, k))
}

/// Accounts the free of a block whose record was taken.
#[inline(always)]
fn release<const S: bool>(c: &Ctx, p: *mut c_void, held: Held) {
    let (size, epoch, stack) = match held {
        Held::Trailer(s, e, k) => (s, e, k),
        Held::Pointer(SIZE_BIG, e, k) => (big_size(p), e, k),
        Held::Pointer(s, e, k) => (s as u64, e, k),
    };
    c.free::<S>(size, epoch, stack);
}

/// The size of an allocation of 4 GiB or more, taken out of the big list.
#[cold]
#[inline(never)]
fn big_size(p: *mut c_void) -> u64 {
    BIG.lock().take(p as usize).map_or(0, |(len, _, _)| len)
}

/// Puts back the record of a block whose realloc failed.
///
/// # Safety
/// `p` is still a live block, and `held` the record taken from it.
unsafe fn restore<const S: bool>(c: &Ctx, p: *mut c_void, held: Held) {
    match held {
        Held::Trailer(s, e, k) => {
            if let Some(usable) = c.real.trailer_usable {
                // SAFETY: p is live and held that record a moment ago (the caller's
                // contract), so it fits.
                unsafe {
                    if S {
                        trailer::write_stacked(p, usable(p), s, e, k)
                    } else {
                        trailer::write(p, usable(p), s, e)
                    }
                }
            }
        }
        Held::Pointer(s, e, k) => {
            // SAFETY: `single` was read for this call, which creates no thread.
            let kept = unsafe { POINTERS.insert(p as u64, s, e, c.single) }.is_ok()
                // SAFETY: as above.
                && (!S || unsafe { STACK_OF.insert(p as u64, k, 0, c.single) }.is_ok());
            if !kept {
                bookkeeping_full(c);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// malloc family

/// Shared body of every allocator that returns a pointer: `call(real, n)` makes the real
/// call for `n` bytes, `size` is what the program asked for, `align` serves the
/// bootstrap arena.
///
/// # Safety
/// `call` returns what the real allocator returned for the request: null, or a live
/// block of at least `n` bytes.
#[inline(always)]
unsafe fn allocate(
    size: usize,
    align: usize,
    call: impl Fn(&Real, usize) -> *mut c_void,
) -> *mut c_void {
    match enter() {
        Call::Track(c) => {
            if stacks::on() {
                core::hint::cold_path();
                // Taken here, in the hook's own frame: the walk then starts one step
                // from the program's code.
                let at = stacks::entry();
                // SAFETY: the caller's contract.
                return unsafe { allocate_stacked(c.into_parts(), size, call, at) };
            }
            let p = call(c.real, c.padded::<false>(size));
            if !p.is_null() {
                // SAFETY: the block the real allocator just returned (the caller's
                // contract).
                unsafe { track::<false>(&c, p, size) };
            }
            p
        }
        Call::Pass(r) => call(r, size),
        Call::Bootstrap => arena::alloc(size, align),
    }
}

/// [`allocate`]'s tracked call in stacks mode: a function of its own, so that the
/// context stays in registers on the path without stacks.
///
/// # Safety
/// As for [`allocate`].
#[inline(never)]
unsafe fn allocate_stacked(
    c: Parts,
    size: usize,
    call: impl Fn(&Real, usize) -> *mut c_void,
    at: stacks::Entry,
) -> *mut c_void {
    let c = Ctx::from_parts(c);
    let p = call(c.real, c.padded::<true>(size));
    if !p.is_null() {
        // `at` is the calling hook's frame, live until this returns.
        let stack = stacks::capture_from(c.t, at);
        // SAFETY: the block the real allocator just returned (the caller's contract).
        unsafe { track_stacked(&c, p, size, stack) };
    }
    p
}

/// The real function if this libc has it; otherwise NULL with ENOMEM, as a failed call.
#[inline(always)]
fn or_enomem<F>(f: Option<F>, call: impl FnOnce(F) -> *mut c_void) -> *mut c_void {
    match f {
        Some(f) => call(f),
        None => {
            sys::set_errno(libc::ENOMEM);
            core::ptr::null_mut()
        }
    }
}

/// # Safety
/// C `malloc`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub unsafe extern "C" fn malloc(size: usize) -> *mut c_void {
    // SAFETY: the real malloc's block, as it returned it.
    unsafe { allocate(size, 16, |r, n| (r.malloc)(n)) }
}

/// # Safety
/// C `calloc`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub unsafe extern "C" fn calloc(n: usize, size: usize) -> *mut c_void {
    // An overflowing product must fail as the real calloc fails it, so it is passed as is.
    // SAFETY: the real calloc's block, as it returned it.
    unsafe {
        match n.checked_mul(size) {
            Some(total) => allocate(total, 16, |r, t| (r.calloc)(1, t)),
            None => allocate(usize::MAX, 16, |r, _| (r.calloc)(n, size)),
        }
    }
}

/// # Safety
/// C `free`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub unsafe extern "C" fn free(p: *mut c_void) {
    if p.is_null() || arena::contains(p) {
        return;
    }
    match enter() {
        // SAFETY: free's contract: p is a live block of the allocator, freed once.
        Call::Track(c) => unsafe {
            if stacks::on() {
                core::hint::cold_path();
                return free_stacked(c.into_parts(), p);
            }
            if let Some(e) = untrack::<false>(&c, p) {
                release::<false>(&c, p, e);
            }
            (c.real.free)(p)
        },
        // SAFETY: as above.
        Call::Pass(r) => unsafe { (r.free)(p) },
        Call::Bootstrap => {} // cannot happen for a pointer the real allocator made; leak
    }
}

/// [`free`]'s tracked call in stacks mode (see [`allocate_stacked`]).
///
/// # Safety
/// C `free`, of a block of the real allocator.
#[inline(never)]
unsafe fn free_stacked(c: Parts, p: *mut c_void) {
    let c = Ctx::from_parts(c);
    // SAFETY: free's contract: p is a live block of the allocator, freed once.
    unsafe {
        if let Some(e) = untrack::<true>(&c, p) {
            release::<true>(&c, p, e);
        }
        (c.real.free)(p)
    }
}

/// Moves an allocation out of the bootstrap arena into the real heap.
///
/// # Safety
/// `p` is a block of the bootstrap arena.
unsafe fn realloc_from_arena(p: *mut c_void, size: usize) -> *mut c_void {
    // SAFETY: malloc has no preconditions beyond C's.
    let n = unsafe { malloc(size) };
    if !n.is_null() {
        // SAFETY: the arena block holds `size_of(p)` bytes (the caller's contract), the
        // new block `size`; they are distinct blocks.
        unsafe {
            core::ptr::copy_nonoverlapping(
                p as *const u8,
                n as *mut u8,
                size.min(arena::size_of(p)),
            )
        };
    }
    n
}

/// Body of a tracked realloc (reallocarray is a realloc once its product is known).
///
/// # Safety
/// realloc's contract for `p`; `call(n)` is the real realloc of `p` to `n` bytes.
#[inline(always)]
unsafe fn realloc_tracked<const S: bool>(
    c: &Ctx,
    p: *mut c_void,
    size: usize,
    call: impl FnOnce(usize) -> *mut c_void,
    at: Option<stacks::Entry>,
) -> *mut c_void {
    let old = if p.is_null() {
        None
    } else {
        // SAFETY: p is a live block (realloc's contract).
        unsafe { untrack::<S>(c, p) }
    };
    // realloc(p, 0) keeps its meaning (glibc frees p and returns NULL): no padding.
    let r = call(if size == 0 { 0 } else { c.padded::<S>(size) });
    if r.is_null() {
        match old {
            // glibc: realloc(p, 0) frees p and returns NULL.
            Some(e) if size == 0 => release::<S>(c, p, e),
            // SAFETY: a failed realloc leaves p as it was, live.
            Some(e) => unsafe { restore::<S>(c, p, e) },
            None => {}
        }
    } else {
        if let Some(e) = old {
            release::<S>(c, p, e);
        }
        // SAFETY: the block the real realloc just returned.
        unsafe {
            match at {
                // `at` is the calling hook's frame, live until this returns.
                Some(at) if S => track_stacked(c, r, size, stacks::capture_from(c.t, at)),
                _ => track::<S>(c, r, size),
            }
        }
    }
    r
}

/// # Safety
/// C `realloc`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub unsafe extern "C" fn realloc(p: *mut c_void, size: usize) -> *mut c_void {
    if !p.is_null() && arena::contains(p) {
        // SAFETY: a block of the arena.
        return unsafe { realloc_from_arena(p, size) };
    }
    match enter() {
        // SAFETY: realloc's contract, passed on; the closure is the real realloc of p.
        Call::Track(c) => unsafe {
            if stacks::on() {
                core::hint::cold_path();
                // In the hook's own frame, as in `allocate`.
                let at = stacks::entry();
                return realloc_stacked(c.into_parts(), p, size, at);
            }
            realloc_tracked::<false>(&c, p, size, |n| (c.real.realloc)(p, n), None)
        },
        // SAFETY: realloc's contract, passed on.
        Call::Pass(r) => unsafe { (r.realloc)(p, size) },
        Call::Bootstrap => arena::alloc(size, 16),
    }
}

/// [`realloc`]'s tracked call in stacks mode (see [`allocate_stacked`]).
///
/// # Safety
/// C `realloc`, of null or a block of the real allocator.
#[inline(never)]
unsafe fn realloc_stacked(c: Parts, p: *mut c_void, size: usize, at: stacks::Entry) -> *mut c_void {
    let c = Ctx::from_parts(c);
    // SAFETY: realloc's contract, passed on; the closure is the real realloc of p.
    unsafe { realloc_tracked::<true>(&c, p, size, |n| (c.real.realloc)(p, n), Some(at)) }
}

/// # Safety
/// C `reallocarray`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub unsafe extern "C" fn reallocarray(p: *mut c_void, n: usize, size: usize) -> *mut c_void {
    // Once the product is known not to overflow, reallocarray is that realloc (glibc's
    // is exactly this), padding and bootstrap arena included.
    match n.checked_mul(size) {
        // SAFETY: reallocarray's contract is realloc's.
        Some(total) => unsafe { realloc(p, total) },
        None => {
            sys::set_errno(libc::ENOMEM);
            core::ptr::null_mut()
        }
    }
}

/// # Safety
/// C `posix_memalign`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub unsafe extern "C" fn posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> c_int {
    let call = |r: &Real, n: usize| match r.posix_memalign {
        // SAFETY: posix_memalign's contract, passed on (`out` is writable).
        Some(f) => unsafe { f(out, align, n) },
        None => libc::ENOMEM,
    };
    match enter() {
        Call::Track(c) => {
            let stacked = stacks::on();
            let rc = if stacked {
                call(c.real, c.padded::<true>(size))
            } else {
                call(c.real, c.padded::<false>(size))
            };
            if rc == 0 {
                // SAFETY: the real call succeeded: `*out` is the block it just made.
                unsafe {
                    if stacked {
                        track::<true>(&c, *out, size)
                    } else {
                        track::<false>(&c, *out, size)
                    }
                };
            }
            rc
        }
        Call::Pass(r) => call(r, size),
        Call::Bootstrap => {
            let p = arena::alloc(size, align);
            if p.is_null() {
                return libc::ENOMEM;
            }
            // SAFETY: `out` is writable (posix_memalign's contract).
            unsafe { *out = p };
            0
        }
    }
}

/// # Safety
/// C `aligned_alloc`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub unsafe extern "C" fn aligned_alloc(align: usize, size: usize) -> *mut c_void {
    // SAFETY: the real aligned_alloc's block, as it returned it.
    unsafe {
        allocate(size, align, |r, n| {
            or_enomem(r.aligned_alloc, |f| f(align, n))
        })
    }
}

/// # Safety
/// C `memalign`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub unsafe extern "C" fn memalign(align: usize, size: usize) -> *mut c_void {
    // SAFETY: the real memalign's block, as it returned it.
    unsafe { allocate(size, align, |r, n| or_enomem(r.memalign, |f| f(align, n))) }
}

/// # Safety
/// C `valloc`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub unsafe extern "C" fn valloc(size: usize) -> *mut c_void {
    // SAFETY: the real valloc's block, as it returned it.
    unsafe { allocate(size, sys::page_size(), |r, n| or_enomem(r.valloc, |f| f(n))) }
}

/// # Safety
/// C `pvalloc`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub unsafe extern "C" fn pvalloc(size: usize) -> *mut c_void {
    // pvalloc rounds up to whole pages, so it is asked for `size` as is: 8 more bytes
    // could cost a page, and glibc's block already ends 8 bytes past its pages (pvalloc
    // of 1 to 4096 bytes is 4104 usable), room for the record. Without room, the pointer
    // table serves.
    // SAFETY: the real pvalloc's block, as it returned it.
    unsafe {
        allocate(size, sys::page_size(), |r, _| {
            or_enomem(r.pvalloc, |f| f(size))
        })
    }
}

/// The usable size of a block, less its trailer: the program may use every byte we
/// report and never reaches the record.
///
/// # Safety
/// C `malloc_usable_size`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub unsafe extern "C" fn malloc_usable_size(p: *mut c_void) -> usize {
    if p.is_null() {
        return 0;
    }
    if arena::contains(p) {
        return arena::size_of(p);
    }
    let Some(r) = real::resolve() else {
        return 0;
    };
    let Some(usable) = r.malloc_usable_size else {
        return 0;
    };
    // SAFETY: p is a live block of the allocator (malloc_usable_size's contract), whose
    // usable size is `u`.
    unsafe {
        let u = usable(p);
        if r.trailer_usable.is_some() && trailer::peek(p, u).is_some() {
            u - trailer::pad()
        } else {
            u
        }
    }
}

// ---------------------------------------------------------------------------------------
// Mappings: anonymous, accessible mappings count; file mappings and PROT_NONE
// reservations do not. The mappings lock is held across the system call so the range
// set and the kernel agree on which addresses are ours.
//
// Reservations made outside any allocator call are remembered (not counted) so that an
// mprotect making them accessible, the way a runtime with a heap of its own (V8, a
// coroutine library's stacks) takes memory into use, can be reported. glibc's arenas
// reserve and mprotect inside malloc, with the guard raised: never seen here. Mappings
// are locked before reservations, as in `bookkeeping::LOCK_ORDER`.

/// Forgets the reservations in `[addr, addr + len)`; returns how many bytes they held.
fn unreserve(addr: usize, len: usize) -> u64 {
    if !ANY_RESERVED.load(Relaxed) {
        return 0;
    }
    RESERVED
        .lock()
        .remove(addr, sys::page_round(len), |_, _, _| {})
}

/// Remembers the reservation `[addr, addr + len)`.
fn reserve(addr: usize, len: usize) {
    let mut reserved = RESERVED.lock();
    // A stale entry there (unmapped by a raw system call) would overlap the new one.
    reserved.remove(addr, sys::page_round(len), |_, _, _| {});
    if reserved.len() < MAX_RESERVED && reserved.insert(addr, sys::page_round(len), 0, 0).is_ok() {
        ANY_RESERVED.store(true, Relaxed);
    }
}

/// Accounts every tracked byte in `[addr, addr + len)` as freed; returns how many.
fn unmap_range(c: &Ctx, mappings: &mut RangeSet, addr: usize, len: usize) -> u64 {
    mappings.remove(addr, sys::page_round(len), |bytes, epoch, stack| {
        if stacks::on() {
            c.free::<true>(bytes, epoch, stack)
        } else {
            c.free::<false>(bytes, epoch, stack)
        }
    })
}

/// Accounts a new tracked mapping `[addr, addr + len)` made by stack `stack`: one
/// allocation of `len` bytes.
fn map_range(c: &Ctx, mappings: &mut RangeSet, addr: usize, len: usize, stack: u32) {
    let epoch = if stacks::on() {
        c.alloc::<true>(len as u64, stack)
    } else {
        c.alloc::<false>(len as u64, stack)
    };
    if mappings.insert(addr, len, epoch, stack).is_err() {
        bookkeeping_full(c);
    }
}

/// The stack of a counted mapping call, in stacks mode (captured before any lock).
#[inline(always)]
fn mapping_stack(c: &Ctx) -> u32 {
    if stacks::on() {
        stacks::capture(c.t)
    } else {
        NO_STACK
    }
}

/// Shared body of mmap and mmap64 (`pick` chooses which real one).
///
/// # Safety
/// mmap's contract.
#[inline(always)]
unsafe fn mmap_hook(
    pick: fn(&Real) -> real::sig::mmap,
    addr: *mut c_void,
    len: usize,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    off: i64,
) -> *mut c_void {
    // SAFETY (every call below): mmap's contract, passed on with the program's arguments.
    let c = match enter() {
        Call::Track(c) => c,
        // SAFETY: see above.
        Call::Pass(r) => return unsafe { pick(r)(addr, len, prot, flags, fd, off) },
        // SAFETY: see above.
        Call::Bootstrap => return unsafe { sys::raw_mmap(addr, len, prot, flags, fd, off) },
    };
    let anon = flags & libc::MAP_ANONYMOUS != 0;
    let counted = anon && prot != libc::PROT_NONE;
    let reservation = anon && prot == libc::PROT_NONE;
    if !counted && !reservation && flags & libc::MAP_FIXED == 0 {
        // SAFETY: see above.
        return unsafe { pick(c.real)(addr, len, prot, flags, fd, off) };
    }
    let stack = if counted { mapping_stack(&c) } else { NO_STACK };
    let mut mappings = MAPPINGS.lock();
    // SAFETY: see above.
    let r = unsafe { pick(c.real)(addr, len, prot, flags, fd, off) };
    if r != libc::MAP_FAILED {
        if flags & libc::MAP_FIXED != 0 {
            unmap_range(&c, &mut mappings, r as usize, len);
            unreserve(r as usize, len);
        }
        if counted {
            map_range(&c, &mut mappings, r as usize, len, stack);
        }
        if reservation {
            reserve(r as usize, len);
        }
    }
    r
}

/// # Safety
/// C `mmap`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub unsafe extern "C" fn mmap(
    addr: *mut c_void,
    len: usize,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    off: i64,
) -> *mut c_void {
    // SAFETY: mmap's contract, passed on.
    unsafe { mmap_hook(|r| r.mmap, addr, len, prot, flags, fd, off) }
}

/// # Safety
/// C `mmap64`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub unsafe extern "C" fn mmap64(
    addr: *mut c_void,
    len: usize,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    off: i64,
) -> *mut c_void {
    // SAFETY: mmap64's contract is mmap's, passed on.
    unsafe { mmap_hook(|r| r.mmap64, addr, len, prot, flags, fd, off) }
}

/// # Safety
/// C `munmap`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub unsafe extern "C" fn munmap(addr: *mut c_void, len: usize) -> c_int {
    match enter() {
        Call::Track(c) => {
            let mut mappings = MAPPINGS.lock();
            // SAFETY: munmap's contract, passed on.
            let r = unsafe { (c.real.munmap)(addr, len) };
            if r == 0 {
                unmap_range(&c, &mut mappings, addr as usize, len);
                unreserve(addr as usize, len);
            }
            r
        }
        // SAFETY: munmap's contract, passed on.
        Call::Pass(r) => unsafe { (r.munmap)(addr, len) },
        // SAFETY: munmap's contract, passed on.
        Call::Bootstrap => unsafe { libc::syscall(libc::SYS_munmap, addr, len) as c_int },
    }
}

/// `mremap` is variadic in C; the optional fifth argument (new address, read only with
/// `MREMAP_FIXED`) arrives in the fifth argument register either way, so we forward it.
///
/// # Safety
/// C `mremap`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub unsafe extern "C" fn mremap(
    old: *mut c_void,
    old_len: usize,
    new_len: usize,
    flags: c_int,
    new_addr: *mut c_void,
) -> *mut c_void {
    // SAFETY: mremap's contract, passed on.
    let raw = || unsafe {
        libc::syscall(libc::SYS_mremap, old, old_len, new_len, flags, new_addr) as *mut c_void
    };
    let call = |r: &Real| match r.mremap {
        // SAFETY: mremap's contract, passed on.
        Some(f) => unsafe { f(old, old_len, new_len, flags, new_addr) },
        None => raw(),
    };
    match enter() {
        Call::Track(c) => {
            let stack = mapping_stack(&c);
            let mut mappings = MAPPINGS.lock();
            let r = call(c.real);
            // A tracked mapping resized: the free of the old one, one allocation of the new.
            if r != libc::MAP_FAILED && unmap_range(&c, &mut mappings, old as usize, old_len) > 0 {
                map_range(&c, &mut mappings, r as usize, new_len, stack);
            }
            if r != libc::MAP_FAILED {
                unreserve(old as usize, old_len);
            }
            r
        }
        Call::Pass(r) => call(r),
        Call::Bootstrap => raw(),
    }
}

/// Making part of a recorded reservation readable or writable takes memory into use that
/// no allocation counted: its bytes go to the state's `unprotected_bytes` (once: the
/// part stops being a reservation).
///
/// # Safety
/// C `mprotect`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub unsafe extern "C" fn mprotect(addr: *mut c_void, len: usize, prot: c_int) -> c_int {
    // SAFETY: mprotect's contract, passed on.
    let raw = || unsafe { libc::syscall(libc::SYS_mprotect, addr, len, prot) as c_int };
    let call = |r: &Real| match r.mprotect {
        // SAFETY: mprotect's contract, passed on.
        Some(f) => unsafe { f(addr, len, prot) },
        None => raw(),
    };
    let opens = prot & (libc::PROT_READ | libc::PROT_WRITE) != 0;
    match enter() {
        Call::Track(c) if opens && ANY_RESERVED.load(Relaxed) => {
            let r = call(c.real);
            if r == 0 {
                let n = unreserve(addr as usize, len);
                if n > 0 {
                    c.st.header.unprotected_bytes.fetch_add(n, Relaxed);
                }
            }
            r
        }
        Call::Track(c) => call(c.real),
        Call::Pass(r) => call(r),
        Call::Bootstrap => raw(),
    }
}
