//! The test harness shared by the multiproc crates' integration tests: the bound of
//! every wait, the start-method list, bounded waits, reaping checks, single polls of a
//! future, and the two tokio runtimes every async test runs on.
//!
//! Unpublished (`publish = false`), used only as a dev-dependency. Each helper here
//! keeps the rule of the tests that use it: every wait is bounded (by [`BOUND`] unless
//! the caller names its own bound), and a bound is a deadline against hangs, never a
//! timing assertion.
//!
//! | item | what |
//! |---|---|
//! | [`BOUND`], [`TestResult`] | the bound of every wait; what tests return |
//! | `METHODS`, `sandbox` | every start method; a scenario in a Spawn child of its own (feature `process`) |
//! | [`eventually`], [`within`] | a condition polled with a bound; a closure run on a thread joined with a bound |
//! | [`this_test_binary`] | a child that is this test binary again, running one test |
//! | [`reaped`], [`reap`], [`reap_after`] | `/proc/<pid>` gone (exited *and* reaped); a `std::process::Child` waited for, killed past the bound; the same after the parent's side of a test |
//! | [`park_forever`] | the end of a child that must hang until it is killed |
//! | [`xorshift`] | a small deterministic pseudo-random sequence |
//! | [`poll_noop`], [`poll_and_drop`], [`poll_in_task`] | one poll of a future: with a no-op waker, then dropped, or from inside a task |
//! | `aio` | the current-thread and multi-thread tokio runtimes, futures run on them bounded (feature `tokio`) |
//!
//! ```
//! use multiproc_test_support::{BOUND, eventually};
//!
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use std::sync::Arc;
//!
//! let done = Arc::new(AtomicBool::new(false));
//! let setter = std::thread::spawn({
//!     let done = Arc::clone(&done);
//!     move || done.store(true, Ordering::Release)
//! });
//! assert!(eventually(|| done.load(Ordering::Acquire)));
//! setter.join().expect("the setter thread");
//! assert!(BOUND.as_secs() >= 60);
//! ```
//!
//! # Platform support
//!
//! Linux (the reaping checks read `/proc`).
//!
//! # Limitations
//!
//! A test that fails past a bound may leave its children running; [`reap`] kills what it
//! gave up on, the other helpers only report.

#![forbid(unsafe_code)]

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

#[cfg(feature = "tokio")]
pub mod aio;

/// What tests return: any error, shown by the harness.
///
/// ```
/// fn a_test() -> multiproc_test_support::TestResult {
///     let n: u32 = "7".parse()?;
///     assert_eq!(n, 7);
///     Ok(())
/// }
/// a_test().unwrap();
/// ```
pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The bound of every wait of the tests: a deadline against hangs, never a speed check,
/// generous for a debug build on a loaded 2-core machine.
///
/// ```
/// let (tx, rx) = std::sync::mpsc::channel();
/// tx.send(1).unwrap();
/// assert_eq!(rx.recv_timeout(multiproc_test_support::BOUND), Ok(1));
/// ```
pub const BOUND: Duration = Duration::from_secs(120);

/// Every start method, in CPython's order of introduction.
///
/// ```
/// use multiproc_process::StartMethod;
/// assert!(multiproc_test_support::METHODS.contains(&StartMethod::ForkServer));
/// ```
#[cfg(feature = "process")]
pub const METHODS: [multiproc_process::StartMethod; 3] = [
    multiproc_process::StartMethod::Fork,
    multiproc_process::StartMethod::Spawn,
    multiproc_process::StartMethod::ForkServer,
];

/// Runs `f` in a Spawn child of its own (a *sandbox*) and hands back what it returned:
/// for cases that change process-wide state (signal handlers, the start method, the
/// descriptor table, the zombie children of one process) without disturbing the other
/// tests of the binary, which run concurrently. The child is joined (reaped) before
/// this returns.
///
/// ```no_run
/// fn pid() -> Result<u32, String> {
///     Ok(std::process::id())
/// }
/// let theirs = multiproc_test_support::sandbox(pid)?;
/// assert_ne!(theirs, std::process::id());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// The child could not start or be joined, or `f` returned an error (its message).
#[cfg(feature = "process")]
pub fn sandbox<F, T>(f: F) -> Result<T, Box<dyn std::error::Error>>
where
    F: multiproc_process::Target<(), Output = Result<T, String>>,
    T: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
{
    let p = multiproc_process::Process::new(f, ())
        .start_method(multiproc_process::StartMethod::Spawn)
        .start()?;
    Ok(p.join_value()??)
}

/// A command that runs this test binary again, only the test `test` (its path inside
/// the binary, `module::name`), on one thread, its output not captured: the body of a
/// child that a test starts by re-executing itself (the test reads an environment
/// variable the parent sets to know it is the child).
///
/// ```
/// let cmd = multiproc_test_support::this_test_binary("shm::child_entry")?;
/// assert_eq!(cmd.get_args().nth(1).unwrap(), "shm::child_entry");
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
///
/// The path of this executable is unknown (`std::env::current_exe`).
pub fn this_test_binary(test: &str) -> std::io::Result<std::process::Command> {
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1"]);
    Ok(cmd)
}

/// Polls `cond` until it holds or [`BOUND`] passes; returns whether it held.
///
/// ```
/// let mut n = 0;
/// assert!(multiproc_test_support::eventually(|| {
///     n += 1;
///     n == 3
/// }));
/// ```
pub fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + BOUND;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Runs `f` on a thread of its own and waits for its value at most `bound`: `None` if
/// it did not finish by then (the thread is left running, detached), or panicked.
///
/// ```
/// use multiproc_test_support::{BOUND, within};
/// assert_eq!(within(BOUND, || 6 * 7), Some(42));
/// ```
pub fn within<T: Send + 'static>(
    bound: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(bound).ok()
}

/// Waits (bounded by [`BOUND`]) until `/proc/<pid>` is gone: the process exited *and*
/// was reaped (no zombie left).
///
/// ```
/// let mut child = std::process::Command::new("true").spawn()?;
/// let pid = child.id();
/// child.wait()?;
/// assert!(multiproc_test_support::reaped(pid));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn reaped(pid: u32) -> bool {
    eventually(|| !std::path::Path::new(&format!("/proc/{pid}")).exists())
}

/// Waits for `child` at most [`BOUND`], killing (and reaping) it past that; returns
/// whether it exited successfully in time.
///
/// ```
/// let child = std::process::Command::new("true").spawn()?;
/// assert!(multiproc_test_support::reap(child));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn reap(mut child: std::process::Child) -> bool {
    let mut status = None;
    let done = eventually(|| match child.try_wait() {
        Ok(Some(st)) => {
            status = Some(st);
            true
        }
        Ok(None) => false,
        Err(_) => true,
    });
    if !done || status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    status.is_some_and(|st| st.success())
}

/// Ends a child after the parent's side of a test: kills it if that side failed, then
/// [`reap`]s it (bounded). The side's error comes first; else an error if the child did
/// not exit successfully within [`BOUND`].
///
/// ```
/// use multiproc_test_support::reap_after;
/// let child = std::process::Command::new("true").spawn()?;
/// reap_after::<Box<dyn std::error::Error>>(child, Ok(()))?;
/// let child = std::process::Command::new("sleep").arg("600").spawn()?;
/// assert!(reap_after::<String>(child, Err("the parent's side failed".into())).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// `result`'s error, or the child failed or outlived the bound.
pub fn reap_after<E: From<String>>(
    mut child: std::process::Child,
    result: Result<(), E>,
) -> Result<(), E> {
    if result.is_err() {
        let _ = child.kill();
    }
    let ok = reap(child);
    result?;
    if ok {
        Ok(())
    } else {
        Err(E::from(format!(
            "the child failed, or did not finish within {BOUND:?}"
        )))
    }
}

/// Parks the calling thread for ever: the end of a child that holds something until
/// the test kills it.
///
/// ```
/// fn hold(ready: std::sync::mpsc::Sender<()>) {
///     let _ = ready.send(());
///     multiproc_test_support::park_forever()
/// }
/// let (tx, rx) = std::sync::mpsc::channel();
/// std::thread::spawn(move || hold(tx)); // left parked: this process ends first
/// rx.recv_timeout(multiproc_test_support::BOUND).unwrap();
/// ```
pub fn park_forever() -> ! {
    loop {
        std::thread::park();
    }
}

/// A small deterministic pseudo-random sequence (xorshift64), for cancellation points
/// and other choices a failing run must repeat.
///
/// ```
/// let mut a = multiproc_test_support::xorshift(7);
/// let mut b = multiproc_test_support::xorshift(7);
/// assert_eq!((a(), a()), (b(), b()));
/// ```
pub fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed.max(1);
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

/// Polls `fut` once with a waker that does nothing; the future stays the caller's.
///
/// ```
/// use std::task::Poll;
/// let mut ready = std::future::ready(5);
/// assert_eq!(multiproc_test_support::poll_noop(&mut ready), Poll::Ready(5));
/// let mut never = std::future::pending::<()>();
/// assert!(multiproc_test_support::poll_noop(&mut never).is_pending());
/// ```
pub fn poll_noop<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    Pin::new(fut).poll(&mut Context::from_waker(Waker::noop()))
}

/// Polls `fut` once with a waker that does nothing, then drops it: a cancellation at
/// its first await point, or after whatever it could do without waiting.
///
/// ```
/// use multiproc_test_support::poll_and_drop;
/// assert_eq!(poll_and_drop(async { 5 }), Some(5));
/// assert_eq!(poll_and_drop(std::future::pending::<()>()), None);
/// ```
pub fn poll_and_drop<F: Future>(fut: F) -> Option<F::Output> {
    match poll_noop(&mut pin!(fut)) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

/// Polls `fut` once with the waker of the task awaiting this, then drops it.
///
/// ```
/// use std::task::Poll;
/// use multiproc_test_support::{poll_and_drop, poll_in_task};
/// let r = poll_and_drop(async { poll_in_task(async { 5 }).await });
/// assert_eq!(r, Some(Poll::Ready(5)));
/// ```
pub async fn poll_in_task<F: Future>(fut: F) -> Poll<F::Output> {
    let mut fut = pin!(fut);
    std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await
}
