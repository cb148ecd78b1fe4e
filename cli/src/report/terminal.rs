//! The report as a boxed table for the terminal, caption and notes dimmed beneath.

use tabled::builder::Builder;
use tabled::settings::object::Columns;
use tabled::settings::style::HorizontalLine;
use tabled::settings::{Alignment, Style};

use super::{Align, Report, Table};
use crate::console::Painter;
use crate::escape;

/// The whole report; every line ends with a newline.
pub(super) fn render(report: &Report, painter: Painter) -> String {
    let mut out = String::new();
    for section in &report.sections {
        match &section.title {
            Some(title) => {
                // The title is made of names, groups and params from the runs, and starts
                // the line.
                out.push_str(&format!("{}\n", escape::line(title)));
                out.push_str(&table(&section.table, painter));
                out.push('\n');
            }
            None => out.push_str(&table(&section.table, painter)),
        }
    }
    for line in report.lines(false) {
        out.push_str(&painter.dim(&escape::text(line)));
        out.push('\n');
    }
    out
}

/// Text cells and headers are escaped; number cells are benchmem's own and may carry its
/// colour codes, which tabled measures as zero-width.
fn table(t: &Table, painter: Painter) -> String {
    let columns = t.shown(false);
    let mut b = Builder::new();
    b.push_record(
        columns
            .iter()
            .map(|(_, c)| escape::text(&c.header.display()).into_owned()),
    );
    for (r, row) in t.rows.iter().enumerate() {
        b.push_record(columns.iter().map(|&(i, c)| {
            if c.blank_repeats && r > 0 && t.rows[r - 1][i] == row[i] {
                return String::new();
            }
            let text = row[i].display(painter);
            match c.align {
                Align::Left => escape::text(&text).into_owned(),
                Align::Right => text,
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
    for (shown, (_, c)) in columns.iter().enumerate() {
        if c.align == Align::Right {
            table.modify(Columns::one(shown), Alignment::right());
        }
    }
    format!("{table}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::hostile;

    #[test]
    fn text_cells_and_headers_are_escaped_numbers_kept() {
        let t = render(&hostile(), Painter::plain());
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
}
