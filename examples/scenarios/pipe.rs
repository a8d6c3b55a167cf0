//! Seeds 000 and 001: `Pipe`.

use multiproc::{Connection, Pipe, Process};

use crate::{Outcome, check};

type Item = (i32, Option<i32>, String);

fn f(conn: Connection) {
    conn.send(&(42, None::<i32>, "hello".to_string()))
        .expect("the parent holds the other end");
    conn.close()
        .expect("closing a connection cannot fail on Linux");
}

/// Seed 000: `parent_conn.recv()` prints what the child sent.
pub fn pipe() -> Outcome {
    let (parent_conn, child_conn) = Pipe::duplex()?;
    let p = Process::new(f, (child_conn,)).start()?;
    let got: Item = parent_conn.recv()?;
    println!("{got:?}");
    p.join_value()?;
    check(
        got == (42, None, "hello".to_string()),
        "received [42, None, 'hello']",
    )
}

fn fun1(conn: Connection) -> String {
    println!("子进程发送消息：");
    conn.send("你好主进程")
        .expect("the parent holds the other end");
    println!("子进程接受消息：");
    let msg: String = conn.recv().expect("the parent sends one message");
    println!("{msg}");
    msg
}

/// Seed 001: a two-way conversation over one duplex pipe.
pub fn pipe_duplex() -> Outcome {
    let (conn1, conn2) = Pipe::duplex()?;
    let p = Process::new(fun1, (conn2,)).start()?;
    println!("主进程接受消息：");
    let msg: String = conn1.recv()?;
    println!("{msg}");
    println!("主进程发送消息：");
    conn1.send("你好子进程")?;
    let echoed = p.join_value()?;
    println!("结束测试");
    check(
        msg == "你好主进程" && echoed == "你好子进程",
        "both messages arrived",
    )
}
