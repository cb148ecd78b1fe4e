//! Environment variables and file names shared by the launcher and the preload.

/// Directory of the run: holds the event socket and one state file per process image.
/// Set by the launcher; without it the preload still counts (for the region API) but reports nothing.
pub const ENV_DIR: &str = "BENCHMEM_DIR";
/// Name of each process's root region; default: the program's basename.
pub const ENV_REGION: &str = "BENCHMEM_REGION";
/// Path of the preload library, overriding the launcher's search.
pub const ENV_PRELOAD: &str = "BENCHMEM_PRELOAD";
/// Set to `1` to keep the preload loaded but count nothing (a control for overhead checks).
pub const ENV_DISABLE: &str = "BENCHMEM_DISABLE";

/// The event socket's file name inside the run directory.
pub const SOCKET_NAME: &str = "events.sock";
/// Prefix of state files: `s-<pid>-<image>` where image counts the execs of that pid.
pub const STATE_PREFIX: &str = "s-";

/// Longest region name kept verbatim, in bytes. Longer names are cut and suffixed with a
/// hash of the whole name (see [`fit_name`]) so distinct long names stay distinct.
pub const NAME_CAP: usize = 1024;

/// Copy `src` into `dst` (capacity [`NAME_CAP`]), returning the length used. Names longer
/// than the capacity keep their first bytes and end in `~` plus 16 hex digits of a hash of
/// the whole name.
pub fn fit_name(src: &[u8], dst: &mut [u8; NAME_CAP]) -> usize {
    if src.len() <= NAME_CAP {
        dst[..src.len()].copy_from_slice(src);
        return src.len();
    }
    let keep = NAME_CAP - 17;
    dst[..keep].copy_from_slice(&src[..keep]);
    dst[keep] = b'~';
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in src {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    for i in 0..16 {
        let nibble = ((h >> (60 - 4 * i)) & 0xf) as u8;
        dst[keep + 1 + i] = if nibble < 10 {
            b'0' + nibble
        } else {
            b'a' + nibble - 10
        };
    }
    NAME_CAP
}

/// Sanitizers whose runtime replaces malloc and must be the first library loaded, by the
/// key their runtime's file names carry. UBSan is not one: its runtime leaves malloc alone.
pub const SANITIZER_KEYS: [&str; 5] = ["asan", "hwasan", "tsan", "msan", "lsan"];

/// The sanitizer (its key in [`SANITIZER_KEYS`]) whose runtime library `lib` is: gcc's
/// `libasan.so.8`, clang's `libclang_rt.asan-x86_64.so` or `libclang_rt.asan.so`, by
/// path or bare name. Not `libasan_preinit.o` nor `libmsan_helpers.so`.
pub fn sanitizer_runtime(lib: &[u8]) -> Option<&'static str> {
    let base = lib.rsplit(|&b| b == b'/').next()?;
    let rest = base.strip_prefix(b"lib")?;
    let rest = rest.strip_prefix(b"clang_rt.").unwrap_or(rest);
    let key = rest.split(|&b| b == b'.' || b == b'-').next()?;
    if !base.windows(3).any(|w| w == b".so") {
        return None;
    }
    SANITIZER_KEYS.iter().copied().find(|k| k.as_bytes() == key)
}

/// Write `n` in decimal into `buf`, returning the digits written (no allocation).
pub fn write_decimal(mut n: u64, buf: &mut [u8]) -> usize {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let digits = &tmp[i..];
    let len = digits.len().min(buf.len());
    buf[..len].copy_from_slice(&digits[..len]);
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_kept() {
        let mut dst = [0u8; NAME_CAP];
        let n = fit_name(b"load", &mut dst);
        assert_eq!(&dst[..n], b"load");
    }

    #[test]
    fn long_names_stay_distinct() {
        let a = [b'a'; 10 * 1024];
        let mut b = a;
        b[9000] = b'b';
        let (mut da, mut db) = ([0u8; NAME_CAP], [0u8; NAME_CAP]);
        assert_eq!(fit_name(&a, &mut da), NAME_CAP);
        assert_eq!(fit_name(&b, &mut db), NAME_CAP);
        assert_ne!(da, db);
        assert_eq!(da[NAME_CAP - 17], b'~');
    }

    #[test]
    fn sanitizer_runtimes_by_file_name() {
        assert_eq!(sanitizer_runtime(b"libasan.so.8"), Some("asan"));
        assert_eq!(sanitizer_runtime(b"/usr/lib/libtsan.so.2"), Some("tsan"));
        assert_eq!(
            sanitizer_runtime(b"libclang_rt.asan-x86_64.so"),
            Some("asan")
        );
        assert_eq!(sanitizer_runtime(b"libclang_rt.hwasan.so"), Some("hwasan"));
        assert_eq!(sanitizer_runtime(b"liblsan.so.0"), Some("lsan"));
        assert_eq!(sanitizer_runtime(b"libubsan.so.1"), None);
        assert_eq!(sanitizer_runtime(b"libasan_preinit.o"), None);
        assert_eq!(sanitizer_runtime(b"libmsan_helpers.so"), None);
        assert_eq!(sanitizer_runtime(b"libc.so.6"), None);
        assert_eq!(sanitizer_runtime(b"asan.so"), None);
    }

    #[test]
    fn decimal() {
        let mut buf = [0u8; 20];
        let n = write_decimal(1234567890123, &mut buf);
        assert_eq!(&buf[..n], b"1234567890123");
        assert_eq!(write_decimal(0, &mut buf), 1);
        assert_eq!(buf[0], b'0');
    }
}
