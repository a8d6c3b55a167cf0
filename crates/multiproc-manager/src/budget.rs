//! The server's memory budget: every operation that makes the server hold more data is
//! charged, before it runs, an upper bound of the bytes it may add; past the budget it
//! is refused with [`RemoteErrorKind::MemoryBudget`](crate::RemoteErrorKind::MemoryBudget).
//!
//! Each object (and the table of published names, account 0) has an account: what it
//! was charged, and whether it changed since it was last measured. Charges are upper
//! bounds (a `d[k] = v` that replaces a value is charged the whole new entry), and
//! shrinking operations credit nothing at once; instead, when a charge would pass the
//! budget, the accounts that changed are measured exactly first (an O(size) walk of
//! each, done only under pressure), and the charge is checked again. Destroying an
//! object credits its account at once.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::{RemoteError, RemoteErrorKind as K};
use crate::kinds::{Body, Obj};
use crate::protocol::{
    AnyOp, BarrierOp, ConditionOp, Create, CustomOp, DictOp, EventOp, ListOp, LockOp, NamespaceOp,
    Op, QueueOp, ServerOp, SetOp, SetWith, ValueOp,
};
use crate::value::Value;

/// What one object costs beyond its contents (the object, its mutexes, its table
/// entry), charged to every object, custom ones included.
pub(crate) const OBJECT_COST: u64 = 512;

/// What one dict entry costs beyond its key and value (the slot, the index entry).
const ENTRY_COST: u64 = 32;

/// What one `Value` node costs in place.
pub(crate) const NODE: u64 = std::mem::size_of::<Value>() as u64;

/// The approximate bytes `v` holds: its nodes plus the text and bytes they own.
pub(crate) fn weight(v: &Value) -> u64 {
    let mut total = 0u64;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        total = total.saturating_add(NODE);
        match v {
            Value::Str(s) => total = total.saturating_add(s.len() as u64),
            Value::Bytes(b) => total = total.saturating_add(b.len() as u64),
            Value::List(items) | Value::Tuple(items) => stack.extend(items),
            Value::Dict(pairs) => {
                for (k, x) in pairs {
                    stack.push(k);
                    stack.push(x);
                }
            }
            Value::Proxy(r) => {
                if let crate::value::Kind::Custom(name) = &r.kind {
                    total = total.saturating_add(name.len() as u64);
                }
            }
            _ => {}
        }
    }
    total
}

fn sum<'a>(vs: impl IntoIterator<Item = &'a Value>) -> u64 {
    vs.into_iter()
        .fold(0u64, |acc, v| acc.saturating_add(weight(v)))
}

/// A dict entry: the key is held twice (slot and index).
fn entry(k: &Value, v: &Value) -> u64 {
    weight(k)
        .saturating_mul(2)
        .saturating_add(weight(v))
        .saturating_add(ENTRY_COST)
}

pub(crate) fn attr(name: &str, v: &Value) -> u64 {
    (name.len() as u64)
        .saturating_add(24)
        .saturating_add(weight(v))
}

/// The bytes `obj` holds now (a walk of its contents under its lock).
pub(crate) fn measure(obj: &Obj) -> u64 {
    let contents = match &obj.body {
        Body::Dict(m) | Body::Set(m) => {
            let m = m.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            m.iter()
                .fold(0u64, |acc, (k, v)| acc.saturating_add(entry(k, v)))
        }
        Body::List(m) | Body::Array(m) => sum(m
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()),
        Body::Namespace(m) => m
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .fold(0u64, |acc, (n, v)| acc.saturating_add(attr(n, v))),
        Body::Value(m) => weight(&m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)),
        Body::Queue(c) => sum(c.lock().items()),
        // Locks, semaphores, conditions, events, barriers hold no values; a custom
        // type's state is its own (not measured beyond the object's cost).
        _ => 0,
    };
    contents.saturating_add(OBJECT_COST)
}

/// The bytes the published names hold.
pub(crate) fn measure_names(names: &HashMap<String, Value>) -> u64 {
    names
        .iter()
        .fold(0u64, |acc, (n, v)| acc.saturating_add(attr(n, v)))
}

/// An upper bound of the bytes creating `c` makes the server hold.
pub(crate) fn creation(c: &Create) -> u64 {
    let contents = match c {
        Create::Dict(pairs) => pairs
            .iter()
            .fold(0u64, |acc, (k, v)| acc.saturating_add(entry(k, v))),
        Create::List(items) | Create::Array(items) => sum(items),
        // A set is an ordered map of its elements to `None`.
        Create::Set(items) => items
            .iter()
            .fold(0u64, |acc, k| acc.saturating_add(entry(k, &Value::None))),
        Create::Namespace(attrs) => attrs
            .iter()
            .fold(0u64, |acc, (n, v)| acc.saturating_add(attr(n, v))),
        Create::Value(v) => weight(v),
        Create::Custom { type_name, args } => (type_name.len() as u64).saturating_add(sum(args)),
        Create::Lock
        | Create::RLock
        | Create::Semaphore(_)
        | Create::BoundedSemaphore(_)
        | Create::Condition
        | Create::Event
        | Create::Barrier(_)
        | Create::Queue(_)
        | Create::JoinableQueue(_) => 0,
    };
    contents.saturating_add(OBJECT_COST)
}

/// How an operation on an object changes what the server holds.
pub(crate) enum Growth {
    /// It adds at most this many bytes (charged before it runs).
    Adds(u64),
    /// It may remove data (its account is re-measured when the budget is tight).
    Shrinks,
    /// It changes no stored data.
    Nothing,
}

/// How `op` on `target` changes what the server holds. Every operation is listed: a new
/// one must say how it is bounded (see docs/ARCHITECTURE.md, the manager's limits).
pub(crate) fn growth(op: &Op, target: &Obj) -> Growth {
    match op {
        // A goodbye settles holdings; the server's names are charged by the server.
        Op::Server(
            ServerOp::Ping
            | ServerOp::Create(_)
            | ServerOp::Shutdown
            | ServerOp::Goodbye
            | ServerOp::SetName(..)
            | ServerOp::GetName(_),
        ) => Growth::Nothing,
        // Iteration stores nothing (its replies are temporary copies, like `copy()`).
        Op::Any(
            AnyOp::Destroy
            | AnyOp::Repr
            | AnyOp::Copy
            | AnyOp::Len
            | AnyOp::Contains(_)
            | AnyOp::IterChunk { .. },
        ) => Growth::Nothing,
        Op::Dict(op) => dict_growth(op),
        Op::List(op) => list_growth(op, target),
        Op::Set(op) => set_growth(op),
        Op::Namespace(NamespaceOp::Set(name, v)) => Growth::Adds(attr(name, v)),
        Op::Namespace(NamespaceOp::Del(_)) => Growth::Shrinks,
        Op::Namespace(NamespaceOp::Get(_)) => Growth::Nothing,
        Op::Lock(LockOp::Acquire { .. } | LockOp::Release | LockOp::Locked) => Growth::Nothing,
        Op::Condition(
            ConditionOp::Wait { .. } | ConditionOp::Notify(_) | ConditionOp::NotifyAll,
        ) => Growth::Nothing,
        Op::Event(EventOp::Set | EventOp::Clear | EventOp::IsSet | EventOp::Wait { .. }) => {
            Growth::Nothing
        }
        Op::Barrier(
            BarrierOp::Wait { .. } | BarrierOp::Abort | BarrierOp::Reset | BarrierOp::Info,
        ) => Growth::Nothing,
        Op::Queue(QueueOp::Put { item, .. }) => Growth::Adds(weight(item)),
        Op::Queue(QueueOp::Get { .. }) => Growth::Shrinks,
        Op::Queue(QueueOp::QSize | QueueOp::TaskDone | QueueOp::Join { .. }) => Growth::Nothing,
        Op::Value(ValueOp::Set(v)) => Growth::Adds(weight(v)),
        Op::Value(ValueOp::Get) => Growth::Nothing,
        // A custom type's method may keep its arguments: they must fit while it runs.
        // The budget cannot see a custom type's state (measuring one gives only its
        // fixed cost), so what the method keeps is not accounted.
        Op::Custom(CustomOp::Call { args, .. }) => Growth::Adds(sum(args)),
    }
}

fn dict_growth(op: &DictOp) -> Growth {
    match op {
        DictOp::SetItem(k, v) | DictOp::SetDefault(k, v) => Growth::Adds(entry(k, v)),
        DictOp::Update(pairs) => Growth::Adds(
            pairs
                .iter()
                .fold(0u64, |acc, (k, v)| acc.saturating_add(entry(k, v))),
        ),
        DictOp::DelItem(_) | DictOp::Pop(..) | DictOp::PopItem | DictOp::Clear => Growth::Shrinks,
        // `d | x` answers a new dict and stores nothing.
        DictOp::Or(_)
        | DictOp::GetItem(_)
        | DictOp::Get(..)
        | DictOp::Keys
        | DictOp::Values
        | DictOp::Items => Growth::Nothing,
    }
}

fn list_growth(op: &ListOp, target: &Obj) -> Growth {
    match op {
        ListOp::SetItem(_, v) | ListOp::Append(v) | ListOp::Insert(_, v) => Growth::Adds(weight(v)),
        ListOp::Extend(items) | ListOp::SetSlice(_, _, items) => Growth::Adds(sum(items)),
        // `l *= n` holds n times what the list holds: measured now, before anything is
        // allocated (the list may change meanwhile; the bound is then approximate).
        ListOp::Repeat(0) => Growth::Shrinks,
        ListOp::Repeat(n) => Growth::Adds(
            measure(target)
                .saturating_sub(OBJECT_COST)
                .saturating_mul(n.saturating_sub(1)),
        ),
        ListOp::DelItem(_) | ListOp::Pop(_) | ListOp::Remove(_) | ListOp::DelSlice(..) => {
            Growth::Shrinks
        }
        ListOp::GetItem(_)
        | ListOp::Index(_)
        | ListOp::Count(_)
        | ListOp::Reverse
        | ListOp::Sort { .. }
        | ListOp::GetSlice(..) => Growth::Nothing,
    }
}

fn set_growth(op: &SetOp) -> Growth {
    match op {
        SetOp::Add(k) => Growth::Adds(entry(k, &Value::None)),
        // The in-place set updates that can add elements; the others only remove.
        SetOp::With(SetWith::Update | SetWith::SymmetricDifferenceUpdate, items) => Growth::Adds(
            items
                .iter()
                .fold(0u64, |acc, k| acc.saturating_add(entry(k, &Value::None))),
        ),
        SetOp::With(SetWith::IntersectionUpdate | SetWith::DifferenceUpdate, _)
        | SetOp::Discard(_)
        | SetOp::Remove(_)
        | SetOp::Pop
        | SetOp::Clear => Growth::Shrinks,
        // The set operations that answer a new collection or a bool store nothing.
        SetOp::With(
            SetWith::Union
            | SetWith::Intersection
            | SetWith::Difference
            | SetWith::SymmetricDifference
            | SetWith::IsSubset
            | SetWith::IsSuperset
            | SetWith::IsDisjoint
            | SetWith::IsEqual,
            _,
        ) => Growth::Nothing,
    }
}

#[derive(Default)]
struct Account {
    charged: u64,
    /// Changed since last measured: its `charged` may be above what it holds.
    dirty: bool,
}

#[derive(Default)]
struct Books {
    used: u64,
    accounts: HashMap<u64, Account>,
}

/// The memory budget of one server.
pub(crate) struct Budget {
    limit: u64,
    books: Mutex<Books>,
}

impl Budget {
    pub(crate) fn new(limit: u64) -> Budget {
        Budget {
            limit,
            books: Mutex::new(Books::default()),
        }
    }

    fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        self.books
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Charges `bytes` to account `id` before they are allocated, or refuses. When the
    /// charge does not fit, the accounts that changed are measured first (`measure`
    /// gives what an account holds now, `None` when it is gone).
    pub(crate) fn charge(
        &self,
        id: u64,
        bytes: u64,
        measure: &dyn Fn(u64) -> Option<u64>,
    ) -> Result<(), RemoteError> {
        let mut b = self.books();
        if b.used.saturating_add(bytes) > self.limit {
            Self::settle(&mut b, measure);
        }
        if b.used.saturating_add(bytes) > self.limit {
            return Err(RemoteError::new(
                K::MemoryBudget,
                format!(
                    "the operation needs up to {bytes} bytes, the server holds {} of its {}-byte budget",
                    b.used, self.limit
                ),
            ));
        }
        b.used += bytes;
        let a = b.accounts.entry(id).or_default();
        a.charged = a.charged.saturating_add(bytes);
        a.dirty = true;
        Ok(())
    }

    /// Notes that account `id` may have shrunk.
    pub(crate) fn touch(&self, id: u64) {
        if let Some(a) = self.books().accounts.get_mut(&id) {
            a.dirty = true;
        }
    }

    /// Credits all of account `id` (its object was destroyed).
    pub(crate) fn close(&self, id: u64) {
        let mut b = self.books();
        if let Some(a) = b.accounts.remove(&id) {
            b.used = b.used.saturating_sub(a.charged);
        }
    }

    /// Bytes charged now, after measuring the accounts that changed.
    pub(crate) fn used(&self, measure: &dyn Fn(u64) -> Option<u64>) -> u64 {
        let mut b = self.books();
        Self::settle(&mut b, measure);
        b.used
    }

    /// Replaces the charges of changed accounts by what they hold now.
    fn settle(b: &mut Books, measure: &dyn Fn(u64) -> Option<u64>) {
        let dirty: Vec<u64> = b
            .accounts
            .iter()
            .filter(|(_, a)| a.dirty)
            .map(|(&id, _)| id)
            .collect();
        for id in dirty {
            let now = measure(id);
            let Some(a) = b.accounts.get_mut(&id) else {
                continue;
            };
            let before = a.charged;
            match now {
                Some(bytes) => {
                    a.charged = bytes;
                    a.dirty = false;
                }
                None => {
                    b.accounts.remove(&id);
                }
            }
            let after = now.unwrap_or(0);
            b.used = b.used.saturating_sub(before).saturating_add(after);
        }
    }
}
