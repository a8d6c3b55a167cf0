//! Deeply nested [`Value`]s without stack overflow.
//!
//! A `Value` is a tree, and one request can describe a very deep one in little space
//! (`[[[…]]]` costs two bytes a level). Everything that walks a value is therefore
//! either iterative — [`Drop`], [`Clone`], [`Display`](fmt::Display) (Python's `repr`),
//! [`Debug`](fmt::Debug), [`PartialEq`], [`Hash`], `is_hashable`, `py_cmp` — or bounded
//! by a nesting limit — serde's `Serialize` and `Deserialize`, which recurse by design.
//!
//! The limit is per thread ([`DEFAULT_MAX_DEPTH`] unless a server sets its own on the
//! threads that serve it, see [`Limits::max_depth`](crate::Limits::max_depth)): decoding
//! a value nested deeper fails with a serde error (and notes [`take_exceeded`]), and
//! so does encoding one, instead of overflowing the thread's stack.

use std::cell::Cell;
use std::fmt;
use std::hash::{Hash, Hasher};

use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::value::{ObjRef, Value};

/// Default limit on how deeply a request's values may nest: 128 levels (a scalar is
/// one level, `[[1]]` is three). Deeper requests are refused with
/// [`RemoteErrorKind::TooDeep`](crate::RemoteErrorKind::TooDeep).
///
/// ```
/// use multiproc_manager::{DEFAULT_MAX_DEPTH, Limits, Value};
/// assert_eq!(Limits::default().max_depth, DEFAULT_MAX_DEPTH);
/// assert!(Value::from(vec![vec![1]]).depth() <= DEFAULT_MAX_DEPTH);
/// ```
pub const DEFAULT_MAX_DEPTH: usize = 128;

/// How many levels a reply may add around a stored value (`items()` answers a list of
/// `(key, value)` tuples): encoding and decoding allow this much beyond the request limit.
pub(crate) const REPLY_SLACK: usize = 4;

thread_local! {
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    static LIMIT: Cell<usize> = const { Cell::new(DEFAULT_MAX_DEPTH + REPLY_SLACK) };
    static EXCEEDED: Cell<bool> = const { Cell::new(false) };
    /// How many more `Value` nodes the decoding under way may build.
    static NODES_LEFT: Cell<u64> = const { Cell::new(u64::MAX) };
    static NODES_OUT: Cell<bool> = const { Cell::new(false) };
}

/// Allows the decoding on this thread to build at most `nodes` values (until the guard
/// drops): a request's decoded size is bounded, not only its frame (a one-byte `None`
/// becomes a node of `size_of::<Value>()` bytes).
pub(crate) fn allow_nodes(nodes: u64) -> NodeScope {
    NODES_OUT.set(false);
    NodeScope {
        prev: NODES_LEFT.replace(nodes),
    }
}

/// Restores the node allowance on drop.
pub(crate) struct NodeScope {
    prev: u64,
}

impl Drop for NodeScope {
    fn drop(&mut self) {
        NODES_LEFT.set(self.prev);
    }
}

/// Whether a decoding on this thread ran out of its node allowance since the last call.
pub(crate) fn take_nodes_out() -> bool {
    NODES_OUT.replace(false)
}

/// One level of nesting entered by a serde walk; left on drop.
struct Level;

impl Level {
    fn enter() -> Option<Level> {
        let n = DEPTH.get();
        if n >= LIMIT.get() {
            EXCEEDED.set(true);
            None
        } else {
            DEPTH.set(n + 1);
            Some(Level)
        }
    }
}

impl Drop for Level {
    fn drop(&mut self) {
        DEPTH.set(DEPTH.get().saturating_sub(1));
    }
}

/// Sets this thread's nesting limit until the guard is dropped.
pub(crate) struct LimitScope {
    prev: usize,
}

impl Drop for LimitScope {
    fn drop(&mut self) {
        LIMIT.set(self.prev);
    }
}

/// Limits serde walks of values on this thread to `levels` (until the guard drops).
pub(crate) fn limit(levels: usize) -> LimitScope {
    LimitScope {
        prev: LIMIT.replace(levels),
    }
}

/// Whether a serde walk on this thread hit the nesting limit since the last call.
pub(crate) fn take_exceeded() -> bool {
    EXCEEDED.replace(false)
}

fn too_deep() -> String {
    format!("value nested deeper than {} levels", LIMIT.get())
}

// ------------------------------------------------------------------ serde

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Some(_level) = Level::enter() else {
            return Err(S::Error::custom(too_deep()));
        };
        match self {
            Value::None => s.serialize_unit_variant("Value", 0, "None"),
            Value::Bool(b) => s.serialize_newtype_variant("Value", 1, "Bool", b),
            Value::Int(i) => s.serialize_newtype_variant("Value", 2, "Int", i),
            Value::Float(f) => s.serialize_newtype_variant("Value", 3, "Float", f),
            Value::Str(x) => s.serialize_newtype_variant("Value", 4, "Str", x),
            Value::Bytes(b) => s.serialize_newtype_variant("Value", 5, "Bytes", b),
            Value::List(v) => s.serialize_newtype_variant("Value", 6, "List", v),
            Value::Tuple(v) => s.serialize_newtype_variant("Value", 7, "Tuple", v),
            Value::Dict(v) => s.serialize_newtype_variant("Value", 8, "Dict", v),
            Value::Proxy(r) => s.serialize_newtype_variant("Value", 9, "Proxy", r),
        }
    }
}

/// The wire form of [`Value`], decoded by serde's derive (same variants, same order);
/// its children are `Value`s again, so every level passes through [`Level::enter`].
#[derive(Deserialize)]
#[serde(rename = "Value")]
enum Wire {
    None,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Tuple(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    Proxy(ObjRef),
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        let Some(_level) = Level::enter() else {
            return Err(D::Error::custom(too_deep()));
        };
        let left = NODES_LEFT.get();
        if left == 0 {
            NODES_OUT.set(true);
            return Err(D::Error::custom("a request holding too many values"));
        }
        NODES_LEFT.set(left - 1);
        Ok(match Wire::deserialize(d)? {
            Wire::None => Value::None,
            Wire::Bool(b) => Value::Bool(b),
            Wire::Int(i) => Value::Int(i),
            Wire::Float(f) => Value::Float(f),
            Wire::Str(x) => Value::Str(x),
            Wire::Bytes(b) => Value::Bytes(b),
            Wire::List(v) => Value::List(v),
            Wire::Tuple(v) => Value::Tuple(v),
            Wire::Dict(v) => Value::Dict(v),
            Wire::Proxy(r) => Value::Proxy(r),
        })
    }
}

// ------------------------------------------------------------- tree walks

fn is_container(v: &Value) -> bool {
    matches!(v, Value::List(_) | Value::Tuple(_) | Value::Dict(_))
}

/// Child `i` of a container (a dict's children are `k0, v0, k1, v1, …`).
fn child(v: &Value, i: usize) -> Option<&Value> {
    match v {
        Value::List(items) | Value::Tuple(items) => items.get(i),
        Value::Dict(pairs) => pairs
            .get(i / 2)
            .map(|(k, x)| if i % 2 == 0 { k } else { x }),
        _ => None,
    }
}

fn children_len(v: &Value) -> usize {
    match v {
        Value::List(items) | Value::Tuple(items) => items.len(),
        Value::Dict(pairs) => pairs.len() * 2,
        _ => 0,
    }
}

/// A copy of a value that is not a container.
fn leaf(v: &Value) -> Value {
    match v {
        Value::None => Value::None,
        Value::Bool(b) => Value::Bool(*b),
        Value::Int(i) => Value::Int(*i),
        Value::Float(f) => Value::Float(*f),
        Value::Str(s) => Value::Str(s.clone()),
        Value::Bytes(b) => Value::Bytes(b.clone()),
        Value::Proxy(r) => Value::Proxy(r.clone()),
        Value::List(_) => Value::List(Vec::new()),
        Value::Tuple(_) => Value::Tuple(Vec::new()),
        Value::Dict(_) => Value::Dict(Vec::new()),
    }
}

/// The container `shape` rebuilt around its copied children.
fn rebuild(shape: &Value, mut out: Vec<Value>) -> Value {
    match shape {
        Value::List(_) => Value::List(out),
        Value::Tuple(_) => Value::Tuple(out),
        Value::Dict(_) => {
            let mut pairs = Vec::with_capacity(out.len() / 2);
            let mut it = out.drain(..);
            while let (Some(k), Some(x)) = (it.next(), it.next()) {
                pairs.push((k, x));
            }
            Value::Dict(pairs)
        }
        other => leaf(other),
    }
}

impl Clone for Value {
    fn clone(&self) -> Value {
        if !is_container(self) {
            return leaf(self);
        }
        // (container being copied, next child, children copied so far)
        let mut stack: Vec<(&Value, usize, Vec<Value>)> =
            vec![(self, 0, Vec::with_capacity(children_len(self)))];
        loop {
            let Some(top) = stack.last_mut() else {
                return Value::None; // not reached: the root's frame returns below
            };
            match child(top.0, top.1) {
                Some(c) => {
                    top.1 += 1;
                    if is_container(c) {
                        stack.push((c, 0, Vec::with_capacity(children_len(c))));
                    } else {
                        top.2.push(leaf(c));
                    }
                }
                None => {
                    let Some((shape, _, out)) = stack.pop() else {
                        return Value::None;
                    };
                    let done = rebuild(shape, out);
                    match stack.last_mut() {
                        Some(parent) => parent.2.push(done),
                        None => return done,
                    }
                }
            }
        }
    }
}

/// Moves the container children of `v` onto `stack` (leaving `None` in their place),
/// so that dropping `v` recurses no further.
fn detach(v: &mut Value, stack: &mut Vec<Value>) {
    let mut take = |x: &mut Value| {
        if is_container(x) {
            stack.push(std::mem::take(x));
        }
    };
    match v {
        Value::List(items) | Value::Tuple(items) => items.iter_mut().for_each(&mut take),
        Value::Dict(pairs) => pairs.iter_mut().for_each(|(k, x)| {
            take(k);
            take(x);
        }),
        _ => {}
    }
}

impl Drop for Value {
    fn drop(&mut self) {
        if !is_container(self) {
            return;
        }
        let mut stack = Vec::new();
        detach(self, &mut stack);
        while let Some(mut v) = stack.pop() {
            detach(&mut v, &mut stack);
            // `v` has no container children left: dropping it recurses no further
        }
    }
}

enum Tok<'a> {
    V(&'a Value),
    S(&'static str),
}

/// Pushes `items` separated by `", "`, to be written first to last.
fn push_seq<'a>(stack: &mut Vec<Tok<'a>>, items: &'a [Value]) {
    for (i, x) in items.iter().enumerate().rev() {
        stack.push(Tok::V(x));
        if i > 0 {
            stack.push(Tok::S(", "));
        }
    }
}

/// Python's `repr` (`debug == false`) or Rust's derived-style `Debug`, iteratively.
pub(crate) fn write_value(root: &Value, f: &mut fmt::Formatter<'_>, debug: bool) -> fmt::Result {
    let mut stack = vec![Tok::V(root)];
    while let Some(t) = stack.pop() {
        let v = match t {
            Tok::S(s) => {
                f.write_str(s)?;
                continue;
            }
            Tok::V(v) => v,
        };
        match v {
            Value::List(items) => {
                f.write_str(if debug { "List([" } else { "[" })?;
                stack.push(Tok::S(if debug { "])" } else { "]" }));
                push_seq(&mut stack, items);
            }
            Value::Tuple(items) => {
                f.write_str(if debug { "Tuple([" } else { "(" })?;
                stack.push(Tok::S(match (debug, items.len()) {
                    (true, _) => "])",
                    (false, 1) => ",)",
                    (false, _) => ")",
                }));
                push_seq(&mut stack, items);
            }
            Value::Dict(pairs) => {
                f.write_str(if debug { "Dict([" } else { "{" })?;
                stack.push(Tok::S(if debug { "])" } else { "}" }));
                for (i, (k, x)) in pairs.iter().enumerate().rev() {
                    if debug {
                        stack.push(Tok::S(")"));
                    }
                    stack.push(Tok::V(x));
                    stack.push(Tok::S(if debug { ", " } else { ": " }));
                    stack.push(Tok::V(k));
                    if debug {
                        stack.push(Tok::S("("));
                    }
                    if i > 0 {
                        stack.push(Tok::S(", "));
                    }
                }
            }
            leaf if debug => match leaf {
                Value::None => f.write_str("None")?,
                Value::Bool(b) => write!(f, "Bool({b:?})")?,
                Value::Int(i) => write!(f, "Int({i:?})")?,
                Value::Float(x) => write!(f, "Float({x:?})")?,
                Value::Str(s) => write!(f, "Str({s:?})")?,
                Value::Bytes(b) => write!(f, "Bytes({b:?})")?,
                Value::Proxy(r) => write!(f, "Proxy({r:?})")?,
                _ => {}
            },
            leaf => crate::value::leaf_repr(leaf, f)?,
        }
    }
    Ok(())
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_value(self, f, true)
    }
}

/// Python's `repr`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_value(self, f, false)
    }
}

thread_local! {
    /// How many equality tests are nested (only keys that hold dicts nest them).
    static EQ_NESTING: Cell<usize> = const { Cell::new(0) };
}

/// Python equality, iteratively. Dict keys are compared by a nested call; keys are
/// hashable (no dicts inside) unless a value was built by hand, and those nested calls
/// stop at [`DEFAULT_MAX_DEPTH`] levels (comparing unequal) rather than recurse further.
pub(crate) fn eq(a: &Value, b: &Value) -> bool {
    let n = EQ_NESTING.get();
    if n >= DEFAULT_MAX_DEPTH {
        return false;
    }
    EQ_NESTING.set(n + 1);
    let r = eq_walk(a, b);
    EQ_NESTING.set(n);
    r
}

fn eq_walk<'a>(a: &'a Value, b: &'a Value) -> bool {
    let mut stack = vec![(a, b)];
    while let Some((a, b)) = stack.pop() {
        match (a, b) {
            (Value::List(x), Value::List(y)) | (Value::Tuple(x), Value::Tuple(y)) => {
                if x.len() != y.len() {
                    return false;
                }
                stack.extend(x.iter().zip(y));
            }
            (Value::Dict(x), Value::Dict(y)) => {
                if x.len() != y.len() {
                    return false;
                }
                // Python: every entry of one is an entry of the other. Keys are unique in
                // a real dict, so the value is compared on the stack; a value built by
                // hand with equal keys twice is compared against each candidate.
                for (k, v) in x {
                    let mut candidates = y.iter().filter(|(k2, _)| eq(k, k2));
                    match (candidates.next(), candidates.next()) {
                        (Some((_, v2)), None) => stack.push((v, v2)),
                        (Some((_, v2)), Some((_, v3))) => {
                            let mut rest = candidates.map(|(_, v)| v);
                            if !(eq(v, v2) || eq(v, v3) || rest.any(|v4| eq(v, v4))) {
                                return false;
                            }
                        }
                        (None, _) => return false,
                    }
                }
            }
            (a, b) if is_container(a) || is_container(b) => return false,
            (a, b) => {
                if !crate::value::leaf_eq(a, b) {
                    return false;
                }
            }
        }
    }
    true
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        eq(self, other)
    }
}

/// Equality is reflexive because `NaN` is taken to equal itself.
impl Eq for Value {}

impl Hash for Value {
    fn hash<H: Hasher>(&self, h: &mut H) {
        let mut stack = vec![self];
        while let Some(v) = stack.pop() {
            match v {
                Value::List(items) => {
                    4u8.hash(h);
                    items.len().hash(h);
                    stack.extend(items.iter().rev());
                }
                Value::Tuple(items) => {
                    5u8.hash(h);
                    items.len().hash(h);
                    stack.extend(items.iter().rev());
                }
                // Order-independent: only the length (dicts are never keys).
                Value::Dict(pairs) => {
                    6u8.hash(h);
                    pairs.len().hash(h);
                }
                leaf => crate::value::leaf_hash(leaf, h),
            }
        }
    }
}

/// Whether Python could use `v` as a dict key (no list or dict anywhere inside).
pub(crate) fn is_hashable(v: &Value) -> bool {
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::List(_) | Value::Dict(_) => return false,
            Value::Tuple(items) => stack.extend(items),
            _ => {}
        }
    }
    true
}

/// How deeply `v` nests (a scalar is 1), iteratively.
pub(crate) fn depth(v: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(v, 1usize)];
    while let Some((v, d)) = stack.pop() {
        deepest = deepest.max(d);
        let mut i = 0;
        while let Some(c) = child(v, i) {
            if is_container(c) {
                stack.push((c, d + 1));
            } else {
                deepest = deepest.max(d + 1);
            }
            i += 1;
        }
    }
    deepest
}

impl Value {
    /// Whether Python could use this value as a dict key (lists and dicts cannot).
    ///
    /// ```
    /// use multiproc_manager::Value;
    /// assert!(Value::from("key").is_hashable());
    /// assert!(!Value::from(vec![1]).is_hashable()); // a list
    /// ```
    pub fn is_hashable(&self) -> bool {
        is_hashable(self)
    }

    /// How deeply this value nests: 1 for a scalar, 3 for `[[1]]` (computed without
    /// recursion).
    ///
    /// ```
    /// use multiproc_manager::Value;
    /// assert_eq!(Value::from(1).depth(), 1);
    /// assert_eq!(Value::from(vec![vec![1]]).depth(), 3);
    /// ```
    pub fn depth(&self) -> usize {
        depth(self)
    }
}
