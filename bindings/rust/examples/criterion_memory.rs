//! criterion benchmarks measured in memory instead of time: build this example, then run
//! `benchmem run -- target/debug/examples/criterion_memory --bench`.
//!
//! Each routine's memory is known by construction:
//! - `vec_1000`: `Vec::<u8>::with_capacity(1000)`, dropped each iteration: 1000 bytes in
//!   1 allocation, peak 1000 bytes;
//! - `nothing`: no allocation;
//! - `grow_10_to_110`: a 10-byte vector (made outside the measurement by
//!   `iter_batched`) grown by 100 bytes: one `realloc` to 110 bytes.

use benchmem_region::criterion::{Allocated, Allocations, Peak, PeakBencher};
use criterion::measurement::Measurement;
use criterion::{BatchSize, Bencher, Criterion, black_box, criterion_group, criterion_main};

fn vec_1000() -> Vec<u8> {
    Vec::with_capacity(black_box(1000))
}

fn grow(mut v: Vec<u8>) -> Vec<u8> {
    v.extend_from_slice(black_box(&[7u8; 100]));
    v
}

fn ten_bytes() -> Vec<u8> {
    let mut v = Vec::with_capacity(10);
    v.extend_from_slice(&[1u8; 10]);
    v
}

/// The benchmarks measured with `b.iter` (allocated bytes, allocation calls).
fn per_iteration<M: Measurement>(c: &mut Criterion<M>, group: &str) {
    let mut g = c.benchmark_group(group);
    g.bench_function("vec_1000", |b: &mut Bencher<'_, M>| b.iter(vec_1000));
    g.bench_function("nothing", |b: &mut Bencher<'_, M>| {
        b.iter(|| black_box(1u64))
    });
    g.bench_function("grow_10_to_110", |b: &mut Bencher<'_, M>| {
        b.iter_batched(ten_bytes, grow, BatchSize::SmallInput)
    });
    g.finish();
}

fn allocated(c: &mut Criterion<Allocated>) {
    per_iteration(c, "allocated");
}

fn allocations(c: &mut Criterion<Allocations>) {
    per_iteration(c, "allocations");
}

fn peak(c: &mut Criterion<Peak>) {
    let mut g = c.benchmark_group("peak");
    g.bench_function("vec_1000", |b| b.iter_peak(vec_1000));
    g.bench_function("nothing", |b| b.iter_peak(|| black_box(1u64)));
    g.finish();
}

criterion_group! {
    name = by_allocated;
    config = Criterion::default().with_measurement(Allocated::named("criterion allocated"));
    targets = allocated
}
criterion_group! {
    name = by_allocations;
    config = Criterion::default().with_measurement(Allocations::named("criterion allocations"));
    targets = allocations
}
criterion_group! {
    name = by_peak;
    config = Criterion::default().with_measurement(Peak::default());
    targets = peak
}
criterion_main!(by_allocated, by_allocations, by_peak);
