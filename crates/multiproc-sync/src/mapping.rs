//! Typed views of the state words that live in a [`SharedSegment`].
//!
//! The only `unsafe` of the crate outside `sys::fork`: turning the segment's raw pointer
//! into `&T` where `T` is made of atomics.

#![allow(unsafe_code)]

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::AtomicU64;

use multiproc_ipc::{SegmentError, SharedSegment};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Marker for the `#[repr(C)]` state structs placed at offset 0 of a segment.
///
/// # Safety
/// An implementor must be `#[repr(C)]`, consist only of atomics (`AtomicU32`,
/// `AtomicU64`) and of other `SharedState` types, so that
/// - the all-zero bit pattern is a valid value (fresh segments are zero-filled) and
/// - every bit pattern is valid (another process may write anything), and
/// - shared references are sound while other processes mutate it (interior mutability
///   through atomics only), and its alignment is at most 8 (the segment is page-aligned).
pub(crate) unsafe trait SharedState: Sized + Send + Sync + 'static {}

// The six state types: `#[repr(C)]`, fields are `AtomicU32`/`AtomicU64` or other
// `SharedState` types only, alignment <= 8 (asserted next to each definition).
// SAFETY: as stated above.
unsafe impl SharedState for crate::raw::MutexState {}
// SAFETY: as above.
unsafe impl SharedState for crate::raw::CondState {}
// SAFETY: as above.
unsafe impl SharedState for crate::lock::RLockState {}
// SAFETY: as above.
unsafe impl SharedState for crate::semaphore::SemState {}
// SAFETY: as above.
unsafe impl SharedState for crate::event::EventState {}
// SAFETY: as above.
unsafe impl SharedState for crate::barrier::BarrierState {}

/// A `T` at offset 0 of its own segment, optionally followed by `tail` `AtomicU64`
/// slots (the barrier's party ledger). Clones share the same memory.
pub(crate) struct Shared<T: SharedState> {
    seg: SharedSegment,
    tail: usize,
    _t: PhantomData<T>,
}

impl<T: SharedState> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared {
            seg: self.seg.clone(),
            tail: self.tail,
            _t: PhantomData,
        }
    }
}

impl<T: SharedState> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("addr", &self.seg.as_ptr())
            .finish()
    }
}

const fn tail_offset<T>() -> usize {
    size_of::<T>().next_multiple_of(8)
}

impl<T: SharedState> Shared<T> {
    /// A fresh zero-filled `T` (plus `tail` zeroed slots), mapped only by this process
    /// until the handle is sent somewhere.
    pub(crate) fn new(name: &str, tail: usize) -> Result<Self, SegmentError> {
        let len = tail
            .checked_mul(8)
            .and_then(|t| t.checked_add(tail_offset::<T>()))
            .ok_or(SegmentError::ZeroLength)?;
        let seg = SharedSegment::with_name(name, len)?;
        Ok(Shared {
            seg,
            tail,
            _t: PhantomData,
        })
    }

    fn from_segment(seg: SharedSegment, tail: usize) -> Result<Self, String> {
        let need = tail
            .checked_mul(8)
            .and_then(|t| t.checked_add(tail_offset::<T>()))
            .ok_or("tail too long")?;
        if seg.len() < need {
            return Err(format!(
                "shared segment has {} bytes, state needs {need}",
                seg.len()
            ));
        }
        Ok(Shared {
            seg,
            tail,
            _t: PhantomData,
        })
    }

    /// The state.
    #[inline]
    pub(crate) fn get(&self) -> &T {
        // SAFETY:
        // - who maps it: every process holding a handle maps the same memfd pages
        //   MAP_SHARED; this process's mapping lives as long as `self.seg` (borrowed by
        //   the returned reference through `&self`);
        // - size: `seg.len() >= size_of::<T>()`, checked in `new`/`from_segment`;
        // - alignment: the mapping is page-aligned and `align_of::<T>() <= 8`
        //   (`SharedState` contract);
        // - initialisation: the segment is zero-filled at creation, and any bit pattern
        //   is a valid `T` (atomics only), whatever other processes wrote;
        // - writes: all processes write only through atomics, so a shared `&T` never
        //   aliases a non-atomic mutable access.
        unsafe { &*self.seg.as_ptr().cast::<T>() }
    }

    /// The `tail` slots after the state.
    pub(crate) fn tail(&self) -> &[AtomicU64] {
        // SAFETY:
        // - bounds: `seg.len() >= tail_offset + 8 * tail` (checked at construction);
        // - alignment: `tail_offset` is a multiple of 8 on a page-aligned mapping;
        // - validity and writes: as in `get`, `AtomicU64` accepts any bit pattern and is
        //   only accessed atomically by every process;
        // - lifetime: tied to `&self`, which keeps the mapping alive.
        unsafe {
            std::slice::from_raw_parts(
                self.seg
                    .as_ptr()
                    .add(tail_offset::<T>())
                    .cast::<AtomicU64>(),
                self.tail,
            )
        }
    }

    /// Same memory as `other` in this process.
    pub(crate) fn ptr_eq(&self, other: &Self) -> bool {
        self.seg.ptr_eq(&other.seg)
    }
}

impl<T: SharedState> Serialize for Shared<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (&self.seg, self.tail as u64).serialize(s)
    }
}

impl<'de, T: SharedState> Deserialize<'de> for Shared<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let (seg, tail): (SharedSegment, u64) = Deserialize::deserialize(d)?;
        let tail = usize::try_from(tail).map_err(D::Error::custom)?;
        Shared::from_segment(seg, tail).map_err(D::Error::custom)
    }
}
