//! Seed 001 (`Pipe` both ways): parent and child talk over one duplex pipe — the child
//! sends first, the parent answers.
//!
//! Prints the two sides' messages (`你好主进程`, `你好子进程`), then `结束测试`. Fails
//! unless both messages arrived.
//!
//! ```text
//! cargo run --release --example pipe_duplex
//! ```

use multiproc::prelude::*;

fn fun1(conn: Connection) -> String {
    println!("子进程发送消息：");
    conn.send("你好主进程")
        .expect("the parent holds the other end");
    println!("子进程接受消息：");
    let msg: String = conn.recv().expect("the parent sends one message");
    println!("{msg}");
    msg
}

/// The example; `main` and the tour call it.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (conn1, conn2) = Pipe::duplex()?;
    let p = Process::new(fun1, (conn2,)).start()?;
    println!("主进程接受消息：");
    let msg: String = conn1.recv()?;
    println!("{msg}");
    println!("主进程发送消息：");
    conn1.send("你好子进程")?;
    let echoed = p.join_value()?;
    println!("结束测试");
    assert_eq!(msg, "你好主进程");
    assert_eq!(echoed, "你好子进程");
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}
