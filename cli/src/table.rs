//! The benchmark table of `run` and `show`.
//!
//! Schema: one row per benchmark (region); one column per shown metric headed
//! `peak (MiB)`, `allocated (MiB)`, `allocs`. As soon as any benchmark holds more than one
//! sample, every metric spreads into one column per stat (`peak·min (MiB)`, `peak·mean`,
//! `peak·max`), always, so scripts reading the table see a stable schema. One unit per
//! metric group, anchored on its smallest positive value.
//!
//! A region closed more often than there were repeats (once per iteration of a loop) also
//! gets a per-op view, in two more columns when any row has one: `B/op` and `allocs/op`,
//! the mean allocated bytes and allocations per sample, as `go test -benchmem` prints
//! them; the caption says how many samples each such region has.

use std::collections::HashMap;

use crate::blob::{PerOp, Record, Run};
use crate::metrics::Metric;
use crate::report::{
    Cell, Column, Header, NoteLayout, Report, Section, ShownIn, Table, Tone, metric_units,
};
use crate::stats::Stat;
use crate::units::{Quantity, human};

/// Marker appended to the name of a row whose samples are not all clean measurements.
pub(crate) const INCOMPLETE_MARK: &str = " *";

/// What a run/show table says it measured: one line.
fn caption(metrics: &[Metric], subject: &str, timing: &str, repeats: &str, stddev: bool) -> String {
    let mut parts = Vec::new();
    let explain: Vec<&str> = metrics
        .iter()
        .filter_map(|m| match m {
            Metric::Peak => Some("peak = high-water of live bytes"),
            Metric::Allocated => Some("allocated = sum of requests"),
            Metric::Allocations => Some("allocs = allocation calls"),
            Metric::Retained => Some("retained = still live at the end"),
            Metric::Time | Metric::Rss => None,
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

/// What the caption says of metrics shown in one column for want of spread:
/// `no spread in peak and allocs: every repeat measured the same, one column each`.
pub(crate) fn no_spread(metrics: &[Metric]) -> String {
    let names: Vec<&str> = metrics.iter().map(|m| m.header()).collect();
    let list = match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => names.join(""),
    };
    if metrics.len() == 1 {
        format!("no spread in {list}: every repeat measured the same, one column")
    } else {
        format!("no spread in {list}: every repeat measured the same, one column each")
    }
}

/// `N repeat(s)`, the repeats of a run of benchmem's.
fn repeats_of(n: u64) -> String {
    if n == 1 {
        "1 repeat".to_string()
    } else {
        format!("{n} repeats")
    }
}

/// What the caption says of the per-op columns: which regions have them, with how many
/// samples each.
fn per_op_text(records: &[(String, PerOp)]) -> String {
    let shown: Vec<String> = records
        .iter()
        .take(4)
        .map(|(n, p)| format!("{n}: {} samples", crate::units::count(p.ops as f64)))
        .collect();
    let more = match records.len() {
        n if n > 4 => format!(", and {} more", n - 4),
        _ => String::new(),
    };
    format!(
        "B/op, allocs/op = mean allocated and allocations per sample of a region closed \
         many times a repeat, as in go test -benchmem ({}{more})",
        shown.join(", ")
    )
}

/// How many samples the records hold, as caption text: `1 repeat`, `5 repeats`,
/// `1–5 repeats`.
fn repeats_text(counts: impl IntoIterator<Item = usize>) -> String {
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

/// The table of one run for `show` and `run`.
///
/// `metrics` absent from every benchmark are dropped; an error when none is left.
pub(crate) fn run_table(run: &Run, metrics: &[Metric], spread: &[Stat]) -> Result<Report, String> {
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
    let mut table = Table {
        columns: vec![
            Column::text("name"),
            Column::text("fullname").only(ShownIn::Data),
        ],
        rows: names
            .iter()
            .zip(&run.records)
            .map(|(n, r)| {
                let mark = if r.incomplete.is_empty() {
                    ""
                } else {
                    INCOMPLETE_MARK
                };
                vec![
                    Cell::Text(format!("{n}{mark}")),
                    Cell::Text(r.fullname.clone()),
                ]
            })
            .collect(),
    };
    // A metric whose every series holds one value repeated has nothing to spread: people
    // get one column, CSV keeps one per stat so its schema does not change with the data.
    let mut collapsed = Vec::new();
    for &m in &shown {
        let flat = multi
            && stats.len() > 1
            && run
                .records
                .iter()
                .all(|r| r.value(m, Stat::Min) == r.value(m, Stat::Max));
        if flat {
            collapsed.push(m);
            push_metric(&mut table, run, m, &[None], ShownIn::Display);
            push_metric(&mut table, run, m, &stats, ShownIn::Data);
        } else {
            push_metric(&mut table, run, m, &stats, ShownIn::All);
        }
    }
    let per_op: Vec<(String, PerOp)> = names
        .iter()
        .zip(&run.records)
        .filter_map(|(n, r)| Some((n.clone(), r.per_op?)))
        .collect();
    let per_op_metrics: Vec<Metric> = [Metric::Allocated, Metric::Allocations]
        .into_iter()
        .filter(|m| shown.contains(m))
        .collect();
    let per_op_shown = !per_op.is_empty() && !per_op_metrics.is_empty();
    if per_op_shown {
        push_per_op(&mut table, run, &per_op_metrics);
    }
    let by_benchmem = run.repeats.is_some();
    let counts = run
        .records
        .iter()
        .map(|r| shown.iter().map(|m| r.samples(*m)).max().unwrap_or(0));
    let mut repeats = match run.repeats {
        // A region may have many samples a repeat: the caption counts repeats.
        Some(n) => repeats_of(n),
        None => repeats_text(counts),
    };
    if per_op_shown {
        repeats = format!("{repeats}; {}", per_op_text(&per_op));
    }
    let data_caption = caption(
        &shown,
        if by_benchmem { "region" } else { "benchmark" },
        if by_benchmem {
            "region wall time during the profiled pass"
        } else {
            "pytest-benchmark's timed rounds"
        },
        &repeats,
        multi && spread.contains(&Stat::Stddev),
    );
    let caption = if collapsed.is_empty() {
        data_caption.clone()
    } else {
        format!("{data_caption}; {}", no_spread(&collapsed))
    };
    let mut notes = Vec::new();
    for (n, r) in names.iter().zip(&run.records) {
        for why in &r.incomplete {
            notes.push(format!("* {n}: incomplete: {why}"));
        }
    }
    for n in &run.notes {
        notes.push(format!("note: {n}"));
    }
    Ok(Report {
        sections: vec![Section { title: None, table }],
        caption,
        data_caption: Some(data_caption),
        notes,
        layout: NoteLayout::Statements,
    })
}

/// The columns of metric `m`, one per stat (`None`: the metric alone, its min), shown in
/// `formats`.
fn push_metric(table: &mut Table, run: &Run, m: Metric, stats: &[Option<Stat>], formats: ShownIn) {
    let values: Vec<Vec<Option<f64>>> = stats
        .iter()
        .map(|s| {
            let st = s.unwrap_or(Stat::Min);
            run.records.iter().map(|r| r.value(m, st)).collect()
        })
        .collect();
    let present: Vec<Vec<f64>> = values
        .iter()
        .map(|v| v.iter().flatten().copied().collect())
        .collect();
    let units = metric_units(m, &present);
    for ((stat, vals), (unit, name_unit)) in stats.iter().zip(&values).zip(units) {
        table.columns.push(
            Column::numbers(Header::Metric {
                metric: m,
                stat: *stat,
                stat_shown: stat.is_some(),
                unit,
                name_unit,
            })
            .only(formats),
        );
        for (row, v) in table.rows.iter_mut().zip(vals) {
            row.push(Cell::Scaled {
                raw: *v,
                quantity: m.quantity(),
                unit,
                best: None,
                tone: Tone::Plain,
            });
        }
    }
}

/// The per-op columns (`B/op`, `allocs/op`) of the metrics among `metrics`: a region's
/// mean per sample where it has a per-op view, blank elsewhere.
fn push_per_op(table: &mut Table, run: &Run, metrics: &[Metric]) {
    for &m in metrics {
        let (header, quantity) = match m {
            Metric::Allocated => ("B/op", Quantity::Bytes),
            _ => ("allocs/op", Quantity::Count),
        };
        table
            .columns
            .push(Column::numbers(Header::Text(header.to_string())));
        for (row, r) in table.rows.iter_mut().zip(&run.records) {
            row.push(match r.per_op {
                Some(p) => Cell::Human {
                    raw: Some(if m == Metric::Allocated {
                        p.bytes
                    } else {
                        p.allocs
                    }),
                    quantity,
                },
                None => Cell::Empty,
            });
        }
    }
}

/// `report` (one section, a row per record of `run`, in order) split into one section per
/// command of a several-command run, titled by the command's name (the records' group);
/// within a section a row is named by its region or process alone.
pub(crate) fn by_command(mut report: Report, run: &Run) -> Report {
    let Some(section) = report.sections.pop() else {
        return report;
    };
    let Table { columns, rows } = section.table;
    let mut sections: Vec<Section> = Vec::new();
    let mut groups: Vec<Vec<&Record>> = Vec::new();
    for (mut row, r) in rows.into_iter().zip(&run.records) {
        let title = r.group.clone();
        if sections.last().is_none_or(|s| s.title != title) {
            sections.push(Section {
                title,
                table: Table {
                    columns: columns.clone(),
                    rows: Vec::new(),
                },
            });
            groups.push(Vec::new());
        }
        let group = groups.last_mut().expect("pushed with its section");
        group.push(r);
        let mark = if r.incomplete.is_empty() {
            ""
        } else {
            INCOMPLETE_MARK
        };
        row[0] = Cell::Text(format!("{}{mark}", r.name));
        sections
            .last_mut()
            .expect("pushed above")
            .table
            .rows
            .push(row);
    }
    // Two rows of one command with the same short name keep their full ids.
    for (section, records) in sections.iter_mut().zip(&groups) {
        let names = row_names(records.iter().copied());
        for ((row, r), n) in section.table.rows.iter_mut().zip(records).zip(names) {
            if n != r.name {
                let mark = if r.incomplete.is_empty() {
                    ""
                } else {
                    INCOMPLETE_MARK
                };
                row[0] = Cell::Text(format!("{n}{mark}"));
            }
        }
    }
    report.sections = sections;
    report
}

/// `report` with one line about the helper processes left out of its rows (what a shim
/// such as pyenv's ran before the program): how many, which programs, how much memory.
pub(crate) fn fold_helpers(mut report: Report, helpers: &[Record]) -> Report {
    if helpers.is_empty() {
        return report;
    }
    let mut programs: Vec<&str> = Vec::new();
    for h in helpers {
        let base = h.name.split_once('#').map_or(h.name.as_str(), |(b, _)| b);
        if !programs.contains(&base) {
            programs.push(base);
        }
    }
    let shown = if programs.len() > 6 {
        format!("{}, ...", programs[..6].join(", "))
    } else {
        programs.join(", ")
    };
    let headline = |m: Metric| helpers.iter().filter_map(move |h| h.value(m, Stat::Min));
    let largest = headline(Metric::Peak).fold(0.0, f64::max);
    let allocated: f64 = headline(Metric::Allocated).sum();
    report.notes.insert(
        0,
        format!(
            "+ {} helper process{} that ran before the program ({shown}): largest peak {}, \
             {} allocated in all; --all-processes lists them",
            helpers.len(),
            if helpers.len() == 1 { "" } else { "es" },
            human(Quantity::Bytes, largest),
            human(Quantity::Bytes, allocated),
        ),
    );
    report
}

/// Short names where they are unique, full ids where two benchmarks share a name.
pub(crate) fn row_names<'a>(records: impl IntoIterator<Item = &'a Record>) -> Vec<String> {
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

    #[test]
    fn repeats_and_caption() {
        assert_eq!(repeats_text([1, 1]), "1 repeat");
        assert_eq!(repeats_text([5, 5]), "5 repeats");
        assert_eq!(repeats_text([1, 5]), "1–5 repeats");
        assert_eq!(
            caption(
                &[Metric::Peak, Metric::Allocated, Metric::Allocations],
                "region",
                "",
                "3 repeats",
                false
            ),
            "memory: exact bytes requested from malloc/mmap inside each region (peak = high-water of live bytes, allocated = sum of requests, allocs = allocation calls); 3 repeats; headline: min"
        );
    }
}
