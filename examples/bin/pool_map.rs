//! Seed 000 (the CPython docs' first example): `with Pool(5) as p: print(p.map(f, [1, 2, 3]))`.
//!
//! Prints `[1, 4, 9]`. Fails unless that is the result.
//!
//! ```text
//! cargo run --release --example pool_map
//! ```

use multiproc::prelude::*;

fn f(x: i64) -> i64 {
    x * x
}

/// The example; `main` and the tour call it.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let p = Pool::new(5)?;
    let out = p.map(f, [1, 2, 3])?;
    println!("{out:?}");
    assert_eq!(out, [1, 4, 9]);
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}
