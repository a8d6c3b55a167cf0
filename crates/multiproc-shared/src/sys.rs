//! The crate's calls to the OS (STYLE.md: only `sys` names rustix): the tracker's
//! pipe. The shared mappings themselves come from `multiproc-ipc`'s segments and
//! `std::fs` on `/dev/shm`.

use std::io;
use std::os::fd::OwnedFd;

/// A close-on-exec pipe (`pipe2(O_CLOEXEC)`): (read end, write end).
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?)
}
