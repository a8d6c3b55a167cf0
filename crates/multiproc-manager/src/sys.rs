//! The manager's calls to the OS (STYLE.md: only `sys` names rustix): shutting down a
//! connection's socket so that a thread blocked reading it wakes up. Everything else
//! goes through `multiproc-ipc` and `multiproc-process`.

use std::os::fd::AsFd;

/// `shutdown(SHUT_RDWR)`: the peer and this side's reader see the end at once, and
/// calls writing to it fail. Errors are ignored: the socket may already be closed,
/// which is what was wanted.
pub(crate) fn shutdown(fd: impl AsFd) {
    let _ = rustix::net::shutdown(fd, rustix::net::Shutdown::Both);
}

/// `shutdown(SHUT_WR)`: the peer's reader sees the end; this side can still read.
/// Errors are ignored, as for [`shutdown`].
pub(crate) fn shutdown_write(fd: impl AsFd) {
    let _ = rustix::net::shutdown(fd, rustix::net::Shutdown::Write);
}
