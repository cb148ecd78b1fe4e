//! Regions closed by the hundred thousand: every sample reaches the launcher exactly,
//! through each process's sample ring, whether the process exits, is killed with SIGKILL
//! or is a fork child; a launcher too slow to drain costs the program a bounded wait and
//! the run says which samples were lost. The table and the blob stay readable.

use std::time::{Duration, Instant};

use benchmem_tests::{Series, bm, compile, measure};

/// Size of the i-th "iter" sample (as `regions_many.c` allocates it).
fn size(i: u64) -> u64 {
    16 + 8 * (i % 64)
}

/// The series of `n` "iter" samples.
fn iters(n: u64) -> Series {
    let sizes: Vec<u64> = (0..n).map(size).collect();
    Series {
        peak: sizes.clone(),
        total: sizes,
        allocs: vec![1; n as usize],
        retained: vec![0; n as usize],
    }
}

#[test]
fn two_hundred_thousand_regions_every_sample_exact() {
    let prog = compile("regions_many.c", &[]);
    let (out, blob, d) = measure(&[], &prog, &["loop", "200000"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(blob.series("iter"), iters(200_000));
    assert!(blob.is_clean(), "{:?}", blob.notes());
    // The per-op view: the mean of 16 + 8k over k = 0..63, one allocation each.
    let per_op = &blob.bench("iter")["extra_info"]["benchmem_per_op"];
    assert_eq!(per_op["ops"], 200_000);
    assert_eq!(per_op["bytes_per_op"], 268.0);
    assert_eq!(per_op["allocs_per_op"], 1.0);
    // A process row has none.
    assert!(
        blob.bench("regions_many")["extra_info"]
            .get("benchmem_per_op")
            .is_none()
    );
    // The table: B/op and allocs/op columns, filled for the loop's region only.
    let table = &out.stderr;
    let header = table.lines().find(|l| l.contains("name")).unwrap_or("");
    assert!(
        header.contains("B/op") && header.contains("allocs/op"),
        "{table}"
    );
    let row = |name: &str| {
        table
            .lines()
            .find(|l| l.contains(&format!(" {name} ")))
            .unwrap_or_else(|| panic!("{table}"))
    };
    assert!(row("iter").contains("268 B"), "{table}");
    assert!(!row("regions_many").contains("268 B"), "{table}");
    assert!(table.contains("1 repeat;"), "{table}");
    assert!(table.contains("iter: 200,000 samples"), "{table}");

    // The blob stays small and readable: the series are one line each.
    let json = d.path().join("run.json");
    let text = std::fs::read_to_string(&json).unwrap();
    assert!(text.len() < 12_000_000, "{} bytes", text.len());
    assert!(
        text.lines().count() < 5_000,
        "{} lines",
        text.lines().count()
    );
    let t = Instant::now();
    let show = bm(&["show", json.to_str().unwrap()]);
    assert_eq!(show.code(), 0, "{}", show.stderr);
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "show took {:?}",
        t.elapsed()
    );
    assert!(show.stdout.contains("268 B"), "{}", show.stdout);
}

#[test]
fn a_killed_process_keeps_every_sample_it_closed() {
    let prog = compile("regions_many.c", &[]);
    let (out, blob, _d) = measure(&["-i"], &prog, &["killed", "50000"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    // Many were still in the ring when the process died: read after its end.
    assert_eq!(blob.series("iter"), iters(50_000));
    assert!(blob.incomplete("iter").is_empty());
    assert_eq!(blob.series("open").total, vec![777]);
    let why = blob.incomplete("open").join(" | ");
    assert!(
        why.contains("never closed") && why.contains("SIGKILL"),
        "{why}"
    );
}

#[test]
fn a_fork_childs_samples_arrive() {
    let prog = compile("regions_many.c", &[]);
    let (out, blob, _d) = measure(&[], &prog, &["fork", "20000"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(blob.series("child"), {
        let mut s = iters(20_000);
        s.retained = vec![0; 20_000];
        s
    });
    // The parent's and the child's samples of one name, in the order they ended.
    let mut shared = blob.series("shared").total;
    assert_eq!(shared.len(), 60_000);
    assert!(shared[..20_000].iter().all(|&t| t == 100));
    assert!(shared[40_000..].iter().all(|&t| t == 100));
    shared.sort();
    assert_eq!(shared[..40_000], [100; 40_000]);
    assert_eq!(shared[40_000..], [200; 20_000]);
    assert_eq!(blob.process_rows(), ["regions_many", "regions_many#2"]);
    assert!(blob.is_clean(), "{:?}", blob.notes());
}

#[test]
fn a_launcher_that_does_not_drain_costs_a_bounded_wait_and_says_so() {
    let prog = compile("regions_many.c", &[]);
    let (out, blob, _d) = measure(&[], &prog, &["stall", "30000"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    // The ring holds 16,384 samples; the program waited for room once, about a second,
    // then dropped the rest without waiting again.
    let secs: f64 = out
        .stdout
        .strip_prefix("stalled for ")
        .and_then(|r| r.split(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{}", out.stdout));
    assert!((0.9..10.0).contains(&secs), "{secs}");
    let kept = 16_384;
    let iter = blob.series("iter");
    assert_eq!(iter, iters(kept));
    let why = blob.incomplete("iter").join(" | ");
    assert!(
        why.contains(&format!(
            "({kept} samples): {} sample(s) of this region lost",
            30_000 - kept
        )),
        "{why}"
    );
    let notes = blob.notes().join(" | ");
    assert!(
        notes.contains(&format!("{} region sample(s) lost", 30_000 - kept)),
        "{notes}"
    );
}
