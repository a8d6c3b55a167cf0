//! [`SharedSegment`]: anonymous shared memory that can be passed to other processes.

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use memmap2::{MmapOptions, MmapRaw};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::SegmentError;
use crate::handle::{PassFd, PassFdRef};
use crate::sys;

/// A block of memory shared between processes: a `memfd` mapped `MAP_SHARED`.
///
/// It has no name in any filesystem, so nothing is left behind in `/dev/shm` whatever
/// happens to the processes that map it: the memory is freed when the last descriptor
/// and mapping are gone. Send it to another process inside any value (it implements
/// `Serialize` through [`crate::handle`]) or inherit it across `fork`; every process
/// then maps the same pages.
///
/// The mapping starts on a page boundary (4096-byte alignment at least), so the crates
/// above may place any `#[repr(C)]` type at offset 0. Cloning is cheap (the mapping is
/// reference-counted); memory is zero-filled when created.
///
/// The segment hands out raw pointers only: what lives inside, and who may write it
/// when, is the business of the type built on top (a lock, a queue, a `Value`).
///
/// ```
/// let seg = multiproc_ipc::SharedSegment::new(4096)?;
/// assert_eq!(seg.len(), 4096);
/// assert_eq!(seg.as_ptr() as usize % 4096, 0);
/// // A receiving process gets the same memory:
/// let (bytes, fds) = multiproc_ipc::encode(&seg)?;
/// let other: multiproc_ipc::SharedSegment = multiproc_ipc::decode(&bytes, fds)?;
/// assert_eq!(other.len(), 4096);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct SharedSegment {
    inner: Arc<Inner>,
}

struct Inner {
    fd: OwnedFd,
    map: MmapRaw,
    len: usize,
}

impl fmt::Debug for SharedSegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedSegment")
            .field("fd", &self.inner.fd.as_raw_fd())
            .field("len", &self.inner.len)
            .field("addr", &self.inner.map.as_ptr())
            .finish()
    }
}

impl SharedSegment {
    /// Creates a zero-filled segment of `len` bytes.
    ///
    /// # Errors
    /// `len == 0`, or `memfd_create`/`ftruncate`/`mmap` failed (out of memory or descriptors).
    ///
    /// ```
    /// use multiproc_ipc::SharedSegment;
    /// let seg = SharedSegment::new(4096)?;
    /// assert_eq!(seg.len(), 4096);
    /// assert!(SharedSegment::new(0).is_err()); // ZeroLength
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(len: usize) -> Result<Self, SegmentError> {
        Self::with_name("multiproc", len)
    }

    /// As [`new`](Self::new), with a name that shows in `/proc/<pid>/maps` (debugging only).
    ///
    /// # Errors
    /// As [`new`](Self::new).
    ///
    /// ```
    /// use multiproc_ipc::SharedSegment;
    /// let seg = SharedSegment::with_name("my-buffer", 100)?; // the name shows in /proc/self/fd
    /// assert_eq!(seg.len(), 100);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_name(name: &str, len: usize) -> Result<Self, SegmentError> {
        if len == 0 {
            return Err(SegmentError::ZeroLength);
        }
        let fd = sys::memfd(name, len as u64)?;
        Self::map(fd, len)
    }

    /// Maps an existing memory file descriptor (whole length).
    ///
    /// # Errors
    /// The descriptor is not a regular/memory file, is empty, or `mmap` failed.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use multiproc_ipc::SharedSegment;
    /// let seg = SharedSegment::new(8192)?;
    /// let again = SharedSegment::from_fd(seg.as_fd().try_clone_to_owned()?)?; // a second mapping
    /// assert_eq!(again.len(), 8192);
    /// assert!(!again.ptr_eq(&seg)); // other addresses, the same pages
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_fd(fd: OwnedFd) -> Result<Self, SegmentError> {
        let len = sys::file_len(&fd)?;
        let len = usize::try_from(len).map_err(|_| SegmentError::BadHandle("too large".into()))?;
        if len == 0 {
            return Err(SegmentError::ZeroLength);
        }
        Self::map(fd, len)
    }

    pub(crate) fn map(fd: OwnedFd, len: usize) -> Result<Self, SegmentError> {
        let map = MmapOptions::new().len(len).map_raw(&fd)?;
        Ok(SharedSegment {
            inner: Arc::new(Inner { fd, map, len }),
        })
    }

    /// Length in bytes.
    ///
    /// ```
    /// use multiproc_ipc::SharedSegment;
    /// assert_eq!(SharedSegment::new(10)?.len(), 10);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn len(&self) -> usize {
        self.inner.len
    }

    /// Always `false`: segments are never empty. Present for API symmetry.
    ///
    /// ```
    /// use multiproc_ipc::SharedSegment;
    /// assert!(!SharedSegment::new(1)?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Start of the mapping in this process (page-aligned).
    ///
    /// Other processes map the same pages at other addresses: store offsets, never
    /// pointers, inside a segment.
    ///
    /// ```
    /// use multiproc_ipc::SharedSegment;
    /// let seg = SharedSegment::new(100)?;
    /// assert_eq!(seg.as_ptr() as usize % 4096, 0); // page-aligned
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn as_ptr(&self) -> *mut u8 {
        self.inner.map.as_mut_ptr()
    }

    /// Whether `self` and `other` are the same memory in this process (same mapping).
    ///
    /// ```
    /// use multiproc_ipc::SharedSegment;
    /// let seg = SharedSegment::new(16)?;
    /// assert!(seg.ptr_eq(&seg.clone()));
    /// assert!(!seg.ptr_eq(&SharedSegment::new(16)?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ptr_eq(&self, other: &SharedSegment) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl AsFd for SharedSegment {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.fd.as_fd()
    }
}

impl Serialize for SharedSegment {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (PassFdRef(self.inner.fd.as_fd()), self.inner.len as u64).serialize(s)
    }
}

impl<'de> Deserialize<'de> for SharedSegment {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let (fd, len): (PassFd, u64) = Deserialize::deserialize(d)?;
        let fd: OwnedFd = fd.into();
        let actual = sys::file_len(&fd).map_err(D::Error::custom)?;
        if actual < len || len == 0 {
            return Err(D::Error::custom(format!(
                "shared segment is {actual} bytes, expected {len}"
            )));
        }
        let len = usize::try_from(len).map_err(D::Error::custom)?;
        SharedSegment::map(fd, len).map_err(D::Error::custom)
    }
}
