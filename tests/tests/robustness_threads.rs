//! Robustness: 64 threads allocating and freeing at once, frees on other
//! threads than the allocating one, regions opened and closed while they run: exact.

use benchmem_tests::{compile, same_as_native};

#[test]
fn sixty_four_threads_cross_thread_frees_exact() {
    let prog = compile("robust_threads.c", &[]);
    let (out, blob, _d) = same_as_native(&prog, &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    // The program prints what it knows by construction.
    let first = out.stdout.lines().next().unwrap().to_string();
    let n: Vec<u64> = first
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    let (allocs, bytes, peak) = (n[0], n[1], n[2]);
    let mt = blob.series("mt");
    assert_eq!(mt.allocs, vec![allocs], "{mt:?}");
    assert_eq!(mt.total, vec![bytes], "{mt:?}");
    assert_eq!(mt.peak, vec![peak], "{mt:?}");
    assert_eq!(mt.retained, vec![0], "{mt:?}");
    // Every "side" region was measured (its numbers depend on timing; each within "mt").
    let side = blob.series("side");
    assert_eq!(side.allocs.len(), 40);
    assert!(side.total.iter().all(|&t| t <= bytes) && side.peak.iter().all(|&p| p <= peak));
    assert!(blob.is_clean(), "{:?}", blob.notes());
}
