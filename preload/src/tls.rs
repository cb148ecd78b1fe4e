//! Per-thread state: the reentrancy guard and the thread's counter slot.
//!
//! Must be initial-exec TLS: the default (global-dynamic) model reaches it through
//! `__tls_get_addr`, which may call malloc after a `dlopen` grows the DTV, which would
//! re-enter our hooks before the guard can be read. On x86_64 we declare the block in
//! `.tbss` ourselves and address it with `@GOTTPOFF`, which stable Rust cannot ask for
//! otherwise. The block is plain bytes: no destructor, no lazy initialisation.

/// This thread's preload state.
#[repr(C)]
pub struct ThreadState {
    /// Nonzero while this thread is inside a hook or the region API: nested calls pass
    /// straight through, uncounted.
    pub guard: u32,
    /// 0: no counter slot yet; `n`: slot `n - 1`; `u32::MAX`: the shared overflow slot.
    pub slot: u32,
    /// The mappings that held this thread's stack pointer at its last two lookups
    /// (`[lo, hi)`; 0, 0 until then), newest first: its stack, and the alternate stack
    /// its signal handlers run on. They bound the stack walks of `--stacks`.
    pub stacks: [(u64, u64); 2],
    /// Times the stack's mapping was looked for (a thread switching stacks, as a
    /// coroutine library does, looks again for each: bounded).
    pub stack_lookups: u32,
    _pad: u32,
}

#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    ".pushsection .tbss,\"awT\",@nobits",
    ".balign 8",
    ".globl benchmem_thread_state",
    ".hidden benchmem_thread_state",
    ".type benchmem_thread_state,@object",
    ".size benchmem_thread_state,48",
    "benchmem_thread_state:",
    ".zero 48",
    ".popsection",
);

/// This thread's state (x86_64: initial-exec TLS).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn state_ptr() -> *mut ThreadState {
    let p: *mut ThreadState;
    // SAFETY: reads the thread pointer and the GOT slot the linker filled with our
    // block's offset from it.
    unsafe {
        core::arch::asm!(
            "mov {p}, qword ptr fs:[0]",
            "add {p}, qword ptr [rip + benchmem_thread_state@GOTTPOFF]",
            p = out(reg) p,
            options(pure, readonly, nostack),
        );
    }
    p
}

#[cfg(not(target_arch = "x86_64"))]
std::thread_local! {
    static STATE: core::cell::UnsafeCell<ThreadState> =
        const {
            core::cell::UnsafeCell::new(ThreadState {
                guard: 0,
                slot: 0,
                stacks: [(0, 0); 2],
                stack_lookups: 0,
                _pad: 0,
            })
        };
}

/// This thread's state (other architectures: const-initialised thread_local, no destructor).
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn state_ptr() -> *mut ThreadState {
    STATE.with(|s| s.get())
}

/// This thread's state, as a handle that stays on this thread: made only by [`current`],
/// and neither `Send` nor `Sync` (the raw pointer inside sees to that), so only the
/// thread that owns the state ever reads or writes it, and never while a reference to it
/// exists (none is handed out).
#[derive(Clone, Copy)]
pub struct Current(*mut ThreadState);

/// This thread's state.
#[inline(always)]
pub fn current() -> Current {
    Current(state_ptr())
}

impl Current {
    /// The reentrancy guard.
    #[inline(always)]
    pub fn guard(self) -> u32 {
        // SAFETY: this thread's own state (see `Current`), alive as long as the thread.
        unsafe { (*self.0).guard }
    }

    /// Sets the reentrancy guard; returns what it was.
    #[inline(always)]
    pub fn set_guard(self, v: u32) -> u32 {
        // SAFETY: as in `guard`.
        unsafe { core::ptr::replace(&raw mut (*self.0).guard, v) }
    }

    /// The counter slot (see [`ThreadState::slot`]).
    #[inline(always)]
    pub fn slot(self) -> u32 {
        // SAFETY: as in `guard`.
        unsafe { (*self.0).slot }
    }

    /// Sets the counter slot.
    #[inline(always)]
    pub fn set_slot(self, v: u32) {
        // SAFETY: as in `guard`.
        unsafe { (*self.0).slot = v }
    }
}

impl Current {
    /// The stack mappings last found (see [`ThreadState::stacks`]).
    #[inline(always)]
    pub fn stacks(self) -> [(u64, u64); 2] {
        // SAFETY: as in `guard`.
        unsafe { (*self.0).stacks }
    }

    /// Records the stack mapping just found: it replaces the one it grew from (same
    /// top), or else the older one; a lookup is counted when it is neither.
    pub fn set_stack(self, lo: u64, hi: u64) {
        // SAFETY: as in `guard`.
        unsafe {
            let s = &mut (*self.0).stacks;
            if s[0].1 == hi {
                s[0] = (lo, hi);
            } else if s[1].1 == hi {
                s[1] = s[0];
                s[0] = (lo, hi);
            } else {
                s[1] = s[0];
                s[0] = (lo, hi);
                (*self.0).stack_lookups += 1;
            }
        }
    }

    /// Counts a lookup that found nothing.
    pub fn count_lookup(self) {
        // SAFETY: as in `guard`.
        unsafe { (*self.0).stack_lookups += 1 }
    }

    /// Lookups of the stack mapping made by this thread.
    pub fn stack_lookups(self) -> u32 {
        // SAFETY: as in `guard`.
        unsafe { (*self.0).stack_lookups }
    }
}

const _: () = assert!(core::mem::size_of::<ThreadState>() == 48);

/// Sets the guard for the lifetime of the returned value.
pub struct Guard(Current, u32);

impl Guard {
    /// Raises this thread's guard.
    #[inline(always)]
    pub fn enter() -> Guard {
        let t = current();
        let prev = t.set_guard(1);
        Guard(t, prev)
    }
}

impl Drop for Guard {
    #[inline(always)]
    fn drop(&mut self) {
        self.0.set_guard(self.1);
    }
}
