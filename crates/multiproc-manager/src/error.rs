//! Error types of `multiproc-manager`.

use std::fmt;
use std::io;

use serde::{Deserialize, Serialize};

pub(crate) const OWNER_DIED_MSG: &str = "the previous holder vanished while holding it; the server released it and the caller holds it now";

/// A [`Value`](crate::Value) was not of the Rust type asked for (a typed proxy read a value of another
/// type, or an argument did not fit). Never a panic, never garbage.
///
/// ```
/// use multiproc_manager::{Error, Manager, TypeMismatch, Value};
///
/// let manager = Manager::in_thread()?;
/// match manager.convert::<i64>(Value::from("1")) {
///     Err(Error::Type(TypeMismatch { found, .. })) => assert!(found.starts_with("str")),
///     other => panic!("expected a type mismatch, got {other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeMismatch {
    /// The Rust type that was wanted.
    pub expected: &'static str,
    /// What was found, in Python's terms (`"str '1'"`).
    pub found: String,
}

impl TypeMismatch {
    pub(crate) fn new(expected: &'static str, found: String) -> Self {
        TypeMismatch { expected, found }
    }
}

impl fmt::Display for TypeMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected {}, found {}", self.expected, self.found)
    }
}

impl std::error::Error for TypeMismatch {}

/// The class of an error raised by the server, named after the Python exception that
/// CPython's manager would raise.
///
/// ```
/// use multiproc_manager::{Error, Manager, RemoteErrorKind};
///
/// let manager = Manager::in_thread()?;
/// let list = manager.list_of::<i64>()?;
/// let Err(Error::Remote(e)) = list.pop() else { panic!("expected an IndexError") };
/// assert_eq!(e.kind, RemoteErrorKind::IndexError);
/// assert!(list.pop_at(3).unwrap_err().remote_kind() == Some(RemoteErrorKind::IndexError));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RemoteErrorKind {
    /// A missing dict key (`KeyError`).
    KeyError,
    /// A list index out of range, or `pop` from an empty list (`IndexError`).
    IndexError,
    /// `list.remove`/`index` of an absent value (`ValueError`), or a bad argument.
    ValueError,
    /// An unhashable key, incomparable values in `sort`, a wrong argument type (`TypeError`).
    TypeError,
    /// A `Namespace` attribute that was never set (`AttributeError`).
    AttributeError,
    /// Releasing a lock not held, waiting on a condition not owned (`RuntimeError`).
    RuntimeError,
    /// A barrier was broken or reset while waiting (`BrokenBarrierError`).
    BrokenBarrier,
    /// `Queue.get` found nothing before its timeout (`queue.Empty`).
    Empty,
    /// `Queue.put` found no room before its timeout (`queue.Full`).
    Full,
    /// The object id is unknown to the server (released, or from another server).
    NoSuchObject,
    /// The operation does not apply to this kind of object (`AttributeError` in CPython).
    NoSuchMethod,
    /// `create` named a type that was not registered on the server.
    UnknownType,
    /// The server is shutting down.
    ShuttingDown,
    /// The request could not be decoded (a client bug or a hostile peer).
    Protocol,
    /// An error returned by a registered custom type's method.
    Custom,
    /// The request held a value nested deeper than the server's limit
    /// ([`Limits::max_depth`](crate::Limits::max_depth)), or a reply would have.
    TooDeep,
    /// The operation would make the server hold more than its memory budget
    /// ([`Limits::memory_budget`](crate::Limits::memory_budget)); nothing was changed.
    MemoryBudget,
    /// The server holds as many objects as it may
    /// ([`Limits::max_objects`](crate::Limits::max_objects)).
    TooManyObjects,
    /// The call would have to wait, and the client (or the server as a whole) already
    /// has as many waiting calls as it may ([`Limits::max_waiting_per_client`](crate::Limits::max_waiting_per_client),
    /// [`Limits::max_waiting`](crate::Limits::max_waiting)); nothing was changed.
    TooManyWaiting,
}

/// An error raised by the server while running an operation: the call reached the
/// server, which refused it (CPython re-raises the server's exception in the client).
///
/// ```
/// use multiproc_manager::{RemoteError, RemoteErrorKind};
///
/// let e = RemoteError::new(RemoteErrorKind::KeyError, "'x'");
/// assert_eq!(e.to_string(), "KeyError: 'x'");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteError {
    /// Which error.
    pub kind: RemoteErrorKind,
    /// Python-style message (`"'x'"` for a `KeyError`).
    pub message: String,
}

impl RemoteError {
    /// An error of `kind` with `message`.
    ///
    /// ```
    /// use multiproc_manager::{RemoteError, RemoteErrorKind};
    /// let e = RemoteError::new(RemoteErrorKind::ValueError, "bad value");
    /// assert_eq!(e.kind, RemoteErrorKind::ValueError);
    /// assert_eq!(e.message, "bad value");
    /// ```
    pub fn new(kind: RemoteErrorKind, message: impl Into<String>) -> Self {
        RemoteError {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for RemoteError {}

/// Why a manager operation failed.
///
/// ```
/// use multiproc_manager::{Error, Manager, RemoteErrorKind};
///
/// let manager = Manager::in_thread()?;
/// let d = manager.dict()?;
/// let err = d.get_item("missing").unwrap_err();
/// assert!(err.is_key_error());
/// assert_eq!(err.remote_kind(), Some(RemoteErrorKind::KeyError));
/// manager.shutdown()?;
/// assert!(matches!(d.len(), Err(Error::ManagerGone(_)))); // the server is gone
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The server is unreachable: it shut down, crashed, or the connection broke.
    /// Every call on every proxy of that server fails this way from then on (CPython
    /// shows `EOFError`/`BrokenPipeError`/`ConnectionRefusedError` instead).
    ManagerGone(String),
    /// The server ran the operation and raised an error.
    Remote(RemoteError),
    /// A value came back (or was given) with the wrong type for a typed proxy.
    Type(TypeMismatch),
    /// Connecting failed (no server at the address, refused).
    Connect(io::Error),
    /// The authkey handshake failed: wrong key on either side.
    Auth(String),
    /// The manager could not be started, or the arguments are invalid.
    Config(String),
    /// The request is larger than the frame limit, or could not be encoded.
    Send(multiproc_ipc::SendError),
    /// The server did not answer within the call timeout set with
    /// [`Manager::set_call_timeout`](crate::Manager::set_call_timeout) (beyond the
    /// operation's own timeout). The server is then treated as gone: the connection is
    /// closed, and later calls fail with [`Error::ManagerGone`].
    CallTimeout(std::time::Duration),
    /// An acquisition of a lock or semaphore took over from a holder whose client
    /// vanished (killed, crashed): an [`AcquireError::OwnerDied`](crate::AcquireError)
    /// turned into an `Error` (by `?`). After a raw `acquire`, **the caller holds it
    /// now** (release it when done); after `lock()`/`permit()`, the guard was dropped
    /// with the error, which released it. The state it protects may be half-updated.
    /// See [`OwnerDied`](crate::OwnerDied).
    OwnerDied,
}

impl Error {
    /// The server's error kind, if the server raised one.
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// use multiproc_manager::RemoteErrorKind;
    /// let d = manager.dict()?;
    /// let err = d.get_item("missing").unwrap_err();
    /// assert_eq!(err.remote_kind(), Some(RemoteErrorKind::KeyError));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn remote_kind(&self) -> Option<RemoteErrorKind> {
        match self {
            Error::Remote(e) => Some(e.kind),
            _ => None,
        }
    }

    /// Whether this is a `KeyError` from a dict.
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let d = manager.dict()?;
    /// assert!(d.get_item("missing").unwrap_err().is_key_error());
    /// assert!(!manager.list()?.pop().unwrap_err().is_key_error()); // an IndexError
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_key_error(&self) -> bool {
        self.remote_kind() == Some(RemoteErrorKind::KeyError)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ManagerGone(why) => write!(f, "the manager is gone: {why}"),
            Error::Remote(e) => write!(f, "the manager raised {e}"),
            Error::Type(e) => write!(f, "type mismatch: {e}"),
            Error::Connect(_) => f.write_str("could not connect to the manager"),
            Error::Auth(why) => write!(f, "authentication failed: {why}"),
            Error::Config(why) => write!(f, "invalid manager configuration: {why}"),
            Error::Send(_) => f.write_str("the request could not be sent"),
            Error::CallTimeout(t) => write!(f, "the manager did not answer within {t:?}"),
            Error::OwnerDied => f.write_str(OWNER_DIED_MSG),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Remote(e) => Some(e),
            Error::Type(e) => Some(e),
            Error::Connect(e) => Some(e),
            Error::Send(e) => Some(e),
            _ => None,
        }
    }
}

impl From<TypeMismatch> for Error {
    fn from(e: TypeMismatch) -> Self {
        Error::Type(e)
    }
}

impl From<RemoteError> for Error {
    fn from(e: RemoteError) -> Self {
        Error::Remote(e)
    }
}
