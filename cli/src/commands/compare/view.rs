//! The side-by-side view: one row per benchmark and run, each value with its multiple of
//! the best (smallest) value in its column and section: `83.10 (1.00)`, `2,129.92 (25.63)`.

use std::collections::HashMap;

use super::model::Matrix;
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
    let names = m.names();
    let columns: Vec<(Metric, Stat)> = metrics
        .iter()
        .flat_map(|&mt| stats.iter().map(move |&s| (mt, s)))
        .collect();
    let build = |ids: &[String]| -> Vec<Row> {
        let mut rows = Vec::new();
        for id in ids {
            for side in &m.sides {
                if let Some(r) = side.get(id) {
                    rows.push(Row {
                        name: names.get(id).cloned().unwrap_or_else(|| id.clone()),
                        id: id.clone(),
                        label: side.label.clone(),
                        values: columns.iter().map(|&(mt, s)| r.value(mt, s)).collect(),
                    });
                }
            }
        }
        rows
    };
    let show_stat = stats.len() > 1 || stats != [Stat::Min];
    if merged || format == Format::Csv {
        let ids: Vec<String> = sections.iter().flat_map(|(_, ids)| ids.clone()).collect();
        // Each benchmark is compared with itself across runs.
        let scopes: Vec<Vec<String>> = sections.iter().map(|(_, ids)| ids.clone()).collect();
        let rows = build(&ids);
        return table(
            &rows,
            &columns,
            &scopes,
            show_stat,
            format,
            painter,
            &section_of(sections),
        );
    }
    let mut out = String::new();
    for (title, ids) in sections {
        let heading = format!(
            "{title}: {} benchmark{}",
            ids.len(),
            if ids.len() == 1 { "" } else { "s" }
        );
        match format {
            Format::Md => out.push_str(&format!("#### {heading}\n\n")),
            _ => out.push_str(&format!("{heading}\n")),
        }
        let rows = build(ids);
        let scopes = vec![ids.clone()];
        out.push_str(&table(
            &rows,
            &columns,
            &scopes,
            show_stat,
            format,
            painter,
            &section_of(sections),
        ));
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
        // Best and worst per scope.
        let mut best: HashMap<usize, f64> = HashMap::new();
        let mut worst: HashMap<usize, f64> = HashMap::new();
        let mut size: HashMap<usize, usize> = HashMap::new();
        for r in rows {
            let s = scope_of.get(r.id.as_str()).copied().unwrap_or(0);
            *size.entry(s).or_default() += 1;
            if let Some(v) = r.values[ci] {
                let b = best.entry(s).or_insert(v);
                *b = b.min(v);
                let w = worst.entry(s).or_insert(v);
                *w = w.max(v);
            }
        }
        for (row, r) in cells.iter_mut().zip(rows) {
            let s = scope_of.get(r.id.as_str()).copied().unwrap_or(0);
            let v = r.values[ci];
            let text = match (format, v) {
                (Format::Csv, v) => raw_cell(v),
                (_, None) => "—".to_string(),
                (_, Some(x)) => {
                    let mut t = format_in(x, unit);
                    if size.get(&s).copied().unwrap_or(0) > 1 {
                        t.push_str(&format!(" ({})", multiple(x, best.get(&s).copied())));
                    }
                    let (b, w) = (best.get(&s).copied(), worst.get(&s).copied());
                    if format == Format::Table && b != w {
                        if Some(x) == b {
                            t = painter.better(&t);
                        } else if Some(x) == w {
                            t = painter.worse(&t);
                        }
                    }
                    t
                }
            };
            row.push(text);
        }
    }
    let mut grid = Grid::new(cols);
    grid.rows = cells;
    grid.render(format)
}

/// `x` as a multiple of the best value: `1.00`, `25.63`, `>1000.0`, `inf` (best is 0).
fn multiple(x: f64, best: Option<f64>) -> String {
    match best {
        Some(b) if b > 0.0 => {
            let r = x / b;
            if r > 1000.0 {
                ">1000.0".to_string()
            } else {
                format!("{r:.2}")
            }
        }
        Some(_) if x > 0.0 => "inf".to_string(),
        _ => "1.00".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiples() {
        assert_eq!(multiple(85094.0, Some(85094.0)), "1.00");
        assert_eq!(multiple(2181038.0, Some(85094.0)), "25.63");
        assert_eq!(multiple(5e6, Some(1.0)), ">1000.0");
        assert_eq!(multiple(5.0, Some(0.0)), "inf");
        assert_eq!(multiple(0.0, Some(0.0)), "1.00");
    }
}
