//! `benchmem run` as a hyperfine or pytest-benchmark user drives it: comparing two builds,
//! failing repeats, shims, progress on a terminal, several commands, run and output
//! control. Real programs, the real binary.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use benchmem_tests::{Blob, Outcome, benchmem, bm, compile, python, run_limited};

/// `tests/programs/two_builds.c` built with `flags`, copied to `dir/sub/bench`: the same
/// program living in another directory, as `./main/bench` and `./pr/bench` do.
fn build_in(dir: &Path, sub: &str, flags: &[&str]) -> PathBuf {
    let built = compile("two_builds.c", flags);
    let d = dir.join(sub);
    std::fs::create_dir_all(&d).unwrap();
    let to = d.join("bench");
    std::fs::copy(&built, &to).unwrap();
    to
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `benchmem ARGS...` run in `dir` with `env` added (60 s limit).
fn bm_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    run_limited(
        Command::new(benchmem())
            .args(args)
            .current_dir(dir)
            // Lines whole, as in bm().
            .env("COLUMNS", "10000")
            .envs(env.iter().copied()),
        Duration::from_secs(60),
    )
}

#[test]
fn two_builds_in_two_directories_compare() {
    let t = tempfile::tempdir().unwrap();
    let main = build_in(t.path(), "main", &[]);
    let pr = build_in(t.path(), "pr", &["-DGROW=2"]);
    let base = t.path().join("base.json");
    let head = t.path().join("head.json");
    // Other paths, other arguments: the ids must not notice.
    let out = bm(&["run", "--json", s(&base), "--", s(&main), "--fast"]);
    assert_eq!(out.code(), 0, "{out:?}");
    let out = bm(&["run", "--json", s(&head), "--", s(&pr), "--slow", "3"]);
    assert_eq!(out.code(), 0, "{out:?}");
    let blob = Blob::read(&head);
    let ids: Vec<&str> = blob.json["benchmarks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["fullname"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["bench", "build"]);
    // The command line is kept for information.
    assert_eq!(
        blob.json["benchmem"]["command"],
        serde_json::json!([s(&pr), "--slow", "3"])
    );
    let out = bm(&["compare", s(&base), s(&head), "--fail-on", "allocated:10%"]);
    assert_eq!(out.code(), 1, "the doubled region fails the gate: {out:?}");
    assert!(out.stderr.contains("build"), "{}", out.stderr);
    assert!(
        !out.stderr.contains("no benchmark in common"),
        "{}",
        out.stderr
    );

    // --name sets the program's row; runs that share nothing say what each side had.
    let named = t.path().join("named.json");
    let out = bm(&[
        "run",
        "--name",
        "parser",
        "--json",
        s(&named),
        "--",
        s(&main),
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(Blob::read(&named).process_rows(), ["parser"]);
    let lone = t.path().join("lone.json");
    let out = bm(&["run", "--json", s(&lone), "--", "/bin/true"]);
    assert_eq!(out.code(), 0, "{out:?}");
    let out = bm(&["compare", s(&named), s(&lone)]);
    assert_eq!(out.code(), 2, "{out:?}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 4, "{}", out.stderr);
    assert!(lines[0].starts_with("benchmem: no benchmark in common"));
    assert_eq!(lines[1], format!("  {}: parser, build", s(&named)));
    assert_eq!(lines[2], format!("  {}: true", s(&lone)));
    assert!(lines[3].contains("--name") && lines[3].contains("--group-by name"));
}

/// A `sh -c` script that fails on its `n`-th run (counted in `dir/count`).
fn fails_on(dir: &Path, n: u32) -> String {
    let count = dir.join("count");
    format!(
        "c=$(cat {0} 2>/dev/null || echo 0); c=$((c+1)); echo $c > {0}; [ $c -ne {n} ]",
        count.display()
    )
}

#[test]
fn a_failed_repeat_stops_the_run_and_says_why() {
    let t = tempfile::tempdir().unwrap();
    let json = t.path().join("run.json");
    let script = fails_on(t.path(), 2);
    let out = bm(&[
        "run",
        "-n",
        "4",
        "--json",
        s(&json),
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr.contains(
            "note: stopped after repeat 2 of 4: the command exited with status 1; \
             --ignore-failure to go on"
        ),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("2 repeats"), "{}", out.stderr);
    let blob = Blob::read(&json);
    let cmd = &blob.json["benchmem"]["commands"][0];
    assert_eq!(cmd["repeats"], 2);
    assert_eq!(cmd["repeats_asked"], 4);
    assert_eq!(cmd["stopped"], "command_failed");
    assert_eq!(
        blob.json["benchmem"]["stopped"][0],
        out.stderr
            .lines()
            .find(|l| l.starts_with("note: stopped"))
            .unwrap()
            .trim_start_matches("note: ")
    );

    // -i goes on, keeps every repeat, records the failed one and exits 0 (as hyperfine -i).
    std::fs::remove_file(t.path().join("count")).unwrap();
    let out = bm(&[
        "run",
        "-n",
        "4",
        "-i",
        "--json",
        s(&json),
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stderr.contains("4 repeats"), "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "note: 1 of 4 repeats failed and were kept (--ignore-failure): repeat 2 exited \
             with status 1"
        ),
        "{}",
        out.stderr
    );
    let blob = Blob::read(&json);
    let cmd = &blob.json["benchmem"]["commands"][0];
    assert_eq!(cmd["repeats"], 4);
    assert_eq!(
        cmd["failed_repeats"],
        serde_json::json!([{"repeat": 2, "exit_status": 1}])
    );
    assert!(cmd.get("stopped").is_none());
}

/// A pyenv-like shim for `python3` in `dir/bin`: bash, `$(...)` subshells running
/// readlink, dirname, cat and basename, then `exec env ... bash -c 'exec ...'` into the
/// real interpreter, as pyenv's shim and `pyenv exec` do.
fn shim(dir: &Path, real: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let versions = dir.join("version");
    std::fs::write(&versions, "3\n").unwrap();
    let script = format!(
        r#"#!/usr/bin/env bash
set -e
program="${{0##*/}}"
export PYENV_ROOT="{root}"
root="$(dirname "$(readlink -f "$0")")"
version="$(cat "{versions}")"
for d in 1 2 3; do here="$(basename "$root")"; done
real="{real}"
exec env PYENV_VERSION="$version" bash -c 'exec "$0" "$@"' "$real" "$@"
"#,
        root = dir.display(),
        versions = versions.display(),
        real = real.display(),
    );
    let path = bin.join("python3");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

#[test]
fn a_shims_helper_processes_fold_into_one_line() {
    let t = tempfile::tempdir().unwrap();
    let bin = shim(t.path(), &python());
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let json = t.path().join("run.json");
    let out = bm_in(
        t.path(),
        &[
            "run",
            "--json",
            s(&json),
            "--",
            "python3",
            "-c",
            "x = [bytes(100) for _ in range(1000)]",
        ],
        &[("PATH", &path)],
    );
    assert_eq!(out.code(), 0, "{out:?}");
    let rows: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with('│') && !l.contains("name"))
        .collect();
    let interpreter = python().file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(rows.len(), 1, "one row, the interpreter's:\n{}", out.stderr);
    assert!(
        rows[0].starts_with(&format!("│ {interpreter} ")),
        "{}",
        out.stderr
    );
    let folded: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("helper process"))
        .collect();
    assert_eq!(folded.len(), 1, "{}", out.stderr);
    for program in ["bash", "env", "readlink", "dirname", "basename"] {
        assert!(folded[0].contains(program), "{program} in {}", folded[0]);
    }
    // The blob keeps every process; show lists them on request.
    let blob = Blob::read(&json);
    let helpers = blob.json["benchmarks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["extra_info"]["benchmem_kind"] == "helper")
        .count();
    assert!(helpers >= 8, "{helpers} helpers in {:?}", blob.names());
    let shown = bm(&["show", s(&json)]);
    assert_eq!(
        shown.stdout.lines().filter(|l| l.starts_with('│')).count(),
        2
    );
    let all = bm(&["show", "--all-processes", s(&json)]);
    assert_eq!(
        all.stdout.lines().filter(|l| l.starts_with('│')).count(),
        2 + helpers,
        "{}",
        all.stdout
    );
}

/// Runs `benchmem args` with stdout and stderr on a pseudo-terminal of 24 rows and 100
/// columns; everything it wrote there.
fn on_a_terminal(args: &[&str]) -> (i32, String) {
    use std::io::Read;
    use std::os::fd::{FromRawFd, OwnedFd};
    let (mut master, mut slave) = (0, 0);
    let size = libc::winsize {
        ws_row: 24,
        ws_col: 100,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty fills two descriptors; the winsize is read only.
    let r = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(r, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are fresh and ours.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut child = Command::new(benchmem())
        .args(args)
        .env_remove("NO_COLOR")
        .env("TERM", "xterm")
        .stdin(std::process::Stdio::null())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave)
        .spawn()
        .unwrap();
    let mut reader = std::fs::File::from(master);
    let collect = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        // EIO once the last writer is gone: the end of the terminal's output.
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        all
    });
    let status = child.wait().unwrap();
    let text = String::from_utf8_lossy(&collect.join().unwrap()).into_owned();
    (status.code().unwrap(), text)
}

#[test]
fn progress_on_a_terminal_and_never_elsewhere() {
    let args = [
        "run",
        "-n",
        "3",
        "--",
        "sh",
        "-c",
        "echo line of the program",
    ];
    let (code, text) = on_a_terminal(&args);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("repeat 3/3"), "{text:?}");
    // The bar owns the bottom row, out of the scrolling region, and gives it back.
    assert!(text.contains("\x1b[1;23r"), "{text:?}");
    assert!(text.contains("\x1b[r"), "{text:?}");
    // The program's lines are whole: no bar text inside them.
    assert_eq!(
        text.matches("line of the program\r\n").count(),
        3,
        "{text:?}"
    );
    // Not on a pipe, and not with --quiet.
    let out = bm(&args);
    assert!(!out.stderr.contains("repeat 1/3"), "{}", out.stderr);
    assert!(!out.stderr.contains('\x1b'), "{}", out.stderr);
    let (_, quiet) = on_a_terminal(&["run", "-q", "-n", "3", "--", "true"]);
    assert!(!quiet.contains("repeat"), "{quiet:?}");
    assert!(
        !quiet.contains("peak"),
        "--quiet prints no table: {quiet:?}"
    );
}

#[test]
fn several_commands_in_one_run() {
    let t = tempfile::tempdir().unwrap();
    let a = build_in(t.path(), "a", &[]);
    let b = build_in(t.path(), "b", &["-DGROW=2"]);
    let json = t.path().join("run.json");
    let out = bm(&[
        "run",
        "-n",
        "2",
        "--name",
        "small",
        "--name",
        "large",
        "--json",
        s(&json),
        "--",
        s(&a),
        ":::",
        s(&b),
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    let blob = Blob::read(&json);
    let ids: Vec<(&str, &str)> = blob.json["benchmarks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["fullname"].as_str().unwrap(),
                b["group"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ids,
        [
            ("small::small", "small"),
            ("small::build", "small"),
            ("large::large", "large"),
            ("large::build", "large")
        ]
    );
    assert_eq!(blob.series("build").allocs, vec![1, 1]);
    // One section per command, then the summary.
    assert!(out.stderr.starts_with("small\n╭"), "{}", out.stderr);
    assert!(out.stderr.contains("\nlarge\n╭"), "{}", out.stderr);
    assert!(
        out.stderr.contains("  large uses ") && out.stderr.contains("× the peak of small ("),
        "{}",
        out.stderr
    );

    // A command's own `:::` passes with another separator.
    let out = bm(&[
        "run",
        "--separator",
        "+++",
        "--",
        "sh",
        "-c",
        "echo \"$1\"",
        "sh",
        ":::",
        "+++",
        "/bin/true",
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, ":::\n");

    // Bad usage: one line, exit 2, nothing run.
    let marker = t.path().join("ran");
    let touch = format!("touch {}", marker.display());
    for (args, says) in [
        (
            vec![
                "run", "--name", "x", "--", "sh", "-c", &touch, ":::", "true",
            ],
            "--name given 1 time(s) for 2 command(s)",
        ),
        (
            vec!["run", "--", "sh", "-c", &touch, ":::"],
            "command 2 of 2 is empty",
        ),
    ] {
        let out = bm(&args);
        assert_eq!(out.code(), 2, "{args:?}: {out:?}");
        assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
        assert!(!marker.exists(), "{args:?} ran the command");
    }
    // A later command that cannot run: nothing runs, and the split is pointed out.
    let out = bm(&["run", "--", "sh", "-c", &touch, ":::", "/nonexistent/bench"]);
    assert_eq!(out.code(), 2, "{out:?}");
    assert_eq!(
        out.stderr,
        "benchmem: cannot run `/nonexistent/bench`: no such file\n  the command line was split at `:::` into 2 commands; to pass `:::` to \
         the program, choose another --separator\n"
    );
    assert!(!marker.exists(), "the first command ran");
}

#[test]
fn warmup_prepare_cleanup_and_input() {
    let t = tempfile::tempdir().unwrap();
    let log = t.path().join("log");
    let input = t.path().join("input.txt");
    std::fs::write(&input, "first\nsecond\n").unwrap();
    let note = |what: &str| format!("echo {what} >> {}", log.display());
    let out = bm(&[
        "run",
        "-n",
        "2",
        "--warmup",
        "1",
        "--input",
        s(&input),
        "--prepare",
        &note("prepare"),
        "--cleanup",
        &note("cleanup"),
        "--",
        "sh",
        "-c",
        &format!("cat; {}", note("run")),
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    // The warmup's stdout is discarded; every run reads the file from its start.
    assert_eq!(out.stdout, "first\nsecond\n".repeat(2));
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(log_text, "prepare\nrun\ncleanup\n".repeat(3));
    assert!(out.stderr.contains("2 repeats"), "{}", out.stderr);

    // A failing --prepare stops the run with a clear line and its status.
    let out = bm(&["run", "-n", "2", "--prepare", "exit 3", "--", "true"]);
    assert_eq!(out.code(), 3, "{out:?}");
    assert!(
        out.stderr
            .contains("stopped before repeat 1 of 2: the --prepare command exited with status 3"),
        "{}",
        out.stderr
    );
    // A failing --cleanup after the first repeat keeps what was measured.
    let out = bm(&["run", "-n", "3", "--cleanup", "exit 4", "--", "true"]);
    assert_eq!(out.code(), 4, "{out:?}");
    assert!(out.stderr.contains("1 repeat;"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("stopped after repeat 1 of 3: the --cleanup command exited with status 4"),
        "{}",
        out.stderr
    );

    // A missing --input: one line, exit 2, nothing run.
    let out = bm(&[
        "run",
        "--input",
        "/nonexistent/in.txt",
        "--",
        "sh",
        "-c",
        "echo ran",
    ]);
    assert_eq!(out.code(), 2, "{out:?}");
    assert_eq!(
        out.stderr,
        "benchmem: --input /nonexistent/in.txt: no such file: give a readable file\n"
    );
    assert_eq!(out.stdout, "");
}

#[test]
fn output_control() {
    let t = tempfile::tempdir().unwrap();
    let json = t.path().join("run.json");
    let md = t.path().join("run.md");
    let csv = t.path().join("run.csv");
    let prog = build_in(t.path(), "p", &[]);
    // --quiet: the program's own stderr stays, benchmem's table goes.
    let out = bm(&[
        "run",
        "-q",
        "-n",
        "2",
        "--json",
        s(&json),
        "--export-markdown",
        s(&md),
        "--export-csv",
        s(&csv),
        "--",
        "sh",
        "-c",
        &format!("echo own error >&2; {}", s(&prog)),
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stderr, "own error\n".repeat(2));
    // The exports hold what show prints for the saved run.
    let show_md = bm(&["show", "--format", "md", s(&json)]);
    assert_eq!(std::fs::read_to_string(&md).unwrap(), show_md.stdout);
    let show_csv = bm(&["show", "--format", "csv", s(&json)]);
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), show_csv.stdout);
    // An export that cannot be written: refused before the command runs.
    let out = bm(&[
        "run",
        "--export-csv",
        "/nonexistent/x.csv",
        "--",
        "sh",
        "-c",
        "echo ran",
    ]);
    assert_eq!(out.code(), 2, "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("choose another --export-csv path"),
        "{}",
        out.stderr
    );

    // ASCII borders on request, in run and show.
    let out = bm(&["run", "--style", "ascii", "--", s(&prog)]);
    assert!(out.stderr.starts_with("+-"), "{}", out.stderr);
    assert!(!out.stderr.contains('│'), "{}", out.stderr);
    let shown = bm(&["show", "--style", "ascii", s(&json)]);
    assert!(shown.stdout.starts_with("+-"), "{}", shown.stdout);
    let head = t.path().join("head.json");
    std::fs::copy(&json, &head).unwrap();
    let compared = bm(&["compare", "--style", "ascii", s(&json), s(&head)]);
    assert!(compared.stdout.starts_with("+-"), "{}", compared.stdout);

    // FORCE_COLOR colours a pipe; NO_COLOR wins over it.
    let forced = bm_in(t.path(), &["run", "--", s(&prog)], &[("FORCE_COLOR", "1")]);
    assert!(forced.stderr.contains("\x1b[2m"), "{:?}", forced.stderr);
    let both = bm_in(
        t.path(),
        &["run", "--", s(&prog)],
        &[("FORCE_COLOR", "1"), ("NO_COLOR", "1")],
    );
    assert!(!both.stderr.contains('\x1b'), "{:?}", both.stderr);

    // One spelling of the stat option everywhere.
    let a = bm(&["show", "--stat", "max", s(&json)]);
    let b = bm(&["show", "--stats", "max", s(&json)]);
    assert_eq!((a.code(), &a.stdout), (0, &b.stdout));
    let c = bm(&["compare", "--stats", "max", s(&json), s(&head)]);
    assert_eq!(c.code(), 0, "{c:?}");
}
