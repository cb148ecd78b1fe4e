//! The hot word: live bytes and their high-water mark, updated by every allocation and
//! free.
//!
//! Every allocation and free updates one 16-byte word — live bytes `L` (with a 16-bit
//! generation) and the mark `M = max L since the last fold` — with a single
//! `cmpxchg16b`, or plain stores while the process has one thread. That single
//! read-modify-write puts all threads' events in one order, so peaks are exact without a
//! lock on the hot path.
//!
//! Allocations are stamped with the epoch current at their update; the generation names
//! a [`Generation`] record so the fast path can tell, without a lock, that a free is of
//! memory newer than every open region ("young"): then only `L` drops. Older frees, and
//! the folds that keep region peaks exact, belong to [`crate::regions`].

use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering::Relaxed};

use benchmem_wire::state::{Hot, LIVE_MASK, MAX_THREAD_SLOTS, ProcessState, pack, unpack};

use crate::tls;

/// The current process's shared state; null when not tracking.
static STATE: AtomicPtr<ProcessState> = AtomicPtr::new(core::ptr::null_mut());

/// The tracked process state, or null.
#[inline(always)]
pub fn state() -> *const ProcessState {
    STATE.load(Relaxed)
}

/// The tracked process state, if this process is tracked.
#[inline(always)]
pub fn current() -> Option<&'static ProcessState> {
    // SAFETY: a published state is initialised before it is published, and stays mapped
    // as long as any thread can hold it: only a fork child unmaps a state (its copy of
    // the parent's), after publishing its own, while it has one thread and is in no hook.
    unsafe { state().as_ref() }
}

/// Starts tracking into `st` (already initialised by [`crate::regions::init_state`]).
pub fn publish(st: *mut ProcessState) {
    STATE.store(st, core::sync::atomic::Ordering::Release);
}

/// What one generation of the hot word stands for.
#[derive(Clone, Copy)]
pub struct Generation {
    /// The epoch allocations are stamped with.
    pub epoch: u32,
    /// Frees of memory stamped before this epoch are old for some open region.
    pub threshold: u32,
}

/// A [`Generation`] per generation number, packed as `epoch | threshold << 32`.
static RECORDS: [AtomicU64; 1 << 16] = [const { AtomicU64::new(0) }; 1 << 16];

impl Generation {
    #[inline(always)]
    fn packed(self) -> u64 {
        self.epoch as u64 | (self.threshold as u64) << 32
    }
}

/// Makes `g` the record of generation 0 (a fresh state's hot word is all zero).
pub fn start(g: Generation) {
    RECORDS[0].store(g.packed(), Relaxed);
}

/// True when epoch `a` is before epoch `b` (wrapping).
#[inline(always)]
pub fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

// ---------------------------------------------------------------------------------------
// The 16-byte compare-and-swap on the hot word.

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn cas_hot(hot: &Hot, old: (u64, u64), new: (u64, u64)) -> Result<(), (u64, u64)> {
    let (mut lo, mut hi) = old;
    let swapped: u8;
    // SAFETY: `Hot` is 64-byte aligned and starts with the two words. cmpxchg16b wants the
    // new low word in rbx, which cannot be named as an operand, yet LLVM may allocate it
    // to a register operand: so every operand is pinned to an explicit register and the
    // new low word is swapped into rbx and back (`mov` leaves the flags alone). ZF says
    // whether the exchange happened; rdx:rax hold the current value when it did not.
    unsafe {
        core::arch::asm!(
            "xchg rdi, rbx",
            "lock cmpxchg16b xmmword ptr [rsi]",
            "sete {swapped}",
            "mov rbx, rdi",
            in("rsi") hot as *const Hot,
            inout("rdi") new.0 => _,
            in("rcx") new.1,
            inout("rax") lo,
            inout("rdx") hi,
            swapped = out(reg_byte) swapped,
            options(nostack),
        );
    }
    if swapped != 0 { Ok(()) } else { Err((lo, hi)) }
}

#[cfg(not(target_arch = "x86_64"))]
static HOT_LOCK: crate::spin::SpinLock<()> = crate::spin::SpinLock::new(());

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn cas_hot(hot: &Hot, old: (u64, u64), new: (u64, u64)) -> Result<(), (u64, u64)> {
    let _locked = HOT_LOCK.lock();
    let cur = (hot.live_gen.load(Relaxed), hot.mark.load(Relaxed));
    let r = if cur == old {
        hot.live_gen.store(new.0, Relaxed);
        hot.mark.store(new.1, Relaxed);
        Ok(())
    } else {
        Err(cur)
    };
    r
}

/// Replaces the hot word `old` by `new`: one `cmpxchg16b`, or two plain stores while the
/// process has a single thread (`single`: then `old`, just loaded by this thread, is current).
#[inline(always)]
fn update_hot(hot: &Hot, old: (u64, u64), new: (u64, u64), single: bool) -> Result<(), (u64, u64)> {
    if single {
        hot.live_gen.store(new.0, Relaxed);
        hot.mark.store(new.1, Relaxed);
        return Ok(());
    }
    cas_hot(hot, old, new)
}

#[inline(always)]
fn load_hot(hot: &Hot) -> (u64, u64) {
    (hot.live_gen.load(Relaxed), hot.mark.load(Relaxed))
}

// ---------------------------------------------------------------------------------------
// Fast paths.

/// Accounts an allocation of `size` bytes; returns the epoch to stamp it with. `single`:
/// the process has one thread (see [`crate::real::single_threaded`]).
#[inline(always)]
pub fn alloc(st: &ProcessState, t: tls::Current, size: u64, single: bool) -> u32 {
    let mut cur = load_hot(&st.hot);
    let generation = loop {
        let (l, g) = unpack(cur.0);
        let nl = l.saturating_add(size).min(LIVE_MASK);
        match update_hot(&st.hot, cur, (pack(nl, g), cur.1.max(nl)), single) {
            Ok(()) => break g,
            Err(now) => cur = now,
        }
    };
    count(st, t, size);
    RECORDS[generation as usize].load(Relaxed) as u32
}

/// Accounts the free of `size` bytes allocated at `epoch`.
#[inline(always)]
pub fn free(st: &ProcessState, size: u64, epoch: u32, single: bool) {
    let mut cur = load_hot(&st.hot);
    loop {
        let (l, g) = unpack(cur.0);
        let threshold = (RECORDS[g as usize].load(Relaxed) >> 32) as u32;
        if before(epoch, threshold) {
            return crate::regions::free_old(st, size, epoch);
        }
        match update_hot(
            &st.hot,
            cur,
            (pack(l.saturating_sub(size), g), cur.1),
            single,
        ) {
            Ok(()) => return,
            Err(now) => cur = now,
        }
    }
}

#[inline(always)]
fn count(st: &ProcessState, t: tls::Current, size: u64) {
    let i = t.slot().wrapping_sub(1) as usize;
    if i < MAX_THREAD_SLOTS {
        // Only this thread writes its slot: plain load/store, no locked instruction.
        let c = &st.threads[i];
        c.allocations
            .store(c.allocations.load(Relaxed) + 1, Relaxed);
        c.bytes
            .store(c.bytes.load(Relaxed).wrapping_add(size), Relaxed);
    } else {
        count_slow(st, t, size);
    }
}

#[cold]
#[inline(never)]
fn count_slow(st: &ProcessState, t: tls::Current, size: u64) {
    if t.slot() == 0 {
        let i = st.threads_used.fetch_add(1, Relaxed) as usize;
        if i < MAX_THREAD_SLOTS {
            t.set_slot(i as u32 + 1);
            return count(st, t, size);
        }
        t.set_slot(u32::MAX);
    }
    st.overflow.allocations.fetch_add(1, Relaxed);
    st.overflow.bytes.fetch_add(size, Relaxed);
}

/// Resets `L`/`M` to a fold point: `L -= minus`, `M = L`, moving to a new generation when
/// one is given. Returns the mark before the fold and the live bytes after.
pub fn fold(st: &ProcessState, minus: u64, new: Option<Generation>) -> (u64, u64) {
    let mut cur = load_hot(&st.hot);
    loop {
        let (l, g) = unpack(cur.0);
        let ng = if new.is_some() { g.wrapping_add(1) } else { g };
        if let Some(r) = new {
            // Written before the CAS that publishes `ng` (a full barrier).
            RECORDS[ng as usize].store(r.packed(), Relaxed);
        }
        let nl = l.saturating_sub(minus);
        match update_hot(
            &st.hot,
            cur,
            (pack(nl, ng), nl),
            crate::real::single_threaded(),
        ) {
            Ok(()) => return (cur.1, nl),
            Err(now) => cur = now,
        }
    }
}
