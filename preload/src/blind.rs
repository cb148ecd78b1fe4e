//! What keeps malloc calls from reaching the hooks, noticed so the run can say so.
//!
//! Looked at once per image, in the constructor (a few `dlsym`/`dladdr` calls and one
//! `readlink`, no scan of loaded objects):
//! - valgrind's malloc-replacing tools redirect *our* malloc to theirs;
//! - an object ahead of us in the search order (the program itself, exporting a
//!   statically linked jemalloc, tcmalloc or mimalloc) defines malloc;
//! - the executable's path, so the launcher can look for an allocator called by prefixed
//!   names (`_rjem_malloc`, `mi_malloc`, ...) in its symbol table after the run.
//!
//! And, as it happens: `dlopen(.., RTLD_DEEPBIND)`, whose library binds its own malloc
//! calls to libc's.

use core::ffi::{c_char, c_void};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use benchmem_wire::names::{LD_PRELOAD_C, base_name, preload_entries};
use benchmem_wire::state::{
    Header, OWNER_CAP, PATH_CAP, PROBLEM_DEEPBIND, PROBLEM_MALLOC_SHADOWED, PROBLEM_VALGRIND,
    set_field,
};

use crate::once::OnceBytes;
use crate::{hot, sys, tls};

// Names found at start, copied into each state this image makes (fork children too).
static EXE: OnceBytes<PATH_CAP> = OnceBytes::new();
static MALLOC_OWNER: OnceBytes<OWNER_CAP> = OnceBytes::new();
static NEW_OWNER: OnceBytes<OWNER_CAP> = OnceBytes::new();
/// `PROBLEM_*` bits found at start (or by a `dlopen`), for every state of this image.
static PROBLEMS: AtomicU64 = AtomicU64::new(0);
static LOOKED: AtomicBool = AtomicBool::new(false);

/// Looks once (from the constructor) at what could keep malloc calls from us.
pub fn init() {
    if LOOKED.swap(true, Relaxed) {
        return;
    }
    let _g = tls::Guard::enter();
    let mut buf = [0u8; PATH_CAP + 1];
    // SAFETY: readlink writes at most the given length into our buffer.
    let n = unsafe {
        libc::readlink(
            c"/proc/self/exe".as_ptr(),
            buf.as_mut_ptr() as *mut c_char,
            buf.len(),
        )
    };
    // A path longer than the field is left out rather than cut (a cut path names
    // another file).
    if n > 0 && (n as usize) <= PATH_CAP {
        EXE.set(&buf[..n as usize]);
    }
    if let Some(tool) = valgrind_tool() {
        let mut name = [0u8; OWNER_CAP];
        let pre = b"valgrind's ";
        name[..pre.len()].copy_from_slice(pre);
        let k = tool.len().min(OWNER_CAP - pre.len());
        name[pre.len()..pre.len() + k].copy_from_slice(&tool[..k]);
        MALLOC_OWNER.set(&name[..pre.len() + k]);
        PROBLEMS.fetch_or(PROBLEM_VALGRIND, Relaxed);
    } else if let Some(owner) = malloc_shadowed() {
        MALLOC_OWNER.set(owner);
        PROBLEMS.fetch_or(PROBLEM_MALLOC_SHADOWED, Relaxed);
    }
}

/// Records the file of the C++ `operator new` that bypasses malloc (its base name).
///
/// # Safety
/// Call with the guard raised (dladdr may allocate).
pub unsafe fn set_new_owner(new: *const c_void) {
    // SAFETY: the caller's contract.
    if let Some(f) = unsafe { crate::real::object_file(new) } {
        NEW_OWNER.set(base_name(f));
    }
}

/// Copies what was found at start into a new state of this image.
pub fn stamp(h: &Header) {
    h.problems.fetch_or(PROBLEMS.load(Relaxed), Relaxed);
    set_field(&h.exe_len, &h.exe, EXE.get());
    set_field(&h.malloc_owner_len, &h.malloc_owner, MALLOC_OWNER.get());
    set_field(&h.new_owner_len, &h.new_owner, NEW_OWNER.get());
}

/// The name of the valgrind tool running us when it replaces malloc (`memcheck`,
/// `massif`, ...): we run on valgrind's CPU and `LD_PRELOAD` holds its
/// `vgpreload_<tool>` library (tools that leave malloc alone, like callgrind or
/// cachegrind, preload only `vgpreload_core` or nothing: there we count as usual).
fn valgrind_tool() -> Option<&'static [u8]> {
    if !running_on_valgrind() {
        return None;
    }
    let list = sys::getenv(LD_PRELOAD_C)?;
    preload_entries(list).find_map(|e| {
        let tool = base_name(e).strip_prefix(b"vgpreload_")?;
        let tool = &tool[..tool.iter().position(|&b| b == b'-')?];
        (tool != b"core").then_some(tool)
    })
}

/// valgrind's `RUNNING_ON_VALGRIND` client request: 0 on a real CPU.
#[cfg(target_arch = "x86_64")]
fn running_on_valgrind() -> bool {
    let args: [u64; 6] = [0x1001, 0, 0, 0, 0, 0];
    let r: u64;
    // SAFETY: valgrind's documented no-op sequence: the four rotations of rdi add up to
    // 128 bits (rdi unchanged) and `xchg rbx, rbx` changes nothing on a real CPU, so rdx
    // keeps its 0; under valgrind rdx receives the answer. Only rax is read, as a pointer
    // to `args`.
    unsafe {
        core::arch::asm!(
            "rol rdi, 3",
            "rol rdi, 13",
            "rol rdi, 61",
            "rol rdi, 51",
            "xchg rbx, rbx",
            in("rax") args.as_ptr(),
            inout("rdx") 0u64 => r,
            out("rdi") _,
            options(nostack),
        );
    }
    r != 0
}

#[cfg(not(target_arch = "x86_64"))]
fn running_on_valgrind() -> bool {
    false
}

/// The object whose `malloc` the program's calls bind to, when it is not ours: an object
/// ahead of the preload in the search order, in practice the executable exporting an
/// allocator linked into it.
fn malloc_shadowed() -> Option<&'static [u8]> {
    // SAFETY: dlsym/dladdr on a NUL-terminated name, guard raised by the caller.
    unsafe {
        let bound = libc::dlsym(libc::RTLD_DEFAULT, c"malloc".as_ptr());
        // Compared by object, with a function of ours that is not exported: the address
        // of an exported one (our malloc) would itself be looked up, and found shadowed.
        let ours = init as *const c_void;
        if bound.is_null() || crate::real::same_object(bound, ours) || is_plt_stub(bound) {
            return None;
        }
        // The executable's own name in the loader is empty: say it by its path.
        match crate::real::object_file(bound) {
            Some(f) if !f.is_empty() => Some(f),
            _ => Some(EXE.get())
                .filter(|e| !e.is_empty())
                .or(Some(b"the program")),
        }
    }
}

unsafe extern "C" {
    fn dladdr1(
        addr: *const c_void,
        info: *mut libc::Dl_info,
        extra: *mut *mut c_void,
        flags: core::ffi::c_int,
    ) -> core::ffi::c_int;
}

/// `dladdr1`'s request for the symbol table entry.
const RTLD_DL_SYMENT: core::ffi::c_int = 1;

/// Whether `addr` is a position-dependent program's canonical PLT entry for the symbol: an
/// undefined symbol with an address of its own (so that `&malloc` compares equal
/// everywhere), which jumps to the definition the loader found, ours. Debian's
/// `/usr/bin/python3` is such a program: its malloc calls do reach the preload.
///
/// # Safety
/// `addr` is an address `dlsym` returned; call with the guard raised (dladdr may allocate).
unsafe fn is_plt_stub(addr: *const c_void) -> bool {
    let mut info = core::mem::MaybeUninit::<libc::Dl_info>::zeroed();
    let mut sym: *mut c_void = core::ptr::null_mut();
    // SAFETY: out-pointers to our own locals; RTLD_DL_SYMENT asks for the ElfW(Sym) entry.
    let found = unsafe { dladdr1(addr, info.as_mut_ptr(), &mut sym, RTLD_DL_SYMENT) } != 0;
    // SAFETY: when found, `sym` points into the object's loaded symbol table.
    found && !sym.is_null() && unsafe { (*(sym as *const libc::Elf64_Sym)).st_shndx } == 0
}

/// Notes a `dlopen` with `RTLD_DEEPBIND`.
#[cfg_attr(test, allow(dead_code))]
fn deepbind_seen() {
    PROBLEMS.fetch_or(PROBLEM_DEEPBIND, Relaxed);
    if let Some(st) = hot::current() {
        st.header.problems.fetch_or(PROBLEM_DEEPBIND, Relaxed);
    }
}

/// The real `dlopen`, once resolved (0 until then).
#[cfg(target_arch = "x86_64")]
#[cfg_attr(test, allow(dead_code))]
static REAL_DLOPEN: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// Slow path of the `dlopen` hook: notes `RTLD_DEEPBIND`, resolves the real dlopen.
#[cfg(target_arch = "x86_64")]
#[cfg_attr(test, allow(dead_code))]
extern "C" fn dlopen_slow(flags: core::ffi::c_int) -> usize {
    sys::keep_errno(|| {
        if flags & libc::RTLD_DEEPBIND != 0 {
            deepbind_seen();
        }
        let f = REAL_DLOPEN.load(Relaxed);
        if f != 0 {
            return f;
        }
        let _g = tls::Guard::enter();
        // SAFETY: dlsym on a NUL-terminated name; what it allocates passes through.
        let f = unsafe { libc::dlsym(libc::RTLD_NEXT, c"dlopen".as_ptr()) } as usize;
        REAL_DLOPEN.store(f, Relaxed);
        f
    })
}

/// `dlopen`, passed straight to the real one by a jump, so the real one sees its caller's
/// return address: glibc picks the caller's namespace and `RUNPATH` from it, and a hook
/// that called it would make every `dlopen` look like ours. Only `RTLD_DEEPBIND` (or the
/// first call, to resolve the real function) takes a detour through `dlopen_slow`.
///
/// # Safety
/// C `dlopen`.
#[cfg(all(target_arch = "x86_64", not(test)))]
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dlopen(file: *const c_char, flags: core::ffi::c_int) -> *mut c_void {
    core::arch::naked_asm!(
        "test esi, {deepbind}",
        "jnz 2f",
        "mov rax, qword ptr [rip + {real}@GOTPCREL]",
        "mov rax, qword ptr [rax]",
        "test rax, rax",
        "jz 2f",
        "jmp rax",
        "2:",
        // Keep the arguments; entry rsp is 8 mod 16, so two pushes and 8 bytes align
        // the call.
        "push rdi",
        "push rsi",
        "sub rsp, 8",
        "mov edi, esi",
        "call {slow}",
        "add rsp, 8",
        "pop rsi",
        "pop rdi",
        "test rax, rax",
        "jz 3f",
        "jmp rax",
        "3:",
        "xor eax, eax",
        "ret",
        deepbind = const libc::RTLD_DEEPBIND,
        real = sym REAL_DLOPEN,
        slow = sym dlopen_slow,
    )
}
