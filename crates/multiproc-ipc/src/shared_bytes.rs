//! [`SharedBytes`]: a received raw message read in place, from the shared-memory
//! segment it came in (see [`Connection::recv_bytes_shared`](crate::Connection::recv_bytes_shared)).

use std::fmt;
use std::ops::Deref;

use crate::SharedSegment;
use crate::shm;

/// One received raw message, read where it lies: a view of the shared-memory segment
/// it came in, or an owned buffer when it came over the socket.
///
/// Returned by [`Connection::recv_bytes_shared`](crate::Connection::recv_bytes_shared).
/// It dereferences to `[u8]`. A message that came through a segment
/// ([`Connection::enable_shm`](crate::Connection::enable_shm) on both ends, and at
/// least the threshold) is **not copied**: the view keeps the segment mapped, and the
/// sender cannot reuse that segment until the view is dropped — dropping it hands the
/// segment back (and wakes a sender waiting for it). A sender keeps two segments, so
/// **hold at most one view per connection while you wait for the next message**:
/// with two views alive, the sender's third large send waits for one of them (up to
/// its own timeout), as it would for a receiver that does not read. Copy out what you
/// keep ([`into_vec`](Self::into_vec), or `to_vec()`), and drop the view.
///
/// A message below the threshold, or from an end without shared memory, arrives over
/// the socket into an owned buffer, which the view then holds
/// ([`is_in_segment`](Self::is_in_segment) tells which).
///
/// ```
/// use multiproc_ipc::{Pipe, DEFAULT_SHM_THRESHOLD};
/// let (a, b) = Pipe::duplex()?;
/// a.enable_shm(DEFAULT_SHM_THRESHOLD)?;
/// b.enable_shm(DEFAULT_SHM_THRESHOLD)?;
/// a.send_bytes(&vec![7u8; 8 << 20])?;
/// let msg = b.recv_bytes_shared()?; // no copy: read in the segment
/// assert!(msg.is_in_segment());
/// assert_eq!(msg.len(), 8 << 20);
/// assert!(msg.iter().all(|&x| x == 7));
/// drop(msg); // the segment goes back to the sender
/// a.send_bytes(b"small")?; // below the threshold: over the socket, owned
/// let small = b.recv_bytes_shared()?;
/// assert!(!small.is_in_segment());
/// assert_eq!(&*small, b"small");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Trust
/// The view is a `&[u8]` of memory the sender's process also maps. A multiproc sender
/// never writes a segment between handing it over and getting it back, so the bytes
/// cannot change under the view. A process that breaks that protocol (another
/// program writing the frame format by hand) could change them while you read —
/// which the copying receives ([`recv_bytes`](crate::Connection::recv_bytes),
/// [`recv_bytes_into`](crate::Connection::recv_bytes_into)) are immune to: use those
/// when the peer's code is not your own. What no peer can do either way is make this
/// end map more than the frame limit allows or truncate a segment under the view (no
/// SIGBUS): segments are checked before they are mapped, as for every receive.
pub struct SharedBytes {
    inner: Inner,
}

enum Inner {
    Owned(Vec<u8>),
    /// `len` payload bytes of a segment this end holds (state word `FULL`), checked
    /// to lie inside it when the view was made, and the process that holds it (a
    /// `fork` child that inherited the view must not hand its parent's segment back).
    Segment(SharedSegment, usize, u32),
}

impl SharedBytes {
    pub(crate) fn owned(bytes: Vec<u8>) -> Self {
        SharedBytes {
            inner: Inner::Owned(bytes),
        }
    }

    /// The view of a received segment's payload, or `None` (the segment handed back)
    /// when `len` bytes do not fit it.
    pub(crate) fn in_segment(seg: SharedSegment, len: usize) -> Option<Self> {
        if shm::payload(&seg, len).is_none() {
            shm::release(&seg);
            return None;
        }
        Some(SharedBytes {
            inner: Inner::Segment(seg, len, std::process::id()),
        })
    }

    /// Whether the bytes are read in place in a shared-memory segment (`false`: they
    /// came over the socket and are owned).
    ///
    /// ```
    /// let (a, b) = multiproc_ipc::Pipe::duplex()?; // shared memory not enabled
    /// a.send_bytes(&vec![1u8; 4 << 20])?;
    /// assert!(!b.recv_bytes_shared()?.is_in_segment());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_in_segment(&self) -> bool {
        matches!(self.inner, Inner::Segment(..))
    }

    /// The bytes as an owned `Vec`: the buffer itself when they came over the socket,
    /// one copy out of the segment otherwise (which is then handed back).
    ///
    /// ```
    /// use multiproc_ipc::Pipe;
    /// let (a, b) = Pipe::duplex()?;
    /// a.enable_shm(1 << 20)?;
    /// b.enable_shm(1 << 20)?;
    /// a.send_bytes(&vec![3u8; 2 << 20])?;
    /// let v: Vec<u8> = b.recv_bytes_shared()?.into_vec();
    /// assert_eq!(v, vec![3u8; 2 << 20]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_vec(mut self) -> Vec<u8> {
        match &mut self.inner {
            Inner::Owned(v) => std::mem::take(v),
            Inner::Segment(..) => self.to_vec(),
        }
    }
}

impl Deref for SharedBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.inner {
            Inner::Owned(v) => v,
            // Checked inside the segment when the view was made; the segment's length
            // never changes, so this is always `Some`.
            Inner::Segment(seg, len, _) => shm::payload(seg, *len).unwrap_or_default(),
        }
    }
}

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl Drop for SharedBytes {
    fn drop(&mut self) {
        if let Inner::Segment(seg, _, pid) = &self.inner {
            if *pid == std::process::id() {
                shm::release(seg);
            }
        }
    }
}

impl fmt::Debug for SharedBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedBytes")
            .field("len", &self.len())
            .field("in_segment", &self.is_in_segment())
            .finish()
    }
}
