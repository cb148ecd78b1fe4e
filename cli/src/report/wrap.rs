//! Breaking text into lines that fit a width: cells of a table (names broken where they
//! read best) and lines of prose (captions, notes, gate messages, broken at spaces, each
//! continuation indented so that no line benchmem prints begins with untrusted text).

use unicode_width::UnicodeWidthChar;

/// How many columns `s` takes on a terminal: wide characters count two, and benchmem's
/// own colour codes (`ESC [ ... m`) none.
pub(crate) fn width(s: &str) -> usize {
    let mut w = 0;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        w += c.width().unwrap_or(0);
    }
    w
}

/// Where a cell may be broken: after these, a name still reads as one.
fn cell_break(c: char) -> bool {
    matches!(
        c,
        ' ' | '/' | ':' | '_' | '-' | '.' | ',' | '[' | '(' | '·' | '=' | '|'
    )
}

/// `s` in lines of at most `w` columns, broken after a separator when one is in the
/// second half of the line, else where the width runs out.
pub(crate) fn cell_lines(s: &str, w: usize) -> Vec<String> {
    lines(s, w, w, cell_break)
}

/// A line of prose in lines of at most `w` columns: broken at spaces (a longer word where
/// the width runs out), every line after the first indented by `indent` spaces.
pub(crate) fn prose_lines(s: &str, w: usize, indent: usize) -> Vec<String> {
    let indent = indent.min(w / 2);
    let mut out = lines(s, w, w - indent, |c| c == ' ');
    for l in out.iter_mut().skip(1) {
        l.insert_str(0, &" ".repeat(indent));
    }
    out
}

/// Every line of `text` broken by [`prose_lines`], each ending with a newline.
pub(crate) fn prose(text: &str, w: usize, indent: usize) -> String {
    text.lines()
        .flat_map(|l| prose_lines(l, w, indent))
        .map(|l| l + "\n")
        .collect()
}

/// Append `line`, escaped as every line of benchmem's ([`crate::escape::text`]) and
/// broken to fit `w`, to `out`.
pub(crate) fn push_prose(out: &mut String, line: &str, w: usize) {
    out.push_str(&prose(&crate::escape::text(line), w, 2));
}

fn lines(s: &str, first: usize, rest: usize, can_break: impl Fn(char) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut left = s;
    let mut limit = first.max(1);
    while width(left) > limit {
        // The longest prefix that fits, and the last good break within its second half.
        let mut used = 0;
        let mut fits = 0;
        let mut good = None;
        for (i, c) in left.char_indices() {
            let cw = c.width().unwrap_or(0);
            // A line may end just before a space, which the break then eats.
            if c == ' ' && can_break(c) && i > 0 && used * 2 >= limit {
                good = Some(i);
            }
            if used + cw > limit {
                break;
            }
            used += cw;
            fits = i + c.len_utf8();
            if can_break(c) && used * 2 >= limit {
                good = Some(fits);
            }
        }
        let at = good
            .unwrap_or(fits)
            .max(left.chars().next().map_or(1, char::len_utf8));
        let (line, tail) = left.split_at(at);
        out.push(line.trim_end().to_string());
        left = tail.trim_start_matches(' ');
        limit = rest.max(1);
    }
    if !left.is_empty() || out.is_empty() {
        out.push(left.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_skip_colour_and_count_wide_characters() {
        assert_eq!(width("abc"), 3);
        assert_eq!(width("\x1b[31m+2.0%\x1b[0m"), 5);
        assert_eq!(width("日本"), 4);
        assert_eq!(width("peak·min"), 8);
    }

    #[test]
    fn cells_break_after_separators() {
        assert_eq!(
            cell_lines("tests/test_rows.py::test_make_rows[100000]", 20),
            ["tests/test_rows.py::", "test_make_rows[", "100000]"]
        );
        assert_eq!(cell_lines("short", 20), ["short"]);
        assert_eq!(cell_lines("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(cell_lines("", 4), [""]);
        assert_eq!(cell_lines("日本語の名前", 5), ["日本", "語の", "名前"]);
    }

    #[test]
    fn prose_breaks_at_spaces_and_indents() {
        let text = "values: min over each run's repeats; (N.NN): multiple of the best run";
        let lines = prose_lines(text, 30, 2);
        assert_eq!(
            lines,
            [
                "values: min over each run's",
                "  repeats; (N.NN): multiple of",
                "  the best run"
            ]
        );
        assert!(lines.iter().all(|l| width(l) <= 30));
        // A word longer than the line is cut; a continuation never starts the line.
        let lines = prose_lines("x ::error::aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 20, 2);
        assert!(
            lines.iter().skip(1).all(|l| l.starts_with("  ")),
            "{lines:?}"
        );
        assert!(lines.iter().all(|l| width(l) <= 20), "{lines:?}");
    }

    proptest::proptest! {
        #[test]
        fn every_line_fits(s in "\\PC{0,120}", w in 1usize..60) {
            for l in cell_lines(&s, w) {
                proptest::prop_assert!(width(&l) <= w.max(2), "{:?} at {}", l, w);
            }
            let w = w.max(8);
            for (i, l) in prose_lines(&s, w, 2).iter().enumerate() {
                proptest::prop_assert!(width(l) <= w, "{:?} at {}", l, w);
                if i > 0 {
                    proptest::prop_assert!(l.starts_with("  "));
                }
            }
        }
    }
}
