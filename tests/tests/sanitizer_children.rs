//! Sanitizer builds started *by* the measured program (a shell, a C program with fork and
//! execv, vfork and execv): their runtime must be loaded first, so the exec hooks take the
//! preload out of their environment. They run exactly as natively (ASan would abort with
//! the preload ahead of it), their errors are reported as natively, and their rows say
//! they were not measured, and why.

use std::path::{Path, PathBuf};

use benchmem_tests::{
    Blob, Outcome, assert_same_program, compile, measure, measure_env, native, native_env,
};

const SH: &str = "/bin/sh";

/// Runs `program args` natively and under benchmem, with `env` added: the same stdout,
/// status, and stderr (the program's first, then benchmem's report).
fn same_both_ways(
    program: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Outcome, Blob, tempfile::TempDir) {
    let alone = native_env(program, args, env);
    let (under, blob, dir) = measure_env(&[], env, program, args);
    assert_same_program(&alone, &under);
    assert!(
        under.stderr.starts_with(&alone.stderr),
        "the program's stderr differs under benchmem\nnative: {alone:?}\nunder: {under:?}"
    );
    (under, blob, dir)
}

/// The reason on the row of the process that exec'd the sanitizer build: `rows` in all,
/// the others clean.
fn reason(blob: &Blob, rows: &[&str], which: &str) -> String {
    assert_eq!(blob.process_rows(), rows);
    for r in rows.iter().filter(|r| **r != which) {
        assert!(
            blob.incomplete(r).is_empty(),
            "{r}: {:?}",
            blob.incomplete(r)
        );
    }
    blob.incomplete(which).join(" | ")
}

fn asan() -> PathBuf {
    compile("sanitized.c", &["-fsanitize=address"])
}

fn tsan() -> PathBuf {
    compile("sanitized.c", &["-fsanitize=thread"])
}

/// What a row says of a sanitizer build exec'd without the preload.
fn says_not_measured(why: &str, prog: &Path, build: &str) {
    let expect = format!(
        "exec'd {}, {build}: its runtime replaces the allocator and must be loaded first, so \
         benchmem ran it without the preload and it is not measured",
        prog.display()
    );
    assert!(why.contains(&expect), "{why:?}");
    assert!(!why.contains("no longer carries"), "{why:?}");
}

fn started_by_sh(prog: &Path, build: &str) {
    let script = format!("'{}' 3; echo after $?", prog.display());
    let (under, blob, _d) = same_both_ways(Path::new(SH), &["-c", &script], &[]);
    assert_eq!(under.stdout, "sanitized: done\nafter 3\n");
    assert!(
        under.stderr.starts_with("sanitized: own stderr\n"),
        "{under:?}"
    );
    says_not_measured(&reason(&blob, &["sh", "sh#2"], "sh#2"), prog, build);
}

fn started_by_fork_and_execv(prog: &Path, build: &str) {
    let parent = compile("robust_spawner.c", &[]);
    let (under, blob, _d) = same_both_ways(&parent, &[prog.to_str().unwrap(), "3"], &[]);
    assert_eq!(under.stdout, "sanitized: done\nchild status 3\n");
    let rows = ["robust_spawner", "robust_spawner#2"];
    says_not_measured(&reason(&blob, &rows, rows[1]), prog, build);
}

#[test]
fn an_address_sanitizer_build_started_by_sh_runs_unharmed() {
    started_by_sh(&asan(), "an AddressSanitizer build");
}

#[test]
fn a_thread_sanitizer_build_started_by_sh_runs_unharmed() {
    started_by_sh(&tsan(), "a ThreadSanitizer build");
}

#[test]
fn an_address_sanitizer_build_started_by_fork_and_execv_runs_unharmed() {
    started_by_fork_and_execv(&asan(), "an AddressSanitizer build");
}

#[test]
fn a_thread_sanitizer_build_started_by_fork_and_execv_runs_unharmed() {
    started_by_fork_and_execv(&tsan(), "a ThreadSanitizer build");
}

#[test]
fn a_32_bit_address_sanitizer_build_started_by_sh_runs_unharmed() {
    // The empty 32-bit library the launcher gives 32-bit programs would come first too.
    let prog = compile("sanitized.c", &["-m32", "-fsanitize=address"]);
    started_by_sh(&prog, "a sanitizer build");
}

/// ASan's report with what differs from run to run made alike: the pid (`==123==`) and
/// hexadecimal addresses (benchmem turns address-space randomization off).
fn report_shape(stderr: &str) -> String {
    let b = stderr.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let run = |from: usize, ok: fn(u8) -> bool| {
            from + b[from..].iter().take_while(|&&c| ok(c)).count()
        };
        if b[i..].starts_with(b"0x") {
            out.extend_from_slice(b"0x?");
            i = run(i + 2, |c| c.is_ascii_hexdigit());
            continue;
        }
        if b[i..].starts_with(b"==") {
            let end = run(i + 2, |c| c.is_ascii_digit());
            if end > i + 2 && b[end..].starts_with(b"==") {
                out.extend_from_slice(b"==PID==");
                i = end + 2;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn an_address_sanitizer_build_reports_its_own_errors_as_natively() {
    let prog = asan();
    let alone = native(&prog, &["overflow"]);
    assert_eq!(alone.code(), 1, "{alone:?}");
    assert!(
        alone
            .stderr
            .contains("ERROR: AddressSanitizer: heap-buffer-overflow"),
        "{alone:?}"
    );
    let script = format!("'{}' overflow; echo after $?", prog.display());
    let (under, blob, _d) = measure(&[], Path::new(SH), &["-c", &script]);
    assert_eq!(under.stdout, "sanitized: before\nafter 1\n");
    let report = under
        .stderr
        .split_once("==ABORTING\n")
        .map(|(r, _)| format!("{r}==ABORTING\n"))
        .unwrap_or_else(|| panic!("no ASan report: {under:?}"));
    assert_eq!(report_shape(&report), report_shape(&alone.stderr));
    says_not_measured(
        &reason(&blob, &["sh", "sh#2"], "sh#2"),
        &prog,
        "an AddressSanitizer build",
    );
    // Its status reaches a parent that forked it, as natively.
    let parent = compile("robust_spawner.c", &[]);
    let args = [prog.to_str().unwrap(), "overflow"];
    let alone = native(&parent, &args);
    let (under, _blob, _d) = measure(&[], &parent, &args);
    assert_same_program(&alone, &under);
    assert_eq!(under.stdout, "sanitized: before\nchild status 1\n");
}

#[test]
fn the_user_s_own_preloads_stay_and_benchmem_s_variables_go() {
    // TSan does not insist on coming first, so a library of the user's may be preloaded.
    let prog = tsan();
    let lib = compile("blind_lib.c", &["-shared", "-fPIC"]);
    let lib = lib.to_str().unwrap();
    let env = [("LD_PRELOAD", lib)];
    let (under, blob, _d) = same_both_ways(&prog, &["env"], &[]);
    // (Given to `run` itself it runs without benchmem at all.)
    assert!(blob.names().is_empty());
    assert_eq!(under.stdout, "LD_PRELOAD=(unset)\nBENCHMEM_DIR=(unset)\n");
    let script = format!("'{}' env", prog.display());
    let (under, blob, _d) = same_both_ways(Path::new(SH), &["-c", &script], &env);
    assert_eq!(
        under.stdout,
        format!("LD_PRELOAD={lib}\nBENCHMEM_DIR=(unset)\n")
    );
    says_not_measured(
        &reason(&blob, &["sh", "sh#2"], "sh#2"),
        &prog,
        "a ThreadSanitizer build",
    );
    let (under, _blob, _d) = same_both_ways(Path::new(SH), &["-c", &script], &[]);
    assert_eq!(under.stdout, "LD_PRELOAD=(unset)\nBENCHMEM_DIR=(unset)\n");
}

#[test]
fn a_large_environment_is_rebuilt_and_left_nowhere() {
    // More variables than the exec hooks keep on the stack: the environment without the
    // preload is built in a mapping, which in a vfork child is its parent's memory. The
    // parent's address space must not grow from one exec to the next.
    let names: Vec<String> = (0..400).map(|i| format!("BENCHMEM_TEST_VAR_{i}")).collect();
    let env: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "x")).collect();
    let parent = compile("vfork_spawner.c", &[]);
    let prog = tsan();
    let args = ["-n", "50", prog.to_str().unwrap(), "env"];
    let (under, blob, _d) = same_both_ways(&parent, &args, &env);
    assert_eq!(
        under.stdout,
        "LD_PRELOAD=(unset)\nBENCHMEM_DIR=(unset)\n".repeat(50) + "child status 0\ngrew 0 kB\n"
    );
    let rows = blob.process_rows();
    assert_eq!(rows.len(), 51, "{rows:?}");
    says_not_measured(
        &blob.incomplete(&rows[50]).join(" | "),
        &prog,
        "a ThreadSanitizer build",
    );
}

#[test]
fn a_sanitizer_runtime_linked_in_runs_with_the_preload_and_is_named() {
    // Its runtime is in the program, ahead of every preloaded library: nothing to take
    // out of its environment, and it runs unharmed. Its malloc is its own: not measured.
    let prog = compile("sanitized.c", &["-fsanitize=address", "-static-libasan"]);
    let script = format!("'{}' 3; echo after $?", prog.display());
    let (under, blob, _d) = same_both_ways(Path::new(SH), &["-c", &script], &[]);
    assert_eq!(under.stdout, "sanitized: done\nafter 3\n");
    let name = prog.file_name().unwrap().to_str().unwrap();
    let why = reason(&blob, &["sh", name], name);
    assert!(
        why.contains(
            "not measured: it is an AddressSanitizer build with the runtime linked in, which \
             replaces the allocator"
        ),
        "{why:?}"
    );
}
