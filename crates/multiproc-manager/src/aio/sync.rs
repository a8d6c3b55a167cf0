//! The async synchronisation proxies: locks, semaphores, conditions, events, barriers.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::acquire::AcquireError;
use crate::error::Error;
use crate::protocol::{BarrierOp, ConditionOp, EventOp, LockOp, Op};
use crate::value::FromValue;

use super::AsyncProxy;
use super::call::Settle;
use super::proxy::async_proxy;

/// Owner ids of async lock proxies (see the module docs), unique per process.
static NEXT_OWNER: AtomicU64 = AtomicU64::new(1 << 48);

/// The async form of [`LockProxy`](crate::LockProxy). Its owner is this proxy value
/// and its clones (see [the module](super)).
///
/// [`acquire`](Self::acquire) is cancel safe: a lock obtained by an `acquire` whose
/// future was dropped is released (before the next call through this manager).
///
/// ```
/// # use multiproc_manager::{Manager, aio::AsyncManager};
/// # use std::time::Duration;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let manager = Manager::in_thread()?;
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// # rt.block_on(async {
/// let m = AsyncManager::new(&manager).await?;
/// let lock = m.lock().await?;
/// lock.acquire(None).await?;
/// assert!(lock.locked().await?);
/// assert!(!lock.acquire(Some(Duration::from_millis(10))).await?);
/// lock.release().await?;
/// assert!(lock.acquire(Some(Duration::ZERO)).await?);
/// lock.release().await?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })
/// # }
/// ```
#[derive(Clone)]
pub struct AsyncLockProxy {
    p: AsyncProxy,
    owner: u64,
}

impl fmt::Debug for AsyncLockProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncLockProxy")
            .field("id", &self.p.id)
            .field("owner", &self.owner)
            .finish()
    }
}

impl AsyncLockProxy {
    pub(super) fn wrap(p: AsyncProxy) -> Self {
        AsyncLockProxy {
            p,
            owner: NEXT_OWNER.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The object's id on its server.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let held = manager.lock()?; // a lock made through the blocking manager
    /// let lock = m.lock_at(held.id());
    /// assert_eq!(lock.id(), held.id());
    /// assert!(lock.acquire(None).await?);
    /// assert!(held.locked()?);
    /// lock.release().await?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    pub fn id(&self) -> u64 {
        self.p.id
    }

    /// CPython's `acquire(block, timeout)`, as the blocking proxy's
    /// [`LockProxy::acquire`](crate::LockProxy::acquire): `None` waits (on the server)
    /// until acquired, `Some(t)` at most `t` (`Some(Duration::ZERO)` is
    /// `acquire(False)`); whether it was acquired. Pair with [`release`](Self::release).
    ///
    /// Cancel safe: a future dropped after its request went out leaves the call
    /// settled by the connection — a lock the server grants it afterwards is released
    /// when the reply is read, never held by nobody.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let lock = m.lock().await?;
    /// assert!(lock.acquire(None).await?);
    /// let other = m.lock_at(lock.id()); // another owner
    /// assert!(!other.acquire(Some(Duration::from_millis(10))).await?);
    /// lock.release().await?;
    /// assert!(other.acquire(Some(Duration::ZERO)).await?);
    /// other.release().await?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`AcquireError::OwnerDied`] carrying `true` when it took over from a holder that
    /// vanished — **it is held then**; [`AcquireError::Failed`] with
    /// [`Error::ManagerGone`] and the like. `?` into [`Error`] turns the first into
    /// [`Error::OwnerDied`].
    pub async fn acquire(&self, timeout: Option<Duration>) -> Result<bool, AcquireError<bool>> {
        self.p.acquire_raw(self.owner, timeout).await
    }

    /// `release()`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let lock = m.lock().await?;
    /// assert!(lock.acquire(None).await?);
    /// lock.release().await?;
    /// assert!(!lock.locked().await?);
    /// assert!(lock.release().await.is_err()); // RuntimeError: not held
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `RuntimeError` when this owner does not hold it, [`Error::ManagerGone`].
    pub async fn release(&self) -> Result<(), Error> {
        self.p.release_raw(self.owner).await
    }

    /// Whether anyone holds it.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let lock = m.lock().await?;
    /// assert!(!lock.locked().await?);
    /// assert!(lock.acquire(None).await?);
    /// assert!(lock.clone().locked().await?);
    /// lock.release().await?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn locked(&self) -> Result<bool, Error> {
        self.p.call_as(Op::Lock(LockOp::Locked)).await
    }
}

async_proxy!(
    /// The async form of [`EventProxy`](crate::EventProxy); cancel safe (a dropped
    /// `wait` takes nothing).
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let ev = m.event().await?;
    /// assert!(!ev.wait_timeout(Duration::from_millis(10)).await?);
    /// let waiter = tokio::spawn({
    ///     let ev = ev.clone();
    ///     async move { ev.wait().await }
    /// });
    /// ev.set().await?;
    /// waiter.await??;
    /// assert!(ev.is_set().await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    AsyncEventProxy []
);

impl AsyncEventProxy {
    /// `set()`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let ev = m.event().await?;
    /// ev.set().await?;
    /// assert!(ev.is_set().await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn set(&self) -> Result<(), Error> {
        self.p.call_unit(Op::Event(EventOp::Set)).await
    }

    /// `clear()`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let ev = m.event().await?;
    /// ev.set().await?;
    /// ev.clear().await?;
    /// assert!(!ev.is_set().await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn clear(&self) -> Result<(), Error> {
        self.p.call_unit(Op::Event(EventOp::Clear)).await
    }

    /// `is_set()`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let ev = m.event().await?;
    /// assert!(!ev.is_set().await?);
    /// ev.set().await?;
    /// assert!(ev.is_set().await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn is_set(&self) -> Result<bool, Error> {
        self.p.call_as(Op::Event(EventOp::IsSet)).await
    }

    /// `wait()`: until the event is set.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let ev = m.event().await?;
    /// let waiter = tokio::spawn({
    ///     let ev = ev.clone();
    ///     async move { ev.wait().await }
    /// });
    /// ev.set().await?;
    /// waiter.await??;
    /// assert!(ev.is_set().await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn wait(&self) -> Result<(), Error> {
        self.p
            .call_as::<bool>(Op::Event(EventOp::Wait { timeout: None }))
            .await
            .map(drop)
    }

    /// `wait(timeout)`: whether it is set.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let ev = m.event().await?;
    /// assert!(!ev.wait_timeout(Duration::from_millis(10)).await?);
    /// ev.set().await?;
    /// assert!(ev.wait_timeout(Duration::from_secs(60)).await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn wait_timeout(&self, timeout: Duration) -> Result<bool, Error> {
        self.p
            .call_as(Op::Event(EventOp::Wait {
                timeout: Some(timeout),
            }))
            .await
    }
}

async_proxy!(
    /// The async form of [`SemaphoreProxy`](crate::SemaphoreProxy) (a `Semaphore` or
    /// `BoundedSemaphore`). Permits are counted per connection on the server (as the
    /// blocking proxy's): those taken through this [`AsyncManager`](super::AsyncManager) and not given back
    /// are returned when its connection vanishes.
    ///
    /// [`acquire`](Self::acquire) is cancel safe: a permit obtained by an `acquire`
    /// whose future was dropped is given back (a release goes out before the next
    /// call through this manager), exactly as a cancelled [`AsyncLockProxy::acquire`].
    ///
    /// ```
    /// # use multiproc_manager::{Manager, RemoteErrorKind, aio::AsyncManager};
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let sem = m.semaphore(2).await?;
    /// assert!(sem.acquire(None).await?);
    /// assert!(sem.acquire(Some(Duration::ZERO)).await?);
    /// assert!(!sem.acquire(Some(Duration::from_millis(10))).await?);
    /// assert_eq!(sem.value().await?, 0);
    /// sem.release().await?;
    /// sem.release().await?;
    /// assert_eq!(sem.value().await?, 2);
    /// let bounded = m.bounded_semaphore(1).await?;
    /// let err = bounded.release().await.unwrap_err(); // above its initial value
    /// assert_eq!(err.remote_kind(), Some(RemoteErrorKind::ValueError));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    AsyncSemaphoreProxy []
);

impl AsyncSemaphoreProxy {
    /// CPython's `acquire(block, timeout)`: `None` waits (on the server) until a permit
    /// is free, `Some(t)` at most `t` (`Some(Duration::ZERO)` is `acquire(False)`);
    /// whether a permit was taken. Pair with [`release`](Self::release).
    ///
    /// Cancel safe: a future dropped after its request went out leaves the call
    /// settled by the connection — a permit the server grants it afterwards is given
    /// back when the reply is read, never lost; dropped before, nothing was asked.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let sem = m.semaphore(1).await?;
    /// assert!(sem.acquire(None).await?);
    /// assert!(!sem.acquire(Some(Duration::from_millis(10))).await?); // none free
    /// sem.release().await?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`AcquireError::OwnerDied`] carrying `true` when the permit is one a vanished
    /// client left — **it is taken then**; [`AcquireError::Failed`] with
    /// [`Error::ManagerGone`] and the like.
    pub async fn acquire(&self, timeout: Option<Duration>) -> Result<bool, AcquireError<bool>> {
        self.p.acquire_raw(0, timeout).await
    }

    /// `release()`: gives a permit back (any client may).
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let sem = m.semaphore(0).await?;
    /// sem.release().await?;
    /// assert_eq!(sem.value().await?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `ValueError` for a bounded semaphore released too often,
    /// [`Error::ManagerGone`].
    pub async fn release(&self) -> Result<(), Error> {
        self.p.release_raw(0).await
    }

    /// The current counter (`get_value()`).
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let sem = m.semaphore(2).await?;
    /// assert!(sem.acquire(None).await?);
    /// assert_eq!(sem.value().await?, 1);
    /// sem.release().await?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn value(&self) -> Result<u64, Error> {
        self.p.call_as(Op::Lock(LockOp::Locked)).await
    }
}

/// The async form of [`ConditionProxy`](crate::ConditionProxy) (over its own
/// re-entrant lock). Its owner is this proxy value and its clones, as an
/// [`AsyncLockProxy`]'s.
///
/// Cancel safety:
/// * a dropped [`acquire`](Self::acquire) leaves the lock as it found it (obtained
///   afterwards, it is released);
/// * a dropped [`wait`](Self::wait) (or [`wait_timeout`](Self::wait_timeout)) **gives
///   the lock up**: CPython's `wait` releases the lock, waits and re-acquires it before
///   it returns; a future dropped part-way cannot re-acquire, so the server finishes
///   the wait (re-acquiring when notified or timed out) and that reply is settled by a
///   release — one level of the lock, like a dropped acquire's. A wait dropped before
///   its request went out releases the lock too, so the state after a dropped wait does
///   not depend on where it was cut: treat the lock as **not held** and acquire again
///   before touching the state it protects. All levels of a re-entrant hold are given
///   up (as many releases as this owner's acquires minus releases). The dropped wait
///   may still be waiting on the server, so the proxy (with its clones) goes on as a
///   **new owner**: its next acquire never shares the old wait's hold. (A notification
///   may go to a dropped wait still waiting there, as to a thread that stops caring.)
///
/// ```
/// # use multiproc_manager::{Manager, aio::AsyncManager};
/// # use std::time::Duration;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let manager = Manager::in_thread()?;
/// # let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
/// # rt.block_on(async {
/// let m = AsyncManager::new(&manager).await?;
/// let cond = m.condition().await?;
/// let ready = m.value(false).await?;
/// let waiter = tokio::spawn({
///     let (cond, ready) = (cond.clone_owner(), ready.clone());
///     async move {
///         cond.acquire(None).await?;
///         while !ready.get().await? {
///             cond.wait().await?;
///         }
///         cond.release().await
///     }
/// });
/// cond.acquire(None).await?;
/// ready.set(true).await?;
/// cond.notify_all().await?;
/// cond.release().await?;
/// waiter.await??;
/// assert!(cond.acquire(Some(Duration::ZERO)).await?);
/// assert!(!cond.wait_timeout(Duration::from_millis(10)).await?); // held again after
/// cond.release().await?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })
/// # }
/// ```
#[derive(Clone)]
pub struct AsyncConditionProxy {
    p: AsyncProxy,
    owner: Arc<CondOwner>,
}

/// The owner of a condition's lock, shared by a proxy and its clones.
struct CondOwner {
    /// Replaced after a dropped wait: the wait may still run on the server (a worker
    /// there may start it after this owner's next request), so the old owner is left
    /// to it and the proxy goes on as a new owner holding nothing.
    id: AtomicU64,
    /// How many times this owner holds the lock, as far as its calls know (what a
    /// dropped wait gives up).
    levels: std::sync::atomic::AtomicU32,
}

impl fmt::Debug for AsyncConditionProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncConditionProxy")
            .field("id", &self.p.id)
            .field("owner", &self.owner.id.load(Ordering::Relaxed))
            .finish()
    }
}

/// Drops a wait's owner when the wait is dropped (see [`CondOwner::id`]).
struct WaitGuard<'a> {
    owner: &'a CondOwner,
    armed: bool,
}

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.owner.id.store(
                NEXT_OWNER.fetch_add(1, Ordering::Relaxed),
                Ordering::Relaxed,
            );
            self.owner.levels.store(0, Ordering::Relaxed);
        }
    }
}

impl AsyncConditionProxy {
    pub(super) fn wrap(p: AsyncProxy) -> Self {
        AsyncConditionProxy {
            p,
            owner: Arc::new(CondOwner {
                id: AtomicU64::new(NEXT_OWNER.fetch_add(1, Ordering::Relaxed)),
                levels: std::sync::atomic::AtomicU32::new(0),
            }),
        }
    }

    fn owner(&self) -> u64 {
        self.owner.id.load(Ordering::Relaxed)
    }

    /// The object's id on its server.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let cond = m.condition().await?;
    /// assert_eq!(cond.clone().id(), cond.id());
    /// assert_ne!(m.condition().await?.id(), cond.id());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    pub fn id(&self) -> u64 {
        self.p.id
    }

    /// A proxy of the same condition with an owner of its own (as another thread's in
    /// CPython): [`clone`](Clone::clone) shares the owner, so clones hold the lock
    /// together.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let cond = m.condition().await?;
    /// assert!(cond.acquire(None).await?);
    /// assert!(cond.clone().acquire(Some(Duration::ZERO)).await?); // same owner: re-entrant
    /// let other = cond.clone_owner();
    /// assert!(!other.acquire(Some(Duration::ZERO)).await?); // held by another owner
    /// cond.release().await?;
    /// cond.release().await?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    pub fn clone_owner(&self) -> Self {
        Self::wrap(self.p.clone())
    }

    /// `acquire(block, timeout)` of the condition's lock, as
    /// [`AsyncLockProxy::acquire`] (re-entrant for this owner).
    ///
    /// Cancel safe: a lock obtained by a dropped `acquire` is released.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let cond = m.condition().await?;
    /// assert!(cond.acquire(None).await?);
    /// assert!(cond.acquire(Some(Duration::ZERO)).await?); // re-entrant
    /// cond.release().await?;
    /// cond.release().await?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`AsyncLockProxy::acquire`].
    pub async fn acquire(&self, timeout: Option<Duration>) -> Result<bool, AcquireError<bool>> {
        let r = self.p.acquire_raw(self.owner(), timeout).await;
        if matches!(r, Ok(true) | Err(AcquireError::OwnerDied(_))) {
            self.owner.levels.fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    /// `release()` (one level).
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use multiproc_manager::RemoteErrorKind;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let cond = m.condition().await?;
    /// assert!(cond.acquire(None).await?);
    /// cond.release().await?;
    /// let err = cond.release().await.unwrap_err(); // not held
    /// assert_eq!(err.remote_kind(), Some(RemoteErrorKind::RuntimeError));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `RuntimeError` when this owner does not hold it, [`Error::ManagerGone`].
    pub async fn release(&self) -> Result<(), Error> {
        self.p.release_raw(self.owner()).await?;
        let _ = self
            .owner
            .levels
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        Ok(())
    }

    async fn wait_op(&self, timeout: Option<Duration>) -> Result<bool, Error> {
        let owner = self.owner();
        let settle = Settle::Rewait {
            obj: self.p.id,
            owner,
            levels: self.owner.levels.load(Ordering::Relaxed).max(1),
        };
        let mut guard = WaitGuard {
            owner: &self.owner,
            armed: true,
        };
        let r = self
            .p
            .call_owned(owner, Op::Condition(ConditionOp::Wait { timeout }), settle)
            .await;
        guard.armed = false;
        Ok(bool::from_value(r?)?)
    }

    /// `wait()`: releases the lock, waits (on the server) for a notification,
    /// re-acquires it.
    ///
    /// Cancel safe, giving the lock up: see [the type](Self) — after a dropped `wait`
    /// this owner does not hold the lock.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let cond = m.condition().await?;
    /// assert!(cond.acquire(None).await?);
    /// let notifier = tokio::spawn({
    ///     let cond = cond.clone_owner();
    ///     async move {
    ///         cond.acquire(None).await?; // free once the wait below released it
    ///         cond.notify(1).await?;
    ///         cond.release().await
    ///     }
    /// });
    /// cond.wait().await?;
    /// cond.release().await?; // held again after the wait
    /// notifier.await??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `RuntimeError` when the lock is not held, [`Error::ManagerGone`].
    pub async fn wait(&self) -> Result<(), Error> {
        self.wait_op(None).await.map(drop)
    }

    /// `wait(timeout)`: whether it was notified (false on timeout; the lock is held
    /// again either way).
    ///
    /// Cancel safe as [`wait`](Self::wait).
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let cond = m.condition().await?;
    /// assert!(cond.acquire(None).await?);
    /// assert!(!cond.wait_timeout(Duration::from_millis(10)).await?); // nobody notified
    /// cond.release().await?; // held again after the wait
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    pub async fn wait_timeout(&self, timeout: Duration) -> Result<bool, Error> {
        self.wait_op(Some(timeout)).await
    }

    /// `wait_for(predicate)`: waits until `predicate()` holds (checked here, under the
    /// lock, before each wait).
    ///
    /// Cancel safe as [`wait`](Self::wait): its only await points are waits, so a
    /// dropped `wait_for` gives the lock up.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use std::sync::Arc;
    /// # use std::sync::atomic::{AtomicBool, Ordering};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let cond = m.condition().await?;
    /// let ready = Arc::new(AtomicBool::new(false));
    /// assert!(cond.acquire(None).await?);
    /// let notifier = tokio::spawn({
    ///     let (cond, ready) = (cond.clone_owner(), ready.clone());
    ///     async move {
    ///         cond.acquire(None).await?;
    ///         ready.store(true, Ordering::SeqCst);
    ///         cond.notify_all().await?;
    ///         cond.release().await
    ///     }
    /// });
    /// cond.wait_for(|| ready.load(Ordering::SeqCst)).await?;
    /// cond.release().await?;
    /// notifier.await??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    pub async fn wait_for(&self, mut predicate: impl FnMut() -> bool) -> Result<(), Error> {
        while !predicate() {
            self.wait().await?;
        }
        Ok(())
    }

    /// `wait_for(predicate, timeout)`: the predicate's last value (false when
    /// `timeout` passed with it still false). Cancel safe as
    /// [`wait_for`](Self::wait_for).
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let cond = m.condition().await?;
    /// cond.acquire(None).await?;
    /// assert!(!cond.wait_for_timeout(|| false, Duration::from_millis(10)).await?);
    /// assert!(cond.wait_for_timeout(|| true, Duration::from_secs(60)).await?); // no wait
    /// cond.release().await?; // held throughout
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    pub async fn wait_for_timeout(
        &self,
        mut predicate: impl FnMut() -> bool,
        timeout: Duration,
    ) -> Result<bool, Error> {
        let Some(deadline) = std::time::Instant::now().checked_add(timeout) else {
            // a timeout past the clock's range is no timeout
            self.wait_for(predicate).await?;
            return Ok(true);
        };
        loop {
            if predicate() {
                return Ok(true);
            }
            match deadline.checked_duration_since(std::time::Instant::now()) {
                Some(left) if !left.is_zero() => self.wait_timeout(left).await?,
                _ => return Ok(predicate()),
            };
        }
    }

    /// `notify(n)`: wakes up to `n` waiters. A dropped `notify` may or may not have
    /// notified.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use multiproc_manager::RemoteErrorKind;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let cond = m.condition().await?;
    /// assert!(cond.acquire(None).await?);
    /// cond.notify(1).await?; // nobody waits: nothing happens
    /// cond.release().await?;
    /// let err = cond.notify(1).await.unwrap_err(); // not held
    /// assert_eq!(err.remote_kind(), Some(RemoteErrorKind::RuntimeError));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `RuntimeError` when the lock is not held, [`Error::ManagerGone`].
    pub async fn notify(&self, n: u32) -> Result<(), Error> {
        self.p
            .call_owned(
                self.owner(),
                Op::Condition(ConditionOp::Notify(u64::from(n))),
                Settle::Discard,
            )
            .await
            .map(drop)
    }

    /// `notify_all()`. A dropped `notify_all` may or may not have notified.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use multiproc_manager::RemoteErrorKind;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let cond = m.condition().await?;
    /// assert!(cond.acquire(None).await?);
    /// cond.notify_all().await?;
    /// cond.release().await?;
    /// let err = cond.notify_all().await.unwrap_err(); // not held
    /// assert_eq!(err.remote_kind(), Some(RemoteErrorKind::RuntimeError));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`notify`](Self::notify).
    pub async fn notify_all(&self) -> Result<(), Error> {
        self.p
            .call_owned(
                self.owner(),
                Op::Condition(ConditionOp::NotifyAll),
                Settle::Discard,
            )
            .await
            .map(drop)
    }
}

async_proxy!(
    /// The async form of [`BarrierProxy`](crate::BarrierProxy).
    ///
    /// Cancel safety: a [`wait`](Self::wait) dropped before its request went out did
    /// not arrive; one dropped after **has arrived** — the server counts the party
    /// and the barrier passes with it when the others come (its index is discarded),
    /// as a thread that arrived and then stopped listening. To withdraw a party that
    /// will not come back, [`abort`](Self::abort) or [`reset`](Self::reset). The other
    /// calls may or may not have taken effect when dropped.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, RemoteErrorKind, aio::AsyncManager};
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let b = m.barrier(2).await?;
    /// let (a, c) = tokio::join!(b.wait(), b.wait());
    /// let mut idx = [a?, c?];
    /// idx.sort_unstable();
    /// assert_eq!(idx, [0, 1]);
    /// assert_eq!((b.parties().await?, b.n_waiting().await?), (2, 0));
    /// let err = b.wait_timeout(Duration::from_millis(10)).await.unwrap_err();
    /// assert_eq!(err.remote_kind(), Some(RemoteErrorKind::BrokenBarrier));
    /// assert!(b.broken().await?);
    /// b.reset().await?;
    /// assert!(!b.broken().await?);
    /// b.abort().await?;
    /// assert!(b.broken().await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    AsyncBarrierProxy []
);

impl AsyncBarrierProxy {
    /// `wait()`: this party's arrival index (`0..parties`).
    ///
    /// Cancel safe in the sense of [the type](Self): a dropped wait that went out
    /// still counts as arrived.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let b = m.barrier(2).await?;
    /// let (x, y) = tokio::join!(b.wait(), b.wait());
    /// let mut idx = [x?, y?];
    /// idx.sort_unstable();
    /// assert_eq!(idx, [0, 1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `BrokenBarrier` (abort, reset, a vanished party), [`Error::ManagerGone`].
    pub async fn wait(&self) -> Result<u32, Error> {
        self.p
            .call_as(Op::Barrier(BarrierOp::Wait { timeout: None }))
            .await
    }

    /// `wait(timeout)`: a timeout breaks the barrier (for everyone, as in CPython) and
    /// is reported as `BrokenBarrier`. Cancel safe as [`wait`](Self::wait).
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use std::time::Duration;
    /// # use multiproc_manager::RemoteErrorKind;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let b = m.barrier(2).await?;
    /// let err = b.wait_timeout(Duration::from_millis(10)).await.unwrap_err(); // alone
    /// assert_eq!(err.remote_kind(), Some(RemoteErrorKind::BrokenBarrier));
    /// assert!(b.broken().await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    pub async fn wait_timeout(&self, timeout: Duration) -> Result<u32, Error> {
        self.p
            .call_as(Op::Barrier(BarrierOp::Wait {
                timeout: Some(timeout),
            }))
            .await
    }

    /// `abort()`: puts the barrier into the broken state (waiters get `BrokenBarrier`).
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use multiproc_manager::RemoteErrorKind;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let b = m.barrier(1).await?;
    /// b.abort().await?;
    /// assert!(b.broken().await?);
    /// let err = b.wait().await.unwrap_err();
    /// assert_eq!(err.remote_kind(), Some(RemoteErrorKind::BrokenBarrier));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn abort(&self) -> Result<(), Error> {
        self.p.call_unit(Op::Barrier(BarrierOp::Abort)).await
    }

    /// `reset()`: back to the initial state (waiters get `BrokenBarrier`).
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let b = m.barrier(1).await?;
    /// b.abort().await?;
    /// b.reset().await?;
    /// assert!(!b.broken().await?);
    /// assert_eq!(b.wait().await?, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn reset(&self) -> Result<(), Error> {
        self.p.call_unit(Op::Barrier(BarrierOp::Reset)).await
    }

    /// `(parties, n_waiting, broken)`, read together.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let b = m.barrier(3).await?;
    /// assert_eq!(b.info().await?, (3, 0, false));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn info(&self) -> Result<(u32, u32, bool), Error> {
        self.p.call_as(Op::Barrier(BarrierOp::Info)).await
    }

    /// `parties`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let b = m.barrier(3).await?;
    /// assert_eq!(b.parties().await?, 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn parties(&self) -> Result<u32, Error> {
        self.info().await.map(|(p, _, _)| p)
    }

    /// `n_waiting`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let b = m.barrier(2).await?;
    /// assert_eq!(b.n_waiting().await?, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn n_waiting(&self) -> Result<u32, Error> {
        self.info().await.map(|(_, n, _)| n)
    }

    /// `broken`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let b = m.barrier(2).await?;
    /// assert!(!b.broken().await?);
    /// b.abort().await?;
    /// assert!(b.broken().await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn broken(&self) -> Result<bool, Error> {
        self.info().await.map(|(_, _, b)| b)
    }
}
