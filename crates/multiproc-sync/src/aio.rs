//! Async forms of the primitives (feature `tokio`): [`AsyncLock`], [`AsyncSemaphore`],
//! [`AsyncBoundedSemaphore`], [`AsyncEvent`], [`AsyncCondition`] and [`AsyncBarrier`],
//! whose `lock()`, `permit()` and `wait()` are futures.
//!
//! | type | made by | future | output |
//! |---|---|---|---|
//! | [`AsyncLock`] | [`Lock::into_async`] | [`lock`](AsyncLock::lock) | [`AsyncLockGuard`] (or [`OwnerDied`] carrying it) |
//! | [`AsyncSemaphore`] | [`Semaphore::into_async`] | [`permit`](AsyncSemaphore::permit) | [`AsyncPermit`] |
//! | [`AsyncBoundedSemaphore`] | [`BoundedSemaphore::into_async`] | [`permit`](AsyncBoundedSemaphore::permit) | [`AsyncPermit`] |
//! | [`AsyncEvent`] | [`Event::into_async`] | [`wait`](AsyncEvent::wait) | `()` |
//! | [`AsyncBarrier`] | [`Barrier::into_async`](crate::Barrier::into_async) | [`wait`](AsyncBarrier::wait) | the arrival index (or `BarrierError`) |
//! | [`AsyncCondition`] | [`Condition::into_async`] | [`lock`](AsyncCondition::lock), then [`wait`](AsyncConditionGuard::wait) on the guard | [`AsyncConditionGuard`] |
//!
//! The objects are the same shared objects as the blocking ones: an async waiter in
//! one process and a blocking one in another contend for the same lock.
//!
//! # How waiting works
//!
//! A future that cannot complete counts itself as a sleeper where a sleeping thread
//! would, and arms the process's futex bridge
//! ([`FutexWaiter`]: one thread per process in
//! `futex_waitv` over the armed words, started on first use), which wakes the task. No
//! runtime thread ever blocks, and the synchronous paths are unchanged: a release with
//! no sleeper of any kind makes no system call. The futures need only a `Waker`: they
//! run on tokio's current-thread and multi-thread runtimes alike (and on others).
//!
//! # Owners
//!
//! A blocking [`LockGuard`](crate::LockGuard) is owned by its thread and is not `Send`.
//! A task moves between a runtime's threads at every `.await`, so an async guard is
//! owned by the *process* ([`this_process`](crate::foundation::this_process)): it is
//! `Send`, may be held across `.await` and dropped on any thread; another process sees
//! the pid as the holder, and takes the lock over (with [`OwnerDied`]) if that process
//! dies. Consequently an async lock is not re-entrant: a task awaiting a lock its own
//! process holds through an async guard waits for that guard to be dropped (as
//! `tokio::sync::Mutex` does). `RLock`'s per-thread recursion count has no async form
//! here (a process-owned `RLock` guard would be re-entered by the main thread, whose
//! thread id is the pid); an [`AsyncCondition`] over an `RLock` takes it one level
//! deep. An async barrier party is recorded as its process (a dead process breaks the
//! barrier, as a dead thread does).
//!
//! # Cancel safety
//!
//! Every future here is cancel safe: dropping it at any await point takes nothing (no
//! lock, no permit). Two documented exceptions follow from what the operation is: a
//! condition `wait` owns its guard, so dropping it leaves the lock released; a barrier
//! `wait` that has arrived breaks the barrier when dropped, as a timeout does. A future dropped after the bridge delivered a wake-up it had not
//! acted on passes that wake-up on, so a sleeper in another process is not left
//! waiting. A guard or permit, once returned, releases on drop.
//!
//! ```
//! # #[cfg(feature = "tokio")] {
//! use multiproc_sync::{Lock, OwnerDied, Semaphore};
//!
//! let rt = tokio::runtime::Builder::new_current_thread().build()?;
//! rt.block_on(async {
//!     let lock = Lock::new()?.into_async();
//!     let sem = Semaphore::new(1)?.into_async();
//!     {
//!         let _guard = lock.lock().await.unwrap_or_else(OwnerDied::into_inner);
//!         let _permit = sem.permit().await;
//!         assert!(sem.try_permit().is_none());
//!     }
//!     assert!(sem.try_permit().is_some());
//!     Ok::<(), Box<dyn std::error::Error>>(())
//! })?;
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Instant;

pub use crate::barrier::aio::{AsyncBarrier, BarrierWaitFuture};
use crate::bridge::FutexWaiter;
use crate::deadline::Deadline;
use crate::error::OwnerDied;
use crate::robust::Spin;
use crate::robust::{Acquired, RobustMutex};
use crate::state::EventState;
use crate::state::SemState;
use crate::sys::{self, LIVENESS_SLICE};
use crate::{BoundedSemaphore, Condition, Event, Lock, Semaphore};

// ---------------------------------------------------------------- Lock

/// An async view of a [`Lock`]: [`lock`](Self::lock) is a future.
///
/// ```
/// let rt = tokio::runtime::Builder::new_current_thread().build()?;
/// rt.block_on(async {
///     let lock = multiproc_sync::Lock::new()?.into_async();
///     let guard = lock.lock().await.unwrap_or_else(multiproc_sync::OwnerDied::into_inner);
///     assert!(lock.try_lock().is_none());
///     drop(guard);
///     assert!(lock.try_lock().is_some());
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct AsyncLock {
    lock: Lock,
}

impl Lock {
    /// This lock, awaitable ([`AsyncLock`]). The blocking handle stays usable through
    /// [`AsyncLock::get_ref`]; other handles of the same lock are unaffected.
    ///
    /// ```
    /// let lock = multiproc_sync::Lock::new()?;
    /// let alock = lock.clone().into_async();
    /// assert!(alock.get_ref().same_as(&lock));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_async(self) -> AsyncLock {
        AsyncLock::new(self)
    }
}

impl AsyncLock {
    /// Wraps `lock`.
    ///
    /// ```
    /// let alock = multiproc_sync::aio::AsyncLock::new(multiproc_sync::Lock::new()?);
    /// assert!(!alock.get_ref().is_locked());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(lock: Lock) -> AsyncLock {
        AsyncLock { lock }
    }

    /// The blocking handle.
    ///
    /// ```
    /// let alock = multiproc_sync::Lock::new()?.into_async();
    /// assert!(!alock.get_ref().is_locked());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_ref(&self) -> &Lock {
        &self.lock
    }

    /// The blocking handle, unwrapped.
    ///
    /// ```
    /// let lock = multiproc_sync::Lock::new()?.into_async().into_inner();
    /// assert!(!lock.is_locked());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_inner(self) -> Lock {
        self.lock
    }

    /// Acquires the lock for this process: resolves to a guard that releases it on
    /// drop, or to [`OwnerDied`] carrying the guard when the lock was taken over from a
    /// holder that died (repair what it guarded, then use the guard).
    ///
    /// Cancel safe: dropping the future before it resolves leaves the lock as it was.
    ///
    /// ```
    /// let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build()?;
    /// rt.block_on(async {
    ///     let lock = multiproc_sync::Lock::new()?.into_async();
    ///     let guard = lock.lock().await.unwrap_or_else(multiproc_sync::OwnerDied::into_inner);
    ///     // Send: may be held across an await and dropped on another thread.
    ///     tokio::task::yield_now().await;
    ///     drop(guard);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lock(&self) -> LockFuture<'_> {
        LockFuture {
            lock: &self.lock,
            wait: MutexWait::new(),
        }
    }

    /// Takes the lock for this process if it is free now (taking it over from a dead
    /// holder is left to [`lock`](Self::lock)).
    ///
    /// ```
    /// let lock = multiproc_sync::Lock::new()?.into_async();
    /// let g = lock.try_lock();
    /// assert!(g.is_some());
    /// assert!(lock.try_lock().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_lock(&self) -> Option<AsyncLockGuard<'_>> {
        let m = self.lock.raw();
        // Lazily: a guard made and dropped would unlock a lock held by someone else.
        (!m.is_locked() && m.lock_step(sys::this_process(), false).is_none())
            .then(|| AsyncLockGuard { lock: &self.lock })
    }
}

impl fmt::Debug for AsyncLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AsyncLock").field(&self.lock).finish()
    }
}

/// An async acquisition of a robust mutex for this process, as a sequence of polls:
/// the state a lock future keeps between them.
pub(crate) struct MutexWait {
    waiter: FutexWaiter,
    slept: bool,
    last_owner: u32,
    since: Instant,
}

impl MutexWait {
    pub(crate) fn new() -> MutexWait {
        MutexWait {
            waiter: FutexWaiter::new(),
            slept: false,
            last_owner: 0,
            since: Instant::now(),
        }
    }

    /// One attempt: `Ready` with how it was acquired (`Ok` or `OwnerDied`), or armed.
    pub(crate) fn poll(&mut self, m: &RobustMutex, cx: &Context<'_>) -> Poll<Acquired> {
        self.waiter.disarm();
        let me = sys::this_process();
        let Some(v) = m.lock_step(me, self.slept) else {
            return Poll::Ready(Acquired::Ok);
        };
        // Liveness: a holder unchanged for a whole slice is asked about (`/proc`).
        let owner = v & crate::sys::TID_MASK;
        if owner != self.last_owner {
            self.last_owner = owner;
            self.since = Instant::now();
        } else if self.since.elapsed() >= LIVENESS_SLICE {
            self.since = Instant::now();
            if m.take_over_if_dead(me) {
                return Poll::Ready(Acquired::OwnerDied);
            }
        }
        self.slept = true;
        self.waiter
            .arm(m.word(), v, Some(LIVENESS_SLICE), cx.waker());
        Poll::Pending
    }

    /// Gives up: passes on an unlock's wake-up that reached this waiter unused.
    pub(crate) fn cancel(&mut self, m: &RobustMutex) {
        if self.waiter.disarm() {
            sys::futex_wake(m.word(), 1);
        }
    }
}

/// The future of [`AsyncLock::lock`].
///
/// ```
/// use multiproc_sync::{Lock, OwnerDied, aio::LockFuture};
/// let rt = tokio::runtime::Builder::new_current_thread().build()?;
/// rt.block_on(async {
///     let lock = Lock::new()?.into_async();
///     let fut: LockFuture<'_> = lock.lock();
///     let guard = fut.await.unwrap_or_else(OwnerDied::into_inner);
///     assert!(lock.try_lock().is_none());
///     drop(guard);
///     assert!(lock.try_lock().is_some());
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct LockFuture<'a> {
    lock: &'a Lock,
    wait: MutexWait,
}

impl<'a> Future for LockFuture<'a> {
    type Output = Result<AsyncLockGuard<'a>, OwnerDied<AsyncLockGuard<'a>>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let lock = this.lock;
        match this.wait.poll(lock.raw(), cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Acquired::OwnerDied) => {
                Poll::Ready(Err(OwnerDied::new(AsyncLockGuard { lock })))
            }
            Poll::Ready(_) => Poll::Ready(Ok(AsyncLockGuard { lock })),
        }
    }
}

impl Drop for LockFuture<'_> {
    fn drop(&mut self) {
        self.wait.cancel(self.lock.raw());
    }
}

impl fmt::Debug for LockFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockFuture")
            .field("lock", self.lock)
            .finish()
    }
}

/// `forget`, `Drop` (`$release`, given the guard) and `Debug` (the listed fields) of
/// an async guard; `$held` and `$example` make `forget`'s documentation.
macro_rules! async_guard {
    ($guard:ident, $held:literal, $example:literal, [$($field:ident),*], |$g:ident| $release:expr) => {
        impl $guard<'_> {
            #[doc = concat!("Keeps ", $held, " after the guard is gone.")]
            ///
            /// ```
            #[doc = $example]
            /// ```
            pub fn forget(self) {
                std::mem::forget(self);
            }
        }

        impl Drop for $guard<'_> {
            fn drop(&mut self) {
                let $g = &*self;
                $release;
            }
        }

        impl fmt::Debug for $guard<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($guard))
                    $(.field(stringify!($field), &self.$field))*
                    .finish_non_exhaustive()
            }
        }
    };
}

/// The lock held by this process (not a thread): released when dropped. `Send` and
/// `Sync`: it may be held across `.await` and dropped on any thread.
///
/// ```
/// fn send<T: Send>(_: &T) {}
/// let lock = multiproc_sync::Lock::new()?.into_async();
/// let g = lock.try_lock().expect("free");
/// send(&g);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "the lock is released when the guard is dropped"]
pub struct AsyncLockGuard<'a> {
    lock: &'a Lock,
}

async_guard!(
    AsyncLockGuard,
    "the lock held (release it with [`Lock::release`])",
    "let lock = multiproc_sync::Lock::new()?.into_async();
lock.try_lock().expect(\"free\").forget();
assert!(lock.get_ref().is_locked());
lock.get_ref().release()?;
# Ok::<(), Box<dyn std::error::Error>>(())",
    [lock],
    |g| g.lock.raw().unlock()
);

// ---------------------------------------------------------------- semaphores

/// A permit of an [`AsyncSemaphore`] or [`AsyncBoundedSemaphore`], returned when
/// dropped. `Send` and `Sync`.
///
/// ```
/// let sem = multiproc_sync::Semaphore::new(1)?.into_async();
/// let p = sem.try_permit().expect("one permit");
/// assert_eq!(sem.get_ref().value(), 0);
/// drop(p);
/// assert_eq!(sem.get_ref().value(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "the permit is returned when the guard is dropped"]
pub struct AsyncPermit<'a> {
    st: &'a SemState,
}

async_guard!(
    AsyncPermit,
    "the permit taken",
    "let sem = multiproc_sync::Semaphore::new(1)?.into_async();
sem.try_permit().expect(\"one permit\").forget();
assert_eq!(sem.get_ref().value(), 0);
# Ok::<(), Box<dyn std::error::Error>>(())",
    [],
    // Cannot exceed a bound: this permit was taken from the semaphore.
    |p| {
        let _ = p.st.release(1);
    }
);

/// The future of [`AsyncSemaphore::permit`] and [`AsyncBoundedSemaphore::permit`].
///
/// ```
/// use multiproc_sync::{Semaphore, aio::PermitFuture};
/// let rt = tokio::runtime::Builder::new_current_thread().build()?;
/// rt.block_on(async {
///     let sem = Semaphore::new(1)?.into_async();
///     let fut: PermitFuture<'_> = sem.permit();
///     let p = fut.await;
///     assert!(sem.try_permit().is_none());
///     drop(p);
///     assert!(sem.try_permit().is_some());
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct PermitFuture<'a> {
    st: &'a SemState,
    waiter: FutexWaiter,
    counted: bool,
}

impl<'a> PermitFuture<'a> {
    fn new(st: &'a SemState) -> PermitFuture<'a> {
        PermitFuture {
            st,
            waiter: FutexWaiter::new(),
            counted: false,
        }
    }

    fn uncount(&mut self) {
        if std::mem::take(&mut self.counted) {
            let _ = self
                .st
                .sleepers
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        }
    }
}

impl<'a> Future for PermitFuture<'a> {
    type Output = AsyncPermit<'a>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.waiter.disarm();
        if this.st.try_take() {
            this.uncount();
            return Poll::Ready(AsyncPermit { st: this.st });
        }
        if !this.counted {
            // The handshake with `release`: count the sleeper (SeqCst), then re-check.
            this.st.sleepers.fetch_add(1, Ordering::SeqCst);
            this.counted = true;
            if this.st.try_take() {
                this.uncount();
                return Poll::Ready(AsyncPermit { st: this.st });
            }
        }
        // No permit was seen with the sleeper counted: sleep while the value is 0.
        this.waiter.arm(&this.st.value, 0, None, cx.waker());
        Poll::Pending
    }
}

impl Drop for PermitFuture<'_> {
    fn drop(&mut self) {
        self.uncount();
        if self.waiter.disarm() {
            // A release's wake-up reached this future and was not acted on.
            sys::futex_wake(&self.st.value, 1);
        }
    }
}

impl fmt::Debug for PermitFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PermitFuture").finish_non_exhaustive()
    }
}

macro_rules! async_semaphore {
    ($async_ty:ident, $ty:ident) => {
        #[doc = concat!("An async view of a [`", stringify!($ty), "`]: [`permit`](Self::permit) is a future.")]
        ///
        /// ```
        /// let rt = tokio::runtime::Builder::new_current_thread().build()?;
        /// rt.block_on(async {
        #[doc = concat!("    let sem = multiproc_sync::", stringify!($ty), "::new(2)?.into_async();")]
        ///     let a = sem.permit().await;
        ///     let b = sem.permit().await;
        ///     assert!(sem.try_permit().is_none());
        ///     drop((a, b));
        ///     assert_eq!(sem.get_ref().value(), 2);
        ///     Ok::<(), Box<dyn std::error::Error>>(())
        /// })?;
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        #[derive(Clone)]
        pub struct $async_ty {
            sem: $ty,
        }

        impl $ty {
            #[doc = concat!("This semaphore, awaitable ([`", stringify!($async_ty), "`]).")]
            ///
            /// ```
            #[doc = concat!("let sem = multiproc_sync::", stringify!($ty), "::new(1)?.into_async();")]
            /// assert_eq!(sem.get_ref().value(), 1);
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn into_async(self) -> $async_ty {
                $async_ty::new(self)
            }
        }

        impl $async_ty {
            /// Wraps `sem`.
            ///
            /// ```
            #[doc = concat!("let sem = multiproc_sync::aio::", stringify!($async_ty), "::new(multiproc_sync::", stringify!($ty), "::new(1)?);")]
            /// assert_eq!(sem.get_ref().value(), 1);
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn new(sem: $ty) -> $async_ty {
                $async_ty { sem }
            }

            /// The blocking handle.
            ///
            /// ```
            #[doc = concat!("let sem = multiproc_sync::", stringify!($ty), "::new(3)?.into_async();")]
            /// assert_eq!(sem.get_ref().value(), 3);
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn get_ref(&self) -> &$ty {
                &self.sem
            }

            /// The blocking handle, unwrapped.
            ///
            /// ```
            #[doc = concat!("let sem = multiproc_sync::", stringify!($ty), "::new(3)?.into_async().into_inner();")]
            /// assert_eq!(sem.value(), 3);
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn into_inner(self) -> $ty {
                self.sem
            }

            /// Takes a permit, waiting for one: resolves to a guard that returns it on
            /// drop.
            ///
            /// Cancel safe: dropping the future before it resolves takes no permit
            /// (and passes on a release's wake-up it received, so no other waiter is
            /// left asleep).
            ///
            /// ```
            /// let rt = tokio::runtime::Builder::new_current_thread().build()?;
            /// rt.block_on(async {
            #[doc = concat!("    let sem = multiproc_sync::", stringify!($ty), "::new(1)?.into_async();")]
            ///     let p = sem.permit().await;
            ///     drop(p);
            ///     Ok::<(), Box<dyn std::error::Error>>(())
            /// })?;
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn permit(&self) -> PermitFuture<'_> {
                PermitFuture::new(self.sem.state())
            }

            /// Takes a permit if one is available now.
            ///
            /// ```
            #[doc = concat!("let sem = multiproc_sync::", stringify!($ty), "::new(1)?.into_async();")]
            /// let p = sem.try_permit();
            /// assert!(p.is_some() && sem.try_permit().is_none());
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn try_permit(&self) -> Option<AsyncPermit<'_>> {
                let st = self.sem.state();
                // Lazily: a guard made and dropped would release what was never taken.
                st.try_take().then(|| AsyncPermit { st })
            }
        }

        impl fmt::Debug for $async_ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($async_ty)).field(&self.sem).finish()
            }
        }
    };
}

async_semaphore!(AsyncSemaphore, Semaphore);
async_semaphore!(AsyncBoundedSemaphore, BoundedSemaphore);

// ---------------------------------------------------------------- Event

/// An async view of an [`Event`]: [`wait`](Self::wait) is a future.
///
/// ```
/// let rt = tokio::runtime::Builder::new_current_thread().build()?;
/// rt.block_on(async {
///     let ev = multiproc_sync::Event::new()?.into_async();
///     let setter = ev.get_ref().clone();
///     std::thread::spawn(move || setter.set());
///     ev.wait().await;
///     assert!(ev.get_ref().is_set());
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct AsyncEvent {
    ev: Event,
}

impl Event {
    /// This event, awaitable ([`AsyncEvent`]).
    ///
    /// ```
    /// let ev = multiproc_sync::Event::new()?.into_async();
    /// assert!(!ev.get_ref().is_set());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_async(self) -> AsyncEvent {
        AsyncEvent::new(self)
    }
}

impl AsyncEvent {
    /// Wraps `ev`.
    ///
    /// ```
    /// let ev = multiproc_sync::aio::AsyncEvent::new(multiproc_sync::Event::new()?);
    /// assert!(!ev.get_ref().is_set());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(ev: Event) -> AsyncEvent {
        AsyncEvent { ev }
    }

    /// The blocking handle (`set`, `clear`, `is_set`).
    ///
    /// ```
    /// let ev = multiproc_sync::Event::new()?.into_async();
    /// ev.get_ref().set();
    /// assert!(ev.get_ref().is_set());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_ref(&self) -> &Event {
        &self.ev
    }

    /// The blocking handle, unwrapped.
    ///
    /// ```
    /// let ev = multiproc_sync::Event::new()?.into_async().into_inner();
    /// assert!(!ev.is_set());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_inner(self) -> Event {
        self.ev
    }

    /// Resolves once the flag is set (at once if it is).
    ///
    /// Cancel safe: the future takes nothing.
    ///
    /// ```
    /// let rt = tokio::runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     let ev = multiproc_sync::Event::new()?.into_async();
    ///     ev.get_ref().set();
    ///     ev.wait().await;
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait(&self) -> EventFuture<'_> {
        EventFuture {
            st: self.ev.state(),
            waiter: FutexWaiter::new(),
            counted: false,
        }
    }
}

impl fmt::Debug for AsyncEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AsyncEvent").field(&self.ev).finish()
    }
}

/// The future of [`AsyncEvent::wait`].
///
/// ```
/// use std::time::Duration;
/// use multiproc_sync::{Event, aio::EventFuture};
/// let rt = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
/// rt.block_on(async {
///     let ev = Event::new()?.into_async();
///     // Not set: a bounded wait gives up (dropping the future takes nothing).
///     assert!(tokio::time::timeout(Duration::from_millis(10), ev.wait()).await.is_err());
///     ev.get_ref().set();
///     let fut: EventFuture<'_> = ev.wait();
///     fut.await;
///     assert!(ev.get_ref().is_set());
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct EventFuture<'a> {
    st: &'a EventState,
    waiter: FutexWaiter,
    counted: bool,
}

impl EventFuture<'_> {
    fn uncount(&mut self) {
        if std::mem::take(&mut self.counted) {
            let _ = self
                .st
                .sleepers
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        }
    }
}

impl Future for EventFuture<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.waiter.disarm();
        if this.st.flag.load(Ordering::Acquire) != 0 {
            this.uncount();
            return Poll::Ready(());
        }
        if !this.counted {
            this.st.sleepers.fetch_add(1, Ordering::SeqCst);
            this.counted = true;
        }
        if this.st.flag.load(Ordering::SeqCst) != 0 {
            this.uncount();
            return Poll::Ready(());
        }
        this.waiter.arm(&this.st.flag, 0, None, cx.waker());
        Poll::Pending
    }
}

impl Drop for EventFuture<'_> {
    fn drop(&mut self) {
        // `set` wakes every sleeper: nothing to pass on.
        self.waiter.disarm();
        self.uncount();
    }
}

impl fmt::Debug for EventFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventFuture").finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------- Condition

/// An async view of a [`Condition`]: [`lock`](Self::lock) and the guard's
/// [`wait`](AsyncConditionGuard::wait) are futures. The lock is taken for this process
/// (see the module docs); over an `RLock` it is taken one level deep.
///
/// ```
/// let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build()?;
/// rt.block_on(async {
///     let cond = multiproc_sync::Condition::new()?.into_async();
///     let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
///     let waiter = tokio::spawn({
///         let (cond, flag) = (cond.clone(), flag.clone());
///         async move {
///             let mut g = cond.lock().await.unwrap_or_else(multiproc_sync::OwnerDied::into_inner);
///             while !flag.load(std::sync::atomic::Ordering::SeqCst) {
///                 g = g.wait().await.unwrap_or_else(multiproc_sync::OwnerDied::into_inner);
///             }
///         }
///     });
///     {
///         let g = cond.lock().await.unwrap_or_else(multiproc_sync::OwnerDied::into_inner);
///         flag.store(true, std::sync::atomic::Ordering::SeqCst);
///         g.notify_all();
///     }
///     waiter.await?;
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct AsyncCondition {
    cond: Condition,
}

impl Condition {
    /// This condition, awaitable ([`AsyncCondition`]).
    ///
    /// ```
    /// let cond = multiproc_sync::Condition::new()?.into_async();
    /// assert!(cond.try_lock().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_async(self) -> AsyncCondition {
        AsyncCondition { cond: self }
    }
}

impl AsyncCondition {
    /// The blocking handle.
    ///
    /// ```
    /// let cond = multiproc_sync::Condition::new()?.into_async();
    /// assert!(matches!(cond.get_ref().get_lock(), multiproc_sync::CondLock::RLock(_)), "an RLock by default, as in CPython");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_ref(&self) -> &Condition {
        &self.cond
    }

    /// The blocking handle, unwrapped.
    ///
    /// ```
    /// let cond = multiproc_sync::Condition::new()?.into_async().into_inner();
    /// drop(cond);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_inner(self) -> Condition {
        self.cond
    }

    /// Acquires the condition's lock for this process: as [`AsyncLock::lock`]
    /// (cancel safe, [`OwnerDied`] carrying the guard after a takeover).
    ///
    /// ```
    /// let rt = tokio::runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     let cond = multiproc_sync::Condition::new()?.into_async();
    ///     let g = cond.lock().await.unwrap_or_else(multiproc_sync::OwnerDied::into_inner);
    ///     g.notify(1); // nobody waits: nothing happens
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lock(&self) -> CondLockFuture<'_> {
        CondLockFuture {
            cond: self,
            wait: MutexWait::new(),
        }
    }

    /// Takes the condition's lock for this process if it is free now.
    ///
    /// ```
    /// let cond = multiproc_sync::Condition::new()?.into_async();
    /// let g = cond.try_lock();
    /// assert!(g.is_some() && cond.try_lock().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_lock(&self) -> Option<AsyncConditionGuard<'_>> {
        let (_, m, depth) = self.cond.async_parts();
        (!m.is_locked() && m.lock_step(sys::this_process(), false).is_none()).then(|| {
            if let Some(d) = depth {
                d.store(1, Ordering::Relaxed);
            }
            AsyncConditionGuard { cond: self }
        })
    }
}

impl fmt::Debug for AsyncCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AsyncCondition").field(&self.cond).finish()
    }
}

/// The future of [`AsyncCondition::lock`].
///
/// ```
/// use multiproc_sync::{Condition, OwnerDied, aio::CondLockFuture};
/// let rt = tokio::runtime::Builder::new_current_thread().build()?;
/// rt.block_on(async {
///     let cond = Condition::new()?.into_async();
///     let fut: CondLockFuture<'_> = cond.lock();
///     let g = fut.await.unwrap_or_else(OwnerDied::into_inner);
///     assert!(cond.try_lock().is_none());
///     drop(g);
///     assert!(cond.try_lock().is_some());
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct CondLockFuture<'a> {
    cond: &'a AsyncCondition,
    wait: MutexWait,
}

impl<'a> Future for CondLockFuture<'a> {
    type Output = Result<AsyncConditionGuard<'a>, OwnerDied<AsyncConditionGuard<'a>>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let cond = this.cond;
        let (_, m, depth) = cond.cond.async_parts();
        let acq = match this.wait.poll(m, cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(acq) => acq,
        };
        if let Some(d) = depth {
            d.store(1, Ordering::Relaxed);
        }
        let guard = AsyncConditionGuard { cond };
        Poll::Ready(match acq {
            Acquired::OwnerDied => Err(OwnerDied::new(guard)),
            _ => Ok(guard),
        })
    }
}

impl Drop for CondLockFuture<'_> {
    fn drop(&mut self) {
        let (_, m, _) = self.cond.cond.async_parts();
        self.wait.cancel(m);
    }
}

impl fmt::Debug for CondLockFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CondLockFuture").finish_non_exhaustive()
    }
}

/// The condition's lock, held by this process; `Send`. [`wait`](Self::wait) consumes
/// it and gives it back.
///
/// ```
/// let cond = multiproc_sync::Condition::new()?.into_async();
/// let g = cond.try_lock().expect("free");
/// g.notify_all();
/// drop(g);
/// assert!(cond.try_lock().is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "the lock is released when the guard is dropped"]
pub struct AsyncConditionGuard<'a> {
    cond: &'a AsyncCondition,
}

fn cond_release(cond: &Condition) {
    let (_, m, depth) = cond.async_parts();
    if let Some(d) = depth {
        d.store(0, Ordering::Relaxed);
    }
    m.unlock();
}

impl<'a> AsyncConditionGuard<'a> {
    /// Releases the lock, waits for a notification, re-acquires the lock: resolves to
    /// the guard again ([`OwnerDied`] carrying it if the lock was taken over from a
    /// dead holder meanwhile). Like every condition wait it may also return without a
    /// notification: wait in a loop over your predicate.
    ///
    /// Cancel safety: the guard moves into the future, so dropping the future leaves
    /// the lock released. A future dropped while waiting briefly takes the lock (a
    /// blocking acquisition, as short as the holders' critical sections) to take
    /// itself off the waiter count; if a notification may have been meant for it, it
    /// is passed on to another waiter rather than lost (a waiter may then see one
    /// spurious wake-up).
    ///
    /// ```
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
    /// rt.block_on(async {
    ///     let cond = multiproc_sync::Condition::new()?.into_async();
    ///     let g = cond.lock().await.unwrap_or_else(multiproc_sync::OwnerDied::into_inner);
    ///     // Nobody notifies: the wait is cancelled, the lock is free afterwards.
    ///     let r = tokio::time::timeout(std::time::Duration::from_millis(5), g.wait()).await;
    ///     assert!(r.is_err());
    ///     assert!(cond.try_lock().is_some());
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait(self) -> CondWaitFuture<'a> {
        let cond = self.cond;
        std::mem::forget(self);
        CondWaitFuture {
            cond,
            phase: CondPhase::Holding,
            seq: 0,
            waiter: FutexWaiter::new(),
            relock: MutexWait::new(),
            owner_died: false,
        }
    }

    /// Wakes up to `n` waiters (they run once they re-acquire the lock).
    ///
    /// ```
    /// let cond = multiproc_sync::Condition::new()?.into_async();
    /// cond.try_lock().expect("free").notify(1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn notify(&self, n: u32) {
        self.cond.cond.async_parts().0.notify(n);
    }

    /// Wakes every waiter.
    ///
    /// ```
    /// let cond = multiproc_sync::Condition::new()?.into_async();
    /// cond.try_lock().expect("free").notify_all();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn notify_all(&self) {
        self.cond.cond.async_parts().0.notify_all();
    }
}

impl Drop for AsyncConditionGuard<'_> {
    fn drop(&mut self) {
        cond_release(&self.cond.cond);
    }
}

impl fmt::Debug for AsyncConditionGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncConditionGuard")
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CondPhase {
    /// Holding the lock, not yet counted as a waiter.
    Holding,
    /// Counted, lock released, armed on the sequence word.
    Sleeping,
    /// Counted, re-acquiring the lock.
    Relocking,
    /// Resolved.
    Done,
}

/// The future of [`AsyncConditionGuard::wait`].
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::time::Duration;
/// use multiproc_sync::{Condition, OwnerDied, aio::CondWaitFuture};
/// let rt = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
/// rt.block_on(async {
///     let cond = Condition::new()?.into_async();
///     let ready = AtomicBool::new(false);
///     let waiter = async {
///         let mut g = cond.lock().await.unwrap_or_else(OwnerDied::into_inner);
///         while !ready.load(Ordering::SeqCst) {
///             let fut: CondWaitFuture<'_> = g.wait();
///             g = fut.await.unwrap_or_else(OwnerDied::into_inner);
///         }
///     };
///     let notifier = async {
///         tokio::task::yield_now().await;
///         let g = cond.lock().await.unwrap_or_else(OwnerDied::into_inner);
///         ready.store(true, Ordering::SeqCst);
///         g.notify_all();
///     };
///     tokio::time::timeout(Duration::from_secs(60), async { tokio::join!(waiter, notifier) }).await?;
///     assert!(cond.try_lock().is_some());
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct CondWaitFuture<'a> {
    cond: &'a AsyncCondition,
    phase: CondPhase,
    seq: u32,
    waiter: FutexWaiter,
    relock: MutexWait,
    owner_died: bool,
}

impl CondWaitFuture<'_> {
    /// With the lock held and counted as a waiter: reads the sequence word, releases
    /// the lock and sleeps (the order of the blocking wait).
    fn sleep(&mut self, cx: &Context<'_>) {
        let (st, _, _) = self.cond.cond.async_parts();
        self.seq = st.seq.load(Ordering::Relaxed);
        cond_release(&self.cond.cond);
        self.waiter.arm(&st.seq, self.seq, None, cx.waker());
        self.phase = CondPhase::Sleeping;
    }
}

impl<'a> Future for CondWaitFuture<'a> {
    type Output = Result<AsyncConditionGuard<'a>, OwnerDied<AsyncConditionGuard<'a>>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let (st, m, depth) = this.cond.cond.async_parts();
        loop {
            match this.phase {
                CondPhase::Holding => {
                    // Under the lock, as the blocking wait.
                    st.waiting
                        .store(st.waiting.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                    this.sleep(cx);
                    return Poll::Pending;
                }
                CondPhase::Sleeping => {
                    let fired = this.waiter.disarm();
                    if !fired && st.seq.load(Ordering::Relaxed) == this.seq {
                        // Polled without a wake-up: keep sleeping.
                        this.waiter.arm(&st.seq, this.seq, None, cx.waker());
                        return Poll::Pending;
                    }
                    this.phase = CondPhase::Relocking;
                }
                CondPhase::Relocking => {
                    match this.relock.poll(m, cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(acq) => this.owner_died |= acq == Acquired::OwnerDied,
                    }
                    this.relock = MutexWait::new();
                    if let Some(d) = depth {
                        d.store(1, Ordering::Relaxed);
                    }
                    let signals = st.signals.load(Ordering::Relaxed);
                    if signals > 0 {
                        st.signals.store(signals - 1, Ordering::Relaxed);
                        this.phase = CondPhase::Done;
                        let guard = AsyncConditionGuard { cond: this.cond };
                        return Poll::Ready(if this.owner_died {
                            Err(OwnerDied::new(guard))
                        } else {
                            Ok(guard)
                        });
                    }
                    // Not notified (another waiter took the signal): sleep again.
                    this.sleep(cx);
                    return Poll::Pending;
                }
                CondPhase::Done => {
                    // Polled after completion: the guard was handed out already.
                    return Poll::Pending;
                }
            }
        }
    }
}

impl Drop for CondWaitFuture<'_> {
    fn drop(&mut self) {
        let (st, m, _) = self.cond.cond.async_parts();
        match self.phase {
            CondPhase::Holding => cond_release(&self.cond.cond),
            CondPhase::Done => {}
            CondPhase::Sleeping | CondPhase::Relocking => {
                self.waiter.disarm();
                self.relock.cancel(m);
                // Take the lock (briefly, blocking) to settle the counts, as a timed-out
                // blocking wait does after re-acquiring.
                let _ = m.lock(sys::this_process(), Deadline::Never, Spin::Backoff);
                let signals = st.signals.load(Ordering::Relaxed);
                if signals == 0 {
                    // Certainly not notified: uncount.
                    let w = st.waiting.load(Ordering::Relaxed);
                    st.waiting.store(w.saturating_sub(1), Ordering::Relaxed);
                } else {
                    // Perhaps notified: leave the signal (and the count) for another
                    // waiter and wake one to take it.
                    st.seq.fetch_add(1, Ordering::Release);
                    sys::futex_wake(&st.seq, 1);
                }
                m.unlock();
            }
        }
    }
}

impl fmt::Debug for CondWaitFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CondWaitFuture")
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

#[expect(dead_code, reason = "compile-time checks only, never called")]
fn assert_send_sync() {
    fn both<T: Send + Sync>() {}
    both::<AsyncLock>();
    both::<AsyncLockGuard<'static>>();
    both::<LockFuture<'static>>();
    both::<AsyncSemaphore>();
    both::<AsyncBoundedSemaphore>();
    both::<AsyncPermit<'static>>();
    both::<PermitFuture<'static>>();
    both::<AsyncEvent>();
    both::<EventFuture<'static>>();
    both::<AsyncCondition>();
    both::<AsyncConditionGuard<'static>>();
    both::<CondLockFuture<'static>>();
    both::<CondWaitFuture<'static>>();
    both::<AsyncBarrier>();
    both::<BarrierWaitFuture<'static>>();
}
