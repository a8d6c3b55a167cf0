//! [`Connection`]: a framed, typed, bidirectional byte channel between processes, and
//! [`Pipe`], which makes a connected pair.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::depth::DEFAULT_MAX_DEPTH;
use crate::error::{RecvError, SendError};
use crate::frame::{self, DEFAULT_MAX_FRAME, MAX_HEADER, ShortHeader};
use crate::handle;
use crate::sys::{self, Fill, Start};

mod large;

/// Default spin budget of a blocking receive (see [`Connection::set_spin`]): about the
/// cost of one sleep/wake-up of a process on another CPU, so spinning never costs more
/// than the sleep it may save.
///
/// ```
/// use multiproc_ipc::Pipe;
/// let (a, b) = Pipe::duplex()?;
/// a.set_spin(multiproc_ipc::DEFAULT_SPIN); // the default, set again
/// a.send(&1_u8)?;
/// assert_eq!(b.recv::<u8>()?, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const DEFAULT_SPIN: Duration = Duration::from_micros(50);
/// A gap this long between two turns of the spin loop means the thread was descheduled.
const PREEMPTED: Duration = Duration::from_micros(20);
/// Every this many turns, the spin yields the CPU once (`sched_yield`), so a peer that
/// waits for this very CPU gets it without waiting for the scheduler to preempt us.
const YIELD_EVERY: u32 = 16;
/// A large frame's receive buffer reserves address space for the announced length
/// up to this much at once (see `read_big_payload`); beyond, it doubles as bytes arrive.
const TRUSTED_CLAIM: usize = 64 << 20;
/// Frames up to this size are copied behind their header and sent with one `send`.
const COALESCE: usize = 16 << 10;
/// Receives that waited, per measurement epoch of the adaptive wait.
const EPOCH: u32 = 32;
/// Every this many epochs, the waiting mode that currently loses is measured again.
const PROBE_EVERY: u32 = 8;
/// The typed send and receive buffers are kept between messages up to this capacity
/// (beyond, freed after the message, so one huge message does not pin its buffer).
/// At 1 MiB — the previous bound — a 1 MiB typed message (whose buffer doubles past
/// it) got a fresh buffer on both sides every time and paid its page faults (256 of
/// them per MiB, per side); 4 MiB matches the socket buffers a large frame asks for
/// anyway ([`BIG_BUFFER`]).
const RETAIN: usize = 4 << 20;
/// A threshold for [`Connection::enable_shm`]: messages of 1 MiB and more go through
/// shared memory (a starting point; the measured figures are in docs/benchmarks.md).
///
/// ```
/// use multiproc_ipc::{Pipe, DEFAULT_SHM_THRESHOLD};
/// let (a, b) = Pipe::duplex()?;
/// a.enable_shm(DEFAULT_SHM_THRESHOLD)?;
/// b.enable_shm(DEFAULT_SHM_THRESHOLD)?;
/// assert_eq!(a.shm_threshold(), Some(DEFAULT_SHM_THRESHOLD));
/// // A message of the threshold's size travels through shared memory.
/// a.send_bytes(&vec![7u8; DEFAULT_SHM_THRESHOLD])?;
/// assert_eq!(b.recv_bytes()?.len(), DEFAULT_SHM_THRESHOLD);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const DEFAULT_SHM_THRESHOLD: usize = 1 << 20;
/// Frames at least this large enlarge the socket buffers (once per connection).
const BIG_FRAME: usize = 256 << 10;
/// The socket buffer size asked for then (the kernel caps it at `net.core.wmem_max`).
const BIG_BUFFER: usize = 4 << 20;

/// What the descriptor under a [`Connection`] is; decides whether handles can travel.
///
/// ```
/// use multiproc_ipc::{Pipe, Transport};
/// let (a, _b) = Pipe::duplex()?;
/// assert_eq!(a.transport(), Transport::Unix); // can carry handles
/// let (r, _w) = Pipe::simplex()?;
/// assert_eq!(r.transport(), Transport::Pipe); // bytes only
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Transport {
    /// An `AF_UNIX` stream socket: carries bytes and handles.
    Unix,
    /// A pipe: one direction, bytes only.
    Pipe,
    /// A TCP (or other non-Unix) stream socket: bytes only.
    Tcp,
}

/// One end of a framed channel to another process (CPython's `multiprocessing.connection.Connection`).
///
/// * [`send`](Self::send)/[`recv`](Self::recv) move any serde value (postcard-encoded),
///   including values that hold OS handles, such as another `Connection`.
/// * [`send_bytes`](Self::send_bytes)/[`recv_bytes`](Self::recv_bytes) move raw byte
///   frames in CPython's framing, so a Python peer can read and write them.
/// * Every blocking call has a `_timeout` form; [`poll`](Self::poll) waits for data.
///
/// A `Connection` is `Send + Sync`: whole frames are sent and received under an internal
/// lock, so several threads may share one end without interleaving frames (CPython's
/// known corruption, KI-21, cannot happen). Dropping it closes the descriptor; the peer
/// then sees [`RecvError::Eof`].
///
/// ```
/// let (a, b) = multiproc_ipc::Pipe::duplex()?;
/// a.send(&(42, None::<i32>, "hello".to_string()))?;
/// let v: (i32, Option<i32>, String) = b.recv()?;
/// assert_eq!(v, (42, None, "hello".into()));
/// b.send_bytes(b"raw bytes")?;
/// assert_eq!(a.recv_bytes()?, b"raw bytes");
/// drop(b);
/// assert!(matches!(a.recv::<u8>(), Err(multiproc_ipc::RecvError::Eof)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Connection {
    fd: OwnedFd,
    transport: Transport,
    readable: bool,
    writable: bool,
    max_frame: AtomicU64,
    max_depth: AtomicUsize,
    spin_ns: AtomicU64,
    /// The adaptive wait's measurements (see `spin_until_readable`); only touched
    /// under the receive lock, so never contended.
    waiter: Mutex<Waiter>,
    /// Whether the socket buffers were already enlarged for large frames.
    big_buffers: AtomicBool,
    /// Set when a frame was left half-read for good (too large, an I/O error
    /// mid-frame): the byte stream is no longer at a frame boundary.
    desync: AtomicBool,
    /// A frame a receive's deadline cut part-way, resumed by the next receive; only
    /// touched under the receive lock (`recv_buf`), so never contended.
    partial: Mutex<Option<Partial>>,
    /// Whether `partial` holds a frame (checked without locking it on every receive).
    has_partial: AtomicBool,
    /// Set when a send with a deadline gave up after part of its frame went out: the
    /// peer would read a cut frame, so this end sends nothing more.
    send_desync: AtomicBool,
    send_buf: Mutex<Vec<u8>>,
    recv_buf: Mutex<Vec<u8>>,
    /// Large messages through shared memory, when enabled (see `crate::shm`).
    shm: crate::shm::Shm,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("fd", &self.fd.as_raw_fd())
            .field("transport", &self.transport)
            .field("readable", &self.readable)
            .field("writable", &self.writable)
            .finish()
    }
}

/// Constructors for connected pairs (CPython's `multiprocessing.Pipe`).
///
/// ```
/// use multiproc_ipc::Pipe;
/// let (parent, child) = Pipe::new(true)?; // `Pipe()`: duplex
/// let t = std::thread::spawn(move || -> Result<(), String> {
///     let n: u64 = child.recv().map_err(|e| e.to_string())?;
///     child.send(&(n * 2)).map_err(|e| e.to_string())
/// });
/// parent.send(&21u64)?;
/// assert_eq!(parent.recv::<u64>()?, 42);
/// t.join().expect("no panic")?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Pipe;

impl Pipe {
    /// A duplex pair over a Unix socketpair: both ends read and write, and can carry handles.
    /// CPython's `Pipe()` / `Pipe(duplex=True)`.
    ///
    /// # Errors
    /// `socketpair(2)` failed (e.g. out of descriptors).
    ///
    /// ```
    /// use multiproc_ipc::Pipe;
    /// let (a, b) = Pipe::duplex()?;
    /// a.send(&"ping")?;
    /// assert_eq!(b.recv::<String>()?, "ping");
    /// b.send(&"pong")?; // both ends read and write
    /// assert_eq!(a.recv::<String>()?, "pong");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn duplex() -> io::Result<(Connection, Connection)> {
        let (a, b) = sys::unix_pair()?;
        Ok((
            Connection::new(a, Transport::Unix, true, true),
            Connection::new(b, Transport::Unix, true, true),
        ))
    }

    /// A one-way pair `(reader, writer)` over `pipe(2)`. CPython's `Pipe(duplex=False)`.
    /// Pipes carry bytes only: sending a value that holds handles fails with
    /// [`SendError::HandlesUnsupported`].
    ///
    /// ```
    /// let (r, w) = multiproc_ipc::Pipe::simplex()?;
    /// w.send(&1u8)?;
    /// assert_eq!(r.recv::<u8>()?, 1);
    /// assert!(!r.writable() && !w.readable());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// `pipe2(2)` failed.
    pub fn simplex() -> io::Result<(Connection, Connection)> {
        let (r, w) = sys::pipe()?;
        Ok((
            Connection::new(r, Transport::Pipe, true, false),
            Connection::new(w, Transport::Pipe, false, true),
        ))
    }

    /// `Pipe(duplex)` in CPython's spelling.
    ///
    /// # Errors
    /// As [`Pipe::duplex`] / [`Pipe::simplex`].
    #[expect(
        clippy::new_ret_no_self,
        reason = "CPython's `Pipe(duplex)` returns a pair"
    )]
    pub fn new(duplex: bool) -> io::Result<(Connection, Connection)> {
        if duplex {
            Self::duplex()
        } else {
            Self::simplex()
        }
    }
}

impl Connection {
    fn new(fd: OwnedFd, transport: Transport, readable: bool, writable: bool) -> Self {
        Connection {
            fd,
            transport,
            readable,
            writable,
            max_frame: AtomicU64::new(DEFAULT_MAX_FRAME),
            max_depth: AtomicUsize::new(DEFAULT_MAX_DEPTH),
            spin_ns: AtomicU64::new(DEFAULT_SPIN.as_nanos() as u64),
            waiter: Mutex::new(Waiter::default()),
            big_buffers: AtomicBool::new(false),
            desync: AtomicBool::new(false),
            partial: Mutex::new(None),
            has_partial: AtomicBool::new(false),
            send_desync: AtomicBool::new(false),
            send_buf: Mutex::new(Vec::new()),
            recv_buf: Mutex::new(Vec::new()),
            shm: crate::shm::Shm::default(),
        }
    }

    /// Wraps a connected stream socket or a pipe end. The kind of descriptor is detected
    /// (`fstat`, `SO_DOMAIN`); a pipe end is taken as readable and writable unless you
    /// know better, in which case use [`Connection::from_fd_with`].
    ///
    /// The descriptor should be in blocking mode (as CPython's `Connection` expects
    /// too): on a non-blocking one, the blocking [`send`](Self::send) and
    /// [`recv`](Self::recv) fail at once with an `Io` error of kind `WouldBlock` when
    /// they would wait. The timed forms wait with `poll` and work either way.
    ///
    /// ```
    /// use multiproc_ipc::Connection;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// let (a, b) = (Connection::from_fd(a.into()), Connection::from_fd(b.into()));
    /// a.send(&"hi")?;
    /// assert_eq!(b.recv::<String>()?, "hi");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_fd(fd: OwnedFd) -> Self {
        let transport = if sys::is_socket(fd.as_fd()) {
            if sys::is_unix_socket(fd.as_fd()) {
                Transport::Unix
            } else {
                Transport::Tcp
            }
        } else {
            Transport::Pipe
        };
        Connection::new(fd, transport, true, true)
    }

    /// Wraps `fd` with an explicit transport and direction.
    ///
    /// ```
    /// use multiproc_ipc::{Connection, Pipe, Transport};
    /// let (a, b) = Pipe::duplex()?;
    /// let b = Connection::from_fd_with(b.into_fd(), Transport::Unix, true, false); // read only
    /// assert!(!b.writable());
    /// a.send(&5_u8)?;
    /// assert_eq!(b.recv::<u8>()?, 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_fd_with(fd: OwnedFd, transport: Transport, readable: bool, writable: bool) -> Self {
        Connection::new(fd, transport, readable, writable)
    }

    /// Gives up the descriptor without closing it.
    ///
    /// ```
    /// use multiproc_ipc::{Connection, Pipe};
    /// let (a, b) = Pipe::duplex()?;
    /// let fd = b.into_fd(); // still open
    /// let b = Connection::from_fd(fd);
    /// a.send(&5_u8)?;
    /// assert_eq!(b.recv::<u8>()?, 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    /// The transport under this end.
    ///
    /// ```
    /// use multiproc_ipc::{Pipe, Transport};
    /// let (a, _b) = Pipe::duplex()?;
    /// assert_eq!(a.transport(), Transport::Unix);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Whether this end may receive (CPython's `readable`): not for the writing end of
    /// a [`Pipe::simplex`], and no longer once a receive left the stream in the middle
    /// of a frame for good (a frame over the limit, an I/O error part-way through one),
    /// after which receives fail with [`RecvError::Closed`] — as CPython clears
    /// `readable` after a bad message length. A copy sent to another process carries
    /// this too. (A frame cut by a receive's deadline is not such a case: the next
    /// receive resumes it; but a copy sent meanwhile is not readable, since the part
    /// already read stays with this end.)
    ///
    /// ```
    /// use multiproc_ipc::{Pipe, RecvError};
    /// let (a, b) = Pipe::duplex()?;
    /// b.send_bytes(&[7u8; 100])?;
    /// assert!(matches!(a.recv_bytes_max(Some(10), None), Err(RecvError::TooLarge { .. })));
    /// assert!(!a.readable() && a.writable());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn readable(&self) -> bool {
        self.readable && !self.desync.load(Ordering::Relaxed)
    }

    /// Whether this end may send (CPython's `writable`): not for the reading end of a
    /// [`Pipe::simplex`], and no longer once a send with a deadline gave up part-way
    /// through a frame (see [`send_timeout`](Self::send_timeout)). A copy sent to
    /// another process carries this too.
    ///
    /// ```
    /// use multiproc_ipc::Pipe;
    /// let (a, b) = Pipe::duplex()?;
    /// assert!(a.writable() && b.writable());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn writable(&self) -> bool {
        self.writable && !self.send_desync.load(Ordering::Relaxed)
    }

    /// The largest frame this end accepts or sends (default [`DEFAULT_MAX_FRAME`], 256 MiB).
    ///
    /// ```
    /// use multiproc_ipc::{Pipe, frame::DEFAULT_MAX_FRAME};
    /// let (a, _b) = Pipe::duplex()?;
    /// assert_eq!(a.max_frame(), DEFAULT_MAX_FRAME);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_frame(&self) -> u64 {
        self.max_frame.load(Ordering::Relaxed)
    }

    /// Sets the largest frame this end accepts or sends. A larger incoming header is
    /// refused before anything is allocated.
    ///
    /// ```
    /// use multiproc_ipc::Pipe;
    /// let (a, b) = Pipe::duplex()?;
    /// b.set_max_frame(4);
    /// a.send_bytes(b"too long")?;
    /// assert!(b.recv_bytes().is_err()); // refused before anything is allocated
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_max_frame(&self, limit: u64) {
        self.max_frame.store(limit, Ordering::Relaxed);
    }

    /// The deepest nesting a typed receive decodes (default [`DEFAULT_MAX_DEPTH`], 256
    /// levels; see [`decode_with_max_depth`](crate::decode_with_max_depth) for what
    /// counts as a level).
    ///
    /// ```
    /// use multiproc_ipc::{DEFAULT_MAX_DEPTH, Pipe};
    /// let (a, _b) = Pipe::duplex()?;
    /// assert_eq!(a.max_depth(), DEFAULT_MAX_DEPTH);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_depth(&self) -> usize {
        self.max_depth.load(Ordering::Relaxed)
    }

    /// Sets the deepest nesting a typed receive ([`recv`](Self::recv) and its forms)
    /// decodes. A deeper value is refused with [`CodecError::TooDeep`](crate::CodecError::TooDeep)
    /// inside [`RecvError::Decode`] instead of recursing on (a recursive type would
    /// otherwise decode as deep as the peer's bytes say and overflow the stack). The
    /// frame was read whole, so the connection stays usable. Raise it only as far as
    /// the receiving thread's stack allows (about 1.2 KiB per level in a debug build).
    ///
    /// ```
    /// use multiproc_ipc::{CodecError, Pipe, RecvError};
    /// let (a, b) = Pipe::duplex()?;
    /// b.set_max_depth(2);
    /// a.send(&vec![vec![vec![1u8]]])?;
    /// let err = b.recv::<Vec<Vec<Vec<u8>>>>().unwrap_err();
    /// assert!(matches!(err, RecvError::Decode(CodecError::TooDeep { limit: 2 })));
    /// a.send(&vec![vec![1u8]])?;
    /// assert_eq!(b.recv::<Vec<Vec<u8>>>()?, [[1]]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_max_depth(&self, limit: usize) {
        self.max_depth.store(limit, Ordering::Relaxed);
    }

    /// Sets how long a blocking receive spins (trying to read without sleeping) before
    /// it blocks in the kernel. The default, [`DEFAULT_SPIN`] (50 µs, about the cost of
    /// one sleep/wake-up), cuts round-trip latency several-fold when both peers are busy
    /// exchanging messages. The spin is adaptive: the connection measures the time
    /// between the frames it receives with and without spinning and keeps whichever is
    /// faster, re-measuring now and then; so an idle connection (where the spin would run out)
    /// or an oversubscribed machine (where it would steal the peer's CPU) falls back
    /// to sleeping, and a spin is also cut short when the thread is descheduled.
    /// Zero never spins: every receive sleeps in the kernel.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_ipc::Pipe;
    /// let (a, b) = Pipe::duplex()?;
    /// b.set_spin(Duration::ZERO); // always sleep in the kernel
    /// a.send(&1_u8)?;
    /// assert_eq!(b.recv::<u8>()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_spin(&self, spin: Duration) {
        self.spin_ns.store(
            u64::try_from(spin.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Closes this end (also done by dropping it).
    ///
    /// # Errors
    /// Never fails on Linux; kept for CPython's shape.
    ///
    /// ```
    /// use multiproc_ipc::Pipe;
    /// let (a, b) = Pipe::duplex()?;
    /// a.close()?;
    /// assert!(b.recv::<u8>().is_err()); // end of file
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(self) -> io::Result<()> {
        drop(self);
        Ok(())
    }

    // ---------------------------------------------------------------- sending

    /// Sends `value`, postcard-encoded, as one frame. Handles inside `value` travel as
    /// `SCM_RIGHTS`; the sender keeps its own copies.
    ///
    /// # Errors
    /// [`SendError::Encode`] when `value` cannot be encoded, [`SendError::HandlesUnsupported`]
    /// when it holds handles and this transport cannot carry them,
    /// [`SendError::Disconnected`] when the peer is gone.
    ///
    /// ```
    /// use multiproc_ipc::Pipe;
    /// let (a, b) = Pipe::duplex()?;
    /// a.send(&(1_u8, "two".to_owned()))?;
    /// assert_eq!(b.recv::<(u8, String)>()?, (1, "two".to_owned()));
    /// drop(b);
    /// assert!(a.send(&1_u8).is_err()); // Disconnected
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send<T: Serialize + ?Sized>(&self, value: &T) -> Result<(), SendError> {
        self.send_deadline(value, None)
    }

    /// [`send`](Self::send) that gives up with [`SendError::Timeout`] when the frame
    /// cannot be written within `timeout` (the peer does not read and the socket or pipe
    /// buffer is full).
    ///
    /// When nothing of the frame went out, the connection is unchanged. When the time
    /// ran out part-way through a large frame, the peer would see a cut frame: this end
    /// then refuses further sends with [`SendError::Closed`] (receiving still works).
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_ipc::{Pipe, SendError};
    ///
    /// let (a, _b) = Pipe::duplex()?;
    /// // Nobody reads `_b`: a frame larger than the socket buffer cannot go out.
    /// let big = vec![0u8; 8 << 20];
    /// let r = a.send_bytes_timeout(&big, Duration::from_millis(50));
    /// assert!(matches!(r, Err(SendError::Timeout)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`send`](Self::send), plus [`SendError::Timeout`].
    pub fn send_timeout<T: Serialize + ?Sized>(
        &self,
        value: &T,
        timeout: Duration,
    ) -> Result<(), SendError> {
        self.send_deadline(value, Instant::now().checked_add(timeout))
    }

    fn send_deadline<T: Serialize + ?Sized>(
        &self,
        value: &T,
        deadline: Option<Instant>,
    ) -> Result<(), SendError> {
        self.check_writable()?;
        let mut buf = lock(&self.send_buf);
        buf.clear();
        buf.resize(MAX_HEADER, 0);
        // Large byte strings are left out of the buffer, and sent from the value's
        // memory by a second pass (see `crate::split`).
        let mut holes = Vec::new();
        let skeleton = crate::split::Skeleton::new(std::mem::take(&mut *buf), &mut holes);
        let (bytes, mut fds) = handle::encode_with(value, skeleton).map_err(SendError::Encode)?;
        *buf = bytes;
        if !holes.is_empty() {
            let len = buf.len() - MAX_HEADER + holes.iter().map(|h| h.len).sum::<usize>();
            let shm = self.shm.threshold().is_some_and(|t| len >= t);
            if fds.is_empty() {
                self.check_size(len as u64)?;
                let r = if shm {
                    self.send_shm_split(value, &buf[MAX_HEADER..], &holes, len, deadline)
                } else {
                    Some(self.send_split(value, &mut buf, &holes, deadline))
                };
                if let Some(r) = r {
                    if buf.capacity() > RETAIN {
                        *buf = Vec::new();
                    }
                    return r;
                }
            }
            // Handles ride with the frame's first bytes: encode the value whole (and
            // so too when no segment could be had).
            drop(fds);
            buf.truncate(MAX_HEADER);
            fds = handle::encode_into(value, &mut buf).map_err(SendError::Encode)?;
        }
        if !fds.is_empty() && self.transport != Transport::Unix {
            return Err(SendError::HandlesUnsupported);
        }
        let len = (buf.len() - MAX_HEADER) as u64;
        self.check_size(len)?;
        if fds.is_empty() {
            if let Some(r) = self.send_shm(&buf[MAX_HEADER..], deadline) {
                if buf.capacity() > RETAIN {
                    *buf = Vec::new();
                }
                return r;
            }
        }
        let mut header = [0u8; MAX_HEADER];
        let hlen = frame::encode_header(len, &mut header);
        let start = MAX_HEADER - hlen;
        buf[start..MAX_HEADER].copy_from_slice(&header[..hlen]);
        let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(AsFd::as_fd).collect();
        let r = self.write_frame(&[&buf[start..]], &borrowed, deadline);
        if buf.capacity() > RETAIN {
            // Do not pin a large buffer after one big message.
            *buf = Vec::new();
        }
        r
    }

    /// Sends `buf` as one raw frame (CPython's `send_bytes(buf)`).
    ///
    /// # Errors
    /// [`SendError::TooLarge`] over the frame limit, [`SendError::Disconnected`] when the
    /// peer is gone.
    ///
    /// ```
    /// use multiproc_ipc::Pipe;
    /// let (a, b) = Pipe::duplex()?;
    /// a.send_bytes(b"raw")?;
    /// assert_eq!(b.recv_bytes()?, b"raw");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_bytes(&self, buf: &[u8]) -> Result<(), SendError> {
        self.send_bytes_deadline(buf, None)
    }

    /// [`send_bytes`](Self::send_bytes) that gives up with [`SendError::Timeout`] after
    /// `timeout`; see [`send_timeout`](Self::send_timeout) for what a timeout leaves.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_ipc::Pipe;
    ///
    /// let (a, b) = Pipe::duplex()?;
    /// a.send_bytes_timeout(b"ping", Duration::from_secs(1))?;
    /// assert_eq!(b.recv_bytes()?, b"ping");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`send_bytes`](Self::send_bytes), plus [`SendError::Timeout`].
    pub fn send_bytes_timeout(&self, buf: &[u8], timeout: Duration) -> Result<(), SendError> {
        self.send_bytes_deadline(buf, Instant::now().checked_add(timeout))
    }

    fn send_bytes_deadline(&self, buf: &[u8], deadline: Option<Instant>) -> Result<(), SendError> {
        self.check_writable()?;
        self.check_size(buf.len() as u64)?;
        // Held for the whole frame, reference frames of shared-memory ones included, so
        // frames from several threads never interleave (and segments go out in order).
        let mut scratch = lock(&self.send_buf);
        if let Some(r) = self.send_shm(buf, deadline) {
            return r;
        }
        let mut header = [0u8; MAX_HEADER];
        let hlen = frame::encode_header(buf.len() as u64, &mut header);
        if buf.len() <= COALESCE {
            // One contiguous buffer goes out with one plain `send` (see `sys::send_all`).
            scratch.clear();
            scratch.extend_from_slice(&header[..hlen]);
            scratch.extend_from_slice(buf);
            return self.write_frame(&[&scratch[..]], &[], deadline);
        }
        self.write_frame(&[&header[..hlen], buf], &[], deadline)
    }

    /// Sends `buf[offset..offset + size]` (CPython's `send_bytes(buf, offset, size)`).
    ///
    /// # Errors
    /// [`SendError::OutOfRange`] when the range is not inside `buf`; else as [`send_bytes`](Self::send_bytes).
    ///
    /// ```
    /// use multiproc_ipc::Pipe;
    /// let (a, b) = Pipe::duplex()?;
    /// a.send_bytes_range(b"abcdef", 2, 3)?; // buf[2..5]
    /// assert_eq!(b.recv_bytes()?, b"cde");
    /// assert!(a.send_bytes_range(b"abc", 2, 5).is_err()); // OutOfRange
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_bytes_range(
        &self,
        buf: &[u8],
        offset: usize,
        size: usize,
    ) -> Result<(), SendError> {
        let end =
            offset
                .checked_add(size)
                .filter(|&e| e <= buf.len())
                .ok_or(SendError::OutOfRange {
                    len: buf.len(),
                    offset,
                    size,
                })?;
        self.send_bytes(&buf[offset..end])
    }

    fn check_writable(&self) -> Result<(), SendError> {
        if self.writable && !self.send_desync.load(Ordering::Relaxed) {
            Ok(())
        } else {
            Err(SendError::Closed)
        }
    }

    fn check_size(&self, len: u64) -> Result<(), SendError> {
        let limit = self.max_frame();
        if len > limit {
            return Err(SendError::TooLarge { size: len, limit });
        }
        Ok(())
    }

    fn write_frame(
        &self,
        bufs: &[&[u8]],
        fds: &[BorrowedFd<'_>],
        deadline: Option<Instant>,
    ) -> Result<(), SendError> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total >= BIG_FRAME && !self.big_buffers.swap(true, Ordering::Relaxed) {
            // Large frames move several times faster through a 4 MiB socket buffer
            // than through the default ~200 KiB (fewer wake-ups of the reader).
            match self.transport {
                Transport::Pipe => sys::grow_pipe(self.fd.as_fd(), BIG_BUFFER),
                Transport::Unix => sys::grow_send_buffer(self.fd.as_fd(), BIG_BUFFER),
                Transport::Tcp => {
                    sys::grow_send_buffer(self.fd.as_fd(), BIG_BUFFER);
                    sys::grow_recv_buffer(self.fd.as_fd(), BIG_BUFFER);
                }
            }
        }
        let r = match self.transport {
            Transport::Pipe => sys::write_all(self.fd.as_fd(), bufs, deadline),
            Transport::Unix | Transport::Tcp => sys::send_all(self.fd.as_fd(), bufs, fds, deadline),
        };
        match r {
            Ok(()) => Ok(()),
            Err(sys::WriteFail::Io(e)) => Err(SendError::from(e)),
            Err(sys::WriteFail::TimedOut { written }) => {
                if written > 0 {
                    self.send_desync.store(true, Ordering::Relaxed);
                }
                Err(SendError::Timeout)
            }
        }
    }

    // -------------------------------------------------------------- receiving

    /// Receives one frame and decodes it as `T`, blocking until it arrives.
    ///
    /// The family: `recv` waits as long as it takes, [`recv_timeout`](Self::recv_timeout)
    /// at most a given time, [`try_recv`](Self::try_recv) not at all.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_ipc::{Pipe, RecvError};
    ///
    /// let (a, b) = Pipe::duplex()?;
    /// assert!(matches!(b.recv_timeout::<u32>(Duration::from_millis(10)), Err(RecvError::Timeout)));
    /// a.send(&1u32)?;
    /// a.send(&2u32)?;
    /// assert_eq!(b.recv_timeout::<u32>(Duration::from_secs(60))?, 1);
    /// assert_eq!(b.recv::<u32>()?, 2); // a frame is waiting: returns at once
    /// drop(a);
    /// assert!(matches!(b.recv::<u32>(), Err(RecvError::Eof))); // the peer is gone
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`RecvError::Eof`] when the peer closed, [`RecvError::Truncated`] when it closed
    /// mid-frame, [`RecvError::TooLarge`] over the limit, [`RecvError::Decode`] when the
    /// payload is not a `T` or nests deeper than [`max_depth`](Self::max_depth)
    /// ([`CodecError::TooDeep`](crate::CodecError::TooDeep); the frame was read whole
    /// and the connection stays usable).
    pub fn recv<T: DeserializeOwned>(&self) -> Result<T, RecvError> {
        self.recv_deadline(None)
    }

    /// [`recv`](Self::recv) that gives up with [`RecvError::Timeout`] after `timeout`.
    ///
    /// Nothing is lost to a timeout: when the deadline passes part-way through a frame
    /// (a large one still being written), what was read of it is kept, and the next
    /// receive — of any kind — carries on with it.
    ///
    /// # Errors
    /// As [`recv`](Self::recv), plus [`RecvError::Timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_ipc::Pipe;
    /// let (a, b) = Pipe::duplex()?;
    /// assert!(b.recv_timeout::<u8>(Duration::from_millis(10)).is_err()); // Timeout
    /// a.send(&1_u8)?;
    /// assert_eq!(b.recv_timeout::<u8>(Duration::from_secs(60))?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv_timeout<T: DeserializeOwned>(&self, timeout: Duration) -> Result<T, RecvError> {
        self.recv_deadline(Instant::now().checked_add(timeout))
    }

    /// [`recv`](Self::recv) that returns [`RecvError::Timeout`] at once if no whole
    /// frame is waiting. A frame that has begun to arrive is read as far as it has
    /// come and kept (see [`recv_timeout`](Self::recv_timeout)), so a polling loop
    /// takes a frame larger than the socket buffer in pieces:
    ///
    /// ```
    /// use multiproc_ipc::RecvError;
    /// let (a, b) = multiproc_ipc::Pipe::duplex()?;
    /// let t = std::thread::spawn(move || a.send(&vec![1u8; 4 << 20]));
    /// let v: Vec<u8> = loop {
    ///     match b.try_recv() {
    ///         Err(RecvError::Timeout) => std::thread::yield_now(),
    ///         other => break other?,
    ///     }
    /// };
    /// assert_eq!(v.len(), 4 << 20);
    /// t.join().expect("sender thread")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`recv_timeout`](Self::recv_timeout).
    pub fn try_recv<T: DeserializeOwned>(&self) -> Result<T, RecvError> {
        self.recv_deadline(Some(Instant::now()))
    }

    /// [`recv`](Self::recv) with an optional absolute deadline.
    ///
    /// # Errors
    /// As [`recv_timeout`](Self::recv_timeout).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use multiproc_ipc::Pipe;
    /// let (a, b) = Pipe::duplex()?;
    /// a.send(&1_u8)?;
    /// let deadline = Instant::now().checked_add(Duration::from_secs(60));
    /// assert_eq!(b.recv_deadline::<u8>(deadline)?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv_deadline<T: DeserializeOwned>(
        &self,
        deadline: Option<Instant>,
    ) -> Result<T, RecvError> {
        let mut buf = lock(&self.recv_buf);
        let mut fds = Vec::new();
        self.read_frame(&mut buf, &mut fds, None, deadline)?;
        let r =
            handle::decode_with_max_depth(&buf, fds, self.max_depth()).map_err(RecvError::Decode);
        if buf.capacity() > RETAIN {
            *buf = Vec::new();
        }
        r
    }

    /// Receives one raw frame (CPython's `recv_bytes()`).
    ///
    /// The family: `recv_bytes`, [`recv_bytes_timeout`](Self::recv_bytes_timeout),
    /// [`recv_bytes_max`](Self::recv_bytes_max) (a length limit and an optional timeout)
    /// and [`recv_bytes_into`](Self::recv_bytes_into).
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_ipc::{Pipe, RecvError};
    ///
    /// let (a, b) = Pipe::duplex()?;
    /// assert!(matches!(b.recv_bytes_timeout(Duration::from_millis(10)), Err(RecvError::Timeout)));
    /// a.send_bytes(b"first")?;
    /// a.send_bytes(b"second")?;
    /// assert_eq!(b.recv_bytes()?, b"first");
    /// assert_eq!(b.recv_bytes_max(Some(64), Some(Duration::from_secs(60)))?, b"second");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`recv`](Self::recv), without decoding.
    pub fn recv_bytes(&self) -> Result<Vec<u8>, RecvError> {
        self.recv_bytes_max(None, None)
    }

    /// Receives one raw frame of at most `maxlength` bytes (CPython's
    /// `recv_bytes(maxlength)`); a longer one is [`RecvError::TooLarge`] and, as in
    /// CPython, leaves the connection unusable for further receives.
    ///
    /// # Errors
    /// As [`recv_bytes`](Self::recv_bytes).
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_ipc::Pipe;
    /// let (a, b) = Pipe::duplex()?;
    /// a.send_bytes(b"hi")?;
    /// assert_eq!(b.recv_bytes_max(Some(2), Some(Duration::from_secs(60)))?, b"hi");
    /// a.send_bytes(b"hello")?;
    /// assert!(b.recv_bytes_max(Some(2), Some(Duration::from_secs(60))).is_err()); // longer than 2
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv_bytes_max(
        &self,
        maxlength: Option<usize>,
        timeout: Option<Duration>,
    ) -> Result<Vec<u8>, RecvError> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let _guard = lock(&self.recv_buf);
        let mut out = Vec::new();
        let mut fds = Vec::new();
        self.read_frame(&mut out, &mut fds, maxlength.map(|m| m as u64), deadline)?;
        Ok(out)
    }

    /// [`recv_bytes`](Self::recv_bytes) with a timeout.
    ///
    /// # Errors
    /// As [`recv_bytes`](Self::recv_bytes), plus [`RecvError::Timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_ipc::Pipe;
    /// let (a, b) = Pipe::duplex()?;
    /// assert!(b.recv_bytes_timeout(Duration::from_millis(10)).is_err()); // Timeout
    /// a.send_bytes(b"x")?;
    /// assert_eq!(b.recv_bytes_timeout(Duration::from_secs(60))?, b"x");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv_bytes_timeout(&self, timeout: Duration) -> Result<Vec<u8>, RecvError> {
        self.recv_bytes_max(None, Some(timeout))
    }

    /// Receives one raw frame into `buf`, returning its length (CPython's
    /// `recv_bytes_into`). A frame longer than `buf` fills `buf`, is consumed, and is
    /// reported as [`RecvError::BufferTooSmall`], which carries the whole message (as
    /// CPython's `BufferTooShort` does) — the stream stays usable.
    ///
    /// ```
    /// use multiproc_ipc::RecvError;
    /// let (a, b) = multiproc_ipc::Pipe::duplex()?;
    /// a.send_bytes(b"too long for it")?;
    /// a.send_bytes(b"next")?;
    /// let mut buf = [0u8; 4];
    /// match b.recv_bytes_into(&mut buf) {
    ///     Err(RecvError::BufferTooSmall { message, .. }) => assert_eq!(message, b"too long for it"),
    ///     other => panic!("{other:?}"),
    /// }
    /// assert_eq!(b.recv_bytes_into(&mut buf)?, 4);
    /// assert_eq!(&buf, b"next");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// ```
    /// let (a, b) = multiproc_ipc::Pipe::duplex()?;
    /// a.send_bytes(b"abc")?;
    /// let mut buf = [0u8; 8];
    /// assert_eq!(b.recv_bytes_into(&mut buf)?, 3);
    /// assert_eq!(&buf[..3], b"abc");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// This is the fast path for large messages: the payload lands directly in `buf`,
    /// whereas [`recv_bytes`](Self::recv_bytes) must fault in a fresh allocation for
    /// every message (backed by huge pages where the kernel offers them, which keeps
    /// that to a fraction of the copy: ~13 vs ~11 ms for 64 MiB on the project's machine).
    ///
    /// # Errors
    /// As [`recv_bytes`](Self::recv_bytes), plus [`RecvError::BufferTooSmall`].
    pub fn recv_bytes_into(&self, buf: &mut [u8]) -> Result<usize, RecvError> {
        let _guard = lock(&self.recv_buf);
        let mut fds = Vec::new();
        if self.has_partial.load(Ordering::Relaxed) {
            // A timed-out receive left a frame part-way: finish it (its first bytes are
            // in memory already), then hand it over as below.
            let mut frame = Vec::new();
            self.read_frame(&mut frame, &mut fds, None, None)?;
            let n = frame.len().min(buf.len());
            buf[..n].copy_from_slice(&frame[..n]);
            if frame.len() > n {
                return Err(RecvError::BufferTooSmall {
                    needed: frame.len(),
                    buffer: buf.len(),
                    message: frame,
                });
            }
            return Ok(n);
        }
        if !self.readable() {
            return Err(RecvError::Closed);
        }
        let mut header = [0u8; MAX_HEADER];
        let mut hgot = 0;
        let len = match self
            .read_header(&mut header, &mut hgot, &mut fds, None, None)
            .map_err(|e| self.broken(e, hgot > 0))?
        {
            Body::Socket(len) => len,
            Body::Shm(seg, len) => return self.shm_into(&seg, len, buf),
        };
        if len >= BIG_FRAME
            && self.transport != Transport::Pipe
            && !self.big_buffers.swap(true, Ordering::Relaxed)
        {
            sys::grow_recv_buffer(self.fd.as_fd(), BIG_BUFFER);
        }
        // The payload goes straight into the caller's buffer: no copy, no allocation.
        let n = len.min(buf.len());
        let r = self.read_payload(&mut buf[..n], None, len as u64, 0);
        self.mark(r)?;
        if len > n {
            // Read the rest of the frame, so the stream stays at a frame boundary and
            // the message is handed back whole (CPython's `BufferTooShort` carries it).
            // Grown as bytes arrive, never by what the peer merely announced.
            let mut message = buf[..n].to_vec();
            let r = self.read_payload_vec(len, &mut message, None);
            self.mark(r)?;
            return Err(RecvError::BufferTooSmall {
                needed: len,
                buffer: buf.len(),
                message,
            });
        }
        Ok(n)
    }

    /// Whether a frame (or end-of-file) is ready to read, waiting up to `timeout`
    /// (`None` waits forever, `Some(ZERO)` just checks). CPython's `poll(timeout)`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_ipc::Pipe;
    ///
    /// let (a, b) = Pipe::duplex()?;
    /// assert!(!b.poll(Some(Duration::ZERO))?);
    /// a.send(&"ready")?;
    /// assert!(b.poll(Some(Duration::from_secs(60)))?); // returns as soon as data is there
    /// assert!(b.poll(None)?); // still there: poll does not consume
    /// assert_eq!(b.recv::<String>()?, "ready");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// `poll(2)` failed, or this end is not readable.
    pub fn poll(&self, timeout: Option<Duration>) -> Result<bool, RecvError> {
        if !self.readable {
            return Err(RecvError::Closed);
        }
        Ok(sys::wait_readable(self.fd.as_fd(), timeout)?)
    }

    /// The adaptive wait before a blocking receive: when recent measurements showed
    /// that spinning pays, try to read the frame header without sleeping for up to the
    /// spin budget. On a socket each turn is one non-blocking `recvmsg` straight into
    /// `short` (so the turn that succeeds has already read the header: no separate
    /// readiness check), then one `spin_loop` hint, and every [`YIELD_EVERY`] turns a
    /// `sched_yield`. On a pipe a turn is a zero-timeout `poll`.
    fn spin_for_header(
        &self,
        short: &mut [u8; 4],
        fds: &mut Vec<OwnedFd>,
        deadline: Option<Instant>,
    ) -> io::Result<Spun> {
        let spin = self.spin_ns.load(Ordering::Relaxed);
        if spin == 0 || !lock(&self.waiter).spinning {
            return Ok(Spun::Nothing);
        }
        let sock = self.transport != Transport::Pipe;
        let fd = self.fd.as_fd();
        let start = Instant::now();
        let mut limit = start + Duration::from_nanos(spin);
        if let Some(d) = deadline {
            limit = limit.min(d);
        }
        let mut last = start;
        let mut turns = 0u32;
        loop {
            if sock {
                match sys::recv_once(fd, short, Some(fds), true, true)? {
                    Some(0) => return Ok(Spun::Eof),
                    Some(n) => return Ok(Spun::Read(n)),
                    None => {}
                }
            } else if sys::wait_readable(fd, Some(Duration::ZERO))? {
                return Ok(Spun::Nothing);
            }
            let now = Instant::now();
            // Out of budget; or one turn of this loop, which takes about a microsecond,
            // took far longer: this thread lost its CPU while spinning, so the CPUs are
            // oversubscribed (maybe the peer waits for this very CPU). Sleep now.
            if now >= limit || now - last > PREEMPTED {
                return Ok(Spun::Nothing);
            }
            last = now;
            turns += 1;
            if turns % YIELD_EVERY == 0 {
                std::thread::yield_now();
            } else {
                // The failed `recvmsg` (~0.7 µs here) is most of a turn already, so the
                // pause is a single hint. Not crossbeam's `Backoff`: its pauses grow to
                // 64 `spin_loop` hints, 3.6 µs on this machine (a PAUSE costs ~57 ns
                // under KVM), which would add microseconds to every wake-up it
                // overlaps; and `snooze` yields on every turn after the seventh, a
                // ~1 µs system call that only helps when the peer shares our CPU.
                std::hint::spin_loop();
            }
        }
    }

    /// Feeds one receive (whose wait, spin plus sleep, began at `start` and ends now
    /// with the header) to the adaptive policy.
    /// The figure fed to the policy is the time since the previous header arrived
    /// (in a ping-pong, the round trip), not the wait itself: spinning can shorten our
    /// own waits while slowing everything else (on an oversubscribed machine it takes
    /// CPU time from the peer and gets this thread preempted outside the wait), and
    /// only the cycle shows that. Whether the spin ran out is judged on the wait.
    fn waited(&self, start: Instant) {
        let spin = self.spin_ns.load(Ordering::Relaxed);
        if spin != 0 {
            let now = Instant::now();
            let ran_out = now - start > Duration::from_nanos(spin);
            let mut w = lock(&self.waiter);
            if let Some(prev) = w.last.replace(now) {
                w.record(now - prev, ran_out);
            }
        }
    }

    /// Reads one frame into `out` (replacing its contents), collecting handles.
    ///
    /// A deadline that passes part-way through the frame does not lose it: what was
    /// read (header bytes, payload bytes, handles) is kept in `partial`, and the next
    /// receive carries on from there. So a timeout never leaves the byte stream
    /// between frames for good; only an over-limit frame or an I/O error does.
    fn read_frame(
        &self,
        out: &mut Vec<u8>,
        fds: &mut Vec<OwnedFd>,
        maxlength: Option<u64>,
        deadline: Option<Instant>,
    ) -> Result<(), RecvError> {
        if !self.readable() {
            return Err(RecvError::Closed);
        }
        let mut header = [0u8; MAX_HEADER];
        let mut hgot = 0;
        out.clear();
        if let Some(p) = self.take_partial() {
            header = p.header;
            hgot = p.hgot;
            *out = p.payload;
            fds.extend(p.fds);
        }
        let r = self
            .read_header(&mut header, &mut hgot, fds, maxlength, deadline)
            .and_then(|body| match body {
                Body::Socket(len) => self.read_payload_vec(len, out, deadline),
                Body::Shm(seg, len) => self.shm.read_vec(&seg, len, out),
            });
        match r {
            Ok(()) => Ok(()),
            Err(RecvError::Timeout) if hgot > 0 => {
                // Cut part-way by the deadline: keep it for the next receive.
                *lock(&self.partial) = Some(Partial {
                    header,
                    hgot,
                    payload: std::mem::take(out),
                    fds: std::mem::take(fds),
                });
                self.has_partial.store(true, Ordering::Relaxed);
                Err(RecvError::Timeout)
            }
            Err(e) => Err(self.broken(e, hgot > 0)),
        }
    }

    /// Takes the frame a timed-out receive left part-way, if any.
    fn take_partial(&self) -> Option<Partial> {
        if !self.has_partial.load(Ordering::Relaxed) {
            return None;
        }
        self.has_partial.store(false, Ordering::Relaxed);
        lock(&self.partial).take()
    }

    /// Records that the stream is no longer at a frame boundary when `e` left a
    /// `started` frame unfinished for good.
    fn broken(&self, e: RecvError, started: bool) -> RecvError {
        if started
            && matches!(
                e,
                RecvError::TooLarge { .. } | RecvError::Timeout | RecvError::Io(_)
            )
        {
            self.desync.store(true, Ordering::Relaxed);
        }
        e
    }

    /// Records that the stream is no longer at a frame boundary when `r` failed mid-frame.
    fn mark<T>(&self, r: Result<T, RecvError>) -> Result<T, RecvError> {
        r.map_err(|e| self.broken(e, true))
    }

    /// Reads (the rest of) a frame header into `header`, `hgot` bytes of which were
    /// read before, and checks its length against the limits. `hgot` always tells
    /// how much of the header has been read, also when this fails.
    ///
    /// The steps: the adaptive spin of a fresh receive ([`header_spin`](Self::header_spin)),
    /// the rest of the first four bytes ([`header_short`](Self::header_short)), then by
    /// what they say: a length, a shared-memory reference (`read_shm_ref`), or the
    /// eight-byte length of a long frame ([`header_long`](Self::header_long)).
    fn read_header(
        &self,
        header: &mut [u8; MAX_HEADER],
        hgot: &mut usize,
        fds: &mut Vec<OwnedFd>,
        maxlength: Option<u64>,
        deadline: Option<Instant>,
    ) -> Result<Body, RecvError> {
        let sock = self.transport != Transport::Pipe;
        let fresh = *hgot == 0;
        let start = Instant::now();
        if fresh {
            self.header_spin(header, hgot, fds, deadline)?;
        }
        if *hgot < 4 {
            self.header_short(header, hgot, fds, deadline)?;
        }
        if fresh {
            self.waited(start);
        }
        let mut short = [0u8; 4];
        short.copy_from_slice(&header[..4]);
        let limit = maxlength.map_or(self.max_frame(), |m| m.min(self.max_frame()));
        let len = match frame::decode_short(short) {
            ShortHeader::Len(n) => n,
            ShortHeader::Invalid(frame::SHM_MARK) if self.shm.threshold().is_some() && sock => {
                return self.read_shm_ref(fds, limit, deadline);
            }
            ShortHeader::Invalid(v) => {
                return Err(RecvError::Io(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("invalid frame header (length {v})"),
                )));
            }
            ShortHeader::Long => self.header_long(header, hgot, fds, deadline)?,
        };
        if len > limit {
            return Err(RecvError::TooLarge {
                announced: len,
                limit,
            });
        }
        usize::try_from(len)
            .map(Body::Socket)
            .map_err(|_| RecvError::TooLarge {
                announced: len,
                limit,
            })
    }

    /// `read_header`'s first step on a fresh frame: the adaptive spin, whose
    /// successful turn has read the first header bytes already (then in `header`,
    /// counted in `hgot`).
    fn header_spin(
        &self,
        header: &mut [u8; MAX_HEADER],
        hgot: &mut usize,
        fds: &mut Vec<OwnedFd>,
        deadline: Option<Instant>,
    ) -> Result<(), RecvError> {
        let mut short = [0u8; 4];
        match self.spin_for_header(&mut short, fds, deadline) {
            Ok(Spun::Read(n)) => {
                header[..n].copy_from_slice(&short[..n]);
                *hgot = n;
                Ok(())
            }
            Ok(Spun::Nothing) => Ok(()),
            Ok(Spun::Eof) => Err(RecvError::Eof),
            Err(e) => Err(e.into()),
        }
    }

    /// `read_header`'s second step: the (rest of the) first four header bytes. Handles
    /// ride on these bytes, so they are read with room for them.
    fn header_short(
        &self,
        header: &mut [u8; MAX_HEADER],
        hgot: &mut usize,
        fds: &mut Vec<OwnedFd>,
        deadline: Option<Instant>,
    ) -> Result<(), RecvError> {
        self.header_fill(header, hgot, fds, deadline, 4, Start::Wait)
    }

    /// `read_header`'s last step for a long frame (`ff ff ff ff`): the (rest of the)
    /// eight-byte big-endian length after it, which it returns.
    fn header_long(
        &self,
        header: &mut [u8; MAX_HEADER],
        hgot: &mut usize,
        fds: &mut Vec<OwnedFd>,
        deadline: Option<Instant>,
    ) -> Result<u64, RecvError> {
        if *hgot < MAX_HEADER {
            self.header_fill(header, hgot, fds, deadline, MAX_HEADER, Start::Read)?;
        }
        let mut long = [0u8; 8];
        long.copy_from_slice(&header[4..]);
        Ok(u64::from_be_bytes(long))
    }

    /// Reads header bytes `*hgot..end` (the first four, or the long length's eight
    /// after them). A timeout keeps what was read (in `hgot`), for the next call to
    /// resume; end-of-file before any byte of the frame is [`RecvError::Eof`], later
    /// a truncation counted within the part being read.
    fn header_fill(
        &self,
        header: &mut [u8; MAX_HEADER],
        hgot: &mut usize,
        fds: &mut Vec<OwnedFd>,
        deadline: Option<Instant>,
        end: usize,
        start: Start,
    ) -> Result<(), RecvError> {
        let sock = self.transport != Transport::Pipe;
        let before = *hgot;
        let r = sys::fill(
            self.fd.as_fd(),
            &mut header[before..end],
            Some(fds),
            sock,
            deadline,
            start,
        );
        // The part being read: the first four bytes, or the eight after them.
        let (first, expected) = if end == 4 { (0, 4) } else { (4, 8) };
        match r {
            Ok(Fill::Full) => {
                *hgot = end;
                Ok(())
            }
            Ok(Fill::Eof(n)) if before + n == 0 => Err(RecvError::Eof),
            Ok(Fill::Eof(n)) => Err(RecvError::Truncated {
                expected,
                got: (before + n - first) as u64,
            }),
            Ok(Fill::TimedOut(n)) => {
                *hgot = before + n;
                Err(RecvError::Timeout)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Reads exactly `buf.len()` payload bytes into `buf`.
    ///
    /// Handles only ride on a frame's first bytes (our sender attaches them to the
    /// `sendmsg` that starts with the header, and the kernel hands them over with the
    /// first byte read of that write, i.e. with the header), so the payload is read
    /// with plain `recv`, without ancillary-data handling; descriptors a misbehaving
    /// peer attaches mid-frame are closed by the kernel.
    fn read_payload(
        &self,
        buf: &mut [u8],
        deadline: Option<Instant>,
        expected: u64,
        already: u64,
    ) -> Result<(), RecvError> {
        let sock = self.transport != Transport::Pipe;
        match sys::fill(self.fd.as_fd(), buf, None, sock, deadline, Start::Read) {
            Ok(Fill::Full) => Ok(()),
            Ok(Fill::Eof(n)) => Err(RecvError::Truncated {
                expected,
                got: already + n as u64,
            }),
            Ok(Fill::TimedOut(_)) => Err(RecvError::Timeout),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads a `len`-byte payload into `out`, growing it as bytes arrive, never by what
    /// the peer merely announced.
    fn read_payload_vec(
        &self,
        len: usize,
        out: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> Result<(), RecvError> {
        if len >= BIG_FRAME {
            return self.read_big_payload(len, out, deadline);
        }
        const STEP: usize = 4 << 20;
        let sock = self.transport != Transport::Pipe;
        // A resumed frame carries on after the bytes read before.
        let mut got = out.len();
        while got < len {
            let want = (len - got).min(STEP.max(got));
            out.resize(got + want, 0);
            let r = sys::fill(
                self.fd.as_fd(),
                &mut out[got..got + want],
                None,
                sock,
                deadline,
                Start::Read,
            );
            match r {
                Ok(Fill::Full) => got += want,
                Ok(Fill::Eof(n)) => {
                    out.truncate(got + n);
                    return Err(RecvError::Truncated {
                        expected: len as u64,
                        got: (got + n) as u64,
                    });
                }
                Ok(Fill::TimedOut(n)) => {
                    // `out` keeps exactly the bytes read, for the next receive.
                    out.truncate(got + n);
                    return Err(RecvError::Timeout);
                }
                Err(e) => {
                    out.truncate(got);
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }

    /// The large-frame path, where the cost is memory, not system calls.
    ///
    /// Growth policy. What a peer announces is checked against the frame limit
    /// before anything else; after that, *memory* (pages) is committed only as bytes
    /// arrive, while *address space* is reserved ahead of them:
    /// * the first reservation is the announced length up to [`TRUSTED_CLAIM`]
    ///   (64 MiB, a quarter of the default frame limit), falling back to 4 MiB if that
    ///   reservation fails (strict overcommit), so a claim can never abort the
    ///   process; beyond it the capacity doubles as the buffer fills (capped at the
    ///   frame length), so a frame above 64 MiB holds at most twice what has arrived;
    /// * nothing is zero-filled or copied by us: the kernel writes straight into the
    ///   spare capacity, and the pages under it are faulted in by those writes, so a
    ///   peer that announces 64 MiB and stalls has cost address space, not memory;
    /// * the capacity is advised to use transparent huge pages
    ///   ([`sys::advise_huge`]): a fresh buffer is otherwise faulted in 4 KiB at a
    ///   time as the kernel writes into it, and that — 16 384 faults for 64 MiB — was
    ///   most of the time of a 64 MiB `recv_bytes` (44.5 ms, against 9.2 ms for
    ///   `recv_bytes_into` into a reused buffer; ~14 ms with huge pages).
    ///
    /// Why reserve ahead at all: doubling from 4 MiB (the previous policy) costs four
    /// `realloc`s for 64 MiB; glibc does them with `mremap` (no copy), but the moved
    /// mapping lands at a different offset from a 2 MiB boundary, so the kernel
    /// splits the huge pages already filled: ~15 ms per 64 MiB message against
    /// ~11 ms with one reservation (measured in the same session).
    ///
    /// Handles only ride on the first bytes of a frame (read with the header), so
    /// plain reads are used here.
    fn read_big_payload(
        &self,
        len: usize,
        out: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> Result<(), RecvError> {
        let sock = self.transport != Transport::Pipe;
        if !self.big_buffers.swap(true, Ordering::Relaxed) && sock {
            sys::grow_recv_buffer(self.fd.as_fd(), BIG_BUFFER);
        }
        let fd = self.fd.as_fd();
        // `out` is empty, or holds what a timed-out receive read of this frame.
        let rest = len - out.len();
        if out.try_reserve_exact(rest.min(TRUSTED_CLAIM)).is_err() {
            out.reserve_exact(rest.min(4 << 20));
        }
        sys::advise_huge(out);
        while out.len() < len {
            if out.len() == out.capacity() {
                let more = out.len().min(len - out.len());
                out.reserve_exact(more);
                sys::advise_huge(out);
            }
            let room = (out.capacity() - out.len()).min(len - out.len());
            let before = out.len();
            // With a deadline, try first and `poll` only when nothing is waiting.
            let n = match sys::read_into_spare(fd, out, room, sock, deadline.is_some())? {
                Some(n) => n,
                None => {
                    let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                    if !sys::wait_readable(fd, left)? {
                        return Err(RecvError::Timeout);
                    }
                    continue;
                }
            };
            if n == 0 {
                return Err(RecvError::Truncated {
                    expected: len as u64,
                    got: before as u64,
                });
            }
        }
        Ok(())
    }
}

/// A frame that a receive's deadline cut part-way: what had been read of it, kept
/// (under the receive lock) so that the next receive carries on where it stopped.
struct Partial {
    /// The header bytes read so far: 4, then 8 more for the long form.
    header: [u8; MAX_HEADER],
    /// How many of `header` were read (at least one).
    hgot: usize,
    /// The payload bytes read so far (none until the header is complete).
    payload: Vec<u8>,
    /// The handles that came with the frame's first bytes.
    fds: Vec<OwnedFd>,
}

/// Where a frame's payload is, once its header was read.
enum Body {
    /// This many bytes follow on the socket.
    Socket(usize),
    /// This many bytes are in a shared-memory segment (see `crate::shm`).
    Shm(crate::SharedSegment, usize),
}

/// What the spin before a receive found.
enum Spun {
    /// Nothing yet (or, on a pipe, data is waiting to be read): read normally.
    Nothing,
    /// This many header bytes were read.
    Read(usize),
    /// End of file: the peer closed at a frame boundary.
    Eof,
}

/// The adaptive waiting policy: measure the mean time between two received frames
/// (see `Connection::waited`) with spinning and without, in epochs of [`EPOCH`]
/// receives (the longest [`TRIM`] of an epoch left out), and use the faster mode. Spinning wins when the peer answers within the budget from another idle
/// CPU (no sleep/wake-up to pay); sleeping wins on an idle connection (the spin would
/// be wasted) and on an oversubscribed machine (the spin would steal CPU from the peer).
///
/// The losing mode is re-measured now and then (a *probe*: one epoch in it), since
/// conditions change. A probe costs up to an epoch of the slower mode, so probes that
/// confirm the decision space themselves out: the gap starts at [`PROBE_EVERY`] epochs
/// and doubles up to [`PROBE_MAX`] while the decision stands, and falls back to
/// [`PROBE_EVERY`] when a probe overturns it or the mode in use loses by its own
/// figures (then the mode it gave way to is looked at again soon, in case the epoch
/// was a fluke). A probe's figure replaces the probed
/// mode's mean outright (it is a fresh look; smoothing it into a stale figure would
/// take many probes to notice a change), while the mode in use is smoothed.
#[derive(Debug)]
struct Waiter {
    spinning: bool,
    n: u32,
    /// Waits in this epoch longer than the spin budget.
    over: u32,
    /// When the last header arrived.
    last: Option<Instant>,
    /// This epoch's waits (ns, saturating).
    waits: [u32; EPOCH as usize],
    /// Mean wait per mode, `[sleeping, spinning]`; zero until measured.
    mean_ns: [u64; 2],
    /// Whether this epoch is a probe of the losing mode.
    probing: bool,
    /// Epochs between probes, and epochs left until the next one.
    probe_gap: u32,
    probe_in: u32,
}

/// The longest cycles of an epoch left out of its mean: one or two receives that
/// waited on something unrelated (an application pause, one long preemption) must not
/// decide the mode, while a cost that recurs several times an epoch still counts.
const TRIM: usize = EPOCH as usize / 16;
/// The mean given to spinning when most spins of an epoch ran out.
const RAN_OUT: u64 = u64::MAX / 4;
/// The longest gap between two probes, in epochs.
const PROBE_MAX: u32 = 256;

impl Default for Waiter {
    fn default() -> Self {
        Waiter {
            spinning: true,
            n: 0,
            over: 0,
            last: None,
            waits: [0; EPOCH as usize],
            mean_ns: [0, 0],
            probing: false,
            probe_gap: PROBE_EVERY,
            probe_in: PROBE_EVERY,
        }
    }
}

impl Waiter {
    fn record(&mut self, took: Duration, ran_out: bool) {
        if ran_out {
            self.over += 1;
        }
        self.waits[self.n as usize] = u32::try_from(took.as_nanos()).unwrap_or(u32::MAX);
        self.n += 1;
        if self.n < EPOCH {
            return;
        }
        self.waits.sort_unstable();
        let kept = &self.waits[..self.waits.len() - TRIM];
        let sum: u64 = kept.iter().map(|&w| u64::from(w)).sum();
        let mut mean = (sum / kept.len() as u64).clamp(1, RAN_OUT - 1);
        if self.spinning && self.over * 2 > self.n {
            // Most spins ran out: the peer is slower than the budget (an idle or
            // slow connection). Spinning there only burns CPU, whatever the means say.
            mean = RAN_OUT;
        }
        let i = usize::from(self.spinning);
        let old = self.mean_ns[i];
        self.mean_ns[i] = if self.probing || old == 0 || old == RAN_OUT || mean == RAN_OUT {
            mean
        } else {
            // Smooth a little: machines are noisy.
            (old * 3 + mean) / 4
        };
        self.n = 0;
        self.over = 0;
        let probed = self.probing;
        let best_is_spin = match self.mean_ns {
            [0, _] => false, // sleeping not measured yet: measure it
            [_, 0] => true,
            [sleep, spin] => spin < sleep,
        };
        if self.probing {
            self.probing = false;
            self.probe_gap = if best_is_spin == self.spinning {
                PROBE_EVERY // the probed mode won: conditions changed
            } else {
                (self.probe_gap * 2).min(PROBE_MAX)
            };
            self.probe_in = self.probe_gap;
        }
        let measured = self.mean_ns.iter().all(|&m| m != 0);
        if !probed && measured && self.spinning != best_is_spin {
            // The mode in use lost to the other's last figure: switch, and look again
            // soon, in case this epoch was a fluke.
            self.probe_gap = PROBE_EVERY;
            self.probe_in = self.probe_in.min(PROBE_EVERY);
        }
        self.probe_in = self.probe_in.saturating_sub(1);
        if measured && self.probe_in == 0 {
            self.probing = true;
            self.spinning = !best_is_spin;
        } else {
            self.spinning = best_is_spin;
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the buffer lock cannot leave the buffer in a state that
    // matters (it is cleared before each use), so poisoning is ignored.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl AsFd for Connection {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Connection {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[derive(Serialize, Deserialize)]
struct Wire {
    transport: Transport,
    readable: bool,
    writable: bool,
    max_frame: u64,
    max_depth: u64,
}

/// A `Connection` travels to another process as a duplicate of its descriptor
/// (see [`crate::handle`]); both copies refer to the same channel end. The copy keeps
/// [`readable`](Connection::readable)/[`writable`](Connection::writable) as they are
/// now, so an end whose stream was left mid-frame is not read (or written) from a
/// fresh copy either.
impl Serialize for Connection {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(&handle::PassFdRef(self.fd.as_fd()))?;
        t.serialize_element(&Wire {
            transport: self.transport,
            // A frame this end holds part-way stays here: the copy would start reading
            // in its middle.
            readable: self.readable() && !self.has_partial.load(Ordering::Relaxed),
            writable: self.writable(),
            max_frame: self.max_frame(),
            max_depth: self.max_depth() as u64,
        })?;
        t.end()
    }
}

impl<'de> Deserialize<'de> for Connection {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (fd, w): (handle::PassFd, Wire) = Deserialize::deserialize(d)?;
        let c = Connection::new(fd.into(), w.transport, w.readable, w.writable);
        c.set_max_frame(w.max_frame);
        c.set_max_depth(usize::try_from(w.max_depth).unwrap_or(usize::MAX));
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(w: &mut Waiter, epochs: u32, spin_wait: Duration, sleep_wait: Duration) -> u32 {
        let budget = Duration::from_micros(50);
        let mut spun_epochs = 0;
        for _ in 0..epochs {
            let spinning = w.spinning;
            spun_epochs += u32::from(spinning);
            for _ in 0..EPOCH {
                let t = if spinning { spin_wait } else { sleep_wait };
                w.record(t, t > budget);
            }
        }
        spun_epochs
    }

    #[test]
    fn adaptive_wait_keeps_spinning_when_it_pays() {
        let mut w = Waiter::default();
        let spun = run(
            &mut w,
            64,
            Duration::from_micros(3),
            Duration::from_micros(60),
        );
        // Everything but the probes of the sleeping mode spins.
        assert!(
            spun >= 64 - 64 / PROBE_EVERY - 2,
            "spun {spun} of 64 epochs"
        );
        assert!(w.spinning || w.probing);
    }

    #[test]
    fn adaptive_wait_sleeps_when_spinning_is_slower_or_runs_out() {
        // Oversubscribed machine: spinning makes the answer slower.
        let mut w = Waiter::default();
        let spun = run(
            &mut w,
            64,
            Duration::from_micros(40),
            Duration::from_micros(15),
        );
        assert!(spun <= 64 / PROBE_EVERY + 2, "spun {spun} of 64 epochs");
        // Idle connection: waits far beyond the budget; spinning is pure waste even
        // though both modes wait about as long.
        let mut w = Waiter::default();
        let spun = run(
            &mut w,
            64,
            Duration::from_millis(10),
            Duration::from_millis(9),
        );
        assert!(spun <= 64 / PROBE_EVERY + 2, "spun {spun} of 64 epochs");
    }

    #[test]
    fn probes_of_the_losing_mode_space_out_while_the_decision_stands() {
        // Spinning keeps winning: after the first measurement of sleeping, only the
        // probes sleep, at gaps doubling from PROBE_EVERY to PROBE_MAX epochs.
        let mut w = Waiter::default();
        let spun = run(
            &mut w,
            1024,
            Duration::from_micros(3),
            Duration::from_micros(60),
        );
        assert!(1024 - spun <= 12, "slept {} of 1024 epochs", 1024 - spun);
        // And the other way round.
        let mut w = Waiter::default();
        let spun = run(
            &mut w,
            1024,
            Duration::from_micros(40),
            Duration::from_micros(15),
        );
        assert!(spun <= 12, "spun {spun} of 1024 epochs");
    }

    #[test]
    fn adaptive_wait_returns_to_spinning_when_the_peer_becomes_fast() {
        // An idle phase (every spin runs out, so spinning is marked as losing by far),
        // then a busy ping-pong where spinning pays: a probe must notice soon, and the
        // ran-out figure must not linger.
        let mut w = Waiter::default();
        run(
            &mut w,
            24,
            Duration::from_millis(10),
            Duration::from_millis(9),
        );
        run(
            &mut w,
            40,
            Duration::from_micros(3),
            Duration::from_micros(60),
        );
        let spun = run(
            &mut w,
            24,
            Duration::from_micros(3),
            Duration::from_micros(60),
        );
        assert!(spun >= 20, "spun {spun} of the last 24 epochs");
    }

    #[test]
    fn one_bad_epoch_does_not_switch_modes_for_long() {
        // Sleeping pays (an oversubscribed machine); then one epoch of sleeping waits
        // is slow throughout (a burst of load), which hands the decision to spinning.
        // Spinning must be re-checked soon, not after the long probe gap.
        let mut w = Waiter::default();
        run(
            &mut w,
            200,
            Duration::from_micros(40),
            Duration::from_micros(15),
        );
        for _ in 0..PROBE_MAX {
            if !w.spinning {
                break;
            }
            run(
                &mut w,
                1,
                Duration::from_micros(40),
                Duration::from_micros(15),
            );
        }
        assert!(!w.spinning);
        run(
            &mut w,
            1,
            Duration::from_micros(40),
            Duration::from_micros(400),
        );
        let spun = run(
            &mut w,
            32,
            Duration::from_micros(40),
            Duration::from_micros(15),
        );
        assert!(spun <= PROBE_EVERY + 2, "spun {spun} of 32 epochs");
    }

    #[test]
    fn a_few_long_waits_are_trimmed() {
        // Spinning pays, but a few receives per epoch are descheduled for milliseconds
        // in either mode: those must not decide.
        let mut w = Waiter::default();
        let budget = Duration::from_micros(50);
        let mut spun = 0;
        for _ in 0..64 {
            let spinning = w.spinning;
            spun += u32::from(spinning);
            for k in 0..EPOCH {
                let t = if k % 16 == 0 {
                    Duration::from_millis(3)
                } else if spinning {
                    Duration::from_micros(3)
                } else {
                    Duration::from_micros(30)
                };
                w.record(t, t > budget);
            }
        }
        assert!(spun >= 56, "spun {spun} of 64 epochs");
    }

    #[test]
    fn zero_spin_never_measures() -> Result<(), Box<dyn std::error::Error>> {
        let (a, b) = Pipe::duplex()?;
        a.set_spin(Duration::ZERO);
        b.send(&1u8)?;
        assert_eq!(a.recv::<u8>()?, 1);
        assert_eq!(lock(&a.waiter).n, 0);
        Ok(())
    }
}
