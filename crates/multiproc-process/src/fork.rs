//! `fork`, `_exit`, and the other few calls rustix deliberately leaves out.
//!
//! # The fork invariant
//!
//! After `fork()` in a process that may have other threads, the child has one thread
//! and every lock some other thread held stays locked forever (CPython KI-05). What this
//! crate does about it:
//!
//! * Before forking, the forking thread takes the locks the child is known to need —
//!   Rust's `stdout` and `stderr` locks, multiproc's own state lock and its exit-hook
//!   registry lock — flushes the
//!   buffers, and releases them on both sides after the fork. So a child's `println!`
//!   and `current_process()` cannot deadlock on a lock held at fork time, and buffered
//!   output is never duplicated.
//! * One-time initialisations the child relies on (the executable-map cache, the panic
//!   hook) are forced in the parent before forking, so no `Once` is left half-run.
//! * Between `fork()` and the user's closure the child runs only: resetting that state
//!   (assignments, frees, closing an inherited parent pidfd; glibc's `fork` resets its
//!   allocator locks), `prctl`,
//!   `getppid`, and `_exit` on failure. No tracing event, no other lock.
//! * The child leaves with `_exit`: the parent's `atexit` handlers and destructors never
//!   run twice, and buffered C stdio output is never written twice. (The same holds for
//!   handlers the Fork child registers itself: C's exit list cannot tell them apart
//!   from its parent's. [`crate::at_exit`] hooks are the portable way.) Spawn and
//!   ForkServer children leave through `exit` ([`exit_normally`]) and run their own.
//! * A panic in the child does not go through std's panic printing, which takes std's
//!   backtrace lock (another thread of the parent may have held it: it prints a panic
//!   or captures a backtrace): the crate's panic hook prints the message itself, with
//!   no backtrace (see `child::ensure_panic_hook`).
//! * The user's closure itself must be fork-safe: it may not take a lock that another
//!   thread of the parent could have held (a C library's, a `static Mutex`'s). That is
//!   the documented contract of [`StartMethod::Fork`](crate::StartMethod::Fork), which
//!   is why it is not the default.
//!
//! The Spawn path (`std::process::Command` with a `pre_exec` hook) runs only
//! async-signal-safe calls between fork and exec: `fcntl`, `prctl`, `getppid`.

#![allow(unsafe_code)]

use std::io::{self, Write};

use crate::global;

/// Result of [`fork_raw`].
pub(crate) enum Forked {
    Parent(u32),
    Child,
}

/// `fork()` with no preparation.
///
/// # Safety
/// The caller must be single-threaded (the fork server), or the child must confine
/// itself to async-signal-safe work until `exec` or `_exit`.
pub(crate) unsafe fn fork_raw() -> io::Result<Forked> {
    // SAFETY: the caller upholds the post-fork contract documented above.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid as u32)),
    }
}

/// `fork()` in the fork server.
pub(crate) fn fork_single_threaded() -> io::Result<Forked> {
    // SAFETY: only the fork server calls this; it runs before `main` and starts no
    // thread, so the child inherits no lock held by another thread and may do anything.
    unsafe { fork_raw() }
}

/// Forks a child that runs `body` and exits with its return value. Returns the child's
/// pid in the parent. Holds the stdout, stderr and multiproc state locks across the fork
/// (see the module docs); `setup` runs in the child with the state lock still held.
///
/// `state` goes to `setup` in the child and is handed back in the parent, so that the
/// parent frees nothing of it right after the fork (a freed block is a write to a heap
/// page the child still shares: a page copy).
pub(crate) fn fork_child<S>(
    state: S,
    setup: impl FnOnce(&mut global::Global, S),
    daemon_of: Option<u32>,
    body: impl FnOnce() -> i32,
) -> io::Result<(u32, S)> {
    // One-time initialisations the child may need run here, in the parent, first: a
    // `Once` that another thread of the parent is in the middle of running at the
    // moment of the fork stays "running" forever in the child, which would then block
    // on it (seen: the executable-map cache, read when a pool worker resolves a task).
    crate::entry::in_text(0);
    crate::child::ensure_panic_hook();
    let mut out = io::stdout().lock();
    let _ = out.flush();
    let mut err = io::stderr().lock();
    let _ = err.flush();
    let mut g = global::lock();
    // The exit-hook registry too: a fork child registering or running hooks must not
    // find it held by another thread of the parent for ever.
    let hooks = crate::hooks::lock_for_fork();
    // SAFETY: in the child, before `body`, only the work listed in the module docs runs:
    // `setup` resets the state (plain assignments, frees), then the guards are released
    // (atomic stores), then `prctl`/`getppid`; the locks the child needs are held by
    // this thread, so none is stuck.
    match unsafe { fork_raw() }? {
        Forked::Child => {
            crate::child::mark_fork_child();
            setup(&mut g, state);
            drop(hooks);
            drop(g);
            drop(err);
            drop(out);
            if let Some(parent) = daemon_of {
                arm_death_signal(parent);
            }
            // Nothing may unwind out of here: the caller's frames above belong to
            // the parent's program, which must not go on running in the child.
            let code = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
                Ok(code) => code,
                Err(payload) => {
                    std::mem::forget(payload);
                    1
                }
            };
            exit_now(code)
        }
        Forked::Parent(pid) => {
            drop(hooks);
            Ok((pid, state))
        }
    }
}

/// Asks for SIGKILL when the creating thread's process dies, closing the start-up race:
/// if the parent is already gone (`getppid` changed), exit at once.
pub(crate) fn arm_death_signal(parent: u32) {
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    let ppid = rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get() as u32);
    if ppid != parent {
        exit_now(1);
    }
}

/// `_exit(code)`: leaves without running `atexit` handlers or destructors.
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` is always safe to call; it does not return.
    unsafe { libc::_exit(code) }
}

/// `exit(code)`: the normal end of a fresh child (Spawn, ForkServer) after its target
/// ran. Runs the C exit handlers this process registered (`atexit`, C++ static
/// destructors, `.fini_array`) and flushes C stdio, as a program returning from `main`
/// does. Never in a Fork child: its exit list and stdio buffers are its parent's.
pub(crate) fn exit_normally(code: i32) -> ! {
    // SAFETY: `exit` does not return; it runs the handlers registered in this process
    // (a fresh exec of the executable, or a fork of the single-threaded fork server,
    // whose list holds only what the process registered while starting up), which is
    // what every Rust `main` does on return.
    unsafe { libc::exit(code) }
}

/// Flushes every C stdio stream (`fflush(NULL)`): the fork server does it before
/// serving, so that nothing a C library buffered while the server started is written
/// again by each child (which leaves through `exit`).
pub(crate) fn flush_c_stdio() {
    // SAFETY: `fflush(NULL)` flushes all open output streams under their own locks;
    // the fork server is single-threaded here.
    unsafe {
        libc::fflush(std::ptr::null_mut());
    }
}

/// Ignores SIGPIPE, as Rust's `main` does (a pre-`main` child has not had that done).
pub(crate) fn ignore_sigpipe() {
    // SAFETY: installing SIG_IGN for SIGPIPE has no memory-safety obligations; it is
    // what std's runtime does before `main`.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

/// Ignores SIGINT (`true`) or restores its default action (`false`). The fork server
/// ignores it, as CPython's does: a Ctrl-C reaches the whole process group, and the
/// server must outlive it to report its children's exit codes; its children get the
/// default back right after the fork.
pub(crate) fn ignore_sigint(ignore: bool) {
    let action = if ignore { libc::SIG_IGN } else { libc::SIG_DFL };
    // SAFETY: installing SIG_IGN or SIG_DFL runs no code of ours in a signal handler,
    // so there are no memory-safety obligations.
    unsafe {
        libc::signal(libc::SIGINT, action);
    }
}

/// Registers `f` with `atexit`.
pub(crate) fn register_atexit(f: extern "C" fn()) {
    // SAFETY: `f` is a plain `extern "C"` function that catches every panic.
    unsafe {
        libc::atexit(f);
    }
}

/// Makes `fd` survive `execve` (clears `FD_CLOEXEC`). Async-signal-safe.
///
/// # Safety
/// `fd` must be open for the duration of the call.
pub(crate) unsafe fn clear_cloexec(fd: i32) -> io::Result<()> {
    // SAFETY: the caller guarantees `fd` is open.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty())?;
    Ok(())
}

/// Marks every descriptor from `first` up close-on-exec: `close_range(first, ~0,
/// CLOSE_RANGE_CLOEXEC)` (Linux 5.11). One system call, so async-signal-safe; it runs
/// in the Spawn `pre_exec` hook so that a descriptor someone opened without
/// `O_CLOEXEC` (a C library, a raw `pipe()`) does not leak into a fresh child — which
/// then holds exactly its bootstrap channel and the standard streams, as CPython's
/// `spawnv_passfds` does. On older kernels it does nothing.
pub(crate) fn cloexec_from(first: u32) {
    // SAFETY: `close_range` with `CLOSE_RANGE_CLOEXEC` closes nothing and touches no
    // memory of ours; it only sets the close-on-exec flag of open descriptors, which
    // every `OwnedFd` of this process tolerates (they are all close-on-exec already).
    let _ = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            libc::c_uint::from(first),
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
}

/// Closes descriptor `fd` of a fork-server child whose owning value the caller then
/// forgets (`std::mem::forget`), so that it is closed exactly once. One inlined
/// system call: no drop code, no allocator.
pub(crate) fn close_inherited(fd: std::os::fd::RawFd) {
    // SAFETY: the caller passes the number of a descriptor this process owns through a
    // value that it forgets right after, so nothing uses or closes the number again.
    unsafe { rustix::io::close(fd) }
}

/// Takes ownership of an inherited descriptor number after checking it is open.
pub(crate) fn adopt_fd(fd: i32) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    if fd < 0 {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    // SAFETY: `fcntl(F_GETFD)` on any number is harmless; it fails with EBADF if the
    // number is not open.
    let probe = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    rustix::io::fcntl_getfd(probe)?;
    // SAFETY:
    // - `fd` is open (checked just above);
    // - it was inherited for this process's bootstrap and named in the environment
    //   variable that only the bootstrap reads and that it removes, so nothing else in
    //   this process owns it.
    let owned = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    rustix::io::fcntl_setfd(&owned, rustix::io::FdFlags::CLOEXEC)?;
    Ok(owned)
}
