//! The side-by-side view: one row per benchmark and run, each value with its multiple of
//! the best (smallest) value in its column and section: `83.10 (1.00)`, `2,129.92 (25.63)`.

use std::collections::HashMap;

use super::matrix::{shown_value, Matrix};
use crate::metrics::Metric;
use crate::report::{group_unit, Cell, Column, Header, Section, ShownIn, Table, Tone};
use crate::significance::{time_noise, Noise};
use crate::stats::Stat;

/// One row before it becomes cells.
struct Row {
    name: String,
    id: String,
    label: String,
    /// The time change from the base run and its test (runs after the base only).
    time_change: Option<(Option<f64>, Option<f64>, Option<Noise>)>,
    /// Some of its samples are incomplete: the run's label is marked.
    incomplete: bool,
    values: Vec<Option<f64>>,
}

/// Sections of benchmarks: one titled table per section, or with `merged` (the default
/// `--group-by fullname`, where each section is one benchmark) one table.
/// `change_stat`: the stat whose change from the base the time Δ column shows.
pub(super) fn sections(
    m: &Matrix,
    sections: &[(String, Vec<String>)],
    merged: bool,
    metrics: &[Metric],
    stats: &[Stat],
    change_stat: Stat,
) -> Vec<Section> {
    let columns: Vec<(Metric, Stat)> = metrics
        .iter()
        .flat_map(|&mt| stats.iter().map(move |&s| (mt, s)))
        .collect();
    let show_stat = stats != [Stat::Min];
    let section = section_of(sections);
    // With the default grouping the section is the id itself: CSV needs no column for it.
    let with_section = sections
        .iter()
        .any(|(title, ids)| ids.iter().any(|id| id != title));
    // One table of the rows of `ids`, each in run order.
    let table_of = |ids: &[String], scopes: &[Vec<String>]| {
        let columns = &columns;
        let rows: Vec<Row> = ids
            .iter()
            .flat_map(|id| {
                let base = m.sides.first().and_then(|b| b.get(id));
                m.sides.iter().enumerate().filter_map(move |(i, side)| {
                    side.get(id).map(|r| Row {
                        name: m.name(id).to_string(),
                        id: id.clone(),
                        label: side.label.clone(),
                        time_change: (i > 0).then(|| {
                            let value = |r: Option<&crate::blob::Record>| {
                                r.and_then(|r| shown_value(r, Metric::Time, change_stat))
                            };
                            let noise = base.and_then(|b| time_noise(b, r));
                            (value(base), value(Some(r)), noise)
                        }),
                        incomplete: !r.incomplete.is_empty(),
                        values: columns
                            .iter()
                            .map(|&(mt, s)| shown_value(r, mt, s))
                            .collect(),
                    })
                })
            })
            .collect();
        let time_delta = m.sides.len() > 1 && metrics.contains(&Metric::Time);
        let mut t = table(&rows, columns, scopes, show_stat, with_section, &section);
        if time_delta {
            add_time_change(&mut t, &rows, columns);
        }
        t
    };
    if merged {
        let ids: Vec<String> = sections.iter().flat_map(|(_, ids)| ids.clone()).collect();
        // Each section is a scope: merged, each benchmark is compared with itself across runs.
        let scopes: Vec<Vec<String>> = sections.iter().map(|(_, ids)| ids.clone()).collect();
        return vec![Section {
            title: None,
            table: table_of(&ids, &scopes),
        }];
    }
    sections
        .iter()
        .map(|(title, ids)| Section {
            title: Some(format!(
                "{title}: {} benchmark{}",
                ids.len(),
                if ids.len() == 1 { "" } else { "s" }
            )),
            table: table_of(ids, std::slice::from_ref(ids)),
        })
        .collect()
}

fn section_of(sections: &[(String, Vec<String>)]) -> HashMap<String, String> {
    sections
        .iter()
        .flat_map(|(t, ids)| ids.iter().map(move |id| (id.clone(), t.clone())))
        .collect()
}

/// The time Δ column (after the last time column), and the p-value for CSV.
fn add_time_change(t: &mut Table, rows: &[Row], columns: &[(Metric, Stat)]) {
    let Some(last_time) = columns.iter().rposition(|(mt, _)| *mt == Metric::Time) else {
        return;
    };
    // Index among the table's columns: the metric columns follow the text ones.
    let at = t.columns.len() - columns.len() + last_time + 1;
    t.columns.insert(
        at,
        Column::numbers(Header::Text("time Δ".into())).only(ShownIn::Display),
    );
    t.columns.insert(
        at + 1,
        Column::numbers(Header::Text("time:p_value".into())).only(ShownIn::Data),
    );
    for (cells, r) in t.rows.iter_mut().zip(rows) {
        let (change, p) = match r.time_change {
            None => (Cell::Empty, Cell::P(None)),
            Some((base, head, noise)) => (
                Cell::Change { base, head, noise },
                Cell::P(match noise {
                    Some(Noise::Tested { p, .. }) => Some(p),
                    _ => None,
                }),
            ),
        };
        cells.insert(at, change);
        cells.insert(at + 1, p);
    }
}

/// `scopes`: groups of ids whose rows are compared with each other for the multiplier.
fn table(
    rows: &[Row],
    columns: &[(Metric, Stat)],
    scopes: &[Vec<String>],
    show_stat: bool,
    with_section: bool,
    section: &HashMap<String, String>,
) -> Table {
    let scope_of: HashMap<&str, usize> = scopes
        .iter()
        .enumerate()
        .flat_map(|(i, ids)| ids.iter().map(move |id| (id.as_str(), i)))
        .collect();
    let row_scope: Vec<usize> = rows
        .iter()
        .map(|r| scope_of.get(r.id.as_str()).copied().unwrap_or(0))
        .collect();
    let mut size = vec![0usize; scopes.len().max(1)];
    for &s in &row_scope {
        size[s] += 1;
    }
    let mut table = Table::default();
    if with_section {
        table
            .columns
            .push(Column::text("section").only(ShownIn::Data));
    }
    // Repeat the benchmark name only on the first of its rows: the eye groups them.
    let mut benchmark = Column::text("benchmark").only(ShownIn::Display);
    benchmark.blank_repeats = true;
    // People see the run marked when some of its samples are incomplete; CSV keeps the
    // label as it is, a key to group rows by.
    table.columns.extend([
        Column::text("id").only(ShownIn::Data),
        benchmark,
        Column::text("run").only(ShownIn::Display),
        Column::text("run").only(ShownIn::Data),
    ]);
    table.rows = rows
        .iter()
        .map(|r| {
            let mut c = Vec::new();
            if with_section {
                c.push(Cell::Text(section.get(&r.id).cloned().unwrap_or_default()));
            }
            c.push(Cell::Text(r.id.clone()));
            c.push(Cell::Text(r.name.clone()));
            c.push(Cell::Text(if r.incomplete {
                format!("{}{}", r.label, crate::table::INCOMPLETE_MARK)
            } else {
                r.label.clone()
            }));
            c.push(Cell::Text(r.label.clone()));
            c
        })
        .collect();
    for (ci, &(metric, stat)) in columns.iter().enumerate() {
        let first_of_group = ci == 0 || columns[ci - 1].0 != metric;
        let by_stat: Vec<(Stat, Vec<f64>)> = columns
            .iter()
            .enumerate()
            .filter(|(_, (mt, _))| *mt == metric)
            .map(|(j, &(_, s))| (s, rows.iter().filter_map(|r| r.values[j]).collect()))
            .collect();
        let unit = group_unit(metric, &by_stat);
        table.columns.push(Column::numbers(Header::Metric {
            metric,
            stat: Some(stat),
            stat_shown: show_stat,
            unit,
            first_of_group,
        }));
        // Smallest and largest value per scope.
        let mut range: Vec<Option<(f64, f64)>> = vec![None; size.len()];
        for (r, &s) in rows.iter().zip(&row_scope) {
            if let Some(v) = r.values[ci] {
                let (lo, hi) = range[s].get_or_insert((v, v));
                *lo = lo.min(v);
                *hi = hi.max(v);
            }
        }
        for ((row, r), &s) in table.rows.iter_mut().zip(rows).zip(&row_scope) {
            let raw = r.values[ci];
            let (best, tone) = match (raw, range[s]) {
                (Some(x), Some((best, worst))) => {
                    let tone = if best == worst {
                        Tone::Plain
                    } else if x == best {
                        Tone::Better
                    } else if x == worst {
                        Tone::Worse
                    } else {
                        Tone::Plain
                    };
                    ((size[s] > 1).then_some(best), tone)
                }
                _ => (None, Tone::Plain),
            };
            row.push(Cell::Scaled {
                raw,
                unit,
                best,
                tone,
            });
        }
    }
    table
}
