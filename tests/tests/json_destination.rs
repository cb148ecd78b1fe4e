//! Where `benchmem run --json PATH` writes: through symbolic links to the regular file
//! they lead to (the link stays a link), atomically, keeping an existing file's mode;
//! never over a device, directory or fifo, never through another user's link in a shared
//! sticky directory, never into a directory where it cannot create files. A refusal is
//! one line and exit status 2, before the command runs.
//!
//! These tests run as root in CI. benchmem applies the `protected_symlinks` rule itself,
//! whatever /proc/sys/fs/protected_symlinks says (often 0 in containers, where the kernel
//! would follow the link), so the sticky-directory test holds either way. Root may create
//! files in any directory whose mode forbids it, so the unwritable directory used is one
//! where nobody can create files: /proc.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use benchmem_tests::{Blob, Outcome, benchmem, run_limited};

/// `benchmem run --json <json> -- touch <marker>`.
fn run_touch(json: &Path, marker: &Path) -> Outcome {
    let mut cmd = Command::new(benchmem());
    cmd.arg("run")
        .arg("--json")
        .arg(json)
        .arg("--")
        .arg("touch")
        .arg(marker);
    run_limited(&mut cmd, Duration::from_secs(60))
}

/// Asserts `json` is refused in one line mentioning `what`, before the command ran.
fn refused(json: &Path, what: &str) {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("marker");
    let out = run_touch(json, &marker);
    assert_eq!(out.code(), 2, "{}: {out:?}", json.display());
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "not one line: {}", out.stderr);
    let expected = format!("benchmem: {}: ", json.display());
    assert!(
        lines[0].starts_with(&expected) && lines[0].contains(what),
        "{}",
        lines[0]
    );
    assert!(!marker.exists(), "the command ran: {out:?}");
}

/// Asserts a run saved through `json` into `file`, and the command ran.
fn saved(json: &Path, file: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("marker");
    let out = run_touch(json, &marker);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(marker.exists());
    let blob = Blob::read(file);
    assert_eq!(blob.names(), vec!["touch".to_string()]);
}

fn leftovers(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".benchmem-"))
        .collect()
}

#[test]
fn symlink_to_a_file_is_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.json");
    std::fs::write(&real, "old").unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink("real.json", &link).unwrap();
    saved(&link, &real);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("real.json"));
    // The replaced file's mode is kept.
    assert_eq!(std::fs::metadata(&real).unwrap().mode() & 0o777, 0o640);
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn symlink_through_a_linked_directory() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("runs");
    std::fs::create_dir(&sub).unwrap();
    std::os::unix::fs::symlink(&sub, dir.path().join("latest")).unwrap();
    let json = dir.path().join("latest/run.json");
    saved(&json, &sub.join("run.json"));
}

#[test]
fn dangling_symlink_creates_its_target() {
    let dir = tempfile::tempdir().unwrap();
    let target_dir = dir.path().join("out");
    std::fs::create_dir(&target_dir).unwrap();
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(target_dir.join("new.json"), &link).unwrap();
    saved(&link, &target_dir.join("new.json"));
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

/// A directory like /tmp: world-writable and sticky, owned by root (us).
fn shared_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    dir
}

fn lchown(path: &Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).unwrap();
}

const NOBODY: u32 = 65534;

#[test]
fn another_users_link_in_a_shared_sticky_directory_is_not_followed() {
    assert_eq!(
        // SAFETY: geteuid cannot fail.
        unsafe { libc::geteuid() },
        0,
        "this test plants a link owned by another user: run it as root"
    );
    let shared = shared_dir();
    let private = tempfile::tempdir().unwrap();
    let victim = private.path().join("victim.json");
    std::fs::write(&victim, "precious").unwrap();
    let link = shared.path().join("run.json");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    lchown(&link, NOBODY);
    refused(&link, "belongs to another user (uid 65534)");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");

    // The same link is followed when it is the directory owner's...
    lchown(shared.path(), NOBODY);
    saved(&link, &victim);
    // ...or ours.
    lchown(shared.path(), 0);
    lchown(&link, 0);
    std::fs::write(&victim, "again").unwrap();
    saved(&link, &victim);
}

/// A null device of our own: were benchmem ever to replace what it is given, it would
/// replace this one, not the machine's /dev/null.
fn null_device(dir: &Path) -> PathBuf {
    let path = dir.join("null");
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: mknod on a NUL-terminated path (root may create device nodes).
    let rc = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
    assert_eq!(rc, 0, "mknod: run this test as root");
    path
}

#[test]
fn devices_directories_and_fifos_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let null = null_device(dir.path());
    refused(&null, "a character device, not a regular file");
    refused(dir.path(), "a directory, not a regular file");
    let fifo = dir.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    refused(&fifo, "a fifo, not a regular file");
    // A link to a device is judged by what it leads to.
    let link = dir.path().join("null.json");
    std::os::unix::fs::symlink(&null, &link).unwrap();
    refused(&link, "a character device, not a regular file");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::metadata(&null)
            .unwrap()
            .file_type()
            .is_char_device()
    );
}

#[test]
fn unwritable_places_are_refused_before_the_run() {
    refused(
        Path::new("/proc/run.json"),
        "cannot create a file in /proc (",
    );
    // A read-only file, even for root (sysctl files check their mode bits for everyone).
    refused(
        Path::new("/proc/sys/kernel/osrelease"),
        "/proc/sys/kernel/osrelease is read-only",
    );
    let dir = tempfile::tempdir().unwrap();
    refused(
        &dir.path().join("missing/deeper/run.json"),
        &format!("no such directory {}/missing/deeper:", dir.path().display()),
    );
    let file = dir.path().join("file");
    std::fs::write(&file, "").unwrap();
    refused(
        &file.join("run.json"),
        &format!("{} is not a directory", file.display()),
    );
}
