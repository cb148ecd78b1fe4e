//! Region samples on their way from a process to the launcher: a ring of fixed-size
//! records and a table of the region names they refer to, both inside the process's
//! `MAP_SHARED` state file ([`crate::state::ProcessState`]).
//!
//! The program is the only producer: the preload writes a record when a region ends,
//! under its region lock, and publishes it by advancing [`SampleRing::head`] (Release).
//! The launcher is the only consumer: it reads `head` (Acquire), copies the records up to
//! it and advances [`SampleRing::tail`] (Release), while the program runs and once more
//! after it ended. Nothing is sent: a region costs a few stores, and the records survive
//! a `SIGKILL` with the file.
//!
//! A record names its region by an index into the [`NameTable`], so it stays 64 bytes
//! whatever the name. The table only grows: an index, once given, names the same bytes
//! for the life of the process image, and the launcher may read it at any time.
//!
//! When the ring is full (the launcher has not drained it), the preload waits for room,
//! briefly and boundedly; a sample that finds no room is counted as lost
//! ([`crate::state::Header::lost_samples`], [`crate::state::PROBLEM_SAMPLES_LOST`]) and the
//! program goes on.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::Stats;
use crate::names::NAME_CAP;

/// Records the ring holds (a power of two): 1 MiB of records, a few milliseconds of
/// regions closed back to back, which the launcher drains far more often.
pub const SAMPLE_SLOTS: usize = 16384;
/// Distinct region names one process image can give its samples. Samples of names beyond
/// this (or beyond [`NAME_BYTES`]) are lost and counted ([`crate::state::PROBLEM_NAMES_FULL`]).
/// The table's pages are touched only as names are added: a program with a few names
/// uses a few pages of it.
pub const MAX_NAMES: usize = 65536;
/// Bytes for the names of the table (64 bytes a name on average).
pub const NAME_BYTES: usize = 4 * 1024 * 1024;
/// Slots of the writer's hash index of the names (a power of two, twice [`MAX_NAMES`]).
pub const NAME_INDEX: usize = 2 * MAX_NAMES;

const _: () = assert!(SAMPLE_SLOTS.is_power_of_two());
const _: () = assert!(NAME_INDEX.is_power_of_two() && NAME_INDEX >= 2 * MAX_NAMES);
const _: () = assert!(NAME_BYTES <= u32::MAX as usize);

/// One closed region: 64 bytes.
#[repr(C)]
pub struct SampleRecord {
    /// The region's name: an index into the process's [`NameTable`].
    pub name: AtomicU32,
    /// Reserved, 0.
    pub flags: AtomicU32,
    /// [`Stats::peak_bytes`].
    pub peak_bytes: AtomicU64,
    /// [`Stats::total_bytes`].
    pub total_bytes: AtomicU64,
    /// [`Stats::allocations`].
    pub allocations: AtomicU64,
    /// [`Stats::retained_bytes`].
    pub retained_bytes: AtomicU64,
    /// `CLOCK_MONOTONIC` nanoseconds when the region began.
    pub begin_ns: AtomicU64,
    /// `CLOCK_MONOTONIC` nanoseconds when it ended.
    pub end_ns: AtomicU64,
    /// Live bytes of the process when it began (where its peak stands on the process's
    /// curve: `base_bytes + peak_bytes`).
    pub base_bytes: AtomicU64,
}

const _: () = assert!(core::mem::size_of::<SampleRecord>() == 64);

/// A record's content, as plain values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sample {
    /// Index of the region's name in the [`NameTable`].
    pub name: u32,
    /// The four counters.
    pub stats: Stats,
    /// When the region began (`CLOCK_MONOTONIC` ns).
    pub begin_ns: u64,
    /// When it ended.
    pub end_ns: u64,
    /// Live bytes of the process when it began.
    pub base_bytes: u64,
}

impl SampleRecord {
    /// Stores `s` (the writer, before it publishes the record).
    #[inline(always)]
    pub fn store(&self, s: &Sample) {
        let r = Ordering::Relaxed;
        self.name.store(s.name, r);
        self.flags.store(0, r);
        self.peak_bytes.store(s.stats.peak_bytes, r);
        self.total_bytes.store(s.stats.total_bytes, r);
        self.allocations.store(s.stats.allocations, r);
        self.retained_bytes.store(s.stats.retained_bytes, r);
        self.begin_ns.store(s.begin_ns, r);
        self.end_ns.store(s.end_ns, r);
        self.base_bytes.store(s.base_bytes, r);
    }

    /// Reads the record (the reader, after it saw the record published).
    pub fn load(&self) -> Sample {
        let r = Ordering::Relaxed;
        Sample {
            name: self.name.load(r),
            stats: Stats {
                peak_bytes: self.peak_bytes.load(r),
                total_bytes: self.total_bytes.load(r),
                allocations: self.allocations.load(r),
                retained_bytes: self.retained_bytes.load(r),
            },
            begin_ns: self.begin_ns.load(r),
            end_ns: self.end_ns.load(r),
            base_bytes: self.base_bytes.load(r),
        }
    }
}

/// A word on a cache line of its own (the producer's and the consumer's indexes must not
/// share one).
#[repr(C, align(64))]
pub struct Line<T>(pub T);

/// The ring of region samples of one process image.
#[repr(C, align(64))]
pub struct SampleRing {
    /// Records written so far (the next goes to `head % SAMPLE_SLOTS`); the writer stores
    /// it (Release) after the record.
    pub head: Line<AtomicU64>,
    /// Records the launcher has taken; only the launcher stores it (Release), after it
    /// copied them.
    pub tail: Line<AtomicU64>,
    /// 1 while the writer has given up waiting for room (the launcher is gone or stuck):
    /// later samples are counted as lost at once, without waiting again, until there is
    /// room. Written by the writer only.
    pub stalled: Line<AtomicU32>,
    /// The records.
    pub records: [SampleRecord; SAMPLE_SLOTS],
}

/// What [`SampleRing::push`] did with a sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// Published.
    Written,
    /// The ring is full.
    Full,
}

impl SampleRing {
    /// Records published and not yet taken, as the writer sees them.
    #[inline(always)]
    pub fn pending(&self) -> u64 {
        let head = self.head.0.load(Ordering::Relaxed);
        head.wrapping_sub(self.tail.0.load(Ordering::Acquire))
    }

    /// Whether there is room for one more record (the writer's view).
    #[inline(always)]
    pub fn has_room(&self) -> bool {
        self.pending() < SAMPLE_SLOTS as u64
    }

    /// Writes and publishes one record when there is room. The caller is the only writer
    /// (the preload holds its region lock).
    #[inline(always)]
    pub fn push(&self, s: &Sample) -> Pushed {
        if !self.has_room() {
            return Pushed::Full;
        }
        let head = self.head.0.load(Ordering::Relaxed);
        self.records[(head as usize) & (SAMPLE_SLOTS - 1)].store(s);
        self.head.0.store(head.wrapping_add(1), Ordering::Release);
        Pushed::Written
    }

    /// Takes every record published so far, oldest first, handing each to `take`; returns
    /// how many. The caller is the only reader. A `head` no writer could have left (more
    /// than a ring ahead of `tail`, or behind it) is not followed: the records in between
    /// are skipped and `Err` says how many were published but unreadable.
    pub fn drain(&self, mut take: impl FnMut(Sample)) -> Result<u64, u64> {
        let head = self.head.0.load(Ordering::Acquire);
        let tail = self.tail.0.load(Ordering::Relaxed);
        let n = head.wrapping_sub(tail);
        if n > SAMPLE_SLOTS as u64 {
            // Not what the preload writes: resynchronise rather than read garbage.
            self.tail.0.store(head, Ordering::Release);
            return Err(n);
        }
        for k in 0..n {
            let i = (tail.wrapping_add(k) as usize) & (SAMPLE_SLOTS - 1);
            take(self.records[i].load());
        }
        self.tail.0.store(head, Ordering::Release);
        Ok(n)
    }
}

/// The names samples refer to, appended by the writer, readable by index at any time.
#[repr(C, align(64))]
pub struct NameTable {
    /// Names defined: entries `0..count` are valid. Stored (Release) after the entry and
    /// its bytes.
    pub count: AtomicU32,
    /// Bytes of `bytes` in use.
    pub used: AtomicU32,
    /// Name `i`: its offset in `bytes` (low 32 bits) and its length (high 32 bits).
    pub entries: [AtomicU64; MAX_NAMES],
    /// The writer's hash index: `1 + name index` at the name's slot (linear probing), 0
    /// when empty.
    pub index: [AtomicU32; NAME_INDEX],
    /// Samples of name `i` lost because the ring stayed full.
    pub lost: [AtomicU32; MAX_NAMES],
    /// The names' bytes, back to back.
    pub bytes: UnsafeCell<[u8; NAME_BYTES]>,
}

/// FNV-1a: names are short, and an adversarial name only costs its own lookups.
#[inline(always)]
fn hash(name: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in name {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl NameTable {
    /// Name `i`, when it is defined and its entry is sound (cut to [`NAME_CAP`]).
    pub fn get(&self, i: u32) -> Option<&[u8]> {
        if i >= self.count.load(Ordering::Acquire).min(MAX_NAMES as u32) {
            return None;
        }
        let e = self.entries[i as usize].load(Ordering::Relaxed);
        let (at, len) = ((e & 0xffff_ffff) as usize, (e >> 32) as usize);
        if len > NAME_CAP || at.checked_add(len)? > NAME_BYTES {
            return None;
        }
        // SAFETY: in bounds (checked above); the writer stored these bytes before it
        // published the entry (Release on `count`, Acquire above) and never changes them.
        // Plain bytes inside the mapping: whatever they hold, they are bytes.
        Some(unsafe { &(&*self.bytes.get())[at..at + len] })
    }

    /// Counts a lost sample of name `i` (the writer).
    pub fn lose(&self, i: u32) {
        if let Some(l) = self.lost.get(i as usize) {
            l.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Samples of name `i` lost so far.
    pub fn lost(&self, i: u32) -> u32 {
        self.lost
            .get(i as usize)
            .map_or(0, |l| l.load(Ordering::Relaxed))
    }

    /// The index of `name` (at most [`NAME_CAP`] bytes), defining it when it is new; None
    /// when the table is full. The caller is the only writer.
    #[inline]
    pub fn intern(&self, name: &[u8]) -> Option<u32> {
        let name = &name[..name.len().min(NAME_CAP)];
        let mut slot = hash(name) as usize & (NAME_INDEX - 1);
        // At most MAX_NAMES slots are ever taken, so an empty one comes; the bound only
        // guards against an index someone else scribbled over.
        for _ in 0..NAME_INDEX {
            let v = self.index[slot].load(Ordering::Relaxed);
            if v == 0 {
                return self.define(name, slot);
            }
            if self.get(v - 1) == Some(name) {
                return Some(v - 1);
            }
            slot = (slot + 1) & (NAME_INDEX - 1);
        }
        None
    }

    /// Appends `name` and records it at the empty index slot `slot`.
    #[cold]
    fn define(&self, name: &[u8], slot: usize) -> Option<u32> {
        let i = self.count.load(Ordering::Relaxed);
        let at = self.used.load(Ordering::Relaxed) as usize;
        if i as usize >= MAX_NAMES || at + name.len() > NAME_BYTES {
            return None;
        }
        // SAFETY: the caller is the only writer; these bytes are past `used`, which no
        // published entry covers, so no reader looks at them yet.
        unsafe { (&mut *self.bytes.get())[at..at + name.len()].copy_from_slice(name) };
        self.entries[i as usize].store(at as u64 | (name.len() as u64) << 32, Ordering::Relaxed);
        self.used.store((at + name.len()) as u32, Ordering::Relaxed);
        self.index[slot].store(i + 1, Ordering::Relaxed);
        self.count.store(i + 1, Ordering::Release);
        Some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::boxed::Box;
    use std::vec::Vec;

    fn zeroed<T>() -> Box<T> {
        // SAFETY: used for the ring and the table, for which all-zero is valid.
        unsafe { Box::<T>::new_zeroed().assume_init() }
    }

    fn sample(name: u32, v: u64) -> Sample {
        Sample {
            name,
            stats: Stats {
                peak_bytes: v,
                total_bytes: v + 1,
                allocations: v + 2,
                retained_bytes: v + 3,
            },
            begin_ns: v * 10,
            end_ns: v * 10 + 5,
            base_bytes: v * 2,
        }
    }

    #[test]
    fn names_are_interned_once_and_read_back() {
        let t: Box<NameTable> = zeroed();
        assert_eq!(t.intern(b"load"), Some(0));
        assert_eq!(t.intern(b"parse"), Some(1));
        assert_eq!(t.intern(b""), Some(2));
        assert_eq!(t.intern(b"load"), Some(0));
        assert_eq!(t.get(0), Some(&b"load"[..]));
        assert_eq!(t.get(1), Some(&b"parse"[..]));
        assert_eq!(t.get(2), Some(&b""[..]));
        assert_eq!(t.get(3), None);
        // Names with colliding slots still find themselves.
        let many: Vec<[u8; 8]> = (0..3000u64).map(|i| i.to_le_bytes()).collect();
        let ids: Vec<u32> = many.iter().map(|n| t.intern(n).unwrap()).collect();
        for (n, &id) in many.iter().zip(&ids) {
            assert_eq!(t.intern(n), Some(id));
            assert_eq!(t.get(id), Some(&n[..]));
        }
    }

    #[test]
    fn a_full_table_refuses_new_names_only() {
        let t: Box<NameTable> = zeroed();
        for i in 0..MAX_NAMES as u64 {
            assert!(t.intern(&i.to_le_bytes()).is_some());
        }
        assert_eq!(t.intern(b"one too many"), None);
        assert_eq!(t.intern(&7u64.to_le_bytes()), Some(7));
        // The bytes run out before the count for long names.
        let t: Box<NameTable> = zeroed();
        let long = [b'x'; NAME_CAP];
        let fit = NAME_BYTES / NAME_CAP;
        for i in 0..fit {
            let mut n = long;
            n[..8].copy_from_slice(&(i as u64).to_le_bytes());
            assert!(t.intern(&n).is_some());
        }
        assert_eq!(t.intern(b"short, but no room"), None);
    }

    #[test]
    fn the_ring_keeps_order_and_refuses_when_full() {
        let r: Box<SampleRing> = zeroed();
        let mut got = Vec::new();
        for round in 0..3u64 {
            for k in 0..SAMPLE_SLOTS as u64 {
                assert_eq!(r.push(&sample(1, round * 100_000 + k)), Pushed::Written);
            }
            assert_eq!(r.push(&sample(1, 0)), Pushed::Full);
            got.clear();
            assert_eq!(r.drain(|s| got.push(s)), Ok(SAMPLE_SLOTS as u64));
            assert_eq!(got.len(), SAMPLE_SLOTS);
            assert!(
                got.iter()
                    .enumerate()
                    .all(|(k, s)| *s == sample(1, round * 100_000 + k as u64))
            );
        }
        assert_eq!(r.drain(|_| panic!("empty")), Ok(0));
    }

    #[test]
    fn a_corrupt_head_is_not_followed() {
        let r: Box<SampleRing> = zeroed();
        r.head.0.store(u64::MAX / 2, Ordering::Relaxed);
        assert_eq!(r.drain(|_| panic!("garbage")), Err(u64::MAX / 2));
        assert_eq!(r.drain(|_| panic!("nothing new")), Ok(0));
        assert!(r.has_room());
    }
}
