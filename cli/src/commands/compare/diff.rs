//! The `--diff` view: one row per benchmark and metric, the first run's value as the base,
//! then each later run's value and its signed Δ%, red for growth and green for shrinkage
//! on a terminal.

use super::matrix::{Matrix, Side, shown_value};
use super::side_by_side::extra_number;
use crate::metrics::Metric;
use crate::report::{Cell, Column, Header, ShownIn, Table};
use crate::significance::{Noise, time_noise};
use crate::stats::Stat;

/// What one row of the diff holds.
enum RowKind<'a> {
    /// A metric reduced by a stat.
    Metric(Metric, Stat),
    /// An `extra:NAME` label.
    Extra(&'a str),
}

impl RowKind<'_> {
    /// The cell of the metric column: the metric (and its stat when shown), or the label.
    fn what(&self, show_stat: bool) -> Cell {
        match *self {
            RowKind::Metric(metric, stat) => Cell::Metric {
                metric,
                stat: show_stat.then_some(stat),
            },
            RowKind::Extra(name) => Cell::Text(format!("extra:{name}")),
        }
    }

    /// The stat CSV names (none for a label).
    fn stat_name(&self) -> &'static str {
        match self {
            RowKind::Metric(_, stat) => stat.name(),
            RowKind::Extra(_) => "",
        }
    }

    /// One run's value as this row writes it.
    fn value(&self, raw: Option<f64>) -> Cell {
        match self {
            RowKind::Metric(mt, _) => Cell::Human {
                raw,
                quantity: mt.quantity(),
            },
            RowKind::Extra(_) => Cell::Label(raw),
        }
    }
}

/// The diff of `ids` (in order) over `columns` (metric × stat), then the `extra:NAME`
/// values; `show_stat`: people see each row's stat.
pub(super) fn table(
    m: &Matrix,
    ids: &[String],
    columns: &[(Metric, Stat)],
    extras: &[String],
    show_stat: bool,
) -> Table {
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
    let timed = columns.iter().any(|(mt, _)| *mt == Metric::Time);
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
    // Each benchmark's rows: one per metric and stat, then one per `extra:NAME` label.
    let kinds: Vec<RowKind> = columns
        .iter()
        .map(|&(mt, s)| RowKind::Metric(mt, s))
        .chain(extras.iter().map(|e| RowKind::Extra(e)))
        .collect();
    for id in ids {
        let mut first_row = true;
        for kind in &kinds {
            let value = |side: &Side| {
                side.get(id).and_then(|r| match *kind {
                    RowKind::Metric(mt, s) => shown_value(r, mt, s),
                    RowKind::Extra(name) => extra_number(r, name),
                })
            };
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
            let mut row = vec![
                Cell::Text(id.clone()),
                Cell::Text(name),
                kind.what(show_stat),
                Cell::Text(kind.stat_name().to_string()),
                kind.value(b),
            ];
            for (side, h) in later.iter().zip(heads) {
                // Time is noisy: each change carries its test. Memory is exact.
                let noise = match (kind, base.get(id), side.get(id)) {
                    (RowKind::Metric(Metric::Time, _), Some(rb), Some(rh)) => time_noise(rb, rh),
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
                row.extend([kind.value(h), change.clone()]);
                if timed {
                    row.push(Cell::P(p));
                }
                row.push(change);
            }
            table.rows.push(row);
        }
    }
    table
}
