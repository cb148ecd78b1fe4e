//! Robustness: the program closes every fd and reuses the numbers for
//! its own files. Nothing of benchmem's lands in them, and later regions are still
//! measured (the preload holds no descriptor: samples go through its state file).

use std::path::Path;

use benchmem_tests::{Series, assert_same_program, compile, measure_env, native};

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('f'))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

fn closes_everything(how: &str) {
    let prog = compile("robust_fds.c", &[]);
    let nat_dir = tempfile::tempdir().unwrap();
    let nat = native(&prog, &[how, nat_dir.path().to_str().unwrap()]);
    assert_eq!(nat.code(), 0, "{nat:?}");
    let dir = tempfile::tempdir().unwrap();
    let (out, blob, _d) = measure_env(&[], &[], &prog, &[how, dir.path().to_str().unwrap()]);
    assert_same_program(&nat, &out);
    let (expected, got) = (files(nat_dir.path()), files(dir.path()));
    assert_eq!(expected.len(), 16);
    let names = |v: &[(String, Vec<u8>)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&got),
        names(&expected),
        "the program's files under benchmem"
    );
    for ((n1, a), (n2, b)) in expected.iter().zip(&got) {
        assert_eq!(n1, n2);
        assert_eq!(
            String::from_utf8_lossy(a),
            String::from_utf8_lossy(b),
            "{n1}: the program's file changed under benchmem"
        );
    }
    assert_eq!(blob.series("before"), Series::of(1, (100, 100, 1, 0)));
    let after = blob.series("after");
    assert_eq!(after.total, (2000..2020).collect::<Vec<u64>>(), "{after:?}");
    assert_eq!(after.allocs, vec![1; 20]);
    assert_eq!(blob.series("after2"), Series::of(20, (3000, 3000, 1, 0)));
    assert!(blob.is_clean(), "{:?}", blob.notes());
}

#[test]
fn closefrom_then_reuse() {
    closes_everything("closefrom");
}

#[test]
fn close_range_then_reuse() {
    closes_everything("close_range");
}

#[test]
fn proc_loop_then_reuse() {
    closes_everything("proc");
}

#[test]
fn closing_stdio_too() {
    closes_everything("all-closefrom");
    closes_everything("all-proc");
}
