//! Rank 0's bookkeeping of a call: where each chunk's results go, the MPI pool's
//! [`RemoteResult`] (behind [`AsyncResult`](crate::AsyncResult)), and the sink of an
//! `imap`.
// Without `openmpi` this module is compiled for its unit tests only.
#![cfg_attr(
    not(feature = "openmpi"),
    expect(
        dead_code,
        reason = "without `openmpi` only the unit tests use this module"
    )
)]

use std::collections::{HashMap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use multiproc_pool::Error;
use multiproc_process::invoke::InvokeError;
use serde::de::DeserializeOwned;

/// Locks, ignoring poisoning: every critical section leaves its state consistent.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A chunk's outcome: its encoded per-item results, or why the whole chunk failed.
pub(crate) type Outcome = Result<Vec<u8>, Error>;

/// Where a job's chunk results go.
pub(crate) trait Sink: Send + Sync {
    /// Chunk `index` finished; called at most once per chunk.
    fn complete(&self, index: usize, outcome: Outcome);
    /// Whether the call was cancelled: its queued chunks are dropped, not sent.
    fn cancelled(&self) -> bool {
        false
    }
}

/// Decodes a chunk's results; a whole-chunk failure becomes one error per item.
pub(crate) fn decode_chunk<R: DeserializeOwned>(
    outcome: Outcome,
    len: usize,
) -> Vec<Result<R, Error>> {
    let decoded = outcome.and_then(|bytes| {
        multiproc_ipc::decode::<Vec<Result<R, InvokeError>>>(&bytes, Vec::new())
            .map_err(|e| Error::Decode(e.to_string()))
    });
    match decoded {
        Ok(v) if v.len() == len => v.into_iter().map(|r| r.map_err(Error::from)).collect(),
        Ok(v) => {
            let e = Error::Decode(format!("expected {len} results, got {}", v.len()));
            (0..len).map(|_| Err(e.clone())).collect()
        }
        Err(e) => (0..len).map(|_| Err(e.clone())).collect(),
    }
}

type Callback<T> = Box<dyn FnOnce(&T) + Send>;
type ErrCallback = Box<dyn FnOnce(&Error) + Send>;

struct CellState<T> {
    value: Option<Result<T, Error>>,
    done: bool,
    /// Once the value was taken: whether it was a success.
    taken: Option<bool>,
    callback: Option<Callback<T>>,
    error_callback: Option<ErrCallback>,
}

/// The one-shot slot behind a [`RemoteResult`].
pub(crate) struct Cell<T> {
    state: Mutex<CellState<T>>,
    cv: Condvar,
    /// Mirrors `state.done`, for a waiter's short spin before it sleeps.
    ready: AtomicBool,
    /// Set by [`RemoteResult::cancel`].
    cancelled: AtomicBool,
}

/// How long a waiter yields the CPU in a loop, watching for its result, before it
/// sleeps on the condition variable: a result that comes back within this saves a
/// thread wake-up (most of a short task's round trip).
const SPIN: Duration = Duration::from_micros(50);

/// Runs the callback that fits `value`, behind `catch_unwind`; a panicking callback
/// turns the result into [`Error::Callback`].
fn run_callbacks<T>(
    value: Result<T, Error>,
    ok: Option<Callback<T>>,
    err: Option<ErrCallback>,
) -> Result<T, Error> {
    let outcome = match &value {
        Ok(v) => ok.map(|cb| catch_unwind(AssertUnwindSafe(|| cb(v)))),
        Err(e) => err.map(|cb| catch_unwind(AssertUnwindSafe(|| cb(e)))),
    };
    match outcome {
        Some(Err(payload)) => {
            let msg = multiproc_process::panic_message(&*payload);
            std::mem::forget(payload);
            Err(Error::Callback(msg))
        }
        _ => value,
    }
}

impl<T> Cell<T> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Cell {
            state: Mutex::new(CellState {
                value: None,
                done: false,
                taken: None,
                callback: None,
                error_callback: None,
            }),
            cv: Condvar::new(),
            ready: AtomicBool::new(false),
            cancelled: AtomicBool::new(false),
        })
    }

    /// Stores the value (the first one wins), running the registered callback first.
    pub(crate) fn set(&self, value: Result<T, Error>) {
        let (ok, err) = {
            let mut st = lock(&self.state);
            if st.done {
                return;
            }
            (st.callback.take(), st.error_callback.take())
        };
        let value = run_callbacks(value, ok, err);
        let mut st = lock(&self.state);
        if !st.done {
            st.value = Some(value);
            st.done = true;
            self.ready.store(true, Ordering::Release);
            self.cv.notify_all();
        }
    }

    fn wait_until(&self, deadline: Option<Instant>) -> bool {
        let spin_end = Instant::now() + SPIN;
        while !self.ready.load(Ordering::Acquire) && Instant::now() < spin_end {
            std::thread::yield_now();
        }
        let mut st = lock(&self.state);
        while !st.done {
            match deadline {
                None => st = self.cv.wait(st).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return false;
                    }
                    st = self
                        .cv
                        .wait_timeout(st, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
        true
    }
}

/// The pending result of an MPI-pool call (the MPI side of
/// [`AsyncResult`](crate::AsyncResult)).
pub(crate) struct RemoteResult<T> {
    cell: Arc<Cell<T>>,
}

impl<T> RemoteResult<T> {
    pub(crate) fn new(cell: Arc<Cell<T>>) -> Self {
        RemoteResult { cell }
    }

    pub(crate) fn failed(e: Error) -> Self {
        let cell = Cell::new();
        cell.set(Err(e));
        RemoteResult { cell }
    }

    pub(crate) fn ready(&self) -> bool {
        lock(&self.cell.state).done
    }

    pub(crate) fn successful(&self) -> Result<bool, Error> {
        let st = lock(&self.cell.state);
        match (&st.value, st.taken) {
            (Some(v), _) => Ok(v.is_ok()),
            (None, Some(ok)) => Ok(ok),
            (None, None) => Err(Error::NotReady),
        }
    }

    pub(crate) fn wait(&self) {
        self.cell.wait_until(None);
    }

    pub(crate) fn wait_timeout(&self, timeout: Duration) -> bool {
        self.cell.wait_until(Instant::now().checked_add(timeout))
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

    pub(crate) fn get(self) -> Result<T, Error> {
        self.wait();
        self.take()
    }

    pub(crate) fn get_timeout(&self, timeout: Duration) -> Result<T, Error> {
        if self.wait_timeout(timeout) {
            self.take()
        } else {
            Err(Error::Timeout)
        }
    }

    pub(crate) fn cancel(&self) -> bool {
        if self.ready() {
            return false;
        }
        self.cell.cancelled.store(true, Ordering::Relaxed);
        self.cell.set(Err(Error::Cancelled));
        true
    }

    pub(crate) fn callback(self, f: impl FnOnce(&T) + Send + 'static) -> Self {
        let mut st = lock(&self.cell.state);
        if st.done {
            if let Some(Ok(v)) = st.value.take() {
                let v = run_callbacks(Ok(v), Some(Box::new(f)), None);
                st.value = Some(v);
            }
        } else {
            st.callback = Some(Box::new(f));
        }
        drop(st);
        self
    }

    pub(crate) fn error_callback(self, f: impl FnOnce(&Error) + Send + 'static) -> Self {
        let mut st = lock(&self.cell.state);
        if st.done {
            if let Some(Err(e)) = st.value.take() {
                st.value = Some(run_callbacks(Err(e), None, Some(Box::new(f))));
            }
        } else {
            st.error_callback = Some(Box::new(f));
        }
        drop(st);
        self
    }
}

struct MapState<R> {
    chunks: Vec<Option<Vec<Result<R, Error>>>>,
    remaining: usize,
}

/// A `map`/`starmap`/`apply` job: chunks collected in order, finished into `T`.
pub(crate) struct MapJob<R, T> {
    lens: Vec<usize>,
    state: Mutex<MapState<R>>,
    finish: fn(Vec<R>) -> Result<T, Error>,
    cell: Arc<Cell<T>>,
}

impl<R, T> MapJob<R, T> {
    pub(crate) fn new(
        lens: Vec<usize>,
        finish: fn(Vec<R>) -> Result<T, Error>,
        cell: Arc<Cell<T>>,
    ) -> Self {
        let n = lens.len();
        MapJob {
            lens,
            state: Mutex::new(MapState {
                chunks: (0..n).map(|_| None).collect(),
                remaining: n,
            }),
            finish,
            cell,
        }
    }

    /// Resolves a job of no chunks at once.
    pub(crate) fn finish_empty(&self) {
        if self.lens.is_empty() {
            self.cell.set((self.finish)(Vec::new()));
        }
    }
}

impl<R: DeserializeOwned + Send, T: Send> Sink for MapJob<R, T> {
    fn cancelled(&self) -> bool {
        self.cell.cancelled.load(Ordering::Relaxed)
    }

    fn complete(&self, index: usize, outcome: Outcome) {
        let Some(&len) = self.lens.get(index) else {
            return;
        };
        let items = decode_chunk::<R>(outcome, len);
        let all = {
            let mut st = lock(&self.state);
            match st.chunks.get_mut(index) {
                Some(slot @ None) => *slot = Some(items),
                _ => return,
            }
            st.remaining -= 1;
            if st.remaining > 0 {
                return;
            }
            std::mem::take(&mut st.chunks)
        };
        let mut out = Vec::with_capacity(self.lens.iter().sum());
        let mut first_err = None;
        for item in all.into_iter().flatten().flatten() {
            match item {
                Ok(v) => out.push(v),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        self.cell.set(match first_err {
            Some(e) => Err(e),
            None => (self.finish)(out),
        });
    }
}

/// Arrived chunks by index, and their arrival order.
pub(crate) type Arrived<R> = (HashMap<usize, Vec<Result<R, Error>>>, VecDeque<usize>);

/// Chunks of an `imap` as they arrive.
pub(crate) struct ImapSink<R> {
    pub(crate) lens: Mutex<HashMap<usize, usize>>,
    pub(crate) arrived: Mutex<Arrived<R>>,
    pub(crate) cv: Condvar,
}

impl<R> ImapSink<R> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(ImapSink {
            lens: Mutex::new(HashMap::new()),
            arrived: Mutex::new((HashMap::new(), VecDeque::new())),
            cv: Condvar::new(),
        })
    }
}

impl<R: DeserializeOwned + Send> Sink for ImapSink<R> {
    fn complete(&self, index: usize, outcome: Outcome) {
        let Some(len) = lock(&self.lens).remove(&index) else {
            return;
        };
        let items = decode_chunk::<R>(outcome, len);
        let mut a = lock(&self.arrived);
        a.0.insert(index, items);
        a.1.push_back(index);
        self.cv.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc<R: serde::Serialize>(v: Vec<Result<R, InvokeError>>) -> Outcome {
        Ok(multiproc_ipc::encode(&v).expect("plain").0)
    }

    #[test]
    fn map_jobs_keep_order_and_report_the_first_error() {
        let cell = Cell::new();
        let job = MapJob::<u32, Vec<u32>>::new(vec![2, 1], Ok, cell.clone());
        job.complete(1, enc(vec![Ok(3u32)]));
        assert!(!RemoteResult::new(cell.clone()).ready());
        job.complete(0, enc(vec![Ok(1u32), Ok(2)]));
        assert_eq!(RemoteResult::new(cell).get().expect("ok"), [1, 2, 3]);

        let cell = Cell::new();
        let job = MapJob::<u32, Vec<u32>>::new(vec![1, 1], Ok, cell.clone());
        job.complete(1, Err(Error::Terminated));
        job.complete(0, enc::<u32>(vec![Err(InvokeError::Panicked("p".into()))]));
        assert!(matches!(
            RemoteResult::new(cell).get(),
            Err(Error::Panicked(m)) if m.message() == "p"
        ));
    }

    #[test]
    fn callbacks_run_once_and_their_panics_are_errors() {
        let (tx, rx) = std::sync::mpsc::channel();
        let cell = Cell::<u8>::new();
        let r = RemoteResult::new(cell.clone()).callback(move |v| {
            let _ = tx.send(*v);
        });
        cell.set(Ok(5));
        cell.set(Ok(6));
        assert_eq!(rx.try_recv(), Ok(5));
        assert!(rx.try_recv().is_err());
        assert_eq!(r.get().expect("value"), 5);

        let cell = Cell::<u8>::new();
        let r = RemoteResult::new(cell.clone()).callback(|_| panic!("cb"));
        cell.set(Ok(1));
        assert!(matches!(r.get(), Err(Error::Callback(m)) if m == "cb"));
        let r = RemoteResult::<u8>::failed(Error::Terminated);
        assert!(matches!(
            r.get_timeout(Duration::from_secs(1)),
            Err(Error::Terminated)
        ));
        let r = RemoteResult::new(Cell::<u8>::new());
        assert!(!r.wait_timeout(Duration::from_millis(1)));
        assert!(matches!(r.successful(), Err(Error::NotReady)));
    }

    #[test]
    fn a_timed_out_get_can_be_retried_and_the_value_is_handed_out_once() {
        let cell = Cell::<u8>::new();
        let r = RemoteResult::new(cell.clone());
        assert!(matches!(
            r.get_timeout(Duration::from_millis(1)),
            Err(Error::Timeout)
        ));
        assert!(matches!(
            r.get_timeout(Duration::from_millis(1)),
            Err(Error::Timeout)
        ));
        cell.set(Ok(7));
        assert_eq!(r.get_timeout(Duration::from_secs(60)).expect("value"), 7);
        assert!(matches!(
            r.get_timeout(Duration::from_secs(60)),
            Err(Error::AlreadyTaken)
        ));
        assert!(r.successful().expect("known once taken"));
        assert!(matches!(r.get(), Err(Error::AlreadyTaken)));
    }
}
