//! Robustness: the CLI's readers over one corpus of malformed inputs —
//! a real blob cut at every few bytes, wrong types and missing keys at every level, huge
//! and negative numbers, NaN, binary garbage, empty, oversized and endless files — and
//! malformed `--fail-on`/`--max` thresholds. Each gets one clear line and exit status 2,
//! never a panic, never a hang. (The blob reader and threshold parser also have proptests
//! in `cli/src/blob/read.rs` and `cli/src/gate.rs`, run by the normal `cargo test`.)

use std::path::{Path, PathBuf};

use benchmem_tests::{Outcome, bm, compile, measure_env};
use serde_json::{Value, json};

/// Asserts `benchmem args...` refused its input cleanly, naming `what` in one line.
fn refused(args: &[&str], what: &str) {
    assert_refused(&bm(args), args, what);
}

/// Asserts `out`, from `benchmem args...`, is a clean refusal naming `what` in one line.
fn assert_refused(out: &Outcome, args: &[&str], what: &str) {
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(out.code(), 2, "{args:?}: {out:?}");
    assert_eq!(lines.len(), 1, "{args:?}: not one line: {}", out.stderr);
    assert!(
        lines[0].starts_with("benchmem: ") && lines[0].contains(what),
        "{args:?}: {}",
        lines[0]
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}

/// A real blob from `benchmem run`.
fn real_blob() -> (String, tempfile::TempDir) {
    let prog = compile("fork_exec.c", &[]);
    let (out, _blob, d) = measure_env(&[], &[], &prog, &[]);
    assert_eq!(out.code(), 0);
    let text = std::fs::read_to_string(d.path().join("run.json")).unwrap();
    (text, d)
}

/// Every place in `v` where a value could be replaced, as JSON pointers.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(x, p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(x, p, out);
            }
        }
        _ => {}
    }
}

fn corpus(dir: &Path, good: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut add = |name: String, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        files.push(p);
    };
    // Truncated at many points (never a complete document).
    let step = (good.len() / 40).max(1);
    for cut in (0..good.len() - 1).step_by(step) {
        add(format!("cut-{cut}.json"), &good.as_bytes()[..cut]);
    }
    // Scalars and garbage.
    for (name, text) in [
        ("empty.json", ""),
        ("null.json", "null"),
        ("number.json", "42"),
        ("string.json", "\"benchmarks\""),
        ("list.json", "[]"),
        (
            "nan.json",
            r#"{"benchmarks":[{"name":"t","stats":{"min":NaN}}]}"#,
        ),
        (
            "inf.json",
            r#"{"benchmarks":[{"name":"t","stats":{"min":Infinity}}]}"#,
        ),
        (
            "bigexp.json",
            r#"{"benchmarks":[{"name":"t","extra_info":{"benchmem":{"peak_bytes":[1e999]}}}]}"#,
        ),
        (
            "u64max+1.json",
            r#"{"benchmarks":[{"name":"t","extra_info":{"benchmem":{"peak_bytes":[18446744073709551616]}}}]}"#,
        ),
        (
            "negative.json",
            r#"{"benchmarks":[{"name":"t","extra_info":{"benchmem":{"total_bytes":[-4096]}}}]}"#,
        ),
        (
            "fraction.json",
            r#"{"benchmarks":[{"name":"t","extra_info":{"benchmem":{"allocations":[0.5]}}}]}"#,
        ),
        (
            "negtime.json",
            r#"{"benchmarks":[{"name":"t","stats":{"min":-1,"max":1,"mean":1,"median":1,"stddev":0,"rounds":1}}]}"#,
        ),
        ("dup.json", r#"{"benchmarks":[{"name":"t"},{"name":"t"}]}"#),
        ("nobench.json", r#"{"benchmarks":[]}"#),
        ("noname.json", r#"{"benchmarks":[{"extra_info":{}}]}"#),
        ("deep.json", &"[".repeat(100_000)),
        ("bom.json", "\u{feff}{\"benchmarks\":[]}"),
        ("trailing.json", r#"{"benchmarks":[]} x"#),
    ] {
        add(name.to_string(), text.as_bytes());
    }
    add(
        "binary.json".into(),
        &[0xff, 0xfe, 0x00, 0x01, b'{', 0x80, 0x81],
    );
    add(
        "badutf8.json".into(),
        b"{\"benchmarks\":[{\"name\":\"\xff\xfe\"}]}",
    );
    // Wrong types and missing keys, everywhere in the real blob.
    let v: Value = serde_json::from_str(good).unwrap();
    let mut ps = Vec::new();
    pointers(&v, String::new(), &mut ps);
    let wrongs = [
        json!("x"),
        json!(-1),
        json!(1.5),
        json!(null),
        json!({}),
        json!([true]),
    ];
    for (i, p) in ps.iter().enumerate() {
        if !(p.starts_with("/benchmarks") || p == "/benchmem") {
            continue; // machine_info and friends are not read
        }
        let mut w = v.clone();
        *w.pointer_mut(p).unwrap() = wrongs[i % wrongs.len()].clone();
        add(format!("wrong-{i}.json"), w.to_string().as_bytes());
    }
    files
}

#[test]
fn malformed_blobs_are_one_line_and_status_2() {
    let (good, d) = real_blob();
    let base = d.path().join("run.json");
    let base = base.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = corpus(dir.path(), &good);
    assert!(files.len() > 80, "{}", files.len());
    let mut refused_count = 0;
    for f in &files {
        let fs = f.to_str().unwrap();
        let show = bm(&["show", fs]);
        assert!(!show.stderr.contains("panicked"), "{fs}: {}", show.stderr);
        if show.code() == 0 {
            // A wrong value where benchmem reads nothing is fine, but must then compare too.
            let cmp = bm(&["compare", base, fs]);
            assert!(!cmp.stderr.contains("panicked"), "{fs}: {}", cmp.stderr);
            assert!([0, 2].contains(&cmp.code()), "{fs}: {cmp:?}");
            continue;
        }
        refused_count += 1;
        assert_refused(&show, &["show", fs], fs);
        refused(&["compare", base, fs], fs);
        refused(&["compare", fs, base], fs);
    }
    assert!(
        refused_count > 60,
        "only {refused_count} of {} refused",
        files.len()
    );
}

#[test]
fn oversized_and_endless_files_are_refused_without_reading_them() {
    let dir = tempfile::tempdir().unwrap();
    let sparse = dir.path().join("sparse.json");
    std::fs::File::create(&sparse)
        .unwrap()
        .set_len(600 << 20)
        .unwrap();
    let s = sparse.to_str().unwrap();
    refused(&["show", s], "too large");
    // A character device has no length: reading must stop at the limit, not run forever.
    refused(&["show", "/dev/zero"], "/dev/zero");
    refused(&["show", "/dev/null"], "/dev/null");
    refused(&["show", dir.path().to_str().unwrap()], "directory");
    refused(&["show", "/no/such/file.json"], "no such file");
}

#[test]
fn malformed_thresholds_are_one_line_and_status_2() {
    let (_good, d) = real_blob();
    let base = d.path().join("run.json");
    let base = base.to_str().unwrap();
    for gate in [
        "",
        "peak",
        "peak:",
        ":10%",
        "peak:-5%",
        "peak:NaN%",
        "peak:nan",
        "peak:inf",
        "peak:1e999",
        "peak:10%%",
        "peak:10XB",
        "bogus:10%",
        "peak:10%:x",
        "peak:%",
        "peak:1e400MiB",
        "peak:0x10",
        "позиция:1%",
    ] {
        for flag in ["--fail-on", "--max"] {
            let out = bm(&["compare", base, base, flag, gate]);
            // Usage errors come in clap's form: one `error:` line naming the value, then
            // the usual pointer to --help.
            assert_eq!(out.code(), 2, "{flag} {gate:?}: {out:?}");
            let first = out.stderr.lines().next().unwrap_or("");
            assert!(
                first.starts_with("error: invalid value") && first.contains(flag),
                "{flag} {gate:?}: {}",
                out.stderr
            );
            assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        }
    }
}

#[test]
fn commands_that_cannot_start_say_why_in_one_line() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("sub");
    let script = d.path().join("noexec.sh");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(&script, "echo hi\n").unwrap();
    let (dir, script) = (dir.to_str().unwrap(), script.to_str().unwrap());
    refused(&["run", "--", dir], "it is a directory");
    refused(&["run", "--", script], "it is not executable");
    refused(&["run", "--", "/no/such/prog"], "no such file");
    refused(&["run", "--", "no-such-prog-xyz"], "not found in PATH");
    // A bare name that only exists in the current directory.
    let out = benchmem_tests::run_limited(
        std::process::Command::new(benchmem_tests::benchmem())
            .args(["run", "--", "noexec.sh"])
            .current_dir(d.path()),
        std::time::Duration::from_secs(60),
    );
    assert_refused(&out, &["noexec.sh"], "did you mean ./noexec.sh?");
}

#[test]
fn a_mistyped_option_is_a_usage_error_not_the_command() {
    let out = bm(&["run", "--repats", "3", "--", "/bin/true"]);
    assert_eq!(out.code(), 2, "{out:?}");
    assert!(
        out.stderr.contains("unexpected argument '--repats' found")
            && out.stderr.contains("--repeats"),
        "{out:?}"
    );
    assert!(!out.stderr.contains("cannot run"), "{out:?}");
    // Arguments after the program are the program's, dashes and all.
    let ok = bm(&["run", "/bin/echo", "-n", "--x"]);
    assert_eq!((ok.code(), ok.stdout.as_str()), (0, "--x"), "{ok:?}");
}
