//! The runtime rule for `Fork` (feature `tokio`): [`check_start_method`], public as
//! `multiproc_process::aio::check_start_method`. Below `process.rs`, which makes the
//! check on every start, and `aio.rs`, which re-exports it.

use crate::error::StartError;
use crate::method::StartMethod;

/// Refuses [`StartMethod::Fork`] from inside a multi-threaded tokio runtime
/// ([`StartError::ForkInRuntime`]); every other case passes. [`ProcessBuilder::start`]
/// makes this check (with the `tokio` feature), and so does a pool's build; it is
/// public for code above that forks in other ways.
///
/// The rule reaches what `tokio::runtime::Handle::try_current` sees: a thread inside a
/// multi-thread runtime (a worker thread, or one in `block_on`/`enter`). A fork from a
/// thread outside it while such a runtime exists elsewhere in the process is not
/// detected, and carries the Fork caveat of any multi-threaded parent (see the crate
/// docs).
///
/// ```
/// use multiproc_process::{StartError, StartMethod};
/// use multiproc_process::aio::check_start_method;
///
/// assert!(check_start_method(StartMethod::Fork).is_ok()); // not in a runtime
/// let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
/// rt.block_on(async {
///     assert!(matches!(check_start_method(StartMethod::Fork), Err(StartError::ForkInRuntime)));
///     assert!(check_start_method(StartMethod::Spawn).is_ok());
///     assert!(check_start_method(StartMethod::ForkServer).is_ok());
/// });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`ProcessBuilder::start`]: crate::ProcessBuilder::start
///
/// # Errors
/// [`StartError::ForkInRuntime`] for `Fork` from inside a multi-thread runtime.
pub fn check_start_method(method: StartMethod) -> Result<(), StartError> {
    let threaded = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() != tokio::runtime::RuntimeFlavor::CurrentThread);
    if method == StartMethod::Fork && threaded {
        return Err(StartError::ForkInRuntime);
    }
    Ok(())
}
