//! The pool's calls to the OS (STYLE.md: only `sys` names rustix): the supervisors'
//! wake-up eventfds, the poll a supervisor sleeps in, and the identity of a memory file
//! a worker receives. Everything else goes through `multiproc-ipc` and
//! `multiproc-process`.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use rustix::event::{EventfdFlags, PollFd, PollFlags};

use crate::error::Error;

/// A non-blocking, close-on-exec eventfd (`eventfd(2)`) starting at 0: a supervisor's
/// wake-up bell.
pub(crate) fn eventfd() -> io::Result<OwnedFd> {
    Ok(rustix::event::eventfd(
        0,
        EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK,
    )?)
}

/// Rings an eventfd (adds 1). Errors are ignored: a full counter still wakes the
/// sleeper, and a closed one has nobody to wake.
pub(crate) fn ring(fd: BorrowedFd<'_>) {
    let _ = rustix::io::write(fd, &1u64.to_ne_bytes());
}

/// Resets an eventfd (reads its counter); nothing to read is fine.
pub(crate) fn drain(fd: BorrowedFd<'_>) {
    let mut buf = [0u8; 8];
    let _ = rustix::io::read(fd, &mut buf);
}

/// Waits until one of `fds` is readable (or hung up), at most `timeout` (`None`: for
/// ever), retrying on `EINTR` (`poll(2)`). Which of them are ready, in order; `None`
/// when the poll itself failed.
pub(crate) fn poll_readable<const N: usize>(
    fds: [BorrowedFd<'_>; N],
    timeout: Option<Duration>,
) -> Option<[bool; N]> {
    let mut polled = fds.map(|fd| PollFd::from_borrowed_fd(fd, PollFlags::IN));
    let ts = timeout.map(|t| rustix::fs::Timespec {
        tv_sec: t.as_secs() as _,
        tv_nsec: t.subsec_nanos() as _,
    });
    loop {
        match rustix::event::poll(&mut polled, ts.as_ref()) {
            Ok(_) => break,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return None,
        }
    }
    Some(std::array::from_fn(|i| !polled[i].revents().is_empty()))
}

/// The (device, inode) pair of an open file (`fstat(2)`): which memory file it is.
pub(crate) fn file_id(fd: impl AsFd) -> io::Result<(u64, u64)> {
    let st = rustix::fs::fstat(fd)?;
    Ok((st.st_dev as u64, st.st_ino as u64))
}

/// A raw OS error as the pool's I/O error (kept for callers that convert rustix's
/// `Errno` with `?`).
impl From<rustix::io::Errno> for Error {
    fn from(e: rustix::io::Errno) -> Self {
        Error::from(io::Error::from(e))
    }
}
