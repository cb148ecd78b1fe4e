//! The four numbers measured per region sample.

/// Counters of one region sample, as returned by `benchmem_region_end` (C layout: this is
/// `benchmem_stats` of `include/benchmem.h`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// High-water of bytes allocated inside the region and live at the same time.
    pub peak_bytes: u64,
    /// Sum of the requested sizes of every allocation made inside the region.
    pub total_bytes: u64,
    /// Number of successful allocation calls inside the region.
    pub allocations: u64,
    /// Bytes allocated inside the region still live when it ended.
    pub retained_bytes: u64,
}
