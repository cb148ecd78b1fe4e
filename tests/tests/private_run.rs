//! The run directory is private: created 0700, so another user's process cannot list it,
//! add a file to it or open a state file in it, and samples reach benchmem only through
//! the state files there. What is no state file of the run (a copy of one under another
//! name, a link, junk) is never read: no sample is counted twice, no row appears for it.

use benchmem_tests::{Series, compile, measure};

#[test]
fn run_directory_is_owner_only() {
    let prog = compile("private_forge.c", &[]);
    let (out, _blob, _d) = measure(&[], &prog, &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout.lines().next(), Some("dirmode 700"), "{out:?}");
}

#[test]
fn samples_cannot_be_slipped_in() {
    let prog = compile("private_forge.c", &[]);
    let (out, blob, _d) = measure(&[], &prog, &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    // SAFETY: getuid cannot fail.
    let root = unsafe { libc::getuid() } == 0;
    let foreign = if root {
        "foreign: list EACCES, create EACCES, open EACCES"
    } else {
        "foreign: not root"
    };
    assert_eq!(
        out.stdout,
        format!("dirmode 700\n{foreign}\ndone\n"),
        "{out:?}"
    );
    // The real samples, exactly once each: the copy of the state file, its ring holding
    // "kept" too, was not read.
    assert_eq!(blob.series("kept"), Series::of(1, (1000, 1000, 1, 0)));
    assert_eq!(blob.series("after"), Series::of(1, (2000, 2000, 1, 0)));
    // The program and, as root, the child it forked to try as another user.
    let rows: &[&str] = if root {
        &["private_forge", "private_forge#2"]
    } else {
        &["private_forge"]
    };
    assert_eq!(blob.process_rows(), rows, "{:?}", blob.names());
    assert!(blob.notes().is_empty(), "{:?}", blob.notes());
}
