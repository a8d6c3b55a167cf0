//! Seed 003 (the "ActivePool" program with a manager): ten workers, a `Semaphore(3)`,
//! and a manager list naming the workers active right now.
//!
//! Prints `Activating worker[N] now running ['worker[…]', …]` lines (never more than
//! three names), then `Done (at most K were active at once)`. Fails if more than three
//! were ever active.
//!
//! ```text
//! cargo run --release --example active_pool
//! ```

use std::time::Duration;

use multiproc::manager::{DictProxy, ListProxy};
use multiproc::prelude::*;

fn worker(s: Semaphore, active: ListProxy, lock: Lock, max: DictProxy) {
    let name = current_process().name().to_string();
    let _permit = s.permit();
    {
        let _g = lock.lock().unwrap_or_else(OwnerDied::into_inner);
        active.append(name.as_str()).expect("the manager is up");
        let now = active.len().expect("the manager is up") as i64;
        let seen: i64 = max
            .get_or("max", 0)
            .ok()
            .and_then(|v| v.get::<i64>().ok())
            .unwrap_or(0);
        if now > seen {
            max.insert("max", now).expect("the manager is up");
        }
        println!("Activating {name} now running {active}");
    }
    // The seed sleeps a random time while active; a short pause keeps the workers
    // overlapping (the check holds whatever the timing).
    std::thread::sleep(Duration::from_millis(20));
    let _g = lock.lock().unwrap_or_else(OwnerDied::into_inner);
    active.remove(name.as_str()).expect("we added it");
}

/// The example; `main` and the tour call it.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mgr = Manager::start()?;
    let active = mgr.list()?;
    let max = mgr.dict()?;
    let lock = Lock::new()?;
    let s = Semaphore::new(3)?;
    let mut jobs = Vec::new();
    for i in 0..10 {
        let args = (s.clone(), active.clone(), lock.clone(), max.clone());
        jobs.push(
            Process::new(worker, args)
                .name(format!("worker[{i}]"))
                .start()?,
        );
    }
    for j in jobs {
        j.join_value()?;
    }
    let most: i64 = max.get_item("max")?.get()?;
    println!("now running  {active}");
    println!("Done (at most {most} were active at once)");
    assert!((1..=3).contains(&most), "at most 3 active, saw {most}");
    mgr.shutdown()?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}
