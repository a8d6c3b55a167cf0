//! Fault injection through the facade: the crash and bad-input cases an outside reviewer
//! tries against the public API, beyond CPython's own tests. The promise under test:
//! bad input gets a clear, typed error and nothing is lost; never a panic in library
//! code, never a hang without a timeout form.
//!
//! Every wait is bounded, every child is reaped (checked through `/proc`), nothing
//! asserts on elapsed time. Scenarios that change process-wide state (descriptor
//! limits) run in a sandbox: this test binary re-executed with a role in the
//! environment (see `sandbox.rs`).

use std::time::{Duration, Instant};

use multiproc::StartMethod;

mod death;
mod manager;
mod pool;
mod process;
mod sandbox;
mod shm;
mod sizes;
mod timeouts;
mod wire;

/// What every test returns.
pub(crate) type R = Result<(), Box<dyn std::error::Error>>;

/// Every start method.
pub(crate) const METHODS: [StartMethod; 3] = [
    StartMethod::Fork,
    StartMethod::Spawn,
    StartMethod::ForkServer,
];

/// The bound of every wait in this suite: generous, as the machine is shared.
pub(crate) const BOUND: Duration = Duration::from_secs(120);

/// The state letter of `/proc/<pid>/stat`; `None` once the process is gone (reaped).
pub(crate) fn proc_state(pid: u32) -> Option<char> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = s.rsplit_once(')')?.1;
    after.trim_start().chars().next()
}

/// Waits (bounded) until `/proc/<pid>` is gone: exited *and* reaped (no zombie left).
pub(crate) fn reaped(pid: u32) -> bool {
    let end = Instant::now() + BOUND;
    while Instant::now() < end {
        if proc_state(pid).is_none() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

/// Waits (bounded) until `pid` sits blocked in a system call (state `S`) that is one of
/// `syscalls` (numbers from `/proc/<pid>/syscall`), so that a kill lands mid-operation.
/// Returns whether it saw that; the test is valid either way (only less pointed).
pub(crate) fn blocked_in(pid: u32, syscalls: &[u32]) -> bool {
    let end = Instant::now() + BOUND;
    while Instant::now() < end {
        if proc_state(pid) == Some('S') {
            if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/syscall")) {
                let nr = s
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse::<u32>().ok());
                if nr.is_some_and(|n| syscalls.contains(&n)) {
                    return true;
                }
            }
        }
        if proc_state(pid).is_none() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

/// x86_64 system call numbers a writer blocks in.
pub(crate) const WRITE_CALLS: [u32; 4] = [
    1,  /* write */
    20, /* writev */
    44, /* sendto */
    46, /* sendmsg */
];
/// x86_64 `futex`.
pub(crate) const FUTEX: [u32; 1] = [202];

/// Runs `f` on a thread and fails if it has not finished within `bound`: the "never a
/// hang" half of each assertion (the thread is left behind if it hangs).
pub(crate) fn within<T: Send + 'static>(
    bound: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(bound)
        .map_err(|_| format!("{what}: still waiting after {bound:?} (hang)"))
}

/// The entries of `/dev/shm` (names only).
pub(crate) fn dev_shm() -> std::collections::BTreeSet<String> {
    std::fs::read_dir("/dev/shm")
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default()
}
