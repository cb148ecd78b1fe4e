//! Walking the current thread's stack inside a hook: DWARF call frame information from
//! `.eh_frame_hdr`/`.eh_frame`, no malloc, no lock, no fault.
//!
//! Only the rules compilers emit for ordinary x86-64 code are understood: the CFA is
//! `rsp + N` or `rbp + N`, the return address is saved at `CFA - 8`, `rbp` is saved at
//! `CFA + K` or kept. Anything else (an expression, a signal frame, a register saved in
//! another register, no FDE for the address) ends the walk there: a stack cut short is
//! still a correct prefix, where a guess could be a wrong one.
//!
//! Each address's rule is found once and kept in a direct-mapped cache of validated
//! entries (the tag is the address xor the rule, so a torn pair fails validation), so a
//! walk in steady state costs a cache probe and one or two loads per frame. Every load
//! from the stack is bounded to the part of the thread's stack above the capture point
//! (`[lo, hi)`, which the caller knows to be mapped), and every load from `.eh_frame` to
//! the loaded segment that holds it.

use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::modules;

/// DWARF register numbers (x86-64 psABI); the return address column is the CIE's.
const RBP: u64 = 6;
const RSP: u64 = 7;

/// Registers at the capture point.
#[derive(Clone, Copy, Debug)]
pub struct Regs {
    /// An address inside the capturing function.
    pub pc: u64,
    /// Its stack pointer there.
    pub sp: u64,
    /// Its frame pointer register there (whatever it holds).
    pub bp: u64,
}

/// The registers of the caller's own frame, at this point of it.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub fn capture() -> Regs {
    let (pc, sp, bp): (u64, u64, u64);
    // SAFETY: reads rip (by address), rsp and rbp; touches no memory.
    unsafe {
        core::arch::asm!(
            "lea {pc}, [rip]",
            "mov {sp}, rsp",
            "mov {bp}, rbp",
            pc = out(reg) pc,
            sp = out(reg) sp,
            bp = out(reg) bp,
            options(nomem, nostack, preserves_flags),
        );
    }
    Regs { pc, sp, bp }
}

/// A frame's rule, packed into one word (0: not known).
///
/// Bits 0..8 flags, 8..16 `rbp`'s slot offset from the CFA in words (signed), 16..32 the
/// return address's offset from the CFA in bytes (signed), 32..64 the CFA's offset from
/// its base register (signed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rule(u64);

const VALID: u64 = 1;
/// The walk ends at this address.
const STOP: u64 = 2;
/// The CFA is `rbp + off` (else `rsp + off`).
const CFA_BP: u64 = 4;
/// `rbp` is saved in this frame.
const BP_SAVED: u64 = 8;
/// Where every frame the walk follows saved its return address, from its CFA.
const RA_OFF: i64 = -8;

impl Rule {
    const STOP: Rule = Rule(VALID | STOP);

    fn new(cfa_bp: bool, cfa_off: i64, ra_off: i64, bp_off: Option<i64>) -> Rule {
        // The walk reads the return address at `CFA - 8` without decoding its offset:
        // the only place the x86-64 ABI puts it outside signal frames.
        let fits = i32::try_from(cfa_off).is_ok()
            && ra_off == RA_OFF
            && bp_off.is_none_or(|o| o % 8 == 0 && i8::try_from(o / 8).is_ok());
        if !fits {
            return Rule::STOP;
        }
        let mut w =
            VALID | ((ra_off as i16 as u16 as u64) << 16) | ((cfa_off as i32 as u32 as u64) << 32);
        if cfa_bp {
            w |= CFA_BP;
        }
        if let Some(o) = bp_off {
            w |= BP_SAVED | ((o / 8) as i8 as u8 as u64) << 8;
        }
        Rule(w)
    }
    #[cfg(test)]
    fn stop(self) -> bool {
        self.0 & STOP != 0
    }
    #[cfg(test)]
    fn cfa_bp(self) -> bool {
        self.0 & CFA_BP != 0
    }
    #[cfg(test)]
    fn cfa_off(self) -> i64 {
        (self.0 >> 32) as u32 as i32 as i64
    }
    #[cfg(test)]
    fn ra_off(self) -> i64 {
        (self.0 >> 16) as u16 as i16 as i64
    }
    #[cfg(test)]
    fn bp_off(self) -> Option<i64> {
        (self.0 & BP_SAVED != 0).then(|| ((self.0 >> 8) as u8 as i8 as i64) * 8)
    }
}

// ---------------------------------------------------------------------------------------
// The cache.

const CACHE_BITS: u32 = 14;
const CACHE: usize = 1 << CACHE_BITS;

struct Entry {
    /// `pc ^ rule`: an entry is valid for `pc` when this matches.
    tag: AtomicU64,
    rule: AtomicU64,
}

static RULES: [Entry; CACHE] = [const {
    Entry {
        tag: AtomicU64::new(0),
        rule: AtomicU64::new(0),
    }
}; CACHE];

#[inline(always)]
fn slot(pc: u64) -> &'static Entry {
    let h = pc.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - CACHE_BITS);
    &RULES[h as usize]
}

/// The rule of the frame whose code is at `pc` (a return address less one, or the
/// capture point itself).
#[inline(always)]
fn rule(pc: u64) -> Rule {
    let e = slot(pc);
    let r = e.rule.load(Relaxed);
    // No test for an empty slot: both words zero match no pc (never 0), and a rule of
    // 0 read while the slot is cleared is not VALID, which ends the walk.
    if e.tag.load(Relaxed) ^ r == pc {
        return Rule(r);
    }
    rule_slow(pc)
}

#[cold]
#[inline(never)]
fn rule_slow(pc: u64) -> Rule {
    let r = match modules::eh_frame_for(pc) {
        Some(m) => find_rule(&m, pc).unwrap_or(Rule::STOP),
        // An address in no object known to the loader (JIT code, a corrupt frame): not
        // cached, an object may be loaded there later.
        None => return Rule::STOP,
    };
    let e = slot(pc);
    // The tag is cleared first so that a reader never pairs the new rule with the old
    // tag of this slot, or the old rule with the new tag (the xor would have to match).
    e.tag.store(0, Relaxed);
    e.rule.store(r.0, Relaxed);
    e.tag.store(pc ^ r.0, Relaxed);
    r
}

/// Forgets every cached rule: an object was loaded where another was, whose code's
/// rules no longer hold there.
pub fn clear_cache() {
    for e in &RULES {
        e.rule.store(0, Relaxed);
        e.tag.store(0, Relaxed);
    }
}

// ---------------------------------------------------------------------------------------
// The walk.

/// Writes the return addresses of the stack whose innermost frame `regs` describes into
/// `out` (innermost first), leaving out frames whose address is in `[skip_lo, skip_hi)`
/// (the preload's own code); returns how many. Stack loads stay in `[lo, hi)`.
///
/// # Safety
/// `[lo, hi)` is mapped and readable for the whole call (the current thread's stack,
/// from the capture point up), and `regs` were captured on this thread in a frame that
/// is still live.
pub unsafe fn walk(
    regs: Regs,
    lo: u64,
    hi: u64,
    skip: (u64, u64),
    out: &mut [MaybeUninit<u64>],
) -> usize {
    if hi < lo || hi - lo < 8 {
        return 0;
    }
    // One unsigned compare bounds a load: `at - lo` wraps above `span` below `lo` too.
    let span = hi - 8 - lo;
    let read = |at: u64| -> Option<u64> {
        if at.wrapping_sub(lo) > span {
            return None;
        }
        // SAFETY: [at, at + 8) is inside [lo, hi), mapped and readable (the caller's
        // contract).
        Some(unsafe { (at as *const u64).read_unaligned() })
    };
    // One frame up: `key` is the address whose rule applies. Frames only ever move up
    // the stack; anything else is a corrupt frame and ends the walk. The rule's fields
    // are decoded from its word in place (shifts of the signed word), the return
    // address's offset being always `RA_OFF`.
    let step = |key: u64, sp: u64, bp: &mut u64| -> Option<(u64, u64)> {
        let r = rule(key).0;
        if r & (STOP | VALID) != VALID {
            return None;
        }
        let base = if r & CFA_BP != 0 { *bp } else { sp };
        let cfa = base.wrapping_add(((r as i64) >> 32) as u64);
        let ra = read(cfa.wrapping_add(RA_OFF as u64))?;
        if r & BP_SAVED != 0 {
            let off = (((r << 48) as i64) >> 56) << 3;
            *bp = read(cfa.wrapping_add(off as u64))?;
        }
        (cfa > sp && ra >= 4096).then_some((ra, cfa))
    };
    let (mut pc, mut sp, mut bp) = (regs.pc, regs.sp, regs.bp);
    // The capture point's own rule is at its address; every later frame's at the call
    // before its return address (`pc - 1`).
    let mut key = pc;
    // The preload's own frames come first, and are few.
    let mut own = 0;
    while pc >= skip.0 && pc < skip.1 {
        own += 1;
        if own > 16 {
            return 0;
        }
        let Some(next) = step(key, sp, &mut bp) else {
            return 0;
        };
        (pc, sp) = next;
        key = pc - 1;
    }
    let mut n = 0;
    while n < out.len() {
        out[n].write(pc);
        n += 1;
        let Some(next) = step(key, sp, &mut bp) else {
            break;
        };
        (pc, sp) = next;
        key = pc - 1;
    }
    n
}

// ---------------------------------------------------------------------------------------
// Reading call frame information.

/// Where one object's unwind tables are, and the memory they may be read from.
#[derive(Clone, Copy, Debug)]
pub struct EhFrame {
    /// Address of `.eh_frame_hdr`.
    pub hdr: u64,
    /// The loaded segment that holds it (and `.eh_frame`): `[lo, hi)`.
    pub lo: u64,
    /// See `lo`.
    pub hi: u64,
}

/// Bounded reads of a segment's memory.
struct Cursor {
    at: u64,
    lo: u64,
    hi: u64,
}

impl Cursor {
    fn bytes<const N: usize>(&mut self) -> Option<[u8; N]> {
        let end = self.at.checked_add(N as u64)?;
        if self.at < self.lo || end > self.hi {
            return None;
        }
        // SAFETY: [at, at + N) lies in the segment, which is mapped and readable.
        let v = unsafe { (self.at as *const [u8; N]).read_unaligned() };
        self.at = end;
        Some(v)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.bytes::<1>()?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.bytes()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.bytes()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.bytes()?))
    }
    fn uleb(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    fn sleb(&mut self) -> Option<i64> {
        let mut v = 0i64;
        let mut shift = 0;
        loop {
            let b = self.u8()?;
            if shift < 64 {
                v |= ((b & 0x7f) as i64) << shift;
            }
            shift += 7;
            if b & 0x80 == 0 {
                if shift < 64 && b & 0x40 != 0 {
                    v |= -1i64 << shift;
                }
                return Some(v);
            }
            if shift > 70 {
                return None;
            }
        }
    }
    /// A pointer in encoding `enc` (`DW_EH_PE_*`); `data` is the base of `datarel`.
    fn pointer(&mut self, enc: u8, data: u64) -> Option<u64> {
        if enc == 0xff {
            return None;
        }
        let here = self.at;
        let v = match enc & 0x0f {
            0x00 => self.u64()?,
            0x01 => self.uleb()?,
            0x02 => self.u16()? as u64,
            0x03 => self.u32()? as u64,
            0x04 => self.u64()?,
            0x09 => self.sleb()? as u64,
            0x0a => self.u16()? as i16 as i64 as u64,
            0x0b => self.u32()? as i32 as i64 as u64,
            0x0c => self.u64()?,
            _ => return None,
        };
        let base = match enc & 0x70 {
            0x00 => 0,
            0x10 => here,
            0x30 => data,
            _ => return None,
        };
        // An indirect pointer (0x80) would need a load from anywhere: not supported.
        if enc & 0x80 != 0 {
            return None;
        }
        Some(v.wrapping_add(base))
    }
    /// Skips a pointer in encoding `enc`.
    fn skip_pointer(&mut self, enc: u8) -> Option<()> {
        if enc == 0xff {
            return Some(());
        }
        match enc & 0x0f {
            0x00 | 0x04 | 0x0c => self.at += 8,
            0x01 => {
                self.uleb()?;
            }
            0x09 => {
                self.sleb()?;
            }
            0x02 | 0x0a => self.at += 2,
            0x03 | 0x0b => self.at += 4,
            _ => return None,
        }
        Some(())
    }
}

/// What a CIE says about the FDEs that use it.
struct Cie {
    code_align: u64,
    data_align: i64,
    ra_reg: u64,
    fde_enc: u8,
    has_aug: bool,
    instructions: (u64, u64),
}

/// The rule of `pc` from `m`'s tables, or None when there is none we understand.
fn find_rule(m: &EhFrame, pc: u64) -> Option<Rule> {
    let mut c = Cursor {
        at: m.hdr,
        lo: m.lo,
        hi: m.hi,
    };
    if c.u8()? != 1 {
        return None;
    }
    let (ptr_enc, count_enc, table_enc) = (c.u8()?, c.u8()?, c.u8()?);
    c.pointer(ptr_enc, m.hdr)?;
    let count = c.pointer(count_enc, m.hdr)?;
    // Every linker writes the table as pairs of 4-byte offsets from the header.
    if table_enc != 0x3b || count == 0 || count > (m.hi - c.at) / 8 {
        return None;
    }
    let table = c.at;
    let rel = pc.wrapping_sub(m.hdr) as i64;
    let entry = |i: u64| -> Option<(i64, i64)> {
        let mut t = Cursor {
            at: table + i * 8,
            lo: m.lo,
            hi: m.hi,
        };
        Some((t.u32()? as i32 as i64, t.u32()? as i32 as i64))
    };
    // The last entry whose start is at or before pc.
    let (mut a, mut b) = (0u64, count);
    while b - a > 1 {
        let mid = a + (b - a) / 2;
        if entry(mid)?.0 <= rel {
            a = mid;
        } else {
            b = mid;
        }
    }
    let (start, fde) = entry(a)?;
    if start > rel {
        return None;
    }
    fde_rule(m, m.hdr.wrapping_add(fde as u64), pc)
}

/// The rule for `pc` from the FDE at `fde`.
fn fde_rule(m: &EhFrame, fde: u64, pc: u64) -> Option<Rule> {
    let mut c = Cursor {
        at: fde,
        lo: m.lo,
        hi: m.hi,
    };
    let (len, _) = length(&mut c)?;
    let end = c.at.checked_add(len)?;
    let id_at = c.at;
    let cie_off = c.u32()? as u64;
    if cie_off == 0 {
        return None; // a CIE, not an FDE
    }
    let cie = parse_cie(m, id_at.checked_sub(cie_off)?)?;
    let begin = c.pointer(cie.fde_enc, m.hdr)?;
    let range = c.pointer(cie.fde_enc & 0x0f, 0)?;
    if pc < begin || pc >= begin.wrapping_add(range) {
        return None;
    }
    if cie.has_aug {
        let n = c.uleb()?;
        c.at = c.at.checked_add(n)?;
    }
    let mut st = State::initial();
    run(m, &cie, cie.instructions, u64::MAX, 0, &mut st, None)?;
    let init = st;
    run(m, &cie, (c.at, end), pc, begin, &mut st, Some(&init))?;
    st.rule(cie.ra_reg)
}

/// A length field: 4 bytes, or 12 for the 64-bit form. The length and the cursor after it.
fn length(c: &mut Cursor) -> Option<(u64, u64)> {
    let l = c.u32()?;
    let len = if l == 0xffff_ffff { c.u64()? } else { l as u64 };
    if len == 0 || len > c.hi - c.at {
        return None;
    }
    Some((len, c.at))
}

fn parse_cie(m: &EhFrame, at: u64) -> Option<Cie> {
    let mut c = Cursor {
        at,
        lo: m.lo,
        hi: m.hi,
    };
    let (len, _) = length(&mut c)?;
    let end = c.at.checked_add(len)?;
    if c.u32()? != 0 {
        return None;
    }
    let version = c.u8()?;
    let mut aug = [0u8; 8];
    let mut n = 0;
    loop {
        let b = c.u8()?;
        if b == 0 {
            break;
        }
        if n == aug.len() {
            return None;
        }
        aug[n] = b;
        n += 1;
    }
    let aug = &aug[..n];
    let code_align = c.uleb()?;
    let data_align = c.sleb()?;
    let ra_reg = if version == 1 {
        c.u8()? as u64
    } else {
        c.uleb()?
    };
    let mut fde_enc = 0u8;
    let has_aug = aug.first() == Some(&b'z');
    if has_aug {
        let n = c.uleb()?;
        let after = c.at.checked_add(n)?;
        for &a in &aug[1..] {
            match a {
                b'R' => fde_enc = c.u8()?,
                b'L' => {
                    c.u8()?;
                }
                b'P' => {
                    let e = c.u8()?;
                    c.skip_pointer(e & 0x7f)?;
                }
                // A signal frame: its registers are in a sigcontext, not understood here.
                b'S' => return None,
                _ => return None,
            }
        }
        c.at = after;
    } else if !aug.is_empty() {
        return None;
    }
    Some(Cie {
        code_align,
        data_align,
        ra_reg,
        fde_enc,
        has_aug,
        instructions: (c.at, end),
    })
}

/// How one register is recovered.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reg {
    /// Unchanged from the inner frame (also `same_value`).
    Same,
    /// Not recoverable (`undefined`): for the return address, the end of the stack.
    Undefined,
    /// Saved at `CFA + off`.
    At(i64),
    /// Anything else (in a register, an expression, CFA-relative value).
    Other,
}

#[derive(Clone, Copy)]
struct State {
    cfa_reg: u64,
    cfa_off: i64,
    /// False once the CFA is an expression.
    cfa_ok: bool,
    bp: Reg,
    ra: Reg,
}

impl State {
    fn initial() -> State {
        State {
            cfa_reg: RSP,
            cfa_off: 8,
            cfa_ok: true,
            bp: Reg::Same,
            ra: Reg::Same,
        }
    }
    fn set(&mut self, reg: u64, ra_reg: u64, v: Reg) {
        if reg == RBP {
            self.bp = v;
        } else if reg == ra_reg {
            self.ra = v;
        }
    }
    fn rule(&self, _ra_reg: u64) -> Option<Rule> {
        if !self.cfa_ok || (self.cfa_reg != RSP && self.cfa_reg != RBP) {
            return None;
        }
        let ra = match self.ra {
            Reg::At(o) => o,
            Reg::Undefined => return Some(Rule::STOP),
            _ => return None,
        };
        let bp = match self.bp {
            Reg::At(o) => Some(o),
            Reg::Same => None,
            _ => return None,
        };
        Some(Rule::new(self.cfa_reg == RBP, self.cfa_off, ra, bp))
    }
}

/// Runs call frame instructions in `range` until the location passes `pc`.
/// `init` is the state after the CIE's instructions (for `restore`).
fn run(
    m: &EhFrame,
    cie: &Cie,
    range: (u64, u64),
    pc: u64,
    start: u64,
    st: &mut State,
    init: Option<&State>,
) -> Option<()> {
    let mut c = Cursor {
        at: range.0,
        lo: m.lo,
        hi: range.1.min(m.hi),
    };
    let mut loc = start;
    let mut saved = [State::initial(); 8];
    let mut depth = 0usize;
    let ra_reg = cie.ra_reg;
    let restore = |st: &mut State, reg: u64| {
        if let Some(i) = init {
            if reg == RBP {
                st.bp = i.bp;
            } else if reg == ra_reg {
                st.ra = i.ra;
            }
        }
    };
    while c.at < c.hi {
        let op = c.u8()?;
        let advance = |loc: &mut u64, delta: u64| -> bool {
            *loc = loc.wrapping_add(delta.wrapping_mul(cie.code_align));
            *loc > pc
        };
        match op >> 6 {
            1 => {
                if advance(&mut loc, (op & 0x3f) as u64) {
                    return Some(());
                }
                continue;
            }
            2 => {
                let off = c.uleb()? as i64 * cie.data_align;
                st.set((op & 0x3f) as u64, ra_reg, Reg::At(off));
                continue;
            }
            3 => {
                restore(st, (op & 0x3f) as u64);
                continue;
            }
            _ => {}
        }
        match op {
            0x00 => {}
            0x01 => {
                loc = c.pointer(cie.fde_enc, m.hdr)?;
                if loc > pc {
                    return Some(());
                }
            }
            0x02 => {
                let d = c.u8()? as u64;
                if advance(&mut loc, d) {
                    return Some(());
                }
            }
            0x03 => {
                let d = c.u16()? as u64;
                if advance(&mut loc, d) {
                    return Some(());
                }
            }
            0x04 => {
                let d = c.u32()? as u64;
                if advance(&mut loc, d) {
                    return Some(());
                }
            }
            0x05 => {
                let r = c.uleb()?;
                let off = c.uleb()? as i64 * cie.data_align;
                st.set(r, ra_reg, Reg::At(off));
            }
            0x06 => {
                let r = c.uleb()?;
                restore(st, r);
            }
            0x07 => {
                let r = c.uleb()?;
                st.set(r, ra_reg, Reg::Undefined);
            }
            0x08 => {
                let r = c.uleb()?;
                st.set(r, ra_reg, Reg::Same);
            }
            0x09 => {
                let r = c.uleb()?;
                c.uleb()?;
                st.set(r, ra_reg, Reg::Other);
            }
            0x0a => {
                if depth == saved.len() {
                    return None;
                }
                saved[depth] = *st;
                depth += 1;
            }
            0x0b => {
                if depth == 0 {
                    return None;
                }
                depth -= 1;
                // The CFA is not part of the remembered state's restore in practice
                // (GCC re-states it), but DWARF says the whole row is restored.
                *st = saved[depth];
            }
            0x0c => {
                st.cfa_reg = c.uleb()?;
                st.cfa_off = c.uleb()? as i64;
                st.cfa_ok = true;
            }
            0x0d => {
                st.cfa_reg = c.uleb()?;
            }
            0x0e => {
                st.cfa_off = c.uleb()? as i64;
            }
            0x0f => {
                let n = c.uleb()?;
                c.at = c.at.checked_add(n)?;
                st.cfa_ok = false;
            }
            0x10 | 0x16 => {
                let r = c.uleb()?;
                let n = c.uleb()?;
                c.at = c.at.checked_add(n)?;
                st.set(r, ra_reg, Reg::Other);
            }
            0x11 => {
                let r = c.uleb()?;
                let off = c.sleb()? * cie.data_align;
                st.set(r, ra_reg, Reg::At(off));
            }
            0x12 => {
                st.cfa_reg = c.uleb()?;
                st.cfa_off = c.sleb()? * cie.data_align;
                st.cfa_ok = true;
            }
            0x13 => {
                st.cfa_off = c.sleb()? * cie.data_align;
            }
            0x14 => {
                let r = c.uleb()?;
                c.uleb()?;
                st.set(r, ra_reg, Reg::Other);
            }
            0x15 => {
                let r = c.uleb()?;
                c.sleb()?;
                st.set(r, ra_reg, Reg::Other);
            }
            0x2e => {
                c.uleb()?;
            }
            0x2f => {
                let r = c.uleb()?;
                let off = -(c.uleb()? as i64) * cie.data_align;
                st.set(r, ra_reg, Reg::At(off));
            }
            _ => return None,
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_pack_and_unpack() {
        let r = Rule::new(true, 16, -8, Some(-16));
        assert!(r.cfa_bp() && !r.stop());
        assert_eq!((r.cfa_off(), r.ra_off(), r.bp_off()), (16, -8, Some(-16)));
        let r = Rule::new(false, 123_456, -8, None);
        assert_eq!((r.cfa_off(), r.bp_off()), (123_456, None));
        assert!(
            Rule::new(false, 8, -8, Some(-12)).stop(),
            "rbp slot not a word"
        );
        assert!(Rule::new(false, 1 << 40, -8, None).stop());
    }

    #[test]
    fn leb128() {
        let bytes = [0xe5u8, 0x8e, 0x26, 0x7f, 0x80, 0x7f];
        let p = bytes.as_ptr() as u64;
        let mut c = Cursor {
            at: p,
            lo: p,
            hi: p + bytes.len() as u64,
        };
        assert_eq!(c.uleb(), Some(624_485));
        assert_eq!(c.sleb(), Some(-1));
        assert_eq!(c.sleb(), Some(-128));
        assert_eq!(c.u8(), None, "reads stop at the bound");
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(never)]
    fn depth(n: u32, out: &mut [MaybeUninit<u64>]) -> usize {
        if n == 0 {
            let regs = capture();
            let sp = regs.sp;
            // The test thread's stack: its whole mapping holds the frames above.
            let (_, hi) = crate::stacks::stack_bounds(sp).expect("a stack mapping");
            crate::modules::init();
            // SAFETY: [sp, hi) is this thread's stack, above the capture point.
            return unsafe { walk(regs, sp, hi, (0, 0), out) };
        }
        let r = depth(n - 1, out);
        core::hint::black_box(r)
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn walks_this_test_through_recursion() {
        clear_cache();
        let mut buf = [MaybeUninit::new(0u64); 64];
        let n = depth(5, &mut buf);
        // SAFETY: all initialised.
        let out: [u64; 64] = unsafe { core::mem::transmute(buf) };
        // The capture point, the five returns into `depth` from its recursive calls,
        // then the test function, the test harness and the thread's start in libc.
        assert!(n >= 8, "{n} frames: {:x?}", &out[..n]);
        let d = depth as *const () as u64;
        let inside = |pc: u64| pc > d && pc < d + 4096;
        assert!(
            out[..6].iter().all(|&pc| inside(pc)) && !inside(out[6]),
            "{:x?} {d:x}",
            &out[..n]
        );
        assert!(
            out[1..6].iter().all(|&pc| pc == out[1]),
            "one return address"
        );
        let t = walks_this_test_through_recursion as *const () as u64;
        assert!(out[6] > t && out[6] < t + 4096, "then the test function");
        // Cached: the same walk again (from another call in this function) finds the
        // same frames.
        let mut buf = [MaybeUninit::new(0u64); 64];
        let m = depth(5, &mut buf);
        // SAFETY: all initialised.
        let again: [u64; 64] = unsafe { core::mem::transmute(buf) };
        assert_eq!(&out[1..6], &again[1..6]);
        assert_ne!(out[6], again[6]);
        assert_eq!(&out[7..n], &again[7..m]);
    }
}
