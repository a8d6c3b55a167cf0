//! async/await on tokio (feature `tokio`): [`AsyncConnection`], [`AsyncListener`],
//! [`AsyncClient`].
//!
//! | item | what it is | blocking form |
//! |---|---|---|
//! | [`AsyncConnection`] | `send`/`recv`/`send_bytes`/`recv_bytes`/`recv_bytes_into` as futures | [`Connection`] |
//! | [`AsyncListener`] | `accept` as a future, handshakes run concurrently | [`Listener`](crate::Listener) |
//! | [`AsyncClient`] | `connect` as a future, with the authkey handshake | [`Client`](crate::Client) |
//!
//! The wire is the blocking one (the same frames, the same handshake): an async end
//! talks to a blocking end, in this process or another, and to CPython's
//! `multiprocessing.connection`.
//!
//! ```
//! use multiproc_ipc::Pipe;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! rt.block_on(async {
//!     let (a, b) = Pipe::duplex()?;
//!     let (a, b) = (a.into_async()?, b.into_async()?);
//!     a.send(&(1u32, "two".to_string())).await?;
//!     assert_eq!(b.recv::<(u32, String)>().await?, (1, "two".into()));
//!     b.send_bytes(b"raw").await?;
//!     assert_eq!(a.recv_bytes().await?, b"raw");
//!     Ok(())
//! })
//! # }
//! ```
//!
//! # Cancel safety
//! Every future here may be dropped at any await point (by `tokio::select!`, by
//! [`tokio::time::timeout`], by an aborted task) without losing a frame or
//! desynchronising the connection:
//! * **receiving**: what a receive read of a frame that has not fully arrived stays in
//!   the [`Connection`] (the same state that lets a blocking receive's deadline cut a
//!   frame part-way), and the next receive of any kind, async or blocking, resumes it.
//!   A receive future dropped before its frame was complete returns nothing and loses
//!   nothing: the frame goes to the next receive whole.
//! * **sending**: a send future dropped before any byte of its frame went out sends
//!   nothing. Once the first byte went out, the frame belongs to the connection: what
//!   is left of it is kept in the [`AsyncConnection`] and written before anything
//!   else by the next send (or by [`AsyncConnection::flush`]), so the peer never sees
//!   a cut frame followed by another. (A dropped send may therefore still be
//!   delivered, as with a write that reached the kernel; dropping the
//!   `AsyncConnection` itself with a frame left over cuts that frame, and the peer
//!   sees [`RecvError::Truncated`].)
//!
//! So timeouts are [`tokio::time::timeout`] around any of these futures, and compose
//! as the blocking `_timeout` forms do:
//!
//! ```
//! use std::time::Duration;
//! use multiproc_ipc::Pipe;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! # rt.block_on(async {
//! let (a, b) = Pipe::duplex()?;
//! let (a, b) = (a.into_async()?, b.into_async()?);
//! let r = tokio::time::timeout(Duration::from_millis(10), b.recv::<u32>()).await;
//! assert!(r.is_err()); // timed out: nothing was lost
//! a.send(&7u32).await?;
//! assert_eq!(b.recv::<u32>().await?, 7);
//! # Ok(())
//! # })
//! # }
//! ```
//!
//! # Runtime
//! The futures need a tokio runtime with its I/O driver (and, for
//! [`AsyncListener`]'s handshake deadline and [`AsyncClient`], its time driver):
//! `enable_all()` on the builder, or `#[tokio::main]`. Either flavour works,
//! current-thread or multi-thread.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::Mutex;

use crate::connection::{Connection, Transport};
use crate::error::{RecvError, SendError};
use crate::frame::{self, MAX_HEADER};
use crate::handle;
use crate::sys;

pub use crate::listener::aio::{AsyncClient, AsyncListener};

/// A frame buffer larger than this is freed after its frame went out, rather than kept
/// for the next one (as the blocking `Connection` does).
const RETAIN: usize = 4 << 20;

pub(crate) use crate::sys::aio::register;

/// One end of a framed channel, awaitable on tokio: the async form of [`Connection`],
/// made by [`Connection::into_async`].
///
/// Methods take `&self`: one task may send while another receives, and several tasks
/// may share an end (frames are sent and received whole, one at a time). The limits of
/// the [`Connection`] stay in force (see [`get_ref`](Self::get_ref) to change them):
/// its frame size limit, its depth limit, its typed errors; what it says about a
/// peer that vanished holds here too ([`RecvError::Eof`], [`RecvError::Truncated`],
/// [`SendError::Disconnected`]). See [the module](self) for cancel safety.
///
/// ```
/// use multiproc_ipc::Pipe;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
/// rt.block_on(async {
///     let (a, b) = Pipe::duplex()?;
///     let (a, b) = (a.into_async()?, b.into_async()?);
///     let echo = tokio::spawn(async move {
///         while let Ok(n) = b.recv::<u64>().await {
///             b.send(&(n + 1)).await?;
///         }
///         Ok::<_, multiproc_ipc::SendError>(())
///     });
///     for i in 0..10u64 {
///         a.send(&i).await?;
///         assert_eq!(a.recv::<u64>().await?, i + 1);
///     }
///     drop(a);
///     echo.await??;
///     Ok(())
/// })
/// # }
/// ```
pub struct AsyncConnection {
    io: AsyncFd<Connection>,
    send: Mutex<SendState>,
    recv: Mutex<()>,
}

/// The frame being sent, kept across cancellation (see the module docs).
#[derive(Default)]
struct SendState {
    /// The frame's bytes (header included) from `buf[start..]`.
    buf: Vec<u8>,
    start: usize,
    /// How far `buf` went out.
    off: usize,
    /// Whether a byte of the frame went out: from then on it must be finished.
    started: bool,
}

impl SendState {
    fn owed(&self) -> bool {
        self.started && self.off < self.buf.len()
    }

    /// Forgets the frame (sent, or never started), keeping a modest buffer for the next.
    fn reset(&mut self) {
        self.started = false;
        self.start = 0;
        self.off = 0;
        self.buf.clear();
        if self.buf.capacity() > RETAIN {
            self.buf = Vec::new();
        }
    }
}

impl fmt::Debug for AsyncConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncConnection")
            .field("connection", self.io.get_ref())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// This end as an [`AsyncConnection`], registered with the current tokio runtime.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let (a, b) = multiproc_ipc::Pipe::duplex()?;
    /// let a = a.into_async()?;
    /// b.send(&"from a blocking end")?; // the same wire either way
    /// assert_eq!(a.recv::<String>().await?, "from a blocking end");
    /// # Ok(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// Not called inside a tokio runtime (with its I/O driver), or registering the
    /// descriptor with it (`epoll_ctl`) failed. The connection is closed then.
    pub fn into_async(self) -> io::Result<AsyncConnection> {
        AsyncConnection::new(self)
    }
}

impl AsyncConnection {
    /// As [`Connection::into_async`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// use multiproc_ipc::{Pipe, aio::AsyncConnection};
    /// let (r, w) = Pipe::simplex()?;
    /// let (r, w) = (AsyncConnection::new(r)?, AsyncConnection::new(w)?);
    /// w.send(&[1u8, 2, 3]).await?;
    /// assert_eq!(r.recv::<[u8; 3]>().await?, [1, 2, 3]);
    /// # Ok(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`Connection::into_async`].
    pub fn new(conn: Connection) -> io::Result<Self> {
        let interest = match (conn.readable(), conn.writable()) {
            (true, false) => Interest::READABLE,
            (false, true) => Interest::WRITABLE,
            _ => Interest::READABLE | Interest::WRITABLE,
        };
        Ok(AsyncConnection {
            io: register(conn, interest)?,
            send: Mutex::new(SendState::default()),
            recv: Mutex::new(()),
        })
    }

    /// The blocking [`Connection`] underneath: for its settings
    /// ([`set_max_frame`](Connection::set_max_frame),
    /// [`set_max_depth`](Connection::set_max_depth)) and state
    /// ([`readable`](Connection::readable), [`transport`](Connection::transport)).
    /// Its blocking `send`/`recv` must not be used while async ones run.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let (a, b) = multiproc_ipc::Pipe::duplex()?;
    /// let (a, b) = (a.into_async()?, b.into_async()?);
    /// b.get_ref().set_max_frame(16);
    /// a.send_bytes(&[0u8; 100]).await?;
    /// assert!(matches!(b.recv_bytes().await, Err(multiproc_ipc::RecvError::TooLarge { .. })));
    /// # Ok(())
    /// # })
    /// # }
    /// ```
    pub fn get_ref(&self) -> &Connection {
        self.io.get_ref()
    }

    /// Back to the blocking [`Connection`], once what is left of a frame whose send
    /// future was dropped has gone out ([`flush`](Self::flush)). A frame part-received
    /// stays in the connection, for its next receive.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let (a, b) = multiproc_ipc::Pipe::duplex()?;
    /// let a = a.into_async()?;
    /// a.send(&1u8).await?;
    /// let a = a.into_inner().await?;
    /// a.send(&2u8)?;
    /// assert_eq!((b.recv::<u8>()?, b.recv::<u8>()?), (1, 2));
    /// # Ok(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`flush`](Self::flush).
    pub async fn into_inner(self) -> Result<Connection, SendError> {
        self.flush().await?;
        Ok(self.io.into_inner())
    }

    // ------------------------------------------------------------------ sending

    /// Sends `value`, postcard-encoded, as one frame: the async form of
    /// [`Connection::send`]. Handles inside `value` travel as with the blocking send.
    ///
    /// Cancel safe: dropped before its first byte went out, it sends nothing; after,
    /// the rest of its frame goes out before the next frame (see [the module](self)).
    ///
    /// ```
    /// use multiproc_ipc::Pipe;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// rt.block_on(async {
    ///     let (a, b) = Pipe::duplex()?;
    ///     let a = a.into_async()?;
    ///     a.send(&vec![1u64, 2, 3]).await?;
    ///     assert_eq!(b.recv::<Vec<u64>>()?, [1, 2, 3]); // a blocking end reads it
    ///     Ok(())
    /// })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`Connection::send`].
    pub async fn send<T: Serialize + ?Sized>(&self, value: &T) -> Result<(), SendError> {
        self.send_inner(value, None).await
    }

    /// [`send`](Self::send) that sets `started` once the first byte of the frame went
    /// out: from then on the frame is delivered whole even if this future is dropped,
    /// while a future dropped with `started` still false sent nothing. For callers
    /// that must know, after a cancellation, whether the peer will see the message
    /// (a request whose reply must then be expected, say).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let (a, b) = multiproc_ipc::Pipe::duplex()?;
    /// let (a, b) = (a.into_async()?, b.into_async()?);
    /// let started = AtomicBool::new(false);
    /// a.send_tracked(&"request", &started).await?;
    /// assert!(started.load(Ordering::Relaxed));
    /// assert_eq!(b.recv::<String>().await?, "request");
    /// # Ok(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn send_tracked<T: Serialize + ?Sized>(
        &self,
        value: &T,
        started: &AtomicBool,
    ) -> Result<(), SendError> {
        self.send_inner(value, Some(started)).await
    }

    async fn send_inner<T: Serialize + ?Sized>(
        &self,
        value: &T,
        started: Option<&AtomicBool>,
    ) -> Result<(), SendError> {
        let conn = self.io.get_ref();
        if !conn.writable() {
            return Err(SendError::Closed);
        }
        let mut st = self.send.lock().await;
        self.finish_owed(&mut st).await?;
        st.reset();
        let mut buf = std::mem::take(&mut st.buf);
        buf.resize(MAX_HEADER, 0);
        let fds = handle::encode_into(value, &mut buf).map_err(SendError::Encode)?;
        if !fds.is_empty() && conn.transport() != Transport::Unix {
            return Err(SendError::HandlesUnsupported);
        }
        let len = (buf.len() - MAX_HEADER) as u64;
        check_size(conn, len)?;
        let mut header = [0u8; MAX_HEADER];
        let hlen = frame::encode_header(len, &mut header);
        let start = MAX_HEADER - hlen;
        buf[start..MAX_HEADER].copy_from_slice(&header[..hlen]);
        st.buf = buf;
        st.start = start;
        st.off = start;
        let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(AsFd::as_fd).collect();
        self.write_frame(&mut st, &borrowed, started).await
    }

    /// Sends `buf` as one raw frame: the async form of [`Connection::send_bytes`]
    /// (CPython's `send_bytes`). The frame is copied into the connection first, so
    /// that a dropped future can leave it to be finished (see [the module](self)).
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let (a, b) = multiproc_ipc::Pipe::duplex()?;
    /// let (a, b) = (a.into_async()?, b.into_async()?);
    /// let big = vec![7u8; 8 << 20]; // larger than the socket buffer: sent in pieces
    /// let (sent, got) = tokio::join!(a.send_bytes(&big), b.recv_bytes());
    /// sent?;
    /// assert_eq!(got?, big);
    /// # Ok(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`Connection::send_bytes`].
    pub async fn send_bytes(&self, buf: &[u8]) -> Result<(), SendError> {
        let conn = self.io.get_ref();
        if !conn.writable() {
            return Err(SendError::Closed);
        }
        check_size(conn, buf.len() as u64)?;
        let mut st = self.send.lock().await;
        self.finish_owed(&mut st).await?;
        st.reset();
        let mut header = [0u8; MAX_HEADER];
        let hlen = frame::encode_header(buf.len() as u64, &mut header);
        st.buf.extend_from_slice(&header[..hlen]);
        st.buf.extend_from_slice(buf);
        self.write_frame(&mut st, &[], None).await
    }

    /// Waits until what is left of a frame whose send future was dropped part-way has
    /// gone out (nothing to do otherwise). Sends do this first on their own.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let (a, _b) = multiproc_ipc::Pipe::duplex()?;
    /// let a = a.into_async()?;
    /// a.flush().await?; // nothing owed
    /// # Ok(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`send_bytes`](Self::send_bytes).
    pub async fn flush(&self) -> Result<(), SendError> {
        let mut st = self.send.lock().await;
        self.finish_owed(&mut st).await?;
        st.reset();
        Ok(())
    }

    async fn finish_owed(&self, st: &mut SendState) -> Result<(), SendError> {
        if st.owed() {
            self.write_frame(st, &[], None).await?;
        }
        Ok(())
    }

    /// Writes `st.buf[st.off..]`, `fds` with its first byte, keeping the progress in `st`.
    async fn write_frame(
        &self,
        st: &mut SendState,
        fds: &[BorrowedFd<'_>],
        started: Option<&AtomicBool>,
    ) -> Result<(), SendError> {
        let sock = self.io.get_ref().transport() != Transport::Pipe;
        while st.off < st.buf.len() {
            let mut guard = self.io.writable().await?;
            let fds_now = if st.started { &[][..] } else { fds };
            let chunk = &st.buf[st.off..];
            match guard.try_io(|fd| sys::aio::send_nowait(fd.as_fd(), &[chunk], fds_now, sock)) {
                Ok(Ok(n)) => {
                    st.off += n;
                    st.started = true;
                    if let Some(flag) = started {
                        flag.store(true, Ordering::Relaxed);
                    }
                }
                Ok(Err(e)) => {
                    // The connection is broken; what is left of the frame can never go.
                    st.reset();
                    return Err(SendError::from(e));
                }
                Err(_would_block) => {}
            }
        }
        st.reset();
        Ok(())
    }

    // ---------------------------------------------------------------- receiving

    /// Receives one frame and decodes it as `T`: the async form of [`Connection::recv`].
    ///
    /// Cancel safe: dropped before the frame was complete, it returns nothing and the
    /// frame (with what was read of it) goes to the next receive.
    ///
    /// ```
    /// use multiproc_ipc::{Pipe, RecvError};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// rt.block_on(async {
    ///     let (a, b) = Pipe::duplex()?;
    ///     let b = b.into_async()?;
    ///     a.send(&("job", 7u32))?; // from a blocking end
    ///     assert_eq!(b.recv::<(String, u32)>().await?, ("job".to_string(), 7));
    ///     drop(a);
    ///     assert!(matches!(b.recv::<u32>().await, Err(RecvError::Eof)));
    ///     Ok(())
    /// })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`Connection::recv`]; [`RecvError::Eof`] when the peer closed (or died) at a
    /// frame boundary, [`RecvError::Truncated`] when it did so mid-frame.
    pub async fn recv<T: DeserializeOwned>(&self) -> Result<T, RecvError> {
        let _reader = self.recv.lock().await;
        self.read_with(|c| c.recv_deadline(Some(Instant::now())))
            .await
    }

    /// Receives one raw frame: the async form of [`Connection::recv_bytes`].
    ///
    /// Cancel safe, as [`recv`](Self::recv).
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let (a, b) = multiproc_ipc::Pipe::duplex()?;
    /// let b = b.into_async()?;
    /// a.send_bytes(b"hello")?;
    /// assert_eq!(b.recv_bytes().await?, b"hello");
    /// drop(a);
    /// assert!(matches!(b.recv_bytes().await, Err(multiproc_ipc::RecvError::Eof)));
    /// # Ok(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`Connection::recv_bytes`].
    pub async fn recv_bytes(&self) -> Result<Vec<u8>, RecvError> {
        let _reader = self.recv.lock().await;
        self.read_with(|c| c.recv_bytes_max(None, Some(Duration::ZERO)))
            .await
    }

    /// Receives one raw frame into `buf`, returning its length: the async form of
    /// [`Connection::recv_bytes_into`], with its contract (a longer frame is consumed and
    /// handed back whole in [`RecvError::BufferTooSmall`]).
    ///
    /// The frame is assembled in the connection (where a dropped future leaves it for
    /// the next receive) and copied into `buf` once complete: `buf` is written only
    /// when the future returns `Ok`.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let (a, b) = multiproc_ipc::Pipe::duplex()?;
    /// let b = b.into_async()?;
    /// a.send_bytes(b"abc")?;
    /// let mut buf = [0u8; 8];
    /// assert_eq!(b.recv_bytes_into(&mut buf).await?, 3);
    /// assert_eq!(&buf[..3], b"abc");
    /// # Ok(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`Connection::recv_bytes_into`].
    pub async fn recv_bytes_into(&self, buf: &mut [u8]) -> Result<usize, RecvError> {
        let frame = self.recv_bytes().await?;
        let n = frame.len().min(buf.len());
        buf[..n].copy_from_slice(&frame[..n]);
        if frame.len() > n {
            return Err(RecvError::BufferTooSmall {
                needed: frame.len(),
                buffer: buf.len(),
                message: frame,
            });
        }
        Ok(n)
    }

    /// Runs the non-blocking receive `f` (a [`Connection`] receive whose deadline is
    /// now: it reads what has arrived, keeps a frame that is not complete in the
    /// connection, and says [`RecvError::Timeout`] when it needs more) each time the
    /// descriptor becomes readable, until it has a frame or an error.
    async fn read_with<R>(
        &self,
        mut f: impl FnMut(&Connection) -> Result<R, RecvError>,
    ) -> Result<R, RecvError> {
        loop {
            let mut guard = self.io.readable().await?;
            let r = guard.try_io(|fd| match f(fd.get_ref()) {
                Err(RecvError::Timeout) => Err(io::ErrorKind::WouldBlock.into()),
                r => Ok(r),
            });
            match r {
                Ok(Ok(r)) => return r,
                Ok(Err(e)) => return Err(RecvError::from(e)),
                Err(_would_block) => {}
            }
        }
    }
}

fn check_size(conn: &Connection, len: u64) -> Result<(), SendError> {
    let limit = conn.max_frame();
    if len > limit {
        return Err(SendError::TooLarge { size: len, limit });
    }
    Ok(())
}

impl AsFd for AsyncConnection {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

/// Takes a descriptor back out of a registration (used by the handshake futures).
pub(crate) fn unregister(fd: AsyncFd<OwnedFd>) -> OwnedFd {
    fd.into_inner()
}

#[cfg(test)]
mod send_sync {
    fn is_send_sync<T: Send + Sync>() {}

    #[test]
    fn async_types_are_send_and_sync() {
        is_send_sync::<super::AsyncConnection>();
        is_send_sync::<super::AsyncListener>();
        is_send_sync::<super::AsyncClient>();
    }
}
