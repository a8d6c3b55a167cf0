//! The wire protocol between proxies and the server: a closed set of typed operations.
//!
//! Architecture invariant: nothing in a [`Request`] names code. Every operation is a
//! variant of [`Op`] with plain data; the server matches on it and runs code compiled
//! into its own binary. Custom types are reached by their registered name and a method
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
pub(crate) enum SetOp {
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

impl SetOp {
    pub(crate) fn name(self) -> &'static str {
        match self {
            SetOp::Union => "union",
            SetOp::Intersection => "intersection",
            SetOp::Difference => "difference",
            SetOp::SymmetricDifference => "symmetric_difference",
            SetOp::Update => "update",
            SetOp::IntersectionUpdate => "intersection_update",
            SetOp::DifferenceUpdate => "difference_update",
            SetOp::SymmetricDifferenceUpdate => "symmetric_difference_update",
            SetOp::IsSubset => "issubset",
            SetOp::IsSuperset => "issuperset",
            SetOp::IsDisjoint => "isdisjoint",
            SetOp::IsEqual => "__eq__",
        }
    }
}

/// Every operation a client can ask for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Op {
    // --- server
    Ping,
    Create(Create),
    Shutdown,
    /// Drop the object (`del proxy` in CPython, where refcounting does it).
    Release,
    /// The client ends cleanly (sent to [`SERVER`] with request id 0, unanswered):
    /// the last request on the connection. What it holds is settled as a clean end
    /// (see `Obj::release_conn`), even though the connection then closes.
    Goodbye,

    // --- any object
    Repr,
    /// The whole value (dict, list, namespace, value, array, queue contents).
    Copy,
    Len,

    // --- dict / list / array (by key or index)
    GetItem(Value),
    SetItem(Value, Value),
    DelItem(Value),
    Contains(Value),

    // --- dict
    DictGet(Value, Value),
    Keys,
    Values,
    Items,
    Update(Vec<(Value, Value)>),
    Pop(Value, Option<Value>),
    PopItem,
    SetDefault(Value, Value),
    Clear,

    // --- list
    Append(Value),
    Extend(Vec<Value>),
    Insert(i64, Value),
    ListPop(Option<i64>),
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

    // --- container iteration and operators (see `containers.rs`)
    /// Up to `max` items (dict and set: keys) from position `start`, with the length
    /// at the time: `(len, [items])`. With `expect_len`, a length that differs is the
    /// `RuntimeError` of an iterator whose container changed size.
    IterChunk {
        start: u64,
        max: u64,
        expect_len: Option<u64>,
    },
    /// `d | pairs`: a new dict (a copy), the pairs merged in.
    DictOr(Vec<(Value, Value)>),
    /// `s.add(x)`.
    SetAdd(Value),
    /// `s.discard(x)`.
    SetDiscard(Value),
    /// `s.pop()`.
    SetPop,
    /// A set operation with another collection (`union`, `issubset`, `update`, …).
    SetWith(SetOp, Vec<Value>),

    // --- namespace
    GetAttr(String),
    SetAttr(String, Value),
    DelAttr(String),

    // --- locks, semaphores, condition
    Acquire {
        timeout: Option<Duration>,
    },
    ReleaseLock,
    Locked,
    CondWait {
        timeout: Option<Duration>,
    },
    Notify(u64),
    NotifyAll,

    // --- event
    EventSet,
    EventClear,
    EventIsSet,
    EventWait {
        timeout: Option<Duration>,
    },

    // --- barrier
    BarrierWait {
        timeout: Option<Duration>,
    },
    BarrierAbort,
    BarrierReset,
    BarrierInfo,

    // --- queue
    Put {
        item: Value,
        timeout: Option<Duration>,
    },
    Get {
        timeout: Option<Duration>,
    },
    QSize,
    TaskDone,
    QJoin {
        timeout: Option<Duration>,
    },

    // --- Value
    ValueGet,
    ValueSet(Value),

    // --- custom
    Call {
        method: String,
        args: Vec<Value>,
    },
}

impl Op {
    /// The timeout of an operation that may have to wait, if it is one.
    /// `Some(None)` waits forever.
    pub(crate) fn wait_timeout(&self) -> Option<Option<Duration>> {
        match self {
            Op::Acquire { timeout }
            | Op::CondWait { timeout }
            | Op::EventWait { timeout }
            | Op::BarrierWait { timeout }
            | Op::Put { timeout, .. }
            | Op::Get { timeout }
            | Op::QJoin { timeout } => Some(*timeout),
            _ => None,
        }
    }

    /// A short name for logs and errors.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Op::Ping => "ping",
            Op::Create(_) => "create",
            Op::Shutdown => "shutdown",
            Op::Release => "release",
            Op::Goodbye => "goodbye",
            Op::Repr => "__repr__",
            Op::Copy => "copy",
            Op::Len => "__len__",
            Op::GetItem(_) => "__getitem__",
            Op::SetItem(..) => "__setitem__",
            Op::DelItem(_) => "__delitem__",
            Op::Contains(_) => "__contains__",
            Op::DictGet(..) => "get",
            Op::Keys => "keys",
            Op::Values => "values",
            Op::Items => "items",
            Op::Update(_) => "update",
            Op::Pop(..) => "pop",
            Op::PopItem => "popitem",
            Op::SetDefault(..) => "setdefault",
            Op::Clear => "clear",
            Op::Append(_) => "append",
            Op::Extend(_) => "extend",
            Op::Insert(..) => "insert",
            Op::ListPop(_) => "pop",
            Op::Remove(_) => "remove",
            Op::Index(_) => "index",
            Op::Count(_) => "count",
            Op::Reverse => "reverse",
            Op::Sort { .. } => "sort",
            Op::GetSlice(..) => "__getitem__",
            Op::SetSlice(..) => "__setitem__",
            Op::DelSlice(..) => "__delitem__",
            Op::Repeat(_) => "__imul__",
            Op::IterChunk { .. } => "__iter__",
            Op::DictOr(_) => "__or__",
            Op::SetAdd(_) => "add",
            Op::SetDiscard(_) => "discard",
            Op::SetPop => "pop",
            Op::SetWith(op, _) => op.name(),
            Op::GetAttr(_) => "__getattr__",
            Op::SetAttr(..) => "__setattr__",
            Op::DelAttr(_) => "__delattr__",
            Op::Acquire { .. } => "acquire",
            Op::ReleaseLock => "release",
            Op::Locked => "locked",
            Op::CondWait { .. } => "wait",
            Op::Notify(_) => "notify",
            Op::NotifyAll => "notify_all",
            Op::EventSet => "set",
            Op::EventClear => "clear",
            Op::EventIsSet => "is_set",
            Op::EventWait { .. } => "wait",
            Op::BarrierWait { .. } => "wait",
            Op::BarrierAbort => "abort",
            Op::BarrierReset => "reset",
            Op::BarrierInfo => "parties",
            Op::Put { .. } => "put",
            Op::Get { .. } => "get",
            Op::QSize => "qsize",
            Op::TaskDone => "task_done",
            Op::QJoin { .. } => "join",
            Op::ValueGet => "value",
            Op::ValueSet(_) => "value",
            Op::Call { .. } => "call",
        }
    }
}
