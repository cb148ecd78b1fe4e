//! Robustness: failing allocation calls count nothing and return exactly
//! what libc returns, with the same errno; errno is never disturbed by benchmem.

use benchmem_tests::{Series, compile, same_as_native};

#[test]
fn failures_count_nothing_and_keep_libc_results() {
    let prog = compile("robust_allocfail.c", &[]);
    let (out, blob, _d) = same_as_native(&prog, &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(!out.stdout.contains("SUCCEEDED"), "{}", out.stdout);
    assert!(
        out.stdout.contains("errno after malloc/free 4242\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("errno after region 4343\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("errno after mmap/munmap 4444\n"),
        "{}",
        out.stdout
    );
    assert_eq!(blob.series("fail"), Series::of(1, (0, 0, 0, 0)));
    assert_eq!(blob.series("ok"), Series::of(1, (300, 321, 2, 0)));
    assert!(blob.is_clean(), "{:?}", blob.notes());
}
