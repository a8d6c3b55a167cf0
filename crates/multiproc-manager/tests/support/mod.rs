//! Helpers shared by the manager's integration tests (each test file is its own crate
//! and includes this module).
// Each test binary uses a part of these.
#![allow(dead_code)]

use std::process::Child;
use std::time::{Duration, Instant};

/// The bound on every wait of the tests.
pub(crate) const BOUND: Duration = Duration::from_secs(120);

/// Waits for `child` at most [`BOUND`], killing it past that; returns whether it succeeded.
pub(crate) fn reap(mut child: Child) -> bool {
    let deadline = Instant::now() + BOUND;
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return st.success(),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}

/// Waits (bounded by [`BOUND`]) until `/proc/<pid>` is gone: the process exited and
/// was reaped (no zombie left).
pub(crate) fn reaped(pid: u32) -> bool {
    let deadline = Instant::now() + BOUND;
    while Instant::now() < deadline {
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}
