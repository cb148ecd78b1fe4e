//! Robustness: programs that bring their own allocator (jemalloc from
//! Debian's libjemalloc2, preloaded or linked), and programs benchmem cannot enter
//! (a statically linked child; statically linked and setuid commands are refused up front,
//! see processes.rs): exact numbers, or a clear line saying what was not seen.

use benchmem_tests::{Series, compile, jemalloc, same_as_native, same_as_native_env};

fn check_c_regions(blob: &benchmem_tests::Blob) {
    // malloc 1000 → realloc 5000, calloc 100, posix_memalign 256, aligned_alloc 8192.
    assert_eq!(
        blob.series("c"),
        Series::of(
            1,
            (
                5000 + 100 + 256 + 8192,
                1000 + 100 + 5000 + 256 + 8192,
                5,
                0
            )
        )
    );
    // jemalloc's own mappings for the huge extent are not counted on top.
    let mib16 = 16 << 20;
    assert_eq!(blob.series("big"), Series::of(1, (mib16, mib16, 1, 0)));
}

#[test]
fn jemalloc_preloaded_is_exact() {
    let je = jemalloc();
    let prog = compile("robust_jemalloc.cpp", &[]);
    let env = [("LD_PRELOAD", je.to_str().unwrap())];
    let (out, blob, _d) = same_as_native_env(&prog, &[], &env);
    assert_eq!(out.stdout, "jemalloc in charge: yes\ndone\n");
    check_c_regions(&blob);
}

#[test]
fn jemalloc_linked_is_exact() {
    let je = jemalloc();
    let prog = compile(
        "robust_jemalloc.cpp",
        &["-Wl,--no-as-needed", je.to_str().unwrap()],
    );
    let (out, blob, _d) = same_as_native(&prog, &[]);
    assert_eq!(out.stdout, "jemalloc in charge: yes\ndone\n");
    check_c_regions(&blob);
}

#[test]
fn cxx_new_under_glibc_is_exact() {
    let prog = compile("robust_jemalloc.cpp", &[]);
    let (out, blob, _d) = same_as_native(&prog, &["cxx"]);
    assert_eq!(out.stdout, "jemalloc in charge: no\ndone\n");
    check_c_regions(&blob);
    assert_eq!(blob.series("cxx"), Series::of(1, (1004, 1004, 2, 0)));
    assert!(blob.is_clean(), "{:?}", blob.notes());
}

#[test]
fn cxx_new_served_by_jemalloc_is_exact_or_said() {
    // jemalloc exports operator new/delete itself: they never pass through malloc.
    let je = jemalloc();
    let prog = compile("robust_jemalloc.cpp", &[]);
    let env = [("LD_PRELOAD", je.to_str().unwrap())];
    let (_, blob, _d) = same_as_native_env(&prog, &["cxx"], &env);
    check_c_regions(&blob);
    let cxx = blob.series("cxx");
    if cxx != Series::of(1, (1004, 1004, 2, 0)) {
        let notes = blob.notes().join(" | ");
        assert!(
            notes.contains("operator new"),
            "C++ new/delete not counted ({cxx:?}) and nothing said: {notes:?}"
        );
    }
}

#[test]
fn static_child_is_not_silently_lost() {
    // A dynamic parent runs a statically linked child: the child cannot be entered. Its
    // row (the fork before exec) is marked incomplete, saying why that may be.
    let parent = compile("robust_spawner.c", &[]);
    let child = compile("exit_status.c", &["-static"]);
    let args = [child.to_str().unwrap(), "3"];
    let (out, blob, _d) = same_as_native(&parent, &args);
    assert_eq!(out.stdout, "child status 3\n");
    let rows = blob.process_rows();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let why = blob.incomplete(&rows[1]).join(" | ");
    assert!(why.contains("cannot enter"), "{why:?}");
}

/// jemalloc itself needs libstdc++, so the preload cannot tell a C program from a C++ one
/// here: the note is given (conservatively) and says a pure C program is unaffected.
#[test]
fn c_program_under_jemalloc_is_exact() {
    let je = jemalloc();
    let prog = compile("fork_exec.c", &[]);
    let env = [("LD_PRELOAD", je.to_str().unwrap())];
    let (_, blob, _d) = same_as_native_env(&prog, &[], &env);
    assert_eq!(blob.series("child_work"), Series::of(1, (2000, 2000, 1, 0)));
    assert_eq!(blob.series("exec_work"), Series::of(1, (3000, 3000, 1, 0)));
    for note in blob.notes() {
        assert!(note.contains("pure C program is unaffected"), "{note}");
    }
}
