//! Error types, one per operation family.

use std::fmt;

use multiproc_ipc::SegmentError;

/// Creating a primitive failed.
///
/// ```
/// use multiproc_sync::{Barrier, CreateError};
/// assert!(matches!(Barrier::new(0), Err(CreateError::InvalidArgument(_))));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum CreateError {
    /// The shared segment holding its state could not be created.
    Segment(SegmentError),
    /// An argument is out of range (e.g. a barrier of 0 parties).
    InvalidArgument(&'static str),
}

impl fmt::Display for CreateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CreateError::Segment(_) => f.write_str("cannot create the shared state"),
            CreateError::InvalidArgument(s) => write!(f, "invalid argument: {s}"),
        }
    }
}

impl std::error::Error for CreateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CreateError::Segment(e) => Some(e),
            CreateError::InvalidArgument(_) => None,
        }
    }
}

impl From<SegmentError> for CreateError {
    fn from(e: SegmentError) -> Self {
        CreateError::Segment(e)
    }
}

/// The previous holder of a lock died while holding it (its process was killed, or its
/// thread exited). The caller now holds the lock: `into_inner` gives back what a normal
/// acquisition would have returned (a guard, usually).
///
/// The state the lock protects may be half-updated: check or repair it before relying
/// on it. The lock itself is consistent again; later acquirers see a normal lock.
/// Like [`std::sync::PoisonError`], but the lock is not left poisoned.
///
/// ```
/// use multiproc_sync::Lock;
/// let lock = Lock::new()?;
/// let guard = lock.lock().unwrap_or_else(|died| died.into_inner());
/// drop(guard);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct OwnerDied<G> {
    inner: G,
}

impl<G> OwnerDied<G> {
    /// Wraps what an acquisition produced from a holder that died. Public for the crates
    /// that build locks of their own on this shape (the manager's proxies, whose locks
    /// live in the server process).
    ///
    /// ```
    /// let died = multiproc_sync::OwnerDied::new(true);
    /// assert!(died.into_inner());
    /// ```
    pub fn new(inner: G) -> Self {
        OwnerDied { inner }
    }

    /// What the acquisition produced (the guard, for `lock`; `true`, for `acquire`).
    ///
    /// ```
    /// let died = multiproc_sync::OwnerDied::new(7);
    /// assert_eq!(died.into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> G {
        self.inner
    }

    /// Transforms what it carries (e.g. wraps the guard in a guard of a higher-level
    /// type that owns the lock).
    ///
    /// ```
    /// let died = multiproc_sync::OwnerDied::new(7);
    /// assert_eq!(died.map(|n| n * 2).into_inner(), 14);
    /// ```
    pub fn map<H>(self, f: impl FnOnce(G) -> H) -> OwnerDied<H> {
        OwnerDied {
            inner: f(self.inner),
        }
    }

    /// A reference to it.
    ///
    /// ```
    /// let died = multiproc_sync::OwnerDied::new(7);
    /// assert_eq!(*died.get_ref(), 7);
    /// ```
    pub fn get_ref(&self) -> &G {
        &self.inner
    }

    /// A mutable reference to it.
    ///
    /// ```
    /// let mut died = multiproc_sync::OwnerDied::new(7);
    /// *died.get_mut() += 1;
    /// assert_eq!(died.into_inner(), 8);
    /// ```
    pub fn get_mut(&mut self) -> &mut G {
        &mut self.inner
    }
}

impl<G: PartialEq> PartialEq for OwnerDied<G> {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner
    }
}

impl<G> fmt::Debug for OwnerDied<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnerDied").finish_non_exhaustive()
    }
}

impl<G> fmt::Display for OwnerDied<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the previous holder died while holding the lock; it has been recovered")
    }
}

impl<G> std::error::Error for OwnerDied<G> {}

/// A non-blocking or timed acquisition did not succeed normally.
///
/// ```
/// use multiproc_sync::{Lock, TryLockError};
/// let lock = Lock::new()?;
/// let held = lock.try_lock();
/// match lock.try_lock() {
///     Err(TryLockError::WouldBlock) => {} // held (by us): try again later
///     Err(TryLockError::OwnerDied(d)) => drop(d.into_inner()), // ours now; repair the state
///     Ok(_) => unreachable!("the lock is held"),
///     Err(_) => unreachable!("no other case today"),
/// }
/// assert!(held.is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[non_exhaustive]
pub enum TryLockError<G> {
    /// Held by someone else (for `try_lock`), or still held when the timeout elapsed.
    WouldBlock,
    /// Acquired, but from a holder that died: see [`OwnerDied`].
    OwnerDied(OwnerDied<G>),
}

impl<G> TryLockError<G> {
    /// The acquisition's result if the lock was acquired despite the error (owner died).
    ///
    /// ```
    /// use multiproc_sync::{OwnerDied, TryLockError};
    /// let died: TryLockError<u8> = TryLockError::OwnerDied(OwnerDied::new(1));
    /// assert_eq!(died.into_recovered(), Some(1)); // acquired despite the error
    /// let busy: TryLockError<u8> = TryLockError::WouldBlock;
    /// assert_eq!(busy.into_recovered(), None);
    /// ```
    pub fn into_recovered(self) -> Option<G> {
        match self {
            TryLockError::WouldBlock => None,
            TryLockError::OwnerDied(d) => Some(d.into_inner()),
        }
    }
}

impl<G> From<OwnerDied<G>> for TryLockError<G> {
    fn from(d: OwnerDied<G>) -> Self {
        TryLockError::OwnerDied(d)
    }
}

impl<G> fmt::Debug for TryLockError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryLockError::WouldBlock => f.write_str("WouldBlock"),
            TryLockError::OwnerDied(d) => d.fmt(f),
        }
    }
}

impl<G> fmt::Display for TryLockError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryLockError::WouldBlock => f.write_str("the lock is held by someone else"),
            TryLockError::OwnerDied(d) => d.fmt(f),
        }
    }
}

impl<G> std::error::Error for TryLockError<G> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        None
    }
}

/// A release that CPython rejects.
///
/// ```
/// use multiproc_sync::{BoundedSemaphore, Lock, ReleaseError};
/// assert_eq!(Lock::new()?.release(), Err(ReleaseError::NotLocked));
/// assert_eq!(BoundedSemaphore::new(1)?.release(), Err(ReleaseError::TooManyReleases));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReleaseError {
    /// `Lock::release` on an unlocked lock (CPython: `ValueError`).
    NotLocked,
    /// `RLock::release` by a thread that does not hold it (CPython: `AssertionError`).
    NotOwner,
    /// A `BoundedSemaphore` released above its initial value, or a semaphore above
    /// `u32::MAX` (CPython: `ValueError('semaphore or lock released too many times')`).
    TooManyReleases,
}

impl fmt::Display for ReleaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReleaseError::NotLocked => "release of an unlocked lock",
            ReleaseError::NotOwner => {
                "attempt to release a recursive lock not owned by this thread"
            }
            ReleaseError::TooManyReleases => "semaphore or lock released too many times",
        })
    }
}

impl std::error::Error for ReleaseError {}

/// A [`Barrier`](crate::Barrier) wait did not complete.
///
/// ```
/// use multiproc_sync::{Barrier, BarrierError};
/// let b = Barrier::new(2)?;
/// b.abort();
/// assert_eq!(b.wait(), Err(BarrierError::Broken)); // broken: returns at once
/// b.reset();
/// assert!(!b.is_broken());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BarrierError {
    /// The barrier is broken: a party timed out or died, `abort` was called, or it is being
    /// `reset` (CPython: `BrokenBarrierError`). It stays broken until `reset`.
    Broken,
    /// This party ran the action and the action panicked; the barrier is now broken.
    ActionPanicked,
}

impl fmt::Display for BarrierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BarrierError::Broken => "the barrier is broken",
            BarrierError::ActionPanicked => "the barrier action panicked; the barrier is broken",
        })
    }
}

impl std::error::Error for BarrierError {}
