//! `manager.Namespace()`: attributes in the order they were first set.

use serde::{Deserialize, Serialize};

use super::any::AnyOp;
use super::{Fail, Outcome, err, no_method};
use crate::error::RemoteErrorKind as K;
use crate::value::{Kind, Value};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum NamespaceOp {
    Get(String),
    Set(String, Value),
    Del(String),
}

impl NamespaceOp {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            NamespaceOp::Get(_) => "__getattr__",
            NamespaceOp::Set(..) => "__setattr__",
            NamespaceOp::Del(_) => "__delattr__",
        }
    }
}

fn missing(name: &str) -> Fail {
    err(
        K::AttributeError,
        format!("'Namespace' object has no attribute '{name}'"),
    )
}

pub(super) fn run(attrs: &mut Vec<(String, Value)>, op: NamespaceOp) -> Outcome {
    Ok(match op {
        NamespaceOp::Get(name) => attrs
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| missing(&name))?,
        NamespaceOp::Set(name, v) => {
            match attrs.iter_mut().find(|(n, _)| *n == name) {
                Some(slot) => slot.1 = v,
                None => attrs.push((name, v)),
            }
            Value::None
        }
        NamespaceOp::Del(name) => {
            let j = attrs
                .iter()
                .position(|(n, _)| *n == name)
                .ok_or_else(|| missing(&name))?;
            attrs.remove(j);
            Value::None
        }
    })
}

/// `name in ns`, `copy()` (the attributes as a dict) and `repr`.
pub(super) fn any(attrs: &[(String, Value)], op: AnyOp) -> Outcome {
    Ok(match op {
        AnyOp::Contains(Value::Str(ref name)) => Value::Bool(attrs.iter().any(|(n, _)| n == name)),
        AnyOp::Copy => Value::Dict(
            attrs
                .iter()
                .map(|(n, v)| (Value::Str(n.clone()), v.clone()))
                .collect(),
        ),
        AnyOp::Repr => {
            // CPython's Namespace.__repr__: attributes named `_…` are private (a
            // NamespaceProxy keeps them on the proxy), the rest sorted by name
            let mut parts: Vec<String> = attrs
                .iter()
                .filter(|(n, _)| !n.starts_with('_'))
                .map(|(n, v)| format!("{n}={v}"))
                .collect();
            parts.sort();
            Value::Str(format!("Namespace({})", parts.join(", ")))
        }
        op @ (AnyOp::Contains(_) | AnyOp::Destroy | AnyOp::Len | AnyOp::IterChunk { .. }) => {
            return no_method(&Kind::Namespace, op.name());
        }
    })
}
