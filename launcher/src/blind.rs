//! After the run: why a process's allocations did not reach benchmem, from the files
//! the preload named in its state (the program an image exec'd, its own executable).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use benchmem_wire::state::{EXEC_HAS_DIR, EXEC_HAS_PRELOAD, EXEC_PATH_CUT, EXEC_SANITIZER};

use crate::{preflight, RunError};

/// Why an image that exec'd `path` (as recorded, with its `EXEC_*` bits) never reported
/// as the new program.
pub fn exec_reason(path: &[u8], flags: u32) -> String {
    let shown = String::from_utf8_lossy(path);
    let shown = if flags & EXEC_PATH_CUT != 0 {
        format!("{shown}...")
    } else {
        shown.into_owned()
    };
    // The preload left the environment on purpose: not a scrubbed one.
    if flags & EXEC_SANITIZER != 0 {
        return format!(
            "exec'd {shown}, {}: its runtime replaces the allocator and must be loaded first, \
             so benchmem ran it without the preload and it is not measured; measured up to \
             the exec",
            sanitizer_build(path)
        );
    }
    let lacks = match (flags & EXEC_HAS_PRELOAD != 0, flags & EXEC_HAS_DIR != 0) {
        (false, _) => Some("LD_PRELOAD"),
        (true, false) => Some("BENCHMEM_DIR"),
        (true, true) => None,
    };
    if let Some(var) = lacks {
        return format!(
            "its environment no longer carries {var} (exec'd {shown} with a scrubbed \
             environment, e.g. env -i): benchmem cannot follow it; measured up to the exec"
        );
    }
    let why = if flags & EXEC_PATH_CUT != 0 {
        "a program benchmem could not check (its path is too long)".to_string()
    } else {
        classify(path)
    };
    format!("exec'd {shown}, {why}; measured up to the exec")
}

/// Which sanitizer build `path` is ("an AddressSanitizer build"), as `run` would name it;
/// "a sanitizer build" when it cannot tell (a 32-bit build, a file gone since).
fn sanitizer_build(path: &[u8]) -> String {
    which_sanitizer(path).unwrap_or_else(|| "a sanitizer build".into())
}

/// "an AddressSanitizer build" when `path` is one, as `run`'s check finds it.
fn which_sanitizer(path: &[u8]) -> Option<String> {
    let resolved = preflight::resolve(OsStr::from_bytes(path)).ok()?;
    let note = preflight::check(&resolved).ok()??;
    let (_, what) = note.split_once(" is ")?;
    Some(what.split(':').next().unwrap_or(what).to_string())
}

/// What kind of program benchmem cannot enter `path` is.
fn classify(path: &[u8]) -> String {
    let name = OsStr::from_bytes(path);
    let resolved = match preflight::resolve(name) {
        Ok(p) => p,
        Err(_) => return "which was gone when the run ended (so it could not be checked)".into(),
    };
    match preflight::check(&resolved) {
        Err(RunError::Static(_)) => "a statically linked program benchmem cannot enter".into(),
        Err(RunError::Privileged(_)) => "a setuid/setgid program (or one with file \
             capabilities), for which the loader ignores LD_PRELOAD"
            .into(),
        Err(RunError::WrongAbi(_, kind)) => {
            format!(
                "a {kind} program the preload (built for this machine's 64-bit ABI) cannot enter"
            )
        }
        Err(e) => format!("a program benchmem cannot enter ({e})"),
        // A sanitizer build: preflight's note names which one.
        Ok(Some(note)) => match note.split_once(" is ") {
            Some((_, what)) => what.split(':').next().unwrap_or(what).to_string(),
            None => note,
        },
        Ok(None) => "which never reported to benchmem (killed before it started, or it \
                     could not load the preload)"
            .into(),
    }
}

/// Allocators a program may link and call by names of their own, past malloc: the
/// allocator's name and the symbols that show it is linked in (entry points, kept only
/// when something calls them: Rust and most C builds drop unused functions).
const PREFIXED: [(&str, &[&str]); 5] = [
    (
        "jemalloc",
        &[
            "_rjem_malloc",
            "_rjem_mallocx",
            "je_malloc",
            "je_mallocx",
            "mallocx",
        ],
    ),
    (
        "mimalloc",
        &["mi_malloc", "mi_malloc_aligned", "mi_zalloc_aligned"],
    ),
    (
        "tcmalloc",
        &["tc_malloc", "tc_new", "TCMallocInternalMalloc"],
    ),
    ("rpmalloc", &["rpmalloc", "rpaligned_alloc"]),
    ("snmalloc", &["sn_rust_alloc", "sn_malloc"]),
];

/// Names that mark an allocator's code in a symbol table, to name the one behind a
/// `malloc` a program defines itself.
const MARKERS: [(&str, &str); 4] = [
    ("jemalloc", "jemalloc"),
    ("tcmalloc", "tcmalloc"),
    ("tcmalloc", "TCMalloc"),
    ("mimalloc", "mi_heap_"),
];

/// What an executable's symbol table says about an allocator of its own: `(allocator,
/// symbol)`, with the symbol of a prefixed entry point when one is there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnAllocator {
    /// The allocator's name, when known.
    pub name: Option<&'static str>,
    /// A prefixed entry point found (`_rjem_malloc`), if any.
    pub symbol: Option<&'static str>,
}

/// Scans executables once each per run.
#[derive(Default)]
pub struct Scanner {
    seen: HashMap<Vec<u8>, Option<OwnAllocator>>,
    sanitizers: HashMap<Vec<u8>, Option<String>>,
}

impl Scanner {
    /// "an AddressSanitizer build" when the executable at `exe` is one. Asked of a program
    /// whose own malloc comes before the preload's: a sanitizer runtime linked into the
    /// program (gcc's `-static-libasan`, clang's default) is such a malloc, and the
    /// program runs unharmed with the preload loaded.
    pub fn sanitizer(&mut self, exe: &[u8]) -> Option<String> {
        if exe.is_empty() {
            return None;
        }
        self.sanitizers
            .entry(exe.to_vec())
            .or_insert_with(|| which_sanitizer(exe))
            .clone()
    }

    /// The allocator of its own the executable at `exe` links, if its symbols show one.
    /// `shadowed`: the preload found the program's own `malloc` ahead of its hooks (then
    /// the allocator is there even when the symbols cannot name it).
    pub fn own_allocator(&mut self, exe: &[u8], shadowed: bool) -> Option<OwnAllocator> {
        if exe.is_empty() {
            return shadowed.then_some(OwnAllocator {
                name: None,
                symbol: None,
            });
        }
        let found = self
            .seen
            .entry(exe.to_vec())
            .or_insert_with(|| scan(Path::new(OsStr::from_bytes(exe))))
            .clone();
        match found {
            // Its own `malloc` is the allocator's front door: name that, not a side entry.
            Some(a) if shadowed => Some(OwnAllocator { symbol: None, ..a }),
            Some(a) if a.symbol.is_some() => Some(a),
            _ if shadowed => Some(OwnAllocator {
                name: None,
                symbol: None,
            }),
            _ => None,
        }
    }
}

/// The allocator named by `exe`'s symbols: a prefixed entry point (`symbol` set), or
/// only markers of an allocator's code (`symbol` none: used when malloc is shadowed).
fn scan(exe: &Path) -> Option<OwnAllocator> {
    let elf = ElfFile::open(exe)?;
    let names = elf.defined_symbols();
    for (alloc, entries) in PREFIXED {
        if let Some(sym) = entries
            .iter()
            .find(|e| names.iter().any(|n| n == e.as_bytes()))
        {
            return Some(OwnAllocator {
                name: Some(alloc),
                symbol: Some(sym),
            });
        }
    }
    MARKERS.iter().find_map(|(alloc, marker)| {
        names
            .iter()
            .any(|n| n.windows(marker.len()).any(|w| w == marker.as_bytes()))
            .then_some(OwnAllocator {
                name: Some(alloc),
                symbol: None,
            })
    })
}

/// The parts of a 64-bit little-endian ELF file read here: section headers, symbol
/// tables, the dynamic section. Reads only those sections, never the whole file.
struct ElfFile {
    file: File,
    sections: Vec<Section>,
}

#[derive(Clone, Copy)]
struct Section {
    kind: u32,
    offset: u64,
    size: u64,
    link: u32,
}

const SHT_SYMTAB: u32 = 2;
#[cfg(test)]
const SHT_DYNAMIC: u32 = 6;
const SHT_DYNSYM: u32 = 11;
#[cfg(test)]
const DT_NEEDED: u64 = 1;
/// Largest section read (symbol tables of very large programs are skipped past this).
const SECTION_CAP: u64 = 256 << 20;

fn le(b: &[u8], at: usize, n: usize) -> u64 {
    b.get(at..at + n).map_or(0, |s| {
        s.iter().rev().fold(0u64, |acc, &x| (acc << 8) | x as u64)
    })
}

impl ElfFile {
    fn open(path: &Path) -> Option<ElfFile> {
        let mut file = File::open(path).ok()?;
        let mut h = [0u8; 64];
        file.read_exact(&mut h).ok()?;
        if &h[..4] != b"\x7fELF" || h[4] != 2 || h[5] != 1 {
            return None;
        }
        let (shoff, shentsize, shnum) = (le(&h, 40, 8), le(&h, 58, 2), le(&h, 60, 2));
        if shentsize < 64 || shnum == 0 || shnum > 65_535 {
            return None;
        }
        let mut table = vec![0u8; (shentsize * shnum) as usize];
        file.seek(SeekFrom::Start(shoff)).ok()?;
        file.read_exact(&mut table).ok()?;
        let sections = table
            .chunks_exact(shentsize as usize)
            .map(|s| Section {
                kind: le(s, 4, 4) as u32,
                offset: le(s, 24, 8),
                size: le(s, 32, 8),
                link: le(s, 40, 4) as u32,
            })
            .collect();
        Some(ElfFile { file, sections })
    }

    fn read(&self, s: Section) -> Vec<u8> {
        if s.size > SECTION_CAP {
            return Vec::new();
        }
        let mut buf = vec![0u8; s.size as usize];
        let mut f = &self.file;
        let ok = f.seek(SeekFrom::Start(s.offset)).is_ok() && f.read_exact(&mut buf).is_ok();
        if ok {
            buf
        } else {
            Vec::new()
        }
    }

    fn strings_of(&self, s: Section) -> Vec<u8> {
        self.sections
            .get(s.link as usize)
            .map_or_else(Vec::new, |&t| self.read(t))
    }

    /// Names of the functions and objects defined in `.symtab` and `.dynsym`.
    fn defined_symbols(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for &s in self
            .sections
            .iter()
            .filter(|s| s.kind == SHT_SYMTAB || s.kind == SHT_DYNSYM)
        {
            let (syms, strs) = (self.read(s), self.strings_of(s));
            for e in syms.chunks_exact(24) {
                let shndx = le(e, 6, 2);
                if shndx == 0 {
                    continue; // undefined: the program only calls it
                }
                let at = le(e, 0, 4) as usize;
                if let Some(rest) = strs.get(at..) {
                    let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
                    if end > 0 {
                        out.push(rest[..end].to_vec());
                    }
                }
            }
        }
        out
    }

    /// The `DT_NEEDED` library names.
    #[cfg(test)]
    fn needed(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for &s in self.sections.iter().filter(|s| s.kind == SHT_DYNAMIC) {
            let (dynamic, strs) = (self.read(s), self.strings_of(s));
            for e in dynamic.chunks_exact(16) {
                if le(e, 0, 8) == DT_NEEDED {
                    let at = le(e, 8, 8) as usize;
                    if let Some(rest) = strs.get(at..) {
                        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
                        out.push(rest[..end].to_vec());
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ordinary_program_has_no_allocator_of_its_own() {
        let sh = preflight::resolve(OsStr::new("sh")).unwrap();
        let mut s = Scanner::default();
        assert_eq!(s.own_allocator(sh.as_os_str().as_bytes(), false), None);
    }

    #[test]
    fn needed_libraries_are_read() {
        let elf = ElfFile::open(Path::new("/bin/true")).unwrap();
        assert!(
            elf.needed().iter().any(|n| n.starts_with(b"libc.so")),
            "{:?}",
            elf.needed()
        );
    }
}
