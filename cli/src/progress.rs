//! Progress on a terminal while `benchmem run` repeats the command.
//!
//! The measured program writes to the same terminal as benchmem's stderr, and benchmem
//! cannot see those writes: a bar drawn where the cursor is would land inside the
//! program's lines, and redrawing it would erase them. So the bar gets a line of its own,
//! the terminal's bottom row, taken out of the scrolling region (as apt's progress line
//! does while dpkg prints): the program's output scrolls above it, untouched. The bar is
//! redrawn only between runs, never while the command writes, and the row is given back
//! before benchmem prints its table.
//!
//! Shown only when stderr is a terminal of known size, `TERM` is not `dumb`, `--quiet` is
//! off and there is more than one run to wait for.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use benchmem_launcher::{Progress as Step, Round};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};

/// The progress display of one `benchmem run` (inert when not shown).
pub(crate) struct Progress {
    shown: Option<Shown>,
}

struct Shown {
    bar: ProgressBar,
    rows: u16,
    /// Runs of each command: warmups, then repeats.
    warmup: usize,
    repeats: usize,
}

impl Progress {
    /// A display for `commands` commands of `warmup` + `repeats` runs each; shown only on
    /// a terminal (see the module docs).
    pub(crate) fn new(commands: usize, warmup: usize, repeats: usize, quiet: bool) -> Progress {
        let total = commands * (warmup + repeats);
        let err = std::io::stderr();
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        if quiet || total < 2 || dumb || !err.is_terminal() {
            return Progress { shown: None };
        }
        let Some((rows, cols)) = size() else {
            return Progress { shown: None };
        };
        if rows < 3 || cols < 20 {
            return Progress { shown: None };
        }
        // A free line at the bottom, then the scrolling region above it; the cursor goes
        // back to where it was (setting the region moves it to the top).
        emit(&format!("\n\x1b7\x1b[1;{}r\x1b8\x1b[1A", rows - 1));
        let term = BottomRow {
            rows,
            cols,
            line: Arc::new(Mutex::new(String::new())),
        };
        let bar = ProgressBar::with_draw_target(
            Some(total as u64),
            ProgressDrawTarget::term_like(Box::new(term)),
        );
        bar.set_style(
            ProgressStyle::with_template(
                "benchmem: {prefix}{msg} [{bar:20}] {elapsed} elapsed, ~{eta} left",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        Progress {
            shown: Some(Shown {
                bar,
                rows,
                warmup,
                repeats,
            }),
        }
    }

    /// A run of the command called `label` (empty for the only command) started or ended.
    pub(crate) fn step(&self, label: &str, step: Step) {
        let Some(s) = &self.shown else { return };
        match step {
            Step::Started(round) => {
                let what = match round {
                    Round::Warmup(k) => format!("warmup {}/{}", k + 1, s.warmup),
                    Round::Repeat(k) => format!("repeat {}/{}", k + 1, s.repeats),
                };
                // Each call draws: the message first, so no frame lacks it.
                s.bar.set_message(what);
                let prefix = if label.is_empty() {
                    String::new()
                } else {
                    format!("{label}: ")
                };
                if s.bar.prefix() != prefix {
                    s.bar.set_prefix(prefix);
                }
            }
            Step::Finished(_) => s.bar.inc(1),
        }
    }

    /// Give the bottom row back to the terminal.
    pub(crate) fn finish(&mut self) {
        if let Some(s) = self.shown.take() {
            s.bar.finish_and_clear();
            emit(&format!(
                "\x1b7\x1b[r\x1b8\x1b7\x1b[{};1H\x1b[2K\x1b8",
                s.rows
            ));
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

fn emit(s: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(s.as_bytes()).and_then(|()| err.flush());
}

/// Rows and columns of the terminal on stderr.
fn size() -> Option<(u16, u16)> {
    // SAFETY: TIOCGWINSZ fills a winsize we own.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: as above, on fd 2.
    let r = unsafe { libc::ioctl(2, libc::TIOCGWINSZ, &mut ws) };
    (r == 0 && ws.ws_row > 0 && ws.ws_col > 0).then_some((ws.ws_row, ws.ws_col))
}

/// indicatif's terminal, drawing every frame on the bottom row with the cursor saved and
/// restored around it, so the scrolling text above never moves.
#[derive(Debug)]
struct BottomRow {
    rows: u16,
    cols: u16,
    line: Arc<Mutex<String>>,
}

impl BottomRow {
    fn line(&self) -> std::sync::MutexGuard<'_, String> {
        self.line.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl TermLike for BottomRow {
    fn width(&self) -> u16 {
        self.cols
    }

    fn height(&self) -> u16 {
        self.rows
    }

    fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }

    fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }

    fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }

    fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }

    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.write_str(s)
    }

    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.line().push_str(s);
        Ok(())
    }

    fn clear_line(&self) -> std::io::Result<()> {
        self.line().clear();
        Ok(())
    }

    fn flush(&self) -> std::io::Result<()> {
        // A line longer than the terminal would wrap into the scrolling region.
        let text: String = std::mem::take(&mut *self.line())
            .chars()
            .take(usize::from(self.cols) - 1)
            .collect();
        // One write: save the cursor, draw on the bottom row, restore.
        emit(&format!("\x1b7\x1b[{};1H\x1b[2K{text}\x1b8", self.rows));
        Ok(())
    }
}
