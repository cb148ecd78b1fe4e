//! `--view timeline`: live bytes over time, one lane per process.

use serde_json::Value;

use super::model::LoadedRun;
use super::Picture;
use crate::error::Result;

/// Whether a saved run holds a timeline.
pub(crate) fn present(doc: &Value) -> bool {
    doc.get("benchmem")
        .and_then(|b| b.get("timeline"))
        .is_some()
}

/// Draw the timeline of the first run's repeat `repeat` (1-based).
pub(crate) fn draw(runs: &[LoadedRun], repeat: usize) -> Result<Picture> {
    let _ = (runs, repeat);
    Err("timeline: not yet".to_string().into())
}
