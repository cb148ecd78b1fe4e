//! Draining the stack streams of a run while it runs.
//!
//! A thread of the launcher finds each process image's stream file (`k-<pid>-<image>`)
//! in the run directory, maps its header, reads the records between `tail` and `head`,
//! advances `tail` at once (the producer stops recording when its ring is full, so it must
//! never wait on us for long) and replays the copy. Once the command is over it drains
//! every ring a last time: the files outlive their processes, as state files do.

use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use benchmem_wire::names::state_file_name;
use benchmem_wire::stacks::{
    DATA_OFFSET, DecodeError, MAGIC, RingHeader, STOP_FULL, STOP_TABLE_FULL, VERSION, decode,
    parse_stacks_file_name,
};

use super::replay::{ImageStacks, Replay};
use crate::aggregate::name_of;

/// Pause between passes over the rings when none had anything new.
const IDLE: Duration = Duration::from_millis(1);
/// How often the run directory is listed for new streams.
const SCAN: Duration = Duration::from_millis(5);
/// Largest ring accepted (the producer's default is far smaller).
const MAX_CAPACITY: u64 = 1 << 32;
/// Most bytes copied out of a ring per pass: the copy, not the ring, bounds what the
/// launcher holds.
const CHUNK: usize = 1 << 20;

/// A stream file: its header page mapped read-write (the launcher writes `tail`), its
/// records read with `pread`, so they pass through the launcher without ever becoming
/// its resident memory.
struct Ring {
    file: std::fs::File,
    ptr: *mut u8,
    len: usize,
    capacity: u64,
    pid: u32,
    image: u32,
    replay: Replay,
    /// Why this stream is not to be read any further.
    broken: Option<String>,
    buf: Vec<u8>,
}

// SAFETY: the mapping is owned by the ring and only touched by the thread holding it.
unsafe impl Send for Ring {}

impl Ring {
    fn open(path: &Path, repeat: usize, pid: u32, image: u32) -> Option<Ring> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .ok()?;
        let size = file.metadata().ok()?.len();
        if size < DATA_OFFSET as u64 {
            return None; // still being set up: try again next scan
        }
        let mut head = [0u8; 24];
        use std::os::unix::fs::FileExt;
        file.read_exact_at(&mut head, 0).ok()?;
        let magic = u64::from_le_bytes(head[..8].try_into().ok()?);
        let version = u32::from_le_bytes(head[8..12].try_into().ok()?);
        let capacity = u64::from_le_bytes(head[16..24].try_into().ok()?);
        if magic != MAGIC || version != VERSION {
            return None;
        }
        if capacity == 0
            || capacity % 8 != 0
            || capacity > MAX_CAPACITY
            || size < DATA_OFFSET as u64 + capacity
        {
            return None;
        }
        let len = DATA_OFFSET;
        // SAFETY: a shared mapping of the header page of a file longer than that.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return None;
        }
        Some(Ring {
            file,
            ptr: p as *mut u8,
            len,
            capacity,
            pid,
            image,
            replay: Replay::new(repeat, pid, image, String::new()),
            broken: None,
            buf: Vec::new(),
        })
    }

    fn header(&self) -> &RingHeader {
        // SAFETY: the first page of the mapping; every field is an atomic or padding, so
        // any content is a valid header.
        unsafe { &*(self.ptr as *const RingHeader) }
    }

    /// Copies out and replays what the producer wrote since the last pass; true when
    /// there was anything.
    fn drain(&mut self) -> bool {
        if self.broken.is_some() {
            return false;
        }
        let h = self.header();
        let head = h.head.load(Ordering::Acquire);
        let tail = h.tail.load(Ordering::Relaxed);
        if head == tail {
            return false;
        }
        if head < tail || head - tail > self.capacity {
            self.broken = Some(format!(
                "its ring's positions are impossible (head {head}, tail {tail})"
            ));
            return false;
        }
        let pending = (head - tail) as usize;
        let from = (tail % self.capacity) as usize;
        let mut n = pending.min(CHUNK);
        let mut whole = self.copy_out(from, n);
        if whole == 0 && n < pending {
            // One record longer than a chunk: take everything there is.
            n = pending;
            whole = self.copy_out(from, n);
        }
        if self.buf.is_empty() {
            self.broken = Some("its ring could not be read".into());
            return false;
        }
        if whole == 0 {
            whole = n; // not one whole record: decoding says what is wrong with it
        }
        // Released at once: the producer may reuse the space while we replay the copy.
        self.header()
            .tail
            .store(tail + whole as u64, Ordering::Release);
        self.buf.truncate(whole);
        let mut at = 0;
        let buf = std::mem::take(&mut self.buf);
        while at < buf.len() {
            match decode(&buf[at..]) {
                Ok((rec, len)) => {
                    self.replay.apply(&rec);
                    at += len;
                }
                Err(e) => {
                    self.broken = Some(match e {
                        DecodeError::Truncated => "a record cut short in its ring".into(),
                        DecodeError::Corrupt => {
                            format!("a corrupt record at byte {}", tail + at as u64)
                        }
                    });
                    break;
                }
            }
        }
        self.buf = buf;
        true
    }

    /// Copies `n` bytes of records from ring offset `from` (wrapping) into `buf`;
    /// returns the length of the whole records at its start (by their headers' lengths).
    fn copy_out(&mut self, from: usize, n: usize) -> usize {
        use std::os::unix::fs::FileExt;
        let cap = self.capacity as usize;
        let first = n.min(cap - from);
        self.buf.clear();
        self.buf.resize(n, 0);
        let at = |off: usize| (DATA_OFFSET + off) as u64;
        let read = self
            .file
            .read_exact_at(&mut self.buf[..first], at(from))
            .and_then(|()| self.file.read_exact_at(&mut self.buf[first..], at(0)));
        if read.is_err() {
            // The file shrank under us (not ours to shrink): nothing whole to replay.
            self.buf.clear();
            return 0;
        }
        let mut at = 0;
        while at + 8 <= n {
            let h = u64::from_le_bytes(self.buf[at..at + 8].try_into().unwrap_or([0; 8]));
            let len = ((h >> 8) & 0xff_ffff) as usize * 8;
            if len == 0 || at + len > n {
                break;
            }
            at += len;
        }
        at
    }

    /// The replay, with why its stream may be short.
    fn finish(mut self, dir: &Path) -> ImageStacks {
        let h = self.header();
        let (stopped, lost, closed) = (
            h.stopped.load(Ordering::Acquire),
            h.lost.load(Ordering::Relaxed),
            h.closed.load(Ordering::Acquire),
        );
        let mut why = Vec::new();
        match stopped {
            0 => {}
            STOP_FULL => why.push("its ring filled up faster than benchmem drained it".into()),
            STOP_TABLE_FULL => why.push("its table of distinct stacks filled up".into()),
            s => why.push(format!("it stopped recording (reason {s})")),
        }
        if lost > 0 {
            why.push(format!("{lost} allocations and frees went unrecorded"));
        }
        if closed == 0 {
            why.push("it ended without closing its stream (killed, or still running)".into());
        }
        if let Some(b) = self.broken.take() {
            why.push(b);
        }
        // The root region's name and the main program's file, from the state file.
        let mut name = [0u8; 24];
        let n = state_file_name(self.pid, self.image, &mut name);
        let state = std::str::from_utf8(&name[..n])
            .ok()
            .and_then(|f| crate::collect::read_state(&dir.join(f), (self.pid, self.image)));
        let why = (!why.is_empty()).then(|| {
            format!(
                "process {} (image {}): {}",
                self.pid,
                self.image,
                why.join(", ")
            )
        });
        let replay = std::mem::replace(&mut self.replay, Replay::new(0, 0, 0, String::new()));
        let mut out = replay.finish(why);
        if let Some(st) = state {
            let root = name_of(st.name());
            for s in out.samples.iter_mut().filter(|s| s.root) {
                s.name = root.clone();
            }
            for m in out.modules.iter_mut().filter(|m| m.path.is_empty()) {
                m.path = st.exe().to_vec();
            }
        }
        out
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: unmapping what open mapped.
        unsafe { libc::munmap(self.ptr as *mut libc::c_void, self.len) };
    }
}

/// Every stream of one run directory, drained by a thread of its own.
pub struct Drainer {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<ImageStacks>>,
}

impl Drainer {
    /// Starts draining the streams that appear in `dir` during repeat `repeat`.
    pub fn start(dir: &Path, repeat: usize) -> Drainer {
        let stop = Arc::new(AtomicBool::new(false));
        let dir = dir.to_path_buf();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || drain_loop(&dir, repeat, &flag));
        Drainer { stop, thread }
    }

    /// Drains every stream a last time (call once every process is gone) and returns each
    /// image's replay, in (pid, image) order.
    pub fn finish(self) -> Vec<ImageStacks> {
        self.stop.store(true, Ordering::Release);
        self.thread.join().unwrap_or_default()
    }
}

fn drain_loop(dir: &Path, repeat: usize, stop: &AtomicBool) -> Vec<ImageStacks> {
    let mut rings: HashMap<PathBuf, Option<Ring>> = HashMap::new();
    let mut last_scan: Option<Instant> = None;
    loop {
        let stopping = stop.load(Ordering::Acquire);
        if stopping || last_scan.is_none_or(|t| t.elapsed() >= SCAN) {
            scan(dir, repeat, &mut rings);
            last_scan = Some(Instant::now());
        }
        let mut busy = false;
        for ring in rings.values_mut().flatten() {
            // A few passes per ring, so one busy producer does not starve the scan.
            for _ in 0..8 {
                if !ring.drain() {
                    break;
                }
                busy = true;
            }
        }
        if stopping {
            // Everything the producers wrote is in by now; drain to the end.
            for ring in rings.values_mut().flatten() {
                while ring.drain() {}
            }
            break;
        }
        if !busy {
            std::thread::sleep(IDLE);
        }
    }
    let mut out: Vec<ImageStacks> = rings
        .into_values()
        .flatten()
        .map(|r| r.finish(dir))
        .collect();
    out.sort_by_key(|i| (i.pid, i.image));
    out
}

fn scan(dir: &Path, repeat: usize, rings: &mut HashMap<PathBuf, Option<Ring>>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some((pid, image)) = parse_stacks_file_name(name.as_encoded_bytes()) else {
            continue;
        };
        let path = e.path();
        if matches!(rings.get(&path), Some(Some(_))) {
            continue;
        }
        // None until its header is written; tried again at the next scan.
        let ring = Ring::open(&path, repeat, pid, image);
        rings.insert(path, ring);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use benchmem_wire::stacks::{Record, encode};
    use std::sync::atomic::Ordering::{Acquire, Release};

    /// A producer as the preload's: records into a small ring, a pad at the ring's end,
    /// waiting for the consumer when the ring is full.
    struct Producer {
        ptr: *mut u8,
        cap: u64,
    }

    impl Producer {
        fn create(path: &Path, cap: u64) -> Producer {
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(path)
                .unwrap();
            let len = DATA_OFFSET + cap as usize;
            f.set_len(len as u64).unwrap();
            // SAFETY: a shared mapping of the file just sized to `len`.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    f.as_raw_fd(),
                    0,
                )
            };
            assert_ne!(p, libc::MAP_FAILED);
            let pr = Producer {
                ptr: p as *mut u8,
                cap,
            };
            let h = pr.header();
            h.version.store(VERSION, Release);
            h.capacity.store(cap, Release);
            h.magic.store(MAGIC, Release);
            pr
        }

        fn header(&self) -> &RingHeader {
            // SAFETY: the mapping's first page.
            unsafe { &*(self.ptr as *const RingHeader) }
        }

        fn put(&self, rec: &Record) {
            let mut buf = [0u8; 256];
            let n = encode(rec, &mut buf).unwrap() as u64;
            let h = self.header();
            let mut head = h.head.load(Acquire);
            let room_to_end = self.cap - head % self.cap;
            if room_to_end < n {
                self.wait(head + room_to_end);
                let pad = encode(
                    &Record::Pad {
                        words: room_to_end as usize / 8,
                    },
                    &mut buf,
                )
                .unwrap();
                self.write(head, &buf[..pad.min(8)]);
                head += room_to_end;
                h.head.store(head, Release);
                encode(rec, &mut buf).unwrap();
            }
            self.wait(head + n);
            self.write(head, &buf[..n as usize]);
            h.head.store(head + n, Release);
        }

        fn wait(&self, upto: u64) {
            while upto - self.header().tail.load(Acquire) > self.cap {
                std::thread::yield_now();
            }
        }

        fn write(&self, at: u64, bytes: &[u8]) {
            let off = DATA_OFFSET + (at % self.cap) as usize;
            // SAFETY: records never wrap, so `off + len` stays inside the mapping.
            unsafe {
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.ptr.add(off), bytes.len())
            };
        }
    }

    #[test]
    fn a_small_ring_wraps_many_times_and_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = Producer::create(&dir.path().join("k-77-0"), 256);
        let drainer = Drainer::start(dir.path(), 3);
        p.put(&Record::Process {
            base_epoch: 1,
            pid: 77,
        });
        let mut expect = 0u64;
        for i in 0..5000u64 {
            p.put(&Record::Alloc {
                stack: (i % 7) as u32 + 1,
                size: i + 1,
            });
            expect += i + 1;
            if i % 3 == 0 {
                p.put(&Record::Free {
                    stack: (i % 7) as u32 + 1,
                    size: i + 1,
                    epoch: 1,
                });
                expect -= i + 1;
            }
        }
        p.header().closed.store(1, Release);
        let images = drainer.finish();
        assert_eq!(images.len(), 1);
        let img = &images[0];
        assert_eq!((img.repeat, img.pid, img.image), (3, 77, 0));
        assert_eq!(img.incomplete, None);
        let root = &img.samples[0];
        assert_eq!(root.totals.allocations, 5000);
        assert_eq!(root.totals.retained_bytes, expect);
        assert_eq!(root.sites.len(), 7);
    }

    #[test]
    fn a_stopped_ring_and_an_unclosed_stream_are_said() {
        let dir = tempfile::tempdir().unwrap();
        let p = Producer::create(&dir.path().join("k-5-1"), 4096);
        p.put(&Record::Process {
            base_epoch: 1,
            pid: 5,
        });
        p.put(&Record::Alloc { stack: 1, size: 8 });
        p.header().stopped.store(STOP_FULL, Release);
        p.header().lost.store(12, Release);
        let images = Drainer::start(dir.path(), 0).finish();
        let why = images[0].incomplete.as_deref().unwrap();
        assert!(why.contains("filled up faster"), "{why}");
        assert!(
            why.contains("12 allocations and frees went unrecorded"),
            "{why}"
        );
        assert!(why.contains("without closing"), "{why}");
        assert_eq!(images[0].samples[0].totals.total_bytes, 8);
    }
}
