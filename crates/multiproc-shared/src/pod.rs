//! Which types may live in shared memory.

/// Plain old data: a type for which **every** bit pattern of `size_of::<Self>()` bytes is
/// a valid value, with no pointers, references or drop glue. Such values can be copied
/// to and from memory that other processes write without undefined behaviour.
///
/// Implemented for the integer and floating-point types and for arrays of `Pod`.
/// Implement it for your own `#[repr(C)]` structs whose fields are all `Pod`:
///
/// ```
/// use multiproc_shared::{Pod, Value};
/// #[derive(Clone, Copy, Debug, PartialEq)]
/// #[repr(C)]
/// struct Point { x: f64, y: f64 }
/// // SAFETY: repr(C), every field is Pod, no padding-dependent invariant.
/// unsafe impl Pod for Point {}
///
/// let p = Value::new(Point { x: 1.0, y: 2.0 })?;
/// assert_eq!(p.get().y, 2.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Safety
/// Every bit pattern must be a valid `Self` (so no `bool`, `char`, enums, references,
/// `NonZero*`, or types containing them), `Self` must not contain pointers that would be
/// meaningless in another process, and its alignment must be at most 4096.
pub unsafe trait Pod: Copy + Send + Sync + 'static {}

macro_rules! pod {
    ($($t:ty),*) => { $(
        // SAFETY: primitive numeric type: every bit pattern is a valid value.
        unsafe impl Pod for $t {}
    )* };
}
pod!(
    i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, f32, f64
);

// SAFETY: an array of Pod is Pod (no padding between elements, each element valid for
// every bit pattern).
unsafe impl<T: Pod, const N: usize> Pod for [T; N] {}

/// A type that can be stored in a [`Value`](crate::Value) or [`Array`](crate::Array):
/// every [`Pod`] type (stored as itself), and `bool` (stored as a byte, any non-zero
/// byte reading as `true`, so another process cannot make us read an invalid `bool`).
///
/// ```
/// use multiproc_shared::{Array, Shareable, Value};
///
/// fn shared_copy<T: Shareable>(v: T) -> Result<Value<T>, multiproc_shared::CreateError> {
///     Value::new(v)
/// }
/// assert!(shared_copy(true)?.get());
/// assert_eq!(shared_copy([1u16, 2])?.get(), [1, 2]);
/// let flags = Array::from_slice(&[false, true])?;
/// assert_eq!(flags.to_vec(), [false, true]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Shareable: Copy + Send + Sync + 'static {
    /// How it is stored.
    type Repr: Pod;
    /// To its stored form.
    fn to_repr(self) -> Self::Repr;
    /// From its stored form (any bit pattern).
    fn from_repr(r: Self::Repr) -> Self;
}

impl<T: Pod> Shareable for T {
    type Repr = T;
    #[inline]
    fn to_repr(self) -> T {
        self
    }
    #[inline]
    fn from_repr(r: T) -> T {
        r
    }
}

impl Shareable for bool {
    type Repr = u8;
    #[inline]
    fn to_repr(self) -> u8 {
        u8::from(self)
    }
    #[inline]
    fn from_repr(r: u8) -> bool {
        r != 0
    }
}
