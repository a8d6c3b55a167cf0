//! Errors of the pickle codec and of the pickle forms of `Connection`'s methods.

use std::fmt;

use crate::{RecvError, SendError};

/// Why a pickle was refused, or a value could not be pickled.
///
/// Refusals of opcodes ([`Forbidden`](Self::Forbidden), [`Unsupported`](Self::Unsupported),
/// [`UnknownOpcode`](Self::UnknownOpcode)) and malformed streams
/// ([`Truncated`](Self::Truncated)) are found by a scan of the whole pickle before
/// anything is built.
///
/// ```
/// use multiproc_ipc::pickle::{PickleError, from_slice};
/// // `os.system` by GLOBAL: refused before anything is built
/// let err = from_slice::<i64>(b"\x80\x02cos\nsystem\n.").unwrap_err();
/// assert!(matches!(err, PickleError::Forbidden { opcode: b'c', .. }), "{err:?}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum PickleError {
    /// An opcode that would import a name or call something (`GLOBAL`, `STACK_GLOBAL`,
    /// `REDUCE`, `BUILD`, `INST`, `OBJ`, `NEWOBJ`, `NEWOBJ_EX`, `EXT1/2/4`,
    /// `PERSID`, `BINPERSID`). Such pickles are never executed.
    Forbidden {
        /// The opcode byte.
        opcode: u8,
        /// Its name in `pickletools`.
        name: &'static str,
        /// Its offset in the pickle.
        offset: usize,
    },
    /// A data opcode this codec does not read: the text forms of protocol 0
    /// (`INT`, `STRING`, `UNICODE`, `GET`, …), Python 2 strings, out-of-band buffers.
    Unsupported {
        /// The opcode byte.
        opcode: u8,
        /// Its name in `pickletools`.
        name: &'static str,
        /// Its offset in the pickle.
        offset: usize,
    },
    /// A byte that is no pickle opcode.
    UnknownOpcode {
        /// The byte.
        opcode: u8,
        /// Its offset in the pickle.
        offset: usize,
    },
    /// A protocol newer than 5.
    Protocol(u8),
    /// The pickle ends before `STOP`, or an argument runs past its end.
    Truncated {
        /// Where the cut opcode starts.
        offset: usize,
    },
    /// Bytes follow the `STOP` opcode.
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// Well-formed opcodes that do not make a value: stack underflow, a missing mark,
    /// `APPEND` to a non-list, a missing memo entry, a negative length, ….
    Malformed {
        /// The offending opcode's offset.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A `str` that is not valid UTF-8 (CPython may pickle lone surrogates).
    InvalidUtf8 {
        /// The opcode's offset.
        offset: usize,
    },
    /// The value refers to itself (`l = []; l.append(l)`); a tree cannot hold it.
    Recursive,
    /// Containers nested deeper than the limit (decoding or encoding).
    TooDeep {
        /// The limit ([`Limits::max_depth`](super::Limits::max_depth)).
        limit: usize,
    },
    /// The decoded value would exceed the size limit (a pickle may refer to one
    /// object many times; each reference becomes a copy).
    TooLarge {
        /// The limit in bytes ([`Limits::max_size`](super::Limits::max_size)).
        limit: usize,
    },
    /// A Python `int` beyond 128 bits where a Rust integer was asked for (read it
    /// as a [`PickleValue`](super::PickleValue) to get a [`BigInt`](super::BigInt)).
    IntegerTooLarge,
    /// A message from a `Serialize`/`Deserialize` implementation, or a value that does
    /// not fit the requested type.
    Custom(String),
}

impl fmt::Display for PickleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PickleError::Forbidden { name, offset, .. } => write!(
                f,
                "forbidden pickle opcode {name} at offset {offset}: it would import or call code"
            ),
            PickleError::Unsupported { name, offset, .. } => {
                write!(f, "unsupported pickle opcode {name} at offset {offset}")
            }
            PickleError::UnknownOpcode { opcode, offset } => {
                write!(f, "unknown pickle opcode 0x{opcode:02x} at offset {offset}")
            }
            PickleError::Protocol(p) => write!(f, "unsupported pickle protocol {p}"),
            PickleError::Truncated { offset } => {
                write!(f, "pickle truncated (opcode at offset {offset})")
            }
            PickleError::TrailingBytes { count } => {
                write!(f, "{count} trailing bytes after the pickle's stop opcode")
            }
            PickleError::Malformed { offset, reason } => {
                write!(f, "malformed pickle at offset {offset}: {reason}")
            }
            PickleError::InvalidUtf8 { offset } => {
                write!(f, "pickled str at offset {offset} is not valid utf-8")
            }
            PickleError::Recursive => f.write_str("pickled value contains itself"),
            PickleError::TooDeep { limit } => {
                write!(f, "containers nested deeper than {limit}")
            }
            PickleError::TooLarge { limit } => {
                write!(f, "decoded value would exceed {limit} bytes")
            }
            PickleError::IntegerTooLarge => f.write_str("integer does not fit in 128 bits"),
            PickleError::Custom(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for PickleError {}

impl serde::de::Error for PickleError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        PickleError::Custom(msg.to_string())
    }
}

impl serde::ser::Error for PickleError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        PickleError::Custom(msg.to_string())
    }
}

/// Why [`Connection::recv_pickle`](crate::Connection::recv_pickle) failed.
///
/// ```
/// use multiproc_ipc::Pipe;
/// use multiproc_ipc::pickle::PickleRecvError;
/// let (a, b) = Pipe::duplex()?;
/// a.send_bytes(b"not a pickle")?;
/// assert!(matches!(b.recv_pickle::<i64>(), Err(PickleRecvError::Pickle(_))));
/// drop(a);
/// assert!(matches!(b.recv_pickle::<i64>(), Err(PickleRecvError::Recv(_)))); // end of file
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum PickleRecvError {
    /// No frame could be read (end of file, timeout, too large, …).
    Recv(RecvError),
    /// A frame arrived but was refused or does not decode as the requested type.
    Pickle(PickleError),
}

impl fmt::Display for PickleRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PickleRecvError::Recv(_) => f.write_str("no pickled frame could be received"),
            PickleRecvError::Pickle(_) => f.write_str("received pickle refused"),
        }
    }
}

impl std::error::Error for PickleRecvError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PickleRecvError::Recv(e) => Some(e),
            PickleRecvError::Pickle(e) => Some(e),
        }
    }
}

impl From<RecvError> for PickleRecvError {
    fn from(e: RecvError) -> Self {
        PickleRecvError::Recv(e)
    }
}

impl From<PickleError> for PickleRecvError {
    fn from(e: PickleError) -> Self {
        PickleRecvError::Pickle(e)
    }
}

/// Why [`Connection::send_pickle`](crate::Connection::send_pickle) failed.
///
/// ```
/// use multiproc_ipc::Pipe;
/// use multiproc_ipc::pickle::PickleSendError;
/// let (a, b) = Pipe::duplex()?;
/// a.send_pickle(&1_i64)?;
/// assert_eq!(b.recv_pickle::<i64>()?, 1);
/// drop(b);
/// assert!(matches!(a.send_pickle(&2_i64), Err(PickleSendError::Send(_)))); // the peer is gone
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum PickleSendError {
    /// The value could not be pickled; nothing was sent.
    Pickle(PickleError),
    /// The frame could not be written.
    Send(SendError),
}

impl fmt::Display for PickleSendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PickleSendError::Pickle(_) => f.write_str("value could not be pickled"),
            PickleSendError::Send(_) => f.write_str("pickled frame could not be sent"),
        }
    }
}

impl std::error::Error for PickleSendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PickleSendError::Send(e) => Some(e),
            PickleSendError::Pickle(e) => Some(e),
        }
    }
}

impl From<SendError> for PickleSendError {
    fn from(e: SendError) -> Self {
        PickleSendError::Send(e)
    }
}

impl From<PickleError> for PickleSendError {
    fn from(e: PickleError) -> Self {
        PickleSendError::Pickle(e)
    }
}
