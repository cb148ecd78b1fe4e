//! Region samples to the launcher: written into the sample ring of this image's state
//! file (`benchmem_wire::samples`), which the launcher drains while the program runs and
//! once more after it ended. A sample costs a few stores; nothing is sent, no descriptor
//! is used, so a program that closes every fd, or a launcher that dies, costs no sample
//! already written.
//!
//! Called under the region lock ([`crate::regions::REGIONS`]), which makes this thread
//! the ring's and the name table's only writer. When the ring is full the launcher is
//! behind: the sample waits for room, yielding then sleeping, for at most [`WAIT_NS`]; a
//! sample that finds none is counted as lost in the state file. After one such timeout
//! the ring is marked stalled and later samples do not wait again until there is room,
//! so a launcher that is gone costs the program one wait, not one per sample.

use core::sync::atomic::{AtomicBool, Ordering::Relaxed};

use benchmem_wire::samples::{Pushed, Sample, SampleRing};
use benchmem_wire::state::{NO_NAME, PROBLEM_NAMES_FULL, PROBLEM_SAMPLES_LOST, ProcessState};

use crate::sys;

/// Longest wait for room in a full ring, per stall.
pub const WAIT_NS: u64 = 1_000_000_000;

/// Whether the current state is a file of the run, which the launcher drains (not the
/// anonymous memory of a process outside a run, or of one whose file could not be made).
static DRAINED: AtomicBool = AtomicBool::new(false);

/// Says whether the state about to be published is drained by the launcher.
pub fn set_drained(drained: bool) {
    DRAINED.store(drained, Relaxed);
}

#[inline(always)]
fn drained() -> bool {
    DRAINED.load(Relaxed)
}

/// The name table's index for `name` (the name as the region slot keeps it), or
/// [`NO_NAME`] when the table is full or nothing is reported.
#[inline]
pub fn name_index(st: &ProcessState, name: &[u8]) -> u32 {
    if !drained() {
        return NO_NAME;
    }
    st.names.intern(name).unwrap_or(NO_NAME)
}

/// Hands a closed region's sample to the launcher (nothing when not under it). A sample
/// whose name had no room in the name table is counted as lost.
#[inline]
pub fn publish(st: &ProcessState, s: &Sample) {
    if !drained() {
        return;
    }
    if s.name == NO_NAME {
        lose(st, PROBLEM_NAMES_FULL);
        return;
    }
    let ring = &st.samples;
    if ring.push(s) == Pushed::Written {
        if ring.stalled.0.load(Relaxed) != 0 {
            ring.stalled.0.store(0, Relaxed);
        }
        return;
    }
    if ring.stalled.0.load(Relaxed) == 0 && wait_for_room(ring) && ring.push(s) == Pushed::Written {
        return;
    }
    ring.stalled.0.store(1, Relaxed);
    st.names.lose(s.name);
    lose(st, PROBLEM_SAMPLES_LOST);
}

fn lose(st: &ProcessState, problem: u64) {
    st.header.lost_samples.fetch_add(1, Relaxed);
    st.header.problems.fetch_or(problem, Relaxed);
}

/// Waits until the launcher made room in `ring`, for at most [`WAIT_NS`]; false when it
/// did not.
#[cold]
#[inline(never)]
fn wait_for_room(ring: &SampleRing) -> bool {
    sys::keep_errno(|| {
        let deadline = sys::now_ns().saturating_add(WAIT_NS);
        let mut tries = 0u32;
        while !ring.has_room() {
            if sys::now_ns() > deadline {
                return false;
            }
            tries += 1;
            if tries < 64 {
                // SAFETY: no preconditions.
                unsafe { libc::syscall(libc::SYS_sched_yield) };
            } else {
                let ts = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 50_000,
                };
                // SAFETY: a plain sleep.
                unsafe { libc::nanosleep(&ts, core::ptr::null_mut()) };
            }
        }
        true
    })
}
