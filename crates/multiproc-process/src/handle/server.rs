//! [`Client`]: a process's handle on its fork server (started by `start::forkserver`).

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use multiproc_ipc::Connection;

use crate::sys;

/// The requester's side: the control socket to its server.
///
/// Dropped (forgotten after the server died, or the loser of a start race), it closes
/// the control socket — a live server then sees EOF and exits — and reaps the server,
/// now if it has exited, otherwise from a background thread that waits for it: a
/// forgotten server never stays a zombie.
#[derive(Debug)]
pub(crate) struct Client {
    /// `Some` until dropped.
    pub(crate) control: Option<Connection>,
    /// The server's pidfd: readable once it has exited (killed, say). `Some` until
    /// dropped.
    pub(crate) server: Option<OwnedFd>,
    /// The process that started the server (its OS parent, the only one that can reap
    /// it); a fork child inherits the value but not the child.
    pub(crate) owner: u32,
}

/// `waitid(P_PIDFD, WEXITED | WNOHANG)`: whether `server` is reaped now (or cannot be:
/// not our child any more).
fn reap_now(server: &OwnedFd) -> bool {
    !matches!(sys::try_wait(server.as_fd()), Ok(None))
}

impl Client {
    pub(crate) fn control(&self) -> Result<&Connection, multiproc_ipc::SendError> {
        self.control
            .as_ref()
            .ok_or_else(|| multiproc_ipc::SendError::Io(io::Error::from(io::ErrorKind::BrokenPipe)))
    }

    /// Whether the server has exited; reaps it if so (it is our child).
    pub(crate) fn is_dead(&self) -> bool {
        let Some(server) = &self.server else {
            return true;
        };
        let dead = matches!(sys::poll_in(&[server.as_fd()], Some(Duration::ZERO)), Ok(r) if r[0]);
        if dead {
            reap_now(server);
        }
        dead
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // First the control socket, so that a live server sees EOF and exits.
        drop(self.control.take());
        let Some(server) = self.server.take() else {
            return;
        };
        if self.owner != sys::getpid() {
            // A fork child's inherited copy: the server is not its child.
            return;
        }
        if reap_now(&server) {
            return;
        }
        // Still running (its exit is under way, or it waits for the EOF that other
        // holders of the control socket — fork children — delay): wait in the
        // background, as a dropped `Process` handle does.
        let _ = std::thread::Builder::new()
            .name("multiproc-reaper".into())
            .spawn(move || sys::wait_blocking(server.as_fd()));
    }
}
