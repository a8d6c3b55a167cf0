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

static PID: AtomicU32 = AtomicU32::new(0);
static START: AtomicU64 = AtomicU64::new(0);
static ATFORK: Once = Once::new();

extern "C" fn after_fork_in_child() {
    // Async-signal-safe: two atomic stores. The next `me()` re-reads the identity.
    PID.store(0, Ordering::Relaxed);
    START.store(0, Ordering::Relaxed);
}

#[allow(unsafe_code)]
fn install_atfork() {
    ATFORK.call_once(|| {
        // SAFETY:
        // - `pthread_atfork` only records the three function pointers; `None` is allowed
        //   for the prepare and parent handlers.
        // - `after_fork_in_child` is `extern "C"`, never unwinds and only stores atomics,
        //   so it is async-signal-safe as a child handler must be.
        let rc = unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
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
    let pid = rustix::process::getpid().as_raw_nonzero().get() as u32;
    let start = match proc_stat(pid) {
        Some((_, start)) => start,
        None => 0,
    };
    if !NO_CACHE.load(Ordering::Relaxed) {
        START.store(start, Ordering::Relaxed);
        PID.store(pid, Ordering::Relaxed);
    }
    (pid, start)
}

/// `(state, starttime)` from `/proc/<pid>/stat`, or `None` if there is no such process.
fn proc_stat(pid: u32) -> Option<(u8, u64)> {
    let text = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ppid ..." — comm may hold spaces and parentheses: cut at the last ')'.
    let close = text.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&text[close + 1..]).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.bytes().next()?;
    // starttime is field 22 of the line; `state` was field 3.
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
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
