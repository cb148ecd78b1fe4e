//! Memory over time, recorded from outside the measured program: a thread of the launcher
//! maps every process's state file read-only (the preload keeps its live bytes there,
//! `MAP_SHARED`) and reads the hot word every few milliseconds. The program does nothing
//! for it: no extra call, no extra write, one more reader of a cache line.
//!
//! Region spans come from two sources: the state file's open region slots (name and exact
//! `begin_ns`, seen while a region is open long enough to be sampled) and the samples of
//! closed regions (exact duration and peak; their arrival time is the end). Points are
//! thinned to at most [`MAX_POINTS`] per process, keeping each stretch's minimum and
//! maximum, so the saved run stays small whatever the program's length.

use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use benchmem_wire::names::STATE_PREFIX;
use benchmem_wire::state::{ProcessState, REGION_OPEN, STATE_SIZE, STATUS_RUNNING, unpack};

use crate::rundir::RegionEvent;

/// How often each process's live bytes are read.
pub const INTERVAL: Duration = Duration::from_millis(2);
/// Most points kept per process.
pub const MAX_POINTS: usize = 2000;
/// Points gathered before thinning while the program still runs (bounds the launcher's
/// memory on long runs).
const THIN_AT: usize = 8 * MAX_POINTS;
/// Consecutive free region slots after which a reading stops looking for open ones.
const FREE_RUN: usize = 16;
/// Most region spans kept per process (those with the highest peaks): a program that
/// opens a region per iteration would otherwise make the saved run grow without bound.
pub const MAX_SPANS: usize = 500;
/// Region samples kept per repeat for the spans, and open slots remembered per process.
const MAX_EVENTS: usize = 100_000;
const MAX_SEEN: usize = 4096;

/// A region's span in one process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionSpan {
    /// Region name (lossily decoded).
    pub name: String,
    /// Begin, nanoseconds since the repeat started.
    pub begin_ns: u64,
    /// End (for a region never closed: the process's end).
    pub end_ns: u64,
    /// Its exact peak: the high-water of live bytes allocated inside it.
    pub peak_bytes: u64,
    /// Live bytes of the process when it began, when known: where its peak stands on the
    /// process's curve (`base_bytes + peak_bytes`).
    pub base_bytes: Option<u64>,
    /// Whether the region ended (false: still open when the process ended).
    pub closed: bool,
}

/// Live bytes of one process image over one repeat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessTimeline {
    /// Which repeat (0-based).
    pub repeat: usize,
    /// Process id.
    pub pid: u32,
    /// Exec count of that pid.
    pub image: u32,
    /// Root region name (`BENCHMEM_REGION` or the program's basename).
    pub name: String,
    /// When tracking began, nanoseconds since the repeat started.
    pub start_ns: u64,
    /// When the image exited or exec'd, when it said.
    pub end_ns: Option<u64>,
    /// Its exact peak of live bytes (the root region's).
    pub peak_bytes: u64,
    /// (nanoseconds since the repeat started, live bytes), in time order.
    pub points: Vec<(u64, u64)>,
    /// Regions it ran, in order of beginning (at most [`MAX_SPANS`]).
    pub regions: Vec<RegionSpan>,
    /// Region spans left out to stay within [`MAX_SPANS`] (or never kept).
    pub regions_omitted: usize,
}

/// `CLOCK_MONOTONIC` in nanoseconds: the clock the preload stamps with.
fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// A state file mapped read-only.
struct Mapped {
    ptr: *const ProcessState,
}

// SAFETY: the mapping is read through atomics only and lives until drop.
unsafe impl Send for Mapped {}

impl Mapped {
    fn open(path: &Path) -> Option<Mapped> {
        let file = std::fs::File::open(path).ok()?;
        // A file still being sized by its process: try again next tick.
        if file.metadata().ok()?.len() < STATE_SIZE as u64 {
            return None;
        }
        // SAFETY: a read-only shared mapping of a file at least STATE_SIZE long; the
        // descriptor may close right after.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                STATE_SIZE,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        (p != libc::MAP_FAILED).then_some(Mapped {
            ptr: p as *const ProcessState,
        })
    }

    fn state(&self) -> &ProcessState {
        // SAFETY: mapped for STATE_SIZE bytes; every field is an atomic or plain bytes, so
        // any content is a valid ProcessState.
        unsafe { &*self.ptr }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: unmapping what open mapped.
        unsafe { libc::munmap(self.ptr as *mut libc::c_void, STATE_SIZE) };
    }
}

/// A region slot seen open: its identity and what it said then.
struct SeenOpen {
    slot: usize,
    seq: u32,
    name: String,
    begin_ns: u64,
    /// `-offset` when first seen: the live bytes at its beginning, unless memory older
    /// than the region had been freed inside it already.
    base: Option<u64>,
    matched: bool,
}

/// One process being followed.
struct Followed {
    map: Mapped,
    points: Vec<(u64, u64)>,
    seen: Vec<SeenOpen>,
    done: bool,
}

/// Region samples as the launcher received them, with the time they arrived.
#[derive(Clone, Default)]
pub struct Ends(Arc<Mutex<EndsInner>>);

/// The samples kept, and how many were not, per (pid, image).
type EndsInner = (Vec<(RegionEvent, u64)>, HashMap<(u32, u32), usize>);

impl Ends {
    /// Notes a region sample, stamped now (the region's end, to within the socket's delay).
    pub fn region_ended(&self, ev: &RegionEvent) {
        let copy = RegionEvent {
            pid: ev.pid,
            image: ev.image,
            name: ev.name.clone(),
            stats: ev.stats,
            duration_ns: ev.duration_ns,
        };
        if let Ok(mut v) = self.0.lock() {
            if v.0.len() < MAX_EVENTS {
                v.0.push((copy, now_ns()));
            } else {
                *v.1.entry((ev.pid, ev.image)).or_default() += 1;
            }
        }
    }
}

/// The sampling thread of one repeat.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<HashMap<PathBuf, Followed>>,
    origin: u64,
    repeat: usize,
    ends: Ends,
}

impl Sampler {
    /// Starts following the state files that appear in `dir`.
    pub fn start(dir: &Path, repeat: usize) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let origin = now_ns();
        let (d, s) = (dir.to_path_buf(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut followed = HashMap::new();
            loop {
                let last = s.load(Relaxed);
                tick(&d, origin, &mut followed);
                if last {
                    return followed;
                }
                std::thread::sleep(INTERVAL);
            }
        });
        Sampler {
            stop,
            thread,
            origin,
            repeat,
            ends: Ends::default(),
        }
    }

    /// Where region samples go as they arrive.
    pub fn ends(&self) -> Ends {
        self.ends.clone()
    }

    /// Stops (after one last reading) and returns every process's timeline, in start order.
    pub fn finish(self) -> Vec<ProcessTimeline> {
        self.stop.store(true, Relaxed);
        let followed = self.thread.join().unwrap_or_default();
        let (ends, unkept) = self
            .ends
            .0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default();
        let mut out: Vec<ProcessTimeline> = followed
            .into_values()
            .filter(|f| f.map.state().is_valid())
            .map(|f| timeline(f, &ends, self.origin, self.repeat))
            .collect();
        for t in &mut out {
            t.regions_omitted += unkept.get(&(t.pid, t.image)).copied().unwrap_or(0);
        }
        out.sort_by_key(|t| (t.start_ns, t.pid, t.image));
        out
    }
}

/// One reading of every process; new state files are mapped as they appear.
fn tick(dir: &Path, origin: u64, followed: &mut HashMap<PathBuf, Followed>) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let path = e.path();
            if followed.contains_key(&path)
                || !e.file_name().to_string_lossy().starts_with(STATE_PREFIX)
            {
                continue;
            }
            if let Some(map) = Mapped::open(&path) {
                followed.insert(
                    path,
                    Followed {
                        map,
                        points: Vec::new(),
                        seen: Vec::new(),
                        done: false,
                    },
                );
            }
        }
    }
    let t = now_ns().saturating_sub(origin);
    for f in followed.values_mut().filter(|f| !f.done) {
        let st = f.map.state();
        if !st.is_valid() {
            continue;
        }
        let (live, _) = unpack(st.hot.live_gen.load(Relaxed));
        // A flat stretch is kept as its two ends: the later one moves along.
        let n = f.points.len();
        if n >= 2 && f.points[n - 1].1 == live && f.points[n - 2].1 == live {
            f.points[n - 1].0 = t;
        } else {
            f.points.push((t, live));
        }
        // The preload takes the lowest free slot, so open regions sit at the front: stop
        // after a run of free ones rather than read all 256 cache lines every tick (one
        // missed here still gets its span from its sample's duration).
        let mut free_run = 0;
        for (slot, r) in st.regions.iter().enumerate().skip(1) {
            if r.state.load(Relaxed) != REGION_OPEN {
                free_run += 1;
                if free_run == FREE_RUN {
                    break;
                }
                continue;
            }
            free_run = 0;
            let seq = r.seq.load(Relaxed);
            if f.seen.len() >= MAX_SEEN || f.seen.iter().any(|s| s.slot == slot && s.seq == seq) {
                continue;
            }
            let offset = r.offset.load(Relaxed);
            f.seen.push(SeenOpen {
                slot,
                seq,
                name: String::from_utf8_lossy(r.name()).into_owned(),
                begin_ns: r.begin_ns.load(Relaxed),
                base: (offset <= 0).then_some(offset.unsigned_abs()),
                matched: false,
            });
        }
        if f.points.len() > THIN_AT {
            f.points = thin(&f.points, MAX_POINTS);
        }
        f.done = st.header.status.load(Relaxed) != STATUS_RUNNING;
    }
}

fn timeline(
    mut f: Followed,
    ends: &[(RegionEvent, u64)],
    origin: u64,
    repeat: usize,
) -> ProcessTimeline {
    let st = f.map.state();
    let h = &st.header;
    let rel = |abs: u64| abs.saturating_sub(origin);
    let (pid, image) = (h.pid.load(Relaxed), h.image.load(Relaxed));
    let start_ns = rel(h.start_ns.load(Relaxed));
    let end_abs = h.end_ns.load(Relaxed);
    let end_ns = (end_abs != 0).then(|| rel(end_abs));
    // Readings stop at the process's end, and the last one stands until then.
    if let Some(e) = end_ns {
        let after = f.points.iter().position(|p| p.0 > e);
        if let Some(i) = after {
            let live = f.points[i.saturating_sub(1)].1;
            f.points.truncate(i.max(1));
            f.points.push((e, live));
        } else if let Some(&(t, live)) = f.points.last()
            && e > t
        {
            f.points.push((e, live));
        }
    }
    let live_at = |t: u64, points: &[(u64, u64)]| {
        points
            .iter()
            .take_while(|p| p.0 <= t)
            .last()
            .or(points.first())
            .map(|p| p.1)
    };
    let mut regions = Vec::new();
    for (ev, arrived) in ends
        .iter()
        .filter(|(e, _)| e.pid == pid && e.image == image)
    {
        let name = String::from_utf8_lossy(&ev.name).into_owned();
        let guess = arrived.saturating_sub(ev.duration_ns);
        // The slot seen open with this name whose begin fits best gives the exact begin.
        let seen = f
            .seen
            .iter_mut()
            .filter(|s| !s.matched && s.name == name && s.begin_ns <= *arrived)
            .min_by_key(|s| s.begin_ns.abs_diff(guess));
        let (begin_abs, base) = match seen {
            Some(s) if s.begin_ns.abs_diff(guess) < 50_000_000 => {
                s.matched = true;
                (s.begin_ns, s.base)
            }
            _ => (guess, None),
        };
        let begin_ns = rel(begin_abs);
        regions.push(RegionSpan {
            name,
            begin_ns,
            end_ns: begin_ns + ev.duration_ns,
            peak_bytes: ev.stats.peak_bytes,
            base_bytes: base.or_else(|| live_at(begin_ns, &f.points)),
            closed: true,
        });
    }
    let last = end_ns.or(f.points.last().map(|p| p.0)).unwrap_or(start_ns);
    for (slot, r) in st.regions.iter().enumerate().skip(1) {
        if r.state.load(Relaxed) != REGION_OPEN {
            continue;
        }
        let seq = r.seq.load(Relaxed);
        let base = f
            .seen
            .iter()
            .find(|s| s.slot == slot && s.seq == seq)
            .and_then(|s| s.base);
        let begin_ns = rel(r.begin_ns.load(Relaxed));
        regions.push(RegionSpan {
            name: String::from_utf8_lossy(r.name()).into_owned(),
            begin_ns,
            end_ns: last.max(begin_ns),
            peak_bytes: st.slot_stats(r).peak_bytes,
            base_bytes: base.or_else(|| live_at(begin_ns, &f.points)),
            closed: false,
        });
    }
    let regions_omitted = regions.len().saturating_sub(MAX_SPANS);
    if regions_omitted > 0 {
        regions.sort_by_key(|r| std::cmp::Reverse(r.peak_bytes));
        regions.truncate(MAX_SPANS);
    }
    regions.sort_by_key(|r| (r.begin_ns, r.end_ns));
    ProcessTimeline {
        repeat,
        pid,
        image,
        name: String::from_utf8_lossy(st.name()).into_owned(),
        start_ns,
        end_ns,
        peak_bytes: st.slot_stats(&st.regions[0]).peak_bytes,
        points: thin(&f.points, MAX_POINTS),
        regions,
        regions_omitted,
    }
}

/// At most `max` of `points`: the first and the last, and the lowest and the highest of
/// each of `(max - 2) / 2` equal stretches in between, in time order. Every stretch's
/// extremes survive, so no peak is thinned away.
pub fn thin(points: &[(u64, u64)], max: usize) -> Vec<(u64, u64)> {
    if points.len() <= max || max < 4 {
        return points.to_vec();
    }
    let inner = &points[1..points.len() - 1];
    let stretches = (max - 2) / 2;
    let size = inner.len().div_ceil(stretches);
    let mut out = Vec::with_capacity(max);
    out.push(points[0]);
    for chunk in inner.chunks(size) {
        let lo = (0..chunk.len()).min_by_key(|&i| chunk[i].1).unwrap_or(0);
        let hi = (0..chunk.len()).max_by_key(|&i| chunk[i].1).unwrap_or(0);
        let (a, b) = (lo.min(hi), lo.max(hi));
        out.push(chunk[a]);
        if b != a {
            out.push(chunk[b]);
        }
    }
    out.push(points[points.len() - 1]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_extremes_and_ends() {
        let points: Vec<(u64, u64)> = (0..100_000u64)
            .map(|i| (i, (i * 7919) % 1000 + if i == 54_321 { 10_000 } else { 0 }))
            .collect();
        let t = thin(&points, MAX_POINTS);
        assert!(t.len() <= MAX_POINTS);
        assert_eq!(t[0], points[0]);
        assert_eq!(*t.last().unwrap(), *points.last().unwrap());
        assert!(t.contains(&points[54_321]), "the peak survives");
        assert!(t.windows(2).all(|w| w[0].0 < w[1].0), "in time order");
        assert_eq!(thin(&points[..10], MAX_POINTS), points[..10].to_vec());
    }
}
