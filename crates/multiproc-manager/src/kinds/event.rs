//! `Event`: a flag, and waiting for it to be set.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Caller, Cell, Outcome};
use crate::value::Value;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum EventOp {
    Set,
    Clear,
    IsSet,
    Wait { timeout: Option<Duration> },
}

impl EventOp {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            EventOp::Set => "set",
            EventOp::Clear => "clear",
            EventOp::IsSet => "is_set",
            EventOp::Wait { .. } => "wait",
        }
    }
}

pub(super) fn run(c: &Cell<bool>, op: EventOp, who: &Caller<'_>, try_only: bool) -> Outcome {
    match op {
        EventOp::Set => {
            *c.lock() = true;
            c.cv.notify_all();
            Ok(Value::None)
        }
        EventOp::Clear => {
            *c.lock() = false;
            Ok(Value::None)
        }
        EventOp::IsSet => Ok(Value::Bool(*c.lock())),
        EventOp::Wait { timeout } => {
            let r = c.wait_until(who, try_only, timeout, |set| set.then_some(()))?;
            Ok(Value::Bool(r.is_some()))
        }
    }
}

/// `repr` of an event.
pub(super) fn repr(c: &Cell<bool>) -> Value {
    Value::Str(format!(
        "<Event({})>",
        if *c.lock() { "set" } else { "unset" }
    ))
}
