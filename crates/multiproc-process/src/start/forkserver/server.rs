//! The fork server itself: the loop a fork server runs from its bootstrap,
//! single-threaded, forking a child per request and reporting its exit code.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use multiproc_ipc::{Connection, PassFd, RecvError, Transport};

use crate::child;
use crate::global;
use crate::panic;
use crate::sys;
use crate::wire::{self, Job, Reply, Request};

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
    let Some(f) = wire::parse_fields(v).filter(|f| f.len() == 2) else {
        return 70;
    };
    let (fd, parent) = (f[0] as i32, f[1] as u32);
    sys::arm_death_signal(parent);
    sys::ignore_sigpipe();
    sys::ignore_sigint(true);
    // And blocked: a SIGINT sent to a child between its fork and the moment it takes
    // its own disposition then stays pending (Linux never discards a blocked signal,
    // even an ignored one) instead of being lost to the inherited `SIG_IGN`. The
    // server's own pending SIGINTs are not inherited and never delivered.
    let mask = sys::SigintMask::block_if(true);
    let Ok(fd) = sys::adopt_fd(fd) else {
        return 70;
    };
    let control = Connection::from_fd_with(fd, Transport::Unix, true, true);
    // Do once here what every child would otherwise do on its own right after the
    // fork: read `/proc/self/maps` for the entry check, install the panic hook.
    let _ = crate::entry::in_text(0);
    panic::ensure_panic_hook();
    // The process state is created here once, not in every child.
    drop(global::lock());
    // Standard output is created (its buffer allocated) here once, not in every child.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    // And whatever C libraries buffered while the server started: each child leaves
    // through `exit`, which would write a copy of it.
    sys::flush_c_stdio();
    match serve_loop(control, mask) {
        Next::Exit(code) => code,
        // A child's normal end runs the C exit handlers in its list: those it
        // registered, and those the server registered while starting up (the same
        // ones a Spawn child registers before `main`: each process's own copy of its
        // libraries' state). The server's stdio was flushed above.
        Next::Run(job) => sys::exit_normally(child::run_job(job, None)),
    }
}

fn serve_loop(control: Connection, mask: sys::SigintMask) -> Next {
    let server_pid = std::process::id();
    let control_raw = control.as_fd().as_raw_fd();
    let mut kids: Vec<Kid> = Vec::new();
    loop {
        let Ok(control_ready) = wait_and_reap(&control, &mut kids) else {
            return Next::Exit(71);
        };
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
        match sys::fork_single_threaded() {
            Ok(sys::Forked::Child) => {
                // SIGINT was ignored and blocked since the fork: the child takes the
                // disposition it asked for, then a SIGINT sent meanwhile is delivered.
                sys::ignore_sigint(job.info.ignore_sigint);
                mask.restore();
                if daemon {
                    sys::arm_death_signal(server_pid);
                }
                // The server's descriptors are closed here, by number: dropping the
                // values would run their drop code (and free their memory), each a
                // code page this new process faults in. Their memory is forgotten.
                for k in &kids {
                    sys::close_inherited(k.raw[0]);
                    sys::close_inherited(k.raw[1]);
                }
                sys::close_inherited(control_raw);
                sys::close_inherited(status_raw);
                std::mem::forget(kids);
                std::mem::forget(control);
                std::mem::forget(status);
                return Next::Run(job);
            }
            Ok(sys::Forked::Parent(pid)) => {
                drop(job);
                kids.extend(report_started(pid, status));
            }
            Err(e) => {
                let _ = status.send(&Reply::Failed(e.to_string()));
            }
        }
    }
}

/// Waits until a request or a child's exit comes; reaps the children that exited,
/// telling each one's requester its exit code (first, so that a finished child's slot
/// is freed). Whether a request is waiting on `control`.
fn wait_and_reap(control: &Connection, kids: &mut Vec<Kid>) -> io::Result<bool> {
    let (control_ready, ready) = {
        let mut fds = Vec::with_capacity(kids.len() + 1);
        fds.push(control.as_fd());
        for k in kids.iter() {
            fds.push(k.pidfd.as_fd());
        }
        let mut ready = sys::poll_all(&fds)?;
        let control_ready = ready.remove(0);
        (control_ready, ready)
    };
    let mut idx = 0;
    kids.retain(|k| {
        let r = ready.get(idx).copied().unwrap_or(false);
        idx += 1;
        if !r {
            return true;
        }
        match sys::try_wait(k.pidfd.as_fd()) {
            Ok(Some(code)) => {
                let _ = k.status.send(&Reply::Exited(code));
                false
            }
            Ok(None) => true,
            Err(_) => false,
        }
    });
    Ok(control_ready)
}

/// In the server, right after forking child `pid`: tells the requester (on `status`)
/// the child's pid and a pidfd of it. The child to watch from now on, if a pidfd of it
/// could be opened.
fn report_started(pid: u32, status: Connection) -> Option<Kid> {
    // No pidfd: the child is killed and reaped (in `pidfd_of_new_child`), so the
    // requester's `StartError` is the whole truth.
    let pidfd = match sys::pidfd_of_new_child(pid) {
        Ok(pidfd) => pidfd,
        Err(e) => {
            let _ = status.send(&Reply::Failed(e.to_string()));
            return None;
        }
    };
    let sent = match pidfd.try_clone() {
        Ok(d) => status.send(&Reply::Started {
            pid,
            pidfd: PassFd::from(d),
        }),
        Err(e) => {
            // Told "failed", the requester has no handle: end the child rather than
            // let it run unseen. It is reaped later, as every kid is.
            let _ = sys::send_signal(pidfd.as_fd(), sys::Signal::KILL);
            status.send(&Reply::Failed(e.to_string()))
        }
    };
    let _ = sent;
    let raw = [pidfd.as_raw_fd(), status.as_fd().as_raw_fd()];
    Some(Kid { pidfd, status, raw })
}
