//! Process pools for multiproc: CPython's `multiprocessing.Pool`, in Rust form, that
//! never hangs on a dead worker.
//!
//! | item | what it is | CPython |
//! |---|---|---|
//! | [`Pool`], [`Pool::new`], [`Pool::builder`] → [`PoolBuilder`] | a pool of worker processes | `Pool(processes, initializer, initargs, maxtasksperchild, context)` |
//! | [`Pool::apply`], [`Pool::map`], [`Pool::starmap`] (+ `_chunked`) | blocking calls | same names |
//! | [`Pool::apply_async`], [`Pool::map_async`], [`Pool::starmap_async`] → [`AsyncResult`] | asynchronous calls, with `callback`/`error_callback` | same names |
//! | [`Pool::imap`], [`Pool::imap_unordered`] → [`IMap`]; [`Pool::imap_ref`], [`Pool::imap_unordered_ref`] → [`IMapRef`] over borrowed input | lazy, bounded result iterators | same names |
//! | [`Pool::close`], [`Pool::join`], [`Pool::terminate`] | shutting down | same names |
//! | [`Pool::map_slice`], [`Pool::map_slice_async`] | a map over a slice of plain-old-data through shared memory, no encoding (rayon's `par_iter().map()`) | `map` over a NumPy array |
//! | [`Error`], [`Death`], [`TaskPanic`] ([`PanicKind`]) | why a task produced no value; a task's panic with the worker's backtrace | exceptions, `RemoteTraceback` |
//!
//! ```
//! use multiproc_pool::Pool;
//!
//! fn f(x: i64) -> i64 { x * x }
//!
//! let pool = Pool::new(5)?;                       // with Pool(5) as p:
//! assert_eq!(pool.map(f, [1, 2, 3])?, [1, 4, 9]); //     print(p.map(f, [1, 2, 3]))
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Bulk numbers go through shared memory instead, copied once in and once out, with
//! no element encoded (`T` and `R` are `bytemuck::Pod`: integers, floats,
//! `#[repr(C)]` records deriving it):
//!
//! ```
//! use multiproc_pool::Pool;
//!
//! fn f(x: u64) -> u64 { x * x }
//!
//! let pool = Pool::new(2)?;
//! let data: Vec<u64> = (0..1_000_000).collect();
//! let squares: Vec<u64> = pool.map_slice(f, &data)?; // data.par_iter().map(f) in rayon
//! assert_eq!(squares[999], 999 * 999);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Tasks
//!
//! A task is a function a fresh worker process can find: a `fn` item or a closure that
//! captures nothing ([`Target`]), with serde arguments and
//! result — so every start method works. `map` takes `fn(T) -> R`; `starmap` and
//! `apply` take any arity with a tuple of arguments.
//!
//! # How it works, and what it does beyond CPython
//!
//! Each worker has its own duplex connection to the parent, a result ring in shared
//! memory, and a supervising thread in the parent. The supervisor sends tasks in
//! batches over the connection (an adaptive window of about 4 ms of work, so
//! tiny tasks travel hundreds to a frame while long ones are not hoarded). The worker
//! stores "task *n* started" in the ring's header, runs it, and writes its result into
//! the ring before starting the next one — no system call per task; results too large
//! for the ring, or carrying handles, go over the connection instead. The
//! worker rings a doorbell (one byte-sized frame) only when the supervisor announced it
//! is going to sleep and is due a wake-up (the worker is half-way through its batch, or
//! done); otherwise results wait at most about a millisecond. The supervisor also polls
//! the worker's pidfd. When a worker dies, its supervisor first takes every result it
//! published (ring, then connection) — a completed result is never lost — and the
//! started count then says whether the next task was running.
//!
//! Why a shared ring rather than fewer frames: batching replies on the connection would
//! keep finished results in the worker's memory, lost if it dies, and a frame per task
//! costs a send, a poll, a receive and usually a thread wake-up per task. Publishing
//! into the ring costs a copy and two atomic stores, with a system call only when the
//! supervisor sleeps; it is the one `unsafe` module of the crate (`ring.rs`), with the
//! protocol written down there. So the parent always knows which task each worker was
//! running:
//!
//! * A worker that dies (SIGKILL, segfault, `abort`, `exit`) fails exactly the task it
//!   was running with [`Error::WorkerDied`] naming the signal or exit code; tasks it
//!   had been sent but not started go back to the queue; a replacement starts; the
//!   other tasks carry on (CPython hangs, KI-01).
//! * A panicking task is [`Error::Panicked`] with a [`TaskPanic`]: the message, the
//!   payload's kind (`&str`, `String`, other), where it panicked and the worker's
//!   backtrace text, captured at the panic by the worker's panic hook (CPython's
//!   `RemoteTraceback`; `{}` prints one line, `{:#}` adds the backtrace). The worker
//!   survives. With `map`, each item is called behind its own `catch_unwind`, so one
//!   bad item does not lose its chunk. (A task that returns a `Result` hands its `Err`
//!   back as a value, with its own type: it is not a pool error.)
//! * A failing initializer breaks the pool once, with [`Error::InitializerFailed`]
//!   for every pending and later call, instead of respawning forever (KI-03); workers
//!   that keep dying before they are ready break it with [`Error::WorkerStartFailed`].
//! * `imap`/`imap_unordered` pull their input lazily with a bounded window (KI-09).
//! * [`AsyncResult::cancel`] drops queued tasks; callbacks run behind `catch_unwind`
//!   (KI-02); terminating or dropping the pool resolves every pending result to
//!   [`Error::Terminated`] at once (KI-11).
//!
//! Default chunking of `map`/`starmap` is CPython's: `ceil(len / (4 × processes))`
//! items per task, cut to about 1 MiB of encoded items per task (judged by the first
//! few items) when the items are large. The first error of a `map` is returned after all chunks are done,
//! as in CPython; use `map_async` + [`AsyncResult::cancel`] to give up early.
//!
//! Plain numbers travel without encoding. [`Pool::map`] (default chunking) of at least
//! 4096 primitive numbers (`u8`…`u128`, `i8`…`i128`, `usize`, `isize`, `f32`, `f64`)
//! to primitive numbers takes the path of [`Pool::map_slice`]: the items are copied
//! once into shared memory, each chunk's worker computes straight into the output
//! there, and the output is copied out once — about as fast as `map_slice`, tens of
//! times faster than encoding each item. Nothing changes for the caller (same results,
//! same errors: the first failed item's, a dead worker's chunk is
//! [`Error::WorkerDied`]); like CPython's `mapstar`, a chunk stops at its first panic.
//! Your own `#[repr(C)]` records go the same way through [`Pool::map_slice`].
//!
//! # Async on tokio
//!
//! With the `tokio` feature (off by default), an [`AsyncResult`] is a future
//! (`pool.apply_async(f, args).await`, `pool.map_async(f, items).await`) and an
//! [`IMap`] becomes a `Stream` (`pool.imap(f, items).into_async()`), in the module
//! `aio`. The supervisor thread that delivers a result wakes the awaiting task: no
//! runtime thread blocks, nothing polls. A pool built with [`StartMethod::Fork`] from
//! inside a multi-thread tokio runtime is refused ([`Error::Start`] with
//! `StartError::ForkInRuntime`); build it with Spawn or ForkServer (the default) there,
//! or before the runtime starts. Without the feature nothing is checked: do not build
//! a Fork pool from async code.
//!
//! # Dropping a pool
//!
//! Like CPython's `with Pool() as p:` (`__exit__` calls `terminate()`), dropping a
//! [`Pool`] terminates it: workers are killed and results still pending resolve to
//! [`Error::Terminated`]. Call [`close`](Pool::close) then [`join`](Pool::join) (or
//! [`close_and_join`](Pool::close_and_join)) to let queued work finish first.
//!
//! # Platform support
//! Linux (pidfds), like `multiproc-process`.
//!
//! # Limitations
//! * Workers are daemons: they are killed with their parent — by SIGKILL too — so
//!   nothing is left behind; as in CPython, a task cannot start processes of its own.
//! * Under the Fork start method a worker inherits the parent's descriptors, including
//!   the connections of its sibling workers (harmless: deaths are detected through
//!   pidfds). Fork is only as safe as the task code in a threaded parent; the pool
//!   itself has threads. Prefer the default (ForkServer) or Spawn.
//! * A task must complete in its worker; there is no per-task time limit that kills a
//!   worker (use `get_timeout` + `cancel`, or `terminate`).
//! * Each worker slot has a 256 KiB result ring in shared memory (an anonymous memfd:
//!   freed with the pool whatever happens, nothing to clean up). Results larger than a
//!   quarter of it travel over the worker's connection instead.
//! * A worker that dies between two tasks (killed from outside while idle) fails no
//!   task: the tasks it had been sent go back to the queue.
//! * [`Pool::map_slice`] keeps up to two free shared segments per pool (at most
//!   256 MiB each) for its next calls, and each worker keeps its two latest mappings:
//!   that memory stays allocated until the pool is dropped.
#![doc(test(attr(deny(warnings))))]
#![deny(unsafe_code)]
#[cfg(not(target_os = "linux"))]
compile_error!("multiproc-pool requires Linux (pidfds, shared futexes, memfd segments)");

/// The zero-size requirement of a pool task, asserted in the body of each public
/// method that takes one, so that the error names the user's call ("the above error
/// was encountered while instantiating `fn Pool::map::<…>`" points at it) and gives
/// the pool's fix. A post-monomorphization error: `cargo build` reports it, `cargo
/// check` cannot (see [`Target`]).
macro_rules! assert_pool_task {
    ($f:ty) => {
        const {
            assert!(
                std::mem::size_of::<$f>() == 0,
                "a pool task must be a function item or a closure that captures nothing; \
                 pass what it would capture as task arguments instead: `starmap(f, items)` \
                 over tuples such as `(x, k)`, or `apply(f, (x, k))`"
            )
        }
    };
}

#[cfg(feature = "tokio")]
pub mod aio;
mod api;
mod error;
mod imap;
mod job;
mod ring;
mod slice;
mod supervisor;
mod sys;
mod worker;

use std::fmt;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use multiproc_ipc::PassFd;
use multiproc_process::invoke::Invoker;
use multiproc_process::{Context, StartMethod, Target};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use api::{AsyncResultApi, PoolApi};
pub use error::{Death, Error, MAX_REMOTE_BACKTRACE, PanicKind, TaskPanic};
pub use imap::{IMap, IMapRef};
pub use job::AsyncResult;

use job::{Cell, MapJob, Sink, Task, lock};
use supervisor::{Init, Phase, Shared};
use worker::{Bytes, Guarded, TaskMsg};

/// Default bound on the tasks pipelined to one worker (the adaptive window's ceiling).
const DEFAULT_WINDOW: usize = 4096;

/// Configures a [`Pool`] (CPython's `Pool(...)` keyword arguments).
///
/// ```
/// use multiproc_pool::Pool;
/// use multiproc_process::StartMethod;
///
/// fn setup(tag: String) { let _ = tag; }
/// fn double(x: u32) -> u32 { 2 * x }
///
/// let pool = Pool::builder()
///     .processes(2)
///     .initializer(setup, ("hello".to_string(),))
///     .maxtasksperchild(2)
///     .start_method(StartMethod::Spawn)
///     .build()?;
/// assert_eq!(pool.map(double, 0..10)?, [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a builder does nothing until build()"]
pub struct PoolBuilder {
    processes: Option<usize>,
    init: Option<Result<Init, Error>>,
    maxtasks: Option<usize>,
    method: Option<StartMethod>,
    window: usize,
    ignore_sigint: bool,
}

impl fmt::Debug for PoolBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolBuilder")
            .field("processes", &self.processes)
            .field("initializer", &self.init.is_some())
            .field("maxtasksperchild", &self.maxtasks)
            .field("method", &self.method)
            .field("window", &self.window)
            .field("workers_ignore_sigint", &self.ignore_sigint)
            .finish()
    }
}

fn encode_args<A: Serialize + ?Sized>(args: &A) -> Result<(Vec<u8>, Vec<OwnedFd>), Error> {
    multiproc_ipc::encode(args).map_err(|e| Error::Encode(e.to_string()))
}

/// A task for `invoker` over the argument tuples `args`, encoded.
fn encode_task<A: Serialize + ?Sized>(invoker: Invoker, args: &A) -> Result<TaskMsg, Error> {
    let (payload, fds) = encode_args(args)?;
    Ok(TaskMsg {
        invoker,
        payload: Bytes(payload),
        fds: fds.into_iter().map(PassFd::from).collect(),
    })
}

impl PoolBuilder {
    /// Number of worker processes (default [`cpu_count()`](multiproc_process::cpu_count)).
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// let pool = Pool::builder().processes(3).build()?;
    /// assert_eq!(pool.processes(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn processes(mut self, n: usize) -> Self {
        self.processes = Some(n);
        self
    }

    /// A function every worker calls once, first (CPython's `initializer`/`initargs`).
    /// If it panics, the pool is broken with [`Error::InitializerFailed`].
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// fn setup(level: u8) { assert!(level > 0); }
    /// fn id(x: u8) -> u8 { x }
    /// let pool = Pool::builder().processes(1).initializer(setup, (1,)).build()?;
    /// assert_eq!(pool.map(id, [5])?, [5]); // the worker ran `setup(1)` first
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn initializer<F, A>(mut self, f: F, args: A) -> Self
    where
        F: Target<A>,
        A: Serialize + DeserializeOwned + Send + 'static,
    {
        assert_pool_task!(F);
        self.init = Some(Invoker::of(f).map_err(Error::from).and_then(|invoker| {
            let (payload, fds) = encode_args(&args)?;
            Ok(Init {
                invoker,
                payload,
                fds,
            })
        }));
        self
    }

    /// Replace a worker after it has completed `n` tasks (CPython's `maxtasksperchild`;
    /// default: never). A task is one chunk.
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// fn pid(_: u8) -> u32 { std::process::id() }
    /// let pool = Pool::builder().processes(1).maxtasksperchild(1).build()?;
    /// let a = pool.apply(pid, (0,))?;
    /// let b = pool.apply(pid, (0,))?;
    /// assert_ne!(a, b); // a fresh worker after each task
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn maxtasksperchild(mut self, n: usize) -> Self {
        self.maxtasks = Some(n);
        self
    }

    /// The start method of the workers (default: the process-wide one).
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// use multiproc_process::StartMethod;
    /// let pool = Pool::builder().processes(1).start_method(StartMethod::Spawn).build()?;
    /// assert_eq!(pool.start_method(), StartMethod::Spawn);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start_method(mut self, method: StartMethod) -> Self {
        self.method = Some(method);
        self
    }

    /// Uses the start method of `ctx` (CPython's `context=` / `ctx.Pool()`).
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// use multiproc_process::StartMethod;
    /// let ctx = multiproc_process::get_context(Some(StartMethod::Fork));
    /// let pool = Pool::builder().processes(1).context(&ctx).build()?;
    /// assert_eq!(pool.start_method(), StartMethod::Fork);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn context(self, ctx: &Context) -> Self {
        self.start_method(ctx.start_method())
    }

    /// How many tasks are pipelined to one worker at most (default 4096). Within that
    /// bound the pool keeps about 4 ms of work in flight per worker, as
    /// measured by the worker (at least 2 tasks, 4 until a first measure), and never
    /// more than the worker's share of the queue: tiny tasks travel in large batches,
    /// long tasks stay balanced.
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// fn inc(x: u32) -> u32 { x + 1 }
    /// let pool = Pool::builder().processes(1).window(2).build()?;
    /// assert_eq!(pool.map(inc, 0..10)?.len(), 10);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn window(mut self, n: usize) -> Self {
        self.window = n.max(1);
        self
    }

    /// Makes the workers ignore SIGINT (default `false`: a terminal's Ctrl-C, which
    /// reaches the whole process group, kills them and the parent alike). With `true`
    /// the parent decides: it learns of the Ctrl-C with
    /// [`catch_interrupts`](multiproc_process::catch_interrupts), then lets the tasks
    /// in flight finish (`close` and `join`) or stops the pool (`terminate`, or drop
    /// it). CPython programs do this with an initializer calling
    /// `signal.signal(SIGINT, SIG_IGN)`; here the workers ignore it from before they
    /// run any code, so no Ctrl-C during start-up kills one.
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// fn double(x: u32) -> u32 { 2 * x }
    ///
    /// let pool = Pool::builder().processes(2).workers_ignore_sigint(true).build()?;
    /// let pids = pool.worker_pids();
    /// // A Ctrl-C reaching the workers (here: one SIGINT each, by pid):
    /// for pid in &pids {
    ///     std::process::Command::new("kill").args(["-INT", &pid.to_string()]).status()?;
    /// }
    /// assert_eq!(pool.map(double, 0..4)?, [0, 2, 4, 6]);
    /// assert_eq!(pool.worker_pids(), pids); // none died
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn workers_ignore_sigint(mut self, ignore: bool) -> Self {
        self.ignore_sigint = ignore;
        self
    }

    /// Starts the workers, returning once each has been started (not necessarily
    /// initialized), like CPython's constructor.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `processes(0)` or `maxtasksperchild(0)`;
    /// [`Error::Encode`]/[`Error::Start`] for an initializer that cannot be sent;
    /// [`Error::Io`] when the pool's threads, eventfds or result rings cannot be
    /// created; [`Error::Start`] when a worker cannot be started (the workers already
    /// started are stopped first, as CPython's constructor does). Workers that fail to
    /// start later, as replacements, surface on the calls.
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// fn inc(x: u32) -> u32 { x + 1 }
    /// let pool = Pool::builder().processes(2).build()?;
    /// assert_eq!(pool.map(inc, [1, 2])?, [2, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(self) -> Result<Pool, Error> {
        let processes = self.processes.unwrap_or_else(multiproc_process::cpu_count);
        if processes == 0 {
            return Err(Error::InvalidArgument(
                "number of processes must be at least 1",
            ));
        }
        if self.maxtasks == Some(0) {
            return Err(Error::InvalidArgument(
                "maxtasksperchild must be a positive int or None",
            ));
        }
        let init = self.init.transpose()?;
        let method = self
            .method
            .unwrap_or_else(multiproc_process::get_start_method);
        // Before anything is started: Fork from inside a multi-thread tokio runtime.
        #[cfg(feature = "tokio")]
        multiproc_process::aio::check_start_method(method)?;
        let shared = Shared::new(
            processes,
            method,
            init,
            self.maxtasks.map(|m| m as u64),
            self.window,
            self.ignore_sigint,
        )?;
        // Like CPython's constructor, return once every worker has been started. The
        // workers are started here, one after the other (under Fork they are forked
        // one at a time anyway), each supervisor thread taking over its worker while
        // the next one starts.
        let mut threads = Vec::with_capacity(processes);
        for slot in 0..processes {
            let first = match supervisor::start_first(&shared, slot) {
                Ok(w) => w,
                Err(e) => {
                    // Like CPython's constructor: a worker that cannot be started fails
                    // the build, and the workers already started are stopped (none is
                    // left behind, no call is served by a partial pool).
                    let pool = Pool {
                        shared,
                        threads: Mutex::new(threads),
                        segments: slice::SegmentCache::default(),
                    };
                    // Slots without a thread never decrement `live`.
                    lock(&pool.shared.state).live -= processes - slot;
                    pool.terminate();
                    return Err(e);
                }
            };
            let s = shared.clone();
            let t = std::thread::Builder::new()
                .name(format!("multiproc-pool-{slot}"))
                .spawn(move || supervisor::supervise(s, slot, Ok(first)));
            match t {
                Ok(t) => threads.push(t),
                Err(e) => {
                    let orphan = lock(&shared.state).workers[slot].take();
                    if let Some(w) = orphan {
                        let _ = w.kill();
                        let _ = w.join();
                    }
                    let pool = Pool {
                        shared,
                        threads: Mutex::new(threads),
                        segments: slice::SegmentCache::default(),
                    };
                    // Threads that never started never decrement `live`.
                    lock(&pool.shared.state).live -= processes - slot;
                    pool.terminate();
                    return Err(e.into());
                }
            }
        }
        Ok(Pool {
            shared,
            threads: Mutex::new(threads),
            segments: slice::SegmentCache::default(),
        })
    }
}

/// A pool of worker processes (CPython's `multiprocessing.Pool`).
///
/// All methods take `&self`; a `Pool` can be shared between threads. See the
/// [crate docs](crate) for what happens when workers die, and why dropping a pool
/// terminates it.
///
/// ```
/// use multiproc_pool::Pool;
/// fn add(a: i32, b: i32) -> i32 { a + b }
/// let pool = Pool::new(2)?;
/// assert_eq!(pool.apply(add, (2, 3))?, 5);
/// assert_eq!(pool.starmap(add, [(1, 2), (3, 4)])?, [3, 7]);
/// pool.close();
/// pool.join()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Pool {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Shared segments of `map_slice` kept for the next call (see `slice.rs`).
    segments: slice::SegmentCache,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.shared.state);
        f.debug_struct("Pool")
            .field("processes", &self.shared.processes)
            .field("method", &self.shared.method)
            .field("state", &st.phase)
            .field("queued", &st.queue.len())
            .finish_non_exhaustive()
    }
}

/// The default `map` of at least this many primitive numbers to primitive numbers
/// takes the plain-data path (`slice.rs`): a shared segment as `map_slice`, no
/// encoding. Below it the encoding path is as fast, and needs no segment.
const PLAIN_MIN: usize = 4096;

/// CPython's default `map` chunk size: `ceil(len / (4 × processes))`.
fn default_chunksize(len: usize, processes: usize) -> usize {
    len.div_ceil(4 * processes).max(1)
}

/// About the most encoded bytes a default chunk holds.
const CHUNK_BYTES: usize = 1 << 20;

/// [`default_chunksize`], cut so that a chunk holds about [`CHUNK_BYTES`] at most, by
/// the encoded size of the first few items. Chunks of many megabytes (100k kilobyte
/// strings made 12 MiB chunks) travel and decode several times slower than 1 MiB
/// ones: each goes whole before its worker starts, through fresh buffers that fault
/// their pages in, and results that large go over the socket.
fn default_chunksize_of<A: Serialize>(items: &[A], processes: usize) -> usize {
    let cs = default_chunksize(items.len(), processes);
    let sample = &items[..items.len().min(8)];
    match encode_args(sample) {
        Ok((bytes, _)) if !sample.is_empty() => {
            let per_item = (bytes.len() / sample.len()).max(1);
            cs.min((CHUNK_BYTES / per_item).max(1))
        }
        _ => cs,
    }
}

impl Pool {
    /// A pool of `processes` workers with the default start method
    /// (CPython's `Pool(processes)`).
    ///
    /// # Errors
    /// As [`PoolBuilder::build`].
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// fn neg(x: i32) -> i32 { -x }
    /// let pool = Pool::new(2)?;
    /// assert_eq!(pool.processes(), 2);
    /// assert_eq!(pool.map(neg, [1, 2])?, [-1, -2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(processes: usize) -> Result<Pool, Error> {
        Pool::builder().processes(processes).build()
    }

    /// A builder for the other options.
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// let pool = Pool::builder().processes(1).build()?;
    /// assert_eq!(pool.processes(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder() -> PoolBuilder {
        PoolBuilder {
            processes: None,
            init: None,
            maxtasks: None,
            method: None,
            window: DEFAULT_WINDOW,
            ignore_sigint: false,
        }
    }

    /// Number of worker processes.
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// assert_eq!(Pool::new(2)?.processes(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn processes(&self) -> usize {
        self.shared.processes
    }

    /// The start method of the workers.
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// let pool = Pool::new(1)?;
    /// assert_eq!(pool.start_method(), multiproc_process::get_start_method()); // the process-wide one
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start_method(&self) -> StartMethod {
        self.shared.method
    }

    /// Process ids of the workers currently running.
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// let pool = Pool::new(2)?;
    /// let pids = pool.worker_pids();
    /// assert_eq!(pids.len(), 2);
    /// assert!(!pids.contains(&std::process::id()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn worker_pids(&self) -> Vec<u32> {
        lock(&self.shared.state)
            .workers
            .iter()
            .flatten()
            .map(|p| p.pid())
            .collect()
    }

    /// Encodes `items` in chunks and queues them as one job; `finish` turns the values
    /// (all of them, in order) into the job's result. The first chunks are queued as
    /// soon as they are encoded, so the workers start while the rest is encoded.
    fn submit_job<F, A, T>(
        &self,
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
        let invoker = match Invoker::of::<Guarded<F>, A>(Guarded(f)) {
            Ok(i) => i,
            Err(e) => return AsyncResult::failed(e.into()),
        };
        let cell = Cell::new();
        if items.is_empty() {
            cell.resolve(finish(Vec::new()));
            return AsyncResult::from_cell(cell);
        }
        let chunksize = chunksize.max(1);
        let lens: Vec<usize> = items.chunks(chunksize).map(<[A]>::len).collect();
        let nchunks = lens.len();
        let job = MapJob::new(lens, cell.clone(), finish);
        // One chunk per worker first, then the rest.
        let first = self.shared.processes.min(nchunks);
        let mut tasks = Vec::with_capacity(first);
        for (index, chunk) in items.chunks(chunksize).enumerate() {
            if index == first {
                let rest = std::mem::replace(&mut tasks, Vec::with_capacity(nchunks - first));
                if let Err((e, rest)) = self.shared.submit(rest, false) {
                    // Nothing was queued: the job fails as a whole.
                    drop(rest);
                    return AsyncResult::failed(e);
                }
            }
            match encode_task(invoker, chunk) {
                Ok(msg) => tasks.push(Task {
                    msg,
                    sink: job.clone(),
                    index,
                }),
                Err(e) if index < first => return AsyncResult::failed(e),
                Err(e) => {
                    // Chunks already encoded run; this one and the later ones fail.
                    for i in index..nchunks {
                        job.complete(i, Err(e.clone()));
                    }
                    break;
                }
            }
        }
        if let Err((e, tasks)) = self.shared.submit(tasks, false) {
            if nchunks <= first {
                return AsyncResult::failed(e);
            }
            for t in tasks {
                t.finish(Err(e.clone()));
            }
        }
        AsyncResult::from_cell(cell)
    }

    /// The lazy iterator of `f` over `iterable`, whose items (`T`, or `&T` for the
    /// borrowing forms) encode as the `T` that `f` takes. The input is pulled and
    /// encoded only by the iterator's `next`, on the caller's thread (see `imap::Feed`).
    fn imap_inner<'a, F, T, I>(&self, f: F, iterable: I, ordered: bool) -> IMapRef<'a, F::Output>
    where
        F: Target<(T,)>,
        T: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator,
        I::Item: Serialize,
        I::IntoIter: Send + 'a,
    {
        let invoker = Invoker::of::<Guarded<F>, (T,)>(Guarded(f)).map_err(Error::from);
        let mut input = iterable.into_iter();
        let feed: imap::Feed<'a> = Box::new(move |n| {
            let chunk: Vec<(I::Item,)> = input.by_ref().take(n).map(|x| (x,)).collect();
            if chunk.is_empty() {
                return None;
            }
            let len = chunk.len();
            let invoker = match &invoker {
                Ok(i) => *i,
                Err(e) => return Some(Err((e.clone(), len))),
            };
            Some(
                encode_task(invoker, &chunk)
                    .map_err(|e| (e, len))
                    .map(|msg| (msg, len)),
            )
        });
        IMapRef::new(self.shared.clone(), feed, ordered)
    }

    crate::__pool_methods! {
        (AsyncResult) (IMap)

        /// Calls `f(args…)` in a worker and waits for the result (CPython's `apply`).
        ///
        /// # Errors
        /// The task's [`Error`] (panic, dead worker, …), or [`Error::NotRunning`] after
        /// `close`/`terminate`.
        ///
        /// ```
        /// use multiproc_pool::Pool;
        /// fn add(a: i32, b: i32) -> i32 { a + b }
        /// let pool = Pool::new(1)?;
        /// assert_eq!(pool.apply(add, (2, 3))?, 5);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn apply(self, f, args) {
            assert_pool_task!(F);
            self.apply_async(f, args).get()
        }

        /// Calls `f(args…)` in a worker (CPython's `apply_async`).
        ///
        /// ```
        /// use multiproc_pool::Pool;
        /// fn add(a: i32, b: i32) -> i32 { a + b }
        /// let pool = Pool::new(1)?;
        /// let job = pool.apply_async(add, (2, 3));
        /// assert_eq!(job.get()?, 5);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn apply_async(self, f, args) {
            assert_pool_task!(F);
            // One task whose cell is its own sink (`job::apply_task`), not a one-chunk map.
            match job::apply_task(f, &args) {
                Ok((task, cell)) => match self.shared.submit(vec![task], false) {
                    Ok(()) => AsyncResult::from_cell(cell),
                    Err((e, _)) => AsyncResult::failed(e),
                },
                Err(e) => AsyncResult::failed(e),
            }
        }

        /// `f(x)` for every `x` of `iterable`, in order (CPython's `map`), with the
        /// default chunk size.
        ///
        /// At least 4096 primitive numbers mapped to primitive numbers are not encoded:
        /// they go through shared memory as with [`map_slice`](Self::map_slice) (see
        /// the crate docs), with the same results and errors.
        ///
        /// ```
        /// use multiproc_pool::Pool;
        /// fn square(x: u64) -> u64 { x * x }
        ///
        /// let pool = Pool::new(2)?;
        /// let squares = pool.map(square, 0..100_000u64)?; // plain numbers: no encoding
        /// assert_eq!(squares[99_999], 99_999 * 99_999);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        ///
        /// # Errors
        /// The first failed item's [`Error`], after all chunks are done (as CPython).
        ///
        /// ```
        /// use multiproc_pool::Pool;
        /// fn len(s: String) -> usize { s.len() }
        /// let pool = Pool::new(2)?;
        /// assert_eq!(pool.map(len, ["a".to_owned(), "bcd".to_owned()])?, [1, 3]);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn map(self, f, iterable) {
            assert_pool_task!(F);
            self.map_async(f, iterable).get()
        }

        /// [`map`](Self::map) with `chunksize` items per task.
        ///
        /// # Errors
        /// As [`map`](Self::map).
        ///
        /// ```
        /// use multiproc_pool::Pool;
        /// fn sq(x: u64) -> u64 { x * x }
        /// let pool = Pool::new(2)?;
        /// let out = pool.map_chunked(sq, 0..100, 25)?; // four tasks of 25 items
        /// assert_eq!(out[10], 100);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn map_chunked(self, f, iterable, chunksize) {
            assert_pool_task!(F);
            self.map_async_chunked(f, iterable, chunksize).get()
        }

        /// Asynchronous [`map`](Self::map) (CPython's `map_async`).
        ///
        /// The family: [`apply_async`](Self::apply_async), `map_async`,
        /// [`starmap_async`](Self::starmap_async) (and their `_chunked` forms) return at once
        /// with an [`AsyncResult`]; the calls run meanwhile.
        ///
        /// ```
        /// use std::time::Duration;
        /// use multiproc_pool::Pool;
        ///
        /// fn square(x: u64) -> u64 { x * x }
        /// fn add(a: u64, b: u64) -> u64 { a + b }
        ///
        /// let pool = Pool::new(2)?;
        /// let squares = pool.map_async(square, 0..4u64);
        /// let sums = pool.starmap_async(add, [(1, 2), (3, 4)]);
        /// let one = pool.apply_async(add, (20, 22));
        /// assert_eq!(squares.get_timeout(Duration::from_secs(60))?, [0, 1, 4, 9]);
        /// assert_eq!(sums.get()?, [3, 7]);
        /// assert_eq!(one.get()?, 42);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn map_async(self, f, iterable) {
            assert_pool_task!(F);
            let items: Vec<T> = iterable.into_iter().collect();
            let cs = default_chunksize(items.len(), self.shared.processes);
            let items = if items.len() >= PLAIN_MIN {
                let nchunks = items.len().div_ceil(cs);
                match self.map_plain(f, items, nchunks) {
                    Ok(r) => return r,
                    Err(items) => items,
                }
            } else {
                items
            };
            let items: Vec<(T,)> = items.into_iter().map(|x| (x,)).collect();
            let cs = default_chunksize_of(&items, self.shared.processes);
            self.submit_job::<F, (T,), _>(f, items, cs, Ok)
        }

        /// Asynchronous [`map_chunked`](Self::map_chunked).
        ///
        /// ```
        /// use multiproc_pool::Pool;
        /// fn sq(x: u64) -> u64 { x * x }
        /// let pool = Pool::new(2)?;
        /// let job = pool.map_async_chunked(sq, 0..100, 25);
        /// assert_eq!(job.get()?.len(), 100);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn map_async_chunked(self, f, iterable, chunksize) {
            assert_pool_task!(F);
            if chunksize == 0 {
                return AsyncResult::failed(Error::InvalidArgument("chunksize must be at least 1"));
            }
            let items: Vec<(T,)> = iterable.into_iter().map(|x| (x,)).collect();
            self.submit_job::<F, (T,), _>(f, items, chunksize, Ok)
        }

        /// `f(a, b, …)` for every argument tuple, in order (CPython's `starmap`).
        ///
        /// # Errors
        /// As [`map`](Self::map).
        ///
        /// ```
        /// use multiproc_pool::Pool;
        /// fn add(a: i32, b: i32) -> i32 { a + b }
        /// let pool = Pool::new(2)?;
        /// assert_eq!(pool.starmap(add, [(1, 2), (3, 4)])?, [3, 7]);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn starmap(self, f, iterable) {
            assert_pool_task!(F);
            self.starmap_async(f, iterable).get()
        }

        /// [`starmap`](Self::starmap) with `chunksize` tuples per task.
        ///
        /// # Errors
        /// As [`map`](Self::map).
        ///
        /// ```
        /// use multiproc_pool::Pool;
        /// fn add(a: i32, b: i32) -> i32 { a + b }
        /// let pool = Pool::new(2)?;
        /// assert_eq!(pool.starmap_chunked(add, [(1, 2), (3, 4), (5, 6)], 2)?, [3, 7, 11]);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn starmap_chunked(self, f, iterable, chunksize) {
            assert_pool_task!(F);
            self.starmap_async_chunked(f, iterable, chunksize).get()
        }

        /// Asynchronous [`starmap`](Self::starmap) (CPython's `starmap_async`).
        ///
        /// ```
        /// use multiproc_pool::Pool;
        /// fn add(a: i32, b: i32) -> i32 { a + b }
        /// let pool = Pool::new(2)?;
        /// let job = pool.starmap_async(add, [(1, 2), (3, 4)]);
        /// assert_eq!(job.get()?, [3, 7]);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn starmap_async(self, f, iterable) {
            assert_pool_task!(F);
            let items: Vec<A> = iterable.into_iter().collect();
            let cs = default_chunksize_of(&items, self.shared.processes);
            self.submit_job::<F, A, _>(f, items, cs, Ok)
        }

        /// Asynchronous [`starmap_chunked`](Self::starmap_chunked).
        ///
        /// ```
        /// use multiproc_pool::Pool;
        /// fn add(a: i32, b: i32) -> i32 { a + b }
        /// let pool = Pool::new(2)?;
        /// let job = pool.starmap_async_chunked(add, [(1, 2), (3, 4), (5, 6)], 2);
        /// assert_eq!(job.get()?, [3, 7, 11]);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn starmap_async_chunked(self, f, iterable, chunksize) {
            assert_pool_task!(F);
            if chunksize == 0 {
                return AsyncResult::failed(Error::InvalidArgument("chunksize must be at least 1"));
            }
            let items: Vec<A> = iterable.into_iter().collect();
            self.submit_job::<F, A, _>(f, items, chunksize, Ok)
        }

        /// `f(x)` for every `x`, as a lazy iterator of results in input order (CPython's
        /// `imap`; chunk size 1 unless set with [`IMap::chunksize`]).
        ///
        /// ```
        /// use multiproc_pool::Pool;
        /// fn sq(x: u64) -> u64 { x * x }
        /// let pool = Pool::new(2)?;
        /// let mut it = pool.imap(sq, 1..); // an endless input, pulled lazily
        /// assert_eq!(it.next().transpose()?, Some(1));
        /// assert_eq!(it.next().transpose()?, Some(4));
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn imap(self, f, iterable) {
            assert_pool_task!(F);
            self.imap_inner(f, iterable, true)
        }

        /// As [`imap`](Self::imap), in completion order (CPython's `imap_unordered`).
        ///
        /// ```
        /// use multiproc_pool::Pool;
        /// fn square(x: u64) -> u64 { x * x }
        /// let pool = Pool::new(2)?;
        /// let mut got: Vec<u64> = pool.imap_unordered(square, 0..10).collect::<Result<_, _>>()?;
        /// got.sort();
        /// assert_eq!(got, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn imap_unordered(self, f, iterable) {
            assert_pool_task!(F);
            self.imap_inner(f, iterable, false)
        }

        /// [`imap`](Self::imap) over borrowed input, as rayon borrows: `pool.imap_ref(f,
        /// inputs.iter())` with no copy of `inputs` (`f` takes the item by value; it is
        /// encoded from the reference). The iterator borrows the input, so it cannot
        /// outlive it, and the input is read only inside its `next` on the calling thread
        /// (encoded there, up to the window ahead); no other thread ever sees it. Dropped
        /// early, it reads no more and cancels the chunks no worker has started.
        ///
        /// ```
        /// use multiproc_pool::Pool;
        /// fn len(s: String) -> usize { s.len() }
        /// let pool = Pool::new(2)?;
        /// let words = vec!["a".to_string(), "bb".to_string(), "ccc".to_string()];
        /// let lens: Vec<usize> = pool.imap_ref(len, words.iter()).collect::<Result<_, _>>()?;
        /// assert_eq!(lens, [1, 2, 3]);
        /// assert_eq!(words.len(), 3); // still ours
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn imap_ref(self, f, items) {
            assert_pool_task!(F);
            self.imap_inner(f, items, true)
        }

        /// [`imap_unordered`](Self::imap_unordered) over borrowed input, as
        /// [`imap_ref`](Self::imap_ref).
        ///
        /// ```
        /// use multiproc_pool::Pool;
        /// fn len(s: String) -> usize { s.len() }
        /// let pool = Pool::new(2)?;
        /// let words = vec!["a".to_owned(), "bb".to_owned()];
        /// let mut lens: Vec<usize> =
        ///     pool.imap_unordered_ref(len, &words).collect::<Result<_, _>>()?;
        /// lens.sort();
        /// assert_eq!(lens, [1, 2]);
        /// assert_eq!(words.len(), 2); // still ours
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn imap_unordered_ref(self, f, items) {
            assert_pool_task!(F);
            self.imap_inner(f, items, false)
        }
    }

    /// Stops accepting work; queued tasks still run, then the workers exit
    /// (CPython's `close`). Lazy `imap` iterators already created keep being served;
    /// later calls, `imap` included, get [`Error::NotRunning`].
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// fn id(x: u8) -> u8 { x }
    /// let pool = Pool::new(1)?;
    /// pool.close();
    /// assert!(pool.map(id, [1]).is_err()); // closed: no new work
    /// pool.join()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(&self) {
        let mut st = lock(&self.shared.state);
        if st.phase == Phase::Running {
            st.phase = Phase::Closed;
        }
        self.shared.wake_idle(&mut st);
    }

    /// Kills the workers at once (CPython's `terminate`): every result still pending
    /// resolves to [`Error::Terminated`] immediately, and no worker process is left.
    ///
    /// Called from a `callback`/`error_callback` of this pool (which runs on one of the
    /// pool's threads), it returns without waiting for those threads: they finish once
    /// the callback has returned, and [`join`](Self::join) from another thread waits
    /// for them.
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// let pool = Pool::new(1)?;
    /// pool.terminate();
    /// pool.join()?; // at once
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn terminate(&self) {
        let (queued, workers) = {
            let mut st = lock(&self.shared.state);
            st.phase = Phase::Terminated;
            let q: Vec<Task> = st.queue.drain(..).collect();
            (q, st.workers.iter().flatten().cloned().collect::<Vec<_>>())
        };
        self.shared.wake_all();
        for w in workers {
            let _ = w.kill();
        }
        for t in queued {
            t.finish(Err(Error::Terminated));
        }
        if !supervisor::on_own_thread(&self.shared) {
            self.wait_threads(None);
        }
    }

    /// Waits for the workers to exit (CPython's `join`): after [`close`](Self::close),
    /// once all queued work is done and every [`IMap`] created before `close` is
    /// exhausted or dropped (its input is pulled lazily); after
    /// [`terminate`](Self::terminate), at once.
    ///
    /// # Errors
    /// [`Error::StillRunning`] if the pool was neither closed nor terminated (CPython
    /// raises `ValueError`); [`Error::JoinFromCallback`] from a callback of this pool,
    /// which would wait for itself.
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// fn id(x: u8) -> u8 { x }
    /// let pool = Pool::new(1)?;
    /// assert!(pool.join().is_err()); // StillRunning: neither closed nor terminated
    /// let job = pool.map_async_chunked(id, [1, 2], 1);
    /// pool.close();
    /// pool.join()?; // the queued work finished first
    /// assert_eq!(job.get()?, [1, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn join(&self) -> Result<(), Error> {
        self.check_joinable()?;
        self.wait_threads(None);
        Ok(())
    }

    fn check_joinable(&self) -> Result<(), Error> {
        if lock(&self.shared.state).phase == Phase::Running {
            return Err(Error::StillRunning);
        }
        if supervisor::on_own_thread(&self.shared) {
            return Err(Error::JoinFromCallback);
        }
        Ok(())
    }

    /// [`join`](Self::join) waiting at most `timeout`; returns whether every worker
    /// has exited.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_pool::{Error, Pool};
    ///
    /// fn id(x: u8) -> u8 { x }
    ///
    /// let pool = Pool::new(2)?;
    /// assert!(matches!(pool.join(), Err(Error::StillRunning))); // close or terminate first
    /// assert_eq!(pool.map(id, [1, 2])?, [1, 2]);
    /// pool.close();
    /// assert!(pool.join_timeout(Duration::from_secs(60))?); // every worker exited
    /// assert!(matches!(pool.apply(id, (3,)), Err(Error::NotRunning)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`join`](Self::join).
    pub fn join_timeout(&self, timeout: Duration) -> Result<bool, Error> {
        self.check_joinable()?;
        Ok(self.wait_threads(Some(timeout)))
    }

    /// [`close`](Self::close) then [`join`](Self::join): the graceful end.
    ///
    /// # Errors
    /// [`Error::JoinFromCallback`] from a callback of this pool.
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// fn id(x: u8) -> u8 { x }
    /// let pool = Pool::new(1)?;
    /// let job = pool.apply_async(id, (1,));
    /// pool.close_and_join()?;
    /// assert_eq!(job.get()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close_and_join(&self) -> Result<(), Error> {
        self.close();
        self.join()
    }

    fn wait_threads(&self, timeout: Option<Duration>) -> bool {
        let deadline = timeout.and_then(|t| std::time::Instant::now().checked_add(t));
        let mut st = lock(&self.shared.state);
        while st.live > 0 {
            match deadline {
                None => {
                    st = self
                        .shared
                        .exited
                        .wait(st)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
                Some(d) => {
                    let now = std::time::Instant::now();
                    if now >= d {
                        return false;
                    }
                    st = self
                        .shared
                        .exited
                        .wait_timeout(st, d - now)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0;
                }
            }
        }
        drop(st);
        for t in lock(&self.threads).drain(..) {
            let _ = t.join();
        }
        true
    }
}

impl Drop for Pool {
    /// Terminates the pool, like CPython's `Pool.__exit__`: workers are killed and
    /// pending results resolve to [`Error::Terminated`]. Dropped in one of its own
    /// callbacks, it does not wait for its threads (see [`Pool::terminate`]).
    fn drop(&mut self) {
        let unfinished = {
            let st = lock(&self.shared.state);
            st.live > 0 || st.phase != Phase::Terminated
        };
        if unfinished {
            self.terminate();
        }
    }
}

#[expect(dead_code, reason = "compile-time assertions, never called")]
fn assert_send_sync() {
    fn both<T: Send + Sync>() {}
    fn send<T: Send>() {}
    both::<Pool>();
    both::<AsyncResult<Vec<String>>>();
    both::<Error>();
    both::<Death>();
    both::<TaskPanic>();
    both::<PanicKind>();
    send::<PoolBuilder>();
    send::<IMap<u8>>();
}
