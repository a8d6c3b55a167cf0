//! The container operations of CPython 3.14's managers: a `set` proxy, iteration over
//! dict, list and set proxies, and list/dict operators (the table and the iteration
//! rules are in the crate docs, "Containers: operators and iteration").

use std::collections::VecDeque;
use std::marker::PhantomData;

use super::{DictProxy, Handle, ListProxy, wire_pairs, wire_values};
use crate::client;
use crate::error::{Error, TypeMismatch};
use crate::protocol::{AnyOp, DictOp, ListOp, Op, SetOp, SetWith};
use crate::value::{FromValue, Kind, Value};

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How many items an iterator over a proxy ([`ListIter`], [`KeyIter`]) fetches per
/// round trip; see the crate docs for what a change made during a walk does.
///
/// ```
/// # let manager = multiproc_manager::Manager::in_thread()?;
/// use multiproc_manager::ITER_BATCH;
/// let l = manager.list_of::<i64>()?;
/// let n = usize::try_from(ITER_BATCH)? + 1;
/// l.extend((0..).take(n))?;
/// assert_eq!((&l).into_iter().count(), n); // two round trips, one item in the second
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const ITER_BATCH: u64 = 256;

/// The longest list [`ListProxy::repeated`] builds (as `l *= n` on the server).
const MAX_REPEAT_LEN: usize = 1 << 26;

/// The items of a chunk, converted with the proxy's client as context (nested proxies).
fn convert_all<T: FromValue>(h: &Handle, items: Vec<Value>) -> Result<Vec<T>, Error> {
    items
        .into_iter()
        .map(|v| client::convert(&h.client, v))
        .collect()
}

// ------------------------------------------------------------------ list

/// An iterator over a [`ListProxy`] ([`ListProxy::iter`]): yields each item, or the
/// error that ended the walk (after which it yields nothing).
///
/// ```
/// # let manager = multiproc_manager::Manager::in_thread()?;
/// let l = manager.list_from(0..5)?;
/// let mut doubled = Vec::new();
/// for x in &l {
///     doubled.push(x?.get::<i64>()? * 2);
/// }
/// assert_eq!(doubled, [0, 2, 4, 6, 8]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ListIter<T = Value> {
    h: Handle,
    next: i64,
    buf: VecDeque<T>,
    done: bool,
}

impl<T> fmt::Debug for ListIter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListIter")
            .field("id", &self.h.id)
            .field("next", &self.next)
            .field("buffered", &self.buf.len())
            .finish()
    }
}

impl<T: FromValue> Iterator for ListIter<T> {
    type Item = Result<T, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() && !self.done {
            let end = self.next.saturating_add(ITER_BATCH as i64);
            let fetched = self
                .h
                .call_as::<Vec<Value>>(Op::List(ListOp::GetSlice(Some(self.next), Some(end))))
                .and_then(|items| convert_all::<T>(&self.h, items));
            match fetched {
                Ok(items) if items.is_empty() => self.done = true,
                Ok(items) => {
                    self.next = self.next.saturating_add(items.len() as i64);
                    self.buf.extend(items);
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        self.buf.pop_front().map(Ok)
    }
}

impl<T: FromValue> std::iter::FusedIterator for ListIter<T> {}

impl<T: Into<Value> + FromValue> IntoIterator for &ListProxy<T> {
    type Item = Result<T, Error>;
    type IntoIter = ListIter<T>;

    /// `for x in &l`: see [`ListProxy::iter`].
    fn into_iter(self) -> ListIter<T> {
        self.iter()
    }
}

impl<T: Into<Value> + FromValue> ListProxy<T> {
    /// `iter(l)`: the items, fetched [`ITER_BATCH`] at a time, by position: items
    /// appended during the walk are seen; an item changed after its batch was fetched
    /// is not. Nothing is fetched until the first `next`.
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let l = manager.list_of::<i64>()?;
    /// l.extend(0..1000)?;
    /// let sum: i64 = l.iter().sum::<Result<i64, _>>()?;
    /// assert_eq!(sum, 499_500);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn iter(&self) -> ListIter<T> {
        ListIter {
            h: self.h.clone(),
            next: 0,
            buf: VecDeque::new(),
            done: false,
        }
    }

    /// `l + xs`: a new `Vec` (the list's items, then `xs`); the server's list is
    /// unchanged. `l += xs` is [`extend`](Self::extend).
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let l = manager.list_of::<i64>()?;
    /// l.extend([1, 2])?;
    /// assert_eq!(l.concat([3])?, [1, 2, 3]);
    /// assert_eq!(l.len()?, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Type`], [`Error::ManagerGone`].
    pub fn concat<I: IntoIterator<Item = A>, A: Into<T>>(&self, xs: I) -> Result<Vec<T>, Error> {
        let mut out = self.to_vec()?;
        out.extend(xs.into_iter().map(Into::into));
        Ok(out)
    }

    /// `l * n`: a new `Vec` of `n` copies of the list's items; the server's list is
    /// unchanged. `l *= n` is [`repeat`](Self::repeat).
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let l = manager.list_of::<i64>()?;
    /// l.extend([1, 2])?;
    /// assert_eq!(l.repeated(2)?, [1, 2, 1, 2]);
    /// assert!(l.repeated(0)?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] when the result would exceed 2^26 items (as for
    /// [`repeat`](Self::repeat)), [`Error::Type`], [`Error::ManagerGone`].
    pub fn repeated(&self, n: usize) -> Result<Vec<T>, Error>
    where
        T: Clone,
    {
        let one = self.to_vec()?;
        match one.len().checked_mul(n) {
            Some(len) if len <= MAX_REPEAT_LEN => {
                let mut out = Vec::with_capacity(len);
                for _ in 0..n {
                    out.extend(one.iter().cloned());
                }
                Ok(out)
            }
            _ => Err(Error::Config(format!(
                "list * {n}: the result would exceed {MAX_REPEAT_LEN} items"
            ))),
        }
    }

    /// `list(reversed(l))`, in one round trip.
    ///
    /// # Errors
    /// [`Error::Type`], [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let l = manager.list_of::<i64>()?;
    /// l.extend([1, 2, 3])?;
    /// assert_eq!(l.reversed()?, [3, 2, 1]);
    /// assert_eq!(l.to_vec()?, [1, 2, 3]); // the list itself is unchanged
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reversed(&self) -> Result<Vec<T>, Error> {
        let mut v = self.to_vec()?;
        v.reverse();
        Ok(v)
    }

    /// `l.copy()`: the whole list (the same as [`to_vec`](Self::to_vec)).
    ///
    /// # Errors
    /// [`Error::Type`], [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let l = manager.list_of::<i64>()?;
    /// l.extend([1, 2])?;
    /// let snapshot = l.copy()?;
    /// l.append(3)?;
    /// assert_eq!(snapshot, [1, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn copy(&self) -> Result<Vec<T>, Error> {
        self.to_vec()
    }
}

// ------------------------------------------------- dict and set iteration

/// An iterator over the keys of a [`DictProxy`] or the elements of a [`SetProxy`]:
/// yields each, or the error that ended the walk — `RuntimeError` when the container
/// changed size under it, as CPython's — after which it yields nothing.
///
/// ```
/// # let manager = multiproc_manager::Manager::in_thread()?;
/// let d = manager.dict_from([(1, "a"), (2, "b")])?;
/// let keys: Vec<i64> = d.iter()?.map(|k| k?.get::<i64>().map_err(Into::into))
///     .collect::<Result<_, multiproc_manager::Error>>()?;
/// assert_eq!(keys, [1, 2]);
///
/// let it = d.iter()?;
/// d.clear()?;
/// let err = it.collect::<Result<Vec<_>, _>>().unwrap_err();
/// assert_eq!(err.remote_kind(), Some(multiproc_manager::RemoteErrorKind::RuntimeError));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct KeyIter<K = Value> {
    h: Handle,
    next: u64,
    len: u64,
    buf: VecDeque<K>,
    done: bool,
}

impl<K> fmt::Debug for KeyIter<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyIter")
            .field("id", &self.h.id)
            .field("next", &self.next)
            .field("len", &self.len)
            .field("buffered", &self.buf.len())
            .finish()
    }
}

impl<K: FromValue> KeyIter<K> {
    /// Notes the container's size, as `iter(d)` does (one round trip).
    fn new(h: &Handle) -> Result<KeyIter<K>, Error> {
        let (len, _) = chunk(h, 0, 0, None)?;
        Ok(KeyIter {
            h: h.clone(),
            next: 0,
            len,
            buf: VecDeque::new(),
            done: false,
        })
    }
}

fn chunk(
    h: &Handle,
    start: u64,
    max: u64,
    expect_len: Option<u64>,
) -> Result<(u64, Vec<Value>), Error> {
    h.call_as(Op::Any(AnyOp::IterChunk {
        start,
        max,
        expect_len,
    }))
}

impl<K: FromValue> Iterator for KeyIter<K> {
    type Item = Result<K, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() && !self.done {
            let fetched = chunk(&self.h, self.next, ITER_BATCH, Some(self.len))
                .and_then(|(_, items)| convert_all::<K>(&self.h, items));
            match fetched {
                Ok(items) if items.is_empty() => self.done = true,
                Ok(items) => {
                    self.next += items.len() as u64;
                    self.buf.extend(items);
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        self.buf.pop_front().map(Ok)
    }
}

impl<K: FromValue> std::iter::FusedIterator for KeyIter<K> {}

impl<K: Into<Value> + FromValue, V: Into<Value> + FromValue> DictProxy<K, V> {
    /// `iter(d)`: the keys in insertion order, fetched [`ITER_BATCH`] at a time; a
    /// change of the dict's size after this call ends the walk with `RuntimeError` at
    /// the next fetch (see [`KeyIter`]).
    ///
    /// # Errors
    /// [`Error::ManagerGone`] (the size is read now).
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let d = manager.dict_of::<String, i64>()?;
    /// d.insert("a", 1)?;
    /// d.insert("b", 2)?;
    /// let keys: Vec<String> = d.iter()?.collect::<Result<_, _>>()?;
    /// assert_eq!(keys, ["a", "b"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn iter(&self) -> Result<KeyIter<K>, Error> {
        KeyIter::new(&self.h)
    }

    /// `d | pairs`: a copy of the dict with `pairs` merged in (a later value wins, a
    /// key keeps its first position); the server's dict is unchanged. `d |= pairs` is
    /// [`update`](Self::update).
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let d = manager.dict_of::<String, i64>()?;
    /// d.update([("a", 1), ("b", 2)])?;
    /// let merged = d.union([("b", 20), ("c", 30)])?;
    /// assert_eq!(merged, [("a".into(), 1), ("b".into(), 20), ("c".into(), 30)]);
    /// assert_eq!(d.len()?, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// `TypeError` for an unhashable key, [`Error::Type`], [`Error::ManagerGone`].
    pub fn union<I, A, B>(&self, pairs: I) -> Result<Vec<(K, V)>, Error>
    where
        I: IntoIterator<Item = (A, B)>,
        A: Into<K>,
        B: Into<V>,
    {
        self.h
            .call_as(Op::Dict(DictOp::Or(wire_pairs::<K, V, _, _>(pairs))))
    }

    /// `list(reversed(d))`: the keys, last inserted first, in one round trip.
    ///
    /// # Errors
    /// [`Error::Type`], [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let d = manager.dict_of::<String, i64>()?;
    /// d.insert("a", 1)?;
    /// d.insert("b", 2)?;
    /// assert_eq!(d.reversed()?, ["b", "a"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reversed(&self) -> Result<Vec<K>, Error> {
        let mut keys = self.keys()?;
        keys.reverse();
        Ok(keys)
    }
}

// ------------------------------------------------------------------- set

proxy_common!(
    /// A proxy to a manager's `set` (CPython 3.14's `SetProxy`). Elements must be
    /// hashable (a list is a `TypeError`); they keep insertion order. Operations that
    /// combine the set with another collection take any iterable and return a new `Vec`
    /// (`union`, `intersection`, …) or change the set in place (`update`, …).
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let s = manager.set_of::<String>()?;
    /// s.add("a")?;
    /// s.add("b")?;
    /// s.add("a")?;
    /// assert_eq!(s.len()?, 2);
    /// assert!(s.contains("a")?);
    /// assert_eq!(s.to_string(), "{'a', 'b'}");
    /// assert_eq!(s.union(["c"])?, ["a", "b", "c"]);
    /// assert!(s.issubset(["a", "b", "z"])?);
    /// s.discard("a")?;
    /// assert_eq!(s.to_vec()?, ["b"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    SetProxy [T] [Kind::Set]
);

impl<T: Into<Value> + FromValue> SetProxy<T> {
    fn with<I: IntoIterator<Item = A>, A: Into<T>, R: FromValue>(
        &self,
        op: SetWith,
        other: I,
    ) -> Result<R, Error> {
        self.h
            .call_as(Op::Set(SetOp::With(op, wire_values::<T, _>(other))))
    }

    /// `s.add(x)`.
    ///
    /// # Errors
    /// `TypeError` for an unhashable element, [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let s = manager.set_of::<i64>()?;
    /// s.add(1)?;
    /// s.add(1)?; // already there: no change
    /// assert_eq!(s.len()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add(&self, x: impl Into<T>) -> Result<(), Error> {
        self.h.call_unit(Op::Set(SetOp::Add(x.into().into())))
    }

    /// `s.discard(x)`: removes `x` if present.
    ///
    /// # Errors
    /// `TypeError` for an unhashable element, [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let s = manager.set_of::<i64>()?;
    /// s.add(1)?;
    /// s.discard(1)?;
    /// s.discard(2)?; // absent: no error, unlike `remove`
    /// assert!(s.is_empty()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn discard(&self, x: impl Into<T>) -> Result<(), Error> {
        self.h.call_unit(Op::Set(SetOp::Discard(x.into().into())))
    }

    /// `s.remove(x)`.
    ///
    /// # Errors
    /// `KeyError` when absent ([`Error::is_key_error`]), `TypeError`,
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let s = manager.set_of::<i64>()?;
    /// s.add(1)?;
    /// s.remove(1)?;
    /// assert!(s.remove(1).unwrap_err().is_key_error()); // absent now
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn remove(&self, x: impl Into<T>) -> Result<(), Error> {
        self.h.call_unit(Op::Set(SetOp::Remove(x.into().into())))
    }

    /// `s.pop()`: removes and returns an element (the last added).
    ///
    /// # Errors
    /// `KeyError` when empty, [`Error::Type`], [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let s = manager.set_of::<i64>()?;
    /// s.add(7)?;
    /// assert_eq!(s.pop()?, 7);
    /// assert!(s.pop().unwrap_err().is_key_error()); // empty
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pop(&self) -> Result<T, Error> {
        self.h.call_as(Op::Set(SetOp::Pop))
    }

    proxy_methods! {
        /// `x in s` (an unhashable `x` is simply not there).
        ///
        /// # Errors
        /// [`Error::ManagerGone`].
        ///
        /// ```
        /// # let manager = multiproc_manager::Manager::in_thread()?;
        /// let s = manager.set_of::<i64>()?;
        /// s.add(1)?;
        /// assert!(s.contains(1)?);
        /// assert!(!s.contains(2)?);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        fn contains(x: T);

        /// `len(s)`.
        ///
        /// # Errors
        /// [`Error::ManagerGone`].
        ///
        /// ```
        /// # let manager = multiproc_manager::Manager::in_thread()?;
        /// let s = manager.set_of::<i64>()?;
        /// s.update([1, 2, 2, 3])?;
        /// assert_eq!(s.len()?, 3);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        fn len;

        /// `len(s) == 0`.
        ///
        /// # Errors
        /// [`Error::ManagerGone`].
        ///
        /// ```
        /// # let manager = multiproc_manager::Manager::in_thread()?;
        /// let s = manager.set_of::<i64>()?;
        /// assert!(s.is_empty()?);
        /// s.add(1)?;
        /// assert!(!s.is_empty()?);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        fn is_empty;
    }

    /// `s.clear()`.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let s = manager.set_of::<i64>()?;
    /// s.update([1, 2])?;
    /// s.clear()?;
    /// assert_eq!(s.len()?, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn clear(&self) -> Result<(), Error> {
        self.h.call_unit(Op::Set(SetOp::Clear))
    }

    proxy_methods! {
        /// `list(s)` (`s.copy()`): the elements, in one round trip.
        ///
        /// # Errors
        /// [`Error::Type`], [`Error::ManagerGone`].
        ///
        /// ```
        /// # let manager = multiproc_manager::Manager::in_thread()?;
        /// let s = manager.set_of::<i64>()?;
        /// s.update([3, 1, 2])?;
        /// let mut v = s.to_vec()?;
        /// v.sort();
        /// assert_eq!(v, [1, 2, 3]);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        fn to_vec;
    }

    /// `iter(s)`: the elements, fetched [`ITER_BATCH`] at a time; a change of the
    /// set's size after this call ends the walk with `RuntimeError` ("Set changed size
    /// during iteration") at the next fetch.
    ///
    /// # Errors
    /// [`Error::ManagerGone`] (the size is read now).
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let s = manager.set_of::<i64>()?;
    /// s.update([1, 2, 3])?;
    /// let sum: i64 = s.iter()?.sum::<Result<i64, _>>()?;
    /// assert_eq!(sum, 6);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn iter(&self) -> Result<KeyIter<T>, Error> {
        KeyIter::new(&self.h)
    }

    /// `s | other` (`s.union(other)`): a new `Vec`, the set's elements then those of
    /// `other` not in it.
    ///
    /// # Errors
    /// `TypeError` for an unhashable element, [`Error::Type`], [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let s = manager.set_of::<i64>()?;
    /// s.update([1, 2])?;
    /// let mut u = s.union([2, 3])?;
    /// u.sort();
    /// assert_eq!(u, [1, 2, 3]);
    /// assert_eq!(s.len()?, 2); // `s` itself is unchanged
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn union<I: IntoIterator<Item = A>, A: Into<T>>(&self, other: I) -> Result<Vec<T>, Error> {
        self.with(SetWith::Union, other)
    }

    /// `s & other`: the elements also in `other`.
    ///
    /// # Errors
    /// As [`union`](Self::union).
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let s = manager.set_of::<i64>()?;
    /// s.update([1, 2])?;
    /// assert_eq!(s.intersection([2, 3])?, [2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn intersection<I: IntoIterator<Item = A>, A: Into<T>>(
        &self,
        other: I,
    ) -> Result<Vec<T>, Error> {
        self.with(SetWith::Intersection, other)
    }

    /// `s - other`: the elements not in `other`.
    ///
    /// # Errors
    /// As [`union`](Self::union).
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let s = manager.set_of::<i64>()?;
    /// s.update([1, 2])?;
    /// assert_eq!(s.difference([2, 3])?, [1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn difference<I: IntoIterator<Item = A>, A: Into<T>>(
        &self,
        other: I,
    ) -> Result<Vec<T>, Error> {
        self.with(SetWith::Difference, other)
    }

    /// `s ^ other`: the elements in exactly one of the two.
    ///
    /// # Errors
    /// As [`union`](Self::union).
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let s = manager.set_of::<i64>()?;
    /// s.update([1, 2])?;
    /// let mut x = s.symmetric_difference([2, 3])?;
    /// x.sort();
    /// assert_eq!(x, [1, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn symmetric_difference<I: IntoIterator<Item = A>, A: Into<T>>(
        &self,
        other: I,
    ) -> Result<Vec<T>, Error> {
        self.with(SetWith::SymmetricDifference, other)
    }

    /// `s |= other` (`s.update(other)`), in one round trip.
    ///
    /// # Errors
    /// `TypeError` for an unhashable element (nothing is added), [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let s = manager.set_of::<i64>()?;
    /// s.update([1, 2])?;
    /// s.update([2, 3])?;
    /// assert!(s.set_eq([1, 2, 3])?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn update<I: IntoIterator<Item = A>, A: Into<T>>(&self, other: I) -> Result<(), Error> {
        self.with::<_, _, ()>(SetWith::Update, other)
    }

    /// `s &= other` (`s.intersection_update(other)`).
    ///
    /// # Errors
    /// As [`update`](Self::update).
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let s = manager.set_of::<i64>()?;
    /// s.update([1, 2])?;
    /// s.intersection_update([2, 3])?;
    /// assert_eq!(s.to_vec()?, [2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn intersection_update<I: IntoIterator<Item = A>, A: Into<T>>(
        &self,
        other: I,
    ) -> Result<(), Error> {
        self.with::<_, _, ()>(SetWith::IntersectionUpdate, other)
    }

    /// `s -= other` (`s.difference_update(other)`).
    ///
    /// # Errors
    /// As [`update`](Self::update).
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let s = manager.set_of::<i64>()?;
    /// s.update([1, 2])?;
    /// s.difference_update([2, 3])?;
    /// assert_eq!(s.to_vec()?, [1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn difference_update<I: IntoIterator<Item = A>, A: Into<T>>(
        &self,
        other: I,
    ) -> Result<(), Error> {
        self.with::<_, _, ()>(SetWith::DifferenceUpdate, other)
    }

    /// `s ^= other` (`s.symmetric_difference_update(other)`).
    ///
    /// # Errors
    /// As [`update`](Self::update).
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let s = manager.set_of::<i64>()?;
    /// s.update([1, 2])?;
    /// s.symmetric_difference_update([2, 3])?;
    /// assert!(s.set_eq([1, 3])?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn symmetric_difference_update<I: IntoIterator<Item = A>, A: Into<T>>(
        &self,
        other: I,
    ) -> Result<(), Error> {
        self.with::<_, _, ()>(SetWith::SymmetricDifferenceUpdate, other)
    }

    /// `s <= other` (`s.issubset(other)`).
    ///
    /// # Errors
    /// As [`union`](Self::union).
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let s = manager.set_of::<i64>()?;
    /// s.update([1, 2])?;
    /// assert!(s.issubset([1, 2, 3])?);
    /// assert!(!s.issubset([1])?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn issubset<I: IntoIterator<Item = A>, A: Into<T>>(&self, other: I) -> Result<bool, Error> {
        self.with(SetWith::IsSubset, other)
    }

    /// `s >= other` (`s.issuperset(other)`).
    ///
    /// # Errors
    /// As [`union`](Self::union).
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let s = manager.set_of::<i64>()?;
    /// s.update([1, 2])?;
    /// assert!(s.issuperset([1])?);
    /// assert!(!s.issuperset([3])?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn issuperset<I: IntoIterator<Item = A>, A: Into<T>>(
        &self,
        other: I,
    ) -> Result<bool, Error> {
        self.with(SetWith::IsSuperset, other)
    }

    /// `s.isdisjoint(other)`.
    ///
    /// # Errors
    /// As [`union`](Self::union).
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let s = manager.set_of::<i64>()?;
    /// s.update([1, 2])?;
    /// assert!(s.isdisjoint([3, 4])?);
    /// assert!(!s.isdisjoint([2])?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn isdisjoint<I: IntoIterator<Item = A>, A: Into<T>>(
        &self,
        other: I,
    ) -> Result<bool, Error> {
        self.with(SetWith::IsDisjoint, other)
    }

    /// `s == other` as sets: same elements, whatever their order or repetition.
    ///
    /// # Errors
    /// As [`union`](Self::union).
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let s = manager.set_of::<i64>()?;
    /// s.update([2, 1])?;
    /// assert!(s.set_eq([1, 2])?);
    /// assert!(!s.set_eq([1])?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_eq<I: IntoIterator<Item = A>, A: Into<T>>(&self, other: I) -> Result<bool, Error> {
        self.with(SetWith::IsEqual, other)
    }
}
