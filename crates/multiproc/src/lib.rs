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
//! | a `Pool` across hosts (no CPython equivalent) | `mpi::init()` → `mpi::Pool` (feature `mpi`, off by default) | `multiproc-mpi` |
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
//! # Cargo features
//!
//! | feature | what it adds | default |
//! |---|---|---|
//! | `full` | all of the below except `progress` | yes |
//! | `process` | [`Process`], start methods, contexts | via `full` |
//! | `sync` | [`Lock`], [`RLock`], [`Semaphore`], [`BoundedSemaphore`], [`Event`], [`Condition`], [`Barrier`] | via `full` |
//! | `queue` | [`Queue`], [`SimpleQueue`], [`JoinableQueue`] | via `full` |
//! | `shared` | [`Value`], [`Array`], [`RawValue`], [`RawArray`], [`SharedMemory`], [`ShareableList`] | via `full` |
//! | `pool` | [`Pool`], [`AsyncResult`] | via `full` |
//! | `manager` | [`Manager`] and its proxies | via `full` |
//! | `progress` | a progress bar for long `Pool` map/imap runs ([`pool::IMap`]`::progress`; pulls in `indicatif`) | no |
//! | `tokio` | async/await on tokio in every crate included: `ipc::aio` (`AsyncConnection`, `AsyncListener`, `AsyncClient`), `manager::aio` (`AsyncManager` and its proxies), `process::aio` (a process's `join` as a future, a stream of exits), `pool::aio` (`pool.apply_async(f, x).await`, `imap` as a `Stream`), `sync::aio` (async locks, permits, events, conditions, barriers), `queue::aio` (async `get`/`put`/`join`); Fork from inside a multi-thread runtime refused | no |
//!
//! Pipes, connections and listeners ([`Pipe`], [`Connection`], [`Listener`], [`Client`])
//! are always there. The crate re-exports each underlying crate as a module
//! ([`ipc`], [`process`], [`sync`], [`queue`], [`shared`], [`pool`], [`manager`]), so a
//! program needs no dependency but `multiproc` (and `serde`, to derive its own message
//! types).
//!
//! # Messages carry no types
//!
//! Values cross processes encoded with postcard, which writes no type tags: the
//! receiver decodes the bytes as the type it names, so it must name the sender's type.
//! A mismatch is usually a decode error, but not always: `-1i32` received as `u32` is
//! `Ok(1)`, because postcard writes `-1i32` (zigzag) as the very byte it writes for
//! `1u32`. Share one type definition between the two sides.
//!
//! # Platform support
//! Linux only (memfd, pidfds, futexes, `SCM_RIGHTS`).
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#[cfg(not(target_os = "linux"))]
compile_error!("multiproc requires Linux (shared futexes, memfd segments, pidfds, /proc)");

mod error;

pub use error::Error;

pub use multiproc_ipc as ipc;
pub use multiproc_ipc::{
    Address, Client, Connection, Listener, Pipe, SharedSegment, wait, wait_indices,
};

#[cfg(feature = "process")]
#[cfg_attr(docsrs, doc(cfg(feature = "process")))]
pub use multiproc_process as process;
#[cfg(feature = "process")]
#[cfg_attr(docsrs, doc(cfg(feature = "process")))]
pub use multiproc_process::{
    Context, Level, ParentProcess, Process, ProcessBuilder, ProcessInfo, StartMethod,
    active_children, cpu_count, current_process, get_all_start_methods, get_context,
    get_start_method, log_to_stderr, parent_process, set_start_method,
};

#[cfg(feature = "sync")]
#[cfg_attr(docsrs, doc(cfg(feature = "sync")))]
pub use multiproc_sync as sync;
#[cfg(feature = "sync")]
#[cfg_attr(docsrs, doc(cfg(feature = "sync")))]
pub use multiproc_sync::{
    Barrier, BoundedSemaphore, Condition, Event, Lock, OwnerDied, RLock, Semaphore,
};

#[cfg(feature = "queue")]
#[cfg_attr(docsrs, doc(cfg(feature = "queue")))]
pub use multiproc_queue as queue;
#[cfg(feature = "queue")]
#[cfg_attr(docsrs, doc(cfg(feature = "queue")))]
pub use multiproc_queue::{JoinableQueue, Queue, SimpleQueue};

#[cfg(feature = "manager")]
#[cfg_attr(docsrs, doc(cfg(feature = "manager")))]
pub use multiproc_manager as manager;
/// `#[multiproc::manager_type]`: an `impl` block turned into a custom manager type with
/// a typed proxy (see [`manager::manager_type`](macro@crate::manager::manager_type)).
#[cfg(feature = "manager")]
pub use multiproc_manager::__facade_manager_type as manager_type;
#[cfg(feature = "manager")]
#[cfg_attr(docsrs, doc(cfg(feature = "manager")))]
pub use multiproc_manager::Manager;

#[cfg(feature = "shared")]
#[cfg_attr(docsrs, doc(cfg(feature = "shared")))]
pub use multiproc_shared as shared;
#[cfg(feature = "shared")]
#[cfg_attr(docsrs, doc(cfg(feature = "shared")))]
pub use multiproc_shared::{Array, RawArray, RawValue, ShareableList, SharedMemory, Value};

#[cfg(feature = "pool")]
#[cfg_attr(docsrs, doc(cfg(feature = "pool")))]
pub use multiproc_pool as pool;
#[cfg(feature = "pool")]
#[cfg_attr(docsrs, doc(cfg(feature = "pool")))]
pub use multiproc_pool::{AsyncResult, Pool};

#[cfg(feature = "mpi")]
pub use multiproc_mpi as mpi;

/// The names most programs need, for `use multiproc::prelude::*`.
pub mod prelude {
    pub use crate::Error;
    pub use multiproc_ipc::{Connection, Pipe};
    #[cfg(feature = "manager")]
    #[cfg_attr(docsrs, doc(cfg(feature = "manager")))]
    pub use multiproc_manager::Manager;
    #[cfg(feature = "pool")]
    #[cfg_attr(docsrs, doc(cfg(feature = "pool")))]
    pub use multiproc_pool::Pool;
    #[cfg(feature = "process")]
    #[cfg_attr(docsrs, doc(cfg(feature = "process")))]
    pub use multiproc_process::{Process, StartMethod, cpu_count, current_process};
    #[cfg(feature = "queue")]
    #[cfg_attr(docsrs, doc(cfg(feature = "queue")))]
    pub use multiproc_queue::{JoinableQueue, Queue, SimpleQueue};
    #[cfg(feature = "shared")]
    #[cfg_attr(docsrs, doc(cfg(feature = "shared")))]
    pub use multiproc_shared::{Array, Value};
    #[cfg(feature = "sync")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sync")))]
    pub use multiproc_sync::{
        Barrier, BoundedSemaphore, Condition, Event, Lock, OwnerDied, RLock, Semaphore,
    };
}

/// The README's example, compiled and run as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
