//! Staging the suite: a copy of it (or of `--copy-dir`) in each venv's working directory,
//! so that pytest imports the package under test from the venv and not from a dev copy
//! beside the suite.

use std::fs;
use std::io;
use std::path::Path;

/// Names never copied: caches, version control, venvs, earlier results (pytest-benchmem's
/// list).
fn ignored(name: &str) -> bool {
    matches!(
        name,
        "__pycache__" | ".DS_Store" | ".venv" | ".git" | ".pytest_cache" | ".benchmarks"
    ) || name.ends_with(".ipynb")
}

/// Copy the directory `from` to `to` (which must not exist), following symbolic links
/// as `shutil.copytree` does by default: the copy holds what they point to.
pub(crate) fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if ignored(&name.to_string_lossy()) {
            continue;
        }
        let path = entry.path();
        let meta = fs::metadata(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let dest = to.join(&name);
        if meta.is_dir() {
            copy_tree(&path, &dest)?;
        } else {
            fs::copy(&path, &dest)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_the_suite_without_caches() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("bench");
        for d in ["sub", "__pycache__", ".git", ".benchmarks/sweep"] {
            fs::create_dir_all(src.join(d)).unwrap();
        }
        for f in [
            "test_a.py",
            "sub/data.txt",
            "__pycache__/a.pyc",
            "nb.ipynb",
            ".benchmarks/sweep/1.0.json",
        ] {
            fs::write(src.join(f), f).unwrap();
        }
        std::os::unix::fs::symlink(src.join("sub/data.txt"), src.join("link.txt")).unwrap();
        let dest = tmp.path().join("iso/bench");
        fs::create_dir(tmp.path().join("iso")).unwrap();
        copy_tree(&src, &dest).unwrap();
        assert_eq!(
            fs::read_to_string(dest.join("sub/data.txt")).unwrap(),
            "sub/data.txt"
        );
        assert_eq!(
            fs::read_to_string(dest.join("link.txt")).unwrap(),
            "sub/data.txt"
        );
        assert!(!dest.join("link.txt").is_symlink());
        for gone in ["__pycache__", ".git", ".benchmarks", "nb.ipynb"] {
            assert!(!dest.join(gone).exists(), "{gone}");
        }
        // A dangling link names itself.
        std::os::unix::fs::symlink(tmp.path().join("nowhere"), src.join("dangling")).unwrap();
        let e = copy_tree(&src, &tmp.path().join("again")).unwrap_err();
        assert!(e.to_string().contains("dangling"), "{e}");
    }
}
