//! Names, notes and paths from a hostile run reach every output escaped: no control or
//! bidi character gets to the terminal or log, no line can be a GitHub Actions workflow
//! command, Markdown cannot link or format, CSV cannot hold a formula.

mod common;

use common::benchmem_in;
use serde_json::{Value, json};

const ESC: &str = "\x1b[31mred\x1b[0m\x1b]0;title\x07";
const NEWLINE: &str = "ok\n::error::pwned";
const BIDI: &str = "\u{202e}gnp.exe\u{2066}";
const FORMULA: &str = "=cmd|' /C calc'!A0";
const LINK: &str = "[x](http://e)|y";
const COMMAND: &str = "::warning::x";
const C1: &str = "c1\u{9b}31m\ttab\rcr";

/// Every hostile name, in file order.
const NAMES: [&str; 7] = [ESC, NEWLINE, BIDI, FORMULA, LINK, COMMAND, C1];

/// A saved run of the hostile names, every value times `scale`; group, params, an
/// incomplete reason and a run note are hostile too.
fn blob(scale: u64) -> Value {
    let benchmarks: Vec<Value> = NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let v = (i as u64 + 1) * 1000 * scale;
            let mut b = json!({
                "name": name,
                // Ids that start with the hostile text too: CSV rows of compare begin with them.
                "fullname": name,
                "group": format!("g\n::error::{i}"),
                "params": {"n": format!("\x1b[2J{i}")},
                "extra_info": {"benchmem": {
                    "peak_bytes": [v, v], "total_bytes": [v, v],
                    "allocations": [i + 1, i + 1], "retained_bytes": [0, 0]}},
            });
            if *name == ESC {
                b["extra_info"]["benchmem_incomplete"] =
                    json!(["repeat 1, pid 7: \x1b[8mhidden\n::error::reason"]);
            }
            b
        })
        .collect();
    json!({
        "benchmarks": benchmarks,
        "benchmem": {"repeats": 2, "notes": ["note \x07\n::error::from notes \u{202e}"]},
    })
}

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Files {
        let dir = tempfile::tempdir().unwrap();
        for (name, scale) in [("base.json", 1), ("head.json", 2)] {
            std::fs::write(dir.path().join(name), blob(scale).to_string()).unwrap();
        }
        Files { dir }
    }

    /// `benchmem ARGS` in the directory of the runs, wide enough that no line breaks; its
    /// outputs must be safe, and so must they be at the narrowest width, where names,
    /// reasons and notes break over lines.
    fn run(&self, args: &[&str]) -> common::Run {
        let narrow = benchmem_in(self.dir.path(), args, &[("COLUMNS", "40")]);
        assert_safe(&narrow.stdout, &format!("stdout of {args:?} in 40 columns"));
        assert_safe(&narrow.stderr, &format!("stderr of {args:?} in 40 columns"));
        let r = benchmem_in(self.dir.path(), args, &[("COLUMNS", "1000")]);
        assert_safe(&r.stdout, &format!("stdout of {args:?}"));
        assert_safe(&r.stderr, &format!("stderr of {args:?}"));
        r
    }
}

/// Characters that must never reach an output raw.
fn forbidden(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
}

fn assert_safe(out: &str, what: &str) {
    if let Some(c) = out.chars().find(|&c| forbidden(c)) {
        panic!("{what}: raw {c:?} in\n{out}");
    }
    for line in out.lines() {
        assert!(
            !line.starts_with("::"),
            "{what}: workflow command line {line:?}"
        );
    }
}

/// The escaped form of every name as the terminal and CSV show it.
fn shown(name: &str) -> &'static str {
    match name {
        ESC => r"\x1b[31mred\x1b[0m\x1b]0;title\x07",
        NEWLINE => r"ok\n::error::pwned",
        BIDI => r"\u202egnp.exe\u2066",
        FORMULA => FORMULA,
        LINK => LINK,
        COMMAND => COMMAND,
        C1 => r"c1\u009b31m\ttab\rcr",
        _ => unreachable!(),
    }
}

#[test]
fn show_escapes_table_markdown_and_csv() {
    let f = Files::new();
    let table = f.run(&["show", "base.json"]);
    assert_eq!(table.status, 0, "{}", table.stderr);
    for name in NAMES {
        assert!(
            table.stdout.contains(shown(name)),
            "{name:?}: {}",
            table.stdout
        );
    }
    assert!(
        table
            .stdout
            .contains(r"* \x1b[31mred\x1b[0m\x1b]0;title\x07: incomplete: repeat 1, pid 7: \x1b[8mhidden\n::error::reason"),
        "{}",
        table.stdout
    );
    assert!(
        table
            .stdout
            .contains(r"note: note \x07\n::error::from notes \u202e"),
        "{}",
        table.stdout
    );
    // One row per benchmark: no name broke a line.
    assert_eq!(
        table.stdout.lines().filter(|l| l.starts_with('│')).count(),
        8
    );

    let md = f.run(&["show", "base.json", "--format", "md"]);
    assert_eq!(md.status, 0, "{}", md.stderr);
    assert!(
        md.stdout.contains(r"| \[x\](http://e)\|y |"),
        "{}",
        md.stdout
    );
    assert!(!md.stdout.contains("[x](http"), "{}", md.stdout);
    assert!(
        md.stdout
            .contains(r"| \\x1b\[31mred\\x1b\[0m\\x1b\]0;title\\x07 \* |")
    );
    assert!(
        md.stdout.contains(r"| ok\\n::error::pwned |"),
        "{}",
        md.stdout
    );
    assert!(
        md.stdout.contains(r"| \\u202egnp.exe\\u2066 |"),
        "{}",
        md.stdout
    );
    assert!(md.stdout.contains(r"\* \\x1b\[31mred"), "{}", md.stdout);
    // Header, alignment, one row per benchmark: every table line is a row.
    let rows = md.stdout.lines().filter(|l| l.starts_with('|')).count();
    assert_eq!(rows, 2 + NAMES.len(), "{}", md.stdout);

    let csv = f.run(&["show", "base.json", "--format", "csv"]);
    assert_eq!(csv.status, 0, "{}", csv.stderr);
    let lines = csv.lines();
    assert_eq!(lines.len(), 1 + NAMES.len(), "{}", csv.stdout);
    assert!(
        lines[4].starts_with("'=cmd|' /C calc'!A0,'=cmd|' /C calc'!A0,4000,"),
        "{}",
        lines[4]
    );
    assert!(
        lines[6].starts_with("'::warning::x,'::warning::x,6000,"),
        "{}",
        lines[6]
    );
    assert!(
        lines[1].starts_with(r"\x1b[31mred\x1b[0m\x1b]0;title\x07 *,"),
        "{}",
        lines[1]
    );
    // The notes go to stderr, escaped as well.
    assert!(
        csv.stderr
            .contains(r"note: note \x07\n::error::from notes \u202e"),
        "{}",
        csv.stderr
    );
}

#[test]
fn compare_escapes_every_view_and_the_gate() {
    let f = Files::new();
    let table = f.run(&["compare", "base.json", "head.json", "--columns", "peak"]);
    assert_eq!(table.status, 0, "{}", table.stderr);
    for name in NAMES {
        assert!(
            table.stdout.contains(shown(name)),
            "{name:?}: {}",
            table.stdout
        );
    }

    let md = f.run(&[
        "compare",
        "base.json",
        "head.json",
        "--columns",
        "peak",
        "--format",
        "md",
    ]);
    assert!(
        md.stdout.contains(r"| \[x\](http://e)\|y | base |"),
        "{}",
        md.stdout
    );
    assert!(!md.stdout.contains("[x](http"), "{}", md.stdout);

    let csv = f.run(&[
        "compare",
        "base.json",
        "head.json",
        "--columns",
        "peak",
        "--format",
        "csv",
    ]);
    assert_eq!(csv.lines().len(), 1 + 2 * NAMES.len(), "{}", csv.stdout);
    assert!(
        csv.stdout.contains("\n'=cmd|' /C calc'!A0,base,4000\n"),
        "{}",
        csv.stdout
    );
    assert!(
        csv.stdout.contains("\n'::warning::x,head,12000\n"),
        "{}",
        csv.stdout
    );

    // Grouped by the hostile group and param: section headings and the CSV section column.
    let grouped = f.run(&[
        "compare",
        "base.json",
        "head.json",
        "--columns",
        "peak",
        "--group-by",
        "group,param:n",
    ]);
    assert!(
        grouped
            .stdout
            .contains(r"group 'g\n::error::0', n=\x1b[2J0: 1 benchmark"),
        "{}",
        grouped.stdout
    );
    let by_id = f.run(&[
        "compare",
        "base.json",
        "head.json",
        "--columns",
        "peak",
        "--group-by",
        "fullname,group",
    ]);
    assert!(
        by_id
            .stdout
            .contains(r"\x3a:warning::x, group 'g\n::error::5': 1 benchmark"),
        "{}",
        by_id.stdout
    );
    let grouped_md = f.run(&[
        "compare",
        "base.json",
        "head.json",
        "--columns",
        "peak",
        "--group-by",
        "group",
        "--format",
        "md",
    ]);
    assert!(
        grouped_md
            .stdout
            .contains(r"#### group 'g\\n::error::4': 1 benchmark"),
        "{}",
        grouped_md.stdout
    );
    let grouped_csv = f.run(&[
        "compare",
        "base.json",
        "head.json",
        "--columns",
        "peak",
        "--group-by",
        "group",
        "--format",
        "csv",
    ]);
    assert!(
        grouped_csv.stdout.contains(r"group 'g\n::error::3','=cmd"),
        "{}",
        grouped_csv.stdout
    );

    for format in ["table", "md", "csv"] {
        let diff = f.run(&[
            "compare",
            "base.json",
            "head.json",
            "--diff",
            "--format",
            format,
        ]);
        assert_eq!(diff.status, 0, "{}", diff.stderr);
    }
    let diff_csv = f.run(&[
        "compare",
        "base.json",
        "head.json",
        "--diff",
        "--columns",
        "peak",
        "--format",
        "csv",
    ]);
    // A legitimate number keeps its sign: only text cells are guarded.
    assert!(
        diff_csv
            .stdout
            .contains("\n'::warning::x,peak,min,6000,12000,100\n"),
        "{}",
        diff_csv.stdout
    );
    let shrink = f.run(&[
        "compare",
        "head.json",
        "base.json",
        "--diff",
        "--columns",
        "peak",
        "--format",
        "csv",
    ]);
    assert!(
        shrink
            .stdout
            .contains("\n'::warning::x,peak,min,12000,6000,-50\n"),
        "{}",
        shrink.stdout
    );

    // Colour forced on: the only escape sequences left are benchmem's own colours.
    let coloured = benchmem_in(
        f.dir.path(),
        &["compare", "base.json", "head.json", "--diff"],
        &[("CLICOLOR_FORCE", "1"), ("COLUMNS", "1000")],
    );
    let stripped = ["\x1b[31m", "\x1b[32m", "\x1b[2m", "\x1b[0m"]
        .iter()
        .fold(coloured.stdout.clone(), |s, code| s.replace(code, ""));
    assert_ne!(stripped, coloured.stdout, "colour was forced");
    assert_safe(&stripped, "coloured --diff");
    assert!(
        stripped.contains(r"\x1b[31mred\x1b[0m\x1b]0;title\x07"),
        "{stripped}"
    );

    let gate = f.run(&[
        "compare",
        "base.json",
        "head.json",
        "--fail-on",
        "peak:10%",
        "--max",
        "allocs:1",
    ]);
    assert_eq!(gate.status, 1, "{}", gate.stderr);
    let errs = gate.err_lines();
    // The hostile benchmark's incomplete first repeat is left out of its gates, and said so.
    assert!(
        errs[0].starts_with(r"left out: 1 incomplete sample of 2 (peak of \x1b[31mred"),
        "{}",
        gate.stderr
    );
    assert_eq!(
        errs[4], "13 regressions over threshold (head vs base):",
        "{}",
        gate.stderr
    );
    assert!(
        errs.contains(&r"peak         ok\n::error::pwned: 1.95 KiB → 3.91 KiB (+100.0% > 10%)"),
        "{}",
        gate.stderr
    );
    assert!(
        errs.contains(&r"allocations  \u202egnp.exe\u2066: 3 (limit 1)"),
        "{}",
        gate.stderr
    );
    assert_eq!(errs.len(), 18, "{}", gate.stderr);
}

#[test]
fn github_annotations_hold_each_name_on_their_own_line() {
    let f = Files::new();
    let r = benchmem_in(
        f.dir.path(),
        &["compare", "base.json", "head.json", "--fail-on", "peak:10%"],
        &[("GITHUB_ACTIONS", "true")],
    );
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert_safe(&r.stdout, "stdout");
    // 80 columns: the gate's lines break, its annotations never do.
    let commands: Vec<&str> = r.stderr.lines().filter(|l| l.starts_with("::")).collect();
    // One per failed gate, and no other line is a command.
    assert_eq!(commands.len(), NAMES.len(), "{}", r.stderr);
    for c in &commands {
        let message = c
            .strip_prefix("::error title=benchmem gate::peak ")
            .unwrap_or_else(|| panic!("not ours: {c}"));
        assert!(!message.chars().any(forbidden), "{c:?}");
    }
    assert!(
        commands.contains(&r"::error title=benchmem gate::peak ok\n::error::pwned: 1.95 KiB → 3.91 KiB (+100.0%25 > 10%25) (head vs base)"),
        "{}",
        r.stderr
    );
    let rest: String = r
        .stderr
        .lines()
        .filter(|l| !l.starts_with("::error title=benchmem gate::"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_safe(&rest, "stderr");
}

#[test]
fn paths_in_errors_are_escaped() {
    let f = Files::new();
    let hostile = "bad\n::error::path\x1b[31m.json";
    std::fs::write(f.dir.path().join(hostile), "{").unwrap();
    let r = f.run(&["show", hostile]);
    assert_eq!(r.status, 2);
    assert!(
        r.stderr
            .starts_with(r"benchmem: bad\n::error::path\x1b[31m.json: not a readable JSON file"),
        "{}",
        r.stderr
    );
    assert_eq!(r.err_lines().len(), 1, "{}", r.stderr);
}
