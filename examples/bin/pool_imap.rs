//! Seed 000 (the CPython docs' `Pool` tour): `pool.map(f, range(10))`, then the same
//! squares with `imap_unordered`, which yields each as soon as a worker has it.
//!
//! Prints `[0, 1, 4, …, 81]`, then the ten squares one per line in completion order.
//! Fails unless `map` kept the order and `imap_unordered` yielded every square.
//!
//! ```text
//! cargo run --release --example pool_imap
//! ```

use multiproc::prelude::*;

fn f(x: i64) -> i64 {
    x * x
}

/// The example; `main` and the tour call it.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let pool = Pool::new(4)?;
    let ordered = pool.map(f, 0..10)?;
    println!("{ordered:?}");
    let mut unordered = Vec::new();
    for i in pool.imap_unordered(f, 0..10) {
        let i = i?;
        println!("{i}");
        unordered.push(i);
    }
    unordered.sort_unstable();
    assert_eq!(ordered, (0..10).map(|x| x * x).collect::<Vec<_>>());
    assert_eq!(unordered, ordered, "imap_unordered yields every square");
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}
