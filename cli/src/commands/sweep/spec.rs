//! What each version means: the pip spec to install, the label its files are named by,
//! and where the suite is found inside each venv's working directory. The rules are
//! pytest-benchmem's, so a sweep names its files as there.

use std::path::{Path, PathBuf};

/// A plain version (`1.2.0`, `2.0rc1`): digits and dots, then an optional pre-release
/// tag of lowercase letters and digits. Anything else is a pip spec used verbatim.
fn is_plain_version(v: &str) -> bool {
    let tag_start = v.find(|c: char| c.is_ascii_lowercase()).unwrap_or(v.len());
    let (number, tag) = v.split_at(tag_start);
    let number_ok = !number.is_empty()
        && number
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
    let letters = tag.bytes().take_while(u8::is_ascii_lowercase).count();
    let tag_ok = tag.bytes().skip(letters).all(|b| b.is_ascii_digit());
    number_ok && tag_ok
}

/// The pip spec for `version` of `package`: `package==version` for a plain version, else
/// `version` itself (`pkg @ git+https://...`, a wheel's path, `pkg>=2`).
pub(crate) fn install_spec(package: &str, version: &str) -> String {
    if is_plain_version(version) {
        format!("{package}=={version}")
    } else {
        version.to_string()
    }
}

/// The file-safe label of `version`: the part after its last `@` (a git ref), with every
/// run of characters outside `[0-9A-Za-z._-]` turned into `-` and `-._` trimmed from both
/// ends; `spec` when nothing is left.
pub(crate) fn label(version: &str) -> String {
    let tail = version.rsplit('@').next().unwrap_or(version);
    let mut out = String::with_capacity(tail.len());
    let mut in_run = false;
    for c in tail.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('-');
            in_run = true;
        }
    }
    let trimmed = out.trim_matches(|c| matches!(c, '-' | '.' | '_'));
    if trimmed.is_empty() {
        "spec".to_string()
    } else {
        trimmed.to_string()
    }
}

/// The normalized project name a pip spec pins (best effort): everything before the first
/// version, extras, URL or marker delimiter, lowercased, `_` as `-`. A bare URL yields the
/// URL, which names no project.
pub(crate) fn pin_name(spec: &str) -> String {
    let end = spec
        .find(|c: char| c.is_whitespace() || "=<>!~[@;".contains(c))
        .unwrap_or(spec.len());
    spec[..end].to_lowercase().replace('_', "-")
}

/// Where pytest finds the suite: the directory copied into each venv's working directory
/// (`None`: nothing is copied) and the path given to pytest, relative to that directory.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SuiteLayout {
    /// The directory copied into the working directory, under its own name.
    pub copy_root: Option<PathBuf>,
    /// pytest's path argument.
    pub pytest_path: PathBuf,
}

/// Lay out `suite` (as given) and `copy_dir`, both relative to `cwd`. A suite that
/// exists is reached through the copy: of `copy_dir` when it holds the suite, else of the
/// suite's directory (the suite itself when it is one). A suite that does not exist here,
/// or lies outside `copy_dir`, is given to pytest as it was written, for suites addressed
/// relative to the working directory (`--pyargs`, a path inside the copy).
pub(crate) fn layout(suite: &Path, copy_dir: Option<&Path>, cwd: &Path) -> SuiteLayout {
    let absolute = |p: &Path| normalize(&cwd.join(p));
    let local = absolute(suite);
    let exists = local.exists();
    let root = match copy_dir {
        Some(d) => Some(absolute(d)),
        None if !exists => None,
        None if local.is_dir() => Some(local.clone()),
        None => Some(
            local
                .parent()
                .map_or_else(|| local.clone(), Path::to_path_buf),
        ),
    };
    let inside = root
        .as_ref()
        .filter(|_| exists)
        .and_then(|r| Some((r, local.strip_prefix(r).ok()?)));
    let pytest_path = match inside {
        Some((r, rel)) => {
            let name = r.file_name().map(PathBuf::from).unwrap_or_default();
            if rel.as_os_str().is_empty() {
                name
            } else {
                name.join(rel)
            }
        }
        None => suite.to_path_buf(),
    };
    SuiteLayout {
        copy_root: root,
        pytest_path,
    }
}

/// `p` (absolute) with `.` and `..` components resolved lexically, so a suite written
/// `./benchmarks` or `../x/benchmarks` is found inside the copy by its real name.
fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_versions_get_the_package_name() {
        for v in ["1", "1.2.0", "2.0rc1", "1.0a", "10.20.30b2"] {
            assert_eq!(install_spec("pkg", v), format!("pkg=={v}"), "{v}");
        }
        for v in [
            "1.0.post1",
            "1.0-1",
            "v1.0",
            "1.0RC1",
            ">=1.0",
            "pkg>=2",
            "git+https://github.com/me/pkg@main",
            "./dist/pkg-1.0-py3-none-any.whl",
            "",
            "1..2",
        ] {
            assert_eq!(install_spec("pkg", v), v, "{v}");
        }
    }

    #[test]
    fn labels_are_file_safe() {
        assert_eq!(label("1.2.0"), "1.2.0");
        assert_eq!(label("git+https://github.com/me/pkg@main"), "main");
        assert_eq!(
            label("pkg @ git+https://x/y@feature/new thing"),
            "feature-new-thing"
        );
        assert_eq!(label("pkg>=2,<3"), "pkg-2-3");
        assert_eq!(label("./dist/pkg-1.0.whl"), "dist-pkg-1.0.whl");
        assert_eq!(label("@@@"), "spec");
        assert_eq!(label("..."), "spec");
    }

    #[test]
    fn pin_names() {
        assert_eq!(pin_name("PyTest_Benchmark==4.0"), "pytest-benchmark");
        assert_eq!(pin_name("benchmem[pandas]"), "benchmem");
        assert_eq!(pin_name("benchmem @ file:///src/python"), "benchmem");
        assert_eq!(pin_name("cloudpickle;python_version>'3'"), "cloudpickle");
        assert_eq!(pin_name("git+https://x/y"), "git+https://x/y");
    }

    #[test]
    fn suite_layouts() {
        let tmp = tempfile::tempdir().unwrap();
        let cwd = tmp.path();
        std::fs::create_dir_all(cwd.join("repo/benchmarks/sub")).unwrap();
        std::fs::write(cwd.join("repo/benchmarks/test_a.py"), "").unwrap();
        let l =
            |suite: &str, copy: Option<&str>| layout(Path::new(suite), copy.map(Path::new), cwd);

        // A directory: copied under its name, pytest runs it.
        assert_eq!(
            l("repo/benchmarks", None),
            SuiteLayout {
                copy_root: Some(cwd.join("repo/benchmarks")),
                pytest_path: "benchmarks".into()
            }
        );
        // A file: its directory is copied.
        assert_eq!(
            l("./repo/benchmarks/test_a.py", None),
            SuiteLayout {
                copy_root: Some(cwd.join("repo/benchmarks")),
                pytest_path: "benchmarks/test_a.py".into()
            }
        );
        // --copy-dir holding the suite.
        assert_eq!(
            l("repo/benchmarks/sub", Some("repo")),
            SuiteLayout {
                copy_root: Some(cwd.join("repo")),
                pytest_path: "repo/benchmarks/sub".into()
            }
        );
        // --copy-dir not holding it: the suite as written.
        assert_eq!(
            l("repo/benchmarks", Some("repo/benchmarks/sub")),
            SuiteLayout {
                copy_root: Some(cwd.join("repo/benchmarks/sub")),
                pytest_path: "repo/benchmarks".into()
            }
        );
        // Not here at all: as written, nothing copied.
        assert_eq!(
            l("tests/bench", None),
            SuiteLayout {
                copy_root: None,
                pytest_path: "tests/bench".into()
            }
        );
    }
}
