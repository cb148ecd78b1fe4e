//! `--stacks`: the call stack of every counted allocation, as a dense stack id.
//!
//! [`capture`] walks the stack ([`crate::unwind`]) from inside a hook, splices Python
//! frames in ([`crate::python_frames`]) and interns the frames: a lock-free open-addressing
//! table in raw `mmap` memory maps them to an id, compared in full on a hit. A stack not
//! seen before is added under the ring lock, which writes its `Stack` record before the
//! table shows it, so no thread can write a record with an id the stream has not defined.
//!
//! The mode is chosen once per process, at start, before anything is tracked: blocks then
//! carry their stack id beside their size and epoch (a 16-byte trailer), so it never
//! changes while a tracked block is alive.

use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering::*};

use benchmem_wire::names::ENV_STACKS_C;
use benchmem_wire::stacks::{MAX_FRAMES, NO_STACK, Record, STOP_TABLE_FULL, Words};

use crate::stackring::{self, RING};
use crate::{modules, python_frames, statefile, sys, tls, unwind};

/// Stacks mode: set at start, never changed afterwards.
static ON: AtomicBool = AtomicBool::new(false);

/// Whether this process records stacks (its blocks carry stack ids).
#[inline(always)]
pub fn on() -> bool {
    ON.load(Relaxed)
}

/// Turns stacks mode on when asked for and reporting (from the constructor, before
/// tracking starts): lists the loaded objects and maps the intern table.
pub fn init() {
    if sys::getenv(ENV_STACKS_C) != Some(b"1") || !statefile::reporting() {
        return;
    }
    modules::init();
    if !map_table() {
        return;
    }
    crate::trailer::PAD.store(crate::trailer::STACKED, Relaxed);
    ON.store(true, Relaxed);
}

// ---------------------------------------------------------------------------------------
// Where the current thread's stack is.

/// Mapping lookups per thread at most (not counting a stack that grew): a thread that
/// keeps switching among more than two stacks (coroutines) records no stack from stacks
/// it has not seen once that many were looked up.
const MAX_LOOKUPS: u32 = 256;

/// `[sp, hi)`: the part of the current thread's stack above `sp` that may be read.
#[inline(always)]
fn bounds(t: tls::Current, sp: u64) -> Option<u64> {
    for (lo, hi) in t.stacks() {
        if sp >= lo && sp < hi {
            return Some(hi);
        }
    }
    bounds_slow(t, sp)
}

#[cold]
#[inline(never)]
fn bounds_slow(t: tls::Current, sp: u64) -> Option<u64> {
    if t.stack_lookups() >= MAX_LOOKUPS {
        return None;
    }
    let Some((lo, hi)) = stack_bounds(sp) else {
        // No /proc, or a stack pointer in no readable mapping: counted, so a process
        // without /proc does not try again for every allocation.
        t.count_lookup();
        return None;
    };
    t.set_stack(lo, hi);
    Some(hi)
}

/// The readable mapping holding `sp`, from `/proc/self/maps` (read into a buffer on the
/// stack: no allocation). Within one mapping every byte is readable, so a walk bounded
/// by it never faults; a thread's stack mapping holds all its frames.
pub fn stack_bounds(sp: u64) -> Option<(u64, u64)> {
    sys::keep_errno(|| {
        // SAFETY: a NUL-terminated path; the fd is closed below.
        let fd = unsafe {
            libc::open(
                c"/proc/self/maps".as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return None;
        }
        let mut buf = [0u8; 4096];
        let mut have = 0usize;
        let mut found = None;
        'read: loop {
            // SAFETY: reads into the free part of our buffer.
            let n = unsafe { libc::read(fd, buf[have..].as_mut_ptr().cast(), buf.len() - have) };
            if n <= 0 {
                break;
            }
            have += n as usize;
            let mut start = 0;
            while let Some(nl) = buf[start..have].iter().position(|&b| b == b'\n') {
                if let Some(r) = parse_line(&buf[start..start + nl], sp) {
                    found = r;
                    break 'read;
                }
                start += nl + 1;
            }
            buf.copy_within(start..have, 0);
            have -= start;
            if have == buf.len() {
                break; // a line longer than the buffer: give up
            }
        }
        // SAFETY: the fd opened above.
        unsafe { libc::close(fd) };
        found
    })
}

/// `Some(result)` when the maps line is the mapping holding `sp`: its range when it is
/// readable, else None.
fn parse_line(line: &[u8], sp: u64) -> Option<Option<(u64, u64)>> {
    let hex = |s: &[u8]| -> Option<u64> {
        let s = core::str::from_utf8(s).ok()?;
        u64::from_str_radix(s, 16).ok()
    };
    let dash = line.iter().position(|&b| b == b'-')?;
    let space = line.iter().position(|&b| b == b' ')?;
    let (lo, hi) = (hex(&line[..dash])?, hex(line.get(dash + 1..space)?)?);
    if sp < lo || sp >= hi {
        return None;
    }
    Some((line.get(space + 1) == Some(&b'r')).then_some((lo, hi)))
}

// ---------------------------------------------------------------------------------------
// Capture.

/// Where a hook was entered, taken in the hook's own frame so that a walk from it
/// need not step through the preload's frames below it.
#[derive(Clone, Copy)]
pub struct Entry {
    #[cfg(target_arch = "x86_64")]
    regs: unwind::Regs,
}

/// The current frame's [`Entry`]: call it in the hook's own body (inlined there), and
/// pass it to [`capture_from`] while that frame is live.
#[inline(always)]
pub fn entry() -> Entry {
    Entry {
        #[cfg(target_arch = "x86_64")]
        regs: unwind::capture(),
    }
}

/// The stack id of the current call stack (the first frame is the return address into
/// the code that called the hook), or [`NO_STACK`]. Called from a hook, before its
/// counter update and outside every lock; inline(never) so the capture point is this
/// function's own frame.
#[inline(never)]
pub fn capture(t: tls::Current) -> u32 {
    capture_from(t, entry())
}

/// [`capture`] from `at`, an [`Entry`] of a frame of this thread that is still live
/// (one of the hook's, below the program's).
#[inline(never)]
pub fn capture_from(t: tls::Current, at: Entry) -> u32 {
    if !stackring::recording() {
        return NO_STACK;
    }
    #[cfg(target_arch = "x86_64")]
    {
        let regs = at.regs;
        let Some(hi) = bounds(t, regs.sp) else {
            return NO_STACK;
        };
        // Not zeroed: a kilobyte of stores for every allocation otherwise.
        let mut buf = [MaybeUninit::<u64>::uninit(); MAX_FRAMES];
        // SAFETY: [sp, hi) is part of this thread's stack mapping (just checked), above
        // the capture point, a live frame of this thread (the contract of `at`: a
        // frame of the hook that called this function, or this function's own).
        let n = unsafe { unwind::walk(regs, regs.sp, hi, modules::own(), &mut buf) };
        if n == 0 {
            return NO_STACK;
        }
        // SAFETY: walk initialised the first `n` words.
        let native = unsafe { core::slice::from_raw_parts(buf.as_ptr().cast::<u64>(), n) };
        if python_frames::active() {
            return intern_spliced(native);
        }
        intern(native)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (t, at);
        NO_STACK
    }
}

/// Interns `native` with Python frames spliced in (a frame of its own, so the buffer is
/// on the stack only when needed: threads may have small stacks).
#[inline(never)]
fn intern_spliced(native: &[u64]) -> u32 {
    // Not zeroed, as the native buffer.
    let mut spliced = [MaybeUninit::<u64>::uninit(); MAX_FRAMES];
    let m = python_frames::splice(native, &mut spliced);
    // SAFETY: splice initialised the first `m` words.
    intern(unsafe { core::slice::from_raw_parts(spliced.as_ptr().cast::<u64>(), m) })
}

// ---------------------------------------------------------------------------------------
// Interning.

/// Slots of the table (16 bytes each, mapped lazily by the kernel); at most half used.
const SLOTS: usize = 1 << 21;
/// Words of frames kept (each stack: its length, then its frames).
const ARENA_WORDS: usize = 16 << 20;
/// Slots probed at most before a stack counts as new (or the table as full).
const MAX_PROBE: usize = 64;

/// One slot: the stack's hash, then `id | arena offset << 32` (0: empty), published last.
#[repr(C)]
struct Slot {
    hash: AtomicU64,
    val: AtomicU64,
}

static TABLE: AtomicPtr<Slot> = AtomicPtr::new(core::ptr::null_mut());
static ARENA: AtomicPtr<u64> = AtomicPtr::new(core::ptr::null_mut());
/// Arena words used and the next id: changed only under the ring lock.
static USED: AtomicUsize = AtomicUsize::new(0);
static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

fn map_table() -> bool {
    let t = sys::map(SLOTS * size_of::<Slot>());
    let a = sys::map(ARENA_WORDS * 8);
    if t.is_null() || a.is_null() {
        return false;
    }
    TABLE.store(t.cast(), Release);
    ARENA.store(a.cast(), Release);
    USED.store(0, Relaxed);
    NEXT_ID.store(1, Relaxed);
    true
}

/// In a fork child, before its stream starts: ids start again from 1.
pub fn after_fork_child() {
    if !on() {
        return;
    }
    let (t, a) = (TABLE.load(Relaxed), ARENA.load(Relaxed));
    // SAFETY: the child's copies of our own mappings; this is the child's only thread,
    // in no hook, and nothing else refers to them once the new ones are published.
    unsafe {
        sys::unmap(t.cast(), SLOTS * size_of::<Slot>());
        sys::unmap(a.cast(), ARENA_WORDS * 8);
    }
    if !map_table() {
        TABLE.store(core::ptr::null_mut(), Release);
    }
}

fn hash(frames: &[u64]) -> u64 {
    let mut h = frames.len() as u64;
    for &f in frames {
        h = (h.rotate_left(5) ^ f).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    (h ^ (h >> 29)) | 1
}

/// The id of `frames` if the table has it.
fn find(table: *mut Slot, arena: *const u64, h: u64, frames: &[u64]) -> Result<u32, usize> {
    let mut i = h as usize & (SLOTS - 1);
    for _ in 0..MAX_PROBE {
        // SAFETY: i < SLOTS, inside the table's mapping.
        let s = unsafe { &*table.add(i) };
        let v = s.val.load(Acquire);
        if v == 0 {
            return Err(i);
        }
        if s.hash.load(Relaxed) == h {
            let off = (v >> 32) as usize;
            // SAFETY: a published slot's arena words (its length, then its frames) were
            // written before it was published (Release/Acquire), within the arena, and
            // never change.
            let same = unsafe {
                *arena.add(off) as usize == frames.len()
                    && core::slice::from_raw_parts(arena.add(off + 1), frames.len()) == frames
            };
            if same {
                return Ok(v as u32);
            }
        }
        i = (i + 1) & (SLOTS - 1);
    }
    Err(usize::MAX)
}

fn intern(frames: &[u64]) -> u32 {
    let (table, arena) = (TABLE.load(Acquire), ARENA.load(Acquire));
    if table.is_null() {
        return NO_STACK;
    }
    let h = hash(frames);
    if let Ok(id) = find(table, arena, h, frames) {
        return id;
    }
    insert(table, arena, h, frames)
}

#[cold]
#[inline(never)]
fn insert(table: *mut Slot, arena: *mut u64, h: u64, frames: &[u64]) -> u32 {
    let single = crate::real::single_threaded();
    // SAFETY: `single` was read for this call, which creates no thread.
    let mut ring = unsafe { RING.lock_unless_single(single) };
    // Another thread may have added it since the lock-free look.
    let slot = match find(table, arena, h, frames) {
        Ok(id) => return id,
        Err(slot) => slot,
    };
    if !ring.live() {
        return NO_STACK;
    }
    let (used, id) = (USED.load(Relaxed), NEXT_ID.load(Relaxed));
    if slot == usize::MAX || id >= SLOTS / 2 || used + 1 + frames.len() > ARENA_WORDS {
        ring.stop(STOP_TABLE_FULL);
        return NO_STACK;
    }
    // The stream defines the stack (and the objects and code it uses) before any record
    // can use its id.
    ring.write_modules();
    python_frames::emit_new_codes(frames, &mut |r| {
        ring.write(r);
    });
    // SAFETY: frames are plain words; viewed as their bytes (little-endian on every
    // target we build for).
    let bytes =
        unsafe { core::slice::from_raw_parts(frames.as_ptr().cast::<u8>(), frames.len() * 8) };
    if !ring.write(&Record::Stack {
        id: id as u32,
        frames: Words::from_bytes(bytes),
    }) {
        return NO_STACK;
    }
    // SAFETY: [used, used + 1 + len) is inside the arena (checked) and unused: only the
    // ring lock's holder appends.
    unsafe {
        *arena.add(used) = frames.len() as u64;
        core::ptr::copy_nonoverlapping(frames.as_ptr(), arena.add(used + 1), frames.len());
    }
    USED.store(used + 1 + frames.len(), Relaxed);
    NEXT_ID.store(id + 1, Relaxed);
    // SAFETY: slot < SLOTS; it was empty, and only the ring lock's holder fills slots.
    let s = unsafe { &*table.add(slot) };
    s.hash.store(h, Relaxed);
    s.val.store(id as u64 | (used as u64) << 32, Release);
    id as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_threads_stack_is_found() {
        let x = 0u64;
        let sp = &x as *const u64 as u64;
        let (lo, hi) = stack_bounds(sp).unwrap();
        assert!(lo <= sp && sp < hi);
        assert_eq!(stack_bounds(8), None);
    }

    #[test]
    fn maps_lines() {
        let l = b"7ffd0000-7ffd2000 rw-p 00000000 00:00 0   [stack]";
        assert_eq!(
            parse_line(l, 0x7ffd1000),
            Some(Some((0x7ffd0000, 0x7ffd2000)))
        );
        assert_eq!(parse_line(l, 0x7ffd2000), None);
        let l = b"10000-20000 ---p 00000000 00:00 0";
        assert_eq!(parse_line(l, 0x10000), Some(None));
    }
}
