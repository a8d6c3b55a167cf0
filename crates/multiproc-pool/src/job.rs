//! Job bookkeeping: tasks, where their results go, and [`AsyncResult`].

use std::fmt;
use std::os::fd::OwnedFd;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use multiproc_ipc::PassFd;
use multiproc_process::Target;
use multiproc_process::invoke::{InvokeError, Invoker};
use serde::de::{DeserializeOwned, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Error, TaskPanic};
use crate::worker::{Bytes, Guarded, TaskMsg, TaskOut};

/// Locks, ignoring poisoning: every critical section leaves its state consistent.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What a finished task hands to its job: the encoded per-item results, or why the
/// whole chunk failed.
pub(crate) type Outcome = Result<(Vec<u8>, Vec<OwnedFd>), Error>;

/// Where the results of a job's tasks go. Implemented per call kind (map, imap, …).
pub(crate) trait Sink: Send + Sync {
    /// Task `index` of the job finished. Called exactly once per task, from a
    /// supervisor thread (or the thread that terminates the pool).
    fn complete(&self, index: usize, outcome: Outcome);
    /// Whether the job was cancelled: its queued tasks are dropped, not run.
    fn cancelled(&self) -> bool;
}

/// A task: one chunk of one job.
pub(crate) struct Task {
    pub(crate) msg: TaskMsg,
    pub(crate) sink: Arc<dyn Sink>,
    pub(crate) index: usize,
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl Task {
    pub(crate) fn finish(self, outcome: Outcome) {
        self.sink.complete(self.index, outcome);
    }
}

/// Decodes a chunk's per-item results; a whole-chunk failure becomes one error per item.
pub(crate) fn decode_chunk<R: DeserializeOwned>(
    outcome: Outcome,
    len: usize,
) -> Vec<Result<R, Error>> {
    match outcome {
        Ok((bytes, fds)) => match multiproc_ipc::decode::<Vec<Item<R>>>(&bytes, fds) {
            Ok(items) if items.len() == len => items.into_iter().map(item).collect(),
            Ok(items) => {
                let e = Error::Decode(format!("expected {len} results, got {}", items.len()));
                errors(&e, len)
            }
            Err(e) => errors(&Error::Decode(e.to_string()), len),
        },
        Err(e) => errors(&e, len),
    }
}

/// One item of a chunk's results as the worker encodes it: the task guard's outcome
/// (value or panic), or why the call could not be made.
type Item<R> = Result<TaskOut<R>, InvokeError>;

fn item<R>(r: Item<R>) -> Result<R, Error> {
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(p)) => Err(Error::Panicked(TaskPanic::from_wire(p))),
        Err(e) => Err(Error::from(e)),
    }
}

/// A chunk's encoded `Vec<Item<R>>` decoded for `map`: the values
/// straight into a `Vec<R>` (no per-item `Result` kept), the first error, and the count.
struct ChunkValues<R> {
    values: Vec<R>,
    first_err: Option<Error>,
    count: usize,
}

impl<'de, R: DeserializeOwned> Deserialize<'de> for ChunkValues<R> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<R>(std::marker::PhantomData<R>);
        impl<'de, R: DeserializeOwned> Visitor<'de> for V<R> {
            type Value = ChunkValues<R>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sequence of results")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                // The length comes from the peer: cap the up-front reservation.
                let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
                let mut first_err = None;
                let mut count = 0;
                while let Some(it) = seq.next_element::<Item<R>>()? {
                    count += 1;
                    match item(it) {
                        Ok(v) if first_err.is_none() => values.push(v),
                        Ok(_) => {}
                        Err(e) => {
                            if first_err.is_none() {
                                first_err = Some(e);
                            }
                        }
                    }
                }
                Ok(ChunkValues {
                    values,
                    first_err,
                    count,
                })
            }
        }
        d.deserialize_seq(V(std::marker::PhantomData))
    }
}

/// Decodes a chunk's values for `map`, or the chunk's first error (in item order).
fn decode_values<R: DeserializeOwned>(outcome: Outcome, len: usize) -> Values<R> {
    let (bytes, fds) = outcome?;
    let c = multiproc_ipc::decode::<ChunkValues<R>>(&bytes, fds)
        .map_err(|e| Error::Decode(e.to_string()))?;
    if let Some(e) = c.first_err {
        return Err(e);
    }
    if c.count != len {
        return Err(Error::Decode(format!(
            "expected {len} results, got {}",
            c.count
        )));
    }
    Ok(c.values)
}

/// A one-item chunk's result, decoded straight into the value (no vector): what an
/// `apply` task sends back.
struct One<R>(Result<R, Error>);

impl<'de, R: DeserializeOwned> Deserialize<'de> for One<R> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<R>(std::marker::PhantomData<R>);
        impl<'de, R: DeserializeOwned> Visitor<'de> for V<R> {
            type Value = One<R>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sequence of one result")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let Some(first) = seq.next_element::<Item<R>>()? else {
                    return Ok(One(Err(Error::Decode("expected 1 results, got 0".into()))));
                };
                let mut extra = 0usize;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    extra += 1;
                }
                if extra > 0 {
                    let got = extra.saturating_add(1);
                    return Ok(One(Err(Error::Decode(format!(
                        "expected 1 results, got {got}"
                    )))));
                }
                Ok(One(item(first)))
            }
        }
        d.deserialize_seq(V(std::marker::PhantomData))
    }
}

fn errors<R>(e: &Error, len: usize) -> Vec<Result<R, Error>> {
    (0..len).map(|_| Err(e.clone())).collect()
}

/// The values of one `map` chunk, or its first error.
type Values<R> = Result<Vec<R>, Error>;

type OkCallback<T> = Box<dyn FnOnce(&T) + Send>;
type ErrCallback = Box<dyn FnOnce(&Error) + Send>;

struct CellState<T> {
    value: Option<Result<T, Error>>,
    /// `Some(successful)` once `get`/`get_timeout` handed the value out.
    taken: Option<bool>,
    on_ok: Option<OkCallback<T>>,
    on_err: Option<ErrCallback>,
    /// Threads sleeping on the condition variable (`wait`, `wait_timeout`): the
    /// condvar is notified only when there is one (std's futex condvar makes a system
    /// call on every notify, waiter or not — one per result of an awaited
    /// `apply_async`).
    sleepers: usize,
    /// The tasks awaiting the value (`crate::aio`), woken with the condvar's sleepers.
    #[cfg(feature = "tokio")]
    wakers: Wakers,
}

/// The wakers of one cell: nearly always one (`r.await`), held inline so that
/// registering it allocates nothing; more only when several tasks await `&r`.
#[cfg(feature = "tokio")]
#[derive(Default)]
struct Wakers {
    first: Option<std::task::Waker>,
    more: Vec<std::task::Waker>,
}

#[cfg(feature = "tokio")]
impl Wakers {
    fn register(&mut self, w: &std::task::Waker) {
        match &mut self.first {
            Some(f) if f.will_wake(w) => {}
            Some(_) => {
                if !self.more.iter().any(|m| m.will_wake(w)) {
                    self.more.push(w.clone());
                }
            }
            None => self.first = Some(w.clone()),
        }
    }

    fn wake(self) {
        let Wakers { first, more } = self;
        for w in first.into_iter().chain(more) {
            wake_or_defer(w);
        }
    }
}

#[cfg(feature = "tokio")]
thread_local! {
    /// How many delivery batches ([`deliver_batch`]) are open on this thread.
    static BATCH_DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    /// The wakers of the results delivered in the open batch, woken when it ends. The
    /// vector is kept between batches, so a supervisor thread does not allocate per
    /// result.
    static DEFERRED: std::cell::RefCell<Vec<std::task::Waker>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Wakes `w` now, or at the end of the calling thread's delivery batch.
#[cfg(feature = "tokio")]
fn wake_or_defer(w: std::task::Waker) {
    let w = if BATCH_DEPTH.with(std::cell::Cell::get) > 0 {
        DEFERRED.with(|d| match d.try_borrow_mut() {
            Ok(mut d) => {
                d.push(w);
                None
            }
            Err(_) => Some(w),
        })
    } else {
        Some(w)
    };
    if let Some(w) = w {
        w.wake();
    }
}

/// Runs `deliver` (which resolves results) as one batch: the tasks awaiting those
/// results are woken after it, all together, rather than one by one between results —
/// so the woken runtime threads do not compete with the delivering thread for the CPU
/// before the batch is in, and a runtime thread woken once finds the whole batch
/// queued. Values are stored and blocking waiters notified at once, as before; only
/// the async wake-ups move. A nested batch joins the outer one. Without the `tokio`
/// feature this just runs `deliver`.
pub(crate) fn deliver_batch(deliver: impl FnOnce()) {
    #[cfg(feature = "tokio")]
    {
        /// Closes the batch and wakes what it deferred, even if `deliver` unwinds.
        struct Close;
        impl Drop for Close {
            fn drop(&mut self) {
                let depth = BATCH_DEPTH.with(|d| {
                    let n = d.get().saturating_sub(1);
                    d.set(n);
                    n
                });
                if depth > 0 {
                    return; // the outer batch wakes them
                }
                let mut batch = DEFERRED
                    .with(|d| d.try_borrow_mut().map(|mut d| std::mem::take(&mut *d)))
                    .unwrap_or_default();
                for w in batch.drain(..) {
                    w.wake();
                }
                // Keep the emptied vector's room for the next batch.
                DEFERRED.with(|d| {
                    if let Ok(mut d) = d.try_borrow_mut() {
                        if d.is_empty() {
                            *d = batch;
                        }
                    }
                });
            }
        }
        BATCH_DEPTH.with(|d| d.set(d.get().saturating_add(1)));
        let _close = Close;
        deliver();
    }
    #[cfg(not(feature = "tokio"))]
    deliver();
}

/// The shared slot behind an [`AsyncResult`].
pub(crate) struct Cell<T> {
    state: Mutex<CellState<T>>,
    ready: Condvar,
    cancelled: AtomicBool,
}

/// Runs a user callback behind `catch_unwind` (KI-02): a panic becomes an error, and
/// never stops the thread that dispatches results.
fn run_callback<T>(
    value: &mut Result<T, Error>,
    ok: Option<OkCallback<T>>,
    err: Option<ErrCallback>,
) {
    let r = match (&*value, ok, err) {
        (Ok(v), Some(cb), _) => catch_unwind(AssertUnwindSafe(|| cb(v))),
        (Err(e), _, Some(cb)) => catch_unwind(AssertUnwindSafe(|| cb(e))),
        _ => Ok(()),
    };
    if let Err(p) = r {
        let msg = multiproc_process::panic_message(&*p);
        std::mem::forget(p);
        tracing::warn!("pool result callback panicked: {msg}");
        *value = Err(Error::Callback(msg));
    }
}

impl<T> Cell<T> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Cell {
            state: Mutex::new(CellState {
                value: None,
                taken: None,
                on_ok: None,
                on_err: None,
                sleepers: 0,
                #[cfg(feature = "tokio")]
                wakers: Wakers::default(),
            }),
            ready: Condvar::new(),
            cancelled: AtomicBool::new(false),
        })
    }

    /// Sets the value once (later calls are ignored), running the callbacks first —
    /// like CPython, the result is ready only after its callback returned.
    pub(crate) fn resolve(&self, mut value: Result<T, Error>) {
        let mut st = lock(&self.state);
        if st.value.is_some() || st.taken.is_some() {
            return;
        }
        if st.on_ok.is_some() || st.on_err.is_some() {
            // The callbacks run without the lock (they may look at the result).
            let (ok, err) = (st.on_ok.take(), st.on_err.take());
            drop(st);
            run_callback(&mut value, ok, err);
            st = lock(&self.state);
        }
        if st.value.is_none() && st.taken.is_none() {
            st.value = Some(value);
        }
        #[cfg(feature = "tokio")]
        let wakers = std::mem::take(&mut st.wakers);
        let sleepers = st.sleepers > 0;
        drop(st);
        if sleepers {
            self.ready.notify_all();
        }
        #[cfg(feature = "tokio")]
        wakers.wake();
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }
}

/// The result of an asynchronous call (CPython's `AsyncResult` / `MapResult`).
///
/// ```
/// use multiproc_pool::Pool;
/// fn square(x: i64) -> i64 { x * x }
/// let pool = Pool::new(2)?;
/// let r = pool.apply_async(square, (7,));
/// r.wait();
/// assert!(r.ready());
/// assert!(r.successful()?);
/// assert_eq!(r.get()?, 49);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`get_timeout`](Self::get_timeout) borrows the handle: a wait that timed out can be
/// retried, as in CPython. The value is handed out once; a later `get`/`get_timeout`
/// says [`Error::AlreadyTaken`].
///
/// ```
/// use std::time::Duration;
/// use multiproc_pool::{Error, Pool};
/// fn slow(ms: u64) -> u64 { std::thread::sleep(Duration::from_millis(ms)); ms }
/// let pool = Pool::new(1)?;
/// let r = pool.apply_async(slow, (300,));
/// let got = loop {
///     match r.get_timeout(Duration::from_millis(10)) {
///         Err(Error::Timeout) => continue, // still pending: wait again
///         other => break other?,
///     }
/// };
/// assert_eq!(got, 300);
/// assert!(matches!(r.get_timeout(Duration::ZERO), Err(Error::AlreadyTaken)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct AsyncResult<T> {
    cell: Arc<Cell<T>>,
}

impl<T> fmt::Debug for AsyncResult<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncResult")
            .field("ready", &self.ready())
            .finish_non_exhaustive()
    }
}

impl<T> AsyncResult<T> {
    pub(crate) fn from_cell(cell: Arc<Cell<T>>) -> Self {
        AsyncResult { cell }
    }

    /// A result that is already an error (a call refused up front).
    pub(crate) fn failed(e: Error) -> Self {
        let cell = Cell::new();
        cell.resolve(Err(e));
        AsyncResult { cell }
    }

    /// Whether the call has completed (CPython's `ready()`); stays `true` after the
    /// value was taken.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_pool::Pool;
    /// fn one() -> u8 { 1 }
    /// let pool = Pool::new(1)?;
    /// let r = pool.apply_async(one, ());
    /// assert!(r.wait_timeout(Duration::from_secs(60)));
    /// assert!(r.ready());
    /// assert_eq!(r.get_timeout(Duration::ZERO)?, 1);
    /// assert!(r.ready()); // still, after the value was taken
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ready(&self) -> bool {
        let st = lock(&self.cell.state);
        st.value.is_some() || st.taken.is_some()
    }

    /// Whether the call completed without error (CPython's `successful()`).
    ///
    /// # Errors
    /// [`Error::NotReady`] before the result is ready, as CPython raises `ValueError`.
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// fn boom() -> u8 { panic!("boom") }
    /// let pool = Pool::new(1)?;
    /// let r = pool.apply_async(boom, ());
    /// r.wait();
    /// assert!(!r.successful()?); // it panicked
    /// assert!(r.get().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn successful(&self) -> Result<bool, Error> {
        let st = lock(&self.cell.state);
        match (&st.value, st.taken) {
            (Some(v), _) => Ok(v.is_ok()),
            (None, Some(ok)) => Ok(ok),
            (None, None) => Err(Error::NotReady),
        }
    }

    /// Blocks until the result is ready (CPython's `wait()`). Never hangs on a dead
    /// worker: its task resolves to [`Error::WorkerDied`].
    ///
    /// The family: `wait`, [`wait_timeout`](Self::wait_timeout), and
    /// [`ready`](Self::ready)/[`successful`](Self::successful) to look without waiting.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_pool::Pool;
    ///
    /// fn double(x: u32) -> u32 { x * 2 }
    ///
    /// let pool = Pool::new(1)?;
    /// let r = pool.apply_async(double, (21,));
    /// assert!(r.wait_timeout(Duration::from_secs(60)));
    /// assert!(r.ready());
    /// assert!(r.successful()?);
    /// r.wait(); // ready: returns at once
    /// assert_eq!(r.get()?, 42);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait(&self) {
        let mut st = lock(&self.cell.state);
        while st.value.is_none() && st.taken.is_none() {
            st.sleepers += 1;
            st = self
                .cell
                .ready
                .wait(st)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            st.sleepers -= 1;
        }
    }

    /// Waits at most `timeout`; returns whether the result is ready (CPython's
    /// `wait(timeout)` followed by `ready()`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_pool::Pool;
    /// fn one() -> u8 { 1 }
    /// let pool = Pool::new(1)?;
    /// let r = pool.apply_async(one, ());
    /// assert!(r.wait_timeout(Duration::from_secs(60)));
    /// assert_eq!(r.get()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let Some(deadline) = Instant::now().checked_add(timeout) else {
            // a timeout past the clock's range is no timeout
            self.wait();
            return true;
        };
        let mut st = lock(&self.cell.state);
        while st.value.is_none() && st.taken.is_none() {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st.sleepers += 1;
            st = self
                .cell
                .ready
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
            st.sleepers -= 1;
        }
        true
    }

    /// Waits for the result and returns it (CPython's `get()`).
    ///
    /// # Errors
    /// The task's error: [`Error::Panicked`], [`Error::WorkerDied`], [`Error::Terminated`], …
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// fn add(a: u8, b: u8) -> u8 { a + b }
    /// let pool = Pool::new(1)?;
    /// assert_eq!(pool.apply_async(add, (1, 2)).get()?, 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(self) -> Result<T, Error> {
        self.wait();
        self.take()
    }

    /// [`get`](Self::get) that gives up with [`Error::Timeout`] after `timeout`
    /// (CPython's `get(timeout)`). It borrows the handle, so a timed-out wait can be
    /// retried: the call itself goes on (see [`cancel`](Self::cancel)). The value is
    /// handed out once.
    ///
    /// # Errors
    /// As [`get`](Self::get), plus [`Error::Timeout`] (still pending, call again) and
    /// [`Error::AlreadyTaken`] (an earlier call returned the outcome).
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_pool::{Error, Pool};
    /// fn one() -> u8 { 1 }
    /// let pool = Pool::new(1)?;
    /// let r = pool.apply_async(one, ());
    /// assert_eq!(r.get_timeout(Duration::from_secs(60))?, 1);
    /// assert!(matches!(r.get_timeout(Duration::ZERO), Err(Error::AlreadyTaken))); // handed out once
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, Error> {
        if !self.wait_timeout(timeout) {
            return Err(Error::Timeout);
        }
        self.take()
    }

    /// The async `get` (`crate::aio`): the outcome if it is in (taken, as `get` takes
    /// it), else `cx`'s waker is registered for [`Cell::resolve`] and `Pending`.
    #[cfg(feature = "tokio")]
    pub(crate) fn poll_take(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<T, Error>> {
        let mut st = lock(&self.cell.state);
        if st.value.is_none() && st.taken.is_none() {
            st.wakers.register(cx.waker());
            return std::task::Poll::Pending;
        }
        drop(st);
        std::task::Poll::Ready(self.take())
    }

    fn take(&self) -> Result<T, Error> {
        let mut st = lock(&self.cell.state);
        match st.value.take() {
            Some(v) => {
                st.taken = Some(v.is_ok());
                v
            }
            None if st.taken.is_some() => Err(Error::AlreadyTaken),
            None => Err(Error::NotReady),
        }
    }

    /// Cancels the call: its tasks that no worker has started are dropped, and the
    /// result resolves at once to [`Error::Cancelled`] (tasks already running finish
    /// and are discarded). Returns `false` if the result was already ready.
    ///
    /// ```
    /// use multiproc_pool::{Error, Pool};
    /// fn slow(ms: u64) -> u64 { std::thread::sleep(std::time::Duration::from_millis(ms)); ms }
    /// let pool = Pool::new(1)?;
    /// let _busy = pool.apply_async(slow, (200,));
    /// let queued = pool.map_async(slow, vec![1000; 50]);
    /// assert!(queued.cancel());
    /// assert!(matches!(queued.get(), Err(Error::Cancelled)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cancel(&self) -> bool {
        if self.ready() {
            return false;
        }
        self.cell.cancelled.store(true, Ordering::Relaxed);
        self.cell.resolve(Err(Error::Cancelled));
        true
    }

    /// Registers `f` to run with the value when the call succeeds (CPython's
    /// `callback=`). It runs in the parent, on the thread that delivers the result —
    /// or right here if the result is already in. A panic in `f` turns the result into
    /// [`Error::Callback`]; it never stops result dispatch (CPython KI-02).
    ///
    /// Keep it short, as in CPython: that worker's results wait while it runs, so a
    /// blocking call that needs the same worker waits for ever. `f` may terminate or
    /// drop the pool (without waiting for the pool's threads); joining the pool from
    /// it is [`Error::JoinFromCallback`].
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use std::time::Duration;
    /// use multiproc_pool::Pool;
    ///
    /// fn square(x: u64) -> u64 { x * x }
    ///
    /// let pool = Pool::new(2)?;
    /// let (tx, rx) = mpsc::channel();
    /// let r = pool
    ///     .map_async(square, 0..4u64)
    ///     .callback(move |squares: &Vec<u64>| tx.send(squares.iter().sum::<u64>()).unwrap());
    /// assert_eq!(rx.recv_timeout(Duration::from_secs(60))?, 14); // 0 + 1 + 4 + 9
    /// assert_eq!(r.get()?, [0, 1, 4, 9]); // the value is still there
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use = "the AsyncResult is returned for chaining"]
    pub fn callback(self, f: impl FnOnce(&T) + Send + 'static) -> Self {
        let mut st = lock(&self.cell.state);
        if let Some(v) = st.value.as_mut() {
            run_callback(v, Some(Box::new(f)), None);
        } else {
            st.on_ok = Some(Box::new(f));
        }
        drop(st);
        self
    }

    /// Registers `f` to run with the error when the call fails (CPython's
    /// `error_callback=`); as [`callback`](Self::callback) otherwise.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use std::time::Duration;
    /// use multiproc_pool::{Error, Pool};
    ///
    /// fn checked_div(a: u32, b: u32) -> u32 {
    ///     a.checked_div(b).expect("division by zero")
    /// }
    ///
    /// let pool = Pool::new(1)?;
    /// let (tx, rx) = mpsc::channel();
    /// let r = pool
    ///     .apply_async(checked_div, (1, 0))
    ///     .callback(|_| unreachable!("the call fails"))
    ///     .error_callback(move |e: &Error| tx.send(e.to_string()).unwrap());
    /// let said = rx.recv_timeout(Duration::from_secs(60))?;
    /// assert!(said.contains("division by zero"), "{said}");
    /// assert!(matches!(r.get(), Err(Error::Panicked(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use = "the AsyncResult is returned for chaining"]
    pub fn error_callback(self, f: impl FnOnce(&Error) + Send + 'static) -> Self {
        let mut st = lock(&self.cell.state);
        if let Some(v) = st.value.as_mut() {
            run_callback(v, None, Some(Box::new(f)));
        } else {
            st.on_err = Some(Box::new(f));
        }
        drop(st);
        self
    }
}

/// The one task of an `apply`/`apply_async` call: the result cell is its own sink, so
/// the call costs one shared allocation (no job, no chunk table) and its result is
/// decoded straight into the value.
impl<R: DeserializeOwned + Send> Sink for Cell<R> {
    fn complete(&self, index: usize, outcome: Outcome) {
        if index != 0 || self.is_cancelled() {
            return;
        }
        let value = outcome.and_then(|(bytes, fds)| {
            multiproc_ipc::decode::<One<R>>(&bytes, fds)
                .map_err(|e| Error::Decode(e.to_string()))
                .and_then(|one| one.0)
        });
        self.resolve(value);
    }

    fn cancelled(&self) -> bool {
        self.is_cancelled()
    }
}

/// An `apply` task and the cell its result goes to.
type Apply<R> = (Task, Arc<Cell<R>>);

/// The task of `f(args…)` (`Pool::apply_async`) and the cell its result goes to.
pub(crate) fn apply_task<F, A>(f: F, args: &A) -> Result<Apply<F::Output>, Error>
where
    F: Target<A>,
    A: Serialize + DeserializeOwned + Send + 'static,
{
    let invoker = Invoker::of::<Guarded<F>, A>(Guarded(f))?;
    // A chunk of one argument tuple, as `map` sends them.
    let (payload, fds) = multiproc_ipc::encode(std::slice::from_ref(args))
        .map_err(|e| Error::Encode(e.to_string()))?;
    let cell = Cell::new();
    let task = Task {
        msg: TaskMsg {
            invoker,
            payload: Bytes(payload),
            fds: fds.into_iter().map(PassFd::from).collect(),
        },
        sink: cell.clone(),
        index: 0,
    };
    Ok((task, cell))
}

/// Collects the chunks of a `map`/`starmap` job and resolves its cell when the
/// last one is in: all values in order, or the first error in order (CPython waits for
/// every chunk before raising, KI-29).
pub(crate) struct MapJob<R, T> {
    chunks: Mutex<Vec<Option<Values<R>>>>,
    lens: Vec<usize>,
    remaining: AtomicUsize,
    cell: Arc<Cell<T>>,
    finish: fn(Vec<R>) -> Result<T, Error>,
}

impl<R, T> MapJob<R, T> {
    pub(crate) fn new(
        lens: Vec<usize>,
        cell: Arc<Cell<T>>,
        finish: fn(Vec<R>) -> Result<T, Error>,
    ) -> Arc<Self> {
        Arc::new(MapJob {
            chunks: Mutex::new((0..lens.len()).map(|_| None).collect()),
            remaining: AtomicUsize::new(lens.len()),
            lens,
            cell,
            finish,
        })
    }
}

impl<R: DeserializeOwned + Send, T: Send> Sink for MapJob<R, T> {
    fn complete(&self, index: usize, outcome: Outcome) {
        if self.cell.is_cancelled() {
            return;
        }
        let Some(&len) = self.lens.get(index) else {
            return;
        };
        let values = decode_values::<R>(outcome, len);
        {
            let mut chunks = lock(&self.chunks);
            match chunks.get_mut(index) {
                Some(slot @ None) => *slot = Some(values),
                _ => return,
            }
        }
        if self.remaining.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        let chunks = std::mem::take(&mut *lock(&self.chunks));
        let mut out: Option<Vec<R>> = None;
        let mut first_err = None;
        for chunk in chunks.into_iter().flatten() {
            match chunk {
                Ok(v) => match &mut out {
                    None => {
                        let mut all = v;
                        all.reserve(self.lens.iter().sum::<usize>().saturating_sub(all.len()));
                        out = Some(all);
                    }
                    Some(all) => all.extend(v),
                },
                Err(e) => {
                    first_err = Some(e);
                    break;
                }
            }
        }
        self.cell.resolve(match first_err {
            Some(e) => Err(e),
            None => (self.finish)(out.unwrap_or_default()),
        });
    }

    fn cancelled(&self) -> bool {
        self.cell.is_cancelled()
    }
}

#[cfg(all(test, feature = "tokio"))]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll, Wake, Waker};

    use super::{AsyncResult, Cell, deliver_batch};
    use crate::error::Error;

    /// Counts its wake-ups.
    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn pending(r: &AsyncResult<u8>, w: &Waker) -> bool {
        r.poll_take(&mut Context::from_waker(w)).is_pending()
    }

    /// In a batch the values are in at once, the wake-ups come when it ends — and they
    /// still come when the batch unwinds.
    #[test]
    fn a_batch_wakes_after_its_last_result_and_on_unwind() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let (a, b) = (Cell::<u8>::new(), Cell::<u8>::new());
        let (ra, rb) = (
            AsyncResult::from_cell(a.clone()),
            AsyncResult::from_cell(b.clone()),
        );
        assert!(pending(&ra, &waker) && pending(&rb, &waker));
        deliver_batch(|| {
            a.resolve(Ok(1));
            deliver_batch(|| b.resolve(Ok(2))); // nested: joins the outer batch
            assert!(ra.ready() && rb.ready());
            assert_eq!(count.0.load(Ordering::SeqCst), 0);
        });
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
        assert!(matches!(
            ra.poll_take(&mut Context::from_waker(&waker)),
            Poll::Ready(Ok(1))
        ));

        let c = Cell::<u8>::new();
        let rc = AsyncResult::from_cell(c.clone());
        assert!(pending(&rc, &waker));
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            deliver_batch(|| {
                c.resolve(Err(Error::Cancelled));
                panic!("delivery failed");
            })
        }));
        assert!(unwound.is_err());
        assert_eq!(count.0.load(Ordering::SeqCst), 3);
        // outside a batch: at once
        let d = Cell::<u8>::new();
        let rd = AsyncResult::from_cell(d.clone());
        assert!(pending(&rd, &waker));
        d.resolve(Ok(4));
        assert_eq!(count.0.load(Ordering::SeqCst), 4);
    }
}
