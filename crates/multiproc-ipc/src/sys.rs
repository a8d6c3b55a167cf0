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

/// Writes all of `bufs` with `sendmsg(MSG_NOSIGNAL)`, attaching `fds` to the first byte.
pub(crate) fn send_all(
    fd: BorrowedFd<'_>,
    bufs: &[&[u8]],
    fds: &[BorrowedFd<'_>],
) -> io::Result<()> {
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(MAX_HANDLES))];
    let mut first = true;
    let mut skip = 0usize;
    let total: usize = bufs.iter().map(|b| b.len()).sum();
    while skip < total || (first && !fds.is_empty()) {
        let slices = remaining(bufs, skip);
        let n = if first && !fds.is_empty() {
            let mut anc = SendAncillaryBuffer::new(&mut space);
            if !anc.push(SendAncillaryMessage::ScmRights(fds)) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "too many handles",
                ));
            }
            retry(|| sendmsg(fd, &slices, &mut anc, SendFlags::NOSIGNAL))?
        } else {
            retry(|| {
                sendmsg(
                    fd,
                    &slices,
                    &mut SendAncillaryBuffer::default(),
                    SendFlags::NOSIGNAL,
                )
            })?
        };
        first = false;
        skip += n;
        if n == 0 && total > 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
    }
    Ok(())
}

/// Plain `write` loop for pipes (which reject `sendmsg`).
pub(crate) fn write_all(fd: BorrowedFd<'_>, bufs: &[&[u8]]) -> io::Result<()> {
    let total: usize = bufs.iter().map(|b| b.len()).sum();
    let mut skip = 0;
    while skip < total {
        let slices = remaining(bufs, skip);
        let n = retry(|| rustix::io::writev(fd, &slices))?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        skip += n;
    }
    Ok(())
}

/// Largest amount handed to one `sendmsg`/`writev`. The kernel moves a large frame
/// faster as a series of 1 MiB writes than as one giant one (measured in
/// benches/ipc.rs: about 8 vs 5.5 GB/s for 64 MiB over a socketpair).
const WRITE_CHUNK: usize = 1 << 20;

/// The unsent part of `bufs` after `skip` bytes, at most [`WRITE_CHUNK`] bytes of it.
fn remaining<'a>(bufs: &[&'a [u8]], mut skip: usize) -> Vec<IoSlice<'a>> {
    let mut out = Vec::with_capacity(bufs.len());
    let mut budget = WRITE_CHUNK;
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
pub(crate) enum Fill {
    /// The buffer is full.
    Full,
    /// End of file after this many bytes.
    Eof(usize),
}

/// Reads exactly `buf.len()` bytes (or until EOF) with `recvmsg(MSG_CMSG_CLOEXEC)`,
/// appending any descriptors that arrive to `fds`. `deadline` bounds each wait.
pub(crate) fn recv_exact(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    fds: &mut Vec<OwnedFd>,
    sock: bool,
    deadline: Option<Instant>,
) -> io::Result<Fill> {
    let mut got = 0;
    while got < buf.len() {
        if let Some(d) = deadline {
            if !wait_readable(fd, Some(d.saturating_duration_since(Instant::now())))? {
                return Err(io::ErrorKind::TimedOut.into());
            }
        }
        let n = if sock {
            let mut space =
                [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(MAX_HANDLES))];
            let mut anc = RecvAncillaryBuffer::new(&mut space);
            let mut iov = [IoSliceMut::new(&mut buf[got..])];
            let r = retry(|| recvmsg(fd, &mut iov, &mut anc, RecvFlags::CMSG_CLOEXEC))?;
            for msg in anc.drain() {
                if let RecvAncillaryMessage::ScmRights(rights) = msg {
                    fds.extend(rights);
                }
            }
            if r.flags.contains(rustix::net::ReturnFlags::CTRUNC) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "ancillary data truncated: peer sent too many handles",
                ));
            }
            r.bytes
        } else {
            retry(|| rustix::io::read(fd, &mut buf[got..]))?
        };
        if n == 0 {
            return Ok(Fill::Eof(got));
        }
        got += n;
    }
    Ok(Fill::Full)
}

/// `poll(POLLIN)` on one descriptor. `None` waits forever. Returns whether it is
/// readable (or hung up, which a read then reports as EOF).
pub(crate) fn wait_readable(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<bool> {
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    poll_many(&mut fds, timeout).map(|n| n > 0)
}

/// `poll` on many descriptors, retrying on `EINTR` with the remaining time.
pub(crate) fn poll_many(fds: &mut [PollFd<'_>], timeout: Option<Duration>) -> io::Result<usize> {
    let deadline = timeout.map(|t| Instant::now() + t);
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
        send_all(fd, bufs, &[])
    } else {
        write_all(fd, bufs)
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

/// One read of at most `max` bytes appended to `out`'s spare capacity (no zero-fill).
/// Sockets use `recv` (any handles in these bytes are closed by the kernel), pipes `read`.
pub(crate) fn read_into_spare(
    fd: BorrowedFd<'_>,
    out: &mut Vec<u8>,
    max: usize,
    sock: bool,
) -> io::Result<usize> {
    // Limit the read to `max` bytes by reserving no more than that beyond len when
    // needed: rustix reads into the whole spare capacity, so trim it via a split read.
    let spare = out.capacity() - out.len();
    if spare > max {
        // Rare (only the last read of a frame): read into a bounded temporary region.
        let mut tmp = vec![0u8; max];
        let n = if sock {
            retry(|| {
                rustix::net::recv(fd, &mut tmp[..], rustix::net::RecvFlags::empty()).map(|(n, _)| n)
            })?
        } else {
            retry(|| rustix::io::read(fd, &mut tmp[..]))?
        };
        out.extend_from_slice(&tmp[..n]);
        return Ok(n);
    }
    if sock {
        retry(|| {
            rustix::net::recv(
                fd,
                rustix::buffer::spare_capacity(out),
                rustix::net::RecvFlags::empty(),
            )
            .map(|(n, _)| n)
        })
    } else {
        retry(|| rustix::io::read(fd, rustix::buffer::spare_capacity(out)))
    }
}

/// As [`recv_exact`] without ancillary data: `recv` on sockets (handles arriving in
/// these bytes are closed by the kernel), `read` on pipes.
pub(crate) fn read_exact_plain(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    sock: bool,
    deadline: Option<Instant>,
) -> io::Result<Fill> {
    let mut got = 0;
    while got < buf.len() {
        if let Some(d) = deadline {
            if !wait_readable(fd, Some(d.saturating_duration_since(Instant::now())))? {
                return Err(io::ErrorKind::TimedOut.into());
            }
        }
        let n = if sock {
            retry(|| {
                rustix::net::recv(fd, &mut buf[got..], rustix::net::RecvFlags::empty())
                    .map(|(n, _)| n)
            })?
        } else {
            retry(|| rustix::io::read(fd, &mut buf[got..]))?
        };
        if n == 0 {
            return Ok(Fill::Eof(got));
        }
        got += n;
    }
    Ok(Fill::Full)
}
