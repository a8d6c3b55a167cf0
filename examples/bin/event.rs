//! Seed 003 (`Event`): one child waits for the event with no limit, another with a
//! timeout that runs out first; then the parent sets it.
//!
//! Prints `wait_for_event_timeout, e.is_set() --> False`, `main event is set`, then
//! `wait_for_event, e.is_set() --> True`. Fails unless the two waiters saw that.
//!
//! ```text
//! cargo run --release --example event
//! ```

use std::time::Duration;

use multiproc::prelude::*;

fn py(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

fn wait_for_event(e: Event) -> bool {
    println!("wait for event starting:");
    e.wait();
    println!("wait_for_event, e.is_set() --> {}", py(e.is_set()));
    e.is_set()
}

fn wait_for_event_timeout(e: Event, t_ms: u64) -> bool {
    println!("wait for event timeout starting:");
    e.wait_timeout(Duration::from_millis(t_ms));
    println!("wait_for_event_timeout, e.is_set() --> {}", py(e.is_set()));
    e.is_set()
}

/// The example; `main` and the tour call it.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let e = Event::new()?;
    let w1 = Process::new(wait_for_event, (e.clone(),))
        .name("block")
        .start()?;
    let w2 = Process::new(wait_for_event_timeout, (e.clone(), 200))
        .name("non-block")
        .start()?;
    println!("wait for call e is set:");
    // The seed sleeps 4 s before `set`; waiting for the timed waiter to finish gives the
    // same order without guessing a duration.
    let timed_out = w2.join_value()?;
    e.set();
    println!("main event is set");
    let blocked = w1.join_value()?;
    assert!(!timed_out, "the timed waiter saw False");
    assert!(blocked, "the blocking waiter saw True");
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}
