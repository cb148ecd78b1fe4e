//! A spinlock that holds the data it guards.
//!
//! Critical sections are short memory updates (a table probe, a region fold); nothing
//! inside one calls the real allocator or blocks, so spinning beats a futex and needs no
//! allocation or registration. After many spins we yield, so a preempted holder on a
//! 2-core machine does not burn the other core.
//!
//! The data is reached only through a [`SpinGuard`], which releases the lock when it is
//! dropped, so no early return can leave it held. While the process has a single thread
//! the hot paths skip the atomic altogether ([`SpinLock::lock_unless_single`]). Around
//! `fork` the locks are held without a guard and released by [`SpinLock::force_unlock`].

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicU32, Ordering};

/// A test-and-test-and-set lock around a `T`.
pub struct SpinLock<T> {
    locked: AtomicU32,
    data: UnsafeCell<T>,
}

// SAFETY: `data` is reached only through a guard, and a guard exists only while its thread
// holds the lock, or while the process has no other thread (`lock_unless_single`): one
// thread at a time, so sharing the lock shares a `T` as sending it would.
unsafe impl<T: Send> Sync for SpinLock<T> {}

impl<T: Default> Default for SpinLock<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> SpinLock<T> {
    /// An unlocked lock around `data`.
    pub const fn new(data: T) -> Self {
        SpinLock {
            locked: AtomicU32::new(0),
            data: UnsafeCell::new(data),
        }
    }

    /// Takes the lock; it is released when the guard is dropped.
    #[inline(always)]
    pub fn lock(&self) -> SpinGuard<'_, T> {
        self.acquire();
        SpinGuard {
            lock: self,
            held: true,
        }
    }

    /// Takes the lock, unless `single` says the process has a single thread: then nobody
    /// else can hold it or wait for it, and the guard touches no atomic.
    ///
    /// # Safety
    /// `single` is true only when no other thread can take this lock while the guard
    /// lives (in the hooks: the process has a single thread, read for this call, and a
    /// hook creates none), and no signal handler of this thread takes it (none of ours
    /// does).
    #[inline(always)]
    pub unsafe fn lock_unless_single(&self, single: bool) -> SpinGuard<'_, T> {
        if !single {
            self.acquire();
        }
        SpinGuard {
            lock: self,
            held: !single,
        }
    }

    /// Takes the lock with no guard to release it: before `fork`, so the child copies data
    /// no other thread is changing. [`force_unlock`](Self::force_unlock) releases it, in
    /// the parent and in the child.
    pub fn lock_for_fork(&self) {
        core::mem::forget(self.lock());
    }

    /// Releases the lock whoever holds it.
    ///
    /// # Safety
    /// No guard of this lock is in use: the lock was taken by
    /// [`lock_for_fork`](Self::lock_for_fork) (in the parent after `fork`), or its holder
    /// no longer exists (in the child, where only the forking thread survives).
    pub unsafe fn force_unlock(&self) {
        self.locked.store(0, Ordering::Release);
    }

    #[inline(always)]
    fn acquire(&self) {
        if self
            .locked
            .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.acquire_slow();
        }
    }

    #[cold]
    fn acquire_slow(&self) {
        let mut spins = 0u32;
        loop {
            while self.locked.load(Ordering::Relaxed) != 0 {
                spins += 1;
                if spins < 64 {
                    core::hint::spin_loop();
                } else {
                    // SAFETY: sched_yield has no preconditions.
                    unsafe { libc::syscall(libc::SYS_sched_yield) };
                }
            }
            if self
                .locked
                .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

/// Access to the data of a [`SpinLock`]; releases the lock when dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
    /// False for a guard of [`SpinLock::lock_unless_single`] that skipped the lock.
    held: bool,
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    #[inline(always)]
    fn deref(&self) -> &T {
        // SAFETY: this guard's thread holds the lock, or is the only thread.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only borrow of the guard.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        if self.held {
            self.lock.locked.store(0, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_exclude_each_other_and_release_on_drop() {
        static COUNT: SpinLock<u64> = SpinLock::new(0);
        let hs: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    for _ in 0..100_000 {
                        *COUNT.lock() += 1;
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(*COUNT.lock(), 400_000);
    }

    #[test]
    fn a_lock_held_for_fork_is_released_by_force() {
        let l = SpinLock::new(1u32);
        l.lock_for_fork();
        assert_ne!(l.locked.load(Ordering::Relaxed), 0);
        // SAFETY: taken by lock_for_fork just above, and no guard is alive.
        unsafe { l.force_unlock() };
        *l.lock() += 1;
        assert_eq!(*l.lock(), 2);
    }
}
