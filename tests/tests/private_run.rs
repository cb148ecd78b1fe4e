//! The run directory is private: created 0700, and the reader keeps only samples whose
//! sender the kernel vouches for — the very process the sample names, started under the
//! preload in this run. Everything else is counted in a note, never measured.

use benchmem_tests::{Series, compile, measure};

#[test]
fn run_directory_is_owner_only() {
    let prog = compile("private_forge.c", &[]);
    let (out, _blob, _d) = measure(&[], &prog, &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout.lines().next(), Some("dirmode 700"), "{out:?}");
}

#[test]
fn forged_datagrams_are_ignored_and_counted() {
    let prog = compile("private_forge.c", &[]);
    let (out, blob, _d) = measure(&[], &prog, &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "dirmode 700\ndone\n", "{out:?}");
    // The real samples, exactly; the forged "kept" sample did not join them.
    assert_eq!(blob.series("kept"), Series::of(1, (1000, 1000, 1, 0)));
    // Measured after the forged stop marker: the reader was still listening.
    assert_eq!(blob.series("after"), Series::of(1, (2000, 2000, 1, 0)));
    assert!(
        !blob.names().iter().any(|n| n == "forged"),
        "{:?}",
        blob.names()
    );
    // Claiming the parent (twice), claiming pid 1, the stop marker, and the outsider
    // that has no state file in this run.
    let notes = blob.notes();
    assert!(
        notes.contains(&"5 datagram(s) from outside this run were ignored".to_string()),
        "{notes:?}"
    );
    assert!(
        notes.contains(&"1 malformed datagram(s) were ignored".to_string()),
        "{notes:?}"
    );
    assert!(
        out.stderr
            .contains("5 datagram(s) from outside this run were ignored"),
        "{}",
        out.stderr
    );
}
