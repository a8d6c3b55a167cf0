//! Which types may live in shared memory: `bytemuck`'s traits, so that a record
//! derives them (`#[derive(Pod, Zeroable)]`) and user code never writes `unsafe impl`.

use std::any::TypeId;

use multiproc_ipc::bytemuck::{self, CheckedBitPattern, NoUninit, Zeroable};

/// Plain old data: every bit pattern of `size_of::<Self>()` bytes is a valid value, no
/// padding, no pointers, no drop glue — [`bytemuck::Pod`], re-exported. Such values can
/// be copied to and from memory that other processes write without undefined
/// behaviour.
///
/// The integer and floating-point types and arrays of them are `Pod`. Derive it (with
/// [`Zeroable`](crate::Zeroable)) for your own `#[repr(C)]` structs of `Pod` fields,
/// through the re-exported [`bytemuck`](crate::bytemuck) — no `unsafe` needed; the
/// derive refuses padding and non-`Pod` fields at compile time:
///
/// ```
/// use multiproc_shared::{Pod, Value, Zeroable};
///
/// #[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
/// #[bytemuck(crate = "multiproc_shared::bytemuck")]
/// #[repr(C)]
/// struct Point { x: f64, y: f64 }
///
/// let p = Value::new(Point { x: 1.0, y: 2.0 })?;
/// assert_eq!(p.get().y, 2.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Types whose alignment is above a page (4096 bytes) are refused at compile time
/// when shared.
pub use bytemuck::Pod;

/// A type that can be stored in a [`Value`](crate::Value) or [`Array`](crate::Array):
/// every [`Pod`] type (stored as itself), and the types `bytemuck` can check after a
/// copy ([`bytemuck::CheckedBitPattern`]: `bool`, `char`, and records deriving it).
/// Another process can write any bytes, so reading never trusts them: `bool` reads
/// any non-zero byte as `true` (as before), and a bit pattern that is no value of
/// another checked type reads as its zero value ([`Zeroable`](crate::Zeroable)).
/// Implemented for every such type; nothing to implement by hand.
///
/// ```
/// use multiproc_shared::{Array, Shareable, Value};
///
/// fn shared_copy<T: Shareable>(v: T) -> Result<Value<T>, multiproc_shared::CreateError> {
///     Value::new(v)
/// }
/// assert!(shared_copy(true)?.get());
/// assert_eq!(shared_copy([1u16, 2])?.get(), [1, 2]);
/// assert_eq!(shared_copy('é')?.get(), 'é');
/// let flags = Array::from_slice(&[false, true])?;
/// assert_eq!(flags.to_vec(), [false, true]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Shareable: Copy + Send + Sync + 'static {
    /// How it is stored.
    type Repr: Pod + Send + Sync;
    /// To its stored form.
    fn to_repr(self) -> Self::Repr;
    /// From its stored form (any bit pattern).
    fn from_repr(r: Self::Repr) -> Self;
}

impl<T> Shareable for T
where
    T: NoUninit + CheckedBitPattern + Zeroable + Send + Sync,
    T::Bits: Pod + Send + Sync,
{
    type Repr = T::Bits;

    #[inline]
    fn to_repr(self) -> T::Bits {
        // Same size (`CheckedBitPattern`'s contract) and `T` has no uninit bytes: the
        // cast cannot fail; the fallback is never taken.
        bytemuck::try_cast(self).unwrap_or_else(|_| T::Bits::zeroed())
    }

    #[inline]
    fn from_repr(r: T::Bits) -> T {
        match bytemuck::checked::try_cast::<T::Bits, T>(r) {
            Ok(v) => v,
            // Only 0 is `false`: any other byte is `true`.
            Err(_) if TypeId::of::<T>() == TypeId::of::<bool>() => {
                bytemuck::checked::try_cast::<u8, T>(1).unwrap_or_else(|_| T::zeroed())
            }
            Err(_) => T::zeroed(),
        }
    }
}
