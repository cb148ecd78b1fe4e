//! The parts of an ELF file that say how a program is loaded: its program headers and the
//! libraries it needs (`DT_NEEDED`), 64- and 32-bit little-endian.
//!
//! Read through a caller's `read_at(offset, buf) -> bytes read` into small buffers of its
//! own: no allocation, no mapping, so the preload can ask inside an exec hook (even in a
//! vfork child, whose mappings would be its parent's) and the launcher before a run.
//! Bounded everywhere: a hostile file costs a few reads, never a hang or a panic.

/// Reads up to `buf.len()` bytes at a file offset; the count read (fewer at the end of
/// the file, 0 on error).
pub trait ReadAt {
    /// See the trait.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> usize;
}

impl<F: FnMut(u64, &mut [u8]) -> usize> ReadAt for F {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> usize {
        self(offset, buf)
    }
}

/// Program header type: a loadable segment.
pub const PT_LOAD: u32 = 1;
/// Program header type: the dynamic section.
pub const PT_DYNAMIC: u32 = 2;
/// Program header type: the program interpreter (the dynamic loader).
pub const PT_INTERP: u32 = 3;

const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_STRTAB: u64 = 5;
const DT_STRSZ: u64 = 10;
/// Loadable segments kept for address translation (programs have four or five).
const MAX_LOADS: usize = 16;
/// Program headers read at most (the loader itself refuses far fewer than `PN_XNUM`).
const MAX_PHDRS: usize = 512;
/// Bytes of dynamic section read at most (a few hundred in practice).
const MAX_DYNAMIC: u64 = 64 * 1024;
/// Bytes of a library name read at most.
const MAX_NAME: usize = 128;

/// Little-endian unsigned integer of `n` bytes at `at` (0 when out of bounds).
fn le(b: &[u8], at: usize, n: usize) -> u64 {
    b.get(at..at + n).map_or(0, |s| {
        s.iter().rev().fold(0u64, |acc, &x| (acc << 8) | x as u64)
    })
}

/// One program header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProgramHeader {
    /// `p_type` (`PT_*`).
    pub kind: u32,
    /// Where the segment's bytes are in the file.
    pub offset: u64,
    /// Where they are in memory.
    pub vaddr: u64,
    /// How many of them are in the file.
    pub filesz: u64,
}

/// An ELF file's header: its class and where its program headers are.
#[derive(Clone, Copy, Debug)]
pub struct Elf {
    wide: bool,
    phoff: u64,
    phentsize: usize,
    phnum: usize,
}

impl Elf {
    /// The header at the start of a file (`head`: its first 64 bytes or more); None when
    /// it is not a little-endian ELF file.
    pub fn parse(head: &[u8]) -> Option<Elf> {
        if head.len() < 64 || &head[..4] != b"\x7fELF" || head[5] != 1 {
            return None;
        }
        let wide = match head[4] {
            1 => false,
            2 => true,
            _ => return None,
        };
        let (phoff, phentsize, phnum) = if wide {
            (le(head, 32, 8), le(head, 54, 2), le(head, 56, 2))
        } else {
            (le(head, 28, 4), le(head, 42, 2), le(head, 44, 2))
        };
        Some(Elf {
            wide,
            phoff,
            phentsize: phentsize as usize,
            phnum: phnum as usize,
        })
    }

    /// Whether the file is 64-bit (`ELFCLASS64`).
    pub fn is_64(&self) -> bool {
        self.wide
    }

    /// An address-sized field, at `at64` in a 64-bit structure and `at32` in a 32-bit one.
    fn word(&self, b: &[u8], at64: usize, at32: usize) -> u64 {
        if self.wide {
            le(b, at64, 8)
        } else {
            le(b, at32, 4)
        }
    }

    /// Calls `f` with each program header, in file order. False when they could not all
    /// be read, or their count or size is beyond what a loader takes.
    pub fn program_headers(
        &self,
        file: &mut impl ReadAt,
        mut f: impl FnMut(ProgramHeader),
    ) -> bool {
        let mut chunk = [0u8; 1024];
        let min = if self.wide { 56 } else { 32 };
        let size = self.phentsize;
        if size < min || size > chunk.len() || self.phnum > MAX_PHDRS {
            return false;
        }
        let per_read = chunk.len() / size;
        let mut i = 0;
        while i < self.phnum {
            let k = per_read.min(self.phnum - i);
            let want = k * size;
            let at = self.phoff.saturating_add((i * size) as u64);
            if file.read_at(at, &mut chunk[..want]) != want {
                return false;
            }
            for ph in chunk[..want].chunks_exact(size) {
                f(ProgramHeader {
                    kind: le(ph, 0, 4) as u32,
                    offset: self.word(ph, 8, 4),
                    vaddr: self.word(ph, 16, 8),
                    filesz: self.word(ph, 32, 16),
                });
            }
            i += k;
        }
        true
    }

    /// Calls `f` with the name of each library the file needs (`DT_NEEDED`, in order)
    /// until it returns true; whether it did. False too for a statically linked file or
    /// one whose dynamic section cannot be read.
    pub fn any_needed(&self, file: &mut impl ReadAt, mut f: impl FnMut(&[u8]) -> bool) -> bool {
        let mut loads = [ProgramHeader::default(); MAX_LOADS];
        let (mut nloads, mut dynamic) = (0, None);
        let read = self.program_headers(file, |ph| match ph.kind {
            PT_LOAD if nloads < MAX_LOADS => {
                loads[nloads] = ph;
                nloads += 1;
            }
            PT_DYNAMIC => dynamic = Some((ph.offset, ph.filesz.min(MAX_DYNAMIC))),
            _ => {}
        });
        let Some(dynamic) = dynamic.filter(|_| read) else {
            return false; // statically linked: no library to load
        };
        let (mut strtab, mut strsz) = (None, 0);
        self.each_dynamic(file, dynamic, |_, tag, val| {
            match tag {
                DT_STRTAB => strtab = Some(val),
                DT_STRSZ => strsz = val,
                _ => {}
            }
            false
        });
        let Some(strtab) = strtab.and_then(|v| file_offset(&loads[..nloads], v)) else {
            return false;
        };
        self.each_dynamic(file, dynamic, |file, tag, val| {
            if tag != DT_NEEDED || val >= strsz {
                return false;
            }
            let mut name = [0u8; MAX_NAME];
            let n = file.read_at(strtab.saturating_add(val), &mut name);
            let name = &name[..n];
            name.iter()
                .position(|&b| b == 0)
                .is_some_and(|end| f(&name[..end]))
        })
    }

    /// Calls `f(file, tag, value)` for each entry of the dynamic section at
    /// `(offset, size)` up to `DT_NULL`; stops early, returning true, when `f` does.
    fn each_dynamic<R: ReadAt>(
        &self,
        file: &mut R,
        (offset, size): (u64, u64),
        mut f: impl FnMut(&mut R, u64, u64) -> bool,
    ) -> bool {
        let entry = if self.wide { 16 } else { 8 };
        let mut chunk = [0u8; 512];
        let mut done = 0u64;
        while done + entry as u64 <= size {
            let want = ((size - done) as usize).min(chunk.len()) / entry * entry;
            let got = file.read_at(offset.saturating_add(done), &mut chunk[..want]) / entry * entry;
            if got == 0 {
                return false;
            }
            for e in chunk[..got].chunks_exact(entry) {
                let (tag, val) = (self.word(e, 0, 0), self.word(e, 8, 4));
                if tag == DT_NULL {
                    return false;
                }
                if f(file, tag, val) {
                    return true;
                }
            }
            done += got as u64;
        }
        false
    }
}

/// Where the byte at address `vaddr` is in the file, from the loadable segments.
fn file_offset(loads: &[ProgramHeader], vaddr: u64) -> Option<u64> {
    loads
        .iter()
        .find(|l| vaddr >= l.vaddr && vaddr - l.vaddr < l.filesz)
        .map(|l| l.offset + (vaddr - l.vaddr))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 64-bit file: header, two program headers (PT_LOAD of the whole file at address
    /// 0x1000, PT_DYNAMIC), a dynamic section and a string table.
    fn tiny() -> [u8; 512] {
        let mut f = [0u8; 512];
        let put = |f: &mut [u8; 512], at: usize, v: u64, n: usize| {
            f[at..at + n].copy_from_slice(&v.to_le_bytes()[..n]);
        };
        f[..6].copy_from_slice(b"\x7fELF\x02\x01");
        put(&mut f, 32, 64, 8); // e_phoff
        put(&mut f, 54, 56, 2); // e_phentsize
        put(&mut f, 56, 2, 2); // e_phnum
        // PT_LOAD: offset 0, vaddr 0x1000, filesz 512
        put(&mut f, 64, PT_LOAD as u64, 4);
        put(&mut f, 64 + 16, 0x1000, 8);
        put(&mut f, 64 + 32, 512, 8);
        // PT_DYNAMIC at 184, 5 entries
        put(&mut f, 120, PT_DYNAMIC as u64, 4);
        put(&mut f, 120 + 8, 184, 8);
        put(&mut f, 120 + 32, 80, 8);
        let dynamic = [
            (DT_NEEDED, 1),
            (DT_STRTAB, 0x1000 + 300),
            (DT_STRSZ, 40),
            (DT_NEEDED, 12),
            (DT_NULL, 0),
        ];
        for (i, (t, v)) in dynamic.into_iter().enumerate() {
            put(&mut f, 184 + 16 * i, t, 8);
            put(&mut f, 184 + 16 * i + 8, v, 8);
        }
        f[300..321].copy_from_slice(b"\0libasan.so\0libc.so.6");
        f
    }

    fn reader(f: &[u8]) -> impl FnMut(u64, &mut [u8]) -> usize + '_ {
        |off, buf| {
            let from = (off as usize).min(f.len());
            let n = buf.len().min(f.len() - from);
            buf[..n].copy_from_slice(&f[from..from + n]);
            n
        }
    }

    #[test]
    fn needed_libraries_in_order() {
        let f = tiny();
        let elf = Elf::parse(&f).unwrap();
        assert!(elf.is_64());
        let mut seen = [[0u8; 16]; 2];
        let mut n = 0;
        let found = elf.any_needed(&mut reader(&f), |name| {
            seen[n][..name.len()].copy_from_slice(name);
            n += 1;
            false
        });
        assert!(!found);
        assert_eq!(n, 2);
        assert!(seen[0].starts_with(b"libasan.so\0"));
        assert!(seen[1].starts_with(b"libc.so.6\0"));
        assert!(elf.any_needed(&mut reader(&f), |name| name == b"libc.so.6"));
    }

    #[test]
    fn what_is_not_elf_or_is_cut_short() {
        let f = tiny();
        assert!(Elf::parse(&f[..63]).is_none());
        assert!(Elf::parse(b"#!/bin/sh\n").is_none());
        let mut be = f;
        be[5] = 2;
        assert!(Elf::parse(&be).is_none());
        let elf = Elf::parse(&f).unwrap();
        assert!(!elf.any_needed(&mut reader(&f[..150]), |_| true));
        let mut kinds = [0u32; 2];
        let mut i = 0;
        assert!(elf.program_headers(&mut reader(&f), |ph| {
            kinds[i] = ph.kind;
            i += 1;
        }));
        assert_eq!(kinds, [PT_LOAD, PT_DYNAMIC]);
    }
}
