//! The benchmark table of `run` and `show`, and the header and caption rules every table
//! shares.
//!
//! Schema: one row per benchmark (region); one column per shown metric headed
//! `peak (MiB)`, `allocated (MiB)`, `allocs`. As soon as any benchmark holds more than one
//! sample, every metric spreads into one column per stat (`peak·min (MiB)`, `peak·mean`,
//! `peak·max`), always, so scripts reading the table see a stable schema. One unit per
//! metric group, anchored on its smallest positive value.

use std::collections::HashMap;

use crate::blob::{Record, Run};
use crate::escape;
use crate::grid::{Align, Format, Grid};
use crate::metrics::Metric;
use crate::output::Painter;
use crate::stats::Stat;
use crate::units::{format_in, Unit};

/// Marker appended to the name of a row whose samples are not all clean measurements.
pub const INCOMPLETE_MARK: &str = " *";

/// Header of one column: `peak (MiB)`, `peak·min (MiB)`, `peak·mean`, `allocs`.
/// The unit goes on the first column of a metric's group only.
pub fn header(metric: Metric, stat: Option<Stat>, unit: Unit, first_of_group: bool) -> String {
    let mut h = metric.header().to_string();
    if let Some(s) = stat {
        h.push('·');
        h.push_str(s.name());
    }
    if first_of_group && !unit.symbol.is_empty() {
        h.push_str(&format!(" ({})", unit.symbol));
    }
    h
}

/// The unit shared by one metric's columns. stddev does not anchor it: a tiny spread
/// would otherwise drag a column of megabytes down to bytes.
pub fn group_unit(metric: Metric, by_stat: &[(Stat, Vec<f64>)]) -> Unit {
    let anchors: Vec<f64> = by_stat
        .iter()
        .filter(|(s, _)| *s != Stat::Stddev || by_stat.len() == 1)
        .flat_map(|(_, v)| v.iter().copied())
        .collect();
    metric.quantity().unit_for(anchors)
}

/// A raw number for CSV: whole numbers without a decimal point, others as Rust prints
/// them (shortest round-trip form), missing as an empty field.
pub fn raw_cell(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() && x.fract() == 0.0 && x.abs() < 9.007_199_254_740_992e15 => {
            format!("{x:.0}")
        }
        Some(x) if x.is_finite() => format!("{x}"),
        _ => String::new(),
    }
}

/// What a run/show table says it measured: one line.
pub fn caption(
    metrics: &[Metric],
    subject: &str,
    timing: &str,
    repeats: &str,
    stddev: bool,
) -> String {
    let mut parts = Vec::new();
    let explain: Vec<&str> = metrics
        .iter()
        .filter_map(|m| match m {
            Metric::Peak => Some("peak = high-water of live bytes"),
            Metric::Allocated => Some("allocated = sum of requests"),
            Metric::Allocations => Some("allocs = allocation calls"),
            Metric::Retained => Some("retained = still live at the end"),
            Metric::Time => None,
        })
        .collect();
    if !explain.is_empty() {
        parts.push(format!(
            "memory: exact bytes requested from malloc/mmap inside each {subject} ({})",
            explain.join(", ")
        ));
    }
    if metrics.contains(&Metric::Time) {
        parts.push(format!("time: {timing}"));
    }
    parts.push(repeats.to_string());
    parts.push("headline: min".to_string());
    if stddev {
        parts.push("stddev: sample (n−1)".to_string());
    }
    parts.join("; ")
}

/// How many samples the records hold, as caption text: `1 repeat`, `5 repeats`,
/// `1–5 repeats`.
pub fn repeats_text(counts: impl IntoIterator<Item = usize>) -> String {
    let (lo, hi) = counts
        .into_iter()
        .fold((usize::MAX, 0), |(lo, hi), n| (lo.min(n), hi.max(n)));
    match (lo, hi) {
        (usize::MAX, _) | (_, 0) => "no samples".to_string(),
        (1, 1) => "1 repeat".to_string(),
        (a, b) if a == b => format!("{a} repeats"),
        (a, b) => format!("{a}–{b} repeats"),
    }
}

/// A rendered table with the lines that belong under it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The table (or CSV) itself, already escaped by the grid.
    pub body: String,
    /// Caption, incomplete-sample notes and run notes, one per line, as raw text: they
    /// quote names and reasons from the program, escaped where they are written.
    pub notes: Vec<String>,
}

impl Report {
    /// Table and notes as one text for a reader: CSV keeps only the data (see
    /// [`Report::notes_text`]).
    pub fn text(&self, format: Format, painter: Painter) -> String {
        let mut out = self.body.clone();
        match format {
            Format::Csv => {}
            Format::Table => {
                for n in &self.notes {
                    out.push_str(&painter.dim(&escape::text(n)));
                    out.push('\n');
                }
            }
            Format::Md => {
                for n in &self.notes {
                    out.push('\n');
                    out.push_str(&escape::markdown(n));
                    out.push('\n');
                }
            }
        }
        out
    }

    /// The notes as plain lines, for standard error beside a CSV body.
    pub fn notes_text(&self) -> String {
        self.notes
            .iter()
            .map(|n| format!("{}\n", escape::text(n)))
            .collect()
    }
}

/// The table of one run for `show` and `run`.
///
/// `metrics` absent from every benchmark are dropped; an error when none is left.
pub fn run_table(
    run: &Run,
    metrics: &[Metric],
    spread: &[Stat],
    format: Format,
) -> Result<Report, String> {
    let shown: Vec<Metric> = metrics.iter().copied().filter(|&m| run.has(m)).collect();
    if shown.is_empty() {
        let names: Vec<&str> = metrics.iter().map(|m| m.cli_name()).collect();
        return Err(format!(
            "{}: no benchmark has {} (memory comes from `benchmem run` or the pytest plugin's extra_info.benchmem)",
            run.path.display(),
            names.join(", ")
        ));
    }
    let multi = run
        .records
        .iter()
        .any(|r| shown.iter().any(|m| r.samples(*m) > 1));
    let stats: Vec<Option<Stat>> = if multi {
        spread.iter().copied().map(Some).collect()
    } else {
        vec![None]
    };
    let names = row_names(&run.records);
    let mut columns = vec![("name".to_string(), Align::Left)];
    let mut cells: Vec<Vec<String>> = names
        .iter()
        .zip(&run.records)
        .map(|(n, r)| {
            let mark = if r.incomplete.is_empty() {
                ""
            } else {
                INCOMPLETE_MARK
            };
            vec![format!("{n}{mark}")]
        })
        .collect();
    if format == Format::Csv {
        columns.push(("fullname".to_string(), Align::Left));
        for (row, r) in cells.iter_mut().zip(&run.records) {
            row.push(r.fullname.clone());
        }
    }
    for &m in &shown {
        let values: Vec<(Stat, Vec<Option<f64>>)> = stats
            .iter()
            .map(|s| {
                let st = s.unwrap_or(Stat::Min);
                (st, run.records.iter().map(|r| r.value(m, st)).collect())
            })
            .collect();
        let present: Vec<(Stat, Vec<f64>)> = values
            .iter()
            .map(|(s, v)| (*s, v.iter().flatten().copied().collect()))
            .collect();
        let unit = group_unit(m, &present);
        for (i, (stat_opt, (_, vals))) in stats.iter().zip(&values).enumerate() {
            let title = if format == Format::Csv {
                match stat_opt {
                    Some(s) => format!("{}:{}", m.cli_name(), s.name()),
                    None => m.cli_name().to_string(),
                }
            } else {
                header(m, *stat_opt, unit, i == 0)
            };
            columns.push((title, Align::Right));
            for (row, v) in cells.iter_mut().zip(vals) {
                row.push(match (format, v) {
                    (Format::Csv, v) => raw_cell(*v),
                    (_, Some(x)) => format_in(*x, unit),
                    (_, None) => "—".to_string(),
                });
            }
        }
    }
    let mut grid = Grid::new(columns);
    grid.rows = cells;
    let by_benchmem = run.repeats.is_some();
    let counts = run
        .records
        .iter()
        .map(|r| shown.iter().map(|m| r.samples(*m)).max().unwrap_or(0));
    let mut notes = vec![caption(
        &shown,
        if by_benchmem { "region" } else { "benchmark" },
        if by_benchmem {
            "region wall time during the profiled pass"
        } else {
            "pytest-benchmark's timed rounds"
        },
        &repeats_text(counts),
        multi && spread.contains(&Stat::Stddev),
    )];
    for (n, r) in names.iter().zip(&run.records) {
        for why in &r.incomplete {
            notes.push(format!("* {n}: incomplete: {why}"));
        }
    }
    for n in &run.notes {
        notes.push(format!("note: {n}"));
    }
    Ok(Report {
        body: grid.render(format),
        notes,
    })
}

/// Short names where they are unique, full ids where two benchmarks share a name.
pub fn row_names<'a>(records: impl IntoIterator<Item = &'a Record>) -> Vec<String> {
    let records: Vec<&Record> = records.into_iter().collect();
    let mut count: HashMap<&str, usize> = HashMap::new();
    for r in &records {
        *count.entry(r.name.as_str()).or_default() += 1;
    }
    records
        .iter()
        .map(|r| {
            if count[r.name.as_str()] > 1 {
                r.fullname.clone()
            } else {
                r.name.clone()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::Quantity;

    #[test]
    fn headers() {
        let mib = Quantity::Bytes.unit_for([2.0 * 1048576.0]);
        let count = Quantity::Count.unit_for([1.0]);
        assert_eq!(header(Metric::Peak, None, mib, true), "peak (MiB)");
        assert_eq!(
            header(Metric::Peak, Some(Stat::Min), mib, true),
            "peak·min (MiB)"
        );
        assert_eq!(
            header(Metric::Peak, Some(Stat::Mean), mib, false),
            "peak·mean"
        );
        assert_eq!(header(Metric::Allocations, None, count, true), "allocs");
        assert_eq!(
            header(Metric::Allocations, Some(Stat::Max), count, true),
            "allocs·max"
        );
    }

    #[test]
    fn stddev_does_not_anchor_the_unit() {
        let u = group_unit(
            Metric::Peak,
            &[
                (Stat::Min, vec![3.0 * 1048576.0]),
                (Stat::Stddev, vec![12.0]),
            ],
        );
        assert_eq!(u.symbol, "MiB");
    }

    #[test]
    fn raw_cells() {
        assert_eq!(raw_cell(Some(1221536.0)), "1221536");
        assert_eq!(raw_cell(Some(0.25)), "0.25");
        assert_eq!(raw_cell(None), "");
        assert_eq!(raw_cell(Some(f64::NAN)), "");
    }

    #[test]
    fn repeats_and_caption() {
        assert_eq!(repeats_text([1, 1]), "1 repeat");
        assert_eq!(repeats_text([5, 5]), "5 repeats");
        assert_eq!(repeats_text([1, 5]), "1–5 repeats");
        assert_eq!(
            caption(&[Metric::Peak, Metric::Allocated, Metric::Allocations], "region", "", "3 repeats", false),
            "memory: exact bytes requested from malloc/mmap inside each region (peak = high-water of live bytes, allocated = sum of requests, allocs = allocation calls); 3 repeats; headline: min"
        );
    }
}
