//! Seed 000 (the CPython docs' `info('main line')` example): a `Process` runs `f('bob')`,
//! and both sides print their module name, parent pid and own pid.
//!
//! Prints the parent's ids under `main line`, then the child's under `function f`
//! followed by `hello bob`. Fails unless the child reports this process as its parent.
//!
//! ```text
//! cargo run --release --example process_info
//! ```

use multiproc::prelude::*;

/// Prints who we are; returns `(parent pid, own pid)`.
fn info(title: &str) -> (u32, u32) {
    println!("{title}");
    println!("module name: {}", module_path!());
    // In a multiproc child, `parent_process()` is the process that started it.
    let parent =
        multiproc::parent_process().map_or_else(std::os::unix::process::parent_id, |p| p.pid());
    println!("parent process: {parent}");
    println!("process id: {}", std::process::id());
    (parent, std::process::id())
}

fn f(name: String) -> (u32, u32) {
    let ids = info("function f");
    println!("hello {name}");
    ids
}

/// The example; `main` and the tour call it.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (_, me) = info("main line");
    let p = Process::new(f, ("bob".to_string(),)).start()?;
    let child_pid = p.pid();
    let (parent, pid) = p.join_value()?;
    assert_eq!(parent, me, "the child's parent is this process");
    assert_eq!(pid, child_pid, "the child reports its own pid");
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}
