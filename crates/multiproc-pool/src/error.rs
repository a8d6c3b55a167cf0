//! [`Error`]: why a pool call or a task produced no value.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use multiproc_process::StartError;
use multiproc_process::invoke::InvokeError;

/// How a worker process ended.
///
/// ```
/// use multiproc_pool::{Death, Error, Pool};
///
/// fn quit(code: i32) -> i32 { std::process::exit(code) }
///
/// let pool = Pool::new(1)?;
/// match pool.apply(quit, (3,)) {
///     Err(Error::WorkerDied { cause, .. }) => assert_eq!(cause, Death::Exited(3)),
///     other => panic!("expected a dead worker, got {other:?}"),
/// }
/// assert_eq!(Death::Signal(9).to_string(), "killed by SIGKILL");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
            Death::Signal(s) => write!(f, "killed by {}", multiproc_process::SignalName(*s)),
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
/// assert_eq!(e.to_string(), "worker process 42 died while running the task: killed by SIGKILL");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// The task panicked: its message, the payload's kind and the worker's backtrace
    /// (CPython's `RemoteTraceback`), see [`TaskPanic`]. `{}` prints one line,
    /// `{:#}` adds the worker's backtrace.
    Panicked(TaskPanic),
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
    /// The result did not arrive in time. The call goes on:
    /// [`AsyncResult::get_timeout`](crate::AsyncResult::get_timeout) may be called again.
    Timeout,
    /// [`AsyncResult::get_timeout`](crate::AsyncResult::get_timeout) after an earlier
    /// call already returned the outcome (it is handed out once).
    AlreadyTaken,
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
            Error::Panicked(p) => {
                write!(f, "task panicked: {}", p.message())?;
                if f.alternate() {
                    p.write_remote(f)?;
                }
                Ok(())
            }
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
            Error::AlreadyTaken => write!(f, "the result was already taken"),
            Error::Callback(m) => write!(f, "result callback panicked: {m}"),
            Error::InvalidArgument(m) => write!(f, "invalid argument: {m}"),
            Error::Io(_) => write!(f, "pool i/o error"),
        }
    }
}

impl Error {
    /// The task's panic, if this error is one ([`Error::Panicked`]).
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// fn boom(_: u8) -> u8 { panic!("boom") }
    /// let pool = Pool::new(1)?;
    /// let err = pool.apply(boom, (0,)).unwrap_err();
    /// let panic = err.task_panic().ok_or("not a panic")?;
    /// assert_eq!(panic.message(), "boom");
    /// assert!(multiproc_pool::Error::AlreadyTaken.task_panic().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn task_panic(&self) -> Option<&TaskPanic> {
        match self {
            Error::Panicked(p) => Some(p),
            _ => None,
        }
    }

    /// The worker's backtrace text of a task's panic (see
    /// [`TaskPanic::remote_backtrace`]); `None` for other errors.
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// fn boom(_: u8) -> u8 { panic!("boom") }
    /// let pool = Pool::new(1)?;
    /// let err = pool.apply(boom, (0,)).unwrap_err();
    /// let panic = err.task_panic().ok_or("not a panic")?;
    /// // the worker's backtrace, or why there is none: never both missing
    /// assert!(err.remote_backtrace().is_some() || panic.no_backtrace_reason().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn remote_backtrace(&self) -> Option<&str> {
        self.task_panic().and_then(TaskPanic::remote_backtrace)
    }
}

/// What a panicking task's payload was (CPython's exception type, as far as Rust knows
/// it: a panic payload is a `Box<dyn Any>`, whose type has no name at run time).
///
/// ```
/// use multiproc_pool::{PanicKind, Pool};
///
/// fn boom(_: u8) -> u8 { panic!("boom") }
///
/// let pool = Pool::new(1)?;
/// let err = pool.apply(boom, (0,)).unwrap_err();
/// let kind = err.task_panic().map(|p| p.kind());
/// assert_eq!(kind, Some(PanicKind::Str));
/// assert_eq!(PanicKind::Str.payload_type(), "&str");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PanicKind {
    /// A `&'static str` payload: `panic!("literal")`, `unreachable!()`, a failed
    /// `assert!` without a message, …
    Str,
    /// A `String` payload: `panic!("{x}")`, a failed `assert_eq!`, `.expect(...)` on an
    /// `Err`, …
    String,
    /// Any other payload (`std::panic::panic_any(value)`); the message is
    /// `Box<dyn Any>`.
    Other,
}

impl PanicKind {
    /// The payload's type as Rust spells it: `&str`, `String`, or `Box<dyn Any>` for
    /// an unknown one.
    ///
    /// ```
    /// use multiproc_pool::PanicKind;
    /// use multiproc_pool::Pool;
    /// fn boom(_: u8) -> u8 { panic!("boom") }
    /// let pool = Pool::new(1)?;
    /// let err = pool.apply(boom, (0,)).unwrap_err();
    /// let panic = err.task_panic().ok_or("not a panic")?;
    /// assert_eq!(panic.kind().payload_type(), "&str"); // `panic!("boom")`
    /// assert_eq!(PanicKind::String.payload_type(), "String");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn payload_type(self) -> &'static str {
        match self {
            PanicKind::Str => "&str",
            PanicKind::String => "String",
            PanicKind::Other => "Box<dyn Any>",
        }
    }

    fn to_wire(self) -> u8 {
        match self {
            PanicKind::Str => 0,
            PanicKind::String => 1,
            PanicKind::Other => 2,
        }
    }

    fn from_wire(b: u8) -> Self {
        match b {
            0 => PanicKind::Str,
            1 => PanicKind::String,
            _ => PanicKind::Other,
        }
    }
}

impl fmt::Display for PanicKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "panic with a {} payload", self.payload_type())
    }
}

/// The most backtrace text a [`TaskPanic`] carries: a longer one is cut (at a line end
/// when it can) and marked, so that a panic's result never balloons.
///
/// ```
/// use multiproc_pool::Pool;
/// fn boom(_: u8) -> u8 { panic!("boom") }
/// let pool = Pool::new(1)?;
/// let err = pool.apply(boom, (0,)).unwrap_err();
/// let panic = err.task_panic().ok_or("not a panic")?;
/// let len = panic.remote_backtrace().map_or(0, str::len);
/// assert!(len <= multiproc_pool::MAX_REMOTE_BACKTRACE + 100); // cut, plus the mark
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const MAX_REMOTE_BACKTRACE: usize = 64 << 10;

/// A task's panic as the worker saw it: the payload's kind and message, where it
/// panicked, and the worker's backtrace text captured at the panic point — what
/// CPython's `RemoteTraceback` carries for an exception raised in a worker.
///
/// Cheap to clone (shared).
///
/// ```
/// use multiproc_pool::{Error, PanicKind, Pool};
/// fn check(x: i32) -> i32 { assert!(x >= 0, "negative: {x}"); x }
/// let pool = Pool::new(1)?;
/// let Err(Error::Panicked(p)) = pool.apply(check, (-1,)) else { panic!("expected a panic") };
/// assert_eq!(p.kind(), PanicKind::String);
/// assert_eq!(p.message(), "negative: -1");
/// assert!(p.location().is_some_and(|at| at.contains(".rs:")));
/// // `{}` is one line; `{:#}` adds the worker's backtrace, when it was captured.
/// let e = Error::Panicked(p.clone());
/// assert_eq!(e.to_string(), "task panicked: negative: -1");
/// if let Some(bt) = p.remote_backtrace() {
///     assert!(format!("{e:#}").contains(bt));
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct TaskPanic(Arc<PanicWire>);

/// [`TaskPanic`] as it travels from the worker.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PanicWire {
    kind: u8,
    message: String,
    location: Option<String>,
    backtrace: Option<String>,
    /// Why there is no backtrace, when there is none.
    no_backtrace: Option<String>,
    pid: u32,
}

impl TaskPanic {
    /// A panic of this process (a worker's), from its payload and what the worker's
    /// panic hook recorded.
    pub(crate) fn caught(
        payload: &(dyn std::any::Any + Send),
        location: Option<String>,
        backtrace: Result<String, String>,
    ) -> Self {
        let (kind, message) = if let Some(s) = payload.downcast_ref::<&str>() {
            (PanicKind::Str, (*s).to_string())
        } else if let Some(s) = payload.downcast_ref::<String>() {
            (PanicKind::String, s.clone())
        } else {
            (PanicKind::Other, "Box<dyn Any>".to_string())
        };
        let (backtrace, no_backtrace) = match backtrace {
            Ok(bt) => (Some(bound_backtrace(bt)), None),
            Err(why) => (None, Some(why)),
        };
        TaskPanic(Arc::new(PanicWire {
            kind: kind.to_wire(),
            message,
            location,
            backtrace,
            no_backtrace,
            pid: std::process::id(),
        }))
    }

    /// A panic known by its message only (caught by the process crate's invoker).
    pub(crate) fn message_only(message: String) -> Self {
        let kind = if message == "Box<dyn Any>" {
            PanicKind::Other
        } else {
            PanicKind::String
        };
        TaskPanic(Arc::new(PanicWire {
            kind: kind.to_wire(),
            message,
            location: None,
            backtrace: None,
            no_backtrace: Some("the panic was not caught by the pool's task guard".into()),
            pid: 0,
        }))
    }

    pub(crate) fn from_wire(w: PanicWire) -> Self {
        TaskPanic(Arc::new(w))
    }

    pub(crate) fn into_wire(self) -> PanicWire {
        Arc::try_unwrap(self.0).unwrap_or_else(|shared| PanicWire {
            kind: shared.kind,
            message: shared.message.clone(),
            location: shared.location.clone(),
            backtrace: shared.backtrace.clone(),
            no_backtrace: shared.no_backtrace.clone(),
            pid: shared.pid,
        })
    }

    /// The kind of panic: the payload's type ([`PanicKind`]).
    ///
    /// ```
    /// use multiproc_pool::PanicKind;
    /// use multiproc_pool::Pool;
    /// fn boom(_: u8) -> u8 { panic!("boom") }
    /// let pool = Pool::new(1)?;
    /// let err = pool.apply(boom, (0,)).unwrap_err();
    /// let panic = err.task_panic().ok_or("not a panic")?;
    /// assert_eq!(panic.kind(), PanicKind::Str);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn kind(&self) -> PanicKind {
        PanicKind::from_wire(self.0.kind)
    }

    /// The panic message: the `&str`/`String` payload, or `Box<dyn Any>` for another.
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// fn boom(_: u8) -> u8 { panic!("boom") }
    /// let pool = Pool::new(1)?;
    /// let err = pool.apply(boom, (0,)).unwrap_err();
    /// let panic = err.task_panic().ok_or("not a panic")?;
    /// assert_eq!(panic.message(), "boom");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// Where the task panicked (`file:line:column`), when the panic hook saw it.
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// fn boom(_: u8) -> u8 { panic!("boom") }
    /// let pool = Pool::new(1)?;
    /// let err = pool.apply(boom, (0,)).unwrap_err();
    /// let panic = err.task_panic().ok_or("not a panic")?;
    /// assert!(panic.location().is_some_and(|l| l.contains(".rs:")));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn location(&self) -> Option<&str> {
        self.0.location.as_deref()
    }

    /// The worker's backtrace text, captured at the panic point (symbol names when the
    /// executable has them, as in a debug build), at most [`MAX_REMOTE_BACKTRACE`]
    /// bytes. `None` when none could be taken: see
    /// [`no_backtrace_reason`](Self::no_backtrace_reason).
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// fn boom(_: u8) -> u8 { panic!("boom") }
    /// let pool = Pool::new(1)?;
    /// let err = pool.apply(boom, (0,)).unwrap_err();
    /// let panic = err.task_panic().ok_or("not a panic")?;
    /// assert!(panic.remote_backtrace().is_some() || panic.no_backtrace_reason().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn remote_backtrace(&self) -> Option<&str> {
        self.0.backtrace.as_deref()
    }

    /// Why [`remote_backtrace`](Self::remote_backtrace) is `None` (for instance a Fork
    /// worker whose parent was printing a panic when it forked: taking a backtrace
    /// there could hang on std's backtrace lock).
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// fn boom(_: u8) -> u8 { panic!("boom") }
    /// let pool = Pool::new(1)?;
    /// let err = pool.apply(boom, (0,)).unwrap_err();
    /// let panic = err.task_panic().ok_or("not a panic")?;
    /// if panic.remote_backtrace().is_none() {
    ///     assert!(panic.no_backtrace_reason().is_some()); // says why
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn no_backtrace_reason(&self) -> Option<&str> {
        self.0.no_backtrace.as_deref()
    }

    /// The process id of the worker that ran the task (0 if unknown).
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// fn boom(_: u8) -> u8 { panic!("boom") }
    /// let pool = Pool::new(1)?;
    /// let err = pool.apply(boom, (0,)).unwrap_err();
    /// let panic = err.task_panic().ok_or("not a panic")?;
    /// assert_ne!(panic.worker_pid(), 0); // known
    /// assert_ne!(panic.worker_pid(), std::process::id()); // a worker, not us
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn worker_pid(&self) -> u32 {
        self.0.pid
    }

    /// The alternate (`{:#}`) part of `Error::Panicked`'s display: where, and the
    /// backtrace.
    fn write_remote(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\n\n{}", self.kind())?;
        if self.0.pid != 0 {
            write!(f, " in worker process {}", self.0.pid)?;
        }
        if let Some(at) = self.location() {
            write!(f, " at {at}")?;
        }
        match (self.remote_backtrace(), self.no_backtrace_reason()) {
            (Some(bt), _) => write!(f, "\nremote backtrace:\n{bt}"),
            (None, Some(why)) => write!(f, "\nno remote backtrace: {why}"),
            (None, None) => Ok(()),
        }
    }
}

impl fmt::Debug for TaskPanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskPanic")
            .field("kind", &self.kind())
            .field("message", &self.0.message)
            .field("location", &self.0.location)
            .field("worker_pid", &self.0.pid)
            .field(
                "remote_backtrace",
                &self
                    .0
                    .backtrace
                    .as_ref()
                    .map(|b| format!("<{} bytes>", b.len())),
            )
            .finish()
    }
}

/// Keeps the frames of a worker's backtrace text that say something about the task,
/// like std's short backtraces: drops the hook and panic machinery above
/// `__rust_end_short_backtrace`, and the worker's own frames from the task guard down
/// (replaced by one line). A text without those markers (no symbols) is kept whole.
pub(crate) fn short_backtrace(bt: &str) -> String {
    // Frames start with a line "<spaces><number>: "; their "at file:line" lines follow.
    let mut frames: Vec<&str> = Vec::new();
    let mut start = 0;
    for (i, line) in bt.split_inclusive('\n').scan(0usize, |at, l| {
        let here = *at;
        *at += l.len();
        Some((here, l))
    }) {
        let t = line.trim_start();
        let numbered = t
            .split_once(": ")
            .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if numbered && i > start {
            frames.push(&bt[start..i]);
            start = i;
        }
    }
    frames.push(&bt[start..]);
    let first = frames
        .iter()
        .position(|f| f.contains("__rust_end_short_backtrace"))
        .map_or(0, |i| i + 1);
    let last = frames[first..]
        .iter()
        .position(|f| f.contains("multiproc_pool::worker::Guarded"))
        .map(|i| first + i);
    let mut out: String = frames[first..last.unwrap_or(frames.len())].concat();
    if last.is_some() {
        out.push_str("      [pool worker frames omitted]\n");
    }
    out
}

/// Cuts a backtrace text to [`MAX_REMOTE_BACKTRACE`] bytes (at a line end when there is
/// one in the last quarter, on a character boundary always), marking the cut.
pub(crate) fn bound_backtrace(mut bt: String) -> String {
    const MARK: &str = "\n[… backtrace truncated]";
    if bt.len() <= MAX_REMOTE_BACKTRACE {
        return bt;
    }
    let mut end = MAX_REMOTE_BACKTRACE - MARK.len();
    while !bt.is_char_boundary(end) {
        end -= 1;
    }
    if let Some(nl) = bt[..end].rfind('\n').filter(|&nl| nl >= end - end / 4) {
        end = nl;
    }
    bt.truncate(end);
    bt.push_str(MARK);
    bt
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
            // Not a task's own panic (the pool's task guard catches those, see
            // `TaskPanic`): one the process crate's invoker caught, message only.
            InvokeError::Panicked(m) => Error::Panicked(TaskPanic::message_only(m)),
            other => Error::Task(other),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(Arc::new(e))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_backtraces_are_cut_on_a_boundary_and_marked() {
        let short = "   0: f\n".to_string();
        assert_eq!(bound_backtrace(short.clone()), short);
        let line = "   1: some::frame::name\n             at src/x.rs:1:1 é\n";
        let long = line.repeat(MAX_REMOTE_BACKTRACE / line.len() + 10);
        let cut = bound_backtrace(long.clone());
        assert!(cut.len() <= MAX_REMOTE_BACKTRACE, "{}", cut.len());
        assert!(cut.ends_with("[… backtrace truncated]"));
        assert!(long.starts_with(cut.trim_end_matches("\n[… backtrace truncated]")));
        // Multi-byte characters at the limit: still a valid cut.
        let wide = "é".repeat(MAX_REMOTE_BACKTRACE);
        let cut = bound_backtrace(wide);
        assert!(cut.len() <= MAX_REMOTE_BACKTRACE);
    }

    #[test]
    fn short_backtraces_keep_the_task_frames() {
        let bt = "   0: multiproc_pool::worker::record_task_panic\n             at ./src/worker.rs:1:1\n   1: std::sys::backtrace::__rust_end_short_backtrace\n   2: core::panicking::panic_fmt\n             at core/src/panicking.rs:80:14\n   3: app::task\n             at src/main.rs:3:5\n   4: <multiproc_pool::worker::Guarded<F> as Target<A>>::call\n   5: main\n";
        assert_eq!(
            short_backtrace(bt),
            "   2: core::panicking::panic_fmt\n             at core/src/panicking.rs:80:14\n   3: app::task\n             at src/main.rs:3:5\n      [pool worker frames omitted]\n"
        );
        // Without the markers (no symbols), the text is kept whole.
        let bare = "   0: <unknown>\n   1: <unknown>\n";
        assert_eq!(short_backtrace(bare), bare);
    }
}
