//! A nesting limit for decoding: a serde `Deserializer` wrapper that counts levels.
//!
//! postcard has no depth limit, and a recursive type decodes recursively: a few bytes
//! can announce a value nested a million deep, which would overflow the receiving
//! thread's stack and abort the whole process. Every typed decode of this crate
//! ([`crate::decode`], [`Connection::recv`](crate::Connection::recv) and its forms)
//! therefore runs the type's `Deserialize` through [`Limited`], which wraps the
//! deserializer, the visitor, and every access object the visitor is handed
//! (`SeqAccess`, `MapAccess`, `EnumAccess`, `VariantAccess`, and the seeds they
//! deserialize), so that nested values go through the wrapper too. Each sequence,
//! tuple, map, struct, enum, `Some` and newtype the visitor enters is one level;
//! past the limit the decode stops with [`CodecError::TooDeep`](crate::CodecError::TooDeep)
//! before going any deeper.
//!
//! The wrapper is generic and inlined: flat data costs nothing measurable (release
//! build: a 1 MiB `Vec<u8>` decodes in 0.78 ms through it, 0.79 ms with bare postcard).

use std::cell::Cell;
use std::fmt;

use serde::de::{
    DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};

/// The default nesting limit of a typed decode ([`crate::decode`],
/// [`Connection::recv`](crate::Connection::recv)): 256 levels.
///
/// Measured (x86-64, Rust 1.9x, a receive through a `Connection`, the stack address at
/// the innermost value against the caller's): in a **debug** build a recursive enum
/// (`enum Nest { Leaf, Node(Box<Nest>) }`, one level a node) takes 880 B of stack per
/// level, and a heavier one (a struct variant holding a `Vec` of itself, three levels
/// a node) 3.5 KiB per node, 1.2 KiB per level; the receive itself about 1.7 KiB. So
/// 2 MiB — the stack `std` gives a spawned thread — holds about 1 800 levels of the
/// heavier type, and 256 levels take about 300 KiB of it: a margin of about seven
/// for types with larger frames and for what the thread had on its stack before.
/// A release build takes a tenth of that (64 B and 384 B a node).
///
/// ```
/// use multiproc_ipc::{CodecError, DEFAULT_MAX_DEPTH, decode, decode_with_max_depth, encode};
/// #[derive(serde::Serialize, serde::Deserialize)]
/// enum Nest { Leaf, Node(Box<Nest>) }
/// let mut deep = Nest::Leaf;
/// for _ in 0..DEFAULT_MAX_DEPTH + 10 {
///     deep = Nest::Node(Box::new(deep));
/// }
/// let (bytes, fds) = encode(&deep)?;
/// assert!(matches!(decode::<Nest>(&bytes, fds), Err(CodecError::TooDeep { .. })));
/// let (bytes, fds) = encode(&deep)?;
/// assert!(decode_with_max_depth::<Nest>(&bytes, fds, DEFAULT_MAX_DEPTH + 20).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const DEFAULT_MAX_DEPTH: usize = 256;

/// The count shared by every wrapper of one decode.
pub(crate) struct Budget {
    depth: Cell<usize>,
    limit: usize,
    exceeded: Cell<bool>,
}

impl Budget {
    pub(crate) fn new(limit: usize) -> Self {
        Budget {
            depth: Cell::new(0),
            limit,
            exceeded: Cell::new(false),
        }
    }

    /// Whether the decode tried to go deeper than the limit (even if some
    /// `Deserialize` impl caught the error).
    pub(crate) fn exceeded(&self) -> bool {
        self.exceeded.get()
    }

    #[inline]
    fn enter<E: serde::de::Error>(&self) -> Result<(), E> {
        let d = self.depth.get() + 1;
        if d > self.limit {
            self.exceeded.set(true);
            return Err(E::custom(format_args!(
                "value nested deeper than the limit of {}",
                self.limit
            )));
        }
        self.depth.set(d);
        Ok(())
    }

    #[inline]
    fn leave(&self) {
        self.depth.set(self.depth.get().saturating_sub(1));
    }

    #[inline]
    fn within<T, E: serde::de::Error>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        self.enter()?;
        let r = f();
        self.leave();
        r
    }
}

/// A deserializer whose visitors count nesting against a [`Budget`].
pub(crate) struct Limited<'b, D> {
    pub(crate) de: D,
    pub(crate) budget: &'b Budget,
}

struct Wrap<'b, V> {
    inner: V,
    budget: &'b Budget,
}

struct Seed<'b, S> {
    inner: S,
    budget: &'b Budget,
}

macro_rules! forward_deserialize {
    ($($name:ident)*) => {$(
        #[inline]
        fn $name<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.de.$name(Wrap { inner: visitor, budget: self.budget })
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Limited<'_, D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any deserialize_bool
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64 deserialize_char deserialize_str deserialize_string
        deserialize_bytes deserialize_byte_buf deserialize_option deserialize_unit
        deserialize_seq deserialize_map deserialize_identifier deserialize_ignored_any
    }

    #[inline]
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let budget = self.budget;
        self.de.deserialize_unit_struct(
            name,
            Wrap {
                inner: visitor,
                budget,
            },
        )
    }

    #[inline]
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let budget = self.budget;
        self.de.deserialize_newtype_struct(
            name,
            Wrap {
                inner: visitor,
                budget,
            },
        )
    }

    #[inline]
    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let budget = self.budget;
        self.de.deserialize_tuple(
            len,
            Wrap {
                inner: visitor,
                budget,
            },
        )
    }

    #[inline]
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let budget = self.budget;
        self.de.deserialize_tuple_struct(
            name,
            len,
            Wrap {
                inner: visitor,
                budget,
            },
        )
    }

    #[inline]
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let budget = self.budget;
        self.de.deserialize_struct(
            name,
            fields,
            Wrap {
                inner: visitor,
                budget,
            },
        )
    }

    #[inline]
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let budget = self.budget;
        self.de.deserialize_enum(
            name,
            variants,
            Wrap {
                inner: visitor,
                budget,
            },
        )
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }
}

macro_rules! forward_visit {
    ($($name:ident($ty:ty))*) => {$(
        #[inline]
        fn $name<E: serde::de::Error>(self, v: $ty) -> Result<V::Value, E> {
            self.inner.$name(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visit! {
        visit_bool(bool)
        visit_i8(i8) visit_i16(i16) visit_i32(i32) visit_i64(i64) visit_i128(i128)
        visit_u8(u8) visit_u16(u16) visit_u32(u32) visit_u64(u64) visit_u128(u128)
        visit_f32(f32) visit_f64(f64) visit_char(char)
        visit_str(&str) visit_borrowed_str(&'de str) visit_string(String)
        visit_bytes(&[u8]) visit_borrowed_bytes(&'de [u8]) visit_byte_buf(Vec<u8>)
    }

    #[inline]
    fn visit_none<E: serde::de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    #[inline]
    fn visit_unit<E: serde::de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    #[inline]
    fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<V::Value, D::Error> {
        let budget = self.budget;
        budget.within(|| self.inner.visit_some(Limited { de, budget }))
    }

    #[inline]
    fn visit_newtype_struct<D: Deserializer<'de>>(self, de: D) -> Result<V::Value, D::Error> {
        let budget = self.budget;
        budget.within(|| self.inner.visit_newtype_struct(Limited { de, budget }))
    }

    #[inline]
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        let budget = self.budget;
        budget.within(|| self.inner.visit_seq(Wrap { inner: seq, budget }))
    }

    #[inline]
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        let budget = self.budget;
        budget.within(|| self.inner.visit_map(Wrap { inner: map, budget }))
    }

    #[inline]
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        let budget = self.budget;
        budget.within(|| {
            self.inner.visit_enum(Wrap {
                inner: data,
                budget,
            })
        })
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<'_, S> {
    type Value = S::Value;

    #[inline]
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<S::Value, D::Error> {
        self.inner.deserialize(Limited {
            de,
            budget: self.budget,
        })
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Wrap<'_, A> {
    type Error = A::Error;

    #[inline]
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.inner.next_element_seed(Seed {
            inner: seed,
            budget: self.budget,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Wrap<'_, A> {
    type Error = A::Error;

    #[inline]
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.inner.next_key_seed(Seed {
            inner: seed,
            budget: self.budget,
        })
    }

    #[inline]
    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.inner.next_value_seed(Seed {
            inner: seed,
            budget: self.budget,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'b, 'de, A: EnumAccess<'de>> EnumAccess<'de> for Wrap<'b, A> {
    type Error = A::Error;
    type Variant = Wrap<'b, A::Variant>;

    #[inline]
    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self::Variant), A::Error> {
        let budget = self.budget;
        let (value, variant) = self.inner.variant_seed(Seed {
            inner: seed,
            budget,
        })?;
        Ok((
            value,
            Wrap {
                inner: variant,
                budget,
            },
        ))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Wrap<'_, A> {
    type Error = A::Error;

    #[inline]
    fn unit_variant(self) -> Result<(), A::Error> {
        self.inner.unit_variant()
    }

    #[inline]
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.inner.newtype_variant_seed(Seed {
            inner: seed,
            budget: self.budget,
        })
    }

    #[inline]
    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.inner.tuple_variant(
            len,
            Wrap {
                inner: visitor,
                budget: self.budget,
            },
        )
    }

    #[inline]
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.inner.struct_variant(
            fields,
            Wrap {
                inner: visitor,
                budget: self.budget,
            },
        )
    }
}
