//! Seed 000 (the CPython docs' `Manager` example): a child fills a manager dict with
//! keys of mixed types and reverses a manager list; the parent sees both changes.
//!
//! Prints `{1: '1', '2': 2, 0.25: None}` and `[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]`. Fails
//! unless those are the dict and list the parent reads back.
//!
//! ```text
//! cargo run --release --example manager_dict_list
//! ```

use multiproc::manager::{DictProxy, ListProxy};
use multiproc::prelude::*;

fn f(d: DictProxy, l: ListProxy) {
    d.insert(1, "1").expect("the manager is up");
    d.insert("2", 2).expect("the manager is up");
    d.insert(0.25, ()).expect("the manager is up");
    l.reverse().expect("the manager is up");
}

/// The example; `main` and the tour call it.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let manager = Manager::start()?;
    let d = manager.dict()?;
    let l = manager.list_from(0..10)?;
    let p = Process::new(f, (d.clone(), l.clone())).start()?;
    p.join_value()?;
    println!("{d}");
    println!("{l}");
    assert_eq!(d.to_string(), "{1: '1', '2': 2, 0.25: None}");
    assert_eq!(l.to_string(), "[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]");
    manager.shutdown()?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}
