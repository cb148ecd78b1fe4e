//! The report as boxed tables for the terminal, caption and notes dimmed beneath, every
//! line within the width it is given.
//!
//! A table wider than the width is fitted in steps, each only as far as needed: names
//! break over lines (down to [`NAME_COMFORT`] columns, never cut: the saved JSON has them
//! whole); the headers of number columns break (`allocated·min` over `(MiB)`); names
//! break further (down to [`NAME_MIN`]); and the number columns are dealt into several
//! tables stacked one under the other, each repeating the name columns. Captions, notes and titles break at spaces, their
//! continuation lines indented.

use tabled::builder::Builder;
use tabled::settings::object::Columns;
use tabled::settings::style::HorizontalLine;
use tabled::settings::{Alignment, Style};

use super::wrap::{cell_lines, prose_lines, width as text_width};
use super::{Align, Column, Header, Report, Table};
use crate::console::Painter;
use crate::escape;

/// Names are not broken narrower than this.
const NAME_MIN: usize = 16;

/// Names break this narrow only when nothing else is left to give.
const NAME_LAST: usize = 8;

/// Names give way to this width before the headers of numbers break.
const NAME_COMFORT: usize = 28;

/// Continuation lines of prose are indented this much.
const INDENT: usize = 2;

/// The whole report within `width` columns (`None`: as wide as it comes); every line ends
/// with a newline.
pub(super) fn render(report: &Report, painter: Painter, width: Option<usize>) -> String {
    let w = width.unwrap_or(usize::MAX);
    let prose = |text: &str| -> Vec<String> {
        match width {
            Some(w) => prose_lines(text, w, INDENT),
            None => vec![text.to_string()],
        }
    };
    let mut out = String::new();
    for section in &report.sections {
        if let Some(title) = &section.title {
            // The title is made of names, groups and params from the runs, and starts
            // the line.
            for line in prose(&escape::line(title)) {
                out.push_str(&line);
                out.push('\n');
            }
        }
        out.push_str(&tables(&section.table, painter, w));
        if section.title.is_some() {
            out.push('\n');
        }
    }
    for line in report.lines(false) {
        for part in prose(&escape::text(line)) {
            out.push_str(&painter.dim(&part));
            out.push('\n');
        }
    }
    out
}

/// One column as it will be drawn: header and cells as text, and how narrow it may get.
struct Drawn<'a> {
    column: &'a Column,
    /// The header, and its smallest width (its longest unbreakable part).
    header: String,
    header_min: usize,
    /// The cells for people (number cells may carry colour), and the same uncoloured.
    cells: Vec<String>,
    widest_cell: usize,
}

impl Drawn<'_> {
    fn natural(&self) -> usize {
        self.widest_cell.max(text_width(&self.header))
    }

    /// Names break down to [`NAME_MIN`]; numbers do not, their header down to its
    /// longest part.
    fn min(&self) -> usize {
        match self.column.align {
            Align::Left => self.natural().min(NAME_MIN.max(self.header_min)),
            Align::Right => self.widest_cell.max(self.header_min),
        }
    }

    /// The last resort of a column too wide for any table: numbers break at their spaces
    /// (`2.08 MiB` over `(25.63)`), names down to [`NAME_LAST`].
    fn last_resort(&self) -> usize {
        match self.column.align {
            Align::Left => self.natural().min(NAME_LAST),
            Align::Right => self
                .cells
                .iter()
                .flat_map(|c| c.split(' ').map(text_width))
                .max()
                .unwrap_or(0)
                .max(self.header_min),
        }
    }
}

/// The width of a table whose columns are this wide (rounded box: one space each side of
/// every cell, one rule between and around them).
fn total(widths: &[usize]) -> usize {
    widths.iter().map(|w| w + 3).sum::<usize>() + 1
}

/// The table as one or more boxed tables within `width`.
fn tables(t: &Table, painter: Painter, width: usize) -> String {
    let columns: Vec<Drawn> = t
        .shown(false)
        .into_iter()
        .map(|(i, c)| {
            let cells: Vec<String> = t
                .rows
                .iter()
                .enumerate()
                .map(|(r, row)| {
                    if c.blank_repeats && r > 0 && t.rows[r - 1][i] == row[i] {
                        return String::new();
                    }
                    let text = row[i].display(painter);
                    match c.align {
                        Align::Left => escape::text(&text).into_owned(),
                        Align::Right => text,
                    }
                })
                .collect();
            let header = escape::text(&c.header.display()).into_owned();
            let header_min = header_parts(&header)
                .iter()
                .map(|p| text_width(p.trim_start()))
                .max()
                .unwrap_or(0);
            Drawn {
                column: c,
                header_min,
                header,
                widest_cell: cells.iter().map(|s| text_width(s)).max().unwrap_or(0),
                cells,
            }
        })
        .collect();
    let keys: Vec<usize> = (0..columns.len())
        .filter(|&i| columns[i].column.align == Align::Left)
        .collect();
    let numbers: Vec<usize> = (0..columns.len())
        .filter(|&i| columns[i].column.align == Align::Right)
        .collect();
    let min_of = |set: &[usize]| total(&set.iter().map(|&i| columns[i].min()).collect::<Vec<_>>());
    // Deal the number columns into tables that fit, each with the name columns; a column
    // joined to the one left of it goes with it.
    let mut runs: Vec<Vec<usize>> = Vec::new();
    for &n in &numbers {
        match runs.last_mut() {
            Some(run) if columns[n].column.joined && run.last() == Some(&(n - 1)) => run.push(n),
            _ => runs.push(vec![n]),
        }
    }
    let mut chunks: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    // A run too wide for any table by itself is no run: its columns go one by one.
    let runs: Vec<Vec<usize>> = runs
        .into_iter()
        .flat_map(|run| {
            let alone: Vec<usize> = keys.iter().chain(&run).copied().collect();
            if run.len() > 1 && min_of(&alone) > width {
                run.into_iter().map(|n| vec![n]).collect()
            } else {
                vec![run]
            }
        })
        .collect();
    for run in runs {
        let mut trial: Vec<usize> = keys.iter().chain(&current).chain(&run).copied().collect();
        trial.sort_unstable();
        if !current.is_empty() && min_of(&trial) > width {
            chunks.push(std::mem::take(&mut current));
        }
        current.extend(run);
    }
    if !current.is_empty() || chunks.is_empty() {
        chunks.push(current);
    }
    let stacked = chunks.len() > 1;
    chunks
        .iter()
        .enumerate()
        .map(|(k, chunk)| {
            let mut set: Vec<usize> = keys.iter().chain(chunk).copied().collect();
            set.sort_unstable();
            let drawn = draw(&columns, &set, t, painter, width, stacked);
            if k + 1 < chunks.len() {
                drawn + "\n"
            } else {
                drawn
            }
        })
        .collect()
}

/// The columns `set` (indexes into `columns`, in order) as one boxed table, narrowed to
/// `width` as far as their minimums allow.
fn draw(
    columns: &[Drawn],
    set: &[usize],
    t: &Table,
    painter: Painter,
    width: usize,
    stacked: bool,
) -> String {
    let mut widths: Vec<usize> = set.iter().map(|&i| columns[i].natural()).collect();
    // Names give first, down to a width that still reads as a name; then the headers of
    // numbers; then names again, down to their minimum.
    // A table with one run of joined columns left may still be too wide: then its
    // numbers break at their spaces.
    let passes = [
        (Align::Left, NAME_COMFORT, false),
        (Align::Right, 0, false),
        (Align::Left, 0, false),
        (Align::Right, 0, true),
        (Align::Left, 0, true),
    ];
    for (pass, floor, last) in passes {
        while total(&widths) > width {
            let min = |d: &Drawn| if last { d.last_resort() } else { d.min() };
            // The widest column of this pass that can still give.
            let Some(k) = (0..set.len())
                .filter(|&k| columns[set[k]].column.align == pass)
                .filter(|&k| widths[k] > min(&columns[set[k]]).max(floor))
                .max_by_key(|&k| widths[k])
            else {
                break;
            };
            widths[k] -= 1;
        }
    }
    let mut b = Builder::new();
    b.push_record(set.iter().zip(&widths).enumerate().map(|(k, (&i, &w))| {
        let mut header = columns[i].header.clone();
        // A table of a stack that starts a metric's columns names its unit.
        let starts = k == 0 || !same_metric(&columns[set[k - 1]], &columns[i]);
        if stacked
            && starts
            && let Header::Metric {
                name_unit: false, ..
            } = columns[i].column.header
        {
            header = escape::text(&columns[i].column.header.display_naming_unit()).into_owned();
        }
        broken(&header, w, true)
    }));
    for r in 0..t.rows.len() {
        b.push_record(set.iter().zip(&widths).map(|(&i, &w)| {
            let cell = &columns[i].cells[r];
            match columns[i].column.align {
                Align::Left => broken(cell, w, false),
                Align::Right if text_width(cell) > w => {
                    // Broken at spaces; the colour codes of a toned cell span it whole.
                    let plain = cell
                        .replace("\x1b[31m", "")
                        .replace("\x1b[32m", "")
                        .replace("\x1b[0m", "");
                    let lines = plain
                        .split(' ')
                        .fold(Vec::<String>::new(), |mut lines, part| {
                            match lines.last_mut() {
                                Some(l) if text_width(l) + 1 + text_width(part) <= w => {
                                    l.push(' ');
                                    l.push_str(part);
                                }
                                _ => lines.push(part.to_string()),
                            }
                            lines
                        });
                    // Each line flush right, as numbers are.
                    let widest = lines.iter().map(|l| text_width(l)).max().unwrap_or(0);
                    lines
                        .iter()
                        .map(|l| format!("{}{l}", " ".repeat(widest - text_width(l))))
                        .collect::<Vec<_>>()
                        .join("\n")
                }
                Align::Right => cell.clone(),
            }
        }));
    }
    let mut table = b.build();
    if painter.ascii() {
        // One rule under the header, as the rounded style has, not one between every row.
        table.with(
            Style::ascii()
                .remove_horizontal()
                .horizontals([(1, HorizontalLine::full('-', '+', '+', '+'))]),
        );
    } else {
        table.with(Style::rounded());
    }
    for (k, &i) in set.iter().enumerate() {
        if columns[i].column.align == Align::Right {
            table.modify(Columns::one(k), Alignment::right());
        }
    }
    format!("{table}\n")
}

fn same_metric(a: &Drawn, b: &Drawn) -> bool {
    match (&a.column.header, &b.column.header) {
        (Header::Metric { metric: x, .. }, Header::Metric { metric: y, .. }) => x == y,
        _ => false,
    }
}

/// `text` within `w` columns, over several lines when it must: a header breaks at its
/// spaces and after `·`, a name wherever it reads best.
fn broken(text: &str, w: usize, header: bool) -> String {
    if text_width(text) <= w {
        return text.to_string();
    }
    let lines = if header {
        header_lines(text, w)
    } else {
        cell_lines(text, w)
    };
    lines.join("\n")
}

/// A header's unbreakable parts: each ends after a `·` or before a space.
fn header_parts(text: &str) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut part = String::new();
    for c in text.chars() {
        if c == ' ' && !part.is_empty() {
            parts.push(std::mem::take(&mut part));
        }
        part.push(c);
        if c == '·' {
            parts.push(std::mem::take(&mut part));
        }
    }
    parts.push(part);
    parts
}

fn header_lines(text: &str, w: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut line = String::new();
    for p in header_parts(text) {
        if !line.is_empty() && text_width(&line) + text_width(&p) > w {
            out.push(std::mem::take(&mut line));
            line.push_str(p.trim_start());
        } else {
            line.push_str(&p);
        }
    }
    out.push(line);
    out.into_iter().flat_map(|l| cell_lines(&l, w)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::hostile;

    #[test]
    fn text_cells_and_headers_are_escaped_numbers_kept() {
        let t = render(&hostile(), Painter::plain(), None);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines,
            [
                "╭────────────────────┬─────────────────┬────────╮",
                r"│ name               │ run\x1b]0;t\x07 │ allocs │",
                "├────────────────────┼─────────────────┼────────┤",
                r"│ =cmd|' /C calc'!A0 │ a\n::error::x   │     12 │",
                r#"│ [x](http://e)      │ \u202eb, "c"    │  1,234 │"#,
                "╰────────────────────┴─────────────────┴────────╯",
                r"caption \x07",
                "note [x]",
            ]
        );
    }

    #[test]
    fn headers_break_at_spaces_and_after_the_stat_dot() {
        assert_eq!(
            header_lines("allocated·min (MiB)", 14),
            ["allocated·min", "(MiB)"]
        );
        assert_eq!(
            header_lines("allocated·min (MiB)", 10),
            ["allocated·", "min (MiB)"]
        );
        assert_eq!(header_lines("time Δ", 4), ["time", "Δ"]);
    }
}
