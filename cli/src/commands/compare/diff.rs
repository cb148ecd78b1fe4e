//! The `--diff` view: one row per benchmark and metric, the first run's value as the base
//! and a signed Δ% per later run, red for growth and green for shrinkage on a terminal.

use std::cmp::Ordering;

use super::model::{Matrix, Side};
use crate::gate::percent_change;
use crate::grid::{Align, Format, Grid};
use crate::metrics::Metric;
use crate::output::Painter;
use crate::stats::Stat;
use crate::table::raw_cell;
use crate::units::human;

/// Render the diff of `ids` (in order) over `metrics` × `stats`.
pub fn render(
    m: &Matrix,
    ids: &[String],
    metrics: &[Metric],
    stats: &[Stat],
    format: Format,
    painter: Painter,
) -> String {
    let Some((base, later)) = m.sides.split_first() else {
        return String::new();
    };
    let csv = format == Format::Csv;
    let mut cols = vec![
        (
            if csv { "id" } else { "benchmark" }.to_string(),
            Align::Left,
        ),
        ("metric".to_string(), Align::Left),
    ];
    if csv {
        cols.push(("stat".to_string(), Align::Left));
    }
    cols.push((base.label.clone(), Align::Right));
    for s in later {
        if csv {
            cols.push((s.label.clone(), Align::Right));
            cols.push((format!("{}:change_pct", s.label), Align::Right));
        } else {
            cols.push((format!("{} Δ", s.label), Align::Right));
        }
    }
    let show_stat = stats != [Stat::Min];
    let mut grid = Grid::new(cols);
    for id in ids {
        let mut first_row = true;
        for &metric in metrics {
            for &stat in stats {
                let value = |side: &Side| side.get(id).and_then(|r| r.value(metric, stat));
                let b = value(base);
                let heads: Vec<Option<f64>> = later.iter().map(value).collect();
                if b.is_none() && heads.iter().all(Option::is_none) {
                    continue;
                }
                let name = if csv {
                    id.clone()
                } else if first_row {
                    m.name(id).to_string()
                } else {
                    String::new()
                };
                first_row = false;
                let label = if show_stat && !csv {
                    format!("{}·{}", metric.header(), stat.name())
                } else {
                    metric.header().to_string()
                };
                let mut row = vec![name, label];
                if csv {
                    row.push(stat.name().to_string());
                    row.push(raw_cell(b));
                } else {
                    row.push(b.map_or_else(|| "—".to_string(), |x| human(metric.quantity(), x)));
                }
                for h in heads {
                    if csv {
                        row.push(raw_cell(h));
                        row.push(match (b, h) {
                            (Some(b), Some(h)) if b > 0.0 => raw_cell(Some((h - b) / b * 100.0)),
                            _ => String::new(),
                        });
                        continue;
                    }
                    row.push(match (b, h) {
                        (Some(b), Some(h)) => {
                            // The painter leaves Markdown plain; a change too small to
                            // show stays uncoloured.
                            let text = percent_change(b, h);
                            let shown = text != "0.0%";
                            match h.partial_cmp(&b) {
                                Some(Ordering::Greater) if shown => painter.worse(&text),
                                Some(Ordering::Less) if shown => painter.better(&text),
                                _ => text,
                            }
                        }
                        _ => "—".to_string(),
                    });
                }
                grid.rows.push(row);
            }
        }
    }
    grid.render(format)
}
