//! benchmem's own Python package (`pytest_benchmem`: the plugin behind
//! `--benchmark-memory`), installed into each venv from the running benchmem.
//!
//! pytest-benchmem installs itself into its sweep venvs from the package index. Ours
//! comes from this benchmem instead, so a venv measures with exactly the binary and
//! preload that run the sweep, offline, without building anything: the package's
//! Python files are copied into the venv's site-packages with a `dist-info` beside them
//! (so pytest loads the plugin through its entry point, as after `pip install`), and the
//! pytest runs are pointed at this binary and its preload (`BENCHMEM_BIN`,
//! `BENCHMEM_PRELOAD`, which the plugin honours before anything bundled).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The distribution's name and version (those of `python/pyproject.toml`).
const DIST_NAME: &str = "benchmem";
const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The import package.
const PACKAGE: &str = "pytest_benchmem";
/// The pytest plugin's entry point, as `[project.entry-points.pytest11]` declares it.
const ENTRY_POINTS: &str = "[pytest11]\nbenchmem = pytest_benchmem.plugin\n";

/// Where the package is, for a benchmem binary at `exe`: the package installed with the
/// binary (the wheel puts the binary in `<prefix>/bin/` and the package in
/// `<prefix>/lib/python3.X/site-packages/`, for a venv, `--user` or the system alike), or
/// the one it is bundled in (`pytest_benchmem/_bin/benchmem`), else the source tree this
/// binary was built from.
pub(crate) fn locate(exe: &Path) -> Option<PathBuf> {
    let is_package =
        |dir: &Path| dir.join("plugin.py").is_file() && dir.join("__init__.py").is_file();
    let bundled = exe
        .parent()
        .filter(|bin| bin.file_name().is_some_and(|n| n == "_bin"))
        .and_then(Path::parent)
        .filter(|dir| is_package(dir))
        .map(Path::to_path_buf)
        .or_else(|| beside_in_prefix(exe).filter(|dir| is_package(dir)));
    let source = || {
        Some(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../python")
                .join(PACKAGE),
        )
        .filter(|dir| is_package(dir))
    };
    let found = bundled.or_else(source)?;
    Some(found.canonicalize().unwrap_or(found))
}

/// `<prefix>/lib/python*/{site,dist}-packages/pytest_benchmem` for `exe` at
/// `<prefix>/bin/benchmem`: the first of those that holds the package.
fn beside_in_prefix(exe: &Path) -> Option<PathBuf> {
    let bin = exe.parent()?;
    if bin.file_name()? != "bin" {
        return None;
    }
    let lib = bin.parent()?.join("lib");
    let mut pythons: Vec<PathBuf> = fs::read_dir(&lib)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("python"))
        .map(|e| e.path())
        .collect();
    pythons.sort();
    pythons.iter().find_map(|python| {
        ["site-packages", "dist-packages"]
            .iter()
            .map(|site| python.join(site).join(PACKAGE))
            .find(|dir| dir.join("plugin.py").is_file())
    })
}

/// Install the package at `package` into `site_packages`: its files (not the bundled
/// binaries, not bytecode caches) and a `dist-info` with a RECORD, so pip can uninstall it.
pub(crate) fn install(package: &Path, site_packages: &Path) -> io::Result<()> {
    let mut record = Vec::new();
    copy_package(
        package,
        &site_packages.join(PACKAGE),
        Path::new(PACKAGE),
        &mut record,
    )?;
    let info = format!("{DIST_NAME}-{VERSION}.dist-info");
    let info_dir = site_packages.join(&info);
    fs::create_dir_all(&info_dir)?;
    let metadata = format!("Metadata-Version: 2.1\nName: {DIST_NAME}\nVersion: {VERSION}\n");
    for (name, text) in [
        ("METADATA", metadata.as_str()),
        ("entry_points.txt", ENTRY_POINTS),
        ("INSTALLER", "benchmem sweep\n"),
    ] {
        fs::write(info_dir.join(name), text)?;
        record.push(format!("{info}/{name}"));
    }
    record.push(format!("{info}/RECORD"));
    let mut text = String::new();
    for path in record {
        text.push_str(&path);
        text.push_str(",,\n");
    }
    fs::write(info_dir.join("RECORD"), text)
}

/// Copy the package directory `from` to `to`, noting each file as `rel/...` in `record`.
fn copy_package(from: &Path, to: &Path, rel: &Path, record: &mut Vec<String>) -> io::Result<()> {
    fs::create_dir_all(to)?;
    let mut entries = fs::read_dir(from)?.collect::<io::Result<Vec<_>>>()?;
    entries.sort_by_key(fs::DirEntry::file_name);
    for entry in entries {
        let name = entry.file_name();
        if name == "_bin" || name == "__pycache__" {
            continue;
        }
        let path = entry.path();
        let meta = fs::metadata(&path)?;
        if meta.is_dir() {
            copy_package(&path, &to.join(&name), &rel.join(&name), record)?;
        } else if meta.is_file() {
            fs::copy(&path, to.join(&name))?;
            record.push(rel.join(&name).to_string_lossy().into_owned());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dist-info written here stands for python/pyproject.toml's: same name, version
    /// and pytest entry point.
    #[test]
    fn dist_info_matches_pyproject() {
        let pyproject = include_str!("../../../../python/pyproject.toml");
        assert!(pyproject.contains(&format!("name = \"{DIST_NAME}\"\n")));
        // The distribution's version is this crate's: the build reads it from Cargo.
        assert!(pyproject.contains("dynamic = [\"version\"]\n"));
        assert!(pyproject.contains("manifest-path = \"../cli/Cargo.toml\"\n"));
        assert!(
            pyproject.contains(
                "[project.entry-points.pytest11]\nbenchmem = \"pytest_benchmem.plugin\"\n"
            )
        );
    }

    #[test]
    fn the_source_tree_package_is_found_and_installed() {
        let tmp = tempfile::tempdir().unwrap();
        let package = locate(&tmp.path().join("benchmem")).expect("the source tree's package");
        assert!(package.join("plugin.py").is_file());

        // A bundled layout wins over the source tree.
        let bundled = tmp.path().join("site/pytest_benchmem");
        fs::create_dir_all(bundled.join("_bin")).unwrap();
        fs::create_dir_all(bundled.join("__pycache__")).unwrap();
        for f in [
            "__init__.py",
            "plugin.py",
            "_bin/benchmem",
            "__pycache__/x.pyc",
        ] {
            fs::write(bundled.join(f), "").unwrap();
        }
        assert_eq!(
            locate(&bundled.join("_bin/benchmem")),
            Some(bundled.clone())
        );

        // The wheel's layout: the binary in the prefix's bin/, the package in its
        // site-packages.
        let venv = tmp.path().join("venv");
        let installed = venv.join("lib/python3.11/site-packages/pytest_benchmem");
        fs::create_dir_all(&installed).unwrap();
        fs::create_dir_all(venv.join("bin")).unwrap();
        for f in ["__init__.py", "plugin.py"] {
            fs::write(installed.join(f), "").unwrap();
        }
        fs::write(venv.join("bin/benchmem"), "").unwrap();
        assert_eq!(
            locate(&venv.join("bin/benchmem")),
            Some(installed.canonicalize().unwrap())
        );

        let site = tmp.path().join("venv-site");
        install(&bundled, &site).unwrap();
        assert!(site.join("pytest_benchmem/plugin.py").is_file());
        assert!(!site.join("pytest_benchmem/_bin").exists());
        assert!(!site.join("pytest_benchmem/__pycache__").exists());
        let info = site.join(format!("benchmem-{VERSION}.dist-info"));
        assert_eq!(
            fs::read_to_string(info.join("entry_points.txt")).unwrap(),
            ENTRY_POINTS
        );
        let record = fs::read_to_string(info.join("RECORD")).unwrap();
        assert!(
            record.starts_with("pytest_benchmem/__init__.py,,\npytest_benchmem/plugin.py,,\n"),
            "{record}"
        );
        assert!(record.ends_with("/RECORD,,\n"), "{record}");
    }
}
