//! [`IMap`]: the lazy, bounded iterator behind `imap` and `imap_unordered`.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::job::{Outcome, Sink, Task, decode_chunk, lock};
use crate::supervisor::{Phase, Shared};
use crate::worker::TaskMsg;

/// Pulls up to `n` items from the input and encodes them as one task message; `None`
/// when the input is exhausted. The error case carries the number of items pulled.
///
/// The feed may borrow the input for `'a` (`Pool::imap_ref`): it is called only from
/// [`IMapRef`]'s own `&mut self` methods, on the thread that calls `next`, and never
/// from `Drop`; what it returns is owned (encoded bytes). So borrowed input is read
/// only while the iterator is alive and being advanced, and no other thread (no
/// supervisor, no worker) ever sees it.
pub(crate) type Feed<'a> =
    Box<dyn FnMut(usize) -> Option<Result<(TaskMsg, usize), (Error, usize)>> + Send + 'a>;

/// Default in-flight chunks per worker. Small tasks need a deep pipeline: with 64 per
/// worker, `imap_unordered` of `x*x` ran at ~0.9 M items/s against `map`'s ~2.2 M/s
/// (the workers idled between refills); 512 per worker reaches `map`'s rate.
const WINDOW_PER_WORKER: usize = 512;

/// The most encoded input kept in flight by default (the window's byte bound), so that
/// large items do not multiply the memory bound by the chunk count.
const WINDOW_BYTES: usize = 64 << 20;

struct Chunks<R> {
    /// Ordered: chunk index → items. Unordered: arrival order.
    by_index: HashMap<usize, Vec<Result<R, Error>>>,
    arrived: VecDeque<Vec<Result<R, Error>>>,
    /// Whether the consumer sleeps on `arrived` (a `Condvar` notify is a system call
    /// even with nobody waiting: made only when somebody is).
    waiting: bool,
    /// The task awaiting the next result (`crate::aio::AsyncIMap`), woken as well.
    #[cfg(feature = "tokio")]
    waker: Option<std::task::Waker>,
}

impl<R> Chunks<R> {
    /// Moves every chunk that is ready (in order from chunk `next` when `ordered`) into
    /// `out`; how many chunks it took.
    fn take_ready(
        &mut self,
        ordered: bool,
        next: usize,
        out: &mut VecDeque<Result<R, Error>>,
    ) -> usize {
        let mut taken = 0;
        loop {
            let got = if ordered {
                self.by_index.remove(&(next + taken))
            } else {
                self.arrived.pop_front()
            };
            let Some(items) = got else { return taken };
            out.extend(items);
            taken += 1;
        }
    }
}

struct ImapSink<R> {
    ordered: bool,
    /// Per chunk in flight: its number of items and the bytes of its encoded input.
    lens: Mutex<HashMap<usize, (usize, usize)>>,
    /// Encoded input bytes of the chunks in flight (the window's byte bound).
    bytes: AtomicUsize,
    chunks: Mutex<Chunks<R>>,
    arrived: Condvar,
    cancelled: AtomicBool,
}

impl<R: DeserializeOwned + Send> Sink for ImapSink<R> {
    fn complete(&self, index: usize, outcome: Outcome) {
        let (len, bytes) = lock(&self.lens).remove(&index).unwrap_or((0, 0));
        self.bytes.fetch_sub(bytes, Ordering::Relaxed);
        let items = decode_chunk::<R>(outcome, len);
        let mut c = lock(&self.chunks);
        if self.ordered {
            c.by_index.insert(index, items);
        } else {
            c.arrived.push_back(items);
        }
        let wake = std::mem::take(&mut c.waiting);
        #[cfg(feature = "tokio")]
        let waker = c.waker.take();
        drop(c);
        if wake {
            self.arrived.notify_all();
        }
        #[cfg(feature = "tokio")]
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }
}

/// The results of [`Pool::imap`](crate::Pool::imap) /
/// [`Pool::imap_unordered`](crate::Pool::imap_unordered): one `Result` per input item,
/// in input order (or in completion order for `imap_unordered`).
///
/// Lazy and bounded (beyond CPython, KI-09): the input iterator is pulled only as
/// results are consumed, with at most [`window`](Self::window) chunks in flight, so an
/// endless iterator works in constant memory. A failed item (panic, dead worker) is an
/// `Err` in its place; the others carry on. Dropping the iterator cancels the chunks no
/// worker has started.
///
/// Because the input is pulled as results are consumed, an iterator created before
/// [`Pool::close`](crate::Pool::close) keeps the workers serving it until it is
/// exhausted or dropped: [`Pool::join`](crate::Pool::join) waits for that, so consume
/// or drop it before joining (CPython pulls the whole input at once). An iterator
/// created on a pool that is closed, terminated or broken yields that one error
/// ([`Error::NotRunning`], …) and ends, without pulling its input (CPython raises
/// `ValueError` at the call). The input is pulled in the thread that calls `next`, up
/// to the window ahead: if it panics, the panic comes out of that `next`, and an
/// iterator used after it yields the items pulled before the panic, then ends.
///
/// ```
/// use multiproc_pool::Pool;
/// fn square(x: u64) -> u64 { x * x }
/// let pool = Pool::new(2)?;
/// let first: Vec<u64> = pool
///     .imap(square, 0..) // endless
///     .take(5)
///     .collect::<Result<_, _>>()?;
/// assert_eq!(first, [0, 1, 4, 9, 16]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// `'a` is how long the input is borrowed: `'static` for [`Pool::imap`](crate::Pool::imap)
/// (the alias [`IMap`]), the input's lifetime for [`Pool::imap_ref`](crate::Pool::imap_ref).
pub struct IMapRef<'a, R> {
    shared: Arc<Shared>,
    feed: Feed<'a>,
    sink: Arc<ImapSink<R>>,
    chunksize: usize,
    window: usize,
    next_index: usize,
    next_yield: usize,
    inflight: usize,
    current: VecDeque<Result<R, Error>>,
    exhausted: bool,
    /// Counted in the pool's `feeders` (from creation until exhausted or dropped), so
    /// that `close` keeps the workers serving this iterator.
    registered: bool,
    /// Why the pool refused this iterator at creation (not running, broken): yielded
    /// once, then the iterator ends.
    refused: Option<Error>,
    #[cfg(feature = "progress")]
    bar: Option<indicatif::ProgressBar>,
}

/// The results of [`Pool::imap`](crate::Pool::imap) and
/// [`Pool::imap_unordered`](crate::Pool::imap_unordered), whose input is owned: see
/// [`IMapRef`].
///
/// ```
/// use multiproc_pool::{IMap, Pool};
/// fn square(x: u64) -> u64 { x * x }
/// let pool = Pool::new(2)?;
/// let results: IMap<u64> = pool.imap(square, 0..4); // owns its input: no borrow
/// let got: Vec<u64> = results.collect::<Result<_, _>>()?;
/// assert_eq!(got, [0, 1, 4, 9]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type IMap<R> = IMapRef<'static, R>;

impl<R> fmt::Debug for IMapRef<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IMap")
            .field("ordered", &self.sink.ordered)
            .field("chunksize", &self.chunksize)
            .field("window", &self.window)
            .field("inflight", &self.inflight)
            .finish_non_exhaustive()
    }
}

impl<'a, R: DeserializeOwned + Send + 'static> IMapRef<'a, R> {
    pub(crate) fn new(shared: Arc<Shared>, feed: Feed<'a>, ordered: bool) -> Self {
        let window = WINDOW_PER_WORKER * shared.processes;
        // Registered now, not at the first pull: an iterator created before `close`
        // is served after it even if its first `next` comes later (the supervisors stay
        // while feeders remain), and one created after `close` is refused here —
        // otherwise its tasks could be queued for supervisors that have already left.
        let refused = {
            let mut st = lock(&shared.state);
            match (&st.broken, st.phase) {
                (Some(e), _) => Some(e.clone()),
                (None, Phase::Running) => {
                    st.feeders += 1;
                    None
                }
                (None, _) => Some(Error::NotRunning),
            }
        };
        IMapRef {
            shared,
            feed,
            sink: Arc::new(ImapSink {
                ordered,
                lens: Mutex::new(HashMap::new()),
                bytes: AtomicUsize::new(0),
                chunks: Mutex::new(Chunks {
                    by_index: HashMap::new(),
                    arrived: VecDeque::new(),
                    waiting: false,
                    #[cfg(feature = "tokio")]
                    waker: None,
                }),
                arrived: Condvar::new(),
                cancelled: AtomicBool::new(false),
            }),
            chunksize: 1,
            window,
            next_index: 0,
            next_yield: 0,
            inflight: 0,
            current: VecDeque::new(),
            exhausted: refused.is_some(),
            registered: refused.is_none(),
            refused,
            #[cfg(feature = "progress")]
            bar: None,
        }
    }

    /// Items per task (CPython's `chunksize`, default 1; 0 is taken as 1). Set it
    /// before iterating.
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// fn square(x: u64) -> u64 { x * x }
    /// let pool = Pool::new(2)?;
    /// let got: Vec<u64> = pool.imap(square, 0..100).chunksize(10).collect::<Result<_, _>>()?;
    /// assert_eq!(got[99], 99 * 99); // in input order, ten items per task
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use = "the iterator is returned for chaining"]
    pub fn chunksize(mut self, chunksize: usize) -> Self {
        self.chunksize = chunksize.max(1);
        self
    }

    /// The most chunks in flight at once (default 512 × workers; 0 is taken as 1), and
    /// at most 64 MiB of encoded input (at least one chunk): the memory bound, and how
    /// far the pool works ahead of the consumer.
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// fn square(x: u64) -> u64 { x * x }
    /// let pool = Pool::new(2)?;
    /// let mut it = pool.imap(square, 0..1_000_000).window(4); // at most 4 tasks ahead
    /// assert_eq!(it.next().transpose()?, Some(0));
    /// assert_eq!(it.next().transpose()?, Some(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use = "the iterator is returned for chaining"]
    pub fn window(mut self, window: usize) -> Self {
        self.window = window.max(1);
        self
    }

    /// Shows a progress bar on the terminal (stderr) as items are consumed, like
    /// wrapping CPython's `imap` in `tqdm`. The length is taken from the input's size
    /// hint when it is exact. Needs the `progress` cargo feature.
    #[cfg(feature = "progress")]
    #[must_use = "the iterator is returned for chaining"]
    pub fn progress(mut self, len: Option<u64>) -> Self {
        let bar = match len {
            Some(n) => indicatif::ProgressBar::new(n),
            None => indicatif::ProgressBar::no_length(),
        };
        self.bar = Some(bar);
        self
    }

    /// Submits chunks until the window is full (refilling once it is half empty, so
    /// submissions go in batches) or the input ends.
    fn top_up(&mut self) {
        let bytes = || self.sink.bytes.load(Ordering::Relaxed);
        if self.exhausted || self.inflight > self.window / 2 || bytes() > WINDOW_BYTES / 2 {
            return;
        }
        let mut tasks = Vec::new();
        let mut failed = Vec::new();
        let mut panic = None;
        while self.inflight + tasks.len() + failed.len() < self.window
            && (self.inflight + tasks.len() == 0 || bytes() < WINDOW_BYTES)
        {
            // The input is the caller's iterator, pulled here: its panic goes back to
            // the caller, but only once the chunks pulled before it are submitted and
            // feeding has stopped — an iterator used after the panic yields those and
            // ends (as CPython's does after the input raised), rather than waiting for
            // chunks that were dropped.
            let chunksize = self.chunksize;
            let next = match catch_unwind(AssertUnwindSafe(|| (self.feed)(chunksize))) {
                Ok(next) => next,
                Err(payload) => {
                    panic = Some(payload);
                    self.exhausted = true;
                    break;
                }
            };
            match next {
                None => {
                    self.exhausted = true;
                    break;
                }
                Some(Ok((msg, len))) => {
                    let bytes = msg.payload.0.len();
                    self.sink.bytes.fetch_add(bytes, Ordering::Relaxed);
                    lock(&self.sink.lens).insert(self.next_index, (len, bytes));
                    tasks.push(Task {
                        msg,
                        sink: self.sink.clone(),
                        index: self.next_index,
                    });
                }
                Some(Err((e, len))) => {
                    lock(&self.sink.lens).insert(self.next_index, (len, 0));
                    failed.push((self.next_index, e));
                }
            }
            self.next_index += 1;
        }
        self.inflight += tasks.len() + failed.len();
        if !tasks.is_empty() {
            if let Err((e, tasks)) = self.shared.submit(tasks, true) {
                // The pool is gone: these chunks fail in place, and feeding stops.
                self.exhausted = true;
                for t in tasks {
                    t.finish(Err(e.clone()));
                }
            }
        }
        for (index, e) in failed {
            self.sink.complete(index, Err(e));
        }
        if self.exhausted {
            self.unregister();
        }
        if let Some(payload) = panic {
            resume_unwind(payload);
        }
    }

    fn unregister(&mut self) {
        if std::mem::take(&mut self.registered) {
            let mut st = lock(&self.shared.state);
            st.feeders -= 1;
            self.shared.wake_idle(&mut st);
        }
    }

    /// The next result, waiting at most until `deadline`.
    fn next_until(&mut self, deadline: Option<Instant>) -> Option<Result<R, Error>> {
        loop {
            if let Some(item) = self.current.pop_front() {
                #[cfg(feature = "progress")]
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                }
                return Some(item);
            }
            if let Some(e) = self.refused.take() {
                return Some(Err(e));
            }
            self.top_up();
            if self.inflight == 0 {
                #[cfg(feature = "progress")]
                if let Some(bar) = self.bar.take() {
                    bar.finish();
                }
                return None;
            }
            let mut c = lock(&self.sink.chunks);
            // Every chunk that is ready is taken at once (in order for `imap`): one
            // lock and at most one sleep for many results.
            let mut taken = 0;
            loop {
                taken += c.take_ready(
                    self.sink.ordered,
                    self.next_yield + taken,
                    &mut self.current,
                );
                if taken > 0 {
                    break;
                }
                c.waiting = true;
                match deadline {
                    None => {
                        c = self
                            .sink
                            .arrived
                            .wait(c)
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                    }
                    Some(d) => {
                        let now = Instant::now();
                        if now >= d {
                            c.waiting = false;
                            return Some(Err(Error::Timeout));
                        }
                        c = self
                            .sink
                            .arrived
                            .wait_timeout(c, d - now)
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .0;
                    }
                }
                c.waiting = false;
            }
            drop(c);
            self.inflight -= taken;
            self.next_yield += taken;
        }
    }

    /// The next result, waiting at most `timeout` (CPython's `next(timeout)`):
    /// `Some(Err(Error::Timeout))` when none arrived in time — the iterator stays
    /// usable — and `None` at the end.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_pool::Pool;
    ///
    /// fn square(x: u32) -> u32 { x * x }
    ///
    /// let pool = Pool::new(2)?;
    /// let mut results = pool.imap(square, 1..=3u32);
    /// let mut got = Vec::new();
    /// while let Some(r) = results.next_timeout(Duration::from_secs(60)) {
    ///     got.push(r?); // a timeout would be `Some(Err(Error::Timeout))`
    /// }
    /// assert_eq!(got, [1, 4, 9]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<Result<R, Error>> {
        self.next_until(Instant::now().checked_add(timeout))
    }
}

/// The async `next` (`crate::aio::AsyncIMap`): [`IMapRef::next_until`] that registers
/// the task's waker instead of sleeping.
#[cfg(feature = "tokio")]
impl<R: DeserializeOwned + Send + 'static> IMapRef<'_, R> {
    pub(crate) fn poll_next_item(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<R, Error>>> {
        use std::task::Poll;
        loop {
            if let Some(item) = self.current.pop_front() {
                #[cfg(feature = "progress")]
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                }
                return Poll::Ready(Some(item));
            }
            if let Some(e) = self.refused.take() {
                return Poll::Ready(Some(Err(e)));
            }
            self.top_up();
            if self.inflight == 0 {
                #[cfg(feature = "progress")]
                if let Some(bar) = self.bar.take() {
                    bar.finish();
                }
                return Poll::Ready(None);
            }
            let mut c = lock(&self.sink.chunks);
            let taken = c.take_ready(self.sink.ordered, self.next_yield, &mut self.current);
            if taken == 0 {
                // Checked and registered under the lock `complete` takes: no wake-up
                // can fall between the two.
                c.waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            drop(c);
            self.inflight -= taken;
            self.next_yield += taken;
        }
    }
}

impl<R: DeserializeOwned + Send + 'static> Iterator for IMapRef<'_, R> {
    type Item = Result<R, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_until(None)
    }
}

impl<R> Drop for IMapRef<'_, R> {
    fn drop(&mut self) {
        self.sink.cancelled.store(true, Ordering::Relaxed);
        if std::mem::take(&mut self.registered) {
            let mut st = lock(&self.shared.state);
            st.feeders -= 1;
            self.shared.wake_idle(&mut st);
        }
    }
}
