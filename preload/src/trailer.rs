//! The size and epoch of a heap block, kept in the block itself.
//!
//! Under glibc's malloc, every tracked `malloc(n)` asks for `n + TRAILER` bytes and writes
//! an 8-byte record (epoch, slack, check word) in the last bytes of the block's usable
//! area, where `malloc_usable_size` finds it again at `free`. That is beside the next
//! chunk's header, which glibc's own free and `malloc_usable_size` read: no memory of our
//! own is touched and no lock is taken. The pointer table it replaces was a random access
//! into a table of ours, and on allocation-heavy programs that miss was most of our cost.
//!
//! The 16-bit check word binds the record to the block's address, slack and epoch, and is
//! never 0, so zeroed bytes are never a record and other bytes that merely sit there (a
//! block allocated while tracking was paused) pass for one with odds of 1 in 65,535. A
//! record is cleared when its block is freed, so a stale one is never read twice. Blocks
//! without room for a record (more than 64 KiB of slack past the request) and every
//! block of another allocator use the pointer table instead.
//!
//! The record is 8 bytes, not 16, because glibc rounds chunks to 16 bytes: 8 more bytes
//! leave half of all request sizes in the same chunk size, where 16 would grow every
//! block (and the program's own cache footprint) by a full step.

use core::ffi::c_void;
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Bytes added to every tracked heap block.
pub const TRAILER: usize = 8;
/// Bytes added under `--stacks`: the record, and the block's stack id before it.
pub const STACKED: usize = 16;

/// Bytes added to each tracked heap block in this process: [`TRAILER`], or [`STACKED`]
/// in stacks mode (chosen at start, before any block is tracked).
pub static PAD: AtomicUsize = AtomicUsize::new(TRAILER);

/// [`PAD`].
#[inline(always)]
pub fn pad() -> usize {
    PAD.load(Relaxed)
}

/// The requested size is `usable - TRAILER - slack`.
#[repr(C)]
#[derive(Clone, Copy)]
struct Record {
    epoch: u32,
    slack: u16,
    check: u16,
}

/// Never 0: a check word of 0 marks a cleared record (and zeroed memory is no record).
#[inline(always)]
fn check(p: *mut c_void, slack: u16, epoch: u32) -> u16 {
    let x = (p as u64 ^ ((slack as u64) << 48) ^ ((epoch as u64) << 16) ^ 0x6265_6e63_686d_656d)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    ((x >> 48) as u16).max(1)
}

#[inline(always)]
fn at(p: *mut c_void, usable: usize) -> *mut Record {
    (p as usize + usable - TRAILER) as *mut Record
}

/// Whether a block of `usable` bytes has room for `size` bytes and a record, with a slack
/// a record can express.
#[inline(always)]
pub fn fits(size: usize, usable: usize) -> bool {
    usable >= TRAILER && usable - TRAILER >= size && usable - TRAILER - size <= u16::MAX as usize
}

/// Writes the record of `p`, a block of `usable` bytes holding `size` requested bytes.
///
/// # Safety
/// `p` is a live block of at least `usable` bytes, and [`fits`]`(size, usable)`.
#[inline(always)]
pub unsafe fn write(p: *mut c_void, usable: usize, size: u64, epoch: u32) {
    let slack = (usable - TRAILER - size as usize) as u16;
    let check = check(p, slack, epoch);
    // SAFETY: the record's 8 bytes are the block's last (`fits` leaves room for them),
    // within the `usable` bytes of a live block (the caller's contract).
    unsafe {
        at(p, usable).write_unaligned(Record {
            epoch,
            slack,
            check,
        })
    };
}

/// The (size, epoch) recorded in `p`'s block, if it holds a valid record.
///
/// # Safety
/// `p` is a live block of at least `usable` bytes.
#[inline(always)]
pub unsafe fn peek(p: *mut c_void, usable: usize) -> Option<(u64, u32)> {
    if usable < TRAILER {
        return None;
    }
    // SAFETY: the last 8 of the `usable` bytes of a live block (the caller's contract):
    // readable, whatever they hold (any bytes are a `Record`).
    let r = unsafe { at(p, usable).read_unaligned() };
    let room = usable - TRAILER;
    if r.check == check(p, r.slack, r.epoch) && r.slack as usize <= room {
        Some(((room - r.slack as usize) as u64, r.epoch))
    } else {
        None
    }
}

/// [`peek`], clearing the record: the block is about to be freed or moved.
///
/// # Safety
/// As for [`peek`].
#[inline(always)]
pub unsafe fn take(p: *mut c_void, usable: usize) -> Option<(u64, u32)> {
    // SAFETY: the caller's contract is peek's.
    let r = unsafe { peek(p, usable) };
    if r.is_some() {
        // SAFETY: the record just read, inside the live block; written unaligned like the
        // rest of it (no reference to it is made).
        unsafe { (&raw mut (*at(p, usable)).check).write_unaligned(0) };
    }
    r
}

/// Whether a block of `usable` bytes has room for `size` bytes, a stack id and a record.
#[inline(always)]
pub fn fits_stacked(size: usize, usable: usize) -> bool {
    size.checked_add(STACKED - TRAILER)
        .is_some_and(|s| fits(s, usable))
}

/// [`write`] with the block's stack id in the 8 bytes before the record (the record
/// counts them as requested bytes).
///
/// # Safety
/// `p` is a live block of at least `usable` bytes, and [`fits_stacked`]`(size, usable)`.
#[inline(always)]
pub unsafe fn write_stacked(p: *mut c_void, usable: usize, size: u64, epoch: u32, stack: u32) {
    // SAFETY: the 8 bytes before the record are past the requested ones (`fits_stacked`),
    // inside the live block (the caller's contract).
    unsafe {
        ((p as usize + usable - STACKED) as *mut u64).write_unaligned(stack as u64);
        write(p, usable, size + (STACKED - TRAILER) as u64, epoch);
    }
}

/// [`take`] of a record written by [`write_stacked`]: (size, epoch, stack).
///
/// # Safety
/// As for [`peek`].
#[inline(always)]
pub unsafe fn take_stacked(p: *mut c_void, usable: usize) -> Option<(u64, u32, u32)> {
    // SAFETY: the caller's contract is take's.
    let (s, e) = unsafe { take(p, usable) }?;
    let s = s.checked_sub((STACKED - TRAILER) as u64)?;
    // SAFETY: a record with at least 8 requested bytes before it: the stack word is in
    // the block (usable >= STACKED).
    let stack = unsafe { ((p as usize + usable - STACKED) as *const u64).read_unaligned() };
    Some((s, e, stack as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[repr(C, align(16))]
    struct Block([u8; 96]);

    #[test]
    fn a_record_is_read_once_and_bound_to_its_block() {
        let mut b = Block([0xAB; 96]);
        let p = b.0.as_mut_ptr() as *mut c_void;
        // SAFETY: `p` is a 96-byte block (a record's address is checked before its use).
        unsafe {
            assert_eq!(peek(p, 96), None, "arbitrary bytes are not a record");
            write(p, 96, 80, 7);
            assert_eq!(peek(p, 96), Some((80, 7)));
            let q = (p as usize + 16) as *mut c_void;
            assert_eq!(peek(q, 80), None, "the record of another address");
            assert_eq!(take(p, 96), Some((80, 7)));
            assert_eq!(take(p, 96), None, "cleared by take");
            write(p, 96, 0, u32::MAX);
            assert_eq!(peek(p, 96), Some((0, u32::MAX)));
            assert_eq!(peek(p, 95), None, "read at another offset");
            assert_eq!(peek(p, 4), None, "no room for a record");
            let zero = Block([0; 96]);
            assert_eq!(
                peek(zero.0.as_ptr() as *mut c_void, 96),
                None,
                "zeroed memory"
            );
        }
        assert!(!fits(89, 96) && fits(88, 96) && !fits(0, 7));
        assert!(
            fits(0, 65535 + 8) && !fits(0, 65536 + 8),
            "slack beyond 16 bits"
        );
    }

    #[test]
    fn a_stacked_record_carries_its_stack() {
        let mut b = Block([0xAB; 96]);
        let p = b.0.as_mut_ptr() as *mut c_void;
        assert!(fits_stacked(80, 96) && !fits_stacked(81, 96));
        // SAFETY: `p` is a 96-byte block.
        unsafe {
            write_stacked(p, 96, 80, 7, 12345);
            assert_eq!(peek(p, 96), Some((88, 7)));
            assert_eq!(take_stacked(p, 96), Some((80, 7, 12345)));
            assert_eq!(take_stacked(p, 96), None);
        }
    }

    #[test]
    fn check_words_are_never_zero() {
        for i in 0..100_000u64 {
            assert_ne!(check((i * 16) as *mut c_void, i as u16, i as u32), 0);
        }
    }
}
