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
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use benchmem_wire::names;

use crate::elf::{Elf, HOST_MACHINE, SymbolTable, read_up_to};
use crate::{OtherAbi, RunError};

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

/// Whether the preload may enter a program it can enter at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Run it under the preload.
    Enter,
    /// A sanitizer build: run it as it is, unmeasured. `program` is the file judged (the
    /// interpreter, for a script).
    Unmeasured {
        /// The file that is the sanitizer build.
        program: PathBuf,
        /// Its sanitizer.
        sanitizer: Sanitizer,
    },
}

/// Refuses programs the preload cannot enter. Follows one `#!` interpreter.
pub fn check(path: &Path) -> Result<Verdict, RunError> {
    check_one(path, 0)
}

/// The sanitizer runtime the user's own `LD_PRELOAD` already loads, and its entry there:
/// ours would have to come first, which the runtime forbids, so the command runs without
/// the preload.
pub fn preloaded_sanitizer() -> Option<(Sanitizer, String)> {
    let list = std::env::var_os("LD_PRELOAD")?;
    names::preload_entries(list.as_bytes())
        .find_map(|lib| Some((sanitizer_of_library(lib)?, lib)))
        .map(|(s, lib)| (s, String::from_utf8_lossy(lib).into_owned()))
}

fn check_one(path: &Path, depth: u32) -> Result<Verdict, RunError> {
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
        return Ok(Verdict::Enter);
    }
    if head.starts_with(b"\x7fELF") {
        return check_elf(path, &shown);
    }
    Ok(Verdict::Enter) // not ELF, not a script: let exec decide
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

fn check_elf(path: &Path, shown: &str) -> Result<Verdict, RunError> {
    let Some(elf) = Elf::open(path) else {
        return Ok(Verdict::Enter); // too short to be a program: let exec decide
    };
    if !elf.is_little_endian() {
        return Ok(Verdict::Enter); // not ELF we understand: let exec decide
    }
    if !elf.is_64bit() {
        return Err(RunError::WrongAbi(shown.to_string(), OtherAbi::Bits32));
    }
    if elf.machine() != HOST_MACHINE {
        return Err(RunError::WrongAbi(
            shown.to_string(),
            OtherAbi::Architecture,
        ));
    }
    if !elf.has_interpreter() {
        return Err(RunError::Static(shown.to_string()));
    }
    Ok(match sanitizer(&elf) {
        Some(sanitizer) => Verdict::Unmeasured {
            program: path.to_path_buf(),
            sanitizer,
        },
        None => Verdict::Enter,
    })
}

/// A sanitizer whose runtime replaces malloc. UBSan is not one: its runtime leaves
/// malloc alone, so its builds are measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sanitizer {
    /// AddressSanitizer (`-fsanitize=address`).
    Address,
    /// HWAddressSanitizer (`-fsanitize=hwaddress`).
    HwAddress,
    /// ThreadSanitizer (`-fsanitize=thread`).
    Thread,
    /// MemorySanitizer (`-fsanitize=memory`).
    Memory,
    /// LeakSanitizer on its own (`-fsanitize=leak`).
    Leak,
    /// A runtime linked into the program whose kind its symbols do not tell.
    Unknown,
}

/// The sanitizer of a key of `benchmem_wire::names::SANITIZER_KEYS` (`asan`), the one
/// list both sides read runtime names with.
fn by_key(key: &[u8]) -> Option<Sanitizer> {
    Some(match key {
        b"asan" => Sanitizer::Address,
        b"hwasan" => Sanitizer::HwAddress,
        b"tsan" => Sanitizer::Thread,
        b"msan" => Sanitizer::Memory,
        b"lsan" => Sanitizer::Leak,
        _ => return None,
    })
}

/// The sanitizer whose runtime library this is (`libasan.so.8`, clang's
/// `libclang_rt.asan-x86_64.so`), by path or bare name, as the preload tells it.
fn sanitizer_of_library(lib: &[u8]) -> Option<Sanitizer> {
    by_key(names::sanitizer_runtime(lib)?.as_bytes())
}

/// The sanitizer whose initialisation this symbol is (`__asan_init`). Instrumented code
/// references it, so it names the sanitizer whether the runtime is a library or linked in.
fn sanitizer_of_symbol(name: &[u8]) -> Option<Sanitizer> {
    by_key(name.strip_prefix(b"__")?.strip_suffix(b"_init")?)
}

/// Which sanitizer runtime the program loads or contains, from its section headers (a
/// program stripped of them is taken as no sanitizer build).
///
/// - A runtime library in DT_NEEDED (gcc's default, clang's `-shared-libsan`), or an
///   instrumentation symbol (`__asan_init`) in the dynamic symbols.
/// - A runtime linked in (gcc's `-static-libasan`, clang's default): the program exports
///   `malloc` itself beside the runtime's weak `__sanitizer_*` hooks; the kind comes from
///   the full symbol table when it is still there.
fn sanitizer(elf: &Elf) -> Option<Sanitizer> {
    if let Some(s) = elf
        .needed()
        .iter()
        .find_map(|lib| sanitizer_of_library(lib))
    {
        return Some(s);
    }
    let (mut exports_malloc, mut has_hooks) = (false, false);
    for sym in elf.symbols(SymbolTable::Dynamic) {
        if let Some(s) = sanitizer_of_symbol(&sym.name) {
            return Some(s);
        }
        exports_malloc |= sym.name == b"malloc" && sym.defined;
        has_hooks |= sym.name.starts_with(b"__sanitizer_");
    }
    if !(exports_malloc && has_hooks) {
        return None;
    }
    let named = elf
        .symbols(SymbolTable::Full)
        .iter()
        .find_map(|sym| sanitizer_of_symbol(&sym.name));
    Some(named.unwrap_or(Sanitizer::Unknown))
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
        let key = |lib: &str| sanitizer_of_library(lib.as_bytes());
        assert_eq!(key("libasan.so.8"), Some(Sanitizer::Address));
        assert_eq!(
            key("/usr/lib/x86_64-linux-gnu/libtsan.so.2"),
            Some(Sanitizer::Thread)
        );
        assert_eq!(key("libclang_rt.asan-x86_64.so"), Some(Sanitizer::Address));
        assert_eq!(key("libclang_rt.hwasan.so"), Some(Sanitizer::HwAddress));
        assert_eq!(key("libubsan.so.1"), None);
        assert_eq!(key("libasan_preinit.o"), None);
        assert_eq!(key("libmsan_helpers.so"), None);
        assert_eq!(sanitizer_of_symbol(b"__msan_init"), Some(Sanitizer::Memory));
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
