//! Seed 003 (exit codes): five children end in five ways — `exit(1)`, a plain return,
//! a returned value, a panic (Python's exception), and `terminate()` (SIGTERM).
//!
//! Prints one `NAME exitcode=N` line per child. Fails unless the codes are CPython's
//! `[1, 0, 0, 1, -15]`.
//!
//! ```text
//! cargo run --release --example exit_codes
//! ```

use std::time::Duration;

use multiproc::prelude::*;

fn exit_error() {
    std::process::exit(1);
}

fn exit_ok() {}

fn return_value() -> i32 {
    1
}

fn raises() {
    panic!("There was an error");
}

fn terminated() {
    std::thread::sleep(Duration::from_secs(3));
}

/// Joins `p` and prints its exit code as the seed does.
fn report<R>(p: &Process<R>) -> Result<Option<i32>, Box<dyn std::error::Error>> {
    p.join()?;
    let code = p.exitcode();
    let shown = code.map_or("None".to_string(), |c| c.to_string());
    println!("{:>15} exitcode={shown}", p.name());
    Ok(code)
}

/// The example; `main` and the tour call it.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    println!("Starting process for  exit_error");
    let p1 = Process::new(exit_error, ()).name("exit_error").start()?;
    println!("Starting process for  exit_ok");
    let p2 = Process::new(exit_ok, ()).name("exit_ok").start()?;
    println!("Starting process for  return_value");
    let p3 = Process::new(return_value, ())
        .name("return_value")
        .start()?;
    println!("Starting process for  raises");
    let p4 = Process::new(raises, ()).name("raises").start()?;
    println!("Starting process for  terminated");
    let p5 = Process::new(terminated, ()).name("terminated").start()?;
    p5.terminate()?;

    let codes = [
        report(&p1)?,
        report(&p2)?,
        report(&p3)?,
        report(&p4)?,
        report(&p5)?,
    ];
    assert_eq!(codes, [Some(1), Some(0), Some(0), Some(1), Some(-15)]);
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}
