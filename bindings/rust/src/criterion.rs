//! criterion 0.5 measurements that report memory instead of time.
//!
//! ```no_run
//! use benchmem_region::criterion::Allocated;
//! use criterion::{black_box, criterion_group, criterion_main, Criterion};
//!
//! fn bench(c: &mut Criterion<Allocated>) {
//!     c.bench_function("vec_1000", |b| b.iter(|| Vec::<u8>::with_capacity(black_box(1000))));
//! }
//!
//! criterion_group! {
//!     name = memory;
//!     config = Criterion::default().with_measurement(Allocated::default());
//!     targets = bench
//! }
//! criterion_main!(memory);
//! ```
//!
//! Build the bench, then run its executable under benchmem
//! (`benchmem run -- target/release/deps/mybench-<hash> --bench`): criterion's report
//! then reads `[1000.0 B 1000.0 B 1000.0 B]` where it would read times, exactly, with no
//! spread (the same code allocates the same bytes every time). Run without the preload
//! the values are all 0 and a warning says so.
//!
//! - [`Allocated`]: bytes allocated per iteration (the sum of requested sizes).
//! - [`Allocations`]: allocation calls per iteration.
//! - [`Peak`]: the high-water of live bytes, measured with [`PeakBencher::iter_peak`]
//!   instead of `Bencher::iter` (criterion divides every value by the iteration count,
//!   which is meaningless for a high-water mark).
//!
//! Each criterion sample (a batch of iterations, warm-up batches included) is one region
//! sample in benchmem's table, under the measurement's region name (`criterion` unless
//! set with `named`): criterion does not tell a measurement which benchmark it runs, so
//! criterion's own report is where the per-benchmark figures are.

use core::ffi::CStr;
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{Bencher, Throughput};

use crate::{Region, Stats, is_active};

/// Tells once per process that the figures are zeros because the preload is absent.
fn warn_if_inactive() {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !is_active() && !WARNED.swap(true, Ordering::Relaxed) {
        eprintln!(
            "benchmem-region: not running under the benchmem preload; every memory figure is 0 \
             (run the bench executable with `benchmem run -- ...`)"
        );
    }
}

/// The region name and formatter shared by the three measurements.
#[derive(Debug, Clone)]
struct Common {
    name: CString,
}

impl Common {
    fn new(name: &str) -> Common {
        let bytes = name.as_bytes();
        let bytes = &bytes[..bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len())];
        Common {
            name: CString::new(bytes).expect("cut at the first NUL"),
        }
    }

    fn start(&self) -> Region {
        warn_if_inactive();
        Region::begin_cstr(&self.name)
    }

    fn name(&self) -> &CStr {
        &self.name
    }
}

impl Default for Common {
    fn default() -> Common {
        Common::new("criterion")
    }
}

/// Scales byte values into B, KiB, MiB or GiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesFormatter;

const BYTE_UNITS: [(f64, &str); 4] = [
    (1024.0 * 1024.0 * 1024.0, "GiB"),
    (1024.0 * 1024.0, "MiB"),
    (1024.0, "KiB"),
    (1.0, "B"),
];

impl ValueFormatter for BytesFormatter {
    fn scale_values(&self, typical_value: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = BYTE_UNITS
            .iter()
            .copied()
            .find(|&(f, _)| typical_value.abs() >= f)
            .unwrap_or((1.0, "B"));
        for v in values {
            *v /= factor;
        }
        unit
    }

    fn scale_throughputs(
        &self,
        _typical_value: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        // Memory per unit of work: bytes per element or per input byte.
        let (per, unit) = match *throughput {
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) => (n as f64, "B/B"),
            Throughput::Elements(n) => (n as f64, "B/elem"),
        };
        let per = if per == 0.0 { 1.0 } else { per };
        for v in values {
            *v /= per;
        }
        unit
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "B"
    }
}

/// Formats allocation counts (no scaling).
#[derive(Debug, Clone, Copy, Default)]
pub struct CountFormatter;

impl ValueFormatter for CountFormatter {
    fn scale_values(&self, _typical_value: f64, _values: &mut [f64]) -> &'static str {
        "allocs"
    }

    fn scale_throughputs(
        &self,
        _typical_value: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let (per, unit) = match *throughput {
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) => (n as f64, "allocs/B"),
            Throughput::Elements(n) => (n as f64, "allocs/elem"),
        };
        let per = if per == 0.0 { 1.0 } else { per };
        for v in values {
            *v /= per;
        }
        unit
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "allocs"
    }
}

macro_rules! measurement {
    ($(#[$doc:meta])* $ty:ident, $fmt:ident, |$s:ident| $metric:expr_2021) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default)]
        pub struct $ty {
            common: Common,
        }

        impl $ty {
            /// The same measurement, its regions named `name` in benchmem's table.
            pub fn named(name: &str) -> $ty {
                $ty { common: Common::new(name) }
            }

            /// The name of its regions in benchmem's table.
            pub fn region_name(&self) -> &CStr {
                self.common.name()
            }
        }

        impl Measurement for $ty {
            type Intermediate = Region;
            type Value = u64;

            fn start(&self) -> Region {
                self.common.start()
            }

            fn end(&self, region: Region) -> u64 {
                let metric = |$s: Stats| -> u64 { $metric };
                region.end().map_or(0, metric)
            }

            fn add(&self, v1: &u64, v2: &u64) -> u64 {
                v1 + v2
            }

            fn zero(&self) -> u64 {
                0
            }

            fn to_f64(&self, value: &u64) -> f64 {
                *value as f64
            }

            fn formatter(&self) -> &dyn ValueFormatter {
                &$fmt
            }
        }
    };
}

measurement!(
    /// Bytes allocated per iteration: the sum of the sizes requested in the batch, which
    /// criterion divides by the batch's iteration count.
    Allocated,
    BytesFormatter,
    |s| s.total_bytes
);

measurement!(
    /// Allocation calls per iteration.
    Allocations,
    CountFormatter,
    |s| s.allocations
);

measurement!(
    /// The high-water of live bytes during an iteration. Measure with
    /// [`PeakBencher::iter_peak`]: `Bencher::iter` would make criterion divide the batch's
    /// high-water by its iteration count, so `end` refuses (panics) when used that way.
    Peak,
    BytesFormatter,
    |_s| panic!(
        "benchmem_region::criterion::Peak measures with `b.iter_peak(...)` \
         (benchmem_region::criterion::PeakBencher); `b.iter(...)` would divide the \
         high-water mark by the iteration count"
    )
);

/// `iter_peak` for criterion's `Bencher` with the [`Peak`] measurement.
pub trait PeakBencher {
    /// Times `routine` like `Bencher::iter` (each output dropped at once) and reports
    /// the high-water of live bytes over the batch. criterion divides what a routine
    /// reports by the iteration count, so the batch's peak is reported multiplied by it:
    /// criterion's figure is the batch's peak itself, which is one iteration's peak when
    /// iterations free what they allocate (memory kept across iterations accumulates
    /// into it).
    fn iter_peak<O, R: FnMut() -> O>(&mut self, routine: R);
}

impl PeakBencher for Bencher<'_, Peak> {
    fn iter_peak<O, R: FnMut() -> O>(&mut self, mut routine: R) {
        self.iter_custom(|iters| {
            warn_if_inactive();
            let region = Region::begin_cstr(c"criterion");
            for _ in 0..iters {
                criterion::black_box(routine());
            }
            region
                .end()
                .map_or(0, |s| s.peak_bytes.saturating_mul(iters))
        });
    }
}
