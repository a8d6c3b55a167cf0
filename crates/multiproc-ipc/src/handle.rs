//! How values that hold OS handles cross into another process.
//!
//! This is multiproc's counterpart of CPython's `reduction.py`. A type that owns a
//! file descriptor (a [`Connection`](crate::Connection), a [`SharedSegment`](crate::SharedSegment),
//! and in the crates above a lock, a queue, a proxy…) implements `serde::Serialize` by
//! calling [`serialize_fd`] for each descriptor it owns and `Deserialize` by calling
//! [`deserialize_fd`]. The descriptor itself never enters the byte stream: while
//! [`encode`] (or [`Connection::send`](crate::Connection::send)) runs, a thread-local
//! *handle table* collects a duplicate of each descriptor and the bytes carry only its
//! index in that table. The table travels beside the bytes — as `SCM_RIGHTS` ancillary
//! data over a Unix socket, or inherited across `fork` — and [`decode`] hands each
//! index back as an [`OwnedFd`] in the receiving process.
//!
//! Every duplicate is made with `F_DUPFD_CLOEXEC`, and every received descriptor with
//! `MSG_CMSG_CLOEXEC`: a handle reaches exactly the processes it was sent to.
//! Handles that arrive but are not claimed by the decoded value are closed.
//!
//! ```
//! use multiproc_ipc::{encode, decode, Pipe};
//!
//! let (a, b) = Pipe::duplex()?;
//! // Encode a connection end together with some data: the fd travels out of band.
//! let (bytes, fds) = encode(&(7u32, b))?;
//! assert_eq!(fds.len(), 1);
//! let (n, b2): (u32, multiproc_ipc::Connection) = decode(&bytes, fds)?;
//! assert_eq!(n, 7);
//! a.send(&"over the passed end")?;
//! assert_eq!(b2.recv::<String>()?, "over the passed end");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::cell::RefCell;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde::ser::{Error as _, Serializer};
use serde::{Deserialize, Serialize};

use crate::depth::{Budget, Limited};
use crate::error::CodecError;

/// Most handles one frame may carry (the kernel's `SCM_MAX_FD`).
///
/// ```
/// use std::os::fd::OwnedFd;
/// use multiproc_ipc::{MAX_HANDLES, PassFd, encode};
/// let fds: Vec<PassFd> = (0..=MAX_HANDLES)
///     .map(|_| std::fs::File::open("/dev/null").map(|f| PassFd::from(OwnedFd::from(f))))
///     .collect::<Result<_, _>>()?;
/// assert!(encode(&fds).is_err()); // one more than a frame may carry
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const MAX_HANDLES: usize = 253;

thread_local! {
    static SINK: RefCell<Option<Vec<OwnedFd>>> = const { RefCell::new(None) };
    static SOURCE: RefCell<Option<Vec<Option<OwnedFd>>>> = const { RefCell::new(None) };
}

/// Records `fd` in the handle table of the [`encode`] in progress and serializes its index.
///
/// Call it from the `Serialize` impl of a type that owns a descriptor. Outside an
/// `encode`/`Connection::send` it fails with [`CodecError::NoHandleContext`]'s message,
/// so such a value cannot silently be written to a file or a TCP peer as a number.
///
/// ```
/// use std::os::fd::{AsFd, OwnedFd};
/// use serde::{Serialize, Serializer, Deserialize, Deserializer};
///
/// /// A file descriptor that can be sent to another process.
/// struct Passable(OwnedFd);
/// impl Serialize for Passable {
///     fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
///         multiproc_ipc::serialize_fd(self.0.as_fd(), s)
///     }
/// }
/// impl<'de> Deserialize<'de> for Passable {
///     fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
///         multiproc_ipc::deserialize_fd(d).map(Passable)
///     }
/// }
/// let file: OwnedFd = std::fs::File::open("/dev/null")?.into();
/// let (bytes, fds) = multiproc_ipc::encode(&Passable(file))?;
/// let back: Passable = multiproc_ipc::decode(&bytes, fds)?;
/// # let _ = back;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// No handle context is active, the frame already carries [`MAX_HANDLES`], or
/// `fcntl(F_DUPFD_CLOEXEC)` failed.
pub fn serialize_fd<S: Serializer>(fd: BorrowedFd<'_>, serializer: S) -> Result<S::Ok, S::Error> {
    let index = SINK.with(|sink| {
        let mut sink = sink.borrow_mut();
        let Some(table) = sink.as_mut() else {
            return Err(CodecError::NoHandleContext);
        };
        if table.len() >= MAX_HANDLES {
            return Err(CodecError::TooManyHandles(table.len() + 1));
        }
        let dup = fd.try_clone_to_owned().map_err(CodecError::Io)?;
        table.push(dup);
        Ok((table.len() - 1) as u32)
    });
    match index {
        Ok(i) => HandleIndex(i).serialize(serializer),
        Err(e) => {
            let msg = e.to_string();
            note_error(e);
            Err(S::Error::custom(msg))
        }
    }
}

/// Takes the descriptor whose index is next in the input out of the handle table of the
/// [`decode`] in progress. The counterpart of [`serialize_fd`].
///
/// # Errors
/// No handle context is active, the index is out of range, or the handle was claimed
/// already.
///
/// ```
/// use std::os::fd::{AsFd, OwnedFd};
/// use serde::{Deserialize, Serialize};
/// #[derive(Serialize, Deserialize)]
/// struct Carried {
///     #[serde(serialize_with = "ser", deserialize_with = "multiproc_ipc::deserialize_fd")]
///     fd: OwnedFd,
/// }
/// fn ser<S: serde::Serializer>(fd: &OwnedFd, s: S) -> Result<S::Ok, S::Error> {
///     multiproc_ipc::serialize_fd(fd.as_fd(), s)
/// }
/// let fd: OwnedFd = std::fs::File::open("/dev/null")?.into();
/// let (bytes, fds) = multiproc_ipc::encode(&Carried { fd })?;
/// assert_eq!(fds.len(), 1);
/// let _back: Carried = multiproc_ipc::decode(&bytes, fds)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn deserialize_fd<'de, D: Deserializer<'de>>(deserializer: D) -> Result<OwnedFd, D::Error> {
    let HandleIndex(index) = HandleIndex::deserialize(deserializer)?;
    SOURCE.with(|source| {
        let mut source = source.borrow_mut();
        let fail = |e: CodecError| {
            let msg = e.to_string();
            note_error(e);
            D::Error::custom(msg)
        };
        let Some(table) = source.as_mut() else {
            return Err(fail(CodecError::NoHandleContext));
        };
        let available = table.len();
        table
            .get_mut(index as usize)
            .and_then(Option::take)
            .ok_or_else(|| fail(CodecError::MissingHandle { index, available }))
    })
}

#[derive(Serialize, Deserialize)]
#[serde(rename = "multiproc::Handle")]
struct HandleIndex(u32);

/// Restores the previous sink even if serialization panics.
struct SinkScope(Option<Vec<OwnedFd>>);

impl SinkScope {
    fn enter() -> Self {
        SinkScope(SINK.with(|s| s.borrow_mut().replace(Vec::new())))
    }
    fn finish(mut self) -> Vec<OwnedFd> {
        let prev = self.0.take();
        SINK.with(|s| std::mem::replace(&mut *s.borrow_mut(), prev))
            .unwrap_or_default()
    }
}

impl Drop for SinkScope {
    fn drop(&mut self) {
        let prev = self.0.take();
        SINK.with(|s| *s.borrow_mut() = prev);
    }
}

struct SourceScope(Option<Vec<Option<OwnedFd>>>);

impl SourceScope {
    fn enter(fds: Vec<OwnedFd>) -> Self {
        let table = fds.into_iter().map(Some).collect();
        SourceScope(SOURCE.with(|s| s.borrow_mut().replace(table)))
    }
}

impl Drop for SourceScope {
    fn drop(&mut self) {
        // Unclaimed handles are dropped (closed) here.
        let prev = self.0.take();
        SOURCE.with(|s| *s.borrow_mut() = prev);
    }
}

/// Serializes `value` with postcard into `out` (appending), collecting the handles it
/// holds. The bytes carry data only; the returned descriptors must travel beside them.
///
/// # Errors
/// See [`CodecError`].
///
/// ```
/// use multiproc_ipc::{decode, encode_into};
/// let mut out = Vec::new();
/// let fds = encode_into(&42_u64, &mut out)?;
/// assert_eq!(decode::<u64>(&out, fds)?, 42);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn encode_into<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<Vec<OwnedFd>, CodecError> {
    let bytes = std::mem::take(out);
    let (bytes, fds) = encode_with(value, VecFlavor(bytes))?;
    *out = bytes;
    Ok(fds)
}

/// Serializes `value` with postcard through `flavor`, collecting the handles it holds
/// (the machinery of [`encode_into`], for the crate's other output flavors:
/// `crate::split`).
pub(crate) fn encode_with<T: Serialize + ?Sized, F: postcard::ser_flavors::Flavor>(
    value: &T,
    flavor: F,
) -> Result<(F::Output, Vec<OwnedFd>), CodecError> {
    let scope = SinkScope::enter();
    forget_error();
    match postcard::serialize_with_flavor(value, flavor) {
        Ok(out) => Ok((out, scope.finish())),
        Err(e) => Err(unwrap_custom(e)),
    }
}

/// postcard's output into a `Vec<u8>`: `push` per byte and `extend_from_slice` (a
/// `memcpy`) per run of bytes. postcard's own `to_extend` goes through `Extend`
/// (`extend([byte])`, `extend(iter.copied())`), which costs more per call; a plain
/// `Vec<u8>`/`Vec<f64>` is encoded one element (one call) at a time, so that cost is
/// paid a million times for 1 MiB.
struct VecFlavor(Vec<u8>);

impl postcard::ser_flavors::Flavor for VecFlavor {
    type Output = Vec<u8>;

    #[inline]
    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.push(data);
        Ok(())
    }

    #[inline]
    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<Vec<u8>> {
        Ok(self.0)
    }
}

/// Serializes `value` to postcard bytes plus the handles it holds.
///
/// # Errors
/// See [`CodecError`].
///
/// ```
/// use multiproc_ipc::{decode, encode};
/// let (bytes, fds) = encode(&("text", 3_u16))?;
/// assert!(fds.is_empty()); // no descriptor inside
/// assert_eq!(decode::<(String, u16)>(&bytes, fds)?, ("text".to_owned(), 3));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<(Vec<u8>, Vec<OwnedFd>), CodecError> {
    let mut out = Vec::new();
    let fds = encode_into(value, &mut out)?;
    Ok((out, fds))
}

/// Deserializes a value from postcard bytes and the handles that travelled with them.
/// All of `bytes` must be consumed; handles the value does not claim are closed.
///
/// A value nested deeper than [`DEFAULT_MAX_DEPTH`](crate::DEFAULT_MAX_DEPTH) levels
/// is refused with [`CodecError::TooDeep`] (a recursive type would otherwise decode
/// recursively as deep as the bytes say, and overflow the stack); see
/// [`decode_with_max_depth`] to choose the limit.
///
/// # Errors
/// Invalid bytes, trailing bytes, a value nested too deep, or a handle index with no
/// handle.
///
/// ```
/// use multiproc_ipc::{decode, encode};
/// let (bytes, fds) = encode(&vec![1_i32, -1])?;
/// assert_eq!(decode::<Vec<i32>>(&bytes, fds)?, [1, -1]);
/// assert!(decode::<Vec<i32>>(&bytes[..1], Vec::new()).is_err()); // truncated
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn decode<T: DeserializeOwned>(bytes: &[u8], fds: Vec<OwnedFd>) -> Result<T, CodecError> {
    decode_with_max_depth(bytes, fds, crate::DEFAULT_MAX_DEPTH)
}

/// [`decode`] with a nesting limit of `max_depth` levels instead of
/// [`DEFAULT_MAX_DEPTH`](crate::DEFAULT_MAX_DEPTH). Each sequence, tuple, map, struct,
/// enum, `Some` and newtype struct entered is one level, so a depth-3 value is, for
/// example, `Some(vec![(1u8, 2u8)])`.
///
/// ```
/// use multiproc_ipc::{CodecError, decode_with_max_depth, encode};
/// let (bytes, _) = encode(&Some(vec![(1u8, 2u8)]))?;
/// let v: Option<Vec<(u8, u8)>> = decode_with_max_depth(&bytes, Vec::new(), 3)?;
/// assert_eq!(v, Some(vec![(1, 2)]));
/// let err = decode_with_max_depth::<Option<Vec<(u8, u8)>>>(&bytes, Vec::new(), 2).unwrap_err();
/// assert!(matches!(err, CodecError::TooDeep { limit: 2 }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`decode`].
pub fn decode_with_max_depth<T: DeserializeOwned>(
    bytes: &[u8],
    fds: Vec<OwnedFd>,
    max_depth: usize,
) -> Result<T, CodecError> {
    let _scope = SourceScope::enter(fds);
    forget_error();
    let budget = Budget::new(max_depth);
    let mut de = postcard::Deserializer::from_bytes(bytes);
    let r = T::deserialize(Limited {
        de: &mut de,
        budget: &budget,
    })
    .and_then(|v| Ok((v, de.finalize()?)));
    if budget.exceeded() {
        // Even if some `Deserialize` impl caught the refusal: the bytes went too deep.
        return Err(CodecError::TooDeep { limit: max_depth });
    }
    match r {
        Ok((v, [])) => Ok(v),
        Ok((_, rest)) => Err(CodecError::TrailingBytes(rest.len())),
        Err(e) => Err(unwrap_custom(e)),
    }
}

/// postcard folds custom errors into `SerdeSerCustom`/`SerdeDeCustom` without text;
/// recover ours — typed, as [`serialize_fd`]/[`deserialize_fd`] raised it — from the
/// thread-local where it was left. Any other postcard error is postcard's own: a
/// note left behind by an error that some `Serialize` impl caught is not taken for it.
fn unwrap_custom(e: postcard::Error) -> CodecError {
    let noted = LAST_ERROR.with(|c| c.borrow_mut().take());
    match (e, noted) {
        (postcard::Error::SerdeSerCustom | postcard::Error::SerdeDeCustom, Some(n)) => n,
        (e, _) => CodecError::Postcard(e),
    }
}

thread_local! {
    /// The last error raised through `custom` during the current encode/decode.
    static LAST_ERROR: RefCell<Option<CodecError>> = const { RefCell::new(None) };
}

fn note_error(e: CodecError) {
    LAST_ERROR.with(|c| *c.borrow_mut() = Some(e));
}

/// Drops a note left by an earlier encode/decode whose error was caught before
/// reaching [`unwrap_custom`].
fn forget_error() {
    LAST_ERROR.with(|c| c.borrow_mut().take());
}

/// Remembers the text of a custom serde error so that it survives postcard's error
/// type, which keeps no message: the encode or decode then fails with
/// [`CodecError::Custom`] carrying it. For crates above that raise their own errors
/// from a `Serialize`/`Deserialize` impl through `serde::ser::Error::custom`.
/// ([`serialize_fd`]/[`deserialize_fd`] keep their errors typed:
/// [`CodecError::MissingHandle`], [`CodecError::TooManyHandles`], …)
///
/// ```
/// use serde::{Serialize, Serializer, ser::Error as _};
/// struct Refuses;
/// impl Serialize for Refuses {
///     fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
///         multiproc_ipc::handle::note_custom_error("not today");
///         Err(S::Error::custom("not today"))
///     }
/// }
/// let err = multiproc_ipc::encode(&Refuses).unwrap_err();
/// assert!(matches!(err, multiproc_ipc::CodecError::Custom(ref m) if m == "not today"));
/// ```
pub fn note_custom_error(msg: impl std::fmt::Display) {
    note_error(CodecError::Custom(msg.to_string()));
}

/// A descriptor that serializes through the handle table: the building block for
/// passable types. It is an [`OwnedFd`] that can be sent.
///
/// ```
/// use multiproc_ipc::PassFd;
/// let f: std::os::fd::OwnedFd = std::fs::File::open("/dev/null")?.into();
/// let (bytes, fds) = multiproc_ipc::encode(&PassFd::from(f))?;
/// let back: PassFd = multiproc_ipc::decode(&bytes, fds)?;
/// let _fd: std::os::fd::OwnedFd = back.into();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct PassFd(OwnedFd);

impl From<OwnedFd> for PassFd {
    fn from(fd: OwnedFd) -> Self {
        PassFd(fd)
    }
}

impl From<PassFd> for OwnedFd {
    fn from(fd: PassFd) -> Self {
        fd.0
    }
}

impl AsFd for PassFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl Serialize for PassFd {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_fd(self.0.as_fd(), s)
    }
}

impl<'de> Deserialize<'de> for PassFd {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_fd(d).map(PassFd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_outside_context_is_an_error() {
        let f: OwnedFd = std::fs::File::open("/dev/null").unwrap().into();
        let err = postcard::to_stdvec(&PassFd(f)).unwrap_err();
        assert!(matches!(err, postcard::Error::SerdeSerCustom));
    }

    #[test]
    fn missing_handle_is_an_error() {
        let f: OwnedFd = std::fs::File::open("/dev/null").unwrap().into();
        let (bytes, _fds) = encode(&PassFd(f)).unwrap();
        let err = decode::<PassFd>(&bytes, Vec::new()).unwrap_err();
        assert!(
            matches!(
                err,
                CodecError::MissingHandle {
                    index: 0,
                    available: 0
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn a_stale_note_is_not_taken_for_a_later_error() {
        // A note left behind by an error that was caught, then a truncated payload:
        // postcard's own error, not the stale note.
        note_custom_error("stale");
        let err = decode::<(u64, u64)>(&[1], Vec::new()).unwrap_err();
        assert!(matches!(err, CodecError::Postcard(_)), "{err:?}");
        // Within one decode, a note does not label a non-custom postcard error either.
        note_custom_error("caught elsewhere");
        let err = unwrap_custom(postcard::Error::DeserializeUnexpectedEnd);
        assert!(matches!(err, CodecError::Postcard(_)), "{err:?}");
    }

    #[test]
    fn trailing_bytes_are_an_error() {
        let (mut bytes, fds) = encode(&5u8).unwrap();
        bytes.push(0);
        assert!(matches!(
            decode::<u8>(&bytes, fds),
            Err(CodecError::TrailingBytes(1))
        ));
    }
}

/// Serializes a borrowed descriptor through the handle table (for `Serialize` impls
/// that hold an `OwnedFd` but want tuple-style encoding).
///
/// ```
/// use std::os::fd::AsFd;
/// use multiproc_ipc::{PassFd, PassFdRef, decode, encode};
/// let file = std::fs::File::open("/dev/null")?;
/// let (bytes, fds) = encode(&PassFdRef(file.as_fd()))?;
/// assert_eq!(fds.len(), 1); // a duplicate travels beside the bytes; `file` stays open
/// let _back: PassFd = decode(&bytes, fds)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct PassFdRef<'a>(pub BorrowedFd<'a>);

impl Serialize for PassFdRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_fd(self.0, s)
    }
}
