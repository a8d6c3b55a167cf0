//! The worker side and the wire protocol between a supervisor and its worker.
//!
//! Parent → worker: [`ToWorker`] frames — a batch of tasks, or `Stop`.
//! Worker → parent: `Ready` once (after the initializer), then one `Done` per task, in
//! the order the tasks were sent, each sent *before* the next task starts. So when a
//! worker dies, the first task without a `Done` is exactly the one it was running, and
//! the ones after it never started.

use std::fmt;

use multiproc_ipc::{Connection, PassFd};
use multiproc_process::invoke::{InvokeError, Invoker};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

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
    #[allow(dead_code)]
    Stop,
}

/// What the worker sends.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum FromWorker {
    /// The initializer (if any) ran; tasks are being taken.
    Ready,
    /// The initializer failed; the worker exits.
    InitFailed(InvokeError),
    /// A task finished: the encoded `Vec<Result<R, InvokeError>>`, or why the chunk
    /// as a whole could not run.
    Done(Result<(Bytes, Vec<PassFd>), InvokeError>),
}

thread_local! {
    static IN_TASK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Installs (once per process) a panic hook that stays silent for panics inside pool
/// tasks — their message goes back to the parent as data, as CPython sends a worker's
/// exception back without printing it — and defers to the previous hook otherwise.
///
/// Besides the noise, this matters under Fork: the default hook takes the backtrace
/// lock, which a parent thread may have held at fork time. Called in the parent after
/// a worker start (so that it wraps the process crate's hook and fork children inherit
/// it outermost) and in fresh (Spawn/ForkServer) workers, which are single-threaded.
pub(crate) fn ensure_quiet_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_TASK.with(std::cell::Cell::get) {
                prev(info);
            }
        }));
    });
}

/// The worker loop (CPython's `pool.worker`): runs the initializer, then tasks in
/// order, one `Done` per task, until `Stop`, end-of-file, or `maxtasks` tasks.
pub(crate) fn worker_main(
    conn: Connection,
    init: Option<InitMsg>,
    maxtasks: Option<u64>,
    fresh: bool,
) {
    if fresh {
        ensure_quiet_hook();
    }
    IN_TASK.with(|t| t.set(true));
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
    let mut done: u64 = 0;
    loop {
        let batch = match conn.recv::<ToWorker>() {
            Ok(ToWorker::Tasks(batch)) => batch,
            Ok(ToWorker::Stop) | Err(_) => return,
        };
        for task in batch {
            let fds = task.fds.into_iter().map(Into::into).collect();
            let out = task
                .invoker
                .call_chunk(&task.payload.0, fds)
                .map(|(b, f)| (Bytes(b), f.into_iter().map(PassFd::from).collect()));
            let reply = FromWorker::Done(out);
            if let Err(e) = conn.send(&reply) {
                // The result itself could not be sent (too large, unencodable handles):
                // report that instead, so the parent's bookkeeping stays in step.
                let why = FromWorker::Done(Err(InvokeError::Encode(e.to_string())));
                if conn.send(&why).is_err() {
                    return;
                }
            }
            done += 1;
            if maxtasks.is_some_and(|m| done >= m) {
                return;
            }
        }
    }
}
