//! What an acquisition of a manager lock or semaphore reports when it took over from a
//! holder that vanished: [`OwnerDied`], in the shape of `multiproc_sync::OwnerDied`.

use std::fmt;

use crate::error::Error;
use crate::protocol::Op;
use crate::proxy::Handle;
use crate::value::Value;

/// The previous holder's client vanished (its process was killed or crashed, or its
/// connection broke) while it held the lock or permit; the server released it, and the
/// caller now holds it. `into_inner` gives back what a normal acquisition returns (the
/// guard, for [`guard`](crate::LockProxy::guard)).
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
/// let guard = lock.guard().or_else(multiproc_manager::AcquireError::recover)?;
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

    /// What the acquisition produced (the guard, for `guard`).
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

/// Why [`guard`](crate::LockProxy::guard) did not simply hand back a guard.
///
/// ```
/// use multiproc_manager::{AcquireError, Manager};
///
/// let manager = Manager::in_thread()?;
/// let lock = manager.lock()?;
/// match lock.guard() {
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
    /// Acquired, from a holder that vanished: the guard is inside, and the lock is held.
    OwnerDied(OwnerDied<G>),
    /// Not acquired: the call failed.
    Failed(Error),
}

impl<G> AcquireError<G> {
    /// The guard of an [`OwnerDied`] acquisition (the caller decided the protected
    /// state is fine), or the failure: `lock.guard().or_else(AcquireError::recover)?`.
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

/// Into [`Error`]: an [`OwnerDied`] becomes [`Error::OwnerDied`] and its guard is
/// dropped (releasing the lock), so `?` never leaves a lock held.
impl<G> From<AcquireError<G>> for Error {
    fn from(e: AcquireError<G>) -> Self {
        match e {
            AcquireError::OwnerDied(_) => Error::OwnerDied,
            AcquireError::Failed(e) => e,
        }
    }
}

/// Runs an acquisition: `Ok(acquired)`, or [`Error::OwnerDied`] when it took over
/// from a holder that vanished (it is held then).
pub(crate) fn acquire(h: &Handle, op: Op) -> Result<bool, Error> {
    match h.call(op)? {
        Value::Bool(b) => Ok(b),
        Value::Tuple(_) => Err(Error::OwnerDied),
        other => Err(Error::Type(crate::error::TypeMismatch::found(
            "bool", &other,
        ))),
    }
}
