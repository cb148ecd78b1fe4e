//! Sorted, non-overlapping address ranges with the epoch they were allocated in.
//!
//! Used for anonymous mappings (an `munmap` may free any part of one, `mremap` moves it)
//! and for the rare allocations of 4 GiB or more whose size does not fit the pointer
//! table's 32-bit field. A set lives in a [`Ranges`] lock, which callers hold across the
//! system call a change mirrors, so a range and the kernel's mapping change together.

use crate::spin::SpinLock;
use crate::sys;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Range {
    start: usize,
    end: usize,
    epoch: u32,
    /// The stack id of the allocation (`--stacks`; 0 otherwise).
    stack: u32,
}

/// A set of ranges, in memory of its own (raw `mmap`, never the heap).
pub struct RangeSet {
    /// `len` ranges, sorted by start, in a mapping of `bytes` bytes with room for `cap`.
    items: *mut Range,
    len: usize,
    cap: usize,
    bytes: usize,
}

// SAFETY: `items` is a mapping this set alone owns; moving the set to another thread
// moves that ownership with it.
unsafe impl Send for RangeSet {}

/// A range set behind its lock.
pub type Ranges = SpinLock<RangeSet>;

impl Default for RangeSet {
    fn default() -> Self {
        Self::new()
    }
}

/// No memory for another range.
#[derive(Debug)]
pub struct Full;

impl RangeSet {
    /// An empty set.
    pub const fn new() -> Self {
        RangeSet {
            items: core::ptr::null_mut(),
            len: 0,
            cap: 0,
            bytes: 0,
        }
    }

    fn slice(&mut self) -> &mut [Range] {
        if self.items.is_null() {
            &mut []
        } else {
            // SAFETY: `items` holds `len` initialised ranges, borrowed with `self`.
            unsafe { core::slice::from_raw_parts_mut(self.items, self.len) }
        }
    }

    /// Index of the first range ending after `addr`.
    fn first_after(&mut self, addr: usize) -> usize {
        self.slice().partition_point(|r| r.end <= addr)
    }

    /// Makes room for `extra` more ranges.
    fn reserve(&mut self, extra: usize) -> Result<(), Full> {
        if self.len + extra <= self.cap {
            return Ok(());
        }
        let bytes = sys::page_round((self.bytes * 2).max(4096));
        let items = sys::map(bytes) as *mut Range;
        if items.is_null() {
            return Err(Full);
        }
        if !self.items.is_null() {
            // SAFETY: the new mapping is larger than the old one, which holds `len`
            // ranges and is ours alone; nothing refers to it once its ranges are copied.
            unsafe {
                core::ptr::copy_nonoverlapping(self.items, items, self.len);
                sys::unmap(self.items as *mut u8, self.bytes);
            }
        }
        self.items = items;
        self.bytes = bytes;
        self.cap = bytes / core::mem::size_of::<Range>();
        Ok(())
    }

    /// Adds `[start, start + len)`, which must not overlap a range already held.
    pub fn insert(&mut self, start: usize, len: usize, epoch: u32, stack: u32) -> Result<(), Full> {
        self.reserve(1)?;
        let at = self.first_after(start);
        // SAFETY: `reserve` left room for one more range after the `len` held, and
        // `at <= len`: the tail moves up by one within the mapping.
        unsafe {
            core::ptr::copy(self.items.add(at), self.items.add(at + 1), self.len - at);
            *self.items.add(at) = Range {
                start,
                end: start.saturating_add(len),
                epoch,
                stack,
            };
        }
        self.len += 1;
        Ok(())
    }

    /// Cuts `[start, start + len)` out of the set, calling `freed(bytes, epoch)` for every
    /// piece removed. Returns the bytes removed.
    pub fn remove(
        &mut self,
        start: usize,
        len: usize,
        mut freed: impl FnMut(u64, u32, u32),
    ) -> u64 {
        let end = start.saturating_add(len);
        let i = self.first_after(start);
        let mut j = i;
        let mut total = 0u64;
        {
            let items = self.slice();
            while j < items.len() && items[j].start < end {
                let r = items[j];
                let piece = (r.end.min(end) - r.start.max(start)) as u64;
                total += piece;
                freed(piece, r.epoch, r.stack);
                j += 1;
            }
        }
        if i == j {
            return 0;
        }
        let (first, last) = {
            let items = self.slice();
            (items[i], items[j - 1])
        };
        let mut keep = [Range {
            start: 0,
            end: 0,
            epoch: 0,
            stack: 0,
        }; 2];
        let mut n = 0;
        if first.start < start {
            keep[n] = Range {
                start: first.start,
                end: start,
                epoch: first.epoch,
                stack: first.stack,
            };
            n += 1;
        }
        if last.end > end {
            keep[n] = Range {
                start: end,
                end: last.end,
                epoch: last.epoch,
                stack: last.stack,
            };
            n += 1;
        }
        if n > j - i && self.reserve(1).is_err() {
            // Cannot split: drop the right remainder rather than corrupt the set.
            n = j - i;
        }
        let tail = self.len - j;
        // SAFETY: ranges `i..j` go and `n` take their place, with `n <= j - i` or room
        // reserved for one more (`n <= j - i + 1`): every index stays below `cap`.
        unsafe {
            core::ptr::copy(self.items.add(j), self.items.add(i + n), tail);
            for (k, r) in keep.iter().take(n).enumerate() {
                *self.items.add(i + k) = *r;
            }
        }
        self.len = i + n + tail;
        total
    }

    /// Removes the range starting exactly at `start`, returning its length, epoch and stack.
    pub fn take(&mut self, start: usize) -> Option<(u64, u32, u32)> {
        let i = self.first_after(start);
        let r = *self.slice().get(i)?;
        if r.start != start {
            return None;
        }
        // SAFETY: `i < len` (the range was found): the ranges after it move down by one.
        unsafe { core::ptr::copy(self.items.add(i + 1), self.items.add(i), self.len - i - 1) };
        self.len -= 1;
        Some(((r.end - r.start) as u64, r.epoch, r.stack))
    }

    /// Ranges held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no range is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes currently held (for tests).
    #[cfg(test)]
    fn held(&mut self) -> u64 {
        self.slice().iter().map(|r| (r.end - r.start) as u64).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_unmaps_free_exactly_the_overlap() {
        let mut r = RangeSet::new();
        r.insert(0x10000, 10000, 1, 7).unwrap();
        r.insert(0x40000, 4096, 2, 8).unwrap();
        let mut seen = vec![];
        // punch a page out of the middle of the first mapping
        assert_eq!(
            r.remove(0x11000, 4096, |b, e, k| seen.push((b, e, k))),
            4096
        );
        assert_eq!(seen, vec![(4096, 1, 7)]);
        assert_eq!(r.held(), 10000 - 4096 + 4096);
        // unmap everything from the start across both
        assert_eq!(
            r.remove(0x10000, 0x40000, |_, _, _| {}),
            10000 - 4096 + 4096
        );
        assert_eq!(r.held(), 0);
        assert_eq!(r.remove(0x10000, 0x40000, |_, _, _| {}), 0);
    }

    #[test]
    fn take_finds_exact_starts_only() {
        let mut r = RangeSet::new();
        let step = 8usize << 32;
        for i in 0..1000usize {
            r.insert((1000 - i) * step, 5 << 32, i as u32, 0).unwrap();
        }
        assert_eq!(r.take(step + 1), None);
        assert_eq!(r.take(step), Some((5 << 32, 999, 0)));
        assert_eq!(r.take(step), None);
        assert_eq!(r.held(), 999 * (5u64 << 32));
        assert_eq!(r.len(), 999);
    }
}
