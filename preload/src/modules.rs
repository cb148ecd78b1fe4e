//! The loaded objects frames point into: where each is mapped, its build id and path (for
//! the launcher's [`benchmem_wire::stacks::Record::Module`] records), and where its unwind
//! tables are (for [`crate::unwind`]).
//!
//! The objects loaded at start are listed with `dl_iterate_phdr` from the constructor,
//! outside any hook. One loaded later is found when a frame's address is in no listed
//! object, with glibc's `_dl_find_object`, which takes no lock (a hook may run while the
//! loader holds its lock, in `dlopen`: `dl_iterate_phdr` and `dladdr` would deadlock or
//! allocate). Its program headers are read from its first page, where its ELF header is
//! mapped.
//!
//! The table only grows (under [`MODULES`]), and entries never change once counted, so
//! readers take no lock. Each stack stream writes the entries it has not written yet
//! before a stack that may use them ([`crate::stackring`]).

use core::cell::UnsafeCell;
use core::ffi::{c_char, c_int, c_void};
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use benchmem_wire::elf::PT_LOAD;

use crate::spin::SpinLock;
use crate::tls;
use crate::unwind::EhFrame;

/// Objects recorded at most; frames in more are cut there.
pub const MAX_MODULES: usize = 1024;
/// Bytes of a path kept (longer paths are kept cut).
const PATH: usize = 400;
/// Bytes of a build id kept (GNU build ids are 20).
const BUILD_ID: usize = 64;

const PT_NOTE: u32 = 4;
const PT_GNU_EH_FRAME: u32 = 0x6474_e550;
const NT_GNU_BUILD_ID: u32 = 3;

/// One loaded object.
#[derive(Clone, Copy)]
pub struct Module {
    /// Lowest address of its loaded segments.
    pub start: u64,
    /// End of its highest loaded segment.
    pub end: u64,
    /// Load bias: link-time address `a` is at `a + bias`.
    pub bias: u64,
    /// Its unwind tables, if it has them.
    pub eh: Option<EhFrame>,
    build_id: [u8; BUILD_ID],
    build_id_len: u8,
    path: [u8; PATH],
    path_len: u16,
}

impl Module {
    /// GNU build id (empty when none).
    pub fn build_id(&self) -> &[u8] {
        &self.build_id[..self.build_id_len as usize]
    }
    /// Path as the loader has it (empty for the main program).
    pub fn path(&self) -> &[u8] {
        &self.path[..self.path_len as usize]
    }
    fn contains(&self, pc: u64) -> bool {
        pc >= self.start && pc < self.end
    }
}

struct Table {
    entries: UnsafeCell<[MaybeUninit<Module>; MAX_MODULES]>,
    /// Entries written; each is written before the count that covers it (Release).
    count: AtomicUsize,
}

// SAFETY: entries below `count` are immutable once counted and read only after an
// Acquire load of `count`; entries at or above it are written only under `MODULES`.
unsafe impl Sync for Table {}

static TABLE: Table = Table {
    entries: UnsafeCell::new([const { MaybeUninit::uninit() }; MAX_MODULES]),
    count: AtomicUsize::new(0),
};

/// Serialises additions to the table.
pub static MODULES: SpinLock<()> = SpinLock::new(());

/// `[start, end)` of the preload itself: its frames are left out of stacks.
static OWN: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// glibc's `struct dl_find_object`.
#[repr(C)]
struct DlFindObject {
    flags: u64,
    map_start: *mut c_void,
    map_end: *mut c_void,
    link_map: *const LinkMap,
    eh_frame: *mut c_void,
    reserved: [u64; 7],
}

/// The public head of glibc's `struct link_map`.
#[repr(C)]
struct LinkMap {
    addr: u64,
    name: *const c_char,
}

type FindObject = unsafe extern "C" fn(*mut c_void, *mut DlFindObject) -> c_int;

/// `_dl_find_object`, when this glibc has it (2.35 and later).
static FIND_OBJECT: AtomicUsize = AtomicUsize::new(0);

/// The number of modules in the table.
pub fn count() -> usize {
    TABLE.count.load(Ordering::Acquire)
}

/// Module `i` (below [`count`]).
pub fn get(i: usize) -> Option<&'static Module> {
    if i >= count() {
        return None;
    }
    // SAFETY: entries below the count are written and never change (see `Table`).
    Some(unsafe { (*TABLE.entries.get())[i].assume_init_ref() })
}

/// `[start, end)` of the preload's own code.
#[inline(always)]
pub fn own() -> (u64, u64) {
    (
        OWN[0].load(Ordering::Relaxed),
        OWN[1].load(Ordering::Relaxed),
    )
}

/// Lists the objects loaded now, and finds `_dl_find_object`. From the constructor only
/// (never inside a hook): `dl_iterate_phdr` takes the loader's lock, and `dlsym` may
/// allocate. Idempotent.
pub fn init() {
    static DONE: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
    if DONE.swap(true, Ordering::Relaxed) {
        return;
    }
    let _g = tls::Guard::enter();
    // SAFETY: a NUL-terminated name; the guard is raised (dlsym may allocate).
    let f = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"_dl_find_object".as_ptr()) };
    FIND_OBJECT.store(f as usize, Ordering::Relaxed);
    // SAFETY: the callback reads only what the loader hands it, for the call's duration.
    unsafe { libc::dl_iterate_phdr(Some(each_object), core::ptr::null_mut()) };
    let me = init as *const () as u64;
    if let Some(m) = (0..count()).filter_map(get).find(|m| m.contains(me)) {
        OWN[0].store(m.start, Ordering::Relaxed);
        OWN[1].store(m.end, Ordering::Relaxed);
    }
}

unsafe extern "C" fn each_object(
    info: *mut libc::dl_phdr_info,
    _size: usize,
    _data: *mut c_void,
) -> c_int {
    // SAFETY: the loader's description of one object, valid during this call: its
    // program headers are mapped (they are in its first loaded segment, or the
    // program's), and its name is a NUL-terminated string or null.
    unsafe {
        let i = &*info;
        if i.dlpi_phdr.is_null() {
            return 0;
        }
        let phdrs = core::slice::from_raw_parts(i.dlpi_phdr, i.dlpi_phnum as usize);
        if let Some(m) = describe(i.dlpi_addr, phdrs, i.dlpi_name) {
            add(&m);
        }
    }
    0
}

/// A module from its bias, program headers and name.
///
/// # Safety
/// `phdrs` are the program headers of an object loaded with bias `bias` (its notes and
/// `PT_GNU_EH_FRAME` segment are mapped); `name` is null or NUL-terminated.
unsafe fn describe(bias: u64, phdrs: &[libc::Elf64_Phdr], name: *const c_char) -> Option<Module> {
    let (mut start, mut end) = (u64::MAX, 0u64);
    let mut m = Module {
        start: 0,
        end: 0,
        bias,
        eh: None,
        build_id: [0; BUILD_ID],
        build_id_len: 0,
        path: [0; PATH],
        path_len: 0,
    };
    for p in phdrs.iter().filter(|p| p.p_type == PT_LOAD) {
        start = start.min(bias.wrapping_add(p.p_vaddr) & !4095);
        end = end.max(bias.wrapping_add(p.p_vaddr).wrapping_add(p.p_memsz));
    }
    if start >= end {
        return None;
    }
    m.start = start;
    m.end = end;
    let load_of = |addr: u64| {
        phdrs
            .iter()
            .filter(|p| p.p_type == PT_LOAD)
            .map(|p| {
                let lo = bias.wrapping_add(p.p_vaddr);
                (lo, lo.wrapping_add(p.p_filesz))
            })
            .find(|&(lo, hi)| addr >= lo && addr < hi)
    };
    for p in phdrs {
        let at = bias.wrapping_add(p.p_vaddr);
        match p.p_type {
            PT_GNU_EH_FRAME => {
                if let Some((lo, hi)) = load_of(at) {
                    m.eh = Some(EhFrame { hdr: at, lo, hi });
                }
            }
            PT_NOTE if m.build_id_len == 0 => {
                if let Some((_, hi)) = load_of(at) {
                    let len = p.p_filesz.min(hi - at);
                    // SAFETY: the note segment's bytes within a loaded segment.
                    let notes =
                        unsafe { core::slice::from_raw_parts(at as *const u8, len as usize) };
                    if let Some(id) = build_id(notes) {
                        let n = id.len().min(BUILD_ID);
                        m.build_id[..n].copy_from_slice(&id[..n]);
                        m.build_id_len = n as u8;
                    }
                }
            }
            _ => {}
        }
    }
    if !name.is_null() {
        // SAFETY: NUL-terminated (the caller's contract).
        let s = unsafe { core::ffi::CStr::from_ptr(name) }.to_bytes();
        let n = s.len().min(PATH);
        m.path[..n].copy_from_slice(&s[..n]);
        m.path_len = n as u16;
    }
    Some(m)
}

/// The GNU build id in a run of ELF notes.
fn build_id(mut notes: &[u8]) -> Option<&[u8]> {
    let word = |b: &[u8], at: usize| -> Option<usize> {
        Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?) as usize)
    };
    while notes.len() >= 12 {
        let (namesz, descsz, kind) = (word(notes, 0)?, word(notes, 4)?, word(notes, 8)?);
        let name_end = 12usize.checked_add(namesz.checked_add(3)? & !3)?;
        let desc_end = name_end.checked_add(descsz.checked_add(3)? & !3)?;
        if desc_end > notes.len() {
            return None;
        }
        if kind as u32 == NT_GNU_BUILD_ID && notes.get(12..12 + namesz)? == b"GNU\0" {
            return notes.get(name_end..name_end + descsz);
        }
        notes = &notes[desc_end..];
    }
    None
}

/// Adds `m` to the table; false when it is full.
fn add(m: &Module) -> bool {
    let _l = MODULES.lock();
    let n = TABLE.count.load(Ordering::Relaxed);
    if n == MAX_MODULES {
        return false;
    }
    // An object where another was (unloaded since): the cached rules of those addresses
    // were the other's.
    if (0..n)
        .filter_map(get)
        .any(|o| o.start < m.end && m.start < o.end)
    {
        crate::unwind::clear_cache();
    }
    // SAFETY: entry `n` is not counted yet: nobody reads it, and only this thread (under
    // MODULES) writes it.
    unsafe { (*TABLE.entries.get())[n].write(*m) };
    TABLE.count.store(n + 1, Ordering::Release);
    true
}

/// The unwind tables for the code at `pc`, finding (and adding) the object that holds it
/// when it is not in the table yet. Lock-free but for the addition of a new object;
/// never allocates.
pub fn eh_frame_for(pc: u64) -> Option<EhFrame> {
    let f = FIND_OBJECT.load(Ordering::Relaxed);
    if f == 0 {
        return (0..count())
            .rev()
            .filter_map(get)
            .find(|m| m.contains(pc))?
            .eh;
    }
    // SAFETY: the address dlsym gave for `_dl_find_object`, whose C type this is.
    let find: FindObject = unsafe { core::mem::transmute::<usize, FindObject>(f) };
    let mut d = DlFindObject {
        flags: 0,
        map_start: core::ptr::null_mut(),
        map_end: core::ptr::null_mut(),
        link_map: core::ptr::null(),
        eh_frame: core::ptr::null_mut(),
        reserved: [0; 7],
    };
    // SAFETY: `d` is a writable dl_find_object; the function takes no lock and does not
    // allocate (glibc documents it for use in unwinders, in any context).
    if unsafe { find(pc as *mut c_void, &mut d) } != 0 || d.link_map.is_null() {
        return None;
    }
    let start = d.map_start as u64;
    // SAFETY: the link map of an object the loader has loaded, live during this call.
    let (bias, name) = unsafe { ((*d.link_map).addr, (*d.link_map).name) };
    let eh = d.eh_frame as u64;
    // An object at the same place with the same layout and tables is the one recorded
    // (one unloaded and another loaded there differs in one of these).
    let same = |m: &&Module| {
        m.start == start && m.bias == bias && m.eh.map_or(0, |e| e.hdr) == eh && m.contains(pc)
    };
    if let Some(m) = (0..count()).rev().filter_map(get).find(same) {
        return m.eh;
    }
    // SAFETY: `start` is where the object's first segment, which holds its ELF header, is
    // mapped; its name is the loader's NUL-terminated string.
    let m = unsafe { from_memory(start, bias, name) }?;
    if !m.contains(pc) || !add(&m) {
        return None;
    }
    m.eh
}

/// A module from the ELF header mapped at `start`.
///
/// # Safety
/// `start` is the first mapped page of a loaded object with bias `bias`; `name` is null
/// or NUL-terminated.
unsafe fn from_memory(start: u64, bias: u64, name: *const c_char) -> Option<Module> {
    // SAFETY: the first page of a loaded object is mapped and readable (it holds the ELF
    // header, which the loader itself read there).
    let head = unsafe { core::slice::from_raw_parts(start as *const u8, 64) };
    if &head[..4] != b"\x7fELF" || head[4] != 2 {
        return None;
    }
    let phoff = u64::from_le_bytes(head[32..40].try_into().ok()?);
    let phentsize = u16::from_le_bytes(head[54..56].try_into().ok()?) as u64;
    let phnum = u16::from_le_bytes(head[56..58].try_into().ok()?) as u64;
    // Only headers within that first page, which is known to be mapped.
    if phentsize != size_of::<libc::Elf64_Phdr>() as u64
        || phoff % 8 != 0
        || phoff.checked_add(phnum * phentsize)? > 4096
    {
        return None;
    }
    // SAFETY: within the first page, aligned (checked above).
    let phdrs = unsafe {
        core::slice::from_raw_parts((start + phoff) as *const libc::Elf64_Phdr, phnum as usize)
    };
    // SAFETY: the program headers of that object (the caller's contract).
    unsafe { describe(bias, phdrs, name) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_this_program_and_finds_its_tables() {
        init();
        assert!(count() >= 2, "the test program and libc at least");
        let me = lists_this_program_and_finds_its_tables as *const () as u64;
        let m = (0..count())
            .filter_map(get)
            .find(|m| m.contains(me))
            .unwrap();
        assert!(m.eh.is_some());
        assert_eq!(m.build_id().len(), 20, "a GNU build id");
        let libc = (0..count())
            .filter_map(get)
            .find(|m| m.path().ends_with(b"libc.so.6"))
            .expect("libc listed");
        assert!(libc.start < libc.end);
        let eh = eh_frame_for(me).unwrap();
        assert_eq!(eh.hdr, m.eh.unwrap().hdr);
    }

    #[test]
    fn build_id_notes() {
        let mut notes = vec![];
        // An ABI tag note, then the build id.
        for (kind, name, desc) in [
            (1u32, &b"GNU\0"[..], &[0u8; 16][..]),
            (3, b"GNU\0", &[7; 20]),
        ] {
            notes.extend((name.len() as u32).to_le_bytes());
            notes.extend((desc.len() as u32).to_le_bytes());
            notes.extend(kind.to_le_bytes());
            notes.extend(name);
            notes.extend(desc);
        }
        assert_eq!(build_id(&notes), Some(&[7u8; 20][..]));
        assert_eq!(build_id(&notes[..30]), None);
    }
}
