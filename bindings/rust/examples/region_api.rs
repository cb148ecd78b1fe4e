//! The region API on allocations known by construction; prints one line per region:
//! `name measured peak total allocations retained`. Run it natively and under
//! `benchmem run -- target/debug/examples/region_api`.

use std::hint::black_box;

use benchmem_region::{Region, Stats, is_active, region};

fn line(name: &str, stats: Option<Stats>) -> String {
    let s = stats.unwrap_or_default();
    format!(
        "{name} {} {} {} {} {}",
        u8::from(stats.is_some()),
        s.peak_bytes,
        s.total_bytes,
        s.allocations,
        s.retained_bytes
    )
}

fn main() {
    // Lines are formatted only after the regions have closed: printing allocates.
    let mut lines = vec![format!("active {}", is_active())];

    // The closure's result leaves the region alive: retained.
    let (v, s) = region("vec", || Vec::<u64>::with_capacity(100));
    lines.push(line("vec", s));
    drop(v);

    // The guard form.
    let r = Region::begin("guard");
    drop(black_box(Box::new([0u8; 64])));
    lines.push(line("guard", r.end()));

    let ((), s) = region("empty", || ());
    lines.push(line("empty", s));

    // A name too long for the stack buffer (made before the region opens).
    let long = "x".repeat(300);
    let (v, s) = region(&long, || Vec::<u8>::with_capacity(10));
    lines.push(line("long", s));
    drop(v);

    // Nested: the inner vector (zeroed: calloc) is freed inside the outer region.
    let (inner, outer) = region("outer", || {
        let (v, inner) = region("inner", || vec![0u8; 16]);
        drop(v);
        inner
    });
    lines.push(line("inner", inner));
    lines.push(line("outer", outer));

    // The name stops at its first NUL byte.
    let ((), s) = region("cut\0here", || drop(black_box(Vec::<u8>::with_capacity(5))));
    lines.push(line("cut", s));

    // A region left by a panic is closed by the guard's Drop.
    std::panic::set_hook(Box::new(|_| {}));
    let unwound = std::panic::catch_unwind(|| {
        let _r = Region::begin("unwound");
        std::panic::resume_unwind(Box::new(0u8));
    });
    let _ = std::panic::take_hook();
    lines.push(format!("unwound {}", u8::from(unwound.is_err())));

    for l in lines {
        println!("{l}");
    }
}
