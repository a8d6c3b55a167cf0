//! The wire protocol between proxies and the server: a closed set of typed operations.
//!
//! Architecture invariant: nothing in a [`Request`] names code. Every operation is a
//! variant of one object kind's operation enum, wrapped in [`Op`], with plain data; the
//! server matches on it and runs code compiled into its own binary. Each kind's enum
//! lives with its handler in `kinds/<kind>.rs`, which matches it exhaustively; an
//! operation of one kind sent to an object of another is answered `NoSuchMethod` in
//! one place (`Obj::run`). Custom types are reached by their registered name and a method
//! name, dispatched by the type's own `call` (see [`crate::Shared`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::RemoteError;
pub(crate) use crate::kinds::any::AnyOp;
pub(crate) use crate::kinds::barrier::BarrierOp;
pub(crate) use crate::kinds::condition::ConditionOp;
pub(crate) use crate::kinds::custom::CustomOp;
pub(crate) use crate::kinds::dict::DictOp;
pub(crate) use crate::kinds::event::EventOp;
pub(crate) use crate::kinds::list::ListOp;
pub(crate) use crate::kinds::lock::LockOp;
pub(crate) use crate::kinds::namespace::NamespaceOp;
pub(crate) use crate::kinds::queue::QueueOp;
pub(crate) use crate::kinds::set::{SetOp, SetWith};
pub(crate) use crate::kinds::value::ValueOp;
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

/// Every operation a client can ask for: one enum per object kind (or family of kinds
/// sharing a protocol), so adding a kind is one module under `kinds/` and one variant
/// here.
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
    pub(crate) fn name(&self) -> &'static str {
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
