//! [`Error`]: why a pool call or a task produced no value.

use std::fmt;
use std::sync::Arc;

use multiproc_process::StartError;
use multiproc_process::invoke::InvokeError;

/// How a worker process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Death {
    /// Killed by this signal (9 for SIGKILL, 11 for SIGSEGV, 6 for SIGABRT, …).
    Signal(i32),
    /// Exited with this code (e.g. `std::process::exit(3)` in a task).
    Exited(i32),
}

impl Death {
    /// From a `Process::exitcode` value (`-N` for signal `N`).
    pub(crate) fn from_exitcode(code: i32) -> Self {
        if code < 0 {
            Death::Signal(-code)
        } else {
            Death::Exited(code)
        }
    }
}

impl fmt::Display for Death {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Death::Signal(s) => write!(
                f,
                "killed by signal {s} ({})",
                multiproc_process::signal_name(*s).unwrap_or("unknown signal")
            ),
            Death::Exited(c) => write!(f, "exited with code {c}"),
        }
    }
}

/// Why a pool operation or a task produced no value.
///
/// Cheap to clone: a worker death fails every item of the chunk it was running with
/// the same error.
///
/// ```
/// use multiproc_pool::{Death, Error};
/// let e = Error::WorkerDied { pid: 42, cause: Death::Signal(9) };
/// assert_eq!(e.to_string(), "worker process 42 died while running the task: killed by signal 9 (SIGKILL)");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// The task panicked; the panic message.
    Panicked(String),
    /// The worker running the task died (killed by a signal, or exited) before
    /// returning its result. The worker was replaced; other tasks carried on.
    WorkerDied {
        /// The worker's process id.
        pid: u32,
        /// How it ended.
        cause: Death,
    },
    /// The pool's initializer failed in a worker; the pool is broken and every pending
    /// and later call fails with this error (CPython respawns forever, KI-03).
    InitializerFailed(String),
    /// Workers kept dying before they were ready (for instance an initializer that
    /// calls `exit`); the pool gave up respawning them and is broken.
    WorkerStartFailed(String),
    /// A worker process could not be started.
    Start(Arc<StartError>),
    /// The task could not be run in the worker (its arguments did not decode, its
    /// result did not encode, or the function could not be found).
    Task(InvokeError),
    /// The arguments could not be encoded in the caller.
    Encode(String),
    /// The result could not be decoded in the caller.
    Decode(String),
    /// The pool was closed or terminated: it accepts no new work (CPython's
    /// `ValueError: Pool not running`).
    NotRunning,
    /// [`Pool::join`](crate::Pool::join) before [`close`](crate::Pool::close) or
    /// [`terminate`](crate::Pool::terminate).
    StillRunning,
    /// [`Pool::join`](crate::Pool::join) from a `callback`/`error_callback` of the same
    /// pool: it runs on one of the threads `join` waits for (CPython raises
    /// `RuntimeError: cannot join current thread`).
    JoinFromCallback,
    /// [`AsyncResult::successful`](crate::AsyncResult::successful) before the result
    /// is ready (CPython raises `ValueError`).
    NotReady,
    /// The pool was terminated (or dropped) before the task finished.
    Terminated,
    /// The call was cancelled ([`AsyncResult::cancel`](crate::AsyncResult::cancel)).
    Cancelled,
    /// The result did not arrive in time.
    Timeout,
    /// A `callback`/`error_callback` panicked; its message. Result dispatch carries on.
    Callback(String),
    /// A bad argument (`processes(0)`, `maxtasksperchild(0)`, `chunksize(0)`).
    InvalidArgument(&'static str),
    /// An OS call of the pool itself failed (creating a pipe or an eventfd, a thread).
    Io(Arc<std::io::Error>),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Panicked(m) => write!(f, "task panicked: {m}"),
            Error::WorkerDied { pid, cause } => {
                write!(
                    f,
                    "worker process {pid} died while running the task: {cause}"
                )
            }
            Error::InitializerFailed(m) => write!(f, "pool initializer failed: {m}"),
            Error::WorkerStartFailed(m) => write!(f, "pool workers keep dying at start: {m}"),
            Error::Start(_) => write!(f, "could not start a pool worker"),
            Error::Task(e) => write!(f, "{e}"),
            Error::Encode(m) => write!(f, "could not encode the task arguments: {m}"),
            Error::Decode(m) => write!(f, "could not decode the task result: {m}"),
            Error::NotRunning => write!(f, "pool not running"),
            Error::StillRunning => write!(f, "pool is still running; close or terminate it first"),
            Error::JoinFromCallback => write!(f, "cannot join a pool from its own result callback"),
            Error::NotReady => write!(f, "result is not ready"),
            Error::Terminated => write!(f, "pool was terminated before the task finished"),
            Error::Cancelled => write!(f, "task was cancelled"),
            Error::Timeout => write!(f, "timed out waiting for the result"),
            Error::Callback(m) => write!(f, "result callback panicked: {m}"),
            Error::InvalidArgument(m) => write!(f, "invalid argument: {m}"),
            Error::Io(_) => write!(f, "pool i/o error"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Start(e) => Some(&**e),
            Error::Task(e) => Some(e),
            Error::Io(e) => Some(&**e),
            _ => None,
        }
    }
}

impl From<InvokeError> for Error {
    fn from(e: InvokeError) -> Self {
        match e {
            InvokeError::Panicked(m) => Error::Panicked(m),
            other => Error::Task(other),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(Arc::new(e))
    }
}

impl From<rustix::io::Errno> for Error {
    fn from(e: rustix::io::Errno) -> Self {
        Error::Io(Arc::new(e.into()))
    }
}

impl From<multiproc_ipc::SegmentError> for Error {
    fn from(e: multiproc_ipc::SegmentError) -> Self {
        match e {
            multiproc_ipc::SegmentError::Io(e) => Error::Io(Arc::new(e)),
            other => Error::Io(Arc::new(std::io::Error::other(other.to_string()))),
        }
    }
}

impl From<StartError> for Error {
    fn from(e: StartError) -> Self {
        Error::Start(Arc::new(e))
    }
}
