//! A real program names its regions and a process with escape sequences, a newline and a
//! workflow command, a bidi override, a formula and Markdown: the saved run keeps the
//! names verbatim, every table benchmem prints shows them escaped.

use benchmem_tests::{bm, compile, measure};

/// The region names of tests/programs/hostile_names.c, as the program spells them and as
/// benchmem shows them on a terminal.
const REGIONS: [(&str, &str); 6] = [
    (
        "\x1b[31mred\x1b[0m\x1b]0;title\x07",
        r"\x1b[31mred\x1b[0m\x1b]0;title\x07",
    ),
    ("ok\n::error::pwned", r"ok\n::error::pwned"),
    ("\u{202e}gnp.exe", r"\u202egnp.exe"),
    ("=cmd|' /C calc'!A0", "=cmd|' /C calc'!A0"),
    ("[x](http://e)|y", "[x](http://e)|y"),
    ("c1\u{9b}31m\ttab\rcr", r"c1\u009b31m\ttab\rcr"),
];

/// The child's argv[0], which names its process row.
const PROCESS: (&str, &str) = (
    "\x1b[2Jproc\n::error::argv0",
    r"\x1b[2Jproc\n::error::argv0",
);

/// No raw control character (but line ends) or bidi control, no line that GitHub Actions
/// would read as a workflow command.
fn assert_safe(out: &str, what: &str) {
    let bad = |c: char| {
        (c.is_control() && c != '\n')
            || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
    };
    if let Some(c) = out.chars().find(|&c| bad(c)) {
        panic!("{what}: raw {c:?} in\n{out}");
    }
    for line in out.lines() {
        assert!(!line.starts_with("::"), "{what}: workflow command {line:?}");
    }
}

#[test]
fn hostile_names_from_a_real_program_are_escaped() {
    let prog = compile("hostile_names.c", &[]);
    let (out, blob, dir) = measure(&[], &prog, &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "done 0\n");

    // The blob keeps the names as the program gave them, with their exact sizes.
    let names = blob.names();
    for (i, (raw, _)) in REGIONS.iter().enumerate() {
        assert_eq!(
            blob.series(raw).total,
            vec![1000 * (i as u64 + 1)],
            "{raw:?} in {names:?}"
        );
    }
    assert!(names.iter().any(|n| n == PROCESS.0), "{names:?}");

    // `run`'s table on stderr.
    assert_safe(&out.stderr, "run's table");
    for (_, shown) in REGIONS.iter().chain([&PROCESS]) {
        assert!(
            out.stderr.contains(&format!("│ {shown} ")),
            "{shown} not a row of\n{}",
            out.stderr
        );
    }

    let json = dir.path().join("run.json");
    let json = json.to_str().unwrap();
    let table = bm(&["show", json]);
    assert_eq!(table.code(), 0, "{table:?}");
    assert_safe(&table.stdout, "show");
    assert_safe(&table.stderr, "show's stderr");
    // `run` and `show` print the same table (the command's exit is not noted: it was 0).
    assert_eq!(table.stdout, out.stderr);

    let md = bm(&["show", json, "--format", "md"]);
    assert_safe(&md.stdout, "show --format md");
    assert!(
        md.stdout.contains(r"| \[x\](http://e)\|y |"),
        "{}",
        md.stdout
    );
    assert!(
        md.stdout.contains(r"| ok\\n::error::pwned |"),
        "{}",
        md.stdout
    );
    assert!(!md.stdout.contains("[x](http"), "{}", md.stdout);

    let csv = bm(&["show", json, "--format", "csv"]);
    assert_safe(&csv.stdout, "show --format csv");
    assert_safe(&csv.stderr, "show --format csv, stderr");
    assert!(
        csv.stdout.contains("\n'=cmd|' /C calc'!A0,"),
        "{}",
        csv.stdout
    );
    assert_eq!(
        csv.stdout.lines().count(),
        1 + names.len(),
        "{}",
        csv.stdout
    );

    // A failing gate names every hostile region, escaped.
    // (compare refuses one file given twice: the head is a copy)
    let head = dir.path().join("head.json");
    std::fs::copy(json, &head).unwrap();
    let gate = bm(&[
        "compare",
        json,
        head.to_str().unwrap(),
        "--max",
        "allocated:1",
    ]);
    assert_eq!(gate.code(), 1, "{gate:?}");
    assert_safe(&gate.stdout, "compare");
    assert_safe(&gate.stderr, "compare's gate");
    for (_, shown) in REGIONS.iter().chain([&PROCESS]) {
        assert!(
            gate.stderr.contains(&format!("allocated  {shown}: ")),
            "{shown} not in\n{}",
            gate.stderr
        );
    }
}
