//! The report as CSV: one header row and the rows of every section, numbers raw. The
//! caption and notes are no data: they go beside it, to standard error.

use super::{Align, Rendered, Report};
use crate::escape;

/// The CSV and, aside, the caption and notes as plain lines.
pub(super) fn render(report: &Report) -> Rendered {
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    // Every section has the same columns (no unit goes into a CSV header).
    if let Some(first) = report.sections.first() {
        let columns = first.table.shown(true);
        let _ = w.write_record(
            columns
                .iter()
                .map(|(_, c)| escape::csv_text(&c.header.data()).into_owned()),
        );
        for section in &report.sections {
            let columns = section.table.shown(true);
            for row in &section.table.rows {
                let _ = w.write_record(columns.iter().map(|&(i, c)| {
                    let cell = row[i].data();
                    match c.align {
                        // Text from the runs: guarded against formulas and workflow commands.
                        Align::Left => escape::csv_text(&cell).into_owned(),
                        // A leading `-` here is a negative number.
                        Align::Right => cell,
                    }
                }));
            }
        }
    }
    let body = w
        .into_inner()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    let aside = report
        .lines(true)
        .map(|l| format!("{}\n", escape::text(l)))
        .collect();
    Rendered { body, aside }
}

/// `compare --csv`: see [`super::wide_csv`].
pub(super) fn wide(header: &[String], rows: &[(String, Vec<Option<f64>>)]) -> String {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    let _ = w.write_record(header.iter().map(|h| escape::csv_text(h).into_owned()));
    for (id, values) in rows {
        let cells = std::iter::once(escape::csv_text(id).into_owned())
            .chain(values.iter().map(|v| super::raw_cell(*v)));
        let _ = w.write_record(cells);
    }
    w.into_inner()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::hostile;

    #[test]
    fn csv_quotes_when_needed_and_guards_text() {
        let r = render(&hostile());
        assert_eq!(
            r.body,
            concat!(
                r"name,run\x1b]0;t\x07,allocations",
                "\n",
                r"'=cmd|' /C calc'!A0,a\n::error::x,12",
                "\n",
                r#"[x](http://e),"\u202eb, ""c""",1234"#,
                "\n",
            )
        );
        assert_eq!(r.aside, "caption \\x07\nnote [x]\n");
    }
}
