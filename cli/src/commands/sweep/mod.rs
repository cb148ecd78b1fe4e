//! `benchmem sweep PACKAGE VERSIONS... --suite PATH`: one benchmark suite run against
//! several versions of a package, each in a fresh venv, each run saved as
//! `<out>/<version>.json`; then the `compare` and `plot` commands to run next.
//!
//! Per version, in a temporary directory removed afterwards: make the venv (uv, else
//! `python -m venv`), install the package with the harness (pytest-benchmark; with
//! `--memory` also cloudpickle and benchmem's own plugin, copied from this benchmem:
//! see [`bundle`]), copy the suite into a working directory of its own (so a dev copy of
//! the package beside the suite cannot shadow the installed one), and run `pytest <suite>
//! --benchmark-only --benchmark-json=...` there (with `--import-check`, pytest first
//! checks where the suite's imports find the package: see [`isolation`]). Every command's output goes to `<out>/<version>.log`; a
//! failing version is one line naming the step and the log, and the others still run
//! unless `--fail-fast`. The run is written under a temporary name and renamed into
//! place only when pytest succeeded and the run holds benchmarks, so `<out>/<version>.json`
//! is always a whole, successful run (an earlier sweep's stays when this one fails).

mod args;
mod bundle;
mod copy;
mod isolation;
mod spec;
mod step;
mod venv;

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) use args::SweepArgs;

use crate::EXIT_OK;
use crate::error::{Error, Result};
use crate::escape;
use spec::SuiteLayout;
use step::{Failure, Log, Step, shell_quote};
use venv::Tool;

/// `benchmem sweep --help`.
pub(crate) const LONG_ABOUT: &str = "\
Run one pytest-benchmark suite against several versions of a package.

Each version gets a fresh venv (uv when it is on PATH, else `python -m venv` and pip) with
the package (PACKAGE==VERSION for a plain version, else the spec as given), the --pin specs
and the harness: pytest-benchmark, and with --memory also cloudpickle and benchmem's own
pytest plugin, taken from this benchmem (no index needed for it). The suite (or --copy-dir)
is copied into a working directory of its own, so that a dev copy of the package beside it
cannot shadow the installed one, and there `pytest SUITE --benchmark-only` runs (with
--benchmark-memory under --memory, then every --pytest-arg), writing OUT/VERSION.json
(atomically, and only when pytest passed and the run holds benchmarks); every command's
output goes to OUT/VERSION.log. The compare and plot commands to run next are printed on
stdout.

A version that fails is one line on stderr naming the step (venv, install, copy, isolation,
pytest) and the log; the other versions still run (--fail-fast stops at the first). Exit
status: 0 when every version saved its run, 2 when one failed or on bad usage.

Offline: --pip-arg=--no-index --pip-arg=--find-links=DIR (pip and uv both take them), or
pip's and uv's own environment variables.

Example: benchmem sweep mypkg 1.2.0 1.3.0 --suite benchmarks/ --memory --pytest-arg=-k \
--pytest-arg=parse";

/// pytest's exit status when it collected no tests.
const PYTEST_NO_TESTS: i32 = 5;

/// One version to sweep.
struct Version {
    /// As given on the command line.
    given: String,
    /// The pip spec installed.
    spec: String,
    /// The file name stem of its run and log.
    label: String,
}

/// Everything decided before the first venv: checked once, so that a mistake is one
/// usage error instead of the same failure per version.
struct Plan {
    versions: Vec<Version>,
    /// The output directory as given (for the commands printed) and absolute (for pytest,
    /// which runs elsewhere).
    out: PathBuf,
    out_abs: PathBuf,
    suite: SuiteLayout,
    python: PathBuf,
    tool: Tool,
    memory: bool,
    /// Specs installed with each version: the user's pins, then the harness.
    pins: Vec<String>,
    /// benchmem's Python package, to copy into each venv.
    bundle: Option<PathBuf>,
    /// Set for the pytest runs: the binary and preload benchmem's plugin uses.
    env: Vec<(&'static str, OsString)>,
    pytest_args: Vec<String>,
    pip_args: Vec<String>,
    as_of: Option<String>,
    import_check: Option<String>,
    fail_fast: bool,
}

impl Plan {
    fn new(args: SweepArgs) -> Result<Plan> {
        let cwd = std::env::current_dir()
            .map_err(|e| format!("cannot tell the current directory: {e}"))?;
        let versions: Vec<Version> = args
            .versions
            .iter()
            .map(|v| Version {
                given: v.clone(),
                spec: spec::install_spec(&args.package, v),
                label: spec::label(v),
            })
            .collect();
        for (i, a) in versions.iter().enumerate() {
            if let Some(b) = versions[..i].iter().find(|b| b.label == a.label) {
                return Err(format!(
                    "versions '{}' and '{}' would both be saved as {}.json: sweep each once",
                    b.given, a.given, a.label
                )
                .into());
            }
        }
        let memory = args.memory && !args.no_memory;
        let pinned: Vec<String> = args.pins.iter().map(|p| spec::pin_name(p)).collect();
        let mut pins = args.pins.clone();
        let harness: &[&str] = if memory {
            &["pytest-benchmark", "cloudpickle"]
        } else {
            &["pytest-benchmark"]
        };
        pins.extend(
            harness
                .iter()
                .filter(|h| !pinned.iter().any(|p| p == *h))
                .map(|h| h.to_string()),
        );
        let mut env = Vec::new();
        let mut bundle = None;
        if memory {
            let exe = std::env::current_exe()
                .map_err(|e| format!("cannot tell where this benchmem is: {e}"))?;
            env.push((
                "BENCHMEM_PRELOAD",
                benchmem_launcher::find_preload()?.into(),
            ));
            if std::env::var_os("BENCHMEM_BIN").is_none() {
                env.push(("BENCHMEM_BIN", exe.clone().into()));
            }
            if !pinned.iter().any(|p| p == "benchmem") {
                bundle = Some(bundle::locate(&exe).ok_or_else(|| {
                    format!(
                        "--memory: cannot find benchmem's Python package (pytest_benchmem) to \
                         install in the venvs: it is neither around this binary ({}) nor in the \
                         source tree it was built from; run the benchmem that `pip install` \
                         put beside the package, or --pin 'benchmem @ file:///path/to/benchmem/python'",
                        exe.display()
                    )
                })?);
            }
        }
        let suite = spec::layout(&args.suite, args.copy_dir.as_deref(), &cwd);
        if let Some(d) = args.copy_dir.as_deref()
            && !cwd.join(d).is_dir()
        {
            return Err(format!("--copy-dir {}: not a directory", d.display()).into());
        }
        Ok(Plan {
            versions,
            out_abs: cwd.join(&args.out),
            out: args.out,
            suite,
            python: venv::resolve_python(&args.python)?,
            tool: Tool::choose(args.installer)?,
            memory,
            pins,
            bundle,
            env,
            pytest_args: args.pytest_args,
            pip_args: args.pip_args,
            as_of: args.as_of,
            import_check: args.import_check,
            fail_fast: args.fail_fast,
        })
    }
}

/// Sweep the versions of `args`; exit 0 when every version saved its run.
pub(crate) fn sweep(args: SweepArgs) -> Result {
    let plan = Plan::new(args)?;
    fs::create_dir_all(&plan.out_abs)
        .map_err(|e| Error::Save(format!("--out {}: {e}", plan.out.display())))?;
    let tmp = tempfile::Builder::new()
        .prefix("benchmem-sweep-")
        .tempdir()
        .map_err(|e| Error::Save(format!("cannot make a temporary directory: {e}")))?;
    if let Some(root) = &plan.suite.copy_root
        && tmp.path().starts_with(root)
    {
        return Err(format!(
            "the suite's directory {} holds the temporary directory {}: set TMPDIR elsewhere \
                 or copy a smaller --copy-dir",
            root.display(),
            tmp.path().display()
        )
        .into());
    }
    let mut saved = Vec::new();
    let mut failed = Vec::new();
    let mut skipped: &[Version] = &[];
    for (i, version) in plan.versions.iter().enumerate() {
        let log_path = plan.out_abs.join(format!("{}.log", version.label));
        let mut log = Log::create(&log_path).map_err(|e| {
            Error::Save(format!(
                "cannot write {}.log in {}: {e}",
                version.label,
                plan.out.display()
            ))
        })?;
        match sweep_one(&plan, version, tmp.path(), &mut log) {
            Ok(()) => saved.push(plan.out.join(format!("{}.json", version.label))),
            Err(f) => {
                let shown = plan.out.join(format!("{}.log", version.label));
                eprintln!(
                    "benchmem: sweep: {} failed at {}: {}; log: {}",
                    escape::text(&version.given),
                    f.step,
                    escape::text(&f.why),
                    escape::text(&shown.display().to_string())
                );
                failed.push(format!("{} ({})", version.given, f.step));
                if plan.fail_fast {
                    skipped = &plan.versions[i + 1..];
                    break;
                }
            }
        }
    }
    if !saved.is_empty() {
        let files = saved
            .iter()
            .map(|p| shell_quote(&p.display().to_string()))
            .collect::<Vec<_>>()
            .join(" ");
        let plot_metric = if plan.memory { " --columns peak" } else { "" };
        println!(
            "sweep: wrote {} run(s) under {}/",
            saved.len(),
            plan.out.display()
        );
        println!("  compare: benchmem compare {files}");
        println!("  plot:    benchmem plot {files}{plot_metric}");
    }
    if failed.is_empty() {
        return Ok(EXIT_OK);
    }
    let mut message = format!(
        "sweep: {} of {} versions failed: {}",
        failed.len(),
        plan.versions.len(),
        failed.join(", ")
    );
    if !skipped.is_empty() {
        let names: Vec<&str> = skipped.iter().map(|v| v.given.as_str()).collect();
        message.push_str(&format!("; not run (--fail-fast): {}", names.join(", ")));
    }
    Err(message.into())
}

/// Sweep one version: its venv, install, staging, checks and pytest run, in a directory
/// of `tmp` that is removed when it is done.
fn sweep_one(
    plan: &Plan,
    version: &Version,
    tmp: &Path,
    log: &mut Log,
) -> std::result::Result<(), Failure> {
    let progress = |what: &str| {
        eprintln!(
            "sweep[{}]: {}",
            escape::text(&version.given),
            escape::text(what)
        )
    };
    let work = tempfile::Builder::new()
        .prefix(&format!("{}-", version.label))
        .tempdir_in(tmp)
        .map_err(|e| {
            Failure::new(
                Step::Venv,
                format!("cannot make a directory in {}: {e}", tmp.display()),
            )
        })?;
    log.note(&format!(
        "benchmem sweep: {} ({})",
        version.given, version.spec
    ));

    progress(&format!("making the venv ({})", plan.tool.name()));
    let venv_dir = work.path().join("venv");
    let vpy = plan.tool.create(&plan.python, &venv_dir, log)?;

    progress(&format!("installing {}", version.spec));
    let mut specs = plan.pins.clone();
    specs.push(version.spec.clone());
    plan.tool
        .install(&vpy, &plan.pip_args, plan.as_of.as_deref(), &specs, log)?;
    let site = if plan.bundle.is_some() || plan.import_check.is_some() {
        Some(venv::site_packages(&vpy, log)?)
    } else {
        None
    };
    if let (Some(site), Some(_)) = (&site, &plan.import_check) {
        isolation::install(site).map_err(|e| {
            Failure::new(
                Step::Install,
                format!("cannot write the --import-check plugin into the venv: {e}"),
            )
        })?;
    }
    if let (Some(site), Some(package)) = (&site, &plan.bundle) {
        bundle::install(package, site).map_err(|e| {
            Failure::new(
                Step::Install,
                format!("cannot copy benchmem's Python package into the venv: {e}"),
            )
        })?;
        log.note(&format!(
            "installed benchmem's Python package from {} into {}",
            package.display(),
            site.display()
        ));
    }

    let cwd = work.path().join("iso");
    fs::create_dir(&cwd)
        .map_err(|e| Failure::new(Step::Copy, format!("cannot make {}: {e}", cwd.display())))?;
    if let Some(root) = &plan.suite.copy_root {
        let name = root
            .file_name()
            .map_or_else(|| "suite".into(), |n| n.to_os_string());
        copy::copy_tree(root, &cwd.join(name)).map_err(|e| {
            Failure::new(Step::Copy, format!("cannot copy {}: {e}", root.display()))
        })?;
        log.note(&format!("copied {} into {}", root.display(), cwd.display()));
    }
    let in_venv = |program: &Path| {
        let mut c = Command::new(program);
        venv::clean(&mut c)
            .current_dir(&cwd)
            .env("VIRTUAL_ENV", &venv_dir);
        // Programs the suite starts by name (`python`, console scripts) are the venv's.
        let mut path = vec![venv_dir.join("bin")];
        path.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        if let Ok(joined) = std::env::join_paths(path) {
            c.env("PATH", joined);
        }
        for (k, v) in &plan.env {
            c.env(k, v);
        }
        c
    };

    let dest = plan.out_abs.join(format!("{}.json", version.label));
    let partial = tempfile::Builder::new()
        .prefix(&format!(".{}.", version.label))
        .suffix(".json.partial")
        // Like any file the user creates (0666 less the umask), not tempfile's private 0600.
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .tempfile_in(&plan.out_abs)
        .map_err(|e| {
            Failure::new(
                Step::Pytest,
                format!("cannot write in {}: {e}", plan.out.display()),
            )
        })?
        .into_temp_path();
    let mut c = in_venv(&vpy);
    c.args(["-m", "pytest"]);
    let report = work.path().join("import-check");
    if let Some(module) = &plan.import_check {
        isolation::configure(&mut c, module, &venv_dir, &report);
    }
    c.arg(&plan.suite.pytest_path)
        .arg("--benchmark-only")
        .arg(format!("--benchmark-json={}", partial.display()));
    if plan.memory {
        c.arg("--benchmark-memory");
    }
    c.args(&plan.pytest_args);
    progress(&format!(
        "running pytest {} (to {})",
        plan.suite.pytest_path.display(),
        plan.out.join(format!("{}.json", version.label)).display()
    ));
    let status = log.status(Step::Pytest, &mut c)?;
    if let Some(problem) = isolation::verdict(&report) {
        return Err(Failure::new(Step::Isolation, problem));
    }
    match status.code() {
        Some(0) => {}
        Some(PYTEST_NO_TESTS) => {
            return Err(Failure::new(
                Step::Pytest,
                "pytest collected no tests (if the suite reads files outside its directory, try --copy-dir)",
            ));
        }
        _ => {
            return Err(Failure::new(
                Step::Pytest,
                format!("pytest {}", step::describe(status)),
            ));
        }
    }
    if let Err(why) = check_run(&partial) {
        return Err(Failure::new(Step::Pytest, why));
    }
    // On disk before the rename, so the name never leads to a file a crash cut short.
    fs::File::open(&partial)
        .and_then(|f| f.sync_all())
        .map_err(|e| Failure::new(Step::Pytest, format!("cannot flush pytest's JSON: {e}")))?;
    partial
        .persist(&dest)
        .map_err(|e| Failure::new(Step::Pytest, format!("cannot save {}: {e}", dest.display())))?;
    log.note(&format!("saved {}", dest.display()));
    Ok(())
}

/// Whether `path` is a pytest-benchmark run with at least one benchmark.
fn check_run(path: &Path) -> std::result::Result<(), String> {
    let text = fs::read(path).map_err(|e| format!("cannot read pytest's JSON: {e}"))?;
    if text.is_empty() {
        return Err("pytest wrote no benchmark JSON".into());
    }
    let doc: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| format!("pytest's JSON does not parse: {e}"))?;
    match doc.get("benchmarks").and_then(serde_json::Value::as_array) {
        Some(b) if !b.is_empty() => Ok(()),
        Some(_) => Err("the run holds no benchmarks (no test used the benchmark fixture)".into()),
        None => Err("pytest's JSON is not a pytest-benchmark run".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_without_benchmarks_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("r.json");
        let check = |text: &str| {
            fs::write(&f, text).unwrap();
            check_run(&f)
        };
        assert_eq!(check("").unwrap_err(), "pytest wrote no benchmark JSON");
        assert!(
            check("{")
                .unwrap_err()
                .starts_with("pytest's JSON does not parse")
        );
        assert_eq!(
            check("{}").unwrap_err(),
            "pytest's JSON is not a pytest-benchmark run"
        );
        assert!(
            check(r#"{"benchmarks": []}"#)
                .unwrap_err()
                .starts_with("the run holds no benchmarks")
        );
        assert!(check(r#"{"benchmarks": [{"name": "t"}]}"#).is_ok());
    }
}
