//! [`Value`]: the dynamic value a manager stores, with Python's equality, hashing and
//! `repr`, and the conversions between it and Rust types ([`FromValue`], `From`).

use std::collections::{BTreeMap, HashMap};
use std::fmt::{self, Write as _};
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

use crate::error::TypeMismatch;

/// The kind of a server-side object, as carried by a [`ObjRef`].
///
/// ```
/// # let manager = multiproc_manager::Manager::in_thread()?;
/// use multiproc_manager::{Kind, Value};
/// let lock = manager.lock()?;
/// let v = Value::from(&lock);
/// let Value::Proxy(r) = &v else { return Err("not a proxy".into()) };
/// assert_eq!(r.kind, Kind::Lock);
/// assert_eq!(r.kind.typeid(), "Lock");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Kind {
    /// `manager.dict()`
    Dict,
    /// `manager.list()`
    List,
    /// `manager.Namespace()`
    Namespace,
    /// `manager.Lock()`
    Lock,
    /// `manager.RLock()`
    RLock,
    /// `manager.Semaphore(n)`
    Semaphore,
    /// `manager.BoundedSemaphore(n)`
    BoundedSemaphore,
    /// `manager.Condition()`
    Condition,
    /// `manager.Event()`
    Event,
    /// `manager.Barrier(n)`
    Barrier,
    /// `manager.Queue()`
    Queue,
    /// `manager.JoinableQueue()`
    JoinableQueue,
    /// `manager.Value(typecode, v)`
    Value,
    /// `manager.Array(typecode, seq)`
    Array,
    /// `manager.set()` (CPython 3.14)
    Set,
    /// A registered custom type, by its registered name.
    Custom(String),
}

impl Kind {
    /// CPython's `typeid` for this kind (`'dict'`, `'Lock'`, …).
    ///
    /// ```
    /// use multiproc_manager::Kind;
    /// assert_eq!(Kind::Dict.typeid(), "dict");
    /// assert_eq!(Kind::JoinableQueue.typeid(), "JoinableQueue");
    /// assert_eq!(Kind::Custom("Counter".into()).typeid(), "Counter");
    /// ```
    pub fn typeid(&self) -> &str {
        match self {
            Kind::Dict => "dict",
            Kind::List => "list",
            Kind::Namespace => "Namespace",
            Kind::Lock => "Lock",
            Kind::RLock => "RLock",
            Kind::Semaphore => "Semaphore",
            Kind::BoundedSemaphore => "BoundedSemaphore",
            Kind::Condition => "Condition",
            Kind::Event => "Event",
            Kind::Barrier => "Barrier",
            Kind::Queue => "Queue",
            Kind::JoinableQueue => "JoinableQueue",
            Kind::Value => "Value",
            Kind::Array => "Array",
            Kind::Set => "set",
            Kind::Custom(name) => name,
        }
    }
}

/// A reference to an object held by a manager server: what a nested proxy looks like
/// inside a [`Value`] (a list of dicts holds `ObjRef`s to the dicts).
///
/// ```
/// # let manager = multiproc_manager::Manager::in_thread()?;
/// use multiproc_manager::{Kind, Value};
/// let inner = manager.dict()?;
/// let outer = manager.list()?;
/// outer.append(&inner)?; // a nested proxy: the list holds a reference
/// let v = Value::from(&inner);
/// let Value::Proxy(r) = &v else { return Err("not a proxy".into()) };
/// assert_eq!((r.id, &r.kind), (inner.id(), &Kind::Dict));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ObjRef {
    /// The object's id on its server.
    pub id: u64,
    /// What kind of object it is.
    pub kind: Kind,
}

/// A dynamically typed value, as Python would hold it: what a manager's `dict`, `list`,
/// `Namespace`, `Queue`, `Value` and `Array` store.
///
/// * Equality and hashing follow Python: `1 == 1.0 == True`, so `d[1]` and `d[1.0]` are
///   the same entry; `NaN` equals itself (Python compares keys by identity first).
/// * [`Display`](fmt::Display) prints Python's `repr`: `{1: '1', '2': 2, 0.25: None}`.
///   Text escapes what Python's `str.isprintable()` rejects (`'\xa0'`, `'\u200b'`), by
///   the Unicode tables of Rust's std: a character assigned after the peer Python's
///   Unicode version prints as it is here and escaped there.
/// * Integers are `i128`, so every `i64` and `u64` fits (Python's are unbounded).
/// * `Dict` keeps insertion order, as Python's `dict` does.
///
/// ```
/// use multiproc_manager::Value;
/// let d = Value::dict([(Value::from(1), Value::from("1")), ("2".into(), 2.into()), (0.25.into(), Value::None)]);
/// assert_eq!(d.to_string(), "{1: '1', '2': 2, 0.25: None}");
/// assert_eq!(Value::from(1), Value::from(1.0));
/// assert_eq!(Value::from((1, "a")).to_string(), "(1, 'a')");
/// ```
///
/// Values may nest arbitrarily deep in memory: dropping, cloning, printing, comparing
/// and hashing one never recurse (see `deep.rs`); encoding and decoding one stop with an
/// error past a nesting limit ([`DEFAULT_MAX_DEPTH`](crate::DEFAULT_MAX_DEPTH) by
/// default) instead of overflowing the stack.
///
/// Because `Value` implements [`Drop`], a match cannot move a field out of it: bind by
/// reference and take (`Value::Str(ref mut s) => std::mem::take(s)`), or use
/// [`get`](Value::get).
#[derive(Default)]
#[non_exhaustive]
pub enum Value {
    /// Python's `None`.
    #[default]
    None,
    /// `bool`
    Bool(bool),
    /// `int` (within `i128`)
    Int(i128),
    /// `float`
    Float(f64),
    /// `str`
    Str(String),
    /// `bytes`
    Bytes(Vec<u8>),
    /// `list`
    List(Vec<Value>),
    /// `tuple`
    Tuple(Vec<Value>),
    /// `dict`, in insertion order (keys unique under Python equality)
    Dict(Vec<(Value, Value)>),
    /// A proxy to another object on the same server (nested proxies).
    Proxy(ObjRef),
}

impl Value {
    /// Builds a `dict` value from pairs; a later duplicate key replaces the earlier
    /// value and keeps the earlier position, as in Python.
    ///
    /// ```
    /// use multiproc_manager::Value;
    /// let d = Value::dict([(Value::from("a"), Value::from(1)), (Value::from("a"), Value::from(2))]);
    /// assert_eq!(d.to_string(), "{'a': 2}"); // the later value, the earlier position
    /// ```
    pub fn dict<I: IntoIterator<Item = (Value, Value)>>(pairs: I) -> Value {
        let mut out: Vec<(Value, Value)> = Vec::new();
        for (k, v) in pairs {
            match out.iter_mut().find(|(k2, _)| *k2 == k) {
                Some(slot) => slot.1 = v,
                None => out.push((k, v)),
            }
        }
        Value::Dict(out)
    }

    /// Python's name for this value's type (`'int'`, `'str'`, …).
    ///
    /// ```
    /// use multiproc_manager::Value;
    /// assert_eq!(Value::from(1).type_name(), "int");
    /// assert_eq!(Value::from("x").type_name(), "str");
    /// assert_eq!(Value::from(()).type_name(), "NoneType");
    /// ```
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::None => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "list",
            Value::Tuple(_) => "tuple",
            Value::Dict(_) => "dict",
            Value::Proxy(_) => "proxy",
        }
    }

    /// Python's truth value (`bool(x)`).
    ///
    /// ```
    /// use multiproc_manager::Value;
    /// assert!(Value::from(1).truthy());
    /// assert!(!Value::from(0).truthy());
    /// assert!(!Value::from("").truthy());
    /// assert!(!Value::from(()).truthy());
    /// ```
    pub fn truthy(&self) -> bool {
        match self {
            Value::None => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Bytes(b) => !b.is_empty(),
            Value::List(v) | Value::Tuple(v) => !v.is_empty(),
            Value::Dict(v) => !v.is_empty(),
            Value::Proxy(_) => true,
        }
    }

    /// Converts to a Rust type, failing with a [`TypeMismatch`] when the value is not one.
    ///
    /// ```
    /// use multiproc_manager::Value;
    /// assert_eq!(Value::from(7).get::<u8>()?, 7);
    /// assert!(Value::from("x").get::<u8>().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// The value is of another type or out of range.
    pub fn get<T: FromValue>(self) -> Result<T, TypeMismatch> {
        T::from_value(self)
    }

    /// A number as `f64` for numeric comparison, if this is a number (bool, int, float).
    fn as_number(&self) -> Option<Num> {
        match self {
            Value::Bool(b) => Some(Num::Int(i128::from(*b))),
            Value::Int(i) => Some(Num::Int(*i)),
            Value::Float(f) => Some(Num::Float(*f)),
            _ => None,
        }
    }

    /// Python's `<` ordering, or `None` where Python raises `TypeError`.
    ///
    /// ```
    /// use std::cmp::Ordering;
    /// use multiproc_manager::Value;
    /// assert_eq!(Value::from(1).py_cmp(&Value::from(2.5)), Some(Ordering::Less));
    /// assert_eq!(Value::from("a").py_cmp(&Value::from(1)), None); // TypeError in Python
    /// ```
    pub fn py_cmp(&self, other: &Value) -> Option<std::cmp::Ordering> {
        // Sequences compare by their first differing items: follow those down (a loop,
        // not recursion, however deep the values nest).
        let (mut a, mut b) = (self, other);
        loop {
            if let (Some(x), Some(y)) = (a.as_number(), b.as_number()) {
                return x.cmp(y);
            }
            match (a, b) {
                (Value::Str(x), Value::Str(y)) => return Some(x.cmp(y)),
                (Value::Bytes(x), Value::Bytes(y)) => return Some(x.cmp(y)),
                (Value::List(x), Value::List(y)) | (Value::Tuple(x), Value::Tuple(y)) => {
                    match x.iter().zip(y).find(|(p, q)| p != q) {
                        Some((p, q)) => (a, b) = (p, q),
                        None => return Some(x.len().cmp(&y.len())),
                    }
                }
                _ => return None,
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    /// The integer this number equals exactly, if any.
    fn as_exact_int(self) -> Option<i128> {
        match self {
            Num::Int(i) => Some(i),
            Num::Float(f) => {
                // i128 covers far more than f64's exactly representable integers
                // below 2^127; larger floats are never equal to an i128.
                if f.fract() == 0.0 && f.abs() < 1.7e38 {
                    Some(f as i128)
                } else {
                    None
                }
            }
        }
    }

    fn eq(self, other: Num) -> bool {
        match (self, other) {
            (Num::Float(a), Num::Float(b)) => a == b || (a.is_nan() && b.is_nan()),
            _ => match (self.as_exact_int(), other.as_exact_int()) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            },
        }
    }

    fn cmp(self, other: Num) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
            (Num::Float(a), Num::Float(b)) => a.partial_cmp(&b),
            (Num::Int(a), Num::Float(b)) => (a as f64).partial_cmp(&b),
            (Num::Float(a), Num::Int(b)) => a.partial_cmp(&(b as f64)),
        }
    }
}

/// Equality of two values that are not both containers (containers: see `deep.rs`).
pub(crate) fn leaf_eq(a: &Value, b: &Value) -> bool {
    if let (Some(x), Some(y)) = (a.as_number(), b.as_number()) {
        return x.eq(y);
    }
    match (a, b) {
        (Value::None, Value::None) => true,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Bytes(x), Value::Bytes(y)) => x == y,
        (Value::Proxy(x), Value::Proxy(y)) => x.id == y.id,
        _ => false,
    }
}

/// The hash of a value that is not a container (containers: see `deep.rs`).
pub(crate) fn leaf_hash<H: Hasher>(v: &Value, h: &mut H) {
    if let Some(n) = v.as_number() {
        match n.as_exact_int() {
            Some(i) => {
                0u8.hash(h);
                i.hash(h);
            }
            None => {
                1u8.hash(h);
                match n {
                    Num::Float(f) if f.is_nan() => u64::MAX.hash(h),
                    Num::Float(f) => f.to_bits().hash(h),
                    Num::Int(i) => i.hash(h),
                }
            }
        }
        return;
    }
    match v {
        Value::Str(s) => {
            2u8.hash(h);
            s.hash(h);
        }
        Value::Bytes(b) => {
            3u8.hash(h);
            b.hash(h);
        }
        Value::Proxy(r) => {
            7u8.hash(h);
            r.id.hash(h);
        }
        _ => 8u8.hash(h),
    }
}

// ------------------------------------------------------------------- repr

/// Python's `repr` of a float: shortest round-trip digits, exponent form outside
/// `[1e-4, 1e16)` written `1e+16` / `1e-05`.
pub(crate) fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let s = format!("{f:?}");
    match s.find('e') {
        None => s,
        Some(pos) => {
            let (mant, exp) = s.split_at(pos);
            let exp = &exp[1..];
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            let mant = mant.strip_suffix(".0").unwrap_or(mant);
            format!("{mant}e{sign}{digits:0>2}")
        }
    }
}

fn str_repr(s: &str, out: &mut fmt::Formatter<'_>) -> fmt::Result {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.write_char(quote)?;
    for c in s.chars() {
        match c {
            '\\' => out.write_str("\\\\")?,
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            c if c == quote => {
                out.write_char('\\')?;
                out.write_char(c)?;
            }
            c if is_printable(c) => out.write_char(c)?,
            c => match c as u32 {
                n @ ..=0xff => write!(out, "\\x{n:02x}")?,
                n @ ..=0xffff => write!(out, "\\u{n:04x}")?,
                n => write!(out, "\\U{n:08x}")?,
            },
        }
    }
    out.write_char(quote)
}

/// Python's `str.isprintable()` for one character: false for the Unicode categories
/// "Other" (controls, format characters, surrogates, private use, unassigned) and
/// "Separator" (space excepted), which `repr` escapes.
///
/// std's `escape_debug` escapes exactly those categories (by its own Unicode tables,
/// whose version may be newer than the Python peer's), and additionally a grapheme
/// extender that *begins* a string — so `c` is asked about in second place.
fn is_printable(c: char) -> bool {
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    let probe: String = ['x', c].into_iter().collect();
    probe.escape_debug().nth(1) == Some(c)
}

fn bytes_repr(b: &[u8], out: &mut fmt::Formatter<'_>) -> fmt::Result {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    out.write_char('b')?;
    out.write_char(char::from(quote))?;
    for &c in b {
        match c {
            b'\\' => out.write_str("\\\\")?,
            b'\n' => out.write_str("\\n")?,
            b'\r' => out.write_str("\\r")?,
            b'\t' => out.write_str("\\t")?,
            c if c == quote => {
                out.write_char('\\')?;
                out.write_char(char::from(c))?;
            }
            0x20..=0x7e => out.write_char(char::from(c))?,
            c => write!(out, "\\x{c:02x}")?,
        }
    }
    out.write_char(char::from(quote))
}

/// Python's `repr` of a value that is not a container (containers: see `deep.rs`).
pub(crate) fn leaf_repr(v: &Value, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match v {
        Value::None => f.write_str("None"),
        Value::Bool(true) => f.write_str("True"),
        Value::Bool(false) => f.write_str("False"),
        Value::Int(i) => write!(f, "{i}"),
        Value::Float(x) => f.write_str(&float_repr(*x)),
        Value::Str(s) => str_repr(s, f),
        Value::Bytes(b) => bytes_repr(b, f),
        Value::Proxy(r) => write!(f, "<{} proxy, id {}>", r.kind.typeid(), r.id),
        Value::List(_) | Value::Tuple(_) | Value::Dict(_) => fmt::Display::fmt(v, f),
    }
}

// ------------------------------------------------------------ conversions

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(x: $t) -> Value { Value::Int(i128::from(x)) }
        }
        impl FromValue for $t {
            fn from_value(v: Value) -> Result<Self, TypeMismatch> {
                match v {
                    Value::Int(i) => <$t>::try_from(i).map_err(|_| TypeMismatch::new(stringify!($t), format!("int {i} out of range"))),
                    other => Err(TypeMismatch::found(stringify!($t), &other)),
                }
            }
        }
    )*};
}
from_int!(i8, i16, i32, i64, i128, u8, u16, u32, u64);

impl From<isize> for Value {
    fn from(x: isize) -> Value {
        Value::Int(x as i128)
    }
}
impl From<usize> for Value {
    fn from(x: usize) -> Value {
        Value::Int(x as i128)
    }
}
impl FromValue for usize {
    fn from_value(v: Value) -> Result<Self, TypeMismatch> {
        u64::from_value(v).and_then(|x| {
            usize::try_from(x).map_err(|_| TypeMismatch::new("usize", "int out of range".into()))
        })
    }
}
impl FromValue for isize {
    fn from_value(v: Value) -> Result<Self, TypeMismatch> {
        i64::from_value(v).and_then(|x| {
            isize::try_from(x).map_err(|_| TypeMismatch::new("isize", "int out of range".into()))
        })
    }
}

impl From<bool> for Value {
    fn from(x: bool) -> Value {
        Value::Bool(x)
    }
}
impl From<f64> for Value {
    fn from(x: f64) -> Value {
        Value::Float(x)
    }
}
impl From<f32> for Value {
    fn from(x: f32) -> Value {
        Value::Float(f64::from(x))
    }
}
impl From<&str> for Value {
    fn from(x: &str) -> Value {
        Value::Str(x.to_owned())
    }
}
impl From<String> for Value {
    fn from(x: String) -> Value {
        Value::Str(x)
    }
}
impl From<&String> for Value {
    fn from(x: &String) -> Value {
        Value::Str(x.clone())
    }
}
impl From<char> for Value {
    fn from(x: char) -> Value {
        Value::Str(x.to_string())
    }
}
impl From<&[u8]> for Value {
    fn from(x: &[u8]) -> Value {
        Value::Bytes(x.to_vec())
    }
}
impl From<()> for Value {
    fn from((): ()) -> Value {
        Value::None
    }
}
impl From<&Value> for Value {
    fn from(x: &Value) -> Value {
        x.clone()
    }
}
impl From<ObjRef> for Value {
    fn from(x: ObjRef) -> Value {
        Value::Proxy(x)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(x: Option<T>) -> Value {
        x.map_or(Value::None, Into::into)
    }
}
impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(x: Vec<T>) -> Value {
        Value::List(x.into_iter().map(Into::into).collect())
    }
}
impl<K: Into<Value>, V: Into<Value>, S> From<HashMap<K, V, S>> for Value {
    fn from(x: HashMap<K, V, S>) -> Value {
        Value::Dict(x.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }
}
impl<K: Into<Value>, V: Into<Value>> From<BTreeMap<K, V>> for Value {
    fn from(x: BTreeMap<K, V>) -> Value {
        Value::Dict(x.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }
}

/// Conversion from a [`Value`] into a Rust type, checked: the counterpart of `Into<Value>`.
///
/// Implemented for `Value` itself, `bool`, the integer types (range-checked), `f64`/`f32`
/// (ints are accepted, as Python would), `String`, `Option<T>` (`None` ↦ `None`),
/// `Vec<T>` (from a list or tuple), tuples up to six, `HashMap`/`BTreeMap` (from a dict)
/// and the proxy types (from a nested proxy). Implement it for your own types to store
/// them in a typed proxy.
///
/// ```
/// use multiproc_manager::{FromValue, Value};
/// let v = Value::from(vec![(1, "a"), (2, "b")]);
/// let back: Vec<(u8, String)> = FromValue::from_value(v)?;
/// assert_eq!(back[1], (2, "b".to_string()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait FromValue: Sized {
    /// Converts, or says what was found instead.
    ///
    /// # Errors
    /// The value is not a `Self`.
    fn from_value(v: Value) -> Result<Self, TypeMismatch>;
}

impl FromValue for Value {
    fn from_value(v: Value) -> Result<Self, TypeMismatch> {
        Ok(v)
    }
}
impl FromValue for bool {
    fn from_value(v: Value) -> Result<Self, TypeMismatch> {
        match v {
            Value::Bool(b) => Ok(b),
            other => Err(TypeMismatch::found("bool", &other)),
        }
    }
}
impl FromValue for f64 {
    fn from_value(v: Value) -> Result<Self, TypeMismatch> {
        match v {
            Value::Float(f) => Ok(f),
            Value::Int(i) => Ok(i as f64),
            other => Err(TypeMismatch::found("f64", &other)),
        }
    }
}
impl FromValue for f32 {
    fn from_value(v: Value) -> Result<Self, TypeMismatch> {
        f64::from_value(v).map(|f| f as f32)
    }
}
impl FromValue for String {
    fn from_value(mut v: Value) -> Result<Self, TypeMismatch> {
        match v {
            Value::Str(ref mut s) => Ok(std::mem::take(s)),
            other => Err(TypeMismatch::found("String", &other)),
        }
    }
}
impl FromValue for () {
    fn from_value(v: Value) -> Result<Self, TypeMismatch> {
        match v {
            Value::None => Ok(()),
            other => Err(TypeMismatch::found("()", &other)),
        }
    }
}
impl FromValue for ObjRef {
    fn from_value(v: Value) -> Result<Self, TypeMismatch> {
        match v {
            Value::Proxy(ref r) => Ok(r.clone()),
            other => Err(TypeMismatch::found("proxy", &other)),
        }
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: Value) -> Result<Self, TypeMismatch> {
        match v {
            Value::None => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}
impl<T: FromValue> FromValue for Vec<T> {
    fn from_value(mut v: Value) -> Result<Self, TypeMismatch> {
        match v {
            Value::List(ref mut items) | Value::Tuple(ref mut items) => std::mem::take(items)
                .into_iter()
                .map(T::from_value)
                .collect(),
            other => Err(TypeMismatch::found("Vec", &other)),
        }
    }
}
/// A dict's pairs converted into a map (`what` names it in a mismatch).
fn map_from_value<K: FromValue, V: FromValue, M: FromIterator<(K, V)>>(
    mut v: Value,
    what: &'static str,
) -> Result<M, TypeMismatch> {
    match v {
        Value::Dict(ref mut items) => std::mem::take(items)
            .into_iter()
            .map(|(k, v)| Ok((K::from_value(k)?, V::from_value(v)?)))
            .collect(),
        other => Err(TypeMismatch::found(what, &other)),
    }
}
impl<K: FromValue + Eq + Hash, V: FromValue> FromValue for HashMap<K, V> {
    fn from_value(v: Value) -> Result<Self, TypeMismatch> {
        map_from_value(v, "HashMap")
    }
}
impl<K: FromValue + Ord, V: FromValue> FromValue for BTreeMap<K, V> {
    fn from_value(v: Value) -> Result<Self, TypeMismatch> {
        map_from_value(v, "BTreeMap")
    }
}

macro_rules! tuples {
    ($( ($n:expr; $($t:ident),+) )*) => {$(
        impl<$($t: Into<Value>),+> From<($($t,)+)> for Value {
            #[expect(non_snake_case, reason = "the tuple's parts are named by their type parameters")]
            fn from(($($t,)+): ($($t,)+)) -> Value {
                Value::Tuple(vec![$($t.into()),+])
            }
        }
        impl<$($t: FromValue),+> FromValue for ($($t,)+) {
            #[expect(non_snake_case, reason = "the tuple's parts are named by their type parameters")]
            fn from_value(mut v: Value) -> Result<Self, TypeMismatch> {
                match v {
                    Value::Tuple(ref mut items) | Value::List(ref mut items) if items.len() == $n => {
                        let mut it = std::mem::take(items).into_iter();
                        $(let $t = $t::from_value(it.next().expect("holds because the length was checked"))?;)+
                        Ok(($($t,)+))
                    }
                    other => Err(TypeMismatch::found(concat!("tuple of ", stringify!($n)), &other)),
                }
            }
        }
    )*};
}
tuples! {
    (1; A)
    (2; A, B)
    (3; A, B, C)
    (4; A, B, C, D)
    (5; A, B, C, D, E)
    (6; A, B, C, D, E, F)
}

// ------------------------------------------------------------ ordered map

/// An insertion-ordered hash map with Python `dict` semantics, used by the server.
#[derive(Debug, Default, Clone)]
pub(crate) struct OrderedMap {
    slots: Vec<Option<(Value, Value)>>,
    index: HashMap<Value, usize>,
}

impl OrderedMap {
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    pub(crate) fn get(&self, k: &Value) -> Option<&Value> {
        self.index
            .get(k)
            .and_then(|&i| self.slots[i].as_ref().map(|(_, v)| v))
    }

    pub(crate) fn contains(&self, k: &Value) -> bool {
        self.index.contains_key(k)
    }

    /// Inserts or replaces (keeping the original position and key, like Python).
    pub(crate) fn insert(&mut self, k: Value, v: Value) {
        match self.index.get(&k) {
            Some(&i) => {
                if let Some(slot) = self.slots[i].as_mut() {
                    slot.1 = v;
                }
            }
            None => {
                self.index.insert(k.clone(), self.slots.len());
                self.slots.push(Some((k, v)));
            }
        }
    }

    pub(crate) fn remove(&mut self, k: &Value) -> Option<Value> {
        let i = self.index.remove(k)?;
        let out = self.slots[i].take().map(|(_, v)| v);
        if self.slots.len() > 32 && self.index.len() * 2 < self.slots.len() {
            self.compact();
        }
        out
    }

    pub(crate) fn pop_last(&mut self) -> Option<(Value, Value)> {
        while let Some(slot) = self.slots.pop() {
            if let Some((k, v)) = slot {
                self.index.remove(&k);
                return Some((k, v));
            }
        }
        None
    }

    fn compact(&mut self) {
        self.slots.retain(Option::is_some);
        for (i, slot) in self.slots.iter().enumerate() {
            if let Some((k, _)) = slot {
                self.index.insert(k.clone(), i);
            }
        }
    }

    pub(crate) fn clear(&mut self) {
        self.slots.clear();
        self.index.clear();
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Value, &Value)> {
        self.slots.iter().flatten().map(|(k, v)| (k, v))
    }

    pub(crate) fn to_value(&self) -> Value {
        Value::Dict(self.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }
}

impl TypeMismatch {
    pub(crate) fn found(expected: &'static str, v: &Value) -> Self {
        let mut shown = v.to_string();
        if shown.len() > 60 {
            let mut cut = 57;
            while !shown.is_char_boundary(cut) {
                cut -= 1;
            }
            shown.truncate(cut);
            shown.push_str("...");
        }
        TypeMismatch {
            expected,
            found: format!("{} {shown}", v.type_name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_matches_python() {
        for (f, s) in [
            (0.25, "0.25"),
            (1.0, "1.0"),
            (1e16, "1e+16"),
            (1.5e-7, "1.5e-07"),
            (123456789.0, "123456789.0"),
            (0.0001, "0.0001"),
            (-0.0, "-0.0"),
            (f64::INFINITY, "inf"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
        ] {
            assert_eq!(float_repr(f), s);
        }
    }

    #[test]
    fn python_equality_and_hash_agree() {
        use std::collections::hash_map::DefaultHasher;
        let h = |v: &Value| {
            let mut s = DefaultHasher::new();
            v.hash(&mut s);
            s.finish()
        };
        let pairs = [
            (Value::from(1), Value::from(1.0)),
            (Value::from(true), Value::from(1)),
            (Value::from(f64::NAN), Value::from(f64::NAN)),
            (Value::from((1, 2.0)), Value::from((1.0, 2))),
        ];
        for (a, b) in pairs {
            assert_eq!(a, b);
            assert_eq!(h(&a), h(&b));
        }
        assert_ne!(Value::from(0.25), Value::from(0));
        assert_ne!(Value::from("1"), Value::from(1));
        assert_ne!(Value::from(vec![1]), Value::from((1,)));
    }

    #[test]
    fn reprs() {
        assert_eq!(Value::from("it's").to_string(), "\"it's\"");
        assert_eq!(Value::from("a'b\"").to_string(), "'a\\'b\"'");
        assert_eq!(Value::from(&b"a\x00'"[..]).to_string(), "b\"a\\x00'\"");
        assert_eq!(Value::from((1,)).to_string(), "(1,)");
        assert_eq!(Value::from(None::<i32>).to_string(), "None");
        assert_eq!(Value::from(vec![true, false]).to_string(), "[True, False]");
    }
}
