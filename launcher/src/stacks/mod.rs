//! Call-site attribution (`run --stacks`): each process image streams its allocations,
//! frees, region boundaries and new stacks through a ring (`benchmem_wire::stacks`); the
//! launcher drains the rings while the command runs ([`drain`]), replays each stream into
//! per-region, per-stack figures ([`replay`]) and lines the replayed samples up with the
//! series the region samples made, so every figure of the table can be split by stack.
//! Frames stay raw addresses here: the cli symbolizes them after the run.

mod drain;
mod replay;

use std::collections::{HashMap, VecDeque};

pub(crate) use drain::Drainer;
pub use replay::{
    Frame, ImageStacks, MAX_SAMPLES_PER_NAME, Module, PyCode, Replay, SiteFigures, StackSample,
};

use crate::{Series, SeriesKind};

/// The stack data of a run: every process image's replay, and which replayed sample splits
/// which sample of the run's series.
#[derive(Clone, Debug, Default)]
pub struct RunStacks {
    /// Every process image of every repeat.
    pub images: Vec<ImageStacks>,
    /// For each series of [`crate::RunResult::series`], for each of its samples: the
    /// (image, sample) of [`RunStacks::images`] that splits it, when there is one.
    pub by_sample: Vec<Vec<Option<(usize, usize)>>>,
    /// Why the stack data is not whole, or does not agree with the samples: one line each.
    /// The run's own figures stay valid.
    pub notes: Vec<String>,
}

impl RunStacks {
    /// The replayed sample that splits sample `j` of series `i`.
    pub fn split(&self, i: usize, j: usize) -> Option<(&ImageStacks, &StackSample)> {
        let (im, s) = (*self.by_sample.get(i)?.get(j)?)?;
        let img = self.images.get(im)?;
        Some((img, img.samples.get(s)?))
    }
}

/// Lines the replayed samples up with the series' samples, by repeat, process and name
/// (a root region by process alone), in order, preferring the one whose figures agree.
pub fn attach(images: Vec<ImageStacks>, series: &[Series]) -> RunStacks {
    type Key = (usize, u32, bool, String);
    let mut pending: HashMap<Key, VecDeque<(usize, usize)>> = HashMap::new();
    let mut notes = Vec::new();
    for (im, img) in images.iter().enumerate() {
        for (k, s) in img.samples.iter().enumerate() {
            let name = if s.root {
                String::new()
            } else {
                s.name.clone()
            };
            pending
                .entry((img.repeat, img.pid, s.root, name))
                .or_default()
                .push_back((im, k));
        }
        if let Some(why) = &img.incomplete {
            notes.push(format!("stack data incomplete: {why}"));
        }
        if img.omitted > 0 {
            notes.push(format!(
                "stack data kept for the first {MAX_SAMPLES_PER_NAME} samples of each region in process {}; {} later samples have none",
                img.pid, img.omitted
            ));
        }
    }
    let mut differ = Vec::new();
    let by_sample = series
        .iter()
        .map(|se| {
            let root = se.kind != SeriesKind::Region;
            se.samples
                .iter()
                .map(|s| {
                    let name = if root { String::new() } else { se.name.clone() };
                    let q = pending.get_mut(&(s.repeat, s.pid, root, name))?;
                    let found = q
                        .iter()
                        .position(|&(im, k)| images[im].samples[k].totals == s.stats);
                    match found {
                        Some(p) => q.remove(p),
                        None => {
                            let got = q.pop_front();
                            if let Some((im, k)) = got {
                                differ.push((
                                    se.name.clone(),
                                    s.pid,
                                    images[im].samples[k].totals,
                                    s.stats,
                                ));
                            }
                            got
                        }
                    }
                })
                .collect::<Vec<_>>()
        })
        .collect::<Vec<_>>();
    let missing = by_sample.iter().flatten().filter(|x| x.is_none()).count();
    if missing > 0 {
        notes.push(format!(
            "{missing} samples have no stack data (their process recorded none, or not all of it)"
        ));
    }
    if let Some((name, pid, got, want)) = differ.first() {
        notes.push(format!(
            "stack figures of {} samples differ from the samples measured (first: `{name}` in process {pid}: peak {} vs {}, allocated {} vs {}, allocations {} vs {}, retained {} vs {})",
            differ.len(),
            got.peak_bytes,
            want.peak_bytes,
            got.total_bytes,
            want.total_bytes,
            got.allocations,
            want.allocations,
            got.retained_bytes,
            want.retained_bytes
        ));
    }
    RunStacks {
        images,
        by_sample,
        notes,
    }
}
