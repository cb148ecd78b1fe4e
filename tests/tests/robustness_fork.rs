//! Robustness: 1,000 forks (children leaving by _exit, exit or exec),
//! vfork, posix_spawn, and forks while another thread is inside malloc: no deadlock,
//! every process reported, the program's output and statuses unchanged.

use benchmem_tests::{Series, compile, same_as_native};

#[test]
fn a_thousand_forks_every_process_reported() {
    let prog = compile("robust_fork.c", &[]);
    let (out, blob, _d) = same_as_native(&prog, &["many"]);
    assert_eq!(out.stdout, "start many\nsum 2665\n");
    // 667 forked children marked a region; 333 exec'd images marked theirs.
    assert_eq!(blob.series("child"), Series::of(667, (100, 100, 1, 0)));
    assert_eq!(blob.series("execd"), Series::of(333, (100, 100, 1, 0)));
    // One row per process image that did anything: the parent, 667 children, 333
    // exec'd images (the forks that only exec'd allocated nothing and are not shown).
    let rows = blob.process_rows();
    assert_eq!(rows.len(), 1 + 667 + 333, "{:?}", &rows[..5]);
    assert!(blob.is_clean(), "{:?}", blob.notes());
}

#[test]
fn vfork_children_that_exit_or_exec() {
    let prog = compile("robust_fork.c", &[]);
    let (_, blob, _d) = same_as_native(&prog, &["vfork"]);
    assert_eq!(blob.series("execd"), Series::of(10, (100, 100, 1, 0)));
    assert_eq!(blob.series("after_vfork"), Series::of(1, (700, 700, 1, 0)));
    assert!(blob.is_clean(), "{:?}", blob.notes());
}

#[test]
fn vfork_child_exit_does_not_end_the_parent() {
    // The vfork child runs in the parent's memory: its _exit must not be recorded as the
    // parent's. The parent then dies by SIGKILL, and must be reported as killed.
    let prog = compile("robust_fork.c", &[]);
    let (out, blob, _d) = same_as_native(&prog, &["vfork", "die"]);
    assert_eq!(out.code(), 128 + 9);
    let why = blob.incomplete("robust_fork").join(" | ");
    assert!(why.contains("killed by SIGKILL (signal 9)"), "{why:?}");
}

#[test]
fn posix_spawn_children() {
    let prog = compile("robust_fork.c", &[]);
    let (out, blob, _d) = same_as_native(&prog, &["spawn"]);
    assert_eq!(out.stdout, "start spawn\nsum 50\n");
    assert_eq!(blob.series("execd"), Series::of(10, (100, 100, 1, 0)));
    assert_eq!(blob.series("after_spawn"), Series::of(1, (800, 800, 1, 0)));
    // The parent, 10 copies of itself and 10 /bin/true.
    let rows = blob.process_rows();
    assert_eq!(rows.len(), 21, "{rows:?}");
    assert!(blob.is_clean(), "{:?}", blob.notes());
}

#[test]
fn fork_while_another_thread_is_inside_malloc() {
    let prog = compile("robust_fork.c", &[]);
    let (out, blob, _d) = same_as_native(&prog, &["lockfork"]);
    assert_eq!(out.stdout, "start lockfork\nsum 1200\n");
    assert_eq!(blob.series("forked"), Series::of(300, (50, 50, 1, 0)));
    assert_eq!(blob.process_rows().len(), 301);
    assert!(blob.is_clean(), "{:?}", blob.notes());
}
