//! The pytest-benchmark JSON document as benchmem writes it.

use serde::Serialize;
use serde_json::{Map, Value};

/// A whole saved run: the top level of a pytest-benchmark JSON file.
#[derive(Clone, Debug, Serialize)]
pub struct Document {
    /// Host description (pytest-benchmark's `machine_info`; Python fields left empty).
    pub machine_info: Map<String, Value>,
    /// The git commit the run was made from (pytest-benchmark's `commit_info`).
    pub commit_info: Map<String, Value>,
    /// One entry per benchmark (for `benchmem run`: per region).
    pub benchmarks: Vec<Benchmark>,
    /// When the run started, ISO-8601 UTC (`2024-05-01T12:00:00.000000+00:00`).
    pub datetime: String,
    /// Version of the writer (benchmem's).
    pub version: String,
    /// benchmem's own run description (command, repeats, exit status, run-level notes);
    /// pytest-benchmark ignores keys it does not know.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub benchmem: Option<Map<String, Value>>,
}

/// One benchmark of a [`Document`], in pytest-benchmark's `Metadata.as_dict` shape.
#[derive(Clone, Debug, Serialize)]
pub struct Benchmark {
    /// pytest-benchmark group (benchmem run: none).
    pub group: Option<String>,
    /// Short name (benchmem run: the region name).
    pub name: String,
    /// Unique id, the key runs are matched on (benchmem run: `COMMAND::REGION`).
    pub fullname: String,
    /// Parametrize values (benchmem run: none).
    pub params: Option<Map<String, Value>>,
    /// Parametrize id (benchmem run: none).
    pub param: Option<String>,
    /// Free-form data; memory lives under `benchmem`.
    pub extra_info: Map<String, Value>,
    /// How the timing was taken (pytest-benchmark's `options`).
    pub options: Map<String, Value>,
    /// Timing statistics in seconds.
    pub stats: PytestStats,
}

/// pytest-benchmark's full `stats` object, field for field, so its `compare` can read it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PytestStats {
    /// Fastest round.
    pub min: f64,
    /// Slowest round.
    pub max: f64,
    /// Mean round.
    pub mean: f64,
    /// Sample standard deviation (0 for one round).
    pub stddev: f64,
    /// Number of rounds.
    pub rounds: usize,
    /// Median round.
    pub median: f64,
    /// q3 − q1.
    pub iqr: f64,
    /// First quartile, computed exactly like pytest-benchmark.
    pub q1: f64,
    /// Third quartile.
    pub q3: f64,
    /// Rounds beyond 1.5 IQR of the quartiles.
    pub iqr_outliers: usize,
    /// Rounds beyond one stddev of the mean.
    pub stddev_outliers: usize,
    /// `"<stddev_outliers>;<iqr_outliers>"`.
    pub outliers: String,
    /// Lowest datum within 1.5 IQR under q1.
    pub ld15iqr: f64,
    /// Highest datum within 1.5 IQR over q3.
    pub hd15iqr: f64,
    /// Rounds per second (rounds / total; 0 when total is 0).
    pub ops: f64,
    /// Sum of all rounds.
    pub total: f64,
    /// Every round, in order.
    pub data: Vec<f64>,
    /// Iterations per round (always 1 here: a region is measured once per sample).
    pub iterations: u64,
}
