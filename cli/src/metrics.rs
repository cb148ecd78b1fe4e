//! The metrics benchmem reports: the one place that ties a metric's command-line name to
//! its key in the blob, its column header and the kind of quantity it is.

use std::fmt;
use std::str::FromStr;

use crate::units::Quantity;

/// One measured quantity of a benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub(crate) enum Metric {
    /// Wall time, read from pytest-benchmark's `stats` (seconds).
    Time,
    /// High-water of live bytes allocated inside the region.
    Peak,
    /// Sum of the requested sizes of every allocation inside the region.
    Allocated,
    /// Number of successful allocation calls inside the region.
    #[value(alias = "allocs")]
    Allocations,
    /// Bytes allocated inside the region still live at its end.
    Retained,
    /// The process's resident high-water (`VmHWM`) of a pass run in a process of its own:
    /// the pytest plugin records it (`rss_bytes`) for benchmarks marked
    /// `@pytest.mark.benchmem(isolate=True)`; `benchmem run` does not measure it.
    /// `compare` names it (`--columns`, `--fail-on`, `--max`); the columns of `run` and
    /// `show`, whose tables are a region's, do not.
    #[value(skip)]
    Rss,
}

/// Every metric in the order tables show them.
pub const ALL: [Metric; 6] = [
    Metric::Time,
    Metric::Peak,
    Metric::Allocated,
    Metric::Allocations,
    Metric::Retained,
    Metric::Rss,
];

/// The memory metrics a region measures, in blob order (what `benchmem run` writes).
pub const MEMORY: [Metric; 4] = [
    Metric::Peak,
    Metric::Allocated,
    Metric::Allocations,
    Metric::Retained,
];

/// Every per-repeat series a saved run's blob may hold: the region's, then the pytest
/// plugin's `rss_bytes` of isolated passes.
pub const BLOB: [Metric; 5] = [
    Metric::Peak,
    Metric::Allocated,
    Metric::Allocations,
    Metric::Retained,
    Metric::Rss,
];

impl Metric {
    /// Name on the command line (`--columns`, `--fail-on`).
    pub fn cli_name(self) -> &'static str {
        match self {
            Metric::Time => "time",
            Metric::Peak => "peak",
            Metric::Allocated => "allocated",
            Metric::Allocations => "allocations",
            Metric::Retained => "retained",
            Metric::Rss => "rss",
        }
    }

    /// Key of the per-repeat array in `extra_info.benchmem`; `None` for time, which lives
    /// in pytest-benchmark's own `stats`.
    pub fn blob_key(self) -> Option<&'static str> {
        match self {
            Metric::Time => None,
            Metric::Peak => Some("peak_bytes"),
            Metric::Allocated => Some("total_bytes"),
            Metric::Allocations => Some("allocations"),
            Metric::Retained => Some("retained_bytes"),
            Metric::Rss => Some("rss_bytes"),
        }
    }

    /// Column header, before any stat or unit is appended.
    pub fn header(self) -> &'static str {
        match self {
            Metric::Allocations => "allocs",
            other => other.cli_name(),
        }
    }

    /// What kind of number it is, which decides units and formatting.
    pub fn quantity(self) -> Quantity {
        match self {
            Metric::Time => Quantity::Seconds,
            Metric::Allocations => Quantity::Count,
            Metric::Peak | Metric::Allocated | Metric::Retained | Metric::Rss => Quantity::Bytes,
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.cli_name())
    }
}

/// A metric name that is not one of [`ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown metric '{0}': choose from time, peak, allocated, allocations (or allocs), retained, rss"
)]
pub struct UnknownMetric(pub String);

impl FromStr for Metric {
    type Err = UnknownMetric;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        if wanted == "allocs" {
            return Ok(Metric::Allocations);
        }
        ALL.iter()
            .copied()
            .find(|m| m.cli_name() == wanted)
            .ok_or_else(|| UnknownMetric(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_alias() {
        for m in ALL {
            assert_eq!(m.cli_name().parse::<Metric>(), Ok(m));
        }
        assert_eq!("allocs".parse::<Metric>(), Ok(Metric::Allocations));
        assert_eq!(Metric::Allocations.header(), "allocs");
        assert_eq!(Metric::Allocated.blob_key(), Some("total_bytes"));
        assert_eq!(Metric::Time.blob_key(), None);
    }

    #[test]
    fn unknown_metric_message_lists_choices() {
        let e = "vms".parse::<Metric>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown metric 'vms': choose from time, peak, allocated, allocations (or allocs), retained, rss"
        );
        assert_eq!("rss".parse::<Metric>(), Ok(Metric::Rss));
        assert_eq!(Metric::Rss.blob_key(), Some("rss_bytes"));
    }
}
