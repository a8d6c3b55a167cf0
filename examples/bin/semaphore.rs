//! Seed 003 (`Semaphore`, the "ActivePool" program): ten workers, but a `Semaphore(3)`
//! lets only three be active at once. Shared `Value`s under a `Lock` count them.
//!
//! Prints `Activating worker[N] now running K` lines (K never above 3), then
//! `Done: at most K active at once`. Fails if more than three were ever active, or if
//! the count and the semaphore do not return to 0 and 3.
//!
//! ```text
//! cargo run --release --example semaphore
//! ```

use std::time::Duration;

use multiproc::prelude::*;

fn worker(s: Semaphore, lock: Lock, active: Value<u32>, most: Value<u32>) {
    let name = current_process().name().to_string();
    let _permit = s.permit();
    {
        let _g = lock.lock().unwrap_or_else(OwnerDied::into_inner);
        let now = active.get() + 1;
        active.set(now);
        most.set(most.get().max(now));
        println!("Activating {name} now running {now}");
    }
    // The seed sleeps a random time while active; a short pause keeps the workers
    // overlapping (the check below holds whatever the timing).
    std::thread::sleep(Duration::from_millis(10));
    let _g = lock.lock().unwrap_or_else(OwnerDied::into_inner);
    active.set(active.get() - 1);
}

/// The example; `main` and the tour call it.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let s = Semaphore::new(3)?;
    let lock = Lock::new()?;
    let active = Value::new(0u32)?;
    let most = Value::new(0u32)?;
    let mut jobs = Vec::new();
    for i in 0..10 {
        let args = (s.clone(), lock.clone(), active.clone(), most.clone());
        jobs.push(
            Process::new(worker, args)
                .name(format!("worker[{i}]"))
                .start()?,
        );
    }
    for j in jobs {
        j.join_value()?;
    }
    println!("Done: at most {} active at once", most.get());
    assert!(
        (1..=3).contains(&most.get()),
        "never more than three active"
    );
    assert_eq!((active.get(), s.value()), (0, 3), "everyone left");
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}
