//! Scales from data to pixels and their ticks. Bytes tick at powers of two on a log axis
//! and at round numbers of one binary unit on a linear one, labelled by `units.rs`
//! (`64 KiB`, `1.5 MiB`), so every axis reads in the same units as the tables.

use crate::units::{Quantity, human};

/// Linear or logarithmic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Equal steps for equal differences.
    Linear,
    /// Equal steps for equal ratios (positive data only).
    Log,
}

/// A map from a data interval to a pixel interval.
#[derive(Clone, Copy, Debug)]
pub struct Scale {
    /// Linear or log.
    pub kind: Kind,
    /// Data at the start of the range.
    pub lo: f64,
    /// Data at the end of the range.
    pub hi: f64,
    /// Pixel where `lo` lands.
    pub from: f64,
    /// Pixel where `hi` lands.
    pub to: f64,
}

impl Scale {
    /// A scale over `values` (non-finite ones, and on a log scale non-positive ones,
    /// ignored), padded so no mark sits on the frame; `zero` includes 0 on a linear scale.
    pub fn fit(kind: Kind, values: impl IntoIterator<Item = f64>, zero: bool) -> Scale {
        let ok: Vec<f64> = values
            .into_iter()
            .filter(|v| v.is_finite() && (kind == Kind::Linear || *v > 0.0))
            .collect();
        let (mut lo, mut hi) = ok
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        if ok.is_empty() {
            (lo, hi) = if kind == Kind::Log {
                (1.0, 10.0)
            } else {
                (0.0, 1.0)
            };
        }
        match kind {
            Kind::Log => {
                if lo == hi {
                    (lo, hi) = (lo / 2.0, hi * 2.0);
                }
                let pad = (hi / lo).powf(0.06);
                (lo, hi) = (lo / pad, hi * pad);
            }
            Kind::Linear => {
                if zero {
                    lo = lo.min(0.0);
                    hi = hi.max(0.0);
                }
                if lo == hi {
                    let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
                    (lo, hi) = (lo - d, hi + d);
                }
                let pad = (hi - lo) * 0.06;
                if !(zero && lo == 0.0) {
                    lo -= pad;
                }
                if !(zero && hi == 0.0) {
                    hi += pad;
                }
            }
        }
        Scale {
            kind,
            lo,
            hi,
            from: 0.0,
            to: 1.0,
        }
    }

    /// The same scale onto the pixels `from..to`.
    pub fn onto(self, from: f64, to: f64) -> Scale {
        Scale { from, to, ..self }
    }

    /// Pixel of a data value (clamped far outside so SVG stays finite).
    pub fn px(&self, v: f64) -> f64 {
        let t = match self.kind {
            Kind::Linear => (v - self.lo) / (self.hi - self.lo),
            Kind::Log => {
                (v.max(f64::MIN_POSITIVE).ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln())
            }
        };
        let t = if t.is_finite() {
            t.clamp(-1.0, 2.0)
        } else {
            0.0
        };
        self.from + t * (self.to - self.from)
    }

    /// Tick positions and labels for a quantity of kind `q`.
    pub fn ticks(&self, q: Quantity) -> Vec<(f64, String)> {
        let (lo, hi) = (self.lo.min(self.hi), self.lo.max(self.hi));
        let values = match self.kind {
            Kind::Log => {
                let v = log_ticks(lo, hi, q);
                if v.len() >= 2 {
                    v
                } else {
                    linear_ticks(lo, hi, q)
                }
            }
            Kind::Linear => linear_ticks(lo, hi, q),
        };
        values.into_iter().map(|v| (v, tick_label(q, v))).collect()
    }
}

/// Powers of two (bytes) or of ten (seconds, counts) inside `lo..=hi`, thinned to ≤ 8;
/// 2× and 5× steps between decades when the range spans fewer than three.
fn log_ticks(lo: f64, hi: f64, q: Quantity) -> Vec<f64> {
    let base: f64 = if q == Quantity::Bytes { 2.0 } else { 10.0 };
    let (a, b) = (lo.log(base).ceil() as i32, hi.log(base).floor() as i32);
    if b < a {
        return Vec::new();
    }
    let n = (b - a + 1) as usize;
    let step = n.div_ceil(8).max(1) as i32;
    let mut out: Vec<f64> = (a..=b)
        .filter(|k| (k - a) % step == 0)
        .map(|k| base.powi(k))
        .collect();
    if base == 10.0 && n < 3 {
        let mut more = Vec::new();
        for k in (a - 1)..=b {
            for m in [2.0, 5.0] {
                let v = m * 10f64.powi(k);
                if v >= lo && v <= hi {
                    more.push(v);
                }
            }
        }
        out.extend(more);
        out.sort_by(f64::total_cmp);
    }
    out
}

/// Round steps (1, 2, 2.5 or 5 × 10^k) of the binary unit the largest value reads in.
fn linear_ticks(lo: f64, hi: f64, q: Quantity) -> Vec<f64> {
    let factor = if q == Quantity::Bytes {
        q.unit_for_value(lo.abs().max(hi.abs())).factor
    } else {
        1.0
    };
    let span = (hi - lo) / factor;
    if !(span.is_finite() && span > 0.0) {
        return vec![lo];
    }
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= 6.0)
        .unwrap_or(10.0 * mag);
    let first = (lo / factor / step).ceil() as i64;
    let last = (hi / factor / step).floor() as i64;
    (first..=last)
        .map(|k| {
            let v = k as f64 * step;
            // Snap away float noise (0.30000000000000004) before scaling back.
            (v * 1e9).round() / 1e9 * factor
        })
        .collect()
}

/// A tick label: the unit of the value with as few digits as it needs (`1 KiB`, `1.5 MiB`,
/// `250 ms`, `2,000`).
pub fn tick_label(q: Quantity, v: f64) -> String {
    if v == 0.0 {
        return if q == Quantity::Bytes {
            "0 B".into()
        } else {
            "0".into()
        };
    }
    if q == Quantity::Count && v.abs() < 1.0 {
        return format!("{v}");
    }
    trim(&human(q, v))
}

/// `1.00 KiB` → `1 KiB`, `1.50 MiB` → `1.5 MiB`.
pub fn trim(s: &str) -> String {
    let (num, unit) = s.split_once(' ').unwrap_or((s, ""));
    let num = if num.contains('.') {
        num.trim_end_matches('0').trim_end_matches('.')
    } else {
        num
    };
    if unit.is_empty() {
        num.to_string()
    } else {
        format!("{num} {unit}")
    }
}

/// A fold change as a cell or tick label: `1.25×`, `1×`, `0.5×`.
pub fn fold(r: f64) -> String {
    if !r.is_finite() {
        return "—".into();
    }
    let s = if r >= 100.0 {
        format!("{r:.0}")
    } else if r >= 10.0 {
        format!("{r:.1}")
    } else {
        format!("{r:.2}")
    };
    format!("{}×", trim(&s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ticks_read_in_binary_units() {
        let s = Scale::fit(Kind::Log, [1000.0, 3_000_000.0], false);
        let t: Vec<String> = s.ticks(Quantity::Bytes).into_iter().map(|t| t.1).collect();
        assert!(t.contains(&"1 MiB".to_string()), "{t:?}");
        assert!(t.len() <= 8, "{t:?}");
        let s = Scale::fit(Kind::Linear, [0.0, 3.0 * 1048576.0], true);
        let t: Vec<String> = s.ticks(Quantity::Bytes).into_iter().map(|t| t.1).collect();
        assert_eq!(t[0], "0 B");
        assert!(t.contains(&"1 MiB".to_string()), "{t:?}");
    }

    #[test]
    fn narrow_log_range_still_has_ticks() {
        let s = Scale::fit(Kind::Log, [100_000.0, 104_000.0], false);
        assert!(s.ticks(Quantity::Bytes).len() >= 2);
    }

    #[test]
    fn labels() {
        assert_eq!(fold(1.25), "1.25×");
        assert_eq!(fold(1.0), "1×");
        assert_eq!(fold(25.63), "25.6×");
        assert_eq!(tick_label(Quantity::Seconds, 0.25), "250 ms");
        assert_eq!(tick_label(Quantity::Count, 2000.0), "2,000");
        assert_eq!(tick_label(Quantity::Bytes, 1536.0 * 1024.0), "1.5 MiB");
    }
}
