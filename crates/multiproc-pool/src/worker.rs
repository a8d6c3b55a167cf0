//! The worker side and the wire protocol between a supervisor and its worker.
//!
//! Parent → worker: [`ToWorker`] frames on the socket — a batch of tasks, or `Stop`.
//! Worker → parent: `Ready` once (after the initializer) on the socket; then, for each
//! task in the order the tasks were sent, its result *before the next task starts*:
//! into the shared result ring ([`crate::ring`]) when it fits, otherwise as a
//! `Done(seq, …)` frame on the socket. The worker stores "task `seq` started" in the
//! ring's header before running it. So when a worker dies, the results it published
//! are all found (ring and socket are drained), and the first task without one is
//! exactly the one it was running if the started count says so; the ones after it
//! never started. The worker rings the supervisor's doorbell (a `Wake` frame) only when
//! the supervisor said it is going to sleep and is due a wake-up.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use multiproc_ipc::{Connection, PassFd, SharedSegment};
use multiproc_process::Target;
use multiproc_process::invoke::{InvokeError, Invoker};
use serde::de::{self, DeserializeOwned, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{PanicWire, TaskPanic};
use crate::ring::{KIND_ERR, KIND_OK, Ring};

/// A byte buffer that postcard encodes as one length-prefixed blob (not a sequence of
/// individually encoded `u8`s).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Bytes(pub(crate) Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Bytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
                Ok(Bytes(v.to_vec()))
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
                Ok(Bytes(v))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

/// One task as it travels: the function, and the encoded chunk of argument tuples.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct TaskMsg {
    pub(crate) invoker: Invoker,
    pub(crate) payload: Bytes,
    pub(crate) fds: Vec<PassFd>,
}

/// The initializer and its encoded arguments.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct InitMsg {
    pub(crate) invoker: Invoker,
    pub(crate) payload: Bytes,
    pub(crate) fds: Vec<PassFd>,
}

/// What the parent sends (owned form, received by the worker).
#[derive(Debug, Deserialize)]
pub(crate) enum ToWorker {
    Tasks(Vec<TaskMsg>),
    Stop,
}

/// What the parent sends (borrowed form: in-flight tasks stay in the parent for requeueing).
#[derive(Debug, Serialize)]
pub(crate) enum ToWorkerRef<'a> {
    Tasks(Vec<&'a TaskMsg>),
    Stop,
}

/// What the worker sends.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum FromWorker {
    /// The initializer (if any) ran; tasks are being taken.
    Ready,
    /// The initializer failed; the worker exits.
    InitFailed(InvokeError),
    /// Task `seq` finished and its result did not go into the ring (too large, or it
    /// carries handles): the encoded `Vec<Result<R, InvokeError>>`, or why the chunk
    /// as a whole could not run.
    Done(u64, Result<(Bytes, Vec<PassFd>), InvokeError>),
    /// The doorbell: results the sleeping supervisor asked for are in the ring.
    Wake,
}

thread_local! {
    static IN_TASK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// What the hook recorded about the last panic in a task on this thread: where, and
    /// the backtrace text (or why there is none). Taken by the task guard.
    static LAST_PANIC: std::cell::RefCell<Option<Recorded>> =
        const { std::cell::RefCell::new(None) };
}

/// Where a task panicked and the worker's backtrace there (`Err`: why there is none).
type Recorded = (Option<String>, Result<String, String>);

/// Panics of this process that are being handed to the previous hook (std's default
/// one takes std's backtrace lock). A fork child inherits the count: when it is not
/// zero, a thread of the parent may have held that lock at the fork, and the child
/// (where that thread does not exist) must not take it.
static OUTSIDE_PANICS: AtomicUsize = AtomicUsize::new(0);

/// Installs (once per process) the panic hook of pool workers. A panic inside a task
/// is not printed — its message goes back to the parent as data, as CPython sends a
/// worker's exception back without printing it — and the hook records where it
/// happened and the worker's backtrace for the task guard ([`Guarded`]), CPython's
/// `RemoteTraceback`. Other panics go to the previous hook.
///
/// Called in the parent after a worker start (there it counts the parent's panics for
/// its Fork children, see [`OUTSIDE_PANICS`]) and at the top of fresh (Spawn and
/// ForkServer) workers, which are single-threaded. Fork workers add their own layer:
/// see [`install_in_fork_worker`].
pub(crate) fn ensure_quiet_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(install);
}

fn install() {
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if IN_TASK.with(std::cell::Cell::get) {
            record_task_panic(info);
        } else {
            OUTSIDE_PANICS.fetch_add(1, Ordering::SeqCst);
            prev(info);
            OUTSIDE_PANICS.fetch_sub(1, Ordering::SeqCst);
        }
    }));
}

/// In a Fork worker: puts the pool's hook outermost. The inherited chain may not have
/// it outermost — the process crate installs its own hook at the first Fork start of
/// the program, which can come after the pool's (a Spawn pool first), and in a fork
/// child that hook prints the panic and returns without calling the hooks under it —
/// or not at all (the first Fork worker is forked before the parent installs the
/// pool's). Skipped when the parent was handling a panic at the fork: `set_hook` takes
/// std's hook lock, which that thread held.
fn install_in_fork_worker() {
    if OUTSIDE_PANICS.load(Ordering::SeqCst) == 0 {
        install();
    }
}

/// The hook's part for a panic in a task: records where and the backtrace. Costs
/// nothing until a task panics; then the backtrace is captured and symbolized here
/// (the addresses mean nothing in the parent) and bounded to
/// [`MAX_REMOTE_BACKTRACE`](crate::MAX_REMOTE_BACKTRACE) bytes.
fn record_task_panic(info: &std::panic::PanicHookInfo<'_>) {
    let location = info.location().map(ToString::to_string);
    let backtrace = if OUTSIDE_PANICS.load(Ordering::SeqCst) != 0 {
        Err(
            "the worker was forked while its parent was handling a panic (std's backtrace \
             lock may be held for ever in the worker)"
                .to_string(),
        )
    } else {
        let bt = std::backtrace::Backtrace::force_capture();
        match bt.status() {
            std::backtrace::BacktraceStatus::Captured => {
                let text = bt.to_string();
                let short = crate::error::short_backtrace(&text);
                Ok(crate::error::bound_backtrace(short.trim_end().to_string()))
            }
            _ => Err("backtraces are not supported on this platform".to_string()),
        }
    };
    // Always overwritten, so that a panic the task caught itself is never taken for
    // a later one.
    let _ = LAST_PANIC.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = Some((location, backtrace));
        }
    });
}

/// A task as it runs in a worker: calls `F` behind its own `catch_unwind`, so that a
/// panic comes back as a [`TaskPanic`] with the payload's kind, the location and the
/// worker's backtrace (the process crate's invoker would keep only the message).
/// Zero-sized like `F`, so it is a [`Target`] that an `Invoker` can name.
pub(crate) struct Guarded<F>(pub(crate) F);

impl<F: Copy> Clone for Guarded<F> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<F: Copy> Copy for Guarded<F> {}

/// What a task's guard returns for each call.
pub(crate) type TaskOut<R> = Result<R, PanicWire>;

impl<F, A> Target<A> for Guarded<F>
where
    F: Target<A>,
    A: Serialize + DeserializeOwned + Send + 'static,
{
    type Output = TaskOut<F::Output>;

    fn call(self, args: A) -> Self::Output {
        let f = self.0;
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || f.call(args))).map_err(
            |payload| {
                let recorded = LAST_PANIC
                    .try_with(|slot| slot.try_borrow_mut().ok().and_then(|mut s| s.take()))
                    .ok()
                    .flatten();
                let (location, backtrace) = recorded.unwrap_or_else(|| {
                    (
                        None,
                        Err(
                            "the pool's panic hook did not see this panic (another hook \
                             replaced it)"
                                .to_string(),
                        ),
                    )
                });
                let p = TaskPanic::caught(&*payload, location, backtrace);
                // Dropping a panic payload can itself panic: leak it, as the process
                // crate does.
                std::mem::forget(payload);
                p.into_wire()
            },
        )
    }
}

/// The worker reads the clock after this many tasks (and at the end of each batch).
const TIME_EVERY: u64 = 32;

/// Puts a task's result in the ring if it fits there; `false` if it must go over the
/// socket.
fn push_result(
    ring: &Ring,
    seq: u64,
    out: &Result<(Vec<u8>, Vec<std::os::fd::OwnedFd>), InvokeError>,
) -> bool {
    match out {
        Ok((bytes, fds)) => fds.is_empty() && ring.try_push(seq, KIND_OK, bytes),
        Err(e) => match multiproc_ipc::encode(e) {
            Ok((bytes, fds)) => fds.is_empty() && ring.try_push(seq, KIND_ERR, &bytes),
            Err(_) => false,
        },
    }
}

/// The worker loop (CPython's `pool.worker`): runs the initializer, then tasks in
/// order, publishing each result before the next task starts, until `Stop`,
/// end-of-file, or `maxtasks` tasks.
pub(crate) fn worker_main(
    conn: Connection,
    ring: SharedSegment,
    init: Option<InitMsg>,
    maxtasks: Option<u64>,
    fresh: bool,
) {
    if fresh {
        ensure_quiet_hook();
    } else {
        install_in_fork_worker();
    }
    IN_TASK.with(|t| t.set(true));
    let Ok(ring) = Ring::from_segment(ring) else {
        return;
    };
    if let Some(init) = init {
        let fds = init.fds.into_iter().map(Into::into).collect();
        if let Err(e) = init.invoker.call(&init.payload.0, fds) {
            let _ = conn.send(&FromWorker::InitFailed(e));
            return;
        }
    }
    if conn.send(&FromWorker::Ready).is_err() {
        return;
    }
    let mut seq: u64 = 0;
    loop {
        let batch = match conn.recv::<ToWorker>() {
            Ok(ToWorker::Tasks(batch)) => batch,
            Ok(ToWorker::Stop) | Err(_) => return,
        };
        // The clock is read once per group of tasks (it is not free on every machine):
        // the supervisor sizes its window from the average.
        let mut stamp = Instant::now();
        let mut untimed = 0u64;
        let last = batch.len().saturating_sub(1);
        for (i, task) in batch.into_iter().enumerate() {
            let fds = task.fds.into_iter().map(Into::into).collect();
            ring.set_started(seq + 1);
            let out = task.invoker.call_chunk(&task.payload.0, fds);
            untimed += 1;
            if i == last || untimed == TIME_EVERY {
                let now = Instant::now();
                let ns = u64::try_from((now - stamp).as_nanos()).unwrap_or(u64::MAX);
                ring.add_busy(ns, std::mem::take(&mut untimed));
                stamp = now;
            }
            if !push_result(&ring, seq, &out) {
                let out = out.map(|(b, f)| (Bytes(b), f.into_iter().map(PassFd::from).collect()));
                if let Err(e) = conn.send(&FromWorker::Done(seq, out)) {
                    // The result itself could not be sent (too large, unencodable
                    // handles): report that instead, so the parent's bookkeeping stays
                    // in step.
                    let why = FromWorker::Done(seq, Err(InvokeError::Encode(e.to_string())));
                    if conn.send(&why).is_err() {
                        return;
                    }
                }
            }
            seq += 1;
            if ring.publish_done(seq) && conn.send(&FromWorker::Wake).is_err() {
                return;
            }
            if maxtasks.is_some_and(|m| seq >= m) {
                return;
            }
        }
    }
}
