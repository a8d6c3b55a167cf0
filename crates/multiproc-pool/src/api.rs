//! The backend-generic pool API: [`PoolApi`] and [`AsyncResultApi`], implemented here
//! by [`Pool`] and by `multiproc_mpi::Pool` (a pool whose workers are MPI ranks), so
//! that code written against the traits runs unchanged on either backend.

use std::time::Duration;

use multiproc_process::Target;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;
#[cfg(doc)]
use crate::{AsyncResult, Pool};

/// The pending result of an asynchronous pool call, whatever the backend
/// (CPython's `AsyncResult`). Implemented by [`AsyncResult`].
///
/// ```
/// use multiproc_pool::{AsyncResultApi, Pool, PoolApi};
///
/// fn square(x: u64) -> u64 { x * x }
///
/// fn first_square<P: PoolApi>(pool: &P) -> Result<u64, multiproc_pool::Error> {
///     let r = pool.apply_async(square, (7,));
///     r.wait();
///     assert!(r.ready());
///     r.get()
/// }
/// assert_eq!(first_square(&Pool::new(1)?)?, 49);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait AsyncResultApi<T>: Send + Sized {
    /// Whether the result has arrived (CPython's `ready()`).
    fn ready(&self) -> bool;
    /// Waits for the result (CPython's `wait()`).
    fn wait(&self);
    /// Waits at most `timeout`; whether the result has arrived.
    fn wait_timeout(&self, timeout: Duration) -> bool;
    /// Waits for and returns the result (CPython's `get()`).
    ///
    /// # Errors
    /// Why the call produced no value: the backend's [`Error`].
    fn get(self) -> Result<T, Error>;
    /// Gives up on the call: queued work is dropped and the result resolves to
    /// [`Error::Cancelled`]; `false` when the result was already in.
    fn cancel(&self) -> bool;
    /// [`get`](Self::get) with a bound; [`Error::Timeout`] when it expires. It
    /// borrows the handle, so a timed-out wait can be retried (the call goes on); the
    /// value is handed out once.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_pool::{AsyncResultApi, Error, Pool, PoolApi};
    ///
    /// fn slow(ms: u64) -> u64 { std::thread::sleep(Duration::from_millis(ms)); ms }
    ///
    /// fn patiently<P: PoolApi>(pool: &P) -> Result<u64, Error> {
    ///     let r = pool.apply_async(slow, (300,));
    ///     loop {
    ///         match r.get_timeout(Duration::from_millis(50)) {
    ///             Err(Error::Timeout) => continue, // not yet: the same handle, again
    ///             other => return other,
    ///         }
    ///     }
    /// }
    /// assert_eq!(patiently(&Pool::new(1)?)?, 300);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`get`](Self::get), [`Error::Timeout`] (still pending: call again) and
    /// [`Error::AlreadyTaken`] (an earlier call returned the outcome).
    fn get_timeout(&self, timeout: Duration) -> Result<T, Error>;
    /// Calls `f` with the value when it arrives (CPython's `callback=`).
    fn callback(self, f: impl FnOnce(&T) + Send + 'static) -> Self;
    /// Calls `f` with the error when the call fails (CPython's `error_callback=`).
    fn error_callback(self, f: impl FnOnce(&Error) + Send + 'static) -> Self;
}

/// A pool of workers, whatever runs them: the calls of CPython's `Pool` that do not
/// depend on where the workers are. Implemented by [`Pool`] (local processes) and by
/// `multiproc_mpi::Pool` (MPI ranks, across hosts).
///
/// ```
/// use multiproc_pool::{Pool, PoolApi};
///
/// fn square(x: i64) -> i64 { x * x }
///
/// /// Runs on any backend.
/// fn squares<P: PoolApi>(pool: &P) -> Result<Vec<i64>, multiproc_pool::Error> {
///     pool.map(square, [1, 2, 3])
/// }
/// let pool = Pool::new(2)?;
/// assert_eq!(squares(&pool)?, [1, 4, 9]);
/// let firsts: Result<Vec<i64>, _> = pool.imap(square, 0..4).collect();
/// assert_eq!(firsts?, [0, 1, 4, 9]);
/// PoolApi::close(&pool);
/// PoolApi::join(&pool)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait PoolApi {
    /// The backend's pending result.
    type AsyncResult<T: Send + 'static>: AsyncResultApi<T>;
    /// The backend's lazy result iterator (`imap`, `imap_unordered`).
    type IMap<R: DeserializeOwned + Send + 'static>: Iterator<Item = Result<R, Error>>;

    /// How many workers run tasks.
    fn processes(&self) -> usize;

    /// `f(*args)` in a worker, waiting for the result (CPython's `apply`).
    ///
    /// # Errors
    /// Why the task produced no value.
    fn apply<F, A>(&self, f: F, args: A) -> Result<F::Output, Error>
    where
        F: Target<A>,
        A: Serialize + DeserializeOwned + Send + 'static;

    /// Asynchronous [`apply`](Self::apply).
    fn apply_async<F, A>(&self, f: F, args: A) -> Self::AsyncResult<F::Output>
    where
        F: Target<A>,
        A: Serialize + DeserializeOwned + Send + 'static;

    /// `f(x)` for every item, in order, with the backend's default chunking.
    ///
    /// # Errors
    /// The first failing item's error, after every chunk is done.
    fn map<F, T, I>(&self, f: F, iterable: I) -> Result<Vec<F::Output>, Error>
    where
        F: Target<(T,)>,
        T: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = T>;

    /// [`map`](Self::map) with `chunksize` items per task.
    ///
    /// # Errors
    /// As [`map`](Self::map); [`Error::InvalidArgument`] for a zero chunk size.
    fn map_chunked<F, T, I>(
        &self,
        f: F,
        iterable: I,
        chunksize: usize,
    ) -> Result<Vec<F::Output>, Error>
    where
        F: Target<(T,)>,
        T: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = T>;

    /// Asynchronous [`map`](Self::map).
    fn map_async<F, T, I>(&self, f: F, iterable: I) -> Self::AsyncResult<Vec<F::Output>>
    where
        F: Target<(T,)>,
        T: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = T>;

    /// `f(a, b, …)` for every argument tuple, in order.
    ///
    /// # Errors
    /// As [`map`](Self::map).
    fn starmap<F, A, I>(&self, f: F, iterable: I) -> Result<Vec<F::Output>, Error>
    where
        F: Target<A>,
        A: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = A>;

    /// Asynchronous [`starmap`](Self::starmap).
    fn starmap_async<F, A, I>(&self, f: F, iterable: I) -> Self::AsyncResult<Vec<F::Output>>
    where
        F: Target<A>,
        A: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = A>;

    /// [`starmap`](Self::starmap) with `chunksize` tuples per task.
    ///
    /// # Errors
    /// As [`map_chunked`](Self::map_chunked).
    fn starmap_chunked<F, A, I>(
        &self,
        f: F,
        iterable: I,
        chunksize: usize,
    ) -> Result<Vec<F::Output>, Error>
    where
        F: Target<A>,
        A: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = A>;

    /// Lazy, ordered results of `f(x)` (one item per task).
    fn imap<F, T, I>(&self, f: F, iterable: I) -> Self::IMap<F::Output>
    where
        F: Target<(T,)>,
        T: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static;

    /// Lazy results of `f(x)` in completion order.
    fn imap_unordered<F, T, I>(&self, f: F, iterable: I) -> Self::IMap<F::Output>
    where
        F: Target<(T,)>,
        T: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static;

    /// No more calls; queued work still runs (CPython's `close()`).
    fn close(&self);

    /// Stops now; pending results resolve to [`Error::Terminated`] (CPython's `terminate()`).
    fn terminate(&self);

    /// Waits for the workers after [`close`](Self::close) or
    /// [`terminate`](Self::terminate) (CPython's `join()`).
    ///
    /// # Errors
    /// [`Error::StillRunning`] on a running pool; backend-specific failures.
    fn join(&self) -> Result<(), Error>;
}

/// Implements [`AsyncResultApi`] and [`PoolApi`] for a backend by forwarding every
/// method to the backend's inherent method of the same name and signature, so the
/// signatures exist once (in the traits and here) rather than once per backend.
/// Used by this crate for [`Pool`] and by `multiproc-mpi` for its pool;
/// `forward_pool_api!(Pool, AsyncResult, IMap)` names the pool type and its result and
/// iterator types (in scope at the call); the calling crate depends on
/// `multiproc-process` and `serde` (the bounds name them). Not a stable API.
///
/// ```
/// // This crate's own use, spelled out (the impls exist already, so this only shows
/// // what the macro expands to: `PoolApi` calls reach the inherent methods).
/// use multiproc_pool::{AsyncResultApi, Pool, PoolApi};
/// fn double(x: u8) -> u8 { x * 2 }
/// let pool = Pool::new(1)?;
/// assert_eq!(PoolApi::map(&pool, double, [1, 2])?, [2, 4]);
/// let r = PoolApi::apply_async(&pool, double, (4,));
/// assert_eq!(AsyncResultApi::get_timeout(&r, std::time::Duration::from_secs(60))?, 8);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! __forward_pool_api {
    ($pool:ty, $async_result:ident, $imap:ident) => {
        impl<T: Send + 'static> $crate::AsyncResultApi<T> for $async_result<T> {
            fn ready(&self) -> bool {
                $async_result::ready(self)
            }
            fn wait(&self) {
                $async_result::wait(self)
            }
            fn wait_timeout(&self, timeout: ::std::time::Duration) -> bool {
                $async_result::wait_timeout(self, timeout)
            }
            fn get(self) -> ::std::result::Result<T, $crate::Error> {
                $async_result::get(self)
            }
            fn cancel(&self) -> bool {
                $async_result::cancel(self)
            }
            fn get_timeout(
                &self,
                timeout: ::std::time::Duration,
            ) -> ::std::result::Result<T, $crate::Error> {
                $async_result::get_timeout(self, timeout)
            }
            fn callback(self, f: impl FnOnce(&T) + Send + 'static) -> Self {
                $async_result::callback(self, f)
            }
            fn error_callback(self, f: impl FnOnce(&$crate::Error) + Send + 'static) -> Self {
                $async_result::error_callback(self, f)
            }
        }

        impl $crate::PoolApi for $pool {
            type AsyncResult<T: Send + 'static> = $async_result<T>;
            type IMap<R: ::serde::de::DeserializeOwned + Send + 'static> = $imap<R>;

            fn processes(&self) -> usize {
                <$pool>::processes(self)
            }
            fn close(&self) {
                <$pool>::close(self)
            }
            fn terminate(&self) {
                <$pool>::terminate(self)
            }
            fn join(&self) -> ::std::result::Result<(), $crate::Error> {
                <$pool>::join(self)
            }
            $crate::__forward_pool_api! {
            @pool $pool;
            fn apply<F, A>(f: F, args: A) -> ::std::result::Result<F::Output, $crate::Error>
                where [F: ::multiproc_process::Target<A>, A: ::serde::Serialize + ::serde::de::DeserializeOwned + Send + 'static];
            fn apply_async<F, A>(f: F, args: A) -> $async_result<F::Output>
                where [F: ::multiproc_process::Target<A>, A: ::serde::Serialize + ::serde::de::DeserializeOwned + Send + 'static];
            fn map<F, T, I>(f: F, iterable: I) -> ::std::result::Result<Vec<F::Output>, $crate::Error>
                where [F: ::multiproc_process::Target<(T,)>, T: ::serde::Serialize + ::serde::de::DeserializeOwned + Send + 'static, I: IntoIterator<Item = T>];
            fn map_chunked<F, T, I>(f: F, iterable: I, chunksize: usize) -> ::std::result::Result<Vec<F::Output>, $crate::Error>
                where [F: ::multiproc_process::Target<(T,)>, T: ::serde::Serialize + ::serde::de::DeserializeOwned + Send + 'static, I: IntoIterator<Item = T>];
            fn map_async<F, T, I>(f: F, iterable: I) -> $async_result<Vec<F::Output>>
                where [F: ::multiproc_process::Target<(T,)>, T: ::serde::Serialize + ::serde::de::DeserializeOwned + Send + 'static, I: IntoIterator<Item = T>];
            fn starmap<F, A, I>(f: F, iterable: I) -> ::std::result::Result<Vec<F::Output>, $crate::Error>
                where [F: ::multiproc_process::Target<A>, A: ::serde::Serialize + ::serde::de::DeserializeOwned + Send + 'static, I: IntoIterator<Item = A>];
            fn starmap_async<F, A, I>(f: F, iterable: I) -> $async_result<Vec<F::Output>>
                where [F: ::multiproc_process::Target<A>, A: ::serde::Serialize + ::serde::de::DeserializeOwned + Send + 'static, I: IntoIterator<Item = A>];
            fn starmap_chunked<F, A, I>(f: F, iterable: I, chunksize: usize) -> ::std::result::Result<Vec<F::Output>, $crate::Error>
                where [F: ::multiproc_process::Target<A>, A: ::serde::Serialize + ::serde::de::DeserializeOwned + Send + 'static, I: IntoIterator<Item = A>];
            fn imap<F, T, I>(f: F, iterable: I) -> $imap<F::Output>
                where [F: ::multiproc_process::Target<(T,)>, T: ::serde::Serialize + ::serde::de::DeserializeOwned + Send + 'static, I: IntoIterator<Item = T>, I::IntoIter: Send + 'static];
            fn imap_unordered<F, T, I>(f: F, iterable: I) -> $imap<F::Output>
                where [F: ::multiproc_process::Target<(T,)>, T: ::serde::Serialize + ::serde::de::DeserializeOwned + Send + 'static, I: IntoIterator<Item = T>, I::IntoIter: Send + 'static];
            }
        }
    };
    (
        @pool $pool:ty;
        $(
            fn $name:ident<$($g:ident),*>($($arg:ident: $argty:ty),*) -> $ret:ty
                where [$($w:tt)*];
        )*
    ) => {
        $(
            fn $name<$($g),*>(&self, $($arg: $argty),*) -> $ret
            where
                $($w)*
            {
                <$pool>::$name(self, $($arg),*)
            }
        )*
    };
}

mod forward {
    use crate::{AsyncResult, IMap, Pool};
    crate::__forward_pool_api!(Pool, AsyncResult, IMap);
}
