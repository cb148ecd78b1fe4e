//! The side-by-side view: one row per benchmark and run, each value with its multiple of
//! the best (smallest) value in its column and section: `83.10 (1.00)`, `2,129.92 (25.63)`.

use std::collections::HashMap;

use super::matrix::{Matrix, shown_value};
use crate::metrics::Metric;
use crate::report::{Cell, Column, Header, Section, ShownIn, Table, Tone, metric_units};
use crate::significance::{Noise, time_noise};
use crate::stats::Stat;
use crate::units::ColumnUnit;

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
    /// The `extra:NAME` values, in the order of the columns.
    extras: Vec<Option<f64>>,
}

/// The number `extra_info.NAME` of a benchmark holds, else its numeric parameter `NAME`
/// (one namespace, as `--pivot` reads them); a boolean or a text is no number.
pub(super) fn extra_number(r: &crate::blob::Record, name: &str) -> Option<f64> {
    let value = match r.extra.get(name) {
        Some(v) => v.as_f64(),
        None => r.params.get(name).and_then(|p| p.parse::<f64>().ok()),
    };
    value.filter(|v| v.is_finite())
}

/// Sections of benchmarks: one titled table per section, or with `merged` (the default
/// `--group-by fullname`, where each section is one benchmark) one table.
/// `change_stat`: the stat whose change from the base the time Δ column shows.
pub(super) fn sections(
    m: &Matrix,
    sections: &[(String, Vec<String>)],
    merged: bool,
    columns: &[(Metric, Stat)],
    extras: &[String],
    show_stat: bool,
    change_stat: Stat,
) -> (Vec<Section>, Vec<Metric>) {
    let section = section_of(sections);
    // With the default grouping the section is the id itself: CSV needs no column for it.
    let with_section = sections
        .iter()
        .any(|(title, ids)| ids.iter().any(|id| id != title));
    // One table of the rows of `ids`, each in run order.
    // A benchmark with no value in any column of any run (rss of a benchmark never run
    // isolated) would be rows of dashes: it is left out, as pytest-benchmem leaves it.
    let shown = |id: &String| {
        m.sides.iter().filter_map(|s| s.get(id)).any(|r| {
            columns
                .iter()
                .any(|&(mt, s)| shown_value(r, mt, s).is_some())
                || extras.iter().any(|e| extra_number(r, e).is_some())
        })
    };
    let table_of = |ids: &[String], scopes: &[Vec<String>]| {
        let rows: Vec<Row> = ids
            .iter()
            .filter(|id| shown(id))
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
                        extras: extras.iter().map(|e| extra_number(r, e)).collect(),
                    })
                })
            })
            .collect();
        let time_delta = m.sides.len() > 1 && columns.iter().any(|(mt, _)| *mt == Metric::Time);
        let (mut t, flat) = table(
            &rows,
            columns,
            scopes,
            show_stat,
            with_section,
            &section,
            m.series_header(),
        );
        // A label describes the benchmark, it does not compete: no multiple, no colour.
        for (j, name) in extras.iter().enumerate() {
            t.columns.push(Column::numbers(Header::Extra(name.clone())));
            for (cells, r) in t.rows.iter_mut().zip(&rows) {
                cells.push(Cell::Label(r.extras[j]));
            }
        }
        if time_delta {
            add_time_change(&mut t, &rows);
        }
        (t, flat)
    };
    if merged {
        let ids: Vec<String> = sections.iter().flat_map(|(_, ids)| ids.clone()).collect();
        // Each section is a scope: merged, each benchmark is compared with itself across runs.
        let scopes: Vec<Vec<String>> = sections.iter().map(|(_, ids)| ids.clone()).collect();
        let (table, flat) = table_of(&ids, &scopes);
        return (vec![Section { title: None, table }], flat);
    }
    let mut collapsed: Vec<Metric> = Vec::new();
    let tables = sections
        .iter()
        .map(|(title, ids)| {
            let (table, flat) = table_of(ids, std::slice::from_ref(ids));
            for mt in flat {
                if !collapsed.contains(&mt) {
                    collapsed.push(mt);
                }
            }
            Section {
                title: Some(format!(
                    "{title}: {} benchmark{}",
                    ids.len(),
                    if ids.len() == 1 { "" } else { "s" }
                )),
                table,
            }
        })
        .collect();
    (tables, collapsed)
}

fn section_of(sections: &[(String, Vec<String>)]) -> HashMap<String, String> {
    sections
        .iter()
        .flat_map(|(t, ids)| ids.iter().map(move |id| (id.clone(), t.clone())))
        .collect()
}

/// The time Δ column (after the last time column), and the p-value for CSV.
fn add_time_change(t: &mut Table, rows: &[Row]) {
    let Some(last_time) = t.columns.iter().rposition(|c| {
        matches!(
            c.header,
            Header::Metric {
                metric: Metric::Time,
                ..
            }
        )
    }) else {
        return;
    };
    let at = last_time + 1;
    t.columns.insert(
        at,
        Column::numbers(Header::Text("time Δ".into()))
            .only(ShownIn::Display)
            .joined(),
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
    series: &str,
) -> (Table, Vec<Metric>) {
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
        Column::text(series).only(ShownIn::Display),
        Column::text(series).only(ShownIn::Data),
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
    let scoping = Scoping {
        rows: row_scope,
        size,
    };
    let mut collapsed = Vec::new();
    let mut metrics: Vec<Metric> = columns.iter().map(|(m, _)| *m).collect();
    metrics.dedup();
    for metric in metrics {
        let group: Vec<(usize, Stat)> = columns
            .iter()
            .enumerate()
            .filter(|(_, (mt, _))| *mt == metric)
            .map(|(j, &(_, s))| (j, s))
            .collect();
        let present: Vec<Vec<f64>> = group
            .iter()
            .map(|&(j, _)| rows.iter().filter_map(|r| r.values[j]).collect())
            .collect();
        let units = metric_units(metric, &present);
        // With several stats, a metric whose every series is one value repeated has
        // nothing to spread: people get one column, CSV keeps them all.
        let at = |want: Stat| group.iter().find(|(_, s)| *s == want).map(|&(j, _)| j);
        let flat = match (at(Stat::Min), at(Stat::Max)) {
            (Some(lo), Some(hi)) => rows.iter().all(|r| r.values[lo] == r.values[hi]),
            _ => false,
        };
        if flat {
            collapsed.push(metric);
            let (j, _) = group[0];
            let (unit, _) = units[0];
            let header = (metric, None, false);
            push_column(
                &mut table,
                rows,
                &scoping,
                j,
                header,
                (unit, true),
                ShownIn::Display,
            );
        }
        let formats = if flat { ShownIn::Data } else { ShownIn::All };
        for (&(j, stat), &unit) in group.iter().zip(&units) {
            let header = (metric, Some(stat), show_stat);
            push_column(&mut table, rows, &scoping, j, header, unit, formats);
        }
    }
    (table, collapsed)
}

/// Which rows are compared with which for the multiplier: each row's scope, and how many
/// rows each scope holds.
struct Scoping {
    rows: Vec<usize>,
    size: Vec<usize>,
}

/// One metric column: values `j` of the rows, each with its multiple of the best value
/// of its scope. The header: the metric, its stat (CSV names it; people see it when
/// `stat_shown`), and the unit when `name_unit`.
fn push_column(
    table: &mut Table,
    rows: &[Row],
    scoping: &Scoping,
    j: usize,
    (metric, stat, stat_shown): (Metric, Option<Stat>, bool),
    (unit, name_unit): (ColumnUnit, bool),
    formats: ShownIn,
) {
    table.columns.push(
        Column::numbers(Header::Metric {
            metric,
            stat,
            stat_shown,
            unit,
            name_unit,
        })
        .only(formats),
    );
    // Smallest and largest value per scope.
    let mut range: Vec<Option<(f64, f64)>> = vec![None; scoping.size.len()];
    for (r, &s) in rows.iter().zip(&scoping.rows) {
        if let Some(v) = r.values[j] {
            let (lo, hi) = range[s].get_or_insert((v, v));
            *lo = lo.min(v);
            *hi = hi.max(v);
        }
    }
    for ((row, r), &s) in table.rows.iter_mut().zip(rows).zip(&scoping.rows) {
        let raw = r.values[j];
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
                ((scoping.size[s] > 1).then_some(best), tone)
            }
            _ => (None, Tone::Plain),
        };
        row.push(Cell::Scaled {
            raw,
            quantity: metric.quantity(),
            unit,
            best,
            tone,
        });
    }
}
