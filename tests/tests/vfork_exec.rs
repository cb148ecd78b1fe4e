//! A vfork child that execs (Debian's /bin/sh, Python's subprocess, posix-style C code)
//! runs in its parent's memory until the exec. A program it execs that benchmem cannot
//! enter (32-bit, statically linked) still gets its row, saying so, as after a fork; one
//! it can enter gets exactly one row, measured exactly, and a failed exec leaves nothing.

use std::path::Path;
use std::process::Command;

use benchmem_tests::{
    Blob, Outcome, Series, assert_same_program, compile, measure, native, python,
};

const SH: &str = "/bin/sh";

/// Every incomplete reason of every row, and the run's notes, in one string.
fn everything_said(blob: &Blob) -> String {
    let mut all: Vec<String> = blob
        .names()
        .iter()
        .flat_map(|n| blob.incomplete(n))
        .collect();
    all.extend(blob.notes());
    all.join(" | ")
}

/// Runs `program args` natively and under benchmem: the same output on both streams (the
/// program's stderr first, then benchmem's report) and the same status.
fn same_both_ways(program: &Path, args: &[&str]) -> (Outcome, Blob, tempfile::TempDir) {
    let alone = native(program, args);
    let (under, blob, dir) = measure(&[], program, args);
    assert_same_program(&alone, &under);
    assert!(
        under.stderr.starts_with(&alone.stderr),
        "the program's stderr differs under benchmem\nnative: {alone:?}\nunder: {under:?}"
    );
    (under, blob, dir)
}

/// /bin/sh is dash here, which runs a command with vfork and execve; without that the sh
/// tests here test nothing new. (Checked only where strace is there and may trace.)
fn sh_vforks() {
    let out = Command::new("strace")
        .args(["-f", "-e", "trace=vfork", SH, "-c", "/bin/true; :"])
        .output();
    if let Some(out) = out.ok().filter(|o| o.status.success()) {
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.contains("vfork("), "{SH} does not vfork: {said}");
    }
}

/// The row of the one process that ran `program`: `expect` rows in all, the first clean.
fn row_of(blob: &Blob, expect: &[&str]) -> String {
    let rows = blob.process_rows();
    assert_eq!(rows, expect, "{}", everything_said(blob));
    assert!(
        blob.incomplete(&rows[0]).is_empty(),
        "{}",
        everything_said(blob)
    );
    blob.incomplete(&rows[1]).join(" | ")
}

#[test]
fn a_32_bit_program_run_by_sh_is_named_as_not_measured() {
    sh_vforks();
    let prog = compile("known_exit.c", &["-m32"]);
    let script = format!("'{}' 3; echo after $?", prog.display());
    let (under, blob, _d) = same_both_ways(Path::new(SH), &["-c", &script]);
    assert_eq!(under.stdout, "known_exit: done\nafter 3\n");
    let why = row_of(&blob, &["sh", "sh#2"]);
    let expect = format!(
        "exec'd {}, a 32-bit program the preload (built for this machine's 64-bit ABI) \
         cannot enter; measured up to the exec",
        prog.display()
    );
    assert!(why.contains(&expect), "{why:?}");
    assert_eq!(blob.notes(), Vec::<String>::new());
}

#[test]
fn a_32_bit_program_run_by_python_s_subprocess_is_named_too() {
    let prog = compile("known_exit.c", &["-m32"]);
    let code = format!(
        "import subprocess, sys; print(subprocess.run(['{}', '3']).returncode)",
        prog.display()
    );
    let (under, blob, _d) = same_both_ways(&python(), &["-c", &code]);
    assert_eq!(under.stdout, "known_exit: done\n3\n");
    // The interpreter's name is the executable's (python, python3, python3.11).
    let py = blob.process_rows()[0].clone();
    let why = row_of(&blob, &[&py, &format!("{py}#2")]);
    assert!(
        why.contains(&format!("exec'd {}, a 32-bit program", prog.display())),
        "{why:?}"
    );
}

#[test]
fn a_static_program_exec_d_through_vfork_is_named() {
    let parent = compile("vfork_spawner.c", &[]);
    let child = compile("exit_status.c", &["-static"]);
    let expect = format!(
        "exec'd {}, a statically linked program benchmem cannot enter; measured up to the exec",
        child.display()
    );
    // From C: vfork and execv.
    let (under, blob, _d) = same_both_ways(&parent, &[child.to_str().unwrap(), "3"]);
    assert_eq!(under.stdout, "child status 3\n");
    let why = row_of(&blob, &["vfork_spawner", "vfork_spawner#2"]);
    assert!(why.contains(&expect), "{why:?}");
    // From the shell.
    let script = format!("'{}' 3; echo after $?", child.display());
    let (under, blob, _d) = same_both_ways(Path::new(SH), &["-c", &script]);
    assert_eq!(under.stdout, "after 3\n");
    let why = row_of(&blob, &["sh", "sh#2"]);
    assert!(why.contains(&expect), "{why:?}");
}

#[test]
fn an_ordinary_program_exec_d_through_vfork_has_one_exact_row() {
    let parent = compile("vfork_spawner.c", &[]);
    let child = compile("known_exit.c", &[]);
    let (under, blob, _d) = same_both_ways(&parent, &[child.to_str().unwrap(), "3"]);
    assert_eq!(under.stdout, "known_exit: done\nchild status 3\n");
    assert_eq!(blob.process_rows(), ["vfork_spawner", "known_exit"]);
    assert_eq!(blob.series("known"), Series::of(1, (1000, 1000, 1, 0)));
    assert!(blob.is_clean(), "{}", everything_said(&blob));
    // The same through the shell, twice: no stray row for either vfork child.
    let script = format!("'{0}' 0; '{0}' 0", child.display());
    let (_, blob, _d) = same_both_ways(Path::new(SH), &["-c", &script]);
    assert_eq!(blob.process_rows(), ["sh", "known_exit", "known_exit#2"]);
    assert_eq!(blob.series("known"), Series::of(2, (1000, 1000, 1, 0)));
    assert!(blob.is_clean(), "{}", everything_said(&blob));
}

#[test]
fn a_failed_exec_in_a_vfork_child_leaves_no_trace() {
    let parent = compile("vfork_spawner.c", &[]);
    let (under, blob, dir) = same_both_ways(&parent, &["/nonexistent/program"]);
    assert_eq!(under.stdout, "child status 127\n");
    assert_eq!(blob.process_rows(), ["vfork_spawner"]);
    assert!(blob.is_clean(), "{}", everything_said(&blob));
    drop(dir);
    // The shell tries each directory of PATH in its vfork child before it gives up.
    let (under, blob, _d) = same_both_ways(Path::new(SH), &["-c", "no-such-command-xyz; echo $?"]);
    assert_eq!(under.stdout, "127\n");
    assert_eq!(blob.process_rows(), ["sh"]);
    assert!(blob.is_clean(), "{}", everything_said(&blob));
}
