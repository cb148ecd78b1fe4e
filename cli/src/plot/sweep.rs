//! `--view sweep`: a heatmap with one row per benchmark and one column per run, each cell
//! its fold change against the first run (`1.25×`), coloured green (shrank) through white
//! to red (grew) on a log scale. A cell whose run lacks the benchmark says `missing`; a row
//! without a base says `no base`; a base of 0 gives `1×` for 0 and `from 0` otherwise.

use std::fmt::Write;

use super::axis::fold;
use super::model::{Data, Point, number};
use super::options::PlotArgs;
use super::svg::{self, Mark, Svg, WIDTH, clip, esc};
use super::{Picture, capitalize, exact, metric_label};
use crate::error::Result;

const ROW: f64 = 24.0;
const GREEN: (f64, f64, f64) = (26.0, 152.0, 80.0);
const RED: (f64, f64, f64) = (215.0, 48.0, 39.0);

/// What a cell shows.
enum Cell<'a> {
    /// A ratio to a positive base.
    Fold(&'a Point, &'a Point, f64),
    /// Base 0: `1×` when the value is 0 too, `from 0` when it is not.
    FromZero(&'a Point, &'a Point),
    /// The run has the benchmark, the base run does not.
    NoBase(&'a Point),
    /// The run does not have the benchmark.
    Missing,
}

/// Draw the sweep view of `data`.
pub(crate) fn draw(data: &Data, args: &PlotArgs) -> Result<Picture> {
    let names = data.display_names();
    let mut ids = data.ids();
    ids.sort_by(|a, b| super::model::natural(&names[a], &names[b]));
    let n = data.series.len();
    let cells: Vec<Vec<Cell>> = ids
        .iter()
        .map(|id| {
            let base = data.get(0, id);
            (0..n)
                .map(|k| match (base, data.get(k, id)) {
                    (_, None) => Cell::Missing,
                    (None, Some(p)) => Cell::NoBase(p),
                    (Some(b), Some(p)) if b.value == 0.0 => Cell::FromZero(b, p),
                    (Some(b), Some(p)) => Cell::Fold(b, p, p.value / b.value),
                })
                .collect()
        })
        .collect();
    // Colour bound: --clip as a fold, else the 95th percentile of |log2 fold| (outliers do
    // not wash everything else out to white).
    let mut mags: Vec<f64> = cells
        .iter()
        .flatten()
        .filter_map(|c| match c {
            Cell::Fold(_, _, r) if *r > 0.0 => Some(r.log2().abs()),
            _ => None,
        })
        .collect();
    mags.sort_by(f64::total_cmp);
    let bound = match args.clip.filter(|c| c.is_finite() && *c > 1.0) {
        Some(c) => c.log2(),
        None => {
            let p = mags
                .get(((mags.len() as f64 - 1.0) * 0.95).round().max(0.0) as usize)
                .copied()
                .unwrap_or(0.0);
            if p > 0.0 {
                p
            } else {
                mags.last().copied().filter(|m| *m > 0.0).unwrap_or(1.0)
            }
        }
    };
    let vlabel = metric_label(data.metric);
    let title = format!(
        "{} fold change vs base ({})",
        capitalize(vlabel),
        data.series[0]
    );
    let subtitle = format!(
        "each cell: the run's {} over repeats ÷ the base's; green = shrank, red = grew",
        data.stat.name()
    );
    let label_w = ids
        .iter()
        .map(|id| svg::text_width(&clip(&names[id], 48), 11.0))
        .fold(60.0, f64::max)
        + 16.0;
    let legend_w = 150.0;
    let cell_w = ((WIDTH - label_w - legend_w - 20.0) / n as f64).clamp(48.0, 130.0);
    let top = 100.0;
    let caption = vec![format!(
        "colour: log fold change, saturated at {} and {}; hover a cell for both values",
        fold(2f64.powf(-bound)),
        fold(2f64.powf(bound))
    )];
    let height = top + ids.len() as f64 * ROW + 30.0 + 15.0 * caption.len() as f64;
    let mut s = Svg::new(height.max(260.0), &title, "sweep");
    s.heading(&title, &subtitle);
    for (k, label) in data.series.iter().enumerate() {
        let x = label_w + (k as f64 + 0.5) * cell_w;
        s.text(
            x,
            top - 10.0,
            "middle",
            "al",
            &clip(label, (cell_w / 7.0) as usize),
        );
    }
    let mut out = String::new();
    let mut count = 0;
    for (row, id) in ids.iter().enumerate() {
        let y = top + row as f64 * ROW;
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" class=\"tk\">{}<title>{}</title></text>",
            label_w - 6.0,
            y + ROW / 2.0 + 4.0,
            esc(&clip(&names[id], 48)),
            esc(id)
        );
        for (k, cell) in cells[row].iter().enumerate() {
            let x = label_w + k as f64 * cell_w;
            let run = &data.series[k];
            let (fill, text, ink) = match cell {
                Cell::Fold(_, _, r) => {
                    let t = if *r > 0.0 {
                        (r.log2() / bound).clamp(-1.0, 1.0)
                    } else {
                        -1.0
                    };
                    (
                        shade(t),
                        fold(*r),
                        if t.abs() > 0.6 { "#fff" } else { "#222" },
                    )
                }
                Cell::FromZero(_, p) if p.value == 0.0 => (shade(0.0), "1×".to_string(), "#222"),
                Cell::FromZero(..) => (shade(1.0), "from 0".to_string(), "#fff"),
                Cell::NoBase(_) => ("#eeeeee".to_string(), "no base".to_string(), "#666"),
                Cell::Missing => ("#f7f7f7".to_string(), "missing".to_string(), "#999"),
            };
            let (attrs, tip) = match cell {
                Cell::Fold(b, p, r) => {
                    count += 1;
                    let tip = format!(
                        "{id}\n{run}: {}\nbase {}: {}\nfold: {}",
                        exact(data.metric, p.value),
                        data.series[0],
                        exact(data.metric, b.value),
                        fold(*r)
                    );
                    let m = Mark {
                        series: None,
                        id,
                        run,
                        value: p.value,
                        tip: &tip,
                    };
                    (
                        format!(
                            "{} data-base=\"{}\" data-fold=\"{}\"",
                            m.attrs(),
                            number(b.value),
                            number(*r)
                        ),
                        m.title(),
                    )
                }
                Cell::FromZero(b, p) => {
                    count += 1;
                    let tip = format!(
                        "{id}\n{run}: {}\nbase {}: {}",
                        exact(data.metric, p.value),
                        data.series[0],
                        exact(data.metric, b.value)
                    );
                    let m = Mark {
                        series: None,
                        id,
                        run,
                        value: p.value,
                        tip: &tip,
                    };
                    (
                        format!("{} data-base=\"{}\"", m.attrs(), number(b.value)),
                        m.title(),
                    )
                }
                Cell::NoBase(p) => {
                    count += 1;
                    let tip = format!(
                        "{id}\n{run}: {}\nbase {}: missing",
                        exact(data.metric, p.value),
                        data.series[0]
                    );
                    let m = Mark {
                        series: None,
                        id,
                        run,
                        value: p.value,
                        tip: &tip,
                    };
                    (m.attrs(), m.title())
                }
                Cell::Missing => (
                    format!(
                        " class=\"missing\" data-id=\"{}\" data-run=\"{}\"",
                        esc(id),
                        esc(run)
                    ),
                    format!("<title>{}\n{}: missing</title>", esc(id), esc(run)),
                ),
            };
            let _ = write!(
                out,
                "<rect{attrs} x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\" \
                 stroke=\"#fff\">{tip}</rect><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" \
                 class=\"cell\" fill=\"{ink}\" style=\"fill:{ink};pointer-events:none\">{}</text>",
                x,
                cell_w,
                ROW,
                x + cell_w / 2.0,
                y + ROW / 2.0 + 4.0,
                esc(&text)
            );
        }
    }
    s.raw(&out);
    colour_bar(&mut s, WIDTH - legend_w + 20.0, top, bound);
    s.caption(&caption);
    Ok(Picture {
        svg: s.finish(),
        title,
        summary: format!("{} benchmarks × {n} runs ({count} values)", ids.len()),
    })
}

/// A vertical colour bar from shrinkage (bottom) to growth (top), ticked in folds.
fn colour_bar(s: &mut Svg, x: f64, top: f64, bound: f64) {
    let h = 160.0;
    let mut out = String::new();
    let steps = 32;
    for i in 0..steps {
        let t = 1.0 - 2.0 * (i as f64 + 0.5) / steps as f64;
        let _ = write!(
            out,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"14\" height=\"{:.2}\" fill=\"{}\"/>",
            top + i as f64 * h / steps as f64,
            h / steps as f64 + 0.5,
            shade(t)
        );
    }
    s.raw(&out);
    s.text(x, top - 10.0, "start", "al", "fold");
    for t in [1.0, 0.5, 0.0, -0.5, -1.0] {
        let y = top + (1.0 - t) / 2.0 * h;
        s.text(
            x + 20.0,
            y + 4.0,
            "start",
            "tk",
            &fold(2f64.powf(t * bound)),
        );
    }
}

/// White at 0, green at -1, red at +1.
fn shade(t: f64) -> String {
    let (c, a) = if t < 0.0 { (GREEN, -t) } else { (RED, t) };
    let mix = |v: f64| (255.0 + (v - 255.0) * a).round() as u8;
    format!("#{:02x}{:02x}{:02x}", mix(c.0), mix(c.1), mix(c.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shades() {
        assert_eq!(shade(0.0), "#ffffff");
        assert_eq!(shade(1.0), "#d73027");
        assert_eq!(shade(-1.0), "#1a9850");
    }
}
