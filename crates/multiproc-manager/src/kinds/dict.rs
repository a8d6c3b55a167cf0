//! `manager.dict()`: an insertion-ordered map (`OrderedMap`), keys hashable.

use serde::{Deserialize, Serialize};

use super::any::AnyOp;
use super::{Fail, Outcome, check_hashable, err, iter_chunk, no_method};
use crate::error::RemoteErrorKind as K;
use crate::value::{Kind, OrderedMap, Value};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum DictOp {
    GetItem(Value),
    SetItem(Value, Value),
    DelItem(Value),
    Get(Value, Value),
    Keys,
    Values,
    Items,
    Update(Vec<(Value, Value)>),
    Pop(Value, Option<Value>),
    PopItem,
    SetDefault(Value, Value),
    Clear,
    /// `d | pairs`: a new dict (a copy), the pairs merged in.
    Or(Vec<(Value, Value)>),
}

impl DictOp {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            DictOp::GetItem(_) => "__getitem__",
            DictOp::SetItem(..) => "__setitem__",
            DictOp::DelItem(_) => "__delitem__",
            DictOp::Get(..) => "get",
            DictOp::Keys => "keys",
            DictOp::Values => "values",
            DictOp::Items => "items",
            DictOp::Update(_) => "update",
            DictOp::Pop(..) => "pop",
            DictOp::PopItem => "popitem",
            DictOp::SetDefault(..) => "setdefault",
            DictOp::Clear => "clear",
            DictOp::Or(_) => "__or__",
        }
    }
}

fn key_error(k: &Value) -> Fail {
    err(K::KeyError, k.to_string())
}

pub(super) fn run(m: &mut OrderedMap, op: DictOp) -> Outcome {
    Ok(match op {
        DictOp::GetItem(k) => {
            check_hashable(&k)?;
            m.get(&k).cloned().ok_or_else(|| key_error(&k))?
        }
        DictOp::SetItem(k, v) => {
            check_hashable(&k)?;
            m.insert(k, v);
            Value::None
        }
        DictOp::DelItem(k) => {
            check_hashable(&k)?;
            m.remove(&k).ok_or_else(|| key_error(&k))?;
            Value::None
        }
        DictOp::Get(k, default) => {
            check_hashable(&k)?;
            m.get(&k).cloned().unwrap_or(default)
        }
        DictOp::Keys => Value::List(m.iter().map(|(k, _)| k.clone()).collect()),
        DictOp::Values => Value::List(m.iter().map(|(_, v)| v.clone()).collect()),
        DictOp::Items => Value::List(
            m.iter()
                .map(|(k, v)| Value::Tuple(vec![k.clone(), v.clone()]))
                .collect(),
        ),
        DictOp::Update(pairs) => {
            for (k, _) in &pairs {
                check_hashable(k)?;
            }
            for (k, v) in pairs {
                m.insert(k, v);
            }
            Value::None
        }
        DictOp::Pop(k, default) => {
            check_hashable(&k)?;
            match (m.remove(&k), default) {
                (Some(v), _) => v,
                (None, Some(d)) => d,
                (None, None) => return Err(key_error(&k)),
            }
        }
        DictOp::PopItem => match m.pop_last() {
            Some((k, v)) => Value::Tuple(vec![k, v]),
            None => return Err(err(K::KeyError, "'popitem(): dictionary is empty'")),
        },
        DictOp::SetDefault(k, default) => {
            check_hashable(&k)?;
            match m.get(&k) {
                Some(v) => v.clone(),
                None => {
                    m.insert(k, default.clone());
                    default
                }
            }
        }
        DictOp::Clear => {
            m.clear();
            Value::None
        }
        DictOp::Or(pairs) => return dict_or(m, pairs),
    })
}

/// The operations every container answers.
pub(super) fn any(m: &OrderedMap, op: AnyOp) -> Outcome {
    Ok(match op {
        AnyOp::Contains(k) => Value::Bool(k.is_hashable() && m.contains(&k)),
        AnyOp::Len => Value::from(m.len()),
        AnyOp::Copy => m.to_value(),
        AnyOp::Repr => Value::Str(m.to_value().to_string()),
        AnyOp::IterChunk {
            start,
            max,
            expect_len,
        } => {
            let keys = m.iter().map(|(k, _)| k);
            return iter_chunk(m.len(), keys, start, max, expect_len, "dictionary");
        }
        AnyOp::Destroy => return no_method(&Kind::Dict, op.name()),
    })
}

/// `d | pairs`: a copy of `m` with `pairs` merged in (later values win, first
/// positions stay), as Python's `dict.__or__`; as `(key, value)` pairs, as `items`.
fn dict_or(m: &OrderedMap, pairs: Vec<(Value, Value)>) -> Outcome {
    for (k, _) in &pairs {
        check_hashable(k)?;
    }
    let mut out = m.clone();
    for (k, v) in pairs {
        out.insert(k, v);
    }
    Ok(Value::List(
        out.iter()
            .map(|(k, v)| Value::Tuple(vec![k.clone(), v.clone()]))
            .collect(),
    ))
}
