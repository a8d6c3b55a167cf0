//! [`ParentProcess`]: the parent seen from inside a child (CPython's `_ParentProcess`).
//!
//! CPython gives a child a pipe whose other end the parent holds, so that the pipe reads
//! EOF when the parent dies. Here the child holds a *pidfd* of its parent, which becomes
//! readable when the parent exits, whatever other processes hold:
//!
//! * a ForkServer child's OS parent is the server, so the requester sends a pidfd of
//!   itself with the job;
//! * Fork and Spawn children are real children of their parent, so the pidfd is opened
//!   lazily, on the first [`parent_process`](crate::parent_process) call, with
//!   `pidfd_open(getppid())` and a second `getppid` check: while the parent lives, its
//!   pid cannot be reused, and once it has died the child has been re-parented, so a
//!   changed `getppid` means "gone". Nothing is done at start-up for it.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::WaitError;
use crate::info::ProcessInfo;
use crate::sys::{self, Errno, getppid};

/// What a child knows about its parent's liveness.
#[derive(Debug, Clone, Default)]
pub(crate) enum ParentSentinel {
    /// Not opened yet (Fork and Spawn children open it on first use).
    #[default]
    Unknown,
    /// A pidfd of the parent.
    Open(Arc<OwnedFd>),
    /// The parent had already exited when we looked.
    Gone,
}

/// Opens a pidfd of `pid`, which must be this process's OS parent (Fork, Spawn).
pub(crate) fn open_parent(pid: u32) -> ParentSentinel {
    if getppid() != pid {
        return ParentSentinel::Gone;
    }
    match sys::pidfd_open(pid) {
        // Still our parent after the open: the pidfd is of the right process.
        Ok(fd) if getppid() == pid => ParentSentinel::Open(Arc::new(fd)),
        Ok(_) | Err(Errno::SRCH) => ParentSentinel::Gone,
        // Out of descriptors, say: try again on the next call.
        Err(_) => ParentSentinel::Unknown,
    }
}

/// The process that started this one, as [`parent_process`](crate::parent_process)
/// returns it in a child: its name and pid, and whether it is still running
/// (CPython's `parent_process()`).
///
/// ```
/// use multiproc_process::{Process, parent_process};
/// fn parent_alive() -> (u32, bool) {
///     let parent = parent_process().expect("a child has a parent");
///     (parent.pid(), parent.is_alive())
/// }
/// let p = Process::new(parent_alive, ()).start()?;
/// assert_eq!(p.join_value()?, (std::process::id(), true));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ParentProcess {
    info: ProcessInfo,
    sentinel: ParentSentinel,
}

impl ParentProcess {
    pub(crate) fn new(info: ProcessInfo, sentinel: ParentSentinel) -> Self {
        ParentProcess { info, sentinel }
    }

    /// The parent's name (`MainProcess`, `Process-1`, …).
    ///
    /// ```
    /// use multiproc_process::{Process, parent_process};
    /// fn parent_name() -> Option<String> { parent_process().map(|p| p.name().to_owned()) }
    /// assert_eq!(Process::new(parent_name, ()).start()?.join_value()?.as_deref(), Some("MainProcess"));
    /// assert!(parent_process().is_none()); // the main process has none
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.info.name
    }

    /// The parent's process id. For a ForkServer child this is the process that asked
    /// for it, not the server (its OS parent).
    ///
    /// ```
    /// use multiproc_process::{Process, parent_process};
    /// fn parent_pid() -> Option<u32> { parent_process().map(|p| p.pid()) }
    /// assert_eq!(Process::new(parent_pid, ()).start()?.join_value()?, Some(std::process::id()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pid(&self) -> u32 {
        self.info.pid
    }

    /// CPython's `ident`: the parent's process id.
    ///
    /// ```
    /// use multiproc_process::{Process, parent_process};
    /// fn same() -> Option<bool> { parent_process().map(|p| p.ident() == p.pid()) }
    /// assert_eq!(Process::new(same, ()).start()?.join_value()?, Some(true));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ident(&self) -> u32 {
        self.info.pid
    }

    /// Whether the parent is a daemon.
    ///
    /// ```
    /// use multiproc_process::{Process, parent_process};
    /// fn parent_daemon() -> Option<bool> { parent_process().map(|p| p.daemon()) }
    /// assert_eq!(Process::new(parent_daemon, ()).start()?.join_value()?, Some(false));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn daemon(&self) -> bool {
        self.info.daemon
    }

    /// Who the parent is.
    ///
    /// ```
    /// use multiproc_process::{Process, parent_process};
    /// fn parent_identity() -> Option<Vec<u32>> { parent_process().map(|p| p.info().identity().to_vec()) }
    /// assert_eq!(Process::new(parent_identity, ()).start()?.join_value()?, Some(vec![])); // the main process
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn info(&self) -> &ProcessInfo {
        &self.info
    }

    /// Whether the parent is still running (non-blocking; CPython's
    /// `parent_process().is_alive()`).
    ///
    /// ```
    /// use multiproc_process::{Process, parent_process};
    /// fn parent_alive() -> Option<bool> { parent_process().map(|p| p.is_alive()) }
    /// assert_eq!(Process::new(parent_alive, ()).start()?.join_value()?, Some(true)); // we wait for it
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_alive(&self) -> bool {
        match &self.sentinel {
            ParentSentinel::Open(fd) => {
                !matches!(ready(fd.as_fd(), Some(Duration::ZERO)), Ok(true))
            }
            ParentSentinel::Gone => false,
            // No pidfd (the open failed): an OS child still sees its parent as `getppid`.
            ParentSentinel::Unknown => getppid() == self.info.pid,
        }
    }

    /// Waits until the parent has exited (CPython's `parent_process().join()`).
    ///
    /// # Errors
    /// `poll` failed.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_process::{Process, parent_process};
    /// // `join` blocks until the parent ends; a child that must not outlive its parent
    /// // watches it with `join_timeout` (or `join` on a thread of its own).
    /// fn watch() -> Option<bool> { parent_process()?.join_timeout(Duration::from_millis(10)).ok() }
    /// assert_eq!(Process::new(watch, ()).start()?.join_value()?, Some(false)); // still running
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn join(&self) -> Result<(), WaitError> {
        self.wait(None).map(|_| ())
    }

    /// Waits at most `timeout` for the parent to exit; returns whether it has
    /// (CPython's `parent_process().join(timeout)` followed by `is_alive()`).
    ///
    /// # Errors
    /// `poll` failed.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_process::{Process, parent_process};
    /// fn parent_ended() -> Option<bool> { parent_process()?.join_timeout(Duration::from_millis(10)).ok() }
    /// assert_eq!(Process::new(parent_ended, ()).start()?.join_value()?, Some(false));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn join_timeout(&self, timeout: Duration) -> Result<bool, WaitError> {
        // A timeout past the end of `Instant` (`Duration::MAX`) waits without bound.
        self.wait(Instant::now().checked_add(timeout))
    }

    /// A descriptor that becomes readable when the parent exits (a pidfd; CPython's
    /// parent sentinel). `None` if the parent had exited before it could be opened.
    ///
    /// ```
    /// use multiproc_process::{Process, parent_process};
    /// fn has_sentinel() -> bool { parent_process().is_some_and(|p| p.sentinel().is_some()) }
    /// assert!(Process::new(has_sentinel, ()).start()?.join_value()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sentinel(&self) -> Option<BorrowedFd<'_>> {
        match &self.sentinel {
            ParentSentinel::Open(fd) => Some(fd.as_fd()),
            _ => None,
        }
    }

    fn wait(&self, deadline: Option<Instant>) -> Result<bool, WaitError> {
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            match &self.sentinel {
                ParentSentinel::Gone => return Ok(true),
                ParentSentinel::Open(fd) => {
                    if ready(fd.as_fd(), left)? {
                        return Ok(true);
                    }
                }
                ParentSentinel::Unknown => {
                    if !self.is_alive() {
                        return Ok(true);
                    }
                    let slice = Duration::from_millis(10);
                    std::thread::sleep(left.map_or(slice, |l| l.min(slice)));
                }
            }
            if left.is_some_and(|l| l.is_zero()) {
                return Ok(false);
            }
        }
    }
}

/// Whether `fd` polls readable within `timeout` (`None`: no limit). EINTR counts as
/// "not yet".
fn ready(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<bool> {
    sys::poll_in(&[fd], timeout).map(|r| r[0])
}
