//! The ForkServer start method.
//!
//! On first use a process starts its fork server: a re-exec of `/proc/self/exe` (from
//! the launcher thread, see [`crate::global::on_launcher`]) whose bootstrap runs the
//! server loop before `main`, single-threaded, so forking there is safe. Requests come
//! over a Unix socket: the job (bytes and handles, `SCM_RIGHTS`) and a per-child
//! *status* socket. The server forks; the child drops the server's descriptors and runs
//! the job; the server answers on the status socket with the child's pid and a pidfd
//! for it, and later, having reaped it, its exit code.
//!
//! The server ignores SIGINT (a Ctrl-C reaches the whole process group; it must live
//! on to report exit codes), and its children get the default action back.
//!
//! The server dies with its parent process: `PR_SET_PDEATHSIG(SIGKILL)` (re-checking
//! `getppid` after arming it) and EOF on the control socket. Its daemonic children have
//! the same death signal towards the server, so they follow.

use std::io;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;

use multiproc_ipc::{Connection, PassFd, Pipe};

use super::launch::{Launch, Started};
use super::spawn::spawn_exe_with;
use crate::error::StartError;
use crate::global;
use crate::handle::{Client, Sentinel};
use crate::sys;
use crate::wire::{FORKSERVER_ENV, Job, Reply, Request};

pub(crate) mod server;

/// Starts a ForkServer child: asks this process's server (started on first use) to
/// fork one that runs the job.
pub(crate) fn start(launch: Launch) -> Result<Started, StartError> {
    let daemon = launch.daemon;
    let fresh = launch.into_fresh()?;
    // The server is the child's OS parent: tell it who its parent is.
    let me = self_pidfd()?;
    let job = Job {
        result: Some(fresh.theirs),
        parent_pidfd: Some(PassFd::from(me)),
        ..fresh.job
    };
    let (pid, pidfd, status) = request(job, daemon)?;
    Ok(Started {
        info: fresh.info,
        result: fresh.mine,
        sentinel: Sentinel::Server { pid, pidfd, status },
    })
}

/// A pidfd of this process, for its fork-server children: opened once per process and
/// duplicated for each child.
fn self_pidfd() -> io::Result<OwnedFd> {
    let me = std::process::id();
    let mut g = global::lock();
    if let Some((pid, fd)) = &g.self_pidfd {
        if *pid == me {
            return fd.try_clone();
        }
    }
    let fd = sys::pidfd_open(me)?;
    let dup = fd.try_clone();
    g.self_pidfd = Some((me, fd));
    dup
}

/// Starts a server (on the launcher thread).
fn start_server() -> io::Result<Client> {
    global::on_launcher(|| -> io::Result<Client> {
        let (mine, theirs) = Pipe::duplex()?;
        let theirs: OwnedFd = theirs.into_fd();
        // The server ignores SIGINT from the `execve` on (it must outlive a Ctrl-C to
        // report its children's exit codes, and dies with its requester).
        let env = crate::setup::ChildSetup::default();
        let (_pid, server) =
            spawn_exe_with(&theirs, FORKSERVER_ENV, false, true, &env, |raw, parent| {
                format!("{raw}:{parent}")
            })?;
        Ok(Client {
            control: Some(mine),
            server: Some(server),
            owner: std::process::id(),
        })
    })?
}

fn client() -> Result<Arc<Client>, StartError> {
    let me = std::process::id();
    {
        let g = global::lock();
        if let Some((pid, c)) = &g.forkserver {
            if *pid == me {
                return Ok(c.clone());
            }
        }
    }
    let c = Arc::new(start_server()?);
    let replaced = {
        let mut g = global::lock();
        // Another thread may have won the race; keep one server.
        if let Some((pid, existing)) = &g.forkserver {
            if *pid == me {
                let existing = existing.clone();
                drop(g);
                // Ours is dropped (and its server reaped) outside the lock.
                drop(c);
                return Ok(existing);
            }
        }
        g.forkserver.replace((me, c.clone()))
    };
    drop(replaced);
    Ok(c)
}

/// Forgets `c` as this process's server (the caller drops its own reference after,
/// which, the last one gone, reaps the server). The global lock is released before
/// anything is dropped.
fn forget_client(c: &Arc<Client>) {
    let old = {
        let mut g = global::lock();
        if matches!(&g.forkserver, Some((_, cur)) if Arc::ptr_eq(cur, c)) {
            g.forkserver.take()
        } else {
            None
        }
    };
    drop(old);
}

/// Asks the server for a child. Returns its pid, a pidfd, and the status socket.
pub(crate) fn request(job: Job, daemon: bool) -> Result<(u32, OwnedFd, Connection), StartError> {
    let (status, theirs) = Pipe::duplex()?;
    let req = Request {
        job,
        daemon,
        status: theirs,
    };
    let mut last = String::new();
    for _ in 0..2 {
        let c = client()?;
        if c.is_dead() {
            // Killed since the last request: start a new one. (A request already sent
            // to a server that then died is not retried: it may have forked the child.)
            last = "the fork server died".into();
            forget_client(&c);
            continue;
        }
        match c.control().and_then(|control| control.send(&req)) {
            Ok(()) => {
                drop(req);
                return match status.recv_timeout::<Reply>(Duration::from_secs(60)) {
                    Ok(Reply::Started { pid, pidfd }) => Ok((pid, pidfd.into(), status)),
                    Ok(Reply::Failed(why)) => Err(StartError::ForkServer(why)),
                    Ok(Reply::Exited(_)) => Err(StartError::ForkServer("unexpected reply".into())),
                    Err(e) => {
                        forget_client(&c);
                        Err(StartError::ForkServer(format!("no reply: {e}")))
                    }
                };
            }
            Err(multiproc_ipc::SendError::Encode(e)) => return Err(StartError::from_codec(e)),
            Err(e) => {
                // The server is gone (killed?): start a new one and retry once.
                last = e.to_string();
                forget_client(&c);
            }
        }
    }
    Err(StartError::ForkServer(last))
}
