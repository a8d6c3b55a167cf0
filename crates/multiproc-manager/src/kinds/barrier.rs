//! `Barrier`: parties wait until all have arrived.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Caller, Cell, Fail, Outcome, err};
use crate::error::{RemoteError, RemoteErrorKind as K};
use crate::value::Value;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum BarrierOp {
    Wait { timeout: Option<Duration> },
    Abort,
    Reset,
    Info,
}

impl BarrierOp {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            BarrierOp::Wait { .. } => "wait",
            BarrierOp::Abort => "abort",
            BarrierOp::Reset => "reset",
            BarrierOp::Info => "parties",
        }
    }
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

pub(super) fn run(
    c: &Cell<BarrierState>,
    op: BarrierOp,
    who: &Caller<'_>,
    try_only: bool,
) -> Outcome {
    match op {
        BarrierOp::Wait { timeout } => wait(c, who, try_only, timeout),
        BarrierOp::Abort => {
            c.lock().broken = true;
            c.cv.notify_all();
            Ok(Value::None)
        }
        BarrierOp::Reset => {
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
        BarrierOp::Info => {
            let st = c.lock();
            Ok(Value::Tuple(vec![
                Value::from(st.parties),
                Value::from(st.n_waiting()),
                Value::Bool(st.broken),
            ]))
        }
    }
}

fn broken() -> Fail {
    err(K::BrokenBarrier, "the barrier is broken")
}

/// `wait(timeout)`: answers this party's index once all parties are in; a timeout, or
/// a waiter whose client vanished, breaks the barrier for everyone.
fn wait(
    c: &Cell<BarrierState>,
    who: &Caller<'_>,
    try_only: bool,
    timeout: Option<Duration>,
) -> Outcome {
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

/// `repr` of a barrier.
pub(super) fn repr(c: &Cell<BarrierState>) -> Value {
    let st = c.lock();
    Value::Str(format!(
        "<Barrier(parties={}, waiting={}, broken={})>",
        st.parties,
        st.n_waiting(),
        if st.broken { "True" } else { "False" }
    ))
}

impl BarrierState {
    pub(super) fn new(parties: u64) -> Result<BarrierState, RemoteError> {
        if parties == 0 {
            return Err(RemoteError::new(K::ValueError, "parties must be > 0"));
        }
        Ok(BarrierState {
            parties,
            count: 0,
            generation: 0,
            broken: false,
            reset_gen: None,
        })
    }
}
