//! Error types, one per operation family.

use std::fmt;
use std::io;

use multiproc_ipc::CodecError;

use crate::method::StartMethod;
use crate::sys::Errno;

/// Why [`ProcessBuilder::start`](crate::ProcessBuilder::start) failed.
///
/// ```
/// use multiproc_process::{Process, StartError, StartMethod};
///
/// let r = Process::from_closure(|| 1).start_method(StartMethod::Spawn).start();
/// assert!(matches!(r, Err(StartError::ClosureNeedsFork(StartMethod::Spawn))));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError {
    /// A closure (from [`Process::from_closure`](crate::Process::from_closure)) can only
    /// run in a fork of the caller; this start method starts a fresh process.
    ClosureNeedsFork(StartMethod),
    /// A daemon process may not create children (CPython's rule, KI-15).
    DaemonCannotHaveChildren,
    /// This process was started as a multiproc child but its bootstrap did not run (the
    /// `.init_array` constructor was dropped by the linker and `main` does not call
    /// [`init`](crate::init)). Starting processes from here would recurse.
    BootstrapNotRun,
    /// The arguments could not be encoded.
    Encode(CodecError),
    /// The target cannot be found by a fresh process (it does not lie in the main
    /// executable's code, e.g. it was built into a separate shared library).
    NotSpawnable(String),
    /// The fork server could not be reached or refused the request.
    ForkServer(String),
    /// An OS call failed (`fork`, `socketpair`, `execve`, `pidfd_open`, …).
    Io(io::Error),
    /// [`StartMethod::Fork`] was asked for from inside a multi-threaded tokio runtime
    /// (checked with the crate's `tokio` feature): the child would inherit the memory of
    /// the runtime's worker threads but not the threads, and hang on their state. Use
    /// [`StartMethod::Spawn`] or [`StartMethod::ForkServer`], which work from async
    /// code.
    ForkInRuntime,
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::ClosureNeedsFork(m) => write!(
                f,
                "a closure target can only be started with the fork start method, not {m}; \
                 use a function with `Process::new` instead"
            ),
            StartError::DaemonCannotHaveChildren => {
                write!(f, "daemonic processes are not allowed to have children")
            }
            StartError::BootstrapNotRun => write!(
                f,
                "this process is a multiproc child whose bootstrap did not run; \
                 call multiproc_process::init() first thing in main"
            ),
            StartError::Encode(_) => write!(f, "could not encode the process arguments"),
            StartError::NotSpawnable(why) => write!(f, "target cannot be spawned: {why}"),
            StartError::ForkServer(why) => write!(f, "fork server failed: {why}"),
            StartError::Io(_) => write!(f, "could not start the process"),
            StartError::ForkInRuntime => write!(
                f,
                "cannot fork from inside a multi-threaded tokio runtime (the child would \
                 hang on the state of the runtime's threads); use StartMethod::Spawn or \
                 StartMethod::ForkServer"
            ),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Encode(e) => Some(e),
            StartError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl StartError {
    /// An encoding failure, except that a handle that could not be duplicated (out of
    /// descriptors, `EMFILE`) is the OS failure it is, not a bad argument.
    pub(crate) fn from_codec(e: CodecError) -> Self {
        match e {
            CodecError::Io(e) => StartError::Io(e),
            e => StartError::Encode(e),
        }
    }
}

impl From<io::Error> for StartError {
    fn from(e: io::Error) -> Self {
        StartError::Io(e)
    }
}

impl From<Errno> for StartError {
    fn from(e: Errno) -> Self {
        StartError::Io(e.into())
    }
}

/// An OS failure while waiting for or signalling a process.
///
/// ```
/// use multiproc_process::{Process, WaitError};
///
/// fn nothing() {}
///
/// let p = Process::new(nothing, ()).start()?;
/// match p.join() {
///     Ok(()) => assert_eq!(p.exitcode(), Some(0)),
///     Err(WaitError::NotParent { .. }) => unreachable!("this process started it"),
///     Err(e) => return Err(e.into()), // poll/waitid failed
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum WaitError {
    /// `poll`, `waitid`, `pidfd_send_signal` or a read failed.
    Io(io::Error),
    /// This process is not the process's parent (it holds a copy of the handle, e.g.
    /// inherited through a fork): only the parent can wait for a child and collect its
    /// exit status and result. CPython's `AssertionError('can only join a child
    /// process')`.
    NotParent {
        /// The process that started the child.
        parent: u32,
        /// The process that tried to wait.
        caller: u32,
    },
    /// An async wait (the crate's `tokio` feature, [`aio`](crate#async-on-tokio)) was
    /// polled outside a tokio runtime: its readiness comes from the runtime's reactor.
    NoRuntime,
}

impl fmt::Display for WaitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitError::Io(_) => write!(f, "could not wait for or signal the process"),
            WaitError::NotParent { parent, caller } => write!(
                f,
                "can only join a child process: process {caller} is not the parent ({parent})"
            ),
            WaitError::NoRuntime => write!(
                f,
                "an async wait must run inside a tokio runtime with I/O enabled"
            ),
        }
    }
}

impl std::error::Error for WaitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WaitError::Io(e) => Some(e),
            WaitError::NotParent { .. } | WaitError::NoRuntime => None,
        }
    }
}

impl From<io::Error> for WaitError {
    fn from(e: io::Error) -> Self {
        WaitError::Io(e)
    }
}

impl From<Errno> for WaitError {
    fn from(e: Errno) -> Self {
        WaitError::Io(e.into())
    }
}

/// Why a process did not hand back a value ([`Process::join_value`](crate::Process::join_value)).
///
/// ```
/// use multiproc_process::{Process, ProcessError};
///
/// fn quit(code: i32) -> u8 { std::process::exit(code) }
///
/// let p = Process::new(quit, (3,)).start()?;
/// assert!(matches!(p.join_value(), Err(ProcessError::Exited(3)))); // no value came back
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ProcessError {
    /// The target panicked. Exit code 1, like an uncaught exception in CPython.
    Panicked {
        /// The panic message (`&str` or `String` payloads; otherwise a placeholder).
        message: String,
        /// The backtrace text, when one was captured (`RUST_BACKTRACE` set in the child;
        /// never under [`StartMethod::Fork`], where std's
        /// backtrace lock may be held by a thread of the parent that no longer exists).
        backtrace: Option<String>,
        /// The child's exit code.
        exitcode: i32,
    },
    /// The child exited without handing back a value (e.g. `std::process::exit(code)`).
    Exited(i32),
    /// The child was killed by this signal (its exit code is `-signal`, CPython's
    /// `exitcode`). Displayed by name: `process was killed by SIGINT`.
    Killed(i32),
    /// The child could not run the target: a bootstrap failure (arguments that did not
    /// decode, a mismatched executable, …).
    Bootstrap(String),
    /// The value the child sent could not be decoded as the target's return type.
    Decode(CodecError),
    /// The target's return value encodes to a frame over the limit of the result
    /// channel (`multiproc_ipc::frame::DEFAULT_MAX_FRAME`, 256 MiB): the child could
    /// not send it and exited with code 1. (A parent that reads a frame header over
    /// the limit refuses it before allocating and shuts the channel, so the child's
    /// send fails instead of blocking.) Pass large data through a
    /// `SharedSegment`/`Array` or a `Queue` instead.
    ResultTooLarge {
        /// Bytes the frame announced.
        announced: u64,
        /// The limit.
        limit: u64,
    },
    /// Waiting failed.
    Wait(WaitError),
}

impl fmt::Display for ProcessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcessError::Panicked { message, .. } => write!(f, "process panicked: {message}"),
            ProcessError::Exited(code) => {
                write!(f, "process exited with code {code} without a result")
            }
            ProcessError::Killed(sig) => {
                write!(
                    f,
                    "process was killed by {}",
                    crate::signal::SignalName(*sig)
                )
            }
            ProcessError::Bootstrap(why) => write!(f, "process could not run its target: {why}"),
            ProcessError::Decode(_) => write!(f, "could not decode the process's return value"),
            ProcessError::ResultTooLarge { announced, limit } => write!(
                f,
                "the process's return value of {announced} bytes exceeds the limit of {limit} bytes"
            ),
            ProcessError::Wait(_) => write!(f, "could not wait for the process"),
        }
    }
}

impl std::error::Error for ProcessError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProcessError::Decode(e) => Some(e),
            ProcessError::Wait(e) => Some(e),
            _ => None,
        }
    }
}

impl From<WaitError> for ProcessError {
    fn from(e: WaitError) -> Self {
        ProcessError::Wait(e)
    }
}

/// The start method was already set ([`set_start_method`](crate::set_start_method)).
///
/// ```
/// use multiproc_process::{ContextError, StartMethod, set_start_method};
///
/// assert_eq!("thread".parse::<StartMethod>(), Err(ContextError::UnknownMethod("thread".into())));
/// set_start_method(StartMethod::ForkServer)?;
/// assert_eq!(set_start_method(StartMethod::Spawn), Err(ContextError::AlreadySet(StartMethod::ForkServer)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContextError {
    /// The process-wide start method is already fixed (explicitly, or by a first use).
    AlreadySet(StartMethod),
    /// The name is not a start method (`fork`, `spawn`, `forkserver`).
    UnknownMethod(String),
}

impl fmt::Display for ContextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContextError::AlreadySet(m) => write!(f, "context has already been set to {m}"),
            ContextError::UnknownMethod(s) => write!(f, "cannot find context for {s:?}"),
        }
    }
}

impl std::error::Error for ContextError {}
