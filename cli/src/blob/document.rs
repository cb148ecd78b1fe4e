//! The pytest-benchmark JSON document as benchmem writes it.

use std::sync::Arc;

use benchmem_launcher::Column;
use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use super::read::MEMORY_KEY;

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
#[derive(Clone, Debug)]
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
    /// Free-form data, but for the memory series (`memory`, written as its `benchmem`).
    pub extra_info: Map<String, Value>,
    /// `extra_info.benchmem`: each memory metric's blob key and series, in key order,
    /// shared with the run's result rather than copied (a region closed a million times
    /// has a million samples).
    pub memory: Vec<(&'static str, Column)>,
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
    /// Every round, in order (shared with the table's reading of the run).
    pub data: Arc<Vec<f64>>,
    /// Iterations per round (always 1 here: a region is measured once per sample).
    pub iterations: u64,
}

impl Serialize for Benchmark {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut b = s.serialize_struct("Benchmark", 8)?;
        b.serialize_field("group", &self.group)?;
        b.serialize_field("name", &self.name)?;
        b.serialize_field("fullname", &self.fullname)?;
        b.serialize_field("params", &self.params)?;
        b.serialize_field("param", &self.param)?;
        b.serialize_field("extra_info", &ExtraInfo(self))?;
        b.serialize_field("options", &self.options)?;
        b.serialize_field("stats", &self.stats)?;
        b.end()
    }
}

/// `extra_info` with the memory series in its place among the other keys, in key order
/// (as a `Map` writes its keys).
struct ExtraInfo<'a>(&'a Benchmark);

/// `extra_info.benchmem`.
struct Memory<'a>(&'a [(&'static str, Column)]);

/// One memory series.
struct Values<'a>(&'a [u64]);

impl Serialize for ExtraInfo<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let b = self.0;
        let mut m = s.serialize_map(Some(b.extra_info.len() + 1))?;
        let mut memory = Some(Memory(&b.memory));
        for (k, v) in &b.extra_info {
            if k.as_str() > MEMORY_KEY
                && let Some(mem) = memory.take()
            {
                m.serialize_entry(MEMORY_KEY, &mem)?;
            }
            if k != MEMORY_KEY {
                m.serialize_entry(k, v)?;
            }
        }
        if let Some(mem) = memory {
            m.serialize_entry(MEMORY_KEY, &mem)?;
        }
        m.end()
    }
}

impl Serialize for Memory<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            m.serialize_entry(k, &Values(v))?;
        }
        m.end()
    }
}

impl Serialize for Values<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0)
    }
}
