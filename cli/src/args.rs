//! Command-line syntax (clap). Values are parsed into their final types here, so a bad
//! metric, stat or threshold is a usage error (exit 2) naming the argument.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::gate::{Ceiling, FailOn};
use crate::metrics::Metric;
use crate::report::Format;
use crate::stats::{self, Stat};

/// Exact per-region memory measurement for benchmarks.
#[derive(Debug, Parser)]
#[command(name = "benchmem", version, about, long_about = None)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a command under the preload, print its memory table on stderr, save the run.
    Run(RunArgs),
    /// Print the table of a saved run (benchmem's or pytest-benchmark's JSON).
    Show(ShowArgs),
    /// Lay saved runs side by side; gate CI on memory growth.
    Compare(CompareArgs),
    /// Draw saved runs: scaling, scatter, compare, sweep or timeline, as HTML or SVG.
    Plot(crate::plot::PlotArgs),
    /// Run one pytest-benchmark suite against several versions of a package, each in a
    /// fresh venv, saving `<out>/<version>.json` per version.
    #[command(long_about = crate::commands::sweep::LONG_ABOUT)]
    Sweep(crate::commands::sweep::SweepArgs),
    /// The call sites that hold or churn a region's memory (needs `run --stacks`); with two
    /// runs, the sites whose figures changed most.
    Where(WhereArgs),
    /// Draw where a region's memory goes as an interactive flame graph (SVG or HTML); with
    /// two runs, a differential one (grown red, shrunk blue).
    Flamegraph(FlamegraphArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    Completions(CompletionsArgs),
    /// Print benchmem's manual page (roff) on stdout: `benchmem man | man -l -`.
    Man(ManArgs),
    /// Print the path of the preload library `run` uses (`LD_PRELOAD` it yourself to
    /// measure regions in-process), writing out the one built into benchmem if need be.
    PreloadPath,
}

/// `benchmem completions`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish, powershell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `benchmem man`.
#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// The page of one subcommand (`benchmem-run(1)`) instead of benchmem(1).
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,
}

/// Table borders on a terminal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum TableStyle {
    /// Rounded box-drawing characters.
    #[default]
    Rounded,
    /// ASCII only (`+`, `-`, `|`): old terminals, fonts without box drawing, plain logs.
    Ascii,
}

/// The run table's columns, shared by `run` and `show`.
#[derive(Debug, Args)]
pub(crate) struct TableArgs {
    /// Metrics to show: peak, allocated, allocations (allocs), retained, time.
    #[arg(
        long,
        value_name = "LIST",
        value_enum,
        value_delimiter = ',',
        hide_possible_values = true,
        default_value = "peak,allocated,allocations"
    )]
    columns: Vec<Metric>,
    /// Stats each metric spreads into when a series holds several samples.
    #[arg(
        long,
        visible_alias = "stat",
        value_name = "LIST",
        value_enum,
        value_delimiter = ',',
        hide_possible_values = true,
        default_value = "min,mean,max"
    )]
    stats: Vec<Stat>,
    /// Table borders on a terminal: rounded, or ascii.
    #[arg(long, value_enum, default_value_t = TableStyle::Rounded)]
    pub style: TableStyle,
    /// List every helper process (the `env`, `bash`, `readlink` a shim such as pyenv's
    /// runs before the program) as a row of its own instead of one line under the table.
    #[arg(long)]
    pub all_processes: bool,
}

impl Default for TableArgs {
    fn default() -> TableArgs {
        TableArgs {
            columns: vec![Metric::Peak, Metric::Allocated, Metric::Allocations],
            stats: stats::DEFAULT_SPREAD.to_vec(),
            style: TableStyle::Rounded,
            all_processes: false,
        }
    }
}

impl TableArgs {
    /// The metrics asked for, each once, in the order given.
    pub(crate) fn metrics(&self) -> Vec<Metric> {
        unique(&self.columns)
    }

    /// The stats asked for, each once, in the order given.
    pub(crate) fn stats(&self) -> Vec<Stat> {
        unique(&self.stats)
    }
}

/// `list` without repeats, in the order given.
fn unique<T: Copy + PartialEq>(list: &[T]) -> Vec<T> {
    let mut out = Vec::with_capacity(list.len());
    for &x in list {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

/// The separator between commands when not chosen with `--separator`.
pub(crate) const DEFAULT_SEPARATOR: &str = ":::";

/// `benchmem run`.
#[derive(Debug, Args)]
#[command(
    after_help = "Several commands: benchmem run -n 5 -- ./a ::: ./b --flag \
    (each measured in turn, then compared; --name once per command). \
    A command's own `:::` argument needs another --separator."
)]
pub(crate) struct RunArgs {
    /// Fresh runs of the command; each region's series gets one sample per run.
    #[arg(long, short = 'n', visible_alias = "runs", visible_short_alias = 'r', default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub repeats: u32,
    /// Unmeasured runs before the repeats (warm caches); their stdout is discarded, their
    /// stderr shown.
    #[arg(long, short = 'w', value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub warmup: u32,
    /// Save the run here (pytest-benchmark JSON, written atomically).
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Name of the command's own process row (over BENCHMEM_REGION, for that row only)
    /// and, with several commands, of the command (the prefix of its ids). Once per
    /// command, in order. Default: the program's name.
    #[arg(long, value_name = "NAME")]
    pub name: Vec<String>,
    /// Go on after a repeat whose command fails (its samples are kept, the blob lists the
    /// failed repeats) and exit 0; by default the run stops there with the command's status.
    #[arg(long, short = 'i')]
    pub ignore_failure: bool,
    /// Shell command run (`sh -c`, unmeasured) before every run of the command, warmups
    /// included; its failure stops the run.
    #[arg(long, value_name = "CMD")]
    pub prepare: Option<OsString>,
    /// Shell command run (`sh -c`, unmeasured) after every run of the command, warmups
    /// included; its failure stops the run.
    #[arg(long, value_name = "CMD")]
    pub cleanup: Option<OsString>,
    /// Give every run this file as its standard input, read from its start each time.
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// No table, notes or progress on stderr (the command's own output and benchmem's
    /// errors still appear).
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Also write the table as Markdown here (what `show --format md` prints).
    #[arg(long, value_name = "FILE")]
    pub export_markdown: Option<PathBuf>,
    /// Also write the table as CSV here (what `show --format csv` prints).
    #[arg(long, value_name = "FILE")]
    pub export_csv: Option<PathBuf>,
    /// The word between commands when several are measured.
    #[arg(long, value_name = "SEP", default_value = DEFAULT_SEPARATOR)]
    pub separator: String,
    /// Columns of the table.
    #[command(flatten)]
    pub table: TableArgs,
    /// Leave address-space randomization on for the command. By default it is off, so
    /// allocators that decide by address (CPython's) give the same numbers every repeat.
    #[arg(long)]
    pub keep_aslr: bool,
    /// Record the call stack of every allocation and split each region's figures by call
    /// site: saved beside `--json RUN.json` as `RUN.stacks.json` (read by `where` and
    /// `flamegraph`); without `--json`, the top sites at each region's peak are shown.
    #[arg(long)]
    pub stacks: bool,
    /// The program to measure and its arguments (after `--`); several commands are
    /// separated by `:::` (see `--separator`).
    /// A mistyped option before it is clap's error, not the command: only the arguments
    /// after the program's name may start with `-` without `--`.
    #[arg(required = true, trailing_var_arg = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

impl RunArgs {
    /// The commands, split at the separator; an error names what is wrong.
    pub(crate) fn commands(&self) -> Result<Vec<Vec<OsString>>, String> {
        if self.separator.is_empty() {
            return Err(
                "--separator is empty: give a word that no command uses as an argument".into(),
            );
        }
        let mut out = vec![Vec::new()];
        for a in &self.command {
            if a.as_os_str() == std::ffi::OsStr::new(&self.separator) {
                out.push(Vec::new());
            } else {
                out.last_mut()
                    .expect("one command at least")
                    .push(a.clone());
            }
        }
        if let Some(i) = out.iter().position(Vec::is_empty) {
            return Err(format!(
                "command {} of {} is empty (`{}` at the start, at the end or twice in a row): \
                 give a program after each `{}`, or choose another --separator",
                i + 1,
                out.len(),
                self.separator,
                self.separator
            ));
        }
        if !self.name.is_empty() && self.name.len() != out.len() {
            return Err(format!(
                "--name given {} time(s) for {} command(s): give one name per command, in order",
                self.name.len(),
                out.len()
            ));
        }
        if let Some(n) = self.name.iter().find(|n| n.is_empty()) {
            return Err(format!("--name {n:?} is empty: give each command a name"));
        }
        Ok(out)
    }
}

/// How `where` prints its sites.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum WhereFormat {
    /// A table for the terminal.
    Table,
    /// A GitHub-flavoured Markdown table.
    Md,
    /// Comma-separated values, raw numbers.
    Csv,
    /// One line per distinct stack, frames outermost first separated by `;`, a space and
    /// the value: what flamegraph.pl, inferno and speedscope read.
    Folded,
}

/// `benchmem where`.
#[derive(Debug, Args)]
pub(crate) struct WhereArgs {
    /// A run saved with `run --stacks --json`; two runs (BASE HEAD): the sites that
    /// changed most; more: each against the first.
    #[arg(required = true, value_name = "RUN.json")]
    pub files: Vec<PathBuf>,
    /// The region (benchmark id, region name or a unique part of the id); default: every
    /// region with stack data.
    #[arg(long, value_name = "NAME")]
    pub region: Option<String>,
    /// What to split: peak (bytes live at the region's peak), allocated, allocations or
    /// retained.
    #[arg(long, value_enum, default_value_t = Metric::Peak, hide_possible_values = true)]
    pub metric: Metric,
    /// Sites shown per region.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = WhereFormat::Table)]
    pub format: WhereFormat,
    /// Which sample of the region's series (0-based, the order of `extra_info.benchmem`);
    /// default: the headline one, the sample whose figure the table shows.
    #[arg(long, value_name = "N")]
    pub sample: Option<usize>,
}

/// `--worst`: the metric by which `flamegraph DIR` picks a profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Worst {
    /// Highest peak.
    Peak,
    /// Most bytes allocated.
    Allocated,
    /// Most allocation calls.
    #[value(alias = "allocs")]
    Allocations,
}

impl Worst {
    /// The metric it names.
    pub(crate) fn metric(self) -> Metric {
        match self {
            Worst::Peak => Metric::Peak,
            Worst::Allocated => Metric::Allocated,
            Worst::Allocations => Metric::Allocations,
        }
    }
}

/// `benchmem flamegraph`.
#[derive(Debug, Args)]
pub(crate) struct FlamegraphArgs {
    /// RUN.json (a run saved with `run --stacks --json`), BASE.json HEAD.json (a
    /// differential graph), or DIR [TEST_ID] (one profile among a directory of saved runs:
    /// exact id, unique part of an id, or `--worst`).
    #[arg(required = true, num_args = 1..=2, value_name = "RUN.json|DIR")]
    pub inputs: Vec<PathBuf>,
    /// The region (benchmark id, region name or a unique part of the id); default: every
    /// region with stack data, one tower each.
    #[arg(long, value_name = "NAME")]
    pub region: Option<String>,
    /// What the widths are: peak, allocated, allocations or retained.
    #[arg(long, value_enum, default_value_t = Metric::Peak, hide_possible_values = true)]
    pub metric: Metric,
    /// Which sample (0-based); default: the headline one.
    #[arg(long, value_name = "N")]
    pub sample: Option<usize>,
    /// Where to write it: FILE.svg, or FILE.html (the SVG inside a page); default:
    /// `RUN.flamegraph.svg` beside the run.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Open it in the desktop's viewer (xdg-open) once written.
    #[arg(long)]
    pub open: bool,
    /// With a directory: the profile with the highest headline figure of this metric.
    #[arg(long, value_enum)]
    pub worst: Option<Worst>,
}

/// `benchmem show`.
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
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

/// `--stat`: the stats asked for, in order, or all of them (each metric with the stats it
/// has: time adds `iqr`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum StatChoice {
    /// These stats, each once, in the order given.
    List(Vec<Stat>),
    /// min, max, mean, median and stddev, and iqr for time.
    All,
}

/// The stat names `--stat` takes, for messages.
const STAT_CHOICES: &str = "min, max, mean, median, stddev, iqr (time only), all";

fn stat_choice(s: &str) -> Result<StatChoice, String> {
    let mut list: Vec<Stat> = Vec::new();
    for part in s.split(',').map(str::trim) {
        if part == "all" {
            return Ok(StatChoice::All);
        }
        let parsed = match part {
            "iqr" => Ok(Stat::Iqr),
            other => <Stat as ValueEnum>::from_str(other, false),
        };
        match parsed {
            Ok(st) if !list.contains(&st) => list.push(st),
            Ok(_) => {}
            // A bare `--stat` before the files takes the first file as its value.
            Err(_) if part.ends_with(".json") || part.contains('/') => {
                return Err(format!(
                    "'{part}' is not a stat ({STAT_CHOICES}); a bare --stat means all: put it after the files, or write --stat all"
                ));
            }
            Err(_) => return Err(format!("unknown stat '{part}': choose from {STAT_CHOICES}")),
        }
    }
    if list.is_empty() {
        return Err(format!("empty --stat: choose from {STAT_CHOICES}"));
    }
    Ok(StatChoice::List(list))
}

impl StatChoice {
    /// The one stat chosen, or none for several or `all`.
    pub(crate) fn one(&self) -> Option<Stat> {
        match self {
            StatChoice::List(l) if l.len() == 1 => Some(l[0]),
            _ => None,
        }
    }

    /// The stats to show of `metric`: `all` gives each metric the stats it has.
    pub(crate) fn stats_for(&self, metric: Metric) -> Vec<Stat> {
        match self {
            StatChoice::List(l) => l.clone(),
            StatChoice::All if metric == Metric::Time => {
                let mut s = stats::ALL.to_vec();
                // pytest-benchmark's order: the IQR before the standard deviation.
                s.insert(4, Stat::Iqr);
                s
            }
            StatChoice::All => stats::ALL.to_vec(),
        }
    }

    /// The stat gates compare: the one chosen, or the headline (min) with several or `all`
    /// (an IQR is a spread, not a value that grows with the program's cost).
    pub(crate) fn gate_stat(&self) -> Stat {
        self.one().filter(|s| *s != Stat::Iqr).unwrap_or(Stat::Min)
    }
}

/// One column of `compare --columns`: a metric, or a numeric `extra_info` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ColumnChoice {
    /// A measured metric.
    Metric(Metric),
    /// `extra:NAME`: the benchmark's numeric `extra_info` value `NAME`, shown as it is.
    Extra(String),
}

fn column_choice(s: &str) -> Result<ColumnChoice, String> {
    let s = s.trim();
    if let Some(name) = s.strip_prefix("extra:") {
        let name = name.trim();
        if name.is_empty() {
            return Err("'extra:' names no extra_info value: write extra:NAME".into());
        }
        if name.starts_with("benchmem") {
            return Err(format!(
                "'extra:{name}': extra_info.{name} is benchmem's own; extra:NAME shows a number of the benchmark's own extra_info"
            ));
        }
        return Ok(ColumnChoice::Extra(name.to_string()));
    }
    s.parse::<Metric>()
        .map(ColumnChoice::Metric)
        .map_err(|e| format!("{e}, or extra:NAME for a numeric extra_info value"))
}

/// Row order of `compare`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum SortBy {
    /// By benchmark id.
    Name,
    /// Largest value in the last run first (first column).
    Value,
    /// Biggest growth from the first to the last run first (first column).
    Change,
}

/// One part of `--group-by`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum GroupKey {
    /// The benchmark id: each benchmark compared with itself across runs.
    Fullname,
    /// The short name (same test in different modules or params together).
    Name,
    /// pytest-benchmark's `group`.
    Group,
    /// The test function (`test_b` of `mod.py::Class::test_b[x]`).
    Func,
    /// The module (`mod.py`).
    Module,
    /// The innermost class (`Class`); none for a function outside a class.
    Class,
    /// One parametrize argument's value.
    Param(String),
}

const GROUP_CHOICES: &str = "fullname, name, func, group, module, class, param:NAME";

/// `--group-by`: a comma-separated list of keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GroupBy(pub Vec<GroupKey>);

fn group_by(s: &str) -> Result<GroupBy, String> {
    let mut keys = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        keys.push(match part {
            "fullname" => GroupKey::Fullname,
            "name" => GroupKey::Name,
            "group" => GroupKey::Group,
            "func" => GroupKey::Func,
            "module" => GroupKey::Module,
            "class" => GroupKey::Class,
            p => match p.strip_prefix("param:") {
                Some(n) if !n.is_empty() => GroupKey::Param(n.to_string()),
                _ => {
                    return Err(format!(
                        "unknown grouping '{part}': choose from {GROUP_CHOICES}"
                    ));
                }
            },
        });
    }
    if keys.is_empty() {
        return Err(format!("empty grouping: choose from {GROUP_CHOICES}"));
    }
    Ok(GroupBy(keys))
}

/// `benchmem compare`.
#[derive(Debug, Args)]
pub(crate) struct CompareArgs {
    /// Saved runs, oldest first: the first is the base, the last the head (each file
    /// once; with --pivot, one run).
    #[arg(required = true, value_name = "RUN.json")]
    pub files: Vec<PathBuf>,
    /// Columns to show: time, peak, allocated, allocations (allocs), retained, rss (the
    /// pytest plugin's isolated passes), and extra:NAME for a numeric extra_info value (or
    /// parameter) of each benchmark, shown as it is; a metric no run measured is dropped.
    #[arg(
        long,
        visible_alias = "metric",
        value_name = "LIST",
        value_delimiter = ',',
        value_parser = column_choice,
        default_value = "time,peak,allocated,allocations"
    )]
    pub columns: Vec<ColumnChoice>,
    /// Stats over each metric's series, comma-separated: min, max, mean, median, stddev,
    /// iqr (time only), or all (a bare --stat: each metric with every stat it has).
    #[arg(
        long,
        visible_alias = "stats",
        value_name = "STATS",
        num_args = 0..=1,
        default_missing_value = "all",
        default_value = "min",
        value_parser = stat_choice
    )]
    pub stat: StatChoice,
    /// Row order.
    #[arg(long, value_enum, default_value_t = SortBy::Name)]
    pub sort: SortBy,
    /// What is compared with what: fullname, name, func, group, module, class, param:NAME
    /// (comma-composable).
    #[arg(long, value_name = "KEYS", default_value = "fullname", value_parser = group_by)]
    pub group_by: GroupBy,
    /// Fold ONE run along a parameter (param:NAME) or an extra_info value (NAME): its values
    /// become the compared series (test_b[legacy-100] and test_b[fast-100] are the runs
    /// legacy and fast of test_b[100]), in the order they first appear; the first is the
    /// base of --diff and --fail-on, the last the head.
    #[arg(long, value_name = "DIM")]
    pub pivot: Option<String>,
    /// Also write the comparison to this CSV file: one row per benchmark (`id`), one column
    /// per metric, stat and run (`peak:min:base`), raw numbers (bytes, seconds, calls).
    #[arg(long, value_name = "PATH")]
    pub csv: Option<PathBuf>,
    /// Run label, once per file in order (default: the file stem, with as many parent
    /// directories as tell files of one name apart).
    #[arg(long, short = 'l', value_name = "LABEL")]
    pub label: Vec<String>,
    /// One row per benchmark and metric: the first run's value and a signed Δ% per later run.
    #[arg(long)]
    pub diff: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Table borders on a terminal: rounded, or ascii.
    #[arg(long, value_enum, default_value_t = TableStyle::Rounded)]
    pub style: TableStyle,
    /// Fail (exit 1) when the head grows past a threshold over the base:
    /// `peak:10%`, `allocations:0%`, `peak:5MiB`, `allocations:100`, `time:2ms`,
    /// `rss:10%`; `peak:20%+8MiB` fails only on growth past both; append `:strict` to
    /// require every head repeat beyond every base repeat.
    #[arg(long, value_name = "METRIC:THRESHOLD[:strict]", value_parser = FailOn::parse)]
    pub fail_on: Vec<FailOn>,
    /// Fail (exit 1) when the head exceeds an absolute ceiling: `peak:100MiB`.
    #[arg(long, value_name = "METRIC:LIMIT", value_parser = Ceiling::parse)]
    pub max: Vec<Ceiling>,
    /// Fail (exit 1) when a gate cannot be evaluated: a benchmark with no complete sample,
    /// or a gated metric that one side did not measure.
    #[arg(long)]
    pub strict: bool,
    /// Gate time on fewer rounds than a test can tell from noise (5 a side): the change
    /// is then gated on its threshold alone.
    #[arg(long)]
    pub allow_few_samples: bool,
}

impl CompareArgs {
    /// The metrics asked for, each once, in the order given.
    pub(crate) fn metrics(&self) -> Vec<Metric> {
        let metrics: Vec<Metric> = self
            .columns
            .iter()
            .filter_map(|c| match c {
                ColumnChoice::Metric(m) => Some(*m),
                ColumnChoice::Extra(_) => None,
            })
            .collect();
        unique(&metrics)
    }

    /// The `extra:NAME` columns asked for, each once, in the order given.
    pub(crate) fn extras(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in &self.columns {
            if let ColumnChoice::Extra(n) = c
                && !out.contains(n)
            {
                out.push(n.clone());
            }
        }
        out
    }
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
        assert_eq!(
            group_by("func,module,class").unwrap(),
            GroupBy(vec![GroupKey::Func, GroupKey::Module, GroupKey::Class])
        );
        assert!(group_by("param:").is_err());
        assert_eq!(
            group_by("fullfunc").unwrap_err(),
            "unknown grouping 'fullfunc': choose from fullname, name, func, group, module, class, param:NAME"
        );
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(["benchmem"].iter().chain(args))
    }

    #[test]
    fn lists_keep_order_and_drop_repeats() {
        let Command::Show(a) = parse(&["show", "r.json", "--columns", "allocs,peak,allocations"])
            .unwrap()
            .command
        else {
            panic!("not show");
        };
        assert_eq!(a.table.metrics(), vec![Metric::Allocations, Metric::Peak]);
        assert_eq!(a.table.stats(), stats::DEFAULT_SPREAD.to_vec());
        for bad in ["", "peak,bogus", "p50"] {
            let e = parse(&["show", "r.json", "--columns", bad]).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::InvalidValue, "{bad:?}");
        }
    }

    #[test]
    fn stat_choice_parsing() {
        let stat = |args: &[&str]| match parse(args).map(|c| c.command) {
            Ok(Command::Compare(a)) => Some(a.stat),
            _ => None,
        };
        let list = |l: &[Stat]| Some(StatChoice::List(l.to_vec()));
        assert_eq!(
            stat(&["compare", "a.json", "--stat", "all"]),
            Some(StatChoice::All)
        );
        assert_eq!(
            stat(&["compare", "a.json", "--stat"]),
            Some(StatChoice::All)
        );
        assert_eq!(stat(&["compare", "a.json"]), list(&[Stat::Min]));
        assert_eq!(
            stat(&["compare", "a.json", "--stat", "median,min,median"]),
            list(&[Stat::Median, Stat::Min])
        );
        assert_eq!(stat(&["compare", "a.json", "--stat", "p50"]), None);
        assert_eq!(
            stat_choice("p50").unwrap_err(),
            "unknown stat 'p50': choose from min, max, mean, median, stddev, iqr (time only), all"
        );
        assert!(
            stat_choice("b.json")
                .unwrap_err()
                .contains("a bare --stat means all")
        );
        assert_eq!(StatChoice::All.gate_stat(), Stat::Min);
        assert_eq!(StatChoice::List(vec![Stat::Iqr]).gate_stat(), Stat::Min);
        assert_eq!(StatChoice::List(vec![Stat::Max]).gate_stat(), Stat::Max);
        assert_eq!(
            StatChoice::All.stats_for(Metric::Time),
            [
                Stat::Min,
                Stat::Max,
                Stat::Mean,
                Stat::Median,
                Stat::Iqr,
                Stat::Stddev
            ]
        );
        assert_eq!(StatChoice::All.stats_for(Metric::Peak), stats::ALL);
    }

    #[test]
    fn compare_columns_take_extra_values() {
        let Command::Compare(a) = parse(&[
            "compare",
            "a.json",
            "--columns",
            "peak,extra:variables,allocs,extra:variables",
        ])
        .unwrap()
        .command
        else {
            panic!("not compare");
        };
        assert_eq!(a.metrics(), vec![Metric::Peak, Metric::Allocations]);
        assert_eq!(a.extras(), vec!["variables".to_string()]);
        assert_eq!(
            column_choice("extra:").unwrap_err(),
            "'extra:' names no extra_info value: write extra:NAME"
        );
        assert_eq!(
            column_choice("vms").unwrap_err(),
            "unknown metric 'vms': choose from time, peak, allocated, allocations (or allocs), retained, rss, or extra:NAME for a numeric extra_info value"
        );
    }
}
