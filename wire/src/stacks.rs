//! The stack stream: what a process image under `--stacks` tells the launcher so it can
//! attribute each region's memory to call stacks.
//!
//! Each process image writes one ring of records into a `MAP_SHARED` file beside its
//! state file ([`stacks_file_name`]): a [`RingHeader`] page, then `capacity` bytes of
//! records. The program is the only producer and the launcher the only consumer; the
//! launcher drains the ring while the program runs and once more after it ended (the file
//! survives `SIGKILL` as the state file does).
//!
//! # Records
//!
//! A record is a whole number of little-endian `u64` words and never wraps around the end
//! of the ring (the producer fills the rest of the ring with one [`Kind::Pad`] record
//! first). Word 0 is the header: bits 0..8 the [`Kind`], bits 8..32 the record's length
//! in words (header included, at least 1), bits 32..64 a 32-bit argument whose meaning
//! depends on the kind. Byte strings are packed into whole words, zero-padded.
//!
//! # Order, and what the launcher computes from it
//!
//! Records appear in the order the preload applied them to its own counters, across all
//! threads of the process: replaying them reproduces every region's figures exactly.
//! - An allocation is stamped with the epoch of the latest [`Record::Process`] or
//!   [`Record::RegionBegin`] before it (the preload's epoch at that moment).
//! - For a region `R` open between its begin and end records: `allocations` and
//!   `total_bytes` count the [`Record::Alloc`]s in between; a [`Record::Free`] whose epoch
//!   is not before `R`'s begin epoch (wrapping comparison, as [`crate::state`]'s) lowers
//!   `live(R)`, an older one does not; `peak_bytes = max live(R)`; `retained_bytes` is
//!   `live(R)` at the end. A free whose epoch is before the process's base epoch (memory
//!   of a fork parent) lowers nothing.
//! - Stack ids are dense per process image, from 1; id 0 ([`NO_STACK`]) means the stack
//!   could not be recorded. A [`Record::Stack`] defines an id before its first use.
//! - Frames are return addresses (innermost first, the allocating call's return address
//!   first): the launcher looks up `address - 1`. A frame with [`PY_FRAME`] set is a
//!   Python frame: bits 32..63 the code id of a [`Record::PyCode`], bits 0..32 the line.
//! - A [`Record::Module`] names the file mapped at an address range from that point of the
//!   stream on; a later module over the same range replaces it.

use core::sync::atomic::{AtomicU32, AtomicU64};

use crate::names::{put, write_decimal};

/// `RingHeader::magic`: "BMSTACK1", little-endian.
pub const MAGIC: u64 = 0x314b_4341_5453_4d42;
/// `RingHeader::version`.
pub const VERSION: u32 = 1;
/// Bytes before the first record: the header's page.
pub const DATA_OFFSET: usize = 4096;
/// Prefix of stack stream files: `k-<pid>-<image>`, as the state file `s-<pid>-<image>`.
pub const STACKS_PREFIX: &str = "k-";
/// Stack id of an allocation whose stack could not be recorded.
pub const NO_STACK: u32 = 0;
/// Set in a frame word that is a Python frame (code id and line), not an address.
pub const PY_FRAME: u64 = 1 << 63;
/// Most frames kept per stack (the outermost ones are cut).
pub const MAX_FRAMES: usize = 128;

/// Bytes of records in a ring unless [`crate::names::ENV_STACKS_RING`] says otherwise
/// (the file is sparse: pages cost only once written, and the program's resident memory
/// grows by at most this much; the launcher reads the ring without mapping it, so it
/// keeps far ahead of a single allocating thread).
pub const DEFAULT_CAPACITY: u64 = 16 << 20;

/// Why a ring stopped taking records ([`RingHeader::stopped`]).
pub const STOP_NONE: u32 = 0;
/// The launcher did not drain the ring in time.
pub const STOP_FULL: u32 = 1;
/// The process's stack table (or code table) is full.
pub const STOP_TABLE_FULL: u32 = 2;

/// The first page of a stack stream file.
#[repr(C, align(64))]
pub struct RingHeader {
    /// [`MAGIC`] once the header is initialised.
    pub magic: AtomicU64,
    /// [`VERSION`].
    pub version: AtomicU32,
    /// The writing process.
    pub pid: AtomicU32,
    /// Bytes of records after [`DATA_OFFSET`]: a power of two, a multiple of 8.
    pub capacity: AtomicU64,
    /// A `STOP_*` reason once recording stopped; records after that point are not written.
    pub stopped: AtomicU32,
    /// Set to 1 when the process image will write no more (it exited or exec'd).
    pub closed: AtomicU32,
    /// Allocations and frees not recorded after recording stopped.
    pub lost: AtomicU64,
    _pad0: [u8; 24],
    /// Bytes ever written by the producer; stored with `Release` after the records.
    pub head: AtomicU64,
    _pad1: [u8; 56],
    /// Bytes ever consumed by the launcher; stored with `Release` after reading them.
    pub tail: AtomicU64,
    _pad2: [u8; 56],
}

const _: () = assert!(core::mem::size_of::<RingHeader>() <= DATA_OFFSET);

/// Writes the stack stream file's name for process `pid`, image `image` into `buf`;
/// returns its length (no allocation).
pub fn stacks_file_name(pid: u32, image: u32, buf: &mut [u8]) -> usize {
    let mut n = put(buf, 0, STACKS_PREFIX.as_bytes());
    n += write_decimal(pid as u64, &mut buf[n..]);
    n += put(buf, n, b"-");
    n += write_decimal(image as u64, &mut buf[n..]);
    n
}

/// The (pid, image) a stack stream file's name gives, or `None` for another file.
pub fn parse_stacks_file_name(name: &[u8]) -> Option<(u32, u32)> {
    crate::names::parse_image_file_name(STACKS_PREFIX, name)
}

/// What a record is (bits 0..8 of its header word).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Skip: fills the ring's end when the next record would not fit there.
    Pad = 0,
    /// An allocation.
    Alloc = 1,
    /// A free.
    Free = 2,
    /// A new stack's frames.
    Stack = 3,
    /// A region opened.
    RegionBegin = 4,
    /// A region closed.
    RegionEnd = 5,
    /// A loaded module.
    Module = 6,
    /// A Python code object.
    PyCode = 7,
    /// The process image started recording.
    Process = 8,
}

impl Kind {
    fn from_u8(b: u8) -> Option<Kind> {
        Some(match b {
            0 => Kind::Pad,
            1 => Kind::Alloc,
            2 => Kind::Free,
            3 => Kind::Stack,
            4 => Kind::RegionBegin,
            5 => Kind::RegionEnd,
            6 => Kind::Module,
            7 => Kind::PyCode,
            8 => Kind::Process,
            _ => return None,
        })
    }
}

/// One record, borrowed from the words it was decoded from (or to be encoded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record<'a> {
    /// `words` words to skip (header included).
    Pad {
        /// Length in words.
        words: usize,
    },
    /// `size` bytes allocated by stack `stack`.
    Alloc {
        /// Stack id.
        stack: u32,
        /// Requested bytes.
        size: u64,
    },
    /// `size` bytes freed, allocated by stack `stack` at epoch `epoch`.
    Free {
        /// Stack id of the allocation.
        stack: u32,
        /// Bytes freed.
        size: u64,
        /// The allocation's epoch.
        epoch: u32,
    },
    /// Defines stack `id`: frames innermost first.
    Stack {
        /// Stack id.
        id: u32,
        /// Frame words (see [`PY_FRAME`]), as little-endian `u64`s.
        frames: Words<'a>,
    },
    /// Region `id` (as `benchmem_region_begin` returned it) opened at `epoch`.
    RegionBegin {
        /// Region id.
        id: i32,
        /// The region's begin epoch.
        epoch: u32,
        /// Region name.
        name: &'a [u8],
    },
    /// Region `id` closed.
    RegionEnd {
        /// Region id.
        id: i32,
    },
    /// The file at `path` is mapped so that its link-time address `a` is at `a + bias`,
    /// covering `[start, end)`.
    Module {
        /// Sequence number of the module in this stream.
        seq: u32,
        /// Load bias (the link map's `l_addr`).
        bias: u64,
        /// Lowest mapped address of its `PT_LOAD` segments.
        start: u64,
        /// End of its highest `PT_LOAD` segment.
        end: u64,
        /// GNU build id, empty when the file has none.
        build_id: &'a [u8],
        /// Path as the loader knows it (empty for the main program: see `/proc/PID/exe`
        /// as recorded in the state file).
        path: &'a [u8],
    },
    /// Defines Python code object `id`.
    PyCode {
        /// Code id (31 bits).
        id: u32,
        /// `co_firstlineno`.
        first_line: u32,
        /// `co_qualname` (or `co_name`).
        name: &'a [u8],
        /// `co_filename`.
        file: &'a [u8],
    },
    /// The process image `pid` starts recording; its base epoch.
    Process {
        /// The base epoch (the root region's begin epoch).
        base_epoch: u32,
        /// The process id.
        pid: u32,
    },
}

/// Little-endian `u64` words borrowed from a byte slice (no alignment needed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Words<'a>(&'a [u8]);

impl<'a> Words<'a> {
    /// Number of words.
    pub fn len(&self) -> usize {
        self.0.len() / 8
    }
    /// True when there are no words.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Word `i`.
    pub fn get(&self, i: usize) -> u64 {
        u64::from_le_bytes(self.0[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]))
    }
    /// The words in order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + 'a {
        self.0
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
    }
    /// Wraps little-endian words held as bytes (a multiple of 8 long).
    pub fn from_bytes(b: &'a [u8]) -> Words<'a> {
        Words(&b[..b.len() / 8 * 8])
    }
}

/// Why a record could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer bytes than the header or the record's stated length.
    Truncated,
    /// An unknown kind or an impossible length.
    Corrupt,
}

fn words_for(bytes: usize) -> usize {
    bytes.div_ceil(8)
}

/// Length in words of `rec` once encoded.
pub fn encoded_words(rec: &Record) -> usize {
    1 + match rec {
        Record::Pad { words } => words.saturating_sub(1),
        Record::Alloc { .. } => 1,
        Record::Free { .. } => 2,
        Record::Stack { frames, .. } => frames.len(),
        Record::RegionBegin { name, .. } => 2 + words_for(name.len()),
        Record::RegionEnd { .. } => 0,
        Record::Module { build_id, path, .. } => {
            4 + words_for(build_id.len()) + words_for(path.len())
        }
        Record::PyCode { name, file, .. } => 2 + words_for(name.len()) + words_for(file.len()),
        Record::Process { .. } => 1,
    }
}

const fn header(kind: Kind, words: usize, arg: u32) -> u64 {
    kind as u64 | ((words as u64) & 0xff_ffff) << 8 | (arg as u64) << 32
}

/// [`Record::Alloc`] encoded: the preload's hot path writes these words directly.
#[inline(always)]
pub const fn alloc_words(stack: u32, size: u64) -> [u64; 2] {
    [header(Kind::Alloc, 2, stack), size]
}

/// [`Record::Free`] encoded (see [`alloc_words`]).
#[inline(always)]
pub const fn free_words(stack: u32, size: u64, epoch: u32) -> [u64; 3] {
    [header(Kind::Free, 3, stack), size, epoch as u64]
}

/// Writes words into a byte buffer, no allocation.
struct Out<'b> {
    buf: &'b mut [u8],
    at: usize,
}

impl Out<'_> {
    fn word(&mut self, w: u64) {
        self.buf[self.at..self.at + 8].copy_from_slice(&w.to_le_bytes());
        self.at += 8;
    }
    fn bytes(&mut self, b: &[u8]) {
        let n = words_for(b.len()) * 8;
        self.buf[self.at..self.at + b.len()].copy_from_slice(b);
        self.buf[self.at + b.len()..self.at + n].fill(0);
        self.at += n;
    }
}

/// Encodes `rec` into `out` (little-endian words); returns the bytes written, or `None`
/// when `out` is too small or a length does not fit its field. Never allocates.
pub fn encode(rec: &Record, out: &mut [u8]) -> Option<usize> {
    let words = encoded_words(rec);
    if words == 0 || words > 0xff_ffff || out.len() < words * 8 {
        return None;
    }
    let mut o = Out { buf: out, at: 0 };
    match *rec {
        Record::Pad { words } => {
            // The skipped words' content does not matter; leave them as they are.
            o.word(header(Kind::Pad, words, 0));
        }
        Record::Alloc { stack, size } => alloc_words(stack, size).iter().for_each(|&w| o.word(w)),
        Record::Free { stack, size, epoch } => free_words(stack, size, epoch)
            .iter()
            .for_each(|&w| o.word(w)),
        Record::Stack { id, frames } => {
            o.word(header(Kind::Stack, words, id));
            o.bytes(frames.0);
        }
        Record::RegionBegin { id, epoch, name } => {
            o.word(header(Kind::RegionBegin, words, id as u32));
            o.word(epoch as u64);
            o.word(name.len() as u64);
            o.bytes(name);
        }
        Record::RegionEnd { id } => o.word(header(Kind::RegionEnd, words, id as u32)),
        Record::Module {
            seq,
            bias,
            start,
            end,
            build_id,
            path,
        } => {
            if build_id.len() > u16::MAX as usize || path.len() > u32::MAX as usize {
                return None;
            }
            o.word(header(Kind::Module, words, seq));
            o.word(bias);
            o.word(start);
            o.word(end);
            o.word(build_id.len() as u64 | (path.len() as u64) << 16);
            o.bytes(build_id);
            o.bytes(path);
        }
        Record::PyCode {
            id,
            first_line,
            name,
            file,
        } => {
            if name.len() > u32::MAX as usize || file.len() > u32::MAX as usize {
                return None;
            }
            o.word(header(Kind::PyCode, words, id));
            o.word(first_line as u64);
            o.word(name.len() as u64 | (file.len() as u64) << 32);
            o.bytes(name);
            o.bytes(file);
        }
        Record::Process { base_epoch, pid } => {
            o.word(header(Kind::Process, words, pid));
            o.word(base_epoch as u64);
        }
    }
    Some(words * 8)
}

/// Decodes the record at the start of `bytes`; returns it and its length in bytes.
pub fn decode(bytes: &[u8]) -> Result<(Record<'_>, usize), DecodeError> {
    let w = Words::from_bytes(bytes);
    if w.is_empty() {
        return Err(DecodeError::Truncated);
    }
    let h = w.get(0);
    let kind = Kind::from_u8(h as u8).ok_or(DecodeError::Corrupt)?;
    let words = ((h >> 8) & 0xff_ffff) as usize;
    let arg = (h >> 32) as u32;
    if words == 0 {
        return Err(DecodeError::Corrupt);
    }
    if w.len() < words {
        return Err(DecodeError::Truncated);
    }
    let body = &bytes[8..words * 8];
    let word = |i: usize| Words(body).get(i);
    let need = |n: usize| {
        if words - 1 < n {
            Err(DecodeError::Corrupt)
        } else {
            Ok(())
        }
    };
    let text = |from: usize, len: usize| -> Result<&[u8], DecodeError> {
        body.get(from..from.checked_add(len).ok_or(DecodeError::Corrupt)?)
            .ok_or(DecodeError::Corrupt)
    };
    let rec = match kind {
        Kind::Pad => Record::Pad { words },
        Kind::Alloc => {
            need(1)?;
            Record::Alloc {
                stack: arg,
                size: word(0),
            }
        }
        Kind::Free => {
            need(2)?;
            Record::Free {
                stack: arg,
                size: word(0),
                epoch: word(1) as u32,
            }
        }
        Kind::Stack => Record::Stack {
            id: arg,
            frames: Words(body),
        },
        Kind::RegionBegin => {
            need(2)?;
            Record::RegionBegin {
                id: arg as i32,
                epoch: word(0) as u32,
                name: text(16, word(1) as usize)?,
            }
        }
        Kind::RegionEnd => Record::RegionEnd { id: arg as i32 },
        Kind::Module => {
            need(4)?;
            let lens = word(3);
            let (b, p) = ((lens & 0xffff) as usize, (lens >> 16) as usize);
            Record::Module {
                seq: arg,
                bias: word(0),
                start: word(1),
                end: word(2),
                build_id: text(32, b)?,
                path: text(32 + words_for(b) * 8, p)?,
            }
        }
        Kind::PyCode => {
            need(2)?;
            let lens = word(1);
            let (n, f) = ((lens & 0xffff_ffff) as usize, (lens >> 32) as usize);
            Record::PyCode {
                id: arg,
                first_line: word(0) as u32,
                name: text(16, n)?,
                file: text(16 + words_for(n) * 8, f)?,
            }
        }
        Kind::Process => {
            need(1)?;
            Record::Process {
                base_epoch: word(0) as u32,
                pid: arg,
            }
        }
    };
    Ok((rec, words * 8))
}

/// A Python frame word: code `code` (31 bits), line `line`.
pub fn py_frame(code: u32, line: u32) -> u64 {
    PY_FRAME | ((code as u64 & 0x7fff_ffff) << 32) | line as u64
}

/// The code id and line of a Python frame word, or `None` for a native frame.
pub fn py_frame_parts(frame: u64) -> Option<(u32, u32)> {
    (frame & PY_FRAME != 0).then_some((((frame >> 32) & 0x7fff_ffff) as u32, frame as u32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;
    use std::vec::Vec;

    fn round_trip(rec: Record) {
        let mut buf = vec![0xaau8; 512];
        let n = encode(&rec, &mut buf).unwrap();
        assert_eq!(n, encoded_words(&rec) * 8);
        let (back, m) = decode(&buf[..n]).unwrap();
        assert_eq!(m, n);
        assert_eq!(back, rec);
        assert_eq!(decode(&buf[..n - 8]).unwrap_err(), DecodeError::Truncated);
    }

    #[test]
    fn every_kind_round_trips() {
        let frames: Vec<u8> = [0x401000u64, py_frame(7, 42), 0x7f00_0000_1234]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        round_trip(Record::Alloc {
            stack: 3,
            size: 1 << 40,
        });
        round_trip(Record::Free {
            stack: u32::MAX,
            size: 17,
            epoch: u32::MAX,
        });
        round_trip(Record::Stack {
            id: 9,
            frames: Words::from_bytes(&frames),
        });
        round_trip(Record::RegionBegin {
            id: -5,
            epoch: 12,
            name: b"load \xff",
        });
        round_trip(Record::RegionEnd { id: 0x1_01 });
        round_trip(Record::Module {
            seq: 2,
            bias: 0x5555_0000_0000,
            start: 0x5555_0000_0000,
            end: 0x5555_0001_0000,
            build_id: &[
                1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
            ],
            path: b"/usr/lib/x86_64-linux-gnu/libc.so.6",
        });
        round_trip(Record::PyCode {
            id: 1,
            first_line: 10,
            name: b"Outer.inner",
            file: b"bench.py",
        });
        round_trip(Record::Process {
            base_epoch: 1,
            pid: 4242,
        });
        round_trip(Record::Pad { words: 5 });
    }

    #[test]
    fn frames_read_back_in_order() {
        let frames: Vec<u8> = [1u64, 2, py_frame(0x7fff_ffff, u32::MAX)]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        let w = Words::from_bytes(&frames);
        let v: Vec<u64> = w.iter().collect();
        assert_eq!(v[..2], [1, 2]);
        assert_eq!(py_frame_parts(v[2]), Some((0x7fff_ffff, u32::MAX)));
        assert_eq!(py_frame_parts(0x401000), None);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert_eq!(decode(&[]).unwrap_err(), DecodeError::Truncated);
        assert_eq!(decode(&[0xff; 8]).unwrap_err(), DecodeError::Corrupt);
        // A length of zero words.
        assert_eq!(
            decode(&1u64.to_le_bytes()).unwrap_err(),
            DecodeError::Corrupt
        );
        // A region name longer than the record.
        let mut buf = [0u8; 24];
        buf[..8].copy_from_slice(&header(Kind::RegionBegin, 3, 1).to_le_bytes());
        buf[16..24].copy_from_slice(&100u64.to_le_bytes());
        assert_eq!(decode(&buf).unwrap_err(), DecodeError::Corrupt);
        // Every prefix of every byte pattern decodes or errs.
        for b in 0..=255u8 {
            let buf = [b; 64];
            for n in 0..64 {
                let _ = decode(&buf[..n]);
            }
        }
    }

    #[test]
    fn a_record_too_big_for_the_buffer_is_refused() {
        let mut small = [0u8; 8];
        assert_eq!(
            encode(&Record::Alloc { stack: 1, size: 1 }, &mut small),
            None
        );
    }

    #[test]
    fn file_names() {
        let mut buf = [0u8; 24];
        let n = stacks_file_name(42, 1, &mut buf);
        assert_eq!(&buf[..n], b"k-42-1");
        assert_eq!(parse_stacks_file_name(&buf[..n]), Some((42, 1)));
        assert_eq!(parse_stacks_file_name(b"s-42-1"), None);
        assert_eq!(parse_stacks_file_name(b"k-42"), None);
        assert_eq!(parse_stacks_file_name(b"k-x-1"), None);
        assert_eq!(parse_stacks_file_name(b"k-+7-1"), None);
    }
}
