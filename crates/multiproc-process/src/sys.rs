//! Every call into the operating system (Linux): `fork`, `exit`/`_exit`, signals,
//! descriptor flags, pidfds and `waitid`, `poll`, the result socket's `recvmsg`/`send`,
//! `prctl`, `atexit`. The rest of the crate calls these small functions and never
//! rustix or libc itself, so what the crate asks of the OS is read in one place.
//!
//! The functions that a fork child calls between `fork` and `_exit` are
//! `#[inline(always)]` where the call used to be written out in place, and `#[inline]`
//! where it used to sit beside the fork driver (so it may still be inlined there across
//! codegen units): a fork child faults in every code page it touches for the first
//! time, so a wrapper must not become one more function to call there.
#![expect(
    unsafe_code,
    reason = "the OS calls that rustix leaves out go through libc"
)]

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
use rustix::process::{Pid, PidfdFlags, WaitId, WaitIdOptions, WaitIdStatus};

pub(crate) use rustix::io::Errno;
pub(crate) use rustix::process::Signal;

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
#[inline]
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

/// Asks for SIGKILL when the creating thread's process dies, closing the start-up race:
/// if the parent is already gone (`getppid` changed), exit at once.
#[inline]
pub(crate) fn arm_death_signal(parent: u32) {
    let _ = rustix::process::set_parent_process_death_signal(Some(Signal::KILL));
    if getppid() != parent {
        exit_now(1);
    }
}

/// `_exit(code)`: leaves without running `atexit` handlers or destructors.
#[inline]
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
#[inline(always)]
pub(crate) fn ignore_sigint(ignore: bool) {
    let action = if ignore { libc::SIG_IGN } else { libc::SIG_DFL };
    // SAFETY: installing SIG_IGN or SIG_DFL runs no code of ours in a signal handler,
    // so there are no memory-safety obligations.
    unsafe {
        libc::signal(libc::SIGINT, action);
    }
}

/// Whether this process installed the interrupt handler ([`catch_sigint`]): a Fork
/// child then puts SIGINT's default action back ([`child_sigint`]), so that it does not
/// go on running on a Ctrl-C with a copy of its parent's flag.
static SIGINT_CAUGHT: AtomicBool = AtomicBool::new(false);
/// Set by the handler on SIGINT; cleared by [`clear_sigint`].
static SIGINT_SEEN: AtomicBool = AtomicBool::new(false);
/// The write end of the interrupt pipe (non-blocking), `-1` before [`catch_sigint`].
static SIGINT_PIPE: AtomicI32 = AtomicI32::new(-1);

/// The SIGINT handler: async-signal-safe only. A first SIGINT sets the flag and writes
/// a byte to the pipe; a second one before the flag is cleared puts the default action
/// back and raises SIGINT again, so a program that never looks at the flag still ends
/// on a second Ctrl-C. `errno` is saved and restored.
extern "C" fn on_sigint(_: libc::c_int) {
    // SAFETY: `__errno_location` returns this thread's errno slot, valid for the
    // thread's life; reading and writing it is what every signal handler must do.
    let errno = unsafe { *libc::__errno_location() };
    if SIGINT_SEEN.swap(true, Ordering::SeqCst) {
        // SAFETY: `signal` and `raise` are async-signal-safe (POSIX); SIG_DFL runs no
        // code of ours.
        unsafe {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::raise(libc::SIGINT);
        }
    } else {
        let fd = SIGINT_PIPE.load(Ordering::SeqCst);
        if fd >= 0 {
            let byte = 1u8;
            // SAFETY: `write` is async-signal-safe; `fd` is the pipe's write end,
            // kept open for the life of the process once published; a full pipe
            // (`EAGAIN`, it is non-blocking) is fine: a byte is already there.
            unsafe {
                libc::write(fd, (&raw const byte).cast(), 1);
            }
        }
    }
    // SAFETY: as above.
    unsafe {
        *libc::__errno_location() = errno;
    }
}

/// A pipe `(read, write)`, both ends close-on-exec and non-blocking.
pub(crate) fn nonblocking_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::pipe::pipe_with(
        rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
    )?)
}

/// Installs the SIGINT handler ([`on_sigint`], `SA_RESTART`) that sets a flag and
/// writes to `pipe` (whose number must stay open for the rest of the process's life).
pub(crate) fn catch_sigint(pipe: BorrowedFd<'_>) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    SIGINT_PIPE.store(pipe.as_raw_fd(), Ordering::SeqCst);
    SIGINT_CAUGHT.store(true, Ordering::SeqCst);
    // SAFETY: the struct is zeroed (an empty mask, no flags) then given a handler that
    // does only async-signal-safe work (atomics, `write`, `signal`, `raise`, errno).
    let rc = unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigint as *const () as libc::sighandler_t;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut())
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether a SIGINT arrived since the handler was installed or the flag cleared.
pub(crate) fn sigint_seen() -> bool {
    SIGINT_SEEN.load(Ordering::SeqCst)
}

/// Clears the flag and empties the pipe's read end `pipe`.
pub(crate) fn clear_sigint(pipe: BorrowedFd<'_>) {
    SIGINT_SEEN.store(false, Ordering::SeqCst);
    drain(pipe);
}

/// Empties a non-blocking pipe's read end.
pub(crate) fn drain(pipe: BorrowedFd<'_>) {
    let mut buf = [0u8; 64];
    while let Ok(n) = rustix::io::read(pipe, &mut buf) {
        if n == 0 {
            break;
        }
    }
}

/// Whether this process installed the interrupt handler.
#[inline(always)]
pub(crate) fn sigint_caught() -> bool {
    SIGINT_CAUGHT.load(Ordering::Relaxed)
}

/// The forking thread's signal mask, saved when SIGINT was blocked for a fork.
#[derive(Clone, Copy)]
pub(crate) struct SigintMask(Option<libc::sigset_t>);

impl SigintMask {
    /// Blocks SIGINT on the calling thread when `block`, saving the previous mask.
    #[inline(always)]
    pub(crate) fn block_if(block: bool) -> Self {
        if !block {
            return SigintMask(None);
        }
        // SAFETY: both sets are plain data initialised by `sigemptyset` (and
        // `pthread_sigmask` writes the old mask); nothing else is touched.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            if libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old) != 0 {
                return SigintMask(None);
            }
            SigintMask(Some(old))
        }
    }

    /// Puts the saved mask back (async-signal-safe: one system call).
    #[inline(always)]
    pub(crate) fn restore(self) {
        if let Some(old) = self.0 {
            // SAFETY: `old` is the mask `pthread_sigmask` returned; restoring it has
            // no memory-safety obligations.
            unsafe {
                libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
            }
        }
    }
}

/// SIGINT's default action for this process, the interrupt handler removed.
pub(crate) fn default_sigint() {
    SIGINT_CAUGHT.store(false, Ordering::SeqCst);
    ignore_sigint(false);
}

/// Sends SIGINT to this process (`raise`).
pub(crate) fn raise_sigint() {
    // SAFETY: `raise` has no memory-safety obligations.
    unsafe {
        libc::raise(libc::SIGINT);
    }
}

/// SIGINT in a new child: ignored when `ignore`, else the default action if this
/// process had installed the interrupt handler (a Fork child inherits the handler; a
/// fresh process has the default after `execve`, or `SIG_IGN` if the parent ignored
/// it, which is left alone as CPython does).
#[inline(always)]
pub(crate) fn child_sigint(ignore: bool) {
    if ignore {
        ignore_sigint(true);
    } else if SIGINT_CAUGHT.load(Ordering::Relaxed) {
        ignore_sigint(false);
    }
}

/// Sets (`Some`) or removes (`None`) an environment variable of this process.
///
/// Only for a new child before its target runs, where this process has a single
/// thread (a fork of its parent or of the fork server).
pub(crate) fn single_threaded_env_set(key: &std::ffi::OsStr, value: Option<&std::ffi::OsStr>) {
    // SAFETY: `set_var`/`remove_var` race only with another thread reading or writing
    // the environment; the caller is a new child with one thread (see above), before
    // the target (the only code that could start another) runs.
    unsafe {
        match value {
            Some(v) => std::env::set_var(key, v),
            None => std::env::remove_var(key),
        }
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

/// This process's id. rustix's `getpid` is an inlined system call; `std::process::id`
/// is one more code page for a fork child to fault in.
#[inline(always)]
pub(crate) fn getpid() -> u32 {
    rustix::process::getpid().as_raw_nonzero().get() as u32
}

/// The OS parent's process id; `0` when there is none.
#[inline(always)]
pub(crate) fn getppid() -> u32 {
    rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get() as u32)
}

/// The calling thread's id (equal to [`getpid`] on the main thread).
pub(crate) fn gettid() -> u32 {
    rustix::thread::gettid().as_raw_nonzero().get() as u32
}

/// The number of CPUs in this process's affinity mask (`sched_getaffinity`), `None`
/// if it cannot be read.
pub(crate) fn affinity_cpus() -> Option<usize> {
    match rustix::thread::sched_getaffinity(None) {
        Ok(set) if set.count() > 0 => Some(set.count() as usize),
        _ => None,
    }
}

/// A pidfd of process `pid` (`pidfd_open`); `ESRCH` for a number that is no pid.
pub(crate) fn pidfd_open(pid: u32) -> rustix::io::Result<OwnedFd> {
    let pid = Pid::from_raw(pid as i32).ok_or(Errno::SRCH)?;
    rustix::process::pidfd_open(pid, PidfdFlags::empty())
}

/// A pidfd of our child `pid`, just started; if none can be opened (`EMFILE`,
/// `ENOMEM`), the child is killed and reaped, so a failed start leaves neither a
/// process running the target without a handle nor a zombie.
pub(crate) fn pidfd_of_new_child(pid: u32) -> io::Result<OwnedFd> {
    let fd = pidfd_open(pid).inspect_err(|_| {
        if let Some(p) = Pid::from_raw(pid as i32) {
            let _ = rustix::process::kill_process(p, Signal::KILL);
            let _ = rustix::process::waitpid(Some(p), rustix::process::WaitOptions::empty());
        }
    })?;
    Ok(fd)
}

/// CPython's exit code of a wait status: the code, or `-signal`.
fn code_of(st: &WaitIdStatus) -> i32 {
    if let Some(sig) = st.terminating_signal() {
        -sig
    } else {
        st.exit_status().unwrap_or(255)
    }
}

/// `waitid(P_PIDFD, WEXITED | WNOHANG)`: reaps the process if it has exited and
/// returns its exit code (CPython's: the code, or `-signal`); `None` while it runs.
pub(crate) fn try_wait(pidfd: BorrowedFd<'_>) -> rustix::io::Result<Option<i32>> {
    let st = rustix::process::waitid(
        WaitId::PidFd(pidfd),
        WaitIdOptions::EXITED | WaitIdOptions::NOHANG,
    )?;
    Ok(st.as_ref().map(code_of))
}

/// `waitid(P_PIDFD, WEXITED)`: waits for the process to exit and reaps it (gives up
/// quietly on any error other than `EINTR`).
pub(crate) fn wait_blocking(pidfd: BorrowedFd<'_>) {
    while let Err(Errno::INTR) =
        rustix::process::waitid(WaitId::PidFd(pidfd), WaitIdOptions::EXITED)
    {}
}

/// `pidfd_send_signal`: a signal that can never hit a recycled pid.
pub(crate) fn send_signal(pidfd: BorrowedFd<'_>, sig: Signal) -> rustix::io::Result<()> {
    rustix::process::pidfd_send_signal(pidfd, sig)
}

/// `poll` for readability on one or two descriptors; which are ready (`EINTR`: none).
/// No allocation: it runs while a just-forked child shares the parent's heap pages,
/// where every page written costs a copy.
pub(crate) fn poll_in(fds: &[BorrowedFd<'_>], timeout: Option<Duration>) -> io::Result<[bool; 2]> {
    let mut pfds = [
        rustix::event::PollFd::new(&fds[0], rustix::event::PollFlags::IN),
        rustix::event::PollFd::new(fds.get(1).unwrap_or(&fds[0]), rustix::event::PollFlags::IN),
    ];
    let n = fds.len().min(2);
    let ts = timeout.map(|t| rustix::time::Timespec {
        tv_sec: t.as_secs().min(i64::MAX as u64) as i64,
        tv_nsec: i64::from(t.subsec_nanos()),
    });
    match rustix::event::poll(&mut pfds[..n], ts.as_ref()) {
        Ok(_) => Ok([
            !pfds[0].revents().is_empty(),
            n > 1 && !pfds[1].revents().is_empty(),
        ]),
        Err(Errno::INTR) => Ok([false; 2]),
        Err(e) => Err(e.into()),
    }
}

/// `poll` without a time limit for readability on any number of descriptors; which are
/// ready (`EINTR`: none).
pub(crate) fn poll_all(fds: &[BorrowedFd<'_>]) -> io::Result<Vec<bool>> {
    let mut pfds: Vec<_> = fds
        .iter()
        .map(|fd| rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN))
        .collect();
    match rustix::event::poll(&mut pfds, None) {
        Ok(_) | Err(Errno::INTR) => Ok(pfds.iter().map(|p| !p.revents().is_empty()).collect()),
        Err(e) => Err(e.into()),
    }
}

/// One non-blocking `recvmsg` on a Unix socket into `buf`: the number of bytes read
/// (`0` at the end of the stream); descriptors that came with them (close-on-exec) are
/// appended to `fds`.
pub(crate) fn recv_nowait(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
    fds: &mut Vec<OwnedFd>,
) -> rustix::io::Result<usize> {
    let mut space =
        [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(multiproc_ipc::MAX_HANDLES))];
    let mut anc = RecvAncillaryBuffer::new(&mut space);
    let mut iov = [io::IoSliceMut::new(buf)];
    let m = rustix::net::recvmsg(
        sock,
        &mut iov,
        &mut anc,
        RecvFlags::DONTWAIT | RecvFlags::CMSG_CLOEXEC,
    )?;
    for msg in anc.drain() {
        if let RecvAncillaryMessage::ScmRights(rights) = msg {
            fds.extend(rights);
        }
    }
    Ok(m.bytes)
}

/// Shuts a socket down both ways: the peer's sends fail (`EPIPE`) from now on.
pub(crate) fn shutdown(sock: BorrowedFd<'_>) {
    let _ = rustix::net::shutdown(sock, rustix::net::Shutdown::Both);
}

/// Sends all of `bytes` on a socket (`MSG_NOSIGNAL`, retrying on `EINTR`).
#[inline(always)]
pub(crate) fn send_all(sock: BorrowedFd<'_>, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match rustix::net::send(sock, bytes, rustix::net::SendFlags::NOSIGNAL) {
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Starts `cmd` (an `execve` of this executable) so that `keep` is the only descriptor
/// beyond the standard streams that crosses the `execve`, and, for `daemon_of:
/// Some(parent)`, with `PR_SET_PDEATHSIG(SIGKILL)` armed towards `parent` (failing the
/// start if `parent` is gone already). Returns the child's pid; the caller takes it
/// over with a pidfd (a `std::process::Child` neither waits nor kills on drop).
pub(crate) fn spawn_keeping(
    mut cmd: Command,
    keep: BorrowedFd<'_>,
    daemon_of: Option<u32>,
    ignore: bool,
) -> io::Result<u32> {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let raw = keep.as_raw_fd();
    // SIGINT is blocked on this thread across the fork when the child must not run
    // this process's disposition (the interrupt handler, until `execve` resets it) or
    // must ignore it from the start; the hook sets the child's and unblocks it there
    // (a blocked mask would otherwise survive `execve`).
    let mask = SigintMask::block_if(ignore || sigint_caught());
    let hook = move || -> io::Result<()> {
        // Only the bootstrap channel (and fds 0–2) may cross the `execve`.
        cloexec_from(3);
        // SAFETY: `raw` is open: `keep` is borrowed for the whole `spawn` call.
        unsafe { clear_cloexec(raw) }?;
        // An ignored signal stays ignored across `execve`; a caught one (the
        // interrupt handler) gets its default action here already.
        child_sigint(ignore);
        mask.restore();
        if let Some(parent) = daemon_of {
            rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
            if getppid() != parent {
                return Err(io::Error::from(io::ErrorKind::Interrupted));
            }
        }
        Ok(())
    };
    // SAFETY: the hook runs between fork and exec in the child and does only
    // async-signal-safe work: `close_range(CLOEXEC)`, `fcntl(F_SETFD)` on a descriptor the parent keeps open
    // until `spawn` returns, `signal(SIGINT, …)`, `pthread_sigmask`, and for a daemon
    // `prctl(PR_SET_PDEATHSIG)` and `getppid`.
    // No allocation (the error path builds a simple, non-allocating `io::Error`), no lock.
    unsafe {
        cmd.pre_exec(hook);
    }
    let child = cmd.spawn();
    mask.restore();
    Ok(child?.id())
}

/// Registers a duplicate of `fd` (`fcntl(F_DUPFD_CLOEXEC)`) with the current tokio
/// runtime's reactor (`epoll_ctl(EPOLL_CTL_ADD)`), for readiness. A duplicate, so that
/// any number of futures may watch the same descriptor (epoll refuses one descriptor
/// number twice) and the registration never outlives the descriptor it names.
///
/// `None` outside a tokio runtime; the runtime must have I/O enabled
/// (`enable_io`/`enable_all`), as for tokio's own sockets (tokio panics otherwise).
#[cfg(feature = "tokio")]
pub(crate) fn async_fd(
    fd: BorrowedFd<'_>,
) -> Option<io::Result<tokio::io::unix::AsyncFd<OwnedFd>>> {
    tokio::runtime::Handle::try_current().ok()?;
    let dup = match fd.try_clone_to_owned() {
        Ok(d) => d,
        Err(e) => return Some(Err(e)),
    };
    // SAFETY:
    // - an `OwnedFd`'s `as_raw_fd` is one valid, open descriptor for as long as it is
    //   owned, and the `AsyncFd` owns it until it drops it (after deregistering);
    // - a reactor is current (checked above), so `register` does not panic for want of one.
    let registered = unsafe { tokio::io::unix::AsyncFd::register(dup) };
    Some(registered.map_err(io::Error::from))
}
