//! The Spawn start method: fork+exec of `/proc/self/exe`.
//!
//! `/proc/self/exe` is the inode this process runs, even if the file on disk was
//! replaced since, so the child is the same executable (see [`crate::entry`]). The
//! original `argv` is passed along (argv\[0\] included); the bootstrap takes over before
//! `main` ever sees it. The bootstrap socket is the only descriptor the child inherits
//! beyond the standard streams: the `pre_exec` hook marks every other descriptor
//! close-on-exec, also those opened without `O_CLOEXEC` by code outside multiproc.

#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::bootstrap::BOOTSTRAP_ENV;
use crate::fork;

/// Starts a re-exec of this executable whose bootstrap reads its job from `channel`.
/// Returns the child's pid and a pidfd for it.
pub(crate) fn spawn_exe(channel: &OwnedFd, daemon: bool) -> io::Result<(u32, OwnedFd)> {
    spawn_exe_with(channel, BOOTSTRAP_ENV, daemon, |raw, parent| {
        format!("{raw}:{parent}:{}", u8::from(daemon))
    })
}

/// [`spawn_exe`] with another bootstrap variable, whose value `value(fd, parent_pid)` makes.
pub(crate) fn spawn_exe_with(
    channel: &OwnedFd,
    var: &str,
    daemon: bool,
    value: impl FnOnce(i32, u32) -> String,
) -> io::Result<(u32, OwnedFd)> {
    let raw = channel.as_raw_fd();
    let parent = std::process::id();
    let mut args = std::env::args_os();
    let mut cmd = Command::new("/proc/self/exe");
    if let Some(arg0) = args.next() {
        cmd.arg0(arg0);
    }
    cmd.args(args);
    cmd.env(var, value(raw, parent));
    let hook = move || -> io::Result<()> {
        // Only the bootstrap channel (and fds 0–2) may cross the `execve`.
        fork::cloexec_from(3);
        // SAFETY: `raw` is open: `channel` is borrowed for the whole `spawn` call.
        unsafe { fork::clear_cloexec(raw) }?;
        if daemon {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
            let ppid = rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get() as u32);
            if ppid != parent {
                return Err(io::Error::from(io::ErrorKind::Interrupted));
            }
        }
        Ok(())
    };
    // SAFETY: the hook runs between fork and exec in the child and does only
    // async-signal-safe work: `close_range(CLOEXEC)`, `fcntl(F_SETFD)` on a descriptor the parent keeps open
    // until `spawn` returns, and for a daemon `prctl(PR_SET_PDEATHSIG)` and `getppid`.
    // No allocation (the error path builds a simple, non-allocating `io::Error`), no lock.
    unsafe {
        cmd.pre_exec(hook);
    }
    let child = cmd.spawn()?;
    let pid = child.id();
    // `std::process::Child` neither waits nor kills on drop; the pidfd takes over.
    drop(child);
    let pidfd = crate::process::pidfd_of_new_child(pid)?;
    Ok((pid, pidfd))
}
