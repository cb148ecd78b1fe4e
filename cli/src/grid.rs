//! Rendering a grid of already formatted cells as a terminal table, a GitHub Markdown
//! table or CSV. What goes in the cells is decided by the callers ([`crate::table`],
//! the compare command); this module only lays them out.

use tabled::builder::Builder;
use tabled::settings::object::Columns;
use tabled::settings::{Alignment, Style};

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

/// How a column's cells line up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    /// Names.
    Left,
    /// Numbers.
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

    fn terminal(&self) -> String {
        let mut b = Builder::new();
        b.push_record(self.headers.clone());
        for r in &self.rows {
            b.push_record(r.clone());
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
        let esc = |s: &str| {
            s.replace('\\', "\\\\")
                .replace('|', "\\|")
                .replace('\n', " ")
        };
        let line = |cells: &[String]| {
            let inner: Vec<String> = cells.iter().map(|c| esc(c)).collect();
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
        let line = |cells: &[String]| {
            let v: Vec<String> = cells.iter().map(|c| field(c)).collect();
            format!("{}\n", v.join(","))
        };
        let mut out = line(&self.headers);
        for r in &self.rows {
            out.push_str(&line(r));
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
