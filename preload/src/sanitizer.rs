//! Sanitizer builds about to be exec'd.
//!
//! ASan, TSan, MSan, HWASan and LSan runtimes replace malloc and must be the first
//! library the loader maps. With the preload in `LD_PRELOAD` ahead of them (or the empty
//! 32-bit library the launcher's `$PLATFORM` entry gives a 32-bit program) ASan aborts
//! ("ASan runtime does not come first") and the others lose the allocating frame from
//! their reports. So the exec hooks ask [`needs_runtime_first`] and exec such a program
//! with the preload taken out of its environment.
//!
//! What is looked for is a runtime *library*: a name in `DT_NEEDED`, read with `pread`
//! from the ELF header, the program headers and the dynamic section into stack buffers
//! ([`benchmem_wire::elf`]: no malloc, no mapping: a vfork child's mappings would be its
//! parent's). A runtime
//! linked into the program (gcc's `-static-libasan`, clang's default) is not looked for:
//! the program itself comes before every preloaded library, so such a build runs
//! unharmed with the preload loaded (its malloc is its own, and its row says so).

use core::ffi::{CStr, c_int};

use benchmem_wire::elf::Elf;
use benchmem_wire::names::sanitizer_runtime;

/// An open file, closed when dropped.
struct File(c_int);

impl File {
    /// Opens `path` for reading if it is a regular file.
    fn open(path: &CStr) -> Option<File> {
        // Non-blocking: a FIFO given to exec must not hang the hook before exec refuses it.
        // SAFETY: a NUL-terminated path; open does not allocate.
        let fd = unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_NOCTTY,
            )
        };
        (fd >= 0).then_some(File(fd)).filter(|f| is_regular(f.0))
    }
}

impl Drop for File {
    fn drop(&mut self) {
        // SAFETY: closes the descriptor this value opened, and nothing else holds it.
        unsafe { libc::close(self.0) };
    }
}

fn is_regular(fd: c_int) -> bool {
    // SAFETY: fstat fills the stat buffer we own (all-zero is a valid `stat`).
    unsafe {
        let mut st: libc::stat = core::mem::zeroed();
        libc::fstat(fd, &mut st) == 0 && st.st_mode & libc::S_IFMT == libc::S_IFREG
    }
}

/// Reads up to `buf.len()` bytes at `off` (fewer at the end of the file); the count read,
/// 0 on error.
fn read_at(fd: c_int, off: u64, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        let Some(at) = off.checked_add(n as u64).filter(|&a| a <= i64::MAX as u64) else {
            break;
        };
        // SAFETY: pread writes at most the given length into our buffer; it leaves the
        // file offset alone (the fd may be the program's own, for fexecve).
        let r = unsafe {
            libc::pread(
                fd,
                buf[n..].as_mut_ptr().cast(),
                buf.len() - n,
                at as libc::off_t,
            )
        };
        if r < 0 {
            // Callers keep the program's errno.
            if crate::sys::errno() == libc::EINTR {
                continue;
            }
            return 0;
        }
        if r == 0 {
            break;
        }
        n += r as usize;
    }
    n
}

/// Whether the program at `path` loads a sanitizer runtime library (see the module
/// documentation). A `#!` script is judged by its interpreter (one level, as the kernel).
pub fn needs_runtime_first(path: &CStr) -> bool {
    File::open(path).is_some_and(|f| file_needs_runtime_first(f.0, 0))
}

/// [`needs_runtime_first`] for a program open at `fd` (`fexecve`).
pub fn fd_needs_runtime_first(fd: c_int) -> bool {
    is_regular(fd) && file_needs_runtime_first(fd, 0)
}

fn file_needs_runtime_first(fd: c_int, depth: u32) -> bool {
    let mut head = [0u8; 256];
    let n = read_at(fd, 0, &mut head);
    let head = &head[..n];
    if head.starts_with(b"#!") {
        return depth == 0 && interpreter_needs_runtime_first(&head[2..]);
    }
    Elf::parse(head).is_some_and(|elf| {
        elf.any_needed(&mut |off, buf: &mut [u8]| read_at(fd, off, buf), |name| {
            sanitizer_runtime(name).is_some()
        })
    })
}

/// The interpreter named on a `#!` line (what follows `#!`), checked in turn.
fn interpreter_needs_runtime_first(line: &[u8]) -> bool {
    let line = line.split(|&b| b == b'\n').next().unwrap_or(line);
    let Some(start) = line.iter().position(|&b| b != b' ' && b != b'\t') else {
        return false;
    };
    let rest = &line[start..];
    let end = rest
        .iter()
        .position(|&b| b == b' ' || b == b'\t' || b == 0)
        .unwrap_or(rest.len());
    let mut path = [0u8; 256];
    if end == 0 || end >= path.len() {
        return false;
    }
    path[..end].copy_from_slice(&rest[..end]);
    CStr::from_bytes_until_nul(&path)
        .ok()
        .and_then(File::open)
        .is_some_and(|f| file_needs_runtime_first(f.0, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(path: &str) -> bool {
        needs_runtime_first(&std::ffi::CString::new(path).unwrap())
    }

    #[test]
    fn ordinary_programs_need_no_runtime_first() {
        assert!(!check("/bin/sh"));
        assert!(!check("/bin/true"));
        assert!(!check("/nonexistent"));
        assert!(!check("/dev/null"));
        assert!(!check("/"));
    }

    #[test]
    fn a_sanitizer_build_needs_its_runtime_first() {
        let dir = std::env::temp_dir().join(format!("bm-san-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = dir.join("p.c");
        std::fs::write(&src, "int main(void) { return 0; }\n").unwrap();
        let build = |name: &str, flags: &[&str]| {
            let out = dir.join(name);
            let ok = std::process::Command::new("gcc")
                .args(flags)
                .arg(&src)
                .arg("-o")
                .arg(&out)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "gcc {flags:?} failed");
            out.to_str().unwrap().to_string()
        };
        let asan = build("asan", &["-fsanitize=address"]);
        let tsan = build("tsan", &["-fsanitize=thread"]);
        let asan32 = build("asan32", &["-m32", "-fsanitize=address"]);
        let linked_in = build("asan_static", &["-fsanitize=address", "-static-libasan"]);
        let plain = build("plain", &[]);
        assert!(check(&asan));
        assert!(check(&tsan));
        assert!(check(&asan32));
        assert!(!check(&linked_in));
        assert!(!check(&plain));
        let script = dir.join("s");
        std::fs::write(&script, format!("#! {asan} -x\n")).unwrap();
        assert!(check(script.to_str().unwrap()));
        std::fs::remove_dir_all(&dir).ok();
    }
}
