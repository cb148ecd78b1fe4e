//! Turning region samples and process reports into per-region series.
//!
//! Marked regions merge by name across threads, processes and repeats. Root
//! regions stay one row per process: the k-th process image named `prog` in a repeat is
//! `prog` for k = 1 and `prog#k` after, so repeats line up.

use std::collections::{HashMap, HashSet};

use std::time::Duration;

use crate::collect::{Ending, ProcessReport};
use crate::rundir::RegionEvent;
use crate::spawn::Ended;
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
        ended: &Ended,
        linger: Duration,
    ) {
        if reports.is_empty() {
            self.note("no process reported to benchmem: the program was not interposed (is LD_PRELOAD stripped, or an interpreter statically linked?)".into());
        }
        for sig in &ended.forwarded {
            self.note(format!(
                "benchmem received {} and passed it on to the command",
                signal_name(*sig)
            ));
        }
        if !ended.running.is_empty() {
            let list = |detached: bool| {
                ended
                    .running
                    .iter()
                    .filter(|s| s.detached == detached)
                    .map(|s| s.pid.to_string())
                    .collect::<Vec<_>>()
            };
            let (gone, stuck) = (list(true), list(false));
            if !gone.is_empty() {
                self.note(format!(
                    "{} process(es) left the session (daemons) and were not waited for: pid {}; \
                     their rows are measured up to benchmem's return",
                    gone.len(),
                    gone.join(", ")
                ));
            }
            if !stuck.is_empty() {
                self.note(format!(
                    "{} process(es) were still running when benchmem stopped waiting, {} s \
                     after the command ended: pid {}; their rows are incomplete",
                    stuck.len(),
                    linger.as_secs_f64(),
                    stuck.join(", ")
                ));
            }
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
            let silent_reason = silent_reason(&p, ended, linger);
            let unmeasured = p.unmeasured_reason();
            let incomplete = (p.ending == Ending::Silent)
                .then(|| silent_reason.clone())
                // A process whose malloc calls never reached benchmem.
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

/// How a process image that never said how it ended did end, as far as anyone saw.
fn silent_reason(p: &ProcessReport, ended: &Ended, linger: Duration) -> String {
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
            return format!(
                "killed by {}: measured up to then",
                signal_name(libc::WTERMSIG(st))
            );
        }
        // It exec'd what benchmem cannot enter; the exec record says what, when there is one.
        return p.exec_reason().unwrap_or_else(|| {
            format!(
                "exited (status {}) without a word to benchmem: it exec'd a program benchmem \
                 cannot enter (statically linked, setuid, another architecture) or one started \
                 without LD_PRELOAD; measured up to the exec",
                libc::WEXITSTATUS(st)
            )
        });
    }
    if let Some(why) = p.exec_reason() {
        return why;
    }
    if let Some(s) = ended.running.iter().find(|s| s.pid == p.pid) {
        return if s.detached {
            "still running when benchmem returned (it left the session, as daemons do): \
             measured up to then"
                .into()
        } else {
            format!(
                "still running when benchmem stopped waiting, {} s after the command ended: \
                 measured up to then",
                linger.as_secs_f64()
            )
        };
    }
    if alive(p.pid) {
        // A descendant of a daemon: not our child, so not in `running`.
        return "still running when benchmem returned: measured up to then".into();
    }
    "ended without a word to benchmem, reaped by a parent benchmem does not see (killed, \
     crashed, or it exec'd a program benchmem cannot enter): measured up to then"
        .into()
}

/// Whether `pid` is a live process (not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X'))
    })
}

/// `SIGTERM (signal 15)`: the name people grep for, and the number.
pub fn signal_name(sig: i32) -> String {
    const NAMES: [&str; 31] = [
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    match usize::try_from(sig)
        .ok()
        .and_then(|i| NAMES.get(i.wrapping_sub(1)))
    {
        Some(name) => format!("{name} (signal {sig})"),
        None => format!("signal {sig}"),
    }
}

#[cfg(test)]
mod tests {
    use super::{name_of, signal_name};

    #[test]
    fn signals_by_name() {
        assert_eq!(signal_name(15), "SIGTERM (signal 15)");
        assert_eq!(signal_name(13), "SIGPIPE (signal 13)");
        assert_eq!(signal_name(1), "SIGHUP (signal 1)");
        assert_eq!(signal_name(31), "SIGSYS (signal 31)");
        assert_eq!(signal_name(34), "signal 34");
        assert_eq!(signal_name(0), "signal 0");
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
