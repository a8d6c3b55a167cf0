//! Error types, one per operation family (put, get, create, joinable).

use std::fmt;

use multiproc_ipc::{CodecError, SegmentError};

/// Why a put did not happen. The item comes back in every variant
/// ([`into_inner`](PutError::into_inner)).
///
/// ```
/// use multiproc_queue::{PutError, Queue};
///
/// let q = Queue::with_maxsize(1)?;
/// q.put(vec![1u8])?;
/// match q.try_put(vec![2u8]) {
///     Err(PutError::Full(item)) => assert_eq!(item, [2]), // keep it, retry later
///     other => panic!("expected Full, got {other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[non_exhaustive]
pub enum PutError<T> {
    /// `try_put`: no room now (the queue holds `maxsize` items, or its ring is full).
    Full(T),
    /// `put_timeout`: still no room when the timeout expired.
    Timeout(T),
    /// This handle was closed with `close()`: it may not put any more.
    Closed(T),
    /// The item could not be serialised; nothing was put.
    Encode {
        /// The item.
        item: T,
        /// What the serialiser reported.
        source: CodecError,
    },
    /// The item's encoding exceeds the largest item a queue carries (16 GiB).
    TooLarge {
        /// The item.
        item: T,
        /// Its encoded length in bytes.
        len: u64,
    },
    /// This process could not register with the queue: 128 live processes already hold
    /// handles on it.
    TooManyProcesses(T),
    /// `put`/`put_timeout` in a process that declared
    /// [`close_receiving`](crate::Queue::close_receiving): the queue is full and no live
    /// process that may get is left, so no room will ever come.
    NoConsumer(T),
}

impl<T> PutError<T> {
    /// The item that was not put.
    ///
    /// ```
    /// use multiproc_queue::Queue;
    /// let q = Queue::<String>::with_maxsize(1)?;
    /// q.put("first".to_owned())?;
    /// let err = q.try_put("second".to_owned()).unwrap_err();
    /// assert_eq!(err.into_inner(), "second"); // the item comes back
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            PutError::Full(t)
            | PutError::Timeout(t)
            | PutError::Closed(t)
            | PutError::TooManyProcesses(t)
            | PutError::NoConsumer(t) => t,
            PutError::Encode { item, .. } | PutError::TooLarge { item, .. } => item,
        }
    }

    /// Whether this is [`PutError::Full`].
    ///
    /// ```
    /// use multiproc_queue::Queue;
    /// let q = Queue::<i64>::with_maxsize(1)?;
    /// q.put(1)?;
    /// assert!(q.try_put(2).unwrap_err().is_full());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, PutError::Full(_))
    }

    /// Whether this is [`PutError::Timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_queue::Queue;
    /// let q = Queue::<i64>::with_maxsize(1)?;
    /// q.put(1)?;
    /// assert!(q.put_timeout(2, Duration::from_millis(10)).unwrap_err().is_timeout());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, PutError::Timeout(_))
    }

    /// Whether this is [`PutError::Closed`].
    ///
    /// ```
    /// use multiproc_queue::Queue;
    /// let q = Queue::<i64>::new()?;
    /// q.close();
    /// assert!(q.put(1).unwrap_err().is_closed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, PutError::Closed(_))
    }

    /// Whether this is [`PutError::NoConsumer`].
    ///
    /// ```
    /// use multiproc_queue::Queue;
    /// let q = Queue::<i64>::with_maxsize(1)?;
    /// q.put(1)?;
    /// let err = q.try_put(2).unwrap_err();
    /// assert!(!err.is_no_consumer()); // full, but this process may still get
    /// assert!(err.is_full());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_no_consumer(&self) -> bool {
        matches!(self, PutError::NoConsumer(_))
    }
}

impl<T> fmt::Debug for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutError::Full(_) => f.write_str("Full(..)"),
            PutError::Timeout(_) => f.write_str("Timeout(..)"),
            PutError::Closed(_) => f.write_str("Closed(..)"),
            PutError::Encode { source, .. } => f
                .debug_struct("Encode")
                .field("source", source)
                .finish_non_exhaustive(),
            PutError::TooLarge { len, .. } => f
                .debug_struct("TooLarge")
                .field("len", len)
                .finish_non_exhaustive(),
            PutError::TooManyProcesses(_) => f.write_str("TooManyProcesses(..)"),
            PutError::NoConsumer(_) => f.write_str("NoConsumer(..)"),
        }
    }
}

impl<T> fmt::Display for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutError::Full(_) => f.write_str("queue is full"),
            PutError::Timeout(_) => f.write_str("timed out waiting for room in the queue"),
            PutError::Closed(_) => f.write_str("queue handle is closed"),
            PutError::Encode { .. } => f.write_str("item could not be serialised"),
            PutError::TooLarge { len, .. } => {
                write!(f, "item of {len} bytes exceeds the queue's item limit")
            }
            PutError::TooManyProcesses(_) => {
                f.write_str("too many processes hold handles on this queue")
            }
            PutError::NoConsumer(_) => {
                f.write_str("queue is full and no process that may get from it is left")
            }
        }
    }
}

impl<T> std::error::Error for PutError<T> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PutError::Encode { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Why a get returned no item.
///
/// ```
/// use multiproc_queue::{GetError, Queue};
///
/// let q: Queue<u32> = Queue::new()?;
/// assert!(matches!(q.try_get(), Err(GetError::Empty))); // nothing yet
/// q.close(); // no open handle remains: nothing will ever arrive
/// let err = q.get().unwrap_err();
/// assert!(matches!(err, GetError::Closed));
/// assert_eq!(err.to_string(), "queue is empty and every producer is gone");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum GetError {
    /// `try_get`: nothing to take now.
    Empty,
    /// `get_timeout`: nothing arrived before the timeout.
    Timeout,
    /// The queue is empty and no live process holds an open handle: nothing will ever
    /// arrive (every handle was closed or dropped, or its process died).
    Closed,
    /// An item was taken but could not be deserialised as `T` (the producer put another
    /// type). The item is consumed.
    Decode(CodecError),
    /// The queue's shared memory does not hold a valid item (only possible if something
    /// outside this crate wrote into it).
    Corrupt,
}

impl fmt::Display for GetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GetError::Empty => f.write_str("queue is empty"),
            GetError::Timeout => f.write_str("timed out waiting for an item"),
            GetError::Closed => f.write_str("queue is empty and every producer is gone"),
            GetError::Decode(_) => f.write_str("item could not be deserialised"),
            GetError::Corrupt => f.write_str("queue memory is corrupt"),
        }
    }
}

impl std::error::Error for GetError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GetError::Decode(e) => Some(e),
            _ => None,
        }
    }
}

/// Why a queue could not be created.
///
/// ```
/// use multiproc_queue::{CreateError, Queue};
///
/// let q = match Queue::<u8>::new() {
///     Ok(q) => q,
///     Err(CreateError::Segment(e)) => return Err(e.into()), // out of memory or descriptors
///     Err(e) => return Err(e.into()),
/// };
/// assert!(q.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum CreateError {
    /// The shared segment could not be created (`memfd_create`/`ftruncate`/`mmap`).
    Segment(SegmentError),
    /// 128 live processes already hold handles on this queue.
    TooManyProcesses,
}

impl fmt::Display for CreateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CreateError::Segment(_) => f.write_str("could not create the queue's shared memory"),
            CreateError::TooManyProcesses => {
                f.write_str("too many processes hold handles on this queue")
            }
        }
    }
}

impl std::error::Error for CreateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CreateError::Segment(e) => Some(e),
            CreateError::TooManyProcesses => None,
        }
    }
}

impl From<SegmentError> for CreateError {
    fn from(e: SegmentError) -> Self {
        CreateError::Segment(e)
    }
}

/// Errors of [`JoinableQueue`](crate::JoinableQueue)'s `task_done` and `join` (a
/// `join_timeout` that times out returns `Ok(false)`, not an error).
///
/// ```
/// use multiproc_queue::{JoinError, JoinableQueue};
///
/// let q = JoinableQueue::<u8>::new()?;
/// assert_eq!(q.task_done(), Err(JoinError::TooManyTaskDone)); // nothing was put
/// q.join()?; // nothing unfinished: returns at once
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JoinError {
    /// `task_done` was called more times than items were put (CPython's `ValueError`).
    TooManyTaskDone,
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::TooManyTaskDone => {
                f.write_str("task_done called more times than there were items")
            }
        }
    }
}

impl std::error::Error for JoinError {}
