//! Ctrl-C for a program that wants to shut down gracefully: [`catch_interrupts`], a
//! SIGINT handler that sets a flag and wakes a descriptor, without `unsafe` in the
//! caller.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::sys;

/// The interrupt pipe `(read, write)`, created with the handler and kept for the life of
/// the process (the handler writes to the write end by number).
static PIPE: OnceLock<(OwnedFd, OwnedFd)> = OnceLock::new();
/// Held while installing the handler.
static INSTALL: Mutex<()> = Mutex::new(());

/// Catches Ctrl-C (SIGINT) in this process from now on: instead of ending the process,
/// a SIGINT sets a flag ([`Interrupts::is_set`], [`interrupted`]) and makes a
/// descriptor readable ([`Interrupts`] is `AsFd`, for `poll` or
/// `multiproc_ipc::wait` beside a process's sentinel). The program then decides how
/// to shut down: stop feeding work, [`terminate`](crate::Process::terminate) or
/// [`join`](crate::Process::join) its children, and return from `main`.
///
/// A **second** SIGINT that arrives while the flag is still set ends the process as if
/// no handler were installed, so a program stuck in its shutdown still stops on a
/// second Ctrl-C. The handler uses `SA_RESTART`: blocking calls carry on after the
/// signal, they are not interrupted; wait on the descriptor, or poll the flag, to
/// notice it.
///
/// Children are not affected: a Fork child gets SIGINT's default action back, a Spawn
/// or ForkServer child starts with it. A terminal's Ctrl-C reaches every process of the
/// foreground group, so children die of it unless started with
/// [`ignore_sigint(true)`](crate::ProcessBuilder::ignore_sigint) (a pool's
/// `workers_ignore_sigint(true)`), which is what a graceful shutdown wants.
///
/// Calling it again returns another handle on the same flag.
///
/// ```
/// use std::time::Duration;
/// use multiproc_process::{Process, StartMethod, catch_interrupts};
///
/// fn wait_long() { std::thread::sleep(Duration::from_secs(120)) }
/// fn scenario() -> bool {
///     let ctrl_c = catch_interrupts().expect("handler installed");
///     let worker = Process::new(wait_long, ()).ignore_sigint(true).start().expect("starts");
///     // What a terminal's Ctrl-C does to the process group, here by hand:
///     multiproc_process::raise_interrupt();
///     worker.interrupt().expect("signalled");
///     assert!(ctrl_c.wait_timeout(Duration::from_secs(60)).expect("polls"));
///     // The worker ignored it; the parent decides.
///     assert!(worker.is_alive());
///     worker.terminate().expect("signalled");
///     worker.join().expect("joined");
///     worker.exitcode() == Some(-15)
/// }
/// // In a child of its own: the handler is process-wide.
/// let p = Process::new(scenario, ()).start_method(StartMethod::Spawn).start()?;
/// assert!(p.join_value()?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// The pipe could not be created (out of descriptors) or `sigaction` failed.
pub fn catch_interrupts() -> io::Result<Interrupts> {
    let _guard = INSTALL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match PIPE.get() {
        // Installed before; put back if `default_sigint` removed it since.
        Some(pipe) => {
            if !sys::sigint_caught() {
                sys::catch_sigint(pipe.1.as_fd())?;
            }
        }
        None => {
            let pipe = sys::nonblocking_pipe()?;
            sys::catch_sigint(pipe.1.as_fd())?;
            // Installed under `INSTALL`, so `set` cannot find it taken.
            let _ = PIPE.set(pipe);
        }
    }
    Ok(Interrupts { _private: () })
}

/// Gives SIGINT its default action in this process — it ends the process — and so in
/// the children it starts from now on; removes the handler of [`catch_interrupts`] too.
///
/// A program inherits SIGINT *ignored* when it is started in the background by a
/// non-interactive shell (`prog &` in a script), by some supervisors, or by a parent
/// that ignored it; its children then inherit it ignored as well (as in CPython), so
/// Ctrl-C and [`Process::interrupt`](crate::Process::interrupt) would do nothing to
/// them. A program (or a test) that relies on SIGINT ending its children calls this
/// first. Calls `signal(SIGINT, SIG_DFL)`.
///
/// ```
/// use std::time::Duration;
/// use multiproc_process::{Process, default_sigint};
///
/// fn wait_long() {
///     std::thread::sleep(Duration::from_secs(300));
/// }
///
/// default_sigint();
/// let p = Process::new(wait_long, ()).start()?;
/// p.interrupt()?;
/// assert!(p.join_timeout(Duration::from_secs(120))?, "still running");
/// assert_eq!(p.exitcode(), Some(-2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn default_sigint() {
    let _guard = INSTALL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    sys::default_sigint();
}

/// Whether a SIGINT was caught since [`catch_interrupts`] (or the last
/// [`Interrupts::clear`]); always `false` when the handler is not installed.
///
/// ```
/// assert!(!multiproc_process::interrupted());
/// ```
pub fn interrupted() -> bool {
    sys::sigint_seen()
}

/// Sends SIGINT to this process (`raise`), as a terminal's Ctrl-C would: for tests and
/// for a program that wants to start its own graceful shutdown. Without
/// [`catch_interrupts`] the process dies of it.
///
/// ```
/// use std::time::Duration;
/// use multiproc_process::{Process, StartMethod, catch_interrupts, interrupted, raise_interrupt};
/// fn caught() -> bool {
///     let Ok(ints) = catch_interrupts() else { return false };
///     raise_interrupt(); // caught: this process lives on
///     ints.wait_timeout(Duration::from_secs(60)).unwrap_or(false) && interrupted()
/// }
/// // In a child of its own: the handler is process-wide.
/// assert!(Process::new(caught, ()).start_method(StartMethod::Spawn).start()?.join_value()?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn raise_interrupt() {
    sys::raise_sigint();
}

/// A handle on the Ctrl-C flag installed by [`catch_interrupts`]. Its descriptor (see
/// [`AsFd`]) is readable once a SIGINT has been caught and until [`clear`](Self::clear).
///
/// ```
/// use std::time::Duration;
/// use multiproc_process::{Process, StartMethod, catch_interrupts, raise_interrupt};
///
/// fn scenario() -> (bool, bool, bool) {
///     let Ok(ints) = catch_interrupts() else { return (true, false, true) };
///     let before = ints.wait_timeout(Duration::from_millis(10)).unwrap_or(true);
///     raise_interrupt(); // as Ctrl-C would; caught, so this process lives on
///     let caught = ints.wait_timeout(Duration::from_secs(60)).unwrap_or(false);
///     ints.clear();
///     (before, caught, ints.is_set())
/// }
/// // In a child of its own: the handler is process-wide.
/// let p = Process::new(scenario, ()).start_method(StartMethod::Spawn).start()?;
/// assert_eq!(p.join_value()?, (false, true, false));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Interrupts {
    _private: (),
}

impl fmt::Debug for Interrupts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interrupts")
            .field("set", &self.is_set())
            .finish()
    }
}

impl Interrupts {
    fn read_end(&self) -> BorrowedFd<'static> {
        PIPE.get()
            .expect("holds because an `Interrupts` exists only once the pipe is set")
            .0
            .as_fd()
    }

    /// Whether a SIGINT was caught and not cleared.
    ///
    /// ```
    /// use multiproc_process::{Process, StartMethod, catch_interrupts, raise_interrupt};
    /// fn flags() -> (bool, bool) {
    ///     let Ok(ints) = catch_interrupts() else { return (true, false) };
    ///     let before = ints.is_set();
    ///     raise_interrupt();
    ///     (before, ints.is_set()) // the handler sets it before `raise` returns
    /// }
    /// let p = Process::new(flags, ()).start_method(StartMethod::Spawn).start()?;
    /// assert_eq!(p.join_value()?, (false, true));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_set(&self) -> bool {
        sys::sigint_seen()
    }

    /// Forgets the SIGINTs caught so far: the flag is cleared and the descriptor is no
    /// longer readable; the next SIGINT is again a first one.
    ///
    /// ```
    /// use multiproc_process::{Process, StartMethod, catch_interrupts, raise_interrupt};
    /// fn cleared() -> bool {
    ///     let Ok(ints) = catch_interrupts() else { return false };
    ///     raise_interrupt();
    ///     ints.clear();
    ///     !ints.is_set()
    /// }
    /// assert!(Process::new(cleared, ()).start_method(StartMethod::Spawn).start()?.join_value()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn clear(&self) {
        sys::clear_sigint(self.read_end());
    }

    /// Waits at most `timeout` for a SIGINT; returns whether the flag is set.
    ///
    /// # Errors
    /// `poll` failed.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_process::{Process, StartMethod, catch_interrupts};
    /// fn quiet() -> bool {
    ///     let Ok(ints) = catch_interrupts() else { return true };
    ///     ints.wait_timeout(Duration::from_millis(10)).unwrap_or(true) // no Ctrl-C came
    /// }
    /// assert!(!Process::new(quiet, ()).start_method(StartMethod::Spawn).start()?.join_value()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> io::Result<bool> {
        let deadline = Instant::now().checked_add(timeout);
        loop {
            if self.is_set() {
                return Ok(true);
            }
            let left = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return Ok(self.is_set()),
                },
                None => None,
            };
            let [readable, _] = sys::poll_in(&[self.read_end()], left)?;
            if readable && !self.is_set() {
                // A byte without the flag: a child's copy of the handler wrote it
                // between a fork and its `execve`. The flag is read again above, so
                // a SIGINT caught meanwhile is not lost.
                sys::drain(self.read_end());
            }
        }
    }
}

impl AsFd for Interrupts {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.read_end()
    }
}
