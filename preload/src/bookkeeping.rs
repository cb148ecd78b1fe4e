//! What the preload knows about tracked memory outside the blocks themselves, and every
//! lock of the preload in the one order they are taken, which `fork` relies on.
//!
//! A heap block's size rides in its [`crate::trailer`]; what has no trailer is kept here,
//! in raw `mmap` memory: blocks of other allocators ([`POINTERS`]), allocations of 4 GiB
//! or more ([`BIG`]), anonymous mappings ([`MAPPINGS`]) and `PROT_NONE` reservations
//! ([`RESERVED`]).
//!
//! Fork: the forking thread takes every lock of [`LOCK_ORDER`] in order before the fork
//! ([`fork_prepare`]), so no other thread is half-way through a change the child would
//! copy, and releases them on both sides afterwards ([`fork_parent`], [`fork_child`]).
//! Code that holds two of these locks at once takes them in this order too (the mmap
//! hooks hold the mappings while they update the reservations).

use core::sync::atomic::AtomicBool;

use crate::pointers::PointerTable;
use crate::ranges::{RangeSet, Ranges};
use crate::spin::SpinLock;
use crate::{modules, regions, stackring};

/// Tracked blocks without a trailer: pointer → (size, epoch).
pub static POINTERS: PointerTable = PointerTable::new();
/// Under `--stacks`, the stack id of each block in [`POINTERS`]: pointer → (stack, 0). A
/// table of its own so that the pointer table's entries stay 16 bytes without stacks.
pub static STACK_OF: PointerTable = PointerTable::new();
/// Allocations of 4 GiB and more (their sizes, which the pointer table cannot hold).
pub static BIG: Ranges = Ranges::new(RangeSet::new());
/// Tracked anonymous mappings; held across the system call a change mirrors.
pub static MAPPINGS: Ranges = Ranges::new(RangeSet::new());
/// Anonymous `PROT_NONE` reservations made outside any allocator call (not counted).
pub static RESERVED: Ranges = Ranges::new(RangeSet::new());
/// Whether [`RESERVED`] may hold anything (so mprotect and munmap skip its lock otherwise).
pub static ANY_RESERVED: AtomicBool = AtomicBool::new(false);

/// A lock held across `fork`.
pub trait ForkLock {
    /// Takes the lock (every part of it) with no guard to release it.
    fn lock_for_fork(&self);
    /// Releases what [`lock_for_fork`](Self::lock_for_fork) took.
    ///
    /// # Safety
    /// As [`SpinLock::force_unlock`]: the lock was taken by `lock_for_fork` and nothing
    /// uses its data until this returns.
    unsafe fn force_unlock(&self);
}

impl<T> ForkLock for SpinLock<T> {
    fn lock_for_fork(&self) {
        SpinLock::lock_for_fork(self)
    }
    unsafe fn force_unlock(&self) {
        // SAFETY: the caller's contract is this one's.
        unsafe { SpinLock::force_unlock(self) }
    }
}

impl ForkLock for PointerTable {
    fn lock_for_fork(&self) {
        PointerTable::lock_for_fork(self)
    }
    unsafe fn force_unlock(&self) {
        // SAFETY: the caller's contract is this one's.
        unsafe { PointerTable::force_unlock(self) }
    }
}

/// Every lock of the preload, in the order they are taken. The stack ring's is held
/// around the counter updates its records mirror (`--stacks`), so it comes before the
/// regions' (a free may fold regions); mappings are held across the system call, before.
pub static LOCK_ORDER: [&(dyn ForkLock + Sync); 8] = [
    &MAPPINGS,
    &RESERVED,
    &BIG,
    &stackring::RING,
    &regions::REGIONS,
    &POINTERS,
    &STACK_OF,
    &modules::MODULES,
];

/// Before `fork` (`pthread_atfork` prepare handler): takes every lock, in order.
pub extern "C" fn fork_prepare() {
    for l in LOCK_ORDER {
        l.lock_for_fork();
    }
}

/// After `fork`, in the parent: releases every lock, in reverse order.
pub extern "C" fn fork_parent() {
    for l in LOCK_ORDER.iter().rev() {
        // SAFETY: fork_prepare took every lock in this thread and kept no guard.
        unsafe { l.force_unlock() };
    }
}

/// After `fork`, in the child: releases every lock, in reverse order. The child's own
/// start (a fresh state) is [`crate::process`]'s, which calls this first.
pub fn fork_child() {
    for l in LOCK_ORDER.iter().rev() {
        // SAFETY: fork_prepare took every lock in the parent's forking thread, which is
        // this thread in the child; no other thread exists here.
        unsafe { l.force_unlock() };
    }
}
