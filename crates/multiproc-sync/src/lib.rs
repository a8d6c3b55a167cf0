//! Process-shared locks, semaphores, events, conditions and barriers on futexes, with
//! recovery when a holder dies.
//!
//! | item | what it is | CPython |
//! |---|---|---|
//! | [`Lock`] | non-recursive robust mutex; guard or raw `acquire`/`release` | `multiprocessing.Lock` |
//! | [`RLock`] | recursive robust mutex, owner-checked release | `multiprocessing.RLock` |
//! | [`Semaphore`], [`BoundedSemaphore`] | counting semaphores (the bounded one rejects over-release) | `Semaphore`, `BoundedSemaphore` |
//! | [`Event`] | a flag to wait for | `Event` |
//! | [`Condition`] | condition variable over a [`Lock`] or [`RLock`] | `Condition` |
//! | [`Barrier`] | cyclic barrier with an optional action; breaks on timeout, abort or a dead party | `Barrier` |
//! | [`OwnerDied`], [`TryLockError`], [`ReleaseError`], [`BarrierError`], [`CreateError`] | errors | `ValueError`, `AssertionError`, `BrokenBarrierError` |
//! | `aio` (feature `tokio`) | `AsyncLock`, `AsyncSemaphore`, `AsyncBoundedSemaphore`, `AsyncEvent`, `AsyncCondition`, `AsyncBarrier`: `lock()`, `permit()`, `wait()` as cancel-safe futures | `asyncio.Lock`, `Semaphore`, `Event`, `Condition`, `Barrier` |
//!
//! Every primitive is a cheap, cloneable handle (`Send + Sync`) to a small `#[repr(C)]`
//! block of atomics in its own [`multiproc_ipc::SharedSegment`]. Handles implement
//! `Serialize`/`Deserialize` by passing the segment's descriptor, so a lock given to a
//! child process (fork, spawn or forkserver) or sent over a `Connection` is the same
//! lock. Uncontended operations are a compare-and-swap, without a system call;
//! contended ones spin briefly, then sleep on a shared futex.
//!
//! ```
//! use multiproc_sync::{Lock, OwnerDied, Semaphore};
//! let lock = Lock::new()?;
//! let sem = Semaphore::new(3)?;
//! {
//!     let _permit = sem.permit();
//!     let _held = lock.lock().unwrap_or_else(OwnerDied::into_inner);
//!     // ... critical section, here and in every process holding a clone ...
//! }
//! // Over a connection (or as a Process argument) it is the same lock:
//! let (bytes, fds) = multiproc_ipc::encode(&lock)?;
//! let same: Lock = multiproc_ipc::decode(&bytes, fds)?;
//! let _g = same.lock().unwrap_or_else(OwnerDied::into_inner);
//! assert!(lock.is_locked());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Holder death
//! Where CPython deadlocks (KI-04): if a process (or thread) dies holding a [`Lock`] or
//! [`RLock`], the next acquirer takes it over and gets [`OwnerDied`] carrying its guard,
//! within about 20 ms. The lock word holds the owner's thread id; a second word holds
//! an owner token (thread id + start time from `/proc/<tid>/stat`). A waiter sleeps in
//! 20 ms slices; after a slice without progress it checks `/proc/<tid>`: gone, a zombie,
//! or a different start time (recycled id) means dead.
//! - [`Semaphore`]: permits have no owner; a dead process's permits are lost.
//! - [`Condition`]: `wait` reports [`OwnerDied`] when re-taking a lock whose holder died.
//! - [`Event`]: unaffected (no owner).
//! - [`Barrier`]: a party that dies while waiting breaks the barrier for everyone.
//!
//! # Building blocks for the other multiproc crates
//! [`foundation`] holds the mechanism under these primitives, public and documented so
//! that the queue and the pool use it instead of a copy: the robust futex mutex, a
//! futex doorbell, futex calls, deadlines, thread and process identities kept true
//! across `fork`, `/proc` liveness probes and typed views of segment headers; with the
//! feature `tokio`, the futex bridge (`FutexWaiter`) that lets async code wait on a
//! futex word without a descriptor.
//!
//! # Async (feature `tokio`, off by default)
//! `aio` holds awaitable views of the primitives (`lock.into_async()`); the futures
//! need only a `Waker` and are woken by one bridge thread per process that sleeps in
//! `futex_waitv` over the words async waiters registered. Synchronous paths are
//! unchanged and pay nothing. Async guards are owned by the process, so they are
//! `Send`.
//!
//! # Platform support
//! Linux (futexes, memfd, `/proc`): a build for another OS stops at a `compile_error!`
//! saying so. Thread identity is cached per thread and refreshed
//! in a forked child by a `pthread_atfork` handler: a child created by a raw `clone`
//! system call that bypasses libc's `fork` must not use a handle inherited from a
//! parent thread that already used it. Liveness checks read `/proc` of the caller's PID
//! namespace: processes sharing a primitive must share that namespace.
//!
//! # Limitations
//! Nothing is named in any filesystem: state lives in memfd segments that the kernel
//! frees with the last handle, whatever happens to the processes (nothing to leak on
//! SIGKILL, no `/dev/shm` needed). Each primitive costs one descriptor and one page per
//! process that holds it. A lock whose holder died between its compare-and-swap and
//! publishing its token, and whose thread id was recycled meanwhile, is only recovered
//! when the recycled thread exits. A process killed while asleep in `Semaphore` or
//! `Event` leaves a stale sleeper count: correctness is unaffected, but later releases
//! and sets then always make the (cheap) wake system call.
#![doc(test(attr(deny(warnings))))]
#![deny(unsafe_code)]

#[cfg(not(target_os = "linux"))]
compile_error!(
    "multiproc-sync requires Linux (shared futexes, memfd segments, /proc liveness checks)"
);

// Under `--cfg loom` only the foundation's lock and wake-up protocols are compiled, on
// loom's atomics (see `loom.rs` and tests/loom.rs).
#[cfg(all(feature = "tokio", not(loom)))]
pub mod aio;
#[cfg(not(loom))]
mod barrier;
#[cfg(all(feature = "tokio", not(loom)))]
mod bridge;
mod code;
#[cfg(not(loom))]
mod condition;
mod deadline;
mod doorbell;
#[cfg(not(loom))]
mod error;
#[cfg(not(loom))]
mod event;
#[cfg(not(loom))]
mod fnptr;
pub mod foundation;
#[cfg(not(loom))]
mod lock;
mod loom;
#[cfg(not(loom))]
mod mapping;
#[cfg(not(loom))]
mod raw;
mod robust;
#[cfg(not(loom))]
mod semaphore;
#[cfg(not(loom))]
mod state;
mod sys;

#[cfg(not(loom))]
pub use barrier::Barrier;
#[cfg(not(loom))]
pub use condition::{CondLock, Condition, ConditionGuard};
#[cfg(not(loom))]
pub use error::{BarrierError, CreateError, OwnerDied, ReleaseError, TryLockError};
#[cfg(not(loom))]
pub use event::Event;
#[cfg(not(loom))]
pub use lock::{Lock, LockGuard, RLock, RLockGuard};
#[cfg(not(loom))]
pub use semaphore::{BoundedSemaphore, BoundedSemaphorePermit, Semaphore, SemaphorePermit};

#[cfg(not(loom))]
#[expect(dead_code, reason = "compile-time checks only, never called")]
fn assert_send_sync() {
    fn both<T: Send + Sync + Clone + std::fmt::Debug>() {}
    fn sync<T: Sync>() {}
    both::<Lock>();
    both::<RLock>();
    both::<Semaphore>();
    both::<BoundedSemaphore>();
    both::<Event>();
    both::<Condition>();
    both::<Barrier>();
    both::<CondLock>();
    sync::<LockGuard<'static>>();
    sync::<RLockGuard<'static>>();
    sync::<ConditionGuard<'static>>();
    sync::<SemaphorePermit<'static>>();
    fn send<T: Send>() {}
    send::<SemaphorePermit<'static>>();
    send::<CreateError>();
    send::<ReleaseError>();
    send::<BarrierError>();
}
