//! The backend-generic pool API: [`PoolApi`] and [`AsyncResultApi`], implemented here
//! by [`Pool`] and by `multiproc_mpi::Pool` (a pool whose workers are MPI ranks), so
//! that code written against the traits runs unchanged on either backend.

use std::time::Duration;

use multiproc_process::Target;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{AsyncResult, Error, IMap, Pool};

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
    /// [`get`](Self::get) with a bound; [`Error::Timeout`] when it expires. The
    /// trait form consumes the handle (as every backend can); the local
    /// [`AsyncResult::get_timeout`] borrows it, so a timed-out wait can be retried.
    ///
    /// # Errors
    /// As [`get`](Self::get), and [`Error::Timeout`].
    fn get_timeout(self, timeout: Duration) -> Result<T, Error>;
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

impl<T: Send + 'static> AsyncResultApi<T> for AsyncResult<T> {
    fn ready(&self) -> bool {
        AsyncResult::ready(self)
    }
    fn wait(&self) {
        AsyncResult::wait(self);
    }
    fn wait_timeout(&self, timeout: Duration) -> bool {
        AsyncResult::wait_timeout(self, timeout)
    }
    fn get(self) -> Result<T, Error> {
        AsyncResult::get(self)
    }
    fn cancel(&self) -> bool {
        AsyncResult::cancel(self)
    }
    fn get_timeout(self, timeout: Duration) -> Result<T, Error> {
        AsyncResult::get_timeout(&self, timeout)
    }
    fn callback(self, f: impl FnOnce(&T) + Send + 'static) -> Self {
        AsyncResult::callback(self, f)
    }
    fn error_callback(self, f: impl FnOnce(&Error) + Send + 'static) -> Self {
        AsyncResult::error_callback(self, f)
    }
}

impl PoolApi for Pool {
    type AsyncResult<T: Send + 'static> = AsyncResult<T>;
    type IMap<R: DeserializeOwned + Send + 'static> = IMap<R>;

    fn processes(&self) -> usize {
        Pool::processes(self)
    }

    fn apply<F, A>(&self, f: F, args: A) -> Result<F::Output, Error>
    where
        F: Target<A>,
        A: Serialize + DeserializeOwned + Send + 'static,
    {
        Pool::apply(self, f, args)
    }

    fn apply_async<F, A>(&self, f: F, args: A) -> AsyncResult<F::Output>
    where
        F: Target<A>,
        A: Serialize + DeserializeOwned + Send + 'static,
    {
        Pool::apply_async(self, f, args)
    }

    fn map<F, T, I>(&self, f: F, iterable: I) -> Result<Vec<F::Output>, Error>
    where
        F: Target<(T,)>,
        T: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = T>,
    {
        Pool::map(self, f, iterable)
    }

    fn map_chunked<F, T, I>(
        &self,
        f: F,
        iterable: I,
        chunksize: usize,
    ) -> Result<Vec<F::Output>, Error>
    where
        F: Target<(T,)>,
        T: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = T>,
    {
        Pool::map_chunked(self, f, iterable, chunksize)
    }

    fn map_async<F, T, I>(&self, f: F, iterable: I) -> AsyncResult<Vec<F::Output>>
    where
        F: Target<(T,)>,
        T: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = T>,
    {
        Pool::map_async(self, f, iterable)
    }

    fn starmap<F, A, I>(&self, f: F, iterable: I) -> Result<Vec<F::Output>, Error>
    where
        F: Target<A>,
        A: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = A>,
    {
        Pool::starmap(self, f, iterable)
    }

    fn starmap_async<F, A, I>(&self, f: F, iterable: I) -> AsyncResult<Vec<F::Output>>
    where
        F: Target<A>,
        A: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = A>,
    {
        Pool::starmap_async(self, f, iterable)
    }

    fn starmap_chunked<F, A, I>(
        &self,
        f: F,
        iterable: I,
        chunksize: usize,
    ) -> Result<Vec<F::Output>, Error>
    where
        F: Target<A>,
        A: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = A>,
    {
        Pool::starmap_chunked(self, f, iterable, chunksize)
    }

    fn imap<F, T, I>(&self, f: F, iterable: I) -> IMap<F::Output>
    where
        F: Target<(T,)>,
        T: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
    {
        Pool::imap(self, f, iterable)
    }

    fn imap_unordered<F, T, I>(&self, f: F, iterable: I) -> IMap<F::Output>
    where
        F: Target<(T,)>,
        T: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
    {
        Pool::imap_unordered(self, f, iterable)
    }

    fn close(&self) {
        Pool::close(self);
    }

    fn terminate(&self) {
        Pool::terminate(self);
    }

    fn join(&self) -> Result<(), Error> {
        Pool::join(self)
    }
}
