//! The Spawn start method: fork+exec of `/proc/self/exe`.
//!
//! `/proc/self/exe` is the inode this process runs, even if the file on disk was
//! replaced since, so the child is the same executable (see [`crate::entry`]). The
//! original `argv` is passed along (argv\[0\] included); the bootstrap takes over before
//! `main` ever sees it. The bootstrap socket is the only descriptor the child inherits
//! beyond the standard streams: the `pre_exec` hook ([`sys::spawn_keeping`]) marks every
//! other descriptor close-on-exec, also those opened without `O_CLOEXEC` by code outside
//! multiproc.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

use super::launch::{Launch, Started};
use crate::error::StartError;
use crate::global;
use crate::handle::Sentinel;
use crate::setup::ChildSetup;
use crate::sys;
use crate::wire::BOOTSTRAP_ENV;

/// Starts a Spawn child: a re-exec whose bootstrap reads its job from the channel.
pub(crate) fn start(launch: Launch) -> Result<Started, StartError> {
    let daemon = launch.daemon;
    let ignore_sigint = launch.ignore_sigint;
    let mut fresh = launch.into_fresh()?;
    // The environment goes to `execve`: the new program sees it from its first
    // instruction. The working directory is set by the child, as under the other
    // methods (a directory that cannot be entered is the child's error under all three).
    let env = std::mem::take(&mut fresh.job.info.setup);
    fresh.job.info.setup.cwd = env.cwd.clone();
    let theirs = fresh.theirs.into_fd();
    let (pid, pidfd) = if daemon {
        global::on_launcher(move || spawn_exe(&theirs, true, ignore_sigint, &env))??
    } else {
        spawn_exe(&theirs, false, ignore_sigint, &env)?
    };
    // A child that died at once shows up as its exit code on join.
    let _ = fresh.mine.send(&fresh.job);
    Ok(Started {
        info: fresh.info,
        result: fresh.mine,
        sentinel: Sentinel::Own { pid, pidfd },
    })
}

/// Starts a re-exec of this executable whose bootstrap reads its job from `channel`.
/// Returns the child's pid and a pidfd for it.
fn spawn_exe(
    channel: &OwnedFd,
    daemon: bool,
    ignore_sigint: bool,
    env: &ChildSetup,
) -> io::Result<(u32, OwnedFd)> {
    spawn_exe_with(
        channel,
        BOOTSTRAP_ENV,
        daemon,
        ignore_sigint,
        env,
        |raw, parent| format!("{raw}:{parent}:{}", u8::from(daemon)),
    )
}

/// [`spawn_exe`] with another bootstrap variable, whose value `value(fd, parent_pid)`
/// makes. With `ignore_sigint` the child ignores SIGINT from before its `execve`; its
/// environment is this process's changed as `env` says.
pub(crate) fn spawn_exe_with(
    channel: &OwnedFd,
    var: &str,
    daemon: bool,
    ignore_sigint: bool,
    env: &ChildSetup,
    value: impl FnOnce(i32, u32) -> String,
) -> io::Result<(u32, OwnedFd)> {
    use std::os::fd::AsRawFd;
    let raw = channel.as_raw_fd();
    let parent = std::process::id();
    let mut args = std::env::args_os();
    let mut cmd = Command::new("/proc/self/exe");
    if let Some(arg0) = args.next() {
        cmd.arg0(arg0);
    }
    cmd.args(args);
    env.apply_env_to(&mut cmd);
    cmd.env(var, value(raw, parent));
    let pid = sys::spawn_keeping(
        cmd,
        channel.as_fd(),
        daemon.then_some(parent),
        ignore_sigint,
    )?;
    let pidfd = sys::pidfd_of_new_child(pid)?;
    Ok((pid, pidfd))
}
