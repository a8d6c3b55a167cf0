//! Seed 000 (the CPython docs' `Queue` example): a child puts `[42, None, 'hello']` on a
//! queue; the parent gets and prints it.
//!
//! Prints `(42, None, "hello")`. Fails unless that is what arrived.
//!
//! ```text
//! cargo run --release --example queue
//! ```

use std::time::Duration;

use multiproc::prelude::*;

type Item = (i32, Option<i32>, String);

fn f(q: Queue<Item>) {
    q.put((42, None, "hello".to_string()))
        .expect("the queue has room for one item");
}

/// The example; `main` and the tour call it.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let q = Queue::new()?;
    let p = Process::new(f, (q.clone(),)).start()?;
    let got = q.get_timeout(Duration::from_secs(30))?;
    println!("{got:?}");
    p.join_value()?;
    assert_eq!(got, (42, None, "hello".to_string()));
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}
