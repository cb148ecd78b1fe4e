//! Command-line syntax (clap). Values are parsed into their final types here, so a bad
//! metric, stat or threshold is a usage error (exit 2) naming the argument.

use std::ffi::OsString;
use std::path::PathBuf;
use std::str::FromStr;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::gate::{Ceiling, FailOn};
use crate::grid::Format;
use crate::metrics::{Metric, UnknownMetric};
use crate::stats::{self, Stat, UnknownStat};

/// Exact per-region memory measurement for benchmarks.
#[derive(Debug, Parser)]
#[command(name = "benchmem", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a command under the preload, print its memory table on stderr, save the run.
    Run(RunArgs),
    /// Print the table of a saved run (benchmem's or pytest-benchmark's JSON).
    Show(ShowArgs),
    /// Lay saved runs side by side; gate CI on memory growth.
    Compare(CompareArgs),
}

/// A comma-separated list of metrics (`peak,allocated,allocs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricList(pub Vec<Metric>);

/// A comma-separated list of stats (`min,mean,max`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatList(pub Vec<Stat>);

/// A comma-separated list, repeats dropped, order kept; `unknown` names the bad or empty list.
fn unique_list<T>(s: &str, unknown: fn(String) -> T::Err) -> Result<Vec<T>, String>
where
    T: FromStr + PartialEq,
    T::Err: std::fmt::Display,
{
    let mut out = Vec::new();
    for part in s.split(',').filter(|p| !p.trim().is_empty()) {
        let item: T = part.parse().map_err(|e: T::Err| e.to_string())?;
        if !out.contains(&item) {
            out.push(item);
        }
    }
    if out.is_empty() {
        return Err(unknown(s.to_string()).to_string());
    }
    Ok(out)
}

fn metric_list(s: &str) -> Result<MetricList, String> {
    unique_list(s, UnknownMetric).map(MetricList)
}

fn stat_list(s: &str) -> Result<StatList, String> {
    unique_list(s, UnknownStat).map(StatList)
}

/// The run table's columns, shared by `run` and `show`.
#[derive(Debug, Args)]
pub struct TableArgs {
    /// Metrics to show: peak, allocated, allocations (allocs), retained, time.
    #[arg(long, value_name = "LIST", default_value = "peak,allocated,allocations", value_parser = metric_list)]
    pub columns: MetricList,
    /// Stats each metric spreads into when a series holds several samples.
    #[arg(long, value_name = "LIST", default_value = "min,mean,max", value_parser = stat_list)]
    pub stats: StatList,
}

/// `benchmem run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Fresh runs of the command; each region's series gets one sample per run.
    #[arg(long, short = 'n', default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub repeats: u32,
    /// Save the run here (pytest-benchmark JSON, written atomically).
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Columns of the table.
    #[command(flatten)]
    pub table: TableArgs,
    /// Leave address-space randomization on for the command. By default it is off, so
    /// allocators that decide by address (CPython's) give the same numbers every repeat.
    #[arg(long)]
    pub keep_aslr: bool,
    /// The program to measure and its arguments (after `--`).
    /// A mistyped option before it is clap's error, not the command: only the arguments
    /// after the program's name may start with `-` without `--`.
    #[arg(required = true, trailing_var_arg = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

/// `benchmem show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A saved run.
    #[arg(value_name = "RUN.json")]
    pub file: PathBuf,
    /// Columns of the table.
    #[command(flatten)]
    pub table: TableArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// `--stat`: one stat, or all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatChoice {
    /// One stat per metric.
    One(Stat),
    /// min, max, mean, median and stddev.
    All,
}

impl StatChoice {
    /// The stats to show.
    pub fn stats(self) -> Vec<Stat> {
        match self {
            StatChoice::One(s) => vec![s],
            StatChoice::All => stats::ALL.to_vec(),
        }
    }

    /// The stat gates compare: the chosen one, or the headline (min) with `all`.
    pub fn gate_stat(self) -> Stat {
        match self {
            StatChoice::One(s) => s,
            StatChoice::All => Stat::Min,
        }
    }
}

fn stat_choice(s: &str) -> Result<StatChoice, String> {
    if s.trim() == "all" {
        return Ok(StatChoice::All);
    }
    s.parse::<Stat>()
        .map(StatChoice::One)
        .map_err(|_| format!("unknown stat '{s}': choose from min, max, mean, median, stddev, all"))
}

/// Row order of `compare`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SortBy {
    /// By benchmark id.
    Name,
    /// Largest value in the last run first (first column).
    Value,
    /// Biggest growth from the first to the last run first (first column).
    Change,
}

/// One part of `--group-by`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupKey {
    /// The benchmark id: each benchmark compared with itself across runs.
    Fullname,
    /// The short name (same test in different modules or params together).
    Name,
    /// pytest-benchmark's `group`.
    Group,
    /// One parametrize argument's value.
    Param(String),
}

/// `--group-by`: a comma-separated list of keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupBy(pub Vec<GroupKey>);

fn group_by(s: &str) -> Result<GroupBy, String> {
    let mut keys = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        keys.push(match part {
            "fullname" => GroupKey::Fullname,
            "name" => GroupKey::Name,
            "group" => GroupKey::Group,
            p => match p.strip_prefix("param:") {
                Some(n) if !n.is_empty() => GroupKey::Param(n.to_string()),
                _ => {
                    return Err(format!(
                        "unknown grouping '{part}': choose from fullname, name, group, param:NAME"
                    ))
                }
            },
        });
    }
    if keys.is_empty() {
        return Err("empty grouping: choose from fullname, name, group, param:NAME".into());
    }
    Ok(GroupBy(keys))
}

/// `benchmem compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Saved runs, oldest first: the first is the base, the last the head.
    #[arg(required = true, value_name = "RUN.json")]
    pub files: Vec<PathBuf>,
    /// Metrics to show: time, peak, allocated, allocations (allocs), retained; a metric no
    /// run measured is dropped.
    #[arg(long, visible_alias = "metric", value_name = "LIST",
          default_value = "time,peak,allocated,allocations", value_parser = metric_list)]
    pub columns: MetricList,
    /// Stat over each metric's per-repeat series: min, max, mean, median, stddev, all.
    #[arg(long, value_name = "STAT", default_value = "min", value_parser = stat_choice)]
    pub stat: StatChoice,
    /// Row order.
    #[arg(long, value_enum, default_value_t = SortBy::Name)]
    pub sort: SortBy,
    /// What is compared with what: fullname, name, group, param:NAME (comma-composable).
    #[arg(long, value_name = "KEYS", default_value = "fullname", value_parser = group_by)]
    pub group_by: GroupBy,
    /// Run label, once per file in order (default: the file stem).
    #[arg(long, short = 'l', value_name = "LABEL")]
    pub label: Vec<String>,
    /// One row per benchmark and metric: the first run's value and a signed Δ% per later run.
    #[arg(long)]
    pub diff: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Fail (exit 1) when the head grows past a threshold over the base:
    /// `peak:10%`, `allocations:0%`, `peak:5MiB`, `allocations:100`, `time:2ms`;
    /// append `:strict` to require every head repeat beyond every base repeat.
    #[arg(long, value_name = "METRIC:THRESHOLD[:strict]", value_parser = FailOn::parse)]
    pub fail_on: Vec<FailOn>,
    /// Fail (exit 1) when the head exceeds an absolute ceiling: `peak:100MiB`.
    #[arg(long, value_name = "METRIC:LIMIT", value_parser = Ceiling::parse)]
    pub max: Vec<Ceiling>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn group_by_parsing() {
        assert_eq!(
            group_by("group,param:size").unwrap(),
            GroupBy(vec![GroupKey::Group, GroupKey::Param("size".into())])
        );
        assert!(group_by("param:").is_err());
        assert!(group_by("module").is_err());
    }

    #[test]
    fn lists_keep_order_and_drop_repeats() {
        assert_eq!(
            metric_list("allocs,peak,allocations").unwrap(),
            MetricList(vec![Metric::Allocations, Metric::Peak])
        );
        assert!(metric_list("").is_err());
        assert!(metric_list("peak,bogus").is_err());
        assert_eq!(
            stat_list("min,mean,max").unwrap(),
            StatList(stats::DEFAULT_SPREAD.to_vec())
        );
    }

    #[test]
    fn stat_choice_parsing() {
        assert_eq!(stat_choice("all").unwrap(), StatChoice::All);
        assert_eq!(
            stat_choice("median").unwrap(),
            StatChoice::One(Stat::Median)
        );
        assert!(stat_choice("p50").is_err());
    }
}
