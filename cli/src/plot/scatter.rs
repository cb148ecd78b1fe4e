//! `--view scatter`: each benchmark's base value (x, log) against its ratio head/base
//! (y, log), a dashed line at 1, growth red and shrinkage green. With more than two runs
//! every later run is a panel of its own against the base (small multiples where
//! pytest-benchmem animates).

use std::fmt::Write;

use super::axis::{Kind, Scale, fold};
use super::model::{Data, Point, number};
use super::options::{FreeAxes, PlotArgs};
use super::svg::{self, Axes, Entry, Frame, GROWTH, Mark, SAME, SHRINK, Svg, WIDTH};
use super::{Picture, capitalize, exact, metric_label};
use crate::error::Result;

/// A panel: the later series and the facet value.
type PanelKey = (usize, String);
/// A benchmark's base point and its point in the later series.
type Pair<'a> = (&'a Point, &'a Point);

/// Draw the scatter view of `data`.
pub(crate) fn draw(data: &Data, args: &PlotArgs) -> Result<Picture> {
    if data.series.len() < 2 {
        return Err(match &data.pivot {
            Some(p) => format!("--view scatter --pivot {p}: the run has only one value of '{p}'; nothing to compare"),
            None => "--view scatter needs two runs or more (the first is the base), or one run and --pivot NAME".to_string(),
        }
        .into());
    }
    if let Some(f) = &args.facet {
        data.require_dim("--facet", f)?;
    }
    let base_label = &data.series[0];
    let facet_of = |p: &Point| {
        args.facet.as_ref().map_or_else(String::new, |f| {
            p.dims.get(f).map_or_else(|| "(none)".into(), |v| v.text())
        })
    };
    // (later series, facet value) → pairs of (base, point).
    let mut panels: Vec<(PanelKey, Vec<Pair>)> = Vec::new();
    let mut zero_base = 0;
    let mut unpaired = 0;
    for k in 1..data.series.len() {
        for p in data.points.iter().filter(|p| p.series == k) {
            let Some(base) = data.get(0, &p.id) else {
                unpaired += 1;
                continue;
            };
            if base.value <= 0.0 || p.value <= 0.0 {
                zero_base += 1;
                continue;
            }
            let key = (k, facet_of(p));
            match panels.iter_mut().find(|(kk, _)| *kk == key) {
                Some((_, v)) => v.push((base, p)),
                None => panels.push((key, vec![(base, p)])),
            }
        }
    }
    if panels.is_empty() {
        return Err(format!(
            "--view scatter: no benchmark of the later runs has a base value above 0 in {base_label}"
        )
        .into());
    }
    panels.sort_by(|a, b| {
        a.0.0
            .cmp(&b.0.0)
            .then_with(|| super::model::natural(&a.0.1, &b.0.1))
    });
    let ratios =
        |v: &[(&Point, &Point)]| -> Vec<f64> { v.iter().map(|(b, p)| p.value / b.value).collect() };
    let bound_of = |rs: &[f64]| {
        let hi = rs.iter().copied().fold(1.0, f64::max);
        let lo = rs.iter().copied().fold(1.0, f64::min);
        hi.max(1.0 / lo).max(1.1).powf(1.05)
    };
    let all_pairs: Vec<(&Point, &Point)> =
        panels.iter().flat_map(|(_, v)| v.iter().copied()).collect();
    let shared_bound = bound_of(&ratios(&all_pairs));
    let shared_x = Scale::fit(Kind::Log, all_pairs.iter().map(|(b, _)| b.value), false);
    let free_x = matches!(args.free_axes, Some(FreeAxes::X | FreeAxes::Both));
    let free_y = matches!(args.free_axes, Some(FreeAxes::Y | FreeAxes::Both));

    let rows = panels.len().div_ceil(3);
    let panel_h = if panels.len() == 1 { 470.0 } else { 320.0 };
    let vlabel = metric_label(data.metric);
    let later: Vec<&str> = data.series[1..].iter().map(String::as_str).collect();
    let title = format!(
        "{} of {} against {base_label}",
        capitalize(vlabel),
        later.join(", ")
    );
    let subtitle = format!(
        "{} over repeats; above 1 = grew, top-right = large and grown; red = growth, green = shrinkage",
        data.stat.name()
    );
    let mut caption = Vec::new();
    if zero_base + unpaired > 0 {
        caption.push(format!(
            "not drawn: {unpaired} not in {base_label}, {zero_base} with a value of 0 (no ratio on a log axis)"
        ));
    }
    caption.push(
        "hover a point for both values; click a legend entry to hide growth or shrinkage (HTML)"
            .into(),
    );
    let height = 70.0 + rows as f64 * panel_h + 24.0 + 15.0 * caption.len() as f64;
    let mut s = Svg::new(height, &title, "scatter");
    s.heading(&title, &subtitle);
    let area = Frame {
        left: 0.0,
        top: 70.0,
        w: WIDTH - 180.0,
        h: rows as f64 * panel_h,
    };
    let frames = svg::facet_grid(panels.len(), area, (96.0, 26.0, 14.0, 50.0));
    let q = data.metric.quantity();
    let x_label = format!("{base_label}: {vlabel}, {} (log)", data.stat.name());
    let mut count = 0;
    for (((k, fv), pairs), f) in panels.iter().zip(&frames) {
        let sx = if free_x {
            Scale::fit(Kind::Log, pairs.iter().map(|(b, _)| b.value), false)
        } else {
            shared_x
        }
        .onto(f.left, f.right());
        let bound = if free_y {
            bound_of(&ratios(pairs))
        } else {
            shared_bound
        };
        let sy = Scale {
            kind: Kind::Log,
            lo: 1.0 / bound,
            hi: bound,
            from: f.bottom(),
            to: f.top,
        };
        let mut panel = if data.series.len() > 2 {
            format!("{} vs {base_label}", data.series[*k])
        } else {
            String::new()
        };
        if let Some(d) = &args.facet {
            if !panel.is_empty() {
                panel.push_str(", ");
            }
            let _ = write!(panel, "{d}={fv}");
        }
        let y_label = format!("ratio {} / {base_label} (log)", data.series[*k]);
        svg::axes(
            &mut s,
            f,
            &Axes {
                x: Some((&sx, q)),
                y: None,
                x_label: &x_label,
                y_label: &y_label,
                panel: &panel,
            },
        );
        for r in ratio_ticks(bound) {
            let y = sy.px(r);
            s.line(f.left, y, f.right(), y, "class=\"grid\"");
            s.text(f.left - 6.0, y + 4.0, "end", "tk", &fold(r));
        }
        let one = sy.px(1.0);
        s.line(
            f.left,
            one,
            f.right(),
            one,
            "stroke=\"#777\" stroke-dasharray=\"5 4\"",
        );
        let mut out = String::new();
        for (b, p) in pairs {
            let r = p.value / b.value;
            let (series, fill) = if r > 1.0 {
                (0, GROWTH)
            } else if r < 1.0 {
                (1, SHRINK)
            } else {
                (2, SAME)
            };
            let tip = format!(
                "{}\n{base_label}: {}\n{}: {}\nratio: {} ({:+.1}%)",
                p.id,
                exact(data.metric, b.value),
                data.series[*k],
                exact(data.metric, p.value),
                fold(r),
                (r - 1.0) * 100.0
            );
            let m = Mark {
                series: Some(series),
                id: &p.id,
                run: &data.series[*k],
                value: p.value,
                tip: &tip,
            };
            let _ = write!(
                out,
                "<circle{} data-base=\"{}\" data-ratio=\"{}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"5\" fill=\"{fill}\" \
                 fill-opacity=\"0.85\" stroke=\"#333\" stroke-width=\"0.5\">{}</circle>",
                m.attrs(),
                number(b.value),
                number(r),
                sx.px(b.value),
                sy.px(r),
                m.title()
            );
            count += 1;
        }
        s.raw(&out);
    }
    svg::legend(
        &mut s,
        WIDTH - 165.0,
        96.0,
        "change",
        &[
            Entry {
                series: 0,
                label: "growth".into(),
                color: GROWTH.into(),
            },
            Entry {
                series: 1,
                label: "shrinkage".into(),
                color: SHRINK.into(),
            },
            Entry {
                series: 2,
                label: "unchanged".into(),
                color: SAME.into(),
            },
        ],
    );
    s.caption(&caption);
    Ok(Picture {
        svg: s.finish(),
        title,
        summary: format!("{count} benchmarks"),
    })
}

/// Folds worth a tick inside `1/bound..=bound`: powers of two far out, 1.1/1.25/1.5 close in.
fn ratio_ticks(bound: f64) -> Vec<f64> {
    let mut up: Vec<f64> = [1.1, 1.25, 1.5, 2.0, 4.0, 10.0, 100.0, 1000.0, 10000.0]
        .into_iter()
        .filter(|r| *r <= bound)
        .collect();
    while up.len() > 4 {
        up.remove(0);
    }
    let mut out: Vec<f64> = up.iter().rev().map(|r| 1.0 / r).collect();
    out.push(1.0);
    out.extend(up);
    out
}
