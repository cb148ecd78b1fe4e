//! The private run directory: one state file per process image, and the launcher's lock.

use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The launcher's lock file in a run directory: held (`flock`) for as long as the run
/// directory is in use, so a directory whose lock is free was left by a launcher that is
/// gone.
const LOCK_NAME: &str = "launcher.lock";

/// A 0700 temporary directory (in /dev/shm when available: state files are memory that
/// processes write on every allocation), and the lock that says a launcher uses it.
pub struct RunDir {
    dir: tempfile::TempDir,
    /// Holds the `flock` until the directory is removed.
    _lock: std::fs::File,
}

impl RunDir {
    /// Creates the directory and takes its lock.
    pub fn create() -> std::io::Result<RunDir> {
        let shm = Path::new("/dev/shm");
        let base = if is_writable_dir(shm) {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        sweep_stale(&base);
        let private = std::fs::Permissions::from_mode(0o700);
        let dir = tempfile::Builder::new()
            .prefix("benchmem-")
            .permissions(private.clone())
            .tempdir_in(base)?;
        // mkdir applies the umask, which can only narrow 0700; an odd umask that took the
        // owner's own bits would leave a directory nobody can create files in, so set it
        // exactly.
        std::fs::set_permissions(dir.path(), private)?;
        // Locked before it takes its name: a directory with a lock file always had its
        // lock held, so a sweeper that finds the lock free knows the launcher is gone (and
        // one that finds no lock file leaves the directory alone).
        let tmp = dir.path().join(".lock");
        let lock = std::fs::File::create(&tmp)?;
        flock(&lock, libc::LOCK_EX)?;
        std::fs::rename(&tmp, dir.path().join(LOCK_NAME))?;
        Ok(RunDir { dir, _lock: lock })
    }

    /// The directory's path (given to the preload as `BENCHMEM_DIR`).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

fn flock(f: &std::fs::File, op: libc::c_int) -> std::io::Result<()> {
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(f.as_raw_fd(), op) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Removes run directories left behind by a launcher that was killed (SIGKILL leaves no
/// chance to clean up): ours, with a lock file whose lock nobody holds any more. A live
/// run's lock is held until its directory is removed, and a directory still being set up
/// has no lock file yet, so neither is touched. Processes of the dead run that are still
/// running keep their state files mapped: unlinking them does not disturb them.
fn sweep_stale(base: &Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    for e in entries.flatten() {
        let is_ours = e.file_name().to_string_lossy().starts_with("benchmem-")
            && e.metadata().is_ok_and(|m| m.is_dir() && m.uid() == me);
        if !is_ours {
            continue;
        }
        let Ok(lock) = std::fs::File::open(e.path().join(LOCK_NAME)) else {
            continue;
        };
        if flock(&lock, libc::LOCK_EX | libc::LOCK_NB).is_ok() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn is_writable_dir(p: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: access(2) on a NUL-terminated path.
    p.is_dir() && unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) } == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_run_is_kept_and_a_dead_ones_is_swept() {
        let base = tempfile::tempdir().unwrap();
        let private = std::fs::Permissions::from_mode(0o700);
        let make = |name: &str| {
            let d = base.path().join(name);
            std::fs::create_dir(&d).unwrap();
            std::fs::set_permissions(&d, private.clone()).unwrap();
            d
        };
        // A launcher that is gone: its lock file stays, nobody holds the lock.
        let dead = make("benchmem-dead");
        std::fs::File::create(dead.join(LOCK_NAME)).unwrap();
        std::fs::write(dead.join("s-1-0"), b"x").unwrap();
        // A live one holds its lock (another open file description: as another process).
        let live = make("benchmem-live");
        let held = std::fs::File::create(live.join(LOCK_NAME)).unwrap();
        flock(&held, libc::LOCK_EX).unwrap();
        // One being set up has no lock file yet; a stranger's name is not ours.
        let young = make("benchmem-young");
        let other = make("other-dir");
        std::fs::File::create(other.join(LOCK_NAME)).unwrap();
        sweep_stale(base.path());
        assert!(!dead.exists());
        assert!(live.exists() && young.exists() && other.exists());
        drop(held);
        sweep_stale(base.path());
        assert!(!live.exists());
    }
}
