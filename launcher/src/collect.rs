//! Reading the state files every process image left in the run directory.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;

use benchmem_wire::names::parse_state_file_name;
use benchmem_wire::state::{
    PROBLEM_DEEPBIND, PROBLEM_MALLOC_SHADOWED, PROBLEM_NAMES_FULL, PROBLEM_NEW_BYPASSES_MALLOC,
    PROBLEM_TABLE_FULL, PROBLEM_TOO_MANY_REGIONS, PROBLEM_VALGRIND, ProcessState, REGION_OPEN,
    REPORT_SIZE, STATE_SIZE, STATUS_EXECED, STATUS_EXITED,
};

use crate::Stats;
use crate::blind::{self, Scanner};
use crate::incomplete::{Problem, UnfollowedExec, Unmeasured};

/// PROT_NONE reservations made accessible below this many bytes are not reported: the
/// note is there to explain a material gap between benchmem's numbers and RSS, and below
/// 1 MiB the gap is within what the preload's own bookkeeping already adds to RSS.
const UNPROTECTED_NOTE_MIN: u64 = 1 << 20;

/// An exec call the image made and did not return from.
#[derive(Clone, Debug)]
pub struct ExecCall {
    /// The program, as the preload recorded it (absolute when it could tell).
    pub path: Vec<u8>,
    /// `EXEC_*` bits.
    pub flags: u32,
}

/// How a process image ended, as far as it could say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// exit/_exit with this status.
    Exited(u32),
    /// Replaced by exec.
    Execed,
    /// Said nothing: killed, crashed, or still running.
    Silent,
}

/// A region still open when the process image ended.
#[derive(Debug)]
pub struct OpenRegion {
    /// Raw name bytes.
    pub name: Vec<u8>,
    /// Counters up to the end.
    pub stats: Stats,
    /// Wall time from begin to the process's end, if known.
    pub duration_ns: Option<u64>,
}

/// One process image's final report.
#[derive(Debug)]
pub struct ProcessReport {
    /// Process id.
    pub pid: u32,
    /// Exec count of that pid.
    pub image: u32,
    /// Root region name.
    pub name: Vec<u8>,
    /// How it ended.
    pub ending: Ending,
    /// Tracking start (CLOCK_MONOTONIC ns).
    pub start_ns: u64,
    /// Root region (whole life).
    pub root: Stats,
    /// Life time, if it said when it ended.
    pub duration_ns: Option<u64>,
    /// Regions never closed.
    pub open: Vec<OpenRegion>,
    /// Region samples the process could not hand over (see its problems for why).
    pub lost_samples: u64,
    /// Problems it ran into.
    pub problems: Vec<Problem>,
    /// The wait status its parent reaped it with, when the parent ran under the preload.
    pub reaped: Option<i32>,
    /// The exec call under way when the image ended, if any.
    pub exec: Option<ExecCall>,
    /// Why its allocations were not measured at all (valgrind, an allocator of its own),
    /// for its row.
    pub unmeasured: Option<Unmeasured>,
}

impl ProcessReport {
    /// For an image that ended without a word to benchmem while an exec call was under
    /// way: why the program it exec'd never reported (a scrubbed environment, a static,
    /// setuid, 32-bit or sanitizer program). None otherwise.
    pub fn unfollowed_exec(&self) -> Option<UnfollowedExec> {
        let e = self
            .exec
            .as_ref()
            .filter(|_| self.ending == Ending::Silent)?;
        Some(blind::unfollowed_exec(&e.path, e.flags))
    }
}

/// Reads every state file in `dir`, in start order.
pub fn collect(dir: &Path) -> Vec<ProcessReport> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut scanner = Scanner::default();
    let mut out: Vec<ProcessReport> = entries
        .flatten()
        .filter_map(|e| {
            let key = parse_state_file_name(e.file_name().as_encoded_bytes())?;
            read_state(&e.path(), key)
        })
        .map(|st| report(&st, &mut scanner))
        .collect();
    out.sort_by_key(|p| (p.start_ns, p.pid, p.image));
    out
}

/// A copy of the report part of a state file, in anonymous memory the size of a whole
/// state whose sample ring and names stay zero: pages never touched, so never resident
/// (a heap allocation this aligned would be zeroed by hand, megabytes per process).
pub(crate) struct StateCopy(*mut ProcessState);

impl StateCopy {
    fn new() -> Option<StateCopy> {
        // SAFETY: a fresh private anonymous mapping; zero-filled by the kernel.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                STATE_SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        (p != libc::MAP_FAILED).then_some(StateCopy(p as *mut ProcessState))
    }

    /// Its first REPORT_SIZE bytes, to read into.
    fn report_bytes(&mut self) -> &mut [u8] {
        // SAFETY: the mapping is STATE_SIZE ≥ REPORT_SIZE bytes, ours alone.
        unsafe { std::slice::from_raw_parts_mut(self.0 as *mut u8, REPORT_SIZE) }
    }
}

impl std::ops::Deref for StateCopy {
    type Target = ProcessState;

    fn deref(&self) -> &ProcessState {
        // SAFETY: STATE_SIZE bytes, page-aligned; every bit pattern is a valid
        // ProcessState (integers and byte arrays only).
        unsafe { &*self.0 }
    }
}

impl Drop for StateCopy {
    fn drop(&mut self) {
        // SAFETY: unmapping what new mapped.
        unsafe { libc::munmap(self.0 as *mut libc::c_void, STATE_SIZE) };
    }
}

/// The report part of a state file (its samples are the reader's). None unless it is a
/// regular file (no link) holding a state of this layout of the image `key` its name gives.
pub(crate) fn read_state(path: &Path, key: (u32, u32)) -> Option<StateCopy> {
    let mut st = StateCopy::new()?;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .ok()?
        .read_exact(st.report_bytes())
        .ok()?;
    let h = &st.header;
    let theirs = (h.pid.load(Relaxed), h.image.load(Relaxed));
    (st.is_valid() && theirs == key).then_some(st)
}

fn report(st: &ProcessState, scanner: &mut Scanner) -> ProcessReport {
    let h = &st.header;
    let ending = match h.status.load(Relaxed) {
        STATUS_EXITED => Ending::Exited(h.exit_code.load(Relaxed)),
        STATUS_EXECED => Ending::Execed,
        _ => Ending::Silent,
    };
    let start_ns = h.start_ns.load(Relaxed);
    let end_ns = h.end_ns.load(Relaxed);
    let known_end = (end_ns >= start_ns && end_ns != 0).then_some(end_ns);
    let open = st.regions[1..]
        .iter()
        .filter(|r| r.state.load(Relaxed) == REGION_OPEN)
        .map(|r| OpenRegion {
            name: r.name().to_vec(),
            stats: st.slot_stats(r),
            duration_ns: known_end.map(|e| e.saturating_sub(r.begin_ns.load(Relaxed))),
        })
        .collect();
    let bits = h.problems.load(Relaxed);
    let name = String::from_utf8_lossy(st.name()).into_owned();
    let mut problems: Vec<Problem> = [
        (PROBLEM_TABLE_FULL, Problem::BookkeepingFull),
        (PROBLEM_TOO_MANY_REGIONS, Problem::TooManyRegions),
        (PROBLEM_NAMES_FULL, Problem::NamesFull),
        (PROBLEM_DEEPBIND, Problem::DeepBind),
    ]
    .into_iter()
    .filter(|(b, _)| bits & b != 0)
    .map(|(_, p)| p)
    .collect();
    if bits & PROBLEM_NEW_BYPASSES_MALLOC != 0 {
        let owner = String::from_utf8_lossy(st.new_owner()).into_owned();
        problems.push(Problem::NewBypassesMalloc {
            owner: (!owner.is_empty()).then_some(owner),
        });
    }
    let owner = String::from_utf8_lossy(st.malloc_owner()).into_owned();
    let unmeasured = if bits & PROBLEM_VALGRIND != 0 {
        Some(Unmeasured::AllocatorReplaced { owner })
    } else if let Some(sanitizer) = (bits & PROBLEM_MALLOC_SHADOWED != 0)
        .then(|| scanner.sanitizer(st.exe()))
        .flatten()
    {
        Some(Unmeasured::SanitizerLinkedIn { sanitizer })
    } else {
        let shadowed = bits & PROBLEM_MALLOC_SHADOWED != 0;
        scanner
            .own_allocator(st.exe(), shadowed)
            .map(|a| Unmeasured::OwnAllocator {
                allocator: a.name,
                symbol: a.symbol,
                owner,
            })
    };
    if let Some(why) = &unmeasured {
        problems.push(Problem::Unmeasured {
            name: name.clone(),
            why: why.clone(),
        });
    }
    let bytes = h.unprotected_bytes.load(Relaxed);
    if bytes >= UNPROTECTED_NOTE_MIN {
        problems.push(Problem::Unprotected { name, bytes });
    }
    let exec = (h.exec_len.load(Relaxed) != 0).then(|| ExecCall {
        path: st.exec_path().to_vec(),
        flags: h.exec_flags.load(Relaxed),
    });
    ProcessReport {
        pid: h.pid.load(Relaxed),
        image: h.image.load(Relaxed),
        name: st.name().to_vec(),
        ending,
        start_ns,
        root: st.slot_stats(&st.regions[0]),
        duration_ns: known_end.map(|e| e - start_ns),
        open,
        lost_samples: h.lost_samples.load(Relaxed),
        problems,
        reaped: h.reaped_status(),
        exec,
        unmeasured,
    }
}
