//! Robustness: `benchmem` is killed with SIGKILL while the command runs.
//! The command (re-parented to this test, a subreaper) finishes normally: same output,
//! same file contents, its own exit status, no SIGPIPE and no hang.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use benchmem_tests::{benchmem, compile, native};

fn wait_for(path: &Path, limit: Duration) {
    let deadline = Instant::now() + limit;
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits for an orphan re-parented to us; kills it and fails after `limit`.
fn reap(pid: i32, limit: Duration) -> i32 {
    let deadline = Instant::now() + limit;
    loop {
        let mut status = 0;
        // SAFETY: waitpid with a valid out-pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        assert!(r >= 0, "waitpid({pid}) failed: not our child");
        if r == pid {
            return status;
        }
        if Instant::now() > deadline {
            // SAFETY: the pid is our (orphaned) child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the program hung after its launcher died");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn the_program_outlives_a_killed_launcher() {
    let prog = compile("robust_orphan.c", &[]);
    // Natively: go at once.
    let nat_dir = tempfile::tempdir().unwrap();
    std::fs::write(nat_dir.path().join("go"), "").unwrap();
    let nat = native(&prog, &[nat_dir.path().to_str().unwrap()]);
    assert_eq!(nat.code(), 7, "{nat:?}");
    let expected_file = std::fs::read(nat_dir.path().join("out.txt")).unwrap();

    // Orphans of the launcher come to us, so we can see how the program ends.
    // SAFETY: prctl with integer arguments; this test binary holds only this test.
    let subreaper = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    assert_eq!(subreaper, 0);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let mut launcher = Command::new(benchmem())
        .args(["run", "--json", json.to_str().unwrap(), "--"])
        .arg(&prog)
        .arg(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = launcher.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).ok();
        s
    });
    wait_for(&dir.path().join("ready"), Duration::from_secs(20));
    let ready = std::fs::read_to_string(dir.path().join("ready")).unwrap();
    let mut lines = ready.lines();
    let pid: i32 = lines.next().unwrap().parse().unwrap();
    let run_dir = std::path::PathBuf::from(lines.next().unwrap());
    assert!(run_dir.is_dir(), "{ready}");
    launcher.kill().unwrap();
    let st = launcher.wait().unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&st), Some(9));
    std::fs::write(dir.path().join("go"), "").unwrap();
    let status = reap(pid, Duration::from_secs(20));
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 7,
        "the program did not exit normally with its own status: wait status {status:#x} (SIGPIPE is 13)"
    );
    let out = reader.join().unwrap();
    assert_eq!(out, nat.stdout, "the program's stdout changed");
    assert_eq!(
        std::fs::read(dir.path().join("out.txt")).unwrap(),
        expected_file,
        "stray bytes in the program's own file"
    );
    assert!(
        !json.exists(),
        "a killed launcher wrote no blob (and left no partial one)"
    );
    // The next run sweeps the run directory the killed launcher could not remove.
    assert!(run_dir.is_dir());
    let next = benchmem_tests::bm(&["run", "--", "/bin/true"]);
    assert_eq!(next.code(), 0, "{next:?}");
    assert!(
        !run_dir.exists(),
        "stale run directory {} left behind",
        run_dir.display()
    );
}
