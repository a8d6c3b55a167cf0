//! Async forms of the queues (feature `tokio`): [`AsyncQueue`], [`AsyncSimpleQueue`]
//! and [`AsyncJoinableQueue`], whose `get()`, `put()` and `join()` are futures.
//!
//! | type | made by | futures |
//! |---|---|---|
//! | [`AsyncQueue`] | [`Queue::into_async`] | [`get`](AsyncQueue::get), [`put`](AsyncQueue::put) |
//! | [`AsyncSimpleQueue`] | [`SimpleQueue::into_async`] | [`get`](AsyncSimpleQueue::get), [`put`](AsyncSimpleQueue::put) |
//! | [`AsyncJoinableQueue`] | [`JoinableQueue::into_async`] | [`get`](AsyncJoinableQueue::get), [`put`](AsyncJoinableQueue::put), [`join`](AsyncJoinableQueue::join) |
//!
//! The queue is the same shared queue as the blocking one: producers and consumers in
//! other processes may use either form.
//!
//! # How waiting works
//!
//! Every attempt is the non-blocking operation (`try_get`, `try_put`), made inside
//! `poll`. When the first cannot complete, the future spins as briefly as the blocking
//! operation does (a few microseconds, yielding when the peer last ran on this CPU)
//! and attempts again, so a peer that answers at once is met without a wake-up. When
//! that cannot complete either, the future counts itself as a sleeper on the
//! queue's doorbell (data for a getter, space for a putter), re-checks, and arms the
//! process's futex bridge
//! ([`FutexWaiter`]: one thread per process in
//! `futex_waitv`); when another consumer (producer) holds the side lock, it waits for
//! that lock instead. A put or get with no async or blocking sleeper makes no system
//! call, as before. A waiting getter re-tries at least every
//! [`LIVENESS_SLICE`], which is when it
//! learns that every producer is gone (`GetError::Closed`, also after SIGKILL).
//!
//! # Cancel safety
//!
//! An item changes hands only inside a `try_get`/`try_put` made within `poll`: a
//! dropped `get` future never loses an item (the item is returned by the poll that took
//! it, or stays in the queue), and a dropped `put` future never duplicates or loses
//! one (it was put by the poll that returned `Ready`, or never, and is dropped with the
//! future). Dropping `join` takes nothing.
//!
//! ```
//! use multiproc_queue::Queue;
//!
//! let rt = tokio::runtime::Builder::new_current_thread().build()?;
//! rt.block_on(async {
//!     let q = Queue::<String>::new()?.into_async();
//!     q.put("hello".to_string()).await?;
//!     assert_eq!(q.get().await?, "hello");
//!     Ok::<(), Box<dyn std::error::Error>>(())
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use multiproc_sync::foundation::{Doorbell, FutexWaiter, LIVENESS_SLICE, RobustMutex, futex_wake};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ring::Ring;
use crate::{GetError, JoinError, JoinableQueue, PutError, Queue, SimpleQueue};

/// Where a waiting future is armed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Armed {
    No,
    /// On the doorbell's word.
    Bell,
    /// On the side lock's word (another process or task holds the side).
    Lock,
}

/// The waiting state shared by the get and put futures: a sleeper counted on `bell`,
/// a bridge registration, and what it is armed on.
struct Wait {
    waiter: FutexWaiter,
    counted: bool,
    armed: Armed,
    /// Whether the future has had its one bounded spin.
    spun: bool,
}

impl Wait {
    fn new() -> Wait {
        Wait {
            waiter: FutexWaiter::new(),
            counted: false,
            armed: Armed::No,
            spun: false,
        }
    }

    /// Once per future, after its first attempt found nothing: the blocking
    /// operation's bounded spin ([`Doorbell::spin_until`], a few microseconds) before
    /// the first sleep. Returns whether `ready()` came true, then the caller attempts
    /// again in the same poll. A peer that answers within the spin (a round trip with
    /// another process) is then met without a wake-up through the bridge thread and
    /// the runtime's, as the blocking `get` and `put` meet it.
    fn spin(&mut self, bell: &Doorbell, ready: impl Fn() -> bool) -> bool {
        !std::mem::replace(&mut self.spun, true) && bell.spin_until(ready)
    }

    /// Starts an attempt: disarms, counts the sleeper once, and returns the doorbell's
    /// value read before the attempt re-checks the queue. A wake-up taken from the
    /// side lock is remembered, to be passed on if the attempt does not use it.
    fn begin(&mut self, bell: &Doorbell) -> (u32, bool) {
        let fired = self.waiter.disarm();
        let lock_wake = fired && self.armed == Armed::Lock;
        self.armed = Armed::No;
        let seq = if self.counted {
            bell.seq()
        } else {
            self.counted = true;
            bell.enter()
        };
        (seq, lock_wake)
    }

    /// One poll of a get or put. `attempt` makes the non-blocking operation and returns
    /// `None` when it would have to wait; then (once per future, after the bounded spin
    /// on `ready`) it is made once more, and if it still would, the future sleeps.
    /// An error after a wake-up taken from the side lock, or a wait after one, passes
    /// that wake-up on to a side-lock sleeper elsewhere (it was not used).
    fn poll<R, E>(
        &mut self,
        bell: &Doorbell,
        lock: &RobustMutex,
        cx: &Context<'_>,
        ready: impl Fn() -> bool,
        mut attempt: impl FnMut() -> Option<Result<R, E>>,
    ) -> Poll<Result<R, E>> {
        let (seq, lock_wake) = self.begin(bell);
        let mut r = attempt();
        if r.is_none() && self.spin(bell, ready) {
            r = attempt();
        }
        match r {
            None => {
                if lock_wake {
                    futex_wake(lock.word(), 1);
                }
                self.sleep(bell, lock, seq, cx);
                Poll::Pending
            }
            Some(r) => {
                self.finish(bell, lock, lock_wake && r.is_err());
                Poll::Ready(r)
            }
        }
    }

    /// The attempt could not complete: sleeps on the side lock if it is held, else on
    /// the doorbell, with a liveness slice.
    fn sleep(&mut self, bell: &Doorbell, lock: &RobustMutex, seq: u32, cx: &Context<'_>) {
        if let Some(v) = lock.announce() {
            self.armed = Armed::Lock;
            self.waiter
                .arm(lock.word(), v, Some(LIVENESS_SLICE), cx.waker());
        } else {
            self.armed = Armed::Bell;
            self.waiter
                .arm(bell.word(), seq, Some(LIVENESS_SLICE), cx.waker());
        }
    }

    /// Done (or dropped): uncounts the sleeper and disarms, passing on a side lock's
    /// wake-up that was not used.
    fn finish(&mut self, bell: &Doorbell, lock: &RobustMutex, lock_wake: bool) {
        let fired = self.waiter.disarm();
        if lock_wake || (fired && self.armed == Armed::Lock) {
            futex_wake(lock.word(), 1);
        }
        self.armed = Armed::No;
        if std::mem::take(&mut self.counted) {
            bell.leave();
        }
    }
}

// ---------------------------------------------------------------- get

/// The future of `get` on the async queues.
///
/// ```
/// use std::time::Duration;
/// use multiproc_queue::{Queue, aio::GetFuture};
/// let rt = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
/// rt.block_on(async {
///     let q = Queue::<u8>::new()?.into_async();
///     // Empty: a bounded get gives up; dropping its future loses nothing.
///     assert!(tokio::time::timeout(Duration::from_millis(10), q.get()).await.is_err());
///     q.get_ref().put(1)?;
///     let fut: GetFuture<'_, u8> = q.get();
///     assert_eq!(fut.await?, 1);
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct GetFuture<'a, T> {
    q: &'a Queue<T>,
    wait: Wait,
}

impl<T: DeserializeOwned> Future for GetFuture<'_, T> {
    type Output = Result<T, GetError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let ring: &Ring = this.q.ring();
        let (bell, lock) = (ring.data_bell(), ring.get_lock());
        let q = this.q;
        this.wait.poll(
            bell,
            lock,
            cx,
            || ring.has_data(),
            || match q.try_get() {
                Err(GetError::Empty) => None,
                r => Some(r),
            },
        )
    }
}

impl<T> Drop for GetFuture<'_, T> {
    fn drop(&mut self) {
        let ring = self.q.ring();
        self.wait.finish(ring.data_bell(), ring.get_lock(), false);
    }
}

impl<T> fmt::Debug for GetFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetFuture").finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------- put

/// The future of `put` on the async queues.
///
/// ```
/// use std::time::Duration;
/// use multiproc_queue::{Queue, aio::PutFuture};
/// let rt = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
/// rt.block_on(async {
///     let q = Queue::<u8>::with_maxsize(1)?.into_async();
///     let fut: PutFuture<'_, u8> = q.put(1);
///     fut.await?;
///     // Full: a bounded put gives up; its item is put once or not at all (here: not).
///     assert!(tokio::time::timeout(Duration::from_millis(10), q.put(2)).await.is_err());
///     assert_eq!(q.get().await?, 1);
///     q.put(3).await?;
///     assert_eq!(q.get().await?, 3);
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct PutFuture<'a, T> {
    q: &'a Queue<T>,
    item: Option<T>,
    wait: Wait,
}

impl<T> Unpin for PutFuture<'_, T> {}

impl<T: Serialize> Future for PutFuture<'_, T> {
    type Output = Result<(), PutError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let ring: &Ring = this.q.ring();
        let (bell, lock) = (ring.space_bell(), ring.put_lock());
        if this.item.is_none() {
            // Polled after completion: nothing left to put.
            return Poll::Ready(Ok(()));
        }
        let (q, slot) = (this.q, &mut this.item);
        this.wait.poll(
            bell,
            lock,
            cx,
            || !ring.is_full(),
            || {
                let item = slot.take()?;
                match q.try_put(item) {
                    Err(PutError::Full(item)) => {
                        *slot = Some(item);
                        None
                    }
                    r => Some(r),
                }
            },
        )
    }
}

impl<T> Drop for PutFuture<'_, T> {
    fn drop(&mut self) {
        let ring = self.q.ring();
        self.wait.finish(ring.space_bell(), ring.put_lock(), false);
    }
}

impl<T> fmt::Debug for PutFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PutFuture")
            .field("pending", &self.item.is_some())
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------- join

/// The future of [`AsyncJoinableQueue::join`].
///
/// ```
/// use std::time::Duration;
/// use multiproc_queue::{JoinableQueue, aio::JoinFuture};
/// let rt = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
/// rt.block_on(async {
///     let q = JoinableQueue::<u8>::new()?.into_async();
///     q.put(1).await?;
///     // One task unfinished: a bounded join gives up.
///     assert!(tokio::time::timeout(Duration::from_millis(10), q.join()).await.is_err());
///     assert_eq!(q.get().await?, 1);
///     q.get_ref().task_done()?;
///     let fut: JoinFuture<'_, u8> = q.join();
///     fut.await?;
///     assert_eq!(q.get_ref().unfinished_tasks(), 0);
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct JoinFuture<'a, T> {
    q: &'a Queue<T>,
    waiter: FutexWaiter,
    counted: bool,
}

impl<T> Future for JoinFuture<'_, T> {
    type Output = Result<(), JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let ring = this.q.ring();
        let bell = ring.join_bell();
        this.waiter.disarm();
        let seq = if this.counted {
            bell.seq()
        } else {
            this.counted = true;
            bell.enter()
        };
        if ring.unfinished() == 0 {
            this.counted = false;
            bell.leave();
            return Poll::Ready(Ok(()));
        }
        this.waiter.arm(bell.word(), seq, None, cx.waker());
        Poll::Pending
    }
}

impl<T> Drop for JoinFuture<'_, T> {
    fn drop(&mut self) {
        // `task_done` wakes every joiner: nothing to pass on.
        self.waiter.disarm();
        if std::mem::take(&mut self.counted) {
            self.q.ring().join_bell().leave();
        }
    }
}

impl<T> fmt::Debug for JoinFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinFuture").finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------- the wrappers

fn get_future<T>(q: &Queue<T>) -> GetFuture<'_, T> {
    GetFuture {
        q,
        wait: Wait::new(),
    }
}

fn put_future<T>(q: &Queue<T>, item: T) -> PutFuture<'_, T> {
    PutFuture {
        q,
        item: Some(item),
        wait: Wait::new(),
    }
}

/// An async view of a [`Queue`]: [`get`](Self::get) and [`put`](Self::put) are
/// futures. Clones are handles of the same queue, as for [`Queue`].
///
/// ```
/// let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build()?;
/// rt.block_on(async {
///     let q = multiproc_queue::Queue::<u64>::with_maxsize(1)?.into_async();
///     let consumer = tokio::spawn({
///         let q = q.clone();
///         async move {
///             let mut sum = 0;
///             for _ in 0..10 {
///                 sum += q.get().await?;
///             }
///             Ok::<u64, multiproc_queue::GetError>(sum)
///         }
///     });
///     for i in 0..10 {
///         q.put(i).await?; // waits while the queue is full
///     }
///     assert_eq!(consumer.await??, 45);
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct AsyncQueue<T> {
    q: Queue<T>,
}

impl<T> AsyncQueue<T> {
    /// Wraps `q`.
    ///
    /// ```
    /// let q = multiproc_queue::aio::AsyncQueue::new(multiproc_queue::Queue::<u8>::new()?);
    /// assert!(q.get_ref().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(q: Queue<T>) -> AsyncQueue<T> {
        AsyncQueue { q }
    }
}

impl<T: DeserializeOwned> AsyncQueue<T> {
    /// Takes the oldest item, waiting for one: the async
    /// [`Queue::get`]. Errors as `Queue::get` ([`GetError::Closed`] once the queue is
    /// drained and no process holds an open handle, SIGKILLed ones included), never
    /// `Empty` or `Timeout` (wrap it in `tokio::time::timeout` for a bound).
    ///
    /// Cancel safe: dropping the future never loses an item.
    ///
    /// ```
    /// let rt = tokio::runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     let q = multiproc_queue::Queue::<u8>::new()?.into_async();
    ///     q.get_ref().put(7)?;
    ///     assert_eq!(q.get().await?, 7);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(&self) -> GetFuture<'_, T> {
        get_future(&self.q)
    }

    /// Takes the oldest item if one is there now: [`Queue::try_get`].
    ///
    /// ```
    /// let q = multiproc_queue::Queue::<u8>::new()?.into_async();
    /// assert!(matches!(q.try_get(), Err(multiproc_queue::GetError::Empty)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Queue::try_get`].
    pub fn try_get(&self) -> Result<T, GetError> {
        self.q.try_get()
    }
}

impl<T: Serialize> AsyncQueue<T> {
    /// Appends `item`, waiting while the queue is full: the async [`Queue::put`].
    /// Errors as `Queue::put`, handing the item back, never `Full` or `Timeout`.
    ///
    /// Cancel safe: dropping the future before it resolves leaves the item unput
    /// (dropped with the future); it is never put twice.
    ///
    /// ```
    /// let rt = tokio::runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     let q = multiproc_queue::Queue::<u8>::new()?.into_async();
    ///     q.put(7).await?;
    ///     assert_eq!(q.get_ref().qsize(), 1);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put(&self, item: T) -> PutFuture<'_, T> {
        put_future(&self.q, item)
    }

    /// Appends `item` if there is room now: [`Queue::try_put`].
    ///
    /// ```
    /// let q = multiproc_queue::Queue::<u8>::with_maxsize(1)?.into_async();
    /// q.try_put(1)?;
    /// assert!(matches!(q.try_put(2), Err(multiproc_queue::PutError::Full(2))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Queue::try_put`].
    pub fn try_put(&self, item: T) -> Result<(), PutError<T>> {
        self.q.try_put(item)
    }
}

/// An async view of a [`SimpleQueue`].
///
/// ```
/// let rt = tokio::runtime::Builder::new_current_thread().build()?;
/// rt.block_on(async {
///     let q = multiproc_queue::SimpleQueue::<u8>::new()?.into_async();
///     q.put(1).await?;
///     assert_eq!(q.get().await?, 1);
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct AsyncSimpleQueue<T> {
    q: SimpleQueue<T>,
}

/// An async view of a [`JoinableQueue`]: [`join`](Self::join) is a future too
/// (`task_done` is on [`get_ref`](Self::get_ref)).
///
/// ```
/// let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build()?;
/// rt.block_on(async {
///     let q = multiproc_queue::JoinableQueue::<u8>::new()?.into_async();
///     q.put(1).await?;
///     let worker = tokio::spawn({
///         let q = q.clone();
///         async move {
///             let _item = q.get().await?;
///             q.get_ref().task_done().map_err(|e| e.to_string())?;
///             Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
///         }
///     });
///     q.join().await?;
///     worker.await?.map_err(|e| e.to_string())?;
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct AsyncJoinableQueue<T> {
    q: JoinableQueue<T>,
}

impl<T> AsyncJoinableQueue<T> {
    /// Resolves once every item put so far has been marked done: the async
    /// [`JoinableQueue::join`]. A consumer that dies between `get` and `task_done`
    /// leaves its task unfinished: bound the wait with `tokio::time::timeout` where
    /// that can happen.
    ///
    /// Cancel safe: the future takes nothing.
    ///
    /// ```
    /// let rt = tokio::runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     let q = multiproc_queue::JoinableQueue::<u8>::new()?.into_async();
    ///     q.join().await?; // nothing unfinished
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn join(&self) -> JoinFuture<'_, T> {
        JoinFuture {
            q: &self.q,
            waiter: FutexWaiter::new(),
            counted: false,
        }
    }
}

/// The shared queue under a blocking handle, for the futures.
trait AsQueue<T> {
    fn as_queue(&self) -> &Queue<T>;
}

impl<T> AsQueue<T> for SimpleQueue<T> {
    fn as_queue(&self) -> &Queue<T> {
        self.inner()
    }
}

impl<T> AsQueue<T> for JoinableQueue<T> {
    fn as_queue(&self) -> &Queue<T> {
        self
    }
}

/// What every async view has: `into_async` on the blocking type, `get_ref`,
/// `into_inner`, `Clone` and `Debug`; with `get_put`, also the `get` and `put` that
/// delegate to [`AsyncQueue`]'s futures.
macro_rules! async_view {
    ($async:ident, $sync:ident) => {
        impl<T> $sync<T> {
            #[doc = concat!("This queue handle, awaitable ([`", stringify!($async), "`]).")]
            ///
            /// ```
            #[doc = concat!("let q = multiproc_queue::", stringify!($sync), "::<u8>::new()?.into_async();")]
            /// assert!(q.get_ref().is_empty());
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn into_async(self) -> $async<T> {
                $async { q: self }
            }
        }

        impl<T> $async<T> {
            /// The blocking handle (sizes, `close`, the blocking calls; `task_done` of a
            /// joinable queue).
            ///
            /// ```
            #[doc = concat!("let q = multiproc_queue::", stringify!($sync), "::<u8>::new()?.into_async();")]
            /// q.get_ref().put(1)?;
            /// assert!(!q.get_ref().is_empty());
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn get_ref(&self) -> &$sync<T> {
                &self.q
            }

            /// The blocking handle, unwrapped.
            ///
            /// ```
            #[doc = concat!("let q = multiproc_queue::", stringify!($sync), "::<u8>::new()?.into_async().into_inner();")]
            /// q.put(1)?;
            /// assert!(!q.is_empty());
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn into_inner(self) -> $sync<T> {
                self.q
            }
        }

        impl<T> Clone for $async<T> {
            fn clone(&self) -> Self {
                $async { q: self.q.clone() }
            }
        }

        impl<T> fmt::Debug for $async<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($async)).field(&self.q).finish()
            }
        }
    };
    ($async:ident, $sync:ident, get_put) => {
        async_view!($async, $sync);

        impl<T: DeserializeOwned> $async<T> {
            /// As [`AsyncQueue::get`]. Cancel safe: dropping the future never loses an
            /// item.
            ///
            /// ```
            /// let rt = tokio::runtime::Builder::new_current_thread().build()?;
            /// rt.block_on(async {
            #[doc = concat!("    let q = multiproc_queue::", stringify!($sync), "::<u8>::new()?.into_async();")]
            ///     q.get_ref().put(3)?;
            ///     assert_eq!(q.get().await?, 3);
            ///     Ok::<(), Box<dyn std::error::Error>>(())
            /// })?;
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn get(&self) -> GetFuture<'_, T> {
                get_future(self.q.as_queue())
            }
        }

        impl<T: Serialize> $async<T> {
            /// As [`AsyncQueue::put`]. Cancel safe: an item is put once or not at all.
            ///
            /// ```
            /// let rt = tokio::runtime::Builder::new_current_thread().build()?;
            /// rt.block_on(async {
            #[doc = concat!("    let q = multiproc_queue::", stringify!($sync), "::<u8>::new()?.into_async();")]
            ///     q.put(3).await?;
            ///     assert!(!q.get_ref().is_empty());
            ///     Ok::<(), Box<dyn std::error::Error>>(())
            /// })?;
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn put(&self, item: T) -> PutFuture<'_, T> {
                put_future(self.q.as_queue(), item)
            }
        }
    };
}

async_view!(AsyncQueue, Queue);
async_view!(AsyncSimpleQueue, SimpleQueue, get_put);
async_view!(AsyncJoinableQueue, JoinableQueue, get_put);

#[expect(dead_code, reason = "compile-time checks only, never called")]
fn assert_send_sync() {
    fn both<T: Send + Sync>() {}
    both::<AsyncQueue<u8>>();
    both::<AsyncSimpleQueue<u8>>();
    both::<AsyncJoinableQueue<u8>>();
    both::<GetFuture<'static, u8>>();
    both::<PutFuture<'static, u8>>();
    both::<JoinFuture<'static, u8>>();
}
