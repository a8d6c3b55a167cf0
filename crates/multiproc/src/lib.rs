//! Python's `multiprocessing`, rebuilt in Rust.
//!
//! This facade re-exports the multiproc crates under the names a CPython user expects.
//! Each crate can also be used on its own; cargo features (`process`, …, `full` by
//! default) choose which this facade pulls in.
//!
//! In the order the tutorials teach them — processes, then queues and pipes, then
//! locks, shared memory, managers and pools:
//!
//! | CPython | multiproc | crate |
//! |---|---|---|
//! | `Process(target=f, args=…)` | [`Process::new`]`(f, args)` | `multiproc-process` |
//! | `current_process()`, `parent_process()`, `active_children()`, `cpu_count()` | same names | `multiproc-process` |
//! | `get_context`, `set_start_method`, `log_to_stderr` | same names | `multiproc-process` |
//! | `Queue`, `SimpleQueue`, `JoinableQueue` | same names | `multiproc-queue` |
//! | `Pipe()`, `Connection` | [`Pipe`], [`Connection`] | `multiproc-ipc` |
//! | `connection.Listener`/`Client`/`wait` | [`Listener`], [`Client`], [`wait`] | `multiproc-ipc` |
//! | `Lock`, `RLock`, `Semaphore`, `BoundedSemaphore`, `Event`, `Condition`, `Barrier` | same names | `multiproc-sync` |
//! | `Value`, `Array`, `RawValue`, `RawArray`, `shared_memory.SharedMemory`, `ShareableList` | same names | `multiproc-shared` |
//! | `Manager()`, `manager.dict()`, … | [`Manager::start`], `manager.dict()`, … | `multiproc-manager` |
//! | `Pool`, `AsyncResult` | [`Pool`], [`AsyncResult`] | `multiproc-pool` |
//!
//! # A first program
//!
//! ```
//! use multiproc::prelude::*;
//!
//! fn f(conn: Connection) {
//!     // A panic in a child comes back to `join_value` as an error with its message.
//!     conn.send(&(42, None::<i32>, "hello")).expect("the parent is listening");
//! }
//!
//! let (parent_conn, child_conn) = Pipe::duplex()?;
//! let p = Process::new(f, (child_conn,)).start()?;
//! let got: (i32, Option<i32>, String) = parent_conn.recv()?;
//! assert_eq!(got, (42, None, "hello".to_string()));
//! p.join_value()?;
//! # Ok::<(), multiproc::Error>(())
//! ```
//!
//! # Platform support
//! Linux only (memfd, pidfds, futexes, `SCM_RIGHTS`).
#![doc(test(attr(deny(warnings))))]
#![forbid(unsafe_code)]

mod error;

pub use error::Error;

pub use multiproc_ipc as ipc;
pub use multiproc_ipc::{
    Address, Client, Connection, Listener, Pipe, SharedSegment, wait, wait_indices,
};

#[cfg(feature = "process")]
pub use multiproc_process as process;
#[cfg(feature = "process")]
pub use multiproc_process::{
    Context, Level, ParentProcess, Process, ProcessBuilder, ProcessInfo, StartMethod,
    active_children, cpu_count, current_process, get_all_start_methods, get_context,
    get_start_method, log_to_stderr, parent_process, set_start_method,
};

#[cfg(feature = "sync")]
pub use multiproc_sync as sync;
#[cfg(feature = "sync")]
pub use multiproc_sync::{
    Barrier, BoundedSemaphore, Condition, Event, Lock, OwnerDied, RLock, Semaphore,
};

#[cfg(feature = "queue")]
pub use multiproc_queue as queue;
#[cfg(feature = "queue")]
pub use multiproc_queue::{JoinableQueue, Queue, SimpleQueue};

#[cfg(feature = "manager")]
pub use multiproc_manager as manager;
/// `#[multiproc::manager_type]`: an `impl` block turned into a custom manager type with
/// a typed proxy (see [`manager::manager_type`](macro@crate::manager::manager_type)).
#[cfg(feature = "manager")]
pub use multiproc_manager::__facade_manager_type as manager_type;
#[cfg(feature = "manager")]
pub use multiproc_manager::Manager;

#[cfg(feature = "shared")]
pub use multiproc_shared as shared;
#[cfg(feature = "shared")]
pub use multiproc_shared::{Array, RawArray, RawValue, ShareableList, SharedMemory, Value};

#[cfg(feature = "pool")]
pub use multiproc_pool as pool;
#[cfg(feature = "pool")]
pub use multiproc_pool::{AsyncResult, Pool};

/// The names most programs need, for `use multiproc::prelude::*`.
pub mod prelude {
    pub use crate::Error;
    pub use multiproc_ipc::{Connection, Pipe};
    #[cfg(feature = "manager")]
    pub use multiproc_manager::Manager;
    #[cfg(feature = "pool")]
    pub use multiproc_pool::Pool;
    #[cfg(feature = "process")]
    pub use multiproc_process::{Process, StartMethod, cpu_count, current_process};
    #[cfg(feature = "queue")]
    pub use multiproc_queue::{JoinableQueue, Queue, SimpleQueue};
    #[cfg(feature = "shared")]
    pub use multiproc_shared::{Array, Value};
    #[cfg(feature = "sync")]
    pub use multiproc_sync::{
        Barrier, BoundedSemaphore, Condition, Event, Lock, OwnerDied, RLock, Semaphore,
    };
}

/// The README's example, compiled and run as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
