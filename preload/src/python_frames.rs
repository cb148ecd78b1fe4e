//! Python frames in native stacks: each run of the interpreter's evaluation-loop frames
//! replaced by the Python frames it was running.
//!
//! This version reads no interpreter: native frames are kept as they are.

use benchmem_wire::stacks::Record;

/// True when the process runs a CPython whose frames we can read.
pub fn active() -> bool {
    false
}

/// Writes into `out` the stack `native` (return addresses, innermost first) with each run
/// of the interpreter's evaluation-loop frames replaced by the Python frames it was
/// running (`benchmem_wire::stacks::py_frame(code, line)` words); returns the count.
/// Lock-free, no malloc.
pub fn splice(native: &[u64], out: &mut [u64]) -> usize {
    let n = native.len().min(out.len());
    out[..n].copy_from_slice(&native[..n]);
    n
}

/// Writes a `PyCode` record for each code id in `frames` not yet written, through `write`
/// (called under the ring lock, before the `Stack` record that uses them).
pub fn emit_new_codes(frames: &[u64], write: &mut dyn FnMut(&Record)) {
    let _ = (frames, write);
}
