//! The report as GitHub-flavoured Markdown: tables, `####` section titles, and the caption
//! and notes as paragraphs or as one block of lines.

use super::{Align, NoteLayout, Report, Table};
use crate::console::Painter;
use crate::escape;

/// The whole report; every line ends with a newline.
pub(super) fn render(report: &Report) -> String {
    let mut out = String::new();
    for section in &report.sections {
        match &section.title {
            Some(title) => {
                out.push_str(&format!("#### {}\n\n", escape::markdown(title)));
                out.push_str(&table(&section.table));
                out.push('\n');
            }
            None => out.push_str(&table(&section.table)),
        }
    }
    match report.layout {
        NoteLayout::Statements => {
            for line in report.lines(false) {
                out.push('\n');
                out.push_str(&escape::markdown(line));
                out.push('\n');
            }
        }
        NoteLayout::Block => {
            out.push('\n');
            for line in report.lines(false) {
                // Two trailing spaces: a line break within the block.
                out.push_str(&format!("{}  \n", escape::markdown(line)));
            }
        }
    }
    out
}

/// Every cell and header is escaped, numbers too (which renders the same); no colour.
fn table(t: &Table) -> String {
    let columns = t.shown(false);
    let line = |cells: Vec<String>| {
        let inner: Vec<String> = cells.iter().map(|c| escape::markdown(c)).collect();
        format!("| {} |\n", inner.join(" | "))
    };
    let mut out = line(columns.iter().map(|(_, c)| c.header.display()).collect());
    let marks: Vec<&str> = columns
        .iter()
        .map(|(_, c)| match c.align {
            Align::Left => ":---",
            Align::Right => "---:",
        })
        .collect();
    out.push_str(&format!("|{}|\n", marks.join("|")));
    for row in &t.rows {
        out.push_str(&line(
            columns
                .iter()
                .map(|&(i, _)| row[i].display(Painter::plain()))
                .collect(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::hostile;

    #[test]
    fn markdown_escapes_every_cell_and_aligns_numbers() {
        assert_eq!(
            render(&hostile()).lines().collect::<Vec<_>>(),
            [
                r"| name | run\\x1b\]0;t\\x07 | allocs |",
                "|:---|:---|---:|",
                r"| =cmd\|' /C calc'!A0 | a\\n::error::x | 12 |",
                r#"| \[x\](http://e) | \\u202eb, "c" | 1,234 |"#,
                "",
                r"caption \\x07",
                "",
                r"note \[x\]",
            ]
        );
        let mut block = hostile();
        block.layout = NoteLayout::Block;
        assert!(render(&block).ends_with("|\n\ncaption \\\\x07  \nnote \\[x\\]  \n"));
    }
}
