//! Python frames in recorded stacks: in a CPython process, each evaluation-loop C frame
//! (`_PyEval_EvalFrameDefault`) of a native stack is replaced by the Python frames it was
//! running, so a stack reads `inner (app.py:12) ← sorted's C code ← outer ← <module>`
//! rather than a column of identical interpreter frames.
//!
//! Called from allocation hooks, so nothing here allocates, locks, takes the GIL or calls
//! an API that could: the frames are read from the calling thread's own thread state, as
//! out-of-process samplers (py-spy, austin) read them, but in-process and only for the
//! thread's own stack, whose frames cannot change under it.
//!
//! - [`init`] (the constructor; again harmless) finds the interpreter: the eval loop's
//!   address range (`dladdr1` gives the symbol's size), `PyCode_Type`, the version
//!   (`Py_Version`, else `Py_GetVersion`), and maps the tables below. [`fork_child`]
//!   makes a fork child write its code records again into its own stream.
//! - [`splice`] turns a native stack into the mixed one; [`emit_new_codes`] writes the
//!   `PyCode` record of each code id before the first stack that uses it.
//! - Code ids come from a lock-free table in raw `mmap` memory keyed by the code object's
//!   address *and* its name, file name, line table and first line, checked on every hit:
//!   a code object freed and replaced at the same address by another gets a new id, never
//!   the old name. Name and file bytes are copied when a code object is first seen (the
//!   record is written later, when the object may be gone).
//! - Lines come from the code object's line table at the frame's instruction offset;
//!   (code id, offset) → line is cached. In front of both, a memo maps (code object and
//!   its key, offset) → frame word, so a steady state costs one probe per frame.
//!
//! Everything that depends on the CPython version is in [`LAYOUTS`] and the three line
//! table decoders ([`Lines`]); the offsets come from the versions' own headers
//! (`preload/tools/py_offsets.c` prints them). 3.9 to 3.13 are described; debug builds and
//! free-threaded builds (another object header) are left inactive, with a reason
//! ([`inactive_reason`]).
//!
//! Limits: a libpython loaded with `dlopen` after start is not seen. A return address in
//! the eval loop's cold part (the compiler's `.cold` split, which a stripped build gives
//! no symbol) stays a native frame; the runs are then matched from the outermost eval-loop
//! frame, and the innermost one recognised shows the frames of those that were not, so no
//! Python frame is lost or misplaced among the others. A frame whose code object is not a
//! code object (a stale pointer caught mid-teardown) is left out.

use core::cell::UnsafeCell;
use core::ffi::{c_char, c_int, c_void};
use core::mem::MaybeUninit;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize};

use benchmem_wire::stacks::{Record, py_frame, py_frame_parts};

use crate::{sys, tls};

// ---------------------------------------------------------------------------------------
// What differs between CPython versions: all of it is here.

/// How a version chains the frames a thread is running.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Chain {
    /// 3.9, 3.10: `tstate->frame`, `PyFrameObject`s linked by `f_back`; each eval-loop C
    /// frame runs exactly one.
    Objects,
    /// 3.11: `_PyInterpreterFrame`s linked by `previous`; an eval-loop C frame runs the
    /// frames from the current one up to and including the next one marked `is_entry`
    /// (Python-to-Python calls stay inside one C frame).
    Entry,
    /// 3.12, 3.13: as 3.11, but each eval-loop C frame pushes a shim frame owned by the C
    /// stack below the first frame it runs; its run ends at that shim.
    Shim,
}

/// Where a frame's position in its code is kept.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Instr {
    /// `f_lasti`, an `int` counting bytes (3.9).
    LastiBytes,
    /// `f_lasti`, an `int` counting 2-byte code units (3.10).
    LastiUnits,
    /// A pointer into the code's instructions (3.11+: `prev_instr`, 3.13 `instr_ptr`).
    Pointer,
}

/// The format of a code object's line table.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Lines {
    /// `co_lnotab` (3.9): pairs (byte delta, signed line delta).
    Lnotab,
    /// `co_linetable` of PEP 626 (3.10): pairs (byte delta, signed line delta, -128 none).
    Pep626,
    /// The location table of PEP 657 (3.11+): varint-coded entries in code units.
    Locations,
}

/// Field offsets (bytes) of one CPython minor version on 64-bit Linux.
#[derive(Debug)]
struct Layout {
    minor: u32,
    chain: Chain,
    instr: Instr,
    lines: Lines,
    /// `tstate->cframe`, when the current frame hangs off a `_PyCFrame` (3.11, 3.12).
    tstate_cframe: Option<usize>,
    /// The current frame: in the `_PyCFrame` when there is one, else in the tstate.
    current_frame: usize,
    frame_code: usize,
    frame_previous: usize,
    frame_instr: usize,
    /// `is_entry` (a bool; 3.11).
    frame_is_entry: usize,
    /// `owner` (a char; 3.11+).
    frame_owner: usize,
    code_firstlineno: usize,
    /// `co_qualname` (3.11+); `co_name` before.
    code_qualname: usize,
    code_filename: usize,
    /// `co_linetable` (3.10+) or `co_lnotab` (3.9).
    code_linetable: usize,
    /// `co_code_adaptive`: the instructions, inline in the code object (3.11+).
    code_instructions: usize,
    /// `_co_firsttraceable` (3.11+): frames before it have not started.
    code_firsttraceable: usize,
    /// `sizeof(PyASCIIObject)`: where a compact ASCII string's bytes start.
    str_ascii_data: usize,
    /// `sizeof(PyCompactUnicodeObject)`: where a compact non-ASCII string's data starts.
    str_compact_data: usize,
    str_utf8_length: usize,
    str_utf8: usize,
}

/// `_PyInterpreterFrame::owner` of a generator's frame (3.11+).
const OWNED_BY_GENERATOR: u8 = 1;
/// `owner` of the shim frame an eval-loop C frame pushes (3.12+).
const OWNED_BY_CSTACK: u8 = 3;

// PyObject: ob_refcnt, ob_type. PyVarObject adds ob_size. PyBytesObject: ob_shash, ob_sval.
const OB_TYPE: usize = 8;
const BYTES_SIZE: usize = 16;
const BYTES_DATA: usize = 32;
// PyASCIIObject: length at 16, the state bit field at 32 (kind 3 bits from bit 2, then
// compact, then ascii), the same from 3.9 to 3.13.
const STR_LENGTH: usize = 16;
const STR_STATE: usize = 32;
const STR_KIND_SHIFT: u32 = 2;
const STR_COMPACT: u32 = 0x20;
const STR_ASCII: u32 = 0x40;

/// One entry per supported minor version; offsets as `preload/tools/py_offsets.c` prints
/// them from each version's headers.
static LAYOUTS: [Layout; 5] = [
    Layout {
        minor: 9,
        chain: Chain::Objects,
        instr: Instr::LastiBytes,
        lines: Lines::Lnotab,
        tstate_cframe: None,
        current_frame: 24,
        frame_code: 32,
        frame_previous: 24,
        frame_instr: 104,
        frame_is_entry: 0,
        frame_owner: 0,
        code_firstlineno: 40,
        code_qualname: 112,
        code_filename: 104,
        code_linetable: 120,
        code_instructions: 0,
        code_firsttraceable: 0,
        str_ascii_data: 48,
        str_compact_data: 72,
        str_utf8_length: 48,
        str_utf8: 56,
    },
    Layout {
        minor: 10,
        chain: Chain::Objects,
        instr: Instr::LastiUnits,
        lines: Lines::Pep626,
        tstate_cframe: None,
        current_frame: 24,
        frame_code: 32,
        frame_previous: 24,
        frame_instr: 96,
        frame_is_entry: 0,
        frame_owner: 0,
        code_firstlineno: 40,
        code_qualname: 112,
        code_filename: 104,
        code_linetable: 120,
        code_instructions: 0,
        code_firsttraceable: 0,
        str_ascii_data: 48,
        str_compact_data: 72,
        str_utf8_length: 48,
        str_utf8: 56,
    },
    Layout {
        minor: 11,
        chain: Chain::Entry,
        instr: Instr::Pointer,
        lines: Lines::Locations,
        tstate_cframe: Some(56),
        current_frame: 8,
        frame_code: 32,
        frame_previous: 48,
        frame_instr: 56,
        frame_is_entry: 68,
        frame_owner: 69,
        code_firstlineno: 72,
        code_qualname: 128,
        code_filename: 112,
        code_linetable: 136,
        code_instructions: 184,
        code_firsttraceable: 168,
        str_ascii_data: 48,
        str_compact_data: 72,
        str_utf8_length: 48,
        str_utf8: 56,
    },
    Layout {
        minor: 12,
        chain: Chain::Shim,
        instr: Instr::Pointer,
        lines: Lines::Locations,
        tstate_cframe: Some(56),
        current_frame: 0,
        frame_code: 0,
        frame_previous: 8,
        frame_instr: 56,
        frame_is_entry: 0,
        frame_owner: 70,
        code_firstlineno: 68,
        code_qualname: 128,
        code_filename: 112,
        code_linetable: 136,
        code_instructions: 192,
        code_firsttraceable: 176,
        str_ascii_data: 40,
        str_compact_data: 56,
        str_utf8_length: 40,
        str_utf8: 48,
    },
    Layout {
        minor: 13,
        chain: Chain::Shim,
        instr: Instr::Pointer,
        lines: Lines::Locations,
        tstate_cframe: None,
        current_frame: 72,
        frame_code: 0,
        frame_previous: 8,
        frame_instr: 56,
        frame_is_entry: 0,
        frame_owner: 70,
        code_firstlineno: 68,
        code_qualname: 128,
        code_filename: 112,
        code_linetable: 136,
        code_instructions: 200,
        code_firsttraceable: 184,
        str_ascii_data: 40,
        str_compact_data: 56,
        str_utf8_length: 40,
        str_utf8: 48,
    },
];

// ---------------------------------------------------------------------------------------
// The interpreter, found once.

/// What [`init`] found.
struct Interp {
    layout: &'static Layout,
    /// The eval loop's code: `[eval_lo, eval_hi)`.
    eval_lo: usize,
    eval_hi: usize,
    code_type: usize,
    bytes_type: usize,
    unicode_type: usize,
    is_initialized: unsafe extern "C" fn() -> c_int,
    this_thread_state: unsafe extern "C" fn() -> *mut c_void,
}

/// Written once by [`init`] before [`ACTIVE`] is stored (Release), read after it is
/// loaded (Acquire), never written again.
struct InterpCell(UnsafeCell<Option<Interp>>);
// SAFETY: see the type's doc: a single write published by a Release store, then only reads.
unsafe impl Sync for InterpCell {}

static INTERP: InterpCell = InterpCell(UnsafeCell::new(None));
static ACTIVE: AtomicBool = AtomicBool::new(false);
static INIT_DONE: AtomicBool = AtomicBool::new(false);
/// Why the module is inactive (a static string), null while active or not yet decided.
static REASON: AtomicPtr<u8> = AtomicPtr::new(core::ptr::null_mut());
static REASON_LEN: AtomicUsize = AtomicUsize::new(0);

fn set_reason(r: &'static str) {
    REASON_LEN.store(r.len(), Relaxed);
    REASON.store(r.as_ptr() as *mut u8, Release);
}

/// Why Python frames are not read in this process (`None` while they are, or before
/// [`init`]).
pub fn inactive_reason() -> Option<&'static str> {
    let p = REASON.load(Acquire);
    if p.is_null() {
        return None;
    }
    // SAFETY: `p`/`len` are those of a `&'static str` stored by `set_reason`.
    Some(unsafe {
        core::str::from_utf8_unchecked(core::slice::from_raw_parts(p, REASON_LEN.load(Relaxed)))
    })
}

#[inline]
fn interp() -> Option<&'static Interp> {
    if !ACTIVE.load(Acquire) {
        return None;
    }
    // SAFETY: ACTIVE is stored (Release) after INTERP was written, and INTERP is never
    // written again (see `InterpCell`).
    unsafe { (*INTERP.0.get()).as_ref() }
}

/// True when the process runs a CPython whose frames we can read.
#[inline]
pub fn active() -> bool {
    ACTIVE.load(Relaxed)
}

const RTLD_DL_SYMENT: c_int = 1;

/// Finds the interpreter and maps the tables. Call from the preload's constructor, while
/// the process has one thread (dlsym may allocate: the guard is raised here). Only the
/// first call does anything.
pub fn init() {
    if INIT_DONE.swap(true, Relaxed) {
        return;
    }
    let _g = tls::Guard::enter();
    match find_interp() {
        Ok(found) => {
            if !tables_map() {
                set_reason("no memory for the code tables");
                return;
            }
            // SAFETY: the single write of `InterpCell`, before ACTIVE publishes it; the
            // constructor runs before any other thread reads it.
            unsafe { *INTERP.0.get() = Some(found) };
            ACTIVE.store(true, Release);
        }
        Err(r) => set_reason(r),
    }
}

fn sym(name: &core::ffi::CStr) -> usize {
    // SAFETY: dlsym with a NUL-terminated name, under the caller's guard.
    unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) as usize }
}

fn find_interp() -> Result<Interp, &'static str> {
    let eval = sym(c"_PyEval_EvalFrameDefault");
    if eval == 0 {
        return Err("not a CPython process");
    }
    let (major, minor, free_threaded) = version()?;
    if major != 3 {
        return Err("not CPython 3");
    }
    let layout = LAYOUTS
        .iter()
        .find(|l| l.minor == minor)
        .ok_or("a CPython version whose frame layout is not known (3.9 to 3.13 are)")?;
    if free_threaded {
        return Err("a free-threaded CPython build (another object header)");
    }
    if sym(c"_Py_NegativeRefcount") != 0 {
        return Err("a debug build of CPython");
    }
    // SAFETY: zeroed Dl_info and symbol pointer are valid out-parameters; `eval` is an
    // address dlsym returned.
    let size = unsafe {
        let mut info: libc::Dl_info = core::mem::zeroed();
        let mut symp: *mut c_void = core::ptr::null_mut();
        if libc::dladdr1(eval as *const c_void, &mut info, &mut symp, RTLD_DL_SYMENT) == 0
            || symp.is_null()
        {
            0
        } else {
            (*(symp as *const libc::Elf64_Sym)).st_size as usize
        }
    };
    if size == 0 {
        return Err("the eval loop's size is unknown");
    }
    let (code_type, bytes_type, unicode_type) = (
        sym(c"PyCode_Type"),
        sym(c"PyBytes_Type"),
        sym(c"PyUnicode_Type"),
    );
    let (is_init, tstate) = (
        sym(c"Py_IsInitialized"),
        sym(c"PyGILState_GetThisThreadState"),
    );
    if code_type == 0 || bytes_type == 0 || unicode_type == 0 || is_init == 0 || tstate == 0 {
        return Err("a CPython without the expected exported symbols");
    }
    // SAFETY: both are functions of the C API with these signatures (no arguments).
    let (is_initialized, this_thread_state) = unsafe {
        (
            core::mem::transmute::<usize, unsafe extern "C" fn() -> c_int>(is_init),
            core::mem::transmute::<usize, unsafe extern "C" fn() -> *mut c_void>(tstate),
        )
    };
    Ok(Interp {
        layout,
        eval_lo: eval,
        eval_hi: eval + size,
        code_type,
        bytes_type,
        unicode_type,
        is_initialized,
        this_thread_state,
    })
}

/// (major, minor, free-threaded) of the loaded CPython.
fn version() -> Result<(u32, u32, bool), &'static str> {
    let get = sym(c"Py_GetVersion");
    if get == 0 {
        return Err("a CPython without Py_GetVersion");
    }
    // SAFETY: `const char *Py_GetVersion(void)`: a static NUL-terminated string, safe to
    // call before the interpreter starts (under the caller's guard).
    let s = unsafe {
        let f = core::mem::transmute::<usize, unsafe extern "C" fn() -> *const c_char>(get);
        let p = f();
        if p.is_null() {
            return Err("Py_GetVersion gave nothing");
        }
        core::ffi::CStr::from_ptr(p).to_bytes()
    };
    let free_threaded = s.windows(14).any(|w| w == b"free-threading");
    let v = sym(c"Py_Version");
    if v != 0 {
        // SAFETY: `const unsigned long Py_Version` (3.11+), PY_VERSION_HEX.
        let hex = unsafe { *(v as *const core::ffi::c_ulong) } as u32;
        return Ok((hex >> 24, (hex >> 16) & 0xff, free_threaded));
    }
    let mut parts = s.split(|&b| b == b'.' || b == b' ');
    let num = |p: Option<&[u8]>| -> Option<u32> {
        let p = p?;
        if p.is_empty() || p.len() > 3 || !p.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(p.iter().fold(0, |a, &d| a * 10 + (d - b'0') as u32))
    };
    match (num(parts.next()), num(parts.next())) {
        (Some(a), Some(b)) => Ok((a, b, free_threaded)),
        _ => Err("an unreadable CPython version"),
    }
}

// ---------------------------------------------------------------------------------------
// Reading the interpreter's memory.

/// A pointer we are willing to follow: non-null, aligned, in user space.
#[inline(always)]
fn plausible(p: usize) -> bool {
    (4096..1 << 47).contains(&p) && p.is_multiple_of(8)
}

/// Reads a `T` at `addr`.
///
/// # Safety
/// `addr` must be readable for `size_of::<T>()` bytes.
#[inline(always)]
unsafe fn rd<T: Copy>(addr: usize) -> T {
    // SAFETY: the caller's contract.
    unsafe { (addr as *const T).read_unaligned() }
}

/// Reads a pointer field at `base + off`, or 0 when `base` is implausible or the field is.
#[inline(always)]
fn ptr_at(base: usize, off: usize) -> usize {
    if !plausible(base) {
        return 0;
    }
    // SAFETY: `base` points at a live interpreter structure of this thread (see the module
    // doc) at least `off + 8` bytes long, per the version's layout.
    let p: usize = unsafe { rd(base + off) };
    if plausible(p) { p } else { 0 }
}

/// As [`ptr_at`], for a `base` already known plausible (a frame of the chain).
#[inline(always)]
fn field(base: usize, off: usize) -> usize {
    // SAFETY: as in `ptr_at`; the caller vouches for `base`.
    let p: usize = unsafe { rd(base + off) };
    if plausible(p) { p } else { 0 }
}

/// The calling thread's `PyThreadState`, or 0 (no interpreter yet or any more, a thread
/// Python never saw).
#[inline]
fn thread_state(ip: &Interp) -> usize {
    // SAFETY: neither function allocates, locks or needs the GIL: one reads a flag of the
    // runtime, the other a pthread key (only asked once the runtime is up, so the key
    // exists).
    unsafe {
        if (ip.is_initialized)() == 0 {
            return 0;
        }
        (ip.this_thread_state)() as usize
    }
}

/// The first frame of `tstate`'s chain.
#[inline]
fn current_frame(ip: &Interp, tstate: usize) -> usize {
    let l = ip.layout;
    match l.tstate_cframe {
        Some(c) => ptr_at(ptr_at(tstate, c), l.current_frame),
        None => ptr_at(tstate, l.current_frame),
    }
}

/// A frame's code object (0 when it is not one) and instruction offset in bytes
/// (negative before the first instruction).
#[inline]
fn frame_code_and_offset(ip: &Interp, f: usize) -> (usize, i64) {
    let l = ip.layout;
    let code = field(f, l.frame_code);
    // SAFETY: `code` is plausible (field checked it) and every object starts with a header.
    if code == 0 || unsafe { rd::<usize>(code + OB_TYPE) } != ip.code_type {
        return (0, 0);
    }
    // SAFETY: `f` is a frame of the chain (plausible, as every link is checked) and its
    // layout has an int or pointer at `frame_instr`.
    let off = unsafe {
        match l.instr {
            Instr::LastiBytes => rd::<i32>(f + l.frame_instr) as i64,
            Instr::LastiUnits => rd::<i32>(f + l.frame_instr) as i64 * 2,
            Instr::Pointer => {
                rd::<usize>(f + l.frame_instr) as i64 - (code + l.code_instructions) as i64
            }
        }
    };
    (code, off)
}

/// True when frame `f` (3.11+) has not started running user code yet (CPython leaves such
/// frames out of tracebacks too).
#[inline]
fn incomplete(ip: &Interp, f: usize, code: usize, offset: i64) -> bool {
    let l = ip.layout;
    if l.chain == Chain::Objects {
        return false;
    }
    // SAFETY: plausible frame and code object (checked by the caller), per the layout.
    let (owner, first) = unsafe {
        (
            rd::<u8>(f + l.frame_owner),
            rd::<i32>(code + l.code_firsttraceable),
        )
    };
    owner != OWNED_BY_GENERATOR && offset < first as i64 * 2
}

// ---------------------------------------------------------------------------------------
// Splicing.

/// Writes into `out` the stack `native` (return addresses, innermost first) with each run
/// of the interpreter's evaluation-loop frames replaced by the Python frames it was running
/// (`benchmem_wire::stacks::py_frame(code, line)` words); returns the count. Lock-free, no
/// malloc. Without Python frames to read (no interpreter, a thread without a thread state)
/// the native stack is copied as it is.
pub fn splice(native: &[u64], out: &mut [MaybeUninit<u64>]) -> usize {
    let Some(ip) = interp() else {
        let n = native.len().min(out.len());
        for (o, &a) in out[..n].iter_mut().zip(native) {
            o.write(a);
        }
        return n;
    };
    let tstate = thread_state(ip);
    let first = if tstate == 0 {
        0
    } else {
        current_frame(ip, tstate)
    };
    let (n, rest) = splice_from(ip, first, native, out, 0);
    if rest != 0 && n < out.len() {
        // Python frames left over, with room for them: an eval-loop C frame was not
        // recognised (a compiler-split cold part of the function has no symbol in a
        // stripped build). Align from the outermost end instead, where the runs match
        // one for one, and let the innermost recognised frame take the runs of those
        // not recognised, so every Python frame is shown, in order.
        let evals = native.iter().filter(|&&a| in_eval(ip, a)).count();
        let runs = count_runs(ip, first);
        if runs > evals {
            return splice_from(ip, first, native, out, runs - evals).0;
        }
    }
    n
}

#[inline(always)]
fn in_eval(ip: &Interp, a: u64) -> bool {
    let a = a as usize;
    a > ip.eval_lo && a <= ip.eval_hi
}

/// Frames a chain walk may visit per stack: the chain is finite, but a stale pointer
/// could make it a cycle.
const WALK_BUDGET: u32 = 4096;

/// [`splice`] from frame `first`, the first eval-loop C frame taking `extra` runs more
/// than its own; returns the words written and the frame left unshown (0 when none).
fn splice_from(
    ip: &Interp,
    first: usize,
    native: &[u64],
    out: &mut [MaybeUninit<u64>],
    extra: usize,
) -> (usize, usize) {
    let (mut n, cap) = (0, out.len());
    let mut push = |w: u64, n: &mut usize| {
        if *n < cap {
            out[*n].write(w);
            *n += 1;
        }
        *n < cap
    };
    let (mut cur, mut budget, mut extra) = (first, WALK_BUDGET, extra);
    for &a in native {
        if !in_eval(ip, a) || cur == 0 || n >= cap {
            push(a, &mut n);
            continue;
        }
        let before = n;
        for _ in 0..=core::mem::take(&mut extra) {
            cur = take_run::<true>(ip, cur, &mut budget, &mut |w| push(w, &mut n));
            if cur == 0 || n >= cap {
                break;
            }
        }
        if n == before {
            // Nothing to show for this eval-loop frame (it is starting or finishing):
            // keep it native rather than lose it.
            push(a, &mut n);
        }
    }
    (n, cur)
}

/// Walks the run of one eval-loop C frame from frame `cur`, passing each Python frame's
/// word to `push` when `SHOW` (which returns false once the stack is full: the walk then
/// stops); returns the first frame of the next run (0 at the end of the chain, of the
/// budget, or of the room).
#[inline(always)]
fn take_run<const SHOW: bool>(
    ip: &Interp,
    mut cur: usize,
    budget: &mut u32,
    push: &mut impl FnMut(u64) -> bool,
) -> usize {
    while cur != 0 {
        if *budget == 0 {
            return 0;
        }
        *budget -= 1;
        let f = cur;
        cur = field(f, ip.layout.frame_previous);
        let ends = match ip.layout.chain {
            Chain::Objects => true,
            // SAFETY: `f` is a plausible frame (it came from ptr_at), per the layout.
            Chain::Entry => (unsafe { rd::<u8>(f + ip.layout.frame_is_entry) }) != 0,
            Chain::Shim => {
                // SAFETY: as above. The shim belongs to no one: not shown.
                if unsafe { rd::<u8>(f + ip.layout.frame_owner) } == OWNED_BY_CSTACK {
                    return cur;
                }
                false
            }
        };
        if SHOW
            && let Some(w) = python_frame(ip, f)
            && !push(w)
        {
            return 0;
        }
        if ends {
            return cur;
        }
    }
    0
}

/// The number of runs (eval-loop C frames) the chain from `first` makes.
fn count_runs(ip: &Interp, first: usize) -> usize {
    let (mut cur, mut budget, mut runs) = (first, WALK_BUDGET, 0);
    while cur != 0 && budget > 0 {
        cur = take_run::<false>(ip, cur, &mut budget, &mut |_| true);
        runs += 1;
    }
    runs
}

/// The Python frame word of frame `f`, unless it is not worth showing.
#[inline(always)]
fn python_frame(ip: &Interp, f: usize) -> Option<u64> {
    let (code, offset) = frame_code_and_offset(ip, f);
    if code == 0 || incomplete(ip, f, code, offset) {
        return None;
    }
    let Some(key) = key_of(ip, code) else {
        return Some(py_frame(UNKNOWN_CODE, 0));
    };
    if let Some(w) = memo_get(&key, offset) {
        return Some(w);
    }
    let Some(id) = intern(ip, &key) else {
        return Some(py_frame(UNKNOWN_CODE, 0));
    };
    let w = py_frame(id, line_of(ip, id, code, offset));
    memo_put(&key, offset, w);
    Some(w)
}

// ---------------------------------------------------------------------------------------
// Code ids.

/// The id of frames whose code could not be given an id of its own (tables full).
const UNKNOWN_CODE: u32 = 0;
const CODE_SLOTS: usize = 1 << 15;
const PROBES: usize = 64;
const TEXT_BYTES: usize = 8 << 20;
const MAX_NAME: usize = 1024;
const MAX_FILE: usize = 2048;

const SLOT_FREE: u32 = 0;
const SLOT_WRITING: u32 = 1;
const SLOT_READY: u32 = 2;

/// One interned code object, in raw `mmap` memory.
#[repr(C)]
struct CodeSlot {
    state: AtomicU32,
    /// The [`GENERATION`] in which its `PyCode` record was last written.
    emitted: AtomicU32,
    code: AtomicU64,
    name: AtomicU64,
    file: AtomicU64,
    table: AtomicU64,
    first_line: AtomicU32,
    name_len: AtomicU32,
    file_len: AtomicU32,
    text: AtomicU32,
}

static SLOTS: AtomicPtr<CodeSlot> = AtomicPtr::new(core::ptr::null_mut());
static TEXT: AtomicPtr<u8> = AtomicPtr::new(core::ptr::null_mut());
static TEXT_USED: AtomicUsize = AtomicUsize::new(0);
/// Line cache: (code id, offset in code units, line) packed in one word, 0 = empty.
static LINES: AtomicPtr<AtomicU64> = AtomicPtr::new(core::ptr::null_mut());
const LINE_SLOTS: usize = 1 << 16;
/// Bumped in a fork child, whose stream starts empty: every code is written again.
static GENERATION: AtomicU32 = AtomicU32::new(1);
static UNKNOWN_EMITTED: AtomicU32 = AtomicU32::new(0);

fn tables_map() -> bool {
    let slots = sys::map(CODE_SLOTS * core::mem::size_of::<CodeSlot>());
    let text = sys::map(TEXT_BYTES);
    let lines = sys::map(LINE_SLOTS * 8);
    let memo = sys::map(MEMO_SLOTS * core::mem::size_of::<Memo>());
    if slots.is_null() || text.is_null() || lines.is_null() || memo.is_null() {
        return false;
    }
    MEMO.store(memo as *mut Memo, Release);
    SLOTS.store(slots as *mut CodeSlot, Release);
    TEXT.store(text, Release);
    LINES.store(lines as *mut AtomicU64, Release);
    true
}

fn slot(i: usize) -> &'static CodeSlot {
    // SAFETY: SLOTS maps CODE_SLOTS zeroed slots (all-zero is a valid CodeSlot of atomics)
    // before ACTIVE is published, and is never unmapped; callers pass `i < CODE_SLOTS`.
    unsafe { &*SLOTS.load(Relaxed).add(i) }
}

/// What identifies a code object's content: the address and the objects it names.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key {
    code: usize,
    name: usize,
    file: usize,
    table: usize,
    first_line: u32,
}

/// The key of code object `code` (type checked). Its pointers are only compared here;
/// whoever follows one checks it first.
#[inline(always)]
fn key_of(ip: &Interp, code: usize) -> Option<Key> {
    let l = ip.layout;
    // SAFETY: `code` is a plausible code object (type checked by the caller), whose layout
    // has these fields.
    let k = unsafe {
        Key {
            code,
            name: rd(code + l.code_qualname),
            file: rd(code + l.code_filename),
            table: rd(code + l.code_linetable),
            first_line: rd::<i32>(code + l.code_firstlineno) as u32,
        }
    };
    (k.name != 0 && k.file != 0 && k.table != 0).then_some(k)
}

fn slot_key(s: &CodeSlot) -> Key {
    Key {
        code: s.code.load(Relaxed) as usize,
        name: s.name.load(Relaxed) as usize,
        file: s.file.load(Relaxed) as usize,
        table: s.table.load(Relaxed) as usize,
        first_line: s.first_line.load(Relaxed),
    }
}

fn mix(k: &Key) -> usize {
    let mut h = (k.code as u64 >> 4).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    h ^= (k.name as u64 >> 4).wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
    h ^= (k.file as u64 >> 4 ^ k.table as u64 >> 3).wrapping_mul(0x1656_67b1_9e37_79f9);
    h ^= k.first_line as u64;
    (h ^ h >> 29) as usize
}

/// The id of code object `code` (type checked), interning it on first sight. `None` when
/// the tables are full or its names cannot be read.
fn intern(ip: &Interp, key: &Key) -> Option<u32> {
    let key = *key;
    let start = mix(&key);
    for p in 0..PROBES {
        let i = (start + p) & (CODE_SLOTS - 1);
        let s = slot(i);
        match s.state.load(Acquire) {
            SLOT_READY if slot_key(s) == key => return Some(i as u32 + 1),
            SLOT_FREE
                if s.state
                    .compare_exchange(SLOT_FREE, SLOT_WRITING, Acquire, Relaxed)
                    .is_ok() =>
            {
                return fill(ip, s, key).then_some(i as u32 + 1);
            }
            // Another code object; or another thread (or a signal handler that interrupted
            // this one) is writing it: never wait. At worst a code gets two ids, both right.
            _ => {}
        }
    }
    None
}

/// Copies the names of `key`'s code object into slot `s` (claimed) and publishes it. A
/// slot whose text does not fit stays claimed for good: the tables are then as full.
fn fill(ip: &Interp, s: &CodeSlot, key: Key) -> bool {
    let mut name = [0u8; MAX_NAME];
    let mut file = [0u8; MAX_FILE];
    let nn = read_str(ip, key.name, &mut name);
    let nf = read_str(ip, key.file, &mut file);
    let at = TEXT_USED.fetch_add(nn + nf, Relaxed);
    if at + nn + nf > TEXT_BYTES {
        return false;
    }
    // SAFETY: `[at, at + nn + nf)` of the text mapping belongs to this slot alone (the
    // fetch_add above reserved it) and lies inside the mapping (checked).
    unsafe {
        let t = TEXT.load(Relaxed).add(at);
        core::ptr::copy_nonoverlapping(name.as_ptr(), t, nn);
        core::ptr::copy_nonoverlapping(file.as_ptr(), t.add(nn), nf);
    }
    s.code.store(key.code as u64, Relaxed);
    s.name.store(key.name as u64, Relaxed);
    s.file.store(key.file as u64, Relaxed);
    s.table.store(key.table as u64, Relaxed);
    s.first_line.store(key.first_line, Relaxed);
    s.name_len.store(nn as u32, Relaxed);
    s.file_len.store(nf as u32, Relaxed);
    s.text.store(at as u32, Relaxed);
    s.emitted.store(0, Relaxed);
    s.state.store(SLOT_READY, Release);
    true
}

/// Copies a `str` object's text as UTF-8 into `out` (cut to fit); returns its length.
fn read_str(ip: &Interp, s: usize, out: &mut [u8]) -> usize {
    let l = ip.layout;
    if ptr_at(s, OB_TYPE) != ip.unicode_type {
        return copy_cut(b"?", out);
    }
    // SAFETY: `s` is a plausible `str` object (type checked), whose header the layout
    // describes; the data read below lies within its `length` characters.
    unsafe {
        let len: isize = rd(s + STR_LENGTH);
        let state: u32 = rd(s + STR_STATE);
        if len < 0 || state & STR_COMPACT == 0 {
            return copy_cut(b"?", out);
        }
        // Never look past what fits: a stale length must not make a huge slice.
        let len = (len as usize).min(out.len());
        if state & STR_ASCII != 0 {
            let b = core::slice::from_raw_parts((s + l.str_ascii_data) as *const u8, len);
            return copy_cut(b, out);
        }
        let utf8: usize = rd(s + l.str_utf8);
        if (4096..1 << 47).contains(&utf8) {
            let ulen: isize = rd(s + l.str_utf8_length);
            if ulen >= 0 {
                // One byte more than fits, so that a cut never splits a character.
                let ulen = (ulen as usize).min(out.len() + 1);
                let b = core::slice::from_raw_parts(utf8 as *const u8, ulen);
                return copy_utf8_cut(b, out);
            }
        }
        let data = s + l.str_compact_data;
        let kind = (state >> STR_KIND_SHIFT) & 7;
        let mut n = 0;
        for i in 0..len {
            let c = match kind {
                1 => rd::<u8>(data + i) as u32,
                2 => rd::<u16>(data + 2 * i) as u32,
                4 => rd::<u32>(data + 4 * i),
                _ => return copy_cut(b"?", out),
            };
            let mut buf = [0u8; 4];
            let enc = encode_utf8(c, &mut buf);
            if n + enc.len() > out.len() {
                break;
            }
            out[n..n + enc.len()].copy_from_slice(enc);
            n += enc.len();
        }
        n
    }
}

fn copy_cut(b: &[u8], out: &mut [u8]) -> usize {
    let n = b.len().min(out.len());
    out[..n].copy_from_slice(&b[..n]);
    n
}

/// As [`copy_cut`], but never cuts a UTF-8 sequence in two.
fn copy_utf8_cut(b: &[u8], out: &mut [u8]) -> usize {
    let mut n = b.len().min(out.len());
    while n < b.len() && n > 0 && b[n] & 0xc0 == 0x80 {
        n -= 1;
    }
    out[..n].copy_from_slice(&b[..n]);
    n
}

/// UTF-8 of code point `c` (lone surrogates encoded as such, as Python's
/// `surrogatepass`; out-of-range values as `?`).
fn encode_utf8(c: u32, buf: &mut [u8; 4]) -> &[u8] {
    match c {
        0..0x80 => {
            buf[0] = c as u8;
            &buf[..1]
        }
        0x80..0x800 => {
            buf[0] = 0xc0 | (c >> 6) as u8;
            buf[1] = 0x80 | (c & 0x3f) as u8;
            &buf[..2]
        }
        0x800..0x10000 => {
            buf[0] = 0xe0 | (c >> 12) as u8;
            buf[1] = 0x80 | ((c >> 6) & 0x3f) as u8;
            buf[2] = 0x80 | (c & 0x3f) as u8;
            &buf[..3]
        }
        0x10000..0x110000 => {
            buf[0] = 0xf0 | (c >> 18) as u8;
            buf[1] = 0x80 | ((c >> 12) & 0x3f) as u8;
            buf[2] = 0x80 | ((c >> 6) & 0x3f) as u8;
            buf[3] = 0x80 | (c & 0x3f) as u8;
            &buf[..4]
        }
        _ => {
            buf[0] = b'?';
            &buf[..1]
        }
    }
}

/// Writes a `PyCode` record for each code id in `frames` not yet written, through `write`
/// (called under the ring lock, before the `Stack` record that uses them: only one thread
/// at a time may call this).
pub fn emit_new_codes(frames: &[u64], write: &mut dyn FnMut(&Record)) {
    if !active() {
        return;
    }
    let generation = GENERATION.load(Relaxed);
    for &f in frames {
        let Some((id, _)) = py_frame_parts(f) else {
            continue;
        };
        if id == UNKNOWN_CODE {
            if UNKNOWN_EMITTED.load(Relaxed) != generation {
                UNKNOWN_EMITTED.store(generation, Relaxed);
                write(&Record::PyCode {
                    id: UNKNOWN_CODE,
                    first_line: 0,
                    name: b"<unknown: too many code objects>",
                    file: b"?",
                });
            }
            continue;
        }
        let i = id as usize - 1;
        if i >= CODE_SLOTS {
            continue;
        }
        let s = slot(i);
        if s.state.load(Acquire) != SLOT_READY || s.emitted.load(Relaxed) == generation {
            continue;
        }
        s.emitted.store(generation, Relaxed);
        let (at, nn, nf) = (
            s.text.load(Relaxed) as usize,
            s.name_len.load(Relaxed) as usize,
            s.file_len.load(Relaxed) as usize,
        );
        // SAFETY: the slot is READY, so its text range was written before (Release/Acquire)
        // and is never written again.
        let (name, file) = unsafe {
            let t = TEXT.load(Relaxed).add(at);
            (
                core::slice::from_raw_parts(t, nn),
                core::slice::from_raw_parts(t.add(nn), nf),
            )
        };
        write(&Record::PyCode {
            id,
            first_line: s.first_line.load(Relaxed),
            name,
            file,
        });
    }
}

/// In a fork child (from the preload's atfork child handler): the child's stream starts
/// empty, so every code record is written again before its first use there.
pub fn fork_child() {
    GENERATION.fetch_add(1, Relaxed);
}

// ---------------------------------------------------------------------------------------
// The memo: (code object, offset) → frame word, what a steady state reads.

const MEMO_SLOTS: usize = 1 << 14;

/// One memo entry: a sequence lock (odd while written) over the key and the word.
#[repr(C, align(64))]
struct Memo {
    seq: AtomicU64,
    code: AtomicU64,
    name: AtomicU64,
    file: AtomicU64,
    table: AtomicU64,
    /// First line (low half) and offset (high half).
    line_offset: AtomicU64,
    word: AtomicU64,
}

static MEMO: AtomicPtr<Memo> = AtomicPtr::new(core::ptr::null_mut());

#[inline(always)]
fn memo_slot(key: &Key, offset: i64) -> &'static Memo {
    let h = (key.code as u64 ^ (offset as u64) << 24).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let i = (h >> (64 - MEMO_SLOTS.trailing_zeros())) as usize;
    // SAFETY: MEMO maps MEMO_SLOTS zeroed entries (all-zero is a valid Memo of atomics)
    // before ACTIVE is published, never unmapped; `i < MEMO_SLOTS`.
    unsafe { &*MEMO.load(Relaxed).add(i) }
}

#[inline(always)]
fn line_offset(key: &Key, offset: i64) -> u64 {
    key.first_line as u64 | (offset as u64) << 32
}

/// The frame word memoised for `key` at `offset`, if any.
#[inline(always)]
fn memo_get(key: &Key, offset: i64) -> Option<u64> {
    let m = memo_slot(key, offset);
    let s1 = m.seq.load(Acquire);
    if s1 & 1 != 0 {
        return None;
    }
    let hit = m.code.load(Relaxed) == key.code as u64
        && m.name.load(Relaxed) == key.name as u64
        && m.file.load(Relaxed) == key.file as u64
        && m.table.load(Relaxed) == key.table as u64
        && m.line_offset.load(Relaxed) == line_offset(key, offset);
    let w = m.word.load(Relaxed);
    // The loads above happen before the sequence is read again: an entry rewritten
    // meanwhile shows another sequence.
    core::sync::atomic::fence(Acquire);
    (hit && w != 0 && m.seq.load(Relaxed) == s1).then_some(w)
}

/// Memoises `w`; skipped when another writer (another thread, or the code this signal
/// handler interrupted) holds the entry.
fn memo_put(key: &Key, offset: i64, w: u64) {
    let m = memo_slot(key, offset);
    let s = m.seq.load(Relaxed);
    if s & 1 != 0 || m.seq.compare_exchange(s, s + 1, Acquire, Relaxed).is_err() {
        return;
    }
    core::sync::atomic::fence(Release);
    m.code.store(key.code as u64, Relaxed);
    m.name.store(key.name as u64, Relaxed);
    m.file.store(key.file as u64, Relaxed);
    m.table.store(key.table as u64, Relaxed);
    m.line_offset.store(line_offset(key, offset), Relaxed);
    m.word.store(w, Relaxed);
    m.seq.store(s + 2, Release);
}

// ---------------------------------------------------------------------------------------
// Lines.

const LINE_ID_BITS: u32 = 17;
const LINE_OFF_BITS: u32 = 23;
const LINE_BITS: u32 = 24;
const _: () = assert!(LINE_ID_BITS + LINE_OFF_BITS + LINE_BITS == 64);
const _: () = assert!(CODE_SLOTS < 1 << LINE_ID_BITS);

/// The line of code `code` (id `id`) at byte `offset`, 0 when it has none.
fn line_of(ip: &Interp, id: u32, code: usize, offset: i64) -> u32 {
    let lines = LINES.load(Relaxed);
    let units = (offset.max(-1) + 2) as u64 / 2; // -1 (not started) and 0 share slot 0
    let cacheable = units < 1 << LINE_OFF_BITS;
    let key = (id as u64) << (LINE_OFF_BITS + LINE_BITS) | units << LINE_BITS;
    let idx = ((id as u64).wrapping_mul(0x9e37_79b1) ^ units.wrapping_mul(0x85eb_ca77)) as usize
        & (LINE_SLOTS - 1);
    // SAFETY: LINES maps LINE_SLOTS zeroed words before ACTIVE is published, never
    // unmapped; `idx < LINE_SLOTS`.
    let cell = unsafe { &*lines.add(idx) };
    let w = cell.load(Relaxed);
    if cacheable && w != 0 && w & !((1 << LINE_BITS) - 1) == key {
        return (w & ((1 << LINE_BITS) - 1)) as u32;
    }
    let line = decode_line(ip, code, offset);
    if cacheable && line < 1 << LINE_BITS {
        cell.store(key | line as u64, Relaxed);
    }
    line
}

fn decode_line(ip: &Interp, code: usize, offset: i64) -> u32 {
    let l = ip.layout;
    // SAFETY: `code` is a plausible code object (type checked).
    let first = unsafe { rd::<i32>(code + l.code_firstlineno) };
    let table = ptr_at(code, l.code_linetable);
    if table == 0 || ptr_at(table, OB_TYPE) != ip.bytes_type {
        return first.max(0) as u32;
    }
    // SAFETY: a `bytes` object (type checked): its size, then its bytes inline.
    let bytes = unsafe {
        let size: isize = rd(table + BYTES_SIZE);
        if !(0..1 << 28).contains(&size) {
            return first.max(0) as u32;
        }
        core::slice::from_raw_parts((table + BYTES_DATA) as *const u8, size as usize)
    };
    let line = match l.lines {
        Lines::Lnotab => lnotab_line(bytes, first, offset),
        Lines::Pep626 => pep626_line(bytes, first, offset),
        Lines::Locations => locations_line(bytes, first, offset),
    };
    line.max(0) as u32
}

/// 3.9's `PyCode_Addr2Line` over `co_lnotab`.
fn lnotab_line(t: &[u8], first: i32, offset: i64) -> i32 {
    let (mut line, mut addr) = (first, 0i64);
    for pair in t.chunks_exact(2) {
        addr += pair[0] as i64;
        if addr > offset {
            break;
        }
        line += pair[1] as i8 as i32;
    }
    line
}

/// 3.10's line ranges (`co_linetable`): the line of the range holding byte `offset`,
/// -1 for none.
fn pep626_line(t: &[u8], first: i32, offset: i64) -> i32 {
    if offset < 0 {
        return first;
    }
    let (mut line, mut end) = (first, 0i64);
    for pair in t.chunks_exact(2) {
        let start = end;
        end += pair[0] as i64;
        let delta = pair[1] as i8;
        let this = if delta == -128 {
            -1
        } else {
            line += delta as i32;
            line
        };
        if start <= offset && offset < end {
            return this;
        }
    }
    -1
}

/// 3.11+'s location table: the line of the entry holding byte `offset`, -1 for none.
fn locations_line(t: &[u8], first: i32, offset: i64) -> i32 {
    if offset < 0 {
        return first;
    }
    let (mut line, mut end, mut i) = (first, 0i64, 0usize);
    while i < t.len() {
        let b = t[i];
        let code = (b >> 3) & 15;
        let delta = match code {
            14 | 13 => signed_varint(&t[i + 1..]),
            11 => 1,
            12 => 2,
            _ => 0,
        };
        line += delta;
        let start = end;
        end += ((b & 7) as i64 + 1) * 2;
        if start <= offset && offset < end {
            return if code == 15 { -1 } else { line };
        }
        i += 1;
        while i < t.len() && t[i] & 0x80 == 0 {
            i += 1;
        }
    }
    -1
}

fn signed_varint(t: &[u8]) -> i32 {
    let (mut val, mut shift) = (0u32, 0u32);
    for &b in t.iter().take(6) {
        val |= ((b & 63) as u32) << shift;
        shift += 6;
        if b & 64 == 0 {
            break;
        }
    }
    if val & 1 != 0 {
        -((val >> 1) as i32)
    } else {
        (val >> 1) as i32
    }
}

// ---------------------------------------------------------------------------------------
// A diagnostic entry point for tests.

/// Test and diagnostic entry point, not part of the region API: renders the calling
/// thread's current stack as [`splice`] sees it into `buf` (at most `cap` bytes), one line
/// per item: `code\t<id>\t<first line>\t<name>\t<file>` for each code record
/// [`emit_new_codes`] writes (so each code appears once per process), then
/// `py\t<id>\t<line>` for a Python frame or `c\t<hex address>` for a native one, innermost
/// first. Returns the bytes written, or 0 when Python frames are not read here (then
/// `inactive: <reason>` is written). Not for use while another thread calls it.
///
/// `flags` bit 0 leaves the innermost eval-loop return address out of the native stack
/// before splicing, as an unrecognised cold part of the eval loop would.
///
/// # Safety
/// `buf` must be writable for `cap` bytes.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub unsafe extern "C" fn benchmem_debug_python_stack(
    buf: *mut u8,
    cap: usize,
    flags: u32,
) -> usize {
    if buf.is_null() {
        return 0;
    }
    // SAFETY: the caller's contract.
    let out = unsafe { core::slice::from_raw_parts_mut(buf, cap) };
    let mut w = Writer { out, n: 0 };
    if !active() {
        w.put(b"inactive: ");
        w.put(inactive_reason().unwrap_or("not initialised").as_bytes());
        w.put(b"\n");
        return 0;
    }
    let _g = tls::Guard::enter();
    let mut raw = [core::ptr::null_mut::<c_void>(); 128];
    // SAFETY: `raw` holds 128 entries; backtrace may allocate (the guard is raised).
    let got = unsafe { libc::backtrace(raw.as_mut_ptr(), raw.len() as c_int) }.max(0) as usize;
    let mut native = [0u64; 128];
    for (d, s) in native.iter_mut().zip(&raw[..got]) {
        *d = *s as u64;
    }
    let mut buf = [MaybeUninit::new(0u64); 256];
    let mut got = got;
    if flags & 1 != 0
        && let Some(ip) = interp()
        && let Some(i) = native[..got].iter().position(|&a| in_eval(ip, a))
    {
        native.copy_within(i + 1..got, i);
        got -= 1;
    }
    let n = splice(&native[..got], &mut buf);
    // SAFETY: every word was initialised, to zero above or by splice.
    let spliced = buf.map(|w| unsafe { w.assume_init() });
    emit_new_codes(&spliced[..n], &mut |rec| {
        if let Record::PyCode {
            id,
            first_line,
            name,
            file,
        } = *rec
        {
            w.put(b"code\t");
            w.dec(id as u64);
            w.put(b"\t");
            w.dec(first_line as u64);
            w.put(b"\t");
            w.put(name);
            w.put(b"\t");
            w.put(file);
            w.put(b"\n");
        }
    });
    for &f in &spliced[..n] {
        match py_frame_parts(f) {
            Some((id, line)) => {
                w.put(b"py\t");
                w.dec(id as u64);
                w.put(b"\t");
                w.dec(line as u64);
            }
            None => {
                w.put(b"c\t0x");
                w.hex(f);
            }
        }
        w.put(b"\n");
    }
    w.n
}

/// Appends to a byte buffer, cutting what does not fit.
struct Writer<'a> {
    out: &'a mut [u8],
    n: usize,
}

impl Writer<'_> {
    fn put(&mut self, b: &[u8]) {
        self.n += copy_cut(b, &mut self.out[self.n..]);
    }
    fn dec(&mut self, v: u64) {
        let mut b = [0u8; 20];
        let k = benchmem_wire::names::write_decimal(v, &mut b);
        self.put(&b[..k]);
    }
    fn hex(&mut self, v: u64) {
        let mut b = [0u8; 16];
        let digits = (64 - v.leading_zeros()).div_ceil(4).max(1) as usize;
        for (i, d) in b[..digits].iter_mut().enumerate() {
            let nib = (v >> (4 * (digits - 1 - i))) & 15;
            *d = b"0123456789abcdef"[nib as usize];
        }
        self.put(&b[..digits]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;
    use std::string::String;
    use std::vec::Vec;

    /// Compiles source meant to exercise every kind of line-table entry (lines going back
    /// in loops, multi-line expressions, instructions without a line, jumps of hundreds of
    /// lines, long runs of instructions on one line) and prints, for each code object:
    /// `minor first_line table_hex line,line,...` with the line CPython itself gives each
    /// code unit (-1 for none).
    const DUMP: &str = r#"
import sys, dis
src = '''
def f(a):
    x = [i for i in range(a)]
    for i in x:
        if i % 2:
            a += (i *
                  2)
        else:
            try:
                a -= 1
            except Exception:
                pass
    with open(__file__) as fh:
        pass
    return a
class C:
    def m(self):
        return lambda y: (y,
           self)
''' + "\n" * 300 + "def g():\n" + "    y = 1\n" * 400 + "    return (1,\n" + "\n" * 200 + "    2)\n" \
    + "def h():\n    return [\n" + "".join("        %d,\n" % i for i in range(150)) + "    ]\n"
top = compile(src, "lines.py", "exec")
def walk(c):
    yield c
    for k in c.co_consts:
        if hasattr(k, "co_code"):
            yield from walk(k)
minor = sys.version_info[1]
for c in walk(top):
    n = len(c.co_code) // 2
    lines = [-1] * n
    if minor >= 10:
        table = c.co_linetable
        for start, end, line in c.co_lines():
            for u in range(start // 2, end // 2):
                lines[u] = -1 if line is None else line
    else:
        table = c.co_lnotab
        starts = dict(dis.findlinestarts(c))
        cur = c.co_firstlineno
        for u in range(n):
            cur = starts.get(2 * u, cur)
            lines[u] = cur
    print(minor, c.co_firstlineno, table.hex() or "-", ",".join(map(str, lines)))
"#;

    fn pythons() -> Vec<String> {
        match std::env::var("BENCHMEM_TEST_PYTHONS") {
            Ok(v) => v
                .split(':')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            Err(_) => std::vec![String::from("python3")],
        }
    }

    fn hex(s: &str) -> Vec<u8> {
        if s == "-" {
            return Vec::new();
        }
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    /// The decoders give every code unit of every code object the line CPython gives it,
    /// for each interpreter of `BENCHMEM_TEST_PYTHONS` (colon-separated; default python3).
    #[test]
    fn line_tables_decode_as_cpython_does() {
        for py in pythons() {
            let out = Command::new(&py)
                .args(["-c", DUMP])
                .output()
                .unwrap_or_else(|e| panic!("cannot run {py}: {e}"));
            assert!(
                out.status.success(),
                "{py}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let text = String::from_utf8(out.stdout).unwrap();
            let (mut codes, mut units) = (0, 0);
            for row in text.lines() {
                let f: Vec<&str> = row.split(' ').collect();
                let (minor, first): (u32, i32) = (f[0].parse().unwrap(), f[1].parse().unwrap());
                let table = hex(f[2]);
                let decode = match minor {
                    9 => lnotab_line,
                    10 => pep626_line,
                    11..=13 => locations_line,
                    _ => panic!("{py}: no decoder for 3.{minor}"),
                };
                for (u, want) in f[3].split(',').enumerate() {
                    let want: i32 = want.parse().unwrap();
                    let got = decode(&table, first, 2 * u as i64);
                    assert_eq!(got, want, "{py}: code at line {first}, unit {u}");
                    units += 1;
                }
                codes += 1;
            }
            // f, C, m, the lambda, g, h and the module (and f's comprehension before 3.12).
            assert!(codes >= 7, "{py}: only {codes} code objects");
            assert!(units > 800, "{py}: only {units} code units");
        }
    }

    #[test]
    fn locations_varints_and_no_line_entries() {
        // first line 100; entry 1: long form (14), 1 unit, line delta +70 (varint 140 =
        // 0b10_001100: low 6 bits with the continuation bit, then 2), end line, columns;
        // entry 2: no location (15), 2 units; entry 3: one-line form +2 (12), 3 units.
        let t = [
            0x80 | 14 << 3,
            0x40 | (140 & 63),
            140 >> 6,
            0,
            1,
            2,
            0x80 | 15 << 3 | 1,
            0x80 | 12 << 3 | 2,
            3,
            4,
        ];
        let lines: Vec<i32> = (0..7).map(|u| locations_line(&t, 100, 2 * u)).collect();
        assert_eq!(lines, [170, -1, -1, 172, 172, 172, -1]);
        assert_eq!(locations_line(&t, 100, -2), 100);
    }

    #[test]
    fn strings_encode_as_utf8() {
        let mut b = [0u8; 4];
        assert_eq!(encode_utf8('é' as u32, &mut b), "é".as_bytes());
        assert_eq!(encode_utf8('漢' as u32, &mut b), "漢".as_bytes());
        assert_eq!(encode_utf8('🐍' as u32, &mut b), "🐍".as_bytes());
        assert_eq!(encode_utf8(0x11_0000, &mut b), b"?");
        let mut out = [0u8; 3];
        assert_eq!(copy_utf8_cut("aé".as_bytes(), &mut out[..2]), 1);
        assert_eq!(copy_utf8_cut("aé".as_bytes(), &mut out), 3);
    }

    #[test]
    fn every_layout_is_one_version() {
        for (i, l) in LAYOUTS.iter().enumerate() {
            assert_eq!(l.minor, 9 + i as u32);
        }
    }
}
