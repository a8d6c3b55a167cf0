//! [`PickleValue`]: a dynamic pickled value, and [`BigInt`] for integers beyond 128 bits.
//!
//! Clone, Drop, equality and Display walk the value with an explicit stack: a value
//! built by hand may be nested deeper than the thread's stack allows recursion.

use std::fmt;

/// A Python value as the data-only pickle codec sees it (like `serde_json::Value`).
///
/// Read unknown data with [`from_slice::<PickleValue>`](super::from_slice) or
/// [`Connection::recv_pickle`](crate::Connection::recv_pickle); tuples, sets and
/// frozensets keep their kind, and [`to_vec`](super::to_vec) writes them back as such.
///
/// ```
/// use multiproc_ipc::pickle::{self, PickleValue};
/// let v = PickleValue::Tuple(vec![PickleValue::Int(1), PickleValue::Str("a".into())]);
/// let back: PickleValue = pickle::from_slice(&pickle::to_vec(&v)?)?;
/// assert_eq!(back, v);
/// assert_eq!(back.to_string(), "(1, 'a')");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Sets and dicts keep the order and the items the pickle gave; the codec does not
/// hash, so it neither removes duplicates nor checks that keys are hashable.
/// `PickleValue` is `Serialize`/`Deserialize` for self-describing formats (JSON, …);
/// not for postcard, so send it with `send_pickle`, not `Connection::send`.
#[non_exhaustive]
pub enum PickleValue {
    /// `None`.
    None,
    /// `bool`.
    Bool(bool),
    /// `int` that fits in 128 bits.
    Int(i128),
    /// `int` beyond 128 bits.
    BigInt(BigInt),
    /// `float`.
    Float(f64),
    /// `str`.
    Str(String),
    /// `bytes` (a `bytearray` pickled with protocol 5 arrives as bytes too).
    Bytes(Vec<u8>),
    /// `list`.
    List(Vec<PickleValue>),
    /// `tuple`.
    Tuple(Vec<PickleValue>),
    /// `dict`, in the pickle's order.
    Dict(Vec<(PickleValue, PickleValue)>),
    /// `set`.
    Set(Vec<PickleValue>),
    /// `frozenset`.
    FrozenSet(Vec<PickleValue>),
}

/// A Python `int` beyond 128 bits, as little-endian two's-complement bytes (the
/// pickle `LONG1`/`LONG4` form). `Display` writes it in decimal.
///
/// ```
/// use multiproc_ipc::pickle::{self, PickleValue};
/// // 2**130 as CPython pickles it (protocol 2+): LONG1, 17 bytes.
/// let mut p = vec![0x80, 4, 0x8a, 17];
/// p.extend_from_slice(&[0; 16]);
/// p.extend_from_slice(&[4, b'.']);
/// let v: PickleValue = pickle::from_slice(&p)?;
/// assert_eq!(v.to_string(), "1361129467683753853853498429727072845824");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BigInt {
    le: Vec<u8>,
}

impl BigInt {
    /// From little-endian two's-complement bytes (any length; trimmed to the shortest
    /// form). Returns `None` for an empty slice.
    ///
    /// ```
    /// use multiproc_ipc::pickle::BigInt;
    /// let n = BigInt::from_le_bytes(&[0xff, 0xff]).ok_or("empty")?; // -1, not trimmed yet
    /// assert_eq!(n.to_le_bytes(), [0xff]); // the shortest form
    /// assert_eq!(n.to_i128(), Some(-1));
    /// assert!(BigInt::from_le_bytes(&[]).is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_le_bytes(bytes: &[u8]) -> Option<BigInt> {
        if bytes.is_empty() {
            return None;
        }
        let mut le = bytes.to_vec();
        trim(&mut le);
        Some(BigInt { le })
    }

    /// The little-endian two's-complement bytes, shortest form.
    ///
    /// ```
    /// use multiproc_ipc::pickle::BigInt;
    /// let n = BigInt::from_le_bytes(&[0x00, 0x01, 0x00]).ok_or("empty")?; // 256
    /// assert_eq!(n.to_le_bytes(), [0x00, 0x01]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_le_bytes(&self) -> &[u8] {
        &self.le
    }

    /// Whether the value is below zero.
    ///
    /// ```
    /// use multiproc_ipc::pickle::BigInt;
    /// assert!(BigInt::from_le_bytes(&[0x80]).ok_or("empty")?.is_negative()); // -128
    /// assert!(!BigInt::from_le_bytes(&[0x7f]).ok_or("empty")?.is_negative());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_negative(&self) -> bool {
        self.le.last().is_some_and(|b| b & 0x80 != 0)
    }

    /// The value as `i128`, when it fits.
    ///
    /// ```
    /// use multiproc_ipc::pickle::BigInt;
    /// assert_eq!(BigInt::from_le_bytes(&[0x80]).ok_or("empty")?.to_i128(), Some(-128));
    /// assert_eq!(BigInt::from_le_bytes(&[0; 17]).ok_or("empty")?.to_i128(), Some(0));
    /// let mut huge = vec![0; 16];
    /// huge.push(1); // 2**128
    /// assert_eq!(BigInt::from_le_bytes(&huge).ok_or("empty")?.to_i128(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_i128(&self) -> Option<i128> {
        le_to_i128(&self.le)
    }

    /// The value as `u128`, when it fits.
    ///
    /// ```
    /// use multiproc_ipc::pickle::BigInt;
    /// assert_eq!(BigInt::from_le_bytes(&[0xff, 0x00]).ok_or("empty")?.to_u128(), Some(255));
    /// assert_eq!(BigInt::from_le_bytes(&[0xff]).ok_or("empty")?.to_u128(), None); // -1
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_u128(&self) -> Option<u128> {
        le_to_u128(&self.le)
    }
}

/// Drops redundant sign bytes from little-endian two's complement.
pub(crate) fn trim(le: &mut Vec<u8>) {
    while le.len() > 1 {
        let last = le[le.len() - 1];
        let prev = le[le.len() - 2];
        if (last == 0 && prev & 0x80 == 0) || (last == 0xff && prev & 0x80 != 0) {
            le.pop();
        } else {
            break;
        }
    }
}

/// Little-endian two's complement to `i128`, when it fits.
pub(crate) fn le_to_i128(le: &[u8]) -> Option<i128> {
    let mut t = le.to_vec();
    trim(&mut t);
    if t.len() > 16 {
        return None;
    }
    let neg = t.last().is_some_and(|b| b & 0x80 != 0);
    let mut buf = if neg { [0xff; 16] } else { [0; 16] };
    buf[..t.len()].copy_from_slice(&t);
    Some(i128::from_le_bytes(buf))
}

/// Little-endian two's complement to `u128`, when it fits.
pub(crate) fn le_to_u128(le: &[u8]) -> Option<u128> {
    let mut t = le.to_vec();
    trim(&mut t);
    if t.last().is_some_and(|b| b & 0x80 != 0) {
        return None;
    }
    if t.len() == 17 && t[16] == 0 {
        t.pop();
    }
    if t.len() > 16 {
        return None;
    }
    let mut buf = [0; 16];
    buf[..t.len()].copy_from_slice(&t);
    Some(u128::from_le_bytes(buf))
}

/// Shortest little-endian two's complement of `v`.
pub(crate) fn i128_to_le(v: i128) -> Vec<u8> {
    let mut le = v.to_le_bytes().to_vec();
    trim(&mut le);
    le
}

/// Shortest little-endian two's complement of `v`.
pub(crate) fn u128_to_le(v: u128) -> Vec<u8> {
    let mut le = v.to_le_bytes().to_vec();
    le.push(0);
    trim(&mut le);
    le
}

impl fmt::Display for BigInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Magnitude as little-endian u32 limbs, then repeated division by 10^9.
        let neg = self.is_negative();
        let mut mag = self.le.clone();
        if neg {
            // two's complement negate: invert and add one
            let mut carry = true;
            for b in &mut mag {
                *b = !*b;
                if carry {
                    let (s, c) = b.overflowing_add(1);
                    *b = s;
                    carry = c;
                }
            }
        }
        let mut limbs: Vec<u32> = mag
            .chunks(4)
            .map(|c| {
                let mut w = [0u8; 4];
                w[..c.len()].copy_from_slice(c);
                u32::from_le_bytes(w)
            })
            .collect();
        let mut parts = Vec::new();
        loop {
            while limbs.last() == Some(&0) {
                limbs.pop();
            }
            if limbs.is_empty() {
                break;
            }
            let mut rem: u64 = 0;
            for l in limbs.iter_mut().rev() {
                let cur = (rem << 32) | u64::from(*l);
                *l = (cur / 1_000_000_000) as u32;
                rem = cur % 1_000_000_000;
            }
            parts.push(rem as u32);
        }
        let mut s = String::new();
        if neg {
            s.push('-');
        }
        match parts.split_last() {
            None => s.push('0'),
            Some((first, rest)) => {
                s.push_str(&first.to_string());
                for p in rest.iter().rev() {
                    s.push_str(&format!("{p:09}"));
                }
            }
        }
        f.write_str(&s)
    }
}

impl fmt::Debug for BigInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BigInt({self})")
    }
}

// ------------------------------------------------------------ non-recursive walks

/// The children of a container, flattened (a dict's pairs as key, value, key, value).
fn children(v: &PickleValue) -> Option<Box<dyn Iterator<Item = &PickleValue> + '_>> {
    match v {
        PickleValue::List(items)
        | PickleValue::Tuple(items)
        | PickleValue::Set(items)
        | PickleValue::FrozenSet(items) => Some(Box::new(items.iter())),
        PickleValue::Dict(pairs) => Some(Box::new(pairs.iter().flat_map(|(k, v)| [k, v]))),
        _ => None,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    List,
    Tuple,
    Dict,
    Set,
    FrozenSet,
}

fn kind(v: &PickleValue) -> Option<(Kind, usize)> {
    match v {
        PickleValue::List(i) => Some((Kind::List, i.len())),
        PickleValue::Tuple(i) => Some((Kind::Tuple, i.len())),
        PickleValue::Set(i) => Some((Kind::Set, i.len())),
        PickleValue::FrozenSet(i) => Some((Kind::FrozenSet, i.len())),
        PickleValue::Dict(p) => Some((Kind::Dict, p.len() * 2)),
        _ => None,
    }
}

fn build(kind: Kind, items: Vec<PickleValue>) -> PickleValue {
    match kind {
        Kind::List => PickleValue::List(items),
        Kind::Tuple => PickleValue::Tuple(items),
        Kind::Set => PickleValue::Set(items),
        Kind::FrozenSet => PickleValue::FrozenSet(items),
        Kind::Dict => {
            let mut pairs = Vec::with_capacity(items.len() / 2);
            let mut it = items.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                pairs.push((k, v));
            }
            PickleValue::Dict(pairs)
        }
    }
}

fn clone_leaf(v: &PickleValue) -> PickleValue {
    match v {
        PickleValue::None => PickleValue::None,
        PickleValue::Bool(b) => PickleValue::Bool(*b),
        PickleValue::Int(i) => PickleValue::Int(*i),
        PickleValue::BigInt(b) => PickleValue::BigInt(b.clone()),
        PickleValue::Float(x) => PickleValue::Float(*x),
        PickleValue::Str(s) => PickleValue::Str(s.clone()),
        PickleValue::Bytes(b) => PickleValue::Bytes(b.clone()),
        // containers are rebuilt by the caller
        _ => PickleValue::None,
    }
}

impl Clone for PickleValue {
    fn clone(&self) -> Self {
        type Frame<'a> = (
            Kind,
            Box<dyn Iterator<Item = &'a PickleValue> + 'a>,
            Vec<PickleValue>,
        );
        let mut stack: Vec<Frame<'_>> = Vec::new();
        let mut next = Some(self);
        loop {
            let mut done = None;
            if let Some(v) = next.take() {
                match (kind(v), children(v)) {
                    (Some((k, n)), Some(it)) => stack.push((k, it, Vec::with_capacity(n))),
                    _ => done = Some(clone_leaf(v)),
                }
            }
            if let Some(d) = done {
                match stack.last_mut() {
                    Some(top) => top.2.push(d),
                    None => return d,
                }
            }
            let Some(top) = stack.last_mut() else {
                return PickleValue::None; // unreachable: the root returned above
            };
            match top.1.next() {
                Some(child) => next = Some(child),
                None => {
                    let (k, _, items) = stack.pop().expect("holds because the stack is not empty");
                    let built = build(k, items);
                    match stack.last_mut() {
                        Some(parent) => parent.2.push(built),
                        None => return built,
                    }
                }
            }
        }
    }
}

impl Drop for PickleValue {
    fn drop(&mut self) {
        let mut pending: Vec<PickleValue> = Vec::new();
        let take = |v: &mut PickleValue, pending: &mut Vec<PickleValue>| match v {
            PickleValue::List(i)
            | PickleValue::Tuple(i)
            | PickleValue::Set(i)
            | PickleValue::FrozenSet(i) => pending.append(i),
            PickleValue::Dict(p) => {
                for (k, v) in p.drain(..) {
                    pending.push(k);
                    pending.push(v);
                }
            }
            _ => {}
        };
        take(self, &mut pending);
        while let Some(mut v) = pending.pop() {
            take(&mut v, &mut pending);
            // `v` now has no children: dropping it does not recurse.
        }
    }
}

fn leaf_eq(a: &PickleValue, b: &PickleValue) -> bool {
    use PickleValue as V;
    match (a, b) {
        (V::None, V::None) => true,
        (V::Bool(x), V::Bool(y)) => x == y,
        (V::Int(x), V::Int(y)) => x == y,
        (V::BigInt(x), V::BigInt(y)) => x == y,
        (V::Float(x), V::Float(y)) => x == y,
        (V::Str(x), V::Str(y)) => x == y,
        (V::Bytes(x), V::Bytes(y)) => x == y,
        _ => false,
    }
}

impl PartialEq for PickleValue {
    /// Structural equality: same kinds, same items in the same order (a `Float`
    /// compares as `f64`, so NaN is not equal to itself).
    fn eq(&self, other: &Self) -> bool {
        let mut stack = vec![(self, other)];
        while let Some((a, b)) = stack.pop() {
            match (kind(a), kind(b)) {
                (None, None) => {
                    if !leaf_eq(a, b) {
                        return false;
                    }
                }
                (Some((ka, na)), Some((kb, nb))) => {
                    if ka != kb || na != nb {
                        return false;
                    }
                    if let (Some(ia), Some(ib)) = (children(a), children(b)) {
                        stack.extend(ia.zip(ib));
                    }
                }
                _ => return false,
            }
        }
        true
    }
}

/// A finite float as Python's `repr` writes it: the shortest digits that round-trip,
/// fixed notation for exponents from -4 to 15, else `d.ddde+XX`.
fn write_float(f: &mut fmt::Formatter<'_>, x: f64) -> fmt::Result {
    let sci = format!("{x:e}"); // shortest round-trip digits: "-1.25e-7"
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    f.write_str(sign)?;
    if (-4..16).contains(&exp) {
        let n = digits.len() as i32;
        if exp < 0 {
            write!(f, "0.{}{digits}", "0".repeat((-exp - 1) as usize))
        } else if exp + 1 >= n {
            write!(f, "{digits}{}.0", "0".repeat((exp + 1 - n) as usize))
        } else {
            let (int, frac) = digits.split_at((exp + 1) as usize);
            write!(f, "{int}.{frac}")
        }
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        let esign = if exp < 0 { '-' } else { '+' };
        if rest.is_empty() {
            write!(f, "{first}e{esign}{:02}", exp.abs())
        } else {
            write!(f, "{first}.{rest}e{esign}{:02}", exp.abs())
        }
    }
}

fn write_leaf(f: &mut fmt::Formatter<'_>, v: &PickleValue) -> fmt::Result {
    match v {
        PickleValue::None => f.write_str("None"),
        PickleValue::Bool(true) => f.write_str("True"),
        PickleValue::Bool(false) => f.write_str("False"),
        PickleValue::Int(i) => write!(f, "{i}"),
        PickleValue::BigInt(b) => write!(f, "{b}"),
        PickleValue::Float(x) if x.is_nan() => f.write_str("nan"),
        PickleValue::Float(x) if x.is_infinite() => {
            f.write_str(if *x > 0.0 { "inf" } else { "-inf" })
        }
        PickleValue::Float(x) => write_float(f, *x),
        PickleValue::Str(s) => {
            // as Python: double quotes when that avoids escaping a single one
            let q = if s.contains('\'') && !s.contains('"') {
                '"'
            } else {
                '\''
            };
            write!(f, "{q}")?;
            for c in s.chars() {
                match c {
                    c if c == q => write!(f, "\\{q}")?,
                    '\\' => f.write_str("\\\\")?,
                    '\n' => f.write_str("\\n")?,
                    '\r' => f.write_str("\\r")?,
                    '\t' => f.write_str("\\t")?,
                    c if c.is_control() => write!(f, "\\x{:02x}", c as u32)?,
                    c => write!(f, "{c}")?,
                }
            }
            write!(f, "{q}")
        }
        PickleValue::Bytes(b) => {
            let q = if b.contains(&b'\'') && !b.contains(&b'"') {
                b'"'
            } else {
                b'\''
            };
            write!(f, "b{}", q as char)?;
            for &c in b {
                match c {
                    c if c == q => write!(f, "\\{}", q as char)?,
                    b'\\' => f.write_str("\\\\")?,
                    b'\n' => f.write_str("\\n")?,
                    b'\r' => f.write_str("\\r")?,
                    b'\t' => f.write_str("\\t")?,
                    0x20..=0x7e => write!(f, "{}", c as char)?,
                    c => write!(f, "\\x{c:02x}")?,
                }
            }
            write!(f, "{}", q as char)
        }
        _ => Ok(()),
    }
}

impl fmt::Display for PickleValue {
    /// Python's `repr` of the value (in `str`, only C0/C1 control characters are
    /// escaped), written without recursion.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        enum Step<'a> {
            Value(&'a PickleValue),
            Text(&'static str),
        }
        let mut stack = vec![Step::Value(self)];
        while let Some(step) = stack.pop() {
            let v = match step {
                Step::Text(t) => {
                    f.write_str(t)?;
                    continue;
                }
                Step::Value(v) => v,
            };
            let (open, close, items): (&str, &str, Vec<&PickleValue>) = match v {
                PickleValue::List(i) => ("[", "]", i.iter().collect()),
                PickleValue::Tuple(i) if i.len() == 1 => ("(", ",)", i.iter().collect()),
                PickleValue::Tuple(i) => ("(", ")", i.iter().collect()),
                PickleValue::Set(i) if i.is_empty() => ("set(", ")", Vec::new()),
                PickleValue::Set(i) => ("{", "}", i.iter().collect()),
                PickleValue::FrozenSet(i) if i.is_empty() => ("frozenset(", ")", Vec::new()),
                PickleValue::FrozenSet(i) => ("frozenset({", "})", i.iter().collect()),
                PickleValue::Dict(p) => {
                    f.write_str("{")?;
                    stack.push(Step::Text("}"));
                    for (n, (k, val)) in p.iter().enumerate().rev() {
                        stack.push(Step::Value(val));
                        stack.push(Step::Text(": "));
                        stack.push(Step::Value(k));
                        if n > 0 {
                            stack.push(Step::Text(", "));
                        }
                    }
                    continue;
                }
                leaf => {
                    write_leaf(f, leaf)?;
                    continue;
                }
            };
            f.write_str(open)?;
            stack.push(Step::Text(close));
            for (n, item) in items.into_iter().enumerate().rev() {
                stack.push(Step::Value(item));
                if n > 0 {
                    stack.push(Step::Text(", "));
                }
            }
        }
        Ok(())
    }
}

impl fmt::Debug for PickleValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PickleValue({self})")
    }
}
