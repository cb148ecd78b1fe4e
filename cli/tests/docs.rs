//! Shell completions and manual pages, generated from the clap definitions.

use std::io::Write;
use std::process::{Command, Stdio};

fn benchmem(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_benchmem"))
        .args(args)
        .output()
        .expect("benchmem runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn completion_scripts_know_the_options() {
    let (code, bash, err) = benchmem(&["completions", "bash"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(bash.contains("--repeats"), "{bash}");
    assert!(bash.contains("--ignore-failure") && bash.contains("complete -F"));
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let (code, text, _) = benchmem(&["completions", shell]);
        assert_eq!(code, 0, "{shell}");
        assert!(text.contains("repeats"), "{shell}: {text}");
    }
    let (code, _, err) = benchmem(&["completions", "tcsh"]);
    assert_eq!(code, 2);
    assert!(err.contains("invalid value 'tcsh'"), "{err}");
}

/// `man -l -` renders `page`; its warnings, if any (None when man-db is not installed).
fn man_warnings(page: &str) -> Option<String> {
    let mut child = Command::new("man")
        .args(["-l", "-"])
        .env("MANWIDTH", "80")
        .env("MAN_KEEP_FORMATTING", "0")
        .env("MANROFFOPT", "-ww")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "man -l failed: {out:?}");
    // man may embolden with overstrikes (`S\bS`) even on a pipe: drop them.
    let mut text = String::new();
    for c in String::from_utf8_lossy(&out.stdout).chars() {
        if c == '\u{8}' {
            text.pop();
        } else {
            text.push(c);
        }
    }
    assert!(text.contains("SYNOPSIS"), "{text}");
    Some(String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn manual_pages_are_roff() {
    let (code, page, err) = benchmem(&["man"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(page.contains("\n.TH benchmem 1 "), "{page}");
    assert!(page.contains(".SH SYNOPSIS") && page.contains("completions"));
    let (code, run, _) = benchmem(&["man", "run"]);
    assert_eq!(code, 0);
    assert!(run.contains("\n.TH benchmem-run 1 "), "{run}");
    assert!(run.contains(r"\-\-ignore\-failure"), "{run}");
    if let Some(warnings) = man_warnings(&page) {
        assert_eq!(warnings, "", "man -l warned about benchmem(1)");
        assert_eq!(
            man_warnings(&run).unwrap(),
            "",
            "man -l warned about benchmem-run(1)"
        );
    }
    let (code, _, err) = benchmem(&["man", "frobnicate"]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "benchmem: no command \"frobnicate\" for `benchmem man`: choose from run, show, \
         compare, plot, sweep, where, flamegraph, completions, man, preload-path\n"
    );
}

/// Every source file the architecture document and the README point a reader to exists,
/// so "where is X computed" is answered by a file that is there.
#[test]
fn the_documents_name_files_that_exist() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for doc in ["docs/architecture.md", "README.md"] {
        let text = std::fs::read_to_string(root.join(doc)).expect("document");
        let named: Vec<&str> = text
            .split(|c: char| c == '`' || c.is_whitespace() || c == '(' || c == ')')
            .filter(|w| {
                w.ends_with(".rs") && w.contains('/') && !w.contains('*') && !w.contains("://")
            })
            .collect();
        assert!(doc == "README.md" || named.len() > 20, "{doc}: {named:?}");
        let missing: Vec<&&str> = named.iter().filter(|p| !root.join(p).exists()).collect();
        assert!(
            missing.is_empty(),
            "{doc} names files that do not exist: {missing:?}"
        );
    }
}
