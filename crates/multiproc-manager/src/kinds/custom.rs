//! A registered type (`manager.create(name, args)`): its methods are called by name
//! and run by the type's own `call` (see [`crate::Shared`]); the dispatch, which
//! catches a method's panic, is in `Obj::run`.

use serde::{Deserialize, Serialize};

use crate::value::Value;

/// A registered type's method, dispatched by the type's own `call`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum CustomOp {
    Call { method: String, args: Vec<Value> },
}

impl CustomOp {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            CustomOp::Call { .. } => "call",
        }
    }
}
