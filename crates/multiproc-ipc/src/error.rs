//! Error types of `multiproc-ipc`, one per operation family.

use std::fmt;
use std::io;

/// Why a frame could not be read or written.
///
/// Returned by [`Connection`](crate::Connection) byte and typed operations.
///
/// ```
/// use std::time::Duration;
/// use multiproc_ipc::{Pipe, RecvError};
///
/// let (a, b) = Pipe::duplex()?;
/// assert!(matches!(b.try_recv::<u8>(), Err(RecvError::Timeout))); // nothing yet
/// a.send(&300u32)?;
/// assert!(matches!(b.recv::<bool>(), Err(RecvError::Decode(_)))); // not a bool; consumed
/// drop(a);
/// assert!(matches!(b.recv_timeout::<u8>(Duration::from_secs(60)), Err(RecvError::Eof)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum RecvError {
    /// The peer closed its end: no more frames will arrive (CPython raises `EOFError`).
    Eof,
    /// The peer closed its end in the middle of a frame; the partial frame is discarded.
    Truncated {
        /// Bytes the frame header announced.
        expected: u64,
        /// Bytes that arrived before end-of-file.
        got: u64,
    },
    /// The frame announced more bytes than the receiver accepts; nothing was allocated.
    TooLarge {
        /// Bytes the frame header announced.
        announced: u64,
        /// The receiver's limit.
        limit: u64,
    },
    /// The frame does not fit in the caller's buffer (`recv_bytes_into`; CPython's
    /// `BufferTooShort`). The frame was consumed whole, so the stream stays usable;
    /// the caller's buffer holds its first `buffer` bytes and `message` all of them.
    BufferTooSmall {
        /// Size of the frame.
        needed: usize,
        /// Size of the buffer offered.
        buffer: usize,
        /// The whole frame, so that it is not lost (CPython's `BufferTooShort.args[0]`).
        message: Vec<u8>,
    },
    /// The frame arrived whole but its payload is not a valid encoding of the requested type.
    Decode(CodecError),
    /// No whole frame arrived before the deadline. Nothing is lost: what was read of
    /// a frame cut part-way is kept by the connection, and the next receive carries
    /// on with it.
    Timeout,
    /// This end was closed with [`Connection::close`](crate::Connection::close), or is write-only.
    Closed,
    /// An operating-system error.
    Io(io::Error),
    /// A shared-memory frame (see [`Connection::enable_shm`](crate::Connection::enable_shm))
    /// named a segment this end refuses: not sealed against shrinking and growing, larger
    /// than the frame limit allows, of another size than announced, never handed over,
    /// or not mappable. Checked before anything is mapped; the frame was read whole,
    /// so the connection stays usable.
    Shm(SegmentError),
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Eof => f.write_str("end of file: the peer closed the connection"),
            RecvError::Truncated { expected, got } => write!(
                f,
                "truncated frame: peer closed after {got} of {expected} announced bytes"
            ),
            RecvError::TooLarge { announced, limit } => write!(
                f,
                "frame of {announced} bytes exceeds the limit of {limit} bytes"
            ),
            RecvError::BufferTooSmall { needed, buffer, .. } => write!(
                f,
                "frame of {needed} bytes does not fit a buffer of {buffer} bytes"
            ),
            RecvError::Decode(_) => f.write_str("frame payload could not be decoded"),
            RecvError::Timeout => f.write_str("timed out waiting for a frame"),
            RecvError::Closed => f.write_str("connection is closed or not readable"),
            RecvError::Io(_) => f.write_str("i/o error while receiving"),
            RecvError::Shm(_) => f.write_str("shared-memory frame refused"),
        }
    }
}

impl std::error::Error for RecvError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RecvError::Decode(e) => Some(e),
            RecvError::Io(e) => Some(e),
            RecvError::Shm(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for RecvError {
    fn from(e: io::Error) -> Self {
        RecvError::Io(e)
    }
}

/// Why a frame could not be sent.
///
/// ```
/// use multiproc_ipc::{Pipe, SendError};
///
/// let (r, w) = Pipe::simplex()?;
/// assert!(matches!(r.send(&1u8), Err(SendError::Closed))); // the read-only end
/// let (end, _other) = Pipe::duplex()?;
/// let r2 = w.send(&end); // a Connection holds a handle; a pipe carries bytes only
/// assert!(matches!(r2, Err(SendError::HandlesUnsupported)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum SendError {
    /// The peer is gone (`EPIPE`/`ECONNRESET`).
    Disconnected,
    /// The frame is larger than this connection's limit (or than `u64::MAX`).
    TooLarge {
        /// Size of the frame.
        size: u64,
        /// The sender's limit.
        limit: u64,
    },
    /// `offset`/`size` do not describe a range inside the buffer.
    OutOfRange {
        /// Length of the buffer.
        len: usize,
        /// Requested offset.
        offset: usize,
        /// Requested size.
        size: usize,
    },
    /// The value could not be encoded (for example a handle sent over a transport
    /// that cannot carry handles).
    Encode(CodecError),
    /// The value carries OS handles but this connection cannot transfer them
    /// (a one-way pipe or a TCP socket).
    HandlesUnsupported,
    /// The frame could not be written before the deadline.
    Timeout,
    /// This end was closed, or is read-only.
    Closed,
    /// An operating-system error.
    Io(io::Error),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Disconnected => f.write_str("the peer closed the connection"),
            SendError::TooLarge { size, limit } => {
                write!(
                    f,
                    "frame of {size} bytes exceeds the limit of {limit} bytes"
                )
            }
            SendError::OutOfRange { len, offset, size } => write!(
                f,
                "offset {offset} + size {size} is out of range for a buffer of {len} bytes"
            ),
            SendError::Encode(_) => f.write_str("value could not be encoded"),
            SendError::HandlesUnsupported => {
                f.write_str("this connection cannot carry os handles (pipe or tcp)")
            }
            SendError::Timeout => f.write_str("timed out sending a frame"),
            SendError::Closed => f.write_str("connection is closed or not writable"),
            SendError::Io(_) => f.write_str("i/o error while sending"),
        }
    }
}

impl std::error::Error for SendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SendError::Encode(e) => Some(e),
            SendError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for SendError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => SendError::Disconnected,
            _ => SendError::Io(e),
        }
    }
}

/// Why a value could not be encoded to or decoded from bytes.
///
/// ```
/// use multiproc_ipc::{CodecError, handle};
///
/// let (bytes, fds) = handle::encode(&(1u8, 2u8))?;
/// assert!(matches!(handle::decode::<u8>(&bytes, fds), Err(CodecError::TrailingBytes(1))));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum CodecError {
    /// postcard rejected the bytes or the value.
    Postcard(postcard::Error),
    /// The payload decoded but bytes were left over.
    TrailingBytes(usize),
    /// A value refers to handle number `index`, but only `available` arrived with it.
    MissingHandle {
        /// The index the value refers to.
        index: u32,
        /// How many handles arrived.
        available: usize,
    },
    /// A value holding an OS handle was serialized outside a handle-carrying context
    /// (for example with `serde_json`). Use [`crate::encode`] or a `Connection`.
    NoHandleContext,
    /// More handles than one frame may carry ([`crate::MAX_HANDLES`]).
    TooManyHandles(usize),
    /// Duplicating a handle failed.
    Io(io::Error),
    /// A custom error raised by a `Serialize`/`Deserialize` implementation.
    Custom(String),
    /// The value is nested deeper than the decoder's limit (see
    /// [`DEFAULT_MAX_DEPTH`](crate::DEFAULT_MAX_DEPTH)); decoding stopped there
    /// instead of recursing on. Over a [`Connection`](crate::Connection) the frame
    /// was read whole, so the connection stays usable for the next one.
    TooDeep {
        /// The limit, in levels of nesting.
        limit: usize,
    },
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::Postcard(e) => write!(f, "postcard: {e}"),
            CodecError::TrailingBytes(n) => write!(f, "{n} trailing bytes after the value"),
            CodecError::MissingHandle { index, available } => write!(
                f,
                "value refers to handle {index} but only {available} handles arrived"
            ),
            CodecError::NoHandleContext => f.write_str(
                "value holds an os handle and can only be encoded by multiproc (Connection::send or multiproc_ipc::encode)",
            ),
            CodecError::TooManyHandles(n) => write!(
                f,
                "{n} handles exceed the per-frame maximum of {}",
                crate::MAX_HANDLES
            ),
            CodecError::Io(_) => f.write_str("duplicating a handle failed"),
            CodecError::Custom(s) => f.write_str(s),
            CodecError::TooDeep { limit } => {
                write!(f, "value nested deeper than the limit of {limit} levels")
            }
        }
    }
}

impl std::error::Error for CodecError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CodecError::Postcard(e) => Some(e),
            CodecError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Why a shared segment could not be created or mapped.
///
/// ```
/// use multiproc_ipc::{SegmentError, SharedSegment};
/// assert!(matches!(SharedSegment::new(0), Err(SegmentError::ZeroLength)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum SegmentError {
    /// A zero-length segment was requested.
    ZeroLength,
    /// The handle is not a shareable memory object, or its size changed.
    BadHandle(String),
    /// An operating-system error (memfd_create, ftruncate, mmap, fstat).
    Io(io::Error),
}

impl fmt::Display for SegmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SegmentError::ZeroLength => f.write_str("a shared segment cannot be empty"),
            SegmentError::BadHandle(s) => write!(f, "not a usable shared segment: {s}"),
            SegmentError::Io(_) => f.write_str("shared segment system call failed"),
        }
    }
}

impl std::error::Error for SegmentError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SegmentError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for SegmentError {
    fn from(e: io::Error) -> Self {
        SegmentError::Io(e)
    }
}
