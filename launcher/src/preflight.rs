//! Before starting: can LD_PRELOAD work on this program at all?
//!
//! The dynamic loader ignores LD_PRELOAD for statically linked programs (there is no
//! loader) and for secure-execution ones (setuid/setgid to another user, file
//! capabilities). Measuring them would give silent zeros, the worst failure, so we refuse
//! with one clear line instead.
//!
//! Sanitizer builds (ASan, TSan, MSan, HWASan, LSan) are the opposite case: the loader
//! would load our preload, but their runtime replaces the allocator and insists on being
//! in front of it (ASan aborts otherwise; the others lose the allocating frame from their
//! reports and have their own bookkeeping counted as the program's). The program must not
//! be harmed, so those are run as they are, without the preload, and reported unmeasured.

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::RunError;

/// Finds `program` the way `execvp` would; when it cannot, says why in words that point
/// at the fix (not executable, a directory, only in the current directory).
pub fn resolve(program: &OsStr) -> Result<PathBuf, RunError> {
    let shown = || program.to_string_lossy().into_owned();
    let cannot = |why: String| RunError::CannotRun(shown(), why);
    if program.as_bytes().contains(&b'/') {
        let p = PathBuf::from(program);
        return match std::fs::metadata(&p) {
            Err(_) => Err(cannot("no such file".into())),
            Ok(m) if m.is_dir() => Err(cannot("it is a directory".into())),
            Ok(m) if !m.is_file() || m.mode() & 0o111 == 0 => Err(cannot(format!(
                "it is not executable (make it so with `chmod +x {}`, or run it through its \
                 interpreter)",
                shown()
            ))),
            Ok(_) => Ok(p),
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/bin:/bin"));
    let candidates: Vec<PathBuf> = std::env::split_paths(&path)
        .map(|d| d.join(program))
        .collect();
    if let Some(p) = candidates.iter().find(|p| is_executable(p)) {
        return Ok(p.clone());
    }
    if let Some(p) = candidates.iter().find(|p| p.is_file()) {
        return Err(cannot(format!(
            "{} is not executable (make it so with `chmod +x`)",
            p.display()
        )));
    }
    if Path::new(program).exists() {
        return Err(cannot(format!(
            "not found in PATH; did you mean ./{}?",
            shown()
        )));
    }
    Err(cannot(
        "not found in PATH (check the name, or give its path)".into(),
    ))
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0)
}

/// Refuses programs the preload cannot enter. Follows one `#!` interpreter. `Ok(Some(why))`
/// when the program must run without the preload (a sanitizer build), `why` being the
/// note for the user.
pub fn check(path: &Path) -> Result<Option<String>, RunError> {
    check_one(path, 0)
}

/// Why the command must run without the preload when the user's own `LD_PRELOAD` already
/// loads a sanitizer runtime: ours would have to come first, which the runtime forbids.
pub fn preloaded_sanitizer() -> Option<String> {
    let list = std::env::var_os("LD_PRELOAD")?;
    list.as_bytes()
        .split(|&b| b == b':' || b == b' ')
        .find_map(|lib| Some((sanitizer_of_library(lib)?, lib)))
        .map(|(s, lib)| {
            format!(
                "LD_PRELOAD loads the {} runtime ({}), which replaces the allocator and must \
                 be loaded first, so the command was run without benchmem and is not measured",
                s.name,
                String::from_utf8_lossy(lib)
            )
        })
}

fn check_one(path: &Path, depth: u32) -> Result<Option<String>, RunError> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|_| RunError::NotFound(shown.clone()))?;
    if is_secure_exec(path, &meta) {
        return Err(RunError::Privileged(shown));
    }
    let mut head = [0u8; 4096];
    let n = File::open(path)
        .and_then(|mut f| read_up_to(&mut f, &mut head))
        .unwrap_or(0);
    let head = &head[..n];
    if head.starts_with(b"#!") && depth == 0 {
        if let Some(interp) = interpreter(head) {
            return check_one(Path::new(OsStr::from_bytes(interp)), 1);
        }
        return Ok(None);
    }
    if head.starts_with(b"\x7fELF") {
        return check_elf(path, &shown);
    }
    Ok(None) // not ELF, not a script: let exec decide
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn interpreter(head: &[u8]) -> Option<&[u8]> {
    let line = head[2..].split(|&b| b == b'\n').next()?;
    line.split(|&b| b == b' ' || b == b'\t')
        .find(|t| !t.is_empty())
}

fn is_secure_exec(path: &Path, meta: &std::fs::Metadata) -> bool {
    // SAFETY: geteuid/getegid cannot fail.
    let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let suid = meta.mode() & libc::S_ISUID != 0 && meta.uid() != euid;
    let sgid = meta.mode() & libc::S_ISGID != 0 && meta.gid() != egid;
    suid || sgid || has_capabilities(path)
}

fn has_capabilities(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: size query only (null buffer, length 0).
    let n = unsafe {
        libc::getxattr(
            c.as_ptr(),
            c"security.capability".as_ptr(),
            std::ptr::null_mut(),
            0,
        )
    };
    n > 0
}

fn check_elf(path: &Path, shown: &str) -> Result<Option<String>, RunError> {
    // Only the ELF header and the program headers are needed, not the whole (possibly
    // large) program.
    let mut head = [0u8; 64];
    let mut f = File::open(path).map_err(|_| RunError::NotFound(shown.to_string()))?;
    if read_up_to(&mut f, &mut head).unwrap_or(0) < 64 || head[5] != 1 {
        return Ok(None); // not little-endian ELF we understand: let exec decide
    }
    if head[4] != 2 {
        return Err(RunError::WrongAbi(shown.to_string(), "32-bit"));
    }
    let elf = Elf(&head);
    if elf.u16(18) != HOST_MACHINE {
        return Err(RunError::WrongAbi(
            shown.to_string(),
            "foreign-architecture",
        ));
    }
    let (phoff, phentsize, phnum) = (elf.u64(32), elf.u16(54) as usize, elf.u16(56) as usize);
    let mut table = vec![0u8; (phentsize * phnum).min(64 * 1024)];
    let read = f
        .seek(SeekFrom::Start(phoff))
        .and_then(|_| read_up_to(&mut f, &mut table))
        .unwrap_or(0);
    let table = Elf(&table[..read]);
    let has_interp = (0..phnum).any(|i| table.u32(i * phentsize) == PT_INTERP);
    if !has_interp {
        return Err(RunError::Static(shown.to_string()));
    }
    Ok(sanitizer(&mut f, &elf).map(|s| {
        format!(
            "{shown} is {} {} build: its sanitizer runtime replaces the allocator and must be \
             loaded first, so it was run without benchmem and is not measured",
            s.article, s.name
        )
    }))
}

/// A sanitizer whose runtime replaces malloc.
#[derive(Debug, PartialEq, Eq)]
struct Sanitizer {
    /// As in the runtime's file and symbol names: `libasan.so`, `__asan_init`.
    key: &'static str,
    name: &'static str,
    article: &'static str,
}

/// UBSan is not here: its runtime leaves malloc alone, so its builds are measured.
const SANITIZERS: [Sanitizer; 5] = [
    Sanitizer {
        key: "asan",
        name: "AddressSanitizer",
        article: "an",
    },
    Sanitizer {
        key: "hwasan",
        name: "HWAddressSanitizer",
        article: "an",
    },
    Sanitizer {
        key: "tsan",
        name: "ThreadSanitizer",
        article: "a",
    },
    Sanitizer {
        key: "msan",
        name: "MemorySanitizer",
        article: "a",
    },
    Sanitizer {
        key: "lsan",
        name: "LeakSanitizer",
        article: "a",
    },
];

/// Stands for a runtime linked into the program whose kind its symbols do not tell.
const SOME_SANITIZER: Sanitizer = Sanitizer {
    key: "",
    name: "sanitizer",
    article: "a",
};

/// The sanitizer whose runtime library this is: gcc's `libasan.so.8`, clang's
/// `libclang_rt.asan-x86_64.so` or `libclang_rt.asan.so`, by path or bare name.
fn sanitizer_of_library(lib: &[u8]) -> Option<&'static Sanitizer> {
    let base = lib.rsplit(|&b| b == b'/').next()?;
    let rest = base.strip_prefix(b"lib")?;
    let rest = rest.strip_prefix(b"clang_rt.").unwrap_or(rest);
    let key = rest.split(|&b| b == b'.' || b == b'-').next()?;
    let is_library = base.windows(3).any(|w| w == b".so");
    SANITIZERS
        .iter()
        .find(|s| s.key.as_bytes() == key && is_library)
}

/// The sanitizer whose initialisation this symbol is (`__asan_init`). Instrumented code
/// references it, so it names the sanitizer whether the runtime is a library or linked in.
fn sanitizer_of_symbol(name: &[u8]) -> Option<&'static Sanitizer> {
    let key = name.strip_prefix(b"__")?.strip_suffix(b"_init")?;
    SANITIZERS.iter().find(|s| s.key.as_bytes() == key)
}

const SHT_SYMTAB: u32 = 2;
const SHT_DYNAMIC: u32 = 6;
const SHT_DYNSYM: u32 = 11;
const DT_NEEDED: u64 = 1;
/// Bounds what is read of one section: beyond it the program is not judged a sanitizer
/// build (runtimes' own tables are far smaller).
const MAX_SECTION: u64 = 256 << 20;

/// Which sanitizer runtime the program loads or contains, from its section headers (the
/// loader does not need them, but every toolchain writes them; a program stripped of them
/// is taken as no sanitizer build).
///
/// - A runtime library in DT_NEEDED (gcc's default, clang's `-shared-libsan`), or an
///   instrumentation symbol (`__asan_init`) in the dynamic symbols.
/// - A runtime linked in (gcc's `-static-libasan`, clang's default): the program exports
///   `malloc` itself beside the runtime's weak `__sanitizer_*` hooks; the kind comes from
///   the full symbol table when it is still there.
fn sanitizer(f: &mut File, elf: &Elf) -> Option<&'static Sanitizer> {
    let (shoff, shentsize, shnum) = (elf.u64(40), elf.u16(58) as usize, elf.u16(60) as usize);
    if shoff == 0 || shentsize != 64 {
        return None;
    }
    let headers = read_at(f, shoff, (shentsize * shnum) as u64)?;
    let sections: Vec<Section> = (0..shnum)
        .map(|i| {
            let h = Elf(&headers[i * 64..(i + 1) * 64]);
            Section {
                kind: h.u32(4),
                offset: h.u64(24),
                size: h.u64(32),
                link: h.u32(40) as usize,
            }
        })
        .collect();
    let mut table = |kind: u32| -> Option<(Vec<u8>, Vec<u8>)> {
        let s = sections.iter().find(|s| s.kind == kind)?;
        let strings = sections.get(s.link)?;
        Some((
            read_at(f, s.offset, s.size)?,
            read_at(f, strings.offset, strings.size)?,
        ))
    };
    if let Some((dynamic, strings)) = table(SHT_DYNAMIC) {
        let needed = dynamic.chunks_exact(16).filter_map(|d| {
            let d = Elf(d);
            (d.u64(0) == DT_NEEDED).then(|| c_str(&strings, d.u64(8)))
        });
        if let Some(s) = needed.flatten().find_map(sanitizer_of_library) {
            return Some(s);
        }
    }
    let (symbols, strings) = table(SHT_DYNSYM)?;
    let (mut exports_malloc, mut has_hooks) = (false, false);
    for sym in symbols.chunks_exact(24) {
        let sym = Elf(sym);
        let Some(name) = c_str(&strings, sym.u32(0) as u64) else {
            continue;
        };
        if let Some(s) = sanitizer_of_symbol(name) {
            return Some(s);
        }
        exports_malloc |= name == b"malloc" && sym.u16(6) != 0;
        has_hooks |= name.starts_with(b"__sanitizer_");
    }
    if !(exports_malloc && has_hooks) {
        return None;
    }
    let named = table(SHT_SYMTAB).and_then(|(symbols, strings)| {
        symbols
            .chunks_exact(24)
            .find_map(|sym| sanitizer_of_symbol(c_str(&strings, Elf(sym).u32(0) as u64)?))
    });
    Some(named.unwrap_or(&SOME_SANITIZER))
}

struct Section {
    kind: u32,
    offset: u64,
    size: u64,
    link: usize,
}

fn read_at(f: &mut File, offset: u64, len: u64) -> Option<Vec<u8>> {
    if len > MAX_SECTION {
        return None;
    }
    let mut buf = vec![0u8; len as usize];
    f.seek(SeekFrom::Start(offset)).ok()?;
    (read_up_to(f, &mut buf).ok()? == buf.len()).then_some(buf)
}

/// The NUL-terminated string at `at` in a string table.
fn c_str(table: &[u8], at: u64) -> Option<&[u8]> {
    let rest = table.get(usize::try_from(at).ok()?..)?;
    rest.iter().position(|&b| b == 0).map(|end| &rest[..end])
}

const PT_INTERP: u32 = 3;
#[cfg(target_arch = "x86_64")]
const HOST_MACHINE: u16 = 62;
#[cfg(target_arch = "aarch64")]
const HOST_MACHINE: u16 = 183;

struct Elf<'a>(&'a [u8]);

impl Elf<'_> {
    fn u16(&self, at: usize) -> u16 {
        self.0
            .get(at..at + 2)
            .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&self, at: usize) -> u32 {
        self.0
            .get(at..at + 4)
            .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&self, at: usize) -> u64 {
        self.0.get(at..at + 8).map_or(0, |b| {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            u64::from_le_bytes(a)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_programs_pass() {
        check(&resolve(OsStr::new("sh")).unwrap()).unwrap();
        check(Path::new("/bin/true")).unwrap();
    }

    #[test]
    fn missing_programs_are_named() {
        let e = resolve(OsStr::new("no-such-program-xyz")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot run `no-such-program-xyz`: not found in PATH (check the name, or give its path)"
        );
        let d = tempfile::tempdir().unwrap();
        let (dir, file) = (d.path().join("sub"), d.path().join("noexec.sh"));
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(&file, "echo hi\n").unwrap();
        let why = |p: &Path| resolve(p.as_os_str()).unwrap_err().to_string();
        assert!(why(&dir).ends_with(": it is a directory"), "{}", why(&dir));
        assert!(
            why(&file).contains(": it is not executable"),
            "{}",
            why(&file)
        );
        assert!(why(&d.path().join("nope")).ends_with(": no such file"));
    }

    #[test]
    fn sanitizer_runtimes_are_known_by_their_library_names() {
        let key = |lib: &str| sanitizer_of_library(lib.as_bytes()).map(|s| s.key);
        assert_eq!(key("libasan.so.8"), Some("asan"));
        assert_eq!(key("/usr/lib/x86_64-linux-gnu/libtsan.so.2"), Some("tsan"));
        assert_eq!(key("libclang_rt.asan-x86_64.so"), Some("asan"));
        assert_eq!(key("libclang_rt.hwasan.so"), Some("hwasan"));
        assert_eq!(key("libubsan.so.1"), None);
        assert_eq!(key("libasan_preinit.o"), None);
        assert_eq!(key("libmsan_helpers.so"), None);
        assert_eq!(
            sanitizer_of_symbol(b"__msan_init").map(|s| s.key),
            Some("msan")
        );
        assert_eq!(sanitizer_of_symbol(b"__ubsan_handle_add_overflow"), None);
    }

    #[test]
    fn scripts_follow_their_interpreter() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s.sh");
        std::fs::write(&p, "#!/bin/sh\necho hi\n").unwrap();
        check(&p).unwrap();
        assert_eq!(
            interpreter(b"#! /usr/bin/env python3\n"),
            Some(&b"/usr/bin/env"[..])
        );
    }
}
