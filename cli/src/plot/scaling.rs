//! `--view scaling`: the metric against a numeric parameter, one line per value of another
//! parameter (or per run), a panel per value of a third, a min–max band over repeats.
//! Roles are inferred as pytest-benchmem infers them: x is the only numeric parameter,
//! colour the run (several runs) or the next parameter, facet the one after.

use std::fmt::Write;

use super::axis::{Kind, Scale};
use super::model::{Data, DimValue, NODE_PREFIX, Point};
use super::options::{Band, FreeAxes, PlotArgs, choice};
use super::svg::{self, Axes, Entry, Frame, Mark, Svg, WIDTH};
use super::{Picture, exact, metric_label, value_label};
use crate::error::Result;
use crate::metrics::Metric;
use crate::plot::model::number;

/// One line: its legend series, label, colour, dash, and points sorted by x.
struct Line<'a> {
    series: usize,
    color: &'static str,
    dashed: bool,
    points: Vec<(f64, &'a Point)>,
}

/// Draw the scaling view of `data`.
pub(crate) fn draw(data: &Data, args: &PlotArgs) -> Result<Picture> {
    let several = data.series.len() > 1;
    let free: Vec<&String> = data
        .dims
        .iter()
        .filter(|d| !d.starts_with(NODE_PREFIX))
        .collect();
    let x = match &args.x {
        Some(x) => {
            data.require_dim("--x", x)?;
            if !data.numeric(x) {
                return Err(format!(
                    "--x {x}: not a numeric parameter; scaling needs numbers on the x-axis"
                )
                .into());
            }
            x.clone()
        }
        None => {
            let numeric: Vec<&&String> = free.iter().filter(|d| data.numeric(d)).collect();
            match numeric.as_slice() {
                [one] => (**one).clone(),
                _ => {
                    let found = if numeric.is_empty() {
                        "none".to_string()
                    } else {
                        numeric
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    return Err(format!(
                        "scaling needs exactly one numeric parameter for the x-axis (found {found}); \
                         pass --x NAME to pick one, or --view compare/--pivot to compare a categorical one"
                    )
                    .into());
                }
            }
        }
    };
    for (opt, d) in [("--color", &args.color), ("--facet", &args.facet)] {
        if let Some(d) = d {
            data.require_dim(opt, d)?;
        }
    }
    let leftover: Vec<&String> = free
        .iter()
        .copied()
        .filter(|d| **d != x && Some(d.as_str()) != args.facet.as_deref())
        .collect();
    // With several runs the run is the colour, as in pytest-benchmem.
    let color: Option<String> = args
        .color
        .clone()
        .or_else(|| {
            (!several)
                .then(|| leftover.first().map(|s| s.to_string()))
                .flatten()
        })
        .or_else(|| (!several).then(|| split_by_node(data, &x)).flatten());
    let facet: Option<String> = args.facet.clone().or_else(|| {
        leftover
            .iter()
            .find(|d| Some(d.as_str()) != color.as_deref())
            .map(|s| s.to_string())
    });
    let dash_by_run = several && color.is_some();

    let pts: Vec<(&Point, f64)> = data
        .points
        .iter()
        .filter_map(|p| Some((p, p.dims.get(&x)?.num()?)))
        .collect();
    if pts.is_empty() {
        return Err(format!("scaling: no benchmark has the x parameter '{x}'").into());
    }
    let dim_text = |p: &Point, d: &Option<String>| -> String {
        d.as_ref()
            .map(|d| {
                p.dims
                    .get(d)
                    .map_or_else(|| "(none)".to_string(), DimValue::text)
            })
            .unwrap_or_default()
    };

    // Panels and lines, in a stable order: natural order of values.
    let mut facets: Vec<String> = pts.iter().map(|(p, _)| dim_text(p, &facet)).collect();
    sort_values(&mut facets);
    let mut keys: Vec<(String, usize)> = pts
        .iter()
        .map(|(p, _)| {
            let c = if color.is_some() {
                dim_text(p, &color)
            } else {
                String::new()
            };
            (c, if several { p.series } else { 0 })
        })
        .collect();
    keys.sort_by(|a, b| super::model::natural(&a.0, &b.0).then(a.1.cmp(&b.1)));
    keys.dedup();
    let color_values: Vec<String> = {
        let mut v: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        v.dedup();
        v
    };
    let mut panels: Vec<Vec<Line>> = Vec::new();
    for f in &facets {
        let mut lines = Vec::new();
        for (si, (c, run)) in keys.iter().enumerate() {
            let mut points: Vec<(f64, &Point)> = pts
                .iter()
                .filter(|(p, _)| {
                    dim_text(p, &facet) == *f
                        && (color.is_none() || dim_text(p, &color) == *c)
                        && (!several || p.series == *run)
                })
                .map(|(p, xv)| (*xv, *p))
                .collect();
            if points.is_empty() {
                continue;
            }
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            let ci = if color.is_some() {
                color_values.iter().position(|v| v == c).unwrap_or(0)
            } else {
                *run
            };
            lines.push(Line {
                series: si,
                color: svg::color(ci),
                dashed: dash_by_run && *run > 0,
                points,
            });
        }
        panels.push(lines);
    }

    let q = data.metric.quantity();
    let log_log = choice(args.log_log, args.linear);
    let log_x = choice(args.log_x, args.linear_x)
        .or(log_log)
        .unwrap_or_else(|| pts.iter().all(|(_, x)| *x > 0.0));
    let log_y = choice(args.log_y, args.linear_y)
        .or(log_log)
        .unwrap_or_else(|| pts.iter().all(|(p, _)| p.value > 0.0));
    let y_zero = choice(args.y_zero, args.no_y_zero).unwrap_or(!log_y) && !log_y;
    let has_spread = pts
        .iter()
        .any(|(p, _)| p.spread.is_some_and(|(lo, hi)| hi > lo));
    let band = data.metric != Metric::Time
        && match args.band {
            Band::None => false,
            Band::Minmax => true,
            Band::Auto => has_spread,
        };
    let kx = if log_x { Kind::Log } else { Kind::Linear };
    let ky = if log_y { Kind::Log } else { Kind::Linear };
    let y_values = |lines: &[Line]| -> Vec<f64> {
        lines
            .iter()
            .flat_map(|l| l.points.iter())
            .flat_map(|(_, p)| {
                let (lo, hi) = if band {
                    p.spread.unwrap_or((p.value, p.value))
                } else {
                    (p.value, p.value)
                };
                [p.value, lo, hi]
            })
            .collect()
    };
    let x_values = |lines: &[Line]| -> Vec<f64> {
        lines
            .iter()
            .flat_map(|l| l.points.iter().map(|(x, _)| *x))
            .collect()
    };
    let shared_x = Scale::fit(kx, panels.iter().flat_map(|l| x_values(l)), false);
    let shared_y = Scale::fit(ky, panels.iter().flat_map(|l| y_values(l)), y_zero);
    let free_x = matches!(args.free_axes, Some(FreeAxes::X | FreeAxes::Both));
    let free_y = matches!(args.free_axes, Some(FreeAxes::Y | FreeAxes::Both));

    let rows = panels.len().div_ceil(3).max(1);
    let panel_h = if panels.len() == 1 { 440.0 } else { 300.0 };
    let height = 70.0 + rows as f64 * panel_h + 50.0;
    let vlabel = value_label(data.metric, data.stat);
    let title = format!(
        "Scaling: {} vs {x} ({})",
        metric_label(data.metric),
        data.series.join(", ")
    );
    let mut roles = vec![format!("{} over repeats", data.stat.name())];
    if let Some(c) = &color {
        roles.push(format!("lines: {c}"));
    }
    if several {
        roles.push(if dash_by_run {
            "runs: solid first, dashed later".to_string()
        } else {
            "lines: runs".to_string()
        });
    }
    if let Some(f) = &facet {
        roles.push(format!("panels: {f}"));
    }
    if band {
        roles.push("band: min–max over repeats".to_string());
    }
    let mut s = Svg::new(height, &title, "scaling");
    s.heading(&title, &roles.join(" · "));
    let area = Frame {
        left: 0.0,
        top: 70.0,
        w: WIDTH - 190.0,
        h: rows as f64 * panel_h,
    };
    let frames = svg::facet_grid(panels.len(), area, (92.0, 24.0, 14.0, 48.0));
    let mut count = 0;
    for ((lines, f), fv) in panels.iter().zip(&frames).zip(&facets) {
        let sx = if free_x {
            Scale::fit(kx, x_values(lines), false)
        } else {
            shared_x
        }
        .onto(f.left, f.right());
        let sy = if free_y {
            Scale::fit(ky, y_values(lines), y_zero)
        } else {
            shared_y
        }
        .onto(f.bottom(), f.top);
        let panel = facet
            .as_ref()
            .map_or_else(String::new, |d| format!("{d}={fv}"));
        svg::axes(
            &mut s,
            f,
            &Axes {
                x: Some((&sx, crate::units::Quantity::Count)),
                y: Some((&sy, q)),
                x_label: &x,
                y_label: &vlabel,
                panel: &panel,
            },
        );
        for l in lines {
            draw_line(&mut s, data, l, &sx, &sy, band, &x);
            count += l.points.len();
        }
    }
    let entries: Vec<Entry> = keys
        .iter()
        .enumerate()
        .map(|(si, (c, run))| {
            let ci = if color.is_some() {
                color_values.iter().position(|v| v == c).unwrap_or(0)
            } else {
                *run
            };
            let label = match (color.is_some(), several) {
                (true, true) => format!("{c} · {}", data.series[*run]),
                (true, false) => c.clone(),
                (false, _) => data.series[*run].clone(),
            };
            Entry {
                series: si,
                label,
                color: svg::color(ci).to_string(),
            }
        })
        .collect();
    let legend_title = color.clone().unwrap_or_else(|| "run".to_string());
    svg::legend(&mut s, WIDTH - 175.0, 96.0, &legend_title, &entries);
    s.caption(&[format!(
        "{}; {} axes; click a legend entry to hide its line (HTML)",
        if data.metric == Metric::Time {
            "time: pytest-benchmark's stats (seconds)".to_string()
        } else {
            "memory: exact bytes requested inside each benchmark, binary units".to_string()
        },
        match (log_x, log_y) {
            (true, true) => "log-log",
            (false, false) => "linear",
            (true, false) => "log-x, linear-y",
            (false, true) => "linear-x, log-y",
        }
    )]);
    Ok(Picture {
        svg: s.finish(),
        title,
        summary: format!("{count} benchmarks"),
    })
}

fn draw_line(s: &mut Svg, data: &Data, l: &Line, sx: &Scale, sy: &Scale, band: bool, x: &str) {
    let mut out = String::new();
    let _ = write!(out, "<g class=\"series\" data-series=\"{}\">", l.series);
    if band && l.points.iter().any(|(_, p)| p.spread.is_some()) {
        let upper: Vec<String> = l
            .points
            .iter()
            .map(|(xv, p)| {
                format!(
                    "{:.1},{:.1}",
                    sx.px(*xv),
                    sy.px(p.spread.map_or(p.value, |s| s.1))
                )
            })
            .collect();
        let lower: Vec<String> = l
            .points
            .iter()
            .rev()
            .map(|(xv, p)| {
                format!(
                    "{:.1},{:.1}",
                    sx.px(*xv),
                    sy.px(p.spread.map_or(p.value, |s| s.0))
                )
            })
            .collect();
        let _ = write!(
            out,
            "<polygon class=\"band\" points=\"{} {}\" fill=\"{}\" fill-opacity=\"0.18\" stroke=\"none\"/>",
            upper.join(" "),
            lower.join(" "),
            l.color
        );
    }
    let path: Vec<String> = l
        .points
        .iter()
        .map(|(xv, p)| format!("{:.1},{:.1}", sx.px(*xv), sy.px(p.value)))
        .collect();
    let _ = write!(
        out,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{}/>",
        path.join(" "),
        l.color,
        if l.dashed {
            " stroke-dasharray=\"6 4\""
        } else {
            ""
        }
    );
    for (xv, p) in &l.points {
        let mut tip = format!(
            "{}\nrun: {}\n{x} = {}\n{} ({}): {}",
            p.fullname,
            data.series[p.series],
            number(*xv),
            metric_label(data.metric),
            data.stat.name(),
            exact(data.metric, p.value)
        );
        if let Some((lo, hi)) = p.spread {
            let _ = write!(
                tip,
                "\nrepeats: {} (min {}, max {})",
                p.samples,
                exact(data.metric, lo),
                exact(data.metric, hi)
            );
        }
        let m = Mark {
            series: Some(l.series),
            id: &p.fullname,
            run: &data.series[p.series],
            value: p.value,
            tip: &tip,
        };
        let spread = p.spread.map_or_else(String::new, |(lo, hi)| {
            format!(" data-min=\"{}\" data-max=\"{}\"", number(lo), number(hi))
        });
        let _ = write!(
            out,
            "<circle{}{spread} data-x=\"{}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{}\" stroke=\"#fff\">{}</circle>",
            m.attrs(),
            number(*xv),
            sx.px(*xv),
            sy.px(p.value),
            l.color,
            m.title()
        );
    }
    out.push_str("</g>");
    s.raw(&out);
}

/// Values in natural order (numbers by value).
fn sort_values(v: &mut Vec<String>) {
    v.sort_by(|a, b| match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.total_cmp(&y),
        _ => super::model::natural(a, b),
    });
    v.dedup();
}

/// With no parameter left to tell lines apart, benchmarks of different test functions
/// (or groups) at the same x would zigzag on one line: colour by the node dim that
/// separates them.
fn split_by_node(data: &Data, x: &str) -> Option<String> {
    let mut seen = std::collections::HashSet::new();
    let collide = data
        .points
        .iter()
        .filter_map(|p| p.dims.get(x).map(DimValue::text))
        .any(|v| !seen.insert(v));
    if !collide {
        return None;
    }
    ["func", "group", "module", "class"]
        .iter()
        .map(|n| format!("{NODE_PREFIX}{n}"))
        .find(|d| {
            let values: std::collections::HashSet<String> = data
                .points
                .iter()
                .filter_map(|p| p.dims.get(d).map(DimValue::text))
                .collect();
            values.len() > 1
        })
}
