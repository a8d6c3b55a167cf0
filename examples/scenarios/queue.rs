//! Seeds 000, 001, 003: `Queue`, `JoinableQueue`, and why a plain list is not shared.

use std::time::Duration;

use multiproc::{JoinableQueue, Process, Queue, cpu_count, current_process};
use serde::{Deserialize, Serialize};

use crate::{Outcome, check};

type Item = (i32, Option<i32>, String);

fn f(q: Queue<Item>) {
    q.put((42, None, "hello".to_string()))
        .expect("the queue has room for one item");
}

/// Seed 000: a child puts `[42, None, 'hello']`; the parent prints it.
pub fn queue() -> Outcome {
    let q = Queue::new()?;
    let p = Process::new(f, (q.clone(),)).start()?;
    let got = q.get_timeout(Duration::from_secs(30))?;
    println!("{got:?}");
    p.join_value()?;
    check(
        got == (42, None, "hello".to_string()),
        "got [42, None, 'hello']",
    )
}

fn append(mut q: Vec<Item>) -> usize {
    q.push((42, None, "hello".to_string()));
    q.len()
}

/// Seed 000: a `Vec` passed to a child is a copy; the parent's stays empty.
pub fn list_not_shared() -> Outcome {
    let q: Vec<Item> = Vec::new();
    let p = Process::new(append, (q.clone(),)).start()?;
    let child_len = p.join_value()?;
    println!("{q:?}");
    check(
        q.is_empty() && child_len == 1,
        "the child's push stayed in the child",
    )
}

fn fun1(q: Queue<String>, i: u32) {
    println!("子进程{i} 开始put数据");
    q.put(format!("我是{i} 通过Queue通信"))
        .expect("the queue has room");
}

/// Seed 001: three children put a message each; the parent gets all three.
pub fn queue_producers() -> Outcome {
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
    check(
        got == [
            "我是0 通过Queue通信",
            "我是1 通过Queue通信",
            "我是2 通过Queue通信",
        ],
        "all three messages arrived",
    )
}

/// Seed 003's `Task`: a product to compute.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Task {
    a: u64,
    b: u64,
}

impl Task {
    fn call(&self) -> String {
        format!("{} * {} = {}", self.a, self.b, self.a * self.b)
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} * {}", self.a, self.b)
    }
}

/// Seed 003's `Consumer.run`: take tasks until the poison pill (`None`).
fn consumer(task_queue: JoinableQueue<Option<Task>>, result_queue: Queue<String>) {
    let proc_name = current_process().name().to_string();
    loop {
        let next_task = task_queue.get().expect("the parent keeps the queue open");
        let Some(task) = next_task else {
            println!("{proc_name} Exiting");
            task_queue.task_done().expect("one task_done per get");
            break;
        };
        println!("{proc_name}:{task}");
        let answer = task.call();
        task_queue.task_done().expect("one task_done per get");
        result_queue.put(answer).expect("the result queue has room");
    }
}

/// Seed 003: 2×cpu consumers drain a `JoinableQueue` of ten tasks, one poison pill each.
pub fn joinable_queue() -> Outcome {
    let tasks = JoinableQueue::new()?;
    let results = Queue::new()?;
    let num_consumers = cpu_count() * 2;
    println!("create {num_consumers} consumers");
    let mut consumers = Vec::new();
    for i in 0..num_consumers {
        let p = Process::new(consumer, (tasks.clone(), results.clone()))
            .name(format!("Consumer-{}", i + 1))
            .start()?;
        consumers.push(p);
    }
    let num_jobs = 10;
    for i in 0..num_jobs {
        tasks.put(Some(Task { a: i, b: i }))?;
    }
    for _ in 0..num_consumers {
        tasks.put(None)?;
    }
    tasks.join_timeout(Duration::from_secs(60))?;
    let mut got = Vec::new();
    for _ in 0..num_jobs {
        let result = results.get_timeout(Duration::from_secs(30))?;
        println!("Result: {result}");
        got.push(result);
    }
    for c in consumers {
        c.join_value()?;
    }
    got.sort();
    let mut want: Vec<String> = (0..num_jobs)
        .map(|i| format!("{i} * {i} = {}", i * i))
        .collect();
    want.sort();
    check(got == want, "ten results, each once")
}

fn producer(name: String, food: String, q: Queue<Option<String>>) -> usize {
    for i in 0..10 {
        let f = format!("{name}生产了{food}{i}");
        println!("{f}");
        q.put(Some(f)).expect("the queue has room");
    }
    10
}

fn eater(q: Queue<Option<String>>, name: String) -> usize {
    let mut eaten = 0;
    loop {
        match q.get().expect("the queue stays open until the pills") {
            Some(food) => {
                println!("{name}消费了{food}");
                eaten += 1;
            }
            None => {
                println!("接收到了一个空,生产者已经完事了");
                return eaten;
            }
        }
    }
}

/// Seed 001's producers and consumers, done right: every item is eaten exactly once,
/// one poison pill per consumer after the producers finish, and the program exits.
pub fn producer_consumer() -> Outcome {
    let q = Queue::new()?;
    let producers = [("fioman", "包子"), ("jingjing", "馒头")]
        .into_iter()
        .map(|(n, f)| Process::new(producer, (n.to_string(), f.to_string(), q.clone())).start())
        .collect::<Result<Vec<_>, _>>()?;
    let names = ["mengmeng", "xiaoxiao", "x", "xy"];
    let consumers = names
        .into_iter()
        .map(|n| Process::new(eater, (q.clone(), n.to_string())).start())
        .collect::<Result<Vec<_>, _>>()?;
    let mut produced = 0;
    for p in producers {
        produced += p.join_value()?;
    }
    for _ in &consumers {
        q.put(None)?;
    }
    let mut eaten = 0;
    for c in consumers {
        eaten += c.join_value()?;
    }
    println!("主程序结束..........");
    check(
        produced == 20 && eaten == 20,
        format!("produced {produced}, eaten {eaten}"),
    )
}
