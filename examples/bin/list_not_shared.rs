//! Seed 000 (the pitfall): a plain list handed to a child is a copy; what the child
//! appends never reaches the parent. Use a `Queue`, a `Pipe` or a manager list instead.
//!
//! Prints `[]`. Fails unless the parent's list is still empty while the child's copy
//! had one item.
//!
//! ```text
//! cargo run --release --example list_not_shared
//! ```

use multiproc::prelude::*;

type Item = (i32, Option<i32>, String);

fn append(mut q: Vec<Item>) -> usize {
    q.push((42, None, "hello".to_string()));
    q.len()
}

/// The example; `main` and the tour call it.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let q: Vec<Item> = Vec::new();
    let p = Process::new(append, (q.clone(),)).start()?;
    let child_len = p.join_value()?;
    println!("{q:?}");
    assert_eq!(child_len, 1, "the child's copy got the item");
    assert!(q.is_empty(), "the parent's list stayed empty");
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}
