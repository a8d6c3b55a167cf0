//! Server side of the container operations CPython 3.14 added to managers: the `set`
//! object, chunked iteration of dicts, lists and sets, and `dict | pairs`.

use crate::error::RemoteErrorKind as K;
use crate::objects::{Fail, Outcome, check_hashable, err, no_method};
use crate::protocol::{AnyOp, Op, SetOp, SetWith};
use crate::value::{Kind, OrderedMap, Value};

/// The answer to [`AnyOp::IterChunk`]: `(len, [up to max items from start])`, or the
/// `RuntimeError` of an iterator whose container changed size under it (`what` names
/// the container as CPython's message does).
pub(crate) fn iter_chunk<'a>(
    len: usize,
    items: impl Iterator<Item = &'a Value>,
    start: u64,
    max: u64,
    expect_len: Option<u64>,
    what: &str,
) -> Outcome {
    if expect_len.is_some_and(|n| n != len as u64) {
        return Err(err(
            K::RuntimeError,
            format!("{what} changed size during iteration"),
        ));
    }
    let start = usize::try_from(start).unwrap_or(usize::MAX);
    let max = usize::try_from(max).unwrap_or(usize::MAX);
    let chunk: Vec<Value> = items.skip(start).take(max).cloned().collect();
    Ok(Value::Tuple(vec![Value::from(len), Value::List(chunk)]))
}

/// `d | pairs`: a copy of `m` with `pairs` merged in (later values win, first
/// positions stay), as Python's `dict.__or__`; as `(key, value)` pairs, as `items`.
pub(crate) fn dict_or(m: &OrderedMap, pairs: Vec<(Value, Value)>) -> Outcome {
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
pub(crate) fn set_op(s: &mut OrderedMap, op: Op) -> Outcome {
    Ok(match op {
        Op::Set(SetOp::Add(x)) => {
            check_hashable(&x)?;
            s.insert(x, Value::None);
            Value::None
        }
        Op::Set(SetOp::Discard(x)) => {
            check_hashable(&x)?;
            s.remove(&x);
            Value::None
        }
        Op::Set(SetOp::Remove(x)) => {
            check_hashable(&x)?;
            if s.remove(&x).is_none() {
                return Err(err(K::KeyError, x.to_string()));
            }
            Value::None
        }
        Op::Set(SetOp::Pop) => match s.pop_last() {
            Some((x, _)) => x,
            None => return Err(err(K::KeyError, "'pop from an empty set'")),
        },
        Op::Any(AnyOp::Contains(x)) => Value::Bool(x.is_hashable() && s.contains(&x)),
        Op::Any(AnyOp::Len) => Value::from(s.len()),
        Op::Set(SetOp::Clear) => {
            s.clear();
            Value::None
        }
        Op::Any(AnyOp::Copy) => list_of(elements(s)),
        Op::Any(AnyOp::Repr) => Value::Str(set_repr(s)),
        Op::Any(AnyOp::IterChunk {
            start,
            max,
            expect_len,
        }) => return iter_chunk(s.len(), elements(s), start, max, expect_len, "Set"),
        Op::Set(SetOp::With(how, other)) => {
            let other = as_set(other)?;
            match how {
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
            }
        }
        op => return no_method(&Kind::Set, &op),
    })
}

/// A new set's contents: `items` deduplicated, every one hashable.
pub(crate) fn new_set(items: Vec<Value>) -> Result<OrderedMap, crate::error::RemoteError> {
    as_set(items).map_err(crate::objects::unfail)
}
