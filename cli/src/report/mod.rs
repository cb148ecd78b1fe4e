//! Reports: what `run`, `show` and `compare` print, as one typed model ([`Report`]) that
//! each output format renders in a module of its own: [`terminal`], [`markdown`], [`csv`].
//!
//! The model holds data, not text to print: cells carry raw values with their unit or
//! quantity, headers carry their metric and stat, names stay as the runs spell them. Each
//! renderer decides how a value reads in its format and escapes the untrusted text it
//! writes ([`crate::escape`]), so no builder of a report formats or escapes anything.

mod csv;
mod markdown;
mod terminal;
pub(crate) mod wrap;

use std::cmp::Ordering;

use crate::console::Painter;
use crate::gate::percent_change;
use crate::metrics::Metric;
use crate::significance::Noise;
use crate::stats::Stat;
use crate::units::{ColumnUnit, Quantity, cell, human};

/// Output format of every report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// A boxed table for the terminal.
    Table,
    /// A GitHub-flavoured Markdown table (PR comments, job summaries).
    Md,
    /// Comma-separated values with raw, unscaled numbers (bytes, seconds, calls).
    Csv,
}

/// Tables with a caption and notes.
#[derive(Clone, Debug)]
pub(crate) struct Report {
    /// The tables, in order; CSV writes their rows as one table.
    pub sections: Vec<Section>,
    /// What the numbers are, one line.
    pub caption: String,
    /// The caption of the CSV, when it must say something else (its numbers are raw).
    pub data_caption: Option<String>,
    /// Lines under the caption (incomplete rows, run notes, benchmarks not in every run).
    pub notes: Vec<String>,
    /// How the caption and notes hang together.
    pub layout: NoteLayout,
}

/// How the caption and notes of a report hang together, which Markdown shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NoteLayout {
    /// Each line a statement of its own: a paragraph each.
    Statements,
    /// One block of lines: kept together, line by line.
    Block,
}

/// One table, with a title when there are several.
#[derive(Clone, Debug)]
pub(crate) struct Section {
    /// Shown above the table (made of names from the runs).
    pub title: Option<String>,
    /// The table.
    pub table: Table,
}

/// Columns and rows of cells; every row is as long as `columns`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
}

/// One column: its header, how it lines up, and which formats show it.
#[derive(Clone, Debug)]
pub(crate) struct Column {
    pub header: Header,
    pub align: Align,
    pub shown_in: ShownIn,
    /// On a terminal a cell equal to the one above it is left blank: the eye groups the
    /// rows of one benchmark.
    pub blank_repeats: bool,
    /// A table too wide for the terminal is split between columns, never between this
    /// one and the column left of it (a change beside the value it is the change of).
    pub joined: bool,
}

impl Column {
    /// A column of names, ids or labels.
    pub fn text(header: &str) -> Column {
        Column {
            header: Header::Text(header.to_string()),
            align: Align::Left,
            shown_in: ShownIn::All,
            blank_repeats: false,
            joined: false,
        }
    }

    /// A column of numbers.
    pub fn numbers(header: Header) -> Column {
        Column {
            header,
            align: Align::Right,
            shown_in: ShownIn::All,
            blank_repeats: false,
            joined: false,
        }
    }

    /// Never drawn in another table than the column left of it.
    pub fn joined(self) -> Column {
        Column {
            joined: true,
            ..self
        }
    }

    /// Shown in `formats` only.
    pub fn only(self, formats: ShownIn) -> Column {
        Column {
            shown_in: formats,
            ..self
        }
    }
}

/// How a column's cells line up, which also says what they hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Align {
    /// Text (names, ids, labels), possibly from the measured program.
    Left,
    /// Numbers benchmem formats.
    Right,
}

/// Which formats show a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ShownIn {
    /// Every format.
    All,
    /// The ones people read: terminal and Markdown.
    Display,
    /// The one programs read: CSV.
    Data,
}

impl ShownIn {
    fn includes(self, data: bool) -> bool {
        match self {
            ShownIn::All => true,
            ShownIn::Display => !data,
            ShownIn::Data => data,
        }
    }
}

/// A column header.
#[derive(Clone, Debug)]
pub(crate) enum Header {
    /// Shown as it is (and escaped: labels come from the user).
    Text(String),
    /// A metric column: `peak·min (MiB)` for people, `peak:min` for CSV.
    Metric {
        metric: Metric,
        /// The stat of the column; CSV names it whenever there is one.
        stat: Option<Stat>,
        /// People see the stat only when the table has several.
        stat_shown: bool,
        /// How the column writes its values.
        unit: ColumnUnit,
        /// Whether the header names the unit (not when the column left of it, of the
        /// same metric, already does).
        name_unit: bool,
    },
    /// An `extra:NAME` column: the name for people, `extra:NAME` for CSV.
    Extra(String),
}

/// One cell.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Cell {
    /// A name, id or label, possibly from the measured program.
    Text(String),
    /// A value as its column writes it (`1.16`, or `1.16 MiB`), with its multiple of the
    /// best value of its group when `best` is there (`2.34 (1.00)`); CSV writes it raw.
    Scaled {
        raw: Option<f64>,
        quantity: Quantity,
        unit: ColumnUnit,
        best: Option<f64>,
        tone: Tone,
    },
    /// A value in its own unit (`97.7 KiB`); CSV writes it raw.
    Human {
        raw: Option<f64>,
        quantity: Quantity,
    },
    /// The change from `base` to `head`: a signed percentage, coloured by direction; CSV
    /// writes the percentage raw. A time change carries its test: `+76.8% (p=0.008 n=5)`,
    /// or `~ (p=0.310 n=5)` when it does not stand out of the noise.
    Change {
        base: Option<f64>,
        head: Option<f64>,
        noise: Option<Noise>,
    },
    /// A p-value: CSV writes it raw; people read it in the change it belongs to.
    P(Option<f64>),
    /// A number describing the benchmark (an `extra_info` label): as it is, with no unit,
    /// multiple or colour; CSV writes it raw.
    Label(Option<f64>),
    /// Nothing to say (the base run's own change from itself).
    Empty,
    /// A metric, with its stat for people when there is one (`peak·max`); CSV writes the
    /// metric alone (the stat has a column of its own there).
    Metric { metric: Metric, stat: Option<Stat> },
}

/// Whether a value is the better or worse one of its group, shown in colour on a terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tone {
    Plain,
    Better,
    Worse,
}

/// A report rendered: what goes to the report's stream, and what goes to standard error
/// beside it (the CSV's caption and notes, which would not be data).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Rendered {
    pub body: String,
    pub aside: String,
}

impl Report {
    /// The report in `format`; `painter` colours the terminal's. `width`: the columns
    /// the terminal's lines must fit in, and those the CSV's caption and notes (which go
    /// to standard error) must fit in; Markdown is left to its renderer.
    pub fn render(&self, format: Format, painter: Painter, width: Option<usize>) -> Rendered {
        match format {
            Format::Table => Rendered {
                body: terminal::render(self, painter, width),
                aside: String::new(),
            },
            Format::Md => Rendered {
                body: markdown::render(self),
                aside: String::new(),
            },
            Format::Csv => {
                let mut r = csv::render(self);
                if let Some(w) = width {
                    r.aside = wrap::prose(&r.aside, w, 2);
                }
                r
            }
        }
    }

    /// The caption and notes, in order.
    fn lines(&self, data: bool) -> impl Iterator<Item = &str> {
        let caption = match (&self.data_caption, data) {
            (Some(c), true) => c,
            _ => &self.caption,
        };
        std::iter::once(caption.as_str()).chain(self.notes.iter().map(String::as_str))
    }
}

impl Table {
    /// The columns shown in CSV (`data`) or to people, with their indexes.
    fn shown(&self, data: bool) -> Vec<(usize, &Column)> {
        self.columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.shown_in.includes(data))
            .collect()
    }
}

impl Cell {
    /// The cell for people; `painter` colours better and worse values.
    fn display(&self, painter: Painter) -> String {
        let toned = |text: String, tone: Tone| match tone {
            Tone::Plain => text,
            Tone::Better => painter.better(&text),
            Tone::Worse => painter.worse(&text),
        };
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Scaled {
                raw: Some(x),
                quantity,
                unit,
                best,
                tone,
            } => {
                let mut t = cell(*quantity, *x, *unit);
                if let Some(b) = best {
                    t.push_str(&format!(" ({})", multiple(*x, *b)));
                }
                toned(t, *tone)
            }
            Cell::Human {
                raw: Some(x),
                quantity,
            } => human(*quantity, *x),
            Cell::Change {
                base: Some(b),
                head: Some(h),
                noise,
            } => {
                // A change too small to show, or lost in the noise, stays uncoloured.
                let mut text = percent_change(*b, *h);
                let shown = text != "0.0%" && noise.is_none_or(|n| n.significant());
                if let Some(n) = noise {
                    let tested = matches!(n, Noise::Tested { .. });
                    if tested && !n.significant() {
                        text = "~".to_string();
                    }
                    text = format!("{text} ({})", n.brief());
                }
                let tone = match h.partial_cmp(b) {
                    Some(Ordering::Greater) if shown => Tone::Worse,
                    Some(Ordering::Less) if shown => Tone::Better,
                    _ => Tone::Plain,
                };
                toned(text, tone)
            }
            Cell::P(Some(p)) => format!("{p:.3}"),
            Cell::Label(Some(x)) => label(*x),
            Cell::Empty => String::new(),
            Cell::Metric { metric, stat } => match stat {
                Some(s) => format!("{}·{}", metric.header(), s.name()),
                None => metric.header().to_string(),
            },
            Cell::Scaled { raw: None, .. }
            | Cell::Human { raw: None, .. }
            | Cell::Change { .. }
            | Cell::P(None)
            | Cell::Label(None) => "—".to_string(),
        }
    }

    /// The cell for CSV: numbers raw and unscaled.
    fn data(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Scaled { raw, .. } | Cell::Human { raw, .. } => raw_cell(*raw),
            Cell::Change {
                base: Some(b),
                head: Some(h),
                ..
            } if *b > 0.0 => raw_cell(Some((h - b) / b * 100.0)),
            Cell::Change { .. } => String::new(),
            Cell::P(p) | Cell::Label(p) => raw_cell(*p),
            Cell::Empty => String::new(),
            Cell::Metric { metric, .. } => metric.header().to_string(),
        }
    }
}

impl Header {
    /// The header for people.
    fn display(&self) -> String {
        match self {
            Header::Text(s) | Header::Extra(s) => s.clone(),
            Header::Metric {
                metric,
                stat,
                stat_shown,
                unit,
                name_unit,
            } => metric_header(
                *metric,
                stat.filter(|_| *stat_shown),
                unit.symbol().filter(|_| *name_unit),
            ),
        }
    }

    /// The header for people, naming the unit even where the column left of it would
    /// (a table of a stack may start with this column).
    fn display_naming_unit(&self) -> String {
        match self {
            Header::Metric {
                metric,
                stat,
                stat_shown,
                unit,
                ..
            } => metric_header(*metric, stat.filter(|_| *stat_shown), unit.symbol()),
            other => other.display(),
        }
    }

    /// The header for CSV: `peak:min`, `peak`.
    fn data(&self) -> String {
        match self {
            Header::Text(s) => s.clone(),
            Header::Extra(s) => format!("extra:{s}"),
            Header::Metric { metric, stat, .. } => match stat {
                Some(s) => format!("{}:{}", metric.cli_name(), s.name()),
                None => metric.cli_name().to_string(),
            },
        }
    }
}

/// A label's number: whole numbers exact with thousands separators (`3,000`), others to
/// four significant figures (`0.5`, `12.35`).
fn label(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 9.007_199_254_740_992e15 {
        return human(Quantity::Count, x);
    }
    let magnitude = x.abs().log10().floor() as i32;
    let decimals = usize::try_from((3 - magnitude).max(0)).unwrap_or(0);
    let text = format!("{x:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// The CSV of `compare --csv`: the header, then one row per benchmark, its id (guarded as
/// any text from the runs) and its raw numbers, empty where there is none.
pub(crate) fn wide_csv(header: &[String], rows: &[(String, Vec<Option<f64>>)]) -> String {
    csv::wide(header, rows)
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

/// A raw number for CSV: whole numbers without a decimal point, others as Rust prints
/// them (shortest round-trip form), missing as an empty field.
fn raw_cell(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() && x.fract() == 0.0 && x.abs() < 9.007_199_254_740_992e15 => {
            format!("{x:.0}")
        }
        Some(x) if x.is_finite() => format!("{x}"),
        _ => String::new(),
    }
}

/// Header of one column for people: `peak (MiB)`, `peak·min (MiB)`, `peak·mean`,
/// `allocs`, with the unit when it is named.
fn metric_header(metric: Metric, stat: Option<Stat>, unit: Option<&str>) -> String {
    let mut h = metric.header().to_string();
    if let Some(s) = stat {
        h.push('·');
        h.push_str(s.name());
    }
    if let Some(u) = unit {
        h.push_str(&format!(" ({u})"));
    }
    h
}

/// The units of one metric's columns (one list of values each), and whether each header
/// names its unit: a column names it unless the column left of it shares the same.
pub(crate) fn metric_units(metric: Metric, columns: &[Vec<f64>]) -> Vec<(ColumnUnit, bool)> {
    let mut out: Vec<(ColumnUnit, bool)> = Vec::with_capacity(columns.len());
    for values in columns {
        let unit = metric.quantity().column_unit(values.iter().copied());
        let named = out.last().is_none_or(|(prev, _)| *prev != unit);
        out.push((unit, named));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        assert_eq!(metric_header(Metric::Peak, None, Some("MiB")), "peak (MiB)");
        assert_eq!(
            metric_header(Metric::Peak, Some(Stat::Min), Some("MiB")),
            "peak·min (MiB)"
        );
        assert_eq!(
            metric_header(Metric::Peak, Some(Stat::Mean), None),
            "peak·mean"
        );
        assert_eq!(metric_header(Metric::Allocations, None, None), "allocs");
        assert_eq!(
            metric_header(Metric::Allocations, Some(Stat::Max), None),
            "allocs·max"
        );
    }

    #[test]
    fn a_unit_is_named_once_per_run_of_columns_sharing_it() {
        let mib = 3.0 * 1048576.0;
        let units = metric_units(Metric::Peak, &[vec![mib], vec![mib * 1.5], vec![12.0, mib]]);
        let named: Vec<(Option<&str>, bool)> =
            units.iter().map(|(u, n)| (u.symbol(), *n)).collect();
        assert_eq!(
            named,
            [(Some("MiB"), true), (Some("MiB"), false), (None, true)]
        );
    }

    #[test]
    fn multiples() {
        assert_eq!(multiple(85094.0, 85094.0), "1.00");
        assert_eq!(multiple(2181038.0, 85094.0), "25.63");
        assert_eq!(multiple(5e6, 1.0), ">1000.0");
        assert_eq!(multiple(5.0, 0.0), "inf");
        assert_eq!(multiple(0.0, 0.0), "1.00");
    }

    #[test]
    fn labels() {
        assert_eq!(label(3000.0), "3,000");
        assert_eq!(label(7.0), "7");
        assert_eq!(label(0.5), "0.5");
        assert_eq!(label(12.3456), "12.35");
        assert_eq!(label(-0.125), "-0.125");
    }

    #[test]
    fn raw_cells() {
        assert_eq!(raw_cell(Some(1221536.0)), "1221536");
        assert_eq!(raw_cell(Some(0.25)), "0.25");
        assert_eq!(raw_cell(None), "");
        assert_eq!(raw_cell(Some(f64::NAN)), "");
    }

    /// A two-column report of hostile text, shared by the renderers' tests.
    pub(super) fn hostile() -> Report {
        let count = Quantity::Count.column_unit([1.0]);
        let columns = vec![
            Column::text("name"),
            Column::text("run\x1b]0;t\x07"),
            Column::numbers(Header::Metric {
                metric: Metric::Allocations,
                stat: None,
                stat_shown: false,
                unit: count,
                name_unit: true,
            }),
        ];
        let n = |x: f64| Cell::Scaled {
            raw: Some(x),
            quantity: Quantity::Count,
            unit: count,
            best: None,
            tone: Tone::Plain,
        };
        let rows = vec![
            vec![
                Cell::Text("=cmd|' /C calc'!A0".into()),
                Cell::Text("a\n::error::x".into()),
                n(12.0),
            ],
            vec![
                Cell::Text("[x](http://e)".into()),
                Cell::Text("\u{202e}b, \"c\"".into()),
                n(1234.0),
            ],
        ];
        Report {
            sections: vec![Section {
                title: None,
                table: Table { columns, rows },
            }],
            caption: "caption \x07".into(),
            data_caption: None,
            notes: vec!["note [x]".into()],
            layout: NoteLayout::Statements,
        }
    }
}
