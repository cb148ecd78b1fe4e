//! `benchmem sweep` end to end, offline: a tiny package built here in two versions (1.0
//! allocates 1,000 bytes, 2.0 allocates 2,000), swept in real venvs made by uv and by
//! `python -m venv` + pip, with pytest, pytest-benchmark and cloudpickle installed from the
//! wheelhouse scripts/test downloads (`--no-index --find-links`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Run, benchmem_in, python};
use serde_json::Value;

/// Writes the wheel of `tinypkg` VERSION into DIR, its `allocate()` making a bytearray of
/// SIZE bytes and dropping it (so CPython asks malloc for SIZE + 1 bytes, once).
const MAKE_WHEEL: &str = r#"
import base64, hashlib, os, sys, zipfile
out, version, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
info = f"tinypkg-{version}.dist-info"
files = {
    "tinypkg/__init__.py": f"def allocate():\n    data = bytearray({size})\n    return len(data)\n",
    f"{info}/METADATA": f"Metadata-Version: 2.1\nName: tinypkg\nVersion: {version}\n",
    f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: benchmem-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = []
for path, text in files.items():
    data = text.encode()
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    record.append(f"{path},sha256={digest},{len(data)}")
record.append(f"{info}/RECORD,,")
files[f"{info}/RECORD"] = "\n".join(record) + "\n"
with zipfile.ZipFile(os.path.join(out, f"tinypkg-{version}-py3-none-any.whl"), "w") as z:
    for path, text in files.items():
        z.writestr(path, text)
"#;

/// The benchmark suite: one test timing (and with --memory, measuring) `allocate()`.
const SUITE: &str = "\
import tinypkg


def test_allocate(benchmark):
    benchmark(tinypkg.allocate)
";

/// Where the wheels of pytest, pytest-benchmark and cloudpickle (and their dependencies)
/// are: `BENCHMEM_TEST_WHEELHOUSE`, else `wheelhouse/` in the test Python's venv, where
/// scripts/test downloads them.
fn wheelhouse() -> PathBuf {
    let dir = std::env::var_os("BENCHMEM_TEST_WHEELHOUSE").map_or_else(
        || {
            python()
                .parent()
                .and_then(Path::parent)
                .expect("the test Python is in a venv's bin/")
                .join("wheelhouse")
        },
        PathBuf::from,
    );
    let has = |prefix: &str| {
        std::fs::read_dir(&dir).is_ok_and(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with(prefix))
        })
    };
    assert!(
        has("pytest_benchmark-") && has("cloudpickle-"),
        "no wheels of pytest-benchmark and cloudpickle in {}: run scripts/test (it downloads them), \
         or point BENCHMEM_TEST_WHEELHOUSE at such a directory",
        dir.display()
    );
    dir
}

/// The directory of the `uv` next to the test Python (scripts/test installs it in .venv),
/// else of the one on PATH.
fn uv_dir() -> PathBuf {
    let beside = python().with_file_name("uv");
    if beside.is_file() {
        return beside.parent().unwrap().to_path_buf();
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .find(|d| d.join("uv").is_file())
        .unwrap_or_else(|| {
            panic!(
                "no uv beside {} nor on PATH: run scripts/test (it installs uv in .venv)",
                python().display()
            )
        })
}

/// A project directory: the two wheels in `wheels/`, the suite in `bench/`, and a dev copy
/// of tinypkg at the top that allocates something else, which a sweep must not import.
struct Project {
    /// Holds the project (`p/`) and uv's cache, apart so that no copy of the project
    /// takes the cache along.
    tmp: tempfile::TempDir,
}

impl Project {
    fn path(&self) -> PathBuf {
        self.tmp.path().join("p")
    }
}

fn project() -> Project {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p");
    std::fs::create_dir(&dir).unwrap();
    let wheels = dir.join("wheels");
    std::fs::create_dir(&wheels).unwrap();
    for (version, size) in [("1.0", "1000"), ("2.0", "2000")] {
        let out = Command::new(python())
            .args(["-c", MAKE_WHEEL])
            .arg(&wheels)
            .args([version, size])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::create_dir(dir.join("bench")).unwrap();
    std::fs::write(dir.join("bench/test_tiny.py"), SUITE).unwrap();
    std::fs::create_dir(dir.join("tinypkg")).unwrap();
    std::fs::write(
        dir.join("tinypkg/__init__.py"),
        "def allocate():\n    return len(bytearray(50000))\n",
    )
    .unwrap();
    Project { tmp }
}

/// `benchmem sweep tinypkg VERSIONS --suite SUITE --out out` offline in `project`, plus
/// `extra`; PATH with uv's directory first when `uv` is true, and without it otherwise.
fn sweep(project: &Project, versions: &[&str], suite: &str, extra: &[&str], uv: bool) -> Run {
    let dir = project.path();
    let find_links = format!("--pip-arg=--find-links={}", wheelhouse().display());
    let py = python();
    let mut args = vec!["sweep", "tinypkg"];
    args.extend(versions);
    args.extend([
        "--suite",
        suite,
        "--out",
        "out",
        "--python",
        py.to_str().unwrap(),
        "--pip-arg=--no-index",
        "--pip-arg=--find-links=wheels",
        &find_links,
    ]);
    args.extend(extra);
    let mut path: Vec<PathBuf> =
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .filter(|d| !d.join("uv").exists())
            .collect();
    if uv {
        path.insert(0, uv_dir());
    }
    let path = std::env::join_paths(path).unwrap();
    let cache = project.tmp.path().join("uv-cache");
    benchmem_in(
        &dir,
        &args,
        &[
            ("PATH", path.to_str().unwrap()),
            ("UV_CACHE_DIR", cache.to_str().unwrap()),
            // pip's cache would make the run depend on what earlier runs left there.
            ("PIP_NO_CACHE_DIR", "1"),
        ],
    )
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

/// The one benchmark of a saved sweep run.
fn only_benchmark(doc: &Value) -> &Value {
    for key in ["machine_info", "commit_info", "datetime", "version"] {
        assert!(
            doc.get(key).is_some(),
            "not pytest-benchmark JSON: no {key}"
        );
    }
    let benchmarks = doc["benchmarks"].as_array().expect("benchmarks");
    assert_eq!(benchmarks.len(), 1, "{benchmarks:?}");
    let b = &benchmarks[0];
    assert_eq!(b["fullname"], "bench/test_tiny.py::test_allocate");
    assert!(b["stats"]["min"].as_f64().unwrap() > 0.0, "{b}");
    b
}

fn leftovers(out: &Path) -> Vec<String> {
    std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

/// uv, with --memory: each version's exact peak, from the venv's tinypkg and not from the
/// dev copy beside the suite; a version that cannot be installed is one line and does not
/// stop the others, nor replace the run an earlier sweep saved for it.
#[test]
fn sweep_measures_each_version_in_its_own_venv() {
    let dir = project();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("9.9.json"), "earlier").unwrap();
    let run = sweep(
        &dir,
        &["1.0", "9.9", "2.0"],
        "bench",
        &["--memory", "--import-check", "tinypkg", "--installer", "uv"],
        true,
    );
    assert_eq!(run.status, 2, "{}{}", run.stdout, run.stderr);
    let errors: Vec<&str> = run
        .err_lines()
        .into_iter()
        .filter(|l| l.starts_with("benchmem:"))
        .collect();
    assert_eq!(
        errors,
        [
            "benchmem: sweep: 9.9 failed at install: uv pip install exited with status 1; log: out/9.9.log",
            "benchmem: sweep: 1 of 3 versions failed: 9.9 (install)",
        ]
    );
    assert_eq!(
        run.lines(),
        [
            "sweep: wrote 2 run(s) under out/",
            "  compare: benchmem compare out/1.0.json out/2.0.json",
            "  plot:    benchmem plot out/1.0.json out/2.0.json --columns peak",
        ]
    );
    assert!(
        run.stderr.contains("sweep[2.0]: making the venv (uv)\n"),
        "{}",
        run.stderr
    );
    let log = std::fs::read_to_string(out.join("9.9.log")).unwrap();
    assert!(log.contains("tinypkg==9.9"), "{log}");
    assert_eq!(
        std::fs::read_to_string(out.join("9.9.json")).unwrap(),
        "earlier"
    );
    for (version, peak) in [("1.0", 1001), ("2.0", 2001)] {
        let doc = read_json(&out.join(format!("{version}.json")));
        let memory = &only_benchmark(&doc)["extra_info"]["benchmem"];
        let peaks = memory["peak_bytes"].as_array().expect("peak_bytes");
        assert!(!peaks.is_empty());
        assert!(peaks.iter().all(|p| p == peak), "{version}: {memory}");
        assert!(out.join(format!("{version}.log")).is_file());
    }
    assert_eq!(leftovers(&out), Vec::<String>::new());

    // The runs read back as any saved runs do.
    let cmp = benchmem_in(
        &dir.path(),
        &[
            "compare",
            "out/1.0.json",
            "out/2.0.json",
            "--format",
            "csv",
            "--columns",
            "peak",
        ],
        &[],
    );
    assert_eq!(cmp.status, 0, "{}", cmp.stderr);
    assert_eq!(
        cmp.lines(),
        [
            "id,run,peak:min",
            "bench/test_tiny.py::test_allocate,1.0,1001",
            "bench/test_tiny.py::test_allocate,2.0,2001",
        ]
    );
}

/// Without uv: `python -m venv` and pip; without --memory: timed only, benchmem's plugin
/// not installed.
#[test]
fn without_uv_venv_and_pip_make_the_venv() {
    let dir = project();
    let run = sweep(&dir, &["1.0"], "bench", &[], false);
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("sweep[1.0]: making the venv (pip)\n"),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.lines(),
        [
            "sweep: wrote 1 run(s) under out/",
            "  compare: benchmem compare out/1.0.json",
            "  plot:    benchmem plot out/1.0.json",
        ]
    );
    let out = dir.path().join("out");
    let log = std::fs::read_to_string(out.join("1.0.log")).unwrap();
    assert!(log.contains("-m venv "), "{log}");
    assert!(log.contains("-m pip install "), "{log}");
    let doc = read_json(&out.join("1.0.json"));
    let b = only_benchmark(&doc);
    assert!(b["extra_info"].get("benchmem").is_none(), "{b}");
    assert!(!log.contains("benchmem's Python package"), "{log}");
    assert_eq!(leftovers(&out), Vec::<String>::new());
}

#[test]
fn fail_fast_stops_at_the_first_failure() {
    let dir = project();
    let run = sweep(
        &dir,
        &["9.8", "9.9"],
        "bench",
        &["--fail-fast", "--installer", "uv"],
        true,
    );
    assert_eq!(run.status, 2, "{}{}", run.stdout, run.stderr);
    let errors: Vec<&str> = run
        .err_lines()
        .into_iter()
        .filter(|l| l.starts_with("benchmem:"))
        .collect();
    assert_eq!(
        errors,
        [
            "benchmem: sweep: 9.8 failed at install: uv pip install exited with status 1; log: out/9.8.log",
            "benchmem: sweep: 1 of 2 versions failed: 9.8 (install); not run (--fail-fast): 9.9",
        ]
    );
    assert!(!run.stderr.contains("sweep[9.9]"), "{}", run.stderr);
    assert_eq!(run.stdout, "");
}

#[test]
fn a_dev_copy_that_shadows_the_install_fails_the_isolation_check() {
    let dir = project();
    // The suite's directory is the project itself, so its dev copy of tinypkg is copied
    // along and imported first: exactly what --import-check is there to catch.
    std::fs::rename(
        dir.path().join("bench/test_tiny.py"),
        dir.path().join("test_tiny.py"),
    )
    .unwrap();
    let run = sweep(
        &dir,
        &["1.0"],
        "test_tiny.py",
        &["--import-check", "tinypkg", "--installer", "uv"],
        true,
    );
    assert_eq!(run.status, 2, "{}{}", run.stdout, run.stderr);
    let first = run
        .err_lines()
        .into_iter()
        .find(|l| l.starts_with("benchmem:"))
        .unwrap();
    assert!(
        first.starts_with("benchmem: sweep: 1.0 failed at isolation: tinypkg imports from /")
            && first.ends_with("/tinypkg/__init__.py, not from the venv; log: out/1.0.log"),
        "{first}"
    );
}

#[test]
fn usage_errors_are_one_line_before_any_venv() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["sweep", "p", "1.0", "--suite", "s", "--as-of", "2024-13-01"],
            "error: invalid value '2024-13-01' for '--as-of <DATE>': '2024-13-01' is not a date: give YYYY-MM-DD (or YYYY-MM-DDTHH:MM:SSZ)",
        ),
        (
            &["sweep", "p", "1.0", "git+https://x/p@1.0", "--suite", "s"],
            "benchmem: versions '1.0' and 'git+https://x/p@1.0' would both be saved as 1.0.json: sweep each once",
        ),
        (
            &[
                "sweep",
                "p",
                "1.0",
                "--suite",
                "s",
                "--python",
                "/nonexistent/python3",
            ],
            "benchmem: --python /nonexistent/python3: cannot run it: No such file or directory (os error 2)",
        ),
        (
            &["sweep", "p", "1.0", "--suite", "s", "--copy-dir", "missing"],
            "benchmem: --copy-dir missing: not a directory",
        ),
    ];
    for (args, line) in cases {
        let run = benchmem_in(dir.path(), args, &[]);
        assert_eq!(run.status, 2, "{args:?}: {}", run.stderr);
        assert_eq!(
            run.err_lines().first(),
            Some(line),
            "{args:?}: {}",
            run.stderr
        );
    }
    let run = benchmem_in(
        dir.path(),
        &["sweep", "p", "1.0", "--suite", "s", "--installer", "uv"],
        &[("PATH", "/nonexistent")],
    );
    assert_eq!(run.status, 2, "{}", run.stderr);
    // The interpreter is checked first: python3 is not on this PATH either.
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(!dir.path().join(".benchmarks").exists());
}
