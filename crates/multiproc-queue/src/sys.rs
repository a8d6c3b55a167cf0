//! The operating-system calls the queue needs: shared futex wait/wake, this process's
//! identity (pid and start time, cached and refreshed after `fork`), and whether another
//! process is still alive.
//!
//! Futexes here are always *shared* (no `PRIVATE` flag): the words live in a memfd mapped
//! by several processes.

use std::sync::Once;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use rustix::thread::futex;

/// Waits while `*word == expected`, at most `timeout`. Returns on a wake, a timeout, a
/// signal or a changed value alike: callers re-check their condition.
pub(crate) fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration) {
    let ts = rustix::time::Timespec {
        tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(timeout.subsec_nanos()),
    };
    // EAGAIN (value changed), ETIMEDOUT and EINTR are all "re-check"; nothing else can
    // happen for a valid, aligned word.
    let _ = futex::wait(word, futex::Flags::empty(), expected, Some(&ts));
}

/// Wakes up to `n` waiters on `word`.
pub(crate) fn futex_wake(word: &AtomicU32, n: u32) {
    let _ = futex::wake(word, futex::Flags::empty(), n);
}

/// `CLOCK_MONOTONIC` in nanoseconds (the vDSO: no system call). The same clock in
/// every process of the machine, so values can be compared across processes.
pub(crate) fn monotonic_ns() -> u64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    u64::try_from(ts.tv_sec)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::try_from(ts.tv_nsec).unwrap_or(0))
}

static PID: AtomicU32 = AtomicU32::new(0);
static START: AtomicU64 = AtomicU64::new(0);
static ATFORK: Once = Once::new();

extern "C" fn before_fork() {
    let (pid, start) = (PID.load(Ordering::Relaxed), START.load(Ordering::Relaxed));
    if pid != 0 {
        crate::ring::before_fork(pid, start);
    }
}

extern "C" fn after_fork_in_parent() {
    crate::ring::after_fork_in_parent();
}

extern "C" fn after_fork_in_child() {
    // Async-signal-safe: getpid/open/read/close system calls, atomics, no allocation
    // and no blocking lock (see `ring::after_fork_in_child`).
    let parent = (PID.load(Ordering::Relaxed), START.load(Ordering::Relaxed));
    let (pid, start) = me_no_alloc();
    START.store(start, Ordering::Relaxed);
    PID.store(pid, Ordering::Relaxed);
    crate::ring::after_fork_in_child(parent, pid, start);
}

/// This process's pid and start time without allocating (usable in a fork child
/// handler).
fn me_no_alloc() -> (u32, u64) {
    let pid = rustix::process::getpid().as_raw_nonzero().get() as u32;
    let mut buf = [0u8; 1024];
    let start = rustix::fs::open(
        c"/proc/self/stat",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .ok()
    .and_then(|fd| rustix::io::read(&fd, &mut buf).ok())
    .and_then(|n| parse_stat(&buf[..n]))
    .map_or(0, |(_, start)| start);
    (pid, start)
}

#[allow(unsafe_code)]
fn install_atfork() {
    ATFORK.call_once(|| {
        // SAFETY:
        // - `pthread_atfork` only records the three function pointers;
        // - the handlers are `extern "C"` and do not unwind (they only touch atomics, a
        //   mutex and shared memory); the child handler is async-signal-safe as required
        //   (no allocation, no lock acquisition: see `ring::after_fork_in_child`).
        let rc = unsafe {
            libc::pthread_atfork(
                Some(before_fork),
                Some(after_fork_in_parent),
                Some(after_fork_in_child),
            )
        };
        // ENOMEM only; without the handler a forked child would re-read its pid only if
        // the cache is cleared, so fall back to never caching.
        if rc != 0 {
            NO_CACHE.store(true, Ordering::Relaxed);
        }
    });
}

static NO_CACHE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// This process's id and start time (clock ticks since boot; 0 if unknown).
///
/// Cached; a `fork` child re-reads it (through a `pthread_atfork` child handler).
#[inline]
pub(crate) fn me() -> (u32, u64) {
    let pid = PID.load(Ordering::Relaxed);
    if pid != 0 {
        return (pid, START.load(Ordering::Relaxed));
    }
    me_slow()
}

#[cold]
fn me_slow() -> (u32, u64) {
    install_atfork();
    let (pid, start) = me_no_alloc();
    if !NO_CACHE.load(Ordering::Relaxed) {
        START.store(start, Ordering::Relaxed);
        PID.store(pid, Ordering::Relaxed);
    }
    (pid, start)
}

/// `(state, starttime)` from `/proc/<pid>/stat`, or `None` if there is no such process.
fn proc_stat(pid: u32) -> Option<(u8, u64)> {
    let text = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// `(state, starttime)` from the text of a `/proc/<pid>/stat` file.
fn parse_stat(text: &[u8]) -> Option<(u8, u64)> {
    // "pid (comm) S ppid ..." — comm may hold spaces and parentheses: cut at the last ')'.
    let close = text.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&text[close + 1..]).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.bytes().next()?;
    // starttime is field 22 of the line; `state` was field 3.
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// Whether process `pid` maps the file with inode `ino` at address `base` (true when its
/// map cannot be read: the caller then assumes the process still holds the queue).
pub(crate) fn maps_at(pid: u32, base: u64, ino: u64) -> bool {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/maps")) else {
        return true;
    };
    text.lines().any(|line| {
        let mut f = line.split_ascii_whitespace();
        let start = f
            .next()
            .and_then(|range| range.split('-').next())
            .and_then(|a| u64::from_str_radix(a, 16).ok());
        let inode = f.nth(3).and_then(|i| i.parse::<u64>().ok());
        start == Some(base) && inode == Some(ino)
    })
}

/// Whether process `pid`, which started at `start` (0 = unknown), is still running.
///
/// A zombie (killed but not yet reaped) counts as dead; so does a process that has the
/// same pid but another start time (the pid was reused).
pub(crate) fn alive(pid: u32, start: u64) -> bool {
    if pid == 0 {
        return false;
    }
    match proc_stat(pid) {
        None => {
            // /proc unreadable for this pid: fall back on kill(pid, 0).
            match rustix::process::Pid::from_raw(pid as i32) {
                Some(p) => !matches!(
                    rustix::process::test_kill_process(p),
                    Err(rustix::io::Errno::SRCH)
                ),
                None => false,
            }
        }
        Some((b'Z' | b'X' | b'x', _)) => false,
        Some((_, actual)) => start == 0 || actual == start,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_alive() {
        let (pid, start) = me();
        assert!(pid > 0);
        assert!(start > 0);
        assert!(alive(pid, start));
        assert!(!alive(pid, start + 1));
        assert!(!alive(0, 0));
    }
}
