//! Replaying one process image's stack stream into per-region, per-stack figures.
//!
//! The records arrive in the order the preload applied them to its own counters, so
//! replaying them region by region reproduces each region's four figures exactly, and
//! splits each figure over the stacks that made it:
//! - `allocated` and `allocations`: every allocation inside the region, by its stack;
//! - `retained`: what the region's own allocations still hold at its end, by stack;
//! - `peak`: what each stack held, of the region's own allocations, at the moment the
//!   region reached its peak. The shares add up to the peak.
//!
//! The peak split costs O(1) per record: each region keeps a snapshot epoch, bumped at the
//! first decrease after a new maximum (the moment the maximum becomes history). Before a
//! stack's live bytes change, the value it had is saved if its saved copy belongs to an
//! older epoch. At the end a stack's share of the peak is its saved value when that was
//! saved in the final epoch (it changed after the last maximum), else its live value (it
//! has not changed since). No per-allocation history is kept: memory grows with the
//! distinct stacks a region touched, never with the number of calls.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use benchmem_wire::stacks::{NO_STACK, Record, py_frame_parts};

use crate::Stats;

/// Most samples kept per region name in one process image: a program that opens a region
/// per iteration would otherwise make the launcher's memory grow with its iterations.
pub const MAX_SAMPLES_PER_NAME: usize = 256;

/// A hasher for dense `u32` ids: one multiplication instead of SipHash on the hot path
/// of the replay (ids come from the preload, not from an adversary).
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | b as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type IdMap<V> = HashMap<u32, V, BuildHasherDefault<IdHasher>>;

/// True when epoch `a` is before epoch `b` (wrapping, as the preload compares them).
fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// One stack's share of a region sample's four figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SiteFigures {
    /// Bytes it had allocated inside the region and still live at the region's peak.
    pub peak: u64,
    /// Bytes it allocated inside the region.
    pub allocated: u64,
    /// Allocations it made inside the region.
    pub allocations: u64,
    /// Bytes it had allocated inside the region and still live at the region's end.
    pub retained: u64,
}

/// One region sample of one process image, split by stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackSample {
    /// Region name, as the aggregator names series (bytes that are not UTF-8 as `\xNN`).
    pub name: String,
    /// The image's root region (its whole life), not a marked region.
    pub root: bool,
    /// The region's four figures as the replay found them.
    pub totals: Stats,
    /// Every stack with a non-zero figure, by stack id.
    pub sites: Vec<(u32, SiteFigures)>,
    /// The region was still open when the stream ended.
    pub unclosed: bool,
}

/// One frame of a recorded stack, resolved against the modules mapped when the stack was
/// first seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Frame {
    /// A native frame: the module it lies in (index into [`ImageStacks::modules`]) and the
    /// address to look up in that file (the return address minus one, minus the module's
    /// load bias).
    Native {
        /// Module index.
        module: u32,
        /// Link-time address inside the module's file.
        address: u64,
    },
    /// A native frame in no known module: the return address minus one.
    Unmapped {
        /// Run-time address.
        address: u64,
    },
    /// A Python frame: a code object of [`ImageStacks::python`] and a line.
    Python {
        /// Code id.
        code: u32,
        /// Line number.
        line: u32,
    },
}

/// A file mapped into the process image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Module {
    /// Path as the loader knows it (for the main program: its executable).
    pub path: Vec<u8>,
    /// GNU build id, empty when the file has none.
    pub build_id: Vec<u8>,
    /// Load bias.
    pub bias: u64,
    /// Lowest mapped address.
    pub start: u64,
    /// End of the mapped range.
    pub end: u64,
}

/// A Python code object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PyCode {
    /// Qualified name.
    pub name: Vec<u8>,
    /// Source file.
    pub file: Vec<u8>,
    /// First line.
    pub first_line: u32,
}

/// Everything one process image's stream said, replayed.
#[derive(Clone, Debug, Default)]
pub struct ImageStacks {
    /// Which repeat (0-based).
    pub repeat: usize,
    /// Process id.
    pub pid: u32,
    /// Exec count of that pid.
    pub image: u32,
    /// Modules in order of appearance.
    pub modules: Vec<Module>,
    /// Frames of each stack, innermost first, by stack id (id 0: unknown, empty).
    pub stacks: Vec<Vec<Frame>>,
    /// Python code objects by id.
    pub python: HashMap<u32, PyCode>,
    /// Region samples in order of ending (the root region last).
    pub samples: Vec<StackSample>,
    /// Samples not kept (beyond [`MAX_SAMPLES_PER_NAME`] for a name).
    pub omitted: usize,
    /// Why the stream is not complete, when it is not.
    pub incomplete: Option<String>,
}

/// A stack's counters inside one open region.
#[derive(Default)]
struct Cell {
    allocated: u64,
    allocations: u64,
    live: u64,
    saved: u64,
    saved_epoch: u64,
}

impl Cell {
    /// Keeps the value the snapshot of epoch `snap` needs before `live` changes.
    #[inline]
    fn save(&mut self, snap: u64) {
        if self.saved_epoch < snap {
            self.saved = self.live;
            self.saved_epoch = snap;
        }
    }
}

/// A region while it is open.
struct Open {
    id: Option<i32>,
    name: String,
    begin: u32,
    cells: IdMap<Cell>,
    live: u64,
    peak: u64,
    allocated: u64,
    allocations: u64,
    /// Snapshot epoch (starts at 1, so a fresh cell's 0 is older).
    snap: u64,
    /// The current state is the maximum so far and nothing has decreased since.
    at_max: bool,
}

impl Open {
    fn new(id: Option<i32>, name: String, begin: u32) -> Open {
        Open {
            id,
            name,
            begin,
            cells: IdMap::default(),
            live: 0,
            peak: 0,
            allocated: 0,
            allocations: 0,
            snap: 1,
            at_max: false,
        }
    }

    #[inline]
    fn alloc(&mut self, stack: u32, size: u64) {
        let c = self.cells.entry(stack).or_default();
        c.save(self.snap);
        // Saturating: a corrupt stream must not panic the launcher.
        c.live = c.live.saturating_add(size);
        c.allocated = c.allocated.saturating_add(size);
        c.allocations += 1;
        self.live = self.live.saturating_add(size);
        self.allocated = self.allocated.saturating_add(size);
        self.allocations += 1;
        if self.live > self.peak {
            self.peak = self.live;
            self.at_max = true;
        }
    }

    /// A free of a block allocated inside this region; false when the replay never saw
    /// that stack allocate so much here (records were lost).
    #[inline]
    fn free(&mut self, stack: u32, size: u64) -> bool {
        if self.at_max {
            // The maximum becomes history: freeze it.
            self.snap += 1;
            self.at_max = false;
        }
        let c = self.cells.entry(stack).or_default();
        c.save(self.snap);
        let ok = c.live >= size && self.live >= size;
        c.live = c.live.saturating_sub(size);
        self.live = self.live.saturating_sub(size);
        ok
    }

    fn close(self, root: bool, unclosed: bool) -> StackSample {
        let (snap, at_max) = (self.snap, self.at_max);
        let mut sites: Vec<(u32, SiteFigures)> = self
            .cells
            .into_iter()
            .map(|(id, c)| {
                let peak = if !at_max && c.saved_epoch == snap {
                    c.saved
                } else {
                    c.live
                };
                let f = SiteFigures {
                    peak,
                    allocated: c.allocated,
                    allocations: c.allocations,
                    retained: c.live,
                };
                (id, f)
            })
            .filter(|(_, f)| *f != SiteFigures::default())
            .collect();
        sites.sort_unstable_by_key(|s| s.0);
        StackSample {
            name: self.name,
            root,
            totals: Stats {
                peak_bytes: self.peak,
                total_bytes: self.allocated,
                allocations: self.allocations,
                retained_bytes: self.live,
            },
            sites,
            unclosed,
        }
    }
}

/// The replay of one process image's stream, record by record.
pub struct Replay {
    root_name: String,
    base: Option<u32>,
    /// Open regions; index 0 is the root region once the stream started.
    open: Vec<Open>,
    out: ImageStacks,
    kept: HashMap<String, usize>,
    /// Module index by start address, for the modules mapped now.
    map: BTreeMap<u64, (u64, u32)>,
    problems: Vec<String>,
}

impl Replay {
    /// A replay for image `image` of `pid` in repeat `repeat`, whose root region is named
    /// `root_name`.
    pub fn new(repeat: usize, pid: u32, image: u32, root_name: String) -> Replay {
        Replay {
            root_name,
            base: None,
            open: Vec::new(),
            out: ImageStacks {
                repeat,
                pid,
                image,
                stacks: vec![Vec::new()],
                ..ImageStacks::default()
            },
            kept: HashMap::new(),
            map: BTreeMap::new(),
            problems: Vec::new(),
        }
    }

    fn problem(&mut self, what: String) {
        if self.problems.len() < 4 {
            self.problems.push(what);
        }
    }

    /// Applies one record.
    pub fn apply(&mut self, rec: &Record) {
        match *rec {
            Record::Pad { .. } => {}
            Record::Process { base_epoch, .. } => {
                if self.base.is_some() {
                    self.problem("a second process record".into());
                    return;
                }
                self.base = Some(base_epoch);
                let name = self.root_name.clone();
                self.open.push(Open::new(None, name, base_epoch));
            }
            Record::Alloc { stack, size } => {
                if self.open.is_empty() {
                    self.problem("an allocation before the process record".into());
                    return;
                }
                for r in &mut self.open {
                    r.alloc(stack, size);
                }
            }
            Record::Free { stack, size, epoch } => {
                let Some(base) = self.base else {
                    self.problem("a free before the process record".into());
                    return;
                };
                if before(epoch, base) {
                    return; // a fork parent's memory
                }
                let mut short = false;
                for r in &mut self.open {
                    if !before(epoch, r.begin) && !r.free(stack, size) {
                        short = true;
                    }
                }
                if short {
                    self.problem(format!(
                        "a free of {size} bytes from stack {stack} that the stream never allocated"
                    ));
                }
            }
            Record::Stack { id, frames } => {
                let frames = frames.iter().map(|w| self.frame(w)).collect();
                let i = id as usize;
                if id == NO_STACK || i > self.out.stacks.len() + (1 << 24) {
                    self.problem(format!("an impossible stack id {id}"));
                    return;
                }
                if self.out.stacks.len() <= i {
                    self.out.stacks.resize(i + 1, Vec::new());
                }
                self.out.stacks[i] = frames;
            }
            Record::RegionBegin { id, epoch, name } => {
                let name = crate::aggregate::name_of(name);
                self.open.push(Open::new(Some(id), name, epoch));
            }
            Record::RegionEnd { id } => match self.open.iter().rposition(|r| r.id == Some(id)) {
                Some(i) => {
                    let r = self.open.remove(i);
                    self.keep(r.close(false, false));
                }
                None => self.problem(format!("the end of region {id}, never begun")),
            },
            Record::Module {
                bias,
                start,
                end,
                build_id,
                path,
                ..
            } => {
                let idx = self.out.modules.len() as u32;
                self.out.modules.push(Module {
                    path: path.to_vec(),
                    build_id: build_id.to_vec(),
                    bias,
                    start,
                    end,
                });
                // A later module over the same range replaces what was there.
                let gone: Vec<u64> = self
                    .map
                    .range(..end)
                    .rev()
                    .take_while(|(_, (e, _))| *e > start)
                    .map(|(s, _)| *s)
                    .collect();
                for s in gone {
                    self.map.remove(&s);
                }
                self.map.insert(start, (end, idx));
            }
            Record::PyCode {
                id,
                first_line,
                name,
                file,
            } => {
                self.out.python.insert(
                    id,
                    PyCode {
                        name: name.to_vec(),
                        file: file.to_vec(),
                        first_line,
                    },
                );
            }
        }
    }

    fn frame(&self, word: u64) -> Frame {
        if let Some((code, line)) = py_frame_parts(word) {
            return Frame::Python { code, line };
        }
        // A return address: the call is the instruction before it.
        let a = word.wrapping_sub(1);
        match self.map.range(..=a).next_back() {
            Some((_, &(end, m))) if a < end => Frame::Native {
                module: m,
                address: a.wrapping_sub(self.out.modules[m as usize].bias),
            },
            _ => Frame::Unmapped { address: a },
        }
    }

    fn keep(&mut self, s: StackSample) {
        let n = self.kept.entry(s.name.clone()).or_insert(0);
        if *n < MAX_SAMPLES_PER_NAME || s.root {
            *n += 1;
            self.out.samples.push(s);
        } else {
            self.out.omitted += 1;
        }
    }

    /// Ends the replay: regions still open are measured up to here (innermost first, the
    /// root region last). `incomplete` says why the stream may be short.
    pub fn finish(mut self, incomplete: Option<String>) -> ImageStacks {
        while let Some(r) = self.open.pop() {
            let root = r.id.is_none();
            self.keep(r.close(root, !root));
        }
        let mut why: Vec<String> = incomplete.into_iter().collect();
        why.extend(std::mem::take(&mut self.problems));
        self.out.incomplete = (!why.is_empty()).then(|| why.join("; "));
        self.out
    }

    /// Samples closed so far (for tests and the measurement of the replay's cost).
    pub fn samples(&self) -> &[StackSample] {
        &self.out.samples
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(stack: u32, size: u64) -> Record<'static> {
        Record::Alloc { stack, size }
    }
    fn f(stack: u32, size: u64, epoch: u32) -> Record<'static> {
        Record::Free { stack, size, epoch }
    }
    fn begin(id: i32, epoch: u32, name: &'static [u8]) -> Record<'static> {
        Record::RegionBegin { id, epoch, name }
    }
    fn end(id: i32) -> Record<'static> {
        Record::RegionEnd { id }
    }

    fn replay(recs: &[Record]) -> ImageStacks {
        let mut r = Replay::new(0, 7, 0, "prog".into());
        r.apply(&Record::Process {
            base_epoch: 1,
            pid: 7,
        });
        for rec in recs {
            r.apply(rec);
        }
        r.finish(None)
    }

    fn sample<'a>(img: &'a ImageStacks, name: &str) -> &'a StackSample {
        img.samples.iter().find(|s| s.name == name).unwrap()
    }

    fn site(s: &StackSample, stack: u32) -> SiteFigures {
        s.sites
            .iter()
            .find(|x| x.0 == stack)
            .map(|x| x.1)
            .unwrap_or_default()
    }

    /// The per-stack figures add up to the region's four figures.
    fn sums_hold(s: &StackSample) {
        let mut t = SiteFigures::default();
        for (_, x) in &s.sites {
            t.peak += x.peak;
            t.allocated += x.allocated;
            t.allocations += x.allocations;
            t.retained += x.retained;
        }
        assert_eq!(t.peak, s.totals.peak_bytes, "{}: peak", s.name);
        assert_eq!(t.allocated, s.totals.total_bytes, "{}: allocated", s.name);
        assert_eq!(
            t.allocations, s.totals.allocations,
            "{}: allocations",
            s.name
        );
        assert_eq!(t.retained, s.totals.retained_bytes, "{}: retained", s.name);
    }

    /// The same figures computed the slow way: the whole per-stack state at every maximum.
    fn brute(recs: &[(bool, u32, u64)]) -> (u64, HashMap<u32, u64>) {
        let mut live: HashMap<u32, u64> = HashMap::new();
        let (mut total, mut peak, mut at_peak) = (0u64, 0u64, HashMap::new());
        for &(alloc, s, n) in recs {
            if alloc {
                *live.entry(s).or_default() += n;
                total += n;
            } else {
                *live.get_mut(&s).unwrap() -= n;
                total -= n;
            }
            if total > peak {
                peak = total;
                at_peak = live.clone();
            }
        }
        (peak, at_peak)
    }

    #[test]
    fn nested_regions_split_by_stack() {
        let img = replay(&[
            a(1, 100), // root only
            begin(1, 2, b"outer"),
            a(2, 10),
            begin(2, 3, b"inner"),
            a(3, 5),
            a(3, 7),
            f(3, 5, 3),
            end(2),
            f(2, 10, 2),
            end(1),
        ]);
        let inner = sample(&img, "inner");
        assert_eq!(
            inner.totals,
            Stats {
                peak_bytes: 12,
                total_bytes: 12,
                allocations: 2,
                retained_bytes: 7
            }
        );
        assert_eq!(
            site(inner, 3),
            SiteFigures {
                peak: 12,
                allocated: 12,
                allocations: 2,
                retained: 7
            }
        );
        let outer = sample(&img, "outer");
        assert_eq!(outer.totals.peak_bytes, 22);
        assert_eq!(outer.totals.retained_bytes, 7);
        assert_eq!(site(outer, 2).peak, 10);
        assert_eq!(site(outer, 2).retained, 0);
        assert_eq!(site(outer, 3).peak, 12);
        let root = img.samples.last().unwrap();
        assert!(root.root);
        assert_eq!(root.name, "prog");
        assert_eq!(root.totals.peak_bytes, 122);
        assert_eq!(site(root, 1).peak, 100);
        for s in &img.samples {
            sums_hold(s);
        }
        assert!(img.incomplete.is_none());
    }

    #[test]
    fn frees_of_older_blocks_lower_nothing_in_the_region() {
        let img = replay(&[
            a(1, 1000),
            begin(1, 2, b"r"),
            f(1, 1000, 1), // allocated before r began
            a(2, 300),
            end(1),
        ]);
        let r = sample(&img, "r");
        assert_eq!(r.totals.peak_bytes, 300);
        assert_eq!(r.totals.retained_bytes, 300);
        assert_eq!(site(r, 1), SiteFigures::default());
        assert!(!r.sites.iter().any(|s| s.0 == 1));
        let root = img.samples.last().unwrap();
        assert_eq!(root.totals.peak_bytes, 1000);
        assert_eq!(root.totals.retained_bytes, 300);
        assert_eq!(site(root, 1).peak, 1000);
        assert_eq!(site(root, 2).peak, 0);
        for s in &img.samples {
            sums_hold(s);
        }
    }

    #[test]
    fn realloc_chains_move_bytes_between_stacks() {
        // realloc(p, n): the free of p's block, then the allocation of n, by the realloc's
        // own stack.
        let img = replay(&[
            begin(1, 2, b"grow"),
            a(1, 16),
            f(1, 16, 2),
            a(2, 32),
            f(2, 32, 2),
            a(2, 64),
            f(2, 64, 2),
            a(3, 128),
            end(1),
        ]);
        let g = sample(&img, "grow");
        assert_eq!(g.totals.peak_bytes, 128);
        assert_eq!(g.totals.total_bytes, 16 + 32 + 64 + 128);
        assert_eq!(g.totals.allocations, 4);
        assert_eq!(
            site(g, 2),
            SiteFigures {
                peak: 0,
                allocated: 96,
                allocations: 2,
                retained: 0
            }
        );
        assert_eq!(site(g, 3).peak, 128);
        sums_hold(g);
    }

    #[test]
    fn a_free_of_the_fork_parents_memory_lowers_nothing() {
        let mut r = Replay::new(0, 8, 0, "child".into());
        r.apply(&Record::Process {
            base_epoch: 5,
            pid: 8,
        });
        r.apply(&a(1, 10));
        r.apply(&f(9, 4096, 3));
        let img = r.finish(None);
        assert_eq!(img.samples[0].totals.retained_bytes, 10);
        assert!(img.incomplete.is_none());
    }

    #[test]
    fn the_peak_is_split_at_the_moment_of_the_peak() {
        // Stack 1 climbs to 100 and falls; then stack 2 climbs to 90 while 1 holds 20.
        let img = replay(&[
            a(1, 60),
            a(1, 40),
            f(1, 60, 1),
            f(1, 20, 1),
            a(2, 70),
            a(2, 9),
        ]);
        let root = &img.samples[0];
        assert_eq!(root.totals.peak_bytes, 100);
        assert_eq!(site(root, 1).peak, 100);
        assert_eq!(site(root, 2).peak, 0);
        // Then a new maximum made by both.
        let img = replay(&[
            a(1, 60),
            f(1, 60, 1),
            a(1, 30),
            a(2, 40),
            f(2, 40, 1),
            a(2, 35),
            a(3, 1),
            f(3, 1, 1),
        ]);
        let root = &img.samples[0];
        assert_eq!(root.totals.peak_bytes, 70);
        assert_eq!(site(root, 1).peak, 30);
        assert_eq!(site(root, 2).peak, 40);
        assert_eq!(site(root, 3).peak, 0);
        sums_hold(root);
    }

    #[test]
    fn sawtooth_matches_the_brute_force_split() {
        // Deterministic pseudo-random walk that climbs slowly: many maxima, many stacks.
        let mut x: u64 = 0x1234_5678;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut live: Vec<(u32, u64)> = Vec::new();
        let mut ops = Vec::new();
        for i in 0..20_000 {
            let r = next();
            if live.is_empty() || r % 100 < 52 {
                let s = (r >> 8) as u32 % 97 + 1;
                let n = (r >> 20) % 1000 + 1;
                live.push((s, n));
                ops.push((true, s, n));
            } else {
                let (s, n) = live.swap_remove((r >> 8) as usize % live.len());
                ops.push((false, s, n));
            }
            let _ = i;
        }
        let recs: Vec<Record> = ops
            .iter()
            .map(|&(al, s, n)| if al { a(s, n) } else { f(s, n, 1) })
            .collect();
        let img = replay(&recs);
        let (peak, at_peak) = brute(&ops);
        let root = &img.samples[0];
        assert_eq!(root.totals.peak_bytes, peak);
        for (s, v) in at_peak {
            assert_eq!(site(root, s).peak, v, "stack {s}");
        }
        sums_hold(root);
    }

    #[test]
    fn regions_left_open_are_measured_to_the_end_and_said_so() {
        let img = replay(&[begin(3, 2, b"open"), a(1, 5), end(99)]);
        let open = sample(&img, "open");
        assert!(open.unclosed);
        assert_eq!(open.totals.retained_bytes, 5);
        assert!(img.incomplete.unwrap().contains("never begun"));
    }

    #[test]
    fn stacks_resolve_against_the_modules_of_their_time() {
        let mut r = Replay::new(0, 7, 0, "prog".into());
        r.apply(&Record::Process {
            base_epoch: 1,
            pid: 7,
        });
        r.apply(&Record::Module {
            seq: 0,
            bias: 0x1000,
            start: 0x1000,
            end: 0x3000,
            build_id: b"ab",
            path: b"/lib/a.so",
        });
        let words: Vec<u8> = [0x1501u64, 0x9999]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        let frames = benchmem_wire::stacks::Words::from_bytes(&words);
        r.apply(&Record::Stack { id: 1, frames });
        r.apply(&Record::Module {
            seq: 1,
            bias: 0x800,
            start: 0x1000,
            end: 0x2000,
            build_id: b"",
            path: b"/lib/b.so",
        });
        r.apply(&Record::Stack { id: 2, frames });
        let img = r.finish(None);
        assert_eq!(
            img.stacks[1],
            vec![
                Frame::Native {
                    module: 0,
                    address: 0x500
                },
                Frame::Unmapped { address: 0x9998 }
            ]
        );
        assert_eq!(
            img.stacks[2][0],
            Frame::Native {
                module: 1,
                address: 0xd00
            }
        );
    }

    /// The replay's cost on its worst case for the peak split: a sawtooth that climbs
    /// slowly (alloc, alloc, free: a new maximum, then at once the first decrease after it,
    /// so every third record freezes a snapshot), over many stacks, with regions nested.
    /// Prints the cost per record (`cargo test --release -p benchmem-launcher --lib
    /// sawtooth -- --nocapture`) and checks that the state kept is one cell per stack and
    /// region, whatever the number of records.
    #[test]
    fn sawtooth_costs_constant_time_per_record_and_memory_per_stack() {
        const STACKS: u32 = 10_000;
        let cycles: usize = if cfg!(debug_assertions) {
            100_000
        } else {
            3_000_000
        };
        for depth in [0usize, 3] {
            let mut r = Replay::new(0, 7, 0, "prog".into());
            r.apply(&Record::Process {
                base_epoch: 1,
                pid: 7,
            });
            for d in 0..depth {
                r.apply(&begin(d as i32 + 1, 2 + d as u32, b"nest"));
            }
            let epoch = 1 + depth as u32;
            let mut live = std::collections::VecDeque::new();
            let (mut total, mut peak) = (0u64, 0u64);
            let started = std::time::Instant::now();
            let mut records = 0usize;
            for i in 0..cycles {
                for k in 0..2 {
                    let s = ((i * 2 + k) as u32 * 7919) % STACKS + 1;
                    let n = 64 + (s as u64 % 7) * 8;
                    r.apply(&a(s, n));
                    live.push_back((s, n));
                    total += n;
                    peak = peak.max(total);
                }
                let (s, n) = live.pop_front().unwrap();
                r.apply(&f(s, n, epoch));
                total -= n;
                records += 3;
            }
            let took = started.elapsed();
            let cells: usize = r.open.iter().map(|o| o.cells.len()).sum();
            assert_eq!(cells, STACKS as usize * (depth + 1));
            let img = r.finish(None);
            let root = img.samples.last().unwrap();
            assert_eq!(root.totals.peak_bytes, peak);
            sums_hold(root);
            eprintln!(
                "sawtooth, {STACKS} stacks, {depth} nested regions: {records} records in {took:?}, {:.1} ns per record",
                took.as_nanos() as f64 / records as f64
            );
        }
    }

    #[test]
    fn samples_per_name_are_capped() {
        let mut recs = Vec::new();
        for i in 0..(MAX_SAMPLES_PER_NAME as u32 + 10) {
            recs.push(begin(1, 2 + i, b"loop"));
            recs.push(a(1, 1));
            recs.push(end(1));
        }
        let img = replay(&recs);
        assert_eq!(img.omitted, 10);
        assert_eq!(img.samples.len(), MAX_SAMPLES_PER_NAME + 1);
    }
}
