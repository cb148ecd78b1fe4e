//! Turning region samples and process reports into per-region series.
//!
//! Marked regions merge by name across threads, processes and repeats. Root
//! regions stay one row per process: the k-th process image named `prog` in a repeat is
//! `prog` for k = 1 and `prog#k` after, so repeats line up.

use std::collections::{HashMap, HashSet};

use std::time::Duration;

use crate::collect::{Ending, ProcessReport};
use crate::incomplete::{Incomplete, Note, Problem, SilentEnd};
use crate::spawn::Ended;
use crate::{Exit, Sample, Samples, Series, SeriesKind, Stats};

/// Series under construction.
#[derive(Default)]
pub struct Aggregator {
    roots: Vec<Series>,
    regions: Vec<Series>,
    helpers: Vec<Series>,
    index: HashMap<(SeriesKind, String), usize>,
    /// (pid, image) of processes that closed regions in the current repeat.
    senders: HashSet<(u32, u32)>,
    notes: Vec<Note>,
}

/// The name as text: valid UTF-8 as is, every other byte as `\xNN`, so distinct byte
/// names stay distinct (a lossy decoding would merge `"\xff"` and `"\xfe"` into one series).
pub(crate) fn name_of(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out
}

impl Aggregator {
    fn series(&mut self, kind: SeriesKind, name: String) -> &mut Series {
        let i = self.series_index(kind, name);
        &mut self.list(kind)[i]
    }

    fn list(&mut self, kind: SeriesKind) -> &mut Vec<Series> {
        match kind {
            SeriesKind::Root => &mut self.roots,
            SeriesKind::Region => &mut self.regions,
            SeriesKind::Helper => &mut self.helpers,
        }
    }

    fn series_index(&mut self, kind: SeriesKind, name: String) -> usize {
        if let Some(&i) = self.index.get(&(kind, name.clone())) {
            return i;
        }
        let list = self.list(kind);
        list.push(Series {
            name: name.clone(),
            kind,
            samples: Samples::new(),
        });
        let i = list.len() - 1;
        self.index.insert((kind, name), i);
        i
    }

    /// The series of marked region `name` (raw bytes), made when it is new: a handle for
    /// [`Self::region_closed`].
    pub fn region(&mut self, name: &[u8]) -> usize {
        self.series_index(SeriesKind::Region, name_of(name))
    }

    /// Process (`pid`, `image`) closed regions in this repeat.
    pub fn closed_regions(&mut self, pid: u32, image: u32) {
        self.senders.insert((pid, image));
    }

    /// Closed regions' samples of one process, as they arrive: each its counters and wall
    /// time; `series` is from [`Self::region`].
    pub fn regions_closed(
        &mut self,
        series: usize,
        samples: impl ExactSizeIterator<Item = (Stats, u64)>,
        repeat: usize,
        pid: u32,
    ) {
        self.regions[series]
            .samples
            .extend_measured(samples, repeat, pid);
    }

    /// Process `pid` lost `count` samples of region `series` in `repeat` (its sample ring
    /// stayed full): the samples it did hand over are marked, so the series says it is
    /// short.
    pub fn region_samples_lost(&mut self, series: usize, repeat: usize, pid: u32, count: u64) {
        let samples = &mut self.regions[series].samples;
        let runs: Vec<_> = samples
            .runs()
            .filter(|&(_, r, p)| (r, p) == (repeat, pid))
            .map(|(range, _, _)| range)
            .collect();
        for range in runs {
            samples.mark_incomplete(range, Incomplete::SamplesLost { count });
        }
    }

    /// Adds the processes' own reports once a repeat is over; `name` renames the command's
    /// own process row. Returns the name of that row, when it has one.
    pub fn repeat_done(
        &mut self,
        repeat: usize,
        reports: Vec<ProcessReport>,
        ended: &Ended,
        linger: Duration,
        name: Option<&str>,
    ) -> Option<String> {
        if reports.is_empty() {
            self.note(Note::NotInterposed);
        }
        for &signal in &ended.forwarded {
            self.note(Note::SignalPassedOn { signal });
        }
        let pids = |detached: bool| -> Vec<u32> {
            ended
                .running
                .iter()
                .filter(|s| s.detached == detached)
                .map(|s| s.pid)
                .collect()
        };
        let (gone, stuck) = (pids(true), pids(false));
        if !gone.is_empty() {
            self.note(Note::Detached { pids: gone });
        }
        if !stuck.is_empty() {
            self.note(Note::Lingering {
                pids: stuck,
                linger,
            });
        }
        // The command's own program: the last image of its pid.
        let main = reports
            .iter()
            .filter(|p| p.pid == ended.pid)
            .max_by_key(|p| p.image)
            .map(|p| (p.pid, p.image, p.start_ns));
        let mut seen: HashMap<(SeriesKind, String), usize> = HashMap::new();
        if let Some(n) = name {
            // Taken: another process of that name is `NAME#2`, never merged into it.
            seen.insert((SeriesKind::Root, n.to_string()), 1);
        }
        let mut main_key = None;
        for p in reports {
            let marked = !p.open.is_empty() || self.senders.contains(&(p.pid, p.image));
            let transient = p.ending == Ending::Execed && p.root.allocations == 0 && !marked;
            if transient {
                continue; // a fork that only exec'd: nothing to show
            }
            let silent_end = silent_end(&p, ended, linger);
            let unmeasured = p.unmeasured.clone().map(Incomplete::Unmeasured);
            let names_full = p.problems.contains(&Problem::NamesFull);
            let incomplete = (p.ending == Ending::Silent)
                .then(|| Incomplete::Ended(silent_end.clone()))
                // A process whose malloc calls never reached benchmem.
                .or_else(|| unmeasured.clone())
                // Samples of regions it closed are missing, and which is not known.
                .or_else(|| names_full.then_some(Incomplete::NamesFull));
            let is_main = main.is_some_and(|(pid, image, _)| (p.pid, p.image) == (pid, image));
            let kind = match main {
                Some((pid, _, start))
                    if !is_main && !marked && incomplete.is_none() && helper(&p, pid, start) =>
                {
                    SeriesKind::Helper
                }
                _ => SeriesKind::Root,
            };
            let key = match name.filter(|_| is_main) {
                Some(n) => n.to_string(),
                None => {
                    let base = name_of(&p.name);
                    let k = seen.entry((kind, base.clone())).or_insert(0);
                    *k += 1;
                    if *k == 1 { base } else { format!("{base}#{k}") }
                }
            };
            if is_main {
                main_key = Some(key.clone());
            }
            self.series(kind, key).samples.push(Sample {
                stats: p.root,
                duration_ns: p.duration_ns,
                repeat,
                pid: p.pid,
                incomplete,
            });
            for r in p.open {
                let reason = Incomplete::NeverClosed(match p.ending {
                    Ending::Silent => Some(silent_end.clone()),
                    _ => None,
                });
                self.series(SeriesKind::Region, name_of(&r.name))
                    .samples
                    .push(Sample {
                        stats: r.stats,
                        duration_ns: r.duration_ns,
                        repeat,
                        pid: p.pid,
                        incomplete: Some(reason),
                    });
            }
            // (blind spots) Its closed regions' samples say as much as its row.
            if let Some(why) = &unmeasured {
                for r in &mut self.regions {
                    let runs: Vec<_> = r
                        .samples
                        .runs()
                        .filter(|&(_, rep, pid)| (rep, pid) == (repeat, p.pid))
                        .map(|(range, _, _)| range)
                        .collect();
                    for range in runs {
                        r.samples.mark_incomplete(range, why.clone());
                    }
                }
            }
            if p.lost_samples > 0 {
                self.note(Note::Process {
                    pid: p.pid,
                    problem: Problem::SamplesLost {
                        count: p.lost_samples,
                    },
                });
            }
            for problem in p.problems {
                self.note(Note::Process {
                    pid: p.pid,
                    problem,
                });
            }
        }
        self.senders.clear();
        main_key
    }

    pub(crate) fn note(&mut self, note: Note) {
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    /// Root rows first (in process start order), then marked regions in order of first
    /// sample, then helper processes.
    pub fn finish(mut self) -> (Vec<Series>, Vec<Note>) {
        for s in &mut self.regions {
            s.samples.shrink_to_fit();
        }
        self.roots.append(&mut self.regions);
        self.roots.append(&mut self.helpers);
        (self.roots, self.notes)
    }
}

/// Whether `p`, which marked no region and ended cleanly, is a helper of the command's own
/// program (the last image of pid `main`, which started at `main_start`): an earlier image
/// of that pid (what a shim exec'd through), or a process that ran and ended before the
/// program started (the `$(readlink ...)` of a shim script). Processes the program started
/// are never helpers: they are its work.
fn helper(p: &ProcessReport, main: u32, main_start: u64) -> bool {
    if p.pid == main {
        return true;
    }
    let ended = p.duration_ns.map(|d| p.start_ns.saturating_add(d));
    p.start_ns < main_start && ended.is_some_and(|end| end <= main_start)
}

/// How a process image that never said how it ended did end, as far as anyone saw.
fn silent_end(p: &ProcessReport, ended: &Ended, linger: Duration) -> SilentEnd {
    // The command's own status, or that of a descendant benchmem or its parent reaped:
    // they belong to the pid's last image, which is the silent one.
    let status = if p.pid == ended.pid {
        Some(match ended.exit {
            Exit::Code(c) => (c & 0xff) << 8,
            Exit::Signal(s) => s & 0x7f,
        })
    } else {
        ended.reaped.get(&p.pid).copied().or(p.reaped)
    };
    if let Some(st) = status {
        if libc::WIFSIGNALED(st) {
            return SilentEnd::Killed {
                signal: libc::WTERMSIG(st),
            };
        }
        // It exec'd what benchmem cannot enter; the exec record says what, when there is one.
        return p.unfollowed_exec().map_or(
            SilentEnd::ExitedUnseen {
                status: libc::WEXITSTATUS(st),
            },
            SilentEnd::Exec,
        );
    }
    if let Some(exec) = p.unfollowed_exec() {
        return SilentEnd::Exec(exec);
    }
    if let Some(s) = ended.running.iter().find(|s| s.pid == p.pid) {
        return if s.detached {
            SilentEnd::Detached
        } else {
            SilentEnd::Lingering { linger }
        };
    }
    if alive(p.pid) {
        // A descendant of a daemon: not our child, so not in `running`.
        return SilentEnd::Running;
    }
    SilentEnd::Vanished
}

/// Whether `pid` is a live process (not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Stats;

    /// A process image that allocated once and ended as `ending`, alive from `start` for
    /// `life` (ns).
    fn image(
        pid: u32,
        image: u32,
        name: &str,
        ending: Ending,
        start: u64,
        life: u64,
    ) -> ProcessReport {
        ProcessReport {
            pid,
            image,
            name: name.as_bytes().to_vec(),
            ending,
            start_ns: start,
            root: Stats {
                peak_bytes: 100,
                total_bytes: 100,
                allocations: 1,
                retained_bytes: 0,
            },
            duration_ns: Some(life),
            open: Vec::new(),
            lost_samples: 0,
            problems: Vec::new(),
            reaped: None,
            exec: None,
            unmeasured: None,
        }
    }

    fn names(series: &[Series], kind: SeriesKind) -> Vec<&str> {
        series
            .iter()
            .filter(|s| s.kind == kind)
            .map(|s| s.name.as_str())
            .collect()
    }

    #[test]
    fn a_shims_processes_are_helpers_and_the_programs_children_are_not() {
        let ended = Ended {
            exit: Exit::Code(0),
            pid: 10,
            reaped: HashMap::new(),
            running: Vec::new(),
            forwarded: Vec::new(),
        };
        // pid 10: env, then bash (the shim), then python; the shim's $(readlink) subshell
        // before python started; a bash started by python, after it started.
        let reports = vec![
            image(10, 0, "env", Ending::Execed, 0, 5),
            image(10, 1, "bash", Ending::Execed, 5, 20),
            image(11, 0, "readlink", Ending::Exited(0), 8, 4),
            image(10, 2, "python3", Ending::Exited(0), 25, 100),
            image(12, 0, "bash", Ending::Exited(0), 40, 10),
        ];
        let mut agg = Aggregator::default();
        let main = agg.repeat_done(0, reports, &ended, Duration::ZERO, Some("py"));
        assert_eq!(main.as_deref(), Some("py"));
        let (series, _) = agg.finish();
        assert_eq!(names(&series, SeriesKind::Root), ["py", "bash"]);
        assert_eq!(
            names(&series, SeriesKind::Helper),
            ["env", "bash", "readlink"]
        );
    }

    #[test]
    fn a_name_given_to_the_command_is_not_shared() {
        let ended = Ended {
            exit: Exit::Code(0),
            pid: 10,
            reaped: HashMap::new(),
            running: Vec::new(),
            forwarded: Vec::new(),
        };
        // The program forks a child of its own name: it stays a row apart.
        let reports = vec![
            image(10, 0, "bench", Ending::Exited(0), 0, 50),
            image(11, 0, "bench", Ending::Exited(0), 10, 5),
            image(12, 0, "worker", Ending::Exited(0), 20, 5),
        ];
        let mut agg = Aggregator::default();
        agg.repeat_done(0, reports, &ended, Duration::ZERO, Some("worker"));
        let (series, _) = agg.finish();
        assert_eq!(
            names(&series, SeriesKind::Root),
            ["worker", "bench", "worker#2"]
        );
    }

    #[test]
    fn lost_samples_mark_their_region_and_a_full_name_table_the_process() {
        let ended = Ended {
            exit: Exit::Code(0),
            pid: 10,
            reaped: HashMap::new(),
            running: Vec::new(),
            forwarded: Vec::new(),
        };
        let mut agg = Aggregator::default();
        let loop_ = agg.region(b"loop");
        let other = agg.region(b"other");
        let s = Stats {
            peak_bytes: 8,
            total_bytes: 8,
            allocations: 1,
            retained_bytes: 0,
        };
        agg.closed_regions(10, 0);
        agg.regions_closed(loop_, [(s, 5), (s, 6)].into_iter(), 0, 10);
        agg.regions_closed(other, [(s, 7)].into_iter(), 0, 10);
        agg.region_samples_lost(loop_, 0, 10, 3);
        let mut p = image(10, 0, "prog", Ending::Exited(0), 0, 50);
        p.lost_samples = 9;
        p.problems = vec![Problem::NamesFull];
        agg.repeat_done(0, vec![p], &ended, Duration::ZERO, None);
        let (series, notes) = agg.finish();
        let why = |name: &str| -> Vec<Option<Incomplete>> {
            let s = series.iter().find(|s| s.name == name).unwrap();
            s.samples.iter().map(|x| x.incomplete).collect()
        };
        let lost = Some(Incomplete::SamplesLost { count: 3 });
        assert_eq!(why("loop"), [lost.clone(), lost]);
        assert_eq!(why("other"), [None]);
        assert_eq!(why("prog"), [Some(Incomplete::NamesFull)]);
        assert!(notes.contains(&Note::Process {
            pid: 10,
            problem: Problem::SamplesLost { count: 9 }
        }));
        assert!(notes.contains(&Note::Process {
            pid: 10,
            problem: Problem::NamesFull
        }));
    }

    #[test]
    fn names_that_are_not_utf8_stay_distinct() {
        assert_eq!(name_of(b"load"), "load");
        assert_eq!(name_of("café".as_bytes()), "café");
        assert_eq!(name_of(b"\xff\xfe"), "\\xFF\\xFE");
        assert_ne!(name_of(b"\xff\xfe"), name_of(b"\xfe\xff"));
        assert_eq!(name_of(b"a\xc3"), "a\\xC3");
    }
}
