//! What an acquisition of a manager lock, condition or semaphore reports when it took
//! over from a holder that vanished (its process was killed or crashed, or its
//! connection broke while it held the lock or permit; the server released it, and the
//! caller now holds it): [`OwnerDied`], the very type of `multiproc_sync` (re-exported
//! here), and [`AcquireError`], which adds the manager's [`Error`] (sync's `lock()`
//! cannot fail otherwise, so it returns a bare `OwnerDied`):
//!
//! | call | `multiproc-sync` | `multiproc-manager` |
//! |---|---|---|
//! | guard | `lock()` → `Result<G, OwnerDied<G>>` | `lock()` / `permit()` → `Result<G, AcquireError<G>>` |
//! | raw | `acquire(Option<Duration>)` → `Result<bool, OwnerDied<bool>>` | `acquire(Option<Duration>)` → `Result<bool, AcquireError<bool>>` |
//!
//! A client that ends normally (its process returned, or it dropped its last proxy)
//! leaves a `Lock` locked and its semaphore permits taken, for another process to
//! release, as in CPython; nobody is told then.

use std::fmt;

pub use multiproc_sync::OwnerDied;

use crate::error::Error;
use crate::handle::Handle;
use crate::protocol::Op;
use crate::value::Value;

/// Why [`lock`](crate::LockProxy::lock), [`permit`](crate::SemaphoreProxy::permit) or
/// [`acquire`](crate::LockProxy::acquire) did not simply succeed.
///
/// ```
/// use multiproc_manager::{AcquireError, Manager};
///
/// let manager = Manager::in_thread()?;
/// let lock = manager.lock()?;
/// match lock.lock() {
///     Ok(_guard) => {} // the usual case
///     Err(AcquireError::OwnerDied(d)) => drop(d.into_inner()), // held; check the state
///     Err(AcquireError::Failed(e)) => return Err(e.into()),
///     Err(_) => unreachable!("no other case today"),
/// }
/// assert!(!lock.locked()?); // the guard was dropped
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[non_exhaustive]
pub enum AcquireError<G> {
    /// Acquired, from a holder that vanished: the guard (or `true`) is inside, and the
    /// lock is held.
    OwnerDied(OwnerDied<G>),
    /// Not acquired: the call failed.
    Failed(Error),
}

impl<G> AcquireError<G> {
    /// The guard of an [`OwnerDied`] acquisition (the caller decided the protected
    /// state is fine), or the failure: `lock.lock().or_else(AcquireError::recover)?`.
    ///
    /// # Errors
    /// The [`Failed`](Self::Failed) case's error.
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// use multiproc_manager::AcquireError;
    /// let lock = manager.lock()?;
    /// let guard = lock.lock().or_else(AcquireError::recover)?; // an `OwnerDied` is fine here
    /// assert!(lock.locked()?);
    /// drop(guard);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recover(self) -> Result<G, Error> {
        match self {
            AcquireError::OwnerDied(d) => Ok(d.into_inner()),
            AcquireError::Failed(e) => Err(e),
        }
    }
}

impl<G> fmt::Debug for AcquireError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcquireError::OwnerDied(d) => f.debug_tuple("OwnerDied").field(d).finish(),
            AcquireError::Failed(e) => f.debug_tuple("Failed").field(e).finish(),
        }
    }
}

impl<G> fmt::Display for AcquireError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcquireError::OwnerDied(d) => d.fmt(f),
            AcquireError::Failed(e) => e.fmt(f),
        }
    }
}

impl<G> std::error::Error for AcquireError<G> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AcquireError::OwnerDied(_) => None,
            AcquireError::Failed(e) => Some(e),
        }
    }
}

impl<G> From<Error> for AcquireError<G> {
    fn from(e: Error) -> Self {
        AcquireError::Failed(e)
    }
}

/// Into [`Error`]: an [`OwnerDied`] becomes [`Error::OwnerDied`]. A guard inside is
/// dropped (releasing the lock), so `?` on `lock()`/`permit()` never leaves a lock held;
/// after a raw `acquire` (which carries `true`) the caller holds it, as the raw call says.
impl<G> From<AcquireError<G>> for Error {
    fn from(e: AcquireError<G>) -> Self {
        match e {
            AcquireError::OwnerDied(_) => Error::OwnerDied,
            AcquireError::Failed(e) => e,
        }
    }
}

/// Runs an acquisition: `Ok(acquired)`, or [`AcquireError::OwnerDied`] carrying `true`
/// when it took over from a holder that vanished (it is held then).
pub(crate) fn acquire(h: &Handle, op: Op) -> Result<bool, AcquireError<bool>> {
    match h.call(op)? {
        Value::Bool(b) => Ok(b),
        Value::Tuple(_) => Err(AcquireError::OwnerDied(OwnerDied::new(true))),
        other => Err(AcquireError::Failed(Error::Type(
            crate::error::TypeMismatch::found("bool", &other),
        ))),
    }
}
