//! The typed handles: [`Queue`], [`SimpleQueue`], [`JoinableQueue`].

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use multiproc_ipc::{CodecError, SharedSegment};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{CreateError, GetError, JoinError, PutError};
use crate::ring::{self, Block, Fail, Ring};

thread_local! {
    static ENCODE_BUF: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
    static DECODE_BUF: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Runs `f` with this thread's scratch buffer (taken out of the cell, so re-entrant
/// use just gets a fresh one).
/// The largest per-thread encode/decode buffer kept between calls.
const KEEP_BUF: usize = 4 << 20;

fn with_buf<R>(
    key: &'static std::thread::LocalKey<Cell<Vec<u8>>>,
    f: impl FnOnce(&mut Vec<u8>) -> R,
) -> R {
    let mut buf = key.with(Cell::take);
    buf.clear();
    let r = f(&mut buf);
    // Kept up to a few MiB, so that items as large as the default ring (1 MiB) are
    // encoded and collected without fresh pages each time.
    if buf.capacity() <= KEEP_BUF {
        key.with(|c| c.set(buf));
    }
    r
}

/// postcard's output into the ring: the record's payload place as two slices (the
/// second one used when the record wraps around the ring's end).
struct InPlace<'a> {
    a: &'a mut [u8],
    b: &'a mut [u8],
    at: usize,
}

impl postcard::ser_flavors::Flavor for InPlace<'_> {
    type Output = usize;

    #[inline]
    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        let slot = match self.a.get_mut(self.at) {
            Some(slot) => slot,
            None => self
                .b
                .get_mut(self.at - self.a.len())
                .ok_or(postcard::Error::SerializeBufferFull)?,
        };
        *slot = data;
        self.at += 1;
        Ok(())
    }

    #[inline]
    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        let end = self.at + data.len();
        if end > self.a.len() + self.b.len() {
            return Err(postcard::Error::SerializeBufferFull);
        }
        let split = self.a.len().saturating_sub(self.at).min(data.len());
        let (x, y) = data.split_at(split);
        if let Some(dst) = self.a.get_mut(self.at..self.at + split) {
            dst.copy_from_slice(x);
        }
        let from = self.at + split - self.a.len().min(self.at + split);
        if let Some(dst) = self.b.get_mut(from..from + y.len()) {
            dst.copy_from_slice(y);
        }
        self.at = end;
        Ok(())
    }

    fn finalize(self) -> postcard::Result<usize> {
        Ok(self.at)
    }
}

/// Encodes `item` into the ring slices `a` then `b` (together `len` bytes, the size
/// found by the sizing pass); `Err` unless exactly `len` bytes were written.
fn encode_in_place<T: Serialize>(
    item: &T,
    len: usize,
    a: &mut [u8],
    b: &mut [u8],
) -> Result<(), ()> {
    match postcard::serialize_with_flavor(item, InPlace { a, b, at: 0 }) {
        Ok(n) if n == len => Ok(()),
        _ => Err(()),
    }
}

fn deadline_after(timeout: Duration) -> Option<Instant> {
    // An unrepresentable deadline is "forever".
    Instant::now().checked_add(timeout)
}

/// One handle: the ring plus this handle's producer registration.
struct Handle {
    ring: Ring,
    closed: AtomicBool,
    /// `pid << 32 | (entry + 1)` of the process that counted this handle; 0 = none.
    reg: AtomicU64,
}

impl Handle {
    fn new(ring: Ring, closed: bool) -> Handle {
        let h = Handle {
            ring,
            closed: AtomicBool::new(closed),
            reg: AtomicU64::new(0),
        };
        if !closed {
            // Failure (registry full) leaves the handle uncounted: it tries again on its
            // first put, which then reports the error.
            let _ = h.ensure_registered();
        }
        h
    }

    /// The registry entry of this process, counting this handle as an open producer
    /// here if it is not yet counted.
    ///
    /// A handle is counted once `reg` is set: in the process `reg` names, or — for a
    /// copy made by `fork` — in the child, by the fork handler (`FORK_COUNTED`).
    fn ensure_registered(&self) -> Option<usize> {
        let pid = multiproc_sync::foundation::this_process().id;
        let r = self.reg.load(Ordering::Acquire);
        if r != 0 && (r >> 32) as u32 == pid {
            return Some((r as u32 - 1) as usize);
        }
        // A copy made by `fork` is already in this process's table and, if the fork
        // handler ran, counted in the process's *inherited* entry: move it to the
        // ordinary entry (it is now in use here).
        let idx = self.ring.register(false)?;
        self.ring.open_inc(idx);
        let new = (u64::from(pid) << 32) | (idx as u64 + 1);
        match self
            .reg
            .compare_exchange(r, new, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => {
                if r == 0 {
                    self.ring.local_inc();
                } else if ring::FORK_COUNTED.load(Ordering::Relaxed) {
                    if let Some(inh) = self.ring.register(true) {
                        self.ring.open_dec(inh);
                    }
                }
                Some(idx)
            }
            Err(other) => {
                // Another thread registered this handle first.
                self.ring.open_dec(idx);
                ((other >> 32) as u32 == pid).then_some((other as u32 - 1) as usize)
            }
        }
    }

    fn close(&self) {
        if !self.closed.swap(true, Ordering::AcqRel) && self.reg.load(Ordering::Acquire) != 0 {
            if let Some(idx) = self.ensure_registered() {
                self.ring.open_dec(idx);
            }
            self.ring.local_dec();
        }
    }

    fn put<T: Serialize>(&self, item: T, block: Block) -> Result<(), PutError<T>> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(PutError::Closed(item));
        }
        if self.ensure_registered().is_none() {
            return Err(PutError::TooManyProcesses(item));
        }
        // An item that fits the ring is encoded straight into it (sized first, then
        // written in place: no private buffer and no second copy); anything else, or
        // an encoding the in-place path refuses, takes the buffered path below, which
        // reports the errors.
        let sized = postcard::serialize_with_flavor(&item, postcard::ser_flavors::Size::default());
        // The same for an item larger than the ring that fits its bulk area (#15): encoded
        // there, the ring carries a reference.
        let sized = sized
            .ok()
            .filter(|&len| self.ring.fits(len as u64) || self.ring.bulk_fits(len as u64));
        if let Some(len) = sized {
            let placed = if self.ring.fits(len as u64) {
                self.ring
                    .put_in_place(len as u64, block, |a, b| encode_in_place(&item, len, a, b))
            } else {
                self.ring.put_bulk(len as u64, block, |a| {
                    encode_in_place(&item, len, a, &mut [])
                })
            };
            match placed {
                Ok(Ok(())) => return Ok(()),
                // Refused (an impl that encodes differently the second time, handles):
                // the buffered path decides.
                Ok(Err(())) => {}
                Err(Fail::NoConsumer) => return Err(PutError::NoConsumer(item)),
                Err(_) => {
                    return Err(match block {
                        Block::No => PutError::Full(item),
                        Block::Until(_) => PutError::Timeout(item),
                    });
                }
            }
        }
        let outcome = with_buf(&ENCODE_BUF, |buf| {
            let fds = match multiproc_ipc::encode_into(&item, buf) {
                Ok(fds) => fds,
                Err(e) => return Err(Err(e)),
            };
            if !fds.is_empty() {
                return Err(Err(CodecError::Custom(
                    "items holding os handles cannot travel through a queue; send them over a Connection".into(),
                )));
            }
            if buf.len() as u64 > ring::MAX_ITEM {
                return Err(Ok(buf.len() as u64));
            }
            self.ring.put(buf, block).map_err(|fail| match fail {
                Fail::NoConsumer => Ok(u64::MAX),
                _ => Ok(0),
            })
        });
        match outcome {
            Ok(()) => Ok(()),
            Err(Err(source)) => Err(PutError::Encode { item, source }),
            Err(Ok(u64::MAX)) => Err(PutError::NoConsumer(item)),
            Err(Ok(len)) if len > 0 => Err(PutError::TooLarge { item, len }),
            Err(Ok(_)) => Err(match block {
                Block::No => PutError::Full(item),
                Block::Until(_) => PutError::Timeout(item),
            }),
        }
    }

    fn get<T: DeserializeOwned>(
        &self,
        deadline: Option<Instant>,
        try_only: bool,
    ) -> Result<T, GetError> {
        let r = with_buf(&DECODE_BUF, |scratch| {
            self.ring.get(deadline, scratch, |bytes| {
                multiproc_ipc::decode::<T>(bytes, Vec::new())
            })
        });
        match r {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(GetError::Decode(e)),
            Err(Fail::Timeout) if try_only => Err(GetError::Empty),
            Err(Fail::Timeout) => Err(GetError::Timeout),
            Err(Fail::Closed) => Err(GetError::Closed),
            // Gets never report `NoConsumer`.
            Err(Fail::Corrupt | Fail::NoConsumer) => Err(GetError::Corrupt),
        }
    }
}

impl Clone for Handle {
    fn clone(&self) -> Self {
        Handle::new(self.ring.clone(), self.closed.load(Ordering::Acquire))
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.close();
    }
}

/// How a handle travels: the segment, whether it is closed, and which process entry
/// holds it "in transit" until the receiver has registered.
#[derive(Serialize, Deserialize)]
#[serde(rename = "multiproc::Queue")]
struct Wire {
    seg: SharedSegment,
    closed: bool,
    from: u32,
    from_id: u64,
}

impl Serialize for Handle {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        let closed = self.closed.load(Ordering::Acquire);
        let (from, from_id) = if closed {
            (u32::MAX, 0)
        } else {
            let idx = self
                .ensure_registered()
                .ok_or_else(|| S::Error::custom("too many processes hold handles on this queue"))?;
            self.ring.transit_inc(idx);
            (idx as u32, self.ring.entry_id(idx))
        };
        Wire {
            seg: self.ring.segment().clone(),
            closed,
            from,
            from_id,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Handle {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let w = Wire::deserialize(d)?;
        let ring = Ring::attach(w.seg).map_err(D::Error::custom)?;
        let h = Handle::new(ring, w.closed);
        if !w.closed {
            h.ring.transit_dec(w.from as usize, w.from_id);
        }
        Ok(h)
    }
}

/// A multi-producer, multi-consumer FIFO queue shared by processes and threads
/// (CPython's `multiprocessing.Queue`).
///
/// Items are serialised with postcard **in the caller** of `put` into a ring in shared
/// memory, so a failing put says so, a process may exit right after `put` returns
/// without losing the item, and no background thread is involved. Items larger than the
/// ring travel whole through a bulk area beside it (four times the ring, sparse memory
/// of the same segment), larger ones stream through the ring (size is unlimited up to
/// 16 GiB).
///
/// Every handle is a producer until it is closed ([`close`](Queue::close)) or dropped.
/// A [`get`](Queue::get) on an empty queue returns [`GetError::Closed`] once no live
/// process holds an open handle — including the getter's own: close yours before you
/// drain. Clone a handle to get another one; send it to another process inside any
/// argument (it implements `Serialize`/`Deserialize` through the memfd it holds).
///
/// ```
/// use multiproc_queue::{GetError, Queue};
/// let q = Queue::new()?;
/// let producer = q.clone();
/// std::thread::spawn(move || {
///     producer.put((42u64, None::<i32>, "hello".to_string())).unwrap();
/// }); // `producer` is dropped when the thread ends
/// q.close(); // this handle will not put: getters may see `Closed` once drained
/// assert_eq!(q.get()?, (42, None, "hello".to_string()));
/// assert!(matches!(q.get(), Err(GetError::Closed)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Queue<T> {
    h: Handle,
    _t: PhantomData<fn(T) -> T>,
}

impl<T> Queue<T> {
    /// The ring (the async forms' hook).
    #[cfg(feature = "tokio")]
    pub(crate) fn ring(&self) -> &Ring {
        &self.h.ring
    }

    fn from_ring(ring: Ring) -> Self {
        Queue {
            h: Handle::new(ring, false),
            _t: PhantomData,
        }
    }

    /// Creates a queue with no item limit (the ring holds 1 MiB of encoded items; a
    /// put waits when it is full).
    ///
    /// # Errors
    /// The shared segment could not be created (`memfd_create`, `ftruncate`, `mmap`).
    ///
    /// ```
    /// use multiproc_queue::Queue;
    /// let q = Queue::<String>::new()?;
    /// q.put("job".to_owned())?;
    /// assert_eq!(q.get()?, "job");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new() -> Result<Self, CreateError> {
        Self::with_capacity(0, ring::DEFAULT_RING)
    }

    /// Creates a queue that holds at most `maxsize` items (0 = no limit, as in CPython).
    ///
    /// ```
    /// let q = multiproc_queue::Queue::with_maxsize(1)?;
    /// q.try_put(1u8)?;
    /// assert!(q.try_put(2u8).unwrap_err().is_full());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_maxsize(maxsize: usize) -> Result<Self, CreateError> {
        Self::with_capacity(maxsize, ring::DEFAULT_RING)
    }

    /// Creates a queue holding at most `maxsize` items (0 = no limit) in a ring of
    /// `ring_bytes` bytes (rounded up to 4 KiB, at least 4 KiB). Items whose encoding
    /// does not fit the ring still pass: whole through the bulk area beside it (four
    /// times `ring_bytes`, at most 64 MiB, memory used only once such items are put), or
    /// streamed through the ring if larger still.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    ///
    /// ```
    /// use multiproc_queue::Queue;
    /// let q = Queue::<u8>::with_capacity(2, 1 << 16)?; // 2 items, a 64 KiB ring
    /// assert_eq!(q.maxsize(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_capacity(maxsize: usize, ring_bytes: usize) -> Result<Self, CreateError> {
        let ring = Ring::create(maxsize as u64, ring_bytes)?;
        let q = Self::from_ring(ring);
        if q.h.reg.load(Ordering::Relaxed) == 0 {
            return Err(CreateError::TooManyProcesses);
        }
        Ok(q)
    }

    /// Number of items in the queue: completed puts minus completed gets, read from
    /// shared counters. Exact when nothing is in progress; while puts and gets run
    /// concurrently it may be stale by the time you use it (as any length of a
    /// concurrent queue).
    ///
    /// ```
    /// use multiproc_queue::Queue;
    /// let q = Queue::<i64>::new()?;
    /// q.put(1)?;
    /// q.put(2)?;
    /// assert_eq!(q.qsize(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn qsize(&self) -> usize {
        self.h.ring.len() as usize
    }

    /// Whether [`qsize`](Self::qsize) is 0.
    ///
    /// ```
    /// use multiproc_queue::Queue;
    /// let q = Queue::<i64>::new()?;
    /// assert!(q.is_empty());
    /// q.put(1)?;
    /// assert!(!q.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.qsize() == 0
    }

    /// Whether a put would have to wait now: `maxsize` items are in the queue, or its
    /// ring is full.
    ///
    /// ```
    /// use multiproc_queue::Queue;
    /// let q = Queue::<i64>::with_maxsize(1)?;
    /// assert!(!q.is_full());
    /// q.put(1)?;
    /// assert!(q.is_full());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_full(&self) -> bool {
        self.h.ring.is_full()
    }

    /// The item limit (0 = none).
    ///
    /// ```
    /// use multiproc_queue::Queue;
    /// assert_eq!(Queue::<i64>::new()?.maxsize(), 0); // no limit
    /// assert_eq!(Queue::<i64>::with_maxsize(8)?.maxsize(), 8);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn maxsize(&self) -> usize {
        self.h.ring.maxsize() as usize
    }

    /// Marks this handle as done putting (CPython's `close`): its puts fail with
    /// [`PutError::Closed`] from now on; it can still get. Getters drain what is in the
    /// queue, then get [`GetError::Closed`] once every handle in every live process is
    /// closed or dropped. Idempotent. Dropping a handle closes it.
    ///
    /// ```
    /// use multiproc_queue::Queue;
    /// let q = Queue::<i64>::new()?;
    /// q.put(1)?;
    /// q.close();
    /// assert!(q.put(2).is_err()); // Closed
    /// assert_eq!(q.get()?, 1); // what was put stays
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(&self) {
        self.h.close();
    }

    /// Whether [`close`](Self::close) was called on this handle.
    ///
    /// ```
    /// use multiproc_queue::Queue;
    /// let q = Queue::<i64>::new()?;
    /// assert!(!q.is_closed());
    /// q.close();
    /// assert!(q.is_closed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        self.h.closed.load(Ordering::Acquire)
    }

    /// Whether getters on an empty queue would be told [`GetError::Closed`]: no live
    /// process holds an open handle (scans the producer registry).
    ///
    /// ```
    /// use multiproc_queue::Queue;
    /// let q = Queue::<i64>::new()?;
    /// assert!(!q.producers_gone()); // this process holds an open handle
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn producers_gone(&self) -> bool {
        self.h.ring.producers_gone()
    }

    /// Declares that **this process** will not get from this queue (through any of its
    /// handles, now or later), so that its puts can learn that nobody is left to read:
    /// a [`put`](Self::put) or [`put_timeout`](Self::put_timeout) waiting for room
    /// then fails with [`PutError::NoConsumer`] (the item handed back) once no live
    /// process that may get is left, instead of waiting for ever — say after Ctrl-C or
    /// a crash killed every worker.
    ///
    /// A handle can both put and get (as in CPython), so every process holding one
    /// counts as a consumer — including this one until it calls this, since another of
    /// its threads might get. Handles in transit to another process count as consumers,
    /// and so do the handles a `fork` child inherited. A process killed by a signal no
    /// longer counts. The check runs only once a put has waited about 20 ms for room
    /// (no cost on the fast path; `try_put` still reports [`PutError::Full`]).
    /// The declaration is a promise the queue does not enforce: gets through this
    /// process's handles still work, but other putters may already have been told
    /// `NoConsumer`. It holds for the life of the process and is not inherited by its
    /// children.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_queue::{PutError, Queue};
    ///
    /// let q = Queue::with_maxsize(1)?;
    /// q.close_receiving()?; // this process only puts; no other process holds `q`
    /// q.put(1u32)?; // room: no question asked
    /// match q.put_timeout(2, Duration::from_secs(60)) {
    ///     Err(PutError::NoConsumer(item)) => assert_eq!(item, 2), // not a 60 s wait
    ///     other => panic!("expected NoConsumer, got {other:?}"),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`PutError::TooManyProcesses`] (with `()`) if this process could not register
    /// with the queue.
    pub fn close_receiving(&self) -> Result<(), PutError<()>> {
        // This process's entry (found or claimed), whether or not this handle counts.
        let idx = self
            .h
            .ring
            .register(false)
            .ok_or(PutError::TooManyProcesses(()))?;
        self.h.ring.close_receiving(idx);
        Ok(())
    }
}

impl<T: Serialize> Queue<T> {
    /// Puts `item`, waiting for room if the queue is full.
    ///
    /// The family: `put` waits as long as it takes, [`put_timeout`](Self::put_timeout)
    /// at most a given time, [`try_put`](Self::try_put) not at all; a failed put hands
    /// the item back.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_queue::{PutError, Queue};
    ///
    /// let q = Queue::with_maxsize(1)?;
    /// q.put(1u32)?; // room: returns at once
    /// let full = q.put_timeout(2, Duration::from_millis(10)).unwrap_err();
    /// assert!(full.is_timeout());
    /// assert_eq!(full.into_inner(), 2); // the item comes back
    /// assert!(q.try_put(3).unwrap_err().is_full());
    /// assert_eq!(q.get()?, 1);
    /// q.put_timeout(4, Duration::from_secs(60))?; // room again
    /// q.close();
    /// assert!(matches!(q.put(5), Err(PutError::Closed(5))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`PutError::Closed`], [`PutError::Encode`], [`PutError::TooLarge`],
    /// [`PutError::TooManyProcesses`], and [`PutError::NoConsumer`] in a process that
    /// declared [`close_receiving`](Self::close_receiving); the item comes back in the
    /// error.
    pub fn put(&self, item: T) -> Result<(), PutError<T>> {
        self.h.put(item, Block::Until(None))
    }

    /// Puts `item`, waiting at most `timeout` for room.
    ///
    /// An item larger than the bulk area that has started streaming when the timeout expires
    /// is withdrawn (readers drop its partial bytes).
    ///
    /// # Errors
    /// [`PutError::Timeout`] and those of [`put`](Self::put).
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_queue::Queue;
    /// let q = Queue::<i64>::with_maxsize(1)?;
    /// q.put_timeout(1, Duration::from_secs(60))?;
    /// assert!(q.put_timeout(2, Duration::from_millis(10)).is_err()); // still full: Timeout
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), PutError<T>> {
        self.h.put(item, Block::Until(deadline_after(timeout)))
    }

    /// Puts `item` only if there is room now (CPython's `put_nowait`).
    ///
    /// Items larger than the bulk area (four times the ring) need a consumer reading
    /// concurrently, so they usually
    /// come back as `Full`.
    ///
    /// # Errors
    /// [`PutError::Full`] and those of [`put`](Self::put).
    ///
    /// ```
    /// use multiproc_queue::Queue;
    /// let q = Queue::<i64>::with_maxsize(1)?;
    /// q.try_put(1)?;
    /// assert!(q.try_put(2).unwrap_err().is_full());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_put(&self, item: T) -> Result<(), PutError<T>> {
        self.h.put(item, Block::No)
    }
}

impl<T: DeserializeOwned> Queue<T> {
    /// Takes the oldest item, waiting for one.
    ///
    /// The family: `get` waits as long as it takes, [`get_timeout`](Self::get_timeout)
    /// at most a given time, [`try_get`](Self::try_get) not at all.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_queue::{GetError, Queue};
    ///
    /// let q: Queue<String> = Queue::new()?;
    /// assert!(matches!(q.try_get(), Err(GetError::Empty)));
    /// assert!(matches!(q.get_timeout(Duration::from_millis(10)), Err(GetError::Timeout)));
    /// q.put("a".to_string())?;
    /// q.put("b".to_string())?;
    /// q.put("c".to_string())?;
    /// assert_eq!(q.try_get()?, "a");
    /// assert_eq!(q.get_timeout(Duration::from_secs(60))?, "b");
    /// assert_eq!(q.get()?, "c");
    /// q.close(); // the last open handle: an empty queue now reports `Closed`
    /// assert!(matches!(q.get(), Err(GetError::Closed)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`GetError::Closed`] when the queue is empty and no producer remains;
    /// [`GetError::Decode`] if the item is not a `T`.
    pub fn get(&self) -> Result<T, GetError> {
        self.h.get(None, false)
    }

    /// Takes the oldest item, waiting at most `timeout`.
    ///
    /// Once an item larger than the bulk area has started arriving, the get finishes
    /// receiving it even past the timeout (as long as its producer keeps writing).
    ///
    /// # Errors
    /// [`GetError::Timeout`] and those of [`get`](Self::get).
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_queue::{GetError, Queue};
    /// let q = Queue::<i64>::new()?;
    /// assert!(matches!(q.get_timeout(Duration::from_millis(10)), Err(GetError::Timeout)));
    /// q.put(1)?;
    /// assert_eq!(q.get_timeout(Duration::from_secs(60))?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, GetError> {
        self.h.get(deadline_after(timeout), false)
    }

    /// Takes the oldest item if there is one now (CPython's `get_nowait`).
    ///
    /// # Errors
    /// [`GetError::Empty`] (also when another getter holds the consumer side at this
    /// instant) and those of [`get`](Self::get).
    ///
    /// ```
    /// use multiproc_queue::Queue;
    /// let q = Queue::<i64>::new()?;
    /// assert!(q.try_get().is_err()); // Empty
    /// q.put(1)?;
    /// assert_eq!(q.try_get()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_get(&self) -> Result<T, GetError> {
        self.h.get(Some(Instant::now()), true)
    }

    /// An iterator that blocks for each item and ends when the queue is closed and
    /// drained ([`GetError::Closed`]). Other errors are yielded.
    ///
    /// ```
    /// let q = multiproc_queue::Queue::new()?;
    /// for i in 0..3u32 {
    ///     q.put(i)?;
    /// }
    /// q.close();
    /// let all: Result<Vec<u32>, _> = q.iter().collect();
    /// assert_eq!(all?, [0, 1, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { q: self }
    }
}

impl<T> Clone for Queue<T> {
    /// Another handle on the same queue (open unless this one is closed).
    fn clone(&self) -> Self {
        Queue {
            h: self.h.clone(),
            _t: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("qsize", &self.qsize())
            .field("maxsize", &self.maxsize())
            .field("ring_bytes", &self.h.ring.capacity_bytes())
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl<T> Serialize for Queue<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.h.serialize(s)
    }
}

impl<'de, T> Deserialize<'de> for Queue<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Queue {
            h: Handle::deserialize(d)?,
            _t: PhantomData,
        })
    }
}

/// Blocking iterator over a queue's items; see [`Queue::iter`].
///
/// ```
/// use multiproc_queue::Queue;
///
/// let q = Queue::new()?;
/// q.put('x')?;
/// q.close();
/// let mut it = q.iter();
/// assert_eq!(it.next().transpose()?, Some('x'));
/// assert!(it.next().is_none()); // closed and drained
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Iter<'a, T> {
    q: &'a Queue<T>,
}

impl<T> fmt::Debug for Iter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter").field("queue", self.q).finish()
    }
}

impl<T: DeserializeOwned> Iterator for Iter<'_, T> {
    type Item = Result<T, GetError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.q.get() {
            Err(GetError::Closed) => None,
            r => Some(r),
        }
    }
}

impl<'a, T: DeserializeOwned> IntoIterator for &'a Queue<T> {
    type Item = Result<T, GetError>;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

/// An unbounded queue with the minimal interface (CPython's `SimpleQueue`): `put`,
/// `get` (plus timeout and non-blocking forms, which CPython lacks), `is_empty`, `close`.
///
/// It is a [`Queue`] without `maxsize`; a put waits only when the ring is full.
///
/// ```
/// let q = multiproc_queue::SimpleQueue::new()?;
/// q.put("x".to_string())?;
/// assert_eq!(q.get()?, "x");
/// assert!(q.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SimpleQueue<T>(Queue<T>);

impl<T> SimpleQueue<T> {
    /// The queue underneath (the async form's hook).
    #[cfg(feature = "tokio")]
    pub(crate) fn inner(&self) -> &Queue<T> {
        &self.0
    }

    /// Creates an empty queue (1 MiB ring).
    ///
    /// # Errors
    /// As [`Queue::new`].
    ///
    /// ```
    /// use multiproc_queue::SimpleQueue;
    /// let q = SimpleQueue::<i64>::new()?;
    /// q.put(1)?;
    /// assert_eq!(q.get()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new() -> Result<Self, CreateError> {
        Queue::new().map(SimpleQueue)
    }

    /// Whether the queue holds no item.
    ///
    /// ```
    /// use multiproc_queue::SimpleQueue;
    /// let q = SimpleQueue::<i64>::new()?;
    /// assert!(q.is_empty());
    /// q.put(1)?;
    /// assert!(!q.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Marks this handle as done putting; see [`Queue::close`].
    ///
    /// ```
    /// use multiproc_queue::SimpleQueue;
    /// let q = SimpleQueue::<i64>::new()?;
    /// q.close();
    /// assert!(q.put(1).is_err()); // Closed
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(&self) {
        self.0.close();
    }
}

impl<T: Serialize> SimpleQueue<T> {
    /// Puts `item`; see [`Queue::put`].
    ///
    /// # Errors
    /// As [`Queue::put`].
    ///
    /// ```
    /// use multiproc_queue::SimpleQueue;
    /// let q = SimpleQueue::<String>::new()?;
    /// q.put("a".to_owned())?;
    /// assert_eq!(q.get()?, "a");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put(&self, item: T) -> Result<(), PutError<T>> {
        self.0.put(item)
    }
}

impl<T: DeserializeOwned> SimpleQueue<T> {
    /// Takes the oldest item, waiting; see [`Queue::get`].
    ///
    /// # Errors
    /// As [`Queue::get`].
    ///
    /// ```
    /// use multiproc_queue::SimpleQueue;
    /// let q = SimpleQueue::<i64>::new()?;
    /// q.put(1)?;
    /// q.put(2)?;
    /// assert_eq!((q.get()?, q.get()?), (1, 2)); // first in, first out
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(&self) -> Result<T, GetError> {
        self.0.get()
    }

    /// Takes the oldest item, waiting at most `timeout`.
    ///
    /// # Errors
    /// As [`Queue::get_timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_queue::SimpleQueue;
    /// let q = SimpleQueue::<i64>::new()?;
    /// assert!(q.get_timeout(Duration::from_millis(10)).is_err()); // Timeout
    /// q.put(1)?;
    /// assert_eq!(q.get_timeout(Duration::from_secs(60))?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, GetError> {
        self.0.get_timeout(timeout)
    }

    /// Takes the oldest item if there is one now.
    ///
    /// # Errors
    /// As [`Queue::try_get`].
    ///
    /// ```
    /// use multiproc_queue::SimpleQueue;
    /// let q = SimpleQueue::<i64>::new()?;
    /// assert!(q.try_get().is_err());
    /// q.put(1)?;
    /// assert_eq!(q.try_get()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_get(&self) -> Result<T, GetError> {
        self.0.try_get()
    }

    /// Blocking iterator until closed and drained; see [`Queue::iter`].
    ///
    /// ```
    /// use multiproc_queue::SimpleQueue;
    /// let q = SimpleQueue::<i64>::new()?;
    /// q.put(1)?;
    /// q.put(2)?;
    /// q.close(); // the last producer handle: the iterator ends once drained
    /// let all: Vec<i64> = q.iter().collect::<Result<_, _>>()?;
    /// assert_eq!(all, [1, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        self.0.iter()
    }
}

impl<T> Clone for SimpleQueue<T> {
    fn clone(&self) -> Self {
        SimpleQueue(self.0.clone())
    }
}

impl<T> fmt::Debug for SimpleQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SimpleQueue").field(&self.0).finish()
    }
}

impl<T> Serialize for SimpleQueue<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de, T> Deserialize<'de> for SimpleQueue<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Queue::deserialize(d).map(SimpleQueue)
    }
}

/// A [`Queue`] that also counts unfinished tasks (CPython's `JoinableQueue`): every put
/// adds one, [`task_done`](Self::task_done) removes one, [`join`](Self::join) waits
/// until none remain. Derefs to [`Queue`] for everything else.
///
/// ```
/// let q = multiproc_queue::JoinableQueue::new()?;
/// q.put(6u32 * 7)?;
/// let worker = q.clone();
/// let t = std::thread::spawn(move || {
///     let x: u32 = worker.get().unwrap();
///     worker.task_done().unwrap();
///     x
/// });
/// q.join()?; // returns once the worker called task_done
/// assert_eq!(t.join().unwrap(), 42);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct JoinableQueue<T>(Queue<T>);

impl<T> JoinableQueue<T> {
    /// Creates a queue with no item limit.
    ///
    /// # Errors
    /// As [`Queue::new`].
    ///
    /// ```
    /// use multiproc_queue::JoinableQueue;
    /// let q = JoinableQueue::<i64>::new()?;
    /// q.put(1)?;
    /// assert_eq!(q.unfinished_tasks(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new() -> Result<Self, CreateError> {
        Queue::new().map(JoinableQueue)
    }

    /// Creates a queue holding at most `maxsize` items (0 = no limit).
    ///
    /// # Errors
    /// As [`Queue::new`].
    ///
    /// ```
    /// use multiproc_queue::JoinableQueue;
    /// let q = JoinableQueue::<i64>::with_maxsize(1)?;
    /// q.put(1)?;
    /// assert!(q.try_put(2).is_err()); // Full
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_maxsize(maxsize: usize) -> Result<Self, CreateError> {
        Queue::with_maxsize(maxsize).map(JoinableQueue)
    }

    /// Marks one item taken with `get` as processed.
    ///
    /// # Errors
    /// [`JoinError::TooManyTaskDone`] if called more times than items were put.
    ///
    /// ```
    /// use multiproc_queue::JoinableQueue;
    /// let q = JoinableQueue::<i64>::new()?;
    /// q.put(1)?;
    /// q.get()?;
    /// q.task_done()?;
    /// assert!(q.task_done().is_err()); // TooManyTaskDone
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn task_done(&self) -> Result<(), JoinError> {
        if self.0.h.ring.task_done() {
            Ok(())
        } else {
            Err(JoinError::TooManyTaskDone)
        }
    }

    /// Items put and not yet marked done.
    ///
    /// ```
    /// use multiproc_queue::JoinableQueue;
    /// let q = JoinableQueue::<i64>::new()?;
    /// q.put(1)?;
    /// q.get()?;
    /// assert_eq!(q.unfinished_tasks(), 1); // got, not yet done
    /// q.task_done()?;
    /// assert_eq!(q.unfinished_tasks(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unfinished_tasks(&self) -> usize {
        self.0.h.ring.unfinished() as usize
    }

    /// Waits until every item put so far has been marked done.
    ///
    /// A consumer that dies between `get` and `task_done` leaves its task unfinished:
    /// use [`join_timeout`](Self::join_timeout) where that can happen.
    ///
    /// # Errors
    /// None today; the `Result` leaves room for failure reports.
    ///
    /// ```
    /// use multiproc_queue::JoinableQueue;
    /// let q = JoinableQueue::<i64>::new()?;
    /// q.put(1)?;
    /// q.get()?;
    /// q.task_done()?;
    /// q.join()?; // every item done: returns at once
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn join(&self) -> Result<(), JoinError> {
        // Without a deadline the wait ends only when every task is done: no timeout.
        let _ = self.0.h.ring.join(None);
        Ok(())
    }

    /// Waits at most `timeout` until every item put so far has been marked done:
    /// `Ok(true)` when they were, `Ok(false)` on timeout (the shape of every
    /// `join_timeout`: `Process`, `Pool`, the manager's queue proxy).
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_queue::{JoinError, JoinableQueue};
    ///
    /// let q = JoinableQueue::new()?;
    /// q.put(1u8)?;
    /// assert_eq!(q.unfinished_tasks(), 1);
    /// assert!(!q.join_timeout(Duration::from_millis(10))?); // timed out
    /// assert_eq!(q.get()?, 1);
    /// q.task_done()?;
    /// assert!(q.join_timeout(Duration::from_secs(60))?); // nothing unfinished: at once
    /// assert_eq!(q.task_done(), Err(JoinError::TooManyTaskDone));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// None today; the `Result` leaves room for failure reports, as in
    /// [`join`](Self::join).
    pub fn join_timeout(&self, timeout: Duration) -> Result<bool, JoinError> {
        Ok(self.0.h.ring.join(deadline_after(timeout)).is_ok())
    }
}

impl<T> Deref for JoinableQueue<T> {
    type Target = Queue<T>;

    fn deref(&self) -> &Queue<T> {
        &self.0
    }
}

impl<T> Clone for JoinableQueue<T> {
    fn clone(&self) -> Self {
        JoinableQueue(self.0.clone())
    }
}

impl<T> fmt::Debug for JoinableQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinableQueue")
            .field("queue", &self.0)
            .field("unfinished_tasks", &self.unfinished_tasks())
            .finish()
    }
}

impl<T> Serialize for JoinableQueue<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de, T> Deserialize<'de> for JoinableQueue<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Queue::deserialize(d).map(JoinableQueue)
    }
}
