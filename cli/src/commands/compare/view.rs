//! The side-by-side view: one row per benchmark and run, each value with its multiple of
//! the best (smallest) value in its column and section: `83.10 (1.00)`, `2,129.92 (25.63)`.

use std::collections::HashMap;

use super::model::Matrix;
use crate::escape;
use crate::grid::{Align, Format, Grid};
use crate::metrics::Metric;
use crate::output::Painter;
use crate::stats::Stat;
use crate::table::{group_unit, header, raw_cell};
use crate::units::format_in;

/// One row before formatting.
struct Row {
    name: String,
    id: String,
    label: String,
    values: Vec<Option<f64>>,
}

/// Render sections of benchmarks: one titled table per section, or with `merged` (the
/// default `--group-by fullname`, where each section is one benchmark) one table.
pub fn render(
    m: &Matrix,
    sections: &[(String, Vec<String>)],
    merged: bool,
    metrics: &[Metric],
    stats: &[Stat],
    format: Format,
    painter: Painter,
) -> String {
    let columns: Vec<(Metric, Stat)> = metrics
        .iter()
        .flat_map(|&mt| stats.iter().map(move |&s| (mt, s)))
        .collect();
    let show_stat = stats != [Stat::Min];
    let section = section_of(sections);
    // One table of the rows of `ids`, each in run order.
    let table_of = |ids: &[String], scopes: &[Vec<String>]| {
        let rows: Vec<Row> = ids
            .iter()
            .flat_map(|id| {
                m.sides.iter().filter_map(|side| {
                    side.get(id).map(|r| Row {
                        name: m.name(id).to_string(),
                        id: id.clone(),
                        label: side.label.clone(),
                        values: columns.iter().map(|&(mt, s)| r.value(mt, s)).collect(),
                    })
                })
            })
            .collect();
        table(
            &rows, &columns, scopes, show_stat, format, painter, &section,
        )
    };
    if merged || format == Format::Csv {
        let ids: Vec<String> = sections.iter().flat_map(|(_, ids)| ids.clone()).collect();
        // Each section is a scope: merged, each benchmark is compared with itself across runs.
        let scopes: Vec<Vec<String>> = sections.iter().map(|(_, ids)| ids.clone()).collect();
        return table_of(&ids, &scopes);
    }
    let mut out = String::new();
    for (title, ids) in sections {
        let heading = format!(
            "{title}: {} benchmark{}",
            ids.len(),
            if ids.len() == 1 { "" } else { "s" }
        );
        // The title is made of names, groups and params from the runs, and starts the line.
        match format {
            Format::Md => out.push_str(&format!("#### {}\n\n", escape::markdown(&heading))),
            _ => out.push_str(&format!("{}\n", escape::line(&heading))),
        }
        out.push_str(&table_of(ids, std::slice::from_ref(ids)));
        out.push('\n');
    }
    out
}

fn section_of(sections: &[(String, Vec<String>)]) -> HashMap<String, String> {
    sections
        .iter()
        .flat_map(|(t, ids)| ids.iter().map(move |id| (id.clone(), t.clone())))
        .collect()
}

/// `scopes`: groups of ids whose rows are compared with each other for the multiplier.
fn table(
    rows: &[Row],
    columns: &[(Metric, Stat)],
    scopes: &[Vec<String>],
    show_stat: bool,
    format: Format,
    painter: Painter,
    section: &HashMap<String, String>,
) -> String {
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
    let mut cols = vec![
        ("benchmark".to_string(), Align::Left),
        ("run".to_string(), Align::Left),
    ];
    // With the default grouping the section is the id itself: no column for it.
    let with_section =
        format == Format::Csv && rows.iter().any(|r| section.get(&r.id) != Some(&r.id));
    if format == Format::Csv {
        cols[0].0 = "id".to_string();
        if with_section {
            cols.insert(0, ("section".to_string(), Align::Left));
        }
    }
    let mut cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut c = Vec::new();
            if format == Format::Csv {
                if with_section {
                    c.push(section.get(&r.id).cloned().unwrap_or_default());
                }
                c.push(r.id.clone());
            } else {
                c.push(r.name.clone());
            }
            c.push(r.label.clone());
            c
        })
        .collect();
    // Repeat the benchmark name only on the first of its rows: the eye groups them.
    if format == Format::Table {
        for i in (1..rows.len()).rev() {
            if rows[i].id == rows[i - 1].id {
                cells[i][0] = String::new();
            }
        }
    }
    for (ci, &(metric, stat)) in columns.iter().enumerate() {
        let first_of_group = ci == 0 || columns[ci - 1].0 != metric;
        let by_stat: Vec<(Stat, Vec<f64>)> = columns
            .iter()
            .enumerate()
            .filter(|(_, (mt, _))| *mt == metric)
            .map(|(j, &(_, s))| (s, rows.iter().filter_map(|r| r.values[j]).collect()))
            .collect();
        let unit = group_unit(metric, &by_stat);
        let title = if format == Format::Csv {
            format!("{}:{}", metric.cli_name(), stat.name())
        } else {
            header(metric, show_stat.then_some(stat), unit, first_of_group)
        };
        cols.push((title, Align::Right));
        // Smallest and largest value per scope.
        let mut range: Vec<Option<(f64, f64)>> = vec![None; size.len()];
        for (r, &s) in rows.iter().zip(&row_scope) {
            if let Some(v) = r.values[ci] {
                let (lo, hi) = range[s].get_or_insert((v, v));
                *lo = lo.min(v);
                *hi = hi.max(v);
            }
        }
        for ((row, r), &s) in cells.iter_mut().zip(rows).zip(&row_scope) {
            let text = match (format, r.values[ci], range[s]) {
                (Format::Csv, v, _) => raw_cell(v),
                (_, Some(x), Some((best, worst))) => {
                    let mut t = format_in(x, unit);
                    if size[s] > 1 {
                        t.push_str(&format!(" ({})", multiple(x, best)));
                    }
                    // The painter leaves Markdown plain.
                    if best != worst {
                        if x == best {
                            t = painter.better(&t);
                        } else if x == worst {
                            t = painter.worse(&t);
                        }
                    }
                    t
                }
                _ => "—".to_string(),
            };
            row.push(text);
        }
    }
    let mut grid = Grid::new(cols);
    grid.rows = cells;
    grid.render(format)
}

/// `x` as a multiple of the best value: `1.00`, `25.63`, `>1000.0`, `inf` (best is 0).
fn multiple(x: f64, best: f64) -> String {
    if best > 0.0 {
        let r = x / best;
        if r > 1000.0 {
            ">1000.0".to_string()
        } else {
            format!("{r:.2}")
        }
    } else if x > 0.0 {
        "inf".to_string()
    } else {
        "1.00".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiples() {
        assert_eq!(multiple(85094.0, 85094.0), "1.00");
        assert_eq!(multiple(2181038.0, 85094.0), "25.63");
        assert_eq!(multiple(5e6, 1.0), ">1000.0");
        assert_eq!(multiple(5.0, 0.0), "inf");
        assert_eq!(multiple(0.0, 0.0), "1.00");
    }
}
