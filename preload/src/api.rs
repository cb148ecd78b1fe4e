//! The region API exported to programs (declared in `include/benchmem.h`; what a region
//! measures: docs/architecture.md, "Regions").

use core::ffi::{c_char, c_int};
use core::sync::atomic::Ordering::Relaxed;

use benchmem_wire::Stats;

use benchmem_wire::stacks::Record;

use crate::hot;
use crate::regions::{self, Ended};
use crate::stackring::RING;
use crate::{stacks, tls};

/// Not running under the preload's tracking (or a bad argument).
const ERR_INACTIVE: c_int = -1;

/// Opens a region named `name`; returns its id (≥ 0) or a negative error.
///
/// # Safety
/// `name` is null or a NUL-terminated string.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub unsafe extern "C" fn benchmem_region_begin(name: *const c_char) -> c_int {
    let Some(st) = hot::current().filter(|_| !name.is_null()) else {
        return ERR_INACTIVE;
    };
    let _g = tls::Guard::enter();
    // SAFETY: a NUL-terminated string (the caller's contract), not null.
    let name = unsafe { core::ffi::CStr::from_ptr(name) };
    if !stacks::on() {
        return regions::begin(st, name.to_bytes());
    }
    // The begin and its record in one step, in the order of the counters' events.
    let mut ring = RING.lock();
    let id = regions::begin(st, name.to_bytes());
    if id >= 0 {
        let slot = &st.regions[(id & 0xff) as usize];
        ring.write(&Record::RegionBegin {
            id,
            epoch: slot.begin_epoch.load(Relaxed),
            name: slot.name(),
        });
    }
    id
}

/// Closes region `id`, writing its sample to `out` (may be null) and handing it to the
/// launcher. Returns 0, or a negative error with `out` zeroed.
///
/// # Safety
/// `out` is null or points to a writable `benchmem_stats`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub unsafe extern "C" fn benchmem_region_end(id: c_int, out: *mut Stats) -> c_int {
    if !out.is_null() {
        // SAFETY: writable when not null (the caller's contract).
        unsafe { *out = Stats::default() };
    }
    let Some(st) = hot::current() else {
        return ERR_INACTIVE;
    };
    let _g = tls::Guard::enter();
    let mut e = Ended::new();
    let rc = if stacks::on() {
        let mut ring = RING.lock();
        let rc = regions::end(st, id, &mut e);
        if rc == 0 {
            ring.write(&Record::RegionEnd { id });
        }
        rc
    } else {
        regions::end(st, id, &mut e)
    };
    if rc != 0 {
        return rc;
    }
    if !out.is_null() {
        // SAFETY: as above.
        unsafe { *out = e.stats };
    }
    0
}

/// 1 when this process is being measured by the preload, else 0.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub extern "C" fn benchmem_is_active() -> c_int {
    hot::current().is_some() as c_int
}
