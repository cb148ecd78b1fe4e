//! Units: the one place that formats and parses bytes, seconds and counts.
//!
//! Byte units are binary (1024-based: B, KiB, MiB, GiB, TiB), times go from ns to s.
//! Every byte and time value a person reads has three significant figures in the largest
//! unit it reaches (`9.50 MiB`, `83.1 KiB`, `15.6 ms`), in prose and in tables alike. A
//! table column whose values all land in one unit names it once, in its header, and shows
//! the numbers alone; a column spanning units gives each value its own. Counts are exact.

/// What kind of number a metric is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantity {
    /// Bytes, shown in binary units.
    Bytes,
    /// Seconds, shown in s, ms, us or ns.
    Seconds,
    /// A plain count (allocation calls): no unit.
    Count,
}

/// A display unit: a value reads `raw / factor` in it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Unit {
    /// Its name (`MiB`, `ms`); empty for counts.
    pub symbol: &'static str,
    /// How many raw units (bytes, seconds) make one of this unit.
    pub factor: f64,
}

const KIB: f64 = 1024.0;

const BYTE_UNITS: [Unit; 5] = [
    Unit {
        symbol: "B",
        factor: 1.0,
    },
    Unit {
        symbol: "KiB",
        factor: KIB,
    },
    Unit {
        symbol: "MiB",
        factor: KIB * KIB,
    },
    Unit {
        symbol: "GiB",
        factor: KIB * KIB * KIB,
    },
    Unit {
        symbol: "TiB",
        factor: KIB * KIB * KIB * KIB,
    },
];

const TIME_UNITS: [Unit; 4] = [
    Unit {
        symbol: "ns",
        factor: 1e-9,
    },
    Unit {
        symbol: "us",
        factor: 1e-6,
    },
    Unit {
        symbol: "ms",
        factor: 1e-3,
    },
    Unit {
        symbol: "s",
        factor: 1.0,
    },
];

const COUNT_UNIT: Unit = Unit {
    symbol: "",
    factor: 1.0,
};

/// How one table column writes its values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ColumnUnit {
    /// Every value in this unit, named once in the header: `9.50`, `17.8` (MiB).
    Shared(Unit),
    /// Each value with its own unit: `8.59 KiB`, `17.8 MiB`.
    Each,
}

impl ColumnUnit {
    /// The unit to name in the header, if any.
    pub fn symbol(self) -> Option<&'static str> {
        match self {
            ColumnUnit::Shared(u) if !u.symbol.is_empty() => Some(u.symbol),
            _ => None,
        }
    }
}

impl Quantity {
    fn units(self) -> &'static [Unit] {
        match self {
            Quantity::Bytes => &BYTE_UNITS,
            Quantity::Seconds => &TIME_UNITS,
            Quantity::Count => std::slice::from_ref(&COUNT_UNIT),
        }
    }

    /// The largest unit `v` reaches (the smallest when it reaches none, or is not finite).
    pub fn unit_for_value(self, v: f64) -> Unit {
        let units = self.units();
        if !v.is_finite() {
            return units[0];
        }
        units
            .iter()
            .rev()
            .find(|u| v >= u.factor)
            .copied()
            .unwrap_or(units[0])
    }

    /// How a column of `values` is written: in one shared unit when every nonzero finite
    /// value reads in the same one (zero reads `0` in any), else each in its own. Counts
    /// always share theirs, which has no name.
    pub fn column_unit(self, values: impl IntoIterator<Item = f64>) -> ColumnUnit {
        if self == Quantity::Count {
            return ColumnUnit::Shared(COUNT_UNIT);
        }
        let mut shared: Option<Unit> = None;
        for v in values.into_iter().filter(|v| v.is_finite() && *v != 0.0) {
            let (_, unit) = human_parts(self, v);
            match shared {
                None => shared = Some(unit),
                Some(u) if u == unit => {}
                Some(_) => return ColumnUnit::Each,
            }
        }
        ColumnUnit::Shared(shared.unwrap_or(self.units()[0]))
    }
}

/// A table cell: `raw` as its column writes it (see [`Quantity::column_unit`]).
pub fn cell(q: Quantity, raw: f64, unit: ColumnUnit) -> String {
    if !raw.is_finite() {
        return "—".to_string();
    }
    match unit {
        ColumnUnit::Shared(_) if q == Quantity::Count => count(raw),
        ColumnUnit::Shared(_) if raw == 0.0 => "0".to_string(),
        ColumnUnit::Shared(u) => match human_parts(q, raw) {
            (number, own) if own == u => number,
            // Not a value of this column: never shown without its unit.
            _ => human(q, raw),
        },
        ColumnUnit::Each => human(q, raw),
    }
}

/// A count: whole numbers with thousands separators, others (a mean) with two decimals.
pub fn count(raw: f64) -> String {
    if !raw.is_finite() {
        return "—".to_string();
    }
    let decimals = if raw.fract() != 0.0 { 2 } else { 0 };
    group_thousands(&format!("{raw:.decimals$}"))
}

/// A single value with its unit and three significant figures: bytes as `1.16 MiB`,
/// `83.1 KiB`, `932 B`; seconds in s/ms/us/ns; counts with separators only.
pub fn human(q: Quantity, raw: f64) -> String {
    if !raw.is_finite() {
        return "—".to_string();
    }
    match human_parts(q, raw) {
        (number, u) if u.symbol.is_empty() => number,
        (number, u) => format!("{number} {}", u.symbol),
    }
}

/// The number and the unit of [`human`].
fn human_parts(q: Quantity, raw: f64) -> (String, Unit) {
    if q == Quantity::Count {
        return (count(raw), COUNT_UNIT);
    }
    let sign = if raw < 0.0 { "-" } else { "" };
    let mut unit = q.unit_for_value(raw.abs());
    let mut text = three_figures(raw.abs() / unit.factor);
    // 1023.9 KiB rounds to "1024"; say "1.00 MiB" instead.
    let units = q.units();
    if let Some(pos) = units.iter().position(|u| u.symbol == unit.symbol) {
        let next_ratio = units.get(pos + 1).map(|n| n.factor / unit.factor);
        if let Some(ratio) = next_ratio
            && text.parse::<f64>().is_ok_and(|t| t >= ratio)
        {
            unit = units[pos + 1];
            text = three_figures(raw.abs() / unit.factor);
        }
    }
    if unit.symbol == "B" {
        text = format!("{:.0}", raw.abs());
    }
    (format!("{sign}{}", group_thousands(&text)), unit)
}

fn three_figures(v: f64) -> String {
    let decimals = if v < 10.0 {
        2
    } else if v < 100.0 {
        1
    } else {
        0
    };
    format!("{v:.decimals$}")
}

fn group_thousands(s: &str) -> String {
    let (sign, rest) = match s.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", s),
    };
    let (int, frac) = match rest.find('.') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let mut out = String::with_capacity(s.len() + int.len() / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}{frac}")
}

/// Why a size, duration or count given on the command line could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Not a number followed by a known unit.
    #[error("'{0}' is not {1}")]
    Malformed(String, &'static str),
    /// Negative, infinite or not a number.
    #[error("'{0}' must be a finite amount ≥ 0")]
    OutOfRange(String),
    /// A decimal unit (KB, MB) where benchmem uses binary ones.
    #[error("'{0}': benchmem uses binary units; write KiB, MiB, GiB or TiB (1024-based)")]
    Decimal(String),
}

/// Parse an amount of `q` as written on the command line, in raw units (bytes, seconds,
/// calls): `5MiB`, `100 KiB`, `1.5GiB`, `4096` (bytes); `250ms`, `3us`, `2` (seconds);
/// `100` (calls). Unit names are case-insensitive.
pub fn parse_amount(q: Quantity, s: &str) -> Result<f64, AmountError> {
    let text = s.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+' || c == 'e'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit = unit.trim();
    let what = match q {
        Quantity::Bytes => "a size such as 4096, 100KiB, 5MiB or 1.5GiB",
        Quantity::Seconds => "a duration such as 0.5, 250ms, 30us or 100ns",
        Quantity::Count => "a count such as 100",
    };
    let value: f64 = number
        .parse()
        .map_err(|_| AmountError::Malformed(s.to_string(), what))?;
    if !value.is_finite() || value < 0.0 {
        return Err(AmountError::OutOfRange(s.to_string()));
    }
    if unit.is_empty() {
        return Ok(value);
    }
    let lower = unit.to_ascii_lowercase();
    if q == Quantity::Bytes
        && ["kb", "mb", "gb", "tb", "k", "m", "g", "t"].contains(&lower.as_str())
    {
        return Err(AmountError::Decimal(s.to_string()));
    }
    let lower = lower.replace('µ', "u");
    let found = q
        .units()
        .iter()
        .find(|u| !u.symbol.is_empty() && u.symbol.to_ascii_lowercase() == lower)
        .ok_or_else(|| AmountError::Malformed(s.to_string(), what))?;
    let raw = value * found.factor;
    if raw.is_finite() {
        Ok(raw)
    } else {
        Err(AmountError::OutOfRange(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn human_bytes(raw: f64) -> String {
        human(Quantity::Bytes, raw)
    }

    #[test]
    fn human_bytes_three_figures() {
        assert_eq!(human_bytes(1221536.0), "1.16 MiB");
        assert_eq!(human_bytes(85094.0), "83.1 KiB");
        assert_eq!(human_bytes(2181038.0), "2.08 MiB");
        assert_eq!(human_bytes(932.0), "932 B");
        assert_eq!(human_bytes(0.0), "0 B");
        assert_eq!(human_bytes(1023.0 * 1024.0 + 1000.0), "1.00 MiB");
        assert_eq!(human_bytes(5.0 * 1024.0_f64.powi(4) * 1024.0), "5,120 TiB");
        assert_eq!(human_bytes(-2048.0), "-2.00 KiB");
        assert_eq!(human_bytes(f64::NAN), "—");
    }

    #[test]
    fn human_other_quantities() {
        assert_eq!(human(Quantity::Seconds, 0.0123), "12.3 ms");
        assert_eq!(human(Quantity::Seconds, 2.5e-7), "250 ns");
        assert_eq!(human(Quantity::Count, 9001.0), "9,001");
    }

    #[test]
    fn columns_share_a_unit_when_every_value_reads_in_it() {
        let b = Quantity::Bytes;
        let mib = b.column_unit([9962496.0, 10485760.0, 0.0]);
        assert_eq!(mib.symbol(), Some("MiB"));
        let cells: Vec<String> = [9962496.0, 10485760.0, 0.0, 18626720.0]
            .iter()
            .map(|&v| cell(b, v, mib))
            .collect();
        assert_eq!(cells, ["9.50", "10.0", "0", "17.8"]);
        // 8 KiB and 9.5 MiB: each its own, never 9,729.00 KiB.
        let each = b.column_unit([8192.0, 9962496.0]);
        assert_eq!(each, ColumnUnit::Each);
        assert_eq!(cell(b, 9962496.0, each), "9.50 MiB");
        assert_eq!(cell(b, 0.0, each), "0 B");
        assert_eq!(b.column_unit([]).symbol(), Some("B"));
        let t = Quantity::Seconds.column_unit([0.0156137, 0.0185191]);
        assert_eq!(t.symbol(), Some("ms"));
        assert_eq!(cell(Quantity::Seconds, 0.0156137, t), "15.6");
        let c = Quantity::Count.column_unit([5.0, 1e6]);
        assert_eq!(c.symbol(), None);
        assert_eq!(cell(Quantity::Count, 100023.0, c), "100,023");
        assert_eq!(cell(Quantity::Count, f64::NAN, c), "—");
    }

    #[test]
    fn counts_whole_or_two_decimals() {
        assert_eq!(count(1234567.0), "1,234,567");
        assert_eq!(count(9001.5), "9,001.50");
        assert_eq!(count(f64::INFINITY), "—");
    }

    #[test]
    fn parse_sizes() {
        let b = Quantity::Bytes;
        assert_eq!(parse_amount(b, "5MiB"), Ok(5.0 * 1048576.0));
        assert_eq!(parse_amount(b, "100 KiB"), Ok(102400.0));
        assert_eq!(parse_amount(b, "1.5GiB"), Ok(1.5 * 1073741824.0));
        assert_eq!(parse_amount(b, "4096"), Ok(4096.0));
        assert_eq!(parse_amount(b, "12b"), Ok(12.0));
        assert_eq!(parse_amount(b, "2 tib"), Ok(2.0 * 1024f64.powi(4)));
        assert!(matches!(
            parse_amount(b, "5MB"),
            Err(AmountError::Decimal(_))
        ));
        assert!(matches!(
            parse_amount(b, "-5MiB"),
            Err(AmountError::OutOfRange(_))
        ));
        assert!(matches!(
            parse_amount(b, "MiB"),
            Err(AmountError::Malformed(..))
        ));
        assert!(matches!(
            parse_amount(b, "5 parsecs"),
            Err(AmountError::Malformed(..))
        ));
        assert!(matches!(
            parse_amount(b, "1e400"),
            Err(AmountError::OutOfRange(_))
        ));
        assert!(matches!(
            parse_amount(b, "nan"),
            Err(AmountError::Malformed(..))
        ));
    }

    #[test]
    fn parse_durations_and_counts() {
        let s = Quantity::Seconds;
        assert_eq!(parse_amount(s, "250ms"), Ok(0.25));
        assert_eq!(parse_amount(s, "3µs"), Ok(3e-6));
        assert_eq!(parse_amount(s, "2"), Ok(2.0));
        assert_eq!(parse_amount(Quantity::Count, "100"), Ok(100.0));
        assert!(parse_amount(Quantity::Count, "100KiB").is_err());
    }
}

/// The golden files shared with the Python package (tests/golden/units.json and
/// metrics.json, also read by python/tests/test_golden.py): both sides format, parse and
/// name alike.
#[cfg(test)]
mod golden {
    use super::*;
    use serde_json::Value;

    fn golden(name: &str) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/golden")
            .join(name);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn cases<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
        v[key].as_array().unwrap_or_else(|| panic!("no {key} list"))
    }

    fn f(v: &Value) -> f64 {
        v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
    }

    fn s(v: &Value) -> &str {
        v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
    }

    #[test]
    fn golden_units_shared_with_python() {
        let g = golden("units.json");
        for case in cases(&g["human_bytes"], "cases") {
            assert_eq!(
                human(Quantity::Bytes, f(&case[0])),
                s(&case[1]),
                "human bytes {}",
                case[0]
            );
        }
        for case in cases(&g["table_columns"], "cases") {
            let values: Vec<f64> = case["values"].as_array().unwrap().iter().map(f).collect();
            let unit = Quantity::Bytes.column_unit(values.iter().copied());
            assert_eq!(unit.symbol(), case["unit"].as_str(), "unit of {values:?}");
            let cells: Vec<String> = values
                .iter()
                .map(|&v| cell(Quantity::Bytes, v, unit))
                .collect();
            let want: Vec<&str> = case["cells"].as_array().unwrap().iter().map(s).collect();
            assert_eq!(cells, want, "cells of {values:?}");
        }
        let unit = Quantity::Count.column_unit([1.0]);
        for case in cases(&g["counts"], "cases") {
            let raw = f(&case[0]);
            assert_eq!(
                cell(Quantity::Count, raw, unit),
                s(&case[1]),
                "count cell {raw}"
            );
            assert_eq!(human(Quantity::Count, raw), s(&case[1]), "count {raw}");
        }
        for case in cases(&g["sizes"], "accepted") {
            assert_eq!(
                parse_amount(Quantity::Bytes, s(&case[0])),
                Ok(f(&case[1])),
                "size {}",
                case[0]
            );
        }
        for case in cases(&g["sizes"], "rejected") {
            let r = parse_amount(Quantity::Bytes, s(case));
            assert!(r.is_err(), "size {case} accepted: {r:?}");
        }
    }

    #[test]
    fn golden_metric_names_shared_with_python() {
        use crate::metrics::Metric;
        let g = golden("metrics.json");
        for (name, canonical) in g["accepted"].as_object().unwrap() {
            let m: Result<Metric, _> = name.parse();
            assert_eq!(m.map(Metric::cli_name), Ok(s(canonical)), "{name:?}");
        }
        for name in cases(&g, "rejected") {
            let m: Result<Metric, _> = s(name).parse();
            assert!(m.is_err(), "{name} accepted: {m:?}");
        }
    }
}
