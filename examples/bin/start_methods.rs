//! Seed 002 (start methods): the same function run under fork, spawn and forkserver.
//!
//! Prints one `METHOD: running in Process-N (pid P)` line per start method. Fails
//! unless every method runs the function in a child named as the parent named it.
//!
//! ```text
//! cargo run --release --example start_methods
//! ```

use multiproc::prelude::*;

fn which() -> String {
    format!(
        "running in {} (pid {})",
        current_process().name(),
        std::process::id()
    )
}

/// The example; `main` and the tour call it.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    // `get_all_start_methods()` is `[Fork, Spawn, ForkServer]` on Linux. A single
    // process can also pick one with `Process::new(…).start_method(StartMethod::Spawn)`,
    // or the whole program with `set_start_method` at the top of `main`.
    for method in multiproc::get_all_start_methods() {
        let p = Process::new(which, ()).start_method(method).start()?;
        let (name, pid) = (p.name().to_string(), p.pid());
        let out = p.join_value()?;
        println!("{:>10}: {out}", method.as_str());
        assert_eq!(out, format!("running in {name} (pid {pid})"));
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}
