//! The tour: every example in `bin/`, in the order the seed tutorials teach them, each
//! under a heading. Exits non-zero if any example fails its checks.
//!
//! ```text
//! cargo run --release --example tour            # all of them
//! cargo run --release --example tour -- pipe    # only those whose name contains "pipe"
//! ```
//!
//! Each example is included here as a module (its `main` goes unused), so the functions
//! its children run are part of this binary too — which Spawn and ForkServer children,
//! re-executions of this binary, need.

// Each example is also a program of its own: its `main` and `pub fn run` are unused or
// unreachable here.
#![allow(dead_code, unreachable_pub)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

#[path = "bin/active_pool.rs"]
mod active_pool;
#[path = "bin/async_pipeline.rs"]
mod async_pipeline;
#[path = "bin/async_server.rs"]
mod async_server;
#[path = "bin/condition.rs"]
mod condition;
#[path = "bin/event.rs"]
mod event;
#[path = "bin/exit_codes.rs"]
mod exit_codes;
#[path = "bin/joinable_queue.rs"]
mod joinable_queue;
#[path = "bin/list_not_shared.rs"]
mod list_not_shared;
#[path = "bin/lock.rs"]
mod lock;
#[path = "bin/log_to_stderr.rs"]
mod log_to_stderr;
#[path = "bin/manager_dict_list.rs"]
mod manager_dict_list;
#[path = "bin/manager_shared_state.rs"]
mod manager_shared_state;
#[path = "bin/namespace.rs"]
mod namespace;
#[path = "bin/pipe.rs"]
mod pipe;
#[path = "bin/pipe_duplex.rs"]
mod pipe_duplex;
#[path = "bin/pool_async.rs"]
mod pool_async;
#[path = "bin/pool_imap.rs"]
mod pool_imap;
#[path = "bin/pool_initializer.rs"]
mod pool_initializer;
#[path = "bin/pool_map.rs"]
mod pool_map;
#[path = "bin/process_info.rs"]
mod process_info;
#[path = "bin/process_list.rs"]
mod process_list;
#[path = "bin/process_states.rs"]
mod process_states;
#[path = "bin/process_struct.rs"]
mod process_struct;
#[path = "bin/producer_consumer.rs"]
mod producer_consumer;
#[path = "bin/queue.rs"]
mod queue;
#[path = "bin/queue_producers.rs"]
mod queue_producers;
#[path = "bin/remote_manager.rs"]
mod remote_manager;
#[path = "bin/semaphore.rs"]
mod semaphore;
#[path = "bin/shared_value_array.rs"]
mod shared_value_array;
#[path = "bin/start_methods.rs"]
mod start_methods;
#[path = "bin/wordcount.rs"]
mod wordcount;

type Run = fn() -> Result<(), Box<dyn std::error::Error>>;

/// Every example: its name (`cargo run --example NAME`), what it shows, and its `run`.
const ALL: &[(&str, &str, Run)] = &[
    (
        "process_info",
        "seed 000: Process(target=f, args=('bob',)) with parent/child ids",
        process_info::run,
    ),
    (
        "process_list",
        "seed 001: five processes started and joined",
        process_list::run,
    ),
    (
        "process_struct",
        "seed 001: a process type with a run method (the Process subclass)",
        process_struct::run,
    ),
    (
        "exit_codes",
        "seed 003: exit codes of exit(1), return, panic, SIGTERM",
        exit_codes::run,
    ),
    (
        "process_states",
        "seed 003: BEFORE / DURING / TERMINATED / JOINED",
        process_states::run,
    ),
    (
        "start_methods",
        "seed 002: one function under fork, spawn and forkserver",
        start_methods::run,
    ),
    (
        "pipe",
        "seed 000: a child sends [42, None, 'hello'] through a Pipe",
        pipe::run,
    ),
    (
        "pipe_duplex",
        "seed 001: parent and child talk both ways over one Pipe",
        pipe_duplex::run,
    ),
    (
        "queue",
        "seed 000: a child puts [42, None, 'hello'] on a Queue",
        queue::run,
    ),
    (
        "list_not_shared",
        "seed 000: a plain list passed to a child stays empty in the parent",
        list_not_shared::run,
    ),
    (
        "queue_producers",
        "seed 001: three children put, the parent gets all three",
        queue_producers::run,
    ),
    (
        "joinable_queue",
        "seed 003: consumers, poison pills, task_done and join",
        joinable_queue::run,
    ),
    (
        "producer_consumer",
        "seed 001: bun and bread producers and consumers, every item once",
        producer_consumer::run,
    ),
    (
        "lock",
        "seed 000: ten children print under one Lock",
        lock::run,
    ),
    (
        "event",
        "seed 003: a blocking and a timed-out Event waiter",
        event::run,
    ),
    (
        "condition",
        "seed 003: stage_1 notifies two stage_2 waiters",
        condition::run,
    ),
    (
        "shared_value_array",
        "seeds 000/004: Value('d') and Array('i') written by children",
        shared_value_array::run,
    ),
    (
        "semaphore",
        "seed 003: Semaphore(3) never admits more than three workers",
        semaphore::run,
    ),
    (
        "manager_dict_list",
        "seed 000: a child fills a manager dict and reverses a list",
        manager_dict_list::run,
    ),
    (
        "manager_shared_state",
        "seed 000: ten children write d[i] = 2*i and append i",
        manager_shared_state::run,
    ),
    (
        "namespace",
        "seed 003: Namespace, the error before the event, and the list pitfall",
        namespace::run,
    ),
    (
        "active_pool",
        "seed 003: Semaphore(3) and a manager list, never more than three active",
        active_pool::run,
    ),
    (
        "remote_manager",
        "seeds 002/004: a manager shared over TCP with an authkey",
        remote_manager::run,
    ),
    (
        "pool_map",
        "seed 000: with Pool(5) as p: p.map(f, [1, 2, 3])",
        pool_map::run,
    ),
    (
        "pool_imap",
        "seed 000: map over range(10), then imap_unordered",
        pool_imap::run,
    ),
    (
        "pool_async",
        "seed 001: apply_async, apply, map, map_async",
        pool_async::run,
    ),
    (
        "pool_initializer",
        "seed 003: initializer and maxtasksperchild=2",
        pool_initializer::run,
    ),
    (
        "async_server",
        "issue #16: a tokio server awaiting pool results for 1,000 concurrent clients",
        async_server::run,
    ),
    (
        "async_pipeline",
        "issue #16: producer processes feed an async consumer through a Queue",
        async_pipeline::run,
    ),
    (
        "wordcount",
        "seed 003: SimpleMapReduce word count over the repository's sources",
        wordcount::run,
    ),
    // Last: it installs a global log subscriber that would log every later example.
    (
        "log_to_stderr",
        "seed 003: life-cycle log lines of a child",
        log_to_stderr::run,
    ),
];

fn main() {
    let filter: Vec<String> = std::env::args().skip(1).collect();
    let started = Instant::now();
    let mut failed = Vec::new();
    let mut ran = 0;
    for &(name, about, run) in ALL {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        ran += 1;
        println!("\n━━━ {name} — {about}");
        let t = Instant::now();
        // A failed check panics (its message is on stderr); the tour goes on.
        match catch_unwind(AssertUnwindSafe(run)) {
            Ok(Ok(())) => println!("━━━ ok ({:.2} s)", t.elapsed().as_secs_f64()),
            Ok(Err(e)) => {
                println!("━━━ FAILED: {e}");
                failed.push(name);
            }
            Err(_) => {
                println!("━━━ FAILED: a check did not hold (see above)");
                failed.push(name);
            }
        }
    }
    println!(
        "\ntour: {} examples, {} failed, {:.1} s",
        ran,
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    if !failed.is_empty() {
        println!("failed: {}", failed.join(", "));
        std::process::exit(1);
    }
}
