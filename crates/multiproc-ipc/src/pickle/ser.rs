//! The encoder: a serde `Serializer` that writes protocol-4 pickle opcodes.
//!
//! Mapping: unit and `None` → `None`; integers → `BININT1/2`, `BININT` or `LONG1`;
//! floats → `BINFLOAT`; `char` and strings → `str`; byte slices (`serialize_bytes`,
//! e.g. via `serde_bytes`) → `bytes`; sequences → `list`; tuples and tuple structs →
//! `tuple`; maps and structs → `dict` (struct fields as `str` keys); enums as serde_json
//! writes them (`"Variant"` or `{"Variant": value}`).

use serde::ser::{self, Serialize};

use super::error::PickleError;
use super::value::{i128_to_le, u128_to_le};
use super::{MAGIC_BIGINT, MAGIC_FROZENSET, MAGIC_SET};

/// What a magic newtype asked the next container or byte string to be.
#[derive(Clone, Copy, PartialEq)]
enum Pending {
    Nothing,
    Set,
    FrozenSet,
    BigInt,
}

pub(crate) struct Encoder {
    pub(crate) out: Vec<u8>,
    depth: usize,
    max_depth: usize,
    pending: Pending,
}

impl Encoder {
    pub(crate) fn new(max_depth: usize) -> Self {
        Encoder {
            out: vec![0x80, 4], // PROTO 4
            depth: 0,
            max_depth,
            pending: Pending::Nothing,
        }
    }

    fn enter(&mut self) -> Result<(), PickleError> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(PickleError::TooDeep {
                limit: self.max_depth,
            });
        }
        Ok(())
    }

    fn take_pending(&mut self) -> Pending {
        std::mem::replace(&mut self.pending, Pending::Nothing)
    }

    fn int(&mut self, v: i128) {
        if (0..=0xff).contains(&v) {
            self.out.extend_from_slice(&[b'K', v as u8]);
        } else if (0..=0xffff).contains(&v) {
            self.out.push(b'M');
            self.out.extend_from_slice(&(v as u16).to_le_bytes());
        } else if let Ok(i) = i32::try_from(v) {
            self.out.push(b'J');
            self.out.extend_from_slice(&i.to_le_bytes());
        } else {
            self.long(&i128_to_le(v));
        }
    }

    fn long(&mut self, le: &[u8]) {
        if let Ok(n) = u8::try_from(le.len()) {
            self.out.extend_from_slice(&[0x8a, n]);
        } else {
            self.out.push(0x8b);
            // a Python int of 2**31 bytes cannot come from a Rust value
            self.out.extend_from_slice(&(le.len() as u32).to_le_bytes());
        }
        self.out.extend_from_slice(le);
    }

    fn str(&mut self, s: &str) {
        self.counted([0x8c, b'X', 0x8d], s.as_bytes());
    }

    fn bytes(&mut self, b: &[u8]) {
        self.counted([b'C', b'B', 0x8e], b);
    }

    /// `data` after the shortest of its opcodes that holds its length: `short` (one
    /// byte), `long4` (four) or `long8` (eight), lengths little-endian.
    fn counted(&mut self, [short, long4, long8]: [u8; 3], data: &[u8]) {
        let n = data.len();
        if let Ok(n) = u8::try_from(n) {
            self.out.extend_from_slice(&[short, n]);
        } else if let Ok(n) = u32::try_from(n) {
            self.out.push(long4);
            self.out.extend_from_slice(&n.to_le_bytes());
        } else {
            self.out.push(long8);
            self.out.extend_from_slice(&(n as u64).to_le_bytes());
        }
        self.out.extend_from_slice(data);
    }

    /// `{variant: <container>}`: the dict and the variant's name written, the container
    /// opened with `open`; the compound closes both with `close`. The dict counts as
    /// one level of nesting while it is checked, the container as the one that stays.
    fn variant_compound<'a>(
        &'a mut self,
        variant: &'static str,
        open: &[u8],
        close: &'static [u8],
    ) -> Result<Compound<'a>, PickleError> {
        self.enter()?;
        self.enter()?;
        self.out.push(b'}');
        self.str(variant);
        self.out.extend_from_slice(open);
        self.depth -= 1;
        Ok(Compound { enc: self, close })
    }
}

/// A container being written: what closes it.
pub(crate) struct Compound<'a> {
    enc: &'a mut Encoder,
    close: &'static [u8],
}

impl Compound<'_> {
    fn end(self) -> Result<(), PickleError> {
        self.enc.out.extend_from_slice(self.close);
        self.enc.depth -= 1;
        Ok(())
    }
}

type R = Result<(), PickleError>;

/// The integer methods that fit an `i128`: each writes the smallest int opcode.
macro_rules! ints {
    ($($method:ident: $ty:ty),+ $(,)?) => {$(
        fn $method(self, v: $ty) -> R {
            self.int(v.into());
            Ok(())
        }
    )+};
}

/// The enum variants with several fields, `{"Variant": <container>}`: the container's
/// opening and closing opcodes.
macro_rules! variants {
    ($($method:ident => $open:literal, $close:literal;)+) => {$(
        fn $method(
            self,
            _n: &'static str,
            _i: u32,
            variant: &'static str,
            _len: usize,
        ) -> Result<Compound<'a>, PickleError> {
            self.variant_compound(variant, $open, $close)
        }
    )+};
}

impl<'a> ser::Serializer for &'a mut Encoder {
    type Ok = ();
    type Error = PickleError;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, v: bool) -> R {
        self.out.push(if v { 0x88 } else { 0x89 });
        Ok(())
    }
    ints!(
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_i128: i128,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64,
    );
    fn serialize_u128(self, v: u128) -> R {
        match i128::try_from(v) {
            Ok(i) => self.int(i),
            Err(_) => self.long(&u128_to_le(v)),
        }
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> R {
        self.serialize_f64(v.into())
    }
    fn serialize_f64(self, v: f64) -> R {
        self.out.push(b'G');
        self.out.extend_from_slice(&v.to_be_bytes());
        Ok(())
    }
    fn serialize_char(self, v: char) -> R {
        self.str(v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> R {
        self.str(v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> R {
        if self.take_pending() == Pending::BigInt && !v.is_empty() {
            self.long(v);
        } else {
            self.bytes(v);
        }
        Ok(())
    }
    fn serialize_none(self) -> R {
        self.out.push(b'N');
        Ok(())
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> R {
        value.serialize(self)
    }
    fn serialize_unit(self) -> R {
        self.serialize_none()
    }
    fn serialize_unit_struct(self, _name: &'static str) -> R {
        self.serialize_none()
    }
    fn serialize_unit_variant(self, _n: &'static str, _i: u32, variant: &'static str) -> R {
        self.str(variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, name: &'static str, value: &T) -> R {
        self.pending = match name {
            MAGIC_SET => Pending::Set,
            MAGIC_FROZENSET => Pending::FrozenSet,
            MAGIC_BIGINT => Pending::BigInt,
            _ => Pending::Nothing,
        };
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _n: &'static str,
        _i: u32,
        variant: &'static str,
        value: &T,
    ) -> R {
        self.enter()?;
        self.out.push(b'}');
        self.str(variant);
        value.serialize(&mut *self)?;
        self.out.push(b's');
        self.depth -= 1;
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'a>, PickleError> {
        self.enter()?;
        let (open, close): (&[u8], &'static [u8]) = match self.take_pending() {
            Pending::Set => (&[0x8f, b'('], &[0x90]),
            Pending::FrozenSet => (b"(", &[0x91]),
            _ => (b"](", b"e"),
        };
        self.out.extend_from_slice(open);
        Ok(Compound { enc: self, close })
    }
    fn serialize_tuple(self, _len: usize) -> Result<Compound<'a>, PickleError> {
        self.take_pending();
        self.enter()?;
        self.out.push(b'(');
        Ok(Compound {
            enc: self,
            close: b"t",
        })
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, PickleError> {
        self.serialize_tuple(len)
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'a>, PickleError> {
        self.take_pending();
        self.enter()?;
        self.out.extend_from_slice(b"}(");
        Ok(Compound {
            enc: self,
            close: b"u",
        })
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, PickleError> {
        self.serialize_map(None)
    }
    variants!(
        serialize_tuple_variant => b"(", b"ts";
        serialize_struct_variant => b"}(", b"us";
    );
}

/// The sequence-like compounds: each element is written in turn, the compound's closing
/// opcodes at the end (`Compound::end`).
macro_rules! element_compound {
    ($($trait:ident :: $method:ident),+ $(,)?) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = PickleError;
            fn $method<T: ?Sized + Serialize>(&mut self, value: &T) -> R {
                value.serialize(&mut *self.enc)
            }
            fn end(self) -> R {
                Compound::end(self)
            }
        }
    )+};
}

element_compound!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
);

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = PickleError;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> R {
        key.serialize(&mut *self.enc)
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> R {
        value.serialize(&mut *self.enc)
    }
    fn end(self) -> R {
        Compound::end(self)
    }
}

/// The named-field compounds: each field is written as its name then its value (a dict
/// entry), the compound's closing opcodes at the end.
macro_rules! field_compound {
    ($($trait:ident),+ $(,)?) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = PickleError;
            fn serialize_field<T: ?Sized + Serialize>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> R {
                self.enc.str(key);
                value.serialize(&mut *self.enc)
            }
            fn end(self) -> R {
                Compound::end(self)
            }
        }
    )+};
}

field_compound!(SerializeStruct, SerializeStructVariant);
