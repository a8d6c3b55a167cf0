//! Seed 001 (`Queue` between processes): three children put a message each; after
//! joining them, the parent gets all three.
//!
//! Prints the three messages (`我是N 通过Queue通信`) in arrival order, then `结束测试`.
//! Fails unless all three arrived.
//!
//! ```text
//! cargo run --release --example queue_producers
//! ```

use std::time::Duration;

use multiproc::prelude::*;

fn fun1(q: Queue<String>, i: u32) {
    println!("子进程{i} 开始put数据");
    q.put(format!("我是{i} 通过Queue通信"))
        .expect("the queue has room");
}

/// The example; `main` and the tour call it.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let q = Queue::new()?;
    let mut process_list = Vec::new();
    for i in 0..3 {
        process_list.push(Process::new(fun1, (q.clone(), i)).start()?);
    }
    for p in process_list {
        p.join_value()?;
    }
    println!("主进程获取Queue数据");
    let mut got = Vec::new();
    for _ in 0..3 {
        let m = q.get_timeout(Duration::from_secs(30))?;
        println!("{m}");
        got.push(m);
    }
    println!("结束测试");
    got.sort();
    assert_eq!(
        got,
        [
            "我是0 通过Queue通信",
            "我是1 通过Queue通信",
            "我是2 通过Queue通信"
        ]
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}
