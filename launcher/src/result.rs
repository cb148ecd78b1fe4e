//! What a run produced: per-region series of samples, across processes and repeats.

use std::ops::{Deref, Range};
use std::sync::Arc;
use std::time::SystemTime;

pub use benchmem_wire::Stats;

use crate::incomplete::{Incomplete, Note};
pub use crate::timeline::{ProcessTimeline, RegionSpan};

/// Whether a series is a process's whole life or a region the program marked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SeriesKind {
    /// The root region of one process image (its whole tracked life).
    Root,
    /// A region marked through the region API.
    Region,
    /// The root region of a helper process: one that ran and ended before the command's
    /// own program started (the images a shim such as pyenv's went through, the `env`,
    /// `bash` and `readlink` it ran) and marked no region. Kept, but folded in tables.
    Helper,
}

/// One measurement of a region (a series keeps its samples in [`Samples`], column by
/// column; this is one of them as a value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    /// The four counters.
    pub stats: Stats,
    /// Wall time from region begin to end, in nanoseconds (None when unknown, e.g. killed).
    pub duration_ns: Option<u64>,
    /// Which repeat (0-based) produced it.
    pub repeat: usize,
    /// Process id that measured it.
    pub pid: u32,
    /// Why this sample is not a clean, closed measurement (None when it is).
    pub incomplete: Option<Incomplete>,
}

/// All samples of one region name (or one process's root), in the order measured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Series {
    /// Region name (lossily decoded if the program gave bytes that are not UTF-8).
    pub name: String,
    /// Root or marked region.
    pub kind: SeriesKind,
    /// Every sample, repeats and re-entries included.
    pub samples: Samples,
}

/// [`Samples::durations`]'s mark of a sample that was not timed.
const UNTIMED: u64 = u64::MAX;

/// The columns of a series, by [`Counter`]; durations last.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Columns([Vec<u64>; 5]);

/// Index of the duration column.
const DURATION: usize = 4;

/// One of a sample's four counters: a column of [`Samples`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Counter {
    /// [`Stats::peak_bytes`].
    Peak = 0,
    /// [`Stats::total_bytes`].
    Total = 1,
    /// [`Stats::allocations`].
    Allocations = 2,
    /// [`Stats::retained_bytes`].
    Retained = 3,
}

/// One counter of every sample of a series, shared: cloning it copies no sample, so the
/// command line's blob and table read the launcher's columns themselves. Also made from a
/// list of values (a series read back from a saved run).
#[derive(Clone)]
pub struct Column {
    columns: Arc<Columns>,
    which: usize,
}

impl Deref for Column {
    type Target = [u64];

    fn deref(&self) -> &[u64] {
        &self.columns.0[self.which]
    }
}

impl From<Vec<u64>> for Column {
    fn from(v: Vec<u64>) -> Column {
        Column {
            columns: Arc::new(Columns([v, Vec::new(), Vec::new(), Vec::new(), Vec::new()])),
            which: 0,
        }
    }
}

impl std::fmt::Debug for Column {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.deref().fmt(f)
    }
}

impl PartialEq for Column {
    fn eq(&self, other: &Column) -> bool {
        self.deref() == other.deref()
    }
}

impl Eq for Column {}

/// Every sample of one series, in the order measured, kept column by column: 40 bytes a
/// sample (the four counters and the wall time), whatever their number, plus one entry
/// per change of repeat or process and one per stretch of incomplete samples. A region
/// closed a million times in a loop costs the launcher 40 MB, not a struct per sample.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Samples {
    /// The four counters and the wall time in nanoseconds ([`UNTIMED`] when unknown).
    columns: Arc<Columns>,
    /// `(first sample, repeat, pid)` wherever the repeat or the process changes.
    origins: Vec<(usize, usize, u32)>,
    /// Stretches of incomplete samples and why, in order, disjoint; neighbours with the
    /// same reason are one stretch.
    incomplete: Vec<(Range<usize>, Incomplete)>,
}

impl Samples {
    /// No samples.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many samples.
    pub fn len(&self) -> usize {
        self.columns.0[0].len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a sample.
    pub fn push(&mut self, s: Sample) {
        let i = self.len();
        self.push_measured(&s.stats, s.duration_ns, s.repeat, s.pid);
        if let Some(why) = s.incomplete {
            self.mark_incomplete(i..i + 1, why);
        }
    }

    /// Appends a clean sample: its counters, wall time, repeat and process.
    pub fn push_measured(
        &mut self,
        stats: &Stats,
        duration_ns: Option<u64>,
        repeat: usize,
        pid: u32,
    ) {
        let i = self.len();
        // Not shared while the series grows (a clone would be copied here, once).
        let c = &mut Arc::make_mut(&mut self.columns).0;
        if i == c[0].capacity() {
            // A quarter more at a time: the columns never hold much more than they need.
            let more = (i / 4).max(16);
            for col in c.iter_mut() {
                col.reserve_exact(more);
            }
        }
        c[0].push(stats.peak_bytes);
        c[1].push(stats.total_bytes);
        c[2].push(stats.allocations);
        c[3].push(stats.retained_bytes);
        c[DURATION].push(duration_ns.filter(|&d| d != UNTIMED).unwrap_or(UNTIMED));
        if self
            .origins
            .last()
            .is_none_or(|&(_, r, p)| (r, p) != (repeat, pid))
        {
            self.origins.push((i, repeat, pid));
        }
    }

    /// Appends clean samples of one repeat and process, each its counters and wall time:
    /// the columns are made ready once for all of them.
    pub fn extend_measured(
        &mut self,
        samples: impl ExactSizeIterator<Item = (Stats, u64)>,
        repeat: usize,
        pid: u32,
    ) {
        let n = samples.len();
        if n == 0 {
            return;
        }
        let i = self.len();
        let c = &mut Arc::make_mut(&mut self.columns).0;
        if i + n > c[0].capacity() {
            let more = n.max(i / 4).max(16);
            for col in c.iter_mut() {
                col.reserve_exact(more);
            }
        }
        for (stats, d) in samples {
            c[0].push(stats.peak_bytes);
            c[1].push(stats.total_bytes);
            c[2].push(stats.allocations);
            c[3].push(stats.retained_bytes);
            // A wall time is never that long; the mark stays the mark of none.
            c[DURATION].push(d.min(UNTIMED - 1));
        }
        if self
            .origins
            .last()
            .is_none_or(|&(_, r, p)| (r, p) != (repeat, pid))
        {
            self.origins.push((i, repeat, pid));
        }
    }

    /// Gives back the room grown ahead of samples that did not come.
    pub fn shrink_to_fit(&mut self) {
        for c in &mut Arc::make_mut(&mut self.columns).0 {
            c.shrink_to_fit();
        }
        self.origins.shrink_to_fit();
    }

    /// Sample `i`.
    pub fn get(&self, i: usize) -> Option<Sample> {
        if i >= self.len() {
            return None;
        }
        let (repeat, pid) = self.origin(i);
        let incomplete = self
            .incomplete
            .iter()
            .find(|(r, _)| r.contains(&i))
            .map(|(_, why)| why.clone());
        Some(Sample {
            stats: self.stats(i),
            duration_ns: self.duration_ns(i),
            repeat,
            pid,
            incomplete,
        })
    }

    /// Every sample, in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            samples: self,
            i: 0,
            origin: 0,
            incomplete: 0,
        }
    }

    /// The counters of sample `i` (panics when out of range).
    pub fn stats(&self, i: usize) -> Stats {
        let c = &self.columns.0;
        Stats {
            peak_bytes: c[0][i],
            total_bytes: c[1][i],
            allocations: c[2][i],
            retained_bytes: c[3][i],
        }
    }

    /// The wall time of sample `i`, when it was timed (panics when out of range).
    pub fn duration_ns(&self, i: usize) -> Option<u64> {
        Some(self.columns.0[DURATION][i]).filter(|&d| d != UNTIMED)
    }

    /// Repeat and pid of sample `i` (panics when out of range).
    pub fn origin(&self, i: usize) -> (usize, u32) {
        let k = self.origins.partition_point(|&(first, _, _)| first <= i);
        let (_, repeat, pid) = self.origins[k - 1];
        (repeat, pid)
    }

    /// One counter of every sample, in order.
    pub fn counter(&self, c: Counter) -> &[u64] {
        &self.columns.0[c as usize]
    }

    /// One counter of every sample, shared (see [`Column`]).
    pub fn column(&self, c: Counter) -> Column {
        Column {
            columns: self.columns.clone(),
            which: c as usize,
        }
    }

    /// Every sample's wall time, None where it was not timed.
    pub fn durations(&self) -> impl ExactSizeIterator<Item = Option<u64>> + '_ {
        self.columns.0[DURATION]
            .iter()
            .map(|&d| Some(d).filter(|&d| d != UNTIMED))
    }

    /// The stretches of samples with one repeat and process: `(samples, repeat, pid)`.
    pub fn runs(&self) -> impl Iterator<Item = (Range<usize>, usize, u32)> + '_ {
        self.origins.iter().enumerate().map(|(k, &(first, r, p))| {
            let end = self.origins.get(k + 1).map_or(self.len(), |o| o.0);
            (first..end, r, p)
        })
    }

    /// The stretches of incomplete samples, and why, in order.
    pub fn incomplete(&self) -> impl Iterator<Item = (Range<usize>, &Incomplete)> + '_ {
        self.incomplete.iter().map(|(r, why)| (r.clone(), why))
    }

    /// How many samples are incomplete.
    pub fn incomplete_count(&self) -> usize {
        self.incomplete.iter().map(|(r, _)| r.len()).sum()
    }

    /// Marks the samples of `range` that are clean so far as incomplete for `why`.
    pub fn mark_incomplete(&mut self, range: Range<usize>, why: Incomplete) {
        let range = range.start..range.end.min(self.len());
        let mut gaps = Vec::new();
        let mut at = range.start;
        for (r, _) in &self.incomplete {
            if r.end <= at || r.start >= range.end {
                continue;
            }
            if r.start > at {
                gaps.push(at..r.start);
            }
            at = at.max(r.end);
        }
        if at < range.end {
            gaps.push(at..range.end);
        }
        if gaps.is_empty() {
            return;
        }
        self.incomplete
            .extend(gaps.into_iter().map(|g| (g, why.clone())));
        self.incomplete.sort_by_key(|(r, _)| r.start);
        let mut merged: Vec<(Range<usize>, Incomplete)> = Vec::with_capacity(self.incomplete.len());
        for (r, w) in self.incomplete.drain(..) {
            match merged.last_mut() {
                Some((last, lw)) if last.end == r.start && *lw == w => last.end = r.end,
                _ => merged.push((r, w)),
            }
        }
        self.incomplete = merged;
    }
}

/// The samples of a [`Samples`], in order, as values.
pub struct Iter<'a> {
    samples: &'a Samples,
    i: usize,
    origin: usize,
    incomplete: usize,
}

impl Iterator for Iter<'_> {
    type Item = Sample;

    fn next(&mut self) -> Option<Sample> {
        let s = self.samples;
        let i = self.i;
        if i >= s.len() {
            return None;
        }
        self.i += 1;
        while s.origins.get(self.origin + 1).is_some_and(|o| o.0 <= i) {
            self.origin += 1;
        }
        let (_, repeat, pid) = s.origins[self.origin];
        while s
            .incomplete
            .get(self.incomplete)
            .is_some_and(|(r, _)| r.end <= i)
        {
            self.incomplete += 1;
        }
        let incomplete = s
            .incomplete
            .get(self.incomplete)
            .filter(|(r, _)| r.contains(&i))
            .map(|(_, why)| why.clone());
        Some(Sample {
            stats: s.stats(i),
            duration_ns: s.duration_ns(i),
            repeat,
            pid,
            incomplete,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.samples.len() - self.i;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Samples {
    type Item = Sample;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl FromIterator<Sample> for Samples {
    fn from_iter<I: IntoIterator<Item = Sample>>(iter: I) -> Self {
        let mut out = Samples::new();
        for s in iter {
            out.push(s);
        }
        out
    }
}

impl From<Vec<Sample>> for Samples {
    fn from(v: Vec<Sample>) -> Self {
        v.into_iter().collect()
    }
}

/// How the command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Exited with this status.
    Code(i32),
    /// Killed by this signal.
    Signal(i32),
}

impl Exit {
    /// The status a shell would report: the code, or 128 + signal.
    pub fn status(self) -> i32 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal(s) => 128 + s,
        }
    }
}

/// One run of the command: an unmeasured warmup run or a measured repeat (0-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Round {
    /// The k-th warmup run.
    Warmup(usize),
    /// The k-th measured repeat.
    Repeat(usize),
}

/// A shell command run around every run of the command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    /// `--prepare`, before.
    Prepare,
    /// `--cleanup`, after.
    Cleanup,
}

/// Why a run stopped before all the repeats asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The command failed (non-zero status or killed) in this round.
    Failed {
        /// The round.
        round: Round,
        /// How the command ended.
        exit: Exit,
    },
    /// A `--prepare` or `--cleanup` command failed around this round.
    HookFailed {
        /// Which.
        hook: Hook,
        /// The round it ran around.
        round: Round,
        /// How the hook ended.
        exit: Exit,
    },
    /// benchmem received a signal during this round and passed it on.
    Interrupted {
        /// The round.
        round: Round,
    },
}

/// What a run has done so far, told to the observer of [`crate::run_observed`] as it
/// happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The round is about to start (its `--prepare` already ran).
    Started(Round),
    /// The round ended (its `--cleanup` already ran).
    Finished(Round),
}

/// Everything `benchmem run` measured.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// The command and its arguments as given.
    pub command: Vec<String>,
    /// Fresh runs of the command that actually ran: fewer than asked for when a failing
    /// repeat stopped the loop.
    pub repeats: usize,
    /// Series in order of first appearance.
    pub series: Vec<Series>,
    /// How the last repeat ended (benchmem exits with its status).
    pub exit: Exit,
    /// When the run started.
    pub started: SystemTime,
    /// Run-level problems worth telling the user (lost events, processes still running, ...).
    pub notes: Vec<Note>,
    /// Repeats asked for.
    pub asked: usize,
    /// Repeats (0-based) whose command failed and that were kept (`ignore_failure`),
    /// with how the command ended.
    pub failed: Vec<(usize, Exit)>,
    /// Why the run stopped before `asked` repeats, if it did.
    pub stopped: Option<Stop>,
    /// The name of the command's own process row (its last image), when it has one.
    pub main: Option<String>,
    /// Live bytes over time of every process of every repeat, with region spans.
    pub timeline: Vec<ProcessTimeline>,
    /// Each region's figures split by call stack, when the run recorded stacks.
    pub stacks: Option<crate::stacks::RunStacks>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SilentEnd;

    fn stats(v: u64) -> Stats {
        Stats {
            peak_bytes: v,
            total_bytes: v + 1,
            allocations: v + 2,
            retained_bytes: v + 3,
        }
    }

    #[test]
    fn samples_read_back_as_they_were_pushed() {
        let killed = Incomplete::Ended(SilentEnd::Killed { signal: 9 });
        let pushed: Vec<Sample> = (0..100u64)
            .map(|i| Sample {
                stats: stats(i),
                duration_ns: (i % 3 != 0).then_some(i * 10),
                repeat: (i / 50) as usize,
                pid: 7 + (i / 30) as u32,
                incomplete: (40..45).contains(&i).then(|| killed.clone()),
            })
            .collect();
        let s = Samples::from(pushed.clone());
        assert_eq!(s.len(), 100);
        assert_eq!(s.iter().collect::<Vec<_>>(), pushed);
        assert_eq!(s.get(42), Some(pushed[42].clone()));
        assert_eq!(s.get(100), None);
        assert_eq!(s.counter(Counter::Total)[5], 6);
        assert_eq!(
            &*s.column(Counter::Retained),
            &(3..103).collect::<Vec<u64>>()[..]
        );
        // Runs of one repeat and process: pid changes at 30, 60, 90, the repeat at 50.
        let runs: Vec<_> = s.runs().collect();
        assert_eq!(
            runs,
            [
                (0..30, 0, 7),
                (30..50, 0, 8),
                (50..60, 1, 8),
                (60..90, 1, 9),
                (90..100, 1, 10)
            ]
        );
        let stretches: Vec<_> = s.incomplete().map(|(r, _)| (r.start, r.end)).collect();
        assert_eq!(stretches, [(40, 45)]);
    }

    #[test]
    fn marking_keeps_earlier_reasons_and_merges_neighbours() {
        let mut s = Samples::new();
        s.extend_measured((0..10u32).map(|i| (stats(i as u64), i as u64)), 0, 1);
        let a = Incomplete::NamesFull;
        let b = Incomplete::SamplesLost { count: 2 };
        s.mark_incomplete(2..4, a.clone());
        s.mark_incomplete(0..10, b.clone());
        s.mark_incomplete(4..6, a.clone());
        let got: Vec<_> = s.incomplete().map(|(r, w)| (r, w.clone())).collect();
        assert_eq!(got, [(0..2, b.clone()), (2..4, a), (4..10, b)]);
        assert_eq!(s.incomplete_count(), 10);
    }
}
