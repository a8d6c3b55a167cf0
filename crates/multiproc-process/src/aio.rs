//! Async processes on tokio (feature `tokio`, issue #16): [`AsyncProcess`], whose
//! [`join`](AsyncProcess::join) is a future on the child's pidfd; [`Exits`], a `Stream`
//! of the exits of many processes; [`wait`], CPython's `multiprocessing.connection.wait`
//! on sentinels as a future.
//!
//! Readiness comes from tokio's reactor (`tokio::io::unix::AsyncFd` on a duplicate of
//! the pidfd — or of a fork-server child's status socket — and of the result socket,
//! which is read while waiting, as the blocking `join` does, so a large result never
//! blocks the child's exit). No runtime thread ever blocks, no thread is started, and
//! nothing polls on a timer. The futures need a runtime with I/O enabled
//! (`enable_io`/`enable_all`, `#[tokio::main]`); polled outside one they fail with
//! [`WaitError::NoRuntime`].
//!
//! **Cancel safety.** Every future here only observes: the exit status and the result
//! bytes it reads are kept in the process handle, not in the future. Dropping a
//! [`Join`] at any point loses nothing — a later `join`, blocking or async, or
//! [`join_value`](AsyncProcess::join_value), still gets the child's result.
//!
//! ```
//! use multiproc_process::{Process, StartMethod};
//! fn square(x: u64) -> u64 { x * x }
//!
//! let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
//! rt.block_on(async {
//!     let p = Process::new(square, (7,)).start_method(StartMethod::Spawn).start()?.into_async();
//!     p.join().await?; // the pidfd is readable at exit: no thread blocks
//!     assert_eq!(p.exitcode(), Some(0));
//!     assert_eq!(p.join_value().await?, 49);
//!     Ok::<(), Box<dyn std::error::Error>>(())
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use serde::de::DeserializeOwned;
use tokio::io::unix::AsyncFd;

use crate::children::unlist;
use crate::error::{ProcessError, WaitError};
use crate::handle::{Core, ExitFd, Step};
use crate::process::Process;
use crate::sys;

pub use crate::runtime::check_start_method;

/// Registers `fd` with the current runtime's reactor (a duplicate of it).
fn register(fd: std::os::fd::BorrowedFd<'_>) -> Result<AsyncFd<OwnedFd>, WaitError> {
    match sys::async_fd(fd) {
        None => Err(WaitError::NoRuntime),
        Some(r) => r.map_err(WaitError::Io),
    }
}

/// The readiness state of one process's wait: what is registered with the reactor.
struct Waiter {
    core: Arc<Core>,
    exit: Option<(ExitFd, AsyncFd<OwnedFd>)>,
    result: Option<AsyncFd<OwnedFd>>,
}

impl Waiter {
    fn new(core: Arc<Core>) -> Self {
        Waiter {
            core,
            exit: None,
            result: None,
        }
    }

    /// Ready once the process has exited and been reaped (its result, if any, read).
    fn poll_exit(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), WaitError>> {
        loop {
            let (which, want_result) = match self.core.step()? {
                Step::Exited => {
                    // Observed: the handles' descriptors may close with the last one.
                    self.exit = None;
                    self.result = None;
                    unlist(&self.core);
                    return Poll::Ready(Ok(()));
                }
                Step::Waiting { exit, want_result } => (exit, want_result),
            };
            if self.exit.as_ref().map(|(w, _)| *w) != Some(which) {
                // First poll, or the fork server was lost: watch the pidfd instead.
                self.exit = Some((which, register(self.core.exit_fd(which))?));
            }
            if !want_result {
                self.result = None;
            } else if self.result.is_none() {
                self.result = Some(register(self.core.result_fd())?);
            }
            let mut progressed = false;
            if let Some(fd) = &self.result {
                if let Poll::Ready(guard) = fd.poll_read_ready(cx) {
                    let mut guard = guard.map_err(WaitError::Io)?;
                    // Reads until the socket is empty or the frame is whole; an event
                    // newer than this guard is not cleared (tokio's readiness ticks).
                    self.core.pump_result();
                    guard.clear_ready();
                    progressed = true;
                }
            }
            if let Some((_, fd)) = &self.exit {
                if let Poll::Ready(guard) = fd.poll_read_ready(cx) {
                    let mut guard = guard.map_err(WaitError::Io)?;
                    // The next `step` consumes what made it readable: a pidfd stays
                    // readable once the process has exited, and a status socket carries
                    // one report (or end-of-file, which turns the wait to the pidfd).
                    guard.clear_ready();
                    progressed = true;
                }
            }
            if !progressed {
                return Poll::Pending;
            }
        }
    }
}

/// A started process whose waits are futures: [`Process::into_async`] or
/// [`AsyncProcess::new`]. It dereferences to the [`Process`], so `pid`, `terminate`,
/// `kill`, `exitcode`, `sentinel`, … are there as well.
///
/// ```
/// use multiproc_process::{Process, ProcessError, StartMethod};
/// use multiproc_process::aio::AsyncProcess;
/// fn boom() -> u8 { panic!("no luck") }
///
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// rt.block_on(async {
///     let p = AsyncProcess::new(Process::new(boom, ()).start_method(StartMethod::ForkServer).start()?);
///     match p.join_value().await {
///         Err(ProcessError::Panicked { message, .. }) => assert_eq!(message, "no luck"),
///         other => panic!("{other:?}"),
///     }
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct AsyncProcess<R = ()> {
    process: Process<R>,
}

impl<R> fmt::Debug for AsyncProcess<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AsyncProcess").field(&self.process).finish()
    }
}

impl<R> AsyncProcess<R> {
    /// Wraps a started process (the same as [`Process::into_async`]).
    ///
    /// ```
    /// use multiproc_process::Process;
    /// use multiproc_process::aio::AsyncProcess;
    /// fn seven() -> u8 { 7 }
    ///
    /// let p = AsyncProcess::new(Process::new(seven, ()).start()?);
    /// assert!(p.pid() > 0); // the `Process` through `Deref`
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// assert_eq!(rt.block_on(p.join_value())?, 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(process: Process<R>) -> Self {
        AsyncProcess { process }
    }

    /// The blocking handle back.
    ///
    /// ```
    /// use multiproc_process::Process;
    /// fn nothing() {}
    /// let p = Process::new(nothing, ()).start()?.into_async().into_inner();
    /// p.join()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_inner(self) -> Process<R> {
        self.process
    }

    /// Waits for the process to exit and reaps it: the blocking
    /// [`Process::join`] as a future, on the pidfd (readable at exit) through tokio's
    /// reactor; a fork-server child's exit status comes on its status socket. The
    /// result socket is read while waiting, so a large return value cannot deadlock.
    ///
    /// **Cancel safe:** dropping the future at any point loses nothing; the exit
    /// status and the result stay in the handle for a later `join`/`join_value`,
    /// blocking or async. Any number of `join` futures may wait on one process.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_process::{Process, StartMethod};
    /// fn slow() -> u32 { std::thread::sleep(Duration::from_millis(300)); 5 }
    ///
    /// let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    /// rt.block_on(async {
    ///     let p = Process::new(slow, ()).start_method(StartMethod::Spawn).start()?.into_async();
    ///     // a wait given up (the future dropped) loses nothing
    ///     let early = tokio::time::timeout(Duration::from_millis(1), p.join()).await;
    ///     assert!(early.is_err());
    ///     assert_eq!(p.join_value().await?, 5);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Process::join`], plus [`WaitError::NoRuntime`] outside a tokio runtime.
    pub fn join(&self) -> Join<'_> {
        Join {
            waiter: Waiter::new(self.process.core().clone()),
            _p: std::marker::PhantomData,
        }
    }
}

impl<R: DeserializeOwned> AsyncProcess<R> {
    /// Waits for the process and returns the target's value: the blocking
    /// [`Process::join_value`] as a future, with the same typed result (a child killed
    /// while awaited is [`ProcessError::Killed`] with the signal's number; its
    /// message names it, `process was killed by SIGKILL`).
    ///
    /// It takes the handle, as the blocking form does: dropping this future drops the
    /// handle and its result with it (the child itself is still reaped in the
    /// background, as when a [`Process`] is dropped). To keep the result across a
    /// cancellation (`select!`, `timeout`), await [`join`](Self::join) — cancel safe —
    /// and call `join_value` once it has returned: it then completes at its first poll.
    ///
    /// ```
    /// use multiproc_process::Process;
    /// fn add(a: u32, b: u32) -> u32 { a + b }
    ///
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// rt.block_on(async {
    ///     let p = Process::new(add, (2, 3)).start()?.into_async();
    ///     p.join().await?; // cancel safe; then `join_value` completes at its first poll
    ///     assert_eq!(p.join_value().await?, 5);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Process::join_value`], plus [`WaitError::NoRuntime`] (in
    /// [`ProcessError::Wait`]) outside a tokio runtime.
    pub async fn join_value(self) -> Result<R, ProcessError> {
        self.join().await?;
        // Exited and reaped: the blocking form returns at once.
        self.process.join_value()
    }
}

impl<R> Deref for AsyncProcess<R> {
    type Target = Process<R>;

    fn deref(&self) -> &Process<R> {
        &self.process
    }
}

impl<R> AsFd for AsyncProcess<R> {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.process.sentinel()
    }
}

impl<R> From<Process<R>> for AsyncProcess<R> {
    fn from(process: Process<R>) -> Self {
        AsyncProcess { process }
    }
}

impl<R> Process<R> {
    /// This handle with futures for its waits ([`AsyncProcess`]; feature `tokio`).
    ///
    /// ```
    /// use multiproc_process::Process;
    /// fn nothing() {}
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// let p = Process::new(nothing, ()).start()?.into_async();
    /// rt.block_on(p.join())?;
    /// assert_eq!(p.exitcode(), Some(0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_async(self) -> AsyncProcess<R> {
        AsyncProcess { process: self }
    }
}

/// The future of [`AsyncProcess::join`]. Cancel safe (see there).
///
/// ```
/// use multiproc_process::Process;
/// fn nothing() {}
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// let p = Process::new(nothing, ()).start()?.into_async();
/// let join: multiproc_process::aio::Join<'_> = p.join();
/// rt.block_on(join)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Join<'a> {
    waiter: Waiter,
    _p: std::marker::PhantomData<&'a ()>,
}

impl fmt::Debug for Join<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Join")
            .field("pid", &self.waiter.core.info.pid)
            .finish_non_exhaustive()
    }
}

impl Future for Join<'_> {
    type Output = Result<(), WaitError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.waiter.poll_exit(cx)
    }
}

/// The exits of many processes as a [`Stream`](futures_core::Stream), in the order
/// they happen: each item is the index of a process (in the order given to
/// [`Exits::new`]) with the outcome of its join, and the stream ends when all have
/// been joined. Made from borrowed handles; holds no borrow (the stream may outlive
/// them and be moved into a task). Then [`join_value`](AsyncProcess::join_value) on
/// each handle completes at once.
///
/// **Cancel safe:** dropping the stream, or a `next()` future, loses no exit or
/// result: they are in the handles.
///
/// ```
/// use std::time::Duration;
/// use futures_core::Stream;
/// use multiproc_process::{Process, StartMethod};
/// use multiproc_process::aio::Exits;
///
/// fn nap(ms: u64) -> u64 { std::thread::sleep(Duration::from_millis(ms)); ms }
///
/// let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
/// rt.block_on(async {
///     let procs = [300, 10, 150]
///         .map(|ms| Process::new(nap, (ms,)).start_method(StartMethod::ForkServer).start())
///         .into_iter()
///         .map(|p| p.map(Process::into_async))
///         .collect::<Result<Vec<_>, _>>()?;
///     let mut exits = Exits::new(&procs);
///     let mut order = Vec::new();
///     while let Some((i, joined)) = std::future::poll_fn(|cx| std::pin::Pin::new(&mut exits).poll_next(cx)).await {
///         joined?;
///         order.push(i);
///     }
///     order.sort();
///     assert_eq!(order, [0, 1, 2]);
///     for p in procs {
///         assert!(p.join_value().await? > 0);
///     }
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Exits {
    pending: Vec<(usize, Waiter)>,
}

impl fmt::Debug for Exits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exits")
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl Exits {
    /// The exits of `processes`; [`remaining`](Self::remaining) says how many are
    /// still to come.
    ///
    /// ```
    /// use multiproc_process::Process;
    /// use multiproc_process::aio::Exits;
    /// fn nothing() {}
    /// let procs = [Process::new(nothing, ()).start()?.into_async()];
    /// let exits = Exits::new(&procs);
    /// assert_eq!(exits.remaining(), 1);
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// rt.block_on(procs[0].join())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new<'a, R: 'a>(processes: impl IntoIterator<Item = &'a AsyncProcess<R>>) -> Self {
        Exits {
            pending: processes
                .into_iter()
                .enumerate()
                .map(|(i, p)| (i, Waiter::new(p.process.core().clone())))
                .collect(),
        }
    }

    /// How many processes have not been seen to exit yet.
    ///
    /// ```
    /// use multiproc_process::Process;
    /// use multiproc_process::aio::Exits;
    /// fn nothing() {}
    ///
    /// let procs = [Process::new(nothing, ()).start()?.into_async(), Process::new(nothing, ()).start()?.into_async()];
    /// let exits = Exits::new(&procs);
    /// assert_eq!(exits.remaining(), 2); // none seen yet: nothing polled
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// for p in &procs {
    ///     rt.block_on(p.join())?;
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn remaining(&self) -> usize {
        self.pending.len()
    }
}

impl futures_core::Stream for Exits {
    type Item = (usize, Result<(), WaitError>);

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.pending.is_empty() {
            return Poll::Ready(None);
        }
        // Every waiter is polled (each registers this task's waker), then the first
        // that is done is taken out: one wake-up yields every exit it announced.
        let mut done = None;
        for (k, (_, w)) in self.pending.iter_mut().enumerate() {
            if let Poll::Ready(r) = w.poll_exit(cx) {
                done = Some((k, r));
                break;
            }
        }
        match done {
            Some((k, r)) => {
                let (i, _) = self.pending.swap_remove(k);
                Poll::Ready(Some((i, r)))
            }
            None => Poll::Pending,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.pending.len(), Some(self.pending.len()))
    }
}

/// Waits until at least one of `sentinels` is readable and returns the indices of all
/// that are (CPython's `multiprocessing.connection.wait(object_list)` as a future, on
/// descriptors: a [`Process`]/[`AsyncProcess`] is readable once it has exited, a
/// connection once it has data or end-of-file). For a time limit, wrap it in
/// `tokio::time::timeout`. It only looks: nothing is read or reaped, so dropping it
/// loses nothing.
///
/// ```
/// use multiproc_process::{Process, StartMethod};
/// fn nothing() {}
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// rt.block_on(async {
///     let p = Process::new(nothing, ()).start_method(StartMethod::Spawn).start()?.into_async();
///     let ready = multiproc_process::aio::wait(&[&p]).await?;
///     assert_eq!(ready, [0]);
///     p.join().await?; // at once
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`WaitError::NoRuntime`] outside a tokio runtime; [`WaitError::Io`] when a
/// descriptor cannot be duplicated or registered.
pub async fn wait<F: AsFd>(sentinels: &[F]) -> Result<Vec<usize>, WaitError> {
    let fds = sentinels
        .iter()
        .map(|s| register(s.as_fd()))
        .collect::<Result<Vec<_>, _>>()?;
    std::future::poll_fn(|cx| {
        let mut ready = Vec::new();
        for (i, fd) in fds.iter().enumerate() {
            match fd.poll_read_ready(cx) {
                // Not cleared: readiness stays with the descriptor, for the caller.
                Poll::Ready(Ok(_guard)) => ready.push(i),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(WaitError::Io(e))),
                Poll::Pending => {}
            }
        }
        if ready.is_empty() && !fds.is_empty() {
            return Poll::Pending;
        }
        // (Nothing to wait for is answered at once, as CPython's `wait([])` is.)
        Poll::Ready(Ok(ready))
    })
    .await
}
