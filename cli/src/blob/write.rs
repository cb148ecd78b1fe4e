//! Saving a run atomically: the JSON goes to a temporary file in the destination's
//! directory, is flushed to disk, then renamed over the destination, so a reader (or an
//! interrupted run) never sees a half-written file.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::document::Document;

/// Write `doc` to `path` as pretty JSON, atomically. The error is one line naming the path.
pub fn write_document(doc: &Document, path: &Path) -> Result<(), String> {
    let fail =
        |what: &str, e: &dyn std::fmt::Display| format!("{}: cannot {what}: {e}", path.display());
    let dir = parent_dir(path);
    let mut tmp = tempfile::Builder::new()
        .prefix(".benchmem-")
        .suffix(".json.tmp")
        // Like any file the user creates (0666 less the umask), not tempfile's private 0600.
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)
        .map_err(|e| fail("create a file in its directory", &e))?;
    let mut text = serde_json::to_vec_pretty(doc).map_err(|e| fail("encode the run", &e))?;
    text.push(b'\n');
    tmp.write_all(&text)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| fail("write", &e))?;
    tmp.persist(path).map_err(|e| fail("save", &e.error))?;
    Ok(())
}

/// The directory `path` is saved in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
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
    fn unwritable_directory_is_one_line() {
        let e = write_document(&doc(), Path::new("/nonexistent-dir/run.json")).unwrap_err();
        assert!(
            e.starts_with("/nonexistent-dir/run.json: cannot create a file in its directory: "),
            "{e}"
        );
        assert!(!e.contains('\n'));
    }
}
