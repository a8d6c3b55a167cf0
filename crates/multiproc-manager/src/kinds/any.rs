//! [`AnyOp`]: the operations every kind answers, or every container kind (the wire's
//! `Op::Any`). With the kinds' own enums, below `protocol.rs`, which wraps them in `Op`.

use serde::{Deserialize, Serialize};

use crate::value::Value;

/// Operations every kind answers, or every container kind.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum AnyOp {
    /// Drop the object (`del proxy` in CPython, where refcounting does it; the public
    /// `destroy()`).
    Destroy,
    Repr,
    /// The whole value (dict, list, namespace, value, array, queue contents).
    Copy,
    Len,
    Contains(Value),
    /// Up to `max` items (dict and set: keys) from position `start`, with the length
    /// at the time: `(len, [items])`. With `expect_len`, a length that differs is the
    /// `RuntimeError` of an iterator whose container changed size.
    IterChunk {
        start: u64,
        max: u64,
        expect_len: Option<u64>,
    },
}

impl AnyOp {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            AnyOp::Destroy => "destroy",
            AnyOp::Repr => "__repr__",
            AnyOp::Copy => "copy",
            AnyOp::Len => "__len__",
            AnyOp::Contains(_) => "__contains__",
            AnyOp::IterChunk { .. } => "__iter__",
        }
    }
}
