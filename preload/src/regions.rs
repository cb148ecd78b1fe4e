//! Regions: their lifecycle (begin, end) and the folds that keep their peaks exact.
//!
//! A region `R` opened when live bytes were `L_b` has `live(R) = L + offset(R)` with
//! `offset = -L_b` at first. Frees of memory allocated *before* `R` began must not lower
//! `live(R)`: such a free adds its size to `offset(R)`. Since offsets change only then
//! (and at begin/end), each such event first *folds*: every open region takes
//! `peak = max(peak, M + offset)` and `M` restarts at `L` (see [`crate::hot`] for `L`,
//! `M` and the epochs). Each begin and each end that changes the threshold moves the hot
//! word to a new [`Generation`], so young frees stay on the lock-free fast path.
//!
//! What a region reports is computed in one place, `benchmem_wire::state::region_stats`;
//! a closed region's sample goes to the launcher through [`crate::samples`].

use core::sync::atomic::Ordering::Relaxed;

use benchmem_wire::Stats;
use benchmem_wire::names::fit_name;
use benchmem_wire::samples::Sample;
use benchmem_wire::state::{
    MAX_OPEN_REGIONS, PROBLEM_TOO_MANY_REGIONS, ProcessState, REGION_FREE, REGION_OPEN, RegionSlot,
};

use crate::hot::{self, Generation, before, fold};
use crate::spin::SpinLock;
use crate::{samples, sys};

/// The open regions, and the epochs: changed only under [`REGIONS`].
pub struct OpenRegions {
    /// Latest epoch handed out (count of region begins, plus one per process start).
    epoch: u32,
    /// Epoch at which this process image's tracking began (the root region's).
    base: u32,
    /// Open region slots, root (0) first.
    open: [u16; MAX_OPEN_REGIONS],
    n_open: usize,
}

/// The one lock of the slow paths: folds, region begin and end.
pub static REGIONS: SpinLock<OpenRegions> = SpinLock::new(OpenRegions {
    epoch: 0,
    base: 0,
    open: [0; MAX_OPEN_REGIONS],
    n_open: 0,
});

/// Error: no free region slot.
pub const ERR_TOO_MANY: i32 = -2;
/// Error: the id does not name an open region.
pub const ERR_BAD_ID: i32 = -3;

/// Accounts the free of `size` bytes allocated at `epoch`, which is before some open
/// region began (the hot path found it below the threshold).
#[cold]
#[inline(never)]
pub fn free_old(st: &ProcessState, size: u64, epoch: u32) {
    REGIONS.lock().free_old(st, size, epoch);
}

/// Prepares a fresh state for a new process image: root region open, counters zero.
/// `name` is the root region's name.
pub fn init_state(st: &ProcessState, name: &[u8]) {
    REGIONS.lock().init(st, name);
}

/// Opens a region; returns its id (≥ 0) or an `ERR_*` value.
pub fn begin(st: &ProcessState, name: &[u8]) -> i32 {
    REGIONS.lock().begin(st, name)
}

/// Closes region `id`, returning its sample (and handing it to the launcher), or
/// `ERR_BAD_ID`.
pub fn end(st: &ProcessState, id: i32, out: &mut Ended) -> i32 {
    if id < 0 {
        return ERR_BAD_ID;
    }
    let (i, seq) = ((id & 0xff) as usize, (id as u32) >> 8);
    if i == 0 || i >= MAX_OPEN_REGIONS {
        return ERR_BAD_ID;
    }
    REGIONS.lock().end(st, i, seq, out)
}

impl OpenRegions {
    fn open(&self) -> &[u16] {
        &self.open[..self.n_open]
    }

    fn fold_peaks(&self, st: &ProcessState, mark: u64) {
        for &i in self.open() {
            fold_peak(&st.regions[i as usize], mark);
        }
    }

    fn free_old(&mut self, st: &ProcessState, size: u64, epoch: u32) {
        if before(epoch, self.base) {
            // Allocated before this process image began tracking (a fork parent's memory).
            return;
        }
        let (mark, _) = fold(st, size, None);
        self.fold_peaks(st, mark);
        for &i in self.open() {
            let r = &st.regions[i as usize];
            if before(epoch, r.begin_epoch.load(Relaxed)) {
                r.offset.fetch_add(size as i64, Relaxed);
            }
        }
    }

    /// The threshold: the newest open user region's begin epoch, or the base.
    fn threshold(&self, st: &ProcessState) -> u32 {
        let mut t = self.base;
        for &i in &self.open()[1..] {
            let e = st.regions[i as usize].begin_epoch.load(Relaxed);
            if before(t, e) {
                t = e;
            }
        }
        t
    }

    fn init(&mut self, st: &ProcessState, name: &[u8]) {
        self.epoch = self.epoch.wrapping_add(1);
        self.base = self.epoch;
        self.open[0] = 0;
        self.n_open = 1;
        hot::start(Generation {
            epoch: self.base,
            threshold: self.base,
        });
        let root = &st.regions[0];
        root.begin_epoch.store(self.base, Relaxed);
        root.begin_ns.store(sys::now_ns(), Relaxed);
        set_name(root, name);
        root.state.store(REGION_OPEN, Relaxed);
    }

    fn begin(&mut self, st: &ProcessState, name: &[u8]) -> i32 {
        let Some(i) =
            (1..MAX_OPEN_REGIONS).find(|&i| st.regions[i].state.load(Relaxed) == REGION_FREE)
        else {
            st.header
                .problems
                .fetch_or(PROBLEM_TOO_MANY_REGIONS, Relaxed);
            return ERR_TOO_MANY;
        };
        self.epoch = self.epoch.wrapping_add(1);
        let e = self.epoch;
        let (mark, live) = fold(
            st,
            0,
            Some(Generation {
                epoch: e,
                threshold: e,
            }),
        );
        self.fold_peaks(st, mark);
        let r = &st.regions[i];
        let seq = r.seq.load(Relaxed).wrapping_add(1) & 0x7f_ffff;
        r.seq.store(seq, Relaxed);
        r.begin_epoch.store(e, Relaxed);
        r.offset.store(-(live as i64), Relaxed);
        r.peak.store(0, Relaxed);
        let (a, b) = st.counts();
        r.begin_allocations.store(a, Relaxed);
        r.begin_bytes.store(b, Relaxed);
        r.begin_live.store(live, Relaxed);
        set_name(r, name);
        r.name_index
            .store(samples::name_index(st, r.name()), Relaxed);
        r.begin_ns.store(sys::now_ns(), Relaxed);
        r.state.store(REGION_OPEN, Relaxed);
        self.open[self.n_open] = i as u16;
        self.n_open += 1;
        ((seq << 8) | i as u32) as i32
    }

    /// Closes the region in slot `i` if its sequence number is `seq`.
    fn end(&mut self, st: &ProcessState, i: usize, seq: u32, out: &mut Ended) -> i32 {
        let r = &st.regions[i];
        let pos = self.open().iter().position(|&o| o as usize == i);
        let Some(pos) = pos.filter(|_| r.seq.load(Relaxed) == seq) else {
            return ERR_BAD_ID;
        };
        let before_threshold = self.threshold(st);
        self.open.copy_within(pos + 1..self.n_open, pos);
        self.n_open -= 1;
        let after = self.threshold(st);
        let new = (after != before_threshold).then_some(Generation {
            epoch: self.epoch,
            threshold: after,
        });
        let (mark, _) = fold(st, 0, new);
        self.fold_peaks(st, mark);
        // The closing region left `open` above (for the threshold) but folds like the others.
        fold_peak(r, mark);
        out.stats = st.slot_stats(r);
        let (begin_ns, end_ns) = (r.begin_ns.load(Relaxed), sys::now_ns());
        out.duration_ns = end_ns.saturating_sub(begin_ns);
        r.state.store(REGION_FREE, Relaxed);
        samples::publish(
            st,
            &Sample {
                name: r.name_index.load(Relaxed),
                stats: out.stats,
                begin_ns,
                end_ns,
                base_bytes: r.begin_live.load(Relaxed),
            },
        );
        0
    }
}

/// `M + offset`, the live bytes of a region at the mark.
fn at_mark(mark: u64, offset: i64) -> u64 {
    (mark as i64).saturating_add(offset).max(0) as u64
}

/// `peak = max(peak, M + offset)` for one region.
fn fold_peak(r: &RegionSlot, mark: u64) {
    let p = at_mark(mark, r.offset.load(Relaxed));
    if p > r.peak.load(Relaxed) {
        r.peak.store(p, Relaxed);
    }
}

fn set_name(slot: &RegionSlot, name: &[u8]) {
    // SAFETY: the slot is not open yet (or is the root being set up): nobody reads it.
    let len = unsafe { fit_name(name, &mut *slot.name.get()) };
    slot.name_len.store(len as u32, Relaxed);
}

/// A closed region's sample.
pub struct Ended {
    /// The counters.
    pub stats: Stats,
    /// Wall time from begin to end.
    pub duration_ns: u64,
}

impl Ended {
    /// An empty sample to be filled by [`end`].
    pub const fn new() -> Self {
        Ended {
            stats: Stats {
                peak_bytes: 0,
                total_bytes: 0,
                allocations: 0,
                retained_bytes: 0,
            },
            duration_ns: 0,
        }
    }
}

impl Default for Ended {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hot::{alloc, free};
    use crate::tls;
    use std::sync::Mutex;

    // The accounting statics are process-wide: tests take turns.
    static SERIAL: Mutex<()> = Mutex::new(());

    fn fresh() -> Box<ProcessState> {
        // SAFETY: all-zero is a valid ProcessState.
        let st: Box<ProcessState> = unsafe { Box::new_zeroed().assume_init() };
        init_state(&st, b"root");
        // This thread's counter slot belonged to the previous test's state.
        tls::current().set_slot(0);
        st
    }

    fn end_stats(st: &ProcessState, id: i32) -> Stats {
        let mut e = Ended::new();
        assert_eq!(end(st, id, &mut e), 0);
        e.stats
    }

    #[test]
    fn nested_regions_and_old_frees() {
        let _s = SERIAL.lock().unwrap();
        let st = fresh();
        let t = tls::current();
        let e_old = alloc(&st, t, 1000, false); // before any region
        let outer = begin(&st, b"outer");
        let e_a = alloc(&st, t, 300, false);
        let inner = begin(&st, b"inner");
        let e_b = alloc(&st, t, 50, false);
        free(&st, 1000, e_old, false); // old for both: lowers neither
        free(&st, 300, e_a, false); // old for inner only
        let i = end_stats(&st, inner);
        assert_eq!(
            i,
            Stats {
                peak_bytes: 50,
                total_bytes: 50,
                allocations: 1,
                retained_bytes: 50
            }
        );
        free(&st, 50, e_b, false);
        let _ = alloc(&st, t, 20, false);
        let o = end_stats(&st, outer);
        assert_eq!(
            o,
            Stats {
                peak_bytes: 350,
                total_bytes: 370,
                allocations: 3,
                retained_bytes: 20
            }
        );
        let root = st.slot_stats(&st.regions[0]);
        assert_eq!(root.peak_bytes, 1350);
        assert_eq!(root.retained_bytes, 20);
        assert_eq!(root.allocations, 4);
    }

    #[test]
    fn empty_and_stale_ids() {
        let _s = SERIAL.lock().unwrap();
        let st = fresh();
        let id = begin(&st, b"empty");
        assert_eq!(end_stats(&st, id), Stats::default());
        let mut e = Ended::new();
        assert_eq!(end(&st, id, &mut e), ERR_BAD_ID);
        assert_eq!(end(&st, 0, &mut e), ERR_BAD_ID);
        assert_eq!(end(&st, -1, &mut e), ERR_BAD_ID);
    }

    #[test]
    fn too_many_regions_is_refused_not_fatal() {
        let _s = SERIAL.lock().unwrap();
        let st = fresh();
        let ids: Vec<i32> = (0..MAX_OPEN_REGIONS - 1)
            .map(|_| begin(&st, b"r"))
            .collect();
        assert!(ids.iter().all(|&i| i >= 0));
        assert_eq!(begin(&st, b"one too many"), ERR_TOO_MANY);
        for id in ids.into_iter().rev() {
            end_stats(&st, id);
        }
        assert!(begin(&st, b"again") >= 0);
    }

    #[test]
    fn threads_count_exactly() {
        let _s = SERIAL.lock().unwrap();
        let st: &'static ProcessState = Box::leak(fresh());
        let id = begin(st, b"threads");
        let hs: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(move || {
                    let t = tls::current();
                    for _ in 0..10_000 {
                        let e = alloc(st, t, 64, false);
                        free(st, 64, e, false);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let s = end_stats(st, id);
        assert_eq!(s.allocations, 40_000);
        assert_eq!(s.total_bytes, 40_000 * 64);
        assert_eq!(s.retained_bytes, 0);
        assert!(
            s.peak_bytes >= 64 && s.peak_bytes <= 4 * 64,
            "{}",
            s.peak_bytes
        );
    }
}
