//! Every metric equals the answer the program knows by construction, to the byte.

use benchmem_tests::{Series, compile, measure};

fn one(s: (u64, u64, u64, u64)) -> Series {
    Series::of(1, s)
}

#[test]
fn every_allocation_api_is_exact() {
    let prog = compile("alloc_api.c", &[]);
    let (out, blob, _d) = measure(&[], &prog, &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(
        out.stdout, "done 4096\n",
        "the program's own output is untouched"
    );
    let page = 4096;
    // (peak, total, allocations, retained)
    let expected = [
        ("malloc", (300, 300, 2, 200)),
        ("calloc", (300, 300, 1, 0)),
        ("realloc_grow", (1000, 1100, 2, 1000)),
        ("realloc_shrink", (1000, 1010, 2, 0)),
        ("realloc_null", (500, 500, 1, 0)),
        ("realloc_zero", (64, 64, 1, 0)),
        ("reallocarray", (480, 720, 2, 0)),
        ("posix_memalign", (1000, 1000, 1, 0)),
        ("aligned_alloc", (512, 512, 1, 0)),
        ("memalign", (300, 300, 1, 0)),
        ("valloc", (100, 100, 1, 0)),
        ("pvalloc", (100, 100, 1, 0)),
        // 3 pages, one unmapped, the first remapped to 2 pages: file and PROT_NONE maps ignored
        ("mmap", (3 * page, 5 * page, 2, 3 * page)),
        ("free_before", (100, 100, 1, 100)),
        ("failures", (0, 0, 0, 0)),
        ("empty", (0, 0, 0, 0)),
        ("inner", (800, 800, 2, 300)),
        ("outer", (1500, 1800, 3, 0)),
    ];
    for (name, e) in expected {
        assert_eq!(blob.series(name), one(e), "region {name}");
    }
    assert_eq!(blob.series("repeated"), Series::of(3, (256, 256, 1, 0)));
    // Seven blocks freed one by one (largest 200000), then 50 bytes grown to 60, every
    // usable byte written each time.
    assert_eq!(
        blob.series("usable"),
        one((200_000, 201_165 + 50 + 60, 9, 0)),
        "region usable"
    );
    // The root row comes first and covers everything the regions saw.
    assert_eq!(blob.names()[0], "alloc_api");
    let root = blob.series("alloc_api");
    assert!(root.total[0] > 5000 + 300 + 300 + 1100, "{root:?}");
}

#[test]
fn four_threads_with_cross_thread_frees() {
    let prog = compile("threads.c", &[]);
    let (out, blob, _d) = measure(&[], &prog, &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    let bytes = 1000 * (48 + 49 + 50 + 51);
    assert_eq!(blob.series("work"), one((bytes, bytes, 4000, 0)));
}

#[test]
fn cxx_new_delete_and_vector_growth() {
    let prog = compile("cxx.cpp", &[]);
    let (out, blob, _d) = measure(&[], &prog, &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    // capacities 1, 2, 4, ..., 128 ints; the last growth holds 64 and 128 at once
    assert_eq!(blob.series("vector"), one((4 * (64 + 128), 4 * 255, 8, 0)));
    assert_eq!(blob.series("new_delete"), one((24 + 4000, 24 + 4000, 2, 0)));
}

#[test]
fn repeats_are_deterministic() {
    let prog = compile("alloc_api.c", &[]);
    let (out, blob, _d) = measure(&["--repeats", "5"], &prog, &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(blob.series("reallocarray"), Series::of(5, (480, 720, 2, 0)));
    assert_eq!(blob.series("repeated"), Series::of(15, (256, 256, 1, 0)));
    for (name, s) in blob.all() {
        assert!(
            s.allocs.iter().all(|&a| a == s.allocs[0]),
            "{name}: allocations vary: {:?}",
            s.allocs
        );
        assert!(
            s.total.iter().all(|&a| a == s.total[0]),
            "{name}: total bytes vary: {:?}",
            s.total
        );
    }
    assert_eq!(blob.series("alloc_api").allocs.len(), 5);
}

/// Allocation counts of region "by_address" over `repeats` runs, with `extra` options.
fn by_address(extra: &[&str], repeats: &str) -> (Vec<u64>, Vec<String>) {
    let prog = compile("by_address.c", &[]);
    let mut opts = vec!["--repeats", repeats];
    opts.extend_from_slice(extra);
    let (out, blob, _d) = measure(&opts, &prog, &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    (blob.series("by_address").allocs, blob.notes())
}

/// A program whose allocations follow its addresses gives the same numbers every repeat:
/// `benchmem run` turns address-space randomization off for it (unless a seccomp filter
/// forbids that, which the run then says).
#[test]
fn repeats_agree_for_a_program_that_allocates_by_address() {
    let (allocs, notes) = by_address(&[], "10");
    if notes.iter().any(|n| n.contains("randomization stays on")) {
        eprintln!("personality refused on this machine: {notes:?}");
        return;
    }
    assert!(allocs.iter().all(|&a| a == allocs[0]), "{allocs:?}");
    // With randomization kept, 10 runs of a count drawn from 8 values all agree with
    // probability 8^-9: this shows the program really depends on its addresses.
    let (kept, _) = by_address(&["--keep-aslr"], "10");
    assert!(kept.iter().any(|&a| a != kept[0]), "{kept:?}");
}
