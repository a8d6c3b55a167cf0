//! Seed 000 (the CPython docs' `Lock` example): ten children print under one lock, so
//! each line comes out whole.
//!
//! Prints `hello world 0` … `hello world 9` in start order or close to it. Fails unless
//! all ten ran and the lock is free at the end.
//!
//! ```text
//! cargo run --release --example lock
//! ```

use multiproc::prelude::*;

fn f(l: Lock, i: u32) -> u32 {
    // `lock()` is `Err(OwnerDied)` only if a holder died holding it; the guard inside is
    // still ours, so take it.
    let _held = l.lock().unwrap_or_else(OwnerDied::into_inner);
    println!("hello world {i}");
    i
}

/// The example; `main` and the tour call it.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
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
    assert_eq!(seen, (0..10).collect::<Vec<_>>(), "all ten children ran");
    assert!(!lock.is_locked(), "the lock is free at the end");
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}
