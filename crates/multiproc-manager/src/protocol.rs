//! The wire protocol between proxies and the server: a closed set of typed operations.
//!
//! Architecture invariant: nothing in a [`Request`] names code. Every operation is a
//! variant of one object kind's operation enum, wrapped in [`Op`], with plain data; the
//! server matches on it and runs code compiled into its own binary. A kind's handler
//! (in `objects.rs` and `containers.rs`) matches its own enum, so an operation of one
//! kind sent to an object of another is answered `NoSuchMethod` in one place
//! (`Obj::run`). Custom types are reached by their registered name and a method
//! name, dispatched by the type's own `call` (see [`crate::Shared`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::RemoteError;
use crate::value::Value;

/// Object id of the server itself (create, ping, shutdown).
pub(crate) const SERVER: u64 = 0;

/// One call: `id` pairs it with its [`Response`] (many calls may be in flight on one
/// connection), `obj` names the target object, `thread` identifies the calling thread
/// for lock ownership.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Request {
    pub(crate) id: u64,
    pub(crate) obj: u64,
    pub(crate) thread: u64,
    pub(crate) op: Op,
}

/// The server's answer to request `id`. Requests with `id == 0` get no answer.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Response {
    pub(crate) id: u64,
    pub(crate) result: Result<Value, RemoteError>,
}

/// What to create (`manager.dict(...)`, `manager.Lock()`, …).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Create {
    Dict(Vec<(Value, Value)>),
    List(Vec<Value>),
    Namespace(Vec<(String, Value)>),
    Lock,
    RLock,
    Semaphore(u64),
    BoundedSemaphore(u64),
    Condition,
    Event,
    Barrier(u64),
    Queue(Option<u64>),
    JoinableQueue(Option<u64>),
    Value(Value),
    Array(Vec<Value>),
    Custom {
        type_name: String,
        args: Vec<Value>,
    },
    /// `manager.set(items)` (CPython 3.14).
    Set(Vec<Value>),
}

/// The set operations that take another collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum SetWith {
    Union,
    Intersection,
    Difference,
    SymmetricDifference,
    Update,
    IntersectionUpdate,
    DifferenceUpdate,
    SymmetricDifferenceUpdate,
    IsSubset,
    IsSuperset,
    IsDisjoint,
    IsEqual,
}

impl SetWith {
    pub(crate) fn name(self) -> &'static str {
        match self {
            SetWith::Union => "union",
            SetWith::Intersection => "intersection",
            SetWith::Difference => "difference",
            SetWith::SymmetricDifference => "symmetric_difference",
            SetWith::Update => "update",
            SetWith::IntersectionUpdate => "intersection_update",
            SetWith::DifferenceUpdate => "difference_update",
            SetWith::SymmetricDifferenceUpdate => "symmetric_difference_update",
            SetWith::IsSubset => "issubset",
            SetWith::IsSuperset => "issuperset",
            SetWith::IsDisjoint => "isdisjoint",
            SetWith::IsEqual => "__eq__",
        }
    }
}

/// Every operation a client can ask for: one enum per object kind (or family of kinds
/// sharing a protocol), so adding a kind is one enum and one variant here.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Op {
    /// Addressed to [`SERVER`].
    Server(ServerOp),
    /// Any object (the container protocol where the kind has one).
    Any(AnyOp),
    Dict(DictOp),
    /// `list` and `Array` (which refuses what changes its length).
    List(ListOp),
    Set(SetOp),
    Namespace(NamespaceOp),
    /// `Lock`, `RLock`, `Semaphore`, `BoundedSemaphore` and `Condition`.
    Lock(LockOp),
    Condition(ConditionOp),
    Event(EventOp),
    Barrier(BarrierOp),
    /// `Queue` and `JoinableQueue`.
    Queue(QueueOp),
    Value(ValueOp),
    Custom(CustomOp),
}

/// Operations of the server itself (object [`SERVER`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum ServerOp {
    Ping,
    Create(Create),
    Shutdown,
    /// The client ends cleanly (request id 0, unanswered): the last request on the
    /// connection. What it holds is settled as a clean end (see `Obj::release_conn`),
    /// even though the connection then closes.
    Goodbye,
    /// `manager.set_name(name, value)`: a value kept by the server under a name.
    SetName(String, Value),
    /// `manager.get_name(name)`.
    GetName(String),
}

/// Operations every kind answers, or every container kind.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum AnyOp {
    /// Drop the object (`del proxy` in CPython, where refcounting does it; the public
    /// `destroy()`).
    Destroy,
    Repr,
    /// The whole value (dict, list, namespace, value, array, queue contents).
    Copy,
    Len,
    Contains(Value),
    /// Up to `max` items (dict and set: keys) from position `start`, with the length
    /// at the time: `(len, [items])`. With `expect_len`, a length that differs is the
    /// `RuntimeError` of an iterator whose container changed size.
    IterChunk {
        start: u64,
        max: u64,
        expect_len: Option<u64>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum DictOp {
    GetItem(Value),
    SetItem(Value, Value),
    DelItem(Value),
    Get(Value, Value),
    Keys,
    Values,
    Items,
    Update(Vec<(Value, Value)>),
    Pop(Value, Option<Value>),
    PopItem,
    SetDefault(Value, Value),
    Clear,
    /// `d | pairs`: a new dict (a copy), the pairs merged in.
    Or(Vec<(Value, Value)>),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum ListOp {
    GetItem(Value),
    SetItem(Value, Value),
    DelItem(Value),
    Append(Value),
    Extend(Vec<Value>),
    Insert(i64, Value),
    Pop(Option<i64>),
    Remove(Value),
    Index(Value),
    Count(Value),
    Reverse,
    Sort {
        reverse: bool,
    },
    GetSlice(Option<i64>, Option<i64>),
    SetSlice(Option<i64>, Option<i64>, Vec<Value>),
    DelSlice(Option<i64>, Option<i64>),
    /// `l *= n`.
    Repeat(u64),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum SetOp {
    /// `s.add(x)`.
    Add(Value),
    /// `s.discard(x)`.
    Discard(Value),
    Remove(Value),
    /// `s.pop()`.
    Pop,
    Clear,
    /// A set operation with another collection (`union`, `issubset`, `update`, …).
    With(SetWith, Vec<Value>),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum NamespaceOp {
    Get(String),
    Set(String, Value),
    Del(String),
}

/// Locks, semaphores, and a condition's lock.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum LockOp {
    Acquire { timeout: Option<Duration> },
    Release,
    Locked,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum ConditionOp {
    Wait { timeout: Option<Duration> },
    Notify(u64),
    NotifyAll,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum EventOp {
    Set,
    Clear,
    IsSet,
    Wait { timeout: Option<Duration> },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum BarrierOp {
    Wait { timeout: Option<Duration> },
    Abort,
    Reset,
    Info,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum QueueOp {
    Put {
        item: Value,
        timeout: Option<Duration>,
    },
    Get {
        timeout: Option<Duration>,
    },
    QSize,
    TaskDone,
    Join {
        timeout: Option<Duration>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum ValueOp {
    Get,
    Set(Value),
}

/// A registered type's method, dispatched by the type's own `call`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum CustomOp {
    Call { method: String, args: Vec<Value> },
}

impl Op {
    /// The timeout of an operation that may have to wait, if it is one.
    /// `Some(None)` waits forever.
    pub(crate) fn wait_timeout(&self) -> Option<Option<Duration>> {
        match self {
            Op::Lock(LockOp::Acquire { timeout })
            | Op::Condition(ConditionOp::Wait { timeout })
            | Op::Event(EventOp::Wait { timeout })
            | Op::Barrier(BarrierOp::Wait { timeout })
            | Op::Queue(
                QueueOp::Put { timeout, .. } | QueueOp::Get { timeout } | QueueOp::Join { timeout },
            ) => Some(*timeout),
            _ => None,
        }
    }

    /// A short name for logs and errors.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Op::Server(op) => op.name(),
            Op::Any(op) => op.name(),
            Op::Dict(op) => op.name(),
            Op::List(op) => op.name(),
            Op::Set(op) => op.name(),
            Op::Namespace(op) => op.name(),
            Op::Lock(op) => op.name(),
            Op::Condition(op) => op.name(),
            Op::Event(op) => op.name(),
            Op::Barrier(op) => op.name(),
            Op::Queue(op) => op.name(),
            Op::Value(op) => op.name(),
            Op::Custom(op) => op.name(),
        }
    }
}

impl ServerOp {
    fn name(&self) -> &'static str {
        match self {
            ServerOp::Ping => "ping",
            ServerOp::Create(_) => "create",
            ServerOp::Shutdown => "shutdown",
            ServerOp::Goodbye => "goodbye",
            ServerOp::SetName(..) => "__setattr__",
            ServerOp::GetName(_) => "__getattr__",
        }
    }
}

impl AnyOp {
    fn name(&self) -> &'static str {
        match self {
            AnyOp::Destroy => "destroy",
            AnyOp::Repr => "__repr__",
            AnyOp::Copy => "copy",
            AnyOp::Len => "__len__",
            AnyOp::Contains(_) => "__contains__",
            AnyOp::IterChunk { .. } => "__iter__",
        }
    }
}

impl DictOp {
    fn name(&self) -> &'static str {
        match self {
            DictOp::GetItem(_) => "__getitem__",
            DictOp::SetItem(..) => "__setitem__",
            DictOp::DelItem(_) => "__delitem__",
            DictOp::Get(..) => "get",
            DictOp::Keys => "keys",
            DictOp::Values => "values",
            DictOp::Items => "items",
            DictOp::Update(_) => "update",
            DictOp::Pop(..) => "pop",
            DictOp::PopItem => "popitem",
            DictOp::SetDefault(..) => "setdefault",
            DictOp::Clear => "clear",
            DictOp::Or(_) => "__or__",
        }
    }
}

impl ListOp {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            ListOp::GetItem(_) | ListOp::GetSlice(..) => "__getitem__",
            ListOp::SetItem(..) | ListOp::SetSlice(..) => "__setitem__",
            ListOp::DelItem(_) | ListOp::DelSlice(..) => "__delitem__",
            ListOp::Append(_) => "append",
            ListOp::Extend(_) => "extend",
            ListOp::Insert(..) => "insert",
            ListOp::Pop(_) => "pop",
            ListOp::Remove(_) => "remove",
            ListOp::Index(_) => "index",
            ListOp::Count(_) => "count",
            ListOp::Reverse => "reverse",
            ListOp::Sort { .. } => "sort",
            ListOp::Repeat(_) => "__imul__",
        }
    }
}

impl SetOp {
    fn name(&self) -> &'static str {
        match self {
            SetOp::Add(_) => "add",
            SetOp::Discard(_) => "discard",
            SetOp::Remove(_) => "remove",
            SetOp::Pop => "pop",
            SetOp::Clear => "clear",
            SetOp::With(how, _) => how.name(),
        }
    }
}

impl NamespaceOp {
    fn name(&self) -> &'static str {
        match self {
            NamespaceOp::Get(_) => "__getattr__",
            NamespaceOp::Set(..) => "__setattr__",
            NamespaceOp::Del(_) => "__delattr__",
        }
    }
}

impl LockOp {
    fn name(&self) -> &'static str {
        match self {
            LockOp::Acquire { .. } => "acquire",
            LockOp::Release => "release",
            LockOp::Locked => "locked",
        }
    }
}

impl ConditionOp {
    fn name(&self) -> &'static str {
        match self {
            ConditionOp::Wait { .. } => "wait",
            ConditionOp::Notify(_) => "notify",
            ConditionOp::NotifyAll => "notify_all",
        }
    }
}

impl EventOp {
    fn name(&self) -> &'static str {
        match self {
            EventOp::Set => "set",
            EventOp::Clear => "clear",
            EventOp::IsSet => "is_set",
            EventOp::Wait { .. } => "wait",
        }
    }
}

impl BarrierOp {
    fn name(&self) -> &'static str {
        match self {
            BarrierOp::Wait { .. } => "wait",
            BarrierOp::Abort => "abort",
            BarrierOp::Reset => "reset",
            BarrierOp::Info => "parties",
        }
    }
}

impl QueueOp {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            QueueOp::Put { .. } => "put",
            QueueOp::Get { .. } => "get",
            QueueOp::QSize => "qsize",
            QueueOp::TaskDone => "task_done",
            QueueOp::Join { .. } => "join",
        }
    }
}

impl ValueOp {
    fn name(&self) -> &'static str {
        match self {
            ValueOp::Get | ValueOp::Set(_) => "value",
        }
    }
}

impl CustomOp {
    fn name(&self) -> &'static str {
        match self {
            CustomOp::Call { .. } => "call",
        }
    }
}
