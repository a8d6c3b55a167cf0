//! The large-message side of [`Connection`]: shared-memory frames
//! ([`crate::shm`]) and typed sends split around their large strings
//! ([`crate::split`]). A separate file so that the framing code in `connection.rs`
//! keeps only the hooks that call in here.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::time::Instant;

use serde::Serialize;

use super::{Body, Connection, MAX_HEADER, Transport};
use crate::SharedBytes;
use crate::error::{RecvError, SendError};
use crate::frame;
use crate::handle;
use crate::sys::{self, Fill, Start};

impl Connection {
    /// Sends messages of `threshold` bytes or more (typed or raw) through **shared
    /// memory** instead of the socket, and accepts such messages from the peer. Call it
    /// on **both ends** (any time before the first large message): an end that did not
    /// enable it refuses a shared-memory frame as an invalid header, as a CPython peer
    /// would, so never enable it towards a Python process.
    ///
    /// Each sending end keeps two memory segments (memfds), made on first need and
    /// reused, mapped by both processes: a large message is copied once into one by the
    /// sender and once out of it by the receiver (or read in place, without that copy,
    /// by [`recv_bytes_shared`](Self::recv_bytes_shared)), and only a 28-byte reference
    /// crosses the socket. When both segments are still held by the receiver (it is slower, or
    /// does not read), a send waits for one as it would for socket buffer space
    /// ([`send_timeout`](Self::send_timeout) bounds the wait; a peer that hangs up
    /// ends it with [`SendError::Disconnected`]), so memory stays bounded.
    /// The receiver checks every segment before mapping it — a memfd sealed against
    /// shrinking and growing (so the sender cannot truncate it under the reader: no
    /// SIGBUS), no larger than the frame limit allows — and refuses anything else with
    /// [`RecvError::Shm`]. Segments have no name in `/dev/shm`; the kernel frees them
    /// when both ends are gone, however the processes end.
    ///
    /// Only on a [`Transport::Unix`] connection (the segment's descriptor travels as
    /// `SCM_RIGHTS`). The state is per `Connection` value: a copy sent to another
    /// process starts with it disabled. [`DEFAULT_SHM_THRESHOLD`](crate::DEFAULT_SHM_THRESHOLD)
    /// (1 MiB) is a starting point. Both paths copy each byte twice (into and out of
    /// the kernel, or into and out of a segment), so which is faster depends on the
    /// machine: measure with your sizes (`benches/ipc.rs`, `docs/benchmarks.md`).
    ///
    /// ```
    /// use multiproc_ipc::{Pipe, bulk::Bytes, DEFAULT_SHM_THRESHOLD};
    /// let (a, b) = Pipe::duplex()?;
    /// a.enable_shm(DEFAULT_SHM_THRESHOLD)?;
    /// b.enable_shm(DEFAULT_SHM_THRESHOLD)?;
    /// let big = vec![7u8; 8 << 20];
    /// a.send_bytes(&big)?; // through a segment
    /// assert_eq!(b.recv_bytes()?, big);
    /// a.send(&Bytes::from(big.clone()))?; // typed values too
    /// assert_eq!(b.recv::<Bytes>()?.len(), 8 << 20);
    /// a.send_bytes(b"small")?; // below the threshold: the socket
    /// assert_eq!(b.recv_bytes()?, b"small");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`io::ErrorKind::Unsupported`] on a pipe or TCP connection.
    pub fn enable_shm(&self, threshold: usize) -> io::Result<()> {
        if self.transport != Transport::Unix {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "shared-memory frames need a Unix socket (their segments travel as SCM_RIGHTS)",
            ));
        }
        self.shm.enable(threshold);
        Ok(())
    }

    /// The threshold set by [`enable_shm`](Self::enable_shm), `None` when not enabled.
    ///
    /// ```
    /// let (a, _b) = multiproc_ipc::Pipe::duplex()?;
    /// assert_eq!(a.shm_threshold(), None);
    /// a.enable_shm(1 << 20)?;
    /// assert_eq!(a.shm_threshold(), Some(1 << 20));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shm_threshold(&self) -> Option<usize> {
        self.shm.threshold()
    }

    /// The second pass of a typed send whose value holds large byte strings (see
    /// `crate::split`): `buf` holds the header room and the payload without them.
    pub(super) fn send_split<T: Serialize + ?Sized>(
        &self,
        value: &T,
        buf: &mut [u8],
        holes: &[crate::split::Hole],
        deadline: Option<Instant>,
    ) -> Result<(), SendError> {
        use crate::split::{ByRef, Stream, StreamError};
        let len = buf.len() - MAX_HEADER + holes.iter().map(|h| h.len).sum::<usize>();
        let mut header = [0u8; MAX_HEADER];
        let hlen = frame::encode_header(len as u64, &mut header);
        let start = MAX_HEADER - hlen;
        buf[start..MAX_HEADER].copy_from_slice(&header[..hlen]);
        let mut first = true;
        let send = |bufs: &[&[u8]]| {
            let r = self.write_frame(bufs, &[], deadline);
            if r.is_err() && !first {
                // Part of the frame went out before: the peer would read a cut frame.
                self.send_desync.store(true, Ordering::Relaxed);
            }
            first = false;
            r
        };
        let mut stream = Stream::new(&buf[start..], hlen, holes, send);
        let pass = handle::encode_with(value, ByRef(&mut stream));
        let r = stream.finish();
        match (r, pass) {
            (Ok(()), Ok(_)) => Ok(()),
            (Err(StreamError::Send(e)), _) => Err(e),
            (Err(StreamError::Changed { sent }), _) => {
                if sent {
                    self.send_desync.store(true, Ordering::Relaxed);
                }
                Err(SendError::Encode(crate::split::changed()))
            }
            (Ok(()), Err(e)) => Err(SendError::Encode(e)),
        }
    }

    /// [`send_split`](Self::send_split) into a shared-memory segment: the second pass
    /// writes the buffered bytes and each large string straight into the segment (one
    /// copy), then the reference goes out. `None` when no segment could be had.
    pub(super) fn send_shm_split<T: Serialize + ?Sized>(
        &self,
        value: &T,
        skeleton: &[u8],
        holes: &[crate::split::Hole],
        len: usize,
        deadline: Option<Instant>,
    ) -> Option<Result<(), SendError>> {
        use crate::split::{ByRef, Stream};
        let mut changed = false;
        let staged = self.shm.stage_with(len, self.fd.as_fd(), deadline, |seg| {
            let mut at = 0usize;
            let fill = |bufs: &[&[u8]]| {
                for b in bufs {
                    if !crate::shm::write_payload(seg, at, b) {
                        return Err(SendError::TooLarge {
                            size: len as u64,
                            limit: seg.len() as u64,
                        });
                    }
                    at += b.len();
                }
                Ok(())
            };
            let mut stream = Stream::new(skeleton, 0, holes, fill);
            let pass = handle::encode_with(value, ByRef(&mut stream));
            let ok = stream.finish().is_ok() && pass.is_ok();
            changed = !ok;
            ok
        });
        let staged = match staged {
            Ok(Some(s)) => s,
            Ok(None) if changed => {
                return Some(Err(SendError::Encode(crate::split::changed())));
            }
            Ok(None) => return None,
            Err(crate::shm::Stall::Timeout) => return Some(Err(SendError::Timeout)),
            Err(crate::shm::Stall::Gone) => return Some(Err(SendError::Disconnected)),
        };
        Some(self.send_staged(staged, deadline))
    }

    /// Sends `payload` through a shared-memory segment when enabled, large enough and
    /// a segment is free (see `crate::shm`); `None` when it must cross the socket.
    pub(super) fn send_shm(
        &self,
        payload: &[u8],
        deadline: Option<Instant>,
    ) -> Option<Result<(), SendError>> {
        let staged = match self.shm.stage(payload, self.fd.as_fd(), deadline) {
            Ok(s) => s?,
            Err(crate::shm::Stall::Timeout) => return Some(Err(SendError::Timeout)),
            Err(crate::shm::Stall::Gone) => return Some(Err(SendError::Disconnected)),
        };
        Some(self.send_staged(staged, deadline))
    }

    /// Sends the reference frame of a message written into a segment.
    fn send_staged(
        &self,
        staged: crate::shm::Staged,
        deadline: Option<Instant>,
    ) -> Result<(), SendError> {
        let frame = frame::encode_shm_frame(&staged.reference);
        let fds: Vec<BorrowedFd<'_>> = staged.fd().into_iter().collect();
        let r = self.write_frame(&[&frame], &fds, deadline);
        drop(fds);
        let unsent = r.is_err() && !self.send_desync.load(Ordering::Relaxed);
        self.shm.finish(staged, r.is_ok(), unsent);
        r
    }

    /// Receives one raw frame **without copying it out of shared memory**: a message
    /// that came through a segment ([`enable_shm`](Self::enable_shm) on both ends) is
    /// read in place, through the returned [`SharedBytes`], which keeps the segment
    /// mapped and hands it back to the sender when dropped. A message that came over
    /// the socket (below the threshold, or shared memory not enabled) is read into an
    /// owned buffer, as [`recv_bytes`](Self::recv_bytes) would.
    ///
    /// The sender cannot reuse a segment while a view of it lives, and it has two:
    /// drop each view before receiving the one after next (see [`SharedBytes`]). The
    /// receiver checks the segment exactly as the copying receives do (sealed, within
    /// the frame limit) before mapping it, and a sender that dies afterwards leaves
    /// the view readable.
    ///
    /// ```
    /// use multiproc_ipc::{Pipe, DEFAULT_SHM_THRESHOLD};
    /// let (a, b) = Pipe::duplex()?;
    /// a.enable_shm(DEFAULT_SHM_THRESHOLD)?;
    /// b.enable_shm(DEFAULT_SHM_THRESHOLD)?;
    /// let sender = std::thread::spawn(move || {
    ///     for i in 0..4u8 {
    ///         a.send_bytes(&vec![i; 16 << 20])?; // waits while b holds both segments
    ///     }
    ///     Ok::<_, multiproc_ipc::SendError>(())
    /// });
    /// for i in 0..4u8 {
    ///     let msg = b.recv_bytes_shared()?; // no copy
    ///     assert!(msg.len() == 16 << 20 && msg.iter().all(|&x| x == i));
    /// } // each view dropped here: its segment goes back to the sender
    /// sender.join().expect("sender")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`recv_bytes`](Self::recv_bytes) (a refused segment is [`RecvError::Shm`],
    /// and the connection stays usable).
    pub fn recv_bytes_shared(&self) -> Result<SharedBytes, RecvError> {
        let _guard = super::lock(&self.recv_buf);
        let mut fds = Vec::new();
        if self.has_partial.load(Ordering::Relaxed) {
            // A timed-out receive left a frame part-way: finish it, owned.
            let mut frame = Vec::new();
            self.read_frame(&mut frame, &mut fds, None, None)?;
            return Ok(SharedBytes::owned(frame));
        }
        if !self.readable() {
            return Err(RecvError::Closed);
        }
        let mut header = [0u8; MAX_HEADER];
        let mut hgot = 0;
        let body = self
            .read_header(&mut header, &mut hgot, &mut fds, None, None)
            .map_err(|e| self.broken(e, hgot > 0))?;
        match body {
            Body::Shm(seg, len) => SharedBytes::in_segment(seg, len)
                .ok_or_else(|| crate::shm::bad("payload outside the segment")),
            Body::Socket(len) => {
                let mut out = Vec::new();
                let r = self.read_payload_vec(len, &mut out, None);
                self.mark(r)?;
                Ok(SharedBytes::owned(out))
            }
        }
    }

    /// `recv_bytes_into` of a shared-memory frame: one copy into `buf`, or the whole
    /// message in [`RecvError::BufferTooSmall`].
    pub(super) fn shm_into(
        &self,
        seg: &crate::SharedSegment,
        len: usize,
        buf: &mut [u8],
    ) -> Result<usize, RecvError> {
        if len > buf.len() {
            let mut message = Vec::new();
            self.shm.read_vec(seg, len, &mut message)?;
            buf.copy_from_slice(&message[..buf.len()]);
            return Err(RecvError::BufferTooSmall {
                needed: len,
                buffer: buf.len(),
                message,
            });
        }
        let r = self.shm.read(seg, &mut buf[..len]);
        self.shm.release(seg);
        r.map(|()| len)
    }

    /// The rest of a shared-memory frame after its header: the reference, then the
    /// segment it names, checked before mapping (see `crate::shm`). The reference is
    /// written with one `sendmsg` right behind the header, so it is there as soon as
    /// the header is; a peer that stalls inside it until the deadline leaves the stream
    /// mid-frame (an `Io` error of kind `TimedOut`, and this end unreadable).
    pub(super) fn read_shm_ref(
        &self,
        fds: &mut Vec<OwnedFd>,
        limit: u64,
        deadline: Option<Instant>,
    ) -> Result<Body, RecvError> {
        let mut body = [0u8; frame::SHM_REF_LEN];
        match sys::fill(
            self.fd.as_fd(),
            &mut body,
            None,
            true,
            deadline,
            Start::Read,
        ) {
            Ok(Fill::Full) => {}
            Ok(Fill::Eof(n)) => {
                return Err(RecvError::Truncated {
                    expected: frame::SHM_REF_LEN as u64,
                    got: n as u64,
                });
            }
            Ok(Fill::TimedOut(_)) => {
                return Err(RecvError::Io(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "shared-memory frame cut by the deadline",
                )));
            }
            Err(e) => return Err(e.into()),
        }
        let r = frame::ShmRef::decode(body);
        let seg = self.shm.resolve(r, fds, self.max_frame(), limit)?;
        let len = usize::try_from(r.len).map_err(|_| RecvError::TooLarge {
            announced: r.len,
            limit,
        })?;
        Ok(Body::Shm(seg, len))
    }
}
