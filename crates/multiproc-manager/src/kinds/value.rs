//! `manager.Value()`: one value.

use serde::{Deserialize, Serialize};

use super::any::AnyOp;
use super::{Outcome, no_method};
use crate::value::{Kind, Value};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum ValueOp {
    Get,
    Set(Value),
}

impl ValueOp {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            ValueOp::Get | ValueOp::Set(_) => "value",
        }
    }
}

pub(super) fn run(v: &mut Value, op: ValueOp) -> Outcome {
    match op {
        ValueOp::Get => Ok(v.clone()),
        ValueOp::Set(x) => {
            *v = x;
            Ok(Value::None)
        }
    }
}

/// `copy()` (the value) and `repr`.
pub(super) fn any(v: &Value, op: AnyOp) -> Outcome {
    match op {
        AnyOp::Copy => Ok(v.clone()),
        AnyOp::Repr => Ok(Value::Str(format!("Value({v})"))),
        AnyOp::Destroy | AnyOp::Len | AnyOp::Contains(_) | AnyOp::IterChunk { .. } => {
            no_method(&Kind::Value, op.name())
        }
    }
}
