//! Summary statistics over one metric's per-repeat series.
//!
//! `stddev` is the *sample* standard deviation (n − 1 in the denominator, 0 for a single
//! value), the same as pytest-benchmark's `stats.stddev`, so a time column and a memory
//! column mean the same thing by "stddev".

/// One way to summarise a series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub(crate) enum Stat {
    /// Smallest value: the headline (least disturbed by noise for memory and time).
    Min,
    /// Largest value.
    Max,
    /// Arithmetic mean.
    Mean,
    /// Middle value (mean of the two middle values for an even count).
    Median,
    /// Sample standard deviation (n − 1), 0 for one value.
    Stddev,
    /// Interquartile range (Q3 − Q1), computed as pytest-benchmark computes it over its
    /// rounds: for time only (a handful of exact memory repeats has no quartiles worth
    /// the name). Named by `compare --stat` only.
    #[value(skip)]
    Iqr,
}

/// Every stat, in the order `--stat all` shows them.
pub const ALL: [Stat; 5] = [Stat::Min, Stat::Max, Stat::Mean, Stat::Median, Stat::Stddev];

/// The default spread of a table when a series holds several repeats.
pub const DEFAULT_SPREAD: [Stat; 3] = [Stat::Min, Stat::Mean, Stat::Max];

impl Stat {
    /// Name on the command line and in pytest-benchmark's `stats` object.
    pub fn name(self) -> &'static str {
        match self {
            Stat::Min => "min",
            Stat::Max => "max",
            Stat::Mean => "mean",
            Stat::Median => "median",
            Stat::Stddev => "stddev",
            Stat::Iqr => "iqr",
        }
    }

    /// This statistic of `values`; `None` for an empty series or one holding a NaN.
    pub fn of(self, values: &[f64]) -> Option<f64> {
        if values.is_empty() || values.iter().any(|v| v.is_nan()) {
            return None;
        }
        Some(match self {
            Stat::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
            Stat::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            Stat::Mean => mean(values),
            Stat::Median => median(values),
            Stat::Stddev => stddev(values),
            Stat::Iqr => iqr(values),
        })
    }
}

/// Arithmetic mean of a non-empty slice.
pub fn mean(values: &[f64]) -> f64 {
    mean_of(values.iter().copied(), values.len())
}

/// Arithmetic mean of `n` (> 0) values, which `values` gives (twice, when the plain sum
/// overflows).
pub fn mean_of(values: impl Iterator<Item = f64> + Clone, n: usize) -> f64 {
    let n = n as f64;
    let sum: f64 = values.clone().sum();
    if sum.is_finite() {
        sum / n
    } else {
        // Values near f64::MAX overflow the plain sum; dividing first keeps them finite.
        values.map(|v| v / n).sum()
    }
}

/// Median of a non-empty slice.
pub fn median(values: &[f64]) -> f64 {
    median_sorted(&sorted(values))
}

/// Median of a non-empty, sorted slice.
pub fn median_sorted(sorted: &[f64]) -> f64 {
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        let (a, b) = (sorted[mid - 1], sorted[mid]);
        // (a + b) / 2 is what Python's statistics.median computes; halve first on overflow.
        let m = (a + b) / 2.0;
        if m.is_finite() { m } else { a / 2.0 + b / 2.0 }
    }
}

/// Sample standard deviation (n − 1); 0 for fewer than two values.
pub fn stddev(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let m = mean(values);
    let ss: f64 = values.iter().map(|v| (v - m) * (v - m)).sum();
    (ss / (values.len() - 1) as f64).sqrt()
}

/// Interquartile range of a non-empty slice, by pytest-benchmark's rule (its
/// `Stats.q1`/`q3`): an even count takes the medians of the halves, an odd one
/// interpolates (method 3), so a time's IQR computed here over complete rounds is what
/// pytest-benchmark saves for all of them.
pub fn iqr(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let (q1, q3) = quartiles(&sorted(values));
    q3 - q1
}

/// q1 and q3 of sorted, non-empty data as pytest-benchmark computes them (its
/// `Stats.q1`/`q3`): Wikipedia's method 3 for odd counts, the median of each half for
/// even counts.
pub fn quartiles(s: &[f64]) -> (f64, f64) {
    let n = s.len();
    if n == 1 {
        return (s[0], s[0]);
    }
    if n % 2 == 1 {
        let (k, r) = (n / 4, n % 4);
        if r == 1 {
            (
                0.25 * s[k - 1] + 0.75 * s[k],
                0.75 * s[3 * k] + 0.25 * s[3 * k + 1],
            )
        } else {
            (
                0.75 * s[k] + 0.25 * s[k + 1],
                0.25 * s[3 * k + 1] + 0.75 * s[3 * k + 2],
            )
        }
    } else {
        (median_sorted(&s[..n / 2]), median_sorted(&s[n / 2..]))
    }
}

/// A sorted copy (NaN-free input assumed; NaN would sort last). Unstable: values equal
/// in the total order are the same bits, and it needs no room beside the copy.
pub fn sorted(values: &[f64]) -> Vec<f64> {
    let mut v = values.to_vec();
    v.sort_unstable_by(|a, b| a.total_cmp(b));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_stats() {
        let v = [3.0, 1.0, 4.0, 1.0, 5.0];
        assert_eq!(Stat::Min.of(&v), Some(1.0));
        assert_eq!(Stat::Max.of(&v), Some(5.0));
        assert_eq!(Stat::Mean.of(&v), Some(2.8));
        assert_eq!(Stat::Median.of(&v), Some(3.0));
        // statistics.stdev([3, 1, 4, 1, 5]) == 1.7888543819998317
        assert_eq!(Stat::Stddev.of(&v), Some(1.7888543819998317));
        assert_eq!(Stat::Median.of(&[1.0, 2.0, 3.0, 10.0]), Some(2.5));
    }

    #[test]
    fn iqr_as_pytest_benchmark() {
        // pytest_benchmark.stats.Stats over these rounds: .iqr
        assert_eq!(Stat::Iqr.of(&[3.0, 1.0, 4.0, 1.0, 5.0]), Some(3.25));
        assert_eq!(Stat::Iqr.of(&[1.0, 2.0, 3.0, 4.0]), Some(2.0));
        assert_eq!(Stat::Iqr.of(&[1.0, 2.0, 10.0]), Some(6.75));
        assert_eq!(
            Stat::Iqr.of(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]),
            Some(3.5)
        );
        assert_eq!(Stat::Iqr.of(&[7.0]), Some(0.0));
    }

    #[test]
    fn degenerate_series() {
        assert_eq!(Stat::Stddev.of(&[7.0]), Some(0.0));
        assert_eq!(Stat::Min.of(&[]), None);
        assert_eq!(Stat::Mean.of(&[1.0, f64::NAN]), None);
        // Near u64::MAX a naive sum would overflow to infinity.
        assert_eq!(Stat::Mean.of(&[1.7e308, 1.7e308]), Some(1.7e308));
    }
}
