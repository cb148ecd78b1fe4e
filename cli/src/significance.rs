//! Is a change in time more than noise? The Mann-Whitney U test, as benchstat applies it:
//! two-sided, at α = 0.05, on the rounds of the two runs. Memory needs no test: its
//! numbers are exact counts.
//!
//! Small samples (up to [`EXACT_LIMIT`] values in all) get the exact distribution of the
//! rank sum, counted over every way of splitting the pooled values; ties keep their
//! midranks, so the count is the exact permutation distribution given the ties. Larger
//! samples get the normal approximation with the tie correction and a continuity
//! correction (statrs' normal distribution).

use statrs::distribution::{ContinuousCDF, Normal};

use crate::blob::{Clean, Record};
use crate::metrics::Metric;

/// A change is significant when the test's p-value is below this.
pub const ALPHA: f64 = 0.05;

/// A time gate needs this many clean samples in each run: with four against four the
/// smallest p-value the test can give is 0.029, so any overlap at all reads as noise;
/// with five it is 0.008 and two crossed pairs still count as a change.
pub const MIN_GATE_SAMPLES: usize = 5;

/// What the test says of a change in time between two runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Noise {
    /// Tested on the clean rounds of each run: the p-value and the two counts.
    Tested {
        p: f64,
        base_n: usize,
        head_n: usize,
    },
    /// A run keeps no per-round times (only their summary), so nothing was tested.
    Untested,
}

impl Noise {
    /// Whether the change stands out of the noise (untested counts as not known to).
    pub fn significant(self) -> bool {
        matches!(self, Noise::Tested { p, .. } if p < ALPHA)
    }

    /// In a table cell: the p-value, and the counts only when few enough to matter
    /// (`p<0.001`, `p=0.100 n=3`); `untested` without rounds.
    pub fn brief(self) -> String {
        match self {
            Noise::Tested { base_n, head_n, .. } if base_n.min(head_n) >= MIN_GATE_SAMPLES => {
                let full = self.describe();
                full.split(' ').next().unwrap_or_default().to_string()
            }
            _ => self.describe(),
        }
    }

    /// `p=0.008 n=5`, `p<0.001 n=5/7`; `untested` without rounds.
    pub fn describe(self) -> String {
        match self {
            Noise::Tested { p, base_n, head_n } => {
                let p = if p < 0.001 {
                    "p<0.001".to_string()
                } else {
                    format!("p={p:.3}")
                };
                if base_n == head_n {
                    format!("{p} n={base_n}")
                } else {
                    format!("{p} n={base_n}/{head_n}")
                }
            }
            Noise::Untested => "untested".to_string(),
        }
    }
}

/// The test of the time change from `base` to `head`, over their clean rounds; `None`
/// when a side has no time, or no round known to be clean.
pub fn time_noise(base: &Record, head: &Record) -> Option<Noise> {
    if !base.has(Metric::Time) || !head.has(Metric::Time) {
        return None;
    }
    for r in [base, head] {
        if matches!(r.clean(Metric::Time), Clean::None { .. } | Clean::Unknown) {
            return None;
        }
    }
    match (
        base.clean_series(Metric::Time),
        head.clean_series(Metric::Time),
    ) {
        (Some(b), Some(h)) => Some(Noise::Tested {
            p: mann_whitney(&b, &h)?,
            base_n: b.len(),
            head_n: h.len(),
        }),
        _ => Some(Noise::Untested),
    }
}

/// How many clean timed samples `r` holds (`None` when which are clean is not known or
/// none is).
pub fn clean_rounds(r: &Record) -> Option<usize> {
    match r.clean(Metric::Time) {
        Clean::All => Some(
            r.time_data
                .as_ref()
                .map_or(r.samples(Metric::Time), |d| d.len()),
        ),
        Clean::Some { complete, .. } => Some(complete),
        Clean::None { .. } | Clean::Unknown => None,
    }
}

/// Up to this many values in both samples together the distribution is counted exactly.
pub const EXACT_LIMIT: usize = 50;

/// Two-sided p-value of the Mann-Whitney U test of `a` against `b`; `None` when either is
/// empty or holds a value that is not a number.
pub fn mann_whitney(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.is_empty() || b.is_empty() || a.iter().chain(b).any(|v| v.is_nan()) {
        return None;
    }
    let ranks = doubled_ranks(a, b);
    let n1 = a.len();
    // The rank sum of `a`, doubled so that midranks stay whole.
    let w: u64 = ranks
        .iter()
        .filter(|(_, from_a)| *from_a)
        .map(|(r, _)| r)
        .sum();
    let all: Vec<u64> = ranks.iter().map(|(r, _)| *r).collect();
    let p = if all.len() <= EXACT_LIMIT {
        exact(&all, n1, w)
    } else {
        normal(&all, n1, w)
    };
    Some(p.clamp(0.0, 1.0))
}

/// The pooled values' ranks, doubled (a tie group over positions i..=j gets i + j), each
/// with whether it came from `a`.
fn doubled_ranks(a: &[f64], b: &[f64]) -> Vec<(u64, bool)> {
    let mut pooled: Vec<(f64, bool)> = a
        .iter()
        .map(|&v| (v, true))
        .chain(b.iter().map(|&v| (v, false)))
        .collect();
    pooled.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut out = Vec::with_capacity(pooled.len());
    let mut i = 0;
    while i < pooled.len() {
        let mut j = i;
        while j + 1 < pooled.len() && pooled[j + 1].0 == pooled[i].0 {
            j += 1;
        }
        // Positions are 1-based: i + 1 ..= j + 1, whose doubled midrank is i + j + 2.
        let r = (i + j + 2) as u64;
        out.extend(pooled[i..=j].iter().map(|&(_, from_a)| (r, from_a)));
        i = j + 1;
    }
    out
}

/// Exact two-sided p-value: the number of ways to pick `n1` of the pooled `ranks` with a
/// sum as far from the middle as `w` or further, over all ways.
fn exact(ranks: &[u64], n1: usize, w: u64) -> f64 {
    let max: u64 = ranks.iter().sum();
    let width = max as usize + 1;
    // ways[k][s]: subsets of the ranks seen so far with k members summing to s.
    let mut ways = vec![vec![0u128; width]; n1 + 1];
    ways[0][0] = 1;
    for (seen, &r) in ranks.iter().enumerate() {
        let r = r as usize;
        for k in (1..=n1.min(seen + 1)).rev() {
            let (lower, upper) = ways.split_at_mut(k);
            let (from, to) = (&lower[k - 1], &mut upper[0]);
            for s in (r..width).rev() {
                to[s] += from[s - r];
            }
        }
    }
    let dist = &ways[n1];
    let total: u128 = dist.iter().sum();
    let w = w as usize;
    let low: u128 = dist[..=w].iter().sum();
    let high: u128 = dist[w..].iter().sum();
    (2.0 * low.min(high) as f64 / total as f64).min(1.0)
}

/// Two-sided p-value from the normal approximation of U, with the tie correction of its
/// variance and a continuity correction.
fn normal(ranks: &[u64], n1: usize, w: u64) -> f64 {
    let n = ranks.len() as f64;
    let (n1f, n2f) = (n1 as f64, n - n1 as f64);
    let u = w as f64 / 2.0 - n1f * (n1f + 1.0) / 2.0;
    let mean = n1f * n2f / 2.0;
    // Σ (t³ − t) over the tie groups, whose members share a rank.
    let mut ties = 0.0;
    let mut i = 0;
    while i < ranks.len() {
        let j = ranks[i..].iter().take_while(|&&r| r == ranks[i]).count();
        let t = j as f64;
        ties += t * t * t - t;
        i += j;
    }
    let var = n1f * n2f / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
    if var <= 0.0 {
        // Every value the same: nothing differs.
        return 1.0;
    }
    let z = ((u - mean).abs() - 0.5).max(0.0) / var.sqrt();
    let std = Normal::new(0.0, 1.0).expect("the standard normal distribution exists");
    2.0 * (1.0 - std.cdf(z))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9 * b.max(1e-300)
    }

    #[test]
    fn separated_samples_reach_the_smallest_p_of_their_size() {
        // Every way to split 4 + 4: C(8, 4) = 70; the two extremes are as far as this.
        let p = mann_whitney(&[1.0, 2.0, 3.0, 4.0], &[5.0, 6.0, 7.0, 8.0]).unwrap();
        assert!(close(p, 2.0 / 70.0), "{p}");
        // benchstat's familiar p=0.008 for five against five.
        let p = mann_whitney(&[1.0, 2.0, 3.0, 4.0, 5.0], &[6.0, 7.0, 8.0, 9.0, 10.0]).unwrap();
        assert!(close(p, 2.0 / 252.0), "{p}");
        // Three against three can never be significant: 2/20.
        let p = mann_whitney(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]).unwrap();
        assert!(close(p, 0.1), "{p}");
    }

    #[test]
    fn identical_and_interleaved_samples_are_not_significant() {
        assert_eq!(mann_whitney(&[5.0; 6], &[5.0; 6]), Some(1.0));
        let p = mann_whitney(&[1.0, 3.0, 5.0, 7.0], &[2.0, 4.0, 6.0, 8.0]).unwrap();
        assert!(p > 0.5, "{p}");
        assert_eq!(mann_whitney(&[], &[1.0]), None);
        assert_eq!(mann_whitney(&[f64::NAN], &[1.0]), None);
    }

    /// The exact p-value by listing every split of the pooled ranks.
    fn brute_force(a: &[f64], b: &[f64]) -> f64 {
        let ranks = doubled_ranks(a, b);
        let all: Vec<u64> = ranks.iter().map(|(r, _)| *r).collect();
        let w: u64 = ranks.iter().filter(|(_, x)| *x).map(|(r, _)| r).sum();
        let n = all.len();
        let (mut low, mut high, mut total) = (0u64, 0u64, 0u64);
        for mask in 0u32..(1 << n) {
            if mask.count_ones() as usize != a.len() {
                continue;
            }
            let s: u64 = (0..n)
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| all[i])
                .sum();
            total += 1;
            low += u64::from(s <= w);
            high += u64::from(s >= w);
        }
        (2.0 * low.min(high) as f64 / total as f64).min(1.0)
    }

    #[test]
    fn exact_counting_with_ties_matches_listing_every_split() {
        let cases: [(&[f64], &[f64]); 4] = [
            (&[1.0, 2.0, 2.0, 3.0], &[2.0, 3.0, 3.0, 4.0, 5.0]),
            (&[10.0, 10.0, 10.0], &[10.0, 11.0, 12.0, 12.0]),
            (
                &[0.5, 0.7, 0.9, 1.1, 1.1, 1.3],
                &[1.1, 1.4, 1.5, 1.5, 1.6, 1.9, 2.0],
            ),
            (&[3.0], &[1.0, 2.0, 4.0, 5.0]),
        ];
        for (a, b) in cases {
            let p = mann_whitney(a, b).unwrap();
            let want = brute_force(a, b);
            assert!(close(p, want), "{a:?} {b:?}: {p} vs {want}");
            // The test is symmetric in its samples.
            assert!(close(mann_whitney(b, a).unwrap(), p));
        }
    }

    #[test]
    fn large_samples_use_the_normal_approximation() {
        // 30 against 30 with no ties, the second shifted by five: U = 300 (the pairs where
        // a is larger), mean 450, sd √(30·30·61/12), z = (150 − 0.5)/sd = 2.21027...,
        // p = erfc(z/√2) = 0.0270863... (computed apart, with Python's math.erfc).
        let a: Vec<f64> = (0..30).map(f64::from).collect();
        let b: Vec<f64> = (5..35).map(|i| f64::from(i) + 0.5).collect();
        let p = mann_whitney(&a, &b).unwrap();
        assert!((p - 0.027_086_318_388).abs() < 1e-9, "{p}");
        // Many tied rounds (a timer's resolution): no panic, a sane answer.
        let a = [1.0; 40];
        let mut b = vec![1.0; 30];
        b.extend([2.0; 10]);
        let p = mann_whitney(&a, &b).unwrap();
        assert!(p > 0.0 && p < ALPHA, "{p}");
    }
}
