//! pytest-benchmark's `stats` object computed from a list of round times, with the same
//! quartile, outlier and fence rules as `pytest_benchmark.stats.Stats` (5.x).

use std::sync::Arc;

use super::document::PytestStats;
use crate::stats::{mean, median_sorted, quartiles, sorted, stddev};

impl PytestStats {
    /// Stats over `data` (seconds per round), which they keep. An empty list gives all
    /// zeros: a region whose every sample lost its timing still needs a well-formed
    /// object.
    pub fn from_data(data: Arc<Vec<f64>>) -> PytestStats {
        if data.is_empty() {
            return PytestStats {
                min: 0.0,
                max: 0.0,
                mean: 0.0,
                stddev: 0.0,
                rounds: 0,
                median: 0.0,
                iqr: 0.0,
                q1: 0.0,
                q3: 0.0,
                iqr_outliers: 0,
                stddev_outliers: 0,
                outliers: "0;0".to_string(),
                ld15iqr: 0.0,
                hd15iqr: 0.0,
                ops: 0.0,
                total: 0.0,
                data,
                iterations: 1,
            };
        }
        let s = sorted(&data);
        let n = s.len();
        let (q1, q3) = quartiles(&s);
        let iqr = q3 - q1;
        let m = mean(&data);
        let sd = stddev(&data);
        let (lo, hi) = (q1 - 1.5 * iqr, q3 + 1.5 * iqr);
        let iqr_outliers = data.iter().filter(|&&v| v < lo || v > hi).count();
        let stddev_outliers = data.iter().filter(|&&v| v < m - sd || v > m + sd).count();
        let (ld15iqr, hd15iqr) = if n == 1 {
            (data[0], data[0])
        } else {
            let left = s.partition_point(|&v| v < lo).min(n - 1);
            let right = s.partition_point(|&v| v <= hi).max(1);
            (s[left], s[right - 1])
        };
        let total: f64 = data.iter().sum();
        PytestStats {
            min: s[0],
            max: s[n - 1],
            mean: m,
            stddev: sd,
            rounds: n,
            median: median_sorted(&s),
            iqr,
            q1,
            q3,
            iqr_outliers,
            stddev_outliers,
            outliers: format!("{stddev_outliers};{iqr_outliers}"),
            ld15iqr,
            hd15iqr,
            ops: if total > 0.0 { n as f64 / total } else { 0.0 },
            total,
            data,
            iterations: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values computed with pytest_benchmark.stats.Stats (5.3.1) on the same data.
    #[test]
    fn matches_pytest_benchmark_odd() {
        let st = PytestStats::from_data(Arc::new(vec![1.0, 2.0, 3.0, 4.0, 100.0]));
        assert_eq!((st.q1, st.q3, st.iqr), (1.75, 28.0, 26.25));
        assert_eq!((st.mean, st.stddev), (22.0, 43.617656975128774));
        assert_eq!(st.median, 3.0);
        assert_eq!(st.rounds, 5);
        assert_eq!(st.total, 110.0);
        assert_eq!(st.ops, 5.0 / 110.0);
        assert_eq!(st.outliers, "1;1");
        assert_eq!((st.ld15iqr, st.hd15iqr), (1.0, 4.0));
    }

    #[test]
    fn matches_pytest_benchmark_even_and_single() {
        let st = PytestStats::from_data(Arc::new(vec![4.0, 1.0, 3.0, 2.0]));
        assert_eq!((st.q1, st.q3), (1.5, 3.5));
        assert_eq!((st.mean, st.stddev, st.ops), (2.5, 1.2909944487358056, 0.4));
        assert_eq!((st.ld15iqr, st.hd15iqr), (1.0, 4.0));
        assert_eq!(st.outliers, "2;0");
        let one = PytestStats::from_data(Arc::new(vec![0.5]));
        assert_eq!(
            (one.min, one.max, one.stddev, one.q1, one.iqr),
            (0.5, 0.5, 0.0, 0.5, 0.0)
        );
        assert_eq!(one.ops, 2.0);
        let none = PytestStats::from_data(Arc::new(vec![]));
        assert_eq!((none.rounds, none.ops), (0, 0.0));
    }
}
