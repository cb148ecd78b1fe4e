//! Events the preload sends to the launcher: one datagram per closed region.
//!
//! Fixed little-endian layout, at most [`MAX_EVENT`] bytes (well under `PIPE_BUF`), so a
//! send is atomic and many processes can share one socket.

use crate::Stats;
use crate::names::NAME_CAP;

/// Bytes before the name.
pub const HEADER_LEN: usize = 64;
/// Largest event in bytes.
pub const MAX_EVENT: usize = HEADER_LEN + NAME_CAP;
const MAGIC: u32 = 0x424d_4556;
const VERSION: u16 = 1;
const KIND_REGION_END: u16 = 1;
/// Sent by the launcher to its own socket to end its reader.
const KIND_STOP: u16 = 2;

/// A decoded event.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A region closed in process `pid` (image `image`).
    RegionEnd {
        /// Process id.
        pid: u32,
        /// Exec count of that pid (see the state file name).
        image: u32,
        /// Region name, raw bytes (may be any bytes).
        name: &'a [u8],
        /// The sample.
        stats: Stats,
        /// Wall time from begin to end.
        duration_ns: u64,
    },
    /// The launcher's own end-of-stream marker.
    Stop,
}

/// Why bytes are not an event.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum DecodeError {
    /// Shorter than its header or its name length says.
    Truncated,
    /// Wrong magic or version.
    Foreign,
    /// Unknown kind.
    UnknownKind(u16),
}

fn put_u32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put_u64(buf: &mut [u8], at: usize, v: u64) {
    buf[at..at + 8].copy_from_slice(&v.to_le_bytes());
}
fn get_u32(buf: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}
fn get_u64(buf: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(b)
}
fn header(buf: &mut [u8; MAX_EVENT], kind: u16) {
    put_u32(buf, 0, MAGIC);
    buf[4..6].copy_from_slice(&VERSION.to_le_bytes());
    buf[6..8].copy_from_slice(&kind.to_le_bytes());
}

/// Encode a region-end event into `buf`; returns its length. `name` is cut to [`NAME_CAP`].
pub fn encode_region_end(
    buf: &mut [u8; MAX_EVENT],
    pid: u32,
    image: u32,
    name: &[u8],
    stats: &Stats,
    duration_ns: u64,
) -> usize {
    header(buf, KIND_REGION_END);
    put_u32(buf, 8, pid);
    put_u32(buf, 12, image);
    put_u64(buf, 16, stats.peak_bytes);
    put_u64(buf, 24, stats.total_bytes);
    put_u64(buf, 32, stats.allocations);
    put_u64(buf, 40, stats.retained_bytes);
    put_u64(buf, 48, duration_ns);
    put_u32(buf, 56, 0);
    let len = name.len().min(NAME_CAP);
    put_u32(buf, 60, len as u32);
    buf[HEADER_LEN..HEADER_LEN + len].copy_from_slice(&name[..len]);
    HEADER_LEN + len
}

/// Encode the launcher's stop marker.
pub fn encode_stop(buf: &mut [u8; MAX_EVENT]) -> usize {
    header(buf, KIND_STOP);
    HEADER_LEN
}

/// Decode one datagram.
pub fn decode(buf: &[u8]) -> Result<Event<'_>, DecodeError> {
    if buf.len() < HEADER_LEN {
        return Err(DecodeError::Truncated);
    }
    if get_u32(buf, 0) != MAGIC || u16::from_le_bytes([buf[4], buf[5]]) != VERSION {
        return Err(DecodeError::Foreign);
    }
    match u16::from_le_bytes([buf[6], buf[7]]) {
        KIND_REGION_END => {
            let len = get_u32(buf, 60) as usize;
            if len > NAME_CAP || buf.len() < HEADER_LEN + len {
                return Err(DecodeError::Truncated);
            }
            Ok(Event::RegionEnd {
                pid: get_u32(buf, 8),
                image: get_u32(buf, 12),
                stats: Stats {
                    peak_bytes: get_u64(buf, 16),
                    total_bytes: get_u64(buf, 24),
                    allocations: get_u64(buf, 32),
                    retained_bytes: get_u64(buf, 40),
                },
                duration_ns: get_u64(buf, 48),
                name: &buf[HEADER_LEN..HEADER_LEN + len],
            })
        }
        KIND_STOP => Ok(Event::Stop),
        k => Err(DecodeError::UnknownKind(k)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let mut buf = [0u8; MAX_EVENT];
        let stats = Stats {
            peak_bytes: 1,
            total_bytes: 2,
            allocations: 3,
            retained_bytes: 4,
        };
        let n = encode_region_end(&mut buf, 42, 1, b"load", &stats, 99);
        let ev = decode(&buf[..n]).unwrap();
        assert_eq!(
            ev,
            Event::RegionEnd {
                pid: 42,
                image: 1,
                name: b"load",
                stats,
                duration_ns: 99
            }
        );
        assert_eq!(decode(&buf[..n - 1]), Err(DecodeError::Truncated));
        let n = encode_stop(&mut buf);
        assert_eq!(decode(&buf[..n]), Ok(Event::Stop));
        buf[0] = 0;
        assert_eq!(decode(&buf[..n]), Err(DecodeError::Foreign));
    }
}
