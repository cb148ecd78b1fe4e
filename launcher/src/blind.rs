//! After the run: why a process's allocations did not reach benchmem, from the files
//! the preload named in its state (the program an image exec'd, its own executable).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use benchmem_wire::state::{EXEC_HAS_DIR, EXEC_HAS_PRELOAD, EXEC_PATH_CUT, EXEC_SANITIZER};

use crate::elf::{Elf, SymbolTable};
use crate::incomplete::{LostVariable, Unfollowable, UnfollowedExec};
use crate::preflight::{self, Verdict};
use crate::{RunError, Sanitizer};

/// Why an image that exec'd `path` (as recorded, with its `EXEC_*` bits) never reported
/// as the new program.
pub fn unfollowed_exec(path: &[u8], flags: u32) -> UnfollowedExec {
    let cut = flags & EXEC_PATH_CUT != 0;
    // The preload left the environment on purpose: not a scrubbed one.
    let sanitizer = flags & EXEC_SANITIZER != 0;
    let why = match (flags & EXEC_HAS_PRELOAD != 0, flags & EXEC_HAS_DIR != 0) {
        _ if sanitizer => {
            Unfollowable::SanitizerUnpreloaded(sanitizer_of(path).unwrap_or(Sanitizer::Unknown))
        }
        (false, _) => Unfollowable::Scrubbed(LostVariable::Preload),
        (true, false) => Unfollowable::Scrubbed(LostVariable::Dir),
        (true, true) if cut => Unfollowable::PathTooLong,
        (true, true) => classify(path),
    };
    UnfollowedExec {
        program: String::from_utf8_lossy(path).into_owned(),
        cut,
        why,
    }
}

/// Which sanitizer build `path` is, as `run`'s check finds it (None: not one, or it
/// cannot tell, e.g. a 32-bit build or a file gone since).
fn sanitizer_of(path: &[u8]) -> Option<Sanitizer> {
    let resolved = preflight::resolve(OsStr::from_bytes(path)).ok()?;
    match preflight::check(&resolved).ok()? {
        Verdict::Unmeasured { sanitizer, .. } => Some(sanitizer),
        Verdict::Enter => None,
    }
}

/// What kind of program benchmem cannot enter `path` is.
fn classify(path: &[u8]) -> Unfollowable {
    let Ok(resolved) = preflight::resolve(OsStr::from_bytes(path)) else {
        return Unfollowable::Gone;
    };
    match preflight::check(&resolved) {
        Err(RunError::Static(_)) => Unfollowable::Static,
        Err(RunError::Privileged(_)) => Unfollowable::Privileged,
        Err(RunError::WrongAbi(_, abi)) => Unfollowable::OtherAbi(abi),
        // It went away between the two looks.
        Err(_) => Unfollowable::Gone,
        Ok(Verdict::Unmeasured { sanitizer, .. }) => Unfollowable::Sanitizer(sanitizer),
        Ok(Verdict::Enter) => Unfollowable::NeverReported,
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
    sanitizers: HashMap<Vec<u8>, Option<Sanitizer>>,
}

impl Scanner {
    /// Which sanitizer build the executable at `exe` is, if it is one. Asked of a program
    /// whose own malloc comes before the preload's: a sanitizer runtime linked into the
    /// program (gcc's `-static-libasan`, clang's default) is such a malloc, and the
    /// program runs unharmed with the preload loaded.
    pub fn sanitizer(&mut self, exe: &[u8]) -> Option<Sanitizer> {
        if exe.is_empty() {
            return None;
        }
        *self
            .sanitizers
            .entry(exe.to_vec())
            .or_insert_with(|| sanitizer_of(exe))
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
    let elf = Elf::open(exe)?;
    let names: Vec<Vec<u8>> = [SymbolTable::Full, SymbolTable::Dynamic]
        .into_iter()
        .flat_map(|t| elf.symbols(t))
        .filter(|s| s.defined)
        .map(|s| s.name)
        .collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ordinary_program_has_no_allocator_of_its_own() {
        let sh = preflight::resolve(OsStr::new("sh")).unwrap();
        let mut s = Scanner::default();
        assert_eq!(s.own_allocator(sh.as_os_str().as_bytes(), false), None);
    }
}
