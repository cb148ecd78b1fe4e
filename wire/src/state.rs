//! Layout of the per-process shared state file.
//!
//! The preload maps `s-<pid>-<image>` from the run directory `MAP_SHARED` and keeps its
//! live counters there, and the samples of the regions it closed ([`crate::samples`]).
//! The launcher drains the samples while the process runs and reads the file once more
//! after the process is gone, so what was measured survives a `SIGKILL` or an `_exit`.
//!
//! The accounting model (see the preload's `hot` and `regions` modules for the writer side):
//! - `L`, the live bytes of every allocation tracked in this process, and `M`, the
//!   highest `L` since the last *fold*, change together in one 16-byte word ([`Hot`]).
//! - A region `R` keeps `offset` such that `live(R) = L + offset`, and `peak`, its
//!   high-water up to the last fold. Because `offset` changes only under a fold, the
//!   peak of `R` at any moment is `max(peak, M + offset)` ([`region_stats`]).
//! - Allocation counts and byte totals are per-thread counters; a region remembers their
//!   sums when it began.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering::Relaxed};

use crate::Stats;
use crate::names::NAME_CAP;
use crate::samples::{NameTable, SampleRing};

/// First word of a valid state file.
pub const MAGIC: u64 = 0x3156_4d45_4d48_4342; // "BCHMEMV1", little-endian
/// Layout version; bumped on any change to this file.
pub const VERSION: u32 = 3;
/// Regions open at the same time in one process, the root included.
pub const MAX_OPEN_REGIONS: usize = 256;
/// Threads with a counter slot of their own; later threads share an atomic overflow slot.
pub const MAX_THREAD_SLOTS: usize = 512;
/// Bits of the hot word that hold live bytes (256 TiB).
pub const LIVE_BITS: u32 = 48;
/// Mask of the live bytes in the hot word.
pub const LIVE_MASK: u64 = (1 << LIVE_BITS) - 1;

/// The process is running (or died without saying otherwise: killed, crashed).
pub const STATUS_RUNNING: u32 = 1;
/// The process went through `exit`/`_exit`; `exit_code` holds its status.
pub const STATUS_EXITED: u32 = 2;
/// The process image was replaced by `execve`; the next image has the same pid.
pub const STATUS_EXECED: u32 = 3;

/// Problem bit: bookkeeping memory could not be mapped; some frees may be unknown.
pub const PROBLEM_TABLE_FULL: u64 = 1 << 0;
/// Problem bit: a region could not begin because too many were open at once.
pub const PROBLEM_TOO_MANY_REGIONS: u64 = 1 << 1;
/// Problem bit: region samples were lost because the launcher did not drain the sample
/// ring in time (see `lost_samples`).
pub const PROBLEM_SAMPLES_LOST: u64 = 1 << 2;
/// Problem bit: C++ `operator new`/`delete` come from the allocator itself (jemalloc,
/// tcmalloc built with C++ support), not through malloc/free, so they are not counted.
pub const PROBLEM_NEW_BYPASSES_MALLOC: u64 = 1 << 3;
/// Problem bit: valgrind replaces malloc in this process (memcheck, massif, helgrind, drd,
/// dhat): its malloc calls never reach the preload. `malloc_owner` names the tool.
pub const PROBLEM_VALGRIND: u64 = 1 << 4;
/// Problem bit: a library was loaded with `RTLD_DEEPBIND`; its own malloc calls bind to
/// libc's malloc, past the preload.
pub const PROBLEM_DEEPBIND: u64 = 1 << 5;
/// Problem bit: an object ahead of the preload in the symbol search order (the program
/// itself) defines malloc, so malloc calls never reach the preload. `malloc_owner` names it.
pub const PROBLEM_MALLOC_SHADOWED: u64 = 1 << 6;
/// Problem bit: the process closed regions of more distinct names than its name table
/// holds ([`crate::samples::MAX_NAMES`]); their samples were lost (see `lost_samples`).
pub const PROBLEM_NAMES_FULL: u64 = 1 << 7;

/// Capacity of the path fields of the header (`exec_path`, `exe`).
pub const PATH_CAP: usize = 512;
/// Capacity of the library-name fields of the header (`malloc_owner`, `new_owner`).
pub const OWNER_CAP: usize = 128;
/// Exec bit: the environment passed to exec held an `LD_PRELOAD` naming the preload.
pub const EXEC_HAS_PRELOAD: u32 = 1 << 0;
/// Exec bit: the environment passed to exec held `BENCHMEM_DIR` naming this run.
pub const EXEC_HAS_DIR: u32 = 1 << 1;
/// Exec bit: the path did not fit `exec_path` and was cut.
pub const EXEC_PATH_CUT: u32 = 1 << 2;
/// Exec bit: the program is a sanitizer build (its runtime must be loaded first), so the
/// preload took itself out of the environment passed to exec on purpose. The other bits
/// still describe the environment the program was given to exec with.
pub const EXEC_SANITIZER: u32 = 1 << 3;

/// Set in [`Header::reaped`] when the low 16 bits hold a wait status.
pub const REAPED_KNOWN: u32 = 1 << 31;

/// Region slot is unused.
pub const REGION_FREE: u32 = 0;
/// Region slot holds an open region.
pub const REGION_OPEN: u32 = 1;
/// [`RegionSlot::name_index`] of a region whose name did not fit the name table.
pub const NO_NAME: u32 = u32::MAX;

/// Who the process is and how it ended.
#[repr(C, align(64))]
pub struct Header {
    /// [`MAGIC`] once the file is initialised.
    pub magic: AtomicU64,
    /// [`VERSION`].
    pub version: AtomicU32,
    /// One of the `STATUS_*` values.
    pub status: AtomicU32,
    /// Process id.
    pub pid: AtomicU32,
    /// Parent process id at start.
    pub ppid: AtomicU32,
    /// How many images this pid had before this one (execs).
    pub image: AtomicU32,
    /// Exit status passed to `exit`/`_exit` when `status` is [`STATUS_EXITED`].
    pub exit_code: AtomicU32,
    /// `CLOCK_MONOTONIC` nanoseconds when tracking began.
    pub start_ns: AtomicU64,
    /// `CLOCK_MONOTONIC` nanoseconds when the process exited or exec'd (0 if it did not say).
    pub end_ns: AtomicU64,
    /// Region samples lost: the sample ring stayed full ([`PROBLEM_SAMPLES_LOST`]), or
    /// the name table was ([`PROBLEM_NAMES_FULL`]).
    pub lost_samples: AtomicU64,
    /// `PROBLEM_*` bits.
    pub problems: AtomicU64,
    /// How the process ended as its parent saw it: `REAPED_KNOWN | wait status`, written
    /// by the parent's preload when its `wait` family call reaps this pid (0: not seen).
    /// A process killed by a signal cannot say so itself; its parent can.
    pub reaped: AtomicU32,
    /// Length of `name`.
    pub name_len: AtomicU32,
    /// Name of the root region (`BENCHMEM_REGION` or the program's basename).
    pub name: UnsafeCell<[u8; NAME_CAP]>,
    /// Bytes of `PROT_NONE` reservations the program made accessible with `mprotect`
    /// (outside any allocator call): memory in use that no allocation counted.
    pub unprotected_bytes: AtomicU64,
    /// Length of `exec_path` while an exec call is under way; 0 when none is (or it failed).
    pub exec_len: AtomicU32,
    /// `EXEC_*` bits about that exec call.
    pub exec_flags: AtomicU32,
    /// Length of `exe`.
    pub exe_len: AtomicU32,
    /// Length of `malloc_owner`.
    pub malloc_owner_len: AtomicU32,
    /// Length of `new_owner`.
    pub new_owner_len: AtomicU32,
    /// The program an exec call under way was given, made absolute when the preload could
    /// (cwd for relative paths, `PATH` for `execvp`'s bare names, `/proc` for `fexecve`).
    pub exec_path: UnsafeCell<[u8; PATH_CAP]>,
    /// The executable of this image (`/proc/self/exe` at start), empty when unknown or
    /// longer than [`PATH_CAP`].
    pub exe: UnsafeCell<[u8; PATH_CAP]>,
    /// Who serves malloc instead of the preload (see [`PROBLEM_VALGRIND`],
    /// [`PROBLEM_MALLOC_SHADOWED`]).
    pub malloc_owner: UnsafeCell<[u8; OWNER_CAP]>,
    /// Base name of the library whose C++ `operator new` bypasses malloc (see
    /// [`PROBLEM_NEW_BYPASSES_MALLOC`]).
    pub new_owner: UnsafeCell<[u8; OWNER_CAP]>,
}

/// The word every allocation and free updates: live bytes and generation, then the mark.
#[repr(C, align(64))]
pub struct Hot {
    /// Low 48 bits: live bytes `L`. High 16 bits: generation, bumped by every fold.
    pub live_gen: AtomicU64,
    /// `M`: the highest `L` since the last fold. Updated together with `live_gen`.
    pub mark: AtomicU64,
}

/// Allocation counters of one thread (or of the shared overflow slot).
#[repr(C, align(64))]
pub struct ThreadCounters {
    /// Successful allocation calls.
    pub allocations: AtomicU64,
    /// Sum of their requested sizes.
    pub bytes: AtomicU64,
}

/// One open region (slot 0 is the root region, open for the life of the process).
#[repr(C, align(64))]
pub struct RegionSlot {
    /// [`REGION_FREE`] or [`REGION_OPEN`].
    pub state: AtomicU32,
    /// Bumped each time the slot is reused, so a stale region id is refused.
    pub seq: AtomicU32,
    /// Epoch at which the region began (allocations stamped earlier are "old" for it).
    pub begin_epoch: AtomicU32,
    /// Length of `name`.
    pub name_len: AtomicU32,
    /// `live(R) = L + offset`.
    pub offset: AtomicI64,
    /// High-water of `live(R)` up to the last fold.
    pub peak: AtomicU64,
    /// Sum of allocation counts when the region began.
    pub begin_allocations: AtomicU64,
    /// Sum of allocated bytes when the region began.
    pub begin_bytes: AtomicU64,
    /// `CLOCK_MONOTONIC` nanoseconds when the region began.
    pub begin_ns: AtomicU64,
    /// Live bytes of the process (`L`) when the region began.
    pub begin_live: AtomicU64,
    /// Index of the region's name in the sample name table, [`NO_NAME`] when the table
    /// was full.
    pub name_index: AtomicU32,
    /// The region's name (see [`crate::names::fit_name`]).
    pub name: UnsafeCell<[u8; NAME_CAP]>,
}

/// Everything one process image shares with the launcher.
#[repr(C)]
pub struct ProcessState {
    /// Identity and status.
    pub header: Header,
    /// Live bytes and mark.
    pub hot: Hot,
    /// Thread slots handed out so far (may exceed [`MAX_THREAD_SLOTS`]; extra threads use `overflow`).
    pub threads_used: AtomicU32,
    /// Shared counters of threads beyond [`MAX_THREAD_SLOTS`].
    pub overflow: ThreadCounters,
    /// Per-thread counters.
    pub threads: [ThreadCounters; MAX_THREAD_SLOTS],
    /// Open regions; slot 0 is the root.
    pub regions: [RegionSlot; MAX_OPEN_REGIONS],
    /// Samples of closed regions, on their way to the launcher.
    pub samples: SampleRing,
    /// The names they refer to.
    pub names: NameTable,
}

// SAFETY: every field is an atomic or a name buffer written before it is published
// (under the preload's region lock) and read only after.
unsafe impl Sync for ProcessState {}

/// Size of a state file in bytes.
pub const STATE_SIZE: usize = core::mem::size_of::<ProcessState>();
/// The first bytes of a state file, which hold everything but the samples and their
/// names: what a report of the process reads (the rest is the sample reader's).
pub const REPORT_SIZE: usize = core::mem::offset_of!(ProcessState, samples);

// One file per process image: small where it is written on every allocation (the pages of
// the ring and the names are touched only by a process that closes regions), and the hot
// word 16-byte aligned for cmpxchg16b.
const _: () = assert!(REPORT_SIZE < 512 * 1024);
const _: () = assert!(STATE_SIZE < 8 * 1024 * 1024);
const _: () = assert!(core::mem::align_of::<Hot>() == 64);

/// Split the hot word into (live bytes, generation).
#[inline(always)]
pub fn unpack(live_gen: u64) -> (u64, u16) {
    (live_gen & LIVE_MASK, (live_gen >> LIVE_BITS) as u16)
}

/// Join live bytes and generation into the hot word.
#[inline(always)]
pub fn pack(live: u64, generation: u16) -> u64 {
    (live & LIVE_MASK) | ((generation as u64) << LIVE_BITS)
}

/// The stats of a region from its slot and the process counters: the one place where
/// peak, retained, allocations and total bytes are derived.
///
/// `live`/`mark` are `L`/`M` of the hot word; `allocations`/`bytes` the current sums.
pub fn region_stats(
    peak: u64,
    offset: i64,
    live: u64,
    mark: u64,
    (allocations, bytes): (u64, u64),
    (begin_allocations, begin_bytes): (u64, u64),
) -> Stats {
    let at = |l: u64| (l as i64).saturating_add(offset).max(0) as u64;
    Stats {
        peak_bytes: peak.max(at(mark)),
        total_bytes: bytes.saturating_sub(begin_bytes),
        allocations: allocations.saturating_sub(begin_allocations),
        retained_bytes: at(live),
    }
}

impl ProcessState {
    /// Sums of allocation counts and bytes over every thread slot.
    pub fn counts(&self) -> (u64, u64) {
        let used = (self.threads_used.load(Relaxed) as usize).min(MAX_THREAD_SLOTS);
        let mut allocations = self.overflow.allocations.load(Relaxed);
        let mut bytes = self.overflow.bytes.load(Relaxed);
        for t in &self.threads[..used] {
            allocations = allocations.wrapping_add(t.allocations.load(Relaxed));
            bytes = bytes.wrapping_add(t.bytes.load(Relaxed));
        }
        (allocations, bytes)
    }

    /// Current stats of an open region slot, as if it ended now.
    pub fn slot_stats(&self, slot: &RegionSlot) -> Stats {
        let (live, _) = unpack(self.hot.live_gen.load(Relaxed));
        let mark = self.hot.mark.load(Relaxed);
        region_stats(
            slot.peak.load(Relaxed),
            slot.offset.load(Relaxed),
            live,
            mark,
            self.counts(),
            (
                slot.begin_allocations.load(Relaxed),
                slot.begin_bytes.load(Relaxed),
            ),
        )
    }

    /// The root region's name.
    pub fn name(&self) -> &[u8] {
        self.header.name()
    }

    /// The program an exec call under way was given (empty when none).
    pub fn exec_path(&self) -> &[u8] {
        field(&self.header.exec_len, &self.header.exec_path)
    }

    /// The executable of this image (empty when unknown).
    pub fn exe(&self) -> &[u8] {
        field(&self.header.exe_len, &self.header.exe)
    }

    /// Who serves malloc instead of the preload (empty when nobody does).
    pub fn malloc_owner(&self) -> &[u8] {
        field(&self.header.malloc_owner_len, &self.header.malloc_owner)
    }

    /// The library whose C++ `operator new` bypasses malloc (empty when unknown).
    pub fn new_owner(&self) -> &[u8] {
        field(&self.header.new_owner_len, &self.header.new_owner)
    }

    /// Whether the header says this is a state file of this layout.
    pub fn is_valid(&self) -> bool {
        self.header.magic.load(Relaxed) == MAGIC && self.header.version.load(Relaxed) == VERSION
    }
}

impl Header {
    /// The root region's name.
    pub fn name(&self) -> &[u8] {
        let len = (self.name_len.load(Relaxed) as usize).min(NAME_CAP);
        // SAFETY: written once before the header is published.
        unsafe { &(&*self.name.get())[..len] }
    }

    /// The wait status the parent reaped this process with, if a parent under the preload
    /// reaped it.
    pub fn reaped_status(&self) -> Option<i32> {
        let v = self.reaped.load(Relaxed);
        (v & REAPED_KNOWN != 0).then_some((v & 0xffff) as i32)
    }
}

/// The first `len` bytes of a header byte field.
fn field<'a, const N: usize>(len: &AtomicU32, buf: &'a UnsafeCell<[u8; N]>) -> &'a [u8] {
    let len = (len.load(Relaxed) as usize).min(N);
    // SAFETY: the writer stores the bytes before the length; a reader that races with a
    // change (the launcher reads after the process is gone) sees bytes, never UB-worthy
    // memory: the buffer is plain bytes inside the mapping.
    unsafe { &(&*buf.get())[..len] }
}

/// Copies `src` into a header byte field and sets its length: the bytes first, then the
/// length (Release). Returns false when `src` did not fit and was cut to `N` bytes.
pub fn set_field<const N: usize>(len: &AtomicU32, buf: &UnsafeCell<[u8; N]>, src: &[u8]) -> bool {
    let n = src.len().min(N);
    len.store(0, Relaxed);
    // SAFETY: the header's byte fields are written only by the process that owns the
    // state, and only through this function; readers go by the length stored after.
    unsafe { (&mut *buf.get())[..n].copy_from_slice(&src[..n]) };
    len.store(n as u32, core::sync::atomic::Ordering::Release);
    n == src.len()
}

impl RegionSlot {
    /// The region's name.
    pub fn name(&self) -> &[u8] {
        let len = (self.name_len.load(Relaxed) as usize).min(NAME_CAP);
        // SAFETY: written before the slot is marked open.
        unsafe { &(&*self.name.get())[..len] }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_roundtrip() {
        let w = pack(123_456_789, 65_535);
        assert_eq!(unpack(w), (123_456_789, 65_535));
    }

    #[test]
    fn region_peak_uses_mark_plus_offset() {
        // Region began at L = 1000 (offset -1000), peak so far 0, mark since fold 1500.
        let s = region_stats(0, -1000, 1200, 1500, (10, 700), (4, 100));
        assert_eq!(s.peak_bytes, 500);
        assert_eq!(s.retained_bytes, 200);
        assert_eq!(s.allocations, 6);
        assert_eq!(s.total_bytes, 600);
    }
}
