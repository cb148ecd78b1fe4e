//! A spinlock for the preload's bookkeeping.
//!
//! Critical sections are short memory updates (a table probe, a region fold); nothing
//! inside one calls the real allocator or blocks, so spinning beats a futex and needs no
//! allocation or registration. After many spins we yield, so a preempted holder on a
//! 2-core machine does not burn the other core.

use core::sync::atomic::{AtomicU32, Ordering};

/// A test-and-test-and-set lock.
pub struct Spin(AtomicU32);

impl Default for Spin {
    fn default() -> Self {
        Self::new()
    }
}

impl Spin {
    /// An unlocked lock.
    pub const fn new() -> Self {
        Spin(AtomicU32::new(0))
    }

    /// Takes the lock.
    #[inline(always)]
    pub fn lock(&self) {
        if self
            .0
            .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_slow();
        }
    }

    #[cold]
    fn lock_slow(&self) {
        let mut spins = 0u32;
        loop {
            while self.0.load(Ordering::Relaxed) != 0 {
                spins += 1;
                if spins < 64 {
                    core::hint::spin_loop();
                } else {
                    // SAFETY: sched_yield has no preconditions.
                    unsafe { libc::syscall(libc::SYS_sched_yield) };
                }
            }
            if self
                .0
                .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }

    /// Releases the lock.
    #[inline(always)]
    pub fn unlock(&self) {
        self.0.store(0, Ordering::Release);
    }

    /// Forgets any holder: only for the child after fork, where the holder no longer exists.
    pub fn reset(&self) {
        self.0.store(0, Ordering::Release);
    }
}
