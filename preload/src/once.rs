//! Bytes found once at start (a path, a library name) and read for the rest of the
//! process, in static memory: no allocation, no lock.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicUsize, Ordering};

/// Up to `N` bytes, set from the constructor and read afterwards.
pub struct OnceBytes<const N: usize> {
    bytes: UnsafeCell<[u8; N]>,
    len: AtomicUsize,
}

// SAFETY: the bytes are written only by `set`, from the constructor while the process has
// one thread, before the length that makes them visible is stored (Release); readers
// load the length (Acquire) and read only that many bytes, which are never written again.
unsafe impl<const N: usize> Sync for OnceBytes<N> {}

impl<const N: usize> OnceBytes<N> {
    /// Empty bytes.
    pub const fn new() -> Self {
        OnceBytes {
            bytes: UnsafeCell::new([0; N]),
            len: AtomicUsize::new(0),
        }
    }

    /// Sets the bytes to `s`, cut to `N` bytes. From the constructor only, once.
    pub fn set(&self, s: &[u8]) {
        let n = s.len().min(N);
        // SAFETY: see the Sync impl: nobody reads the bytes before the length says so.
        unsafe { (&mut *self.bytes.get())[..n].copy_from_slice(&s[..n]) };
        self.len.store(n, Ordering::Release);
    }

    /// The bytes (empty until set).
    pub fn get(&self) -> &[u8] {
        let n = self.len.load(Ordering::Acquire);
        // SAFETY: see the Sync impl: the first `n` bytes are written and stay as they are.
        unsafe { &(&*self.bytes.get())[..n] }
    }
}

impl<const N: usize> Default for OnceBytes<N> {
    fn default() -> Self {
        Self::new()
    }
}
