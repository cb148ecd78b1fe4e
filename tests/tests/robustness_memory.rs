//! Robustness: with 10 million live allocations, benchmem's bookkeeping
//! inside the program stays within its documented bound per live allocation — 16 bytes
//! under glibc (an 8-byte record at the end of each block: at worst one 16-byte chunk step),
//! 32 bytes under jemalloc (the pointer table: 16-byte entries at 1/2..3/4 load) — and
//! the launcher's own memory does not grow with the number of allocations.
//!
//! Peak RSS (VmHWM) is measured by the program itself, natively and under the preload;
//! the launcher's own VmHWM is read at its exit (ptrace exit stop), so the program's
//! memory is never mixed in.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use benchmem_tests::{Series, benchmem, compile, jemalloc, preload, run_limited};

const N: u64 = 10_000_000;
/// Fixed costs: the preload's static state, its state file, the code itself.
const FIXED: u64 = 16 << 20;

/// What `robust_live` wrote: (its VmHWM in bytes, the allocations its region reported).
fn hwm_and_allocations(path: &Path) -> (u64, u64) {
    let text = std::fs::read_to_string(path).unwrap();
    let n: Vec<u64> = text
        .split_whitespace()
        .map(|w| w.parse().unwrap())
        .collect();
    assert_eq!(n.len(), 2, "{text:?}");
    (n[0] * 1024, n[1])
}

/// Peak RSS of `robust_live` holding N blocks, natively and under the preload, both with
/// `allocator` preloaded (or none); asserts the documented bound and returns bytes per
/// live allocation.
fn bookkeeping(allocator: Option<&Path>, per_allocation: u64) -> f64 {
    let prog = compile("robust_live.c", &[]);
    let d = tempfile::tempdir().unwrap();
    let n = N.to_string();
    let (f0, f1) = (d.path().join("native"), d.path().join("preload"));
    let run = |hwm: &Path, ours: bool| {
        let mut cmd = Command::new(&prog);
        cmd.args([&n, hwm.to_str().unwrap()])
            .env_remove("BENCHMEM_DIR");
        // Ours first, as `benchmem run` sets it.
        let mut libs = Vec::new();
        if ours {
            libs.push(preload());
        }
        libs.extend(allocator.map(Path::to_path_buf));
        let joined: Vec<&str> = libs.iter().map(|p| p.to_str().unwrap()).collect();
        cmd.env("LD_PRELOAD", joined.join(":"));
        run_limited(&mut cmd, std::time::Duration::from_secs(60))
    };
    let nat = run(&f0, false);
    assert_eq!(nat.stdout, format!("ok {N}\n"));
    let pre = run(&f1, true);
    assert_eq!(pre.stdout, nat.stdout);
    let (native_hwm, native_allocs) = hwm_and_allocations(&f0);
    let (preload_hwm, preload_allocs) = hwm_and_allocations(&f1);
    // The preload really was in the program, counting (else the bound holds vacuously).
    assert_eq!((native_allocs, preload_allocs), (0, N));
    let extra = preload_hwm.saturating_sub(native_hwm);
    let per = extra as f64 / N as f64;
    eprintln!(
        "{N} live allocations ({allocator:?}): native VmHWM {native_hwm} B, under the preload \
         {preload_hwm} B: {per:.1} bytes per live allocation"
    );
    assert!(
        extra <= per_allocation * N + FIXED,
        "bookkeeping {extra} B for {N} live allocations exceeds {per_allocation} B each + {FIXED} B"
    );
    per
}

#[test]
fn bookkeeping_under_glibc_stays_within_16_bytes_per_live_allocation() {
    let per = bookkeeping(None, 16);
    // 24-byte blocks are the worst case: each chunk grows by one 16-byte step.
    assert!(
        per > 8.0,
        "{per}: the record should cost a chunk step at this size"
    );
}

#[test]
fn bookkeeping_under_jemalloc_stays_within_32_bytes_per_live_allocation() {
    bookkeeping(Some(&jemalloc()), 32);
}

/// Runs `benchmem run --json J -- prog n file` with benchmem traced, and returns
/// (benchmem's VmHWM in bytes at its exit, its exit code, the blob).
fn launcher_hwm(prog: &Path, n: u64, dir: &Path) -> (u64, i32, benchmem_tests::Blob) {
    let json = dir.join(format!("run-{n}.json"));
    let file = dir.join(format!("hwm-{n}"));
    let mut cmd = Command::new(benchmem());
    cmd.args(["run", "--json", json.to_str().unwrap(), "--"])
        .arg(prog)
        .arg(n.to_string())
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: ptrace(TRACEME) is async-signal-safe; the child stops at its exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0);
            Ok(())
        });
    }
    // Reaped below with waitpid (std's wait would not see the ptrace stops).
    let pid = cmd.spawn().unwrap().id() as i32;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut hwm = 0;
    let mut first = true;
    loop {
        let mut status = 0;
        // SAFETY: waiting for our own traced child.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(r, pid);
        if libc::WIFEXITED(status) {
            assert!(hwm > 0, "never saw benchmem's exit stop");
            return (
                hwm,
                libc::WEXITSTATUS(status),
                benchmem_tests::Blob::read(&json),
            );
        }
        assert!(
            !libc::WIFSIGNALED(status),
            "benchmem was killed: {status:#x}"
        );
        assert!(std::time::Instant::now() < deadline, "benchmem hung");
        let mut sig = 0;
        if libc::WIFSTOPPED(status) {
            let stop = libc::WSTOPSIG(status);
            if first && stop == libc::SIGTRAP {
                first = false;
                // SAFETY: setting options on our stopped tracee.
                unsafe {
                    libc::ptrace(
                        libc::PTRACE_SETOPTIONS,
                        pid,
                        0,
                        libc::PTRACE_O_TRACEEXIT as usize,
                    )
                };
            } else if status >> 8 == (libc::SIGTRAP | (libc::PTRACE_EVENT_EXIT << 8)) {
                let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
                let line = s.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
                hwm = line
                    .split_whitespace()
                    .nth(1)
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
                    * 1024;
            } else {
                sig = stop; // pass real signals (SIGCHLD) on
            }
        }
        // SAFETY: resuming our stopped tracee.
        unsafe { libc::ptrace(libc::PTRACE_CONT, pid, 0, sig) };
    }
}

#[test]
fn the_launcher_does_not_grow_with_allocations() {
    let prog = compile("robust_live.c", &[]);
    let d = tempfile::tempdir().unwrap();
    let (small, code, blob) = launcher_hwm(&prog, 1000, d.path());
    assert_eq!(code, 0);
    assert_eq!(
        blob.series("held"),
        Series::of(1, (24_000, 24_000, 1000, 0))
    );
    let (large, code, blob) = launcher_hwm(&prog, N, d.path());
    assert_eq!(code, 0);
    let bytes = 24 * N;
    assert_eq!(blob.series("held"), Series::of(1, (bytes, bytes, N, 0)));
    eprintln!("benchmem's own VmHWM: {small} B with 1,000 live allocations, {large} B with {N}");
    assert!(
        large <= small + (4 << 20),
        "the launcher grew from {small} B to {large} B with the number of allocations"
    );
}
