//! Seed 003 (`Condition`): two `stage_2` children wait on a condition until `stage_1`
//! has done its work and called `notify_all`.
//!
//! Prints `Starting  stage2[1]`, `Starting  stage2[2]`, `Starting  s1`,
//! `s1 done and ready for stage_2`, then `stage2[N] running` twice. Fails unless both
//! waiters ran after stage 1.
//!
//! ```text
//! cargo run --release --example condition
//! ```

use std::time::Duration;

use multiproc::prelude::*;

fn stage_1(cond: Condition, ready: Event) {
    let name = current_process().name().to_string();
    println!("Starting  {name}");
    let g = cond.lock().unwrap_or_else(OwnerDied::into_inner);
    println!("{name} done and ready for stage_2");
    ready.set();
    g.notify_all();
}

fn stage_2(cond: Condition, ready: Event, started: Semaphore) -> bool {
    let name = current_process().name().to_string();
    println!("Starting  {name}");
    let mut g = cond.lock().unwrap_or_else(OwnerDied::into_inner);
    started
        .release()
        .expect("an unbounded semaphore accepts releases");
    // `wait_for` re-checks the predicate, so a notify that came first is not lost.
    g.wait_for(|| ready.is_set())
        .unwrap_or_else(OwnerDied::into_inner);
    println!("{name} running");
    ready.is_set()
}

/// The example; `main` and the tour call it.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let condition = Condition::new()?;
    let ready = Event::new()?;
    let started = Semaphore::new(0)?;
    let mut s2 = Vec::new();
    for i in 1..3 {
        let args = (condition.clone(), ready.clone(), started.clone());
        let p = Process::new(stage_2, args)
            .name(format!("stage2[{i}]"))
            .start()?;
        // The seed sleeps a second between starts; wait until this one holds the
        // condition instead.
        started
            .permit_timeout(Duration::from_secs(30))
            .ok_or("stage_2 did not start")?
            .forget();
        s2.push(p);
    }
    let s1 = Process::new(stage_1, (condition.clone(), ready.clone()))
        .name("s1")
        .start()?;
    s1.join_value()?;
    for c in s2 {
        assert!(c.join_value()?, "stage 2 ran after stage 1");
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}
