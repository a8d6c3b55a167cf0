//! Typed, bounds-checked copies in and out of a shared segment: the only `unsafe` of
//! the `Value`/`Array` side of the crate.
//!
//! Cross-process invariant: the segment is a memfd mapped `MAP_SHARED` by every process
//! holding a handle; it starts page-aligned and zero-filled; its length is at least
//! `len * size_of::<R>()` (checked at construction and at deserialization, from the
//! kernel's size of the file, never from the segment's content). Any process may write
//! any element at any time: we never hand out references into the segment, only copy
//! values of `Pod` types (valid for every bit pattern) in and out. Unsynchronised
//! concurrent accesses may observe torn values (see the crate docs); that is a logic
//! race, not a memory-safety one, for `Pod` data.

#![expect(
    unsafe_code,
    reason = "typed copies in and out of a shared mapping are raw-pointer reads and writes"
)]

use std::any::TypeId;
use std::marker::PhantomData;

use multiproc_ipc::{SegmentError, SharedSegment};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::pod::{Pod, Shareable};

/// `len` elements of `R` at offset 0 of a segment.
pub(crate) struct Cells<R: Pod> {
    seg: SharedSegment,
    len: usize,
    _r: PhantomData<R>,
}

impl<R: Pod> Clone for Cells<R> {
    fn clone(&self) -> Self {
        Cells {
            seg: self.seg.clone(),
            len: self.len,
            _r: PhantomData,
        }
    }
}

impl<R: Pod> std::fmt::Debug for Cells<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cells")
            .field("addr", &self.seg.as_ptr())
            .field("len", &self.len)
            .finish()
    }
}

fn bytes_for<R>(len: usize) -> Option<usize> {
    len.checked_mul(size_of::<R>()).map(|b| b.max(1))
}

impl<R: Pod> Cells<R> {
    const ALIGN_OK: () = assert!(align_of::<R>() <= 4096, "alignment above a page");

    /// `len` zeroed elements (zero is a valid `R`: every bit pattern is).
    pub(crate) fn zeroed(len: usize) -> Result<Self, SegmentError> {
        let () = Self::ALIGN_OK;
        let bytes = bytes_for::<R>(len).ok_or(SegmentError::ZeroLength)?;
        let seg = SharedSegment::with_name("multiproc-shared", bytes)?;
        Ok(Cells {
            seg,
            len,
            _r: PhantomData,
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn ptr(&self) -> *mut R {
        self.seg.as_ptr().cast::<R>()
    }

    /// Element `i` (`None` out of bounds).
    #[inline]
    pub(crate) fn read(&self, i: usize) -> Option<R> {
        (i < self.len).then(|| {
            // SAFETY:
            // - in bounds: `i < len` and the mapping holds `len` elements;
            // - aligned: page-aligned base, `R`'s alignment <= 4096, offset a multiple
            //   of `size_of::<R>()`;
            // - valid: every bit pattern is an `R` (`Pod`), whoever wrote it;
            // - volatile: another process may write it concurrently; the mapping lives
            //   as long as `self.seg`.
            unsafe { self.ptr().add(i).read_volatile() }
        })
    }

    /// Writes element `i`; `false` out of bounds.
    #[inline]
    pub(crate) fn write(&self, i: usize, v: R) -> bool {
        if i >= self.len {
            return false;
        }
        // SAFETY: as in `read`; the segment is writable (MAP_SHARED, PROT_WRITE) and
        // no reference into it exists, so the write aliases nothing.
        unsafe { self.ptr().add(i).write_volatile(v) };
        true
    }

    /// Copies `src` to elements `start..start + src.len()`; `false` if out of bounds.
    pub(crate) fn write_slice(&self, start: usize, src: &[R]) -> bool {
        if start
            .checked_add(src.len())
            .is_none_or(|end| end > self.len)
        {
            return false;
        }
        // SAFETY:
        // - bounds checked above; alignment as in `read`;
        // - `src` is ordinary process memory, the destination is the shared mapping:
        //   they cannot overlap;
        // - no reference into the mapping exists; concurrent writers can only tear
        //   values of a `Pod` type.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.ptr().add(start), src.len()) };
        true
    }

    /// Copies elements `start..start + dst.len()` into `dst`; `false` if out of bounds.
    pub(crate) fn read_slice(&self, start: usize, dst: &mut [R]) -> bool {
        if start
            .checked_add(dst.len())
            .is_none_or(|end| end > self.len)
        {
            return false;
        }
        // SAFETY: as in `write_slice`, the other way round; the bytes copied are a
        // valid `R` whatever they are (`Pod`).
        unsafe {
            std::ptr::copy_nonoverlapping(self.ptr().add(start), dst.as_mut_ptr(), dst.len())
        };
        true
    }

    pub(crate) fn ptr_eq(&self, other: &Self) -> bool {
        self.seg.ptr_eq(&other.seg)
    }
}

/// The all-zero `R`.
pub(crate) fn zero<R: Pod>() -> R {
    R::zeroed()
}

/// `s` viewed as its storage type, when the storage type is `T` itself (every `Pod`).
pub(crate) fn as_repr<T: Shareable>(s: &[T]) -> Option<&[T::Repr]> {
    (TypeId::of::<T>() == TypeId::of::<T::Repr>()).then(|| {
        // SAFETY: `T` and `T::Repr` are the same type (equal `TypeId`s), so the slice
        // is reinterpreted as itself.
        unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<T::Repr>(), s.len()) }
    })
}

/// Mutable counterpart of [`as_repr`].
pub(crate) fn as_repr_mut<T: Shareable>(s: &mut [T]) -> Option<&mut [T::Repr]> {
    (TypeId::of::<T>() == TypeId::of::<T::Repr>()).then(|| {
        // SAFETY: same type, as in `as_repr`; the borrow of `s` is moved into the result.
        unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast::<T::Repr>(), s.len()) }
    })
}

impl<R: Pod> Serialize for Cells<R> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (&self.seg, self.len as u64).serialize(s)
    }
}

impl<'de, R: Pod> Deserialize<'de> for Cells<R> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let (seg, len): (SharedSegment, u64) = Deserialize::deserialize(d)?;
        let len = usize::try_from(len).map_err(D::Error::custom)?;
        let need = bytes_for::<R>(len).ok_or_else(|| D::Error::custom("length overflows"))?;
        if seg.len() < need {
            return Err(D::Error::custom(format!(
                "shared segment has {} bytes, {len} elements need {need}",
                seg.len()
            )));
        }
        Ok(Cells {
            seg,
            len,
            _r: PhantomData,
        })
    }
}

/// A `MAP_SHARED` mapping of a named block: byte copies in and out.
///
/// Cross-process invariant: any process that opened the block by name may write any
/// byte at any time; we only copy bytes (valid for every pattern) and never create
/// references into the mapping, except through the `unsafe` accessors whose callers
/// take over that obligation.
pub(crate) struct Bytes {
    map: memmap2::MmapRaw,
}

impl Bytes {
    pub(crate) fn map(file: &std::fs::File, len: usize) -> std::io::Result<Bytes> {
        Ok(Bytes {
            map: memmap2::MmapOptions::new().len(len).map_raw(file)?,
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.map.as_mut_ptr()
    }

    /// Copies `dst.len()` bytes from `offset`; `false` if out of bounds.
    pub(crate) fn read_at(&self, offset: usize, dst: &mut [u8]) -> bool {
        if offset.checked_add(dst.len()).is_none_or(|e| e > self.len()) {
            return false;
        }
        // SAFETY:
        // - bounds checked above against the mapping's length;
        // - `dst` is private memory, the source is the mapping: no overlap;
        // - bytes are valid whatever another process wrote.
        unsafe {
            std::ptr::copy_nonoverlapping(self.as_ptr().add(offset), dst.as_mut_ptr(), dst.len())
        };
        true
    }

    /// Copies `src` to `offset`; `false` if out of bounds.
    pub(crate) fn write_at(&self, offset: usize, src: &[u8]) -> bool {
        if offset.checked_add(src.len()).is_none_or(|e| e > self.len()) {
            return false;
        }
        // SAFETY: as in `read_at`; the mapping is writable and no reference into it
        // exists in safe code.
        unsafe {
            std::ptr::copy_nonoverlapping(src.as_ptr(), self.as_ptr().add(offset), src.len())
        };
        true
    }

    /// The mapping as a byte slice.
    ///
    /// # Safety
    /// No process may write the block while the slice is alive.
    pub(crate) unsafe fn as_slice(&self) -> &[u8] {
        // SAFETY: the mapping is `len` readable bytes, alive as long as `self`; the
        // caller guarantees no concurrent writes.
        unsafe { std::slice::from_raw_parts(self.as_ptr(), self.len()) }
    }

    /// The mapping as a mutable byte slice.
    ///
    /// # Safety
    /// No other process may access the block, and no other reference into it may
    /// exist in this process, while the slice is alive.
    #[expect(
        clippy::mut_from_ref,
        reason = "the mapping is shared memory: exclusivity is the caller's contract"
    )]
    pub(crate) unsafe fn as_mut_slice(&self) -> &mut [u8] {
        // SAFETY: the mapping is `len` writable bytes, alive as long as `self`; the
        // caller guarantees exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.as_ptr(), self.len()) }
    }
}
