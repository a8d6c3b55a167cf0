//! [`Lock`] and [`RLock`]: robust process-shared mutexes.

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::deadline::Deadline;
use crate::error::{CreateError, OwnerDied, ReleaseError, TryLockError};
use crate::mapping::Shared;
use crate::robust::{Acquired, RobustMutex as MutexState, Spin};
use crate::state::RLockState;
use crate::sys;

/// `!Send` but `Sync`: a guard must be released by the thread that took it.
type NotSend = PhantomData<std::sync::MutexGuard<'static, ()>>;

/// The acquiring methods `Lock` and `RLock` share, each with the docs the invocation
/// gives it: `lock`, `try_lock`, `lock_timeout` and Python's `acquire`, all through the
/// type's `acquire_until` and `guard`.
macro_rules! acquire_family {
    (
        guard: $guard:ident;
        $(#[$lock:meta])* lock;
        $(#[$try_lock:meta])* try_lock;
        $(#[$lock_timeout:meta])* lock_timeout;
        $(#[$acquire:meta])* acquire;
    ) => {
        $(#[$lock])*
        pub fn lock(&self) -> Result<$guard<'_>, OwnerDied<$guard<'_>>> {
            blocking(self.acquire_until(Deadline::Never), || self.guard())
        }

        $(#[$try_lock])*
        pub fn try_lock(&self) -> Result<$guard<'_>, TryLockError<$guard<'_>>> {
            finish(self.acquire_until(Deadline::Now), || self.guard())
        }

        $(#[$lock_timeout])*
        pub fn lock_timeout(
            &self,
            timeout: Duration,
        ) -> Result<$guard<'_>, TryLockError<$guard<'_>>> {
            finish(self.acquire_until(Deadline::after(Some(timeout))), || {
                self.guard()
            })
        }

        $(#[$acquire])*
        pub fn acquire(&self, timeout: Option<Duration>) -> Result<bool, OwnerDied<bool>> {
            match self.acquire_until(Deadline::after(timeout)) {
                Acquired::Ok => Ok(true),
                Acquired::OwnerDied => Err(OwnerDied::new(true)),
                Acquired::TimedOut => Ok(false),
            }
        }
    };
}

fn finish<G>(acq: Acquired, guard: impl FnOnce() -> G) -> Result<G, TryLockError<G>> {
    match acq {
        Acquired::Ok => Ok(guard()),
        Acquired::OwnerDied => Err(TryLockError::OwnerDied(OwnerDied::new(guard()))),
        Acquired::TimedOut => Err(TryLockError::WouldBlock),
    }
}

/// For `Deadline::Never` acquisitions, which cannot time out (the slow path loops until
/// it owns the lock).
fn blocking<G>(acq: Acquired, guard: impl FnOnce() -> G) -> Result<G, OwnerDied<G>> {
    match acq {
        Acquired::OwnerDied => Err(OwnerDied::new(guard())),
        Acquired::Ok | Acquired::TimedOut => Ok(guard()),
    }
}

/// A non-recursive lock shared between processes and threads (`multiprocessing.Lock`).
///
/// Built on a futex in a shared segment: uncontended `lock`/unlock is one CAS each and
/// no system call; contended waiters spin briefly, then sleep in the kernel.
///
/// **Holder death.** If the holder dies (its process is killed, or its thread exits)
/// while holding the lock, the next acquirer takes the lock over within ~20 ms and
/// gets [`OwnerDied`] (carrying its guard) instead of hanging forever as CPython does.
///
/// Clone the handle to share it with threads; send it (in `Process` arguments, over a
/// `Connection`) to share it with other processes, under any start method.
///
/// ```
/// use multiproc_sync::{Lock, OwnerDied};
/// let lock = Lock::new()?;
/// {
///     let _guard = lock.lock().unwrap_or_else(OwnerDied::into_inner);
///     assert!(lock.try_lock().is_err());
/// }
/// assert!(lock.try_lock().is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
pub struct Lock {
    state: Shared<MutexState>,
}

/// Holds a [`Lock`] until dropped.
///
/// ```
/// use multiproc_sync::{Lock, OwnerDied};
/// let lock = Lock::new()?;
/// let guard = lock.lock().unwrap_or_else(OwnerDied::into_inner);
/// assert!(lock.is_locked());
/// drop(guard); // releases
/// assert!(!lock.is_locked());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "the lock is released when the guard is dropped"]
pub struct LockGuard<'a> {
    lock: &'a Lock,
    _not_send: NotSend,
}

impl Lock {
    /// Creates an unlocked lock.
    ///
    /// # Errors
    /// The shared segment could not be created (`memfd_create`/`mmap` failed).
    ///
    /// ```
    /// use multiproc_sync::Lock;
    /// let lock = Lock::new()?;
    /// assert!(!lock.is_locked());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new() -> Result<Lock, CreateError> {
        Ok(Lock {
            state: Shared::new("multiproc-lock", 0)?,
        })
    }

    pub(crate) fn raw(&self) -> &MutexState {
        self.state.get()
    }

    fn guard(&self) -> LockGuard<'_> {
        LockGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    fn acquire_until(&self, deadline: Deadline) -> Acquired {
        self.raw().lock(sys::this_thread(), deadline, Spin::Backoff)
    }

    acquire_family! {
        guard: LockGuard;

        /// Blocks until the lock is acquired.
        ///
        /// Locking a `Lock` that the calling thread already holds deadlocks (it is not
        /// recursive; see [`RLock`]).
        ///
        /// The family: `lock` waits as long as it takes, [`lock_timeout`](Self::lock_timeout)
        /// at most a given time, [`try_lock`](Self::try_lock) not at all.
        ///
        /// ```
        /// use std::time::Duration;
        /// use multiproc_sync::{Lock, OwnerDied, TryLockError};
        ///
        /// let lock = Lock::new()?;
        /// let guard = lock.lock().unwrap_or_else(OwnerDied::into_inner);
        /// let other = lock.clone();
        /// let seen = std::thread::spawn(move || {
        ///     let now = matches!(other.try_lock(), Err(TryLockError::WouldBlock));
        ///     let later = matches!(
        ///         other.lock_timeout(Duration::from_millis(10)),
        ///         Err(TryLockError::WouldBlock)
        ///     );
        ///     (now, later)
        /// })
        /// .join()
        /// .unwrap();
        /// assert_eq!(seen, (true, true)); // held by this thread all along
        /// drop(guard);
        /// assert!(lock.lock_timeout(Duration::from_secs(60)).is_ok());
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        ///
        /// # Errors
        /// [`OwnerDied`] (carrying the guard: the lock *is* held) if it was taken over from a
        /// holder that died.
        lock;

        /// Acquires the lock if it is free, without blocking.
        ///
        /// # Errors
        /// [`TryLockError::WouldBlock`] if it is held; [`TryLockError::OwnerDied`] as for
        /// [`lock`](Self::lock).
        ///
        /// ```
        /// use multiproc_sync::{Lock, TryLockError};
        /// let lock = Lock::new()?;
        /// let g = lock.try_lock().map_err(|_| "busy")?;
        /// assert!(matches!(lock.try_lock(), Err(TryLockError::WouldBlock))); // not re-entrant
        /// drop(g);
        /// assert!(lock.try_lock().is_ok());
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        try_lock;

        /// Blocks at most `timeout` for the lock.
        ///
        /// # Errors
        /// [`TryLockError::WouldBlock`] if still held after `timeout`;
        /// [`TryLockError::OwnerDied`] as for [`lock`](Self::lock).
        ///
        /// ```
        /// use std::time::Duration;
        /// use multiproc_sync::{Lock, TryLockError};
        /// let lock = Lock::new()?;
        /// let g = lock.lock_timeout(Duration::from_secs(60)).map_err(|_| "busy")?;
        /// let again = lock.lock_timeout(Duration::from_millis(10));
        /// assert!(matches!(again, Err(TryLockError::WouldBlock))); // still held at the deadline
        /// drop(g);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        lock_timeout;

        /// Python's `acquire(block=True, timeout=None)` without a guard: `Ok(true)` when
        /// acquired, `Ok(false)` on timeout (`Some(ZERO)` = non-blocking). Pair with
        /// [`release`](Self::release).
        ///
        /// ```
        /// use std::time::Duration;
        /// use multiproc_sync::{Lock, ReleaseError};
        ///
        /// let lock = Lock::new()?;
        /// assert!(lock.acquire(None)?);
        /// assert!(!lock.acquire(Some(Duration::ZERO))?); // held: a non-blocking try fails
        /// lock.release()?;
        /// assert_eq!(lock.release(), Err(ReleaseError::NotLocked));
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        ///
        /// # Errors
        /// [`OwnerDied`] if acquired from a dead holder (the lock is held).
        acquire;
    }

    /// Releases the lock. Any thread or process may release it (CPython semantics).
    ///
    /// # Errors
    /// [`ReleaseError::NotLocked`] if it was not locked.
    ///
    /// ```
    /// use multiproc_sync::{Lock, ReleaseError};
    /// let lock = Lock::new()?;
    /// lock.try_lock().map_err(|_| "busy")?.forget();
    /// lock.release()?;
    /// assert!(matches!(lock.release(), Err(ReleaseError::NotLocked)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn release(&self) -> Result<(), ReleaseError> {
        if self.raw().unlock() {
            Ok(())
        } else {
            Err(ReleaseError::NotLocked)
        }
    }

    /// Whether some thread (in any process) holds it (CPython 3.14 `locked()`).
    ///
    /// ```
    /// use multiproc_sync::Lock;
    /// let lock = Lock::new()?;
    /// let g = lock.try_lock().map_err(|_| "busy")?;
    /// assert!(lock.is_locked());
    /// drop(g);
    /// assert!(!lock.is_locked());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_locked(&self) -> bool {
        self.raw().is_locked()
    }

    /// Whether the calling thread holds it.
    ///
    /// ```
    /// use multiproc_sync::Lock;
    /// let lock = Lock::new()?;
    /// let _g = lock.try_lock().map_err(|_| "busy")?;
    /// assert!(lock.is_held_by_current_thread());
    /// let other = lock.clone();
    /// let theirs = std::thread::spawn(move || other.is_held_by_current_thread()).join();
    /// assert_eq!(theirs.ok(), Some(false));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_held_by_current_thread(&self) -> bool {
        self.raw().held_by(sys::this_thread())
    }

    /// Whether `self` and `other` are handles to the same lock (in this process).
    ///
    /// ```
    /// use multiproc_sync::Lock;
    /// let lock = Lock::new()?;
    /// assert!(lock.same_as(&lock.clone()));
    /// assert!(!lock.same_as(&Lock::new()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn same_as(&self, other: &Lock) -> bool {
        self.state.ptr_eq(&other.state)
    }
}

impl fmt::Debug for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock")
            .field("owner_tid", &self.raw().owner())
            .finish()
    }
}

impl LockGuard<'_> {
    /// Keeps the lock held after the guard is gone (release it later with
    /// [`Lock::release`]).
    ///
    /// ```
    /// use multiproc_sync::Lock;
    /// let lock = Lock::new()?;
    /// lock.try_lock().map_err(|_| "busy")?.forget();
    /// assert!(lock.is_locked()); // still held, no guard
    /// lock.release()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        self.lock.raw().unlock();
    }
}

impl fmt::Debug for LockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard")
            .field("lock", self.lock)
            .finish()
    }
}

/// A recursive lock shared between processes (`multiprocessing.RLock`): the owning
/// thread may acquire it again; it is released when every acquisition is released.
/// Only the owner may release it.
///
/// Holder death is handled as for [`Lock`]: the new owner gets [`OwnerDied`] and holds
/// the lock once (the dead owner's recursion depth is discarded).
///
/// ```
/// use multiproc_sync::{OwnerDied, RLock};
/// let lock = RLock::new()?;
/// let a = lock.lock().unwrap_or_else(OwnerDied::into_inner);
/// let b = lock.lock().unwrap_or_else(OwnerDied::into_inner); // same thread: fine
/// assert_eq!(lock.depth(), 2);
/// drop((b, a));
/// assert!(lock.release().is_err()); // not held any more
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
pub struct RLock {
    state: Shared<RLockState>,
}

/// Holds one level of an [`RLock`] until dropped.
///
/// ```
/// use multiproc_sync::{OwnerDied, RLock};
/// let lock = RLock::new()?;
/// let outer = lock.lock().unwrap_or_else(OwnerDied::into_inner);
/// let inner = lock.lock().unwrap_or_else(OwnerDied::into_inner);
/// drop(inner);
/// assert_eq!(lock.depth(), 1); // still held once
/// drop(outer);
/// assert!(!lock.is_locked());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "the lock is released when the guard is dropped"]
pub struct RLockGuard<'a> {
    lock: &'a RLock,
    _not_send: NotSend,
}

impl RLock {
    /// Creates an unlocked recursive lock.
    ///
    /// # Errors
    /// The shared segment could not be created.
    ///
    /// ```
    /// use multiproc_sync::RLock;
    /// let rlock = RLock::new()?;
    /// assert_eq!(rlock.depth(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new() -> Result<RLock, CreateError> {
        Ok(RLock {
            state: Shared::new("multiproc-rlock", 0)?,
        })
    }

    /// The mutex and the depth counter (the async condition's hook).
    #[cfg(feature = "tokio")]
    pub(crate) fn parts(&self) -> (&MutexState, &std::sync::atomic::AtomicU32) {
        let st = self.st();
        (&st.mutex, &st.count)
    }

    fn st(&self) -> &RLockState {
        self.state.get()
    }

    fn guard(&self) -> RLockGuard<'_> {
        RLockGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    fn acquire_until(&self, deadline: Deadline) -> Acquired {
        let me = sys::this_thread();
        let st = self.st();
        if st.mutex.held_by(me) {
            let c = st.count.load(Ordering::Relaxed);
            // Saturates at u32::MAX levels (unreachable in practice).
            st.count.store(c.saturating_add(1), Ordering::Relaxed);
            return Acquired::Ok;
        }
        let acq = st.mutex.lock(me, deadline, Spin::Backoff);
        if acq != Acquired::TimedOut {
            st.count.store(1, Ordering::Relaxed);
        }
        acq
    }

    /// Takes the lock back with a saved depth (after a condition wait).
    pub(crate) fn reacquire_depth(&self, depth: u32) -> Acquired {
        let st = self.st();
        let acq = st
            .mutex
            .lock(sys::this_thread(), Deadline::Never, Spin::Backoff);
        st.count.store(depth.max(1), Ordering::Relaxed);
        acq
    }

    /// Releases every level at once; returns the depth. Caller holds it.
    pub(crate) fn release_all(&self) -> u32 {
        let st = self.st();
        let depth = st.count.swap(0, Ordering::Relaxed);
        st.mutex.unlock();
        depth
    }

    acquire_family! {
        guard: RLockGuard;

        /// Blocks until the calling thread holds the lock (once more, if it already does).
        ///
        /// The family: `lock` waits as long as it takes, [`lock_timeout`](Self::lock_timeout)
        /// at most a given time, [`try_lock`](Self::try_lock) not at all. The holding
        /// thread always gets in at once; another thread waits.
        ///
        /// ```
        /// use std::time::Duration;
        /// use multiproc_sync::{OwnerDied, RLock, TryLockError};
        ///
        /// let lock = RLock::new()?;
        /// let a = lock.lock().unwrap_or_else(OwnerDied::into_inner);
        /// let b = lock.try_lock(); // the owner re-enters without waiting
        /// assert!(b.is_ok());
        /// let other = lock.clone();
        /// let blocked = std::thread::spawn(move || {
        ///     matches!(other.lock_timeout(Duration::from_millis(10)), Err(TryLockError::WouldBlock))
        /// })
        /// .join()
        /// .unwrap();
        /// assert!(blocked);
        /// drop((b, a));
        /// assert!(lock.lock_timeout(Duration::from_secs(60)).is_ok());
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        ///
        /// # Errors
        /// [`OwnerDied`] (carrying the guard) if it was taken over from a dead holder.
        lock;

        /// Acquires without blocking.
        ///
        /// # Errors
        /// [`TryLockError::WouldBlock`] if another thread holds it; `OwnerDied` as for
        /// [`lock`](Self::lock).
        ///
        /// ```
        /// use multiproc_sync::RLock;
        /// let rlock = RLock::new()?;
        /// let a = rlock.try_lock().map_err(|_| "busy")?;
        /// let b = rlock.try_lock().map_err(|_| "busy")?; // re-entrant
        /// assert_eq!(rlock.depth(), 2);
        /// drop((b, a));
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        try_lock;

        /// Blocks at most `timeout`.
        ///
        /// # Errors
        /// [`TryLockError::WouldBlock`] on timeout; `OwnerDied` as for [`lock`](Self::lock).
        ///
        /// ```
        /// use std::time::Duration;
        /// use multiproc_sync::RLock;
        /// let rlock = RLock::new()?;
        /// let _g = rlock.lock_timeout(Duration::from_secs(60)).map_err(|_| "busy")?;
        /// assert!(rlock.is_held_by_current_thread());
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        lock_timeout;

        /// Python's `acquire(block, timeout)` without a guard; pair with
        /// [`release`](Self::release). `Ok(false)` on timeout.
        ///
        /// # Errors
        /// [`OwnerDied`] if acquired from a dead holder (the lock is held).
        ///
        /// ```
        /// use std::time::Duration;
        /// use multiproc_sync::{OwnerDied, RLock};
        /// let rlock = RLock::new()?;
        /// assert!(rlock.acquire(None).unwrap_or_else(OwnerDied::into_inner));
        /// assert!(rlock.acquire(Some(Duration::ZERO)).unwrap_or_else(OwnerDied::into_inner));
        /// assert_eq!(rlock.depth(), 2);
        /// rlock.release()?;
        /// rlock.release()?;
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        acquire;
    }

    /// Releases one level.
    ///
    /// # Errors
    /// [`ReleaseError::NotOwner`] if the calling thread does not hold it (CPython raises
    /// `AssertionError`).
    ///
    /// ```
    /// use multiproc_sync::{OwnerDied, RLock, ReleaseError};
    /// let rlock = RLock::new()?;
    /// assert!(rlock.acquire(None).unwrap_or_else(OwnerDied::into_inner));
    /// rlock.release()?;
    /// assert!(matches!(rlock.release(), Err(ReleaseError::NotOwner)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn release(&self) -> Result<(), ReleaseError> {
        let st = self.st();
        if !st.mutex.held_by(sys::this_thread()) {
            return Err(ReleaseError::NotOwner);
        }
        let c = st.count.load(Ordering::Relaxed);
        if c <= 1 {
            st.count.store(0, Ordering::Relaxed);
            st.mutex.unlock();
        } else {
            st.count.store(c - 1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Whether any thread holds it.
    ///
    /// ```
    /// use multiproc_sync::RLock;
    /// let rlock = RLock::new()?;
    /// let g = rlock.try_lock().map_err(|_| "busy")?;
    /// assert!(rlock.is_locked());
    /// drop(g);
    /// assert!(!rlock.is_locked());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_locked(&self) -> bool {
        self.st().mutex.is_locked()
    }

    /// Whether the calling thread holds it.
    ///
    /// ```
    /// use multiproc_sync::RLock;
    /// let rlock = RLock::new()?;
    /// assert!(!rlock.is_held_by_current_thread());
    /// let _g = rlock.try_lock().map_err(|_| "busy")?;
    /// assert!(rlock.is_held_by_current_thread());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_held_by_current_thread(&self) -> bool {
        self.st().mutex.held_by(sys::this_thread())
    }

    /// The calling thread's recursion depth (0 if it does not hold the lock).
    ///
    /// ```
    /// use multiproc_sync::RLock;
    /// let rlock = RLock::new()?;
    /// let a = rlock.try_lock().map_err(|_| "busy")?;
    /// assert_eq!(rlock.depth(), 1);
    /// let b = rlock.try_lock().map_err(|_| "busy")?;
    /// assert_eq!(rlock.depth(), 2);
    /// drop((b, a));
    /// assert_eq!(rlock.depth(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn depth(&self) -> u32 {
        if self.is_held_by_current_thread() {
            self.st().count.load(Ordering::Relaxed)
        } else {
            0
        }
    }

    /// Whether `self` and `other` are handles to the same lock (in this process).
    ///
    /// ```
    /// use multiproc_sync::RLock;
    /// let rlock = RLock::new()?;
    /// assert!(rlock.same_as(&rlock.clone()));
    /// assert!(!rlock.same_as(&RLock::new()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn same_as(&self, other: &RLock) -> bool {
        self.state.ptr_eq(&other.state)
    }
}

impl fmt::Debug for RLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RLock")
            .field("owner_tid", &self.st().mutex.owner())
            .field("depth", &self.st().count.load(Ordering::Relaxed))
            .finish()
    }
}

impl RLockGuard<'_> {
    /// Keeps this level held after the guard is gone (release with [`RLock::release`]
    /// from the same thread).
    ///
    /// ```
    /// use multiproc_sync::RLock;
    /// let rlock = RLock::new()?;
    /// rlock.try_lock().map_err(|_| "busy")?.forget();
    /// assert_eq!(rlock.depth(), 1); // still held, no guard
    /// rlock.release()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for RLockGuard<'_> {
    fn drop(&mut self) {
        // The guard proves this thread holds a level; a failure would mean the state
        // was overwritten by another process, and there is nothing better to do.
        let _ = self.lock.release();
    }
}

impl fmt::Debug for RLockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RLockGuard")
            .field("lock", self.lock)
            .finish()
    }
}
