//! Pointer → (requested size, epoch) for live tracked allocations that carry no
//! [`crate::trailer`] record: every block under an allocator other than glibc's, and the
//! rare glibc block without room for one.
//!
//! Exact frees need the size each pointer was allocated with. The table is split into
//! [`SHARDS`] independently locked open-addressing shards (linear probing, backward-shift
//! deletion, so no tombstones), picked by hash: two threads rarely meet on one lock, and
//! no lock is ever held across a call into the allocator. While the process has a single
//! thread, the locks are skipped altogether. Memory comes from raw `mmap`
//! and grows by 1.5× at 3/4 load (short probe runs): 16-byte entries cost 21 to 32 bytes per live
//! allocation, at least one page per shard used.

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::spin::SpinLock;
use crate::sys;

/// Number of shards (a power of two).
pub const SHARDS: usize = 256;
/// `size` value meaning "≥ 4 GiB: the real size is in the big-allocation list".
pub const SIZE_BIG: u32 = u32::MAX;

#[repr(C)]
#[derive(Clone, Copy)]
struct Entry {
    key: u64,
    size: u32,
    epoch: u32,
}

const ENTRY: usize = core::mem::size_of::<Entry>();
/// Entries in a shard's first array: one page. A low first load keeps probe runs short.
const FIRST_CAP: usize = 256;

/// One shard behind its lock, alone on its cache line.
#[repr(C, align(64))]
struct Shard(SpinLock<Entries>);

/// A shard's open-addressing array.
struct Entries {
    /// `cap` slots (a key of 0 is empty) in a mapping of `bytes` bytes, `len` of them used.
    entries: *mut Entry,
    cap: usize,
    len: usize,
    bytes: usize,
}

// SAFETY: `entries` is a mapping this shard alone owns; moving the shard to another
// thread moves that ownership with it.
unsafe impl Send for Entries {}

/// The pointer table. All-zero is a valid empty table, so it can live in a `static`.
pub struct PointerTable {
    shards: [Shard; SHARDS],
    /// Bytes mapped by every shard (grown under its own lock, hence atomic).
    mapped: AtomicU64,
}

impl Default for PointerTable {
    fn default() -> Self {
        Self::new()
    }
}

/// The table could not get memory for a new entry.
#[derive(Debug, PartialEq, Eq)]
pub struct Full;

/// Hash of the 256-byte block holding `key`: picks the shard and where the block's slots
/// begin in it.
#[inline(always)]
fn hash(key: u64) -> u64 {
    (key >> 8).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Home slot of `key` (hash `h`) in an array of `cap` ≥ 16 entries. The 16 possible
/// 16-byte-aligned addresses of one 256-byte block get 16 neighbouring slots: allocations
/// made close together share cache lines in the table as they do in the heap, while
/// blocks spread at random and no cluster of one block exceeds 16.
#[inline(always)]
fn home(key: u64, h: u64, cap: usize) -> usize {
    let base = (((h << 8) as u128 * cap as u128) >> 64) as usize;
    let i = base + ((key >> 4) & 15) as usize;
    if i >= cap { i - cap } else { i }
}

impl PointerTable {
    /// An empty table.
    pub const fn new() -> Self {
        PointerTable {
            shards: [const {
                Shard(SpinLock::new(Entries {
                    entries: core::ptr::null_mut(),
                    cap: 0,
                    len: 0,
                    bytes: 0,
                }))
            }; SHARDS],
            mapped: AtomicU64::new(0),
        }
    }

    #[inline(always)]
    fn shard(&self, h: u64) -> &SpinLock<Entries> {
        &self.shards[(h >> 56) as usize & (SHARDS - 1)].0
    }

    /// Records `key`. If it was already present (a free we never saw), returns the stale
    /// entry so the caller can account it as freed. `single`: the process has one thread,
    /// so the shard lock is skipped.
    ///
    /// # Safety
    /// `single` as in [`SpinLock::lock_unless_single`], for the table's shard locks.
    #[inline]
    pub unsafe fn insert(
        &self,
        key: u64,
        size: u32,
        epoch: u32,
        single: bool,
    ) -> Result<Option<(u32, u32)>, Full> {
        let h = hash(key);
        // SAFETY: the caller's contract.
        let mut shard = unsafe { self.shard(h).lock_unless_single(single) };
        shard.insert(h, key, size, epoch, &self.mapped)
    }

    /// Removes `key`, returning its (size, epoch) if it was tracked.
    ///
    /// # Safety
    /// As [`PointerTable::insert`].
    #[inline]
    pub unsafe fn remove(&self, key: u64, single: bool) -> Option<(u32, u32)> {
        let h = hash(key);
        // SAFETY: the caller's contract.
        let mut shard = unsafe { self.shard(h).lock_unless_single(single) };
        shard.remove(h, key)
    }

    /// Bytes of memory the table holds mapped.
    pub fn mapped_bytes(&self) -> u64 {
        self.mapped.load(Relaxed)
    }

    /// Takes every shard lock, in order, with no guard (before fork, so the child gets
    /// consistent shards).
    pub fn lock_for_fork(&self) {
        for s in &self.shards {
            s.0.lock_for_fork();
        }
    }

    /// Releases every shard lock (after fork).
    ///
    /// # Safety
    /// As [`SpinLock::force_unlock`], for every shard: taken by [`Self::lock_for_fork`].
    pub unsafe fn force_unlock(&self) {
        for s in &self.shards {
            // SAFETY: the caller's contract.
            unsafe { s.0.force_unlock() };
        }
    }
}

impl Entries {
    /// Records `key` (hash `h`); returns the entry it replaced, if any. `mapped` counts
    /// the table's memory.
    fn insert(
        &mut self,
        h: u64,
        key: u64,
        size: u32,
        epoch: u32,
        mapped: &AtomicU64,
    ) -> Result<Option<(u32, u32)>, Full> {
        if (self.len + 1) * 4 > self.cap * 3 && !self.grow(mapped) {
            return Err(Full);
        }
        let mut i = home(key, h, self.cap);
        loop {
            // SAFETY: `i < cap`, and the array holds `cap` entries.
            let e = unsafe { &mut *self.entries.add(i) };
            if e.key == 0 {
                *e = Entry { key, size, epoch };
                self.len += 1;
                return Ok(None);
            }
            if e.key == key {
                let old = (e.size, e.epoch);
                *e = Entry { key, size, epoch };
                return Ok(Some(old));
            }
            i += 1;
            if i == self.cap {
                i = 0;
            }
        }
    }

    /// Removes `key` (hash `h`), returning its (size, epoch) if it was there.
    fn remove(&mut self, h: u64, key: u64) -> Option<(u32, u32)> {
        if self.len == 0 {
            return None;
        }
        let cap = self.cap;
        // Every index below is a home slot or wraps at `cap`: in bounds of the array,
        // which is this shard's, borrowed mutably with `self`.
        let at = |i: usize| -> *mut Entry {
            debug_assert!(i < cap);
            // SAFETY: `i < cap`, and the array holds `cap` entries.
            unsafe { self.entries.add(i) }
        };
        let mut i = home(key, h, cap);
        loop {
            // SAFETY: in bounds (see `at`).
            let e = unsafe { *at(i) };
            if e.key == 0 {
                return None;
            }
            if e.key == key {
                break;
            }
            i += 1;
            if i == cap {
                i = 0;
            }
        }
        // SAFETY: in bounds (see `at`).
        let found = unsafe { *at(i) };
        // Backward-shift: pull later entries of the cluster into the hole when the hole
        // lies on their probe path (between their home and their slot, cyclically).
        let mut hole = i;
        let mut j = i;
        loop {
            j += 1;
            if j == cap {
                j = 0;
            }
            // SAFETY: in bounds (see `at`).
            let e = unsafe { *at(j) };
            if e.key == 0 {
                break;
            }
            let k = home(e.key, hash(e.key), cap);
            let movable = if hole <= j {
                k <= hole || k > j
            } else {
                k <= hole && k > j
            };
            if movable {
                // SAFETY: in bounds (see `at`).
                unsafe { *at(hole) = e };
                hole = j;
            }
        }
        // SAFETY: in bounds (see `at`).
        unsafe { (*at(hole)).key = 0 };
        self.len -= 1;
        Some((found.size, found.epoch))
    }

    /// Moves the entries into an array 1.5 times larger (the first: one page); false when
    /// no memory could be mapped. `mapped` counts the table's memory.
    #[cold]
    #[inline(never)]
    fn grow(&mut self, mapped: &AtomicU64) -> bool {
        let cap = if self.cap == 0 {
            FIRST_CAP
        } else {
            self.cap + self.cap / 2
        };
        let bytes = sys::page_round(cap * ENTRY);
        let entries = sys::map(bytes) as *mut Entry;
        if entries.is_null() {
            return false;
        }
        let cap = bytes / ENTRY;
        // SAFETY: the old array holds `self.cap` entries and the new, zeroed one `cap`
        // (more than `len`, so every probe finds a free slot); indices stay below each.
        // The old mapping is ours alone and unused once its entries are moved.
        unsafe {
            for i in 0..self.cap {
                let e = *self.entries.add(i);
                if e.key != 0 {
                    let mut j = home(e.key, hash(e.key), cap);
                    while (*entries.add(j)).key != 0 {
                        j += 1;
                        if j == cap {
                            j = 0;
                        }
                    }
                    *entries.add(j) = e;
                }
            }
            if !self.entries.is_null() {
                sys::unmap(self.entries as *mut u8, self.bytes);
            }
        }
        mapped.fetch_add(bytes as u64, Relaxed);
        mapped.fetch_sub(self.bytes as u64, Relaxed);
        *self = Entries {
            entries,
            cap,
            len: self.len,
            bytes,
        };
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lcg(x: &mut u64) -> u64 {
        *x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *x >> 16
    }

    #[test]
    fn matches_a_hashmap_under_random_churn() {
        let t = Box::new(PointerTable::new());
        let mut model: HashMap<u64, (u32, u32)> = HashMap::new();
        let mut x = 7u64;
        for step in 0..400_000u32 {
            let key = (lcg(&mut x) % 50_000 + 1) * 16;
            if lcg(&mut x).is_multiple_of(3) {
                // SAFETY: `single` is false.
                let got = unsafe { t.remove(key, false) };
                assert_eq!(got, model.remove(&key), "step {step}");
            } else {
                let v = (step, step ^ 5);
                // SAFETY: `single` is false.
                let prev = unsafe { t.insert(key, v.0, v.1, false) }.unwrap();
                assert_eq!(prev, model.insert(key, v), "step {step}");
            }
        }
        for (k, v) in model {
            // SAFETY: `single` is false.
            assert_eq!(unsafe { t.remove(k, false) }, Some(v));
        }
        assert!(t.mapped_bytes() > 0);
    }

    #[test]
    fn bytes_per_live_entry_stay_bounded() {
        let t = Box::new(PointerTable::new());
        let n = 1_000_000u64;
        for i in 1..=n {
            // SAFETY: the table is this test's own: no other thread takes its locks.
            unsafe { t.insert(i * 16, 1, 0, true) }.unwrap();
        }
        let per = t.mapped_bytes() as f64 / n as f64;
        assert!(per <= 32.0, "{per} bytes per live allocation");
        // SAFETY: as above.
        assert_eq!(unsafe { t.remove(16, true) }, Some((1, 0)));
        // SAFETY: as above.
        assert_eq!(unsafe { t.remove(16, true) }, None);
    }
}
