//! Server-side objects: what a manager holds, built on `std::sync` inside the server,
//! one module per object kind — its operation enum (the wire's `Op::Dict(DictOp)`, …),
//! its state and its handler. [`Obj::run`] hands each operation to its kind's handler,
//! the one place an operation of another kind is answered `NoSuchMethod`.
//!
//! Each object is behind its own mutex; blocking operations wait on its condvar in
//! slices of at most [`SLICE`], re-checking whether the caller's connection is still
//! alive and whether the server is closing, so a waiter never outlives its client and
//! never keeps the server from shutting down.

pub(crate) mod any;
pub(crate) mod barrier;
pub(crate) mod condition;
pub(crate) mod custom;
pub(crate) mod dict;
pub(crate) mod event;
pub(crate) mod list;
pub(crate) mod lock;
pub(crate) mod namespace;
pub(crate) mod queue;
pub(crate) mod set;
pub(crate) mod value;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::custom::DynShared;
use crate::error::{RemoteError, RemoteErrorKind as K};
use crate::protocol::{CustomOp, Op};
use crate::value::{Kind, OrderedMap, Value};

use any::AnyOp;
use barrier::BarrierState;
use condition::CondState;
use lock::{LockState, SemState};
use queue::QueueState;

/// Longest single condvar wait before re-checking liveness and shutdown.
const SLICE: Duration = Duration::from_millis(50);

/// Who is calling: the connection and the client thread, plus the flags a waiter watches.
pub(crate) struct Caller<'a> {
    pub(crate) conn: u64,
    pub(crate) thread: u64,
    pub(crate) alive: &'a AtomicBool,
    pub(crate) closing: &'a AtomicBool,
    /// The target object's [`Obj::destroyed`].
    pub(crate) destroyed: &'a AtomicBool,
}

/// How an operation ended short of a value.
#[derive(Debug)]
pub(crate) enum Fail {
    Remote(RemoteError),
    /// Only in try mode: the operation would have to wait; nothing was changed.
    WouldBlock,
}

impl From<RemoteError> for Fail {
    fn from(e: RemoteError) -> Self {
        Fail::Remote(e)
    }
}

pub(crate) fn err(kind: K, msg: impl Into<String>) -> Fail {
    Fail::Remote(RemoteError::new(kind, msg))
}

pub(crate) type Outcome = Result<Value, Fail>;

/// A mutex and its condvar.
#[derive(Default)]
pub(crate) struct Cell<T> {
    m: Mutex<T>,
    cv: Condvar,
}

impl<T> Cell<T> {
    fn new(v: T) -> Self {
        Cell {
            m: Mutex::new(v),
            cv: Condvar::new(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        // A panic inside a server operation cannot leave these states half-updated in a
        // way later operations rely on (each op is a few assignments); keep serving.
        self.m
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until `f` yields a value, the deadline passes (`Ok(None)`), the caller's
    /// connection dies or the server closes (errors). In try mode, returns
    /// `WouldBlock` instead of waiting. `f` runs with the lock held, after the
    /// liveness check, so a dead caller never takes anything.
    fn wait_until<R>(
        &self,
        who: &Caller<'_>,
        try_only: bool,
        timeout: Option<Duration>,
        mut f: impl FnMut(&mut T) -> Option<R>,
    ) -> Result<Option<R>, Fail> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut g = self.lock();
        loop {
            if !who.alive.load(Ordering::SeqCst) {
                return Err(err(K::ShuttingDown, "client disconnected"));
            }
            if who.closing.load(Ordering::SeqCst) {
                return Err(err(K::ShuttingDown, "the manager is shutting down"));
            }
            if who.destroyed.load(Ordering::SeqCst) {
                return Err(err(
                    K::NoSuchObject,
                    "the object was destroyed while this call waited on it",
                ));
            }
            if let Some(r) = f(&mut g) {
                self.cv.notify_all();
                return Ok(Some(r));
            }
            let now = Instant::now();
            let left = match deadline {
                Some(d) if d <= now => return Ok(None),
                Some(d) => (d - now).min(SLICE),
                None => SLICE,
            };
            if try_only {
                return Err(Fail::WouldBlock);
            }
            g = self
                .cv
                .wait_timeout(g, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }
}

/// One object held by the server.
pub(crate) enum Body {
    Dict(Mutex<OrderedMap>),
    List(Mutex<Vec<Value>>),
    Namespace(Mutex<Vec<(String, Value)>>),
    Lock(Cell<LockState>),
    RLock(Cell<LockState>),
    Sem(Cell<SemState>),
    Cond(Cell<CondState>),
    Event(Cell<bool>),
    Barrier(Cell<BarrierState>),
    Queue(Cell<QueueState>),
    Value(Mutex<Value>),
    Array(Mutex<Vec<Value>>),
    Custom(Mutex<Box<dyn DynShared>>),
    /// A set: the keys of an ordered map whose values are `None`.
    Set(Mutex<OrderedMap>),
}

pub(crate) struct Obj {
    pub(crate) kind: Kind,
    pub(crate) body: Body,
    /// Set when a client destroys the object: calls waiting on it give up (within a
    /// [`SLICE`]) instead of waiting on an object nobody can reach any more.
    pub(crate) destroyed: AtomicBool,
}

fn lk<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Obj {
    pub(crate) fn new(kind: Kind, body: Body) -> Obj {
        Obj {
            kind,
            body,
            destroyed: AtomicBool::new(false),
        }
    }

    pub(crate) fn dict(items: Vec<(Value, Value)>) -> Result<Obj, RemoteError> {
        let mut m = OrderedMap::default();
        for (k, v) in items {
            check_hashable(&k).map_err(unfail)?;
            m.insert(k, v);
        }
        Ok(Obj::new(Kind::Dict, Body::Dict(Mutex::new(m))))
    }

    pub(crate) fn lock(recursive: bool) -> Obj {
        if recursive {
            Obj::new(Kind::RLock, Body::RLock(Cell::new(LockState::new())))
        } else {
            Obj::new(Kind::Lock, Body::Lock(Cell::new(LockState::new())))
        }
    }

    pub(crate) fn semaphore(value: u64, bounded: bool) -> Obj {
        let kind = if bounded {
            Kind::BoundedSemaphore
        } else {
            Kind::Semaphore
        };
        Obj::new(kind, Body::Sem(Cell::new(SemState::new(value, bounded))))
    }

    pub(crate) fn condition() -> Obj {
        Obj::new(Kind::Condition, Body::Cond(Cell::new(CondState::new())))
    }

    pub(crate) fn event() -> Obj {
        Obj::new(Kind::Event, Body::Event(Cell::new(false)))
    }

    pub(crate) fn barrier(parties: u64) -> Result<Obj, RemoteError> {
        let st = BarrierState::new(parties)?;
        Ok(Obj::new(Kind::Barrier, Body::Barrier(Cell::new(st))))
    }

    pub(crate) fn queue(maxsize: Option<u64>, joinable: bool) -> Obj {
        let kind = if joinable {
            Kind::JoinableQueue
        } else {
            Kind::Queue
        };
        let st = QueueState::new(maxsize, joinable);
        Obj::new(kind, Body::Queue(Cell::new(st)))
    }

    /// Runs `op` for `who`. In try mode, an operation that would wait returns
    /// [`Fail::WouldBlock`] having changed nothing.
    ///
    /// A panic — in a registered type's method, or a bug here — is caught and answered
    /// as an error (`Custom` for a registered type, `RuntimeError` otherwise), as
    /// CPython's server answers an exception: the caller would otherwise wait for ever
    /// for a reply that never comes. The objects' mutexes ignore poisoning, so the
    /// object stays usable, in whatever state the panic left it.
    pub(crate) fn run(&self, op: Op, who: &Caller<'_>, try_only: bool) -> Outcome {
        let name = op.name();
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.run_unguarded(op, who, try_only)
        }))
        .unwrap_or_else(|payload| Err(self.panicked(K::RuntimeError, name, &*payload)))
    }

    /// The error answering a panic in `method`.
    fn panicked(&self, kind: K, method: &str, payload: &(dyn std::any::Any + Send)) -> Fail {
        let why = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("a panic");
        let what = format!("{}.{method} panicked: {why}", self.kind.typeid());
        tracing::error!("manager: {what}");
        err(kind, what)
    }

    /// Hands `op` to the handler of this object's kind: the one place where an
    /// operation of another kind is refused.
    fn run_unguarded(&self, op: Op, who: &Caller<'_>, try_only: bool) -> Outcome {
        let kind = &self.kind;
        match (&self.body, op) {
            (Body::Dict(m), Op::Dict(op)) => dict::run(&mut lk(m), op),
            (Body::Dict(m), Op::Any(op)) => dict::any(&lk(m), op),
            (Body::List(m), Op::List(op)) => list::run(&mut lk(m), op, false),
            (Body::List(m), Op::Any(op)) => list::any(&lk(m), op, false),
            (Body::Array(m), Op::List(op)) => list::run(&mut lk(m), op, true),
            (Body::Array(m), Op::Any(op)) => list::any(&lk(m), op, true),
            (Body::Set(m), Op::Set(op)) => set::run(&mut lk(m), op),
            (Body::Set(m), Op::Any(op)) => set::any(&lk(m), op),
            (Body::Namespace(m), Op::Namespace(op)) => namespace::run(&mut lk(m), op),
            (Body::Namespace(m), Op::Any(op)) => namespace::any(&lk(m), op),
            (Body::Value(m), Op::Value(op)) => value::run(&mut lk(m), op),
            (Body::Value(m), Op::Any(op)) => value::any(&lk(m), op),
            (Body::Lock(c), Op::Lock(op)) => lock::run(c, op, who, try_only, false),
            (Body::RLock(c), Op::Lock(op)) => lock::run(c, op, who, try_only, true),
            (Body::Lock(c), Op::Any(AnyOp::Repr)) => Ok(lock::repr(c, kind, false)),
            (Body::RLock(c), Op::Any(AnyOp::Repr)) => Ok(lock::repr(c, kind, true)),
            (Body::Sem(c), Op::Lock(op)) => lock::sem_run(c, op, who, try_only),
            (Body::Sem(c), Op::Any(AnyOp::Repr)) => Ok(lock::sem_repr(c, kind)),
            (Body::Cond(c), Op::Lock(op)) => condition::lock(c, op, who, try_only),
            (Body::Cond(c), Op::Condition(op)) => condition::run(c, op, who, try_only),
            (Body::Cond(c), Op::Any(AnyOp::Repr)) => Ok(condition::repr(c)),
            (Body::Event(c), Op::Event(op)) => event::run(c, op, who, try_only),
            (Body::Event(c), Op::Any(AnyOp::Repr)) => Ok(event::repr(c)),
            (Body::Barrier(c), Op::Barrier(op)) => barrier::run(c, op, who, try_only),
            (Body::Barrier(c), Op::Any(AnyOp::Repr)) => Ok(barrier::repr(c)),
            (Body::Queue(c), Op::Queue(op)) => queue::run(c, op, who, try_only, kind),
            (Body::Queue(c), Op::Any(op)) => queue::any(c, op, kind),
            (Body::Custom(m), Op::Custom(CustomOp::Call { method, args })) => {
                let mut obj = lk(m);
                let call = std::panic::AssertUnwindSafe(|| obj.call(&method, args));
                match std::panic::catch_unwind(call) {
                    Ok(r) => Ok(r?),
                    Err(payload) => Err(self.panicked(K::Custom, &method, &*payload)),
                }
            }
            (Body::Custom(m), Op::Any(AnyOp::Repr)) => Ok(Value::Str(lk(m).repr())),
            (_, op) => no_method(kind, op.name()),
        }
    }

    /// Puts an item back at the front of a queue: a `get` whose reply could not be
    /// delivered (the client vanished) must not lose the item.
    pub(crate) fn unget(&self, item: Value) {
        if let Body::Queue(c) = &self.body {
            c.lock().unget(item);
            c.cv.notify_all();
        }
    }

    /// Connection `conn` ended: settles what it held, and returns how many
    /// acquisitions were released, for the log.
    ///
    /// * `clean` (the client said goodbye: its process ended normally, or it dropped its
    ///   last proxy): a `Lock` it holds stays locked and its semaphore permits stay
    ///   taken, ownerless, for any process to release — CPython's rule, under which a
    ///   child may acquire, exit, and leave the release to its parent. An `RLock` or a
    ///   `Condition`'s lock, which only its owner could ever release, is released
    ///   (and the next acquirer told, below): kept, it would deadlock everyone.
    /// * not `clean` (killed, crashed, connection lost): everything it held is released,
    ///   and the next acquirer of each is told that the owner died, so a crashed holder
    ///   never deadlocks the others and they know the protected state may be half-done.
    pub(crate) fn release_conn(&self, conn: u64, clean: bool) -> u64 {
        let settle = |c: &Cell<LockState>, recursive: bool| {
            let n = c.lock().release_conn(conn, clean, recursive);
            c.cv.notify_all();
            n
        };
        match &self.body {
            Body::Lock(c) => settle(c, false),
            Body::RLock(c) => settle(c, true),
            Body::Cond(c) => {
                let n = c.lock().lock.release_conn(conn, clean, true);
                c.cv.notify_all();
                n
            }
            Body::Sem(c) => {
                let n = c.lock().release_conn(conn, clean);
                if n > 0 {
                    c.cv.notify_all();
                }
                n
            }
            // A waiter of a dead client breaks the barrier itself (see `barrier::run`).
            _ => 0,
        }
    }
}

/// The owner of a `Lock` whose holder ended cleanly: nobody (connection ids start at 1).
const NO_OWNER: (u64, u64) = (0, 0);

/// What an acquisition answers: `true`, or, when it took over from a holder that
/// vanished, `(true, "owner died")` (the caller holds it either way).
pub(crate) const OWNER_DIED: &str = "owner died";

fn acquired(owner_died: bool) -> Value {
    if owner_died {
        Value::Tuple(vec![Value::Bool(true), Value::from(OWNER_DIED)])
    } else {
        Value::Bool(true)
    }
}

pub(crate) fn unfail(f: Fail) -> RemoteError {
    match f {
        Fail::Remote(e) => e,
        Fail::WouldBlock => RemoteError::new(K::RuntimeError, "operation would block"),
    }
}

pub(crate) fn no_method(kind: &Kind, method: &str) -> Outcome {
    Err(err(
        K::NoSuchMethod,
        format!(
            "'{}' object has no method '{method}' in this protocol",
            kind.typeid()
        ),
    ))
}

pub(crate) fn check_hashable(k: &Value) -> Result<(), Fail> {
    if k.is_hashable() {
        Ok(())
    } else {
        Err(err(
            K::TypeError,
            format!("unhashable type: '{}'", k.type_name()),
        ))
    }
}

/// The answer to [`AnyOp::IterChunk`]: `(len, [up to max items from start])`, or the
/// `RuntimeError` of an iterator whose container changed size under it (`what` names
/// the container as CPython's message does).
pub(crate) fn iter_chunk<'a>(
    len: usize,
    items: impl Iterator<Item = &'a Value>,
    start: u64,
    max: u64,
    expect_len: Option<u64>,
    what: &str,
) -> Outcome {
    if expect_len.is_some_and(|n| n != len as u64) {
        return Err(err(
            K::RuntimeError,
            format!("{what} changed size during iteration"),
        ));
    }
    let start = usize::try_from(start).unwrap_or(usize::MAX);
    let max = usize::try_from(max).unwrap_or(usize::MAX);
    let chunk: Vec<Value> = items.skip(start).take(max).cloned().collect();
    Ok(Value::Tuple(vec![Value::from(len), Value::List(chunk)]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{DictOp, ListOp, LockOp, QueueOp};

    /// Runs `op` on `obj` for a live caller, never waiting.
    fn run(obj: &Obj, op: Op) -> Outcome {
        let (alive, closing) = (AtomicBool::new(true), AtomicBool::new(false));
        let who = Caller {
            conn: 1,
            thread: 1,
            alive: &alive,
            closing: &closing,
            destroyed: &obj.destroyed,
        };
        obj.run(op, &who, true)
    }

    fn refusal(r: Outcome) -> (K, String) {
        match r {
            Err(Fail::Remote(e)) => (e.kind, e.message),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn an_op_of_another_kind_is_no_such_method() {
        let dict = Obj::dict(Vec::new()).expect("an empty dict is valid");
        assert_eq!(
            refusal(run(&dict, Op::Lock(LockOp::Locked))),
            (
                K::NoSuchMethod,
                "'dict' object has no method 'locked' in this protocol".into()
            )
        );
        assert_eq!(
            refusal(run(&Obj::lock(false), Op::Any(AnyOp::Len))).0,
            K::NoSuchMethod
        );
        let queue = Obj::queue(None, false);
        assert_eq!(
            refusal(run(&queue, Op::Dict(DictOp::Keys))).0,
            K::NoSuchMethod
        );
        // a plain queue has no task_done, a joinable one does (and says it is unbalanced)
        assert_eq!(
            refusal(run(&queue, Op::Queue(QueueOp::TaskDone))).0,
            K::NoSuchMethod
        );
        let joinable = Obj::queue(None, true);
        assert_eq!(
            refusal(run(&joinable, Op::Queue(QueueOp::TaskDone))).0,
            K::ValueError
        );
        // the kind's own op still works
        assert!(matches!(run(&dict, Op::Any(AnyOp::Len)), Ok(Value::Int(0))));
    }

    #[test]
    fn an_array_refuses_what_resizes_it() {
        let array = Obj::new(
            Kind::Array,
            Body::Array(Mutex::new(vec![Value::from(1), Value::from(2)])),
        );
        assert_eq!(
            refusal(run(&array, Op::List(ListOp::Append(Value::from(3))))),
            (
                K::NoSuchMethod,
                "'Array' object has no method 'append'".into()
            )
        );
        assert_eq!(
            refusal(run(&array, Op::List(ListOp::DelSlice(None, None)))).1,
            "'Array' object has no method '__delitem__'"
        );
        assert!(
            run(
                &array,
                Op::List(ListOp::SetItem(Value::from(0), Value::from(9)))
            )
            .is_ok()
        );
        assert!(matches!(
            run(&array, Op::Any(AnyOp::Len)),
            Ok(Value::Int(2))
        ));
    }
}
