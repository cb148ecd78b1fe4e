//! Every process is followed (fork, exec, Python subprocess), exit statuses pass through,
//! and programs the preload cannot enter get one clear line instead of silent zeros.

use std::process::Command;

use benchmem_tests::{Series, bm, compile, measure, measure_env, python, root};

#[test]
fn forked_and_execed_children_are_measured() {
    let prog = compile("fork_exec.c", &[]);
    let (out, blob, _d) = measure(&[], &prog, &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "exec child status 0\n");
    assert_eq!(
        blob.series("parent_work"),
        Series::of(1, (1000, 1000, 1, 0))
    );
    assert_eq!(blob.series("child_work"), Series::of(1, (2000, 2000, 1, 0)));
    assert_eq!(blob.series("exec_work"), Series::of(1, (3000, 3000, 1, 0)));
    // parent, forked child, exec'd child: one root row each (the fork that only exec'd
    // allocated nothing and is not shown).
    let names = blob.names();
    assert_eq!(
        &names[..3],
        ["fork_exec", "fork_exec#2", "fork_exec#3"],
        "{names:?}"
    );
    let child_root = blob.series("fork_exec#2");
    assert!(child_root.total[0] >= 2000, "{child_root:?}");
}

#[test]
fn exit_status_is_the_commands() {
    let prog = compile("exit_status.c", &[]);
    let (out, blob, _d) = measure(&[], &prog, &["3"]);
    assert_eq!(out.code(), 3, "{out:?}");
    // The region was never closed: measured to the exit, and said so.
    assert_eq!(blob.series("doomed").total, vec![4096]);
    let why = blob.incomplete("doomed").join(" | ");
    assert!(why.contains("never closed"), "{why}");
}

#[test]
fn killed_command_exits_128_plus_signal() {
    let prog = compile("exit_status.c", &[]);
    let (out, blob, _d) = measure(&[], &prog, &["signal", "9"]);
    assert_eq!(out.code(), 128 + 9, "{out:?}");
    assert_eq!(blob.series("doomed").total, vec![4096]);
    let why = blob.incomplete("doomed").join(" | ");
    assert!(why.contains("signal 9"), "{why}");
}

#[test]
fn static_binaries_are_refused_with_one_line() {
    let prog = compile("exit_status.c", &["-static"]);
    let out = bm(&["run", "--", prog.to_str().unwrap()]);
    assert_eq!(out.code(), 2);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(lines[0].contains("statically linked"), "{}", out.stderr);
}

#[test]
fn setuid_binaries_are_refused_with_one_line() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        panic!("this test needs root to chown a setuid copy (CI runs as root)");
    }
    let prog = compile("exit_status.c", &[]);
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("suid");
    std::fs::copy(&prog, &copy).unwrap();
    let ok = Command::new("chown")
        .arg("nobody")
        .arg(&copy)
        .status()
        .unwrap()
        .success()
        && Command::new("chmod")
            .arg("u+s,a+rx")
            .arg(&copy)
            .status()
            .unwrap()
            .success();
    assert!(ok);
    let out = bm(&["run", "--", copy.to_str().unwrap()]);
    assert_eq!(out.code(), 2);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("setuid"), "{}", out.stderr);
}

#[test]
fn missing_command_is_one_line() {
    let out = bm(&["run", "--", "/no/such/program"]);
    assert_eq!(out.code(), 2);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("/no/such/program"), "{}", out.stderr);
}

fn python_script(body: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("script.py");
    std::fs::write(&path, body).unwrap();
    (dir, path)
}

/// `python script` under `benchmem run [extra...]`, with the repo's `pytest_benchmem`.
fn measure_python(
    extra: &[&str],
    script: &std::path::Path,
) -> (
    benchmem_tests::Outcome,
    benchmem_tests::Blob,
    tempfile::TempDir,
) {
    let pythonpath = root().join("python");
    measure_env(
        extra,
        &[("PYTHONPATH", pythonpath.to_str().unwrap())],
        &python(),
        &[script.to_str().unwrap()],
    )
}

#[test]
fn python_subprocess_with_close_fds_is_followed() {
    let child = compile("fork_exec.c", &[]);
    let (_d, script) = python_script(&format!(
        "import subprocess, sys\n\
         from pytest_benchmem import region\n\
         with region('py_parent'):\n    data = [bytes(100) for _ in range(10)]\n\
         subprocess.run([{child:?}], check=True, close_fds=True)\n\
         subprocess.run([sys.executable, '-c', 'x = bytearray(1_000_000)'], check=True)\n"
    ));
    let (out, blob, _t) = measure_python(&[], &script);
    assert_eq!(out.code(), 0, "{out:?}");
    // The C child ran its own fork and exec: all of its regions arrived.
    assert_eq!(
        blob.series("parent_work"),
        Series::of(1, (1000, 1000, 1, 0))
    );
    assert_eq!(blob.series("child_work"), Series::of(1, (2000, 2000, 1, 0)));
    assert_eq!(blob.series("exec_work"), Series::of(1, (3000, 3000, 1, 0)));
    assert_eq!(blob.series("py_parent").allocs.len(), 1);
    // The second Python child allocated a 1 MB bytearray (plus the interpreter's own).
    let pythons: Vec<String> = blob
        .names()
        .into_iter()
        .filter(|n| n.starts_with("python"))
        .collect();
    assert!(pythons.len() >= 2, "{:?}", blob.names());
    let second = blob.series(&pythons[1]);
    assert!(second.total[0] > 1_000_000, "{second:?}");
}

#[test]
fn empty_python_region_counts_nothing_and_repeats_agree() {
    let (_d, script) = python_script(
        "from pytest_benchmem import region\n\
         for _ in range(3):\n    with region('empty'):\n        pass\n\
         for _ in range(3):\n    with region('churn'):\n        for _ in range(20): sum([i*i for i in range(20_000)])\n",
    );
    let (out, blob, _t) = measure_python(&["--repeats", "2"], &script);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(blob.series("empty"), Series::of(6, (0, 0, 0, 0)));
    let churn = blob.series("churn");
    assert_eq!(churn.allocs.len(), 6);
    assert!(churn.total[0] > 20 * 160_000, "{churn:?}");
    // Warm samples (2nd and 3rd of each process) repeat exactly.
    assert_eq!(churn.allocs[1], churn.allocs[2]);
    assert_eq!(churn.allocs[1], churn.allocs[4]);
    assert_eq!(churn.total[1], churn.total[4]);
}
