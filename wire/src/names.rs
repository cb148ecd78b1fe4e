//! Environment variables and file names shared by the launcher and the preload.

use core::ffi::CStr;

/// Defines a name once, as `&str` for the launcher and NUL-terminated as `&CStr` for the
/// preload (which passes it to `getenv` and cannot build C strings on the heap).
macro_rules! names {
    ($($(#[$doc:meta])* $name:ident, $c_name:ident = $value:literal;)*) => {$(
        $(#[$doc])*
        pub const $name: &str = $value;
        #[doc = concat!("[`", stringify!($name), "`], NUL-terminated.")]
        pub const $c_name: &CStr =
            match CStr::from_bytes_with_nul(concat!($value, "\0").as_bytes()) {
                Ok(c) => c,
                Err(_) => panic!("a name holds no NUL"),
            };
    )*};
}

names! {
    /// Directory of the run: holds one state file per process image.
    /// Set by the launcher; without it the preload still counts (for the region API) but
    /// reports nothing.
    ENV_DIR, ENV_DIR_C = "BENCHMEM_DIR";
    /// Name of each process's root region; default: the program's basename.
    ENV_REGION, ENV_REGION_C = "BENCHMEM_REGION";
    /// Path of the preload library, overriding the launcher's search.
    ENV_PRELOAD, ENV_PRELOAD_C = "BENCHMEM_PRELOAD";
    /// Set to `1` to keep the preload loaded but count nothing (a control for overhead
    /// checks).
    ENV_DISABLE, ENV_DISABLE_C = "BENCHMEM_DISABLE";
    /// Set to `1` to record the call stack of every counted allocation into the run
    /// directory's stack streams (see [`crate::stacks`]).
    ENV_STACKS, ENV_STACKS_C = "BENCHMEM_STACKS";
    /// Capacity in bytes of each stack stream's ring (rounded down to a power of two,
    /// at least 4096; default [`crate::stacks::DEFAULT_CAPACITY`]). For tests that need
    /// a ring to fill up.
    ENV_STACKS_RING, ENV_STACKS_RING_C = "BENCHMEM_STACKS_RING";
    /// The loader's list of libraries to load first: how the launcher brings the preload
    /// into a program, and what the preload looks for in an environment given to exec.
    LD_PRELOAD, LD_PRELOAD_C = "LD_PRELOAD";
}

/// The entries of an [`LD_PRELOAD`] value as the loader reads them: separated by colons
/// or spaces, empty ones skipped.
pub fn preload_entries(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    list.split(|&b| b == b':' || b == b' ')
        .filter(|e| !e.is_empty())
}

/// The last component of a path (the path itself when it has no `/`).
pub fn base_name(path: &[u8]) -> &[u8] {
    path.rsplit(|&b| b == b'/').next().unwrap_or(path)
}

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
    let base = base_name(lib);
    let rest = base.strip_prefix(b"lib")?;
    let rest = rest.strip_prefix(b"clang_rt.").unwrap_or(rest);
    let key = rest.split(|&b| b == b'.' || b == b'-').next()?;
    if !base.windows(3).any(|w| w == b".so") {
        return None;
    }
    SANITIZER_KEYS.iter().copied().find(|k| k.as_bytes() == key)
}

/// Writes the name of the state file of image `image` of `pid` into `buf`
/// (`s-<pid>-<image>`, see [`STATE_PREFIX`]), returning its length, cut to `buf` (no
/// allocation; 24 bytes always suffice).
pub fn state_file_name(pid: u32, image: u32, buf: &mut [u8]) -> usize {
    let mut n = put(buf, 0, STATE_PREFIX.as_bytes());
    n += write_decimal(pid as u64, &mut buf[n..]);
    n += put(buf, n, b"-");
    n += write_decimal(image as u64, &mut buf[n..]);
    n
}

/// The pid and image of a state file's name (see [`state_file_name`]); None for any other
/// name.
pub fn parse_state_file_name(name: &[u8]) -> Option<(u32, u32)> {
    parse_image_file_name(STATE_PREFIX, name)
}

/// `<prefix><pid>-<image>` → (pid, image): the shape of every per-process-image file of
/// a run directory (state files here, stack streams in [`crate::stacks`]).
pub(crate) fn parse_image_file_name(prefix: &str, name: &[u8]) -> Option<(u32, u32)> {
    let rest = name.strip_prefix(prefix.as_bytes())?;
    let dash = rest.iter().position(|&b| b == b'-')?;
    Some((decimal(&rest[..dash])?, decimal(&rest[dash + 1..])?))
}

/// A `u32` in plain decimal digits (no sign, no space), at most 10 of them.
fn decimal(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 10 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (b - b'0') as u64;
    }
    u32::try_from(v).ok()
}

/// Copies as much of `s` as fits into `buf` at `at`; returns the bytes copied.
pub(crate) fn put(buf: &mut [u8], at: usize, s: &[u8]) -> usize {
    let k = s.len().min(buf.len() - at);
    buf[at..at + k].copy_from_slice(&s[..k]);
    k
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
    fn c_names_are_the_names() {
        assert_eq!(ENV_DIR_C.to_bytes(), ENV_DIR.as_bytes());
        assert_eq!(ENV_REGION_C.to_bytes(), ENV_REGION.as_bytes());
        assert_eq!(ENV_PRELOAD_C.to_bytes(), ENV_PRELOAD.as_bytes());
        assert_eq!(ENV_DISABLE_C.to_bytes(), ENV_DISABLE.as_bytes());
        assert_eq!(LD_PRELOAD_C.to_bytes(), LD_PRELOAD.as_bytes());
    }

    #[test]
    fn preload_lists_and_base_names() {
        let v: [&[u8]; 3] = [b"/a/lib1.so", b"lib2.so", b"lib3.so"];
        assert!(preload_entries(b"/a/lib1.so: lib2.so::lib3.so ").eq(v));
        assert_eq!(preload_entries(b"").count(), 0);
        assert_eq!(base_name(b"/a/b/c.so"), b"c.so");
        assert_eq!(base_name(b"c.so"), b"c.so");
        assert_eq!(base_name(b"/a/"), b"");
    }

    #[test]
    fn state_file_names() {
        let mut buf = [0u8; 24];
        let n = state_file_name(u32::MAX, u32::MAX, &mut buf);
        assert_eq!(&buf[..n], b"s-4294967295-4294967295");
        let n = state_file_name(42, 0, &mut buf);
        assert_eq!(&buf[..n], b"s-42-0");
        let mut short = [0u8; 5];
        assert_eq!(state_file_name(12345, 1, &mut short), 5);
        assert_eq!(&short, b"s-123");
        assert_eq!(parse_state_file_name(b"s-42-0"), Some((42, 0)));
        assert_eq!(
            parse_state_file_name(b"s-4294967295-4294967295"),
            Some((u32::MAX, u32::MAX))
        );
        for bad in [
            &b"k-1-0"[..],
            b"s-1",
            b"s--0",
            b"s-1-",
            b"s-+1-0",
            b"s-1-0.tmp",
            b"s-1-0-1",
            b"s-4294967296-0",
            b"s-00000000001-0",
        ] {
            assert_eq!(parse_state_file_name(bad), None);
        }
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
