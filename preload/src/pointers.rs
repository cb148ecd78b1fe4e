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

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::spin::Spin;
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

#[repr(C, align(64))]
struct Shard {
    lock: Spin,
    inner: UnsafeCell<Inner>,
}

#[derive(Clone, Copy)]
struct Inner {
    entries: *mut Entry,
    cap: usize,
    len: usize,
    bytes: usize,
}

/// The pointer table. All-zero is a valid empty table, so it can live in a `static`.
pub struct PointerTable {
    shards: [Shard; SHARDS],
    mapped: AtomicU64,
}

// SAFETY: each shard's `inner` is only touched with its lock held.
unsafe impl Sync for PointerTable {}

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
    if i >= cap {
        i - cap
    } else {
        i
    }
}

impl PointerTable {
    /// An empty table.
    pub const fn new() -> Self {
        PointerTable {
            shards: [const {
                Shard {
                    lock: Spin::new(),
                    inner: UnsafeCell::new(Inner {
                        entries: core::ptr::null_mut(),
                        cap: 0,
                        len: 0,
                        bytes: 0,
                    }),
                }
            }; SHARDS],
            mapped: AtomicU64::new(0),
        }
    }

    #[inline(always)]
    fn shard(&self, h: u64) -> &Shard {
        &self.shards[(h >> 56) as usize & (SHARDS - 1)]
    }

    /// Records `key`. If it was already present (a free we never saw), returns the stale
    /// entry so the caller can account it as freed. `single`: the process has one thread,
    /// so the shard lock is skipped.
    #[inline]
    pub fn insert(
        &self,
        key: u64,
        size: u32,
        epoch: u32,
        single: bool,
    ) -> Result<Option<(u32, u32)>, Full> {
        let h = hash(key);
        let shard = self.shard(h);
        let lock = !single;
        if lock {
            shard.lock.lock();
        }
        // SAFETY: lock held, or this is the only thread.
        let r = unsafe { self.insert_locked(&mut *shard.inner.get(), h, key, size, epoch) };
        if lock {
            shard.lock.unlock();
        }
        r
    }

    unsafe fn insert_locked(
        &self,
        s: &mut Inner,
        h: u64,
        key: u64,
        size: u32,
        epoch: u32,
    ) -> Result<Option<(u32, u32)>, Full> {
        if (s.len + 1) * 4 > s.cap * 3 && !self.grow(s) {
            return Err(Full);
        }
        let mut i = home(key, h, s.cap);
        loop {
            let e = &mut *s.entries.add(i);
            if e.key == 0 {
                *e = Entry { key, size, epoch };
                s.len += 1;
                return Ok(None);
            }
            if e.key == key {
                let old = (e.size, e.epoch);
                *e = Entry { key, size, epoch };
                return Ok(Some(old));
            }
            i += 1;
            if i == s.cap {
                i = 0;
            }
        }
    }

    /// Removes `key`, returning its (size, epoch) if it was tracked.
    #[inline]
    pub fn remove(&self, key: u64, single: bool) -> Option<(u32, u32)> {
        let h = hash(key);
        let shard = self.shard(h);
        let lock = !single;
        if lock {
            shard.lock.lock();
        }
        // SAFETY: lock held, or this is the only thread.
        let r = unsafe { Self::remove_locked(&mut *shard.inner.get(), h, key) };
        if lock {
            shard.lock.unlock();
        }
        r
    }

    unsafe fn remove_locked(s: &mut Inner, h: u64, key: u64) -> Option<(u32, u32)> {
        if s.len == 0 {
            return None;
        }
        let cap = s.cap;
        let mut i = home(key, h, cap);
        loop {
            let e = *s.entries.add(i);
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
        let found = *s.entries.add(i);
        // Backward-shift: pull later entries of the cluster into the hole when the hole
        // lies on their probe path (between their home and their slot, cyclically).
        let mut hole = i;
        let mut j = i;
        loop {
            j += 1;
            if j == cap {
                j = 0;
            }
            let e = *s.entries.add(j);
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
                *s.entries.add(hole) = e;
                hole = j;
            }
        }
        (*s.entries.add(hole)).key = 0;
        s.len -= 1;
        Some((found.size, found.epoch))
    }

    #[cold]
    #[inline(never)]
    unsafe fn grow(&self, s: &mut Inner) -> bool {
        let cap = if s.cap == 0 {
            FIRST_CAP
        } else {
            s.cap + s.cap / 2
        };
        let bytes = sys::page_round(cap * ENTRY);
        let entries = sys::map(bytes) as *mut Entry;
        if entries.is_null() {
            return false;
        }
        let cap = bytes / ENTRY;
        for i in 0..s.cap {
            let e = *s.entries.add(i);
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
        if !s.entries.is_null() {
            sys::unmap(s.entries as *mut u8, s.bytes);
        }
        self.mapped.fetch_add(bytes as u64, Relaxed);
        self.mapped.fetch_sub(s.bytes as u64, Relaxed);
        *s = Inner {
            entries,
            cap,
            len: s.len,
            bytes,
        };
        true
    }

    /// Bytes of memory the table holds mapped.
    pub fn mapped_bytes(&self) -> u64 {
        self.mapped.load(Relaxed)
    }

    /// Takes every shard lock (before fork, so the child gets consistent shards).
    pub fn lock_all(&self) {
        for s in &self.shards {
            s.lock.lock();
        }
    }

    /// Releases every shard lock (after fork, in the parent).
    pub fn unlock_all(&self) {
        for s in &self.shards {
            s.lock.unlock();
        }
    }

    /// Forces every shard lock open (after fork, in the child).
    pub fn reset_locks(&self) {
        for s in &self.shards {
            s.lock.reset();
        }
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
                assert_eq!(t.remove(key, false), model.remove(&key), "step {step}");
            } else {
                let v = (step, step ^ 5);
                let prev = t.insert(key, v.0, v.1, false).unwrap();
                assert_eq!(prev, model.insert(key, v), "step {step}");
            }
        }
        for (k, v) in model {
            assert_eq!(t.remove(k, false), Some(v));
        }
        assert!(t.mapped_bytes() > 0);
    }

    #[test]
    fn bytes_per_live_entry_stay_bounded() {
        let t = Box::new(PointerTable::new());
        let n = 1_000_000u64;
        for i in 1..=n {
            t.insert(i * 16, 1, 0, true).unwrap();
        }
        let per = t.mapped_bytes() as f64 / n as f64;
        assert!(per <= 32.0, "{per} bytes per live allocation");
        assert_eq!(t.remove(16, true), Some((1, 0)));
        assert_eq!(t.remove(16, true), None);
    }
}
