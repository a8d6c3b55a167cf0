//! Typed views of the state words that live in a [`SharedSegment`]: [`HeaderView`],
//! public for the other multiproc crates, and the primitives' `Shared`.
//!
//! With `sys` (fork hooks), the only `unsafe` of the crate: turning the segment's raw
//! pointer into `&T` where `T` is made of atomics.

#![expect(
    unsafe_code,
    reason = "views segment memory as atomics: the crate's named unsafe module"
)]

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::AtomicU64;

use multiproc_ipc::{SegmentError, SharedSegment};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A `#[repr(C)]` header made of atomics, placed at offset 0 of a shared segment and
/// viewed through a [`HeaderView`].
///
/// # Safety
/// An implementor must be `#[repr(C)]` (or `#[repr(C, align(N))]` with `N <= 4096`) and
/// consist only of atomics (`AtomicU32`, `AtomicU64`, ...), of other `SharedHeader`
/// types, and of arrays of them, so that
/// - the all-zero bit pattern is a valid value (fresh segments are zero-filled),
/// - every bit pattern is valid (another process may write anything),
/// - shared references are sound while other processes mutate it (interior mutability
///   through atomics only), and its alignment is at most a page (the segment is
///   page-aligned).
///
/// # Examples
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use multiproc_sync::foundation::{HeaderView, SharedHeader};
///
/// #[repr(C)]
/// struct Counter {
///     hits: AtomicU64,
/// }
/// // SAFETY: `#[repr(C)]`, one atomic.
/// unsafe impl SharedHeader for Counter {}
///
/// let view: HeaderView<Counter> = HeaderView::create("counter", 4096)?;
/// view.get().hits.fetch_add(1, Ordering::Relaxed);
/// let other = HeaderView::<Counter>::from_segment(view.segment().clone())?;
/// assert_eq!(other.get().hits.load(Ordering::Relaxed), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub unsafe trait SharedHeader: Sized + Send + Sync + 'static {}

// The six state types: `#[repr(C)]`, fields are atomics or other `SharedHeader` types
// only, alignment <= 8 (asserted next to each definition).
// SAFETY: as stated above.
unsafe impl SharedHeader for crate::robust::RobustMutex {}
// SAFETY: as above.
unsafe impl SharedHeader for crate::doorbell::Doorbell {}
// SAFETY: as above.
unsafe impl SharedHeader for crate::raw::CondState {}
// SAFETY: as above.
unsafe impl SharedHeader for crate::state::RLockState {}
// SAFETY: as above.
unsafe impl SharedHeader for crate::state::SemState {}
// SAFETY: as above.
unsafe impl SharedHeader for crate::state::EventState {}
// SAFETY: as above.
unsafe impl SharedHeader for crate::state::BarrierState {}

/// A typed view of the [`SharedHeader`] `T` at offset 0 of a [`SharedSegment`], checked
/// once (length, alignment) when made: [`get`](Self::get) is then a pointer cast.
/// Clones share the same memory; the view keeps the segment mapped.
///
/// See [`SharedHeader`] for how to declare a header type.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use multiproc_sync::foundation::{HeaderView, SharedHeader};
/// #[repr(C)]
/// struct Counter {
///     hits: AtomicU64,
/// }
/// // SAFETY: `#[repr(C)]`, one atomic.
/// unsafe impl SharedHeader for Counter {}
/// let view = HeaderView::<Counter>::create("counter", 4096)?;
/// let clone = view.clone();
/// clone.get().hits.store(7, Ordering::Relaxed);
/// assert_eq!(view.get().hits.load(Ordering::Relaxed), 7); // the same memory
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct HeaderView<T: SharedHeader> {
    seg: SharedSegment,
    _t: PhantomData<T>,
}

impl<T: SharedHeader> Clone for HeaderView<T> {
    fn clone(&self) -> Self {
        HeaderView {
            seg: self.seg.clone(),
            _t: PhantomData,
        }
    }
}

impl<T: SharedHeader> fmt::Debug for HeaderView<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeaderView")
            .field("addr", &self.seg.as_ptr())
            .field("len", &self.seg.len())
            .finish()
    }
}

impl<T: SharedHeader> HeaderView<T> {
    const FITS_A_PAGE: () = assert!(align_of::<T>() <= 4096, "alignment above a page");

    /// A fresh zero-filled segment of `len` bytes (at least `size_of::<T>()`), named
    /// `name` for diagnostics, viewed as a `T` followed by free bytes.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use multiproc_sync::foundation::{HeaderView, SharedHeader};
    /// #[repr(C)]
    /// struct Counter {
    ///     hits: AtomicU64,
    /// }
    /// // SAFETY: `#[repr(C)]`, one atomic.
    /// unsafe impl SharedHeader for Counter {}
    /// let view = HeaderView::<Counter>::create("counter", 8192)?;
    /// assert_eq!(view.get().hits.load(Ordering::Relaxed), 0); // zero-filled
    /// assert!(view.segment().len() >= 8192);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create(name: &str, len: usize) -> Result<Self, SegmentError> {
        let () = Self::FITS_A_PAGE;
        let seg = SharedSegment::with_name(name, len.max(size_of::<T>()))?;
        Ok(HeaderView {
            seg,
            _t: PhantomData,
        })
    }

    /// Views a segment received from elsewhere; fails if it is shorter than a `T`.
    /// (Whether it really holds a `T` is the caller's to check, with a magic number
    /// for instance: any content is memory-safe.)
    ///
    /// ```
    /// use std::sync::atomic::AtomicU64;
    /// use multiproc_ipc::SharedSegment;
    /// use multiproc_sync::foundation::{HeaderView, SharedHeader};
    /// #[repr(C)]
    /// struct Big {
    ///     words: [AtomicU64; 1024],
    /// }
    /// // SAFETY: `#[repr(C)]`, an array of atomics.
    /// unsafe impl SharedHeader for Big {}
    /// let small = SharedSegment::new(4096)?;
    /// assert!(HeaderView::<Big>::from_segment(small).is_err()); // shorter than a `Big`
    /// let fits = SharedSegment::new(8192)?;
    /// assert!(HeaderView::<Big>::from_segment(fits).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_segment(seg: SharedSegment) -> Result<Self, SegmentError> {
        let () = Self::FITS_A_PAGE;
        if seg.len() < size_of::<T>() {
            return Err(SegmentError::BadHandle(format!(
                "shared segment has {} bytes, its header needs {}",
                seg.len(),
                size_of::<T>()
            )));
        }
        Ok(HeaderView {
            seg,
            _t: PhantomData,
        })
    }

    /// The header.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use multiproc_sync::foundation::{HeaderView, SharedHeader};
    /// #[repr(C)]
    /// struct Counter {
    ///     hits: AtomicU64,
    /// }
    /// // SAFETY: `#[repr(C)]`, one atomic.
    /// unsafe impl SharedHeader for Counter {}
    /// let view = HeaderView::<Counter>::create("counter", 4096)?;
    /// view.get().hits.fetch_add(1, Ordering::Relaxed);
    /// assert_eq!(view.get().hits.load(Ordering::Relaxed), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn get(&self) -> &T {
        // SAFETY:
        // - who maps it: every process holding a handle maps the same memfd pages
        //   MAP_SHARED; this process's mapping lives as long as `self.seg` (borrowed by
        //   the returned reference through `&self`);
        // - size: `seg.len() >= size_of::<T>()`, checked in `create`/`from_segment`;
        // - alignment: the mapping is page-aligned and `align_of::<T>() <= 4096`
        //   (`SharedHeader` contract, asserted by `FITS_A_PAGE`);
        // - initialisation: the segment is zero-filled at creation, and any bit pattern
        //   is a valid `T` (atomics only), whatever other processes wrote;
        // - writes: all processes write only through atomics, so a shared `&T` never
        //   aliases a non-atomic mutable access.
        unsafe { &*self.seg.as_ptr().cast::<T>() }
    }

    /// The segment (its descriptor travels to other processes; its bytes past the
    /// header are the caller's).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use multiproc_sync::foundation::{HeaderView, SharedHeader};
    /// #[repr(C)]
    /// struct Counter {
    ///     hits: AtomicU64,
    /// }
    /// // SAFETY: `#[repr(C)]`, one atomic.
    /// unsafe impl SharedHeader for Counter {}
    /// let view = HeaderView::<Counter>::create("counter", 4096)?;
    /// let seg = view.segment().clone(); // what another process would receive
    /// let there = HeaderView::<Counter>::from_segment(seg)?;
    /// there.get().hits.fetch_add(1, Ordering::Relaxed);
    /// assert_eq!(view.get().hits.load(Ordering::Relaxed), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn segment(&self) -> &SharedSegment {
        &self.seg
    }
}

/// A `T` at offset 0 of its own segment, optionally followed by `tail` `AtomicU64`
/// slots (the barrier's party ledger). Clones share the same memory.
pub(crate) struct Shared<T: SharedHeader> {
    view: HeaderView<T>,
    tail: usize,
}

impl<T: SharedHeader> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared {
            view: self.view.clone(),
            tail: self.tail,
        }
    }
}

impl<T: SharedHeader> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("addr", &self.view.seg.as_ptr())
            .finish()
    }
}

const fn tail_offset<T>() -> usize {
    size_of::<T>().next_multiple_of(8)
}

impl<T: SharedHeader> Shared<T> {
    /// A fresh zero-filled `T` (plus `tail` zeroed slots), mapped only by this process
    /// until the handle is sent somewhere.
    pub(crate) fn new(name: &str, tail: usize) -> Result<Self, SegmentError> {
        let len = tail
            .checked_mul(8)
            .and_then(|t| t.checked_add(tail_offset::<T>()))
            .ok_or(SegmentError::ZeroLength)?;
        Ok(Shared {
            view: HeaderView::create(name, len)?,
            tail,
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
            view: HeaderView::from_segment(seg).map_err(|e| e.to_string())?,
            tail,
        })
    }

    /// The state.
    #[inline]
    pub(crate) fn get(&self) -> &T {
        self.view.get()
    }

    /// The `tail` slots after the state.
    pub(crate) fn tail(&self) -> &[AtomicU64] {
        // SAFETY:
        // - bounds: `seg.len() >= tail_offset + 8 * tail` (checked at construction);
        // - alignment: `tail_offset` is a multiple of 8 on a page-aligned mapping;
        // - validity and writes: `AtomicU64` accepts any bit pattern and is only
        //   accessed atomically by every process;
        // - lifetime: tied to `&self`, which keeps the mapping alive.
        unsafe {
            std::slice::from_raw_parts(
                self.view
                    .seg
                    .as_ptr()
                    .add(tail_offset::<T>())
                    .cast::<AtomicU64>(),
                self.tail,
            )
        }
    }

    /// Same memory as `other` in this process.
    pub(crate) fn ptr_eq(&self, other: &Self) -> bool {
        self.view.seg.ptr_eq(&other.view.seg)
    }
}

impl<T: SharedHeader> Serialize for Shared<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (&self.view.seg, self.tail as u64).serialize(s)
    }
}

impl<'de, T: SharedHeader> Deserialize<'de> for Shared<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let (seg, tail): (SharedSegment, u64) = Deserialize::deserialize(d)?;
        let tail = usize::try_from(tail).map_err(D::Error::custom)?;
        Shared::from_segment(seg, tail).map_err(D::Error::custom)
    }
}
