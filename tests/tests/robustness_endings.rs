//! Robustness: a process that ended without telling benchmem gets a row that says how it
//! ended, from the wait status its parent (under the preload) or benchmem itself saw:
//! killed by which signal, still running, or exited after exec'ing what benchmem cannot
//! enter.

use std::path::Path;

use benchmem_tests::{Blob, measure, native, python, root};

/// The incomplete reasons of every process row.
fn row_reasons(blob: &Blob) -> Vec<(String, Vec<String>)> {
    blob.process_rows()
        .into_iter()
        .map(|n| {
            let r = blob.incomplete(&n);
            (n, r)
        })
        .collect()
}

#[test]
fn pool_workers_ended_by_terminate_are_killed_by_sigterm() {
    let script = root().join("tests/programs/pool_terminate.py");
    let script = script.to_str().unwrap();
    let nat = native(&python(), &[script]);
    let (out, blob, _d) = measure(&[], &python(), &[script]);
    assert_eq!(
        (out.code(), out.stdout.as_str()),
        (0, "done\n"),
        "{nat:?} {out:?}"
    );
    let rows = row_reasons(&blob);
    let killed: Vec<_> = rows
        .iter()
        .filter(|(_, r)| {
            r.iter()
                .any(|x| x.contains("killed by SIGTERM (signal 15)"))
        })
        .collect();
    assert_eq!(killed.len(), 2, "{rows:?}");
    // The parent ended cleanly and says nothing of the sort.
    assert!(rows[0].1.is_empty(), "{rows:?}");
    assert!(
        rows.iter()
            .all(|(_, r)| r.iter().all(|x| !x.contains("without a word"))),
        "{rows:?}"
    );
}

#[test]
fn a_writer_killed_by_sigpipe_says_so() {
    let sh = Path::new("/bin/sh");
    let (out, blob, _d) = measure(&[], sh, &["-c", "yes | head -n 1"]);
    assert_eq!((out.code(), out.stdout.as_str()), (0, "y\n"), "{out:?}");
    let reasons = blob.incomplete("yes");
    assert_eq!(reasons.len(), 1, "{:?}", row_reasons(&blob));
    assert!(
        reasons[0].contains("killed by SIGPIPE (signal 13)"),
        "{reasons:?}"
    );
    assert!(blob.incomplete("head").is_empty());
}
