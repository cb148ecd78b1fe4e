//! The steps of one version and its log: every command a step runs writes its output to
//! the version's log file, headed by the command line, so a failure is one line on the
//! terminal that says where the whole story is.

use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};

/// The steps of one version, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Making the venv.
    Venv,
    /// Installing the package, the pins and the harness.
    Install,
    /// Copying the suite into the working directory.
    Copy,
    /// `--import-check`.
    Isolation,
    /// Running the suite.
    Pytest,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Venv => "venv",
            Step::Install => "install",
            Step::Copy => "copy",
            Step::Isolation => "isolation",
            Step::Pytest => "pytest",
        })
    }
}

/// Why a version failed: the step and what went wrong there.
#[derive(Debug)]
pub(crate) struct Failure {
    /// The step that failed.
    pub step: Step,
    /// What happened, without the version or the log (the caller adds those).
    pub why: String,
}

impl Failure {
    /// A failure of `step`.
    pub(crate) fn new(step: Step, why: impl Into<String>) -> Failure {
        Failure {
            step,
            why: why.into(),
        }
    }
}

/// One version's log file.
pub(crate) struct Log {
    file: File,
}

impl Log {
    /// Create (or empty) the log at `path`.
    pub(crate) fn create(path: &Path) -> io::Result<Log> {
        Ok(Log {
            file: File::create(path)?,
        })
    }

    /// Add a line of our own. A log that cannot be written loses the line, not the sweep.
    pub(crate) fn note(&mut self, line: &str) {
        let _ = writeln!(self.file, "{line}");
    }

    /// Run `cmd` for `step` with its output in the log; a status other than success, or a
    /// command that cannot start, is the step's failure, said as `<what> exited with ...`.
    pub(crate) fn run(&mut self, step: Step, what: &str, cmd: &mut Command) -> Result<(), Failure> {
        let status = self.status(step, cmd)?;
        if status.success() {
            Ok(())
        } else {
            Err(Failure::new(step, format!("{what} {}", describe(status))))
        }
    }

    /// Run `cmd` with its output in the log and return its exit status.
    pub(crate) fn status(&mut self, step: Step, cmd: &mut Command) -> Result<ExitStatus, Failure> {
        self.note(&format!("\n$ {}", command_line(cmd)));
        let (out, err) = match (self.file.try_clone(), self.file.try_clone()) {
            (Ok(out), Ok(err)) => (out, err),
            (Err(e), _) | (_, Err(e)) => {
                return Err(Failure::new(step, format!("cannot write the log: {e}")));
            }
        };
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        let status = cmd.status().map_err(|e| {
            let why = format!("cannot start {}: {e}", cmd.get_program().to_string_lossy());
            self.note(&why);
            Failure::new(step, why)
        })?;
        self.note(&format!("[{}]", describe(status)));
        Ok(status)
    }

    /// Run `cmd` and return its exit status and standard output, which is also logged
    /// (its standard error goes to the log as it comes).
    pub(crate) fn capture(
        &mut self,
        step: Step,
        cmd: &mut Command,
    ) -> Result<(ExitStatus, String), Failure> {
        self.note(&format!("\n$ {}", command_line(cmd)));
        let err = self
            .file
            .try_clone()
            .map_err(|e| Failure::new(step, format!("cannot write the log: {e}")))?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(err));
        let output = cmd.output().map_err(|e| {
            let why = format!("cannot start {}: {e}", cmd.get_program().to_string_lossy());
            self.note(&why);
            Failure::new(step, why)
        })?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let _ = self.file.write_all(stdout.as_bytes());
        self.note(&format!("[{}]", describe(output.status)));
        Ok((output.status, stdout))
    }
}

/// `exited with status 1`, `was killed by signal 9`.
pub(crate) fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => format!("was killed by signal {sig}"),
        (None, None) => "ended".to_string(),
    }
}

/// `cmd` as a shell would take it back: program and arguments, quoted where needed.
pub(crate) fn command_line(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| shell_quote(&a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `s` as one shell word: as it is when it holds only characters no shell treats
/// specially, else in single quotes.
pub(crate) fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%^".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("out/1.0.json"), "out/1.0.json");
        assert_eq!(shell_quote("my runs/1.0.json"), "'my runs/1.0.json'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        let mut c = Command::new("pip");
        c.args(["install", "pkg>=2"]);
        assert_eq!(command_line(&c), "pip install 'pkg>=2'");
    }

    #[test]
    fn a_failing_step_says_how_and_logs_it() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("v.log");
        let mut log = Log::create(&path).unwrap();
        let e = log
            .run(
                Step::Install,
                "sh",
                Command::new("sh").args(["-c", "echo boom >&2; exit 3"]),
            )
            .unwrap_err();
        assert_eq!(e.step, Step::Install);
        assert_eq!(e.why, "sh exited with status 3");
        let e = log
            .run(Step::Venv, "x", &mut Command::new("/nonexistent/python"))
            .unwrap_err();
        assert!(
            e.why.starts_with("cannot start /nonexistent/python: "),
            "{}",
            e.why
        );
        let (status, out) = log
            .capture(
                Step::Isolation,
                Command::new("sh").args(["-c", "echo here"]),
            )
            .unwrap();
        assert!(status.success());
        assert_eq!(out, "here\n");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("$ sh -c 'echo boom >&2; exit 3'\nboom\n[exited with status 3]"),
            "{text}"
        );
        assert!(text.contains("here\n[exited with status 0]"), "{text}");
    }
}
