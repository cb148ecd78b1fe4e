//! What benchmem cannot count, said where it happens (and never where it does not): an
//! exec into a program it cannot follow, valgrind's allocator, an allocator linked into
//! the program, `RTLD_DEEPBIND`, `PROT_NONE` reservations made accessible by `mprotect`.

use std::path::Path;
use std::process::Command;

use benchmem_tests::{Blob, Series, compile, jemalloc, same_as_native, same_as_native_env};

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

#[test]
fn exec_with_a_scrubbed_environment_is_named() {
    let sh = Path::new("/bin/sh");
    let args = ["-c", "env -i /bin/true; echo after"];
    let (out, blob, _d) = same_as_native(sh, &args);
    assert_eq!(out.stdout, "after\n");
    let why = blob.incomplete("env").join(" | ");
    assert!(
        why.contains("no longer carries LD_PRELOAD") && why.contains("exec'd /bin/true"),
        "{why:?}"
    );
    assert!(
        blob.incomplete("sh").is_empty(),
        "{:?}",
        blob.incomplete("sh")
    );
}

#[test]
fn exec_of_a_static_program_is_named() {
    let parent = compile("robust_spawner.c", &[]);
    let child = compile("exit_status.c", &["-static"]);
    let args = [child.to_str().unwrap(), "3"];
    let (out, blob, _d) = same_as_native(&parent, &args);
    assert_eq!(out.stdout, "child status 3\n");
    let rows = blob.process_rows();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(blob.incomplete(&rows[0]).is_empty(), "{rows:?}");
    let why = blob.incomplete(&rows[1]).join(" | ");
    let expect = format!(
        "exec'd {}, a statically linked program benchmem cannot enter",
        child.display()
    );
    assert!(why.contains(&expect), "{why:?}");
}

#[test]
fn a_failed_exec_leaves_no_trace() {
    // The child's execv fails (no such file) and it _exits 127: an ordinary exit.
    let parent = compile("robust_spawner.c", &[]);
    let args = ["/nonexistent/program"];
    let (out, blob, _d) = same_as_native(&parent, &args);
    assert_eq!(out.stdout, "child status 127\n");
    assert!(blob.is_clean(), "{}", everything_said(&blob));
}

fn valgrind() -> &'static Path {
    let p = Path::new("/usr/bin/valgrind");
    assert!(
        p.exists(),
        "valgrind missing: install it (apt-get install -y valgrind; scripts/test does)"
    );
    p
}

#[test]
fn under_valgrind_the_program_is_said_not_measured() {
    let prog = compile("blind_spots.c", &[]);
    let args = ["-q", prog.to_str().unwrap(), "plain"];
    let (out, blob, _d) = same_as_native(valgrind(), &args);
    assert_eq!(out.stdout, "done\n");
    // Exact numbers, or the program's row and its region say why there are none.
    if blob.series("work") != Series::of(1, (1000, 1000, 1, 0)) {
        let row = blob.incomplete("blind_spots").join(" | ");
        assert!(
            row.contains("valgrind's memcheck replaces the allocator"),
            "{row:?}"
        );
        let region = blob.incomplete("work").join(" | ");
        assert!(region.contains("valgrind"), "{region:?}");
        let notes = blob.notes().join(" | ");
        assert!(notes.contains("valgrind's memcheck"), "{notes:?}");
    }
}

#[test]
fn an_allocator_of_the_program_s_own_is_said() {
    // It defines malloc itself: no malloc call ever reaches the preload.
    let prog = compile("own_malloc.c", &[]);
    let (_, blob, _d) = same_as_native(&prog, &[]);
    let row = blob.incomplete("own_malloc").join(" | ");
    assert!(row.contains("links an allocator of its own"), "{row:?}");
    assert!(
        blob.incomplete("work")
            .join(" ")
            .contains("allocator of its own")
    );
    // Called by a prefixed name (its malloc is libc's): named by the symbol.
    let prog = compile("own_malloc.c", &["-DPREFIXED"]);
    let (_, blob, _d) = same_as_native(&prog, &[]);
    let notes = blob.notes().join(" | ");
    assert!(notes.contains("(jemalloc, `je_malloc`)"), "{notes:?}");
}

#[test]
fn rustc_s_jemalloc_is_said() {
    // The real rustc links jemalloc and exports its malloc (the official builds do).
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .expect("rustc");
    let rustc = Path::new(String::from_utf8_lossy(&out.stdout).trim()).join("bin/rustc");
    let (_, blob, _d) = same_as_native(&rustc, &["--version"]);
    let notes = blob.notes().join(" | ");
    assert!(
        notes.contains("rustc: not measured: it links an allocator of its own (jemalloc"),
        "{notes:?}"
    );
}

#[test]
fn deepbind_is_said_and_only_then() {
    let prog = compile("blind_spots.c", &[]);
    let lib = compile("blind_lib.c", &["-shared", "-fPIC"]);
    let lib = lib.to_str().unwrap();
    // Without RTLD_DEEPBIND the library's malloc is counted, and nothing is said.
    let (_, blob, _d) = same_as_native(&prog, &["nodeep", lib]);
    assert_eq!(blob.series("lib"), Series::of(1, (5000, 5000, 1, 0)));
    assert!(blob.is_clean(), "{}", everything_said(&blob));
    // With it, the library's malloc is libc's: said.
    let (out, blob, _d) = same_as_native(&prog, &["deep", lib]);
    assert_eq!(out.stdout, "loaded\n");
    let notes = blob.notes().join(" | ");
    assert!(notes.contains("loaded with RTLD_DEEPBIND"), "{notes:?}");
}

#[test]
fn mprotect_of_a_reservation_is_said() {
    let prog = compile("blind_spots.c", &[]);
    let (_, blob, _d) = same_as_native(&prog, &["mprotect"]);
    let notes = blob.notes().join(" | ");
    assert!(
        notes.contains("16.0 MiB of PROT_NONE reservations were made accessible with mprotect"),
        "{notes:?}"
    );
}

#[test]
fn glibc_arenas_on_threads_say_nothing() {
    // glibc reserves its thread arenas PROT_NONE and mprotects them inside malloc.
    let prog = compile("blind_spots.c", &[]);
    let (_, blob, _d) = same_as_native(&prog, &["threads"]);
    assert!(blob.is_clean(), "{}", everything_said(&blob));
}

#[test]
fn cxx_note_names_the_allocator_that_is_there() {
    let je = jemalloc();
    let prog = compile("robust_jemalloc.cpp", &[]);
    let env = [("LD_PRELOAD", je.to_str().unwrap())];
    let (_, blob, _d) = same_as_native_env(&prog, &["cxx"], &env);
    let notes = blob.notes().join(" | ");
    assert!(
        notes.contains("operator new/delete here are libjemalloc.so.2's own"),
        "{notes:?}"
    );
}

#[test]
fn a_position_dependent_program_taking_malloc_s_address_is_measured() {
    // Its `malloc` symbol is a PLT entry, not an allocator: no note, exact numbers.
    let prog = compile("malloc_address.c", &["-no-pie", "-fno-pie"]);
    let (out, blob, _d) = same_as_native(&prog, &[]);
    assert_eq!(out.stdout, "done\n");
    assert!(blob.is_clean(), "{}", everything_said(&blob));
    assert_eq!(blob.series("known"), Series::of(1, (1000, 1000, 1, 0)));
}
