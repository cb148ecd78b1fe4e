//! Saving a run atomically: the JSON goes to a temporary file in the destination's
//! directory, is flushed to disk, then renamed over the destination, so a reader (or an
//! interrupted run) never sees a half-written file.
//!
//! The destination is where the path finally leads: a symbolic link is written through
//! (the temporary file sits beside the file it names, and the link stays a link), never
//! replaced. Only regular files are written; whatever else the path names (a device, a
//! directory, a fifo) is refused, and so is a link that the kernel's `protected_symlinks`
//! rule would not let us follow, whether or not the machine enforces it.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::Metadata;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use super::document::Document;

/// Symbolic links followed at most while resolving a path (the kernel's own limit).
const MAX_LINKS: usize = 40;

/// Where a `--json` (or `--export-*`) path leads, checked to be writable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// The file to replace or create: every symbolic link on the way resolved.
    pub file: PathBuf,
    /// Its permission bits when it exists (kept when it is replaced).
    pub mode: Option<u32>,
}

impl Destination {
    fn dir(&self) -> &Path {
        self.file.parent().unwrap_or(Path::new("/"))
    }
}

/// Checks that a run can be saved at `path`, given with `flag` (which the advice names),
/// without writing there: it leads to a regular file the user may write, or to a missing
/// name in a directory where files can be created. The error is one line,
/// `<path>: <what>: <what to do>`.
pub fn check_destination_for(path: &Path, flag: &str) -> Result<Destination, String> {
    let refuse = |what: String, todo: &str| {
        format!(
            "{}: {what}: {}",
            path.display(),
            todo.replace("--json", flag)
        )
    };
    let another = "choose another --json path";
    // The kernel's own view first: magic links such as /dev/stdout -> /proc/self/fd/1
    // lead to pipes and terminals that have no path of their own to resolve.
    if let Ok(m) = std::fs::metadata(path)
        && !m.is_file()
    {
        return Err(refuse(format!("{}, not a regular file", kind(&m)), another));
    }
    let dest = resolve(path).map_err(|(what, todo)| refuse(what, todo))?;
    if dest.mode.is_some() {
        let m = std::fs::symlink_metadata(&dest.file)
            .map_err(|e| refuse(format!("cannot inspect it ({e})"), another))?;
        if !m.is_file() {
            return Err(refuse(format!("{}, not a regular file", kind(&m)), another));
        }
        if !may_replace(&dest, &m) {
            return Err(refuse(
                format!(
                    "{} belongs to another user in a shared sticky directory",
                    dest.file.display()
                ),
                "choose another --json path",
            ));
        }
        if !may_write(&dest.file) {
            return Err(refuse(
                format!("{} is read-only", dest.file.display()),
                "make it writable or choose another --json path",
            ));
        }
    }
    // Creating a file is the one sure test (read-only mounts, ACLs, root's exceptions).
    probe(dest.dir()).map_err(|e| {
        refuse(
            format!("cannot create a file in {} ({e})", dest.dir().display()),
            "choose a writable directory for --json",
        )
    })?;
    Ok(dest)
}

/// Creates and removes an empty file in `dir`.
fn probe(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    for attempt in 0..8u32 {
        let name = format!(
            ".benchmem-{}-{}.probe",
            std::process::id(),
            nanos.wrapping_add(attempt)
        );
        let path = dir.join(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(_) => return std::fs::remove_file(&path),
            // Someone else's file of that name: not an answer, try another name.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::ErrorKind::AlreadyExists.into())
}

/// Follows `path` component by component as the kernel would, refusing links in shared
/// sticky directories that belong to neither us nor the directory's owner.
fn resolve(path: &Path) -> Result<Destination, (String, &'static str)> {
    let another = "choose another --json path";
    let mut todo: VecDeque<OsString> = VecDeque::new();
    let mut done = if path.is_absolute() {
        PathBuf::from("/")
    } else {
        std::env::current_dir()
            .map_err(|e| (format!("cannot find the current directory ({e})"), another))?
    };
    push_front(&mut todo, path);
    if todo.is_empty() {
        return Err(("not a file name".into(), another));
    }
    let mut links = 0;
    while let Some(name) = todo.pop_front() {
        if name == ".." {
            done.pop();
            continue;
        }
        let next = done.join(&name);
        let meta = match std::fs::symlink_metadata(&next) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if todo.is_empty() {
                    return Ok(Destination {
                        file: next,
                        mode: None,
                    });
                }
                // Name the whole directory the file would go in: that is what to create.
                let mut missing = next;
                missing.extend(todo.iter().take(todo.len() - 1));
                return Err((
                    format!("no such directory {}", missing.display()),
                    "create it or choose another --json path",
                ));
            }
            Err(e) => return Err((format!("cannot inspect {} ({e})", next.display()), another)),
        };
        if meta.file_type().is_symlink() {
            links += 1;
            if links > MAX_LINKS {
                return Err(("too many levels of symbolic links".into(), another));
            }
            follow_allowed(&done, &next, &meta)?;
            let target = std::fs::read_link(&next).map_err(|e| {
                (
                    format!("cannot read link {} ({e})", next.display()),
                    another,
                )
            })?;
            if target.is_absolute() {
                done = PathBuf::from("/");
            }
            push_front(&mut todo, &target);
            continue;
        }
        if todo.is_empty() {
            return Ok(Destination {
                file: next,
                mode: Some(meta.mode() & 0o777),
            });
        }
        if !meta.is_dir() {
            return Err((format!("{} is not a directory", next.display()), another));
        }
        done = next;
    }
    // The path ended in `.` or `..`: a directory.
    Err(("a directory, not a regular file".into(), another))
}

/// Queues `path`'s names before what is left to resolve (`.` dropped, `..` kept).
fn push_front(todo: &mut VecDeque<OsString>, path: &Path) {
    let names: Vec<OsString> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_owned()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    for n in names.into_iter().rev() {
        todo.push_front(n);
    }
}

/// The kernel's `protected_symlinks` rule: a link in a sticky world-writable directory
/// (/tmp) is followed only if it is the follower's or the directory owner's. Anyone can
/// plant a link there, so following another user's link would write where they chose.
fn follow_allowed(dir: &Path, link: &Path, meta: &Metadata) -> Result<(), (String, &'static str)> {
    let Ok(d) = std::fs::metadata(dir) else {
        return Ok(()); // just resolved, so it exists; if it went away the write fails anyway
    };
    let shared = d.mode() & 0o1002 == 0o1002;
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    if shared && meta.uid() != me && meta.uid() != d.uid() {
        return Err((
            format!(
                "symbolic link {} in the shared directory {} belongs to another user (uid {})",
                link.display(),
                dir.display(),
                meta.uid()
            ),
            "benchmem does not follow it; remove it or give the path it points to",
        ));
    }
    Ok(())
}

/// What a non-regular file is, for messages.
fn kind(m: &Metadata) -> &'static str {
    let t = m.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_fifo() {
        "a fifo"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Whether the rename that saves the run may replace `file` (meta): in a sticky directory
/// only the file's owner, the directory's owner, or root (CAP_FOWNER) may.
fn may_replace(dest: &Destination, file: &Metadata) -> bool {
    let Ok(d) = std::fs::metadata(dest.dir()) else {
        return true; // the probe that follows reports the directory
    };
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    d.mode() & 0o1000 == 0 || me == 0 || file.uid() == me || d.uid() == me
}

/// Whether we may open `file` for writing (its mode, ACLs, a read-only mount).
fn may_write(file: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(file.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: access(2) on a NUL-terminated path; it only reads the path.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

/// Write `doc` to where `path` leads (see [`check_destination_for`]) as indented JSON
/// ([`Layout`]), atomically, keeping an existing file's permission bits. The error is one
/// line naming the path.
pub fn write_document(doc: &Document, path: &Path) -> Result<(), String> {
    write_with(path, "--json", |w| {
        let mut ser = serde_json::Serializer::with_formatter(&mut *w, Layout::default());
        serde::Serialize::serialize(doc, &mut ser).map_err(std::io::Error::other)?;
        w.write_all(b"\n")
    })
}

/// `doc` as [`write_document`] lays it out.
#[cfg(test)]
pub fn document_text(doc: &Document) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Layout::default());
    serde::Serialize::serialize(doc, &mut ser)
        .expect("a document of strings and numbers serializes");
    out.push(b'\n');
    out
}

/// serde_json's pretty layout (two spaces a level), except that an array of plain values
/// stays on one line: a series of 200,000 samples is one line to scroll past, not 200,000.
#[derive(Default)]
pub struct Layout {
    /// Per open array or object: whether a value in it was laid out on lines of its own.
    open: Vec<bool>,
    /// An array value is about to be written: whether it is the array's first.
    pending: Option<bool>,
}

impl Layout {
    fn indent<W: ?Sized + Write>(&self, w: &mut W) -> std::io::Result<()> {
        for _ in 0..self.open.len() {
            w.write_all(b"  ")?;
        }
        Ok(())
    }

    /// Before any value: an array's separator, on the line (plain values) or on lines of
    /// their own (arrays and objects).
    fn before<W: ?Sized + Write>(&mut self, w: &mut W, nested: bool) -> std::io::Result<()> {
        let Some(first) = self.pending.take() else {
            return Ok(());
        };
        if nested {
            if let Some(lines) = self.open.last_mut() {
                *lines = true;
            }
            w.write_all(if first { b"\n" } else { b",\n" })?;
            self.indent(w)
        } else if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn close<W: ?Sized + Write>(&mut self, w: &mut W, end: &[u8]) -> std::io::Result<()> {
        if self.open.pop() == Some(true) {
            w.write_all(b"\n")?;
            self.indent(w)?;
        }
        w.write_all(end)
    }
}

/// The plain values: the separator, then as serde_json writes them compactly.
macro_rules! plain {
    ($($f:ident($t:ty)),* $(,)?) => {$(
        fn $f<W: ?Sized + Write>(&mut self, w: &mut W, v: $t) -> std::io::Result<()> {
            self.before(w, false)?;
            serde_json::ser::CompactFormatter.$f(w, v)
        }
    )*};
}

impl serde_json::ser::Formatter for Layout {
    plain!(
        write_bool(bool),
        write_i8(i8),
        write_i16(i16),
        write_i32(i32),
        write_i64(i64),
        write_i128(i128),
        write_u8(u8),
        write_u16(u16),
        write_u32(u32),
        write_u64(u64),
        write_u128(u128),
        write_f32(f32),
        write_f64(f64),
        write_number_str(&str),
    );

    fn write_null<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.before(w, false)?;
        w.write_all(b"null")
    }

    fn begin_string<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.before(w, false)?;
        w.write_all(b"\"")
    }

    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.before(w, true)?;
        self.open.push(false);
        w.write_all(b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        _: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.pending = Some(first);
        Ok(())
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.before(w, true)?;
        self.open.push(false);
        w.write_all(b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if let Some(lines) = self.open.last_mut() {
            *lines = true;
        }
        w.write_all(if first { b"\n" } else { b",\n" })?;
        self.indent(w)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }
}

/// Write `bytes` to where `path`, given with `flag`, leads, atomically as
/// [`write_document`] does.
pub fn write_file(bytes: &[u8], path: &Path, flag: &str) -> Result<(), String> {
    write_with(path, flag, |w| w.write_all(bytes))
}

/// Write what `fill` writes to where `path`, given with `flag`, leads, atomically as
/// [`write_document`] does (through a buffer, straight into the file).
fn write_with(
    path: &Path,
    flag: &str,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), String> {
    // Again: the path may have changed while the command ran.
    let dest = check_destination_for(path, flag)?;
    let fail =
        |what: &str, e: &dyn std::fmt::Display| format!("{}: cannot {what}: {e}", path.display());
    let mut tmp = tempfile::Builder::new()
        .prefix(".benchmem-")
        .suffix(".tmp")
        // Like any file the user creates (0666 less the umask), not tempfile's private 0600.
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dest.dir())
        .map_err(|e| fail("create a file in its directory", &e))?;
    if let Some(mode) = dest.mode {
        // fchmod, unlike open, ignores the umask: the replaced file's bits exactly.
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| fail("keep the file's mode", &e))?;
    }
    {
        let mut w = std::io::BufWriter::with_capacity(1 << 16, tmp.as_file_mut());
        fill(&mut w)
            .and_then(|()| w.flush())
            .map_err(|e| fail("write", &e))?;
    }
    tmp.as_file().sync_all().map_err(|e| fail("write", &e))?;
    tmp.persist(&dest.file)
        .map_err(|e| fail("save", &e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Document {
        Document {
            machine_info: Default::default(),
            commit_info: Default::default(),
            benchmarks: vec![],
            datetime: "1970-01-01T00:00:00.000000+00:00".into(),
            version: "0".into(),
            benchmem: None,
        }
    }

    #[test]
    fn writes_whole_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        std::fs::write(&path, "old").unwrap();
        write_document(&doc(), &path).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["version"], "0");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("run.json")]);
    }

    #[test]
    fn missing_directory_is_one_line() {
        let e = write_document(&doc(), Path::new("/nonexistent-dir/run.json")).unwrap_err();
        assert_eq!(
            e,
            "/nonexistent-dir/run.json: no such directory /nonexistent-dir: \
             create it or choose another --json path"
        );
    }
}
