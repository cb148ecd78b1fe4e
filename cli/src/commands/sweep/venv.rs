//! The venvs: made by uv when there is one (fast, and `--as-of` is its own
//! `--exclude-newer`), else by `python -m venv` with the venv's own pip.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::args::Installer;
use super::step::{Failure, Log, Step, describe};

/// The first pip with `--uploaded-prior-to`, which `--as-of` becomes without uv.
const PIP_WITH_UPLOADED_PRIOR_TO: &str = "pip>=26";

/// What makes the venvs and installs into them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tool {
    /// uv, at this path.
    Uv(PathBuf),
    /// `python -m venv`, then `python -m pip` inside the venv.
    Pip,
}

impl Tool {
    /// The tool `installer` asks for: for `auto`, uv when it is on PATH.
    pub(crate) fn choose(installer: Installer) -> Result<Tool, String> {
        let uv = || which(OsStr::new("uv"));
        match installer {
            Installer::Auto => Ok(uv().map_or(Tool::Pip, Tool::Uv)),
            Installer::Uv => uv()
                .map(Tool::Uv)
                .ok_or_else(|| "--installer uv: uv is not on PATH".to_string()),
            Installer::Pip => Ok(Tool::Pip),
        }
    }

    /// `uv` or `pip`, for messages.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Tool::Uv(_) => "uv",
            Tool::Pip => "pip",
        }
    }

    /// Make a venv at `dir` from `python`; returns the venv's interpreter.
    pub(crate) fn create(
        &self,
        python: &Path,
        dir: &Path,
        log: &mut Log,
    ) -> Result<PathBuf, Failure> {
        let mut cmd = match self {
            Tool::Uv(uv) => {
                let mut c = Command::new(uv);
                c.arg("venv").arg("--python").arg(python).arg(dir);
                c
            }
            Tool::Pip => {
                let mut c = Command::new(python);
                c.args(["-m", "venv"]).arg(dir);
                c
            }
        };
        let what = match self {
            Tool::Uv(_) => "uv venv",
            Tool::Pip => "python -m venv",
        };
        log.run(Step::Venv, what, clean(&mut cmd))?;
        let vpy = dir.join("bin/python");
        if vpy.exists() {
            Ok(vpy)
        } else {
            Err(Failure::new(
                Step::Venv,
                format!("{what} made no {}", vpy.display()),
            ))
        }
    }

    /// Install `specs` into the venv of `vpy`, with the user's `pip_args` and, with
    /// `as_of`, only what was uploaded before that date.
    pub(crate) fn install(
        &self,
        vpy: &Path,
        pip_args: &[String],
        as_of: Option<&str>,
        specs: &[String],
        log: &mut Log,
    ) -> Result<(), Failure> {
        match self {
            Tool::Uv(uv) => {
                let mut c = Command::new(uv);
                c.args(["pip", "install", "--python"]).arg(vpy);
                if let Some(date) = as_of {
                    c.args(["--exclude-newer", date]);
                }
                c.args(pip_args).args(specs);
                log.run(Step::Install, "uv pip install", clean(&mut c))
            }
            Tool::Pip => {
                let pip = || {
                    let mut c = Command::new(vpy);
                    c.args(["-m", "pip", "install", "--disable-pip-version-check"])
                        .args(pip_args);
                    c
                };
                if let Some(date) = as_of {
                    // The pip that venv bundles is older than the option.
                    let mut c = pip();
                    c.arg(PIP_WITH_UPLOADED_PRIOR_TO);
                    log.run(
                        Step::Install,
                        &format!("pip install '{PIP_WITH_UPLOADED_PRIOR_TO}' (for --as-of)"),
                        clean(&mut c),
                    )?;
                    let mut c = pip();
                    c.args(["--uploaded-prior-to", date]).args(specs);
                    log.run(Step::Install, "pip install", clean(&mut c))
                } else {
                    let mut c = pip();
                    c.args(specs);
                    log.run(Step::Install, "pip install", clean(&mut c))
                }
            }
        }
    }
}

/// The venv's pure-Python `site-packages`, as its interpreter reports it.
pub(crate) fn site_packages(vpy: &Path, log: &mut Log) -> Result<PathBuf, Failure> {
    let mut c = Command::new(vpy);
    c.args([
        "-c",
        "import sysconfig; print(sysconfig.get_paths()['purelib'])",
    ]);
    let (status, out) = log.capture(Step::Install, clean(&mut c))?;
    let dir = PathBuf::from(out.trim());
    if status.success() && dir.is_dir() {
        Ok(dir)
    } else {
        Err(Failure::new(
            Step::Install,
            format!(
                "the venv's python did not name its site-packages ({})",
                describe(status)
            ),
        ))
    }
}

/// The interpreter `python` really is (`sys.executable`): checks up front that it runs,
/// and names a version manager's shim by what it starts.
pub(crate) fn resolve_python(python: &Path) -> Result<PathBuf, String> {
    let out = clean(Command::new(python).args(["-c", "import sys; print(sys.executable)"]))
        .output()
        .map_err(|e| format!("--python {}: cannot run it: {e}", python.display()))?;
    let exe = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if out.status.success() && exe.is_file() {
        Ok(exe)
    } else {
        Err(format!(
            "--python {}: not a Python that runs ({})",
            python.display(),
            describe(out.status)
        ))
    }
}

/// `cmd` without the variables that would let the calling environment leak into a venv:
/// `PYTHONPATH` (a dev copy of the package under test would shadow the installed one) and
/// the mark of a pytest the plugin restarted (ours, if any, not the venv's).
pub(crate) fn clean(cmd: &mut Command) -> &mut Command {
    cmd.env_remove("PYTHONPATH")
        .env_remove("BENCHMEM_PYTEST_RESTARTED")
}

/// `name` as the shell would find it: a path when it has a `/`, else the first
/// executable file of that name on `PATH`.
pub(crate) fn which(name: &OsStr) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if Path::new(name).components().count() > 1 {
        let p = PathBuf::from(name);
        return executable(&p).then_some(p);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| executable(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_searches_path_and_takes_paths() {
        let sh = which(OsStr::new("sh")).expect("sh is on PATH");
        assert!(sh.is_absolute());
        assert_eq!(which(sh.as_os_str()), Some(sh.clone()));
        assert_eq!(which(OsStr::new("benchmem-no-such-program")), None);
        assert_eq!(which(OsStr::new("/nonexistent/sh")), None);
    }

    #[test]
    fn a_python_that_is_not_one_is_refused() {
        let e = resolve_python(Path::new("/nonexistent/python3")).unwrap_err();
        assert!(
            e.starts_with("--python /nonexistent/python3: cannot run it: "),
            "{e}"
        );
        let e = resolve_python(Path::new("false")).unwrap_err();
        assert_eq!(
            e,
            "--python false: not a Python that runs (exited with status 1)"
        );
    }
}
