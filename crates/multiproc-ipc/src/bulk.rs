//! Bulk data in typed messages: byte strings and plain-old-data slices that travel
//! as one copy, not one serde call per element.
//!
//! A plain `Vec<u8>` or `Vec<f64>` inside a typed message is a *sequence* to serde:
//! postcard encodes and decodes it one element at a time, a few nanoseconds each,
//! which caps a 1 MiB message far below what the socket carries. The types here
//! serialise their contents as **one byte string** (`serialize_bytes`: postcard
//! writes a length and copies the bytes) and take it back in one go on the other
//! side (`deserialize_byte_buf`):
//!
//! | type | holds | on the wire |
//! |---|---|---|
//! | [`Bytes`] | an owned `Vec<u8>` | exactly as a `Vec<u8>` (length, then the bytes): interchangeable with it |
//! | [`PodVec<T>`] | an owned `Vec<T>`, `T: bytemuck::Pod` (integers, floats, `#[repr(C)]` structs of them) | a byte string of the elements' memory |
//! | [`PodSlice<'_, T>`] | a borrowed `&[T]` (send only) | as [`PodVec<T>`], so a `PodVec<T>` receives it |
//! | [`bytes`] / [`pod`] | field attributes: `#[serde(with = "multiproc_ipc::bulk::pod")]` on a `Vec<T>` field | as [`Bytes`] / [`PodVec`] |
//!
//! ```
//! use multiproc_ipc::{Pipe, bulk::{Bytes, PodSlice, PodVec}};
//! let (a, b) = Pipe::duplex()?;
//! a.send(&Bytes::from(vec![7u8; 1 << 20]))?;
//! assert_eq!(b.recv::<Bytes>()?.len(), 1 << 20);
//!
//! let samples = vec![0.5f64; 1 << 17];
//! a.send(&PodSlice(&samples))?; // no copy into a `Vec` first
//! let got: PodVec<f64> = b.recv()?;
//! assert_eq!(got.into_inner(), samples);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Your own `#[repr(C)]` records travel the same way; derive [`bytemuck::Pod`] (this
//! crate re-exports [`bytemuck`], so no `unsafe impl` and no extra dependency):
//!
//! ```
//! use multiproc_ipc::{Pipe, bulk::PodVec, bytemuck};
//! #[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
//! #[bytemuck(crate = "multiproc_ipc::bytemuck")]
//! #[repr(C)]
//! struct Point { x: f32, y: f32, id: u32, _pad: u32 }
//!
//! let (a, b) = Pipe::duplex()?;
//! let pts = vec![Point { x: 1.0, y: 2.0, id: 3, _pad: 0 }; 1000];
//! a.send(&PodVec::from(pts.clone()))?;
//! assert_eq!(*b.recv::<PodVec<Point>>()?, pts);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Layout rule: same binary, same machine
//! A [`PodVec`] is sent as the elements' bytes **in this machine's byte order and
//! layout**: there is no per-element conversion, which is what makes it fast. Within
//! multiproc's model that is always right: both ends are the same program on the same
//! machine. A peer built differently (another architecture, another byte order, a
//! struct with another layout) or a CPython peer would read garbage, so keep
//! `PodVec` to connections between your own processes, and send plain sequences (or
//! your own explicit format) across hosts. [`Bytes`] has no such rule: bytes are bytes.
//!
//! Alignment is never assumed on receipt: the bytes are copied into a fresh,
//! properly aligned `Vec<T>`. A byte string whose length is not a multiple of
//! `size_of::<T>()` is refused as a decode error, never cut or padded.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use bytemuck::Pod;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// An owned byte string that serialises as one byte string, not element by element.
///
/// On the wire it is exactly a `Vec<u8>` (postcard writes both as a length and the
/// bytes), so a `Bytes` sent can be received as a `Vec<u8>` and the other way round;
/// only the speed differs. It dereferences to `Vec<u8>`.
///
/// ```
/// use multiproc_ipc::{Pipe, bulk::Bytes};
/// let (a, b) = Pipe::duplex()?;
/// a.send(&Bytes::from(b"payload".to_vec()))?;
/// let got: Bytes = b.recv()?;
/// assert_eq!(&got[..], b"payload");
/// // The same bytes on the wire as a plain `Vec<u8>`:
/// a.send(&Bytes::from(vec![1, 2, 3]))?;
/// assert_eq!(b.recv::<Vec<u8>>()?, [1, 2, 3]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bytes(pub Vec<u8>);

impl Bytes {
    /// Wraps `v` (no copy).
    ///
    /// ```
    /// use multiproc_ipc::{Bytes, decode, encode};
    /// let (buf, fds) = encode(&Bytes::new(vec![1, 2, 3]))?;
    /// assert_eq!(decode::<Bytes>(&buf, fds)?.into_inner(), [1, 2, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(v: Vec<u8>) -> Self {
        Bytes(v)
    }

    /// The bytes, unwrapped (no copy).
    ///
    /// ```
    /// use multiproc_ipc::Bytes;
    /// assert_eq!(Bytes::new(vec![7]).into_inner(), [7]);
    /// ```
    pub fn into_inner(self) -> Vec<u8> {
        self.0
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bytes({} bytes)", self.0.len())
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Self {
        Bytes(v)
    }
}

impl From<&[u8]> for Bytes {
    fn from(v: &[u8]) -> Self {
        Bytes(v.to_vec())
    }
}

impl From<Bytes> for Vec<u8> {
    fn from(b: Bytes) -> Self {
        b.0
    }
}

impl Deref for Bytes {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl DerefMut for Bytes {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_byte_buf(PodVisitor::<u8>(PhantomData))
            .map(Bytes)
    }
}

/// An owned `Vec<T>` of plain-old-data that serialises as one byte string: the
/// elements' memory, copied once (see the [module docs](self) for the layout rule).
///
/// `T` is any [`bytemuck::Pod`] type: the integers and floats, arrays of them, and
/// `#[repr(C)]` structs of them that derive `Pod`. It dereferences to `Vec<T>`.
///
/// ```
/// use multiproc_ipc::{Pipe, bulk::PodVec};
/// let (a, b) = Pipe::duplex()?;
/// a.send(&PodVec::from(vec![1.5f64, -2.0, 3.25]))?;
/// let v: PodVec<f64> = b.recv()?;
/// assert_eq!(*v, [1.5, -2.0, 3.25]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default, PartialEq)]
pub struct PodVec<T: Pod>(pub Vec<T>);

impl<T: Pod> PodVec<T> {
    /// Wraps `v` (no copy).
    ///
    /// ```
    /// use multiproc_ipc::{PodVec, decode, encode};
    /// let (buf, fds) = encode(&PodVec::new(vec![1.5_f64, 2.5]))?;
    /// assert_eq!(decode::<PodVec<f64>>(&buf, fds)?.into_inner(), [1.5, 2.5]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(v: Vec<T>) -> Self {
        PodVec(v)
    }

    /// The elements, unwrapped (no copy).
    ///
    /// ```
    /// use multiproc_ipc::PodVec;
    /// assert_eq!(PodVec::new(vec![1_u32, 2]).into_inner(), [1, 2]);
    /// ```
    pub fn into_inner(self) -> Vec<T> {
        self.0
    }
}

impl<T: Pod> fmt::Debug for PodVec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PodVec<{}>({} elements)",
            std::any::type_name::<T>(),
            self.0.len()
        )
    }
}

impl<T: Pod> From<Vec<T>> for PodVec<T> {
    fn from(v: Vec<T>) -> Self {
        PodVec(v)
    }
}

impl<T: Pod> From<PodVec<T>> for Vec<T> {
    fn from(v: PodVec<T>) -> Self {
        v.0
    }
}

impl<T: Pod> Deref for PodVec<T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<T: Pod> DerefMut for PodVec<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        &mut self.0
    }
}

impl<T: Pod> Serialize for PodVec<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        pod_bytes(&self.0, s)
    }
}

/// Serialises `v` as one byte string of its memory. Elements of size zero have no
/// bytes to carry their count, so a non-empty slice of them is refused rather than
/// received empty.
fn pod_bytes<T: Pod, S: Serializer>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
    if std::mem::size_of::<T>() == 0 && !v.is_empty() {
        use serde::ser::Error as _;
        let msg = "a non-empty slice of a zero-sized type has no bytes to send";
        crate::handle::note_custom_error(msg);
        return Err(S::Error::custom(msg));
    }
    s.serialize_bytes(bytemuck::cast_slice(v))
}

impl<'de, T: Pod> Deserialize<'de> for PodVec<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_byte_buf(PodVisitor::<T>(PhantomData))
            .map(PodVec)
    }
}

/// A borrowed slice of plain-old-data, sent as one byte string without copying it
/// into a `Vec` first; received as a [`PodVec<T>`] (or, for `T = u8`, a [`Bytes`] or a
/// `Vec<u8>`). Send only: a received value owns its memory.
///
/// ```
/// use multiproc_ipc::{Pipe, bulk::{PodSlice, PodVec}};
/// let (a, b) = Pipe::duplex()?;
/// let big = vec![3u32; 1 << 16];
/// a.send(&(7u8, PodSlice(&big[..10])))?;
/// let (tag, v): (u8, PodVec<u32>) = b.recv()?;
/// assert_eq!((tag, v.len()), (7, 10));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy)]
pub struct PodSlice<'a, T: Pod>(pub &'a [T]);

impl<T: Pod> fmt::Debug for PodSlice<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PodSlice<{}>({} elements)",
            std::any::type_name::<T>(),
            self.0.len()
        )
    }
}

impl<T: Pod> Serialize for PodSlice<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        pod_bytes(self.0, s)
    }
}

/// A decode error whose text survives postcard (see [`crate::handle::note_custom_error`]).
fn refuse<E: de::Error>(msg: impl fmt::Display) -> E {
    let msg = msg.to_string();
    crate::handle::note_custom_error(&msg);
    E::custom(msg)
}

/// Takes a byte string (or, from a deserializer that has none, a sequence of bytes)
/// into a `Vec<T>`.
struct PodVisitor<T>(PhantomData<T>);

impl<T: Pod> PodVisitor<T> {
    fn from_bytes<E: de::Error>(v: &[u8]) -> Result<Vec<T>, E> {
        let size = std::mem::size_of::<T>();
        if size == 0 {
            return if v.is_empty() {
                Ok(Vec::new())
            } else {
                Err(refuse("bytes for a zero-sized element type"))
            };
        }
        if v.len() % size != 0 {
            return Err(refuse(format_args!(
                "{} bytes are not a whole number of {size}-byte {}",
                v.len(),
                std::any::type_name::<T>()
            )));
        }
        if size == 1 && std::mem::align_of::<T>() == 1 {
            // One pass (`malloc` + `memcpy`), no zero-fill first.
            return bytemuck::allocation::try_cast_vec(v.to_vec()).map_err(|(e, _)| refuse(e));
        }
        let mut out: Vec<T> = bytemuck::zeroed_vec(v.len() / size);
        bytemuck::cast_slice_mut::<T, u8>(&mut out).copy_from_slice(v);
        Ok(out)
    }
}

impl<'de, T: Pod> Visitor<'de> for PodVisitor<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a byte string of {}", std::any::type_name::<T>())
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<T>, E> {
        Self::from_bytes(v)
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Vec<T>, E> {
        if std::mem::size_of::<T>() == 1 && std::mem::align_of::<T>() == 1 {
            // `Vec<u8>` is already a `Vec<T>`'s memory: no copy.
            return bytemuck::allocation::try_cast_vec(v).map_err(|(e, _)| refuse(e));
        }
        Self::from_bytes(&v)
    }

    /// A deserializer without byte strings (self-describing formats such as JSON)
    /// hands over a sequence of numbers; only for `u8`-sized elements.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
        while let Some(b) = seq.next_element::<u8>()? {
            bytes.push(b);
        }
        Self::from_bytes(&bytes)
    }
}

/// `#[serde(with = "multiproc_ipc::bulk::bytes")]` on a `Vec<u8>` field: the field
/// travels as [`Bytes`] does (same wire format as without the attribute, faster).
///
/// ```
/// use serde::{Deserialize, Serialize};
/// #[derive(Serialize, Deserialize, PartialEq, Debug)]
/// struct Frame {
///     id: u32,
///     #[serde(with = "multiproc_ipc::bulk::bytes")]
///     data: Vec<u8>,
/// }
/// let (a, b) = multiproc_ipc::Pipe::duplex()?;
/// a.send(&Frame { id: 1, data: vec![9; 4096] })?;
/// assert_eq!(b.recv::<Frame>()?.data.len(), 4096);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub mod bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialises `v` as one byte string.
    ///
    /// # Errors
    /// Those of the serializer.
    ///
    /// ```
    /// #[derive(serde::Serialize)]
    /// struct Out<'a> {
    ///     #[serde(serialize_with = "multiproc_ipc::bulk::bytes::serialize")]
    ///     data: &'a [u8],
    /// }
    /// let (a, b) = multiproc_ipc::Pipe::duplex()?;
    /// a.send(&Out { data: b"abc" })?;
    /// assert_eq!(b.recv::<multiproc_ipc::Bytes>()?.into_inner(), b"abc"); // one byte string
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    /// Takes a byte string back in one go.
    ///
    /// # Errors
    /// The input is not a byte string.
    ///
    /// ```
    /// #[derive(serde::Deserialize)]
    /// struct In {
    ///     #[serde(deserialize_with = "multiproc_ipc::bulk::bytes::deserialize")]
    ///     data: Vec<u8>,
    /// }
    /// let (a, b) = multiproc_ipc::Pipe::duplex()?;
    /// a.send(&(multiproc_ipc::Bytes::new(vec![1, 2]),))?;
    /// assert_eq!(b.recv::<In>()?.data, [1, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        super::Bytes::deserialize(d).map(super::Bytes::into_inner)
    }
}

/// `#[serde(with = "multiproc_ipc::bulk::pod")]` on a `Vec<T>` field with
/// `T: bytemuck::Pod`: the field travels as [`PodVec<T>`] does.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// #[derive(Serialize, Deserialize, PartialEq, Debug)]
/// struct Samples {
///     rate: u32,
///     #[serde(with = "multiproc_ipc::bulk::pod")]
///     values: Vec<f32>,
/// }
/// let (a, b) = multiproc_ipc::Pipe::duplex()?;
/// let s = Samples { rate: 48_000, values: vec![0.25; 48_000] };
/// a.send(&s)?;
/// assert_eq!(b.recv::<Samples>()?, s);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub mod pod {
    use bytemuck::Pod;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialises `v` as one byte string of the elements' memory.
    ///
    /// # Errors
    /// Those of the serializer; a non-empty slice of a zero-sized type.
    ///
    /// ```
    /// #[derive(serde::Serialize)]
    /// struct Out<'a> {
    ///     #[serde(serialize_with = "multiproc_ipc::bulk::pod::serialize")]
    ///     values: &'a [u16],
    /// }
    /// let (a, b) = multiproc_ipc::Pipe::duplex()?;
    /// a.send(&Out { values: &[1, 2, 3] })?;
    /// assert_eq!(b.recv::<(multiproc_ipc::PodVec<u16>,)>()?.0.into_inner(), [1, 2, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn serialize<T: Pod, S: Serializer>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
        super::pod_bytes(v, s)
    }

    /// Takes a byte string back in one go.
    ///
    /// # Errors
    /// The input is not a byte string, or not a whole number of `T`.
    ///
    /// ```
    /// #[derive(serde::Deserialize)]
    /// struct In {
    ///     #[serde(deserialize_with = "multiproc_ipc::bulk::pod::deserialize")]
    ///     values: Vec<f32>,
    /// }
    /// let (a, b) = multiproc_ipc::Pipe::duplex()?;
    /// a.send(&(multiproc_ipc::PodVec::new(vec![0.5_f32]),))?;
    /// assert_eq!(b.recv::<In>()?.values, [0.5]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn deserialize<'de, T: Pod, D: Deserializer<'de>>(d: D) -> Result<Vec<T>, D::Error> {
        super::PodVec::<T>::deserialize(d).map(super::PodVec::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decode, encode};

    #[test]
    fn bytes_and_vec_u8_share_a_wire_format() {
        let v: Vec<u8> = (0..=255).collect();
        let (fast, _) = encode(&Bytes(v.clone())).unwrap();
        let (plain, _) = encode(&v).unwrap();
        assert_eq!(fast, plain);
        assert_eq!(decode::<Bytes>(&plain, Vec::new()).unwrap().0, v);
    }

    #[test]
    fn pod_bytes_of_the_wrong_length_are_refused() {
        let (b, _) = encode(&Bytes(vec![0; 7])).unwrap();
        let e = decode::<PodVec<u32>>(&b, Vec::new()).unwrap_err();
        assert!(e.to_string().contains("7 bytes"), "{e}");
    }

    #[test]
    fn zero_sized_elements_are_refused_not_lost() {
        let e = encode(&PodVec(vec![(); 3])).unwrap_err();
        assert!(e.to_string().contains("zero-sized"), "{e}");
        let (b, _) = encode(&PodVec(Vec::<()>::new())).unwrap();
        assert!(decode::<PodVec<()>>(&b, Vec::new()).unwrap().is_empty());
    }

    #[test]
    fn pod_through_a_self_describing_sequence() {
        // `visit_seq`: what a format without byte strings would hand over.
        use serde::de::value::{Error, SeqDeserializer};
        let d = SeqDeserializer::<_, Error>::new([1u8, 0, 2, 0].into_iter());
        let v: PodVec<u16> = PodVec::deserialize(d).unwrap();
        assert_eq!(*v, [u16::from_ne_bytes([1, 0]), u16::from_ne_bytes([2, 0])]);
    }
}
