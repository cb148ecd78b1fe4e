//! `--view timeline`: what `benchmem run` recorded over time (`benchmem.timeline`), one
//! lane per process: live bytes as a step line (the readings), each region's span shaded
//! with its exact peak marked at `base + peak`, and the process's exact peak as a dashed
//! line (readings every few milliseconds can miss the top; the peak never does).

use std::fmt::Write;

use serde_json::Value;

use super::Picture;
use super::axis::{Kind, Scale};
use super::model::{LoadedRun, number};
use super::svg::{self, Axes, Entry, Frame, Mark, Svg, WIDTH, clip, esc};
use crate::blob::timeline::TIMELINE_KEY;
use crate::error::Result;
use crate::units::{Quantity, human};

const LANE: f64 = 230.0;

/// Whether a saved run holds a timeline.
pub(crate) fn present(doc: &Value) -> bool {
    timeline(doc).is_some()
}

fn timeline(doc: &Value) -> Option<&Vec<Value>> {
    doc.get("benchmem")?
        .get(TIMELINE_KEY)?
        .get("processes")?
        .as_array()
}

/// One region span as saved.
struct Span {
    name: String,
    begin: f64,
    end: f64,
    peak: f64,
    base: Option<f64>,
    closed: bool,
}

/// One process lane as saved.
struct Lane {
    name: String,
    pid: u64,
    start: f64,
    end: Option<f64>,
    peak: f64,
    points: Vec<(f64, f64)>,
    spans: Vec<Span>,
    omitted: u64,
}

fn parse(p: &Value, file: &str) -> Result<Lane> {
    let bad = |what: &str| {
        format!("{file}: benchmem.timeline: {what}; save the run again with `benchmem run --json`")
    };
    let u = |k: &str| p.get(k).and_then(Value::as_u64).map(|v| v as f64);
    let list = |k: &str| -> Result<Vec<f64>> {
        p.get(k)
            .and_then(Value::as_array)
            .ok_or_else(|| bad(&format!("a process has no '{k}' list")))?
            .iter()
            .map(|v| {
                v.as_u64()
                    .map(|x| x as f64)
                    .ok_or_else(|| bad(&format!("'{k}' holds {v}, not a whole number ≥ 0")))
            })
            .collect::<std::result::Result<_, _>>()
            .map_err(Into::into)
    };
    let (t, live) = (list("t_us")?, list("live_bytes")?);
    if t.len() != live.len() {
        return Err(bad("'t_us' and 'live_bytes' differ in length").into());
    }
    let spans = p
        .get("regions")
        .and_then(Value::as_array)
        .map(|rs| {
            rs.iter()
                .filter_map(|r| {
                    let g = |k: &str| r.get(k).and_then(Value::as_u64).map(|v| v as f64);
                    Some(Span {
                        name: r.get("name")?.as_str()?.to_string(),
                        begin: g("begin_us")?,
                        end: g("end_us")?,
                        peak: g("peak_bytes")?,
                        base: g("base_bytes"),
                        closed: r.get("closed").and_then(Value::as_bool).unwrap_or(true),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Lane {
        name: p
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string(),
        pid: p.get("pid").and_then(Value::as_u64).unwrap_or(0),
        start: u("start_us").unwrap_or(0.0),
        end: u("end_us"),
        peak: u("peak_bytes").ok_or_else(|| bad("a process has no 'peak_bytes'"))?,
        points: t.into_iter().zip(live).collect(),
        spans,
        omitted: p
            .get("regions_omitted")
            .and_then(Value::as_u64)
            .unwrap_or(0),
    })
}

/// Draw the timeline of the run's repeat `repeat` (1-based).
pub(crate) fn draw(runs: &[LoadedRun], repeat: usize) -> Result<Picture> {
    if runs.len() != 1 {
        return Err(format!(
            "--view timeline draws one run; got {} files: give one `benchmem run --json` file",
            runs.len()
        )
        .into());
    }
    let run = &runs[0];
    let file = run.run.path.display().to_string();
    let processes = timeline(&run.doc).ok_or_else(|| {
        format!(
            "{file}: no timeline in this run; `benchmem run --json FILE -- CMD` records one \
             (pytest-benchmark's runs have none)"
        )
    })?;
    let repeats = processes
        .iter()
        .filter_map(|p| p.get("repeat").and_then(Value::as_u64))
        .max()
        .unwrap_or(1) as usize;
    if repeat > repeats {
        return Err(format!("--repeat {repeat}: {file} holds {repeats} repeat(s)").into());
    }
    let lanes: Vec<Lane> = processes
        .iter()
        .filter(|p| p.get("repeat").and_then(Value::as_u64) == Some(repeat as u64))
        .map(|p| parse(p, &file))
        .collect::<Result<_>>()?;
    if lanes.is_empty() {
        return Err(format!("{file}: repeat {repeat} recorded no process").into());
    }
    let command = run
        .doc
        .get("benchmem")
        .and_then(|b| b.get("command"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| run.label.clone());
    let interval = run
        .doc
        .get("benchmem")
        .and_then(|b| b.get(TIMELINE_KEY))
        .and_then(|t| t.get("interval_ms"))
        .and_then(Value::as_u64)
        .unwrap_or(0);

    // Region names keep one colour across lanes.
    let mut names: Vec<String> = Vec::new();
    for l in &lanes {
        for s in &l.spans {
            if !names.contains(&s.name) {
                names.push(s.name.clone());
            }
        }
    }
    let t_end = lanes
        .iter()
        .flat_map(|l| {
            l.points
                .iter()
                .map(|p| p.0)
                .chain(l.end)
                .chain(l.spans.iter().map(|s| s.end))
        })
        .fold(0.0, f64::max);
    let secs = |us: f64| us / 1e6;
    let title = format!("Live memory over time: {}", clip(&command, 70));
    let subtitle = format!(
        "repeat {repeat} of {repeats}; one lane per process; shaded: regions, their exact peak marked; dashed: the process's exact peak{}",
        if interval > 0 {
            format!("; readings every {interval} ms")
        } else {
            String::new()
        }
    );
    let height = 70.0 + lanes.len() as f64 * LANE + 55.0;
    let mut s = Svg::new(height, &title, "timeline");
    s.heading(&title, &subtitle);
    let area = Frame {
        left: 0.0,
        top: 70.0,
        w: WIDTH - 190.0,
        h: lanes.len() as f64 * LANE,
    };
    let live_series = names.len();
    let peak_series = names.len() + 1;
    let mut count = 0;
    for (i, lane) in lanes.iter().enumerate() {
        let f = Frame {
            left: area.left + 92.0,
            top: area.top + i as f64 * LANE + 24.0,
            w: area.w - 106.0,
            h: LANE - 72.0,
        };
        let sx = Scale::fit(Kind::Linear, [0.0, secs(t_end)], true).onto(f.left, f.right());
        let tops = lane
            .points
            .iter()
            .map(|p| p.1)
            .chain([lane.peak])
            .chain(lane.spans.iter().map(|s| s.base.unwrap_or(0.0) + s.peak));
        let sy = Scale::fit(Kind::Linear, tops, true).onto(f.bottom(), f.top);
        let panel = format!("{} (pid {})", lane.name, lane.pid);
        svg::axes(
            &mut s,
            &f,
            &Axes {
                x: Some((&sx, Quantity::Seconds)),
                y: Some((&sy, Quantity::Bytes)),
                x_label: if i + 1 == lanes.len() {
                    "time since the repeat started"
                } else {
                    ""
                },
                y_label: "live bytes",
                panel: &panel,
            },
        );
        let mut out = String::new();
        for span in &lane.spans {
            let k = names.iter().position(|n| *n == span.name).unwrap_or(0);
            let (x0, x1) = (sx.px(secs(span.begin)), sx.px(secs(span.end)));
            let tip = format!(
                "{}{}\nfrom {} to {} ({})\npeak: {} above {} live at its start",
                span.name,
                if span.closed { "" } else { " (never closed)" },
                human(Quantity::Seconds, secs(span.begin)),
                human(Quantity::Seconds, secs(span.end)),
                human(Quantity::Seconds, secs(span.end - span.begin)),
                super::exact(crate::metrics::Metric::Peak, span.peak),
                span.base
                    .map_or_else(|| "unknown".to_string(), |b| human(Quantity::Bytes, b)),
            );
            let m = Mark {
                series: Some(k),
                id: &span.name,
                run: &lane.name,
                value: span.peak,
                tip: &tip,
            };
            let base = span
                .base
                .map_or_else(String::new, |b| format!(" data-base=\"{}\"", number(b)));
            let _ = write!(
                out,
                "<rect{}{base} data-kind=\"region\" data-pid=\"{}\" data-begin-us=\"{}\" data-end-us=\"{}\" \
                 x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\" fill-opacity=\"0.16\" \
                 stroke=\"{}\" stroke-opacity=\"0.5\">{}</rect>",
                m.attrs(),
                lane.pid,
                number(span.begin),
                number(span.end),
                f.top,
                (x1 - x0).max(1.0),
                f.h,
                svg::color(k),
                svg::color(k),
                m.title()
            );
            // The region's peak where it stands on the process's curve.
            let y = sy.px(span.base.unwrap_or(0.0) + span.peak);
            let _ = write!(
                out,
                "<g data-series=\"{k}\"><line x1=\"{x0:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{}\" stroke-width=\"2\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" class=\"tk\">{}</text></g>",
                x0 + (x1 - x0).max(1.0),
                svg::color(k),
                x0 + 3.0,
                y - 4.0,
                esc(&clip(
                    &format!(
                        "{} {}",
                        span.name,
                        super::axis::trim(&human(Quantity::Bytes, span.peak))
                    ),
                    ((x1 - x0) / 6.5).max(6.0) as usize
                ))
            );
            count += 1;
        }
        // Step line: a reading holds until the next one.
        let mut path = String::new();
        let mut prev: Option<f64> = None;
        for (t, v) in &lane.points {
            let (x, y) = (sx.px(secs(*t)), sy.px(*v));
            if let Some(py) = prev {
                let _ = write!(path, " {x:.1},{py:.1}");
            }
            let _ = write!(path, " {x:.1},{y:.1}");
            prev = Some(y);
        }
        let _ = write!(
            out,
            "<polyline class=\"series live\" data-series=\"{live_series}\" data-count=\"{}\" points=\"{}\" \
             fill=\"none\" stroke=\"#222\" stroke-width=\"1.6\"/>",
            lane.points.len(),
            path.trim()
        );
        let y = sy.px(lane.peak);
        let at = lane
            .points
            .iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(lane.start, |p| p.0);
        let tip = format!(
            "{} (pid {})\nexact peak: {}",
            lane.name,
            lane.pid,
            super::exact(crate::metrics::Metric::Peak, lane.peak)
        );
        let m = Mark {
            series: Some(peak_series),
            id: &lane.name,
            run: &lane.name,
            value: lane.peak,
            tip: &tip,
        };
        let _ = write!(
            out,
            "<g data-series=\"{peak_series}\"><line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#d62728\" \
             stroke-dasharray=\"5 4\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" class=\"tk\">peak {}</text></g>\
             <circle{} data-kind=\"peak\" data-pid=\"{}\" cx=\"{:.1}\" cy=\"{y:.1}\" r=\"4.5\" fill=\"#d62728\">{}</circle>",
            f.left,
            f.right(),
            f.right() - 4.0,
            y - 4.0,
            esc(&super::axis::trim(&human(Quantity::Bytes, lane.peak))),
            m.attrs(),
            lane.pid,
            sx.px(secs(at)),
            m.title()
        );
        s.raw(&out);
        count += 1;
    }
    let mut entries: Vec<Entry> = names
        .iter()
        .enumerate()
        .map(|(k, n)| Entry {
            series: k,
            label: n.clone(),
            color: svg::color(k).to_string(),
        })
        .collect();
    entries.push(Entry {
        series: live_series,
        label: "live bytes".into(),
        color: "#222".into(),
    });
    entries.push(Entry {
        series: peak_series,
        label: "exact peak".into(),
        color: "#d62728".into(),
    });
    svg::legend(&mut s, WIDTH - 175.0, 96.0, "regions", &entries);
    let mut caption = vec!["live bytes: exact bytes requested and not yet freed, read from outside the program; hover for exact values".to_string()];
    let omitted: u64 = lanes.iter().map(|l| l.omitted).sum();
    if omitted > 0 {
        caption.insert(
            0,
            format!("{omitted} region span(s) not drawn: the run keeps the 500 with the highest peaks per process"),
        );
    }
    s.caption(&caption);
    Ok(Picture {
        svg: s.finish(),
        title,
        summary: format!("{} process(es), {} marks", lanes.len(), count),
    })
}
