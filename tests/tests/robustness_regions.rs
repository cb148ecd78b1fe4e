//! Robustness: regions used every odd way are measured exactly or
//! marked incomplete with the reason; odd names stay distinct and the blob stays readable.

use benchmem_tests::{Series, bm, compile, same_as_native};

fn one(s: (u64, u64, u64, u64)) -> Series {
    Series::of(1, s)
}

/// `open_total`: bytes in the region left open (it includes any region nested in it).
fn check_common(mode: &str, open_total: u64) -> (benchmem_tests::Blob, tempfile::TempDir) {
    let prog = compile("robust_regions.c", &[]);
    let (out, blob, d) = same_as_native(&prog, &[mode]);
    assert!(out.stdout.ends_with("handled 10\n"), "{}", out.stdout);
    // Allocations of a signal handler (run by raise, outside any allocator call).
    assert_eq!(blob.series("signal"), one((64, 640, 10, 0)));
    // Opened on one thread, closed on another: both threads' allocations.
    assert_eq!(blob.series("xthread"), one((1200, 1200, 2, 1200)));
    // Nested 100 deep: level k sees the allocations of levels k..99 (d + 1 bytes each).
    for k in 0..100u64 {
        let sum: u64 = (k..100).map(|d| d + 1).sum();
        assert_eq!(
            blob.series(&format!("nest{k}")),
            one((sum, sum, 100 - k, 0)),
            "nest{k}"
        );
    }
    // Odd names: each its own series.
    assert_eq!(blob.series(""), one((11, 11, 1, 0)));
    let long: Vec<String> = blob
        .names()
        .into_iter()
        .filter(|n| n.starts_with("aaaa"))
        .collect();
    assert_eq!(long.len(), 2, "two distinct 10 KiB names stay distinct");
    let mut sizes: Vec<u64> = long.iter().map(|n| blob.series(n).total[0]).collect();
    sizes.sort();
    assert_eq!(sizes, [12, 13]);
    assert!(long.iter().all(|n| n.len() < 1100), "long names are cut");
    assert_eq!(blob.series("café"), one((16, 16, 1, 0)));
    let odd: Vec<(String, u64)> = blob
        .names()
        .into_iter()
        .filter(|n| n.contains("\\x"))
        .map(|n| {
            let t = blob.series(&n).total.clone();
            assert_eq!(t.len(), 1, "{n:?} merged samples of distinct names: {t:?}");
            (n, t[0])
        })
        .collect();
    assert_eq!(odd.len(), 2, "non-UTF-8 names stay distinct: {odd:?}");
    // 10,000 distinct names.
    for i in (0..10_000u64).step_by(997) {
        let n = i % 1000 + 1;
        assert_eq!(blob.series(&format!("r{i:05}")), one((n, n, 1, 0)));
    }
    assert_eq!(
        blob.names()
            .iter()
            .filter(|n| n.len() == 6 && n.starts_with('r'))
            .count(),
        10_000
    );
    // Never closed: measured to the exit, and says so.
    assert_eq!(blob.series("open_at_exit").total, vec![open_total]);
    let why = blob.incomplete("open_at_exit").join(" | ");
    assert!(why.contains("never closed"), "{why}");
    (blob, d)
}

#[test]
fn odd_regions_are_exact_or_marked() {
    let (blob, d) = check_common("all", 777);
    assert!(blob.notes().is_empty(), "{:?}", blob.notes());
    // The blob, odd names and all, reads back.
    let json = d.path().join("run.json");
    let show = bm(&["show", json.to_str().unwrap(), "--format", "csv"]);
    assert_eq!(show.code(), 0, "{}", show.stderr);
    assert!(
        show.stdout.contains("\\xFF\\xFE"),
        "non-UTF-8 names shown escaped"
    );
}

#[test]
fn exit_from_inside_a_region() {
    let (blob, _d) = check_common("exit", 777 + 123);
    assert_eq!(blob.series("exit_inside").total, vec![123]);
    let why = blob.incomplete("exit_inside").join(" | ");
    assert!(why.contains("never closed"), "{why}");
}

#[test]
fn more_regions_open_than_benchmem_holds() {
    let prog = compile("robust_regions.c", &[]);
    let (_, blob, _d) = same_as_native(&prog, &["deep"]);
    // 255 slots besides the root: those regions are measured, the rest are refused and
    // the run says so.
    let deep = blob.series("deep");
    assert_eq!(deep.allocs.len(), 255);
    let notes = blob.notes().join(" | ");
    assert!(notes.contains("too many regions open at once"), "{notes}");
}
