//! Seeds 000, 002, 003: `Lock`, `Event`, `Condition`.

use std::time::Duration;

use multiproc::{Condition, Event, Lock, OwnerDied, Process, current_process};

use crate::{Outcome, check};

fn f(l: Lock, i: u32) -> u32 {
    let _held = l.lock().unwrap_or_else(OwnerDied::into_inner);
    println!("hello world {i}");
    i
}

/// Seed 000: ten children print under one lock; each line comes out whole.
pub fn lock() -> Outcome {
    let lock = Lock::new()?;
    let mut children = Vec::new();
    for num in 0..10 {
        children.push(Process::new(f, (lock.clone(), num)).start()?);
    }
    let mut seen = Vec::new();
    for p in children {
        seen.push(p.join_value()?);
    }
    seen.sort_unstable();
    check(seen == (0..10).collect::<Vec<_>>(), "all ten children ran")?;
    check(!lock.is_locked(), "the lock is free at the end")
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

fn py(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// Seed 003: one waiter blocks until the event is set, the other gives up first.
pub fn event() -> Outcome {
    let e = Event::new()?;
    let w1 = Process::new(wait_for_event, (e.clone(),))
        .name("block")
        .start()?;
    let w2 = Process::new(wait_for_event_timeout, (e.clone(), 200))
        .name("non-block")
        .start()?;
    println!("wait for call e is set:");
    // The seed sleeps 4 s; waiting for the timeout waiter to finish is the same
    // ordering without guessing a duration.
    let timed_out = w2.join_value()?;
    e.set();
    println!("main event is set");
    let blocked = w1.join_value()?;
    check(!timed_out, "the timeout waiter saw False")?;
    check(blocked, "the blocking waiter saw True")
}

fn stage_1(cond: Condition, ready: Event) {
    let name = current_process().name().to_string();
    println!("Starting  {name}");
    let g = cond.lock().unwrap_or_else(OwnerDied::into_inner);
    println!("{name} done and ready for stage_2");
    ready.set();
    g.notify_all();
}

fn stage_2(cond: Condition, ready: Event, started: multiproc::Semaphore) {
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
}

/// Seed 003: stage_1 notifies two stage_2 waiters.
pub fn condition() -> Outcome {
    let condition = Condition::new()?;
    let ready = Event::new()?;
    let started = multiproc::Semaphore::new(0)?;
    let mut s2 = Vec::new();
    for i in 1..3 {
        let p = Process::new(stage_2, (condition.clone(), ready.clone(), started.clone()))
            .name(format!("stage2[{i}]"))
            .start()?;
        // The seed sleeps a second between starts; wait until this one holds the
        // condition instead.
        started
            .acquire_timeout(Duration::from_secs(30))
            .ok_or("stage_2 did not start")?
            .forget();
        s2.push(p);
    }
    let s1 = Process::new(stage_1, (condition.clone(), ready.clone()))
        .name("s1")
        .start()?;
    s1.join_value()?;
    for c in s2 {
        c.join_value()?;
    }
    check(ready.is_set(), "stage 1 ran")
}
