//! [`Condition`].

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::deadline::Deadline;
use crate::error::{CreateError, OwnerDied, TryLockError};
use crate::lock::{Lock, RLock};
use crate::mapping::Shared;
use crate::raw::CondState;
use crate::robust::{Acquired, Spin};
use crate::sys;

/// The lock a [`Condition`] is used with.
///
/// ```
/// use multiproc_sync::{CondLock, Condition, Lock};
/// let lock = Lock::new()?;
/// let cond = Condition::with_lock(lock.clone())?;
/// assert!(matches!(cond.get_lock(), CondLock::Lock(l) if l.same_as(&lock)));
/// assert!(matches!(Condition::new()?.get_lock(), CondLock::RLock(_))); // the default
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub enum CondLock {
    /// A non-recursive [`Lock`].
    Lock(Lock),
    /// A recursive [`RLock`] (the default, as in CPython): `wait` releases every level
    /// and restores the depth afterwards.
    RLock(RLock),
}

impl From<Lock> for CondLock {
    fn from(l: Lock) -> Self {
        CondLock::Lock(l)
    }
}

impl From<RLock> for CondLock {
    fn from(l: RLock) -> Self {
        CondLock::RLock(l)
    }
}

impl CondLock {
    fn acquire(&self, deadline: Deadline) -> Acquired {
        match self {
            CondLock::Lock(l) => l.raw().lock(sys::this_thread(), deadline, Spin::Backoff),
            CondLock::RLock(l) => match l.acquire(deadline.remaining()) {
                Ok(true) => Acquired::Ok,
                Ok(false) => Acquired::TimedOut,
                Err(_) => Acquired::OwnerDied,
            },
        }
    }

    fn release_one(&self) {
        match self {
            CondLock::Lock(l) => {
                l.raw().unlock();
            }
            CondLock::RLock(l) => {
                let _ = l.release();
            }
        }
    }
}

/// A condition variable shared between processes (`multiprocessing.Condition`), used
/// with a [`Lock`] or an [`RLock`] (the default).
///
/// `lock()` returns a [`ConditionGuard`]; `wait`, `wait_for`, `notify` and `notify_all`
/// are methods of the guard, so "must acquire the lock before `wait`" (CPython's
/// `AssertionError`) cannot happen. `notify(n)` wakes at most `n` waiters.
///
/// **Deaths.** If a process dies holding the lock, the waiter that takes it back gets
/// [`OwnerDied`] from `wait` (it holds the lock again). A waiter that dies while waiting
/// stays counted until a notification is granted to it, so a later `notify(1)` may be
/// consumed by nobody; `notify_all` is unaffected.
///
/// ```
/// use multiproc_sync::{Condition, OwnerDied};
/// use std::time::Duration;
/// let cond = Condition::new()?;
/// let mut g = cond.lock().unwrap_or_else(OwnerDied::into_inner);
/// assert_eq!(g.wait_timeout(Duration::from_millis(1)), Ok(false)); // nobody notifies
/// g.notify_all();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
pub struct Condition {
    st: Shared<CondState>,
    lock: CondLock,
}

/// Holds a [`Condition`]'s lock (one level of it) until dropped; waits and notifies
/// go through it.
///
/// ```
/// use std::time::Duration;
/// use multiproc_sync::{Condition, Event, OwnerDied};
///
/// let cond = Condition::new()?;
/// let ready = Event::new()?; // the state the condition protects
/// let (c2, r2) = (cond.clone(), ready.clone());
/// let t = std::thread::spawn(move || {
///     let g = c2.lock().unwrap_or_else(OwnerDied::into_inner);
///     r2.set();
///     g.notify_all();
/// });
/// let mut g = cond.lock().unwrap_or_else(OwnerDied::into_inner);
/// let done = g
///     .wait_for_timeout(|| ready.is_set(), Duration::from_secs(60))
///     .unwrap_or_else(OwnerDied::into_inner);
/// assert!(done);
/// drop(g);
/// t.join().unwrap();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "the lock is released when the guard is dropped"]
pub struct ConditionGuard<'a> {
    cond: &'a Condition,
    _not_send: PhantomData<std::sync::MutexGuard<'static, ()>>,
}

impl Condition {
    /// The counting condition variable, the mutex under its lock, and the lock's depth
    /// counter if it is an `RLock` (the async form's hook).
    #[cfg(feature = "tokio")]
    pub(crate) fn async_parts(
        &self,
    ) -> (
        &CondState,
        &crate::robust::RobustMutex,
        Option<&std::sync::atomic::AtomicU32>,
    ) {
        match &self.lock {
            CondLock::Lock(l) => (self.st.get(), l.raw(), None),
            CondLock::RLock(l) => {
                let (m, c) = l.parts();
                (self.st.get(), m, Some(c))
            }
        }
    }
}

impl Condition {
    /// A condition with a new [`RLock`].
    ///
    /// # Errors
    /// A shared segment could not be created.
    ///
    /// ```
    /// use multiproc_sync::{Condition, OwnerDied};
    /// let cond = Condition::new()?;
    /// let g = cond.lock().unwrap_or_else(OwnerDied::into_inner);
    /// g.notify_all(); // nobody waits: nothing happens
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new() -> Result<Condition, CreateError> {
        Condition::with_lock(RLock::new()?)
    }

    /// A condition using `lock` (a clone of a [`Lock`] or [`RLock`] handle).
    ///
    /// # Errors
    /// A shared segment could not be created.
    ///
    /// ```
    /// use multiproc_sync::{Condition, Lock};
    /// let lock = Lock::new()?;
    /// let cond = Condition::with_lock(lock.clone())?;
    /// let g = cond.try_lock().map_err(|_| "busy")?;
    /// assert!(lock.is_locked()); // the condition's lock is that lock
    /// drop(g);
    /// assert!(!lock.is_locked());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_lock(lock: impl Into<CondLock>) -> Result<Condition, CreateError> {
        Ok(Condition {
            st: Shared::new("multiproc-condition", 0)?,
            lock: lock.into(),
        })
    }

    /// The lock.
    ///
    /// ```
    /// use multiproc_sync::{CondLock, Condition};
    /// let cond = Condition::new()?;
    /// assert!(matches!(cond.get_lock(), CondLock::RLock(_))); // CPython's default
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_lock(&self) -> &CondLock {
        &self.lock
    }

    fn guard(&self) -> ConditionGuard<'_> {
        ConditionGuard {
            cond: self,
            _not_send: PhantomData,
        }
    }

    fn finish(
        &self,
        acq: Acquired,
    ) -> Result<ConditionGuard<'_>, TryLockError<ConditionGuard<'_>>> {
        match acq {
            Acquired::Ok => Ok(self.guard()),
            Acquired::OwnerDied => Err(TryLockError::OwnerDied(OwnerDied::new(self.guard()))),
            Acquired::TimedOut => Err(TryLockError::WouldBlock),
        }
    }

    /// Acquires the lock (`with cond:`).
    ///
    /// The family: `lock` waits as long as it takes, [`lock_timeout`](Self::lock_timeout)
    /// at most a given time, [`try_lock`](Self::try_lock) not at all.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_sync::{Condition, Lock, OwnerDied, TryLockError};
    ///
    /// let cond = Condition::with_lock(Lock::new()?)?; // not recursive
    /// let g = cond.lock().unwrap_or_else(OwnerDied::into_inner);
    /// assert!(matches!(cond.try_lock(), Err(TryLockError::WouldBlock)));
    /// assert!(matches!(cond.lock_timeout(Duration::from_millis(10)), Err(TryLockError::WouldBlock)));
    /// drop(g);
    /// assert!(cond.lock_timeout(Duration::from_secs(60)).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`OwnerDied`] (carrying the guard) if the lock was taken over from a dead holder.
    pub fn lock(&self) -> Result<ConditionGuard<'_>, OwnerDied<ConditionGuard<'_>>> {
        match self.lock.acquire(Deadline::Never) {
            Acquired::OwnerDied => Err(OwnerDied::new(self.guard())),
            // `Deadline::Never` cannot time out.
            Acquired::Ok | Acquired::TimedOut => Ok(self.guard()),
        }
    }

    /// Acquires the lock without blocking.
    ///
    /// # Errors
    /// As [`Lock::try_lock`].
    ///
    /// ```
    /// use multiproc_sync::Condition;
    /// let cond = Condition::new()?;
    /// let g = cond.try_lock().map_err(|_| "busy")?;
    /// let other = cond.clone();
    /// let got = std::thread::spawn(move || other.try_lock().is_ok()).join().map_err(|_| "panicked")?;
    /// assert!(!got); // held by this thread
    /// drop(g);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_lock(&self) -> Result<ConditionGuard<'_>, TryLockError<ConditionGuard<'_>>> {
        self.finish(self.lock.acquire(Deadline::Now))
    }

    /// Acquires the lock, waiting at most `timeout`.
    ///
    /// # Errors
    /// As [`Lock::lock_timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_sync::Condition;
    /// let cond = Condition::new()?;
    /// assert!(cond.lock_timeout(Duration::from_secs(60)).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lock_timeout(
        &self,
        timeout: Duration,
    ) -> Result<ConditionGuard<'_>, TryLockError<ConditionGuard<'_>>> {
        self.finish(self.lock.acquire(Deadline::after(Some(timeout))))
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition")
            .field("lock", &self.lock)
            .finish()
    }
}

impl ConditionGuard<'_> {
    fn wait_until(&mut self, deadline: Deadline) -> (bool, bool) {
        let st = self.cond.st.get();
        let lock = &self.cond.lock;
        let w = match lock {
            CondLock::Lock(l) => {
                let raw = l.raw();
                st.wait(
                    deadline,
                    None,
                    &mut || {
                        raw.unlock();
                    },
                    &mut || raw.lock(sys::this_thread(), Deadline::Never, Spin::Backoff),
                    &mut || false,
                )
            }
            CondLock::RLock(l) => {
                let depth = std::cell::Cell::new(1);
                st.wait(
                    deadline,
                    None,
                    &mut || depth.set(l.release_all()),
                    &mut || l.reacquire_depth(depth.get()),
                    &mut || false,
                )
            }
        };
        (w.notified, w.owner_died)
    }

    /// Releases the lock, sleeps until notified, and takes the lock back.
    ///
    /// # Errors
    /// [`OwnerDied`] if, while re-acquiring, the lock was taken over from a dead holder
    /// (the lock is held again; the protected state may need repair).
    ///
    /// ```
    /// use multiproc_sync::{Condition, OwnerDied};
    /// let cond = Condition::new()?;
    /// let other = cond.clone();
    /// let mut g = cond.lock().unwrap_or_else(OwnerDied::into_inner);
    /// let t = std::thread::spawn(move || {
    ///     // gets the lock once `wait` released it
    ///     other.lock().unwrap_or_else(OwnerDied::into_inner).notify(1);
    /// });
    /// g.wait().unwrap_or_else(OwnerDied::into_inner); // notified; the lock is held again
    /// drop(g);
    /// assert!(t.join().is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait(&mut self) -> Result<(), OwnerDied<()>> {
        match self.wait_until(Deadline::Never) {
            (_, true) => Err(OwnerDied::new(())),
            _ => Ok(()),
        }
    }

    /// As [`wait`](Self::wait) for at most `timeout`: `Ok(true)` if notified,
    /// `Ok(false)` on timeout (Python's `wait(timeout)`).
    ///
    /// # Errors
    /// [`OwnerDied`] carrying the same boolean, as for [`wait`](Self::wait).
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_sync::{Condition, OwnerDied};
    /// let cond = Condition::new()?;
    /// let mut g = cond.lock().unwrap_or_else(OwnerDied::into_inner);
    /// let notified = g
    ///     .wait_timeout(Duration::from_millis(10))
    ///     .unwrap_or_else(OwnerDied::into_inner);
    /// assert!(!notified); // nobody notified
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<bool, OwnerDied<bool>> {
        match self.wait_until(Deadline::after(Some(timeout))) {
            (n, true) => Err(OwnerDied::new(n)),
            (n, false) => Ok(n),
        }
    }

    /// Waits until `predicate()` is true (checked under the lock before each wait).
    ///
    /// # Errors
    /// [`OwnerDied`] as for [`wait`](Self::wait); the wait stops there.
    ///
    /// ```
    /// use multiproc_sync::{Condition, OwnerDied};
    /// let cond = Condition::new()?;
    /// let mut g = cond.lock().unwrap_or_else(OwnerDied::into_inner);
    /// let ready = true; // the state the condition protects
    /// g.wait_for(|| ready).unwrap_or_else(OwnerDied::into_inner); // true already: no wait
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_for(&mut self, mut predicate: impl FnMut() -> bool) -> Result<(), OwnerDied<()>> {
        while !predicate() {
            self.wait()?;
        }
        Ok(())
    }

    /// Waits until `predicate()` is true or `timeout` elapses; returns the predicate's
    /// last value (Python's `wait_for(predicate, timeout)`).
    ///
    /// # Errors
    /// [`OwnerDied`] carrying the predicate's value at that point.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_sync::{Condition, OwnerDied};
    /// let cond = Condition::new()?;
    /// let mut g = cond.lock().unwrap_or_else(OwnerDied::into_inner);
    /// let ok = g
    ///     .wait_for_timeout(|| false, Duration::from_millis(10))
    ///     .unwrap_or_else(OwnerDied::into_inner);
    /// assert!(!ok); // still false at the deadline
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_for_timeout(
        &mut self,
        mut predicate: impl FnMut() -> bool,
        timeout: Duration,
    ) -> Result<bool, OwnerDied<bool>> {
        let deadline = Deadline::after(Some(timeout));
        loop {
            if predicate() {
                return Ok(true);
            }
            if deadline.expired() {
                return Ok(false);
            }
            let (_, died) = self.wait_until(deadline);
            if died {
                return Err(OwnerDied::new(predicate()));
            }
        }
    }

    /// Wakes at most `n` waiters (they run once they get the lock).
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_sync::{Condition, OwnerDied};
    /// let cond = Condition::new()?;
    /// let other = cond.clone();
    /// let mut g = cond.lock().unwrap_or_else(OwnerDied::into_inner);
    /// let t = std::thread::spawn(move || other.lock().unwrap_or_else(OwnerDied::into_inner).notify(1));
    /// let notified = g
    ///     .wait_timeout(Duration::from_secs(60))
    ///     .unwrap_or_else(OwnerDied::into_inner);
    /// assert!(notified);
    /// drop(g);
    /// assert!(t.join().is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn notify(&self, n: u32) {
        self.cond.st.get().notify(n);
    }

    /// Wakes every waiter.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_sync::{Condition, OwnerDied};
    /// let cond = Condition::new()?;
    /// let other = cond.clone();
    /// let mut g = cond.lock().unwrap_or_else(OwnerDied::into_inner);
    /// let t = std::thread::spawn(move || other.lock().unwrap_or_else(OwnerDied::into_inner).notify_all());
    /// let notified = g
    ///     .wait_timeout(Duration::from_secs(60))
    ///     .unwrap_or_else(OwnerDied::into_inner);
    /// assert!(notified);
    /// drop(g);
    /// assert!(t.join().is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn notify_all(&self) {
        self.cond.st.get().notify_all();
    }
}

impl Drop for ConditionGuard<'_> {
    fn drop(&mut self) {
        self.cond.lock.release_one();
    }
}

impl fmt::Debug for ConditionGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConditionGuard")
            .field("cond", self.cond)
            .finish()
    }
}
