//! `manager.list()` and `manager.Array()` (a list of fixed length).

use serde::{Deserialize, Serialize};

use super::any::AnyOp;
use super::{Fail, Outcome, err, no_method};
use crate::error::RemoteErrorKind as K;
use crate::value::{Kind, Value};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum ListOp {
    GetItem(Value),
    SetItem(Value, Value),
    DelItem(Value),
    Append(Value),
    Extend(Vec<Value>),
    Insert(i64, Value),
    Pop(Option<i64>),
    Remove(Value),
    Index(Value),
    Count(Value),
    Reverse,
    Sort {
        reverse: bool,
    },
    GetSlice(Option<i64>, Option<i64>),
    SetSlice(Option<i64>, Option<i64>, Vec<Value>),
    DelSlice(Option<i64>, Option<i64>),
    /// `l *= n`.
    Repeat(u64),
}

impl ListOp {
    /// Whether it may change the list's length (an `Array` refuses it).
    fn resizes(&self) -> bool {
        match self {
            ListOp::DelItem(_)
            | ListOp::Append(_)
            | ListOp::Extend(_)
            | ListOp::Insert(..)
            | ListOp::Pop(_)
            | ListOp::Remove(_)
            | ListOp::DelSlice(..)
            | ListOp::Repeat(_) => true,
            ListOp::GetItem(_)
            | ListOp::SetItem(..)
            | ListOp::Index(_)
            | ListOp::Count(_)
            | ListOp::Reverse
            | ListOp::Sort { .. }
            | ListOp::GetSlice(..)
            | ListOp::SetSlice(..) => false,
        }
    }

    pub(crate) fn name(&self) -> &'static str {
        match self {
            ListOp::GetItem(_) | ListOp::GetSlice(..) => "__getitem__",
            ListOp::SetItem(..) | ListOp::SetSlice(..) => "__setitem__",
            ListOp::DelItem(_) | ListOp::DelSlice(..) => "__delitem__",
            ListOp::Append(_) => "append",
            ListOp::Extend(_) => "extend",
            ListOp::Insert(..) => "insert",
            ListOp::Pop(_) => "pop",
            ListOp::Remove(_) => "remove",
            ListOp::Index(_) => "index",
            ListOp::Count(_) => "count",
            ListOp::Reverse => "reverse",
            ListOp::Sort { .. } => "sort",
            ListOp::Repeat(_) => "__imul__",
        }
    }
}

/// Python's index normalisation for item access.
fn item_index(i: &Value, len: usize, what: &str) -> Result<usize, Fail> {
    let i: i128 = match i {
        Value::Int(i) => *i,
        Value::Bool(b) => i128::from(*b),
        other => {
            return Err(err(
                K::TypeError,
                format!("{what} indices must be integers, not {}", other.type_name()),
            ));
        }
    };
    let len_i = len as i128;
    let j = if i < 0 { i + len_i } else { i };
    if (0..len_i).contains(&j) {
        Ok(j as usize)
    } else {
        Err(err(K::IndexError, format!("{what} index out of range")))
    }
}

/// Python's slice bounds (step 1): clamp into `0..=len`, `stop >= start`.
fn slice_bounds(start: Option<i64>, stop: Option<i64>, len: usize) -> (usize, usize) {
    let norm = |x: i64| -> usize {
        let len_i = len as i128;
        let x = i128::from(x);
        let x = if x < 0 {
            (x + len_i).max(0)
        } else {
            x.min(len_i)
        };
        x as usize
    };
    let a = start.map_or(0, norm);
    let b = stop.map_or(len, norm);
    (a, b.max(a))
}

/// The longest list `l *= n` may produce (CPython would raise `MemoryError` somewhere
/// past this; the server refuses instead of trying).
const MAX_REPEAT_LEN: usize = 1 << 26;

/// Runs `op` on a list, or on an `Array` (`fixed`), which refuses what would change
/// its length.
pub(super) fn run(v: &mut Vec<Value>, op: ListOp, fixed: bool) -> Outcome {
    let what = if fixed { "array" } else { "list" };
    if fixed && op.resizes() {
        return Err(err(
            K::NoSuchMethod,
            format!("'Array' object has no method '{}'", op.name()),
        ));
    }
    Ok(match op {
        ListOp::GetItem(i) => v[item_index(&i, v.len(), what)?].clone(),
        ListOp::SetItem(i, x) => {
            let j = item_index(&i, v.len(), what)?;
            v[j] = x;
            Value::None
        }
        ListOp::DelItem(i) => {
            let j = item_index(&i, v.len(), what)?;
            v.remove(j);
            Value::None
        }
        ListOp::Append(x) => {
            v.push(x);
            Value::None
        }
        ListOp::Extend(xs) => {
            v.extend(xs);
            Value::None
        }
        ListOp::Insert(i, x) => {
            let (j, _) = slice_bounds(Some(i), None, v.len());
            v.insert(j, x);
            Value::None
        }
        ListOp::Pop(i) => pop(v, i)?,
        ListOp::Remove(x) => {
            remove(v, &x)?;
            Value::None
        }
        ListOp::Index(x) => match v.iter().position(|y| *y == x) {
            Some(j) => Value::from(j),
            None => return Err(err(K::ValueError, format!("{x} is not in list"))),
        },
        ListOp::Count(x) => Value::from(v.iter().filter(|y| **y == x).count()),
        ListOp::Reverse => {
            v.reverse();
            Value::None
        }
        ListOp::Sort { reverse } => {
            sort(v, reverse)?;
            Value::None
        }
        ListOp::GetSlice(a, b) => {
            let (a, b) = slice_bounds(a, b, v.len());
            Value::List(v[a..b].to_vec())
        }
        ListOp::SetSlice(a, b, xs) => {
            let (a, b) = slice_bounds(a, b, v.len());
            if fixed && xs.len() != b - a {
                return Err(err(
                    K::ValueError,
                    "can only assign a sequence of the same size to an array slice",
                ));
            }
            v.splice(a..b, xs);
            Value::None
        }
        ListOp::DelSlice(a, b) => {
            let (a, b) = slice_bounds(a, b, v.len());
            v.drain(a..b);
            Value::None
        }
        ListOp::Repeat(n) => {
            repeat(v, n)?;
            Value::None
        }
    })
}

/// The operations every container answers.
pub(super) fn any(v: &[Value], op: AnyOp, fixed: bool) -> Outcome {
    let kind = if fixed { Kind::Array } else { Kind::List };
    Ok(match op {
        AnyOp::Contains(x) => Value::Bool(v.contains(&x)),
        AnyOp::Len => Value::from(v.len()),
        AnyOp::Copy => Value::List(v.to_vec()),
        AnyOp::Repr => Value::Str(if fixed {
            format!("Array({})", Value::List(v.to_vec()))
        } else {
            Value::List(v.to_vec()).to_string()
        }),
        AnyOp::Destroy | AnyOp::IterChunk { .. } => return no_method(&kind, op.name()),
    })
}

/// `l.pop(i)`, the last item by default.
fn pop(v: &mut Vec<Value>, i: Option<i64>) -> Result<Value, Fail> {
    if v.is_empty() {
        return Err(err(K::IndexError, "pop from empty list"));
    }
    let j = match i {
        None => v.len() - 1,
        Some(i) => item_index(&Value::from(i), v.len(), "pop")?,
    };
    Ok(v.remove(j))
}

/// `l.remove(x)`: the first item equal to `x`.
fn remove(v: &mut Vec<Value>, x: &Value) -> Result<(), Fail> {
    match v.iter().position(|y| y == x) {
        Some(j) => {
            v.remove(j);
            Ok(())
        }
        None => Err(err(K::ValueError, "list.remove(x): x not in list")),
    }
}

/// `l.sort(reverse=…)`: stable, and the list untouched when its items cannot be compared.
fn sort(v: &mut [Value], reverse: bool) -> Result<(), Fail> {
    // Check comparability first so a failed sort leaves the list untouched.
    for w in v.windows(2) {
        if w[0].py_cmp(&w[1]).is_none() && w[0] != w[1] {
            return Err(err(
                K::TypeError,
                format!(
                    "'<' not supported between instances of '{}' and '{}'",
                    w[1].type_name(),
                    w[0].type_name()
                ),
            ));
        }
    }
    // Python's sort is stable in both directions.
    let ord = |a: &Value, b: &Value| a.py_cmp(b).unwrap_or(std::cmp::Ordering::Equal);
    if reverse {
        v.sort_by(|a, b| ord(b, a));
    } else {
        v.sort_by(ord);
    }
    Ok(())
}

/// `l *= n`, refused past [`MAX_REPEAT_LEN`] items.
fn repeat(v: &mut Vec<Value>, n: u64) -> Result<(), Fail> {
    // a request must not be able to make the server allocate without bound
    let len = usize::try_from(n)
        .ok()
        .and_then(|n| v.len().checked_mul(n))
        .filter(|&len| len <= MAX_REPEAT_LEN)
        .ok_or_else(|| {
            err(
                K::ValueError,
                format!("list *= {n}: the result would exceed {MAX_REPEAT_LEN} items"),
            )
        })?;
    if len == 0 {
        v.clear();
    } else {
        let one = v.clone();
        v.reserve(len - one.len());
        while v.len() < len {
            v.extend_from_slice(&one);
        }
    }
    Ok(())
}
