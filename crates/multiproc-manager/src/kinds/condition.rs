//! `Condition`: a lock ([`LockOp`]) whose holder may wait to be notified ([`ConditionOp`]).

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::lock::{LockOp, LockState};
use super::{Caller, Cell, Fail, Outcome, acquired, err};
use crate::error::RemoteErrorKind as K;
use crate::value::Value;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum ConditionOp {
    Wait { timeout: Option<Duration> },
    Notify(u64),
    NotifyAll,
}

impl ConditionOp {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            ConditionOp::Wait { .. } => "wait",
            ConditionOp::Notify(_) => "notify",
            ConditionOp::NotifyAll => "notify_all",
        }
    }
}

pub(crate) struct CondState {
    pub(super) lock: LockState,
    next_ticket: u64,
    waiting: VecDeque<u64>,
    notified: Vec<u64>,
}

/// A condition's lock: an `RLock` whose holder may wait.
pub(super) fn lock(c: &Cell<CondState>, op: LockOp, who: &Caller<'_>, try_only: bool) -> Outcome {
    let me = (who.conn, who.thread);
    match op {
        LockOp::Acquire { timeout } => {
            let got = c.wait_until(who, try_only, timeout, |st| st.lock.take(me, true))?;
            Ok(got.map_or(Value::Bool(false), acquired))
        }
        LockOp::Release => {
            c.lock().lock.give(me, true)?;
            c.cv.notify_all();
            Ok(Value::None)
        }
        LockOp::Locked => Ok(Value::Bool(c.lock().lock.owner.is_some())),
    }
}

pub(super) fn run(
    c: &Cell<CondState>,
    op: ConditionOp,
    who: &Caller<'_>,
    try_only: bool,
) -> Outcome {
    let me = (who.conn, who.thread);
    match op {
        ConditionOp::Wait { timeout } => wait(c, who, try_only, timeout),
        ConditionOp::Notify(n) => {
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
        ConditionOp::NotifyAll => {
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
    }
}

/// `wait(timeout)`: releases the lock, waits to be notified (or the timeout), and
/// re-acquires the lock whatever happened; answers whether it was notified.
fn wait(
    c: &Cell<CondState>,
    who: &Caller<'_>,
    try_only: bool,
    timeout: Option<Duration>,
) -> Outcome {
    let me = (who.conn, who.thread);
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

/// `repr` of a condition.
pub(super) fn repr(c: &Cell<CondState>) -> Value {
    let st = c.lock();
    Value::Str(format!(
        "<Condition({}, waiters={})>",
        if st.lock.owner.is_some() {
            "locked"
        } else {
            "unlocked"
        },
        st.waiting.len()
    ))
}

impl CondState {
    pub(super) fn new() -> CondState {
        CondState {
            lock: LockState::new(),
            next_ticket: 0,
            waiting: VecDeque::new(),
            notified: Vec::new(),
        }
    }
}
