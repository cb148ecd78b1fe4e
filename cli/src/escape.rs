//! Making text from the measured program safe to print.
//!
//! Region names, process names, benchmark ids, notes and incomplete reasons come from the
//! measured program, which in CI is the untrusted head of a pull request. Every human,
//! Markdown or CSV output passes such text through this module just before it is written
//! (the saved JSON keeps it verbatim: JSON escaping already covers it).
//!
//! Escape style, the same everywhere:
//! - `\t`, `\n`, `\r` for tab, line feed and carriage return;
//! - `\xHH` (two lowercase hex digits) for every other C0 control and DEL: `\x1b`, `\x07`,
//!   `\x7f`;
//! - `\uHHHH` (four lowercase hex digits) for the C1 controls U+0080–U+009F, the bidi
//!   marks, embeddings, overrides and isolates (U+061C, U+200E, U+200F, U+202A–U+202E,
//!   U+2066–U+2069) and the line and paragraph separators U+2028 and U+2029: `\u202e`.
//!
//! Everything else, backslash included, is shown as it is: the escaping is there so that
//! a name cannot drive the terminal, split a log line or reorder the text around it, not
//! to be reversible. Keeping backslash as it is also keeps pytest's own `\x..` ids and
//! benchmem's `\xHH` spelling of non-UTF-8 region names reading the same.

use std::borrow::Cow;
use std::fmt::Write;

/// Whether `c` is shown escaped in every output.
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// `s` with control characters and bidi controls escaped (see the module docs): safe on a
/// terminal and in a CI log, as one line. Idempotent, since no escape contains a character
/// it escapes.
pub fn text(s: &str) -> Cow<'_, str> {
    if !s.chars().any(hidden) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x80 && hidden(c) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if hidden(c) => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Append `line` to `out` escaped by [`text`], then a newline: for lines that must stay
/// whole (an error, which is one line).
pub fn push_line(out: &mut String, line: &str) {
    out.push_str(&text(line));
    out.push('\n');
}

/// A line of plain text that begins with untrusted text (a section heading): [`text`],
/// and a leading `::` shown as `\x3a:`, so the line cannot be a GitHub Actions workflow
/// command (`::error::`, `::add-mask::`) when it lands in a job log.
pub fn line(s: &str) -> Cow<'_, str> {
    match text(s) {
        t if t.starts_with("::") => Cow::Owned(format!("\\x3a{}", &t[1..])),
        t => t,
    }
}

/// `s` for GitHub-flavoured Markdown (a table cell, a heading, a paragraph): [`text`], then
/// a backslash before every character that could format, link, embed HTML or an entity,
/// or break out of a table cell, so the text renders literally as [`text`] shows it.
pub fn markdown(s: &str) -> String {
    let t = text(s);
    let mut out = String::with_capacity(t.len() + 8);
    for (i, c) in t.char_indices() {
        let special = matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&' | '$'
        ) || (i == 0 && c == '#');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The message of a GitHub Actions workflow command (`::error title=...::MESSAGE`):
/// [`text`], then `%`, carriage return and line feed as `%25`, `%0D` and `%0A`, the
/// runner's own escapes. The message stays on its command's line, so no name in it can
/// start a command of its own, and the runner shows it as [`text`] does.
pub fn workflow_message(s: &str) -> String {
    text(s)
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A CSV text cell (name, id, label; never a number): [`text`], then a leading `'` when
/// the cell starts with `=`, `+`, `-` or `@`, which spreadsheets would run as a formula
/// (tab and carriage return, OWASP's other two, are already shown escaped), or with `:`,
/// since a CSV printed in a GitHub Actions log would otherwise let a row begin with `::`,
/// a workflow command. Quoting for commas and quotes is the CSV writer's job.
pub fn csv_text(s: &str) -> Cow<'_, str> {
    match text(s) {
        t if t.starts_with(['=', '+', '-', '@', ':']) => Cow::Owned(format!("'{t}")),
        t => t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_text_is_untouched_and_borrowed() {
        for s in [
            "test_x[1000]",
            "café",
            "a b/c.py::t",
            "r\\x80z",
            "",
            "−12.5%",
        ] {
            assert!(matches!(text(s), Cow::Borrowed(t) if t == s), "{s:?}");
            assert!(matches!(line(s), Cow::Borrowed(t) if t == s), "{s:?}");
        }
        assert!(matches!(csv_text("test_x"), Cow::Borrowed("test_x")));
    }

    #[test]
    fn controls_and_bidi_are_escaped() {
        assert_eq!(text("\x1b[31mred\x07"), "\\x1b[31mred\\x07");
        assert_eq!(text("a\tb\nc\rd"), "a\\tb\\nc\\rd");
        assert_eq!(text("\0\x7f"), "\\x00\\x7f");
        assert_eq!(text("\u{85}\u{9b}31m"), "\\u0085\\u009b31m");
        assert_eq!(text("\u{202e}gpj.exe\u{202c}"), "\\u202egpj.exe\\u202c");
        assert_eq!(
            text("\u{61c}\u{200e}\u{200f}\u{202a}\u{2066}\u{2069}\u{2028}\u{2029}"),
            "\\u061c\\u200e\\u200f\\u202a\\u2066\\u2069\\u2028\\u2029"
        );
        // Neighbours of the ranges stay as they are.
        assert_eq!(
            text("\u{a0}\u{2029}\u{202f}\u{2065}\u{206a}"),
            "\u{a0}\\u2029\u{202f}\u{2065}\u{206a}"
        );
    }

    #[test]
    fn lines_cannot_start_a_workflow_command() {
        assert_eq!(line("::error::x"), "\\x3a:error::x");
        assert_eq!(line("\n::error::x"), "\\n::error::x");
        assert_eq!(line("a::b"), "a::b");
        assert_eq!(line(":a"), ":a");
    }

    #[test]
    fn workflow_messages_stay_on_their_line() {
        assert_eq!(
            workflow_message("100% of x\n::error::y\r"),
            "100%25 of x\\n::error::y\\r"
        );
        assert_eq!(workflow_message("a %0A b"), "a %250A b");
        assert!(!workflow_message("\u{2028}\x1b").contains(['\u{2028}', '\x1b']));
    }

    #[test]
    fn markdown_metacharacters_are_escaped() {
        assert_eq!(markdown("[x](http://e)"), "\\[x\\](http://e)");
        assert_eq!(markdown("a|b"), "a\\|b");
        assert_eq!(markdown("<img src=x>"), "\\<img src=x\\>");
        assert_eq!(
            markdown("*b* _i_ `c` ~~s~~"),
            "\\*b\\* \\_i\\_ \\`c\\` \\~\\~s\\~\\~"
        );
        assert_eq!(markdown("&#x202e; $x$"), "\\&#x202e; \\$x\\$");
        assert_eq!(markdown("# h #2"), "\\# h #2");
        // Escaped controls show their backslash once rendered.
        assert_eq!(markdown("a\\b\nc"), "a\\\\b\\\\nc");
        assert_eq!(markdown("plain name"), "plain name");
    }

    #[test]
    fn csv_formulas_are_neutralised() {
        assert_eq!(csv_text("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
        for s in ["+1", "-1", "@SUM(A1)", "::error::x"] {
            assert_eq!(csv_text(s), format!("'{s}"));
        }
        assert_eq!(csv_text("\t=1"), "\\t=1");
        assert_eq!(csv_text("a=1"), "a=1");
    }

    proptest::proptest! {
        // Whatever the input, no output holds a character that is shown escaped, and
        // escaping twice changes nothing.
        #[test]
        fn nothing_hidden_survives(s in "\\PC*|[\\x00-\\x{a0}\\x{2028}-\\x{206f}]{0,20}") {
            for out in [text(&s).into_owned(), line(&s).into_owned(), markdown(&s), csv_text(&s).into_owned()] {
                proptest::prop_assert!(!out.chars().any(hidden), "{:?} -> {:?}", s, out);
            }
            let once = text(&s).into_owned();
            proptest::prop_assert_eq!(text(&once), once.as_str());
            proptest::prop_assert!(!line(&s).starts_with("::"));
        }
    }
}
