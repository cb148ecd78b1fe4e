//! The sample reader: a thread of the launcher that drains the sample ring of every
//! process image's state file (`benchmem_wire::samples`) while the command runs, and once
//! more after it ended, into the series ([`Aggregator`]) and the timeline's region spans
//! ([`Spans`]).
//!
//! Nothing reaches the launcher but what the preload wrote into state files in the run
//! directory, which is 0700: another user's process cannot open it, let alone add a file.
//! A file is taken only when it is a regular file of ours (no link), as large as a state
//! file, and says it is the image its name gives; a record naming no region, or a ring
//! out of step, is not followed, and counted in a note.

use std::collections::{BTreeMap, HashMap};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use benchmem_wire::names::parse_state_file_name;
use benchmem_wire::samples::{MAX_NAMES, SAMPLE_SLOTS, Sample};
use benchmem_wire::state::{ProcessState, STATE_SIZE};

use crate::aggregate::Aggregator;
use crate::timeline::{KeptSpans, ProcessSpans, Spans};

/// Pause between drains while samples arrive: a ring holds milliseconds of regions closed
/// back to back, so this keeps well ahead of the busiest program.
const BUSY: Duration = Duration::from_micros(100);
/// Pause between drains while none do.
const IDLE: Duration = Duration::from_millis(1);
/// How often the directory is read for new state files.
const SCAN: Duration = Duration::from_millis(1);

/// What the reader took during one repeat.
pub struct Drained {
    /// The series, with every sample taken.
    pub agg: Aggregator,
    /// The closed regions' spans by process, names resolved.
    pub spans: HashMap<(u32, u32), ProcessSpans>,
    /// Records that could not be read (see [`crate::Note::UnreadableSamples`]).
    pub unreadable: u64,
}

/// The running reader thread of one repeat.
pub struct Reader {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Drained>,
}

impl Reader {
    /// Starts draining the state files that appear in `dir` into `agg` (samples of
    /// `repeat`).
    pub fn start(dir: &Path, repeat: usize, agg: Aggregator) -> std::io::Result<Reader> {
        let stop = Arc::new(AtomicBool::new(false));
        let state = Draining {
            dir: dir.to_path_buf(),
            repeat,
            agg,
            rings: BTreeMap::new(),
            batch: Vec::new(),
            unreadable: 0,
            // SAFETY: geteuid cannot fail.
            uid: unsafe { libc::geteuid() },
        };
        let s = stop.clone();
        let handle = std::thread::Builder::new()
            .name("benchmem-reader".into())
            .spawn(move || state.run(&s))?;
        Ok(Reader { stop, handle })
    }

    /// Drains every ring one last time (call it once the processes are gone) and returns
    /// what was taken.
    pub fn stop(self) -> Drained {
        self.stop.store(true, Ordering::Release);
        self.handle.thread().unpark();
        match self.handle.join() {
            Ok(d) => d,
            // Cannot happen short of a bug; the repeat's samples are lost, not the run.
            Err(_) => Drained {
                agg: Aggregator::default(),
                spans: HashMap::new(),
                unreadable: 0,
            },
        }
    }
}

/// One state file, mapped read-write (the reader stores the ring's tail).
struct Ring {
    ptr: *const ProcessState,
    pid: u32,
    image: u32,
    /// 1 + the series of each name index seen so far (0: not looked up yet).
    series: Vec<u32>,
    /// The file is not what its name says: never read.
    bad: bool,
    /// Samples were taken from it.
    closed: bool,
    /// Its closed regions' spans, for the timeline.
    spans: KeptSpans,
}

impl Ring {
    fn open(path: &Path, uid: u32, pid: u32, image: u32) -> Option<Ring> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
            .open(path)
            .ok()?;
        let meta = file.metadata().ok()?;
        // Still being sized by its process: try again later.
        if !meta.is_file() || meta.uid() != uid || meta.len() < STATE_SIZE as u64 {
            return None;
        }
        // SAFETY: a shared mapping of a regular file at least STATE_SIZE long; the
        // descriptor may close right after.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                STATE_SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        (p != libc::MAP_FAILED).then_some(Ring {
            ptr: p as *const ProcessState,
            pid,
            image,
            series: Vec::new(),
            bad: false,
            closed: false,
            spans: KeptSpans::default(),
        })
    }

    fn state(&self) -> &ProcessState {
        // SAFETY: mapped for STATE_SIZE bytes until drop; every field is an atomic or
        // plain bytes, so any content is a valid ProcessState.
        unsafe { &*self.ptr }
    }

    /// Whether the file is a state of this layout written for the image its name gives
    /// (false until its process has set it up).
    fn ready(&mut self) -> bool {
        if self.bad {
            return false;
        }
        let st = self.state();
        if !st.is_valid() {
            return false;
        }
        let h = &st.header;
        let (pid, image) = (
            h.pid.load(Ordering::Relaxed),
            h.image.load(Ordering::Relaxed),
        );
        self.bad = (pid, image) != (self.pid, self.image);
        !self.bad
    }

    /// The series of name `index`, looked up in the aggregator the first time.
    fn series(&mut self, index: u32, agg: &mut Aggregator) -> Option<usize> {
        let i = index as usize;
        if i >= MAX_NAMES {
            return None;
        }
        if self.series.len() <= i {
            self.series.resize(i + 1, 0);
        }
        if self.series[i] == 0 {
            let name = self.state().names.get(index)?;
            self.series[i] = agg.region(name) as u32 + 1;
        }
        Some(self.series[i] as usize - 1)
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: unmapping what open mapped.
        unsafe { libc::munmap(self.ptr as *mut libc::c_void, STATE_SIZE) };
    }
}

// SAFETY: the mapping is reached through atomics only and lives until drop.
unsafe impl Send for Ring {}

/// The reader thread's state.
struct Draining {
    dir: PathBuf,
    repeat: usize,
    agg: Aggregator,
    rings: BTreeMap<(u32, u32), Ring>,
    /// One drain's samples, by ring (reused).
    batch: Vec<((u32, u32), Sample)>,
    unreadable: u64,
    uid: u32,
}

impl Draining {
    fn run(mut self, stop: &AtomicBool) -> Drained {
        let mut scanned: Option<Instant> = None;
        loop {
            let last = stop.load(Ordering::Acquire);
            if last || scanned.is_none_or(|t| t.elapsed() >= SCAN) {
                self.scan();
                scanned = Some(Instant::now());
            }
            let n = self.drain();
            if last {
                return self.finish();
            }
            if n >= SAMPLE_SLOTS / 4 {
                // A ring was filling up: look again as soon as the CPU allows.
                std::thread::yield_now();
            } else {
                // Parked: `stop` wakes it at once.
                std::thread::park_timeout(if n > 0 { BUSY } else { IDLE });
            }
        }
    }

    /// Maps the state files that appeared since the last scan.
    fn scan(&mut self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let Some(key) = parse_state_file_name(name.as_encoded_bytes()) else {
                continue;
            };
            if self.rings.contains_key(&key) {
                continue;
            }
            if let Some(r) = Ring::open(&e.path(), self.uid, key.0, key.1) {
                self.rings.insert(key, r);
            }
        }
    }

    /// Takes every sample published so far, in the order the regions ended; returns how
    /// many.
    fn drain(&mut self) -> usize {
        self.batch.clear();
        let mut sources = 0;
        for (&key, ring) in &mut self.rings {
            if !ring.ready() {
                continue;
            }
            let before = self.batch.len();
            let batch = &mut self.batch;
            if let Err(n) = ring.state().samples.drain(|s| batch.push((key, s))) {
                self.unreadable += n;
            }
            if self.batch.len() > before {
                sources += 1;
                if !ring.closed {
                    ring.closed = true;
                    self.agg.closed_regions(key.0, key.1);
                }
            }
        }
        if sources > 1 {
            // Each ring is in order already; across processes, by when the region ended.
            self.batch.sort_by_key(|(_, s)| s.end_ns);
        }
        let taken = self.batch.len();
        let batch = std::mem::take(&mut self.batch);
        // By stretches of one process and region (a loop's samples come in long ones).
        let mut rest = &batch[..];
        while let Some(&(key, first)) = rest.first() {
            let n = rest
                .iter()
                .position(|(k, s)| (*k, s.name) != (key, first.name))
                .unwrap_or(rest.len());
            let (run, after) = rest.split_at(n);
            rest = after;
            let Some(ring) = self.rings.get_mut(&key) else {
                continue;
            };
            let Some(series) = ring.series(first.name, &mut self.agg) else {
                self.unreadable += n as u64;
                continue;
            };
            let samples = run
                .iter()
                .map(|(_, s)| (s.stats, s.end_ns.saturating_sub(s.begin_ns)));
            self.agg.regions_closed(series, samples, self.repeat, key.0);
            for (_, s) in run {
                ring.spans.add(s);
            }
        }
        // Kept for the next drain: its room is what a full ring needs.
        self.batch = batch;
        taken
    }

    /// After the last drain: marks the series that lost samples, resolves the spans'
    /// names.
    fn finish(mut self) -> Drained {
        for ring in self.rings.values_mut() {
            if !ring.ready() {
                continue;
            }
            for index in 0..ring.series.len() as u32 {
                let lost = ring.state().names.lost(index);
                if lost == 0 || ring.series[index as usize] == 0 {
                    continue;
                }
                let series = ring.series[index as usize] as usize - 1;
                self.agg
                    .region_samples_lost(series, self.repeat, ring.pid, lost as u64);
            }
        }
        let mut spans = Spans::default();
        for (&(pid, image), ring) in &mut self.rings {
            spans.insert(pid, image, std::mem::take(&mut ring.spans));
        }
        let rings = &self.rings;
        let spans = spans.resolve(|pid, image, index| {
            let name = rings.get(&(pid, image))?.state().names.get(index)?;
            Some(String::from_utf8_lossy(name).into_owned())
        });
        Drained {
            agg: self.agg,
            spans,
            unreadable: self.unreadable,
        }
    }
}
