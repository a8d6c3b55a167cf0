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

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use multiproc_ipc::{Connection, PassFd, Pipe, RecvError, Transport};
use rustix::event::{PollFd, PollFlags};
use serde::{Deserialize, Serialize};

use crate::bootstrap::{FORKSERVER_ENV, parse_fields};
use crate::child::{self, Job};
use crate::error::StartError;
use crate::fork::{self, Forked};
use crate::global;

/// A request to the server.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Request {
    pub(crate) job: Job,
    pub(crate) daemon: bool,
    pub(crate) status: Connection,
}

/// What the server says on a status socket.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Reply {
    Started { pid: u32, pidfd: PassFd },
    Failed(String),
    Exited(i32),
}

/// The requester's side: the control socket to its server.
///
/// Dropped (forgotten after the server died, or the loser of a start race), it closes
/// the control socket — a live server then sees EOF and exits — and reaps the server,
/// now if it has exited, otherwise from a background thread that waits for it: a
/// forgotten server never stays a zombie.
#[derive(Debug)]
pub(crate) struct Client {
    /// `Some` until dropped.
    control: Option<Connection>,
    /// The server's pidfd: readable once it has exited (killed, say). `Some` until
    /// dropped.
    server: Option<OwnedFd>,
    /// The process that started the server (its OS parent, the only one that can reap
    /// it); a fork child inherits the value but not the child.
    owner: u32,
}

/// `waitid(P_PIDFD, WEXITED | WNOHANG)`: whether `server` is reaped now (or cannot be:
/// not our child any more).
fn reap_now(server: &OwnedFd) -> bool {
    !matches!(
        rustix::process::waitid(
            rustix::process::WaitId::PidFd(server.as_fd()),
            rustix::process::WaitIdOptions::EXITED | rustix::process::WaitIdOptions::NOHANG,
        ),
        Ok(None)
    )
}

impl Client {
    fn control(&self) -> Result<&Connection, multiproc_ipc::SendError> {
        self.control
            .as_ref()
            .ok_or_else(|| multiproc_ipc::SendError::Io(io::Error::from(io::ErrorKind::BrokenPipe)))
    }

    /// Whether the server has exited; reaps it if so (it is our child).
    fn is_dead(&self) -> bool {
        let Some(server) = &self.server else {
            return true;
        };
        let mut fds = [PollFd::new(server, PollFlags::IN)];
        let dead = matches!(rustix::event::poll(&mut fds, Some(&rustix::time::Timespec { tv_sec: 0, tv_nsec: 0 })), Ok(n) if n > 0);
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
        if self.owner != rustix::process::getpid().as_raw_nonzero().get() as u32 {
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
            .spawn(move || {
                while let Err(rustix::io::Errno::INTR) = rustix::process::waitid(
                    rustix::process::WaitId::PidFd(server.as_fd()),
                    rustix::process::WaitIdOptions::EXITED,
                ) {}
            });
    }
}

/// Starts a server (on the launcher thread).
fn start_server() -> io::Result<Client> {
    global::on_launcher(|| -> io::Result<Client> {
        let (mine, theirs) = Pipe::duplex()?;
        let theirs: OwnedFd = theirs.into_fd();
        let (_pid, server) =
            crate::spawn::spawn_exe_with(&theirs, FORKSERVER_ENV, false, |raw, parent| {
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

struct Kid {
    pidfd: OwnedFd,
    status: Connection,
    /// The two descriptors' numbers, for closing them in a new child without running
    /// drop code (see `serve_loop`).
    raw: [RawFd; 2],
}

enum Next {
    Exit(i32),
    Run(Box<Job>),
}

/// The server's entry point, called from the bootstrap.
pub(crate) fn serve(v: &OsString) -> i32 {
    let Some(f) = parse_fields(v).filter(|f| f.len() == 2) else {
        return 70;
    };
    let (fd, parent) = (f[0] as i32, f[1] as u32);
    fork::arm_death_signal(parent);
    fork::ignore_sigpipe();
    fork::ignore_sigint(true);
    let Ok(fd) = fork::adopt_fd(fd) else {
        return 70;
    };
    let control = Connection::from_fd_with(fd, Transport::Unix, true, true);
    // Do once here what every child would otherwise do on its own right after the
    // fork: read `/proc/self/maps` for the entry check, install the panic hook.
    let _ = crate::entry::in_text(0);
    child::ensure_panic_hook();
    // The process state is created here once, not in every child.
    drop(global::lock());
    // Standard output is created (its buffer allocated) here once, not in every child.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    // And whatever C libraries buffered while the server started: each child leaves
    // through `exit`, which would write a copy of it.
    fork::flush_c_stdio();
    match serve_loop(control) {
        Next::Exit(code) => code,
        // A child's normal end runs the C exit handlers in its list: those it
        // registered, and those the server registered while starting up (the same
        // ones a Spawn child registers before `main`: each process's own copy of its
        // libraries' state). The server's stdio was flushed above.
        Next::Run(job) => fork::exit_normally(child::run_job(job, None)),
    }
}

fn serve_loop(control: Connection) -> Next {
    let server_pid = std::process::id();
    let control_raw = control.as_fd().as_raw_fd();
    let mut kids: Vec<Kid> = Vec::new();
    loop {
        let (control_ready, ready) = {
            let mut fds = Vec::with_capacity(kids.len() + 1);
            fds.push(PollFd::new(&control, PollFlags::IN));
            for k in &kids {
                fds.push(PollFd::new(&k.pidfd, PollFlags::IN));
            }
            match rustix::event::poll(&mut fds, None) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(_) => return Next::Exit(71),
            }
            let control_ready = !fds[0].revents().is_empty();
            let ready: Vec<bool> = fds[1..].iter().map(|p| !p.revents().is_empty()).collect();
            (control_ready, ready)
        };
        // Reap first, so a finished child's slot is freed.
        let mut idx = 0;
        kids.retain(|k| {
            let r = ready.get(idx).copied().unwrap_or(false);
            idx += 1;
            if !r {
                return true;
            }
            match rustix::process::waitid(
                rustix::process::WaitId::PidFd(k.pidfd.as_fd()),
                rustix::process::WaitIdOptions::EXITED | rustix::process::WaitIdOptions::NOHANG,
            ) {
                Ok(Some(st)) => {
                    let code = crate::process::code_of(&st);
                    let _ = k.status.send(&Reply::Exited(code));
                    false
                }
                Ok(None) => true,
                Err(_) => false,
            }
        });
        if !control_ready {
            continue;
        }
        let req: Request = match control.recv() {
            Ok(r) => r,
            Err(RecvError::Decode(_)) => continue,
            Err(_) => return Next::Exit(0),
        };
        let Request {
            job,
            daemon,
            status,
        } = req;
        // Boxed here, in the server: a child that allocated it would fault in the
        // allocator's code and pages.
        let job = Box::new(job);
        let status_raw = status.as_fd().as_raw_fd();
        match fork::fork_single_threaded() {
            Ok(Forked::Child) => {
                fork::ignore_sigint(false);
                if daemon {
                    fork::arm_death_signal(server_pid);
                }
                // The server's descriptors are closed here, by number: dropping the
                // values would run their drop code (and free their memory), each a
                // code page this new process faults in. Their memory is forgotten.
                for k in &kids {
                    fork::close_inherited(k.raw[0]);
                    fork::close_inherited(k.raw[1]);
                }
                fork::close_inherited(control_raw);
                fork::close_inherited(status_raw);
                std::mem::forget(kids);
                std::mem::forget(control);
                std::mem::forget(status);
                return Next::Run(job);
            }
            Ok(Forked::Parent(pid)) => {
                drop(job);
                // No pidfd: the child is killed and reaped (in `pidfd_of_new_child`),
                // so the requester's `StartError` is the whole truth.
                match crate::process::pidfd_of_new_child(pid) {
                    Ok(pidfd) => {
                        let dup = pidfd.try_clone();
                        let sent = match dup {
                            Ok(d) => status.send(&Reply::Started {
                                pid,
                                pidfd: PassFd::from(d),
                            }),
                            Err(e) => {
                                // Told "failed", the requester has no handle: end the
                                // child rather than let it run unseen. It is reaped
                                // below, as every kid is.
                                let _ = rustix::process::pidfd_send_signal(
                                    &pidfd,
                                    rustix::process::Signal::KILL,
                                );
                                status.send(&Reply::Failed(e.to_string()))
                            }
                        };
                        let _ = sent;
                        let raw = [pidfd.as_raw_fd(), status_raw];
                        kids.push(Kid { pidfd, status, raw });
                    }
                    Err(e) => {
                        let _ = status.send(&Reply::Failed(e.to_string()));
                    }
                }
            }
            Err(e) => {
                let _ = status.send(&Reply::Failed(e.to_string()));
            }
        }
    }
}
