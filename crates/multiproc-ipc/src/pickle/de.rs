//! serde glue: a `Deserializer` over an owned [`PickleValue`], and `Serialize` /
//! `Deserialize` for `PickleValue` itself.
//!
//! Mapping (the converse of the encoder's): `None` → unit, `Option::None`; `int` → any
//! integer type it fits (a typed error otherwise), floats also from `int`; `str` →
//! strings, `char`, unit enum variants; `bytes` → byte buffers, or sequences of `u8`;
//! `list`, `tuple`, `set`, `frozenset` → sequences, tuples, tuple structs; `dict` →
//! maps and structs, and one-entry dicts → enum variants with data.

use std::cell::RefCell;
use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, SerializeTuple, Serializer};

use super::error::PickleError;
use super::value::{BigInt, PickleValue};
use super::{MAGIC_BIGINT, MAGIC_FROZENSET, MAGIC_SET, MAGIC_VALUE};

thread_local! {
    /// Hands a whole value to `PickleValue`'s own `Deserialize`, so that tuples and
    /// sets keep their kind (see `deserialize_newtype_struct`).
    static HANDOFF: RefCell<Option<PickleValue>> = const { RefCell::new(None) };
}

fn take(v: &mut PickleValue) -> PickleValue {
    std::mem::replace(v, PickleValue::None)
}

fn unexpected(v: &PickleValue) -> de::Unexpected<'_> {
    match v {
        PickleValue::None => de::Unexpected::Unit,
        PickleValue::Bool(b) => de::Unexpected::Bool(*b),
        PickleValue::Int(i) => match i64::try_from(*i) {
            Ok(i) => de::Unexpected::Signed(i),
            Err(_) => de::Unexpected::Other("large integer"),
        },
        PickleValue::BigInt(_) => de::Unexpected::Other("integer beyond 128 bits"),
        PickleValue::Float(x) => de::Unexpected::Float(*x),
        PickleValue::Str(s) => de::Unexpected::Str(s),
        PickleValue::Bytes(b) => de::Unexpected::Bytes(b),
        PickleValue::List(_) => de::Unexpected::Other("list"),
        PickleValue::Tuple(_) => de::Unexpected::Other("tuple"),
        PickleValue::Set(_) => de::Unexpected::Other("set"),
        PickleValue::FrozenSet(_) => de::Unexpected::Other("frozenset"),
        PickleValue::Dict(_) => de::Unexpected::Map,
    }
}

/// A `Deserializer` that consumes a [`PickleValue`].
pub(crate) struct ValueDe(pub(crate) PickleValue);

struct Seq(std::vec::IntoIter<PickleValue>);

impl<'de> SeqAccess<'de> for Seq {
    type Error = PickleError;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, PickleError> {
        match self.0.next() {
            Some(v) => seed.deserialize(ValueDe(v)).map(Some),
            None => Ok(None),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Map {
    it: std::vec::IntoIter<(PickleValue, PickleValue)>,
    value: Option<PickleValue>,
}

impl<'de> MapAccess<'de> for Map {
    type Error = PickleError;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, PickleError> {
        match self.it.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(ValueDe(k)).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, PickleError> {
        let v = self.value.take().unwrap_or(PickleValue::None);
        seed.deserialize(ValueDe(v))
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.it.len())
    }
}

struct Enum {
    variant: PickleValue,
    value: Option<PickleValue>,
}

impl<'de> EnumAccess<'de> for Enum {
    type Error = PickleError;
    type Variant = Variant;
    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Variant), PickleError> {
        let v = seed.deserialize(ValueDe(self.variant))?;
        Ok((v, Variant(self.value)))
    }
}

struct Variant(Option<PickleValue>);

impl Variant {
    /// The variant's value, which a variant of `kind` (`"tuple variant"`, …) must have.
    fn payload(self, kind: &'static str) -> Result<PickleValue, PickleError> {
        self.0
            .ok_or_else(|| de::Error::invalid_type(de::Unexpected::UnitVariant, &kind))
    }
}

impl<'de> VariantAccess<'de> for Variant {
    type Error = PickleError;
    fn unit_variant(self) -> Result<(), PickleError> {
        match self.0 {
            None | Some(PickleValue::None) => Ok(()),
            Some(v) => Err(de::Error::invalid_type(unexpected(&v), &"unit variant")),
        }
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, PickleError> {
        seed.deserialize(ValueDe(self.payload("newtype variant")?))
    }
    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, PickleError> {
        ValueDe(self.payload("tuple variant")?).deserialize_seq(visitor)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, PickleError> {
        ValueDe(self.payload("struct variant")?).deserialize_map(visitor)
    }
}

impl<'de> Deserializer<'de> for ValueDe {
    type Error = PickleError;

    fn deserialize_any<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, PickleError> {
        let mut v = take(&mut self.0);
        match &mut v {
            PickleValue::None => visitor.visit_unit(),
            PickleValue::Bool(b) => visitor.visit_bool(*b),
            PickleValue::Int(i) => {
                if let Ok(i) = i64::try_from(*i) {
                    visitor.visit_i64(i)
                } else if let Ok(u) = u64::try_from(*i) {
                    visitor.visit_u64(u)
                } else {
                    visitor.visit_i128(*i)
                }
            }
            PickleValue::BigInt(b) => match b.to_u128() {
                Some(u) => visitor.visit_u128(u),
                None => Err(PickleError::IntegerTooLarge),
            },
            PickleValue::Float(x) => visitor.visit_f64(*x),
            PickleValue::Str(s) => visitor.visit_string(std::mem::take(s)),
            PickleValue::Bytes(b) => visitor.visit_byte_buf(std::mem::take(b)),
            PickleValue::List(i)
            | PickleValue::Tuple(i)
            | PickleValue::Set(i)
            | PickleValue::FrozenSet(i) => {
                let mut seq = Seq(std::mem::take(i).into_iter());
                let r = visitor.visit_seq(&mut seq)?;
                if seq.0.len() != 0 {
                    return Err(de::Error::invalid_length(seq.0.len(), &"fewer elements"));
                }
                Ok(r)
            }
            PickleValue::Dict(p) => {
                let mut map = Map {
                    it: std::mem::take(p).into_iter(),
                    value: None,
                };
                let r = visitor.visit_map(&mut map)?;
                if map.it.len() != 0 {
                    return Err(de::Error::invalid_length(map.it.len(), &"fewer entries"));
                }
                Ok(r)
            }
        }
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PickleError> {
        match self.0 {
            PickleValue::Int(i) => visitor.visit_f64(i as f64),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PickleError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, PickleError> {
        match &mut self.0 {
            // `bytes` into a `Vec<u8>` (serde asks for a sequence of u8)
            PickleValue::Bytes(b) => {
                let b = std::mem::take(b);
                visitor.visit_seq(de::value::SeqDeserializer::<_, PickleError>::new(
                    b.into_iter(),
                ))
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PickleError> {
        match self.0 {
            PickleValue::None => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PickleError> {
        match self.0 {
            PickleValue::None => visitor.visit_unit(),
            ref v => Err(de::Error::invalid_type(unexpected(v), &"None")),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, PickleError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        mut self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, PickleError> {
        if name == MAGIC_VALUE {
            let v = take(&mut self.0);
            HANDOFF.with(|h| *h.borrow_mut() = Some(v));
            return visitor.visit_unit();
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        mut self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, PickleError> {
        let mut v = take(&mut self.0);
        match &mut v {
            PickleValue::Str(_) => visitor.visit_enum(Enum {
                variant: v,
                value: None,
            }),
            PickleValue::Dict(p) if p.len() == 1 => {
                let (k, v) = p.pop().expect("holds because the dict has one entry");
                visitor.visit_enum(Enum {
                    variant: k,
                    value: Some(v),
                })
            }
            _ => Err(de::Error::invalid_type(
                unexpected(&v),
                &"a str or a one-entry dict (enum)",
            )),
        }
    }

    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PickleError> {
        match self.0 {
            PickleValue::Int(i) => visitor.visit_i128(i),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PickleError> {
        match self.0 {
            PickleValue::Int(i) if i >= 0 => visitor.visit_u128(i as u128),
            _ => self.deserialize_any(visitor),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 u8 u16 u32 u64 char str string
        bytes byte_buf tuple tuple_struct map struct identifier ignored_any
    }
}

// ------------------------------------------------------------ PickleValue <-> serde

struct Items<'a>(&'a [PickleValue]);

impl Serialize for Items<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for v in self.0 {
            seq.serialize_element(v)?;
        }
        seq.end()
    }
}

struct LeBytes<'a>(&'a [u8]);

impl Serialize for LeBytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

impl Serialize for PickleValue {
    /// Serializes as the pickle's kinds; to formats other than pickle, sets and
    /// frozensets are sequences and integers beyond 128 bits are their
    /// little-endian two's-complement bytes.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PickleValue::None => s.serialize_none(),
            PickleValue::Bool(b) => s.serialize_bool(*b),
            PickleValue::Int(i) => {
                if let Ok(i) = i64::try_from(*i) {
                    s.serialize_i64(i)
                } else {
                    s.serialize_i128(*i)
                }
            }
            PickleValue::BigInt(b) => {
                s.serialize_newtype_struct(MAGIC_BIGINT, &LeBytes(b.to_le_bytes()))
            }
            PickleValue::Float(x) => s.serialize_f64(*x),
            PickleValue::Str(v) => s.serialize_str(v),
            PickleValue::Bytes(b) => s.serialize_bytes(b),
            PickleValue::List(i) => Items(i).serialize(s),
            PickleValue::Tuple(i) => {
                let mut t = s.serialize_tuple(i.len())?;
                for v in i {
                    t.serialize_element(v)?;
                }
                t.end()
            }
            PickleValue::Set(i) => s.serialize_newtype_struct(MAGIC_SET, &Items(i)),
            PickleValue::FrozenSet(i) => s.serialize_newtype_struct(MAGIC_FROZENSET, &Items(i)),
            PickleValue::Dict(p) => {
                let mut m = s.serialize_map(Some(p.len()))?;
                for (k, v) in p {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = PickleValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<PickleValue, E> {
        // From our own deserializer, the whole value is waiting in the hand-off slot.
        Ok(HANDOFF
            .with(|h| h.borrow_mut().take())
            .unwrap_or(PickleValue::None))
    }
    fn visit_none<E: de::Error>(self) -> Result<PickleValue, E> {
        Ok(PickleValue::None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<PickleValue, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<PickleValue, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<PickleValue, E> {
        Ok(PickleValue::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<PickleValue, E> {
        Ok(PickleValue::Int(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<PickleValue, E> {
        Ok(PickleValue::Int(v.into()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<PickleValue, E> {
        Ok(PickleValue::Int(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<PickleValue, E> {
        Ok(match i128::try_from(v) {
            Ok(i) => PickleValue::Int(i),
            Err(_) => match BigInt::from_le_bytes(&super::value::u128_to_le(v)) {
                Some(b) => PickleValue::BigInt(b),
                None => PickleValue::Int(0),
            },
        })
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<PickleValue, E> {
        Ok(PickleValue::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<PickleValue, E> {
        Ok(PickleValue::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<PickleValue, E> {
        Ok(PickleValue::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<PickleValue, E> {
        Ok(PickleValue::Bytes(v.to_vec()))
    }
    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<PickleValue, E> {
        Ok(PickleValue::Bytes(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<PickleValue, A::Error> {
        let mut items = Vec::with_capacity(a.size_hint().unwrap_or(0).min(4096));
        while let Some(v) = a.next_element()? {
            items.push(v);
        }
        Ok(PickleValue::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<PickleValue, A::Error> {
        let mut pairs = Vec::with_capacity(a.size_hint().unwrap_or(0).min(4096));
        while let Some(kv) = a.next_entry()? {
            pairs.push(kv);
        }
        Ok(PickleValue::Dict(pairs))
    }
}

impl<'de> serde::Deserialize<'de> for PickleValue {
    /// From the pickle codec, the value exactly as decoded (tuples, sets, frozensets
    /// and big integers keep their kind); from other formats, by their data model
    /// (sequences become lists).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PickleValue, D::Error> {
        d.deserialize_newtype_struct(MAGIC_VALUE, ValueVisitor)
    }
}
