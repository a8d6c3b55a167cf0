//! Seed 000 (the CPython docs' `Pipe` example): a child sends `[42, None, 'hello']`
//! through a pipe and closes its end; the parent receives and prints it.
//!
//! Prints `(42, None, "hello")`. Fails unless that is what arrived.
//!
//! ```text
//! cargo run --release --example pipe
//! ```

use multiproc::prelude::*;

/// Python's list `[42, None, 'hello']` as a Rust tuple. The receiver names the same type
/// the sender used: the wire format carries no type tags.
type Item = (i32, Option<i32>, String);

fn f(conn: Connection) {
    let item: Item = (42, None, "hello".to_string());
    conn.send(&item).expect("the parent holds the other end");
    conn.close()
        .expect("closing a connection cannot fail on Linux");
}

/// The example; `main` and the tour call it.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (parent_conn, child_conn) = Pipe::duplex()?;
    let p = Process::new(f, (child_conn,)).start()?;
    let got: Item = parent_conn.recv()?;
    println!("{got:?}");
    p.join_value()?;
    assert_eq!(got, (42, None, "hello".to_string()));
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}
