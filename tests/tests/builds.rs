//! Builds benchmem must run unharmed though it must not measure them: sanitizer builds
//! whose runtime replaces the allocator. And one it measures as any other: UBSan, whose
//! runtime leaves malloc alone.

use std::path::Path;

use benchmem_tests::{
    assert_same_program, compile, measure, measure_env, native, native_env, Series,
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
