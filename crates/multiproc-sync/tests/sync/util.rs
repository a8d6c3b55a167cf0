//! Cross-process helpers: a forked child running a closure, reaped with a bounded wait,
//! and a small shared scratch area of atomics.
#![allow(unsafe_code, dead_code)]

use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use multiproc_ipc::SharedSegment;

pub(crate) use multiproc_test_support::TestResult;
use multiproc_test_support::{BOUND, eventually};

/// A forked child process.
#[derive(Debug)]
pub(crate) struct Child {
    pub(crate) pid: i32,
    reaped: bool,
}

/// Forks; the child runs `f` and exits with its return value (101 on panic).
///
/// Only used from tests: the child inherits the test harness's other threads' memory,
/// and glibc's `fork` makes `malloc` usable in the child.
pub(crate) fn fork(f: impl FnOnce() -> i32) -> Child {
    // SAFETY:
    // - `fork` is called from a Rust test; in the child only this thread exists and
    //   it runs `f` then `_exit`, never returning into the test harness;
    // - glibc's fork resets its malloc locks in the child, so allocation there is sound.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(101);
        // SAFETY: `_exit` ends the child immediately without running the parent's
        // atexit handlers or the harness's destructors.
        unsafe { libc::_exit(code) };
    }
    Child { pid, reaped: false }
}

impl Child {
    /// Waits (at most [`BOUND`], a deadline against hangs) for the exit status:
    /// `Ok(code)` or `Err(signal)`.
    pub(crate) fn wait(&mut self) -> Result<i32, i32> {
        let deadline = Instant::now() + BOUND;
        loop {
            let mut status = 0;
            // SAFETY: waitpid on our own child with a valid out-pointer.
            let r = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
            if r == self.pid {
                self.reaped = true;
                return if libc::WIFEXITED(status) {
                    Ok(libc::WEXITSTATUS(status))
                } else {
                    Err(libc::WTERMSIG(status))
                };
            }
            if Instant::now() > deadline {
                self.kill();
                panic!("child {} did not exit within {BOUND:?}", self.pid);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Waits and asserts a zero exit code.
    pub(crate) fn join_ok(mut self) {
        assert_eq!(self.wait(), Ok(0), "child {} failed", self.pid);
    }

    /// SIGKILL.
    pub(crate) fn kill(&self) {
        // SAFETY: signalling our own, not yet reaped, child.
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped {
            self.kill();
            let _ = self.wait();
        }
    }
}

/// `n` shared `AtomicU64` counters, visible to forked children.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Counters {
    seg: SharedSegment,
    n: usize,
}

impl Counters {
    pub(crate) fn new(n: usize) -> Counters {
        Counters {
            seg: SharedSegment::new(n * 8).expect("segment"),
            n,
        }
    }

    pub(crate) fn get(&self, i: usize) -> &AtomicU64 {
        assert!(i < self.n);
        // SAFETY:
        // - the segment is page-aligned, zero-filled and at least `8 * n` bytes;
        // - every process touches it only through `AtomicU64`;
        // - the reference borrows `self`, which keeps the mapping alive.
        unsafe { &*self.seg.as_ptr().cast::<AtomicU64>().add(i) }
    }
}

/// Polls `cond` until true, at most [`BOUND`] (a deadline against hangs).
pub(crate) fn wait_until(cond: impl FnMut() -> bool) {
    assert!(eventually(cond), "condition not reached within {BOUND:?}");
}

/// Whether process `pid` is blocked in a futex wait (its kernel wait channel).
pub(crate) fn sleeping_on_futex(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/wchan")).is_ok_and(|w| w.contains("futex"))
}
