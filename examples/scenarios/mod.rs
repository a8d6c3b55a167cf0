//! One module per area; [`ALL`] lists every scenario in the order the seeds teach.

pub mod manager;
pub mod pipe;
pub mod pool;
pub mod process;
pub mod queue;
pub mod shared;
pub mod sync;

/// A runnable scenario.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// Example name (`cargo run --example NAME`).
    pub name: &'static str,
    /// Which seed it comes from and what it shows.
    pub about: &'static str,
    /// Runs it.
    pub run: fn() -> crate::Outcome,
}

/// Every scenario, in the order of the tour.
pub const ALL: &[Scenario] = &[
    Scenario {
        name: "process_info",
        about: "seed 000: Process(target=f, args=('bob',)) with parent/child ids",
        run: process::process_info,
    },
    Scenario {
        name: "process_list",
        about: "seed 001: five processes started and joined",
        run: process::process_list,
    },
    Scenario {
        name: "process_struct",
        about: "seed 001: a process type with a run method (the Process subclass)",
        run: process::process_struct,
    },
    Scenario {
        name: "exit_codes",
        about: "seed 003: exit codes of exit(1), return, panic, SIGTERM",
        run: process::exit_codes,
    },
    Scenario {
        name: "process_states",
        about: "seed 003: BEFORE / DURING / TERMINATED / JOINED",
        run: process::process_states,
    },
    Scenario {
        name: "start_methods",
        about: "seed 002: one program under fork, spawn and forkserver",
        run: process::start_methods,
    },
    Scenario {
        name: "pipe",
        about: "seed 000: a child sends [42, None, 'hello'] through a Pipe",
        run: pipe::pipe,
    },
    Scenario {
        name: "pipe_duplex",
        about: "seed 001: parent and child talk both ways over one Pipe",
        run: pipe::pipe_duplex,
    },
    Scenario {
        name: "queue",
        about: "seed 000: a child puts [42, None, 'hello'] on a Queue",
        run: queue::queue,
    },
    Scenario {
        name: "list_not_shared",
        about: "seed 000: a plain list passed to a child stays empty in the parent",
        run: queue::list_not_shared,
    },
    Scenario {
        name: "queue_producers",
        about: "seed 001: three children put, the parent gets all three",
        run: queue::queue_producers,
    },
    Scenario {
        name: "joinable_queue",
        about: "seed 003: consumers, poison pills, task_done and join",
        run: queue::joinable_queue,
    },
    Scenario {
        name: "producer_consumer",
        about: "seed 001: bun and bread producers and consumers, every item once",
        run: queue::producer_consumer,
    },
    Scenario {
        name: "lock",
        about: "seed 000: ten children print under one Lock",
        run: sync::lock,
    },
    Scenario {
        name: "event",
        about: "seed 003: a blocking and a timed-out Event waiter",
        run: sync::event,
    },
    Scenario {
        name: "condition",
        about: "seed 003: stage_1 notifies two stage_2 waiters",
        run: sync::condition,
    },
    Scenario {
        name: "shared_value_array",
        about: "seeds 000/004: Value('d') and Array('i') written by children",
        run: shared::shared_value_array,
    },
    Scenario {
        name: "semaphore",
        about: "seed 003: Semaphore(3) never admits more than three workers",
        run: shared::semaphore,
    },
    Scenario {
        name: "manager_dict_list",
        about: "seed 000: a child fills a manager dict and reverses a list",
        run: manager::manager_dict_list,
    },
    Scenario {
        name: "manager_shared_state",
        about: "seed 000: ten children write d[i] = 2*i and append i",
        run: manager::manager_shared_state,
    },
    Scenario {
        name: "namespace",
        about: "seed 003: Namespace, the error before the event, and the list pitfall",
        run: manager::namespace,
    },
    Scenario {
        name: "active_pool",
        about: "seed 003: Semaphore(3) and a manager list, never more than three active",
        run: manager::active_pool,
    },
    Scenario {
        name: "remote_manager",
        about: "seed 002/004: a manager shared over TCP with an authkey",
        run: manager::remote_manager,
    },
    Scenario {
        name: "pool_map",
        about: "seed 000: with Pool(5) as p: p.map(f, [1, 2, 3])",
        run: pool::pool_map,
    },
    Scenario {
        name: "pool_imap",
        about: "seed 000: map over range(10), then imap_unordered",
        run: pool::pool_imap,
    },
    Scenario {
        name: "pool_async",
        about: "seed 001: apply_async, apply, map, map_async",
        run: pool::pool_async,
    },
    Scenario {
        name: "pool_initializer",
        about: "seed 003: initializer and maxtasksperchild=2",
        run: pool::pool_initializer,
    },
    Scenario {
        name: "wordcount",
        about: "seed 003: SimpleMapReduce word count over the repository's sources",
        run: pool::wordcount,
    },
    // Last: it installs a global subscriber that would log every later scenario.
    Scenario {
        name: "log_to_stderr",
        about: "seed 003: life-cycle log lines of a child",
        run: process::log_to_stderr,
    },
];
