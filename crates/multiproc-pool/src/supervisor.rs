//! The parent side: shared pool state and one supervising thread per worker slot.
//!
//! Each supervisor owns one worker process, the parent end of its duplex connection and
//! the worker's result ring. It sends tasks in batches (an adaptive window: about
//! [`WINDOW_WORK`] of work in flight, as measured by the worker), takes results from
//! the ring in bulk, and sleeps in `poll` on the connection (results too large for the
//! ring, the doorbell), the worker's pidfd and its own wake-up eventfd — so a dead
//! worker is noticed whatever its siblings inherited. See [`crate::ring`] for the
//! doorbell protocol and why a dead worker's running task is still known exactly.

use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use multiproc_ipc::{Connection, PassFd, Pipe};
use multiproc_process::{Process, StartMethod};

use crate::error::{Death, Error};
use crate::job::{Outcome, Task, deliver_batch, lock};
use crate::ring::{KIND_ERR, KIND_OK, Record, Ring};
use crate::sys;
use crate::worker::{self, Bytes, FromWorker, InitMsg, ToWorkerRef};

/// Workers that die before saying `Ready` this many times in a row break the pool.
const START_FAILURE_LIMIT: u32 = 3;
/// How long a stopping worker gets to exit before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// How much work (by the worker's own measure) a supervisor keeps in flight.
const WINDOW_WORK: Duration = Duration::from_millis(4);
/// Bytes of task payload sent to a worker and not yet begun by it (so possibly still
/// unread in the socket), at most, while the worker has tasks pending. Kept well below
/// a socket buffer, so the supervisor's send cannot block while its worker is itself
/// blocked sending a result back (the ring full, or a result too large for it): each
/// would wait for the other for ever. Counting per batch was not enough: with small
/// tasks and a large window the supervisor sent batch after batch, filled the socket,
/// and a worker whose ring had filled meanwhile blocked on its `Done` frame. A larger
/// task goes alone, once the worker has nothing pending (it is then reading, not
/// sending).
const BATCH_BYTES: usize = 64 << 10;
/// Tasks in flight for a worker whose task durations are not known yet.
const FIRST_WINDOW: usize = 4;
/// Longest a result waits in the ring while its supervisor sleeps for a later one.
const RESULT_LATENCY: Duration = Duration::from_millis(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Running,
    Closed,
    Terminated,
}

/// The initializer, kept in the parent; each worker gets a copy of its descriptors.
pub(crate) struct Init {
    pub(crate) invoker: multiproc_process::invoke::Invoker,
    pub(crate) payload: Vec<u8>,
    pub(crate) fds: Vec<OwnedFd>,
}

impl Init {
    fn to_msg(&self) -> std::io::Result<InitMsg> {
        let fds = self
            .fds
            .iter()
            .map(|f| f.try_clone().map(PassFd::from))
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(InitMsg {
            invoker: self.invoker,
            payload: Bytes(self.payload.clone()),
            fds,
        })
    }
}

pub(crate) struct State {
    pub(crate) queue: VecDeque<Task>,
    pub(crate) phase: Phase,
    /// Set when the pool is broken (initializer failed, workers keep dying at start).
    pub(crate) broken: Option<Error>,
    /// Per slot: whether its supervisor waits for work (and must be woken).
    idle: Vec<bool>,
    /// Per slot: the current worker.
    pub(crate) workers: Vec<Option<Arc<Process<()>>>>,
    /// Lazy iterators (`imap`) still feeding: the pool keeps serving them after `close`.
    pub(crate) feeders: usize,
    /// Supervisors still running.
    pub(crate) live: usize,
}

pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    /// Signalled when a supervisor exits.
    pub(crate) exited: Condvar,
    wakers: Vec<OwnedFd>,
    /// Per slot: the result ring, reused by each worker of the slot in turn.
    rings: Vec<Ring>,
    pub(crate) method: StartMethod,
    pub(crate) processes: usize,
    init: Option<Init>,
    maxtasks: Option<u64>,
    window: usize,
    /// Workers ignore SIGINT (`PoolBuilder::workers_ignore_sigint`).
    ignore_sigint: bool,
    /// Under Fork, worker starts are serialized so that no sibling inherits another
    /// worker's end of its connection (its death must show as end-of-file).
    start_lock: Mutex<()>,
}

impl Shared {
    pub(crate) fn new(
        processes: usize,
        method: StartMethod,
        init: Option<Init>,
        maxtasks: Option<u64>,
        window: usize,
        ignore_sigint: bool,
    ) -> Result<Arc<Self>, Error> {
        let wakers = (0..processes)
            .map(|_| sys::eventfd())
            .collect::<Result<Vec<_>, _>>()?;
        let rings = (0..processes)
            .map(|_| Ring::new())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                phase: Phase::Running,
                broken: None,
                idle: vec![false; processes],
                workers: (0..processes).map(|_| None).collect(),
                feeders: 0,
                live: processes,
            }),
            exited: Condvar::new(),
            wakers,
            rings,
            method,
            processes,
            init,
            maxtasks,
            window: window.max(1),
            ignore_sigint,
            start_lock: Mutex::new(()),
        }))
    }

    fn wake(&self, slot: usize) {
        if let Some(fd) = self.wakers.get(slot) {
            sys::ring(fd.as_fd());
        }
    }

    /// Wakes the supervisors marked idle in `st` (clearing the marks).
    pub(crate) fn wake_idle(&self, st: &mut State) {
        for slot in 0..st.idle.len() {
            if std::mem::take(&mut st.idle[slot]) {
                self.wake(slot);
            }
        }
    }

    pub(crate) fn wake_all(&self) {
        for slot in 0..self.wakers.len() {
            self.wake(slot);
        }
    }

    /// Queues tasks. Lazy feeders (`from_feeder`) may submit after `close`.
    pub(crate) fn submit(
        &self,
        tasks: Vec<Task>,
        from_feeder: bool,
    ) -> Result<(), (Error, Vec<Task>)> {
        let mut st = lock(&self.state);
        if let Some(e) = &st.broken {
            return Err((e.clone(), tasks));
        }
        match st.phase {
            Phase::Running => {}
            Phase::Closed if from_feeder => {}
            _ => return Err((Error::NotRunning, tasks)),
        }
        st.queue.extend(tasks);
        self.wake_idle(&mut st);
        Ok(())
    }

    /// Breaks the pool: records `e`, fails every queued task with it, wakes everyone.
    pub(crate) fn break_pool(&self, e: Error) {
        let failed: Vec<Task> = {
            let mut st = lock(&self.state);
            if st.broken.is_none() {
                tracing::error!("{e}; the pool is broken");
                st.broken = Some(e.clone());
            }
            st.queue.drain(..).collect()
        };
        self.wake_all();
        for t in failed {
            t.finish(Err(e.clone()));
        }
    }
}

fn worker_name(method: StartMethod, default: &str) -> String {
    let prefix = match method {
        StartMethod::Fork => "Fork",
        StartMethod::Spawn => "Spawn",
        _ => "ForkServer",
    };
    default.replacen("Process", &format!("{prefix}PoolWorker"), 1)
}

/// A running worker as its supervisor sees it.
pub(crate) struct Worker {
    process: Arc<Process<()>>,
    conn: Connection,
    /// Tasks sent and not yet finished, by sequence number from `base`; a slot is
    /// `None` once its result is in (results may arrive out of order between the ring
    /// and the socket).
    inflight: VecDeque<Option<Task>>,
    /// Sequence number of `inflight[0]`.
    base: u64,
    /// Tasks sent (the next sequence number).
    sent: u64,
    /// Tasks sent whose result has not arrived.
    pending: usize,
    /// Results received.
    received: u64,
    ready: bool,
    /// The worker's timed-task count and busy time at the last estimate, and the
    /// estimated duration of one task (0: not known yet).
    seen_done: u64,
    seen_busy: u64,
    task_ns: u64,
}

impl Worker {
    /// Payload bytes (as counted for [`BATCH_BYTES`]) of the tasks sent that the
    /// worker has not begun: an upper bound of what is unread in its socket.
    fn unstarted_bytes(&self, ring: &Ring) -> usize {
        let started = ring.started().clamp(self.base, self.sent);
        let from = usize::try_from(started - self.base).unwrap_or(usize::MAX);
        self.inflight
            .iter()
            .skip(from)
            .flatten()
            .map(|t| t.msg.payload.0.len() + 16)
            .sum()
    }

    /// Takes task `seq`, whose result is in. `None` if no such task was pending (the
    /// worker is confused or lying: it is treated as broken).
    fn take(&mut self, seq: u64) -> Option<Task> {
        let idx = seq.checked_sub(self.base)?;
        let task = usize::try_from(idx)
            .ok()
            .and_then(|i| self.inflight.get_mut(i))
            .and_then(Option::take)?;
        self.pending -= 1;
        self.received += 1;
        while matches!(self.inflight.front(), Some(None)) {
            self.inflight.pop_front();
            self.base += 1;
        }
        Some(task)
    }

    /// The tasks still pending, in order.
    fn take_pending(&mut self) -> VecDeque<Task> {
        self.pending = 0;
        std::mem::take(&mut self.inflight)
            .into_iter()
            .flatten()
            .collect()
    }

    /// How many tasks to keep in flight: about [`WINDOW_WORK`] of work, at least 2 (so
    /// the next task is always there), at most `window`.
    fn cap(&self, window: usize) -> usize {
        let n = match self.task_ns {
            0 => FIRST_WINDOW,
            ns => usize::try_from(WINDOW_WORK.as_nanos() / u128::from(ns)).unwrap_or(usize::MAX),
        };
        n.clamp(2, window.max(2)).min(window)
    }

    /// Updates the task-duration estimate from the ring's counters.
    fn measure(&mut self, ring: &Ring) {
        let (timed, busy) = ring.busy();
        if timed > self.seen_done {
            let ns = busy.wrapping_sub(self.seen_busy) / (timed - self.seen_done);
            self.task_ns = ns.max(1);
            self.seen_done = timed;
            self.seen_busy = busy;
        }
    }
}

/// Starts the first worker of `slot`, in the calling thread (`Pool::build`, so that the
/// forks do not wait for the supervisor threads to be scheduled), and records it.
pub(crate) fn start_first(shared: &Shared, slot: usize) -> Result<Worker, Error> {
    let w = start_worker(shared, &shared.rings[slot])?;
    lock(&shared.state).workers[slot] = Some(w.process.clone());
    Ok(w)
}

fn start_worker(shared: &Shared, ring: &Ring) -> Result<Worker, Error> {
    let init = shared.init.as_ref().map(Init::to_msg).transpose()?;
    let _serial = (shared.method == StartMethod::Fork).then(|| lock(&shared.start_lock));
    let (mine, theirs) = Pipe::duplex()?;
    let fresh = shared.method != StartMethod::Fork;
    // The previous worker of this slot (if any) is reaped: nothing writes the ring.
    ring.reset();
    let builder = Process::new(
        worker::worker_main,
        (theirs, ring.segment().clone(), init, shared.maxtasks, fresh),
    )
    .start_method(shared.method)
    .daemon(true)
    .ignore_sigint(shared.ignore_sigint);
    let name = worker_name(shared.method, builder.get_name());
    let process = builder.name(name).start()?;
    worker::ensure_quiet_hook();
    Ok(Worker {
        process: Arc::new(process),
        conn: mine,
        inflight: VecDeque::new(),
        base: 0,
        sent: 0,
        pending: 0,
        received: 0,
        ready: false,
        seen_done: 0,
        seen_busy: 0,
        task_ns: 0,
    })
}

enum Wait {
    Readable,
    Dead,
    Woken,
}

fn wait_for(w: &Worker, waker: &OwnedFd, timeout: Option<Duration>) -> Wait {
    let sentinel = w.process.sentinel();
    let fds = [w.conn.as_fd(), sentinel.as_fd(), waker.as_fd()];
    match sys::poll_readable(fds, timeout) {
        None => Wait::Dead,
        Some([true, _, _]) => Wait::Readable,
        Some([_, true, _]) => Wait::Dead,
        Some([_, _, woken]) => {
            if woken {
                sys::drain(waker.as_fd());
            }
            Wait::Woken
        }
    }
}

/// What a reply from the worker means for the loop.
enum Reply {
    Ok,
    InitFailed(String),
    Broken,
}

fn handle_reply(w: &mut Worker, msg: Result<FromWorker, multiproc_ipc::RecvError>) -> Reply {
    match msg {
        Ok(FromWorker::Ready) => {
            w.ready = true;
            Reply::Ok
        }
        Ok(FromWorker::InitFailed(e)) => Reply::InitFailed(e.to_string()),
        Ok(FromWorker::Wake) => Reply::Ok,
        Ok(FromWorker::Done(seq, r)) => {
            let outcome = r
                .map(|(b, fds)| (b.0, fds.into_iter().map(OwnedFd::from).collect()))
                .map_err(Error::from);
            match w.take(seq) {
                Some(task) => {
                    task.finish(outcome);
                    Reply::Ok
                }
                None => Reply::Broken,
            }
        }
        Err(_) => Reply::Broken,
    }
}

/// A task whose result is in, to be finished once the worker has been given more work.
type Delivered = Vec<(Task, Outcome)>;

/// Hands the results over as one batch: the tasks awaiting them are woken after the
/// last (`job::deliver_batch`).
fn finish_all(delivered: &mut Delivered) {
    if delivered.is_empty() {
        return;
    }
    deliver_batch(|| {
        for (task, outcome) in delivered.drain(..) {
            task.finish(outcome);
        }
    });
}

/// Takes every result in the ring, appending the tasks and outcomes to `out`. `Err` if
/// the ring is corrupt or a record names no pending task: the worker cannot be trusted
/// any more.
fn drain_ring(
    w: &mut Worker,
    ring: &Ring,
    buf: &mut Vec<Record>,
    out: &mut Delivered,
) -> Result<usize, ()> {
    buf.clear();
    let n = ring.drain(buf).map_err(|_| ())?;
    let mut ok = true;
    for rec in buf.drain(..) {
        let outcome = match rec.kind {
            KIND_OK => Ok((rec.payload, Vec::new())),
            KIND_ERR => Err(
                match multiproc_ipc::decode::<multiproc_process::invoke::InvokeError>(
                    &rec.payload,
                    Vec::new(),
                ) {
                    Ok(e) => Error::from(e),
                    Err(e) => Error::Decode(e.to_string()),
                },
            ),
            _ => {
                ok = false;
                continue;
            }
        };
        match w.take(rec.seq) {
            Some(task) => out.push((task, outcome)),
            None => ok = false,
        }
    }
    if n > 0 {
        w.measure(ring);
    }
    if ok { Ok(n) } else { Err(()) }
}

thread_local! {
    /// The pool whose supervisor runs on this thread (its `Shared`'s address; 0: none).
    /// The thread holds that `Arc` for its whole life, so the address is not reused
    /// while the mark can be read.
    static SUPERVISING: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Whether the calling thread is one of `shared`'s supervisors — that is, a result
/// callback of this pool is running: the thread cannot wait for the pool's threads.
pub(crate) fn on_own_thread(shared: &Arc<Shared>) -> bool {
    SUPERVISING.with(|s| s.get() == Arc::as_ptr(shared) as usize)
}

/// The supervising thread of one worker slot, given the slot's first worker (or why
/// it could not be started: that breaks the pool).
pub(crate) fn supervise(shared: Arc<Shared>, slot: usize, first: Result<Worker, Error>) {
    SUPERVISING.with(|s| s.set(Arc::as_ptr(&shared) as usize));
    let waker = &shared.wakers[slot];
    let ring = &shared.rings[slot];
    let mut records = Vec::new();
    let mut delivered = Delivered::new();
    let mut worker = first.map_err(|e| shared.break_pool(e)).ok();
    let mut start_failures = 0u32;
    loop {
        // ------------------------------------------------ take what the ring holds
        if let Some(w) = worker.as_mut() {
            if drain_ring(w, ring, &mut records, &mut delivered).is_err() {
                finish_all(&mut delivered);
                tracing::error!(
                    "pool worker {} wrote a corrupt result ring",
                    w.process.pid()
                );
                let _ = w.process.kill();
                handle_death(&shared, slot, &mut worker, &mut start_failures);
                continue;
            }
        }

        // ------------------------------------------------ decide under the lock
        let (batch, stop) = match decide(&shared, slot, worker.as_ref(), ring) {
            Turn::Leave => {
                finish_all(&mut delivered);
                break;
            }
            Turn::LeaveIdle => break,
            Turn::Go { batch, stop } => (batch, stop),
        };

        // ------------------------------------------------ start a worker if needed
        let Some(w) = worker.as_mut() else {
            match start_replacement(&shared, slot, ring) {
                Some(w) => worker = Some(w),
                None => break,
            }
            continue;
        };

        if stop {
            finish_all(&mut delivered);
            stop_worker(w);
            worker = None;
            break;
        }

        if !batch.is_empty() {
            let sent = send_batch(w, batch);
            // The worker has its next tasks: now hand the results over.
            finish_all(&mut delivered);
            if sent.is_err() {
                // The worker is gone or going; its death is handled below.
                handle_death(&shared, slot, &mut worker, &mut start_failures);
            }
            continue;
        }

        if !delivered.is_empty() {
            finish_all(&mut delivered);
            continue;
        }

        // ------------------------------------------------ wait for something
        let woke = wait_for(w, waker, arm_doorbell(w, ring));
        ring.disarm();
        if let ControlFlow::Break(()) =
            on_wake(&shared, slot, woke, &mut worker, &mut start_failures)
        {
            break;
        }
    }
    leave(&shared, slot, worker);
}

/// What a supervisor does next, as [`decide`] found it under the state lock.
enum Turn {
    /// The pool is terminated or broken: hand the results taken over, then leave.
    Leave,
    /// No worker runs and the pool is closed with nothing left to do: leave.
    LeaveIdle,
    /// Go on: the tasks to send (maybe none), and whether to stop the worker (the pool
    /// is closed and all is done).
    Go { batch: Vec<Task>, stop: bool },
}

/// Under the state lock: whether to leave, and else the worker's next batch; then,
/// outside the lock, fails the cancelled tasks it took off the queue.
fn decide(shared: &Shared, slot: usize, worker: Option<&Worker>, ring: &Ring) -> Turn {
    let mut cancelled = Vec::new();
    let mut batch = Vec::new();
    let mut stop = false;
    {
        let mut st = lock(&shared.state);
        if st.phase == Phase::Terminated || st.broken.is_some() {
            return Turn::Leave;
        }
        let drained = st.queue.is_empty() && st.feeders == 0;
        match worker {
            None => {
                // Replacements start only while there is work to do.
                if st.phase == Phase::Closed && drained {
                    return Turn::LeaveIdle;
                }
            }
            Some(w) => {
                fill_batch(shared, &mut st, w, ring, &mut batch, &mut cancelled);
                if batch.is_empty() && w.pending == 0 {
                    if st.phase == Phase::Closed && drained {
                        stop = true;
                    } else {
                        st.idle[slot] = true;
                    }
                }
            }
        }
    }
    for t in cancelled {
        t.finish(Err(Error::Cancelled));
    }
    Turn::Go { batch, stop }
}

/// Takes the worker's next tasks off the queue into `batch` (cancelled ones into
/// `cancelled`). Pipeline, but do not hoard: aim for a share of the queue, between 1 and
/// the adaptive cap; refill below half the target.
fn fill_batch(
    shared: &Shared,
    st: &mut State,
    w: &Worker,
    ring: &Ring,
    batch: &mut Vec<Task>,
    cancelled: &mut Vec<Task>,
) {
    let share = st.queue.len().div_ceil(shared.processes);
    let target = share.clamp(1, w.cap(shared.window));
    let room = shared
        .maxtasks
        .map_or(usize::MAX, |m| m.saturating_sub(w.sent) as usize);
    let low = target / 2;
    if w.pending > low {
        return;
    }
    let mut bytes = w.unstarted_bytes(ring);
    while w.pending + batch.len() < target && batch.len() < room {
        let Some(size) = st.queue.front().map(|t| t.msg.payload.0.len() + 16) else {
            break;
        };
        let alone = batch.is_empty() && w.pending == 0;
        if !alone && bytes + size > BATCH_BYTES {
            break;
        }
        let Some(t) = st.queue.pop_front() else { break };
        if t.sink.cancelled() {
            cancelled.push(t);
        } else {
            bytes += size;
            batch.push(t);
        }
    }
}

/// Starts the slot's next worker and registers it; `None` if it could not be started
/// (that breaks the pool).
fn start_replacement(shared: &Shared, slot: usize, ring: &Ring) -> Option<Worker> {
    let started = start_worker(shared, ring);
    let mut st = lock(&shared.state);
    match started {
        Ok(w) => {
            st.workers[slot] = Some(w.process.clone());
            Some(w)
        }
        Err(e) => {
            drop(st);
            shared.break_pool(e);
            None
        }
    }
}

/// Asks the worker to exit (the pool is closed and it has nothing left to do); kills
/// it if it does not within [`STOP_GRACE`].
fn stop_worker(w: &mut Worker) {
    let _ = w.conn.send(&ToWorkerRef::Stop);
    if !matches!(w.process.join_timeout(STOP_GRACE), Ok(true)) {
        let _ = w.process.kill();
        let _ = w.process.join();
    }
}

/// Sends `batch` to the worker and counts it in flight; `Err` if the send failed.
fn send_batch(w: &mut Worker, batch: Vec<Task>) -> Result<(), multiproc_ipc::SendError> {
    let sent = w
        .conn
        .send(&ToWorkerRef::Tasks(batch.iter().map(|t| &t.msg).collect()));
    w.sent += batch.len() as u64;
    w.pending += batch.len();
    w.inflight.extend(batch.into_iter().map(Some));
    sent
}

/// How long to wait for the worker, arming its doorbell: ask for it when the worker is
/// down to half its window (time to refill) or has finished everything, whichever comes
/// first; results in between wait at most [`RESULT_LATENCY`].
fn arm_doorbell(w: &Worker, ring: &Ring) -> Option<Duration> {
    if w.pending == 0 {
        return None;
    }
    let low = (w.pending / 2) as u64;
    let wake_at = (w.received + 1).max(w.sent - low);
    if !ring.arm(wake_at) {
        // Due already: take the ring on the next turn, but read the socket first if a
        // result came that way.
        Some(Duration::ZERO)
    } else {
        (wake_at > w.received + 1).then_some(RESULT_LATENCY)
    }
}

/// Handles what woke the supervisor: a message on the connection, or the worker's
/// death. `Break` when the pool broke (the worker's initializer failed).
fn on_wake(
    shared: &Shared,
    slot: usize,
    woke: Wait,
    worker: &mut Option<Worker>,
    start_failures: &mut u32,
) -> ControlFlow<()> {
    match woke {
        Wait::Woken => {}
        Wait::Readable => {
            let Some(w) = worker.as_mut() else {
                return ControlFlow::Continue(());
            };
            let msg = w.conn.recv::<FromWorker>();
            match handle_reply(w, msg) {
                Reply::Ok => {
                    if w.ready {
                        *start_failures = 0;
                    }
                }
                Reply::InitFailed(m) => {
                    kill_and_requeue(shared, worker);
                    shared.break_pool(Error::InitializerFailed(m));
                    return ControlFlow::Break(());
                }
                Reply::Broken => handle_death(shared, slot, worker, start_failures),
            }
        }
        Wait::Dead => handle_death(shared, slot, worker, start_failures),
    }
    ControlFlow::Continue(())
}

/// The supervisor's exit: its worker (if any) is killed and its tasks failed, and the
/// last supervisor out fails whatever is still queued.
fn leave(shared: &Shared, slot: usize, worker: Option<Worker>) {
    if let Some(mut w) = worker {
        let _ = w.process.kill();
        let _ = w.process.join();
        let e = lock(&shared.state)
            .broken
            .clone()
            .unwrap_or(Error::Terminated);
        for t in w.take_pending() {
            t.finish(Err(e.clone()));
        }
    }
    let mut st = lock(&shared.state);
    st.workers[slot] = None;
    st.live -= 1;
    // The last supervisor out fails whatever is still queued (tasks requeued by a
    // dying worker while the pool was being terminated, say): nothing waits forever.
    let orphans: Vec<Task> = if st.live == 0 {
        st.queue.drain(..).collect()
    } else {
        Vec::new()
    };
    let e = st.broken.clone().unwrap_or(Error::Terminated);
    drop(st);
    for t in orphans {
        t.finish(Err(e.clone()));
    }
    shared.exited.notify_all();
}

/// Kills the worker and puts its unfinished tasks back at the head of the queue.
fn kill_and_requeue(shared: &Shared, worker: &mut Option<Worker>) {
    if let Some(mut w) = worker.take() {
        let _ = w.process.kill();
        let _ = w.process.join();
        let pending = w.take_pending();
        let mut st = lock(&shared.state);
        for t in pending.into_iter().rev() {
            st.queue.push_front(t);
        }
    }
}

/// The worker died (or its connection broke): collect what it had published, reap it,
/// fail the task it was running, requeue the ones it had not started, count start
/// failures.
fn handle_death(
    shared: &Shared,
    slot: usize,
    worker: &mut Option<Worker>,
    start_failures: &mut u32,
) {
    let Some(mut w) = worker.take() else { return };
    let ring = &shared.rings[slot];
    let (trusted, init_failed) = reap(&mut w, ring);
    let started = ring.started();
    let pid = w.process.pid();
    let code = w.process.exitcode().unwrap_or(255);
    lock(&shared.state).workers[slot] = None;

    if let Some(m) = init_failed {
        requeue(shared, w.take_pending());
        shared.break_pool(Error::InitializerFailed(m));
        return;
    }
    if !w.ready {
        // Died before it took any task: nothing it was given ever started.
        requeue(shared, w.take_pending());
        *start_failures += 1;
        let cause = Death::from_exitcode(code);
        tracing::warn!("pool worker {pid} died at start: {cause}");
        if *start_failures >= START_FAILURE_LIMIT {
            shared.break_pool(Error::WorkerStartFailed(format!(
                "worker {pid} {cause} before it was ready ({START_FAILURE_LIMIT} times in a row)"
            )));
        }
        return;
    }
    settle_pending(shared, &mut w, started, trusted, pid, code);
}

/// Makes sure the dead worker is gone and reaped, then delivers the results it
/// published: from the ring, then from the socket. Whether what it left can be trusted
/// (the ring and the socket were intact), and its initializer's failure if it reported
/// one.
fn reap(w: &mut Worker, ring: &Ring) -> (bool, Option<String>) {
    // The worker may still be alive if only its connection broke: make sure, so that
    // nothing is published after the drain below.
    if !matches!(w.process.join_timeout(Duration::from_millis(0)), Ok(true)) {
        let _ = w.process.kill();
    }
    let _ = w.process.join();
    // Results already published survive the writer: take them from the ring, then from
    // the socket (bounded: under Fork a sibling may hold the worker's end open).
    let mut records = Vec::new();
    let mut delivered = Delivered::new();
    let mut trusted = drain_ring(w, ring, &mut records, &mut delivered).is_ok();
    finish_all(&mut delivered);
    let mut init_failed = None;
    while matches!(w.conn.poll(Some(Duration::ZERO)), Ok(true)) {
        let msg = w
            .conn
            .recv_deadline::<FromWorker>(Some(Instant::now() + Duration::from_secs(1)));
        if matches!(msg, Err(multiproc_ipc::RecvError::Eof)) {
            // the clean end of what the worker sent: nothing was cut short, so the
            // started count stays trustworthy (a task sent after the worker had
            // already died must be requeued, not blamed for its death)
            break;
        }
        match handle_reply(w, msg) {
            Reply::Ok => {}
            Reply::InitFailed(m) => init_failed = Some(m),
            Reply::Broken => {
                trusted = false;
                break;
            }
        }
    }
    (trusted, init_failed)
}

/// The dead (ready) worker's unfinished tasks, once its published results are in:
/// failed if the pool is stopping; else the one it was running (if it had started one
/// by the ring's `started` count) fails with [`Error::WorkerDied`] and the rest are
/// requeued.
fn settle_pending(
    shared: &Shared,
    w: &mut Worker,
    started: u64,
    trusted: bool,
    pid: u32,
    code: i32,
) {
    // All published results are in, so they are a prefix: the first pending task was
    // running if the worker had started it (or if what it left cannot be trusted).
    let first = w.base;
    let was_running = w.pending > 0 && (started > first || !trusted);
    let retired = w.pending == 0 && shared.maxtasks.is_some_and(|m| w.sent >= m);
    let mut rest = w.take_pending();
    let stopping = {
        let st = lock(&shared.state);
        (st.phase == Phase::Terminated)
            .then_some(Error::Terminated)
            .or(st.broken.clone())
    };
    if let Some(e) = stopping {
        // Killed by `terminate` (or the pool broke): nothing is requeued.
        for t in rest {
            t.finish(Err(e.clone()));
        }
        return;
    }
    if was_running {
        if let Some(running) = rest.pop_front() {
            let cause = Death::from_exitcode(code);
            tracing::warn!("pool worker {pid} died while running a task: {cause}");
            running.finish(Err(Error::WorkerDied { pid, cause }));
        }
    } else if !retired && code != 0 {
        tracing::warn!(
            "idle pool worker {pid} died: {}",
            Death::from_exitcode(code)
        );
    }
    requeue(shared, rest);
}

fn requeue(shared: &Shared, tasks: VecDeque<Task>) {
    if tasks.is_empty() {
        return;
    }
    let mut st = lock(&shared.state);
    for t in tasks.into_iter().rev() {
        st.queue.push_front(t);
    }
    // Another idle worker may take them.
    shared.wake_idle(&mut st);
}
