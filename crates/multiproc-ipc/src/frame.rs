//! The frame format, shared with CPython's `multiprocessing.connection`.
//!
//! A frame is a header followed by `len` payload bytes:
//!
//! | payload length          | header bytes                                     |
//! |-------------------------|--------------------------------------------------|
//! | `len <= 0x7fff_ffff`    | `len` as a 4-byte big-endian signed integer        |
//! | larger                  | `ff ff ff ff` (that is `-1`), then `len` as 8-byte big-endian |
//!
//! This is byte-for-byte what CPython 3.11's `Connection._send_bytes` writes, so
//! `send_bytes`/`recv_bytes` interoperate with Python peers.
//!
//! Architecture invariant: only this module knows the header layout.

/// Largest payload announced with the short (4-byte) header.
///
/// ```
/// use multiproc_ipc::frame::{MAX_HEADER, SHORT_MAX, encode_header};
/// let mut out = [0; MAX_HEADER];
/// assert_eq!(encode_header(SHORT_MAX, &mut out), 4); // the short header
/// assert_eq!(encode_header(SHORT_MAX + 1, &mut out), 12); // -1, then 8 length bytes
/// ```
pub const SHORT_MAX: u64 = 0x7fff_ffff;

/// Longest possible header.
///
/// ```
/// use multiproc_ipc::frame::{MAX_HEADER, encode_header};
/// let mut out = [0; MAX_HEADER];
/// assert!(encode_header(u64::MAX, &mut out) <= MAX_HEADER);
/// ```
pub const MAX_HEADER: usize = 12;

/// Default largest frame a [`Connection`](crate::Connection) accepts: 256 MiB.
///
/// Raise it with [`Connection::set_max_frame`](crate::Connection::set_max_frame).
///
/// ```
/// use multiproc_ipc::frame::{DEFAULT_MAX_FRAME, FrameError, MAX_HEADER, encode_header, split_frame};
/// let mut head = [0; MAX_HEADER];
/// let n = encode_header(DEFAULT_MAX_FRAME + 1, &mut head);
/// let err = split_frame(&head[..n], DEFAULT_MAX_FRAME).unwrap_err();
/// assert!(matches!(err, FrameError::TooLarge { .. }));
/// ```
pub const DEFAULT_MAX_FRAME: u64 = 256 << 20;

/// Writes the header for a payload of `len` bytes into `out`, returning the header length.
///
/// ```
/// let mut h = [0u8; multiproc_ipc::frame::MAX_HEADER];
/// assert_eq!(multiproc_ipc::frame::encode_header(5, &mut h), 4);
/// assert_eq!(&h[..4], &[0, 0, 0, 5]);
/// ```
pub fn encode_header(len: u64, out: &mut [u8; MAX_HEADER]) -> usize {
    if len <= SHORT_MAX {
        // Fits in the 31 positive bits of an i32.
        out[..4].copy_from_slice(&(len as u32).to_be_bytes());
        4
    } else {
        out[..4].copy_from_slice(&[0xff; 4]);
        out[4..12].copy_from_slice(&len.to_be_bytes());
        12
    }
}

/// The short header that announces a **shared-memory frame** (`ff ff ff fe`, a length
/// of -2): the payload is in a memory segment both processes map, and the frame carries
/// only a [`ShmRef`] after this header. CPython never writes a negative length other
/// than -1, and a receiver that did not enable shared memory
/// ([`Connection::enable_shm`](crate::Connection::enable_shm)) refuses it as an invalid
/// header, as it always did.
///
/// ```
/// use multiproc_ipc::frame::SHM_MARK;
/// assert_eq!(SHM_MARK.to_be_bytes(), [0xff, 0xff, 0xff, 0xfe]);
/// ```
pub const SHM_MARK: i32 = -2;

/// Bytes of a [`ShmRef`] on the wire (after the 4-byte [`SHM_MARK`] header).
///
/// ```
/// use multiproc_ipc::frame::{encode_shm_frame, ShmRef, SHM_REF_LEN};
/// let frame = encode_shm_frame(&ShmRef { segment: 1, segment_len: 2 << 20, len: 5 });
/// assert_eq!(SHM_REF_LEN, 3 * 8);
/// assert_eq!(frame.len(), 4 + SHM_REF_LEN);
/// ```
pub const SHM_REF_LEN: usize = 24;

/// Where a shared-memory frame's payload is: which segment, how large the segment
/// is, and how many payload bytes it holds. Three big-endian `u64`s on the wire.
///
/// ```
/// use multiproc_ipc::frame::{ShmRef, SHM_REF_LEN};
/// let r = ShmRef { segment: 7, segment_len: 4 << 20, len: 1 << 20 };
/// let mut out = [0u8; SHM_REF_LEN];
/// r.encode(&mut out);
/// assert_eq!(ShmRef::decode(out), r);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShmRef {
    /// The sender's id of the segment (unique per sending process).
    pub segment: u64,
    /// The segment's size in bytes (header page included), as the sender made it.
    pub segment_len: u64,
    /// Payload bytes, stored from the segment's first payload byte on.
    pub len: u64,
}

/// The whole frame that carries `r`: the [`SHM_MARK`] header, then the reference.
///
/// ```
/// use multiproc_ipc::frame::{decode_short, encode_shm_frame, ShmRef, ShortHeader, SHM_MARK};
/// let f = encode_shm_frame(&ShmRef { segment: 1, segment_len: 2 << 20, len: 5 });
/// assert_eq!(decode_short([f[0], f[1], f[2], f[3]]), ShortHeader::Invalid(SHM_MARK));
/// ```
pub fn encode_shm_frame(r: &ShmRef) -> [u8; 4 + SHM_REF_LEN] {
    let mut out = [0u8; 4 + SHM_REF_LEN];
    out[..4].copy_from_slice(&SHM_MARK.to_be_bytes());
    let mut body = [0u8; SHM_REF_LEN];
    r.encode(&mut body);
    out[4..].copy_from_slice(&body);
    out
}

impl ShmRef {
    /// Writes the wire form into `out`: three big-endian `u64`s.
    ///
    /// ```
    /// use multiproc_ipc::frame::{ShmRef, SHM_REF_LEN};
    /// let mut out = [0u8; SHM_REF_LEN];
    /// ShmRef { segment: 1, segment_len: 2, len: 3 }.encode(&mut out);
    /// assert_eq!(out[7], 1);
    /// assert_eq!(out[15], 2);
    /// assert_eq!(out[23], 3);
    /// ```
    pub fn encode(&self, out: &mut [u8; SHM_REF_LEN]) {
        out[..8].copy_from_slice(&self.segment.to_be_bytes());
        out[8..16].copy_from_slice(&self.segment_len.to_be_bytes());
        out[16..].copy_from_slice(&self.len.to_be_bytes());
    }

    /// Reads the wire form. Every bit pattern is a `ShmRef`; the receiver checks it
    /// against its limits and the segment before trusting any field.
    ///
    /// ```
    /// use multiproc_ipc::frame::{ShmRef, SHM_REF_LEN};
    /// // A hostile reference decodes (the checks come later, before any mapping).
    /// let r = ShmRef::decode([0xff; SHM_REF_LEN]);
    /// assert_eq!(r.len, u64::MAX);
    /// ```
    pub fn decode(b: [u8; SHM_REF_LEN]) -> Self {
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i..i + 8]);
            u64::from_be_bytes(w)
        };
        ShmRef {
            segment: word(0),
            segment_len: word(8),
            len: word(16),
        }
    }
}

/// What the first four header bytes say.
///
/// ```
/// use multiproc_ipc::frame::{ShortHeader, decode_short};
/// assert_eq!(decode_short([0, 0, 0, 5]), ShortHeader::Len(5));
/// assert_eq!(decode_short([0xff; 4]), ShortHeader::Long); // -1
/// assert_eq!(decode_short([0xff, 0xff, 0xff, 0xfe]), ShortHeader::Invalid(-2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShortHeader {
    /// The payload length.
    Len(u64),
    /// An 8-byte big-endian length follows.
    Long,
    /// A negative length other than -1: not a frame CPython or we would write.
    Invalid(i32),
}

/// Interprets the first four header bytes.
///
/// ```
/// use multiproc_ipc::frame::{decode_short, ShortHeader};
/// assert_eq!(decode_short([0, 0, 1, 0]), ShortHeader::Len(256));
/// assert_eq!(decode_short([0xff; 4]), ShortHeader::Long);
/// ```
pub fn decode_short(b: [u8; 4]) -> ShortHeader {
    let v = i32::from_be_bytes(b);
    match v {
        -1 => ShortHeader::Long,
        v if v < 0 => ShortHeader::Invalid(v),
        v => ShortHeader::Len(v as u64),
    }
}

/// Splits one complete frame off the front of `buf`.
///
/// Returns `Ok(Some((payload, rest)))` for a whole frame, `Ok(None)` when `buf` holds
/// only part of one, and an error for an invalid or over-limit header. Used by the
/// fuzz targets and by anyone parsing a captured byte stream.
///
/// ```
/// use multiproc_ipc::frame::split_frame;
/// let bytes = [0, 0, 0, 2, b'h', b'i', 9];
/// let (payload, rest) = split_frame(&bytes, 1024).unwrap().unwrap();
/// assert_eq!(payload, b"hi");
/// assert_eq!(rest, &[9]);
/// ```
#[expect(
    clippy::type_complexity,
    reason = "(payload, rest) reads better than an alias"
)]
pub fn split_frame(buf: &[u8], limit: u64) -> Result<Option<(&[u8], &[u8])>, FrameError> {
    let Some(short) = buf.get(..4) else {
        return Ok(None);
    };
    let short: [u8; 4] = short.try_into().map_err(|_| FrameError::Invalid(0))?;
    let (len, hlen) = match decode_short(short) {
        ShortHeader::Len(n) => (n, 4usize),
        ShortHeader::Invalid(v) => return Err(FrameError::Invalid(v)),
        ShortHeader::Long => {
            let Some(long) = buf.get(4..12) else {
                return Ok(None);
            };
            let long: [u8; 8] = long.try_into().map_err(|_| FrameError::Invalid(-1))?;
            (u64::from_be_bytes(long), 12)
        }
    };
    if len > limit {
        return Err(FrameError::TooLarge {
            announced: len,
            limit,
        });
    }
    let rest = &buf[hlen..];
    let Ok(len) = usize::try_from(len) else {
        return Err(FrameError::TooLarge {
            announced: len,
            limit,
        });
    };
    if rest.len() < len {
        return Ok(None);
    }
    Ok(Some(rest.split_at(len)))
}

/// A header that cannot start a valid frame.
///
/// ```
/// use multiproc_ipc::frame::{FrameError, split_frame};
/// let err = split_frame(&[0, 0, 1, 0], 16).unwrap_err(); // 256 bytes announced
/// assert_eq!(err, FrameError::TooLarge { announced: 256, limit: 16 });
/// assert_eq!(split_frame(&[0xff, 0xff, 0xff, 0xfe], 16), Err(FrameError::Invalid(-2)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// A negative length other than -1.
    Invalid(i32),
    /// The announced length exceeds the limit.
    TooLarge {
        /// Bytes announced.
        announced: u64,
        /// The limit in force.
        limit: u64,
    },
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Invalid(v) => write!(f, "invalid frame header (length {v})"),
            FrameError::TooLarge { announced, limit } => {
                write!(f, "frame of {announced} bytes exceeds the limit of {limit}")
            }
        }
    }
}

impl std::error::Error for FrameError {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut h = [0u8; MAX_HEADER];
        let n = encode_header(payload.len() as u64, &mut h);
        let mut v = h[..n].to_vec();
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn long_header_matches_cpython() {
        let mut h = [0u8; MAX_HEADER];
        assert_eq!(encode_header(SHORT_MAX, &mut h), 4);
        assert_eq!(&h[..4], &[0x7f, 0xff, 0xff, 0xff]);
        assert_eq!(encode_header(SHORT_MAX + 1, &mut h), 12);
        assert_eq!(
            &h[..12],
            &[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0x80, 0, 0, 0]
        );
    }

    #[test]
    fn four_gib_header_is_refused_before_allocating() {
        let bytes = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 0];
        assert_eq!(
            split_frame(&bytes, DEFAULT_MAX_FRAME),
            Err(FrameError::TooLarge {
                announced: 1 << 32,
                limit: DEFAULT_MAX_FRAME
            })
        );
        assert_eq!(
            split_frame(&[0x80, 0, 0, 0], 10),
            Err(FrameError::Invalid(i32::MIN))
        );
    }

    proptest! {
        #[test]
        fn any_bytes_round_trip(payload in proptest::collection::vec(any::<u8>(), 0..4096), tail in proptest::collection::vec(any::<u8>(), 0..16)) {
            let mut f = frame(&payload);
            f.extend_from_slice(&tail);
            let (p, rest) = split_frame(&f, DEFAULT_MAX_FRAME).unwrap().unwrap();
            prop_assert_eq!(p, &payload[..]);
            prop_assert_eq!(rest, &tail[..]);
        }

        #[test]
        fn any_truncation_is_incomplete(payload in proptest::collection::vec(any::<u8>(), 1..512), cut in 0usize..512) {
            let f = frame(&payload);
            let cut = cut % f.len();
            prop_assert_eq!(split_frame(&f[..cut], DEFAULT_MAX_FRAME).unwrap(), None);
        }

        #[test]
        fn arbitrary_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64), limit in 0u64..1000) {
            let _ = split_frame(&bytes, limit);
        }
    }
}
