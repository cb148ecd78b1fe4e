//! Builds benchmem must run unharmed though it cannot (or must not) measure them:
//! sanitizer builds whose runtime replaces the allocator, and 32-bit descendants. And one
//! it measures as any other: UBSan, whose runtime leaves malloc alone.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use benchmem_tests::{
    Series, assert_same_program, benchmem, compile, measure, measure_env, native, native_env,
    run_limited,
};

/// Runs a sanitizer build natively and under benchmem: the same program, unmeasured, and
/// the note says why.
fn runs_unmeasured(prog: &Path, env: &[(&str, &str)], sanitizer: &str) {
    let alone = native_env(prog, &["3"], env);
    assert_eq!(alone.code(), 3, "the build itself fails: {alone:?}");
    let (under, blob, _dir) = measure_env(&[], env, prog, &["3"]);
    assert_same_program(&alone, &under);
    assert!(
        under.stderr.starts_with(&alone.stderr),
        "the program's stderr differs under benchmem\nnative: {alone:?}\nunder: {under:?}"
    );
    assert!(
        blob.names().is_empty(),
        "rows for an unmeasured run: {:?}",
        blob.names()
    );
    let notes = blob.notes();
    assert!(
        notes
            .iter()
            .any(|n| n.contains(&format!("{sanitizer} build"))
                || n.contains(&format!("{sanitizer} runtime")))
            && notes
                .iter()
                .any(|n| n.contains("run without benchmem and is not measured")),
        "{notes:?}"
    );
}

#[test]
fn an_address_sanitizer_build_runs_unharmed_and_unmeasured() {
    let prog = compile("known_exit.c", &["-fsanitize=address"]);
    runs_unmeasured(&prog, &[], "AddressSanitizer");
}

#[test]
fn a_thread_sanitizer_build_runs_unharmed_and_unmeasured() {
    let prog = compile("known_exit.c", &["-fsanitize=thread"]);
    runs_unmeasured(&prog, &[], "ThreadSanitizer");
}

#[test]
fn a_build_with_the_address_sanitizer_linked_in_runs_unharmed_and_unmeasured() {
    let prog = compile("known_exit.c", &["-fsanitize=address", "-static-libasan"]);
    runs_unmeasured(&prog, &[], "AddressSanitizer");
}

#[test]
fn a_sanitizer_runtime_in_the_users_ld_preload_runs_unharmed_and_unmeasured() {
    let prog = compile("known_exit.c", &[]);
    runs_unmeasured(&prog, &[("LD_PRELOAD", "libasan.so.8")], "AddressSanitizer");
}

#[test]
fn an_undefined_behaviour_sanitizer_build_is_measured_exactly() {
    let prog = compile("known_exit.c", &["-fsanitize=undefined"]);
    let alone = native(&prog, &["3", "overflow"]);
    assert!(
        alone.stderr.contains("signed integer overflow"),
        "no UBSan report natively: {alone:?}"
    );
    let (under, blob, _dir) = measure(&[], &prog, &["3", "overflow"]);
    assert_same_program(&alone, &under);
    assert!(
        under.stderr.starts_with(&alone.stderr),
        "{alone:?}\n{under:?}"
    );
    assert_eq!(blob.series("known"), Series::of(1, (1000, 1000, 1, 0)));
    assert!(blob.notes().is_empty(), "{:?}", blob.notes());
}

#[test]
fn a_32_bit_child_keeps_its_output_and_status_its_own() {
    let prog = compile("known_exit.c", &["-m32"]);
    let script = format!("'{}' 3; s=$?; echo after $s; exit $s", prog.display());
    let alone = native(Path::new("/bin/sh"), &["-c", &script]);
    assert_eq!(alone.code(), 3, "{alone:?}");
    let (under, blob, _dir) = measure(&[], Path::new("/bin/sh"), &["-c", &script]);
    assert_same_program(&alone, &under);
    // The loader of the 32-bit program says nothing about our 64-bit preload: the
    // program's stderr comes first and unchanged, then only benchmem's report.
    let ours = under.stderr.strip_prefix(&alone.stderr).unwrap_or_else(|| {
        panic!("the program's stderr differs under benchmem\nnative: {alone:?}\nunder: {under:?}")
    });
    assert!(
        !ours.contains("ld.so") && !ours.contains("ELFCLASS"),
        "{ours}"
    );
    // The 64-bit shell around it is measured as before.
    assert!(
        blob.process_rows().contains(&"sh".to_string()),
        "{:?}",
        blob.names()
    );
}

#[test]
fn a_32_bit_child_under_env_and_python_is_left_alone_too() {
    let prog = compile("known_exit.c", &["-m32"]);
    let py = benchmem_tests::python();
    let code = format!(
        "import subprocess, sys; sys.exit(subprocess.run(['env', '{}', '0']).returncode)",
        prog.display()
    );
    let under = run_limited(
        Command::new(benchmem())
            .args(["run", "--"])
            .arg(&py)
            .args(["-c", &code]),
        Duration::from_secs(60),
    );
    assert_eq!(under.code(), 0, "{under:?}");
    assert_eq!(under.stdout, "known_exit: done\n");
    assert!(
        under.stderr.starts_with("known_exit: own stderr\n") && !under.stderr.contains("ld.so"),
        "{under:?}"
    );
}
