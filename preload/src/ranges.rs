//! Sorted, non-overlapping address ranges with the epoch they were allocated in.
//!
//! Used for anonymous mappings (an `munmap` may free any part of one, `mremap` moves it)
//! and for the rare allocations of 4 GiB or more whose size does not fit the pointer
//! table's 32-bit field. Callers hold [`Ranges::lock`] around the `*_locked` methods, so
//! a range and the kernel's mapping change together.

use core::cell::UnsafeCell;

use crate::spin::Spin;
use crate::sys;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Range {
    start: usize,
    end: usize,
    epoch: u32,
}

struct Inner {
    items: *mut Range,
    len: usize,
    cap: usize,
    bytes: usize,
}

/// A set of ranges behind one lock.
pub struct Ranges {
    /// Held around every `*_locked` call and the system call it mirrors.
    pub lock: Spin,
    inner: UnsafeCell<Inner>,
}

// SAFETY: `inner` is only touched with `lock` held.
unsafe impl Sync for Ranges {}

impl Default for Ranges {
    fn default() -> Self {
        Self::new()
    }
}

/// No memory for another range.
#[derive(Debug)]
pub struct Full;

impl Ranges {
    /// An empty set.
    pub const fn new() -> Self {
        Ranges {
            lock: Spin::new(),
            inner: UnsafeCell::new(Inner {
                items: core::ptr::null_mut(),
                len: 0,
                cap: 0,
                bytes: 0,
            }),
        }
    }

    #[allow(clippy::mut_from_ref)]
    unsafe fn inner(&self) -> &mut Inner {
        &mut *self.inner.get()
    }

    #[allow(clippy::mut_from_ref)]
    unsafe fn slice(&self) -> &mut [Range] {
        let s = self.inner();
        if s.items.is_null() {
            &mut []
        } else {
            core::slice::from_raw_parts_mut(s.items, s.len)
        }
    }

    /// Index of the first range ending after `addr`.
    unsafe fn first_after(&self, addr: usize) -> usize {
        self.slice().partition_point(|r| r.end <= addr)
    }

    unsafe fn reserve(&self, extra: usize) -> Result<(), Full> {
        let s = self.inner();
        if s.len + extra <= s.cap {
            return Ok(());
        }
        let bytes = sys::page_round((s.bytes * 2).max(4096));
        let items = sys::map(bytes) as *mut Range;
        if items.is_null() {
            return Err(Full);
        }
        if !s.items.is_null() {
            core::ptr::copy_nonoverlapping(s.items, items, s.len);
            sys::unmap(s.items as *mut u8, s.bytes);
        }
        s.items = items;
        s.bytes = bytes;
        s.cap = bytes / core::mem::size_of::<Range>();
        Ok(())
    }

    /// Adds `[start, start + len)`, which must not overlap a range already held.
    ///
    /// # Safety
    /// `lock` must be held.
    pub unsafe fn insert_locked(&self, start: usize, len: usize, epoch: u32) -> Result<(), Full> {
        self.reserve(1)?;
        let at = self.first_after(start);
        let s = self.inner();
        core::ptr::copy(s.items.add(at), s.items.add(at + 1), s.len - at);
        *s.items.add(at) = Range {
            start,
            end: start.saturating_add(len),
            epoch,
        };
        s.len += 1;
        Ok(())
    }

    /// Cuts `[start, start + len)` out of the set, calling `freed(bytes, epoch)` for every
    /// piece removed. Returns the bytes removed.
    ///
    /// # Safety
    /// `lock` must be held.
    pub unsafe fn remove_locked(
        &self,
        start: usize,
        len: usize,
        mut freed: impl FnMut(u64, u32),
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
                freed(piece, r.epoch);
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
        }; 2];
        let mut n = 0;
        if first.start < start {
            keep[n] = Range {
                start: first.start,
                end: start,
                epoch: first.epoch,
            };
            n += 1;
        }
        if last.end > end {
            keep[n] = Range {
                start: end,
                end: last.end,
                epoch: last.epoch,
            };
            n += 1;
        }
        if n > j - i && self.reserve(1).is_err() {
            // Cannot split: drop the right remainder rather than corrupt the set.
            n = j - i;
        }
        let s = self.inner();
        let tail = s.len - j;
        core::ptr::copy(s.items.add(j), s.items.add(i + n), tail);
        for (k, r) in keep.iter().take(n).enumerate() {
            *s.items.add(i + k) = *r;
        }
        s.len = i + n + tail;
        total
    }

    /// Removes the range starting exactly at `start`, returning its length and epoch.
    ///
    /// # Safety
    /// `lock` must be held.
    pub unsafe fn take_locked(&self, start: usize) -> Option<(u64, u32)> {
        let i = self.first_after(start);
        let r = *self.slice().get(i)?;
        if r.start != start {
            return None;
        }
        let s = self.inner();
        core::ptr::copy(s.items.add(i + 1), s.items.add(i), s.len - i - 1);
        s.len -= 1;
        Some(((r.end - r.start) as u64, r.epoch))
    }

    /// Ranges held.
    ///
    /// # Safety
    /// `lock` must be held.
    pub unsafe fn len_locked(&self) -> usize {
        self.inner().len
    }

    /// Bytes currently held (for tests).
    #[cfg(test)]
    unsafe fn held(&self) -> u64 {
        self.slice().iter().map(|r| (r.end - r.start) as u64).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_unmaps_free_exactly_the_overlap() {
        let r = Ranges::new();
        unsafe {
            r.insert_locked(0x10000, 10000, 1).unwrap();
            r.insert_locked(0x40000, 4096, 2).unwrap();
            let mut seen = vec![];
            // punch a page out of the middle of the first mapping
            assert_eq!(
                r.remove_locked(0x11000, 4096, |b, e| seen.push((b, e))),
                4096
            );
            assert_eq!(seen, vec![(4096, 1)]);
            assert_eq!(r.held(), 10000 - 4096 + 4096);
            // unmap everything from the start across both
            assert_eq!(
                r.remove_locked(0x10000, 0x40000, |_, _| {}),
                10000 - 4096 + 4096
            );
            assert_eq!(r.held(), 0);
            assert_eq!(r.remove_locked(0x10000, 0x40000, |_, _| {}), 0);
        }
    }

    #[test]
    fn take_finds_exact_starts_only() {
        let r = Ranges::new();
        unsafe {
            let step = 8usize << 32;
            for i in 0..1000usize {
                r.insert_locked((1000 - i) * step, 5 << 32, i as u32)
                    .unwrap();
            }
            assert_eq!(r.take_locked(step + 1), None);
            assert_eq!(r.take_locked(step), Some((5 << 32, 999)));
            assert_eq!(r.take_locked(step), None);
            assert_eq!(r.held(), 999 * (5u64 << 32));
        }
    }
}
