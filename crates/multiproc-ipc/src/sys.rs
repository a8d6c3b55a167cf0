//! The operating-system calls of `multiproc-ipc`, all through rustix's safe API.
//!
//! Linux is the supported platform; the names here are what the rest of the crate
//! uses, so a port adds a sibling module rather than `cfg`s elsewhere.

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, poll};
use rustix::io::Errno;
use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, SocketFlags, SocketType, recvmsg, sendmsg, socketpair,
};

use crate::handle::MAX_HANDLES;

pub(crate) mod net;

/// A raw OS error as the error of a receive (kept for callers that convert rustix's
/// `Errno` with `?`; it lives here, where rustix is named).
impl From<Errno> for crate::RecvError {
    fn from(e: Errno) -> Self {
        crate::RecvError::Io(e.into())
    }
}

/// As for `RecvError`; `EPIPE`-like errors become what `SendError::from(io::Error)` says.
impl From<Errno> for crate::SendError {
    fn from(e: Errno) -> Self {
        crate::SendError::from(io::Error::from(e))
    }
}

/// As for `RecvError`.
impl From<Errno> for crate::SegmentError {
    fn from(e: Errno) -> Self {
        crate::SegmentError::Io(e.into())
    }
}

/// A connected pair of `AF_UNIX` stream sockets, both `CLOEXEC`.
pub(crate) fn unix_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?)
}

/// A one-way pipe `(read, write)`, both `CLOEXEC`.
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?)
}

/// Why a write with a deadline stopped short.
#[derive(Debug)]
pub(crate) enum WriteFail {
    /// An operating-system error.
    Io(io::Error),
    /// The deadline passed after `written` bytes of the frame went out.
    TimedOut { written: usize },
}

impl From<io::Error> for WriteFail {
    fn from(e: io::Error) -> Self {
        WriteFail::Io(e)
    }
}

impl From<WriteFail> for io::Error {
    fn from(e: WriteFail) -> Self {
        match e {
            WriteFail::Io(e) => e,
            WriteFail::TimedOut { .. } => io::ErrorKind::TimedOut.into(),
        }
    }
}

/// Waits until `fd` takes more bytes; `false` when `deadline` passed first.
fn wait_writable(fd: BorrowedFd<'_>, deadline: Instant) -> io::Result<bool> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Ok(false);
    }
    let mut fds = [PollFd::new(&fd, PollFlags::OUT)];
    // A hang-up shows as POLLHUP/POLLERR: the next write reports it.
    poll_many(&mut fds, Some(left)).map(|n| n > 0)
}

/// One `send`/`sendmsg` attempt of a write with a deadline: `Ok(None)` when the socket
/// buffer is full (`EAGAIN`) and the deadline has passed.
fn send_step(
    fd: BorrowedFd<'_>,
    deadline: Option<Instant>,
    written: usize,
    mut step: impl FnMut(SendFlags) -> Result<usize, Errno>,
) -> Result<usize, WriteFail> {
    let flags = match deadline {
        None => SendFlags::NOSIGNAL,
        Some(_) => SendFlags::NOSIGNAL | SendFlags::DONTWAIT,
    };
    loop {
        match step(flags) {
            Ok(n) => return Ok(n),
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => match deadline {
                Some(d) if wait_writable(fd, d)? => {}
                Some(_) => return Err(WriteFail::TimedOut { written }),
                // A blocking socket that says EAGAIN has SO_SNDTIMEO set by its owner.
                None => return Err(WriteFail::Io(Errno::AGAIN.into())),
            },
            Err(e) => return Err(WriteFail::Io(e.into())),
        }
    }
}

/// Writes all of `bufs` with `sendmsg(MSG_NOSIGNAL)`, attaching `fds` to the first byte.
/// With a `deadline`, every call is non-blocking (`MSG_DONTWAIT`) and waits for room
/// with `poll` until then.
pub(crate) fn send_all(
    fd: BorrowedFd<'_>,
    bufs: &[&[u8]],
    fds: &[BorrowedFd<'_>],
    deadline: Option<Instant>,
) -> Result<(), WriteFail> {
    if let ([buf], []) = (bufs, fds) {
        // The common case (a small frame, already contiguous, no handles): plain
        // `send`, cheaper than `sendmsg` (no message header or iovec array to import).
        let mut off = 0;
        while off < buf.len() {
            let end = buf.len().min(off + WRITE_CHUNK);
            let n = send_step(fd, deadline, off, |f| {
                rustix::net::send(fd, &buf[off..end], f)
            })?;
            if n == 0 {
                return Err(WriteFail::Io(io::ErrorKind::WriteZero.into()));
            }
            off += n;
        }
        return Ok(());
    }
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(MAX_HANDLES))];
    let mut first = true;
    let mut skip = 0usize;
    let total: usize = bufs.iter().map(|b| b.len()).sum();
    while skip < total || (first && !fds.is_empty()) {
        let slices = remaining(bufs, skip, WRITE_CHUNK);
        let n = if first && !fds.is_empty() {
            let mut anc = SendAncillaryBuffer::new(&mut space);
            if !anc.push(SendAncillaryMessage::ScmRights(fds)) {
                return Err(WriteFail::Io(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "too many handles",
                )));
            }
            send_step(fd, deadline, skip, |f| sendmsg(fd, &slices, &mut anc, f))?
        } else {
            send_step(fd, deadline, skip, |f| {
                sendmsg(fd, &slices, &mut SendAncillaryBuffer::default(), f)
            })?
        };
        first = false;
        skip += n;
        if n == 0 && total > 0 {
            return Err(WriteFail::Io(io::ErrorKind::WriteZero.into()));
        }
    }
    Ok(())
}

/// The most a pipe takes in one write without blocking once `poll` reports it
/// writable (`PIPE_BUF`, also the size of an atomic pipe write).
const PIPE_STEP: usize = 4096;

/// Plain `write` loop for pipes (which reject `sendmsg`). A pipe's descriptor stays
/// blocking (its open file may be shared with other processes), so with a `deadline`
/// each write is preceded by `poll(POLLOUT)` and is at most [`PIPE_STEP`] bytes.
pub(crate) fn write_all(
    fd: BorrowedFd<'_>,
    bufs: &[&[u8]],
    deadline: Option<Instant>,
) -> Result<(), WriteFail> {
    let total: usize = bufs.iter().map(|b| b.len()).sum();
    let mut skip = 0;
    while skip < total {
        let budget = match deadline {
            None => WRITE_CHUNK,
            Some(d) => {
                if !wait_writable(fd, d)? {
                    return Err(WriteFail::TimedOut { written: skip });
                }
                PIPE_STEP
            }
        };
        let slices = remaining(bufs, skip, budget);
        let n = retry(|| rustix::io::writev(fd, &slices))?;
        if n == 0 {
            return Err(WriteFail::Io(io::ErrorKind::WriteZero.into()));
        }
        skip += n;
    }
    Ok(())
}

/// Largest amount handed to one `sendmsg`/`writev`. The kernel moves a large frame
/// faster as a series of 1 MiB writes than as one giant one (measured in
/// benches/ipc.rs: about 8 vs 5.5 GB/s for 64 MiB over a socketpair).
const WRITE_CHUNK: usize = 1 << 20;

/// The unsent part of `bufs` after `skip` bytes, at most `budget` bytes of it.
fn remaining<'a>(bufs: &[&'a [u8]], mut skip: usize, mut budget: usize) -> Vec<IoSlice<'a>> {
    let mut out = Vec::with_capacity(bufs.len());
    for b in bufs {
        if skip >= b.len() {
            skip -= b.len();
            continue;
        }
        let part = &b[skip..];
        let part = &part[..part.len().min(budget)];
        budget -= part.len();
        out.push(IoSlice::new(part));
        skip = 0;
        if budget == 0 {
            break;
        }
    }
    out
}

fn retry<T>(mut f: impl FnMut() -> Result<T, Errno>) -> io::Result<T> {
    loop {
        match f() {
            Err(Errno::INTR) => continue,
            r => return r.map_err(io::Error::from),
        }
    }
}

/// Result of filling a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fill {
    /// The buffer is full.
    Full,
    /// End of file after this many bytes.
    Eof(usize),
    /// The deadline passed after this many bytes.
    TimedOut(usize),
}

/// One receive into `buf`: `Ok(Some(n))` read `n` bytes (0 is end of file), `Ok(None)`
/// nothing was waiting (only with `nowait`).
///
/// With `fds`, sockets use `recvmsg(MSG_CMSG_CLOEXEC)` with room for [`MAX_HANDLES`]
/// descriptors, appended to `fds`; without, plain `recv` (descriptors arriving with
/// these bytes are closed by the kernel). Pipes use `read`. `nowait` is
/// `MSG_DONTWAIT` on a socket; on a pipe (a blocking descriptor that takes no per-call
/// flag) it is a zero-timeout `poll` first.
pub(crate) fn recv_once(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    fds: Option<&mut Vec<OwnedFd>>,
    sock: bool,
    nowait: bool,
) -> io::Result<Option<usize>> {
    if !sock {
        if nowait && !wait_readable(fd, Some(Duration::ZERO))? {
            return Ok(None);
        }
        return retry(|| rustix::io::read(fd, &mut *buf)).map(Some);
    }
    let flags = if nowait {
        RecvFlags::DONTWAIT
    } else {
        RecvFlags::empty()
    };
    let r = match fds {
        Some(fds) => {
            let mut space =
                [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(MAX_HANDLES))];
            let mut anc = RecvAncillaryBuffer::new(&mut space);
            let mut iov = [IoSliceMut::new(&mut *buf)];
            let r = retry(|| recvmsg(fd, &mut iov, &mut anc, flags | RecvFlags::CMSG_CLOEXEC));
            if let Ok(msg) = &r {
                for m in anc.drain() {
                    if let RecvAncillaryMessage::ScmRights(rights) = m {
                        fds.extend(rights);
                    }
                }
                if msg.flags.contains(rustix::net::ReturnFlags::CTRUNC) {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "ancillary data truncated: peer sent too many handles",
                    ));
                }
            }
            r.map(|m| m.bytes)
        }
        None => retry(|| rustix::net::recv(fd, &mut *buf, flags).map(|(n, _)| n)),
    };
    match r {
        Ok(n) => Ok(Some(n)),
        Err(e) if nowait && e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    }
}

/// How [`fill`] starts when it has a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// The bytes are probably there (a payload after its header): try to read at
    /// once, and `poll` only if nothing is waiting.
    Read,
    /// The bytes are probably not there yet (a header): `poll` first.
    Wait,
}

/// Reads exactly `buf.len()` bytes, or until end of file or `deadline`, with
/// [`recv_once`] (`fds` as there).
///
/// Without a deadline the thread sleeps in the read itself, as CPython and the
/// bare-socket floor do. (Sleeping in `poll` instead was tried: it avoids a spurious
/// wake-up — when the peer reads a frame we sent, the freed buffer space wakes every
/// sleeper on our socket, including a thread blocked in `recvmsg` for the answer,
/// whereas `poll` filters wake-ups by event — and on a round trip with both processes
/// on one CPU it cut context switches from 3.4 to 2.0 per round trip and CPU time by a
/// quarter; but with the processes on two CPUs, the usual case, it made each hop
/// ~3 µs slower, for the bare socket as much as for us.) With a deadline there is no
/// choice: the wait is a `poll`, and `start` says whether to try a read before it.
pub(crate) fn fill(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    mut fds: Option<&mut Vec<OwnedFd>>,
    sock: bool,
    deadline: Option<Instant>,
    start: Start,
) -> io::Result<Fill> {
    let mut got = 0;
    let mut try_read = start == Start::Read;
    while got < buf.len() {
        let part = &mut buf[got..];
        let n = if deadline.is_none() {
            recv_once(fd, part, fds.as_deref_mut(), sock, false)?
        } else if try_read {
            recv_once(fd, part, fds.as_deref_mut(), sock, true)?
        } else {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if !wait_readable(fd, left)? {
                return Ok(Fill::TimedOut(got));
            }
            // Readable now: this read does not block (`MSG_DONTWAIT` on a socket all
            // the same, in case another reader of the descriptor took the data).
            recv_once(fd, part, fds.as_deref_mut(), sock, sock)?
        };
        match n {
            Some(0) => return Ok(Fill::Eof(got)),
            Some(n) => {
                got += n;
                try_read = true;
            }
            None => try_read = false,
        }
    }
    Ok(Fill::Full)
}

/// `poll(POLLIN)` on one descriptor. `None` waits forever. Returns whether it is
/// readable (or hung up, which a read then reports as EOF).
pub(crate) fn wait_readable(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<bool> {
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    poll_many(&mut fds, timeout).map(|n| n > 0)
}

/// `poll(POLLIN)` on many descriptors (retrying on `EINTR` with the remaining time):
/// which are readable, hung up or in error, in order (all `false` when the timeout
/// passed).
pub(crate) fn poll_in(fds: &[BorrowedFd<'_>], timeout: Option<Duration>) -> io::Result<Vec<bool>> {
    let mut polls: Vec<PollFd<'_>> = fds
        .iter()
        .map(|fd| PollFd::new(fd, PollFlags::IN))
        .collect();
    let n = poll_many(&mut polls, timeout)?;
    // With only POLLIN asked, revents holds IN, HUP, ERR or NVAL: each means a read
    // would not block.
    Ok(polls
        .iter()
        .map(|p| n > 0 && !p.revents().is_empty())
        .collect())
}

/// `poll` on many descriptors, retrying on `EINTR` with the remaining time.
pub(crate) fn poll_many(fds: &mut [PollFd<'_>], timeout: Option<Duration>) -> io::Result<usize> {
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    loop {
        let ts = match deadline {
            None => None,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                Some(rustix::time::Timespec {
                    tv_sec: left.as_secs().min(i64::MAX as u64) as i64,
                    tv_nsec: i64::from(left.subsec_nanos()),
                })
            }
        };
        match poll(fds, ts.as_ref()) {
            Err(Errno::INTR) => continue,
            r => return r.map_err(io::Error::from),
        }
    }
}

/// Whether `fd` is a socket (pipes do not take `sendmsg`).
pub(crate) fn is_socket(fd: BorrowedFd<'_>) -> bool {
    rustix::fs::fstat(fd)
        .map(|st| rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Socket)
        .unwrap_or(false)
}

/// Whether the socket is `AF_UNIX` (only those carry handles).
pub(crate) fn is_unix_socket(fd: BorrowedFd<'_>) -> bool {
    matches!(
        rustix::net::sockopt::socket_domain(fd),
        Ok(d) if d == AddressFamily::UNIX
    )
}

/// Anonymous memory file (`memfd_create(MFD_CLOEXEC)`) of `len` bytes.
pub(crate) fn memfd(name: &str, len: u64) -> io::Result<OwnedFd> {
    let fd = rustix::fs::memfd_create(name, rustix::fs::MemfdFlags::CLOEXEC)?;
    rustix::fs::ftruncate(&fd, len)?;
    Ok(fd)
}

/// A memory file for a shared-memory frame: `memfd_create(MFD_CLOEXEC |
/// MFD_ALLOW_SEALING)`, sized to `len`, then sealed against shrinking and growing
/// (`F_SEAL_SHRINK | F_SEAL_GROW`, and `F_SEAL_SEAL` so no other seal can follow).
/// A receiver that checks these seals can map it knowing that no access inside its
/// size can ever fault (SIGBUS), whatever the sender does later.
pub(crate) fn sealed_memfd(name: &str, len: u64) -> io::Result<OwnedFd> {
    use rustix::fs::{MemfdFlags, SealFlags};
    let fd = rustix::fs::memfd_create(name, MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)?;
    rustix::fs::ftruncate(&fd, len)?;
    rustix::fs::fcntl_add_seals(&fd, SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL)?;
    Ok(fd)
}

/// Whether `fd` is a memory file sealed against shrinking and growing
/// (`fcntl(F_GET_SEALS)`); any other descriptor (a socket, a disk file, an unsealed
/// memfd) is `false`.
pub(crate) fn is_size_sealed(fd: BorrowedFd<'_>) -> bool {
    use rustix::fs::SealFlags;
    rustix::fs::fcntl_get_seals(fd).is_ok_and(|s| s.contains(SealFlags::SHRINK | SealFlags::GROW))
}

/// Copies `src` into `seg` at byte `offset`; `false` (nothing copied) when the range
/// is not inside the segment.
pub(crate) fn segment_write(seg: &crate::SharedSegment, offset: usize, src: &[u8]) -> bool {
    mem::segment_write(seg, offset, src)
}

/// Appends `len` bytes of `seg` from byte `offset` to `out` (one copy, no zero-fill);
/// `false` (nothing copied) when the range is not inside the segment.
pub(crate) fn segment_read_vec(
    seg: &crate::SharedSegment,
    offset: usize,
    len: usize,
    out: &mut Vec<u8>,
) -> bool {
    mem::segment_read_vec(seg, offset, len, out)
}

/// Copies `out.len()` bytes of `seg` from byte `offset` into `out`; `false` (nothing
/// copied) when the range is not inside the segment.
pub(crate) fn segment_read(seg: &crate::SharedSegment, offset: usize, out: &mut [u8]) -> bool {
    mem::segment_read(seg, offset, out)
}

/// The `len` bytes of `seg` from byte `offset`, read in place (no copy); `None` when
/// the range is not inside the segment. Only for a received shared-memory frame's
/// payload while this process holds the segment (its state word `FULL`, see
/// `crate::shm`): the sender does not write it until it is handed back.
pub(crate) fn segment_bytes(
    seg: &crate::SharedSegment,
    offset: usize,
    len: usize,
) -> Option<&[u8]> {
    mem::segment_bytes(seg, offset, len)
}

/// Loads (acquire) the 32-bit state word at the start of `seg`.
/// `u32::MAX` for a segment too short to hold one.
pub(crate) fn segment_state(seg: &crate::SharedSegment) -> u32 {
    mem::state(seg).map_or(u32::MAX, |s| s.load(std::sync::atomic::Ordering::Acquire))
}

/// Stores (release) the 32-bit state word at the start of `seg` (nothing for a segment
/// too short to hold one).
pub(crate) fn set_segment_state(seg: &crate::SharedSegment, v: u32) {
    if let Some(s) = mem::state(seg) {
        s.store(v, std::sync::atomic::Ordering::Release);
    }
}

/// Swaps (acquire-release) the state word at the start of `seg`, returning the old
/// value (`u32::MAX`, nothing stored, for a segment too short to hold one).
pub(crate) fn swap_segment_state(seg: &crate::SharedSegment, v: u32) -> u32 {
    mem::state(seg).map_or(u32::MAX, |s| s.swap(v, std::sync::atomic::Ordering::AcqRel))
}

/// Compare-and-swap (acquire-release) of the state word: the value found.
pub(crate) fn cas_segment_state(seg: &crate::SharedSegment, from: u32, to: u32) -> u32 {
    use std::sync::atomic::Ordering;
    mem::state(seg).map_or(u32::MAX, |s| {
        match s.compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire) {
            Ok(v) | Err(v) => v,
        }
    })
}

/// `FUTEX_WAIT` (shared: no `FUTEX_PRIVATE_FLAG`, the word is in memory two processes
/// map) on the state word while it holds `expected`, for at most `timeout`. Returns on
/// a wake-up, a signal, a changed value or the timeout alike: callers re-check.
pub(crate) fn wait_segment_state(seg: &crate::SharedSegment, expected: u32, timeout: Duration) {
    use rustix::thread::futex;
    let Some(word) = mem::state(seg) else { return };
    let ts = futex::Timespec {
        tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(timeout.subsec_nanos()),
    };
    let _ = futex::wait(word, futex::Flags::empty(), expected, Some(&ts));
}

/// `FUTEX_WAKE` (shared) of one waiter on the state word.
pub(crate) fn wake_segment_state(seg: &crate::SharedSegment) {
    use rustix::thread::futex;
    if let Some(word) = mem::state(seg) {
        // An error can only mean a bad address, impossible for a live mapping.
        let _ = futex::wake(word, futex::Flags::empty(), 1);
    }
}

/// Whether the peer of a socket hung up (`poll` reports `POLLHUP`/`POLLERR` without
/// waiting; pending data does not count).
pub(crate) fn peer_gone(fd: BorrowedFd<'_>) -> bool {
    let mut fds = [PollFd::new(&fd, PollFlags::empty())];
    match poll_many(&mut fds, Some(Duration::ZERO)) {
        Ok(n) if n > 0 => fds[0]
            .revents()
            .intersects(PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL),
        _ => false,
    }
}

/// Size of a regular or memory file.
pub(crate) fn file_len(fd: impl AsFd) -> io::Result<u64> {
    let st = rustix::fs::fstat(fd)?;
    if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a memory file",
        ));
    }
    Ok(st.st_size as u64)
}

/// One `read(2)` (retrying `EINTR`) into `buf`; 0 means end of file.
pub(crate) fn read_some(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    retry(|| rustix::io::read(fd, &mut *buf))
}

/// Writes all of `bufs` to a socket (`sendmsg(MSG_NOSIGNAL)`) or, failing that, a pipe.
pub(crate) fn send_or_write_all(fd: BorrowedFd<'_>, bufs: &[&[u8]]) -> io::Result<()> {
    if is_socket(fd) {
        Ok(send_all(fd, bufs, &[], None)?)
    } else {
        Ok(write_all(fd, bufs, None)?)
    }
}

/// Raises the socket's send buffer (used before large frames; the kernel caps the value
/// at `net.core.wmem_max`). Errors are ignored: this is only a speed-up.
pub(crate) fn grow_send_buffer(fd: BorrowedFd<'_>, size: usize) {
    let _ = rustix::net::sockopt::set_socket_send_buffer_size(fd, size);
}

/// Raises the socket's receive buffer; errors ignored as for [`grow_send_buffer`].
pub(crate) fn grow_recv_buffer(fd: BorrowedFd<'_>, size: usize) {
    let _ = rustix::net::sockopt::set_socket_recv_buffer_size(fd, size);
}

/// Raises a pipe's capacity towards `size` (capped by `/proc/sys/fs/pipe-max-size`,
/// 1 MiB by default). Errors are ignored: this is only a speed-up.
pub(crate) fn grow_pipe(fd: BorrowedFd<'_>, size: usize) {
    let max = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(1 << 20);
    let _ = rustix::pipe::fcntl_setpipe_size(fd, size.min(max));
}

/// One read of at most `max` bytes appended to `out`'s spare capacity (no zero-fill):
/// `Ok(Some(n))` (0 is end of file), or `Ok(None)` when `nowait` and nothing is waiting.
/// Sockets use `recv` (any handles in these bytes are closed by the kernel), pipes `read`.
pub(crate) fn read_into_spare(
    fd: BorrowedFd<'_>,
    out: &mut Vec<u8>,
    max: usize,
    sock: bool,
    nowait: bool,
) -> io::Result<Option<usize>> {
    if out.capacity() - out.len() > max {
        // Never read past `max` (the end of the frame); the callers size the capacity
        // so that this does not happen, but `Vec` does not promise exact capacities.
        let mut tmp = vec![0u8; max];
        let n = recv_once(fd, &mut tmp, None, sock, nowait)?;
        if let Some(n) = n {
            out.extend_from_slice(&tmp[..n]);
        }
        return Ok(n);
    }
    if !sock {
        if nowait && !wait_readable(fd, Some(Duration::ZERO))? {
            return Ok(None);
        }
        return retry(|| rustix::io::read(fd, rustix::buffer::spare_capacity(&mut *out))).map(Some);
    }
    let flags = if nowait {
        RecvFlags::DONTWAIT
    } else {
        RecvFlags::empty()
    };
    match retry(|| {
        rustix::net::recv(fd, rustix::buffer::spare_capacity(&mut *out), flags).map(|(n, _)| n)
    }) {
        Ok(n) => Ok(Some(n)),
        Err(e) if nowait && e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    }
}

/// Asks the kernel to back `buf`'s allocation with transparent huge pages
/// (`madvise(MADV_HUGEPAGE)`; a no-op below 2 MiB of capacity and where THP is
/// unavailable). For large receive buffers, which are fresh allocations the kernel then
/// fills: faulting in 64 MiB as 16 384 small pages costs several times the copy itself
/// on this project's machines (~45 ms vs ~5 ms with 2 MiB pages, measured). The
/// contents and the validity of the memory are unchanged; errors are ignored (this is
/// only a speed-up).
pub(crate) fn advise_huge(buf: &mut Vec<u8>) {
    mem::advise_huge(buf);
}

/// Raw memory: `madvise` takes a raw address range, and the shared-memory frames copy
/// into and out of a mapped segment and view its state word atomically.
#[expect(
    unsafe_code,
    reason = "`madvise` and the segment copies take raw addresses"
)]
mod mem {
    use std::ffi::c_void;

    /// Huge-page size on the platforms where THP exists (x86-64, aarch64 with 4 KiB pages).
    const HUGE: usize = 2 << 20;

    /// Whether `[offset, offset + len)` lies inside `seg`.
    fn inside(seg: &crate::SharedSegment, offset: usize, len: usize) -> bool {
        offset.checked_add(len).is_some_and(|end| end <= seg.len())
    }

    pub(super) fn segment_write(seg: &crate::SharedSegment, offset: usize, src: &[u8]) -> bool {
        if !inside(seg, offset, src.len()) {
            return false;
        }
        // SAFETY:
        // - `seg.as_ptr()` is valid for `seg.len()` bytes while `seg` lives (a
        //   `MAP_SHARED` mapping of a memfd sealed against shrinking, or made by this
        //   process, so no access inside it faults), and `[offset, offset + len)` is
        //   inside it (checked above);
        // - `src` is private memory of this process, so the ranges do not overlap;
        // - who else touches the range: the peer process maps the same pages, but by the
        //   segment protocol (`crate::shm`) only the side holding the segment (state
        //   word FREE on the sender's side, FULL on the receiver's) accesses the
        //   payload; a peer that breaks the protocol can only make the bytes we copy
        //   garbage, never touch our private memory, since this is a raw byte copy and
        //   no reference to the shared bytes is ever made.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), seg.as_ptr().add(offset), src.len()) };
        true
    }

    pub(super) fn segment_read(seg: &crate::SharedSegment, offset: usize, out: &mut [u8]) -> bool {
        if !inside(seg, offset, out.len()) {
            return false;
        }
        // SAFETY: as in `segment_write`, with the copy the other way: the source is the
        // shared range (inside the mapping, checked), the destination private memory.
        unsafe {
            std::ptr::copy_nonoverlapping(seg.as_ptr().add(offset), out.as_mut_ptr(), out.len())
        };
        true
    }

    pub(super) fn segment_read_vec(
        seg: &crate::SharedSegment,
        offset: usize,
        len: usize,
        out: &mut Vec<u8>,
    ) -> bool {
        if !inside(seg, offset, len) {
            return false;
        }
        out.reserve(len);
        let old = out.len();
        // SAFETY:
        // - the source is inside the mapping (checked above; see `segment_write` for
        //   why no access inside it faults and who else touches it);
        // - the destination is `out`'s spare capacity, at least `len` bytes after
        //   `reserve`, private to this process, so the ranges do not overlap;
        // - `set_len(old + len)`: those `len` bytes were all just initialised by the copy.
        unsafe {
            std::ptr::copy_nonoverlapping(seg.as_ptr().add(offset), out.as_mut_ptr().add(old), len);
            out.set_len(old + len);
        }
        true
    }

    pub(super) fn segment_bytes(
        seg: &crate::SharedSegment,
        offset: usize,
        len: usize,
    ) -> Option<&[u8]> {
        if !inside(seg, offset, len) {
            return None;
        }
        // SAFETY:
        // - `[offset, offset + len)` is inside the mapping (checked above), which is
        //   valid for reads for as long as `seg` lives (the returned slice borrows
        //   `seg`, so it cannot outlive the mapping), and no access inside it can fault:
        //   a received segment is a memfd sealed against shrinking (checked before it
        //   was mapped), so the sender cannot truncate it under us (no SIGBUS);
        // - the bytes are initialised: a memfd reads as zeroes where never written;
        // - who else touches the range: the sender's process maps the same pages, and by
        //   the segment protocol (`crate::shm`) writes the payload only while the state
        //   word is `FREE`; the caller holds the segment (the word is `FULL`/`WAITED`,
        //   set by the sender before it sent the reference) until the slice is gone and
        //   only then swaps in `FREE`, so no one writes these bytes while the slice
        //   exists. This process never writes a received segment's payload. A peer that
        //   breaks the protocol (writes a segment it handed over) races with our reads:
        //   the trust `enable_shm` on both ends states, and documented on
        //   `SharedBytes`; the copying receives never form a reference and stay
        //   unaffected.
        Some(unsafe { std::slice::from_raw_parts(seg.as_ptr().add(offset).cast_const(), len) })
    }

    pub(super) fn state(seg: &crate::SharedSegment) -> Option<&std::sync::atomic::AtomicU32> {
        if seg.len() < 4 {
            return None;
        }
        // SAFETY:
        // - the mapping starts on a page boundary (4-byte alignment at least) and is
        //   at least 4 bytes long (checked above), so the first 4 bytes are a valid, aligned `u32` location for as long as `seg`
        //   lives, which bounds the returned reference;
        // - every access to these bytes, in either process, is atomic (this function is
        //   the only way the crate touches them), and any bit pattern is a valid `u32`.
        Some(unsafe { std::sync::atomic::AtomicU32::from_ptr(seg.as_ptr().cast::<u32>()) })
    }

    pub(super) fn advise_huge(buf: &mut Vec<u8>) {
        let cap = buf.capacity();
        if cap < HUGE {
            return;
        }
        let page = rustix::param::page_size();
        let start = buf.as_mut_ptr() as usize;
        // The whole pages that hold any byte of the allocation. Rounding outward
        // (rather than advising only the pages fully inside it) keeps the allocator's
        // mapping one uniform VMA, so a later `realloc` can still grow it with `mremap`
        // instead of copying (mremap refuses to resize across VMAs).
        let lo = start & !(page - 1);
        let hi = (start + cap).next_multiple_of(page);
        // SAFETY:
        // - `[lo, hi)` is mapped: every page in it holds at least one byte of `buf`'s
        //   live allocation (`cap > 0`, so the pointer is not dangling);
        // - `MADV_HUGEPAGE` only sets a paging policy on the range: it changes no byte
        //   of memory and no mapping's validity, so neither `buf` nor any other
        //   allocation that shares the first or last page can observe it.
        let _ = unsafe {
            rustix::mm::madvise(
                lo as *mut c_void,
                hi - lo,
                rustix::mm::Advice::LinuxHugepage,
            )
        };
    }
}

// ------------------------------------------------------------- the async layer (`aio`)
//
// The calls of the `tokio` feature's `aio` module: every one of them returns at once,
// with an error of kind `WouldBlock` when it would have to wait (the caller then waits
// for readiness on tokio's reactor and tries again). The descriptors stay in the mode
// they were in (blocking, as a `Connection`'s usually is): sockets take `MSG_DONTWAIT`,
// a pipe is polled (zero timeout) first.
#[cfg(feature = "tokio")]
pub(crate) mod aio {
    use super::*;

    fn would_block() -> io::Error {
        io::ErrorKind::WouldBlock.into()
    }

    /// One non-blocking write of (the first [`WRITE_CHUNK`] bytes of) `bufs`, attaching
    /// `fds` to it: `sendmsg(MSG_NOSIGNAL | MSG_DONTWAIT)` on a socket, a zero-timeout
    /// `poll(POLLOUT)` and then at most [`PIPE_STEP`] bytes of `writev` on a pipe.
    /// Returns the bytes written; `WouldBlock` when nothing could be.
    pub(crate) fn send_nowait(
        fd: BorrowedFd<'_>,
        bufs: &[&[u8]],
        fds: &[BorrowedFd<'_>],
        sock: bool,
    ) -> io::Result<usize> {
        if !sock {
            let mut p = [PollFd::new(&fd, PollFlags::OUT)];
            if poll_many(&mut p, Some(Duration::ZERO))? == 0 {
                return Err(would_block());
            }
            let slices = remaining(bufs, 0, PIPE_STEP);
            return retry(|| rustix::io::writev(fd, &slices));
        }
        let slices = remaining(bufs, 0, WRITE_CHUNK);
        let flags = SendFlags::NOSIGNAL | SendFlags::DONTWAIT;
        let r = if fds.is_empty() {
            match &slices[..] {
                [one] => retry(|| rustix::net::send(fd, one, flags)),
                _ => retry(|| sendmsg(fd, &slices, &mut SendAncillaryBuffer::default(), flags)),
            }
        } else {
            let mut space =
                [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(MAX_HANDLES))];
            let mut anc = SendAncillaryBuffer::new(&mut space);
            if !anc.push(SendAncillaryMessage::ScmRights(fds)) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "too many handles",
                ));
            }
            retry(|| sendmsg(fd, &slices, &mut anc, flags))
        };
        match r {
            Ok(0) if bufs.iter().any(|b| !b.is_empty()) => Err(io::ErrorKind::WriteZero.into()),
            r => r,
        }
    }

    /// One non-blocking read of at most `buf.len()` bytes (0 is end of file); `WouldBlock`
    /// when nothing is waiting. See [`recv_once`].
    pub(crate) fn recv_nowait(fd: BorrowedFd<'_>, buf: &mut [u8], sock: bool) -> io::Result<usize> {
        recv_once(fd, buf, None, sock, true)?.ok_or_else(would_block)
    }

    /// `accept4(SOCK_CLOEXEC)` on a non-blocking listening socket: the new (blocking)
    /// socket and its peer's address; `WouldBlock` when nobody is waiting.
    pub(crate) fn accept_nowait(
        fd: BorrowedFd<'_>,
    ) -> io::Result<(OwnedFd, Option<crate::address::Address>)> {
        loop {
            match rustix::net::acceptfrom_with(fd, SocketFlags::CLOEXEC) {
                Ok((fd, peer)) => return Ok((fd, peer.as_ref().and_then(super::net::from_any))),
                Err(Errno::INTR | Errno::CONNABORTED) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// `TCP_NODELAY` on (a speed-up for request/response traffic; errors ignored).
    pub(crate) fn set_nodelay(fd: BorrowedFd<'_>) {
        let _ = rustix::net::sockopt::set_tcp_nodelay(fd, true);
    }

    /// What starting a non-blocking `connect` gave.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum Connecting {
        /// Connected already.
        Done,
        /// In progress (`EINPROGRESS`): wait until writable, then [`connect_result`].
        InProgress,
        /// The listener's backlog is full (`EAGAIN` on a Unix socket): try again later
        /// with a fresh socket.
        Busy,
    }

    /// A non-blocking `CLOEXEC` stream socket of `to`'s family, and `connect` started
    /// on it.
    pub(crate) fn connect_nowait(
        to: &crate::address::Address,
    ) -> io::Result<(OwnedFd, Connecting)> {
        let family = super::net::family(to);
        let to = &super::net::to_any(to)?;
        let fd = rustix::net::socket_with(
            family,
            SocketType::STREAM,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            None,
        )?;
        loop {
            return match rustix::net::connect(&fd, to) {
                Ok(()) => Ok((fd, Connecting::Done)),
                Err(Errno::INTR) => continue,
                Err(Errno::INPROGRESS) => Ok((fd, Connecting::InProgress)),
                Err(Errno::AGAIN) => Ok((fd, Connecting::Busy)),
                Err(e) => Err(e.into()),
            };
        }
    }

    /// The outcome of a non-blocking `connect` once the socket is writable (`SO_ERROR`).
    pub(crate) fn connect_result(fd: BorrowedFd<'_>) -> io::Result<()> {
        match rustix::net::sockopt::socket_error(fd) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) | Err(e) => Err(e.into()),
        }
    }

    /// Puts `fd` back in blocking mode (`FIONBIO` off), as a blocking `Connection` expects.
    pub(crate) fn set_blocking(fd: BorrowedFd<'_>) -> io::Result<()> {
        Ok(rustix::io::ioctl_fionbio(fd, false)?)
    }

    /// The types whose descriptor may be registered with tokio's reactor: each owns
    /// its descriptor (an `OwnedFd` field set at construction and never replaced) from
    /// creation to drop, and its `as_raw_fd` always returns that one.
    pub(crate) trait OwnsFd: std::os::fd::AsRawFd {}
    impl OwnsFd for OwnedFd {}
    impl OwnsFd for crate::Connection {}
    impl OwnsFd for crate::Listener {}

    /// `inner` registered with the current tokio runtime's reactor (`epoll_ctl`) for
    /// `interest`.
    #[expect(
        unsafe_code,
        reason = "tokio's registration is unsafe since 1.54 (I/O safety)"
    )]
    pub(crate) fn register<T: OwnsFd>(
        inner: T,
        interest: tokio::io::Interest,
    ) -> io::Result<tokio::io::unix::AsyncFd<T>> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(io::Error::other(
                "multiproc-ipc aio: not inside a tokio runtime",
            ));
        }
        // SAFETY:
        // - the descriptor is valid and open: `inner` owns it (`OwnsFd`), and `inner`
        //   is moved into the `AsyncFd`, so nothing else can close it while registered;
        // - it stays the same open file description until the `AsyncFd` is dropped or
        //   `into_inner` is called: none of the `OwnsFd` types can replace its
        //   descriptor, and the crate never calls `AsyncFd::get_mut` on them;
        // - `as_raw_fd` returns that same descriptor on every call (an `OwnedFd` field).
        let r = unsafe { tokio::io::unix::AsyncFd::register_with_interest(inner, interest) };
        r.map_err(|e| e.into_parts().1)
    }
}
