//! The preload library a `benchmem` binary carries inside itself, written out once per
//! user so the loader can map it.
//!
//! The file is `<cache>/benchmem/<hash>/libbenchmem_preload.so`, where `<cache>` is
//! `$XDG_CACHE_HOME`, else `~/.cache`, else (no usable home) `benchmem-<uid>` in the
//! temporary directory, and `<hash>` names the library's content, so binaries of
//! different versions never share a file. Every process that benchmem measures maps that
//! file: nobody else must be able to put a library there. So both directories must be
//! ours and closed to everyone else (0700: we make them so, or refuse those of another
//! user), and the file must hold exactly the carried bytes before each use: one that
//! differs, whatever made it so, is replaced, never loaded. The file is written aside and
//! renamed into place, so a concurrent run never maps half of it. A base where it cannot
//! be mapped as code (a `noexec` mount) is passed over for the next.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::run::PRELOAD_NAME;

static EMBEDDED: OnceLock<&'static [u8]> = OnceLock::new();

/// Hands the launcher the preload library this program carries, to use when no preload
/// is found on disk (see `find_preload`). Only the first call counts.
pub fn embed_preload(library: &'static [u8]) {
    let _ = EMBEDDED.set(library);
}

/// The library given to [`embed_preload`], if any.
pub(crate) fn embedded() -> Option<&'static [u8]> {
    EMBEDDED.get().copied()
}

/// The path of `library` written out for the loader: the cached copy when it is intact,
/// else a fresh one. Tries each cache base in turn; the error is the first base's.
pub(crate) fn write_out(library: &[u8]) -> std::io::Result<PathBuf> {
    let key = format!("{:016x}", crate::preload_entry::fnv1a(library));
    let mut first_error = None;
    for base in cache_bases() {
        match write_out_in(&base, &key, library) {
            Ok(path) => return Ok(path),
            Err(e) => {
                first_error.get_or_insert(std::io::Error::new(
                    e.kind(),
                    format!("{}: {e}", base.display()),
                ));
            }
        }
    }
    Err(first_error
        .unwrap_or_else(|| std::io::Error::other("no cache directory (HOME is not set)")))
}

/// Where the per-user `benchmem` directory may go, best first.
fn cache_bases() -> Vec<PathBuf> {
    let absolute = |v: Option<std::ffi::OsString>| {
        v.map(PathBuf::from)
            .filter(|p| p.is_absolute() && p.as_os_str() != "/")
    };
    let mut bases = Vec::new();
    // The XDG base directory rules: a relative value is to be ignored.
    if let Some(xdg) = absolute(std::env::var_os("XDG_CACHE_HOME")) {
        bases.push(xdg.join("benchmem"));
    }
    if let Some(home) = absolute(std::env::var_os("HOME")) {
        bases.push(home.join(".cache").join("benchmem"));
    }
    // A read-only or missing home (a container, a service account) still gets a copy.
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
    bases.push(std::env::temp_dir().join(format!("benchmem-{euid}")));
    bases
}

fn write_out_in(base: &Path, key: &str, library: &[u8]) -> std::io::Result<PathBuf> {
    if let Some(parent) = base.parent() {
        std::fs::create_dir_all(parent)?;
    }
    private_dir(base)?;
    let dir = base.join(key);
    private_dir(&dir)?;
    let path = dir.join(PRELOAD_NAME);
    if !holds(&path, library) {
        let mut tmp = tempfile::Builder::new()
            .prefix(".libbenchmem_preload-")
            .tempfile_in(&dir)?;
        tmp.as_file_mut().write_all(library)?;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o755))?;
        tmp.as_file().sync_all()?;
        tmp.persist(&path).map_err(|e| e.error)?;
        if !holds(&path, library) {
            return Err(std::io::Error::other(format!(
                "{} does not hold what was just written to it",
                path.display()
            )));
        }
    }
    mappable_as_code(&path)?;
    Ok(path)
}

/// The loader can map `path` executable: not so on a file system mounted `noexec`, where
/// every program would start without the preload (and say so on its stderr).
fn mappable_as_code(path: &Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(path)?;
    // SAFETY: a fresh private read-only mapping of one page of an open file, unmapped at
    // once; nothing reads or runs it.
    unsafe {
        let page = libc::mmap(
            std::ptr::null_mut(),
            1,
            libc::PROT_READ | libc::PROT_EXEC,
            libc::MAP_PRIVATE,
            file.as_raw_fd(),
            0,
        );
        if page == libc::MAP_FAILED {
            let e = std::io::Error::last_os_error();
            return Err(std::io::Error::new(
                e.kind(),
                format!(
                    "cannot map {} as code ({e}): mounted noexec?",
                    path.display()
                ),
            ));
        }
        libc::munmap(page, 1);
    }
    Ok(())
}

/// Makes `dir` a directory of ours that nobody else can enter or write, or says why it
/// cannot be one: it belongs to someone else, or is not a directory (a symlink is not).
fn private_dir(dir: &Path) -> std::io::Result<()> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let meta = std::fs::symlink_metadata(dir)?;
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
    if !meta.is_dir() || meta.uid() != euid {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "{} is not a directory of this user; remove it or set XDG_CACHE_HOME",
                dir.display()
            ),
        ));
    }
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// `path` is a regular file of ours, not writable by anyone else, holding exactly `library`.
fn holds(path: &Path, library: &[u8]) -> bool {
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return false;
    };
    meta.is_file()
        && meta.uid() == euid
        && meta.mode() & 0o022 == 0
        && meta.len() == library.len() as u64
        && std::fs::read(path).is_ok_and(|bytes| bytes == library)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_once_then_reused_and_a_changed_copy_is_replaced() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path().join("benchmem");
        let library = b"\x7fELF not really a library".as_slice();
        let path = write_out_in(&base, "k", library).unwrap();
        assert_eq!(path, base.join("k").join(PRELOAD_NAME));
        assert_eq!(std::fs::read(&path).unwrap(), library);
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o755);
        for dir in [&base, &base.join("k")] {
            assert_eq!(std::fs::metadata(dir).unwrap().mode() & 0o777, 0o700);
        }

        // Intact: left as it is (same inode).
        let inode = meta.ino();
        write_out_in(&base, "k", library).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().ino(), inode);

        // Changed: replaced by a new file.
        std::fs::write(&path, b"\x7fELF planted").unwrap();
        write_out_in(&base, "k", library).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), library);
        assert_ne!(std::fs::metadata(&path).unwrap().ino(), inode);

        // A symlink in its place: replaced by a file, its target untouched.
        let elsewhere = d.path().join("elsewhere.so");
        std::fs::write(&elsewhere, b"other").unwrap();
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
        write_out_in(&base, "k", library).unwrap();
        assert!(std::fs::symlink_metadata(&path).unwrap().is_file());
        assert_eq!(std::fs::read(&elsewhere).unwrap(), b"other");
    }

    #[test]
    fn an_open_directory_is_closed_and_a_symlinked_one_refused() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path().join("benchmem");
        std::fs::create_dir(&base).unwrap();
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o777)).unwrap();
        write_out_in(&base, "k", b"lib").unwrap();
        assert_eq!(std::fs::metadata(&base).unwrap().mode() & 0o777, 0o700);

        let real = d.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let err = write_out_in(&link, "k", b"lib").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
        assert!(std::fs::read_dir(&real).unwrap().next().is_none());
    }
}
