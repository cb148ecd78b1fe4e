//! CI gates: `--fail-on METRIC:THRESHOLD[:strict]` (growth from base to head) and
//! `--max METRIC:LIMIT` (an absolute ceiling on the head).
//!
//! `METRIC:PCT%+AMOUNT` (`peak:20%+8MiB`) fails only on growth past both: a relative gate
//! that stays quiet where a few KiB on a small footprint read as a large percentage.
//!
//! Plain gates compare one value per run (the `--stat`, headline min). A `:strict` gate is
//! noise-aware: it fails only when the *whole* head series lies beyond the whole base
//! series by more than the threshold, i.e. it compares the head's smallest repeat with the
//! base's largest one. A noisy metric whose repeats overlap between runs then never fails
//! by chance; a deterministic one (allocations) fails the same way under both spellings.

use crate::blob::{Clean, Record};
use crate::metrics::Metric;
use crate::significance::{self, Noise};
use crate::stats::Stat;
use crate::units::{Quantity, human, parse_amount};

/// How much growth a gate allows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Threshold {
    /// Relative growth in percent: fails when `head > base * (1 + p/100)`.
    Percent(f64),
    /// Absolute growth in raw units (bytes, seconds, calls): fails when `head − base > a`.
    Absolute(f64),
}

/// One `--fail-on` gate.
#[derive(Clone, Debug, PartialEq)]
pub struct FailOn {
    /// What is gated.
    pub metric: Metric,
    /// How much growth is allowed.
    pub threshold: Threshold,
    /// With a percent threshold, the absolute growth (raw units) that must be passed too.
    pub floor: Option<f64>,
    /// Whole-series comparison (head min vs base max) instead of one value per run.
    pub strict: bool,
    /// The gate as the user wrote it, for messages.
    pub spec: String,
}

/// One `--max` ceiling.
#[derive(Clone, Debug, PartialEq)]
pub struct Ceiling {
    /// What is limited.
    pub metric: Metric,
    /// The largest allowed value in raw units.
    pub limit: f64,
    /// The ceiling as the user wrote it.
    pub spec: String,
}

fn split_metric(s: &str) -> Result<(Metric, &str), String> {
    let (m, rest) = s
        .split_once(':')
        .ok_or_else(|| format!("'{s}' is not METRIC:AMOUNT (e.g. peak:10% or peak:5MiB)"))?;
    let metric = m.parse::<Metric>().map_err(|e| e.to_string())?;
    Ok((metric, rest))
}

fn amount(metric: Metric, text: &str) -> Result<f64, String> {
    parse_amount(metric.quantity(), text).map_err(|e| format!("{metric}: {e}"))
}

/// An absolute growth of `metric` in a gate `s`: a byte or time amount needs its unit.
fn absolute(s: &str, metric: Metric, value: &str) -> Result<f64, String> {
    // `peak:10` could mean 10 % or 10 bytes: a gate must not guess.
    let bare = !value.is_empty() && value.chars().all(|c| c.is_ascii_digit() || c == '.');
    match metric.quantity() {
        Quantity::Bytes if bare => Err(format!(
            "'{s}': '{value}' is ambiguous: write {value}%, {value}B or {value}KiB"
        )),
        Quantity::Seconds if bare => Err(format!(
            "'{s}': '{value}' is ambiguous: write {value}%, {value}s or {value}ms"
        )),
        _ => amount(metric, value),
    }
}

impl FailOn {
    /// Parse `METRIC:N%`, `METRIC:AMOUNT`, optionally followed by `:strict`.
    pub fn parse(s: &str) -> Result<FailOn, String> {
        let (metric, rest) = split_metric(s)?;
        let (value, strict) = match rest.rsplit_once(':') {
            Some((v, "strict")) => (v, true),
            Some((_, other)) => {
                return Err(format!(
                    "'{s}': unknown gate mode '{other}' (the only one is ':strict')"
                ));
            }
            None => (rest, false),
        };
        let value = value.trim();
        let (value, floor) = match value.split_once('+') {
            Some((pct, abs)) => {
                let (pct, abs) = (pct.trim(), abs.trim());
                if !pct.ends_with('%') || abs.is_empty() || abs.ends_with('%') {
                    return Err(format!(
                        "'{s}': a threshold of two parts is PCT%+AMOUNT, e.g. peak:20%+8MiB (growth past both fails)"
                    ));
                }
                (pct, Some(absolute(s, metric, abs)?))
            }
            None => (value, None),
        };
        let threshold = match value.strip_suffix('%') {
            Some(p) => {
                let pct: f64 = p
                    .trim()
                    .parse()
                    .map_err(|_| format!("'{s}': '{value}' is not a percentage such as 10%"))?;
                if !pct.is_finite() || pct < 0.0 {
                    return Err(format!("'{s}': the percentage must be a finite number ≥ 0"));
                }
                Threshold::Percent(pct)
            }
            None => Threshold::Absolute(absolute(s, metric, value)?),
        };
        Ok(FailOn {
            metric,
            threshold,
            floor,
            strict,
            spec: s.to_string(),
        })
    }

    /// Whether going from `base` to `head` breaches this gate. `base`/`head` are the two
    /// values compared (for strict gates: base max and head min).
    pub fn breached(&self, base: f64, head: f64) -> bool {
        if self.floor.is_some_and(|f| head - base <= f) {
            return false;
        }
        match self.threshold {
            Threshold::Absolute(a) => head - base > a,
            Threshold::Percent(p) => {
                if base > 0.0 {
                    // Cross-multiplied: (head/base − 1)·100 picks up rounding error and
                    // would fail 100 → 110 against a 10% threshold.
                    (head - base) * 100.0 > p * base
                } else {
                    head > 0.0
                }
            }
        }
    }
}

impl Ceiling {
    /// Parse `METRIC:LIMIT`.
    pub fn parse(s: &str) -> Result<Ceiling, String> {
        let (metric, rest) = split_metric(s)?;
        if rest.trim().ends_with('%') {
            return Err(format!(
                "'{s}': a ceiling is an amount, not a percentage (use --fail-on for growth)"
            ));
        }
        Ok(Ceiling {
            metric,
            limit: amount(metric, rest)?,
            spec: s.to_string(),
        })
    }
}

/// A failed gate, printed as one line.
#[derive(Clone, Debug, PartialEq)]
pub struct Breach {
    /// The gated metric.
    pub metric: Metric,
    /// Benchmark id.
    pub id: String,
    /// Base value (`None` for a ceiling).
    pub base: Option<f64>,
    /// Head value.
    pub head: f64,
    /// What the line adds after the values: `(+22.0%)`, `(limit 100 MiB)`.
    pub detail: String,
}

impl Breach {
    /// The line, with the metric padded to `width`:
    /// `peak  test_x[1000]: 83.1 KiB → 2.08 MiB (+2463.8% > 10%)`.
    pub fn line(&self, width: usize) -> String {
        format!(
            "{:width$}  {}",
            self.metric.cli_name(),
            self.message_after_metric()
        )
    }

    /// The breach in one line that stands alone (an annotation, a list item):
    /// `peak test_x[1000]: 83.1 KiB → 2.08 MiB (+2463.8% > 10%)`.
    pub fn message(&self) -> String {
        format!("{} {}", self.metric.cli_name(), self.message_after_metric())
    }

    /// What follows the metric: `test_x[1000]: 83.1 KiB → 2.08 MiB (+2463.8% > 10%)`.
    pub fn message_after_metric(&self) -> String {
        let q = self.metric.quantity();
        let values = match self.base {
            Some(b) => format!("{} → {}", human(q, b), human(q, self.head)),
            None => human(q, self.head),
        };
        format!("{}: {values} {}", self.id, self.detail)
    }
}

/// What a growth gate found on one benchmark.
#[derive(Clone, Debug, PartialEq)]
pub enum Growth {
    /// Within the threshold.
    Within,
    /// Beyond it: the gate fails.
    Breach(Breach),
    /// A time change beyond the threshold that the test cannot tell from noise: the gate
    /// does not fail, and says so.
    Noise(Breach),
}

/// Check one growth gate on one benchmark. `Err` says why it could not be checked.
///
/// A time gate fails only when the change is also significant (Mann-Whitney U over the
/// clean rounds, [`crate::significance`]); with fewer than
/// [`MIN_GATE_SAMPLES`](crate::significance::MIN_GATE_SAMPLES) rounds a side (allowed
/// only by `--allow-few-samples`) or without per-round times it fails on the threshold
/// alone, and its line says the change was not tested.
pub fn check_growth(
    gate: &FailOn,
    id: &str,
    base: &Record,
    head: &Record,
    stat: Stat,
) -> Result<Growth, String> {
    let m = gate.metric;
    let (bs, hs) = if gate.strict {
        (Stat::Max, Stat::Min)
    } else {
        (stat, stat)
    };
    let b = clean_value(base, m, bs, id, "base")?;
    let h = clean_value(head, m, hs, id, "head")?;
    if !gate.breached(b, h) {
        return Ok(Growth::Within);
    }
    let mut detail = match gate.threshold {
        Threshold::Percent(p) => match gate.floor {
            Some(f) => format!(
                "{} > {p}% and +{} > {}",
                percent_past(b, h, p),
                amount_past(m.quantity(), h - b, f),
                human(m.quantity(), f)
            ),
            None => format!("{} > {p}%", percent_past(b, h, p)),
        },
        Threshold::Absolute(a) => format!(
            "+{}, {}; allowed +{}",
            human(m.quantity(), h - b),
            percent_change(b, h),
            human(m.quantity(), a)
        ),
    };
    let mut noise = false;
    if m == Metric::Time {
        let test = significance::time_noise(base, head);
        let few = [base, head].iter().any(|r| {
            significance::clean_rounds(r).is_some_and(|n| n < significance::MIN_GATE_SAMPLES)
        });
        let said = test.map_or_else(|| "untested".to_string(), |t| t.describe());
        match test {
            _ if few => detail.push_str(&format!("; {said}: too few rounds to test")),
            Some(t @ Noise::Tested { .. }) if !t.significant() => {
                noise = true;
                detail.push_str(&format!("; {said}: not significant"));
            }
            Some(Noise::Tested { .. }) => detail.push_str(&format!("; {said}")),
            Some(Noise::Untested) | None => {
                detail.push_str("; untested: a run keeps no per-round times")
            }
        }
    }
    let mut detail = format!("({detail})");
    if gate.strict {
        detail
            .push_str(" [strict: every head repeat above every base repeat; base max → head min]");
    }
    let breach = Breach {
        metric: m,
        id: id.to_string(),
        base: Some(b),
        head: h,
        detail,
    };
    Ok(if noise {
        Growth::Noise(breach)
    } else {
        Growth::Breach(breach)
    })
}

/// The value a gate compares: `stat` over the clean samples of `record` (incomplete ones
/// measured less than the program did and would pass any gate). `Err` says why there is
/// none.
fn clean_value(
    record: &Record,
    m: Metric,
    stat: Stat,
    id: &str,
    side: &str,
) -> Result<f64, String> {
    if !record.has(m) {
        return Err(format!("{m} not measured for {id} in the {side} run"));
    }
    match record.clean(m) {
        Clean::None { total } => Err(format!(
            "{id} has no complete {m} sample in the {side} run (all {total} incomplete)"
        )),
        Clean::Unknown => Err(format!(
            "{id} has incomplete {m} samples in the {side} run and the file does not say which"
        )),
        Clean::All | Clean::Some { .. } => record
            .clean_value(m, stat)
            .ok_or_else(|| format!("{m} not measured for {id} in the {side} run")),
    }
}

/// Check one ceiling on one benchmark of the head run. `Err` says why it could not be checked.
pub fn check_ceiling(
    c: &Ceiling,
    id: &str,
    head: &Record,
    stat: Stat,
) -> Result<Option<Breach>, String> {
    let m = c.metric;
    let h = clean_value(head, c.metric, stat, id, "head")?;
    Ok((h > c.limit).then(|| Breach {
        metric: m,
        id: id.to_string(),
        base: None,
        head: h,
        detail: format!("(limit {})", human(m.quantity(), c.limit)),
    }))
}

/// The change from `base` to `head` in percent, with as many decimals as show it past
/// `threshold` (`+20.000002%`, never `+20.0% > 20%`).
fn percent_past(base: f64, head: f64, threshold: f64) -> String {
    let text = percent_change(base, head);
    if base <= 0.0 || !(base.is_finite() && head.is_finite()) {
        return text;
    }
    let pct = (head - base) / base * 100.0;
    for decimals in 1..=9 {
        let t = format!("{pct:+.decimals$}");
        if t.parse::<f64>().is_ok_and(|v| v > threshold) {
            return format!("{t}%");
        }
    }
    text
}

/// A growth past `allowed`, exact when its rounded form would read as the allowance
/// (`+8,388,609 B`, not `+8.00 MiB > 8.00 MiB`).
fn amount_past(q: Quantity, grew: f64, allowed: f64) -> String {
    let text = human(q, grew);
    match q {
        Quantity::Bytes if text == human(q, allowed) => format!("{} B", crate::units::count(grew)),
        _ => text,
    }
}

/// Signed relative change in percent with one decimal: `+22.0%`, `-3.5%`, `0.0%`; `+inf%`
/// from zero to something, `—` when it cannot be computed.
pub fn percent_change(base: f64, head: f64) -> String {
    if !(base.is_finite() && head.is_finite()) {
        return "—".into();
    }
    if base <= 0.0 {
        return if head > 0.0 {
            "+inf%".into()
        } else {
            "0.0%".into()
        };
    }
    let pct = (head - base) / base * 100.0;
    // A deterministic metric moving by one call in thousands must not read "0.0%".
    for decimals in 1..=4 {
        let text = format!("{pct:+.decimals$}%");
        if text
            .trim_start_matches(['+', '-'])
            .trim_start_matches(['0', '.'])
            != "%"
        {
            return text;
        }
    }
    "0.0%".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_percent_absolute_and_strict() {
        let g = FailOn::parse("peak:10%").unwrap();
        assert_eq!(
            (g.metric, g.threshold, g.strict),
            (Metric::Peak, Threshold::Percent(10.0), false)
        );
        let g = FailOn::parse("allocs:0%:strict").unwrap();
        assert_eq!(
            (g.metric, g.threshold, g.strict),
            (Metric::Allocations, Threshold::Percent(0.0), true)
        );
        assert_eq!(
            FailOn::parse("peak:5MiB").unwrap().threshold,
            Threshold::Absolute(5.0 * 1048576.0)
        );
        assert_eq!(
            FailOn::parse("allocations:100").unwrap().threshold,
            Threshold::Absolute(100.0)
        );
        assert_eq!(
            FailOn::parse("peak:10B").unwrap().threshold,
            Threshold::Absolute(10.0)
        );
        assert_eq!(
            FailOn::parse("time:2ms").unwrap().threshold,
            Threshold::Absolute(0.002)
        );
        assert_eq!(
            FailOn::parse("peak:1.5 GiB:strict").unwrap().threshold,
            Threshold::Absolute(1.5 * 1073741824.0)
        );
    }

    #[test]
    fn malformed_gates_say_why() {
        let err = |s: &str| FailOn::parse(s).unwrap_err();
        assert_eq!(
            err("peak"),
            "'peak' is not METRIC:AMOUNT (e.g. peak:10% or peak:5MiB)"
        );
        assert_eq!(
            err("vms:10%"),
            "unknown metric 'vms': choose from time, peak, allocated, allocations (or allocs), retained, rss"
        );
        for bad in [
            "peak:20%+",
            "peak:+8MiB",
            "peak:20+8MiB",
            "peak:20%+8%",
            "peak:20%+8MiB+1KiB",
        ] {
            let e = err(bad);
            assert!(
                e == format!(
                    "'{bad}': a threshold of two parts is PCT%+AMOUNT, e.g. peak:20%+8MiB (growth past both fails)"
                ) || e.starts_with("peak: '8MiB+1KiB'"),
                "{bad}: {e}"
            );
        }
        assert_eq!(
            err("peak:20%+8"),
            "'peak:20%+8': '8' is ambiguous: write 8%, 8B or 8KiB"
        );
        assert_eq!(
            err("peak:ten%"),
            "'peak:ten%': 'ten%' is not a percentage such as 10%"
        );
        assert_eq!(
            err("peak:-5%"),
            "'peak:-5%': the percentage must be a finite number ≥ 0"
        );
        assert_eq!(
            err("peak:10%:loose"),
            "'peak:10%:loose': unknown gate mode 'loose' (the only one is ':strict')"
        );
        assert_eq!(
            err("peak:10"),
            "'peak:10': '10' is ambiguous: write 10%, 10B or 10KiB"
        );
        assert_eq!(
            err("peak:2.5:strict"),
            "'peak:2.5:strict': '2.5' is ambiguous: write 2.5%, 2.5B or 2.5KiB"
        );
        assert_eq!(
            err("time:2"),
            "'time:2': '2' is ambiguous: write 2%, 2s or 2ms"
        );
        assert_eq!(
            err("peak:5MB"),
            "peak: '5MB': benchmem uses binary units; write KiB, MiB, GiB or TiB (1024-based)"
        );
        assert_eq!(
            err("allocations:5MiB"),
            "allocations: '5MiB' is not a count such as 100"
        );
        assert_eq!(
            Ceiling::parse("peak:10%").unwrap_err(),
            "'peak:10%': a ceiling is an amount, not a percentage (use --fail-on for growth)"
        );
        assert_eq!(
            Ceiling::parse("peak:100MiB").unwrap().limit,
            100.0 * 1048576.0
        );
    }

    #[test]
    fn breach_rules() {
        let pct = FailOn::parse("peak:10%").unwrap();
        assert!(!pct.breached(100.0, 110.0));
        assert!(pct.breached(100.0, 110.5));
        assert!(!pct.breached(100.0, 50.0));
        assert!(pct.breached(0.0, 1.0));
        assert!(!pct.breached(0.0, 0.0));
        let zero = FailOn::parse("allocations:0%").unwrap();
        assert!(zero.breached(9001.0, 9002.0) && !zero.breached(9001.0, 9001.0));
        let abs = FailOn::parse("allocations:100").unwrap();
        assert!(!abs.breached(1000.0, 1100.0) && abs.breached(1000.0, 1101.0));
    }

    #[test]
    fn both_parts_must_be_passed() {
        let mib = 1048576.0;
        let g = FailOn::parse("peak:20%+8MiB").unwrap();
        assert_eq!(
            (g.metric, g.threshold, g.floor, g.strict),
            (
                Metric::Peak,
                Threshold::Percent(20.0),
                Some(8.0 * mib),
                false
            )
        );
        // Past 20% but not past 8 MiB, and the other way round: within.
        assert!(!g.breached(mib, 3.0 * mib));
        assert!(!g.breached(100.0 * mib, 110.0 * mib));
        // Exactly on either line: within.
        assert!(!g.breached(40.0 * mib, 48.0 * mib));
        assert!(!g.breached(50.0 * mib, 60.0 * mib));
        // Past both.
        assert!(g.breached(40.0 * mib, 48.0 * mib + 1.0));
        assert!(g.breached(50.0 * mib, 60.0 * mib + 1.0));
        assert!(g.breached(0.0, 9.0 * mib));
        let g = FailOn::parse("allocations:5%+50:strict").unwrap();
        assert_eq!((g.floor, g.strict), (Some(50.0), true));
        assert!(!g.breached(100.0, 150.0) && g.breached(100.0, 151.0));
        assert!(!g.breached(10000.0, 10100.0) && g.breached(1000.0, 1051.0));
    }

    #[test]
    fn lines_and_percentages() {
        let b = Breach {
            metric: Metric::Peak,
            id: "test_x[1000]".into(),
            base: Some(85094.0),
            head: 2181038.0,
            detail: format!("({} > 10%)", percent_change(85094.0, 2181038.0)),
        };
        assert_eq!(
            b.line(11),
            "peak         test_x[1000]: 83.1 KiB → 2.08 MiB (+2463.1% > 10%)"
        );
        assert_eq!(
            b.message(),
            "peak test_x[1000]: 83.1 KiB → 2.08 MiB (+2463.1% > 10%)"
        );
        assert_eq!(percent_change(100.0, 100.0), "0.0%");
        assert_eq!(percent_change(2001.0, 2002.0), "+0.05%");
        assert_eq!(percent_change(1e9, 1e9 + 1.0), "0.0%");
        assert_eq!(percent_change(100.0, 78.0), "-22.0%");
        assert_eq!(percent_change(0.0, 3.0), "+inf%");
        assert_eq!(percent_change(f64::NAN, 3.0), "—");
        assert_eq!(percent_past(100.0, 110.5, 10.0), "+10.5%");
        assert_eq!(percent_past(41943040.0, 50331649.0, 20.0), "+20.000002%");
        assert_eq!(
            amount_past(Quantity::Bytes, 8388609.0, 8388608.0),
            "8,388,609 B"
        );
        assert_eq!(
            amount_past(Quantity::Bytes, 9.0 * 1048576.0, 8388608.0),
            "9.00 MiB"
        );
    }

    proptest::proptest! {
        // Any text: a gate or an error message, never a panic; accepted gates are sane.
        #[test]
        fn gate_parser_total(s in "\\PC{0,30}") {
            if let Ok(g) = FailOn::parse(&s) {
                match g.threshold {
                    Threshold::Percent(p) | Threshold::Absolute(p) => {
                        proptest::prop_assert!(p.is_finite() && p >= 0.0)
                    }
                }
            }
            let _ = Ceiling::parse(&s);
        }

        #[test]
        fn gate_parser_structured(
            m in proptest::sample::select(vec!["peak", "allocs", "time", "retained", "x"]),
            n in proptest::num::f64::ANY,
            unit in proptest::sample::select(vec!["", "%", "KiB", "MiB", "ms", "B", "kb"]),
            strict in proptest::bool::ANY,
        ) {
            let s = format!("{m}:{n}{unit}{}", if strict { ":strict" } else { "" });
            if let Ok(g) = FailOn::parse(&s) {
                proptest::prop_assert_eq!(g.strict, strict);
                proptest::prop_assert!(n.is_finite() && n >= 0.0);
            }
        }
    }
}
