//! Shared harness for the end-to-end tests: builds the real C/C++ programs under
//! `tests/programs`, runs the real `benchmem` binary on them with a time limit, and reads
//! the pytest-benchmark JSON it writes.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod browser;
mod python;
pub use python::python;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The cargo target profile directory this test binary was built into.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

/// The `benchmem` binary (`BENCHMEM_BIN` overrides). Build the workspace first.
pub fn benchmem() -> PathBuf {
    if let Some(p) = std::env::var_os("BENCHMEM_BIN") {
        return PathBuf::from(p);
    }
    let p = target_dir().join("benchmem");
    assert!(
        p.is_file(),
        "{} missing: run `cargo build --workspace` before the tests (scripts/test does)",
        p.display()
    );
    p
}

/// The preload library next to the binary.
pub fn preload() -> PathBuf {
    benchmem().parent().unwrap().join("libbenchmem_preload.so")
}

/// Where compiled test programs go.
pub fn build_dir() -> PathBuf {
    let d = target_dir().join("test-programs");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Compiles `tests/programs/<name>` (C with gcc, C++ with g++), without optimisation so
/// that no allocation is elided, and returns the executable. Extra flags may be given.
pub fn compile(name: &str, flags: &[&str]) -> PathBuf {
    let src = root().join("tests/programs").join(name);
    let stem = Path::new(name)
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let suffix = if flags.is_empty() {
        String::new()
    } else {
        format!("-{}", flags.join("").replace(['-', '/', '='], ""))
    };
    let out = build_dir().join(format!("{stem}{suffix}"));
    // Once per test process, one build at a time (the lock is held throughout). Other test
    // processes (nextest runs each test in its own) may be executing the program right
    // now: build into a private file and rename it into place, which never disturbs a
    // running copy or exposes a half-written one.
    static BUILT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if built.contains(&out) {
        return out;
    }
    let compiler = if name.ends_with(".cpp") { "g++" } else { "gcc" };
    let tmp = out.with_extension(format!("tmp{}", std::process::id()));
    let status = Command::new(compiler)
        .args(["-O0", "-g", "-fno-builtin", "-pthread", "-I"])
        .arg(root().join("include"))
        .args(flags)
        .arg(&src)
        .arg("-o")
        .arg(&tmp)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {compiler}: {e}"));
    assert!(status.success(), "{compiler} failed on {name}");
    std::fs::rename(&tmp, &out)
        .unwrap_or_else(|e| panic!("cannot move {} into place: {e}", tmp.display()));
    built.push(out.clone());
    out
}

/// What a command did.
#[derive(Debug)]
pub struct Outcome {
    /// Exit status.
    pub status: ExitStatus,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Outcome {
    /// The exit code (panics if killed by a signal).
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| panic!("killed: {self:?}"))
    }
}

/// Runs `cmd`, killing it and failing the test if it takes longer than `limit`.
pub fn run_limited(cmd: &mut Command, limit: Duration) -> Outcome {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = Vec::new();
        out.read_to_end(&mut s).ok();
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = Vec::new();
        err.read_to_end(&mut s).ok();
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            child.wait().ok();
            panic!("{cmd:?} hung: killed after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Outcome {
        status,
        stdout: String::from_utf8_lossy(&t_out.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&t_err.join().unwrap()).into_owned(),
    }
}

/// `benchmem ARGS...` with a 60 s limit, its lines as long as they come (`COLUMNS`): the
/// tests read what a line says, and benchmem breaks its lines to fit a terminal.
pub fn bm(args: &[&str]) -> Outcome {
    run_limited(
        Command::new(benchmem()).args(args).env("COLUMNS", "10000"),
        Duration::from_secs(60),
    )
}

/// A saved run.
pub struct Blob {
    /// The parsed document.
    pub json: Value,
}

/// The four series of one benchmark.
#[derive(Debug, PartialEq, Eq, Clone)]
pub struct Series {
    /// `peak_bytes`
    pub peak: Vec<u64>,
    /// `total_bytes`
    pub total: Vec<u64>,
    /// `allocations`
    pub allocs: Vec<u64>,
    /// `retained_bytes`
    pub retained: Vec<u64>,
}

impl Series {
    /// The series of one repeated sample `(peak, total, allocs, retained)`.
    pub fn of(n: usize, (peak, total, allocs, retained): (u64, u64, u64, u64)) -> Series {
        Series {
            peak: vec![peak; n],
            total: vec![total; n],
            allocs: vec![allocs; n],
            retained: vec![retained; n],
        }
    }
}

fn numbers(v: &Value, key: &str) -> Vec<u64> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {v}"))
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

impl Blob {
    /// Reads a blob file.
    pub fn read(path: &Path) -> Blob {
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Blob {
            json: serde_json::from_str(&text).unwrap(),
        }
    }

    /// Benchmark names in file order.
    pub fn names(&self) -> Vec<String> {
        self.json["benchmarks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["name"].as_str().unwrap().to_string())
            .collect()
    }

    /// The benchmark object named `name`.
    pub fn bench(&self, name: &str) -> &Value {
        self.json["benchmarks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["name"] == name)
            .unwrap_or_else(|| panic!("no benchmark {name:?} in {:?}", self.names()))
    }

    /// The memory series of benchmark `name`.
    pub fn series(&self, name: &str) -> Series {
        let m = &self.bench(name)["extra_info"]["benchmem"];
        Series {
            peak: numbers(m, "peak_bytes"),
            total: numbers(m, "total_bytes"),
            allocs: numbers(m, "allocations"),
            retained: numbers(m, "retained_bytes"),
        }
    }

    /// Every benchmark's series by name.
    pub fn all(&self) -> HashMap<String, Series> {
        self.names()
            .into_iter()
            .map(|n| (n.clone(), self.series(&n)))
            .collect()
    }
}

/// Runs `benchmem run --json <tmp> [extra...] -- program args...` (60 s limit, core dumps
/// off) and reads the blob, which stays at `run.json` in the returned directory.
pub fn measure(
    extra: &[&str],
    program: &Path,
    args: &[&str],
) -> (Outcome, Blob, tempfile::TempDir) {
    measure_env(extra, &[], program, args)
}

// ---------------------------------------------------------------------------------------
// Helpers for the robustness suite (tests/tests/robustness_*.rs).

const JEMALLOC: &str = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";

/// Debian's jemalloc (package libjemalloc2, which scripts/test installs). Tests install
/// nothing: without it the test fails, saying what to install.
pub fn jemalloc() -> PathBuf {
    let p = Path::new(JEMALLOC);
    assert!(
        p.exists(),
        "{JEMALLOC} missing: install Debian's libjemalloc2 (apt-get install -y libjemalloc2; scripts/test does)"
    );
    p.to_path_buf()
}

/// Runs `program args...` natively (no benchmem), with a 60 s limit, core dumps off.
pub fn native(program: &Path, args: &[&str]) -> Outcome {
    native_env(program, args, &[])
}

/// Like [`native`], with variables added to the environment.
pub fn native_env(program: &Path, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let mut cmd = Command::new(program);
    cmd.args(args).envs(env.iter().copied());
    no_core_dumps(&mut cmd);
    run_limited(&mut cmd, Duration::from_secs(60))
}

/// Like [`measure`], with variables added to the environment of benchmem (and so of the
/// program).
pub fn measure_env(
    extra: &[&str],
    env: &[(&str, &str)],
    program: &Path,
    args: &[&str],
) -> (Outcome, Blob, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let mut cmd = Command::new(benchmem());
    // Lines whole, as in bm().
    cmd.env("COLUMNS", "10000");
    cmd.args(["run", "--json", json.to_str().unwrap()])
        .args(extra)
        .args(stacks_pass().iter().filter(|a| !extra.contains(a)))
        .arg("--")
        .arg(program)
        .args(args)
        .envs(env.iter().copied());
    no_core_dumps(&mut cmd);
    let out = run_limited(&mut cmd, Duration::from_secs(60));
    assert!(json.is_file(), "no blob written: {out:?}");
    let blob = Blob::read(&json);
    (out, blob, dir)
}

/// Variable that makes [`measure`] and its kin record call stacks too (`run --stacks`):
/// `scripts/test` runs the robustness suite a second time with it, so every program that
/// suite measures is shown unharmed with stack recording on as well.
pub const ENV_TEST_STACKS: &str = "BENCHMEM_TEST_STACKS";

/// `["--stacks"]` in the stacks pass of the suite, else nothing.
pub fn stacks_pass() -> &'static [&'static str] {
    if std::env::var_os(ENV_TEST_STACKS).is_some_and(|v| v == "1") {
        &["--stacks"]
    } else {
        &[]
    }
}

/// Runs `program args...` natively and then under `benchmem run` (each with a 60 s limit,
/// core dumps off), asserts that it behaved the same (see [`assert_same_program`]), and
/// returns the run under benchmem, its blob and the directory holding the blob.
pub fn same_as_native(program: &Path, args: &[&str]) -> (Outcome, Blob, tempfile::TempDir) {
    same_as_native_env(program, args, &[])
}

/// Like [`same_as_native`], with variables added to the environment of both runs.
pub fn same_as_native_env(
    program: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Outcome, Blob, tempfile::TempDir) {
    let nat = native_env(program, args, env);
    let (under, blob, dir) = measure_env(&[], env, program, args);
    assert_same_program(&nat, &under);
    (under, blob, dir)
}

/// Sets RLIMIT_CORE to 0 in the child (crash tests must not litter core files).
pub fn no_core_dumps(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            let zero = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &zero);
            Ok(())
        });
    }
}

/// The status a shell reports for `s`: the code, or 128 + signal.
pub fn shell_status(s: &ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    s.code().unwrap_or_else(|| 128 + s.signal().unwrap())
}

/// Asserts that the program behaved under benchmem exactly as natively: same standard
/// output, and benchmem's exit status is the program's (128 + signal when killed).
pub fn assert_same_program(native: &Outcome, under: &Outcome) {
    assert_eq!(
        under.stdout, native.stdout,
        "stdout differs under benchmem\nnative: {native:?}\nunder: {under:?}"
    );
    assert_eq!(
        under.code(),
        shell_status(&native.status),
        "exit status differs under benchmem\nnative: {native:?}\nunder: {under:?}"
    );
}

/// The strings of array `v` (none when `v` is absent).
fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

impl Blob {
    /// The reasons benchmark `name` is marked incomplete (empty when it is clean).
    pub fn incomplete(&self, name: &str) -> Vec<String> {
        strings(&self.bench(name)["extra_info"]["benchmem_incomplete"])
    }

    /// Run-level notes (`benchmem.notes`).
    pub fn notes(&self) -> Vec<String> {
        strings(&self.json["benchmem"]["notes"])
    }

    /// Names of the per-process (root) rows.
    pub fn process_rows(&self) -> Vec<String> {
        self.json["benchmarks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["extra_info"]["benchmem_kind"] == "process")
            .map(|b| b["name"].as_str().unwrap().to_string())
            .collect()
    }

    /// True when no sample is marked incomplete and there are no run-level notes.
    pub fn is_clean(&self) -> bool {
        self.notes().is_empty() && self.names().iter().all(|n| self.incomplete(n).is_empty())
    }
}
