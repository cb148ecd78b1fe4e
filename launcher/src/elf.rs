//! The parts of an ELF file benchmem looks at before and after a run: the header (class,
//! byte order, machine), the program headers (is there an interpreter), the libraries it
//! needs (`DT_NEEDED`) and the names in its symbol tables.
//!
//! Programs can be large and are not ours: nothing reads the whole file, every table is
//! read at its offset with a bound on its size, and a file that is short, truncated or
//! lies about its sizes reads as "nothing there", never as an error or a panic.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// `e_ident[EI_CLASS]` of a 64-bit file.
const CLASS_64: u8 = 2;
/// `e_ident[EI_DATA]` of a little-endian file.
const DATA_LE: u8 = 1;
/// Bytes of the program header table read at most: a real one is a few hundred.
const MAX_PROGRAM_HEADERS: usize = 64 * 1024;
/// Bytes of one section read at most: symbol tables of very large programs are skipped
/// past this (sanitizer runtimes' and allocators' own tables are far smaller).
const MAX_SECTION: u64 = 256 << 20;

const PT_INTERP: u32 = 3;
const SHT_SYMTAB: u32 = 2;
const SHT_DYNAMIC: u32 = 6;
const SHT_DYNSYM: u32 = 11;
const DT_NEEDED: u64 = 1;

/// The machine this launcher (and so the preload) is built for, as `e_machine` names it.
#[cfg(target_arch = "x86_64")]
pub const HOST_MACHINE: u16 = 62;
/// The machine this launcher (and so the preload) is built for, as `e_machine` names it.
#[cfg(target_arch = "aarch64")]
pub const HOST_MACHINE: u16 = 183;

/// An open ELF file and its header.
pub struct Elf {
    file: File,
    header: [u8; 64],
}

/// Which symbol table to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymbolTable {
    /// `.dynsym`: what the loader sees; present in every dynamically linked program.
    Dynamic,
    /// `.symtab`: every symbol, until the program is stripped.
    Full,
}

/// One named entry of a symbol table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Symbol {
    /// The name, without its NUL.
    pub name: Vec<u8>,
    /// Defined in this file (a section index other than `SHN_UNDEF`), not only referenced.
    pub defined: bool,
}

#[derive(Clone, Copy)]
struct Section {
    kind: u32,
    offset: u64,
    size: u64,
    link: u32,
}

impl Elf {
    /// Opens `path` when it starts like an ELF file with a whole 64-byte header; `None`
    /// for anything else (a script, a short file, one that cannot be read).
    pub fn open(path: &Path) -> Option<Elf> {
        let mut file = File::open(path).ok()?;
        let mut header = [0u8; 64];
        if read_up_to(&mut file, &mut header).ok()? < header.len() || &header[..4] != b"\x7fELF" {
            return None;
        }
        Some(Elf { file, header })
    }

    /// A 64-bit file (`ELFCLASS64`).
    pub fn is_64bit(&self) -> bool {
        self.header[4] == CLASS_64
    }

    /// A little-endian file, the only byte order read here.
    pub fn is_little_endian(&self) -> bool {
        self.header[5] == DATA_LE
    }

    /// `e_machine`.
    pub fn machine(&self) -> u16 {
        le16(&self.header, 18)
    }

    /// Whether the program names an interpreter (`PT_INTERP`): without one there is no
    /// dynamic loader, so nothing is ever preloaded into it.
    pub fn has_interpreter(&self) -> bool {
        self.program_header_types().contains(&PT_INTERP)
    }

    /// The `p_type` of every program header that could be read.
    fn program_header_types(&self) -> Vec<u32> {
        if !self.is_64bit() || !self.is_little_endian() {
            return Vec::new();
        }
        let h = &self.header;
        let (offset, entry, count) = (le64(h, 32), le16(h, 54) as usize, le16(h, 56) as usize);
        if entry < 4 {
            return Vec::new();
        }
        let mut table = vec![0u8; (entry * count).min(MAX_PROGRAM_HEADERS)];
        let mut f = &self.file;
        let read = f
            .seek(SeekFrom::Start(offset))
            .and_then(|_| read_up_to(&mut f, &mut table))
            .unwrap_or(0);
        table[..read]
            .chunks_exact(entry)
            .map(|e| le32(e, 0))
            .collect()
    }

    /// The section headers; none when the file has none (the loader does not need them,
    /// but every toolchain writes them) or they cannot be read whole.
    fn sections(&self) -> Vec<Section> {
        if !self.is_64bit() || !self.is_little_endian() {
            return Vec::new();
        }
        let h = &self.header;
        let (offset, entry, count) = (le64(h, 40), le16(h, 58) as u64, le16(h, 60) as u64);
        if offset == 0 || entry < 64 || count == 0 {
            return Vec::new();
        }
        let Some(table) = self.read_at(offset, entry * count) else {
            return Vec::new();
        };
        table
            .chunks_exact(entry as usize)
            .map(|s| Section {
                kind: le32(s, 4),
                offset: le64(s, 24),
                size: le64(s, 32),
                link: le32(s, 40),
            })
            .collect()
    }

    /// `len` bytes at `offset`, all of them or nothing.
    fn read_at(&self, offset: u64, len: u64) -> Option<Vec<u8>> {
        if len > MAX_SECTION {
            return None;
        }
        let mut buf = vec![0u8; len as usize];
        let mut f = &self.file;
        f.seek(SeekFrom::Start(offset)).ok()?;
        (read_up_to(&mut f, &mut buf).ok()? == buf.len()).then_some(buf)
    }

    /// Each section of `kind` with the string table it links to.
    fn tables(&self, kind: u32) -> Vec<(Vec<u8>, Vec<u8>)> {
        let sections = self.sections();
        sections
            .iter()
            .filter(|s| s.kind == kind)
            .filter_map(|s| {
                let strings = sections.get(s.link as usize)?;
                Some((
                    self.read_at(s.offset, s.size)?,
                    self.read_at(strings.offset, strings.size)?,
                ))
            })
            .collect()
    }

    /// The libraries the program asks the loader for (`DT_NEEDED`), as written.
    pub fn needed(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for (dynamic, strings) in self.tables(SHT_DYNAMIC) {
            for d in dynamic.chunks_exact(16) {
                if le64(d, 0) == DT_NEEDED
                    && let Some(name) = c_str(&strings, le64(d, 8))
                {
                    out.push(name.to_vec());
                }
            }
        }
        out
    }

    /// The named symbols of `table`, in table order.
    pub fn symbols(&self, table: SymbolTable) -> Vec<Symbol> {
        let kind = match table {
            SymbolTable::Dynamic => SHT_DYNSYM,
            SymbolTable::Full => SHT_SYMTAB,
        };
        let mut out = Vec::new();
        for (symbols, strings) in self.tables(kind) {
            for s in symbols.chunks_exact(24) {
                match c_str(&strings, u64::from(le32(s, 0))) {
                    Some(name) if !name.is_empty() => out.push(Symbol {
                        name: name.to_vec(),
                        defined: le16(s, 6) != 0,
                    }),
                    _ => {}
                }
            }
        }
        out
    }
}

/// Reads until `buf` is full or the file ends; how much was read.
pub(crate) fn read_up_to(f: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The NUL-terminated string at `at` in a string table.
fn c_str(table: &[u8], at: u64) -> Option<&[u8]> {
    let rest = table.get(usize::try_from(at).ok()?..)?;
    rest.iter().position(|&b| b == 0).map(|end| &rest[..end])
}

fn le16(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .map_or(0, |s| u16::from_le_bytes([s[0], s[1]]))
}

fn le32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn le64(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8).map_or(0, |s| {
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        u64::from_le_bytes(a)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dynamic_program_has_an_interpreter_libraries_and_symbols() {
        let elf = Elf::open(Path::new("/bin/true")).unwrap();
        assert!(elf.is_64bit() && elf.is_little_endian());
        assert_eq!(elf.machine(), HOST_MACHINE);
        assert!(elf.has_interpreter());
        let needed = elf.needed();
        assert!(
            needed.iter().any(|n| n.starts_with(b"libc.so")),
            "{needed:?}"
        );
        let dynsym = elf.symbols(SymbolTable::Dynamic);
        assert!(
            dynsym
                .iter()
                .any(|s| !s.defined && s.name.starts_with(b"__libc_start_main")),
            "{dynsym:?}"
        );
    }

    #[test]
    fn what_is_not_elf_or_is_cut_short_reads_as_nothing() {
        let d = tempfile::tempdir().unwrap();
        let script = d.path().join("s.sh");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        assert!(Elf::open(&script).is_none());

        // The header of a real program and nothing else: every table lies past the end.
        let mut head = std::fs::read("/bin/true").unwrap();
        head.truncate(64);
        let cut = d.path().join("cut");
        std::fs::write(&cut, &head).unwrap();
        let elf = Elf::open(&cut).unwrap();
        assert!(!elf.has_interpreter());
        assert!(elf.needed().is_empty());
        assert!(elf.symbols(SymbolTable::Full).is_empty());

        // Sizes from a hostile header: huge counts are bounded, never allocated whole.
        let mut lying = head.clone();
        lying[40..48].copy_from_slice(&64u64.to_le_bytes()); // e_shoff
        lying[58..60].copy_from_slice(&u16::MAX.to_le_bytes()); // e_shentsize
        lying[60..62].copy_from_slice(&u16::MAX.to_le_bytes()); // e_shnum
        lying[54..56].copy_from_slice(&u16::MAX.to_le_bytes()); // e_phentsize
        lying[56..58].copy_from_slice(&u16::MAX.to_le_bytes()); // e_phnum
        let lies = d.path().join("lies");
        std::fs::write(&lies, &lying).unwrap();
        let elf = Elf::open(&lies).unwrap();
        assert!(!elf.has_interpreter());
        assert!(elf.symbols(SymbolTable::Dynamic).is_empty());
    }
}
