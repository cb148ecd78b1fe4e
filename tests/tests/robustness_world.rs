//! Robustness: the program starts in exactly the world benchmem was started in (closed
//! standard descriptors stay closed, ignored signals stay ignored, the signal mask is
//! kept), executable scripts without `#!` run as a shell runs them, and signals sent to
//! benchmem reach the program while benchmem stays to report.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use benchmem_tests::{Blob, Outcome, benchmem, compile, measure, native, run_limited};

/// Runs `cmd` with standard descriptor `fd` closed and the given signals ignored and
/// blocked, as a parent might start it.
fn in_world(cmd: &mut Command, closed: Option<i32>, ignored: &[i32], blocked: &[i32]) {
    let (ignored, blocked) = (ignored.to_vec(), blocked.to_vec());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // A clean start first: the test itself may have inherited glibc's internal
            // signals 32 and 33 ignored (a posix_spawn side effect somewhere up the chain).
            for s in [32, 33] {
                let dfl = [0usize; 4]; // kernel sigaction: SIG_DFL, no flags, no mask
                libc::syscall(libc::SYS_rt_sigaction, s, dfl.as_ptr(), 0usize, 8usize);
            }
            for &s in &ignored {
                libc::signal(s, libc::SIG_IGN);
            }
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for &s in &blocked {
                libc::sigaddset(&mut set, s);
            }
            libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
            if let Some(fd) = closed {
                libc::close(fd);
            }
            Ok(())
        });
    }
}

fn world_natively(closed: Option<i32>, ignored: &[i32], blocked: &[i32]) -> String {
    let prog = compile("robust_world.c", &[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("world");
    let mut cmd = Command::new(&prog);
    cmd.arg(&file);
    in_world(&mut cmd, closed, ignored, blocked);
    let out = run_limited(&mut cmd, Duration::from_secs(60));
    assert_eq!(out.code(), 0, "{out:?}");
    std::fs::read_to_string(file).unwrap()
}

fn world_under_benchmem(closed: Option<i32>, ignored: &[i32], blocked: &[i32]) -> String {
    let prog = compile("robust_world.c", &[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("world");
    let mut cmd = Command::new(benchmem());
    cmd.args(["run", "--"]).arg(&prog).arg(&file);
    in_world(&mut cmd, closed, ignored, blocked);
    let out = run_limited(&mut cmd, Duration::from_secs(60));
    assert_eq!(out.code(), 0, "{out:?}");
    std::fs::read_to_string(file).unwrap()
}

#[test]
fn closed_standard_descriptors_stay_closed() {
    for fd in 0..3 {
        let native = world_natively(Some(fd), &[], &[]);
        assert!(native.contains(&format!("fd{fd} closed")), "{native}");
        assert_eq!(world_under_benchmem(Some(fd), &[], &[]), native, "fd {fd}");
    }
}

#[test]
fn a_program_writing_to_a_closed_stdout_fails_as_natively() {
    let status = |cmd: &mut Command| {
        in_world(cmd, Some(1), &[], &[]);
        run_limited(cmd, Duration::from_secs(60))
    };
    let nat = status(Command::new("/bin/echo").arg("hi"));
    let under = status(Command::new(benchmem()).args(["run", "--", "/bin/echo", "hi"]));
    assert_eq!(nat.code(), 1, "{nat:?}");
    assert_eq!(under.code(), 1, "{under:?}");
    assert!(under.stderr.contains("Bad file descriptor"), "{under:?}");
}

#[test]
fn ignored_signals_and_the_mask_are_inherited_unchanged() {
    let ignored = [libc::SIGPIPE, libc::SIGHUP, libc::SIGUSR2];
    let blocked = [libc::SIGUSR1, libc::SIGTERM];
    let native = world_natively(None, &ignored, &blocked);
    let set = |key: &str| {
        let line = native.lines().find(|l| l.starts_with(key)).unwrap();
        u64::from_str_radix(line[key.len()..].trim(), 16).unwrap()
    };
    assert_eq!(set("SigIgn:"), 0x1801, "{native}");
    assert_eq!(set("SigBlk:"), 0x4200, "{native}");
    assert_eq!(world_under_benchmem(None, &ignored, &blocked), native);
    // And the plain case: nothing ignored, nothing added (a spawn through posix_spawn
    // would leave glibc's internal signals 32 and 33 ignored).
    let plain = world_natively(None, &[], &[]);
    assert!(plain.contains("SigIgn:\t0000000000000000"), "{plain}");
    assert_eq!(world_under_benchmem(None, &[], &[]), plain);
}

#[test]
fn executable_scripts_without_a_shebang_run_under_sh() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("s.sh");
    std::fs::write(&script, "echo x; exit 5\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    // Natively, as a shell runs it (execvp falls back to /bin/sh on ENOEXEC).
    let nat = run_limited(
        Command::new("sh").arg("-c").arg(&script),
        Duration::from_secs(60),
    );
    assert_eq!((nat.code(), nat.stdout.as_str()), (5, "x\n"), "{nat:?}");
    let (out, blob, _d) = measure(&[], &script, &[]);
    assert_eq!((out.code(), out.stdout.as_str()), (5, "x\n"), "{out:?}");
    assert!(!blob.process_rows().is_empty(), "the shell was measured");
}

fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Starts `benchmem run --json` on robust_signals.c in `mode`, sends `sig` to benchmem
/// once the program is ready, and returns what benchmem did and the blob.
fn signal_benchmem(mode: &str, sig: i32) -> (Outcome, Blob) {
    let prog = compile("robust_signals.c", &[]);
    let dir = tempfile::tempdir().unwrap();
    let (ready, json) = (dir.path().join("ready"), dir.path().join("run.json"));
    let mut child = Command::new(benchmem())
        .args(["run", "--json"])
        .arg(&json)
        .arg("--")
        .arg(&prog)
        .arg(&ready)
        .arg(mode)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: a signal to benchmem alone, as `kill PID` sends it.
        .process_group(0)
        .spawn()
        .unwrap();
    wait_for(&ready);
    // SAFETY: kill of our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("benchmem did not end after signal {sig}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let out = child.wait_with_output().unwrap();
    let outcome = Outcome {
        status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(json.is_file(), "no blob after signal {sig}: {outcome:?}");
    (outcome, Blob::read(&json))
}

#[test]
fn signals_to_benchmem_reach_a_program_that_handles_them() {
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT] {
        let (out, blob) = signal_benchmem("handle", sig);
        assert_eq!(out.code(), 100 + sig, "signal {sig}: {out:?}");
        // The program ended its region after the signal: a clean, exact sample.
        assert_eq!(blob.series("waiting").allocs, vec![1], "signal {sig}");
        assert!(blob.incomplete("waiting").is_empty(), "signal {sig}");
        assert!(
            blob.notes().iter().any(|n| n.contains("passed it on")),
            "signal {sig}: {:?}",
            blob.notes()
        );
    }
}

#[test]
fn sigterm_to_benchmem_ends_the_program_and_keeps_the_measurement() {
    let (out, blob) = signal_benchmem("default", libc::SIGTERM);
    assert_eq!(out.code(), 128 + libc::SIGTERM, "{out:?}");
    assert!(
        out.stderr.contains("waiting"),
        "the table is printed: {out:?}"
    );
    let reasons = blob.incomplete("waiting");
    assert!(
        reasons.iter().any(|r| r.contains("killed by SIGTERM")),
        "{reasons:?}"
    );
    assert_eq!(blob.series("waiting").allocs, vec![1]);
}

#[test]
fn a_daemon_does_not_hold_benchmem_and_keeps_running() {
    let prog = compile("robust_daemon.c", &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let nat = native(&prog, &[d, "10"]);
    assert_eq!(nat.code(), 0);
    wait_for(&dir.path().join("done"));

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let started = Instant::now();
    let (out, blob, _j) = measure(&[], &prog, &[d, "3000"]);
    let took = started.elapsed();
    assert_eq!((out.code(), out.stdout.as_str()), (0, "started a daemon\n"));
    // The daemon sleeps 3 s: benchmem returned without waiting for it (the bound is
    // generous for a loaded machine; the point is "not 3 s, not the 5 s linger").
    assert!(
        took < Duration::from_millis(2500),
        "benchmem waited {took:?}"
    );
    assert!(
        !dir.path().join("done").exists(),
        "returned before the daemon ended"
    );
    assert!(
        blob.notes().iter().any(|n| n.contains("left the session")),
        "{:?}",
        blob.notes()
    );
    // Untouched: it finishes its work after benchmem is gone.
    wait_for(&dir.path().join("done"));
}
