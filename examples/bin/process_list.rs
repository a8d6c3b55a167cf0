//! Seed 001, method one: start five processes running the same function, then join
//! them all.
//!
//! Prints `测试Python多进程` five times, then `结束测试`. Fails unless every child
//! exits with code 0.
//!
//! ```text
//! cargo run --release --example process_list
//! ```

use multiproc::prelude::*;

fn fun1(name: String) {
    println!("测试{name}多进程");
}

/// The example; `main` and the tour call it.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut process_list = Vec::new();
    for _ in 0..5 {
        process_list.push(Process::new(fun1, ("Python".to_string(),)).start()?);
    }
    for p in &process_list {
        p.join()?;
    }
    for p in &process_list {
        assert_eq!(p.exitcode(), Some(0), "{} exited with 0", p.name());
    }
    println!("结束测试");
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}
