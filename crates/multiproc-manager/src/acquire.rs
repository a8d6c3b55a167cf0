//! What an acquisition of a manager lock, condition or semaphore reports when it took
//! over from a holder that vanished: [`OwnerDied`], in the shape and under the name of
//! `multiproc_sync::OwnerDied`, and [`AcquireError`], which adds the manager's
//! [`Error`] (sync's `lock()` cannot fail otherwise, so it returns a bare `OwnerDied`).
//! The manager does not depend on `multiproc-sync` (the layering table in
//! docs/ARCHITECTURE.md has no such edge, and the manager's locks live in the server
//! process, not in shared memory), so the types are the manager's own, mirroring sync's:
//!
//! | call | `multiproc-sync` | `multiproc-manager` |
//! |---|---|---|
//! | guard | `lock()` → `Result<G, OwnerDied<G>>` | `lock()` / `permit()` → `Result<G, AcquireError<G>>` |
//! | raw | `acquire(Option<Duration>)` → `Result<bool, OwnerDied<bool>>` | `acquire(Option<Duration>)` → `Result<bool, AcquireError<bool>>` |

use std::fmt;

use crate::error::Error;
use crate::protocol::Op;
use crate::proxy::Handle;
use crate::value::Value;

/// The previous holder's client vanished (its process was killed or crashed, or its
/// connection broke) while it held the lock or permit; the server released it, and the
/// caller now holds it. `into_inner` gives back what a normal acquisition returns (the
/// guard, for [`lock`](crate::LockProxy::lock); `true`, for
/// [`acquire`](crate::LockProxy::acquire)).
///
/// The state the lock protects may be half-updated: check or repair it before relying
/// on it. Later acquirers see a normal lock. A client that ends normally (its process
/// returned, or it dropped its last proxy) leaves a `Lock` locked and its semaphore
/// permits taken, for another process to release, as in CPython; nobody is told then.
///
/// ```
/// # let manager = multiproc_manager::Manager::in_thread()?;
/// let lock = manager.lock()?;
/// // `or_else(AcquireError::recover)` takes the lock whoever held it before
/// let guard = lock.lock().or_else(multiproc_manager::AcquireError::recover)?;
/// drop(guard);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct OwnerDied<G> {
    inner: G,
}

impl<G> OwnerDied<G> {
    pub(crate) fn new(inner: G) -> Self {
        OwnerDied { inner }
    }

    /// What the acquisition produced (the guard, for `lock`; `true`, for `acquire`).
    pub fn into_inner(self) -> G {
        self.inner
    }

    /// Transforms what it carries.
    pub fn map<H>(self, f: impl FnOnce(G) -> H) -> OwnerDied<H> {
        OwnerDied {
            inner: f(self.inner),
        }
    }

    /// A reference to it.
    pub fn get_ref(&self) -> &G {
        &self.inner
    }

    /// A mutable reference to it.
    pub fn get_mut(&mut self) -> &mut G {
        &mut self.inner
    }
}

impl<G> fmt::Debug for OwnerDied<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnerDied").finish_non_exhaustive()
    }
}

impl<G> fmt::Display for OwnerDied<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(OWNER_DIED_MSG)
    }
}

impl<G> std::error::Error for OwnerDied<G> {}

pub(crate) const OWNER_DIED_MSG: &str = "the previous holder vanished while holding it; the server released it and the caller holds it now";

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
