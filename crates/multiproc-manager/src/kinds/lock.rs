//! `Lock`, `RLock`, `Semaphore` and `BoundedSemaphore`: [`LockOp`] (a `Condition`'s
//! lock answers it too, in `condition.rs`). A holder that vanishes is settled by
//! `Obj::release_conn`.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Caller, Cell, Fail, NO_OWNER, Outcome, acquired, err};
use crate::error::RemoteErrorKind as K;
use crate::value::{Kind, Value};

/// Locks, semaphores, and a condition's lock.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum LockOp {
    Acquire { timeout: Option<Duration> },
    Release,
    Locked,
}

impl LockOp {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            LockOp::Acquire { .. } => "acquire",
            LockOp::Release => "release",
            LockOp::Locked => "locked",
        }
    }
}

pub(crate) struct LockState {
    /// (connection, thread) of the holder.
    pub(super) owner: Option<(u64, u64)>,
    /// Recursion depth (RLock, Condition).
    pub(super) count: u64,
    /// How many times a holder vanished with the lock held (reported in `repr`).
    abandoned: u64,
    /// Released by the server from a holder that vanished, not yet reported: the next
    /// acquisition is told ([`super::OWNER_DIED`]).
    pub(super) owner_died: bool,
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
    /// acquisitions are told ([`super::OWNER_DIED`]).
    died: u64,
}

impl LockState {
    /// Takes the lock for `me` if it is free, or once more if `me` holds it and it is
    /// `recursive`: answers whether its last holder vanished, `None` if it is taken.
    pub(super) fn take(&mut self, me: (u64, u64), recursive: bool) -> Option<bool> {
        if self.owner.is_none() {
            self.owner = Some(me);
            self.count = 1;
            Some(std::mem::take(&mut self.owner_died))
        } else if recursive && self.owner == Some(me) {
            self.count += 1;
            Some(false)
        } else {
            None
        }
    }

    /// Releases the lock (one level of a `recursive` one, which only its holder may).
    pub(super) fn give(&mut self, me: (u64, u64), recursive: bool) -> Result<(), Fail> {
        if recursive {
            if self.owner != Some(me) {
                return Err(err(K::RuntimeError, "cannot release un-acquired lock"));
            }
            self.count -= 1;
            if self.count == 0 {
                self.owner = None;
            }
        } else {
            // threading.Lock may be released by anyone, but not twice.
            if self.owner.is_none() {
                return Err(err(K::RuntimeError, "release unlocked lock"));
            }
            self.owner = None;
            self.count = 0;
        }
        Ok(())
    }

    pub(super) fn new() -> LockState {
        LockState {
            owner: None,
            count: 0,
            abandoned: 0,
            owner_died: false,
        }
    }

    /// Settles a lock held by connection `conn`, which ended (see `Obj::release_conn`);
    /// answers how many acquisitions were released.
    pub(super) fn release_conn(&mut self, conn: u64, clean: bool, recursive: bool) -> u64 {
        if self.owner.is_none_or(|(c, _)| c != conn) {
            return 0;
        }
        if clean && !recursive {
            self.owner = Some(NO_OWNER);
            return 0;
        }
        self.owner = None;
        self.count = 0;
        self.abandoned += 1;
        self.owner_died = true;
        1
    }
}

impl SemState {
    pub(super) fn new(value: u64, bounded: bool) -> SemState {
        SemState {
            value,
            initial: value,
            bounded,
            held: HashMap::new(),
            ownerless: 0,
            abandoned: 0,
            died: 0,
        }
    }

    /// Settles the permits connection `conn` held, which ended (see
    /// `Obj::release_conn`); answers how many were released.
    pub(super) fn release_conn(&mut self, conn: u64, clean: bool) -> u64 {
        let n = self.held.remove(&conn).unwrap_or(0);
        if clean {
            self.ownerless += n;
            return 0;
        }
        self.value += n;
        if self.bounded {
            self.value = self.value.min(self.initial);
        }
        self.abandoned += n;
        self.died += n;
        n
    }
}

/// Runs `op` on a `Lock`, or an `RLock` (`recursive`).
pub(super) fn run(
    c: &Cell<LockState>,
    op: LockOp,
    who: &Caller<'_>,
    try_only: bool,
    recursive: bool,
) -> Outcome {
    let me = (who.conn, who.thread);
    match op {
        LockOp::Acquire { timeout } => {
            let got = c.wait_until(who, try_only, timeout, |st| st.take(me, recursive))?;
            Ok(got.map_or(Value::Bool(false), acquired))
        }
        LockOp::Release => {
            c.lock().give(me, recursive)?;
            c.cv.notify_all();
            Ok(Value::None)
        }
        LockOp::Locked => Ok(Value::Bool(c.lock().owner.is_some())),
    }
}

/// `repr` of a `Lock` or an `RLock` (`recursive`).
pub(super) fn repr(c: &Cell<LockState>, kind: &Kind, recursive: bool) -> Value {
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
    end_repr(s, st.abandoned, |n| {
        format!(", released {n} time(s) after its holder vanished")
    })
}

/// Ends a `repr` begun in `s`: how many releases settled vanished holders
/// (`abandoned`, worded by `note`) when there were any, then `>`.
fn end_repr(mut s: String, abandoned: u64, note: impl FnOnce(u64) -> String) -> Value {
    if abandoned > 0 {
        s.push_str(&note(abandoned));
    }
    s.push('>');
    Value::Str(s)
}

/// Runs `op` on a `Semaphore` or a `BoundedSemaphore`.
pub(super) fn sem_run(c: &Cell<SemState>, op: LockOp, who: &Caller<'_>, try_only: bool) -> Outcome {
    match op {
        LockOp::Acquire { timeout } => {
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
        LockOp::Release => {
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
        LockOp::Locked => Ok(Value::from(c.lock().value)),
    }
}

/// `repr` of a semaphore.
pub(super) fn sem_repr(c: &Cell<SemState>, kind: &Kind) -> Value {
    let st = c.lock();
    let s = format!("<{}(value={})", kind.typeid(), st.value);
    end_repr(s, st.abandoned, |n| {
        format!(", {n} released after their holder vanished")
    })
}
