//! A multiproc [`Pool`] whose workers are MPI ranks, on one machine or across hosts:
//! the local pool's API ([`multiproc_pool::PoolApi`]), with every rank running the same
//! program, under `mpirun`, `mpiexec` or Slurm's `srun`.
//!
//! ```no_run
//! fn f(x: i64) -> i64 { x * x }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // Rank 0 returns a pool; ranks 1.. serve its tasks and exit when it closes.
//!     let pool = multiproc_mpi::init()?;
//!     assert_eq!(pool.map(f, [1, 2, 3])?, [1, 4, 9]);
//!     pool.close();
//!     pool.join()?;
//!     Ok(())
//! }
//! ```
//! `mpirun -np 4 target/release/prog` runs it on 4 ranks (rank 0 and 3 workers); as root
//! add `--allow-run-as-root`, with more ranks than cores `--oversubscribe --mca
//! mpi_yield_when_idle 1`.
//!
//! # Model
//!
//! A task is a `fn` item or non-capturing closure with serde arguments, exactly as in
//! `multiproc-pool`: it travels as an [`Invoker`](multiproc_process::invoke::Invoker),
//! an offset into the executable that every rank runs, so a worker on another host
//! finds the function the way a Spawn child does. [`init`] must be the first thing
//! `main` does: on ranks 1.. it never returns (the rank serves tasks, then exits 0).
//!
//! At start-up every rank sends rank 0 a fingerprint of its executable's contents
//! ([`ExeId`]); if one differs (a stale build on one host, another program in an MPMD
//! launch), every rank is refused with a message naming the rank, and [`init`] returns
//! [`InitError::ExecutableMismatch`] on rank 0.
//!
//! Rank 0 keeps about 4 ms of work queued on each worker (measured per worker, at most
//! [`Builder::window`] chunks): tiny tasks are pipelined, long ones not hoarded. Tasks
//! are chunked like the local pool's (`map`: `ceil(len / (4 × workers))` items per
//! chunk). At debug level, rank 0 traces which rank ran each chunk (`tracing`).
//!
//! # Without MPI
//!
//! [`init`] runs a **single-rank pool on local processes** (a
//! [`multiproc_pool::Pool`] of [`Builder::local_processes`] workers, default one per
//! CPU) when the crate is built without the `openmpi` feature, when the program was not
//! started by an MPI launcher (no `OMPI_COMM_WORLD_SIZE`, `PMIX_RANK`, `PMI_RANK` or
//! `PMI_SIZE` in the environment: MPI is then not initialized at all), or when it runs
//! as a single rank. [`Pool::is_mpi`] says which. So the same program runs as
//! `cargo run`, under `mpirun` on a laptop, and across hosts.
//!
//! # Failure, and what the local pool promises that this one cannot
//!
//! * A task that panics is [`Error::Panicked`] with the message, as locally; the rank
//!   carries on.
//! * A rank that dies (killed, crashed, `exit` in a task) ends the **whole job**: MPI
//!   has no recovery (no fault-tolerance binding in rsmpi), so `mpirun` prints which
//!   rank died and how, kills every rank, rank 0 included, and exits non-zero within
//!   seconds. The local pool instead fails the one task with
//!   [`Error::WorkerDied`], starts a replacement and
//!   carries on; here no call returns that error.
//! * [`Pool::terminate`] resolves every pending result to [`Error::Terminated`] at
//!   once, but cannot kill a busy worker rank: the tasks already sent run to their end
//!   (results dropped), and [`Pool::join`] waits for them. There is no
//!   `maxtasksperchild` (a rank cannot be replaced) and no initializer.
//! * Arguments and results carrying descriptors or shared memory
//!   ([`multiproc_ipc::PassFd`], a `Lock`, a `Queue`) are refused with
//!   [`Error::Encode`]: they cannot cross hosts.
//! * One pool per run: dropping it (which terminates it, like the local pool) finalizes
//!   MPI; drop it on the thread that called [`init`].
//!
//! # Platform support
//! Linux (`/proc/self/exe`, and the local pool's pidfds), with an MPI library that
//! provides `MPI_THREAD_MULTIPLE` (OpenMPI 4.1 as packaged by Debian does) for the
//! `openmpi` feature. Tested with OpenMPI's `mpirun`; `srun` and MPICH's `mpiexec`
//! are recognised by their PMI/PMIx environment but not tested here.
//!
//! # Limitations
//! * Tasks that name files (the seeds' word count) need those files at the same path
//!   on every host (a shared file system): only the task's arguments travel.
//! * Result callbacks run on rank 0's receiving thread: a slow callback delays the
//!   results behind it.
//! * Nothing is left behind on any rank when the job ends (MPI tears every rank down);
//!   OpenMPI's own session files under `/tmp` are its business.
//! * The executable check reads the whole executable once per rank at start-up.
#![doc(test(attr(deny(warnings))))]
#![forbid(unsafe_code)]

mod identity;
#[cfg(any(feature = "openmpi", test))]
mod job;
#[cfg(feature = "openmpi")]
mod remote;
#[cfg(any(feature = "openmpi", test))]
mod wire;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use multiproc_process::Target;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use identity::ExeId;
pub use multiproc_pool::{AsyncResultApi, Error, PoolApi};

/// Why [`init`] could not give a pool.
///
/// ```
/// use multiproc_mpi::InitError;
/// let pool = match multiproc_mpi::builder().local_processes(1).init() {
///     Ok(pool) => pool,
///     Err(e @ InitError::ExecutableMismatch { .. }) => return Err(e.into()), // a stale build somewhere
///     Err(e) => return Err(e.into()),
/// };
/// assert!(!pool.is_mpi());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum InitError {
    /// MPI could not be initialized as the pool needs.
    Mpi(String),
    /// The running executable could not be read to fingerprint it.
    Identity(Arc<std::io::Error>),
    /// A rank runs another executable than rank 0 (every rank was refused).
    ExecutableMismatch {
        /// The first rank found different.
        rank: usize,
        /// Rank 0's executable.
        expected: ExeId,
        /// That rank's executable.
        found: ExeId,
    },
    /// The local pool (single-rank mode) could not start.
    Local(Error),
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::Mpi(m) => write!(f, "mpi initialization failed: {m}"),
            InitError::Identity(_) => write!(f, "cannot read the running executable"),
            InitError::ExecutableMismatch {
                rank,
                expected,
                found,
            } => write!(
                f,
                "rank {rank} runs a different executable than rank 0 (rank 0: {expected}, \
                 rank {rank}: {found}); every rank must run the same build of the same program"
            ),
            InitError::Local(_) => write!(f, "cannot start the local pool"),
        }
    }
}

impl std::error::Error for InitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InitError::Identity(e) => Some(&**e),
            InitError::Local(e) => Some(e),
            _ => None,
        }
    }
}

/// Configures [`init`].
///
/// ```
/// // Not under mpirun here: a local pool of 2 processes.
/// let pool = multiproc_mpi::builder().local_processes(2).window(16).init()?;
/// assert!(!pool.is_mpi());
/// fn twice(x: u8) -> u8 { 2 * x }
/// assert_eq!(pool.map(twice, [1, 2])?, [2, 4]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until init()"]
pub struct Builder {
    local_processes: Option<usize>,
    window: usize,
}

/// A [`Builder`] with the defaults.
///
/// ```
/// let pool = multiproc_mpi::builder().local_processes(2).init()?;
/// assert_eq!(pool.processes(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn builder() -> Builder {
    Builder {
        local_processes: None,
        window: 64,
    }
}

/// [`builder()`]`.init()`: rank 0 gets the pool, ranks 1.. serve it and exit.
///
/// # Errors
/// As [`Builder::init`].
///
/// ```
/// fn inc(x: u8) -> u8 { x + 1 }
/// // First thing in `main`: ranks 1.. never return from it. Here, not under mpirun: local.
/// let pool = multiproc_mpi::init()?;
/// assert_eq!(pool.map(inc, [1])?, [2]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn init() -> Result<Pool, InitError> {
    builder().init()
}

impl Builder {
    /// Workers of the local pool used in single-rank mode (default: one per CPU).
    ///
    /// ```
    /// let pool = multiproc_mpi::builder().local_processes(3).init()?;
    /// assert_eq!(pool.processes(), 3); // single-rank mode: three local workers
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn local_processes(mut self, n: usize) -> Self {
        self.local_processes = Some(n);
        self
    }

    /// The most chunks queued on one worker rank (default 64; 0 is taken as 1).
    ///
    /// ```
    /// fn inc(x: u8) -> u8 { x + 1 }
    /// let pool = multiproc_mpi::builder().local_processes(1).window(4).init()?;
    /// assert_eq!(pool.map(inc, [1, 2])?, [2, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn window(mut self, n: usize) -> Self {
        self.window = n.max(1);
        self
    }

    /// Starts the pool. Under an MPI launcher with more than one rank: initializes MPI,
    /// checks every rank's executable, and on ranks 1.. serves tasks until rank 0's
    /// pool closes, then exits the process (never returns). Otherwise a local pool.
    ///
    /// # Errors
    /// [`InitError::ExecutableMismatch`], [`InitError::Mpi`], [`InitError::Identity`];
    /// [`InitError::Local`] in single-rank mode.
    ///
    /// ```
    /// let pool = multiproc_mpi::builder().local_processes(1).init()?;
    /// assert!(!pool.is_mpi());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn init(self) -> Result<Pool, InitError> {
        #[cfg(feature = "openmpi")]
        if remote::launched_by_mpi() {
            return match remote::start()? {
                remote::Started::Root(universe, size) => {
                    let engine = remote::Engine::start(size, self.window)
                        .map_err(|e| InitError::Mpi(e.to_string()))?;
                    Ok(Pool {
                        inner: Inner::Mpi(engine),
                        universe: Some(universe),
                    })
                }
                remote::Started::Alone(universe) => {
                    let mut pool = self.local()?;
                    pool.universe = Some(universe);
                    Ok(pool)
                }
            };
        }
        self.local()
    }

    fn local(self) -> Result<Pool, InitError> {
        let n = self
            .local_processes
            .unwrap_or_else(multiproc_process::cpu_count);
        let pool = multiproc_pool::Pool::new(n).map_err(InitError::Local)?;
        Ok(Pool {
            inner: Inner::Local(pool),
            #[cfg(feature = "openmpi")]
            universe: None,
        })
    }
}

enum Inner {
    Local(multiproc_pool::Pool),
    #[cfg(feature = "openmpi")]
    Mpi(Arc<remote::Engine>),
}

/// A pool of MPI worker ranks (or, in single-rank mode, of local processes), with the
/// local pool's calls. Made by [`init`]. All methods take `&self`.
///
/// ```
/// use multiproc_mpi::PoolApi;
/// fn add(a: i32, b: i32) -> i32 { a + b }
/// let pool = multiproc_mpi::builder().local_processes(2).init()?;
/// assert_eq!(pool.apply(add, (2, 3))?, 5);
/// assert_eq!(pool.starmap(add, [(1, 2), (3, 4)])?, [3, 7]);
/// let r = pool.apply_async(add, (1, 1)).callback(|v| assert_eq!(*v, 2));
/// assert_eq!(r.get()?, 2);
/// let squares: Vec<i32> = pool.imap(|x: i32| x * x, 0..4).collect::<Result<_, _>>()?;
/// assert_eq!(squares, [0, 1, 4, 9]);
/// pool.close();
/// pool.join()?;
/// assert_eq!(PoolApi::processes(&pool), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Pool {
    inner: Inner,
    // Dropped after `inner`'s engine has stopped: finalizes MPI.
    #[cfg(feature = "openmpi")]
    universe: Option<mpi::environment::Universe>,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("mpi", &self.is_mpi())
            .field("processes", &self.processes())
            .finish_non_exhaustive()
    }
}

/// CPython's default `map` chunk size: `ceil(len / (4 × workers))`.
#[cfg(feature = "openmpi")]
fn default_chunksize(len: usize, workers: usize) -> usize {
    len.div_ceil(4 * workers.max(1)).max(1)
}

/// The pending result of an asynchronous call (CPython's `AsyncResult`).
///
/// ```
/// use std::time::Duration;
/// fn slow(x: u32) -> u32 { x + 1 }
/// let pool = multiproc_mpi::builder().local_processes(1).init()?;
/// let r = pool.apply_async(slow, (1,));
/// r.wait();
/// assert!(r.ready() && r.successful()?);
/// assert_eq!(r.get_timeout(Duration::from_secs(60))?, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct AsyncResult<T>(AsyncInner<T>);

enum AsyncInner<T> {
    Local(multiproc_pool::AsyncResult<T>),
    #[cfg(feature = "openmpi")]
    Remote(job::RemoteResult<T>),
}

impl<T> fmt::Debug for AsyncResult<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncResult")
            .field("ready", &self.ready())
            .finish_non_exhaustive()
    }
}

macro_rules! on_both {
    ($self:expr, $r:ident => $e:expr) => {
        match $self {
            AsyncInner::Local($r) => $e,
            #[cfg(feature = "openmpi")]
            AsyncInner::Remote($r) => $e,
        }
    };
}

impl<T> AsyncResult<T> {
    /// Whether the result has arrived.
    ///
    /// ```
    /// use std::time::Duration;
    /// fn one() -> u8 { 1 }
    /// let pool = multiproc_mpi::builder().local_processes(1).init()?; // a local pool here
    /// let r = pool.apply_async(one, ());
    /// assert!(r.wait_timeout(Duration::from_secs(60)));
    /// assert!(r.ready());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ready(&self) -> bool {
        on_both!(&self.0, r => r.ready())
    }

    /// Whether the call succeeded.
    ///
    /// # Errors
    /// [`Error::NotReady`] before the result arrived.
    ///
    /// ```
    /// fn boom() -> u8 { panic!("boom") }
    /// let pool = multiproc_mpi::builder().local_processes(1).init()?; // a local pool here
    /// let r = pool.apply_async(boom, ());
    /// r.wait();
    /// assert!(!r.successful()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn successful(&self) -> Result<bool, Error> {
        on_both!(&self.0, r => r.successful())
    }

    /// Waits for the result.
    ///
    /// ```
    /// fn one() -> u8 { 1 }
    /// let pool = multiproc_mpi::builder().local_processes(1).init()?; // a local pool here
    /// let r = pool.apply_async(one, ());
    /// r.wait();
    /// assert!(r.ready());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait(&self) {
        on_both!(&self.0, r => r.wait())
    }

    /// Waits at most `timeout`; whether the result arrived.
    ///
    /// ```
    /// use std::time::Duration;
    /// fn one() -> u8 { 1 }
    /// let pool = multiproc_mpi::builder().local_processes(1).init()?; // a local pool here
    /// let r = pool.apply_async(one, ());
    /// assert!(r.wait_timeout(Duration::from_secs(60)));
    /// assert_eq!(r.get()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        on_both!(&self.0, r => r.wait_timeout(timeout))
    }

    /// Waits for the result.
    ///
    /// # Errors
    /// Why the call produced no value.
    ///
    /// ```
    /// fn add(a: u8, b: u8) -> u8 { a + b }
    /// let pool = multiproc_mpi::builder().local_processes(1).init()?; // a local pool here
    /// assert_eq!(pool.apply_async(add, (1, 2)).get()?, 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(self) -> Result<T, Error> {
        on_both!(self.0, r => r.get())
    }

    /// [`get`](Self::get) with a bound. It borrows the handle, so a timed-out wait
    /// can be retried (the call itself goes on; see [`cancel`](Self::cancel)); the
    /// value is handed out once.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_mpi::Error;
    /// fn slow(ms: u64) -> u64 { std::thread::sleep(Duration::from_millis(ms)); ms }
    /// let pool = multiproc_mpi::builder().local_processes(1).init()?;
    /// let r = pool.apply_async(slow, (300,));
    /// let v = match r.get_timeout(Duration::from_millis(1)) {
    ///     Ok(v) => v, // a very fast worker
    ///     Err(Error::Timeout) => r.get_timeout(Duration::from_secs(60))?, // retry
    ///     Err(e) => return Err(e.into()),
    /// };
    /// assert_eq!(v, 300);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`get`](Self::get); [`Error::Timeout`] (still pending, call again) and
    /// [`Error::AlreadyTaken`] (an earlier call returned the outcome).
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, Error> {
        on_both!(&self.0, r => r.get_timeout(timeout))
    }

    /// Gives up on the call: its queued chunks are dropped (chunks already on a worker
    /// run to their end, their results ignored) and it resolves to
    /// [`Error::Cancelled`]; `false` when the result was already in.
    ///
    /// ```
    /// use std::time::Duration;
    /// fn one() -> u8 { 1 }
    /// let pool = multiproc_mpi::builder().local_processes(1).init()?; // a local pool here
    /// let r = pool.apply_async(one, ());
    /// assert!(r.wait_timeout(Duration::from_secs(60)));
    /// assert!(!r.cancel()); // already done: nothing to cancel
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cancel(&self) -> bool {
        on_both!(&self.0, r => r.cancel())
    }

    /// Calls `f` with the value when it arrives (on rank 0's receiving thread); a
    /// panicking callback makes the result [`Error::Callback`].
    ///
    /// ```
    /// # use std::time::Duration;
    /// use std::sync::mpsc;
    /// fn one() -> u8 { 1 }
    /// let pool = multiproc_mpi::builder().local_processes(1).init()?; // a local pool here
    /// let (tx, rx) = mpsc::channel();
    /// let r = pool.apply_async(one, ()).callback(move |v| {
    ///     let _ = tx.send(*v);
    /// });
    /// assert_eq!(r.get()?, 1);
    /// assert_eq!(rx.recv_timeout(Duration::from_secs(60))?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn callback(self, f: impl FnOnce(&T) + Send + 'static) -> Self {
        AsyncResult(match self.0 {
            AsyncInner::Local(r) => AsyncInner::Local(r.callback(f)),
            #[cfg(feature = "openmpi")]
            AsyncInner::Remote(r) => AsyncInner::Remote(r.callback(f)),
        })
    }

    /// Calls `f` with the error when the call fails.
    ///
    /// ```
    /// # use std::time::Duration;
    /// use std::sync::mpsc;
    /// fn boom() -> u8 { panic!("boom") }
    /// let pool = multiproc_mpi::builder().local_processes(1).init()?; // a local pool here
    /// let (tx, rx) = mpsc::channel();
    /// let r = pool.apply_async(boom, ()).error_callback(move |e| {
    ///     let _ = tx.send(e.to_string());
    /// });
    /// assert!(r.get().is_err());
    /// assert!(rx.recv_timeout(Duration::from_secs(60)).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn error_callback(self, f: impl FnOnce(&Error) + Send + 'static) -> Self {
        AsyncResult(match self.0 {
            AsyncInner::Local(r) => AsyncInner::Local(r.error_callback(f)),
            #[cfg(feature = "openmpi")]
            AsyncInner::Remote(r) => AsyncInner::Remote(r.error_callback(f)),
        })
    }
}

/// Lazy results of [`Pool::imap`]/[`Pool::imap_unordered`]: input is pulled and sent
/// a bounded number of chunks ahead of the consumer.
///
/// ```
/// fn inc(x: u64) -> u64 { x + 1 }
/// let pool = multiproc_mpi::builder().local_processes(2).init()?;
/// let mut got: Vec<u64> = pool.imap_unordered(inc, 0..10).collect::<Result<_, _>>()?;
/// got.sort();
/// assert_eq!(got, (1..11).collect::<Vec<_>>());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct IMap<R>(IMapInner<R>);

enum IMapInner<R> {
    Local(multiproc_pool::IMap<R>),
    #[cfg(feature = "openmpi")]
    Remote(remote_imap::RemoteIMap<R>),
}

impl<R> fmt::Debug for IMap<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IMap").finish_non_exhaustive()
    }
}

impl<R: DeserializeOwned + Send + 'static> IMap<R> {
    /// Items per task (default 1; 0 is taken as 1). Set it before iterating.
    ///
    /// ```
    /// fn sq(x: u64) -> u64 { x * x }
    /// let pool = multiproc_mpi::builder().local_processes(1).init()?; // a local pool here
    /// let out: Vec<u64> = pool.imap(sq, 0..50).chunksize(10).collect::<Result<_, _>>()?;
    /// assert_eq!(out[7], 49);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use = "the iterator is returned for chaining"]
    pub fn chunksize(self, chunksize: usize) -> Self {
        IMap(match self.0 {
            IMapInner::Local(m) => IMapInner::Local(m.chunksize(chunksize)),
            #[cfg(feature = "openmpi")]
            IMapInner::Remote(m) => IMapInner::Remote(m.chunksize(chunksize)),
        })
    }
}

impl<R: DeserializeOwned + Send + 'static> IMap<R> {
    /// The next result, waiting at most `timeout` (CPython's `next(timeout)`):
    /// `Some(Err(Error::Timeout))` when none arrived in time — the iterator stays
    /// usable — and `None` at the end.
    ///
    /// ```
    /// use std::time::Duration;
    /// fn sq(x: u64) -> u64 { x * x }
    /// let pool = multiproc_mpi::builder().local_processes(1).init()?; // a local pool here
    /// let mut it = pool.imap(sq, [3]);
    /// assert_eq!(it.next_timeout(Duration::from_secs(60)).transpose()?, Some(9));
    /// assert!(it.next_timeout(Duration::from_secs(60)).is_none()); // exhausted
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<Result<R, Error>> {
        match &mut self.0 {
            IMapInner::Local(m) => m.next_timeout(timeout),
            #[cfg(feature = "openmpi")]
            IMapInner::Remote(m) => m.next_until(std::time::Instant::now().checked_add(timeout)),
        }
    }
}

impl<R: DeserializeOwned + Send + 'static> Iterator for IMap<R> {
    type Item = Result<R, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IMapInner::Local(m) => m.next(),
            #[cfg(feature = "openmpi")]
            IMapInner::Remote(m) => m.next_until(None),
        }
    }
}

#[cfg(feature = "openmpi")]
mod remote_imap;

impl Pool {
    /// Whether tasks run on MPI worker ranks (`false`: single-rank mode, a local pool).
    ///
    /// ```
    /// let pool = multiproc_mpi::builder().local_processes(1).init()?; // a local pool here
    /// assert!(!pool.is_mpi()); // not started by mpirun
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_mpi(&self) -> bool {
        match &self.inner {
            Inner::Local(_) => false,
            #[cfg(feature = "openmpi")]
            Inner::Mpi(_) => true,
        }
    }

    /// How many workers run tasks: worker ranks, or local processes.
    ///
    /// ```
    /// let pool = multiproc_mpi::builder().local_processes(2).init()?;
    /// assert_eq!(pool.processes(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn processes(&self) -> usize {
        match &self.inner {
            Inner::Local(p) => p.processes(),
            #[cfg(feature = "openmpi")]
            Inner::Mpi(e) => e.workers(),
        }
    }

    #[cfg(feature = "openmpi")]
    fn submit_remote<F, A, T>(
        engine: &remote::Engine,
        f: F,
        items: Vec<A>,
        chunksize: usize,
        finish: fn(Vec<F::Output>) -> Result<T, Error>,
    ) -> AsyncResult<T>
    where
        F: Target<A>,
        A: Serialize + DeserializeOwned + Send + 'static,
        T: Send + 'static,
    {
        let remote = |r| AsyncResult(AsyncInner::Remote(r));
        if chunksize == 0 {
            return remote(job::RemoteResult::failed(Error::InvalidArgument(
                "chunksize must be at least 1",
            )));
        }
        let invoker = match multiproc_process::invoke::Invoker::of(f) {
            Ok(i) => i,
            Err(e) => return remote(job::RemoteResult::failed(e.into())),
        };
        let mut chunks = Vec::new();
        for c in items.chunks(chunksize) {
            match wire::encode_plain(c) {
                Ok(bytes) => chunks.push((bytes, c.len())),
                Err(e) => return remote(job::RemoteResult::failed(Error::Encode(e))),
            }
        }
        let cell = job::Cell::new();
        let sink = Arc::new(job::MapJob::<F::Output, T>::new(
            chunks.iter().map(|c| c.1).collect(),
            finish,
            cell.clone(),
        ));
        if chunks.is_empty() {
            sink.finish_empty();
            return remote(job::RemoteResult::new(cell));
        }
        let id = engine.new_job();
        let sink_dyn: Arc<dyn job::Sink> = sink;
        let tasks = chunks
            .into_iter()
            .enumerate()
            .map(|(i, (args, len))| remote::Task {
                job: id,
                chunk: i as u32,
                invoker,
                args,
                len,
                sink: sink_dyn.clone(),
            })
            .collect();
        engine.submit(tasks, false);
        remote(job::RemoteResult::new(cell))
    }

    fn imap_inner<F, T, I>(&self, f: F, iterable: I, ordered: bool) -> IMap<F::Output>
    where
        F: Target<(T,)>,
        T: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
    {
        match &self.inner {
            Inner::Local(p) => IMap(IMapInner::Local(if ordered {
                p.imap(f, iterable)
            } else {
                p.imap_unordered(f, iterable)
            })),
            #[cfg(feature = "openmpi")]
            Inner::Mpi(e) => IMap(IMapInner::Remote(remote_imap::RemoteIMap::new(
                e.clone(),
                f,
                iterable.into_iter(),
                ordered,
            ))),
        }
    }

    multiproc_pool::__pool_methods! {
        (AsyncResult) (IMap)

        /// `f(*args)` on a worker (CPython's `apply`).
        ///
        /// # Errors
        /// Why the task produced no value ([`Error::Panicked`], [`Error::Encode`], …).
        ///
        /// ```
        /// fn add(a: i32, b: i32) -> i32 { a + b }
        /// let pool = multiproc_mpi::builder().local_processes(1).init()?; // a local pool here
        /// assert_eq!(pool.apply(add, (2, 3))?, 5);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn apply(self, f, args) {
            self.apply_async(f, args).get()
        }

        /// Asynchronous [`apply`](Self::apply).
        ///
        /// ```
        /// fn add(a: i32, b: i32) -> i32 { a + b }
        /// let pool = multiproc_mpi::builder().local_processes(1).init()?; // a local pool here
        /// assert_eq!(pool.apply_async(add, (2, 3)).get()?, 5);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn apply_async(self, f, args) {
            match &self.inner {
                Inner::Local(p) => AsyncResult(AsyncInner::Local(p.apply_async(f, args))),
                #[cfg(feature = "openmpi")]
                Inner::Mpi(e) => Self::submit_remote(e, f, vec![args], 1, |mut v| {
                    v.pop().ok_or(Error::Decode("no result".into()))
                }),
            }
        }

        /// `f(x)` for every item, in order (CPython's `map`), `ceil(len / (4 × workers))`
        /// items per task.
        ///
        /// # Errors
        /// The first failing item's error, after every chunk is done.
        ///
        /// ```
        /// fn sq(x: i64) -> i64 { x * x }
        /// let pool = multiproc_mpi::builder().local_processes(1).init()?; // a local pool here
        /// assert_eq!(pool.map(sq, [1, 2, 3])?, [1, 4, 9]);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn map(self, f, iterable) {
            self.map_async(f, iterable).get()
        }

        /// [`map`](Self::map) with `chunksize` items per task.
        ///
        /// # Errors
        /// As [`map`](Self::map); [`Error::InvalidArgument`] for 0.
        ///
        /// ```
        /// fn sq(x: i64) -> i64 { x * x }
        /// let pool = multiproc_mpi::builder().local_processes(1).init()?; // a local pool here
        /// assert_eq!(pool.map_chunked(sq, [1, 2, 3], 2)?, [1, 4, 9]);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn map_chunked(self, f, iterable, chunksize) {
            self.map_async_chunked(f, iterable, chunksize).get()
        }

        /// Asynchronous [`map`](Self::map).
        ///
        /// ```
        /// fn sq(x: i64) -> i64 { x * x }
        /// let pool = multiproc_mpi::builder().local_processes(1).init()?; // a local pool here
        /// assert_eq!(pool.map_async(sq, [1, 2]).get()?, [1, 4]);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn map_async(self, f, iterable) {
            match &self.inner {
                Inner::Local(p) => AsyncResult(AsyncInner::Local(p.map_async(f, iterable))),
                #[cfg(feature = "openmpi")]
                Inner::Mpi(e) => {
                    let items: Vec<(T,)> = iterable.into_iter().map(|x| (x,)).collect();
                    let cs = default_chunksize(items.len(), e.workers());
                    Self::submit_remote(e, f, items, cs, Ok)
                }
            }
        }

        /// Asynchronous [`map_chunked`](Self::map_chunked).
        ///
        /// ```
        /// fn sq(x: i64) -> i64 { x * x }
        /// let pool = multiproc_mpi::builder().local_processes(1).init()?; // a local pool here
        /// assert_eq!(pool.map_async_chunked(sq, [1, 2, 3], 2).get()?, [1, 4, 9]);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn map_async_chunked(self, f, iterable, chunksize) {
            match &self.inner {
                Inner::Local(p) => AsyncResult(AsyncInner::Local(
                    p.map_async_chunked(f, iterable, chunksize),
                )),
                #[cfg(feature = "openmpi")]
                Inner::Mpi(e) => {
                    let items: Vec<(T,)> = iterable.into_iter().map(|x| (x,)).collect();
                    Self::submit_remote(e, f, items, chunksize, Ok)
                }
            }
        }

        /// `f(a, b, …)` for every argument tuple, in order (CPython's `starmap`).
        ///
        /// # Errors
        /// As [`map`](Self::map).
        ///
        /// ```
        /// fn add(a: i32, b: i32) -> i32 { a + b }
        /// let pool = multiproc_mpi::builder().local_processes(1).init()?; // a local pool here
        /// assert_eq!(pool.starmap(add, [(1, 2), (3, 4)])?, [3, 7]);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn starmap(self, f, iterable) {
            self.starmap_async(f, iterable).get()
        }

        /// [`starmap`](Self::starmap) with `chunksize` tuples per task.
        ///
        /// # Errors
        /// As [`map_chunked`](Self::map_chunked).
        ///
        /// ```
        /// fn add(a: i32, b: i32) -> i32 { a + b }
        /// let pool = multiproc_mpi::builder().local_processes(1).init()?; // a local pool here
        /// assert_eq!(pool.starmap_chunked(add, [(1, 2), (3, 4)], 1)?, [3, 7]);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn starmap_chunked(self, f, iterable, chunksize) {
            self.starmap_async_chunked(f, iterable, chunksize).get()
        }

        /// Asynchronous [`starmap`](Self::starmap).
        ///
        /// ```
        /// fn add(a: i32, b: i32) -> i32 { a + b }
        /// let pool = multiproc_mpi::builder().local_processes(1).init()?; // a local pool here
        /// assert_eq!(pool.starmap_async(add, [(1, 2)]).get()?, [3]);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn starmap_async(self, f, iterable) {
            match &self.inner {
                Inner::Local(p) => AsyncResult(AsyncInner::Local(p.starmap_async(f, iterable))),
                #[cfg(feature = "openmpi")]
                Inner::Mpi(e) => {
                    let items: Vec<A> = iterable.into_iter().collect();
                    let cs = default_chunksize(items.len(), e.workers());
                    Self::submit_remote(e, f, items, cs, Ok)
                }
            }
        }

        /// Asynchronous [`starmap_chunked`](Self::starmap_chunked).
        ///
        /// ```
        /// fn add(a: i32, b: i32) -> i32 { a + b }
        /// let pool = multiproc_mpi::builder().local_processes(1).init()?; // a local pool here
        /// assert_eq!(pool.starmap_async_chunked(add, [(1, 2), (3, 4)], 1).get()?, [3, 7]);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn starmap_async_chunked(self, f, iterable, chunksize) {
            match &self.inner {
                Inner::Local(p) => AsyncResult(AsyncInner::Local(
                    p.starmap_async_chunked(f, iterable, chunksize),
                )),
                #[cfg(feature = "openmpi")]
                Inner::Mpi(e) => {
                    let items: Vec<A> = iterable.into_iter().collect();
                    Self::submit_remote(e, f, items, chunksize, Ok)
                }
            }
        }

        /// Lazy, ordered results of `f(x)` (CPython's `imap`; one item per task unless
        /// [`IMap::chunksize`]).
        ///
        /// ```
        /// fn sq(x: u64) -> u64 { x * x }
        /// let pool = multiproc_mpi::builder().local_processes(1).init()?; // a local pool here
        /// let out: Vec<u64> = pool.imap(sq, 1..4).collect::<Result<_, _>>()?;
        /// assert_eq!(out, [1, 4, 9]); // input order
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn imap(self, f, iterable) {
            self.imap_inner(f, iterable, true)
        }

        /// Lazy results of `f(x)` in completion order (CPython's `imap_unordered`).
        ///
        /// ```
        /// fn sq(x: u64) -> u64 { x * x }
        /// let pool = multiproc_mpi::builder().local_processes(1).init()?; // a local pool here
        /// let mut out: Vec<u64> = pool.imap_unordered(sq, 1..4).collect::<Result<_, _>>()?;
        /// out.sort();
        /// assert_eq!(out, [1, 4, 9]);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn imap_unordered(self, f, iterable) {
            self.imap_inner(f, iterable, false)
        }
    }

    /// No more calls; queued work still runs, then the worker ranks are released.
    ///
    /// ```
    /// fn one() -> u8 { 1 }
    /// let pool = multiproc_mpi::builder().local_processes(1).init()?; // a local pool here
    /// pool.close();
    /// assert!(pool.apply(one, ()).is_err()); // no new work
    /// pool.join()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(&self) {
        match &self.inner {
            Inner::Local(p) => p.close(),
            #[cfg(feature = "openmpi")]
            Inner::Mpi(e) => e.close(),
        }
    }

    /// Pending results resolve to [`Error::Terminated`] at once; tasks already running
    /// on worker ranks run to their end (see the crate docs).
    ///
    /// ```
    /// let pool = multiproc_mpi::builder().local_processes(1).init()?; // a local pool here
    /// pool.terminate();
    /// pool.join()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn terminate(&self) {
        match &self.inner {
            Inner::Local(p) => p.terminate(),
            #[cfg(feature = "openmpi")]
            Inner::Mpi(e) => e.terminate(),
        }
    }

    /// Waits, after [`close`](Self::close) or [`terminate`](Self::terminate), until
    /// every worker has finished and left.
    ///
    /// # Errors
    /// [`Error::StillRunning`] on a running pool; [`Error::JoinFromCallback`] from a
    /// result callback (they run on the thread that receives the results).
    ///
    /// ```
    /// fn one() -> u8 { 1 }
    /// let pool = multiproc_mpi::builder().local_processes(1).init()?; // a local pool here
    /// let r = pool.apply_async(one, ());
    /// pool.close();
    /// pool.join()?;
    /// assert_eq!(r.get()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn join(&self) -> Result<(), Error> {
        match &self.inner {
            Inner::Local(p) => p.join(),
            #[cfg(feature = "openmpi")]
            Inner::Mpi(e) => e.join(None).map(|_| ()),
        }
    }

    /// [`join`](Self::join) waiting at most `timeout`; whether the workers are done.
    ///
    /// # Errors
    /// As [`join`](Self::join).
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = multiproc_mpi::builder().local_processes(1).init()?; // a local pool here
    /// pool.close();
    /// assert!(pool.join_timeout(Duration::from_secs(60))?); // the workers exited
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn join_timeout(&self, timeout: Duration) -> Result<bool, Error> {
        match &self.inner {
            Inner::Local(p) => p.join_timeout(timeout),
            #[cfg(feature = "openmpi")]
            Inner::Mpi(e) => e.join(Some(timeout)),
        }
    }
}

#[expect(dead_code, reason = "compile-time assertions, never called")]
fn assert_send_sync() {
    fn both<T: Send + Sync>() {}
    fn send<T: Send>() {}
    both::<Pool>();
    both::<Builder>();
    both::<InitError>();
    both::<ExeId>();
    send::<AsyncResult<u8>>();
    send::<IMap<u8>>();
}

impl Drop for Pool {
    fn drop(&mut self) {
        #[cfg(feature = "openmpi")]
        if let Inner::Mpi(e) = &self.inner {
            // Like the local pool: dropping terminates (a no-op after `join`).
            e.terminate();
            let _ = e.join(None);
        }
        // `inner`'s local pool (if any) terminates on its own drop; the universe (if
        // any) is dropped after it, finalizing MPI.
    }
}

// `AsyncResultApi` for `AsyncResult` and `PoolApi` for `Pool`: the inherent methods.
multiproc_pool::__forward_pool_api!(Pool, AsyncResult, IMap);
