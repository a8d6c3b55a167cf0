//! Async pool results on tokio (feature `tokio`, issue #16): an [`AsyncResult`] is a
//! future (`pool.apply_async(f, args).await`, `pool.map_async(f, items).await`), and
//! [`AsyncIMap`] turns [`Pool::imap`](crate::Pool::imap) /
//! [`imap_unordered`](crate::Pool::imap_unordered) into a
//! [`Stream`](futures_core::Stream).
//!
//! **Waking.** Results are delivered by the pool's supervisor threads (never a runtime
//! thread). Each result slot has, beside the condition variable the blocking `get`
//! sleeps on, a list of wakers: an awaiting task registers its waker under the slot's
//! lock, and the thread that delivers the result wakes it — after the whole batch of
//! results it took from the worker in that turn, so 1,000 awaiting tasks cost a few
//! batched wake-ups, not 1,000 interleaved ones. Nothing polls or sleeps on a timer,
//! and no runtime thread ever blocks on a pool call that awaits.
//!
//! **Cancel safety.**
//! * `r.await` (the owned [`AsyncResult`]) takes the handle, as the blocking
//!   [`get`](AsyncResult::get) does: dropping the future is dropping the handle — the
//!   call goes on in the pool, its result is discarded, and nothing the caller could
//!   still reach is lost. Nothing hangs either: no worker waits for a reader.
//! * `(&r).await` borrows it: dropping that future leaves the outcome in `r`, for a
//!   later `(&r).await`, [`get`](AsyncResult::get) or
//!   [`get_timeout`](AsyncResult::get_timeout). The outcome is handed out once, as by
//!   `get_timeout`.
//! * [`AsyncIMap::next`] keeps every result in the stream, not in the future: dropping
//!   it loses no item. Dropping the stream cancels the chunks no worker has started,
//!   as dropping an [`IMap`](crate::IMap) does.
//!
//! ```
//! use multiproc_pool::Pool;
//! use multiproc_process::StartMethod;
//! fn square(x: u64) -> u64 { x * x }
//!
//! let pool = Pool::builder().processes(2).start_method(StartMethod::Spawn).build()?;
//! let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
//! rt.block_on(async {
//!     assert_eq!(pool.apply_async(square, (7,)).await?, 49);
//!     assert_eq!(pool.map_async(square, 1..=3).await?, [1, 4, 9]);
//!     let mut squares = pool.imap(square, 1..=3).into_async();
//!     let mut got = Vec::new();
//!     while let Some(v) = squares.next().await {
//!         got.push(v?);
//!     }
//!     assert_eq!(got, [1, 4, 9]);
//!     Ok::<(), multiproc_pool::Error>(())
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};

use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::imap::IMapRef;
use crate::job::AsyncResult;

/// The future of an owned [`AsyncResult`] (`r.await`): the value, as
/// [`get`](AsyncResult::get) returns it. Dropping it drops the handle (see the
/// [module docs](self)).
///
/// ```
/// use std::future::IntoFuture;
/// use multiproc_pool::Pool;
/// fn double(x: u32) -> u32 { 2 * x }
/// let pool = Pool::new(1)?;
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// let fut: multiproc_pool::aio::Get<u32> = pool.apply_async(double, (21,)).into_future();
/// assert_eq!(rt.block_on(fut)?, 42);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Get<T> {
    result: AsyncResult<T>,
}

impl<T> fmt::Debug for Get<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Get").field("result", &self.result).finish()
    }
}

impl<T> Future for Get<T> {
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.result.poll_take(cx)
    }
}

impl<T> Unpin for Get<T> {}

/// `pool.apply_async(f, args).await`: the call's value, or its error
/// ([`Error::WorkerDied`], [`Error::Panicked`], …), as [`get`](AsyncResult::get)
/// returns it, without blocking a thread. Takes the handle; dropping the future drops
/// it (the call's result is discarded; see the [module docs](self)).
///
/// ```
/// use multiproc_pool::{Error, Pool};
/// fn boom(_: u8) -> u8 { panic!("no") }
/// let pool = Pool::new(1)?;
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// let r = rt.block_on(async { pool.apply_async(boom, (1,)).await });
/// assert!(matches!(r, Err(Error::Panicked(_))));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl<T> IntoFuture for AsyncResult<T> {
    type Output = Result<T, Error>;
    type IntoFuture = Get<T>;

    fn into_future(self) -> Get<T> {
        Get { result: self }
    }
}

/// The future of a borrowed [`AsyncResult`] (`(&r).await`). Cancel safe: dropping it
/// leaves the outcome in the handle.
///
/// ```
/// use std::future::IntoFuture;
/// use multiproc_pool::Pool;
/// fn double(x: u32) -> u32 { 2 * x }
/// let pool = Pool::new(1)?;
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// let r = pool.apply_async(double, (21,));
/// let fut: multiproc_pool::aio::GetRef<'_, u32> = (&r).into_future();
/// assert_eq!(rt.block_on(fut)?, 42);
/// assert!(r.ready());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct GetRef<'a, T> {
    result: &'a AsyncResult<T>,
}

impl<T> fmt::Debug for GetRef<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetRef")
            .field("result", self.result)
            .finish()
    }
}

impl<T> Future for GetRef<'_, T> {
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.result.poll_take(cx)
    }
}

/// `(&r).await`: as `r.await`, but the handle stays with the caller, so a wait given
/// up (a `select!` branch not taken, a `timeout`) can be awaited again — the async
/// [`get_timeout`](AsyncResult::get_timeout). The outcome is handed out once; a later
/// await says [`Error::AlreadyTaken`].
///
/// ```
/// use std::time::Duration;
/// use multiproc_pool::{Error, Pool};
/// fn slow(ms: u64) -> u64 { std::thread::sleep(Duration::from_millis(ms)); ms }
/// let pool = Pool::new(1)?;
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// rt.block_on(async {
///     let r = pool.apply_async(slow, (300,));
///     let first = tokio::time::timeout(Duration::from_millis(1), &r).await;
///     assert!(first.is_err()); // given up: nothing lost
///     assert_eq!((&r).await?, 300);
///     assert!(matches!((&r).await, Err(Error::AlreadyTaken)));
///     Ok::<(), Error>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl<'a, T> IntoFuture for &'a AsyncResult<T> {
    type Output = Result<T, Error>;
    type IntoFuture = GetRef<'a, T>;

    fn into_future(self) -> GetRef<'a, T> {
        GetRef { result: self }
    }
}

/// The results of [`Pool::imap`](crate::Pool::imap) /
/// [`imap_unordered`](crate::Pool::imap_unordered) (or their `_ref` forms) as a
/// [`Stream`](futures_core::Stream): [`IMapRef::into_async`] or [`AsyncIMap::new`].
/// One `Result` per input item, in the same order as the iterator's; the same window
/// (the input is pulled as results are consumed, on the polling task), the same
/// errors.
///
/// Cancel safe: a dropped [`next`](Self::next) future loses no item (the results wait
/// in the stream); dropping the stream cancels what no worker has started.
///
/// ```
/// use multiproc_pool::Pool;
/// fn square(x: u64) -> u64 { x * x }
/// let pool = Pool::new(2)?;
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// let mut total = 0;
/// rt.block_on(async {
///     let mut s = pool.imap_unordered(square, 0..100).into_async();
///     while let Some(v) = s.next().await {
///         total += v?;
///     }
///     Ok::<(), multiproc_pool::Error>(())
/// })?;
/// assert_eq!(total, (0..100).map(|x| x * x).sum::<u64>());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct AsyncIMap<'a, R> {
    inner: IMapRef<'a, R>,
}

impl<R> fmt::Debug for AsyncIMap<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AsyncIMap").field(&self.inner).finish()
    }
}

impl<'a, R: DeserializeOwned + Send + 'static> AsyncIMap<'a, R> {
    /// The stream of `imap`'s results (the same as [`IMapRef::into_async`]).
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// use multiproc_pool::aio::AsyncIMap;
    /// fn double(x: u32) -> u32 { 2 * x }
    /// let pool = Pool::new(1)?;
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// let mut s = AsyncIMap::new(pool.imap(double, [1, 2]));
    /// assert_eq!(rt.block_on(s.next()).transpose()?, Some(2));
    /// // the rest through the blocking iterator
    /// let rest: Vec<u32> = s.into_inner().collect::<Result<_, _>>()?;
    /// assert_eq!(rest, [4]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(imap: IMapRef<'a, R>) -> Self {
        AsyncIMap { inner: imap }
    }

    /// The blocking iterator back (results already received stay in it).
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// use multiproc_pool::aio::AsyncIMap;
    /// fn double(x: u32) -> u32 { 2 * x }
    /// let pool = Pool::new(1)?;
    /// let s = AsyncIMap::new(pool.imap(double, [1, 2, 3]));
    /// // no runtime needed for the blocking iterator
    /// let all: Vec<u32> = s.into_inner().collect::<Result<_, _>>()?;
    /// assert_eq!(all, [2, 4, 6]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_inner(self) -> IMapRef<'a, R> {
        self.inner
    }

    /// The next result; `None` at the end (the async [`Iterator::next`], so no stream
    /// extension trait is needed). Cancel safe.
    #[expect(
        clippy::should_implement_trait,
        reason = "the async `next` (tokio-stream's `StreamExt::next`), not `Iterator::next`"
    )]
    pub fn next(&mut self) -> Next<'_, 'a, R> {
        Next { stream: self }
    }
}

impl<R> Unpin for AsyncIMap<'_, R> {}

impl<R: DeserializeOwned + Send + 'static> futures_core::Stream for AsyncIMap<'_, R> {
    type Item = Result<R, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_item(cx)
    }
}

/// The future of [`AsyncIMap::next`]. Cancel safe.
///
/// ```
/// use multiproc_pool::Pool;
/// fn double(x: u32) -> u32 { 2 * x }
/// let pool = Pool::new(1)?;
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// let mut s = pool.imap(double, [5]).into_async();
/// let next: multiproc_pool::aio::Next<'_, '_, u32> = s.next();
/// assert_eq!(rt.block_on(next).transpose()?, Some(10));
/// assert!(rt.block_on(s.next()).is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Next<'s, 'a, R> {
    stream: &'s mut AsyncIMap<'a, R>,
}

impl<R> fmt::Debug for Next<'_, '_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Next").finish_non_exhaustive()
    }
}

impl<R: DeserializeOwned + Send + 'static> Future for Next<'_, '_, R> {
    type Output = Option<Result<R, Error>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.stream.inner.poll_next_item(cx)
    }
}

impl<'a, R: DeserializeOwned + Send + 'static> IMapRef<'a, R> {
    /// These results as a [`Stream`](futures_core::Stream) ([`AsyncIMap`]; feature
    /// `tokio`).
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// fn double(x: u32) -> u32 { 2 * x }
    /// let pool = Pool::new(1)?;
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// let mut s = pool.imap_unordered(double, [3]).into_async();
    /// assert_eq!(rt.block_on(s.next()).transpose()?, Some(6));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_async(self) -> AsyncIMap<'a, R> {
        AsyncIMap { inner: self }
    }
}
