//! Writing reports: colour only where a person reads them, and no panic when the reader
//! goes away (`benchmem compare ... | head`).

use std::io::Write;

use anstream::{AutoStream, ColorChoice};
use anstyle::{AnsiColor, Style};

use crate::args::TableStyle;
use crate::report::Format;

/// Adds colour to text when the destination is a colour terminal and the user has not
/// asked otherwise (NO_COLOR, CLICOLOR=0, TERM=dumb; CLICOLOR_FORCE and FORCE_COLOR force
/// it on), and says which borders terminal tables get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Painter {
    enabled: bool,
    ascii: bool,
}

/// What `FORCE_COLOR` asks for: None when unset or empty, `Some(false)` for `0` or
/// `false` (no colour, as Node and supports-color read it), else `Some(true)`.
fn force_color() -> Option<bool> {
    let v = std::env::var_os("FORCE_COLOR")?;
    match v.to_string_lossy().trim() {
        "" => None,
        "0" | "false" => Some(false),
        _ => Some(true),
    }
}

/// Whether to colour `stream`. NO_COLOR wins over every request for colour, as anstream
/// has it for CLICOLOR_FORCE; FORCE_COLOR then decides like CLICOLOR_FORCE (or turns it
/// off when 0); else anstream decides (terminal, TERM, CLICOLOR).
fn colour<S: anstream::stream::RawStream>(stream: &S) -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    match force_color() {
        _ if no_color => false,
        Some(forced) => forced,
        None => AutoStream::choice(stream) != ColorChoice::Never,
    }
}

impl Painter {
    /// Colour decided for standard output.
    pub fn for_stdout() -> Painter {
        Painter {
            enabled: colour(&std::io::stdout()),
            ascii: false,
        }
    }

    /// Colour decided for standard error.
    pub fn for_stderr() -> Painter {
        Painter {
            enabled: colour(&std::io::stderr()),
            ascii: false,
        }
    }

    /// Never colour (Markdown, CSV).
    pub fn plain() -> Painter {
        Painter {
            enabled: false,
            ascii: false,
        }
    }

    /// The same, drawing terminal tables with `style`'s borders.
    pub fn with_style(self, style: TableStyle) -> Painter {
        Painter {
            ascii: style == TableStyle::Ascii,
            ..self
        }
    }

    /// Whether terminal tables are drawn in ASCII.
    pub fn ascii(self) -> bool {
        self.ascii
    }

    /// Colour for a report in `format` on standard output: only a terminal table gets it.
    pub fn for_stdout_in(format: Format) -> Painter {
        match format {
            Format::Table => Painter::for_stdout(),
            Format::Md | Format::Csv => Painter::plain(),
        }
    }

    fn paint(self, text: &str, style: Style) -> String {
        if self.enabled {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }

    /// Worse: growth, the heaviest run.
    pub fn worse(self, text: &str) -> String {
        self.paint(text, Style::new().fg_color(Some(AnsiColor::Red.into())))
    }

    /// Better: shrinkage, the lightest run.
    pub fn better(self, text: &str) -> String {
        self.paint(text, Style::new().fg_color(Some(AnsiColor::Green.into())))
    }

    /// De-emphasised text (captions).
    pub fn dim(self, text: &str) -> String {
        self.paint(text, Style::new().dimmed())
    }
}

/// A standard stream a report is written to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// Lines are laid out for at least this many columns: narrower, no table can fit.
pub const MIN_WIDTH: usize = 40;

/// Where neither `COLUMNS` nor a terminal says (a pipe, a file, a CI log), lines fit this
/// many columns, as hyperfine's do.
pub const DEFAULT_WIDTH: usize = 80;

/// The width every line written to `stream` must fit: `COLUMNS` when it holds a number,
/// else the width of the terminal the stream is (TIOCGWINSZ), else [`DEFAULT_WIDTH`];
/// never under [`MIN_WIDTH`].
pub fn width(stream: Stream) -> usize {
    let from_env = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| c > 0);
    let from_tty = || {
        let size = match stream {
            Stream::Stdout => terminal_size::terminal_size_of(std::io::stdout()),
            Stream::Stderr => terminal_size::terminal_size_of(std::io::stderr()),
        };
        size.map(|(w, _)| usize::from(w.0)).filter(|&w| w > 0)
    };
    from_env
        .or_else(from_tty)
        .unwrap_or(DEFAULT_WIDTH)
        .max(MIN_WIDTH)
}

/// The width a report in `format` on standard output is laid out for: a terminal table
/// fits standard output, a CSV's caption and notes (beside it) standard error; Markdown
/// is laid out by whatever renders it.
pub fn report_width(format: Format) -> Option<usize> {
    match format {
        Format::Table => Some(width(Stream::Stdout)),
        Format::Csv => Some(width(Stream::Stderr)),
        Format::Md => None,
    }
}

/// Write to standard output; a closed pipe ends the output quietly.
pub fn stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Write to standard error; errors are ignored (there is nowhere left to report them).
pub fn stderr(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}
