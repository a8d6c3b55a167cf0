//! Seed 003 (logging): `log_to_stderr(logging.DEBUG)`, then a child's life cycle.
//!
//! Prints `doing some work` from the child, and multiproc's life-cycle log lines
//! (start, exit, join) on stderr. Fails unless the worker exits with code 0.
//!
//! ```text
//! cargo run --release --example log_to_stderr
//! ```

use multiproc::prelude::*;

fn worker() {
    println!("doing some work");
}

/// The example; `main` and the tour call it.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    // `log_to_stderr` installs a global `tracing` subscriber; a program that already has
    // one (the tour, when run twice) gets an error, and the level still reaches children.
    if let Err(e) = multiproc::log_to_stderr(multiproc::Level::DEBUG) {
        println!("(log_to_stderr: {e})");
    }
    let p = Process::new(worker, ()).start()?;
    p.join()?;
    assert_eq!(p.exitcode(), Some(0), "the worker exited with 0");
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}
