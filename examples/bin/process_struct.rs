//! Seed 001, method two: Python subclasses `Process` and overrides `run`. In Rust the
//! subclass becomes a serde type, and its `run` method is the target the child calls.
//!
//! Prints `测试Python多进程` five times, then `结束测试`. Fails unless each `run`
//! ran in its own named child.
//!
//! ```text
//! cargo run --release --example process_struct
//! ```

use multiproc::prelude::*;
use serde::{Deserialize, Serialize};

/// The Python `MyProcess(Process)` class: its fields travel to the child.
#[derive(Debug, Serialize, Deserialize)]
struct MyProcess {
    name: String,
}

impl MyProcess {
    fn run(self) -> String {
        println!("测试{}多进程", self.name);
        current_process().name().to_string()
    }
}

/// The example; `main` and the tour call it.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut process_list = Vec::new();
    for _ in 0..5 {
        let me = MyProcess {
            name: "Python".into(),
        };
        process_list.push(Process::new(MyProcess::run, (me,)).start()?);
    }
    for p in process_list {
        let name = p.name().to_string();
        assert_eq!(p.join_value()?, name, "run() ran in the named child");
    }
    println!("结束测试");
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}
