//! The `benchmem` binary: all logic lives in the library (`benchmem_cli`).

/// Runs before Rust's runtime, which reopens closed standard descriptors on /dev/null
/// and ignores SIGPIPE: the measured command must start with what benchmem was given.
#[used]
#[unsafe(link_section = ".init_array")]
static CAPTURE_INHERITED: extern "C" fn() = benchmem_launcher::capture_inherited;

/// The preload library, built by `build.rs`: a `benchmem` copied alone anywhere carries
/// what it needs, and writes it out to the user's cache when no preload is found on disk.
static PRELOAD: &[u8] = include_bytes!(env!("BENCHMEM_EMBEDDED_PRELOAD"));

fn main() {
    // Large blocks (a region's samples, a saved run's series) straight from mmap, always:
    // glibc would otherwise raise the threshold as they are freed and serve the next ones
    // from the heap, where growing a series copies it and leaves the old block resident.
    // SAFETY: mallopt only sets an allocator parameter, before any thread exists.
    unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024) };
    benchmem_launcher::embed_preload(PRELOAD);
    std::process::exit(benchmem_cli::main_with_args(std::env::args_os()));
}
