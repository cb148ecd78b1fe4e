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
}

#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    ".pushsection .tbss,\"awT\",@nobits",
    ".balign 8",
    ".globl benchmem_thread_state",
    ".hidden benchmem_thread_state",
    ".type benchmem_thread_state,@object",
    ".size benchmem_thread_state,8",
    "benchmem_thread_state:",
    ".zero 8",
    ".popsection",
);

/// This thread's state (x86_64: initial-exec TLS).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub fn current() -> *mut ThreadState {
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
        const { core::cell::UnsafeCell::new(ThreadState { guard: 0, slot: 0 }) };
}

/// This thread's state (other architectures: const-initialised thread_local, no destructor).
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
pub fn current() -> *mut ThreadState {
    STATE.with(|s| s.get())
}

/// Sets the guard for the lifetime of the returned value.
pub struct Guard(*mut ThreadState, u32);

impl Guard {
    /// Raises this thread's guard.
    #[inline(always)]
    pub fn enter() -> Guard {
        let t = current();
        // SAFETY: t is this thread's own state.
        let prev = unsafe { (*t).guard };
        unsafe { (*t).guard = 1 };
        Guard(t, prev)
    }
}

impl Drop for Guard {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: as in `enter`.
        unsafe { (*self.0).guard = self.1 };
    }
}
