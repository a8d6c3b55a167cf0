//! Proxies: handles to objects held by a manager, usable from any process and thread.
//!
//! A proxy is `Send + Sync + Clone`, cheap to clone (an `Arc` and an id), and
//! serde-passable: it travels to another process (any start method, or another host)
//! as *(server address, authkey, object id)* and reconnects there, sharing one
//! connection per server per process. A proxy of a manager reached over an anonymous
//! pipe has no address and cannot travel.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::acquire::{AcquireError, OwnerDied};
use crate::custom::Shared;
use crate::error::{Error, RemoteErrorKind, TypeMismatch};
use crate::protocol::{
    AnyOp, BarrierOp, ConditionOp, CustomOp, DictOp, EventOp, ListOp, LockOp, NamespaceOp, Op,
    QueueOp, ValueOp,
};
use crate::value::{FromValue, Kind, Value};

pub(crate) use crate::handle::Handle;

/// `xs` as the wire's values, each converted through the proxy's item type `T`
/// (`Value` for an untyped one).
pub(crate) fn wire_values<T: Into<Value>, A: Into<T>>(
    xs: impl IntoIterator<Item = A>,
) -> Vec<Value> {
    xs.into_iter().map(|a| a.into().into()).collect()
}

/// `pairs` as the wire's (key, value) pairs, converted through the proxy's `K` and `V`.
pub(crate) fn wire_pairs<K: Into<Value>, V: Into<Value>, A: Into<K>, B: Into<V>>(
    pairs: impl IntoIterator<Item = (A, B)>,
) -> Vec<(Value, Value)> {
    pairs
        .into_iter()
        .map(|(a, b)| (a.into().into(), b.into().into()))
        .collect()
}

/// A typed proxy: the struct (its docs first), over a [`Handle`] to an object of one of
/// `$kinds`, and what every typed proxy has (formatting, equality, serde, conversions,
/// `id`, `repr`, `destroy`).
macro_rules! proxy_common {
    ($(#[$doc:meta])* $name:ident [$($g:ident),*] $kinds:expr) => {
        $(#[$doc])*
        pub struct $name<$($g = Value),*> {
            h: Handle,
            _t: PhantomData<fn() -> ($($g,)*)>,
        }
        impl<$($g),*> fmt::Display for $name<$($g),*> {
            /// Prints the server's value as Python's `print(proxy)` would.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.h.display(f)
            }
        }
        impl<$($g),*> fmt::Debug for $name<$($g),*> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("typeid", &self.h.kind.typeid())
                    .field("id", &self.h.id)
                    .finish()
            }
        }
        impl<$($g),*> Clone for $name<$($g),*> {
            fn clone(&self) -> Self {
                $name { h: self.h.clone(), _t: PhantomData }
            }
        }
        impl<$($g),*> PartialEq for $name<$($g),*> {
            /// Two proxies are equal when they refer to the same server object.
            fn eq(&self, other: &Self) -> bool {
                self.h.id == other.h.id && Arc::ptr_eq(&self.h.client, &other.h.client)
            }
        }
        impl<$($g),*> Serialize for $name<$($g),*> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.h.serialize(s)
            }
        }
        impl<'de, $($g),*> Deserialize<'de> for $name<$($g),*> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let h = Handle::deserialize_of(d, &$kinds, stringify!($name))?;
                Ok($name { h, _t: PhantomData })
            }
        }
        /// A proxy stored inside another managed object is stored as a reference
        /// (nested proxies, as in CPython).
        impl<$($g),*> From<$name<$($g),*>> for Value {
            fn from(p: $name<$($g),*>) -> Value {
                Value::Proxy(p.h.objref())
            }
        }
        impl<$($g),*> From<&$name<$($g),*>> for Value {
            fn from(p: &$name<$($g),*>) -> Value {
                Value::Proxy(p.h.objref())
            }
        }
        impl<$($g),*> FromValue for $name<$($g),*> {
            fn from_value(v: Value) -> Result<Self, TypeMismatch> {
                Handle::from_current(v, &$kinds, stringify!($name))
                    .map(|h| $name { h, _t: PhantomData })
            }
        }
        impl<$($g),*> $name<$($g),*> {
            pub(crate) fn from_handle(h: Handle) -> Self {
                $name { h, _t: PhantomData }
            }

            /// The object's id on its server.
            ///
            /// ```
            /// # let manager = multiproc_manager::Manager::in_thread()?;
            /// let d = manager.dict()?;
            /// let same = d.clone();
            /// assert_eq!(same.id(), d.id()); // a clone refers to the same server object
            /// assert_ne!(manager.dict()?.id(), d.id());
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn id(&self) -> u64 {
                self.h.id
            }

            /// The server's `repr` of the object (what `Display` prints).
            ///
            /// # Errors
            /// [`Error::ManagerGone`] when the server is unreachable.
            ///
            /// ```
            /// # let manager = multiproc_manager::Manager::in_thread()?;
            /// let d = manager.dict()?;
            /// d.insert("a", 1)?;
            /// assert_eq!(d.repr()?, "{'a': 1}");
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn repr(&self) -> Result<String, Error> {
                self.h.repr()
            }

            /// Drops the object on the server now (CPython frees it when its last
            /// proxy is garbage-collected). Other proxies to it then get
            /// `NoSuchObject` errors, and so do calls already waiting on it (a `get`,
            /// an `acquire`, a `wait`).
            ///
            /// # Errors
            /// [`Error::ManagerGone`] when the server is unreachable.
            ///
            /// ```
            /// # let manager = multiproc_manager::Manager::in_thread()?;
            /// let d = manager.dict()?;
            /// let other = d.clone();
            /// d.destroy()?;
            /// assert!(other.len().is_err()); // `NoSuchObject`: it is gone on the server
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn destroy(self) -> Result<(), Error> {
                self.h.call_unit(Op::Any(AnyOp::Destroy))
            }
        }
    };
}

/// Methods that several typed proxies share, written once. A proxy lists the ones it
/// has inside its `impl` as `fn name;`, each after its own docs (its own example):
/// `len`, `is_empty`, `contains(x: X)` (`X` the type of what it holds), and for the
/// sequences of `T`s, `get`, `set`, `set_slice`, `to_vec`.
macro_rules! proxy_methods {
    () => {};
    ($(#[$doc:meta])* fn contains($arg:ident: $x:ident); $($rest:tt)*) => {
        $(#[$doc])*
        pub fn contains(&self, $arg: impl Into<$x>) -> Result<bool, Error> {
            self.h.call_as(Op::Any(AnyOp::Contains($arg.into().into())))
        }
        proxy_methods!($($rest)*);
    };
    ($(#[$doc:meta])* fn len; $($rest:tt)*) => {
        $(#[$doc])*
        pub fn len(&self) -> Result<usize, Error> {
            self.h.call_as(Op::Any(AnyOp::Len))
        }
        proxy_methods!($($rest)*);
    };
    ($(#[$doc:meta])* fn is_empty; $($rest:tt)*) => {
        $(#[$doc])*
        pub fn is_empty(&self) -> Result<bool, Error> {
            Ok(self.len()? == 0)
        }
        proxy_methods!($($rest)*);
    };
    ($(#[$doc:meta])* fn get; $($rest:tt)*) => {
        $(#[$doc])*
        pub fn get(&self, i: i64) -> Result<T, Error> {
            self.h.call_as(Op::List(ListOp::GetItem(Value::from(i))))
        }
        proxy_methods!($($rest)*);
    };
    ($(#[$doc:meta])* fn set; $($rest:tt)*) => {
        $(#[$doc])*
        pub fn set(&self, i: i64, x: impl Into<T>) -> Result<(), Error> {
            self.h
                .call_unit(Op::List(ListOp::SetItem(Value::from(i), x.into().into())))
        }
        proxy_methods!($($rest)*);
    };
    ($(#[$doc:meta])* fn set_slice; $($rest:tt)*) => {
        $(#[$doc])*
        pub fn set_slice<I: IntoIterator<Item = A>, A: Into<T>>(
            &self,
            a: Option<i64>,
            b: Option<i64>,
            xs: I,
        ) -> Result<(), Error> {
            self.h
                .call_unit(Op::List(ListOp::SetSlice(a, b, wire_values::<T, _>(xs))))
        }
        proxy_methods!($($rest)*);
    };
    ($(#[$doc:meta])* fn to_vec; $($rest:tt)*) => {
        $(#[$doc])*
        pub fn to_vec(&self) -> Result<Vec<T>, Error> {
            self.h.call_as(Op::Any(AnyOp::Copy))
        }
        proxy_methods!($($rest)*);
    };
}

mod containers;
pub use containers::{ITER_BATCH, KeyIter, ListIter, SetProxy};

// ------------------------------------------------------------------ dict

proxy_common!(
    /// A proxy to a manager's `dict` (CPython's `DictProxy`). `DictProxy` (= `DictProxy<Value,
    /// Value>`) holds anything, like Python's; `DictProxy<String, u64>` reads keys and values
    /// back as those types, and a value of another type is an [`Error::Type`], never a panic.
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let d = manager.dict()?;
    /// d.insert(1, "1")?;
    /// d.insert("2", 2)?;
    /// d.insert(0.25, ())?;
    /// assert_eq!(d.to_string(), "{1: '1', '2': 2, 0.25: None}");
    /// assert_eq!(d.get_item(1)?, "1".into());
    /// assert!(d.get_item(3).unwrap_err().is_key_error());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    DictProxy [K, V] [Kind::Dict]
);

impl<K: Into<Value> + FromValue, V: Into<Value> + FromValue> DictProxy<K, V> {
    /// `d[k]`: the value, or a `KeyError`.
    ///
    /// # Errors
    /// `KeyError` ([`Error::is_key_error`]), [`Error::Type`], [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let d = manager.dict_of::<String, i64>()?;
    /// d.insert("a", 1)?;
    /// assert_eq!(d.get_item("a")?, 1);
    /// assert!(d.get_item("b").unwrap_err().is_key_error());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_item(&self, k: impl Into<K>) -> Result<V, Error> {
        self.h.call_as(Op::Dict(DictOp::GetItem(k.into().into())))
    }

    /// `d.get(k)`: the value if present.
    ///
    /// # Errors
    /// [`Error::Type`], [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let d = manager.dict_of::<String, i64>()?;
    /// d.insert("a", 1)?;
    /// assert_eq!(d.get("a")?, Some(1));
    /// assert_eq!(d.get("b")?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(&self, k: impl Into<K>) -> Result<Option<V>, Error> {
        match self
            .h
            .call_as::<V>(Op::Dict(DictOp::GetItem(k.into().into())))
        {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_key_error() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `d.get(k, default)`.
    ///
    /// # Errors
    /// [`Error::Type`], [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let d = manager.dict_of::<String, i64>()?;
    /// d.insert("a", 1)?;
    /// assert_eq!(d.get_or("a", 0)?, 1);
    /// assert_eq!(d.get_or("b", 0)?, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_or(&self, k: impl Into<K>, default: impl Into<V>) -> Result<V, Error> {
        self.h.call_as(Op::Dict(DictOp::Get(
            k.into().into(),
            default.into().into(),
        )))
    }

    /// `d[k] = v`.
    ///
    /// # Errors
    /// `TypeError` for an unhashable key, [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let d = manager.dict_of::<String, i64>()?;
    /// d.insert("a", 1)?;
    /// d.insert("a", 2)?; // replaces
    /// assert_eq!(d.items()?, [("a".to_owned(), 2)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn insert(&self, k: impl Into<K>, v: impl Into<V>) -> Result<(), Error> {
        self.h
            .call_unit(Op::Dict(DictOp::SetItem(k.into().into(), v.into().into())))
    }

    /// `del d[k]`.
    ///
    /// # Errors
    /// `KeyError`, [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let d = manager.dict_of::<String, i64>()?;
    /// d.insert("a", 1)?;
    /// d.remove("a")?;
    /// assert!(d.remove("a").unwrap_err().is_key_error());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn remove(&self, k: impl Into<K>) -> Result<(), Error> {
        self.h.call_unit(Op::Dict(DictOp::DelItem(k.into().into())))
    }

    proxy_methods! {
        /// `k in d`.
        ///
        /// # Errors
        /// [`Error::ManagerGone`].
        ///
        /// ```
        /// # let manager = multiproc_manager::Manager::in_thread()?;
        /// let d = manager.dict_of::<String, i64>()?;
        /// d.insert("a", 1)?;
        /// assert!(d.contains("a")?);
        /// assert!(!d.contains("b")?);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        fn contains(k: K);

        /// `len(d)`.
        ///
        /// # Errors
        /// [`Error::ManagerGone`].
        ///
        /// ```
        /// # let manager = multiproc_manager::Manager::in_thread()?;
        /// let d = manager.dict_of::<String, i64>()?;
        /// d.update([("a", 1), ("b", 2)])?;
        /// assert_eq!(d.len()?, 2);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        fn len;

        /// `len(d) == 0`.
        ///
        /// # Errors
        /// [`Error::ManagerGone`].
        ///
        /// ```
        /// # let manager = multiproc_manager::Manager::in_thread()?;
        /// let d = manager.dict_of::<String, i64>()?;
        /// assert!(d.is_empty()?);
        /// d.insert("a", 1)?;
        /// assert!(!d.is_empty()?);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        fn is_empty;
    }

    /// `list(d.keys())`, in insertion order.
    ///
    /// # Errors
    /// [`Error::Type`], [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let d = manager.dict_of::<String, i64>()?;
    /// d.update([("b", 2), ("a", 1)])?;
    /// assert_eq!(d.keys()?, ["b", "a"]); // insertion order
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn keys(&self) -> Result<Vec<K>, Error> {
        self.h.call_as(Op::Dict(DictOp::Keys))
    }

    /// `list(d.values())`.
    ///
    /// # Errors
    /// [`Error::Type`], [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let d = manager.dict_of::<String, i64>()?;
    /// d.update([("b", 2), ("a", 1)])?;
    /// assert_eq!(d.values()?, [2, 1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn values(&self) -> Result<Vec<V>, Error> {
        self.h.call_as(Op::Dict(DictOp::Values))
    }

    /// `list(d.items())`, in one round trip.
    ///
    /// # Errors
    /// [`Error::Type`], [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let d = manager.dict_of::<String, i64>()?;
    /// d.insert("a", 1)?;
    /// assert_eq!(d.items()?, [("a".to_owned(), 1)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn items(&self) -> Result<Vec<(K, V)>, Error> {
        self.h.call_as(Op::Dict(DictOp::Items))
    }

    /// `d.copy()`: the whole dict, as ordered pairs.
    ///
    /// # Errors
    /// [`Error::Type`], [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let d = manager.dict_of::<String, i64>()?;
    /// d.insert("a", 1)?;
    /// let snapshot = d.copy()?;
    /// d.insert("b", 2)?;
    /// assert_eq!(snapshot, [("a".to_owned(), 1)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn copy(&self) -> Result<Vec<(K, V)>, Error> {
        self.items()
    }

    /// `d.update(pairs)`, in one round trip.
    ///
    /// # Errors
    /// `TypeError` for an unhashable key (nothing is inserted), [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let d = manager.dict_of::<String, i64>()?;
    /// d.insert("a", 1)?;
    /// d.update([("a", 10), ("b", 2)])?;
    /// assert_eq!(d.get_item("a")?, 10);
    /// assert_eq!(d.len()?, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn update<I, A, B>(&self, pairs: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = (A, B)>,
        A: Into<K>,
        B: Into<V>,
    {
        self.h
            .call_unit(Op::Dict(DictOp::Update(wire_pairs::<K, V, _, _>(pairs))))
    }

    /// `d.pop(k)`.
    ///
    /// # Errors
    /// `KeyError`, [`Error::Type`], [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let d = manager.dict_of::<String, i64>()?;
    /// d.insert("a", 1)?;
    /// assert_eq!(d.pop("a")?, 1);
    /// assert!(d.pop("a").unwrap_err().is_key_error());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pop(&self, k: impl Into<K>) -> Result<V, Error> {
        self.h.call_as(Op::Dict(DictOp::Pop(k.into().into(), None)))
    }

    /// `d.pop(k, default)`.
    ///
    /// # Errors
    /// [`Error::Type`], [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let d = manager.dict_of::<String, i64>()?;
    /// d.insert("a", 1)?;
    /// assert_eq!(d.pop_or("a", 0)?, 1);
    /// assert_eq!(d.pop_or("a", 0)?, 0); // gone: the default
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pop_or(&self, k: impl Into<K>, default: impl Into<V>) -> Result<V, Error> {
        self.h.call_as(Op::Dict(DictOp::Pop(
            k.into().into(),
            Some(default.into().into()),
        )))
    }

    /// `d.popitem()`: the last inserted pair.
    ///
    /// # Errors
    /// `KeyError` when empty, [`Error::Type`], [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let d = manager.dict_of::<String, i64>()?;
    /// d.update([("a", 1), ("b", 2)])?;
    /// assert_eq!(d.popitem()?, ("b".to_owned(), 2)); // the last inserted
    /// assert_eq!(d.len()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn popitem(&self) -> Result<(K, V), Error> {
        self.h.call_as(Op::Dict(DictOp::PopItem))
    }

    /// `d.setdefault(k, default)`.
    ///
    /// # Errors
    /// [`Error::Type`], [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let d = manager.dict_of::<String, i64>()?;
    /// assert_eq!(d.setdefault("a", 1)?, 1); // inserted
    /// assert_eq!(d.setdefault("a", 5)?, 1); // already there: kept
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn setdefault(&self, k: impl Into<K>, default: impl Into<V>) -> Result<V, Error> {
        self.h.call_as(Op::Dict(DictOp::SetDefault(
            k.into().into(),
            default.into().into(),
        )))
    }

    /// `d.clear()`.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let d = manager.dict_of::<String, i64>()?;
    /// d.insert("a", 1)?;
    /// d.clear()?;
    /// assert!(d.is_empty()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn clear(&self) -> Result<(), Error> {
        self.h.call_unit(Op::Dict(DictOp::Clear))
    }
}

// ------------------------------------------------------------------ list

proxy_common!(
    /// A proxy to a manager's `list` (CPython's `ListProxy`). Indices are `i64` and may be
    /// negative, as in Python; slices take `Option<i64>` bounds.
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let l = manager.list_of::<i64>()?;
    /// l.extend(0..10)?;
    /// l.reverse()?;
    /// assert_eq!(l.to_string(), "[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]");
    /// assert_eq!(l.get(-1)?, 0);
    /// assert_eq!(l.slice(Some(1), Some(3))?, [8, 7]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ListProxy [T] [Kind::List]
);

impl<T: Into<Value> + FromValue> ListProxy<T> {
    /// `l.append(x)`.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let l = manager.list_of::<i64>()?;
    /// l.append(1)?;
    /// l.append(2)?;
    /// assert_eq!(l.to_vec()?, [1, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn append(&self, x: impl Into<T>) -> Result<(), Error> {
        self.h.call_unit(Op::List(ListOp::Append(x.into().into())))
    }

    /// `l.extend(xs)`, in one round trip.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let l = manager.list_of::<i64>()?;
    /// l.extend([1, 2])?;
    /// l.extend(vec![3])?;
    /// assert_eq!(l.to_vec()?, [1, 2, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn extend<I: IntoIterator<Item = A>, A: Into<T>>(&self, xs: I) -> Result<(), Error> {
        self.h
            .call_unit(Op::List(ListOp::Extend(wire_values::<T, _>(xs))))
    }

    /// `l.insert(i, x)`.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let l = manager.list_of::<i64>()?;
    /// l.extend([1, 3])?;
    /// l.insert(1, 2)?;
    /// l.insert(-100, 0)?; // clamped, like Python's
    /// assert_eq!(l.to_vec()?, [0, 1, 2, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn insert(&self, i: i64, x: impl Into<T>) -> Result<(), Error> {
        self.h
            .call_unit(Op::List(ListOp::Insert(i, x.into().into())))
    }

    /// `l.pop()`.
    ///
    /// # Errors
    /// `IndexError` when empty, [`Error::Type`], [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let l = manager.list_of::<i64>()?;
    /// l.extend([1, 2])?;
    /// assert_eq!(l.pop()?, 2);
    /// assert_eq!(l.pop()?, 1);
    /// assert!(l.pop().is_err()); // IndexError: empty
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pop(&self) -> Result<T, Error> {
        self.h.call_as(Op::List(ListOp::Pop(None)))
    }

    /// `l.pop(i)`.
    ///
    /// # Errors
    /// `IndexError`, [`Error::Type`], [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let l = manager.list_of::<i64>()?;
    /// l.extend([1, 2, 3])?;
    /// assert_eq!(l.pop_at(0)?, 1);
    /// assert_eq!(l.pop_at(-1)?, 3);
    /// assert_eq!(l.to_vec()?, [2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pop_at(&self, i: i64) -> Result<T, Error> {
        self.h.call_as(Op::List(ListOp::Pop(Some(i))))
    }

    /// `l.remove(x)`: the first equal item.
    ///
    /// # Errors
    /// `ValueError` when absent, [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let l = manager.list_of::<i64>()?;
    /// l.extend([1, 2, 1])?;
    /// l.remove(1)?; // the first match only
    /// assert_eq!(l.to_vec()?, [2, 1]);
    /// assert!(l.remove(5).is_err()); // ValueError: absent
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn remove(&self, x: impl Into<T>) -> Result<(), Error> {
        self.h.call_unit(Op::List(ListOp::Remove(x.into().into())))
    }

    /// `l.index(x)`.
    ///
    /// # Errors
    /// `ValueError` when absent, [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let l = manager.list_of::<i64>()?;
    /// l.extend([5, 6, 5])?;
    /// assert_eq!(l.index(5)?, 0);
    /// assert_eq!(l.index(6)?, 1);
    /// assert!(l.index(7).is_err()); // ValueError
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn index(&self, x: impl Into<T>) -> Result<usize, Error> {
        self.h.call_as(Op::List(ListOp::Index(x.into().into())))
    }

    /// `l.count(x)`.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let l = manager.list_of::<i64>()?;
    /// l.extend([5, 6, 5])?;
    /// assert_eq!(l.count(5)?, 2);
    /// assert_eq!(l.count(7)?, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn count(&self, x: impl Into<T>) -> Result<usize, Error> {
        self.h.call_as(Op::List(ListOp::Count(x.into().into())))
    }

    proxy_methods! {
        /// `x in l`.
        ///
        /// # Errors
        /// [`Error::ManagerGone`].
        ///
        /// ```
        /// # let manager = multiproc_manager::Manager::in_thread()?;
        /// let l = manager.list_of::<i64>()?;
        /// l.append(5)?;
        /// assert!(l.contains(5)?);
        /// assert!(!l.contains(6)?);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        fn contains(x: T);
    }

    /// `l.reverse()`.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let l = manager.list_of::<i64>()?;
    /// l.extend([1, 2, 3])?;
    /// l.reverse()?;
    /// assert_eq!(l.to_vec()?, [3, 2, 1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reverse(&self) -> Result<(), Error> {
        self.h.call_unit(Op::List(ListOp::Reverse))
    }

    /// `l.sort()` (stable; incomparable items are a `TypeError` and leave the list as it was).
    ///
    /// # Errors
    /// `TypeError`, [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let l = manager.list_of::<i64>()?;
    /// l.extend([3, 1, 2])?;
    /// l.sort()?;
    /// assert_eq!(l.to_vec()?, [1, 2, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sort(&self) -> Result<(), Error> {
        self.h.call_unit(Op::List(ListOp::Sort { reverse: false }))
    }

    /// `l.sort(reverse=True)`.
    ///
    /// # Errors
    /// As [`sort`](Self::sort).
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let l = manager.list_of::<i64>()?;
    /// l.extend([3, 1, 2])?;
    /// l.sort_reverse()?;
    /// assert_eq!(l.to_vec()?, [3, 2, 1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sort_reverse(&self) -> Result<(), Error> {
        self.h.call_unit(Op::List(ListOp::Sort { reverse: true }))
    }

    proxy_methods! {
        /// `len(l)`.
        ///
        /// # Errors
        /// [`Error::ManagerGone`].
        ///
        /// ```
        /// # let manager = multiproc_manager::Manager::in_thread()?;
        /// let l = manager.list_of::<i64>()?;
        /// l.extend([1, 2])?;
        /// assert_eq!(l.len()?, 2);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        fn len;

        /// `len(l) == 0`.
        ///
        /// # Errors
        /// [`Error::ManagerGone`].
        ///
        /// ```
        /// # let manager = multiproc_manager::Manager::in_thread()?;
        /// let l = manager.list_of::<i64>()?;
        /// assert!(l.is_empty()?);
        /// l.append(1)?;
        /// assert!(!l.is_empty()?);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        fn is_empty;

        /// `l[i]`.
        ///
        /// # Errors
        /// `IndexError`, [`Error::Type`], [`Error::ManagerGone`].
        ///
        /// ```
        /// # let manager = multiproc_manager::Manager::in_thread()?;
        /// let l = manager.list_of::<i64>()?;
        /// l.extend([1, 2, 3])?;
        /// assert_eq!(l.get(0)?, 1);
        /// assert_eq!(l.get(-1)?, 3); // from the end, like Python
        /// assert!(l.get(3).is_err()); // IndexError
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        fn get;

        /// `l[i] = x`.
        ///
        /// # Errors
        /// `IndexError`, [`Error::ManagerGone`].
        ///
        /// ```
        /// # let manager = multiproc_manager::Manager::in_thread()?;
        /// let l = manager.list_of::<i64>()?;
        /// l.extend([1, 2])?;
        /// l.set(-1, 20)?;
        /// assert_eq!(l.to_vec()?, [1, 20]);
        /// assert!(l.set(5, 0).is_err()); // IndexError
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        fn set;
    }

    /// `del l[i]`.
    ///
    /// # Errors
    /// `IndexError`, [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let l = manager.list_of::<i64>()?;
    /// l.extend([1, 2, 3])?;
    /// l.del(1)?;
    /// assert_eq!(l.to_vec()?, [1, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn del(&self, i: i64) -> Result<(), Error> {
        self.h.call_unit(Op::List(ListOp::DelItem(Value::from(i))))
    }

    /// `l[a:b]`.
    ///
    /// # Errors
    /// [`Error::Type`], [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let l = manager.list_of::<i64>()?;
    /// l.extend([1, 2, 3, 4])?;
    /// assert_eq!(l.slice(Some(1), Some(3))?, [2, 3]); // l[1:3]
    /// assert_eq!(l.slice(None, Some(-1))?, [1, 2, 3]); // l[:-1]
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn slice(&self, a: Option<i64>, b: Option<i64>) -> Result<Vec<T>, Error> {
        self.h.call_as(Op::List(ListOp::GetSlice(a, b)))
    }

    proxy_methods! {
        /// `l[a:b] = xs`.
        ///
        /// # Errors
        /// [`Error::ManagerGone`].
        ///
        /// ```
        /// # let manager = multiproc_manager::Manager::in_thread()?;
        /// let l = manager.list_of::<i64>()?;
        /// l.extend([1, 2, 3, 4])?;
        /// l.set_slice(Some(1), Some(3), [9])?; // l[1:3] = [9]
        /// assert_eq!(l.to_vec()?, [1, 9, 4]);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        fn set_slice;
    }

    /// `del l[a:b]`.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let l = manager.list_of::<i64>()?;
    /// l.extend([1, 2, 3, 4])?;
    /// l.del_slice(Some(1), None)?; // del l[1:]
    /// assert_eq!(l.to_vec()?, [1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn del_slice(&self, a: Option<i64>, b: Option<i64>) -> Result<(), Error> {
        self.h.call_unit(Op::List(ListOp::DelSlice(a, b)))
    }

    /// `l *= n`: the list becomes `n` copies of itself, in place (`n == 0` empties it).
    ///
    /// ```
    /// let manager = multiproc_manager::Manager::in_thread()?;
    /// let l = manager.list_from(0..3)?;
    /// l.repeat(2)?;
    /// assert_eq!(l.to_string(), "[0, 1, 2, 0, 1, 2]");
    /// # Ok::<(), multiproc_manager::Error>(())
    /// ```
    ///
    /// # Errors
    /// `ValueError` when the result would exceed 2^26 items; [`Error::ManagerGone`].
    pub fn repeat(&self, n: u64) -> Result<(), Error> {
        self.h.call_unit(Op::List(ListOp::Repeat(n)))
    }

    /// `l.clear()`.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let l = manager.list_of::<i64>()?;
    /// l.extend([1, 2])?;
    /// l.clear()?;
    /// assert!(l.is_empty()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn clear(&self) -> Result<(), Error> {
        self.del_slice(None, None)
    }

    proxy_methods! {
        /// `l[:]`: the whole list, in one round trip.
        ///
        /// # Errors
        /// [`Error::Type`], [`Error::ManagerGone`].
        ///
        /// ```
        /// # let manager = multiproc_manager::Manager::in_thread()?;
        /// let l = manager.list_of::<i64>()?;
        /// l.extend([1, 2])?;
        /// assert_eq!(l.to_vec()?, [1, 2]);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        fn to_vec;
    }
}

// ------------------------------------------------------------- namespace

proxy_common!(
    /// A proxy to a manager's `Namespace`: named attributes holding [`Value`]s.
    ///
    /// Reading an attribute never set is an `AttributeError` naming it. An attribute's value
    /// is a *copy* once read: `ns.get::<Vec<i64>>("x")?.push(1)` changes only your copy,
    /// never the server's (CPython's pitfall, made visible by Rust's ownership) — read,
    /// modify and [`set`](Self::set) it back, or store a [`ListProxy`] in the attribute.
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let ns = manager.namespace()?;
    /// let err = ns.get::<i64>("x").unwrap_err();
    /// assert!(err.to_string().contains("'x'"));
    /// ns.set("x", 10)?;
    /// assert_eq!(ns.get::<i64>("x")?, 10);
    /// assert_eq!(ns.to_string(), "Namespace(x=10)");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    NamespaceProxy [] [Kind::Namespace]
);

impl NamespaceProxy {
    /// `ns.name`.
    ///
    /// # Errors
    /// `AttributeError` naming `name`, [`Error::Type`], [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let ns = manager.namespace()?;
    /// ns.set("x", 1)?;
    /// assert_eq!(ns.get::<i64>("x")?, 1);
    /// assert!(ns.get::<i64>("y").is_err()); // AttributeError
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get<T: FromValue>(&self, name: &str) -> Result<T, Error> {
        self.h
            .call_as(Op::Namespace(NamespaceOp::Get(name.to_owned())))
    }

    /// `ns.name = v`.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let ns = manager.namespace()?;
    /// ns.set("x", 1)?;
    /// ns.set("x", "one")?; // any value, like Python's
    /// assert_eq!(ns.get::<String>("x")?, "one");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set(&self, name: &str, v: impl Into<Value>) -> Result<(), Error> {
        self.h
            .call_unit(Op::Namespace(NamespaceOp::Set(name.to_owned(), v.into())))
    }

    /// `del ns.name`.
    ///
    /// # Errors
    /// `AttributeError`, [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let ns = manager.namespace()?;
    /// ns.set("x", 1)?;
    /// ns.del("x")?;
    /// assert!(!ns.has("x")?);
    /// assert!(ns.del("x").is_err()); // AttributeError
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn del(&self, name: &str) -> Result<(), Error> {
        self.h
            .call_unit(Op::Namespace(NamespaceOp::Del(name.to_owned())))
    }

    /// `hasattr(ns, name)`.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let ns = manager.namespace()?;
    /// assert!(!ns.has("x")?);
    /// ns.set("x", 1)?;
    /// assert!(ns.has("x")?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn has(&self, name: &str) -> Result<bool, Error> {
        self.h.call_as(Op::Any(AnyOp::Contains(Value::from(name))))
    }

    /// `vars(ns)`: all attributes, in the order they were first set.
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// use multiproc_manager::Value;
    /// let ns = manager.namespace()?;
    /// ns.set("b", 2)?;
    /// ns.set("a", "x")?;
    /// assert_eq!(
    ///     ns.to_vec()?,
    ///     [("b".to_string(), Value::from(2)), ("a".to_string(), Value::from("x"))]
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Type`] (a reply that is not a namespace's), [`Error::ManagerGone`].
    pub fn to_vec(&self) -> Result<Vec<(String, Value)>, Error> {
        namespace_attrs(self.h.call(Op::Any(AnyOp::Copy))?)
    }
}

/// A namespace's copy as `(name, value)` pairs: the server answers it as a dict keyed
/// by attribute names (what `vars(ns)` is).
pub(crate) fn namespace_attrs(mut v: Value) -> Result<Vec<(String, Value)>, Error> {
    match v {
        Value::Dict(ref mut pairs) => std::mem::take(pairs)
            .into_iter()
            .map(|(k, v)| Ok((String::from_value(k)?, v)))
            .collect(),
        other => Err(Error::Type(TypeMismatch::found(
            "a namespace's dict",
            &other,
        ))),
    }
}

// ------------------------------------------------------------- acquirers

proxy_common!(
    /// A proxy to a manager's `Lock` or `RLock` (CPython's `AcquirerProxy`).
    ///
    /// Ownership is per connection and thread: an `RLock` is re-entrant for the thread that
    /// holds it. Any process may release a `Lock` (CPython's rule): a child may acquire it,
    /// return, and leave the release to its parent — a client that ends normally leaves its
    /// `Lock`s as they are. When the holder's process is killed or crashes (its connection
    /// ends without a goodbye), the server releases the lock, notes it in the lock's
    /// `repr`, and tells the next acquirer ([`Error::OwnerDied`], [`AcquireError`]). An
    /// `RLock` can only be released by its holder, so it is released whenever the
    /// holder's client ends, and the next acquirer is told.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let lock = manager.lock()?;
    /// {
    ///     let _g = lock.lock()?;
    ///     assert!(!lock.acquire(Some(Duration::ZERO))?); // `acquire(False)`
    /// }
    /// assert!(lock.acquire(Some(Duration::ZERO))?);
    /// lock.release()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    LockProxy [] [Kind::Lock, Kind::RLock]
);

/// The owned guard of a manager lock, condition or semaphore permit
/// ([`LockProxy::lock`], [`ConditionProxy::lock`], [`SemaphoreProxy::permit`]): releases
/// it when dropped (errors are ignored: the server releases it anyway if this
/// connection is lost). It holds a handle of its own, so it has no lifetime, unlike
/// `multiproc_sync::LockGuard<'_>`, which borrows its lock.
///
/// ```
/// use std::time::Duration;
/// use multiproc_manager::{AcquireError, Manager};
///
/// let manager = Manager::in_thread()?;
/// let lock = manager.lock()?;
/// let guard = lock.lock().or_else(AcquireError::recover)?;
/// assert!(lock.locked()?);
/// assert!(!lock.acquire(Some(Duration::from_millis(10)))?); // held: a Lock is not re-entrant
/// drop(guard); // releases
/// assert!(!lock.locked()?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "the lock is released when the guard is dropped"]
pub struct LockProxyGuard {
    h: Handle,
}

impl fmt::Debug for LockProxyGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockProxyGuard")
            .field("id", &self.h.id)
            .finish()
    }
}

impl Drop for LockProxyGuard {
    fn drop(&mut self) {
        let _ = self.h.call(Op::Lock(LockOp::Release));
    }
}

macro_rules! acquirer {
    ($name:ident, $guard_fn:ident, $what:literal) => {
        impl $name {
            /// CPython's raw `acquire(block=True, timeout=None)`, no guard: whether it
            /// was acquired. `None` waits as long as it takes, `Some(t)` at most `t`,
            /// `Some(Duration::ZERO)` not at all (`acquire(False)`). Pair with
            /// `release()`. The shape of `multiproc_sync::Lock::acquire`, with the
            /// manager's error.
            ///
            /// # Errors
            /// [`AcquireError::OwnerDied`] carrying `true` when it took over from a
            /// holder that vanished — **it is held then**; [`AcquireError::Failed`]
            /// with [`Error::ManagerGone`] (also when the server shuts down while
            /// waiting). `?` into [`Error`] turns the first into [`Error::OwnerDied`].
            ///
            /// ```
            /// # use std::time::Duration;
            /// # let manager = multiproc_manager::Manager::in_thread()?;
            /// let lock = manager.lock()?;
            /// assert!(lock.acquire(None)?); // waits as long as it takes: acquired
            /// assert!(!lock.acquire(Some(Duration::ZERO))?); // held: `acquire(False)` fails
            /// lock.release_lock()?;
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn acquire(&self, timeout: Option<Duration>) -> Result<bool, AcquireError<bool>> {
                crate::acquire::acquire(&self.h, Op::Lock(LockOp::Acquire { timeout }))
            }

            /// `release()`.
            ///
            /// # Errors
            /// `RuntimeError` when not held (`ValueError` for a bounded semaphore
            /// released too often), [`Error::ManagerGone`].
            ///
            /// ```
            /// # let manager = multiproc_manager::Manager::in_thread()?;
            /// let lock = manager.lock()?;
            /// assert!(lock.acquire(None)?);
            /// lock.release_lock()?;
            /// assert!(lock.release_lock().is_err()); // RuntimeError: not held
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn release_lock(&self) -> Result<(), Error> {
                self.h.call_unit(Op::Lock(LockOp::Release))
            }

            #[doc = concat!("Acquires ", $what, " and returns a guard that releases it on drop (`with ...:`).")]
            ///
            /// # Errors
            /// [`AcquireError::OwnerDied`] carrying the guard (it is held) when it took
            /// over from a holder that vanished; [`AcquireError::Failed`] otherwise.
            /// `?` into [`Error`] drops the guard (releasing it); into a boxed
            /// error, the guard lives inside the error until it is dropped;
            /// `.or_else(AcquireError::recover)` keeps it.
            pub fn $guard_fn(&self) -> Result<LockProxyGuard, AcquireError<LockProxyGuard>> {
                let guard = || LockProxyGuard { h: self.h.clone() };
                match self.acquire(None) {
                    Ok(_) => Ok(guard()),
                    Err(AcquireError::OwnerDied(_)) => {
                        Err(AcquireError::OwnerDied(OwnerDied::new(guard())))
                    }
                    Err(AcquireError::Failed(e)) => Err(AcquireError::Failed(e)),
                }
            }
        }
    };
}

acquirer!(LockProxy, lock, "the lock");

impl LockProxy {
    /// `release()` (same as [`release_lock`](Self::release_lock)).
    ///
    /// # Errors
    /// `RuntimeError` when not held, [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let lock = manager.lock()?;
    /// assert!(lock.acquire(None)?);
    /// lock.release()?;
    /// assert!(!lock.locked()?);
    /// assert!(lock.release().is_err()); // RuntimeError: not held
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn release(&self) -> Result<(), Error> {
        self.release_lock()
    }

    /// Whether the lock is held by anyone.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let lock = manager.lock()?;
    /// assert!(!lock.locked()?);
    /// let _g = lock.lock()?;
    /// assert!(lock.locked()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn locked(&self) -> Result<bool, Error> {
        self.h.call_as(Op::Lock(LockOp::Locked))
    }
}

proxy_common!(
    /// A proxy to a manager's `Semaphore` or `BoundedSemaphore`. Permits taken by a client
    /// that ends normally stay taken, for any process to release (CPython's rule); those
    /// of a client that vanishes (killed, crashed) are given back, and as many next
    /// acquirers are told ([`AcquireError::OwnerDied`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_manager::{Manager, RemoteErrorKind};
    ///
    /// let manager = Manager::in_thread()?;
    /// let sem = manager.semaphore(1)?;
    /// assert!(sem.acquire(None)?); // a permit is free: returns at once
    /// assert!(!sem.acquire(Some(Duration::ZERO))?);
    /// assert!(!sem.acquire(Some(Duration::from_millis(10)))?);
    /// assert_eq!(sem.value()?, 0);
    /// sem.release()?;
    /// let permit = sem.permit()?; // given back on drop
    /// assert_eq!(sem.value()?, 0);
    /// drop(permit);
    /// assert!(sem.acquire(Some(Duration::from_secs(60)))?);
    /// sem.release()?;
    /// let bounded = manager.bounded_semaphore(1)?;
    /// let err = bounded.release().unwrap_err(); // above its initial value
    /// assert_eq!(err.remote_kind(), Some(RemoteErrorKind::ValueError));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    SemaphoreProxy [] [Kind::Semaphore, Kind::BoundedSemaphore]
);
acquirer!(SemaphoreProxy, permit, "a permit");

impl SemaphoreProxy {
    /// `release()`.
    ///
    /// # Errors
    /// `ValueError` for a bounded semaphore released too often, [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let sem = manager.bounded_semaphore(1)?;
    /// assert!(sem.acquire(None)?);
    /// sem.release()?;
    /// assert!(sem.release().is_err()); // ValueError: released too often
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn release(&self) -> Result<(), Error> {
        self.release_lock()
    }

    /// The current counter (`get_value()`).
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let sem = manager.semaphore(2)?;
    /// assert_eq!(sem.value()?, 2);
    /// let _p = sem.permit()?;
    /// assert_eq!(sem.value()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn value(&self) -> Result<u64, Error> {
        self.h.call_as(Op::Lock(LockOp::Locked))
    }
}

proxy_common!(
    /// A proxy to a manager's `Condition` (over its own re-entrant lock). Like an `RLock`,
    /// its lock is released when its holder's client ends, and the next `acquire` reports
    /// [`AcquireError::OwnerDied`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_manager::Manager;
    ///
    /// let manager = Manager::in_thread()?;
    /// let cond = manager.condition()?;
    /// assert!(cond.acquire(None)?);
    /// assert!(!cond.wait_timeout(Duration::from_millis(10))?); // nobody notified; held again
    /// cond.notify_all()?; // no waiter: nothing happens
    /// let work_done = true; // the state the condition protects, checked under the lock
    /// assert!(cond.wait_for_timeout(|| work_done, Duration::from_secs(60))?); // true: no wait
    /// cond.release()?;
    /// assert!(cond.release().is_err()); // RuntimeError: not held
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ConditionProxy [] [Kind::Condition]
);
acquirer!(ConditionProxy, lock, "the condition's lock");

impl ConditionProxy {
    /// `release()`.
    ///
    /// # Errors
    /// `RuntimeError` when not held, [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let cond = manager.condition()?;
    /// assert!(cond.acquire(None)?);
    /// cond.release()?;
    /// assert!(cond.release().is_err()); // RuntimeError: not held
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn release(&self) -> Result<(), Error> {
        self.release_lock()
    }

    /// `wait()`: releases the lock, waits for a notification, re-acquires.
    ///
    /// # Errors
    /// `RuntimeError` when the lock is not held, [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let cond = manager.condition()?;
    /// let other = cond.clone();
    /// let _g = cond.lock()?;
    /// let notifier = std::thread::spawn(move || -> Result<(), multiproc_manager::Error> {
    ///     let _g = other.lock()?; // acquired once `wait` released the lock
    ///     other.notify(1)
    /// });
    /// cond.wait()?; // notified, and holds the lock again
    /// assert!(notifier.join().is_ok_and(|r| r.is_ok()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait(&self) -> Result<(), Error> {
        self.h
            .call_as::<bool>(Op::Condition(ConditionOp::Wait { timeout: None }))
            .map(drop)
    }

    /// `wait(timeout)`: as [`wait`](Self::wait), giving up after `timeout`. Returns
    /// whether it was notified (false on timeout; the lock is re-acquired either way).
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let cond = manager.condition()?;
    /// let _g = cond.lock()?;
    /// assert!(!cond.wait_timeout(Duration::from_millis(10))?); // nobody notified
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<bool, Error> {
        self.h.call_as(Op::Condition(ConditionOp::Wait {
            timeout: Some(timeout),
        }))
    }

    /// `wait_for(predicate)`: waits until `predicate()` holds. The predicate runs here,
    /// in the caller (it is code, and code never travels).
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let cond = manager.condition()?;
    /// let _g = cond.lock()?;
    /// let ready = true; // the state the condition protects
    /// cond.wait_for(|| ready)?; // already true: returns at once
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_for(&self, mut predicate: impl FnMut() -> bool) -> Result<(), Error> {
        while !predicate() {
            self.wait()?;
        }
        Ok(())
    }

    /// `wait_for(predicate, timeout)`: returns the predicate's last value (false when
    /// `timeout` passed with it still false).
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let cond = manager.condition()?;
    /// let _g = cond.lock()?;
    /// assert!(!cond.wait_for_timeout(|| false, Duration::from_millis(10))?); // never true
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_for_timeout(
        &self,
        mut predicate: impl FnMut() -> bool,
        timeout: Duration,
    ) -> Result<bool, Error> {
        let Some(deadline) = std::time::Instant::now().checked_add(timeout) else {
            // a timeout past the clock's range is no timeout
            self.wait_for(predicate)?;
            return Ok(true);
        };
        loop {
            if predicate() {
                return Ok(true);
            }
            match deadline.checked_duration_since(std::time::Instant::now()) {
                Some(left) if !left.is_zero() => self.wait_timeout(left)?,
                _ => return Ok(predicate()),
            };
        }
    }

    /// `notify(n)`: wakes up to `n` waiters.
    ///
    /// # Errors
    /// `RuntimeError` when the lock is not held, [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let cond = manager.condition()?;
    /// assert!(cond.notify(1).is_err()); // RuntimeError: the lock is not held
    /// let _g = cond.lock()?;
    /// cond.notify(1)?; // no waiter: nothing happens
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn notify(&self, n: u32) -> Result<(), Error> {
        self.h
            .call_unit(Op::Condition(ConditionOp::Notify(u64::from(n))))
    }

    /// `notify_all()`.
    ///
    /// # Errors
    /// `RuntimeError` when the lock is not held, [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let cond = manager.condition()?;
    /// assert!(cond.notify_all().is_err()); // RuntimeError: the lock is not held
    /// let _g = cond.lock()?;
    /// cond.notify_all()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn notify_all(&self) -> Result<(), Error> {
        self.h.call_unit(Op::Condition(ConditionOp::NotifyAll))
    }
}

proxy_common!(
    /// A proxy to a manager's `Event`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_manager::Manager;
    ///
    /// let manager = Manager::in_thread()?;
    /// let ev = manager.event()?;
    /// assert!(!ev.wait_timeout(Duration::from_millis(10))?);
    /// ev.set()?;
    /// assert!(ev.wait_timeout(Duration::from_secs(60))?);
    /// ev.wait()?; // set: returns at once
    /// ev.clear()?;
    /// assert!(!ev.is_set()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    EventProxy [] [Kind::Event]
);

impl EventProxy {
    /// `set()`.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let ev = manager.event()?;
    /// ev.set()?;
    /// assert!(ev.is_set()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set(&self) -> Result<(), Error> {
        self.h.call_unit(Op::Event(EventOp::Set))
    }

    /// `clear()`.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let ev = manager.event()?;
    /// ev.set()?;
    /// ev.clear()?;
    /// assert!(!ev.is_set()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn clear(&self) -> Result<(), Error> {
        self.h.call_unit(Op::Event(EventOp::Clear))
    }

    /// `is_set()`.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let ev = manager.event()?;
    /// assert!(!ev.is_set()?);
    /// ev.set()?;
    /// assert!(ev.is_set()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_set(&self) -> Result<bool, Error> {
        self.h.call_as(Op::Event(EventOp::IsSet))
    }

    /// `wait()`: blocks until the event is set.
    ///
    /// # Errors
    /// [`Error::ManagerGone`] (also when the server shuts down while waiting).
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let ev = manager.event()?;
    /// let other = ev.clone();
    /// let setter = std::thread::spawn(move || other.set());
    /// ev.wait()?; // returns once the other thread set it
    /// assert!(ev.is_set()?);
    /// assert!(setter.join().is_ok_and(|r| r.is_ok()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait(&self) -> Result<(), Error> {
        self.h
            .call_as::<bool>(Op::Event(EventOp::Wait { timeout: None }))
            .map(drop)
    }

    /// `wait(timeout)`: whether the event is set (false when `timeout` passed first).
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let ev = manager.event()?;
    /// assert!(!ev.wait_timeout(Duration::from_millis(10))?); // not set: times out
    /// ev.set()?;
    /// assert!(ev.wait_timeout(Duration::from_secs(60))?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<bool, Error> {
        self.h.call_as(Op::Event(EventOp::Wait {
            timeout: Some(timeout),
        }))
    }
}

proxy_common!(
    /// A proxy to a manager's `Barrier`. A party whose client vanishes while waiting
    /// breaks the barrier for the others (they get `BrokenBarrier`, not a hang).
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_manager::{Manager, RemoteErrorKind};
    ///
    /// let manager = Manager::in_thread()?;
    /// let b = manager.barrier(2)?;
    /// let err = b.wait_timeout(Duration::from_millis(10)).unwrap_err(); // alone: times out
    /// assert_eq!(err.remote_kind(), Some(RemoteErrorKind::BrokenBarrier));
    /// assert!(b.broken()?);
    /// b.reset()?;
    /// assert!(!b.broken()?);
    /// let solo = manager.barrier(1)?;
    /// assert_eq!(solo.wait()?, 0); // the only party: passes at once
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    BarrierProxy [] [Kind::Barrier]
);

impl BarrierProxy {
    /// `wait()`: this party's arrival index (`0..parties`, as CPython's).
    ///
    /// # Errors
    /// `BrokenBarrier` (abort, reset, a vanished party), [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let b = manager.barrier(2)?;
    /// let other = b.clone();
    /// let party = std::thread::spawn(move || other.wait());
    /// let mine = b.wait()?;
    /// let theirs = party.join().map_err(|_| "panicked")??;
    /// let mut indices = [mine, theirs];
    /// indices.sort();
    /// assert_eq!(indices, [0, 1]); // each party gets its own index
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait(&self) -> Result<u32, Error> {
        self.h
            .call_as(Op::Barrier(BarrierOp::Wait { timeout: None }))
    }

    /// `wait(timeout)`: as [`wait`](Self::wait); a timeout breaks the barrier (for
    /// everyone, as in CPython) and is reported as `BrokenBarrier`.
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let b = manager.barrier(1)?;
    /// assert_eq!(b.wait_timeout(Duration::from_secs(60))?, 0); // the only party: passes
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<u32, Error> {
        self.h.call_as(Op::Barrier(BarrierOp::Wait {
            timeout: Some(timeout),
        }))
    }

    /// `abort()`.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let b = manager.barrier(2)?;
    /// b.abort()?;
    /// assert!(b.broken()?);
    /// assert!(b.wait().is_err()); // BrokenBarrier
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn abort(&self) -> Result<(), Error> {
        self.h.call_unit(Op::Barrier(BarrierOp::Abort))
    }

    /// `reset()`.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let b = manager.barrier(2)?;
    /// b.abort()?;
    /// b.reset()?;
    /// assert!(!b.broken()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reset(&self) -> Result<(), Error> {
        self.h.call_unit(Op::Barrier(BarrierOp::Reset))
    }

    /// `(parties, n_waiting, broken)`, read together.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let b = manager.barrier(3)?;
    /// let (parties, n_waiting, broken) = b.info()?;
    /// assert_eq!((parties, n_waiting, broken), (3, 0, false));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn info(&self) -> Result<(u32, u32, bool), Error> {
        self.h.call_as(Op::Barrier(BarrierOp::Info))
    }

    /// `parties`.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let b = manager.barrier(3)?;
    /// assert_eq!(b.parties()?, 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parties(&self) -> Result<u32, Error> {
        self.info().map(|(p, _, _)| p)
    }

    /// `n_waiting`.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let b = manager.barrier(3)?;
    /// assert_eq!(b.n_waiting()?, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn n_waiting(&self) -> Result<u32, Error> {
        self.info().map(|(_, n, _)| n)
    }

    /// `broken`.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let b = manager.barrier(2)?;
    /// assert!(!b.broken()?);
    /// b.abort()?;
    /// assert!(b.broken()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn broken(&self) -> Result<bool, Error> {
        self.info().map(|(_, _, b)| b)
    }
}

// ----------------------------------------------------------------- queue

proxy_common!(
    /// A proxy to a manager's `Queue` or `JoinableQueue`. Items put by a client stay in the
    /// queue when that client vanishes; an item taken by a `get` whose reply cannot be
    /// delivered is put back at the front.
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let q = manager.queue_of::<String>()?;
    /// q.put("job".to_string())?;
    /// assert_eq!(q.get()?, "job");
    /// assert!(q.get_timeout(std::time::Duration::ZERO).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    QueueProxy [T] [Kind::Queue, Kind::JoinableQueue]
);

impl<T: Into<Value> + FromValue> QueueProxy<T> {
    /// `put(x)`: blocks while a bounded queue is full.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let q = manager.queue_of::<i64>()?;
    /// q.put(1)?;
    /// q.put(2)?;
    /// assert_eq!(q.get()?, 1); // first in, first out
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put(&self, x: impl Into<T>) -> Result<(), Error> {
        self.h.call_unit(Op::Queue(QueueOp::Put {
            item: x.into().into(),
            timeout: None,
        }))
    }

    /// `put(x, timeout=t)`.
    ///
    /// The family: [`put`](Self::put) waits while a bounded queue is full,
    /// `put_timeout` at most a given time; [`get`](Self::get),
    /// [`get_timeout`](Self::get_timeout) and [`try_get`](Self::try_get) likewise.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_manager::{Manager, RemoteErrorKind};
    ///
    /// let manager = Manager::in_thread()?;
    /// let q = manager.bounded_queue::<u32>(1)?;
    /// q.put(1u32)?;
    /// let full = q.put_timeout(2u32, Duration::from_millis(10)).unwrap_err();
    /// assert_eq!(full.remote_kind(), Some(RemoteErrorKind::Full));
    /// assert_eq!(q.try_get()?, Some(1));
    /// assert_eq!(q.try_get()?, None);
    /// q.put_timeout(3u32, Duration::from_secs(60))?;
    /// assert_eq!(q.get_timeout(Duration::from_secs(60))?, 3);
    /// let empty = q.get_timeout(Duration::ZERO).unwrap_err();
    /// assert_eq!(empty.remote_kind(), Some(RemoteErrorKind::Empty));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// `Full` after the timeout, [`Error::ManagerGone`].
    pub fn put_timeout(&self, x: impl Into<T>, timeout: Duration) -> Result<(), Error> {
        self.h.call_unit(Op::Queue(QueueOp::Put {
            item: x.into().into(),
            timeout: Some(timeout),
        }))
    }

    /// `get()`: blocks until an item arrives.
    ///
    /// # Errors
    /// [`Error::Type`], [`Error::ManagerGone`] (also on shutdown while waiting).
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let q = manager.queue_of::<String>()?;
    /// q.put("job")?;
    /// assert_eq!(q.get()?, "job");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(&self) -> Result<T, Error> {
        self.h.call_as(Op::Queue(QueueOp::Get { timeout: None }))
    }

    /// `get(timeout=t)` (`Duration::ZERO` is `get_nowait()`).
    ///
    /// # Errors
    /// `Empty` after the timeout ([`RemoteErrorKind::Empty`]), [`Error::Type`],
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// use multiproc_manager::RemoteErrorKind;
    /// let q = manager.queue_of::<i64>()?;
    /// let err = q.get_timeout(Duration::from_millis(10)).unwrap_err();
    /// assert_eq!(err.remote_kind(), Some(RemoteErrorKind::Empty));
    /// q.put(1)?;
    /// assert_eq!(q.get_timeout(Duration::from_secs(60))?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, Error> {
        self.h.call_as(Op::Queue(QueueOp::Get {
            timeout: Some(timeout),
        }))
    }

    /// `get_nowait()`, as an `Option`.
    ///
    /// # Errors
    /// [`Error::Type`], [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let q = manager.queue_of::<i64>()?;
    /// assert_eq!(q.try_get()?, None);
    /// q.put(1)?;
    /// assert_eq!(q.try_get()?, Some(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_get(&self) -> Result<Option<T>, Error> {
        match self.get_timeout(Duration::ZERO) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.remote_kind() == Some(RemoteErrorKind::Empty) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `qsize()`.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let q = manager.queue_of::<i64>()?;
    /// q.put(1)?;
    /// q.put(2)?;
    /// assert_eq!(q.qsize()?, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn qsize(&self) -> Result<usize, Error> {
        self.h.call_as(Op::Queue(QueueOp::QSize))
    }

    /// `empty()`.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let q = manager.queue_of::<i64>()?;
    /// assert!(q.is_empty()?);
    /// q.put(1)?;
    /// assert!(!q.is_empty()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_empty(&self) -> Result<bool, Error> {
        Ok(self.qsize()? == 0)
    }

    /// `task_done()` (joinable queues).
    ///
    /// # Errors
    /// `ValueError` when called too often, `NoSuchMethod` on a plain queue,
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let q = manager.joinable_queue::<i64>()?;
    /// q.put(1)?;
    /// q.get()?;
    /// q.task_done()?;
    /// assert!(q.task_done().is_err()); // ValueError: called more often than `put`
    /// assert!(manager.queue()?.task_done().is_err()); // NoSuchMethod on a plain queue
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn task_done(&self) -> Result<(), Error> {
        self.h.call_unit(Op::Queue(QueueOp::TaskDone))
    }

    /// `join()` (joinable queues): waits until every item put was marked done.
    ///
    /// # Errors
    /// `NoSuchMethod` on a plain queue, [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let q = manager.joinable_queue::<i64>()?;
    /// q.put(1)?;
    /// q.get()?;
    /// q.task_done()?;
    /// q.join()?; // every item done: returns at once
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn join(&self) -> Result<(), Error> {
        self.h
            .call_as::<bool>(Op::Queue(QueueOp::Join { timeout: None }))
            .map(drop)
    }

    /// `join()` giving up after `timeout`: whether every item was marked done in time.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_manager::Manager;
    ///
    /// let manager = Manager::in_thread()?;
    /// let q = manager.joinable_queue::<String>()?;
    /// q.put("job")?;
    /// assert!(!q.join_timeout(Duration::from_millis(10))?); // not done yet
    /// assert_eq!(q.get()?, "job");
    /// q.task_done()?;
    /// assert!(q.join_timeout(Duration::from_secs(60))?);
    /// q.join()?; // nothing unfinished: returns at once
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`join`](Self::join).
    pub fn join_timeout(&self, timeout: Duration) -> Result<bool, Error> {
        self.h.call_as(Op::Queue(QueueOp::Join {
            timeout: Some(timeout),
        }))
    }
}

// ---------------------------------------------------------- value, array

proxy_common!(
    /// A proxy to a manager's `Value` (CPython's `ValueProxy`): one value, read and written
    /// whole.
    ///
    /// ```
    /// use multiproc_manager::Manager;
    ///
    /// let manager = Manager::in_thread()?;
    /// let v = manager.value(10i64)?;
    /// v.set(v.get()? + 1)?;
    /// assert_eq!(v.get()?, 11);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ValueProxy [T] [Kind::Value]
);

impl<T: Into<Value> + FromValue> ValueProxy<T> {
    /// `v.value`.
    ///
    /// # Errors
    /// [`Error::Type`], [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let v = manager.value(1_i64)?;
    /// assert_eq!(v.get()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(&self) -> Result<T, Error> {
        self.h.call_as(Op::Value(ValueOp::Get))
    }

    /// `v.value = x`.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let v = manager.value(1_i64)?;
    /// v.set(2)?;
    /// assert_eq!(v.get()?, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set(&self, x: impl Into<T>) -> Result<(), Error> {
        self.h.call_unit(Op::Value(ValueOp::Set(x.into().into())))
    }
}

proxy_common!(
    /// A proxy to a manager's `Array` (CPython's `ArrayProxy`): fixed length.
    ///
    /// ```
    /// use multiproc_manager::Manager;
    ///
    /// let manager = Manager::in_thread()?;
    /// let a = manager.array([1i64, 2, 3])?;
    /// a.set(0, 10)?;
    /// assert_eq!(a.to_vec()?, [10, 2, 3]);
    /// assert_eq!(a.len()?, 3);
    /// assert!(a.get(5).is_err()); // IndexError: fixed length
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ArrayProxy [T] [Kind::Array]
);

impl<T: Into<Value> + FromValue> ArrayProxy<T> {
    proxy_methods! {
        /// `a[i]`.
        ///
        /// # Errors
        /// `IndexError`, [`Error::Type`], [`Error::ManagerGone`].
        ///
        /// ```
        /// # let manager = multiproc_manager::Manager::in_thread()?;
        /// let a = manager.array([1_i64, 2, 3])?;
        /// assert_eq!(a.get(0)?, 1);
        /// assert_eq!(a.get(-1)?, 3);
        /// assert!(a.get(3).is_err()); // IndexError
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        fn get;

        /// `a[i] = x`.
        ///
        /// # Errors
        /// `IndexError`, [`Error::ManagerGone`].
        ///
        /// ```
        /// # let manager = multiproc_manager::Manager::in_thread()?;
        /// let a = manager.array([1_i64, 2])?;
        /// a.set(0, 10)?;
        /// assert_eq!(a.to_vec()?, [10, 2]);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        fn set;

        /// `len(a)`.
        ///
        /// # Errors
        /// [`Error::ManagerGone`].
        ///
        /// ```
        /// # let manager = multiproc_manager::Manager::in_thread()?;
        /// let a = manager.array([1_i64, 2])?;
        /// assert_eq!(a.len()?, 2);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        fn len;

        /// `len(a) == 0`.
        ///
        /// # Errors
        /// [`Error::ManagerGone`].
        ///
        /// ```
        /// # let manager = multiproc_manager::Manager::in_thread()?;
        /// let a = manager.array([1_i64])?;
        /// assert!(!a.is_empty()?);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        fn is_empty;

        /// `a[:]`.
        ///
        /// # Errors
        /// [`Error::Type`], [`Error::ManagerGone`].
        ///
        /// ```
        /// # let manager = multiproc_manager::Manager::in_thread()?;
        /// let a = manager.array([1_i64, 2])?;
        /// assert_eq!(a.to_vec()?, [1, 2]);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        fn to_vec;

        /// `a[x:y] = items` (same length).
        ///
        /// # Errors
        /// `ValueError` for another length, [`Error::ManagerGone`].
        ///
        /// ```
        /// # let manager = multiproc_manager::Manager::in_thread()?;
        /// let a = manager.array([1_i64, 2, 3])?;
        /// a.set_slice(Some(0), Some(2), [7, 8])?;
        /// assert_eq!(a.to_vec()?, [7, 8, 3]);
        /// assert!(a.set_slice(None, None, [1]).is_err()); // ValueError: another length
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        fn set_slice;
    }
}

// ---------------------------------------------------------------- custom

/// Arguments of a custom method call: `()`, a single value in a 1-tuple, or a tuple
/// (up to four values, each `Into<Value>`), or a `Vec<Value>` built by hand.
///
/// ```
/// use multiproc_manager::{Args, Value};
/// assert!(().into_args().is_empty());
/// assert_eq!((5,).into_args(), [Value::from(5)]);
/// assert_eq!((1, "two", 3.0).into_args().len(), 3);
/// let many: Vec<Value> = (0..6).map(Value::from).collect();
/// assert_eq!(many.clone().into_args(), many); // more than four: a Vec
/// ```
pub trait Args {
    /// The argument values.
    ///
    /// ```
    /// use multiproc_manager::{Args, Value};
    /// assert_eq!(("k", 1).into_args(), [Value::from("k"), Value::from(1)]);
    /// ```
    fn into_args(self) -> Vec<Value>;
}

impl Args for () {
    fn into_args(self) -> Vec<Value> {
        Vec::new()
    }
}

impl Args for Vec<Value> {
    fn into_args(self) -> Vec<Value> {
        self
    }
}

macro_rules! args_tuple {
    ($($t:ident),+) => {
        impl<$($t: Into<Value>),+> Args for ($($t,)+) {
            #[expect(non_snake_case, reason = "the tuple's parts are named by their type parameters")]
            fn into_args(self) -> Vec<Value> {
                let ($($t,)+) = self;
                vec![$($t.into()),+]
            }
        }
    };
}
args_tuple!(A);
args_tuple!(A, B);
args_tuple!(A, B, C);
args_tuple!(A, B, C, D);

/// A proxy to an object of a registered custom type `S` (see [`Shared`]). Give it
/// typed methods with an extension trait:
///
/// ```
/// # use multiproc_manager::{Shared, Value, RemoteError, Proxy, Error, FromValue};
/// # #[derive(Default)] struct Counter(i64);
/// # impl Shared for Counter {
/// #     const TYPEID: &'static str = "Counter";
/// #     fn new(_: Vec<Value>) -> Result<Self, RemoteError> { Ok(Counter(0)) }
/// #     fn call(&mut self, m: &str, a: Vec<Value>) -> Result<Value, RemoteError> {
/// #         let by = a.into_iter().next().map_or(Ok(1), i64::from_value).unwrap_or(1);
/// #         if m == "add" { self.0 += by; } Ok(self.0.into())
/// #     }
/// # }
/// trait CounterExt {
///     fn add(&self, by: i64) -> Result<i64, Error>;
/// }
/// impl CounterExt for Proxy<Counter> {
///     fn add(&self, by: i64) -> Result<i64, Error> {
///         self.call("add", (by,))
///     }
/// }
/// let mut registry = multiproc_manager::Registry::new();
/// registry.register::<Counter>();
/// let manager = multiproc_manager::Manager::in_thread_with(registry)?;
/// let c = manager.create::<Counter>(())?;
/// assert_eq!(c.add(2)?, 2);
/// assert_eq!(c.add(3)?, 5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Proxy<S> {
    h: Handle,
    _t: PhantomData<fn() -> S>,
}

impl<S> fmt::Display for Proxy<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.h.display(f)
    }
}
impl<S> fmt::Debug for Proxy<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("typeid", &self.h.kind.typeid())
            .field("id", &self.h.id)
            .finish()
    }
}
impl<S> Clone for Proxy<S> {
    fn clone(&self) -> Self {
        Proxy {
            h: self.h.clone(),
            _t: PhantomData,
        }
    }
}
impl<S> Serialize for Proxy<S> {
    fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        self.h.serialize(s)
    }
}
impl<'de, S: Shared> Deserialize<'de> for Proxy<S> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let h = Handle::deserialize_of(d, &[Kind::Custom(S::TYPEID.to_owned())], S::TYPEID)?;
        Ok(Proxy { h, _t: PhantomData })
    }
}
/// A proxy in a reply: what a method listed in [`Shared::METHOD_TO_TYPEID`] returns.
impl<S: Shared> FromValue for Proxy<S> {
    fn from_value(v: Value) -> Result<Self, TypeMismatch> {
        Handle::from_current(v, &[Kind::Custom(S::TYPEID.to_owned())], "Proxy")
            .map(|h| Proxy { h, _t: PhantomData })
    }
}

impl<S> From<&Proxy<S>> for Value {
    fn from(p: &Proxy<S>) -> Value {
        Value::Proxy(p.h.objref())
    }
}

impl<S: Shared> Proxy<S> {
    pub(crate) fn from_handle(h: Handle) -> Self {
        Proxy { h, _t: PhantomData }
    }

    /// Calls method `method` on the server with `args`, converting the result.
    ///
    /// # Errors
    /// The method's own error ([`Error::Remote`]), [`Error::Type`], [`Error::ManagerGone`].
    ///
    /// ```
    /// # use multiproc_manager::{Shared, Value, RemoteError, FromValue};
    /// # #[derive(Default)] struct Counter(i64);
    /// # impl Shared for Counter {
    /// #     const TYPEID: &'static str = "Counter";
    /// #     fn new(_: Vec<Value>) -> Result<Self, RemoteError> { Ok(Counter(0)) }
    /// #     fn call(&mut self, m: &str, a: Vec<Value>) -> Result<Value, RemoteError> {
    /// #         let by = a.into_iter().next().map_or(Ok(1), i64::from_value).unwrap_or(1);
    /// #         if m == "add" { self.0 += by; } Ok(self.0.into())
    /// #     }
    /// # }
    /// let mut registry = multiproc_manager::Registry::new();
    /// registry.register::<Counter>();
    /// let manager = multiproc_manager::Manager::in_thread_with(registry)?;
    /// let c = manager.create::<Counter>(())?;
    /// assert_eq!(c.call::<i64>("add", (5,))?, 5);
    /// assert_eq!(c.call::<i64>("add", ())?, 6); // no argument: by one
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn call<R: FromValue>(&self, method: &str, args: impl Args) -> Result<R, Error> {
        self.h.call_as(Op::Custom(CustomOp::Call {
            method: method.to_owned(),
            args: args.into_args(),
        }))
    }

    /// The object's id on its server.
    ///
    /// ```
    /// # use multiproc_manager::{Shared, Value, RemoteError};
    /// # struct Counter;
    /// # impl Shared for Counter {
    /// #     const TYPEID: &'static str = "Counter";
    /// #     fn new(_: Vec<Value>) -> Result<Self, RemoteError> { Ok(Counter) }
    /// #     fn call(&mut self, _: &str, _: Vec<Value>) -> Result<Value, RemoteError> { Ok(Value::None) }
    /// # }
    /// let mut registry = multiproc_manager::Registry::new();
    /// registry.register::<Counter>();
    /// let manager = multiproc_manager::Manager::in_thread_with(registry)?;
    /// let a = manager.create::<Counter>(())?;
    /// let b = manager.create::<Counter>(())?;
    /// assert_ne!(a.id(), b.id());
    /// assert_eq!(a.clone().id(), a.id());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn id(&self) -> u64 {
        self.h.id
    }
}
