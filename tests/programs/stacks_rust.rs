//! A Rust program's allocation, attributed to the function that made it: 12345 bytes in
//! `rust_site`.

#[inline(never)]
fn rust_site(n: usize) -> Vec<u8> {
    std::hint::black_box(Vec::with_capacity(n))
}

fn main() {
    let v = rust_site(12345);
    std::hint::black_box(&v);
}
