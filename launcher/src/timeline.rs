//! Memory over time, recorded from outside the measured program: a thread of the launcher
//! maps every process's state file read-only (the preload keeps its live bytes there,
//! `MAP_SHARED`) and reads the hot word every few milliseconds. The program does nothing
//! for it: no extra call, no extra write, one more reader of a cache line.
//!
//! Region spans come from the samples of closed regions, which the reader takes from each
//! process's sample ring ([`crate::reader`]): exact begin, end, peak and the live bytes
//! at the beginning. Regions still open when the process ended come from its region
//! slots. Points are thinned to at most [`MAX_POINTS`] per process, keeping each
//! stretch's minimum and maximum, and spans to the [`MAX_SPANS`] highest peaks per
//! process as they arrive, so neither the saved run nor the launcher's memory grows with
//! the program's length.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::thread::JoinHandle;
use std::time::Duration;

use benchmem_wire::names::parse_state_file_name;
use benchmem_wire::samples::Sample;
use benchmem_wire::state::{ProcessState, REGION_OPEN, STATE_SIZE, STATUS_RUNNING, unpack};

/// How often each process's live bytes are read.
pub const INTERVAL: Duration = Duration::from_millis(2);
/// Most points kept per process.
pub const MAX_POINTS: usize = 2000;
/// Points gathered before thinning while the program still runs (bounds the launcher's
/// memory on long runs).
const THIN_AT: usize = 8 * MAX_POINTS;
/// Most region spans kept per process (those with the highest peaks): a program that
/// opens a region per iteration would otherwise make the saved run grow without bound.
pub const MAX_SPANS: usize = 500;

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
    /// Region spans left out to stay within [`MAX_SPANS`].
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
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)
            .ok()?;
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

/// One process being followed.
struct Followed {
    map: Mapped,
    /// Pid and image, as the file's name gives them.
    key: (u32, u32),
    points: Vec<(u64, u64)>,
    done: bool,
}

/// A closed region's span as the reader kept it: `CLOCK_MONOTONIC` times, the name still
/// an index into its process's name table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Kept {
    peak: u64,
    /// Arrival order: among equal peaks the earlier span is kept.
    seq: u64,
    sample: Sample,
}

impl Kept {
    /// The order of keeping: a higher peak, then an earlier arrival, is kept first.
    fn rank(&self) -> (u64, Reverse<u64>) {
        (self.peak, Reverse(self.seq))
    }
}

impl Ord for Kept {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}

impl PartialOrd for Kept {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The spans of one process: the [`MAX_SPANS`] highest peaks (a min-heap, its least kept
/// span on top), and how many others there were.
#[derive(Default)]
pub struct KeptSpans {
    heap: BinaryHeap<Reverse<Kept>>,
    omitted: usize,
    seq: u64,
}

impl KeptSpans {
    /// Takes the span of one closed region.
    #[inline]
    pub fn add(&mut self, sample: &Sample) {
        let seq = self.seq;
        self.seq += 1;
        if self.heap.len() < MAX_SPANS {
            self.heap.push(Reverse(Kept {
                peak: sample.stats.peak_bytes,
                seq,
                sample: *sample,
            }));
            return;
        }
        self.omitted += 1;
        // Most samples of a loop fall short of the least kept peak: no heap work then.
        let least = self.heap.peek().map(|Reverse(k)| k.rank());
        if least.is_some_and(|l| (sample.stats.peak_bytes, Reverse(seq)) > l) {
            self.heap.pop();
            self.heap.push(Reverse(Kept {
                peak: sample.stats.peak_bytes,
                seq,
                sample: *sample,
            }));
        }
    }
}

/// The closed regions' spans of every process of one repeat, as the reader takes their
/// samples: bounded per process, whatever the number of samples.
#[derive(Default)]
pub struct Spans {
    by_process: HashMap<(u32, u32), KeptSpans>,
}

/// The spans of one process with their names resolved (absolute `CLOCK_MONOTONIC` times).
#[derive(Default)]
pub struct ProcessSpans {
    spans: Vec<(String, Sample)>,
    omitted: usize,
}

impl Spans {
    /// Takes the span of one closed region of process (`pid`, `image`).
    #[cfg(test)]
    pub fn add(&mut self, pid: u32, image: u32, sample: &Sample) {
        self.by_process.entry((pid, image)).or_default().add(sample);
    }

    /// Takes the spans one process kept.
    pub fn insert(&mut self, pid: u32, image: u32, kept: KeptSpans) {
        self.by_process.insert((pid, image), kept);
    }

    /// The spans with their names (`name(pid, image, index)`, None for one that cannot
    /// be read, whose span is left out), by process.
    pub fn resolve(
        self,
        mut name: impl FnMut(u32, u32, u32) -> Option<String>,
    ) -> HashMap<(u32, u32), ProcessSpans> {
        self.by_process
            .into_iter()
            .map(|((pid, image), k)| {
                let mut kept: Vec<Kept> = k.heap.into_iter().map(|Reverse(s)| s).collect();
                kept.sort_by_key(|s| s.seq);
                let spans = kept
                    .into_iter()
                    .filter_map(|s| Some((name(pid, image, s.sample.name)?, s.sample)))
                    .collect();
                (
                    (pid, image),
                    ProcessSpans {
                        spans,
                        omitted: k.omitted,
                    },
                )
            })
            .collect()
    }
}

/// The sampling thread of one repeat.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<HashMap<PathBuf, Followed>>,
    origin: u64,
    repeat: usize,
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
                // Parked rather than asleep: `finish` wakes it at once, so the end of a
                // run does not wait out an interval.
                std::thread::park_timeout(INTERVAL);
            }
        });
        Sampler {
            stop,
            thread,
            origin,
            repeat,
        }
    }

    /// Stops (after one last reading) and returns every process's timeline, in start
    /// order, with the spans of its closed regions (from the reader).
    pub fn finish(self, mut spans: HashMap<(u32, u32), ProcessSpans>) -> Vec<ProcessTimeline> {
        self.stop.store(true, Relaxed);
        self.thread.thread().unpark();
        let followed = self.thread.join().unwrap_or_default();
        let mut out: Vec<ProcessTimeline> = followed
            .into_values()
            .filter(|f| {
                let st = f.map.state();
                let h = &st.header;
                st.is_valid() && (h.pid.load(Relaxed), h.image.load(Relaxed)) == f.key
            })
            .map(|f| {
                let closed = spans.remove(&f.key).unwrap_or_default();
                timeline(f, closed, self.origin, self.repeat)
            })
            .collect();
        out.sort_by_key(|t| (t.start_ns, t.pid, t.image));
        out
    }
}

/// One reading of every process; new state files are mapped as they appear.
fn tick(dir: &Path, origin: u64, followed: &mut HashMap<PathBuf, Followed>) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let path = e.path();
            if followed.contains_key(&path) {
                continue;
            }
            let Some(key) = parse_state_file_name(e.file_name().as_encoded_bytes()) else {
                continue;
            };
            if let Some(map) = Mapped::open(&path) {
                followed.insert(
                    path,
                    Followed {
                        map,
                        key,
                        points: Vec::new(),
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
        if f.points.len() > THIN_AT {
            f.points = thin(&f.points, MAX_POINTS);
        }
        f.done = st.header.status.load(Relaxed) != STATUS_RUNNING;
    }
}

fn timeline(mut f: Followed, closed: ProcessSpans, origin: u64, repeat: usize) -> ProcessTimeline {
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
    let mut regions: Vec<RegionSpan> = closed
        .spans
        .into_iter()
        .map(|(name, s)| {
            let begin_ns = rel(s.begin_ns);
            RegionSpan {
                name,
                begin_ns,
                end_ns: rel(s.end_ns).max(begin_ns),
                peak_bytes: s.stats.peak_bytes,
                base_bytes: Some(s.base_bytes),
                closed: true,
            }
        })
        .collect();
    let last = end_ns.or(f.points.last().map(|p| p.0)).unwrap_or(start_ns);
    for r in st.regions.iter().skip(1) {
        if r.state.load(Relaxed) != REGION_OPEN {
            continue;
        }
        let begin_ns = rel(r.begin_ns.load(Relaxed));
        regions.push(RegionSpan {
            name: String::from_utf8_lossy(r.name()).into_owned(),
            begin_ns,
            end_ns: last.max(begin_ns),
            peak_bytes: st.slot_stats(r).peak_bytes,
            base_bytes: Some(r.begin_live.load(Relaxed)),
            closed: false,
        });
    }
    let mut regions_omitted = closed.omitted;
    let over = regions.len().saturating_sub(MAX_SPANS);
    if over > 0 {
        regions.sort_by_key(|r| Reverse(r.peak_bytes));
        regions.truncate(MAX_SPANS);
        regions_omitted += over;
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

    fn span(peak: u64, name: u32) -> Sample {
        Sample {
            name,
            stats: crate::Stats {
                peak_bytes: peak,
                ..Default::default()
            },
            begin_ns: peak,
            end_ns: peak + 1,
            base_bytes: 0,
        }
    }

    #[test]
    fn spans_keep_the_highest_peaks_earliest_first() {
        let mut s = Spans::default();
        // Two processes; the first closes far more regions than are kept.
        for i in 0..10 * MAX_SPANS as u64 {
            s.add(1, 0, &span(i % 1000, (i % 3) as u32));
        }
        s.add(2, 0, &span(5, 0));
        let r = s.resolve(|_, _, i| (i != 2).then(|| format!("n{i}")));
        let one = &r[&(1, 0)];
        assert_eq!(one.omitted, 9 * MAX_SPANS);
        // Peaks 0..1000, five times each: the 500 highest are 900..999; name 2 cannot be
        // read, so its spans are left out.
        let kept = one.spans.iter().filter(|(n, _)| n != "n2").count();
        assert_eq!(one.spans.len(), kept);
        assert!(one.spans.iter().all(|(_, s)| s.stats.peak_bytes >= 900));
        assert!(one.spans.len() < MAX_SPANS && one.spans.len() > MAX_SPANS / 2);
        assert_eq!(r[&(2, 0)].spans.len(), 1);
        assert_eq!(r[&(2, 0)].omitted, 0);
    }
}
