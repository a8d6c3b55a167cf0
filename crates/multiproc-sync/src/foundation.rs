//! The shared-memory foundation of the multiproc crates: the building blocks that
//! `multiproc-queue`, `multiproc-pool` and this crate's primitives are made of, public
//! so that no other crate writes them again.
//!
//! | item | what it is |
//! |---|---|
//! | [`RobustMutex`], [`Acquired`], [`Spin`] | a process-shared futex mutex that a waiter takes over when its owner died |
//! | [`Doorbell`] | a futex word with a sleeper count: wake-ups without a system call unless someone sleeps, CPU-aware spinning |
//! | [`futex_wait`], [`futex_wake`], [`Woke`] | the shared futex calls |
//! | `FutexWaiter` (feature `tokio`) | the bridge from a futex word to a task waker: one thread per process in `futex_waitv` |
//! | [`Deadline`], [`monotonic_ns`], [`LIVENESS_SLICE`] | when blocking calls give up; a clock comparable across processes; how often waiters check liveness |
//! | [`Identity`], [`this_thread`], [`this_process`], [`at_fork`] | who holds a lock, cached and kept true across `fork` |
//! | [`is_dead`], [`token_dead`], [`process_alive`], [`maps_at`] | liveness probes through `/proc` |
//! | [`this_cpu`] | the current CPU, for CPU-aware waiting |
//! | [`SharedHeader`], [`HeaderView`] | a typed view of the header at offset 0 of a shared segment |
//! | [`CodeAddr`], [`CodeAddrError`], [`in_code`], [`fn_at`], [`type_hash`] | the cross-process code address: a function of this executable that another process running it can call |
//!
//! Everything here is made of atomics in memory that several processes map: the
//! structures are `#[repr(C)]`, zero is their initial state, and any bit pattern is
//! memory-safe. Waiting is a shared futex sleep in slices of [`LIVENESS_SLICE`]; after
//! a slice without progress a waiter asks `/proc` whether the owner it waits for is
//! still there. Linux only.
//!
//! The protocols of [`RobustMutex`] and [`Doorbell`] are model-checked with `loom`
//! (`tests/loom.rs`, run with `RUSTFLAGS="--cfg loom"`).
//!
//! ```
//! use multiproc_sync::foundation::{Acquired, Deadline, HeaderView, RobustMutex, SharedHeader, Spin, this_process};
//!
//! #[repr(C)]
//! struct Side {
//!     lock: RobustMutex,
//! }
//! // SAFETY: `#[repr(C)]`, made of a `SharedHeader` type only.
//! unsafe impl SharedHeader for Side {}
//!
//! let view = HeaderView::<Side>::create("side", 4096)?;
//! let lock = &view.get().lock;
//! match lock.lock(this_process(), Deadline::Never, Spin::CpuAware { peer: None }) {
//!     Acquired::Ok => {}
//!     Acquired::OwnerDied => { /* repair what the dead owner left */ }
//!     Acquired::TimedOut => unreachable!("no deadline"),
//! }
//! lock.unlock();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(all(feature = "tokio", not(loom)))]
pub use crate::bridge::FutexWaiter;
pub use crate::code::{CodeAddr, CodeAddrError, fn_at, in_code, type_hash};
pub use crate::deadline::Deadline;
pub use crate::doorbell::Doorbell;
#[cfg(not(loom))]
pub use crate::mapping::{HeaderView, SharedHeader};
pub use crate::robust::{Acquired, RobustMutex, Spin};
pub use crate::sys::{
    Identity, LIVENESS_SLICE, Woke, at_fork, futex_wait, futex_wake, is_dead, maps_at,
    monotonic_ns, process_alive, this_cpu, this_process, this_thread, token_dead,
};
