//! Seed 001 (the `Pool` calls): `apply_async` (non-blocking, with `ready`, `successful`
//! and `get`), `apply` (blocking), `map` and `map_async`.
//!
//! Prints each call's `msg:` / `********` lines from the workers and its results under
//! `--------apply_async------------`, `--------apply------------`, `--------map------------`
//! and `--------map_async------------`. Fails unless every call returned all its
//! results and `map` and `map_async` agree.
//!
//! ```text
//! cargo run --release --example pool_async
//! ```

use std::time::Duration;

use multiproc::prelude::*;

fn func(msg: String) -> String {
    println!("msg:  {msg}");
    std::thread::sleep(Duration::from_millis(5));
    println!("********");
    format!("func_return: {msg}")
}

fn func_n(msg: i64) -> String {
    func(msg.to_string())
}

/// The example; `main` and the tour call it.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    println!("\n--------apply_async------------");
    let pool = Pool::new(4)?;
    let mut results = Vec::new();
    for i in 0..10 {
        results.push(pool.apply_async(func, (format!("hello world {i}"),)));
    }
    println!("apply_async: 不堵塞");
    for r in &results {
        r.wait();
    }
    let mut got = Vec::new();
    for r in results {
        if r.ready() && r.successful()? {
            let v = r.get()?;
            println!("{v}");
            got.push(v);
        }
    }
    assert_eq!(got.len(), 10, "ten async results");

    println!("\n--------apply------------");
    let mut results = Vec::new();
    for i in 0..10 {
        results.push(pool.apply(func, (format!("hello world {i}"),))?);
    }
    println!("apply: 堵塞");
    println!("{results:?}");
    assert_eq!(results.len(), 10, "ten results");

    println!("\n--------map------------");
    let args = [1, 2, 4, 5, 7, 8];
    let return_data = pool.map(func_n, args)?;
    println!("{return_data:?}");

    println!("\n--------map_async------------");
    let r = pool.map_async(func_n, args);
    let async_data = r.get()?;
    println!("{async_data:?}");
    pool.close_and_join()?;
    assert_eq!(return_data, async_data, "map and map_async agree");
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}
