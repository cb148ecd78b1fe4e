//! Turning region samples and process reports into per-region series.
//!
//! Marked regions merge by name across threads, processes and repeats (SPEC §3). Root
//! regions stay one row per process: the k-th process image named `prog` in a repeat is
//! `prog` for k = 1 and `prog#k` after, so repeats line up.

use std::collections::{HashMap, HashSet};

use crate::collect::{Ending, ProcessReport};
use crate::rundir::RegionEvent;
use crate::{Exit, Sample, Series, SeriesKind};

/// Series under construction.
#[derive(Default)]
pub struct Aggregator {
    roots: Vec<Series>,
    regions: Vec<Series>,
    index: HashMap<(SeriesKind, String), usize>,
    /// (pid, image) of processes that sent samples in the current repeat.
    senders: HashSet<(u32, u32)>,
    notes: Vec<String>,
}

/// The name as text: valid UTF-8 as is, every other byte as `\xNN`, so distinct byte
/// names stay distinct (a lossy decoding would merge `"\xff"` and `"\xfe"` into one series).
fn name_of(bytes: &[u8]) -> String {
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
        let list = match kind {
            SeriesKind::Root => &mut self.roots,
            SeriesKind::Region => &mut self.regions,
        };
        let i = *self.index.entry((kind, name.clone())).or_insert_with(|| {
            list.push(Series {
                name,
                kind,
                samples: Vec::new(),
            });
            list.len() - 1
        });
        &mut list[i]
    }

    /// A closed region's sample, as it arrives.
    pub fn region_ended(&mut self, repeat: usize, ev: RegionEvent) {
        self.senders.insert((ev.pid, ev.image));
        let sample = Sample {
            stats: ev.stats,
            duration_ns: Some(ev.duration_ns),
            repeat,
            pid: ev.pid,
            incomplete: None,
        };
        self.series(SeriesKind::Region, name_of(&ev.name))
            .samples
            .push(sample);
    }

    /// Adds the processes' own reports once a repeat is over.
    pub fn repeat_done(
        &mut self,
        repeat: usize,
        reports: Vec<ProcessReport>,
        main_pid: u32,
        exit: Exit,
        stragglers: usize,
    ) {
        if reports.is_empty() {
            self.note("no process reported to benchmem: the program was not interposed (is LD_PRELOAD stripped, or an interpreter statically linked?)".into());
        }
        if stragglers > 0 {
            self.note(format!("{stragglers} process(es) were still running when benchmem stopped waiting; their rows are incomplete"));
        }
        let mut seen: HashMap<String, usize> = HashMap::new();
        for p in reports {
            let transient = p.ending == Ending::Execed
                && p.root.allocations == 0
                && p.open.is_empty()
                && !self.senders.contains(&(p.pid, p.image));
            if transient {
                continue; // a fork that only exec'd: nothing to show
            }
            let base = name_of(&p.name);
            let k = seen.entry(base.clone()).or_insert(0);
            *k += 1;
            let key = if *k == 1 { base } else { format!("{base}#{k}") };
            // Used for silent images only: of a main pid that exec'd, earlier images ended
            // by exec, so the silent one is the image the signal killed.
            // (blind spots) An image that exec'd a program benchmem cannot follow says which.
            let silent_reason = match p.exec_reason() {
                Some(r) => r,
                None => match exit {
                    Exit::Signal(s) if p.pid == main_pid => {
                        format!("killed by signal {s}: measured up to then")
                    }
                    _ if stragglers > 0 => {
                        "still running (or killed) when benchmem stopped waiting".into()
                    }
                    _ => {
                        "ended without a word to benchmem (killed, crashed, or it exec'd a program \
                      benchmem cannot enter: statically linked or setuid): measured up to then"
                            .into()
                    }
                },
            };
            let unmeasured = p.unmeasured_reason();
            let incomplete = (p.ending == Ending::Silent)
                .then(|| silent_reason.clone())
                // (blind spots) A process whose malloc calls never reached benchmem.
                .or_else(|| unmeasured.clone());
            self.series(SeriesKind::Root, key).samples.push(Sample {
                stats: p.root,
                duration_ns: p.duration_ns,
                repeat,
                pid: p.pid,
                incomplete,
            });
            for r in p.open {
                let reason = match p.ending {
                    Ending::Silent => format!("region never closed: {silent_reason}"),
                    _ => "region never closed: measured up to the process's exit".into(),
                };
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
                for s in self.regions.iter_mut().flat_map(|r| r.samples.iter_mut()) {
                    if s.repeat == repeat && s.pid == p.pid && s.incomplete.is_none() {
                        s.incomplete = Some(why.clone());
                    }
                }
            }
            if p.dropped_events > 0 {
                self.note(format!(
                    "pid {}: {} region sample(s) lost: benchmem could not receive them",
                    p.pid, p.dropped_events
                ));
            }
            for problem in p.problems {
                self.note(format!("pid {}: {problem}", p.pid));
            }
        }
        self.senders.clear();
    }

    pub(crate) fn note(&mut self, s: String) {
        if !self.notes.contains(&s) {
            self.notes.push(s);
        }
    }

    /// Root rows first (in process start order), then marked regions in order of first sample.
    pub fn finish(mut self) -> (Vec<Series>, Vec<String>) {
        self.roots.append(&mut self.regions);
        (self.roots, self.notes)
    }
}

#[cfg(test)]
mod tests {
    use super::name_of;

    #[test]
    fn names_that_are_not_utf8_stay_distinct() {
        assert_eq!(name_of(b"load"), "load");
        assert_eq!(name_of("café".as_bytes()), "café");
        assert_eq!(name_of(b"\xff\xfe"), "\\xFF\\xFE");
        assert_ne!(name_of(b"\xff\xfe"), name_of(b"\xfe\xff"));
        assert_eq!(name_of(b"a\xc3"), "a\\xC3");
    }
}
