//! A data-only pickle codec: talk to a CPython peer's `conn.send(obj)` / `conn.recv()`.
//!
//! CPython's `Connection.send(obj)` writes `pickle.dumps(obj)` (protocol 4 in 3.11)
//! as one frame. [`Connection::recv_pickle`] reads such a frame into any serde type
//! (or into a dynamic [`PickleValue`]), and [`Connection::send_pickle`] writes a frame
//! CPython's `recv()` reads (protocol 4). [`to_vec`] and [`from_slice`] are the same
//! codec without a connection.
//!
//! ```
//! use std::collections::BTreeMap;
//! use multiproc_ipc::{Pipe, pickle::{self, PickleValue}};
//!
//! let (a, b) = Pipe::duplex()?;
//! let mut m = BTreeMap::new();
//! m.insert("answer".to_string(), (42u64, vec![1.5f64]));
//! a.send_pickle(&m)?;
//! let back: BTreeMap<String, (u64, Vec<f64>)> = b.recv_pickle()?;
//! assert_eq!(back, m);
//!
//! // What CPython's pickle.dumps((1, 'é', None), protocol=4) writes:
//! let p = b"\x80\x04\x95\x0b\x00\x00\x00\x00\x00\x00\x00K\x01\x8c\x02\xc3\xa9\x94N\x87\x94.";
//! let v: PickleValue = pickle::from_slice(p)?;
//! assert_eq!(v.to_string(), "(1, 'é', None)");
//!
//! // The classic hostile pickle, `os.system('…')`: refused before anything is built.
//! let evil = b"cos\nsystem\n(S'touch /tmp/pwned'\ntR.";
//! let err = pickle::from_slice::<PickleValue>(evil).unwrap_err();
//! assert!(matches!(err, pickle::PickleError::Forbidden { name: "GLOBAL", .. }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What is read
//! `None`, `bool`, `int` (any size: into `i128`/`u128` where it fits, a typed error
//! otherwise, or a [`BigInt`] in a `PickleValue`), `float`, `str`, `bytes` (and a
//! `bytearray` pickled with protocol 5), `list`, `tuple`, `dict`, `set` and `frozenset`,
//! nested freely, with shared references (the memo) — the binary opcodes of protocols
//! 1–5, which is what CPython 3 writes for these types with protocols 3 to 5.
//!
//! # What is refused, and why
//! A pickle is a program for a stack machine, and some of its instructions import a
//! name and call it: `pickle.loads` of a hostile frame runs any code its author likes.
//! This codec runs no code, ever: a scan of the whole frame refuses it with
//! [`PickleError::Forbidden`] at the first opcode that imports or calls (`GLOBAL`,
//! `STACK_GLOBAL`, `REDUCE`, `BUILD`, `INST`, `OBJ`, `NEWOBJ`, `NEWOBJ_EX`, `EXT1/2/4`,
//! `PERSID`, `BINPERSID`), before any value is built. That refuses instances of
//! classes, and also data CPython pickles through a call: `bytearray` with protocols
//! below 5, `bytes` and `set` with protocol 2 (`_codecs.encode`, `__builtin__.set`),
//! `datetime`, `Decimal`, `OrderedDict`, numpy arrays — send those as plain data.
//! The text opcodes of protocol 0, Python 2 strings and out-of-band buffers are
//! [`PickleError::Unsupported`].
//!
//! # Limits
//! Nothing on the input can make the decoder panic, recurse or allocate without bound:
//! every length is checked against the bytes that remain before anything is read; the
//! stack machine makes at most one object per opcode; nesting is bounded by
//! [`Limits::max_depth`] ([`PickleError::TooDeep`]); a value that refers to itself is
//! [`PickleError::Recursive`]; and the machine's objects, stack and memo, with the
//! tree built from them (which copies an object the pickle refers to many times),
//! count against [`Limits::max_size`] ([`PickleError::TooLarge`]). A frame is also
//! bounded by the connection's [`max_frame`](crate::Connection::max_frame).
//!
//! # Differences from CPython
//! Sets and dicts are not hashed: items keep the pickle's order, duplicates are not
//! removed, and unhashable keys are not detected (CPython's pickler never writes
//! either). Writing, a Rust map with sequence keys becomes a `dict` with `list` keys
//! that CPython refuses (`TypeError: unhashable type`); use tuples as keys.
//! A `str` with lone surrogates (valid in Python) is [`PickleError::InvalidUtf8`].
//! serde has no set type: a `HashSet` is written as a `list`; write a
//! [`PickleValue::Set`] for a Python `set`.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Connection;

mod de;
mod decode;
mod error;
mod ser;
mod value;

pub use error::{PickleError, PickleRecvError, PickleSendError};
pub use value::{BigInt, PickleValue};

/// Newtype names that let `PickleValue` tell the pickle serializer and deserializer
/// what serde's data model has no word for.
const MAGIC_SET: &str = "$multiproc_ipc::pickle::Set";
const MAGIC_FROZENSET: &str = "$multiproc_ipc::pickle::FrozenSet";
const MAGIC_BIGINT: &str = "$multiproc_ipc::pickle::BigInt";
const MAGIC_VALUE: &str = "$multiproc_ipc::pickle::Value";

/// Bounds on what decoding (and encoding) may build.
///
/// ```
/// use multiproc_ipc::pickle::{self, Limits, PickleError, PickleValue};
/// // [[[1]]] is three lists deep.
/// let p = pickle::to_vec(&vec![vec![vec![1u8]]])?;
/// let tight = Limits::default().with_max_depth(2);
/// let r = pickle::from_slice_with::<PickleValue>(&p, &tight);
/// assert!(matches!(r, Err(PickleError::TooDeep { limit: 2 })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Containers nested deeper than this are refused (default 128, as `serde_json`).
    pub max_depth: usize,
    /// The decoder's memory in bytes, approximately (default 1 GiB): the stack
    /// machine's objects, stack and memo, then the tree it builds — where copies of
    /// objects the pickle refers to many times count in full.
    pub max_size: usize,
}

impl Limits {
    /// These limits with `max_depth` instead.
    ///
    /// ```
    /// use multiproc_ipc::pickle::{self, Limits, PickleValue};
    /// let p = pickle::to_vec(&vec![vec![1_u8]])?; // two lists deep
    /// assert!(pickle::from_slice_with::<PickleValue>(&p, &Limits::default().with_max_depth(1)).is_err());
    /// assert!(pickle::from_slice_with::<PickleValue>(&p, &Limits::default().with_max_depth(2)).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub const fn with_max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }

    /// These limits with `max_size` instead.
    ///
    /// ```
    /// use multiproc_ipc::pickle::{self, Limits};
    /// let p = pickle::to_vec(&vec![0_u32; 1000])?;
    /// assert!(pickle::from_slice_with::<Vec<u32>>(&p, &Limits::default().with_max_size(64)).is_err());
    /// assert_eq!(pickle::from_slice_with::<Vec<u32>>(&p, &Limits::default())?.len(), 1000);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub const fn with_max_size(mut self, max_size: usize) -> Self {
        self.max_size = max_size;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 128,
            max_size: 1 << 30,
        }
    }
}

/// Pickles `value` (protocol 4, which CPython reads since 3.4).
///
/// ```
/// let p = multiproc_ipc::pickle::to_vec(&(1u8, "a"))?;
/// assert_eq!(p, b"\x80\x04(K\x01\x8c\x01at.");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`PickleError::TooDeep`] when `value` nests deeper than
/// [`Limits::max_depth`]'s default, [`PickleError::Custom`] from its `Serialize`.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, PickleError> {
    let mut enc = ser::Encoder::new(Limits::default().max_depth);
    value.serialize(&mut enc)?;
    enc.out.push(b'.');
    Ok(enc.out)
}

/// Unpickles `bytes` as a `T`, with the default [`Limits`].
///
/// ```
/// let v: Vec<Option<i64>> = multiproc_ipc::pickle::from_slice(b"\x80\x04]\x94(K\x01Ne.")?;
/// assert_eq!(v, [Some(1), None]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// A [`PickleError`]: the pickle was refused (forbidden or unsupported opcode,
/// truncated, malformed, over a limit), or its value is not a `T`.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, PickleError> {
    from_slice_with(bytes, &Limits::default())
}

/// [`from_slice`] with explicit [`Limits`].
///
/// # Errors
/// As [`from_slice`].
///
/// ```
/// use multiproc_ipc::pickle::{self, Limits};
/// let p = pickle::to_vec(&("a", 1_i64))?;
/// let v: (String, i64) = pickle::from_slice_with(&p, &Limits::default())?;
/// assert_eq!(v, ("a".to_owned(), 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn from_slice_with<T: DeserializeOwned>(
    bytes: &[u8],
    limits: &Limits,
) -> Result<T, PickleError> {
    let value = decode::decode(bytes, limits)?;
    T::deserialize(de::ValueDe(value))
}

/// Converts a [`PickleValue`] into a `T` (as `serde_json::from_value`).
///
/// ```
/// use multiproc_ipc::pickle::{self, PickleValue};
/// let v = PickleValue::Tuple(vec![PickleValue::Int(7), PickleValue::Bool(true)]);
/// let t: (u8, bool) = pickle::from_value(v)?;
/// assert_eq!(t, (7, true));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`PickleError::Custom`] when the value is not a `T`.
pub fn from_value<T: DeserializeOwned>(value: PickleValue) -> Result<T, PickleError> {
    T::deserialize(de::ValueDe(value))
}

/// The pickle forms of send and receive: frames a CPython peer's `send()` wrote and
/// its `recv()` reads. See the [module docs](self) for what is read and refused.
impl Connection {
    /// Pickles `value` and sends it as one frame (CPython's `send(obj)`).
    ///
    /// # Errors
    /// [`PickleSendError::Pickle`] when `value` cannot be pickled (nothing is sent),
    /// [`PickleSendError::Send`] as [`send_bytes`](Self::send_bytes).
    ///
    /// ```
    /// use multiproc_ipc::Pipe;
    /// let (a, b) = Pipe::duplex()?;
    /// a.send_pickle(&vec!["x", "y"])?; // what CPython's `conn.send(['x', 'y'])` writes
    /// assert_eq!(b.recv_pickle::<Vec<String>>()?, ["x", "y"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_pickle<T: Serialize + ?Sized>(&self, value: &T) -> Result<(), PickleSendError> {
        let bytes = to_vec(value)?;
        Ok(self.send_bytes(&bytes)?)
    }

    /// [`send_pickle`](Self::send_pickle) bounded by `timeout`, as
    /// [`send_timeout`](Self::send_timeout).
    ///
    /// # Errors
    /// As [`send_pickle`](Self::send_pickle), plus [`SendError::Timeout`](crate::SendError::Timeout).
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_ipc::Pipe;
    /// let (a, b) = Pipe::duplex()?;
    /// a.send_pickle_timeout(&1.5_f64, Duration::from_secs(60))?;
    /// assert_eq!(b.recv_pickle::<f64>()?, 1.5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_pickle_timeout<T: Serialize + ?Sized>(
        &self,
        value: &T,
        timeout: Duration,
    ) -> Result<(), PickleSendError> {
        let deadline = Instant::now().checked_add(timeout);
        let bytes = to_vec(value)?;
        let left = deadline.map_or(timeout, |d| d.saturating_duration_since(Instant::now()));
        Ok(self.send_bytes_timeout(&bytes, left)?)
    }

    /// Receives one frame and unpickles it as `T` (CPython's `recv()`), blocking until
    /// it arrives. A refused frame is consumed: the connection stays usable.
    ///
    /// ```
    /// use multiproc_ipc::Pipe;
    /// use multiproc_ipc::pickle::{PickleError, PickleRecvError, PickleValue};
    ///
    /// let (a, b) = Pipe::duplex()?;
    /// a.send_bytes(b"\x80\x04\x8c\x02os\x8c\x06system\x93\x8c\x04true\x85R.")?; // os.system('true')
    /// a.send_pickle(&("ok", 1u8))?;
    /// let r = b.recv_pickle::<PickleValue>();
    /// assert!(matches!(r, Err(PickleRecvError::Pickle(PickleError::Forbidden { .. }))));
    /// assert_eq!(b.recv_pickle::<(String, u8)>()?, ("ok".to_string(), 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`PickleRecvError::Recv`] as [`recv_bytes`](Self::recv_bytes);
    /// [`PickleRecvError::Pickle`] when the frame is refused or is not a `T`.
    pub fn recv_pickle<T: DeserializeOwned>(&self) -> Result<T, PickleRecvError> {
        let bytes = self.recv_bytes()?;
        Ok(from_slice(&bytes)?)
    }

    /// [`recv_pickle`](Self::recv_pickle) that gives up with
    /// [`RecvError::Timeout`](crate::RecvError::Timeout) after `timeout`; as with
    /// [`recv_timeout`](Self::recv_timeout), a frame cut by the deadline is kept and
    /// the next receive resumes it.
    ///
    /// # Errors
    /// As [`recv_pickle`](Self::recv_pickle), plus the timeout.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_ipc::Pipe;
    /// let (a, b) = Pipe::duplex()?;
    /// assert!(b.recv_pickle_timeout::<i64>(Duration::from_millis(10)).is_err()); // nothing came
    /// a.send_pickle(&3_i64)?;
    /// assert_eq!(b.recv_pickle_timeout::<i64>(Duration::from_secs(60))?, 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv_pickle_timeout<T: DeserializeOwned>(
        &self,
        timeout: Duration,
    ) -> Result<T, PickleRecvError> {
        let bytes = self.recv_bytes_timeout(timeout)?;
        Ok(from_slice(&bytes)?)
    }

    /// [`recv_pickle`](Self::recv_pickle) that returns
    /// [`RecvError::Timeout`](crate::RecvError::Timeout) at once when no whole frame is
    /// waiting (see [`try_recv`](Self::try_recv)).
    ///
    /// # Errors
    /// As [`recv_pickle_timeout`](Self::recv_pickle_timeout).
    ///
    /// ```
    /// use multiproc_ipc::Pipe;
    /// let (a, b) = Pipe::duplex()?;
    /// assert!(b.try_recv_pickle::<i64>().is_err()); // nothing yet: no wait
    /// a.send_pickle(&3_i64)?;
    /// assert_eq!(b.try_recv_pickle::<i64>()?, 3); // a socketpair delivers at once
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_recv_pickle<T: DeserializeOwned>(&self) -> Result<T, PickleRecvError> {
        self.recv_pickle_timeout(Duration::ZERO)
    }
}

#[cfg(test)]
mod send_sync {
    fn is_send_sync<T: Send + Sync>() {}

    #[test]
    fn public_types_are_send_and_sync() {
        is_send_sync::<super::PickleValue>();
        is_send_sync::<super::BigInt>();
        is_send_sync::<super::Limits>();
        is_send_sync::<super::PickleError>();
        is_send_sync::<super::PickleRecvError>();
        is_send_sync::<super::PickleSendError>();
    }
}
