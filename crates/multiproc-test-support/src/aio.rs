//! The two tokio runtimes every async test runs on (current-thread, and multi-thread
//! with two workers), and futures run on them with a bound.

use std::fmt::Display;
use std::future::Future;

use tokio::runtime::{Builder, Runtime};

use crate::BOUND;

/// Which drivers a runtime enables.
///
/// ```
/// use multiproc_test_support::aio::{Drivers, runtimes};
/// assert_eq!(runtimes(Drivers::Time)?.len(), 2);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drivers {
    /// Only the timer: for code that must not need tokio's I/O driver (the futex
    /// bridge of multiproc-sync and multiproc-queue).
    Time,
    /// Every driver tokio was built with (`enable_all`).
    All,
}

/// A current-thread runtime and a multi-thread one (two workers), each named.
///
/// ```
/// use multiproc_test_support::aio::{Drivers, runtimes};
/// for (name, rt) in runtimes(Drivers::All)? {
///     assert_eq!(rt.block_on(async { 2 + 2 }), 4, "{name}");
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
///
/// A runtime could not be built (the OS refused a thread or a descriptor).
pub fn runtimes(drivers: Drivers) -> std::io::Result<Vec<(&'static str, Runtime)>> {
    let mut current = Builder::new_current_thread();
    let mut multi = Builder::new_multi_thread();
    multi.worker_threads(2);
    for b in [&mut current, &mut multi] {
        match drivers {
            Drivers::Time => b.enable_time(),
            Drivers::All => b.enable_all(),
        };
    }
    Ok(vec![
        ("current-thread", current.build()?),
        ("multi-thread", multi.build()?),
    ])
}

/// Runs `fut` on `rt` bounded by [`BOUND`]; a timeout or an error comes back with
/// `what` in front (the runtime, the start method: what a failing run must name).
///
/// ```
/// use multiproc_test_support::aio::{Drivers, block_on_bounded, runtimes};
/// for (name, rt) in runtimes(Drivers::Time)? {
///     block_on_bounded::<Box<dyn std::error::Error>, _>(&rt, name, async { Ok(()) })?;
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// `fut` did not finish within [`BOUND`], or returned an error.
pub fn block_on_bounded<E, Fut>(rt: &Runtime, what: impl Display, fut: Fut) -> Result<(), E>
where
    Fut: Future<Output = Result<(), E>>,
    E: From<String> + Display,
{
    rt.block_on(async {
        match tokio::time::timeout(BOUND, fut).await {
            Err(_) => Err(E::from(format!("{what}: timed out"))),
            Ok(Err(e)) => Err(E::from(format!("{what}: {e}"))),
            Ok(Ok(())) => Ok(()),
        }
    })
}

/// Runs `body` on both runtimes of [`runtimes`], each run bounded by [`BOUND`]; `body`
/// gets the runtime's name.
///
/// ```
/// use multiproc_test_support::aio::{Drivers, on_each_runtime};
/// on_each_runtime::<Box<dyn std::error::Error>, _, _>(Drivers::All, |name| async move {
///     assert!(name.ends_with("thread"));
///     Ok(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// A runtime could not be built, or a run timed out or failed (named by its runtime).
pub fn on_each_runtime<E, F, Fut>(drivers: Drivers, body: F) -> Result<(), E>
where
    F: Fn(&'static str) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: From<String> + Display,
{
    for (name, rt) in runtimes(drivers).map_err(|e| E::from(format!("a runtime: {e}")))? {
        block_on_bounded(&rt, name, body(name))?;
    }
    Ok(())
}

/// Awaits a spawned task at most [`BOUND`] and hands back its value; a test failure
/// (a panic) if it timed out or the task panicked.
///
/// ```
/// use multiproc_test_support::aio::{Drivers, join_bounded, runtimes};
/// for (_, rt) in runtimes(Drivers::Time)? {
///     assert_eq!(rt.block_on(async { join_bounded(tokio::spawn(async { 7 })).await }), 7);
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn join_bounded<T>(task: tokio::task::JoinHandle<T>) -> T {
    match tokio::time::timeout(BOUND, task).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => panic!("the task failed: {e}"),
        Err(_) => panic!("the task did not finish within {BOUND:?}"),
    }
}
