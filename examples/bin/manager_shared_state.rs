//! Seed 000 (a manager dict and list shared by many): ten children each write
//! `d[i] = 2*i` and append `i`.
//!
//! Prints `Results:`, the dict `{0: 0, 1: 2, …, 9: 18}` and the list `[0, 1, …, 9]`
//! (sorted: the children finish in any order). Fails unless both are complete.
//!
//! ```text
//! cargo run --release --example manager_shared_state
//! ```

use multiproc::manager::{DictProxy, ListProxy, Value};
use multiproc::prelude::*;

fn worker(mgr_dict: DictProxy, mgr_list: ListProxy, key: i64, value: i64) {
    mgr_dict.insert(key, value).expect("the manager is up");
    mgr_list.append(key).expect("the manager is up");
}

/// The example; `main` and the tour call it.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let manager = Manager::start()?;
    let mgr_dict = manager.dict()?;
    let mgr_list = manager.list()?;
    let mut jobs = Vec::new();
    for i in 0..10 {
        let args = (mgr_dict.clone(), mgr_list.clone(), i, i * 2);
        jobs.push(Process::new(worker, args).start()?);
    }
    for j in jobs {
        j.join_value()?;
    }
    // Sort for the seed's output: the list on the server, the dict's items here.
    mgr_list.sort()?;
    let mut items: Vec<(Value, Value)> = mgr_dict.items()?;
    items.sort_by(|a, b| a.0.py_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    let sorted = manager.dict_from(items)?;
    println!("Results:");
    println!("字典 {sorted}");
    println!("列表 {mgr_list}");
    assert_eq!(
        sorted.to_string(),
        "{0: 0, 1: 2, 2: 4, 3: 6, 4: 8, 5: 10, 6: 12, 7: 14, 8: 16, 9: 18}"
    );
    assert_eq!(mgr_list.to_string(), "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]");
    manager.shutdown()?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}
