//! Rendering a grid of already formatted cells as a terminal table, a GitHub Markdown
//! table or CSV. What goes in the cells is decided by the callers ([`crate::table`],
//! the compare command); this module lays them out, and escapes every text cell and
//! header for the format ([`crate::escape`]), so no caller has to.

use std::borrow::Cow;

use tabled::builder::Builder;
use tabled::settings::object::Columns;
use tabled::settings::{Alignment, Style};

use crate::escape;

/// Output format of every table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A boxed table for the terminal.
    Table,
    /// A GitHub-flavoured Markdown table (PR comments, job summaries).
    Md,
    /// Comma-separated values with raw, unscaled numbers (bytes, seconds, calls).
    Csv,
}

/// How a column's cells line up, which also says what they hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    /// Text (names, ids, labels), possibly from the measured program: escaped for the
    /// format, and in CSV guarded against formulas.
    Left,
    /// Numbers benchmem formatted. On a terminal they may carry colour codes and in CSV a
    /// leading `-` is a negative number, so they are written as they are (Markdown still
    /// escapes them, which renders the same).
    Right,
}

/// Headers, alignment and rows of display cells.
#[derive(Clone, Debug, Default)]
pub struct Grid {
    /// One header per column.
    pub headers: Vec<String>,
    /// One alignment per column.
    pub align: Vec<Align>,
    /// Rows, each as long as `headers`.
    pub rows: Vec<Vec<String>>,
}

impl Grid {
    /// An empty grid with these columns.
    pub fn new(columns: Vec<(String, Align)>) -> Grid {
        let (headers, align) = columns.into_iter().unzip();
        Grid {
            headers,
            align,
            rows: Vec::new(),
        }
    }

    /// Render in `format`; every line ends with a newline.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Table => self.terminal(),
            Format::Md => self.markdown(),
            Format::Csv => self.csv(),
        }
    }

    /// Headers and rows with every text cell passed through `text`.
    fn escaped<'a>(&'a self, text: impl Fn(&'a str) -> Cow<'a, str>) -> Vec<Vec<Cow<'a, str>>> {
        let header = self.headers.iter().map(|h| text(h)).collect();
        let rows = self.rows.iter().map(|r| {
            r.iter()
                .zip(&self.align)
                .map(|(c, a)| match a {
                    Align::Left => text(c),
                    Align::Right => Cow::Borrowed(c.as_str()),
                })
                .collect()
        });
        std::iter::once(header).chain(rows).collect()
    }

    fn terminal(&self) -> String {
        let mut b = Builder::new();
        for r in self.escaped(escape::text) {
            b.push_record(r.into_iter().map(Cow::into_owned));
        }
        let mut t = b.build();
        t.with(Style::rounded());
        for (i, a) in self.align.iter().enumerate() {
            if *a == Align::Right {
                t.modify(Columns::one(i), Alignment::right());
            }
        }
        format!("{t}\n")
    }

    fn markdown(&self) -> String {
        let line = |cells: &[String]| {
            let inner: Vec<String> = cells.iter().map(|c| escape::markdown(c)).collect();
            format!("| {} |\n", inner.join(" | "))
        };
        let mut out = line(&self.headers);
        let marks: Vec<&str> = self
            .align
            .iter()
            .map(|a| match a {
                Align::Left => ":---",
                Align::Right => "---:",
            })
            .collect();
        out.push_str(&format!("|{}|\n", marks.join("|")));
        for r in &self.rows {
            out.push_str(&line(r));
        }
        out
    }

    fn csv(&self) -> String {
        let field = |s: &str| {
            if s.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        };
        let mut out = String::new();
        for r in self.escaped(escape::csv_text) {
            let v: Vec<String> = r.iter().map(|c| field(c)).collect();
            out.push_str(&v.join(","));
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Grid {
        let mut g = Grid::new(vec![
            ("name".into(), Align::Left),
            ("peak (KiB)".into(), Align::Right),
        ]);
        g.rows.push(vec!["a|b".into(), "1.00".into()]);
        g.rows.push(vec!["c,\"d\"".into(), "12.50".into()]);
        g
    }

    #[test]
    fn markdown_escapes_pipes_and_aligns_numbers() {
        assert_eq!(
            grid().render(Format::Md),
            "| name | peak (KiB) |\n|:---|---:|\n| a\\|b | 1.00 |\n| c,\"d\" | 12.50 |\n"
        );
    }

    #[test]
    fn csv_quotes_when_needed() {
        assert_eq!(
            grid().render(Format::Csv),
            "name,peak (KiB)\na|b,1.00\n\"c,\"\"d\"\"\",12.50\n"
        );
    }

    fn hostile() -> Grid {
        let mut g = Grid::new(vec![
            ("name".into(), Align::Left),
            ("run\x1b]0;t\x07".into(), Align::Left),
            ("change".into(), Align::Right),
        ]);
        g.rows.push(vec![
            "=cmd|' /C calc'!A0".into(),
            "a\n::error::x".into(),
            "-12.5".into(),
        ]);
        g.rows.push(vec![
            "[x](http://e)".into(),
            "\u{202e}b".into(),
            "\x1b[31m+3.0%\x1b[0m".into(),
        ]);
        g
    }

    #[test]
    fn text_cells_and_headers_are_escaped_numbers_kept() {
        let t = hostile().render(Format::Table);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[1],
            r"│ name               │ run\x1b]0;t\x07 │ change │"
        );
        assert_eq!(
            lines[3],
            r"│ =cmd|' /C calc'!A0 │ a\n::error::x   │  -12.5 │"
        );
        // The number cell's colour codes are benchmem's own: they stay.
        assert_eq!(
            lines[4],
            "│ [x](http://e)      │ \\u202eb         │  \x1b[31m+3.0%\x1b[0m │"
        );

        assert_eq!(
            hostile().render(Format::Csv),
            concat!(
                r"name,run\x1b]0;t\x07,change",
                "\n",
                r"'=cmd|' /C calc'!A0,a\n::error::x,-12.5",
                "\n",
                r"[x](http://e),\u202eb,",
                "\x1b[31m+3.0%\x1b[0m\n"
            )
        );

        let md = hostile().render(Format::Md);
        assert_eq!(
            md.lines().collect::<Vec<_>>(),
            [
                r"| name | run\\x1b\]0;t\\x07 | change |",
                "|:---|:---|---:|",
                r"| =cmd\|' /C calc'!A0 | a\\n::error::x | -12.5 |",
                r"| \[x\](http://e) | \\u202eb | \\x1b\[31m+3.0%\\x1b\[0m |",
            ]
        );
    }

    #[test]
    fn terminal_right_aligns_numbers() {
        let t = grid().render(Format::Table);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "╭───────┬────────────╮");
        assert_eq!(lines[1], "│ name  │ peak (KiB) │");
        assert_eq!(lines[3], "│ a|b   │       1.00 │");
        assert_eq!(lines[4], "│ c,\"d\" │      12.50 │");
    }
}
