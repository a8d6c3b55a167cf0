//! Server-side objects: what a manager holds, built on `std::sync` inside the server.
//!
//! Each object is behind its own mutex; blocking operations wait on its condvar in
//! slices of at most [`SLICE`], re-checking whether the caller's connection is still
//! alive and whether the server is closing, so a waiter never outlives its client and
//! never keeps the server from shutting down.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::custom::DynShared;
use crate::error::{RemoteError, RemoteErrorKind as K};
use crate::protocol::{
    AnyOp, BarrierOp, ConditionOp, CustomOp, DictOp, EventOp, ListOp, LockOp, NamespaceOp, Op,
    QueueOp, ValueOp,
};
use crate::value::{Kind, OrderedMap, Value};

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

pub(crate) struct LockState {
    /// (connection, thread) of the holder.
    owner: Option<(u64, u64)>,
    /// Recursion depth (RLock, Condition).
    count: u64,
    /// How many times a holder vanished with the lock held (reported in `repr`).
    abandoned: u64,
    /// Released by the server from a holder that vanished, not yet reported: the next
    /// acquisition is told ([`OWNER_DIED`]).
    owner_died: bool,
}

pub(crate) struct SemState {
    value: u64,
    initial: u64,
    bounded: bool,
    /// Acquisitions not yet released, per connection (released if it vanishes).
    held: HashMap<u64, u64>,
    /// Acquisitions of clients that ended cleanly without releasing them: they stay
    /// taken, for anyone to release (CPython's semaphores have no owner).
    ownerless: u64,
    abandoned: u64,
    /// Permits given back from vanished holders, not yet reported: as many next
    /// acquisitions are told ([`OWNER_DIED`]).
    died: u64,
}

pub(crate) struct CondState {
    lock: LockState,
    next_ticket: u64,
    waiting: VecDeque<u64>,
    notified: Vec<u64>,
}

pub(crate) struct BarrierState {
    parties: u64,
    count: u64,
    generation: u64,
    broken: bool,
    reset_gen: Option<u64>,
}

impl BarrierState {
    /// `threading.Barrier.n_waiting`: the parties inside the barrier, and none while it
    /// is broken (those still inside are on their way out with `BrokenBarrier`).
    fn n_waiting(&self) -> u64 {
        if self.broken { 0 } else { self.count }
    }
}

pub(crate) struct QueueState {
    items: VecDeque<Value>,
    maxsize: Option<u64>,
    joinable: bool,
    unfinished: u64,
}

impl QueueState {
    /// The items waiting in the queue (for the memory budget).
    pub(crate) fn items(&self) -> &VecDeque<Value> {
        &self.items
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
        let st = LockState {
            owner: None,
            count: 0,
            abandoned: 0,
            owner_died: false,
        };
        if recursive {
            Obj::new(Kind::RLock, Body::RLock(Cell::new(st)))
        } else {
            Obj::new(Kind::Lock, Body::Lock(Cell::new(st)))
        }
    }

    pub(crate) fn semaphore(value: u64, bounded: bool) -> Obj {
        let kind = if bounded {
            Kind::BoundedSemaphore
        } else {
            Kind::Semaphore
        };
        Obj::new(
            kind,
            Body::Sem(Cell::new(SemState {
                value,
                initial: value,
                bounded,
                held: HashMap::new(),
                ownerless: 0,
                abandoned: 0,
                died: 0,
            })),
        )
    }

    pub(crate) fn condition() -> Obj {
        Obj::new(
            Kind::Condition,
            Body::Cond(Cell::new(CondState {
                lock: LockState {
                    owner: None,
                    count: 0,
                    abandoned: 0,
                    owner_died: false,
                },
                next_ticket: 0,
                waiting: VecDeque::new(),
                notified: Vec::new(),
            })),
        )
    }

    pub(crate) fn event() -> Obj {
        Obj::new(Kind::Event, Body::Event(Cell::new(false)))
    }

    pub(crate) fn barrier(parties: u64) -> Result<Obj, RemoteError> {
        if parties == 0 {
            return Err(RemoteError::new(K::ValueError, "parties must be > 0"));
        }
        Ok(Obj::new(
            Kind::Barrier,
            Body::Barrier(Cell::new(BarrierState {
                parties,
                count: 0,
                generation: 0,
                broken: false,
                reset_gen: None,
            })),
        ))
    }

    pub(crate) fn queue(maxsize: Option<u64>, joinable: bool) -> Obj {
        let kind = if joinable {
            Kind::JoinableQueue
        } else {
            Kind::Queue
        };
        Obj::new(
            kind,
            Body::Queue(Cell::new(QueueState {
                items: VecDeque::new(),
                maxsize: maxsize.filter(|&m| m > 0),
                joinable,
                unfinished: 0,
            })),
        )
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

    fn run_unguarded(&self, op: Op, who: &Caller<'_>, try_only: bool) -> Outcome {
        match &self.body {
            Body::Dict(m) => dict_op(&mut lk(m), op),
            Body::List(m) => list_op(&mut lk(m), op, false),
            Body::Array(m) => list_op(&mut lk(m), op, true),
            Body::Namespace(m) => ns_op(&mut lk(m), op),
            Body::Set(m) => crate::containers::set_op(&mut lk(m), op),
            Body::Value(m) => {
                let mut v = lk(m);
                match op {
                    Op::Value(ValueOp::Get) | Op::Any(AnyOp::Copy) => Ok(v.clone()),
                    Op::Value(ValueOp::Set(x)) => {
                        *v = x;
                        Ok(Value::None)
                    }
                    Op::Any(AnyOp::Repr) => Ok(Value::Str(format!("Value({})", *v))),
                    op => no_method(&self.kind, &op),
                }
            }
            Body::Lock(c) => lock_op(c, op, who, try_only, false, &self.kind),
            Body::RLock(c) => lock_op(c, op, who, try_only, true, &self.kind),
            Body::Sem(c) => sem_op(c, op, who, try_only, &self.kind),
            Body::Cond(c) => cond_op(c, op, who, try_only, &self.kind),
            Body::Event(c) => event_op(c, op, who, try_only, &self.kind),
            Body::Barrier(c) => barrier_op(c, op, who, try_only, &self.kind),
            Body::Queue(c) => queue_op(c, op, who, try_only, &self.kind),
            Body::Custom(m) => {
                let mut obj = lk(m);
                match op {
                    Op::Custom(CustomOp::Call { method, args }) => {
                        let call = std::panic::AssertUnwindSafe(|| obj.call(&method, args));
                        match std::panic::catch_unwind(call) {
                            Ok(r) => Ok(r?),
                            Err(payload) => Err(self.panicked(K::Custom, &method, &*payload)),
                        }
                    }
                    Op::Any(AnyOp::Repr) => Ok(Value::Str(obj.repr())),
                    op => no_method(&self.kind, &op),
                }
            }
        }
    }

    /// Puts an item back at the front of a queue: a `get` whose reply could not be
    /// delivered (the client vanished) must not lose the item.
    pub(crate) fn unget(&self, item: Value) {
        if let Body::Queue(c) = &self.body {
            c.lock().items.push_front(item);
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
        let release_lock = |st: &mut LockState, recursive: bool| {
            if st.owner.is_none_or(|(c, _)| c != conn) {
                return 0;
            }
            if clean && !recursive {
                st.owner = Some(NO_OWNER);
                return 0;
            }
            st.owner = None;
            st.count = 0;
            st.abandoned += 1;
            st.owner_died = true;
            1
        };
        match &self.body {
            Body::Lock(c) => {
                let n = release_lock(&mut c.lock(), false);
                c.cv.notify_all();
                n
            }
            Body::RLock(c) => {
                let n = release_lock(&mut c.lock(), true);
                c.cv.notify_all();
                n
            }
            Body::Cond(c) => {
                let n = release_lock(&mut c.lock().lock, true);
                c.cv.notify_all();
                n
            }
            Body::Sem(c) => {
                let mut st = c.lock();
                let n = st.held.remove(&conn).unwrap_or(0);
                if clean {
                    st.ownerless += n;
                    return 0;
                }
                st.value += n;
                if st.bounded {
                    st.value = st.value.min(st.initial);
                }
                st.abandoned += n;
                st.died += n;
                drop(st);
                c.cv.notify_all();
                n
            }
            // A waiter of a dead client breaks the barrier itself (see barrier_op).
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

pub(crate) fn no_method(kind: &Kind, op: &Op) -> Outcome {
    Err(err(
        K::NoSuchMethod,
        format!(
            "'{}' object has no method '{}' in this protocol",
            kind.typeid(),
            op.name()
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

fn key_error(k: &Value) -> Fail {
    err(K::KeyError, k.to_string())
}

fn dict_op(m: &mut OrderedMap, op: Op) -> Outcome {
    Ok(match op {
        Op::Dict(DictOp::GetItem(k)) => {
            check_hashable(&k)?;
            m.get(&k).cloned().ok_or_else(|| key_error(&k))?
        }
        Op::Dict(DictOp::SetItem(k, v)) => {
            check_hashable(&k)?;
            m.insert(k, v);
            Value::None
        }
        Op::Dict(DictOp::DelItem(k)) => {
            check_hashable(&k)?;
            m.remove(&k).ok_or_else(|| key_error(&k))?;
            Value::None
        }
        Op::Any(AnyOp::Contains(k)) => Value::Bool(k.is_hashable() && m.contains(&k)),
        Op::Dict(DictOp::Get(k, default)) => {
            check_hashable(&k)?;
            m.get(&k).cloned().unwrap_or(default)
        }
        Op::Any(AnyOp::Len) => Value::from(m.len()),
        Op::Dict(DictOp::Keys) => Value::List(m.iter().map(|(k, _)| k.clone()).collect()),
        Op::Dict(DictOp::Values) => Value::List(m.iter().map(|(_, v)| v.clone()).collect()),
        Op::Dict(DictOp::Items) => Value::List(
            m.iter()
                .map(|(k, v)| Value::Tuple(vec![k.clone(), v.clone()]))
                .collect(),
        ),
        Op::Dict(DictOp::Update(pairs)) => {
            for (k, _) in &pairs {
                check_hashable(k)?;
            }
            for (k, v) in pairs {
                m.insert(k, v);
            }
            Value::None
        }
        Op::Dict(DictOp::Pop(k, default)) => {
            check_hashable(&k)?;
            match (m.remove(&k), default) {
                (Some(v), _) => v,
                (None, Some(d)) => d,
                (None, None) => return Err(key_error(&k)),
            }
        }
        Op::Dict(DictOp::PopItem) => match m.pop_last() {
            Some((k, v)) => Value::Tuple(vec![k, v]),
            None => return Err(err(K::KeyError, "'popitem(): dictionary is empty'")),
        },
        Op::Dict(DictOp::SetDefault(k, default)) => {
            check_hashable(&k)?;
            match m.get(&k) {
                Some(v) => v.clone(),
                None => {
                    m.insert(k, default.clone());
                    default
                }
            }
        }
        Op::Dict(DictOp::Clear) => {
            m.clear();
            Value::None
        }
        Op::Any(AnyOp::Copy) => m.to_value(),
        Op::Any(AnyOp::Repr) => Value::Str(m.to_value().to_string()),
        Op::Any(AnyOp::IterChunk {
            start,
            max,
            expect_len,
        }) => {
            let keys = m.iter().map(|(k, _)| k);
            return crate::containers::iter_chunk(
                m.len(),
                keys,
                start,
                max,
                expect_len,
                "dictionary",
            );
        }
        Op::Dict(DictOp::Or(pairs)) => return crate::containers::dict_or(m, pairs),
        op => return no_method(&Kind::Dict, &op),
    })
}

/// Python's index normalisation for item access.
fn item_index(i: &Value, len: usize, what: &str) -> Result<usize, Fail> {
    let i: i128 = match i {
        Value::Int(i) => *i,
        Value::Bool(b) => i128::from(*b),
        other => {
            return Err(err(
                K::TypeError,
                format!("{what} indices must be integers, not {}", other.type_name()),
            ));
        }
    };
    let len_i = len as i128;
    let j = if i < 0 { i + len_i } else { i };
    if (0..len_i).contains(&j) {
        Ok(j as usize)
    } else {
        Err(err(K::IndexError, format!("{what} index out of range")))
    }
}

/// Python's slice bounds (step 1): clamp into `0..=len`, `stop >= start`.
fn slice_bounds(start: Option<i64>, stop: Option<i64>, len: usize) -> (usize, usize) {
    let norm = |x: i64| -> usize {
        let len_i = len as i128;
        let x = i128::from(x);
        let x = if x < 0 {
            (x + len_i).max(0)
        } else {
            x.min(len_i)
        };
        x as usize
    };
    let a = start.map_or(0, norm);
    let b = stop.map_or(len, norm);
    (a, b.max(a))
}

/// The longest list `l *= n` may produce (CPython would raise `MemoryError` somewhere
/// past this; the server refuses instead of trying).
const MAX_REPEAT_LEN: usize = 1 << 26;

fn list_op(v: &mut Vec<Value>, op: Op, fixed: bool) -> Outcome {
    let kind = if fixed { Kind::Array } else { Kind::List };
    let what = if fixed { "array" } else { "list" };
    let grow = |op: &Op| -> Result<(), Fail> {
        if fixed {
            Err(err(
                K::NoSuchMethod,
                format!("'Array' object has no method '{}'", op.name()),
            ))
        } else {
            Ok(())
        }
    };
    Ok(match op {
        Op::List(ListOp::GetItem(i)) => v[item_index(&i, v.len(), what)?].clone(),
        Op::List(ListOp::SetItem(i, x)) => {
            let j = item_index(&i, v.len(), what)?;
            v[j] = x;
            Value::None
        }
        Op::List(ListOp::DelItem(i)) => {
            grow(&Op::List(ListOp::DelItem(Value::None)))?;
            let j = item_index(&i, v.len(), what)?;
            v.remove(j);
            Value::None
        }
        Op::Any(AnyOp::Contains(x)) => Value::Bool(v.contains(&x)),
        Op::Any(AnyOp::Len) => Value::from(v.len()),
        Op::Any(AnyOp::Copy) => Value::List(v.clone()),
        Op::Any(AnyOp::Repr) => Value::Str(if fixed {
            format!("Array({})", Value::List(v.clone()))
        } else {
            Value::List(v.clone()).to_string()
        }),
        Op::List(ListOp::Append(x)) => {
            grow(&Op::List(ListOp::Append(Value::None)))?;
            v.push(x);
            Value::None
        }
        Op::List(ListOp::Extend(xs)) => {
            grow(&Op::List(ListOp::Extend(Vec::new())))?;
            v.extend(xs);
            Value::None
        }
        Op::List(ListOp::Insert(i, x)) => {
            grow(&Op::List(ListOp::Insert(0, Value::None)))?;
            let (j, _) = slice_bounds(Some(i), None, v.len());
            v.insert(j, x);
            Value::None
        }
        Op::List(ListOp::Pop(i)) => {
            grow(&Op::List(ListOp::Pop(None)))?;
            if v.is_empty() {
                return Err(err(K::IndexError, "pop from empty list"));
            }
            let j = match i {
                None => v.len() - 1,
                Some(i) => item_index(&Value::from(i), v.len(), "pop")?,
            };
            v.remove(j)
        }
        Op::List(ListOp::Remove(x)) => {
            grow(&Op::List(ListOp::Remove(Value::None)))?;
            match v.iter().position(|y| *y == x) {
                Some(j) => {
                    v.remove(j);
                    Value::None
                }
                None => return Err(err(K::ValueError, "list.remove(x): x not in list")),
            }
        }
        Op::List(ListOp::Index(x)) => match v.iter().position(|y| *y == x) {
            Some(j) => Value::from(j),
            None => return Err(err(K::ValueError, format!("{x} is not in list"))),
        },
        Op::List(ListOp::Count(x)) => Value::from(v.iter().filter(|y| **y == x).count()),
        Op::List(ListOp::Reverse) => {
            v.reverse();
            Value::None
        }
        Op::List(ListOp::Sort { reverse }) => {
            // Check comparability first so a failed sort leaves the list untouched.
            for w in v.windows(2) {
                if w[0].py_cmp(&w[1]).is_none() && w[0] != w[1] {
                    return Err(err(
                        K::TypeError,
                        format!(
                            "'<' not supported between instances of '{}' and '{}'",
                            w[1].type_name(),
                            w[0].type_name()
                        ),
                    ));
                }
            }
            // Python's sort is stable in both directions.
            let ord = |a: &Value, b: &Value| a.py_cmp(b).unwrap_or(std::cmp::Ordering::Equal);
            if reverse {
                v.sort_by(|a, b| ord(b, a));
            } else {
                v.sort_by(ord);
            }
            Value::None
        }
        Op::List(ListOp::GetSlice(a, b)) => {
            let (a, b) = slice_bounds(a, b, v.len());
            Value::List(v[a..b].to_vec())
        }
        Op::List(ListOp::SetSlice(a, b, xs)) => {
            let (a, b) = slice_bounds(a, b, v.len());
            if fixed && xs.len() != b - a {
                return Err(err(
                    K::ValueError,
                    "can only assign a sequence of the same size to an array slice",
                ));
            }
            v.splice(a..b, xs);
            Value::None
        }
        Op::List(ListOp::DelSlice(a, b)) => {
            grow(&Op::List(ListOp::DelSlice(None, None)))?;
            let (a, b) = slice_bounds(a, b, v.len());
            v.drain(a..b);
            Value::None
        }
        Op::List(ListOp::Repeat(n)) => {
            grow(&Op::List(ListOp::Repeat(0)))?;
            // a request must not be able to make the server allocate without bound
            let len = usize::try_from(n)
                .ok()
                .and_then(|n| v.len().checked_mul(n))
                .filter(|&len| len <= MAX_REPEAT_LEN)
                .ok_or_else(|| {
                    err(
                        K::ValueError,
                        format!("list *= {n}: the result would exceed {MAX_REPEAT_LEN} items"),
                    )
                })?;
            if len == 0 {
                v.clear();
            } else {
                let one = v.clone();
                v.reserve(len - one.len());
                while v.len() < len {
                    v.extend_from_slice(&one);
                }
            }
            Value::None
        }
        op => return no_method(&kind, &op),
    })
}

fn ns_op(attrs: &mut Vec<(String, Value)>, op: Op) -> Outcome {
    let missing = |name: &str| {
        err(
            K::AttributeError,
            format!("'Namespace' object has no attribute '{name}'"),
        )
    };
    Ok(match op {
        Op::Namespace(NamespaceOp::Get(name)) => attrs
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| missing(&name))?,
        Op::Namespace(NamespaceOp::Set(name, v)) => {
            match attrs.iter_mut().find(|(n, _)| *n == name) {
                Some(slot) => slot.1 = v,
                None => attrs.push((name, v)),
            }
            Value::None
        }
        Op::Namespace(NamespaceOp::Del(name)) => {
            let j = attrs
                .iter()
                .position(|(n, _)| *n == name)
                .ok_or_else(|| missing(&name))?;
            attrs.remove(j);
            Value::None
        }
        Op::Any(AnyOp::Contains(Value::Str(ref name))) => {
            Value::Bool(attrs.iter().any(|(n, _)| n == name))
        }
        Op::Any(AnyOp::Copy) => Value::Dict(
            attrs
                .iter()
                .map(|(n, v)| (Value::Str(n.clone()), v.clone()))
                .collect(),
        ),
        Op::Any(AnyOp::Repr) => {
            // CPython's Namespace.__repr__: attributes named `_…` are private (a
            // NamespaceProxy keeps them on the proxy), the rest sorted by name
            let mut parts: Vec<String> = attrs
                .iter()
                .filter(|(n, _)| !n.starts_with('_'))
                .map(|(n, v)| format!("{n}={v}"))
                .collect();
            parts.sort();
            Value::Str(format!("Namespace({})", parts.join(", ")))
        }
        op => return no_method(&Kind::Namespace, &op),
    })
}

fn lock_op(
    c: &Cell<LockState>,
    op: Op,
    who: &Caller<'_>,
    try_only: bool,
    recursive: bool,
    kind: &Kind,
) -> Outcome {
    let me = (who.conn, who.thread);
    match op {
        Op::Lock(LockOp::Acquire { timeout }) => {
            let got = c.wait_until(who, try_only, timeout, |st| {
                if st.owner.is_none() {
                    st.owner = Some(me);
                    st.count = 1;
                    Some(std::mem::take(&mut st.owner_died))
                } else if recursive && st.owner == Some(me) {
                    st.count += 1;
                    Some(false)
                } else {
                    None
                }
            })?;
            Ok(got.map_or(Value::Bool(false), acquired))
        }
        Op::Lock(LockOp::Release) => {
            let mut st = c.lock();
            if recursive {
                if st.owner != Some(me) {
                    return Err(err(K::RuntimeError, "cannot release un-acquired lock"));
                }
                st.count -= 1;
                if st.count == 0 {
                    st.owner = None;
                }
            } else {
                // threading.Lock may be released by anyone, but not twice.
                if st.owner.is_none() {
                    return Err(err(K::RuntimeError, "release unlocked lock"));
                }
                st.owner = None;
                st.count = 0;
            }
            drop(st);
            c.cv.notify_all();
            Ok(Value::None)
        }
        Op::Lock(LockOp::Locked) => Ok(Value::Bool(c.lock().owner.is_some())),
        Op::Any(AnyOp::Repr) => {
            let st = c.lock();
            let state = if st.owner.is_some() {
                "locked"
            } else {
                "unlocked"
            };
            let mut s = format!("<{} {state}", kind.typeid());
            if recursive && st.count > 0 {
                s.push_str(&format!(" count={}", st.count));
            }
            if st.abandoned > 0 {
                s.push_str(&format!(
                    ", released {} time(s) after its holder vanished",
                    st.abandoned
                ));
            }
            s.push('>');
            Ok(Value::Str(s))
        }
        op => no_method(kind, &op),
    }
}

fn sem_op(c: &Cell<SemState>, op: Op, who: &Caller<'_>, try_only: bool, kind: &Kind) -> Outcome {
    match op {
        Op::Lock(LockOp::Acquire { timeout }) => {
            let got = c.wait_until(who, try_only, timeout, |st| {
                if st.value > 0 {
                    st.value -= 1;
                    *st.held.entry(who.conn).or_insert(0) += 1;
                    let died = st.died > 0;
                    st.died = st.died.saturating_sub(1);
                    Some(died)
                } else {
                    None
                }
            })?;
            Ok(got.map_or(Value::Bool(false), acquired))
        }
        Op::Lock(LockOp::Release) => {
            let mut st = c.lock();
            if st.bounded && st.value >= st.initial {
                return Err(err(K::ValueError, "Semaphore released too many times"));
            }
            st.value += 1;
            // Credit the release to the caller's connection if it holds any, else to
            // the permits of clients that ended cleanly, else to any holder (a
            // semaphore may be released by another process).
            let conn = if st.held.get(&who.conn).is_some_and(|&n| n > 0) {
                Some(who.conn)
            } else if st.ownerless > 0 {
                st.ownerless -= 1;
                None
            } else {
                st.held.iter().find(|&(_, &n)| n > 0).map(|(&k, _)| k)
            };
            if let Some(k) = conn {
                if let Some(n) = st.held.get_mut(&k) {
                    *n -= 1;
                    if *n == 0 {
                        st.held.remove(&k);
                    }
                }
            }
            drop(st);
            c.cv.notify_all();
            Ok(Value::None)
        }
        Op::Lock(LockOp::Locked) => Ok(Value::from(c.lock().value)),
        Op::Any(AnyOp::Repr) => {
            let st = c.lock();
            let mut s = format!("<{}(value={})", kind.typeid(), st.value);
            if st.abandoned > 0 {
                s.push_str(&format!(
                    ", {} released after their holder vanished",
                    st.abandoned
                ));
            }
            s.push('>');
            Ok(Value::Str(s))
        }
        op => no_method(kind, &op),
    }
}

fn cond_op(c: &Cell<CondState>, op: Op, who: &Caller<'_>, try_only: bool, kind: &Kind) -> Outcome {
    let me = (who.conn, who.thread);
    match op {
        Op::Lock(LockOp::Acquire { timeout }) => {
            let got = c.wait_until(who, try_only, timeout, |st| {
                if st.lock.owner.is_none() {
                    st.lock.owner = Some(me);
                    st.lock.count = 1;
                    Some(std::mem::take(&mut st.lock.owner_died))
                } else if st.lock.owner == Some(me) {
                    st.lock.count += 1;
                    Some(false)
                } else {
                    None
                }
            })?;
            Ok(got.map_or(Value::Bool(false), acquired))
        }
        Op::Lock(LockOp::Release) => {
            let mut st = c.lock();
            if st.lock.owner != Some(me) {
                return Err(err(K::RuntimeError, "cannot release un-acquired lock"));
            }
            st.lock.count -= 1;
            if st.lock.count == 0 {
                st.lock.owner = None;
            }
            drop(st);
            c.cv.notify_all();
            Ok(Value::None)
        }
        Op::Condition(ConditionOp::Wait { timeout }) => {
            if try_only {
                // Waiting always blocks; do it on a worker thread.
                return Err(Fail::WouldBlock);
            }
            let (ticket, saved) = {
                let mut st = c.lock();
                if st.lock.owner != Some(me) {
                    return Err(err(K::RuntimeError, "cannot wait on un-acquired lock"));
                }
                st.next_ticket += 1;
                let t = st.next_ticket;
                st.waiting.push_back(t);
                let saved = st.lock.count;
                st.lock.owner = None;
                st.lock.count = 0;
                c.cv.notify_all();
                (t, saved)
            };
            let woke = c.wait_until(who, false, timeout, |st| {
                st.notified
                    .iter()
                    .position(|&t| t == ticket)
                    .map(|j| st.notified.swap_remove(j))
            });
            let notified = match woke {
                Ok(r) => r.is_some(),
                Err(e) => {
                    let mut st = c.lock();
                    st.waiting.retain(|&t| t != ticket);
                    st.notified.retain(|&t| t != ticket);
                    return Err(e);
                }
            };
            if !notified {
                c.lock().waiting.retain(|&t| t != ticket);
            }
            // Re-acquire, whatever happened (as threading.Condition does).
            c.wait_until(who, false, None, |st| {
                if st.lock.owner.is_none() {
                    st.lock.owner = Some(me);
                    st.lock.count = saved;
                    Some(())
                } else {
                    None
                }
            })?;
            Ok(Value::Bool(notified))
        }
        Op::Condition(ConditionOp::Notify(n)) => {
            let mut st = c.lock();
            if st.lock.owner != Some(me) {
                return Err(err(K::RuntimeError, "cannot notify on un-acquired lock"));
            }
            for _ in 0..n {
                match st.waiting.pop_front() {
                    Some(t) => st.notified.push(t),
                    None => break,
                }
            }
            drop(st);
            c.cv.notify_all();
            Ok(Value::None)
        }
        Op::Condition(ConditionOp::NotifyAll) => {
            let mut st = c.lock();
            if st.lock.owner != Some(me) {
                return Err(err(K::RuntimeError, "cannot notify on un-acquired lock"));
            }
            let all: Vec<u64> = st.waiting.drain(..).collect();
            st.notified.extend(all);
            drop(st);
            c.cv.notify_all();
            Ok(Value::None)
        }
        Op::Lock(LockOp::Locked) => Ok(Value::Bool(c.lock().lock.owner.is_some())),
        Op::Any(AnyOp::Repr) => {
            let st = c.lock();
            Ok(Value::Str(format!(
                "<Condition({}, waiters={})>",
                if st.lock.owner.is_some() {
                    "locked"
                } else {
                    "unlocked"
                },
                st.waiting.len()
            )))
        }
        op => no_method(kind, &op),
    }
}

fn event_op(c: &Cell<bool>, op: Op, who: &Caller<'_>, try_only: bool, kind: &Kind) -> Outcome {
    match op {
        Op::Event(EventOp::Set) => {
            *c.lock() = true;
            c.cv.notify_all();
            Ok(Value::None)
        }
        Op::Event(EventOp::Clear) => {
            *c.lock() = false;
            Ok(Value::None)
        }
        Op::Event(EventOp::IsSet) => Ok(Value::Bool(*c.lock())),
        Op::Event(EventOp::Wait { timeout }) => {
            let r = c.wait_until(who, try_only, timeout, |set| set.then_some(()))?;
            Ok(Value::Bool(r.is_some()))
        }
        Op::Any(AnyOp::Repr) => Ok(Value::Str(format!(
            "<Event({})>",
            if *c.lock() { "set" } else { "unset" }
        ))),
        op => no_method(kind, &op),
    }
}

fn barrier_op(
    c: &Cell<BarrierState>,
    op: Op,
    who: &Caller<'_>,
    try_only: bool,
    kind: &Kind,
) -> Outcome {
    let broken = || err(K::BrokenBarrier, "the barrier is broken");
    match op {
        Op::Barrier(BarrierOp::Wait { timeout }) => {
            let (index, my_gen) = {
                let mut st = c.lock();
                if st.broken {
                    return Err(broken());
                }
                let index = st.count;
                if index + 1 == st.parties {
                    st.count = 0;
                    st.generation += 1;
                    drop(st);
                    c.cv.notify_all();
                    return Ok(Value::from(index));
                }
                if try_only {
                    return Err(Fail::WouldBlock);
                }
                st.count += 1;
                (index, st.generation)
            };
            let r = c.wait_until(who, false, timeout, |st| {
                if st.generation != my_gen {
                    // passed, or reset (which also zeroed the count)
                    Some(st.reset_gen != Some(my_gen))
                } else if st.broken {
                    // aborted or broken by another party: leave it
                    st.count = st.count.saturating_sub(1);
                    Some(false)
                } else {
                    None
                }
            });
            match r {
                Ok(Some(true)) => Ok(Value::from(index)),
                Ok(Some(false)) => Err(broken()),
                // Timeout or our client vanished: a party is missing for good, so
                // break the barrier for everyone (threading.Barrier does so on timeout).
                Ok(None) | Err(_) => {
                    let mut st = c.lock();
                    if st.generation == my_gen {
                        st.broken = true;
                        st.count = st.count.saturating_sub(1);
                    }
                    drop(st);
                    c.cv.notify_all();
                    Err(broken())
                }
            }
        }
        Op::Barrier(BarrierOp::Abort) => {
            c.lock().broken = true;
            c.cv.notify_all();
            Ok(Value::None)
        }
        Op::Barrier(BarrierOp::Reset) => {
            let mut st = c.lock();
            if st.count > 0 {
                st.reset_gen = Some(st.generation);
                st.generation += 1;
            }
            st.count = 0;
            st.broken = false;
            drop(st);
            c.cv.notify_all();
            Ok(Value::None)
        }
        Op::Barrier(BarrierOp::Info) => {
            let st = c.lock();
            Ok(Value::Tuple(vec![
                Value::from(st.parties),
                Value::from(st.n_waiting()),
                Value::Bool(st.broken),
            ]))
        }
        Op::Any(AnyOp::Repr) => {
            let st = c.lock();
            Ok(Value::Str(format!(
                "<Barrier(parties={}, waiting={}, broken={})>",
                st.parties,
                st.n_waiting(),
                if st.broken { "True" } else { "False" }
            )))
        }
        op => no_method(kind, &op),
    }
}

fn queue_op(
    c: &Cell<QueueState>,
    op: Op,
    who: &Caller<'_>,
    try_only: bool,
    kind: &Kind,
) -> Outcome {
    match op {
        Op::Queue(QueueOp::Put { item, timeout }) => {
            let mut item = Some(item);
            let r = c.wait_until(who, try_only, timeout, |st| {
                if st.maxsize.is_some_and(|m| st.items.len() as u64 >= m) {
                    return None;
                }
                st.items.push_back(item.take()?);
                if st.joinable {
                    st.unfinished += 1;
                }
                Some(())
            })?;
            match r {
                Some(()) => Ok(Value::None),
                None => Err(err(K::Full, "queue is full")),
            }
        }
        Op::Queue(QueueOp::Get { timeout }) => {
            match c.wait_until(who, try_only, timeout, |st| st.items.pop_front())? {
                Some(v) => Ok(v),
                None => Err(err(K::Empty, "queue is empty")),
            }
        }
        Op::Queue(QueueOp::QSize) | Op::Any(AnyOp::Len) => Ok(Value::from(c.lock().items.len())),
        Op::Any(AnyOp::Copy) => Ok(Value::List(c.lock().items.iter().cloned().collect())),
        Op::Queue(QueueOp::TaskDone) => {
            let mut st = c.lock();
            if !st.joinable {
                return no_method(kind, &Op::Queue(QueueOp::TaskDone));
            }
            if st.unfinished == 0 {
                return Err(err(K::ValueError, "task_done() called too many times"));
            }
            st.unfinished -= 1;
            drop(st);
            c.cv.notify_all();
            Ok(Value::None)
        }
        Op::Queue(QueueOp::Join { timeout }) => {
            if !c.lock().joinable {
                return no_method(kind, &Op::Queue(QueueOp::Join { timeout }));
            }
            let r = c.wait_until(who, try_only, timeout, |st| {
                (st.unfinished == 0).then_some(())
            })?;
            Ok(Value::Bool(r.is_some()))
        }
        Op::Any(AnyOp::Repr) => {
            let st = c.lock();
            Ok(Value::Str(format!(
                "<{}(qsize={}, maxsize={})>",
                kind.typeid(),
                st.items.len(),
                st.maxsize.unwrap_or(0)
            )))
        }
        op => no_method(kind, &op),
    }
}
