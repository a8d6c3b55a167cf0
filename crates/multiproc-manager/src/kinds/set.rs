//! `manager.set()` (CPython 3.14): the keys of an ordered map whose values are `None`.

use serde::{Deserialize, Serialize};

use super::any::AnyOp;
use super::{Fail, Outcome, check_hashable, err, no_method};
use crate::error::RemoteErrorKind as K;
use crate::value::{Kind, OrderedMap, Value};

/// The set operations that take another collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum SetWith {
    Union,
    Intersection,
    Difference,
    SymmetricDifference,
    Update,
    IntersectionUpdate,
    DifferenceUpdate,
    SymmetricDifferenceUpdate,
    IsSubset,
    IsSuperset,
    IsDisjoint,
    IsEqual,
}

impl SetWith {
    pub(crate) fn name(self) -> &'static str {
        match self {
            SetWith::Union => "union",
            SetWith::Intersection => "intersection",
            SetWith::Difference => "difference",
            SetWith::SymmetricDifference => "symmetric_difference",
            SetWith::Update => "update",
            SetWith::IntersectionUpdate => "intersection_update",
            SetWith::DifferenceUpdate => "difference_update",
            SetWith::SymmetricDifferenceUpdate => "symmetric_difference_update",
            SetWith::IsSubset => "issubset",
            SetWith::IsSuperset => "issuperset",
            SetWith::IsDisjoint => "isdisjoint",
            SetWith::IsEqual => "__eq__",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum SetOp {
    /// `s.add(x)`.
    Add(Value),
    /// `s.discard(x)`.
    Discard(Value),
    Remove(Value),
    /// `s.pop()`.
    Pop,
    Clear,
    /// A set operation with another collection (`union`, `issubset`, `update`, …).
    With(SetWith, Vec<Value>),
}

impl SetOp {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            SetOp::Add(_) => "add",
            SetOp::Discard(_) => "discard",
            SetOp::Remove(_) => "remove",
            SetOp::Pop => "pop",
            SetOp::Clear => "clear",
            SetOp::With(how, _) => how.name(),
        }
    }
}

/// The elements of a set (its keys; the values are `None`).
fn elements(s: &OrderedMap) -> impl Iterator<Item = &Value> {
    s.iter().map(|(k, _)| k)
}

/// `other` as a set, in its order, duplicates dropped; every element hashable.
fn as_set(other: Vec<Value>) -> Result<OrderedMap, Fail> {
    let mut out = OrderedMap::default();
    for x in other {
        check_hashable(&x)?;
        out.insert(x, Value::None);
    }
    Ok(out)
}

/// Python's `repr` of a set: `{1, 'a'}`, and `set()` when empty.
fn set_repr(s: &OrderedMap) -> String {
    if s.len() == 0 {
        return "set()".into();
    }
    let parts: Vec<String> = elements(s).map(ToString::to_string).collect();
    format!("{{{}}}", parts.join(", "))
}

fn list_of<'a>(items: impl Iterator<Item = &'a Value>) -> Value {
    Value::List(items.cloned().collect())
}

/// Runs `op` on the set `s`. Elements keep their insertion order (CPython's sets are
/// unordered; an order is one of the orders it may show).
pub(super) fn run(s: &mut OrderedMap, op: SetOp) -> Outcome {
    Ok(match op {
        SetOp::Add(x) => {
            check_hashable(&x)?;
            s.insert(x, Value::None);
            Value::None
        }
        SetOp::Discard(x) => {
            check_hashable(&x)?;
            s.remove(&x);
            Value::None
        }
        SetOp::Remove(x) => {
            check_hashable(&x)?;
            if s.remove(&x).is_none() {
                return Err(err(K::KeyError, x.to_string()));
            }
            Value::None
        }
        SetOp::Pop => match s.pop_last() {
            Some((x, _)) => x,
            None => return Err(err(K::KeyError, "'pop from an empty set'")),
        },
        SetOp::Clear => {
            s.clear();
            Value::None
        }
        SetOp::With(how, other) => return with(s, how, other),
    })
}

/// The operations every container answers.
pub(super) fn any(s: &OrderedMap, op: AnyOp) -> Outcome {
    Ok(match op {
        AnyOp::Contains(x) => Value::Bool(x.is_hashable() && s.contains(&x)),
        AnyOp::Len => Value::from(s.len()),
        AnyOp::Copy => list_of(elements(s)),
        AnyOp::Repr => Value::Str(set_repr(s)),
        AnyOp::IterChunk {
            start,
            max,
            expect_len,
        } => return super::iter_chunk(s.len(), elements(s), start, max, expect_len, "Set"),
        AnyOp::Destroy => return no_method(&Kind::Set, op.name()),
    })
}

/// `s.union(other)`, `s.update(other)`, `s.issubset(other)`, …
fn with(s: &mut OrderedMap, how: SetWith, other: Vec<Value>) -> Outcome {
    let other = as_set(other)?;
    Ok(match how {
        SetWith::Union => {
            let extra = elements(&other).filter(|x| !s.contains(x));
            list_of(elements(s).chain(extra))
        }
        SetWith::Intersection => list_of(elements(s).filter(|x| other.contains(x))),
        SetWith::Difference => list_of(elements(s).filter(|x| !other.contains(x))),
        SetWith::SymmetricDifference => {
            let mine = elements(s).filter(|x| !other.contains(x));
            let theirs = elements(&other).filter(|x| !s.contains(x));
            list_of(mine.chain(theirs))
        }
        SetWith::Update => {
            for (x, _) in other.iter() {
                s.insert(x.clone(), Value::None);
            }
            Value::None
        }
        SetWith::IntersectionUpdate => {
            let gone: Vec<Value> = elements(s)
                .filter(|x| !other.contains(x))
                .cloned()
                .collect();
            for x in &gone {
                s.remove(x);
            }
            Value::None
        }
        SetWith::DifferenceUpdate => {
            for (x, _) in other.iter() {
                s.remove(x);
            }
            Value::None
        }
        SetWith::SymmetricDifferenceUpdate => {
            for (x, _) in other.iter() {
                if s.remove(x).is_none() {
                    s.insert(x.clone(), Value::None);
                }
            }
            Value::None
        }
        SetWith::IsSubset => Value::Bool(elements(s).all(|x| other.contains(x))),
        SetWith::IsSuperset => Value::Bool(elements(&other).all(|x| s.contains(x))),
        SetWith::IsDisjoint => Value::Bool(!elements(&other).any(|x| s.contains(x))),
        SetWith::IsEqual => {
            Value::Bool(s.len() == other.len() && elements(&other).all(|x| s.contains(x)))
        }
    })
}

/// A new set's contents: `items` deduplicated, every one hashable.
pub(crate) fn new_set(items: Vec<Value>) -> Result<OrderedMap, crate::error::RemoteError> {
    as_set(items).map_err(super::unfail)
}
