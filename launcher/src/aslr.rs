//! Address-space layout randomization, off for the measured command by default.
//!
//! Some allocators decide by address: CPython's obmalloc loses a pool when a 1 MiB arena
//! mapping is not pool-aligned, so under randomization one repeat of the same script
//! allocates an arena inside a region and the next does not (peak 169 KiB, then
//! 1.16 MiB). Fixed addresses make repeats agree, as gdb and rr do for the same reason.
//! The personality flag is set on the launcher itself: it takes effect at the next exec,
//! and children inherit it (the kernel drops it for setuid programs).

/// The personality flag that turns randomization off.
const ADDR_NO_RANDOMIZE: libc::c_ulong = libc::ADDR_NO_RANDOMIZE as libc::c_ulong;
/// Asks `personality` for the current value without changing it.
const QUERY: libc::c_ulong = 0xffff_ffff;

/// Turns randomization off for programs this process starts from now on. Err when the
/// kernel or a seccomp filter (Docker's default one) refuses.
pub fn disable_for_children() -> std::io::Result<()> {
    // SAFETY: personality takes and returns plain integers.
    let cur = unsafe { libc::personality(QUERY) };
    if cur == -1 {
        return Err(std::io::Error::last_os_error());
    }
    let want = cur as libc::c_ulong | ADDR_NO_RANDOMIZE;
    // SAFETY: as above.
    let set = unsafe { libc::personality(want) };
    // SAFETY: as above; a seccomp filter may accept the call and still keep the flag off.
    let now = unsafe { libc::personality(QUERY) };
    if set == -1 || now as libc::c_ulong & ADDR_NO_RANDOMIZE == 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A child started after the call sees the flag in /proc/self/personality.
    #[test]
    fn children_inherit_fixed_addresses() {
        if disable_for_children().is_err() {
            eprintln!("personality refused here (seccomp): nothing to check");
            return;
        }
        let out = std::process::Command::new("cat")
            .arg("/proc/self/personality")
            .output()
            .unwrap();
        let v = u64::from_str_radix(String::from_utf8_lossy(&out.stdout).trim(), 16).unwrap();
        assert_ne!(v & ADDR_NO_RANDOMIZE, 0, "{v:x}");
    }
}
