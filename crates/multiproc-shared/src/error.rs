//! Error types.

use std::fmt;
use std::io;

/// An index or range past the end of an array.
///
/// ```
/// use multiproc_shared::{Array, IndexError};
/// let a = Array::<i32>::zeroed(3)?;
/// assert_eq!(a.set(5, 1), Err(IndexError { index: 5, len: 3 }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexError {
    /// The offending index (or range end).
    pub index: usize,
    /// The array's length.
    pub len: usize,
}

impl fmt::Display for IndexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "index {} out of range for length {}",
            self.index, self.len
        )
    }
}

impl std::error::Error for IndexError {}

/// A [`SharedMemory`](crate::SharedMemory) operation failed.
///
/// ```
/// use multiproc_shared::{SharedMemory, ShmError};
/// let shm = SharedMemory::create(None, 8)?;
/// assert!(matches!(SharedMemory::create(Some(shm.name()), 8), Err(ShmError::Exists(_))));
/// shm.unlink()?;
/// assert!(matches!(SharedMemory::attach(shm.name()), Err(ShmError::NotFound(_))));
/// assert!(matches!(SharedMemory::create(Some("a/b"), 8), Err(ShmError::InvalidName(_))));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ShmError {
    /// The name is empty, too long, or contains `/` or NUL.
    InvalidName(String),
    /// A size of zero (or too large) was requested.
    InvalidSize,
    /// `create` with a name that exists (CPython: `FileExistsError`).
    Exists(String),
    /// `attach` or `unlink` of a name that does not exist (CPython: `FileNotFoundError`).
    NotFound(String),
    /// Another operating-system error (open, ftruncate, mmap, unlink).
    Io(io::Error),
}

impl fmt::Display for ShmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShmError::InvalidName(n) => write!(f, "invalid shared memory name {n:?}"),
            ShmError::InvalidSize => f.write_str("shared memory size must be positive"),
            ShmError::Exists(n) => write!(f, "shared memory block {n:?} already exists"),
            ShmError::NotFound(n) => write!(f, "no shared memory block named {n:?}"),
            ShmError::Io(_) => f.write_str("shared memory system call failed"),
        }
    }
}

impl std::error::Error for ShmError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ShmError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for ShmError {
    fn from(e: io::Error) -> Self {
        ShmError::Io(e)
    }
}

/// A [`ShareableList`](crate::ShareableList) operation failed.
///
/// ```
/// use multiproc_shared::{Item, ListError, ShareableList};
/// let list = ShareableList::new([Item::Int(1)], None)?;
/// assert!(matches!(list.get(3), Err(ListError::Index(_))));
/// assert!(matches!(list.set(0, Item::Str("x".repeat(100))), Err(ListError::TooLarge { index: 0, .. })));
/// list.shm().unlink()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ListError {
    /// The underlying shared memory.
    Shm(ShmError),
    /// Index past the end (CPython: `IndexError`).
    Index(IndexError),
    /// A string or bytes value longer than its slot (CPython: `ValueError('bytes/str item
    /// exceeds available storage')`).
    TooLarge {
        /// The slot.
        index: usize,
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        capacity: usize,
    },
    /// The block does not hold a valid list (wrong name, or overwritten).
    Corrupt(&'static str),
}

impl fmt::Display for ListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListError::Shm(_) => f.write_str("shareable list storage failed"),
            ListError::Index(e) => e.fmt(f),
            ListError::TooLarge {
                index,
                needed,
                capacity,
            } => write!(
                f,
                "item {index} needs {needed} bytes but its slot holds {capacity}"
            ),
            ListError::Corrupt(why) => write!(f, "not a valid shareable list: {why}"),
        }
    }
}

impl std::error::Error for ListError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ListError::Shm(e) => Some(e),
            ListError::Index(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ShmError> for ListError {
    fn from(e: ShmError) -> Self {
        ListError::Shm(e)
    }
}
