//! Seed 003 (process states): a process before `start`, while running, right after
//! `terminate`, and after `join`.
//!
//! Prints `BEFORE`, `DURING`, `TERMINATED` and `JOINED` lines with the process and
//! `is_alive()`. Fails if the joined process is still alive or ended other than by
//! SIGTERM (or by finishing, when the signal came too late on a loaded machine).
//!
//! ```text
//! cargo run --release --example process_states
//! ```

use std::time::Duration;

use multiproc::prelude::*;

fn slow_worker() {
    println!("Starting worker");
    std::thread::sleep(Duration::from_millis(100));
    println!("Finished worker");
}

fn py(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// The example; `main` and the tour call it.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let p = Process::new(slow_worker, ());
    println!("BEFORE: {p} {}", py(p.is_alive()));
    let p = p.start()?;
    println!("DURING: {p} {}", py(p.is_alive()));
    p.terminate()?;
    println!("TERMINATED: {p} {}", py(p.is_alive()));
    p.join()?;
    println!("JOINED: {p} {}", py(p.is_alive()));
    assert!(!p.is_alive(), "a joined process is not alive");
    assert!(
        matches!(p.exitcode(), Some(-15) | Some(0)),
        "exit code {:?} after terminate",
        p.exitcode()
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}
