//! The `--diff` view: one row per benchmark and metric, the first run's value as the base,
//! then each later run's value and its signed Δ%, red for growth and green for shrinkage
//! on a terminal.

use super::matrix::{Matrix, Side, shown_value};
use crate::metrics::Metric;
use crate::report::{Cell, Column, Header, ShownIn, Table};
use crate::significance::{Noise, time_noise};
use crate::stats::Stat;

/// The diff of `ids` (in order) over `metrics` × `stats`.
pub(super) fn table(m: &Matrix, ids: &[String], metrics: &[Metric], stats: &[Stat]) -> Table {
    let Some((base, later)) = m.sides.split_first() else {
        return Table::default();
    };
    let number = |header: String, shown_in| Column::numbers(Header::Text(header)).only(shown_in);
    let mut table = Table {
        columns: vec![
            Column::text("id").only(ShownIn::Data),
            Column::text("benchmark").only(ShownIn::Display),
            Column::text("metric"),
            Column::text("stat").only(ShownIn::Data),
            number(base.label.clone(), ShownIn::All),
        ],
        rows: Vec::new(),
    };
    // Each later run's value, then its change from the base right of it; with time, the
    // p-value of its test for CSV.
    let timed = metrics.contains(&Metric::Time);
    for s in later {
        table.columns.push(number(s.label.clone(), ShownIn::All));
        table
            .columns
            .push(number(format!("{}:change_pct", s.label), ShownIn::Data));
        if timed {
            table
                .columns
                .push(number(format!("{}:p_value", s.label), ShownIn::Data));
        }
        table
            .columns
            .push(number("Δ".to_string(), ShownIn::Display).joined());
    }
    let show_stat = stats != [Stat::Min];
    for id in ids {
        let mut first_row = true;
        for &metric in metrics {
            for &stat in stats {
                let value = |side: &Side| side.get(id).and_then(|r| shown_value(r, metric, stat));
                let b = value(base);
                let heads: Vec<Option<f64>> = later.iter().map(value).collect();
                if b.is_none() && heads.iter().all(Option::is_none) {
                    continue;
                }
                // The name only on the first of a benchmark's rows: the eye groups them.
                let name = if first_row {
                    let incomplete = m
                        .sides
                        .iter()
                        .any(|s| s.get(id).is_some_and(|r| !r.incomplete.is_empty()));
                    let mark = if incomplete {
                        crate::table::INCOMPLETE_MARK
                    } else {
                        ""
                    };
                    format!("{}{mark}", m.name(id))
                } else {
                    String::new()
                };
                first_row = false;
                let quantity = metric.quantity();
                let mut row = vec![
                    Cell::Text(id.clone()),
                    Cell::Text(name),
                    Cell::Metric {
                        metric,
                        stat: show_stat.then_some(stat),
                    },
                    Cell::Text(stat.name().to_string()),
                    Cell::Human { raw: b, quantity },
                ];
                for (side, h) in later.iter().zip(heads) {
                    // Time is noisy: each change carries its test. Memory is exact.
                    let noise = match (metric, base.get(id), side.get(id)) {
                        (Metric::Time, Some(rb), Some(rh)) => time_noise(rb, rh),
                        _ => None,
                    };
                    let p = match noise {
                        Some(Noise::Tested { p, .. }) => Some(p),
                        _ => None,
                    };
                    let change = Cell::Change {
                        base: b,
                        head: h,
                        noise,
                    };
                    row.extend([Cell::Human { raw: h, quantity }, change.clone()]);
                    if timed {
                        row.push(Cell::P(p));
                    }
                    row.push(change);
                }
                table.rows.push(row);
            }
        }
    }
    table
}
