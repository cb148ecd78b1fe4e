//! `benchmem.timeline` in a saved run: live bytes over time per process, with its region
//! spans, as `benchmem plot --view timeline` draws them.
//!
//! ```json
//! {"interval_ms": 2, "processes": [{"repeat": 1, "pid": 4242, "image": 0, "name": "churn",
//!   "start_us": 310, "end_us": 19850, "peak_bytes": 3997696,
//!   "t_us": [310, 2400, ...], "live_bytes": [0, 1048576, ...],
//!   "regions": [{"name": "build_list", "begin_us": 400, "end_us": 9100,
//!                "peak_bytes": 3996800, "base_bytes": 1024, "closed": true}]}]}
//! ```
//!
//! Times are microseconds since the repeat started; `t_us`/`live_bytes` are parallel
//! arrays of at most 2,000 readings (thinned keeping every stretch's extremes);
//! `peak_bytes` are exact (the process's root region, each region's own peak above
//! `base_bytes`, the live bytes when it began, absent when unknown). At most 500 region
//! spans per process are kept, those with the highest peaks; `regions_omitted` counts the
//! others.

use benchmem_launcher::ProcessTimeline;
use serde_json::{Value, json};

/// Key of the timeline in benchmem's run description.
pub const TIMELINE_KEY: &str = "timeline";

/// The timeline of a run as saved.
pub fn to_json(processes: &[ProcessTimeline], interval_ms: u64) -> Value {
    let us = |ns: u64| ns / 1000;
    let processes: Vec<Value> = processes
        .iter()
        .map(|p| {
            let regions: Vec<Value> = p
                .regions
                .iter()
                .map(|r| {
                    let mut v = json!({"name": r.name, "begin_us": us(r.begin_ns),
                        "end_us": us(r.end_ns), "peak_bytes": r.peak_bytes, "closed": r.closed});
                    if let Some(b) = r.base_bytes {
                        v["base_bytes"] = b.into();
                    }
                    v
                })
                .collect();
            let mut v = json!({
                "repeat": p.repeat + 1,
                "pid": p.pid,
                "image": p.image,
                "name": p.name,
                "start_us": us(p.start_ns),
                "peak_bytes": p.peak_bytes,
                "t_us": p.points.iter().map(|q| us(q.0)).collect::<Vec<_>>(),
                "live_bytes": p.points.iter().map(|q| q.1).collect::<Vec<_>>(),
                "regions": regions,
            });
            if let Some(e) = p.end_ns {
                v["end_us"] = us(e).into();
            }
            if p.regions_omitted > 0 {
                v["regions_omitted"] = p.regions_omitted.into();
            }
            v
        })
        .collect();
    json!({"interval_ms": interval_ms, "processes": processes})
}
