//! `--view compare`: one horizontal bar per benchmark, its change from the first series
//! (base) to the second (head), ranked with the largest growth on top; red for growth,
//! green for shrinkage. `--relative` shows percent instead of the metric's unit.

use std::fmt::Write;

use super::axis::{Kind, Scale};
use super::model::{Data, Point, number};
use super::options::{FreeAxes, PlotArgs};
use super::svg::{self, Axes, Entry, Frame, GROWTH, Mark, SAME, SHRINK, Svg, WIDTH, clip};
use super::{Picture, capitalize, exact, metric_label};
use crate::error::Result;
use crate::units::Quantity;

const ROW: f64 = 22.0;

/// One bar: the pair and its change.
struct Bar<'a> {
    base: &'a Point,
    head: &'a Point,
    delta: f64,
}

/// Draw the compare view of `data`.
pub(crate) fn draw(data: &Data, args: &PlotArgs) -> Result<Picture> {
    if data.series.len() < 2 {
        return Err(match &data.pivot {
            Some(p) => format!(
                "--view compare --pivot {p}: the run has only one value of '{p}' ({}); nothing to compare",
                data.series.first().map_or("", String::as_str)
            ),
            None => "--view compare needs two runs (the first is the base), or one run and --pivot NAME".to_string(),
        }
        .into());
    }
    if let Some(f) = &args.facet {
        data.require_dim("--facet", f)?;
    }
    let (a, b) = (&data.series[0], &data.series[1]);
    let names = data.display_names();
    let mut bars = Vec::new();
    let (mut only_a, mut only_b, mut from_zero) = (0, 0, Vec::new());
    for id in data.ids() {
        match (data.get(0, &id), data.get(1, &id)) {
            (Some(base), Some(head)) => {
                let delta = if args.relative {
                    if base.value == 0.0 {
                        if head.value != 0.0 {
                            from_zero.push(names[&id].clone());
                            continue;
                        }
                        0.0
                    } else {
                        (head.value - base.value) / base.value * 100.0
                    }
                } else {
                    head.value - base.value
                };
                bars.push(Bar { base, head, delta });
            }
            (Some(_), None) => only_a += 1,
            (None, Some(_)) => only_b += 1,
            (None, None) => {}
        }
    }
    if bars.is_empty() {
        return Err(format!("--view compare: {a} and {b} have no benchmark in common").into());
    }
    bars.sort_by(|x, y| {
        y.delta
            .total_cmp(&x.delta)
            .then_with(|| super::model::natural(&names[&x.base.id], &names[&y.base.id]))
    });
    let facet_of = |p: &Point| {
        args.facet.as_ref().map_or_else(String::new, |f| {
            p.dims.get(f).map_or_else(|| "(none)".into(), |v| v.text())
        })
    };
    let mut facets: Vec<String> = bars.iter().map(|b| facet_of(b.base)).collect();
    facets.sort_by(|x, y| super::model::natural(x, y));
    facets.dedup();

    let q = if args.relative {
        Quantity::Count
    } else {
        data.metric.quantity()
    };
    let vlabel = metric_label(data.metric);
    let x_label = if args.relative {
        format!("Δ {vlabel} (%), {} over repeats", data.stat.name())
    } else {
        format!("Δ {vlabel}, {} over repeats", data.stat.name())
    };
    let clip_bound = args.clip.filter(|c| c.is_finite() && *c > 0.0);
    let shown = |d: f64| clip_bound.map_or(d, |c| d.clamp(-c, c));
    let label_w = bars
        .iter()
        .map(|b| svg::text_width(&clip(&names[&b.base.id], 48), 11.0))
        .fold(80.0, f64::max)
        + 16.0;
    let direction = if data.metric.quantity() == Quantity::Seconds {
        "slower"
    } else {
        "more"
    };
    let title = format!(
        "{} change ({}): {a} → {b}",
        capitalize(vlabel),
        if args.relative {
            "relative"
        } else {
            "absolute"
        }
    );
    let subtitle = format!(
        "{} benchmarks in both runs, largest growth on top; positive = {direction}; red = growth, green = shrinkage",
        bars.len()
    );
    let per_panel: Vec<Vec<&Bar>> = facets
        .iter()
        .map(|f| bars.iter().filter(|b| facet_of(b.base) == *f).collect())
        .collect();
    let panel_gap = if args.facet.is_some() { 34.0 } else { 0.0 };
    let plot_h: f64 = per_panel
        .iter()
        .map(|p| p.len() as f64 * ROW + 56.0 + panel_gap)
        .sum();
    let mut caption = Vec::new();
    if only_a + only_b > 0 {
        caption.push(format!(
            "not drawn: {only_a} only in {a}, {only_b} only in {b}"
        ));
    }
    if !from_zero.is_empty() {
        caption.push(format!(
            "grew from 0 (no percentage): {}",
            clip(&from_zero.join(", "), 140)
        ));
    }
    if let Some(c) = clip_bound {
        caption.push(format!("bars clipped at ±{}", number(c)));
    }
    caption.push(
        "hover a bar for both values; click a legend entry to hide growth or shrinkage (HTML)"
            .into(),
    );
    let height = 70.0 + plot_h + 20.0 + 15.0 * caption.len() as f64;
    let mut s = Svg::new(height, &title, "compare");
    s.heading(&title, &subtitle);
    let free_x = matches!(args.free_axes, Some(FreeAxes::X | FreeAxes::Both));
    let fit = |bs: &[&Bar]| {
        Scale::fit(
            Kind::Linear,
            bs.iter().map(|b| shown(b.delta)).chain([0.0]),
            true,
        )
    };
    let shared = fit(&bars.iter().collect::<Vec<_>>());
    let mut top = 70.0 + panel_gap;
    let right = WIDTH - 180.0;
    for (panel, f) in per_panel.iter().zip(&facets) {
        let frame = Frame {
            left: label_w,
            top,
            w: right - label_w,
            h: panel.len() as f64 * ROW + 8.0,
        };
        // Room beside the longest bars for their labels.
        let left_pad = if panel.iter().any(|b| b.delta < 0.0) {
            74.0
        } else {
            8.0
        };
        let right_pad = if panel.iter().any(|b| b.delta > 0.0) {
            74.0
        } else {
            8.0
        };
        let sx = if free_x { fit(panel) } else { shared }
            .onto(frame.left + left_pad, frame.right() - right_pad);
        let panel_title = args
            .facet
            .as_ref()
            .map_or_else(String::new, |d| format!("{d}={f}"));
        svg::axes(
            &mut s,
            &frame,
            &Axes {
                x: Some((&sx, q)),
                y: None,
                x_label: &x_label,
                y_label: "",
                panel: &panel_title,
            },
        );
        let zero = sx.px(0.0);
        s.line(zero, frame.top, zero, frame.bottom(), "stroke=\"#666\"");
        let mut out = String::new();
        for (i, bar) in panel.iter().enumerate() {
            let y = frame.top + 4.0 + i as f64 * ROW;
            let d = shown(bar.delta);
            let (series, fill) = if bar.delta > 0.0 {
                (0, GROWTH)
            } else if bar.delta < 0.0 {
                (1, SHRINK)
            } else {
                (2, SAME)
            };
            let name = &names[&bar.base.id];
            let change = if args.relative {
                format!("{:+.1}%", bar.delta)
            } else {
                signed(data.metric, bar.delta)
            };
            let tip = format!(
                "{}\n{a}: {}\n{b}: {}\nchange: {change}{}",
                bar.base.id,
                exact(data.metric, bar.base.value),
                exact(data.metric, bar.head.value),
                if args.relative || bar.base.value == 0.0 {
                    String::new()
                } else {
                    format!(
                        " ({:+.1}%)",
                        (bar.head.value - bar.base.value) / bar.base.value * 100.0
                    )
                }
            );
            let m = Mark {
                series: Some(series),
                id: &bar.base.id,
                run: b,
                value: bar.delta,
                tip: &tip,
            };
            let (x0, x1) = (zero.min(sx.px(d)), zero.max(sx.px(d)));
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" class=\"tk\">{}<title>{}</title></text>\
                 <rect{} data-base=\"{}\" data-head=\"{}\" x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{:.1}\" \
                 height=\"{:.1}\" fill=\"{fill}\">{}</rect>",
                frame.left - 6.0,
                y + ROW / 2.0 + 1.0,
                svg::esc(&clip(name, 48)),
                svg::esc(&bar.base.id),
                m.attrs(),
                number(bar.base.value),
                number(bar.head.value),
                (x1 - x0).max(1.0),
                ROW - 6.0,
                m.title()
            );
            let (tx, anchor) = if d >= 0.0 {
                (x1 + 4.0, "start")
            } else {
                (x0 - 4.0, "end")
            };
            let _ = write!(
                out,
                "<text x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" class=\"tk\" data-series=\"{series}\">{}</text>",
                y + ROW / 2.0 + 1.0,
                svg::esc(&change)
            );
        }
        s.raw(&out);
        top += frame.h + 48.0 + panel_gap;
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
        summary: format!("{} benchmarks", bars.len()),
    })
}

/// A signed change in the metric's units: `+1.00 MiB`, `-12 B`, `+3`.
fn signed(metric: crate::metrics::Metric, d: f64) -> String {
    let text = crate::units::human(metric.quantity(), d.abs());
    let sign = if d > 0.0 {
        "+"
    } else if d < 0.0 {
        "−"
    } else {
        "±"
    };
    format!("{sign}{text}")
}
