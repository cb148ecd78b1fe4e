//! The stack stream's producer: the ring of records in `k-<pid>-<image>` (format and
//! ordering rules: `benchmem_wire::stacks`).
//!
//! Everything is written under [`RING`], which the hooks hold around the counter update
//! a record mirrors, so the records are in the order the counters saw the events. A full
//! ring is waited on (sleeping) for at most [`WAIT_BUDGET_NS`] over the life of the
//! process image; then the stream stops (`STOP_FULL`), the records not written are
//! counted in `lost`, and the program goes on as if nothing was recorded.

use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32};

use benchmem_wire::names::ENV_STACKS_RING_C;
use benchmem_wire::stacks::{
    DATA_OFFSET, DEFAULT_CAPACITY, MAGIC, NO_STACK, Record, RingHeader, STOP_FULL, VERSION,
    alloc_words, encode, encoded_words, free_words, stacks_file_name,
};

use crate::spin::SpinLock;
use crate::{modules, statefile, sys};

/// Total time a process image waits for the launcher to drain a full ring.
pub const WAIT_BUDGET_NS: u64 = 2_000_000_000;
/// One wait for the launcher.
const NAP_NS: u64 = 1_000_000;

/// The ring this process image writes, if any.
pub struct Ring {
    hdr: *const RingHeader,
    data: *mut u8,
    cap: u64,
    map_len: usize,
    /// Bytes ever written (the header's `head` is stored from it).
    head: u64,
    /// The launcher's `tail` as last read.
    tail: u64,
    /// Time spent waiting for room so far.
    waited_ns: u64,
    /// Modules of [`modules`] written to this stream.
    modules: usize,
    /// Set once the stream stopped: nothing more is written.
    stopped: bool,
    /// The process image's base epoch: blocks stamped before it are a fork parent's.
    base: u32,
}

// SAFETY: the pointers are to this process's own shared mapping, reached only under the
// lock.
unsafe impl Send for Ring {}

/// The ring, and the lock that orders records as the counters see their events.
pub static RING: SpinLock<Ring> = SpinLock::new(Ring {
    hdr: core::ptr::null(),
    data: core::ptr::null_mut(),
    cap: 0,
    map_len: 0,
    head: 0,
    tail: 0,
    waited_ns: 0,
    modules: 0,
    stopped: true,
    base: 0,
});

/// True while records are written (so stacks are worth capturing).
static RECORDING: AtomicBool = AtomicBool::new(false);
/// The pid whose ring this is (a vfork child must not close its parent's).
static PID: AtomicU32 = AtomicU32::new(0);
/// The ring's header, for [`close`], which takes no lock: it runs at `_exit`, which a
/// signal handler may call while its thread holds the ring's lock.
static HEADER: AtomicPtr<RingHeader> = AtomicPtr::new(core::ptr::null_mut());
/// Closed (exit, exec): records are written only while there is room, without waiting.
static CLOSING: AtomicBool = AtomicBool::new(false);

/// Whether the stream takes records.
#[inline(always)]
pub fn recording() -> bool {
    RECORDING.load(Relaxed)
}

fn capacity() -> u64 {
    let n = sys::getenv(ENV_STACKS_RING_C)
        .and_then(|v| core::str::from_utf8(v).ok()?.parse::<u64>().ok())
        .unwrap_or(DEFAULT_CAPACITY)
        .clamp(4096, 1 << 40);
    // The largest power of two not above it.
    1 << (63 - n.leading_zeros())
}

/// Creates the stream of process image (`pid`, `image`) with its first records: the
/// process and the objects loaded now. Without a run directory, or when the file cannot
/// be made, nothing is recorded.
pub fn create(pid: u32, image: u32, base_epoch: u32) {
    let mut r = RING.lock();
    r.forget();
    PID.store(pid, Relaxed);
    let dir = statefile::run_dir();
    if dir.is_empty() {
        return;
    }
    let mut path = [0u8; 512];
    if dir.len() + 32 > path.len() {
        return;
    }
    path[..dir.len()].copy_from_slice(dir);
    path[dir.len()] = b'/';
    stacks_file_name(pid, image, &mut path[dir.len() + 1..]);
    let cap = capacity();
    let len = DATA_OFFSET + cap as usize;
    let mem = sys::keep_errno(|| {
        // SAFETY: a NUL-terminated path (the buffer is zeroed past the name); the fd is
        // closed once mapped.
        unsafe {
            let fd = libc::open(
                path.as_ptr().cast(),
                libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC,
                0o600,
            );
            if fd < 0 {
                return core::ptr::null_mut();
            }
            let m = if libc::ftruncate(fd, len as libc::off_t) == 0 {
                sys::map_shared(fd, len)
            } else {
                core::ptr::null_mut()
            };
            libc::close(fd);
            m
        }
    });
    if mem.is_null() {
        return;
    }
    // SAFETY: a fresh zeroed shared mapping of `len` bytes, page-aligned: its first page
    // is the header (all-zero is a valid one), the rest the records.
    let h = unsafe { &*(mem as *const RingHeader) };
    h.version.store(VERSION, Relaxed);
    h.pid.store(pid, Relaxed);
    h.capacity.store(cap, Relaxed);
    h.magic.store(MAGIC, Release);
    *r = Ring {
        hdr: h,
        // SAFETY: the records start DATA_OFFSET bytes into the mapping.
        data: unsafe { mem.add(DATA_OFFSET) },
        cap,
        map_len: len,
        head: 0,
        tail: 0,
        waited_ns: 0,
        modules: 0,
        stopped: false,
        base: base_epoch,
    };
    CLOSING.store(false, Relaxed);
    HEADER.store(mem.cast(), Release);
    RECORDING.store(true, Relaxed);
    r.write(&Record::Process { base_epoch, pid });
    r.write_modules();
}

/// In a fork child: the parent's stream stays the parent's. Drops this process's view of
/// it (before the child's own is created).
pub fn forget_parent() {
    RECORDING.store(false, Relaxed);
    // SAFETY: fork_child released every lock; this is the only thread.
    unsafe { RING.force_unlock() };
    RING.lock().forget();
}

/// The process image will write no more (exit, exec): from now on records are written
/// only while the ring has room. Takes no lock.
pub fn close() {
    set_closed(true);
}

/// An exec failed: the image goes on writing.
pub fn reopen() {
    set_closed(false);
}

fn set_closed(closed: bool) {
    if sys::getpid_raw() != PID.load(Relaxed) {
        return; // a vfork child, in its parent's memory
    }
    CLOSING.store(closed, Relaxed);
    // SAFETY: a non-null header is our live mapping: it is unmapped only in a fork child
    // (by its only thread), after this pointer was cleared.
    if let Some(h) = unsafe { HEADER.load(Acquire).as_ref() } {
        h.closed.store(closed as u32, Release);
    }
}

impl Ring {
    fn header(&self) -> Option<&RingHeader> {
        // SAFETY: a non-null header is our live shared mapping (see `create`).
        unsafe { self.hdr.as_ref() }
    }

    fn forget(&mut self) {
        HEADER.store(core::ptr::null_mut(), Release);
        if !self.hdr.is_null() {
            // SAFETY: our mapping of the stream file; nothing else refers to it (the
            // lock is held, and RECORDING is off or about to be replaced).
            unsafe { sys::unmap(self.hdr as *mut u8, self.map_len) };
        }
        self.hdr = core::ptr::null();
        self.data = core::ptr::null_mut();
        self.stopped = true;
        RECORDING.store(false, Relaxed);
    }

    /// Writes the modules of the table this stream has not written yet.
    pub fn write_modules(&mut self) {
        while self.modules < modules::count() {
            let Some(m) = modules::get(self.modules) else {
                break;
            };
            let seq = self.modules as u32;
            self.modules += 1;
            self.write(&Record::Module {
                seq,
                bias: m.bias,
                start: m.start,
                end: m.end,
                build_id: m.build_id(),
                path: m.path(),
            });
        }
    }

    /// Stops the stream for `why` (a `STOP_*` reason).
    pub fn stop(&mut self, why: u32) {
        if let Some(h) = self.header() {
            h.stopped.store(why, Release);
        }
        self.stopped = true;
        RECORDING.store(false, Relaxed);
    }

    /// Whether the stream is written to.
    pub fn live(&self) -> bool {
        !self.stopped
    }

    /// Appends the record of an allocation (the hot path: no general encoding).
    #[inline(always)]
    pub fn alloc(&mut self, stack: u32, size: u64) {
        self.small(&alloc_words(stack, size), Record::Alloc { stack, size });
    }

    /// Appends the record of a free. A block of a fork parent (stamped before this image
    /// began) carries a stack id of the parent's stream: it is written as unknown.
    #[inline(always)]
    pub fn free(&mut self, stack: u32, size: u64, epoch: u32) {
        let stack = if crate::hot::before(epoch, self.base) {
            NO_STACK
        } else {
            stack
        };
        self.small(
            &free_words(stack, size, epoch),
            Record::Free { stack, size, epoch },
        );
    }

    /// Appends `rec`, already encoded as `words`, when it fits before the ring's end
    /// without waiting; otherwise through [`write`](Self::write)'s general path.
    #[inline(always)]
    fn small<const N: usize>(&mut self, words: &[u64; N], rec: Record) {
        let n = N as u64 * 8;
        let pos = self.head & self.cap.wrapping_sub(1);
        if self.stopped || self.cap - pos < n || self.cap - (self.head - self.tail) < n {
            return self.small_slow(&rec);
        }
        // SAFETY: [pos, pos + n) is inside the records area and free (checked above);
        // only this thread writes, under the lock.
        unsafe {
            let at = self.data.add(pos as usize).cast::<u64>();
            for (i, w) in words.iter().enumerate() {
                at.add(i).write_unaligned(w.to_le());
            }
            self.head += n;
            (*self.hdr).head.store(self.head, Release);
        }
    }

    #[cold]
    #[inline(never)]
    fn small_slow(&mut self, rec: &Record) {
        self.write(rec);
    }

    /// Appends `rec`; false when it was not written (the stream stopped, or is full).
    pub fn write(&mut self, rec: &Record) -> bool {
        if self.stopped {
            self.lose(rec);
            return false;
        }
        let n = encoded_words(rec) as u64 * 8;
        let pos = self.head & (self.cap - 1);
        let to_end = self.cap - pos;
        let need = if n > to_end { to_end + n } else { n };
        if !self.room(need) {
            if !CLOSING.load(Relaxed) {
                self.stop(STOP_FULL);
            }
            self.lose(rec);
            return false;
        }
        let (h, data) = (self.hdr, self.data);
        let mut at = pos;
        if n > to_end {
            // SAFETY: [pos, cap) is inside the records area and free (`room`). The pad
            // is given all of it: an encoding needs room for the words it spans, though
            // it writes only the first.
            let pad =
                unsafe { core::slice::from_raw_parts_mut(data.add(pos as usize), to_end as usize) };
            encode(
                &Record::Pad {
                    words: (to_end / 8) as usize,
                },
                pad,
            );
            self.head += to_end;
            at = 0;
        }
        // SAFETY: [at, at + n) is inside the records area (a record never wraps: `at + n
        // <= cap` here) and free (`room`); only this thread writes, under the lock.
        let out = unsafe { core::slice::from_raw_parts_mut(data.add(at as usize), n as usize) };
        if encode(rec, out).is_none() {
            self.lose(rec);
            return false;
        }
        self.head += n;
        // SAFETY: as in `header`.
        unsafe { (*h).head.store(self.head, Release) };
        true
    }

    /// Counts an allocation or free not recorded.
    fn lose(&self, rec: &Record) {
        if matches!(rec, Record::Alloc { .. } | Record::Free { .. })
            && let Some(h) = self.header()
        {
            h.lost.fetch_add(1, Relaxed);
        }
    }

    /// Whether `need` more bytes fit, waiting for the launcher (within the budget).
    fn room(&mut self, need: u64) -> bool {
        if need > self.cap {
            return false;
        }
        loop {
            if self.cap - (self.head - self.tail) >= need {
                return true;
            }
            let Some(h) = self.header() else {
                return false;
            };
            let t = h.tail.load(Acquire);
            // A tail beyond what was written is corrupt: treat the ring as not drained.
            if t > self.tail && t <= self.head {
                self.tail = t;
                continue;
            }
            if CLOSING.load(Relaxed) || self.waited_ns >= WAIT_BUDGET_NS {
                return false;
            }
            nap();
            self.waited_ns += NAP_NS;
        }
    }
}

fn nap() {
    let ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: NAP_NS as i64,
    };
    sys::keep_errno(|| {
        // SAFETY: a valid timespec; a signal cutting the sleep short is harmless.
        unsafe {
            libc::syscall(
                libc::SYS_nanosleep,
                &ts,
                core::ptr::null_mut::<libc::timespec>(),
            )
        };
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use benchmem_wire::stacks::decode;

    #[test]
    fn the_fast_records_are_the_wire_s_encoding() {
        let mut mem = vec![0u64; 64];
        let mut r = Ring {
            // SAFETY: all-zero is a valid header.
            hdr: Box::leak(unsafe { Box::<RingHeader>::new_zeroed().assume_init() }),
            data: mem.as_mut_ptr().cast(),
            cap: 512,
            map_len: 0,
            head: 0,
            tail: 0,
            waited_ns: 0,
            modules: 0,
            stopped: false,
            base: 3,
        };
        r.alloc(7, 1 << 40);
        r.free(u32::MAX, 5, 9);
        r.free(8, 6, 2);
        assert_eq!(r.head, 64);
        // SAFETY: the 64 bytes just written.
        let bytes = unsafe { core::slice::from_raw_parts(r.data, 64) };
        let (a, n) = decode(bytes).unwrap();
        assert_eq!(
            (a, n),
            (
                Record::Alloc {
                    stack: 7,
                    size: 1 << 40
                },
                16
            )
        );
        let (f, _) = decode(&bytes[16..]).unwrap();
        assert_eq!(
            f,
            Record::Free {
                stack: u32::MAX,
                size: 5,
                epoch: 9
            }
        );
        // A fork parent's block: its stack id is the parent's, not this stream's.
        let (f, _) = decode(&bytes[40..]).unwrap();
        assert_eq!(
            f,
            Record::Free {
                stack: NO_STACK,
                size: 6,
                epoch: 2
            }
        );
        // A record that does not fit before the ring's end: a pad spanning the rest, and
        // the record at the start, as the launcher reads them.
        mem.fill(u64::MAX);
        r.head = 512 - 16;
        r.tail = r.head;
        r.free(1, 2, 3);
        assert_eq!(r.head, 512 + 24);
        // SAFETY: the ring's 512 bytes.
        let ring = unsafe { core::slice::from_raw_parts(r.data, 512) };
        assert_eq!(
            decode(&ring[496..]).unwrap(),
            (Record::Pad { words: 2 }, 16)
        );
        let (f, _) = decode(ring).unwrap();
        assert_eq!(
            f,
            Record::Free {
                stack: 1,
                size: 2,
                epoch: 3
            }
        );
    }
}
