//! The region API inside divan benchmarks: divan times the routine, and each iteration is
//! also one sample of a benchmem region named after the benchmark, so
//! `benchmem run -- target/release/examples/divan_regions` shows every benchmark's exact
//! memory per iteration (min/mean/max over the samples) beside divan's timings.
//!
//! Opening and closing a region costs a little time inside divan's measurement, and
//! every sample is sent to benchmem: keep the sample counts small in memory runs.

use std::hint::black_box;

use benchmem_region::region;

fn main() {
    divan::main();
}

/// `Vec::<u8>::with_capacity(1000)`, dropped inside the region: 1000 bytes, 1 allocation.
#[divan::bench(sample_count = 5, sample_size = 2)]
fn vec_1000(bencher: divan::Bencher) {
    bencher.bench_local(|| {
        region("divan/vec_1000", || {
            black_box(Vec::<u8>::with_capacity(black_box(1000)));
        })
    });
}

/// A boxed array of 64 zeroed `u64`, returned out of the region: 512 bytes retained.
#[divan::bench(sample_count = 5, sample_size = 2)]
fn boxed_512(bencher: divan::Bencher) {
    bencher.bench_local(|| region("divan/boxed_512", || Box::new([0u64; 64])));
}
