//! The backend-generic pool API: [`PoolApi`] and [`AsyncResultApi`], implemented here
//! by [`Pool`] and by `multiproc_mpi::Pool` (a pool whose workers are MPI ranks), so
//! that code written against the traits runs unchanged on either backend.

use std::time::Duration;

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

    crate::__pool_methods! {
        (Self::AsyncResult) (Self::IMap)

        /// `f(*args)` in a worker, waiting for the result (CPython's `apply`).
        ///
        /// # Errors
        /// Why the task produced no value.
        fn apply(self, f, args);

        /// Asynchronous [`apply`](Self::apply).
        fn apply_async(self, f, args);

        /// `f(x)` for every item, in order, with the backend's default chunking.
        ///
        /// # Errors
        /// The first failing item's error, after every chunk is done.
        fn map(self, f, iterable);

        /// [`map`](Self::map) with `chunksize` items per task.
        ///
        /// # Errors
        /// As [`map`](Self::map); [`Error::InvalidArgument`] for a zero chunk size.
        fn map_chunked(self, f, iterable, chunksize);

        /// Asynchronous [`map`](Self::map).
        fn map_async(self, f, iterable);

        /// `f(a, b, …)` for every argument tuple, in order.
        ///
        /// # Errors
        /// As [`map`](Self::map).
        fn starmap(self, f, iterable);

        /// Asynchronous [`starmap`](Self::starmap).
        fn starmap_async(self, f, iterable);

        /// [`starmap`](Self::starmap) with `chunksize` tuples per task.
        ///
        /// # Errors
        /// As [`map_chunked`](Self::map_chunked).
        fn starmap_chunked(self, f, iterable, chunksize);

        /// Lazy, ordered results of `f(x)` (one item per task).
        fn imap(self, f, iterable);

        /// Lazy results of `f(x)` in completion order.
        fn imap_unordered(self, f, iterable);
    }

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
/// method to the backend's inherent method of the same name and signature (the
/// signatures that take a task come from [`__pool_methods!`](crate::__pool_methods), as
/// the trait's and the inherent methods' do). Used by this crate for [`Pool`] and by `multiproc-mpi` for its pool;
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
            $crate::__pool_methods! {
                @forward $pool, ($async_result) ($imap)
                apply(self, f, args)
                apply_async(self, f, args)
                map(self, f, iterable)
                map_chunked(self, f, iterable, chunksize)
                map_async(self, f, iterable)
                starmap(self, f, iterable)
                starmap_async(self, f, iterable)
                starmap_chunked(self, f, iterable, chunksize)
                imap(self, f, iterable)
                imap_unordered(self, f, iterable)
            }
        }
    };
}

/// Writes methods of the pool API with the signatures they have on every backend, so
/// that each signature exists once, here: an entry names a method and its parameters
/// (`fn map(self, f, iterable)`: `self` too, for the body to use) and gives its
/// attributes, visibility and body (a block, or `;` in a trait); the macro adds the
/// generics, parameter types, bounds and return type. The first two token trees name the
/// backend's result and iterator types: `(AsyncResult) (IMap)`, `(Self::AsyncResult)
/// (Self::IMap)` in [`PoolApi`]. `@forward Pool, (AsyncResult) (IMap)` followed by
/// `name(self, args…)` entries writes bodies that call the inherent method of that name.
/// Used for [`PoolApi`], the inherent methods of [`Pool`] and of `multiproc_mpi::Pool`,
/// and [`__forward_pool_api!`](crate::__forward_pool_api); the calling crate depends on
/// `multiproc-process` and `serde`. Not a stable API.
///
/// ```
/// // What `Pool::map` is made of: a signature from here, a body from the pool.
/// use multiproc_pool::{Pool, PoolApi};
/// fn double(x: u8) -> u8 { x * 2 }
/// let pool = Pool::new(1)?;
/// assert_eq!(pool.map(double, [1, 2])?, PoolApi::map(&pool, double, [1, 2])?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! __pool_methods {
    (@forward $pool:ty, $ar:tt $im:tt $($name:ident($s:ident $(, $a:ident)*))*) => {
        $crate::__pool_methods! {
            $ar $im $(fn $name($s $(, $a)*) { <$pool>::$name($s $(, $a)*) })*
        }
    };
    // Each method by name: its family (`@one` call, `@items` mapped, `@star` over
    // argument tuples, `@lazy`, `@lazy_ref` over borrowed input) and what it returns.
    (@sig apply $($x:tt)*) => { $crate::__pool_methods!(@one [value] $($x)*); };
    (@sig apply_async $($x:tt)*) => { $crate::__pool_methods!(@one [later] $($x)*); };
    (@sig map $($x:tt)*) => { $crate::__pool_methods!(@items [values] $($x)*); };
    (@sig map_chunked $($x:tt)*) => { $crate::__pool_methods!(@items [values] $($x)*); };
    (@sig map_async $($x:tt)*) => { $crate::__pool_methods!(@items [later_values] $($x)*); };
    (@sig map_async_chunked $($x:tt)*) => {
        $crate::__pool_methods!(@items [later_values] $($x)*);
    };
    (@sig starmap $($x:tt)*) => { $crate::__pool_methods!(@star [values] $($x)*); };
    (@sig starmap_chunked $($x:tt)*) => { $crate::__pool_methods!(@star [values] $($x)*); };
    (@sig starmap_async $($x:tt)*) => { $crate::__pool_methods!(@star [later_values] $($x)*); };
    (@sig starmap_async_chunked $($x:tt)*) => {
        $crate::__pool_methods!(@star [later_values] $($x)*);
    };
    (@sig imap $($x:tt)*) => { $crate::__pool_methods!(@lazy $($x)*); };
    (@sig imap_unordered $($x:tt)*) => { $crate::__pool_methods!(@lazy $($x)*); };
    (@sig imap_ref $($x:tt)*) => { $crate::__pool_methods!(@lazy_ref [lazy_ref] $($x)*); };
    (@sig imap_unordered_ref $($x:tt)*) => {
        $crate::__pool_methods!(@lazy_ref [lazy_ref] $($x)*);
    };
    // The return types (a type macro: rustdoc shows what it expands to).
    (@ret value $ar:tt $im:tt) => { ::std::result::Result<F::Output, $crate::Error> };
    (@ret values $ar:tt $im:tt) => { ::std::result::Result<Vec<F::Output>, $crate::Error> };
    (@ret later ($($ar:tt)*) $im:tt) => { $($ar)*<F::Output> };
    (@ret later_values ($($ar:tt)*) $im:tt) => { $($ar)*<Vec<F::Output>> };
    (@ret lazy $ar:tt ($($im:tt)*)) => { $($im)*<F::Output> };
    (@ret lazy_ref $ar:tt $im:tt) => { $crate::IMapRef<'a, F::Output> };
    // The families: generics, parameter types, bounds (`I::IntoIter: Send` for the lazy).
    (@one $k:tt $h:tt ($s:ident, $f:ident, $x:ident) $($rb:tt)*) => {
        $crate::__pool_methods!(@fn $h [F, A] ($s, $f: F, $x: A) [
            F: ::multiproc_process::Target<A>,
            A: ::serde::Serialize + ::serde::de::DeserializeOwned + Send + 'static,
        ] $k $($rb)*);
    };
    (@lazy $($x:tt)*) => {
        $crate::__pool_methods!(@items [lazy] $($x)* [I::IntoIter: Send + 'static,]);
    };
    (@items $k:tt $h:tt ($s:ident, $f:ident, $i:ident $(, $c:ident)?) $ar:tt $im:tt $b:tt
        $([$($more:tt)*])?) => {
        $crate::__pool_methods!(@fn $h [F, T, I] ($s, $f: F, $i: I $(, $c: usize)?) [
            F: ::multiproc_process::Target<(T,)>,
            T: ::serde::Serialize + ::serde::de::DeserializeOwned + Send + 'static,
            I: IntoIterator<Item = T>,
            $($($more)*)?
        ] $k $ar $im $b);
    };
    (@star $k:tt $h:tt ($s:ident, $f:ident, $i:ident $(, $c:ident)?) $($rb:tt)*) => {
        $crate::__pool_methods!(@fn $h [F, A, I] ($s, $f: F, $i: I $(, $c: usize)?) [
            F: ::multiproc_process::Target<A>,
            A: ::serde::Serialize + ::serde::de::DeserializeOwned + Send + 'static,
            I: IntoIterator<Item = A>,
        ] $k $($rb)*);
    };
    (@lazy_ref $k:tt $h:tt ($s:ident, $f:ident, $i:ident) $($rb:tt)*) => {
        $crate::__pool_methods!(@fn $h ['a, F, T, I] ($s, $f: F, $i: I) [
            F: ::multiproc_process::Target<(T,)>,
            T: ::serde::Serialize + ::serde::de::DeserializeOwned + Send + 'static,
            I: IntoIterator<Item = &'a T>,
            I::IntoIter: Send + 'a,
        ] $k $($rb)*);
    };
    // The method: `[[attributes] [visibility] name] [generics] (parameters) [bounds]
    // [return kind] (result type) (iterator type) body`.
    (@fn [[$(#[$m:meta])*] [$v:vis] $name:ident] [$($g:tt)*] ($s:ident $(, $p:ident: $t:ty)*)
        [$($w:tt)*] [$k:ident] $ar:tt $im:tt $b:tt) => {
        $(#[$m])*
        $v fn $name<$($g)*>(&$s $(, $p: $t)*) -> $crate::__pool_methods!(@ret $k $ar $im)
        where
            $($w)*
        $b
    };
    ($ar:tt $im:tt $($(#[$m:meta])* $v:vis fn $name:ident $p:tt $b:tt)*) => {
        $($crate::__pool_methods!(@sig $name [[$(#[$m])*] [$v] $name] $p $ar $im $b);)*
    };
}

mod forward {
    use crate::{AsyncResult, IMap, Pool};
    crate::__forward_pool_api!(Pool, AsyncResult, IMap);
}
