//! Reading the state files every process image left in the run directory.

use std::io::Read;
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;

use benchmem_wire::names::STATE_PREFIX;
use benchmem_wire::state::{
    ProcessState, PROBLEM_EVENTS_LOST, PROBLEM_NEW_BYPASSES_MALLOC, PROBLEM_TABLE_FULL,
    PROBLEM_TOO_MANY_REGIONS, REGION_OPEN, STATE_SIZE, STATUS_EXECED, STATUS_EXITED,
};

use crate::Stats;

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
    /// Region samples the process could not send.
    pub dropped_events: u64,
    /// Problems it ran into, as sentences.
    pub problems: Vec<&'static str>,
    /// The wait status its parent reaped it with, when the parent ran under the preload.
    pub reaped: Option<i32>,
}

/// Reads every state file in `dir`, in start order.
pub fn collect(dir: &Path) -> Vec<ProcessReport> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<ProcessReport> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(STATE_PREFIX))
        .filter_map(|e| read_state(&e.path()).map(|st| report(&st)))
        .collect();
    out.sort_by_key(|p| (p.start_ns, p.pid, p.image));
    out
}

fn read_state(path: &Path) -> Option<Box<ProcessState>> {
    let mut st: Box<std::mem::MaybeUninit<ProcessState>> = Box::new_zeroed();
    // SAFETY: the box holds STATE_SIZE zeroed bytes; every bit pattern is a valid
    // ProcessState (integers and byte arrays only).
    let bytes = unsafe { std::slice::from_raw_parts_mut(st.as_mut_ptr() as *mut u8, STATE_SIZE) };
    std::fs::File::open(path).ok()?.read_exact(bytes).ok()?;
    // SAFETY: as above.
    let st = unsafe { st.assume_init() };
    st.is_valid().then_some(st)
}

fn report(st: &ProcessState) -> ProcessReport {
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
    let problems = [
        (
            PROBLEM_TABLE_FULL,
            "bookkeeping memory ran out: some frees could not be matched",
        ),
        (
            PROBLEM_TOO_MANY_REGIONS,
            "too many regions open at once: some were not measured",
        ),
        (
            PROBLEM_EVENTS_LOST,
            "region samples could not be sent to benchmem",
        ),
        (
            PROBLEM_NEW_BYPASSES_MALLOC,
            "C++ operator new/delete here are the allocator's own (jemalloc or tcmalloc built \
             with C++ support), which bypass malloc: any C++ new/delete was not counted (a \
             pure C program is unaffected)",
        ),
    ]
    .into_iter()
    .filter(|(b, _)| bits & b != 0)
    .map(|(_, s)| s)
    .collect();
    ProcessReport {
        pid: h.pid.load(Relaxed),
        image: h.image.load(Relaxed),
        name: st.name().to_vec(),
        ending,
        start_ns,
        root: st.slot_stats(&st.regions[0]),
        duration_ns: known_end.map(|e| e - start_ns),
        open,
        dropped_events: h.dropped_events.load(Relaxed),
        problems,
        reaped: h.reaped_status(),
    }
}
