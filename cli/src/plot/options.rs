//! `benchmem plot`'s command line, spelled as pytest-benchmem's `benchmem plot` spells it
//! (`--x`, `--color`, `--facet`, `--where`, `--pivot`, `--band`, `--log-log/--linear`, ...),
//! so a command line written for one works with the other.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::metrics::Metric;
use crate::stats::Stat;

/// The pictures `plot` draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum View {
    /// The metric against a numeric parameter, one line per other parameter.
    Scaling,
    /// Base value against head/base ratio, one point per benchmark.
    Scatter,
    /// Ranked bars of each benchmark's change from the first run to the second.
    Compare,
    /// Fold-change heatmap of every benchmark in every run against the first run.
    Sweep,
    /// Live bytes over time per process, regions shaded (a `benchmem run` saved run).
    Timeline,
}

impl View {
    /// Name on the command line and in default file names.
    pub(crate) fn name(self) -> &'static str {
        match self {
            View::Scaling => "scaling",
            View::Scatter => "scatter",
            View::Compare => "compare",
            View::Sweep => "sweep",
            View::Timeline => "timeline",
        }
    }
}

/// `--band`: the spread over repeats around each scaling line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Band {
    /// Shown where repeats differ.
    Auto,
    /// Always shown.
    Minmax,
    /// Never shown.
    None,
}

/// `--free-axes`: which facet axes stop being shared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum FreeAxes {
    /// Each facet its own x range.
    X,
    /// Each facet its own y range.
    Y,
    /// Both.
    Both,
}

/// `--format`: what the output file holds (default: from its suffix).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutFormat {
    /// A self-contained page: the SVG with hover and legend toggling.
    Html,
    /// The static picture.
    Svg,
}

/// `benchmem plot`.
#[derive(Debug, Args)]
pub(crate) struct PlotArgs {
    /// Saved runs (benchmem's or pytest-benchmark's JSON), oldest first: the first is the base.
    #[arg(required = true, value_name = "RUN.json")]
    pub files: Vec<PathBuf>,
    /// Metric to plot: time, peak, allocated, allocations (allocs), retained
    /// (default: peak when the runs measured memory, else time).
    #[arg(
        long,
        visible_alias = "metric",
        value_name = "METRIC",
        value_enum,
        hide_possible_values = true
    )]
    pub columns: Option<Metric>,
    /// Stat over each benchmark's repeats: min, max, mean, median, stddev.
    #[arg(long, value_name = "STAT", value_enum, hide_possible_values = true, default_value_t = Stat::Min)]
    pub stat: Stat,
    /// compare | scatter | sweep | scaling | timeline (default: one run scaling, two
    /// scatter, more sweep; compare with --pivot).
    #[arg(long, value_enum, hide_possible_values = true)]
    pub view: Option<View>,
    /// scaling: the numeric parameter on the x-axis (default: the only numeric one).
    #[arg(long, value_name = "DIM")]
    pub x: Option<String>,
    /// scaling: the parameter lines are coloured by (default: the run, else inferred).
    #[arg(long, value_name = "DIM")]
    pub color: Option<String>,
    /// One panel per value of this parameter (`node.func`, `node.group` and the like too).
    #[arg(long, value_name = "DIM")]
    pub facet: Option<String>,
    /// Keep benchmarks whose parameter KEY is VALUE (repeatable; all must hold).
    #[arg(long = "where", value_name = "KEY=VALUE", value_parser = parse_where)]
    pub filters: Vec<(String, String)>,
    /// compare/scatter: compare the values of this parameter within one run instead of
    /// runs (`param:NAME` or NAME).
    #[arg(long, value_name = "DIM")]
    pub pivot: Option<String>,
    /// scaling: min–max band over repeats (memory metrics): auto (where repeats differ),
    /// minmax (always), none.
    #[arg(long, value_enum, value_name = "auto|minmax|none", hide_possible_values = true, default_value_t = Band::Auto)]
    pub band: Band,
    /// sweep: saturate the colours at this fold (2 = 2× and 1/2×); compare: cut bars at
    /// ± this change (bytes, seconds, calls, or percent with --relative).
    #[arg(long, value_name = "BOUND")]
    pub clip: Option<f64>,
    /// scaling: both axes logarithmic (the default when the data is positive).
    #[arg(long = "log-log", overrides_with = "linear")]
    pub log_log: bool,
    /// scaling: both axes linear.
    #[arg(long, overrides_with = "log_log")]
    pub linear: bool,
    /// scaling: logarithmic x-axis.
    #[arg(long = "log-x", overrides_with = "linear_x")]
    pub log_x: bool,
    /// scaling: linear x-axis.
    #[arg(long = "linear-x", overrides_with = "log_x")]
    pub linear_x: bool,
    /// scaling: logarithmic y-axis.
    #[arg(long = "log-y", overrides_with = "linear_y")]
    pub log_y: bool,
    /// scaling: linear y-axis.
    #[arg(long = "linear-y", overrides_with = "log_y")]
    pub linear_y: bool,
    /// Start a linear y-axis at 0 (the default whenever y is linear).
    #[arg(long = "y-zero", overrides_with = "no_y_zero")]
    pub y_zero: bool,
    /// Let a linear y-axis start near the smallest value.
    #[arg(long = "no-y-zero", overrides_with = "y_zero")]
    pub no_y_zero: bool,
    /// Give each facet its own axes: x, y or both.
    #[arg(long, value_enum, value_name = "x|y|both", hide_possible_values = true)]
    pub free_axes: Option<FreeAxes>,
    /// compare: bars show the change in percent instead of in the metric's unit.
    #[arg(long)]
    pub relative: bool,
    /// timeline: which repeat to draw (1-based).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,
    /// Run label, once per file in order (default: the file stem).
    #[arg(long, short = 'l', value_name = "LABEL")]
    pub label: Vec<String>,
    /// Output file: .html (interactive, self-contained) or .svg; `-` writes to stdout
    /// (default: .benchmarks/plots/VIEW-METRIC.html).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Output format, when the file name's suffix does not say (stdout: html).
    #[arg(long, value_enum)]
    pub format: Option<OutFormat>,
    /// Open the written file in the desktop's browser.
    #[arg(long)]
    pub open: bool,
}

/// A `--x`-style pair of flags: `Some(true)` for the first, `Some(false)` for the second.
pub(crate) fn choice(on: bool, off: bool) -> Option<bool> {
    match (on, off) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    }
}

fn parse_where(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!(
            "'{s}' is not KEY=VALUE (for example --where n=1000)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<PlotArgs, clap::Error> {
        let cli = Cli::try_parse_from(["benchmem", "plot", "r.json"].iter().chain(args))?;
        match cli.command {
            Command::Plot(a) => Ok(a),
            _ => panic!("not plot"),
        }
    }

    #[test]
    fn paired_flags_the_last_one_wins() {
        let a = parse(&["--log-log", "--linear"]).unwrap();
        assert_eq!(choice(a.log_log, a.linear), Some(false));
        let a = parse(&["--linear-y", "--log-y"]).unwrap();
        assert_eq!(choice(a.log_y, a.linear_y), Some(true));
        let a = parse(&[]).unwrap();
        assert_eq!(choice(a.y_zero, a.no_y_zero), None);
    }

    #[test]
    fn where_is_key_equals_value() {
        let a = parse(&["--where", "n=1000", "--where", "kind=a=b"]).unwrap();
        assert_eq!(
            a.filters,
            vec![("n".into(), "1000".into()), ("kind".into(), "a=b".into())]
        );
        assert!(parse(&["--where", "=3"]).is_err());
        assert!(parse(&["--view", "pie"]).is_err());
        assert!(parse(&["--repeat", "0"]).is_err());
    }
}
