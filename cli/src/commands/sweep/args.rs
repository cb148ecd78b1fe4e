//! `benchmem sweep`'s command line: pytest-benchmem's options, spelled as it spells them,
//! and the few of our own that running without uv and offline need.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// What makes the venvs and installs into them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Installer {
    /// uv when it is on PATH, else `python -m venv` and pip.
    Auto,
    /// `uv venv` and `uv pip install`.
    Uv,
    /// `python -m venv` and the venv's own pip.
    Pip,
}

/// `benchmem sweep`.
#[derive(Debug, Args)]
pub(crate) struct SweepArgs {
    /// Package under test; each plain version installs `<package>==<v>`.
    #[arg(value_name = "PACKAGE")]
    pub package: String,
    /// Versions or pip specs to sweep, e.g. 1.2.0 1.3.0 git+https://github.com/me/pkg@main.
    #[arg(required = true, value_name = "VERSIONS")]
    pub versions: Vec<String>,
    /// Benchmark suite (dir or file) to run in each version's venv.
    #[arg(long, value_name = "PATH")]
    pub suite: PathBuf,
    /// Directory for the per-version JSON runs (`<out>/<version>.json`) and their logs
    /// (`<out>/<version>.log`).
    #[arg(long, value_name = "DIR", default_value = ".benchmarks/sweep")]
    pub out: PathBuf,
    /// Add --benchmark-memory to each pytest run (and install benchmem's plugin, from this
    /// benchmem, into each venv).
    #[arg(long, overrides_with = "no_memory")]
    pub memory: bool,
    /// Time only (the default).
    #[arg(long, overrides_with = "memory")]
    pub no_memory: bool,
    /// Arg forwarded to pytest, one token each, repeatable (e.g. --pytest-arg=-k).
    #[arg(long = "pytest-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub pytest_args: Vec<String>,
    /// Extra pip spec installed alongside (repeatable). A pin naming pytest-benchmark,
    /// cloudpickle or benchmem replaces the one sweep would install.
    #[arg(long = "pin", value_name = "SPEC")]
    pub pins: Vec<String>,
    /// YYYY-MM-DD (or an RFC 3339 time): only packages uploaded before it, for a
    /// reproducible resolve (uv's --exclude-newer; pip's --uploaded-prior-to, for which the
    /// venv's pip is first brought to 26 or later).
    #[arg(long, value_name = "DATE", value_parser = parse_as_of)]
    pub as_of: Option<String>,
    /// Module asserted to resolve to the venv (isolation preflight): checked inside pytest
    /// once the suite is collected, with the sys.path the suite's own imports saw.
    #[arg(long, value_name = "MODULE")]
    pub import_check: Option<String>,
    /// Directory staged into each venv's cwd (default: the --suite dir). Point it at the
    /// repo root when the suite reads a conftest or data files outside the suite dir.
    #[arg(long, value_name = "DIR")]
    pub copy_dir: Option<PathBuf>,
    /// Arg forwarded to every install (`pip install` or `uv pip install`), one token each,
    /// repeatable: --pip-arg=--no-index --pip-arg=--find-links=wheels/. pip's and uv's
    /// environment variables (PIP_INDEX_URL, UV_INDEX_URL, ...) reach them too.
    #[arg(long = "pip-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub pip_args: Vec<String>,
    /// The Python each venv is made from.
    #[arg(long, value_name = "PYTHON", default_value = "python3")]
    pub python: PathBuf,
    /// What makes the venvs and installs into them.
    #[arg(long, value_enum, default_value_t = Installer::Auto)]
    pub installer: Installer,
    /// Stop at the first version that fails (by default the others still run).
    #[arg(long)]
    pub fail_fast: bool,
}

/// `--as-of`: a date `YYYY-MM-DD`, or one followed by a time (`T...`), as uv and pip
/// both read it; checked here so that a typo is one usage error, not a failed install
/// per version.
fn parse_as_of(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let date = b.len() >= 10
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10);
    let month = s.get(5..7).and_then(|m| m.parse::<u8>().ok());
    let day = s.get(8..10).and_then(|d| d.parse::<u8>().ok());
    let valid = date
        && matches!(month, Some(1..=12))
        && matches!(day, Some(1..=31))
        && (b.len() == 10 || b[10] == b'T' || b[10] == b't');
    if valid {
        Ok(s.to_string())
    } else {
        Err(format!(
            "'{s}' is not a date: give YYYY-MM-DD (or YYYY-MM-DDTHH:MM:SSZ)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_of_takes_dates_and_times() {
        assert_eq!(parse_as_of("2024-01-31").unwrap(), "2024-01-31");
        assert!(parse_as_of("2024-01-31T12:00:00Z").is_ok());
        for bad in [
            "",
            "2024-1-31",
            "2024-13-01",
            "2024-01-32",
            "yesterday",
            "2024-01-31 x",
        ] {
            assert!(parse_as_of(bad).is_err(), "{bad:?}");
        }
    }
}
