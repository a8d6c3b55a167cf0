//! `Queue` and `JoinableQueue`, kept in the server.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::any::AnyOp;
use super::{Caller, Cell, Outcome, err, no_method};
use crate::error::RemoteErrorKind as K;
use crate::value::{Kind, Value};

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

pub(crate) struct QueueState {
    items: VecDeque<Value>,
    maxsize: Option<u64>,
    joinable: bool,
    unfinished: u64,
}

impl QueueState {
    pub(super) fn new(maxsize: Option<u64>, joinable: bool) -> QueueState {
        QueueState {
            items: VecDeque::new(),
            maxsize: maxsize.filter(|&m| m > 0),
            joinable,
            unfinished: 0,
        }
    }

    /// Puts `item` back at the front (a `get` whose reply was not delivered).
    pub(super) fn unget(&mut self, item: Value) {
        self.items.push_front(item);
    }

    /// The items waiting in the queue (for the memory budget).
    pub(crate) fn items(&self) -> &VecDeque<Value> {
        &self.items
    }
}

pub(super) fn run(
    c: &Cell<QueueState>,
    op: QueueOp,
    who: &Caller<'_>,
    try_only: bool,
    kind: &Kind,
) -> Outcome {
    match op {
        QueueOp::Put { item, timeout } => {
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
        QueueOp::Get { timeout } => {
            match c.wait_until(who, try_only, timeout, |st| st.items.pop_front())? {
                Some(v) => Ok(v),
                None => Err(err(K::Empty, "queue is empty")),
            }
        }
        QueueOp::QSize => Ok(Value::from(c.lock().items.len())),
        QueueOp::TaskDone => {
            let mut st = c.lock();
            if !st.joinable {
                return no_method(kind, "task_done");
            }
            if st.unfinished == 0 {
                return Err(err(K::ValueError, "task_done() called too many times"));
            }
            st.unfinished -= 1;
            drop(st);
            c.cv.notify_all();
            Ok(Value::None)
        }
        QueueOp::Join { timeout } => {
            if !c.lock().joinable {
                return no_method(kind, "join");
            }
            let r = c.wait_until(who, try_only, timeout, |st| {
                (st.unfinished == 0).then_some(())
            })?;
            Ok(Value::Bool(r.is_some()))
        }
    }
}

/// `len`, `copy()` (the items waiting) and `repr`.
pub(super) fn any(c: &Cell<QueueState>, op: AnyOp, kind: &Kind) -> Outcome {
    match op {
        AnyOp::Len => Ok(Value::from(c.lock().items.len())),
        AnyOp::Copy => Ok(Value::List(c.lock().items.iter().cloned().collect())),
        AnyOp::Repr => {
            let st = c.lock();
            Ok(Value::Str(format!(
                "<{}(qsize={}, maxsize={})>",
                kind.typeid(),
                st.items.len(),
                st.maxsize.unwrap_or(0)
            )))
        }
        AnyOp::Destroy | AnyOp::Contains(_) | AnyOp::IterChunk { .. } => no_method(kind, op.name()),
    }
}
