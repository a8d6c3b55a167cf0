//! Seed 003 (`JoinableQueue`): `2 × cpu_count()` consumers take ten multiplication
//! tasks from a joinable queue, call `task_done` for each, and stop at a poison pill
//! (`None`); the parent `join`s the queue, then reads the results.
//!
//! Prints which consumer took which task, `Consumer-N Exiting` lines, and ten
//! `Result: a * b = c` lines. Fails unless each of the ten results came back once.
//!
//! ```text
//! cargo run --release --example joinable_queue
//! ```

use std::time::Duration;

use multiproc::prelude::*;
use serde::{Deserialize, Serialize};

/// The seed's `Task`: a product to compute.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Task {
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

/// The seed's `Consumer.run`: take tasks until the poison pill.
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

/// The example; `main` and the tour call it.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let tasks = JoinableQueue::new()?;
    // This process only puts tasks: should every consumer die (Ctrl-C, a crash), a put
    // waiting for room fails with `PutError::NoConsumer` instead of waiting for ever.
    tasks.close_receiving()?;
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
    // Wait for every task to be done (a generous bound instead of forever).
    if !tasks.join_timeout(Duration::from_secs(60))? {
        return Err("the tasks were not done within 60 s".into());
    }
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
    assert_eq!(got, want, "ten results, each once");
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}
