//! The `LD_PRELOAD` entry that every process of the command inherits, 64-bit or not.
//!
//! A 64-bit preload named in `LD_PRELOAD` makes the 32-bit loader of any 32-bit
//! descendant (`sh -c './prog32'`) print "wrong ELF class ... ignored" into that
//! program's own stderr. The loader expands `$PLATFORM` in `LD_PRELOAD` (to `x86_64`, or
//! `haswell`/`xeon_phi` as glibc refines it on such CPUs, and to `i686` and the like in
//! a 32-bit process), so the entry is `<dir>/$PLATFORM/libbenchmem_preload.so`, written
//! literally (the command is exec'd directly: no shell expands it), with `<dir>` holding
//! a symlink to the real preload under each 64-bit platform name and an empty 32-bit
//! library under each 32-bit one, which the 32-bit loader maps silently.
//!
//! `<dir>` is per user and per preload path, kept from run to run: a descendant that
//! outlives benchmem and execs later still finds its entry (a vanished one would make the
//! loader complain in that program's stderr). Whenever it cannot be set up, or this
//! process's own loader does not find the preload through it, the entry is the preload's
//! plain path, as before.

use std::ffi::{CStr, CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::run::PRELOAD_NAME;

/// What to put in `LD_PRELOAD` for the preload at `preload` (an absolute path).
pub fn preload_entry(preload: &Path) -> OsString {
    match platform_dir(preload) {
        Some(dir) => {
            let mut entry = dir.into_os_string();
            entry.push("/$PLATFORM/");
            entry.push(PRELOAD_NAME);
            entry
        }
        None => preload.as_os_str().to_owned(),
    }
}

/// Names the loader of a process of this machine's ABI may give `$PLATFORM`.
fn platforms_64() -> Vec<String> {
    #[cfg(target_arch = "x86_64")]
    let known = ["x86_64", "haswell", "xeon_phi"];
    #[cfg(target_arch = "aarch64")]
    let known = ["aarch64"];
    let mut names: Vec<String> = known.iter().map(|s| s.to_string()).collect();
    // SAFETY: getauxval has no preconditions; AT_PLATFORM, when present, points to a
    // NUL-terminated string the kernel placed on the stack for the life of the process.
    let own = unsafe { libc::getauxval(libc::AT_PLATFORM) } as *const libc::c_char;
    if !own.is_null() {
        // SAFETY: see above.
        let own = unsafe { CStr::from_ptr(own) }
            .to_string_lossy()
            .into_owned();
        if is_file_name(&own) && !names.contains(&own) && !PLATFORMS_32.contains(&own.as_str()) {
            names.push(own);
        }
    }
    names
}

/// Names a 32-bit x86 loader gives `$PLATFORM` (the kernel says `i686` for a 32-bit
/// process; glibc may lower it to what the CPU supports).
#[cfg(target_arch = "x86_64")]
const PLATFORMS_32: [&str; 4] = ["i386", "i486", "i586", "i686"];
/// No 32-bit library is provided on other machines: their 32-bit children see the plain
/// loader message, as before.
#[cfg(not(target_arch = "x86_64"))]
const PLATFORMS_32: [&str; 0] = [];

fn is_file_name(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains('/')
}

/// An ELF32 i386 shared object that does nothing: no code, no symbols, no dependencies.
/// glibc's 32-bit loader maps it without a word and runs the program unchanged. 208
/// bytes, little-endian:
///
/// | offset | what |
/// |---|---|
/// | 0   | ELF header (52 bytes): ELFCLASS32, ELFDATA2LSB, ET_DYN, EM_386, program headers at 52 |
/// | 52  | PT_LOAD: the whole file at address 0, read-write (the loader relocates the dynamic section in place) |
/// | 84  | PT_DYNAMIC: the dynamic section at 148, 40 bytes |
/// | 116 | PT_GNU_STACK: read-write, so loading it never makes the stack executable |
/// | 148 | dynamic section: DT_STRTAB = 204, DT_SYMTAB = 188, DT_STRSZ = 1, DT_SYMENT = 16, DT_NULL |
/// | 188 | symbol table: the null symbol only |
/// | 204 | string table: one empty string; then padding |
///
/// Without a hash table (DT_HASH, DT_GNU_HASH) the loader skips the object in symbol
/// look-ups, which is all it needs to be.
pub const EMPTY_I386_LIBRARY: [u8; 208] = empty_i386_library();

const fn empty_i386_library() -> [u8; 208] {
    const fn put(b: &mut [u8; 208], at: usize, bytes: &[u8]) {
        let mut i = 0;
        while i < bytes.len() {
            b[at + i] = bytes[i];
            i += 1;
        }
    }
    const fn u16(v: u16) -> [u8; 2] {
        v.to_le_bytes()
    }
    const fn u32(v: u32) -> [u8; 4] {
        v.to_le_bytes()
    }
    const PT_LOAD: u32 = 1;
    const PT_DYNAMIC: u32 = 2;
    const PT_GNU_STACK: u32 = 0x6474_e551;
    const RW: u32 = 4 | 2; // PF_R | PF_W
    const SIZE: u32 = 208;
    const DYNAMIC: u32 = 148;
    const SYMTAB: u32 = 188;
    const STRTAB: u32 = 204;

    let mut b = [0u8; 208];
    // e_ident: magic, ELFCLASS32, ELFDATA2LSB, EV_CURRENT, ELFOSABI_SYSV; padding zero.
    put(&mut b, 0, &[0x7f, b'E', b'L', b'F', 1, 1, 1, 0]);
    put(&mut b, 16, &u16(3)); // e_type: ET_DYN
    put(&mut b, 18, &u16(3)); // e_machine: EM_386
    put(&mut b, 20, &u32(1)); // e_version
    put(&mut b, 28, &u32(52)); // e_phoff (e_entry and e_shoff stay 0)
    put(&mut b, 40, &u16(52)); // e_ehsize
    put(&mut b, 42, &u16(32)); // e_phentsize
    put(&mut b, 44, &u16(3)); // e_phnum (no section headers)

    // Program headers: p_type, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_flags, p_align.
    let phdrs: [[u32; 8]; 3] = [
        [PT_LOAD, 0, 0, 0, SIZE, SIZE, RW, 0x1000],
        [PT_DYNAMIC, DYNAMIC, DYNAMIC, DYNAMIC, 40, 40, RW, 4],
        [PT_GNU_STACK, 0, 0, 0, 0, 0, RW, 16],
    ];
    let mut i = 0;
    while i < 3 {
        let mut j = 0;
        while j < 8 {
            put(&mut b, 52 + 32 * i + 4 * j, &u32(phdrs[i][j]));
            j += 1;
        }
        i += 1;
    }

    // Dynamic section: (d_tag, d_val) pairs; the last, DT_NULL, stays zero.
    let dynamic: [[u32; 2]; 4] = [
        [5, STRTAB], // DT_STRTAB
        [6, SYMTAB], // DT_SYMTAB
        [10, 1],     // DT_STRSZ
        [11, 16],    // DT_SYMENT
    ];
    let mut i = 0;
    while i < 4 {
        put(&mut b, DYNAMIC as usize + 8 * i, &u32(dynamic[i][0]));
        put(&mut b, DYNAMIC as usize + 8 * i + 4, &u32(dynamic[i][1]));
        i += 1;
    }
    // The null symbol and the empty string are zeros already.
    b
}

/// The per-user directory for `preload`, ready and verified; `None` to fall back.
fn platform_dir(preload: &Path) -> Option<PathBuf> {
    let base = std::env::temp_dir();
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
    let dir = base.join(format!(
        "benchmem_platforms-{euid}-{:016x}",
        fnv1a(preload.as_os_str().as_bytes())
    ));
    let names = platforms_64();
    if !is_ready(&dir, preload, &names, euid) {
        // Built aside and renamed into place, so no process ever sees it half-made.
        let fresh = tempfile::Builder::new()
            .prefix(".benchmem_platforms-")
            .tempdir_in(&base)
            .ok()?;
        populate(fresh.path(), preload, &names).ok()?;
        if std::fs::rename(fresh.path(), &dir).is_err() && !is_ready(&dir, preload, &names, euid) {
            // An outdated one of ours (another platform list, another benchmem): replace.
            // Anyone else's is left alone, and we fall back.
            let ours = std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir() && m.uid() == euid);
            if !ours {
                return None;
            }
            std::fs::remove_dir_all(&dir).ok()?;
            std::fs::rename(fresh.path(), &dir).ok()?;
        }
    }
    (is_ready(&dir, preload, &names, euid) && loader_finds_preload(&dir)).then_some(dir)
}

fn populate(dir: &Path, preload: &Path, names: &[String]) -> std::io::Result<()> {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    for name in names {
        std::fs::create_dir(dir.join(name))?;
        std::os::unix::fs::symlink(preload, dir.join(name).join(PRELOAD_NAME))?;
    }
    for name in PLATFORMS_32 {
        std::fs::create_dir(dir.join(name))?;
        std::fs::write(dir.join(name).join(PRELOAD_NAME), EMPTY_I386_LIBRARY)?;
    }
    Ok(())
}

/// The directory is ours alone (so nobody else can have put a library in it) and holds
/// exactly what [`populate`] writes.
fn is_ready(dir: &Path, preload: &Path, names: &[String], euid: u32) -> bool {
    let private = std::fs::symlink_metadata(dir)
        .is_ok_and(|m| m.is_dir() && m.uid() == euid && m.mode() & 0o077 == 0);
    private
        && names
            .iter()
            .all(|n| std::fs::read_link(dir.join(n).join(PRELOAD_NAME)).is_ok_and(|t| t == preload))
        && PLATFORMS_32.iter().all(|n| {
            std::fs::read(dir.join(n).join(PRELOAD_NAME)).is_ok_and(|b| b == EMPTY_I386_LIBRARY)
        })
}

/// Asks this process's own loader (the one a program of this ABI gets) to expand the
/// entry and find the file: RTLD_NOLOAD opens it to compare with the objects already
/// loaded and maps nothing, so the preload is not loaded into the launcher.
fn loader_finds_preload(dir: &Path) -> bool {
    let mut entry = dir.as_os_str().as_bytes().to_vec();
    entry.extend_from_slice(b"/$PLATFORM/");
    entry.extend_from_slice(PRELOAD_NAME.as_bytes());
    let Ok(entry) = CString::new(entry) else {
        return false;
    };
    // SAFETY: a NUL-terminated path; dlerror is called first to clear a stale error, and
    // the handle, if the object happens to be loaded already, is released again.
    unsafe {
        libc::dlerror();
        let handle = libc::dlopen(entry.as_ptr(), libc::RTLD_LAZY | libc::RTLD_NOLOAD);
        if !handle.is_null() {
            libc::dlclose(handle);
            return true;
        }
        libc::dlerror().is_null()
    }
}

/// A stable hash of a path or of a file's bytes (not `DefaultHasher`, whose output may
/// change between Rust versions, which would leave one directory per toolchain behind).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_finds_the_preload_through_the_platform_directory() {
        let d = tempfile::tempdir().unwrap();
        let lib = d.path().join(PRELOAD_NAME);
        // Any 64-bit library will do for the loader's check: a copy of libc, never loaded.
        std::fs::copy(loaded_libc(), &lib).unwrap();
        let entry = preload_entry(&lib);
        let text = entry.to_string_lossy().into_owned();
        assert!(
            text.ends_with("/$PLATFORM/libbenchmem_preload.so"),
            "{text}"
        );
        let dir = Path::new(
            text.strip_suffix("/$PLATFORM/libbenchmem_preload.so")
                .unwrap(),
        );
        for name in platforms_64() {
            assert_eq!(
                std::fs::read_link(dir.join(name).join(PRELOAD_NAME)).unwrap(),
                lib
            );
        }
        // A second run reuses it as is.
        assert_eq!(preload_entry(&lib), entry);
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn loaded_libc() -> PathBuf {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let path = maps
            .lines()
            .filter_map(|l| l.split_whitespace().nth(5))
            .find(|p| p.contains("/libc.so"))
            .unwrap();
        PathBuf::from(path)
    }

    #[test]
    fn the_empty_library_reads_as_a_32_bit_x86_elf_file() {
        let d = tempfile::tempdir().unwrap();
        let lib = d.path().join(PRELOAD_NAME);
        std::fs::write(&lib, EMPTY_I386_LIBRARY).unwrap();
        let elf = crate::elf::Elf::open(&lib).unwrap();
        assert!(!elf.is_64bit() && elf.is_little_endian());
        assert_eq!(elf.machine(), 3); // EM_386
    }

    #[test]
    fn an_unusable_directory_falls_back_to_the_plain_path() {
        let d = tempfile::tempdir().unwrap();
        let lib = d.path().join(PRELOAD_NAME);
        std::fs::write(&lib, b"x").unwrap();
        // SAFETY: geteuid cannot fail.
        let euid = unsafe { libc::geteuid() };
        let taken = std::env::temp_dir().join(format!(
            "benchmem_platforms-{euid}-{:016x}",
            fnv1a(lib.as_os_str().as_bytes())
        ));
        // Not a directory of ours: a plain file in the way is never removed.
        std::fs::write(&taken, b"someone else's").unwrap();
        assert_eq!(preload_entry(&lib), lib.as_os_str());
        assert_eq!(std::fs::read(&taken).unwrap(), b"someone else's");
        std::fs::remove_file(taken).unwrap();
    }
}
